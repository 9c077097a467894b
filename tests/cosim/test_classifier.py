"""The A-STDP classifier (labelling, prediction, accuracy split, power proxy) and the
classification experiments on small generated data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from circuits.astdp import AstdpParams
from cosim import digital
from cosim.classifier import (AstdpClassifier, ClassifierConfig, accuracies, label_neurons, power_proxy,
                              predict)

pytestmark = pytest.mark.ngspice  # the fast layer characterises its transistor in ngspice (cached)


def test_neurons_are_labelled_by_their_most_won_class_and_never_winners_get_none():
    winners = np.array([0, 0, 0, 1, 1, 2, -1, 2, 2])
    labels = np.array([3, 3, 1, 0, 0, 1, 2, 1, 2])
    names = label_neurons(winners, labels, n_neurons=4, n_classes=4)
    np.testing.assert_array_equal(names, [3, 0, 1, -1])  # neuron 2: one 1 and one 2 -> tie to lower
    np.testing.assert_array_equal(predict(np.array([0, 3, -1, 1]), names), [3, -1, -1, 0])


def test_accuracy_splits_trained_and_new_classes_and_counts_no_winner_as_wrong():
    pred = np.array([0, 1, -1, 3, 3, 5])
    y = np.array([0, 1, 2, 3, 4, 5])
    acc = accuracies(pred, y, trained_classes=(0, 1, 2))
    assert acc["accuracy"] == pytest.approx(4 / 6)
    assert acc["accuracy_trained"] == pytest.approx(2 / 3)
    assert acc["accuracy_nontrained"] == pytest.approx(2 / 3)
    assert acc["no_winner"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="equal-length"):
        accuracies(pred[:3], y)


@pytest.mark.parametrize("field, value", [("redundancy", 0), ("r_leak", -1.0), ("tau_mem", float("nan")),
                                          ("synapse_gap_range", (2e-9, 1e-9)), ("seed", -1),
                                          ("reset_off_pattern", "yes")])
def test_bad_classifier_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ClassifierConfig(**{field: value})


def _two_patterns(n, seed, flip=0.03):
    """Class k has bits 8k..8k+7 on (16 bits); each bit flipped with probability ``flip``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    bits = np.zeros((n, 16), dtype=bool)
    for k in (0, 1):
        bits[labels == k, 8 * k:8 * k + 8] = True
    return bits ^ (rng.random(bits.shape) < flip), labels


SMALL = ClassifierConfig(n_classes=2, redundancy=2, seed=1, r_leak=14e3)  # 16 bits: 64/16 x 3.5 kohm


def test_layer_learns_two_patterns_unsupervised_and_freezing_keeps_the_devices():
    clf = AstdpClassifier(SMALL, 16)
    learn_bits, _ = _two_patterns(60, seed=0)
    learn = clf.present(learn_bits, learn=True)
    assert learn.write_energy.min() >= 0 and learn.write_energy.sum() > 0
    assert learn.set_events.sum() > 0
    frozen = clf.state
    lab_bits, lab_labels = _two_patterns(40, seed=1)
    lab = clf.present(lab_bits, learn=False)
    assert clf.state is frozen and lab.write_energy.sum() == 0 and lab.set_events.sum() == 0
    names = label_neurons(lab.winners, lab_labels, SMALL.n_neurons, 2)
    assert set(names[names >= 0]) == {0, 1}  # both classes found a neuron of their own
    test_bits, test_labels = _two_patterns(60, seed=2)
    acc = accuracies(predict(clf.present(test_bits, learn=False).winners, names), test_labels)
    assert acc["accuracy"] >= 0.9
    proxy = power_proxy(learn)
    assert proxy["fires_per_image"] >= 1 and proxy["write_energy_per_image_j"] > 0


def test_sfa_lowers_the_firing_rate_when_an_image_spans_several_pattern_slots():
    # One pattern slot per image allows one fire whatever the thresholds (the power proxy is flat);
    # over six, a neuron fires again on the same image until SFA has raised its threshold.
    # Graded RESET: with the -2 V one, six slots per image erase the patterns and the layer falls silent.
    bits, _ = _two_patterns(60, seed=0)
    fires = {}
    for sfa in (True, False):
        cfg = dataclasses.replace(SMALL, sfa=sfa, schedule=dataclasses.replace(SMALL.schedule, pattern_slots=6),
                                  reset_off_pattern=True, astdp=AstdpParams(v_te_reset=-1.42))
        fires[sfa] = power_proxy(AstdpClassifier(cfg, 16).present(bits, learn=True))["fires_per_image"]
    assert fires[False] == pytest.approx(6.0)
    assert fires[True] < 0.95 * fires[False]


