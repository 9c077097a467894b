"""A small netlist intermediate representation: frozen objects, one writer per dialect.

Names are checked on construction (``names.check_name``); numbers are SI floats, written by the
writers. Element names are logical ("cell_3_4"); writers add the dialect's type letter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Union

from netlist_gen.expr import Expr
from netlist_gen.names import check_name, check_node

Value = Union[float, Expr]  # a number, or an expression of subcircuit parameters


def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


def _value(value: Value, what: str) -> Value:
    return value if isinstance(value, Expr) else _finite(value, what)


def _check_params(params: Mapping[str, Value], owner: str) -> None:
    for key, value in params.items():
        check_name(key, f"parameter of {owner}")
        _value(value, f"parameter {key!r} of {owner}")


# ----------------------------------------------------------------------------- waveforms
@dataclass(frozen=True, slots=True)
class Pwl:
    """Piecewise-linear waveform: (time s, value) pairs with non-decreasing time."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values) or not self.times:
            raise ValueError("PWL needs equal, non-zero numbers of times and values")
        ts = [_finite(t, "PWL time") for t in self.times]
        for v in self.values:
            _finite(v, "PWL value")
        if any(b < a for a, b in zip(ts, ts[1:])):
            raise ValueError("PWL times must be non-decreasing")


@dataclass(frozen=True, slots=True)
class Pulse:
    v1: float  # initial value
    v2: float  # pulsed value
    delay: float  # s
    rise: float  # s
    fall: float  # s
    width: float  # s
    period: float  # s

    def __post_init__(self) -> None:
        for name in ("v1", "v2", "delay", "rise", "fall", "width", "period"):
            _finite(getattr(self, name), f"pulse {name}")


Waveform = Union[Pwl, Pulse, None]


# ----------------------------------------------------------------------------- elements
@dataclass(frozen=True, slots=True)
class Resistor:
    name: str
    p: str
    n: str
    r: Value  # ohm

    def __post_init__(self) -> None:
        check_name(self.name, "resistor name"), check_node(self.p, "node"), check_node(self.n, "node")
        if not isinstance(self.r, Expr) and not _finite(self.r, f"resistor {self.name}") > 0:
            raise ValueError(f"resistor {self.name}: resistance must be > 0 ohm, got {self.r}")


@dataclass(frozen=True, slots=True)
class Capacitor:
    name: str
    p: str
    n: str
    c: Value  # F
    ic: Value | None = None  # V, initial voltage (used with uic transients)

    def __post_init__(self) -> None:
        check_name(self.name, "capacitor name"), check_node(self.p, "node"), check_node(self.n, "node")
        _value(self.c, f"capacitor {self.name}")
        if self.ic is not None:
            _value(self.ic, f"capacitor {self.name} ic")


@dataclass(frozen=True, slots=True)
class _Source:
    name: str
    p: str
    n: str
    dc: float = 0.0  # V for a voltage source, A for a current source
    wave: Waveform = None

    def __post_init__(self) -> None:
        check_name(self.name, "source name"), check_node(self.p, "node"), check_node(self.n, "node")
        _finite(self.dc, f"source {self.name} dc")


@dataclass(frozen=True, slots=True)
class VSource(_Source):
    """Independent voltage source: V(p) - V(n) = dc, or the waveform in transients."""


@dataclass(frozen=True, slots=True)
class ISource(_Source):
    """Independent current source: the current flows from p through the source to n."""


@dataclass(frozen=True, slots=True)
class BehavioralCurrent:
    """Current ``expr`` (A) flowing from p through the element to n."""

    name: str
    p: str
    n: str
    expr: Expr

    def __post_init__(self) -> None:
        check_name(self.name, "element name"), check_node(self.p, "node"), check_node(self.n, "node")


@dataclass(frozen=True, slots=True)
class BehavioralVoltage:
    """Voltage ``expr`` (V) between p and n."""

    name: str
    p: str
    n: str
    expr: Expr

    def __post_init__(self) -> None:
        check_name(self.name, "element name"), check_node(self.p, "node"), check_node(self.n, "node")


