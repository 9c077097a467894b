"""Regenerate every figure whose cached inputs exist in a results folder.

Looked for in RESULTS (default ``out/results``): ``device_levels`` (Fig. 2), ``frontend_bits``
(Fig. 5), ``frontend_ic`` (Fig. 6) and ``synapse_ic`` (Fig. 9, a "classify" sweep over
``synapse_i_c``, merged with any ``synapse_ic_*`` sweep folder: its SPICE check, other rules
and data sets; any of them alone is enough), each a ``.parquet`` or ``.csv`` table or a sweep
folder holding ``results.{parquet,csv}``; ``cosim/`` (Fig. 8, a ``rramcosim cosim`` output folder);
``continual/continual.csv`` (Fig. 10, ``rramcosim experiment continual --out RESULTS/continual``)
and ``classify/<dataset>/learning.csv`` (Figs. 7 and 11, ``rramcosim experiment classify --out
RESULTS/classify``; the "mnist" run when there are several, else the first by name);
``retraining/`` (Figs. 12-14, ``rramcosim experiment retrain --out RESULTS/retraining``).
Figures whose inputs are missing or unusable are skipped and listed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from figures import (common, fig2_device_levels, fig5_bits, fig6_ic_vstop, fig7_feature_maps, fig8_astdp_evolution,
                     fig9_accuracy_vs_ic, fig10_continual, fig11_spike_rate, fig12_14_retraining)

logger = logging.getLogger(__name__)

DEFAULT_RESULTS = Path("out/results")
PREFERRED_DATASET = "mnist"  # `rramcosim experiment classify`'s default data set


class FigureJob(NamedTuple):
    name: str  # the figure's output name
    source: str  # where its input sits inside the results folder
    find: Callable[[Path], Any]  # the input (a path, or paths), or None when it is missing
    make: Callable[[Any, Any], Path]  # (input, out_dir) -> PNG path


def _cosim_folder(path: Path) -> Path | None:
    return path if (path / "winners.csv").is_file() and (path / "device_states.npz").is_file() else None


def _continual_table(folder: Path) -> Path | None:
    names = (fig10_continual.TABLE_NAME, fig10_continual.JSONL_NAME)
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _synapse_ic_tables(results: Path) -> list[Path] | None:
    """Fig. 9's tables: the main sweep ``synapse_ic`` when there is one, then every
    ``synapse_ic_*`` (its SPICE check, other rules and data sets) by name, so a sweep comes
    before its ``*_spice`` check and its accuracy is the one plotted."""
    folders = [results / "synapse_ic", *sorted(d for d in results.glob("synapse_ic_*") if d.is_dir())]
    tables = [t for t in map(common.find_table, folders) if t is not None]
    return tables or None


def _learning_table(folder: Path) -> Path | None:
    """``<folder>/<dataset>/learning.csv``: the preferred data set's, else the first by name."""
    if not folder.is_dir():
        return None
    found = sorted(d / fig11_spike_rate.TABLE_NAME for d in folder.iterdir()
                   if (d / fig11_spike_rate.TABLE_NAME).is_file())
    preferred = [f for f in found if f.parent.name == PREFERRED_DATASET]
    if len(found) > 1:
        logger.info("%s: %d learning logs, plotting %s", folder, len(found), (preferred or found)[0])
    return (preferred or found or [None])[0]


def jobs(results: Path) -> list[FigureJob]:
    """The figures ``make_all`` knows, with their inputs' places under ``results``."""
    table = common.find_table
    return [
        FigureJob(fig2_device_levels.NAME, "device_levels", lambda r: table(r / "device_levels"),
                  fig2_device_levels.make),
        FigureJob(fig5_bits.NAME, "frontend_bits", lambda r: table(r / "frontend_bits"), fig5_bits.make),
        FigureJob(fig6_ic_vstop.NAME, "frontend_ic", lambda r: table(r / "frontend_ic"), fig6_ic_vstop.make),
        FigureJob(fig7_feature_maps.NAME, "classify/<dataset>/learning.csv",
                  lambda r: _learning_table(r / "classify"), fig7_feature_maps.make),
        FigureJob(fig8_astdp_evolution.NAME, "cosim/", lambda r: _cosim_folder(r / "cosim"),
                  fig8_astdp_evolution.make),
        FigureJob(fig9_accuracy_vs_ic.NAME, "synapse_ic", _synapse_ic_tables, fig9_accuracy_vs_ic.make),
        FigureJob(fig10_continual.NAME, "continual/continual.csv", lambda r: _continual_table(r / "continual"),
                  fig10_continual.make),
        FigureJob(fig11_spike_rate.NAME, "classify/<dataset>/learning.csv",
                  lambda r: _learning_table(r / "classify"), fig11_spike_rate.make),
        FigureJob(fig12_14_retraining.NAME, "retraining/",
                  lambda r: r / "retraining" if (r / "retraining" / fig12_14_retraining.FILTER_TABLE).is_file()
                  else None, fig12_14_retraining.make),
    ]


def make_all(results: str | Path, out_dir: str | Path | None = None) -> tuple[list[Path], list[str]]:
    """Make every figure whose input exists; returns (written PNGs, skipped figure names).
    A figure whose input is there but unusable (a missing column) is skipped with a warning
    that names the file, so one old table does not stop the others."""
    results = Path(results)
    written, skipped = [], []
    for job in jobs(results):
        source = job.find(results)
        if source is None:
            logger.info("%s: no %s in %s, skipped", job.name, job.source, results)
            skipped.append(job.name)
            continue
        try:
            written.append(job.make(source, out_dir))
        except common.TableError as exc:  # e.g. a log from an older version without a column
            logger.warning("%s: cannot draw from %s: %s", job.name, source, exc)
            skipped.append(job.name)
    return written, skipped


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("results", type=Path, nargs="?", default=DEFAULT_RESULTS,
                   help=f"results folder (default: {DEFAULT_RESULTS})")
    args = p.parse_args(argv)
    written, skipped = make_all(args.results, args.out)
    for path in written:
        print(path)
    for name in skipped:
        print(f"skipped {name}: input missing or unusable in {args.results} (see the warnings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
