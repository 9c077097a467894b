"""`rramcosim experiment retrain`: re-training of silent feature filters from the A-STDP clusters
(paper Figs. 12-14; options -> ``cosim.experiments`` and ``cosim.retraining`` configs)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import click

from rramcosim.reference_cli import _USER_ERRORS, _base_config, _common, _int_list, _print_rows


@click.command("retrain", short_help="Re-train silent feature filters from the A-STDP clusters (Figs. 12-14).")
@_common
@click.option("--bank", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A saved front end (.npz) trained without the held-out classes; default: train one.")
@click.option("--nontrained", default="", help="Classes held out of the front end's training, e.g. 7,8,9.")
@click.option("--n-nontrained", default=3, show_default=True,
              help="Without --nontrained: this many held-out classes, drawn from --seed.")
@click.option("--no-sfa", is_flag=True, help="Fixed thresholds (no spike-frequency adaptation).")
@click.option("--silent-threshold", default=0.02, show_default=True,
              help="Appearance rate below which a feature filter is silent (re-trained).")
@click.option("--max-filters", type=int, default=None, help="Silent filters re-trained at most (most silent first).")
@click.option("--targets", type=click.Choice(["new", "all"]), default="new", show_default=True,
              help="Clusters the re-trained filters learn: those of non-trained classes, or all.")
@click.option("--retrain-epochs", default=20, show_default=True, help="Float epochs of the re-training.")
@click.option("--retrain-qat-epochs", default=1, show_default=True, help="Quantisation-aware epochs after them.")
@click.option("--retrain-lr", default=1e-2, show_default=True, help="Adam learning rate of the re-training.")
@click.option("--retrain-images", type=int, default=10000, show_default=True,
              help="Learning-stream images used for the re-training at most.")
@click.option("--reinit", is_flag=True, help="Re-train from fresh random weights, not the silent filters' own.")
def retrain(bank: Path | None, nontrained: str, n_nontrained: int, no_sfa: bool, silent_threshold: float,
            max_filters: int | None, targets: str, retrain_epochs: int, retrain_qat_epochs: int, retrain_lr: float,
            retrain_images: int, reinit: bool, out_dir: Path, verbose: int, dataset: str, seed: int,
            **kw: Any) -> None:
    """Continual learning with held-out classes, then re-training (paper item 7): the A-STDP
    layer clusters the learning stream; feature filters that almost never fire are re-trained
    one-vs-all on those clusters (pseudo-labels, not the true labels); feature maps and the
    A-STDP classification are recomputed. Writes OUT/{retraining.csv (appearance per filter
    and phase), accuracy.csv (per phase), run.json} and the front ends in OUT/banks/."""
    from cosim.experiments import held_out_classes
    from cosim.retraining import RetrainConfig, RetrainTargets, run_retraining, write_retraining

    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    try:
        if "," in dataset:
            raise ValueError(f"--dataset: one data set per re-training run, got {dataset!r}")
        held = _int_list(nontrained, "--nontrained") or held_out_classes(n_nontrained, seed)
        cfg = _base_config(dataset, nontrained=held, bank=None if bank is None else str(bank), seed=seed, **kw)
        if no_sfa:
            cfg = dataclasses.replace(cfg, classifier=dataclasses.replace(cfg.classifier, sfa=False))
        r = RetrainConfig(silent_threshold=silent_threshold, max_filters=max_filters, targets=RetrainTargets(targets),
                          epochs=retrain_epochs, qat_epochs=retrain_qat_epochs, lr=retrain_lr,
                          max_images=retrain_images, reinit=reinit, seed=seed)
        result = run_retraining(cfg, r, work_dir=out_dir / "banks", progress=lambda msg: click.echo(msg, err=True))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    write_retraining(result, out_dir)
    _print_rows("re-training of silent feature filters", result.accuracy_rows,
                ("phase", "nontrained", "retrained_filters", "accuracy", "accuracy_trained", "accuracy_nontrained",
                 "feature_rate", "fires_per_image"))
    click.echo(f"re-trained filters {list(result.report.retrained)} for clusters {list(result.report.targets)}")
    click.echo(f"wrote {out_dir / 'retraining.csv'}, {out_dir / 'accuracy.csv'}, {out_dir / 'run.json'}")
