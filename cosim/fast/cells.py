"""Read characteristics of crossbar cells as polynomials, for the fast engine's matmul MVM.

During inference every cell sits at a fixed state, so its read current is a function of one
variable, the voltage across it. Over the read range that function is smooth (sinh of the
compact model, in series with an access transistor in its linear region), so a low-degree
polynomial without constant term, I(u) = sum_j c_j (u / v_scale)^j, reproduces it to ~1e-6
of the cell's largest current. The column current of an ideal array is then a sum of matmuls,
``sum_j (V / v_scale)^j @ C_j``: the same kind of work as the ideal ``V @ G``.

Cell kinds (``circuits.crossbar.CellKind``):
- RESISTOR: degree 1, c_1 = G v_scale (exact).
- RRAM_1R: ``compact_model.equations.current`` at the cell's gap, with its per-device
  parameters when a ``DeviceBatch`` is given (the same equations the netlists use).
- RRAM_1T1R: the RRAM in series with the access transistor, whose drain current at the
  crossbar's gate voltage is characterised once in ngspice (``transistor_table``: source and
  bulk at 0 V, a DC sweep of the drain). The series voltage split is solved per cell and grid
  voltage by bisection. Simplification: the source sits on the column wire, which the IR drop
  lifts a few mV above 0 V; the table ignores the resulting loss of gate overdrive.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from circuits.crossbar import CellKind, CrossbarSpec, physical_states
from compact_model import equations as eq
from compact_model.variability import DeviceBatch

_logger = logging.getLogger(__name__)

MAX_DEGREE = 9  # 1, highest polynomial degree tried
# 1, target max fit error relative to the cell's largest |I| on the range (1R cells reach it at
# degree 3; 1T1R cells level off near 4e-5 at degree 9, through the tabulated transistor).
FIT_TOLERANCE = 5e-5
_GRID_POINTS = 64  # 1, Chebyshev nodes on the read range per fit


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TransistorTable:
    """Channel current of an access transistor vs V_DS (source at 0 V, fixed gate and bulk).

    A signed range: V_DS < 0 is the reverse direction (RESET through a 1T1R cell), where the
    simulator itself swaps drain and source, so the table holds whatever its model does.
    """

    v_ds: np.ndarray  # V, increasing, contains 0
    i_d: np.ndarray  # A, into the drain at each v_ds (negative for v_ds < 0)
    v_gate: float  # V
    v_bulk: float  # V
    source: str  # how it was obtained (simulator, card)
    _interp: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        from scipy.interpolate import PchipInterpolator

        v, i = np.asarray(self.v_ds, float), np.asarray(self.i_d, float)
        if v.ndim != 1 or v.shape != i.shape or v.size < 3 or np.any(np.diff(v) <= 0) \
                or not v[0] <= 0 <= v[-1]:
            raise ValueError("transistor table needs >= 3 increasing V_DS values spanning 0 V, "
                             "one current each")
        if np.any(np.diff(i) < 0) or not np.all(np.isfinite(i)):
            raise ValueError("transistor table currents must be finite and non-decreasing in V_DS")
        object.__setattr__(self, "v_ds", v)
        object.__setattr__(self, "i_d", i)
        object.__setattr__(self, "_interp", PchipInterpolator(v, i))

    def current(self, v_ds: Any) -> np.ndarray:
        """I_D (A) at V_DS (V), monotone cubic interpolation; outside the table is an error."""
        v = np.asarray(v_ds, dtype=float)
        span = self.v_ds[-1] - self.v_ds[0]
        if v.size and (v.min() < self.v_ds[0] - 1e-9 * span or v.max() > self.v_ds[-1] + 1e-9 * span):
            raise ValueError(f"V_DS in [{float(v.min()):.4g}, {float(v.max()):.4g}] V is beyond the "
                             f"transistor table [{self.v_ds[0]:.4g}, {self.v_ds[-1]:.4g}] V")
        return self._interp(np.clip(v, self.v_ds[0], self.v_ds[-1]))


def transistor_table(card: Any, *, v_gate: float, v_range: tuple[float, float],
                     v_bulk: float = 0.0, points: int = 401) -> TransistorTable:
    """Characterise an access transistor (``circuits.transistors.TransistorCard``) in ngspice:
    a DC sweep of the drain over ``v_range`` (V) at fixed gate and bulk, source at 0 V."""
    from circuits.transistors import make_netlist
    from cosim.backends import Backend, simulate_netlist
    from netlist_gen.ir import DcSweep, VSource

    lo, hi = (float(x) for x in v_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= 0 < hi):
        raise ValueError(f"v_range must satisfy low <= 0 < high (V), got {v_range}")
    step = (hi - lo) / (points - 1)
    elements = (VSource("d", "d", "0", lo), VSource("g", "g", "0", v_gate),
                VSource("b", "b", "0", v_bulk), card.element("m1", "d", "g", "0", "b"))
    netlist = make_netlist(title=f"access transistor {card.name} I_D(V_DS)", header=(),
                           subckts=(), models=card.models, elements=elements,
                           includes=card.includes, libs=card.libs,
                           analysis=DcSweep("vd", lo, hi, step),
                           # Tight Newton tolerances: at the default reltol (1e-3) the swept
                           # currents carry ~1e-4 noise, which no smooth fit can follow.
                           options={"reltol": 1e-9, "abstol": 1e-18, "vntol": 1e-12})
    result = simulate_netlist(netlist, Backend.NGSPICE)
    v = np.array(result["sweep"], dtype=float)
    i = -np.asarray(result["i(vd)"], dtype=float)  # SPICE: a source delivering power is negative
    zero = int(np.argmin(np.abs(v)))
    v[zero] = 0.0  # the sweep's 0 V point, without its rounding
    i = i - np.interp(0.0, v, i)  # no channel current at V_DS = 0 (removes gmin offsets)
    return TransistorTable(v_ds=v, i_d=np.maximum.accumulate(i), v_gate=float(v_gate),
                           v_bulk=float(v_bulk),
                           source=f"ngspice DC sweep of {card.name} (w={card.w:g} m, l={card.l:g} m, "
                                  f"V_G={v_gate:g} V, V_B={v_bulk:g} V)")


def crossbar_transistor_table(spec: CrossbarSpec, v_max: float) -> TransistorTable:
    """The 1T1R crossbar's access transistor at its word-line voltage, V_DS in [0, v_max]."""
    if spec.transistor is None:
        raise ValueError("the crossbar spec has no transistor card")
    bulk = 0.0  # Bulk.GROUND, and Bulk.SOURCE_LINE with the source at the 0 V column
    return transistor_table(spec.transistor, v_gate=spec.v_gate, v_range=(-0.05 * v_max, v_max),
                            v_bulk=bulk)


