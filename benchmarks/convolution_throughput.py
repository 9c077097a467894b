"""Convolution-stage throughput: images per second through the filter crossbar, per engine.

Each image gives 81 filter positions (9 x 9): a 20 x 20 filter on 28 x 28 MNIST digits, or for
the smaller ngspice crossbar a 10 x 10 filter on the digits' central 18 x 18 crop, so every row
of the table does 81 slots per image. Wire resistance 2.5 ohm per segment, no capacitance;
random states (conductances 1e-6..1e-4 S, or RRAM gaps over the preset's range), seed 1.
Engines:
- vacask / ngspice: ``ConvolutionStage.run`` with ``images_per_run`` images per transient;
- nodal: ``run_nodal`` (``circuits.reference.nodal_solve`` on every vector, sparse LU);
- nodal-T: benchmark only, the linear map once (``nodal_solve`` of the identity: one solve per
  row) and then ``V @ T``, exact by superposition: what a fast engine can do for linear cells;
- ideal: ``run_ideal`` (no wires).
Columns: wall time of the run and images per second; where the time went (build: PWL stimuli +
netlist objects, write: netlist text, sim: the simulator process/library call, of which parse:
VACASK parse + elaboration, py: slot sampling); time points and Newton iterations per slot;
the largest difference from nodal (linear cells) or from ngspice (RRAM cells, at the ngspice
size), over the largest reference current. Wall times on a shared machine: compare within one
run.

Usage: python benchmarks/convolution_throughput.py [--sizes 400x64 400x64d] [--cells resistor 1r]
       [--images-per-run 1 4 16] [--ngspice-size 100x16] [--ngspice-images-per-run 1 4 16]
       [--ngspice-full-vectors N]    (size "RxF" = R rows, F filters; suffix d: differential)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from circuits.crossbar import CellKind, CrossbarSpec, Wire, random_states  # noqa: E402
from circuits.reference import nodal_solve  # noqa: E402
from compact_model.cards import load_preset  # noqa: E402
from cosim.backends import Backend  # noqa: E402
from cosim.convolution import ConvolutionStage, RunTimings, unfold_positions  # noqa: E402

WIRE = Wire(r_row=2.5, r_col=2.5)  # ohm per segment
POSITIONS = 81

HEADER = (f"{'engine':>8} {'crossbar':>17} {'cells':>8} {'img/run':>7} {'wall s':>8} "
          f"{'img/s':>9} {'build':>6} {'write':>6} {'sim':>8} {'parse':>6} {'py':>6} "
          f"{'pts/slot':>8} {'NR/slot':>7} {'max|dI|/max|I|':>14}")


def load_images(n: int) -> np.ndarray:
    try:
        from cosim.datasets import load_mnist_sample
        return np.asarray(load_mnist_sample(n, seed=0).images, dtype=float)
    except Exception as exc:  # noqa: BLE001 - a benchmark falls back rather than stops
        print(f"(MNIST sample unavailable: {exc}; using random images)")
        return np.random.default_rng(0).uniform(0, 1, (n, 28, 28))


def make_stage(size: str, cell: CellKind, backend: Backend) -> tuple[ConvolutionStage, str]:
    differential = size.endswith("d")
    rows, filters = (int(x) for x in size.rstrip("d").split("x"))
    k = math.isqrt(rows)
    assert k * k == rows, f"rows must be a square (a k x k filter), got {rows}"
    device = load_preset("siox-literature").device if cell is not CellKind.RESISTOR else None
    spec = CrossbarSpec(rows=rows, cols=filters, cell_kind=cell, wire=WIRE,
                        differential=differential, device=device)
    stage = ConvolutionStage(spec=spec, states=random_states(spec, seed=1), filter_size=k,
                             backend=backend)
    label = f"{rows}x{spec.physical_cols}" + (f" ({filters} pairs)" if differential else "")
    return stage, label


def crop(images: np.ndarray, filter_size: int) -> np.ndarray:
    """Central crop giving 9 x 9 positions (the whole 28 x 28 image for 20 x 20 filters)."""
    side = filter_size + 8
    start = (images.shape[1] - side) // 2
    return images[:, start:start + side, start:start + side]


def row(engine: str, label: str, cell: CellKind, n: int, wall: float, diff: float,
        t: RunTimings | None = None, note: str = "") -> None:
    """One table row; ``t`` None: only the wall time is known (``note`` fills the gap)."""
    slots = n * POSITIONS
    head = f"{engine:>8} {label:>17} {cell.value:>8} {n:>7} {wall:>8.2f} {n / wall:>9.3g} "
    if t is None:
        print(head + f"{note:>56} {diff:>14.1e}", flush=True)
        return
    pts = t.timepoints / slots if t.runs else math.nan
    nr = t.newton_iterations / slots if t.newton_iterations >= 0 else math.nan
    print(head + f"{t.build_s:>6.2f} {t.write_s:>6.2f} {t.simulate_s:>8.2f} {t.parse_s:>6.2f} "
          f"{t.extract_s:>6.2f} {pts:>8.2f} {nr:>7.2f} {diff:>14.1e}", flush=True)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference over the reference's largest current (blank positions give 0 A)."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def simulate(stage: ConvolutionStage, label: str, images: np.ndarray, runs: list[int],
             reference: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    out = {}
    cell = stage.spec.cell_kind
    for per_run in runs:
        batch = images[:per_run]
        t0 = time.perf_counter()
        result = stage.replace(images_per_run=per_run).run(batch)
        wall = time.perf_counter() - t0
        out[per_run] = result.currents
        ref = reference.get(per_run)
        row(stage.backend.value, label, cell, per_run, wall,
            rel(result.currents, ref) if ref is not None else math.nan, result.timings)
    return out


def references(stage: ConvolutionStage, label: str, images: np.ndarray,
               runs: list[int]) -> dict[int, np.ndarray]:
    """Reference rows for the largest batch; returns nodal currents per batch size."""
    n = max(runs)
    cell = stage.spec.cell_kind
    out: dict[int, np.ndarray] = {}
    if cell is CellKind.RESISTOR:
        t0 = time.perf_counter()
        nodal = stage.run_nodal(images[:n])
        row("nodal", label, cell, n, time.perf_counter() - t0, math.nan, nodal.timings)
        out = {k: nodal.currents[:k] for k in runs}
        t0 = time.perf_counter()
        transfer = nodal_solve(stage.spec, stage.states, np.eye(stage.spec.rows))  # (rows, P)
        v = stage.v_read_max * unfold_positions(images[:n], stage.filter_size)
        currents = v @ transfer
        row("nodal-T", label, cell, n, time.perf_counter() - t0, rel(currents, nodal.currents),
            note="(one solve per row, then V @ T)")
    t0 = time.perf_counter()
    ideal = stage.run_ideal(images[:n])
    wall = time.perf_counter() - t0
    diff = rel(ideal.currents, out[n]) if out else math.nan
    row("ideal", label, cell, n, wall, diff, ideal.timings)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=["400x64", "400x64d"])
    ap.add_argument("--cells", nargs="+", default=["resistor", "1r"], choices=["resistor", "1r"])
    ap.add_argument("--images-per-run", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--ngspice-size", default="100x16", help="'' to skip ngspice")
    ap.add_argument("--ngspice-images-per-run", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--ngspice-full-vectors", type=int, default=0,
                    help="also time N vectors of the first --sizes crossbar in ngspice")
    args = ap.parse_args(argv)
    images = load_images(max(args.images_per_run + args.ngspice_images_per_run))
    print(HEADER)
    for cell in (CellKind(c) for c in args.cells):
        if args.ngspice_size:
            stage, label = make_stage(args.ngspice_size, cell, Backend.NGSPICE)
            small = crop(images, stage.filter_size)
            runs = args.ngspice_images_per_run
            ref = references(stage, label, small, runs)
            ng = simulate(stage, label, small, runs, ref)
            simulate(stage.replace(backend=Backend.VACASK), label, small, runs, ref or ng)
        for size in args.sizes:
            stage, label = make_stage(size, cell, Backend.VACASK)
            sized = crop(images, stage.filter_size)
            ref = references(stage, label, sized, args.images_per_run)
            simulate(stage, label, sized, args.images_per_run, ref)
        if args.ngspice_full_vectors and args.sizes:
            stage, label = make_stage(args.sizes[0], cell, Backend.NGSPICE)
            m = args.ngspice_full_vectors
            vectors = unfold_positions(crop(images[:1], stage.filter_size), stage.filter_size)[0, :m]
            t0 = time.perf_counter()
            result = stage.run_vectors(vectors)
            wall = time.perf_counter() - t0
            print(f"  ngspice {label} {cell.value}: {m} vectors in {wall:.1f} s "
                  f"({result.timings.timepoints} time points); {POSITIONS} vectors (one image) "
                  f"extrapolate to ~{wall / m * POSITIONS:.0f} s", flush=True)


if __name__ == "__main__":
    main()
