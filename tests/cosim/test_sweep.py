"""Parameter sweeps on Dask: sweep files, point ids, the results store, runs on a two-worker
local cluster, a sweep killed midway and resumed, and the device-levels task (Fig. 2 data)."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cosim.sweep import (RUN_COLUMNS, Engine, PointState, ResultStore, RunMode, SweepRunConfig,
                         SweepSpecError, TaskError, compact_store, load_spec, plan_points,
                         point_id, resolve_task, run_sweep, spec_from_dict)
from cosim.sweep.tasks import check_metrics

REPO = Path(__file__).resolve().parents[2]

SPEC = """\
task = "device-levels"
engine = "fast"
spice_check = 0
seeds = [0, 1]

[fixed]
n_devices = 50

[grid]
i_c = [20e-6, 100e-6]
v_stop = [1.5, 2.0, 3.0]

[[points]]
i_c = 200e-6
v_stop = 2.5
"""


def _write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- sweep files ----------------

def test_grid_points_are_the_cartesian_product_with_seeds_innermost(tmp_path):
    spec = load_spec(_write(tmp_path, SPEC))
    assert spec.task == "device-levels" and spec.engine is Engine.FAST and spec.seeds == (0, 1)
    points = spec.expand()
    assert len(points) == (2 * 3 + 1) * 2
    assert points[0] == {"n_devices": 50, "i_c": 20e-6, "v_stop": 1.5, "seed": 0,
                         "engine": "fast", "spice_check": 0}
    assert [p["seed"] for p in points[:4]] == [0, 1, 0, 1]
    assert [p["v_stop"] for p in points[:6:2]] == [1.5, 2.0, 3.0]  # last axis fastest
    assert points[-1]["i_c"] == 200e-6 and points[-1]["v_stop"] == 2.5


def test_yaml_sweep_file_gives_the_same_spec(tmp_path):
    pytest.importorskip("yaml")
    yaml_text = """\
    task: device-levels
    seeds: [0, 1]
    fixed: {n_devices: 50}
    grid: {i_c: [2.0e-5, 1.0e-4], v_stop: [1.5, 2.0, 3.0]}
    points: [{i_c: 2.0e-4, v_stop: 2.5}]
    """
    a = load_spec(_write(tmp_path, SPEC)).expand()
    b = load_spec(_write(tmp_path, yaml_text, "sweep.yaml")).expand()
    assert a == b


@pytest.mark.parametrize("text, field", [
    ('task = "selftest"\nsurprise = 1\n', "surprise"),
    ('task = "selftest"\n[grid]\nx = []\n', "grid.x"),
    ('task = "selftest"\n[grid]\nx = 3\n', "grid.x"),
    ('task = "selftest"\n[grid]\nx = [1, [2]]\n', "grid.x[1]"),
    ('task = "selftest"\nspice_check = "2"\n', "spice_check"),
    ('task = "selftest"\nseeds = ["a"]\n', "seeds[0]"),
    ('task = "selftest"\nseeds = []\n', "seeds"),
    ('task = "selftest"\nengine = "warp"\n', "engine"),
    ('task = 3\n', "task"),
    ('engine = "fast"\n', "task"),
    ('task = "selftest"\n[fixed]\nx = 1\n[grid]\nx = [1, 2]\n', "grid.x"),
    ('task = "selftest"\n[fixed]\nseed = 1\n', "fixed.seed"),
    ('task = "selftest"\n[fixed]\nx = {a = 1}\n', "fixed.x"),
    ('task = "selftest"\n[[points]]\ny = nan\n', "points[0].y"),
    ('task = "selftest"\ngrid = 1\n', "grid"),
])
def test_bad_sweep_files_are_rejected_naming_file_and_field(tmp_path, text, field):
    path = _write(tmp_path, text)
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_unreadable_or_missing_sweep_file(tmp_path):
    with pytest.raises(SweepSpecError, match="no such sweep file"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SweepSpecError, match="cannot parse"):
        load_spec(_write(tmp_path, "task = \n"))


def test_duplicate_points_and_unsupported_engines_are_rejected():
    spec = spec_from_dict({"task": "selftest", "grid": {"x": [1.0]}, "points": [{"x": 1.0}]},
                          source="dup.toml")
    with pytest.raises(SweepSpecError, match="dup.toml: point 1 .* repeats point 0"):
        plan_points(spec, resolve_task("selftest"))
    spice = spec_from_dict({"task": "device-levels", "engine": "spice"}, source="s.toml")
    with pytest.raises(SweepSpecError, match="s.toml: engine: .*device-levels.* not 'spice'"):
        plan_points(spice, resolve_task("device-levels"))


def test_a_spice_check_is_refused_by_tasks_that_have_none():
    import cosim.frontend.sweeps  # noqa: F401  (registers the front-end tasks)

    for task in ("device-levels", "frontend-bits", "frontend-ic"):
        spec = spec_from_dict({"task": task, "spice_check": 2, "grid": {"v_stop": [1.5]}}, source="c.toml")
        with pytest.raises(SweepSpecError, match=f"c.toml: spice_check: task '{task}' has no SPICE check"):
            plan_points(spec, resolve_task(task))
        assert plan_points(dataclasses.replace(spec, spice_check=0), resolve_task(task))
    assert resolve_task("classify").spice_check and resolve_task("selftest").spice_check


# ---------------------------------------------------------------- ids and tasks ----------------

def test_point_ids_are_stable_and_depend_on_task_and_version():
    point = {"i_c": 1e-4, "v_stop": 2.0, "seed": 0, "engine": "fast", "spice_check": 0}
    pid = point_id(point, "device-levels", "1")
    assert pid == "23b9f0c7f7e5735c"  # golden: a changed hash would rerun every stored sweep
    assert point_id(dict(reversed(point.items())), "device-levels", "1") == pid
    assert point_id(point, "device-levels", "2") != pid
    assert point_id(point, "selftest", "1") != pid
    assert point_id({**point, "seed": 1}, "device-levels", "1") != pid


def test_tasks_resolve_by_name_and_by_import_path():
    by_name = resolve_task("selftest")
    assert by_name.target == "cosim.sweep.builtin:selftest" and by_name.version == "1"
    assert resolve_task("cosim.sweep.builtin:selftest") == by_name
    plain = resolve_task("math:hypot")  # an undecorated function: version "0"
    assert plain.name == "math:hypot" and plain.version == "0"
    with pytest.raises(TaskError, match="unknown task 'nope'.*selftest"):
        resolve_task("nope")
    with pytest.raises(TaskError, match="cannot import"):
        resolve_task("no_such_module_xyz:fn")


def test_metrics_become_plain_scalars():
    out = check_metrics({"a": np.float64(1.5), "b": np.int64(2), "c": float("nan"), "d": "x"},
                        frozenset({"seed"}))
    assert out == {"a": 1.5, "b": 2, "c": None, "d": "x"} and type(out["b"]) is int
    with pytest.raises(TypeError, match="'v' is ndarray"):
        check_metrics({"v": np.ones(3)}, frozenset())
    with pytest.raises(TypeError, match="'seed' clashes"):
        check_metrics({"seed": 1.0}, frozenset({"seed"}))


# ---------------------------------------------------------------- store ----------------

def test_store_appends_and_keeps_the_last_record_of_each_point(tmp_path):
    store = ResultStore(tmp_path / "s")
    with store.appender() as app:
        app.append({"point_id": "a", "status": "error"})
        app.append({"point_id": "b", "status": "ok"})
        app.append({"point_id": "a", "status": "ok"})
    assert [r["point_id"] for r in store.records()] == ["a", "b", "a"]
    assert {k: r["status"] for k, r in store.latest().items()} == {"a": "ok", "b": "ok"}


def test_truncated_last_line_is_ignored_then_repaired(tmp_path):
    store = ResultStore(tmp_path / "s")
    with store.appender() as app:
        app.append({"point_id": "a", "status": "ok"})
    whole = store.results_path.read_bytes()
    with open(store.results_path, "ab") as fh:
        fh.write(b'{"point_id":"b","status":"o')  # a crash mid-write
    assert list(store.latest()) == ["a"]
    assert store.repair() == len(b'{"point_id":"b","status":"o')
    assert store.results_path.read_bytes() == whole
    assert store.repair() == 0
    with store.appender() as app:  # appending after the repair gives clean lines
        app.append({"point_id": "c", "status": "ok"})
    assert list(store.latest()) == ["a", "c"]


def test_store_lock_excludes_a_second_writer(tmp_path):
    from cosim.sweep import StoreError

    store = ResultStore(tmp_path / "s")
    with store.lock():
        with pytest.raises(StoreError, match="another sweep"):
            with ResultStore(tmp_path / "s").lock():
                pass


# ---------------------------------------------------------------- Dask runs ----------------

@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def _selftest_spec(tmp_path: Path, n: int, sleep_s: float, extra: str = "") -> Path:
    xs = ", ".join(f"{0.5 * i:.1f}" for i in range(n))
    return _write(tmp_path, f"""\
    task = "selftest"
    seeds = [0]
    [fixed]
    sleep_s = {sleep_s}
    {extra}
    [grid]
    x = [{xs}]
    """, f"selftest-{n}.toml")


def _run(spec_path: Path, out: Path, cluster, **kw):
    return run_sweep(SweepRunConfig(spec=load_spec(spec_path), out_dir=out, progress=False,
                                    scheduler=cluster.scheduler_address, **kw))


def _stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=list(RUN_COLUMNS)).reset_index(drop=True)


def test_sweep_on_two_workers_resumes_and_retries_failed_points(tmp_path, cluster):
    flag = tmp_path / "fail-now"
    flag.write_text("")
    spec = _selftest_spec(tmp_path, 8, 0.05)
    bad = _write(tmp_path, spec.read_text() + f'[[points]]\nx = 9.0\nfail_if_exists = "{flag}"\n',
                 "with-bad.toml")
    out = tmp_path / "out"
    first = _run(bad, out, cluster)
    assert (first.n_run, first.n_ok, first.n_error, first.n_skipped) == (9, 8, 1, 0)
    [message] = first.errors.values()
    assert message.startswith("RuntimeError: selftest: failing on purpose")
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 9 and list(table["index"]) == list(range(9))
    assert table["worker"].nunique() == 2  # both workers took points
    assert table.loc[8, "status"] == "error" and table.loc[8, "error_type"] == "RuntimeError"
    assert np.isnan(table.loc[8, "value"])
    assert {"point_id", "task", "task_version", "engine", "seed", "wall_s", "host",
            "package_version", "git_commit", "started", "finished", "numpy", "torch", "torch_threads"
            } <= set(table.columns)
    assert list(table.columns[:2]) == ["sleep_s", "x"]

    again = _run(bad, out, cluster)  # resume: nothing new, the failed point stays failed
    assert (again.n_run, again.n_skipped) == (0, 9)
    assert [p.state for p in again.points].count(PointState.FAILED) == 1
    flag.unlink()
    retried = _run(bad, out, cluster, retry_failed=True)
    assert (retried.n_run, retried.n_ok) == (1, 1)
    final = pd.read_csv(out / "results.csv")
    assert (final["status"] == "ok").all() and len(final) == 9

    # Same sweep file, fresh store -> same table (timing and host columns aside).
    fresh = _run(bad, tmp_path / "fresh", cluster)
    pd.testing.assert_frame_equal(_stable(pd.read_csv(tmp_path / "fresh" / "results.csv")),
                                  _stable(final))
    assert fresh.n_error == 0

    (out / "results.csv").unlink()
    compact_store(out)  # on demand, from the manifest
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), final)


_KILL_SCRIPT = """\
import sys
from pathlib import Path
from cosim.sweep import SweepRunConfig, load_spec, run_sweep
run_sweep(SweepRunConfig(spec=load_spec(sys.argv[1]), out_dir=Path(sys.argv[2]), n_workers=2,
                         progress=False))