def series_current(rram: Callable[[np.ndarray], np.ndarray], table: TransistorTable,
                   u: np.ndarray) -> np.ndarray:
    """Current (A) of an RRAM in series with the tabulated transistor at total voltage u (V).

    Bisection on the transistor's share v_t (same sign as u): I_R(u - v_t) - I_T(v_t) falls
    monotonically from >= 0 at v_t = 0 to <= 0 at v_t = u.
    """
    u = np.asarray(u, dtype=float)
    lo = np.zeros(np.broadcast_shapes(u.shape, np.shape(rram(np.zeros(1)))))
    hi = np.broadcast_to(u, lo.shape).copy()
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    for _ in range(48):  # 2^-48 of a few volts
        mid = 0.5 * (lo + hi)
        excess = rram(u - mid) - table.current(mid)
        lo, hi = np.where(excess > 0, mid, lo), np.where(excess > 0, hi, mid)
    return table.current(0.5 * (lo + hi))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CellPolynomials:
    """Per-cell read polynomials: I(u) = sum_j coefficients[j-1] * (u / v_scale)^j."""

    coefficients: np.ndarray  # A, (degree, rows, physical_cols)
    v_range: tuple[float, float]  # V, cell voltages the fit covers
    v_scale: float  # V, voltage normalisation of the polynomial variable
    fit_error: float  # 1, max |fit - I| / max |I| over the range and all cells

    @property
    def degree(self) -> int:
        return int(self.coefficients.shape[0])

    @property
    def conductance(self) -> np.ndarray:
        """S, small-signal conductance at 0 V, (rows, physical_cols)."""
        return self.coefficients[0] / self.v_scale

    def evaluate(self, u: np.ndarray) -> np.ndarray:
        """Cell currents (A) at cell voltages ``u`` (V), shape broadcast with (rows, cols)."""
        x = np.asarray(u, dtype=float) / self.v_scale
        out = np.zeros(np.broadcast_shapes(x.shape, self.coefficients.shape[1:]))
        for c in self.coefficients[::-1]:  # Horner
            out = (out + c) * x
        return out


