"""`rramcosim experiment metaplastic`: options -> ``StudyConfig`` -> ``cosim.metaplastic.study.run_study``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

METAPLASTIC_HELP = """Sequential tasks on a metaplastic quantised perceptron (D'Agostino et al., AICAS 2023).

\b
A two-layer perceptron (784 - HIDDEN - 10) with k-level weights (--levels; 2 =
binarised, Laborieux et al. 2021) is trained on the task sequence (--tasks, e.g.
mnist,fashion-mnist) once per metaplasticity m (--metas) and per mode (--modes):
'software' uses ideal quantised weights, 'device' programs every weight into a
differential pair of RRAM devices through the compact model (levels set by the
compliance current, variability, read noise, write-verify, write counters).
After every task, every task's test set is evaluated.

\b
Writes OUT/results.csv (one row per run, after-task and evaluated task),
OUT/run.json (config, seed, engines, SPICE-check agreement, run time, versions,
memory footprints) and, with --spice-check N, OUT/slice.cir: N test images of
the first task through ngspice on a slice of the trained device-aware layer 1.
Data: IDX files in DATA_DIR/mnist and DATA_DIR/fashion-mnist.
"""


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _split(text: str, option: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise click.BadParameter("give at least one comma-separated value", param_hint=option)
    return items


def _parse_metas(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in _split(text, "--metas"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers",
                                 param_hint="--metas") from None


def _parse_enum(text: str, kind: Any, option: str) -> tuple[Any, ...]:
    out = []
    for item in _split(text, option):
        try:
            out.append(kind(item.lower()))
        except ValueError:
            choices = ", ".join(k.value for k in kind)
            raise click.BadParameter(f"unknown value {item!r}; choose from {choices}",
                                     param_hint=option) from None
    return tuple(out)


# Defaults: the operating point of the search recorded in issue 8 (full data, 5 epochs per task,
# 15 levels, 1024 hidden, software; MNIST after Fashion-MNIST / Fashion-MNIST: m=6 0.648/0.864,
# m=8 0.930/0.841, m=10 0.975/0.821, m=12 0.978/0.807). Adam lr 0.005, affine batch norm and a
# fresh optimiser per task follow Laborieux et al.'s code (github.com/Laborieux-Axel/
# SynapticMetaplasticityBNN; its MNIST -> Fashion-MNIST BNN is 784-4096-4096-10, m = 1.5, 50
# epochs per task), which a two-core machine cannot afford.
@click.command("metaplastic", help=METAPLASTIC_HELP)
@click.option("--tasks", default="mnist,fashion-mnist", show_default=True,
              help="Task sequence, comma-separated: mnist, fashion-mnist, pmnist (permuted MNIST).")
@click.option("--metas", default="0,10", show_default=True,
              help="Metaplasticity m of each run (1 / hidden-weight units), comma-separated.")
@click.option("--modes", default="software,device", show_default=True,
              help="Modes, comma-separated: software, device.")
@click.option("--levels", type=click.IntRange(min=2), default=15, show_default=True,
              help="Weight levels k (2 = binarised).")
@click.option("--hidden", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Hidden neurons.")
@click.option("--w-range", type=click.FloatRange(min=0, min_open=True), default=0.25, show_default=True,
              help="Hidden weight mapped to the extreme level.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True, help="Epochs per task.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=5e-3, show_default=True,
              help="Adam learning rate.")
@click.option("--batch-size", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--bn-affine/--no-bn-affine", default=True, show_default=True,
              help="Learned batch-norm scale and shift, kept per task.")
@click.option("--reset-optimizer/--keep-optimizer", default=True, show_default=True,
              help="A fresh Adam at the start of every task.")
@click.option("--hidden-bits", type=click.IntRange(min=0), default=0, show_default=True,
              help="Fixed-point bits of the hidden weights in digital memory (0 = float32).")
@click.option("--hidden-max", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Range +-HIDDEN_MAX of the fixed-point hidden weights.")
@click.option("--n-train", type=click.IntRange(min=1), help="Training images per task  [default: all]")
@click.option("--n-test", type=click.IntRange(min=1), help="Test images per task  [default: all]")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Folder with mnist/ and fashion-mnist/  [default: $RRAMCOSIM_DATA_DIR, "
                   "else ~/.cache/rramcosim/datasets]")
@click.option("--card", default="siox-literature", show_default=True, help="Device model card (preset).")
@click.option("--d2d-pool", type=click.IntRange(min=1), default=512, show_default=True,
              help="Distinct sampled devices (device-to-device variability) the arrays draw from.")
@click.option("--program-interval", type=click.IntRange(min=1), default=1, show_default=True,
              help="Training steps between device re-programming.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of every random draw.")
@click.option("--spice-check", type=click.IntRange(min=0), default=0, show_default=True,
              help="Test images run through ngspice on a slice of the device-aware layer 1.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/metaplastic"), show_default=True, help="Output folder.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads (small matrices: one is usually fastest).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def metaplastic(tasks: str, metas: str, modes: str, levels: int, hidden: int, w_range: float, epochs: int,
                lr: float, batch_size: int, bn_affine: bool, reset_optimizer: bool, hidden_bits: int,
                hidden_max: float, n_train: int | None, n_test: int | None, data_dir: Path | None,
                card: str, d2d_pool: int, program_interval: int, seed: int, spice_check: int, out_dir: Path,
                threads: int, no_progress: bool, verbose: int) -> None:
    import torch

    from cosim.datasets import DatasetError, resolve_data_dir
    from cosim.metaplastic.devices import DeviceConfig
    from cosim.metaplastic.experiment import ExperimentConfig, TaskKind
    from cosim.metaplastic.network import Mode, TrainConfig
    from cosim.metaplastic.study import StudyConfig, run_study

    _setup_logging(verbose)
    torch.set_num_threads(threads)
    task_kinds = _parse_enum(tasks, TaskKind, "--tasks")
    mode_list = _parse_enum(modes, Mode, "--modes")
    meta_list = _parse_metas(metas)
    root = resolve_data_dir(data_dir)
    if not root.is_dir():
        raise click.ClickException(f"data dir {root} does not exist (give --data-dir or set "
                                   f"$RRAMCOSIM_DATA_DIR to a folder holding mnist/ and fashion-mnist/)")
    try:
        train = TrainConfig(hidden=hidden, n_levels=levels, w_range=w_range, lr=lr, epochs_per_task=epochs,
                            batch_size=batch_size, bn_affine=bn_affine, reset_optimizer=reset_optimizer,
                            hidden_bits=hidden_bits, hidden_max=hidden_max,
                            program_interval=program_interval, device=DeviceConfig(d2d_pool=d2d_pool),
                            seed=seed)
        experiment = ExperimentConfig(tasks=task_kinds, metas=meta_list, modes=mode_list, train=train,
                                      card=card, data_dir=str(root), n_train=n_train, n_test=n_test,
                                      seed=seed)
        config = StudyConfig(experiment=experiment, out_dir=str(out_dir), spice_check=spice_check,
                             spice_seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    total = len(meta_list) * len(mode_list) * len(task_kinds) * epochs
    try:
        if no_progress:
            result = run_study(config)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                job = bar.add_task("training (epochs)", total=total)
                result = run_study(config, progress=lambda: bar.advance(job))
    except (DatasetError, ValueError, LookupError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_summary(result.record)
    click.echo(f"wrote {result.csv_path}\nwrote {result.json_path}")


def _print_summary(record: dict[str, Any]) -> None:
    from rich.table import Table

    from rramcosim.tables import print_table

    table = Table(title="Accuracy on every task (columns) after each task (rows)")
    table.add_column("run")
    table.add_column("after")
    first = next(iter(record["runs"].values()))["accuracy"]
    names = list(next(iter(first.values())))
    for name in names:
        table.add_column(name, justify="right")
    for run, entry in record["runs"].items():
        for after, accs in entry["accuracy"].items():
            table.add_row(run, after, *(f"{accs[t]:.4f}" for t in names))
    print_table(table)
    fp = record["footprint"]
    click.echo(f"memory, same architecture {fp['architecture']}: binarised "
               f"{fp['binarized']['total_bits']} bits, quantised ({fp['quantized_levels']} levels, "
               f"{fp['quantized_hidden_bits']}-bit hidden) {fp['quantized']['total_bits']} bits, "
               f"ratio {fp['ratio_binarized_over_quantized']:.3f}")
    spice = record["spice_check"]
    if spice.get("images"):
        click.echo(f"SPICE check ({spice['run']}, {spice['images']} images, {spice['rows']}x"
                   f"{spice['cols']} slice): max rel. error vs G@V {spice['max_rel_error_columns_vs_GV']:.3g}, "
                   f"differential sign agreement {spice['sign_agreement_differential']:.3f}")
