"""A trained front end (cosim.frontend) as the pipeline's filter bank, on the fast engine."""

import numpy as np
import pytest

from cosim.datasets import load_mnist_sample
from cosim.frontend.config import TrainConfig
from cosim.frontend.io import save_frontend
from cosim.frontend.train import train_frontend
from cosim.pipeline import CoSimConfig, CoSimulation, Engine

pytestmark = pytest.mark.ngspice  # the fast A-STDP layer characterises its transistor in ngspice


@pytest.fixture(scope="module")
def bank_path(tmp_path_factory):
    data = load_mnist_sample(seed=3)
    cfg = TrainConfig(n_filters=12, epochs=1, qat_epochs=1, seed=0)
    front = train_frontend(data.images[:300], data.labels[:300], cfg)
    path = tmp_path_factory.mktemp("bank") / "bank.npz"
    save_frontend(front, path)
    return path


def test_trained_bank_drives_the_pipeline(bank_path):
    config = CoSimConfig(n_images=8, n_filters=12, n_neurons=2, calibration_images=60, seed=0,
                         engine=Engine.FAST, bank=str(bank_path))
    sim = CoSimulation(config)
    assert "trained bank" in sim.bank.provenance
    result = sim.run()
    for r in result.records:
        np.testing.assert_array_equal(r.bits, r.pooled > sim.bank.v_ref)
    assert 0 < sum(int(r.bits.sum()) for r in result.records) < 8 * 12


def test_a_bank_of_another_shape_is_refused(bank_path):
    with pytest.raises(ValueError, match="12 filters"):
        CoSimulation(CoSimConfig(n_images=2, n_filters=16, calibration_images=20, bank=str(bank_path)))
