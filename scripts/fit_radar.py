#!/usr/bin/env python3
"""Fit a 1T1R model card to the RRAM-RADAR-Tuning array data and save it.

Usage:  .venv/bin/python scripts/fit_radar.py compact_model/presets/radar-1t1r.toml [--data DIR]

Data: github.com/akashlevy/RRAM-RADAR-Tuning, commit 5038af3 (B. Q. Le, A. Levy et al.,
"RADAR: A Fast and Energy-Efficient Programming Technique for Multiple Bits-per-Cell RRAM
Arrays", IEEE TED 2021, doi:10.1109/TED.2021.3097975), read from ``DIR`` (default
``../shared/rram_data``); nothing is copied. HfOx-type 1T1R cells, SET with the bit line
positive.

Steps (each starts from the card of the previous one):
 0. gap scale: i0 and g0 so that R(g_min) and R(g_max) are the 1st and 99th percentiles of
    all cycling LRS / HRS readings (the distribution data cannot fix them, see
    compact_model.fit.distributions);
 1. R_LRS vs V_WL (V_BL = 2 V, 100 ns): transistor i_spec and v_th, spread stage;
 2. R_HRS vs V_SL (V_WL = 4 V, 200 ns, incremental sweep from the LRS): v_reset, beta_reset,
    c2c_hrs_scale;
 3. cycle-to-cycle spread of the cycling tables: g_defect, c2c_floor, c2c_hrs_scale (these
    replace the sweep spreads, which mix in cell-to-cell variation).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

import numpy as np

from compact_model.cards import save_card
from compact_model.fit import distributions as dist
from compact_model.fit.core import FitResult
from compact_model.measurements import read_cycling, read_pulse_sweep
from compact_model.params import AccessTransistorParams, DeviceParams, ModelCard, Provenance

DATA_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "rram_data"
REPO = "RRAM-RADAR-Tuning"
SWEEPS = Path(REPO, "exptdata", "sweeps", "data")
CYCLING = Path(REPO, "exptdata", "misc", "cycling", "data")
SET_FILE = "set-sweep-wl-inner-5-31-20.csv"
RESET_FILE = "reset-sweep-sl-200ns-step-0.05-7-30-20.csv"
SET_V_BL, SET_WIDTH = 2.0, 100e-9  # V, s: best-populated SET slice (50 cells, 1000 pulses per V_WL)
RESET_V_WL, RESET_WIDTH = 4.0, 200e-9  # V, s
RESET_MIN_V_SL = 1.4  # V: lower pulses move R by < 3 %: no RESET information
HRS_BOUNDARY = 60e3  # ohm: the experiment's own LRS/HRS boundary (README: RESET when R < 60 kOhm)
POPULATED = 0.9  # keep x values where >= 90 % of the pulses are present (survivor bias above)
MODEL_ERROR = 0.1  # ln-R error added to each median's: the model, not the statistics, limits
REFERENCE = ("B. Q. Le, A. Levy et al., 'RADAR: A Fast and Energy-Efficient Programming "
             "Technique for Multiple Bits-per-Cell RRAM Arrays', IEEE TED 2021, "
             "doi:10.1109/TED.2021.3097975; data: github.com/akashlevy/RRAM-RADAR-Tuning "
             "commit 5038af3")


def cycling_tables(data_dir: Path,
                   min_cycles: int = 100) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All cycling tables with >= min_cycles cycles stacked: (r_lrs, r_hrs, file names)."""
    tables = [read_cycling(f) for f in sorted((data_dir / CYCLING).glob("cycling-*.csv"))]
    tables = [t for t in tables if t.n_cycles >= min_cycles]
    n = max(t.n_cycles for t in tables)
    pad = lambda a: np.pad(a, ((0, 0), (0, n - a.shape[1])), constant_values=np.nan)  # noqa: E731
    return (np.vstack([pad(t.r_lrs) for t in tables]), np.vstack([pad(t.r_hrs) for t in tables]),
            [Path(t.source).name for t in tables])


