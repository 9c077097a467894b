"""Sweep task "classify": one A-STDP classification run per point (``cosim.experiments``).

It is the reference paper's Fig. 9 as a sweep (accuracy vs the A-STDP synapses' compliance
current, per data set, all classes trained) and serves any other grid over the classifier,
the front end's array, seeds or held-out classes. A point's feature maps are cached on disk by
content (``cosim.experiments.cached_features``), so points that differ only in the classifier
(compliance, seed, switching) program the front-end array and compute the features once.

Point keys (all optional except ``bank`` for data sets the embedded default does not cover):

- data: ``dataset`` ("mnist"), ``data_dir``, ``bank`` (a saved front end), ``features``
  ("array" | "software"), ``n_nontrained`` (held-out classes drawn from ``stream_seed``),
  ``learn_images``, ``label_images``, ``test_images``, ``stream_seed`` (image order, 0);
- front-end array: ``hw_seed``, ``i_c_min`` / ``i_c_max`` (A), ``v_stop`` (V), ``r_wire`` (ohm),
  ``verify_tolerance`` (level steps; write-verify the devices, absent: open loop),
  ``verify_attempts`` (writes per device at most) and ``verify_relax`` (band growth per read);
- classifier: ``synapse_i_c`` (A, solved into the gate level; the neuron's leak is re-sized to
  the LRS current unless ``scale_leak`` is false), ``redundancy``, ``r_leak`` (ohm), ``p_noise``,
  ``pattern_slots`` (slots per image in which the pattern spikes; with more than one a neuron
  can fire again on the same image, and SFA then lowers its rate),
  ``p_set``, ``p_reset``, ``c2c``, ``sfa``, ``reset_off_pattern`` (off-pattern RESET gates),
  ``v_te_reset`` (V, the RESET pulse's level) or ``reset_drop`` (the fraction of a fully SET
  synapse's read current one RESET pulse takes, solved into ``v_te_reset`` after the
  compliance, which sets the LRS depth; it takes precedence over ``v_te_reset``);
- ``seed`` seeds the classifier (initial synapses, noise spikes, switching draws);
  ``spice_check`` re-runs that many learning episodes (spread over learning) and as many test
  episodes in ngspice, each on the slice of the layer that decides its race: the spiking inputs
  and the ``spice_contenders`` neurons that lead it (3; "all" for the whole layer);
  ``spice_features`` re-runs that many test images' convolution in SPICE (VACASK) on the
  programmed array and scores their feature maps with the frozen layer.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from cosim.classifier import ClassifierConfig, parse_contenders, with_reset_drop, with_synapse_compliance
from cosim.sweep.spec import Engine
from cosim.sweep.tasks import register_task

_DATA_KEYS = {"dataset", "data_dir", "bank", "features", "n_nontrained", "learn_images", "label_images",
              "test_images", "stream_seed"}
_ARRAY_KEYS = {"hw_seed", "i_c_min", "i_c_max", "v_stop", "r_wire", "verify_tolerance", "verify_attempts",
               "verify_relax"}
_CLASSIFIER_KEYS = {"synapse_i_c", "scale_leak", "redundancy", "r_leak", "p_noise", "pattern_slots", "p_set",
                    "p_reset", "c2c", "sfa", "reset_off_pattern", "v_te_reset", "reset_drop"}
_RUN_KEYS = {"seed", "engine", "spice_check", "spice_features", "spice_contenders", "cache_dir"}


def _cache_dir(point: dict[str, Any]) -> Path:
    from cosim.experiments import default_feature_cache

    given = point.get("cache_dir")
    return Path(str(given)) if given else default_feature_cache()


def point_config(point: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The ``ClassificationConfig`` of a point and what was solved for it (the synapse gate,
    the RESET level)."""
    from cosim.experiments import ClassificationConfig, Features, held_out_classes
    from cosim.frontend.config import HardwareConfig

    unknown = set(point) - _DATA_KEYS - _ARRAY_KEYS - _CLASSIFIER_KEYS - _RUN_KEYS
    if unknown:
        raise ValueError(f"classify: unknown parameter(s) {sorted(unknown)}; known: "
                         f"{sorted(_DATA_KEYS | _ARRAY_KEYS | _CLASSIFIER_KEYS | _RUN_KEYS)}")
    hw = HardwareConfig()
    hw = dataclasses.replace(
        hw, seed=int(point.get("hw_seed", hw.seed)), v_stop=float(point.get("v_stop", hw.v_stop)),
        r_wire=float(point.get("r_wire", hw.r_wire)),
        i_c_range=(float(point.get("i_c_min", hw.i_c_range[0])), float(point.get("i_c_max", hw.i_c_range[1]))),
        verify_attempts=int(point.get("verify_attempts", hw.verify_attempts)),
        verify_relax=float(point.get("verify_relax", hw.verify_relax)))
    if point.get("verify_tolerance") is not None:  # absent or null: open-loop programming
        hw = dataclasses.replace(hw, verify_tolerance=float(point["verify_tolerance"]))
    clf = ClassifierConfig()
    sched = clf.schedule
    if "p_noise" in point:
        sched = dataclasses.replace(sched, p_noise=float(point["p_noise"]))
    if "pattern_slots" in point:
        sched = dataclasses.replace(sched, pattern_slots=int(point["pattern_slots"]))
    clf = dataclasses.replace(
        clf, seed=int(point.get("seed", 0)), schedule=sched,
        redundancy=int(point.get("redundancy", clf.redundancy)), r_leak=float(point.get("r_leak", clf.r_leak)),
        p_set=float(point.get("p_set", clf.p_set)), p_reset=float(point.get("p_reset", clf.p_reset)),
        c2c=bool(point.get("c2c", clf.c2c)), sfa=bool(point.get("sfa", clf.sfa)),
        reset_off_pattern=bool(point.get("reset_off_pattern", clf.reset_off_pattern)),
        astdp=dataclasses.replace(clf.astdp, v_te_reset=float(point.get("v_te_reset", clf.astdp.v_te_reset))))
    stream_seed = int(point.get("stream_seed", 0))
    n_nt = int(point.get("n_nontrained", 0))
    test = point.get("test_images")
    try:
        features = Features(str(point.get("features", Features.ARRAY.value)))
    except ValueError:
        raise ValueError(f"classify: features must be one of {[f.value for f in Features]}, "
                         f"got {point.get('features')!r}") from None
    cfg = ClassificationConfig(
        dataset=str(point.get("dataset", "mnist")), data_dir=point.get("data_dir"),
        bank=None if point.get("bank") in (None, "") else str(point["bank"]), hardware=hw, features=features,
        classifier=clf, nontrained=held_out_classes(n_nt, stream_seed, clf.n_classes) if n_nt else (),
        learn_images=int(point.get("learn_images", 5000)), label_images=int(point.get("label_images", 3000)),
        test_images=None if test is None else int(test), spice_check=int(point.get("spice_check", 0)),
        spice_features=int(point.get("spice_features", 0)),
        spice_contenders=_contenders(point.get("spice_contenders", 3)), seed=stream_seed)
    solved: dict[str, Any] = {}
    if point.get("synapse_i_c") is not None:
        clf, record = with_synapse_compliance(clf, float(point["synapse_i_c"]),
                                              scale_leak=bool(point.get("scale_leak", True)))
        cfg = dataclasses.replace(cfg, classifier=clf)
        # "solved_" keeps these metrics apart from the point's own keys (synapse_i_c, r_leak)
        solved = {f"solved_{k}": v for k, v in record.items()}
    if point.get("reset_drop") is not None:
        clf, record = with_reset_drop(clf, float(point["reset_drop"]))
        cfg = dataclasses.replace(cfg, classifier=clf)
        solved.update({f"solved_{k}": v for k, v in record.items()})
    return cfg, solved


