"""The trained front end (cosim.frontend) on small generated data: 4 separable classes of
28x28 images, 6 filters of 8x8 (4 class filters + 2 feature filters)."""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cosim.digital import feature_bits
from cosim.filters import FilterKind, WeightCoding, quantize
from cosim.frontend.config import HardwareConfig, TrainConfig, VrefMatch
from cosim.frontend.evaluate import EvalConfig, Variant, cf_margins, evaluate_frontend
from cosim.frontend.io import load_frontend, save_frontend
from cosim.frontend.model import pooled_responses
from cosim.frontend.quant import fake_quantize, quantize_levels
from cosim.frontend.readout import cf_decision, fit_linear_readout
from cosim.frontend.sweeps import accuracy_vs_bits
from cosim.frontend.thresholds import firing_rates, match_thresholds, rate_thresholds
from cosim.frontend.train import requantize, train_frontend

_SHAPES = {  # 6x6 glyph of each class
    0: np.pad(np.ones((2, 6)), ((2, 2), (0, 0))),  # horizontal bar
    1: np.pad(np.ones((6, 2)), ((0, 0), (2, 2))),  # vertical bar
    2: np.eye(6),  # diagonal
    3: np.pad(np.zeros((4, 4)), 1, constant_values=1.0),  # ring
}


def toy_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Glyphs at random places (within the central 16x16) with random gain and pixel noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    img = rng.uniform(0, 0.1, (n, 28, 28))
    for k, lab in enumerate(labels):
        y, x = rng.integers(6, 17, 2)
        img[k, y:y + 6, x:x + 6] = np.maximum(img[k, y:y + 6, x:x + 6], _SHAPES[int(lab)] * rng.uniform(0.7, 1))
    return img.astype(np.float32), labels


TOY = TrainConfig(n_filters=6, size=8, epochs=8, qat_epochs=2, batch_size=32, lr=1e-2, bits=4,
                  calibration_images=200, augment_shift=1, seed=3)


@pytest.fixture(scope="module")
def data():
    return toy_images(480, 0), toy_images(200, 1)


@pytest.fixture(scope="module")
def front(data):
    (x, y), _ = data
    return train_frontend(x, y, TOY)


def test_shapes_kinds_and_filter_bank(front):
    assert front.weights.shape == front.levels.shape == (6, 1, 8, 8)
    assert front.v_ref.shape == front.v_ref_float.shape == front.scale.shape == (6,)
    assert front.kinds == (FilterKind.CLASS,) * 4 + (FilterKind.FEATURE,) * 2
    assert front.classes == (0, 1, 2, 3, None, None) and front.cf_classes == (0, 1, 2, 3)
    bank = front.filter_bank()
    assert bank.weights.shape == (6, 8, 8)
    # Re-quantising the exported bank with the same bits and coding gives back the levels.
    levels, _ = quantize(bank.weights, TOY.bits, coding=TOY.coding)
    np.testing.assert_array_equal(levels, front.levels[:, 0])
    assert [h["stage"] for h in front.history] == ["float"] * 8 + ["qat"] * 2


