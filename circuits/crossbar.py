"""Crossbar arrays with wire parasitics and column read-out, as netlist objects.

Topology of a ``rows`` x P array (P physical columns: ``cols``, or ``2 cols`` when differential)::

    vin_i -> in_i -[wr_i_0]- r_i_0 -[wr_i_1]- r_i_1 - ... - r_i_{P-1}        (row i, left to right)
                               |cell_i_0         |cell_i_1
    column L (top to bottom):  L_0 -[wc_0_k]- L_1 - ... - L_{rows-1} -[wc_{rows-1}_k]- L_bot

* Row i is driven at its left end by the source ``vin_i`` (DC value, or a PWL for
  time-multiplexed inputs); one wire segment ``wr_i_k`` (``Wire.r_row`` ohm) per cell pitch,
  the first one between the driver and the first cell.
* Column k (label L: ``col_j``; or ``colp_j`` and ``coln_j`` for the G+ and G- columns of a
  differential pair, which sit side by side, ``colp_j`` left) runs from row 0 down to its
  bottom node ``L_bot``, one segment ``wc_i_k`` (``Wire.r_col`` ohm) per cell pitch, the last
  one between the last cell and the read-out.
* A zero wire resistance merges the nodes (no 0 ohm resistors): every cell of row i then sits
  on ``in_i``, every cell of column L on ``L_bot``.
* Wire capacitance (``Wire.c_row`` / ``c_col``, F per segment) goes from each wire node to
  ground, as capacitors ``cr_i_k`` / ``cc_i_k``.
* Read-out ``VIRTUAL_GROUND``: a 0 V source ``vsense_L`` from ``L_bot`` to ground; its current
  is the column current (positive flowing down the column). ``TIA``: ``vsense_L`` feeds the
  summing node ``L_sum`` of an op-amp (behavioural source of open-loop gain
  ``CrossbarSpec.opamp_gain``, non-inverting input grounded) with the feedback resistor
  ``rf_L`` (``r_f`` ohm) to its output node ``L_out``: V(L_out) = -r_f I A/(1+A).
* Cells: ``cell_i_k`` between ``r_i_k`` (or ``in_i``) and the column node: a resistor
  (``CellKind.RESISTOR``), the static RRAM subcircuit (``RRAM_1R``: top electrode on the row),
  or a 1T1R cell (``RRAM_1T1R``: bit line on the row, source line on the column, every gate on
  the node ``wl`` driven by ``vwl`` at ``v_gate``).

Indices: i is the row, k the physical column (a differential pair j has k = 2j and 2j + 1).
States are arrays: conductances (S) for ``RESISTOR`` cells (0 S: no cell), gaps (m) for RRAM
cells; shape (rows, cols), or (2, rows, cols) = (G+ or gap+, G- or gap-) when differential.

Scale: a 1024 x 1024 array with both wires is 3.1 million elements. The repeated elements are
made with their names and values checked in bulk rather than per object, and with the cyclic
garbage collector paused (``_bulk_constructor``, ``_gc_paused``): building + writing then takes
~2.3x a plain string join of the same text (benchmarks/netlist_write.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import gc
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from compact_model.params import DeviceParams
from compact_model.variability import DeviceBatch
from netlist_gen.expr import Expr
from netlist_gen.ir import (Analysis, BehavioralVoltage, Capacitor, Element, Instance, Model,
                            Netlist, Op, Pwl, Resistor, Subckt, VSource)
from netlist_gen.names import check_name
from netlist_gen.ngspice import write_ngspice
from netlist_gen.rram import param_name, rram_static_subckt

from circuits.cell import Bulk, cell_1t1r
from circuits.transistors import LibSection, TransistorCard, make_netlist

RRAM_SUBCKT = "rram_static"
CELL_SUBCKT = "cell1t1r"
GATE_NODE = "wl"


class CellKind(enum.Enum):
    RESISTOR = "resistor"  # a linear resistor of the given conductance (linear read model)
    RRAM_1R = "1r"  # the static RRAM subcircuit (non-linear I-V at a fixed gap)
    RRAM_1T1R = "1t1r"  # static RRAM + access transistor, every gate at v_gate


class Readout(enum.Enum):
    VIRTUAL_GROUND = "virtual_ground"  # 0 V source at each column bottom
    TIA = "tia"  # transimpedance amplifier per column: V_out = -r_f * I


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def _finite_ge0(value: float, name: str) -> None:
    _check(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0,
           f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Wire:
    """Wire parasitics, per segment (one segment per cell pitch)."""

    r_row: float = 0.0  # ohm per row-wire segment (0: ideal wire, nodes merged)
    r_col: float = 0.0  # ohm per column-wire segment (0: ideal wire, nodes merged)
    c_row: float = 0.0  # F per row-wire segment, to ground (0: none)
    c_col: float = 0.0  # F per column-wire segment, to ground (0: none)

    def __post_init__(self) -> None:
        for name in ("r_row", "r_col", "c_row", "c_col"):
            _finite_ge0(getattr(self, name), name)
        _check(not (self.c_row and not self.r_row) and not (self.c_col and not self.r_col),
               "wire capacitance needs a non-zero wire resistance of the same wire (a capacitor "
               "on an ideally driven node does nothing)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossbarSpec:
    """What to build; the states (conductances or gaps) and inputs are given separately."""

    rows: int  # 1, number of row (input) lines
    cols: int  # 1, number of logical columns (outputs); 2 * cols physical ones if differential
    cell_kind: CellKind = CellKind.RESISTOR
    wire: Wire = Wire()
    readout: Readout = Readout.VIRTUAL_GROUND
    differential: bool = False  # two columns per weight, G+ (colp_j) and G- (coln_j)
    r_f: float = 10e3  # ohm, TIA feedback resistor
    opamp_gain: float = 1e6  # 1, open-loop gain of the TIA op-amp (1e6: gain error 1e-6)
    v_gate: float = 2.0  # V, word-line voltage of every 1T1R cell
    device: DeviceParams | None = None  # RRAM parameters (RRAM_1R, RRAM_1T1R)
    transistor: TransistorCard | None = None  # access device (RRAM_1T1R)
    bulk: Bulk = Bulk.GROUND  # 1T1R bulk connection

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                   f"{name} must be an integer >= 1, got {value!r}")
        _check(isinstance(self.cell_kind, CellKind), "cell_kind must be a CellKind")
        _check(isinstance(self.readout, Readout), "readout must be a Readout")
        _check(isinstance(self.wire, Wire), "wire must be a Wire")
        _check(math.isfinite(self.r_f) and self.r_f > 0, f"r_f must be > 0 ohm, got {self.r_f}")
        _check(math.isfinite(self.opamp_gain) and self.opamp_gain > 0,
               f"opamp_gain must be > 0, got {self.opamp_gain}")
        _check(math.isfinite(self.v_gate), f"v_gate must be finite, got {self.v_gate}")
        if self.cell_kind is not CellKind.RESISTOR:
            _check(self.device is not None, f"{self.cell_kind.value} cells need device parameters")
        if self.cell_kind is CellKind.RRAM_1T1R:
            _check(self.transistor is not None, "1T1R cells need a transistor card")

    @property
    def physical_cols(self) -> int:
        return 2 * self.cols if self.differential else self.cols

    @property
    def column_labels(self) -> tuple[str, ...]:
        """Physical columns left to right: col_j, or colp_j, coln_j pairs."""
        if self.differential:
            return tuple(f"col{s}_{j}" for j in range(self.cols) for s in ("p", "n"))
        return tuple(f"col_{j}" for j in range(self.cols))

    def replace(self, **changes: Any) -> "CrossbarSpec":
        return dataclasses.replace(self, **changes)


def physical_states(spec: CrossbarSpec, states: Any) -> np.ndarray:
    """States as a (rows, physical_cols) float array, validated.

    Differential states (2, rows, cols) interleave: physical column 2j is G+_j, 2j+1 is G-_j.
    """
    arr = np.asarray(states, dtype=float)
    shape = (2, spec.rows, spec.cols) if spec.differential else (spec.rows, spec.cols)
    _check(arr.shape == shape, f"states must have shape {shape}, got {arr.shape}")
    _check(bool(np.all(np.isfinite(arr))), "states must be finite")
    if spec.cell_kind is CellKind.RESISTOR:
        _check(bool(np.all(arr >= 0)), "conductances must be >= 0 S (0: no cell)")
    else:
        _check(bool(np.all(arr > 0)), "gaps must be > 0 m")
    if not spec.differential:
        return arr
    out = np.empty((spec.rows, 2 * spec.cols))
    out[:, 0::2], out[:, 1::2] = arr[0], arr[1]
    return out


def _inputs(spec: CrossbarSpec, inputs: Any) -> list[tuple[float, Pwl | None]]:
    """Per row (dc value, waveform or None)."""
    if inputs is None:
        return [(0.0, None)] * spec.rows
    if isinstance(inputs, (int, float, np.floating)):
        _check(math.isfinite(float(inputs)), "input voltage must be finite")
        return [(float(inputs), None)] * spec.rows
    items = list(inputs)
    _check(len(items) == spec.rows, f"need one input per row ({spec.rows}), got {len(items)}")
    out: list[tuple[float, Pwl | None]] = []
    for item in items:
        if isinstance(item, Pwl):
            out.append((float(item.values[0]), item))
        else:
            value = float(item)
            _check(math.isfinite(value), "input voltages must be finite")
            out.append((value, None))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossbarCircuit:
    """A built crossbar: definitions, elements and the names callers need to probe it."""

    spec: CrossbarSpec
    subckts: tuple[Subckt, ...]
    models: tuple[Model, ...]
    elements: tuple[Element, ...]
    includes: tuple[str, ...]  # .include files (transistor card)
    libs: tuple[LibSection, ...]  # .lib sections (transistor card)
    input_sources: tuple[str, ...]  # SPICE names of the row sources, row order ("vin_0", ...)
    column_labels: tuple[str, ...]  # physical columns, left to right
    current_probes: tuple[str, ...]  # SPICE names of the 0 V sense sources, per physical column
    output_nodes: tuple[str, ...]  # TIA output node per physical column (() for virtual ground)
    gate_source: str | None  # SPICE name of the word-line source (1T1R), else None

    def netlist(self, *, analysis: Analysis | None = None, options: Mapping[str, float] | None = None,
                title: str | None = None, header: tuple[str, ...] = ()) -> Netlist:
        """The netlist, with an analysis such as ``Op()``, ``DcSweep("vin_0", ...)`` or ``Tran``."""
        spec = self.spec
        return make_netlist(
            title=title or f"crossbar {spec.rows}x{spec.cols} {spec.cell_kind.value}",
            header=header, subckts=self.subckts, models=self.models, elements=self.elements,
            includes=self.includes, libs=self.libs, analysis=analysis, options=dict(options or {}))

    def column_currents(self, vectors: Mapping[str, Any]) -> np.ndarray:
        """Physical column currents (A) from a simulator's ``{'i(vsense_col_0)': ...}`` result."""
        return np.array([np.asarray(vectors[f"i({p})"]) for p in self.current_probes])

    def output_voltages(self, vectors: Mapping[str, Any]) -> np.ndarray:
        """TIA output voltages (V) from a simulator's ``{'v(col_0_out)': ...}`` result."""
        _check(bool(self.output_nodes), "only a TIA read-out has output nodes")
        return np.array([np.asarray(vectors[f"v({n})"]) for n in self.output_nodes])


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small, acyclic IR objects are made.

    Each allocation burst would otherwise trigger collections that rescan the growing heap:
    measured, half the build time of a 1024 x 1024 array. Nothing built here forms a cycle.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def crossbar(spec: CrossbarSpec, states: Any, inputs: Any = None, *,
             devices: DeviceBatch | None = None) -> CrossbarCircuit:
    """Build the crossbar of ``spec`` with cell ``states`` and row ``inputs``.

    ``inputs``: None (0 V), one number for every row, or a sequence of one number or ``Pwl``
    per row (volts). ``devices``: device-to-device variability for RRAM cells, a
    ``compact_model.variability.DeviceBatch`` of rows x physical_cols devices in row-major
    order (e.g. ``sample_devices(p, var, n, np.random.default_rng(seed))``); its per-device
    values become instance parameter overrides. Node, element and source names are described
    in the module docstring.
    """
    with _gc_paused():
        return _build(spec, states, inputs, devices)