def _contenders(value: Any) -> int | None:
    try:
        return parse_contenders(value)
    except ValueError as exc:
        raise ValueError(f"classify: spice_{exc}") from None


@register_task("classify", version="1", engines=(Engine.FAST,))
def classify(point: dict[str, Any]) -> dict[str, Any]:
    """Accuracy (global, and trained / non-trained with ``n_nontrained``), neurons labelled,
    power proxy, the solved synapse gate and compliance (``solved_v_gate_on``,
    ``solved_synapse_i_c``, ``solved_lrs_read_current``, ``solved_r_leak``), the solved RESET
    level (``solved_v_te_reset``, ``solved_reset_drop``), the ``spice_check`` agreement of one
    classification run and, with a ``bank``, its file's SHA-256 (``bank_sha256``); see the
    module docstring for the keys."""
    from cosim.experiments import cached_features, run_classification

    t0 = time.perf_counter()
    cfg, solved = point_config(point)
    feats, hit = cached_features(cfg, _cache_dir(point))
    t_features = time.perf_counter() - t0
    result = run_classification(cfg, feats)
    keep = ("accuracy", "accuracy_trained", "accuracy_nontrained", "no_winner", "paper_accuracy", "feature_rate",
            "neurons_labelled", "writes_per_device", "fires_per_image", "set_per_image", "reset_per_image",
            "write_energy_per_image_j", "test_fires_per_image", "spice_check_images", "spice_check_failed",
            "spice_check_retried", "spice_inference_failed", "spice_inference_retried",
            "spice_winner_equal", "spice_spike_counts_equal", "spice_winner_equal_layer", "spice_switch_agreement",
            "spice_gap_max_diff_nm", "spice_inference_images", "spice_inference_winner_equal_slice",
            "spice_inference_winner_equal_layer", "spice_features_images", "spice_feature_bits_equal",
            "spice_feature_maps_equal", "spice_pooled_max_rel_error", "spice_features_prediction_equal",
            "spice_features_accuracy", "fast_features_accuracy_same_images")
    out = {k: result.row[k] for k in keep if k in result.row}
    if cfg.bank is not None:  # the bytes behind the point's bank path
        out["bank_sha256"] = result.record["front_end"]["bank_sha256"]
    out.update(solved)
    out.update({"features_cached": hit, "features_s": t_features, "classify_s": time.perf_counter() - t0 - t_features})
    return out
