"""Resumable parameter sweeps on Dask: a sweep file (TOML/YAML) expands to points, each point
runs a registered task on a worker, results are appended to a JSON-lines store as they finish,
and a tidy CSV/Parquet table is compacted at the end. See ``spec``, ``tasks``, ``runner``."""

from cosim.sweep.runner import (PlannedPoint, PointState, RunMode, SweepOutcome, SweepRunConfig,
                                compact_store, plan_points, run_sweep)
from cosim.sweep.spec import Axis, Engine, SweepSpec, SweepSpecError, load_spec, point_id, spec_from_dict
from cosim.sweep.store import RUN_COLUMNS, ResultStore, StoreError, TableFormat
from cosim.sweep.tasks import TaskError, TaskInfo, register_task, registered_tasks, resolve_task

__all__ = ["Axis", "Engine", "PlannedPoint", "PointState", "RUN_COLUMNS", "ResultStore", "RunMode",
           "StoreError", "SweepOutcome", "SweepRunConfig", "SweepSpec", "SweepSpecError",
           "TableFormat", "TaskError", "TaskInfo", "compact_store", "load_spec", "plan_points",
           "point_id", "register_task", "registered_tasks", "resolve_task", "run_sweep",
           "spec_from_dict"]
