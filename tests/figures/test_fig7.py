"""Fig. 7 (``figures/fig7_feature_maps.py``) from a tiny learning log in the format of
`rramcosim experiment classify` (``cosim.experiments.write_result``)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cosim.waveforms import write_tidy_csv  # noqa: E402
from figures import common, fig7_feature_maps, make_all  # noqa: E402

N_FILTERS = 8


def _rows():
    """12 images; class 3 is new from image 6 on. Filter 0 fires for trained images only,
    filter 7 for the new class only (a transfer feature), filter 1 always."""
    rows = []
    for k in range(12):
        new = k >= 6 and k % 2 == 0
        bits = ["0"] * N_FILTERS
        bits[1] = "1"
        bits[7 if new else 0] = "1"
        rows.append({"image": k, "label": 3 if new else k % 3, "new_class": new, "winner": 0, "fires": 1,
                     "set_events": 2, "reset_events": 1, "write_energy_j": 1e-11, "feature_map": "".join(bits)})
    return rows


def test_fig7_main_and_figure(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_tidy_csv(folder / "learning.csv", _rows())
    assert fig7_feature_maps.main([str(folder), "--out", str(tmp_path), "--images", "4"]) == 0
    assert (tmp_path / "fig7_feature_maps.png").stat().st_size > 0
    rows, bits = fig7_feature_maps.load_maps(folder)
    assert bits.shape == (12, N_FILTERS) and bits[0].tolist() == [True, True] + [False] * 6  # leading '1' kept
    fig = fig7_feature_maps.plot_feature_maps(rows, bits, n_images=4)
    ax_t, ax_n, ax_r = fig.axes
    assert ax_t.get_title() == "(a) feature maps, trained classes"
    assert ax_n.get_title() == "(b) feature maps, non-trained classes"
    assert (ax_r.get_xlabel(), ax_r.get_ylabel()) == ("filter (index)", "firing rate (%)")
    shown = ax_t.images[0].get_array()
    assert shown.shape == (N_FILTERS, 4)  # filters x the first 4 trained images
    trained, new = (np.asarray(ln.get_ydata(), float) for ln in ax_r.lines)
    assert trained[0] == 100 and new[0] == 0 and new[7] == 100 and trained[1] == new[1] == 100


def test_fig7_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "learning.csv"
    rows = _rows()
    rows[3]["feature_map"] = "01x"
    write_tidy_csv(path, rows)
    with pytest.raises(common.TableError, match=r"learning.csv: line 5: feature_map"):
        fig7_feature_maps.load_maps(path)
    write_tidy_csv(path, [{k: v for k, v in r.items() if k != "feature_map"} for r in _rows()])
    with pytest.raises(common.TableError, match="feature_map"):
        fig7_feature_maps.load_maps(path)
    with pytest.raises(ValueError, match="n_images"):
        fig7_feature_maps.plot_feature_maps(*fig7_feature_maps.load_maps(_write_ok(tmp_path)), n_images=0)


def _write_ok(tmp_path):
    path = tmp_path / "ok.csv"
    write_tidy_csv(path, _rows())
    return path


def test_make_all_draws_fig7_from_the_classify_folder(tmp_path):
    folder = tmp_path / "results" / "classify" / "mnist"
    folder.mkdir(parents=True)
    write_tidy_csv(folder / "learning.csv", _rows())
    written, _ = make_all.make_all(tmp_path / "results", tmp_path / "out")
    assert tmp_path / "out" / "fig7_feature_maps.png" in written
