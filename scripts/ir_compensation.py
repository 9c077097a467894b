"""IR-drop compensation of a trained front end on the wired array: off versus on.

    python scripts/ir_compensation.py FRONTEND.npz --dataset mnist --data-dir /work/shared/datasets \\
        --r-wire 2.5,0 --iterations 0,2 --out out/ir-compensation-mnist.json

For every (wire resistance, compensation iterations, I_C floor) the trained front end is
programmed (``cosim.frontend.hardware.program_frontend``, V_REF calibrated on the fit images)
and read by the fast engine. Rows (printed, and written as JSON): agreement of the array's
feature bits with the software (quantised) bits on the test images, per-filter correlation of
array and software pooled responses (test images), the logistic readout and class-filter
accuracies (``score_variant``, fitted on the fit images), k-means (unsupervised, clusters
labelled by majority on the fit images) accuracy on the bits, the compensation's transfer
error, scales and time. The software row scores the quantised weights the same way.
Fits use the first ``--fit-images`` training images, tests the whole test split.

``--study`` instead compares, on the linear model of the array (the exact transfer, no
fast-engine non-linearity), where the attenuation is taken from: the exact transfer
(``cosim.frontend.compensation``, both scale rules) versus each cell's voltage ratio
u / v_row under one input pattern, all rows at ``v_read_max`` or the mean calibration patch
(the G <- G * target / effective heuristic with the scale of the top rule). It prints the
per-filter correlation of pooled linear outputs with the software responses, with and without
the cycle-to-cycle spread.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from circuits.crossbar import CellKind, physical_states
from cosim.ceilings import kmeans_accuracy
from cosim.convolution import unfold_positions
from cosim.datasets import load_dataset
from cosim.digital import feature_bits
from cosim.filters import conductance_levels
from cosim.frontend.compensation import compensate, compensated_states, conductance_range, effective_transfer
from cosim.frontend.config import HardwareConfig, IrScale, as_plain_dict
from cosim.frontend.evaluate import score_variant
from cosim.frontend.hardware import device_levels, program_frontend
from cosim.frontend.io import load_frontend
from cosim.frontend.model import pooled_responses

logger = logging.getLogger("ir_compensation")


def per_filter_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation per filter (column) of two (n, F) response tables."""
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    den = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    return np.where(den > 0, (a * b).sum(axis=0) / np.where(den > 0, den, 1.0), np.nan)


