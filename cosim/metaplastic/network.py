"""A two-layer quantised perceptron trained with the metaplastic rule, in software or on devices.

Network (as Laborieux et al.'s BNN, reduced to one hidden layer): x (784) -> W1 -> batch norm
-> activation -> W2 -> batch norm -> 10 logits. W1, W2 are the HIDDEN weights (digital
memory); the forward pass uses their quantised values (``rule.WeightQuantizer``) through a
straight-through estimator, so the gradient reaches the hidden weights unchanged. Batch norms
have no affine parameters: every trained parameter is a metaplastic hidden weight.

Modes:

* ``Mode.SOFTWARE``: ideal quantised weights.
* ``Mode.DEVICE``: each layer's weights live in a ``devices.DeviceArray`` of differential
  pairs (2, out, in); the forward pass uses (G+ - G-) read from the devices (read noise at
  every read) scaled by the nominal level step. After every ``program_interval`` steps the
  hidden weights are re-quantised and only the devices whose level changed are re-programmed
  (with write-verify), so the write counters are those of on-chip training.

Batch-norm statistics: with ``bn_per_task`` the running statistics are saved at the end of
each task and restored to evaluate that task (MNIST and Fashion-MNIST inputs have different
statistics; they are 2 x (hidden + 10) numbers per task, not weights). The task identity is
then needed at test time; ``bn_per_task=False`` gives a task-agnostic network.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from compact_model.params import ModelCard
from cosim.metaplastic.devices import DeviceArray, DeviceConfig, proportional_levels
from cosim.metaplastic.rule import MetaplasticAdam, MetaplasticSGD, WeightQuantizer, round_to_fixed_point

logger = logging.getLogger(__name__)

__all__ = ["Activation", "OptimizerKind", "Mode", "TrainConfig", "Task", "SequenceResult",
           "QuantizedMLP", "DeviceWeights", "train_sequential"]


class Activation(enum.Enum):
    SIGN = "sign"  # binary activations, straight-through gradient in |x| < 1 (BNN)
    HARDTANH = "hardtanh"  # clip to [-1, 1]


class OptimizerKind(enum.Enum):
    ADAM = "adam"
    SGD = "sgd"


class Mode(enum.Enum):
    SOFTWARE = "software"  # ideal quantised weights
    DEVICE = "device"  # weights read from programmed RRAM pairs


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _finite(value: Any, name: str, *, minimum: float = 0.0, strict: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= minimum if strict else value < minimum):
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {rel} {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """One network, one optimiser, one mode: what ``train_sequential`` runs."""

    hidden: int = 256  # neurons in the hidden layer
    n_levels: int = 15  # 1, quantised weight values k (2 = binarised, Laborieux)
    w_range: float = 0.25  # hidden-weight units mapped to the extreme weight value
    init_range: float = 0.1  # hidden-weight units, uniform initialisation in [-init, init]
    meta: float = 0.0  # 1 / hidden-weight units, metaplasticity m (0: plain optimiser)
    optimizer: OptimizerKind = OptimizerKind.ADAM
    # hidden-weight units per step (Adam: per normalised step); 0.005 is Laborieux et al.'s value
    # (SynapticMetaplasticityBNN README, every MNIST / Fashion-MNIST run).
    lr: float = 5e-3
    momentum: float = 0.0  # 1, SGD momentum
    batch_size: int = 100  # samples per step
    epochs_per_task: int = 5  # passes over each task's training set
    activation: Activation = Activation.HARDTANH
    bn_per_task: bool = True  # keep and restore batch-norm statistics per task
    # Learned batch-norm scale and shift (digital, plain Adam, no metaplasticity; saved and
    # restored per task with the statistics when bn_per_task). Laborieux et al.'s BNN uses
    # affine batch norm (SynapticMetaplasticityBNN, models_utils.BNN: BatchNorm1d(affine=True)).
    bn_affine: bool = False
    # A fresh optimiser (Adam moments reset) at the start of every task, as Laborieux et al.'s
    # continual-learning main.py builds a new Adam_meta per task.
    reset_optimizer: bool = False
    # Digital storage of the hidden weights: 0 = float32; b >= 2 = b-bit fixed point spanning
    # [-hidden_max, hidden_max], rounded after every step (rule.round_to_fixed_point).
    hidden_bits: int = 0
    hidden_max: float = 1.0  # hidden-weight units, range of the fixed-point hidden weights
    mode: Mode = Mode.SOFTWARE
    program_interval: int = 1  # steps between device re-programming (DEVICE mode)
    device: DeviceConfig = field(default_factory=DeviceConfig)  # DEVICE mode
    seed: int = 0  # every draw: initialisation, shuffling, devices, noise

    def __post_init__(self) -> None:
        for name in ("hidden", "n_levels", "batch_size", "epochs_per_task", "program_interval"):
            _positive_int(getattr(self, name), name)
        if self.n_levels < 2:
            raise ValueError(f"n_levels must be >= 2, got {self.n_levels}")
        if isinstance(self.hidden_bits, bool) or not isinstance(self.hidden_bits, int) or \
                self.hidden_bits < 0 or self.hidden_bits == 1:
            raise ValueError(f"hidden_bits must be 0 (float32) or an integer >= 2, got {self.hidden_bits!r}")
        for name in ("w_range", "init_range", "lr", "hidden_max"):
            _finite(getattr(self, name), name)
        for name in ("meta", "momentum"):
            _finite(getattr(self, name), name, strict=False)
        if self.n_levels % 2 and self.init_range <= self.w_range / (self.n_levels - 1):
            # Every weight would start at level 0: zero activations, zero gradients, no learning.
            raise ValueError(f"init_range must exceed the first quantisation threshold "
                             f"w_range / (n_levels - 1) = {self.w_range / (self.n_levels - 1):g}, "
                             f"got {self.init_range}")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {self.momentum}")
        for name, kind in (("optimizer", OptimizerKind), ("activation", Activation), ("mode", Mode)):
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        for name in ("bn_per_task", "bn_affine", "reset_optimizer"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.device, DeviceConfig):
            raise ValueError("device must be a DeviceConfig")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    @property
    def quantizer(self) -> WeightQuantizer:
        return WeightQuantizer(n_levels=self.n_levels, w_range=self.w_range)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Task:
    """One task's data as arrays: images flattened to (n, features) float32, labels int64."""

    name: str  # e.g. "mnist", "fashion-mnist", "pmnist-1"
    train_x: np.ndarray  # (n_train, features), pixel intensities in [0, 1]
    train_y: np.ndarray  # (n_train,) class indices
    test_x: np.ndarray  # (n_test, features)
    test_y: np.ndarray  # (n_test,)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x = np.asarray(getattr(self, f"{split}_x"), dtype=np.float32)
            y = np.asarray(getattr(self, f"{split}_y"), dtype=np.int64)
            if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
                raise ValueError(f"{split}_x must be (n, features) and {split}_y (n,), n >= 1; "
                                 f"got {x.shape}, {y.shape}")
            object.__setattr__(self, f"{split}_x", x)
            object.__setattr__(self, f"{split}_y", y)
        if self.train_x.shape[1] != self.test_x.shape[1]:
            raise ValueError("train_x and test_x must have the same number of features")


