"""Cost of write-verify when programming the front end's array, against open-loop programming.

Programs a 64-filter, 20x20, 4-bit bank of trained-like levels (most weights small, as in a
trained bank) into the differential array (51200 devices) with ``cosim.filters.program_bank``,
open loop and under write-verify at several tolerances, in one run (the machine is shared, so
ratios against the open-loop time of the same run are what to read). Reports the writes per
device (the programming-time and -energy proxy of a real chip), the devices left out of
tolerance, the error of the read conductances against the level targets, and the wall time.

Each tolerance runs with a fixed band and, with ``--relax R``, once more with the band widening
by R per verify read (``WriteVerify.relax``).

Usage: python benchmarks/write_verify.py [--tolerances 1,0.5,0.25,0.1] [--relax 1.3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def trained_like_levels(rng: np.random.Generator) -> np.ndarray:
    """Signed levels -15..15, most near zero: a rounded Laplace draw (a trained bank's shape)."""
    return np.clip(np.rint(rng.laplace(0.0, 2.0, size=(64, 20, 20))), -15, 15).astype(np.int16)


def measure(tolerances: list[float], repeat: int, relax: float | None = None) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from compact_model.cards import load_preset
    from compact_model.variability import WriteVerify
    from cosim.filters import conductance_levels, program_bank

    card = load_preset("siox-literature")
    table = conductance_levels(card)
    levels = trained_like_levels(np.random.default_rng(0))
    rows = []
    settings = [(None, 1.0)] + [(t, r) for t in tolerances for r in ([1.0] if relax is None else [1.0, relax])]
    for tol, rel in settings:
        verify = None if tol is None else WriteVerify(tolerance=tol * table.g_step, relax=rel)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            bank = program_bank(levels, table, card, rng=np.random.default_rng(1), verify=verify)
            times.append(time.perf_counter() - t0)
        error = np.abs(bank.conductances - table.g_median[bank.device_levels]) / table.g_step
        rows.append({"tolerance_steps": tol, "relax": rel, "writes_per_device": float(bank.writes.mean()),
                     "unverified": bank.unverified, "error_p99_steps": float(np.quantile(error, 0.99)),
                     "error_max_steps": float(error.max()), "seconds": min(times)})
    base = rows[0]["seconds"]
    for r in rows:
        r["time_ratio"] = r["seconds"] / base
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tolerances", default="1,0.5,0.25,0.1", help="level steps, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="timings per setting (the fastest is kept)")
    ap.add_argument("--relax", type=float, default=None, help="also run each tolerance with this band growth")
    args = ap.parse_args()
    for row in measure([float(x) for x in args.tolerances.split(",") if x], args.repeat, args.relax):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
