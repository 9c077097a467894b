"""IR-drop compensation at programming time: pre-distorted conductances for a wired array.

The wires of a large array attenuate each cell's contribution to its column current by an
amount that depends on where the cell sits (far from the row driver, far from the column's
virtual ground) and on every other cell's conductance (the current they draw through the same
wires). The array's linear transfer ``T`` (rows -> physical column currents, A per V, wires
included) is exact and input-independent: the column currents of any row-voltage vector ``v``
are ``v @ T`` (plus the cells' small non-linear terms). So the compensation matches ``T``, not
the voltage drops under one chosen input pattern, to the target:

* target: the differential transfer ``T+ - T-`` of every pair equals ``s_f (g+ - g-)``, where
  ``g+-`` are the level table's median conductances (what an ideal, wire-free array reads) and
  ``s_f <= 1`` is a per-filter scale (V_REF and the gain are calibrated afterwards, so a
  per-filter scale changes nothing downstream);
* only SET devices move (a level-0 device stays at the HRS, RESET only); a SET device whose
  partner is at the HRS is aimed at ``s_f |g+ - g-| + T(partner)``, so the partner's (wired)
  leakage is compensated too;
* each iteration: ``T`` from the fast engine's linear solve (``cosim.fast.crossbar``: one
  sparse LU of the nodal matrix), then every SET device ``G <- G * wanted / T`` (a fixed-point
  step: the attenuation depends only weakly on the device's own conductance), devices that
  would need more than ``g_hi`` (the top level) or less than ``g_lo`` held there;
* ``s_f``: either the largest scale (<= 1) for which no device needs more than ``g_hi``, or,
  given the second moment of the row inputs (calibration patches), the scale between that one
  and 1 of least expected output error, wires and (optionally) C2C spread included. The first
  rule squeezes the many level-1 devices of a trained bank below ``g_lo`` and measured worse
  than no compensation; the second is what ``cosim.frontend.hardware`` uses by default;
* then each device is programmed at the SET compliance I_C whose median conductance is its
  compensated one (``compliance_for_conductance``: the compact model's G(I_C), inverted), and
  gets the cycle-to-cycle spread of that state (``compensated_states``), as ``program_bank``
  does for the levels.

Evaluated on a zero-wire array, ``T`` is the conductance matrix itself, so nothing changes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from circuits.crossbar import CellKind, CrossbarSpec
from compact_model import programming
from compact_model.params import ModelCard, VariabilityParams
from compact_model.variability import WriteVerify, c2c_sigma_ln_g
from cosim.filters import LevelTable, ProgrammedBank, programmed_spread

logger = logging.getLogger(__name__)

_INVERSION_GRID = 256  # 1, compliances tabulated for the G(I_C) inversion (log-log interpolation)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Compensation:
    """Result of ``compensate``: what to program, and how close the array gets to the target."""

    conductances: np.ndarray  # S, (2, rows, F) median conductance each device is programmed to
    scale: np.ndarray  # 1, (F,) per-filter scale s_f of the target transfer (<= 1)
    error: np.ndarray  # 1, (iterations + 1,) ``transfer_error`` before each step and at the end
    # 1, (iterations + 1,) ``weighted_transfer_error`` at the same points (None: no input_moment)
    input_error: np.ndarray | None
    low_clipped: int  # SET devices held at g_lo (they would need less)
    seconds: float  # s, wall time of the iterations


def effective_transfer(spec: CrossbarSpec, conductances: Any) -> np.ndarray:
    """Linear transfer (A/V), (rows, physical_cols), of a linear array with the cells at
    ``conductances`` (S; (2, rows, F) when differential) and ``spec``'s wires: column currents
    = ``v @ T``. Computed by the fast engine's exact linear solve (sparse LU + adjoint)."""
    from cosim.fast.crossbar import FastCrossbar  # the fast engine: built on demand

    g = np.asarray(conductances, dtype=float)
    resistor = spec.replace(cell_kind=CellKind.RESISTOR)
    fast = FastCrossbar(resistor, g, v_range=(0.0, 1.0), dtype=torch.float64)
    return fast.currents(np.eye(spec.rows)).numpy()


