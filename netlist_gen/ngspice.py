"""The ngspice writer: netlist objects -> deck text. Deterministic (no dates, no paths but
the includes the caller gave), never emits a ``.control`` block."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from netlist_gen.expr import Expr, number
from netlist_gen.ir import (Analysis, BehavioralCurrent, BehavioralVoltage, Capacitor, DcSweep, Element, Instance,
                            ISource, Model, Mosfet, Netlist, Op, Pulse, Pwl, Resistor, Subckt,
                            Switch, Tran, VSource, Value, Waveform)

_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def _text(line: str) -> str:
    """Comment/title text: printable ASCII only, so it can never break into a new line."""
    return _PRINTABLE.sub("?", line)


def _v(value: Value) -> str:
    return "{" + value.text + "}" if isinstance(value, Expr) else number(value)


def _params(params: Mapping[str, Value]) -> str:
    return " ".join(f"{k}={_v(v)}" for k, v in params.items())


def _wave(dc: float, wave: Waveform) -> str:
    if wave is None:
        return f"DC {number(dc)}"
    if isinstance(wave, Pwl):
        pairs = " ".join(f"{number(t)} {number(v)}" for t, v in zip(wave.times, wave.values))
        return f"DC {number(dc)} PWL({pairs})"
    assert isinstance(wave, Pulse)
    fields = (wave.v1, wave.v2, wave.delay, wave.rise, wave.fall, wave.width, wave.period)
    return f"DC {number(dc)} PULSE({' '.join(number(x) for x in fields)})"


def element_line(e: Element) -> str:
    if isinstance(e, Resistor):
        return f"R{e.name} {e.p} {e.n} {_v(e.r)}"
    if isinstance(e, Capacitor):
        ic = f" IC={_v(e.ic)}" if e.ic is not None else ""
        return f"C{e.name} {e.p} {e.n} {_v(e.c)}{ic}"
    if isinstance(e, VSource):
        return f"V{e.name} {e.p} {e.n} {_wave(e.dc, e.wave)}"
    if isinstance(e, ISource):
        return f"I{e.name} {e.p} {e.n} {_wave(e.dc, e.wave)}"
    if isinstance(e, BehavioralCurrent):
        return f"B{e.name} {e.p} {e.n} I={e.expr.text}"
    if isinstance(e, BehavioralVoltage):
        return f"B{e.name} {e.p} {e.n} V={e.expr.text}"
    if isinstance(e, Switch):
        return f"S{e.name} {e.p} {e.n} {e.cp} {e.cn} {e.model}"
    if isinstance(e, Mosfet):
        return f"M{e.name} {e.d} {e.g} {e.s} {e.b} {e.model} W={number(e.w)} L={number(e.l)}"
    if isinstance(e, Instance):
        params = f" {_params(e.params)}" if e.params else ""
        return f"X{e.name} {' '.join(e.nodes)} {e.subckt}{params}"
    raise TypeError(f"the ngspice writer does not know {type(e).__name__}")


def _model(m: Model) -> str:
    return f".model {m.name} {m.kind}({_params(m.params)})"


def _subckt(s: Subckt) -> Iterable[str]:
    params = f" params: {_params(s.params)}" if s.params else ""
    yield f".subckt {s.name} {' '.join(s.ports)}{params}"
    yield from (_model(m) for m in s.models)
    yield from (element_line(e) for e in s.elements)
    yield f".ends {s.name}"


def analysis_line(a: Analysis) -> str:
    if isinstance(a, Op):
        return ".op"
    if isinstance(a, Tran):
        tail = f" {number(a.start)}" if (a.start or a.max_step is not None) else ""
        tail += f" {number(a.max_step)}" if a.max_step is not None else ""
        return f".tran {number(a.step)} {number(a.stop)}{tail}{' uic' if a.uic else ''}"
    if isinstance(a, DcSweep):
        return f".dc {a.source} {number(a.start)} {number(a.stop)} {number(a.step)}"
    raise TypeError(f"unknown analysis {type(a).__name__}")


def write_ngspice(netlist: Netlist) -> str:
    """The deck text. Element order is the order of the netlist objects (stable)."""
    lines = [_text(netlist.title) or "rramcosim netlist"]
    lines += [f"* {_text(h)}" for h in netlist.header]
    lines += [f'.include "{path}"' for path in netlist.includes]
    lines += [f'.lib "{path}" {section}' for path, section in netlist.libs]
    if netlist.options:
        lines.append(".options " + " ".join(f"{k}={v if isinstance(v, str) else number(v)}"
                                            for k, v in netlist.options.items()))
    lines += [_model(m) for m in netlist.models]
    for s in netlist.subckts:
        lines += list(_subckt(s))
    lines += [element_line(e) for e in netlist.elements]
    if netlist.analysis is not None:
        lines.append(analysis_line(netlist.analysis))
    lines.append(".end")
    return "\n".join(lines) + "\n"
