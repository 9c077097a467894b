"""Fig. 7 of the reference paper: the feature maps at the A-STDP input over time, trained vs
non-trained classes.

Input: ``learning.csv`` of ``rramcosim experiment classify`` (``cosim.experiments.write_result``:
per learning image ``image``, ``label``, ``new_class`` and ``feature_map``, the 64 filter bits as
'0'/'1' text, filter 0 first), or the folder holding it. Panels: (a) and (b) the maps of the
first ``n_images`` learning images of trained / non-trained classes in presentation order
(x: image, y: filter, dark: the filter fired); (c) each filter's firing rate on trained and on
non-trained images, which shows the feature filters that respond to classes the front end never
saw (transfer) and the class filters that stay silent for them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from figures import common

logger = logging.getLogger(__name__)

NAME = "fig7_feature_maps"
TABLE_NAME = "learning.csv"
COLUMNS = ("image", "label", "new_class", "feature_map")
DEFAULT_IMAGES = 200


def load_maps(path: str | Path) -> tuple[Any, np.ndarray]:
    """(rows, bits): the learning log in presentation order and its feature maps as a bool
    array (n_images, n_filters). Errors name the file, the missing columns or the bad row."""
    import pandas as pd

    p = Path(path)
    file = common.resolve_table(p / TABLE_NAME if p.is_dir() else p)
    try:  # the maps as text: read as numbers they would lose their leading zeros
        df = pd.read_csv(file, dtype={"feature_map": str})
    except (ValueError, OSError) as exc:
        raise common.TableError(f"{file}: cannot read table ({exc})") from exc
    common.require_columns(df, COLUMNS, str(file))
    if df.empty:
        raise common.TableError(f"{file}: no rows to plot")
    maps = df["feature_map"].fillna("").astype(str)
    bad = ~maps.str.fullmatch(r"[01]+") | (maps.str.len() != len(maps.iloc[0]))
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])  # file line k + 2: after the header, 1-based
        raise common.TableError(f"{file}: line {k + 2}: feature_map {maps.iloc[k]!r} is not a '0'/'1' string "
                                f"as long as the first row's")
    order = np.argsort(df["image"].to_numpy(), kind="stable")
    df, maps = df.iloc[order].reset_index(drop=True), maps.iloc[order]
    bits = np.array([[c == "1" for c in m] for m in maps], dtype=bool)
    return df, bits


def _is_new(rows: Any) -> np.ndarray:
    return rows["new_class"].astype(str).str.strip().str.lower().isin(("true", "1", "1.0")).to_numpy()


def plot_feature_maps(rows: Any, bits: np.ndarray, n_images: int = DEFAULT_IMAGES) -> Any:
    """Three panels (trained maps, non-trained maps, firing rate per filter); returns the Figure."""
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    new = _is_new(rows)
    images = rows["image"].to_numpy()
    with common.style():
        fig, (ax_t, ax_n, ax_r) = common.new_figure(1, 3, figsize=(11.0, 3.4))
        for ax, sel, what in ((ax_t, ~new, "trained"), (ax_n, new, "non-trained")):
            idx = np.flatnonzero(sel)[:n_images]
            ax.set(xlabel="learning image (index)", ylabel="filter (index)",
                   title=f"({'a' if ax is ax_t else 'b'}) feature maps, {what} classes")
            if idx.size == 0:
                ax.text(0.5, 0.5, f"no {what}-class images", ha="center", va="center", transform=ax.transAxes)
                continue
            ax.imshow(bits[idx].T, aspect="auto", cmap="Greys", interpolation="nearest", origin="lower",
                      extent=(images[idx[0]] - 0.5, images[idx[-1]] + 0.5, -0.5, bits.shape[1] - 0.5))
        filters = np.arange(bits.shape[1])
        for sel, what, color in ((~new, "trained classes", "C0"), (new, "non-trained classes", "C3")):
            if sel.any():
                ax_r.plot(filters, 100 * bits[sel].mean(axis=0), color=color, marker=".", label=what)
        ax_r.legend()
        ax_r.set(xlabel="filter (index)", ylabel="firing rate (%)", title="(c) filter firing rate per image")
    return fig


def make(table_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read the cached learning log, plot, save; returns the PNG path."""
    return common.save(plot_feature_maps(*load_maps(table_path)), NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("table", type=Path, help="learning.csv of `rramcosim experiment classify`, or its folder")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="images per panel (a), (b)")
    args = p.parse_args(argv)
    rows, bits = load_maps(args.table)
    print(common.save(plot_feature_maps(rows, bits, args.images), NAME, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
