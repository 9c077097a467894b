"""Reference solution of a linear crossbar: nodal analysis with scipy.sparse.

The same topology as ``circuits.crossbar`` (see its docstring): each cell a conductance, row
wires driven at their left ends by ideal sources, column wires read at their bottoms by an ideal
virtual ground (a TIA with infinite gain holds its summing node at 0 V too). Zero wire
resistance merges nodes exactly as the netlist does. The conductance matrix is assembled in
COO form, the fixed potentials (sources, ground) are eliminated, and one sparse LU
factorisation serves any number of input vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from circuits.crossbar import CellKind, CrossbarSpec, physical_states


def nodal_solve(spec: CrossbarSpec, conductances: Any, v_in: Any) -> np.ndarray:
    """Column currents (A) of the linear crossbar, per physical column (``spec.column_labels``).

    ``conductances``: (rows, cols) S, or (2, rows, cols) when differential. ``v_in``: (rows,)
    volts, or (n, rows) for n input vectors, giving (n, physical_cols) currents. Cells are
    linear whatever ``spec.cell_kind`` says: pass conductances, not gaps.
    """
    g = physical_states(spec.replace(cell_kind=CellKind.RESISTOR), conductances)
    v = np.asarray(v_in, dtype=float)
    single = v.ndim == 1
    v = np.atleast_2d(v)
    if v.shape[1] != spec.rows or not np.all(np.isfinite(v)):
        raise ValueError(f"v_in must be finite with {spec.rows} values per vector, got {v.shape}")
    rows, cols = g.shape
    r_row, r_col = spec.wire.r_row, spec.wire.r_col

    # Node numbering: 0..rows-1 the source nodes, `rows` the ground, then free nodes.
    ground = rows
    n_nodes = rows + 1
    if r_row > 0:
        row_idx = n_nodes + np.arange(rows * cols).reshape(rows, cols)
        n_nodes += rows * cols
    else:
        row_idx = np.repeat(np.arange(rows)[:, None], cols, axis=1)
    if r_col > 0:
        col_idx = n_nodes + np.arange(rows * cols).reshape(rows, cols)
        n_nodes += rows * cols
    else:
        col_idx = np.full((rows, cols), ground)
    n_fixed = rows + 1

    if r_row == 0 and r_col == 0:  # every cell sees its row voltage across it
        out = v @ g
        return out[0] if single else out

    a_list, b_list, c_list = [], [], []

    def edges(a: np.ndarray, b: np.ndarray, cond: Any) -> None:
        a_list.append(a.ravel())
        b_list.append(b.ravel())
        c_list.append(np.broadcast_to(cond, a.shape).ravel().astype(float))

    edges(row_idx, col_idx, g)
    if r_row > 0:
        edges(np.arange(rows), row_idx[:, 0], 1.0 / r_row)
        edges(row_idx[:, :-1], row_idx[:, 1:], 1.0 / r_row)
    if r_col > 0:
        edges(col_idx[:-1, :], col_idx[1:, :], 1.0 / r_col)
        edges(col_idx[-1, :], np.full(cols, ground), 1.0 / r_col)
    a, b, c = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(c_list)
    lap = sp.coo_matrix((np.concatenate([c, c, -c, -c]),
                         (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
                        shape=(n_nodes, n_nodes)).tocsc()
    free = slice(n_fixed, n_nodes)
    fixed = np.hstack([v, np.zeros((v.shape[0], 1))])  # (n, rows + 1): sources, then ground
    rhs = -(lap[free, :n_fixed] @ fixed.T)
    x_free = spla.splu(lap[free, free].tocsc()).solve(np.asarray(rhs))
    potentials = np.vstack([fixed.T, x_free.reshape(n_nodes - n_fixed, -1)])  # (n_nodes, n)

    # Current into ground, per column: through the last column segment, or through the cells.
    if r_col > 0:
        out = (potentials[col_idx[-1, :]] / r_col).T
    else:
        out = np.einsum("rc,rcn->nc", g, potentials[row_idx])
    return out[0] if single else out


def pair_difference(currents: np.ndarray) -> np.ndarray:
    """Differential outputs I(colp_j) - I(coln_j) from interleaved physical column currents."""
    currents = np.asarray(currents)
    return currents[..., 0::2] - currents[..., 1::2]