def test_quantisation_levels_and_scale(front):
    # SIGNED coding: 2**bits - 1 signed levels per filter, the largest weight at +-L_max.
    l_max = 2 ** (TOY.bits - 1) - 1
    for f in range(front.n_filters):
        lev = front.levels[f]
        assert np.abs(lev).max() == l_max
        assert set(np.unique(lev)) <= set(range(-l_max, l_max + 1))
    w = np.random.default_rng(0).uniform(-1, 1, (3, 2, 8, 8))
    w[:, 0, 0, :2] = [1.0, -1.0]  # both extremes present: +-L_max are both used
    for bits in (2, 3, 5):
        levels, scale = quantize_levels(w, bits, WeightCoding.SIGNED)
        n_levels = 2 ** bits - 1
        for f in range(3):
            assert len(np.unique(levels[f])) == n_levels  # 128 spread weights use every level
            assert scale[f] == pytest.approx(np.abs(w[f]).max() / (n_levels // 2))
        assert np.abs(levels * scale[:, None, None, None] - w).max() <= scale.max() / 2 + 1e-12


def test_straight_through_gradient_and_forward_grid():
    w = torch.tensor(np.random.default_rng(1).standard_normal((2, 1, 3, 3)), requires_grad=True)
    c = torch.arange(18, dtype=w.dtype).reshape(2, 1, 3, 3)
    q = fake_quantize(w, 7)
    (q * c).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), c.numpy())  # identity gradient, every weight
    levels, scale = quantize_levels(w.detach().numpy(), 4, WeightCoding.SIGNED)
    np.testing.assert_allclose(q.detach().numpy(), levels * scale[:, None, None, None], rtol=1e-12)


def test_class_filters_separate_their_class(front, data):
    _, (xt, yt) = data
    pooled = pooled_responses(front.quantized_weights(), xt)
    margins = cf_margins(front, pooled, front.v_ref)
    for f, cls in enumerate(front.cf_classes):
        own, other = margins[yt == cls, f], margins[yt != cls, f]
        assert np.mean(own > 0) > 0.9 and np.mean(other <= 0) > 0.9, (f, own.min(), other.max())
    assert np.mean(cf_decision(margins, front.cf_classes) == yt) > 0.95


def test_rate_recalibration_hits_the_target_rates():
    rng = np.random.default_rng(2)
    pooled = rng.standard_normal((101, 3))
    rates = np.array([0.0, 0.3, 1.0])
    v = rate_thresholds(pooled, rates)
    np.testing.assert_array_equal(firing_rates(pooled, v), np.rint(rates * 101) / 101)
    # The threshold sits between two responses, not on one.
    assert np.min(np.abs(pooled[:, 1] - v[1])) > 0
    # Linear matching maps V_REF through new = a * old + b.
    np.testing.assert_allclose(match_thresholds(pooled, [0.1, 0.2, 0.3], 2 * pooled + 1, VrefMatch.LINEAR),
                               [1.2, 1.4, 1.6])


def test_post_training_quantisation_keeps_the_float_firing_rates(front, data):
    (x, _), _ = data
    q = requantize(front, x[:200], bits=2)
    assert np.abs(q.levels).max() == 1
    float_rates = firing_rates(pooled_responses(front.weights, x[:200]), front.v_ref_float)
    q_rates = firing_rates(pooled_responses(q.quantized_weights(), x[:200]), q.v_ref)
    np.testing.assert_allclose(q_rates, float_rates, atol=1 / 200 + 1e-12)


def test_same_seed_same_weights(data):
    (x, y), _ = data
    cfg = dataclasses.replace(TOY, epochs=1, qat_epochs=1)
    a, b = train_frontend(x[:160], y[:160], cfg), train_frontend(x[:160], y[:160], cfg)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.v_ref, b.v_ref)
    c = train_frontend(x[:160], y[:160], dataclasses.replace(cfg, seed=4))
    assert not np.array_equal(a.weights, c.weights)


def test_subset_of_classes_and_local_pooling(data):
    (x, y), (xt, yt) = data
    cfg = dataclasses.replace(TOY, trained_classes=(0, 2, 3), epochs=2, qat_epochs=0, pool=8)
    fr = train_frontend(x, y, cfg)
    assert fr.cf_classes == (0, 2, 3) and fr.trained_classes == (0, 2, 3)
    pooled = pooled_responses(fr.quantized_weights(), xt, cfg.pool)
    assert pooled.shape == (len(yt), 6, 3, 3)  # 21x21 map, 8x8 windows -> 3x3
    assert feature_bits(pooled, fr.v_ref).shape == (len(yt), 6 * 9)
    rows = evaluate_frontend(fr, x, y, xt, yt, variants=(Variant.QUANTIZED,),
                             config=EvalConfig(readout_fit_images=300))
    assert {"readout_accuracy_trained", "readout_accuracy_nontrained"} <= set(rows[0])


