"""The original report's vision transformer (section 2d), at a cost a CPU can pay.

The report fine-tuned a large pre-trained ViT for 4 epochs (about 12 hours) on whole images and got 6.4%,
blaming too few epochs. Here a small ViT (timm's VisionTransformer: width 64, 4 blocks, 4 heads, no class
token, the head on the mean of the tokens; about 140,000 parameters) reads the 40x168 grayscale image in one
of two ways:

- vit_finetune, vit_finetune_cls, vit_scratch (DigitViTSum): the image is cut into one 28x28 crop per digit
  by the bench's column segmentation (approaches/_segmentation.py) and the ViT reads each crop as 4x4
  patches of 7x7 pixels, a crop's tokens attending to each other only (DigitTokenViT). Each digit gets 10
  logits; the report's regression head becomes the sum of the digits' expected values (one number, MSE on
  sum/36), the 37-way head the exact distribution of the sum (as the slot models have it). A digit's tokens
  are the same whether it stands alone or in an image, so pre-training on single digits carries over as it is.
- vit_patches (ViTSum, the report's formulation): one token per 8x8 pixels of the whole image, 5x21 = 105
  tokens, a linear regression head on their mean. It learns the sum of a whole image very slowly on a CPU
  (about 6% of test sums, the report's 6.4%): see the README.

Pre-training, by what exists on the machine (the row's notes say which was used):
- DIGITSUM_VIT_WEIGHTS=/path/to/file (timm weights of the model DIGITSUM_VIT_MODEL, default
  vit_tiny_patch16_224): loaded with pretrained_cfg_overlay; timm adapts the patch embedding to one channel
  and the patch size and resamples the position embedding to the token grid. DIGITSUM_VIT_WEIGHTS=hf-cache
  takes the weights from a Hugging Face cache instead (HF_HUB_OFFLINE=1: never downloaded).
- otherwise: the same ViT is pre-trained here on single MNIST-train digits (10 classes, cross-entropy) for a
  share of the budget: cropped as the images' digits are (DigitViTSum), or centred on 32x32, 4x4 tokens,
  whose position embedding is then resampled to 5x21 (vit_patches).
Nothing is downloaded either way. The ViTs train in float32: on a CPU with native bf16, where the bench's CNNs
gain from bf16 autocast, it trains these small ViTs slower (benchmarks/vit_speed.py: 1,239 against 1,303
images/s for vit_finetune's, 324 against 548 for vit_patches').
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"          # before timm imports huggingface_hub: never phone home

import numpy as np
import torch
from torch import nn

from approaches._segmentation import slot_crops
from approaches._sum_head import SumHead
from approaches.digit_slots import random_affine, sum_distribution
from bench import Approach, register
from bench.approach import Budget
from bench.data import load_mnist
from bench.train import TorchApproach, TrainConfig, predict_outputs, train_model

IMAGE_HW = (40, 168)
PATCH = 8                  # vit_patches: tokens of 8x8 pixels of the whole image
CROP, CROP_PATCH = 28, 7   # vit_finetune & co: tokens of 7x7 pixels of a digit's 28x28 crop
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


def small_vit(img_size, num_classes, width=64, depth=4, heads=4, stem="patch", patch=PATCH):
    """timm's VisionTransformer for 1-channel input, no class token: the head reads the mean of the tokens.
    Tokens of patch x patch pixels (stem="patch": ViT's linear patch embedding; "conv": a conv stem, 8x8), or
    of overlapping 28x28 windows (stem="window"; these two only in benchmarks/vit_counting.py)."""
    from functools import partial
    from timm.layers import HybridEmbed
    from timm.models.vision_transformer import VisionTransformer
    stems = {"conv": conv_stem, "window": window_stem}
    embed = {} if stem == "patch" else {"embed_layer": partial(HybridEmbed, backbone=stems[stem](width), patch_size=1)}
    return VisionTransformer(img_size=img_size, patch_size=patch if stem == "patch" else 1, in_chans=1,
                             num_classes=num_classes, embed_dim=width, depth=depth, num_heads=heads, mlp_ratio=2.0,
                             class_token=False, global_pool="avg", fc_norm=False, **embed)


class DigitTokenViT(nn.Module):
    """The ViT over the tokens of each digit of an image: (B, slots, 28, 28) crops, an all-dark crop an empty
    slot. Each crop is cut into patches and read by the ViT, its tokens attending to each other only (each
    digit's reader stays local: what it learns is a digit reader); the ViT's head on the mean of a digit's
    tokens gives its 10 logits. combine says what the model returns:
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


def adapt_to_grid(state: dict, model: nn.Module) -> dict:
    """A ViT state dict from another input size -> one `model` loads: position embedding resampled to the
    model's grid, the old head dropped (timm's own filter for pre-trained checkpoints)."""
    from timm.models.vision_transformer import checkpoint_filter_fn
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    return checkpoint_filter_fn(state, model)


def timm_pretrained(model_name: str, weights: str, num_outputs: int, img_size=IMAGE_HW, patch=PATCH) -> nn.Module:
    """timm's model_name with local pre-trained weights (a file or the HF cache), adapted to 1 channel,
    the patch size and the img_size grid, with a new head of num_outputs."""
    import timm
    kwargs = dict(pretrained=True, img_size=img_size, patch_size=patch, in_chans=1, num_classes=num_outputs,
                  global_pool="avg")
    if weights != "hf-cache":
        # num_classes says what the file's head holds; timm drops that head for our num_outputs
        kwargs["pretrained_cfg_overlay"] = dict(file=str(weights), num_classes=1000)
    return timm.create_model(model_name, **kwargs)


class ViTSum(SumHead, TorchApproach, Approach):
    """The report's formulation: a ViT over 8x8-pixel patches of the whole image, the head on their mean."""
    name = "vit_patches"
    summary = "original report 2d: small ViT over 8x8-pixel patches of the whole image, pre-trained, MSE regression"
    default_budget = 30          # 6% of sums at any budget measured up to 600 s (README)
    channels_last = False       # token models gain nothing from it (nor from bf16: see above)
    img_size, patch = IMAGE_HW, PATCH
    pretrain_share = 0.3        # of the budget, where no timm weights are given
    augment = None              # whole images are not augmented

    def __init__(self, init="pretrained", head="regression", pretrain_share=None, lr=1e-3, batch_size=128,
                 width=64, depth=4, heads=4, stem="patch"):
        assert init in ("pretrained", "scratch") and head in ("regression", "classification")
        self.init = init
        self.head = head
        self.pretrain_share = self.pretrain_share if pretrain_share is None else pretrain_share
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

    def vit(self, num_outputs, pretrained_weights=False):
        """A ViT for self.img_size and self.patch: timm's model_name where weights are given (loaded if
        pretrained_weights), else the small one."""
        if self.weights and pretrained_weights:
            return timm_pretrained(self.model_name, self.weights, num_outputs, self.img_size, self.patch)
        if self.weights:
            from timm import create_model
            return create_model(self.model_name, pretrained=False, img_size=self.img_size, patch_size=self.patch,
                                in_chans=1, num_classes=num_outputs, global_pool="avg")
        return small_vit(self.img_size, num_outputs, self.width, self.depth, self.heads, self.stem, self.patch)

    def build_model(self):
        return self.vit(self.num_outputs())

    def pretrained_model(self, budget):
        """The fine-tuning model, initialised as self.init and the machine allow; sets notes['init']."""
        if self.init == "scratch":
            self.notes["init"] = "random (no pre-training)"
            return self.build_model()
        if self.weights:
            self.notes["init"] = f"timm {self.model_name} weights from {self.weights}"
            return self.with_timm_weights()
        seconds = budget.seconds * self.pretrain_share
        digits, labels = self.mnist_digits(limit=3000 if budget.quick else None)
        held_out = len(digits) // 10                # the last tenth picks the best pre-training epoch
        encoder = self.digit_classifier()
        self.pretrain_history = train_model(
            encoder, digits[:-held_out], labels[:-held_out], digits[-held_out:], labels[-held_out:],
            loss_fn=lambda out, y: nn.functional.cross_entropy(self.digit_logits(out), y),
            to_sums=lambda out: self.digit_logits(out).argmax(1),
            budget=Budget(seconds, quick=budget.quick, progress=budget.progress), device=self.device, seed=self.seed,
            config=TrainConfig(lr=self.lr, batch_size=128, patience=5, channels_last=False, bf16=False,
                               augment=self.augment),
            label=f"{self.name} pre-training on MNIST digits")
        best = max((h["val_accuracy"] for h in self.pretrain_history), default=0.0)
        spent = self.pretrain_history[-1]["seconds"] if self.pretrain_history else 0.0   # early stopping may end it sooner
        self.notes["init"] = (f"pre-trained here on single MNIST-train digits for {spent:.0f} s "
                              f"({best:.2%} of held-out digits)")
        self.pretrain_encoder = encoder
        return self.from_digit_classifier(encoder)

    # the pre-training's pieces for whole-image tokens (DigitViTSum has its own for digit crops)
    def with_timm_weights(self):
        return self.vit(self.num_outputs(), pretrained_weights=True)

    def mnist_digits(self, limit=None):
        """Single MNIST-train digits centred on 32x32 (a 4x4 grid of patches), uint8 (N, 1, 32, 32), labels."""
        images, labels = (part[:limit] for part in load_mnist()["train"])
        return torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2)))).unsqueeze(1), torch.from_numpy(labels)

    @staticmethod
    def digit_logits(outputs):
        return outputs

    def digit_classifier(self):
        return small_vit((32, 32), 10, self.width, self.depth, self.heads, self.stem)

    def from_digit_classifier(self, encoder):
        self.notes["init"] += ", position embedding resampled 4x4 -> 5x21"
        model = self.build_model()
        missing, _ = model.load_state_dict(adapt_to_grid(encoder.state_dict(), model), strict=False)
        assert set(missing) <= {"head.weight", "head.bias"}, missing
        return model

    def fit(self, train, val, budget):
        self.max_sum = 9 * self.digit_range[1]
        budget.progress("preparing inputs", 0, 1)
        train_x, val_x = self.preprocess(train.images), self.preprocess(val.images)
        budget.progress("preparing inputs", 1, 1)
        self.model = self.pretrained_model(budget)
        self.history = train_model(
            self.model, train_x, torch.as_tensor(train.sums), val_x, val.sums, loss_fn=self.loss,
            to_sums=self.outputs_to_sums,
            budget=Budget(budget.remaining(), quick=budget.quick, progress=budget.progress),
            device=self.device, seed=self.seed, label=self.name,
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, patience=15, channels_last=False, bf16=False,
                               augment=self.augment))


