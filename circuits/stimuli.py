"""Piecewise-linear stimuli: input vectors time-multiplexed into slots, and spike trains.

Both return one ``netlist_gen.ir.Pwl`` per input line (row), validated and deterministic: the
same arguments give the same breakpoints, bit for bit.

Slot waveform of ``image_to_pwl`` (n vectors, slot k = [k t_slot, (k+1) t_slot))::

    t:  0    t_edge        t_slot  t_slot+t_edge   ...   n t_slot  n t_slot+t_edge
    v:  0 -> x_0 (hold) ->  x_0  ->  x_1 (hold)    ...    x_{n-1} ->  0

so slot k's value x_k = v_read_max * images[k, row] is reached ``t_edge`` after the slot starts
and held until it ends; ``slot_read_times`` gives the end of each plateau.

Spike of ``spikes_to_pwl`` at time t::

    t: t -> t + edge -> t + edge + width -> t + 2 edge + width
    v: 0 -> amplitude -> amplitude        -> 0
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from netlist_gen.ir import Pwl


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value


def image_to_pwl(images: Any, *, v_read_max: float = 0.2, t_slot: float = 1e-6,
                 t_edge: float = 10e-9) -> tuple[Pwl, ...]:
    """One PWL per row that holds input vector k during slot k.

    ``images``: (n, rows) array of intensities in [0, 1] (a flattened image per row of the
    array); the row voltage is ``v_read_max`` (V) times the intensity. ``t_slot`` (s) is the
    slot length, ``t_edge`` (s) the transition from one slot's value to the next
    (0 < t_edge < t_slot). Every waveform starts and ends at 0 V.
    """
    x = np.asarray(images, dtype=float)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"images must be a non-empty (n, rows) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x > 1):
        raise ValueError("image intensities must lie in [0, 1]")
    v_read_max = _positive(v_read_max, "v_read_max")
    t_slot, t_edge = _positive(t_slot, "t_slot"), _positive(t_edge, "t_edge")
    if not t_edge < t_slot:
        raise ValueError(f"t_edge ({t_edge}) must be shorter than t_slot ({t_slot})")
    n = x.shape[0]
    starts = np.arange(n + 1) * t_slot  # slot starts, and the end of the last slot
    times = np.empty(2 * n + 2)
    times[0::2], times[1::2] = starts, starts + t_edge
    levels = x * v_read_max  # (n, rows)
    out = []
    for row in levels.T:
        values = np.empty(2 * n + 2)
        values[0], values[-1] = 0.0, 0.0
        values[1:-1:2] = row  # reached t_edge after each slot start
        values[2:-1:2] = row  # held until the next slot starts
        out.append(Pwl(tuple(times.tolist()), tuple(values.tolist())))
    return tuple(out)


def slot_read_times(n: int, *, t_slot: float = 1e-6) -> np.ndarray:
    """The end of each slot's plateau (s): where a read of slot k sees the settled vector k."""
    if n < 1:
        raise ValueError(f"need n >= 1 slots, got {n}")
    return (np.arange(n) + 1) * _positive(t_slot, "t_slot")


def spikes_to_pwl(spike_times: Sequence[Any], *, amplitude: float, width: float,
                  edge: float = 1e-9) -> tuple[Pwl, ...]:
    """One PWL per input: a trapezoidal spike (``edge`` rise, ``width`` top, ``edge`` fall, s)
    of ``amplitude`` (V) starting at each of its spike times (s).

    Each input's times must be finite, >= 0, increasing, and spikes must not overlap or touch:
    t_{k+1} > t_k + width + 2 edge. An input without spikes is a constant 0 V.
    """
    amplitude = float(amplitude)
    if not math.isfinite(amplitude):
        raise ValueError(f"amplitude must be finite, got {amplitude}")
    width, edge = _positive(width, "width"), _positive(edge, "edge")
    duration = width + 2 * edge
    out = []
    for index, raw in enumerate(spike_times):
        t = np.asarray(raw, dtype=float).reshape(-1)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError(f"input {index}: spike times must be finite and >= 0")
        gaps = np.diff(t)
        if np.any(gaps <= duration):
            k = int(np.argmax(gaps <= duration))
            raise ValueError(f"input {index}: spike at {t[k + 1]!r} s starts before the one at "
                             f"{t[k]!r} s has ended (each lasts width + 2 edge = {duration!r} s); "
                             "spike times must be increasing and the spikes must not overlap")
        if t.size == 0:
            out.append(Pwl((0.0,), (0.0,)))
            continue
        times = np.stack([t, t + edge, t + edge + width, t + duration], axis=1).reshape(-1)
        values = np.tile([0.0, amplitude, amplitude, 0.0], t.size)
        if t[0] > 0:  # hold 0 V from the start of the transient
            times, values = np.concatenate([[0.0], times]), np.concatenate([[0.0], values])
        out.append(Pwl(tuple(times.tolist()), tuple(values.tolist())))
    return tuple(out)