def _pairs(transfer: np.ndarray) -> np.ndarray:
    """Interleaved physical columns (rows, 2F) -> (2, rows, F): [0] colp, [1] coln."""
    return np.stack([transfer[:, 0::2], transfer[:, 1::2]])


def transfer_error(transfer: Any, target: Any) -> tuple[float, np.ndarray]:
    """Worst error of a differential transfer against a target, up to a per-filter scale.

    ``transfer`` and ``target`` are (rows, F) (``T+ - T-`` and ``g+ - g-``). Each filter's scale
    is the least-squares one; the error is max over rows |T - s t| / (s max|t|), max over
    filters. Returns (that error, the scales (F,))."""
    t_eff, tgt = np.asarray(transfer, dtype=float), np.asarray(target, dtype=float)
    if t_eff.shape != tgt.shape or t_eff.ndim != 2:
        raise ValueError(f"transfer and target must both be (rows, F), got {t_eff.shape}, {tgt.shape}")
    norm = np.sum(tgt * tgt, axis=0)
    live = norm > 0
    s = np.where(live, np.sum(t_eff * tgt, axis=0) / np.where(live, norm, 1.0), 1.0)
    peak = np.abs(tgt).max(axis=0)
    err = np.abs(t_eff - s * tgt).max(axis=0) / np.where(live, np.abs(s) * peak, 1.0)
    return float(err[live].max()) if live.any() else 0.0, s


def weighted_transfer_error(transfer: Any, target: Any, moment: Any) -> float:
    """Mean over filters of the expected squared output error relative to the target's output
    power, E[(v.(T - s t))^2] / E[(v.s t)^2], with ``moment`` = E[v v^T] (rows, rows) and s the
    least-squares scale under that weighting; ``transfer`` and ``target`` as for
    ``transfer_error``. Filters whose target is invisible to the inputs are left out."""
    t_eff, tgt, m = (np.asarray(a, dtype=float) for a in (transfer, target, moment))
    if t_eff.shape != tgt.shape or t_eff.ndim != 2 or m.shape != (t_eff.shape[0],) * 2:
        raise ValueError(f"transfer, target (rows, F) and moment (rows, rows) expected, got "
                         f"{t_eff.shape}, {tgt.shape}, {m.shape}")
    mt = m @ tgt
    power = np.sum(tgt * mt, axis=0)  # t M t per filter
    live = power > 0
    s = np.sum(t_eff * mt, axis=0) / np.where(live, power, 1.0)
    miss = t_eff - s * tgt
    err = np.sum(miss * (m @ miss), axis=0) / np.where(live, s * s * power, 1.0)
    return float(np.mean(err[live])) if live.any() else 0.0


