"""The compact model as SPICE subcircuits, generated from ``compact_model.equations``.

Two forms:
- dynamic (``rram_subckt``): a B-source carries the device current and a second B-source
  charges a 1 nF capacitor with the gap's rate, so the capacitor voltage is the gap in nm. Run
  transients with ``uic`` (the state starts at the ``gap0`` parameter).
- static (``rram_static_subckt``): the gap is a parameter; the element is a non-linear resistor
  for operating points and DC sweeps of arrays whose states do not change while being read.
Every device parameter is a subcircuit parameter, so per-device variability is an instance
override (``Instance(params=device_params_for_instance(...))``).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, Mapping

from compact_model import equations as eq
from compact_model.params import DeviceParams
from netlist_gen.expr import SPICE_OPS, Expr
from netlist_gen.ir import BehavioralCurrent, Capacitor, Subckt

PREFIX = "rr_"  # keeps parameter names clear of ngspice's built-in names
GAP_NODE_SCALE = 1e-9  # m per volt on the state node: the node voltage is the gap in nm
STATE_CAPACITANCE = 1e-9  # F; with the rate (m/s) as current, dV/dt is the rate in nm/s
_FIELDS = tuple(f.name for f in dataclasses.fields(DeviceParams) if f.name != "set_polarity")


def param_name(field: str) -> str:
    return PREFIX + field


def device_params_for_instance(p: DeviceParams, gap0: float | None = None) -> dict[str, float]:
    """Subcircuit parameters {rr_i0: ..., ...} of one device (and its initial gap, m)."""
    out = {param_name(f): float(getattr(p, f)) for f in _FIELDS}
    if gap0 is not None:
        out[param_name("gap0")] = float(gap0)
    return out


def _symbolic(p: DeviceParams) -> SimpleNamespace:
    """Parameters as SPICE names, the polarity as a number (it picks the model's branch)."""
    ns = SimpleNamespace(**{f: Expr(param_name(f)) for f in _FIELDS})
    ns.set_polarity = p.set_polarity
    return ns


def current_expr(v: Expr, gap: Expr, p: DeviceParams) -> Expr:
    return eq.current(v, gap, _symbolic(p), SPICE_OPS)


def gap_rate_expr(v: Expr, gap: Expr, p: DeviceParams) -> Expr:
    sym = _symbolic(p)
    temp = eq.temperature(v, eq.current(v, gap, sym, SPICE_OPS), sym, SPICE_OPS)
    return eq.gap_rate(v, gap, temp, sym, SPICE_OPS)


def rram_subckt(p: DeviceParams, gap0: float, name: str = "rram") -> Subckt:
    """Dynamic device: ports (te, be); internal node ``gap`` holds the gap in nm."""
    v = Expr("v(te,be)")
    gap = Expr(f"(v(gap) * {GAP_NODE_SCALE:.17g})")
    rate = gap_rate_expr(v, gap, p)
    elements = (
        BehavioralCurrent("dev", "te", "be", current_expr(v, gap, p)),
        # Injects C * dg/dt into the state node: current rate (m/s) numerically, scaled below.
        BehavioralCurrent("state", "0", "gap",
                          rate * (STATE_CAPACITANCE / GAP_NODE_SCALE)),
        Capacitor("state", "gap", "0", STATE_CAPACITANCE,
                  ic=Expr(f"{param_name('gap0')} / {GAP_NODE_SCALE:.17g}")),
    )
    return Subckt(name=name, ports=("te", "be"), elements=elements,
                  params=device_params_for_instance(p, gap0))


def rram_static_subckt(p: DeviceParams, gap: float, name: str = "rram_static") -> Subckt:
    """Fixed-state device: ports (te, be); the gap (m) is the parameter ``rr_gap``."""
    element = BehavioralCurrent("dev", "te", "be",
                                current_expr(Expr("v(te,be)"), Expr(param_name("gap")), p))
    params: Mapping[str, Any] = {**device_params_for_instance(p), param_name("gap"): float(gap)}
    return Subckt(name=name, ports=("te", "be"), elements=(element,), params=params)


def gap_from_state_node(volts: Any) -> Any:
    """Gap in m from the state node voltage of a dynamic instance."""
    return volts * GAP_NODE_SCALE
