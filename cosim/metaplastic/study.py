"""One reproducible metaplastic study: the sequential experiment, its SPICE check, its record.

``run_study(StudyConfig(...))`` runs ``experiment.run_sequential_experiment`` and writes, in
``out_dir``:

* ``results.csv``: the tidy accuracy table (one row per run, after-task, evaluated task);
* ``run.json``: configuration, seed, engines, the SPICE-check agreement, run time, versions,
  per-run accuracy matrices and device counters, and the memory footprints;
* ``slice.cir``: the ngspice deck of the first checked image (when ``spice_check > 0``).

Engines. The accuracies come from the fast engine: torch training, devices programmed through
the compact model (numpy), read as G at v_read. ``spice_check = N`` then feeds N test images of
the first task through ngspice on a slice of the first layer of the trained device-aware
network (``spice_rows`` inputs x ``spice_cols`` differential outputs: a full 784 x hidden x 2
array is far beyond ngspice's dense solver) and compares the column currents with the fast
engine's G @ V: the relative error of every output's differential current, and whether its sign
(the sign of the partial pre-activation) agrees.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compact_model.atomic import write_text_atomic
from cosim.metaplastic.experiment import (N_PIXELS, ExperimentConfig, build_tasks, memory_footprint,
                                          run_sequential_experiment, write_csv)
from cosim.metaplastic.network import Mode, SequenceResult, Task, TrainConfig
from cosim.provenance import plain, versions

logger = logging.getLogger(__name__)

__all__ = ["StudyConfig", "StudyResult", "run_study", "footprints", "RESULTS_CSV", "RUN_JSON",
           "SLICE_DECK"]

RESULTS_CSV = "results.csv"
RUN_JSON = "run.json"
SLICE_DECK = "slice.cir"
FLOAT32_BITS = 32  # hidden weights of the binarised reference (Laborieux et al.: float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyConfig:
    """What ``run_study`` runs and where it writes."""

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    out_dir: str = "out/metaplastic"  # folder of results.csv, run.json, slice.cir
    spice_check: int = 0  # test images of the first task run through ngspice (0: none)
    spice_rows: int = 64  # inputs (pixels) of the checked slice of layer 1
    spice_cols: int = 10  # differential outputs (hidden neurons) of the slice
    spice_row_offset: int = 300  # first pixel of the slice (central rows: the borders are blank)
    spice_seed: int = 0  # which test images are checked

    def __post_init__(self) -> None:
        if not isinstance(self.experiment, ExperimentConfig):
            raise ValueError("experiment must be an ExperimentConfig")
        for name in ("spice_check", "spice_row_offset", "spice_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        for name in ("spice_rows", "spice_cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.spice_check and Mode.DEVICE not in self.experiment.modes:
            raise ValueError("spice_check needs a device-aware run: add the 'device' mode")
        if self.spice_row_offset + self.spice_rows > N_PIXELS:
            raise ValueError(f"spice_row_offset + spice_rows must be <= {N_PIXELS}, got "
                             f"{self.spice_row_offset} + {self.spice_rows}")
        if self.spice_cols > self.experiment.train.hidden:
            raise ValueError(f"spice_cols must be <= hidden ({self.experiment.train.hidden}), "
                             f"got {self.spice_cols}")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StudyResult:
    rows: list[dict[str, Any]]  # the tidy table
    record: dict[str, Any]  # what run.json holds
    csv_path: Path
    json_path: Path


def footprints(train: TrainConfig, *, n_in: int = N_PIXELS, n_out: int = 10) -> dict[str, Any]:
    """Stored state of the SAME architecture (n_in - hidden - n_out) in both variants.

    * binarised (Laborieux et al.): 1-bit weights in the devices, float32 hidden weights;
    * quantised (D'Agostino et al.): k-level weights in the devices, hidden weights at the
      precision the run used (``train.hidden_bits``; 0 means float32).

    The ratio is binarised / quantised total bits. Per weight it is 33 / (ceil(log2 k) + b):
    with float32 hidden weights in both, the quantised network is the LARGER one; it is smaller
    only when its hidden weights need fewer than 29 bits, and it never reaches 15x at equal
    size (33 / 15 = 2.2 bits would have to hold both the k-level weight and the hidden one).
    A 15x ratio needs the binarised network to have ~15x more weights (``footprint_ratio``).
    """
    shapes = [(train.hidden, n_in), (n_out, train.hidden)]
    q_bits = train.hidden_bits or FLOAT32_BITS
    binary = memory_footprint(shapes, 2, hidden_bits=FLOAT32_BITS)
    quantized = memory_footprint(shapes, train.n_levels, hidden_bits=q_bits)
    return {"architecture": [n_in, train.hidden, n_out], "binarized": binary, "quantized": quantized,
            "quantized_levels": train.n_levels, "quantized_hidden_bits": q_bits,
            "binarized_hidden_bits": FLOAT32_BITS,
            "ratio_binarized_over_quantized": binary["total_bits"] / quantized["total_bits"]}


def _spice_check(config: StudyConfig, result: SequenceResult, task: Task) -> tuple[dict[str, Any], str]:
    from cosim.metaplastic.spice_check import spice_check_slice

    assert result.devices is not None
    layer = result.devices.arrays["w1"]
    rng = np.random.default_rng(config.spice_seed)
    pick = np.sort(rng.choice(len(task.test_x), size=min(config.spice_check, len(task.test_x)),
                              replace=False))
    lo, rows = config.spice_row_offset, config.spice_rows
    check = spice_check_slice(layer, task.test_x[pick][:, lo:lo + rows], rows=rows,
                              cols=config.spice_cols, row_offset=lo)
    # Differential output of pair j: column 2j (G+) minus column 2j + 1 (G-).
    spice_d = check.spice[:, 0::2] - check.spice[:, 1::2]
    ideal_d = check.ideal[:, 0::2] - check.ideal[:, 1::2]
    scale = float(np.max(np.abs(ideal_d))) or 1.0
    agree = np.sign(spice_d) == np.sign(ideal_d)
    summary = {"images": int(len(pick)), "image_indices": pick.tolist(), "task": task.name,
               "layer": "w1", "rows": rows, "cols": config.spice_cols, "row_offset": lo,
               "backend": "ngspice",
               "max_rel_error_columns_vs_GV": check.max_rel_error_ideal,
               "max_rel_error_columns_vs_compact_model": check.max_rel_error_model,
               "max_error_differential_over_largest": float(np.max(np.abs(spice_d - ideal_d))) / scale,
               "sign_agreement_differential": float(agree.mean())}
    return summary, check.deck


def run_study(config: StudyConfig, *, tasks: Sequence[Task] | None = None,
              progress: Callable[[], None] | None = None) -> StudyResult:
    """Run the experiment of ``config``, check it in SPICE, write the table and the record."""
    t0 = time.perf_counter()
    exp = config.experiment
    if tasks is None:
        tasks = build_tasks(exp)
    kept: dict[str, SequenceResult] = {}

    def keep(run: str, result: SequenceResult) -> None:
        # Only the last device-aware run is needed (the SPICE check); the others are dropped.
        if result.devices is not None:
            kept.clear()
            kept[run] = result

    rows = run_sequential_experiment(exp, tasks=tasks, progress=progress, on_result=keep)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(rows, out / RESULTS_CSV)
    spice: dict[str, Any] = {"images": 0}
    if config.spice_check:
        (run, result), = kept.items()
        spice, deck = _spice_check(config, result, tasks[0])
        spice["run"] = run
        write_text_atomic(out / SLICE_DECK, deck)
    runs: dict[str, Any] = {}
    for row in rows:
        entry = runs.setdefault(row["run"], {"accuracy": {}, "runtime_s": row["runtime_s"],
                                             "device": {k: row[k] for k in _DEVICE_COUNTERS if k in row}})
        entry["accuracy"].setdefault(row["after_task"], {})[row["eval_task"]] = row["accuracy"]
    record = {"config": plain(exp), "seed": exp.seed,
              "engine": {"accuracy": "fast (torch training; devices programmed and read through "
                                     "the compact model)",
                         "spice_check": "ngspice" if config.spice_check else None},
              "spice_check": spice, "runtime_s": round(time.perf_counter() - t0, 3),
              "versions": versions(), "runs": runs, "footprint": footprints(exp.train),
              "study": {k: getattr(config, k) for k in ("spice_check", "spice_rows", "spice_cols",
                                                        "spice_row_offset", "spice_seed")}}
    json_path = out / RUN_JSON
    write_text_atomic(json_path, json.dumps(record, indent=2, default=_json_default) + "\n")
    logger.info("wrote %s and %s", csv_path, json_path)
    return StudyResult(rows=rows, record=record, csv_path=csv_path, json_path=json_path)


_DEVICE_COUNTERS = ("device_writes_total", "device_writes_max", "device_writes_mean", "device_pulses",
                    "device_unverified", "device_worn")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        v = float(value)
        return v if math.isfinite(v) else None
    return str(value)
