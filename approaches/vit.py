"""The original report's vision transformer (section 2d), at a cost a CPU can pay.

The report fine-tuned a large pre-trained ViT for 4 epochs (about 12 hours) and got 6.4%, blaming too few
epochs. Ours is a ViT sized for the 40x168 grayscale input (timm's VisionTransformer): one token per 8x8
pixels -> 5x21 = 105 tokens, width 64, 4 blocks, 4 heads, no class token, the mean of the tokens into the
head (about 145,000 parameters). The tokens are ViT's linear patch embedding of 8x8 pixels: it fine-tunes
at 268 images/s on a 2-core AVX2 CPU (`python benchmarks/train_speed.py vit_finetune`; 211 before
bench.util.tune_cpu kept freed memory and OpenMP's default wait policy) against 188 (before that change)
with a 3-layer conv stem (the ViT paper's "hybrid", stem="conv"), which reads a few more digits after
pre-training (95.6% against 94.0% of held-out digits in 45 s). Neither learns the sum of a whole image in a
CPU budget: see the README.

- vit_finetune:     pre-trained, then fine-tuned on sums with the report's regression head (MSE on sum/36)
- vit_finetune_cls: the same with a 37-way classification head over sums
- vit_scratch:      the regression model from random initialisation, to show what pre-training buys

Pre-training, by what exists on the machine (the row's notes say which was used):
- DIGITSUM_VIT_WEIGHTS=/path/to/file (timm weights of the model DIGITSUM_VIT_MODEL, default
  vit_tiny_patch16_224): loaded with pretrained_cfg_overlay; timm adapts the patch embedding to one channel
  and patch 8 and resamples the position embedding to the 5x21 grid. DIGITSUM_VIT_WEIGHTS=hf-cache takes
  the weights from a Hugging Face cache instead (HF_HUB_OFFLINE=1: never downloaded).
- otherwise: the same ViT is pre-trained here on single MNIST-train digits (32x32, 4x4 tokens, 10 classes)
  for a share of the budget; its position embedding is then resampled to the 5x21 grid, as for timm weights.
Nothing is downloaded either way.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"          # before timm imports huggingface_hub: never phone home

import numpy as np
import torch
from torch import nn

from approaches._sum_head import SumHead
from bench import Approach, register
from bench.approach import Budget
from bench.data import load_mnist
from bench.train import TorchApproach, TrainConfig, train_model

IMAGE_HW = (40, 168)
PATCH = 8
WEIGHTS_ENV, MODEL_ENV = "DIGITSUM_VIT_WEIGHTS", "DIGITSUM_VIT_MODEL"


def conv_stem(width):
    """Three stride-2 3x3 convolutions: an 8x8-pixel patch per token, as patch 8 gives, but read by a
    small CNN (the ViT paper's hybrid; 'Early convolutions help transformers see better', Xiao et al. 2021)."""
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*block(1, 24), *block(24, 48), *block(48, width))


WINDOW, WINDOW_STRIDE = 28, (6, 4)     # stem="window": an MNIST digit's size; 3x36 tokens on 40x168


def window_stem(width):
    """A linear embedding of overlapping 28x28 windows (a digit's size), one every 6 rows and 4 columns:
    every digit lies whole in the window of a token, within 3 and 2 pixels of its centre."""
    return nn.Conv2d(1, width, WINDOW, stride=WINDOW_STRIDE)


def small_vit(img_size, num_classes, width=64, depth=4, heads=4, stem="patch"):
    """timm's VisionTransformer for 1-channel input, no class token: the head reads the mean of the tokens.
    Tokens of 8x8 pixels (stem="patch": ViT's linear patch embedding; "conv": a conv stem), or of
    overlapping 28x28 windows (stem="window")."""
    from functools import partial
    from timm.layers import HybridEmbed
    from timm.models.vision_transformer import VisionTransformer
    stems = {"conv": conv_stem, "window": window_stem}
    embed = {} if stem == "patch" else {"embed_layer": partial(HybridEmbed, backbone=stems[stem](width), patch_size=1)}
    return VisionTransformer(img_size=img_size, patch_size=PATCH if stem == "patch" else 1, in_chans=1,
                             num_classes=num_classes, embed_dim=width, depth=depth, num_heads=heads, mlp_ratio=2.0,
                             class_token=False, global_pool="avg", fc_norm=False, **embed)


def adapt_to_grid(state: dict, model: nn.Module) -> dict:
    """A ViT state dict from another input size -> one `model` loads: position embedding resampled to the
    model's grid, the old head dropped (timm's own filter for pre-trained checkpoints)."""
    from timm.models.vision_transformer import checkpoint_filter_fn
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    return checkpoint_filter_fn(state, model)


def timm_pretrained(model_name: str, weights: str, num_outputs: int) -> nn.Module:
    """timm's model_name with local pre-trained weights (a file or the HF cache), adapted to 1 channel,
    patch 8 and the 40x168 grid, with a new head of num_outputs."""
    import timm
    kwargs = dict(pretrained=True, img_size=IMAGE_HW, patch_size=PATCH, in_chans=1, num_classes=num_outputs,
                  global_pool="avg")
    if weights != "hf-cache":
        # num_classes says what the file's head holds; timm drops that head for our num_outputs
        kwargs["pretrained_cfg_overlay"] = dict(file=str(weights), num_classes=1000)
    return timm.create_model(model_name, **kwargs)


