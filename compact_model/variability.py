"""Device-to-device and cycle-to-cycle variability, drawn from explicit numpy Generators.

Nothing here creates its own random state: callers pass ``np.random.default_rng(seed)`` built
from a seed in their config, so the same config gives the same devices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from compact_model import equations as eq
from compact_model.params import DeviceParams, Polarity, VariabilityParams

_OPS = eq.NUMPY_OPS


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceBatch:
    """Parameters of many devices: the fields of ``DeviceParams``, each a (n,) array (or scalar).

    The equations only read attributes, so a batch goes wherever a ``DeviceParams`` does.
    """

    i0: Any
    g0: Any
    v_nl_lrs: Any
    v_nl_hrs: Any
    g_min: Any
    g_max: Any
    v_set: Any
    v_reset: Any
    ea_set: Any
    ea_reset: Any
    a0: Any
    thickness: Any
    gamma0: Any
    beta_set: Any
    beta_reset: Any
    g1: Any
    r_th: Any
    t_amb: Any
    set_polarity: Polarity
    window: Any

    @classmethod
    def from_params(cls, p: DeviceParams) -> "DeviceBatch":
        return cls(**{f.name: getattr(p, f.name) for f in dataclasses.fields(DeviceParams)})

    def device(self, index: int) -> DeviceParams:
        """The parameters of device ``index`` as a validated ``DeviceParams``."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name != "set_polarity":
                v = float(np.asarray(v)[index]) if np.ndim(v) else float(v)
            values[f.name] = v
        return DeviceParams(**values)


def sample_devices(p: DeviceParams, var: VariabilityParams, n: int,
                   rng: np.random.Generator) -> DeviceBatch:
    """Draw ``n`` devices around the nominal ``p`` (device-to-device variability)."""
    if n < 1:
        raise ValueError(f"number of devices must be >= 1, got {n}")
    lognormal = lambda sigma: np.exp(sigma * rng.standard_normal(n))  # noqa: E731
    i0 = p.i0 * lognormal(var.d2d_sigma_i0)
    speed = lognormal(var.d2d_sigma_v)
    shift_min = var.d2d_sigma_gap * rng.standard_normal(n)
    shift_max = var.d2d_sigma_gap * rng.standard_normal(n)
    g_min = np.maximum(p.g_min + shift_min, 0.2 * p.g_min)
    g_max = np.maximum(p.g_max + shift_max, g_min + 4 * p.window)
    base = DeviceBatch.from_params(p)
    return dataclasses.replace(base, i0=i0, v_set=p.v_set * speed, v_reset=p.v_reset * speed,
                               g_min=g_min, g_max=g_max)


def c2c_sigma_ln_g(conductance: Any, var: VariabilityParams, after_reset: bool = False) -> np.ndarray:
    """Relative (log) spread of the conductance after one programming operation.

    sigma_lnG = sqrt(g_defect / G + floor^2): a Poisson-like count of defects in the filament,
    so a stronger SET (larger compliance, larger G) gives a tighter distribution.
    """
    g = np.abs(np.asarray(conductance, dtype=float))
    sigma = np.sqrt(var.g_defect / np.maximum(g, 1e-30) + var.c2c_floor ** 2)
    return sigma * (var.c2c_hrs_scale if after_reset else 1.0)


def apply_c2c(gap: Any, p: Any, var: VariabilityParams, rng: np.random.Generator, *,
              v_read: float, after_reset: bool = False) -> np.ndarray:
    """Perturb the gap after a programming operation (cycle-to-cycle variability).

    ln G ~ -g/g0, so a log-normal spread sigma of G is a normal spread g0 * sigma of the gap.
    The result is kept inside [g_min, g_max].
    """
    gap = np.asarray(gap, dtype=float)
    g_read = eq.current(v_read, gap, p, _OPS) / v_read
    sigma = c2c_sigma_ln_g(g_read, var, after_reset)
    noisy = gap + p.g0 * sigma * rng.standard_normal(gap.shape)
    return np.clip(noisy, p.g_min, p.g_max)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteVerify:
    """Program-and-verify: after each write, read the device and re-program it (a fresh RESET
    and SET at the same compliance, so a fresh cycle-to-cycle draw) while its read conductance
    is further than the accepted band from the target, up to ``attempts`` writes in all.

    The band is ``tolerance`` at the first read and grows by ``relax`` at each later one. With
    ``relax`` > 1 a device that keeps missing is accepted at a modestly wider band instead of
    being re-drawn until the attempts run out and left at an unchecked last draw (the tail of
    the open-loop spread)."""

    tolerance: float  # S, accepted |G_read - G_target| at the first read
    attempts: int = 8  # 1, writes per device at most (the first one included)
    relax: float = 1.0  # 1, factor the accepted band grows by per further read (1: a fixed band)

    def __post_init__(self) -> None:
        if not (isinstance(self.tolerance, (int, float)) and not isinstance(self.tolerance, bool)
                and np.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"WriteVerify.tolerance must be a finite conductance > 0 S, got {self.tolerance!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"WriteVerify.attempts must be an integer >= 1, got {self.attempts!r}")
        if (isinstance(self.relax, bool) or not isinstance(self.relax, (int, float))
                or not np.isfinite(self.relax) or self.relax < 1):
            raise ValueError(f"WriteVerify.relax must be a finite factor >= 1, got {self.relax!r}")

    def band(self, read: int) -> float:
        """Accepted |G - G_target| (S) at verify read ``read`` (0: the read after the first write)."""
        return float(self.tolerance * self.relax ** read)


def write_verify(target: Any, programmed: Any, after_reset: Any, p: Any, var: VariabilityParams,
                 rng: np.random.Generator, *, v_read: float, verify: WriteVerify
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verify rounds after a first write: ``programmed`` gaps drawn around the nominal ``target``
    gaps (``apply_c2c``); ``after_reset`` (bool, per device) says which devices were RESET only.
    ``p`` is one device's (scalar) parameters.

    Each round reads every device and re-writes those out of tolerance (a fresh ``apply_c2c``
    draw around the target): first the RESET-only ones, then the SET ones, each in C order.
    Devices within tolerance after the first write keep it, so the first write's draws are not
    disturbed. The band widens by ``verify.relax`` per round (``WriteVerify.band``). Returns
    (gaps, writes per device with the first one, within ``verify.tolerance`` per device: a device
    accepted at a relaxed band, or still out after ``verify.attempts`` writes, which keeps its
    last state, is not).
    """
    tgt = np.asarray(target, dtype=float)
    out = np.array(programmed, dtype=float)
    rs = np.asarray(after_reset, dtype=bool)
    if out.shape != tgt.shape or rs.shape != tgt.shape:
        raise ValueError(f"target, programmed and after_reset must share a shape, got {tgt.shape}, "
                         f"{out.shape}, {rs.shape}")
    writes = np.ones(tgt.shape, dtype=np.int64)
    g_target = eq.current(v_read, tgt, p, _OPS) / v_read

    def error() -> np.ndarray:
        return np.abs(eq.current(v_read, out, p, _OPS) / v_read - g_target)

    accepted = np.zeros(tgt.shape, dtype=bool)  # within the band of some read: never re-written
    for read in range(verify.attempts - 1):
        accepted |= error() <= verify.band(read)
        off = ~accepted
        if not off.any():
            break
        for group, reset in ((off & rs, True), (off & ~rs, False)):
            out[group] = apply_c2c(tgt[group], p, var, rng, v_read=v_read, after_reset=reset)
        writes[off] += 1
    return out, writes, error() <= verify.tolerance
