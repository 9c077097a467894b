"""The VACASK writer: the same netlist objects in VACASK's Spectre-like dialect.

VACASK has no behavioural B-sources: every device is an OSDI module. So subcircuits written
from ``compact_model.equations`` (the RRAM) are replaced by their Verilog-A form, compiled by
OpenVAF; the caller maps each such subcircuit name to its compiled ``.osdi`` file. Element names
keep the ngspice type letter ("rs", "vin", "xd1") so results carry the same names in both
simulators. Supported: R, C, V/I sources (DC, PWL, pulse), instances of Verilog-A modules,
operating point and transient analyses.
"""

from __future__ import annotations

from typing import Mapping

from netlist_gen.expr import Expr, number
from netlist_gen.ir import (Capacitor, DcSweep, Element, Instance, ISource, Netlist, Op, Pulse, Pwl,
                            Resistor, Tran, VSource, Waveform)
from netlist_gen.ngspice import _text

BUILTIN_OSDI = {"resistor": "resistor.osdi", "capacitor": "capacitor.osdi"}


def _num(value: object, what: str) -> str:
    if isinstance(value, Expr):
        raise ValueError(f"{what}: VACASK netlists take numbers here, not expressions")
    return number(float(value))  # type: ignore[arg-type]


def _source(kind: str, e: VSource | ISource) -> str:
    head = f"{kind[0]}{e.name} ({e.p} {e.n}) {kind}"
    wave: Waveform = e.wave
    if wave is None:
        return f"{head} dc={number(e.dc)}"
    if isinstance(wave, Pwl):
        points = ", ".join(f"{number(t)}, {number(v)}" for t, v in zip(wave.times, wave.values))
        return f'{head} type="pwl" wave=[{points}]'
    assert isinstance(wave, Pulse)
    return (f'{head} type="pulse" val0={number(wave.v1)} val1={number(wave.v2)} '
            f"delay={number(wave.delay)} rise={number(wave.rise)} fall={number(wave.fall)} "
            f"width={number(wave.width)} period={number(wave.period)}")


def _element(e: Element, osdi: Mapping[str, str]) -> str:
    if isinstance(e, Resistor):
        return f"r{e.name} ({e.p} {e.n}) resistor r={_num(e.r, 'resistor ' + e.name)}"
    if isinstance(e, Capacitor):
        return f"c{e.name} ({e.p} {e.n}) capacitor c={_num(e.c, 'capacitor ' + e.name)}"
    if isinstance(e, VSource):
        return _source("vsource", e)
    if isinstance(e, ISource):
        return _source("isource", e)
    if isinstance(e, Instance):
        if e.subckt not in osdi:
            raise ValueError(f"instance {e.name}: subcircuit {e.subckt!r} has no Verilog-A module "
                             "for VACASK (pass it in va_modules)")
        params = "".join(f" {k}={_num(v, e.name + '.' + k)}" for k, v in e.params.items())
        return f"x{e.name} ({' '.join(e.nodes)}) {e.subckt}{params}"
    raise ValueError(f"the VACASK writer cannot write {type(e).__name__} {getattr(e, 'name', '')!r}")


def write_vacask(netlist: Netlist, va_modules: Mapping[str, str] | None = None) -> str:
    """Deck text for VACASK. ``va_modules`` maps subcircuit names to compiled ``.osdi`` paths."""
    osdi = dict(va_modules or {})
    for path in osdi.values():
        if any(c in path for c in '\n\r"'):
            raise ValueError(f"module path {path!r} may not contain quotes or line breaks")
    kinds = {type(e) for e in netlist.elements}
    lines = [_text(netlist.title) or "rramcosim netlist"]  # the first line is always the title
    lines += [f"// {_text(h)}" for h in netlist.header]
    for kind, cls in (("resistor", Resistor), ("capacitor", Capacitor)):
        if cls in kinds:
            lines += [f'load "{BUILTIN_OSDI[kind]}"', f"model {kind} {kind}"]
    for name, path in sorted(osdi.items()):
        lines += [f'load "{path}"', f"model {name} {name}"]
    if VSource in kinds:
        lines.append("model vsource vsource")
    if ISource in kinds:
        lines.append("model isource isource")
    lines += [_element(e, osdi) for e in netlist.elements]
    lines.append("control")
    a = netlist.analysis
    if isinstance(a, Op):
        lines.append("  analysis op1 op")
    elif isinstance(a, Tran):
        max_step = f" maxstep={number(a.max_step)}" if a.max_step is not None else ""
        lines.append(f"  analysis tran1 tran step={number(a.step)} stop={number(a.stop)}{max_step}")
    elif isinstance(a, DcSweep):
        raise ValueError("DC sweeps are not written for VACASK: use one operating point with a "
                         "source per input vector, or a transient")
    lines.append("endc")
    return "\n".join(lines) + "\n"
