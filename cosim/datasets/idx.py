"""The IDX format of MNIST and Fashion-MNIST, parsed by hand with strict checks.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (TT: element type, DD: number of
dimensions), then DD big-endian uint32 sizes, then the elements row-major. Images are
``0x00000803`` (uint8, n x rows x cols), labels ``0x00000801`` (uint8, n). The files are
usually gzipped; a file is gunzipped when it starts with the gzip magic bytes.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from cosim.datasets.mnist_sample import DatasetError

logger = logging.getLogger(__name__)

IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_ELEMENT_TYPES = {  # IDX type code -> element dtype (multi-byte types are big-endian)
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is a ``DatasetError`` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def read_maybe_gzip(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, gunzipped if they start with the gzip magic; errors name the file."""
    path = Path(path)
    data = read_bytes(path)
    if data[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise DatasetError(f"{path}: not a readable gzip file ({exc})") from None
    if path.suffix == ".gz":
        # A .gz without the gzip magic is a broken download (an HTML error page, say).
        raise DatasetError(f"{path}: not a readable gzip file (no gzip header)")
    return data


def parse_idx(data: bytes, *, name: str, magic: int | None = None) -> np.ndarray:
    """The array held by IDX bytes ``data`` (read-only view); ``name`` is used in errors.

    ``magic``: the magic number the file must have (``IMAGES_MAGIC``, ``LABELS_MAGIC``).
    """
    if len(data) < 4:
        raise DatasetError(f"{name}: {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or code not in _ELEMENT_TYPES or ndim == 0:
        raise DatasetError(f"{name}: bad magic number 0x{found:08x}, not an IDX file")
    if magic is not None and found != magic:
        raise DatasetError(f"{name}: wrong magic number 0x{found:08x}, expected 0x{magic:08x}")
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DatasetError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {start})")
    shape = struct.unpack(f">{ndim}I", data[4:start])
    dtype = _ELEMENT_TYPES[code]
    count = math.prod(shape)
    need, have = count * dtype.itemsize, len(data) - start
    if have < need:
        raise DatasetError(f"{name}: truncated, header says shape {shape} ({need} bytes of data) "
                           f"but the file holds {have}")
    if have > need:
        raise DatasetError(f"{name}: {have - need} unexpected bytes after the {shape} data")
    return np.frombuffer(data, dtype=dtype, count=count, offset=start).reshape(shape)


def read_idx(path: str | os.PathLike[str], *, magic: int | None = None) -> np.ndarray:
    """The array in the IDX file ``path`` (gzipped or not), checked as ``parse_idx`` does."""
    return parse_idx(read_maybe_gzip(path), name=str(path), magic=magic)


def read_images_and_labels(images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str],
                           *, side: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, side, side) and int64 labels (n,) of an IDX pair, cross-checked."""
    images = read_idx(images_path, magic=IMAGES_MAGIC)
    if images.shape[1:] != (side, side):
        raise DatasetError(f"{images_path}: images must be {side}x{side}, got "
                           f"{images.shape[1]}x{images.shape[2]}")
    labels = read_idx(labels_path, magic=LABELS_MAGIC)
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{labels_path}: {labels.shape[0]} labels but {images_path} holds "
                           f"{images.shape[0]} images (count mismatch)")
    if labels.size and labels.max() >= n_classes:
        raise DatasetError(f"{labels_path}: labels must be 0..{n_classes - 1}, got up to {labels.max()}")
    logger.debug("read %d images of %dx%d from %s", images.shape[0], side, side, images_path)
    return images, labels.astype(np.int64)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzipped (deterministically) when ``compress``.

    The inverse of ``read_idx``; used to make small files in the official format.
    """
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx writes uint8 arrays of 1..255 dimensions, got {array.dtype} {array.shape}")
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path
