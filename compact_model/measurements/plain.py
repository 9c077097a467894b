"""The plain measurement CSV format of rramcosim (for users' own data).

Format (version 1)
------------------

* A UTF-8 text file, comma-separated, no quoting; blank lines are ignored.
* Lines starting with ``#`` are comments and may appear anywhere (normally at the top).
  A comment of the form ``# key: value`` is metadata: the key is letters, digits, ``_``,
  ``.`` or ``-``; the value is the rest of the line after the first ``:``, stripped.
  Each key may appear once.
* The first other line is the header: the column names (order free, each once).
* Every following line is one data row with exactly one number per header column, in
  Python float syntax (``0.001``, ``1e-4``); NaN and inf are not allowed.

Kinds. The metadata ``kind`` names one; without it the kind follows from the header.

==========  =========================================  ===============
kind        columns (any order)                        read as
==========  =========================================  ===============
iv          time_s (optional), voltage_V, current_A    IVSweep
r_vs_ic     compliance_A, resistance_ohm               ResistanceTable
r_vs_vstop  v_stop_V, resistance_ohm                   ResistanceTable
r_vs_vgate  v_gate_V, resistance_ohm                   ResistanceTable
==========  =========================================  ===============

Any other column is an error (it catches typos such as ``current_mA``).
Units are in the column names: s, V, A, ohm. ``resistance_ohm`` and ``compliance_A`` must
be > 0. An ``iv`` file without ``time_s`` gets time = point index 0, 1, 2, ...; rows of the
``r_vs_*`` kinds may repeat an x value (a distribution of resistances at that x).

Metadata keys with a meaning (all others are kept as strings in ``.metadata``):

* ``kind``: one of the kinds above.
* ``compliance_A``: (iv) the current compliance in A, > 0 -> ``IVSweep.compliance``.
* ``label``: (iv) -> ``IVSweep.label`` (default: the file name without extension).
* ``polarity``: ``1`` or ``-1``, kept in ``.metadata`` (``IVSweep.polarity`` is computed
  from the voltages).
* For the ``r_vs_*`` kinds, ``label`` and ``compliance_A`` are kept in ``.metadata``.

Example::

    # kind: iv
    # compliance_A: 1e-4
    # polarity: -1
    # device: H16248L_B12 (any other key is free text)
    time_s,voltage_V,current_A
    0.0,0.0,1.2e-12
    0.03,-0.01,-5.4e-09
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from ._common import FloatArray, MeasurementFormatError, PathLike, check_finite, \
    check_same_length, frozen_array, frozen_mapping, parse_number, read_text_lines
from .iv import IVSweep

logger = logging.getLogger(__name__)


class ControlQuantity(enum.Enum):
    """The controlling quantity x of a ResistanceTable; the value is its column name."""

    COMPLIANCE_CURRENT = "compliance_A"  # A
    V_STOP = "v_stop_V"  # V
    V_GATE = "v_gate_V"  # V

    @property
    def kind(self) -> str:
        return _KIND_OF_CONTROL[self]


_KIND_OF_CONTROL = {ControlQuantity.COMPLIANCE_CURRENT: "r_vs_ic",
                    ControlQuantity.V_STOP: "r_vs_vstop", ControlQuantity.V_GATE: "r_vs_vgate"}
_CONTROL_OF_KIND = {k: c for c, k in _KIND_OF_CONTROL.items()}
IV_COLUMNS = ("time_s", "voltage_V", "current_A")
RESISTANCE_COLUMN = "resistance_ohm"
KNOWN_COLUMNS = frozenset(IV_COLUMNS) | {c.value for c in ControlQuantity} | {RESISTANCE_COLUMN}
KINDS = ("iv", *_CONTROL_OF_KIND)
_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
_META_LINE = re.compile(r"^#\s*([A-Za-z0-9_.-]+)\s*:(.*)$")
_FIELD_KEYS = ("kind", "compliance_A", "label")  # metadata that maps onto object fields


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)  # eq=False: array fields
class ResistanceTable:
    """Resistances measured against one controlling quantity (arrays of equal length)."""

    x: FloatArray  # A or V (see x_name), value of the controlling quantity per sample
    x_name: ControlQuantity  # -, which quantity x is
    resistance: FloatArray  # ohm, measured resistance per sample
    source: str  # -, path of the file read ("" if built in memory)
    metadata: Mapping[str, str] = field(default_factory=dict)  # -, extra "key: value" notes

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", frozen_array(self.x, "x"))
        object.__setattr__(self, "resistance", frozen_array(self.resistance, "resistance"))
        object.__setattr__(self, "x_name", ControlQuantity(self.x_name))
        check_same_length("ResistanceTable", x=self.x, resistance=self.resistance)
        check_finite("ResistanceTable", x=self.x, resistance=self.resistance)
        if np.any(self.resistance <= 0):
            raise ValueError("ResistanceTable: resistance must be > 0 ohm")
        if self.x_name is ControlQuantity.COMPLIANCE_CURRENT and np.any(self.x <= 0):
            raise ValueError("ResistanceTable: compliance current must be > 0 A")
        object.__setattr__(self, "metadata", frozen_mapping(self.metadata))

    def __len__(self) -> int:
        return len(self.x)

    def groups(self) -> tuple[FloatArray, list[FloatArray]]:
        """(sorted unique x, resistances of the samples at each of them)."""
        xs, inverse = np.unique(self.x, return_inverse=True)
        return xs, [self.resistance[inverse == i] for i in range(len(xs))]


def read_plain_csv(path: PathLike) -> IVSweep | ResistanceTable:
    """A file in the plain format of this module's docstring."""
    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    for line_no, line in enumerate(read_text_lines(path), start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            m = _META_LINE.match(text)
            if m:
                key = m.group(1)
                if key in meta:
                    raise MeasurementFormatError(path, f"line {line_no}", None,
                                                 f"metadata key {key!r} repeated (first on "
                                                 f"line {meta_lines[key]})")
                meta[key], meta_lines[key] = m.group(2).strip(), line_no
            continue
        cells = [c.strip() for c in text.split(",")]
        if header is None:
            header, header_line = cells, line_no
        else:
            rows.append((line_no, cells))
    if header is None:
        raise MeasurementFormatError(path, None, None, "no header row (only comments)")

    kind = _kind_from_header(path, header, header_line, meta, meta_lines)
    if not rows:
        raise MeasurementFormatError(path, f"line {header_line}", None,
                                     "no data rows below the header")
    columns: dict[str, list[float]] = {name: [] for name in header}
    for line_no, cells in rows:
        if len(cells) != len(header):
            raise MeasurementFormatError(path, f"line {line_no}", None,
                                         f"expected {len(header)} columns {header}, "
                                         f"found {len(cells)}")
        for name, cell in zip(header, cells):
            value = parse_number(cell, path, f"line {line_no}", name)
            if name in (RESISTANCE_COLUMN, "compliance_A") and value <= 0:
                raise MeasurementFormatError(path, f"line {line_no}", name,
                                             f"must be > 0, got {cell!r}")
            columns[name].append(value)

    extra = {k: v for k, v in meta.items() if k not in _FIELD_KEYS}
    if "polarity" in meta and meta["polarity"] not in ("1", "+1", "-1"):
        raise MeasurementFormatError(path, f"line {meta_lines['polarity']}", None,
                                     f"metadata 'polarity' must be 1 or -1, "
                                     f"got {meta['polarity']!r}")
    if kind == "iv":
        n = len(rows)
        compliance = None
        if "compliance_A" in meta:
            loc = f"line {meta_lines['compliance_A']}"
            try:
                compliance = parse_number(meta["compliance_A"], path, loc, None)
            except MeasurementFormatError as exc:
                raise MeasurementFormatError(path, loc, None,
                                             f"metadata 'compliance_A': {exc.problem}") from None
            if compliance <= 0:
                raise MeasurementFormatError(path, loc, None,
                                             f"metadata 'compliance_A' must be > 0 A, "
                                             f"got {meta['compliance_A']!r}")
        obj: IVSweep | ResistanceTable = IVSweep(
            time=columns.get("time_s", np.arange(n, dtype=np.float64)),
            voltage=columns["voltage_V"], current=columns["current_A"],
            label=meta.get("label", Path(path).stem), source=str(path),
            compliance=compliance, metadata=extra)
    else:
        control = _CONTROL_OF_KIND[kind]
        if "label" in meta:
            extra["label"] = meta["label"]
        if "compliance_A" in meta:
            extra["compliance_A"] = meta["compliance_A"]
        obj = ResistanceTable(x=columns[control.value], x_name=control,
                              resistance=columns[RESISTANCE_COLUMN], source=str(path),
                              metadata=extra)
    logger.debug("read plain %s file %s (%d rows)", kind, path, len(rows))
    return obj


def _kind_from_header(path: PathLike, header: list[str], header_line: int,
                      meta: dict[str, str], meta_lines: dict[str, int]) -> str:
    loc = f"line {header_line}"
    for i, name in enumerate(header):
        if name not in KNOWN_COLUMNS:
            raise MeasurementFormatError(path, loc, name or None,
                                         f"unknown column (known: {sorted(KNOWN_COLUMNS)})")
        if name in header[:i]:
            raise MeasurementFormatError(path, loc, name, "column appears twice")
    cols = set(header)
    if "kind" in meta:
        kind = meta["kind"].lower()
        if kind not in KINDS:
            raise MeasurementFormatError(path, f"line {meta_lines['kind']}", None,
                                         f"unknown kind {meta['kind']!r} (known: {KINDS})")
    elif "voltage_V" in cols or "current_A" in cols or "time_s" in cols:
        kind = "iv"
    else:
        controls = [c for c in ControlQuantity if c.value in cols]
        if len(controls) != 1:
            raise MeasurementFormatError(path, loc, None,
                                         f"cannot tell the kind from the header {header}; "
                                         "add a '# kind: ...' line")
        kind = controls[0].kind
    required = ["voltage_V", "current_A"] if kind == "iv" else \
        [_CONTROL_OF_KIND[kind].value, RESISTANCE_COLUMN]
    allowed = set(IV_COLUMNS) if kind == "iv" else set(required)
    for name in required:
        if name not in cols:
            raise MeasurementFormatError(path, loc, name,
                                         f"missing required header column for kind {kind!r}")
    for name in header:
        if name not in allowed:
            raise MeasurementFormatError(path, loc, name, f"column not allowed in kind {kind!r}")
    return kind


def write_plain_csv(path: PathLike, obj: IVSweep | ResistanceTable,
                    metadata: Mapping[str, object] | None = None) -> None:
    """Write ``obj`` in the plain format, atomically (temp file + os.replace).

    ``metadata`` adds ``# key: value`` lines (merged over ``obj.metadata``); ``kind``,
    ``compliance_A`` and ``label`` come from the object and may only be repeated unchanged.
    On any error nothing is written and an existing file is left untouched.
    """
    if isinstance(obj, IVSweep):
        fields: dict[str, str] = {"kind": "iv", "label": obj.label}
        if obj.compliance is not None:
            fields["compliance_A"] = repr(obj.compliance)
        header = IV_COLUMNS
        columns: tuple[np.ndarray, ...] = (obj.time, obj.voltage, obj.current)
    elif isinstance(obj, ResistanceTable):
        fields = {"kind": obj.x_name.kind}
        header = (obj.x_name.value, RESISTANCE_COLUMN)
        columns = (obj.x, obj.resistance)
    else:
        raise TypeError(f"can write IVSweep or ResistanceTable, not {type(obj).__name__}")
    meta = dict(fields)
    for key, value in {**obj.metadata, **(metadata or {})}.items():
        key, value = str(key), str(value).strip()
        if not _KEY.match(key):
            raise ValueError(f"metadata key {key!r}: use letters, digits, '_', '.', '-'")
        if key in fields:
            if not _same_meta(key, value, fields[key]):
                raise ValueError(f"metadata {key!r}={value!r} contradicts the object's "
                                 f"{fields[key]!r}")
            continue
        if key == "polarity" and value not in ("1", "+1", "-1"):
            raise ValueError(f"metadata 'polarity' must be 1 or -1, got {value!r}")
        meta[key] = value
    for key, value in meta.items():
        if "\n" in value or "\r" in value:  # would break the line-based format
            raise ValueError(f"metadata {key!r}: value must be a single line, got {value!r}")

    def lines() -> Iterator[str]:
        for key, value in meta.items():
            yield f"# {key}: {value}"
        yield ",".join(header)
        for i, row in enumerate(zip(*columns)):
            yield ",".join(_format(v, name, i) for v, name in zip(row, header))

    _atomic_write(Path(path), lines())
    logger.debug("wrote plain %s file %s", meta["kind"], path)


def _same_meta(key: str, value: str, expected: str) -> bool:
    if key == "compliance_A":  # "1e-4" and "0.0001" are the same compliance
        try:
            return float(value) == float(expected)
        except ValueError:
            return False
    return value == expected


def _format(value: float, name: str, row: int) -> str:
    v = float(value)
    if not math.isfinite(v) or (name in (RESISTANCE_COLUMN, "compliance_A") and v <= 0):
        raise ValueError(f"cannot write {name}={v} (row {row}): must be finite"
                         + (" and > 0" if name in (RESISTANCE_COLUMN, "compliance_A") else ""))
    return repr(v)  # shortest text that reads back to the same float


def _atomic_write(path: Path, lines: Iterator[str]) -> None:
    # Temp file in the same directory so os.replace is an atomic rename on one filesystem.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; keep an existing file's mode, else the usual 0644.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
