"""PWL stimuli: exact breakpoints, validation, and a check in ngspice."""

from __future__ import annotations

import numpy as np
import pytest

from circuits.stimuli import image_to_pwl, slot_read_times, spikes_to_pwl
from cosim.ngspice_compat import run_deck
from netlist_gen.ir import Netlist, Resistor, Tran, VSource
from netlist_gen.ngspice import write_ngspice


def test_three_vectors_exactly_as_specified():
    images = np.array([[0.0, 1.0], [0.5, 0.25], [1.0, 0.0]])  # 3 vectors, 2 rows
    # Dyadic times and levels: every breakpoint is exact in binary, so compare with ==.
    waves = image_to_pwl(images, v_read_max=0.25, t_slot=1.0, t_edge=0.125)
    times = (0.0, 0.125, 1.0, 1.125, 2.0, 2.125, 3.0, 3.125)
    assert len(waves) == 2
    assert waves[0].times == times and waves[1].times == times
    assert waves[0].values == (0.0, 0.0, 0.0, 0.125, 0.125, 0.25, 0.25, 0.0)
    assert waves[1].values == (0.0, 0.25, 0.25, 0.0625, 0.0625, 0.0, 0.0, 0.0)
    np.testing.assert_array_equal(slot_read_times(3, t_slot=1.0), [1.0, 2.0, 3.0])


def test_image_pwl_realistic_times_and_determinism():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (5, 3))
    a = image_to_pwl(images, v_read_max=0.2, t_slot=1e-6, t_edge=10e-9)
    assert a == image_to_pwl(images.copy(), v_read_max=0.2, t_slot=1e-6, t_edge=10e-9)
    t = np.array(a[1].times)
    assert np.all(np.diff(t) > 0)
    # Slot k's value is held from k t_slot + t_edge to (k + 1) t_slot.
    for k in range(5):
        held = np.interp([k * 1e-6 + 10e-9 + 1e-12, (k + 1) * 1e-6 - 1e-12], t, a[1].values)
        np.testing.assert_allclose(held, 0.2 * images[k, 1], rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    ({"images": [[0.5, 1.2]]}, r"\[0, 1\]"),
    ({"images": [[-0.1, 0.5]]}, r"\[0, 1\]"),
    ({"images": [[np.nan, 0.5]]}, r"\[0, 1\]"),
    ({"images": [0.5, 0.5]}, "shape"),
    ({"images": [[0.5]], "t_edge": 2e-6}, "shorter"),
    ({"images": [[0.5]], "v_read_max": 0.0}, "v_read_max"),
    ({"images": [[0.5]], "t_slot": -1.0}, "t_slot"),
])
def test_image_pwl_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_to_pwl(**kwargs)


def test_spikes_exact_and_empty_input():
    waves = spikes_to_pwl([[1.0, 4.0], [0.0], []], amplitude=0.5, width=1.0, edge=0.25)
    assert waves[0].times == (0.0, 1.0, 1.25, 2.25, 2.5, 4.0, 4.25, 5.25, 5.5)
    assert waves[0].values == (0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 0.0)
    assert waves[1].times == (0.0, 0.25, 1.25, 1.5)  # a spike at t = 0 starts the waveform
    assert waves[2].times == (0.0,) and waves[2].values == (0.0,)


@pytest.mark.parametrize("times, match", [
    ([[1.0, 2.0]], "not overlap"),  # 1.0 + width + 2 edge = 2.5 > 2.0
    ([[1.0, 2.5]], "not overlap"),  # touching counts as overlapping
    ([[3.0, 1.0]], "increasing"),
    ([[-1.0]], ">= 0"),
    ([[np.inf]], "finite"),
])
def test_spike_validation(times, match):
    with pytest.raises(ValueError, match=match):
        spikes_to_pwl(times, amplitude=0.5, width=1.0, edge=0.25)


def test_spike_parameter_validation():
    with pytest.raises(ValueError, match="width"):
        spikes_to_pwl([[0.0]], amplitude=1.0, width=0.0)
    with pytest.raises(ValueError, match="amplitude"):
        spikes_to_pwl([[0.0]], amplitude=np.nan, width=1e-6)


@pytest.mark.ngspice
def test_spikes_reach_ngspice_unchanged():
    waves = spikes_to_pwl([[1e-6, 3e-6], []], amplitude=0.5, width=0.5e-6, edge=0.1e-6)
    netlist = Netlist(title="spikes", elements=(
        VSource("a", "a", "0", 0.0, waves[0]), VSource("b", "b", "0", 0.0, waves[1]),
        Resistor("ra", "a", "0", 1e3), Resistor("rb", "b", "0", 1e3)), analysis=Tran(10e-9, 5e-6))
    r = run_deck(write_ngspice(netlist))
    t = r["time"]
    # ngspice lands on every PWL breakpoint, so linear interpolation of the breakpoints is
    # exact at its time points up to round-off.
    np.testing.assert_allclose(r["v(a)"], np.interp(t, waves[0].times, waves[0].values), atol=1e-12)
    assert np.all(r["v(b)"] == 0.0)
