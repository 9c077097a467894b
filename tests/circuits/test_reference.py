"""The scipy nodal reference against closed forms (independent of ngspice)."""

from __future__ import annotations

import numpy as np
import pytest

from circuits.crossbar import CrossbarSpec, Wire
from circuits.reference import nodal_solve, pair_difference


def test_single_cell_is_a_series_circuit():
    spec = CrossbarSpec(rows=1, cols=1, wire=Wire(r_row=10.0, r_col=20.0))
    g = 1e-3
    i = nodal_solve(spec, [[g]], [0.3])
    np.testing.assert_allclose(i, [0.3 / (10.0 + 1 / g + 20.0)], rtol=1e-13)


def test_one_row_two_cells_closed_form():
    # in -R- a -R- b, cells G1 (a) and G2 (b) to ground (no column wire).
    r, g1, g2, v = 5.0, 1e-2, 2e-2, 1.0
    spec = CrossbarSpec(rows=1, cols=2, wire=Wire(r_row=r))
    # Node b: (V_a - V_b)/r = G2 V_b -> V_b = V_a / (1 + r G2); node a: KCL gives V_a.
    g_b = 1 / (r + 1 / g2)  # conductance of the branch beyond a
    v_a = v * (1 / r) / (1 / r + g1 + g_b)
    v_b = v_a / (1 + r * g2)
    np.testing.assert_allclose(nodal_solve(spec, [[g1, g2]], [v]), [g1 * v_a, g2 * v_b], rtol=1e-13)


def test_no_wires_is_g_at_v_and_small_wires_converge_to_it():
    rng = np.random.default_rng(0)
    g, v = rng.uniform(1e-6, 1e-4, (6, 4)), rng.uniform(0, 0.3, 6)
    spec = CrossbarSpec(rows=6, cols=4)
    np.testing.assert_allclose(nodal_solve(spec, g, v), v @ g, rtol=1e-14)
    r_wire = np.array([1.0, 0.1, 0.01])
    errors = np.array([np.max(np.abs(nodal_solve(spec.replace(wire=Wire(r_row=r, r_col=r)), g, v)
                                     - v @ g)) for r in r_wire])
    # The IR-drop error is first order in the wire resistance (R_wire G << 1 here).
    np.testing.assert_allclose(errors / r_wire, errors[0] / r_wire[0], rtol=0.02)


def test_many_vectors_equal_one_by_one_and_superpose():
    rng = np.random.default_rng(1)
    spec = CrossbarSpec(rows=5, cols=3, wire=Wire(r_row=3.0, r_col=4.0))
    g, vs = rng.uniform(1e-6, 1e-4, (5, 3)), rng.uniform(0, 0.3, (4, 5))
    batch = nodal_solve(spec, g, vs)
    assert batch.shape == (4, 3)
    for k in range(4):
        np.testing.assert_allclose(batch[k], nodal_solve(spec, g, vs[k]), rtol=1e-12)
    np.testing.assert_allclose(nodal_solve(spec, g, vs[0] + vs[1]), batch[0] + batch[1], rtol=1e-12)


def test_charge_is_conserved():
    # Sum of column currents = sum of source currents (KCL over the whole array).
    rng = np.random.default_rng(2)
    spec = CrossbarSpec(rows=4, cols=3, wire=Wire(r_row=50.0, r_col=50.0))
    g, v = rng.uniform(1e-4, 1e-3, (4, 3)), rng.uniform(0, 0.3, 4)
    cols = nodal_solve(spec, g, v)
    # Source currents from the same solve, via superposition of unit inputs: I_src = Y v.
    y = np.array([nodal_solve(spec, g, np.eye(4)[i]).sum() for i in range(4)])
    np.testing.assert_allclose(cols.sum(), y @ v, rtol=1e-12)


def test_differential_layout_and_pair_difference():
    rng = np.random.default_rng(3)
    spec = CrossbarSpec(rows=4, cols=2, differential=True)
    g, v = rng.uniform(1e-6, 1e-4, (2, 4, 2)), rng.uniform(0, 0.3, 4)
    currents = nodal_solve(spec, g, v)
    assert currents.shape == (4,)
    np.testing.assert_allclose(pair_difference(currents), v @ (g[0] - g[1]), rtol=1e-12)


def test_input_validation():
    spec = CrossbarSpec(rows=2, cols=2)
    with pytest.raises(ValueError, match="v_in"):
        nodal_solve(spec, np.ones((2, 2)), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="shape"):
        nodal_solve(spec, np.ones((3, 2)), [0.1, 0.2])
