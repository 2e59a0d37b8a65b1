"""Beyond the report: a structured recognizer. Each image is cut into one 28x28 crop per digit
(bench.blocks.segmentation: by columns where they separate the digits, else by pieces of ink; touching
digits are split where the CNN reads both halves surest); one small CNN gives every crop a distribution over
0..9 and "no one digit"; the distribution of the sum is the exact convolution of the crops' digit
distributions (differentiable), and the prediction is the most likely sum, with its probability as the
confidence. The CNN learns to cut from training images whose digits it pushes together (bench.blocks.layouts)
and cuts at their boxes, right and wrong.

- slot_cnn_sum_only:  trained from sum labels alone: loss = -log P(sum = label). Works on a --data
  folder in the original format, which has only sums. The digits are learned, never given.
- slot_cnn_digit_sup: trained with the composer's digit labels (cross-entropy per crop), for when they exist.

Each crop's classifier is local (it sees only its own digit), so what it learns is a digit reader that
carries over to new data; its per-digit accuracy is reported.
"""
from dataclasses import replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bench import Approach, register
from bench.blocks.augment import random_affine, soften
from bench.blocks.layouts import boxes_apart, pushed_together
from bench.blocks.segmentation import boxes_of_pieces, crop, cut_at_boxes, mask_crops, slot_crops
from bench.blocks.sums import sum_distribution
from bench.train import TorchApproach, TrainConfig, as_float, autocast, predict_outputs, train_model

CLASSES = 11          # the ten digits, and "no one digit": a crop cut at a wrong column, or two digits
WINDOWS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0))   # the crop's middle 24x24, one pixel right, left, down, up
SURE = 0.99           # a crop whose likeliest class has less probability in the middle window is read in all windows


class DigitCNN(nn.Module):
    """28x28 crop -> 11 logits (CLASSES). The crop's outer 2 pixels are dropped (the digit's 20x20 box sits in the
    middle 24x24; only augmentation moves ink further out, rarely), which saves time. Three stages of a 3x3
    convolution, 2x2 max-pooling, BatchNorm and ReLU (pooling before BatchNorm and ReLU leaves them a
    quarter of the values), each followed by one more 3x3 convolution at the pooled size, where it is cheap.
    Why these widths: docs/approaches.md. In eval mode with `windows` > 1 it gives
    log-probabilities: a crop read unsurely in the middle window is read in the first `windows` of WINDOWS too,
    and their probabilities averaged (test-time augmentation where it can change the reading, at little cost).
    It reads every crop through bench.blocks.augment.soften, so that digits drawn crisper than the composer's
    read as well."""

    def __init__(self, widths=(32, 64, 128), extra_convs=(1, 1, 1), hidden=128, dropout=0.2):
        super().__init__()
        stages, channels = [], 1
        for width, extra in zip(widths, extra_convs):
            stages += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            for _ in range(extra):
                stages += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                           nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*stages)
        self.classify = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * 3 * 3, hidden),
                                      nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, CLASSES))

    def forward(self, x, windows=1):
        if not self.training:
            x = soften(x)      # every crop read through the filter; in training, half of them (augment)
        logits = self.classify(self.features(window(x, *WINDOWS[0])))
        if self.training or windows == 1:
            return logits
        probs = F.softmax(logits.float(), -1)
        unsure = probs.amax(-1) < SURE
        if unsure.any():
            again = x[unsure]
            views = torch.cat([window(again, dy, dx) for dy, dx in WINDOWS[1:windows]])
            more = F.softmax(self.classify(self.features(views.contiguous(memory_format=torch.channels_last))).float(),
                             -1)
            probs[unsure] = (probs[unsure] + more.reshape(windows - 1, len(again), -1).sum(0)) / windows
        return probs.log()


def window(crops, dy, dx):
    """The crops' middle 24x24 moved `dy` pixels down and `dx` right (one of WINDOWS)."""
    return crops[..., 2 + dy:26 + dy, 2 + dx:26 + dx]


class SlotModel(nn.Module):
    """(B, slots, 28, 28) crops -> (B, slots, CLASSES) logits; an all-dark crop is an empty slot. Each crop is
    read through `windows` of WINDOWS in eval mode."""

    def __init__(self, windows=1, **kwargs):
        super().__init__()
        self.windows = windows
        self.digit = DigitCNN(**kwargs).to(memory_format=torch.channels_last)   # faster convolutions on a CPU

    def forward(self, crops):
        b, k = crops.shape[:2]
        flat = crops.reshape(b * k, 1, 28, 28)
        filled = flat.amax((1, 2, 3)) > 0              # only crops that hold a digit go through the CNN
        logits = flat.new_zeros(b * k, CLASSES)
        if filled.any():
            logits[filled] = self.digit(flat[filled].contiguous(memory_format=torch.channels_last),
                                         self.windows).to(logits.dtype)
        return logits.reshape(b, k, CLASSES)


