"""The compact model's SPICE subcircuit against the numpy model, simulated in ngspice."""

import numpy as np
import pytest

from compact_model import equations as eq
from compact_model.access import SeriesResistor
from compact_model.cards import load_preset
from compact_model.params import DeviceParams
from compact_model.simulate import simulate
from cosim.ngspice_compat import run_deck
from netlist_gen.ir import DcSweep, Instance, Netlist, Pwl, Resistor, Tran, VSource
from netlist_gen.ngspice import write_ngspice
from netlist_gen.rram import (device_params_for_instance, gap_from_state_node, rram_static_subckt,
                              rram_subckt)

DEV = load_preset("siox-literature").device


def test_static_subckt_text_is_stable(file_regression):
    file_regression.check(write_ngspice(Netlist(
        title="rram static", subckts=(rram_static_subckt(DEV, 1.5e-9),),
        elements=(VSource("in", "a", "0", 0.1), Instance("d1", "rram_static", ("a", "0"))))),
        extension=".cir")


@pytest.mark.ngspice
@pytest.mark.parametrize("gap", [DEV.g_min, 1.2e-9, DEV.g_max])
def test_static_iv_matches_numpy(gap):
    netlist = Netlist(title="iv", subckts=(rram_static_subckt(DEV, gap),),
                      elements=(VSource("in", "a", "0"), Instance("d1", "rram_static", ("a", "0"))),
                      analysis=DcSweep("vin", -2.0, 2.0, 0.05),
                      options={"reltol": 1e-8, "abstol": 1e-18, "vntol": 1e-12})
    r = run_deck(write_ngspice(netlist))
    v, i_spice = r["sweep"], -r["i(vin)"]
    i_np = eq.current(v, gap, DEV, eq.NUMPY_OPS)
    nz = np.abs(v) > 1e-9
    # The same expression on both sides; what remains is Newton's stopping tolerance (reltol).
    np.testing.assert_allclose(i_spice[nz], i_np[nz], rtol=1e-6)


@pytest.mark.ngspice
def test_instance_overrides_carry_per_device_parameters():
    other = DeviceParams(**{**{f: getattr(DEV, f) for f in DEV.__dataclass_fields__}, "i0": 3e-3})
    params = device_params_for_instance(other)
    params["rr_gap"] = 1.2e-9
    netlist = Netlist(title="override", subckts=(rram_static_subckt(DEV, 1.2e-9),),
                      elements=(VSource("in", "a", "0", 0.2),
                                Instance("d1", "rram_static", ("a", "0"), params)),
                      analysis=DcSweep("vin", 0.2, 0.2, 0.1))
    i = -run_deck(write_ngspice(netlist))["i(vin)"][0]
    np.testing.assert_allclose(i, eq.current(0.2, 1.2e-9, other, eq.NUMPY_OPS), rtol=1e-9)


def _transient(times, volts, gap0, r_series, max_step):
    netlist = Netlist(
        title="rram transient", subckts=(rram_subckt(DEV, gap0),),
        elements=(VSource("in", "a", "0", 0.0, Pwl(tuple(times), tuple(volts))),
                  Resistor("s", "a", "b", r_series), Instance("d1", "rram", ("b", "0"))),
        analysis=Tran(max_step, times[-1], max_step=max_step, uic=True), options={"reltol": 1e-5})
    r = run_deck(write_ngspice(netlist))
    return r["time"], gap_from_state_node(r["v(xd1.gap)"]), r["v(b)"]


@pytest.mark.ngspice
def test_set_transient_matches_numpy_integrator():
    times, volts = [0, 10e-9, 1e-6, 1.01e-6], [0, 2.0, 2.0, 0]
    t_sp, gap_sp, _ = _transient(times, volts, DEV.g_max, 10e3, 1e-10)
    fine = np.linspace(0, 2e-8, 2001)
    ref_edge = simulate(DEV, fine, np.interp(fine, times, volts), DEV.g_max,
                        series=SeriesResistor(r=10e3), max_step=0.001e-9, max_dv=0.001)
    ref = simulate(DEV, np.array(times), np.array(volts), DEV.g_max, series=SeriesResistor(r=10e3),
                   max_step=0.001e-9, max_dv=0.001)
    # Time axis first: the abrupt SET happens at the same moment. Both integrators were refined
    # until this time stopped moving (ngspice max step 1e-9 -> 2e-11 s moved it 0.5 ns, then
    # 0.02 ns); 0.2 ns is 2 % of the 10 ns rise.
    mid = 0.5 * (DEV.g_max + ref.final_gap[0])
    t_cross_sp = np.interp(-mid, -gap_sp, t_sp)
    t_cross_np = np.interp(-mid, -ref_edge.gap[0], fine)
    assert abs(t_cross_sp - t_cross_np) < 0.2e-9
    # Final state: 0.5 % of the gap is ~1.5 % in read resistance.
    np.testing.assert_allclose(gap_sp[-1], ref.final_gap[0], rtol=5e-3)
    assert gap_sp[-1] < 0.5 * DEV.g_max  # it did SET
    # After the edge the slow compliance-limited drift: RMS error normalised by the gap range.
    after = t_sp > 20e-9
    dense = simulate(DEV, t_sp[after], np.interp(t_sp[after], times, volts), gap_sp[after][0],
                     series=SeriesResistor(r=10e3))
    rms = np.sqrt(np.mean((dense.gap[0] - gap_sp[after]) ** 2)) / (DEV.g_max - gap_sp.min())
    assert rms < 1e-3


@pytest.mark.ngspice
def test_reset_ramp_matches_numpy_integrator():
    times, volts = [0, 1e-4, 1.001e-4], [0, -2.0, 0]
    lrs = 0.9e-9
    t_sp, gap_sp, _ = _transient(times, volts, lrs, 100.0, 2e-7)
    ref = simulate(DEV, np.array(times), np.array(volts), lrs, series=SeriesResistor(r=100.0),
                   max_step=0.001e-9, max_dv=0.001)
    np.testing.assert_allclose(gap_sp[-1], ref.final_gap[0], rtol=5e-3)
    assert gap_sp[-1] > 2 * lrs  # it did RESET
