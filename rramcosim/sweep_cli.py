"""`rramcosim sweep`: options -> ``SweepRunConfig`` -> ``cosim.sweep.run_sweep``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

SWEEP_HELP = """Run a parameter sweep described by SWEEP_FILE (TOML, or YAML with PyYAML) on Dask.

\b
  task = "device-levels"     # registered task or "package.module:function"
  engine = "fast"            # fast | spice
  spice_check = 0
  seeds = [0, 1, 2]
  [fixed]
  n_devices = 200
  [grid]                     # cartesian product of the axes
  i_c = [20e-6, 50e-6, 100e-6, 200e-6]
  v_stop = [1.5, 2.0]
  # [[points]] tables add explicit points after the grid

Each finished point is appended to OUT/results.jsonl at once; running the same
command again resumes (finished points are skipped). The tidy table is written
to OUT/results.csv and OUT/results.parquet at the end. Without --scheduler a local
cluster with one single-threaded worker process per core (or --workers) is started.
"""


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # Dask's own INFO lines (scheduler, nannies) only with -vv.
    logging.getLogger("distributed").setLevel(level if verbose >= 2 else logging.WARNING)


@click.command("sweep", help=SWEEP_HELP)
@click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Results store folder  [default: out/sweeps/<SWEEP_FILE stem>]")
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of a running Dask scheduler (e.g. tcp://host:8786).")
@click.option("--workers", "n_workers", type=click.IntRange(min=1),
              help="Local worker processes  [default: one per core]")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--retry-failed", is_flag=True, help="Run points that ended with an error again.")
@click.option("--dry-run", is_flag=True, help="List the points and their state; run nothing.")
@click.option("--compact-only", is_flag=True, help="Rewrite the tables from the store; run nothing.")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def sweep(sweep_file: Path, out_dir: Path | None, scheduler: str | None, n_workers: int | None,
          no_progress: bool, retry_failed: bool, dry_run: bool, compact_only: bool,
          verbose: int) -> None:
    from cosim.sweep import (RunMode, StoreError, SweepRunConfig, SweepSpecError, TaskError,
                             load_spec, run_sweep)

    _setup_logging(verbose)
    if dry_run and compact_only:
        raise click.UsageError("--dry-run and --compact-only exclude each other")
    mode = RunMode.PLAN if dry_run else RunMode.COMPACT if compact_only else RunMode.RUN
    try:
        config = SweepRunConfig(spec=load_spec(sweep_file),
                                out_dir=out_dir or Path("out/sweeps") / sweep_file.stem,
                                scheduler=scheduler, n_workers=n_workers,
                                progress=not no_progress, retry_failed=retry_failed, mode=mode)
        outcome = run_sweep(config)
    except (SweepSpecError, TaskError, StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    task = f"{outcome.task.name} v{outcome.task.version}"
    if mode is RunMode.PLAN:
        click.echo(f"{len(outcome.points)} points of {task} (store {outcome.out_dir}):")
        for p in outcome.points:
            values = ", ".join(f"{k}={v}" for k, v in p.point.items()
                               if k not in ("engine", "spice_check"))
            click.echo(f"  {p.index:4d} {p.point_id} {p.state.value:8s} {values}")
        return
    click.echo(f"{task}: {len(outcome.points)} points, {outcome.n_run} run now "
               f"({outcome.n_error} errors), {outcome.n_skipped} already finished, "
               f"{outcome.wall_s:.1f} s")
    for pid, message in list(outcome.errors.items())[:10]:
        click.echo(f"  error {pid}: {message}", err=True)
    for path in outcome.tables:
        click.echo(f"  wrote {path}")
