"""The 1T1R cell, and programming circuits built from it (SET with gate compliance, RESET to V_STOP).

Cell topology (subcircuit ports ``bl wl sl``)::

    bl --[RRAM te->be]-- mid --[NMOS d->s, gate wl]-- sl
                                   bulk: ground (default) or sl

The RRAM's top electrode is on the bit line, its bottom electrode on the transistor drain, the
source on the source line. The bulk goes to ground by default: an NMOS in a p-substrate shares
one grounded body, so raising the source line (RESET) costs gate overdrive through the body
effect, as in ``compact_model.access`` (bulk at 0 V). ``Bulk.SOURCE_LINE`` ties it to the
source line instead (a device in its own well).

Every RRAM parameter is a parameter of the cell subcircuit and is passed down to the RRAM
instance, so per-cell device-to-device variability is an instance override of the cell
(``CellDesign.instance(..., device=...)``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Sequence

from compact_model.params import DeviceParams
from netlist_gen.expr import Expr
from netlist_gen.ir import Instance, Model, Netlist, Pwl, Subckt, Tran, VSource
from netlist_gen.names import check_name
from netlist_gen.rram import device_params_for_instance, param_name, rram_static_subckt, rram_subckt

from circuits.transistors import TransistorCard, make_netlist

RRAM_INSTANCE = "rr"  # name of the RRAM instance inside the cell (ngspice path x<cell>.xrr)
ACCESS_INSTANCE = "acc"
MID_NODE = "mid"  # RRAM bottom electrode = transistor drain
DEFAULT_EDGE = 10e-9  # s, rise and fall time of programming pulses (as compact_model.programming)
# ngspice's default reltol 1e-3 lets the abrupt SET overshoot (final gaps off by tens of %, even
# non-monotone in V_G, at 1 ns steps); at 1e-5 the final gaps agree to 1e-4 between 1 ns and
# 0.2 ns maximum steps (measured on siox-literature, V_G 1.2-2.0 V).
PROGRAMMING_RELTOL = 1e-5


class Bulk(enum.Enum):
    """Where the access transistor's bulk connects."""

    GROUND = "ground"  # common grounded p-substrate (default)
    SOURCE_LINE = "source_line"  # bulk tied to the source (isolated well): no body effect


@dataclass(frozen=True, slots=True, kw_only=True)
class CellDesign:
    """A 1T1R cell: its subcircuit and everything a netlist must define for it."""

    subckt: Subckt  # the cell, ports (bl, wl, sl)
    subckts: tuple[Subckt, ...]  # every definition needed, dependencies first (ends with subckt)
    transistor: TransistorCard
    dynamic: bool  # True: the RRAM state evolves (node gap, in nm); False: fixed gap parameter
    state_param: str  # the instance parameter holding the state: rr_gap (m) or rr_gap0 (m)

    @property
    def models(self) -> tuple[Model, ...]:
        return self.transistor.models

    def instance(self, name: str, bl: str, wl: str, sl: str, *, gap: float | None = None,
                 device: DeviceParams | None = None) -> Instance:
        """One cell; ``gap`` (m) and ``device`` override the subcircuit's defaults."""
        params: dict[str, float] = {}
        if device is not None:
            params.update(device_params_for_instance(device))
        if gap is not None:
            params[self.state_param] = _positive(gap, "gap")
        return Instance(name, self.subckt.name, (bl, wl, sl), params)

    def state_node(self, instance_name: str) -> str:
        """The ngspice name of a dynamic cell's state node (volts = gap in nm)."""
        if not self.dynamic:
            raise ValueError("a static cell has no state node; its gap is the parameter rr_gap")
        return f"x{instance_name}.x{RRAM_INSTANCE}.gap"


