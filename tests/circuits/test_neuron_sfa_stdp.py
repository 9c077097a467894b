"""LIF neuron, SFA threshold cell and A-STDP layer, simulated in ngspice."""

import dataclasses

import numpy as np
import pytest

from circuits.astdp import (AstdpParams, WtaMode, astdp_layer, astdp_netlist, astdp_netlist_text,
                            default_astdp_neuron, layer_max_step, pre_spike_pwl)
from circuits.neuron import LifParams, lif_interval, lif_neuron
from circuits.sfa import SfaParams, sfa_subckts, sfa_threshold
from compact_model.cards import load_preset
from cosim.ngspice_compat import run_deck
from netlist_gen.ir import Instance, ISource, Netlist, Pwl, Tran
from netlist_gen.ngspice import write_ngspice
from netlist_gen.rram import gap_from_state_node

DEV = load_preset("siox-literature").device
LIF = LifParams()  # tau_mem 1 us, V_TH 0.5 V, t_ref 1 us, spike 0.2 us


def _rising_edges(t: np.ndarray, v: np.ndarray, level: float) -> np.ndarray:
    """Times where v crosses ``level`` upwards, linearly interpolated between samples."""
    k = np.where((v[1:] >= level) & (v[:-1] < level))[0]
    return t[k] + (level - v[k]) / (v[k + 1] - v[k]) * (t[k + 1] - t[k])


def _falling_edges(t: np.ndarray, v: np.ndarray, level: float) -> np.ndarray:
    return _rising_edges(t, -v, -level)


def _neuron_deck(current: float, t_stop: float) -> Netlist:
    return Netlist(title="lif neuron, constant input current",
                   subckts=(lif_neuron("lif", LIF),),
                   elements=(ISource("in", "0", "a", current), Instance("n1", "lif", ("a", "out"))),
                   analysis=Tran(LIF.max_step, t_stop, max_step=LIF.max_step, uic=True))


def test_lif_subckt_text_is_stable(file_regression):
    file_regression.check(write_ngspice(_neuron_deck(1e-6, 5e-6)), extension=".cir")


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="t_spike"):
        LifParams(t_spike=1e-6, t_refractory=1e-6)
    with pytest.raises(ValueError, match="v_th"):
        LifParams(v_th=0.0)
    with pytest.raises(ValueError, match="v_gate_off"):
        AstdpParams(v_gate_off=-1.0)
    with pytest.raises(ValueError, match="t_refractory"):
        astdp_layer(1, 1, device=DEV, gaps0=[[2e-9]],
                    neuron=dataclasses.replace(default_astdp_neuron(), t_refractory=1e-6))
    with pytest.raises(ValueError, match="overlaps"):
        pre_spike_pwl([0.0, 0.5e-6], AstdpParams())
    with pytest.raises(ValueError, match="v_prog"):
        SfaParams(v_prog=0.1)


@pytest.mark.ngspice
@pytest.mark.parametrize("current", [1e-6, 2e-6])
def test_lif_interval_matches_analytic(current):
    r = run_deck(write_ngspice(_neuron_deck(current, 12e-6)))
    t, out = r["time"], r["v(out)"]
    rise, fall = _rising_edges(t, out, 0.5), _falling_edges(t, out, 0.5)
    isi = np.diff(rise)
    expected = lif_interval(LIF, current)  # 1.693 us at 1 uA, 1.288 us at 2 uA
    assert len(isi) >= 5
    # Time axis first: the first fire comes after the membrane charge time alone, plus the
    # output's rise (~3 t_timer_rise = 15 ns).
    first = expected - LIF.t_refractory
    assert first < rise[0] < first + 30e-9
    # Measured |error| <= 0.5 %. Its sources: the comparator's tanh width (1 mV of a 0.5 V
    # threshold -> a few ns), the smooth release of the reset switch (~1 % of t_ref in timer
    # level), and the 2 ns step with which the output edge is sampled (0.15 % of the ISI).
    # 2 % leaves margin for other ngspice builds while still catching a wrong t_ref (>= 10 %).
    np.testing.assert_allclose(isi, expected, rtol=0.02)
    np.testing.assert_allclose(fall[:len(rise)] - rise[:len(fall)], LIF.t_spike, rtol=0.1)
    # Between fires the membrane never exceeds the threshold by more than the comparator width
    # plus one step of charging.
    assert r["v(xn1.mem)"].max() < LIF.v_th + 0.03


