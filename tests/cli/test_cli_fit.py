"""`rramcosim fit` and `rramcosim demo` from the user's side."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from compact_model.access import SourceCompliance
from compact_model.cards import load_card, load_preset
from compact_model.measurements import IVSweep, write_plain_csv
from compact_model.simulate import Hold, simulate
from rramcosim.cli import main


def _write_sweep(path, peak=-2.0):
    dev = load_preset("siox-literature").device
    n = int(abs(peak) / 0.02)
    v = np.r_[np.linspace(0, abs(peak), n + 1), np.linspace(abs(peak), 0, n + 1)[1:]]
    t = np.arange(v.size) * 0.05
    tr = simulate(dev, t, v, dev.g_max, series=SourceCompliance(i_c=1e-4), hold=Hold.STAIRCASE)
    i = tr.current[0] * np.exp(0.03 * np.random.default_rng(1).standard_normal(v.size))
    write_plain_csv(path, IVSweep(time=t, voltage=v, current=i, label="s", source="t", compliance=1e-4),
                    metadata={"kind": "iv", "compliance_A": "0.0001"})
    return path


def test_fit_help_explains_inputs():
    result = CliRunner().invoke(main, ["fit", "--help"])
    assert result.exit_code == 0
    for word in ("Keithley", "xlsx", "plain CSV", "compliance", "--preset", "--card", "NAME.toml"):
        assert word in result.output


def test_fit_one_sweep_writes_card_report_and_plot(tmp_path):
    data = _write_sweep(tmp_path / "sweep.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["fit", str(data), "--out", str(out), "--name", "dev1",
                                       "--max-points", "150"])
    assert result.exit_code == 0, result.output
    assert "median_rel_error_I" in result.output
    card = load_card(out / "dev1.toml")
    assert card.name == "dev1" and "sweep.csv" in card.provenance.fitted_to
    assert card.provenance.fit_report["median_rel_error_I"] < 0.1
    assert (out / "dev1-report.txt").read_text().count("[[Variables]]") == 1
    png = (out / "dev1-fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_malformed_file_names_file_and_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("# kind: iv\ntime_s,voltage_V,current_A\n0,0,0\n1,0.1,abc\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["fit", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "bad.csv" in result.output and "line 4" in result.output and "current_A" in result.output
    assert not out.exists()


def test_unknown_preset_is_a_clear_error(tmp_path):
    data = _write_sweep(tmp_path / "sweep.csv")
    result = CliRunner().invoke(main, ["fit", str(data), "--preset", "nope", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "unknown preset 'nope'" in result.output


@pytest.mark.slow
@pytest.mark.ngspice  # the A-STDP layer's access transistor is characterised in ngspice
def test_demo_runs_on_the_embedded_sample(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--learn-images", "600",
                                       "--test-images", "400"])
    assert result.exit_code == 0, result.output
    card = load_card(tmp_path / "fit" / "demo-siox.toml")
    assert card.provenance.fit_report["median_rel_error_I"] < 0.05
    assert "generating value" in result.output
    # The system ran on the embedded digits, write-verified, and classified far above chance (10 %).
    meta = json.loads((tmp_path / "system" / "mnist-sample" / "run.json").read_text())
    assert "mnist_5k" in meta["train_source"] and "test split" in meta["test_source"]
    assert meta["hardware"]["verify_tolerance"] == 0.25 and meta["programming"]["writes_per_device"] > 1.1
    assert meta["result"]["test_images"] == 400 and meta["result"]["accuracy"] > 0.5


def test_fit_resistance_distribution_file(tmp_path):
    from compact_model import programming as pr
    from compact_model.measurements import ControlQuantity, ResistanceTable

    card = load_preset("siox-literature")
    p = card.device
    i_c = np.repeat([1e-5, 3e-5, 1e-4], 30)
    gaps = pr.set_with_compliance(p, np.full(i_c.size, p.g_max), i_c, var=card.variability,
                                  rng=np.random.default_rng(3))
    path = tmp_path / "r.csv"
    write_plain_csv(path, ResistanceTable(x=i_c, x_name=ControlQuantity.COMPLIANCE_CURRENT,
                                          resistance=pr.read_resistance(p, gaps), source="t"))
    result = CliRunner().invoke(main, ["fit", str(path), "--out", str(tmp_path / "o"), "--name", "d"])
    assert result.exit_code == 0, result.output
    fitted = load_card(tmp_path / "o" / "d.toml")
    assert fitted.provenance.fit_report["median_rel_error_R"] < 0.1
    assert (tmp_path / "o" / "d-fit.png").stat().st_size > 10_000


def test_mixed_kinds_are_refused(tmp_path):
    from compact_model.measurements import ControlQuantity, ResistanceTable

    iv = _write_sweep(tmp_path / "sweep.csv")
    r = tmp_path / "r.csv"
    write_plain_csv(r, ResistanceTable(x=np.array([1e-5, 2e-5, 3e-5]), resistance=np.array([3e4, 2e4, 1e4]),
                                       x_name=ControlQuantity.COMPLIANCE_CURRENT, source="t"))
    result = CliRunner().invoke(main, ["fit", str(iv), str(r), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "cannot fit" in result.output
    assert not (tmp_path / "o").exists()