def anchored_device(dev: DeviceParams, v_read: float, r_min: float, r_max: float) -> DeviceParams:
    """i0, g0 such that R(g_min) = r_min and R(g_max) = r_max at v_read (v_nl fixed)."""
    s_lrs, s_hrs = np.sinh(v_read / dev.v_nl_lrs), np.sinh(v_read / dev.v_nl_hrs)
    g0 = (dev.g_max - dev.g_min) / (np.log(r_max / r_min) + np.log(s_hrs / s_lrs))
    i0 = v_read / (r_min * np.exp(-dev.g_min / g0) * s_lrs)
    return dev.replace(i0=float(i0), g0=float(g0))


def start_card(data_dir: Path = DATA_DEFAULT) -> ModelCard:
    r_lrs, r_hrs, _ = cycling_tables(data_dir)
    r_min = float(np.nanpercentile(r_lrs, 1))
    r_max = float(np.nanpercentile(r_hrs, 99))
    read_voltage = 0.1
    device = anchored_device(DeviceParams(beta_reset=2.5, v_reset=1e-3), read_voltage, r_min, r_max)
    # v_th ~ 2 V: the SET only starts above V_WL ~ 2.2 V at V_BL = 2 V (explored by hand).
    return ModelCard(name="radar-1t1r", device=device, read_voltage=read_voltage,
                     transistor=AccessTransistorParams(v_th=2.0, i_spec=2e-6),
                     provenance=Provenance(description="start", reference=REFERENCE))


