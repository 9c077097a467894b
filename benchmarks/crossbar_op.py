"""Operating point of crossbars with wire resistance: ngspice vs VACASK vs scipy, as ratios.

The same ``circuits.crossbar`` objects are written for each simulator (linear cells, 2.5 ohm per
wire segment, random conductances 1e-6..1e-4 S, 0.1 V on every row) and solved:
- scipy: ``circuits.reference.nodal_solve`` (sparse LU; includes matrix assembly);
- VACASK: KLU, through ``cosim.backends.simulate_netlist`` (deck write + parse + solve);
- ngspice 39 (Debian, no KLU) in shared mode (deck write + parse + solve).
Wall times on a shared, noisy machine: compare the ratios within one run, not across runs.
ngspice runs only up to --ngspice-max-cells (its sparse reordering makes 400x64 take minutes).

Usage: python benchmarks/crossbar_op.py [--sizes 64x64 128x128 400x64 400x128] [--cell resistor|1r]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from circuits.crossbar import CellKind, CrossbarSpec, Wire, crossbar, random_states  # noqa: E402
from circuits.reference import nodal_solve  # noqa: E402
from compact_model.cards import load_preset  # noqa: E402
from cosim.backends import Backend, simulate_netlist  # noqa: E402
from netlist_gen.ir import Op  # noqa: E402
from netlist_gen.verilog_a import rram_verilog_a  # noqa: E402


def run(n: int, m: int, cell: CellKind, ngspice_max_cells: int) -> dict[str, float]:
    device = load_preset("siox-literature").device
    spec = CrossbarSpec(rows=n, cols=m, cell_kind=cell, wire=Wire(r_row=2.5, r_col=2.5),
                        device=device if cell is not CellKind.RESISTOR else None)
    states = random_states(spec, seed=1)
    v = np.full(n, 0.1)
    circuit = crossbar(spec, states, v)
    netlist = circuit.netlist(analysis=Op(), options={"reltol": 1e-6})
    row: dict[str, float] = {"cells": n * m}
    if cell is CellKind.RESISTOR:
        t0 = time.perf_counter()
        ref = nodal_solve(spec, states, v)
        row["scipy"] = time.perf_counter() - t0
    va = {"rram_static": rram_verilog_a(device, 1e-9, module="rram_static", dynamic=False)}
    t0 = time.perf_counter()
    res_va = simulate_netlist(netlist, Backend.VACASK, va_sources=va)
    row["vacask"] = time.perf_counter() - t0
    i_va = circuit.column_currents(res_va).reshape(-1)
    if cell is CellKind.RESISTOR:
        row["diff_vacask"] = float(np.max(np.abs(np.abs(i_va) - np.abs(ref)) / np.abs(ref)))
    if n * m <= ngspice_max_cells:
        t0 = time.perf_counter()
        res_ng = simulate_netlist(netlist, Backend.NGSPICE)
        row["ngspice"] = time.perf_counter() - t0
        i_ng = circuit.column_currents(res_ng).reshape(-1)
        row["diff_ng_vacask"] = float(np.max(np.abs(i_ng - i_va) / np.abs(i_va)))
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["64x64", "128x128", "400x64", "400x128"])
    ap.add_argument("--cell", choices=["resistor", "1r"], default="resistor")
    ap.add_argument("--ngspice-max-cells", type=int, default=128 * 128)
    args = ap.parse_args(argv)
    cell = CellKind(args.cell)
    print(f"operating point, cells: {cell.value}; times in s; ratios to scipy (linear cells) ")
    print(f"{'size':>9} {'scipy':>8} {'vacask':>8} {'ngspice':>9} {'vacask/scipy':>12} "
          f"{'ngspice/scipy':>13} {'ngspice/vacask':>14} {'|dI| vacask-scipy':>17} {'|dI| ng-vacask':>14}")
    for size in args.sizes:
        n, m = (int(x) for x in size.split("x"))
        r = run(n, m, cell, args.ngspice_max_cells)
        sc, va, ng = r.get("scipy", np.nan), r["vacask"], r.get("ngspice", np.nan)
        print(f"{size:>9} {sc:>8.3f} {va:>8.3f} {ng:>9.2f} {va / sc:>12.1f} {ng / sc:>13.1f} "
              f"{ng / va:>14.1f} {r.get('diff_vacask', np.nan):>17.1e} {r.get('diff_ng_vacask', np.nan):>14.1e}",
              flush=True)


if __name__ == "__main__":
    main()
