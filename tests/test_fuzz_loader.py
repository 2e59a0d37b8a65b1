"""Property-based tests of the original-format loader: random shapes, dtypes, values, truncations and
byte corruptions give either a valid split or one DataError naming a file — never another exception."""
import io
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data import DataError, load_folder

DTYPES = ["uint8", "int16", "int64", "float32", "float64", "bool", "complex64", "U3", "V4"]
CASES = int(os.environ.get("FUZZ_CASES", 200))       # examples tried per property
# The same cases every run, so CI is reproducible; FUZZ_RANDOM=1 FUZZ_CASES=5000 explores new ones.
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"


@st.composite
def npy_bytes(draw, ndim_choices=(0, 1, 2, 3, 4), max_side=6):
    """Bytes of an .npy file: a random array, sometimes truncated or with corrupted bytes."""
    dtype = draw(st.sampled_from(DTYPES))
    ndim = draw(st.sampled_from(ndim_choices))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    size = int(np.prod(shape)) if shape else 1
    if dtype in ("U3", "V4"):
        arr = np.zeros(shape, dtype)
    else:
        values = draw(st.lists(st.sampled_from([0, 1, 9, 36, 37, 255, 256, -1, 0.5, float("nan"), float("inf")]),
                               min_size=size, max_size=size))
        with np.errstate(all="ignore"):
            arr = np.array(values, dtype=np.float64).astype(dtype).reshape(shape)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    data = bytearray(buf.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip" and data:
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    return bytes(data)


def check_load(folder):
    try:
        split = load_folder(folder, digits=(4, 4))
    except DataError as e:
        message = str(e)
        assert "\n" not in message.strip() and str(folder) in message        # one line, naming the file
        return None
    assert split.images.ndim == 3 and len(split.images) == len(split.sums) > 0
    assert split.sums.min() >= 0 and split.sums.max() <= 36
    images = np.asarray(split.images, dtype=np.float64)
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 255
    return split


@settings(max_examples=CASES, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=npy_bytes(), labels=npy_bytes(ndim_choices=(0, 1, 2)))
def test_random_npy_pairs_load_or_fail_clearly(tmp_path_factory, data, labels):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "data0.npy").write_bytes(data)
    (folder / "lab0.npy").write_bytes(labels)
    check_load(folder)


@settings(max_examples=CASES // 2, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 5), cut=st.integers(0, 10_000), which=st.sampled_from(["data", "lab"]),
       raw=st.binary(max_size=64))
def test_valid_pairs_damaged_on_disk(tmp_path_factory, n, cut, which, raw):
    """A valid pair with one file truncated, or replaced by random bytes."""
    folder = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(n)
    np.save(folder / "data0.npy", rng.integers(0, 256, (n, 8, 12)).astype(np.uint8))
    np.save(folder / "lab0.npy", rng.integers(0, 37, n))
    path = folder / f"{which}0.npy"
    content = path.read_bytes()
    path.write_bytes(raw if cut % 3 == 0 else content[: cut % len(content)])
    check_load(folder)


@st.composite
def image_file_bytes(draw):
    """Bytes of an image file for --predict: a random PNG/JPEG/npy image, sometimes truncated or corrupted."""
    kind = draw(st.sampled_from(["png", "jpg", "npy"]))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 80))
    pixels = np.asarray(draw(st.lists(st.integers(0, 255), min_size=h * w, max_size=h * w)), np.uint8).reshape(h, w)
    buf = io.BytesIO()
    if kind == "npy":
        np.save(buf, pixels.astype(draw(st.sampled_from(["uint8", "float32", "float64", "int64"]))))
    else:
        from PIL import Image
        Image.fromarray(pixels).save(buf, format="PNG" if kind == "png" else "JPEG")
    data = bytearray(buf.getvalue())
    damage = draw(st.sampled_from(["none", "truncate", "flip", "random"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif damage == "random":
        data = bytearray(draw(st.binary(max_size=200)))
    return kind, bytes(data)


@settings(max_examples=CASES, deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=image_file_bytes())
def test_image_reader_reads_or_fails_clearly(tmp_path_factory, file):
    from bench.images import ImageError, read_image
    kind, data = file
    path = tmp_path_factory.mktemp("img") / f"image.{kind}"
    path.write_bytes(data)
    try:
        image = read_image(path)
    except ImageError as e:
        assert "\n" not in str(e).strip() and str(path) in str(e)
        return
    assert image.shape == (40, 168) and image.dtype == np.float32
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 255
