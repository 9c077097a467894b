"""The windowed session: one transient advanced window by window, sources chosen in between.

Bookkeeping that is the same for every back end lives here: session time, the waveform of
every top-level source on the session's time axis, the state at the end of the last window,
the retry ladder, saved failing decks, worker recycling and the vector history.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from cosim.ngspice_compat import SpiceError
from cosim.session import decks
from cosim.session.config import (Results, SessionBackend, SessionConfig, SimulationError,
                                  SimulationTimeout)
from cosim.session.runners import (NgspiceRunner, Runner, VacaskRunner, osdi_paths,
                                   saved_deck_suffix)
from cosim.session.worker import WorkerTimeout
from netlist_gen.ir import Capacitor, Instance, Netlist, Op, Pwl, Tran, VSource, Waveform
from netlist_gen.ngspice import write_ngspice
from netlist_gen.vacask import write_vacask

_logger = logging.getLogger(__name__)

PREALLOC_POINTS = 1e6  # output steps per resumable transient (bounds ngspice's preallocation)
STOP_GUARD = 1e-9  # fraction of max_step by which a halt may precede the exact stop time


@dataclass(frozen=True, slots=True)
class _Window:
    index: int
    t0: float  # s, session time of the start
    duration: float  # s
    step: float  # s
    max_step: float  # s
    waves: Mapping[str, Waveform]  # every top-level source, session time axis
    overrides: Mapping[str, Pwl]  # sources replaced in this window, session time axis

    @property
    def t1(self) -> float:
        return self.t0 + self.duration


@dataclass(frozen=True, slots=True)
class _Segment:
    """The halted transient of a resumable runner."""

    t0: float  # s, session time of its t = 0
    stop: float  # s, its .tran stop (segment time): it must never be reached
    max_step: float  # s, as requested by the windows it serves
    nbytes: int  # bytes of vectors ngspice holds for it so far


@dataclass(frozen=True, slots=True)
class _Attempt:
    label: str
    options: Mapping[str, float | str]
    max_step_factor: float


class WindowedSession:
    """:class:`~cosim.session.config.SpiceSession` over ngspice (resume or restart) or VACASK.

    ``vector(name)`` spans all windows so far (each boundary sample once) with
    ``keep_history=True``, else the last window. In resume mode ``op()`` ends the halted
    transient (ngspice keeps one circuit's state), so the next window restarts from the state.
    """

    def __init__(self, config: SessionConfig | None = None, *, runner: Runner | None = None):
        self.config = config or SessionConfig()
        if runner is None:
            if self.config.backend is SessionBackend.VACASK:
                runner = VacaskRunner(threads=self.config.vacask_threads)
            else:
                runner = NgspiceRunner(
                    resumable=self.config.backend is SessionBackend.NGSPICE_RESUME,
                    start_method=self.config.start_method)
        self._runner = runner
        self._netlist: Netlist | None = None
        self._failed_dir: Path | None = self.config.failed_deck_dir
        self._runs = 0
        self._reset()

    # ------------------------------------------------------------------------- public API
    def __enter__(self) -> WindowedSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def time(self) -> float:
        """Session time (s) at the end of the last window."""
        return self._time

    @property
    def windows(self) -> int:
        return self._window

    @property
    def runner(self) -> Runner:
        return self._runner

    def load(self, netlist: Netlist) -> None:
        """Take ``netlist`` as the circuit; its analysis only says whether the first window
        starts from ICs (``Tran(uic=True)``, also the default) or from an operating point."""
        if not isinstance(netlist, Netlist):
            raise TypeError(f"load() takes a netlist_gen.ir.Netlist, not {type(netlist).__name__}")
        self._runner.end_segment()
        self._netlist = netlist
        self._reset()
        self._sources = decks.top_sources(netlist)
        self._waves = {name: e.wave for name, e in self._sources.items()}
        self._uic0 = netlist.analysis.uic if isinstance(netlist.analysis, Tran) else True
        self._osdi = {}
        if self._runner.dialect == "vacask":
            used = {e.subckt for e in netlist.elements if isinstance(e, Instance)}
            self._osdi = osdi_paths(self.config.va_sources, used)

    def op(self) -> Results:
        """Operating point of the loaded netlist as written (sources at their DC values) with
        the RRAM gaps of the last window; ``Results.window`` is None."""
        net = self._require()
        self._end_segment()
        deck = self._write(decks.window_netlist(net, waves={}, analysis=Op(),
                                                state=self._state, options={}),
                           ics={}, uic=False, options={})
        self._count_run()
        try:
            data = self._runner.oneshot(deck, self.config.timeout_s)
        except WorkerTimeout as exc:
            path = self._save(deck, "op-timeout")
            raise SimulationTimeout(f"operating point timed out: {exc}; deck saved at {path}",
                                    window=None, tried=("op",), deck_paths=(path,)) from exc
        except SpiceError as exc:
            path = self._save(deck, "op")
            raise SimulationError(f"operating point failed: {exc}; deck saved at {path}",
                                  window=None, tried=("op",), deck_paths=(path,),
                                  output=exc.output) from exc
        return Results(None, self._time, self._time, _frozen(data), "")

    def run_window(self, duration: float, *, sources: Mapping[str, Pwl | float] | None = None,
                   step: float, max_step: float) -> Results:
        """Advance by ``duration`` (s). ``sources`` replaces named top-level sources from the
        window start on (PWL times relative to it; a number holds that value); the others
        keep their waveforms. ``step`` is the output/initial step, ``max_step`` the largest."""
        self._require()
        for what, value in (("duration", duration), ("step", step), ("max_step", max_step)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{what} must be a positive number of seconds, got {value}")
        overrides = self._overrides(sources or {}, self._time)
        window = _Window(self._window, self._time, float(duration), float(step),
                         float(max_step), MappingProxyType({**self._waves, **overrides}),
                         MappingProxyType(overrides))
        if self.config.recycle_every and self._runs >= self.config.recycle_every:
            self._end_segment()
            self._runner.recycle()
            self._runs = 0
        data, label = self._simulate(window)
        vectors = _frozen(data)
        self._waves = dict(window.waves)
        self._time = window.t1
        self._window += 1
        self._state = {k: float(v[-1]) for k, v in vectors.items() if k != "time"}
        self._history = [*self._history, vectors] if self.config.keep_history else [vectors]
        return Results(window.index, window.t0, window.t1, vectors, label)

    def vector(self, name: str) -> np.ndarray:
        """``name`` (e.g. ``'v(xd1.gap)'``) over the windows kept (see ``keep_history``)."""
        if not self._history:
            raise RuntimeError("no window has been run")
        key = name.lower()
        if key not in self._history[-1]:
            raise KeyError(f"no vector {name!r}; have {sorted(self._history[-1])}")
        parts = [self._history[0][key]] + [w[key][1:] for w in self._history[1:]]
        return np.concatenate(parts)

    def state(self) -> dict[str, float]:
        """Final values of the last window: what the next window starts from."""
        return dict(self._state or {})

    def close(self) -> None:
        self._runner.close()

    # ------------------------------------------------------------------------- windows
    def _simulate(self, w: _Window) -> tuple[dict[str, np.ndarray], str]:
        tried: list[str] = []
        output = ""
        if self._runner.resumable:
            try:
                return self._segment_window(w), ""
            except SpiceError as exc:  # continue with complete window decks, from the state
                _logger.warning("window %d: halted transient failed (%s); retrying", w.index,
                                str(exc).splitlines()[0])
                tried.append("resume")
                output = exc.output
                self._end_segment()
            except WorkerTimeout as exc:
                self._segment = None
                raise self._timeout(w, exc) from exc
        paths: list[Path] = []
        for rung, attempt in enumerate(self._ladder()):
            if rung == 0 and tried:  # after a failed resume, a complete deck is a retry too
                attempt = dataclasses.replace(attempt, label="restart")
            deck = self._window_deck(w, attempt, segment_stop=None)
            self._count_run()
            try:
                data = self._runner.oneshot(deck, self.config.timeout_s)
            except WorkerTimeout as exc:
                raise self._timeout(w, exc, deck) from exc
            except SpiceError as exc:
                label = attempt.label or "default"
                tried.append(label)
                output = exc.output
                paths.append(self._save(deck, f"window{w.index:05d}-{rung}-{label}"))
                _logger.warning("window %d failed with %s (%s)", w.index, label,
                                str(exc).splitlines()[0])
                continue
            return self._to_session_time(data, w, w.t0, restart=self._state is not None), \
                attempt.label
        folder = paths[-1].parent if paths else None
        message = (f"window {w.index} (t = {w.t0!r} .. {w.t1!r} s) failed with every retry: "
                   + "; ".join(self._describe(t) for t in tried)
                   + f". Failing decks in {folder}; the last: {paths[-1] if paths else None}")
        raise SimulationError(message, window=w.index, tried=tuple(tried),
                              deck_paths=tuple(paths), output=output)

    def _segment_window(self, w: _Window) -> dict[str, np.ndarray]:
        """The window on the halted transient: resume it, or start a new one."""
        seg = self._segment
        if (seg is not None and seg.max_step == w.max_step
                and w.t1 - seg.t0 < seg.stop * (1 - 1e-9)
                and seg.nbytes < self.config.max_segment_mb * 2**20):
            commands, bkpts = [], []
            for name, wave in w.overrides.items():
                local = decks.shift_wave(wave, seg.t0, seg.stop)
                kind = "v" if isinstance(self._sources[name], VSource) else "i"
                commands.append(decks.alter_command(kind, name, local))
                bkpts += decks.corner_times(local, w.t0 - seg.t0, seg.stop)
            self._count_run()
            stop = w.t1 - seg.t0
            data = self._runner.resume(commands, stop, bkpts, _guard(stop, w.max_step),
                                       self.config.timeout_s)
            self._segment = dataclasses.replace(seg, nbytes=seg.nbytes + _nbytes(data))
            return self._to_session_time(data, w, seg.t0, restart=False)
        self._end_segment()
        # ngspice preallocates tstop / tstep samples per vector (measured: 3.2 GB of address
        # space for 4 vectors at 1 s / 10 ns), so a segment covers at most PREALLOC_POINTS
        # output steps, then the next window restarts from the state.
        stop = max(min(self.config.horizon_s, PREALLOC_POINTS * w.step), 4 * w.duration)
        deck = self._window_deck(w, _Attempt("", {}, 1.0), segment_stop=stop)
        self._count_run()
        data = self._runner.start(deck, w.duration, [], _guard(w.duration, w.max_step),
                                  self.config.timeout_s)
        self._segment = _Segment(w.t0, stop, w.max_step, _nbytes(data))
        return self._to_session_time(data, w, w.t0, restart=self._state is not None)

    def _window_deck(self, w: _Window, attempt: _Attempt, segment_stop: float | None) -> str:
        """Deck for ``w`` from the current state: to the window end, or (``segment_stop``)
        a long transient to be halted and resumed."""
        net = self._require()
        span = w.duration if segment_stop is None else segment_stop
        max_step = w.max_step * attempt.max_step_factor
        if segment_stop is None:
            tran = Tran(min(w.step, w.duration), w.duration, max_step=max_step, uic=True)
        else:
            tran = Tran(w.step, segment_stop, max_step=max_step, uic=True)
        first = self._state is None
        if first:
            tran = dataclasses.replace(tran, uic=self._uic0)
        waves = {n: decks.shift_wave(wave, w.t0, span) for n, wave in w.waves.items()}
        netlist = decks.window_netlist(net, waves=waves, analysis=tran, state=self._state,
                                       options=attempt.options)
        if self._runner.dialect == "vacask":
            ics = _capacitor_ics(net) if first else decks.node_ics(self._state or {})
            return self._write(netlist, ics=ics, uic=not first, options=attempt.options)
        ics = {} if first else decks.node_ics(self._state or {})
        return self._write(netlist, ics=ics, uic=tran.uic, options=attempt.options)

    def _write(self, netlist: Netlist, *, ics: Mapping[str, float], uic: bool,
               options: Mapping[str, float | str]) -> str:
        if self._runner.dialect == "vacask":
            # VACASK gets the rung's options only: the netlist's are ngspice's (as in
            # cosim.backends, whose VACASK path ignores them too).
            text = write_vacask(netlist, self._osdi)
            return decks.patch_vacask_analysis(text, ics=ics, uic=uic, options=options)
        return decks.add_ngspice_ic(write_ngspice(netlist), ics)

    def _to_session_time(self, data: dict[str, np.ndarray], w: _Window, offset: float, *,
                         restart: bool) -> dict[str, np.ndarray]:
        out = {k: np.array(v, dtype=float) for k, v in data.items()}
        t = out["time"] + offset
        t[-1] = w.t1  # exact boundaries (a halt is within STOP_GUARD of them)
        if self._state is not None:
            t[0] = w.t0  # (the very first sample may follow t = 0: ngspice's uic runs do)
        out["time"] = t
        if restart and self._state is not None:
            # The t = 0 sample of a uic transient is the IC guess (algebraic unknowns not
            # solved yet); the previous window's last sample is the solved state.
            for key, arr in out.items():
                if key in self._state:
                    arr[0] = self._state[key]
        return out

    # ------------------------------------------------------------------------- helpers
    def _ladder(self) -> list[_Attempt]:
        attempts = [_Attempt("", {}, 1.0)]
        options: dict[str, float | str] = {}
        factor = 1.0
        for rung in self.config.retry_ladder:
            options = {**options, **rung.options}
            factor *= rung.max_step_factor
            attempts.append(_Attempt(rung.label, MappingProxyType(dict(options)), factor))
        return attempts

    def _describe(self, label: str) -> str:
        for a in self._ladder():
            if (a.label or "default") == label or (not a.label and label == "restart"):
                opts = ", ".join(f"{k}={v}" for k, v in a.options.items()) or "netlist options"
                return f"{label} ({opts}; max_step x{a.max_step_factor:g})"
        return label

    def _overrides(self, sources: Mapping[str, Pwl | float], t0: float) -> dict[str, Pwl]:
        out = {}
        for name, value in sources.items():
            if name not in self._sources:
                raise KeyError(f"no top-level source {name!r}; have {sorted(self._sources)}")
            if isinstance(value, Pwl):
                if min(value.times) < 0:
                    raise ValueError(f"source {name!r}: PWL times are relative to the window "
                                     "start and must be >= 0 s")
                out[name] = Pwl(tuple(t0 + t for t in value.times), value.values)
            elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                    value, bool):
                out[name] = Pwl((t0,), (float(value),))
            else:
                raise TypeError(f"source {name!r}: give a Pwl or a number, not "
                                f"{type(value).__name__}")
        return out

    def _timeout(self, w: _Window, exc: Exception, deck: str | None = None) -> SimulationTimeout:
        if deck is None:
            deck = self._window_deck(w, _Attempt("", {}, 1.0), segment_stop=None)
        path = self._save(deck, f"window{w.index:05d}-timeout")
        self._segment = None
        self._runs = 0  # the worker was killed: a fresh one starts next
        return SimulationTimeout(
            f"window {w.index} (t = {w.t0!r} .. {w.t1!r} s) ran longer than "
            f"{self.config.timeout_s} s; the worker was killed. Deck saved at {path}",
            window=w.index, tried=("timeout",), deck_paths=(path,), output=str(exc))

    def _save(self, deck: str, stem: str) -> Path:
        if self._failed_dir is None:
            self._failed_dir = Path(tempfile.mkdtemp(prefix="rramcosim-failed-"))
        self._failed_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^a-zA-Z0-9_.-]+", "-", stem)
        path = self._failed_dir / (safe + saved_deck_suffix(self._runner.dialect))
        path.write_text(deck)
        return path

    def _count_run(self) -> None:
        self._runs += 1  # windows and operating points served by the current worker

    def _end_segment(self) -> None:
        if self._segment is not None:
            self._runner.end_segment()
            self._segment = None

    def _require(self) -> Netlist:
        if self._netlist is None:
            raise RuntimeError("load() a netlist first")
        return self._netlist

    def _reset(self) -> None:
        self._time = 0.0
        self._window = 0
        self._state: dict[str, float] | None = None
        self._history: list[Mapping[str, np.ndarray]] = []
        self._segment: _Segment | None = None
        self._sources: dict = {}
        self._waves: dict[str, Waveform] = {}
        self._uic0 = True
        self._osdi: dict[str, str] = {}


def _nbytes(data: Mapping[str, np.ndarray]) -> int:
    return sum(int(v.nbytes) for v in data.values())


def _guard(stop: float, max_step: float) -> float:
    """How far (s) before ``stop`` a halt may fire: room for round-off, far below ngspice's
    smallest step (1e-11 max_step) unless a transient spans over ~1e6 max steps."""
    return max(STOP_GUARD * max_step, 8 * float(np.spacing(stop)))


def _capacitor_ics(net: Netlist) -> dict[str, float]:
    """Numeric ICs of top-level capacitors to ground (VACASK's first window)."""
    out = {}
    for e in net.elements:
        if isinstance(e, Capacitor) and isinstance(e.ic, float) and "0" in (e.p, e.n):
            node, sign = (e.p, 1.0) if e.n == "0" else (e.n, -1.0)
            out[node] = sign * e.ic
    return out


def _frozen(data: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    for arr in data.values():
        arr.flags.writeable = False
    return MappingProxyType(dict(data))
