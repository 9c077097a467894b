"""One entry point for every data set: ``load_dataset(name, split, ...) -> ImageSet``.

Files live under a data dir, chosen as: the ``data_dir`` argument, else the environment
variable ``RRAMCOSIM_DATA_DIR``, else ``~/.cache/rramcosim/datasets``. Layout::

    <data dir>/mnist/            train-images-idx3-ubyte.gz ... (or gunzipped, same names less .gz)
    <data dir>/fashion-mnist/    the same four names
    <data dir>/cifar-10-batches-py/   data_batch_1..5, test_batch, batches.meta
    <data dir>/cifar-10-python.tar.gz  (extracted on first use when the folder is absent)

``shared/datasets`` of the workplace is such a data dir (MNIST and Fashion-MNIST).
"""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from cosim.datasets import cifar
from cosim.datasets.download import FileCheck, RemoteFile, check_file, download_file, mirror_urls
from cosim.datasets.idx import read_images_and_labels
from cosim.datasets.mnist_sample import DatasetError, ImageSet, load_mnist_sample
from cosim.datasets.noise import replace_pixels
from cosim.datasets.sources import CIFAR10, FASHION_MNIST, MNIST, Source

logger = logging.getLogger(__name__)

ENV_DATA_DIR = "RRAMCOSIM_DATA_DIR"
DEFAULT_NOISE_FRACTION = 0.2
_NOISE_SEED_WITHOUT_SEED = 0  # noisy MNIST is always reproducible, even without a seed
_IDX_SIDE = 28
_N_CLASSES = 10


class DatasetName(enum.Enum):
    MNIST = "mnist"
    FASHION_MNIST = "fashion-mnist"
    NOISY_MNIST = "noisy-mnist"  # MNIST with a fraction of each image's pixels replaced by noise
    CIFAR10 = "cifar10"
    MNIST_SAMPLE = "mnist-sample"  # the embedded 5,000 digits (no files; 4,000 train / 1,000 test)


class Split(enum.Enum):
    TRAIN = "train"
    TEST = "test"


