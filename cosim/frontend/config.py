"""Configs of the trained front end: what to train (``TrainConfig``) and how the trained
filters are programmed and read on the device array (``HardwareConfig``).

Every number the front end depends on is a field here, with its unit; nothing else is a
hidden constant. Configs are frozen, validated on creation, changed with ``dataclasses.replace``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import Any

from cosim.filters import WeightCoding, max_level


class VrefMatch(enum.Enum):
    """How a threshold is moved when the responses change (quantisation, programming)."""

    RATE = "rate"  # keep each filter's firing rate on the calibration images
    LINEAR = "linear"  # map the old V_REF through a per-filter least-squares fit new ~ a * old + b


class IrScale(enum.Enum):
    """How the IR-drop compensation picks each filter's scale (``cosim.frontend.compensation``)."""

    TOP = "top"  # the largest scale for which no device needs more than the top level
    # least expected output error (wires and C2C spread) on the calibration patches: devices may
    # sit at the top level where the target asks for more
    INPUTS = "inputs"


def _int(cfg: str, name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{cfg}.{name} must be an integer >= {lo}, got {value!r}")


def _pos(cfg: str, name: str, value: Any, *, zero_ok: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value >= 0 if zero_ok else value > 0))
    if not ok:
        raise ValueError(f"{cfg}.{name} must be a finite number {'>=' if zero_ok else '>'} 0, got {value!r}")