def _positive(value: float, what: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be finite and > 0, got {value}")
    return value


def cell_1t1r(name: str, device: DeviceParams, gap: float, transistor: TransistorCard, *,
              dynamic: bool = False, bulk: Bulk = Bulk.GROUND) -> CellDesign:
    """A 1T1R cell subcircuit ``name`` with ports (bl, wl, sl).

    ``gap`` (m) is the default state: the fixed gap of a static cell (parameter ``rr_gap``) or
    the initial gap of a dynamic one (``rr_gap0``; run transients with ``uic``).
    """
    check_name(name, "cell name")
    gap = _positive(gap, "gap")
    rram_name = f"{name}_rram"
    rram = (rram_subckt(device, gap, name=rram_name) if dynamic
            else rram_static_subckt(device, gap, name=rram_name))
    state_param = param_name("gap0" if dynamic else "gap")
    # The cell re-exposes every RRAM parameter and forwards it: {rr_x} is evaluated in the
    # cell's scope, so an override on the cell instance reaches the device.
    forwarded = {key: Expr(key) for key in rram.params}
    b = "0" if bulk is Bulk.GROUND else "sl"
    elements = (
        Instance(RRAM_INSTANCE, rram_name, ("bl", MID_NODE), forwarded),
        transistor.element(ACCESS_INSTANCE, MID_NODE, "wl", "sl", b),
    )
    cell = Subckt(name=name, ports=("bl", "wl", "sl"), elements=elements, params=dict(rram.params))
    return CellDesign(subckt=cell, subckts=(rram, cell), transistor=transistor, dynamic=dynamic,
                      state_param=state_param)


# ----------------------------------------------------------------------------- programming
@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammingCircuit:
    """A programming transient: one cell per condition, all in one netlist."""

    netlist: Netlist
    cells: tuple[str, ...]  # cell instance names, one per condition
    conditions: tuple[float, ...]  # V_G of each cell (SET) or V_STOP of each cell (RESET), V
    gap_nodes: tuple[str, ...]  # ngspice state node of each cell (volts = gap in nm)
    current_sources: tuple[str, ...]  # SPICE name of the source in series with each cell


def _values(values: Sequence[float] | Any, what: str) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} must be a non-empty sequence of finite numbers")
    return out


def _drive_polarity(device: DeviceParams, operation_sign: int) -> bool:
    """True when the bit line is driven (TE-BE voltage positive), False for the source line."""
    return int(device.set_polarity) * operation_sign > 0


def set_1t1r_netlist(device: DeviceParams, transistor: TransistorCard,
                     v_gate_values: Sequence[float], *, v_bl: float = 2.0, width: float = 1e-6,
                     edge: float = DEFAULT_EDGE, gap0: float | None = None,
                     max_step: float | None = None, bulk: Bulk = Bulk.GROUND) -> ProgrammingCircuit:
    """1T1R SET with the compliance set by the gate: cell k has its gate at ``v_gate_values[k]``.

    One trapezoidal pulse of ``v_bl`` (V magnitude; 0 -> v_bl in ``edge``, held ``width``, back
    in ``edge``) drives every cell from the HRS (``gap0``, default g_max). A positive-SET device
    gets the pulse on the bit line with the source line at 0 V; a negative-SET device on the
    source line with the bit line at 0 V. Each cell has its own gate source ``vg_k`` and a 0 V
    source ``vsense_k`` on its grounded line, whose current is the cell current.
    """
    gates = _values(v_gate_values, "v_gate_values")
    for value, what in ((v_bl, "v_bl"), (width, "width"), (edge, "edge")):
        _positive(value, what)
    gap0 = device.g_max if gap0 is None else gap0
    design = cell_1t1r("cell1t1r", device, gap0, transistor, dynamic=True, bulk=bulk)
    stop = 3 * edge + width
    pulse = Pwl((0.0, edge, edge + width, 2 * edge + width), (0.0, abs(v_bl), abs(v_bl), 0.0))
    drive_bl = _drive_polarity(device, +1)
    elements: list[Any] = [VSource("drive", "drive", "0", 0.0, pulse)]
    cells, sources = [], []
    for k, vg in enumerate(gates):
        cell, gate, grounded = f"set_{k}", f"g_{k}", f"s_{k}"
        bl, sl = ("drive", grounded) if drive_bl else (grounded, "drive")
        elements += [VSource(f"g_{k}", gate, "0", vg), VSource(f"sense_{k}", grounded, "0", 0.0),
                     design.instance(cell, bl, gate, sl)]
        cells.append(cell)
        sources.append(f"vsense_{k}")
    netlist = make_netlist(
        title=f"1T1R SET, {len(gates)} gate voltages",
        header=(f"SET pulse {abs(v_bl)!r} V, width {width!r} s, edge {edge!r} s, from gap "
                f"{gap0!r} m; gate voltages (V): {', '.join(repr(v) for v in gates)}",),
        subckts=design.subckts, models=design.models, includes=transistor.includes,
        libs=transistor.libs, elements=tuple(elements), options={"reltol": PROGRAMMING_RELTOL},
        analysis=Tran(edge / 10, stop, max_step=max_step or edge / 10, uic=True))
    return ProgrammingCircuit(netlist=netlist, cells=tuple(cells), conditions=gates,
                              gap_nodes=tuple(design.state_node(c) for c in cells),
                              current_sources=tuple(sources))


