"""Fast engine throughput on the MNIST test set, as ratios measured in one run.

1. Convolution stage: the reference system's 400 x 64 differential filter array (pipeline
   defaults: programmed gaps, 2.5 ohm wires) through ``FastConvolution`` for every position of
   every image, against an ideal torch matmul of the same work (patches @ (G+ - G-), no wires).
2. The same array in VACASK (and ngspice with ``--ngspice``: 39 has no KLU and needs tens of
   minutes even for a few vectors) on ``--spice-vectors`` filter positions of one image, one
   slot each in one transient, scaled to the image's 81 positions.
3. Full fast pipeline: convolution + global max pooling + V_REF + A-STDP with SFA
   (``cosim.fast.astdp``), learning, over all images.

Data: MNIST test (10,000) from ``--data-dir`` (IDX .gz files) when present, else the embedded
5,000-digit sample repeated. Usage:
  python benchmarks/fast_engine.py [--data-dir ../shared/datasets] [--images 10000] [--ngspice]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cosim import digital  # noqa: E402
from cosim.backends import Backend  # noqa: E402
from cosim.convolution import unfold_positions  # noqa: E402
from cosim.datasets import load_dataset, load_mnist_sample  # noqa: E402
from cosim.fast.astdp import FastAstdpModel, run_fast_episode  # noqa: E402
from cosim.fast.convolution import fast_convolution  # noqa: E402
from cosim.pipeline import CoSimConfig, CoSimulation  # noqa: E402


def _images(data_dir: str | None, n: int) -> np.ndarray:
    if data_dir and Path(data_dir, "mnist").exists():
        return load_dataset("mnist", "test", data_dir=data_dir, limit=n).images
    sample = load_mnist_sample(seed=0).images
    return np.concatenate([sample] * (n // len(sample) + 1))[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--spice-vectors", type=int, default=9)
    ap.add_argument("--ngspice", action="store_true", help="also time ngspice (very slow at 400 x 128)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images = _images(args.data_dir, args.images)
    sim = CoSimulation(CoSimConfig(n_images=1, calibration_images=500))
    t0 = time.perf_counter()
    fast = fast_convolution(sim)
    t_setup = time.perf_counter() - t0
    v_max = sim.conv.v_read_max
    g = np.asarray(sim.programmed.conductances)  # (2, 400, 64)
    g_diff = torch.as_tensor(g[0] - g[1], dtype=torch.float32)

    chunk = 500
    t0 = time.perf_counter()
    pooled = []
    for s in range(0, len(images), chunk):
        patches = unfold_positions(images[s:s + chunk], 20) * v_max
        pooled.append(fast.pooled_outputs(patches))
    t_fast = time.perf_counter() - t0
    pooled = np.concatenate(pooled)
    t0 = time.perf_counter()
    for s in range(0, len(images), chunk):
        patches = torch.as_tensor(unfold_positions(images[s:s + chunk], 20) * v_max, dtype=torch.float32)
        (patches.reshape(-1, 400) @ g_diff).reshape(patches.shape[0], -1, 64).amax(dim=1)
    t_ideal = time.perf_counter() - t0
    n = len(images)
    print(f"images {n}, fast engine setup {t_setup:.2f} s (cell fits, factorisation, adjoint), "
          f"powers {fast.crossbar.info.powers}")
    print(f"convolution fast (wires, non-linear cells): {t_fast:.2f} s = {1e3 * t_fast / n:.3f} ms/image")
    print(f"convolution ideal torch matmul, same work: {t_ideal:.2f} s; ratio fast/ideal = {t_fast / t_ideal:.2f}")

    positions = unfold_positions(sim.images.images[:1], 20)[0]  # (81, 400) intensities
    vectors = positions[:: max(1, len(positions) // args.spice_vectors)][:args.spice_vectors]
    backends = [Backend.VACASK] + ([Backend.NGSPICE] if args.ngspice else [])
    for backend in backends:
        stage = sim.conv.replace(backend=backend)
        t0 = time.perf_counter()
        stage.run_vectors(vectors)
        per = (time.perf_counter() - t0) * len(positions) / len(vectors)
        print(f"convolution {backend.value}: {per:.1f} s/image ({len(vectors)} positions timed, scaled "
              f"to {len(positions)}); ratio to fast = {per / (t_fast / n):.0f}x")

    model = FastAstdpModel.build(sim.stage)
    bits = digital.feature_bits(pooled, sim.bank.v_ref)
    rng = np.random.default_rng(3)
    state = sim.state
    t0 = time.perf_counter()
    winners = []
    for k in range(n):
        trains = [list(t) for t in digital.schedule_spikes(bits[k], sim.config.schedule, rng=rng).spike_times()]
        episode = run_fast_episode(model, state, trains)
        state = episode.state_after
        winners.append(-1 if episode.winner is None else episode.winner)
    t_astdp = time.perf_counter() - t0
    print(f"A-STDP fast ({sim.stage.n_inputs}x{sim.stage.n_neurons}, SFA, learning): {t_astdp:.2f} s = "
          f"{1e3 * t_astdp / n:.3f} ms/image; winners {np.bincount(np.array(winners) + 1)} (first: none)")
    print(f"full fast pipeline: {t_fast + t_astdp:.1f} s for {n} images (target < 120 s)")


if __name__ == "__main__":
    main()
