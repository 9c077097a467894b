"""Quantised weights held in multi-level RRAM pairs: programming, write-verify, reads, endurance.

Levels. Each device has ``n_levels`` conductance levels set by the SET compliance I_C
(``cosim.filters.conductance_levels``: level 0 = HRS after a RESET ramp, level l >= 1 = one SET
pulse at I_C(l) from that HRS). ``proportional_levels`` picks the lowest compliance so that the
pair's conductance G(L) - G(0) is proportional to L (level 1 one step above G(0), like every
other step), so a differential pair realises the quantiser's weights L * unit without the
affine offset ``filters.differential_conductance`` warns about.

Variability (all from the card's compact model, seeded ``np.random.Generator`` draws):

* device-to-device: ``compact_model.variability.sample_devices`` draws a POOL of devices
  (``DeviceConfig.d2d_pool``); every device of the array is one of them (seeded assignment),
  and each pool device's level gaps are its own RESET and SET results
  (``compact_model.programming``), simulated once. A pool keeps the ODE cost independent of
  the array size (784 x 100 x 2 devices would take minutes); the spread is that of the pool.
* cycle-to-cycle: every programming attempt perturbs the gap (``variability.apply_c2c``, the
  compact model's defect-count spread, wider at low I_C).
* read noise: each read multiplies G by (1 + read_noise * N(0, 1)).

Write-verify: program (RESET, then SET at I_C(level) unless level 0), read, and re-program the
devices whose read conductance is further than ``verify_tolerance`` level steps from the
level's target, up to ``max_attempts`` attempts. Every attempt is one write (one RESET/SET
cycle) on the device's endurance budget; ``pulses`` counts RESET and SET pulses separately.
A device past ``endurance`` writes is worn: ``EndurancePolicy.RAISE`` raises
``EnduranceError``, ``FLAG`` marks it in ``worn`` and leaves it stuck at its last state.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from compact_model import programming
from compact_model.params import ModelCard
from compact_model.variability import DeviceBatch, apply_c2c, sample_devices
from cosim.filters import LevelTable, conductance_levels

logger = logging.getLogger(__name__)

__all__ = ["DeviceConfig", "DeviceArray", "EnduranceError", "EndurancePolicy", "ProgramReport",
           "proportional_levels"]


class EndurancePolicy(enum.Enum):
    RAISE = "raise"  # EnduranceError as soon as a device exceeds its budget
    FLAG = "flag"  # mark the device worn; it keeps its last state and is no longer written


class EnduranceError(RuntimeError):
    """A device was written more times than its endurance budget."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    """How the devices are programmed and read."""

    i_c_max: float = 200e-6  # A, compliance of the top level
    v_stop: float = 2.0  # V, RESET stop voltage (level 0 and the start of every SET)
    d2d: bool = True  # device-to-device variability (a pool of sampled devices)
    d2d_pool: int = 512  # 1, distinct sampled devices the array's devices are drawn from
    c2c: bool = True  # cycle-to-cycle variability at every programming attempt
    read_noise: float = 0.01  # 1, relative sigma of G at each read
    verify_tolerance: float = 0.5  # level steps, accepted |G_read - G_target|
    max_attempts: int = 8  # 1, programming attempts per write-verify (1: no verify loop)
    endurance: int = 1_000_000  # writes (RESET/SET cycles) per device before it is worn
    endurance_policy: EndurancePolicy = EndurancePolicy.FLAG

    def __post_init__(self) -> None:
        for name in ("i_c_max", "v_stop", "verify_tolerance"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not (isinstance(self.read_noise, (int, float)) and math.isfinite(self.read_noise)
                and self.read_noise >= 0):
            raise ValueError(f"read_noise must be a finite number >= 0, got {self.read_noise!r}")
        for name in ("d2d_pool", "max_attempts", "endurance"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not isinstance(self.endurance_policy, EndurancePolicy):
            raise ValueError(f"endurance_policy must be an EndurancePolicy, got {self.endurance_policy!r}")


def proportional_levels(card: ModelCard, n_levels: int, *, i_c_max: float = 200e-6,
                        v_stop: float = 2.0, iterations: int = 6) -> LevelTable:
    """``conductance_levels`` with the lowest compliance chosen so that G(l) - G(0) = l * step.

    ``conductance_levels`` spaces levels 1..n-1 evenly from G(i_c_min); the fixed point below
    moves i_c_min until G(1) - G(0) equals that spacing (G is nearly linear in I_C, so a few
    iterations reach < 1 % mismatch).
    """
    if n_levels == 2:  # one SET level: trivially proportional
        return conductance_levels(card, 2, i_c_range=(i_c_max / 4, i_c_max), v_stop=v_stop)
    i_lo = i_c_max / (n_levels - 1)
    table = None
    for _ in range(iterations):
        table = conductance_levels(card, n_levels, i_c_range=(i_lo, i_c_max), v_stop=v_stop)
        g = table.g_median
        step = (g[-1] - g[0]) / (n_levels - 1)
        ratio = (g[1] - g[0]) / step
        if abs(ratio - 1) < 5e-3:
            break
        # G(I_C) ~ a I_C + b: scale the low compliance by the ratio of wanted to actual G(1) - b'.
        i_lo = i_lo * (g[0] + step) / g[1]
    assert table is not None
    logger.info("proportional levels: %d levels, i_c_min %.3g A", n_levels, table.i_c[1])
    return table


def _subset(batch: DeviceBatch, index: np.ndarray) -> DeviceBatch:
    """The devices ``index`` of a batch (per-device arrays indexed, scalars kept)."""
    changes = {f.name: np.asarray(getattr(batch, f.name))[index]
               for f in dataclasses.fields(batch)
               if f.name != "set_polarity" and np.ndim(getattr(batch, f.name))}
    return dataclasses.replace(batch, **changes)


@dataclass(frozen=True, slots=True)
class ProgramReport:
    """What one ``DeviceArray.program`` call did."""

    programmed: int  # devices whose level changed and were written
    writes: int  # programming attempts (RESET/SET cycles), all devices
    pulses: int  # RESET + SET pulses
    unverified: int  # devices still outside tolerance after max_attempts
    newly_worn: int  # devices that exceeded the endurance budget in this call


class DeviceArray:
    """Conductance state of ``shape`` devices, each holding one of ``table.n_levels`` levels.

    Mutable on purpose (it is the hardware's state): ``program`` and ``read`` change it or draw
    from the given generator; everything random goes through those generators, and the pool
    and the assignment of devices to pool members come from ``seed``.
    """

    def __init__(self, shape: tuple[int, ...], table: LevelTable, card: ModelCard,
                 config: DeviceConfig = DeviceConfig(), *, seed: int) -> None:
        if card.name != table.card:
            raise ValueError(f"the level table was made for card {table.card!r}, not {card.name!r}")
        self.shape = tuple(int(s) for s in shape)
        self.table, self.card, self.config = table, card, config
        n = int(np.prod(self.shape))
        rng = np.random.default_rng(seed)
        p = card.device
        if config.d2d:
            pool = sample_devices(p, card.variability, config.d2d_pool, rng)
            self._pool_gap = self._pool_level_gaps(pool)
            self._member = rng.integers(0, config.d2d_pool, size=n)
            self._params = _subset(pool, self._member)
        else:  # every device nominal: the table's own gaps
            self._pool_gap = table.gap[None, :].astype(float)
            self._member = np.zeros(n, dtype=np.int64)
            self._params = DeviceBatch.from_params(p)
        step = (table.g_median[-1] - table.g_median[0]) / (table.n_levels - 1)
        self.g_step = float(step)  # S, nominal conductance per level
        self.levels = np.zeros(n, dtype=np.int16)  # current level of each device (flat)
        self.gaps = self._pool_gap[self._member, 0].copy()  # m; fresh devices: nominal HRS
        self.conductance = self._g(np.arange(n), self.gaps)  # S at v_read, without read noise
        self.writes = np.zeros(n, dtype=np.int64)  # programming attempts per device
        self.worn = np.zeros(n, dtype=bool)  # exceeded the endurance budget (FLAG policy)
        self.pulses = 0  # RESET + SET pulses applied so far
        self.verify_reads = 0  # reads made by write-verify
        self.unverified = 0  # write-verify failures so far

    # ------------------------------------------------------------------ model calls
    def _pool_level_gaps(self, pool: DeviceBatch) -> np.ndarray:
        """(pool, n_levels) gaps: each pool device's own RESET (level 0) and SETs at I_C(l)."""
        t = self.table
        p0 = self.card.device
        size = np.asarray(pool.i0).shape[0]
        hrs = programming.reset_to_vstop(pool, np.full(size, p0.g_min), t.v_stop, v_read=t.v_read)
        out = np.empty((size, t.n_levels))
        out[:, 0] = hrs
        for level in range(1, t.n_levels):
            out[:, level] = programming.set_with_compliance(
                pool, hrs, np.full(size, t.i_c[level]), v_set=t.v_set, width=t.set_width)
        return out

    def _g(self, idx: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        p = _subset(self._params, idx) if np.ndim(self._params.i0) else self._params
        return 1.0 / programming.read_resistance(p, gaps, self.table.v_read)

    # ------------------------------------------------------------------ public API
    @property
    def size(self) -> int:
        return int(self.levels.size)

    def params_at(self, index: Any) -> DeviceBatch | None:
        """Per-device parameters of the flat ``index`` devices (None without D2D variability)."""
        if not np.ndim(self._params.i0):
            return None
        return _subset(self._params, np.asarray(index, dtype=np.int64))

    def level_array(self) -> np.ndarray:
        """Current levels with the array's shape."""
        return self.levels.reshape(self.shape).copy()

    def read(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Conductances (S) with the array's shape; with read noise when given a generator."""
        g = self.conductance
        if rng is not None and self.config.read_noise > 0:
            g = g * (1.0 + self.config.read_noise * rng.standard_normal(g.shape))
        return g.reshape(self.shape)

    def program(self, target_levels: Any, rng: np.random.Generator) -> ProgramReport:
        """Program every device whose level differs from ``target_levels`` (array's shape).

        Write-verify per device: up to ``max_attempts`` RESET/SET cycles until the read
        conductance is within ``verify_tolerance`` level steps of its level's target.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a seeded numpy Generator (np.random.default_rng(seed))")
        target = np.asarray(target_levels)
        if target.shape != self.shape:
            raise ValueError(f"target_levels must have shape {self.shape}, got {target.shape}")
        target = target.reshape(-1)
        if target.min(initial=0) < 0 or target.max(initial=0) >= self.table.n_levels:
            raise ValueError(f"target levels must be in 0..{self.table.n_levels - 1}")
        todo = np.flatnonzero((target != self.levels) & ~self.worn)
        cfg, t = self.config, self.table
        writes = pulses = 0
        pending = todo
        worn_before = int(self.worn.sum())
        for _attempt in range(cfg.max_attempts):
            if pending.size == 0:
                break
            lev = target[pending]
            gaps = self._pool_gap[self._member[pending], lev]
            if cfg.c2c:
                reset = lev == 0
                p = _subset(self._params, pending) if np.ndim(self._params.i0) else self._params
                # Draw order: RESET-only devices, then SET devices (as filters.program_bank).
                for mask, after_reset in ((reset, True), (~reset, False)):
                    if mask.any():
                        sub = _subset(p, np.flatnonzero(mask)) if np.ndim(p.i0) else p
                        gaps[mask] = apply_c2c(gaps[mask], sub, self.card.variability, rng,
                                               v_read=t.v_read, after_reset=after_reset)
            self.gaps[pending] = gaps
            self.conductance[pending] = self._g(pending, gaps)
            self.levels[pending] = lev
            self.writes[pending] += 1
            writes += pending.size
            pulses += pending.size + int(np.count_nonzero(lev))  # RESET, plus a SET if level > 0
            pending = self._over_budget(pending)
            if cfg.max_attempts == 1:
                break
            g_read = self.conductance[pending]  # the verify read, with its own read noise
            if cfg.read_noise > 0:
                g_read = g_read * (1.0 + cfg.read_noise * rng.standard_normal(pending.size))
            self.verify_reads += pending.size
            off = np.abs(g_read - t.g_median[target[pending]]) > cfg.verify_tolerance * self.g_step
            pending = pending[off]
        unverified = int(pending.size) if cfg.max_attempts > 1 else 0
        self.pulses += pulses
        self.unverified += unverified
        newly = int(self.worn.sum()) - worn_before
        if newly:
            logger.warning("%d device(s) exceeded the endurance budget of %d writes", newly, cfg.endurance)
        return ProgramReport(programmed=int(todo.size), writes=writes, pulses=pulses,
                             unverified=unverified, newly_worn=newly)

    def _over_budget(self, idx: np.ndarray) -> np.ndarray:
        """Apply the endurance policy to devices ``idx``; return those that may be written again."""
        over = self.writes[idx] > self.config.endurance
        if not over.any():
            return idx
        if self.config.endurance_policy is EndurancePolicy.RAISE:
            worst = int(self.writes[idx].max())
            raise EnduranceError(f"{int(over.sum())} device(s) exceeded the endurance budget of "
                                 f"{self.config.endurance} writes (worst {worst})")
        self.worn[idx[over]] = True
        return idx[~over]
