"""Run a sweep on Dask ``distributed``: every pending point is one task, results land in the
store from the client as futures complete, and the tidy table is compacted at the end.

    from cosim.sweep import SweepRunConfig, load_spec, run_sweep

    outcome = run_sweep(SweepRunConfig(spec=load_spec("ic.toml"), out_dir=Path("out/ic")))

Only the client writes the store, so workers need no shared file system: a scheduler
address (``scheduler``) moves the sweep to any cluster whose workers have this package.
The local cluster starts worker processes by spawning: a script that calls ``run_sweep``
needs the ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from cosim.sweep.spec import SweepSpec, SweepSpecError, point_id
from cosim.sweep.store import (Appender, ResultStore, TableFormat, build_table, manifest_points,
                               write_table)
from cosim.sweep.tasks import TaskInfo, resolve_task
from cosim.sweep.worker import Status, error_fields, execute_point, utc_now

log = logging.getLogger(__name__)


class RunMode(enum.StrEnum):
    RUN = "run"  # run pending points, then compact
    PLAN = "plan"  # list the points and their state; write nothing
    COMPACT = "compact"  # rewrite the tables from the store; run nothing


class PointState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRunConfig:
    """How to run one sweep. ``n_workers`` None: one worker process per core."""

    spec: SweepSpec
    out_dir: Path
    scheduler: str | None = None
    n_workers: int | None = None
    progress: bool = True
    retry_failed: bool = False
    mode: RunMode = RunMode.RUN
    formats: tuple[TableFormat, ...] = (TableFormat.CSV, TableFormat.PARQUET)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, SweepSpec):
            raise TypeError(f"spec must be a SweepSpec, got {type(self.spec).__name__}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.n_workers is not None and (isinstance(self.n_workers, bool)
                                           or not isinstance(self.n_workers, int)
                                           or self.n_workers < 1):
            raise ValueError(f"n_workers must be an integer >= 1, got {self.n_workers!r}")
        if self.scheduler is not None and not self.scheduler.strip():
            raise ValueError("scheduler address must not be empty")
        if not isinstance(self.mode, RunMode):
            raise ValueError(f"mode must be a RunMode, got {self.mode!r}")
        if not all(isinstance(f, TableFormat) for f in self.formats):
            raise ValueError(f"formats must be TableFormat values, got {self.formats!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPoint:
    index: int
    point_id: str
    point: Mapping[str, Any]
    state: PointState


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepOutcome:
    """What ``run_sweep`` did. ``points`` carry their state before this run; ``n_run`` counts
    points run now, ``n_skipped`` the others (finished, or failed without ``retry_failed``);
    ``tables`` are the files written."""

    out_dir: Path
    task: TaskInfo
    points: tuple[PlannedPoint, ...]
    n_run: int = 0
    n_ok: int = 0
    n_error: int = 0
    n_skipped: int = 0
    repaired_bytes: int = 0
    tables: tuple[Path, ...] = ()
    wall_s: float = 0.0
    errors: Mapping[str, str] = field(default_factory=dict)  # point id -> "Type: message" of this run


def plan_points(spec: SweepSpec, task: TaskInfo) -> list[dict[str, Any]]:
    """``{"point_id", "point"}`` for every point in sweep order; rejects duplicates."""
    if spec.engine not in task.engines:
        raise SweepSpecError(f"{spec.source}: engine: task {task.name!r} supports "
                             f"{', '.join(e.value for e in task.engines)}, not {spec.engine.value!r}")
    if spec.spice_check and not task.spice_check:
        raise SweepSpecError(f"{spec.source}: spice_check: task {task.name!r} has no SPICE check; set "
                             f"spice_check = 0 (got {spec.spice_check})")
    out, seen = [], {}
    for index, point in enumerate(spec.expand()):
        pid = point_id(point, task.name, task.version)
        if pid in seen:
            raise SweepSpecError(f"{spec.source}: point {index} {point} repeats point {seen[pid]}")
        seen[pid] = index
        out.append({"point_id": pid, "point": point})
    return out


def _state(record: Mapping[str, Any] | None) -> PointState:
    if record is None:
        return PointState.PENDING
    return PointState.DONE if record.get("status") == Status.OK else PointState.FAILED


def run_sweep(config: SweepRunConfig) -> SweepOutcome:
    """Plan, run (resuming: finished point ids are skipped) and compact one sweep."""
    t0 = time.perf_counter()
    task = resolve_task(config.spec.task)
    points = plan_points(config.spec, task)
    store = ResultStore(config.out_dir)
    if config.mode is RunMode.PLAN:
        return SweepOutcome(out_dir=config.out_dir, task=task,
                            points=_planned(points, store.latest()))
    with store.lock():
        repaired = store.repair()
        planned = _planned(points, store.latest())
        if config.mode is RunMode.COMPACT:
            tables = write_table(build_table(points, store.latest()), config.out_dir,
                                 config.formats)
            return SweepOutcome(out_dir=config.out_dir, task=task, points=planned,
                                repaired_bytes=repaired, tables=tuple(tables),
                                wall_s=time.perf_counter() - t0)
        store.write_manifest({"source": config.spec.source, "task": task.name,
                              "task_version": task.version, "target": task.target,
                              "engine": config.spec.engine.value, "points": points})
        rerun = {PointState.PENDING, PointState.FAILED} if config.retry_failed else {PointState.PENDING}
        todo = [p for p in planned if p.state in rerun]
        log.info("sweep %s: %d points, %d to run, %d already finished", config.spec.source,
                 len(planned), len(todo), len(planned) - len(todo))
        results: dict[str, dict[str, Any]] = {}
        if todo:
            with store.appender() as appender:
                results = _run_on_dask(todo, task, config, appender, done=len(planned) - len(todo))
        tables = write_table(build_table(points, store.latest()), config.out_dir, config.formats)
    errors = {pid: f"{r.get('error_type')}: {r.get('error_message')}"
              for pid, r in results.items() if r.get("status") != Status.OK}
    outcome = SweepOutcome(out_dir=config.out_dir, task=task, points=planned, n_run=len(results),
                           n_ok=len(results) - len(errors), n_error=len(errors),
                           n_skipped=len(planned) - len(todo), repaired_bytes=repaired,
                           tables=tuple(tables), wall_s=time.perf_counter() - t0, errors=errors)
    log.info("sweep %s: ran %d points (%d errors) in %.1f s", config.spec.source, outcome.n_run,
             outcome.n_error, outcome.wall_s)
    return outcome


def compact_store(out_dir: str | os.PathLike[str],
                  formats: Sequence[TableFormat] = tuple(TableFormat)) -> list[Path]:
    """Rewrite the tables of a results folder from its store, in the order of its manifest."""
    store = ResultStore(out_dir)
    with store.lock():
        store.repair()
        points = manifest_points(store.read_manifest())
        return write_table(build_table(points, store.latest()), store.directory, formats)


def _planned(points: Sequence[Mapping[str, Any]], latest: Mapping[str, Any]) -> tuple[PlannedPoint, ...]:
    return tuple(PlannedPoint(index=i, point_id=p["point_id"], point=p["point"],
                              state=_state(latest.get(p["point_id"])))
                 for i, p in enumerate(points))


@contextlib.contextmanager
def _client(config: SweepRunConfig, n_points: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if config.scheduler:
            if config.n_workers is not None:
                log.warning("n_workers is ignored with a scheduler address: the cluster has its own")
            client = stack.enter_context(Client(config.scheduler))
        else:
            # No more workers than points: each costs a process start and an import of the task.
            n = min(config.n_workers or os.cpu_count() or 1, n_points)
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        yield client


def _header(task: TaskInfo, p: PlannedPoint) -> dict[str, Any]:
    return {"point_id": p.point_id, "task": task.name, "task_version": task.version,
            "engine": p.point.get("engine"), "seed": p.point.get("seed"),
            "spice_check": p.point.get("spice_check"), "point": dict(p.point)}


def _run_on_dask(todo: Sequence[PlannedPoint], task: TaskInfo, config: SweepRunConfig,
                 appender: Appender, done: int) -> dict[str, dict[str, Any]]:
    from distributed import as_completed
    from tqdm.auto import tqdm

    token = secrets.token_hex(4)  # keys unique even on a shared, long-lived scheduler
    results: dict[str, dict[str, Any]] = {}
    with _client(config, len(todo)) as client, \
            tqdm(total=done + len(todo), initial=done, unit="pt", desc=task.name,
                 disable=not config.progress) as bar:
        headers = [_header(task, p) for p in todo]
        keys = [f"sweep-{task.name}-{h['point_id']}-{token}" for h in headers]
        # One map call: a single graph message to the scheduler instead of one per point.
        futures = client.map(execute_point, [task.target] * len(todo),
                             [dict(p.point) for p in todo], headers, key=keys, pure=False)
        by_key = dict(zip(keys, headers))
        pending = as_completed(futures)
        del futures  # as_completed holds them; each is dropped once its record is on disk
        # Batches: one gather per group of finished points instead of one round trip each.
        for batch in pending.batches():
            collected = _collect(client, batch, by_key)
            appender.append_many([record for _, record in collected])
            for fut, record in collected:
                results[record["point_id"]] = record
                fut.release()
            bar.update(len(collected))
    return results


def _collect(client: Any, batch: Sequence[Any],
             by_key: Mapping[str, dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
    """(future, record) of completed futures; a lost worker or task gives an error record."""
    finished = [f for f in batch if f.status == "finished"]
    rest = [f for f in batch if f.status != "finished"]
    try:
        out = list(zip(finished, client.gather(finished))) if finished else []
    except Exception:  # a result lost with its worker: take the futures one by one
        out, rest = [], list(batch)
    for fut in rest:
        try:
            out.append((fut, fut.result()))
        except Exception as exc:  # the worker died, or the task could not be deserialised
            out.append((fut, {**by_key[fut.key], "status": Status.ERROR, "metrics": {},
                              **error_fields(exc), "started": None, "finished": utc_now()}))
    return out