def compensate(spec: CrossbarSpec, target: Any, movable: Any, *, iterations: int, g_lo: float,
               g_hi: float, input_moment: Any = None, scale_candidates: int = 32,
               variability: VariabilityParams | None = None) -> Compensation:
    """Compensated conductances of a differential array (see the module docstring).

    ``target`` (S, (2, rows, F)): the median conductances the levels ask for (the starting
    point too); ``movable`` (bool, same shape): the SET devices, the only ones changed;
    ``g_lo`` < ``g_hi`` (S): the conductances a SET can reach. ``iterations`` >= 0 fixed-point
    steps (0 returns the target unchanged, with its error).

    Per-filter scale: without ``input_moment``, the largest s <= 1 for which no device needs
    more than ``g_hi``. Most devices of a trained bank sit at level 1 (= ``g_lo`` when the
    I_C floor is the levels' i_c_min), so a small s leaves many of them unable to go low enough.
    With ``input_moment`` (rows, rows), E[v v^T] of the row inputs (e.g. of calibration
    patches), s is chosen among ``scale_candidates`` values from that largest one up to 1 to
    minimise the expected squared output error relative to the target's output power,
    E[(v.(T - s t))^2] / E[(v.s t)^2], trading devices held at ``g_hi`` against devices held
    at ``g_lo`` where the inputs actually drive the array. With ``variability`` as well, the
    expected output error includes the cycle-to-cycle spread each device will get at its
    conductance (``compact_model.variability.c2c_sigma_ln_g``, log-normal around the median;
    SET devices as after a SET, the others as after a RESET): a small scale puts the devices
    at low conductances, where the spread is wide.
    """
    if not spec.differential:
        raise ValueError("compensate needs a differential crossbar (G+ and G- columns)")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    if not (math.isfinite(g_lo) and math.isfinite(g_hi) and 0 < g_lo < g_hi):
        raise ValueError(f"need 0 < g_lo < g_hi (S), got g_lo={g_lo!r}, g_hi={g_hi!r}")
    tgt = np.array(target, dtype=float)
    move = np.asarray(movable, dtype=bool)
    shape = (2, spec.rows, spec.cols)
    if tgt.shape != shape or move.shape != shape:
        raise ValueError(f"target and movable must have shape {shape}, got {tgt.shape}, {move.shape}")
    if not np.all(np.isfinite(tgt)) or tgt.min(initial=1.0) <= 0:
        raise ValueError("target conductances must be finite and > 0")
    if np.any(move[0] & move[1]):
        raise ValueError("at most one device of a pair can be SET (the other stays at the HRS)")
    if move.any() and (tgt[move].max() > g_hi * (1 + 1e-9) or tgt[move].min() < g_lo * (1 - 1e-9)):
        raise ValueError(f"target SET conductances must lie in [g_lo, g_hi] = [{g_lo:.4g}, {g_hi:.4g}] S")
    moment = None
    if input_moment is not None:
        moment = np.asarray(input_moment, dtype=float)
        if moment.shape != (spec.rows, spec.rows) or not np.all(np.isfinite(moment)):
            raise ValueError(f"input_moment must be a finite ({spec.rows}, {spec.rows}) matrix, "
                             f"got {moment.shape}")
    if isinstance(scale_candidates, bool) or not isinstance(scale_candidates, int) or scale_candidates < 1:
        raise ValueError(f"scale_candidates must be an integer >= 1, got {scale_candidates!r}")
    t0 = time.perf_counter()
    delta = tgt[0] - tgt[1]  # (rows, F), the differential target
    sign = np.array([1.0, -1.0])[:, None, None]  # the sign of each column's contribution
    g = tgt.copy()
    errors, input_errors = [], []
    scale = np.ones(spec.cols)
    low = 0
    for _ in range(iterations + 1):
        t_pair = _pairs(effective_transfer(spec, g))  # (2, rows, F)
        err, _ = transfer_error(t_pair[0] - t_pair[1], delta)
        errors.append(err)
        if moment is not None:
            input_errors.append(weighted_transfer_error(t_pair[0] - t_pair[1], delta, moment))
        if len(errors) > iterations:
            break
        other = t_pair[::-1]  # each device's partner's transfer
        ratio = g / np.maximum(t_pair, 1e-300)  # 1 / attenuation of each device
        # Wanted transfer: sign * s * delta + T(partner), so G_new = ratio * (sign s delta + other).
        # Largest s with G_new <= g_hi over the filter's SET devices, capped at 1.
        amp = ratio * sign * delta  # > 0 on SET devices
        room = g_hi - ratio * other
        with np.errstate(divide="ignore", invalid="ignore"):
            s_dev = np.where(move & (amp > 0), room / amp, np.inf)
        scale = np.clip(s_dev.min(axis=(0, 1)), 0.0, 1.0)  # (F,)
        if moment is not None:
            scale = _weighted_scales(scale, ratio, other, t_pair, g, delta, move, moment, g_lo, g_hi,
                                     scale_candidates, variability)
        wanted = ratio * (sign * scale * delta + other)
        g = np.where(move, np.clip(wanted, g_lo, g_hi), g)
        low = int(np.sum(move & (wanted < g_lo)))
    out = Compensation(conductances=_ro(g), scale=_ro(scale), error=_ro(np.asarray(errors)),
                       input_error=_ro(np.asarray(input_errors)) if moment is not None else None,
                       low_clipped=low, seconds=time.perf_counter() - t0)
    logger.info("IR compensation, %d iterations: max transfer error %.3g -> %.3g%s, scales "
                "%.3g..%.3g, %d devices at g_lo, %.1f s", iterations, errors[0], errors[-1],
                f", input-weighted {input_errors[0]:.3g} -> {input_errors[-1]:.3g}" if input_errors else "",
                scale.min(), scale.max(), low, out.seconds)
    return out