def _device_overrides(spec: CrossbarSpec, devices: DeviceBatch | None) -> list[list[dict[str, float]]] | None:
    """Per-cell instance parameters of the batch's per-device (array-valued) fields."""
    if devices is None:
        return None
    _check(spec.cell_kind is not CellKind.RESISTOR, "device variability needs RRAM cells")
    n = spec.rows * spec.physical_cols
    varying = {}
    for f in dataclasses.fields(devices):
        value = getattr(devices, f.name)
        if f.name != "set_polarity" and np.ndim(value):
            arr = np.asarray(value, dtype=float)
            _check(arr.shape == (n,), f"devices.{f.name} must have {n} values (rows x physical "
                   f"columns, row-major), got shape {arr.shape}")
            _check(bool(np.all(np.isfinite(arr))), f"devices.{f.name} must be finite")
            varying[param_name(f.name)] = arr.reshape(spec.rows, spec.physical_cols).tolist()
    return [[{k: v[i][j] for k, v in varying.items()} for j in range(spec.physical_cols)]
            for i in range(spec.rows)]


def _bulk_constructor(cls: type, fields: tuple[str, ...]) -> Callable[..., Any]:
    """A constructor of the frozen IR class ``cls`` that skips its per-object ``__post_init__``.

    Only for the array's repeated elements, whose checks ``_build`` does once for all of them:
    every name is a checked prefix plus integer indices (``_check_patterns``), every value is
    checked as an array. The IR checks cost ~1.5 us per object, ~3/4 of building a large array.
    Refuses to work if the IR class's fields are not the expected ones, so a change of the IR
    cannot slip past; the tests rebuild every element through the checked constructor.
    """
    actual = tuple(f.name for f in dataclasses.fields(cls))
    if actual != fields:
        raise RuntimeError(f"netlist_gen.ir.{cls.__name__} has fields {actual}, circuits.crossbar "
                           f"expects {fields}: update _bulk_constructor's callers")
    new, put = object.__new__, object.__setattr__
    if len(fields) == 4:  # unrolled: a loop over the fields doubles the cost
        f0, f1, f2, f3 = fields

        def make4(v0: Any, v1: Any, v2: Any, v3: Any) -> Any:
            obj = new(cls)
            put(obj, f0, v0)
            put(obj, f1, v1)
            put(obj, f2, v2)
            put(obj, f3, v3)
            return obj

        return make4
    if len(fields) == 5:
        f0, f1, f2, f3, f4 = fields

        def make5(v0: Any, v1: Any, v2: Any, v3: Any, v4: Any) -> Any:
            obj = new(cls)
            put(obj, f0, v0)
            put(obj, f1, v1)
            put(obj, f2, v2)
            put(obj, f3, v3)
            put(obj, f4, v4)
            return obj

        return make5
    raise ValueError(f"no bulk constructor for {len(fields)} fields")


