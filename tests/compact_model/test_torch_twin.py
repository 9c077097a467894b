"""The torch twin evaluates the same equations as numpy: agreement to rounding error."""

import numpy as np
import torch

from compact_model import equations as eq
from compact_model import torch_twin as tt
from compact_model.params import DeviceParams, Polarity, VariabilityParams
from compact_model.simulate import Hold, advance_gap, simulate
from compact_model.access import SourceCompliance
from compact_model.variability import sample_devices

DEV = DeviceParams(beta_reset=2.5, v_reset=1e-3, v_nl_lrs=0.5, v_nl_hrs=0.2,
                   set_polarity=Polarity.NEGATIVE)
OPS = eq.NUMPY_OPS


def _grid():
    v = np.linspace(-2.0, 2.0, 41)
    g = np.linspace(DEV.g_min, DEV.g_max, 17)
    return np.meshgrid(v, g, indexing="ij")


def test_current_and_rate_agree_with_numpy():
    v, g = _grid()
    pt = tt.params_to_torch(DEV)
    i_np = eq.current(v, g, DEV, OPS)
    i_t = tt.current(torch.as_tensor(v), torch.as_tensor(g), pt).numpy()
    np.testing.assert_allclose(i_t, i_np, rtol=1e-12, atol=1e-30)
    temp = eq.temperature(v, i_np, DEV, OPS)
    r_np = eq.gap_rate(v, g, temp, DEV, OPS)
    r_t = tt.gap_rate(torch.as_tensor(v), torch.as_tensor(g), pt).numpy()
    np.testing.assert_allclose(r_t, r_np, rtol=1e-10, atol=1e-300)


def test_exact_window_update_agrees_including_stiff_steps():
    v, g = _grid()
    pt = tt.params_to_torch(DEV)
    for dt in (1e-12, 1e-6, 1.0):  # 1 s at 2 V is far beyond any explicit step
        g_np = advance_gap(g, v, dt, DEV)
        g_t = tt.advance_gap(torch.as_tensor(g), torch.as_tensor(v), dt, pt).numpy()
        np.testing.assert_allclose(g_t, g_np, rtol=1e-10)
        assert np.all(np.isfinite(g_np))
        assert g_np.min() >= DEV.g_min - 1e-15 and g_np.max() <= DEV.g_max + 1e-15


def test_batched_devices_agree():
    batch = sample_devices(DEV, VariabilityParams(), 8, np.random.default_rng(0))
    pt = tt.params_to_torch(batch)
    v = np.linspace(-1, 1, 8)
    g = np.linspace(DEV.g_min, DEV.g_max, 8)
    np.testing.assert_allclose(tt.current(torch.as_tensor(v), torch.as_tensor(g), pt).numpy(),
                               eq.current(v, g, batch, OPS), rtol=1e-12)


def test_staircase_simulation_matches_numpy_integrator():
    n = 60
    v = np.r_[np.linspace(0, -1.6, n // 2), np.linspace(-1.6, 0, n // 2)]
    time = np.arange(n) * 1e-3
    ref = simulate(DEV, time, v, DEV.g_max, series=SourceCompliance(i_c=1e-4), hold=Hold.STAIRCASE)
    pt = tt.params_to_torch(DEV)
    gap, cur = tt.simulate_staircase(pt, torch.as_tensor(time), torch.as_tensor(v)[None, :],
                                     torch.full((1,), DEV.g_max, dtype=torch.float64), i_c=1e-4,
                                     substeps=256)
    # Fixed sub-steps vs adaptive ones: the SET ends at the same compliance-limited state.
    np.testing.assert_allclose(gap.numpy()[0, -1], ref.final_gap[0], rtol=0.02)
    lrs = np.abs(v) > 0.2
    np.testing.assert_allclose(np.abs(cur.numpy()[0, lrs]), np.abs(ref.current[0, lrs]), rtol=0.1)


def test_twin_is_differentiable_in_the_parameters():
    pt = tt.params_to_torch(DEV)
    pt.i0 = pt.i0.clone().requires_grad_(True)
    i = tt.current(torch.tensor([0.1, 0.3]), torch.tensor([1e-9, 1e-9], dtype=torch.float64), pt)
    i.sum().backward()
    np.testing.assert_allclose(pt.i0.grad.item(), (i.sum() / pt.i0).item(), rtol=1e-12)