def _cell_function(spec: CrossbarSpec, states: np.ndarray, devices: DeviceBatch | None,
                   table: TransistorTable | None) -> Callable[[np.ndarray], np.ndarray]:
    """I(u) for voltages u of shape (points, 1) against every cell (rows * cols,)."""
    if spec.cell_kind is CellKind.RESISTOR:
        g = states.ravel()
        return lambda u: u * g
    p: Any = devices if devices is not None else spec.device
    gaps = states.ravel()

    def rram(u: np.ndarray) -> np.ndarray:
        return eq.current(u, gaps, p, eq.NUMPY_OPS)

    if spec.cell_kind is CellKind.RRAM_1R:
        return rram
    if table is None:
        raise ValueError("1T1R cells need a transistor table (cosim.fast.cells.crossbar_transistor_table)")

    def series(u: np.ndarray) -> np.ndarray:
        return series_current(rram, table, u)

    return series


def fit_cells(spec: CrossbarSpec, states: Any, *, v_range: tuple[float, float] = (0.0, 0.2),
              devices: DeviceBatch | None = None, table: TransistorTable | None = None,
              tolerance: float = FIT_TOLERANCE, max_degree: int = MAX_DEGREE) -> CellPolynomials:
    """Least-squares polynomials of every cell's read current over ``v_range`` (V).

    The degree is the lowest one whose worst cell error (relative to that cell's largest |I|
    on the range) is below ``tolerance``; if none is, ``max_degree`` is used and a warning is
    logged with the error reached. ``states`` as for ``circuits.crossbar.crossbar``.
    """
    lo, hi = (float(x) for x in v_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"v_range must be two finite voltages low < high, got {v_range}")
    if spec.cell_kind is CellKind.RRAM_1T1R and lo < 0:
        raise ValueError("1T1R cells are characterised for cell voltages >= 0 V only")
    arr = physical_states(spec, states)
    rows, cols = arr.shape
    v_scale = max(abs(lo), abs(hi))
    k = np.arange(_GRID_POINTS)
    u = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / _GRID_POINTS)
    current = _cell_function(spec, arr, devices, table)(u[:, None])  # (points, cells)
    scale = np.max(np.abs(current), axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    x = u / v_scale
    best: tuple[float, np.ndarray] | None = None
    last = 1 if spec.cell_kind is CellKind.RESISTOR else max_degree
    for degree in range(1, last + 1):
        basis = np.stack([x ** j for j in range(1, degree + 1)], axis=1)  # (points, degree)
        coef, *_ = np.linalg.lstsq(basis, current / scale, rcond=None)  # (degree, cells)
        error = float(np.max(np.abs(basis @ coef - current / scale)))
        best = (error, coef * scale)
        if error <= tolerance:
            break
    assert best is not None
    error, coef = best
    if error > tolerance:
        _logger.warning("cell polynomials reach %.3g relative error at degree %d (target %.3g)",
                        error, coef.shape[0], tolerance)
    return CellPolynomials(coefficients=coef.reshape(-1, rows, cols), v_range=(lo, hi),
                           v_scale=v_scale, fit_error=error)
