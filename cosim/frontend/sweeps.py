"""Front-end accuracy vs bits per weight (paper Fig. 5) and vs I_C range / V_STOP (Fig. 6).

``accuracy_vs_bits`` and ``accuracy_vs_ic`` return tidy rows (one per point and variant). The
sweep tasks "frontend-bits" and "frontend-ic" run one point each from a saved bank
(``cosim.frontend.io``), so ``cosim.sweep`` can spread a grid over workers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Sequence

import numpy as np

from cosim.filters import WeightCoding
from cosim.frontend.config import HardwareConfig
from cosim.frontend.evaluate import EvalConfig, Variant, evaluate_frontend
from cosim.frontend.train import TrainedFrontEnd, requantize
from cosim.provenance import file_sha256
from cosim.sweep.spec import Engine
from cosim.sweep.tasks import register_task

logger = logging.getLogger(__name__)

_RECAL_IMAGES = 5000  # calibration images of the post-training re-quantisation, at most


def accuracy_vs_bits(front: TrainedFrontEnd, fit_images: Any, fit_labels: Any, test_images: Any,
                     test_labels: Any, bits: Sequence[int], *, coding: WeightCoding | None = None,
                     hardware: HardwareConfig | None = None,
                     config: EvalConfig | None = None) -> list[dict[str, Any]]:
    """Post-training quantisation of the float weights to each ``bits`` (V_REF re-calibrated on
    the fit images), scored in software and, with ``hardware``, on the programmed array.
    The float variant is one extra row (bits = None)."""
    rows = [dict(r, bits=None) for r in evaluate_frontend(front, fit_images, fit_labels, test_images,
                                                          test_labels, config=config, variants=(Variant.FLOAT,))]
    variants = (Variant.QUANTIZED,) + ((Variant.PROGRAMMED,) if hardware is not None else ())
    for b in bits:
        q = requantize(front, np.asarray(fit_images)[:_RECAL_IMAGES], bits=int(b), coding=coding)
        for r in evaluate_frontend(q, fit_images, fit_labels, test_images, test_labels, hardware=hardware,
                                   config=config, variants=variants):
            rows.append(dict(r, bits=int(b), coding=q.config.coding.value))
    return rows


def accuracy_vs_ic(front: TrainedFrontEnd, fit_images: Any, fit_labels: Any, test_images: Any,
                   test_labels: Any, i_c_ranges: Sequence[tuple[float, float]],
                   v_stops: Sequence[float] = (2.0,), *, hardware: HardwareConfig | None = None,
                   config: EvalConfig | None = None) -> list[dict[str, Any]]:
    """The quantised bank programmed at every (I_C range, V_STOP) of the grid, through the fast
    engine; ``hardware`` gives the other array settings (wires, V_REF matching, seed)."""
    base = HardwareConfig() if hardware is None else hardware
    rows: list[dict[str, Any]] = []
    for v_stop in v_stops:
        for i_c in i_c_ranges:
            hw = dataclasses.replace(base, i_c_range=tuple(i_c), v_stop=float(v_stop))
            rows += evaluate_frontend(front, fit_images, fit_labels, test_images, test_labels, hardware=hw,
                                      config=config, variants=(Variant.PROGRAMMED,))
    return rows


# --------------------------------------------------------------------------------------------
# Sweep tasks: one point = one saved bank, one data set, one setting; spice_check must be 0
# --------------------------------------------------------------------------------------------

_COMMON = {"bank", "dataset", "data_dir", "fit_images", "test_images", "seed", "engine", "spice_check"}


def _point_data(point: dict[str, Any], task: str,
                allowed: set[str]) -> tuple[TrainedFrontEnd, tuple, EvalConfig, dict[str, str]]:
    """The point's front end, data and evaluation config, and the bank file's SHA-256 as a metric."""
    from cosim.frontend.io import load_frontend

    unknown = set(point) - _COMMON - allowed
    if unknown:
        raise ValueError(f"{task}: unknown parameter(s) {sorted(unknown)}")
    # every sweep point carries spice_check (0 by default); a record must not claim a check not run
    if point.get("spice_check"):
        raise ValueError(f"{task}: spice_check = {point['spice_check']!r}, but the front-end tasks have no "
                         "SPICE check (the classify task has one); set spice_check = 0")
    if "bank" not in point:
        raise ValueError(f"{task}: 'bank' (path of a saved front end) is required")
    bank_record = {"bank_sha256": file_sha256(str(point["bank"]))}  # the bytes behind the recorded path
    front = load_frontend(str(point["bank"]))
    n_fit = int(point.get("fit_images", 10000))
    n_test = point.get("test_images")
    fit, test = evaluation_data(front, str(point.get("dataset", "mnist")), point.get("data_dir"), n_fit,
                                None if n_test is None else int(n_test))
    data = (fit.images, fit.labels, test.images, test.labels)
    return front, data, EvalConfig(readout_fit_images=n_fit), bank_record


def evaluation_data(front: TrainedFrontEnd, dataset: str, data_dir: Any, fit_images: int,
                    test_images: int | None) -> tuple[Any, Any]:
    """The images a front-end evaluation fits (readout, V_REF re-calibration) and scores:
    ``fit_images`` training images drawn with the front end's seed, the first ``test_images``
    of the test split (None: all)."""
    from cosim.datasets import load_dataset

    fit = load_dataset(dataset, "train", data_dir=data_dir, limit=fit_images, seed=front.config.seed)
    test = load_dataset(dataset, "test", data_dir=data_dir, limit=test_images)
    return fit, test


def _flatten(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        for k, v in r.items():
            if k not in ("variant", "bits", "coding", "seconds", "dataset") and isinstance(v, (int, float)):
                out[f"{r['variant']}_{k}"] = v
    return out


@register_task("frontend-bits", version="1", engines=(Engine.FAST,), spice_check=False)
def frontend_bits(point: dict[str, Any]) -> dict[str, Any]:
    """Accuracy at ``bits`` per weight (post-training quantisation of a saved bank's float
    weights). Keys: bank, bits; optional dataset, data_dir, fit_images, test_images, and
    i_c_min, i_c_max (A), v_stop (V), r_wire (ohm) to also score the programmed array.
    The metrics include the bank file's SHA-256 (``bank_sha256``)."""
    hw_keys = {"i_c_min", "i_c_max", "v_stop", "r_wire"}
    front, data, ev, bank = _point_data(point, "frontend-bits", {"bits", "coding"} | hw_keys)
    hardware = None
    if hw_keys & set(point):
        hardware = _hardware(point)
    coding = WeightCoding(point["coding"]) if "coding" in point else None
    rows = accuracy_vs_bits(front, *data, [int(point["bits"])], coding=coding, hardware=hardware, config=ev)
    return {**_flatten([r for r in rows if r["variant"] != Variant.FLOAT.value]), **bank}


def _hardware(point: dict[str, Any]) -> HardwareConfig:
    base = HardwareConfig()
    return dataclasses.replace(
        base, i_c_range=(float(point.get("i_c_min", base.i_c_range[0])),
                         float(point.get("i_c_max", base.i_c_range[1]))),
        v_stop=float(point.get("v_stop", base.v_stop)), r_wire=float(point.get("r_wire", base.r_wire)),
        seed=int(point.get("seed", base.seed)))


@register_task("frontend-ic", version="1", engines=(Engine.FAST,), spice_check=False)
def frontend_ic(point: dict[str, Any]) -> dict[str, Any]:
    """Accuracy of a saved bank programmed at I_C range (i_c_min, i_c_max) A and V_STOP (v_stop, V)
    through the fast engine; optional r_wire (ohm), dataset, data_dir, fit_images, test_images.
    The metrics include the bank file's SHA-256 (``bank_sha256``)."""
    front, data, ev, bank = _point_data(point, "frontend-ic", {"i_c_min", "i_c_max", "v_stop", "r_wire"})
    hw = _hardware(point)
    rows = accuracy_vs_ic(front, *data, [hw.i_c_range], [hw.v_stop], hardware=hw, config=ev)
    return {**_flatten(rows), **bank}
