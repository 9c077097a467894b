"""The results store of one sweep: a folder with an append-only JSON-lines file and tables.

    OUT/results.jsonl    one record per finished point run, flushed and fsynced as it lands
    OUT/sweep.json       the sweep's points in order (what ``compact_store`` tabulates)
    OUT/results.csv      the tidy table (rewritten atomically by compaction)
    OUT/results.parquet  the same table in Parquet
    OUT/.lock            held while a sweep writes, so two runs never append to one store

A crash can leave only the last line half-written (each record is one write of one line):
everything after the last newline is ignored when reading and cut off by ``repair``. A point
run again (``--retry-failed``) appends a new record; the last record of a point wins.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from compact_model.atomic import write_text_atomic
from cosim.sweep.spec import RESERVED_KEYS
from cosim.sweep.worker import PROVENANCE_KEYS

log = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"
MANIFEST_NAME = "sweep.json"
TABLE_STEM = "results"
# Columns that differ between two runs of the same sweep: leave them out when comparing tables.
RUN_COLUMNS = ("wall_s", "started", "finished", "host", "worker", "package_version", "git_commit", "python",
               "numpy", "torch", "torch_threads")


class StoreError(RuntimeError):
    """A results store that cannot be used (locked by another run, unreadable manifest)."""


class TableFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


class Appender:
    """Appends records to the JSON-lines file; each is on disk before ``append`` returns."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "ab", buffering=0)

    def append(self, record: Mapping[str, Any]) -> None:
        self.append_many([record])

    def append_many(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append records that finished together, with one fsync (it costs ms on a busy disk)."""
        if not records:
            return
        text = "".join(json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n"
                       for r in records)
        self._fh.write(text.encode())  # unbuffered: a crash can cut only the last line
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


class ResultStore:
    """One sweep's results folder (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.results_path = self.directory / RESULTS_NAME
        self.manifest_path = self.directory / MANIFEST_NAME

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use of the store; the OS drops the lock if the process dies."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"{self.directory}: another sweep is writing to this store") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def repair(self) -> int:
        """Cut a half-written last line (a crash mid-write); returns the bytes removed."""
        if not self.results_path.exists():
            return 0
        with open(self.results_path, "r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            keep = _complete_length(fh, size)
            if keep < size:
                fh.truncate(keep)
                os.fsync(fh.fileno())
                log.warning("%s: removed a truncated last record (%d bytes)", self.results_path,
                            size - keep)
        return size - keep

    def records(self) -> list[dict[str, Any]]:
        """Every complete record, in the order written (a half-written last line is skipped)."""
        if not self.results_path.exists():
            return []
        data = self.results_path.read_bytes()
        end = data.rfind(b"\n") + 1
        out = []
        for n, line in enumerate(data[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable record skipped", self.results_path, n)
                continue
            if isinstance(record, dict) and isinstance(record.get("point_id"), str):
                out.append(record)
        return out

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each point id."""
        return {r["point_id"]: r for r in self.records()}

    @contextlib.contextmanager
    def appender(self) -> Iterator[Appender]:
        self.directory.mkdir(parents=True, exist_ok=True)
        app = Appender(self.results_path)
        try:
            yield app
        finally:
            app.close()

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_text_atomic(self.manifest_path, json.dumps(manifest, indent=1) + "\n")

    def read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{self.directory}: no {MANIFEST_NAME} (not a sweep results folder)"
                             ) from None
        except json.JSONDecodeError as exc:
            raise StoreError(f"{self.manifest_path}: unreadable: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise StoreError(f"{self.manifest_path}: no 'points' list")
        return data


def _complete_length(fh: Any, size: int) -> int:
    """Offset just past the last newline (0 if none), scanning back from the end in blocks."""
    pos = size
    block = 1 << 16
    while pos > 0:
        start = max(0, pos - block)
        fh.seek(start)
        chunk = fh.read(pos - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


# ---------------------------------------------------------------- tidy table ----------------

def build_table(points: Sequence[Mapping[str, Any]], latest: Mapping[str, Mapping[str, Any]]) -> Any:
    """The tidy table (pandas DataFrame): one row per point that has a record, in sweep order.

    ``points``: ``{"point_id", "point"}`` entries in sweep order. Columns: configuration, then
    metrics, then provenance (``PROVENANCE_KEYS``).
    """
    import pandas as pd

    rows, config_cols, metric_cols = [], {}, {}
    for index, entry in enumerate(points):
        record = latest.get(entry["point_id"])
        if record is None:
            continue
        config = {k: v for k, v in entry["point"].items() if k not in RESERVED_KEYS}
        metrics = record.get("metrics") or {}
        config_cols.update(dict.fromkeys(config))
        metric_cols.update(dict.fromkeys(metrics))
        prov = {key: record.get(key) for key in PROVENANCE_KEYS}
        prov.update(point_id=entry["point_id"], index=index)
        rows.append({**config, **metrics, **prov})
    columns = [*config_cols, *metric_cols, *PROVENANCE_KEYS]
    return pd.DataFrame(rows, columns=columns)


def write_table(df: Any, directory: Path, formats: Sequence[TableFormat]) -> list[Path]:
    """Write the table as ``results.<format>`` atomically (temporary file, then rename)."""
    paths = []
    for fmt in formats:
        path = directory / f"{TABLE_STEM}.{fmt.value}"
        if fmt is TableFormat.CSV:
            write_text_atomic(path, df.to_csv(index=False))
        else:
            _write_parquet_atomic(df, path)
        paths.append(path)
    return paths


def _write_parquet_atomic(df: Any, path: Path) -> None:
    import pyarrow as pa

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        try:
            df.to_parquet(tmp, index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A column mixing strings and numbers (explicit points may): store it as text.
            mixed = [c for c in df.columns if df[c].dtype == object]
            log.warning("%s: columns %s have mixed types; written as strings", path, mixed)
            fixed = df.astype({c: "string" for c in mixed})
            fixed.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def manifest_points(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"point_id": p["point_id"], "point": p["point"]} for p in manifest["points"]]

