"""Tests of compact_model.measurements: parsing, units, helpers, located errors, real data."""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from compact_model.measurements import (
    ControlQuantity, CyclingTable, IVSweep, MeasurementFormatError, PulseKind, PulseSweep,
    ResistanceTable, estimate_compliance, infer_pulse_kind, load_measurement, read_cycling,
    read_keithley, read_plain_csv, read_pulse_sweep, write_plain_csv)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "rram_data"
B12 = DATA / "memristor-analysis" / "H16248L_B12"
RADAR = DATA / "RRAM-RADAR-Tuning" / "exptdata"

HEADER = ["Time", "AI", "AV", "ID", "NORM_COND"]


# ----------------------------------------------------------------------------- helpers
def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def write_text(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_text(text.replace("\n", newline), encoding="utf-8")
    return path


def assert_located(err: pytest.ExceptionInfo[MeasurementFormatError], path: Path,
                   location: str | None, column: str | None) -> None:
    """The error carries and names file, location and column."""
    e = err.value
    msg = str(e)
    assert path.name in msg
    assert e.path == str(path)
    assert e.location == location
    assert e.column == column
    if location is not None:
        assert location in msg
    if column is not None:
        assert repr(column) in msg


def sweep(v: list[float], i: list[float], label: str = "s") -> IVSweep:
    return IVSweep(time=np.arange(len(v), dtype=float), voltage=v, current=i, label=label,
                   source="")


RUN2 = [HEADER,
        [0.5, 1e-9, 0.0, "#REF", None],
        [0.6, -2e-6, -0.5, 1e-9, "#REF"],
        [0.7, -1e-4, -1.0, None, 0.3],
        [None, None, None, "#REF", None],  # end of data; derived junk below is ignored
        [None, None, None, 5.0, None]]
RUN10 = [HEADER,
         [1.0, 0.0, 0.0],
         [1.1, 1e-3, 1.0, "#REF"],
         [1.2, 2e-3, 2.0]]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    # Sheet order in the file differs from run order on purpose.
    return write_xlsx(tmp_path / "book.xlsx", {"Run10": RUN10, "Calc": [["x", 1]],
                                               "Run2": RUN2, "Settings": [["====="]]})


# ----------------------------------------------------------------------------- Keithley
def test_keithley_xlsx_values_order_and_labels(workbook: Path) -> None:
    sweeps = read_keithley(workbook)
    assert [s.label for s in sweeps] == ["book:Run2", "book:Run10"]
    s2, s10 = sweeps
    np.testing.assert_array_equal(s2.time, [0.5, 0.6, 0.7])
    np.testing.assert_array_equal(s2.current, [1e-9, -2e-6, -1e-4])
    np.testing.assert_array_equal(s2.voltage, [0.0, -0.5, -1.0])
    np.testing.assert_array_equal(s10.voltage, [0.0, 1.0, 2.0])
    assert s2.source == str(workbook) and s2.compliance is None
    assert s2.polarity == -1 and s10.polarity == 1
    assert not s2.voltage.flags.writeable


def test_keithley_natural_run_order(tmp_path: Path) -> None:
    names = ["Run10", "Run1", "Run2", "Run100", "Run9"]
    path = write_xlsx(tmp_path / "b.xlsx", {n: RUN10 for n in names})
    assert [s.label.split(":")[1] for s in read_keithley(path)] == \
        ["Run1", "Run2", "Run9", "Run10", "Run100"]


def test_keithley_csv(tmp_path: Path) -> None:
    path = write_text(tmp_path / "run7.csv",
                      "Time,AI,AV,ID\n0.1,1e-9,0,#REF\n0.2,-5e-4,-1.5,\n\n", newline="\r\n")
    (s,) = read_keithley(path)
    assert s.label == "run7"
    np.testing.assert_array_equal(s.time, [0.1, 0.2])
    np.testing.assert_array_equal(s.current, [1e-9, -5e-4])
    np.testing.assert_array_equal(s.voltage, [0.0, -1.5])


@pytest.mark.parametrize("rows, location, column, words", [
    ([HEADER, [0.1, "#REF", 0.0]], "sheet 'Run2', row 2", "AI", "could not parse '#REF'"),
    ([["Time", "AI", "X"], [0.1, 1e-9, 0.0]], "sheet 'Run2', row 1", "AV", "missing"),
    ([HEADER], "sheet 'Run2', row 2", None, "no data rows"),
    ([HEADER, [0.1, None, 0.0]], "sheet 'Run2', row 2", "AI", "empty cell"),
    ([HEADER, [0.1, 1e-9, 0.0], [None, None, None], [0.3, 1e-9, 0.0]],
     "sheet 'Run2', row 4", None, "resume"),
    ([HEADER, [0.1, 1e-9, True]], "sheet 'Run2', row 2", "AV", "boolean"),
    ([[None]], "sheet 'Run2', row 1", None, "no data"),
])
def test_keithley_xlsx_errors(tmp_path: Path, rows: list[list[object]], location: str,
                              column: str | None, words: str) -> None:
    path = write_xlsx(tmp_path / "bad.xlsx", {"Run2": rows, "Calc": [[1]]})
    with pytest.raises(MeasurementFormatError, match=words) as err:
        read_keithley(path)
    assert_located(err, path, location, column)


@pytest.mark.parametrize("text, location, column, words", [
    ("Time,AI,AV\n0.1,1e-9,abc\n", "line 2", "AV", "could not parse 'abc'"),
    ("Time,AI,AV\n0.1,1e-9,0\nnan,1e-9,0\n", "line 3", "Time", "non-finite"),
    ("Time,AI,AV\n0.1,inf,0\n", "line 2", "AI", "non-finite"),
    ("Time,AV\n0.1,0\n", "line 1", "AI", "missing"),
])
def test_keithley_csv_errors(tmp_path: Path, text: str, location: str, column: str,
                             words: str) -> None:
    path = write_text(tmp_path / "k.csv", text)
    with pytest.raises(MeasurementFormatError, match=words) as err:
        read_keithley(path)
    assert_located(err, path, location, column)


def test_keithley_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.xlsx"):
        read_keithley(tmp_path / "nothere.xlsx")
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(MeasurementFormatError, match="empty") as err:
        read_keithley(empty)
    assert_located(err, empty, None, None)
    junk = write_text(tmp_path / "junk.xlsx", "not a zip")
    with pytest.raises(MeasurementFormatError, match="not a readable .xlsx") as err:
        read_keithley(junk)
    assert_located(err, junk, None, None)
    only = write_xlsx(tmp_path / "only.xlsx", {"Calc": [[1]], "Settings": [["x"]]})
    with pytest.raises(MeasurementFormatError, match="no data sheets"):
        read_keithley(only)
    with pytest.raises(MeasurementFormatError, match="unknown Keithley export"):
        read_keithley(write_text(tmp_path / "x.txt", "Time,AI,AV\n"))


def test_error_pickles_with_attributes() -> None:
    e = MeasurementFormatError("set.csv", "line 57", "V_WL", "could not parse 'abc' as a number")
    assert str(e) == "set.csv line 57, column 'V_WL': could not parse 'abc' as a number"
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.path, e2.location, e2.column, str(e2)) == (e.path, e.location, e.column, str(e))
    assert isinstance(e, ValueError)