def _scores(front: Any, fit_p: np.ndarray, fit_lab: np.ndarray, test_p: np.ndarray, test_lab: np.ndarray,
            v_ref: np.ndarray, gain: Any, sw_test_bits: np.ndarray, sw_test_p: np.ndarray,
            clusters: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = dict(score_variant(front, fit_p, fit_lab, test_p, test_lab, v_ref, gain))
    fit_bits, test_bits = feature_bits(fit_p, v_ref), feature_bits(test_p, v_ref)
    row["bit_agreement"] = float(np.mean(test_bits == sw_test_bits))
    corr = per_filter_correlation(test_p.reshape(len(test_p), -1), sw_test_p.reshape(len(sw_test_p), -1))
    row.update(corr_mean=float(np.nanmean(corr)), corr_min=float(np.nanmin(corr)),
               corr_median=float(np.nanmedian(corr)))
    # Clusters fitted and named on the same images.
    row["kmeans_accuracy"] = kmeans_accuracy(fit_bits, fit_bits, fit_lab, test_bits, test_lab, clusters=clusters,
                                             seed=seed)
    return row


def _cell_voltage_ratio(spec: Any, g: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u / v_row of every cell (2, rows, F) of the linear array at ``g`` under row voltages ``v``."""
    import scipy.sparse.linalg as spla

    from cosim.fast.crossbar import _network  # the fast engine's nodal matrix (study only)

    net = _network(spec, physical_states(spec, g))
    x = spla.splu(net.lap).solve(np.asarray(net.drive @ v))
    top = x[net.row_node] if net.row_node is not None else v[:, None]
    bottom = x[net.col_node] if net.col_node is not None else 0.0
    ratio = np.where(v[:, None] > 0, (top - bottom) / np.where(v[:, None] > 0, v[:, None], 1.0), 1.0)
    return np.stack([ratio[:, 0::2], ratio[:, 1::2]])


def _pattern_compensation(spec: Any, target: np.ndarray, move: np.ndarray, v: np.ndarray, g_lo: float,
                          g_hi: float, iterations: int) -> np.ndarray:
    """G <- s * target / (u / v_row) per device column, s the largest <= 1 with no G above g_hi."""
    g = target.copy()
    for _ in range(iterations):
        att = np.maximum(_cell_voltage_ratio(spec, g, v), 1e-6)
        need = target / att
        scale = np.minimum(1.0, np.min(np.where(move, g_hi / need, np.inf), axis=(0, 1)))
        g = np.where(move, np.clip(scale * need, g_lo, g_hi), target)
    return g


def attenuation_study(front: Any, cal_img: np.ndarray, eval_img: np.ndarray, r_wire: float, seed: int,
                      iterations: int) -> list[dict[str, Any]]:
    """Linear-model correlations of the compensation variants (see the module docstring)."""
    from compact_model.cards import load_preset

    hw = HardwareConfig(r_wire=r_wire, seed=seed)
    card = load_preset(hw.preset)
    table = conductance_levels(card, front.config.device_levels, i_c_range=hw.i_c_range, v_stop=hw.v_stop)
    lev = device_levels(front)
    target, move = table.g_median[lev], lev > 0
    rows = target.shape[1]
    from circuits.crossbar import CrossbarSpec, Wire

    spec = CrossbarSpec(rows=rows, cols=front.n_filters, cell_kind=CellKind.RESISTOR, differential=True,
                        wire=Wire(r_row=r_wire, r_col=r_wire))
    patches = unfold_positions(cal_img, front.size).reshape(-1, rows) * hw.v_read_max
    moment = patches.T @ patches / len(patches)
    g_lo, g_hi = min(conductance_range(card, table, hw.i_c_range)[0], float(table.g_median[1])), \
        float(table.g_median[-1])
    sw = pooled_responses(front.quantized_weights(), eval_img, front.config.pool)
    sw = sw.reshape(len(sw), -1)
    ev = unfold_positions(eval_img, front.size) * hw.v_read_max

    def corr(g: np.ndarray) -> float:
        t = effective_transfer(spec, g)
        out = np.einsum("npr,rf->nfp", ev, t[:, 0::2] - t[:, 1::2]).max(axis=2)
        return float(np.nanmean(per_filter_correlation(out, sw)))

    kw = dict(iterations=iterations, g_lo=g_lo, g_hi=g_hi)
    variants = {
        "none": target,
        "transfer, top": compensate(spec, target, move, **kw).conductances,
        "transfer, inputs (wires only)": compensate(spec, target, move, input_moment=moment,
                                                    **kw).conductances,
        "transfer, inputs (wires + C2C)": compensate(spec, target, move, input_moment=moment,
                                                     variability=card.variability, **kw).conductances,
        "cell voltage, all rows on": _pattern_compensation(spec, target, move, np.full(rows, hw.v_read_max),
                                                           g_lo, g_hi, iterations),
        "cell voltage, mean patch": _pattern_compensation(spec, target, move, patches.mean(axis=0),
                                                          g_lo, g_hi, iterations),
    }
    out = []
    for name, g in variants.items():
        noisy = compensated_states(lev, g, table, card, i_c_range=hw.i_c_range,
                                   rng=np.random.default_rng([seed, 11]), channels=front.channels).conductances
        row = {"study": name, "r_wire": r_wire, "corr_nominal": corr(g), "corr_c2c": corr(noisy)}
        logger.info("%s", row)
        out.append(row)
    return out


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("frontend", help="trained front end (.npz with its .json)")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--r-wire", type=_floats, default=[2.5, 0.0], help="ohm per segment, comma-separated")
    ap.add_argument("--iterations", type=lambda s: [int(x) for x in s.split(",")],
                    default=[0, HardwareConfig().ir_compensation],
                    help="compensation iterations, comma-separated (0: off)")
    ap.add_argument("--i-c-floor", type=_floats, default=[],
                    help="A, compensation I_C floors to try besides i_c_range[0], comma-separated")
    ap.add_argument("--ir-scale", type=lambda s: [IrScale(x) for x in s.split(",")], default=[HardwareConfig().ir_scale],
                    help="how each filter's scale is picked, comma-separated: top, inputs "
                         "(default: HardwareConfig's)")
    ap.add_argument("--fit-images", type=int, default=10000)
    ap.add_argument("--clusters", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0, help="hardware (C2C) and k-means seed")
    ap.add_argument("--out", default=None, help="JSON file of the rows")
    ap.add_argument("--study", action="store_true", help="the attenuation study (linear model) instead")
    ap.add_argument("--study-images", type=int, default=1000, help="test images of the study")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("cosim.fast", "cosim.filters"):
        logging.getLogger(name).setLevel(logging.WARNING)

    front = load_frontend(args.frontend)
    train = load_dataset(args.dataset, "train", data_dir=args.data_dir)
    test = load_dataset(args.dataset, "test", data_dir=args.data_dir)
    fit_img, fit_lab = train.images[:args.fit_images], np.asarray(train.labels[:args.fit_images])
    test_img, test_lab = test.images, np.asarray(test.labels)
    if args.study:
        rows_s = []
        for r_wire in args.r_wire:
            rows_s += attenuation_study(front, fit_img[:HardwareConfig().calibration_images],
                                        test_img[:args.study_images], r_wire, args.seed, max(args.iterations))
        print("study\tr_wire\tcorr_nominal\tcorr_c2c")
        for row in rows_s:
            print(f"{row['study']}\t{row['r_wire']}\t{row['corr_nominal']:.4f}\t{row['corr_c2c']:.4f}")
        if args.out:
            Path(args.out).write_text(json.dumps({"dataset": args.dataset, "study": rows_s}, indent=2) + "\n")
        return
    pool = front.config.pool
    qw = front.quantized_weights()
    sw_fit, sw_test = pooled_responses(qw, fit_img, pool), pooled_responses(qw, test_img, pool)
    sw_test_bits = feature_bits(sw_test, front.v_ref)
    rows: list[dict[str, Any]] = []
    sw = {"variant": "software", "dataset": args.dataset}
    sw.update(_scores(front, sw_fit, fit_lab, sw_test, test_lab, front.v_ref, None, sw_test_bits, sw_test,
                      args.clusters, args.seed))
    rows.append(sw)
    logger.info("software: %s", sw)
    floors: list[float | None] = [None, *args.i_c_floor]
    for r_wire in args.r_wire:
        for iterations in args.iterations:
            variants = [(f, sc) for f in floors for sc in args.ir_scale] if iterations else [(None, None)]
            for floor, ir_scale in variants:
                cfg = HardwareConfig(r_wire=r_wire, seed=args.seed, ir_compensation=iterations,
                                     ir_i_c_floor=floor, ir_scale=ir_scale or IrScale.INPUTS)
                t0 = time.perf_counter()
                prog = program_frontend(front, fit_img, cfg)
                t_prog = time.perf_counter() - t0
                fit_p, test_p = prog.pooled(fit_img), prog.pooled(test_img)
                row: dict[str, Any] = {"variant": "array", "dataset": args.dataset, "r_wire": r_wire,
                                       "ir_compensation": iterations, "i_c_floor": cfg.i_c_floor,
                                       "ir_scale": ir_scale.value if ir_scale else "off",
                                       "program_seconds": t_prog}
                comp = prog.compensation
                if comp is not None:
                    row.update(transfer_error_before=float(comp.error[0]),
                               transfer_error_after=float(comp.error[-1]),
                               transfer_error_history=[float(e) for e in comp.error],
                               scale_min=float(comp.scale.min()), scale_median=float(np.median(comp.scale)),
                               low_clipped=comp.low_clipped, compensation_seconds=comp.seconds)
                    if comp.input_error is not None:
                        row.update(input_error_before=float(comp.input_error[0]),
                                   input_error_after=float(comp.input_error[-1]))
                row.update(_scores(front, fit_p, fit_lab, test_p, test_lab, prog.v_ref, prog.gain,
                                   sw_test_bits, sw_test, args.clusters, args.seed))
                rows.append(row)
                logger.info("%s", {k: v for k, v in row.items() if k != "transfer_error_history"})
    keys = ("variant", "r_wire", "ir_compensation", "i_c_floor", "ir_scale", "bit_agreement", "corr_mean",
            "corr_min", "readout_accuracy", "cf_accuracy", "kmeans_accuracy", "transfer_error_after",
            "input_error_after", "program_seconds")
    print("\t".join(keys))
    for row in rows:
        print("\t".join(f"{row[k]:.4g}" if isinstance(row.get(k), float) else str(row.get(k, ""))
                        for k in keys))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"frontend": str(args.frontend), "dataset": args.dataset, "fit_images": len(fit_img),
               "test_images": len(test_img), "hardware_defaults": as_plain_dict(HardwareConfig()),
               "rows": rows}
        out.write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
