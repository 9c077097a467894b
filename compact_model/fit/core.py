"""Shared machinery of the lmfit fits: which parameters vary, their transforms, and the result.

Scale parameters that span decades (current prefactor, velocities, defect conductance) are fitted
as log10 values, which keeps lmfit's steps well conditioned; standard errors are mapped back
(sigma_x = x ln10 sigma_log10x) and reported in SI units.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import lmfit
import numpy as np

from compact_model.params import DeviceParams, ModelCard, Provenance

# Fields fitted in log10: positive, multiplicative, spanning decades.
LOG_FIELDS = frozenset({"device.i0", "device.v_set", "device.v_reset", "variability.g_defect",
                        "transistor.i_spec", "device.r_th"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FitSpec:
    """One varied parameter: ``"section.field"`` with SI bounds."""

    name: str  # e.g. "device.i0"
    lower: float  # SI
    upper: float  # SI

    def __post_init__(self) -> None:
        section, _, fld = self.name.partition(".")
        if section not in ("device", "variability", "transistor") or not fld:
            raise ValueError(f"fit parameter {self.name!r} must look like 'device.i0'")
        if not self.lower < self.upper:
            raise ValueError(f"fit parameter {self.name!r}: lower bound must be below upper")
        if self.name in LOG_FIELDS and self.lower <= 0:
            raise ValueError(f"fit parameter {self.name!r} is fitted in log10; lower bound must be > 0")

    @property
    def key(self) -> str:
        """A name lmfit accepts."""
        return self.name.replace(".", "__")


def _get(card: ModelCard, name: str) -> float:
    section, _, fld = name.partition(".")
    return float(getattr(getattr(card, section), fld))


def with_values(card: ModelCard, values: Mapping[str, float]) -> ModelCard:
    """A new card with ``{"device.i0": ..., ...}`` substituted (validated)."""
    per_section: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        section, _, fld = name.partition(".")
        per_section.setdefault(section, {})[fld] = value
    changes = {s: dataclasses.replace(getattr(card, s), **kv) for s, kv in per_section.items()}
    return dataclasses.replace(card, **changes)


def make_parameters(card: ModelCard, specs: Sequence[FitSpec]) -> lmfit.Parameters:
    """lmfit Parameters starting at the card's values (clipped into the bounds)."""
    params = lmfit.Parameters()
    for s in specs:
        x = min(max(_get(card, s.name), s.lower), s.upper)
        if s.name in LOG_FIELDS:
            params.add(s.key, value=math.log10(x), min=math.log10(s.lower), max=math.log10(s.upper))
        else:
            params.add(s.key, value=x, min=s.lower, max=s.upper)
    return params


def values_from(params: lmfit.Parameters, specs: Sequence[FitSpec]) -> dict[str, float]:
    """SI values of the varied parameters."""
    return {s.name: (10.0 ** params[s.key].value if s.name in LOG_FIELDS else params[s.key].value)
            for s in specs}


@dataclass(frozen=True, slots=True, kw_only=True)
class FitResult:
    """What a fit returns: a new card plus the statistics behind it. Inputs are never mutated."""

    card: ModelCard  # the fitted card (provenance filled in)
    values: Mapping[str, float]  # fitted SI values of the varied parameters
    stderr: Mapping[str, float]  # 1-sigma SI standard errors (nan when lmfit could not estimate)
    correlations: Mapping[str, Mapping[str, float]]  # correlation coefficients between varied parameters
    chisqr: float  # sum of squared residuals
    redchi: float  # reduced chi-square
    n_points: int  # number of residuals
    success: bool
    report: str  # lmfit's fit report
    metrics: Mapping[str, float] = field(default_factory=dict)  # e.g. median relative error of |I|
    data_source: str = ""  # which files or data the fit used

    def summary(self) -> str:
        lines = [f"fit of {self.card.name!r} to {self.data_source or 'data'}: "
                 f"{self.n_points} points, reduced chi-square {self.redchi:.4g}, success={self.success}"]
        for name, value in self.values.items():
            err = self.stderr.get(name, float("nan"))
            lines.append(f"  {name:<28s} = {value:.6g} +/- {err:.3g}")
        for name, value in self.metrics.items():
            lines.append(f"  {name:<28s}   {value:.6g}")
        return "\n".join(lines)


def best_start(card: ModelCard, starts: Sequence[Mapping[str, float]],
               residual: Callable[[ModelCard], np.ndarray]) -> ModelCard:
    """The card, updated with whichever candidate start gives the smallest sum of squares."""
    best, best_cost = card, float(np.sum(residual(card) ** 2))
    for values in starts:
        try:
            trial = with_values(card, values)
        except ValueError:
            continue
        r = residual(trial)
        cost = float(np.sum(np.where(np.isfinite(r), r, 1e3) ** 2))
        if cost < best_cost:
            best, best_cost = trial, cost
    return best


def run_fit(card: ModelCard, specs: Sequence[FitSpec],
            residual: Callable[[ModelCard], np.ndarray], *, data_source: str,
            description: str, method: str = "least_squares",
            metrics: Callable[[ModelCard], Mapping[str, float]] | None = None,
            max_nfev: int | None = None, starts: Sequence[Mapping[str, float]] = ()) -> FitResult:
    """Minimise ``residual(card)`` over ``specs`` and package the result.

    ``starts`` are candidate starting values (``{"device.v_set": ..}``); the fit starts from the
    one with the smallest residual. Switching makes the cost surface rugged in the speed
    prefactors, so a coarse grid there finds the right basin where one start does not.

    A parameter combination that the model rejects (``ValueError`` from validation) gets a
    large residual instead of crashing the optimiser.
    """
    if not specs:
        raise ValueError("nothing to fit: no parameters vary")
    n_res = residual(card).size
    if starts:
        card = best_start(card, starts, residual)
    params = make_parameters(card, specs)

    def objective(pars: lmfit.Parameters) -> np.ndarray:
        try:
            trial = with_values(card, values_from(pars, specs))
        except ValueError:
            return np.full(n_res, 1e3)
        r = residual(trial)
        return np.where(np.isfinite(r), r, 1e3)

    kws = {"max_nfev": max_nfev} if max_nfev else {}
    out = lmfit.minimize(objective, params, method=method, **kws)
    values = values_from(out.params, specs)
    stderr, corr = {}, {}
    for s in specs:
        par = out.params[s.key]
        se = par.stderr if par.stderr is not None else float("nan")
        stderr[s.name] = values[s.name] * math.log(10) * se if s.name in LOG_FIELDS else se
        corr[s.name] = {o.name: float(par.correl[o.key]) for o in specs
                        if par.correl and o.key in par.correl}
    fitted = with_values(card, values)
    extra = dict(metrics(fitted)) if metrics else {}
    provenance = Provenance(description=description, fitted_to=data_source,
                            reference=card.provenance.reference,
                            fit_report={"redchi": float(out.redchi), "n_points": int(out.ndata),
                                        **{k: float(v) for k, v in extra.items()}})
    fitted = dataclasses.replace(fitted, provenance=provenance,
                                 uncertainties={**card.uncertainties,
                                               **{k: v for k, v in stderr.items() if math.isfinite(v)}})
    return FitResult(card=fitted, values=values, stderr=stderr, correlations=corr,
                     chisqr=float(out.chisqr), redchi=float(out.redchi), n_points=int(out.ndata),
                     success=bool(out.success), report=lmfit.fit_report(out), metrics=extra,
                     data_source=data_source)


__all__ = ["FitSpec", "FitResult", "run_fit", "with_values", "make_parameters", "values_from",
           "DeviceParams", "LOG_FIELDS"]
