"""Re-training of silent feature filters from the A-STDP clusters (``cosim.retraining``) and the
`rramcosim experiment retrain` command, on small generated data (a tiny front end in a second)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from cosim.retraining import RetrainConfig, RetrainTargets, filter_appearance, retrain_filters, software_bits


# ------------------------------------------------------------------ appearance ---------------

def test_appearance_is_the_fraction_of_images_whose_bit_is_one():
    bits = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(filter_appearance(bits), [0.75, 0.5, 0.0])
    per_class = filter_appearance(bits, labels=np.array([2, 0, 0, 2]), classes=(0, 1, 2))
    np.testing.assert_array_equal(per_class[0], [0.5, 1.0, 0.0])
    assert np.isnan(per_class[1]).all()  # no image of class 1
    np.testing.assert_array_equal(per_class[2], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(filter_appearance(bits, labels=[2, 0, 0, 2]), per_class[[0, 2]])
    # k x k pooling: filter-major bits, a filter appears when any of its bits is 1
    pooled = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 1]])
    np.testing.assert_array_equal(filter_appearance(pooled, n_filters=2), [2 / 3, 1 / 3])


@pytest.mark.parametrize("bits, kw, match", [(np.zeros((0, 3)), {}, "n >= 1"), (np.full((2, 3), 2), {}, "0/1"),
                                             (np.zeros((2, 3)), {"n_filters": 2}, "n_filters"),
                                             (np.zeros((2, 3)), {"labels": [0]}, "labels")])
def test_appearance_rejects_bad_input(bits, kw, match):
    with pytest.raises(ValueError, match=match):
        filter_appearance(bits, **kw)


@pytest.mark.parametrize("field, value", [("silent_threshold", 1.5), ("silent_threshold", float("nan")),
                                          ("epochs", -1), ("lr", 0.0), ("max_images", 0), ("max_filters", 0),
                                          ("batch_size", 0), ("seed", -2), ("targets", "new"), ("reinit", 1),
                                          ("calibration_images", 0)])
def test_bad_retrain_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"RetrainConfig.{field}"):
        RetrainConfig(**{field: value})
    with pytest.raises(ValueError, match="epochs"):
        RetrainConfig(epochs=0, qat_epochs=0)


# ------------------------------------------------------------------ re-training --------------

def _bars(n, seed, n_classes=4):
    """28x28 images: a bright square in a class-specific place plus noise; 4 classes: 8x8
    squares in the quadrants, more: 6x6 squares on a 3 x 4 grid."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    img = rng.random((n, 28, 28)).astype(np.float32) * 0.2
    side, step, cols = (8, 12, 2) if n_classes <= 4 else (6, 7, 4)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), cols)
        img[i, 2 + step * r:2 + step * r + side, 1 + step * c:1 + step * c + side] = 1.0
    return img, labels


SILENCED = (4, 6)  # feature filters made silent by a V_REF above every response


@pytest.fixture(scope="module")
def silent_front():
    """A front end trained on classes 0-2 (3 CF + 5 FF), two of its FFs silenced."""
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.train import train_frontend

    img, lab = _bars(300, 0)
    front = train_frontend(img, lab, TrainConfig(n_filters=8, epochs=2, qat_epochs=1, batch_size=32,
                                                 calibration_images=100, augment_shift=0, trained_classes=(0, 1, 2)))
    v_ref = np.array(front.v_ref)
    v_ref[list(SILENCED)] = 1e6
    return dataclasses.replace(front, v_ref=v_ref)


FAST = RetrainConfig(silent_threshold=0.02, epochs=3, qat_epochs=1, batch_size=32, calibration_images=200)


def test_only_silent_feature_filters_change_and_they_learn_their_cluster(silent_front):
    img, lab = _bars(400, 1)
    before = filter_appearance(software_bits(silent_front, img))
    assert set(np.flatnonzero(before < 0.02)) >= set(SILENCED)
    new, report = retrain_filters(silent_front, img, lab, FAST)  # clusters = the classes here
    assert set(report.retrained) == set(report.silent) and set(SILENCED) <= set(report.silent)
    assert all(silent_front.kinds[k].value == "feature" for k in report.retrained)  # never a CF
    assert report.targets == (3,) * len(report.retrained)  # NEW: the cluster the front end never saw
    assert report.images == 400 and report.cluster_sizes == {k: int(np.sum(lab == k)) for k in range(4)}
    kept = [k for k in range(silent_front.n_filters) if k not in report.retrained]
    for name in ("weights", "v_ref_float", "levels", "scale", "v_ref"):
        old, now = getattr(silent_front, name), getattr(new, name)
        np.testing.assert_array_equal(now[kept], old[kept])  # bit-identical
        assert not np.array_equal(now[list(report.retrained)], old[list(report.retrained)])
    assert np.max(np.abs(new.levels)) <= new.config.max_level  # quantised to the bank's bits
    # the re-trained filters fire for their cluster (class 3), seldom for the others
    test_img, test_lab = _bars(300, 2)
    rates = filter_appearance(software_bits(new, test_img), test_lab, classes=(0, 1, 2, 3))
    for k in report.retrained:
        assert rates[3, k] > 0.8 and rates[:3, k].max() < 0.3
        assert rates[3, k] > filter_appearance(software_bits(silent_front, test_img[test_lab == 3]))[k]
    np.testing.assert_array_equal(report.appearance_after[kept], report.appearance_before[kept])
    assert all(report.appearance_after[k] > report.appearance_before[k] for k in report.retrained)
    assert "re-trained" in new.provenance and new.history[-1]["stage"] == "retrain_qat"


