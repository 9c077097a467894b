"""The pipeline on the fast engine, with its SPICE check (VACASK filter array, ngspice A-STDP)."""

import json

import numpy as np
import pytest

from cosim.pipeline import CoSimConfig, CoSimulation, Engine, write_outputs

pytestmark = [pytest.mark.ngspice, pytest.mark.vacask, pytest.mark.slow]


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    config = CoSimConfig(n_images=6, n_filters=12, n_neurons=2, calibration_images=100,
                         images_per_run=3, seed=0, engine=Engine.FAST, spice_check=3)
    sim = CoSimulation(config)
    result = sim.run()
    out = tmp_path_factory.mktemp("cosim-fast")
    return sim, result, write_outputs(result, out)


def test_fast_engine_agrees_with_spice(fast_run):
    # Issue bounds: feature bits identical for >= 99 % of filters, winners for >= 98 % of images.
    _, result, _ = fast_run
    check = result.spice_check
    assert check["images"] == 3
    assert check["feature_bits_equal"] >= 0.99
    assert check["winner_equal"] >= 0.98
    assert check["filter_output_max_abs_error_of_max"] < 5e-3


def test_fast_run_is_deterministic_and_recorded(fast_run):
    sim, result, paths = fast_run
    again = CoSimulation(sim.config.__class__(**{**{f: getattr(sim.config, f) for f in
                                                   sim.config.__dataclass_fields__}, "spice_check": 0})).run()
    np.testing.assert_array_equal(again.filter_outputs, result.filter_outputs)
    assert [r.episode.fire_times for r in again.records] == [r.episode.fire_times for r in result.records]
    meta = json.loads(paths["run"].read_text())
    assert meta["engine"] == "fast" and meta["spice_check"]["images"] == 3
    assert "waveforms" not in paths  # the fast engine keeps no waveforms
