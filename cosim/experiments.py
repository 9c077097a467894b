"""The reference system's experiments: feature maps -> unsupervised A-STDP classifier.

``run_classification`` is one run: a front end (loaded, or trained on the classes not held
out) turns images into 64-bit feature maps, either on the programmed device array through the
fast engine (``features="array"``) or with the quantised software weights; the A-STDP layer
learns on a stream of training images, is frozen, labelled and scored on the test split
(trained / non-trained / global accuracy, power proxy). The stream shows only trained classes
for ``new_classes_after`` images, then all classes, so the spike rate when new classes appear
(paper Fig. 11) is in the per-image log. Every run records its config, seeds, engine, SPICE
check, runtime and versions.

``run_continual`` repeats it for 1..5 held-out classes x seeds x (SFA on, off) into a tidy
table that resumes (paper Fig. 10). ``PAPER_ACCURACY`` holds the paper's all-classes numbers.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compact_model.atomic import write_text_atomic
from cosim.classifier import (AstdpClassifier, ClassifierConfig, accuracies, label_neurons, power_proxy,
                              predict, spice_check, spice_check_inference)
from cosim.datasets import load_dataset
from cosim.provenance import file_sha256, plain, versions

logger = logging.getLogger(__name__)

# Paper Fig. 9, all classes trained (Munoz-Martin, Bianchi et al., VLSI 2020; ../docs system-spec).
PAPER_ACCURACY = {"mnist": 0.993, "noisy-mnist": 0.96, "fashion-mnist": 0.93, "cifar10": 0.91}


class Features(enum.Enum):
    ARRAY = "array"  # programmed device array read by the fast engine, V_REF in amperes
    SOFTWARE = "software"  # quantised weights and V_REF in software (the ideal array)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationConfig:
    """One classification run (every field is recorded with the result)."""

    dataset: str = "mnist"  # cosim.datasets name
    data_dir: str | None = None  # None: $RRAMCOSIM_DATA_DIR or the cache
    bank: str | None = None  # saved front end (cosim.frontend.io); None: train one (``train``)
    train: Any = None  # cosim.frontend TrainConfig for a new front end (None: its defaults)
    hardware: Any = None  # cosim.frontend HardwareConfig of the array (None: its defaults)
    features: Features = Features.ARRAY
    classifier: ClassifierConfig = ClassifierConfig()
    nontrained: tuple[int, ...] = ()  # classes the front end never saw (trained by A-STDP only)
    learn_images: int = 10000  # 1, training images streamed through the learning layer
    label_images: int = 5000  # 1, further training images that label the frozen neurons
    test_images: int | None = None  # 1, test images scored (None: the whole split)
    new_classes_after: int = 0  # 1, learning images drawn from trained classes only, first
    # ngspice re-runs: this many learning episodes (spread evenly inside learning) from the same
    # device states, and as many frozen test episodes, each on the slice of the layer that decides
    # its race (cosim.classifier.race_slice) with ``spice_contenders`` neurons (None: all).
    spice_check: int = 0  # 1
    spice_contenders: int | None = 3  # 1
    # SPICE re-run of the front end: the first ``spice_features`` test images through the
    # programmed array in a VACASK transient (minutes per image for 400 x 64 pairs), their
    # feature maps compared with the fast engine's and scored by the frozen layer.
    spice_features: int = 0  # 1
    seed: int = 0  # seeds the image order (the classifier and front end have their own seeds)

    def __post_init__(self) -> None:
        c = "ClassificationConfig"
        for name in ("learn_images", "label_images"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{c}.{name} must be an integer >= 1, got {v!r}")
        for name in ("new_classes_after", "spice_check", "spice_features", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{c}.{name} must be an integer >= 0, got {v!r}")
        if self.test_images is not None and (isinstance(self.test_images, bool) or self.test_images < 1):
            raise ValueError(f"{c}.test_images must be None or an integer >= 1, got {self.test_images!r}")
        if self.spice_contenders is not None and (isinstance(self.spice_contenders, bool) or
                                                  not isinstance(self.spice_contenders, int) or
                                                  self.spice_contenders < 1):
            raise ValueError(f"{c}.spice_contenders must be None or an integer >= 1, got {self.spice_contenders!r}")
        if self.spice_check > self.learn_images:
            raise ValueError(f"{c}.spice_check ({self.spice_check}) exceeds learn_images ({self.learn_images})")
        nt = tuple(int(k) for k in self.nontrained)
        if len(set(nt)) != len(nt) or any(not 0 <= k < self.classifier.n_classes for k in nt):
            raise ValueError(f"{c}.nontrained must be distinct classes in 0..{self.classifier.n_classes - 1}, "
                             f"got {self.nontrained!r}")
        if len(nt) >= self.classifier.n_classes:
            raise ValueError(f"{c}.nontrained leaves no class to train the front end on")
        object.__setattr__(self, "nontrained", tuple(sorted(nt)))
        if not isinstance(self.features, Features):
            raise ValueError(f"{c}.features must be a Features value, got {self.features!r}")
        if self.spice_features and self.features is not Features.ARRAY:
            raise ValueError(f"{c}.spice_features re-runs the programmed array in SPICE: it needs "
                             f"features=array, not {self.features.value}")
        if self.test_images is not None and self.spice_features > self.test_images:
            raise ValueError(f"{c}.spice_features ({self.spice_features}) exceeds test_images ({self.test_images})")

    @property
    def trained_classes(self) -> tuple[int, ...]:
        return tuple(k for k in range(self.classifier.n_classes) if k not in self.nontrained)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ClassificationResult:
    config: ClassificationConfig
    row: dict[str, Any]  # the tidy result row (config columns, metrics, provenance)
    learning: list[dict[str, Any]] = field(repr=False)  # one row per learning image
    neuron_labels: np.ndarray = field(repr=False)
    record: dict[str, Any] = field(repr=False)  # everything for run.json


def _front_end(cfg: ClassificationConfig, train_images: np.ndarray, train_labels: np.ndarray) -> Any:
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.io import load_frontend
    from cosim.frontend.train import train_frontend

    if cfg.bank is not None:
        front = load_frontend(cfg.bank)
        unseen = set(front.trained_classes) & set(cfg.nontrained)
        if unseen:
            raise ValueError(f"bank {cfg.bank} was trained on classes {sorted(unseen)} that the config "
                             f"holds out (nontrained={list(cfg.nontrained)})")
        return front
    train_cfg = TrainConfig() if cfg.train is None else cfg.train
    train_cfg = dataclasses.replace(train_cfg, trained_classes=cfg.trained_classes)
    return train_frontend(train_images, train_labels, train_cfg)


def learning_stream(cfg: ClassificationConfig, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the learning stream and of the labelling images (disjoint, from the training
    split with these ``labels``), drawn from ``cfg.seed``: the split every run of ``cfg`` uses."""
    order = np.random.default_rng([cfg.seed, 17]).permutation(labels.size)
    need = cfg.learn_images + cfg.label_images
    if order.size < need:
        raise ValueError(f"the training split has {order.size} images; learn_images + label_images = {need}")
    trained = np.isin(labels[order], cfg.trained_classes)
    first = order[trained][:cfg.new_classes_after]
    rest = order[~np.isin(order, first)]  # the shuffled order, without the first images
    learn = np.concatenate([first, rest[:cfg.learn_images - first.size]])
    label = rest[cfg.learn_images - first.size:cfg.learn_images - first.size + cfg.label_images]
    return learn, label


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FeatureSet:
    """Feature maps of one front end: the learning stream, the labelling and the test images."""

    learn_bits: np.ndarray  # bool (n_learn, F)
    learn_labels: np.ndarray
    label_bits: np.ndarray
    label_labels: np.ndarray
    test_bits: np.ndarray
    test_labels: np.ndarray
    trained_classes: tuple[int, ...]  # the classes the front end was trained on
    record: dict[str, Any]  # sources, front end and hardware provenance, timings


