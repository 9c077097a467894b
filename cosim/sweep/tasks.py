"""The task registry: a task turns one point (a dict of config values) into scalar metrics.

    @register_task("device-levels", version="1")
    def device_levels(point: dict) -> dict[str, float]: ...

A task is found by its registered name or by ``"package.module:function"``. Workers always
import it by that path (``TaskInfo.target``), so a remote Dask worker finds it as long as the
package is installed there; registration only matters for the name lookup on the client.
"""

from __future__ import annotations

import importlib
import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

from cosim.sweep.spec import Engine

log = logging.getLogger(__name__)

TaskFn = Callable[[dict[str, Any]], dict[str, Any]]
# Modules whose import registers tasks under short names (accuracy tasks add theirs here).
BUILTIN_TASK_MODULES: tuple[str, ...] = ("cosim.sweep.builtin", "cosim.frontend.sweeps", "cosim.classification_sweeps")
_ALL_ENGINES = tuple(Engine)


class TaskError(LookupError):
    """A task name or path that does not resolve, or a task that cannot run a point."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInfo:
    """Name, version (part of every point id), import path and engines of one task."""

    name: str
    version: str
    target: str  # "package.module:qualname"
    engines: tuple[Engine, ...] = _ALL_ENGINES
    # The task re-checks points with SPICE when ``spice_check`` > 0 (task-defined); a task that
    # has no check refuses the key, so no record claims a check that did not run.
    spice_check: bool = True

    def __post_init__(self) -> None:
        # A name with ':' is an import path, allowed only for tasks found by that path.
        if not self.name or (":" in self.name and self.name != self.target):
            raise ValueError(f"task name {self.name!r}: must be non-empty, without ':'")
        if not isinstance(self.version, str) or not self.version:
            raise ValueError(f"task {self.name!r}: version must be a non-empty string")
        module, _, attr = self.target.partition(":")
        if not module or not attr:
            raise ValueError(f"task {self.name!r}: target must be 'module:function', "
                             f"got {self.target!r}")
        if not self.engines or not all(isinstance(e, Engine) for e in self.engines):
            raise ValueError(f"task {self.name!r}: engines must be a non-empty tuple of Engine")


_REGISTRY: dict[str, TaskInfo] = {}


def register_task(name: str, version: str, *, engines: tuple[Engine, ...] = _ALL_ENGINES,
                  spice_check: bool = True) -> Callable[[TaskFn], TaskFn]:
    """Decorator: register ``fn`` under ``name``; bump ``version`` when its results change.
    ``spice_check=False``: the task has no SPICE check, and sweeps asking for one are refused."""
    def decorate(fn: TaskFn) -> TaskFn:
        info = TaskInfo(name=name, version=str(version), engines=tuple(engines),
                        target=f"{fn.__module__}:{fn.__qualname__}", spice_check=bool(spice_check))
        old = _REGISTRY.get(name)
        if old is not None and old.target != info.target:
            raise ValueError(f"task {name!r} is already registered for {old.target}")
        _REGISTRY[name] = info
        fn.__sweep_task__ = info  # type: ignore[attr-defined]
        return fn
    return decorate


def registered_tasks() -> dict[str, TaskInfo]:
    """All tasks registered under a name, the built-in ones included."""
    _import_builtins()
    return dict(_REGISTRY)


def _import_builtins() -> None:
    for module in BUILTIN_TASK_MODULES:
        importlib.import_module(module)


def import_target(target: str) -> Any:
    """The object at ``"package.module:qualname"``."""
    module_name, _, qualname = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskError(f"task {target!r}: cannot import module {module_name!r}: {exc}") from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TaskError(f"task {target!r}: module {module_name!r} has no {qualname!r}") from None
    if not callable(obj):
        raise TaskError(f"task {target!r}: {qualname!r} is not callable")
    return obj


def resolve_task(name_or_target: str) -> TaskInfo:
    """TaskInfo of a registered name or of ``"package.module:function"``.

    An undecorated function given by path gets version "0".
    """
    if ":" in name_or_target:
        fn = import_target(name_or_target)
        info = getattr(fn, "__sweep_task__", None)
        if isinstance(info, TaskInfo):
            return info
        return TaskInfo(name=name_or_target, version="0", target=name_or_target)
    tasks = registered_tasks()
    try:
        return tasks[name_or_target]
    except KeyError:
        raise TaskError(f"unknown task {name_or_target!r}; registered: "
                        f"{', '.join(sorted(tasks)) or 'none'} (or give 'package.module:function')"
                        ) from None


def check_metrics(metrics: Any, reserved: frozenset[str]) -> dict[str, bool | int | float | str | None]:
    """Metrics as plain JSON scalars (numpy scalars converted); raises TypeError otherwise."""
    if not isinstance(metrics, dict):
        raise TypeError(f"a task must return a dict of metrics, got {type(metrics).__name__}")
    out: dict[str, bool | int | float | str | None] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metric names must be non-empty strings, got {key!r}")
        if key in reserved:
            raise TypeError(f"metric {key!r} clashes with a parameter or provenance column")
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()  # numpy scalar -> Python scalar
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, int)):
            value = float(value)
            # JSON has no NaN/inf; None is read back as a missing value.
            value = value if math.isfinite(value) else None
        elif value is not None and not isinstance(value, (bool, int, str)):
            raise TypeError(f"metric {key!r} is {type(value).__name__}, expected a scalar")
        out[key] = value
    return out