# ----------------------------------------------------------------------------- IVSweep
def test_estimate_compliance() -> None:
    i_c = 1e-4
    plateau = sweep([0, -1, -2, -3, -2, -1, 0],
                    [0, -1e-6, -i_c * (1 - 2e-4), -i_c, -i_c * (1 - 5e-4), -1e-5, 0])
    assert estimate_compliance(plateau) == pytest.approx(i_c * (1 - 2e-4), rel=1e-12)  # median
    two_points = sweep([0, 1, 2, 1], [0, 1e-4, 1e-4, 1e-6])
    assert estimate_compliance(two_points) is None
    peak = sweep([0, 1, 2, 1, 0], [0, 5e-4, 6e-4, 2e-4, 0])
    assert estimate_compliance(peak) is None
    assert estimate_compliance(sweep([0, 1, 2], [0, 0, 0])) is None
    # The tolerance decides: 1 % apart counts only with rel_tol >= 1e-2.
    loose = sweep([0, 1, 2, 3], [0, 0.99e-3, 1e-3, 0.995e-3])
    assert estimate_compliance(loose) is None
    assert estimate_compliance(loose, rel_tol=2e-2) == pytest.approx(0.995e-3)
    # Non-consecutive points at the max do not form a plateau.
    assert estimate_compliance(sweep([1, 2, 3, 4, 5], [1e-3, 0, 1e-3, 0, 1e-3])) is None


