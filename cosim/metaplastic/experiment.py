"""Sequential-task experiments (MNIST -> Fashion-MNIST, permuted MNIST) and memory footprints.

``run_sequential_experiment(config)`` trains one network per (m, mode) pair on the task
sequence and returns a tidy table: one row per (run, after task i, evaluated task j) with the
accuracy, the configuration, the seed, the run time, the device write counters and the
versions. ``write_csv`` stores it.

Data: MNIST and Fashion-MNIST through ``cosim.datasets.load_dataset`` (IDX files under
``<data dir>/mnist`` and ``<data dir>/fashion-mnist``; the data dir is ``data_dir``, else
``$RRAMCOSIM_DATA_DIR``, else the cache, as ``cosim.datasets.resolve_data_dir``).
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from compact_model import cards
from cosim.datasets import load_dataset, resolve_data_dir
from cosim.provenance import versions
from cosim.metaplastic.network import Mode, SequenceResult, Task, TrainConfig, train_sequential
from cosim.metaplastic.rule import WeightQuantizer

logger = logging.getLogger(__name__)

__all__ = ["TaskKind", "ExperimentConfig", "run_sequential_experiment", "build_tasks", "write_csv",
           "memory_footprint", "footprint_ratio"]

N_PIXELS = 784


class TaskKind(enum.Enum):
    MNIST = "mnist"
    FASHION_MNIST = "fashion-mnist"
    PERMUTED_MNIST = "pmnist"  # MNIST with a fixed pixel permutation drawn from the seed


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentConfig:
    """A task sequence, trained once per (m, mode) with the same ``train`` settings."""

    tasks: tuple[TaskKind, ...] = (TaskKind.MNIST, TaskKind.FASHION_MNIST)  # in training order
    metas: tuple[float, ...] = (0.0, 8.0)  # 1 / hidden-weight units, m of each run
    modes: tuple[Mode, ...] = (Mode.SOFTWARE, Mode.DEVICE)
    train: TrainConfig = field(default_factory=TrainConfig)  # its meta, mode, seed are overridden
    card: str = "siox-literature"  # device model card (preset name) for Mode.DEVICE
    data_dir: str | None = None  # folder with mnist/ and fashion-mnist/; None: $RRAMCOSIM_DATA_DIR or the cache
    n_train: int | None = None  # training samples per task (None: all)
    n_test: int | None = None  # test samples per task (None: all)
    seed: int = 0  # training seed and permutation seeds

    def __post_init__(self) -> None:
        tasks, metas, modes = tuple(self.tasks), tuple(self.metas), tuple(self.modes)
        if not tasks or not all(isinstance(t, TaskKind) for t in tasks):
            raise ValueError(f"tasks must be a non-empty sequence of TaskKind, got {self.tasks!r}")
        if not metas or not all(isinstance(m, (int, float)) and math.isfinite(m) and m >= 0 for m in metas):
            raise ValueError(f"metas must be finite numbers >= 0, got {self.metas!r}")
        if not modes or not all(isinstance(m, Mode) for m in modes):
            raise ValueError(f"modes must be a non-empty sequence of Mode, got {self.modes!r}")
        if not isinstance(self.train, TrainConfig):
            raise ValueError("train must be a TrainConfig")
        for name in ("n_train", "n_test"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be None or an integer >= 1, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        object.__setattr__(self, "tasks", tasks)
        object.__setattr__(self, "metas", tuple(float(m) for m in metas))
        object.__setattr__(self, "modes", modes)


# ------------------------------------------------------------------------------------- data
def _load_split(name: str, root: Path, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset(name, split, data_dir=root, limit=limit)
    return data.images.reshape(len(data), -1).astype(np.float32), data.labels.astype(np.int64)


def build_tasks(config: ExperimentConfig) -> list[Task]:
    """The tasks of ``config`` as arrays (each data set read once)."""
    root = resolve_data_dir(config.data_dir)
    cache: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def data(folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if folder not in cache:
            cache[folder] = {"train": _load_split(folder, root, "train", config.n_train),
                             "test": _load_split(folder, root, "test", config.n_test)}
        return cache[folder]

    tasks = []
    for i, kind in enumerate(config.tasks):
        d = data("fashion-mnist" if kind is TaskKind.FASHION_MNIST else "mnist")
        (tx, ty), (vx, vy) = d["train"], d["test"]
        name = kind.value
        if kind is TaskKind.PERMUTED_MNIST:
            perm = np.random.default_rng([config.seed, i]).permutation(tx.shape[1])
            tx, vx = tx[:, perm], vx[:, perm]
            name = f"pmnist-{i}"
        tasks.append(Task(name=name, train_x=tx, train_y=ty, test_x=vx, test_y=vy))
    return tasks


# ---------------------------------------------------------------------------------- running
def _config_columns(train: TrainConfig) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for f in dataclasses.fields(train):
        value = getattr(train, f.name)
        if f.name == "device":
            cols.update({f"device_{g.name}": (v.value if isinstance(v, enum.Enum) else v)
                         for g in dataclasses.fields(value) for v in [getattr(value, g.name)]})
        else:
            cols[f.name] = value.value if isinstance(value, enum.Enum) else value
    return cols


def run_name(meta: float, mode: Mode) -> str:
    """The ``run`` label of the table: ``m=<m>/<mode>``."""
    return f"m={meta:g}/{mode.value}"


def run_sequential_experiment(config: ExperimentConfig, *, tasks: Sequence[Task] | None = None,
                              progress: Callable[[], None] | None = None,
                              on_result: Callable[[str, SequenceResult], None] | None = None,
                              ) -> list[dict[str, Any]]:
    """Train every (m, mode) run on the task sequence; the tidy accuracy table.

    ``tasks`` replaces the data of ``config.tasks`` (e.g. small generated arrays in tests).
    Rows: run, after_task_index/after_task, eval_task_index/eval_task, accuracy, the run's
    configuration columns, runtime_s, device counters (DEVICE mode), versions.
    ``progress`` is called after every training epoch, ``on_result(run, result)`` after every
    run (to keep a trained network, e.g. for a SPICE check).
    """
    if tasks is None:
        tasks = build_tasks(config)
    card = cards.load_preset(config.card) if Mode.DEVICE in config.modes else None
    record = versions()
    rows: list[dict[str, Any]] = []
    for meta in config.metas:
        for mode in config.modes:
            train = dataclasses.replace(config.train, meta=meta, mode=mode, seed=config.seed)
            logger.info("run m=%g mode=%s", meta, mode.value)
            result = train_sequential(tasks, train, card=card, progress=progress)
            run = run_name(meta, mode)
            if on_result is not None:
                on_result(run, result)
            for i, after in enumerate(result.task_names):
                for j, evaluated in enumerate(result.task_names):
                    rows.append({"run": run, "after_task_index": i, "after_task": after,
                                 "eval_task_index": j, "eval_task": evaluated,
                                 "accuracy": float(result.accuracy[i, j]),
                                 **_config_columns(train), "card": config.card if card else "",
                                 "n_train": len(tasks[j].train_y), "n_test": len(tasks[j].test_y),
                                 "runtime_s": round(result.runtime_s, 3), **result.write_stats,
                                 **record})
    return rows


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the table (columns: the union of the rows' keys, first-seen order) atomically."""
    rows = list(rows)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
    return out


