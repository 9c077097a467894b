"""1T1R-array data of the RRAM-RADAR-Tuning repository: pulse sweeps and cycling tables.

Both are TAB-separated text without header, resistances in ohm, voltages in V, pulse widths
in ns (converted to s here).

* Pulse sweeps, one row per pulse: ``addr, pw_ns, V_line, V_WL, R_initial, R_final``.
  V_line is the bit-line voltage for SET files and the source-line voltage for RESET files
  (names starting with ``reset`` or ``sl-reset``); V_WL is the access-transistor gate
  voltage, which sets the SET compliance current.
* Cycling tables, one row per cell: ``addr, R_1, R_2, ...`` alternating R after RESET (HRS)
  and R after SET (LRS) for each cycle. Rows may differ in length (and may end in empty
  cells); missing values become NaN. An explicit ``nan`` cell also means missing.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._common import FloatArray, IntArray, MeasurementFormatError, PathLike, check_same_length, \
    frozen_array, parse_number, read_text_lines, require_file

logger = logging.getLogger(__name__)

NS = 1e-9  # s per ns
MATCH_TOL = 1e-9  # relative tolerance of PulseSweep.select (per V or per ns at small values)


class PulseKind(enum.Enum):
    """Which operation a pulse sweep applies."""

    SET = "set"
    RESET = "reset"


def _columns(kind: PulseKind) -> tuple[str, ...]:
    line = "V_BL" if kind is PulseKind.SET else "V_SL"
    return ("addr", "pw_ns", line, "V_WL", "R_initial", "R_final")


def infer_pulse_kind(path: PathLike) -> PulseKind | None:
    """SET/RESET from a RADAR file name (``reset-*``, ``sl-reset-*`` -> RESET; ``set-*``,
    ``bl-set-*``, ``fppv-*`` -> SET), or None if the name does not tell."""
    tokens = Path(path).stem.lower().split("-")
    prefix = tokens[: tokens.index("sweep")] if "sweep" in tokens else tokens[:2]
    if "reset" in prefix:
        return PulseKind.RESET
    if "set" in prefix or "fppv" in prefix:
        return PulseKind.SET
    return None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)  # eq=False: array fields
class PulseSweep:
    """One row per applied pulse. Arrays are read-only and of equal length."""

    address: IntArray  # -, cell address in the array
    pulse_width: FloatArray  # s, width of the programming pulse
    v_line: FloatArray  # V, bit-line voltage (SET) or source-line voltage (RESET)
    v_gate: FloatArray  # V, word-line (access-transistor gate) voltage
    r_initial: FloatArray  # ohm, read resistance before the pulse
    r_final: FloatArray  # ohm, read resistance after the pulse
    kind: PulseKind  # -, SET or RESET sweep
    source: str  # -, path of the file read ("" if built in memory)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", frozen_array(self.address, "address", np.int64))
        for name in ("pulse_width", "v_line", "v_gate", "r_initial", "r_final"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), name))
        check_same_length("PulseSweep", **{f: getattr(self, f) for f in _ARRAYS})
        if not isinstance(self.kind, PulseKind):
            raise ValueError(f"PulseSweep: kind must be a PulseKind, got {self.kind!r}")

    def __len__(self) -> int:
        return len(self.address)

    def select(self, *, v_gate: float | None = None, v_line: float | None = None,
               pulse_width: float | None = None) -> PulseSweep:
        """Copy with only the rows matching every given value (V, V, s).

        Values match within a relative tolerance of 1e-9 (floored at 1e-9 V / 1e-18 s), so
        ``select(pulse_width=100e-9)`` finds rows read as 100 ns. ValueError if none match.
        """
        mask = np.ones(len(self), dtype=bool)
        for values, target, unit in ((self.v_gate, v_gate, 1.0), (self.v_line, v_line, 1.0),
                                     (self.pulse_width, pulse_width, NS)):
            if target is not None:
                tol = MATCH_TOL * max(abs(float(target)), unit)
                mask &= np.abs(values - float(target)) <= tol
        if not mask.any():
            raise ValueError(f"no rows of {self.source or 'the sweep'} match v_gate={v_gate}, "
                             f"v_line={v_line}, pulse_width={pulse_width}")
        return dataclasses.replace(self, **{f: getattr(self, f)[mask] for f in _ARRAYS})

    def group_by_gate(self) -> dict[float, FloatArray]:
        """R_final (ohm) of the rows of each word-line voltage, keys sorted ascending."""
        gates, inverse = np.unique(self.v_gate, return_inverse=True)
        return {float(g): self.r_final[inverse == i] for i, g in enumerate(gates)}


_ARRAYS = ("address", "pulse_width", "v_line", "v_gate", "r_initial", "r_final")


def read_pulse_sweep(path: PathLike, kind: PulseKind | str | None = None) -> PulseSweep:
    """A RADAR pulse-sweep file (6 tab-separated columns, no header).

    ``kind`` (PulseKind or "set"/"reset") defaults to the one inferred from the file name;
    MeasurementFormatError if it cannot be inferred.
    """
    require_file(path)
    if kind is None:
        kind = infer_pulse_kind(path)
        if kind is None:
            raise MeasurementFormatError(
                path, None, None, "cannot tell SET from RESET by the file name (expected it to "
                "start with set-, bl-set-, fppv-, reset- or sl-reset-); pass kind=")
    elif not isinstance(kind, PulseKind):
        kind = PulseKind(str(kind).lower())
    names = _columns(kind)
    data = _load_table(path, names)
    for col in (1, 4, 5):  # pulse width and resistances must be > 0
        bad = np.flatnonzero(data[:, col] <= 0)
        if bad.size:
            line = _data_line_numbers(path)[bad[0]]
            raise MeasurementFormatError(path, f"line {line}", names[col],
                                         f"must be > 0, got {float(data[bad[0], col])!r}")
    addr = data[:, 0]
    bad = np.flatnonzero(addr != np.round(addr))
    if bad.size:
        line = _data_line_numbers(path)[bad[0]]
        raise MeasurementFormatError(path, f"line {line}", "addr",
                                     f"address must be an integer, got {float(addr[bad[0]])!r}")
    sweep = PulseSweep(address=addr.astype(np.int64), pulse_width=data[:, 1] * NS,
                       v_line=data[:, 2], v_gate=data[:, 3], r_initial=data[:, 4],
                       r_final=data[:, 5], kind=kind, source=str(path))
    logger.debug("read %d %s pulses from %s", len(sweep), kind.value, path)
    return sweep


def _load_table(path: PathLike, names: tuple[str, ...]) -> np.ndarray:
    """(n, len(names)) finite floats. Fast path numpy.loadtxt; on any problem a line-by-line
    rescan finds the first bad line so that the error can name it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2, comments=None,
                              encoding="utf-8-sig")
    except ValueError as exc:
        _locate_problem(path, names)
        raise MeasurementFormatError(path, None, None, f"unreadable table ({exc})") from None
    if data.shape[0] == 0:
        raise MeasurementFormatError(path, None, None, "file is empty")
    if data.shape[1] != len(names) or not np.all(np.isfinite(data)):
        _locate_problem(path, names)
        raise MeasurementFormatError(path, None, None,
                                     f"expected {len(names)} finite columns, got {data.shape}")
    return data


