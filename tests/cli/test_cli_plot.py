"""`rramcosim plot`: waveforms from rawfiles to images."""

import numpy as np
from click.testing import CliRunner

from cosim.waveforms import Waveform, write_raw
from rramcosim.cli import main


def _raw(tmp_path):
    t = np.linspace(0, 1e-6, 50)
    return write_raw(tmp_path / "w.raw", Waveform(time=t, signals={
        "v(xneuron_0.mem)": np.sin(t * 1e7), "v(vth_0)": np.full(50, 0.6), "i(vsense_col_0)": t}))


def test_plot_selected_signals_in_panels(tmp_path):
    out = tmp_path / "f.png"
    result = CliRunner().invoke(main, ["plot", str(_raw(tmp_path)), "--panel", "mem,vth", "--panel",
                                       r"i\(", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_reports_unknown_signals(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(_raw(tmp_path)), "--signal", "nothing",
                                       "--out", str(tmp_path / "f.png")])
    assert result.exit_code == 1 and "v(xneuron_0.mem)" in result.output
    assert not (tmp_path / "f.png").exists()