# -------------------------------------------------------------------------- memory footprint
def memory_footprint(layer_shapes: Sequence[tuple[int, int]], n_levels: int, *,
                     hidden_bits: int = 32) -> dict[str, int]:
    """Stored state of a metaplastic network with weight matrices ``layer_shapes`` (out, in).

    Digital memory: one hidden weight of ``hidden_bits`` per weight (the metaplastic state
    must be high precision). Analog memory: the quantised weight, ceil(log2 k) bits of
    information per weight, held by a differential pair (2 devices). Batch-norm statistics
    are not counted (a few hundred numbers per task, the same for both variants).
    """
    if isinstance(hidden_bits, bool) or not isinstance(hidden_bits, int) or hidden_bits < 1:
        raise ValueError(f"hidden_bits must be an integer >= 1, got {hidden_bits!r}")
    n_w = sum(int(o) * int(i) for o, i in layer_shapes)
    q = WeightQuantizer(n_levels=n_levels)
    digital, analog = n_w * hidden_bits, n_w * q.bits
    return {"weights": n_w, "devices": 2 * n_w, "hidden_bits": digital, "device_bits": analog,
            "total_bits": digital + analog}


def footprint_ratio(binary_hidden: int, quantized_hidden: int, n_levels: int, *, n_in: int = N_PIXELS,
                    n_out: int = 10, hidden_bits: int = 32) -> float:
    """Total bits of a binarised n_in-binary_hidden-n_out network over those of a k-level
    n_in-quantized_hidden-n_out one (same hidden-weight precision)."""
    b = memory_footprint([(binary_hidden, n_in), (n_out, binary_hidden)], 2, hidden_bits=hidden_bits)
    q = memory_footprint([(quantized_hidden, n_in), (n_out, quantized_hidden)], n_levels,
                         hidden_bits=hidden_bits)
    return b["total_bits"] / q["total_bits"]
