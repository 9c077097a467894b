"""Report plots of fits: measured data against the fitted model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from compact_model.atomic import save_figure_atomic
from compact_model.fit.iv import PreparedSweeps
from compact_model.params import ModelCard


def _figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (4.6, 3.6)):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    return plt, fig, axes


def _save(plt, fig, path: str | os.PathLike[str]) -> Path:  # type: ignore[no-untyped-def]
    try:
        fig.tight_layout()
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)


def plot_iv_fit(data: PreparedSweeps, model: np.ndarray, path: str | os.PathLike[str], *,
                title: str = "", max_panels: int = 6, labels: Sequence[str] | None = None) -> Path:
    """|I| vs V of measured sweeps (dots) and model (lines), one panel per sweep, log scale."""
    n = min(max_panels, data.time.shape[0])
    picks = np.unique(np.linspace(0, data.time.shape[0] - 1, n).round().astype(int))
    cols = min(3, picks.size)
    rows = int(np.ceil(picks.size / cols))
    plt, fig, axes = _figure(rows, cols, (4.2, 3.4))
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
    return _save(plt, fig, path)


def plot_distribution_fit(table, card: ModelCard, path: str | os.PathLike[str], *,  # type: ignore[no-untyped-def]
                          v_bl: float = 2.0, width: float = 1e-6) -> Path:
    """Median and 16-84 % band of R vs the controlling quantity, with the fitted model's median."""
    from compact_model import programming as pr
    from compact_model.measurements import ControlQuantity

    xs, groups = table.groups()
    med = np.array([np.median(g) for g in groups])
    lo = np.array([np.percentile(g, 16) for g in groups])
    hi = np.array([np.percentile(g, 84) for g in groups])
    p = card.device
    grid = np.linspace(xs.min(), xs.max(), 40)
    kind = table.x_name
    if kind is ControlQuantity.COMPLIANCE_CURRENT:
        gaps = pr.set_with_compliance(p, np.full(grid.size, p.g_max), grid, v_set=v_bl, width=width)
        label, log_x = "compliance current (A)", True
    elif kind is ControlQuantity.V_STOP:
        lrs = pr.set_with_compliance(p, p.g_max, 100e-6)
        gaps = np.array([pr.reset_to_vstop(p, lrs, v)[0] for v in grid])
        label, log_x = "|V_STOP| (V)", False
    else:
        gaps = pr.set_through_transistor(p, np.full(grid.size, p.g_max), card.transistor, grid,
                                         v_bl=v_bl, width=width)
        label, log_x = "gate voltage (V)", False
    plt, fig, axes = _figure()
    ax = axes[0, 0]
    ax.errorbar(xs, med, yerr=[med - lo, hi - med], fmt="o", ms=4, color="0.3", label="measured median, 16-84 %")
    ax.plot(grid, pr.read_resistance(p, gaps, card.read_voltage), "-", color="C3", label="model")
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"resistance at {card.read_voltage:g} V (ohm)")
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_cycling(table, card: ModelCard, path: str | os.PathLike[str]) -> Path:  # type: ignore[no-untyped-def]
    """Per-cell cycle-to-cycle spread of ln R against the cell's median conductance, with the model."""
    from compact_model.variability import c2c_sigma_ln_g

    plt, fig, axes = _figure()
    ax = axes[0, 0]
    for r, name, color, after_reset in ((table.r_lrs, "LRS", "C0", False), (table.r_hrs, "HRS", "C3", True)):
        with np.errstate(all="ignore"):
            g_med = 1.0 / np.nanmedian(r, axis=1)
            sigma = np.nanstd(np.log(r), axis=1, ddof=1)
        ax.loglog(g_med, sigma, ".", ms=3, color=color, alpha=0.5, label=f"{name} cells")
        grid = np.geomspace(np.nanmin(g_med), np.nanmax(g_med), 50)
        ax.loglog(grid, c2c_sigma_ln_g(grid, card.variability, after_reset), "-", color=color,
                  label=f"{name} model")
    ax.set_xlabel("median conductance of the cell (S)")
    ax.set_ylabel("cycle-to-cycle std of ln R")
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)
