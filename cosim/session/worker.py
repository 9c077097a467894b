"""libngspice in a worker process: isolation, a hard timeout (kill), and a fresh library state
when the worker is recycled.

The child keeps at most one loaded circuit. A *segment* is one transient of that circuit:
``start`` loads a deck and runs it to the first stop time, ``resume`` applies ``alter``
commands and continues to the next one. Stops are exact: the stop time is registered with
``ngSpice_SetBkpt`` (ngspice lands a time point on it) and ``stop when time >= t - guard``
(a guard of 1e-9 max_step against round-off) halts there. In ngspice 39, ``stop when time = t``
issued *during* a paused transient adds no breakpoint (the run steps over ``t`` and never
stops, checked), hence ``ngSpice_SetBkpt``. Before the first ``run`` the reverse holds: the
stop condition itself becomes a breakpoint.

Commands go straight to ``ngSpice_Command``: PySpice's ``exec_command`` refuses commands over
1023 characters (a PWL ``alter`` easily exceeds that; ngspice itself took 6.4 kB, checked)
and treats every stderr line as an error.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import re
import traceback
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from cosim.ngspice_compat import SpiceError
from cosim.session.config import StartMethod

_logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 120.0  # s for a new worker to import PySpice and load libngspice
_FATAL_RE = re.compile(  # as ngspice_compat's, but a requested pause is not a failure
    r"^\s*(?:Error(?::| on line).*|.*(?i:run simulation\(s\) aborted|timestep too small"
    r"|simulation interrupted due to error).*|doAnalyses:(?! pause requested).*"
    r"|DC solution failed.*)$",
    re.MULTILINE,
)
_HISTORY_FLUSH = 5000  # commands between flushes of ngspice's command history (as PySpice)


class WorkerTimeout(Exception):
    """The worker did not answer in time and was killed."""


def _fatal(output: str, context: str) -> None:
    lines = [m.group(0).strip() for m in _FATAL_RE.finditer(output)
             if not m.group(0).lstrip().lower().startswith("warning")]
    if lines:
        raise SpiceError(f"ngspice {context} failed: " + " | ".join(dict.fromkeys(lines)), output)


class _Engine:
    """Child side: one libngspice instance (PySpice imported here, not in the parent)."""

    def __init__(self) -> None:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi

        from cosim import ngspice_compat

        ngspice_compat.install()
        # PySpice logs every ngspice stderr line as an error; the text reaches the parent in
        # SpiceError instead (and a worker has no log handlers: they would go to stderr).
        logging.getLogger("PySpice").addHandler(logging.NullHandler())
        logging.getLogger("PySpice").propagate = False
        self._ffi = ffi
        self._ng = NgSpiceShared.new_instance()
        self._lib = self._ng._ngspice_shared  # noqa: SLF001 - the C API PySpice wraps
        self._plot: str | None = None
        self._index = 0  # sample index where the next window starts (the last one so far)
        self._loaded = False
        self._commands = 0

    def _cmd(self, command: str) -> str:
        self._commands += 1
        if self._commands > _HISTORY_FLUSH:
            self._lib.ngSpice_Command(self._ffi.NULL)
            self._commands = 0
        self._ng.clear_output()
        rc = self._lib.ngSpice_Command(command.encode("ascii"))
        out = self._ng.stdout + "\n" + self._ng.stderr
        if rc:
            raise SpiceError(f"ngspice rejected command {command[:60]!r} (status {rc})", out)
        return out

    def ping(self) -> int:
        return 0

    def end(self) -> None:
        """Drop the circuit and its plots (else libngspice keeps every circuit alive)."""
        self._cmd("delete all")
        self._cmd("destroy all")
        if self._loaded:
            self._cmd("remcirc")
        self._loaded, self._plot, self._index = False, None, 0

    def _load(self, deck: str) -> str:
        self.end()
        try:
            self._ng.load_circuit(deck)
        except NameError:  # PySpice's circuit-error heuristic; judged below instead
            pass
        self._loaded = True
        out = self._ng.stdout + "\n" + self._ng.stderr
        _fatal(out, "circuit load")
        return out

    def _arm(self, threshold: float, breakpoints: Sequence[float]) -> str:
        out = self._cmd("delete all")  # earlier stop conditions would fire again at once
        for t in sorted(set(breakpoints)):
            self._lib.ngSpice_SetBkpt(float(t))
        return out + self._cmd(f"stop when time >= {float(threshold)!r}")

    def start(self, deck: str, stop: float, breakpoints: Sequence[float],
              guard: float) -> dict[str, np.ndarray]:
        out = self._load(deck)
        # Before a run, ngspice 39 turns 'stop when time >= t' into a breakpoint at t itself
        # (checked), so the threshold is the stop: with 'stop - guard' (plus a breakpoint at
        # the stop, or a source corner there) the next window would begin with a step of guard.
        out += self._arm(stop, breakpoints)
        out += self._cmd("run")
        self._plot = self._ng.last_plot
        return self._collect(out, stop, guard, "run")

    def resume(self, commands: Sequence[str], stop: float, breakpoints: Sequence[float],
               guard: float) -> dict[str, np.ndarray]:
        if self._plot is None:
            raise SpiceError("no halted transient to resume")
        out = "".join(self._cmd(c) for c in commands)
        _fatal(out, "alter")
        out += self._arm(stop - guard, [*breakpoints, stop])
        out += self._cmd("resume")
        return self._collect(out, stop, guard, "resume")

    def oneshot(self, deck: str) -> dict[str, np.ndarray]:
        """Load, run to the end, read, unload: one complete analysis."""
        out = self._load(deck)
        out += self._cmd("run")
        try:
            _fatal(out, "run")
            plot = self._ng.last_plot
            if plot == "const":
                raise SpiceError("ngspice produced no data", out)
            return self._read(plot, 0)
        finally:
            self.end()

    def _collect(self, out: str, stop: float, guard: float, what: str) -> dict[str, np.ndarray]:
        _fatal(out, what)
        if self._plot is None or self._plot == "const":
            raise SpiceError("ngspice produced no data", out)
        data = self._read(self._plot, self._index)
        t_last = float(data["time"][-1])
        if abs(t_last - stop) > 2 * guard:
            raise SpiceError(f"transient halted at {t_last!r} s instead of {stop!r} s", out)
        self._index += len(data["time"]) - 1
        return data

    def _read(self, plot: str, start: int) -> dict[str, np.ndarray]:
        """Vectors of ``plot`` from sample ``start`` on, copied, with run_deck's names."""
        names_c = self._lib.ngSpice_AllVecs(plot.encode())
        out: dict[str, np.ndarray] = {}
        i = 0
        while names_c[i] != self._ffi.NULL:
            name = self._ffi.string(names_c[i]).decode()
            i += 1
            info = self._lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
            n = info.v_length
            if info.v_realdata != self._ffi.NULL:
                buf = self._ffi.buffer(info.v_realdata, n * 8)
                values = np.frombuffer(buf, dtype=np.float64)[start:].copy()
            else:  # complex vectors do not occur in transients; keep the real part
                buf = self._ffi.buffer(info.v_compdata, n * 16)
                values = np.frombuffer(buf, dtype=np.complex128)[start:].real.copy()
            key = name.lower()
            if key.endswith("#branch"):
                key = f"i({key[:-len('#branch')]})"
            elif key != "time":
                key = f"v({key})"
            out[key] = values
        return out


