"""Fig. 9 (``figures/fig9_accuracy_vs_ic.py``) from a tiny table in the format of a "classify"
sweep's ``results.csv`` (``cosim.sweep`` store: point columns, metrics, status)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cosim.waveforms import write_tidy_csv  # noqa: E402
from figures import common, fig9_accuracy_vs_ic, make_all  # noqa: E402

I_C = (20e-6, 50e-6, 100e-6)


def _rows(spice=True):
    rows = []
    for dataset, base in (("mnist", 0.7), ("fashion-mnist", 0.5)):
        for k, i_c in enumerate(I_C):
            for seed in (0, 1):
                row = {"status": "ok", "task": "classify", "dataset": dataset, "seed": seed, "synapse_i_c": i_c,
                       "engine": "fast", "accuracy": base + 0.05 * k + 0.01 * seed, "no_winner": 0.0}
                if spice:
                    row["spice_winner_equal"] = 1.0 if k else 0.5
                rows.append(row)
    rows.append({**rows[0], "status": "error", "accuracy": None, "seed": 7})  # a failed point
    return rows


def test_fig9_draws_the_c2c_points_as_their_own_series(tmp_path):
    rows = [{**r, "c2c": ""} for r in _rows(spice=False)]  # the grid's points have no c2c key: blank
    rows += [{**r, "c2c": True, "accuracy": r["accuracy"] - 0.1} for r in rows
             if r["dataset"] == "mnist" and r["status"] == "ok"]
    path = tmp_path / "results.csv"
    write_tidy_csv(path, rows)
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(fig9_accuracy_vs_ic.load_sweep(path))
    labels = sorted(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "mnist, synapse C2C (2 seeds)" in labels and "mnist (2 seeds)" in labels
    c2c = next(c for c in fig.axes[0].containers if c.get_label().startswith("mnist, synapse C2C"))
    np.testing.assert_allclose(np.asarray(c2c.lines[0].get_ydata(), float), [60.5, 65.5, 70.5])


def test_fig9_merges_an_off_pattern_sweep_as_its_own_series(tmp_path):
    main, off = tmp_path / "main", tmp_path / "off"
    main.mkdir(), off.mkdir()
    write_tidy_csv(main / "results.csv", _rows(spice=False))
    write_tidy_csv(off / "results.csv", [{**r, "reset_off_pattern": True, "accuracy": r["accuracy"] + 0.1,
                                          "spice_winner_equal": 0.75}
                                         for r in _rows(spice=False) if r["dataset"] == "mnist" and r["status"] == "ok"])
    table = fig9_accuracy_vs_ic.load_sweep([main, off])
    assert len(table) == 18  # 12 + 6: the same (data set, I_C, seed) under the other rule is another point
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(table)
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"mnist (2 seeds)", "mnist, off-pattern RESET (2 seeds)"} <= labels
    off_series = next(c for c in fig.axes[0].containers if c.get_label().startswith("mnist, off-pattern"))
    np.testing.assert_allclose(np.asarray(off_series.lines[0].get_ydata(), float), [80.5, 85.5, 90.5])
    spice = [ln for ln in fig.axes[1].lines if ln.get_label().startswith("mnist, off-pattern")]
    assert len(spice) == 1 and np.allclose(spice[0].get_ydata(), 75.0)


def test_fig9_draws_a_graded_reset_sweep_as_its_own_series(tmp_path):
    full, graded = tmp_path / "full", tmp_path / "graded"
    full.mkdir(), graded.mkdir()
    ok = [r for r in _rows(spice=False) if r["dataset"] == "mnist" and r["status"] == "ok"]
    write_tidy_csv(full / "results.csv", [{**r, "reset_off_pattern": True} for r in ok])  # no v_te_reset: -2 V
    write_tidy_csv(graded / "results.csv", [{**r, "reset_off_pattern": True, "v_te_reset": -1.42,
                                             "accuracy": r["accuracy"] + 0.2} for r in ok])
    table = fig9_accuracy_vs_ic.load_sweep([full, graded])
    assert len(table) == 12  # the same (I_C, seed) at another RESET level is another point
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(table)
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"mnist, off-pattern RESET (2 seeds)", "mnist, off-pattern RESET at -1.42 V (2 seeds)"} <= labels
    series = next(c for c in fig.axes[0].containers if "-1.42 V" in c.get_label())
    np.testing.assert_allclose(np.asarray(series.lines[0].get_ydata(), float), [90.5, 95.5, 100.5])
    assert series.lines[0].get_marker() == "s"


def test_fig9_draws_a_solved_reset_level_sweep_as_one_series(tmp_path):
    fixed, solved = tmp_path / "fixed", tmp_path / "solved"
    fixed.mkdir(), solved.mkdir()
    ok = [r for r in _rows(spice=False) if r["dataset"] == "mnist" and r["status"] == "ok"]
    write_tidy_csv(fixed / "results.csv", [{**r, "reset_off_pattern": True, "v_te_reset": -1.42} for r in ok])
    # the level differs at every I_C; a fixed v_te_reset key beside it (overridden) or none
    write_tidy_csv(solved / "results.csv", [{**r, "reset_off_pattern": True, "reset_drop": 0.03,
                                             **({"v_te_reset": -1.42} if k % 2 else {}),
                                             "solved_v_te_reset": -1.38 - 0.001 * k, "accuracy": r["accuracy"] + 0.2}
                                            for k, r in enumerate(ok)])
    write_tidy_csv(tmp_path / "alone.csv", [{**r, "reset_drop": 0.03} for r in ok])  # no v_te_reset column
    alone = fig9_accuracy_vs_ic.load_sweep(tmp_path / "alone.csv")
    assert set(alone["reset_drop"]) == {0.03} and set(alone["v_te_reset"]) == {fig9_accuracy_vs_ic.FULL_RESET}
    table = fig9_accuracy_vs_ic.load_sweep([fixed, solved])
    assert len(table) == 12
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(table)
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"mnist, off-pattern RESET at -1.42 V (2 seeds)",
            "mnist, off-pattern RESET solved for 3 % per pulse (2 seeds)"} <= labels
    series = next(c for c in fig.axes[0].containers if "solved" in c.get_label())
    np.testing.assert_allclose(np.asarray(series.lines[0].get_ydata(), float), [90.5, 95.5, 100.5])
    assert series.lines[0].get_marker() == "^"


def test_fig9_draws_a_write_verified_front_end_as_its_own_series(tmp_path):
    ok = [r for r in _rows(spice=False) if r["dataset"] == "mnist" and r["status"] == "ok"]
    write_tidy_csv(tmp_path / "open.csv", [{**r, "reset_drop": 0.03} for r in ok])
    write_tidy_csv(tmp_path / "verified.csv", [{**r, "reset_drop": 0.03, "verify_tolerance": 0.25,
                                                "accuracy": r["accuracy"] + 0.1} for r in ok])
    table = fig9_accuracy_vs_ic.load_sweep([tmp_path / "open.csv", tmp_path / "verified.csv"])
    assert len(table) == 12  # same points otherwise: kept apart, not merged
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(table)
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"mnist solved for 3 % per pulse (2 seeds)",
            "mnist solved for 3 % per pulse, front end write-verified to 0.25 level steps (2 seeds)"} <= labels
    series = next(c for c in fig.axes[0].containers if "verified" in c.get_label())
    assert series.lines[0].get_marker() == "v"
    np.testing.assert_allclose(np.asarray(series.lines[0].get_ydata(), float), [80.5, 85.5, 90.5])


def test_fig9_main_and_figure(tmp_path):
    folder = tmp_path / "synapse_ic"
    folder.mkdir()
    write_tidy_csv(folder / "results.csv", _rows())
    assert fig9_accuracy_vs_ic.main([str(folder), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig9_accuracy_vs_ic.png").stat().st_size > 0
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(fig9_accuracy_vs_ic.load_sweep(folder))
    ax_a, ax_s = fig.axes
    assert ax_a.get_title() == "(a) accuracy vs I_C, all classes trained (Fig. 9)"
    assert (ax_a.get_xlabel(), ax_a.get_ylabel()) == ("synapse compliance current I_C (uA)", "test accuracy (%)")
    assert ax_s.get_ylabel() == "same winner as ngspice (%)"
    labels = [t.get_text() for t in ax_a.get_legend().get_texts()]
    assert sorted(labels) == ["fashion-mnist (2 seeds)", "fashion-mnist, paper", "mnist (2 seeds)", "mnist, paper"]
    # MNIST: mean over the two seeds at each I_C, in %, along the log axis in uA
    mnist = ax_a.containers[1].lines[0]
    np.testing.assert_allclose(np.asarray(mnist.get_xdata(), float), [20, 50, 100])
    np.testing.assert_allclose(np.asarray(mnist.get_ydata(), float), [70.5, 75.5, 80.5])
    paper = [ln.get_ydata()[0] for ln in ax_a.lines if ln.get_linestyle() == "--"]
    assert sorted(paper) == pytest.approx([93.0, 99.3])
    np.testing.assert_allclose(np.asarray(ax_s.lines[0].get_ydata(), float), [50, 100, 100])


def test_fig9_without_spice_check_and_errors(tmp_path):
    path = tmp_path / "results.csv"
    write_tidy_csv(path, _rows(spice=False))
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(fig9_accuracy_vs_ic.load_sweep(path))
    assert fig.axes[1].texts[0].get_text() == "no SPICE check in this sweep"
    write_tidy_csv(path, [{k: v for k, v in r.items() if k != "synapse_i_c"} for r in _rows()])
    with pytest.raises(common.TableError, match=r"results.csv.*synapse_i_c"):
        fig9_accuracy_vs_ic.main([str(path), "--out", str(tmp_path)])


def test_make_all_finds_the_sweep_folder(tmp_path):
    folder = tmp_path / "results" / "synapse_ic"
    folder.mkdir(parents=True)
    write_tidy_csv(folder / "results.csv", _rows())
    written, _ = make_all.make_all(tmp_path / "results", tmp_path / "out")
    assert tmp_path / "out" / "fig9_accuracy_vs_ic.png" in written


def test_fig9_merges_the_spice_check_sweep_into_the_main_one(tmp_path):
    results = tmp_path / "results"
    for name in ("synapse_ic", "synapse_ic_spice"):
        (results / name).mkdir(parents=True)
    write_tidy_csv(results / "synapse_ic" / "results.csv", _rows(spice=False))
    # The check sweep re-runs seed 0 of MNIST; its accuracy column must not count twice.
    spice = [{**r, "accuracy": 0.0, "spice_winner_equal": 1.0, "spice_inference_winner_equal_slice": 0.5}
             for r in _rows(spice=False) if r["dataset"] == "mnist" and r["seed"] == 0 and r["status"] == "ok"]
    write_tidy_csv(results / "synapse_ic_spice" / "results.csv", spice)
    table = fig9_accuracy_vs_ic.load_sweep([results / "synapse_ic", results / "synapse_ic_spice"])
    assert len(table) == 2 * len(I_C) * 2  # data sets x I_C x seeds, once each
    fig = fig9_accuracy_vs_ic.plot_accuracy_vs_ic(table)
    mnist = next(c for c in fig.axes[0].containers if c.get_label() == "mnist (2 seeds)")
    np.testing.assert_allclose(np.asarray(mnist.lines[0].get_ydata(), float), [70.5, 75.5, 80.5])
    series = {ln.get_label(): np.asarray(ln.get_ydata(), float) for ln in fig.axes[1].lines}
    np.testing.assert_allclose(series["mnist, learning episodes"], [100, 100, 100])
    np.testing.assert_allclose(series["mnist, test episodes"], [50, 50, 50])
    written, _ = make_all.make_all(results, tmp_path / "out")
    assert tmp_path / "out" / "fig9_accuracy_vs_ic.png" in written


def test_make_all_draws_fig9_from_a_named_sweep_without_the_main_one(tmp_path):
    # Only an off-pattern sweep and its SPICE check: the sweep's accuracy is the one plotted.
    results = tmp_path / "results"
    main = [{**r, "reset_off_pattern": True} for r in _rows(spice=False)]
    check = [{**r, "accuracy": 0.0, "spice_winner_equal": 1.0} for r in main if r["seed"] == 0]
    for name, rows in (("synapse_ic_offpattern", main), ("synapse_ic_offpattern_spice", check)):
        (results / name).mkdir(parents=True)
        write_tidy_csv(results / name / "results.csv", rows)
    tables = make_all._synapse_ic_tables(results)
    assert [t.parent.name for t in tables] == ["synapse_ic_offpattern", "synapse_ic_offpattern_spice"]
    table = fig9_accuracy_vs_ic.load_sweep(tables)
    assert (table["accuracy"] > 0).all()
    written, _ = make_all.make_all(results, tmp_path / "out")
    assert tmp_path / "out" / "fig9_accuracy_vs_ic.png" in written
