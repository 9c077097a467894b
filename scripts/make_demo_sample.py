"""Regenerate the bundled demo sample compact_model/data/sample_{set,reset}.csv.

Two quasi-static sweeps (a SET with 100 uA compliance, then a RESET) simulated from the
'siox-literature' preset with 3 % log-normal current noise and a 20 pA instrument floor, seed 2020.
Measured-like, not measured: it lets `rramcosim demo` run with no download.
"""

from pathlib import Path

import numpy as np

from compact_model.access import SourceCompliance
from compact_model.cards import load_preset
from compact_model.measurements import IVSweep, write_plain_csv
from compact_model.simulate import Hold, simulate

DATA = Path(__file__).resolve().parents[1] / "compact_model" / "data"
SEED = 2020


def sweep(dev, v_peak: float, step: float, dwell: float, i_c: float, gap0: float, rng):
    n = int(round(abs(v_peak) / step))
    v = np.r_[np.linspace(0, v_peak, n + 1), np.linspace(v_peak, 0, n + 1)[1:]]
    t = np.arange(v.size) * dwell
    traj = simulate(dev, t, v, gap0, series=SourceCompliance(i_c=i_c), hold=Hold.STAIRCASE)
    i = traj.current[0] * np.exp(0.03 * rng.standard_normal(v.size)) + 2e-11 * rng.standard_normal(v.size)
    return t, v, i, traj.final_gap[0]


def main() -> None:
    dev = load_preset("siox-literature").device
    rng = np.random.default_rng(SEED)
    t, v, i, gap = sweep(dev, 2.5, 0.02, 0.05, 1e-4, dev.g_max, rng)
    meta = {"kind": "iv", "compliance_A": "0.0001", "origin": "simulated from siox-literature, seed 2020"}
    write_plain_csv(DATA / "sample_set.csv", IVSweep(time=t, voltage=v, current=i, label="sample_set",
                                                      source="generated", compliance=1e-4), metadata=meta)
    t, v, i, _ = sweep(dev, -2.0, 0.02, 0.05, 1e-3, gap, rng)
    meta = {"kind": "iv", "compliance_A": "0.001", "origin": "simulated from siox-literature, seed 2020"}
    write_plain_csv(DATA / "sample_reset.csv", IVSweep(time=t, voltage=v, current=i, label="sample_reset",
                                                        source="generated", compliance=1e-3), metadata=meta)


if __name__ == "__main__":
    main()