def _worker_main(conn: Connection) -> None:
    """Child process loop: (op, args) in; ('ok', value) | ('spice'|'error', text, detail) out."""
    engine = _Engine()
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if op == "exit":
            return
        try:
            conn.send(("ok", getattr(engine, op)(*args)))
        except SpiceError as exc:
            conn.send(("spice", str(exc), exc.output[-20000:]))
        except Exception as exc:  # a bug: report it rather than die silently
            conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def _reap(proc: Any) -> None:
    if proc.is_alive():
        proc.kill()
        proc.join(10)


class NgspiceWorker:
    """Parent side: starts the child on first use, forwards calls with a timeout."""

    def __init__(self, start_method: StartMethod = StartMethod.FORKSERVER) -> None:
        self._start_method = start_method
        self._proc: Any = None
        self._conn: Connection | None = None
        self._reaper: weakref.finalize | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def call(self, op: str, *args: Any, timeout_s: float) -> Any:
        if self._proc is None or not self._proc.is_alive():
            self._spawn()
        return self._call(op, args, timeout_s)

    def _spawn(self) -> None:
        self.kill()
        ctx = mp.get_context(self._start_method.value)
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child,), daemon=True,
                           name="rramcosim-ngspice")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._reaper = weakref.finalize(self, _reap, proc)  # if never closed: end it anyway
        self._call("ping", (), STARTUP_TIMEOUT_S)  # startup does not count against a window
        _logger.debug("ngspice worker %d started (%s)", proc.pid, self._start_method.value)

    def _call(self, op: str, args: tuple[Any, ...], timeout_s: float) -> Any:
        assert self._conn is not None
        self._conn.send((op, args))
        if not self._conn.poll(timeout_s):
            pid = self.pid
            self.kill()
            raise WorkerTimeout(f"ngspice worker {pid} gave no answer to {op!r} in {timeout_s} s")
        try:
            reply = self._conn.recv()
        except EOFError:
            code = self._proc.exitcode if self._proc is not None else None
            self.kill()
            raise SpiceError(f"ngspice worker died during {op!r} (exit code {code})") from None
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "spice":
            raise SpiceError(reply[1], reply[2])
        raise RuntimeError(f"ngspice worker error in {op!r}: {reply[1]}\n{reply[2]}")

    def rss_bytes(self) -> int | None:
        """Resident memory of the worker (Linux), for recycling measurements."""
        if self.pid is None:
            return None
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def kill(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(10)
        if self._reaper is not None:
            self._reaper.detach()
        self._proc, self._conn, self._reaper = None, None, None

    def close(self) -> None:
        """Ask the child to exit, then make sure it has."""
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            try:
                self._conn.send(("exit", ()))
                self._proc.join(5)
            except (OSError, ValueError):
                pass
        self.kill()
