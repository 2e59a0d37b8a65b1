"""The digit source, the composer, the original-format loader and its one-line errors on bad data."""
import gzip
import pickle
import runpy

import numpy as np
import pytest

from bench import data
from bench.data import DataError, compose, load_folder, load_mnist, parse_digits, read_mnist_file
from tests.conftest import ROOT, run_cli


def test_mnist_is_real_and_split():
    mnist = load_mnist()
    assert [len(mnist[k][0]) for k in ("train", "val", "test")] == [50000, 10000, 10000]
    x, y = mnist["test"]
    assert x.shape[1:] == (28, 28) and x.dtype == np.uint8 and x.max() == 254
    assert np.bincount(y, minlength=10).min() > 800          # every digit class is present


def test_tampered_mnist_is_refused(tmp_path):
    bad = tmp_path / "mnist.pkl.gz"
    bad.write_bytes(data.mnist_path().read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="sha256"):
        read_mnist_file(bad)


def test_unpickler_admits_numpy_arrays_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    payload = gzip.compress(pickle.dumps(((np.zeros(3), Evil()),)))
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(payload)
    import hashlib
    with pytest.raises(DataError, match="only numpy arrays"):
        read_mnist_file(path, sha256=hashlib.sha256(payload).hexdigest())


def test_composer_is_deterministic_and_keeps_digits_and_boxes():
    x, y = load_mnist()["test"]
    a = compose(x, y, 50, (4, 4), seed=3)
    b = compose(x, y, 50, (4, 4), seed=3)
    c = compose(x, y, 50, (4, 4), seed=4)
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, c.images)
    assert a.images.shape == (50, 40, 168)
    assert (a.sums == a.digits.sum(1)).all()
    bx = a.boxes
    assert (bx[..., 0] >= 0).all() and (bx[..., 0] + bx[..., 2] <= 168).all()
    assert (bx[..., 1] >= 0).all() and (bx[..., 1] + bx[..., 3] <= 40).all()
    assert (np.diff(bx[..., 0], axis=1) > 0).all()           # left to right
    for img, boxes in zip(a.images[:10], bx[:10]):           # every box holds ink
        for x0, y0, w, h in boxes:
            assert img[y0:y0 + h, x0:x0 + w].max() > 100


def test_the_hard_layout_touches_overlaps_rotates_and_speckles():
    x, y = load_mnist()["test"]
    hard = compose(x, y, 300, (1, 5), seed=3, layout="hard")
    assert np.array_equal(hard.images, compose(x, y, 300, (1, 5), seed=3, layout="hard").images)
    assert (hard.sums == np.where(hard.digits >= 0, hard.digits, 0).sum(1)).all()
    counts = (hard.digits >= 0).sum(1)
    assert counts.min() == 1 and counts.max() == 5
    bx = hard.boxes
    used = bx[..., 2] > 0
    assert (bx[..., 0][used] >= 0).all() and ((bx[..., 0] + bx[..., 2])[used] <= 168).all()
    heights = bx[..., 3][used]
    assert heights.min() < 20 and heights.max() > 34                 # small and large digits
    x0, w = bx[..., 0], bx[..., 2]
    both = used[:, 1:] & used[:, :-1]
    assert (x0[:, 1:] < x0[:, :-1] + w[:, :-1])[both].mean() > 0.3   # neighbours touch or overlap
    ink_outside = 0
    for img, boxes in zip(hard.images, bx):
        mask = np.ones_like(img, bool)
        for bx0, by0, bw, bh in boxes[boxes[:, 2] > 0]:
            mask[by0:by0 + bh, bx0:bx0 + bw] = False
        ink_outside += int((img[mask] > 0).any())
    assert ink_outside > 150                                          # speckle noise on most images
    plain = data.composed_dataset(400, 100, 100, digits=(4, 4), seed=0)
    assert data.composed_dataset(400, 100, 100, digits=(4, 4), seed=0, layout="hard").hash != plain.hash


