"""Digit segmentation: an image of digits written left to right -> one 28x28 crop per digit, MNIST style
(the digit's ink scaled into a 20x20 box and centred in 28x28).

Most images need only their column profile: where the runs of inked columns are as many as the image may
hold digits, each run is a digit and its crop holds the run's columns. Elsewhere (neighbours that share
columns, digits that touch, a digit broken in pieces, specks) each connected piece of ink is a candidate
digit and its crop holds that ink alone, not a neighbour's that reaches into its columns; pieces are
merged where a digit broke apart and split where digits touch, until the count is within the dataset's
digit range (or equal to it when the range is one number). Where to split is the caller's choice: the
piece and column where a digit reader reads the two halves surest against the whole (segment's `read`),
else the widest piece at its column of least ink. With a reader, the pieces are then mended where it reads
one of them unsurely (a digit broken in two beside two that touch gives as many pieces as digits, wrong
ones), and each run of touching neighbours is cut again where it reads all their pieces surest. `cut_at_boxes`
gives the cuts a reader should learn from, where each digit's box is known.
"""
from __future__ import annotations

import cv2
import numpy as np

INK = 64               # a pixel at or above this (0..255) is ink
MIN_RUN_INK = 12       # runs or pieces with fewer ink pixels are specks, dropped
WIDE = 34              # a run wider than this probably holds touching digits
UNSURE = np.log(0.9)   # a piece read as one digit with less probability is open to mending (log-probability)
RECUT_UNSURE = np.log(0.99)   # touching neighbours all read at least this surely keep their cuts
MIN_CUT_WIDTH = 3      # re-cutting touching neighbours leaves no piece narrower than this (a thin 1 is 3 columns)
CHUNK = 1024           # crops_of works on this many images at a time (its arrays stay in the cache)


def column_runs(ink: np.ndarray) -> list[list[int]]:
    """[start, end) of each run of columns holding ink."""
    cols = ink.any(0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.view(np.int8), [0]])))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]


def ink_runs(ink: np.ndarray) -> list[list[int]]:
    """[start, end) of each run of inked columns that holds at least MIN_RUN_INK ink pixels (fewer: a speck)."""
    return [r for r in column_runs(ink) if ink[:, r[0]:r[1]].sum() >= MIN_RUN_INK]


def settled(runs: list[list[int]], digit_range: tuple[int, int], read: bool = False,
            ink: np.ndarray | None = None) -> bool:
    """Whether the runs of inked columns are the digits: as many as the image may hold, and none wide
    enough to hold two unless the image already holds its most and there is no reader (`read`) to look
    closer (two digits sharing a run beside one broken in two also make the most); given the image's `ink`,
    also none that holds a speck above or below its digit (which would stretch the digit's crop)."""
    lo, hi = digit_range
    return (lo <= len(runs) <= hi and ((len(runs) == hi and not read) or max(b - a for a, b in runs) <= WIDE)
            and (ink is None or not _specks_apart(np.stack([ink[:, a:b].sum(1) for a, b in runs])).any()))


def _specks_apart(row_ink: np.ndarray) -> np.ndarray:
    """(M, H) ink pixels in each row of M runs of columns -> whether each run's inked rows break into runs
    of which one holds fewer than MIN_RUN_INK pixels: a speck apart from the digit."""
    inked = row_ink > 0
    run_of_row = np.cumsum(np.diff(inked.view(np.int8), axis=1, prepend=0) == 1, axis=1) * inked
    out = run_of_row.max(1, initial=0) > 1
    if out.any():                       # few runs of columns have rows apart: only those are summed up by run
        run_of_row, row_ink = run_of_row[out], row_ink[out]
        ink_of_run = np.zeros((len(row_ink), row_ink.shape[1] + 1), np.int64)
        np.add.at(ink_of_run, (np.arange(len(row_ink))[:, None], run_of_row), row_ink)
        out[out] = ((ink_of_run[:, 1:] > 0) & (ink_of_run[:, 1:] < MIN_RUN_INK)).any(1)
    return out


