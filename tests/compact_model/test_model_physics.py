"""The compact model against the physics it must capture (issue: compact model acceptance)."""

import dataclasses

import numpy as np
import pytest

from compact_model import equations as eq
from compact_model import programming as pr
from compact_model.access import SeriesResistor, SourceCompliance
from compact_model.params import AccessTransistorParams, DeviceParams, Polarity, VariabilityParams
from compact_model.simulate import Hold, simulate
from compact_model.variability import DeviceBatch, c2c_sigma_ln_g, sample_devices

OPS = eq.NUMPY_OPS
# A device that SETs with compliance and RESETs progressively (self-limited by beta_reset).
DEV = DeviceParams(beta_reset=2.5, v_reset=1e-3)


def test_ohmic_at_low_bias_and_odd_in_voltage():
    gaps = np.linspace(DEV.g_min, DEV.g_max, 7)
    v = 1e-4
    g_small = eq.current(v, gaps, DEV, OPS) / v
    g_smaller = eq.current(v / 10, gaps, DEV, OPS) / (v / 10)
    np.testing.assert_allclose(g_small, g_smaller, rtol=1e-6)  # linear in V near 0
    np.testing.assert_allclose(eq.current(-0.3, gaps, DEV, OPS), -eq.current(0.3, gaps, DEV, OPS))


def test_hrs_more_nonlinear_than_lrs():
    dev = dataclasses.replace(DEV, v_nl_lrs=0.6, v_nl_hrs=0.2)

    def nonlinearity(gap):  # I(0.6 V) / (6 I(0.1 V)): 1 for an ohmic device
        return eq.current(0.6, gap, dev, OPS) / (6 * eq.current(0.1, gap, dev, OPS))

    assert nonlinearity(dev.g_min) < nonlinearity(dev.g_max)
    assert nonlinearity(dev.g_min) < 1.2 < 3.0 < nonlinearity(dev.g_max)


def test_voltage_at_current_inverts_current():
    gaps = np.linspace(DEV.g_min, DEV.g_max, 5)
    v = np.array([-0.9, -0.2, 0.05, 0.4, 1.1])
    i = eq.current(v, gaps, DEV, OPS)
    np.testing.assert_allclose(eq.voltage_at_current(i, gaps, DEV, OPS), v, rtol=1e-10)


def test_rate_sign_follows_polarity_and_vanishes_at_zero_bias():
    gap = np.array([1.0e-9])
    t = np.array([300.0])
    assert eq.gap_rate(1.0, gap, t, DEV, OPS)[0] < 0  # SET shrinks the gap
    assert eq.gap_rate(-1.0, gap, t, DEV, OPS)[0] > 0  # RESET grows it
    assert eq.gap_rate(0.0, gap, t, DEV, OPS)[0] == 0
    neg = dataclasses.replace(DEV, set_polarity=Polarity.NEGATIVE)
    assert eq.gap_rate(-1.0, gap, t, neg, OPS)[0] < 0


def test_hotter_filament_switches_faster_at_moderate_field():
    # Arrhenius wins over the 1/kT in the field term while gamma a0 qV / (L kT) < Ea/kT.
    gap = np.array([1.0e-9])
    cold = eq.gap_rate(0.2, gap, np.array([300.0]), DEV, OPS)
    hot = eq.gap_rate(0.2, gap, np.array([400.0]), DEV, OPS)
    assert abs(hot[0]) > abs(cold[0])


def test_gap_stays_within_bounds_under_strong_drive():
    time = np.linspace(0, 1e-3, 50)
    for v in (3.0, -3.0):
        traj = simulate(DEV, time, np.full(50, v), 0.8e-9, series=SeriesResistor(r=100.0))
        assert traj.gap.min() >= DEV.g_min - 1e-15
        assert traj.gap.max() <= DEV.g_max + 1e-15


def test_lrs_resistance_falls_as_compliance_rises():
    i_c = np.array([5e-6, 1e-5, 3e-5, 1e-4, 3e-4])
    gap = pr.set_with_compliance(DEV, np.full(i_c.size, DEV.g_max), i_c)
    r = pr.read_resistance(DEV, gap)
    assert np.all(np.diff(r) < 0)
    # The "universal" SET relation R ~ V_c / I_C: R * I_C stays within a factor 3 over the range.
    assert (r * i_c).max() / (r * i_c).min() < 3


def test_1t1r_gate_voltage_acts_as_compliance():
    v_g = np.array([0.7, 0.8, 0.9, 1.0])
    transistor = AccessTransistorParams(i_spec=2e-6)
    gap = pr.set_through_transistor(DEV, np.full(v_g.size, DEV.g_max), transistor, v_g)
    assert np.all(np.diff(pr.read_resistance(DEV, gap)) < 0)


