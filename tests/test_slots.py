"""The structured recognizer: its exact sum distribution, a varying digit count, and sums-only data."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from bench.approach import Budget
from bench.blocks.layouts import boxes_apart, pushed_together
from bench.blocks.segmentation import (
    INK,
    WIDE,
    _columns,
    _ink_pieces,
    _recut,
    _remembering,
    boxes_of_pieces,
    column_runs,
    crop,
    crops_of,
    cut_at_boxes,
    ink_runs,
    segment,
    slot_crops,
)
from bench.blocks.sums import sum_distribution
from bench.data import composed_dataset, load_folder, load_mnist
from bench.discovery import discover
from bench.train import predict_outputs
from tests.conftest import ROOT, run_cli


def test_sum_distribution_is_the_exact_convolution():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 10)
    filled = torch.tensor([[True] * 4, [True, True, False, False], [True, False, False, False]])
    dist = sum_distribution(logits, filled)
    probs = torch.softmax(logits, -1).numpy()
    for b in range(3):
        expected = np.zeros(37)
        expected[0] = 1.0
        for slot in range(4):
            if filled[b, slot]:
                expected = np.convolve(expected, probs[b, slot])[:37]
        assert np.allclose(dist[b].numpy(), expected, atol=1e-6)
    assert torch.allclose(dist.sum(1), torch.ones(3))


def crop_one(image: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """The digit in columns span as a 28x28 uint8 MNIST-style crop: the code of the column cut that
    crop() generalised, kept here as what it must still give for a span of columns."""
    a, b = span
    part = np.asarray(image[:, a:b], dtype=np.float32)
    rows = np.flatnonzero((part >= INK).any(1))
    if len(rows) == 0:
        return np.zeros((28, 28), np.uint8)
    part = part[rows[0]:rows[-1] + 1]
    h, w = part.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((28, 28), np.float32)
    y0, x0 = (28 - nh) // 2, (28 - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("digits", [(4, 4), (1, 5), (2, 3)])
def test_batch_segmentation_gives_the_crops_of_one_image_at_a_time(digits):
    """crops_of cuts a whole batch at once; its crops must be segment() and crop()'s, image by image,
    including images it hands to segment() (too many or too few runs of ink) and blank or noisy ones;
    and where segment() keeps whole columns, crop() must give the column cut's crop."""
    images = composed_dataset(400, 10, 10, digits=digits, seed=11).train.images.astype(np.float32)
    rng = np.random.default_rng(0)
    images[:20] = 0                                                             # blank
    images[20:40] = rng.random((20, 40, 168)) * 255                            # noise: one wide run
    images[40:60, :, ::9] = 255                                                 # many thin runs
    crops, counts = crops_of(images, digits)
    masks = [segment(image, digits) for image in images]
    expected = [crop(image, mask) for image, found in zip(images, masks) for mask in found]
    assert counts.tolist() == [len(found) for found in masks]
    assert crops.shape == (len(expected), 28, 28) and np.array_equal(crops, np.stack(expected))
    columns = 0
    for image, found in zip(images, masks):
        for mask in found:
            inked = np.flatnonzero(mask.any(0))
            if mask[:, inked].all():                                           # a span of whole columns
                columns += 1
                assert np.array_equal(crop(image, mask), crop_one(image, (inked[0], inked[-1] + 1)))
    assert columns >= 0.8 * counts.sum()                                       # most images need no more


def test_a_speck_above_a_digit_leaves_its_crop_alone():
    """A speck in a digit's columns but apart from its ink (the hard layout's noise) must not stretch the
    digit's crop: the image's crops are those of the image without the speck (but for faint pixels beside
    the ink: cut by pieces of ink, not by columns), in the batch and one by one."""
    images = composed_dataset(20, 10, 10, seed=11).train.images
    for image in images:
        first = column_runs(image >= INK)[0]
        if np.flatnonzero((image[:, first[0]:first[1]] >= INK).any(1))[0] >= 4:   # room above the first digit
            break
    specked = image.copy()
    specked[0:2, first[0]:first[0] + 2] = 255                                 # a 2x2 speck at the top
    clean = crops_of(image[None])[0].astype(int)
    assert (np.abs(crops_of(specked[None])[0] - clean).mean((1, 2)) < 1).all()
    one_by_one = np.stack([crop(specked, mask) for mask in segment(specked)])
    assert (np.abs(one_by_one - clean).mean((1, 2)) < 1).all()


