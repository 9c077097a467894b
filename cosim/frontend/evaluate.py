"""Feature-bit accuracy of a trained front end: float, quantised, and programmed-array variants.

Each variant gives pooled responses of fit (training) and test images, a V_REF and a gain in
the same unit; the scores (``score_variant``) are the class-filter decision, the logistic
readout on all bits and on the feature filters' bits only, and firing rates. Rows are tidy
dicts (one per variant) for tables and sweeps.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cosim.digital import feature_bits
from cosim.frontend.config import HardwareConfig
from cosim.frontend.model import pooled_responses
from cosim.frontend.readout import cf_decision, fit_linear_readout
from cosim.frontend.train import TrainedFrontEnd

logger = logging.getLogger(__name__)


class Variant(enum.Enum):
    FLOAT = "float"  # the ideal float weights with their learned V_REF
    QUANTIZED = "quantized"  # level x scale with the re-calibrated V_REF (software)
    PROGRAMMED = "programmed"  # the device array through the fast engine, V_REF in amperes


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalConfig:
    """How the front end's features are scored."""

    readout_fit_images: int = 10000  # 1, training images the logistic readout is fitted on
    readout_l2: float = 1e-4  # L2 penalty of the logistic readout, per sample
    readout_max_iter: int = 300  # L-BFGS iterations of the readout fit

    def __post_init__(self) -> None:
        if isinstance(self.readout_fit_images, bool) or not isinstance(self.readout_fit_images, int) \
                or self.readout_fit_images < 1:
            raise ValueError(f"EvalConfig.readout_fit_images must be an integer >= 1, "
                             f"got {self.readout_fit_images!r}")
        if not (isinstance(self.readout_l2, (int, float)) and math.isfinite(self.readout_l2)
                and self.readout_l2 >= 0):
            raise ValueError(f"EvalConfig.readout_l2 must be a finite number >= 0, got {self.readout_l2!r}")
        if isinstance(self.readout_max_iter, bool) or not isinstance(self.readout_max_iter, int) \
                or self.readout_max_iter < 1:
            raise ValueError(f"EvalConfig.readout_max_iter must be an integer >= 1, "
                             f"got {self.readout_max_iter!r}")


def cf_margins(front: TrainedFrontEnd, pooled: Any, v_ref: Any, gain: Any = None) -> np.ndarray:
    """Class filters' margins (global max - V_REF) / gain, (n, n_cf), in software units."""
    p = np.asarray(pooled, dtype=float)
    glob = p if p.ndim == 2 else p.max(axis=(2, 3))
    n_cf = front.n_class_filters
    g = np.ones(front.n_filters) if gain is None else np.asarray(gain, dtype=float)
    return (glob[:, :n_cf] - np.asarray(v_ref)[:n_cf]) / g[:n_cf]


def score_variant(front: TrainedFrontEnd, fit_pooled: Any, fit_labels: Any, test_pooled: Any,
                  test_labels: Any, v_ref: Any, gain: Any = None,
                  config: EvalConfig | None = None) -> dict[str, float]:
    """Accuracies of one variant from its pooled responses (same unit as ``v_ref``)."""
    cfg = EvalConfig() if config is None else config
    fit_lab, test_lab = np.asarray(fit_labels), np.asarray(test_labels)
    fit_bits, test_bits = feature_bits(fit_pooled, v_ref), feature_bits(test_pooled, v_ref)
    n_cf = front.n_class_filters
    windows = test_bits.shape[1] // front.n_filters
    out: dict[str, float] = {"firing_rate": float(test_bits.mean()),
                             "dead_filters": float(np.sum(test_bits.reshape(len(test_lab), front.n_filters, -1)
                                                          .any(axis=(0, 2)) == 0))}
    readout = fit_linear_readout(fit_bits, fit_lab, l2=cfg.readout_l2, max_iter=cfg.readout_max_iter)
    pred = readout.predict(test_bits)
    out["readout_accuracy"] = float(np.mean(pred == test_lab))
    trained = np.isin(test_lab, front.trained_classes)
    if trained.any() and not trained.all():
        out["readout_accuracy_trained"] = float(np.mean(pred[trained] == test_lab[trained]))
        out["readout_accuracy_nontrained"] = float(np.mean(pred[~trained] == test_lab[~trained]))
    if front.n_filters > n_cf:
        ff = fit_linear_readout(fit_bits[:, n_cf * windows:], fit_lab, l2=cfg.readout_l2,
                                max_iter=cfg.readout_max_iter)
        out["ff_readout_accuracy"] = ff.accuracy(test_bits[:, n_cf * windows:], test_lab)
    if n_cf:
        decision = cf_decision(cf_margins(front, test_pooled, v_ref, gain), front.cf_classes)
        # The CF decision can only name trained classes: score it on their images.
        out["cf_accuracy"] = float(np.mean(decision[trained] == test_lab[trained])) if trained.any() else math.nan
    return out


def evaluate_frontend(front: TrainedFrontEnd, fit_images: Any, fit_labels: Any, test_images: Any,
                      test_labels: Any, *, hardware: HardwareConfig | None = None,
                      programmed: Any = None, config: EvalConfig | None = None,
                      variants: tuple[Variant, ...] = tuple(Variant)) -> list[dict[str, Any]]:
    """One tidy row per variant: {"variant", "cf_accuracy", "readout_accuracy", ...}.

    The readout is fitted on the first ``config.readout_fit_images`` fit images, in each
    variant's own bits. The programmed variant uses ``programmed`` (a ``ProgrammedFrontEnd``)
    or programs ``front`` with ``hardware`` (calibrated on the fit images); it is skipped when
    neither is given.
    """
    cfg = EvalConfig() if config is None else config
    fit_img = np.asarray(fit_images)[:cfg.readout_fit_images]
    fit_lab = np.asarray(fit_labels)[:cfg.readout_fit_images]
    rows: list[dict[str, Any]] = []
    pool = front.config.pool
    for variant in variants:
        t0 = time.perf_counter()
        gain = None
        if variant is Variant.FLOAT:
            fit_p = pooled_responses(front.weights, fit_img, pool)
            test_p = pooled_responses(front.weights, test_images, pool)
            v_ref = front.v_ref_float
        elif variant is Variant.QUANTIZED:
            w = front.quantized_weights()
            fit_p, test_p = pooled_responses(w, fit_img, pool), pooled_responses(w, test_images, pool)
            v_ref = front.v_ref
        else:
            if programmed is None and hardware is None:
                continue
            if programmed is None:
                from cosim.frontend.hardware import program_frontend

                programmed = program_frontend(front, fit_images, hardware)
            fit_p, test_p = programmed.pooled(fit_img), programmed.pooled(test_images)
            v_ref, gain = programmed.v_ref, programmed.gain
        row: dict[str, Any] = {"variant": variant.value, "bits": front.config.bits}
        if variant is Variant.PROGRAMMED:
            hw = programmed.config
            row.update(i_c_min=hw.i_c_range[0], i_c_max=hw.i_c_range[1], v_stop=hw.v_stop,
                       r_wire=hw.r_wire, hardware_seed=hw.seed)
        row.update(score_variant(front, fit_p, fit_lab, test_p, test_labels, v_ref, gain, cfg))
        row["seconds"] = time.perf_counter() - t0
        logger.info("%s: readout %.4f, CF %.4f", variant.value, row["readout_accuracy"],
                    row.get("cf_accuracy", math.nan))
        rows.append(row)
    return rows