def test_hrs_resistance_grows_with_v_stop():
    lrs = pr.set_with_compliance(DEV, DEV.g_max, 1e-4)
    r = [pr.read_resistance(DEV, pr.reset_to_vstop(DEV, lrs, v))[0] for v in (0.8, 1.0, 1.3, 1.6)]
    assert np.all(np.diff(r) > 0)
    assert r[-1] > 5 * pr.read_resistance(DEV, lrs)[0]


def test_partial_set_pulses_lower_resistance_step_by_step():
    gap = np.array([DEV.g_max])
    r = [pr.read_resistance(DEV, gap)[0]]
    series = SourceCompliance(i_c=1e-4)
    for _ in range(5):
        gap = pr.apply_pulse(DEV, gap, 0.6, 10e-9, series=series)
        r.append(pr.read_resistance(DEV, gap)[0])
    steps = -np.diff(np.log(r))
    assert np.all(steps > 0), r  # each pulse moves the state a little
    assert np.all(steps < 0.2), r  # ... but none completes the SET at once


def test_c2c_spread_shrinks_with_compliance():
    var = VariabilityParams(g_defect=5e-6, c2c_floor=0.02)
    i_c = np.array([1e-5, 3e-5, 1e-4, 3e-4])
    rng = np.random.default_rng(7)
    sigmas = []
    for ic in i_c:
        gaps = pr.set_with_compliance(DEV, np.full(400, DEV.g_max), ic, var=var, rng=rng)
        sigmas.append(np.std(np.log(pr.read_resistance(DEV, gaps))))
    assert np.all(np.diff(sigmas) < 0), sigmas
    # The sampled spread follows the closed form at the median conductance (within sampling error).
    g_med = 1 / np.median(pr.read_resistance(DEV, pr.set_with_compliance(DEV, DEV.g_max, i_c)))
    expected = c2c_sigma_ln_g(np.atleast_1d(1 / pr.read_resistance(DEV, pr.set_with_compliance(
        DEV, np.full(i_c.size, DEV.g_max), i_c))), var)
    np.testing.assert_allclose(sigmas, expected, rtol=0.2)
    assert g_med > 0


def test_variability_is_reproducible_from_the_seed():
    var = VariabilityParams()
    a = sample_devices(DEV, var, 16, np.random.default_rng(3))
    b = sample_devices(DEV, var, 16, np.random.default_rng(3))
    c = sample_devices(DEV, var, 16, np.random.default_rng(4))
    np.testing.assert_array_equal(a.i0, b.i0)
    assert not np.array_equal(a.i0, c.i0)
    gap_a = pr.set_with_compliance(a, np.full(16, DEV.g_max), 5e-5, var=var, rng=np.random.default_rng(9))
    gap_b = pr.set_with_compliance(b, np.full(16, DEV.g_max), 5e-5, var=var, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(gap_a, gap_b)
    # Devices differ from each other, and each one is a valid parameter set.
    assert np.std(np.log(pr.read_resistance(a, gap_a))) > 0
    assert isinstance(a.device(3), DeviceParams)


def test_batch_of_identical_devices_matches_the_nominal_device():
    batch = DeviceBatch.from_params(DEV)
    gap = pr.set_with_compliance(batch, np.full(3, DEV.g_max), np.array([1e-5, 1e-4, 3e-4]))
    ref = pr.set_with_compliance(DEV, np.full(3, DEV.g_max), np.array([1e-5, 1e-4, 3e-4]))
    np.testing.assert_allclose(gap, ref, rtol=1e-12)


def test_staircase_hold_differs_from_linear_only_in_interpolation():
    time = np.array([0.0, 1e-6, 2e-6])
    volts = np.array([0.0, 1.2, 1.2])
    stair = simulate(DEV, time, volts, DEV.g_max, hold=Hold.STAIRCASE, series=SourceCompliance(i_c=1e-4))
    linear = simulate(DEV, time, volts, DEV.g_max, hold=Hold.LINEAR, series=SourceCompliance(i_c=1e-4))
    # Both end SET at the compliance; the staircase applies the full voltage for longer.
    assert stair.gap[0, 1] <= linear.gap[0, 1]
    np.testing.assert_allclose(stair.final_gap, linear.final_gap, rtol=0.05)


@pytest.mark.parametrize("field,value", [("i0", -1.0), ("g_max", 0.05e-9), ("thickness", 1e-9),
                                         ("v_set", float("nan")), ("r_th", -1.0)])
def test_impossible_parameters_are_rejected_with_the_field_name(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(DEV, **{field: value})


def test_simulation_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="samples"):
        simulate(DEV, np.arange(3.0), np.zeros(4), DEV.g_max)
    with pytest.raises(ValueError, match="non-decreasing"):
        simulate(DEV, np.array([0.0, 2.0, 1.0]), np.zeros(3), DEV.g_max)
    with pytest.raises(ValueError, match="i_c"):
        SourceCompliance(i_c=0.0)
