"""Cost of one A-STDP episode in ngspice, and the size of the RRAM state expression behind it.

For each layer size (inputs x neurons) it times ``cosim.astdp_stage.run_episode`` on one
MNIST-like input pattern, learning and frozen (inference netlist), and reports the number of
time points, the seconds per episode and the length of the synapse's B-source expressions,
which ngspice parses, evaluates and differentiates at every Newton step.

``--baseline REV`` runs the same measurement first on a git worktree of REV (in a subprocess,
one run, same machine load), then on this tree, and prints the ratios: the way to show what a
netlist change bought.

Usage: python benchmarks/astdp_spice_episode.py [--sizes 4x2 8x2 32x2] [--baseline 6d118b4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def measure(sizes: list[str]) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from compact_model.cards import load_preset
    from cosim.astdp_stage import AstdpStageConfig, LayerState, run_episode
    import netlist_gen.rram
    from netlist_gen.rram import rram_subckt

    assert Path(netlist_gen.rram.__file__).is_relative_to(ROOT), "imported the wrong tree"

    device = load_preset("siox-literature").device
    sub = rram_subckt(device, device.g_max)
    expr_chars = {e.name: len(e.expr.text) for e in sub.elements if hasattr(e, "expr")}
    rows = []
    for size in sizes:
        n_in, n_out = (int(x) for x in size.split("x"))
        rng = np.random.default_rng(0)  # a fixed pattern: half the inputs spike twice
        gaps = rng.uniform(1.0e-9, 1.9e-9, size=(n_in, n_out))
        state = LayerState(synapse_gaps=gaps, sfa_gaps=np.full(n_out, 2.0e-9))
        spikes = [[0.5e-6, 3e-6] if i % 2 == 0 else [] for i in range(n_in)]
        cfg = AstdpStageConfig(n_inputs=n_in, n_neurons=n_out, device=device, sfa=True)
        for learn in (True, False):
            t0 = time.perf_counter()
            ep = run_episode(cfg, state, spikes, learn=learn)
            rows.append({"size": size, "learn": learn, "seconds": time.perf_counter() - t0,
                         "points": int(ep.waveform.time.size),
                         "fires": [len(f) for f in ep.fire_times],
                         "gaps_nm": (ep.state_after.synapse_gaps * 1e9).ravel().tolist(),
                         "dev_chars": expr_chars.get("dev"), "state_chars": expr_chars.get("state")})
    return rows


def _baseline(rev: str, sizes: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                       check=True, capture_output=True)
        try:
            script = Path(__file__).resolve()
            out = subprocess.run([sys.executable, str(script), "--json", "--root", str(tree),
                                  "--sizes", *sizes], check=True, capture_output=True, text=True)
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)


def main() -> None:
    global ROOT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["4x2", "8x2"])
    ap.add_argument("--baseline", help="git revision to measure first, in a worktree")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.root is not None:
        ROOT = args.root
    if args.json:
        print(json.dumps(measure(args.sizes)))
        return
    base = _baseline(args.baseline, args.sizes) if args.baseline else None
    rows = measure(args.sizes)
    print(f"{'size':>6} {'learn':>5} {'points':>7} {'s/episode':>10} {'fires':>8} "
          f"{'state expr':>11}" + (f" {'baseline s':>10} {'speed-up':>8} {'base fires':>10} {'max dgap nm':>11}"
             if base else ""))
    for i, r in enumerate(rows):
        line = (f"{r['size']:>6} {str(r['learn']):>5} {r['points']:>7} {r['seconds']:>10.2f} "
                f"{str(r['fires']):>8} {r['state_chars']:>11}")
        if base:
            b = base[i]
            dgap = np.max(np.abs(np.subtract(b["gaps_nm"], r["gaps_nm"]))) if "gaps_nm" in b else float("nan")
            line += (f" {b['seconds']:>10.2f} {b['seconds'] / r['seconds']:>8.1f} {str(b['fires']):>10}"
                     f" {dgap:>11.2g}")
        print(line)


if __name__ == "__main__":
    main()
