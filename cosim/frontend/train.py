"""Training of the convolutional front end in torch (``train_frontend``).

Class filters (CF), one per trained class by default, learn one-vs-all: binary cross-entropy
on sigmoid((global max - V_REF) / T). Feature filters (FF) learn through a temporary softmax
head over the trained classes, fed with their bits (hard in the forward pass, sigmoid gradient
backwards, when ``hard_bits``); the head is dropped afterwards. V_REF is a learned parameter.
After the float epochs, quantisation-aware epochs (straight-through fake quantisation) adapt
the weights to ``bits``, and V_REF is re-calibrated for the quantised weights. Those stages
are ``fit_filters``, public so that ``cosim.retraining`` re-trains some filters the same way.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from cosim.filters import FilterBank, FilterKind, dequantize
from cosim.frontend.config import TrainConfig, VrefMatch, as_plain_dict
from cosim.frontend.model import FrontEndNet, image_tensor, pooled_responses
from cosim.frontend.quant import quantize_levels
from cosim.frontend.thresholds import match_thresholds

logger = logging.getLogger(__name__)

_V_REF_INIT_IMAGES = 512  # images whose median pooled response starts each V_REF


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TrainedFrontEnd:
    """A trained filter bank: float weights, quantised levels, thresholds, provenance."""

    weights: np.ndarray  # float32 (F, C, s, s), the ideal (float) weights after the float epochs
    v_ref_float: np.ndarray  # (F,), learned V_REF of the float weights (weight x pixel units)
    levels: np.ndarray  # int16 (F, C, s, s), signed levels of the quantised weights
    scale: np.ndarray  # (F,), weight units per level (quantised weight = level * scale)
    v_ref: np.ndarray  # (F,), V_REF of the quantised weights, re-calibrated (weight x pixel)
    kinds: tuple[FilterKind, ...]  # per filter: CLASS first, then FEATURE
    classes: tuple[int | None, ...]  # the class of each class filter, None for feature filters
    trained_classes: tuple[int, ...]  # labels the filters were trained on
    config: TrainConfig
    history: tuple[dict[str, float | int | str], ...] = ()  # per epoch: stage, loss, time
    provenance: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float32)
        if w.ndim != 4 or w.shape[2] != w.shape[3]:
            raise ValueError(f"weights must have shape (F, C, s, s), got {w.shape}")
        f = w.shape[0]
        lev = np.asarray(self.levels, dtype=np.int16)
        if lev.shape != w.shape:
            raise ValueError(f"levels must have the weights' shape {w.shape}, got {lev.shape}")
        arrays = {}
        for name in ("v_ref_float", "scale", "v_ref"):
            a = np.array(getattr(self, name), dtype=np.float64)
            if a.shape != (f,) or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite with shape ({f},), got {a.shape}")
            arrays[name] = a
        if len(self.kinds) != f or len(self.classes) != f:
            raise ValueError(f"kinds and classes need {f} entries each")
        object.__setattr__(self, "weights", _ro(w.copy()))
        object.__setattr__(self, "levels", _ro(lev.copy()))
        for name, a in arrays.items():
            object.__setattr__(self, name, _ro(a))
        object.__setattr__(self, "history", tuple(dict(h) for h in self.history))

    @property
    def n_filters(self) -> int:
        return int(self.weights.shape[0])

    @property
    def channels(self) -> int:
        return int(self.weights.shape[1])

    @property
    def size(self) -> int:
        return int(self.weights.shape[2])

    @property
    def n_class_filters(self) -> int:
        return sum(k is FilterKind.CLASS for k in self.kinds)

    @property
    def cf_classes(self) -> tuple[int, ...]:
        return tuple(int(c) for c in self.classes[:self.n_class_filters])  # type: ignore[arg-type]

    def quantized_weights(self) -> np.ndarray:
        """Level x scale, float64 (F, C, s, s)."""
        return dequantize(self.levels.reshape(self.n_filters, -1, 1), self.scale).reshape(self.levels.shape)

    def filter_bank(self, *, quantized: bool = True) -> FilterBank:
        """The bank as a ``cosim.filters.FilterBank`` (single-channel filters only).

        ``quantized``: level x scale with the re-calibrated V_REF (re-quantising it with the
        same bits and coding gives back ``levels``); else the float weights and their V_REF.
        """
        if self.channels != 1:
            raise ValueError(f"FilterBank holds single-channel filters; this bank has {self.channels}")
        w = self.quantized_weights() if quantized else self.weights
        return FilterBank(weights=w[:, 0], v_ref=self.v_ref if quantized else self.v_ref_float,
                          kinds=self.kinds, classes=self.classes,
                          provenance=self.provenance + ("; quantised" if quantized else "; float"))


def _prepare(images: Any, labels: Any, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    img = np.asarray(images, dtype=np.float32)
    lab = np.asarray(labels).astype(np.int64)
    if img.ndim not in (3, 4) or lab.shape != (img.shape[0],) or img.shape[0] == 0:
        raise ValueError(f"images (n, H, W[, C]) and labels (n,) expected, got {img.shape}, {lab.shape}")
    if img.shape[1] < cfg.size or img.shape[2] < cfg.size:
        raise ValueError(f"TrainConfig.size={cfg.size}: the filters are larger than the "
                         f"{img.shape[1]}x{img.shape[2]} images")
    seen = sorted(set(lab.tolist()))
    tc = tuple(seen) if cfg.trained_classes is None else cfg.trained_classes
    unknown = [c for c in tc if c not in seen]
    if unknown:
        raise ValueError(f"TrainConfig.trained_classes: class(es) {unknown} have no images "
                         f"(labels present: {seen})")
    if len(tc) < 2:
        raise ValueError(f"TrainConfig.trained_classes: need at least 2 trained classes, got {tc}")
    if cfg.n_filters < (len(tc) if cfg.n_class_filters is None else cfg.n_class_filters):
        raise ValueError(f"TrainConfig.n_filters={cfg.n_filters} cannot hold one class filter per "
                         f"trained class ({len(tc)})")
    if cfg.n_class_filters is not None and cfg.n_class_filters > len(tc):
        raise ValueError(f"TrainConfig.n_class_filters={cfg.n_class_filters} exceeds the "
                         f"{len(tc)} trained classes")
    keep = np.isin(lab, tc)
    return img[keep], np.searchsorted(np.asarray(sorted(tc)), lab[keep]), tc


def _shift(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    """Each image translated by its own random (dy, dx) in [-s, s]^2, zeros shifted in."""
    if s == 0:
        return x
    n, c, h, w = x.shape
    xp = F.pad(x, (s, s, s, s))
    dy = torch.randint(0, 2 * s + 1, (n,), generator=g)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    return xp[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def _loss(net: FrontEndNet, x: torch.Tensor, y: torch.Tensor, cf_target: torch.Tensor,
          cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    pooled = net.pooled(x, cfg.pool)
    z = (pooled - net.v_ref_like(pooled)) / cfg.temperature
    glob = z if z.ndim == 2 else z.amax(dim=(2, 3))
    n_cf = net.n_cf
    loss = x.new_zeros(())
    if n_cf:
        loss = loss + F.binary_cross_entropy_with_logits(glob[:, :n_cf], cf_target[y])
    if net.weight.shape[0] > n_cf and cfg.ff_head_weight > 0:
        soft = torch.sigmoid(z[:, n_cf:])
        bits = ((soft > 0.5).to(soft.dtype) + soft - soft.detach()) if cfg.hard_bits else soft
        loss = loss + cfg.ff_head_weight * F.cross_entropy(net.head(bits.flatten(1)), y)
    return loss, glob


def _run_stage(net: FrontEndNet, x: torch.Tensor, y: torch.Tensor, cf_target: torch.Tensor,
               cfg: TrainConfig, *, stage: str, epochs: int, lr: float, g: torch.Generator,
               history: list[dict[str, Any]], progress: Callable[[str, int], None] | None) -> None:
    if epochs == 0:
        return
    params = [{"params": [net.weight], "weight_decay": cfg.weight_decay},
              {"params": [net.v_ref, *net.head.parameters()], "weight_decay": 0.0}]
    opt = torch.optim.Adam(params, lr=lr)
    steps = epochs * math.ceil(x.shape[0] / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * cfg.lr_final_fraction)
    cf_classes = torch.arange(net.n_cf)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(x.shape[0], generator=g)
        total, correct, n_seen = 0.0, 0, 0
        for start in range(0, x.shape[0], cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            xb, yb = _shift(x[idx], cfg.augment_shift, g), y[idx]
            loss, glob = _loss(net, xb, yb, cf_target, cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * idx.numel()
            n_seen += idx.numel()
            if net.n_cf:
                correct += int((cf_classes[glob[:, :net.n_cf].argmax(dim=1)] == yb).sum())
        row = {"stage": stage, "epoch": epoch, "loss": total / n_seen,
               "train_cf_accuracy": correct / n_seen if net.n_cf else float("nan"),
               "seconds": time.perf_counter() - t0}
        history.append(row)
        logger.info("%s epoch %d: loss %.4f, CF train accuracy %.4f (%.1f s)", stage, epoch,
                    row["loss"], row["train_cf_accuracy"], row["seconds"])
        if progress:
            progress(stage, epoch)


def train_frontend(images: Any, labels: Any, config: TrainConfig | None = None, *,
                   progress: Callable[[str, int], None] | None = None) -> TrainedFrontEnd:
    """Train a front end on ``images`` (n, H, W) or (n, H, W, C) in [0, 1] with ``labels``.

    Only images of ``config.trained_classes`` are used. Deterministic for a given config and
    torch thread count (torch's own thread setting is respected, never changed here).
    """
    cfg = TrainConfig() if config is None else config
    img, y_np, tc = _prepare(images, labels, cfg)
    n_cf = len(tc) if cfg.n_class_filters is None else cfg.n_class_filters
    n_ff = cfg.n_filters - n_cf
    cf_cls = tuple(sorted(tc)[:n_cf])
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    x, y = image_tensor(img), torch.from_numpy(y_np)
    side_y, side_x = x.shape[2] - cfg.size + 1, x.shape[3] - cfg.size + 1
    windows = 1 if cfg.pool is None else math.ceil(side_y / cfg.pool) * math.ceil(side_x / cfg.pool)
    net = FrontEndNet(n_filters=cfg.n_filters, channels=x.shape[1], size=cfg.size, n_class_filters=n_cf,
                      n_head_inputs=n_ff * windows, n_classes=len(tc), init_std=cfg.init_std, generator=g)
    cf_target = torch.zeros((len(tc), max(n_cf, 1)))
    cf_target[torch.arange(n_cf), torch.arange(n_cf)] = 1.0  # row: trained-class index; col: CF
    cf_target = cf_target[:, :n_cf]
    with torch.no_grad():  # start each filter firing on about half of the images
        first = net.pooled(x[torch.randperm(x.shape[0], generator=g)[:_V_REF_INIT_IMAGES]], cfg.pool)
        net.v_ref.copy_(first.transpose(0, 1).reshape(cfg.n_filters, -1).median(dim=1).values)
    logger.info("training %d CF + %d FF (%dx%dx%d) on %d images of classes %s", n_cf, n_ff, cfg.size,
                cfg.size, x.shape[1], x.shape[0], list(tc))
    fit = fit_filters(net, x, y, cf_target, cfg, g, progress=progress)
    kinds = (FilterKind.CLASS,) * n_cf + (FilterKind.FEATURE,) * n_ff
    provenance = (f"cosim.frontend.train_frontend: {n_cf} class + {n_ff} feature filters trained on "
                  f"{x.shape[0]} images of classes {list(tc)}, {cfg.epochs} float + {cfg.qat_epochs} "
                  f"QAT epochs, {cfg.bits}-bit {cfg.coding.value} levels, seed {cfg.seed}; V_REF "
                  f"re-calibrated ({cfg.recalibration.value}) on {fit.calibration_images} training images")
    return TrainedFrontEnd(weights=fit.weights, v_ref_float=fit.v_ref_float, levels=fit.levels, scale=fit.scale,
                           v_ref=fit.v_ref, kinds=kinds, classes=cf_cls + (None,) * n_ff,
                           trained_classes=tuple(tc), config=cfg, history=fit.history, provenance=provenance)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FilterFit:
    """What ``fit_filters`` returns for the filters of its net (same order)."""

    weights: np.ndarray  # float32 (F, C, s, s), after the float epochs
    v_ref_float: np.ndarray  # (F,), learned V_REF of the float weights
    levels: np.ndarray  # int16 (F, C, s, s)
    scale: np.ndarray  # (F,), weight units per level
    v_ref: np.ndarray  # (F,), V_REF re-calibrated for the quantised weights
    history: tuple[dict[str, Any], ...]  # per epoch: stage, loss, time
    calibration_images: int  # images the V_REF re-calibration used


def fit_filters(net: FrontEndNet, x: torch.Tensor, y: torch.Tensor, cf_target: torch.Tensor, cfg: TrainConfig,
                g: torch.Generator, *, progress: Callable[[str, int], None] | None = None) -> FilterFit:
    """Train the filters of ``net`` on images ``x`` (n, C, H, W) with class indices ``y`` (n,):
    ``cfg.epochs`` float epochs, ``cfg.qat_epochs`` quantisation-aware ones, quantisation to
    ``cfg.bits`` and V_REF re-calibrated (``cfg.recalibration``) on ``cfg.calibration_images``
    of ``x``. The first ``net.n_cf`` filters learn one-vs-all: ``cf_target`` (n_classes, n_cf)
    holds 1 where a filter should fire for a class; the others learn through ``net.head``.
    ``net``'s parameters are trained in place; ``g`` draws the order, shifts and calibration set.
    (``train_frontend`` uses it for a whole bank, ``cosim.retraining`` for some filters.)"""
    history: list[dict[str, Any]] = []
    _run_stage(net, x, y, cf_target, cfg, stage="float", epochs=cfg.epochs, lr=cfg.lr, g=g,
               history=history, progress=progress)
    w_float = net.weight.detach().numpy().copy()
    v_float = net.v_ref.detach().double().numpy().copy()
    net.max_level = cfg.max_level
    _run_stage(net, x, y, cf_target, cfg, stage="qat", epochs=cfg.qat_epochs, lr=cfg.lr * cfg.qat_lr_fraction,
               g=g, history=history, progress=progress)
    levels, scale = quantize_levels(net.weight.detach().numpy(), cfg.bits, cfg.coding)
    q = levels * scale[:, None, None, None]
    # V_REF for the quantised weights: the reference is the model as trained last (the float
    # one after post-training quantisation, the fake-quantised one after QAT).
    cal_idx = np.sort(torch.randperm(x.shape[0], generator=g)[:cfg.calibration_images].numpy())
    cal = x[torch.from_numpy(cal_idx)].permute(0, 2, 3, 1).numpy()  # channels-last, as pooled_responses reads
    if cfg.qat_epochs:
        ref_w, ref_v = q, net.v_ref.detach().double().numpy()
    else:
        ref_w, ref_v = w_float, v_float
    new = pooled_responses(q, cal, cfg.pool)
    v_q = match_thresholds(pooled_responses(ref_w, cal, cfg.pool), ref_v, new, cfg.recalibration)
    return FilterFit(weights=w_float, v_ref_float=v_float, levels=levels, scale=scale, v_ref=v_q,
                     history=tuple(history), calibration_images=len(cal_idx))


def requantize(front: TrainedFrontEnd, images: Any, *, bits: int, coding: Any = None,
               how: VrefMatch | None = None) -> TrainedFrontEnd:
    """Post-training quantisation of the float weights to other ``bits`` (Fig. 5 sweeps), with
    V_REF re-calibrated against the float filters on ``images`` (calibration images)."""
    cfg = replace(front.config, bits=bits, qat_epochs=0, epochs=max(front.config.epochs, 1),
                  **({} if coding is None else {"coding": coding}),
                  **({} if how is None else {"recalibration": how}))
    levels, scale = quantize_levels(front.weights, cfg.bits, cfg.coding)
    q = levels * scale[:, None, None, None]
    old = pooled_responses(front.weights, images, cfg.pool)
    v_q = match_thresholds(old, front.v_ref_float, pooled_responses(q, images, cfg.pool), cfg.recalibration)
    return replace(front, levels=levels, scale=scale, v_ref=v_q, config=cfg,
                   provenance=front.provenance + f"; re-quantised after training to {bits} bits")


def config_summary(front: TrainedFrontEnd) -> dict[str, Any]:
    """The training config as JSON-ready values."""
    return as_plain_dict(front.config)