def test_digits_that_share_columns_are_cut_by_their_ink():
    """Neighbours whose columns overlap but whose ink does not touch (one high, one low) are cut apart
    by their ink: each crop holds one digit's ink, none of its neighbour's."""
    digit_images, _ = load_mnist()["test"]
    image, placed, x = np.zeros((40, 168), np.uint8), [], 10
    for k, digit in enumerate(digit_images[[3, 2, 1, 18]]):               # a 0, a 1, a 2 and a 3
        rows, cols = np.nonzero(digit)
        ink = cv2.resize(digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1], None, fx=0.8, fy=0.8)
        h, w = ink.shape                                                      # 16 rows high: 8 rows between
        y = 0 if k % 2 == 0 else 40 - h
        own = np.zeros_like(image)
        own[y:y + h, x:x + w] = ink
        placed.append(own >= INK)
        image = np.maximum(image, own)
        x += w - 3                                                            # 3 columns shared with the next
    masks = segment(image, (4, 4))
    assert len(masks) == 4
    for mask, own in zip(masks, placed):
        assert np.array_equal(mask & (image >= INK), own)
    assert len(crops_of(image[None], (4, 4))[0]) == 4


def test_digits_pushed_together_are_cut_at_their_boxes():
    """The composer's digits pushed together keep their order; cut at their boxes, every ink pixel goes to
    one digit, within its own box's columns; about half the images hold touching digits, and each gives
    wrong cuts, none of them a digit's right crop."""
    train = composed_dataset(300, 10, 10, digits=(4, 4), seed=3).train
    assert boxes_apart(train.boxes).all()
    images, boxes = pushed_together(train.images, train.boxes, seed=0)
    assert not boxes_apart(boxes).all()
    rng, touching = np.random.default_rng(0), []
    for image, image_boxes in zip(images, boxes):
        right, wrong = cut_at_boxes(image, image_boxes, rng)
        ink = image >= INK
        assert len(right) == 4 and sum((m & ink).astype(int) for m in right).max() == 1
        for mask, (x, _, w, _) in zip(right, image_boxes):
            columns = np.flatnonzero((mask & ink).any(0))
            assert x - 1 <= columns[0] and columns[-1] <= x + w
        right_crops = [crop(image, m) for m in right]
        assert not any(np.array_equal(crop(image, m), r) for m in wrong for r in right_crops)
        touching.append(bool(wrong))
    assert 0.3 < np.mean(touching) < 0.8
    found = boxes_of_pieces(train.images)                   # data without boxes: those of its pieces of ink
    known = (found[..., 2] > 0).any(1)
    assert known.mean() > 0.9 and np.abs(found[known] - train.boxes[known]).max((1, 2)).mean() < 3
    assert (boxes_of_pieces(images)[..., 2] > 0).any(1)[touching].mean() < 0.05       # touching: not plainly


def test_a_run_of_touching_digits_is_cut_again_as_a_whole():
    """Four touching digits cut one at a time into one wide piece and three slivers are cut again together
    where the reader reads all four surest, however far that is from the first cuts; pieces apart stay."""
    ink = np.zeros((40, 168), bool)
    ink[10:30, 40:92] = True                          # one piece of ink: digits 8, 14, 20 and 10 columns wide
    digits = [(40, 48), (48, 62), (62, 82), (82, 92)]
    columns = np.arange(168)

    def read_pieces(pieces):                          # sure of a piece as wide as a digit, less the further off
        spans = [_columns(p) for p in pieces]
        return np.array([-min(abs(a - s) + abs(b - e) for s, e in digits) for a, b in spans], np.float64)

    slivers = [ink & (columns < 83), ink & (columns >= 83) & (columns < 86), ink & (columns >= 86) & (columns < 89),
               ink & (columns >= 89)]
    assert [_columns(p) for p in _recut(slivers, read_pieces)] == digits
    apart = [ink & (columns >= s) & (columns < e) & (columns != s) for s, e in digits]    # a gap: no run to cut
    assert all((a == b).all() for a, b in zip(_recut(apart, read_pieces), apart))


