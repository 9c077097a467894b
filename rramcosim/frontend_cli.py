"""`rramcosim experiment bits` and `rramcosim experiment ic-vstop`: the front end's accuracy vs
bits per weight (paper Fig. 5) and vs the filter devices' I_C and V_STOP (Fig. 6), the same
evaluation as the sweep tasks "frontend-bits" / "frontend-ic" (``cosim.frontend.sweeps``), run
in one process on a saved or newly trained front end."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import click

from rramcosim.reference_cli import _USER_ERRORS, _print_rows, output_options, with_options

_COLUMNS = ("variant", "bits", "i_c_max", "v_stop", "readout_accuracy", "ff_readout_accuracy", "cf_accuracy")
_NO_SPICE = ("none: the front-end experiments score the array through the fast engine; "
             "`rramcosim experiment classify --spice-features N` re-runs it in SPICE")


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=option) from None
    if not values or any(not v > 0 for v in values):
        raise click.BadParameter(f"expected numbers > 0, got {text!r}", param_hint=option)
    return values


def _options(fn: Any) -> Any:
    options = [
        click.option("--dataset", default="mnist", show_default=True,
                     help="mnist | fashion-mnist | noisy-mnist | cifar10 | mnist-sample (embedded)."),
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Folder of the data sets (default: $RRAMCOSIM_DATA_DIR or the cache)."),
        click.option("--bank", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="A saved front end (.npz, scripts/train_frontend.py); default: train one."),
        click.option("--epochs", type=click.IntRange(1), default=None,
                     help="Float epochs of a newly trained front end [default: TrainConfig's]."),
        click.option("--fit-images", type=click.IntRange(1), default=10000, show_default=True,
                     help="Training images that fit the readout and re-calibrate V_REF."),
        click.option("--test-images", type=click.IntRange(1), default=None,
                     help="Test images scored [default: the whole test split]."),
        click.option("--i-c-min", type=click.FloatRange(0, min_open=True), default=20e-6, show_default=True,
                     help="SET compliance of level 1 (A)."),
        click.option("--r-wire", type=click.FloatRange(0), default=2.5, show_default=True,
                     help="Wire resistance per segment (ohm)."),
        click.option("--seed", default=0, show_default=True,
                     help="Seed of a newly trained front end and of the programming draws."),
    ]
    return with_options(fn, options + output_options())


def _run(kind: str, out_dir: Path, dataset: str, data_dir: Path | None, bank: Path | None, epochs: int | None,
         fit_images: int, test_images: int | None, seed: int, verbose: int, options: dict[str, Any],
         evaluate: Callable[[Any, tuple], list[dict[str, Any]]]) -> None:
    from cosim.frontend.config import TrainConfig
    from cosim.frontend.io import load_frontend
    from cosim.frontend.sweeps import evaluation_data
    from cosim.frontend.train import train_frontend
    from cosim.provenance import file_sha256, plain, versions
    from cosim.waveforms import write_tidy_csv
    from compact_model.atomic import write_text_atomic

    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        if bank is not None:
            front, train_cfg = load_frontend(str(bank)), None
        else:
            from cosim.datasets import load_dataset

            train_cfg = TrainConfig(seed=seed) if epochs is None else TrainConfig(seed=seed, epochs=epochs)
            train = load_dataset(dataset, "train", data_dir=data_dir)
            front = train_frontend(train.images, train.labels, train_cfg)
        t_front = time.perf_counter() - t0
        fit, test = evaluation_data(front, dataset, data_dir, fit_images, test_images)
        rows = evaluate(front, (fit.images, fit.labels, test.images, test.labels))
    except _USER_ERRORS as exc:
        raise click.ClickException(f"{dataset}: {exc}") from None
    rows = [dict(r, dataset=dataset) for r in rows]
    out_dir.mkdir(parents=True, exist_ok=True)
    table = write_tidy_csv(out_dir / f"frontend_{kind}.csv", rows)
    record = {"format": f"rramcosim-frontend-{kind}/1", "dataset": dataset, "options": plain(options),
              "front_end": {"bank": None if bank is None else str(bank),
                            "bank_sha256": None if bank is None else file_sha256(bank),
                            "train": None if train_cfg is None else plain(dataclasses.asdict(train_cfg)),
                            "seed": front.config.seed, "trained_classes": list(front.trained_classes)},
              "fit_source": fit.source, "test_source": test.source, "engine": "fast", "spice_check": _NO_SPICE,
              "timings_s": {"front_end_s": t_front, "total_s": time.perf_counter() - t0}, "versions": versions()}
    write_text_atomic(out_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")
    _print_rows(f"front end vs {kind}", rows, tuple(c for c in _COLUMNS if any(c in r for r in rows)))
    click.echo(f"wrote {table} and {out_dir / 'run.json'}")


@click.command("bits", short_help="Front-end accuracy vs bits per weight (Fig. 5).")
@_options
@click.option("--bits", "bit_list", default="2,3,4,5,6", show_default=True, help="Bits per weight, comma-separated.")
@click.option("--i-c-max", type=click.FloatRange(0, min_open=True), default=200e-6, show_default=True,
              help="SET compliance of the top level (A).")
@click.option("--v-stop", type=click.FloatRange(0, min_open=True), default=2.0, show_default=True,
              help="RESET stop voltage (V): the HRS of level 0.")
def bits(bit_list: str, i_c_max: float, v_stop: float, i_c_min: float, r_wire: float, **kw: Any) -> None:
    """Paper Fig. 5: the front end's float weights re-quantised to each width (V_REF
    re-calibrated), scored in software and on the programmed array (fast engine). Writes
    OUT/frontend_bits.csv and OUT/run.json."""
    from cosim.frontend.config import HardwareConfig
    from cosim.frontend.evaluate import EvalConfig
    from cosim.frontend.sweeps import accuracy_vs_bits

    try:
        widths = [int(b) for b in bit_list.split(",") if b.strip()]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise click.BadParameter(f"expected comma-separated whole numbers >= 1, got {bit_list!r}", param_hint="--bits")
    hw = HardwareConfig(i_c_range=(i_c_min, i_c_max), v_stop=v_stop, r_wire=r_wire, seed=kw["seed"])
    ev = EvalConfig(readout_fit_images=kw["fit_images"])
    _run("bits", evaluate=lambda front, data: accuracy_vs_bits(front, *data, widths, hardware=hw, config=ev),
         options={"bits": widths, "i_c_range": [i_c_min, i_c_max], "v_stop": v_stop, "r_wire": r_wire}, **kw)


@click.command("ic-vstop", short_help="Class / feature filter accuracy vs I_C and V_STOP (Fig. 6).")
@_options
@click.option("--i-c-max", "i_c_max_list", default="60e-6,100e-6,200e-6,400e-6", show_default=True,
              help="SET compliances of the top level (A), comma-separated.")
@click.option("--v-stop", "v_stop_list", default="1.0,1.5,2.0,2.5", show_default=True,
              help="RESET stop voltages (V), comma-separated.")
def ic_vstop(i_c_max_list: str, v_stop_list: str, i_c_min: float, r_wire: float, **kw: Any) -> None:
    """Paper Fig. 6: the 4-bit front end programmed at every (top-level I_C, V_STOP) of the grid
    through the fast engine; class-filter (one-vs-all) and feature-filter (readout) accuracy.
    Writes OUT/frontend_ic-vstop.csv and OUT/run.json."""
    from cosim.frontend.config import HardwareConfig
    from cosim.frontend.evaluate import EvalConfig
    from cosim.frontend.sweeps import accuracy_vs_ic

    tops, stops = _floats(i_c_max_list, "--i-c-max"), _floats(v_stop_list, "--v-stop")
    if any(top <= i_c_min for top in tops):
        raise click.BadParameter(f"every top-level I_C must exceed --i-c-min ({i_c_min:g} A), got {i_c_max_list!r}",
                                 param_hint="--i-c-max")
    hw = HardwareConfig(r_wire=r_wire, seed=kw["seed"])
    ev = EvalConfig(readout_fit_images=kw["fit_images"])
    _run("ic-vstop", evaluate=lambda front, data: accuracy_vs_ic(front, *data, [(i_c_min, t) for t in tops], stops,
                                                                 hardware=hw, config=ev),
         options={"i_c_min": i_c_min, "i_c_max": tops, "v_stop": stops, "r_wire": r_wire}, **kw)