def test_same_seed_same_weights_and_options_are_obeyed(silent_front):
    img, lab = _bars(200, 3)
    a, rep_a = retrain_filters(silent_front, img, lab, FAST)
    b, _ = retrain_filters(silent_front, img, lab, FAST)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.v_ref, b.v_ref)
    c, _ = retrain_filters(silent_front, img, lab, dataclasses.replace(FAST, seed=1))
    assert not np.array_equal(a.weights, c.weights)
    one, rep = retrain_filters(silent_front, img, lab, dataclasses.replace(FAST, max_filters=1,
                                                                           targets=RetrainTargets.ALL))
    assert rep.retrained == rep_a.silent[:1] and rep.targets == (0,)
    unlabelled = np.where(lab == 3, -1, lab)  # no cluster of a new class: fall back to all clusters
    _, rep = retrain_filters(silent_front, img, unlabelled, dataclasses.replace(FAST, max_images=50))
    assert rep.images == 50 and 3 not in rep.cluster_sizes and rep.targets == (0, 1)[:len(rep.retrained)]
    same, rep = retrain_filters(silent_front, img, lab, dataclasses.replace(FAST, silent_threshold=0.0))
    assert same is silent_front and rep.retrained == ()
    with pytest.raises(ValueError, match="cluster label"):
        retrain_filters(silent_front, img, np.full(lab.shape, -1), FAST)
    with pytest.raises(ValueError, match="cluster_labels"):
        retrain_filters(silent_front, img, lab[:5], FAST)


# ------------------------------------------------------------------ the experiment -----------

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, mnist_files):
    def split(n, seed):
        images, labels = _bars(n, seed, n_classes=10)
        return (images * 255).astype(np.uint8), labels

    return mnist_files(tmp_path_factory.mktemp("data"), split(500, 10), split(120, 11))


@pytest.mark.ngspice  # the fast A-STDP layer characterises its transistor in ngspice (cached)
def test_retrain_command_writes_tidy_tables_and_the_record(data_dir, tmp_path):
    from click.testing import CliRunner

    from rramcosim.cli import main

    out = tmp_path / "run"
    args = ["experiment", "retrain", "--data-dir", str(data_dir), "--features", "software", "--learn-images", "150",
            "--label-images", "100", "--test-images", "80", "--redundancy", "2", "--epochs", "2",
            "--nontrained", "8,9", "--silent-threshold", "1.0", "--max-filters", "2", "--retrain-epochs", "2",
            "--retrain-images", "150", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    import pandas as pd

    acc = pd.read_csv(out / "accuracy.csv")
    assert list(acc["phase"]) == ["before", "after"] and list(acc["retrained_filters"]) == [0, 2]
    assert acc[["accuracy", "accuracy_trained", "accuracy_nontrained"]].stack().between(0, 1).all()
    table = pd.read_csv(out / "retraining.csv")
    assert len(table) == 2 * 64 and set(table["phase"]) == {"before", "after"}
    assert (table.groupby("phase")["kind"].apply(lambda k: (k == "CF").sum()) == 8).all()
    after = table[table["phase"] == "after"]
    assert after["retrained"].sum() == 2 and (after.loc[after["retrained"], "kind"] == "FF").all()
    assert table["appearance"].between(0, 1).all()
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["nontrained"] == [8, 9] and record["retrain"]["max_filters"] == 2
    assert len(record["report"]["retrained"]) == 2 and "numpy" in record["versions"]
    assert sum(v["images"] for k, v in record["clusters"].items() if k != "unclustered") \
        + record["clusters"]["unclustered"] == 150
    assert set(record["timings_s"]) >= {"front_end_s", "retrain_s", "classify_before_s", "classify_after_s"}
    assert (out / "banks" / "frontend_after.npz").is_file()
    assert record["bank_sha256"] is None  # no --bank: the front end was trained here
    for phase in ("before", "after"):  # each phase's run names its saved front end by path and SHA-256
        front_end = record["runs"][phase]["front_end"]
        assert front_end["bank"] == str(out / "banks" / f"frontend_{phase}.npz")
        assert front_end["bank_sha256"] == hashlib.sha256(Path(front_end["bank"]).read_bytes()).hexdigest()
    bad = CliRunner().invoke(main, args[:-2] + ["--silent-threshold", "2", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "silent_threshold" in bad.output