"""


def _finished(store: ResultStore) -> int:
    return sum(r["status"] == "ok" for r in store.records())


def test_sweep_killed_midway_resumes_to_the_uninterrupted_table(tmp_path, cluster):
    n, k = 12, 4
    spec = _selftest_spec(tmp_path, n, 0.3)
    out = tmp_path / "killed"
    store = ResultStore(out)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(tmp_path / "sweep.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(spec), str(out)],
                                cwd=REPO, env=env, stdout=log, stderr=log,
                                start_new_session=True)  # its own group: workers die with it
        try:
            deadline = time.monotonic() + 60
            while _finished(store) < k and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    before = _finished(store)
    assert k <= before < n, (tmp_path / "sweep.log").read_text()
    with open(store.results_path, "ab") as fh:
        fh.write(b'{"point_id":"0000","status"')  # as if killed inside a write

    resumed = _run(spec, out, cluster)
    assert resumed.repaired_bytes > 0
    assert (resumed.n_skipped, resumed.n_run, resumed.n_error) == (before, n - before, 0)
    counts = collections.Counter(r["point_id"] for r in store.records())
    assert len(counts) == n and set(counts.values()) == {1}  # no point ran twice

    reference = _run(spec, tmp_path / "reference", cluster)
    assert reference.n_run == n
    pd.testing.assert_frame_equal(_stable(pd.read_parquet(out / "results.parquet")),
                                  _stable(pd.read_parquet(tmp_path / "reference" / "results.parquet")))


def test_device_levels_lrs_falls_with_compliance_and_its_spread_shrinks(tmp_path, cluster):
    spec = _write(tmp_path, """\
    task = "device-levels"
    seeds = [3]
    [fixed]
    n_devices = 200
    [grid]
    i_c = [20e-6, 50e-6, 100e-6, 200e-6]
    v_stop = [2.0]
    """)
    outcome = _run(spec, tmp_path / "levels", cluster)
    assert outcome.n_ok == 4
    t = pd.read_parquet(tmp_path / "levels" / "results.parquet")
    assert list(t["i_c"]) == [20e-6, 50e-6, 100e-6, 200e-6]
    assert np.all(np.diff(t["r_lrs_median"]) < 0)
    assert np.all(np.diff(t["r_lrs_sigma_mu"]) < 0)
    assert np.all((t["r_lrs_median"] * t["i_c"] > 1.0) & (t["r_lrs_median"] * t["i_c"] < 2.0))
    assert np.all(t["r_hrs_median"] > 20 * t["r_lrs_median"])


def test_plan_mode_lists_points_and_writes_nothing(tmp_path):
    spec = load_spec(_selftest_spec(tmp_path, 3, 0.0))
    outcome = run_sweep(SweepRunConfig(spec=spec, out_dir=tmp_path / "none", mode=RunMode.PLAN))
    assert [p.state for p in outcome.points] == [PointState.PENDING] * 3
    assert not (tmp_path / "none").exists()


def test_cli_dry_run_lists_the_points(tmp_path):
    from click.testing import CliRunner

    from rramcosim.sweep_cli import sweep

    spec = _selftest_spec(tmp_path, 3, 0.0)
    result = CliRunner().invoke(sweep, [str(spec), "--out", str(tmp_path / "o"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 points of selftest v1" in result.output and result.output.count("pending") == 3
    bad = _write(tmp_path, 'task = "selftest"\nseeds = 1.5\n', "bad.toml")
    result = CliRunner().invoke(sweep, [str(bad), "--dry-run"])
    assert result.exit_code != 0 and "bad.toml: seeds" in result.output


def test_cli_runs_a_sweep_on_a_scheduler_and_compacts_on_demand(tmp_path, cluster):
    from click.testing import CliRunner

    from rramcosim.sweep_cli import sweep

    spec, out = _selftest_spec(tmp_path, 4, 0.0), tmp_path / "cli"
    args = [str(spec), "--out", str(out), "--scheduler", cluster.scheduler_address, "--no-progress"]
    result = CliRunner().invoke(sweep, args)
    assert result.exit_code == 0, result.output
    assert "4 run now (0 errors), 0 already finished" in result.output
    assert "results.parquet" in result.output
    (out / "results.parquet").unlink()
    result = CliRunner().invoke(sweep, [*args, "--compact-only"])
    assert result.exit_code == 0 and len(pd.read_parquet(out / "results.parquet")) == 4


def test_compacting_an_empty_store_gives_an_empty_table_with_provenance_columns(tmp_path):
    spec = load_spec(_selftest_spec(tmp_path, 2, 0.0))
    outcome = run_sweep(SweepRunConfig(spec=spec, out_dir=tmp_path / "e", mode=RunMode.COMPACT))
    table = pd.read_parquet(tmp_path / "e" / "results.parquet")
    assert len(table) == 0 and "point_id" in table.columns and len(outcome.tables) == 2
