"""The CTC reader: its sum distribution exact over every alignment (CTC's rules for repeats), and the
layouts it trains on."""
import itertools

import numpy as np
import torch
from torch.nn import functional as F

from bench.blocks.sums import ctc_sum_log_distribution


def spelt(path):
    """The digits a CTC path spells: repeats collapsed, blanks (0) dropped, symbol 1 + d is the digit d."""
    return [s - 1 for s, _ in itertools.groupby(path) if s != 0]


def test_ctc_sum_distribution_sums_every_alignment():
    torch.manual_seed(0)
    log_probs = F.log_softmax(torch.randn(2, 5, 11) * 2, -1)
    for digit_range in [(1, 2), (2, 2), (0, 3)]:
        lo, hi = digit_range
        expected = torch.zeros(2, 9 * hi + 1, dtype=torch.float64)
        for path in itertools.product(range(11), repeat=5):
            digits = spelt(path)
            if lo <= len(digits) <= hi:
                expected[:, sum(digits)] += log_probs.double()[:, range(5), list(path)].sum(1).exp()
        got = ctc_sum_log_distribution(log_probs, digit_range).exp().double()
        assert torch.allclose(got, expected, atol=1e-6), digit_range


def test_repeats_collapse_unless_a_blank_separates_them():
    def certain(path):             # one symbol per frame, with probability ~1
        return F.log_softmax(F.one_hot(torch.tensor([path]), 11).float() * 30, -1)

    assert ctc_sum_log_distribution(certain([4, 4, 0, 4, 6, 6]), (3, 3)).exp()[0, 3 + 3 + 5] > 0.99
    assert ctc_sum_log_distribution(certain([4, 4, 4, 6, 6, 0]), (2, 2)).exp()[0, 3 + 5] > 0.99
    assert ctc_sum_log_distribution(certain([4, 4, 4, 6, 6, 0]), (3, 4)).exp().sum() < 1e-6   # spells two


def test_long_inputs_do_not_underflow_and_gradients_flow():
    logits = torch.randn(4, 60, 11, requires_grad=True)
    log_p = ctc_sum_log_distribution(F.log_softmax(logits, -1), (4, 4))
    assert torch.isfinite(log_p).all() and (log_p.exp().sum(1) <= 1 + 1e-4).all()   # four digits: a part of all
    (-log_p[:, 20].mean()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_pushed_together_moves_whole_digits_and_frame_targets_mark_them():
    from approaches.digit_sequence import FRAME, box_spans, frame_targets, ink_spans, pushed_together
    from bench.data import composed_dataset

    split = composed_dataset(200, 10, 10, seed=5).train
    spans = box_spans(split.boxes)
    assert sum(found is not None and len(found) == 4 for found in ink_spans(split.images, (4, 4))) > 190
    before = split.images.copy()
    images, moved = pushed_together(split.images, spans, np.random.default_rng(0), share=1.0)
    assert (split.images == before).all()                                       # the originals stay as they were
    changed = [i for i in range(len(images)) if moved[i] != spans[i]]
    assert len(changed) > 150
    gaps = [b[0] - a[1] for i in changed for a, b in zip(moved[i], moved[i][1:])]
    assert min(gaps) < 0 < max(gaps)                                            # some overlap now, some apart
    for i in changed[:20]:
        assert [b - a for a, b in moved[i]] == [b - a for a, b in spans[i]]      # each digit whole, in order
        assert images[i].sum() <= split.images[i].sum()                         # overlapping ink merges (max)
    targets = frame_targets(images, moved)
    for i in changed[:20]:
        assert [int(targets[i, (a + b) // (2 * FRAME)]) for a, b in moved[i]] == [1] * len(moved[i])
        assert (targets[i] == 0).sum() > 0


def test_soften_keeps_each_digits_ink_and_place():
    from bench.blocks.augment import soften
    from bench.data import load_mnist

    digits = torch.from_numpy(load_mnist()["test"][0][:100].astype(np.float32) / 255)[:, None]
    soft = soften(digits)
    assert torch.allclose(soft.sum((2, 3)), digits.sum((2, 3)), rtol=0.02)   # ink kept (a little lost at a border)
    rows = torch.arange(28.0)[:, None]
    centre = lambda x: (x[:, 0] * rows).sum((1, 2)) / x[:, 0].sum((1, 2))            # noqa: E731
    assert torch.allclose(centre(soft), centre(digits), atol=0.05)                     # not shifted
    assert (soft.amax((2, 3)) < digits.amax((2, 3))).float().mean() > 0.9             # peaks spread out
