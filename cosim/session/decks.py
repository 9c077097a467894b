"""Window decks: the loaded netlist with its sources shifted in time and, after the first window,
the previous window's final state as initial conditions.

State carried into a restarted transient (consecutive windows, retries, recycled workers):

* every node voltage, as ``.ic v(node)=V`` with ``uic`` (ngspice) or ``ic={"node", V, ...}``
  with ``icmode="uic"`` (VACASK). ngspice 39 applies ``.ic`` to hierarchical nodes
  (``v(xs.n)``) but an explicit capacitor ``IC=`` wins over ``.ic``, so restarted decks drop
  every capacitor ``ic`` (top level and subcircuits);
* the gap of every dynamic RRAM instance, also as its ``rr_gap0`` parameter: VACASK's
  Verilog-A RRAM holds its state node weakly toward ``rr_gap0``, and the netlist stays
  self-describing.

The IR has no initial-condition field yet, so the ``.ic`` lines are added to the written text
by :func:`add_ngspice_ic` and :func:`patch_vacask_analysis`, the only two places to change
once ``Netlist.initial_conditions`` exists.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

import numpy as np

from netlist_gen.expr import number
from netlist_gen.ir import (Capacitor, Instance, ISource, Netlist, Op, Pwl, Subckt, Tran, VSource,
                            Waveform)
from netlist_gen.rram import gap_from_state_node, param_name

GAP_PARAM = param_name("gap0")  # 'rr_gap0', m: the initial gap of a dynamic RRAM instance
GAP_NODE = "gap"  # its internal state node (V = nm)
_SPICE_NODE = re.compile(r"[a-z][a-z0-9_.]*\Z")  # names ngspice reports: 'b', 'xd1.gap'
_END_LINE = re.compile(r"^\.end\s*$", re.IGNORECASE | re.MULTILINE)
_VACASK_TRAN = re.compile(r"^(\s*analysis\s+\w+\s+(?:tran|op)\b[^\n]*)$", re.MULTILINE)
_VACASK_CONTROL = re.compile(r"^control\s*$", re.MULTILINE)


# ----------------------------------------------------------------------------- waveforms
def pwl_at(wave: Pwl, t: float) -> float:
    """Value of a PWL at time ``t`` (s): linear between points, held outside them (SPICE)."""
    return float(np.interp(t, wave.times, wave.values))


def shift_wave(wave: Waveform, t_shift: float, span: float) -> Waveform:
    """The waveform seen by a transient that starts at ``t_shift`` (s) of the original axis.

    PWL points before ``t_shift`` collapse into one point at 0 holding the value there; at
    least two points are kept (VACASK's requirement), the second at ``span`` (s) if needed.
    A pulse already under way gets a negative delay (ngspice 39 and VACASK accept it: checked).
    """
    if wave is None or t_shift == 0.0:
        return _two_points(wave, span)
    if isinstance(wave, Pwl):
        times = np.asarray(wave.times) - t_shift
        keep = times > 0
        t_new = [0.0] + times[keep].tolist()
        v_new = [pwl_at(wave, t_shift)] + np.asarray(wave.values)[keep].tolist()
        return _two_points(Pwl(tuple(t_new), tuple(v_new)), span)
    delay = wave.delay - t_shift
    if delay < 0 and wave.period > 0:
        delay = -math.fmod(-delay, wave.period)  # same phase, at most one period back
    return dataclasses.replace(wave, delay=delay)


def _two_points(wave: Waveform, span: float) -> Waveform:
    if isinstance(wave, Pwl) and len(wave.times) == 1:
        t = max(wave.times[0], 0.0)
        return Pwl((t, t + span), (wave.values[0],) * 2)
    return wave


def corner_times(wave: Waveform, after: float, until: float) -> list[float]:
    """PWL corners in (after, until]: breakpoints ngspice must land on after an ``alter``."""
    if not isinstance(wave, Pwl):
        return []
    return [t for t in wave.times if after < t <= until]


def alter_command(kind: str, name: str, wave: Pwl) -> str:
    """ngspice command replacing a source's waveform while a transient is halted."""
    pairs = " ".join(f"{number(t)} {number(v)}" for t, v in zip(wave.times, wave.values))
    return f"alter @{kind}{name}[pwl] = [ {pairs} ]"


# ----------------------------------------------------------------------------- netlists
def top_sources(netlist: Netlist) -> dict[str, VSource | ISource]:
    return {e.name: e for e in netlist.elements if isinstance(e, (VSource, ISource))}


def rram_instances(netlist: Netlist) -> tuple[str, ...]:
    """Top-level instances of subcircuits with an ``rr_gap0`` parameter (dynamic RRAM)."""
    dynamic = {s.name for s in netlist.subckts if GAP_PARAM in s.params}
    return tuple(e.name for e in netlist.elements
                 if isinstance(e, Instance) and (e.subckt in dynamic or GAP_PARAM in e.params))


def gap_key(instance: str) -> str:
    return f"v(x{instance}.{GAP_NODE})"


def window_netlist(base: Netlist, *, waves: Mapping[str, Waveform], analysis: Tran | Op,
                   state: Mapping[str, float] | None,
                   options: Mapping[str, float | str]) -> Netlist:
    """``base`` with source waveforms replaced, the analysis set and extra options merged.

    With a ``state`` (final values of the previous window, keys ``'v(...)'``), capacitor ICs
    are dropped and each dynamic RRAM instance's ``rr_gap0`` is set to its gap (m).
    """
    elements = []
    gaps = {}
    if state is not None:
        gaps = {name: float(gap_from_state_node(state[gap_key(name)]))
                for name in rram_instances(base) if gap_key(name) in state}
    for e in base.elements:
        if isinstance(e, (VSource, ISource)) and e.name in waves:
            e = dataclasses.replace(e, wave=waves[e.name])
        elif state is not None and isinstance(e, Capacitor):
            e = dataclasses.replace(e, ic=None)
        elif isinstance(e, Instance) and e.name in gaps:
            e = dataclasses.replace(e, params={**e.params, GAP_PARAM: gaps[e.name]})
        elements.append(e)
    subckts = base.subckts if state is None else tuple(_without_ic(s) for s in base.subckts)
    return dataclasses.replace(base, elements=tuple(elements), subckts=subckts, analysis=analysis,
                               options={**base.options, **options})


def _without_ic(s: Subckt) -> Subckt:
    elements = tuple(dataclasses.replace(e, ic=None) if isinstance(e, Capacitor) else e
                     for e in s.elements)
    return dataclasses.replace(s, elements=elements)


def node_ics(state: Mapping[str, float]) -> dict[str, float]:
    """Node voltages of a state, ``{'xd1.gap': V}``; names are checked (they reach a deck)."""
    out = {}
    for key, value in state.items():
        if key.startswith("v(") and key.endswith(")"):
            node = key[2:-1]
            if not _SPICE_NODE.match(node):
                raise ValueError(f"unexpected node name {node!r} in the simulator's output")
            if math.isfinite(value):
                out[node] = float(value)
    return out


def add_ngspice_ic(deck: str, ics: Mapping[str, float]) -> str:
    """Insert ``.ic v(node)=V`` lines before ``.end`` (stand-in for an IR field)."""
    if not ics:
        return deck
    lines = "".join(f".ic v({node})={number(v)}\n" for node, v in sorted(ics.items()))
    match = _END_LINE.search(deck)
    if match is None:
        raise ValueError("deck has no .end line")
    return deck[:match.start()] + lines + deck[match.start():]


def patch_vacask_analysis(deck: str, *, ics: Mapping[str, float], uic: bool,
                          options: Mapping[str, float | str]) -> str:
    """Add ``icmode``/``ic`` to the analysis and an ``options`` line to the control block.

    VACASK names internal Verilog-A nodes ``xd1:gap`` where ngspice says ``xd1.gap``.
    """
    extra = ""
    if uic:
        extra += ' icmode="uic"'
    if ics:
        items = ", ".join(f'"{node.replace(".", ":")}", {number(v)}'
                          for node, v in sorted(ics.items()))
        extra += " ic={" + items + "}"
    deck, n = _VACASK_TRAN.subn(lambda m: m.group(1) + extra, deck, count=1)
    if n != 1:
        raise ValueError("VACASK deck has no analysis line to patch")
    if options:
        text = " ".join(f'{k}="{v}"' if isinstance(v, str) else f"{k}={number(float(v))}"
                        for k, v in options.items())
        deck = _VACASK_CONTROL.sub(lambda m: m.group(0) + "\n  options " + text, deck, count=1)
    return deck
