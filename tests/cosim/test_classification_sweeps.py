"""The "classify" sweep task (paper Fig. 9 as a sweep): feature caching, keys, and the synapse
compliance solve that maps an I_C to the presynaptic gate level."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from cosim.classifier import ClassifierConfig, first_reset_drop, with_reset_drop, with_synapse_compliance

pytestmark = pytest.mark.ngspice  # the fast layer characterises its transistor in ngspice (cached)


@pytest.fixture(scope="module")
def bank(digit_data_dir, tmp_path_factory):
    from cosim.datasets import load_dataset
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.io import save_frontend
    from cosim.frontend.train import train_frontend

    cfg = TrainConfig(n_filters=8, epochs=2, qat_epochs=1, batch_size=32, calibration_images=100, augment_shift=0)
    train = load_dataset("mnist", "train", data_dir=str(digit_data_dir))
    path, _ = save_frontend(train_frontend(train.images, train.labels, cfg), tmp_path_factory.mktemp("bank") / "b")
    return path


@pytest.fixture()
def point(digit_data_dir, bank, tmp_path):
    # 8 filters: the leak scaled as 64 / 8 x 3.5 kohm; the tiny data has 400 training images
    return {"dataset": "mnist", "data_dir": str(digit_data_dir), "bank": str(bank), "features": "software",
            "learn_images": 150, "label_images": 100, "test_images": 80, "redundancy": 2, "r_leak": 28e3,
            "cache_dir": str(tmp_path / "cache"), "seed": 0, "engine": "fast", "spice_check": 0}


def test_points_share_cached_features_and_the_seed_changes_only_the_classifier(point, tmp_path):
    from cosim.classification_sweeps import classify

    first = classify(point)
    assert first["features_cached"] is False
    assert first["accuracy"] > 0.4  # four well-separated classes: far above chance
    again = classify(point)
    assert again["features_cached"] is True and again["accuracy"] == first["accuracy"]
    digest = hashlib.sha256(Path(point["bank"]).read_bytes()).hexdigest()
    assert first["bank_sha256"] == again["bank_sha256"] == digest  # the bytes behind the bank path
    other = classify({**point, "seed": 3})
    assert other["features_cached"] is True
    assert other["fires_per_image"] != first["fires_per_image"] or other["accuracy"] != first["accuracy"]
    assert len(list((tmp_path / "cache").glob("features-*.npz"))) == 1
    classify({**point, "learn_images": 120})  # another stream: other feature maps
    assert len(list((tmp_path / "cache").glob("features-*.npz"))) == 2


def test_workers_asking_for_the_same_features_together_compute_them_once(point, tmp_path, monkeypatch):
    import threading
    import time

    from cosim import experiments
    from cosim.classification_sweeps import point_config

    real, calls = experiments.prepare_features, []

    def slow_prepare(cfg):
        calls.append(cfg)
        time.sleep(0.5)  # long enough for the other worker to arrive while this one computes
        return real(cfg)

    monkeypatch.setattr(experiments, "prepare_features", slow_prepare)
    cfg, _ = point_config(point)
    got = [None, None]

    def worker(k):
        got[k] = experiments.cached_features(cfg, tmp_path / "shared")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and sorted(hit for _, hit in got) == [False, True]
    np.testing.assert_array_equal(got[0][0].test_bits, got[1][0].test_bits)


def test_solved_compliance_metrics_do_not_clash_with_the_point(point, monkeypatch):
    from cosim import classification_sweeps
    from cosim.sweep.tasks import check_metrics

    def solve(cfg, i_c, scale_leak=True):  # the real solve is tested below; here only the names
        return dataclasses.replace(cfg, r_leak=2 * cfg.r_leak), {"v_gate_on": 2.0, "synapse_i_c": i_c,
                                                                  "lrs_read_current": 1e-5, "r_leak": 2 * cfg.r_leak}
    monkeypatch.setattr(classification_sweeps, "with_synapse_compliance", solve)
    p = {**point, "synapse_i_c": 80e-6}
    cfg, solved = classification_sweeps.point_config(p)
    assert cfg.classifier.r_leak == 56e3 and solved["solved_synapse_i_c"] == 80e-6
    metrics = check_metrics(classification_sweeps.classify(p), frozenset(p) | {"status", "seed"})
    assert metrics["solved_r_leak"] == 56e3 and 0 <= metrics["accuracy"] <= 1


def test_unknown_or_bad_keys_are_named(point):
    from cosim.classification_sweeps import classify

    with pytest.raises(ValueError, match="bogus"):
        classify({**point, "bogus": 1})
    with pytest.raises(ValueError, match="features"):
        classify({**point, "features": "analog"})
    with pytest.raises(ValueError, match="spice_contenders"):
        classify({**point, "spice_contenders": 0})


def test_spice_checked_point_reports_agreement_without_clashing_with_its_keys(point):
    from cosim.classification_sweeps import classify
    from cosim.sweep.tasks import check_metrics

    p = {**point, "spice_check": 1, "spice_contenders": 2}
    metrics = check_metrics(classify(p), frozenset(p) | {"status", "seed"})
    assert metrics["spice_check_images"] == 1 and metrics["spice_inference_images"] == 1
    for key in ("spice_winner_equal", "spice_switch_agreement", "spice_inference_winner_equal_slice"):
        assert 0.0 <= metrics[key] <= 1.0, key


def test_spice_check_keys_reach_the_run_config(point):
    from cosim.classification_sweeps import point_config

    assert point_config({**point, "spice_check": 2})[0].spice_contenders == 3  # the default slice
    cfg, _ = point_config({**point, "spice_check": 2, "spice_contenders": "all"})
    assert cfg.spice_check == 2 and cfg.spice_contenders is None
    assert point_config({**point, "spice_contenders": 5})[0].spice_contenders == 5


def test_off_pattern_reset_key_reaches_the_classifier(point):
    from cosim.classification_sweeps import point_config

    assert point_config(point)[0].classifier.reset_off_pattern is False
    assert point_config({**point, "reset_off_pattern": True})[0].classifier.reset_off_pattern is True


def test_feature_key_follows_the_data_version_so_old_noisy_features_are_not_served(tmp_path, monkeypatch):
    from cosim.datasets import loaders
    from cosim.experiments import ClassificationConfig, features_key

    noisy = ClassificationConfig(dataset="noisy-mnist", data_dir=str(tmp_path))
    mnist = ClassificationConfig(dataset="mnist", data_dir=str(tmp_path))
    now = features_key(noisy), features_key(mnist)
    # version 1 leaves the key as it was before noisy-mnist drew its noise per split
    monkeypatch.setattr(loaders, "_DATA_VERSIONS", {})
    assert features_key(noisy) != now[0]
    assert features_key(mnist) == now[1]  # unchanged data sets keep their cached features
    monkeypatch.setattr(loaders, "_DATA_VERSIONS", {loaders.DatasetName.NOISY_MNIST: 3})
    assert features_key(noisy) not in now


def test_write_verify_keys_reach_the_array_and_change_the_feature_key(point):
    from cosim.classification_sweeps import classify, point_config
    from cosim.experiments import features_key

    open_loop = point_config(point)[0]
    assert open_loop.hardware.verify_tolerance is None
    verified = point_config({**point, "verify_tolerance": 0.5, "verify_attempts": 4, "verify_relax": 1.25})[0]
    assert (verified.hardware.verify_tolerance, verified.hardware.verify_attempts) == (0.5, 4)
    assert verified.hardware.verify_relax == 1.25
    assert features_key(verified) != features_key(open_loop)  # other devices, other feature maps
    with pytest.raises(ValueError, match="verify_tolerance"):
        point_config({**point, "verify_tolerance": -1})
    with pytest.raises(ValueError, match="verify_relax"):
        point_config({**point, "verify_tolerance": 0.5, "verify_relax": 0.5})
    # software features program no array: no writes to report
    assert np.isnan(classify(point)["writes_per_device"])


def test_array_points_report_the_programming_writes(point):
    from cosim.classification_sweeps import classify

    base = {**point, "features": "array", "learn_images": 60, "label_images": 40, "test_images": 40}
    open_loop, verified = classify(base), classify({**base, "verify_tolerance": 0.25})
    assert open_loop["writes_per_device"] == 1.0
    assert 1.0 < verified["writes_per_device"] <= 8


def test_pattern_slots_key_reaches_the_schedule(point):
    from cosim.classification_sweeps import point_config

    assert point_config(point)[0].classifier.schedule.pattern_slots == 2
    assert point_config({**point, "pattern_slots": 6})[0].classifier.schedule.pattern_slots == 6


def test_reset_voltage_key_reaches_the_synapse_pulses(point):
    from cosim.classification_sweeps import point_config

    assert point_config(point)[0].classifier.astdp.v_te_reset == -2.0
    astdp = point_config({**point, "v_te_reset": -1.45})[0].classifier.astdp
    assert astdp.v_te_reset == -1.45 and astdp.v_te_set == 2.0
    with pytest.raises(ValueError, match="v_te_reset"):
        point_config({**point, "v_te_reset": 1.0})


def test_synapse_compliance_is_solved_into_the_gate_and_the_leak_follows_the_lrs_current():
    base = ClassifierConfig()
    low, rec_low = with_synapse_compliance(base, 30e-6)
    high, rec_high = with_synapse_compliance(base, 80e-6)
    assert rec_low["synapse_i_c"] == pytest.approx(30e-6, rel=0.006)
    assert rec_high["synapse_i_c"] == pytest.approx(80e-6, rel=0.006)
    assert low.astdp.v_gate_on < base.astdp.v_gate_on < high.astdp.v_gate_on  # default ~53 uA
    assert rec_low["lrs_read_current"] < rec_high["lrs_read_current"]
    # the leak is re-sized so r_leak x I_LRS (the membrane level of one LRS synapse) stays put
    assert low.r_leak * rec_low["lrs_read_current"] == pytest.approx(high.r_leak * rec_high["lrs_read_current"])
    kept, _ = with_synapse_compliance(base, 80e-6, scale_leak=False)
    assert kept.r_leak == base.r_leak and kept.astdp == high.astdp
    with pytest.raises(ValueError, match="outside"):
        with_synapse_compliance(base, 1.0)
    with pytest.raises(ValueError, match="i_c"):
        with_synapse_compliance(dataclasses.replace(base), -1e-6)


def test_reset_drop_is_solved_into_the_reset_level_and_a_deeper_lrs_needs_a_stronger_one():
    from cosim.fast.astdp import FastAstdpModel

    base = ClassifierConfig(reset_off_pattern=True)
    solved, rec = with_reset_drop(base, 0.03, rel_tol=0.02)
    assert -2.0 < rec["v_te_reset"] < -1.2 and solved.astdp.v_te_reset == rec["v_te_reset"]
    assert rec["reset_drop"] == pytest.approx(0.03, rel=0.021)
    assert solved.astdp.v_gate_on == base.astdp.v_gate_on and solved.r_leak == base.r_leak  # only the level moves
    # the record is what the solved config's own model does, and a weaker pulse takes less
    assert first_reset_drop(FastAstdpModel.build(solved.stage(1))) == pytest.approx(rec["reset_drop"])
    weaker = dataclasses.replace(solved, astdp=dataclasses.replace(solved.astdp, v_te_reset=rec["v_te_reset"] + 0.02))
    assert first_reset_drop(FastAstdpModel.build(weaker.stage(1))) < 0.8 * rec["reset_drop"]
    # a higher gate (higher compliance, deeper LRS): the same drop needs a stronger RESET
    deep = dataclasses.replace(base, astdp=dataclasses.replace(base.astdp, v_gate_on=base.astdp.v_gate_on + 0.3))
    _, rec_deep = with_reset_drop(deep, 0.03, rel_tol=0.02)
    assert rec_deep["v_te_reset"] < rec["v_te_reset"] - 0.01
    with pytest.raises(ValueError, match="outside what RESET levels"):
        with_reset_drop(base, 0.999)
    # a search range whose weak end cannot RESET at all still solves: that end counts as no drop
    _, rec_wide = with_reset_drop(base, 0.03, rel_tol=0.02, level_range=(-0.5, -2.0))
    assert rec_wide["reset_drop"] == pytest.approx(0.03, rel=0.021)
    for bad in (0.0, 1.0, True, "0.1"):
        with pytest.raises(ValueError, match="reset_drop"):
            with_reset_drop(base, bad)


def test_a_point_with_reset_drop_records_the_solved_level(monkeypatch):
    from cosim import classification_sweeps
    from cosim.classification_sweeps import point_config

    calls = []

    def solve(clf, drop):  # the solve itself is tested above; here: wiring and precedence
        calls.append((clf.astdp.v_gate_on, drop))
        return dataclasses.replace(clf, astdp=dataclasses.replace(clf.astdp, v_te_reset=-1.5)), \
            {"v_te_reset": -1.5, "reset_drop": drop}

    monkeypatch.setattr(classification_sweeps, "with_reset_drop", solve)
    cfg, solved = point_config({"bank": "b.npz", "reset_drop": 0.04, "v_te_reset": -1.42})
    assert calls == [(ClassifierConfig().astdp.v_gate_on, 0.04)]
    assert cfg.classifier.astdp.v_te_reset == -1.5
    assert solved == {"solved_v_te_reset": -1.5, "solved_reset_drop": 0.04}


_SWEEPS = Path(__file__).parents[2] / "sweeps"


@pytest.mark.parametrize("path", sorted([*_SWEEPS.glob("fig9_*.toml"), *_SWEEPS.glob("verify_*.toml")]),
                         ids=lambda p: p.name)
def test_shipped_classify_sweeps_parse_into_classifier_configs(path):
    from cosim.classification_sweeps import point_config
    from cosim.sweep.spec import load_spec

    spec = load_spec(path)
    assert spec.task == "classify"
    for point in spec.expand():
        solves = ("synapse_i_c", "reset_drop")  # tested above
        cfg, _ = point_config({k: v for k, v in point.items() if k not in solves})
        assert cfg.classifier.reset_off_pattern is bool(point.get("reset_off_pattern", False))
        assert cfg.classifier.astdp.v_te_reset == point.get("v_te_reset", -2.0)
        assert 0 < point.get("reset_drop", 0.5) < 1
        assert cfg.hardware.verify_tolerance == point.get("verify_tolerance")
