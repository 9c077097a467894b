"""Back-end runners: what a session asks of a simulator, whichever it is.

A runner runs complete decks (``oneshot``) and, if ``resumable``, keeps one transient halted
between windows (``start`` / ``resume``). Failures are :class:`SpiceError` (the session then
retries), hangs are :class:`WorkerTimeout`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from cosim import vacask
from cosim.ngspice_compat import SpiceError
from cosim.session.config import StartMethod
from cosim.session.worker import NgspiceWorker, WorkerTimeout

_logger = logging.getLogger(__name__)


class Runner(Protocol):
    resumable: bool
    dialect: str  # 'ngspice' | 'vacask': which writer produces its decks

    def oneshot(self, deck: str, timeout_s: float) -> dict[str, np.ndarray]: ...

    def start(self, deck: str, stop: float, breakpoints: Sequence[float], guard: float,
              timeout_s: float) -> dict[str, np.ndarray]: ...

    def resume(self, commands: Sequence[str], stop: float, breakpoints: Sequence[float],
               guard: float, timeout_s: float) -> dict[str, np.ndarray]: ...

    def end_segment(self) -> None: ...

    def recycle(self) -> None: ...

    def close(self) -> None: ...


class NgspiceRunner:
    """ngspice in a worker process; ``resumable`` selects halt/resume over one transient."""

    dialect = "ngspice"

    def __init__(self, *, resumable: bool, start_method: StartMethod) -> None:
        self.resumable = resumable
        self.worker = NgspiceWorker(start_method)

    def oneshot(self, deck: str, timeout_s: float) -> dict[str, np.ndarray]:
        return self.worker.call("oneshot", deck, timeout_s=timeout_s)

    def start(self, deck: str, stop: float, breakpoints: Sequence[float], guard: float,
              timeout_s: float) -> dict[str, np.ndarray]:
        return self.worker.call("start", deck, stop, tuple(breakpoints), guard,
                                timeout_s=timeout_s)

    def resume(self, commands: Sequence[str], stop: float, breakpoints: Sequence[float],
               guard: float, timeout_s: float) -> dict[str, np.ndarray]:
        return self.worker.call("resume", tuple(commands), stop, tuple(breakpoints), guard,
                                timeout_s=timeout_s)

    def end_segment(self) -> None:
        if self.worker.pid is not None:
            try:
                self.worker.call("end", timeout_s=60.0)
            except (SpiceError, WorkerTimeout) as exc:  # a sick worker is replaced instead
                _logger.warning("ngspice worker did not unload cleanly (%s); replacing it", exc)
                self.worker.kill()

    def recycle(self) -> None:
        _logger.debug("recycling ngspice worker %s", self.worker.pid)
        self.worker.close()  # the next call starts a fresh process

    def close(self) -> None:
        self.worker.close()


class VacaskRunner:
    """One VACASK process per window (VACASK has no halt/resume interface)."""

    dialect = "vacask"
    resumable = False

    def __init__(self, *, threads: int = 1) -> None:
        self._args = ("-n", str(threads)) if threads > 1 else ()

    def oneshot(self, deck: str, timeout_s: float) -> dict[str, np.ndarray]:
        try:
            result = vacask.run_vacask(deck, timeout=timeout_s, extra_args=self._args)
        except vacask.VacaskError as exc:
            if "timed out" in str(exc).splitlines()[0]:
                raise WorkerTimeout(str(exc)) from exc
            raise SpiceError(str(exc), exc.output) from exc
        (plot,) = result.analyses.values()
        return from_vacask(plot)

    def start(self, *args: object, **kwargs: object) -> dict[str, np.ndarray]:
        raise NotImplementedError("VACASK runs are not resumable")

    resume = start

    def end_segment(self) -> None:
        pass

    def recycle(self) -> None:
        pass

    def close(self) -> None:
        pass


def from_vacask(plot: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """VACASK names -> the session's: 'vin:flow(br)' -> 'i(vin)', 'xd1:gap' -> 'v(xd1.gap)'."""
    out: dict[str, np.ndarray] = {}
    for name, values in plot.items():
        values = np.atleast_1d(np.asarray(values, dtype=float))
        if name in ("time", "frequency"):
            out[name] = values
        elif name.endswith(":flow(br)"):
            out[f"i({name[:-len(':flow(br)')]})"] = values
        else:
            out[f"v({name.replace(':', '.')})"] = values
    return out


def saved_deck_suffix(dialect: str) -> str:
    return ".sim" if dialect == "vacask" else ".cir"


def osdi_paths(va_sources: Mapping[str, str], used: set[str]) -> dict[str, str]:
    """Compile (cached) the Verilog-A of every used subcircuit; {subckt: .osdi path}."""
    from cosim.backends import compile_va_text  # compiles only when VACASK is used

    missing = used - set(va_sources)
    if missing:
        raise ValueError(f"VACASK needs Verilog-A for subcircuits {sorted(missing)}: pass "
                         "SessionConfig(va_sources={name: text})")
    return {name: str(Path(compile_va_text(va_sources[name], name))) for name in sorted(used)}