def _columns(mask: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(mask.any(0))
    return int(cols[0]), int(cols[-1]) + 1


def _in_order(pieces: list[np.ndarray]) -> list[np.ndarray]:
    """The pieces left to right, by their first column."""
    return sorted(pieces, key=lambda p: _columns(p)[0])


def _width(mask: np.ndarray) -> int:
    a, b = _columns(mask)
    return b - a


def _ink_pieces(ink: np.ndarray) -> list[np.ndarray]:
    """Each 8-connected piece of ink with at least MIN_RUN_INK pixels, as a mask of its ink."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    return [labels == k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= MIN_RUN_INK]


def _merge_most_shared(pieces: list[np.ndarray]) -> None:
    """Merges the two pieces most likely to be one digit: those sharing the largest part of the narrower
    one's columns, or where none share columns, the two with the narrowest gap between them."""
    spans = [_columns(p) for p in pieces]
    best, pair = None, None
    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces)):
            (a, b), (c, d) = spans[i], spans[j]
            shared = min(b, d) - max(a, c)
            score = shared / min(b - a, d - c) if shared > 0 else shared
            if best is None or score > best:
                best, pair = score, (i, j)
    i, j = pair
    pieces[i] = pieces[i] | pieces.pop(j)


def _split(pieces: list[np.ndarray], image: np.ndarray, read_pieces=None, wider_than: int = 5) -> bool:
    """Cuts one of the pieces wider than `wider_than` columns in two. Without `read_pieces`: the widest piece,
    at its column of least ink within its middle half. With `read_pieces` (_remembering): the piece and column
    where the cut gains most, the two halves' surety against the whole piece's, at any column an eighth of the
    piece's width (at least 3) from its ends (a narrow 1 beside a wide digit is cut outside the middle half).
    False where no piece is wide enough."""
    wide = [i for i, p in enumerate(pieces) if _width(p) > max(wider_than, 5)]
    if not wide:
        return False
    if read_pieces is None:
        i = max(wide, key=lambda j: _width(pieces[j]))
        lo, hi = _middle(pieces[i])
        hi -= 1                                   # the column of least ink among [lo, hi), as it always was
        profile = pieces[i][:, lo:hi].sum(0)
        cut = lo + int(np.argmin(profile + np.abs(np.arange(hi - lo) - (hi - lo) / 2) * 1e-3))
    else:
        options = [(i, c) for i in wide for c in range(*_inside(pieces[i]))]
        halves = _halves(np.stack([pieces[i] for i, _ in options]), np.array([c for _, c in options]))
        sure = read_pieces(np.concatenate([np.stack([pieces[i] for i in wide]), halves]))
        whole = dict(zip(wide, sure[:len(wide)]))
        gain = sure[len(wide):].reshape(-1, 2).sum(1) - np.array([whole[i] for i, _ in options])
        i, cut = options[int(np.argmax(gain))]
    pieces[i:i + 1] = list(_halves(pieces[i][None], np.array([cut])))
    return True


