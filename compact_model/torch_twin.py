"""The torch twin of the compact model: the same equations on tensors, batched and differentiable.

Used by CNN training and the fast engine. It evaluates ``compact_model.equations`` with torch
operations and mirrors ``simulate.advance_gap`` (the exact window update), so a tensor
simulation follows the numpy one to rounding error.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace
from typing import Any

import torch

from compact_model import equations as eq


def _pairwise(fn: Any) -> Any:
    """torch.minimum/maximum take only tensors; the equations also pass plain floats."""
    def apply(a: Any, b: Any) -> torch.Tensor:
        dtype = next((x.dtype for x in (a, b) if isinstance(x, torch.Tensor)), torch.float64)
        return fn(torch.as_tensor(a, dtype=dtype), torch.as_tensor(b, dtype=dtype))
    return apply


TORCH_OPS = SimpleNamespace(
    exp=torch.exp, sinh=torch.sinh, asinh=torch.asinh, tanh=torch.tanh, abs=torch.abs,
    where=torch.where, minimum=_pairwise(torch.minimum), maximum=_pairwise(torch.maximum),
)


def params_to_torch(p: Any, dtype: torch.dtype = torch.float64,
                    device: torch.device | str = "cpu") -> SimpleNamespace:
    """A namespace of tensors with the attributes of ``p`` (``DeviceParams`` or ``DeviceBatch``)."""
    values = {}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        values[f.name] = v if f.name == "set_polarity" else torch.as_tensor(v, dtype=dtype, device=device)
    return SimpleNamespace(**values)


def current(v: torch.Tensor, gap: torch.Tensor, p: Any) -> torch.Tensor:
    return eq.current(v, gap, p, TORCH_OPS)


def gap_rate(v: torch.Tensor, gap: torch.Tensor, p: Any) -> torch.Tensor:
    temp = eq.temperature(v, eq.current(v, gap, p, TORCH_OPS), p, TORCH_OPS)
    return eq.gap_rate(v, gap, temp, p, TORCH_OPS)


def _window_step(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """asinh(sinh(x) exp(-k)), overflow-safe for large x (see ``simulate._window_step``)."""
    k = torch.clamp(k, min=0.0)
    big = x > 30.0
    x_big = torch.where(big, x, torch.zeros_like(x))
    z_log = (x_big - k - math.log(2.0)
             + torch.log1p(-torch.exp(-2.0 * torch.clamp(x_big, min=1.0))))
    big_result = torch.where(z_log > 30.0, z_log + math.log(2.0),
                             torch.asinh(torch.exp(torch.clamp(z_log, max=30.0))))
    small_result = torch.asinh(torch.sinh(torch.where(big, torch.zeros_like(x), x)) * torch.exp(-k))
    return torch.where(big, big_result, small_result)


def advance_gap(gap: torch.Tensor, v_device: torch.Tensor, dt: torch.Tensor | float, p: Any) -> torch.Tensor:
    """Advance the gap over dt at a fixed device voltage (mirror of ``simulate.advance_gap``)."""
    i = eq.current(v_device, gap, p, TORCH_OPS)
    temp = eq.temperature(v_device, i, p, TORCH_OPS)
    set_speed, reset_speed = eq.unwindowed_rates(v_device, gap, temp, p, TORCH_OPS)
    x_set = _window_step((gap - p.g_min) / p.window, set_speed * dt / p.window)
    x_reset = _window_step((p.g_max - gap) / p.window, reset_speed * dt / p.window)
    return torch.where(set_speed > 0, p.g_min + x_set * p.window,
                       torch.where(reset_speed > 0, p.g_max - x_reset * p.window, gap))


def device_voltage_with_compliance(v_applied: torch.Tensor, gap: torch.Tensor, p: Any,
                                   i_c: torch.Tensor | float | None) -> torch.Tensor:
    """Device voltage under a source compliance ``i_c`` (A), or v_applied when None."""
    if i_c is None:
        return v_applied.expand_as(gap) if v_applied.dim() else v_applied + 0 * gap
    i_free = eq.current(v_applied, gap, p, TORCH_OPS)
    v_limit = eq.voltage_at_current(torch.sign(v_applied) * i_c, gap, p, TORCH_OPS)
    return torch.where(torch.abs(i_free) > i_c, v_limit, v_applied + 0 * gap)


def simulate_staircase(p: Any, time: torch.Tensor, v_applied: torch.Tensor, gap0: torch.Tensor, *,
                       i_c: float | None = None, substeps: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched staircase drive (V_k held over (t_{k-1}, t_k]) with optional source compliance.

    Uses ``substeps`` equal sub-steps per sample: fixed work, so it vectorises and
    differentiates; the exact window update keeps it stable at the bounds. Returns
    (gap, current), each (batch, n).
    """
    gaps = [gap0]
    gap = gap0
    for k in range(1, time.shape[-1]):
        h = (time[k] - time[k - 1]) / substeps
        for _ in range(substeps):
            v_dev = device_voltage_with_compliance(v_applied[..., k], gap, p, i_c)
            gap = advance_gap(gap, v_dev, h, p)
        gaps.append(gap)
    gap_all = torch.stack(gaps, dim=-1)
    v_dev_all = device_voltage_with_compliance(v_applied, gap_all, p, i_c)
    return gap_all, eq.current(v_dev_all, gap_all, p, TORCH_OPS)