def _sign_ste(x: torch.Tensor) -> torch.Tensor:
    """sign(x) forward; gradient 1 in |x| < 1, 0 outside (hardtanh's), as in BNNs."""
    clipped = torch.nn.functional.hardtanh(x)
    return clipped + (torch.where(x >= 0, 1.0, -1.0).to(x.dtype) - clipped).detach()


class QuantizedMLP(nn.Module):
    """n_in -> hidden -> n_out with quantised weights (hidden weights ``w1``, ``w2``)."""

    LAYERS = ("w1", "w2")

    def __init__(self, n_in: int, hidden: int, n_out: int, quantizer: WeightQuantizer,
                 activation: Activation, *, init_range: float, generator: torch.Generator,
                 bn_affine: bool = False) -> None:
        super().__init__()
        self.quantizer, self.activation = quantizer, activation
        self.w1 = nn.Parameter(torch.empty(hidden, n_in).uniform_(-init_range, init_range,
                                                                  generator=generator))
        self.w2 = nn.Parameter(torch.empty(n_out, hidden).uniform_(-init_range, init_range,
                                                                   generator=generator))
        self.bn1 = nn.BatchNorm1d(hidden, affine=bn_affine)
        self.bn2 = nn.BatchNorm1d(n_out, affine=bn_affine)
        self.device_weights: dict[str, torch.Tensor] | None = None  # DEVICE mode: read weights

    def effective_weight(self, name: str) -> torch.Tensor:
        """The weight the forward pass uses, with a straight-through gradient to the hidden one."""
        hidden = getattr(self, name)
        used = (self.device_weights[name] if self.device_weights is not None
                else self.quantizer.quantize(hidden))
        return hidden + (used - hidden).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn1(x @ self.effective_weight("w1").T)
        h = _sign_ste(h) if self.activation is Activation.SIGN else torch.nn.functional.hardtanh(h)
        return self.bn2(h @ self.effective_weight("w2").T)

    def bn_parameters(self) -> list[nn.Parameter]:
        """The learned batch-norm scales and shifts (empty without ``bn_affine``)."""
        return [p for bn in (self.bn1, self.bn2) for p in bn.parameters()]

    def bn_state(self) -> dict[str, torch.Tensor]:
        """Batch-norm statistics and, when affine, scales and shifts (copies)."""
        names = ("running_mean", "running_var", "weight", "bias")
        return {f"{bn}.{s}": getattr(getattr(self, bn), s).detach().clone()
                for bn in ("bn1", "bn2") for s in names if getattr(getattr(self, bn), s) is not None}

    @torch.no_grad()
    def load_bn_state(self, state: dict[str, torch.Tensor]) -> None:
        for key, value in state.items():
            bn, s = key.split(".")
            getattr(getattr(self, bn), s).copy_(value)