def test_split_branches_and_polarity() -> None:
    s = IVSweep(time=[0, 1, 2, 3, 4], voltage=[0, -1, -2, -1, 0],
                current=[0, -1e-6, -1e-4, -5e-5, 0], label="x", source="f", compliance=1e-4)
    out, back = s.split_branches()
    np.testing.assert_array_equal(out.voltage, [0, -1, -2])
    np.testing.assert_array_equal(back.voltage, [-2, -1, 0])
    np.testing.assert_array_equal(back.time, [2, 3, 4])
    np.testing.assert_array_equal(out.current, [0, -1e-6, -1e-4])
    assert (out.label, back.label) == ("x:out", "x:return")
    assert out.compliance == 1e-4 and out.source == "f"
    assert s.polarity == -1
    assert sweep([0, 1, 0.5], [0, 1, 0]).polarity == 1
    with pytest.raises(ValueError, match="polarity undefined"):
        sweep([0, 0], [0, 1e-9]).polarity


def test_ivsweep_validation() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        IVSweep(time=[0, 1], voltage=[0], current=[0, 1], label="", source="")
    with pytest.raises(ValueError, match="NaN or inf"):
        sweep([0, math.nan], [0, 0])
    with pytest.raises(ValueError, match="compliance"):
        IVSweep(time=[0], voltage=[0], current=[0], label="", source="", compliance=-1e-4)
    s = sweep([0, 1], [0, 1e-6])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.label = "y"  # type: ignore[misc]
    with pytest.raises(ValueError):
        s.voltage[0] = 3.0


# ----------------------------------------------------------------------------- pulse sweeps
PULSES = ("1450.000\t100.000\t2.000\t2.540\t43182.416\t6875.366\n"
          "1450.000\t200.000\t2.000\t3.000\t56064.711\t4327.459\n"
          "1451.000\t100.000\t2.500\t2.540\t120000.000\t9000.500\n"
          "1451.000\t100.000\t2.000\t2.000\t100000.000\t90000.000\n")


def test_pulse_sweep_values_and_units(tmp_path: Path) -> None:
    path = write_text(tmp_path / "set-sweep-wl-test.csv", PULSES, newline="\r\n")
    s = read_pulse_sweep(path)
    assert s.kind is PulseKind.SET and s.source == str(path) and len(s) == 4
    assert s.address.dtype == np.int64
    np.testing.assert_array_equal(s.address, [1450, 1450, 1451, 1451])
    np.testing.assert_allclose(s.pulse_width, [100e-9, 200e-9, 100e-9, 100e-9], rtol=1e-15)
    np.testing.assert_array_equal(s.v_line, [2.0, 2.0, 2.5, 2.0])
    np.testing.assert_array_equal(s.v_gate, [2.54, 3.0, 2.54, 2.0])
    np.testing.assert_array_equal(s.r_initial, [43182.416, 56064.711, 120000.0, 100000.0])
    np.testing.assert_array_equal(s.r_final, [6875.366, 4327.459, 9000.5, 90000.0])


@pytest.mark.parametrize("name, kind", [
    ("reset-sweep-wl-0.02-6-7-20.csv", PulseKind.RESET),
    ("sl-reset-sweep-5-29-20.csv", PulseKind.RESET),
    ("set-sweep-wl-inner-5-26-20.csv", PulseKind.SET),
    ("set-sweep-wl-noreset-200pw-7-16-20.csv", PulseKind.SET),  # 'noreset' is not RESET
    ("bl-set-sweep-5-29-20.csv", PulseKind.SET),
    ("fppv-sweep-1us-4-2-21.csv", PulseKind.SET),
    ("data.csv", None),
])
def test_pulse_kind_inference(tmp_path: Path, name: str, kind: PulseKind | None) -> None:
    assert infer_pulse_kind(name) is kind
    path = write_text(tmp_path / name, PULSES)
    if kind is None:
        with pytest.raises(MeasurementFormatError, match="cannot tell SET from RESET") as err:
            read_pulse_sweep(path)
        assert_located(err, path, None, None)
        assert read_pulse_sweep(path, kind="reset").kind is PulseKind.RESET
    else:
        assert read_pulse_sweep(path).kind is kind
    assert read_pulse_sweep(path, kind=PulseKind.SET).kind is PulseKind.SET