def test_a_reader_chooses_where_touching_digits_are_cut(tmp_path):
    """On another generator's images, where a third of the neighbours touch or overlap, the slot reader
    cutting touching digits where it reads both halves surest reads more sums right than the cut at the
    column of least ink; where a broken digit and two touching ones give as many pieces of ink as digits,
    it mends the pieces and reads the digits right far more often than the pieces themselves; and where
    touching digits' cuts lie 5 columns off, re-cutting each two neighbours moves them most of the way back,
    never to cuts it reads less surely."""
    dataset = composed_dataset(3000, 300, 300, digits=(4, 4), seed=3)
    registry, _ = discover()
    approach = registry["slot_cnn_digit_sup"].create(digit_range=dataset.digits)
    approach.fit(dataset.train, dataset.val, Budget(epochs=6))
    made = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "test_folder.py"), "other", str(tmp_path),
                           "--n", "400"], capture_output=True, text=True, cwd=ROOT)
    assert made.returncode == 0, made.stderr
    other = load_folder(tmp_path)
    read_cut = np.mean(approach.predict_batch(other.images) == other.sums)
    least_ink = predict_outputs(approach.model, torch.from_numpy(slot_crops(other.images, (4, 4))),
                                channels_last=False)
    least_ink_cut = np.mean(approach.outputs_to_sums(least_ink).numpy() == other.sums)
    assert read_cut > least_ink_cut + 0.03, (read_cut, least_ink_cut)
    for across in ("rows", "columns"):          # as many pieces of ink, or runs of columns, as digits: wrong ones
        images, digits = broken_beside_touching(100, across)
        mended = np.mean([read == truth for read, truth in zip(approach.predict_digits_batch(images), digits)])
        unread = predict_outputs(approach.model, torch.from_numpy(slot_crops(images, (4, 4))), channels_last=False)
        kept = np.mean([list(row) == truth for row, truth in zip(unread[:, :4, :10].argmax(-1).tolist(), digits)])
        assert mended > kept + 0.3, (across, mended, kept)
    images, boxes = pushed_together(dataset.test.images, dataset.test.boxes, seed=0)
    off, moved_back, shifted_sure, recut_sure = [], [], [], []
    for image, image_boxes in zip(images, boxes):       # touching digits' cuts moved 5 columns right, then _recut
        pieces = [mask & (image >= INK) for mask in cut_at_boxes(image, image_boxes)]
        columns, true_cuts = np.arange(image.shape[1]), []
        for j in range(len(pieces) - 1):
            start = _columns(pieces[j + 1])[0]
            if _columns(pieces[j])[1] == start and _columns(pieces[j + 1])[1] > start + 8:   # cut along a column
                joined = pieces[j] | pieces[j + 1]
                pieces[j], pieces[j + 1] = joined & (columns < start + 5), joined & (columns >= start + 5)
                true_cuts.append((j, start))
        read_pieces = _remembering(approach.surety, image)
        recut = _recut(list(pieces), read_pieces)
        shifted_sure.append(read_pieces(np.stack(pieces)).sum())
        recut_sure.append(read_pieces(np.stack(recut)).sum())
        for j, start in true_cuts:
            off.append(abs(_columns(pieces[j + 1])[0] - start))
            moved_back.append(abs(_columns(recut[j + 1])[0] - start))
    assert len(off) > 100 and np.mean(off) == 5 and np.mean(moved_back) < 2.5, np.mean(moved_back)
    assert (np.array(recut_sure) >= np.array(shifted_sure)).all()


