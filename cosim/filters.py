"""The convolutional front end's weights as data, and their mapping to RRAM devices.

Layout conventions (shared with ``cosim.digital`` and ``circuits.crossbar``):

* A bank holds F filters of size x size weights, ``weights[f, i, j]`` (row i, column j).
* Crossbar rows are the filter pixels, row-major: row r = i * size + j; column f is filter f.
  ``to_crossbar`` turns (..., F, size, size) into (..., size * size, F); a differential array is
  (2, rows, F) = (G+ devices, G- devices), as ``circuits.crossbar`` expects.
* Convolution positions are row-major over the output map (p = y * side + x, side = 28 - 20 + 1
  = 9 for MNIST); ``image_patches`` gives the matching row inputs (n, positions, size * size).

Signed levels and devices (``WeightCoding``; the spec: "signed 4-bit weights as a differential
pair G+ - G- of 1T1R cells per weight, 16 levels, one scale per filter"):

* ``DIFFERENTIAL`` (default): ``bits`` counts the levels of one DEVICE: 2**bits conductance
  levels 0..2**bits - 1 per device (16 for 4 bits), so a weight is a signed level
  L in [-(2**bits - 1), 2**bits - 1] (-15..15).
* ``SIGNED``: ``bits`` counts the bits of the WEIGHT (sign included), symmetric:
  L in [-(2**(bits-1) - 1), 2**(bits-1) - 1] (-7..7 for 4 bits, the -8 code unused since a pair
  is symmetric); the devices then use levels 0..2**(bits-1) - 1 only.
* Either way L maps to the pair as G+ = level max(L, 0), G- = level max(-L, 0): the unused
  device of a pair sits at level 0 (HRS, RESET), and weight 0 is both devices at HRS.
  The pair's conductance is G(|L|) - G(0), affine (not proportional) in |L| because level 1 is
  at G(i_c_min), not at G(0) + one step: see ``differential_conductance``.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from compact_model import programming
from compact_model.params import ModelCard
from compact_model.variability import WriteVerify, apply_c2c, c2c_sigma_ln_g, write_verify
from cosim.digital import max_pool

logger = logging.getLogger(__name__)


class FilterKind(enum.Enum):
    CLASS = "class"  # class filter (CF): one trained class versus all others
    FEATURE = "feature"  # feature filter (FF): a generic feature, also for non-trained classes


class WeightCoding(enum.Enum):
    DIFFERENTIAL = "differential"  # bits per device: L in [-(2**b - 1), 2**b - 1]
    SIGNED = "signed"  # bits per weight, sign included: L in [-(2**(b-1) - 1), 2**(b-1) - 1]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterBank:
    """Filters of the convolutional front end and their thresholds (arrays are read-only)."""

    weights: np.ndarray  # float32 (F, size, size), dimensionless (multiplies pixel values in [0, 1])
    v_ref: np.ndarray  # float64 (F,), threshold per filter, in the unit of the pooled response it is
    #                    compared with (software responses: weight x pixel; hardware: A or V)
    kinds: tuple[FilterKind, ...]  # kind of each filter
    classes: tuple[int | None, ...]  # the class of each class filter, None for feature filters
    provenance: str  # how the filters were obtained (trained, placeholder, file)

    def __post_init__(self) -> None:
        w = np.array(self.weights, dtype=np.float32)
        if w.ndim != 3 or w.shape[1] != w.shape[2] or w.shape[0] < 1:
            raise ValueError(f"weights must have shape (n_filters, size, size), got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite")
        f = w.shape[0]
        v = np.array(self.v_ref, dtype=np.float64)
        if v.shape != (f,) or not np.all(np.isfinite(v)):
            raise ValueError(f"v_ref must be finite with shape ({f},), got {v.shape}")
        kinds, classes = tuple(self.kinds), tuple(self.classes)
        if len(kinds) != f or not all(isinstance(k, FilterKind) for k in kinds):
            raise ValueError(f"kinds must be {f} FilterKind values")
        if len(classes) != f:
            raise ValueError(f"classes must have {f} entries, got {len(classes)}")
        for i, (k, c) in enumerate(zip(kinds, classes)):
            if k is FilterKind.CLASS and not (isinstance(c, (int, np.integer)) and c >= 0):
                raise ValueError(f"classes[{i}]: a class filter needs a class index >= 0, got {c!r}")
            if k is FilterKind.FEATURE and c is not None:
                raise ValueError(f"classes[{i}]: a feature filter has no class, got {c!r}")
        if not isinstance(self.provenance, str) or not self.provenance.strip():
            raise ValueError("provenance must be a non-empty string")
        object.__setattr__(self, "weights", _readonly(w))
        object.__setattr__(self, "v_ref", _readonly(v))
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "classes", tuple(None if c is None else int(c) for c in classes))

    @property
    def n_filters(self) -> int:
        return int(self.weights.shape[0])

    @property
    def size(self) -> int:
        return int(self.weights.shape[1])

    def class_filter(self, cls: int) -> int:
        """Index of the class filter of class ``cls``."""
        for i, (k, c) in enumerate(zip(self.kinds, self.classes)):
            if k is FilterKind.CLASS and c == cls:
                return i
        raise KeyError(f"no class filter for class {cls}")


# --------------------------------------------------------------------------------------------
# Layout and software responses
# --------------------------------------------------------------------------------------------

def to_crossbar(arr: Any) -> np.ndarray:
    """(..., F, size, size) -> (..., size * size, F): crossbar rows = filter pixels, row-major."""
    a = np.asarray(arr)
    if a.ndim < 3:
        raise ValueError(f"expected (..., F, size, size), got {a.shape}")
    flat = a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])
    return np.ascontiguousarray(np.swapaxes(flat, -1, -2))


def image_patches(images: Any, size: int = 20) -> np.ndarray:
    """Row inputs of every convolution position: (n, positions, size * size), stride 1, valid.

    Position p = y * side + x (row-major), pixel r = i * size + j, matching ``to_crossbar``.
    """
    img = np.asarray(images)
    if img.ndim != 3 or img.shape[1] < size or img.shape[2] < size:
        raise ValueError(f"images must have shape (n, h, w) with h, w >= {size}, got {img.shape}")
    win = np.lib.stride_tricks.sliding_window_view(img, (size, size), axis=(1, 2))
    n, sy, sx = win.shape[:3]
    return win.reshape(n, sy * sx, size * size)


def filter_responses(weights: Any, images: Any, *, batch: int = 1000) -> np.ndarray:
    """Ideal (software) output maps (n, F, side, side): the dot product of each filter with each
    window (cross-correlation, stride 1, valid), computed in float32 by torch in batches."""
    w = torch.tensor(np.asarray(weights, dtype=np.float32))  # a copy: inputs may be read-only
    img = np.asarray(images, dtype=np.float32)
    if w.ndim != 3 or img.ndim != 3:
        raise ValueError(f"weights (F, s, s) and images (n, h, w) expected, "
                         f"got {tuple(w.shape)}, {img.shape}")
    out = []
    with torch.no_grad():
        for start in range(0, img.shape[0], batch):
            x = torch.tensor(img[start:start + batch])[:, None]
            out.append(torch.nn.functional.conv2d(x, w[:, None]).numpy())
    side_y, side_x = img.shape[1] - w.shape[1] + 1, img.shape[2] - w.shape[2] + 1
    return np.concatenate(out) if out else np.zeros((0, w.shape[0], side_y, side_x), np.float32)


# --------------------------------------------------------------------------------------------
# Placeholder filters and V_REF calibration
# --------------------------------------------------------------------------------------------

def _unit(w: np.ndarray) -> np.ndarray:
    """Zero mean and unit L2 norm per filter (a flat filter stays zero)."""
    w = w - w.mean(axis=(1, 2), keepdims=True)
    norm = np.sqrt((w ** 2).sum(axis=(1, 2), keepdims=True))
    return np.where(norm > 0, w / np.where(norm > 0, norm, 1.0), 0.0)


def calibrate_v_ref(bank: FilterBank, images: Any = None, *, quantile: float = 0.5,
                    pooled: Any = None) -> FilterBank:
    """A new bank whose V_REF is, per filter, the ``quantile`` of its pooled responses.

    Give ``images`` (ideal software responses, global max pooling) or ``pooled`` (n, F) or
    (n, F, m, m) responses measured elsewhere (e.g. the crossbar's, after quantisation and
    programming). Since a bit is pooled > V_REF, each filter then fires on about
    (1 - quantile) of the calibration images.
    """
    if (images is None) == (pooled is None):
        raise ValueError("give exactly one of images= and pooled=")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    if pooled is None:
        pooled = max_pool(filter_responses(bank.weights, images))
    p = np.asarray(pooled, dtype=float)
    if p.ndim not in (2, 4) or p.shape[1] != bank.n_filters or p.shape[0] == 0:
        raise ValueError(f"pooled must have shape (n >= 1, {bank.n_filters}[, m, m]), got {p.shape}")
    per_filter = np.moveaxis(p, 1, 0).reshape(bank.n_filters, -1)
    return replace(bank, v_ref=np.quantile(per_filter, quantile, axis=1))


def template_filter_bank(images: Any, labels: Any, *, n_filters: int = 64, size: int = 20,
                         seed: int, classes: Sequence[int] | None = None,
                         quantile: float = 0.5) -> FilterBank:
    """A deterministic PLACEHOLDER bank until the trained CNN exists (issue 6).

    Class filter c (one per class in ``classes``, default all labels, in that order) is the mean
    of class c minus the mean of the other listed classes over the central size x size window;
    the remaining filters are feature filters: seeded random +-1 patterns with blob-like
    structure (the sign of a smoothed Gaussian field). Every filter has zero mean and unit L2
    norm. V_REF is calibrated on ``images`` at ``quantile`` (``calibrate_v_ref``).
    """
    img = np.asarray(images, dtype=np.float64)
    lab = np.asarray(labels)
    if img.ndim != 3 or lab.shape != (img.shape[0],):
        raise ValueError(f"images (n, h, w) and labels (n,) expected, got {img.shape}, {lab.shape}")
    if img.shape[1] < size or img.shape[2] < size:
        raise ValueError(f"images of {img.shape[1:]} are smaller than the {size}x{size} filters")
    cls = sorted(set(lab.tolist())) if classes is None else [int(c) for c in classes]
    if len(set(cls)) != len(cls) or not cls:
        raise ValueError(f"classes must be distinct and non-empty, got {cls}")
    if n_filters < len(cls):
        raise ValueError(f"n_filters={n_filters} cannot hold one class filter per class ({len(cls)})")
    oy, ox = (img.shape[1] - size) // 2, (img.shape[2] - size) // 2
    crop = img[:, oy:oy + size, ox:ox + size]
    trained = np.isin(lab, cls)
    templates = []
    for c in cls:
        own, other = lab == c, trained & (lab != c)
        if not own.any() or not other.any():
            raise ValueError(f"class {c} needs images of its own and of another listed class")
        templates.append(crop[own].mean(axis=0) - crop[other].mean(axis=0))
    n_ff = n_filters - len(cls)
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal((n_ff, size, size)), sigma=(0, 2, 2), mode="wrap")
    patterns = np.where(field >= 0, 1.0, -1.0)
    weights = _unit(np.concatenate([np.asarray(templates).reshape(-1, size, size), patterns]))
    kinds = (FilterKind.CLASS,) * len(cls) + (FilterKind.FEATURE,) * n_ff
    provenance = (f"PLACEHOLDER, not trained (issue 6: replace by the trained CNN): {len(cls)} class "
                  f"filters = class-mean templates (mean of class c - mean of the other classes "
                  f"{cls}, central {size}x{size}), {n_ff} feature filters = random +-1 blob "
                  f"patterns (seed={seed}); zero-mean, unit L2 norm; V_REF = quantile {quantile} of "
                  f"global-max-pooled software responses over {img.shape[0]} images")
    bank = FilterBank(weights=weights, v_ref=np.zeros(n_filters), kinds=kinds,
                      classes=tuple(cls) + (None,) * n_ff, provenance=provenance)
    logger.info("placeholder filter bank: %d class + %d feature filters, seed %s", len(cls), n_ff, seed)
    return calibrate_v_ref(bank, img, quantile=quantile)


# --------------------------------------------------------------------------------------------
# Quantisation
# --------------------------------------------------------------------------------------------

def max_level(bits: int, coding: WeightCoding = WeightCoding.DIFFERENTIAL) -> int:
    """Largest |L| of a signed level with ``bits`` under ``coding`` (15 or 7 for 4 bits)."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits!r}")
    if coding is WeightCoding.DIFFERENTIAL:
        return 2 ** int(bits) - 1
    if coding is WeightCoding.SIGNED:
        if bits < 2:
            raise ValueError("a signed weight needs bits >= 2 (one of them the sign)")
        return 2 ** (int(bits) - 1) - 1
    raise ValueError(f"coding must be a WeightCoding, got {coding!r}")