def test_same_config_gives_the_same_decisions_and_another_seed_other_devices():
    bits, _ = _two_patterns(20, seed=3)
    layers = [AstdpClassifier(cfg, 16) for cfg in (SMALL, SMALL, dataclasses.replace(SMALL, seed=2))]
    runs = [clf.present(bits, learn=True) for clf in layers]
    np.testing.assert_array_equal(runs[0].winners, runs[1].winners)
    np.testing.assert_array_equal(runs[0].write_energy, runs[1].write_energy)
    np.testing.assert_array_equal(layers[0].state.synapse_gaps, layers[1].state.synapse_gaps)
    assert not np.allclose(layers[0].state.synapse_gaps, layers[2].state.synapse_gaps, rtol=1e-6, atol=0)


def test_complement_inputs_are_the_default_and_bits_shape_is_checked():
    assert AstdpClassifier(SMALL, 16).stage.n_inputs == 32
    cfg = dataclasses.replace(SMALL, schedule=dataclasses.replace(SMALL.schedule, complement=False))
    clf = AstdpClassifier(cfg, 16)
    assert clf.stage.n_inputs == 16
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        clf.present(np.zeros((2, 15), dtype=bool), learn=True)
    assert digital.schedule_spikes(np.zeros(16, bool), SMALL.schedule,
                                   rng=np.random.default_rng(0)).raster.shape[1] == 32


def test_off_pattern_reset_depresses_every_input_outside_the_winners_pattern():
    bits, _ = _two_patterns(1, seed=4)
    runs = {}
    for flag in (False, True):
        clf = AstdpClassifier(dataclasses.replace(SMALL, reset_off_pattern=flag), 16)
        runs[flag] = (clf.present(bits, learn=True, keep_states=1), clf.state)
    outside = ~digital.pattern_inputs(bits[0], SMALL.schedule)
    np.testing.assert_array_equal(runs[True][0].reset_gates[0], outside)
    assert runs[False][0].reset_gates == (None,)
    (run, state), (plain, plain_state) = runs[True], runs[False]
    w = int(run.winners[0])
    assert w >= 0 and w == plain.winners[0]  # same start, same race: only the writes differ
    assert np.all(state.synapse_gaps[outside, w] > 1.8e-9)  # every off-pattern synapse depressed
    assert np.sum(plain_state.synapse_gaps[outside, w] > 1.8e-9) < outside.sum() / 2  # noise reaches few
    assert run.reset_events[0] >= outside.sum() > plain.reset_events[0]


# ---------------------------------------------------------------------------------------------
# Experiments on generated IDX data (a tiny front end trained in a second)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_dir(digit_data_dir):
    return digit_data_dir


def _tiny(data_dir, **kw):
    from cosim.experiments import ClassificationConfig, Features
    from cosim.frontend.config import TrainConfig

    train = TrainConfig(n_filters=8, epochs=2, qat_epochs=1, batch_size=32, calibration_images=100, augment_shift=0)
    base = dict(dataset="mnist", data_dir=str(data_dir), features=Features.SOFTWARE, train=train,
                classifier=ClassifierConfig(n_classes=4, redundancy=2, r_leak=28e3), learn_images=150, label_images=100,
                test_images=80)
    base.update(kw)
    return ClassificationConfig(**base)


def test_stream_shows_trained_classes_first_and_keeps_labelling_images_apart(data_dir):
    from cosim.experiments import learning_stream

    cfg = _tiny(data_dir, nontrained=(3,), new_classes_after=50)
    labels = np.random.default_rng(0).integers(0, 4, 400)
    learn, label = learning_stream(cfg, labels)
    assert learn.size == 150 and label.size == 100 and not set(learn) & set(label)
    again, _ = learning_stream(cfg, labels)  # every run of one config sees the same stream
    np.testing.assert_array_equal(learn, again)
    assert not np.isin(labels[learn[:50]], [3]).any() and np.isin(labels[learn[50:]], [3]).any()


