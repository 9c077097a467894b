"""Metaplastic quantised networks on multi-level RRAM: rule, quantiser, devices, training, SPICE."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from compact_model import cards
from cosim.metaplastic.devices import (DeviceArray, DeviceConfig, EnduranceError, EndurancePolicy,
                                       proportional_levels)
from cosim.datasets import ENV_DATA_DIR
from cosim.metaplastic.experiment import (ExperimentConfig, TaskKind, build_tasks, footprint_ratio,
                                          memory_footprint, run_sequential_experiment, write_csv)
from cosim.metaplastic.network import Activation, Mode, QuantizedMLP, Task, TrainConfig, train_sequential
from cosim.metaplastic.rule import (MetaplasticAdam, MetaplasticSGD, WeightQuantizer, fixed_point_step,
                                    metaplastic_attenuation, round_to_fixed_point)
from cosim.metaplastic.study import footprints

CARD = "siox-literature"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one thread is fastest, and the machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def card():
    return cards.load_preset(CARD)


@pytest.fixture(scope="module")
def table8(card):
    return proportional_levels(card, 8)


def _two_tasks(n: int = 1000, d: int = 40, classes: int = 4) -> list[Task]:
    """Task t: class prototypes on half t of the features, noise elsewhere. The tasks share the
    output units, so learning the second overwrites what the first needed unless protected."""
    tasks = []
    for half in (0, 1):
        rng = np.random.default_rng(half + 1)
        protos = rng.standard_normal((classes, d // 2))

        def split(m: int) -> tuple[np.ndarray, np.ndarray]:
            y = rng.integers(0, classes, m)
            x = rng.standard_normal((m, d))
            x[:, half * d // 2:(half + 1) * d // 2] += protos[y]
            return x.astype(np.float32), y

        (tx, ty), (vx, vy) = split(n), split(500)
        tasks.append(Task(name=f"half{half}", train_x=tx, train_y=ty, test_x=vx, test_y=vy))
    return tasks


SYNTH = dict(hidden=32, n_levels=3, w_range=0.25, init_range=0.25, epochs_per_task=20,
             batch_size=50, activation=Activation.HARDTANH, seed=0)


# ------------------------------------------------------------------------------- the rule
def test_attenuation_toward_zero_is_exactly_f_meta_and_away_is_full():
    hidden = torch.tensor([0.5, 0.5, -1.2, -1.2, 2.0, 0.0])
    update = torch.tensor([-0.1, 0.1, 0.3, -0.3, -0.01, 0.2])
    m = 1.35
    out = metaplastic_attenuation(update, hidden, m)
    f = 1 - torch.tanh(m * hidden) ** 2
    toward = torch.tensor([True, False, True, False, True, False])
    torch.testing.assert_close(out[toward], update[toward] * f[toward], rtol=0, atol=0)
    torch.testing.assert_close(out[~toward], update[~toward], rtol=0, atol=0)
    # An update that crosses zero (0.5 - 0.7) is toward zero too: attenuated.
    assert metaplastic_attenuation(torch.tensor([-0.7]), torch.tensor([0.5]), m).item() == \
        pytest.approx(-0.7 * (1 - math.tanh(m * 0.5) ** 2))
    # m = 0: plain update everywhere.
    torch.testing.assert_close(metaplastic_attenuation(update, hidden, 0.0), update, rtol=0, atol=0)


def test_sgd_and_adam_steps_pass_through_the_rule():
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0, 1.0, -1.0]))
    grad = torch.tensor([1.0, 1.0, -1.0, -1.0])  # SGD steps -lr*grad: toward 0, away, away, toward
    opt = MetaplasticSGD([w], lr=0.1, meta=2.0)
    w.grad = grad.clone()
    opt.step()
    f = 1 - math.tanh(2.0) ** 2
    expected = torch.tensor([1 - 0.1 * f, -1.1, 1.1, -1 + 0.1 * f])
    torch.testing.assert_close(w.detach(), expected)
    # Adam's first step is -lr * sign(grad) (bias-corrected); with m = 0 it is plain Adam.
    w2 = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    ref = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    mine, torch_adam = MetaplasticAdam([w2], lr=0.01, meta=0.0), torch.optim.Adam([ref], lr=0.01)
    for g in ([0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]):
        for p in (w2, ref):
            p.grad = torch.tensor(g)
        mine.step()
        torch_adam.step()
    torch.testing.assert_close(w2.detach(), ref.detach(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="meta"):
        MetaplasticSGD([w], lr=0.1, meta=-1.0)


# --------------------------------------------------------------------------- the quantiser
@pytest.mark.parametrize("k, device_levels, bits", [(2, 2, 1), (3, 2, 2), (4, 4, 2), (15, 8, 4), (16, 16, 4)])
def test_quantizer_levels(k, device_levels, bits):
    q = WeightQuantizer(n_levels=k, w_range=0.5)
    assert q.device_levels == device_levels and q.bits == bits
    hidden = torch.linspace(-1.0, 1.0, 2001)
    values = q.quantize(hidden)
    np.testing.assert_allclose(np.unique(values.numpy()), q.values(), atol=1e-6)
    levels = q.signed_levels(hidden)
    assert int(levels.abs().max()) == q.max_level
    torch.testing.assert_close(levels.float() * q.unit, values)
    # |W_h| >= w_range saturates at +-1; the quantisation error inside the range is <= half a step.
    assert values[0] == -1 and values[-1] == 1
    inside = hidden.abs() <= 0.5
    assert float((values[inside] - hidden[inside] / 0.5).abs().max()) <= 1.0 / (k - 1) + 1e-6


def test_binary_quantizer_is_sign():
    q = WeightQuantizer(n_levels=2)
    h = torch.tensor([-3.0, -0.01, 0.01, 2.0])
    torch.testing.assert_close(q.quantize(h), torch.sign(h))
    with pytest.raises(ValueError, match="n_levels"):
        WeightQuantizer(n_levels=1)


# ------------------------------------------------------------------------------- devices
def test_proportional_levels(table8):
    g = table8.g_median
    steps = (g - g[0]) / ((g[-1] - g[0]) / 7)
    np.testing.assert_allclose(steps, np.arange(8), atol=0.02)
    assert np.all(np.diff(table8.i_c) > 0)


def test_write_counting_and_endurance(card, table8):
    cfg = DeviceConfig(c2c=False, d2d=False, read_noise=0.0, max_attempts=1, endurance=3)
    arr = DeviceArray((4, 5), table8, card, cfg, seed=0)
    rng = np.random.default_rng(0)
    target = np.zeros((4, 5), int)
    target[0, :3] = [1, 5, 0]  # two devices change (the third stays at level 0)
    rep = arr.program(target, rng)
    assert (rep.programmed, rep.writes, rep.pulses) == (2, 2, 4)  # RESET + SET each
    assert arr.writes.reshape(4, 5)[0].tolist() == [1, 1, 0, 0, 0]
    assert arr.program(target, rng).writes == 0  # unchanged levels are not rewritten
    np.testing.assert_array_equal(arr.level_array(), target)
    target2 = target.copy()
    for level in (2, 3, 4):  # device (0, 0) written 4 times in all: over the budget of 3
        target2[0, 0] = level
        rep = arr.program(target2, rng)
    assert rep.newly_worn == 1 and arr.worn.sum() == 1
    target2[0, 0] = 6
    assert arr.program(target2, rng).writes == 0  # a worn device is stuck
    assert arr.level_array()[0, 0] == 4
    strict = DeviceArray((2,), table8, card, DeviceConfig(d2d=False, endurance=1,
                                                          endurance_policy=EndurancePolicy.RAISE), seed=0)
    strict.program(np.array([3, 0]), rng)
    with pytest.raises(EnduranceError, match="endurance budget of 1"):
        strict.program(np.array([2, 0]), rng)


def test_write_verify_converges_and_counts_pulses(card, table8):
    target = np.random.default_rng(3).integers(1, 8, size=2000)
    tight = 0.5
    one = DeviceArray((2000,), table8, card, DeviceConfig(d2d=False, max_attempts=1, read_noise=0.0), seed=1)
    one.program(target, np.random.default_rng(5))
    verified = DeviceArray((2000,), table8, card,
                           DeviceConfig(d2d=False, max_attempts=20, verify_tolerance=tight,
                                        read_noise=0.0), seed=1)
    rep = verified.program(target, np.random.default_rng(5))
    err_one = np.abs(one.read() - table8.g_median[target]) / one.g_step
    err_ver = np.abs(verified.read() - table8.g_median[target]) / verified.g_step
    assert np.mean(err_one > tight) > 0.2  # single shot: C2C spreads the upper levels
    assert rep.unverified == np.sum(err_ver > tight) and rep.unverified <= 0.01 * target.size
    assert rep.writes == verified.writes.sum() > target.size  # retries are extra writes
    assert rep.pulses == 2 * rep.writes  # every attempt: RESET + SET (levels >= 1)
    assert verified.writes.max() <= 20


def test_device_arrays_are_deterministic(card, table8):
    target = np.random.default_rng(0).integers(0, 8, size=(3, 50))
    reads = []
    for _ in range(2):
        arr = DeviceArray((3, 50), table8, card, DeviceConfig(d2d_pool=16), seed=4)
        arr.program(target, np.random.default_rng(9))
        reads.append(arr.read(np.random.default_rng(2)))
    np.testing.assert_array_equal(reads[0], reads[1])


# ------------------------------------------------------------------------------- training
def test_metaplasticity_reduces_forgetting():
    tasks = _two_tasks()
    plain = train_sequential(tasks, TrainConfig(meta=0.0, **SYNTH))
    meta = train_sequential(tasks, TrainConfig(meta=20.0, **SYNTH))
    # Both learn task 0; after task 1 the plain network has forgotten most of it (chance 0.25).
    assert plain.accuracy[0, 0] > 0.85 and meta.accuracy[0, 0] > 0.85
    assert plain.accuracy[1, 1] > 0.9 and meta.accuracy[1, 1] > 0.7
    assert plain.accuracy[1, 0] < 0.5
    assert meta.accuracy[1, 0] > plain.accuracy[1, 0] + 0.25


def test_training_is_deterministic_and_device_mode_counts_writes(card):
    tasks = [Task(name=t.name, train_x=t.train_x[:300], train_y=t.train_y[:300], test_x=t.test_x[:100],
                  test_y=t.test_y[:100]) for t in _two_tasks()]
    cfg = TrainConfig(**{**SYNTH, "epochs_per_task": 2, "n_levels": 5}, meta=5.0, mode=Mode.DEVICE,
                      device=DeviceConfig(d2d_pool=16))
    a = train_sequential(tasks, cfg, card=card)
    b = train_sequential(tasks, cfg, card=card)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    assert a.write_stats == b.write_stats
    assert a.write_stats["device_writes_total"] > 0
    torch.testing.assert_close(a.model.w1, b.model.w1, rtol=0, atol=0)
    # The devices hold the quantised hidden weights' levels.
    lev = a.model.quantizer.signed_levels(a.model.w1.detach()).numpy()
    np.testing.assert_array_equal(a.devices.arrays["w1"].level_array(),
                                  np.stack([np.maximum(lev, 0), np.maximum(-lev, 0)]))
    with pytest.raises(ValueError, match="card"):
        train_sequential(tasks, cfg)


def test_affine_batch_norm_is_kept_per_task_and_trained_without_metaplasticity():
    tasks = [Task(name=t.name, train_x=t.train_x[:400], train_y=t.train_y[:400], test_x=t.test_x[:200],
                  test_y=t.test_y[:200]) for t in _two_tasks()]
    cfg = TrainConfig(**{**SYNTH, "epochs_per_task": 3}, meta=20.0, bn_affine=True)
    res = train_sequential(tasks, cfg)
    bn = res.model.bn_parameters()
    assert len(bn) == 4  # scale and shift of both batch norms
    assert not torch.allclose(bn[0], torch.ones_like(bn[0]))  # trained
    state = res.model.bn_state()
    assert {"bn1.weight", "bn1.bias", "bn2.running_mean"} <= set(state)
    # Restoring a state restores the scales too (what evaluating an earlier task does).
    other = {k: v + 1.0 for k, v in state.items()}
    res.model.load_bn_state(other)
    torch.testing.assert_close(res.model.bn1.weight.detach(), state["bn1.weight"] + 1.0)
    # The batch-norm group has m = 0: its steps are never attenuated.
    from cosim.metaplastic.network import _optimizer
    groups = _optimizer(res.model, cfg).param_groups
    assert [g["meta"] for g in groups] == [20.0, 0.0]


def test_optimizer_reset_changes_the_second_task_only():
    tasks = [Task(name=t.name, train_x=t.train_x[:300], train_y=t.train_y[:300], test_x=t.test_x[:200],
                  test_y=t.test_y[:200]) for t in _two_tasks()]
    cfg = TrainConfig(**{**SYNTH, "epochs_per_task": 2}, meta=5.0)
    keep = train_sequential(tasks, cfg)
    reset = train_sequential(tasks, TrainConfig(**{**SYNTH, "epochs_per_task": 2}, meta=5.0,
                                                reset_optimizer=True))
    np.testing.assert_array_equal(keep.accuracy[0], reset.accuracy[0])
    assert not torch.equal(keep.model.w1, reset.model.w1)


def test_fixed_point_hidden_weights():
    assert fixed_point_step(8, 1.0) == pytest.approx(2 / 255)
    x = torch.tensor([-3.0, -0.5, 0.004, 0.0039, 0.7, 2.0])
    y = round_to_fixed_point(x, 8, 1.0)
    step = 2 / 255
    assert y[0] == -1.0 and y[-1] == 1.0
    torch.testing.assert_close(torch.round(y[1:-1] / step) * step, y[1:-1])
    assert (y - torch.clamp(x, -1, 1)).abs().max() <= step / 2 + 1e-7
    # Training with 10-bit hidden weights stores only grid values.
    tasks = [Task(name=t.name, train_x=t.train_x[:200], train_y=t.train_y[:200], test_x=t.test_x[:50],
                  test_y=t.test_y[:50]) for t in _two_tasks()]
    res = train_sequential(tasks, TrainConfig(**{**SYNTH, "epochs_per_task": 1}, hidden_bits=10,
                                              hidden_max=0.5))
    w = res.model.w1.detach()
    s10 = fixed_point_step(10, 0.5)
    torch.testing.assert_close(torch.round(w / s10) * s10, w)
    assert w.abs().max() <= 0.5 + 1e-7
    with pytest.raises(ValueError, match="hidden_bits"):
        TrainConfig(hidden_bits=1)


def test_run_sequential_experiment_table(tmp_path):
    tasks = [Task(name=t.name, train_x=t.train_x[:200], train_y=t.train_y[:200], test_x=t.test_x[:50],
                  test_y=t.test_y[:50]) for t in _two_tasks()]
    config = ExperimentConfig(metas=(0.0, 3.0), modes=(Mode.SOFTWARE,),
                              train=TrainConfig(**{**SYNTH, "epochs_per_task": 1}), seed=2)
    rows = run_sequential_experiment(config, tasks=tasks)
    assert len(rows) == 2 * 2 * 2  # runs x after-task x eval-task
    assert {r["run"] for r in rows} == {"m=0/software", "m=3/software"}
    assert all(r["seed"] == 2 and r["torch"] and 0 <= r["accuracy"] <= 1 for r in rows)
    path = write_csv(rows, tmp_path / "t.csv")
    assert path.read_text().splitlines()[0].startswith("run,after_task_index")
    with pytest.raises(ValueError, match="metas"):
        ExperimentConfig(metas=(-1.0,))


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="hidden"):
        TrainConfig(hidden=0)
    with pytest.raises(ValueError, match="init_range"):
        TrainConfig(n_levels=3, w_range=1.0, init_range=0.1)
    with pytest.raises(ValueError, match="verify_tolerance"):
        DeviceConfig(verify_tolerance=0)


# ------------------------------------------------------------------------ memory footprint
def test_memory_footprint_arithmetic():
    fp = memory_footprint([(64, 784), (10, 64)], 15, hidden_bits=32)
    n = 64 * 784 + 10 * 64
    assert fp == {"weights": n, "devices": 2 * n, "hidden_bits": 32 * n, "device_bits": 4 * n,
                  "total_bits": 36 * n}
    # Same width: the binarised network is smaller (1 bit vs 4 per weight).
    assert footprint_ratio(64, 64, 15) == pytest.approx(33 / 36)
    # A 1024-wide BNN vs a 64-wide 15-level network.
    expected = (1024 * 794 * 33) / (64 * 794 * 36)
    assert footprint_ratio(1024, 64, 15) == pytest.approx(expected)
    # Same architecture: 33 bits per weight (binarised) vs 4 + b (quantised, b-bit hidden).
    n = 100 * 784 + 10 * 100
    same = footprints(TrainConfig(hidden=100, n_levels=15, hidden_bits=12))
    assert same["binarized"]["total_bits"] == 33 * n and same["quantized"]["total_bits"] == 16 * n
    assert same["ratio_binarized_over_quantized"] == pytest.approx(33 / 16)
    assert footprints(TrainConfig(hidden=100))["ratio_binarized_over_quantized"] == pytest.approx(33 / 36)


# ---------------------------------------------------------------------------- SPICE and data
@pytest.mark.ngspice
def test_programmed_slice_in_ngspice_matches_g_at_v(card, table8):
    from cosim.metaplastic.spice_check import spice_check_slice

    arr = DeviceArray((2, 6, 16), table8, card, DeviceConfig(d2d_pool=8), seed=3)
    rng = np.random.default_rng(1)
    lev = rng.integers(-7, 8, size=(6, 16))
    arr.program(np.stack([np.maximum(lev, 0), np.maximum(-lev, 0)]), rng)
    x = np.vstack([np.ones(16), rng.uniform(0, 1, 16)])
    check = spice_check_slice(arr, x, rows=16, cols=6)
    # The netlist is the compact model: ngspice reproduces its I(V) sum to solver precision.
    assert check.max_rel_error_model < 1e-6
    # All rows at v_read: G was read there, so G @ V is exact up to the same precision.
    first = np.abs(check.spice[0] - check.ideal[0]) / np.abs(check.ideal[0])
    assert first.max() < 1e-6
    # Analog inputs below v_read: the I-V non-linearity shows, but stays small at <= 0.1 V.
    assert check.max_rel_error_ideal < 0.02
    assert ".subckt rram_static" in check.deck and "xcell_15_11 " in check.deck.lower()


def test_slice_netlist_holds_every_programmed_cell(card, table8):
    from cosim.metaplastic.spice_check import layer_slice, slice_netlist_text

    arr = DeviceArray((2, 5, 12), table8, card, DeviceConfig(d2d_pool=4), seed=0)
    lev = np.random.default_rng(2).integers(-7, 8, size=(5, 12))
    arr.program(np.stack([np.maximum(lev, 0), np.maximum(-lev, 0)]), np.random.default_rng(0))
    gaps, flat = layer_slice(arr, rows=4, cols=3, row_offset=8, col_offset=2)
    # Row r, pair j: G+ is device (0, 2 + j, 8 + r), G- is (1, 2 + j, 8 + r).
    np.testing.assert_array_equal(gaps[0], arr.gaps.reshape(2, 5, 12)[0, 2:5, 8:12].T)
    np.testing.assert_array_equal(gaps[1], arr.gaps.reshape(2, 5, 12)[1, 2:5, 8:12].T)
    assert flat[1, 3] == 1 * 60 + 3 * 12 + 9
    text = slice_netlist_text(arr, np.full(4, 0.1), rows=4, cols=3, row_offset=8, col_offset=2)
    cells = [ln for ln in text.splitlines() if ln.lower().startswith("xcell_")]
    assert len(cells) == 4 * 6 and "histogram" in text
    with pytest.raises(ValueError, match="outside the layer"):
        layer_slice(arr, rows=5, cols=3, row_offset=8)


@pytest.mark.data
def test_real_data_tasks_load():
    root = Path(os.environ.get(ENV_DATA_DIR) or SHARED)
    if not (root / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"no MNIST IDX files under {root}")
    config = ExperimentConfig(tasks=(TaskKind.MNIST, TaskKind.FASHION_MNIST, TaskKind.PERMUTED_MNIST),
                              n_train=100, n_test=50, data_dir=str(root))
    tasks = build_tasks(config)
    assert [t.name for t in tasks] == ["mnist", "fashion-mnist", "pmnist-2"]
    assert tasks[0].train_x.shape == (100, 784) and tasks[0].train_x.max() <= 1.0
    np.testing.assert_allclose(np.sort(tasks[2].train_x, 1), np.sort(tasks[0].train_x, 1))
    assert not np.array_equal(tasks[2].train_x, tasks[0].train_x)
    assert isinstance(root, Path)
