"""The trained filters programmed into the differential RRAM array and read by the fast engine.

Levels -> devices: ``cosim.filters.conductance_levels`` (one table for the whole array, at the
chosen I_C range and V_STOP, so each level's spread is the compact model's at its I_C) and
``cosim.filters.program_bank`` (cycle-to-cycle spread per device). Multi-channel filters are
programmed one channel at a time and their rows interleaved in the order of
``cosim.convolution.unfold_positions`` (row = (dy * size + dx) * C + c).

Images -> bits: every filter position's pixels x ``v_read_max`` drive the rows of
``cosim.fast.convolution.FastConvolution`` (wires and device non-linearity); the pooled
differential currents (A) are compared with V_REF in amperes, calibrated on calibration images
so that it plays the role the software V_REF plays for the quantised weights
(``HardwareConfig.vref_match``). The per-filter gain (A per software unit, least squares on the
same images) normalises class-filter margins.

IR-drop compensation (``HardwareConfig.ir_compensation`` iterations, 0 = off): the SET devices
are programmed at pre-distorted conductances so that the wired array's linear transfer matches
the level table's, up to a per-filter scale (``cosim.frontend.compensation``); V_REF is then
calibrated on the compensated array as usual.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from circuits.crossbar import CellKind, CrossbarSpec, Wire
from compact_model.cards import load_preset
from compact_model.params import ModelCard
from cosim.backends import Backend
from cosim.convolution import ConvolutionStage, unfold_positions
from cosim.digital import feature_bits
from compact_model.variability import WriteVerify
from cosim.filters import (LevelTable, ProgrammedBank, conductance_levels, differential_levels, program_bank,
                           to_crossbar)
from cosim.frontend.compensation import Compensation, compensate, compensated_states, conductance_range
from cosim.frontend.config import HardwareConfig, IrScale
from cosim.frontend.model import pool_maps, pooled_responses
from cosim.frontend.thresholds import linear_gains, match_thresholds
from cosim.frontend.train import TrainedFrontEnd

logger = logging.getLogger(__name__)

_IMAGES_PER_CHUNK = 500  # images per fast-engine call: bounds the (images x positions x rows) input


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ProgrammedFrontEnd:
    """A trained front end on the device array, with V_REF in amperes."""

    front: TrainedFrontEnd
    config: HardwareConfig
    table: LevelTable  # the conductance levels programmed
    gaps: np.ndarray  # m, (2, rows, F) device states after programming (G+ devices, G- devices)
    conductances: np.ndarray  # S, (2, rows, F) read conductances
    spec: CrossbarSpec
    engine: Any  # cosim.fast.convolution.FastConvolution of this array
    v_ref: np.ndarray  # A, (F,) thresholds of the pooled currents
    gain: np.ndarray  # A per software unit, (F,): pooled current ~ gain * software pooled + offset
    offset: np.ndarray  # A, (F,)
    compensation: Compensation | None = None  # the IR-drop compensation applied (None: off)
    writes: np.ndarray | None = None  # 1, (2, rows, F) programming writes per device (write-verify)
    unverified: int = 0  # devices write-verify left out of tolerance

    def programming_record(self) -> dict[str, float | int]:
        """Programming cost and outcome: writes per device (mean, max), devices left out of tolerance."""
        w = np.ones(self.gaps.shape) if self.writes is None else self.writes
        return {"writes_per_device": float(w.mean()), "max_writes": int(w.max()), "unverified_devices": self.unverified,
                "devices": int(w.size)}

    def pooled(self, images: Any) -> np.ndarray:
        """Pooled differential currents (A): (n, F), or (n, F, m, m) for k x k pooling."""
        return _array_pooled(self.engine, self.front, self.config.v_read_max, images)

    def bits(self, images: Any) -> np.ndarray:
        """Feature bits (n, F) or (n, F * m * m), pooled current > V_REF."""
        return feature_bits(self.pooled(images), self.v_ref)

    def spice_pooled(self, images: Any, *, backend: Backend = Backend.VACASK, images_per_run: int = 1,
                     timeout_per_image: float = 3600.0) -> np.ndarray:
        """``pooled`` with the array simulated in SPICE instead of the fast engine: the same
        programmed gaps and wires, every filter position one slot of a transient
        (``cosim.convolution.ConvolutionStage``, ``images_per_run`` images per netlist; the
        reference 400 x 64 pair array takes ~8 minutes per image in VACASK on one core)."""
        stage = ConvolutionStage(spec=self.spec, states=self.gaps, filter_size=self.front.size, backend=backend,
                                 images_per_run=images_per_run, v_read_max=self.config.v_read_max,
                                 vacask_timeout=timeout_per_image * images_per_run)
        img = np.asarray(images, dtype=np.float32)
        return _pool_currents(stage.run(img).outputs(), img.shape, self.front)


def _pool_currents(cur: np.ndarray, image_shape: tuple[int, ...], front: TrainedFrontEnd) -> np.ndarray:
    """Pooled differential currents from per-position filter currents (n, positions, F)."""
    n, size = cur.shape[0], front.size
    side_y, side_x = image_shape[1] - size + 1, image_shape[2] - size + 1
    maps = torch.from_numpy(np.ascontiguousarray(
        cur.transpose(0, 2, 1).reshape(n, -1, side_y, side_x), dtype=np.float64))
    return pool_maps(maps, front.config.pool).numpy()


def _array_pooled(engine: Any, front: TrainedFrontEnd, v_read_max: float, images: Any) -> np.ndarray:
    img = np.asarray(images, dtype=np.float32)
    out = []
    for start in range(0, img.shape[0], _IMAGES_PER_CHUNK):
        chunk = img[start:start + _IMAGES_PER_CHUNK]
        patches = unfold_positions(chunk, front.size) * v_read_max
        n, positions = patches.shape[:2]
        out.append(_pool_currents(engine.currents_of(patches).reshape(n, positions, -1), chunk.shape, front))
    return np.concatenate(out) if out else np.zeros((0, front.n_filters))


def crossbar_states(front: TrainedFrontEnd, table: LevelTable, card: ModelCard, *, seed: int,
                    c2c: bool = True, verify: WriteVerify | None = None) -> ProgrammedBank:
    """The programmed array: arrays (2, size * size * C, F) in crossbar row order."""
    rng = np.random.default_rng([seed, 11])
    banks = [program_bank(front.levels[:, c], table, card, rng=rng, c2c=c2c, verify=verify)
             for c in range(front.channels)]
    rows = front.size * front.size * front.channels

    def stack(name: str) -> np.ndarray:
        arr = np.stack([np.asarray(getattr(b, name)) for b in banks], axis=2).reshape(2, rows, -1)  # (2, s*s, C, F)
        arr.setflags(write=False)
        return arr

    return ProgrammedBank(device_levels=stack("device_levels"), gaps=stack("gaps"), conductances=stack("conductances"),
                          i_c=stack("i_c"), v_read=table.v_read, writes=stack("writes"), verified=stack("verified"))


def program_frontend(front: TrainedFrontEnd, calibration_images: Any, config: HardwareConfig | None = None,
                     *, card: ModelCard | None = None) -> ProgrammedFrontEnd:
    """Program ``front``'s levels at ``config``'s I_C range and V_STOP and calibrate V_REF (A) on
    ``calibration_images`` (the first ``config.calibration_images`` of them are used)."""
    from cosim.fast.convolution import FastConvolution  # the fast engine: built on demand

    cfg = HardwareConfig() if config is None else config
    card = load_preset(cfg.preset) if card is None else card
    cal = np.asarray(calibration_images, dtype=np.float32)[:cfg.calibration_images]
    if cal.shape[0] == 0:
        raise ValueError("program_frontend needs at least one calibration image")
    table = conductance_levels(card, front.config.device_levels, i_c_range=cfg.i_c_range, v_stop=cfg.v_stop)
    spec = CrossbarSpec(rows=front.size * front.size * front.channels, cols=front.n_filters,
                        cell_kind=CellKind.RRAM_1R, differential=True, device=card.device,
                        wire=Wire(r_row=cfg.r_wire, r_col=cfg.r_wire))
    patches = unfold_positions(cal, front.size).reshape(-1, spec.rows) * cfg.v_read_max
    comp = None
    if cfg.ir_compensation > 0:
        moment = patches.T @ patches / patches.shape[0] if cfg.ir_scale is IrScale.INPUTS else None
        bank, comp = compensated_crossbar_states(front, table, card, spec, cfg, input_moment=moment)
    else:
        bank = crossbar_states(front, table, card, seed=cfg.seed, c2c=cfg.c2c, verify=write_verify(cfg, table))
    gaps, cond = bank.gaps, bank.conductances
    if bank.unverified:
        logger.warning("write-verify left %d of %d devices outside the %.3g-step tolerance (at most %d writes, "
                       "band widening x%.3g per read)", bank.unverified, bank.verified.size, cfg.verify_tolerance,
                       cfg.verify_attempts, cfg.verify_relax)
    step = max(1, math.ceil(patches.shape[0] / cfg.fast_calibration_vectors))
    engine = FastConvolution(spec, gaps, v_max=cfg.v_read_max, calibration=patches[::step])
    pooled_hw = _array_pooled(engine, front, cfg.v_read_max, cal)
    pooled_sw = pooled_responses(front.quantized_weights(), cal, front.config.pool)
    v_ref = match_thresholds(pooled_sw, front.v_ref, pooled_hw, cfg.vref_match)
    gain, offset = linear_gains(pooled_sw, pooled_hw)
    logger.info("programmed %dx%d differential array (I_C %.3g..%.3g A, V_STOP %.3g V); V_REF (A) "
                "calibrated (%s) on %d images", spec.rows, spec.cols, *cfg.i_c_range, cfg.v_stop,
                cfg.vref_match.value, cal.shape[0])
    return ProgrammedFrontEnd(front=front, config=cfg, table=table, gaps=_ro(gaps), conductances=_ro(cond),
                              spec=spec, engine=engine, v_ref=_ro(v_ref), gain=_ro(gain), offset=_ro(offset),
                              compensation=comp, writes=bank.writes, unverified=bank.unverified)


def write_verify(config: HardwareConfig, table: LevelTable) -> WriteVerify | None:
    """The write-verify of ``config`` in conductance (its tolerance is in level steps of ``table``)."""
    if config.verify_tolerance is None:
        return None
    return WriteVerify(tolerance=config.verify_tolerance * table.g_step, attempts=config.verify_attempts,
                       relax=config.verify_relax)


def device_levels(front: TrainedFrontEnd) -> np.ndarray:
    """Device level of every cell, (2, size * size * C, F), in crossbar row order."""
    per_channel = [to_crossbar(differential_levels(front.levels[:, c])) for c in range(front.channels)]
    return np.stack(per_channel, axis=2).reshape(2, -1, front.n_filters)


def compensated_crossbar_states(front: TrainedFrontEnd, table: LevelTable, card: ModelCard,
                                spec: CrossbarSpec, config: HardwareConfig, *, input_moment: Any = None
                                ) -> tuple[ProgrammedBank, Compensation]:
    """The programmed IR-compensated array and the compensation.

    The level table's median conductances are the target; ``config.ir_compensation`` iterations
    of ``compensation.compensate`` against the wires of ``spec``, SET conductances between
    G(``config.i_c_floor``) and the top level's, per-filter scales picked with ``input_moment``
    (E[v v^T] of the row inputs) when given, counting the C2C spread the devices will get if
    ``config.c2c``; the same C2C draws as ``crossbar_states``; write-verify (``config.verify_tolerance``)
    re-writes devices towards their compensated targets."""
    levels = device_levels(front)
    target = table.g_median[levels]
    g_floor, _ = conductance_range(card, table, (config.i_c_floor, config.i_c_range[1]))
    g_lo = min(g_floor, float(table.g_median[1]))
    comp = compensate(spec, target, levels > 0, iterations=config.ir_compensation, g_lo=g_lo,
                      g_hi=float(table.g_median[-1]), input_moment=input_moment,
                      variability=card.variability if config.c2c and input_moment is not None else None)
    rng = np.random.default_rng([config.seed, 11])
    bank = compensated_states(levels, comp.conductances, table, card,
                              i_c_range=(config.i_c_floor, config.i_c_range[1]), rng=rng,
                              channels=front.channels, c2c=config.c2c, verify=write_verify(config, table))
    return bank, comp


def _ro(a: Any) -> np.ndarray:
    arr = np.array(a, dtype=float)
    arr.setflags(write=False)
    return arr
