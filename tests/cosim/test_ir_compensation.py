"""IR-drop compensation at programming time (cosim.frontend.compensation) on small arrays."""

import dataclasses

import numpy as np
import pytest

from circuits.crossbar import CellKind, CrossbarSpec, Wire
from circuits.reference import nodal_solve, pair_difference
from compact_model.cards import load_preset
from compact_model import programming
from cosim.filters import FilterKind, conductance_levels
from cosim.frontend.compensation import (compensate, compensated_states, compliance_for_conductance,
                                         effective_transfer, transfer_error,
                                         weighted_transfer_error)
from cosim.frontend.config import HardwareConfig, IrScale, TrainConfig
from cosim.frontend.hardware import crossbar_states, device_levels, program_frontend
from cosim.frontend.train import TrainedFrontEnd

ROWS, COLS = 48, 5
G_LEVELS = np.concatenate([[1e-6], np.linspace(1.5e-5, 1.5e-4, 7)])  # S: HRS, then levels 1..7


def _levels(seed: int, rows: int = ROWS, cols: int = COLS, *, skewed: bool = False) -> np.ndarray:
    """Device levels (2, rows, F) of random signed levels -7..7 (one device of a pair SET);
    ``skewed``: mostly 0 and +-1, as in a trained bank."""
    rng = np.random.default_rng(seed)
    if skewed:
        mag = rng.choice(8, size=(rows, cols), p=[0.4, 0.35, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01])
        signed = mag * rng.choice([-1, 1], size=(rows, cols))
    else:
        signed = rng.integers(-7, 8, (rows, cols))
    return np.stack([np.maximum(signed, 0), np.maximum(-signed, 0)])


def _spec(r_wire: float, rows: int = ROWS, cols: int = COLS) -> CrossbarSpec:
    return CrossbarSpec(rows=rows, cols=cols, cell_kind=CellKind.RESISTOR, differential=True,
                        wire=Wire(r_row=r_wire, r_col=r_wire))


def _reference_diff(spec: CrossbarSpec, g: np.ndarray) -> np.ndarray:
    """T+ - T- (rows, F) from the plain nodal solution (circuits.reference), unit row inputs."""
    return pair_difference(nodal_solve(spec, g, np.eye(spec.rows)))