def quantize(weights: Any, bits: int = 4, *,
             coding: WeightCoding = WeightCoding.DIFFERENTIAL) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-filter quantisation: (levels int16 (F, s, s), scale float64 (F,)).

    scale_f = max|w_f| / L_max, L = round(w / scale) (half to even), so w ~ L * scale with
    |w - L * scale| <= scale / 2. An all-zero filter gets scale 1 and levels 0, and so does one
    whose peak is so small (subnormal) that max|w_f| / L_max underflows to 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 3 or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite with shape (F, size, size), got {w.shape}")
    l_max = max_level(bits, coding)
    peak = np.abs(w).max(axis=(1, 2))
    scale = peak / l_max
    scale = np.where(scale > 0, scale, 1.0)  # all-zero (or subnormal) filter: any scale works
    levels = np.clip(np.rint(w / scale[:, None, None]), -l_max, l_max).astype(np.int16)
    return levels, scale


def dequantize(levels: Any, scale: Any) -> np.ndarray:
    """Weights L * scale (F, s, s) from levels and per-filter scales."""
    return np.asarray(levels, dtype=np.float64) * np.asarray(scale, dtype=np.float64)[:, None, None]


def differential_levels(levels: Any) -> np.ndarray:
    """Device levels of each pair (2, ...): [0] G+ = max(L, 0), [1] G- = max(-L, 0)."""
    lev = np.asarray(levels)
    if not np.issubdtype(lev.dtype, np.integer):
        raise ValueError("levels must be integers")
    return np.stack([np.maximum(lev, 0), np.maximum(-lev, 0)])


