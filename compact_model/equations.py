"""The device equations, written once for every backend.

Each function takes an ``ops`` namespace (exp, sinh, asinh, tanh, abs, where, minimum, maximum)
and works on whatever numbers that namespace works on: numpy arrays (``NUMPY_OPS``), torch tensors
(``compact_model.torch_twin.TORCH_OPS``) or SPICE expression strings (``netlist_gen``). So the
fitted model, the fast engine and the netlists share one source of truth.

``p`` is any object with the attributes of ``DeviceParams``: a ``DeviceParams`` itself, or a
batch of devices whose attributes are arrays (``compact_model.variability.DeviceBatch``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

BOLTZMANN_OVER_Q = 8.617333262e-5  # V/K, k_B / q (CODATA 2018)

NUMPY_OPS = SimpleNamespace(
    exp=np.exp, sinh=np.sinh, asinh=np.arcsinh, tanh=np.tanh, abs=np.abs, where=np.where,
    minimum=np.minimum, maximum=np.maximum,
)


def bounded_gap(gap: Any, p: Any, ops: Any) -> Any:
    """The gap clamped to [g_min - 10 w, g_max + 10 w].

    Physical states never leave that range (the windows pull them back), but a SPICE Newton
    iteration may try far-off values, where exp(-g/g0) overflows. Every backend clamps the same
    way, so the equations stay one.
    """
    return _clip(gap, p.g_min - 10.0 * p.window, p.g_max + 10.0 * p.window, ops)


def _clip(x: Any, lo: Any, hi: Any, ops: Any) -> Any:
    """x limited to [lo, hi]. Clamps are min/max, never ``where``: a conditional writes its
    argument into SPICE text twice, and nested clamps made a 380 kB netlist expression."""
    return ops.minimum(ops.maximum(x, lo), hi)


def nonlinearity_voltage(gap: Any, p: Any, ops: Any) -> Any:
    """V_nl(g) in V: interpolates linearly from v_nl_lrs at g_min to v_nl_hrs at g_max."""
    s = (gap - p.g_min) / (p.g_max - p.g_min)
    return p.v_nl_lrs + (p.v_nl_hrs - p.v_nl_lrs) * s


MAX_JOULE_POWER = 1.0  # W, ceiling of the Joule term (devices dissipate < 1 mW)
MAX_SINH_ARGUMENT = 700.0  # 1, keeps sinh finite (sinh(710) overflows a double)


def current(v: Any, gap: Any, p: Any, ops: Any) -> Any:
    """Device current in A at device voltage v (V) and gap (m): i0 exp(-g/g0) sinh(V/V_nl(g)).

    The sinh argument is clamped at +-700, only so that it stays finite: a SPICE Newton iteration
    can try hundreds of volts on a floating node. A tighter clamp was tried (30, 100): its flat,
    zero-derivative region stalled ngspice's Newton iterations more often than it helped.
    """
    gap = bounded_gap(gap, p, ops)
    x = _clamped(v / nonlinearity_voltage(gap, p, ops), ops)
    return p.i0 * ops.exp(-gap / p.g0) * ops.sinh(x)


def voltage_at_current(i: Any, gap: Any, p: Any, ops: Any) -> Any:
    """Inverse of ``current`` at fixed gap: the device voltage (V) that carries current i (A)."""
    gap = bounded_gap(gap, p, ops)
    return nonlinearity_voltage(gap, p, ops) * ops.asinh(i / (p.i0 * ops.exp(-gap / p.g0)))


def temperature(v: Any, i: Any, p: Any, ops: Any) -> Any:
    """Filament temperature in K with Joule self-heating."""
    power = ops.abs(v * i)
    # A Newton iteration's trial voltages can make V I overflow (r_th * 1e305 aborts ngspice);
    # a device never dissipates MAX_JOULE_POWER, so the clamp changes no physical state.
    power = ops.minimum(power, MAX_JOULE_POWER)
    return p.t_amb + p.r_th * power


def unwindowed_rates(v: Any, gap: Any, temp: Any, p: Any, ops: Any) -> tuple[Any, Any]:
    """(SET speed, RESET speed) in m/s, both >= 0, before the bound windows.

    Only one is non-zero at a time: SET when the voltage has the SET polarity, RESET otherwise.
    """
    gap = bounded_gap(gap, p, ops)
    kt_q = BOLTZMANN_OVER_Q * temp
    v_s = v * int(p.set_polarity)
    cube = (gap / p.g1) ** 3
    field = p.a0 * v_s / (p.thickness * kt_q)
    zero = 0.0 * v_s  # shaped like the inputs; cheap as SPICE text
    # The field enhancement cannot turn negative: past gamma = 0 the field no longer moves ions.
    gamma_set = ops.maximum(p.gamma0 - p.beta_set * cube, 0.0)
    gamma_reset = ops.maximum(p.gamma0 - p.beta_reset * cube, 0.0)
    set_speed = p.v_set * ops.exp(-p.ea_set / kt_q) * ops.sinh(_clamped(gamma_set * field, ops))
    reset_speed = -p.v_reset * ops.exp(-p.ea_reset / kt_q) * ops.sinh(_clamped(gamma_reset * field, ops))
    return ops.where(v_s > 0, set_speed, zero), ops.where(v_s > 0, zero, reset_speed)


def _clamped(x: Any, ops: Any) -> Any:
    """x limited to +-MAX_SINH_ARGUMENT. Physical drives stay far below (~100 at a 2 V SET);
    a SPICE Newton iteration on a node behind a just-opening transistor can try volts that
    overflow sinh (measured: ngspice aborted an A-STDP RESET with a 1e305 rate)."""
    return _clip(x, -MAX_SINH_ARGUMENT, MAX_SINH_ARGUMENT, ops)


def gap_rate(v: Any, gap: Any, temp: Any, p: Any, ops: Any) -> Any:
    """dg/dt in m/s.

    The windows tanh((g - g_min)/w) and tanh((g_max - g)/w) stop the gap at its bounds and pull
    it back if it overshoots, so the state stays bounded in every backend without a hard clip
    (a hard clip cannot be written for SPICE's integrating capacitor).
    """
    set_speed, reset_speed = unwindowed_rates(v, gap, temp, p, ops)
    return (-set_speed * ops.tanh((gap - p.g_min) / p.window)
            + reset_speed * ops.tanh((p.g_max - gap) / p.window))


def resistance(gap: Any, p: Any, ops: Any, v_read: float) -> Any:
    """Read resistance V_read / I in ohm."""
    return v_read / current(v_read, gap, p, ops)
