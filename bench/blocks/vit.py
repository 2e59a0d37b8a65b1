"""Vision transformers for grayscale digit images, built with timm, and their pre-training on single
MNIST-train digits. Nothing is downloaded: timm weights come from a local file named by
DIGITSUM_VIT_WEIGHTS (or, with DIGITSUM_VIT_WEIGHTS=hf-cache, from a Hugging Face cache, HF_HUB_OFFLINE=1);
without them a ViT is pre-trained here."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"          # before timm imports huggingface_hub: never phone home

from torch import nn  # noqa: E402

from bench.approach import Budget, need_file, need_module  # noqa: E402
from bench.train import TrainConfig, train_model  # noqa: E402

WEIGHTS_ENV, MODEL_ENV = "DIGITSUM_VIT_WEIGHTS", "DIGITSUM_VIT_MODEL"


def local_weights(init: str) -> tuple[str | None, str]:
    """(the weights a user put on the machine, or None; the timm model they belong to) for init
    "pretrained"; no weights for "scratch"."""
    weights = os.environ.get(WEIGHTS_ENV) or None if init == "pretrained" else None
    return weights, os.environ.get(MODEL_ENV, "vit_tiny_patch16_224")


def vit_requirements(weights: str | None) -> list:
    needs = [need_module("timm", "install it with: pip install -r requirements.txt")]
    if weights and weights != "hf-cache":
        needs.append(need_file(weights, f"ViT weights ({WEIGHTS_ENV})",
                               f"point {WEIGHTS_ENV} at a timm weights file, or unset it to pre-train on MNIST"))
    return needs


def small_vit(img_size, num_classes, width=64, depth=4, heads=4, patch=8) -> nn.Module:
    """timm's VisionTransformer for 1-channel input with tokens of patch x patch pixels and no class
    token: the head reads the mean of the tokens."""
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(img_size=img_size, patch_size=patch, in_chans=1, num_classes=num_classes,
                             embed_dim=width, depth=depth, num_heads=heads, mlp_ratio=2.0, class_token=False,
                             global_pool="avg", fc_norm=False)


def timm_pretrained(model_name: str, weights: str, num_outputs: int, img_size, patch) -> nn.Module:
    """timm's model_name with local pre-trained weights (a file or the HF cache), adapted to 1 channel,
    the patch size and the img_size grid, with a new head of num_outputs."""
    import timm
    kwargs = dict(pretrained=True, img_size=img_size, patch_size=patch, in_chans=1, num_classes=num_outputs,
                  global_pool="avg")
    if weights != "hf-cache":
        # num_classes says what the file's head holds; timm drops that head for our num_outputs
        kwargs["pretrained_cfg_overlay"] = dict(file=str(weights), num_classes=1000)
    return timm.create_model(model_name, **kwargs)


def build_vit(num_outputs, img_size, patch, weights=None, model_name="", width=64, depth=4, heads=4,
              load_weights=False) -> nn.Module:
    """A ViT for img_size and patch: timm's model_name where weights are given (loaded if load_weights),
    else the small one."""
    if weights and load_weights:
        return timm_pretrained(model_name, weights, num_outputs, img_size, patch)
    if weights:
        from timm import create_model
        return create_model(model_name, pretrained=False, img_size=img_size, patch_size=patch, in_chans=1,
                            num_classes=num_outputs, global_pool="avg")
    return small_vit(img_size, num_outputs, width, depth, heads, patch)


def pretrain_digit_reader(encoder, digits, labels, digit_logits, budget: Budget, *, lr, augment, device, seed,
                          label) -> tuple[list[dict], str]:
    """Trains encoder to classify single digits (uint8 tensors; the last tenth held out picks the best
    epoch) within the budget, float32. digit_logits(outputs) -> (N, 10). Returns the history and a note
    saying how long it ran and how well it reads held-out digits."""
    held_out = len(digits) // 10
    history = train_model(
        encoder, digits[:-held_out], labels[:-held_out], digits[-held_out:], labels[-held_out:],
        loss_fn=lambda out, y: nn.functional.cross_entropy(digit_logits(out), y),
        to_sums=lambda out: digit_logits(out).argmax(1), budget=budget, device=device, seed=seed,
        config=TrainConfig(lr=lr, batch_size=128, patience=5, channels_last=False, bf16=False, augment=augment),
        label=label)
    best = max((h["val_accuracy"] for h in history), default=0.0)
    spent = f"{len(history)} epochs" if budget.seconds is None else f"{history[-1]['seconds'] if history else 0:.0f} s"
    return history, f"pre-trained here on single MNIST-train digits for {spent} ({best:.2%} of held-out digits)"
