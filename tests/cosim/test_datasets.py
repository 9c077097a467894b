"""Full data set loaders: IDX and CIFAR pickle parsing, noisy MNIST, data dirs, download, verify.

Files are generated in the official formats in tmp dirs; downloads go to a local HTTP server.
Tests of the real files in ../shared/datasets are marked ``data`` and skip when absent.
"""

import collections
import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cosim.datasets import (DatasetError, DatasetName, ImageSet, Split, Verdict, dataset_names,
                            download_dataset, load_dataset, resolve_data_dir, verify_dataset)
from cosim.datasets import cifar, idx, loaders
from cosim.datasets.download import RemoteFile, check_file, download_file, md5, mirror_urls, sha256
from cosim.datasets.noise import replace_pixels

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # No test may fall back on the user's data dir or go through a proxy to the local server.
    monkeypatch.delenv(loaders.ENV_DATA_DIR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


# ---------------------------------------------------------------- generated files

def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _idx_arrays(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    return images, labels


def make_idx_dir(folder, n_train=30, n_test=12, seed=0):
    """The four IDX .gz files of an MNIST-like data set; returns {file name: array}."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = _idx_arrays(n_train, seed), _idx_arrays(n_test, seed + 1)
    arrays = dict(zip(IDX_NAMES, (*train, *test)))
    for name, array in arrays.items():
        idx.write_idx(folder / name, array)
    return arrays


class _Py2Pickler(pickle._Pickler):
    """Pickles as CIFAR's Python 2 cPickle did: str and bytes as BINSTRING, numpy.core globals."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_string(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_string
    dispatch[str] = _save_py2_string


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n_reconstruct\n",
                                  b"cnumpy.core.multiarray\n_reconstruct\n")


def _cifar_rows(n, seed):
    """Rows (n, 3072): R plane, G plane, B plane of 32x32, the official layout."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def make_cifar_dir(root, per_batch=4):
    """A cifar-10-batches-py folder of small py2-style batches; returns the rows and labels."""
    folder = root / cifar.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate((*cifar.TRAIN_BATCHES, *cifar.TEST_BATCHES)):
        rows = _cifar_rows(per_batch, i)
        labels = [(i + j) % 10 for j in range(per_batch)]
        batch = {b"batch_label": b"batch", b"labels": labels, b"data": rows,
                 b"filenames": [b"f%d.png" % j for j in range(per_batch)]}
        (folder / name).write_bytes(py2_pickle(batch))
        written[name] = (rows, labels)
    meta = {b"num_cases_per_batch": per_batch, b"num_vis": 3072,
            b"label_names": [n.encode() for n in loaders.CIFAR10.class_names]}
    (folder / cifar.META).write_bytes(py2_pickle(meta))
    return written


def make_cifar_archive(root, per_batch=2):
    staging = root / "staging"
    make_cifar_dir(staging, per_batch)
    archive = root / cifar.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / cifar.FOLDER, arcname=cifar.FOLDER)
    return archive


# ---------------------------------------------------------------- IDX

def test_write_idx_is_the_official_layout(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    by_hand = b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04" + bytes(range(24))
    assert gzip.decompress(idx.write_idx(tmp_path / "a.gz", array).read_bytes()) == by_hand
    np.testing.assert_array_equal(idx.parse_idx(by_hand, name="x", magic=idx.IMAGES_MAGIC), array)
    # Multi-byte element types are big-endian.
    ints = b"\x00\x00\x0c\x01\x00\x00\x00\x02" + struct.pack(">2i", -5, 70000)
    np.testing.assert_array_equal(idx.parse_idx(ints, name="x"), [-5, 70000])


@pytest.mark.parametrize("name, classes", [("mnist", "0"), ("fashion-mnist", "T-shirt/top")])
def test_idx_data_sets_load_with_exact_pixels_and_labels(tmp_path, name, classes):
    arrays = make_idx_dir(tmp_path / name)
    train = load_dataset(name, "train", data_dir=tmp_path)
    assert train.images.shape == (30, 28, 28) and train.images.dtype == np.float32
    assert train.labels.dtype == np.int64 and train.channels == 1
    np.testing.assert_array_equal(train.images, arrays[IDX_NAMES[0]].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(train.labels, arrays[IDX_NAMES[1]])
    assert 0 <= train.images.min() and train.images.max() <= 1
    assert train.class_names[0] == classes and len(train.class_names) == 10
    test = load_dataset(name, Split.TEST, data_dir=tmp_path)
    np.testing.assert_array_equal(test.labels, arrays[IDX_NAMES[3]])
    assert len(test) == 12 and name in test.source and "t10k-images" in test.source


def test_gunzipped_files_are_accepted(tmp_path):
    arrays = make_idx_dir(tmp_path / "mnist")
    for name in IDX_NAMES[:2]:
        gz = tmp_path / "mnist" / name
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    data = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(data.labels, arrays[IDX_NAMES[1]])


def _images_file(tmp_path):
    return tmp_path / "mnist" / IDX_NAMES[0]


def _labels_file(tmp_path):
    return tmp_path / "mnist" / IDX_NAMES[1]


def _rewrite(path, edit):
    path.write_bytes(gzip.compress(edit(gzip.decompress(path.read_bytes()))))


def _wrong_magic(tmp_path):
    _rewrite(_images_file(tmp_path), lambda raw: b"\x00\x00\x08\x01" + raw[4:])
    return _images_file(tmp_path), "wrong magic number 0x00000801"


def _not_idx(tmp_path):
    _rewrite(_images_file(tmp_path), lambda raw: b"<html>" + raw)
    return _images_file(tmp_path), "bad magic number"


def _truncated_payload(tmp_path):
    _rewrite(_images_file(tmp_path), lambda raw: raw[:-100])
    return _images_file(tmp_path), "truncated"


def _truncated_header(tmp_path):
    _rewrite(_images_file(tmp_path), lambda raw: raw[:10])
    return _images_file(tmp_path), "truncated header"


def _trailing_bytes(tmp_path):
    _rewrite(_labels_file(tmp_path), lambda raw: raw + b"\x00\x01")
    return _labels_file(tmp_path), "2 unexpected bytes"


def _count_mismatch(tmp_path):
    idx.write_idx(_labels_file(tmp_path), np.zeros(29, np.uint8))
    return _labels_file(tmp_path), "count mismatch"


def _label_range(tmp_path):
    idx.write_idx(_labels_file(tmp_path), np.full(30, 10, np.uint8))
    return _labels_file(tmp_path), "labels must be 0..9"


def _image_size(tmp_path):
    idx.write_idx(_images_file(tmp_path), np.zeros((30, 20, 20), np.uint8))
    return _images_file(tmp_path), "must be 28x28"


def _corrupt_gzip(tmp_path):
    data = _images_file(tmp_path).read_bytes()
    _images_file(tmp_path).write_bytes(data[: len(data) // 2])
    return _images_file(tmp_path), "not a readable gzip"


def _bad_crc(tmp_path):
    data = bytearray(_images_file(tmp_path).read_bytes())
    data[-6] ^= 0xFF  # inside the CRC-32 trailer
    _images_file(tmp_path).write_bytes(bytes(data))
    return _images_file(tmp_path), "not a readable gzip"


def _plain_text(tmp_path):
    _images_file(tmp_path).write_text("<html>404</html>")
    return _images_file(tmp_path), "no gzip header"


@pytest.mark.parametrize("break_it", [
    _wrong_magic, _not_idx, _truncated_payload, _truncated_header, _trailing_bytes, _count_mismatch,
    _label_range, _image_size, _corrupt_gzip, _bad_crc, _plain_text,
])
def test_malformed_idx_files_are_clear_errors_naming_the_file(tmp_path, break_it):
    make_idx_dir(tmp_path / "mnist")
    path, message = break_it(tmp_path)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("mnist", data_dir=tmp_path)
    assert path.name in str(info.value)


def test_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DatasetError, match="download=True") as info:
        load_dataset("fashion-mnist", "test", data_dir=tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value) and "fashion-mnist" in str(info.value)


# ---------------------------------------------------------------- CIFAR-10

def test_cifar_batches_load_channels_last_from_rgb_planes(tmp_path):
    written = make_cifar_dir(tmp_path)
    train = load_dataset("cifar10", "train", data_dir=tmp_path)
    assert train.images.shape == (20, 32, 32, 3) and train.images.dtype == np.float32
    assert train.channels == 3 and 0 <= train.images.min() and train.images.max() <= 1
    rows = np.concatenate([written[name][0] for name in cifar.TRAIN_BATCHES])
    # Pixel (r, c) of channel ch is element ch*1024 + r*32 + c of the row.
    for i, r, c, ch in [(0, 0, 0, 0), (3, 5, 7, 1), (19, 31, 30, 2), (7, 31, 0, 0)]:
        assert train.images[i, r, c, ch] == np.float32(rows[i, ch * 1024 + r * 32 + c]) / np.float32(255)
    np.testing.assert_array_equal(train.labels, sum((written[n][1] for n in cifar.TRAIN_BATCHES), []))
    assert train.class_names == loaders.CIFAR10.class_names
    test = load_dataset("cifar10", "test", data_dir=tmp_path)
    assert len(test) == 4 and test.labels.tolist() == written["test_batch"][1]


def test_cifar_batches_written_by_this_package_load_the_same(tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    cifar.write_batch(tmp_path / "b", images, [1, 2, 3, 4, 5])
    got, labels = cifar.read_batch(tmp_path / "b")
    np.testing.assert_array_equal(got, images)
    assert labels.tolist() == [1, 2, 3, 4, 5]


def test_cifar_archive_is_extracted_on_first_use(tmp_path):
    make_cifar_archive(tmp_path)
    data = load_dataset("cifar10", "test", data_dir=tmp_path)
    assert data.images.shape == (2, 32, 32, 3)
    assert (tmp_path / cifar.FOLDER / "data_batch_5").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # scratch removed


def _tar_with(tmp_path, member_name, kind=tarfile.REGTYPE, linkname=""):
    archive = tmp_path / cifar.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(f"{cifar.FOLDER}/data_batch_1")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
        evil = tarfile.TarInfo(member_name)
        evil.type, evil.linkname = kind, linkname
        evil.size = 4 if kind == tarfile.REGTYPE else 0
        tar.addfile(evil, io.BytesIO(b"evil") if kind == tarfile.REGTYPE else None)
    return archive


@pytest.mark.parametrize("member, kind, linkname", [
    ("../evil", tarfile.REGTYPE, ""),
    (f"{cifar.FOLDER}/../../evil", tarfile.REGTYPE, ""),
    ("/tmp/evil", tarfile.REGTYPE, ""),
    ("elsewhere/evil", tarfile.REGTYPE, ""),
    (f"{cifar.FOLDER}/link", tarfile.SYMTYPE, "/etc/passwd"),
    (f"{cifar.FOLDER}/hard", tarfile.LNKTYPE, "/etc/passwd"),
    (f"{cifar.FOLDER}/fifo", tarfile.FIFOTYPE, ""),
])
def test_unsafe_archive_members_are_refused_before_extraction(tmp_path, member, kind, linkname):
    root = tmp_path / "data"
    root.mkdir()
    _tar_with(root, member, kind, linkname)
    with pytest.raises(DatasetError, match="unsafe member"):
        load_dataset("cifar10", data_dir=root)
    assert not (root / cifar.FOLDER).exists() and not (tmp_path / "evil").exists()
    assert sorted(p.name for p in root.iterdir()) == [cifar.ARCHIVE]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _batch(changes=(), drop=()):
    batch = {b"data": _cifar_rows(3, 0), b"labels": [0, 1, 2]}
    batch.update(changes)
    return {key: value for key, value in batch.items() if key not in drop}


@pytest.mark.parametrize("content, message", [
    (b"not a pickle at all", "not a usable pickle"),
    (py2_pickle(_batch())[:-40], "not a usable pickle"),
    (b"", "not a usable pickle"),
    (pickle.dumps([1, 2, 3]), "expected a pickled dict"),
    (pickle.dumps({b"data": _cifar_rows(3, 0)}), "missing keys"),
    (pickle.dumps(_batch({"data": 1}, drop=[b"data"])), "missing keys"),
    (pickle.dumps(_batch({b"data": np.zeros((3, 100), np.uint8)})), "uint8 array"),
    (pickle.dumps(_batch({b"data": np.zeros((3, 3072))})), "uint8 array"),
    (pickle.dumps(_batch({b"data": [1, 2]})), "uint8 array"),
    (pickle.dumps(_batch({b"labels": [0, 1]})), "count mismatch"),
    (pickle.dumps(_batch({b"labels": [0, 1, 10]})), "labels must be 0..9"),
    (pickle.dumps(_batch({b"labels": [0, 1, "2"]})), "list of ints"),
    (pickle.dumps(_batch({b"labels": {0, 1, 2}}), protocol=4), "list of ints"),  # set opcodes: no global
    (pickle.dumps(_batch({b"labels": collections.OrderedDict()})), "forbidden global collections.OrderedDict"),
    (pickle.dumps(_batch({b"data": np.zeros((3, 3072), np.uint8).view(np.matrix)})), "forbidden global"),
])
def test_malformed_cifar_batches_are_clear_errors(tmp_path, content, message):
    make_cifar_dir(tmp_path)
    (tmp_path / cifar.FOLDER / "data_batch_3").write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "data_batch_3" in str(info.value)


def test_forbidden_global_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    make_cifar_dir(tmp_path)
    (tmp_path / cifar.FOLDER / "test_batch").write_bytes(pickle.dumps(_batch({b"data": _Evil(marker)})))
    with pytest.raises(DatasetError, match=r"forbidden global (posix|os|nt)\.system"):
        load_dataset("cifar10", "test", data_dir=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("meta, message", [
    ({b"label_names": [b"a"] * 9}, "label_names"),
    ({b"names": []}, "label_names"),
    ([b"a"] * 10, "label_names"),
])
def test_bad_meta_is_an_error(tmp_path, meta, message):
    make_cifar_dir(tmp_path)
    (tmp_path / cifar.FOLDER / cifar.META).write_bytes(pickle.dumps(meta))
    with pytest.raises(DatasetError, match=message):
        load_dataset("cifar10", "test", data_dir=tmp_path)


def test_incomplete_cifar_folder_and_missing_cifar_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="download=True"):
        load_dataset("cifar10", data_dir=tmp_path)
    make_cifar_dir(tmp_path)
    (tmp_path / cifar.FOLDER / "data_batch_2").unlink()
    with pytest.raises(DatasetError, match="incomplete.*data_batch_2"):
        load_dataset("cifar10", data_dir=tmp_path)


# ---------------------------------------------------------------- ImageSet, selection, names

def test_image_set_takes_grey_and_channels_last_images():
    grey = ImageSet(images=np.zeros((2, 5, 7)), labels=[0, 1], source="x")
    colour = ImageSet(images=np.zeros((2, 32, 32, 3)), labels=[0, 1], source="x", class_names=("a", "b"))
    assert grey.channels == 1 and colour.channels == 3 and colour.images.dtype == np.float32
    assert colour.class_names == ("a", "b") and grey.class_names == ()
    for shape in [(2, 5), (2, 1, 1, 1, 1), (2, 0, 5)]:
        with pytest.raises(ValueError, match="images must have shape"):
            ImageSet(images=np.zeros(shape), labels=[0, 1], source="x")
    with pytest.raises(ValueError, match="class_names"):
        ImageSet(images=np.zeros((2, 5, 5)), labels=[0, 2], source="x", class_names=("a", "b"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImageSet(images=np.full((1, 2, 2, 3), -0.1), labels=[0], source="x")


def test_limit_and_seed_select_images(tmp_path):
    make_idx_dir(tmp_path / "mnist")
    full = load_dataset("mnist", data_dir=tmp_path)
    head = load_dataset("mnist", data_dir=tmp_path, limit=5)
    np.testing.assert_array_equal(head.images, full.images[:5])
    a = load_dataset("mnist", data_dir=tmp_path, limit=10, seed=4)
    b = load_dataset("mnist", data_dir=tmp_path, limit=10, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    rows = [int(np.flatnonzero((full.images == img).all(axis=(1, 2)))[0]) for img in a.images]
    assert len(set(rows)) == 10 and rows != list(range(10))
    np.testing.assert_array_equal(full.labels[rows], a.labels)
    for bad in [0, 31, 2.0, True]:
        with pytest.raises(DatasetError, match="limit must be"):
            load_dataset("mnist", data_dir=tmp_path, limit=bad)


def test_names_and_splits_are_checked():
    assert set(dataset_names()) == {"mnist", "fashion-mnist", "noisy-mnist", "cifar10", "mnist-sample"}
    with pytest.raises(DatasetError, match="unknown data set 'svhn'.*cifar10"):
        load_dataset("svhn")
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("mnist", "validation")
    with pytest.raises(DatasetError, match="noisy-mnist only"):
        load_dataset("mnist", noise_fraction=0.1)


def test_mnist_sample_is_reachable_by_name():
    sample = load_dataset(DatasetName.MNIST_SAMPLE, limit=20, seed=1)
    assert sample.images.shape == (20, 28, 28) and sample.class_names[9] == "9"
    train, test = load_dataset("mnist-sample", "train"), load_dataset("mnist-sample", "test")
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(test.labels).tolist() == [100] * 10  # the last fifth of every digit
    # No test digit is also a training digit (the file holds no duplicate images).
    train_rows = {row.tobytes() for row in train.images}
    assert not any(row.tobytes() in train_rows for row in test.images)
    drawn = load_dataset("mnist-sample", "test", limit=50, seed=3)
    test_rows = {row.tobytes() for row in test.images}
    assert len(drawn) == 50 and all(row.tobytes() in test_rows for row in drawn.images)
    assert "test split" in drawn.source
    # The file is sorted by label; a split's first images still mix the classes.
    assert set(load_dataset("mnist-sample", "test", limit=100).labels.tolist()) == set(range(10))
    with pytest.raises(DatasetError, match="1..1000"):
        load_dataset("mnist-sample", "test", limit=1001)
    with pytest.raises(DatasetError, match="embedded"):
        download_dataset("mnist-sample")


# ---------------------------------------------------------------- noisy MNIST

def test_noisy_mnist_is_mnist_with_a_seeded_fraction_of_pixels_replaced(tmp_path):
    make_idx_dir(tmp_path / "mnist", n_train=40)
    clean = load_dataset("mnist", data_dir=tmp_path)
    a = load_dataset("noisy-mnist", data_dir=tmp_path, seed=1)
    b = load_dataset("noisy-mnist", data_dir=tmp_path, seed=1)
    c = load_dataset("noisy-mnist", data_dir=tmp_path, seed=2)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert 0 <= a.images.min() and a.images.max() <= 1 and a.images.dtype == np.float32
    # Same images as clean MNIST in the same (seeded) order, 157 of 784 pixels replaced in each.
    order = load_dataset("mnist", data_dir=tmp_path, seed=1)
    np.testing.assert_array_equal(a.labels, order.labels)
    changed = (a.images != order.images).reshape(40, -1).sum(axis=1)
    assert changed.max() <= 157 and changed.min() >= 150
    assert abs(changed.mean() / 784 - 0.2) < 0.005
    assert "20%" in a.source
    # Without a seed: file order, still reproducible.
    plain1 = load_dataset("noisy-mnist", data_dir=tmp_path)
    plain2 = load_dataset("noisy-mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(plain1.images, plain2.images)
    np.testing.assert_array_equal(plain1.labels, clean.labels)


@pytest.mark.parametrize("seed", [None, 3])
def test_noisy_mnist_train_and_test_noise_are_independent(tmp_path, seed):
    # Train and test files hold the same clean images: any shared noise would show as equal masks.
    images, labels = _idx_arrays(10, seed=5)
    (tmp_path / "mnist").mkdir()
    for name, array in zip(IDX_NAMES, (images, labels, images, labels)):
        idx.write_idx(tmp_path / "mnist" / name, array)
    clean = {split: load_dataset("mnist", split, data_dir=tmp_path, seed=seed) for split in ("train", "test")}
    np.testing.assert_array_equal(clean["train"].images, clean["test"].images)  # same selection too
    noisy = {split: load_dataset("noisy-mnist", split, data_dir=tmp_path, seed=seed) for split in ("train", "test")}
    masks = {split: noisy[split].images != clean[split].images for split in noisy}
    for k in range(10):
        assert not np.array_equal(masks["train"][k], masks["test"][k])
    # ~157 positions of 784 each: chance overlap ~20%, far from the 100% of a shared draw
    overlap = (masks["train"] & masks["test"]).sum() / masks["train"].sum()
    assert overlap < 0.4
    for split in ("train", "test"):  # still deterministic
        again = load_dataset("noisy-mnist", split, data_dir=tmp_path, seed=seed)
        np.testing.assert_array_equal(again.images, noisy[split].images)
        np.testing.assert_array_equal(again.labels, noisy[split].labels)


def test_noisy_mnist_keeps_the_seeded_selection_and_has_a_new_data_version(tmp_path):
    make_idx_dir(tmp_path / "mnist", n_train=40)
    noisy = load_dataset("noisy-mnist", data_dir=tmp_path, seed=7, limit=12)
    rows = np.random.default_rng(7).choice(40, size=12, replace=False)  # the documented selection draw
    full = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(noisy.labels, full.labels[rows])
    kept = (noisy.images == full.images[rows]).reshape(12, -1).mean(axis=1)
    assert kept.min() > 0.75  # each noisy image is its selected clean image but for ~20% of pixels
    assert loaders.data_version("noisy-mnist") == 2 and loaders.data_version("mnist") == 1


def test_noise_fraction_is_configurable(tmp_path):
    make_idx_dir(tmp_path / "mnist", n_train=20)
    clean = load_dataset("mnist", data_dir=tmp_path)
    half = load_dataset("noisy-mnist", data_dir=tmp_path, noise_fraction=0.5)
    changed = (half.images != clean.images).reshape(20, -1).sum(axis=1)
    assert changed.max() <= 392 and changed.min() >= 380
    none = load_dataset("noisy-mnist", data_dir=tmp_path, noise_fraction=0.0)
    np.testing.assert_array_equal(none.images, clean.images)
    for bad in [-0.1, 1.5, "0.2", True]:
        with pytest.raises(DatasetError, match="noise_fraction"):
            load_dataset("noisy-mnist", data_dir=tmp_path, noise_fraction=bad)


def test_replace_pixels_works_on_colour_images_and_keeps_the_input():
    images = np.zeros((3, 4, 4, 3), np.float32)
    out = replace_pixels(images, 0.25, np.random.default_rng(0))
    assert (out != 0).reshape(3, -1).sum(axis=1).tolist() == [12, 12, 12]
    assert not images.any()


# ---------------------------------------------------------------- data dir

def test_data_dir_precedence_argument_then_env_then_home(tmp_path, monkeypatch):
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "rramcosim" / "datasets"
    monkeypatch.setenv(loaders.ENV_DATA_DIR, str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir("~/x") == tmp_path / "home" / "x"


def test_loaders_follow_the_data_dir_precedence(tmp_path, monkeypatch):
    make_idx_dir(tmp_path / "home" / ".cache" / "rramcosim" / "datasets" / "mnist", n_train=11)
    assert len(load_dataset("mnist")) == 11
    make_idx_dir(tmp_path / "env" / "mnist", n_train=12)
    monkeypatch.setenv(loaders.ENV_DATA_DIR, str(tmp_path / "env"))
    assert len(load_dataset("mnist")) == 12
    make_idx_dir(tmp_path / "arg" / "mnist", n_train=13)
    assert len(load_dataset("mnist", data_dir=tmp_path / "arg")) == 13


# ---------------------------------------------------------------- download and verify

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server for tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/gone/"


def test_download_checks_the_checksum_then_renames(tmp_path, server):
    (tmp_path / "www" / "good").mkdir()
    payload = os.urandom(3 << 20)  # several chunks
    (tmp_path / "www" / "good" / "f.bin").write_bytes(payload)
    dest = tmp_path / "out" / "f.bin"
    got = download_file([f"{server}/good/f.bin"], dest, sha256(hashlib.sha256(payload).hexdigest()))
    assert got == dest and dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["f.bin"]


def test_corrupt_download_fails_and_leaves_nothing(tmp_path, server):
    (tmp_path / "www" / "bad").mkdir()
    (tmp_path / "www" / "bad" / "f.bin").write_bytes(b"corrupted")
    dest = tmp_path / "out" / "f.bin"
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        download_file([f"{server}/bad/f.bin"], dest, md5(_md5(b"original")))
    assert f"{server}/bad/f.bin" in str(info.value)
    assert list(dest.parent.iterdir()) == []


def test_mirrors_are_tried_in_order_and_all_failures_listed(tmp_path, server):
    for name, content in [("bad", b"corrupted"), ("good", b"original")]:
        (tmp_path / "www" / name).mkdir()
        (tmp_path / "www" / name / "f.bin").write_bytes(content)
    mirrors = [_closed_port_url(), f"{server}/missing/", f"{server}/bad", f"{server}/good/"]
    dest = tmp_path / "out" / "f.bin"
    download_file(mirror_urls(mirrors, "f.bin"), dest, md5(_md5(b"original")))
    assert dest.read_bytes() == b"original"
    dest.unlink()
    with pytest.raises(DatasetError) as info:
        download_file(mirror_urls(mirrors[:3], "f.bin"), dest, md5(_md5(b"original")))
    text = str(info.value)
    assert "tried" in text and "URLError" in text and "404" in text and "checksum mismatch" in text
    assert all(url in text for url in mirror_urls(mirrors[:3], "f.bin"))
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(DatasetError, match="only http and https"):
        download_file(["file:///etc/passwd"], dest, md5(_md5(b"x")))


def _serve_idx(tmp_path, mirror):
    """MNIST-like files on the server; returns a Source whose checksums match them."""
    arrays = make_idx_dir(tmp_path / "www" / mirror, n_train=25, n_test=10, seed=9)
    files = tuple(RemoteFile(name=n, checksum=md5(_md5((tmp_path / "www" / mirror / n).read_bytes())),
                             content_checksum=md5(_md5(gzip.decompress((tmp_path / "www" / mirror / n).read_bytes()))))
                  for n in IDX_NAMES)
    return arrays, files


def test_load_with_download_fetches_verifies_and_loads(tmp_path, server, monkeypatch):
    arrays, files = _serve_idx(tmp_path, "m1")
    source = dataclasses.replace(loaders.MNIST, files=files, downloads=files,
                                 mirrors=(f"{server}/nowhere/", f"{server}/m1/"))
    monkeypatch.setitem(loaders.SOURCES, DatasetName.NOISY_MNIST, source)
    root = tmp_path / "data"
    data = load_dataset("noisy-mnist", "test", data_dir=root, download=True, verify=True, noise_fraction=0)
    np.testing.assert_array_equal(data.labels, arrays[IDX_NAMES[3]])
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(IDX_NAMES)
    assert all(check.verdict is Verdict.FILE for check in verify_dataset("noisy-mnist", root))


def test_cifar_download_fetches_and_extracts_the_archive(tmp_path, server, monkeypatch):
    (tmp_path / "www" / "c").mkdir()
    archive = make_cifar_archive(tmp_path / "www" / "c")
    remote = RemoteFile(name=cifar.ARCHIVE, checksum=md5(_md5(archive.read_bytes())))
    source = dataclasses.replace(loaders.CIFAR10, mirrors=(f"{server}/c/",), downloads=(remote,))
    monkeypatch.setitem(loaders.SOURCES, DatasetName.CIFAR10, source)
    root = tmp_path / "data"
    data = load_dataset("cifar10", "train", data_dir=root, download=True)
    assert data.images.shape == (10, 32, 32, 3)
    assert (root / cifar.ARCHIVE).is_file() and (root / cifar.FOLDER / "test_batch").is_file()


def test_checksums_accept_a_recompressed_gz_with_exact_content(tmp_path):
    raw = b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03"
    original = gzip.compress(raw, compresslevel=1, mtime=1)
    remote = RemoteFile(name="l.gz", checksum=md5(_md5(original)), content_checksum=md5(_md5(raw)))
    path = tmp_path / "l.gz"
    path.write_bytes(original)
    assert check_file(path, remote).verdict is Verdict.FILE
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    assert check_file(path, remote).verdict is Verdict.CONTENT
    path.write_bytes(gzip.compress(raw + b"\x04"))
    check = check_file(path, remote)
    assert check.verdict is Verdict.MISMATCH and not check.ok and _md5(raw) in check.detail
    path.write_bytes(b"junk")
    assert check_file(path, remote).verdict is Verdict.MISMATCH
    assert check_file(tmp_path / "absent.gz", remote).verdict is Verdict.MISSING


def test_verify_true_refuses_files_that_do_not_match(tmp_path, monkeypatch):
    make_idx_dir(tmp_path / "mnist")
    with pytest.raises(DatasetError, match="checksum verification failed") as info:
        load_dataset("mnist", data_dir=tmp_path, verify=True)  # generated files, real checksums
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    load_dataset("mnist", data_dir=tmp_path)  # verify=False reads them
    make_cifar_archive(tmp_path)
    with pytest.raises(DatasetError, match="checksum verification failed"):
        load_dataset("cifar10", data_dir=tmp_path, verify=True)
    assert not (tmp_path / cifar.FOLDER).exists()  # refused before extraction


# ---------------------------------------------------------------- the shipped files

@pytest.fixture(scope="module")
def shared():
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"shared data sets not found at {SHARED}")
    return SHARED


@pytest.mark.data
@pytest.mark.parametrize("name, mean, train_counts", [
    ("mnist", 0.1307, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    ("fashion-mnist", 0.2860, [6000] * 10),
])
def test_shared_data_sets_load_as_documented(shared, name, mean, train_counts):
    train = load_dataset(name, "train", data_dir=shared)
    assert train.images.shape == (60000, 28, 28)
    assert np.bincount(train.labels).tolist() == train_counts
    assert train.images.mean() == pytest.approx(mean, abs=5e-5)
    test = load_dataset(name, "test", data_dir=shared)
    assert test.images.shape == (10000, 28, 28) and set(test.labels.tolist()) == set(range(10))


@pytest.mark.data
@pytest.mark.parametrize("name, verdicts", [
    # The train images were re-compressed (shared/datasets/*/VERIFY.txt): content checksum only.
    ("mnist", [Verdict.CONTENT, Verdict.FILE, Verdict.FILE, Verdict.FILE]),
    ("fashion-mnist", [Verdict.CONTENT, Verdict.FILE, Verdict.CONTENT, Verdict.FILE]),
])
def test_shared_files_match_the_published_checksums(shared, name, verdicts):
    checks = verify_dataset(name, shared)
    assert [check.path.name for check in checks] == list(IDX_NAMES)
    assert [check.verdict for check in checks] == verdicts
    load_dataset(name, "test", data_dir=shared, verify=True)


def test_download_keeps_files_that_are_already_there(tmp_path, monkeypatch):
    nowhere = (_closed_port_url(),)  # any download attempt would fail
    for name in (DatasetName.MNIST, DatasetName.CIFAR10):
        monkeypatch.setitem(loaders.SOURCES, name, dataclasses.replace(loaders.SOURCES[name], mirrors=nowhere))
    make_idx_dir(tmp_path / "mnist")
    make_cifar_dir(tmp_path)
    assert download_dataset("mnist", tmp_path) == tmp_path / "mnist"
    assert download_dataset("cifar10", tmp_path) == tmp_path / cifar.FOLDER
    assert len(load_dataset("mnist", data_dir=tmp_path, download=True)) == 30
    (tmp_path / "mnist" / IDX_NAMES[3]).unlink()
    with pytest.raises(DatasetError, match="could not download t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=True)


def test_cli_downloads_then_verifies_and_refuses_a_corrupt_file(tmp_path, server, monkeypatch):
    from click.testing import CliRunner

    from rramcosim.cli import main

    _, files = _serve_idx(tmp_path, "m1")
    source = dataclasses.replace(loaders.MNIST, files=files, downloads=files, mirrors=(f"{server}/m1/",))
    monkeypatch.setitem(loaders.SOURCES, DatasetName.MNIST, source)
    root = tmp_path / "data"
    missing = CliRunner().invoke(main, ["experiment", "classify", "--data-dir", str(root), "--out",
                                        str(tmp_path / "run")])
    assert missing.exit_code == 1 and "rramcosim data download mnist" in missing.output
    got = CliRunner().invoke(main, ["data", "download", "mnist", "--data-dir", str(root)])
    assert got.exit_code == 0, got.output
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(IDX_NAMES)
    ok = CliRunner().invoke(main, ["data", "verify", "mnist", "--data-dir", str(root)])
    assert ok.exit_code == 0 and ok.output.count("checksum of the file matches") == 4
    (root / "mnist" / IDX_NAMES[0]).write_bytes(b"junk")
    bad = CliRunner().invoke(main, ["data", "verify", "mnist", "--data-dir", str(root)])
    assert bad.exit_code == 1 and "1 file(s)" in bad.output