def test_programmed_array_bits_agree_with_ideal_bits_at_large_margins(front, data):
    from cosim.frontend.hardware import program_frontend

    (x, y), (xt, yt) = data
    hw = program_frontend(front, x, HardwareConfig(c2c=False, calibration_images=300,
                                                   vref_match=VrefMatch.LINEAR))
    assert hw.gaps.shape == (2, 64, 6) and np.all(hw.gain > 0)
    hw_pooled = hw.pooled(xt)
    sw_pooled = pooled_responses(front.quantized_weights(), xt)
    bits_hw, bits_sw = hw.bits(xt), feature_bits(sw_pooled, front.v_ref)
    spread = sw_pooled.std(axis=0)
    large = np.abs(sw_pooled - front.v_ref) > 0.5 * spread
    assert large.mean() > 0.3
    np.testing.assert_array_equal(bits_hw[large], bits_sw[large])
    # The fast engine is not the linear ideal: wires and device non-linearity change the currents.
    ideal = (hw_pooled - hw.offset) / hw.gain
    assert np.corrcoef(ideal.ravel(), sw_pooled.ravel())[0, 1] > 0.98
    rows = evaluate_frontend(front, x, y, xt, yt, programmed=hw, config=EvalConfig(readout_fit_images=300))
    by = {r["variant"]: r for r in rows}
    assert set(by) == {"float", "quantized", "programmed"}
    assert by["programmed"]["readout_accuracy"] > 0.9 and by["quantized"]["readout_accuracy"] > 0.95


def test_programming_draws_cycle_to_cycle_spread(front, data):
    from cosim.filters import conductance_levels
    from compact_model.cards import load_preset
    from cosim.frontend.hardware import crossbar_states

    card = load_preset("siox-literature")
    table = conductance_levels(card, TOY.device_levels, i_c_range=(20e-6, 200e-6), v_stop=2.5)
    assert table.v_stop == 2.5
    nominal = crossbar_states(front, table, card, seed=0, c2c=False).gaps
    spread = crossbar_states(front, table, card, seed=0, c2c=True).gaps
    again = crossbar_states(front, table, card, seed=0, c2c=True).gaps
    np.testing.assert_array_equal(spread, again)
    assert not np.allclose(spread, nominal, rtol=1e-3, atol=0)


def test_write_verify_brings_the_array_responses_closer_to_the_software_ones(front, data):
    from cosim.frontend.hardware import program_frontend

    (x, _), (xt, _) = data
    sw = pooled_responses(front.quantized_weights(), xt)
    residual, records = {}, {}
    for tol in ("no C2C", None, 0.1):
        hw = program_frontend(front, x, HardwareConfig(calibration_images=300, c2c=tol != "no C2C",
                                                       verify_tolerance=None if tol == "no C2C" else tol))
        # what the C2C spread adds to the array's (linearly mapped) responses
        residual[tol] = np.sqrt(np.mean((hw.pooled(xt) - hw.gain * sw - hw.offset) ** 2)) / np.mean(hw.gain * sw.std(0))
        records[tol] = hw.programming_record()
    assert records[None]["writes_per_device"] == 1.0 and records[None]["max_writes"] == 1
    assert 1.0 < records[0.1]["writes_per_device"] and records[0.1]["max_writes"] <= 8
    assert records[0.1]["devices"] == 2 * 64 * 6
    floor = residual["no C2C"]  # wires and device non-linearity
    assert residual[0.1] - floor < 0.25 * (residual[None] - floor)


