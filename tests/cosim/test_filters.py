"""Filter bank data, placeholder filters, V_REF calibration, quantisation and device mapping."""

import dataclasses

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from circuits.crossbar import CrossbarSpec
from circuits.reference import nodal_solve
from compact_model import cards, programming
from compact_model.variability import WriteVerify
from cosim import filters as F
from cosim.datasets import load_mnist_sample
from cosim.digital import feature_bits, filter_outputs, max_pool

CARD_NAME = "siox-literature"


@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample()


@pytest.fixture(scope="module")
def bank(sample):
    return F.template_filter_bank(sample.images, sample.labels, seed=3)


@pytest.fixture(scope="module")
def pooled(bank, sample):
    return max_pool(F.filter_responses(bank.weights, sample.images))


@pytest.fixture(scope="module")
def card():
    return cards.load_preset(CARD_NAME)


@pytest.fixture(scope="module")
def table(card):
    return F.conductance_levels(card)


# ---------------------------------------------------------------- the bank as data

def test_filter_bank_validation():
    ok = dict(weights=np.zeros((2, 4, 4)), v_ref=np.zeros(2),
              kinds=(F.FilterKind.CLASS, F.FilterKind.FEATURE),
              classes=(3, None), provenance="test")
    b = F.FilterBank(**ok)
    assert b.weights.dtype == np.float32 and b.n_filters == 2 and b.size == 4 and b.class_filter(3) == 0
    with pytest.raises(ValueError):
        b.weights[0, 0, 0] = 1.0  # read-only
    for change, msg in [({"weights": np.zeros((2, 4, 5))}, "weights"), ({"v_ref": np.zeros(3)}, "v_ref"),
                        ({"classes": (None, None)}, "classes\\[0\\]"),
                        ({"classes": (1, 2)}, "classes\\[1\\]"),
                        ({"kinds": ("class", "feature")}, "FilterKind"), ({"provenance": " "}, "provenance")]:
        with pytest.raises(ValueError, match=msg):
            F.FilterBank(**{**ok, **change})


# ---------------------------------------------------------------- placeholder filters

def test_template_bank_structure(bank):
    assert bank.weights.shape == (64, 20, 20)
    assert bank.kinds[:10] == (F.FilterKind.CLASS,) * 10 and bank.kinds[10:] == (F.FilterKind.FEATURE,) * 54
    assert bank.classes == tuple(range(10)) + (None,) * 54
    assert "PLACEHOLDER" in bank.provenance and "seed=3" in bank.provenance
    np.testing.assert_allclose(bank.weights.mean(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt((bank.weights.astype(float) ** 2).sum(axis=(1, 2))), 1, rtol=1e-5)


def test_template_bank_is_deterministic_from_the_seed(sample, bank):
    sub = load_mnist_sample(500, seed=0)
    a = F.template_filter_bank(sub.images, sub.labels, seed=3)
    b = F.template_filter_bank(sub.images, sub.labels, seed=3)
    c = F.template_filter_bank(sub.images, sub.labels, seed=4)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.weights[:10], c.weights[:10])  # class templates do not use the seed
    assert not np.array_equal(a.weights[10:], c.weights[10:])
    np.testing.assert_array_equal(a.weights[10:], bank.weights[10:])  # FFs depend on the seed only


def test_class_filter_is_the_normalised_class_contrast(sample, bank):
    crop = sample.images[:, 4:24, 4:24].astype(float)
    diff = crop[sample.labels == 7].mean(0) - crop[sample.labels != 7].mean(0)
    diff -= diff.mean()
    np.testing.assert_allclose(bank.weights[bank.class_filter(7)], diff / np.linalg.norm(diff), atol=1e-6)


def test_class_filters_respond_most_to_their_own_class(bank, sample, pooled):
    for c in range(10):
        f = bank.class_filter(c)
        own = pooled[sample.labels == c, f].mean()
        others = pooled[sample.labels != c, f].mean()
        assert own > others, (c, own, others)
        # ... and their bit fires far more often on their class than on the others.
        bits = feature_bits(pooled, bank.v_ref)[:, f]
        assert bits[sample.labels == c].mean() > bits[sample.labels != c].mean() + 0.25