def test_classification_run_records_config_accuracy_and_power(data_dir, tmp_path):
    from cosim.experiments import run_classification, write_result

    result = run_classification(_tiny(data_dir, nontrained=(3,)))
    row = result.row
    assert row["n_nontrained"] == 1 and row["test_images"] == 80 and row["learn_images"] == 150
    for key in ("accuracy", "accuracy_trained", "accuracy_nontrained"):
        assert 0.0 <= row[key] <= 1.0
    assert row["accuracy"] > 0.4  # four well-separated classes: far above chance (0.25)
    assert row["fires_per_image"] > 0 and row["write_energy_per_image_j"] > 0
    assert result.record["front_end"]["trained_classes"] == [0, 1, 2]
    paths = write_result(result, tmp_path / "run")
    record = json.loads(paths["run"].read_text())
    assert record["config"]["nontrained"] == [3] and record["config"]["classifier"]["redundancy"] == 2
    assert "numpy" in record["versions"]
    log = paths["learning"].read_text().splitlines()
    assert len(log) == 151 and log[0].startswith("image,label,new_class,winner")
    maps = [r["feature_map"] for r in result.learning]  # each learning image's A-STDP input (Fig. 7)
    assert all(len(m) == 8 and set(m) <= {"0", "1"} for m in maps)
    by_class = {r["label"]: r["feature_map"] for r in result.learning}
    assert len(set(by_class.values())) > 1  # the classes' maps differ
    rows = log[1].split(",")
    assert rows[-1] == maps[0]  # written as text, leading zeros kept


def test_bank_trained_on_a_held_out_class_is_refused(data_dir, tmp_path):
    from cosim.experiments import run_classification
    from cosim.frontend.io import save_frontend
    from cosim.frontend.train import train_frontend
    from cosim.datasets import load_dataset

    cfg = _tiny(data_dir)
    train = load_dataset("mnist", "train", data_dir=str(data_dir))
    front = train_frontend(train.images, train.labels, cfg.train)
    bank, _ = save_frontend(front, tmp_path / "bank")
    with pytest.raises(ValueError, match=r"held out|holds out"):
        run_classification(dataclasses.replace(cfg, bank=str(bank), nontrained=(2,)))


def test_run_record_names_the_bank_file_by_its_sha256(data_dir, tmp_path):
    import hashlib

    from cosim import experiments
    from cosim.datasets import load_dataset
    from cosim.frontend.io import save_frontend
    from cosim.frontend.train import train_frontend

    cfg = _tiny(data_dir)
    train = load_dataset("mnist", "train", data_dir=str(data_dir))
    bank, _ = save_frontend(train_frontend(train.images, train.labels, cfg.train), tmp_path / "bank")
    cfg = dataclasses.replace(cfg, bank=str(bank))
    digest = hashlib.sha256(bank.read_bytes()).hexdigest()
    feats, hit = experiments.cached_features(cfg, tmp_path / "cache")
    assert not hit
    paths = experiments.write_result(experiments.run_classification(cfg, feats), tmp_path / "run")
    front_end = json.loads(paths["run"].read_text())["front_end"]
    assert front_end["bank"] == str(bank) and front_end["bank_sha256"] == digest
    # a cache entry written before banks were hashed is served with the hash of the same bytes
    (entry,) = (tmp_path / "cache").glob("features-*.npz")
    with np.load(entry) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    del meta["record"]["front_end"]["bank_sha256"]
    np.savez(entry, **{**arrays, "meta": np.array(json.dumps(meta))})
    feats, hit = experiments.cached_features(cfg, tmp_path / "cache")
    assert hit and feats.record["front_end"]["bank_sha256"] == digest


