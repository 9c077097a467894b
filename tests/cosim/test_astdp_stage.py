"""A-STDP episodes in ngspice: digital decisions read from the analog run, state carried exactly."""

import dataclasses
import logging

import numpy as np
import pytest

from compact_model.cards import load_preset
from cosim.astdp_stage import AstdpStageConfig, LayerState, rising_edges, run_episode

DEV = load_preset("siox-literature").device
pytestmark = pytest.mark.ngspice


def _state():
    lrs, mid = 1.0e-9, 1.8e-9
    return LayerState(synapse_gaps=np.array([[lrs, mid], [lrs, mid], [mid, mid], [mid, mid]]),
                      sfa_gaps=np.full(2, 2.0e-9))


def test_pattern_makes_its_neuron_win_and_learn():
    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEV, sfa=True)
    ep = run_episode(cfg, _state(), [[0.5e-6, 3e-6], [0.5e-6, 3e-6], [1.8e-6], []])
    assert ep.winner == 0 and ep.spike_counts.tolist() == [2, 0]
    before, after = ep.state_before.synapse_gaps, ep.state_after.synapse_gaps
    # Input 2 spiked after neuron 0's fire: depressed (toward HRS); input 3 never spiked.
    assert after[2, 0] > before[2, 0] + 0.2e-9
    assert after[3, 0] == pytest.approx(before[3, 0], abs=1e-13)
    # Neuron 1 never fired: its column was never written.
    np.testing.assert_allclose(after[:, 1], before[:, 1], atol=1e-13)
    # SFA: each fire partially SETs the threshold device of the firing neuron only.
    assert ep.state_after.sfa_gaps[0] < 2.0e-9 - 0.02e-9 and ep.state_after.sfa_gaps[1] == pytest.approx(2e-9)
    # The decision is the analog one: the winner's output spike crossed half amplitude first.
    out0 = ep.waveform.signals["v(post_0)"]
    assert rising_edges(ep.waveform.time, out0, 0.5)[0] == pytest.approx(ep.fire_times[0][0])


def test_state_carried_across_episodes_equals_one_long_transient():
    # Two images back to back, separated by enough idle time for membranes and timers to rest
    # (10 membrane time constants), simulated as one transient or as two episodes.
    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEV, sfa=True, settle=10e-6)
    first = [[0.5e-6], [0.5e-6], [1.8e-6], []]
    second = [[0.5e-6], [], [0.5e-6], [1.8e-6]]
    a = run_episode(cfg, _state(), first)
    b = run_episode(cfg, a.state_after, second)
    t_a = a.waveform.time[-1]
    joined = [f + [t + t_a for t in s] for f, s in zip(first, second)]
    whole = run_episode(dataclasses.replace(cfg), _state(), joined)
    # Same device equations, same stimuli; what differs is the solver's step history across
    # the boundary: 1e-3 of a gap (0.002 nm) is far below any switching step (~0.1 nm).
    np.testing.assert_allclose(b.state_after.synapse_gaps, whole.state_after.synapse_gaps, rtol=1e-3)
    np.testing.assert_allclose(b.state_after.sfa_gaps, whole.state_after.sfa_gaps, rtol=1e-3)
    assert whole.spike_counts.sum() == a.spike_counts.sum() + b.spike_counts.sum()


def test_an_episode_that_needs_a_safer_solver_setting_says_so(monkeypatch):
    from cosim import astdp_stage
    from cosim.ngspice_compat import SpiceError

    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEV, sfa=True)
    trains = [[0.5e-6, 3e-6], [0.5e-6, 3e-6], [1.8e-6], []]
    first = run_episode(cfg, _state(), trains)
    assert not first.retried
    real, settings = astdp_stage.simulate_netlist, []

    def stiff_once(netlist, backend):  # the first setting fails, as a stiff switching event would
        settings.append(dict(netlist.options))
        if len(settings) == 1:
            raise SpiceError("doAnalyses: TRAN:  Timestep too small")
        return real(netlist, backend)

    monkeypatch.setattr(astdp_stage, "simulate_netlist", stiff_once)
    again = run_episode(cfg, _state(), trains)
    assert again.retried and settings == [astdp_stage.RETRY_OPTIONS[0], astdp_stage.RETRY_OPTIONS[1]]
    assert again.winner == first.winner and again.spike_counts.tolist() == first.spike_counts.tolist()