def test_effective_transfer_is_the_nodal_solution():
    lev = _levels(1)
    spec = _spec(20.0)
    g = G_LEVELS[lev]
    ref = nodal_solve(spec, g, np.eye(ROWS))
    np.testing.assert_allclose(effective_transfer(spec, g), ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


def test_compensation_cuts_the_transfer_error_on_a_wired_array():
    lev = _levels(2)
    spec = _spec(20.0)  # 20 ohm x 48 rows at up to 0.15 mS per cell: IR drop of tens of per cent
    target = G_LEVELS[lev]
    delta = target[0] - target[1]
    before, _ = transfer_error(_reference_diff(spec, target), delta)
    assert before > 0.2  # the wires distort the uncompensated array badly
    # A SET may go down to 1 uS here, so the fixed point is reachable without clipping.
    comp = compensate(spec, target, lev > 0, iterations=6, g_lo=1e-6, g_hi=G_LEVELS[-1])
    after, scale = transfer_error(_reference_diff(spec, comp.conductances), delta)
    assert after < before / 50  # measured against the reference solver, not the fast engine
    assert comp.error[0] == pytest.approx(before, rel=1e-6)
    assert comp.error[-1] == pytest.approx(after, rel=1e-3, abs=1e-9)
    assert np.all(np.diff(comp.error[:3]) < 0)
    np.testing.assert_allclose(scale, comp.scale, rtol=1e-2)  # the scale the algorithm aimed at
    assert np.all((comp.scale > 0) & (comp.scale <= 1))


def test_no_device_exceeds_the_top_level_and_reset_devices_stay():
    lev = _levels(3)
    spec = _spec(20.0)
    target = G_LEVELS[lev]
    comp = compensate(spec, target, lev > 0, iterations=3, g_lo=G_LEVELS[1], g_hi=G_LEVELS[-1])
    g = comp.conductances
    assert g.max() <= G_LEVELS[-1] * (1 + 1e-12)
    assert g[lev > 0].min() >= G_LEVELS[1] * (1 - 1e-12)
    np.testing.assert_array_equal(g[lev == 0], target[lev == 0])
    # Every filter has a device at the top (its scale is as large as the top level allows) ...
    top = np.isclose(g, G_LEVELS[-1], rtol=1e-9).any(axis=(0, 1))
    assert np.all(top | (comp.scale == 1))
    # ... and clipping at g_lo (no SET below level 1's conductance) still helps a lot.
    assert comp.error[-1] < comp.error[0] / 2


def test_input_weighted_scale_trades_top_against_low_clipping():
    lev = _levels(6, skewed=True)  # mostly level 0 and 1: level-1 devices cannot go lower
    spec = _spec(120.0)  # IR drop about as strong, relative to the array, as 400 rows at 2.5 ohm
    target = G_LEVELS[lev]
    delta = target[0] - target[1]
    rng = np.random.default_rng(7)
    v = rng.uniform(0, 0.2, (500, ROWS)) * (rng.random((500, ROWS)) < 0.3)  # sparse, image-like
    moment = v.T @ v / len(v)
    kw = dict(g_lo=G_LEVELS[1], g_hi=G_LEVELS[-1])
    # One step from the same start: the weighted choice is never below the top rule's scale.
    top1 = compensate(spec, target, lev > 0, iterations=1, **kw)
    in1 = compensate(spec, target, lev > 0, iterations=1, input_moment=moment, **kw)
    assert np.all(in1.scale >= top1.scale) and np.any(in1.scale > top1.scale * 1.05)
    assert in1.low_clipped < top1.low_clipped
    top = compensate(spec, target, lev > 0, iterations=3, **kw)
    inputs = compensate(spec, target, lev > 0, iterations=3, input_moment=moment, **kw)
    assert inputs.conductances.max() <= G_LEVELS[-1] * (1 + 1e-12)
    e_off = weighted_transfer_error(_reference_diff(spec, target), delta, moment)
    assert inputs.input_error[0] == pytest.approx(e_off, rel=1e-6) and top.input_error is None
    for comp in (top, inputs):
        assert weighted_transfer_error(_reference_diff(spec, comp.conductances), delta, moment) < e_off / 3
    # The weighted error is the plain one for white inputs, up to a scale choice: 0 when exact.
    assert weighted_transfer_error(2.0 * delta, delta, np.eye(ROWS)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="input_moment"):
        compensate(spec, target, lev > 0, iterations=1, input_moment=moment[:-1], **kw)


def test_zero_wire_arrays_are_unchanged():
    lev = _levels(4)
    target = G_LEVELS[lev]
    comp = compensate(_spec(0.0), target, lev > 0, iterations=3, g_lo=G_LEVELS[1], g_hi=G_LEVELS[-1])
    np.testing.assert_allclose(comp.conductances, target, rtol=1e-9)
    np.testing.assert_allclose(comp.scale, 1.0)
    assert comp.error.max() < 1e-9 and comp.low_clipped == 0


def test_bad_parameters_raise_naming_the_field():
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="ir_compensation"):
            HardwareConfig(ir_compensation=bad)
    for bad in (0.0, -1e-6, float("nan"), 30e-6):  # 30 uA is above i_c_range[0] = 20 uA
        with pytest.raises(ValueError, match="ir_i_c_floor"):
            HardwareConfig(ir_i_c_floor=bad)
    with pytest.raises(ValueError, match="ir_scale"):
        HardwareConfig(ir_scale="inputs")
    assert HardwareConfig(ir_i_c_floor=5e-6).i_c_floor == 5e-6
    assert HardwareConfig().i_c_floor == HardwareConfig().i_c_range[0]
    lev = _levels(5)
    target = G_LEVELS[lev]
    with pytest.raises(ValueError, match="iterations"):
        compensate(_spec(1.0), target, lev > 0, iterations=-1, g_lo=1e-6, g_hi=2e-4)
    with pytest.raises(ValueError, match="g_lo"):
        compensate(_spec(1.0), target, lev > 0, iterations=1, g_lo=2e-4, g_hi=1e-4)
    with pytest.raises(ValueError, match=r"\[g_lo, g_hi\]"):
        compensate(_spec(1.0), target, lev > 0, iterations=1, g_lo=1e-6, g_hi=1e-4)
    with pytest.raises(ValueError, match="differential"):
        compensate(dataclasses.replace(_spec(1.0), differential=False), target, lev > 0, iterations=1,
                   g_lo=1e-6, g_hi=2e-4)