def as_plain_dict(cfg: Any) -> dict[str, Any]:
    """A config as JSON-ready values (enums by value, tuples as lists)."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, enum.Enum):
            v = v.value
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainConfig:
    """Training of the convolutional front end (stride 1, valid convolution, always).

    Stages: ``epochs`` of float training (the "ideal" weights), then ``qat_epochs`` of
    quantisation-aware training from those weights (0: post-training quantisation only), then
    V_REF re-calibrated for the quantised weights (``recalibration``).
    """

    seed: int = 0  # seeds weight init, shuffling, augmentation (torch generators)
    n_filters: int = 64  # 1, filters (crossbar columns); class filters first, then feature filters
    size: int = 20  # pixels, filters are size x size (x channels)
    pool: int | None = None  # None: global max per filter (one bit); k: k x k windows (several bits)
    trained_classes: tuple[int, ...] | None = None  # labels the filters learn; None: all labels seen
    n_class_filters: int | None = None  # 1, class filters (CF); None: one per trained class
    bits: int = 4  # bits per weight (SIGNED coding: sign included) or per device (DIFFERENTIAL)
    coding: WeightCoding = WeightCoding.SIGNED  # SIGNED: 2**bits - 1 levels per weight, -7..7
    epochs: int = 6  # 1, float training epochs over the trained-class images
    qat_epochs: int = 2  # 1, quantisation-aware epochs after the float ones (0: quantise after)
    batch_size: int = 128  # images per optimiser step
    lr: float = 1e-2  # Adam learning rate (cosine-decayed to lr_final_fraction * lr per stage)
    lr_final_fraction: float = 0.05  # 1, end of the cosine decay relative to lr
    qat_lr_fraction: float = 0.3  # 1, QAT stage's starting lr relative to lr
    weight_decay: float = 0.0  # Adam L2 on the filter weights
    temperature: float = 0.5  # pooled-response units, logit = (pooled - V_REF) / temperature
    ff_head_weight: float = 1.0  # 1, weight of the feature filters' softmax-head loss vs the CF loss
    hard_bits: bool = True  # head sees hard bits (straight-through gradient of the sigmoid)
    init_std: float = 0.05  # weight units, std of the initial (normal) filter weights
    augment_shift: int = 2  # pixels, random translation of each training image by up to +-this
    recalibration: VrefMatch = VrefMatch.RATE  # V_REF after quantisation, vs the float filters
    calibration_images: int = 5000  # 1, training images used for the V_REF re-calibration

    def __post_init__(self) -> None:
        c = "TrainConfig"
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"{c}.seed must be an integer >= 0, got {self.seed!r}")
        for name, lo in (("n_filters", 1), ("size", 1), ("epochs", 0), ("qat_epochs", 0),
                         ("batch_size", 1), ("augment_shift", 0), ("calibration_images", 1)):
            _int(c, name, getattr(self, name), lo)
        if self.pool is not None:
            _int(c, "pool", self.pool, 1)
        if not isinstance(self.coding, WeightCoding):
            raise ValueError(f"{c}.coding must be a WeightCoding, got {self.coding!r}")
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or self.bits < 2:
            raise ValueError(f"{c}.bits must be an integer >= 2 (a signed weight needs a sign and a "
                             f"magnitude), got {self.bits!r}")
        max_level(self.bits, self.coding)
        if self.epochs + self.qat_epochs < 1:
            raise ValueError(f"{c}.epochs + qat_epochs must be >= 1 (nothing would be trained)")
        if self.trained_classes is not None:
            tc = tuple(self.trained_classes)
            if (not tc or len(set(tc)) != len(tc)
                    or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in tc)):
                raise ValueError(f"{c}.trained_classes must be distinct integers >= 0, got {tc!r}")
            object.__setattr__(self, "trained_classes", tc)
        if self.n_class_filters is not None:
            _int(c, "n_class_filters", self.n_class_filters, 0)
            if self.n_class_filters > self.n_filters:
                raise ValueError(f"{c}.n_class_filters ({self.n_class_filters}) exceeds n_filters "
                                 f"({self.n_filters})")
        if self.trained_classes is not None and self.n_class_filters is None \
                and len(self.trained_classes) > self.n_filters:
            raise ValueError(f"{c}.n_filters={self.n_filters} cannot hold one class filter per "
                             f"trained class ({len(self.trained_classes)})")
        for name in ("lr", "temperature", "init_std"):
            _pos(c, name, getattr(self, name))
        for name in ("weight_decay", "ff_head_weight"):
            _pos(c, name, getattr(self, name), zero_ok=True)
        for name in ("lr_final_fraction", "qat_lr_fraction"):
            v = getattr(self, name)
            _pos(c, name, v)
            if v > 1:
                raise ValueError(f"{c}.{name} must be <= 1, got {v!r}")
        if not isinstance(self.hard_bits, bool):
            raise ValueError(f"{c}.hard_bits must be a bool, got {self.hard_bits!r}")
        if not isinstance(self.recalibration, VrefMatch):
            raise ValueError(f"{c}.recalibration must be a VrefMatch, got {self.recalibration!r}")

    @property
    def max_level(self) -> int:
        """Largest |L| of a weight's signed level (7 for 4 SIGNED bits)."""
        return max_level(self.bits, self.coding)

    @property
    def device_levels(self) -> int:
        """Conductance levels each device of a pair needs (level 0 = HRS included)."""
        return self.max_level + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class HardwareConfig:
    """The device array the quantised filters are programmed into, read by the fast engine."""

    preset: str = "siox-literature"  # compact-model card of every filter device
    i_c_range: tuple[float, float] = (20e-6, 200e-6)  # A, SET compliance of level 1 and the top level
    v_stop: float = 2.0  # V, RESET stop voltage: the HRS (level 0, and the start of every SET)
    c2c: bool = True  # cycle-to-cycle spread of each level from the compact model at its I_C
    r_wire: float = 2.5  # ohm per wire segment, rows and columns
    v_read_max: float = 0.2  # V, row voltage of pixel value 1 (amplitude coding)
    calibration_images: int = 1000  # 1, training images used to calibrate V_REF in amperes
    vref_match: VrefMatch = VrefMatch.LINEAR  # how V_REF (A) follows the software V_REF
    fast_calibration_vectors: int = 256  # 1, patches that fit the fast engine's non-linear terms
    seed: int = 0  # seeds the programming (C2C) draws
    # 1, fixed-point iterations of the IR-drop compensation at programming time
    # (``cosim.frontend.compensation``); 0: program the level table's conductances as they are.
    # 2 by measurement (scripts/ir_compensation.py): 400x64 at 2.5 ohm, MNIST bits agree with the
    # software's 85 % instead of 82 %; later iterations change little.
    ir_compensation: int = 2
    # A, lowest SET compliance the compensation may use (devices needing less are held there);
    # None: i_c_range[0]. Lower compliances reach lower conductances with a wider C2C spread.
    ir_i_c_floor: float | None = None
    # how the compensation picks each filter's scale; TOP leaves most level-1 devices unable to go
    # low enough and was worse than no compensation on MNIST at 2.5 ohm
    ir_scale: IrScale = IrScale.INPUTS
    # level steps (LevelTable.g_step), write-verify tolerance: each device is read after its write and
    # re-written (fresh C2C draw) while |G - G_target| exceeds it. None: each device written once at
    # its level's I_C (open loop, as the paper programs its levels), so its spread is the model's.
    verify_tolerance: float | None = None
    verify_attempts: int = 8  # 1, writes per device at most under write-verify
    # 1, factor the accepted band grows by per verify read (compact_model.variability.WriteVerify):
    # > 1 accepts a device that keeps missing at a modestly wider band instead of leaving it at an
    # unchecked last draw. 1: a fixed band.
    verify_relax: float = 1.0

    def __post_init__(self) -> None:
        c = "HardwareConfig"
        if not isinstance(self.preset, str) or not self.preset:
            raise ValueError(f"{c}.preset must be a model card name, got {self.preset!r}")
        lo, hi = (float(x) for x in self.i_c_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"{c}.i_c_range must be (i_c_min, i_c_max) A with 0 < min < max, "
                             f"got {self.i_c_range!r}")
        object.__setattr__(self, "i_c_range", (lo, hi))
        _pos(c, "v_stop", self.v_stop)
        _pos(c, "r_wire", self.r_wire, zero_ok=True)
        _pos(c, "v_read_max", self.v_read_max)
        if not isinstance(self.c2c, bool):
            raise ValueError(f"{c}.c2c must be a bool, got {self.c2c!r}")
        _int(c, "calibration_images", self.calibration_images, 1)
        _int(c, "fast_calibration_vectors", self.fast_calibration_vectors, 1)
        _int(c, "seed", self.seed, 0)
        if not isinstance(self.vref_match, VrefMatch):
            raise ValueError(f"{c}.vref_match must be a VrefMatch, got {self.vref_match!r}")
        _int(c, "ir_compensation", self.ir_compensation, 0)
        if self.verify_tolerance is not None:
            _pos(c, "verify_tolerance", self.verify_tolerance)
            object.__setattr__(self, "verify_tolerance", float(self.verify_tolerance))
        _int(c, "verify_attempts", self.verify_attempts, 1)
        _pos(c, "verify_relax", self.verify_relax)
        if self.verify_relax < 1:
            raise ValueError(f"{c}.verify_relax must be >= 1 (the band only widens), got {self.verify_relax!r}")
        object.__setattr__(self, "verify_relax", float(self.verify_relax))
        if self.ir_i_c_floor is not None:
            _pos(c, "ir_i_c_floor", self.ir_i_c_floor)
            if self.ir_i_c_floor > lo:
                raise ValueError(f"{c}.ir_i_c_floor ({self.ir_i_c_floor!r} A) must not exceed "
                                 f"i_c_range[0] ({lo!r} A)")
            object.__setattr__(self, "ir_i_c_floor", float(self.ir_i_c_floor))
        if not isinstance(self.ir_scale, IrScale):
            raise ValueError(f"{c}.ir_scale must be an IrScale, got {self.ir_scale!r}")

    @property
    def i_c_floor(self) -> float:
        """A, lowest SET compliance of the IR compensation (``ir_i_c_floor`` or i_c_range[0])."""
        return self.i_c_range[0] if self.ir_i_c_floor is None else self.ir_i_c_floor