def _halves(pieces: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(M, H, W) pieces, (M,) columns -> (2M, H, W): each piece's ink left of its column, then right of it."""
    columns, cuts = np.arange(pieces.shape[2]), cuts[:, None, None]
    return np.stack([pieces & (columns < cuts), pieces & (columns >= cuts)], 1).reshape(-1, *pieces.shape[1:])


def _middle(piece: np.ndarray) -> tuple[int, int]:
    """The columns [lo, hi] of a piece's middle half, as a range's ends: where it may be cut at least ink."""
    a, b = _columns(piece)
    return a + (b - a) // 4, b - (b - a) // 4 + 1


def _inside(piece: np.ndarray) -> tuple[int, int]:
    """The columns [lo, hi] a reader may cut a piece at, as a range's ends: an eighth of its width, at least
    3 columns, from either end."""
    a, b = _columns(piece)
    margin = max(3, (b - a) // 8)
    return a + margin, b - margin + 1


def _remembering(read, image: np.ndarray):
    """`read` for the pieces of one image: (M, H, W) masks of pieces -> how surely each one's crop is one
    digit. Each piece is cropped and read once, however often the search asks."""
    seen = {}

    def read_pieces(pieces: np.ndarray) -> np.ndarray:
        keys = [np.packbits(piece).tobytes() for piece in pieces]
        new = {key: piece for key, piece in zip(keys, pieces) if key not in seen}
        if new:
            crops = mask_crops(image, _around(np.stack(list(new.values())), image))
            seen.update(zip(new, np.asarray(read(crops), np.float64)))
        return np.array([seen[key] for key in keys])
    return read_pieces


def _around(piece: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The pixels a piece's crop may hold: its ink and the faint pixels next to it (no other piece's ink).
    One (H, W) mask or a stack of them."""
    grown = piece.copy()                          # grown by one pixel each way: a 3x3 dilation
    grown[..., 1:, :] |= piece[..., :-1, :]
    grown[..., :-1, :] |= piece[..., 1:, :]
    wide = grown.copy()
    wide[..., 1:] |= grown[..., :-1]
    wide[..., :-1] |= grown[..., 1:]
    return wide & (image > 0) & (piece | (image < INK))


def segment(image: np.ndarray, digit_range: tuple[int, int] = (4, 4), read=None) -> list[np.ndarray]:
    """The digits of an image, left to right, each as a boolean mask of the pixels its crop may hold.
    `read` (crops -> how surely each is one digit, e.g. a digit reader's log-probability of its
    likeliest digit against "no one digit") chooses where touching digits are cut apart."""
    image = np.asarray(image)
    ink = image >= INK
    runs = ink_runs(ink)
    if not runs:
        return []
    if settled(runs, digit_range, read is not None, ink):
        bands = [np.zeros(ink.shape, bool) for _ in runs]
        for band, (a, b) in zip(bands, runs):
            band[:, a:b] = True
        return bands
    lo, hi = digit_range
    pieces = _in_order(_ink_pieces(ink))
    if not pieces:
        return []
    read_pieces = _remembering(read, image) if read is not None else None
    while len(pieces) > hi:
        _merge_most_shared(pieces)
    while len(pieces) < lo and _split(pieces, image, read_pieces):
        pass
    while len(pieces) < hi and _split(pieces, image, read_pieces, wider_than=WIDE):
        pass
    pieces = _in_order(pieces)
    if read_pieces is not None:
        pieces = _recut(_mend(pieces, image, read_pieces), read_pieces)
    return [_around(p, image) for p in pieces]


def _mend(pieces: list[np.ndarray], image: np.ndarray, read_pieces, rounds: int = 6) -> list[np.ndarray]:
    """Pieces (left to right) cut again around the one the reader is least sure of, while that one is
    unsure (UNSURE) and the pieces' summed surety grows; as many pieces as before. The options: that piece
    merged with its left or right neighbour, and the surest cut made (_split); that piece cut, and two
    neighbours merged."""
    sure = read_pieces(np.stack(pieces))
    for _ in range(rounds):
        worst = int(np.argmin(sure))
        if sure[worst] >= UNSURE:
            break
        options = []
        for first in (worst - 1, worst):
            if 0 <= first < len(pieces) - 1:
                option = pieces[:first] + [pieces[first] | pieces[first + 1]] + pieces[first + 2:]
                if _split(option, image, read_pieces):
                    options.append(_in_order(option))
        halves = [pieces[worst]]
        if _split(halves, image, read_pieces):
            cut = _in_order(pieces[:worst] + halves + pieces[worst + 1:])
            options += [cut[:j] + [cut[j] | cut[j + 1]] + cut[j + 2:] for j in range(len(cut) - 1)]
        if not options:
            break
        scores = read_pieces(np.stack([p for option in options for p in option])).reshape(len(options), -1)
        best = int(np.argmax(scores.sum(1)))
        if scores[best].sum() <= sure.sum():
            break
        pieces, sure = options[best], scores[best]
    return pieces


def _recut(pieces: list[np.ndarray], read_pieces) -> list[np.ndarray]:
    """Pieces (left to right) cut again where the reader reads them surer: each run of neighbours that share
    or abut columns (touching digits cut apart), one of them read below RECUT_UNSURE, is cut again as a whole
    into as many pieces, at the columns where their summed surety is highest (_surest_cuts), if that beats
    theirs. Cutting one piece at a time chooses a first cut through several touching digits while one side
    still holds more than one digit, which no digit reads surely: often a sliver that reads as a 1 is cut off
    and the rest left whole. Choosing the run's cuts together finds them all."""
    sure = read_pieces(np.stack(pieces))
    out, start = [], 0
    for end in range(1, len(pieces) + 1):
        run = pieces[start:end]
        if end < len(pieces) and _columns(pieces[end])[0] <= max(_columns(p)[1] for p in run):
            continue                                      # the next piece touches the run: it goes on
        if len(run) > 1 and sure[start:end].min() < RECUT_UNSURE:
            cut, total = _surest_cuts(np.any(np.stack(run), 0), len(run), read_pieces)
            if total > sure[start:end].sum() + 1e-6:
                run = cut
        out += run
        start = end
    return _in_order(out)


def _surest_cuts(union: np.ndarray, parts: int, read_pieces) -> tuple[list[np.ndarray], float]:
    """`union` cut at columns into `parts` pieces, each MIN_CUT_WIDTH to WIDE columns wide: the pieces whose
    summed surety is highest, and that sum (no pieces and -inf where none fit). Dynamic programming over the
    cut columns, one piece after the other; a piece with fewer than MIN_RUN_INK ink pixels is no digit."""
    a, b = _columns(union)
    columns = np.arange(union.shape[1])
    best = {a: (0.0, [])}              # the first column not yet cut -> the pieces left of it: best sum, pieces
    for k in range(parts):
        after = parts - 1 - k          # pieces still to cut right of this one
        spans = [(s, e) for s in best for e in range(s + MIN_CUT_WIDTH, min(b, s + WIDE) + 1)
                 if after * MIN_CUT_WIDTH <= b - e <= after * WIDE]
        if not spans:
            return [], -np.inf
        masks = np.stack([union & (columns >= s) & (columns < e) for s, e in spans])
        inked = masks.sum((1, 2)) >= MIN_RUN_INK
        sure = np.full(len(spans), -np.inf)
        if inked.any():
            sure[inked] = read_pieces(masks[inked])
        following = {}
        for (s, e), mask, value in zip(spans, masks, sure):
            total = best[s][0] + value
            if total > following.get(e, (-np.inf,))[0]:
                following[e] = (total, best[s][1] + [mask])
        best = following
    return (best[b][1], best[b][0]) if b in best else ([], -np.inf)


def boxes_of_pieces(images, digit_range=(4, 4)) -> np.ndarray:
    """(N, most digits, 4) x, y, w, h of each digit's ink, -1 where none, for the images whose pieces of ink
    are plainly their digits: as many as the image may hold, none wide enough to hold two, no two sharing a
    column; the other images' rows are all -1. For data that gives no boxes, such as a folder of sums."""
    lo, hi = digit_range
    boxes = np.full((len(images), hi, 4), -1, np.int32)
    for i, image in enumerate(images):
        pieces = _ink_pieces(np.asarray(image) >= INK)
        spans = sorted(_columns(p) + (k,) for k, p in enumerate(pieces))
        narrow = all(b - a <= WIDE for a, b, _ in spans)
        apart = all(left[1] <= right[0] for left, right in zip(spans, spans[1:]))
        if not (lo <= len(pieces) <= hi and narrow and apart):
            continue
        for slot, (a, b, k) in enumerate(spans):
            rows = np.flatnonzero(pieces[k].any(1))
            boxes[i, slot] = (a, rows[0], b - a, rows[-1] + 1 - rows[0])
    return boxes


def cut_at_boxes(image: np.ndarray, boxes, rng: np.random.Generator | None = None):
    """The masks segment() should give an image whose digits' boxes are known (x, y, w, h of each digit's
    ink, left to right): a piece of ink that lies in one box is that digit's; a piece that lies in no single
    box (touching digits) is cut between each two of the boxes it reaches, at the column midway between
    the one's right end and the other's left end. With `rng`, also masks of wrong cuts, each a crop that
    holds no one digit: for every piece that digits share, the piece whole, and one side of a cut at least
    a third of the narrower digit's width away from the right column."""
    ink = image >= INK
    boxes = [tuple(int(v) for v in box) for box in boxes if box[2] > 0]
    bounds = [0] + [(left[0] + left[2] + right[0]) // 2 for left, right in zip(boxes, boxes[1:])] + [image.shape[1]]
    columns = np.arange(image.shape[1])
    masks, wrong = [np.zeros(ink.shape, bool) for _ in boxes], []
    pieces = _ink_pieces(ink)
    reach = [{k for k, (x, y, w, h) in enumerate(boxes) if piece[y:y + h, x:x + w].any()} for piece in pieces]
    for j, piece in enumerate(pieces):
        home, reached = _home(piece, boxes), sorted(reach[j])
        if home is not None and all(any(k in r for r in reach[:j] + reach[j + 1:]) for k in reach[j] - {home}):
            masks[home] |= piece         # in one box, and every other box it reaches holds other ink too
            continue
        for k in reached:
            masks[k] |= piece & (columns >= bounds[k]) & (columns < bounds[k + 1])
        if rng is not None and len(reached) > 1:
            k = reached[int(rng.integers(len(reached) - 1))]
            a, b = _columns(piece)
            away = max(2, min(boxes[k][2], boxes[k + 1][2]) // 3)
            cuts = [c for c in range(a + 3, b - 2) if abs(c - bounds[k + 1]) >= away]
            wrong.append(piece)
            if cuts:
                cut = cuts[int(rng.integers(len(cuts)))]
                wrong.append(piece & ((columns < cut) if rng.random() < 0.5 else (columns >= cut)))
    masks = [_around(m, image) for m in masks]
    return (masks, [_around(m, image) for m in wrong]) if rng is not None else masks


def _home(piece: np.ndarray, boxes: list[tuple]) -> int | None:
    """The first box that holds the whole piece, or None."""
    ys, xs = np.nonzero(piece)
    return next((k for k, (x, y, w, h) in enumerate(boxes)
                 if x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h), None)


def crop(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One digit's 28x28 uint8 crop: the ink under the mask (the rows and columns it spans) scaled into a
    20x20 box and centred; all dark where the mask holds no ink."""
    return mask_crops(image, mask[None])[0]


def mask_crops(image: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(M, H, W) masks of one image -> (M, 28, 28) uint8: crop() of each."""
    image = np.asarray(image)
    ink = (image >= INK) & masks
    rows, cols = ink.any(2), ink.any(1)
    top, bottom = rows.argmax(1), rows.shape[1] - rows[:, ::-1].argmax(1)
    left, right = cols.argmax(1), cols.shape[1] - cols[:, ::-1].argmax(1)
    values = np.where(masks, image, 0).astype(np.float32)
    out = np.zeros((len(masks), 28, 28), np.float32)
    for k in np.flatnonzero(rows.any(1)):
        part = values[k, top[k]:bottom[k], left[k]:right[k]]
        h, w = part.shape
        scale = 20.0 / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        y0, x0 = (28 - nh) // 2, (28 - nw) // 2
        out[k, y0:y0 + nh, x0:x0 + nw] = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.clip(out, 0, 255).astype(np.uint8)


def crops_of(images, digit_range=(4, 4), read=None) -> tuple[np.ndarray, np.ndarray]:
    """All digit crops of a batch of images: crops (M, 28, 28) uint8, and for each image the number of
    crops it gave (so crops[counts[:i].sum():][:counts[i]] are image i's digits, left to right): the crops
    of segment() and crop(), image by image. Images whose runs of inked columns are settled are cut for
    the whole batch at once; the others go through segment() one at a time."""
    images = np.asarray(images)
    crops, counts = [np.zeros((0, 28, 28), np.uint8)], [np.zeros(0, np.int64)]
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK]
        ink = chunk >= INK
        ink_before = np.zeros(ink.shape[:2] + (ink.shape[2] + 1,), np.int32)   # ink pixels left of each column
        np.cumsum(ink, axis=2, out=ink_before[:, :, 1:])
        spans, chunk_counts = _settled_spans(ink, ink_before, digit_range, read is not None)
        chunk_crops, image_of = [_crops(chunk, ink_before, spans)], [spans[:, 0]]
        for i in np.flatnonzero(chunk_counts < 0):
            masks = segment(chunk[i], digit_range, read)
            chunk_counts[i] = len(masks)
            chunk_crops.append(mask_crops(chunk[i], np.array(masks, bool).reshape(-1, *chunk.shape[1:])))
            image_of.append(np.full(len(masks), i))
        crops.append(np.concatenate(chunk_crops)[np.argsort(np.concatenate(image_of), kind="stable")])
        counts.append(chunk_counts)
    return np.concatenate(crops), np.concatenate(counts)


def slot_crops(images, digit_range=(4, 4), read=None) -> np.ndarray:
    """Images -> (N, slots, 28, 28) uint8: each image's digit crops left to right in its first slots, the
    rest all dark; slots = the data's most digits (or more, if an image gave more crops)."""
    crops, counts = crops_of(images, digit_range, read)
    out = np.zeros((len(counts), max(digit_range[1], int(counts.max(initial=0))), 28, 28), np.uint8)
    start = 0
    for i, n in enumerate(counts):
        out[i, :n] = crops[start:start + n]
        start += n
    return out


def _settled_spans(ink: np.ndarray, ink_before: np.ndarray, digit_range,
                   read: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The runs of inked columns of every image whose runs are settled, as (M, 3) spans [image, start, end)
    in image order, left to right; and each image's count of them, -1 where they are not settled.
    `ink_before`: (N, H, W + 1) each row's ink pixels left of each column."""
    n, _, width = ink.shape
    inked = np.zeros((n, width + 2), np.int8)
    inked[:, 1:-1] = ink.any(1)
    edges = np.diff(inked, axis=1)
    image_of, starts = np.nonzero(edges == 1)                 # row-major: by image, then left to right
    _, ends = np.nonzero(edges == -1)
    cumulative = np.zeros((n, width + 1), np.int64)
    np.cumsum(ink.sum(1), axis=1, out=cumulative[:, 1:])
    keep = cumulative[image_of, ends] - cumulative[image_of, starts] >= MIN_RUN_INK
    image_of, starts, ends = image_of[keep], starts[keep], ends[keep]
    counts = np.bincount(image_of, minlength=n)
    widest = np.zeros(n, np.int64)
    np.maximum.at(widest, image_of, ends - starts)
    specked = np.zeros(n, bool)
    specked[image_of[_specks_apart(ink_before[image_of, :, ends] - ink_before[image_of, :, starts])]] = True
    lo, hi = digit_range
    ok = ((counts >= lo) & (counts <= hi) & (((counts == hi) & (not read)) | (widest <= WIDE))  # as settled() says
          & ~specked)
    return np.stack([image_of, starts, ends], 1)[ok[image_of]], np.where(ok, counts, -1)


def _crops(images: np.ndarray, ink_before: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """The 28x28 crop of every span (all dark where the span holds no ink); `ink_before` as _settled_spans'."""
    image_of, starts, ends = spans.T
    height = images.shape[1]
    rows = ink_before[image_of, :, ends] != ink_before[image_of, :, starts]      # (M, H): rows with ink
    top, bottom = rows.argmax(1), height - rows[:, ::-1].argmax(1)
    h, w = bottom - top, ends - starts
    scale = 20.0 / np.maximum(h, w)
    new_h = np.maximum(1, np.round(h * scale)).astype(np.int64)    # numpy and Python both round half to even
    new_w = np.maximum(1, np.round(w * scale)).astype(np.int64)
    out = np.zeros((len(spans), 28, 28), np.float32)
    for k, (inked, i, y, b, a, e, nh, nw) in enumerate(zip(*(v.tolist() for v in (
            rows.any(1), image_of, top, bottom, starts, ends, new_h, new_w)))):
        if not inked:                                              # an empty crop
            continue
        y0, x0 = (28 - nh) // 2, (28 - nw) // 2
        out[k, y0:y0 + nh, x0:x0 + nw] = cv2.resize(images[i, y:b, a:e].astype(np.float32), (nw, nh),
                                                    interpolation=cv2.INTER_AREA)
    return np.clip(out, 0, 255).astype(np.uint8)
