"""Fits of programmed-resistance distributions: R_LRS vs compliance or gate voltage, R_HRS vs
RESET depth, and the cycle-to-cycle spread of cycling tables.

Each x value (compliance current, gate voltage, V_STOP, source-line voltage) holds a
distribution of resistances (``distribution_points``). Stage 1 fits the median R per x with
the simulated programming operation (log residuals, each divided by the median's standard
error); stage 2 fits the spread (std of ln R per x) with the C2C law of
``variability.c2c_sigma_ln_g`` mapped through the gap (``sigma_ln_r_model``), holding the
stage-1 device, so it needs no simulation. All distinct x values are simulated in one
batched call; a 1T1R fit takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
from scipy.special import expit, ndtr

from compact_model import equations as eq
from compact_model import programming as pg
from compact_model.access import AccessTransistor, DrivenLine, SourceCompliance, ekv_drain_current
from compact_model.fit.core import LOG_FIELDS, FitResult, FitSpec, run_fit, with_values
from compact_model.params import ModelCard, Provenance
from compact_model.simulate import simulate
from compact_model.variability import c2c_sigma_ln_g

log = logging.getLogger(__name__)
_OPS = eq.NUMPY_OPS

# Rates are exponential in V, so the integrator caps the voltage change per sub-step; 0.05 V
# (instead of simulate's 0.01 V default) changes the programmed R by < 0.1 % (measured) and
# makes pulse simulations ~5x faster.
FIT_MAX_DV = 0.05

# MINPACK Levenberg-Marquardt: lmfit maps bounded parameters to O(1) internal values, so it is
# indifferent to SI magnitudes; 'least_squares' judges convergence on the raw values and stops
# at once when a parameter is ~1e-10 (g0 in m) next to O(1) ones.
FIT_METHOD = "leastsq"

# Defaults vary only what the data determine. R_LRS vs I_C fixes R * I_C = V_hold (the voltage
# where the SET stalls) and its drift with the gap: i0 and g0 only relabel the gap (correlations
# > 0.97 with v_set, condition number ~200; from synthetic data they were not recovered).
# Through a transistor, R ~ V_hold / I_D(V_G): the device's V_hold is degenerate with i_spec,
# so the gate fit varies the transistor and takes the device from the card.
ALL_LRS_DEVICE_SPECS = (
    FitSpec(name="device.i0", lower=1e-6, upper=1.0),
    FitSpec(name="device.g0", lower=0.05e-9, upper=1.0e-9),
    FitSpec(name="device.v_nl_lrs", lower=0.05, upper=5.0),
    FitSpec(name="device.v_set", lower=1e-8, upper=1e6),
)
DEFAULT_LRS_SPECS = ALL_LRS_DEVICE_SPECS[2:]
DEFAULT_LRS_GATE_SPECS = (
    FitSpec(name="transistor.i_spec", lower=1e-8, upper=1e-2),
    FitSpec(name="transistor.v_th", lower=0.0, upper=3.0),
)
DEFAULT_HRS_SPECS = (
    FitSpec(name="device.v_reset", lower=1e-8, upper=1e6),
    FitSpec(name="device.beta_reset", lower=0.0, upper=3.0),
)
DEFAULT_LRS_SPREAD_SPECS = (
    FitSpec(name="variability.g_defect", lower=1e-9, upper=1e-3),
    FitSpec(name="variability.c2c_floor", lower=0.0, upper=1.0),
)
DEFAULT_HRS_SPREAD_SPECS = (FitSpec(name="variability.c2c_hrs_scale", lower=1e-3, upper=20.0),)
DEFAULT_CYCLING_SPECS = DEFAULT_LRS_SPREAD_SPECS + DEFAULT_HRS_SPREAD_SPECS

Start = Literal["lrs"] | float


# ---------------------------------------------------------------- data: group by x ----------

@dataclass(frozen=True, slots=True, kw_only=True, eq=False)  # eq=False: array fields
class DistributionPoints:
    """Per distinct x value: count, median R and spread of ln R (arrays of equal length)."""

    x: np.ndarray  # distinct x values, ascending (unit of the x quantity)
    count: np.ndarray  # number of finite resistances per x
    median: np.ndarray  # ohm, median R per x
    sigma_ln: np.ndarray  # 1, sample std (ddof=1) of ln R per x; NaN where count < min_spread_count
    x_name: str = "x"

    def median_se_ln(self) -> np.ndarray:
        """Standard error of ln(median) per x: sqrt(pi/2) sigma / sqrt(n) (normal ln R).

        Groups without a spread borrow the median spread of the others.
        """
        known = self.sigma_ln[np.isfinite(self.sigma_ln)]
        fill = float(np.median(known)) if known.size else 1.0
        sigma = np.where(np.isfinite(self.sigma_ln), self.sigma_ln, fill)
        return np.sqrt(np.pi / 2) * np.maximum(sigma, 1e-6) / np.sqrt(self.count)


def _vector(name: str, values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    return a


def _check_resistance(name: str, r: np.ndarray) -> None:
    # NaN is a missing reading (tolerated); anything else must be a positive, finite ohm value.
    if np.any(np.isinf(r)) or np.any(r[~np.isnan(r)] <= 0):
        raise ValueError(f"{name} must hold resistances > 0 ohm (NaN = missing), got "
                         f"min {np.nanmin(r):.4g}, max {np.nanmax(r):.4g}")


def distribution_points(x: Any, resistance: Any, *, x_name: str = "x",
                        resistance_name: str = "resistance", min_groups: int = 3,
                        min_spread_count: int = 3) -> DistributionPoints:
    """Group ``resistance`` (ohm) by the exact values of ``x``: median and std of ln R per group.

    NaN resistances are missing readings and are ignored; NaN in ``x`` is an error. Groups
    without any reading are dropped; a spread needs ``min_spread_count`` readings.
    """
    xs, r = _vector(x_name, x), _vector(resistance_name, resistance)
    if xs.size != r.size:
        raise ValueError(f"{x_name} has {xs.size} values but {resistance_name} has {r.size}")
    if not np.all(np.isfinite(xs)):
        bad = int(np.flatnonzero(~np.isfinite(xs))[0])
        raise ValueError(f"{x_name} contains NaN or inf (first at index {bad})")
    _check_resistance(resistance_name, r)
    keep = ~np.isnan(r)
    if not keep.any():
        raise ValueError(f"{resistance_name} holds no finite value")
    values, inverse = np.unique(xs[keep], return_inverse=True)
    if values.size < min_groups:
        raise ValueError(f"{x_name} has {values.size} distinct value(s) with data; "
                         f"need >= {min_groups}")
    ln_r = np.log(r[keep])
    order = np.argsort(inverse, kind="stable")
    groups = np.split(ln_r[order], np.cumsum(np.bincount(inverse))[:-1])
    count = np.array([g.size for g in groups])
    median = np.exp([np.median(g) for g in groups])
    sigma = np.array([np.std(g, ddof=1) if g.size >= min_spread_count else np.nan for g in groups])
    return DistributionPoints(x=values, count=count, median=median, sigma_ln=sigma, x_name=x_name)


# ---------------------------------------------------------------- model pieces ---------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _NewtonAccessTransistor:
    """``access.AccessTransistor`` with its KCL solved by bracketed Newton (analytic slopes).

    Same equations and result (to 1e-10 V); ~6 iterations instead of ~45 for the Illinois
    solver, which makes 1T1R fits several times faster.
    """

    inner: AccessTransistor

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        el, t = self.inner, self.inner.transistor
        v_drive = np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap))
        v_other = np.broadcast_to(np.asarray(el.v_other_line, dtype=float), np.shape(gap))
        v_bl, v_sl = (v_drive, v_other) if el.driven is DrivenLine.BIT_LINE else (v_other, v_drive)
        two_ut = 2 * eq.BOLTZMANN_OVER_Q * t.temperature
        v_p = (np.asarray(el.v_gate, dtype=float) - t.v_th) / t.n
        scale = p.i0 * np.exp(-gap / p.g0)
        lo, hi = np.minimum(v_bl, v_sl), np.maximum(v_bl, v_sl)
        x = 0.5 * (lo + hi)
        for _ in range(100):
            vd = v_bl - x
            v_nl = eq.nonlinearity_voltage(gap, p, _OPS)
            f = eq.current(vd, gap, p, _OPS) - ekv_drain_current(el.v_gate, x, v_sl, t)
            y = (v_p - x) / two_ut
            slope = (scale * np.cosh(vd / v_nl) / v_nl
                     + t.i_spec * 2 * np.logaddexp(0.0, y) * expit(y) / two_ut)  # -df/dx > 0
            lo, hi = np.where(f > 0, x, lo), np.where(f > 0, hi, x)  # f decreases in x
            dx = f / slope
            done = np.abs(dx) <= 1e-10 * (1 + np.abs(x))
            step = x + dx
            x = np.where(done, x, np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi)))
            if np.all(done | (hi - lo <= 1e-12)):
                break
        return v_bl - x


def _pulse_gap(p: Any, gap: np.ndarray, amplitude: np.ndarray, width: float,
               series: Any) -> np.ndarray:
    """Gap after one trapezoidal pulse per row (amplitude in V, signed at the device)."""
    time, unit = pg.pulse_waveform(1.0, width)
    volts = np.asarray(amplitude, dtype=float)[:, None] * unit[None, :]
    return simulate(p, time, volts, gap, series=series, max_dv=FIT_MAX_DV).final_gap


def _staircase_gap(p: Any, gap0: float, amplitudes: np.ndarray, width: float,
                   series: Any) -> np.ndarray:
    """Gap after each pulse of a train of trapezoids applied in order (one trajectory)."""
    t1, unit = pg.pulse_waveform(1.0, width)
    period = t1[-1] + pg.DEFAULT_EDGE  # a short rest at 0 V between pulses
    time = (np.arange(amplitudes.size)[:, None] * period + t1[None, :]).ravel()
    volts = (amplitudes[:, None] * unit[None, :]).ravel()
    gap = simulate(p, time, volts, np.array([gap0]), series=series, max_dv=FIT_MAX_DV).gap[0]
    return gap[3::4]


def _ramp_reset_gap(p: Any, gap: np.ndarray, v_stop: np.ndarray, ramp_time: float,
                    samples: int = 200) -> np.ndarray:
    """``programming.reset_to_vstop`` for an array of V_STOP values in one batch."""
    up = np.linspace(0.0, 1.0, samples)
    time = np.concatenate([up * ramp_time, [ramp_time * (1 + 1e-3)]])
    amplitude = -np.abs(v_stop) * int(p.set_polarity)
    volts = np.concatenate([up[None, :] * amplitude[:, None], np.zeros((v_stop.size, 1))], axis=1)
    return simulate(p, time, volts, gap).final_gap


def gap_for_resistance(p: Any, resistance: float, v_read: float) -> float:
    """The gap (m) whose read resistance is ``resistance`` (clipped to [g_min, g_max])."""
    lo, hi = float(p.g_min), float(p.g_max)
    for _ in range(60):  # bisection: R grows with the gap
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if pg.read_resistance(p, mid, v_read) < resistance else (lo, mid)
    return 0.5 * (lo + hi)


def _start_gap(card: ModelCard, start: Start, i_c_before: float, v_set: float,
               set_width: float) -> float:
    p = card.device
    if isinstance(start, str):
        if start != "lrs":
            raise ValueError(f"start must be 'lrs' or a resistance in ohm, got {start!r}")
        amplitude = np.array([abs(v_set) * int(p.set_polarity)])
        return float(_pulse_gap(p, np.array([p.g_max]), amplitude, set_width,
                                SourceCompliance(i_c=i_c_before))[0])
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"start resistance must be > 0 ohm, got {start}")
    return gap_for_resistance(p, float(start), card.read_voltage)


def sigma_ln_r_model(card: ModelCard, gap: Any, *, after_reset: bool = False) -> np.ndarray:
    """Std of ln R after ``apply_c2c`` perturbs ``gap``: sigma_lnG mapped through dlnR/dg,
    with the clip of the gap at [g_min, g_max] (a censored normal) taken into account."""
    p, v = card.device, card.read_voltage
    gap = np.asarray(gap, dtype=float)
    g_read = 1.0 / pg.read_resistance(p, gap, v)
    s = p.g0 * c2c_sigma_ln_g(g_read, card.variability, after_reset)
    s = np.maximum(s, 1e-30)
    a, b = (p.g_min - gap) / s, (p.g_max - gap) / s
    pa, pb = ndtr(a), ndtr(b)
    da, db = (np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) for z in (a, b))
    # Moments of Y = clip(g + s Z) relative to g, in units of s.
    m1 = a * pa + b * (1 - pb) + (da - db)
    m2 = a * a * pa + b * b * (1 - pb) + (pb - pa) + (a * da - b * db)
    std_gap = s * np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    # d ln R / dg = 1/g0 + coth(u) u / V_nl dV_nl/dg, u = V_read / V_nl(g).
    v_nl = eq.nonlinearity_voltage(gap, p, _OPS)
    u = v / v_nl
    dlnr = 1.0 / p.g0 + u / (np.tanh(u) * v_nl) * (p.v_nl_hrs - p.v_nl_lrs) / (p.g_max - p.g_min)
    return np.abs(dlnr) * std_gap


# ---------------------------------------------------------------- the two-stage fit ----------

def _off_bounds(card: ModelCard, specs: Sequence[FitSpec], margin: float = 0.01) -> ModelCard:
    """The card with starting values moved ``margin`` of the range inside their bounds: lmfit's
    bound transform has zero slope at a bound, so a start there (e.g. a previous fit's
    c2c_floor = 0) never moves."""
    changes = {}
    for sp in specs:
        section, _, field = sp.name.partition(".")
        value = float(getattr(getattr(card, section), field))
        log_scale = sp.name in LOG_FIELDS
        f = (lambda v: math.log10(max(v, 1e-300))) if log_scale else (lambda v: v)
        lo, hi, x = f(sp.lower), f(sp.upper), f(value)
        inside = min(max(x, lo + margin * (hi - lo)), hi - margin * (hi - lo))
        if inside != x:
            changes[sp.name] = 10.0 ** inside if log_scale else inside
    return with_values(card, changes) if changes else card


def _two_stage(card: ModelCard, pts: DistributionPoints, gaps_of: Callable[[ModelCard], np.ndarray],
               *, specs: Sequence[FitSpec], spread_specs: Sequence[FitSpec], after_reset: bool,
               model_error: float, what: str, data_source: str, max_nfev: int | None,
               starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """Stage 1: ln(median R) per x, stage 2: ln(sigma_lnR) per x, each residual divided by its
    statistical error with ``model_error`` (ln units) added in quadrature. ``starts``: other
    starting values of the stage-1 parameters; the fit starts from the best of them and the
    card (one evaluation each), for objectives with jumps where a local search gets lost."""
    bad = [s.name for s in spread_specs if not s.name.startswith("variability.")]
    if bad:
        raise ValueError(f"spread_specs may only vary variability.* parameters, got {bad}")
    if not (math.isfinite(model_error) and model_error >= 0):
        raise ValueError(f"model_error must be >= 0, got {model_error}")
    source = data_source or f"{pts.count.sum()} resistances at {pts.x.size} {pts.x_name} values"
    log.info("fitting %s: %d groups, %d parameters", what, pts.x.size, len(specs))
    weight = 1.0 / np.hypot(pts.median_se_ln(), model_error)

    def r_model(trial: ModelCard) -> np.ndarray:
        return pg.read_resistance(trial.device, gaps_of(trial), trial.read_voltage)

    def residual(trial: ModelCard) -> np.ndarray:
        return (np.log(r_model(trial)) - np.log(pts.median)) * weight

    def metrics(fitted: ModelCard) -> dict[str, float]:
        r = r_model(fitted)
        rel = np.abs(r / pts.median - 1.0)
        return {"median_rel_error_R": float(np.median(rel)), "max_rel_error_R": float(np.max(rel)),
                "rms_log10_error_R": float(np.sqrt(np.mean(np.log10(r / pts.median) ** 2))),
                "n_groups": float(pts.x.size)}

    desc = f"{card.name}: {what}"
    names = {sp.name for sp in specs}
    candidates = [card]
    for values in starts:
        if not set(values) <= names:
            raise ValueError(f"starts may only set the fitted parameters {sorted(names)}, "
                             f"got {sorted(values)}")
        candidates.append(with_values(card, values))
    if len(candidates) > 1:
        cost = [float(np.sum(residual(c) ** 2)) for c in candidates]
        card = candidates[int(np.nanargmin(cost))]
        log.info("best of %d starting points: cost %.4g", len(candidates), min(cost))
    stage1 = run_fit(_off_bounds(card, specs), specs, residual, data_source=source, description=desc, metrics=metrics,
                     method=FIT_METHOD, max_nfev=max_nfev)
    if not spread_specs:
        return stage1
    ok = np.isfinite(pts.sigma_ln) & (pts.sigma_ln > 0)
    if ok.sum() <= len(spread_specs):
        raise ValueError(f"{pts.x_name}: only {int(ok.sum())} group(s) have a spread (>= 3 "
                         f"finite values); need > {len(spread_specs)} to fit "
                         f"{[s.name for s in spread_specs]}")
    gaps = gaps_of(stage1.card)[ok]  # the device is fixed in stage 2
    s_meas = pts.sigma_ln[ok]
    # The sample std of n normal values has a log standard error of 1/sqrt(2(n-1)).
    weight2 = 1.0 / np.hypot(1.0 / np.sqrt(2.0 * (pts.count[ok] - 1)), model_error)

    def residual2(trial: ModelCard) -> np.ndarray:
        model = sigma_ln_r_model(trial, gaps, after_reset=after_reset)
        return (np.log(model) - np.log(s_meas)) * weight2

    def metrics2(fitted: ModelCard) -> dict[str, float]:
        err = sigma_ln_r_model(fitted, gaps, after_reset=after_reset) - s_meas
        return {"rms_error_sigma_lnR": float(np.sqrt(np.mean(err ** 2))),
                "median_measured_sigma_lnR": float(np.median(s_meas))}

    stage2 = run_fit(_off_bounds(stage1.card, spread_specs), spread_specs, residual2, data_source=source, description=desc,
                     metrics=metrics2, method=FIT_METHOD, max_nfev=max_nfev)
    return merge_results(stage1, stage2, description=desc)


def merge_results(first: FitResult, second: FitResult, *, description: str) -> FitResult:
    """One result from a fit and a second fit started from its card (disjoint parameters).

    ``chisqr`` is the sum of both (mixed residual units), ``redchi`` its ratio to the total
    degrees of freedom; each stage's own reduced chi-square is in the metrics.
    """
    metrics = {**first.metrics, **second.metrics, "stage1_redchi": first.redchi,
               "stage2_redchi": second.redchi}
    n = first.n_points + second.n_points
    chisqr = first.chisqr + second.chisqr
    dof = max(n - len(first.values) - len(second.values), 1)
    prov = Provenance(description=description, fitted_to=first.data_source,
                      reference=second.card.provenance.reference,
                      fit_report={"n_points": n, **{k: float(v) for k, v in metrics.items()}})
    return FitResult(card=dataclasses.replace(second.card, provenance=prov),
                     values={**first.values, **second.values},
                     stderr={**first.stderr, **second.stderr},
                     correlations={**first.correlations, **second.correlations},
                     chisqr=chisqr, redchi=chisqr / dof, n_points=n,
                     success=first.success and second.success,
                     report=first.report + "\n\n" + second.report, metrics=metrics,
                     data_source=first.data_source)


# ---------------------------------------------------------------- public fits ----------------

def fit_lrs_vs_compliance(card: ModelCard, i_c: Any, resistance: Any, *, v_set: float = 2.0,
                          width: float = 1e-6, specs: Sequence[FitSpec] = DEFAULT_LRS_SPECS,
                          spread_specs: Sequence[FitSpec] = DEFAULT_LRS_SPREAD_SPECS,
                          model_error: float = 0.0, data_source: str = "",
                          max_nfev: int | None = 400,
                          starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """R_LRS distributions vs source compliance ``i_c`` (A): SET pulse of ``v_set`` (V) and
    ``width`` (s) from g_max (``programming.set_with_compliance``), read at card.read_voltage."""
    pts = distribution_points(i_c, resistance, x_name="i_c")
    if np.any(pts.x <= 0):
        raise ValueError(f"i_c must be > 0 A, got min {pts.x.min():.4g}")

    def gaps_of(trial: ModelCard) -> np.ndarray:
        p, k = trial.device, pts.x.size
        return _pulse_gap(p, np.full(k, p.g_max), np.full(k, abs(v_set) * int(p.set_polarity)),
                          width, SourceCompliance(i_c=pts.x))

    return _two_stage(card, pts, gaps_of, specs=specs, spread_specs=spread_specs,
                      after_reset=False, model_error=model_error,
                      what="R_LRS vs compliance current", data_source=data_source,
                      max_nfev=max_nfev, starts=starts)


def fit_lrs_vs_gate(card: ModelCard, v_gate: Any, resistance: Any, *, v_bl: float, width: float,
                    specs: Sequence[FitSpec] = DEFAULT_LRS_GATE_SPECS,
                    spread_specs: Sequence[FitSpec] = DEFAULT_LRS_SPREAD_SPECS,
                    model_error: float = 0.0, data_source: str = "",
                    max_nfev: int | None = 400,
                    starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """R_LRS distributions vs 1T1R gate voltage ``v_gate`` (V): bit line pulsed to ``v_bl`` (V)
    for ``width`` (s) from g_max (``programming.set_through_transistor``)."""
    pts = distribution_points(v_gate, resistance, x_name="v_gate")

    def gaps_of(trial: ModelCard) -> np.ndarray:
        p, k = trial.device, pts.x.size
        series = _NewtonAccessTransistor(
            inner=AccessTransistor(transistor=trial.transistor, v_gate=pts.x))
        return _pulse_gap(p, np.full(k, p.g_max), np.full(k, abs(v_bl) * int(p.set_polarity)),
                          width, series)

    return _two_stage(card, pts, gaps_of, specs=specs, spread_specs=spread_specs,
                      after_reset=False, model_error=model_error,
                      what="R_LRS vs gate voltage (1T1R)", data_source=data_source,
                      max_nfev=max_nfev, starts=starts)


def fit_hrs_vs_vstop(card: ModelCard, v_stop: Any, resistance: Any, *, start: Start = "lrs",
                     i_c_before: float = 100e-6, v_set: float = 2.0, set_width: float = 1e-6,
                     ramp_time: float = 1e-3, specs: Sequence[FitSpec] = DEFAULT_HRS_SPECS,
                     spread_specs: Sequence[FitSpec] = DEFAULT_HRS_SPREAD_SPECS,
                     model_error: float = 0.0, data_source: str = "",
                     max_nfev: int | None = 400,
                     starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """R_HRS distributions vs |V_STOP| (V) of a quasi-static RESET ramp over ``ramp_time`` (s)
    (``programming.reset_to_vstop``). ``start="lrs"``: from the gap left by a SET of ``v_set``
    (V), ``set_width`` (s) at compliance ``i_c_before`` (A) from g_max; a number: from the gap
    that reads that resistance (ohm) under the trial parameters."""
    pts = distribution_points(v_stop, resistance, x_name="v_stop")

    def gaps_of(trial: ModelCard) -> np.ndarray:
        g_start = _start_gap(trial, start, i_c_before, v_set, set_width)
        return _ramp_reset_gap(trial.device, np.full(pts.x.size, g_start), pts.x, ramp_time)

    return _two_stage(card, pts, gaps_of, specs=specs, spread_specs=spread_specs,
                      after_reset=True, model_error=model_error,
                      what="R_HRS vs V_STOP", data_source=data_source, max_nfev=max_nfev,
                      starts=starts)


def fit_hrs_vs_reset_line(card: ModelCard, v_sl: Any, resistance: Any, *, v_gate: float,
                          width: float, start: Start = "lrs", i_c_before: float = 100e-6,
                          v_set: float = 2.0, set_width: float = 1e-6,
                          staircase: Sequence[float] | None = None,
                          specs: Sequence[FitSpec] = DEFAULT_HRS_SPECS,
                          spread_specs: Sequence[FitSpec] = DEFAULT_HRS_SPREAD_SPECS,
                          model_error: float = 0.0, data_source: str = "",
                          max_nfev: int | None = 400,
                          starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """R_HRS distributions vs 1T1R source-line voltage ``v_sl`` (V), bit line at 0, gate at
    ``v_gate`` (V), pulses of ``width`` (s) (``programming.reset_through_transistor``).

    Without ``staircase`` every point is one pulse from ``start`` (see ``fit_hrs_vs_vstop``).
    With ``staircase`` (V, in the order applied, containing every ``v_sl`` value) the pulses
    form one incremental sweep from ``start`` and the data at ``v_sl`` is the state after
    that step, as in incremental-RESET measurements without SET between steps.
    """
    pts = distribution_points(v_sl, resistance, x_name="v_sl")
    steps = None if staircase is None else _vector("staircase", staircase)
    if steps is not None:
        missing = np.setdiff1d(pts.x, steps)
        if missing.size:
            raise ValueError(f"staircase lacks the v_sl value(s) {missing[:5].tolist()}")
        where = np.array([np.flatnonzero(steps == x)[-1] for x in pts.x])  # last visit of x

    def gaps_of(trial: ModelCard) -> np.ndarray:
        p = trial.device
        g_start = _start_gap(trial, start, i_c_before, v_set, set_width)
        series = _NewtonAccessTransistor(inner=AccessTransistor(
            transistor=trial.transistor, v_gate=v_gate, driven=DrivenLine.SOURCE_LINE))
        sign = int(p.set_polarity)  # a raised source line RESETs a positive-SET device
        if steps is None:
            return _pulse_gap(p, np.full(pts.x.size, g_start), np.abs(pts.x) * sign, width, series)
        return _staircase_gap(p, g_start, np.abs(steps) * sign, width, series)[where]

    return _two_stage(card, pts, gaps_of, specs=specs, spread_specs=spread_specs,
                      after_reset=True, model_error=model_error,
                      what="R_HRS vs source-line voltage (1T1R)", data_source=data_source,
                      max_nfev=max_nfev, starts=starts)


def _cells(name: str, r: Any, min_cycles: int) -> tuple[np.ndarray, ...]:
    """Per cell with >= min_cycles values: std of ln R over cycles, count, median conductance
    (S), median ln R. NaN = missing."""
    a = np.asarray(r, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n_cells, n_cycles), got {a.shape}")
    _check_resistance(name, a)
    ln = np.log(a)
    n = np.sum(~np.isnan(ln), axis=1)
    use = n >= min_cycles
    if use.sum() < 3:
        raise ValueError(f"{name}: {int(use.sum())} cell(s) have >= {min_cycles} values; need >= 3")
    ln, n = ln[use], n[use]
    med = np.nanmedian(ln, axis=1)
    return np.nanstd(ln, axis=1, ddof=1), n, np.exp(-med), med


def fit_cycling_spread(card: ModelCard, r_lrs: Any, r_hrs: Any, *,
                       specs: Sequence[FitSpec] = DEFAULT_CYCLING_SPECS, min_cycles: int = 3,
                       model_error: float = 0.0, data_source: str = "",
                       max_nfev: int | None = 400) -> FitResult:
    """C2C spread from (n_cells, n_cycles) resistances (ohm, NaN = missing).

    Each cell's std of ln R over its cycles is fitted by c2c_sigma_ln_g at the cell's median
    read conductance (closed form: sigma_lnR = sigma_lnG, no simulation): LRS cells fix
    g_defect and c2c_floor, HRS cells c2c_hrs_scale. Residuals are ln sigma, weighted by
    1/sqrt(1/(2(n-1)) + model_error^2). The device-to-device spread (std over cells of each
    cell's median ln R) is reported in the metrics.
    """
    s_l, n_l, g_l, med_l = _cells("r_lrs", r_lrs, min_cycles)
    s_h, n_h, g_h, med_h = _cells("r_hrs", r_hrs, min_cycles)
    ok_l, ok_h = s_l > 0, s_h > 0  # a constant cell carries no spread information
    s_meas = np.concatenate([s_l[ok_l], s_h[ok_h]])
    n_all = np.concatenate([n_l[ok_l], n_h[ok_h]])
    weight = 1.0 / np.hypot(1.0 / np.sqrt(2.0 * (n_all - 1)), model_error)

    def model(trial: ModelCard) -> np.ndarray:
        var = trial.variability
        return np.concatenate([c2c_sigma_ln_g(g_l[ok_l], var),
                               c2c_sigma_ln_g(g_h[ok_h], var, after_reset=True)])

    def residual(trial: ModelCard) -> np.ndarray:
        return (np.log(model(trial)) - np.log(s_meas)) * weight

    def metrics(fitted: ModelCard) -> dict[str, float]:
        err = model(fitted) - s_meas
        k = int(ok_l.sum())
        return {"rms_error_sigma_lnR_lrs": float(np.sqrt(np.mean(err[:k] ** 2))),
                "rms_error_sigma_lnR_hrs": float(np.sqrt(np.mean(err[k:] ** 2))),
                "median_c2c_sigma_lnR_lrs": float(np.median(s_l)),
                "median_c2c_sigma_lnR_hrs": float(np.median(s_h)),
                "d2d_sigma_lnR_lrs": float(np.std(med_l, ddof=1)),
                "d2d_sigma_lnR_hrs": float(np.std(med_h, ddof=1)),
                "n_cells_lrs": float(s_l.size), "n_cells_hrs": float(s_h.size)}

    source = data_source or f"cycling table of {s_l.size} cells"
    log.info("fitting cycle-to-cycle spread of %d LRS / %d HRS cells", s_l.size, s_h.size)
    return run_fit(_off_bounds(card, specs), specs, residual, data_source=source, metrics=metrics,
                   method=FIT_METHOD, max_nfev=max_nfev,
                   description=f"{card.name}: C2C spread from cycling")


__all__ = ["DistributionPoints", "distribution_points", "fit_lrs_vs_compliance", "fit_lrs_vs_gate",
           "fit_hrs_vs_vstop", "fit_hrs_vs_reset_line", "fit_cycling_spread", "merge_results",
           "sigma_ln_r_model", "gap_for_resistance"]