def test_v_ref_calibration_makes_each_filter_fire_on_half_the_images(bank, pooled):
    fire = feature_bits(pooled, bank.v_ref).mean(axis=0)
    assert np.all(np.abs(fire - 0.5) <= 0.01), fire
    # Another quantile, from pooled responses measured elsewhere (e.g. the crossbar).
    strict = F.calibrate_v_ref(bank, pooled=pooled, quantile=0.8)
    assert np.all(np.abs(feature_bits(pooled, strict.v_ref).mean(axis=0) - 0.2) <= 0.01)
    np.testing.assert_array_equal(strict.weights, bank.weights)  # only V_REF changes
    with pytest.raises(ValueError, match="exactly one"):
        F.calibrate_v_ref(bank)


def test_trained_classes_subset(sample):
    sub = load_mnist_sample(1000, seed=2)
    b = F.template_filter_bank(sub.images, sub.labels, seed=0, classes=[0, 1, 2, 3, 4, 5, 6, 7])
    assert b.classes[:8] == tuple(range(8)) and b.kinds.count(F.FilterKind.CLASS) == 8
    # Non-trained classes (8, 9) take no part in any template.
    crop = sub.images[:, 4:24, 4:24].astype(float)
    trained = sub.labels < 8
    d = crop[sub.labels == 0].mean(0) - crop[trained & (sub.labels != 0)].mean(0)
    d -= d.mean()
    np.testing.assert_allclose(b.weights[0], d / np.linalg.norm(d), atol=1e-6)
    with pytest.raises(ValueError, match="n_filters"):
        F.template_filter_bank(sub.images, sub.labels, seed=0, n_filters=5)


# ---------------------------------------------------------------- layout