def prepare_features(cfg: ClassificationConfig) -> FeatureSet:
    """Load the data, get the front end (load or train) and compute every feature map."""
    from cosim.digital import feature_bits
    from cosim.frontend.model import pooled_responses

    t0 = time.perf_counter()
    train = load_dataset(cfg.dataset, "train", data_dir=cfg.data_dir)
    test = load_dataset(cfg.dataset, "test", data_dir=cfg.data_dir, limit=cfg.test_images)
    learn_idx, label_idx = learning_stream(cfg, train.labels)
    bank_sha256 = None if cfg.bank is None else file_sha256(cfg.bank)
    front = _front_end(cfg, train.images, train.labels)
    t_front = time.perf_counter() - t0
    t1 = time.perf_counter()
    hardware_record: dict[str, Any] = {}
    programming_record: dict[str, Any] = {}
    if cfg.features is Features.ARRAY:
        from cosim.frontend.config import HardwareConfig
        from cosim.frontend.hardware import program_frontend

        hw = HardwareConfig() if cfg.hardware is None else cfg.hardware
        cal = np.random.default_rng([cfg.seed, 19]).permutation(train.labels.size)
        cal = cal[np.isin(train.labels[cal], front.trained_classes)]
        programmed = program_frontend(front, train.images[cal], hw)
        bits_of: Callable[[np.ndarray], np.ndarray] = programmed.bits
        hardware_record = plain(hw)
        programming_record = programmed.programming_record()
    else:
        weights = front.quantized_weights()

        def bits_of(images: np.ndarray) -> np.ndarray:
            return feature_bits(pooled_responses(weights, images, front.config.pool), front.v_ref)
    feats = FeatureSet(learn_bits=bits_of(train.images[learn_idx]), learn_labels=train.labels[learn_idx],
                       label_bits=bits_of(train.images[label_idx]), label_labels=train.labels[label_idx],
                       test_bits=bits_of(test.images), test_labels=test.labels,
                       trained_classes=tuple(front.trained_classes), record={})
    record = {"front_end": {"bank": cfg.bank, "bank_sha256": bank_sha256,
                            "trained_classes": list(front.trained_classes),
                            "provenance": getattr(front, "provenance", None)},
              "hardware": hardware_record, "programming": programming_record, "train_source": train.source,
              "test_source": test.source,
              "timings_s": {"front_end_s": t_front, "features_s": time.perf_counter() - t1}}
    if cfg.spice_features:  # after the timings: features_s stays the fast engine's
        record["front_end_spice"] = _spice_features(programmed, test.images[:cfg.spice_features],
                                                    feats.test_bits[:cfg.spice_features])
    return dataclasses.replace(feats, record=record)


