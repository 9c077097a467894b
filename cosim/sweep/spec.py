"""Sweep description files (TOML, or YAML when PyYAML is installed) and the points they expand to.

    task = "device-levels"         # registered name, or "package.module:function"
    engine = "fast"                # "fast" | "spice"
    spice_check = 0                # points/images a task re-checks with SPICE (task-defined)
    seeds = [0, 1, 2]

    [fixed]                        # the same in every point
    n_devices = 200

    [grid]                         # axes: the cartesian product, first axis slowest
    i_c = [20e-6, 50e-6, 100e-6, 200e-6]
    v_stop = [1.5, 2.0]

    [[points]]                     # optional explicit points, after the grid points
    i_c = 500e-6
    v_stop = 3.0

Every base point (grid, then explicit) is repeated for each seed (innermost). The dict a task
receives is ``fixed | base point | {"seed", "engine", "spice_check"}``; its id hashes that
dict's canonical JSON with the task name and version, so a changed task version reruns.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

Scalar = bool | int | float | str

# Keys the runner adds to every point; parameters may not use them.
RESERVED_KEYS = frozenset({"seed", "engine", "spice_check"})
_TOP_KEYS = ("task", "engine", "spice_check", "seeds", "fixed", "grid", "points", "description")
_ID_LENGTH = 16  # hex digits of sha256: 64 bits, no collision in any realistic sweep


class SweepSpecError(ValueError):
    """A sweep description that cannot be used; the message names the file and the field."""


class Engine(enum.StrEnum):
    """How a task evaluates the hardware: the fast numerical engine or SPICE in the loop."""

    FAST = "fast"
    SPICE = "spice"


def _check_scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        raise SweepSpecError(f"{where}: expected a finite number, got {value!r}")
    if not isinstance(value, (bool, int, float, str)):
        raise SweepSpecError(f"{where}: expected a number, string or boolean, "
                             f"got {type(value).__name__} {value!r}")
    return value


def _check_params(table: Any, where: str) -> MappingProxyType:
    if not isinstance(table, Mapping):
        raise SweepSpecError(f"{where}: expected a table, got {type(table).__name__}")
    out: dict[str, Scalar] = {}
    for key, value in table.items():
        if not isinstance(key, str) or not key:
            raise SweepSpecError(f"{where}: parameter names must be non-empty strings, got {key!r}")
        if key in RESERVED_KEYS:
            raise SweepSpecError(f"{where}.{key}: reserved name (set it at the top level)")
        out[key] = _check_scalar(value, f"{where}.{key}")
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Axis:
    """One grid axis: a parameter name and the values it takes, in order."""

    name: str
    values: tuple[Scalar, ...]
    source: str = "<spec>"

    def __post_init__(self) -> None:
        where = f"{self.source}: grid.{self.name}"
        if not self.name or self.name in RESERVED_KEYS:
            raise SweepSpecError(f"{where}: invalid axis name {self.name!r}")
        if not isinstance(self.values, tuple):
            raise SweepSpecError(f"{where}: expected a list of values")
        if not self.values:
            raise SweepSpecError(f"{where}: empty axis (give at least one value)")
        for i, value in enumerate(self.values):
            _check_scalar(value, f"{where}[{i}]")
        if len({json.dumps(v) for v in self.values}) != len(self.values):
            raise SweepSpecError(f"{where}: repeated values {list(self.values)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A parsed sweep description. ``source`` names the file in error messages."""

    task: str
    engine: Engine = Engine.FAST
    spice_check: int = 0
    seeds: tuple[int, ...] = (0,)
    fixed: Mapping[str, Scalar] = field(default_factory=dict)
    grid: tuple[Axis, ...] = ()
    points: tuple[Mapping[str, Scalar], ...] = ()
    description: str = ""
    source: str = "<spec>"

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.task, str) or not self.task.strip():
            raise SweepSpecError(f"{src}: task: expected a non-empty string (a registered task "
                                 f"name or 'package.module:function')")
        if not isinstance(self.engine, Engine):
            raise SweepSpecError(f"{src}: engine: expected an Engine, got {self.engine!r}")
        if isinstance(self.spice_check, bool) or not isinstance(self.spice_check, int) \
                or self.spice_check < 0:
            raise SweepSpecError(f"{src}: spice_check: expected an integer >= 0, "
                                 f"got {self.spice_check!r}")
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise SweepSpecError(f"{src}: seeds: expected a non-empty list of integers")
        for i, seed in enumerate(self.seeds):
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise SweepSpecError(f"{src}: seeds[{i}]: expected an integer >= 0, got {seed!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise SweepSpecError(f"{src}: seeds: repeated seeds {list(self.seeds)}")
        object.__setattr__(self, "fixed", _check_params(self.fixed, f"{src}: fixed"))
        names = [a.name for a in self.grid]
        if len(set(names)) != len(names):
            raise SweepSpecError(f"{src}: grid: repeated axis names {names}")
        for name in names:
            if name in self.fixed:
                raise SweepSpecError(f"{src}: grid.{name}: also set in [fixed]")
        checked = []
        for i, point in enumerate(self.points):
            p = _check_params(point, f"{src}: points[{i}]")
            if not p:
                raise SweepSpecError(f"{src}: points[{i}]: empty point")
            for key in p:
                if key in self.fixed:
                    raise SweepSpecError(f"{src}: points[{i}].{key}: also set in [fixed]")
            checked.append(p)
        object.__setattr__(self, "points", tuple(checked))

    def base_points(self) -> list[dict[str, Scalar]]:
        """Grid points (first axis slowest), then explicit points; one empty point if neither."""
        out: list[dict[str, Scalar]] = []
        if self.grid:
            for combo in itertools.product(*(a.values for a in self.grid)):
                out.append(dict(zip((a.name for a in self.grid), combo)))
        out.extend(dict(p) for p in self.points)
        return out or [{}]

    def expand(self) -> list[dict[str, Scalar]]:
        """Every point's dict as the task receives it, in sweep order (seeds innermost)."""
        points = []
        for base in self.base_points():
            for seed in self.seeds:
                points.append({**self.fixed, **base, "seed": seed, "engine": self.engine.value,
                               "spice_check": self.spice_check})
        return points


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON: the same point always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def point_id(point: Mapping[str, Any], task: str, version: str) -> str:
    """Stable id of one point of one task version (hex prefix of a sha256)."""
    text = canonical_json({"point": dict(point), "task": task, "version": version})
    return hashlib.sha256(text.encode()).hexdigest()[:_ID_LENGTH]


# ---------------------------------------------------------------- parsing ----------------

def _int_list(value: Any, where: str) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, list):
        raise SweepSpecError(f"{where}: expected a list of integers, got {type(value).__name__}")
    return tuple(value)


