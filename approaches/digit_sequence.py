"""Beyond the report: a reader that needs no segmentation. A CNN reads the whole image and gives every
column band (a frame, 8 pixels wide) a distribution over "no digit starts or goes on here" (the blank)
and the ten digits, as in CTC handwriting readers; digits that touch or overlap need no cut between them.
The distribution of the sum is exact over every alignment (bench.blocks.sums.ctc_sum_log_distribution),
and the prediction is the most likely sum, with its probability as the confidence.

- ctc_cnn_sum_only:  trained from sum labels alone: loss = -log P(sum = label), the digits never given.
- ctc_cnn_digit_sup: trained with the composer's digit sequences (CTC loss), for when they exist.

Both are also told where digits are, where that is known (frame_targets): without it neither learned to
read (docs/approaches.md). Both lay half their training images out anew (pushed_together), so that they
see neighbours touching and overlapping, which the composer's plain layout never draws.
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bench import Approach, register
from bench.blocks.augment import random_affine, soften
from bench.blocks.segmentation import INK, WIDE, ink_runs
from bench.blocks.sums import ctc_sum_log_distribution
from bench.train import TorchApproach, TrainConfig, predict_outputs, train_model

BLANK = 0          # output 0 is the blank, output 1 + d the digit d
FRAME = 8          # pixels of width per output frame


class SequenceCNN(nn.Module):
    """(B, 1, 40, W) image -> (B, W/8 frames, 11) logits. Three stages of a 3x3 convolution, 2x2
    max-pooling, BatchNorm and ReLU (each frame then sees 38 pixels of width), one more convolution that
    pools the five remaining rows away, a 1x3 convolution along the frames (each then sees 54 pixels: a
    digit and the edges of its neighbours) and a linear read-out per frame. The frames stay a 2-D image
    one row high: a bf16 Conv2d in channels_last runs faster than a Conv1d. It reads the image through
    bench.blocks.augment.soften, so that digits drawn crisper than the composer's read as well."""

    def __init__(self, widths=(16, 32, 64), hidden=128, dropout=0.1):
        super().__init__()
        stages, channels = [], 1
        for width in widths:
            stages += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        stages += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.AdaptiveMaxPool2d((1, None)),
                   nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*stages)
        self.frames = nn.Sequential(nn.Conv2d(channels, hidden, (1, 3), padding=(0, 1)), nn.ReLU(inplace=True),
                                    nn.Dropout(dropout), nn.Conv2d(hidden, 11, 1))

    def forward(self, x):
        if not self.training:
            x = soften(x)      # every image read through the filter; in training, half of them (augment)
        return self.frames(self.features(x)).flatten(2).transpose(1, 2)


def box_spans(boxes):
    """Each image's digits as column spans [start, end) from the composer's boxes."""
    return [[(int(x), int(x + w)) for x, _, w, _ in row if w > 0] for row in boxes]


def ink_spans(images, digit_range):
    """Each image's digits as column spans from the ink alone (no labels): its runs of inked columns
    where they are as many as the image may hold digits and none is wide enough to hold two; else None."""
    lo, hi = digit_range
    spans = []
    for image in images:
        runs = ink_runs(np.asarray(image) >= INK)
        spans.append(runs if lo <= len(runs) <= hi and all(b - a <= WIDE for a, b in runs) else None)
    return spans


def pushed_together(images, spans, rng, share):
    """A copy of the images in which `share` of those with known, separate spans have their digits laid out anew,
    in the same order: neighbours from 5 pixels overlapping to 10 apart, each anywhere from the top to
    the bottom (layouts people write and the composer's gaps never make). Returns the images and every
    image's spans (the new ones where moved)."""
    images, spans = np.array(images, copy=True), list(spans)
    height, width = images.shape[1:]
    for i in np.flatnonzero(rng.random(len(images)) < share):
        if spans[i] is None or any(a[1] > b[0] for a, b in zip(spans[i], spans[i][1:])):
            continue                        # unknown, or neighbours that share columns cannot be cut apart
        pieces = []
        for a, b in spans[i]:
            rows = np.flatnonzero(images[i, :, a:b].any(1))
            pieces.append(images[i, rows[0]:rows[-1] + 1, a:b].copy())
        gaps = rng.integers(-5, 11, len(pieces) - 1)
        room = width - sum(p.shape[1] for p in pieces) - int(gaps.sum())
        if room < 0:
            continue
        images[i] = 0
        x, moved = int(rng.integers(0, room + 1)), []
        for k, piece in enumerate(pieces):
            h, w = piece.shape
            y = int(rng.integers(0, height - h + 1))
            np.maximum(images[i, y:y + h, x:x + w], piece, out=images[i, y:y + h, x:x + w])
            moved.append((x, x + w))
            x += w + (int(gaps[k]) if k < len(gaps) else 0)
        spans[i] = moved
    return images, spans


