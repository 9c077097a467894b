"""What runs on a Dask worker for one point: the task call wrapped with timing, provenance and
error capture. A failing task gives a record with status "error" instead of an exception, so
one bad point never stops a sweep."""

from __future__ import annotations

import enum
import functools
import importlib.metadata
import logging
import os
import socket
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cosim.sweep.tasks import check_metrics, import_target

log = logging.getLogger(__name__)

PACKAGE = "rramcosim"
# Columns the runner fills in; config keys and metric names may not use them.
PROVENANCE_KEYS = ("point_id", "index", "status", "task", "task_version", "engine", "seed",
                   "spice_check", "wall_s", "started", "finished", "host", "worker",
                   "package_version", "git_commit", "python", "numpy", "torch", "torch_threads",
                   "error_type", "error_message")


class Status(enum.StrEnum):
    """A record's "status" field."""

    OK = "ok"
    ERROR = "error"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=1)
def package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid{os.getpid()}"


@functools.lru_cache(maxsize=1)
def _software() -> dict[str, str]:
    from cosim.provenance import versions

    v = versions()
    return {"git_commit": v["git_commit"], **{k: v[k] for k in ("python", "numpy", "torch", "torch_threads")}}


def provenance() -> dict[str, str]:
    """Where a point runs: host, worker, package version, git commit ("+dirty" with local edits),
    and the Python, numpy and torch versions and torch's thread count (results depend on it)."""
    return {"host": socket.gethostname(), "worker": _worker_address(), "package_version": package_version(),
            **_software()}


def error_fields(exc: BaseException) -> dict[str, str]:
    return {"error_type": type(exc).__qualname__, "error_message": str(exc)}


def execute_point(target: str, point: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
    """Run the task at ``target`` on ``point``; return the store record (``header`` included)."""
    reserved = frozenset(PROVENANCE_KEYS) | frozenset(point)
    started = utc_now()
    t0 = time.perf_counter()
    record: dict[str, Any] = dict(header)
    try:
        fn = import_target(target)
        metrics = check_metrics(fn(dict(point)), reserved)
        record.update(status=Status.OK, metrics=metrics)
    except Exception as exc:  # a bad point is data, not a crash of the sweep
        log.debug("point %s failed", header.get("point_id"), exc_info=True)
        record.update(status=Status.ERROR, metrics={}, **error_fields(exc),
                      traceback="".join(traceback.format_exception(exc, limit=-8)))
    record.update(wall_s=time.perf_counter() - t0, started=started, finished=utc_now(),
                  **provenance())
    return record
