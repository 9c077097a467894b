"""Programming operations built on ``simulate``: SET with compliance, RESET to V_STOP, partial SET.

Voltages are given as magnitudes: the device's ``set_polarity`` decides the sign, so one call
works for devices that SET with either polarity. Every operation may add cycle-to-cycle
variability when given a ``VariabilityParams`` and a seeded ``np.random.Generator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compact_model import equations as eq
from compact_model.access import AccessTransistor, DrivenLine, SeriesElement, SourceCompliance
from compact_model.params import AccessTransistorParams, VariabilityParams
from compact_model.simulate import simulate
from compact_model.variability import apply_c2c

_OPS = eq.NUMPY_OPS
DEFAULT_EDGE = 10e-9  # s, rise and fall time of programming pulses


def pulse_waveform(amplitude: float, width: float, edge: float = DEFAULT_EDGE) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoidal pulse (time, voltage): 0 -> amplitude in ``edge``, hold ``width``, back to 0."""
    if width <= 0 or edge <= 0:
        raise ValueError(f"pulse width and edge must be > 0 s, got width={width}, edge={edge}")
    time = np.array([0.0, edge, edge + width, 2 * edge + width])
    return time, np.array([0.0, amplitude, amplitude, 0.0])


def _per_device(gap: Any, control: Any) -> np.ndarray:
    """The gap broadcast against a per-device control array (compliance, gate voltage)."""
    shape = np.broadcast_shapes(np.shape(gap), np.shape(control))
    return np.broadcast_to(np.asarray(gap, dtype=float), shape).copy()


def _noisy(gap: np.ndarray, p: Any, var: VariabilityParams | None, rng: np.random.Generator | None,
           v_read: float, after_reset: bool) -> np.ndarray:
    if var is None and rng is None:
        return gap
    if var is None or rng is None:
        raise ValueError("cycle-to-cycle variability needs both 'var' and a seeded 'rng'")
    return apply_c2c(gap, p, var, rng, v_read=v_read, after_reset=after_reset)


def apply_pulse(p: Any, gap: Any, amplitude: float, width: float, *,
                series: SeriesElement | None = None, edge: float = DEFAULT_EDGE) -> np.ndarray:
    """Gap after one pulse of signed device-terminal ``amplitude`` (V) through ``series``.

    A short or weak pulse in the SET polarity is a partial SET: the gap shrinks by an amount
    that depends on its starting value, which the SFA threshold cell and multi-level
    programming rely on.
    """
    time, volts = pulse_waveform(amplitude, width, edge)
    return simulate(p, time, volts, gap, series=series).final_gap


def set_with_compliance(p: Any, gap: Any, i_c: Any, *, v_set: float = 2.0, width: float = 1e-6,
                        var: VariabilityParams | None = None, rng: np.random.Generator | None = None,
                        v_read: float = 0.1) -> np.ndarray:
    """SET pulse of magnitude ``v_set`` (V) with the current clamped at ``i_c`` (A)."""
    amplitude = abs(v_set) * int(p.set_polarity)
    gap = _per_device(gap, i_c)
    gap = apply_pulse(p, gap, amplitude, width, series=SourceCompliance(i_c=i_c))
    return _noisy(gap, p, var, rng, v_read, after_reset=False)


def set_through_transistor(p: Any, gap: Any, transistor: AccessTransistorParams, v_gate: Any, *,
                           v_bl: float = 2.0, width: float = 1e-6, var: VariabilityParams | None = None,
                           rng: np.random.Generator | None = None, v_read: float = 0.1) -> np.ndarray:
    """1T1R SET: bit line pulsed to ``v_bl`` (V), source line at 0, gate at ``v_gate`` (V)."""
    amplitude = abs(v_bl) * int(p.set_polarity)
    series = AccessTransistor(transistor=transistor, v_gate=v_gate)
    gap = _per_device(gap, v_gate)
    gap = apply_pulse(p, gap, amplitude, width, series=series)
    return _noisy(gap, p, var, rng, v_read, after_reset=False)


def reset_to_vstop(p: Any, gap: Any, v_stop: float, *, ramp_time: float = 1e-3,
                   var: VariabilityParams | None = None, rng: np.random.Generator | None = None,
                   v_read: float = 0.1, samples: int = 200) -> np.ndarray:
    """Quasi-static RESET: ramp 0 -> |v_stop| (V) in the RESET polarity over ``ramp_time`` (s), back to 0."""
    if ramp_time <= 0:
        raise ValueError(f"ramp_time must be > 0 s, got {ramp_time}")
    amplitude = -abs(v_stop) * int(p.set_polarity)
    up = np.linspace(0.0, 1.0, samples)
    time = np.concatenate([up * ramp_time, [ramp_time * (1 + 1e-3)]])
    volts = np.concatenate([up * amplitude, [0.0]])
    gap = simulate(p, time, volts, gap).final_gap
    return _noisy(gap, p, var, rng, v_read, after_reset=True)


def reset_through_transistor(p: Any, gap: Any, transistor: AccessTransistorParams, v_sl: float, *,
                             v_gate: float = 4.0, width: float = 1e-6,
                             var: VariabilityParams | None = None,
                             rng: np.random.Generator | None = None, v_read: float = 0.1) -> np.ndarray:
    """1T1R RESET: source line pulsed to ``v_sl`` (V, sign chosen to RESET) with the bit line at 0 V."""
    series = AccessTransistor(transistor=transistor, v_gate=v_gate, driven=DrivenLine.SOURCE_LINE)
    # Raising the source line makes the device voltage negative: that RESETs a positive-SET device.
    amplitude = abs(v_sl) * int(p.set_polarity)
    gap = apply_pulse(p, gap, amplitude, width, series=series)
    return _noisy(gap, p, var, rng, v_read, after_reset=True)


def read_resistance(p: Any, gap: Any, v_read: float = 0.1) -> np.ndarray:
    """Resistance (ohm) read at ``v_read`` (V)."""
    return np.asarray(eq.resistance(np.asarray(gap, dtype=float), p, _OPS, v_read))