@pytest.mark.ngspice
def test_lif_does_not_fire_below_rheobase():
    current = 0.45e-6  # I R = 0.45 V < V_TH = 0.5 V
    r = run_deck(write_ngspice(_neuron_deck(current, 12e-6)))
    assert r["v(out)"].max() < 0.01
    # The membrane settles at I R (12 time constants: exp(-12) ~ 6e-6 of the way left).
    np.testing.assert_allclose(r["v(xn1.mem)"][-1], current * LIF.r_leak, rtol=1e-3)


@pytest.mark.ngspice
def test_sfa_threshold_rises_with_each_fire():
    sfa = SfaParams()  # V_TH = 10 v(div), v_read 0.2 V, R_load 100 kohm, 1.8 V partial SET
    gap0 = 2.0e-9
    current = 0.8e-6  # I R = 0.8 V, above every threshold the cell reaches here (< 0.55 V)
    netlist = Netlist(
        title="lif neuron with SFA threshold",
        subckts=(lif_neuron("lif", LIF, threshold_from_node=True),) + sfa_subckts("sfa", DEV, gap0, sfa),
        elements=(ISource("in", "0", "a", current), Instance("n1", "lif", ("a", "out", "vth")),
                  Instance("s1", "sfa", ("out", "vth"))),
        analysis=Tran(LIF.max_step, 12e-6, max_step=LIF.max_step, uic=True))
    r = run_deck(write_ngspice(netlist))
    t, out, vth = r["time"], r["v(out)"], r["v(vth)"]
    gap = gap_from_state_node(r["v(xs1.xr.gap)"])
    fires = _rising_edges(t, out, 0.5)
    assert len(fires) >= 5
    # V_TH and the gap sampled 50 ns before each fire (the neuron is integrating then).
    idx = np.searchsorted(t, fires - 50e-9)
    vth_before, gap_before = vth[idx], gap[idx]
    print("V_TH before each fire (V):", np.round(vth_before, 4))
    print("gap before each fire (nm):", np.round(gap_before * 1e9, 4))
    assert vth_before[0] == pytest.approx(sfa_threshold(DEV, gap0, sfa), abs=1e-4)
    assert np.all(np.diff(vth_before) > 2e-3)  # every fire raises V_TH (here by >= 8 mV)
    assert np.all(np.diff(gap_before) < 0)  # by a partial SET
    # The read circuit: V_TH equals the divider solved with the numpy model at the simulated
    # gap (same equations; 1 mV covers the track-and-hold's settling).
    np.testing.assert_allclose(vth_before, sfa_threshold(DEV, gap_before, sfa), atol=1e-3)
    # The inter-spike interval grows with V_TH, as the LIF formula says at each new threshold.
    isi = np.diff(fires)
    assert np.all(np.diff(isi) > 0)
    expected = [lif_interval(LIF, current, v) for v in vth_before[1:]]
    np.testing.assert_allclose(isi, expected, rtol=0.03)
    # Non-volatile: V_TH does not drift between fires (from the end of one fire's spike to just
    # before the next; the read at 0.2 V does not disturb the device).
    after_spike = vth[np.searchsorted(t, fires[:-1] + LIF.t_spike + 0.1e-6)]
    np.testing.assert_allclose(after_spike, vth_before[1:], atol=1e-4)


@pytest.mark.ngspice
def test_stdp_pair_potentiates_before_and_depresses_after():
    params = AstdpParams()
    neuron = default_astdp_neuron(params)  # tau 1 us, V_TH 0.6 V, t_ref 1.5 us
    gap0 = 1.6e-9  # mid-range: free to move either way
    layer = astdp_layer(2, 1, device=DEV, gaps0=[[gap0], [gap0]], neuron=neuron, params=params)
    # A teacher current forces the fire: 12 uA -> I R = 1.2 V, fire ~0.69 us after onset.
    t0, i_teach = 0.5e-6, 12e-6
    t_fire = t0 + lif_interval(neuron, i_teach) - neuron.t_refractory
    teacher = ISource("teach", "0", layer.input_nodes[0], 0.0,
                      Pwl((0.0, t0, t0 + 10e-9, t0 + 1.2e-6, t0 + 1.21e-6), (0, 0, i_teach, i_teach, 0)))
    pre = [[t_fire - 0.5 * params.t_pre],  # input 0: spike spans the fire (pre before post)
           [t_fire + 0.4e-6]]  # input 1: spike starts after the SET pulse (post before pre)
    netlist = astdp_netlist(layer, pre, params=params, t_stop=3.2e-6,
                            max_step=layer_max_step(neuron, params), extra_elements=(teacher,))
    r = run_deck(write_ngspice(netlist))
    fires = _rising_edges(r["time"], r["v(post_0)"], 0.5)
    assert len(fires) == 1
    # The timing the test relies on: input 0 is on at the fire, input 1 turns on after the SET
    # pulse has ended and before the RESET pulse.
    assert pre[0][0] < fires[0] < pre[0][0] + params.t_pre - neuron.t_spike
    assert fires[0] + neuron.t_spike < pre[1][0] < fires[0] + params.t_reset_delay
    before = gap_from_state_node(r[layer.synapse_gap_vector(0, 0)])
    after = gap_from_state_node(r[layer.synapse_gap_vector(1, 0)])
    print(f"fire at {fires[0] * 1e6:.3f} us; pre-before-post gap {before[0] * 1e9:.3f} -> "
          f"{before[-1] * 1e9:.3f} nm; post-before-pre gap {after[0] * 1e9:.3f} -> "
          f"{after[-1] * 1e9:.3f} nm")
    assert before[-1] < gap0 - 0.3e-9  # potentiated: toward LRS (measured 1.6 -> ~1.0 nm)
    assert after[-1] > gap0 + 0.3e-9  # depressed: toward HRS (measured 1.6 -> ~2.2 nm)