# --------------------------------------------------------------------------------------------
# Conductance levels and programming
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class LevelTable:
    """How each device level is programmed and what it reads (arrays indexed by level)."""

    i_c: np.ndarray  # A, SET compliance per level; 0 for level 0 (RESET only, no SET)
    gap: np.ndarray  # m, nominal gap after programming (the median: C2C is symmetric in the gap)
    g_median: np.ndarray  # S, median conductance at v_read
    sigma_ln_g: np.ndarray  # 1, C2C log-spread of the level from the compact model
    v_read: float  # V, read voltage of g_median
    v_stop: float  # V, RESET stop voltage (level 0, and the start state of every SET)
    v_set: float  # V, SET pulse amplitude
    set_width: float  # s, SET pulse width
    card: str  # name of the model card

    @property
    def n_levels(self) -> int:
        return int(self.g_median.shape[0])

    @property
    def g_step(self) -> float:
        """S, spacing of the evenly spaced SET levels (level 1 to the top); the HRS-to-top span
        when there is a single SET level. The unit of a write-verify tolerance in levels."""
        g = self.g_median
        return float((g[-1] - g[1]) / (g.size - 2) if g.size > 2 else g[-1] - g[0])


def _set_g(p: Any, gap_hrs: float, i_c: np.ndarray, v_set: float, width: float, v_read: float
           ) -> tuple[np.ndarray, np.ndarray]:
    gap = programming.set_with_compliance(p, gap_hrs, i_c, v_set=v_set, width=width)
    return gap, 1.0 / programming.read_resistance(p, gap, v_read)


