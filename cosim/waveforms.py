"""Waveforms that designers can inspect: SPICE rawfiles, a tidy table, and plots.

Rawfiles are written here from the simulated vectors (binary SPICE3 format, the one ngspice,
VACASK and waveform viewers such as gaw or Xschem read), not by asking ngspice to ``write``
them: that would pass a user-given path through an ngspice command line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from compact_model.atomic import save_figure_atomic, write_text_atomic

# What a signal name says about its unit, for axis labels.
_UNITS = (("i(", "A", "current"), ("v(", "V", "voltage"), ("time", "s", "time"))


def unit_of(name: str) -> tuple[str, str]:
    """(unit, quantity) of a vector name such as 'v(xn0.mem)' or 'i(vsense_col_3)'."""
    for prefix, unit, quantity in _UNITS:
        if name.startswith(prefix):
            return unit, quantity
    return "", "value"


@dataclass(frozen=True, slots=True, kw_only=True)
class Waveform:
    """Sampled signals on one time axis (SI units)."""

    time: np.ndarray  # s
    signals: Mapping[str, np.ndarray]  # name -> samples, each like time
    title: str = "rramcosim"

    def __post_init__(self) -> None:
        for name, values in self.signals.items():
            if np.shape(values) != np.shape(self.time):
                raise ValueError(f"signal {name!r} has {np.shape(values)} samples, time has "
                                 f"{np.shape(self.time)}")

    def select(self, patterns: Sequence[str]) -> "Waveform":
        """Signals whose name matches any of the regular expressions (case-insensitive)."""
        regexes = [re.compile(p, re.IGNORECASE) for p in patterns]
        kept = {k: v for k, v in self.signals.items() if any(r.search(k) for r in regexes)}
        return Waveform(time=self.time, signals=kept, title=self.title)


def write_raw(path: str | os.PathLike[str], wave: Waveform) -> Path:
    """Binary SPICE3 rawfile of a transient (real vectors, time first)."""
    names = ["time", *wave.signals]
    header = [f"Title: {_ascii(wave.title)}", "Date: -", "Plotname: Transient Analysis",
              "Flags: real", f"No. Variables: {len(names)}", f"No. Points: {wave.time.size}",
              "Variables:"]
    for k, name in enumerate(names):
        unit, _ = unit_of(name)
        kind = {"s": "time", "V": "voltage", "A": "current"}.get(unit, "notype")
        header.append(f"\t{k}\t{_ascii(name)}\t{kind}")
    header.append("Binary:")
    table = np.column_stack([wave.time, *[np.asarray(v, dtype=float) for v in wave.signals.values()]])
    payload = ("\n".join(header) + "\n").encode() + table.astype("<f8").tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path


def _ascii(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text)


def tidy_rows(wave: Waveform, **keys: object) -> list[dict[str, object]]:
    """Long-format rows: one per (time, signal), with extra key columns (e.g. image=3)."""
    rows = []
    for name, values in wave.signals.items():
        unit, _ = unit_of(name)
        for t, v in zip(wave.time.tolist(), np.asarray(values, dtype=float).tolist()):
            rows.append({**keys, "time_s": t, "signal": name, "value": v, "unit": unit})
    return rows


def write_tidy_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, object]]) -> Path:
    """The tidy table as CSV (atomic). The columns are every key of any row, in the order they
    first appear; a row without one of them leaves its cell empty."""
    if not rows:
        raise ValueError("no rows to write")
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(columns)]
    lines += [",".join(_csv_cell(r[c]) if c in r else "" for c in columns) for r in rows]
    return write_text_atomic(path, "\n".join(lines) + "\n")


def _csv_cell(value: object) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    # RFC 4180: a quoted cell doubles its inner quotes (JSON cells carry them).
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def plot_waveforms(wave: Waveform, path: str | os.PathLike[str], *, title: str = "",
                   panels: Sequence[Sequence[str]] | None = None) -> Path:
    """One panel per group of signals (default: one per quantity), shared time axis, with units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if panels is None:
        groups: dict[str, list[str]] = {}
        for name in wave.signals:
            groups.setdefault(unit_of(name)[1], []).append(name)
        panels = list(groups.values())
    if not panels:
        raise ValueError("no signals to plot")
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 2.2 * len(panels) + 0.6), sharex=True,
                             squeeze=False)
    scale, t_unit = _time_scale(float(np.max(wave.time)) if wave.time.size else 1.0)
    for ax, names in zip(axes[:, 0], panels):
        for name in names:
            ax.plot(wave.time * scale, wave.signals[name], lw=1.0, label=name)
        unit, quantity = unit_of(names[0]) if names else ("", "")
        ax.set_ylabel(f"{quantity} ({unit})" if unit else quantity)
        ax.grid(True, alpha=0.25)
        if len(names) <= 8:
            ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel(f"time ({t_unit})")
    if title or wave.title:
        fig.suptitle(title or wave.title, fontsize=10)
    fig.tight_layout()
    try:
        return save_figure_atomic(fig, path, dpi=120)
    finally:
        plt.close(fig)


def _time_scale(t_max: float) -> tuple[float, str]:
    """The largest unit in which the end time is at least 1: 5e-6 s -> us."""
    for factor, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "us"), (1e9, "ns")):
        if t_max * factor >= 1.0:
            return factor, unit
    return 1e12, "ps"
