"""Training and inference speed of ViT configurations at the bench's input, in a bare loop (timm's
VisionTransformer, batches of 128 random images, AdamW; no data loading, no validation):

    python benchmarks/vit_speed.py [--threads 2]

Prints images/s per configuration: the ViT of vit_finetune (each image's four 28x28 digit crops, 16 tokens
of 7x7 pixels each, read one crop at a time), the whole-image ViT of vit_patches with either token reader,
and larger whole-image ones up to timm's vit_tiny shape (width 192, 12 blocks, 3 heads), all with 8x8-pixel
tokens (5x21 = 105). In float32 and, on a CPU with native bf16, also with bf16 autocast.
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONFIGS = [  # (label, width, depth, heads, mlp ratio, token reader)
    ("vit_finetune: four digit crops of 4x4 tokens", 64, 4, 4, 2.0, "digits"),
    ("vit_patches (linear patch embedding)", 64, 4, 4, 2.0, "patch"),
    ("the same with a conv stem (stem=\"conv\")", 64, 4, 4, 2.0, "conv"),
    ("width 96, 6 blocks", 96, 6, 4, 2.0, "patch"),
    ("width 128, 6 blocks", 128, 6, 4, 2.0, "patch"),
    ("vit_tiny shape: width 192, 12 blocks", 192, 12, 3, 4.0, "patch"),
]


def build(width, depth, heads, mlp, stem):
    """The model and a function making a batch of n random inputs for it."""
    import torch
    from approaches.vit import CROP, CROP_PATCH, IMAGE_HW, DigitTokenViT, small_vit
    if stem == "digits":
        model = DigitTokenViT(small_vit((CROP, CROP), 10, width, depth, heads, patch=CROP_PATCH), "expected_sum")
        return model, lambda n: torch.rand(n, 4, CROP, CROP)
    model = small_vit(IMAGE_HW, 1, width, depth, heads, stem)
    if mlp != 2.0:
        from timm.models.vision_transformer import VisionTransformer
        model = VisionTransformer(img_size=IMAGE_HW, patch_size=8, in_chans=1, num_classes=1, embed_dim=width,
                                  depth=depth, num_heads=heads, mlp_ratio=mlp, class_token=False, global_pool="avg")
    return model, lambda n: torch.rand(n, 1, *IMAGE_HW)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    import torch
    from bench.train import autocast, cpu_has_fast_bf16
    torch.set_num_threads(args.threads)
    precisions = (False, True) if cpu_has_fast_bf16() else (False,)
    for label, width, depth, heads, mlp, stem in CONFIGS:
        for bf16 in precisions:
            torch.manual_seed(0)
            model, batch = build(width, depth, heads, mlp, stem)
            optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
            x, y = batch(128), torch.rand(128)
            for step in range(6):                       # 2 warm-up steps, 4 timed
                if step == 2:
                    started = time.perf_counter()
                with autocast("cpu", bf16):
                    out = model(x)
                loss = ((out.float().reshape(-1) - y) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            train = 4 * 128 / (time.perf_counter() - started)
            model.eval()
            with torch.inference_mode(), autocast("cpu", bf16):
                model(batch(512))
                started = time.perf_counter()
                for _ in range(3):
                    model(batch(512))
            infer = 3 * 512 / (time.perf_counter() - started)
            params = sum(p.numel() for p in model.parameters())
            print(f"{label}{', bf16 autocast' if bf16 else ''}: {train:,.0f} training images/s, {infer:,.0f} "
                  f"inference images/s ({params:,} parameters, {args.threads} threads)")


if __name__ == "__main__":
    main()