def _wta_run(mode: WtaMode) -> tuple[dict, object]:
    params = AstdpParams()
    neuron = default_astdp_neuron(params)
    lrs, hrs = 1.0e-9, 2.2e-9
    # Inputs 0 and 1 are the pattern. Neuron 0 stores it in LRS; neuron 1 in a slightly weaker
    # state (1.15 nm), so alone it would fire too, ~0.35 us later.
    gaps = [[lrs, 1.15e-9], [lrs, 1.15e-9], [hrs, hrs], [hrs, hrs]]
    layer = astdp_layer(4, 2, device=DEV, gaps0=gaps, neuron=neuron, params=params, wta=mode)
    pre = [[0.2e-6, 2.7e-6], [0.2e-6, 2.7e-6], [], []]
    netlist = astdp_netlist(layer, pre, params=params, t_stop=4.5e-6,
                            max_step=layer_max_step(neuron, params))
    return run_deck(write_ngspice(netlist)), layer


@pytest.mark.ngspice
def test_winner_take_all_resets_the_loser():
    free, _ = _wta_run(WtaMode.OFF)
    t = free["time"]
    assert len(_rising_edges(t, free["v(post_0)"], 0.5)) == 2
    assert len(_rising_edges(t, free["v(post_1)"], 0.5)) == 2  # without WTA both fire

    r, layer = _wta_run(WtaMode.REFRACTORY)
    t = r["time"]
    winner = _rising_edges(t, r["v(post_0)"], 0.5)
    assert len(winner) == 2
    assert len(_rising_edges(t, r["v(post_1)"], 0.5)) == 0
    # The loser's membrane is reset at the winner's fire and held while the winner is refractory.
    mem1 = r[layer.membrane_vector(1)]
    for tf in winner:
        window = (t > tf + 50e-9) & (t < tf + 1.0e-6)
        assert np.max(np.abs(mem1[window])) < 0.01
        assert mem1[np.searchsorted(t, tf - 20e-9)] > 0.2  # it had been integrating
    # The loser's synapses are untouched (it never fired, so its column was never written).
    np.testing.assert_allclose(gap_from_state_node(r[layer.synapse_gap_vector(0, 1)][-1]),
                               1.15e-9, rtol=1e-3)


@pytest.mark.ngspice
def test_astdp_deck_text_records_command_and_simulates():
    command = "rramcosim netlist astdp --inputs 2 --neurons 1 --sfa"
    text = astdp_netlist_text(n_inputs=2, n_neurons=1, device=DEV, gaps0=[[1.0e-9], [1.0e-9]],
                              pre_spike_times=[[0.1e-6], [0.1e-6]], t_stop=2.0e-6,
                              command_line=command, sfa=True)
    assert text.splitlines()[1] == f"* generated by: {command}"
    assert "* astdp: AstdpParams(" in text and "* neuron: LifParams(" in text
    assert text == astdp_netlist_text(n_inputs=2, n_neurons=1, device=DEV,
                                      gaps0=[[1.0e-9], [1.0e-9]], pre_spike_times=[[0.1e-6], [0.1e-6]],
                                      t_stop=2.0e-6, command_line=command, sfa=True)
    r = run_deck(text)
    # The two LRS synapses (I R ~ 1.5 V > V_TH ~ 0.61 V) make the neuron fire once, which
    # partially SETs the SFA RRAM and raises the threshold.
    t = r["time"]
    fires = _rising_edges(t, r["v(post_0)"], 0.5)
    assert len(fires) == 1
    vth = r["v(vth_0)"]
    assert vth[-1] > vth[np.searchsorted(t, fires[0] - 20e-9)] + 0.01


