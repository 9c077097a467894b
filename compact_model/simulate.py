"""Time integration of the compact model in numpy: sweeps, pulses and programming operations.

The gap obeys dg/dt = -S tanh((g - g_min)/w) + R tanh((g_max - g)/w) with S, R the SET/RESET
speeds (``equations.gap_rate``). Near a bound the ODE is stiff (S/w can reach 1e12 /s), so each
sub-step freezes S (or R) and advances the window term exactly: with x = (g - g_min)/w,
sinh(x) decays as exp(-S t / w). Far from the bounds this is explicit Euler; at the bound it is
exact, so no time step is too long. Sub-steps are limited so the gap moves at most ``max_step``
per sub-step, which keeps the frozen speed (it depends on g through the series element,
temperature and field enhancement) accurate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from compact_model import equations as eq
from compact_model.access import NoSeries, SeriesElement

_OPS = eq.NUMPY_OPS


class Hold(enum.Enum):
    """How the drive behaves between its samples."""

    STAIRCASE = "staircase"  # V_k is held over (t_{k-1}, t_k]: measured DC sweeps
    LINEAR = "linear"  # piecewise linear between samples: PWL pulses, as in SPICE


@dataclass(frozen=True, slots=True, kw_only=True)
class Trajectory:
    """Result of a simulation, sampled at the drive's time points (arrays of shape (batch, n))."""

    time: np.ndarray  # s
    v_applied: np.ndarray  # V, drive voltage
    v_device: np.ndarray  # V, voltage across the device
    current: np.ndarray  # A, device current (top to bottom)
    gap: np.ndarray  # m, state after each step
    temperature: np.ndarray  # K

    @property
    def final_gap(self) -> np.ndarray:
        return self.gap[:, -1]


def _window_step(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Exact solution of dx/dt' = -tanh(x) after t' = k, i.e. asinh(sinh(x) exp(-k))."""
    k = np.maximum(k, 0.0)
    big = x > 30.0
    # For large x, sinh(x) ~ exp(x)/2 would overflow after exp(-k) loses it; work in logs.
    x_big = np.where(big, x, 0.0)
    z_log = x_big - k - np.log(2.0) + np.log1p(-np.exp(-2.0 * np.maximum(x_big, 1.0)))
    big_result = np.where(z_log > 30.0, z_log + np.log(2.0),
                          np.arcsinh(np.exp(np.minimum(z_log, 30.0))))
    small_result = np.arcsinh(np.sinh(np.where(big, 0.0, x)) * np.exp(-k))
    return np.where(big, big_result, small_result)


def advance_gap(gap: np.ndarray, v_device: np.ndarray, dt: np.ndarray | float, p: Any) -> np.ndarray:
    """Advance the gap over dt at a fixed device voltage (speeds frozen at the start)."""
    i = eq.current(v_device, gap, p, _OPS)
    temp = eq.temperature(v_device, i, p, _OPS)
    set_speed, reset_speed = eq.unwindowed_rates(v_device, gap, temp, p, _OPS)
    x_set = _window_step((gap - p.g_min) / p.window, set_speed * dt / p.window)
    x_reset = _window_step((p.g_max - gap) / p.window, reset_speed * dt / p.window)
    # Only one speed is non-zero, so only one of the two updates moves the gap.
    return np.where(set_speed > 0, p.g_min + x_set * p.window,
                    np.where(reset_speed > 0, p.g_max - x_reset * p.window, gap))


def simulate(p: Any, time: np.ndarray, v_applied: np.ndarray, gap0: Any, *,
             series: SeriesElement | None = None, hold: Hold = Hold.LINEAR,
             max_step: float = 0.01e-9, max_dv: float = 0.01,
             max_substeps: int = 20000) -> Trajectory:
    """Integrate the gap under a drive voltage waveform.

    ``time`` has shape (n,), ``v_applied`` shape (n,) or (batch, n), ``gap0`` scalar or (batch,).
    The first sample is the initial condition. ``series`` limits the current (compliance,
    resistor, access transistor). Raises RuntimeError if a step needs more than
    ``max_substeps`` sub-steps (a drive far outside the model's range).
    """
    series = series or NoSeries()
    v_applied = np.atleast_2d(np.asarray(v_applied, dtype=float))
    time = np.atleast_2d(np.asarray(time, dtype=float))
    n = time.shape[-1]
    if time.ndim != 2 or n < 1:
        raise ValueError("time must have shape (n,) or (batch, n) with n >= 1")
    if np.any(np.diff(time, axis=-1) < 0):
        raise ValueError("time must be non-decreasing")
    if v_applied.shape[-1] != n:
        raise ValueError(f"v_applied has {v_applied.shape[-1]} samples, time has {n}")
    batch = max(v_applied.shape[0], time.shape[0], np.size(gap0))
    v_applied = np.broadcast_to(v_applied, (batch, n))
    time = np.broadcast_to(time, (batch, n))
    gap = np.broadcast_to(np.asarray(gap0, dtype=float), (batch,)).copy()

    out_gap = np.empty((batch, n))
    out_vdev = np.empty((batch, n))
    out_gap[:, 0] = gap
    out_vdev[:, 0] = series.device_voltage(v_applied[:, 0], gap, p)
    for k in range(1, n):
        span = time[:, k] - time[:, k - 1]
        done = np.zeros(batch)
        safe_span = np.where(span > 0, span, 1.0)
        slope = np.abs(v_applied[:, k] - v_applied[:, k - 1]) / safe_span
        for _ in range(max_substeps):
            remaining = span - done
            active = remaining > span * 1e-12
            if not np.any(active):
                break
            if hold is Hold.STAIRCASE:
                v_now = v_applied[:, k]
            else:
                frac = np.where(span > 0, done / safe_span, 1.0)
                v_now = v_applied[:, k - 1] + (v_applied[:, k] - v_applied[:, k - 1]) * frac
            v_dev = series.device_voltage(v_now, gap, p)
            rate = np.abs(eq.gap_rate(v_dev, gap, eq.temperature(
                v_dev, eq.current(v_dev, gap, p, _OPS), p, _OPS), p, _OPS))
            h = np.minimum(remaining, max_step / np.maximum(rate, 1e-300))
            if hold is Hold.LINEAR:
                # Rates are exponential in V: move V by at most max_dv per sub-step on ramps.
                h = np.minimum(h, max_dv / np.maximum(slope, 1e-300))
            h = np.where(active, h, 0.0)
            gap = np.where(active, advance_gap(gap, v_dev, h, p), gap)
            done = done + h
        else:
            raise RuntimeError(
                f"step {k} (t={time[0, k - 1]:.4g}..{time[0, k]:.4g} s) needed more than "
                f"{max_substeps} sub-steps: the drive is far outside the model's range")
        out_gap[:, k] = gap
        out_vdev[:, k] = series.device_voltage(v_applied[:, k], gap, p)
    # Transposed so that per-device parameter arrays (batch,) broadcast along the last axis.
    i = eq.current(out_vdev.T, out_gap.T, p, _OPS)
    temp = eq.temperature(out_vdev.T, i, p, _OPS)
    return Trajectory(time=time.copy(), v_applied=v_applied.copy(), v_device=out_vdev,
                      current=i.T.copy(), gap=out_gap, temperature=np.asarray(temp).T.copy())
