"""Readers for real RRAM measurement files, returning frozen dataclasses of numpy arrays in
SI units (V, A, s, ohm).

Formats and readers:

* Keithley 4200 I-V exports (.xlsx workbooks with one sweep per 'RunN' sheet, or one-sweep
  .csv files with ``Time``/``AI``/``AV`` columns): :func:`read_keithley` -> list[IVSweep].
* RRAM-RADAR-Tuning 1T1R-array pulse sweeps (tab-separated ``addr, pw_ns, V_BL|V_SL, V_WL,
  R_initial, R_final``): :func:`read_pulse_sweep` -> PulseSweep.
* RRAM-RADAR-Tuning cycling tables (``addr`` then alternating R_HRS, R_LRS):
  :func:`read_cycling` -> CyclingTable.
* The plain documented CSV format of rramcosim (specified in
  :mod:`compact_model.measurements.plain`): :func:`read_plain_csv` / :func:`write_plain_csv`
  -> IVSweep or ResistanceTable.
* :func:`load_measurement` picks the reader from the extension and the first lines.

Every malformed input raises :class:`MeasurementFormatError` (a ValueError) naming the file,
the line or sheet/row and the column; a missing file raises FileNotFoundError. Nothing is
skipped silently.
"""

from ._common import MeasurementFormatError
from .array1t1r import (CyclingTable, HrsLrs, PulseKind, PulseSweep, infer_pulse_kind,
                        read_cycling, read_pulse_sweep)
from .dispatch import Measurement, load_measurement
from .iv import IVSweep, estimate_compliance
from .keithley import read_keithley
from .plain import ControlQuantity, ResistanceTable, read_plain_csv, write_plain_csv

__all__ = [
    "ControlQuantity",
    "CyclingTable",
    "HrsLrs",
    "IVSweep",
    "Measurement",
    "MeasurementFormatError",
    "PulseKind",
    "PulseSweep",
    "ResistanceTable",
    "estimate_compliance",
    "infer_pulse_kind",
    "load_measurement",
    "read_cycling",
    "read_keithley",
    "read_plain_csv",
    "read_pulse_sweep",
    "write_plain_csv",
]
