"""Waveform outputs: rawfiles readable by SPICE tools, tidy tables, labelled plots."""

import csv

import numpy as np
import pytest

from cosim.vacask import read_raw
from cosim.waveforms import Waveform, plot_waveforms, tidy_rows, unit_of, write_raw, write_tidy_csv


def _wave():
    t = np.linspace(0, 2e-6, 11)
    return Waveform(time=t, signals={"v(xn0.mem)": np.sin(t * 1e6), "i(vsense_col_0)": 1e-6 * t * 1e6,
                                     "v(xsyn_0_0.gap)": np.full(11, 1.2)}, title="episode 0")


def test_rawfile_round_trip(tmp_path):
    path = write_raw(tmp_path / "w.raw", _wave())
    (plot,) = read_raw(path)
    np.testing.assert_array_equal(plot.vectors["time"], _wave().time)
    np.testing.assert_array_equal(plot.vectors["v(xn0.mem)"], _wave().signals["v(xn0.mem)"])
    assert list(plot.vectors) == ["time", "v(xn0.mem)", "i(vsense_col_0)", "v(xsyn_0_0.gap)"]


def test_tidy_table_has_one_row_per_sample_and_signal(tmp_path):
    rows = tidy_rows(_wave(), image=3)
    assert len(rows) == 33
    assert rows[0] == {"image": 3, "time_s": 0.0, "signal": "v(xn0.mem)", "value": 0.0, "unit": "V"}
    text = write_tidy_csv(tmp_path / "w.csv", rows).read_text().splitlines()
    assert text[0] == "image,time_s,signal,value,unit" and len(text) == 34


def test_select_and_units():
    wave = _wave().select([r"^v\(x"])
    assert set(wave.signals) == {"v(xn0.mem)", "v(xsyn_0_0.gap)"}
    assert unit_of("i(vx)") == ("A", "current") and unit_of("v(a)") == ("V", "voltage")
    with pytest.raises(ValueError, match="samples"):
        Waveform(time=np.arange(3.0), signals={"v(a)": np.arange(4.0)})


def test_plot_writes_a_png_with_one_panel_per_quantity(tmp_path):
    path = plot_waveforms(_wave(), tmp_path / "w.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_tidy_csv_cells_with_quotes_and_commas_read_back_exactly(tmp_path):
    import csv

    rows = [{"name": 'say "hi", twice', "versions": '{"numpy": "2.4"}', "x": 1.5}]
    path = write_tidy_csv(tmp_path / "t.csv", rows)
    with path.open(newline="") as fh:
        back = list(csv.DictReader(fh))
    assert back == [{"name": 'say "hi", twice', "versions": '{"numpy": "2.4"}', "x": "1.5"}]


def test_tidy_csv_keeps_columns_that_only_later_rows_have(tmp_path):
    rows = [{"variant": "float", "accuracy": 0.9},
            {"variant": "programmed", "accuracy": 0.8, "i_c_max": 2e-4}]
    path = write_tidy_csv(tmp_path / "t.csv", rows)
    with open(path, newline="") as f:
        back = list(csv.DictReader(f))
    assert list(back[0]) == ["variant", "accuracy", "i_c_max"]
    assert back[0]["i_c_max"] == "" and float(back[1]["i_c_max"]) == 2e-4
