"""Crossbar netlists: build+write time through the IR vs a plain string join, and ngspice vs scipy.

Table 1 - for each size, the time to build the ``circuits.crossbar`` objects and write them with
``netlist_gen.ngspice.write_ngspice``, against a plain f-string/join writer that produces the
same text (checked byte for byte); target: within 3x.
Table 2 - the operating point of a crossbar with wire resistance in ngspice (``run_deck``: deck
parse + solve in shared mode, the deck text already written) against ``circuits.reference.
nodal_solve`` (scipy sparse LU), and their largest relative difference of column currents.

ngspice sizes stay small: Debian's ngspice 39 has no KLU, and its sparse solver makes a 400x64
operating point take minutes, so that size is not run here (benchmarks/vacask_vs_scipy.py
covers large arrays with VACASK).

Usage: python benchmarks/netlist_write.py [--write 400x64 1024x1024] [--spice 64x64 128x128]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from circuits.crossbar import CrossbarSpec, Wire, crossbar, random_states  # noqa: E402
from circuits.reference import nodal_solve  # noqa: E402
from cosim.ngspice_compat import run_deck  # noqa: E402
from netlist_gen.ir import Op  # noqa: E402
from netlist_gen.ngspice import write_ngspice  # noqa: E402

R_W = 2.5  # ohm per wire segment
V_READ = 0.1  # V on every row


def _spec(n: int, m: int) -> CrossbarSpec:
    return CrossbarSpec(rows=n, cols=m, wire=Wire(r_row=R_W, r_col=R_W))


def plain_text(g: np.ndarray, v: np.ndarray, r_w: float) -> str:
    """The same deck as the IR path, written with f-strings and one join (no objects, no checks)."""
    n, m = g.shape
    rw = repr(float(r_w))
    r = (1.0 / g).tolist()
    lines = [f"crossbar {n}x{m} resistor"]
    lines += [f"Vin_{i} in_{i} 0 DC {float(v[i])!r}" for i in range(n)]
    for i in range(n):
        ri = r[i]
        lines += [f"Rwr_{i}_0 in_{i} r_{i}_0 {rw}"]
        lines += [f"Rwr_{i}_{k} r_{i}_{k - 1} r_{i}_{k} {rw}" for k in range(1, m)]
        lines += [f"Rcell_{i}_{k} r_{i}_{k} col_{k}_{i} {ri[k]!r}" for k in range(m)]
        if i + 1 < n:
            lines += [f"Rwc_{i}_{k} col_{k}_{i} col_{k}_{i + 1} {rw}" for k in range(m)]
        else:
            lines += [f"Rwc_{i}_{k} col_{k}_{i} col_{k}_bot {rw}" for k in range(m)]
    lines += [f"Vsense_col_{k} col_{k}_bot 0 DC 0.0" for k in range(m)]
    lines += [".op", ".end"]
    return "\n".join(lines) + "\n"


def bench_write(n: int, m: int, repeat: int) -> dict[str, float]:
    spec = _spec(n, m)
    g = random_states(spec, seed=0)
    v = np.full(n, V_READ)
    best: dict[str, float] = {}
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        circuit = crossbar(spec, g, v)
        t1 = time.perf_counter()
        text = write_ngspice(circuit.netlist(analysis=Op()))
        t2 = time.perf_counter()
        n_el = len(circuit.elements)
        del circuit
        gc.collect()
        t3 = time.perf_counter()
        plain = plain_text(g, v, R_W)
        t4 = time.perf_counter()
        if plain != text:
            raise AssertionError("the plain writer's text differs from the IR writer's")
        del plain, text
        run = {"elements": n_el, "build": t1 - t0, "write": t2 - t1, "ir": t2 - t0, "plain": t4 - t3}
        best = run if not best else {k: min(best[k], run[k]) for k in run}
    best["ratio"] = best["ir"] / best["plain"]
    return best


def bench_spice(n: int, m: int, repeat: int) -> dict[str, float]:
    spec = _spec(n, m)
    g = random_states(spec, seed=0)
    v = np.full(n, V_READ)
    circuit = crossbar(spec, g, v)
    text = write_ngspice(circuit.netlist(analysis=Op()))
    t_sp, t_np = float("inf"), float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_deck(text)
        t_sp = min(t_sp, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = nodal_solve(spec, g, v)
        t_np = min(t_np, time.perf_counter() - t0)
    spice = circuit.column_currents(result)[:, 0]
    return {"nodes": 2 * n * m + n + m, "ngspice": t_sp, "scipy": t_np, "ratio": t_sp / t_np,
            "max_rel": float(np.max(np.abs(spice - ref) / np.abs(ref)))}


def _sizes(values: list[str]) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in s.lower().split("x")) for s in values]  # type: ignore[misc]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", nargs="*", default=["400x64", "1024x1024"], help="NxM sizes")
    parser.add_argument("--spice", nargs="*", default=["64x64", "128x128"], help="NxM sizes")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (sizes < 1e5 cells)")
    args = parser.parse_args(argv)

    print("build + write (s), 1R resistor crossbar with row and column wire resistance")
    print(f"{'size':>10} {'elements':>9} {'IR build':>9} {'IR write':>9} {'IR total':>9} "
          f"{'plain join':>10} {'IR/plain':>8}")
    for n, m in _sizes(args.write):
        r = bench_write(n, m, args.repeat if n * m < 100_000 else 1)
        print(f"{f'{n}x{m}':>10} {r['elements']:>9d} {r['build']:>9.3f} {r['write']:>9.3f} "
              f"{r['ir']:>9.3f} {r['plain']:>10.3f} {r['ratio']:>8.2f}")

    print("\noperating point (s), same crossbars: ngspice 39 (shared, parse + solve) vs scipy")
    print(f"{'size':>10} {'nodes':>7} {'ngspice':>9} {'nodal_solve':>11} {'ratio':>8} {'max rel diff':>12}")
    for n, m in _sizes(args.spice):
        r = bench_spice(n, m, args.repeat)
        print(f"{f'{n}x{m}':>10} {r['nodes']:>7d} {r['ngspice']:>9.3f} {r['scipy']:>11.4f} "
              f"{r['ratio']:>8.0f} {r['max_rel']:>12.1e}")


if __name__ == "__main__":
    main()