class DigitSlots(TorchApproach, Approach):
    name = "slot_cnn_sum_only"
    summary = "segment into digit crops, CNN per crop, exact sum distribution; learned from sums only"
    channels_last = False        # crops are (B, slots, 28, 28); the digit CNN sets channels_last itself
    epochs = 24

    def __init__(self, supervision="sum", widths=(32, 64, 128), extra_convs=(1, 1, 1), augmentation="affine", lr=3e-3,
                 batch_size=64, max_epochs=60, ema=0.999, pushed_share=0.5, windows=len(WINDOWS)):
        assert supervision in ("sum", "digits")
        self.supervision = supervision
        self.augmentation = augmentation
        self.widths = tuple(widths)
        self.extra_convs = tuple(extra_convs)
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.ema = ema
        self.pushed_share = pushed_share
        self.windows = windows

    def build_model(self):
        return MaskedSlots(SlotModel(self.windows, widths=self.widths, extra_convs=self.extra_convs))

    def preprocess(self, images):
        """Images -> (N, slots, 28, 28) uint8 crops, empty slots all dark; digits that touch are cut apart
        where the trained reader reads both halves surest."""
        return torch.from_numpy(slot_crops(images, self.digit_range, self.surety if self.model is not None else None))

    @torch.inference_mode()
    def surety(self, crops):
        """(M, 28, 28) uint8 crops -> how surely each is one digit: the log-probability of its likeliest
        digit, against the other digits and "no one digit"."""
        self.model.eval()
        x = as_float(torch.from_numpy(crops)[:, None], self.device, channels_last=True)
        with autocast(self.device, True):
            logits = self.model.slots.digit(x)
        return F.log_softmax(logits.float(), -1)[:, :10].amax(-1).cpu().numpy()

    def digit_targets(self, train, counts, slots):
        """Per-slot digit labels where segmentation found as many digits as the image holds, else ignored."""
        targets = np.full((len(counts), slots), -1, np.int64)
        for i, (digits, n) in enumerate(zip(train.digit_lists(), counts)):
            if len(digits) == n:
                targets[i, :n] = digits
        return torch.from_numpy(targets)

    def outputs_to_sums(self, outputs):
        return self.distribution(outputs).argmax(1).float()

    def distribution(self, outputs):
        """Model outputs (B, slots, 12: ten digit logits, "no one digit" and the filled flag) -> sum
        probabilities, the digits' own distribution (as if every crop held one digit)."""
        return sum_distribution(outputs[..., :10], outputs[..., -1] > 0.5)

    def fit(self, train, val, budget):
        budget.progress("segmenting digits", 0, 1)
        given_boxes, image_count = train.boxes is not None, len(train)
        if not given_boxes:
            train, val = self.plainly_cut(train), self.plainly_cut(val)
        train_x = torch.from_numpy(slot_crops(train.images, self.digit_range))
        val_x = torch.from_numpy(slot_crops(val.images, self.digit_range) if val.boxes is None
                                 else self.crops_at_boxes(val.images, val.boxes, train_x.shape[1]))
        train_x = torch.cat([train_x, torch.zeros_like(train_x[:, :1])], 1)       # the last slot: a wrong cut
        if train.boxes is not None:             # none only where no image of a split without boxes is plainly cut
            self.add_cuts(train.images, train.boxes, train_x)
        train_counts = (train_x[:, :-1].amax((2, 3)) > 0).sum(1).numpy()
        budget.progress("segmenting digits", 1, 1)
        if self.supervision == "digits":
            if train.digits is None:
                raise ValueError("slot_cnn_digit_sup needs digit labels (composed data); "
                                 "on a folder of sums only, use slot_cnn_sum_only")
            targets = self.digit_targets(train, train_counts, train_x.shape[1])
        else:
            targets = torch.as_tensor(train.sums)
        self.model = self.build_model()
        self.history = train_model(
            self.model, train_x, targets, val_x, val.sums, loss_fn=self.masked_loss,
            to_sums=self.outputs_to_sums, budget=budget, device=self.device, seed=self.seed, label=self.name,
            config=TrainConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs, patience=8,
                               channels_last=False, augment=self.augment, ema=self.ema))
        self.notes["segmentation_count_mismatch_train"] = round(float(np.mean(
            train_counts != np.array([len(d) for d in train.digit_lists()]))), 4) if train.digits is not None else None
        self.notes["trained_on"] = "sum labels only" if self.supervision == "sum" else "digit labels"
        unboxed = (f"; no boxes given: {len(train) / image_count:.0%} of the images, those whose pieces of ink are "
                   "plainly their digits")
        self.notes["training_layouts"] = (f"the data's, and {self.pushed_share:.0%} of the images whose digits stand "
                                          "apart pushed together; touching digits cut at their boxes"
                                          + ("" if given_boxes else unboxed))

    def plainly_cut(self, split):
        """A split without boxes -> its images whose pieces of ink are plainly their digits, with those pieces'
        boxes (all of it where none are). The others' crops would be cut at the least ink, often wrongly, with
        only their sums to judge them: training on them reads worse (docs/approaches.md)."""
        boxes = boxes_of_pieces(split.images, self.digit_range)
        plain = (boxes[..., 2] > 0).any(1)
        return replace(split.subset(plain), boxes=boxes[plain]) if plain.any() else split

    @staticmethod
    def crops_at_boxes(images, boxes, slots):
        """(N, slots, 28, 28) uint8 crops cut at the digits' boxes: what the trained reader's own cuts aim at.
        The val split is read so during training, which then measures the reader, not the untrained reader's
        cuts (least ink, which part few of the hard layout's overlapping digits)."""
        out = np.zeros((len(images), slots, 28, 28), np.uint8)
        for i, (image, image_boxes) in enumerate(zip(images, boxes)):
            masks = cut_at_boxes(image, image_boxes)
            out[i, :len(masks)] = mask_crops(image, np.stack(masks))
        return out

    def add_cuts(self, images, boxes, train_x):
        """Training crops that teach the reader to cut touching digits, from the images whose digits' boxes
        are known: a share of those whose digits stand apart are laid out again pushed together
        (bench.blocks.layouts), and these and the images whose digits already share columns are cut at
        the right columns by their boxes, as the trained reader should cut them; each such image's last
        slot holds one wrong cut of it (two digits whole, or a cut far off), to be read as no one digit."""
        rng = np.random.default_rng(self.seed)
        known = (boxes[..., 2] > 0).any(1)
        apart = boxes_apart(boxes) & known
        pushed = np.flatnonzero(apart & (rng.random(len(images)) < self.pushed_share))
        images, boxes = np.array(images), boxes.copy()
        images[pushed], boxes[pushed] = pushed_together(images[pushed], boxes[pushed], self.seed)
        for i in np.sort(np.concatenate([pushed, np.flatnonzero(known & ~apart)])):
            right, wrong = cut_at_boxes(images[i], boxes[i], rng)
            train_x[i] = 0
            train_x[i, :len(right)] = torch.from_numpy(mask_crops(images[i], np.stack(right)))
            if wrong:
                train_x[i, -1] = torch.from_numpy(crop(images[i], wrong[int(rng.integers(len(wrong)))]))

    def masked_loss(self, outputs, targets):
        """The digits' loss over the crops of the image (digit labels: cross-entropy of each; sums: -log
        P(sum)), and for every crop whether it holds one digit (the last slot's crop does not)."""
        filled, logits = outputs[..., -1] > 0.5, outputs[..., :CLASSES]
        digits = logits[:, :-1, :10]
        if self.supervision == "digits":
            digit_loss = F.cross_entropy(digits.reshape(-1, 10), targets[:, :-1].reshape(-1), ignore_index=-1)
        else:
            dist = sum_distribution(digits, filled[:, :-1])
            digit_loss = -torch.log(dist.gather(1, targets[:, None].clamp_max(dist.shape[1] - 1))
                                    .clamp_min(1e-12)).mean()
        no_digit = torch.zeros_like(filled, dtype=torch.float32)
        no_digit[:, -1] = 1
        one_digit_loss = F.binary_cross_entropy_with_logits(
            logits[..., 10] - torch.logsumexp(logits[..., :10], -1), no_digit, reduction="none")
        return digit_loss + (one_digit_loss * filled).sum() / filled.sum().clamp_min(1)

    def augment(self, x):
        """Each crop turned, scaled and shifted a little (augmentation "affine"), then half of them softened, as
        prediction softens all: the reader learns the composer's resampled strokes and softer ones, and reads
        digits drawn crisper than the composer's (MNIST's own pixels), softened, as well."""
        if self.augmentation == "affine":
            x = random_affine(x)
        b, k, h, w = x.shape
        half = torch.rand(b, k, 1, 1, device=x.device) < 0.5
        return torch.where(half, soften(x.reshape(b * k, 1, h, w)).reshape(b, k, h, w), x)

    def _outputs(self, images):
        return predict_outputs(self.model, self.preprocess(images), self.device, batch_size=256,
                               channels_last=False, bf16=True)

    def predict_batch(self, images):
        return self.outputs_to_sums(self._outputs(images)).double().numpy()

    def confidence_batch(self, images):
        return self.distribution(self._outputs(images)).amax(1).double().numpy()

    def predict_digits_batch(self, images):
        outputs = self._outputs(images)
        filled, digits = outputs[..., -1] > 0.5, outputs[..., :10].argmax(-1)
        return [[int(d) for d, f in zip(row, mask) if f] for row, mask in zip(digits, filled)]


class MaskedSlots(nn.Module):
    """Wraps SlotModel so its output carries, as a last channel, which slots hold a crop."""

    def __init__(self, slots: SlotModel):
        super().__init__()
        self.slots = slots

    def forward(self, crops):
        filled = (crops.amax((2, 3)) > 0).to(torch.float32)
        return torch.cat([self.slots(crops).float(), filled[..., None]], dim=-1)


register(DigitSlots)
register(DigitSlots, name="slot_cnn_digit_sup", supervision="digits",
         summary="segment into digit crops, CNN per crop, exact sum distribution; trained with digit labels")
