"""CIFAR-10 in its official "python version": pickled batches, read without trusting them.

``cifar-10-batches-py/`` holds ``data_batch_1`` .. ``data_batch_5`` (train), ``test_batch`` and
``batches.meta``. A batch is a pickled dict: ``b"data"`` a uint8 array (n, 3072) whose rows are
the R, G and B planes of a 32 x 32 image one after the other, ``b"labels"`` a list of n ints.
``batches.meta`` has ``b"label_names"``, the 10 class names as bytes. They were written by
Python 2, hence ``encoding="bytes"``.

Unpickling can run any callable the file names, so only the three globals a numpy array needs
are resolved (see ``_RestrictedUnpickler``); anything else is refused before it runs.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cosim.datasets.idx import read_bytes
from cosim.datasets.mnist_sample import DatasetError

logger = logging.getLogger(__name__)

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META = "batches.meta"
SIDE = 32
CHANNELS = 3
N_CLASSES = 10
_ROW = SIDE * SIDE * CHANNELS


def _reconstruct() -> Any:
    try:  # numpy >= 2 moved the module; pickles name either path
        from numpy._core.multiarray import _reconstruct as func
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as func
    return func


# (module, name) -> what it resolves to: exactly what an ndarray in a pickle needs.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Builtin containers, bytes, ints, str and numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}")
        return resolve()


def restricted_load(data: bytes, *, name: str) -> Any:
    """Unpickle ``data`` with ``_RestrictedUnpickler``; ``name`` is used in errors."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DatasetError(f"{name}: not a usable pickle ({exc})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise DatasetError(f"{name}: not a usable pickle ({type(exc).__name__}: {exc})") from None


def read_batch_rows(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 rows (n, 3072) as stored (R, G, B planes) and int64 labels (n,) of one batch file."""
    path = Path(path)
    batch = restricted_load(read_bytes(path), name=str(path))
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    missing = [key for key in (b"data", b"labels") if key not in batch]
    if missing:
        raise DatasetError(f"{path}: missing keys {missing} (has {sorted(map(repr, batch))})")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: b'data' must be a uint8 array (n, {_ROW}), got {what}")
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{path}: b'labels' must be a list of ints")
    if len(labels) != data.shape[0]:
        raise DatasetError(f"{path}: {len(labels)} labels for {data.shape[0]} images (count mismatch)")
    label_array = np.array(labels, dtype=np.int64)
    if label_array.size and (label_array.min() < 0 or label_array.max() >= N_CLASSES):
        raise DatasetError(f"{path}: labels must be 0..{N_CLASSES - 1}, "
                           f"got {label_array.min()}..{label_array.max()}")
    return data, label_array


def rows_to_images(rows: np.ndarray) -> np.ndarray:
    """Rows (n, 3072) of R, G, B planes as a channels-last view (n, 32, 32, 3)."""
    return rows.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)


def read_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 32, 32, 3) channels-last and int64 labels (n,) of one batch file."""
    rows, labels = read_batch_rows(path)
    return rows_to_images(rows), labels


def read_meta(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The class names in ``batches.meta``."""
    path = Path(path)
    meta = restricted_load(read_bytes(path), name=str(path))
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if (not isinstance(names, list) or len(names) != N_CLASSES
            or not all(isinstance(n, bytes) for n in names)):
        raise DatasetError(f"{path}: expected a dict with b'label_names', a list of {N_CLASSES} bytes")
    try:
        return tuple(n.decode("ascii") for n in names)
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: class names are not ASCII") from None


def read_split(folder: str | os.PathLike[str], batches: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 32, 32, 3) (a channels-last view) and labels of the batches, in order."""
    parts = [read_batch_rows(Path(folder) / name) for name in batches]
    # Joining the contiguous rows first leaves one strided pass for the caller's conversion.
    rows = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    return rows_to_images(rows), np.concatenate([p[1] for p in parts])


def _checked_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The members, each a plain file or folder inside ``FOLDER``; anything else is an error."""
    members = tar.getmembers()
    for member in members:
        parts = PurePosixPath(member.name).parts
        unsafe = (member.name.startswith(("/", "\\")) or ".." in parts or "\\" in member.name
                  or not parts or parts[0] != FOLDER)
        if unsafe or not (member.isfile() or member.isdir()):
            raise DatasetError(f"{archive}: refusing unsafe member {member.name!r} "
                               f"(only files and folders inside {FOLDER}/ are extracted)")
    return members


def extract_archive(archive: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> Path:
    """Extract ``cifar-10-python.tar.gz`` into ``data_dir``; returns ``data_dir/FOLDER``.

    Members are checked first (no absolute paths, ``..``, links or devices); the folder is
    extracted next to its destination and renamed into place, so no half folder is left behind.
    """
    archive, data_dir = Path(archive), Path(data_dir)
    target = data_dir / FOLDER
    scratch = Path(tempfile.mkdtemp(prefix=".cifar-extract-", dir=data_dir))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = _checked_members(tar, archive)
                if hasattr(tarfile, "data_filter"):  # defence in depth where Python has it
                    tar.extractall(scratch, members=members, filter="data")
                else:  # pragma: no cover - Python < 3.11.4
                    tar.extractall(scratch, members=members)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetError(f"{archive}: not a readable tar.gz archive ({exc})") from None
        if not (scratch / FOLDER).is_dir():
            raise DatasetError(f"{archive}: has no {FOLDER}/ folder")
        if not target.exists():
            os.replace(scratch / FOLDER, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("extracted %s into %s", archive.name, target)
    return target


def write_batch(path: str | os.PathLike[str], images: np.ndarray, labels: list[int]) -> Path:
    """Write a batch in the official layout (uint8 (n, 32, 32, 3) channels-last in)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != (SIDE, SIDE, CHANNELS):
        raise ValueError(f"images must be uint8 (n, {SIDE}, {SIDE}, {CHANNELS}), got {images.dtype} {images.shape}")
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), _ROW)
    batch = {b"batch_label": b"written by cosim.datasets", b"labels": [int(v) for v in labels],
             b"data": data, b"filenames": [f"image_{i}.png".encode() for i in range(len(images))]}
    path = Path(path)
    path.write_bytes(pickle.dumps(batch, protocol=4))  # protocol 4: bytes need no _codecs global
    return path


def write_meta(path: str | os.PathLike[str], class_names: tuple[str, ...]) -> Path:
    """Write ``batches.meta`` with the given class names."""
    meta = {b"num_cases_per_batch": 10000, b"label_names": [n.encode() for n in class_names],
            b"num_vis": _ROW}
    path = Path(path)
    path.write_bytes(pickle.dumps(meta, protocol=4))
    return path
