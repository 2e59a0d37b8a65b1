"""A pre-training for the ViT's sum regression that is not in approaches/vit.py yet: count each digit class.

The ViT of approaches/vit.py learns the sum of a whole image very slowly on a CPU (about 6% of test sums at
any budget up to 600 s). This pre-trains the same ViT with 10 outputs, the number of digits of each class
(MSE), on canvases of 1 to 4 MNIST-train digits placed by the bench's composer; the report's regression head
is then made from the counting head without new parameters, as the sum is linear in the counts:
head_sum = (0, 1, ..., 9) / 36 . head_counts (weights and bias). It prints the sum accuracy of that head on
the val and test splits before any sum training, then fine-tunes on the train split's sums (MSE on sum/36,
as vit_finetune does) and prints it again.

    python benchmarks/vit_counting.py [--stem conv|patch|window] [--target counts|tokens] [--pretrain-seconds 900]
                                      [--finetune-seconds 300] [--canvases 60000] [--threads 2]

--stem: the ViT's token reader (approaches/vit.py small_vit): "conv" (3 stride-2 convolutions), "patch"
(the linear 8x8 patch embedding, vit_finetune's default) or "window" (overlapping 28x28 windows).
--target: "counts" (the image's 10 counts from the mean of the tokens, as above) or "tokens": the same head
applied to every token, each token's target the counts of the digits whose ink-box centre lies in it (a
centre shared between the 4 nearest tokens, bilinearly, so the tokens' targets add up to the image's
counts); the loss adds the error of the image's counts (the tokens' sum). The head is linear and the model
pools by the mean, so the image's counts are the number of tokens times the pooled output, and the
regression head is made from it the same way. (Measured: it does not help the patch embedding; README.)
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from torch import nn

from approaches._sum_head import SumHead
from approaches.vit import IMAGE_HW, PATCH, WINDOW, WINDOW_STRIDE, small_vit
from bench.approach import Budget
from bench.data import compose, data_spec, load_dataset, load_mnist
from bench.metrics import sum_metrics
from bench.train import TrainConfig, images_to_tensor, predict_outputs, train_model
from bench.util import tune_cpu

HELD_OUT = 2000          # of the counting canvases: picks the best pre-training epoch


class PerToken(nn.Module):
    """The ViT's head applied to every token instead of to their mean: (B, tokens, 10)."""
    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        return self.vit.head(self.vit.forward_features(x))


def token_geometry(stem):
    """(size, stride) in pixels, (rows, columns), of the pixels a token of this stem reads."""
    return ((WINDOW, WINDOW), WINDOW_STRIDE) if stem == "window" else ((PATCH, PATCH), (PATCH, PATCH))


def token_targets(canvases, grid, size, stride) -> torch.Tensor:
    """(N, tokens, 10): per token, the counts of the digits whose ink-box centre lies in it, each centre
    shared bilinearly between the 4 tokens around it (token centres at stride i + (size - 1) / 2 pixels)."""
    rows, cols = grid
    targets = np.zeros((len(canvases.digits), rows, cols, 10), np.float32)
    image, slot = np.nonzero(canvases.digits >= 0)
    x, y, w, h = canvases.boxes[image, slot].T
    gx = np.clip((x + (w - 1) / 2 - (size[1] - 1) / 2) / stride[1], 0, cols - 1)
    gy = np.clip((y + (h - 1) / 2 - (size[0] - 1) / 2) / stride[0], 0, rows - 1)
    x0, y0 = np.minimum(gx.astype(int), cols - 2), np.minimum(gy.astype(int), rows - 2)
    fx, fy, digit = gx - x0, gy - y0, canvases.digits[image, slot]
    for dy, dx, share in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        np.add.at(targets, (image, y0 + dy, x0 + dx, digit), share)
    return torch.from_numpy(targets.reshape(len(targets), rows * cols, 10))


def token_loss(outputs, targets):
    """Per image: the squared errors of every token's counts plus those of the image's counts (the tokens'
    sum), so that small errors on the many empty tokens, which add up in the sum, are not left alone."""
    per_token = (outputs - targets).pow(2).sum(1).mean()
    per_image = (outputs.sum(1) - targets.sum(1)).pow(2).mean()
    return per_token + per_image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--stem", choices=("conv", "patch", "window"), default="conv")
    p.add_argument("--pretrain-seconds", type=float, default=900)
    p.add_argument("--finetune-seconds", type=float, default=300)
    p.add_argument("--target", choices=("counts", "tokens"), default="counts")
    p.add_argument("--canvases", type=int, default=60000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    tune_cpu(args.threads)

    data = load_dataset(data_spec())
    head = SumHead()                         # vit_finetune's regression head: MSE on sum / max_sum
    head.max_sum = 9 * data.digits[1]
    inputs = {name: images_to_tensor(split.images) for name, split in (("val", data.val), ("test", data.test))}
    started = time.monotonic()
    canvases = compose(*load_mnist()["train"], args.canvases, (1, 4), seed=123)
    images = images_to_tensor(canvases.images)
    print(f"composed {args.canvases} canvases of 1-4 MNIST-train digits in {time.monotonic() - started:.0f} s")

    values = torch.arange(10).float()
    model = small_vit(IMAGE_HW, 10, stem=args.stem)
    config = TrainConfig(lr=1e-3, batch_size=128, patience=50, channels_last=False)
    if args.target == "tokens":
        trained, targets, loss_fn = PerToken(model), token_targets(canvases, model.patch_embed.grid_size,
                                                                     *token_geometry(args.stem)), token_loss
        tokens = model.patch_embed.num_patches
    else:
        counts = torch.stack([torch.as_tensor((canvases.digits == c).sum(1)) for c in range(10)], 1).float()
        trained, targets, loss_fn, tokens = model, counts, nn.functional.mse_loss, 1
    history = train_model(trained, images[:-HELD_OUT], targets[:-HELD_OUT], images[-HELD_OUT:], canvases.sums[-HELD_OUT:],
                          loss_fn=loss_fn, to_sums=lambda out: out.reshape(len(out), -1, 10).sum(1) @ values,
                          budget=Budget(args.pretrain_seconds), config=config)
    for h in history:
        print(f"counting epoch {h['epoch']}: {h['seconds']:.0f} s, loss {h['loss']:.4f}, "
              f"held-out canvases' sums {h['val_accuracy']:.2%}")

    counting = model.head
    model.head = nn.Linear(counting.in_features, 1)
    per_count = values * tokens / head.max_sum         # pooled output x tokens = the image's counts
    with torch.no_grad():
        model.head.weight.copy_((per_count @ counting.weight).unsqueeze(0))
        model.head.bias.copy_((per_count @ counting.bias).reshape(1))

    def report(when):
        for name, split in (("val", data.val), ("test", data.test)):
            predicted = head.outputs_to_sums(predict_outputs(model, inputs[name], channels_last=False))
            scores = sum_metrics(predicted.numpy(), split.sums)
            print(f"{when}: {name} {scores['accuracy']:.2%} of sums, MAE {scores['mae']:.2f}")

    report("regression head made from the counting head, before any sum training")
    if args.finetune_seconds > 0:
        history = train_model(model, images_to_tensor(data.train.images), torch.as_tensor(data.train.sums),
                              inputs["val"], data.val.sums, loss_fn=head.loss, to_sums=head.outputs_to_sums,
                              budget=Budget(args.finetune_seconds), config=config)
        print(f"fine-tuned on sums for {history[-1]['seconds']:.0f} s ({len(history)} epochs)")
        report("after fine-tuning")


if __name__ == "__main__":
    main()
