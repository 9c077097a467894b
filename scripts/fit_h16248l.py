"""Fit the compact model to the H16248L_B12 Keithley sweeps and write the bundled preset.

Run from the repository root, with ../shared present:
    .venv/bin/python scripts/fit_h16248l.py [compact_model/presets/h16248l-b12.toml]
The data are read in place and never copied into the repository.
"""

import dataclasses
import sys
import time
from pathlib import Path

from compact_model.cards import load_preset, save_card
from compact_model.fit.iv import fit_iv
from compact_model.fit.workflow import _with_compliance, infer_set_polarity, load_sweeps
from compact_model.params import Provenance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "rram_data" / "memristor-analysis" / "H16248L_B12"
FILES = ("04 endurance set.xlsx", "04 endurance reset.xlsx")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "compact_model" / "presets" / "h16248l-b12.toml"
    sweeps = _with_compliance(load_sweeps([DATA / f for f in FILES]), None)
    start = load_preset("jiang2016-hfox")
    start = dataclasses.replace(start, name="h16248l-b12", device=dataclasses.replace(
        start.device, set_polarity=infer_set_polarity(sweeps)))
    t0 = time.perf_counter()
    result = fit_iv(start, sweeps, max_points=150, data_source=", ".join(FILES))
    print(result.summary())
    print(f"fit time {time.perf_counter() - t0:.1f} s, {len(sweeps)} sweeps")
    provenance = Provenance(
        description="Compact model fitted to 50 SET (-2.5 V, 500 uA compliance) and 50 RESET "
                    "(+2.5 V) quasi-static I-V sweeps of one device (Keithley 4200), jointly, with "
                    "log-current residuals; the starting state of each sweep is inferred from its "
                    "first low-bias points.",
        fitted_to="memristor-analysis H16248L_B12: " + ", ".join(FILES) + " (GPL-3.0 data, read in "
                  "place, not redistributed); scripts/fit_h16248l.py",
        reference=start.provenance.reference,
        fit_report=dict(result.card.provenance.fit_report))
    save_card(dataclasses.replace(result.card, provenance=provenance), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
