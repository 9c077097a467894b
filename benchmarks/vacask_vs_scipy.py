"""Operating point of a resistive crossbar with wire resistance: VACASK vs scipy spsolve.

Topology (N rows x M columns):
  * cell (i, j): conductance G[i, j] between row node r_i_j and column node c_i_j;
  * row i: source V[i] at node s_i, wire segments R_W s_i - r_i_0 - r_i_1 - ... - r_i_{M-1};
  * column j: wire segments c_0_j - c_1_j - ... - c_{N-1}_j - b_j, and a 0 V source from b_j to
    ground (a virtual ground); its current is the column current I[j].

Both solvers see the same nodal system; the table reports wall times (VACASK: the whole
subprocess, plus its own parse+elaboration and Newton solve times from ``print stats``; scipy:
matrix assembly + spsolve) and the largest relative difference of the M column currents.

Usage: python benchmarks/vacask_vs_scipy.py [NxM ...]   (default: 64x64 400x64)
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cosim.vacask import run_vacask  # noqa: E402

R_W = 2.5  # ohm per wire segment (a few ohms per cell pitch is typical of nanoscale lines)
G_MIN, G_MAX = 1e-6, 1e-4  # RRAM cell conductances: 1 Mohm .. 10 kohm


def make_problem(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.uniform(G_MIN, G_MAX, size=(n, m))
    v = rng.uniform(0.0, 0.3, size=n)  # read voltages, below any switching threshold
    return g, v


def crossbar_netlist(g: np.ndarray, v: np.ndarray) -> str:
    n, m = g.shape
    lines = [
        f"crossbar {n}x{m}",
        'load "resistor.osdi"',
        "model r resistor",
        "model vsource vsource",
    ]
    for i in range(n):
        lines.append(f"vr{i} (s{i} 0) vsource dc={float(v[i]):.17g}")
        lines.append(f"rw{i}_0 (s{i} r{i}_0) r r={R_W:.17g}")
        for j in range(1, m):
            lines.append(f"rr{i}_{j} (r{i}_{j - 1} r{i}_{j}) r r={R_W:.17g}")
        for j in range(m):
            lines.append(f"x{i}_{j} (r{i}_{j} c{i}_{j}) r r={1.0 / float(g[i, j]):.17g}")
            nxt = f"c{i + 1}_{j}" if i + 1 < n else f"b{j}"
            lines.append(f"rc{i}_{j} (c{i}_{j} {nxt}) r r={R_W:.17g}")
    for j in range(m):
        lines.append(f"vc{j} (b{j} 0) vsource dc=0")
    saves = " ".join(f"i(vc{j})" for j in range(m))
    # "print stats" after the analysis reports VACASK's own parse/elaborate/solve times.
    lines += ["control", f"  save {saves}", "  analysis op1 op", "  print stats", "endc", ""]
    return "\n".join(lines)


def scipy_column_currents(g: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Nodal analysis with the source nodes and virtual grounds eliminated (fixed potentials)."""
    n, m = g.shape
    gw = 1.0 / R_W
    nn = n * m
    row = np.arange(nn).reshape(n, m)  # unknowns 0..nn-1: row nodes
    col = nn + row  # unknowns nn..2nn-1: column nodes
    ii: list[np.ndarray] = []
    jj: list[np.ndarray] = []
    vv: list[np.ndarray] = []

    def stamp(a: np.ndarray, b: np.ndarray, cond: np.ndarray | float) -> None:
        cond = np.broadcast_to(cond, a.shape).ravel()
        a, b = a.ravel(), b.ravel()
        ii.extend([a, b, a, b])
        jj.extend([a, b, b, a])
        vv.extend([cond, cond, -cond, -cond])

    def stamp_to_fixed(a: np.ndarray, cond: float) -> None:  # conductance to a fixed node
        a = a.ravel()
        ii.append(a)
        jj.append(a)
        vv.append(np.full(a.shape, cond))

    stamp(row, col, g)
    stamp(row[:, :-1], row[:, 1:], gw)
    stamp(col[:-1, :], col[1:, :], gw)
    stamp_to_fixed(row[:, 0], gw)  # to the source node s_i
    stamp_to_fixed(col[-1, :], gw)  # to the virtual ground b_j
    a = sp.csc_matrix(
        (np.concatenate(vv), (np.concatenate(ii), np.concatenate(jj))), shape=(2 * nn, 2 * nn)
    )
    rhs = np.zeros(2 * nn)
    rhs[row[:, 0]] = gw * v
    x = spla.spsolve(a, rhs)
    return gw * x[col[-1, :]]  # current from the last column node into b_j (at 0 V)


def bench(n: int, m: int) -> dict[str, float]:
    g, v = make_problem(n, m)
    t0 = time.perf_counter()
    net = crossbar_netlist(g, v)
    t_net = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = run_vacask(net)
    t_vc = time.perf_counter() - t0
    i_vc = np.array([float(res["op1"][f"vc{j}:flow(br)"]) for j in range(m)])

    t0 = time.perf_counter()
    i_sp = scipy_column_currents(g, v)
    t_sp = time.perf_counter() - t0

    rel = np.max(np.abs(i_vc - i_sp) / np.abs(i_sp))
    return {
        "nodes": 2 * n * m + n + m,  # cells' row/column nodes + source nodes + virtual grounds
        "netlist_s": t_net,
        "vacask_s": t_vc,
        "parse_elab_s": _stat(res.output, "Parse time") + _stat(res.output, "Elaboration time"),
        "nr_s": _stat(res.output, "NR solver time"),
        "scipy_s": t_sp,
        "max_rel": rel,
    }


def _stat(output: str, label: str) -> float:
    match = re.search(rf"^\s*{label}:\s+(\S+)", output, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=["64x64", "400x64"], help="NxM, e.g. 64x64")
    parser.add_argument("--repeat", type=int, default=3, help="report the fastest of N runs")
    args = parser.parse_args(argv)
    print(
        f"{'size':>8} {'nodes':>7} {'netlist gen':>11} {'VACASK wall':>11} {'parse+elab':>10} "
        f"{'NR solve':>9} {'scipy spsolve':>13} {'max rel diff I_col':>18}   (times in s)"
    )
    for size in args.sizes:
        n, m = (int(x) for x in size.lower().split("x"))
        runs = [bench(n, m) for _ in range(args.repeat)]  # min over runs: a busy host adds noise
        r = {key: min(run[key] for run in runs) for key in runs[0]}
        print(
            f"{size:>8} {r['nodes']:>7d} {r['netlist_s']:>11.3f} {r['vacask_s']:>11.3f} "
            f"{r['parse_elab_s']:>10.3f} {r['nr_s']:>9.3f} {r['scipy_s']:>13.3f} "
            f"{r['max_rel']:>18.2e}"
        )


if __name__ == "__main__":
    main()