def test_rejects_wrong_number_of_spike_trains():
    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEV)
    with pytest.raises(ValueError, match="need spike times for 4 inputs"):
        run_episode(cfg, _state(), [[1e-6]])


def _off_pattern_case(params):
    """36 inputs x 2 neurons at a 20 uA-like compliance: 24 pattern rows (spikes in slots 0 and
    3), 12 off-pattern rows whose gates also open in every RESET pulse, gaps a seeded mix of
    LRS, mid and HRS. The shape of the MNIST learning episodes that ngspice could not converge
    with ideal drivers (a 128 x 3 slice failed with every solver setting)."""
    from circuits.astdp import default_astdp_neuron

    rng = np.random.default_rng(1)
    n_pattern, n_off, slot = 24, 12, 1.05e-6
    gaps = rng.choice([1.1e-9, 1.45e-9, 1.45e-9, 1.45e-9, 2.22e-9], size=(36, 2)) + rng.normal(0, 0.02e-9, (36, 2))
    trains = ([[0.0, 3 * slot] for _ in range(n_pattern)]
              + [[float(rng.choice([1, 2, 4, 5])) * slot] for _ in range(n_off)])
    gated = [False] * n_pattern + [True] * n_off
    neuron = dataclasses.replace(default_astdp_neuron(params), c_mem=22e-12, r_leak=45e3)
    cfg = AstdpStageConfig(n_inputs=36, n_neurons=2, device=DEV, params=params, neuron=neuron, sfa=True)
    return cfg, LayerState(synapse_gaps=gaps, sfa_gaps=np.full(2, 1.77e-9)), trains, gated


def test_off_pattern_learning_episode_converges_with_driver_slew(caplog):
    from circuits.astdp import AstdpParams, astdp_layer, astdp_netlist, layer_max_step
    from cosim.astdp_stage import RETRY_OPTIONS
    from cosim.backends import simulate_netlist
    from cosim.ngspice_compat import SpiceError

    def first_setting(params):
        cfg, state, trains, gated = _off_pattern_case(params)
        layer = astdp_layer(36, 2, device=DEV, gaps0=state.synapse_gaps, neuron=cfg.lif, params=params,
                            sfa=True, sfa_gaps0=state.sfa_gaps)
        net = astdp_netlist(layer, trains, params=params, t_stop=7.5e-6, max_step=layer_max_step(cfg.lif, params),
                            reset_gated=gated)
        return simulate_netlist(dataclasses.replace(net, options=RETRY_OPTIONS[0]))

    base = dict(v_gate_on=1.52)
    # Ideal drivers (ps edges): the solver's step collapses.
    with pytest.raises(SpiceError, match="[Tt]imestep too small"):
        first_setting(AstdpParams(**base, t_driver_edge=0.0))
    # The default 1 ns driver lag converges at the first setting.
    cfg, state, trains, gated = _off_pattern_case(AstdpParams(**base))
    with caplog.at_level(logging.WARNING, logger="cosim.astdp_stage"):
        ep = run_episode(cfg, state, trains, reset_gated=gated)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()] and not ep.retried
    assert ep.winner is not None and ep.spike_counts[ep.winner] >= 1
    w, before, after = ep.winner, state.synapse_gaps, ep.state_after.synapse_gaps
    # The winner's HRS pattern synapses were SET; its LRS off-pattern synapses were RESET by
    # the gates the row drivers opened; the loser's column was not written.
    hrs_pattern = before[:24, w] > 2e-9
    lrs_off = before[24:, w] < 1.5e-9
    assert hrs_pattern.any() and lrs_off.any()
    assert np.all(after[:24, w][hrs_pattern] < before[:24, w][hrs_pattern] - 0.3e-9)
    assert np.all(after[24:, w][lrs_off] > before[24:, w][lrs_off] + 0.2e-9)
    if ep.spike_counts[1 - w] == 0:
        np.testing.assert_allclose(after[:, 1 - w], before[:, 1 - w], atol=1e-12)
