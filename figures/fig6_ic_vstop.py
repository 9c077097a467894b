"""Fig. 6 of the reference paper: front-end accuracy vs the filter devices' I_C and V_STOP.

Input: the rows of ``cosim.frontend.sweeps.accuracy_vs_ic`` written as a table (columns
``variant`` = "programmed", ``i_c_min``, ``i_c_max`` (A), ``v_stop`` (V), ``cf_accuracy``,
``ff_readout_accuracy``, ...), or the table of a "frontend-ic" sweep (``programmed_<metric>``
columns). Two filled-contour panels over (I_C, V_STOP): class-filter (CF) accuracy and
feature-filter (FF) readout accuracy, mean over repeated points, grid points marked, our
default operating point starred when it lies in the swept range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from figures import common

NAME = "fig6_ic_vstop"
PANELS = (("cf_accuracy", "class filters (CF)"), ("ff_readout_accuracy", "feature filters (FF)"))
IC_COLUMNS = ("i_c_max", "i_c_min")  # I_C of the top level / of level 1 (A)


def _grid(rows: Any, ic: str, metric: str) -> tuple[Any, Any, Any]:
    s = rows.dropna(subset=[metric]).groupby([ic, "v_stop"], sort=True)[metric].mean().reset_index()
    return s[ic].to_numpy(float), s["v_stop"].to_numpy(float), 100 * s[metric].to_numpy(float)


def _triangulation(x: Any, y: Any, metric: str) -> Any:
    """Delaunay triangles found in (log10 I_C, V_STOP), the axes the plot shows."""
    import numpy as np
    from matplotlib.tri import Triangulation

    try:
        triangles = Triangulation(np.log10(x), y).triangles
    except (ValueError, RuntimeError) as exc:
        raise common.TableError(f"I_C/V_STOP table: {metric} needs at least 3 (I_C, V_STOP) points "
                                f"not on one line, got {len(x)}") from exc
    return Triangulation(x, y, triangles)


def plot_accuracy_vs_ic(table: Any, ic: str = "i_c_max", levels: int = 12) -> Any:
    """Two contour panels (CF and FF accuracy, %) over I_C and V_STOP; returns the Figure."""
    import numpy as np

    from cosim.frontend.config import HardwareConfig

    if ic not in IC_COLUMNS:
        raise ValueError(f"ic must be one of {IC_COLUMNS}, got {ic!r}")
    rows = common.frontend_rows(table, "I_C/V_STOP table")
    if "variant" in rows.columns and (rows["variant"] == "programmed").any():
        rows = rows[rows["variant"] == "programmed"]
    common.require_columns(rows, (ic, "v_stop", *(m for m, _ in PANELS)), "I_C/V_STOP table")
    grids = {m: _grid(rows, ic, m) for m, _ in PANELS}
    values = np.concatenate([g[2] for g in grids.values()])
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    bounds = np.linspace(lo, hi if hi > lo else lo + 1.0, levels + 1)
    default = HardwareConfig()
    default_ic = default.i_c_range[0 if ic == "i_c_min" else 1]
    with common.style():
        fig, axes = common.new_figure(1, 2, figsize=(8.0, 3.2), sharey=True)
        for ax, (metric, title) in zip(axes, PANELS):
            x, y, z = grids[metric]
            cs = ax.tricontourf(_triangulation(x * 1e6, y, metric), z, levels=bounds)
            ax.plot(x * 1e6, y, "k.", ms=3, clip_on=False, label="simulated points")
            if x.min() <= default_ic <= x.max() and y.min() <= default.v_stop <= y.max():
                ax.plot([default_ic * 1e6], [default.v_stop], "w*", ms=9, mec="k",
                        label="our default operating point")
            ax.set(xscale="log", xlabel=f"compliance current $I_C$ ({ic}) (µA)", title=f"{title} (Fig. 6)")
            common.label_log_ticks(ax.xaxis, x * 1e6)
        axes[0].set_ylabel(r"RESET stop voltage $|V_{STOP}|$ (V)")
        axes[0].legend(loc="lower left")
        fig.colorbar(cs, ax=list(axes), label="test accuracy (%)", format="%.1f")
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None, ic: str = "i_c_max") -> Path:
    """Read the cached table, plot, save; returns the PNG path."""
    return common.save(plot_accuracy_vs_ic(common.read_table(table_path), ic), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="accuracy-vs-I_C table (CSV/Parquet) or sweep folder")
    p.add_argument("--ic", choices=IC_COLUMNS, default="i_c_max",
                   help="which end of the I_C range is the x axis (default: i_c_max)")
    args = p.parse_args(argv)
    print(make(args.table, args.out, args.ic))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
