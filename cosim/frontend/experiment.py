"""Train a front end on a data set, score it (float, quantised, programmed array) and save it
with its provenance: the library side of ``scripts/train_frontend.py``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosim.datasets import load_dataset
from cosim.frontend.config import HardwareConfig, TrainConfig, as_plain_dict
from cosim.frontend.evaluate import EvalConfig, Variant, evaluate_frontend
from cosim.frontend.io import save_frontend
from cosim.frontend.train import TrainedFrontEnd, train_frontend
from cosim.provenance import versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentConfig:
    """Which data, how much of it, and which array variants to score."""

    dataset: str = "mnist"  # cosim.datasets name
    data_dir: str | None = None  # data dir (None: $RRAMCOSIM_DATA_DIR or the cache)
    train_limit: int | None = None  # 1, training images (None: the whole split)
    test_limit: int | None = None  # 1, test images (None: the whole split)
    train: TrainConfig = TrainConfig()
    evaluation: EvalConfig = EvalConfig()
    hardware: tuple[HardwareConfig, ...] = (HardwareConfig(),)  # one programmed row per config

    def __post_init__(self) -> None:
        for name in ("train_limit", "test_limit"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"ExperimentConfig.{name} must be None or an integer >= 1, got {v!r}")
        if not all(isinstance(h, HardwareConfig) for h in self.hardware):
            raise ValueError("ExperimentConfig.hardware must hold HardwareConfig values")


def run_experiment(config: ExperimentConfig, out: str | os.PathLike[str]) -> tuple[TrainedFrontEnd, list[dict[str, Any]]]:
    """Train, score every variant on the test split, save ``out``.npz/.json; returns the bank
    and the accuracy rows (also in the JSON, under "accuracies")."""
    cfg = config
    t0 = time.perf_counter()
    train = load_dataset(cfg.dataset, "train", data_dir=cfg.data_dir, limit=cfg.train_limit,
                         seed=None if cfg.train_limit is None else cfg.train.seed)
    test = load_dataset(cfg.dataset, "test", data_dir=cfg.data_dir, limit=cfg.test_limit)
    front = train_frontend(train.images, train.labels, cfg.train)
    train_s = time.perf_counter() - t0
    # The readout and V_REF calibration images: a fixed shuffle of the training split.
    order = np.random.default_rng([cfg.train.seed, 7]).permutation(len(train))
    fit_img, fit_lab = train.images[order], train.labels[order]
    rows = evaluate_frontend(front, fit_img, fit_lab, test.images, test.labels, config=cfg.evaluation,
                             variants=(Variant.FLOAT, Variant.QUANTIZED))
    for hw in cfg.hardware:
        rows += evaluate_frontend(front, fit_img, fit_lab, test.images, test.labels, hardware=hw,
                                  config=cfg.evaluation, variants=(Variant.PROGRAMMED,))
    for r in rows:
        r["dataset"] = cfg.dataset
    extra = {"dataset": cfg.dataset, "train_source": train.source, "test_source": test.source,
             "experiment": {"train_limit": cfg.train_limit, "test_limit": cfg.test_limit,
                            "evaluation": as_plain_dict(cfg.evaluation),
                            "hardware": [as_plain_dict(h) for h in cfg.hardware]},
             "versions": versions(), "train_seconds": train_s,
             "total_seconds": time.perf_counter() - t0, "accuracies": rows}
    save_frontend(front, Path(out), extra=extra)
    return front, rows


__all__ = ["ExperimentConfig", "run_experiment"]
