"""A slice of a programmed layer as a crossbar netlist, and its SPICE check against G @ V.

A layer's ``DeviceArray`` has shape (2, out, in) (G+ and G- devices of each weight); the
crossbar of ``circuits.crossbar`` has the inputs on its rows and one differential pair of
physical columns per output, states (2, rows, cols). The slice takes ``rows`` inputs from
``row_offset`` and ``cols`` outputs from ``col_offset`` (784 x 100 x 2 cells is too big for a
routine ngspice check), with every cell's programmed gap and, with device-to-device
variability, its own parameters (``crossbar(..., devices=DeviceBatch)``).

Cells are the static RRAM subcircuit (``CellKind.RRAM_1R``), ideal wires, virtual-ground
read-out. Inputs are pixel intensities times ``v_read_max`` (default the level table's read
voltage, where G was defined). Two references per physical column current:

* ``ideal``: G @ V with G read at the table's v_read: what the network assumes. The RRAM I-V
  is non-linear (sinh-like), so rows driven below v_read carry less than G V: this error is
  physics, not a netlist fault.
* ``model``: the compact model's I(V_row, gap) summed down the column (``equations.current``):
  what a correct netlist must reproduce to the simulator's tolerance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuits.crossbar import CellKind, CrossbarCircuit, CrossbarSpec, Readout, crossbar
from compact_model import equations as eq
from cosim.backends import Backend, simulate_netlist
from cosim.metaplastic.devices import DeviceArray
from netlist_gen.ir import Op
from netlist_gen.ngspice import write_ngspice

logger = logging.getLogger(__name__)

__all__ = ["SliceCheck", "layer_slice", "slice_circuit", "slice_netlist_text", "spice_check_slice"]

# Tight Newton tolerances: the default reltol 1e-3 would bound the agreement with the model.
TIGHT_OPTIONS = {"reltol": 1e-7, "abstol": 1e-15, "vntol": 1e-9}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SliceCheck:
    """SPICE column currents of a layer slice and their references (arrays (n_vectors, phys))."""

    v_inputs: np.ndarray  # V, (n_vectors, rows) row voltages
    spice: np.ndarray  # A, ngspice physical column currents (G+ and G- columns interleaved)
    ideal: np.ndarray  # A, G @ V with G read at v_read
    model: np.ndarray  # A, compact-model I(V) summed per column
    max_rel_error_ideal: float  # 1, max |spice - ideal| / |ideal| over columns with current
    max_rel_error_model: float  # 1, max |spice - model| / |model|
    deck: str  # the ngspice deck of the first vector


def layer_slice(array: DeviceArray, *, rows: int, cols: int, row_offset: int = 0,
                col_offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(gaps (2, rows, cols) in crossbar layout, flat device index (rows, 2 cols) in physical
    row-major order: column 2j is output j's G+ device, 2j + 1 its G- device)."""
    if len(array.shape) != 3 or array.shape[0] != 2:
        raise ValueError(f"expected a (2, out, in) differential layer, got shape {array.shape}")
    _, n_out, n_in = array.shape
    if not (0 <= row_offset and row_offset + rows <= n_in and 0 <= col_offset
            and col_offset + cols <= n_out and rows >= 1 and cols >= 1):
        raise ValueError(f"slice rows {row_offset}+{rows}, cols {col_offset}+{cols} is outside the "
                         f"layer ({n_in} inputs x {n_out} outputs)")
    r = np.arange(row_offset, row_offset + rows)[:, None]
    j = np.arange(col_offset, col_offset + cols)[None, :]
    flat = np.empty((rows, 2 * cols), dtype=np.int64)
    for s in (0, 1):
        flat[:, s::2] = s * n_out * n_in + j * n_in + r
    gaps = np.stack([array.gaps[flat[:, 0::2]], array.gaps[flat[:, 1::2]]])
    return gaps, flat


