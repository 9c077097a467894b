"""Per-filter thresholds (V_REF) moved to new responses: by firing rate or by a linear map.

Pooled responses are (n, F) (global pooling) or (n, F, m, m) (k x k pooling: every window of a
filter shares its V_REF). A bit is pooled > V_REF, strictly, as in ``cosim.digital``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.frontend.config import VrefMatch


def _per_filter(pooled: Any, name: str) -> np.ndarray:
    p = np.asarray(pooled, dtype=float)
    if p.ndim not in (2, 4) or p.shape[0] == 0 or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite with shape (n >= 1, F) or (n, F, m, m), got {p.shape}")
    return np.moveaxis(p, 1, 0).reshape(p.shape[1], -1)  # (F, samples)


def firing_rates(pooled: Any, v_ref: Any) -> np.ndarray:
    """Fraction of responses above V_REF, per filter (F,)."""
    per = _per_filter(pooled, "pooled")
    v = np.asarray(v_ref, dtype=float)
    if v.shape != (per.shape[0],):
        raise ValueError(f"v_ref must have shape ({per.shape[0]},), got {v.shape}")
    return (per > v[:, None]).mean(axis=1)


def rate_thresholds(pooled: Any, rates: Any) -> np.ndarray:
    """V_REF per filter such that a fraction ``rates`` of the responses lies above it.

    With n responses per filter, k = round(rate * n) of them fire: the threshold sits midway
    between the k-th and (k+1)-th largest response (beyond the extreme one by half the
    spread of the responses, at least 1e-12 of their magnitude, when k = 0 or n), so small
    perturbations of the responses do not flip bits at the boundary.
    """
    per = _per_filter(pooled, "pooled")
    r = np.asarray(rates, dtype=float)
    if r.shape != (per.shape[0],) or not np.all((r >= 0) & (r <= 1)):
        raise ValueError(f"rates must be fractions in [0, 1] with shape ({per.shape[0]},), got {r}")
    n = per.shape[1]
    desc = -np.sort(-per, axis=1)  # descending
    k = np.rint(r * n).astype(int)
    spread = desc[:, 0] - desc[:, -1]
    pad = np.maximum(0.5 * spread, 1e-12 * np.maximum(np.abs(desc).max(axis=1), 1e-300))
    out = np.empty(per.shape[0])
    for f in range(per.shape[0]):
        if k[f] == 0:
            out[f] = desc[f, 0] + pad[f]
        elif k[f] == n:
            out[f] = desc[f, -1] - pad[f]
        else:
            out[f] = 0.5 * (desc[f, k[f] - 1] + desc[f, k[f]])
    return out


def linear_gains(old_pooled: Any, new_pooled: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-filter least-squares fit new ~ a * old + b over the same samples: (a, b), each (F,)."""
    old, new = _per_filter(old_pooled, "old_pooled"), _per_filter(new_pooled, "new_pooled")
    if old.shape != new.shape:
        raise ValueError(f"old and new responses differ in shape: {old.shape} vs {new.shape}")
    mo, mn = old.mean(axis=1), new.mean(axis=1)
    var = ((old - mo[:, None]) ** 2).mean(axis=1)
    cov = ((old - mo[:, None]) * (new - mn[:, None])).mean(axis=1)
    a = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 1.0)
    return a, mn - a * mo


def match_thresholds(old_pooled: Any, old_v_ref: Any, new_pooled: Any, how: VrefMatch) -> np.ndarray:
    """New V_REF (F,), in the unit of ``new_pooled``, that plays the role ``old_v_ref`` played
    for ``old_pooled`` (both measured on the same calibration images)."""
    if how is VrefMatch.RATE:
        return rate_thresholds(new_pooled, firing_rates(old_pooled, old_v_ref))
    if how is VrefMatch.LINEAR:
        a, b = linear_gains(old_pooled, new_pooled)
        return a * np.asarray(old_v_ref, dtype=float) + b
    raise ValueError(f"how must be a VrefMatch, got {how!r}")