def _locate_problem(path: PathLike, names: tuple[str, ...]) -> None:
    """Raise the located error for the first bad line (returns if none is found)."""
    for line_no, line in enumerate(read_text_lines(path), start=1):
        if not line:  # like loadtxt: only truly empty lines are skipped
            continue
        cells = line.split("\t")
        if len(cells) != len(names):
            raise MeasurementFormatError(path, f"line {line_no}", None,
                                         f"expected {len(names)} tab-separated columns "
                                         f"{names}, found {len(cells)}")
        for cell, name in zip(cells, names):
            parse_number(cell, path, f"line {line_no}", name)


def _data_line_numbers(path: PathLike) -> list[int]:
    """1-based line numbers of the non-empty lines (loadtxt skips empty ones)."""
    return [i for i, line in enumerate(read_text_lines(path), start=1) if line]


class HrsLrs(NamedTuple):
    """A pair of results for the high- and low-resistance states."""

    hrs: FloatArray | float
    lrs: FloatArray | float


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)  # eq=False: array fields
class CyclingTable:
    """Resistances of cells switched repeatedly; NaN marks a missing value."""

    address: IntArray  # -, cell address, shape (n_cells,)
    r_hrs: FloatArray  # ohm, R after each RESET, shape (n_cells, n_cycles)
    r_lrs: FloatArray  # ohm, R after each SET, shape (n_cells, n_cycles)
    source: str  # -, path of the file read ("" if built in memory)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", frozen_array(self.address, "address", np.int64))
        for name in ("r_hrs", "r_lrs"):
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if arr.ndim != 2 or arr.shape[0] != len(self.address):
                raise ValueError(f"CyclingTable: {name} must have shape (n_cells, n_cycles), "
                                 f"n_cells={len(self.address)}, got {arr.shape}")
            if np.any(arr <= 0) or np.any(np.isinf(arr)):
                raise ValueError(f"CyclingTable: {name} must be > 0 and finite (or NaN)")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.r_hrs.shape != self.r_lrs.shape:
            raise ValueError(f"CyclingTable: r_hrs {self.r_hrs.shape} and r_lrs "
                             f"{self.r_lrs.shape} differ in shape")

    @property
    def n_cycles(self) -> int:
        return int(self.r_hrs.shape[1])

    def cycle_to_cycle_spread(self) -> HrsLrs:
        """Per cell, the sample std (ddof=1) of ln R over its cycles, NaNs ignored:
        arrays of shape (n_cells,), NaN for cells with fewer than 2 values."""
        return HrsLrs(_nanstd(np.log(self.r_hrs), axis=1), _nanstd(np.log(self.r_lrs), axis=1))

    def device_to_device_spread(self) -> HrsLrs:
        """Sample std (ddof=1) over cells of each cell's median ln R: two floats (NaN if
        fewer than 2 cells have data)."""
        out = []
        for r in (self.r_hrs, self.r_lrs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells -> NaN median
                medians = np.nanmedian(np.log(r), axis=1)
            out.append(float(_nanstd(medians, axis=0)))
        return HrsLrs(out[0], out[1])


def _nanstd(x: np.ndarray, axis: int) -> np.ndarray:
    # NaN (not a RuntimeWarning) where fewer than 2 values remain.
    n = np.sum(np.isfinite(x), axis=axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        std = np.nanstd(x, axis=axis, ddof=1)
    return np.where(n >= 2, std, np.nan)


def read_cycling(path: PathLike) -> CyclingTable:
    """A RADAR cycling table: per row ``addr`` then alternating R_HRS, R_LRS per cycle."""
    rows: list[tuple[int, float, np.ndarray]] = []
    for line_no, line in enumerate(read_text_lines(path), start=1):
        line = line.rstrip("\t ")  # trailing empty cells of a ragged row = missing values
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 2:
            raise MeasurementFormatError(path, f"line {line_no}", None,
                                         "expected an address and at least one resistance, "
                                         f"found {len(cells)} column")
        try:
            values = np.array(cells, dtype=np.float64)  # fast; re-parsed below on failure
        except ValueError:
            values = np.array([_cycling_cell(c, k, path, line_no) for k, c in enumerate(cells)])
        addr, vals = values[0], values[1:]
        if not math.isfinite(addr) or addr != math.floor(addr):
            _cycling_cell(cells[0], 0, path, line_no)  # raises for nan/inf
            raise MeasurementFormatError(path, f"line {line_no}", "addr",
                                         f"address must be an integer, got {cells[0]!r}")
        bad = np.flatnonzero(np.isinf(vals) | (vals <= 0))  # NaN (= missing) passes
        if bad.size:
            k = int(bad[0]) + 1
            _cycling_cell(cells[k], k, path, line_no)  # raises for inf
            raise MeasurementFormatError(path, f"line {line_no}", _cycling_column(k),
                                         f"resistance must be > 0, got {cells[k]!r}")
        rows.append((line_no, addr, vals))
    if not rows:
        raise MeasurementFormatError(path, None, None, "file is empty")
    n_cycles = max(math.ceil(len(v) / 2) for _, _, v in rows)
    flat = np.full((len(rows), 2 * n_cycles), np.nan)
    for i, (_, _, v) in enumerate(rows):
        flat[i, : len(v)] = v
    table = CyclingTable(address=np.array([a for _, a, _ in rows], dtype=np.int64),
                         r_hrs=flat[:, 0::2], r_lrs=flat[:, 1::2], source=str(path))
    logger.debug("read %d cells x %d cycles from %s", len(rows), n_cycles, path)
    return table


def _cycling_column(k: int) -> str:
    if k == 0:
        return "addr"
    return f"{'HRS' if k % 2 else 'LRS'} cycle {(k + 1) // 2}"


def _cycling_cell(cell: str, k: int, path: PathLike, line_no: int) -> float:
    return parse_number(cell, path, f"line {line_no}", _cycling_column(k), allow_nan=k > 0)