def test_continual_sweep_appends_rows_and_resumes_without_recomputing(data_dir, tmp_path, monkeypatch):
    from cosim import experiments

    table = tmp_path / "new folder" / "c.jsonl"  # a folder that does not exist yet
    base = _tiny(data_dir, learn_images=80, label_images=60, test_images=40)
    rows = experiments.run_continual(base, [1], [0], [True, False], table)
    assert [(r["n_nontrained"], r["sfa"]) for r in rows] == [(1, True), (1, False)]
    assert len(table.read_text().splitlines()) == 2
    written = [json.loads(line) for line in table.read_text().splitlines()]
    for row, sfa in zip(written, (True, False)):
        config = json.loads(row["config"])  # each row carries the config that reproduces it
        assert config["classifier"]["sfa"] is sfa and config["nontrained"] == [int(row["nontrained"])]
        assert (row["p_set"], row["p_reset"], row["v_te_reset"]) == (1.0, 1.0, -2.0)
        # software features: no array, so the effective hardware is recorded as empty, not as defaults
        assert json.loads(row["hardware"]) == {} and row["front_end_seconds"] > 0

    def boom(cfg):
        raise AssertionError("finished runs must not be recomputed")
    monkeypatch.setattr(experiments, "prepare_features", boom)
    again = experiments.run_continual(base, [1], [0], [True, False], table)
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in rows]
    table.write_text(table.read_text() + '{"torn\n')
    with pytest.raises(ValueError, match=r"c.jsonl:3"):
        experiments.run_continual(base, [1], [0], [True], table)


def test_continual_sweep_with_a_feature_cache_trains_each_front_end_once(data_dir, tmp_path, monkeypatch):
    from cosim import experiments

    base = _tiny(data_dir, learn_images=80, label_images=60, test_images=40)
    cache = tmp_path / "cache"
    first = experiments.run_continual(base, [1], [0], [True], tmp_path / "a.jsonl", cache_dir=cache)
    assert len(list(cache.glob("features-*.npz"))) == 1

    def boom(cfg):
        raise AssertionError("a cached front end must not be trained again")
    monkeypatch.setattr(experiments, "prepare_features", boom)
    # a new table (other classifier settings) reads the same feature maps back
    again = experiments.run_continual(base, [1], [0], [True, False], tmp_path / "b.jsonl", cache_dir=cache)
    assert again[0]["accuracy"] == first[0]["accuracy"]
    assert [r["sfa"] for r in again] == [True, False]
    with pytest.raises(AssertionError, match="trained again"):  # without the cache it would train
        experiments.run_continual(base, [1], [0], [True], tmp_path / "c.jsonl")


def test_held_out_classes_are_seeded_and_distinct():
    from cosim.experiments import held_out_classes

    a, b = held_out_classes(5, 0), held_out_classes(5, 0)
    assert a == b and len(set(a)) == 5 and held_out_classes(5, 1) != a
    with pytest.raises(ValueError, match="non-trained"):
        held_out_classes(10, 0)


def test_inference_spice_check_runs_the_frozen_netlist_on_the_contending_slice():
    from cosim.classifier import spice_check_inference

    clf = AstdpClassifier(SMALL, 16)
    clf.present(_two_patterns(30, seed=0)[0], learn=True)
    before = clf.state
    test_bits, _ = _two_patterns(1, seed=5)  # one episode: ngspice takes minutes even for this slice
    check = spice_check_inference(clf, test_bits, contenders=2)
    assert clf.state is before  # nothing learned
    assert check["spice_inference_images"] == 1 and check["spice_contenders"] == 2
    assert check["spice_inference_winner_equal_slice"] == 1.0  # two clear patterns: the engines agree
    assert check["spice_inference_winner_equal_layer"] == 1.0
    with pytest.raises(ValueError, match="contenders"):
        spice_check_inference(clf, test_bits, contenders=0)


def test_kept_states_can_be_chosen_by_image_index():
    bits, _ = _two_patterns(12, seed=3)
    first = AstdpClassifier(SMALL, 16).present(bits, learn=True, keep_states=8)
    picked = AstdpClassifier(SMALL, 16).present(bits, learn=True, keep_states=[2, 7])
    assert len(picked.states_before) == 2 and len(first.states_before) == 8
    for got, want in zip(picked.states_before, (first.states_before[2], first.states_before[7])):
        np.testing.assert_array_equal(got.synapse_gaps, want.synapse_gaps)
    assert not np.array_equal(first.states_before[2].synapse_gaps, first.states_before[7].synapse_gaps)