def _spice_features(programmed: Any, images: np.ndarray, fast_bits: np.ndarray) -> dict[str, Any]:
    """The images' feature maps with the array simulated in SPICE (VACASK), against the fast
    engine's ``fast_bits``; the SPICE bits are kept (as 0/1 lists) for the layer to score."""
    from cosim.digital import feature_bits

    t0 = time.perf_counter()
    pooled_spice = programmed.spice_pooled(images)
    pooled_fast = programmed.pooled(images)
    bits = feature_bits(pooled_spice, programmed.v_ref)
    scale = np.maximum(np.max(np.abs(pooled_fast), axis=0), 1e-30)  # per filter: its largest pooled current
    return {"images": int(len(images)), "backend": "vacask",
            "feature_bits_equal": float(np.mean(bits == fast_bits)),
            "feature_maps_equal": float(np.mean(np.all(bits == fast_bits, axis=1))),
            "pooled_max_rel_error": float(np.max(np.abs(pooled_spice - pooled_fast) / scale)),
            "seconds": time.perf_counter() - t0, "bits": bits.astype(int).tolist()}


def features_key(cfg: ClassificationConfig) -> str:
    """Content key of a config's feature maps: everything ``prepare_features`` reads (the data
    set and the version of its images, the front end's bytes or training config, the array, the
    held-out classes, the stream and its sizes), nothing of the classifier."""
    import hashlib

    from cosim.datasets import data_version, resolve_data_dir

    bank = None if cfg.bank is None else file_sha256(cfg.bank)
    fields = {"dataset": cfg.dataset, "data_dir": str(resolve_data_dir(cfg.data_dir)), "bank": bank,
              "train": None if bank else plain(cfg.train), "hardware": plain(cfg.hardware),
              "features": cfg.features.value, "nontrained": list(cfg.nontrained),
              "learn_images": cfg.learn_images, "label_images": cfg.label_images,
              "test_images": cfg.test_images, "new_classes_after": cfg.new_classes_after, "seed": cfg.seed,
              "format": 1}
    if cfg.spice_features:  # only then: entries without the SPICE re-run keep their keys
        fields["spice_features"] = cfg.spice_features
    version = data_version(cfg.dataset)
    if version != 1:  # only then: the cached features of unchanged data sets stay valid
        fields["data_version"] = version
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:24]


