"""The `rramcosim` command. Each subcommand parses options, builds a config, calls one library function."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import click

from compact_model.cards import CardError, load_card, load_preset, preset_names
from compact_model.measurements import MeasurementFormatError
from compact_model.params import Polarity

_USER_ERRORS = (MeasurementFormatError, CardError, ValueError, FileNotFoundError)


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
@click.option("-v", "--verbose", count=True)
def demo(out_dir: Path, verbose: int) -> None:
    """Run the main job on the embedded default (no download): fit the bundled sample sweeps.

    The sample is a SET and a RESET sweep simulated from the 'siox-literature' preset with
    noise. The fit starts from the 'jiang2016-hfox' preset; the table sets the fitted values
    beside the generating ones (the oxide thickness is not fitted, so gamma0 and g_max absorb
    the difference: only the products that shape the I-V are identifiable).
    """
    from compact_model.fit.workflow import FitJob, run_fit_job

    _setup_logging(verbose)
    data = resources.files("compact_model") / "data"
    files = tuple(Path(str(data / n)) for n in ("sample_set.csv", "sample_reset.csv"))
    start = load_preset("jiang2016-hfox")
    truth = load_preset("siox-literature")
    job = FitJob(inputs=files, start=start, out_dir=out_dir, name="demo-siox")
    outcome = run_fit_job(job)
    _print_demo_table(outcome.result, start, truth)
    click.echo(f"wrote {outcome.card_path}\nwrote {outcome.report_path}\nwrote {outcome.plot_path}")


def _print_demo_table(result, start, truth) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Compact-model fit of the bundled sample "
                        f"(median |I| error {100 * result.metrics['median_rel_error_I']:.1f} %)")
    for col in ("parameter", "start", "fitted", "std. error", "generating value"):
        table.add_column(col, justify="right" if col != "parameter" else "left")
    for name, value in result.values.items():
        section, _, field = name.partition(".")
        table.add_row(name, f"{getattr(getattr(start, section), field):.4g}", f"{value:.4g}",
                      f"{result.stderr[name]:.2g}", f"{getattr(getattr(truth, section), field):.4g}")
    Console().print(table)


if __name__ == "__main__":
    main()