@dataclass(frozen=True, slots=True)
class Switch:
    """Voltage-controlled switch between p and n, closed when V(cp, cn) exceeds the model's
    threshold (ngspice 'S' element; the model is a ``Model`` of kind 'sw')."""

    name: str
    p: str
    n: str
    cp: str
    cn: str
    model: str

    def __post_init__(self) -> None:
        check_name(self.name, "switch name"), check_name(self.model, "model name")
        for node in (self.p, self.n, self.cp, self.cn):
            check_node(node, "node")


@dataclass(frozen=True, slots=True)
class Mosfet:
    name: str
    d: str
    g: str
    s: str
    b: str
    model: str
    w: float  # m
    l: float  # m

    def __post_init__(self) -> None:
        check_name(self.name, "mosfet name"), check_name(self.model, "model name")
        for node in (self.d, self.g, self.s, self.b):
            check_node(node, "node")
        if not (_finite(self.w, "w") > 0 and _finite(self.l, "l") > 0):
            raise ValueError(f"mosfet {self.name}: w and l must be > 0 m")


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance of a subcircuit, with per-instance parameter overrides."""

    name: str
    subckt: str
    nodes: tuple[str, ...]
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "instance name"), check_name(self.subckt, "subcircuit name")
        for node in self.nodes:
            check_node(node, "node")
        _check_params(self.params, f"instance {self.name}")


Element = Union[Resistor, Capacitor, VSource, ISource, BehavioralCurrent, BehavioralVoltage,
                Switch, Mosfet, Instance]


@dataclass(frozen=True, slots=True)
class Model:
    """A device model card, e.g. an NMOS: kind 'nmos', params {'level': 1, 'vto': 0.5}."""

    name: str
    kind: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "model name"), check_name(self.kind, "model kind")
        _check_params(self.params, f"model {self.name}")


@dataclass(frozen=True, slots=True)
class Subckt:
    name: str
    ports: tuple[str, ...]
    elements: tuple[Element, ...]
    params: Mapping[str, float] = field(default_factory=dict)  # defaults, overridable per instance
    models: tuple[Model, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name, "subcircuit name")
        for port in self.ports:
            check_name(port, f"port of {self.name}")
        _check_params(self.params, f"subcircuit {self.name}")


# ----------------------------------------------------------------------------- analyses
@dataclass(frozen=True, slots=True)
class Op:
    """DC operating point."""


@dataclass(frozen=True, slots=True)
class Tran:
    step: float  # s, output step
    stop: float  # s
    start: float = 0.0  # s, first saved time
    max_step: float | None = None  # s
    uic: bool = False  # start from capacitor ICs instead of an operating point

    def __post_init__(self) -> None:
        if not (_finite(self.step, "tran step") > 0 and _finite(self.stop, "tran stop") > self.start):
            raise ValueError("transient needs step > 0 and stop > start")


@dataclass(frozen=True, slots=True)
class DcSweep:
    source: str  # name of a VSource / ISource
    start: float
    stop: float
    step: float

    def __post_init__(self) -> None:
        check_name(self.source, "swept source")
        if _finite(self.step, "dc step") == 0:
            raise ValueError("dc sweep step must be non-zero")


Analysis = Union[Op, Tran, DcSweep]


@dataclass(frozen=True, slots=True)
class Netlist:
    title: str
    elements: tuple[Element, ...]
    subckts: tuple[Subckt, ...] = ()
    models: tuple[Model, ...] = ()
    analysis: Analysis | None = None
    options: Mapping[str, float | str] = field(default_factory=dict)  # e.g. reltol=1e-6, method="gear"
    includes: tuple[str, ...] = ()  # model library files (.include)
    header: tuple[str, ...] = ()  # comment lines: generating command, parameters
    libs: tuple[tuple[str, str], ...] = ()  # (library file, section): `.lib "file" section`

    def __post_init__(self) -> None:
        for key, value in self.options.items():
            check_name(key, "option")
            if isinstance(value, str):
                check_name(value, f"value of option {key}")  # a keyword such as gear
            else:
                _finite(value, f"option {key}")
        for path in self.includes:
            if any(c in path for c in "\n\r\"'") or not path.strip():
                raise ValueError(f"include path {path!r} may not contain quotes or line breaks")
        for path, section in self.libs:
            if any(c in path for c in "\n\r\"'") or not path.strip():
                raise ValueError(f"library path {path!r} may not contain quotes or line breaks")
            check_name(section, "library section")
