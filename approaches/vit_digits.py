"""The original report's vision transformer (section 2d), shown the digits: a small ViT that reads the
tokens of each segmented digit.

Each image is cut into one 28x28 crop per digit (bench.blocks.segmentation) and timm's VisionTransformer
(width 64, 4 blocks, 4 heads, no class token; about 140,000 parameters) reads each crop as 4x4 patches of
7x7 pixels, a crop's tokens attending to each other only (DigitTokenViT): what it learns is a digit reader,
and a digit's tokens are the same alone or in an image, so pre-training on single digits carries over as
it is. Each digit gets 10 logits:

- vit_finetune:     the report's regression head, as the sum of the digits' expected values (one number per
                    image, MSE on sum / max_sum);
- vit_finetune_cls: the exact distribution of the sum (bench.blocks.sums), cross-entropy over sums;
- vit_scratch:      vit_finetune from random weights.

Pre-training, by what exists on the machine (the row's `init` note says which was used): local timm
weights (DIGITSUM_VIT_WEIGHTS, bench.blocks.vit), or the same ViT pre-trained here on single MNIST-train
digits cropped as the images' digits are (pretrain_epochs; in equal-time mode a share of the budget).
ViTs train in float32.
"""
import torch
from torch import nn

from bench import Approach, register
from bench.blocks.augment import random_affine
from bench.blocks.segmentation import slot_crops
from bench.blocks.sums import sum_distribution
from bench.blocks.vit import build_vit, local_weights, pretrain_digit_reader, vit_requirements
from bench.data import load_mnist
from bench.train import TorchApproach, TrainConfig, predict_outputs, train_model

CROP, CROP_PATCH = 28, 7


class DigitTokenViT(nn.Module):
    """The ViT over the tokens of each digit of an image: (B, slots, 28, 28) crops, an all-dark crop an empty
    slot. Each crop is cut into patches and read by the ViT, its tokens attending to each other only; the
    ViT's head on the mean of a digit's tokens gives its 10 logits. combine says what the model returns:
    "expected_sum": the sum of the digits' expected values under their softmax (one number per image, (B,));
    "sum_distribution": log-probabilities of the sum, the exact convolution of the digits', (B, 9 * slots + 1);
    "digits": the digits' logits, (B, slots, 10)."""

    def __init__(self, vit: nn.Module, combine: str):
        super().__init__()
        assert combine in ("expected_sum", "sum_distribution", "digits")
        self.vit, self.combine = vit, combine

    def forward(self, crops):
        b, slots = crops.shape[:2]
        flat = crops.reshape(b * slots, 1, *crops.shape[2:])
        filled = flat.amax((1, 2, 3)) > 0             # only crops that hold a digit are read
        logits = flat.new_zeros(b * slots, 10)
        if filled.any():
            logits[filled] = self.vit(flat[filled]).to(logits.dtype)
        logits, filled = logits.reshape(b, slots, 10), filled.reshape(b, slots)
        if self.combine == "expected_sum":
            values = logits.float().softmax(-1) @ torch.arange(10.0, device=logits.device)
            return (values * filled).sum(1)
        if self.combine == "sum_distribution":
            return sum_distribution(logits, filled).clamp_min(1e-12).log()
        return logits


class DigitViT(TorchApproach, Approach):
    name = "vit_finetune"
    summary = "small ViT over the tokens of the segmented digits, pre-trained on MNIST digits, MSE regression on sums"
    channels_last = False       # token models gain nothing from it

    def __init__(self, init="pretrained", head="regression", epochs=2, pretrain_epochs=5, pretrain_share=0.6,
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

    def combine(self):
        return "sum_distribution" if self.head == "classification" else "expected_sum"

    def build_model(self, load_weights=False):
        vit = build_vit(10, (CROP, CROP), CROP_PATCH, self.weights, self.model_name, self.width, self.depth,
                        self.heads, load_weights=load_weights)
        return DigitTokenViT(vit, self.combine())

    def preprocess(self, images):
        return torch.from_numpy(slot_crops(images, self.digit_range))

    def outputs_to_sums(self, outputs):
        return outputs.argmax(1).float() if self.head == "classification" else outputs.reshape(-1)

    def loss(self, outputs, sums):
        if self.head == "classification":
            return nn.functional.cross_entropy(outputs, sums)
        return nn.functional.mse_loss(outputs.reshape(-1) / self.max_sum, sums.float() / self.max_sum)

    @staticmethod
    def augment(crops):
        return random_affine(crops)

    def initial_model(self, budget):
        """The model fine-tuning starts from, initialised as self.init and the machine allow; sets notes['init']."""
        if self.init == "scratch":
            self.notes["init"] = "random (no pre-training)"
            return self.build_model()
        if self.weights:
            self.notes["init"] = f"timm {self.model_name} weights from {self.weights}"
            return self.build_model(load_weights=True)
        images, labels = (part[:3000 if budget.quick else None] for part in load_mnist()["train"])
        encoder = DigitTokenViT(self.build_model().vit, "digits")
        self.pretrain_history, self.notes["init"] = pretrain_digit_reader(
            encoder, torch.from_numpy(slot_crops(images, (1, 1))), torch.from_numpy(labels),
            lambda out: out[:, 0], budget.part(self.pretrain_epochs, self.pretrain_share), lr=self.lr,
            augment=self.augment,
            device=self.device, seed=self.seed, label=f"{self.name} pre-training on MNIST digits")
        self.pretrain_encoder = encoder
        return DigitTokenViT(encoder.vit, self.combine())      # the same ViT, its digit logits as they are

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
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, patience=15, channels_last=False, bf16=False,
                               augment=self.augment))

    def get_state(self):
        return {**super().get_state(), "max_sum": self.max_sum}

    def set_state(self, state):
        self.max_sum = int(state["max_sum"])
        super().set_state(state)

    def predict_digits_batch(self, images):
        """The digits read: each digit's most likely class."""
        crops = self.preprocess(images)
        logits = predict_outputs(DigitTokenViT(self.model.vit, "digits"), crops, self.device, channels_last=False)
        filled = crops.amax((2, 3)) > 0
        return [[int(d) for d, f in zip(row, mask) if f] for row, mask in zip(logits.argmax(-1), filled)]


register(DigitViT)
register(DigitViT, name="vit_finetune_cls", head="classification",
         summary="small ViT over the tokens of the segmented digits, pre-trained, 37-way head "
                 "(the exact sum distribution)")
register(DigitViT, name="vit_scratch", init="scratch", epochs=4,
         summary="small ViT over the tokens of the segmented digits from random initialisation, MSE regression")