# Data set -> the files it is read from (noisy MNIST is MNIST's files).
SOURCES: dict[DatasetName, Source] = {
    DatasetName.MNIST: MNIST,
    DatasetName.FASHION_MNIST: FASHION_MNIST,
    DatasetName.NOISY_MNIST: MNIST,
    DatasetName.CIFAR10: CIFAR10,
}
_IDX_NAMES = {  # split -> (images, labels) file names of the IDX data sets
    Split.TRAIN: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    Split.TEST: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_CIFAR_BATCHES = {Split.TRAIN: cifar.TRAIN_BATCHES, Split.TEST: cifar.TEST_BATCHES}
# Second seed word of the noise generator, per split: train and test noise are independent draws.
_NOISE_STREAM = {Split.TRAIN: 1, Split.TEST: 2}
# Version of the images a call gives, bumped when they change for the same arguments (feature
# caches key on it). noisy-mnist 2: noise drawn per split (1 gave train and test the same noise).
_DATA_VERSIONS = {DatasetName.NOISY_MNIST: 2}


def dataset_names() -> tuple[str, ...]:
    """The accepted data set names, for a command-line choice."""
    return tuple(member.value for member in DatasetName)


def _parse(kind: type[enum.Enum], value: object, what: str) -> Any:
    if isinstance(value, kind):
        return value
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise DatasetError(f"unknown {what} {value!r}; choose one of {choices}") from None


def parse_name(name: str | DatasetName) -> DatasetName:
    """``name`` as a ``DatasetName``; unknown names list the accepted ones."""
    return _parse(DatasetName, name, "data set")


def parse_split(split: str | Split) -> Split:
    return _parse(Split, split, "split")


def data_version(name: str | DatasetName) -> int:
    """Version of the images ``load_dataset(name, ...)`` gives: 1, raised each time the same
    arguments start to give other images (a cache of anything computed from them keys on it)."""
    return _DATA_VERSIONS.get(parse_name(name), 1)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data dir: ``data_dir``, else ``$RRAMCOSIM_DATA_DIR``, else ``~/.cache/rramcosim/datasets``."""
    if data_dir is not None and str(data_dir):
        return Path(data_dir).expanduser()
    from_env = os.environ.get(ENV_DATA_DIR, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / ".cache" / "rramcosim" / "datasets"


def _source(name: DatasetName) -> Source:
    if name not in SOURCES:
        raise DatasetError(f"{name.value} is embedded: it has no files to download or verify")
    return SOURCES[name]


def _local(folder: Path, remote: RemoteFile) -> tuple[Path, RemoteFile] | None:
    """The local copy of ``remote``: as named, or gunzipped (its name less ``.gz``)."""
    if (folder / remote.name).is_file():
        return folder / remote.name, remote
    if remote.name.endswith(".gz") and remote.content_checksum is not None:
        plain = folder / remote.name[:-3]
        if plain.is_file():
            return plain, RemoteFile(name=plain.name, checksum=remote.content_checksum)
    return None


def download_dataset(name: str | DatasetName, data_dir: str | os.PathLike[str] | None = None, *,
                     timeout: float = 60.0) -> Path:
    """Fetch the files of ``name`` that are not in the data dir yet; returns its folder.

    Every download is checked against its published checksum before it gets its name; CIFAR-10's
    archive is then extracted. Files already there are kept (check them with ``verify_dataset``).
    """
    dataset = parse_name(name)
    source = _source(dataset)
    root = resolve_data_dir(data_dir)
    folder = root / source.folder
    if dataset is DatasetName.CIFAR10 and folder.is_dir():
        return folder  # already extracted: the archive is not needed
    target = root / source.download_folder
    for remote in source.downloads:
        if _local(target, remote) is None:
            download_file(mirror_urls(source.mirrors, remote.name), target / remote.name,
                          remote.checksum, timeout=timeout)
    if dataset is DatasetName.CIFAR10:
        cifar.extract_archive(root / cifar.ARCHIVE, root)
    return folder


def verify_dataset(name: str | DatasetName,
                   data_dir: str | os.PathLike[str] | None = None) -> tuple[FileCheck, ...]:
    """Check each file of ``name`` in the data dir against its published checksum."""
    source = _source(parse_name(name))
    folder = resolve_data_dir(data_dir) / source.folder
    checks = []
    for remote in source.files:
        found = _local(folder, remote)
        checks.append(check_file(*found) if found else check_file(folder / remote.name, remote))
    for check in checks:
        logger.info("%s: %s (%s)", check.path, check.verdict.value, check.detail)
    return tuple(checks)


def _require_ok(checks: list[FileCheck]) -> None:
    bad = [check for check in checks if not check.ok]
    if bad:
        lines = "\n  ".join(f"{c.path}: {c.verdict.value} ({c.detail})" for c in bad)
        raise DatasetError(f"checksum verification failed:\n  {lines}")


def _missing_error(name: DatasetName, folder: Path, missing: list[str]) -> DatasetError:
    return DatasetError(
        f"{name.value}: {', '.join(missing)} not found in {folder}; fetch them with `rramcosim data "
        f"download {name.value}` (or download=True), or point data_dir (--data-dir, ${ENV_DATA_DIR}) at a "
        f"folder holding {folder.name}/")


def _read_idx_split(name: DatasetName, root: Path, split: Split, *, download: bool,
                    verify: bool) -> tuple[np.ndarray, np.ndarray, str]:
    source = SOURCES[name]
    folder = root / source.folder
    wanted = [source.file(file_name) for file_name in _IDX_NAMES[split]]
    found = [_local(folder, remote) for remote in wanted]
    if None in found and download:
        download_dataset(name, root)
        found = [_local(folder, remote) for remote in wanted]
    if None in found:
        raise _missing_error(name, folder, [r.name for r, f in zip(wanted, found) if f is None])
    paths = [pair[0] for pair in found if pair is not None]
    if verify:
        _require_ok([check_file(*pair) for pair in found if pair is not None])
    images, labels = read_images_and_labels(paths[0], paths[1], side=_IDX_SIDE, n_classes=_N_CLASSES)
    return images, labels, f"{source.folder}/{paths[0].name}"


def _read_cifar_split(root: Path, split: Split, *, download: bool,
                      verify: bool) -> tuple[np.ndarray, np.ndarray, str, tuple[str, ...]]:
    source = SOURCES[DatasetName.CIFAR10]
    folder = root / cifar.FOLDER
    names = (*_CIFAR_BATCHES[split], cifar.META)
    if not folder.is_dir():
        archive = root / cifar.ARCHIVE
        if not archive.is_file() and download:
            download_dataset(DatasetName.CIFAR10, root)
        elif archive.is_file():
            if verify:
                _require_ok([check_file(archive, source.downloads[0])])
            cifar.extract_archive(archive, root)
        else:
            raise _missing_error(DatasetName.CIFAR10, folder, [cifar.FOLDER + "/", cifar.ARCHIVE])
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DatasetError(f"cifar10: {folder} is incomplete (no {', '.join(missing)}); "
                           f"remove it to extract {cifar.ARCHIVE} again")
    if verify:
        _require_ok([check_file(folder / n, source.file(n)) for n in names])
    images, labels = cifar.read_split(folder, _CIFAR_BATCHES[split])
    class_names = cifar.read_meta(folder / cifar.META)
    return images, labels, f"{cifar.FOLDER}/{split.value}", class_names


def _check_limit(limit: int | None, total: int, what: str) -> int:
    if limit is None:
        return total
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or not 1 <= limit <= total:
        raise DatasetError(f"limit must be an integer in 1..{total} (images in {what}), got {limit!r}")
    return int(limit)


def load_dataset(name: str | DatasetName, split: str | Split = Split.TRAIN, *,
                 data_dir: str | os.PathLike[str] | None = None, download: bool = False,
                 verify: bool = False, seed: int | None = None, noise_fraction: float | None = None,
                 limit: int | None = None) -> ImageSet:
    """Images of ``split`` of data set ``name`` as an ``ImageSet`` (float32 in [0, 1]).

    Grey data sets give (n, 28, 28), CIFAR-10 (n, 32, 32, 3) channels-last RGB.
    ``seed=None``: the first ``limit`` images in file order (all without ``limit``); with a seed,
    ``limit`` distinct images drawn in random order by ``np.random.default_rng(seed)``.
    ``noise_fraction`` (noisy-mnist only, default 0.2): share of each image's pixels replaced
    by uniform noise, drawn from its own generator ``np.random.default_rng([s, t])``: ``s`` is
    ``seed`` (0 when ``seed`` is None), ``t`` is 1 for the train split and 2 for the test split,
    so the two splits' noise is independent and every call is reproducible; the selection draws
    do not depend on it. ``download``: fetch missing files (checksummed); ``verify``: check the
    files' published checksums before reading. ``mnist-sample`` is the embedded set, no files: its
    "train" split holds 4,000 digits, "test" the other 1,000 (``cosim.datasets.mnist_sample.split_rows``).
    """
    dataset, which = parse_name(name), parse_split(split)
    if noise_fraction is not None and dataset is not DatasetName.NOISY_MNIST:
        raise DatasetError(f"noise_fraction applies to noisy-mnist only, not {dataset.value}")
    if dataset is DatasetName.MNIST_SAMPLE:
        return load_mnist_sample(limit, seed=seed, split=which.value)
    fraction = DEFAULT_NOISE_FRACTION if noise_fraction is None else noise_fraction
    if dataset is DatasetName.NOISY_MNIST and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                               or not 0 <= fraction <= 1):
        raise DatasetError(f"noise_fraction must be a number in [0, 1], got {fraction!r}")
    root = resolve_data_dir(data_dir)
    if dataset is DatasetName.CIFAR10:
        pixels, labels, where, class_names = _read_cifar_split(root, which, download=download, verify=verify)
    else:
        pixels, labels, where = _read_idx_split(dataset, root, which, download=download, verify=verify)
        class_names = SOURCES[dataset].class_names
    total = labels.shape[0]
    count = _check_limit(limit, total, where)
    rng = None if seed is None else np.random.default_rng(seed)
    if rng is None:
        index: slice | np.ndarray = slice(0, count)  # a view: no copy of the uint8 pixels
        how = f"first {count}" if count < total else "all"
    else:
        index = rng.choice(total, size=count, replace=False)
        how = f"{count} at random, seed={seed}"
    chosen = pixels[index]
    images = np.empty(chosen.shape, dtype=np.float32)  # C order, whatever the strides of chosen
    np.divide(chosen, np.float32(255.0), out=images)  # one pass, exactly k/255 like the sample
    if dataset is DatasetName.NOISY_MNIST:
        noise_seed = _NOISE_SEED_WITHOUT_SEED if seed is None else int(seed)
        images = replace_pixels(images, fraction, np.random.default_rng([noise_seed, _NOISE_STREAM[which]]))
        how += f" of {total}, {fraction:.0%} of pixels replaced by uniform noise"
    else:
        how += f" of {total}"
    source = f"{dataset.value} {which.value} ({how}; {where} in {root})"
    logger.debug("loaded %s", source)
    return ImageSet(images=images, labels=labels[index], source=source, class_names=class_names)


__all__ = ["DEFAULT_NOISE_FRACTION", "ENV_DATA_DIR", "DatasetName", "Split", "data_version", "dataset_names",
           "download_dataset", "load_dataset", "parse_name", "parse_split", "resolve_data_dir",
           "verify_dataset"]
