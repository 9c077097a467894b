"""`rramcosim experiment metaplastic` on tiny generated IDX files (no ../shared data needed)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cosim.datasets.idx import write_idx
from rramcosim.cli import main

N_TRAIN, N_TEST = 120, 40


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _write_set(folder, seed: int) -> None:
    """Ten classes, each a bright 4x4 block at its own place on a dim noisy 28x28 image."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, y in enumerate(labels):
            r, c = 4 + 8 * (y // 4) + seed, 2 + 6 * (y % 4)
            images[i, r:r + 4, c:c + 4] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    _write_set(root / "mnist", 0)
    _write_set(root / "fashion-mnist", 2)
    return root


SMALL = ["--hidden", "16", "--levels", "5", "--epochs", "2", "--batch-size", "20", "--no-progress"]


def test_metaplastic_writes_the_tidy_table_and_the_record(data_dir, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["experiment", "metaplastic", "--data-dir", str(data_dir),
                                       "--metas", "0,4", "--modes", "software", "--seed", "3",
                                       "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # 2 runs x 2 after-tasks x 2 evaluated tasks.
    assert len(rows) == 8
    assert {"run", "after_task", "eval_task", "accuracy", "meta", "seed", "hidden", "n_levels",
            "runtime_s", "torch"} <= set(rows[0])
    assert {r["run"] for r in rows} == {"m=0/software", "m=4/software"}
    assert {(r["after_task"], r["eval_task"]) for r in rows} == {
        (a, e) for a in ("mnist", "fashion-mnist") for e in ("mnist", "fashion-mnist")}
    assert all(r["seed"] == "3" and r["hidden"] == "16" for r in rows)
    # The blocks are separable: each task is learned well above chance (0.1) right after it.
    for r in rows:
        if r["after_task"] == r["eval_task"]:
            assert float(r["accuracy"]) > 0.5, r
    record = json.loads((out / "run.json").read_text())
    assert {"config", "seed", "engine", "spice_check", "runtime_s", "versions", "runs",
            "footprint"} <= set(record)
    assert record["seed"] == 3 and record["config"]["train"]["hidden"] == 16
    assert record["spice_check"] == {"images": 0}
    assert record["runs"]["m=4/software"]["accuracy"]["mnist"]["mnist"] == pytest.approx(
        float(next(r["accuracy"] for r in rows if r["run"] == "m=4/software"
                   and r["after_task"] == "mnist" and r["eval_task"] == "mnist")))
    fp = record["footprint"]
    n_w = 16 * 784 + 10 * 16
    assert fp["binarized"]["total_bits"] == 33 * n_w and fp["quantized"]["total_bits"] == 35 * n_w
    assert "m=4/software" in result.output and "mnist" in result.output


def test_metaplastic_names_a_missing_data_dir(tmp_path):
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(main, ["experiment", "metaplastic", "--data-dir", str(missing),
                                       "--out", str(tmp_path / "o"), *SMALL])
    assert result.exit_code == 1
    assert str(missing) in result.output
    assert not (tmp_path / "o").exists()


def test_metaplastic_names_missing_files(tmp_path):
    (tmp_path / "empty" / "mnist").mkdir(parents=True)
    result = CliRunner().invoke(main, ["experiment", "metaplastic", "--data-dir", str(tmp_path / "empty"),
                                       "--out", str(tmp_path / "o"), *SMALL])
    assert result.exit_code == 1
    assert "train-images-idx3-ubyte.gz" in result.output and "mnist" in result.output


@pytest.mark.parametrize("args, message", [
    (["--tasks", "mnist,cifar"], "cifar"),
    (["--modes", "analog"], "analog"),
    (["--metas", "0,x"], "--metas"),
    (["--metas", "-1"], "metas"),
    (["--spice-check", "2", "--modes", "software"], "device"),
    (["--levels", "1"], "--levels"),
])
def test_metaplastic_rejects_bad_input(data_dir, tmp_path, args, message):
    result = CliRunner().invoke(main, ["experiment", "metaplastic", "--data-dir", str(data_dir),
                                       "--out", str(tmp_path / "o"), *SMALL, *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.ngspice
def test_metaplastic_device_run_with_spice_check(data_dir, tmp_path):
    out = tmp_path / "dev"
    result = CliRunner().invoke(main, ["experiment", "metaplastic", "--data-dir", str(data_dir),
                                       "--metas", "4", "--modes", "device", "--spice-check", "2",
                                       "--d2d-pool", "8", "--out", str(out), *SMALL])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    spice = record["spice_check"]
    assert spice["images"] == 2 and spice["run"] == "m=4/device" and spice["backend"] == "ngspice"
    # The deck is the compact model: ngspice reproduces its summed I(V) to solver precision.
    assert spice["max_rel_error_columns_vs_compact_model"] < 1e-6
    # Pixel voltages below v_read show the I-V non-linearity against G @ V, but only slightly.
    assert spice["max_rel_error_columns_vs_GV"] < 0.05
    assert 0.9 <= spice["sign_agreement_differential"] <= 1.0
    assert record["engine"]["spice_check"] == "ngspice"
    assert record["runs"]["m=4/device"]["device"]["device_writes_total"] > 0
    assert ".subckt" in (out / "slice.cir").read_text()
