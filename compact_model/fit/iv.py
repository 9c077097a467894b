"""Fit of measured I-V sweeps (SET and RESET branches) with log-current residuals.

Each sweep is simulated as the instrument drove it: a voltage staircase on the measured time
axis with the source compliance clamping the current. The sweep's starting state is not a free
parameter: it is the gap that reproduces the first low-bias currents of that sweep under the
trial parameters, so the fit cannot absorb model error into per-sweep offsets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from compact_model import equations as eq
from compact_model.access import SourceCompliance
from compact_model.fit.core import FitResult, FitSpec, run_fit, with_values
from compact_model.params import ModelCard
from compact_model.simulate import Hold, simulate

log = logging.getLogger(__name__)
_OPS = eq.NUMPY_OPS

DEFAULT_IV_SPECS = (
    FitSpec(name="device.i0", lower=1e-6, upper=1.0),
    FitSpec(name="device.g_max", lower=0.5e-9, upper=4.5e-9),
    FitSpec(name="device.v_nl_lrs", lower=0.05, upper=5.0),
    FitSpec(name="device.v_nl_hrs", lower=0.05, upper=5.0),
    FitSpec(name="device.v_set", lower=1e-18, upper=1e6),
    FitSpec(name="device.v_reset", lower=1e-18, upper=1e6),
    FitSpec(name="device.gamma0", lower=1.0, upper=40.0),
    FitSpec(name="device.beta_set", lower=0.0, upper=10.0),
    FitSpec(name="device.beta_reset", lower=0.0, upper=10.0),
)


def speed_grid(lower: float = 1e-16, upper: float = 1e2, per_decade: float = 0.5) -> list[dict[str, float]]:
    """Candidate (v_set, v_reset) starts on a log grid, for ``run_fit(starts=...)``."""
    values = np.logspace(np.log10(lower), np.log10(upper),
                         int(round(np.log10(upper / lower) * per_decade)) + 1)
    return [{"device.v_set": float(a), "device.v_reset": float(b)} for a in values for b in values]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedSweeps:
    """Sweeps padded to one length for batched simulation."""

    time: np.ndarray  # s, (batch, n); padded samples repeat the last time
    voltage: np.ndarray  # V, (batch, n); padded samples hold the last voltage
    current: np.ndarray  # A, measured, (batch, n)
    used: np.ndarray  # bool, (batch, n): points that enter the residual
    compliance: np.ndarray  # A, (batch,)
    labels: tuple[str, ...]


def prepare_sweeps(sweeps: Sequence[Any], *, compliance: float | None = None,
                   min_abs_voltage: float = 0.02, current_floor: float = 1e-10,
                   max_points: int | None = None) -> PreparedSweeps:
    """Pad and mask sweeps (objects with ``time``, ``voltage``, ``current``, ``compliance``, ``label``).

    Points below ``min_abs_voltage`` or ``current_floor`` are left out of the residual: there
    the instrument's offset and noise, not the device, set the reading. ``max_points`` keeps
    every k-th point of long sweeps.
    """
    if not sweeps:
        raise ValueError("no sweeps to fit")
    rows = []
    for s in sweeps:
        t, v, i = (np.asarray(a, dtype=float) for a in (s.time, s.voltage, s.current))
        if not (t.shape == v.shape == i.shape) or t.size < 3:
            raise ValueError(f"sweep {getattr(s, 'label', '?')}: time, voltage and current must be "
                             "equal-length arrays of at least 3 points")
        if max_points and t.size > max_points:
            keep = np.unique(np.r_[np.linspace(0, t.size - 1, max_points).round().astype(int)])
            t, v, i = t[keep], v[keep], i[keep]
        ic = compliance if compliance is not None else getattr(s, "compliance", None)
        if ic is None:
            ic = float(np.max(np.abs(i))) * 1.0001  # never clamps below the largest reading
        rows.append((t - t[0], v, i, float(ic), str(getattr(s, "label", f"sweep{len(rows)}"))))
    n = max(r[0].size for r in rows)
    b = len(rows)
    time, volt, cur = np.empty((b, n)), np.empty((b, n)), np.empty((b, n))
    used = np.zeros((b, n), dtype=bool)
    for k, (t, v, i, _, _) in enumerate(rows):
        m = t.size
        time[k, :m], volt[k, :m], cur[k, :m] = t, v, i
        time[k, m:], volt[k, m:], cur[k, m:] = t[-1], v[-1], i[-1]
        used[k, :m] = (np.abs(v) >= min_abs_voltage) & (np.abs(i) >= current_floor)
    return PreparedSweeps(time=time, voltage=volt, current=cur, used=used,
                          compliance=np.array([r[3] for r in rows]), labels=tuple(r[4] for r in rows))


def initial_gaps(p: Any, data: PreparedSweeps, n_points: int = 5, max_abs_voltage: float = 0.3) -> np.ndarray:
    """Gap of each sweep's starting state, from its first low-bias points (median of inversions)."""
    gaps = np.empty(data.time.shape[0])
    lo, hi = p.g_min, p.g_max
    for k in range(gaps.size):
        sel = np.flatnonzero(data.used[k] & (np.abs(data.voltage[k]) <= max_abs_voltage))[:n_points]
        if sel.size == 0:
            sel = np.flatnonzero(data.used[k])[:1]
        v, i = data.voltage[k, sel], np.abs(data.current[k, sel])
        a, b = np.full(sel.size, lo), np.full(sel.size, hi)
        for _ in range(60):  # bisection: |I| decreases with the gap
            mid = 0.5 * (a + b)
            too_conductive = np.abs(eq.current(v, mid, p, _OPS)) > i
            a, b = np.where(too_conductive, mid, a), np.where(too_conductive, b, mid)
        gaps[k] = np.median(0.5 * (a + b))
    return gaps