def _check_patterns(rows: int, cols: int, labels: tuple[str, ...]) -> None:
    """Every bulk-made name is one of these patterns with indices below (rows, cols): all of
    [a-z][a-z0-9_]* by construction, so the longest instance of each is the one to check."""
    i, k = rows - 1, cols - 1
    for lab in labels:
        check_name(f"{lab}_{i}", "column node")
    for name in (f"r_{i}_{k}", f"in_{i}", f"cell_{i}_{k}", f"wr_{i}_{k}", f"wc_{i}_{k}",
                 f"cr_{i}_{k}", f"cc_{i}_{k}"):
        check_name(name, "crossbar name")


def _build(spec: CrossbarSpec, states: Any, inputs: Any,
           devices: DeviceBatch | None = None) -> CrossbarCircuit:
    g = physical_states(spec, states)
    overrides = _device_overrides(spec, devices)
    rows, cols, wire = spec.rows, spec.physical_cols, spec.wire
    labels = spec.column_labels
    _check_patterns(rows, cols, labels)
    _resistor = _bulk_constructor(Resistor, ("name", "p", "n", "r"))
    _capacitor = _bulk_constructor(Capacitor, ("name", "p", "n", "c", "ic"))
    _instance = _bulk_constructor(Instance, ("name", "subckt", "nodes", "params"))
    row_inputs = _inputs(spec, inputs)
    elements: list[Element] = []
    input_nodes = [f"in_{i}" for i in range(rows)]
    for i, (dc, wave) in enumerate(row_inputs):
        elements.append(VSource(input_nodes[i], input_nodes[i], "0", dc, wave))

    subckts: tuple[Subckt, ...] = ()
    models: tuple[Model, ...] = ()
    includes: tuple[str, ...] = ()
    libs: tuple[LibSection, ...] = ()
    gate_source = None
    if spec.cell_kind is CellKind.RESISTOR:
        with np.errstate(divide="ignore", over="ignore"):  # checked just below
            r_cell = np.where(g > 0, 1.0 / g, 0.0)
        _check(bool(np.all(np.isfinite(r_cell))), "conductances too small: 1/G overflows")
        values = r_cell.tolist()

        def cell(name: str, a: str, b: str, v: float, extra: dict[str, float]) -> Element | None:
            return _resistor(name, a, b, v) if v > 0 else None  # G = 0: no cell
    elif spec.cell_kind is CellKind.RRAM_1R:
        assert spec.device is not None
        subckts = (rram_static_subckt(spec.device, spec.device.g_max, name=RRAM_SUBCKT),)
        gap_key = param_name("gap")
        values = g.tolist()

        def cell(name: str, a: str, b: str, v: float, extra: dict[str, float]) -> Element | None:
            return _instance(name, RRAM_SUBCKT, (a, b), {**extra, gap_key: v})
    else:
        assert spec.device is not None and spec.transistor is not None
        design = cell_1t1r(CELL_SUBCKT, spec.device, spec.device.g_max, spec.transistor,
                           bulk=spec.bulk)
        subckts, models = design.subckts, design.models
        includes, libs = spec.transistor.includes, spec.transistor.libs
        elements.append(VSource(GATE_NODE, GATE_NODE, "0", spec.v_gate))
        gate_source = f"v{GATE_NODE}"
        gap_key = design.state_param
        values = g.tolist()

        def cell(name: str, a: str, b: str, v: float, extra: dict[str, float]) -> Element | None:
            return _instance(name, CELL_SUBCKT, (a, GATE_NODE, b), {**extra, gap_key: v})

    # Node names, each string built once and shared by every element on the node. Wire values
    # were checked by Wire (finite, >= 0) and are used only when > 0.
    bottoms = [f"{lab}_bot" for lab in labels]
    if wire.r_col > 0:
        col_nodes = [[f"{lab}_{i}" for lab in labels] for i in range(rows)]
        below = col_nodes[1:] + [bottoms]
    else:
        col_nodes = [bottoms] * rows
        below = []
    r_row, r_col, c_row, c_col = (float(x) for x in (wire.r_row, wire.r_col, wire.c_row, wire.c_col))
    ks = range(cols)
    for i in range(rows):
        here = col_nodes[i]
        vals = values[i]
        if r_row > 0:
            row_nodes = [f"r_{i}_{k}" for k in ks]
            left = [input_nodes[i]] + row_nodes[:-1]
            elements.extend([_resistor(f"wr_{i}_{k}", left[k], row_nodes[k], r_row) for k in ks])
            if c_row > 0:
                elements.extend([_capacitor(f"cr_{i}_{k}", row_nodes[k], "0", c_row, None) for k in ks])
        else:
            row_nodes = [input_nodes[i]] * cols
        extras = overrides[i] if overrides is not None else [{}] * cols
        made = [cell(f"cell_{i}_{k}", row_nodes[k], here[k], vals[k], extras[k]) for k in ks]
        elements.extend([e for e in made if e is not None])
        if r_col > 0:
            nxt = below[i]
            elements.extend([_resistor(f"wc_{i}_{k}", here[k], nxt[k], r_col) for k in ks])
            if c_col > 0:
                elements.extend([_capacitor(f"cc_{i}_{k}", here[k], "0", c_col, None) for k in ks])

    probes, outputs = [], []
    for lab, bot in zip(labels, bottoms):
        probes.append(f"vsense_{lab}")
        if spec.readout is Readout.VIRTUAL_GROUND:
            elements.append(VSource(f"sense_{lab}", bot, "0", 0.0))
            continue
        summing, out = f"{lab}_sum", f"{lab}_out"
        elements += [VSource(f"sense_{lab}", bot, summing, 0.0),
                     Resistor(f"rf_{lab}", summing, out, spec.r_f),
                     BehavioralVoltage(f"tia_{lab}", out, "0", Expr(f"v({summing})") * -spec.opamp_gain)]
        outputs.append(out)
    return CrossbarCircuit(spec=spec, subckts=subckts, models=models, elements=tuple(elements),
                           includes=includes, libs=libs,
                           input_sources=tuple(f"v{n}" for n in input_nodes), column_labels=labels,
                           current_probes=tuple(probes), output_nodes=tuple(outputs),
                           gate_source=gate_source)


