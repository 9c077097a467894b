"""The digital logic: output maps, pooling, thresholds, spike schedules, winner-take-all."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from circuits.reference import pair_difference
from cosim.digital import (SpikeSchedule, feature_bits, filter_outputs, first_fire_times, max_pool,
                           schedule_spikes, spike_counts, winner_take_all)

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
maps_strategy = arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9),
                                             st.integers(1, 9)), elements=finite)


# ---------------------------------------------------------------- output maps

def test_filter_outputs_layout_is_row_major_positions():
    rng = np.random.default_rng(0)
    cur = rng.normal(size=(2, 81, 64))
    maps = filter_outputs(cur)
    assert maps.shape == (2, 64, 9, 9)
    for n, f, y, x in [(0, 0, 0, 0), (1, 5, 0, 8), (0, 63, 8, 0), (1, 17, 4, 6)]:
        assert maps[n, f, y, x] == cur[n, 9 * y + x, f]


def test_differential_outputs_are_interleaved_pair_differences():
    rng = np.random.default_rng(1)
    cur = rng.normal(size=(3, 81, 128))
    maps = filter_outputs(cur, differential=True)
    expected = pair_difference(cur)  # the crossbar's own convention: colp_j = 2j, coln_j = 2j + 1
    np.testing.assert_array_equal(maps, filter_outputs(expected))
    assert maps[2, 10, 3, 4] == cur[2, 31, 20] - cur[2, 31, 21]


@pytest.mark.parametrize("shape, kw, msg", [((2, 80, 64), {}, "perfect square"),
                                            ((2, 81, 63), {"differential": True}, "even number"),
                                            ((81, 64), {}, "shape")])
def test_filter_outputs_rejects_bad_shapes(shape, kw, msg):
    with pytest.raises(ValueError, match=msg):
        filter_outputs(np.zeros(shape), **kw)


# ---------------------------------------------------------------- pooling

@settings(max_examples=60, deadline=None)
@given(maps_strategy)
def test_global_pool_is_the_maximum_of_each_map(maps):
    pooled = max_pool(maps)
    n, f = maps.shape[:2]
    assert pooled.shape == (n, f)
    for i in range(n):
        for j in range(f):
            assert pooled[i, j] == max(maps[i, j].ravel().tolist())


@settings(max_examples=60, deadline=None)
@given(maps_strategy, st.integers(1, 10))
def test_local_pool_matches_brute_force_windows(maps, k):
    pooled = max_pool(maps, k)
    n, f, h, w = maps.shape
    assert pooled.shape == (n, f, math.ceil(h / k), math.ceil(w / k))
    for i in range(n):
        for j in range(f):
            for a in range(pooled.shape[2]):
                for b in range(pooled.shape[3]):
                    assert pooled[i, j, a, b] == maps[i, j, a * k:(a + 1) * k, b * k:(b + 1) * k].max()
    np.testing.assert_array_equal(pooled.max(axis=(2, 3)), max_pool(maps))  # global = max of locals


@pytest.mark.parametrize("region", ["local", 0, -2, 1.5, True])
def test_bad_pooling_region(region):
    with pytest.raises(ValueError, match="region"):
        max_pool(np.zeros((1, 1, 9, 9)), region)


# ---------------------------------------------------------------- thresholds

@settings(max_examples=60, deadline=None)
@given(st.data())
def test_bits_match_a_brute_force_comparison(data):
    maps = data.draw(maps_strategy)
    f = maps.shape[1]
    v_ref = data.draw(arrays(np.float64, f, elements=finite))
    for region in ("global", 2, 3):
        pooled = max_pool(maps, region)
        bits = feature_bits(pooled, v_ref)
        flat = pooled.reshape(pooled.shape[0], f, -1)
        assert bits.dtype == bool and bits.shape == (pooled.shape[0], flat[0].size)
        for i in range(pooled.shape[0]):
            expected = [bool(flat[i, j, r] > v_ref[j]) for j in range(f) for r in range(flat.shape[2])]
            assert bits[i].tolist() == expected  # filter-major order, strict comparison


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (4, 6), elements=finite), arrays(np.float64, 6, elements=finite),
       arrays(np.float64, 6, elements=st.floats(0, 100)))
def test_raising_v_ref_never_sets_a_bit(pooled, v_ref, delta):
    low, high = feature_bits(pooled, v_ref), feature_bits(pooled, v_ref + delta)
    assert not np.any(high & ~low)


def test_ties_with_v_ref_give_zero():
    pooled = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(feature_bits(pooled, [1.0, 1.0, 3.0]), [[False, True, False]])


def test_bits_reject_bad_thresholds():
    with pytest.raises(ValueError, match="one per filter"):
        feature_bits(np.zeros((2, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        feature_bits(np.zeros((2, 3)), [0.0, np.nan, 0.0])


# ---------------------------------------------------------------- spike schedules

SCHED = SpikeSchedule(slot_time=1e-6, pattern_slots=10, noise_slots=30, p_noise=0.05)


def _bits(seed=0, n=64):
    return np.random.default_rng(seed).random(n) < 0.3


def test_schedule_is_deterministic_from_the_seed():
    bits = _bits()
    a = schedule_spikes(bits, SCHED, rng=np.random.default_rng(42))
    b = schedule_spikes(bits, SCHED, rng=np.random.default_rng(42))
    c = schedule_spikes(bits, SCHED, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(a.raster, b.raster)
    assert not np.array_equal(a.raster, c.raster)
    np.testing.assert_array_equal(a.raster[a.is_pattern], c.raster[c.is_pattern])  # only noise differs


def test_pattern_slots_carry_exactly_the_active_bits():
    bits = _bits(3)
    trains = schedule_spikes(bits, SCHED, rng=np.random.default_rng(0))
    assert trains.raster.shape == (40, 64)
    assert trains.is_pattern.sum() == 10
    assert np.all(trains.raster[trains.is_pattern] == bits)
    counts = trains.counts()
    assert np.all(counts[bits] >= 10) and np.all(counts >= 0)
    np.testing.assert_allclose(trains.slot_times, np.arange(40) * 1e-6)
    times = trains.spike_times()
    assert len(times) == 64
    for i in range(64):
        np.testing.assert_array_equal(times[i], trains.slot_times[trains.raster[:, i]])
        assert np.all(np.diff(times[i]) > 0)


def test_noise_rate_matches_p_noise():
    sched = dataclasses.replace(SCHED, noise_slots=2000, p_noise=0.1)
    trains = schedule_spikes(np.zeros(64, bool), sched, rng=np.random.default_rng(5))
    noise = trains.raster[~trains.is_pattern]
    n = noise.size
    # Binomial(n, 0.1): 5 standard deviations.
    assert abs(noise.mean() - 0.1) < 5 * math.sqrt(0.1 * 0.9 / n)
    assert not trains.raster[trains.is_pattern].any()  # an all-zero map: silent pattern slots
    # Independence across inputs: per-input rates all plausible (Binomial(2000, 0.1), 5 sigma).
    rates = noise.mean(axis=0)
    assert np.all(np.abs(rates - 0.1) < 5 * math.sqrt(0.09 / 2000))


@pytest.mark.parametrize("p, expected", [(0.0, 0.0), (1.0, 1.0)])
def test_noise_extremes(p, expected):
    trains = schedule_spikes(_bits(), dataclasses.replace(SCHED, p_noise=p), rng=np.random.default_rng(0))
    assert trains.raster[~trains.is_pattern].mean() == expected


def test_slot_order_pattern_first_and_spread_evenly():
    def order(p, n):
        s = SpikeSchedule(slot_time=1.0, pattern_slots=p, noise_slots=n, p_noise=0.0)
        return "".join("P" if k else "N" for k in s.slot_kinds())

    assert order(2, 4) == "PNNPNN"
    assert order(1, 1) == "PN"
    assert order(3, 2) == "PPNPN"
    assert order(0, 3) == "NNN"
    assert order(4, 0) == "PPPP"
    for p, n in [(7, 23), (10, 30), (5, 5)]:
        kinds = SpikeSchedule(slot_time=1.0, pattern_slots=p, noise_slots=n, p_noise=0.0).slot_kinds()
        gaps = np.diff(np.flatnonzero(kinds))
        assert kinds[0] and kinds.sum() == p and gaps.max() - gaps.min() <= 1


def test_complement_inputs_and_batches():
    sched = dataclasses.replace(SCHED, complement=True, p_noise=0.0)
    bits = np.stack([_bits(0), _bits(1)])
    trains = schedule_spikes(bits, sched, rng=np.random.default_rng(0), t_start=5e-6)
    assert trains.raster.shape == (2, 40, 128)
    np.testing.assert_array_equal(trains.raster[:, trains.is_pattern][:, 0], np.concatenate([bits, ~bits], 1))
    # Every pattern slot has exactly 64 active inputs with complements.
    assert np.all(trains.raster[:, trains.is_pattern].sum(-1) == 64)
    assert trains.slot_times[0] == 5e-6
    assert trains.counts().shape == (2, 128)
    with pytest.raises(ValueError, match="single presentation"):
        trains.spike_times()


@pytest.mark.parametrize("field, value", [
    ("slot_time", 0.0), ("slot_time", -1e-6), ("slot_time", float("nan")), ("pattern_slots", -1),
    ("pattern_slots", 2.0), ("noise_slots", True), ("p_noise", 1.5), ("p_noise", -0.1),
    ("complement", 1)])
def test_schedule_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(SCHED, **{field: value})


def test_empty_schedule_and_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        SpikeSchedule(slot_time=1e-6, pattern_slots=0, noise_slots=0, p_noise=0.1)
    with pytest.raises(ValueError, match="0/1"):
        schedule_spikes(np.array([0, 2, 1]), SCHED, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        schedule_spikes(_bits(), SCHED, rng=0)


def test_schedule_timing_units():
    assert SCHED.n_slots == 40
    assert SCHED.duration == pytest.approx(40e-6)


# ---------------------------------------------------------------- winner-take-all

def test_winner_is_the_first_to_fire_ties_to_the_lowest_index():
    assert winner_take_all([3e-6, 1e-6, 2e-6]) == 1
    assert winner_take_all([2e-6, 1e-6, 1e-6]) == 1
    assert winner_take_all([np.inf, np.inf]) == -1
    batch = np.array([[1.0, 0.5, np.inf], [np.inf, np.inf, np.inf], [0.2, 0.2, 0.1]])
    np.testing.assert_array_equal(winner_take_all(batch), [1, -1, 2])
    with pytest.raises(ValueError, match="NaN"):
        winner_take_all([np.nan, 1.0])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 12), elements=st.sampled_from([0.0, 1.0, 2.0, np.inf])))
def test_winner_matches_a_loop(times):
    w = winner_take_all(times)
    best = -1
    for i, t in enumerate(times):
        if np.isfinite(t) and (best < 0 or t < times[best]):
            best = i
    assert w == best


def test_first_fire_times_and_spike_counts():
    np.testing.assert_array_equal(first_fire_times([np.array([3.0, 1.0]), [], [2.0]]), [1.0, np.inf, 2.0])
    winners = np.array([0, 2, 2, -1, 1, 2])
    np.testing.assert_array_equal(spike_counts(winners, n_neurons=4), [1, 1, 3, 0])
    table = spike_counts(winners, n_neurons=4, labels=[5, 5, 3, 1, 0, 3], n_classes=6)
    assert table.shape == (4, 6)
    assert table[2, 3] == 2 and table[2, 5] == 1 and table[0, 5] == 1 and table.sum() == 5
    with pytest.raises(ValueError, match="-1..3"):
        spike_counts([4], n_neurons=4)