@pytest.fixture(scope="module")
def card_table():
    card = load_preset("siox-literature")
    return card, conductance_levels(card, 8, i_c_range=(20e-6, 200e-6), v_stop=2.0)


def test_compliance_inversion_matches_the_level_table(card_table):
    card, table = card_table
    i_c, gap = compliance_for_conductance(card, table, table.g_median[1:], i_c_range=(20e-6, 200e-6))
    np.testing.assert_allclose(i_c, table.i_c[1:], rtol=3e-3)
    g = 1.0 / programming.read_resistance(card.device, gap, table.v_read)
    np.testing.assert_allclose(g, table.g_median[1:], rtol=2e-3)
    # Between the levels and below i_c_min (a lower floor): still the requested median.
    want = np.array([6e-6, 2.0e-5, 9.9e-5])
    i_c, gap = compliance_for_conductance(card, table, want, i_c_range=(5e-6, 200e-6))
    assert i_c[0] < 20e-6 and np.all(np.diff(i_c) > 0)
    np.testing.assert_allclose(1.0 / programming.read_resistance(card.device, gap, table.v_read), want,
                               rtol=2e-3)
    with pytest.raises(ValueError, match="G\\(i_c_min\\)"):
        compliance_for_conductance(card, table, [1e-6], i_c_range=(20e-6, 200e-6))


def _front(channels: int) -> TrainedFrontEnd:
    rng = np.random.default_rng(9)
    f, size = 4, 4
    levels = rng.integers(-7, 8, (f, channels, size, size)).astype(np.int16)
    cfg = TrainConfig(n_filters=f, size=size, bits=4, n_class_filters=0, trained_classes=(0, 1))
    return TrainedFrontEnd(weights=levels * 0.1, v_ref_float=np.zeros(f), levels=levels,
                           scale=np.full(f, 0.1), v_ref=np.zeros(f), kinds=(FilterKind.FEATURE,) * f,
                           classes=(None,) * f,
                           trained_classes=(0, 1), config=cfg)


def test_compensated_states_draw_the_same_spread_as_program_bank(card_table):
    card, table = card_table
    front = _front(channels=2)
    lev = device_levels(front)
    cond_ref = crossbar_states(front, table, card, seed=3).conductances
    bank = compensated_states(lev, table.g_median[lev], table, card, i_c_range=(20e-6, 200e-6),
                              rng=np.random.default_rng([3, 11]), channels=2)
    # Same draws, nominal gaps within the inversion's tolerance: conductances agree closely.
    np.testing.assert_allclose(bank.conductances, cond_ref, rtol=5e-3)
    np.testing.assert_array_equal(bank.i_c == 0, lev == 0)
    np.testing.assert_array_equal(bank.device_levels, lev)
    assert bank.writes.min() == bank.writes.max() == 1 and bank.unverified == 0  # no write-verify


def test_program_frontend_with_compensation(card_table):
    card, _ = card_table
    front = _front(channels=1)
    images = np.random.default_rng(4).uniform(0, 1, (6, 7, 7)).astype(np.float32)
    base = dict(calibration_images=6, fast_calibration_vectors=16)
    off0 = program_frontend(front, images, HardwareConfig(r_wire=0.0, ir_compensation=0, **base), card=card)
    on0 = program_frontend(front, images, HardwareConfig(r_wire=0.0, ir_compensation=2, **base), card=card)
    assert off0.compensation is None and on0.compensation is not None
    np.testing.assert_allclose(on0.conductances, off0.conductances, rtol=5e-3)  # zero wires: unchanged
    # Strong wires (200 ohm per segment on 16 rows): the compensated array's transfer is closer.
    wired = dict(r_wire=200.0, c2c=False, ir_scale=IrScale.TOP, **base)
    off = program_frontend(front, images, HardwareConfig(ir_compensation=0, **wired), card=card)
    on = program_frontend(front, images, HardwareConfig(ir_compensation=3, **wired), card=card)
    spec = off.spec.replace(cell_kind=CellKind.RESISTOR)
    delta = off.conductances[0] - off.conductances[1]
    err_off, _ = transfer_error(_reference_diff(spec, off.conductances), delta)
    err_on, _ = transfer_error(_reference_diff(spec, on.conductances), delta)
    assert err_on < err_off / 2
    assert on.conductances.max() <= off.table.g_median[-1] * (1 + 2e-3)
    assert np.all(np.isfinite(on.v_ref)) and on.bits(images).shape == (6, 4)