def conductance_levels(card: ModelCard, n_levels: int = 16, *,
                       i_c_range: tuple[float, float] = (20e-6, 200e-6), v_read: float | None = None,
                       v_stop: float = 2.0, v_set: float = 2.0, set_width: float = 1e-6,
                       grid: int = 48, rtol: float = 1e-3) -> LevelTable:
    """Program ``n_levels`` levels: level 0 = HRS (RESET ramp to ``v_stop`` V from full SET);
    levels 1..n-1 = a SET pulse (``v_set`` V, ``set_width`` s) from that HRS with compliance I_C
    chosen so the median conductances are evenly spaced from G(i_c_min) to G(i_c_max).

    I_C is found by log-log interpolation of G(I_C) on ``grid`` compliances, then refined
    (batched ``programming.set_with_compliance`` calls) until every level is within ``rtol``.
    ``v_read`` defaults to the card's read voltage.
    """
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 2:
        raise ValueError(f"n_levels must be an integer >= 2, got {n_levels!r}")
    i_lo, i_hi = (float(x) for x in i_c_range)
    if not (math.isfinite(i_lo) and math.isfinite(i_hi) and 0 < i_lo < i_hi):
        raise ValueError(f"i_c_range must be (i_c_min, i_c_max) A with 0 < i_c_min < i_c_max, "
                         f"got {i_c_range}")
    v_read = card.read_voltage if v_read is None else float(v_read)
    p, var = card.device, card.variability
    gap_hrs = float(programming.reset_to_vstop(p, p.g_min, v_stop)[0])
    g_hrs = float(1.0 / programming.read_resistance(p, gap_hrs, v_read))

    ic_grid = np.geomspace(i_lo, i_hi, grid)
    _, g_grid = _set_g(p, gap_hrs, ic_grid, v_set, set_width, v_read)
    if not np.all(np.diff(g_grid) > 0):
        raise ValueError(f"G(I_C) is not increasing over i_c_range={i_c_range} for card {card.name!r}: "
                         "the SET saturates or fails there; narrow the range")
    if g_grid[0] <= g_hrs:
        raise ValueError(f"G(i_c_min={i_lo:g} A) = {g_grid[0]:.4g} S is not above the HRS "
                         f"({g_hrs:.4g} S at v_stop={v_stop} V): raise i_c_min or v_stop")
    targets = (np.linspace(g_grid[0], g_grid[-1], n_levels - 1) if n_levels > 2
               else np.array([g_grid[-1]]))
    log_ic, log_g = np.log(ic_grid), np.log(g_grid)
    slope_grid = np.gradient(log_g, log_ic)  # d ln G / d ln I_C, for the Newton refinement
    i_c = np.exp(np.interp(np.log(targets), log_g, log_ic))
    for _ in range(8):
        gap, g = _set_g(p, gap_hrs, i_c, v_set, set_width, v_read)
        err = np.log(targets / g)
        if np.all(np.abs(err) <= rtol):
            break
        i_c = i_c * np.exp(err / np.interp(np.log(i_c), log_ic, slope_grid))
    else:
        raise RuntimeError(f"conductance levels did not converge within rtol={rtol} "
                           f"(worst {np.abs(err).max():.2e})")
    i_c_all = np.concatenate([[0.0], i_c])
    gaps = np.concatenate([[gap_hrs], gap])
    g_all = np.concatenate([[g_hrs], g])
    sigma = c2c_sigma_ln_g(g_all, var, after_reset=False)
    sigma[0] = c2c_sigma_ln_g(g_hrs, var, after_reset=True)
    logger.info("%d conductance levels for %s: G %.3g..%.3g S, I_C %.3g..%.3g A", n_levels,
                card.name, g_all[0], g_all[-1], i_c[0], i_c[-1])
    return LevelTable(i_c=_readonly(i_c_all), gap=_readonly(gaps), g_median=_readonly(g_all),
                      sigma_ln_g=_readonly(np.asarray(sigma, dtype=float)), v_read=v_read,
                      v_stop=float(v_stop), v_set=float(v_set), set_width=float(set_width),
                      card=card.name)