_FEATURE_ARRAYS = ("learn_bits", "learn_labels", "label_bits", "label_labels", "test_bits", "test_labels")


def default_feature_cache() -> Path:
    """The feature-map cache folder when none is given: beside the compiled models
    (``RRAMCOSIM_CACHE`` moves both)."""
    from cosim.backends import osdi_cache_dir

    return osdi_cache_dir().parent / "features"


def cached_features(cfg: ClassificationConfig, cache_dir: str | os.PathLike[str]) -> tuple[FeatureSet, bool]:
    """``prepare_features(cfg)``, kept in ``cache_dir`` under ``features_key(cfg)`` so runs that
    differ only in the classifier (sweep points, seeds) compute the feature maps once.
    Returns the features and whether they came from the cache."""
    from filelock import FileLock

    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"features-{features_key(cfg)}.npz"
    # Workers of one sweep start together on the same features: the first computes them while
    # the others wait for the file instead of repeating minutes of array programming.
    with FileLock(str(path.with_suffix(".lock"))):
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                front_end = meta["record"]["front_end"]
                if cfg.bank is not None and "bank_sha256" not in front_end:  # cached before banks were hashed
                    front_end["bank_sha256"] = file_sha256(cfg.bank)  # the key holds the same bytes' hash
                return FeatureSet(**{k: data[k] for k in _FEATURE_ARRAYS},
                                  trained_classes=tuple(meta["trained_classes"]), record=meta["record"]), True
        except (OSError, KeyError, ValueError):
            pass  # missing or unreadable: compute it again
        feats = prepare_features(cfg)
        meta = json.dumps({"trained_classes": list(feats.trained_classes), "record": feats.record}, default=float)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, meta=np.array(meta), **{k: getattr(feats, k) for k in _FEATURE_ARRAYS})
        os.replace(tmp, path)  # atomic: a reader elsewhere (another machine's lock) never sees half a file
    return feats, False


