"""`rramcosim experiment classify | continual`: the reference system's classification experiments
(options -> ``cosim.experiments`` configs; results as tidy tables plus a JSON record)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import click

_USER_ERRORS = (ValueError, OSError, KeyError)


def _int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"{what} must be comma-separated integers, got {text!r}") from None


def _common(fn: Any) -> Any:
    options = [
        click.option("--dataset", default="mnist", show_default=True,
                     help="mnist | fashion-mnist | noisy-mnist | cifar10 | mnist-sample (embedded); "
                          "comma-separated for several."),
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Folder of the data sets (default: $RRAMCOSIM_DATA_DIR or the cache)."),
        click.option("--features", type=click.Choice(["array", "software"]), default="array", show_default=True,
                     help="Feature maps from the programmed array (fast engine) or the quantised weights."),
        click.option("--learn-images", default=10000, show_default=True, help="Images the A-STDP layer learns on."),
        click.option("--label-images", default=5000, show_default=True, help="Images that label the neurons."),
        click.option("--test-images", type=int, default=None, help="Test images scored (default: all)."),
        click.option("--redundancy", default=4, show_default=True, help="Output neurons per class."),
        click.option("--pattern-slots", type=click.IntRange(1), default=None,
                     help="Slots per image in which its pattern spikes [default: the classifier's, 2]. "
                          "With more, a neuron can fire again on the same image and SFA lowers its rate "
                          "(the power saving)."),
        click.option("--reset-off-pattern", is_flag=True,
                     help="Open the gates of every input outside the pattern during each RESET pulse "
                          "(off-pattern depression); pair it with switching probabilities below 1, "
                          "e.g. --p-set 0.5 --p-reset 0.2 (with 1 / 1 each fire copies one pattern)."),
        click.option("--p-set", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
                     help="Probability that a SET pulse reaching a synapse switches it."),
        click.option("--p-reset", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
                     help="Probability that a RESET pulse reaching a synapse switches it."),
        click.option("--synapse-c2c", is_flag=True,
                     help="Give every switched synapse the model card's cycle-to-cycle spread (the "
                          "spread shrinks as the synapse I_C rises) [default: nominal writes]."),
        click.option("--reset-voltage", type=click.FloatRange(max=0, max_open=True), default=None,
                     help="Top-electrode level of the synapses' RESET pulse, V (< 0; default: the "
                          "circuit's full RESET, -2 V). Near -1.42 V one pulse RESETs a SiOx synapse "
                          "only partly, so depression is graded and a neuron's weights average its "
                          "cluster; a larger synapse I_C (deeper LRS) needs a stronger pulse."),
        click.option("--reset-drop", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
                     help="Solve the RESET level instead: the one at which a single pulse takes this "
                          "fraction of a fully SET synapse's read current (e.g. 0.03), so depression "
                          "stays graded at any synapse I_C. Excludes --reset-voltage."),
        click.option("--synapse-ic", type=click.FloatRange(0, min_open=True), default=None,
                     help="SET compliance of the A-STDP synapses, A (solved into their gate level; the "
                          "neurons' leak follows the LRS current) [default: the circuit's gate, ~53 uA]."),
        click.option("--epochs", default=None, type=int, help="Float epochs of a newly trained front end."),
        click.option("--filter-ic", type=(click.FloatRange(0, min_open=True), click.FloatRange(0, min_open=True)),
                     default=None, metavar="MIN MAX",
                     help="SET compliance of the front end's level 1 and top level, A (the levels are "
                          "spaced between; each level's spread is the model's at its I_C) [default: "
                          "20e-6 200e-6]."),
        click.option("--filter-v-stop", type=click.FloatRange(0, min_open=True), default=None,
                     help="RESET stop voltage of the front end's devices, V (sets the HRS, level 0) "
                          "[default: 2.0]."),
        click.option("--verify-tolerance", type=click.FloatRange(0, min_open=True), default=None,
                     help="Write-verify the front end's array: re-write each device until it reads within "
                          "this many level steps of its target (e.g. 0.5) [default: open loop, each "
                          "device written once at its level's I_C]."),
        click.option("--verify-relax", type=click.FloatRange(min=1), default=None,
                     help="With --verify-tolerance: widen the accepted band by this factor per verify "
                          "read (e.g. 1.3), so a device that keeps missing is accepted near its target "
                          "instead of left at its last draw [default: 1, a fixed band]."),
        click.option("--spice-check", default=0, show_default=True,
                     help="Learning episodes (spread over learning) and test episodes re-run in ngspice "
                          "from the same device states."),
        click.option("--spice-features", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Test images whose convolution is re-run in SPICE (VACASK) on the programmed "
                          "array, their feature maps compared with the fast engine's and scored by the "
                          "frozen layer (minutes per image for the 400 x 64 array)."),
        click.option("--spice-contenders", default="3", show_default=True,
                     help="Neurons of the layer slice each ngspice re-run simulates (the ones that lead "
                          "the race), or 'all'."),
        click.option("--seed", default=0, show_default=True, help="Seed of the image order and the layer."),
    ]
    return with_options(fn, options + output_options())


def output_options() -> list[Any]:
    """``--out`` (required) and ``-v``, last in every experiment's options."""
    return [click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
                         help="Output folder."),
            click.option("-v", "--verbose", count=True)]