def test_readout_and_save_round_trip(front, data, tmp_path):
    bits = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 10)
    labels = np.array([5, 7, 9, 2] * 10)
    assert fit_linear_readout(bits, labels).accuracy(bits, labels) == 1.0
    npz, meta = save_frontend(front, tmp_path / "bank", extra={"accuracies": [{"x": np.float64(0.5)}]})
    assert npz.exists() and meta.exists()
    back = load_frontend(tmp_path / "bank.npz")
    np.testing.assert_array_equal(back.levels, front.levels)
    np.testing.assert_array_equal(back.v_ref, front.v_ref)
    assert back.config == front.config and back.kinds == front.kinds


def test_accuracy_vs_bits_rows(front, data):
    (x, y), (xt, yt) = data
    rows = accuracy_vs_bits(front, x, y, xt, yt, [2, 4], config=EvalConfig(readout_fit_images=300))
    assert [(r["variant"], r["bits"]) for r in rows] == [("float", None), ("quantized", 2), ("quantized", 4)]
    assert all(0 <= r["readout_accuracy"] <= 1 for r in rows)


@pytest.fixture(scope="module")
def sweep_point(front, data, tmp_path_factory, mnist_files):
    """A "frontend-bits" point on the toy data written as MNIST IDX files, with a saved bank."""
    (x, y), (xt, yt) = data
    root = mnist_files(tmp_path_factory.mktemp("data"), ((x * 255).astype(np.uint8), y),
                       ((xt * 255).astype(np.uint8), yt))
    bank, _ = save_frontend(front, root / "bank")
    return {"bank": str(bank), "dataset": "mnist", "data_dir": str(root), "fit_images": 300, "test_images": 100,
            "bits": 3, "seed": 0, "engine": "fast", "spice_check": 0}


def test_frontend_sweep_tasks_refuse_a_spice_check_they_cannot_run(sweep_point):
    from cosim.frontend.sweeps import frontend_bits, frontend_ic

    row = frontend_bits(sweep_point)  # spice_check = 0, as every sweep file sets it: accepted
    assert 0 <= row["quantized_readout_accuracy"] <= 1
    ic_point = {k: v for k, v in sweep_point.items() if k != "bits"}
    for task, point in ((frontend_bits, sweep_point), (frontend_ic, ic_point)):
        with pytest.raises(ValueError, match=r"spice_check = 1.*no SPICE check.*classify"):
            task({**point, "spice_check": 1})


def test_frontend_sweep_records_the_bank_file_sha256(sweep_point):
    from cosim.frontend.sweeps import frontend_bits

    row = frontend_bits(sweep_point)
    assert row["bank_sha256"] == hashlib.sha256(Path(sweep_point["bank"]).read_bytes()).hexdigest()


@pytest.mark.parametrize("change, match", [
    ({"bits": 1}, "bits"),
    ({"size": 30}, "size"),
    ({"trained_classes": (0, 1, 9)}, "trained_classes"),
    ({"n_filters": 3}, "n_filters"),
])
def test_impossible_configs_are_refused(data, change, match):
    (x, y), _ = data
    with pytest.raises(ValueError, match=match):
        train_frontend(x[:40], y[:40], dataclasses.replace(TOY, **change))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="HardwareConfig.i_c_range"):
        HardwareConfig(i_c_range=(2e-4, 2e-5))
    with pytest.raises(ValueError, match="HardwareConfig.verify_tolerance"):
        HardwareConfig(verify_tolerance=0.0)
    with pytest.raises(ValueError, match="HardwareConfig.verify_attempts"):
        HardwareConfig(verify_tolerance=0.5, verify_attempts=0)
    with pytest.raises(ValueError, match="HardwareConfig.verify_relax"):
        HardwareConfig(verify_tolerance=0.5, verify_relax=0.8)
    with pytest.raises(ValueError, match="TrainConfig.temperature"):
        TrainConfig(temperature=0)
    with pytest.raises(ValueError, match="TrainConfig.n_class_filters"):
        TrainConfig(n_filters=4, n_class_filters=5)