def broken_beside_touching(n, across="rows", seed=0):
    """n images of four MNIST test digits whose pieces of ink (across="rows") or runs of inked columns
    ("columns": digits 1.4x as large, the first two sharing a run wider than WIDE) are four, but not the
    digits: the first two digits overlap, and two blank rows or columns across its middle break the third
    in two. Their digits, as lists."""
    digit_images, labels = load_mnist()["test"]
    rng = np.random.default_rng(seed)
    images, digits = [], []
    while len(images) < n:
        picked = rng.choice(len(labels), 4, replace=False)
        image, x = np.zeros((40, 168), np.uint8), 8
        for k, i in enumerate(picked):
            rows, cols = np.nonzero(digit_images[i])
            ink = digit_images[i][rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            ink = cv2.resize(ink, None, fx=1.4, fy=1.4) if across == "columns" else ink.copy()
            if k == 2 and across == "rows":
                ink[len(ink) // 2 - 1:len(ink) // 2 + 1] = 0
            elif k == 2:
                ink[:, ink.shape[1] // 2 - 1:ink.shape[1] // 2 + 1] = 0
            h, w = ink.shape
            image[4:4 + h, x:x + w] = np.maximum(image[4:4 + h, x:x + w], ink)
            x += w - w // 3 if k == 0 else w + 8                  # the second digit overlaps the first's last third
        runs = ink_runs(image >= INK)
        if (len(_ink_pieces(image >= INK)) == 4 if across == "rows"
                else len(runs) == 4 and max(b - a for a, b in runs) > WIDE):
            images.append(image)
            digits.append(labels[picked].tolist())
    return np.array(images), digits


@pytest.mark.parametrize("name", ["slot_cnn_sum_only", "slot_cnn_digit_sup"])
def test_varying_digit_count_learns(name):
    """--digits 1-5: images hold 1 to 5 digits; a short training already reads most of them."""
    dataset = composed_dataset(3000, 300, 300, digits=(1, 5), seed=3)
    registry, _ = discover()
    approach = registry[name].create(digit_range=dataset.digits)
    approach.fit(dataset.train, dataset.val, Budget(epochs=6))
    sums = np.asarray(approach.predict_batch(dataset.test.images))
    read = approach.predict_digits_batch(dataset.test.images)
    truth = dataset.test.digit_lists()
    assert np.mean([len(r) == len(t) for r, t in zip(read, truth)]) > 0.97          # the count is found
    assert np.mean(np.rint(sums) == dataset.test.sums) > 0.3                         # chance is about 0.1
    confidence = approach.confidence_batch(dataset.test.images)
    assert np.all((confidence > 0) & (confidence <= 1))


def test_sums_only_folder(tmp_path):
    """A folder in the original format (sums, no digits): the sums-only row trains, the digit-supervised
    row fails with a reason that names the fix."""
    dataset = composed_dataset(1500, 10, 10, digits=(4, 4), seed=5)
    folder = tmp_path / "assignment"
    folder.mkdir()
    for k, part in enumerate(np.array_split(np.arange(1500), 2)):
        np.save(folder / f"data{k}.npy", dataset.train.images[part].astype(np.float64))
        np.save(folder / f"lab{k}.npy", dataset.train.sums[part])
    out = tmp_path / "results"
    run = run_cli("--data", str(folder), "--budget", "15", "--approaches", "slot_cnn_sum_only,slot_cnn_digit_sup",
                  "--latency-calls", "10", "--out", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {r["name"]: r for r in json.loads((out / "latest" / "results.json").read_text())["rows"]}
    assert rows["slot_cnn_sum_only"]["status"] == "ok" and rows["slot_cnn_sum_only"]["n"] == 150
    assert rows["slot_cnn_sum_only"]["ece"] is not None
    assert rows["slot_cnn_digit_sup"]["status"] == "failed"
    assert "slot_cnn_sum_only" in rows["slot_cnn_digit_sup"]["reason"]


def test_unsure_crops_are_read_again_in_shifted_windows():
    """In eval mode the slot CNN gives a sure crop its middle window's probabilities and an unsure crop the
    mean of all its windows' (each window the softened crop's middle 24x24 shifted by a pixel)."""
    from approaches.digit_slots import SURE, WINDOWS, DigitCNN
    from bench.blocks.augment import soften
    torch.manual_seed(0)
    net = DigitCNN()
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)
    train, labels = (torch.from_numpy(a[:3000]) for a in load_mnist()["train"])
    for start in range(0, 3000, 50):                     # a little training: some test digits read surely
        loss = torch.nn.functional.cross_entropy(net(train[start:start + 50, None] / 255.0), labels[start:start + 50])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    x = torch.from_numpy(load_mnist()["test"][0][:300, None]) / 255.0
    with torch.no_grad():
        soft = soften(x)
        windows = torch.stack([torch.softmax(net.classify(net.features(soft[..., 2 + dy:26 + dy, 2 + dx:26 + dx])), -1)
                               for dy, dx in WINDOWS])
        read = net(x, len(WINDOWS)).exp()
    unsure = windows[0].amax(-1) < SURE
    assert 10 < unsure.sum() < 290
    torch.testing.assert_close(read[~unsure], windows[0][~unsure])
    torch.testing.assert_close(read[unsure], windows.mean(0)[unsure])
    assert not torch.allclose(read[unsure], windows[0][unsure], atol=1e-3)
