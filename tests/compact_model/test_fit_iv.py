"""Fit recovery: I-V sweeps simulated from known parameters plus noise are fitted back."""

import dataclasses

import numpy as np
import pytest

from compact_model.access import SourceCompliance
from compact_model.fit.core import FitSpec, with_values
from compact_model.fit.iv import fit_iv, prepare_sweeps
from compact_model.measurements import IVSweep
from compact_model.params import DeviceParams, ModelCard, Polarity
from compact_model.simulate import Hold, simulate

TRUE = DeviceParams(thickness=8e-9, gamma0=24.0, g_max=2.8e-9, g0=0.3e-9, beta_set=0.4,
                    beta_reset=1.0, v_set=1e-7, v_reset=1e-7, v_nl_lrs=0.8, v_nl_hrs=0.5,
                    set_polarity=Polarity.NEGATIVE)
NOISE = 0.03  # log-normal current noise of the synthetic instrument


def _sweep(peak, gap0, i_c, rng, label):
    n = int(abs(peak) / 0.02)
    v = np.r_[np.linspace(0, peak, n + 1), np.linspace(peak, 0, n + 1)[1:]]
    t = np.arange(v.size) * 0.05
    tr = simulate(TRUE, t, v, gap0, series=SourceCompliance(i_c=i_c), hold=Hold.STAIRCASE)
    i = tr.current[0] * np.exp(NOISE * rng.standard_normal(v.size))
    return IVSweep(time=t, voltage=v, current=i, label=label, source="synthetic", compliance=i_c), \
        tr.final_gap[0]


@pytest.fixture(scope="module")
def sweeps():
    rng = np.random.default_rng(11)
    out, gap = [], TRUE.g_max
    for k in range(2):
        s, gap = _sweep(-2.0, gap, 1e-4, rng, f"set{k}")
        out.append(s)
        s, gap = _sweep(1.6 + 0.4 * k, gap, 1e-3, rng, f"reset{k}")
        out.append(s)
    return out


SPECS = (
    FitSpec(name="device.i0", lower=1e-5, upper=1e-1),
    FitSpec(name="device.v_nl_lrs", lower=0.1, upper=3.0),
    FitSpec(name="device.v_nl_hrs", lower=0.1, upper=3.0),
    FitSpec(name="device.v_set", lower=1e-12, upper=1e-3),
    FitSpec(name="device.v_reset", lower=1e-12, upper=1e-3),
    FitSpec(name="device.beta_reset", lower=0.0, upper=3.0),
)


def test_fit_recovers_known_parameters_within_three_sigma(sweeps):
    start = with_values(ModelCard(name="start", device=TRUE),
                        {"device.i0": 3e-3, "device.v_nl_lrs": 0.5, "device.v_nl_hrs": 0.8,
                         "device.v_set": 1e-9, "device.v_reset": 1e-5, "device.beta_reset": 0.6})
    before = dataclasses.replace(start)
    result = fit_iv(start, sweeps, specs=SPECS)
    assert start == before  # the input card is not mutated
    assert result.success
    for spec in SPECS:
        truth = getattr(TRUE, spec.name.split(".")[1])
        fitted, err = result.values[spec.name], result.stderr[spec.name]
        assert np.isfinite(err) and err > 0, spec.name
        assert abs(fitted - truth) < 3 * err, (spec.name, fitted, truth, err)
    # Residuals at the noise level: log-normal 3 % noise gives ~2 % median |I| error.
    assert result.metrics["median_rel_error_I"] < 0.05
    assert result.card.provenance.fitted_to
    assert set(result.correlations) == {s.name for s in SPECS}


def test_prepare_sweeps_masks_noise_floor_and_pads():
    s1 = IVSweep(time=np.arange(5.0), voltage=np.array([0, 0.01, 0.1, 0.2, 0.0]),
                 current=np.array([1e-13, 1e-9, 1e-6, 2e-6, 1e-13]), label="a", source="x")
    s2 = IVSweep(time=np.arange(3.0), voltage=np.array([0, 0.3, 0.0]),
                 current=np.array([0, 3e-6, 0]), label="b", source="x", compliance=1e-3)
    data = prepare_sweeps([s1, s2])
    assert data.time.shape == (2, 5)
    np.testing.assert_array_equal(data.used[0], [False, False, True, True, False])
    np.testing.assert_array_equal(data.used[1], [False, True, False, False, False])
    assert data.compliance[1] == 1e-3 and data.compliance[0] >= 2e-6  # estimated: never clamps data


def test_fit_rejects_empty_input():
    with pytest.raises(ValueError, match="no sweeps"):
        fit_iv(ModelCard(name="x", device=TRUE), [])
