"""Shared helpers of the figure scripts: the style, cached-table loading and atomic saving.

Tables are the tidy CSV or Parquet files the producers write (``rramcosim sweep``'s
``results.csv``/``results.parquet``, the front-end sweep rows, ``rramcosim cosim``'s CSVs).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

from compact_model.atomic import save_figure_atomic

logger = logging.getLogger(__name__)

STYLE_PATH = Path(__file__).with_name("style.mplstyle")
DEFAULT_OUT_DIR = Path(__file__).with_name("out")
TABLE_SUFFIXES = (".parquet", ".csv")  # preference order when a folder or a stem is given
SWEEP_TABLE_STEM = "results"  # ``rramcosim sweep`` writes OUT/results.csv and OUT/results.parquet


class TableError(ValueError):
    """A cached table that cannot be plotted: unreadable, missing columns or empty."""


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply the shared style (``figures/style.mplstyle``) inside the block."""
    import matplotlib.style

    with matplotlib.style.context(str(STYLE_PATH)):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
               **subplots: Any) -> tuple[Any, Any]:
    """A pyplot-free Figure of ``figsize`` (inch) and its axes array (always 1-D), in the shared
    style; ``subplots`` go to ``Figure.subplots`` (sharex, sharey, ...).

    Call inside ``style()`` so the rc settings reach the figure and its artists."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    return fig, np.ravel(axes)


def resolve_table(path: str | Path) -> Path:
    """The table file behind ``path``: the file itself, ``<folder>/results.{parquet,csv}`` for a
    sweep folder, or ``<path>.{parquet,csv}`` for a stem without suffix."""
    p = Path(path)
    if p.is_file():
        return p
    candidates = ([p / f"{SWEEP_TABLE_STEM}{s}" for s in TABLE_SUFFIXES] if p.is_dir()
                  else [p.with_name(p.name + s) for s in TABLE_SUFFIXES])
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"no cached table at {p} (looked for {', '.join(str(c) for c in candidates)})")


def find_table(path: str | Path) -> Path | None:
    """``resolve_table`` that returns None instead of raising."""
    try:
        return resolve_table(path)
    except FileNotFoundError:
        return None


def read_table(path: str | Path, required: Sequence[str] = ()) -> Any:
    """Read a cached CSV or Parquet table (pandas DataFrame) and check its columns.

    Raises ``FileNotFoundError`` naming the path, ``TableError`` naming the file and the
    missing columns. Rows of failed sweep points (``status`` other than "ok") are dropped."""
    import pandas as pd

    file = resolve_table(path)
    try:
        df = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
    except (ValueError, OSError) as exc:
        raise TableError(f"{file}: cannot read table ({exc})") from exc
    require_columns(df, required, str(file))
    if "status" in df.columns:
        bad = df["status"].astype(str) != "ok"
        if bad.any():
            logger.warning("%s: dropping %d row(s) of failed points", file, int(bad.sum()))
            df = df[~bad].reset_index(drop=True)
    if df.empty:
        raise TableError(f"{file}: no rows to plot")
    return df


def require_columns(df: Any, required: Sequence[str], source: str = "table") -> None:
    """Raise ``TableError`` naming ``source`` and every column of ``required`` that is missing."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise TableError(f"{source}: missing column(s) {missing}; it has {list(df.columns)}")


def save(fig: Any, name: str, out_dir: str | Path | None = None) -> Path:
    """Save ``fig`` as ``<out_dir>/<name>.png`` atomically (``figures/out/`` by default)."""
    path = Path(DEFAULT_OUT_DIR if out_dir is None else out_dir) / f"{name}.png"
    save_figure_atomic(fig, path)
    logger.info("wrote %s", path)
    return path


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the shared ``--out`` option."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default: {DEFAULT_OUT_DIR})")
    return p


def group_stats(df: Any, by: str | Sequence[str], value: str) -> Any:
    """Mean, standard deviation (0 for a single row) and count of ``value`` per ``by``."""
    g = df.groupby(by, sort=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


FRONTEND_VARIANTS = ("float", "quantized", "programmed")  # cosim.frontend.evaluate.Variant values


def frontend_rows(df: Any, source: str = "front-end table") -> Any:
    """Front-end accuracy rows in the tidy form of ``accuracy_vs_bits``/``accuracy_vs_ic``
    (one row per point and ``variant``; metrics ``readout_accuracy``, ``cf_accuracy``, ...).

    A table with a ``variant`` column is returned unchanged. The "frontend-bits"/"frontend-ic"
    sweep tables, whose metrics are flattened to ``<variant>_<metric>`` columns next to the
    point's configuration (``bits``, ``i_c_min``, ``v_stop``, ...), are unfolded into that form."""
    import pandas as pd

    if "variant" in df.columns:
        return df
    prefixed = {v: [c for c in df.columns if c.startswith(v + "_")] for v in FRONTEND_VARIANTS}
    if not any(prefixed.values()):
        raise TableError(f"{source}: neither a 'variant' column nor '<variant>_<metric>' columns "
                         f"(variants {list(FRONTEND_VARIANTS)}); it has {list(df.columns)}")
    all_prefixed = {c for cols in prefixed.values() for c in cols}
    config = df[[c for c in df.columns if c not in all_prefixed]]
    parts = []
    for variant, cols in prefixed.items():
        if not cols:
            continue
        metrics = df[cols].rename(columns=lambda c, n=len(variant) + 1: c[n:])
        part = pd.concat([config.drop(columns=[c for c in metrics.columns if c in config.columns]),
                          metrics], axis=1)
        part.insert(0, "variant", variant)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def label_log_ticks(axis: Any, values: Any) -> None:
    """Tick a log ``axis`` (``ax.xaxis``/``ax.yaxis``) at the data ``values`` with plain numbers
    (a sweep spans less than a decade or two, where 10^k ticks say little)."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ticks = np.unique(np.asarray(values, dtype=float))
    if len(ticks) > 8:  # too many to label: every other one
        ticks = ticks[::2]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(NullFormatter())