# ----------------------------------------------------------------------------- CLI support
DEFAULT_G_RANGE = (1e-6, 1e-4)  # S, random conductances: 1 Mohm .. 10 kohm


def default_state_range(spec: CrossbarSpec) -> tuple[float, float]:
    """Conductances 1e-6..1e-4 S for resistor cells, gaps g_min..g_max (m) for RRAM cells."""
    if spec.cell_kind is CellKind.RESISTOR:
        return DEFAULT_G_RANGE
    assert spec.device is not None
    return (spec.device.g_min, spec.device.g_max)


def random_states(spec: CrossbarSpec, *, seed: int = 0,
                  state_range: tuple[float, float] | None = None) -> np.ndarray:
    """Uniform random states from a seeded generator, in ``state_range`` (S for resistor cells,
    m for RRAM cells; default ``default_state_range(spec)``)."""
    lo, hi = (float(x) for x in (state_range or default_state_range(spec)))
    _check(math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi,
           f"state range must satisfy 0 < low <= high, got {(lo, hi)}")
    shape = (2, spec.rows, spec.cols) if spec.differential else (spec.rows, spec.cols)
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _spec_lines(spec: CrossbarSpec) -> list[str]:
    lines = [f"crossbar: rows={spec.rows} cols={spec.cols} physical_cols={spec.physical_cols} "
             f"cell_kind={spec.cell_kind.value} readout={spec.readout.value} "
             f"differential={spec.differential}",
             "wire: " + " ".join(f"{f.name}={getattr(spec.wire, f.name)!r}"
                                 for f in dataclasses.fields(spec.wire))]
    if spec.readout is Readout.TIA:
        lines.append(f"tia: r_f={spec.r_f!r} opamp_gain={spec.opamp_gain!r}")
    if spec.cell_kind is CellKind.RRAM_1T1R:
        t = spec.transistor
        assert t is not None
        lines.append(f"access: v_gate={spec.v_gate!r} bulk={spec.bulk.value} transistor={t.name} "
                     f"w={t.w!r} l={t.l!r} ({t.description})")
    if spec.device is not None and spec.cell_kind is not CellKind.RESISTOR:
        lines.append("device: " + " ".join(
            f"{f.name}={int(v) if f.name == 'set_polarity' else v!r}"
            for f in dataclasses.fields(spec.device) for v in [getattr(spec.device, f.name)]))
    return lines


