"""Re-training of silent feature filters from the A-STDP clusters (paper item 7, Figs. 12-14).

In continual learning the front end never saw some classes. Feature filters (FF) that almost
never fire carry no information; they are re-trained, one-vs-all, on the images of the
clusters the unsupervised A-STDP layer formed: each image's pseudo-label is the label of the
neuron that won it (the cluster), never its true label. Class filters (CF) and the other FFs
keep their weights and V_REF bit for bit.

* ``filter_appearance``: per filter, the fraction of images whose bit is 1 (optionally per class).
* ``RetrainConfig`` and ``retrain_filters(front, images, cluster_labels, config)`` -> a new
  ``TrainedFrontEnd`` and a ``RetrainReport`` (which filters, which cluster, appearance
  before/after on the re-training images). Training, 4-bit quantisation and V_REF
  re-calibration are ``cosim.frontend.train.fit_filters``, as for the whole bank.
* ``run_retraining(ClassificationConfig, RetrainConfig)``: continual classification ->
  cluster labels of the learning stream -> re-training -> new feature maps -> classification
  again; tidy rows (accuracy per phase, appearance per filter and phase) and a JSON record.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compact_model.atomic import write_text_atomic
from cosim.classifier import predict
from cosim.filters import FilterKind
from cosim.provenance import file_sha256, plain, versions

logger = logging.getLogger(__name__)

_V_REF_INIT_IMAGES = 512  # re-training images whose median pooled response starts each V_REF


class RetrainTargets(enum.Enum):
    """Which clusters the silent filters learn to detect."""

    # clusters labelled with a class the front end was not trained on (the continual-learning
    # classes); every cluster when the layer found none of them
    NEW = "new"
    ALL = "all"  # every cluster the layer formed


def filter_appearance(bits: Any, labels: Any = None, *, classes: Sequence[int] | None = None,
                      n_filters: int | None = None) -> np.ndarray:
    """Appearance rate: per filter, the fraction of images whose bit is 1.

    ``bits``: (n, B) of 0/1. With ``n_filters`` F < B (k x k pooling, filter-major bits as
    ``cosim.digital.feature_bits`` gives them) a filter appears when any of its B / F bits is 1.
    Without ``labels``: (F,). With ``labels`` (n,): (K, F), one row per class of ``classes``
    (default: the labels present, sorted); NaN for a class without images.
    """
    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[0] == 0:
        raise ValueError(f"bits must have shape (n >= 1, n_bits), got {b.shape}")
    if not np.isin(b, (0, 1)).all():
        raise ValueError("bits must hold 0/1 (or bool) values")
    f = b.shape[1] if n_filters is None else int(n_filters)
    if f < 1 or b.shape[1] % f:
        raise ValueError(f"n_filters={n_filters} does not divide the {b.shape[1]} bits per image")
    on = b.astype(bool).reshape(b.shape[0], f, -1).any(axis=2)
    if labels is None:
        return on.mean(axis=0)
    y = np.asarray(labels)
    if y.shape != (b.shape[0],):
        raise ValueError(f"labels must have shape ({b.shape[0]},), got {y.shape}")
    ks = sorted(set(y.tolist())) if classes is None else list(classes)
    out = np.full((len(ks), f), np.nan)
    for row, k in enumerate(ks):
        mine = y == k
        if mine.any():
            out[row] = on[mine].mean(axis=0)
    return out


def _check_int(name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"RetrainConfig.{name} must be an integer >= {lo}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainConfig:
    """Re-training of the silent feature filters (every field is recorded with the result)."""

    # 1, appearance rate on the re-training images below which a feature filter is silent
    silent_threshold: float = 0.02
    max_filters: int | None = None  # 1, silent filters re-trained at most (the most silent first)
    targets: RetrainTargets = RetrainTargets.NEW  # clusters the re-trained filters learn
    epochs: int = 20  # 1, float epochs over the re-training images (a few thousand: many epochs)
    qat_epochs: int = 1  # 1, quantisation-aware epochs after them (0: quantise after training)
    lr: float = 1e-2  # Adam learning rate (cosine-decayed as in the front end's training)
    batch_size: int = 64  # images per optimiser step
    max_images: int | None = 10000  # 1, re-training images at most (a seeded subset); None: all
    calibration_images: int = 5000  # 1, re-training images the V_REF re-calibration uses
    reinit: bool = False  # start from fresh random weights instead of the silent filter's own
    seed: int = 0  # seeds the subset, initial weights, shuffling and calibration draws

    def __post_init__(self) -> None:
        t = self.silent_threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 1:
            raise ValueError(f"RetrainConfig.silent_threshold must be a fraction in [0, 1], got {t!r}")
        for name, lo in (("epochs", 0), ("qat_epochs", 0), ("batch_size", 1), ("calibration_images", 1),
                         ("seed", 0)):
            _check_int(name, getattr(self, name), lo)
        for name in ("max_filters", "max_images"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        if self.epochs + self.qat_epochs < 1:
            raise ValueError("RetrainConfig.epochs + qat_epochs must be >= 1 (nothing would be trained)")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise ValueError(f"RetrainConfig.lr must be a finite number > 0, got {self.lr!r}")
        if not isinstance(self.targets, RetrainTargets):
            raise ValueError(f"RetrainConfig.targets must be a RetrainTargets, got {self.targets!r}")
        if not isinstance(self.reinit, bool):
            raise ValueError(f"RetrainConfig.reinit must be a bool, got {self.reinit!r}")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RetrainReport:
    """What ``retrain_filters`` did; appearances are on the re-training images (software bits)."""

    silent: tuple[int, ...]  # feature filters below the threshold, most silent first
    retrained: tuple[int, ...]  # the filters re-trained (silent, capped by max_filters)
    targets: tuple[int, ...]  # per re-trained filter, the cluster label it learned to detect
    appearance_before: np.ndarray = field(repr=False)  # (F,)
    appearance_after: np.ndarray = field(repr=False)  # (F,)
    images: int  # re-training images used (those with a cluster label)
    cluster_sizes: dict[int, int]  # cluster label -> images among them
    history: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # per epoch

    def as_dict(self) -> dict[str, Any]:
        return {"silent": list(self.silent), "retrained": list(self.retrained), "targets": list(self.targets),
                "appearance_before": self.appearance_before.tolist(),
                "appearance_after": self.appearance_after.tolist(), "images": self.images,
                "cluster_sizes": {str(k): v for k, v in self.cluster_sizes.items()},
                "history": list(self.history)}


def software_bits(front: Any, images: Any) -> np.ndarray:
    """Feature bits of the quantised software filters of ``front`` (n, F[*m*m])."""
    from cosim.digital import feature_bits
    from cosim.frontend.model import pooled_responses

    return feature_bits(pooled_responses(front.quantized_weights(), images, front.config.pool), front.v_ref)


def _targets(silent: Sequence[int], clusters: np.ndarray, front: Any, how: RetrainTargets) -> tuple[int, ...]:
    """Cluster label per silent filter, round robin over the target clusters (sorted)."""
    pool = [int(c) for c in clusters]
    if how is RetrainTargets.NEW:
        new = [c for c in pool if c not in front.trained_classes]
        pool = new or pool
    return tuple(pool[k % len(pool)] for k in range(len(silent)))


def retrain_filters(front: Any, images: Any, cluster_labels: Any,
                    config: RetrainConfig | None = None) -> tuple[Any, RetrainReport]:
    """Re-train the silent feature filters of ``front`` (a ``TrainedFrontEnd``) one-vs-all on
    ``images`` (n, H, W[, C]) in [0, 1], pseudo-labelled by ``cluster_labels`` (n,): the label
    of the A-STDP neuron that won each image, -1 where none did (those images are not used).

    Silent: a feature filter firing on fewer than ``silent_threshold`` of the images. Each
    re-trained filter learns to fire for one cluster (``targets``), from its own weights (or
    fresh ones, ``reinit``) and a V_REF restarted at its median response; then quantisation to
    the bank's bits and V_REF re-calibration, as the front end's own training does. Every
    other filter keeps its weights, levels, scale and V_REF exactly. Returns (new front, report).
    """
    import torch

    from cosim.frontend.model import FrontEndNet, image_tensor
    from cosim.frontend.train import fit_filters

    cfg = RetrainConfig() if config is None else config
    img = np.asarray(images, dtype=np.float32)
    pseudo = np.asarray(cluster_labels).astype(np.int64)
    if img.ndim not in (3, 4) or pseudo.shape != (img.shape[0],) or img.shape[0] == 0:
        raise ValueError(f"images (n >= 1, H, W[, C]) and cluster_labels (n,) expected, got {img.shape}, "
                         f"{pseudo.shape}")
    keep = pseudo >= 0
    if not keep.any():
        raise ValueError("no image has a cluster label (every cluster_labels entry is -1)")
    img, pseudo = img[keep], pseudo[keep]
    rng = np.random.default_rng([cfg.seed, 29])
    if cfg.max_images is not None and img.shape[0] > cfg.max_images:
        pick = np.sort(rng.choice(img.shape[0], cfg.max_images, replace=False))
        img, pseudo = img[pick], pseudo[pick]
    f = front.n_filters
    before = filter_appearance(software_bits(front, img), n_filters=f)
    ff = [k for k in range(f) if front.kinds[k] is FilterKind.FEATURE and before[k] < cfg.silent_threshold]
    silent = tuple(sorted(ff, key=lambda k: (before[k], k)))
    chosen = silent if cfg.max_filters is None else silent[:cfg.max_filters]
    clusters, y_np = np.unique(pseudo, return_inverse=True)
    sizes = {int(c): int(np.sum(pseudo == c)) for c in clusters}
    if not chosen:
        logger.info("no silent feature filter (threshold %.3g): nothing re-trained", cfg.silent_threshold)
        return front, RetrainReport(silent=silent, retrained=(), targets=(), appearance_before=before,
                                    appearance_after=before, images=int(img.shape[0]), cluster_sizes=sizes)
    targets = _targets(chosen, clusters, front, cfg.targets)
    tcfg = dataclasses.replace(front.config, epochs=cfg.epochs, qat_epochs=cfg.qat_epochs, lr=cfg.lr,
                               batch_size=cfg.batch_size, calibration_images=cfg.calibration_images,
                               seed=cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    x, y = image_tensor(img), torch.from_numpy(y_np.astype(np.int64))
    idx = list(chosen)
    net = FrontEndNet(n_filters=len(idx), channels=front.channels, size=front.size, n_class_filters=len(idx),
                      n_head_inputs=0, n_classes=len(clusters), init_std=tcfg.init_std, generator=g)
    cf_target = torch.zeros((len(clusters), len(idx)))
    cf_target[np.searchsorted(clusters, targets), np.arange(len(idx))] = 1.0
    with torch.no_grad():
        if not cfg.reinit:
            net.weight.copy_(torch.from_numpy(np.array(front.weights[idx])))
        first = net.pooled(x[torch.randperm(x.shape[0], generator=g)[:_V_REF_INIT_IMAGES]], tcfg.pool)
        net.v_ref.copy_(first.transpose(0, 1).reshape(len(idx), -1).median(dim=1).values)
    logger.info("re-training %d silent feature filters %s on %d images, clusters %s", len(idx), idx,
                img.shape[0], targets)
    fit = fit_filters(net, x, y, cf_target, tcfg, g)
    arrays = {name: np.array(getattr(front, name)) for name in ("weights", "v_ref_float", "levels", "scale", "v_ref")}
    for name in arrays:
        arrays[name][idx] = getattr(fit, name)
    # train_cf_accuracy of the stage log pairs filter k with cluster k, which holds for a bank's
    # class filters, not here: left out
    epochs = tuple({**{k: v for k, v in h.items() if k != "train_cf_accuracy"}, "stage": f"retrain_{h['stage']}"}
                   for h in fit.history)
    history = front.history + epochs
    provenance = (f"{front.provenance}; feature filters {idx} re-trained (cosim.retraining) one-vs-all on "
                  f"A-STDP clusters {list(targets)} of {img.shape[0]} images, {cfg.epochs} float + "
                  f"{cfg.qat_epochs} QAT epochs, seed {cfg.seed}")
    new = dataclasses.replace(front, **arrays, history=history, provenance=provenance)
    after = filter_appearance(software_bits(new, img), n_filters=f)
    report = RetrainReport(silent=silent, retrained=tuple(idx), targets=targets, appearance_before=before,
                           appearance_after=after, images=int(img.shape[0]), cluster_sizes=sizes,
                           history=epochs)
    return new, report


# ---------------------------------------------------------------------------------------------
# The experiment: classify, re-train, classify again
# ---------------------------------------------------------------------------------------------

PHASES = ("before", "after")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RetrainingResult:
    accuracy_rows: list[dict[str, Any]]  # one per phase: the classification row plus the phase
    filter_rows: list[dict[str, Any]]  # one per filter and phase: kind, silent, appearance
    report: RetrainReport
    record: dict[str, Any] = field(repr=False)  # everything for run.json


def _filter_rows(phase: str, front: Any, feats: Any, report: RetrainReport, threshold: float) -> list[dict[str, Any]]:
    f = front.n_filters
    trained = np.isin(feats.test_labels, feats.trained_classes)
    test = filter_appearance(feats.test_bits, n_filters=f)
    learn = filter_appearance(feats.learn_bits, n_filters=f)
    split = {name: (filter_appearance(feats.test_bits[m], n_filters=f) if m.any() else np.full(f, np.nan))
             for name, m in (("trained", trained), ("nontrained", ~trained))}
    target = dict(zip(report.retrained, report.targets))
    rows = []
    for k in range(f):
        cls = front.classes[k]
        rows.append({"phase": phase, "filter": k, "kind": "CF" if front.kinds[k] is FilterKind.CLASS else "FF",
                     "cf_class": -1 if cls is None else int(cls), "silent": k in report.silent,
                     "retrained": k in target, "target_cluster": target.get(k, -1),
                     "appearance": float(test[k]), "appearance_learn": float(learn[k]),
                     "appearance_trained": float(split["trained"][k]),
                     "appearance_nontrained": float(split["nontrained"][k]), "silent_threshold": threshold})
    return rows


def run_retraining(cfg: Any, retrain: RetrainConfig | None = None, *,
                   work_dir: str | os.PathLike[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> RetrainingResult:
    """Continual classification (``cfg``, a ``cosim.experiments.ClassificationConfig`` whose
    ``nontrained`` classes the front end never saw), re-training of the silent feature filters
    from the clusters of the learning stream, new feature maps, classification again (the
    A-STDP layer starts anew with the same seeds). The front ends before and after are saved
    in ``work_dir`` (a temporary folder when None) as ``frontend_before``/``frontend_after``."""
    from cosim import experiments
    from cosim.datasets import load_dataset
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.io import load_frontend, save_frontend
    from cosim.frontend.train import train_frontend

    r = RetrainConfig() if retrain is None else retrain
    say = progress or (lambda msg: logger.info("%s", msg))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train = load_dataset(cfg.dataset, "train", data_dir=cfg.data_dir)
    bank_sha256 = None if cfg.bank is None else file_sha256(cfg.bank)  # next to config.bank in the record
    if cfg.bank is not None:
        front = load_frontend(cfg.bank)
    else:
        say(f"training the front end on classes {list(cfg.trained_classes)}")
        tc = TrainConfig() if cfg.train is None else cfg.train
        front = train_frontend(train.images, train.labels, dataclasses.replace(tc, trained_classes=cfg.trained_classes))
    timings["front_end_s"] = time.perf_counter() - t0
    # the learning stream of the classification run: the same split prepare_features draws
    learn_idx, _ = experiments.learning_stream(cfg, train.labels)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp if work_dir is None else work_dir)

        def classify(phase: str, front_p: Any) -> tuple[Any, Any, Any]:
            t1 = time.perf_counter()
            bank, _ = save_frontend(front_p, folder / f"frontend_{phase}")
            run_cfg = dataclasses.replace(cfg, bank=str(bank))
            say(f"{phase}: feature maps and A-STDP classification")
            feats = experiments.prepare_features(run_cfg)
            if not np.array_equal(feats.learn_labels, train.labels[learn_idx]):
                raise RuntimeError("cosim.experiments' learning stream differs from the one re-trained on")
            out = (front_p, feats, experiments.run_classification(run_cfg, feats))
            timings[f"classify_{phase}_s"] = time.perf_counter() - t1
            return out

        phases = {"before": classify("before", front)}
        say("re-training the silent feature filters on the learning stream's clusters")
        t1 = time.perf_counter()
        winners = np.array([row["winner"] for row in phases["before"][2].learning], dtype=np.int64)
        clusters = predict(winners, phases["before"][2].neuron_labels)
        new_front, report = retrain_filters(front, train.images[learn_idx], clusters, r)
        truth = train.labels[learn_idx]  # for the record only: how pure the clusters were
        purity = {str(c): {"images": int(np.sum(clusters == c)),
                           "true_label_fraction": float(np.mean(truth[clusters == c] == c))}
                  for c in np.unique(clusters[clusters >= 0])}
        timings["retrain_s"] = time.perf_counter() - t1
        # nothing re-trained: the same front end gives the same run (same seeds), not re-run
        phases["after"] = classify("after", new_front) if report.retrained else phases["before"]
    timings["total_s"] = time.perf_counter() - t0
    acc_rows, filter_rows = [], []
    for phase in PHASES:
        front_p, feats, result = phases[phase]
        acc_rows.append({"phase": phase, "retrained_filters": len(report.retrained) if phase == "after" else 0,
                         **result.row})
        filter_rows += _filter_rows(phase, front_p, feats, report, r.silent_threshold)
    record = {"format": "rramcosim-retraining/1", "config": plain(cfg), "bank_sha256": bank_sha256,
              "retrain": plain(r), "seeds": {"stream": cfg.seed, "classifier": cfg.classifier.seed, "retrain": r.seed},
              "report": report.as_dict(), "clusters": {"unclustered": int(np.sum(clusters < 0)), **purity},
              "timings_s": timings, "versions": versions(),
              "runs": {phase: phases[phase][2].record for phase in PHASES}, "result": acc_rows}
    return RetrainingResult(accuracy_rows=acc_rows, filter_rows=filter_rows, report=report, record=record)


def write_retraining(result: RetrainingResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """``retraining.csv`` (per filter and phase), ``accuracy.csv`` (per phase) and ``run.json``."""
    from cosim.waveforms import write_tidy_csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"retraining": write_tidy_csv(out / "retraining.csv", result.filter_rows),
             "accuracy": write_tidy_csv(out / "accuracy.csv", result.accuracy_rows)}
    write_text_atomic(out / "run.json", json.dumps(result.record, indent=2, default=float) + "\n")
    paths["run"] = out / "run.json"
    return paths


__all__ = ["RetrainTargets", "filter_appearance", "RetrainConfig", "RetrainReport", "software_bits",
           "retrain_filters", "PHASES", "RetrainingResult", "run_retraining", "write_retraining"]