def spec_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> SweepSpec:
    """Build and validate a ``SweepSpec``; errors name ``source`` and the offending field."""
    if not isinstance(data, Mapping):
        raise SweepSpecError(f"{source}: expected a table at the top level")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise SweepSpecError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(_TOP_KEYS)}")
    if "task" not in data:
        raise SweepSpecError(f"{source}: task: missing (a registered task name or "
                             f"'package.module:function')")
    engine = data.get("engine", Engine.FAST.value)
    try:
        engine = Engine(engine)
    except ValueError:
        raise SweepSpecError(f"{source}: engine: expected one of "
                             f"{', '.join(e.value for e in Engine)}, got {engine!r}") from None
    grid = data.get("grid", {})
    if not isinstance(grid, Mapping):
        raise SweepSpecError(f"{source}: grid: expected a table of axes, got {type(grid).__name__}")
    axes = []
    for name, values in grid.items():
        if not isinstance(values, list):
            raise SweepSpecError(f"{source}: grid.{name}: expected a list of values, "
                                 f"got {type(values).__name__} {values!r}")
        axes.append(Axis(name=str(name), values=tuple(values), source=source))
    points = data.get("points", [])
    if not isinstance(points, list):
        raise SweepSpecError(f"{source}: points: expected a list of tables ([[points]])")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SweepSpecError(f"{source}: description: expected a string")
    return SweepSpec(task=data["task"], engine=engine, spice_check=data.get("spice_check", 0),
                     seeds=_int_list(data.get("seeds", [0]), f"{source}: seeds"),
                     fixed=data.get("fixed", {}), grid=tuple(axes), points=tuple(points),
                     description=description, source=source)


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep file: ``.toml``, or ``.yaml``/``.yml`` when PyYAML is installed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SweepSpecError(f"{path}: no such sweep file") from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise SweepSpecError(f"{path}: YAML sweep files need PyYAML "
                                     f"(pip install pyyaml), or use TOML") from None
            try:
                data = yaml.safe_load(raw.decode())
            except yaml.YAMLError as exc:
                raise SweepSpecError(f"{path}: cannot parse: {exc}") from None
        else:
            data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SweepSpecError(f"{path}: cannot parse: {exc}") from None
    return spec_from_dict(data if data is not None else {}, source=str(path))