def crossbar_netlist_text(spec: CrossbarSpec, *, command_line: str, states: Any = None,
                          seed: int = 0, state_range: tuple[float, float] | None = None,
                          v_in: Any = 0.1, analysis: Analysis | None = Op(),
                          options: Mapping[str, float] | None = None) -> str:
    """The ngspice deck of a crossbar, its header recording the command and every parameter.

    ``states``: an array (see ``crossbar``); when None they are drawn by ``random_states(spec,
    seed=seed, state_range=state_range)``. ``v_in``: one voltage for every row, or one per row.
    The header holds the generating ``command_line`` and a SHA-256 of the states, so a deck can
    be traced to its inputs without listing them twice.
    """
    drawn = states is None
    if drawn:
        states = random_states(spec, seed=seed, state_range=state_range)
    arr = np.asarray(states, dtype="<f8")  # little-endian: the same hash on every machine
    inputs = np.broadcast_to(np.asarray(v_in, dtype=float), (spec.rows,)).tolist()
    circuit = crossbar(spec, arr, inputs)
    unit = "S" if spec.cell_kind is CellKind.RESISTOR else "m"
    header = [f"generated by: {command_line}", *_spec_lines(spec),
              f"states ({'conductance' if unit == 'S' else 'gap'}, {unit}): "
              + (f"uniform random, seed={seed}, range={tuple(state_range or default_state_range(spec))!r}; "
                 if drawn else "given; ")
              + f"min={float(arr.min())!r} max={float(arr.max())!r} "
              f"sha256={hashlib.sha256(arr.tobytes()).hexdigest()[:16]}",
              "inputs (V): " + (f"all {inputs[0]!r}" if len(set(inputs)) == 1
                                else f"per row, min={min(inputs)!r} max={max(inputs)!r}")]
    return write_ngspice(circuit.netlist(analysis=analysis, options=options, header=tuple(header)))