class DigitViTSum(ViTSum):
    """A ViT over the tokens of the image's digits (DigitTokenViT): 7x7-pixel patches of each digit's crop.
    The regression head: the sum of the digits' expected values, one number, MSE on sum / max_sum."""
    name = "vit_finetune"
    summary = "small ViT over the tokens of the segmented digits, pre-trained on MNIST digits, MSE regression on sums"
    img_size, patch = (CROP, CROP), CROP_PATCH
    default_budget = 90
    pretrain_share = 0.6        # reading digits is what it needs most, and digit labels teach it fastest

    def build_model(self):
        return DigitTokenViT(self.vit(10), self.combine())

    def combine(self):
        return "sum_distribution" if self.head == "classification" else "expected_sum"

    def preprocess(self, images):
        return torch.from_numpy(slot_crops(images, self.digit_range))

    def outputs_to_sums(self, outputs):
        return outputs.argmax(1).float() if self.head == "classification" else outputs.reshape(-1)

    def loss(self, outputs, sums):
        if self.head == "classification":
            return super().loss(outputs, sums)
        return nn.functional.mse_loss(outputs.reshape(-1) / self.max_sum, sums.float() / self.max_sum)

    @staticmethod
    def augment(crops):
        return random_affine(crops)

    def with_timm_weights(self):
        return DigitTokenViT(self.vit(10, pretrained_weights=True), self.combine())

    def mnist_digits(self, limit=None):
        """Single MNIST-train digits cropped as the images' digits are: uint8 (N, 1, 28, 28) (one slot), labels."""
        images, labels = (part[:limit] for part in load_mnist()["train"])
        return torch.from_numpy(slot_crops(images, (1, 1))), torch.from_numpy(labels)

    def digit_classifier(self):
        return DigitTokenViT(self.vit(10), "digits")

    @staticmethod
    def digit_logits(outputs):
        return outputs[:, 0]                    # (B, 1 slot, 10)

    def from_digit_classifier(self, encoder):
        return DigitTokenViT(encoder.vit, self.combine())      # the same ViT, its digit logits as they are

    def predict_digits_batch(self, images):
        """The digits read: each digit's most likely class."""
        crops = self.preprocess(images)
        logits = predict_outputs(DigitTokenViT(self.model.vit, "digits"), crops, self.device, channels_last=False)
        filled = crops.amax((2, 3)) > 0
        return [[int(d) for d, f in zip(row, mask) if f] for row, mask in zip(logits.argmax(-1), filled)]


register(DigitViTSum)
register(DigitViTSum, name="vit_finetune_cls", head="classification",
         summary="small ViT over the tokens of the segmented digits, pre-trained, 37-way head (the exact sum distribution)")
register(DigitViTSum, name="vit_scratch", init="scratch",
         summary="small ViT over the tokens of the segmented digits from random initialisation, MSE regression")
register(ViTSum)