def test_pulse_select_and_group(tmp_path: Path) -> None:
    s = read_pulse_sweep(write_text(tmp_path / "set-sweep-x.csv", PULSES))
    sel = s.select(v_gate=2.54)
    np.testing.assert_array_equal(sel.r_final, [6875.366, 9000.5])
    assert sel.kind is s.kind and sel.source == s.source
    sel = s.select(v_gate=2.54, v_line=2.0)
    np.testing.assert_array_equal(sel.address, [1450])
    sel = s.select(pulse_width=200e-9)
    np.testing.assert_array_equal(sel.v_gate, [3.0])
    assert len(s.select(v_gate=2.54 + 1e-11)) == 2  # within tolerance
    assert len(s.select()) == 4
    with pytest.raises(ValueError, match="no rows"):
        s.select(v_gate=2.54 + 1e-6)
    groups = s.group_by_gate()
    assert list(groups) == [2.0, 2.54, 3.0]
    np.testing.assert_array_equal(groups[2.54], [6875.366, 9000.5])
    np.testing.assert_array_equal(groups[2.0], [90000.0])


@pytest.mark.parametrize("name, bad_line, location, column, words", [
    ("set-sweep-a.csv", "1\t100\t2.0\t2.5\t5000\n", "line 3", None, "expected 6"),
    ("set-sweep-a.csv", "1\t100\t2.0\tabc\t5000\t4000\n", "line 3", "V_WL", "could not parse"),
    ("reset-sweep-a.csv", "1\t100\tx\t2.5\t5000\t4000\n", "line 3", "V_SL", "could not parse"),
    ("set-sweep-a.csv", "1\t100\t2.0\t2.5\t5000\tnan\n", "line 3", "R_final", "non-finite"),
    ("set-sweep-a.csv", "1\t100\t2.0\t2.5\t-5\t4000\n", "line 3", "R_initial", "> 0"),
    ("set-sweep-a.csv", "1\t0\t2.0\t2.5\t5000\t4000\n", "line 3", "pw_ns", "> 0"),
    ("set-sweep-a.csv", "1.5\t100\t2.0\t2.5\t5000\t4000\n", "line 3", "addr", "integer"),
    ("set-sweep-a.csv", "1\t100\t2.0\t2.5\t5000\t4000\t7\n", "line 3", None, "expected 6"),
    ("set-sweep-a.csv", "1\t100\t2.0\t\t5000\t4000\n", "line 3", "V_WL", "empty cell"),
])
def test_pulse_errors(tmp_path: Path, name: str, bad_line: str, location: str,
                      column: str | None, words: str) -> None:
    good = "7\t100\t2.0\t2.5\t5000\t4000\n"
    # A blank line before the bad one checks that line numbers count every line.
    path = write_text(tmp_path / name, good + "\n" + bad_line + good)
    with pytest.raises(MeasurementFormatError, match=words) as err:
        read_pulse_sweep(path)
    assert_located(err, path, location, column)


def test_pulse_file_level_errors(tmp_path: Path) -> None:
    for text in ("", "\n\n"):
        path = write_text(tmp_path / "set-sweep-e.csv", text)
        with pytest.raises(MeasurementFormatError, match="empty") as err:
            read_pulse_sweep(path)
        assert_located(err, path, None, None)
    with pytest.raises(FileNotFoundError, match="set-sweep-none.csv"):
        read_pulse_sweep(tmp_path / "set-sweep-none.csv")


# ----------------------------------------------------------------------------- cycling
def test_cycling_ragged(tmp_path: Path) -> None:
    path = write_text(tmp_path / "cycling-x.csv",
                      "1\t100\t10\t200\t20\n2\t300\t30\t\t\n\n3\t400\t40\t500\n",
                      newline="\r\n")
    t = read_cycling(path)
    nan = np.nan
    np.testing.assert_array_equal(t.address, [1, 2, 3])
    np.testing.assert_array_equal(t.r_hrs, [[100, 200], [300, nan], [400, 500]])
    np.testing.assert_array_equal(t.r_lrs, [[10, 20], [30, nan], [40, nan]])
    assert t.n_cycles == 2 and t.source == str(path)


