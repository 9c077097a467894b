"""MNIST -> Fashion-MNIST with and without metaplasticity, in software and on RRAM devices.

Reproduces the sequential-task experiment of D'Agostino et al. (AICAS 2023): a two-layer
perceptron with k-level weights, trained on MNIST then Fashion-MNIST, once per m in
{0, --meta} and per mode (software, device-aware). Writes the tidy accuracy table to the CSV
given on the command line, a JSON side file with the memory footprints and (optionally) a
SPICE check of a programmed slice of the first layer, and logs a summary.

    .venv/bin/python scripts/metaplastic_experiment.py results/metaplastic.csv

Uses one torch thread (the machine is shared). ~15 min with the defaults on the full data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from compact_model import cards
from cosim.metaplastic.devices import DeviceConfig
from cosim.metaplastic.experiment import (ExperimentConfig, TaskKind, build_tasks, footprint_ratio,
                                          memory_footprint, run_sequential_experiment, write_csv)
from cosim.metaplastic.network import Activation, Mode, TrainConfig, train_sequential
from cosim.metaplastic.spice_check import spice_check_slice

logger = logging.getLogger("metaplastic_experiment")


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", type=Path, help="output CSV (the tidy accuracy table)")
    ap.add_argument("--meta", type=float, default=8.0, help="metaplasticity m of the metaplastic runs")
    ap.add_argument("--levels", type=int, default=15, help="weight levels k (2 = binarised)")
    ap.add_argument("--hidden", type=int, default=256, help="hidden neurons")
    ap.add_argument("--w-range", type=float, default=0.25, help="hidden weight of the extreme level")
    ap.add_argument("--epochs", type=int, default=5, help="epochs per task")
    ap.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate")
    ap.add_argument("--n-train", type=int, default=None, help="training samples per task (default all)")
    ap.add_argument("--n-test", type=int, default=None, help="test samples per task (default all)")
    ap.add_argument("--data-dir", type=str, default=None, help="folder with mnist/ and fashion-mnist/")
    ap.add_argument("--modes", nargs="+", default=["software", "device"], choices=[m.value for m in Mode])
    ap.add_argument("--program-interval", type=int, default=1, help="steps between device re-programming")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-spice", action="store_true", help="skip the ngspice check of a layer slice")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    a = _args(argv)
    train = TrainConfig(hidden=a.hidden, n_levels=a.levels, w_range=a.w_range, lr=a.lr,
                        epochs_per_task=a.epochs, activation=Activation.HARDTANH,
                        program_interval=a.program_interval, device=DeviceConfig(), seed=a.seed)
    config = ExperimentConfig(tasks=(TaskKind.MNIST, TaskKind.FASHION_MNIST), metas=(0.0, a.meta),
                              modes=tuple(Mode(m) for m in a.modes), train=train,
                              data_dir=a.data_dir, n_train=a.n_train, n_test=a.n_test, seed=a.seed)
    t0 = time.perf_counter()
    tasks = build_tasks(config)
    rows = run_sequential_experiment(config, tasks=tasks)
    out = write_csv(rows, a.csv)
    logger.info("wrote %d rows to %s", len(rows), out)

    side: dict = {"config": repr(config), "runtime_s": None}
    shapes = [(a.hidden, 784), (10, a.hidden)]
    side["footprint_quantized"] = memory_footprint(shapes, a.levels)
    side["footprint_binary_same_width"] = memory_footprint(shapes, 2)
    side["footprint_binary_1024"] = memory_footprint([(1024, 784), (10, 1024)], 2)
    side["ratio_binary1024_over_quantized"] = footprint_ratio(1024, a.hidden, a.levels)
    if not a.no_spice and Mode.DEVICE in config.modes:
        # A short device-aware run on MNIST only, to have a programmed first layer to simulate.
        small = dataclasses.replace(train, meta=a.meta, mode=Mode.DEVICE, epochs_per_task=1)
        result = train_sequential(tasks[:1], small, card=cards.load_preset(config.card))
        assert result.devices is not None
        layer = result.devices.arrays["w1"]
        rng = np.random.default_rng(a.seed)
        pick = rng.choice(len(tasks[0].test_x), size=4, replace=False)
        # Rows 300..363: central pixels (the first rows of an image are mostly blank).
        check = spice_check_slice(layer, tasks[0].test_x[pick][:, 300:364], rows=64, cols=10,
                                  row_offset=300)
        side["spice_slice"] = {"rows": 64, "cols": 10, "row_offset": 300, "vectors": 4,
                               "max_rel_error_vs_GV": check.max_rel_error_ideal,
                               "max_rel_error_vs_compact_model": check.max_rel_error_model}
        a.csv.with_suffix(".slice.cir").write_text(check.deck)
    side["runtime_s"] = time.perf_counter() - t0
    a.csv.with_suffix(".json").write_text(json.dumps(side, indent=2, default=str))
    for row in rows:
        logger.info("%-22s after %-14s on %-14s %.4f", row["run"], row["after_task"], row["eval_task"],
                    row["accuracy"])
    logger.info("footprints: %s", json.dumps({k: v for k, v in side.items() if k != "config"}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
