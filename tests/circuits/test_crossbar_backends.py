"""The crossbar factory's netlists give the same column currents in ngspice and VACASK."""

import numpy as np
import pytest

from circuits.crossbar import CellKind, CrossbarSpec, Wire, crossbar, random_states
from circuits.reference import nodal_solve
from compact_model.cards import load_preset
from cosim.backends import Backend, simulate_netlist
from netlist_gen.ir import Op
from netlist_gen.verilog_a import rram_verilog_a

DEV = load_preset("siox-literature").device
pytestmark = [pytest.mark.ngspice, pytest.mark.vacask]


@pytest.mark.parametrize("cell", [CellKind.RESISTOR, CellKind.RRAM_1R])
def test_crossbar_with_wire_resistance_agrees_across_simulators(cell):
    spec = CrossbarSpec(rows=16, cols=8, cell_kind=cell, wire=Wire(r_row=20.0, r_col=20.0),
                        device=DEV if cell is CellKind.RRAM_1R else None)
    states = random_states(spec, seed=4)
    v_in = np.linspace(0.05, 0.2, 16)
    circuit = crossbar(spec, states, v_in)
    netlist = circuit.netlist(analysis=Op(), options={"reltol": 1e-9, "abstol": 1e-18})
    va = {"rram_static": rram_verilog_a(DEV, 1e-9, module="rram_static", dynamic=False)}
    i_ng = circuit.column_currents(simulate_netlist(netlist, Backend.NGSPICE)).reshape(-1)
    i_va = circuit.column_currents(simulate_netlist(netlist, Backend.VACASK, va_sources=va)).reshape(-1)
    # Linear cells: one exact Newton step in both; RRAM cells: both converge to reltol 1e-9,
    # so 1e-6 leaves margin for the KLU vs Sparse 1.3 pivoting differences.
    np.testing.assert_allclose(i_va, i_ng, rtol=1e-6)
    if cell is CellKind.RESISTOR:
        np.testing.assert_allclose(np.abs(i_va), np.abs(nodal_solve(spec, states, v_in)), rtol=1e-6)


def test_device_to_device_variability_reaches_each_cell():
    from compact_model import equations as eq
    from compact_model.params import VariabilityParams
    from compact_model.variability import sample_devices

    spec = CrossbarSpec(rows=4, cols=3, cell_kind=CellKind.RRAM_1R, device=DEV)
    gaps = np.full((4, 3), 1.2e-9)
    devices = sample_devices(DEV, VariabilityParams(d2d_sigma_i0=0.3), 12, np.random.default_rng(8))
    v_in = np.full(4, 0.1)
    circuit = crossbar(spec, gaps, v_in, devices=devices)
    result = simulate_netlist(circuit.netlist(analysis=Op(), options={"reltol": 1e-9}), Backend.NGSPICE)
    got = np.abs(circuit.column_currents(result).reshape(-1))
    i_cells = eq.current(0.1, np.full(12, 1.2e-9), devices, eq.NUMPY_OPS).reshape(4, 3)
    np.testing.assert_allclose(got, i_cells.sum(axis=0), rtol=1e-6)
    # ... and differs from the nominal array by the sampled spread.
    assert np.max(np.abs(got / (4 * eq.current(0.1, 1.2e-9, DEV, eq.NUMPY_OPS)) - 1)) > 0.05
    with pytest.raises(ValueError, match="must have 12 values"):
        crossbar(spec, gaps, v_in, devices=sample_devices(DEV, VariabilityParams(), 5,
                                                           np.random.default_rng(0)))