def mnist_digit_canvases(limit=None):
    """Single MNIST-train digits centred on 32x32 (a 4x4 grid of patches), uint8 (N, 1, 32, 32), labels."""
    images, labels = load_mnist()["train"]
    if limit:
        images, labels = images[:limit], labels[:limit]
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return torch.from_numpy(padded).unsqueeze(1), torch.from_numpy(labels)


class ViTSum(SumHead, TorchApproach, Approach):
    name = "vit_finetune"
    summary = "original report 2d: small ViT (8x8-pixel tokens) pre-trained, fine-tuned on sums, MSE regression"
    default_budget = 60          # about 40 s of fine-tuning: under one epoch on a 2-core AVX2 CPU
    channels_last = False       # token models gain nothing from it

    def __init__(self, init="pretrained", head="regression", pretrain_share=0.3, lr=1e-3, batch_size=128,
                 width=64, depth=4, heads=4, stem="patch"):
        assert init in ("pretrained", "scratch") and head in ("regression", "classification")
        self.init = init
        self.head = head
        self.pretrain_share = pretrain_share
        self.lr = lr
        self.batch_size = batch_size
        self.width, self.depth, self.heads, self.stem = width, depth, heads, stem
        self.weights = os.environ.get(WEIGHTS_ENV) if init == "pretrained" else None
        self.model_name = os.environ.get(MODEL_ENV, "vit_tiny_patch16_224")

    def requirements(self):
        from bench.approach import need_file, need_module
        needs = [need_module("timm", "install it with: pip install -r requirements.txt")]
        if self.weights and self.weights != "hf-cache":
            needs.append(need_file(self.weights, f"ViT weights ({WEIGHTS_ENV})",
                                   f"point {WEIGHTS_ENV} at a timm weights file, or unset it to pre-train on MNIST"))
        return needs

    def build_model(self):
        if self.weights:
            from timm import create_model
            return create_model(self.model_name, pretrained=False, img_size=IMAGE_HW, patch_size=PATCH, in_chans=1,
                                num_classes=self.num_outputs(), global_pool="avg")
        return small_vit(IMAGE_HW, self.num_outputs(), self.width, self.depth, self.heads, self.stem)

    def pretrained_model(self, budget):
        """The fine-tuning model, initialised as self.init and the machine allow; sets notes['init']."""
        if self.init == "scratch":
            self.notes["init"] = "random (no pre-training)"
            return self.build_model()
        if self.weights:
            self.notes["init"] = f"timm {self.model_name} weights from {self.weights}"
            return timm_pretrained(self.model_name, self.weights, self.num_outputs())
        seconds = budget.seconds * self.pretrain_share
        digits, labels = mnist_digit_canvases(limit=3000 if budget.quick else None)
        held_out = len(digits) // 10                # the last tenth picks the best pre-training epoch
        encoder = small_vit((32, 32), 10, self.width, self.depth, self.heads, self.stem)
        self.pretrain_history = train_model(
            encoder, digits[:-held_out], labels[:-held_out],
            digits[-held_out:], labels[-held_out:], loss_fn=nn.functional.cross_entropy, to_sums=lambda out: out.argmax(1),
            budget=Budget(seconds, quick=budget.quick, progress=budget.progress), device=self.device, seed=self.seed,
            config=TrainConfig(lr=self.lr, batch_size=128, patience=5, channels_last=False),
            label=f"{self.name} pre-training on MNIST digits")
        best = max((h["val_accuracy"] for h in self.pretrain_history), default=0.0)
        self.notes["init"] = (f"pre-trained here on single MNIST-train digits for {seconds:.0f} s "
                              f"({best:.2%} of held-out digits), position embedding resampled 4x4 -> 5x21")
        self.pretrain_encoder = encoder
        model = self.build_model()
        missing, _ = model.load_state_dict(adapt_to_grid(encoder.state_dict(), model), strict=False)
        assert set(missing) <= {"head.weight", "head.bias"}, missing
        return model

    def fit(self, train, val, budget):
        self.max_sum = 9 * self.digit_range[1]
        self.model = self.pretrained_model(budget)
        self.history = train_model(
            self.model, self.preprocess(train.images), torch.as_tensor(train.sums), self.preprocess(val.images),
            val.sums, loss_fn=self.loss, to_sums=self.outputs_to_sums, budget=Budget(
                budget.remaining(), quick=budget.quick, progress=budget.progress),
            device=self.device, seed=self.seed, label=self.name,
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, patience=15, channels_last=False))


register(ViTSum)
register(ViTSum, name="vit_finetune_cls", head="classification",
         summary="small ViT (8x8-pixel tokens) pre-trained, fine-tuned on sums with a 37-way classification head")
register(ViTSum, name="vit_scratch", init="scratch",
         summary="small ViT (8x8-pixel tokens) trained on sums from random initialisation, MSE regression")
