"""`rramcosim cosim --engine fast` and `rramcosim parity` input checks."""

import json

import pytest
from click.testing import CliRunner

from rramcosim.cli import main


@pytest.mark.ngspice  # the fast A-STDP layer characterises its access transistor in ngspice
def test_cosim_fast_engine_writes_its_engine_and_decisions(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["cosim", "--engine", "fast", "--images", "20", "--filters", "12",
                                       "--neurons", "2", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "run.json").read_text())
    assert meta["engine"] == "fast" and meta["config"]["dataset"] == "mnist-sample"
    winners = (out / "winners.csv").read_text().splitlines()
    assert len(winners) == 21  # header + one row per image
    assert not (out / "waveforms.csv").exists()


def test_cosim_rejects_an_unknown_dataset(tmp_path):
    result = CliRunner().invoke(main, ["cosim", "--engine", "fast", "--dataset", "imagenet",
                                       "--images", "2", "--filters", "12",
                                       "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "imagenet" in result.output
    assert not (tmp_path / "x").exists()


def test_parity_rejects_malformed_sizes(tmp_path):
    result = CliRunner().invoke(main, ["parity", "--sizes", "8by8", "--out", str(tmp_path / "p.csv")])
    assert result.exit_code != 0
    assert not (tmp_path / "p.csv").exists()


def test_cosim_verify_relax_needs_a_tolerance(tmp_path):
    result = CliRunner().invoke(main, ["cosim", "--engine", "fast", "--images", "2", "--filters", "12",
                                       "--verify-relax", "1.3", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--verify-relax" in result.output
    assert not (tmp_path / "x").exists()