def simulate_sweeps(p: Any, data: PreparedSweeps) -> np.ndarray:
    """Model current (A) for every sweep sample, (batch, n)."""
    gap0 = initial_gaps(p, data)
    traj = simulate(p, data.time, data.voltage, gap0, series=SourceCompliance(i_c=data.compliance),
                    hold=Hold.STAIRCASE)
    return traj.current


def log_residual(model: np.ndarray, data: PreparedSweeps, floor: float = 1e-12) -> np.ndarray:
    """log10 |I_model| - log10 |I_measured| on the used points."""
    return (np.log10(np.abs(model[data.used]) + floor)
            - np.log10(np.abs(data.current[data.used]) + floor))


def iv_metrics(model: np.ndarray, data: PreparedSweeps) -> dict[str, float]:
    """Median and 90th-percentile relative error of |I|, and RMS log10 error."""
    meas = np.abs(data.current[data.used])
    rel = np.abs(np.abs(model[data.used]) - meas) / meas
    return {"median_rel_error_I": float(np.median(rel)),
            "p90_rel_error_I": float(np.percentile(rel, 90)),
            "rms_log10_error_I": float(np.sqrt(np.mean(log_residual(model, data) ** 2)))}


def initial_conduction(card: ModelCard, data: PreparedSweeps, v_low: float = 0.15,
                       margin: float = 0.1) -> dict[str, float]:
    """Start values for i0 and g_max that place the measured states inside [g_min, g_max].

    The low-bias conductance is i0 exp(-g/g0) / V_nl; the most conductive reading goes near
    g_min and the least conductive near g_max (``margin`` in ln units beyond each).
    """
    p = card.device
    sel = data.used & (np.abs(data.voltage) <= v_low)
    if not np.any(sel):
        return {}
    g_read = np.abs(data.current[sel] / data.voltage[sel])
    g_hi, g_lo = float(np.percentile(g_read, 99)), float(np.percentile(g_read, 1))
    span = p.g0 * (np.log(g_hi / g_lo) + 2 * margin)
    i0 = g_hi * p.v_nl_lrs * np.exp(p.g_min / p.g0 + margin)
    values = {"device.i0": float(i0), "device.g_max": float(min(p.g_min + max(span, 4 * p.window),
                                                                  0.95 * p.thickness))}
    return values


def fit_iv(card: ModelCard, sweeps: Sequence[Any], *, specs: Sequence[FitSpec] = DEFAULT_IV_SPECS,
           compliance: float | None = None, max_points: int | None = 300,
           data_source: str = "", max_nfev: int | None = 2000,
           starts: Sequence[dict[str, float]] | None = None) -> FitResult:
    """Fit the card's device parameters to I-V sweeps; returns a new ``FitResult``."""
    data = prepare_sweeps(sweeps, compliance=compliance, max_points=max_points)
    varied = {s.name for s in specs}
    start = {k: v for k, v in initial_conduction(card, data).items() if k in varied}
    if start:
        card = with_values(card, start)
    log.info("fitting %d sweeps, %d points, %d parameters", len(data.labels), int(data.used.sum()),
             len(specs))

    def residual(trial: ModelCard) -> np.ndarray:
        return log_residual(simulate_sweeps(trial.device, data), data)

    def metrics(fitted: ModelCard) -> dict[str, float]:
        return iv_metrics(simulate_sweeps(fitted.device, data), data)

    source = data_source or ", ".join(data.labels[:3]) + (" ..." if len(data.labels) > 3 else "")
    if starts is None:
        starts = speed_grid() if {"device.v_set", "device.v_reset"} <= varied else []
    return run_fit(card, specs, residual, data_source=source, metrics=metrics, max_nfev=max_nfev,
                   starts=starts,
                   description=f"{card.name} fitted to {len(data.labels)} I-V sweep(s)")