def test_the_other_generators_hard_layout_touches_overlaps_and_speckles():
    """benchmarks/test_folder.py other-hard: another generator's hard images, for checking what a model trained
    on the composer's learned of it: deterministic, digits often touching, specks on most images."""
    from scipy import ndimage
    folder = runpy.run_path(str(ROOT / "benchmarks" / "test_folder.py"))
    x, y = load_mnist()["test"]
    images, sums = folder["other_hard_generator"](x, y, 200, 4, seed=5)
    assert np.array_equal(images, folder["other_hard_generator"](x, y, 200, 4, seed=5)[0])
    assert images.shape == (200, 40, 168) and sums.min() >= 0 and sums.max() <= 36
    big_pieces, specks = [], []
    for image in images:
        labels, n = ndimage.label(image > 30, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        big_pieces.append(int((sizes > 12).sum()))
        specks.append(int((sizes <= 3).sum()))
    assert np.mean(np.array(big_pieces) < 4) > 0.6                    # neighbours touch or overlap
    assert np.mean(np.array(specks) > 0) > 0.7                        # speckle noise on most images


def test_digit_range():
    x, y = load_mnist()["test"]
    s = compose(x, y, 300, parse_digits("1-5"), seed=0)
    counts = (s.digits >= 0).sum(1)
    assert counts.min() == 1 and counts.max() == 5
    assert s.sums.max() <= 45
    with pytest.raises(DataError):
        parse_digits("0-9")


def test_default_dataset_is_cached(tiny_dataset):
    again = data.composed_dataset(400, 100, 100, digits=(4, 4), seed=0)
    assert again.hash == tiny_dataset.hash
    assert np.array_equal(again.test.images, tiny_dataset.test.images)


def write_folder(folder, n=40, k=2, images=None, labels=None):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(k):
        np.save(folder / f"data{i}.npy", images if images is not None else rng.uniform(0, 255, (n, 40, 168)))
        np.save(folder / f"lab{i}.npy", labels if labels is not None else rng.integers(0, 37, n).astype(float))
    return folder


def test_original_format_loads_and_splits(tmp_path):
    folder = write_folder(tmp_path / "ok", n=50, k=2)
    split = load_folder(folder)
    assert split.images.shape == (100, 40, 168) and split.sums.dtype == np.int64
    ds = data.folder_dataset(folder, seed=1)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (80, 10, 10)


def _bad(kind, folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    good_x, good_y = rng.uniform(0, 255, (20, 40, 168)), rng.integers(0, 37, 20)
    if kind == "missing_lab":
        np.save(folder / "data0.npy", good_x)
    elif kind == "missing_data":
        np.save(folder / "lab0.npy", good_y)
    elif kind == "length_mismatch":
        np.save(folder / "data0.npy", good_x), np.save(folder / "lab0.npy", good_y[:15])
    elif kind == "wrong_ndim":
        np.save(folder / "data0.npy", good_x.reshape(20, -1)), np.save(folder / "lab0.npy", good_y)
    elif kind == "nan_pixels":
        good_x[3, 5, 5] = np.nan
        np.save(folder / "data0.npy", good_x), np.save(folder / "lab0.npy", good_y)
    elif kind == "labels_out_of_range":
        np.save(folder / "data0.npy", good_x), np.save(folder / "lab0.npy", good_y + 30)
    elif kind == "labels_not_integral":
        np.save(folder / "data0.npy", good_x), np.save(folder / "lab0.npy", good_y + 0.5)
    elif kind == "empty_folder":
        pass
    elif kind == "truncated_npy":
        np.save(folder / "data0.npy", good_x), np.save(folder / "lab0.npy", good_y)
        raw = (folder / "data0.npy").read_bytes()
        (folder / "data0.npy").write_bytes(raw[: len(raw) // 2])
    elif kind == "corrupt_npy":
        (folder / "data0.npy").write_bytes(b"this is not numpy at all" * 10)
        np.save(folder / "lab0.npy", good_y)
    elif kind == "object_array":
        np.save(folder / "data0.npy", np.array([good_x[0], "x"], dtype=object), allow_pickle=True)
        np.save(folder / "lab0.npy", good_y[:2])
    elif kind == "pixels_out_of_range":
        np.save(folder / "data0.npy", good_x * 10), np.save(folder / "lab0.npy", good_y)
    return folder


BAD_KINDS = ["missing_lab", "missing_data", "length_mismatch", "wrong_ndim", "nan_pixels", "labels_out_of_range",
             "labels_not_integral", "empty_folder", "truncated_npy", "corrupt_npy", "object_array",
             "pixels_out_of_range"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_folder_gives_one_clear_error(kind, tmp_path):
    folder = _bad(kind, tmp_path / kind)
    with pytest.raises(DataError) as info:
        load_folder(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message


@pytest.mark.parametrize("option", ["--data", "--test-data"])
@pytest.mark.parametrize("kind", ["length_mismatch", "truncated_npy", "object_array"])
def test_bad_folder_on_the_command_line(kind, option, tmp_path):
    folder = _bad(kind, tmp_path / kind)
    result = run_cli(option, str(folder), "--quick", "--approaches", "regression_cnn", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    out = (result.stdout + result.stderr).strip()
    assert "Traceback" not in out
    assert out.startswith("error:") and str(folder) in out.replace("\n", "")


def test_a_layout_for_a_folder_gets_one_line(tmp_path):
    run = run_cli("--layout", "hard", "--data", str(write_folder(tmp_path / "mine")), "--out", str(tmp_path / "out"))
    assert run.returncode == 2 and "--layout composes images; it does not apply to a --data folder" in run.stdout
