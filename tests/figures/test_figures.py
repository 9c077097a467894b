"""The figure scripts: each reads a tiny cached table in its producer's exact format, writes a
PNG, draws the expected panels, labels and lines, and names the file and column a bad table lacks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cosim.frontend.sweeps import _flatten  # noqa: E402
from cosim.sweep.builtin import device_levels  # noqa: E402
from cosim.sweep.store import TableFormat, build_table, write_table  # noqa: E402
from cosim.waveforms import write_tidy_csv  # noqa: E402
from figures import common, fig2_device_levels, fig5_bits, fig6_ic_vstop, fig8_astdp_evolution, make_all  # noqa: E402

I_CS = (20e-6, 100e-6)
V_STOPS = (1.5, 2.5)
SEEDS = (1, 2)


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


# ------------------------------------------------------------------ Fig. 2 ------------------

@pytest.fixture(scope="module")
def device_table(tmp_path_factory):
    """A 'device-levels' sweep store's results.csv, from the real task and table writer."""
    folder = tmp_path_factory.mktemp("device_levels")
    points, latest = [], {}
    for k, (i_c, v_stop, seed) in enumerate((a, b, c) for a in I_CS for b in V_STOPS for c in SEEDS):
        point = {"i_c": i_c, "v_stop": v_stop, "seed": seed, "n_devices": 6}
        points.append({"point_id": f"p{k}", "point": point})
        latest[f"p{k}"] = {"metrics": device_levels(point), "status": "ok", "seed": seed,
                           "task": "device-levels"}
    write_table(build_table(points, latest), folder, [TableFormat.CSV])
    return folder / "results.csv"