def test_cycling_spreads_against_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    hrs = np.exp(rng.normal(11, 0.5, (4, 5)))
    lrs = np.exp(rng.normal(8.5, 0.1, (4, 5)))
    counts = [5, 4, 2, 1]  # ragged: cycles per cell
    rows = []
    for k, n in enumerate(counts):
        vals = np.ravel(np.column_stack([hrs[k, :n], lrs[k, :n]]))
        rows.append("\t".join([str(10 + k)] + [repr(float(v)) for v in vals]))
    t = read_cycling(write_text(tmp_path / "cycling-r.csv", "\n".join(rows) + "\n"))
    assert np.isnan(t.r_hrs[3, 1:]).all() and not np.isnan(t.r_hrs[0]).any()
    c2c = t.cycle_to_cycle_spread()
    for k, n in enumerate(counts[:3]):
        assert c2c.hrs[k] == pytest.approx(np.std(np.log(hrs[k, :n]), ddof=1), rel=1e-12)
        assert c2c.lrs[k] == pytest.approx(np.std(np.log(lrs[k, :n]), ddof=1), rel=1e-12)
    assert np.isnan(c2c.hrs[3]) and np.isnan(c2c.lrs[3])  # one cycle only: no spread
    d2d = t.device_to_device_spread()
    med_h = [np.median(np.log(hrs[k, :n])) for k, n in enumerate(counts)]
    med_l = [np.median(np.log(lrs[k, :n])) for k, n in enumerate(counts)]
    assert d2d.hrs == pytest.approx(np.std(med_h, ddof=1), rel=1e-12)
    assert d2d.lrs == pytest.approx(np.std(med_l, ddof=1), rel=1e-12)
    hrs_spread, lrs_spread = d2d  # unpacks like a tuple
    assert isinstance(hrs_spread, float)


@pytest.mark.parametrize("line, location, column, words", [
    ("5\t100\tabc\n", "line 2", "LRS cycle 1", "could not parse"),
    ("5\t100\t10\t0\n", "line 2", "HRS cycle 2", "> 0"),
    ("5\t100\t10\tinf\t10\n", "line 2", "HRS cycle 2", "non-finite"),
    ("5\n", "line 2", None, "at least one resistance"),
    ("5.5\t100\t10\n", "line 2", "addr", "integer"),
    ("nan\t100\t10\n", "line 2", "addr", "non-finite"),
    ("5\t100\t\t10\n", "line 2", "LRS cycle 1", "empty cell"),
])
def test_cycling_errors(tmp_path: Path, line: str, location: str, column: str | None,
                        words: str) -> None:
    path = write_text(tmp_path / "cycling-bad.csv", "1\t100\t10\n" + line)
    with pytest.raises(MeasurementFormatError, match=words) as err:
        read_cycling(path)
    assert_located(err, path, location, column)


def test_cycling_empty_and_nan_cells(tmp_path: Path) -> None:
    path = write_text(tmp_path / "cycling-e.csv", "\n")
    with pytest.raises(MeasurementFormatError, match="empty"):
        read_cycling(path)
    t = read_cycling(write_text(tmp_path / "cycling-n.csv", "1\tnan\t10\t100\t20\n"))
    np.testing.assert_array_equal(t.r_hrs, [[np.nan, 100]])  # explicit nan = missing


# ----------------------------------------------------------------------------- plain CSV
def test_plain_iv_with_metadata(tmp_path: Path) -> None:
    path = write_text(tmp_path / "iv.csv",
                      "# kind: iv\n# compliance_A: 1e-4\n# polarity: -1\n"
                      "# device: B12: top-left\n#  just a note\n"
                      "time_s,voltage_V,current_A\n0,0,1e-12\n# mid comment\n0.1,-0.5,-2e-5\n")
    s = read_plain_csv(path)
    assert isinstance(s, IVSweep)
    assert s.compliance == 1e-4 and s.label == "iv" and s.source == str(path)
    assert dict(s.metadata) == {"polarity": "-1", "device": "B12: top-left"}
    np.testing.assert_array_equal(s.time, [0, 0.1])
    np.testing.assert_array_equal(s.voltage, [0, -0.5])
    np.testing.assert_array_equal(s.current, [1e-12, -2e-5])


