"""`rramcosim experiment bits` / `ic-vstop` (paper Figs. 5 and 6) on the embedded MNIST sample."""

import csv
import hashlib
import json

import pytest
from click.testing import CliRunner

from rramcosim.cli import main


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    from cosim.datasets import load_dataset
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.io import save_frontend
    from cosim.frontend.train import train_frontend

    data = load_dataset("mnist-sample", "train", limit=400, seed=0)
    front = train_frontend(data.images, data.labels, TrainConfig(n_filters=12, epochs=1, qat_epochs=1, seed=0))
    path = tmp_path_factory.mktemp("bank") / "bank.npz"
    save_frontend(front, path)
    return path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _common(bank, out):
    return ["--dataset", "mnist-sample", "--bank", str(bank), "--fit-images", "300", "--test-images", "100",
            "--out", str(out)]


def test_bits_scores_every_width_in_software_and_on_the_array(bank, tmp_path):
    out = tmp_path / "bits"
    result = CliRunner().invoke(main, ["experiment", "bits", "--bits", "2,4", "--i-c-max", "100e-6",
                                       *_common(bank, out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out / "frontend_bits.csv")
    assert [(r["variant"], r["bits"]) for r in rows] == [
        ("float", "None"), ("quantized", "2"), ("programmed", "2"), ("quantized", "4"), ("programmed", "4")]
    assert all(float(r["i_c_max"]) == 100e-6 for r in rows if r["variant"] == "programmed")
    assert all(0.0 <= float(r["readout_accuracy"]) <= 1.0 for r in rows)
    meta = json.loads((out / "run.json").read_text())
    assert meta["front_end"]["bank_sha256"] == hashlib.sha256(bank.read_bytes()).hexdigest()
    assert meta["engine"] == "fast" and "spice-features" in meta["spice_check"]
    assert "test split" in meta["test_source"] and meta["options"]["bits"] == [2, 4]


def test_ic_vstop_programs_every_grid_point(bank, tmp_path):
    out = tmp_path / "ic"
    result = CliRunner().invoke(main, ["experiment", "ic-vstop", "--i-c-max", "60e-6,200e-6", "--v-stop", "1.0,2.0",
                                       *_common(bank, out)])
    assert result.exit_code == 0, result.output
    rows = _rows(out / "frontend_ic-vstop.csv")
    assert sorted((float(r["v_stop"]), float(r["i_c_max"])) for r in rows) == [
        (1.0, 60e-6), (1.0, 200e-6), (2.0, 60e-6), (2.0, 200e-6)]
    # A shallow RESET (1.0 V) leaves the HRS near the SET levels: the class filters lose their
    # contrast (paper Fig. 6; 12-14 % against 67-79 % at 2.0 V on the full bank).
    cf = {(float(r["v_stop"]), float(r["i_c_max"])): float(r["cf_accuracy"]) for r in rows}
    assert cf[(1.0, 200e-6)] < cf[(2.0, 200e-6)]


@pytest.mark.parametrize("args, hint", [(["bits", "--bits", "2,x"], "--bits"),
                                        (["ic-vstop", "--i-c-max", "10e-6"], "--i-c-max")])
def test_bad_grids_are_usage_errors_and_write_nothing(bank, tmp_path, args, hint):
    out = tmp_path / "bad"
    result = CliRunner().invoke(main, ["experiment", *args, *_common(bank, out)])
    assert result.exit_code == 2 and hint in result.output
    assert not out.exists()
