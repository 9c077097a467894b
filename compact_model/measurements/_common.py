"""Shared pieces of the measurement readers: the error type and strict cell parsing."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import numpy.typing as npt

PathLike = str | os.PathLike[str]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class MeasurementFormatError(ValueError):
    """A measurement file does not have the expected format.

    ``path`` is the file, ``location`` where the problem is (``"line 57"``,
    ``"sheet 'Run12', row 57"`` or None for the whole file), ``column`` the column name (or
    None) and ``problem`` the bare description. ``str(err)`` names all of them.
    """

    def __init__(self, path: PathLike, location: str | None, column: str | None,
                 problem: str) -> None:
        self.path = str(path)
        self.location = location
        self.column = column
        self.problem = problem
        where = self.path
        if location is not None:
            where += f" {location}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickling replays args=(message,), which does not fit __init__;
        # needed when readers run in worker processes.
        return (type(self), (self.path, self.location, self.column, self.problem))


def require_file(path: PathLike) -> Path:
    """Return ``path`` as a Path, raising FileNotFoundError (naming it) when it is absent."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(errno.ENOENT, "measurement file not found", str(path))
    return p


def read_text_lines(path: PathLike) -> list[str]:
    """All lines of a UTF-8 text file (BOM and CR/LF tolerated); error when it is empty."""
    p = require_file(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MeasurementFormatError(path, None, None,
                                     f"not a UTF-8 text file ({exc.reason} at byte {exc.start})"
                                     ) from None
    if not text.strip():
        raise MeasurementFormatError(path, None, None, "file is empty")
    return text.splitlines()


def parse_number(cell: object, path: PathLike, location: str, column: str | None,
                 *, allow_nan: bool = False) -> float:
    """One cell (text or a spreadsheet value) as a finite float, or a located error.

    Empty cells and booleans are errors: a silently-zero cell would corrupt a fit.
    """
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise MeasurementFormatError(path, location, column, "empty cell")
    if isinstance(cell, bool):
        raise MeasurementFormatError(path, location, column,
                                     f"expected a number, found boolean {cell!r}")
    if isinstance(cell, (int, float)):
        value = float(cell)
    elif isinstance(cell, str):
        try:
            value = float(cell)
        except ValueError:
            raise MeasurementFormatError(path, location, column,
                                         f"could not parse {cell!r} as a number") from None
    else:
        raise MeasurementFormatError(path, location, column,
                                     f"expected a number, found {type(cell).__name__} {cell!r}")
    if math.isnan(value) and allow_nan:
        return value
    if not math.isfinite(value):
        raise MeasurementFormatError(path, location, column, f"non-finite value {cell!r}")
    return value


def frozen_array(values: Any, name: str, dtype: Any = np.float64) -> npt.NDArray[Any]:
    """A read-only 1-D copy, so that frozen dataclasses are really immutable."""
    arr = np.array(values, dtype=dtype, copy=True)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def frozen_mapping(values: Mapping[str, str] | None) -> Mapping[str, str]:
    """A read-only copy of a str -> str mapping."""
    return MappingProxyType({str(k): str(v) for k, v in (values or {}).items()})


def check_same_length(owner: str, **arrays: npt.NDArray[Any]) -> int:
    """Common length of 1-D arrays (at least one element), else ValueError."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{owner}: arrays differ in length: {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{owner}: no data points")
    return n


def check_finite(owner: str, **arrays: npt.NDArray[Any]) -> None:
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{owner}: {name} contains NaN or inf")