def test_plain_iv_without_time_and_column_order(tmp_path: Path) -> None:
    s = read_plain_csv(write_text(tmp_path / "iv2.csv",
                                  "current_A,voltage_V\n1e-9,0.1\n2e-9,0.2\n3e-9,0.3\n"))
    assert isinstance(s, IVSweep) and s.compliance is None
    np.testing.assert_array_equal(s.time, [0, 1, 2])
    np.testing.assert_array_equal(s.voltage, [0.1, 0.2, 0.3])


@pytest.mark.parametrize("column, quantity", [
    ("compliance_A", ControlQuantity.COMPLIANCE_CURRENT),
    ("v_stop_V", ControlQuantity.V_STOP),
    ("v_gate_V", ControlQuantity.V_GATE),
])
def test_plain_resistance_tables(tmp_path: Path, column: str, quantity: ControlQuantity) -> None:
    path = write_text(tmp_path / "r.csv", f"{column},resistance_ohm\n"
                      "2e-4,5000\n1e-4,9000\n2e-4,5200\n1e-4,8800\n3e-4,4000\n")
    t = read_plain_csv(path)
    assert isinstance(t, ResistanceTable) and t.x_name is quantity
    np.testing.assert_array_equal(t.x, [2e-4, 1e-4, 2e-4, 1e-4, 3e-4])
    xs, groups = t.groups()
    np.testing.assert_array_equal(xs, [1e-4, 2e-4, 3e-4])
    np.testing.assert_array_equal(groups[0], [9000, 8800])
    np.testing.assert_array_equal(groups[1], [5000, 5200])
    np.testing.assert_array_equal(groups[2], [4000])


