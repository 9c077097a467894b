"""The same netlist objects simulated in ngspice and in VACASK must agree."""

import numpy as np
import pytest

from compact_model import equations as eq
from compact_model.access import SeriesResistor
from compact_model.cards import load_preset
from compact_model.simulate import simulate
from cosim.backends import Backend, simulate_netlist
from netlist_gen.ir import Capacitor, Instance, Netlist, Op, Pwl, Resistor, Tran, VSource
from netlist_gen.rram import device_params_for_instance, gap_from_state_node, rram_static_subckt, rram_subckt
from netlist_gen.vacask import write_vacask
from netlist_gen.verilog_a import rram_verilog_a

DEV = load_preset("siox-literature").device
pytestmark = [pytest.mark.ngspice, pytest.mark.vacask]


def _ladder(n=12, seed=5):
    rng = np.random.default_rng(seed)
    elements = [VSource("in", "n0", "0", 0.7)]
    for k in range(n):
        elements.append(Resistor(f"s{k}", f"n{k}", f"n{k + 1}", float(rng.uniform(10, 1e3))))
        elements.append(Resistor(f"g{k}", f"n{k + 1}", "0", float(rng.uniform(1e3, 1e6))))
    return elements


def test_linear_network_agrees_to_1e6():
    netlist = Netlist(title="ladder", elements=tuple(_ladder()), analysis=Op(),
                      options={"reltol": 1e-9})
    a = simulate_netlist(netlist, Backend.NGSPICE)
    b = simulate_netlist(netlist, Backend.VACASK)
    for key in [k for k in a if k.startswith(("v(", "i("))]:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-6, err_msg=key)


def test_rc_transient_agrees():
    netlist = Netlist(title="rc", elements=(
        VSource("in", "a", "0", 0.0, Pwl((0.0, 1e-9, 1e-5), (0.0, 1.0, 1.0))),
        Resistor("r", "a", "b", 1e3), Capacitor("c", "b", "0", 1e-9)),
        analysis=Tran(1e-8, 1e-5, max_step=1e-8))
    a = simulate_netlist(netlist, Backend.NGSPICE)
    b = simulate_netlist(netlist, Backend.VACASK)
    grid = np.linspace(0, 1e-5, 201)
    # Both integrate with 10 ns steps against tau = 1 us: each within ~1e-4 of the exact curve.
    np.testing.assert_allclose(np.interp(grid, b["time"], b["v(b)"]),
                               np.interp(grid, a["time"], a["v(b)"]), atol=2e-4)


def test_static_rram_iv_agrees_across_backends_and_numpy():
    volts = np.linspace(-1.5, 1.5, 13)
    gaps = np.linspace(DEV.g_min, DEV.g_max, volts.size)  # per-instance states (overrides)
    elements = []
    for k, (v, g) in enumerate(zip(volts, gaps)):
        elements += [VSource(f"s{k}", f"a{k}", "0", float(v)),
                     Instance(f"d{k}", "rram_static", (f"a{k}", "0"), {"rr_gap": float(g)})]
    netlist = Netlist(title="iv", subckts=(rram_static_subckt(DEV, 1e-9),), elements=tuple(elements),
                      analysis=Op(), options={"reltol": 1e-9, "abstol": 1e-18})
    va = rram_verilog_a(DEV, 1e-9, module="rram_static", dynamic=False)
    a = simulate_netlist(netlist, Backend.NGSPICE)
    b = simulate_netlist(netlist, Backend.VACASK, va_sources={"rram_static": va})
    expected = eq.current(volts, gaps, DEV, eq.NUMPY_OPS)
    for result in (a, b):
        i = np.array([-result[f"i(vs{k})"][0] for k in range(volts.size)])
        # Same expression text on all sides: agreement to the solvers' Newton tolerance.
        np.testing.assert_allclose(i, expected, rtol=1e-6, atol=1e-15)


def test_set_transient_agrees_across_ngspice_vacask_and_numpy():
    times, volts = (0.0, 10e-9, 1e-6, 1.01e-6), (0.0, 2.0, 2.0, 0.0)
    elements = (VSource("in", "a", "0", 0.0, Pwl(times, volts)), Resistor("s", "a", "b", 10e3),
                Instance("d1", "rram", ("b", "0")))
    netlist = Netlist(title="set", subckts=(rram_subckt(DEV, DEV.g_max),), elements=elements,
                      analysis=Tran(1e-9, 1.01e-6, max_step=1e-10, uic=True),
                      options={"reltol": 1e-5})
    a = simulate_netlist(netlist, Backend.NGSPICE)
    b = simulate_netlist(netlist, Backend.VACASK,
                         va_sources={"rram": rram_verilog_a(DEV, DEV.g_max, module="rram")})
    g_ng = gap_from_state_node(a["v(xd1.gap)"][-1])
    g_va = gap_from_state_node(b["v(xd1.gap)"][-1])
    ref = simulate(DEV, np.array(times), np.array(volts), DEV.g_max, series=SeriesResistor(r=10e3),
                   max_step=0.001e-9, max_dv=0.001).final_gap[0]
    # Two SPICE integrators of the same equations: 0.1 %; each vs the refined numpy one: 0.5 %.
    np.testing.assert_allclose(g_va, g_ng, rtol=1e-3)
    np.testing.assert_allclose([g_ng, g_va], ref, rtol=5e-3)


def test_vacask_writer_rejects_what_it_cannot_express():
    from netlist_gen.ir import BehavioralCurrent, DcSweep
    from netlist_gen.expr import Expr

    with pytest.raises(ValueError, match="cannot write BehavioralCurrent"):
        write_vacask(Netlist(title="t", elements=(BehavioralCurrent("b", "a", "0", Expr("1")),)))
    with pytest.raises(ValueError, match="no Verilog-A module"):
        write_vacask(Netlist(title="t", elements=(Instance("d", "rram", ("a", "0")),)))
    with pytest.raises(ValueError, match="DC sweeps"):
        write_vacask(Netlist(title="t", elements=(VSource("in", "a", "0"),),
                             analysis=DcSweep("vin", 0, 1, 0.1)))


def test_reset_ramp_agrees_across_ngspice_vacask_and_numpy():
    times, volts = (0.0, 1e-4, 1.001e-4), (0.0, -2.0, 0.0)
    lrs = 0.9e-9
    elements = (VSource("in", "a", "0", 0.0, Pwl(times, volts)), Resistor("s", "a", "b", 100.0),
                Instance("d1", "rram", ("b", "0")))
    netlist = Netlist(title="reset", subckts=(rram_subckt(DEV, lrs),), elements=elements,
                      analysis=Tran(1e-7, 1.001e-4, max_step=2e-7, uic=True),
                      options={"reltol": 1e-5})
    a = simulate_netlist(netlist, Backend.NGSPICE)
    b = simulate_netlist(netlist, Backend.VACASK, va_sources={"rram": rram_verilog_a(DEV, lrs)})
    g_ng = gap_from_state_node(a["v(xd1.gap)"][-1])
    g_va = gap_from_state_node(b["v(xd1.gap)"][-1])
    ref = simulate(DEV, np.array(times), np.array(volts), lrs, series=SeriesResistor(r=100.0),
                   max_step=0.001e-9, max_dv=0.001).final_gap[0]
    assert ref > 2 * lrs  # it did RESET
    # The VA state has a 1 pS hold toward gap0 (tau ~ 1000 s): over 100 us it moves < 1e-6.
    np.testing.assert_allclose([g_ng, g_va], ref, rtol=5e-3)
