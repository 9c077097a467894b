"""Throughput of the full co-simulation with SPICE in the loop, and where the time goes.

Runs ``cosim.pipeline.CoSimulation`` on the embedded MNIST sample and prints images per second
with the split: setup (filters, programming, V_REF), convolution (VACASK: netlist build and
write, simulator parse + solve, sampling; one transient per ``--images-per-run`` images), A-STDP
(ngspice: one halted transient for all images, one window per image) and the rest (Python).
The machine is shared: compare the split within a run rather than across runs.

Usage: python benchmarks/cosim_throughput.py [--images 4] [--filters 12] [--neurons 2] [--images-per-run 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    from cosim.pipeline import CoSimConfig, CoSimulation

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--filters", type=int, default=12)
    ap.add_argument("--neurons", type=int, default=2)
    ap.add_argument("--images-per-run", type=int, default=4)
    ap.add_argument("--calibration", type=int, default=200)
    args = ap.parse_args(argv)
    config = CoSimConfig(n_images=args.images, n_filters=args.filters, n_neurons=args.neurons,
                         images_per_run=args.images_per_run, calibration_images=args.calibration)
    t0 = time.perf_counter()
    sim = CoSimulation(config)
    result = sim.run()
    total = time.perf_counter() - t0
    t = result.timings
    rest = total - t["setup_s"] - t["convolution_s"] - t["astdp_s"]
    print(f"{args.images} images, {args.filters} filters (400 x {2 * args.filters} differential "
          f"crossbar, VACASK), A-STDP {args.filters} x {args.neurons} (ngspice), "
          f"{args.images_per_run} images per convolution run")
    print(f"  total {total:.1f} s -> {args.images / total:.3f} images/s "
          f"({args.images / (total - t['setup_s']):.3f} images/s after setup)")
    for name in ("setup_s", "convolution_s", "astdp_s"):
        print(f"  {name[:-2]:<12} {t[name]:8.1f} s  {100 * t[name] / total:5.1f} %  "
              f"{t[name] / args.images:7.2f} s/image")
    print(f"  {'python rest':<12} {rest:8.1f} s  {100 * rest / total:5.1f} %")
    conv_t = getattr(sim, "last_convolution_timings", None)
    if conv_t is not None:
        print(f"  convolution split: {conv_t}")


if __name__ == "__main__":
    main()
