"""Fast crossbar MVM with wire resistance: a few matmuls per batch, factorised once.

Conductances are fixed during inference, so everything that depends only on the array is
computed once, in ``FastCrossbar.__init__``:

1. Each cell's read current as a polynomial in its voltage (``cosim.fast.cells``):
   I(u) = sum_j C_j x^j with x = u / v_scale; C_1 / v_scale is the small-signal conductance G1.
2. The linear part, exactly, wires included: the network with cells G1 is linear, so its
   column currents are ``V @ T``; T comes from one sparse LU of the nodal matrix solved for the
   unit input vectors (``circuits.reference.nodal_solve``). The IR drops, however large, are
   exact for this part.
3. The non-linear remainder h(u) = sum_{j>=2} C_j x^j, to first order in the wire resistance:
   its ideal value at the row voltage, minus (a) the current it diverts by raising its column
   wire and lowering its row wire (the other cells of that column and row then see less
   voltage), and minus (b) the change of h itself under the row-wire drop. Term (b)'s column
   part, h' times the column-wire drop, couples every row of a column with every other, so it
   is not separable into matmuls; it is left out. It is second order (wire drop fraction times
   non-linearity); ``error_bound`` in the benchmarks and the parity tests measure what it costs.

All terms are polynomials in the row inputs, so the column currents are
``sum_p (V / v_scale)^p @ M_p``: one matmul of the stacked powers, p = 1 .. 2 J - 1.
``solve_exact`` is the full non-linear nodal solution (Newton, sparse LU per vector), the
reference the approximation is tested against without a simulator.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from circuits.crossbar import CellKind, CrossbarSpec, Readout
from compact_model.variability import DeviceBatch
from cosim.fast.cells import CellPolynomials, TransistorTable, fit_cells

_logger = logging.getLogger(__name__)

_BATCH = 8192  # vectors per matmul chunk: bounds the (batch, powers * rows) stacked input
# Drop a power whose largest possible contribution (inputs at full scale) is below this
# fraction of the linear term's: 2e-5 keeps the engine ~25x inside the 0.5 % parity bound.
_PRUNE = 2e-5


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FastCrossbarInfo:
    """What the fast model of one array is made of (for reports)."""

    degree: int  # 1, cell polynomial degree
    powers: tuple[int, ...]  # input powers kept in the matmul
    fit_error: float  # 1, worst cell polynomial error relative to its largest current
    setup_s: float  # s, time to build (fit + factorisation)


class FastCrossbar:
    """Column currents of a programmed crossbar for batches of row-voltage vectors.

    ``spec`` and ``states`` as for ``circuits.crossbar.crossbar`` (RESISTOR, RRAM_1R, RRAM_1T1R;
    virtual-ground or TIA read-out; wire capacitance ignored: the result is the DC, settled
    value). ``v_range`` (V) is the range of row voltages the model is built for; inputs outside
    it are refused. 1T1R cells need ``table`` (``cosim.fast.cells.crossbar_transistor_table``).
    """

    def __init__(self, spec: CrossbarSpec, states: Any, *, v_range: tuple[float, float] = (0.0, 0.2),
                 devices: DeviceBatch | None = None, table: TransistorTable | None = None,
                 calibration: Any = None, dtype: torch.dtype = torch.float32) -> None:
        import time

        t0 = time.perf_counter()
        self.spec = spec
        self.dtype = dtype
        self.cells = fit_cells(spec, states, v_range=v_range, devices=devices, table=table)
        cal = None if calibration is None else np.atleast_2d(np.asarray(calibration, dtype=float))
        powers, matrices = _power_matrices(spec, self.cells, cal)
        self.powers = powers
        stacked = np.concatenate(matrices, axis=0)
        self._weights = torch.as_tensor(stacked, dtype=dtype)
        # Differential pairs: the outputs I+ - I- are linear in the weights, so subtract once.
        self._pair_weights = (torch.as_tensor(stacked[:, 0::2] - stacked[:, 1::2], dtype=dtype)
                              if spec.differential else None)
        self.info = FastCrossbarInfo(degree=self.cells.degree, powers=powers,
                                     fit_error=self.cells.fit_error,
                                     setup_s=time.perf_counter() - t0)

    @property
    def v_range(self) -> tuple[float, float]:
        return self.cells.v_range

    def currents(self, v_in: Any) -> torch.Tensor:
        """Physical column currents (A), (n, physical_cols), for row voltages (n, rows) in V."""
        return self._apply(v_in, self._weights)

    def pair_currents(self, v_in: Any) -> torch.Tensor:
        """Differential outputs I(colp_j) - I(coln_j) (A), (n, cols), of a differential array."""
        if self._pair_weights is None:
            raise ValueError("pair_currents needs a differential crossbar")
        return self._apply(v_in, self._pair_weights)

    def _apply(self, v_in: Any, weights: torch.Tensor) -> torch.Tensor:
        v = torch.as_tensor(v_in, dtype=self.dtype)
        single = v.ndim == 1
        v = v.reshape(1, -1) if single else v
        if v.ndim != 2 or v.shape[1] != self.spec.rows:
            raise ValueError(f"v_in must be (n, {self.spec.rows}) volts, got {tuple(v.shape)}")
        lo, hi = self.v_range
        if v.numel() and (not torch.isfinite(v).all() or v.min() < lo - 1e-12 or v.max() > hi + 1e-12):
            raise ValueError(f"row voltages must be finite and within the model's range "
                             f"[{lo:g}, {hi:g}] V")
        x = v / self.cells.v_scale
        out = torch.empty((v.shape[0], weights.shape[1]), dtype=self.dtype)
        for start in range(0, v.shape[0], _BATCH):
            xb = x[start:start + _BATCH]
            out[start:start + _BATCH] = self._stack(xb) @ weights
        return out[0] if single else out

    def _stack(self, x: torch.Tensor) -> torch.Tensor:
        """[x^p for p in powers] side by side, each power from the previous by one product."""
        if self.powers == (1,):
            return x
        stacked = torch.empty((x.shape[0], len(self.powers) * x.shape[1]), dtype=x.dtype)
        power, current = 1, x
        for k, p in enumerate(self.powers):
            while power < p:
                current = current * x
                power += 1
            stacked[:, k * x.shape[1]:(k + 1) * x.shape[1]] = current
        return stacked

    def outputs(self, v_in: Any) -> torch.Tensor:
        """Read-out values per physical column: currents (A) for a virtual ground, TIA output
        voltages (V) = -r_f I A / (1 + A) for a TIA."""
        i = self.currents(v_in)
        if self.spec.readout is Readout.TIA:
            a = self.spec.opamp_gain
            return -self.spec.r_f * a / (1 + a) * i
        return i


@dataclass(frozen=True, slots=True, eq=False)
class _Network:
    """The linear network (cells at G1, wires) over its free nodes: ``lap @ x = drive @ v``.

    Free nodes: the row-wire nodes (rows x cols, if r_row > 0), then the column-wire nodes (if
    r_col > 0); a zero-resistance wire merges its nodes into the driver (row) or ground (column).
    """

    lap: sp.csc_matrix
    drive: sp.csr_matrix  # (free nodes, rows)
    row_node: np.ndarray | None  # (rows, cols) free-node index of each cell's row side
    col_node: np.ndarray | None  # (rows, cols) of its column side


def _network(spec: CrossbarSpec, g1: np.ndarray) -> _Network:
    rows, cols = g1.shape
    r_row, r_col = spec.wire.r_row, spec.wire.r_col
    lap_wire, drive_wire = _wire_laplacian(rows, cols, r_row, r_col)
    n_row = rows * cols if r_row > 0 else 0
    row_node = np.arange(n_row).reshape(rows, cols) if n_row else None
    col_node = n_row + np.arange(rows * cols).reshape(rows, cols) if r_col > 0 else None
    g = g1.ravel()
    i_idx, j_idx, vals = [], [], []
    for a in (row_node, col_node):
        if a is not None:
            i_idx.append(a.ravel())
            j_idx.append(a.ravel())
            vals.append(g)
    if row_node is not None and col_node is not None:
        i_idx += [row_node.ravel(), col_node.ravel()]
        j_idx += [col_node.ravel(), row_node.ravel()]
        vals += [-g, -g]
    n = lap_wire.shape[0]
    cells = sp.coo_matrix((np.concatenate(vals), (np.concatenate(i_idx), np.concatenate(j_idx))),
                          shape=(n, n)) if vals else sp.coo_matrix((n, n))
    drive = drive_wire
    if row_node is None and col_node is not None:  # cells tie the inputs to the column nodes
        drive = drive + sp.coo_matrix((g, (col_node.ravel(), np.repeat(np.arange(rows), cols))),
                                      shape=(n, rows)).tocsr()
    return _Network(lap=(lap_wire + cells).tocsc(), drive=drive.tocsr(), row_node=row_node,
                    col_node=col_node)


def _calibration_inputs(rows: int, v_range: tuple[float, float], n: int = 64) -> np.ndarray:
    """Default calibration vectors: each row uniform in the range, or at 0 V with p = 1/2
    (images are sparse), from a fixed seed."""
    rng = np.random.default_rng(20201)
    lo, hi = v_range
    v = rng.uniform(lo, hi, size=(n, rows))
    if lo <= 0 <= hi:
        v[rng.random((n, rows)) < 0.5] = 0.0
    return v


def _power_matrices(spec: CrossbarSpec, cells: CellPolynomials,
                    calibration: np.ndarray | None = None) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """The matrices M_p of column currents = sum_p x^p @ M_p (see the module docstring)."""
    coef = cells.coefficients  # (J, R, P)
    degree, rows, cols = coef.shape
    g1 = cells.conductance
    terms: dict[int, np.ndarray] = {}
    if spec.wire.r_row == 0 and spec.wire.r_col == 0:
        terms = {j: coef[j - 1] for j in range(1, degree + 1)}
    else:
        net = _network(spec, g1)
        lu = spla.splu(net.lap)
        # Adjoint: I_k = sum_r G1_rk (x_row - x_col) [+ G1_rk v_r if rows are driven directly].
        n_free = net.lap.shape[0]
        w = np.zeros((n_free, cols))
        k_of = np.broadcast_to(np.arange(cols), (rows, cols))
        if net.row_node is not None:
            np.add.at(w, (net.row_node.ravel(), k_of.ravel()), g1.ravel())
        if net.col_node is not None:
            np.add.at(w, (net.col_node.ravel(), k_of.ravel()), -g1.ravel())
        y = lu.solve(w, trans="T")  # (free, P)
        transfer = np.asarray(net.drive.T @ y)  # (R, P)
        if net.row_node is None:
            transfer = transfer + g1
        terms[1] = cells.v_scale * transfer
        if degree > 1:
            # K[r, c, k]: change of I_k per unit extra current through cell (r, c).
            side = np.zeros((rows, cols, cols))
            if net.row_node is not None:
                side += y[net.row_node]
            if net.col_node is not None:
                side -= y[net.col_node]
            routing = -side
            routing[:, np.arange(cols), np.arange(cols)] += 1.0
            # Each cell's voltage relative to its row input, from the linear network.
            v_cal = _calibration_inputs(rows, cells.v_range) if calibration is None else calibration
            x = lu.solve(np.asarray(net.drive @ v_cal.T))  # (free, n)
            top = x[net.row_node] if net.row_node is not None else v_cal.T[:, None, :]
            bottom = x[net.col_node] if net.col_node is not None else 0.0
            u = top - bottom  # (R, P, n)
            vr = v_cal.T[:, None, :]
            ratio = np.sum(u * vr, axis=2) / np.maximum(np.sum(vr * vr, axis=2), 1e-300)  # (R, P)
            for j in range(2, degree + 1):
                terms[j] = np.einsum("rck,rc->rk", routing, coef[j - 1] * ratio ** j)
    scale = float(np.max(np.abs(terms[1]).sum(axis=0))) or 1.0
    powers = tuple(p for p in sorted(terms) if p == 1 or
                   float(np.max(np.abs(terms[p]).sum(axis=0))) > _PRUNE * scale)
    return powers, [np.asarray(terms[p], dtype=float) for p in powers]


def solve_exact(spec: CrossbarSpec, cells: CellPolynomials, v_in: Any, *, tol: float = 1e-12,
                max_iter: int = 50) -> np.ndarray:
    """Column currents (A), (n, physical_cols), of the non-linear array with its wires, by
    Newton's method on the node potentials (the cells as ``cells`` polynomials). The reference
    for the matmul approximation; one sparse factorisation per Newton step and vector."""
    v = np.atleast_2d(np.asarray(v_in, dtype=float))
    rows, cols = cells.coefficients.shape[1:]
    if v.shape[1] != rows:
        raise ValueError(f"v_in must have {rows} values per vector, got {v.shape}")
    r_row, r_col = spec.wire.r_row, spec.wire.r_col
    # Unknowns: row-wire nodes (rows x cols) if r_row > 0, then column-wire nodes if r_col > 0.
    n_row = rows * cols if r_row > 0 else 0
    n_col = rows * cols if r_col > 0 else 0
    lap, drive = _wire_laplacian(rows, cols, r_row, r_col)
    out = np.empty((v.shape[0], cols))
    ridx = np.arange(n_row).reshape(rows, cols) if n_row else None
    cidx = n_row + np.arange(n_col).reshape(rows, cols) if n_col else None
    for n, vec in enumerate(v):
        x = np.zeros(n_row + n_col)
        if n_row:
            x[:n_row] = np.repeat(vec, cols)
        for it in range(max_iter):
            top = x[ridx] if n_row else np.repeat(vec[:, None], cols, axis=1)
            bottom = x[cidx] if n_col else np.zeros((rows, cols))
            u = top - bottom
            i_cell = cells.evaluate(u)
            g_cell = _slope(cells, u)
            res = lap @ x - drive @ vec if (n_row + n_col) else np.zeros(0)
            rows_j, cols_j, vals = [], [], []
            if n_row:
                np.add.at(res, ridx.ravel(), i_cell.ravel())
                rows_j += [ridx.ravel()]
                cols_j += [ridx.ravel()]
                vals += [g_cell.ravel()]
            if n_col:
                np.add.at(res, cidx.ravel(), -i_cell.ravel())
                rows_j += [cidx.ravel()]
                cols_j += [cidx.ravel()]
                vals += [g_cell.ravel()]
                if n_row:
                    rows_j += [ridx.ravel(), cidx.ravel()]
                    cols_j += [cidx.ravel(), ridx.ravel()]
                    vals += [-g_cell.ravel(), -g_cell.ravel()]
            if not (n_row + n_col):
                out[n] = i_cell.sum(axis=0)
                break
            jac = lap + sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows_j), np.concatenate(cols_j))),
                                      shape=lap.shape).tocsc()
            dx = spla.spsolve(jac.tocsc(), -res)
            x += dx
            if float(np.max(np.abs(dx))) < tol * max(1.0, float(np.max(np.abs(vec)))):
                break
        else:
            raise RuntimeError(f"solve_exact: Newton did not converge in {max_iter} iterations")
        if n_col:
            bottom = x[cidx]
            top = x[ridx] if n_row else np.repeat(vec[:, None], cols, axis=1)
            out[n] = bottom[-1] / r_col
        else:
            top = x[ridx] if n_row else np.repeat(vec[:, None], cols, axis=1)
            out[n] = cells.evaluate(top).sum(axis=0)
    return out


def _slope(cells: CellPolynomials, u: np.ndarray) -> np.ndarray:
    """dI/du (S) of every cell at voltages ``u``: sum_j j C_j x^(j-1) / v_scale."""
    x = u / cells.v_scale
    out = np.zeros(u.shape)
    for j in range(cells.degree, 0, -1):  # Horner on the derivative's coefficients
        out = out * x + j * cells.coefficients[j - 1]
    return out / cells.v_scale


def _wire_laplacian(rows: int, cols: int, r_row: float, r_col: float) -> tuple[sp.csc_matrix, sp.csr_matrix]:
    """Wire-only nodal matrix over the free nodes, and the coupling to the row drivers: the
    wire currents leaving the free nodes are ``lap @ x - drive @ v_in``."""
    n_row = rows * cols if r_row > 0 else 0
    n_col = rows * cols if r_col > 0 else 0
    n = n_row + n_col
    a_list, b_list, g_list = [], [], []
    drive_rows, drive_cols, drive_vals = [], [], []
    if n_row:
        idx = np.arange(n_row).reshape(rows, cols)
        a_list.append(idx[:, :-1].ravel())
        b_list.append(idx[:, 1:].ravel())
        g_list.append(np.full(rows * (cols - 1), 1.0 / r_row))
        drive_rows.append(idx[:, 0])
        drive_cols.append(np.arange(rows))
        drive_vals.append(np.full(rows, 1.0 / r_row))
    diag_extra = np.zeros(n)
    if n_row:
        diag_extra[np.arange(n_row).reshape(rows, cols)[:, 0]] += 1.0 / r_row  # to the driver
    if n_col:
        idx = n_row + np.arange(n_col).reshape(rows, cols)
        a_list.append(idx[:-1, :].ravel())
        b_list.append(idx[1:, :].ravel())
        g_list.append(np.full((rows - 1) * cols, 1.0 / r_col))
        diag_extra[idx[-1, :]] += 1.0 / r_col  # to the virtual ground
    if a_list:
        a, b, g = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(g_list)
    else:
        a = b = np.zeros(0, dtype=int)
        g = np.zeros(0)
    lap = sp.coo_matrix((np.concatenate([g, g, -g, -g, diag_extra]),
                         (np.concatenate([a, b, a, b, np.arange(n)]),
                          np.concatenate([a, b, b, a, np.arange(n)]))), shape=(n, n)).tocsc()
    drive = sp.coo_matrix((np.concatenate(drive_vals) if drive_vals else np.zeros(0),
                           (np.concatenate(drive_rows) if drive_rows else np.zeros(0, int),
                            np.concatenate(drive_cols) if drive_cols else np.zeros(0, int))),
                          shape=(n, rows)).tocsr()
    return lap, drive


def relative_error(fast: Any, reference: Any, *, floor: float = 1e-3) -> np.ndarray:
    """|fast - reference| / max(|reference|, floor * max|reference|), elementwise."""
    f, r = np.asarray(fast, dtype=float), np.asarray(reference, dtype=float)
    denom = np.maximum(np.abs(r), floor * max(float(np.max(np.abs(r))) if r.size else 0.0, 1e-300))
    return np.abs(f - r) / denom


__all__ = ["FastCrossbar", "FastCrossbarInfo", "relative_error", "solve_exact"]