def _c2c_variance(g: np.ndarray, set_device: np.ndarray, var: VariabilityParams) -> np.ndarray:
    """Variance (S^2) of a log-normal conductance of median ``g`` with the model's C2C spread."""
    sigma = np.where(set_device, c2c_sigma_ln_g(g, var, after_reset=False),
                     c2c_sigma_ln_g(g, var, after_reset=True))
    return g * g * np.exp(sigma ** 2) * np.expm1(sigma ** 2)


def _weighted_scales(s_top: np.ndarray, ratio: np.ndarray, other: np.ndarray, t_pair: np.ndarray,
                     g: np.ndarray, delta: np.ndarray, move: np.ndarray, moment: np.ndarray, g_lo: float,
                     g_hi: float, n: int, var: VariabilityParams | None) -> np.ndarray:
    """Per filter, the candidate scale in [s_top, 1] of least input-weighted output error
    (systematic, plus the C2C spread if ``var``), each device's attenuation (1 / ratio) taken
    as fixed for the step."""
    sign = np.array([1.0, -1.0])[:, None]
    power = np.diag(moment)  # E[v_r^2]
    out = s_top.copy()
    for f in range(delta.shape[1]):
        if s_top[f] <= 0 or s_top[f] >= 1:
            continue
        cand = np.geomspace(s_top[f], 1.0, n)
        r, o, t, m, d = ratio[:, :, f], other[:, :, f], t_pair[:, :, f], move[:, :, f], delta[:, f]
        wanted = r * (sign * cand[:, None, None] * d + o)  # (n, 2, rows)
        g_new = np.where(m, np.clip(wanted, g_lo, g_hi), g[:, :, f])
        t_new = np.where(m, g_new / r, t)
        miss = (t_new[:, 0] - t_new[:, 1]) - cand[:, None] * d  # (n, rows)
        err = np.einsum("kr,rq,kq->k", miss, moment, miss)
        if var is not None:
            err = err + np.einsum("kcr,r->k", _c2c_variance(g_new, m, var) / (r * r), power)
        out[f] = cand[int(np.argmin(err / (cand ** 2 * max(d @ moment @ d, 1e-300))))]
    return out


