"""Fig. 9 of the reference paper: accuracy vs the A-STDP synapses' compliance current, per data set.

Input: the results table of a "classify" sweep over ``synapse_i_c`` (``rramcosim sweep
sweeps/fig9_mnist_synapse_ic.toml``: ``results.csv`` / ``.parquet`` or its folder), with the
columns ``dataset``, ``seed``, ``synapse_i_c`` (A, the grid value), ``accuracy``, optionally
``c2c`` (synapse cycle-to-cycle spread on: its own series, open markers),
``reset_off_pattern`` (off-pattern depression on: its own series, diamonds), ``v_te_reset`` (a
RESET level other than the circuit's full RESET, i.e. graded depression: its own series,
squares), ``reset_drop`` (a RESET level solved per I_C for that drop per pulse: its own series,
triangles; the level of each point is its ``solved_v_te_reset``), ``verify_tolerance`` (the
front end's array write-verified to that many level steps: its own series, down triangles)
and, when the sweep checked
SPICE, ``spice_winner_equal`` (learning episodes) and ``spice_inference_winner_equal_slice``
(test episodes). Several tables merge: a point (data set, seed, I_C, c2c, reset_off_pattern,
v_te_reset, reset_drop, verify_tolerance) found in more than one, such as the main
sweep and its SPICE-check sweep (``sweeps/fig9_mnist_spice_check.toml``), counts once and takes
each column from the first table that has it. Panels: (a) test accuracy, mean ± std over seeds,
one colour per data set, the paper's all-classes number as a dashed line of the same colour;
(b) the fast engine's agreement with ngspice on the checked episodes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from circuits.astdp import AstdpParams
from figures import common

logger = logging.getLogger(__name__)

NAME = "fig9_accuracy_vs_ic"
COLUMNS = ("dataset", "seed", "synapse_i_c", "accuracy")
SPICE_SERIES = (("spice_winner_equal", "learning episodes", "-"),
                ("spice_inference_winner_equal_slice", "test episodes", ":"))
FLAGS = ("c2c", "reset_off_pattern")  # boolean columns that make a point its own series
# ... the RESET level, fixed or solved, and the front end's write-verify tolerance (0: open loop)
VARIANTS = (*FLAGS, "v_te_reset", "reset_drop", "verify_tolerance")
FULL_RESET = AstdpParams().v_te_reset  # V: what a table without the column used


def load_sweep(path: str | Path | Sequence[str | Path]) -> Any:
    """The sweep rows (DataFrame) of one or more results tables or their folders (merged as the
    module docstring says); failed points (no accuracy) are dropped with a warning. Errors name
    the file and the missing column(s)."""
    import pandas as pd

    paths = [path] if isinstance(path, (str, Path)) else list(path)
    parts = []
    for p in paths:
        df = common.read_table(Path(p), COLUMNS)  # a sweep folder: its results table
        failed = df["accuracy"].isna()
        if failed.any():
            logger.warning("%s: %d point(s) without an accuracy (failed?) left out", p, int(failed.sum()))
            df = df[~failed]
        parts.append(_with_variants(df))
    df = pd.concat(parts, ignore_index=True)
    if df.empty:
        raise common.TableError(f"{', '.join(map(str, paths))}: no finished points to plot")
    if len(parts) > 1:  # one row per point; groupby.first takes each column's first non-missing value
        df = df.groupby(["dataset", "seed", "synapse_i_c", *VARIANTS], as_index=False, sort=False).first()
    return df


def _flag(values: Any) -> Any:
    """A boolean column (CSV may hold "True"/"False" text; a missing value: off)."""
    return values.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))


def _numeric(df: Any, column: str, missing: float) -> Any:
    """A numeric column as a Series (absent or blank: ``missing``)."""
    import pandas as pd

    if column not in df:
        return pd.Series(missing, index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").fillna(missing)


def _with_variants(df: Any) -> Any:
    drop = _numeric(df, "reset_drop", 0.0)
    # a solved level differs per I_C: the drop names the series, not the level
    level = _numeric(df, "v_te_reset", FULL_RESET).where(drop == 0, FULL_RESET)
    return df.assign(**{v: _flag(df[v]) if v in df else False for v in FLAGS}, v_te_reset=level, reset_drop=drop,
                     verify_tolerance=_numeric(df, "verify_tolerance", 0.0))


def plot_accuracy_vs_ic(table: Any) -> Any:
    """Accuracy (%) and SPICE agreement over the synapse I_C (uA, log axis); returns the Figure."""
    from cosim.experiments import PAPER_ACCURACY

    common.require_columns(table, COLUMNS, "accuracy-vs-I_C table")
    rows = _with_variants(table).assign(i_c_ua=1e6 * table["synapse_i_c"].astype(float))
    with common.style():
        # legends below the panels: with several rules and data sets they would hide the points
        fig, (ax_a, ax_s) = common.new_figure(1, 2, figsize=(10.0, 6.0), sharex=True)
        for k, (dataset, data) in enumerate(sorted(rows.groupby("dataset"), key=lambda kv: str(kv[0]))):
            color = f"C{k}"
            for (c2c, off, v_reset, drop, verify), part in data.groupby(list(VARIANTS), sort=True):
                graded = v_reset != FULL_RESET
                level = (f" solved for {100 * drop:.3g} % per pulse" if drop
                         else f" at {v_reset:g} V" if graded else "")
                name = (str(dataset) + (", off-pattern RESET" if off else "") + level
                        + (", synapse C2C" if c2c else "")
                        + (f", front end write-verified to {verify:g} level steps" if verify else ""))
                marker = "v" if verify else "^" if drop else "s" if graded else "D" if off else "o"
                s = common.group_stats(part, "i_c_ua", "accuracy")
                n_seeds = part["seed"].nunique()
                ax_a.errorbar(s["i_c_ua"], 100 * s["mean"], yerr=100 * s["std"], color=color,
                              marker=marker, mfc="white" if c2c else color, capsize=2,
                              label=f"{name} ({n_seeds} seed{'s' if n_seeds != 1 else ''})")
                for column, episodes, ls in SPICE_SERIES:
                    if column in part and part[column].notna().any():
                        c = common.group_stats(part.dropna(subset=[column]), "i_c_ua", column)
                        ax_s.plot(c["i_c_ua"], 100 * c["mean"], color=color, ls=ls, marker=marker,
                                  mfc="white" if c2c else color, label=f"{name}, {episodes}")
            paper = PAPER_ACCURACY.get(str(dataset))
            if paper is not None:
                ax_a.axhline(100 * paper, color=color, ls="--", lw=1, label=f"{dataset}, paper")
        ax_a.set_xscale("log")
        common.label_log_ticks(ax_a.xaxis, rows["i_c_ua"])
        ax_a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small")
        ax_a.set(xlabel="synapse compliance current I_C (uA)", ylabel="test accuracy (%)",
                 title="(a) accuracy vs I_C, all classes trained (Fig. 9)")
        ax_s.set_ylim(-5, 105)
        if ax_s.lines:
            ax_s.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small")
        else:
            ax_s.text(0.5, 0.5, "no SPICE check in this sweep", ha="center", va="center", transform=ax_s.transAxes)
        ax_s.set(xlabel="synapse compliance current I_C (uA)", ylabel="same winner as ngspice (%)",
                 title="(b) fast engine vs ngspice, checked episodes")
    return fig


def make(table_path: str | Path | Sequence[str | Path], out_dir: str | Path | None = None) -> Path:
    """Read the cached table(s), plot, save; returns the PNG path."""
    return common.save(plot_accuracy_vs_ic(load_sweep(table_path)), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, nargs="+",
                   help="results table(s) of 'classify' sweeps over synapse_i_c, or their folders")
    args = p.parse_args(argv)
    print(make(args.table, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
