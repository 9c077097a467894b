"""Report plots of fits: measured data against the fitted model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from compact_model.fit.iv import PreparedSweeps


def plot_iv_fit(data: PreparedSweeps, model: np.ndarray, path: str | os.PathLike[str], *,
                title: str = "", max_panels: int = 6, labels: Sequence[str] | None = None) -> Path:
    """|I| vs V of measured sweeps (dots) and model (lines), one panel per sweep, log scale."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    n = min(max_panels, data.time.shape[0])
    picks = np.unique(np.linspace(0, data.time.shape[0] - 1, n).round().astype(int))
    cols = min(3, picks.size)
    rows = int(np.ceil(picks.size / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, k in zip(axes.flat, picks):
        v, i_meas, i_mod = data.voltage[k], np.abs(data.current[k]), np.abs(model[k])
        ax.semilogy(v, np.maximum(i_meas, 1e-13), ".", ms=3, color="0.35", label="measured")
        ax.semilogy(v, np.maximum(i_mod, 1e-13), "-", lw=1.2, color="C3", label="model")
        ax.set_xlabel("voltage (V)")
        ax.set_ylabel("|current| (A)")
        ax.set_title((labels or data.labels)[k], fontsize=8)
        ax.grid(True, which="both", alpha=0.2)
    for ax in list(axes.flat)[picks.size:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:  # write then rename: an interrupted run leaves no truncated image
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