def differential_conductance(levels: Any, table: LevelTable) -> np.ndarray:
    """Median G+ - G- (S) of each weight: sign(L) * (G(|L|) - G(0)), same shape as ``levels``."""
    lev = np.asarray(levels)
    mag = np.abs(lev)
    if mag.max(initial=0) >= table.n_levels:
        raise ValueError(f"|level| {mag.max()} exceeds the table's {table.n_levels - 1}")
    return np.sign(lev) * (table.g_median[mag] - table.g_median[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammedBank:
    """A filter bank programmed into a differential crossbar (read-only arrays, (2, rows, F))."""

    device_levels: np.ndarray  # int, level of each device: [0] G+ column, [1] G- column
    gaps: np.ndarray  # m, gap of each device after programming (with C2C variability)
    conductances: np.ndarray  # S, conductance read at v_read
    i_c: np.ndarray  # A, compliance used for each device (0: RESET only)
    v_read: float  # V
    writes: np.ndarray  # 1, programming writes of each device (1 unless write-verify re-wrote it)
    verified: np.ndarray  # bool, the device ended within the write-verify tolerance (all True without)

    @property
    def unverified(self) -> int:
        """Devices that write-verify left out of tolerance after its last attempt."""
        return int(np.count_nonzero(~self.verified))


def program_bank(levels: Any, table: LevelTable, card: ModelCard, *, rng: np.random.Generator,
                 c2c: bool = True, verify: WriteVerify | None = None) -> ProgrammedBank:
    """Program signed ``levels`` (F, size, size) into a differential crossbar (2, size * size, F).

    Each device ends at its level's nominal gap (the deterministic result of its RESET or SET,
    which is the same for every device of a level, so it is simulated once per level in
    ``conductance_levels``), then gets the compact model's cycle-to-cycle spread at that state
    (``variability.apply_c2c``, exactly what ``programming`` adds): the spread of each level
    follows from its I_C. Draws: first all level-0 devices (after RESET), then all SET devices,
    each in C order of (2, rows, F); with ``verify``, the re-writes follow all first draws
    (``programmed_spread``). Device-to-device variability is not applied here.
    """
    if card.name != table.card:
        raise ValueError(f"the level table was made for card {table.card!r}, not {card.name!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a seeded numpy Generator (np.random.default_rng(seed))")
    lev = np.asarray(levels)
    if lev.ndim != 3 or lev.shape[1] != lev.shape[2]:
        raise ValueError(f"levels must have shape (F, size, size), got {lev.shape}")
    mags = to_crossbar(differential_levels(lev))  # (2, rows, F)
    if mags.max(initial=0) >= table.n_levels:
        raise ValueError(f"|level| up to {mags.max()} but the table has levels 0..{table.n_levels - 1}")
    gaps = table.gap[mags].astype(float)
    writes, verified = np.ones(mags.shape, dtype=np.int64), np.ones(mags.shape, dtype=bool)
    if c2c:
        gaps, writes, verified = programmed_spread(gaps, mags == 0, card, rng, v_read=table.v_read, verify=verify)
    g = 1.0 / programming.read_resistance(card.device, gaps, table.v_read)
    return ProgrammedBank(device_levels=_readonly(mags), gaps=_readonly(gaps), conductances=_readonly(g),
                          i_c=_readonly(table.i_c[mags]), v_read=table.v_read, writes=_readonly(writes),
                          verified=_readonly(verified))


def programmed_spread(gaps: Any, reset: Any, card: ModelCard, rng: np.random.Generator, *, v_read: float,
                      verify: WriteVerify | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycle-to-cycle spread on nominal ``gaps``: first the ``reset`` (level-0) devices, then the
    SET ones, each group in C order (``variability.apply_c2c``); then, with ``verify``, its
    rounds of re-writes (``variability.write_verify``), so the first writes draw the same
    numbers with and without it. Returns (gaps, writes, within tolerance), each the shape of
    ``gaps``."""
    nominal = np.asarray(gaps, dtype=float)
    out = nominal.copy()
    rs = np.asarray(reset, dtype=bool)
    p = card.device
    for mask, after_reset in ((rs, True), (~rs, False)):
        out[mask] = apply_c2c(nominal[mask], p, card.variability, rng, v_read=v_read, after_reset=after_reset)
    if verify is None:
        return out, np.ones(out.shape, dtype=np.int64), np.ones(out.shape, dtype=bool)
    return write_verify(nominal, out, rs, p, card.variability, rng, v_read=v_read, verify=verify)
