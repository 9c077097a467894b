"""Keithley 4200 (Clarius/KITE) I-V exports: .xlsx workbooks and single-sweep .csv files.

A workbook holds one sweep per data sheet (named like 'Run172'); the 'Calc' and 'Settings'
sheets are not data. Each data sheet starts with a header row containing ``Time`` (s), ``AI``
(A) and ``AV`` (V); other, derived columns (formula results, often None or '#REF') are
ignored. A sheet's data end at the first row whose Time, AI and AV cells are all empty.
A .csv export has the same header and columns and holds one sweep.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from ._common import MeasurementFormatError, PathLike, parse_number, read_text_lines, \
    require_file
from .iv import IVSweep

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("Time", "AI", "AV")  # s, A, V
NON_DATA_SHEETS = frozenset({"calc", "settings"})  # compared case-insensitively
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def read_keithley(path: PathLike) -> list[IVSweep]:
    """All sweeps of a Keithley 4200 export (.xlsx/.xlsm workbook or .csv), in run order.

    Sweeps are sorted by the trailing integer of the sheet name (Run2 before Run10), and
    labelled ``"<file stem>:<sheet>"`` (just the stem for a .csv). ``compliance`` is None:
    the exports do not record it (see :func:`estimate_compliance`).
    """
    p = require_file(path)
    suffix = p.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        sweeps = _read_xlsx(path)
    elif suffix == ".csv":
        sweeps = [_read_csv(path)]
    else:
        raise MeasurementFormatError(path, None, None,
                                     f"unknown Keithley export type {p.suffix!r} "
                                     "(expected .xlsx, .xlsm or .csv)")
    logger.debug("read %d Keithley sweep(s) from %s", len(sweeps), path)
    return sweeps


def _run_order(sheet: str) -> tuple[float, str]:
    # Natural order of the run number; sheets without one go last, alphabetically.
    m = re.search(r"(\d+)\s*$", sheet)
    return (int(m.group(1)) if m else float("inf"), sheet)


def _read_xlsx(path: PathLike) -> list[IVSweep]:
    p = Path(path)
    if p.stat().st_size == 0:
        raise MeasurementFormatError(path, None, None, "file is empty")
    try:
        # read_only streams the XML; data_only gives cached formula results, not formulas.
        # From memory: openpyxl leaves a sheet's zip member open when we stop reading it
        # early (on an error), which would leak the OS file handle.
        wb = openpyxl.load_workbook(io.BytesIO(p.read_bytes()), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise MeasurementFormatError(path, None, None,
                                     f"not a readable .xlsx workbook ({exc})") from None
    try:
        sheets = sorted((n for n in wb.sheetnames if n.strip().lower() not in NON_DATA_SHEETS),
                        key=_run_order)
        if not sheets:
            raise MeasurementFormatError(path, None, None,
                                         f"no data sheets (only {wb.sheetnames})")
        sweeps = []
        for name in sheets:
            rows = wb[name].iter_rows(values_only=True)
            where = functools.partial("sheet {!r}, row {}".format, name)
            sweeps.append(_parse_table(rows, path, f"{p.stem}:{name}", where))
        return sweeps
    finally:
        wb.close()  # read_only workbooks keep the zip file open until closed


def _read_csv(path: PathLike) -> IVSweep:
    lines = read_text_lines(path)
    return _parse_table(csv.reader(lines), path, Path(path).stem, "line {}".format)


def _parse_table(rows: Iterable[Sequence[Any]], path: PathLike, label: str,
                 where: Callable[[int], str]) -> IVSweep:
    """Time/AI/AV columns of one table whose first row is the header; ``where(row_number)``
    formats a location for error messages."""
    it = iter(rows)
    header = next(it, None)
    if header is None or all(_empty(c) for c in header):
        raise MeasurementFormatError(path, where(1), None, "no data (empty sheet or header)")
    names = [str(c).strip() if c is not None else "" for c in header]
    index = {}
    for col in REQUIRED_COLUMNS:
        hits = [i for i, n in enumerate(names) if n == col]
        if not hits:
            raise MeasurementFormatError(path, where(1), col,
                                         f"missing required header column (header: {names})")
        if len(hits) > 1:
            raise MeasurementFormatError(path, where(1), col, "header column appears twice")
        index[col] = hits[0]

    columns: dict[str, list[float]] = {c: [] for c in REQUIRED_COLUMNS}
    end_row = None  # first all-empty row: the data stop there
    for row_no, row in enumerate(it, start=2):
        cells = {c: (row[i] if i < len(row) else None) for c, i in index.items()}
        if all(_empty(v) for v in cells.values()):
            end_row = end_row or row_no
            continue
        if end_row is not None:
            # Data after the gap would be dropped silently: refuse instead.
            raise MeasurementFormatError(path, where(row_no), None,
                                         f"data resume after the empty row {end_row}")
        for col, cell in cells.items():
            columns[col].append(parse_number(cell, path, where(row_no), col))
    if not columns["Time"]:
        raise MeasurementFormatError(path, where(2), None, "no data rows below the header")
    return IVSweep(time=columns["Time"], voltage=columns["AV"], current=columns["AI"],
                   label=label, source=str(path))


def _empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())