def test_inference_netlist_gates_the_write_drivers_off():
    from circuits.astdp import AstdpParams, post_driver, default_astdp_neuron
    from circuits.sfa import SfaParams, sfa_cell
    from compact_model.cards import load_preset

    p = AstdpParams()
    neuron = default_astdp_neuron(p)
    level = {e.name: e for e in post_driver("drv", p, neuron).elements}["level"]
    frozen = {e.name: e for e in post_driver("drv", p, neuron, writes=False).elements}
    assert "v(spike)" in level.expr.text and frozen["te"].expr.text == "0.2" and "level" not in frozen
    device = load_preset("siox-literature").device
    cell = {e.name: e for e in sfa_cell("sfa", device, 2e-9, SfaParams(), writes=False).elements}["te"]
    assert cell.expr.text == "0.2"


def test_reset_gated_rows_get_a_behavioural_gate_driven_by_the_reset_phase():
    from circuits.astdp import AstdpParams, astdp_layer, astdp_netlist
    from netlist_gen.ir import BehavioralVoltage, VSource

    p = AstdpParams()
    layer = astdp_layer(3, 2, device=DEV, gaps0=np.full((3, 2), 1.5e-9), params=p)
    trains = [[0.0], [], [2e-6]]
    plain = astdp_netlist(layer, trains, params=p, t_stop=4e-6, max_step=4e-9)
    gated = astdp_netlist(layer, trains, params=p, t_stop=4e-6, max_step=4e-9, reset_gated=[False, True, True])
    assert plain == astdp_netlist(layer, trains, params=p, t_stop=4e-6, max_step=4e-9, reset_gated=[False] * 3)
    by_name = {e.name: e for e in gated.elements}
    assert isinstance(by_name["pre_0"], VSource)  # not gated: the spike waveform as before
    for i in (1, 2):
        gate = by_name[f"pre_{i}"]
        assert isinstance(gate, BehavioralVoltage) and gate.expr.text.startswith(f"max(v(spk_{i})")
        assert "v(rst_phase)" in gate.expr.text and isinstance(by_name[f"spk_{i}"], VSource)
    phase = by_name["rst_phase_detect"].expr.text
    assert by_name["rst_phase"].expr.text == "v(rst_phase_lag)"  # the detector reaches the rows lagged
    assert "v(te_0)" in phase and "v(te_1)" in phase  # any column's RESET pulse opens the gates
    with pytest.raises(ValueError, match="reset_gated"):
        astdp_netlist(layer, trains, params=p, t_stop=4e-6, max_step=4e-9, reset_gated=[True])


def test_driver_slew_and_bottom_electrode_capacitance_are_in_the_netlist_and_validated():
    from circuits.astdp import AstdpParams, astdp_layer
    from compact_model.cards import load_preset

    device = load_preset("siox-literature").device
    gaps = np.full((2, 2), 2.0e-9)
    layer = astdp_layer(2, 2, device=device, gaps0=gaps, params=AstdpParams(c_synapse_node=2e-15))
    caps = {e.name: e for e in layer.elements if type(e).__name__ == "Capacitor"}
    assert sorted(caps) == ["be_0_0", "be_0_1", "be_1_0", "be_1_1"]
    assert caps["be_1_0"].p == "be_1_0" and caps["be_1_0"].c == 2e-15
    driver = {s.name: s for s in layer.subckts}["post_driver"]
    by_kind = {(type(e).__name__, e.name): e for e in driver.elements}
    assert by_kind[("BehavioralVoltage", "te")].expr.text == "v(lag)"
    # a 1 ns lag: 1 kohm on a 1 pF capacitor from the unlagged level to the buffered node
    r, c = by_kind[("Resistor", "slew")], by_kind[("Capacitor", "slew")]
    assert (r.p, r.n, c.p) == ("level", "lag", "lag") and float(r.r) * float(c.c) == pytest.approx(1e-9)
    ideal = astdp_layer(2, 2, device=device, gaps0=gaps, params=AstdpParams(t_driver_edge=0.0, c_synapse_node=0.0))
    assert not [e for e in ideal.elements if type(e).__name__ == "Capacitor"]
    assert "v(spike)" in {e.name: e for e in {s.name: s for s in ideal.subckts}["post_driver"].elements}["te"].expr.text
    for bad in ({"c_synapse_node": -1e-15}, {"t_driver_edge": 0.1e-6}, {"t_driver_edge": float("nan")}):
        with pytest.raises(ValueError, match="c_synapse_node|t_driver_edge"):
            AstdpParams(**bad)
