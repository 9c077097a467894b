"""Series elements that limit the device current while it is programmed or read.

A SET needs a current limit: a source compliance (parameter analysers), a resistor, or the
1T1R access transistor whose gate voltage sets the compliance current. Each element solves the
voltage division between itself and the device for a given gap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from compact_model import equations as eq
from compact_model.params import AccessTransistorParams

_OPS = eq.NUMPY_OPS


def ekv_drain_current(v_gate: Any, v_drain: Any, v_source: Any,
                      t: AccessTransistorParams) -> np.ndarray:
    """Drain-to-source current in A of the EKV long-channel NMOS (bulk at 0 V)."""
    u_t = eq.BOLTZMANN_OVER_Q * t.temperature
    v_p = (np.asarray(v_gate) - t.v_th) / t.n
    forward = np.logaddexp(0.0, (v_p - np.asarray(v_source)) / (2 * u_t)) ** 2
    reverse = np.logaddexp(0.0, (v_p - np.asarray(v_drain)) / (2 * u_t)) ** 2
    return t.i_spec * (forward - reverse)


class SeriesElement(Protocol):
    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        """Voltage across the device (V) when v_applied drives element + device in series."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSeries:
    """The source drives the device directly."""

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap)).copy()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCompliance:
    """A voltage source whose current magnitude is clamped at ``i_c`` (A), like a Keithley SMU."""

    i_c: Any  # A, compliance current (scalar or per-device array)

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.i_c) <= 0):
            raise ValueError(f"invalid parameter 'i_c': compliance must be > 0 A, got {self.i_c}")

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        v = np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap))
        i_free = eq.current(v, gap, p, _OPS)
        limited = np.abs(i_free) > self.i_c
        v_limit = eq.voltage_at_current(np.sign(v) * self.i_c, gap, p, _OPS)
        return np.where(limited, v_limit, v)


def _solve_monotone(f: Any, lo: np.ndarray, hi: np.ndarray, iterations: int = 60,
                    tol: float = 1e-12) -> np.ndarray:
    """Root of f, decreasing in x, bracketed in [lo, hi] elementwise (vectorised Illinois method)."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    f_lo, f_hi = f(lo), f(hi)
    side = np.zeros(lo.shape, dtype=int)
    x = 0.5 * (lo + hi)
    for _ in range(iterations):
        denom = f_lo - f_hi
        x = np.where(np.abs(denom) > 0, lo + f_lo * (hi - lo) / np.where(denom == 0, 1, denom),
                     0.5 * (lo + hi))
        x = np.clip(x, np.minimum(lo, hi), np.maximum(lo, hi))
        fx = f(x)
        go_lo = fx > 0  # f decreasing: the root lies above x
        lo = np.where(go_lo, x, lo)
        hi = np.where(go_lo, hi, x)
        # Illinois: halve the stale end's value so the bracket shrinks from both sides.
        f_hi = np.where(go_lo, np.where(side == 1, 0.5 * f_hi, f_hi), fx)
        f_lo = np.where(go_lo, fx, np.where(side == -1, 0.5 * f_lo, f_lo))
        side = np.where(go_lo, 1, -1)
        if np.all(np.abs(hi - lo) <= tol * (1 + np.abs(x))):
            break
    return x


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesResistor:
    """A resistor ``r`` (ohm) in series with the device."""

    r: float

    def __post_init__(self) -> None:
        if not self.r > 0:
            raise ValueError(f"invalid parameter 'r': series resistance must be > 0 ohm, got {self.r}")

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        v = np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap))
        lo, hi = np.minimum(v, 0.0), np.maximum(v, 0.0)
        return _solve_monotone(lambda vd: (v - vd) / self.r - eq.current(vd, gap, p, _OPS), lo, hi)


class DrivenLine(enum.Enum):
    """Which line of a 1T1R cell carries the drive waveform."""

    BIT_LINE = "bit_line"  # top electrode: SET in the usual 1T1R biasing
    SOURCE_LINE = "source_line"  # transistor source: RESET with the bit line grounded


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessTransistor:
    """The 1T1R access NMOS between the device's bottom electrode and the source line.

    ``v_applied`` goes to the ``driven`` line; the other line sits at ``v_other_line``. The
    bulk is at 0 V, so a RESET through the source line sees the transistor's body effect.
    """

    transistor: AccessTransistorParams
    v_gate: Any  # V, word-line voltage (scalar or per-device array)
    driven: DrivenLine = DrivenLine.BIT_LINE
    v_other_line: Any = 0.0  # V

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        v_drive = np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap))
        v_other = np.broadcast_to(np.asarray(self.v_other_line, dtype=float), np.shape(gap))
        v_bl, v_sl = (v_drive, v_other) if self.driven is DrivenLine.BIT_LINE else (v_other, v_drive)

        def kcl(v_mid: np.ndarray) -> np.ndarray:
            # Device current (top -> mid) minus transistor current (mid -> source line).
            return (eq.current(v_bl - v_mid, gap, p, _OPS)
                    - ekv_drain_current(self.v_gate, v_mid, v_sl, self.transistor))

        v_mid = _solve_monotone(kcl, np.minimum(v_bl, v_sl), np.maximum(v_bl, v_sl))
        return v_bl - v_mid
