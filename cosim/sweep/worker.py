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
import subprocess
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
                   "package_version", "git_commit", "error_type", "error_message")


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


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the checkout this code runs from ("" outside git), "+dirty" with local edits."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if status else "")


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid{os.getpid()}"


def provenance() -> dict[str, str]:
    """Where a point runs: host, worker, package version, git commit."""
    return {"host": socket.gethostname(), "worker": _worker_address(),
            "package_version": package_version(), "git_commit": git_commit()}


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