def test_fig2_main_and_figure(device_table, tmp_path):
    assert fig2_device_levels.main([str(device_table), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig2_device_levels.png").stat().st_size > 0
    fig = fig2_device_levels.plot_device_levels(common.read_table(device_table))
    ax_r, ax_s, ax_h = fig.axes
    assert "I_C" in ax_r.get_xlabel() and "µA" in ax_r.get_xlabel() and "Ω" in ax_r.get_ylabel()
    assert ax_r.get_xscale() == ax_r.get_yscale() == "log"
    assert "sigma" in ax_s.get_ylabel() and "V_{STOP}" in ax_h.get_xlabel() and "(V)" in ax_h.get_xlabel()
    assert ax_r.get_legend_handles_labels()[1] == ["median", "mean"]
    # one error-bar line per statistic, one point per I_C (the mean over seeds and V_STOP)
    assert [len(c.lines[0].get_xdata()) for c in ax_r.containers] == [len(I_CS)] * 2
    assert len(ax_s.containers) == 1 and len(ax_h.containers) == 2
    assert len(ax_h.containers[0].lines[0].get_xdata()) == len(V_STOPS)


def test_fig2_names_file_and_missing_column(device_table, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.read_csv(device_table).drop(columns=["r_lrs_sigma_mu"]).to_csv(bad, index=False)
    with pytest.raises(common.TableError, match=r"bad\.csv.*r_lrs_sigma_mu"):
        fig2_device_levels.main([str(bad), "--out", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        fig2_device_levels.main([str(tmp_path / "nowhere.csv")])


# ------------------------------------------------------------------ Fig. 5 ------------------

def _eval_row(variant, bits, acc, **extra):
    """One row of ``evaluate_frontend`` (the keys ``score_variant`` returns)."""
    return {"variant": variant, "bits": bits, "firing_rate": 0.3, "dead_filters": 1,
            "readout_accuracy": acc, "readout_accuracy_trained": acc, "readout_accuracy_nontrained": acc - 0.1,
            "ff_readout_accuracy": acc - 0.05, "cf_accuracy": acc - 0.02, "seconds": 0.1, **extra}


def _bits_rows():
    """What ``accuracy_vs_bits`` returns with hardware: a float row, then per bits quantized and
    programmed rows."""
    hw = {"i_c_min": 2e-5, "i_c_max": 2e-4, "v_stop": 2.0, "r_wire": 1.0, "hardware_seed": 0}
    rows = [dict(_eval_row("float", 32, 0.98), bits=None)]
    for b in (2, 3, 4, 6):
        acc = 0.98 - 0.3 / b ** 2
        rows.append(dict(_eval_row("quantized", b, acc), coding="differential"))
        rows.append(dict(_eval_row("programmed", b, acc - 0.01, **hw), coding="differential"))
    return rows


def test_fig5_main_and_figure(tmp_path):
    path = tmp_path / "frontend_bits.csv"
    pd.DataFrame(_bits_rows()).to_csv(path, index=False)
    assert fig5_bits.main([str(path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig5_bits.png").is_file()
    fig = fig5_bits.plot_accuracy_vs_bits(pd.read_csv(path))
    (ax,) = fig.axes
    assert _labels(ax) == ("bits per weight (bit)", "test accuracy (%)")
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == sorted(["programmed, linear readout", "programmed, class filters (CF)",
                      "quantized, linear readout", "quantized, class filters (CF)",
                      "float, linear readout", "float, class filters (CF)", "paper: 4 bits/weight"])
    assert len(ax.containers) == 4  # 2 variants x 2 readouts, each over the 4 bit widths
    assert all(len(c.lines[0].get_xdata()) == 4 for c in ax.containers)
    np.testing.assert_allclose(np.asarray(ax.containers[2].lines[0].get_ydata(), float), [100 * (0.98 - 0.3 / b ** 2) for b in (2, 3, 4, 6)])


def test_fig5_reads_the_sweep_table(tmp_path):
    """The "frontend-bits" sweep's wide table (``<variant>_<metric>`` next to the config)."""
    rows = [dict({"bank": "b.npz", "bits": b}, **_flatten([r for r in _bits_rows() if r["bits"] == b]))
            for b in (2, 3, 4, 6)]
    path = tmp_path / "results.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    fig = fig5_bits.plot_accuracy_vs_bits(common.read_table(tmp_path))
    assert len(fig.axes[0].containers) == 4


def test_fig5_missing_column(tmp_path):
    path = tmp_path / "frontend_bits.csv"
    pd.DataFrame(_bits_rows()).drop(columns=["cf_accuracy"]).to_csv(path, index=False)
    with pytest.raises(common.TableError, match=r"frontend_bits\.csv.*cf_accuracy"):
        fig5_bits.main([str(path), "--out", str(tmp_path)])


# ------------------------------------------------------------------ Fig. 6 ------------------

def _ic_rows(v_stops=V_STOPS + (2.0,)):
    """What ``accuracy_vs_ic`` returns: one programmed row per (I_C range, V_STOP)."""
    rows = []
    for v_stop in v_stops:
        for i_max in (5e-5, 2e-4, 4e-4):
            acc = 0.9 - 0.05 * abs(v_stop - 2.0) - 0.02 * np.log10(4e-4 / i_max)
            rows.append(_eval_row("programmed", 4, acc, i_c_min=i_max / 10, i_c_max=i_max, v_stop=v_stop,
                                  r_wire=1.0, hardware_seed=0))
    return rows


def test_fig6_main_and_figure(tmp_path):
    path = tmp_path / "frontend_ic.csv"
    pd.DataFrame(_ic_rows()).to_csv(path, index=False)
    assert fig6_ic_vstop.main([str(path), "--out", str(tmp_path), "--ic", "i_c_min"]) == 0
    assert (tmp_path / "fig6_ic_vstop.png").is_file()
    fig = fig6_ic_vstop.plot_accuracy_vs_ic(pd.read_csv(path))
    ax_cf, ax_ff, cbar = fig.axes  # two panels and their shared colour bar
    assert "class filters" in ax_cf.get_title() and "feature filters" in ax_ff.get_title()
    assert "I_C" in ax_cf.get_xlabel() and "µA" in ax_cf.get_xlabel() and ax_cf.get_xscale() == "log"
    assert "V_{STOP}" in ax_cf.get_ylabel() and "(V)" in ax_cf.get_ylabel()
    assert cbar.get_ylabel() == "test accuracy (%)"
    for ax in (ax_cf, ax_ff):
        assert len(ax.collections) == 1  # one filled contour set
        points, default = ax.lines  # the 3 x 3 grid, and the default (200 µA, 2 V) inside it
        assert len(points.get_xdata()) == 9
        assert (default.get_xdata()[0], default.get_ydata()[0]) == pytest.approx((200.0, 2.0))


def test_fig6_errors(tmp_path):
    path = tmp_path / "frontend_ic.csv"
    pd.DataFrame(_ic_rows()).drop(columns=["ff_readout_accuracy"]).to_csv(path, index=False)
    with pytest.raises(common.TableError, match="ff_readout_accuracy"):
        fig6_ic_vstop.main([str(path), "--out", str(tmp_path)])
    with pytest.raises(common.TableError, match="at least 3"):
        fig6_ic_vstop.plot_accuracy_vs_ic(pd.DataFrame(_ic_rows(v_stops=(2.0,))))


# ------------------------------------------------------------------ Fig. 8 ------------------

N_IMAGES, N_FILTERS, N_NEURONS = 6, 4, 3


def _write_cosim(folder, complement=False):
    """The files ``cosim.pipeline.write_outputs`` writes, for 6 images, 4 filters, 3 neurons."""
    rng = np.random.default_rng(0)
    labels = [0, 0, 1, 1, 0, 1]
    winners = [0, 0, 1, -1, 0, 1]  # neuron 2 never wins
    patterns = {0: [1, 1, 0, 0], 1: [0, 0, 1, 1]}
    write_tidy_csv(folder / "winners.csv", [{"image": i, "label": labels[i], "winner": winners[i],
                                             "fires": 3 + i} for i in range(N_IMAGES)])
    write_tidy_csv(folder / "features.csv", [
        {"image": i, "label": labels[i], "filter": f, "pooled_A": 1e-6, "v_ref_A": 5e-7,
         "bit": patterns[labels[i]][f]} for i in range(N_IMAGES) for f in range(N_FILTERS)])
    write_tidy_csv(folder / "fires.csv", [{"image": i, "label": labels[i], "neuron": 0, "time_s": 1e-6}
                                          for i in range(N_IMAGES)])
    n_in = N_FILTERS * (2 if complement else 1)
    gaps = rng.uniform(0.5e-9, 1.5e-9, size=(N_IMAGES, n_in, N_NEURONS))
    sfa = np.linspace(2e-9, 1.5e-9, N_IMAGES)[:, None] * np.ones(N_NEURONS)
    np.savez_compressed(folder / "device_states.npz", synapse_gaps_m=gaps, sfa_gaps_m=sfa,
                        initial_synapse_gaps_m=gaps[0], filter_v_ref_A=np.full(N_FILTERS, 5e-7))
    return folder


def test_fig8_main_and_figure(tmp_path):
    (tmp_path / "cosim").mkdir()
    folder = _write_cosim(tmp_path / "cosim")
    assert fig8_astdp_evolution.main([str(folder), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig8_astdp_evolution.png").is_file()
    fig = fig8_astdp_evolution.plot_astdp_evolution(fig8_astdp_evolution.load_cosim_run(folder))
    ax_g, ax_t, ax_f = fig.axes
    assert [ln.get_label() for ln in ax_g.lines] == ["neuron 0 pattern", "neuron 0 background",
                                                     "neuron 1 pattern", "neuron 1 background"]
    assert all(len(ln.get_ydata()) == N_IMAGES for ln in ax_g.lines)
    assert "µS" in ax_g.get_ylabel() and "mV" in ax_t.get_ylabel()
    assert ax_f.get_xlabel() == "image (presentation order)" and ax_f.get_ylabel() == "fires per image (1)"
    assert len(ax_t.lines) == N_NEURONS
    v_th = ax_t.lines[0].get_ydata()
    assert np.all(np.diff(v_th) > 0)  # the SFA gap narrows image by image: V_TH rises
    assert len(ax_f.lines) == 1 + 2  # fires, and the first image of each of the 2 classes


def test_fig8_pattern_masks_with_complement_inputs():
    bits = np.array([[1, 0], [1, 1], [0, 0]])
    masks = fig8_astdp_evolution.pattern_masks(bits, np.array([0, 0, 1]), 4, 3)
    assert sorted(masks) == [0, 1]
    np.testing.assert_array_equal(masks[0], [True, False, False, False])  # bit 1 in 2/2 and 1/2 wins
    np.testing.assert_array_equal(masks[1], [False, False, True, True])


def test_fig8_errors(tmp_path):
    folder = tmp_path / "cosim"
    folder.mkdir()
    _write_cosim(folder, complement=True)
    pd.read_csv(folder / "winners.csv").drop(columns=["winner"]).to_csv(folder / "winners.csv", index=False)
    with pytest.raises(common.TableError, match=r"winners\.csv.*winner"):
        fig8_astdp_evolution.main([str(folder), "--out", str(tmp_path)])
    _write_cosim(folder, complement=True)
    np.savez(folder / "device_states.npz", synapse_gaps_m=np.zeros((N_IMAGES, 8, N_NEURONS)))
    with pytest.raises(common.TableError, match="sfa_gaps_m"):
        fig8_astdp_evolution.load_cosim_run(folder)


# ------------------------------------------------------------------ make_all ----------------

def test_make_all_skips_missing_inputs(tmp_path, capsys):
    results = tmp_path / "results"
    (results / "cosim").mkdir(parents=True)
    pd.DataFrame(_bits_rows()).to_csv(results / "frontend_bits.csv", index=False)
    _write_cosim(results / "cosim", complement=True)
    out = tmp_path / "figs"
    assert make_all.main([str(results), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fig5_bits.png", "fig8_astdp_evolution.png"]
    printed = capsys.readouterr().out
    assert "skipped fig2_device_levels" in printed and "skipped fig6_ic_vstop" in printed


# ------------------------------------------------------------------ Fig. 10 -----------------

from figures import fig10_continual, fig11_spike_rate  # noqa: E402

COUNTS = (1, 2, 3)


def _continual_row(n, seed, sfa):
    """A row as ``run_continual`` writes it: ``run_classification``'s row plus the JSON ``versions``."""
    import json

    acc = 0.9 - 0.05 * n - (0.0 if sfa else 0.1) + 0.01 * seed
    return {"dataset": "mnist", "features": "array", "engine": "fast", "n_nontrained": n,
            "nontrained": " ".join(str(k) for k in range(n)), "sfa": sfa, "n_neurons": 40, "seed": seed,
            "classifier_seed": seed, "learn_images": 200, "label_images": 100, "test_images": 100,
            "accuracy": acc, "no_winner": 0.02, "accuracy_trained": acc + 0.02, "accuracy_nontrained": acc - 0.1,
            "feature_rate": 0.3, "neurons_labelled": 38, "fires_per_image": 5.0 + n + (0 if sfa else 3),
            "set_per_image": 1.5, "reset_per_image": 1.2, "write_energy_per_image_j": 2e-12,
            "test_fires_per_image": 4.0, "test_set_per_image": 0.0, "test_reset_per_image": 0.0,
            "test_write_energy_per_image_j": 0.0, "seconds": 1.0,
            "versions": json.dumps({"numpy": "2.0", "python": "3.12"}, sort_keys=True)}


def _write_continual(folder):
    """``rramcosim experiment continual``'s OUT/continual.jsonl and OUT/continual.csv."""
    import json

    rows = [_continual_row(n, s, sfa) for n in COUNTS for s in SEEDS for sfa in (True, False)]
    (folder / "continual.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_tidy_csv(folder / "continual.csv", rows)
    return folder / "continual.csv"


def test_fig10_main_and_figure(tmp_path):
    path = _write_continual(tmp_path)
    assert fig10_continual.main([str(path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig10_continual.png").stat().st_size > 0
    fig = fig10_continual.plot_continual(fig10_continual.load_continual(path))
    ax_a, ax_f = fig.axes
    assert _labels(ax_a) == ("non-trained classes (1)", "test accuracy (%)")
    assert _labels(ax_f) == ("non-trained classes (1)", "fires per image (1)")
    # (a): global and non-trained accuracy per SFA mode; (b): fires per SFA mode; each over the counts
    assert len(ax_a.containers) == 4 and len(ax_f.containers) == 2
    assert all(len(c.lines[0].get_xdata()) == len(COUNTS) for c in ax_a.containers + ax_f.containers)
    on_global, on_nontrained = ax_a.containers[0].lines[0], ax_a.containers[1].lines[0]
    assert on_global.get_linestyle() == "-" and on_nontrained.get_linestyle() == "--"
    mean_seed = np.mean(SEEDS)
    np.testing.assert_allclose(np.asarray(on_global.get_ydata(), float),
                               [100 * (0.9 - 0.05 * n + 0.01 * mean_seed) for n in COUNTS])
    np.testing.assert_allclose(np.asarray(ax_f.containers[1].lines[0].get_ydata(), float),
                               [8.0 + n for n in COUNTS])  # SFA off
    assert ax_f.get_legend_handles_labels()[1] == ["SFA on (2 seeds)", "SFA off (2 seeds)"]


def test_fig10_reads_folder_and_jsonl(tmp_path):
    _write_continual(tmp_path)
    for source in (tmp_path, tmp_path / "continual.jsonl"):
        df = fig10_continual.load_continual(source)
        assert len(df) == len(COUNTS) * len(SEEDS) * 2
        assert df["accuracy"].between(0, 1).all() and set(df["n_nontrained"]) == set(COUNTS)


def test_fig10_errors(tmp_path):
    path = tmp_path / "continual.csv"
    pd.DataFrame([_continual_row(n, 1, True) for n in COUNTS]).drop(
        columns=["accuracy_nontrained", "versions"]).to_csv(path, index=False)
    with pytest.raises(common.TableError, match=r"continual\.csv.*accuracy_nontrained"):
        fig10_continual.main([str(path), "--out", str(tmp_path)])
    jsonl = tmp_path / "other" / "continual.jsonl"
    jsonl.parent.mkdir()
    pd.DataFrame([_continual_row(1, 1, True)]).drop(columns=["fires_per_image"]).to_json(
        jsonl, orient="records", lines=True)
    with pytest.raises(common.TableError, match=r"continual\.jsonl.*fires_per_image"):
        fig10_continual.load_continual(jsonl.parent)
    torn = tmp_path / "torn" / "continual.csv"  # a row with more cells than the header, no .jsonl
    torn.parent.mkdir()
    torn.write_text(",".join(fig10_continual.COLUMNS) + "\n1,1,True,0.5,0.4,3.0,extra\n")
    with pytest.raises(common.TableError, match=r"torn.continual\.csv.*more cells"):
        fig10_continual.load_continual(torn)


# ------------------------------------------------------------------ Fig. 11 -----------------

N_LEARN, NEW_AFTER = 40, 20


def _write_learning(folder):
    """``write_result``'s learning.csv: classes 0, 1 trained; 2 and 3 new after NEW_AFTER images."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = [k % 2 for k in range(NEW_AFTER)] + [k % 4 for k in range(N_LEARN - NEW_AFTER)]
    rows = [{"image": k, "label": y, "new_class": y >= 2, "winner": y, "fires": 2 + (5 if y >= 2 else 0),
             "set_events": 1, "reset_events": 2 if y >= 2 else 0, "write_energy_j": 1e-12 * (k % 3)}
            for k, y in enumerate(labels)]
    return write_tidy_csv(folder / "learning.csv", rows)


def test_fig11_main_and_figure(tmp_path):
    path = _write_learning(tmp_path / "mnist")
    assert fig11_spike_rate.main([str(path.parent), "--out", str(tmp_path), "--window", "5"]) == 0
    assert (tmp_path / "fig11_spike_rate.png").stat().st_size > 0
    table = fig11_spike_rate.load_learning(path)
    assert fig11_spike_rate.first_new_images(table) == [(NEW_AFTER + 2, 2), (NEW_AFTER + 3, 3)]
    fig = fig11_spike_rate.plot_spike_rate(table, window=4)
    ax_f, ax_e = fig.axes
    assert ax_f.get_ylabel() == "fires per image (1)"
    assert _labels(ax_e) == ("learning image (presentation order)", "SET + RESET events per image (1)")
    for ax in (ax_f, ax_e):  # per-image values, moving average, a line per new class
        assert len(ax.lines) == 2 + 2
        assert [ln.get_xdata()[0] for ln in ax.lines[2:]] == [NEW_AFTER + 2, NEW_AFTER + 3]
    fires_avg = np.asarray(ax_f.lines[1].get_ydata(), float)
    assert fires_avg[NEW_AFTER - 1] == pytest.approx(2.0) and fires_avg[-1] > fires_avg[NEW_AFTER - 1]
    events = np.asarray(ax_e.lines[0].get_ydata(), float)
    assert events[0] == 1 and events[NEW_AFTER + 2] == 3  # SET + RESET
    with pytest.raises(ValueError, match="window"):
        fig11_spike_rate.plot_spike_rate(table, window=0)


def test_fig11_missing_column(tmp_path):
    path = _write_learning(tmp_path)
    pd.read_csv(path).drop(columns=["reset_events"]).to_csv(path, index=False)
    with pytest.raises(common.TableError, match=r"learning\.csv.*reset_events"):
        fig11_spike_rate.main([str(path), "--out", str(tmp_path)])


def test_make_all_continual_and_learning(tmp_path):
    results = tmp_path / "results"
    (results / "continual").mkdir(parents=True)
    _write_continual(results / "continual")
    _write_learning(results / "classify" / "fashion-mnist")
    _write_learning(results / "classify" / "mnist")
    assert make_all._learning_table(results / "classify") == results / "classify" / "mnist" / "learning.csv"
    out = tmp_path / "figs"
    written, skipped = make_all.make_all(results, out)
    assert sorted(p.name for p in written) == ["fig10_continual.png", "fig11_spike_rate.png"]
    assert "fig10_continual" not in skipped and "fig11_spike_rate" not in skipped