def lrs_slice(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(V_WL, R_final) of SET pulses from the HRS, at V_WL where the SET succeeded.

    Rows start in the HRS (R_initial >= 60 kOhm); V_WL values keep when the median R_final is
    below 60 kOhm (most pulses SET: no bimodal mixture) and >= 90 % of pulses are present.
    """
    sweep = read_pulse_sweep(path).select(v_line=SET_V_BL, pulse_width=SET_WIDTH)
    pts = dist.distribution_points(sweep.v_gate, sweep.r_final, x_name="v_gate")
    good = pts.x[(pts.count >= POPULATED * pts.count.max()) & (pts.median < HRS_BOUNDARY)]
    rows = np.isin(sweep.v_gate, good) & (sweep.r_initial >= HRS_BOUNDARY)
    return sweep.v_gate[rows], sweep.r_final[rows]


def fit_lrs(card: ModelCard, v_wl: np.ndarray, r: np.ndarray) -> FitResult:
    return dist.fit_lrs_vs_gate(card, v_wl, r, v_bl=SET_V_BL, width=SET_WIDTH,
                                model_error=MODEL_ERROR, data_source=f"{SWEEPS / SET_FILE}")


def hrs_slice(path: Path) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """(V_SL, R_final, R before the first fitted step, the pulse staircase) of the
    incremental RESET sweep (no SET between steps; a cell leaves the sweep at its target)."""
    sweep = read_pulse_sweep(path).select(v_gate=RESET_V_WL, pulse_width=RESET_WIDTH)
    pts = dist.distribution_points(sweep.v_line, sweep.r_final, x_name="v_sl")
    keep = (pts.count >= POPULATED * pts.count.max()) & (pts.x >= RESET_MIN_V_SL - 1e-9)
    steps = pts.x[keep]
    if np.any(np.diff(np.flatnonzero(keep)) != 1):
        raise ValueError("the populated V_SL values are not contiguous")
    rows = np.isin(sweep.v_line, steps)
    r_start = float(np.median(sweep.r_initial[sweep.v_line == steps[0]]))
    return sweep.v_line[rows], sweep.r_final[rows], r_start, steps


def fit_hrs(card: ModelCard, v_sl: np.ndarray, r: np.ndarray, r_start: float,
            steps: np.ndarray) -> FitResult:
    # The model's 1T1R RESET runs away (R jumps within one step), so the cost jumps too and a
    # local search from one point gets lost: scan a grid first, and cap the evaluations.
    starts = [{"device.v_reset": v, "device.beta_reset": b}
              for v in np.logspace(-7, -1, 7) for b in (1.0, 2.0, 2.5, 3.0)]
    return dist.fit_hrs_vs_reset_line(card, v_sl, r, v_gate=RESET_V_WL, width=RESET_WIDTH,
                                      start=r_start, staircase=steps, model_error=MODEL_ERROR,
                                      data_source=f"{SWEEPS / RESET_FILE}", max_nfev=80,
                                      starts=starts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="card to write (.toml or .json)")
    ap.add_argument("--data", type=Path, default=DATA_DEFAULT,
                    help="folder holding RRAM-RADAR-Tuning/")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if not (args.data / REPO).is_dir():
        print(f"no {REPO} under {args.data}", file=sys.stderr)
        return 2

    card = start_card(args.data)
    r_lrs, r_hrs, cyc_files = cycling_tables(args.data)
    report: dict[str, float] = {"anchor_r_gmin_ohm": float(np.nanpercentile(r_lrs, 1)),
                                "anchor_r_gmax_ohm": float(np.nanpercentile(r_hrs, 99))}
    print(f"gap scale: i0 = {card.device.i0:.4g} A, g0 = {card.device.g0:.4g} m (R(g_min) = "
          f"{report['anchor_r_gmin_ohm']:.4g} ohm, R(g_max) = {report['anchor_r_gmax_ohm']:.4g} ohm)")
    v_wl, r_set = lrs_slice(args.data / SWEEPS / SET_FILE)
    v_sl, r_reset, r_start, steps = hrs_slice(args.data / SWEEPS / RESET_FILE)
    cyc_source = f"{CYCLING}/{{{','.join(cyc_files)}}}"
    for label, run in (
        ("lrs_vs_vwl", lambda c: fit_lrs(c, v_wl, r_set)),
        ("hrs_vs_vsl", lambda c: fit_hrs(c, v_sl, r_reset, r_start, steps)),
        ("cycling", lambda c: dist.fit_cycling_spread(c, r_lrs, r_hrs, model_error=MODEL_ERROR,
                                                       data_source=cyc_source)),
    ):
        t0 = time.perf_counter()
        res = run(card)
        elapsed = time.perf_counter() - t0
        print(f"\n[{label}] {elapsed:.1f} s\n{res.summary()}")
        report.update({f"{label}.{k}": float(v) for k, v in res.metrics.items()})
        report[f"{label}.fit_seconds"] = round(elapsed, 2)
        card = res.card

    fitted_to = "; ".join([
        f"{REPO}@5038af3 {SWEEPS / SET_FILE} (V_BL={SET_V_BL} V, {SET_WIDTH * 1e9:.0f} ns, "
        f"V_WL {v_wl.min():.2f}-{v_wl.max():.2f} V, {v_wl.size} pulses from R >= 60 kOhm)",
        f"{SWEEPS / RESET_FILE} (V_WL={RESET_V_WL} V, {RESET_WIDTH * 1e9:.0f} ns, incremental "
        f"V_SL {v_sl.min():.2f}-{v_sl.max():.2f} V from {r_start:.0f} ohm, {v_sl.size} pulses)",
        f"{cyc_source} ({r_lrs.shape[0]} cells)",
    ])
    description = ("HfOx-type 1T1R RRAM array of the RADAR paper (SET with the bit line positive), "
                   "fitted by scripts/fit_radar.py: gap scale from cycling percentiles, access "
                   "transistor from R_LRS vs V_WL, RESET from incremental R_HRS vs V_SL (poorly "
                   "reproduced: see hrs_vs_vsl.* in fit_report), C2C spread from cycling. Read "
                   "voltage not given by the source: 0.1 V assumed.")
    final = dataclasses.replace(card, name="radar-1t1r", provenance=Provenance(
        description=description, fitted_to=fitted_to, reference=REFERENCE, fit_report=report))
    path = save_card(final, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
