"""Fig. 5 of the reference paper: front-end accuracy vs bits per weight.

Input: the rows of ``cosim.frontend.sweeps.accuracy_vs_bits`` written as a table (columns
``variant``, ``bits``, ``readout_accuracy``, ``cf_accuracy``, ...; the float variant has an
empty ``bits``), or the table of a "frontend-bits" sweep (``bits`` and
``<variant>_<metric>`` columns). One line per variant and readout (mean over repeated points,
error bars one std); the float weights are horizontal dashed lines; the paper's 4 bits per
weight is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from figures import common

NAME = "fig5_bits"
READOUTS = {"readout_accuracy": "linear readout", "cf_accuracy": "class filters (CF)",
            "ff_readout_accuracy": "feature filters (FF) readout"}
DEFAULT_READOUTS = ("readout_accuracy", "cf_accuracy")
PAPER_BITS = 4  # bits per weight of the paper's SiOx front end


def plot_accuracy_vs_bits(table: Any, readouts: Sequence[str] = DEFAULT_READOUTS) -> Any:
    """Accuracy (%) vs bits per weight; returns the matplotlib Figure."""
    rows = common.frontend_rows(table, "bits table")
    common.require_columns(rows, ("variant", "bits", *readouts), "bits table")
    readouts = [r for r in readouts if rows[r].notna().any()]
    stepped = rows[rows["bits"].notna()]
    if stepped.empty:
        raise common.TableError("bits table: no row with a number of bits")
    split_coding = "coding" in stepped.columns and stepped["coding"].nunique() > 1
    keys = ["variant", "coding"] if split_coding else ["variant"]
    with common.style():
        fig, (ax,) = common.new_figure(1, 1, figsize=(4.5, 3.2))
        markers = {"readout_accuracy": "o", "cf_accuracy": "s", "ff_readout_accuracy": "^"}
        for key, group in stepped.groupby(keys, sort=True):
            tag = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
            for r in readouts:
                s = common.group_stats(group.dropna(subset=[r]), "bits", r)
                if s.empty:
                    continue
                ax.errorbar(s["bits"], 100 * s["mean"], yerr=100 * s["std"], marker=markers.get(r, "o"),
                            capsize=2, label=f"{tag}, {READOUTS.get(r, r)}")
        floats = rows[rows["bits"].isna() & (rows["variant"] == "float")]
        for r, ls in zip(readouts, ("--", "-.", ":")):
            if floats[r].notna().any():
                ax.axhline(100 * floats[r].mean(), ls=ls, lw=0.9, color="0.4",
                           label=f"float, {READOUTS.get(r, r)}")
        ax.axvline(PAPER_BITS, ls=":", color="k", lw=0.9, label=f"paper: {PAPER_BITS} bits/weight")
        ax.set(xlabel="bits per weight (bit)", ylabel="test accuracy (%)",
               title="Front-end accuracy vs weight precision (Fig. 5)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="lower right")
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None,
         readouts: Sequence[str] = DEFAULT_READOUTS) -> Path:
    """Read the cached table, plot, save; returns the PNG path."""
    table = common.frontend_rows(common.read_table(table_path), str(table_path))
    common.require_columns(table, ("variant", "bits", *readouts), str(table_path))
    return common.save(plot_accuracy_vs_bits(table, readouts), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="accuracy-vs-bits table (CSV/Parquet) or sweep folder")
    p.add_argument("--readouts", nargs="+", default=list(DEFAULT_READOUTS), choices=sorted(READOUTS),
                   help="accuracy columns to draw")
    args = p.parse_args(argv)
    print(make(args.table, args.out, args.readouts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
