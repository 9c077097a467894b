"""Per-point overhead of the Dask sweep runner against a plain serial loop (selftest task).

Measured in one run, on the same points:
  * serial loop: ``selftest(point)`` called in this process;
  * serial loop + store: the same, each result appended to a JSON-lines store (flush + fsync);
  * Dask runner on an already running LocalCluster (``--workers`` processes): ``run_sweep``
    with a scheduler address, so cluster start-up is left out;
  * Dask runner from scratch: ``run_sweep`` starting and stopping its own LocalCluster.
Overhead per point = (time - serial loop time) / points; the Dask rows include writing the
tables once at the end. The machine is shared: compare numbers within one run.

Usage: python benchmarks/sweep_overhead.py [--points 200] [--workers 2] [--sleep 0]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    from distributed import LocalCluster

    from cosim.sweep import ResultStore, RunMode, SweepRunConfig, run_sweep, spec_from_dict
    from cosim.sweep.builtin import selftest

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sleep", type=float, default=0.0, help="seconds of work per point")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import pandas  # noqa: F401  imported up front: its import time is not per-point overhead
    import pyarrow  # noqa: F401
    spec = spec_from_dict({"task": "selftest", "fixed": {"sleep_s": args.sleep},
                           "grid": {"x": [0.001 * i for i in range(args.points)]}},
                          source="benchmark")
    points = spec.expand()
    n = len(points)
    rows: list[tuple[str, float]] = []

    t0 = time.perf_counter()
    for p in points:
        selftest(p)
    serial = time.perf_counter() - t0
    rows.append(("serial loop", serial))

    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "serial")
        t0 = time.perf_counter()
        with store.appender() as app:
            for i, p in enumerate(points):
                app.append({"point_id": str(i), "status": "ok", "metrics": selftest(p)})
        rows.append(("serial loop + fsynced store", time.perf_counter() - t0))

        t0 = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_sweep(SweepRunConfig(spec=spec, out_dir=Path(tmp) / "warm", progress=False,
                                     scheduler=cluster.scheduler_address))
            rows.append((f"dask runner, running cluster ({args.workers} workers)",
                         time.perf_counter() - t0))
            t0 = time.perf_counter()
            resumed = run_sweep(SweepRunConfig(spec=spec, out_dir=Path(tmp) / "warm",
                                               progress=False, scheduler=cluster.scheduler_address))
            assert resumed.n_run == 0
            resume = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_sweep(SweepRunConfig(spec=spec, out_dir=Path(tmp) / "warm", mode=RunMode.COMPACT))
            compact = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(SweepRunConfig(spec=spec, out_dir=Path(tmp) / "cold", progress=False,
                                 n_workers=args.workers))
        rows.append((f"dask runner, own LocalCluster ({args.workers} workers)",
                     time.perf_counter() - t0))

    print(f"{n} points of selftest (sleep {args.sleep} s), {args.workers} workers")
    print(f"{'':45s} {'total s':>9s} {'per point ms':>13s} {'overhead ms/pt':>15s}")
    for name, total in rows:
        print(f"{name:45s} {total:9.3f} {1e3 * total / n:13.3f} {1e3 * (total - serial) / n:15.3f}")
    print(f"included in the Dask rows: compaction of the {n}-row table (CSV + Parquet) "
          f"{compact:.3f} s; LocalCluster start {startup:.2f} s (own-cluster row only)")
    print(f"resume with all {n} points done (plan + compact, no cluster): {resume:.3f} s")


if __name__ == "__main__":
    main()
