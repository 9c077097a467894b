"""Fig. 2 (b-f) of the reference paper: programmed resistance levels of the SiOx RRAM.

Input: the tidy table of a ``rramcosim sweep`` run of the "device-levels" task
(``<out>/results.csv`` or ``.parquet``; columns ``i_c`` (A), ``v_stop`` (V), ``seed`` and the
metrics ``r_lrs_median``, ``r_lrs_mean``, ``r_lrs_sigma_mu``, ``r_hrs_median``, ... in ohm).
Panels: R_LRS (median and mean) vs I_C, sigma/mu of R_LRS vs I_C (log axes), R_HRS vs V_STOP;
each point is the mean over seeds (and, for the LRS, over V_STOP), error bars one std.
The paper's I-V curves (Fig. 2a) are not a cached table and are not drawn here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from figures import common

NAME = "fig2_device_levels"
COLUMNS = ("i_c", "v_stop", "r_lrs_median", "r_lrs_mean", "r_lrs_sigma_mu", "r_hrs_median", "r_hrs_mean")


def plot_device_levels(table: Any) -> Any:
    """Three panels from a device-levels table; returns the matplotlib Figure."""
    common.require_columns(table, COLUMNS, "device-levels table")
    with common.style():
        fig, (ax_r, ax_s, ax_h) = common.new_figure(1, 3, figsize=(9.0, 3.0))
        for metric, label, marker in (("r_lrs_median", "median", "o"), ("r_lrs_mean", "mean", "s")):
            s = common.group_stats(table, "i_c", metric)
            ax_r.errorbar(s["i_c"] * 1e6, s["mean"], yerr=s["std"], marker=marker, capsize=2, label=label)
        ax_r.set(xscale="log", yscale="log", xlabel="compliance current $I_C$ (µA)",
                 ylabel=r"$R_{LRS}$ (Ω)", title="LRS vs $I_C$ (Fig. 2c-d)")
        ax_r.legend()
        s = common.group_stats(table, "i_c", "r_lrs_sigma_mu")
        ax_s.errorbar(s["i_c"] * 1e6, s["mean"], yerr=s["std"], marker="o", capsize=2,
                      label=r"$\sigma/\mu$ of $R_{LRS}$")
        ax_s.set(xscale="log", yscale="log", xlabel="compliance current $I_C$ (µA)",
                 ylabel=r"$\sigma_R/\mu_R$ (1)", title="LRS spread vs $I_C$ (Fig. 2e)")
        ax_s.annotate("paper: spread shrinks as $I_C$ rises", xy=(0.03, 0.04), xycoords="axes fraction",
                      fontsize=7)
        for metric, label, marker in (("r_hrs_median", "median", "o"), ("r_hrs_mean", "mean", "s")):
            s = common.group_stats(table, "v_stop", metric)
            ax_h.errorbar(s["v_stop"], s["mean"], yerr=s["std"], marker=marker, capsize=2, label=label)
        ax_h.set(yscale="log", xlabel=r"RESET stop voltage $|V_{STOP}|$ (V)", ylabel=r"$R_{HRS}$ (Ω)",
                 title="HRS vs $V_{STOP}$ (Fig. 2f)")
        ax_h.legend()
        for ax in (ax_r, ax_s):
            common.label_log_ticks(ax.xaxis, table["i_c"] * 1e6)
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read the cached table, plot, save; returns the PNG path."""
    return common.save(plot_device_levels(common.read_table(table_path, COLUMNS)), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="device-levels sweep table (CSV/Parquet) or sweep folder")
    args = p.parse_args(argv)
    print(make(args.table, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
