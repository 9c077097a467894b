"""Spike-frequency-adaptation (SFA) threshold cell: one RRAM sets a LIF neuron's threshold V_TH.

Topology (nodes internal to the cell except the ports ``spike_in`` and ``vth_out``)::

    te = v_read + (v_prog - v_read) * S(v(spike_in) - v_gate)      programming switch (2:1 mux)
    te ──RRAM (dynamic compact model, state node ``gap``)── div ──R_load── 0
    hold <- tracks v(div) (time constant t_track) while the spike is low; holds it during a spike
    vth_out = v_offset + gain * v(hold)                            read amplifier (B-source)

Read: between spikes the RRAM's top electrode sits at ``v_read`` (0.2 V: no read disturb) and
the RRAM and R_load form a divider whose output v(div) = v_read R_load / (R_load + R_RRAM) (the
RRAM is non-linear; ``sfa_threshold`` solves it exactly). The RRAM is on the HIGH side of the
divider, so a more conductive RRAM (smaller gap) gives a HIGHER V_TH. A behavioural amplifier
(``gain``, ``v_offset``) maps the tens of millivolts of the divider onto the neuron's threshold
range, as a read circuit would.

Write: while the neuron's output spike is high the mux switches the top electrode to ``v_prog``
(1.8 V: partial SET) for the spike's width, with R_load in series acting as the compliance: as the
device becomes more conductive more of the pulse drops on R_load, so each pulse moves the gap
less than the previous one (the threshold rises sub-linearly with the number of fires). Nothing
resets the device (non-volatile, no decay): a RESET between learning phases is a separate
operation. During the pulse the divider output is not a read value, so the track-and-hold keeps
the last read V_TH until the spike has ended (the neuron is refractory then anyway). With the
defaults, 0.2 us spikes and a 2.0 nm initial gap, ngspice gives V_TH = 0.359, 0.397, 0.423,
0.442, 0.457, 0.470, 0.481 V before fires 1..7 (gap 2.00 -> 1.88 nm). The amount a pulse moves
the gap depends on the spike width and on v_prog very steeply (the SET speed is exponential in
the voltage); from a fresh HRS (g_max) the first pulse makes a much larger step, so start the
cell from a partially SET state (``gap0`` around 2 nm).

``sfa_cell`` instantiates the RRAM subcircuit named ``sfa_rram_name(name)``; ``sfa_subckts``
returns both subcircuits (RRAM first), which a netlist must define. The instance parameters
``sfa_gap0`` (m) and ``sfa_vth0`` (V, the initial read threshold, normally
``sfa_threshold(device, gap0, params)``) set the initial state per instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuits.neuron import smooth_step
from compact_model import equations as eq
from compact_model.params import DeviceParams
from netlist_gen.expr import Expr, number
from netlist_gen.ir import (BehavioralCurrent, BehavioralVoltage, Capacitor, Instance, Resistor,
                            Subckt)
from netlist_gen.names import check_name
from netlist_gen.rram import param_name, rram_subckt

HOLD_CAPACITANCE = 1e-12  # F, track-and-hold capacitor


@dataclass(frozen=True, slots=True, kw_only=True)
class SfaParams:
    """Divider, programming pulse and read amplifier of the SFA cell."""

    v_read: float = 0.2  # V, top-electrode voltage while reading (between spikes)
    v_prog: float = 1.8  # V, top-electrode voltage during a spike (partial SET, SET polarity)
    r_load: float = 100e3  # ohm, divider resistor to ground (also the series compliance)
    gain: float = 10.0  # V/V, read amplifier gain: V_TH = v_offset + gain * v(div)
    v_offset: float = 0.0  # V, read amplifier offset
    v_gate: float = 0.5  # V, spike level at which the programming switch closes
    t_track: float = 10e-9  # s, tracking time constant of the track-and-hold
    v_smooth: float = 0.01  # V, tanh width of the programming switch

    def __post_init__(self) -> None:
        for name in ("v_read", "v_prog", "r_load", "gain", "v_offset", "v_gate", "t_track",
                     "v_smooth"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"SfaParams.{name} must be finite, got {getattr(self, name)}")
        for name in ("v_read", "v_prog", "r_load", "gain", "v_gate", "t_track", "v_smooth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SfaParams.{name} must be > 0, got {getattr(self, name)}")
        if self.v_prog <= self.v_read:
            raise ValueError(f"v_prog ({self.v_prog} V) must exceed v_read ({self.v_read} V)")
        if self.v_smooth > 0.1 * self.v_gate:
            raise ValueError("v_smooth must be <= 10 % of v_gate")


def sfa_rram_name(name: str) -> str:
    """Name of the RRAM subcircuit an SFA cell called ``name`` instantiates."""
    return check_name(f"{name}_rram", "SFA RRAM subcircuit name")


def divider_voltage(device: Any, gap: Any, params: SfaParams) -> np.ndarray:
    """Read-phase divider output v(div) (V) for gap(s) (m): solves I_RRAM(v_read - v) = v / R_load.

    Bisection (the mismatch is monotone in v on [0, v_read]); exact to ~1e-15 V.
    """
    gap = np.asarray(gap, dtype=float)
    lo, hi = np.zeros_like(gap), np.full_like(gap, params.v_read)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        excess = eq.current(params.v_read - mid, gap, device, eq.NUMPY_OPS) - mid / params.r_load
        lo, hi = np.where(excess > 0, mid, lo), np.where(excess > 0, hi, mid)
    return 0.5 * (lo + hi)


def sfa_threshold(device: Any, gap: Any, params: SfaParams) -> np.ndarray:
    """The read threshold V_TH (V) the cell outputs for gap(s) (m)."""
    return params.v_offset + params.gain * divider_voltage(device, gap, params)


def sfa_rram_subckt(name: str, device: DeviceParams, gap0: float) -> Subckt:
    """The dynamic RRAM subcircuit used by the SFA cell ``name``."""
    return rram_subckt(device, gap0, name=sfa_rram_name(name))


def sfa_cell(name: str, device: DeviceParams, gap0: float, params: SfaParams, *, writes: bool = True) -> Subckt:
    """SFA threshold cell; ports (spike_in, vth_out). Internal nodes: ``te``, ``div``, ``hold``
    and, in the RRAM instance ``xr``, its state node ``gap`` (probe ``v(x<cell>.xr.gap)``, nm).
    ``writes=False`` holds te at v_read: the threshold is read, never raised (inference)."""
    check_name(name, "SFA subcircuit name")
    p = params
    if not device.g_min <= gap0 <= device.g_max:
        raise ValueError(f"gap0 {gap0} m outside [{device.g_min}, {device.g_max}] m")
    spike = Expr("v(spike_in)")
    program = smooth_step(spike - p.v_gate, p.v_smooth)
    # Tracking resumes only once the spike is well below the gate level (top electrode back at
    # v_read), so the end of the pulse is not sampled.
    track = smooth_step(0.5 * p.v_gate - spike, p.v_smooth)
    vth0 = float(sfa_threshold(device, gap0, p))
    te = p.v_read + (p.v_prog - p.v_read) * program if writes else Expr(number(p.v_read))
    elements = (
        BehavioralVoltage("te", "te", "0", te),
        Instance("r", sfa_rram_name(name), ("te", "div"), {param_name("gap0"): Expr("sfa_gap0")}),
        Resistor("load", "div", "0", p.r_load),
        BehavioralCurrent("track", "0", "hold",
                          (HOLD_CAPACITANCE / p.t_track) * (Expr("v(div)") - Expr("v(hold)")) * track),
        Capacitor("hold", "hold", "0", HOLD_CAPACITANCE, ic=(Expr("sfa_vth0") - p.v_offset) / p.gain),
        BehavioralVoltage("vth", "vth_out", "0", p.v_offset + p.gain * Expr("v(hold)")),
    )
    return Subckt(name=name, ports=("spike_in", "vth_out"), elements=elements,
                  params={"sfa_gap0": float(gap0), "sfa_vth0": vth0})


def sfa_instance_params(device: DeviceParams, gap0: float, params: SfaParams) -> dict[str, float]:
    """Per-instance overrides of an SFA cell's initial state: {'sfa_gap0', 'sfa_vth0'}."""
    return {"sfa_gap0": float(gap0), "sfa_vth0": float(sfa_threshold(device, gap0, params))}


def sfa_subckts(name: str, device: DeviceParams, gap0: float,
                params: SfaParams, *, writes: bool = True) -> tuple[Subckt, Subckt]:
    """(RRAM subcircuit, SFA cell subcircuit): both must be defined in the netlist."""
    return sfa_rram_subckt(name, device, gap0), sfa_cell(name, device, gap0, params, writes=writes)
