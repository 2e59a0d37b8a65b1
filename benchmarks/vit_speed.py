"""Training and inference speed of ViT configurations at the bench's 40x168 input, in a bare loop (timm's
VisionTransformer, batches of 128 random images, AdamW; no data loading, no validation):

    python benchmarks/vit_speed.py [--threads 2]

Prints images/s per configuration: the small ViT of approaches/vit.py with either token reader, and larger
ones up to timm's vit_tiny shape (width 192, 12 blocks, 3 heads), all with 8x8-pixel tokens (5x21 = 105).
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CONFIGS = [  # (label, width, depth, heads, mlp ratio, token reader)
    ("approaches/vit.py (linear patch embedding)", 64, 4, 4, 2.0, "patch"),
    ("the same with a conv stem (stem=\"conv\")", 64, 4, 4, 2.0, "conv"),
    ("width 96, 6 blocks", 96, 6, 4, 2.0, "patch"),
    ("width 128, 6 blocks", 128, 6, 4, 2.0, "patch"),
    ("vit_tiny shape: width 192, 12 blocks", 192, 12, 3, 4.0, "patch"),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()
    import torch
    from approaches.vit import small_vit
    torch.set_num_threads(args.threads)
    for label, width, depth, heads, mlp, stem in CONFIGS:
        model = small_vit((40, 168), 1, width, depth, heads, stem)
        if mlp != 2.0:
            from timm.models.vision_transformer import VisionTransformer
            model = VisionTransformer(img_size=(40, 168), patch_size=8, in_chans=1, num_classes=1, embed_dim=width,
                                      depth=depth, num_heads=heads, mlp_ratio=mlp, class_token=False, global_pool="avg")
        optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
        x, y = torch.rand(128, 1, 40, 168), torch.rand(128, 1)
        for step in range(6):                       # 2 warm-up steps, 4 timed
            if step == 2:
                started = time.perf_counter()
            loss = ((model(x) - y) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train = 4 * 128 / (time.perf_counter() - started)
        model.eval()
        with torch.inference_mode():
            model(torch.rand(512, 1, 40, 168))
            started = time.perf_counter()
            for _ in range(3):
                model(torch.rand(512, 1, 40, 168))
        infer = 3 * 512 / (time.perf_counter() - started)
        params = sum(p.numel() for p in model.parameters())
        print(f"{label}: {train:,.0f} training images/s, {infer:,.0f} inference images/s "
              f"({params:,} parameters, {args.threads} threads)")


if __name__ == "__main__":
    main()