def with_options(fn: Any, options: list[Any]) -> Any:
    """``fn`` decorated with click ``options``, listed in ``--help`` in the order given."""
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _feature_cache(fn: Any) -> Any:
    """The feature-map cache options of the commands whose front ends stay fixed."""
    fn = click.option("--no-cache", is_flag=True, help="Train every front end afresh; keep nothing.")(fn)
    return click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Keep each front end's feature maps here, so a re-run with other classifier "
                             "settings trains no front end [default: the rramcosim cache's features/].")(fn)


def _base_config(dataset: str, data_dir: Path | None, features: str, learn_images: int, label_images: int,
                 test_images: int | None, redundancy: int, pattern_slots: int | None, reset_off_pattern: bool,
                 p_set: float, p_reset: float, synapse_c2c: bool,
                 reset_voltage: float | None, reset_drop: float | None, synapse_ic: float | None,
                 epochs: int | None, filter_ic: tuple[float, float] | None, filter_v_stop: float | None,
                 verify_tolerance: float | None, verify_relax: float | None, spice_check: int,
                 spice_features: int, spice_contenders: str, seed: int, **extra: Any) -> Any:
    from circuits.astdp import AstdpParams
    from cosim.classifier import ClassifierConfig, with_reset_drop, with_synapse_compliance
    from cosim.experiments import ClassificationConfig, Features
    from cosim.frontend.config import HardwareConfig, TrainConfig

    if reset_voltage is not None and reset_drop is not None:
        raise click.UsageError("give --reset-voltage or --reset-drop, not both")
    if verify_relax is not None and verify_tolerance is None:
        raise click.UsageError("--verify-relax widens the band of --verify-tolerance: give both")
    if filter_ic is not None and not filter_ic[0] < filter_ic[1]:
        raise click.BadParameter(f"MIN must be below MAX, got {filter_ic[0]:g} {filter_ic[1]:g}",
                                 param_hint="--filter-ic")
    array = {k: v for k, v in (("i_c_range", filter_ic), ("v_stop", filter_v_stop),
                               ("verify_tolerance", verify_tolerance), ("verify_relax", verify_relax))
             if v is not None}
    train = TrainConfig() if epochs is None else TrainConfig(epochs=epochs)
    astdp = AstdpParams() if reset_voltage is None else AstdpParams(v_te_reset=reset_voltage)
    clf = ClassifierConfig(redundancy=redundancy, seed=seed, p_set=p_set, p_reset=p_reset, c2c=synapse_c2c,
                           reset_off_pattern=reset_off_pattern, astdp=astdp)
    if pattern_slots is not None:
        clf = dataclasses.replace(clf, schedule=dataclasses.replace(clf.schedule, pattern_slots=pattern_slots))
    try:
        if synapse_ic is not None:  # first: the compliance sets the LRS depth the RESET drop depends on
            clf, solved = with_synapse_compliance(clf, synapse_ic)
            click.echo(f"synapse I_C {synapse_ic:.3g} A: gate {solved['v_gate_on']:.4f} V, "
                       f"r_leak {solved['r_leak']:.4g} ohm", err=True)
        if reset_drop is not None:
            clf, solved = with_reset_drop(clf, reset_drop)
            click.echo(f"RESET drop {reset_drop:.3g}: level {solved['v_te_reset']:.4f} V", err=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--synapse-ic / --reset-drop") from None
    if reset_voltage is not None:  # a level that cannot switch: refuse it now, not after the front end
        from cosim.fast.astdp import FastAstdpModel, NoSwitching

        try:
            FastAstdpModel.build(clf.stage(1))  # characterised once, cached: the run reuses it
        except NoSwitching as exc:
            raise click.BadParameter(str(exc), param_hint="--reset-voltage") from None
    return ClassificationConfig(dataset=dataset, data_dir=None if data_dir is None else str(data_dir),
                                features=Features(features), learn_images=learn_images,
                                label_images=label_images, test_images=test_images, train=train,
                                classifier=clf,
                                hardware=HardwareConfig(**array) if array else None,
                                spice_check=spice_check, spice_features=spice_features,
                                spice_contenders=_contenders(spice_contenders),
                                seed=seed, **extra)


def _contenders(text: str) -> int | None:
    from cosim.classifier import parse_contenders

    try:
        return parse_contenders(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--spice-contenders") from None


def _print_rows(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.table import Table

    from rramcosim.tables import print_table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{r[c]:.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns])
    print_table(table)


@click.command("classify", short_help="Front end -> A-STDP classification: accuracy vs the paper, power proxy.")
@_common
@_feature_cache
@click.option("--bank", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A saved front end (.npz); default: train one on the data set.")
@click.option("--nontrained", default="", help="Classes held out of the front end's training, e.g. 5,6,7.")
@click.option("--new-classes-after", default=0, show_default=True,
              help="Learning images from trained classes only before new classes appear (Fig. 11).")
@click.option("--no-sfa", is_flag=True, help="Fixed thresholds (no spike-frequency adaptation).")
def classify(bank: Path | None, nontrained: str, new_classes_after: int, no_sfa: bool, cache_dir: Path | None,
             no_cache: bool, out_dir: Path, verbose: int, dataset: str, **kw: Any) -> None:
    """All classes trained (paper Fig. 9 and its table) or some held out: front end -> feature
    maps -> A-STDP learning -> labelling -> accuracy, power proxy and the per-image learning log.
    Writes OUT/<dataset>/{result.csv, learning.csv, run.json} and OUT/summary.csv."""
    from cosim.experiments import cached_features, default_feature_cache, run_classification, write_result
    from cosim.waveforms import write_tidy_csv

    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    rows = []
    names = [d.strip() for d in dataset.split(",") if d.strip()]
    if not names:
        raise click.BadParameter("name at least one data set", param_hint="--dataset")
    try:  # once: the classifier (and its gate / RESET solves) is the same for every data set
        base = _base_config(names[0], nontrained=_int_list(nontrained, "--nontrained"),
                            bank=None if bank is None else str(bank), new_classes_after=new_classes_after, **kw)
    except _USER_ERRORS as exc:
        raise click.ClickException(f"{names[0]}: {exc}") from None
    if no_sfa:
        base = dataclasses.replace(base, classifier=dataclasses.replace(base.classifier, sfa=False))
    for name in names:
        try:
            cfg = dataclasses.replace(base, dataset=name)
            feats = None if no_cache else cached_features(cfg, cache_dir or default_feature_cache())[0]
            result = run_classification(cfg, feats)
        except _USER_ERRORS as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        write_result(result, out_dir / name)
        rows.append(result.row)
    write_tidy_csv(out_dir / "summary.csv", rows)
    _print_rows("A-STDP classification", rows,
                ("dataset", "features", "n_nontrained", "sfa", "accuracy", "paper_accuracy", "accuracy_trained",
                 "accuracy_nontrained", "fires_per_image", "write_energy_per_image_j", "seconds"))
    click.echo(f"wrote {out_dir / 'summary.csv'}")


@click.command("continual", short_help="Continual learning vs non-trained classes, SFA on and off (Fig. 10).")
@_common
@_feature_cache
@click.option("--counts", default="1,2,3,4,5", show_default=True, help="Numbers of non-trained classes.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Seeds (each draws its held-out classes).")
@click.option("--sfa", "sfa_modes", type=click.Choice(["both", "on", "off"]), default="both", show_default=True)
def continual(counts: str, seeds: str, sfa_modes: str, cache_dir: Path | None, no_cache: bool, out_dir: Path,
              verbose: int, seed: int, **kw: Any) -> None:
    """Continual learning (paper Fig. 10): for each count of non-trained classes and seed, a front
    end trained on the other classes, then A-STDP on all; with and without SFA. Rows go to
    OUT/continual.jsonl as runs finish (re-running resumes); OUT/continual.csv at the end."""
    from cosim.experiments import default_feature_cache, run_continual, summarize_continual
    from cosim.waveforms import write_tidy_csv

    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    sfa = {"both": (True, False), "on": (True,), "off": (False,)}[sfa_modes]
    try:
        base = _base_config(seed=seed, **kw)
        rows = run_continual(base, _int_list(counts, "--counts"), _int_list(seeds, "--seeds"), sfa,
                             out_dir / "continual.jsonl", progress=lambda msg: click.echo(msg, err=True),
                             cache_dir=None if no_cache else (cache_dir or default_feature_cache()))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tidy_csv(out_dir / "continual.csv", rows)
    summary = summarize_continual(rows)
    write_tidy_csv(out_dir / "continual_summary.csv", summary)
    _print_rows("continual learning", rows, ("n_nontrained", "nontrained", "seed", "sfa", "accuracy",
                                             "accuracy_trained", "accuracy_nontrained", "fires_per_image"))
    _print_rows("mean and std over seeds", summary, ("n_nontrained", "sfa", "seeds", "accuracy_mean", "accuracy_std",
                                                     "accuracy_nontrained_mean", "accuracy_nontrained_std",
                                                     "fires_per_image_mean"))
    click.echo(f"wrote {out_dir / 'continual.csv'} ({json.dumps(len(rows))} runs) and "
               f"{out_dir / 'continual_summary.csv'}")
