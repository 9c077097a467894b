"""The event-driven A-STDP layer: its closed forms, its learning rule, and parity with ngspice."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from circuits.astdp import AstdpParams, WtaMode
from compact_model.cards import load_preset
from cosim import digital
from cosim.astdp_stage import AstdpStageConfig, LayerState, run_episode
from cosim.fast.astdp import FastAstdpModel, PulseResponse, run_fast_episode
from cosim.fast.parity import membrane_errors

DEVICE = load_preset("siox-literature").device
pytestmark = pytest.mark.ngspice  # the access transistor is characterised in ngspice


@pytest.fixture(scope="module")
def model() -> FastAstdpModel:
    return FastAstdpModel.build(AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEVICE, sfa=True))


def _state(gaps: np.ndarray, sfa: float = 2.0e-9) -> LayerState:
    return LayerState(synapse_gaps=np.asarray(gaps, dtype=float), sfa_gaps=np.full(gaps.shape[1], sfa))


def test_pulse_response_is_a_time_shift(model):
    set_pulse = model.set_pulse
    g0 = np.array([2.5e-9, 1.9e-9, 1.4e-9])
    once = set_pulse.after(g0, np.full(3, 60e-9))
    twice = set_pulse.after(set_pulse.after(g0, np.full(3, 25e-9)), np.full(3, 35e-9))
    np.testing.assert_allclose(twice, once, rtol=1e-4)
    assert np.all(once < g0)  # SET lowers the gap
    assert np.all(model.reset_pulse.after(once, np.full(3, 0.2e-6)) > once)  # RESET raises it
    np.testing.assert_array_equal(set_pulse.after(g0, np.zeros(3)), g0)


def test_first_fire_matches_the_lif_closed_form(model):
    # Two LRS inputs on (one alone cannot reach threshold within a spike); neuron 1's are weak.
    cfg = dataclasses.replace(model.config, sfa=False)
    m = dataclasses.replace(model, config=cfg)
    gaps = np.full((4, 2), DEVICE.g_max)
    gaps[:2] = [1.0e-9, 2.4e-9]
    trains = [[0.0], [0.0], [], []]
    ep = run_fast_episode(m, _state(gaps), trains, learn=False)
    lif = m.lif
    i_in = 2 * float(m.read_current(np.array([1.0e-9]))[0]) + 2 * cfg.params.v_read / 1e9
    t_on = 0.85 * cfg.params.t_edge
    expected = t_on + lif.tau_mem * math.log(i_in * lif.r_leak / (i_in * lif.r_leak - lif.v_th)) + m.latency
    assert ep.winner == 0
    assert ep.fire_times[0][0] == pytest.approx(expected, rel=1e-9)
    np.testing.assert_array_equal(ep.state_after.synapse_gaps, gaps)  # learn=False


def test_winner_take_all_and_stdp_directions(model):
    gaps = np.full((4, 2), 1.6e-9)
    gaps[:2, 0] = 1.0e-9  # neuron 0 prefers inputs 0 and 1
    p = model.config.params
    # Inputs 0, 1 spike together (they fire neuron 0); input 2 spikes during the RESET pulse.
    t_reset = 0.5e-6
    trains = [[0.0], [0.0], [], []]
    ep0 = run_fast_episode(model, _state(gaps), trains)
    t_fire = ep0.fire_times[0][0]
    trains[2] = [t_fire + p.t_reset_delay - 0.1e-6]
    ep = run_fast_episode(model, _state(gaps), trains)
    assert ep.winner == 0 and ep.spike_counts.tolist() == [1, 0]  # neuron 1 held by WTA
    after = ep.state_after.synapse_gaps
    assert after[0, 0] <= gaps[0, 0] and after[1, 0] <= gaps[1, 0]  # potentiated (or at the SET limit)
    assert after[2, 0] > gaps[2, 0] + 0.1e-9  # depressed: on during the RESET pulse
    np.testing.assert_array_equal(after[:, 1], gaps[:, 1])  # the loser's column is untouched
    assert after[3, 0] == gaps[3, 0]  # silent input untouched
    assert ep.state_after.sfa_gaps[0] < ep.state_before.sfa_gaps[0]  # SFA: partial SET per fire
    assert model.threshold(ep.state_after.sfa_gaps)[0] > model.threshold(ep.state_before.sfa_gaps)[0]
    assert ep.set_events == 2 and ep.reset_events == 1 and t_reset > 0


def test_no_wta_lets_both_fire(model):
    cfg = dataclasses.replace(model.config, wta=WtaMode.OFF)
    m = dataclasses.replace(model, config=cfg)
    gaps = np.full((4, 2), 1.0e-9)
    ep = run_fast_episode(m, _state(gaps), [[0.0], [0.0], [0.0], []], learn=False)
    assert ep.spike_counts.tolist() == [1, 1]


def test_reset_gated_inputs_are_depressed_by_every_fire_in_both_engines(model):
    # Neuron 0 fires on inputs 0, 1. Input 3 never spikes but is reset-gated (outside the
    # pattern): the driver opens its gate for the RESET pulse. Input 2 is silent and not gated.
    gaps = np.full((4, 2), 1.1e-9)
    gaps[:2, 0] = 1.0e-9
    gaps[:2, 1] = 1.6e-9
    trains = [[0.0], [0.0], [], []]
    gated = np.array([False, False, False, True])
    state = _state(gaps)
    fast = run_fast_episode(model, state, trains, reset_gated=gated)
    spice = run_episode(model.config, state, trains, reset_gated=gated)
    for ep in (fast, spice):
        after = ep.state_after.synapse_gaps
        assert ep.winner == 0
        assert after[3, 0] > gaps[3, 0] + 0.5e-9  # depressed without spiking
        assert after[2, 0] == pytest.approx(gaps[2, 0], abs=1e-12)  # silent, not gated: untouched
        np.testing.assert_allclose(after[:, 1], gaps[:, 1], atol=1e-12)  # the loser's column: only read
    np.testing.assert_allclose(fast.state_after.synapse_gaps, spice.state_after.synapse_gaps, atol=0.05e-9)
    assert fast.reset_events == 1
    plain = run_fast_episode(model, state, trains)
    assert plain.state_after.synapse_gaps[3, 0] == gaps[3, 0] and plain.reset_events == 0
    frozen = run_fast_episode(model, state, trains, learn=False, reset_gated=gated)
    np.testing.assert_array_equal(frozen.state_after.synapse_gaps, gaps)
    with pytest.raises(ValueError, match="reset_gated"):
        run_fast_episode(model, state, trains, reset_gated=gated[:3])


def test_a_weak_reset_pulse_depresses_in_steps_in_both_engines():
    # At -1.45 V one RESET pulse moves an LRS synapse's gap by ~0.05-0.15 nm (at -2 V: ~1 nm at
    # once), so repeated off-pattern depression grades the weight instead of erasing it.
    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEVICE, sfa=True, params=AstdpParams(v_te_reset=-1.45))
    model = FastAstdpModel.build(cfg)
    gaps = np.full((4, 2), 1.1e-9)
    gaps[:2, 0], gaps[:2, 1], gaps[3, 0] = 1.0e-9, 1.6e-9, 1.15e-9
    gated = np.array([False, False, False, True])  # input 3: outside the pattern, RESET by each fire
    state, trail = _state(gaps), [gaps[3, 0]]
    for _ in range(3):
        fast = run_fast_episode(model, state, [[0.0], [0.0], [], []], reset_gated=gated)
        spice = run_episode(cfg, state, [[0.0], [0.0], [], []], reset_gated=gated)
        assert fast.winner == spice.winner == 0
        assert fast.state_after.synapse_gaps[3, 0] == pytest.approx(spice.state_after.synapse_gaps[3, 0], abs=0.01e-9)
        state = spice.state_after
        trail.append(state.synapse_gaps[3, 0])
    steps = np.diff(trail)
    assert np.all(steps > 0.03e-9) and np.all(steps < 0.2e-9)  # graded: neither stuck nor erased
    assert trail[-1] < 1.6e-9  # three weak pulses still short of one full RESET (~2.2 nm)


def test_reset_steps_agree_with_ngspice_across_the_runaway_knee():
    # The 100 uA operating point (gate solved for I_C = 100 uA, RESET level solved for a 3 % drop,
    # docs/results/synapse_ic_reset_drop): one pulse moves a gap at the LRS by ~0.01 nm but one
    # 0.1 nm higher by ~0.5 nm (thermal runaway). Eight gated synapses spread across that knee,
    # RESET by the same fire: each step agrees with ngspice to 0.015 nm (measured 0.008), so the
    # 0.25 nm episode gap differences at this point are tiny per-pulse differences amplified by
    # the knee, not a wrong step.
    cfg = AstdpStageConfig(n_inputs=12, n_neurons=2, device=DEVICE, sfa=True,
                           params=AstdpParams(v_gate_on=2.0716, v_te_reset=-1.528))
    model = FastAstdpModel.build(cfg)
    gaps = np.full((12, 2), 1.1e-9)
    gaps[:2, 0], gaps[:2, 1] = 0.9e-9, 1.6e-9
    start = np.linspace(0.85e-9, 1.3e-9, 8)
    gaps[4:, 0] = start
    gated = np.arange(12) >= 4
    trains = [[0.0], [0.0]] + [[] for _ in range(10)]
    fast = run_fast_episode(model, _state(gaps), trains, reset_gated=gated)
    spice = run_episode(cfg, _state(gaps), trains, reset_gated=gated)
    assert fast.winner == spice.winner == 0
    steps = spice.state_after.synapse_gaps[4:, 0] - start
    assert steps[0] < 0.03e-9 and steps.max() > 0.4e-9  # the pulses straddle the knee
    np.testing.assert_allclose(fast.state_after.synapse_gaps[4:, 0], spice.state_after.synapse_gaps[4:, 0],
                               atol=0.015e-9)


@pytest.mark.slow
def test_parity_with_ngspice_over_a_short_sequence():
    # Each episode starts from the SPICE state in both engines (the comparison is per image).
    # Bounds: winners identical (issue: >= 98 % of images); spike times within 20 ns
    # (measured 0.5 ns: the one-shot's latency and the gate edges are modelled);
    # final conductances within 5 % (measured up to 2.3 %, on synapses SET again and again
    # toward the transistor's compliance floor, where the gap creeps and G is most sensitive).
    cfg = AstdpStageConfig(n_inputs=8, n_neurons=2, device=DEVICE, sfa=True,
                           probes=("v(xneuron_0.mem)", "v(xneuron_1.mem)"))
    model = FastAstdpModel.build(cfg)
    rng = np.random.default_rng(0)
    state = LayerState.initial(cfg, np.random.default_rng(1), gap_range=(1.2e-9, 1.6e-9))
    schedule = digital.SpikeSchedule(slot_time=1.05e-6, pattern_slots=2, noise_slots=2, p_noise=0.05)
    patterns = rng.random((2, 8)) < 0.5
    for k in range(4):
        trains = [list(t) for t in digital.schedule_spikes(patterns[k % 2], schedule, rng=rng).spike_times()]
        spice = run_episode(cfg, state, trains)
        fast = run_fast_episode(model, state, trains)
        assert spice.winner == fast.winner
        assert spice.spike_counts.tolist() == fast.spike_counts.tolist()
        for fs, ff in zip(spice.fire_times, fast.fire_times):
            assert np.max(np.abs(np.subtract(fs, ff)), initial=0.0) < 20e-9
        g_s = 1 / np.exp(-spice.state_after.synapse_gaps / DEVICE.g0)
        g_f = 1 / np.exp(-fast.state_after.synapse_gaps / DEVICE.g0)
        assert np.max(np.abs(g_f / g_s - 1)) < 0.05
        # Membranes on a uniform 5 ns grid: RMS within 3 % of the range. What remains is the
        # ~10 ns before the circuit's reset switch closes, while the SET pulse's current already
        # flows into the membrane (not modelled); elsewhere they agree to ~1 mV.
        assert max(membrane_errors(spice.waveform, fast, model.lif)) < 0.03
        state = spice.state_after


def _many_writes(model, writes, seed):
    """40 inputs spiking together: neuron 0 fires and its SET pulse reaches all 40 synapses."""
    cfg = dataclasses.replace(model.config, n_inputs=40, writes=writes, sfa=False)
    m = dataclasses.replace(model, config=cfg)
    gaps = np.full((40, 2), 1.8e-9)
    gaps[:, 1] = DEVICE.g_max  # neuron 1 never wins
    trains = [[0.0] for _ in range(40)]
    ep = run_fast_episode(m, _state(gaps), trains, rng=np.random.default_rng(seed))
    return gaps, ep


def test_stochastic_writes_switch_a_fraction_and_need_an_rng(model):
    from cosim.astdp_stage import StochasticWrites

    gaps, sure = _many_writes(model, StochasticWrites(), 0)
    switched_all = np.count_nonzero(sure.state_after.synapse_gaps[:, 0] < gaps[:, 0] - 0.1e-9)
    assert switched_all == 40
    gaps, some = _many_writes(model, StochasticWrites(p_set=0.3), 0)
    moved = np.count_nonzero(some.state_after.synapse_gaps[:, 0] < gaps[:, 0] - 0.1e-9)
    assert 4 <= moved <= 22  # Binomial(40, 0.3): mean 12
    assert some.set_events == sure.set_events == 40  # pulses reach every synapse either way
    # a pulse that does not switch still draws its (HRS) current, less than a switching one
    assert 0 < some.write_energy["set"] < sure.write_energy["set"]
    _, again = _many_writes(model, StochasticWrites(p_set=0.3), 0)
    np.testing.assert_array_equal(again.state_after.synapse_gaps, some.state_after.synapse_gaps)
    cfg = dataclasses.replace(model.config, writes=StochasticWrites(p_set=0.3))
    m = dataclasses.replace(model, config=cfg)
    with pytest.raises(ValueError, match="rng"):
        run_fast_episode(m, _state(np.full((4, 2), 1.8e-9)), [[0.0]] * 4)
    det = run_fast_episode(m, _state(np.full((4, 2), 1.8e-9)), [[0.0]] * 4, deterministic_writes=True)
    plain_ep = run_fast_episode(dataclasses.replace(model, config=dataclasses.replace(cfg, writes=StochasticWrites())),
                                _state(np.full((4, 2), 1.8e-9)), [[0.0]] * 4)
    np.testing.assert_array_equal(det.state_after.synapse_gaps, plain_ep.state_after.synapse_gaps)
    with pytest.raises(ValueError, match="p_reset"):
        StochasticWrites(p_reset=0.0)


def test_c2c_spreads_the_written_synapses_only(model):
    from cosim.astdp_stage import StochasticWrites

    var = load_preset("siox-literature").variability
    gaps, plain_ep = _many_writes(model, StochasticWrites(), 0)
    _, noisy = _many_writes(model, StochasticWrites(c2c=var), 0)
    a, b = plain_ep.state_after.synapse_gaps, noisy.state_after.synapse_gaps
    assert np.ptp(a[:, 0]) < 1e-13 < np.std(b[:, 0])  # same LRS for all, then spread by C2C
    np.testing.assert_array_equal(b[:, 1], gaps[:, 1])  # the loser's column is not written


def test_a_write_level_below_the_switching_threshold_is_refused_by_name():
    # At 1.0 V on the top electrode a SET pulse hardly moves an HRS synapse, so the layer could
    # never learn (at 1.5 V the one-point table used to fail later with an IndexError).
    weak = AstdpStageConfig(n_inputs=2, n_neurons=1, device=DEVICE, sfa=False, params=AstdpParams(v_te_set=1.0))
    with pytest.raises(ValueError, match=r"v_te_set=1\.0 V \(SET from the HRS\) moves .* switching threshold"):
        FastAstdpModel.build(weak)
