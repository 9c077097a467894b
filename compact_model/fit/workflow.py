"""The fitting workflow behind `rramcosim fit`: load files, fit, write card + report + plot.

Outputs are written only after the fit succeeded, each atomically, so an error never leaves a
half-written parameter file behind.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from compact_model.atomic import write_text_atomic
from compact_model.cards import save_card
from compact_model.fit.core import FitResult
from compact_model.fit.iv import fit_iv, prepare_sweeps, simulate_sweeps
from compact_model.fit import distributions as dist
from compact_model.fit.report import plot_cycling, plot_distribution_fit, plot_iv_fit
from compact_model.measurements import (ControlQuantity, CyclingTable, IVSweep, ResistanceTable,
                                        estimate_compliance, load_measurement)
from compact_model.params import ModelCard, Polarity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class FitJob:
    """What to fit and where the results go."""

    inputs: tuple[Path, ...]  # measurement files (Keithley .xlsx/.csv, plain CSV)
    start: ModelCard  # starting parameters
    out_dir: Path  # where card, report and plot are written
    name: str  # name of the fitted card (and of the output files)
    compliance: float | None = None  # A; None = from the file or estimated from the data
    polarity: Polarity | None = None  # SET polarity; None = inferred from the sweeps
    max_points: int = 300  # per sweep; longer sweeps are thinned evenly
    card_suffix: str = ".toml"  # ".toml" or ".json"
    v_bl: float = 2.0  # V, SET pulse on the bit line (R vs gate-voltage data)
    pulse_width: float = 1e-6  # s, SET pulse width (R vs compliance / gate-voltage data)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("no input files given")
        if self.card_suffix not in (".toml", ".json"):
            raise ValueError(f"card format must be .toml or .json, got {self.card_suffix!r}")
        if self.max_points < 10:
            raise ValueError(f"max_points must be >= 10, got {self.max_points}")
        if self.compliance is not None and not self.compliance > 0:
            raise ValueError(f"compliance must be > 0 A, got {self.compliance}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FitOutcome:
    result: FitResult
    card_path: Path
    report_path: Path
    plot_path: Path


def load_sweeps(paths: Sequence[Path]) -> list[IVSweep]:
    """All I-V sweeps in the given files; other measurement kinds are an error naming the file."""
    sweeps: list[IVSweep] = []
    for path in paths:
        loaded = load_measurement(path)
        items = loaded if isinstance(loaded, list) else [loaded]
        for item in items:
            if not isinstance(item, IVSweep):
                raise ValueError(f"{path}: holds a {type(item).__name__}, not I-V sweeps; "
                                 "the I-V fit needs Keithley sweeps or plain CSV of kind 'iv'")
            sweeps.append(item)
    return sweeps


def infer_set_polarity(sweeps: Sequence[IVSweep]) -> Polarity:
    """The voltage sign whose sweeps leave the device more conductive (they SET it)."""
    votes = 0.0
    for s in sweeps:
        out, back = s.split_branches()

        def low_bias_conductance(branch: IVSweep) -> float:
            v, i = np.asarray(branch.voltage), np.asarray(branch.current)
            sel = (np.abs(v) > 0.02) & (np.abs(v) < 0.4 * np.max(np.abs(v)))
            return float(np.median(np.abs(i[sel] / v[sel]))) if np.any(sel) else float("nan")

        g_out, g_back = low_bias_conductance(out), low_bias_conductance(back)
        if np.isfinite(g_out) and np.isfinite(g_back) and g_out > 0 and g_back > 0:
            votes += s.polarity * np.sign(np.log(g_back / g_out))
    if votes == 0:
        raise ValueError("cannot tell the SET polarity from these sweeps; give it explicitly")
    return Polarity.POSITIVE if votes > 0 else Polarity.NEGATIVE


def _with_compliance(sweeps: Sequence[IVSweep], compliance: float | None) -> list[Any]:
    out = []
    for s in sweeps:
        ic = compliance if compliance is not None else (s.compliance or estimate_compliance(s))
        out.append(dataclasses.replace(s, compliance=ic) if ic != s.compliance else s)
    return out


def run_fit_job(job: FitJob) -> FitOutcome:
    """Fit the data in ``job.inputs`` and write ``<name>.toml``, ``<name>-report.txt``, ``<name>-fit.png``.

    I-V sweeps (Keithley, plain 'iv') get the dynamic I-V fit; one resistance table (plain
    'r_vs_ic', 'r_vs_vstop', 'r_vs_vgate') or cycling table gets the matching distribution fit.
    """
    loaded = [load_measurement(p) for p in job.inputs]
    items = [x for item in loaded for x in (item if isinstance(item, list) else [item])]
    if all(isinstance(x, IVSweep) for x in items):
        return _run_iv(job, items)
    if len(items) == 1 and isinstance(items[0], (ResistanceTable, CyclingTable)):
        return _run_distribution(job, items[0])
    kinds = sorted({type(x).__name__ for x in items})
    raise ValueError(f"{', '.join(map(str, job.inputs))}: cannot fit {' + '.join(kinds)} together; "
                     "give I-V sweeps, or one resistance or cycling table")


def _outputs(job: FitJob, result: FitResult) -> tuple[Path, Path]:
    job.out_dir.mkdir(parents=True, exist_ok=True)
    card_path = save_card(result.card, job.out_dir / f"{job.name}{job.card_suffix}")
    report_path = write_text_atomic(job.out_dir / f"{job.name}-report.txt",
                                    result.summary() + "\n\n" + result.report + "\n")
    return card_path, report_path


def _start_card(job: FitJob, polarity: Polarity) -> ModelCard:
    return dataclasses.replace(job.start, name=job.name,
                               device=dataclasses.replace(job.start.device, set_polarity=polarity))


def _run_iv(job: FitJob, sweeps: list[IVSweep]) -> FitOutcome:
    sweeps = _with_compliance(sweeps, job.compliance)
    polarity = job.polarity or infer_set_polarity(sweeps)
    log.info("fitting %d sweep(s) from %d file(s), SET polarity %s", len(sweeps), len(job.inputs),
             polarity.name)
    source = ", ".join(p.name for p in job.inputs)
    result = fit_iv(_start_card(job, polarity), sweeps, max_points=job.max_points, data_source=source)
    card_path, report_path = _outputs(job, result)
    data = prepare_sweeps(sweeps, max_points=job.max_points)
    plot_path = plot_iv_fit(data, simulate_sweeps(result.card.device, data),
                            job.out_dir / f"{job.name}-fit.png",
                            title=f"{job.name}: median |I| error "
                                  f"{100 * result.metrics['median_rel_error_I']:.1f} %")
    return FitOutcome(result=result, card_path=card_path, report_path=report_path, plot_path=plot_path)


def _run_distribution(job: FitJob, table: ResistanceTable | CyclingTable) -> FitOutcome:
    start = _start_card(job, job.polarity or job.start.device.set_polarity)
    source = ", ".join(p.name for p in job.inputs)
    if isinstance(table, CyclingTable):
        result = dist.fit_cycling_spread(start, table.r_lrs, table.r_hrs, data_source=source)
        card_path, report_path = _outputs(job, result)
        plot_path = plot_cycling(table, result.card, job.out_dir / f"{job.name}-fit.png")
        return FitOutcome(result=result, card_path=card_path, report_path=report_path,
                          plot_path=plot_path)
    x, r = np.asarray(table.x), np.asarray(table.resistance)
    kind = table.x_name
    if kind is ControlQuantity.COMPLIANCE_CURRENT:
        result = dist.fit_lrs_vs_compliance(start, x, r, v_set=job.v_bl, width=job.pulse_width,
                                            data_source=source)
    elif kind is ControlQuantity.V_STOP:
        result = dist.fit_hrs_vs_vstop(start, x, r, data_source=source)
    else:
        result = dist.fit_lrs_vs_gate(start, x, r, v_bl=job.v_bl, width=job.pulse_width,
                                      data_source=source)
    card_path, report_path = _outputs(job, result)
    plot_path = plot_distribution_fit(table, result.card, job.out_dir / f"{job.name}-fit.png",
                                      v_bl=job.v_bl, width=job.pulse_width)
    return FitOutcome(result=result, card_path=card_path, report_path=report_path, plot_path=plot_path)
