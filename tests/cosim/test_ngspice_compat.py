"""Tests for cosim.ngspice_compat: PySpice 1.5 against the system ngspice 39 with numpy 2."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
from PySpice.Spice.NgSpice.Shared import NgSpiceShared
from PySpice.Spice.Netlist import Circuit

from cosim import ngspice_compat as nc
from cosim.ngspice_compat import SpiceError, SpiceMode

MODES = list(SpiceMode)
R_OHM, C_FARAD = 1e3, 1e-6
TAU = R_OHM * C_FARAD  # 1 ms
STEP = 10e-6


def rc_lowpass() -> Circuit:
    c = Circuit("rc lowpass")
    # 1 ns edge: an ideal step is not representable; it shifts the response by ~0.5 ns.
    c.V("Input", "In", c.gnd, "PULSE(0 1 0 1n 1n 1 2)")
    c.R(1, "In", "Out", R_OHM)
    c.C(1, "Out", c.gnd, C_FARAD)
    return c


def divider(volts: float = 2.0, r1: float = 1e3, r2: float = 3e3) -> Circuit:
    c = Circuit("divider")
    c.V("Input", "In", c.gnd, volts)
    c.R(1, "In", "Out", r1)
    c.R(2, "Out", c.gnd, r2)
    return c


def source_loop() -> Circuit:
    # Two ideal sources in parallel at different voltages: singular, ngspice cannot converge.
    c = Circuit("source loop")
    c.V(1, "a", c.gnd, 1)
    c.V(2, "a", c.gnd, 2)
    return c


def rc_step(mode: SpiceMode) -> nc.Waveforms:
    return nc.run_transient(rc_lowpass(), STEP, 5 * TAU, mode, max_time=STEP)


# --- no simulator needed -------------------------------------------------------------------


def test_import_does_no_work() -> None:
    code = ("import cosim.ngspice_compat as m, PySpice.Spice.NgSpice.Server as s;"
            "assert not m._installed and s.RawFile is not m._CompatRawFile")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_raw_parser_skips_note_and_uses_frombuffer() -> None:
    data = np.array([[0.0, 1.0, -1e-3], [1e-6, 0.5, -5e-4]])
    header = (b"\nNote: No compatibility mode selected!\n\n\nCircuit: x\n\n"
              b"Doing analysis at TEMP = 27.000000 and TNOM = 27.000000\n\n"
              b"Title: x\nDate: today\nPlotname: Transient Analysis\nFlags: real\n"
              b"No. Variables: 3\nNo. Points: 0       \nVariables:\nNo. of Data Columns : 3  \n"
              b"\t0\ttime\ttime\n\t1\tv(out)\tvoltage\n\t2\ti(vinput)\tcurrent\nBinary:\n")
    raw = nc._CompatRawFile(header + data.astype("<f8").tobytes(), 2)
    assert raw.plot_name == "Transient Analysis"
    np.testing.assert_array_equal(raw.variables["v(out)"].data, [1.0, 0.5])
    np.testing.assert_array_equal(raw.variables["i(vinput)"].data, [-1e-3, -5e-4])


def test_waveforms_accessors_are_case_insensitive() -> None:
    t = np.array([0.0, 1.0])
    w = nc.Waveforms(time=t, voltages={"out": t * 2}, currents={"vinput": -t})
    for name in ("out", "Out", "OUT", "v(out)", "V(Out)"):
        assert w.v(name) is w.voltages["out"]
    for name in ("vinput", "VInput", "i(VInput)", "vinput#branch"):
        assert w.i(name) is w.currents["vinput"]
    assert set(w.as_dict()) == {"time", "v(out)", "i(vinput)"}
    with pytest.raises(KeyError, match="have"):
        w.v("missing")


def test_only_the_v39_warning_is_silenced(caplog: pytest.LogCaptureFixture) -> None:
    nc.install()
    nc.install()  # idempotent: one filter, not two
    logger = logging.getLogger(NgSpiceShared._logger.name)
    assert sum(isinstance(f, nc._VersionWarningFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("Unsupported Ngspice version %s", 39)
        logger.warning("Unsupported Ngspice version %s", 45)
        logger.warning("spinit was not found")
    assert [r.getMessage() for r in caplog.records] == [
        "Unsupported Ngspice version 45", "spinit was not found"]


# --- real ngspice ----------------------------------------------------------------------------


@pytest.mark.ngspice
@pytest.mark.parametrize("mode", MODES)
def test_ngspice_version(mode: SpiceMode) -> None:
    assert nc.ngspice_version(mode) >= 39


@pytest.mark.ngspice
def test_shared_library_path_is_set() -> None:
    nc.install()
    assert NgSpiceShared.LIBRARY_PATH and "ngspice" in NgSpiceShared.LIBRARY_PATH


@pytest.mark.ngspice
@pytest.mark.parametrize("mode", MODES)
def test_rc_step_matches_analytic(mode: SpiceMode) -> None:
    w = rc_step(mode)
    assert w.time[0] == 0.0 and w.time[-1] == pytest.approx(5 * TAU)
    grid = np.linspace(0.0, 5 * TAU, 501)
    v_out = np.interp(grid, w.time, w.v("Out"))
    # Error budget, h <= 10 us (max_time): linear interpolation <= h^2/8 * max|v''| = h^2/(8 tau^2)
    # = 1.25e-5; trapezoidal integration ~ h^2/(12 tau^2) * max(t/tau e^-t/tau) = 3.1e-6;
    # 1 ns edge ~ 5e-7. Sum ~1.6e-5 (measured 1.1e-5), so 2.5e-5 still catches a wrong RC
    # or a misparsed waveform, which err by >1e-2.
    assert np.max(np.abs(v_out - (1.0 - np.exp(-grid / TAU)))) < 2.5e-5


@pytest.mark.ngspice
def test_rc_step_modes_agree() -> None:
    shared, sub = rc_step(SpiceMode.SHARED), rc_step(SpiceMode.SUBPROCESS)
    assert shared.as_dict().keys() == sub.as_dict().keys() == {"time", "v(in)", "v(out)", "i(vinput)"}
    grid = np.linspace(0.0, 5 * TAU, 501)
    for name in ("in", "out"):
        # Same engine and deck; binary raw output is full double precision, so ~exact.
        np.testing.assert_allclose(np.interp(grid, shared.time, shared.v(name)),
                                   np.interp(grid, sub.time, sub.v(name)), rtol=0, atol=1e-9)
    assert not shared.v("out").flags.writeable


@pytest.mark.ngspice
def test_divider_operating_point_same_keys_both_modes() -> None:
    volts, r1, r2 = 2.0, 1e3, 3e3
    results = {mode: nc.run_operating_point(divider(volts, r1, r2), mode) for mode in MODES}
    assert all(r.keys() == {"v(in)", "v(out)", "i(vinput)"} for r in results.values())
    for r in results.values():
        assert r["v(out)"] == pytest.approx(volts * r2 / (r1 + r2), rel=1e-9)
        # SPICE convention: current flows into the + terminal, so a source delivering power is < 0.
        assert r["i(vinput)"] == pytest.approx(-volts / (r1 + r2), rel=1e-9)


@pytest.mark.ngspice
@pytest.mark.parametrize("mode", MODES)
def test_non_convergence_raises_spice_error(mode: SpiceMode) -> None:
    with pytest.raises(SpiceError, match="Timestep too small") as info:
        nc.run_transient(source_loop(), 1e-6, 1e-5, mode)
    assert "run simulation(s) aborted" in str(info.value)
    assert "singular matrix" in info.value.output
    with pytest.raises(SpiceError, match="DC solution failed"):
        nc.run_operating_point(source_loop(), mode)
    # The next simulation must be unaffected (shared mode: same libngspice instance).
    assert nc.run_operating_point(divider(), mode)["v(out)"] == pytest.approx(1.5)


@pytest.mark.ngspice
@pytest.mark.parametrize("mode", MODES)
def test_netlist_error_raises_spice_error(mode: SpiceMode) -> None:
    c = Circuit("bad value")
    c.raw_spice = "R1 a 0 notavalue\nV1 a 0 1\n"
    with pytest.raises(SpiceError, match="circuit not parsed"):
        nc.run_operating_point(c, mode)


@pytest.mark.ngspice
@pytest.mark.parametrize("mode", MODES)
def test_floating_node_is_resolved_not_an_error(mode: SpiceMode) -> None:
    # ngspice 39 rescues a floating capacitor with gmin/source stepping; plain PySpice shared
    # mode mis-reported this as "Command 'run' failed" because of the stepping notes.
    c = Circuit("floating")
    c.V(1, "a", c.gnd, 1)
    c.R(1, "a", c.gnd, 1e3)
    c.C(1, "b", "c", 1e-6)
    w = nc.run_transient(c, 1e-6, 1e-5, mode)
    assert w.v("a")[-1] == pytest.approx(1.0)
    assert w.v("b")[-1] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.ngspice
def test_repeated_shared_runs_are_identical_and_isolated() -> None:
    runs = [rc_step(SpiceMode.SHARED) for _ in range(3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.time, runs[0].time)
        np.testing.assert_array_equal(other.v("out"), runs[0].v("out"))
        np.testing.assert_array_equal(other.i("vinput"), runs[0].i("vinput"))
    # A different circuit afterwards must not see the previous circuit's vectors.
    op = nc.run_operating_point(divider(), SpiceMode.SHARED)
    assert op.keys() == {"v(in)", "v(out)", "i(vinput)"}
    c = Circuit("other")
    c.V("X", "p", c.gnd, 3)
    c.R(1, "p", c.gnd, 1e3)
    assert nc.run_operating_point(c, SpiceMode.SHARED) == pytest.approx(
        {"v(p)": 3.0, "i(vx)": -3e-3})


@pytest.mark.ngspice
def test_plain_pyspice_subprocess_works_after_install() -> None:
    nc.install()
    c = rc_lowpass()
    sub = c.simulator(simulator="ngspice-subprocess").transient(step_time=STEP, end_time=TAU)
    shared = c.simulator(simulator="ngspice-shared").transient(step_time=STEP, end_time=TAU)
    assert list(sub.branches) == ["VInput"] and list(shared.branches) == ["vinput"]
    flat_sub, flat_shared = nc.normalize(sub), nc.normalize(shared)
    assert flat_sub.keys() == flat_shared.keys()
    np.testing.assert_allclose(flat_sub["v(out)"], flat_shared["v(out)"], atol=1e-9)