def reset_1t1r_netlist(device: DeviceParams, transistor: TransistorCard,
                       v_stop_values: Sequence[float], *, gap0: float, v_gate: float = 4.0,
                       ramp_time: float = 1e-3, edge: float = DEFAULT_EDGE,
                       max_step: float | None = None,
                       bulk: Bulk = Bulk.GROUND) -> ProgrammingCircuit:
    """1T1R RESET to V_STOP: cell k sees a ramp 0 -> |v_stop_values[k]| over ``ramp_time`` (s),
    then back to 0 in ``edge``, with every gate at ``v_gate`` (high, so the transistor does not
    limit the RESET current).

    A positive-SET device gets the ramp on its source line with the bit line at 0 V (the
    device voltage turns negative); a negative-SET device on its bit line. Every cell starts at
    ``gap0`` (m), an LRS: no default, because whether the access transistor can RESET a state
    depends on it (the generic W/L = 2 card cannot drive the ~1 mA that a fully SET g_min
    device needs). The maximum time step defaults to ramp_time / 500. Cell k's ramp source is
    ``vramp_k``; the grounded lines share the 0 V source ``vsense``.
    """
    stops = tuple(abs(v) for v in _values(v_stop_values, "v_stop_values"))
    for value, what in ((ramp_time, "ramp_time"), (edge, "edge")):
        _positive(value, what)
    design = cell_1t1r("cell1t1r", device, gap0, transistor, dynamic=True, bulk=bulk)
    drive_bl = _drive_polarity(device, -1)
    elements: list[Any] = [VSource("gate", "wl", "0", float(v_gate)),
                           VSource("sense", "grounded", "0", 0.0)]
    cells, sources = [], []
    for k, v_stop in enumerate(stops):
        cell, ramp = f"reset_{k}", f"ramp_{k}"
        wave = Pwl((0.0, ramp_time, ramp_time + edge), (0.0, v_stop, 0.0))
        bl, sl = (ramp, "grounded") if drive_bl else ("grounded", ramp)
        elements += [VSource(ramp, ramp, "0", 0.0, wave), design.instance(cell, bl, "wl", sl)]
        cells.append(cell)
        sources.append(f"v{ramp}")
    stop = ramp_time + 2 * edge
    step = max_step or ramp_time / 500
    netlist = make_netlist(
        title=f"1T1R RESET, {len(stops)} stop voltages",
        header=(f"RESET ramp over {ramp_time!r} s, gate {float(v_gate)!r} V, from gap {gap0!r} m; "
                f"V_STOP (V): {', '.join(repr(v) for v in stops)}",),
        subckts=design.subckts, models=design.models, includes=transistor.includes,
        libs=transistor.libs, elements=tuple(elements), options={"reltol": PROGRAMMING_RELTOL},
        analysis=Tran(step, stop, max_step=step, uic=True))
    return ProgrammingCircuit(netlist=netlist, cells=tuple(cells), conditions=stops,
                              gap_nodes=tuple(design.state_node(c) for c in cells),
                              current_sources=tuple(sources))