def test_crossbar_layout_matches_the_software_convolution(bank, sample):
    images = sample.images[::500]
    w = F.to_crossbar(bank.weights)
    assert w.shape == (400, 64)
    assert w[3 * 20 + 7, 11] == bank.weights[11, 3, 7]
    patches = F.image_patches(images)
    assert patches.shape == (10, 81, 400)
    currents = patches.astype(float) @ w.astype(float)  # (n, 81, 64): a linear ideal crossbar
    np.testing.assert_allclose(filter_outputs(currents), F.filter_responses(bank.weights, images),
                               rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- quantisation

square_banks = st.tuples(st.integers(1, 4), st.integers(1, 6)).map(lambda s: (s[0], s[1], s[1]))
weight_banks = arrays(np.float64, square_banks, elements=st.floats(-10, 10, allow_nan=False))


@settings(max_examples=80, deadline=None)
@given(weight_banks, st.integers(2, 6), st.sampled_from(list(F.WeightCoding)))
@example(np.array([[[5e-324]]]), 2, F.WeightCoding.DIFFERENTIAL)  # a subnormal peak (found by CI)
def test_quantisation_round_trip_error_is_at_most_half_a_step(w, bits, coding):
    levels, scale = F.quantize(w, bits, coding=coding)
    l_max = F.max_level(bits, coding)
    assert levels.shape == w.shape and np.issubdtype(levels.dtype, np.integer)
    assert np.abs(levels).max() <= l_max
    err = np.abs(w - F.dequantize(levels, scale))
    assert np.all(err <= scale[:, None, None] / 2 * (1 + 1e-9))
    for f in range(w.shape[0]):
        # A peak so small that peak / L_max underflows to 0 (e.g. 5e-324) is a zero filter to
        # quantize (documented); every other non-zero filter uses the full range.
        if np.abs(w[f]).max() / l_max > 0:
            assert np.abs(levels[f]).max() == l_max  # symmetric scaling uses the full range
    pair = F.differential_levels(levels)
    np.testing.assert_array_equal(pair[0] - pair[1], levels)
    assert np.all((pair[0] == 0) | (pair[1] == 0)) and pair.min() >= 0


def test_level_ranges_per_coding():
    assert F.max_level(4) == 15  # 16 levels 0..15 per device
    assert F.max_level(4, F.WeightCoding.SIGNED) == 7
    w = np.linspace(-1, 1, 31)[None, None, :].repeat(31, axis=1)
    levels, scale = F.quantize(w, 4)
    assert set(np.unique(levels).tolist()) == set(range(-15, 16))
    assert scale[0] == pytest.approx(1 / 15)
    levels, _ = F.quantize(np.zeros((1, 3, 3)), 4)
    assert not levels.any()
    with pytest.raises(ValueError, match="bits"):
        F.quantize(w, 0)
    with pytest.raises(ValueError, match="sign"):
        F.max_level(1, F.WeightCoding.SIGNED)


# ---------------------------------------------------------------- conductance levels

def test_conductance_levels_are_monotone_and_evenly_spaced(table):
    assert table.n_levels == 16 and table.card == CARD_NAME
    assert table.i_c[0] == 0.0  # level 0: RESET only
    assert np.all(np.diff(table.i_c) > 0) and np.all(np.diff(table.g_median) > 0)
    assert table.i_c[1] == pytest.approx(20e-6, rel=2e-3) and table.i_c[-1] == pytest.approx(200e-6, rel=2e-3)
    steps = np.diff(table.g_median[1:])
    np.testing.assert_allclose(steps, steps.mean(), rtol=0.02)  # each level within 1e-3: steps within 2 %
    assert table.g_median[0] < table.g_median[1] / 10  # HRS far below the first SET level
    assert np.all(np.diff(table.sigma_ln_g[1:]) < 0)  # the model's C2C spread falls with I_C


def test_levels_agree_with_direct_programming(card, table):
    p = card.device
    gap = programming.set_with_compliance(p, table.gap[0], table.i_c[5])
    g = 1 / programming.read_resistance(p, gap, table.v_read)[0]
    assert g == pytest.approx(table.g_median[5], rel=1e-9)
    hrs = programming.reset_to_vstop(p, p.g_min, table.v_stop)
    np.testing.assert_allclose(hrs, table.gap[0], rtol=1e-12)


def test_conductance_levels_validation(card):
    with pytest.raises(ValueError, match="i_c_range"):
        F.conductance_levels(card, i_c_range=(2e-4, 2e-5))
    with pytest.raises(ValueError, match="n_levels"):
        F.conductance_levels(card, n_levels=1)
    two = F.conductance_levels(card, n_levels=2, i_c_range=(2e-5, 1e-4))
    assert two.i_c[1] == pytest.approx(1e-4, rel=2e-3)


# ---------------------------------------------------------------- programming

def _all_levels(shape=(64, 20, 20)):
    # Every signed level -15..15 many times: about 1650 devices per non-zero level.
    return (np.arange(np.prod(shape)) % 31 - 15).reshape(shape).astype(np.int16)


def test_programmed_bank_shapes_and_nominal_values(card, table):
    levels = _all_levels()
    pb = F.program_bank(levels, table, card, rng=np.random.default_rng(0), c2c=False)
    assert pb.gaps.shape == pb.conductances.shape == pb.device_levels.shape == (2, 400, 64)
    # Weight (f, i, j) sits on row i*20+j of column pair f; the unused device is at level 0.
    assert pb.device_levels[0, 2 * 20 + 3, 9] == max(levels[9, 2, 3], 0)
    assert pb.device_levels[1, 2 * 20 + 3, 9] == max(-levels[9, 2, 3], 0)
    np.testing.assert_allclose(pb.conductances, table.g_median[pb.device_levels], rtol=1e-9)
    expected = F.to_crossbar(F.differential_conductance(levels, table))
    np.testing.assert_allclose(pb.conductances[0] - pb.conductances[1], expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(pb.i_c, table.i_c[pb.device_levels])


def test_programming_is_deterministic_from_the_seed(card, table):
    levels = _all_levels((8, 20, 20))
    a = F.program_bank(levels, table, card, rng=np.random.default_rng(9))
    b = F.program_bank(levels, table, card, rng=np.random.default_rng(9))
    c = F.program_bank(levels, table, card, rng=np.random.default_rng(10))
    np.testing.assert_array_equal(a.gaps, b.gaps)
    assert not np.array_equal(a.gaps, c.gaps)


def test_program_bank_equals_set_with_compliance_device_by_device(card, table):
    # All weights at +6: the G+ devices are SET at I_C(6), the G- devices RESET. program_bank
    # draws the RESET devices first, so skip those draws, then SET every device directly.
    levels = np.full((3, 4, 4), 6, dtype=np.int16)
    pb = F.program_bank(levels, table, card, rng=np.random.default_rng(4))
    rng = np.random.default_rng(4)
    rng.standard_normal(48)
    direct = programming.set_with_compliance(card.device, table.gap[0], np.full(48, table.i_c[6]),
                                             var=card.variability, rng=rng, v_read=table.v_read)
    np.testing.assert_allclose(pb.gaps[0].ravel(), direct, rtol=1e-12)


def test_programmed_spread_shrinks_as_the_level_compliance_rises(card, table):
    pb = F.program_bank(_all_levels(), table, card, rng=np.random.default_rng(1))
    lev, g = pb.device_levels, pb.conductances
    spread = np.array([np.log(g[lev == k]).std() for k in range(1, 16)])
    medians = np.array([np.median(g[lev == k]) for k in range(16)])
    # The median stays at the level's nominal value (C2C is symmetric in the gap).
    np.testing.assert_allclose(medians[1:], table.g_median[1:], rtol=0.03)
    # Spread falls with I_C: from ~0.36 at 20 uA to ~0.11 at 200 uA for this preset.
    assert np.corrcoef(np.log(table.i_c[1:]), spread)[0, 1] < -0.95
    assert np.all(np.diff(spread[::3]) < 0)
    assert spread[0] > 2.5 * spread[-1]
    # It comes from the device model: about the model's sigma_lnG, a bit less because G is
    # read at 0.1 V where ln G falls a little slower than -gap/g0.
    np.testing.assert_allclose(spread, table.sigma_ln_g[1:], rtol=0.15)


def test_write_verify_rewrites_only_the_devices_out_of_tolerance(card, table):
    levels = _all_levels((16, 20, 20))
    open_loop = F.program_bank(levels, table, card, rng=np.random.default_rng(5))
    verify = WriteVerify(tolerance=0.5 * table.g_step, attempts=8)
    closed = F.program_bank(levels, table, card, rng=np.random.default_rng(5), verify=verify)
    again = F.program_bank(levels, table, card, rng=np.random.default_rng(5), verify=verify)
    np.testing.assert_array_equal(closed.gaps, again.gaps)
    assert open_loop.writes.max() == 1 and open_loop.unverified == 0
    # The first write is the open-loop draw: devices written once kept it.
    once = closed.writes == 1
    np.testing.assert_array_equal(closed.gaps[once], open_loop.gaps[once])
    target = table.g_median[closed.device_levels]
    error_open = np.abs(open_loop.conductances - target)
    error = np.abs(closed.conductances - target)
    assert np.all(error_open[once] <= verify.tolerance * (1 + 1e-9))
    assert np.all(error[closed.verified] <= verify.tolerance * (1 + 1e-9))
    assert np.all(error[~closed.verified] > verify.tolerance)
    assert np.all(closed.writes[~closed.verified] == verify.attempts)
    # The spread in siemens grows with G (sigma_lnG ~ sqrt(g_defect / G)), so the top levels need
    # the most writes; the HRS devices, far below a level step, hardly any.
    lev = closed.device_levels
    writes = np.array([closed.writes[lev == k].mean() for k in range(16)])
    assert writes[0] < 1.2 and writes[1] < writes[8] < writes[15] and writes[15] > 3
    assert 0 < closed.unverified < 0.03 * lev.size
    assert np.abs(error[lev > 0]).mean() < 0.4 * np.abs(error_open[lev > 0]).mean()


def test_a_relaxing_band_trims_the_tail_that_tight_tolerances_leave(card, table):
    levels = _all_levels((16, 20, 20))
    fixed = WriteVerify(tolerance=0.5 * table.g_step)
    relaxed = WriteVerify(tolerance=0.5 * table.g_step, relax=1.3)
    assert relaxed.band(0) == fixed.band(3) == fixed.tolerance
    assert relaxed.band(2) == pytest.approx(1.69 * fixed.tolerance)
    a = F.program_bank(levels, table, card, rng=np.random.default_rng(5), verify=fixed)
    b = F.program_bank(levels, table, card, rng=np.random.default_rng(5), verify=relaxed)
    # The first read uses the same band: devices accepted there are the same draws in both.
    first = a.writes == 1
    np.testing.assert_array_equal(first, b.writes == 1)
    np.testing.assert_array_equal(a.gaps[first], b.gaps[first])
    target = table.g_median[a.device_levels]
    err_a, err_b = (np.abs(x.conductances - target) / table.g_step for x in (a, b))
    # A fixed tight band re-draws the devices that keep missing until the attempts run out and
    # leaves them at their last, unchecked draw; the relaxing band accepts them earlier.
    assert a.unverified > 0.01 * a.verified.size
    assert b.writes.mean() < a.writes.mean()
    assert np.quantile(err_b, 0.99) < 0.75 * np.quantile(err_a, 0.99)
    assert err_b.max() < 0.6 * err_a.max()
    # "verified" stays the nominal tolerance: devices accepted at a wider band are not counted in.
    assert np.all(err_b[b.verified] <= 0.5 * (1 + 1e-9)) and b.unverified > a.unverified


def test_write_verify_validation_and_level_step(table):
    g = table.g_median
    assert table.g_step == pytest.approx((g[-1] - g[1]) / 14) and np.allclose(np.diff(g[1:]), table.g_step, rtol=0.01)
    with pytest.raises(ValueError, match="tolerance"):
        WriteVerify(tolerance=0.0)
    with pytest.raises(ValueError, match="attempts"):
        WriteVerify(tolerance=1e-6, attempts=0)
    with pytest.raises(ValueError, match="relax"):
        WriteVerify(tolerance=1e-6, relax=0.9)


def test_program_bank_validation(card, table):
    with pytest.raises(ValueError, match="levels 0..15"):
        F.program_bank(np.full((1, 2, 2), 16), table, card, rng=np.random.default_rng(0))
    other = dataclasses.replace(card, name="other")
    with pytest.raises(ValueError, match="card"):
        F.program_bank(np.zeros((1, 2, 2), int), table, other, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        F.program_bank(np.zeros((1, 2, 2), int), table, card, rng=1)


# ---------------------------------------------------------------- end to end (linear crossbar)

def test_quantised_bank_on_an_ideal_crossbar_reproduces_the_software_bits(bank, sample, table, card):
    """Quantise, program (no C2C), read through the reference linear crossbar, pool and threshold:
    the hardware feature map agrees with software once V_REF is recalibrated on the hardware."""
    images = load_mnist_sample(200, seed=11).images
    levels, _ = F.quantize(bank.weights, 4)
    pb = F.program_bank(levels, table, card, rng=np.random.default_rng(0), c2c=False)
    spec = CrossbarSpec(rows=400, cols=64, differential=True)
    v_in = 0.1 * F.image_patches(images).reshape(-1, 400)  # amplitude coding, 0.1 V full scale
    currents = nodal_solve(spec, pb.conductances, v_in).reshape(200, 81, 128)
    hw_pooled = max_pool(filter_outputs(currents, differential=True))
    # The same numbers from the levels directly: I = sum(v * (G(|L|) - G(0)) sign L).
    expected = 0.1 * F.filter_responses(F.differential_conductance(levels, table), images)
    np.testing.assert_allclose(hw_pooled, max_pool(expected), rtol=1e-4, atol=1e-10)
    sw_pooled = max_pool(F.filter_responses(bank.weights, images))
    hw_bank = F.calibrate_v_ref(bank, pooled=hw_pooled)
    sw_bank = F.calibrate_v_ref(bank, pooled=sw_pooled)
    agree = (feature_bits(hw_pooled, hw_bank.v_ref) == feature_bits(sw_pooled, sw_bank.v_ref)).mean()
    assert agree > 0.9