def slice_circuit(array: DeviceArray, v_rows: Any, *, rows: int, cols: int, row_offset: int = 0,
                  col_offset: int = 0) -> CrossbarCircuit:
    """The crossbar of the slice with row voltages ``v_rows`` (V, one per row)."""
    gaps, flat = layer_slice(array, rows=rows, cols=cols, row_offset=row_offset, col_offset=col_offset)
    spec = CrossbarSpec(rows=rows, cols=cols, cell_kind=CellKind.RRAM_1R, differential=True,
                        readout=Readout.VIRTUAL_GROUND, device=array.card.device)
    return crossbar(spec, gaps, list(np.asarray(v_rows, dtype=float)),
                    devices=array.params_at(flat.reshape(-1)))


def slice_netlist_text(array: DeviceArray, v_rows: Any, *, rows: int, cols: int, row_offset: int = 0,
                       col_offset: int = 0, header: tuple[str, ...] = ()) -> str:
    """The ngspice deck (operating point) of the slice, levels summarised in the header."""
    circuit = slice_circuit(array, v_rows, rows=rows, cols=cols, row_offset=row_offset,
                            col_offset=col_offset)
    _, flat = layer_slice(array, rows=rows, cols=cols, row_offset=row_offset, col_offset=col_offset)
    levels = array.levels[flat]
    lines = (f"programmed layer slice: inputs {row_offset}..{row_offset + rows - 1}, outputs "
             f"{col_offset}..{col_offset + cols - 1} of a {array.shape} array, card {array.card.name}",
             f"device levels (0 = HRS) histogram: {np.bincount(levels.ravel(), minlength=array.table.n_levels).tolist()}",
             *header)
    return write_ngspice(circuit.netlist(analysis=Op(), options=TIGHT_OPTIONS, header=lines))


def spice_check_slice(array: DeviceArray, inputs: Any, *, rows: int = 64, cols: int = 10,
                      row_offset: int = 0, col_offset: int = 0, v_read_max: float | None = None,
                      backend: Backend = Backend.NGSPICE) -> SliceCheck:
    """One operating point per input vector (``inputs`` (n, rows) in [0, 1]) in the simulator,
    compared with G @ V and with the compact model's summed I(V)."""
    x = np.atleast_2d(np.asarray(inputs, dtype=float))
    if x.shape[1] != rows or not np.all((x >= 0) & (x <= 1)):
        raise ValueError(f"inputs must be (n, {rows}) intensities in [0, 1], got shape {x.shape}")
    v_max = array.table.v_read if v_read_max is None else float(v_read_max)
    volts = x * v_max
    gaps, flat = layer_slice(array, rows=rows, cols=cols, row_offset=row_offset, col_offset=col_offset)
    g_phys = array.conductance[flat]  # S at v_read, (rows, 2 cols)
    gap_phys = array.gaps[flat]
    params = array.params_at(flat.reshape(-1))
    p = params if params is not None else array.card.device
    spice, ideal, model, decks = [], [], [], []
    for v in volts:
        circuit = slice_circuit(array, v, rows=rows, cols=cols, row_offset=row_offset,
                                col_offset=col_offset)
        netlist = circuit.netlist(analysis=Op(), options=TIGHT_OPTIONS)
        result = simulate_netlist(netlist, backend)
        spice.append(circuit.column_currents(result)[:, 0])
        ideal.append(v @ g_phys)
        v_cell = np.broadcast_to(v[:, None], gap_phys.shape).reshape(-1)
        cell_i = np.asarray(eq.current(v_cell, gap_phys.reshape(-1), p, eq.NUMPY_OPS))
        model.append(cell_i.reshape(gap_phys.shape).sum(axis=0))
        if not decks:
            decks.append(write_ngspice(netlist))
    spice_a, ideal_a, model_a = np.array(spice), np.array(ideal), np.array(model)

    def rel(ref: np.ndarray) -> float:
        mask = np.abs(ref) > 0
        return float(np.max(np.abs(spice_a - ref)[mask] / np.abs(ref[mask]))) if mask.any() else 0.0

    check = SliceCheck(v_inputs=volts, spice=spice_a, ideal=ideal_a, model=model_a,
                       max_rel_error_ideal=rel(ideal_a), max_rel_error_model=rel(model_a),
                       deck=decks[0])
    logger.info("SPICE slice %dx%d: max rel error vs G@V %.3g, vs compact model %.3g", rows, cols,
                check.max_rel_error_ideal, check.max_rel_error_model)
    return check