def frame_targets(images, spans):
    """Where digits are: in an image with known spans, the frame at each span's middle holds a digit (1)
    and a frame without ink none (0); every other frame is not told (-1)."""
    frames = images.shape[2] // FRAME
    targets = torch.full((len(images), frames), -1, dtype=torch.long)
    for i, found in enumerate(spans):
        if found is not None:
            inked = (np.asarray(images[i]) >= INK).any(0)[:frames * FRAME].reshape(frames, FRAME).any(1)
            targets[i, torch.from_numpy(~inked)] = 0
            for a, b in found:
                targets[i, min(frames - 1, (a + b) // (2 * FRAME))] = 1
    return targets


class DigitSequence(TorchApproach, Approach):
    name = "ctc_cnn_sum_only"
    summary = "CNN over the whole image, a blank or a digit per column band (CTC), exact sum; from sums only"
    epochs = 16

    def __init__(self, supervision="sum", pushed=0.5, widths=(16, 32, 64), hidden=128, lr=3e-3, batch_size=64,
                 ema=0.999):
        assert supervision in ("sum", "digits")
        self.supervision = supervision
        self.pushed = pushed            # the share of training images whose digits are laid out anew
        self.widths = tuple(widths)
        self.hidden = hidden
        self.lr = lr
        self.batch_size = batch_size
        self.ema = ema

    def build_model(self):
        return SequenceCNN(widths=self.widths, hidden=self.hidden)

    def fit(self, train, val, budget):
        if self.supervision == "digits" and train.digits is None:
            raise ValueError("ctc_cnn_digit_sup needs digit labels (composed data); "
                             "on a folder of sums only, use ctc_cnn_sum_only")
        budget.progress("laying digits out anew", 0, 1)
        spans = box_spans(train.boxes) if self.supervision == "digits" else ink_spans(train.images, self.digit_range)
        images, spans = pushed_together(train.images, spans, np.random.default_rng(self.seed), self.pushed)
        budget.progress("laying digits out anew", 1, 1)
        labels = torch.as_tensor(train.digits if self.supervision == "digits" else train.sums[:, None])
        targets = torch.cat([labels, frame_targets(images, spans)], 1)
        self.model = self.build_model()
        self.history = train_model(
            self.model, self.preprocess(images), targets, self.preprocess(val.images), val.sums,
            loss_fn=self.loss, to_sums=self.outputs_to_sums, budget=budget, device=self.device, seed=self.seed,
            label=self.name, config=TrainConfig(lr=self.lr, batch_size=self.batch_size, patience=8,
                                                augment=self.augment, ema=self.ema))
        self.notes["trained_on"] = "sum labels only" if self.supervision == "sum" else "digit labels"

    def augment(self, x):
        """The whole image turned, scaled and shifted a little (every digit moves with it); half of the
        images then softened, as prediction softens all: the reader learns both the composer's strokes and
        softer ones, and reads crisper digits than the composer's, softened, as well."""
        x = random_affine(x, degrees=3.0, scale=0.08, shift=0.04)
        half = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
        return torch.where(half, soften(x), x)

    def loss(self, outputs, targets):
        """CTC on the digits (or -log P(sum) from sums alone), plus blank-or-digit where frame_targets tells."""
        labels, frames = targets[:, :-outputs.shape[1]], targets[:, -outputs.shape[1]:]
        log_probs = F.log_softmax(outputs, -1)
        if self.supervision == "digits":
            filled = labels >= 0
            lengths = torch.full((len(labels),), outputs.shape[1], dtype=torch.long)
            read = F.ctc_loss(log_probs.transpose(0, 1), labels[filled] + 1, lengths, filled.sum(1), blank=BLANK,
                              zero_infinity=True)
        else:
            log_p = ctc_sum_log_distribution(log_probs, self.digit_range)
            read = -log_p.gather(1, labels.clamp_max(log_p.shape[1] - 1)).mean()
        where = torch.stack([log_probs[..., BLANK], torch.logsumexp(log_probs[..., 1:], -1)], -1)
        told = frames >= 0
        return read + (F.nll_loss(where[told], frames[told]) if told.any() else 0.0)

    def distribution(self, outputs):
        return ctc_sum_log_distribution(F.log_softmax(outputs, -1), self.digit_range).exp()

    def outputs_to_sums(self, outputs):
        return self.distribution(outputs).argmax(1).float()

    def _outputs(self, images):
        return predict_outputs(self.model, self.preprocess(images), self.device, batch_size=256, bf16=True)

    def predict_batch(self, images):
        return self.outputs_to_sums(self._outputs(images)).double().numpy()

    def confidence_batch(self, images):
        return self.distribution(self._outputs(images)).amax(1).double().numpy()

    def predict_digits_batch(self, images):
        """The most likely symbol of every frame, repeats collapsed and blanks dropped."""
        read = []
        for path in self._outputs(images).argmax(-1).tolist():
            read.append([s - 1 for i, s in enumerate(path) if s != BLANK and (i == 0 or path[i - 1] != s)])
        return read


register(DigitSequence)
register(DigitSequence, name="ctc_cnn_digit_sup", supervision="digits",
         summary="CNN over the whole image, a blank or a digit per column band (CTC), exact sum; digit labels")
