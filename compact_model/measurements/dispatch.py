"""load_measurement: pick the reader for a file by its extension and first lines."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from ._common import MeasurementFormatError, PathLike, require_file
from .array1t1r import CyclingTable, PulseSweep, read_cycling, read_pulse_sweep
from .iv import IVSweep
from .keithley import REQUIRED_COLUMNS, XLSX_SUFFIXES, read_keithley
from .plain import KNOWN_COLUMNS, ResistanceTable, read_plain_csv

logger = logging.getLogger(__name__)

SNIFF_LINES = 200  # non-empty lines looked at to tell pulse sweeps from cycling tables
PULSE_COLUMNS = 6

Measurement = list[IVSweep] | IVSweep | ResistanceTable | PulseSweep | CyclingTable


def load_measurement(path: PathLike) -> Measurement:
    """Read any supported measurement file, choosing the reader by extension and content.

    * ``.xlsx``/``.xlsm`` -> :func:`read_keithley` (a list of IVSweep);
    * comma-separated with ``Time``, ``AI``, ``AV`` in the header -> Keithley csv (a list);
    * first line starting with ``#``, or a header of plain-format column names ->
      :func:`read_plain_csv` (IVSweep or ResistanceTable);
    * tab-separated numbers: :func:`read_cycling` (CyclingTable) when the name starts with
      ``cycling`` or a row has more than 6 columns, :func:`read_pulse_sweep` (PulseSweep)
      when every row has 6 columns.

    MeasurementFormatError naming the file when the format is not recognised.
    """
    p = require_file(path)
    if p.suffix.lower() in XLSX_SUFFIXES:
        return read_keithley(path)
    head = _head(path)
    first = head[0]
    if first.lstrip().startswith("#"):
        return read_plain_csv(path)
    if "\t" in first:
        counts = [len(line.rstrip("\t ").split("\t")) for line in head]
        if p.stem.lower().startswith("cycling") or max(counts) > PULSE_COLUMNS:
            return read_cycling(path)
        if all(c == PULSE_COLUMNS for c in counts):
            return read_pulse_sweep(path)
        raise MeasurementFormatError(path, None, None,
                                     f"tab-separated table with {sorted(set(counts))} columns "
                                     "is neither a pulse sweep (6 columns) nor a cycling table; "
                                     "call read_pulse_sweep/read_cycling directly")
    header = [c.strip().strip('"') for c in first.split(",")]
    if set(REQUIRED_COLUMNS) <= set(header):
        return read_keithley(path)
    if all(c in KNOWN_COLUMNS for c in header):
        return read_plain_csv(path)
    raise MeasurementFormatError(path, "line 1", None,
                                 f"unrecognised measurement format (first line {first[:80]!r}); "
                                 "expected a Keithley export, a plain-format CSV, or a "
                                 "tab-separated pulse-sweep/cycling table")


def _head(path: PathLike) -> list[str]:
    """The first SNIFF_LINES non-empty lines (not the whole file: some are large)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            head = list(itertools.islice((ln.rstrip("\r\n") for ln in f if ln.strip()),
                                         SNIFF_LINES))
    except UnicodeDecodeError:
        raise MeasurementFormatError(path, None, None,
                                     "not a UTF-8 text file nor an .xlsx workbook") from None
    if not head:
        raise MeasurementFormatError(path, None, None, "file is empty")
    logger.debug("sniffing %s: first line %r", Path(path).name, head[0][:80])
    return head
