"""Figs. 12-14 (``figures/fig12_14_retraining.py``) from tiny tables in the exact format of
`rramcosim experiment retrain` (``cosim.retraining.write_retraining``)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cosim.waveforms import write_tidy_csv  # noqa: E402
from figures import common, fig12_14_retraining, make_all  # noqa: E402

N_CF, N_FF, RETRAINED, THRESHOLD = 3, 5, (5, 7), 0.02


def _filter_rows():
    """``_filter_rows`` of both phases: 3 CF, 5 FF; FFs 5 and 7 silent before, re-trained."""
    rows = []
    for phase in ("before", "after"):
        for k in range(N_CF + N_FF):
            silent = k in RETRAINED
            rate = (0.0 if phase == "before" else 0.3) if silent else 0.1 + 0.05 * k
            rows.append({"phase": phase, "filter": k, "kind": "CF" if k < N_CF else "FF",
                         "cf_class": k if k < N_CF else -1, "silent": silent,
                         "retrained": silent and phase == "after", "target_cluster": 3 if silent else -1,
                         "appearance": rate, "appearance_learn": rate, "appearance_trained": rate,
                         "appearance_nontrained": rate, "silent_threshold": THRESHOLD})
    return rows


def _accuracy_rows():
    return [{"phase": phase, "retrained_filters": n, "dataset": "mnist", "n_nontrained": 1, "nontrained": "3",
             "accuracy": acc, "no_winner": 0.0, "accuracy_trained": acc + 0.05, "accuracy_nontrained": acc - 0.2}
            for phase, n, acc in (("before", 0, 0.7), ("after", 2, 0.8))]


def _write(folder):
    folder.mkdir(parents=True, exist_ok=True)
    write_tidy_csv(folder / "retraining.csv", _filter_rows())
    write_tidy_csv(folder / "accuracy.csv", _accuracy_rows())
    return folder


def test_fig12_14_main_and_figure(tmp_path):
    folder = _write(tmp_path / "retraining")
    assert fig12_14_retraining.main([str(folder), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig12_14_retraining.png").stat().st_size > 0
    fig = fig12_14_retraining.plot_retraining(*fig12_14_retraining.load_retraining(folder / "retraining.csv"))
    ax_b, ax_a, ax_c = fig.axes
    for ax in (ax_b, ax_a):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("filter (index)", "appearance rate (%)")
        assert [ln.get_ydata()[0] for ln in ax.lines] == [100 * THRESHOLD]  # the silent threshold
    assert ax_b.get_title() == "(a) appearance before re-training (Fig. 12)"
    assert ax_a.get_title() == "(b) appearance after re-training (Fig. 13)"
    assert ax_c.get_title() == "(c) accuracy gain (Fig. 14)" and ax_c.get_ylabel() == "test accuracy (%)"
    # (a): CF and FF bars; (b): CF, other FF and the re-trained FFs, each at its filter index
    assert ax_b.get_legend_handles_labels()[1] == ["silent threshold (2 %)", "class filters (CF)",
                                                   "feature filters (FF)"]
    assert [len(c) for c in ax_b.containers] == [N_CF, N_FF]
    assert [len(c) for c in ax_a.containers] == [N_CF, N_FF - 2, 2]
    retrained = ax_a.containers[2]
    assert [p.get_x() + p.get_width() / 2 for p in retrained] == pytest.approx(RETRAINED)
    assert [p.get_height() for p in retrained] == pytest.approx([30.0, 30.0])
    # (c): before and after bars over trained / non-trained / global
    assert [t.get_text() for t in ax_c.get_xticklabels()] == ["trained", "non-trained", "global"]
    before, after = ax_c.containers
    np.testing.assert_allclose([p.get_height() for p in before], [75, 50, 70])
    np.testing.assert_allclose([p.get_height() for p in after], [85, 60, 80])


def test_fig12_14_errors_name_file_and_column(tmp_path):
    folder = _write(tmp_path / "bad")
    pd.DataFrame(_filter_rows()).drop(columns=["appearance"]).to_csv(folder / "retraining.csv", index=False)
    with pytest.raises(common.TableError, match=r"retraining\.csv.*appearance"):
        fig12_14_retraining.main([str(folder), "--out", str(tmp_path)])
    folder = _write(tmp_path / "bad_acc")
    pd.DataFrame(_accuracy_rows()).drop(columns=["accuracy_nontrained"]).to_csv(folder / "accuracy.csv", index=False)
    with pytest.raises(common.TableError, match=r"accuracy\.csv.*accuracy_nontrained"):
        fig12_14_retraining.load_retraining(folder)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        fig12_14_retraining.load_retraining(tmp_path / "nowhere")


def test_make_all_finds_the_retraining_folder(tmp_path):
    results = tmp_path / "results"
    _write(results / "retraining")
    written, skipped = make_all.make_all(results, tmp_path / "figs")
    assert [p.name for p in written] == ["fig12_14_retraining.png"]
    assert "fig12_14_retraining" not in skipped and "fig10_continual" in skipped
