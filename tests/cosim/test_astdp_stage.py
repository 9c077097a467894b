"""A-STDP episodes in ngspice: digital decisions read from the analog run, state carried exactly."""

import dataclasses

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


def test_rejects_wrong_number_of_spike_trains():
    cfg = AstdpStageConfig(n_inputs=4, n_neurons=2, device=DEV)
    with pytest.raises(ValueError, match="need spike times for 4 inputs"):
        run_episode(cfg, _state(), [[1e-6]])
