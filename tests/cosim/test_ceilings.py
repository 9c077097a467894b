"""Prototype-classifier ceilings (cosim.ceilings) on generated feature maps."""

import numpy as np
import pytest

from cosim.ceilings import CeilingConfig, feature_ceilings, prototype_accuracy


def _maps(n, flip, rng, n_classes=4, width=64):
    """Noisy copies of one random 0/1 pattern per class: each bit flipped with probability flip."""
    centres = rng.random((n_classes, width)) < 0.5
    labels = rng.integers(0, n_classes, n)
    bits = centres[labels] ^ (rng.random((n, width)) < flip)
    return bits, labels


def test_prototype_accuracy_names_prototypes_by_the_labelling_majority():
    protos = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]])
    label_bits = np.array([[1, 1, 0, 0], [1, 1, 0, 1], [0, 0, 1, 1]])
    label_labels = np.array([2, 2, 5])
    # The third prototype is nearest to no labelling image: a test image it wins counts wrong.
    test_bits = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]])
    accuracy = prototype_accuracy(protos, label_bits, label_labels, test_bits, np.array([2, 5, 2]))
    assert accuracy == pytest.approx(2 / 3)
    assert prototype_accuracy(protos, label_bits, label_labels, test_bits, np.array([5, 2, 2])) == 0.0


def test_clustered_maps_reach_the_ceiling_and_random_maps_stay_at_chance():
    rng = np.random.default_rng(1)
    bits, labels = _maps(900, 0.05, rng)
    clean = feature_ceilings(bits[:400], bits[400:600], labels[400:600], bits[600:], labels[600:],
                             CeilingConfig(prototypes=8, draws=3, linear_epochs=100))
    for key in ("kmeans", "class_means", "nearest_neighbour", "linear"):
        assert clean[key] > 0.97, (key, clean)
    assert clean["exemplars"] > 0.8  # 8 random images can leave a class without a prototype
    noise = rng.random((900, 64)) < 0.5
    chance = feature_ceilings(noise[:400], noise[400:600], labels[400:600], noise[600:], labels[600:],
                              CeilingConfig(prototypes=8, draws=3, linear_epochs=0))
    assert "linear" not in chance
    for key in ("kmeans", "class_means", "exemplars", "nearest_neighbour"):
        assert chance[key] < 0.4, (key, chance)


def test_exemplars_fall_below_averages_on_noisy_clusters():
    # At 30 % flipped bits one exemplar is a poor picture of its class; a mean is not.
    bits, labels = _maps(1500, 0.3, np.random.default_rng(2), n_classes=8)
    row = feature_ceilings(bits[:600], bits[600:900], labels[600:900], bits[900:], labels[900:],
                           CeilingConfig(prototypes=16, draws=4, linear_epochs=0, seed=3))
    assert row["class_means"] > 0.9
    assert row["exemplars"] < row["class_means"] - 0.05


def test_same_seed_same_numbers():
    bits, labels = _maps(600, 0.2, np.random.default_rng(4))
    args = (bits[:300], bits[300:450], labels[300:450], bits[450:], labels[450:])
    cfg = CeilingConfig(prototypes=10, draws=2, linear_epochs=20, seed=7)
    assert feature_ceilings(*args, cfg) == feature_ceilings(*args, cfg)


@pytest.mark.parametrize("field, value", [("prototypes", 0), ("draws", 0), ("linear_epochs", -1), ("seed", 1.5)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"CeilingConfig.{field}"):
        CeilingConfig(**{field: value})


def test_shape_errors_are_clear():
    bits = np.zeros((10, 8), bool)
    with pytest.raises(ValueError, match="one width"):
        feature_ceilings(bits, np.zeros((10, 6), bool), np.zeros(10, int), bits, np.zeros(10, int))
    with pytest.raises(ValueError, match="40 prototypes"):
        feature_ceilings(bits, bits, np.zeros(10, int), bits, np.zeros(10, int))