def test_plain_round_trip(tmp_path: Path) -> None:
    s = IVSweep(time=[0.0, 0.1, 0.2], voltage=[0.0, -1 / 3, -2.5],
                current=[1e-12, -1.2345678901234567e-5, -5.000245e-4],
                label="04 endurance set:Run123", source="x", compliance=5e-4,
                metadata={"polarity": "-1"})
    path = tmp_path / "out.csv"
    write_plain_csv(path, s, metadata={"device": "H16248L_B12", "compliance_A": "0.0005"})
    back = read_plain_csv(path)
    assert isinstance(back, IVSweep)
    for name in ("time", "voltage", "current"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    assert back.label == s.label and back.compliance == 5e-4
    assert dict(back.metadata) == {"polarity": "-1", "device": "H16248L_B12"}
    assert back.source == str(path)

    t = ResistanceTable(x=[1e-4, 1e-4, 2e-4], x_name=ControlQuantity.COMPLIANCE_CURRENT,
                        resistance=[9000.5, 8800.25, 5000.0], source="")
    write_plain_csv(path, t, metadata={"note": "overwrites"})
    back_t = read_plain_csv(path)
    assert isinstance(back_t, ResistanceTable)
    assert back_t.x_name is ControlQuantity.COMPLIANCE_CURRENT
    np.testing.assert_array_equal(back_t.x, t.x)
    np.testing.assert_array_equal(back_t.resistance, t.resistance)
    assert dict(back_t.metadata) == {"note": "overwrites"}
    assert path.read_text().startswith("# kind: r_vs_ic\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temp files left


def test_plain_atomic_write_on_invalid_object(tmp_path: Path) -> None:
    path = tmp_path / "keep.csv"
    path.write_text("old content\n")
    s = sweep([0.0, 1.0, 2.0], [0.0, 1e-6, 2e-6])
    # Corrupt the frozen object behind its back: the writer finds it mid-way through.
    object.__setattr__(s, "current", np.array([0.0, 1e-6, np.nan]))
    with pytest.raises(ValueError, match="must be finite"):
        write_plain_csv(path, s)
    assert path.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]
    with pytest.raises(ValueError, match="single line"):
        write_plain_csv(tmp_path / "new.csv", sweep([0.0], [0.0]), metadata={"note": "a\nb"})
    with pytest.raises(ValueError, match="contradicts"):
        write_plain_csv(tmp_path / "new.csv", sweep([0.0], [0.0]), metadata={"kind": "r_vs_ic"})
    with pytest.raises(TypeError):
        write_plain_csv(tmp_path / "new.csv", [1, 2])  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


@pytest.mark.parametrize("text, location, column, words", [
    ("# kind: iv\ntime_s,voltage_V\n0,1\n", "line 2", "current_A", "missing required"),
    ("voltage_V,current_mA\n0,1\n", "line 1", "current_mA", "unknown column"),
    ("voltage_V,current_A\n0,1\n0.1\n", "line 3", None, "expected 2 columns"),
    ("voltage_V,current_A\n0,1\n0.1,abc\n", "line 3", "current_A", "could not parse 'abc'"),
    ("voltage_V,current_A\n0,inf\n", "line 2", "current_A", "non-finite"),
    ("v_gate_V,resistance_ohm\n2.0,0\n", "line 2", "resistance_ohm", "> 0"),
    ("compliance_A,resistance_ohm\n-1e-4,5000\n", "line 2", "compliance_A", "> 0"),
    ("# kind: r_vs_ic\nv_gate_V,resistance_ohm\n2.0,5000\n", "line 2", "compliance_A",
     "missing required"),
    ("# kind: iv\nvoltage_V,current_A,resistance_ohm\n0,1,3\n", "line 2", "resistance_ohm",
     "not allowed"),
    ("voltage_V,current_A\n", "line 1", None, "no data rows"),
    ("# compliance_A: abc\nvoltage_V,current_A\n0,1\n", "line 1", None, "compliance_A"),
    ("# kind: foo\nvoltage_V,current_A\n0,1\n", "line 1", None, "unknown kind"),
    ("# a: 1\n# a: 2\nvoltage_V,current_A\n0,1\n", "line 2", None, "repeated"),
    ("# polarity: 2\nvoltage_V,current_A\n0,1\n", "line 1", None, "polarity"),
    ("resistance_ohm\n5000\n", "line 1", None, "cannot tell the kind"),
])
def test_plain_errors(tmp_path: Path, text: str, location: str, column: str | None,
                      words: str) -> None:
    path = write_text(tmp_path / "p.csv", text)
    with pytest.raises(MeasurementFormatError, match=words) as err:
        read_plain_csv(path)
    assert_located(err, path, location, column)


def test_plain_file_level_errors(tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "# kind: iv\n")
    with pytest.raises(MeasurementFormatError, match="no header") as err:
        read_plain_csv(path)
    assert_located(err, path, None, None)
    path = write_text(tmp_path / "e.csv", "  \n")
    with pytest.raises(MeasurementFormatError, match="empty"):
        read_plain_csv(path)
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(MeasurementFormatError, match="UTF-8"):
        read_plain_csv(path)


# ----------------------------------------------------------------------------- dispatch
def test_load_measurement_dispatch(tmp_path: Path, workbook: Path) -> None:
    assert [s.label for s in load_measurement(workbook)] == ["book:Run2", "book:Run10"]
    k = load_measurement(write_text(tmp_path / "k.csv", "Time,AI,AV\n0,1e-9,0\n"))
    assert isinstance(k, list) and isinstance(k[0], IVSweep)
    p = load_measurement(write_text(tmp_path / "p.csv", "# kind: iv\nvoltage_V,current_A\n0,1\n"))
    assert isinstance(p, IVSweep)
    r = load_measurement(write_text(tmp_path / "r.csv", "v_stop_V,resistance_ohm\n1,5000\n"))
    assert isinstance(r, ResistanceTable) and r.x_name is ControlQuantity.V_STOP
    ps = load_measurement(write_text(tmp_path / "reset-sweep-z.csv", PULSES))
    assert isinstance(ps, PulseSweep) and ps.kind is PulseKind.RESET
    long_row = "\t".join(["1"] + ["100", "10"] * 4)
    c = load_measurement(write_text(tmp_path / "cells.csv", long_row + "\n2\t100\t10\n"))
    assert isinstance(c, CyclingTable) and c.r_hrs.shape == (2, 4)
    c3 = load_measurement(write_text(tmp_path / "cycling-3.csv", "1\t100\t10\n"))
    assert isinstance(c3, CyclingTable) and c3.r_hrs.shape == (1, 1)


@pytest.mark.parametrize("name, text, words", [
    ("u.csv", "a;b;c\n1;2;3\n", "unrecognised"),
    ("t.csv", "1\t2\t3\t4\n", "neither a pulse sweep"),
    ("e.csv", "\n\n", "empty"),
])
def test_load_measurement_unknown(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = write_text(tmp_path / name, text)
    with pytest.raises(MeasurementFormatError, match=words) as err:
        load_measurement(path)
    assert name in str(err.value)
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        load_measurement(tmp_path / "gone.csv")


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"measured data not found at {DATA}")
    return DATA


@pytest.fixture(scope="module")
def endurance_set(data_dir: Path) -> list[IVSweep]:
    # ~1 s to read: once per module.
    return read_keithley(B12 / "04 endurance set.xlsx")


@pytest.mark.data
def test_real_endurance_set(endurance_set: list[IVSweep]) -> None:
    assert len(endurance_set) == 50  # sheets Run123..Run172 (+ Calc, Settings)
    assert [s.label for s in endurance_set] == \
        [f"04 endurance set:Run{n}" for n in range(123, 173)]
    for s in endurance_set:
        assert len(s) == 502
        assert s.polarity == -1
        assert s.voltage.min() == pytest.approx(-2.5)
        assert estimate_compliance(s) == pytest.approx(5e-4, rel=1e-3)
        out, back = s.split_branches()
        assert len(out) + len(back) == len(s) + 1


@pytest.mark.data
def test_real_reset_and_ratio_workbooks(data_dir: Path) -> None:
    (s,) = read_keithley(B12 / "02 reset.xlsx")
    assert s.label == "02 reset:Run116" and s.polarity == 1
    assert estimate_compliance(s) is None  # RESET: a current peak, no compliance plateau
    # The 'ratio' workbooks hold per-cycle summaries, not sweeps: refused with the reason.
    with pytest.raises(MeasurementFormatError, match="missing required header") as err:
        load_measurement(B12 / "04 endurance ratio.xlsx")
    assert err.value.column == "Time" and "2-wire-resistor" in err.value.location


@pytest.mark.data
def test_real_radar_pulse_sweeps(data_dir: Path) -> None:
    sweeps = RADAR / "sweeps" / "data"
    s = read_pulse_sweep(sweeps / "set-sweep-wl-noreset-200pw-7-16-20.csv")
    assert s.kind is PulseKind.SET and len(s) == 13442
    np.testing.assert_allclose(np.unique(s.pulse_width), [200e-9])
    for r in (s.r_initial, s.r_final):
        assert 3.5e3 <= r.min() and r.max() <= 4.8e6
    assert min(s.group_by_gate()) == pytest.approx(1.0)

    r = load_measurement(sweeps / "sl-reset-sweep-5-29-20.csv")
    assert isinstance(r, PulseSweep) and r.kind is PulseKind.RESET
    np.testing.assert_allclose(np.unique(r.pulse_width), [100e-9])
    assert r.v_line.min() == 0.0 and r.v_line.max() == pytest.approx(3.0)
    for res in (r.r_initial, r.r_final):
        assert 3.5e3 <= res.min() and res.max() <= 4.8e6

    t0 = time.perf_counter()
    big = read_pulse_sweep(sweeps / "reset-sweep-wl-0.02-6-7-20.csv")  # largest file
    assert time.perf_counter() - t0 < 1.0
    assert len(big) == 83744 and big.kind is PulseKind.RESET


@pytest.mark.data
def test_real_cycling(data_dir: Path) -> None:
    t = load_measurement(RADAR / "misc" / "cycling" / "data" / "cycling-5-1-20.csv")
    assert isinstance(t, CyclingTable)
    assert t.r_hrs.shape == (100, 300) and t.r_lrs.shape == (100, 300)
    assert not np.isnan(t.r_hrs).any() and not np.isnan(t.r_lrs).any()
    assert 3.5e3 <= min(t.r_hrs.min(), t.r_lrs.min())
    assert max(t.r_hrs.max(), t.r_lrs.max()) <= 4.8e6
    assert np.median(t.r_hrs) > 5 * np.median(t.r_lrs)  # HRS and LRS are not swapped
    c2c, d2d = t.cycle_to_cycle_spread(), t.device_to_device_spread()
    assert np.all(c2c.hrs > c2c.lrs)  # HRS varies more from cycle to cycle than LRS
    assert 0 < d2d.lrs < d2d.hrs