def run_classification(cfg: ClassificationConfig, features: FeatureSet | None = None, *,
                       progress: Callable[[str, int, int], None] | None = None) -> ClassificationResult:
    """One run; see the module docstring. ``features`` (from ``prepare_features`` of a config
    with the same data and front end) skips that step; ``progress(stage, done, total)`` is
    called per image."""
    t0 = time.perf_counter()
    feats = prepare_features(cfg) if features is None else features
    timings = dict(feats.record["timings_s"]) if features is None else {}
    t2 = time.perf_counter()
    clf = AstdpClassifier(cfg.classifier, feats.learn_bits.shape[1])

    def tick(stage: str, total: int) -> Callable[[int], None] | None:
        return None if progress is None else (lambda k: progress(stage, k + 1, total))

    # checked episodes sit evenly inside the run (one: the middle), not at its untrained start
    n_learn = len(feats.learn_labels)
    checked = np.unique(np.linspace(0, n_learn - 1, cfg.spice_check + 2)[1:-1].round().astype(int))
    learn = clf.present(feats.learn_bits, learn=True, keep_states=checked,
                        progress=tick("learn", len(feats.learn_labels)))
    timings["learn_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    labelling = clf.present(feats.label_bits, learn=False, progress=tick("label", len(feats.label_labels)))
    names = label_neurons(labelling.winners, feats.label_labels, cfg.classifier.n_neurons,
                          cfg.classifier.n_classes)
    scored = clf.present(feats.test_bits, learn=False, progress=tick("test", len(feats.test_labels)))
    timings["label_test_s"] = time.perf_counter() - t3
    pred = predict(scored.winners, names)
    t4 = time.perf_counter()
    check: dict[str, float] = {}
    if cfg.spice_check:
        check = {**spice_check(clf, learn, contenders=cfg.spice_contenders),
                 **spice_check_inference(clf, feats.test_bits[:cfg.spice_check], seed=cfg.classifier.seed,
                                         contenders=cfg.spice_contenders)}
    spice_front = feats.record.get("front_end_spice")
    if spice_front:  # the frozen layer on the SPICE feature maps, against the fast ones of the same images
        n = spice_front["images"]
        spice_pred = predict(clf.present(np.asarray(spice_front["bits"], dtype=bool), learn=False).winners, names)
        check.update({"spice_features_images": float(n),
                      "spice_feature_bits_equal": spice_front["feature_bits_equal"],
                      "spice_feature_maps_equal": spice_front["feature_maps_equal"],
                      "spice_pooled_max_rel_error": spice_front["pooled_max_rel_error"],
                      "spice_features_prediction_equal": float(np.mean(spice_pred == pred[:n])),
                      "spice_features_accuracy": float(np.mean(spice_pred == feats.test_labels[:n])),
                      "fast_features_accuracy_same_images": float(np.mean(pred[:n] == feats.test_labels[:n]))})
    timings["spice_check_s"] = time.perf_counter() - t4
    timings["total_s"] = time.perf_counter() - t0

    trained = cfg.trained_classes
    row: dict[str, Any] = {
        "dataset": cfg.dataset, "features": cfg.features.value, "engine": "fast",
        "n_nontrained": len(cfg.nontrained), "nontrained": " ".join(map(str, cfg.nontrained)),
        "sfa": cfg.classifier.sfa, "reset_off_pattern": cfg.classifier.reset_off_pattern,
        "p_set": cfg.classifier.p_set, "p_reset": cfg.classifier.p_reset, "synapse_c2c": cfg.classifier.c2c,
        "v_te_reset": cfg.classifier.astdp.v_te_reset,
        "n_neurons": cfg.classifier.n_neurons, "seed": cfg.seed,
        "classifier_seed": cfg.classifier.seed, "learn_images": int(feats.learn_labels.size),
        "label_images": int(feats.label_labels.size), "test_images": int(feats.test_labels.size),
        **accuracies(pred, feats.test_labels, trained if cfg.nontrained else None),
        "feature_rate": float(feats.test_bits.mean()),
        # front-end programming: write-verify tolerance (level steps; None: open loop) and its cost
        "verify_tolerance": getattr(cfg.hardware, "verify_tolerance", None),
        "writes_per_device": float((feats.record.get("programming") or {}).get("writes_per_device", math.nan)),
        "neurons_labelled": int(np.sum(names >= 0)),
        **power_proxy(learn), **{f"test_{k}": v for k, v in power_proxy(scored).items()},
        **check, "seconds": timings["total_s"],
    }
    if not cfg.nontrained:
        row["paper_accuracy"] = PAPER_ACCURACY.get(cfg.dataset, math.nan)
    new = ~np.isin(feats.learn_labels, trained)
    learning = [{"image": k, "label": int(y), "new_class": bool(new[k]),
                 "winner": int(learn.winners[k]), "fires": int(learn.fires[k]),
                 "set_events": int(learn.set_events[k]), "reset_events": int(learn.reset_events[k]),
                 "write_energy_j": float(learn.write_energy[k]),
                 "feature_map": _bit_string(feats.learn_bits[k])} for k, y in enumerate(feats.learn_labels)]
    record = {"format": "rramcosim-classification/1", "config": plain(cfg), **feats.record,
              "timings_s": timings, "spice_check": check, "neuron_labels": names.tolist(),
              "versions": versions(), "result": row}
    return ClassificationResult(config=cfg, row=row, learning=learning, neuron_labels=names, record=record)


def _bit_string(bits: np.ndarray) -> str:
    """A feature map as '0'/'1' characters, filter 0 first (the learning log's ``feature_map``)."""
    return "".join("1" if b else "0" for b in np.asarray(bits, dtype=bool))


def write_result(result: ClassificationResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """``result.csv`` (one row), ``learning.csv`` (per image) and ``run.json``, each written atomically."""
    from cosim.waveforms import write_tidy_csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"result": write_tidy_csv(out / "result.csv", [result.row]),
             "learning": write_tidy_csv(out / "learning.csv", result.learning)}
    write_text_atomic(out / "run.json", json.dumps(result.record, indent=2, default=float) + "\n")
    paths["run"] = out / "run.json"
    return paths


def held_out_classes(n: int, seed: int, n_classes: int = 10) -> tuple[int, ...]:
    """The ``n`` non-trained classes of a continual-learning run, drawn from ``seed``."""
    if not 0 <= n < n_classes:
        raise ValueError(f"n non-trained classes must lie in 0..{n_classes - 1}, got {n}")
    return tuple(sorted(int(k) for k in np.random.default_rng([seed, 23]).choice(n_classes, n, replace=False)))


def run_continual(base: ClassificationConfig, counts: Sequence[int], seeds: Sequence[int],
                  sfa: Sequence[bool], table: str | os.PathLike[str], *,
                  progress: Callable[[str], None] | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Fig. 10: a run per (non-trained count, seed, SFA); rows are appended to the JSON-lines
    ``table`` as they finish, and finished runs are skipped, so an interrupted sweep resumes.
    The front end is trained once per (count, seed) and shared by the SFA variants; with
    ``cache_dir`` its feature maps are kept there (``cached_features``), so a new table with
    other classifier settings trains no front end again."""
    path = Path(table)
    path.parent.mkdir(parents=True, exist_ok=True)  # now, not after the first run's minutes of work
    rows: list[dict[str, Any]] = []
    if path.exists():
        for n_line, line in enumerate(path.read_text().splitlines(), 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{n_line}: not a JSON row (a torn write?); remove that line") from None
    done = {(r["n_nontrained"], r["seed"], r["sfa"]) for r in rows}
    for n in counts:
        for seed in seeds:
            todo = [s for s in sfa if (n, seed, bool(s)) not in done]
            if not todo:
                continue
            cfg = dataclasses.replace(base, nontrained=held_out_classes(n, seed, base.classifier.n_classes),
                                      seed=seed, bank=None,
                                      classifier=dataclasses.replace(base.classifier, seed=seed))
            if progress:
                progress(f"{n} non-trained {list(cfg.nontrained)}, seed {seed}: front end and features")
            # shared by the SFA variants
            feats = prepare_features(cfg) if cache_dir is None else cached_features(cfg, cache_dir)[0]
            for s in todo:
                run_cfg = dataclasses.replace(cfg, classifier=dataclasses.replace(cfg.classifier, sfa=bool(s)))
                if progress:
                    progress(f"{n} non-trained {list(run_cfg.nontrained)}, seed {seed}, SFA {'on' if s else 'off'}")
                result = run_classification(run_cfg, feats)
                # the whole config beside the row: a table row reproduces its run on its own
                # the array's effective settings (the config's None means HardwareConfig's defaults)
                # and the front end's own time, which ``seconds`` (the layer's run) leaves out
                row = {**result.row, "config": json.dumps(plain(run_cfg), sort_keys=True, default=str),
                       "hardware": json.dumps(feats.record.get("hardware"), sort_keys=True, default=str),
                       "front_end_seconds": float(feats.record["timings_s"].get("front_end_s", math.nan)),
                       "features_seconds": float(feats.record["timings_s"].get("features_s", math.nan)),
                       "versions": json.dumps(result.record["versions"], sort_keys=True)}
                with path.open("a") as fh:  # one line per run: a crash loses at most the run in flight
                    fh.write(json.dumps(row, default=float) + "\n")
                rows.append(row)
    return rows


CONTINUAL_METRICS = ("accuracy", "accuracy_trained", "accuracy_nontrained", "fires_per_image",
                     "test_fires_per_image", "write_energy_per_image_j")


def summarize_continual(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fig. 10's numbers: per (non-trained count, SFA), the mean and standard deviation over the
    seeds (each seed draws its own held-out classes) of ``CONTINUAL_METRICS``; NaN (a metric a
    run does not have) is left out of its statistics."""
    groups: dict[tuple[int, bool], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((int(r["n_nontrained"]), bool(r["sfa"])), []).append(r)
    out = []
    for (n, sfa), runs in sorted(groups.items()):
        row: dict[str, Any] = {"n_nontrained": n, "sfa": sfa, "seeds": len(runs),
                               "held_out": " | ".join(str(r.get("nontrained", "")) for r in runs)}
        for metric in CONTINUAL_METRICS:
            values = np.array([float(r.get(metric, math.nan)) for r in runs])
            values = values[np.isfinite(values)]
            row[f"{metric}_mean"] = float(values.mean()) if values.size else math.nan
            row[f"{metric}_std"] = float(values.std()) if values.size else math.nan
        out.append(row)
    return out


__all__ = ["PAPER_ACCURACY", "Features", "ClassificationConfig", "FeatureSet", "prepare_features", "features_key",
           "default_feature_cache", "cached_features", "learning_stream", "ClassificationResult",
           "run_classification", "write_result", "held_out_classes", "run_continual", "CONTINUAL_METRICS",
           "summarize_continual"]
