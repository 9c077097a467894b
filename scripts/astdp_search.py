"""Random search over the A-STDP classifier's operating point on cached feature bits.

Each trial learns on the first --learn images, labels neurons on the next --label images and
scores the test images (all through the fast engine), and appends one JSON line to OUT, so an
interrupted search resumes where it stopped. The bits file is an .npz with arrays
``learn_bits``, ``learn_labels``, ``test_bits``, ``test_labels`` (e.g. written by
a script from ``cosim.experiments.prepare_features``).

    .venv/bin/python scripts/astdp_search.py bits.npz search.jsonl --trials 20 --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from cosim import digital
from cosim.classifier import AstdpClassifier, ClassifierConfig, accuracies, label_neurons, power_proxy, predict

SPACE = {  # the axes searched, each drawn uniformly from its list
    "r_leak": [2.5e3, 3.5e3, 5e3, 10e3],
    "tau_mem": [0.2e-6, 1e-6],
    "p_noise": [0.05, 0.1, 0.2],
    "gap_lo": [1.0e-9, 1.1e-9, 1.2e-9],
    "gap_span": [0.2e-9, 0.4e-9],
    "complement": [False, True],
    "redundancy": [2, 4],
    "noise_slots": [2, 4],
    "p_set": [1.0, 0.5, 0.25],  # stochastic switching (cosim.astdp_stage.StochasticWrites)
    "p_reset": [1.0, 0.5, 0.25],
}


def trial_config(params: dict, seed: int) -> ClassifierConfig:
    sched = digital.SpikeSchedule(slot_time=1.05e-6, pattern_slots=2, noise_slots=params["noise_slots"],
                                  p_noise=params["p_noise"], complement=params["complement"])
    lo = params["gap_lo"]
    return ClassifierConfig(redundancy=params["redundancy"], schedule=sched, r_leak=params["r_leak"],
                            tau_mem=params["tau_mem"],
                            synapse_gap_range=(lo, lo + params["gap_span"]), seed=seed,
                            p_set=params.get("p_set", 1.0), p_reset=params.get("p_reset", 1.0))


def run_trial(cfg: ClassifierConfig, data: dict, n_learn: int, n_label: int, n_test: int) -> dict:
    t0 = time.perf_counter()
    clf = AstdpClassifier(cfg, data["learn_bits"].shape[1])
    learn = clf.present(data["learn_bits"][:n_learn], learn=True)
    lab_bits = data["learn_bits"][n_learn:n_learn + n_label]
    lab = clf.present(lab_bits, learn=False)
    names = label_neurons(lab.winners, data["learn_labels"][n_learn:n_learn + n_label], cfg.n_neurons, cfg.n_classes)
    test = clf.present(data["test_bits"][:n_test], learn=False)
    row = accuracies(predict(test.winners, names), data["test_labels"][:n_test])
    row.update({f"learn_{k}": v for k, v in power_proxy(learn).items()})
    row["neurons_winning_test"] = int(np.unique(test.winners[test.winners >= 0]).size)
    row["seconds"] = time.perf_counter() - t0
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bits", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--learn", type=int, default=1000)
    ap.add_argument("--label", type=int, default=1000)
    ap.add_argument("--test", type=int, default=1000)
    a = ap.parse_args()
    with np.load(a.bits) as f:
        data = {k: f[k] for k in f.files}
    done = {json.loads(line)["trial"] for line in a.out.read_text().splitlines()} if a.out.exists() else set()
    rng = np.random.default_rng(a.seed)
    for trial in range(a.trials):
        params = {k: v[int(rng.integers(len(v)))] for k, v in SPACE.items()}
        if trial in done:
            continue
        row = {"trial": trial, **params, **run_trial(trial_config(params, a.seed), data, a.learn, a.label, a.test)}
        with a.out.open("a") as fh:
            fh.write(json.dumps(row, default=float) + "\n")
        print(json.dumps(row, default=float), flush=True)


if __name__ == "__main__":
    main()
