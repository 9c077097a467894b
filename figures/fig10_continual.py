"""Fig. 10 of the reference paper: accuracy vs the number of non-trained classes (continual learning).

Input: ``continual.csv`` of ``rramcosim experiment continual`` (``cosim.experiments.run_continual``
rows: ``n_nontrained``, ``seed``, ``sfa`` (True/False), ``accuracy``, ``accuracy_trained``,
``accuracy_nontrained``, ``fires_per_image``, ``write_energy_per_image_j``, ...), or its
``continual.jsonl`` (the same rows, one JSON object a line), or the folder holding them. Panels
over the number of non-trained classes, mean ± std over seeds, one colour per SFA mode:
(a) global test accuracy (solid) and accuracy on the non-trained classes (dashed);
(b) output fires per learning image, the power proxy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from figures import common

logger = logging.getLogger(__name__)

NAME = "fig10_continual"
TABLE_NAME = "continual.csv"  # what `rramcosim experiment continual` writes into OUT/
JSONL_NAME = "continual.jsonl"  # its resumable row log, same rows
COLUMNS = ("n_nontrained", "seed", "sfa", "accuracy", "accuracy_nontrained", "fires_per_image")
SFA_MODES = ((True, "SFA on", "C0", "o"), (False, "SFA off", "C3", "s"))


def _as_bool(values: Any) -> Any:
    """The ``sfa`` column as booleans (CSV readers may leave "True"/"False" as text)."""
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))


def _read_jsonl(path: Path) -> Any:
    import pandas as pd

    try:
        df = pd.read_json(path, lines=True)
    except ValueError as exc:
        raise common.TableError(f"{path}: cannot read JSON-lines table ({exc})") from exc
    common.require_columns(df, COLUMNS, str(path))
    if df.empty:
        raise common.TableError(f"{path}: no rows to plot")
    return df


def load_continual(path: str | Path) -> Any:
    """The continual-learning rows (DataFrame) of ``path``: a ``continual.csv``/``.parquet``, a
    ``continual.jsonl``, or the output folder holding them. Errors name the file and the missing
    column(s).

    A CSV row with more cells than the header (a cell whose quotes were not escaped, e.g. the
    JSON ``versions`` column) shifts the columns; then the sibling ``continual.jsonl`` is read
    instead when it exists, else a ``TableError`` names the file."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        p = next((p / n for n in (TABLE_NAME, JSONL_NAME) if (p / n).is_file()), p / TABLE_NAME)
    if p.suffix == ".jsonl":
        if not p.is_file():
            raise FileNotFoundError(f"no continual-learning table at {p}")
        return _read_jsonl(p)
    df = common.read_table(p, COLUMNS)
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the surplus leading cells as the index
        file = common.resolve_table(p)
        sibling = file.with_name(JSONL_NAME)
        if sibling.is_file():
            logger.warning("%s: rows have more cells than the header (unescaped quotes?); reading %s",
                           file, sibling)
            return _read_jsonl(sibling)
        raise common.TableError(f"{file}: rows have more cells than the header (a cell with unescaped "
                                f"quotes?), columns would be shifted; no {JSONL_NAME} next to it")
    return df


def plot_continual(table: Any) -> Any:
    """Two panels (accuracy %, fires per image) over the non-trained class count; returns the Figure."""
    from matplotlib.lines import Line2D

    common.require_columns(table, COLUMNS, "continual-learning table")
    rows = table.assign(sfa=_as_bool(table["sfa"]))
    with common.style():
        fig, (ax_a, ax_f) = common.new_figure(1, 2, figsize=(8.0, 3.2), sharex=True)
        for sfa, label, color, marker in SFA_MODES:
            mode = rows[rows["sfa"] == sfa]
            if mode.empty:
                continue
            n_seeds = mode["seed"].nunique()
            for metric, ls, what in (("accuracy", "-", "all classes"),
                                     ("accuracy_nontrained", "--", "non-trained classes")):
                data = mode.dropna(subset=[metric])
                if data.empty:
                    logger.warning("%s: no %s values to plot", label, metric)
                    continue
                s = common.group_stats(data, "n_nontrained", metric)
                ax_a.errorbar(s["n_nontrained"], 100 * s["mean"], yerr=100 * s["std"], color=color, ls=ls,
                              marker=marker, capsize=2, label=f"{label}, {what}")
            s = common.group_stats(mode.dropna(subset=["fires_per_image"]), "n_nontrained", "fires_per_image")
            ax_f.errorbar(s["n_nontrained"], s["mean"], yerr=s["std"], color=color, marker=marker, capsize=2,
                          label=f"{label} ({n_seeds} seed{'s' if n_seeds != 1 else ''})")
        handles = [Line2D([], [], color=c, marker=m, label=lab) for sfa, lab, c, m in SFA_MODES
                   if (rows["sfa"] == sfa).any()]
        handles += [Line2D([], [], color="0.3", ls="-", label="all classes"),
                    Line2D([], [], color="0.3", ls="--", label="non-trained classes")]
        ax_a.legend(handles=handles)
        ax_a.set(xlabel="non-trained classes (1)", ylabel="test accuracy (%)",
                 title="(a) continual learning accuracy (Fig. 10)")
        ax_f.legend()
        ax_f.set(xlabel="non-trained classes (1)", ylabel="fires per image (1)",
                 title="(b) output spiking, power proxy")
        ax_f.xaxis.get_major_locator().set_params(integer=True)
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read the cached table, plot, save; returns the PNG path."""
    return common.save(plot_continual(load_continual(table_path)), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path,
                   help="continual.csv / continual.jsonl of `rramcosim experiment continual`, or its folder")
    args = p.parse_args(argv)
    print(make(args.table, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
