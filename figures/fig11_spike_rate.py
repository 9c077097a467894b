"""Fig. 11 of the reference paper: output spike rate and switching activity when new classes appear.

Input: ``learning.csv`` of ``rramcosim experiment classify --new-classes-after K`` (the per-image
learning log of ``cosim.experiments.write_result``: ``image``, ``label``, ``new_class``
(True/False), ``winner``, ``fires``, ``set_events``, ``reset_events``, ``write_energy_j``), or the
folder holding it. Panels, over the learning images in presentation order, per-image values
(light) and their trailing moving average over ``window`` images (dark), the first image of each
new (non-trained) class marked with a vertical line: (a) output fires per image; (b) SET + RESET
events per image, the switching power proxy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from figures import common

logger = logging.getLogger(__name__)

NAME = "fig11_spike_rate"
TABLE_NAME = "learning.csv"  # what `rramcosim experiment classify` writes into OUT/<dataset>/
COLUMNS = ("image", "label", "new_class", "fires", "set_events", "reset_events")
DEFAULT_WINDOW = 50  # images


def load_learning(path: str | Path) -> Any:
    """The per-image learning log (DataFrame) of ``path`` (a ``learning.csv`` or its folder);
    errors name the file and the missing column(s)."""
    p = Path(path)
    return common.read_table(p / TABLE_NAME if p.is_dir() else p, COLUMNS)


def first_new_images(table: Any) -> list[tuple[Any, Any]]:
    """(image, label) of the first appearance of each new class, in presentation order."""
    new = table["new_class"].astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))
    firsts = table[new].drop_duplicates(subset="label", keep="first")
    return list(zip(firsts["image"], firsts["label"]))


def plot_spike_rate(table: Any, window: int = DEFAULT_WINDOW) -> Any:
    """Two panels (fires, SET+RESET events per image) over images; returns the Figure."""
    if window < 1:
        raise ValueError(f"window must be at least 1 image, got {window}")
    common.require_columns(table, COLUMNS, "learning table")
    rows = table.sort_values("image", kind="stable").reset_index(drop=True)
    images = rows["image"].to_numpy()
    fires = rows["fires"].astype(float)
    events = rows["set_events"].astype(float) + rows["reset_events"].astype(float)
    marks = first_new_images(rows)
    if not marks:
        logger.warning("learning table: no image of a new class (run without --new-classes-after or "
                       "without non-trained classes?); nothing to mark")
    with common.style():
        fig, (ax_f, ax_e) = common.new_figure(2, 1, figsize=(6.5, 5.0), sharex=True)
        for ax, values, what in ((ax_f, fires, "fires"), (ax_e, events, "SET + RESET events")):
            ax.plot(images, values.to_numpy(), color="0.75", lw=0.6, label=f"{what} per image")
            ax.plot(images, values.rolling(window, min_periods=1).mean().to_numpy(), color="k",
                    label=f"moving average ({window} images)")
            for image, label in marks:
                ax.axvline(image, color="C3", lw=0.8, ls="--")
        for image, label in marks:
            ax_f.annotate(f"new class {label}", xy=(image, 1.0), xycoords=("data", "axes fraction"),
                          fontsize=6, rotation=90, va="top", ha="right")
        ax_f.legend(loc="upper right")
        ax_f.set(ylabel="fires per image (1)", title="(a) output spike rate, new classes marked (Fig. 11)")
        ax_e.legend(loc="upper right")
        ax_e.set(xlabel="learning image (presentation order)", ylabel="SET + RESET events per image (1)",
                 title="(b) synaptic switching, power proxy")
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None, window: int = DEFAULT_WINDOW) -> Path:
    """Read the cached table, plot, save; returns the PNG path."""
    return common.save(plot_spike_rate(load_learning(table_path), window), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="learning.csv of `rramcosim experiment classify`, or its folder")
    p.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                   help=f"moving-average window in images (default: {DEFAULT_WINDOW})")
    args = p.parse_args(argv)
    if args.window < 1:
        p.error(f"--window must be at least 1, got {args.window}")
    print(make(args.table, args.out, args.window))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
