"""Figs. 12-14 of the reference paper: appearance rate of the filters, re-training, accuracy gain.

Input: the output folder of ``rramcosim experiment retrain --out OUT`` (``cosim.retraining.
write_retraining``): ``retraining.csv``, one row per filter and ``phase`` (before/after) with
``filter``, ``kind`` (CF/FF), ``silent``, ``retrained``, ``appearance`` (fraction of test images
whose bit is 1) and ``silent_threshold``; and ``accuracy.csv``, one row per phase with
``accuracy``, ``accuracy_trained``, ``accuracy_nontrained``. Panels: (a) appearance rate per
filter before re-training, class and feature filters coloured, the silent threshold drawn
(Fig. 12); (b) the same after re-training, the re-trained filters marked (Fig. 13); (c) test
accuracy on trained / non-trained / all classes before and after (Fig. 14).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from figures import common

logger = logging.getLogger(__name__)

NAME = "fig12_14_retraining"
FILTER_TABLE = "retraining.csv"  # what `rramcosim experiment retrain` writes into OUT/
ACCURACY_TABLE = "accuracy.csv"
FILTER_COLUMNS = ("phase", "filter", "kind", "retrained", "appearance", "silent_threshold")
ACCURACY_COLUMNS = ("phase", "accuracy", "accuracy_trained", "accuracy_nontrained")
PHASES = (("before", "before re-training", "0.6"), ("after", "after re-training", "C2"))
KIND_COLORS = (("CF", "class filters (CF)", "C0"), ("FF", "feature filters (FF)", "C1"))
RETRAINED_COLOR = "C3"
METRICS = (("accuracy_trained", "trained"), ("accuracy_nontrained", "non-trained"), ("accuracy", "global"))


def _as_bool(values: Any) -> Any:
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))


def load_retraining(path: str | Path) -> tuple[Any, Any]:
    """(filter rows, accuracy rows) DataFrames from the command's output folder, or from its
    ``retraining.csv`` (``accuracy.csv`` is read next to it); errors name the file and column."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    filters = common.read_table(folder / FILTER_TABLE if p.is_dir() else p, FILTER_COLUMNS)
    accuracy = common.read_table(folder / ACCURACY_TABLE, ACCURACY_COLUMNS)
    for name, df in (("filter", filters), ("accuracy", accuracy)):
        unknown = set(df["phase"].astype(str)) - {ph for ph, _, _ in PHASES}
        if unknown:
            raise common.TableError(f"{folder}: {name} table has unknown phase(s) {sorted(unknown)}")
    return filters.assign(retrained=_as_bool(filters["retrained"])), accuracy


def _appearance_panel(ax: Any, rows: Any, *, mark_retrained: bool) -> None:
    rows = rows.sort_values("filter")
    for kind, label, color in KIND_COLORS:
        part = rows[(rows["kind"] == kind) & ~(rows["retrained"] & mark_retrained)]
        if not part.empty:
            ax.bar(part["filter"], 100 * part["appearance"], width=0.8, color=color, label=label)
    if mark_retrained and rows["retrained"].any():
        part = rows[rows["retrained"]]
        ax.bar(part["filter"], 100 * part["appearance"], width=0.8, color=RETRAINED_COLOR, label="re-trained FF")
    threshold = float(rows["silent_threshold"].iloc[0])
    ax.axhline(100 * threshold, color="k", ls="--", lw=1.0, label=f"silent threshold ({100 * threshold:.3g} %)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper right")


def plot_retraining(filters: Any, accuracy: Any) -> Any:
    """Three panels (appearance before, after, accuracy); returns the Figure."""
    import numpy as np

    common.require_columns(filters, FILTER_COLUMNS, "re-training filter table")
    common.require_columns(accuracy, ACCURACY_COLUMNS, "re-training accuracy table")
    with common.style():
        fig, (ax_b, ax_a, ax_c) = common.new_figure(1, 3, figsize=(12.0, 3.4),
                                                    gridspec_kw={"width_ratios": (3, 3, 1.6)})
        for ax, phase, title in ((ax_b, "before", "(a) appearance before re-training (Fig. 12)"),
                                 (ax_a, "after", "(b) appearance after re-training (Fig. 13)")):
            rows = filters[filters["phase"].astype(str) == phase]
            if rows.empty:
                logger.warning("no '%s' rows in the filter table", phase)
            else:
                _appearance_panel(ax, rows, mark_retrained=phase == "after")
            ax.set(xlabel="filter (index)", ylabel="appearance rate (%)", title=title)
        x = np.arange(len(METRICS))
        width = 0.8 / len(PHASES)
        for k, (phase, label, color) in enumerate(PHASES):
            row = accuracy[accuracy["phase"].astype(str) == phase]
            if row.empty:
                continue
            values = [100 * float(row[m].iloc[0]) for m, _ in METRICS]
            ax_c.bar(x + (k - (len(PHASES) - 1) / 2) * width, values, width=width, color=color, label=label)
        ax_c.set_xticks(x, [name for _, name in METRICS])
        ax_c.set_ylim(0, 125)  # room for the legend above the bars
        ax_c.set_yticks(np.arange(0, 101, 20))
        ax_c.legend(loc="upper center", ncol=1)
        ax_c.set(xlabel="test classes", ylabel="test accuracy (%)", title="(c) accuracy gain (Fig. 14)")
    return fig


def make(path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read the cached tables, plot, save; returns the PNG path."""
    return common.save(plot_retraining(*load_retraining(path)), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("results", type=Path,
                   help="output folder of `rramcosim experiment retrain` (or its retraining.csv)")
    args = p.parse_args(argv)
    print(make(args.results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
