"""The convolution stage: every filter position of many images through one crossbar transient.

The filter crossbar holds one filter per (logical) column, its weights down the rows in the
patch order of ``unfold_positions``. Each filter position of an image is one input vector (its
pixels times ``v_read_max`` on the rows); the column currents are the filters' dot products.

Time multiplexing: the n x P vectors of a batch of n images (P positions each) become PWL row
sources, one slot per vector (``circuits.stimuli.image_to_pwl``); one transient per batch is
read at the end of every slot (``slot_read_times``). So the netlist is written, parsed and
elaborated once per batch, and the simulator orders its sparse matrix once (at the initial
operating point) and only refactors it numerically at each time point.

Timing. Without capacitors the network is algebraic: every accepted time point is the exact DC
solution for the source values at that time, and the end of a slot (a PWL breakpoint, which
both simulators hit exactly) holds that slot's vector, so any slot length works. The cost is
the number of time points: each is >= 2 Newton iterations, each a sparse refactorisation
(~0.1 s for 400 x 64 with wires in VACASK). An edge of half a slot gives the fewest points
(VACASK ~5 per slot with ``_RESISTIVE_VACASK_OPTIONS``, ngspice ~9: its first step after a
breakpoint is hard-wired to 1/10 of the next interval). With wire capacitance the plateau
after the edge must cover ``settle_time_constants`` times ``wire_time_constant(spec)``, a
proven upper bound on the network's slowest time constant; ``ConvolutionStage`` refuses
shorter slots, and both simulators integrate by backward Euler (``DEFAULT_*_OPTIONS``).

Reference paths without a simulator, for comparisons: ``run_ideal`` (no wires: ``V @ G`` for
linear cells, the compact model's I(V) summed for RRAM_1R) and ``run_nodal`` (linear cells with
wire resistance: ``circuits.reference.nodal_solve``, DC).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from circuits.crossbar import RRAM_SUBCKT, CellKind, CrossbarSpec, crossbar, physical_states
from circuits.reference import nodal_solve, pair_difference
from circuits.stimuli import image_to_pwl, slot_read_times
from compact_model import equations as eq
from cosim import ngspice_compat, vacask
from cosim.backends import Backend, compile_va_text
from netlist_gen.expr import number
from netlist_gen.ir import Tran
from netlist_gen.names import check_name
from netlist_gen.ngspice import write_ngspice
from netlist_gen.vacask import write_vacask
from netlist_gen.verilog_a import rram_verilog_a

_logger = logging.getLogger(__name__)

__all__ = ["ColumnCurrents", "ConvolutionStage", "RunTimings", "DEFAULT_NGSPICE_OPTIONS",
           "DEFAULT_VACASK_OPTIONS", "unfold_positions", "wire_time_constant"]

# Integration by backward Euler: only the settled end of a plateau is read, the DC fixed point
# of any formula; BE damps the wire modes each edge excites fastest, where the trapezoidal
# rule's amplification tends to -1 for steps >> RC and lets them ring through the slot
# (measured, 25 x 6 with 1 pF/segment: 3e-4 relative error at the slot end, BE 1e-9).
DEFAULT_NGSPICE_OPTIONS: Mapping[str, float | str] = MappingProxyType({"method": "gear",
                                                                       "maxord": 1})
DEFAULT_VACASK_OPTIONS: Mapping[str, float | str] = MappingProxyType({"tran_method": "euler"})
# Without capacitors there is nothing to integrate: VACASK may then span a whole breakpoint
# interval per step (its defaults: >= 4 points per interval, >= 50 per run), ~5 instead of ~8
# points per slot. With capacitors its truncation-error control needs those points.
_RESISTIVE_VACASK_OPTIONS: Mapping[str, float] = MappingProxyType({"tran_fbr": 1.0,
                                                                    "tran_minpts": 0})
_NODAL_CHUNK = 256  # vectors per nodal_solve call: bounds its dense (nodes x vectors) arrays
_READ_TOLERANCE = 1e-9  # of t_edge: a sample this far past a slot end still reads that slot
_STAT_RE = re.compile(r"^\s*(Parse time|Elaboration time|NR solver iterations):\s+(\S+)", re.M)


def unfold_positions(images: Any, size: int = 20, stride: int = 1) -> np.ndarray:
    """Every filter position's pixels, as (n, positions, size * size * channels).

    ``images``: (n, H, W) or channels-last (n, H, W, C). Positions (valid, ``stride``) are in
    row-major order, p = py * nx + px with the window's top-left pixel at (py, px) * stride;
    within a patch the pixels are row-major too, then channels: r = (dy * size + dx) * C + c.
    That is the order of the crossbar rows (the filter weights down a column).
    """
    x = np.asarray(images, dtype=float)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or 0 in x.shape:
        raise ValueError(f"images must be (n, H, W) or (n, H, W, C), got shape {np.shape(images)}")
    for value, name in ((size, "size"), (stride, "stride")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    n, h, w, c = x.shape
    if size > h or size > w:
        raise ValueError(f"a {size}x{size} filter does not fit in {h}x{w} images")
    win = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    ny, nx = win.shape[1:3]  # win: (n, ny, nx, C, size, size)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(n, ny * nx, size * size * c)


def wire_time_constant(spec: CrossbarSpec) -> float:
    """Upper bound (s) on the slowest time constant of the crossbar with wire capacitance.

    Why a bound: cells (any monotonic I-V, so a positive small-signal conductance) only add
    conductance to the wire network, which can only shorten its time constants. Without the
    cells, each row wire is an RC ladder driven at one end (P segments) and each column wire one
    grounded at its read-out end (rows segments), whose slowest time constant is exactly
    R C / (4 sin^2(pi / (4 n + 2))) (~ 0.4 n^2 R C). Device capacitances are not included.
    """
    def ladder(r: float, c: float, n: int) -> float:
        return r * c / (4.0 * math.sin(math.pi / (4 * n + 2)) ** 2) if r > 0 and c > 0 else 0.0

    w = spec.wire
    return max(ladder(w.r_row, w.c_row, spec.physical_cols), ladder(w.r_col, w.c_col, spec.rows))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTimings:
    """Where the wall time of a run went (s), summed over its simulator invocations."""

    runs: int  # simulator invocations (one per batch); 0 for the reference paths
    build_s: float  # PWL stimuli and netlist objects
    write_s: float  # netlist text
    simulate_s: float  # the simulator call: parse, elaboration, solve, results read back
    parse_s: float  # part of simulate_s: VACASK parse + elaboration (nan: not reported)
    extract_s: float  # sampling the slot ends (or, reference paths: the whole computation)
    timepoints: int  # accepted time points written by the simulator
    newton_iterations: int  # VACASK's Newton iterations (-1: not reported)

    @property
    def total_s(self) -> float:
        return self.build_s + self.write_s + self.simulate_s + self.extract_s


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ColumnCurrents:
    """Column currents (A), positive flowing down a column into its read-out."""

    currents: np.ndarray  # A: run() (n, positions, physical_cols); run_vectors() (m, physical_cols)
    column_labels: tuple[str, ...]  # physical columns, as in CrossbarSpec.column_labels
    differential: bool  # physical columns are (G+, G-) pairs
    engine: str  # "ngspice", "vacask", "nodal" or "ideal"
    timings: RunTimings

    def outputs(self) -> np.ndarray:
        """One value per filter (A): I(G+) - I(G-) for differential pairs, else the currents."""
        return pair_difference(self.currents) if self.differential else self.currents


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def _positive(value: float, name: str) -> None:
    _check(isinstance(value, (int, float)) and math.isfinite(value) and value > 0,
           f"{name} must be a finite number > 0, got {value!r}")


def _frozen_options(options: Mapping[str, float | str], what: str) -> Mapping[str, float | str]:
    out: dict[str, float | str] = {}
    for key, value in dict(options).items():
        check_name(key, f"{what} name")
        if isinstance(value, str):
            check_name(value, f"value of {what} {key}")
        else:
            _check(math.isfinite(float(value)), f"{what} {key} must be finite")
        out[key] = value
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ConvolutionStage:
    """The filter crossbar and how images are sent through it (see the module docstring)."""

    spec: CrossbarSpec  # rows = filter_size^2 x channels, one logical column per filter
    states: np.ndarray  # S (RESISTOR cells) or gap m (RRAM cells); (rows, cols) or (2, rows, cols)
    filter_size: int = 20  # pixels, side of the square filter
    stride: int = 1  # pixels
    v_read_max: float = 0.2  # V, row voltage of intensity 1 (the reference system reads <= 0.2 V)
    backend: Backend = Backend.NGSPICE  # simulator of record; VACASK for 400 x 64 and larger
    t_slot: float = 1e-6  # s, one input vector's slot
    t_edge: float = 0.5e-6  # s, ramp from one vector to the next at the start of a slot
    images_per_run: int = 16  # images per transient (per netlist parse)
    options: Mapping[str, float | str] = field(default_factory=dict)  # both simulators, e.g. reltol
    ngspice_options: Mapping[str, float | str] = field(
        default_factory=lambda: dict(DEFAULT_NGSPICE_OPTIONS))  # ngspice only
    vacask_options: Mapping[str, float | str] = field(
        default_factory=lambda: dict(DEFAULT_VACASK_OPTIONS))  # VACASK only
    # 1, plateau / wire_time_constant required. Physics alone needs ~14 for 1e-6 (e^-14); the
    # rest covers the integrators' truncation-error control (reltol 1e-3). Measured on 25 x 6
    # arrays, wire time constants 1e-10..3e-8 s, edges 10..100 time constants: at 40 both
    # simulators matched DC within 2.5e-7 relative (1.2e-6 for ngspice with a 10-tau edge),
    # at 20 within 1e-5.
    settle_time_constants: float = 40.0
    vacask_timeout: float = 600.0  # s, per VACASK transient (a 400 x 64 pair array takes minutes per image)

    def __post_init__(self) -> None:
        _check(isinstance(self.spec, CrossbarSpec), "spec must be a CrossbarSpec")
        physical_states(self.spec, self.states)  # validates shape, finiteness and sign
        states = np.array(self.states, dtype=float)  # a private copy: callers may reuse theirs
        states.flags.writeable = False
        object.__setattr__(self, "states", states)
        for name in ("filter_size", "stride", "images_per_run"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                   f"{name} must be an integer >= 1, got {value!r}")
        _check(self.spec.rows % self.filter_size ** 2 == 0,
               f"{self.spec.rows} rows are not a whole number of {self.filter_size}x"
               f"{self.filter_size} patches")
        _check(isinstance(self.backend, Backend), "backend must be a cosim.backends.Backend")
        _check(not (self.backend is Backend.VACASK and self.spec.cell_kind is CellKind.RRAM_1T1R),
               "the VACASK writer has no 1T1R cell (a MOSFET subcircuit): use ngspice")
        for name in ("v_read_max", "t_slot", "t_edge", "vacask_timeout"):
            _positive(getattr(self, name), name)
        n_tau = self.settle_time_constants
        _check(isinstance(n_tau, (int, float)) and math.isfinite(n_tau) and n_tau >= 0,
               f"settle_time_constants must be a finite number >= 0, got {n_tau!r}")
        _check(self.t_edge < self.t_slot,
               f"t_edge ({self.t_edge!r} s) must be shorter than t_slot ({self.t_slot!r} s): the "
               "slot's vector is read after its edge")
        tau = wire_time_constant(self.spec)
        need = self.settle_time_constants * tau
        _check(self.t_slot - self.t_edge >= need,
               f"slot plateau t_slot - t_edge = {self.t_slot - self.t_edge!r} s is shorter than "
               f"{self.settle_time_constants!r} wire time constants ({tau!r} s each): make "
               f"t_slot >= {self.t_edge + need!r} s")
        for name in ("options", "ngspice_options", "vacask_options"):
            object.__setattr__(self, name, _frozen_options(getattr(self, name), name))

    def replace(self, **changes: Any) -> ConvolutionStage:
        return dataclasses.replace(self, **changes)

    @property
    def channels(self) -> int:
        return self.spec.rows // self.filter_size ** 2

    # ------------------------------------------------------------------ simulator paths
    def run(self, images: Any, *, progress: bool = False) -> ColumnCurrents:
        """(n, positions, physical_cols) column currents of ``images`` (n, H, W[, C]) in [0, 1],
        one transient per ``images_per_run`` images."""
        patches = self._patches(images)
        n, positions = patches.shape[:2]
        batches = range(0, n, self.images_per_run)
        if progress:
            from tqdm import tqdm  # only when asked: a progress bar for long runs
            batches = tqdm(batches, desc="convolution batches", unit="batch")
        out = np.empty((n, positions, self.spec.physical_cols))
        stats = []
        for start in batches:
            block = patches[start:start + self.images_per_run]
            currents, timing = self._simulate(block.reshape(-1, self.spec.rows))
            out[start:start + len(block)] = currents.reshape(len(block), positions, -1)
            stats.append(timing)
        return self._result(out, self.backend.value, _sum_timings(stats))

    def run_vectors(self, vectors: Any) -> ColumnCurrents:
        """(m, physical_cols) column currents of m input vectors (m, rows) in [0, 1], all in one
        transient (no batching)."""
        currents, timing = self._simulate(self._vectors(vectors))
        return self._result(currents, self.backend.value, timing)

    def _simulate(self, vectors: np.ndarray) -> tuple[np.ndarray, RunTimings]:
        m, spec = len(vectors), self.spec
        t0 = time.perf_counter()
        waves = image_to_pwl(vectors, v_read_max=self.v_read_max, t_slot=self.t_slot,
                             t_edge=self.t_edge)
        circuit = crossbar(spec, self.states, waves)
        # Output step: the shorter breakpoint interval. max_step: a slot, so a long plateau is
        # never skipped in one step (the simulators' own caps are looser for long runs).
        step = min(self.t_edge, self.t_slot - self.t_edge)
        analysis = Tran(step=step, stop=m * self.t_slot + self.t_edge, max_step=self.t_slot)
        header = (f"{m} input vectors time-multiplexed: t_slot={self.t_slot!r} s "
                  f"t_edge={self.t_edge!r} s v_read_max={self.v_read_max!r} V",)
        title = f"convolution {spec.rows}x{spec.physical_cols} {spec.cell_kind.value}"
        ngspice = self.backend is Backend.NGSPICE
        options = {**self.ngspice_options, **self.options} if ngspice else None
        netlist = circuit.netlist(analysis=analysis, title=title, header=header, options=options)
        t1 = time.perf_counter()
        if ngspice:
            text = _ngspice_deck(write_ngspice(netlist), circuit.current_probes)
        else:
            modules = {}
            if spec.cell_kind is CellKind.RRAM_1R:
                assert spec.device is not None
                va = rram_verilog_a(spec.device, spec.device.g_max, module=RRAM_SUBCKT,
                                    dynamic=False)
                modules[RRAM_SUBCKT] = str(compile_va_text(va, RRAM_SUBCKT))
            resistive = wire_time_constant(spec) == 0  # no capacitors (VACASK has no 1T1R)
            va_options = {**(_RESISTIVE_VACASK_OPTIONS if resistive else {}),
                          **self.vacask_options, **self.options}
            text = _vacask_deck(write_vacask(netlist, modules), circuit.current_probes, va_options)
        t2 = time.perf_counter()
        parse_s, iterations = math.nan, -1
        if ngspice:
            vectors_out = ngspice_compat.run_deck(text)
            times = vectors_out["time"]
            waves_out = np.array([vectors_out[f"i({p})"] for p in circuit.current_probes])
        else:
            result = vacask.run_vacask(text, timeout=self.vacask_timeout)
            plot = result["tran1"]
            times = plot["time"]
            waves_out = np.array([plot[f"{p}:flow(br)"] for p in circuit.current_probes])
            parse_s, iterations = _vacask_stats(result.output)
        t3 = time.perf_counter()
        currents = self._sample(np.asarray(times), waves_out, m)
        t4 = time.perf_counter()
        _logger.info("%s: %d vectors in one transient, %d time points, %.2f s simulating",
                     self.backend.value, m, len(times), t3 - t2)
        return currents, RunTimings(runs=1, build_s=t1 - t0, write_s=t2 - t1, simulate_s=t3 - t2,
                                    parse_s=parse_s, extract_s=t4 - t3, timepoints=len(times),
                                    newton_iterations=iterations)

    def _sample(self, times: np.ndarray, waves: np.ndarray, m: int) -> np.ndarray:
        """(m, P) currents at the last time point of each slot's settled plateau."""
        read = slot_read_times(m, t_slot=self.t_slot)
        index = np.searchsorted(times, read + _READ_TOLERANCE * self.t_edge, side="right") - 1
        settle = self.settle_time_constants * wire_time_constant(self.spec)
        settled = read - self.t_slot + self.t_edge + settle  # earliest valid sample per slot
        bad = np.flatnonzero((index < 0) | (times[np.maximum(index, 0)] < settled))
        if bad.size:  # both simulators stop at every PWL breakpoint; this is a safety net
            k = int(bad[0])
            raise RuntimeError(f"the simulator wrote no time point on slot {k}'s settled plateau "
                               f"[{settled[k]!r}, {read[k]!r}] s")
        return waves[:, index].T

    # ------------------------------------------------------------------ reference paths
    def run_ideal(self, images: Any) -> ColumnCurrents:
        """No wire resistance: each cell sees its row voltage. Linear cells: V @ G; RRAM_1R: the
        compact model's currents summed down each column."""
        return self._reference(self._patches(images), self._ideal, "ideal")

    def run_nodal(self, images: Any) -> ColumnCurrents:
        """Linear cells with wire resistance, DC: ``circuits.reference.nodal_solve``."""
        _check(self.spec.cell_kind is CellKind.RESISTOR,
               "the nodal path needs linear (RESISTOR) cells")
        return self._reference(self._patches(images), self._nodal, "nodal")

    def _reference(self, patches: np.ndarray, solve: Any, engine: str) -> ColumnCurrents:
        t0 = time.perf_counter()
        flat = solve(self.v_read_max * patches.reshape(-1, self.spec.rows))
        currents = flat.reshape(*patches.shape[:2], -1)
        elapsed = time.perf_counter() - t0
        timing = RunTimings(runs=0, build_s=0.0, write_s=0.0, simulate_s=0.0, parse_s=math.nan,
                            extract_s=elapsed, timepoints=0, newton_iterations=-1)
        return self._result(currents, engine, timing)

    def _ideal(self, v: np.ndarray) -> np.ndarray:
        g = physical_states(self.spec, self.states)
        if self.spec.cell_kind is CellKind.RESISTOR:
            return v @ g
        _check(self.spec.cell_kind is CellKind.RRAM_1R, "the ideal path has no 1T1R cells")
        out = np.empty((len(v), g.shape[1]))
        for k in range(g.shape[1]):  # per column: (vectors, rows) without a 3-D temporary
            out[:, k] = eq.current(v, g[:, k], self.spec.device, eq.NUMPY_OPS).sum(axis=1)
        return out

    def _nodal(self, v: np.ndarray) -> np.ndarray:
        return np.concatenate([nodal_solve(self.spec, self.states, v[i:i + _NODAL_CHUNK])
                               for i in range(0, len(v), _NODAL_CHUNK)])

    # ------------------------------------------------------------------ helpers
    def _patches(self, images: Any) -> np.ndarray:
        x = np.asarray(images, dtype=float)
        channels = x.shape[-1] if x.ndim == 4 else 1
        _check(channels == self.channels,
               f"images have {channels} channel(s), the crossbar's {self.spec.rows} rows need "
               f"{self.channels} of {self.filter_size}x{self.filter_size}")
        return self._checked(unfold_positions(x, self.filter_size, self.stride))

    def _vectors(self, vectors: Any) -> np.ndarray:
        x = np.asarray(vectors, dtype=float)
        _check(x.ndim == 2 and x.shape[0] >= 1 and x.shape[1] == self.spec.rows,
               f"vectors must be (m, {self.spec.rows}), got shape {x.shape}")
        return self._checked(x)

    @staticmethod
    def _checked(x: np.ndarray) -> np.ndarray:
        _check(bool(np.all(np.isfinite(x))) and x.min() >= 0 and x.max() <= 1,
               "image intensities must lie in [0, 1]")
        return x

    def _result(self, currents: np.ndarray, engine: str, timing: RunTimings) -> ColumnCurrents:
        return ColumnCurrents(currents=currents, column_labels=self.spec.column_labels,
                              differential=self.spec.differential, engine=engine, timings=timing)


