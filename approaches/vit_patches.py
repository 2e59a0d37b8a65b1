"""The original report's vision transformer (section 2d) in its own formulation: a small ViT over patches
of the whole image. The report fine-tuned a large pre-trained ViT for 4 epochs (about 12 hours) and got 6.4%.

Here timm's VisionTransformer (width 64, 4 blocks, 4 heads, no class token) reads the 40x168 image as
5x21 = 105 tokens of 8x8 pixels; a linear regression head on the mean of the tokens gives the sum.
Pre-training, by what exists on the machine (the row's `init` note says which was used): local timm
weights (DIGITSUM_VIT_WEIGHTS, bench.blocks.vit), or the same ViT pre-trained here on single MNIST-train
digits centred on 32x32 (4x4 tokens; pretrain_epochs, or a share of an equal-time budget), its
position embedding then resampled to the 5x21 grid. ViTs train in float32 (bf16 autocast does not pay
for them; docs/benchmarks.md).
"""
import numpy as np
import torch

from bench import Approach, register
from bench.blocks.sums import SumHead
from bench.blocks.vit import build_vit, local_weights, pretrain_digit_reader, small_vit, vit_requirements
from bench.data import load_mnist
from bench.train import TorchApproach, TrainConfig, train_model

IMAGE_HW, PATCH = (40, 168), 8


def adapt_to_grid(state: dict, model: torch.nn.Module) -> dict:
    """A ViT state dict from another input size -> one `model` loads: position embedding resampled to the
    model's grid, the old head dropped (timm's own filter for pre-trained checkpoints)."""
    from timm.models.vision_transformer import checkpoint_filter_fn
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    return checkpoint_filter_fn(state, model)


class ViTPatches(SumHead, TorchApproach, Approach):
    name = "vit_patches"
    summary = "original report 2d: small ViT over 8x8-pixel patches of the whole image, pre-trained, MSE regression"
    channels_last = False       # token models gain nothing from it

    def __init__(self, init="pretrained", head="regression", epochs=1, pretrain_epochs=2, pretrain_share=0.3,
                 lr=1e-3, batch_size=128, width=64, depth=4, heads=4):
        assert init in ("pretrained", "scratch") and head in ("regression", "classification")
        self.init = init
        self.head = head
        self.epochs = epochs                     # of fine-tuning on sums
        self.pretrain_epochs = pretrain_epochs   # on single MNIST digits, where no timm weights are given
        self.pretrain_share = pretrain_share     # of the budget instead, in equal-time mode (--budget)
        self.lr = lr
        self.batch_size = batch_size
        self.width, self.depth, self.heads = width, depth, heads
        self.weights, self.model_name = local_weights(init)

    def requirements(self):
        return vit_requirements(self.weights)

    def build_model(self, load_weights=False):
        return build_vit(self.num_outputs(), IMAGE_HW, PATCH, self.weights, self.model_name, self.width, self.depth,
                         self.heads, load_weights=load_weights)

    def initial_model(self, budget):
        """The model fine-tuning starts from, initialised as self.init and the machine allow; sets notes['init']."""
        if self.init == "scratch":
            self.notes["init"] = "random (no pre-training)"
            return self.build_model()
        if self.weights:
            self.notes["init"] = f"timm {self.model_name} weights from {self.weights}"
            return self.build_model(load_weights=True)
        images, labels = (part[:3000 if budget.quick else None] for part in load_mnist()["train"])
        digits = torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2)))).unsqueeze(1)     # centred on 32x32
        encoder = small_vit((32, 32), 10, self.width, self.depth, self.heads, PATCH)
        self.pretrain_history, note = pretrain_digit_reader(
            encoder, digits, torch.from_numpy(labels), lambda out: out,
            budget.part(self.pretrain_epochs, self.pretrain_share), lr=self.lr, augment=None, device=self.device,
            seed=self.seed, label=f"{self.name} pre-training on MNIST digits")
        self.notes["init"] = note + ", position embedding resampled 4x4 -> 5x21"
        self.pretrain_encoder = encoder
        model = self.build_model()
        missing, _ = model.load_state_dict(adapt_to_grid(encoder.state_dict(), model), strict=False)
        assert set(missing) <= {"head.weight", "head.bias"}, missing
        return model

    def fit(self, train, val, budget):
        self.max_sum = 9 * self.digit_range[1]
        budget.progress("preparing inputs", 0, 1)
        train_x, val_x = self.preprocess(train.images), self.preprocess(val.images)
        budget.progress("preparing inputs", 1, 1)
        self.model = self.initial_model(budget)
        self.history = train_model(
            self.model, train_x, torch.as_tensor(train.sums), val_x, val.sums, loss_fn=self.loss,
            to_sums=self.outputs_to_sums,
            budget=budget.part(budget.epochs, 1.0),
            device=self.device, seed=self.seed, label=self.name,
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, patience=15, channels_last=False, bf16=False))


register(ViTPatches, reported={"val": 6.4, "where": "2d Vision Transformer: 6.4% on the entire dataset after "
                                                    "4 epochs (about 12 hours)", "on": "pooled",
                               "protocol": {"epochs": 4}})