def test_learning_spice_check_on_the_race_slice_agrees_with_the_fast_engine():
    from cosim.classifier import race_slice, spice_check

    clf = AstdpClassifier(SMALL, 16)
    run = clf.present(_two_patterns(30, seed=0)[0], learn=True, keep_states=[10, 25])
    sl = race_slice(clf, run.states_before[0], run.spike_trains[0], contenders=2)
    # Only spiking inputs and the two leading neurons; the slice keeps the layer's indices.
    assert sl.config.n_neurons == 2 and sl.config.n_inputs == len(sl.rows) < clf.stage.n_inputs
    assert all(run.spike_trains[0][i] for i in sl.rows)
    np.testing.assert_array_equal(sl.state.synapse_gaps, run.states_before[0].synapse_gaps[np.ix_(sl.rows, sl.cols)])
    check = spice_check(clf, run, contenders=2)
    assert check["spice_check_images"] == 2 and check["spice_contenders"] == 2
    assert check["spice_winner_equal"] == 1.0 and check["spice_winner_equal_layer"] == 1.0
    assert check["spice_switch_agreement"] >= 0.95  # the same synapses written by both engines
    assert check["spice_gap_max_diff_nm"] < 0.5
    with pytest.raises(ValueError, match="contenders"):
        spice_check(clf, run, contenders=0)


def test_classification_run_reports_learning_and_inference_spice_checks(data_dir):
    from cosim.experiments import run_classification

    result = run_classification(_tiny(data_dir, spice_check=2, spice_contenders=2))
    row = result.row
    assert row["spice_check_images"] == 2 and row["spice_inference_images"] == 2
    assert row["spice_contenders"] == 2
    for key in ("spice_winner_equal", "spice_winner_equal_layer", "spice_switch_agreement",
                "spice_inference_winner_equal_slice", "spice_inference_winner_equal_layer"):
        assert 0.0 <= row[key] <= 1.0, key
    assert result.record["spice_check"]["spice_gap_max_diff_nm"] == row["spice_gap_max_diff_nm"] >= 0


def test_learning_spice_check_with_off_pattern_reset_keeps_the_gated_inputs_in_the_slice():
    from cosim.classifier import race_slice, spice_check

    clf = AstdpClassifier(dataclasses.replace(SMALL, reset_off_pattern=True), 16)
    run = clf.present(_two_patterns(20, seed=0)[0], learn=True, keep_states=[12])
    sl = race_slice(clf, run.states_before[0], run.spike_trains[0], 2, reset_gated=run.reset_gates[0])
    assert sl.config.n_inputs == clf.stage.n_inputs  # every input spikes in the pattern or is gated
    np.testing.assert_array_equal(sl.reset_gated, run.reset_gates[0][sl.rows])
    check = spice_check(clf, run, contenders=2)
    assert check["spice_check_images"] == 1 and check["spice_winner_equal"] == 1.0
    assert check["spice_switch_agreement"] >= 0.95 and check["spice_gap_max_diff_nm"] < 0.5


def _checks_with(monkeypatch, episode, *, learn, kept, inferred):
    """Both SPICE checks of a small learning run, with ``episode`` standing in for ngspice's."""
    from cosim import astdp_stage
    from cosim.classifier import spice_check, spice_check_inference

    clf = AstdpClassifier(SMALL, 16)
    bits = _two_patterns(learn, seed=0)[0]
    run = clf.present(bits, learn=True, keep_states=kept)
    monkeypatch.setattr(astdp_stage, "run_episode", episode)
    return spice_check(clf, run, contenders=2), spice_check_inference(clf, bits[:inferred], contenders=2)


def test_a_spice_check_episode_that_never_converges_is_counted_not_fatal(monkeypatch, tmp_path):
    from cosim import astdp_stage

    def diverge(*args, **kwargs):
        exc = astdp_stage.SimulationFailed.__new__(astdp_stage.SimulationFailed)
        RuntimeError.__init__(exc, "every solver setting failed")
        exc.netlist_path = tmp_path / "episode.cir"
        raise exc
    check, inference = _checks_with(monkeypatch, diverge, learn=4, kept=2, inferred=1)
    assert check["spice_check_failed"] == 2 and check["spice_check_images"] == 0
    assert np.isnan(check["spice_winner_equal"])
    assert inference["spice_inference_failed"] == 1 and inference["spice_inference_images"] == 0
    assert check["spice_check_retried"] == 0 and inference["spice_inference_retried"] == 0