class DeviceWeights:
    """The network's layers in RRAM pairs: ``arrays[name]`` of shape (2, out, in)."""

    def __init__(self, model: QuantizedMLP, card: ModelCard, config: DeviceConfig, *, seed: int) -> None:
        q = model.quantizer
        self.table = proportional_levels(card, q.device_levels, i_c_max=config.i_c_max,
                                         v_stop=config.v_stop)
        self.unit = q.unit
        self.arrays = {name: DeviceArray((2, *getattr(model, name).shape), self.table, card, config,
                                         seed=seed + i)
                       for i, name in enumerate(QuantizedMLP.LAYERS)}
        self.last_reports: list[Any] = []  # ProgramReport per layer of the latest sync

    def sync(self, model: QuantizedMLP, rng: np.random.Generator) -> None:
        """Re-program the devices whose level differs from the quantised hidden weights."""
        reports = []
        for name, arr in self.arrays.items():
            lev = model.quantizer.signed_levels(getattr(model, name).detach()).numpy()
            reports.append(arr.program(np.stack([np.maximum(lev, 0), np.maximum(-lev, 0)]), rng))
        self.last_reports = reports

    def weights(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Weights read from the devices: (G+ - G-) / step * unit (read noise from ``rng``)."""
        out = {}
        for name, arr in self.arrays.items():
            g = arr.read(rng)
            out[name] = torch.from_numpy((g[0] - g[1]) / arr.g_step * self.unit).float()
        return out

    def write_stats(self) -> dict[str, float]:
        writes = np.concatenate([a.writes for a in self.arrays.values()])
        return {"device_writes_total": int(writes.sum()), "device_writes_max": int(writes.max()),
                "device_writes_mean": float(writes.mean()),
                "device_pulses": int(sum(a.pulses for a in self.arrays.values())),
                "device_unverified": int(sum(a.unverified for a in self.arrays.values())),
                "device_worn": int(sum(int(a.worn.sum()) for a in self.arrays.values()))}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SequenceResult:
    """Accuracy of every task after every task, and what training cost."""

    task_names: tuple[str, ...]
    accuracy: np.ndarray  # 1, (after task i, evaluated on task j), fraction correct
    runtime_s: float  # s, wall time of training and evaluation
    write_stats: dict[str, float]  # device counters (DEVICE mode; empty otherwise)
    model: QuantizedMLP
    devices: DeviceWeights | None


def _evaluate(model: QuantizedMLP, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            out = model(torch.from_numpy(x[s:s + batch]))
            correct += int((out.argmax(1) == torch.from_numpy(y[s:s + batch])).sum())
    model.train()
    return correct / len(x)


def _optimizer(model: QuantizedMLP, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The hidden weights with metaplasticity m; batch-norm parameters (if any) without."""
    groups: list[dict[str, Any]] = [{"params": [model.w1, model.w2], "meta": cfg.meta}]
    if model.bn_parameters():
        groups.append({"params": model.bn_parameters(), "meta": 0.0})
    if cfg.optimizer is OptimizerKind.ADAM:
        return MetaplasticAdam(groups, lr=cfg.lr, meta=cfg.meta)
    return MetaplasticSGD(groups, lr=cfg.lr, momentum=cfg.momentum, meta=cfg.meta)


@torch.no_grad()
def _store_hidden(model: QuantizedMLP, cfg: TrainConfig) -> None:
    """Round the hidden weights to their digital storage format (nothing for float32)."""
    if cfg.hidden_bits:
        for name in QuantizedMLP.LAYERS:
            w = getattr(model, name)
            w.copy_(round_to_fixed_point(w, cfg.hidden_bits, cfg.hidden_max))


def train_sequential(tasks: Sequence[Task], cfg: TrainConfig, *, card: ModelCard | None = None,
                     n_classes: int | None = None,
                     progress: Callable[[], None] | None = None) -> SequenceResult:
    """Train on ``tasks`` one after the other; after each, test on every task.

    ``card`` is required in ``Mode.DEVICE``. ``n_classes`` defaults to max label + 1 over all
    tasks. ``progress`` is called after every epoch.
    """
    if not tasks:
        raise ValueError("tasks must not be empty")
    if cfg.mode is Mode.DEVICE and card is None:
        raise ValueError("Mode.DEVICE needs the model card of the devices (card=)")
    t0 = time.perf_counter()
    n_in = tasks[0].train_x.shape[1]
    if any(t.train_x.shape[1] != n_in for t in tasks):
        raise ValueError("every task must have the same number of input features")
    n_out = n_classes or int(max(max(t.train_y.max(), t.test_y.max()) for t in tasks)) + 1
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1_000_003)  # device C2C and read noise
    model = QuantizedMLP(n_in, cfg.hidden, n_out, cfg.quantizer, cfg.activation,
                         init_range=cfg.init_range, generator=gen, bn_affine=cfg.bn_affine)
    _store_hidden(model, cfg)
    opt = _optimizer(model, cfg)
    devices = None
    if cfg.mode is Mode.DEVICE:
        assert card is not None
        devices = DeviceWeights(model, card, cfg.device, seed=cfg.seed + 7)
        devices.sync(model, rng)
    loss_fn = nn.CrossEntropyLoss()
    acc = np.full((len(tasks), len(tasks)), np.nan)
    bn_states: list[dict[str, torch.Tensor]] = []
    step = 0
    for i, task in enumerate(tasks):
        if cfg.reset_optimizer and i > 0:
            opt = _optimizer(model, cfg)
        x_all, y_all = torch.from_numpy(task.train_x), torch.from_numpy(task.train_y)
        for epoch in range(cfg.epochs_per_task):
            order = torch.randperm(len(x_all), generator=gen)
            for s in range(0, len(order), cfg.batch_size):
                idx = order[s:s + cfg.batch_size]
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                if devices is not None:
                    model.device_weights = devices.weights(rng)
                loss = loss_fn(model(x_all[idx]), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                _store_hidden(model, cfg)
                step += 1
                if devices is not None and step % cfg.program_interval == 0:
                    devices.sync(model, rng)
            logger.info("task %s epoch %d: loss %.4f", task.name, epoch + 1, float(loss.detach()))
            if progress is not None:
                progress()
        if devices is not None:
            devices.sync(model, rng)
            model.device_weights = devices.weights(rng)  # one read for the whole evaluation
        bn_states.append(model.bn_state())
        current = model.bn_state()
        for j, other in enumerate(tasks):
            if cfg.bn_per_task and j < len(bn_states):
                model.load_bn_state(bn_states[j])
            acc[i, j] = _evaluate(model, other.test_x, other.test_y)
        model.load_bn_state(current)
        logger.info("after %s: %s", task.name, np.round(acc[i], 4).tolist())
    model.device_weights = None
    stats = devices.write_stats() if devices is not None else {}
    return SequenceResult(task_names=tuple(t.name for t in tasks), accuracy=acc,
                          runtime_s=time.perf_counter() - t0, write_stats=stats, model=model,
                          devices=devices)