def compliance_for_conductance(card: ModelCard, table: LevelTable, conductance: Any, *,
                               i_c_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """SET compliance (A) and nominal gap (m) that give each median ``conductance`` (S).

    The inverse of the G(I_C) relation ``cosim.filters.conductance_levels`` programs its levels
    with: the same SET pulse (``table.v_set``, ``table.set_width``) from the same HRS
    (``table.gap[0]``), read at ``table.v_read``. G(I_C) is tabulated on ``i_c_range`` and
    inverted by log-log interpolation; the gap is then simulated at the interpolated I_C.
    Conductances outside [G(i_c_min), G(i_c_max)] are refused.
    """
    if card.name != table.card:
        raise ValueError(f"the level table was made for card {table.card!r}, not {card.name!r}")
    lo, hi = (float(x) for x in i_c_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"i_c_range must be (i_c_min, i_c_max) A with 0 < min < max, got {i_c_range!r}")
    g = np.asarray(conductance, dtype=float)
    p = card.device
    gap_hrs = float(table.gap[0])
    ic_grid = np.geomspace(lo, hi, _INVERSION_GRID)
    g_grid = 1.0 / programming.read_resistance(
        p, programming.set_with_compliance(p, gap_hrs, ic_grid, v_set=table.v_set, width=table.set_width),
        table.v_read)
    if not np.all(np.diff(g_grid) > 0):
        raise ValueError(f"G(I_C) is not increasing over i_c_range={i_c_range!r}: narrow the range")
    # Within the level table's own tolerance (1e-3) of the ends counts as the end.
    if g.size and (not np.all(np.isfinite(g)) or g.min() < g_grid[0] * (1 - 2e-3)
                   or g.max() > g_grid[-1] * (1 + 2e-3)):
        raise ValueError(f"conductances must lie in [G(i_c_min), G(i_c_max)] = "
                         f"[{g_grid[0]:.4g}, {g_grid[-1]:.4g}] S")
    log_ic = np.interp(np.log(np.clip(g, g_grid[0], g_grid[-1])), np.log(g_grid), np.log(ic_grid))
    i_c = np.clip(np.exp(log_ic), lo, hi)
    flat = i_c.ravel()
    gap = programming.set_with_compliance(p, np.full(flat.shape, gap_hrs), flat, v_set=table.v_set,
                                          width=table.set_width) if flat.size else np.zeros(0)
    return i_c, np.asarray(gap, dtype=float).reshape(g.shape)


def conductance_range(card: ModelCard, table: LevelTable,
                      i_c_range: tuple[float, float]) -> tuple[float, float]:
    """Median conductances (S) of a SET at the two ends of ``i_c_range`` (same pulse as ``table``)."""
    p = card.device
    ic = np.asarray(i_c_range, dtype=float)
    gap = programming.set_with_compliance(p, np.full(2, float(table.gap[0])), ic, v_set=table.v_set,
                                          width=table.set_width)
    g = 1.0 / programming.read_resistance(p, gap, table.v_read)
    return float(g[0]), float(g[1])


def compensated_states(levels: Any, conductances: Any, table: LevelTable, card: ModelCard, *,
                       i_c_range: tuple[float, float], rng: np.random.Generator, channels: int = 1,
                       c2c: bool = True, verify: WriteVerify | None = None) -> ProgrammedBank:
    """Program a differential array (2, rows, F) at compensated median ``conductances``.

    ``levels``: device levels (2, rows, F) (0: RESET to the table's HRS, kept; > 0: SET at the
    compliance of the device's compensated conductance, ``compliance_for_conductance``).
    Cycle-to-cycle spread as ``cosim.filters.program_bank`` draws it: per channel (rows are
    pixel * channels + channel), first the level-0 devices, then the SET devices, each in C
    order, so an uncompensated and a compensated array see the same random numbers. With
    ``verify``, each device is re-written until it reads within tolerance of its compensated
    target (``cosim.filters.programmed_spread``).
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be an integer >= 1, got {channels!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a seeded numpy Generator (np.random.default_rng(seed))")
    lev = np.asarray(levels)
    g_c = np.asarray(conductances, dtype=float)
    if lev.ndim != 3 or lev.shape[0] != 2 or g_c.shape != lev.shape or lev.shape[1] % channels:
        raise ValueError(f"levels and conductances must be (2, rows, F) with rows a multiple of "
                         f"{channels}, got {lev.shape}, {g_c.shape}")
    reset = lev == 0
    gaps = np.full(lev.shape, float(table.gap[0]))
    i_c = np.zeros(lev.shape)
    i_c[~reset], gaps[~reset] = compliance_for_conductance(card, table, g_c[~reset], i_c_range=i_c_range)
    writes, verified = np.ones(lev.shape, dtype=np.int64), np.ones(lev.shape, dtype=bool)
    if c2c:
        split = (2, lev.shape[1] // channels, channels, lev.shape[2])
        gaps_c, reset_c = gaps.reshape(split), reset.reshape(split)
        writes_c, verified_c = writes.reshape(split), verified.reshape(split)
        for c in range(channels):
            gaps_c[:, :, c], writes_c[:, :, c], verified_c[:, :, c] = programmed_spread(
                gaps_c[:, :, c], reset_c[:, :, c], card, rng, v_read=table.v_read, verify=verify)
        gaps = gaps_c.reshape(lev.shape)
    cond = 1.0 / programming.read_resistance(card.device, gaps, table.v_read)
    return ProgrammedBank(device_levels=_frozen(lev), gaps=_ro(gaps), conductances=_ro(cond), i_c=_ro(i_c),
                          v_read=table.v_read, writes=_frozen(writes), verified=_frozen(verified))


def _ro(a: Any) -> np.ndarray:
    return _frozen(np.asarray(a, dtype=float))


def _frozen(a: Any) -> np.ndarray:
    """A read-only copy that keeps the dtype."""
    arr = np.array(a)
    arr.setflags(write=False)
    return arr


__all__ = ["Compensation", "compensate", "compensated_states", "compliance_for_conductance",
           "conductance_range", "effective_transfer", "transfer_error", "weighted_transfer_error"]