def test_spice_check_counts_the_episodes_that_needed_a_safer_solver_setting(monkeypatch):
    from cosim import astdp_stage

    real, calls = astdp_stage.run_episode, []

    def every_other_retried(*args, **kwargs):  # as if every second episode had needed a retry
        calls.append(kwargs["title"])
        return dataclasses.replace(real(*args, **kwargs), retried=len(calls) % 2 == 0)
    check, inference = _checks_with(monkeypatch, every_other_retried, learn=6, kept=3, inferred=2)
    assert check["spice_check_images"] == 3 and check["spice_check_retried"] == 1
    assert inference["spice_inference_images"] == 2 and inference["spice_inference_retried"] == 1


def test_experiment_cli_passes_off_pattern_depression_to_the_run(tmp_path, digit_images, mnist_files):
    from click.testing import CliRunner

    from rramcosim.cli import main

    data_dir = mnist_files(tmp_path / "data", digit_images(300, 0, n_classes=10), digit_images(60, 1, n_classes=10))
    out = tmp_path / "cli"
    res = CliRunner().invoke(main, ["experiment", "classify", "--data-dir", str(data_dir), "--features", "software",
                                    "--epochs", "1", "--learn-images", "60", "--label-images", "40",
                                    "--test-images", "20", "--redundancy", "1", "--reset-off-pattern",
                                    "--p-set", "0.5", "--p-reset", "0.2", "--reset-voltage", "-1.45",
                                    "--synapse-c2c", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "mnist" / "run.json").read_text())
    clf = record["config"]["classifier"]
    assert clf["reset_off_pattern"] is True and (clf["p_set"], clf["p_reset"]) == (0.5, 0.2)
    assert clf["c2c"] is True and record["result"]["synapse_c2c"] is True
    assert clf["astdp"]["v_te_reset"] == -1.45 and clf["astdp"]["v_te_set"] == 2.0
    assert "reset_off_pattern" in (out / "summary.csv").read_text().splitlines()[0]
    cached = list((tmp_path / "cache").glob("features-*.npz"))
    assert len(cached) == 1
    # other classifier settings, same front end: the cached maps are reused, bit for bit
    before = cached[0].stat().st_mtime_ns
    res = CliRunner().invoke(main, ["experiment", "classify", "--data-dir", str(data_dir), "--features", "software",
                                    "--epochs", "1", "--learn-images", "60", "--label-images", "40",
                                    "--test-images", "20", "--redundancy", "2", "--cache-dir", str(tmp_path / "cache"),
                                    "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    assert list((tmp_path / "cache").glob("features-*.npz")) == cached and cached[0].stat().st_mtime_ns == before
    maps = [line.split(",") for line in (out / "mnist" / "learning.csv").read_text().splitlines()]
    again = [line.split(",") for line in (tmp_path / "again" / "mnist" / "learning.csv").read_text().splitlines()]
    col = maps[0].index("feature_map")
    assert [r[col] for r in maps] == [r[col] for r in again]


def test_experiment_cli_solves_the_reset_level_for_a_drop_and_refuses_both_level_options(tmp_path, monkeypatch,
                                                                                        digit_images, mnist_files):
    from click.testing import CliRunner

    from cosim import classifier
    from rramcosim.cli import main

    calls = []

    def solve(clf, drop):  # the solve is tested with the fast model in test_classification_sweeps
        calls.append(drop)
        return dataclasses.replace(clf, astdp=dataclasses.replace(clf.astdp, v_te_reset=-1.47)), \
            {"v_te_reset": -1.47, "reset_drop": drop}

    monkeypatch.setattr(classifier, "with_reset_drop", solve)
    data_dir = mnist_files(tmp_path / "data", digit_images(300, 0, n_classes=10), digit_images(60, 1, n_classes=10))
    args = ["experiment", "classify", "--data-dir", str(data_dir), "--features", "software", "--epochs", "1",
            "--learn-images", "60", "--label-images", "40", "--test-images", "20", "--redundancy", "1",
            "--reset-off-pattern", "--no-cache"]
    res = CliRunner().invoke(main, [*args, "--dataset", "mnist,noisy-mnist", "--reset-drop", "0.03",
                                    "--verify-tolerance", "0.5", "--verify-relax", "1.3", "--pattern-slots", "3",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert calls == [0.03]  # solved once for both data sets
    for name in ("mnist", "noisy-mnist"):
        record = json.loads((tmp_path / "out" / name / "run.json").read_text())
        assert record["config"]["dataset"] == name
        assert record["config"]["classifier"]["astdp"]["v_te_reset"] == -1.47
        assert record["config"]["hardware"]["verify_tolerance"] == 0.5
        assert record["config"]["hardware"]["verify_relax"] == 1.3
        assert record["result"]["verify_tolerance"] == 0.5
        assert record["config"]["classifier"]["schedule"]["pattern_slots"] == 3
    res = CliRunner().invoke(main, [*args, "--reset-drop", "0.03", "--reset-voltage", "-1.4",
                                    "--out", str(tmp_path / "both")])
    assert res.exit_code == 2 and "--reset-drop" in res.output and not (tmp_path / "both").exists()
    res = CliRunner().invoke(main, [*args, "--reset-drop", "1.5", "--out", str(tmp_path / "big")])
    assert res.exit_code == 2 and "--reset-drop" in res.output
    res = CliRunner().invoke(main, [*args, "--verify-tolerance", "0", "--out", str(tmp_path / "zero")])
    assert res.exit_code == 2 and "--verify-tolerance" in res.output and not (tmp_path / "zero").exists()
    res = CliRunner().invoke(main, [*args, "--verify-relax", "1.3", "--out", str(tmp_path / "alone")])
    assert res.exit_code == 2 and "--verify-relax" in res.output and not (tmp_path / "alone").exists()
    res = CliRunner().invoke(main, [*args, "--verify-tolerance", "0.5", "--verify-relax", "0.9",
                                    "--out", str(tmp_path / "narrowing")])
    assert res.exit_code == 2 and "--verify-relax" in res.output


def test_experiment_cli_rejects_a_positive_reset_voltage(tmp_path):
    from click.testing import CliRunner

    from rramcosim.cli import main

    res = CliRunner().invoke(main, ["experiment", "classify", "--data-dir", str(tmp_path), "--reset-voltage", "0.5",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "--reset-voltage" in res.output and not (tmp_path / "out").exists()


@pytest.mark.ngspice  # the layer's access transistor is characterised in ngspice
def test_experiment_cli_refuses_a_reset_level_that_cannot_switch_before_any_front_end(tmp_path):
    from click.testing import CliRunner

    from rramcosim.cli import main

    res = CliRunner().invoke(main, ["experiment", "classify", "--data-dir", str(tmp_path / "absent"),
                                    "--reset-voltage", "-0.5", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "--reset-voltage" in res.output and "switching threshold" in res.output
    assert not (tmp_path / "out").exists()


def test_experiment_cli_programs_the_front_end_at_the_chosen_ic_and_v_stop(tmp_path, digit_images, mnist_files):
    from click.testing import CliRunner

    from rramcosim.cli import main

    data_dir = mnist_files(tmp_path / "data", digit_images(300, 0, n_classes=10), digit_images(60, 1, n_classes=10))
    args = ["experiment", "classify", "--data-dir", str(data_dir), "--epochs", "1", "--learn-images", "60",
            "--label-images", "40", "--test-images", "20", "--redundancy", "1", "--no-cache"]
    res = CliRunner().invoke(main, [*args, "--filter-ic", "30e-6", "100e-6", "--filter-v-stop", "1.5",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "out" / "mnist" / "run.json").read_text())
    assert record["hardware"]["i_c_range"] == [30e-6, 100e-6] and record["hardware"]["v_stop"] == 1.5
    assert record["hardware"]["verify_tolerance"] is None  # open loop unless asked
    res = CliRunner().invoke(main, [*args, "--filter-ic", "100e-6", "30e-6", "--out", str(tmp_path / "swapped")])
    assert res.exit_code == 2 and "--filter-ic" in res.output and not (tmp_path / "swapped").exists()


def test_continual_summary_averages_over_seeds_per_count_and_sfa_mode():
    from cosim.experiments import summarize_continual

    rows = [{"n_nontrained": 2, "sfa": True, "seed": 0, "nontrained": "1 5", "accuracy": 0.8, "fires_per_image": 2.0},
            {"n_nontrained": 2, "sfa": True, "seed": 1, "nontrained": "0 3", "accuracy": 0.6, "fires_per_image": 4.0},
            {"n_nontrained": 2, "sfa": False, "seed": 0, "nontrained": "1 5", "accuracy": 0.7},
            {"n_nontrained": 1, "sfa": True, "seed": 0, "nontrained": "4", "accuracy": 0.9,
             "accuracy_nontrained": float("nan")}]
    summary = summarize_continual(rows)
    assert [(r["n_nontrained"], r["sfa"], r["seeds"]) for r in summary] == [(1, True, 1), (2, False, 1), (2, True, 2)]
    on = summary[2]
    assert on["accuracy_mean"] == pytest.approx(0.7) and on["accuracy_std"] == pytest.approx(0.1)
    assert on["fires_per_image_mean"] == pytest.approx(3.0) and on["held_out"] == "1 5 | 0 3"
    assert np.isnan(summary[1]["fires_per_image_mean"]) and np.isnan(summary[0]["accuracy_nontrained_mean"])


def test_continual_cli_keeps_feature_maps_in_the_cache_dir(tmp_path, digit_images, mnist_files):
    from click.testing import CliRunner

    from rramcosim.cli import main

    data_dir = mnist_files(tmp_path / "data", digit_images(300, 0, n_classes=10), digit_images(60, 1, n_classes=10))
    args = ["experiment", "continual", "--data-dir", str(data_dir), "--features", "software", "--epochs", "1",
            "--learn-images", "60", "--label-images", "40", "--test-images", "20", "--redundancy", "1",
            "--counts", "1", "--seeds", "0", "--sfa", "on"]
    res = CliRunner().invoke(main, [*args, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "cache").glob("features-*.npz"))) == 1
    assert (tmp_path / "a" / "continual.csv").read_text().count("\n") == 2  # header and one run
    summary = (tmp_path / "a" / "continual_summary.csv").read_text().splitlines()
    assert len(summary) == 2 and summary[0].startswith("n_nontrained,sfa,seeds,held_out,accuracy_mean")
    res = CliRunner().invoke(main, [*args, "--no-cache", "--cache-dir", str(tmp_path / "other"),
                                    "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "other").exists()


@pytest.mark.ngspice  # the fast A-STDP layer characterises its access transistor in ngspice
@pytest.mark.slow
def test_spice_features_rerun_the_programmed_array_and_score_its_maps(data_dir, tmp_path):
    from cosim.experiments import Features, cached_features, run_classification
    from cosim.frontend.config import TrainConfig

    # 26 px filters on 28 px images: 3 x 3 positions, so the VACASK transient takes seconds.
    train = TrainConfig(n_filters=8, size=26, epochs=2, qat_epochs=1, batch_size=32, calibration_images=100,
                        augment_shift=0)
    cfg = _tiny(data_dir, features=Features.ARRAY, train=train, spice_features=2, test_images=20)
    feats, hit = cached_features(cfg, tmp_path)
    spice = feats.record["front_end_spice"]
    assert not hit and spice["images"] == 2 and spice["backend"] == "vacask"
    # Same programmed gaps and wires in both engines: the pooled currents agree to a few per cent,
    # so the maps match bit for bit unless a current sits within that of its V_REF.
    assert 0 <= spice["pooled_max_rel_error"] < 0.05 and spice["feature_bits_equal"] >= 0.9
    assert np.asarray(spice["bits"]).shape == (2, 8)
    row = run_classification(cfg, feats).row
    assert row["spice_features_images"] == 2 and 0 <= row["spice_features_prediction_equal"] <= 1
    # The layer scores the SPICE maps; identical maps give the fast engine's predictions.
    if spice["feature_maps_equal"] == 1.0:
        assert row["spice_features_prediction_equal"] == 1.0
        assert row["spice_features_accuracy"] == row["fast_features_accuracy_same_images"]
    # The cache keys the re-run: a config without it does not get (or reuse) this entry.
    plain_feats, plain_hit = cached_features(dataclasses.replace(cfg, spice_features=0), tmp_path)
    assert not plain_hit and "front_end_spice" not in plain_feats.record


def test_spice_features_need_the_array():
    from cosim.experiments import ClassificationConfig, Features

    with pytest.raises(ValueError, match="spice_features.*features=array"):
        ClassificationConfig(features=Features.SOFTWARE, spice_features=1)
    with pytest.raises(ValueError, match="spice_features"):
        ClassificationConfig(spice_features=5, test_images=3)