# ---------------------------------------------------------------------------- deck text
# Stopgaps until netlist_gen writes save lists and VACASK options (see the proposed diff): the
# IR has neither, and without a save list both simulators keep every node of every time point
# (~50k vectors for 400 x 64).
def _ngspice_deck(text: str, probes: tuple[str, ...]) -> str:
    head, sep, tail = text.rpartition("\n.tran ")
    _check(bool(sep), "the ngspice deck has no .tran line")
    return head + "\n.save " + " ".join(f"i({p})" for p in probes) + sep + tail


def _vacask_deck(text: str, probes: tuple[str, ...], options: Mapping[str, float | str]) -> str:
    head, sep, tail = text.partition("\ncontrol\n")
    _check(bool(sep) and tail.rstrip().endswith("endc"), "the VACASK deck has no control block")
    opts = " ".join(f"{k}={_option_value(v)}" for k, v in options.items())
    lines = ([f"  options {opts}"] if opts else []) + [f"  save i({p})" for p in probes]
    body = tail.rstrip()[:-len("endc")]
    return head + sep + "\n".join(lines) + "\n" + body + "  print stats\nendc\n"


def _option_value(value: float | str) -> str:
    if isinstance(value, str):
        return f'"{value}"'  # a checked name, e.g. tran_method="euler"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # integer options (tran_minpts) stay integers
    return number(float(value))


def _vacask_stats(output: str) -> tuple[float, int]:
    """(parse + elaboration time in s, Newton iterations) from VACASK's ``print stats``."""
    found = {k: float(v) for k, v in _STAT_RE.findall(output)}
    parse = found.get("Parse time", math.nan) + found.get("Elaboration time", math.nan)
    return parse, int(found.get("NR solver iterations", -1))


def _sum_timings(parts: list[RunTimings]) -> RunTimings:
    total = {f.name: sum(getattr(p, f.name) for p in parts) for f in dataclasses.fields(RunTimings)}
    if any(p.newton_iterations < 0 for p in parts):
        total["newton_iterations"] = -1  # not reported by every run
    return RunTimings(**total)
