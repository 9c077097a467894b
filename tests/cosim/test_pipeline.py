"""A few images through the whole system with SPICE in the loop (VACASK convolution, ngspice
A-STDP): the digital decisions must follow the analog values."""

import numpy as np
import pytest

from cosim.pipeline import CoSimConfig, CoSimulation, plot_episode, write_outputs
from cosim.vacask import read_raw

pytestmark = [pytest.mark.ngspice, pytest.mark.vacask, pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = CoSimConfig(n_images=2, n_filters=12, n_neurons=2, calibration_images=100,
                         images_per_run=2, seed=0)
    sim = CoSimulation(config)
    result = sim.run()
    out = tmp_path_factory.mktemp("cosim")
    return sim, result, write_outputs(result, out), out


def test_feature_bits_follow_the_pooled_analog_currents(run):
    _, result, _, _ = run
    for r, outputs in zip(result.records, result.filter_outputs):
        np.testing.assert_array_equal(r.pooled, outputs.max(axis=0))  # global max pooling
        np.testing.assert_array_equal(r.bits, r.pooled > result.bank.v_ref)  # V_REF comparison
    assert 0 < sum(int(r.bits.sum()) for r in result.records) < 2 * 12  # neither all off nor all on


def test_pattern_slots_carry_exactly_the_feature_bits(run):
    _, result, _, _ = run
    for r in result.records:
        np.testing.assert_array_equal(r.spikes.raster[r.spikes.is_pattern], np.tile(r.bits, (2, 1)))


def test_winner_is_the_first_analog_output_spike_and_state_carries_over(run):
    _, result, _, _ = run
    for r in result.records:
        firsts = [t[0] if t else np.inf for t in r.episode.fire_times]
        expected = int(np.argmin(firsts)) if np.isfinite(min(firsts)) else None
        assert r.episode.winner == expected
    a, b = result.records
    np.testing.assert_array_equal(b.episode.state_before.synapse_gaps, a.episode.state_after.synapse_gaps)
    np.testing.assert_array_equal(b.episode.state_before.sfa_gaps, a.episode.state_after.sfa_gaps)


def test_outputs_are_written_and_readable(run):
    sim, result, paths, out = run
    features = (out / "features.csv").read_text().splitlines()
    assert features[0] == "image,label,filter,pooled_A,v_ref_A,bit" and len(features) == 1 + 2 * 12
    (plot,) = read_raw(paths["raw_0"])
    assert "v(post_0)" in plot.vectors and plot.vectors["time"].size > 100
    states = np.load(out / "device_states.npz")
    assert states["synapse_gaps_m"].shape == (2, 12, 2)
    png = plot_episode(result.records[0], out / "ep.png", sim.card.device)
    assert png.read_bytes()[:4] == b"\x89PNG"
