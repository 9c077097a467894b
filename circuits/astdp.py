"""A-STDP layer: 1T1R RRAM synapses, LIF neurons with winner-take-all, optional SFA thresholds.

Array (input i = 0..n_inputs-1 on the rows, neuron j = 0..n_neurons-1 on the columns)::

    pre_i  ── gate of every transistor in row i (presynaptic spike: v_gate_on, else v_gate_off)
    te_j   ── top electrode of every RRAM in column j, driven by neuron j's post driver
    col_j  ── source of every transistor in column j = input of neuron j (virtual ground, 0 V)

    synapse (i, j):  te_j ──RRAM xsyn_i_j (state node gap)── be_i_j ──NMOS msyn_i_j (gate pre_i)── col_j

Phases and how their voltages are kept apart:

- **Read (integrate).** Between fires every te_j sits at ``v_read`` (0.2 V: no read disturb).
  A presynaptic spike turns row i's transistors on for ``t_pre``; each synapse then carries
  about v_read * G_ij into col_j, which the neuron holds at 0 V and integrates on its membrane.
  So neuron j integrates sum_i G_ij over its active inputs (reads happen only while a
  presynaptic spike is present).
- **Write (learn).** When neuron j fires, its post driver drives te_j to ``v_te_set`` (+2 V)
  for the duration of the output spike (``neuron.t_spike``), then, ``t_reset_delay`` after the
  fire (default: one presynaptic spike width), to ``v_te_reset`` (-2 V) for ``t_reset_pulse``;
  then back to v_read. Only synapses whose transistor is on see these pulses: a row whose
  presynaptic spike began before the fire is still on during the SET pulse (potentiation, gap
  -> LRS) and off again before the RESET pulse; a row whose spike begins after the SET pulse is
  on during the RESET pulse (depression, gap -> HRS); a row whose spike begins during the SET
  pulse sees both. The transistor limits the SET current (compliance set by ``v_gate_on``:
  ~58 uA with the defaults, leaving a ~1.0 nm gap, ~19 kohm at 0.2 V; a 0.3 us RESET leaves
  ~2.2 nm, ~0.85 Mohm). Rows that are off see no voltage: their bottom electrode floats to
  te_j. ``v_gate_off`` is at or below ``v_te_reset`` so that a transistor whose bottom
  electrode is pulled to -2 V does not turn on (its gate-source voltage stays <= 0); the bulk
  rail ``v_bulk`` lies below every node so no junction is forward biased.
  The write currents flow into col_j while neuron j is refractory: its input is disconnected
  from the membrane then, and ``neuron.t_refractory`` must cover the whole write sequence.
- **Off-pattern depression** (optional, ``astdp_netlist(reset_gated=...)``). The row driver
  of an input outside the presented pattern also opens its gate while any column is in its
  RESET pulse, so every fire depresses all of the winner's off-pattern synapses, not only those
  that spike by noise then. The other columns sit at v_read meanwhile and are only read; with
  REFRACTORY winner-take-all their neurons are held, so the read currents are not integrated.
- **Winner-take-all** (``WtaMode``). Each neuron's reset switch is also closed while another
  neuron's output spike is high (SPIKE) or while another neuron is refractory (REFRACTORY, the
  default; ``busy`` port): the first neuron to fire resets the others' membranes. With
  REFRACTORY no second neuron can fire on, and so write its column with, the same presynaptic
  spikes; with SPIKE a loser may still fire later within the same presynaptic spike.
- **SFA** (optional). Neuron j's threshold is the output of an SFA cell (``circuits.sfa``)
  whose RRAM receives one partial SET pulse per fire, so the threshold rises with every fire.

- **Edges.** The post drivers and the off-pattern row gates switch through a first-order lag
  of ``t_driver_edge`` (1 ns): with ideal ps edges ngspice could not converge learning
  episodes in which dozens of HRS synapses SET at once. ``c_synapse_node`` optionally puts a
  capacitance on every bottom electrode.

Timing parameters (all in ``AstdpParams`` and ``LifParams``): presynaptic spike width
``t_pre`` and edge ``t_edge``; SET pulse = neuron output spike (``t_spike``); RESET start
``t_reset_delay`` after the fire and width ``t_reset_pulse``; neuron refractory period.
Simulate with ``Tran(..., max_step=layer_max_step(...), uic=True)``.
"""

from __future__ import annotations

import enum
import math
import shlex
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from circuits.neuron import LifParams, lif_neuron, smooth_step
from circuits.sfa import SfaParams, sfa_instance_params, sfa_subckts
from circuits.transistors import TransistorCard, generic_nmos
from compact_model.params import DeviceParams
from netlist_gen.expr import SPICE_OPS, Expr, number
from netlist_gen.ir import (BehavioralCurrent, BehavioralVoltage, Capacitor, Element, Instance,
                            ISource, Model, Netlist, Pwl, Resistor, Subckt, Tran, VSource)
from netlist_gen.names import check_name
from netlist_gen.ngspice import write_ngspice
from netlist_gen.rram import param_name, rram_subckt

SYNAPSE_RRAM = "syn_rram"
NEURON = "lif"
NEURON_WTA = "lif_wta"
NEURON_SFA = "lif_sfa"
NEURON_SFA_WTA = "lif_sfa_wta"
POST_DRIVER = "post_driver"
SFA_CELL = "sfa"
DRIVER_CAPACITANCE = 1e-12  # F, post-driver timer capacitor
X_RESET_END = 0.3  # V, post-driver timer level at which the RESET pulse ends
SYNAPSE_LEAK = 1e9  # ohm, off-state leakage across each synapse's access transistor


class WtaMode(enum.Enum):
    """How long a fire holds the other neurons' membranes at reset."""

    OFF = "off"  # no lateral inhibition
    SPIKE = "spike"  # while the winner's output spike is high
    REFRACTORY = "refractory"  # for the winner's whole refractory period (write sequence)


@dataclass(frozen=True, slots=True, kw_only=True)
class AstdpParams:
    """Voltages and timing of the A-STDP array (see the module docstring)."""

    v_read: float = 0.2  # V, top-electrode level between fires (read)
    v_te_set: float = 2.0  # V, top-electrode level during the SET pulse (the output spike)
    v_te_reset: float = -2.0  # V, top-electrode level during the RESET pulse
    t_reset_delay: float = 1e-6  # s, from the fire to the start of the RESET pulse
    t_reset_pulse: float = 0.3e-6  # s, RESET pulse width
    t_pre: float = 1e-6  # s, presynaptic spike width (gate on)
    t_edge: float = 10e-9  # s, rise/fall time of presynaptic spikes
    v_gate_on: float = 1.8  # V, gate level during a presynaptic spike (sets the SET compliance)
    v_gate_off: float = -2.0  # V, gate level between presynaptic spikes
    v_bulk: float = -2.5  # V, bulk rail of the access transistors
    t_timer_rise: float = 10e-9  # s, charging time constant of the post driver's timer
    v_smooth: float = 1e-3  # V, tanh width of the post driver's timer thresholds
    # s, time constant of the post driver's output edges (a line driver charging the column's
    # capacitance). The behavioural timer alone switches te in ~10 ps; ngspice could not
    # converge a learning episode where dozens of HRS synapses SET on such an edge while their
    # column current fed back into the firing neuron (128x3 slice at I_C 20 uA: timestep too
    # small in every retry), and did with this 1 ns lag. 0: ideal drivers (no lag).
    t_driver_edge: float = 1e-9
    # F, capacitance of each synapse's bottom electrode (drain junction, via) to ground; 0: none
    # (the node is algebraic). Not on by default: 1 fF let 9 of 10 seeded 36x2 off-pattern
    # episodes converge at the first solver setting against 8 of 10 without, but the real
    # 128x3 MNIST slice at I_C 30 uA needed 3 retries with it and none without.
    c_synapse_node: float = 0.0

    def __post_init__(self) -> None:
        for name in ("v_read", "v_te_set", "v_te_reset", "t_reset_delay", "t_reset_pulse",
                     "t_pre", "t_edge", "v_gate_on", "v_gate_off", "v_bulk", "t_timer_rise",
                     "v_smooth", "t_driver_edge", "c_synapse_node"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"AstdpParams.{name} must be finite, got {getattr(self, name)}")
        for name in ("v_read", "v_te_set", "t_reset_delay", "t_reset_pulse", "t_pre", "t_edge",
                     "v_gate_on", "t_timer_rise", "v_smooth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"AstdpParams.{name} must be > 0, got {getattr(self, name)}")
        if not self.v_te_reset < 0:
            raise ValueError("v_te_reset must be < 0 V (RESET polarity)")
        if not self.v_read < self.v_te_set:
            raise ValueError("v_read must be below v_te_set")
        if not self.v_gate_off <= self.v_te_reset:
            raise ValueError("v_gate_off must be <= v_te_reset, or unselected transistors turn on "
                             "during the RESET pulse")
        if not self.v_bulk < min(self.v_gate_off, self.v_te_reset):
            raise ValueError("v_bulk must lie below every node voltage (v_gate_off, v_te_reset)")
        if not 2 * self.t_edge < self.t_pre:
            raise ValueError("t_pre must exceed two edges")
        if not self.c_synapse_node >= 0:
            raise ValueError(f"AstdpParams.c_synapse_node must be >= 0 F, got {self.c_synapse_node}")
        if not 0 <= self.t_driver_edge <= self.t_reset_pulse / 20:
            raise ValueError("t_driver_edge must be at most t_reset_pulse / 20, or the RESET "
                             "pulse never reaches its level")

    def check_neuron(self, neuron: LifParams) -> None:
        """Raise if the neuron's timing does not fit the write sequence."""
        if not self.t_reset_delay >= neuron.t_spike + 20 * self.t_timer_rise:
            raise ValueError("t_reset_delay must exceed the SET pulse (neuron.t_spike) by at "
                             "least 20 t_timer_rise")
        if not neuron.t_refractory >= self.t_reset_delay + self.t_reset_pulse:
            raise ValueError("neuron.t_refractory must cover the write sequence "
                             "(t_reset_delay + t_reset_pulse): write currents must not be "
                             "integrated")

    def driver_tau(self, t_spike: float) -> float:
        """Decay time constant (s) of the post driver's timer (starts at the end of the spike)."""
        return (self.t_reset_delay + self.t_reset_pulse - t_spike) / math.log(1.0 / X_RESET_END)

    def driver_levels(self, t_spike: float) -> tuple[float, float]:
        """(start, end) timer levels (V) of the RESET window."""
        start = math.exp(-(self.t_reset_delay - t_spike) / self.driver_tau(t_spike))
        return start, X_RESET_END


def default_astdp_neuron(params: AstdpParams = AstdpParams()) -> LifParams:
    """A neuron sized for the array's read currents at v_read = 0.2 V (~7.5 uA per LRS synapse
    with a 1 nm gap, transistor drop included; ~0.2 uA per HRS synapse): tau_mem = 1 us,
    threshold 0.6 V, so one LRS input (I R ~ 0.75 V) does not reach threshold within a 1 us
    presynaptic spike and two do (in ~0.5 us); 0.2 us spike (= SET pulse); refractory period
    covering the write sequence plus 0.2 us; 10 ns internal time constants
    (``layer_max_step`` = 4 ns)."""
    return LifParams(c_mem=10e-12, r_leak=100e3, v_th=0.6, v_reset=0.0, t_spike=0.2e-6,
                     t_refractory=params.t_reset_delay + params.t_reset_pulse + 0.2e-6,
                     t_reset=10e-9, t_timer_rise=10e-9)


def default_astdp_sfa() -> SfaParams:
    """SFA cell matched to ``default_astdp_neuron``: V_TH = 0.25 V + 10 v(div), ~0.61 V at a
    2 nm gap, rising by ~40, 25, 20, 15 mV... with the first fires."""
    return SfaParams(v_offset=0.25)


def layer_max_step(neuron: LifParams, params: AstdpParams) -> float:
    """Largest transient step (s) that resolves the neurons' and drivers' timers.

    The trapezoidal rule rings on a decay faster than half the step; these timers are the
    fastest behavioural time constants of the layer.
    """
    return min(neuron.max_step, 0.4 * params.t_timer_rise)


def post_driver(name: str, params: AstdpParams, neuron: LifParams, *, writes: bool = True) -> Subckt:
    """Post-synaptic waveform generator; ports (spike, te).

    te = v_read, v_te_set while the spike is high, v_te_reset from ``t_reset_delay`` after the
    fire for ``t_reset_pulse``, each edge a first-order lag of ``t_driver_edge``. With
    ``writes=False`` (inference, plasticity frozen) the write drivers are gated off and te stays
    at v_read. An RC timer (node ``tmr``) charges during the spike and decays afterwards; the
    RESET window is the band of timer levels ``driver_levels``, blanked while the spike is high
    (the timer passes that band on its way up).
    """
    check_name(name, "post driver name")
    params.check_neuron(neuron)
    p, w = params, params.v_smooth
    spike, tmr = Expr("v(spike)"), Expr("v(tmr)")
    half = 0.5 * neuron.v_spike
    w_spike = 0.01 * neuron.v_spike
    on = smooth_step(spike - half, w_spike)
    blank = smooth_step(spike - 0.25 * neuron.v_spike, w_spike)
    start, end = p.driver_levels(neuron.t_spike)
    window = smooth_step(start - tmr, w) * smooth_step(tmr - end, w) * (1.0 - blank)
    te = p.v_read + (p.v_te_set - p.v_read) * on + (p.v_te_reset - p.v_read) * window
    timer = (
        BehavioralCurrent("timer", "0", "tmr",
                          (DRIVER_CAPACITANCE / p.t_timer_rise) * (1.0 - tmr) * on),
        Capacitor("tmr", "tmr", "0", DRIVER_CAPACITANCE, ic=0.0),
        Resistor("tmr", "tmr", "0", p.driver_tau(neuron.t_spike) / DRIVER_CAPACITANCE),
    )
    if not writes:
        return Subckt(name=name, ports=("spike", "te"),
                      elements=(*timer, BehavioralVoltage("te", "te", "0", Expr(number(p.v_read)))))
    edge = _lagged("te", te, p.t_driver_edge, p.v_read, level_node="level", lag_node="lag", slew="slew")
    return Subckt(name=name, ports=("spike", "te"), elements=(*timer, *edge))


def _lagged(out: str, level: Expr, t_edge: float, v_start: float, *, level_node: str, lag_node: str,
            slew: str) -> tuple[Element, ...]:
    """Source ``out`` (node and element name) following ``level`` through a first-order RC lag
    of ``t_edge`` starting at ``v_start`` (0: at once). An ideal buffer copies the lag onto
    ``out``, so what ``out`` drives does not load the edge."""
    if t_edge == 0:
        return (BehavioralVoltage(out, out, "0", level),)
    return (BehavioralVoltage(level_node, level_node, "0", level),
            Resistor(slew, level_node, lag_node, t_edge / DRIVER_CAPACITANCE),
            Capacitor(slew, lag_node, "0", DRIVER_CAPACITANCE, ic=v_start),
            BehavioralVoltage(out, out, "0", Expr(f"v({lag_node})")))


def pre_spike_pwl(times: Sequence[float], params: AstdpParams) -> Pwl:
    """Gate waveform of one input: a ``t_pre``-wide pulse (edges ``t_edge``) at each time (s).

    Times must be >= 0 and at least ``t_pre`` apart.
    """
    p = params
    ts: list[float] = [0.0]
    vs: list[float] = [p.v_gate_off]
    last_end = -math.inf
    for t in sorted(float(x) for x in times):
        if t < 0 or not math.isfinite(t):
            raise ValueError(f"spike time {t} must be finite and >= 0 s")
        if t < last_end:
            raise ValueError(f"spike at {t} s overlaps the previous one (width {p.t_pre} s)")
        ts += [t, t + p.t_edge, t + p.t_pre - p.t_edge, t + p.t_pre]
        vs += [p.v_gate_off, p.v_gate_on, p.v_gate_on, p.v_gate_off]
        last_end = t + p.t_pre
    if len(ts) > 1 and ts[1] == 0.0:
        ts, vs = ts[1:], vs[1:]
    return Pwl(tuple(ts), tuple(vs))


@dataclass(frozen=True, slots=True, kw_only=True)
class AstdpLayer:
    """Netlist pieces of an A-STDP layer; the caller adds the presynaptic sources on
    ``pre_nodes`` (or uses ``astdp_netlist``)."""

    n_inputs: int
    n_neurons: int
    subckts: tuple[Subckt, ...]  # definitions, dependencies first
    models: tuple[Model, ...]  # transistor model cards (top level)
    elements: tuple[Element, ...]  # array, neurons, drivers, SFA cells, supplies
    pre_nodes: tuple[str, ...]  # gate line of each input
    input_nodes: tuple[str, ...]  # virtual-ground input (column line) of each neuron
    output_nodes: tuple[str, ...]  # spike output of each neuron
    te_nodes: tuple[str, ...]  # top-electrode line of each column
    vth_nodes: tuple[str, ...] = field(default=())  # threshold of each neuron (SFA only)

    def synapse_gap_vector(self, i: int, j: int) -> str:
        """Result vector of synapse (i, j)'s gap in nm (``gap_from_state_node`` -> m)."""
        return f"v(xsyn_{i}_{j}.gap)"

    def membrane_vector(self, j: int) -> str:
        return f"v(xneuron_{j}.mem)"

    def sfa_gap_vector(self, j: int) -> str:
        return f"v(xsfa_{j}.xr.gap)"


def _neuron_subckt_name(sfa: bool, wta: bool) -> str:
    return {(False, False): NEURON, (False, True): NEURON_WTA, (True, False): NEURON_SFA,
            (True, True): NEURON_SFA_WTA}[(sfa, wta)]


def astdp_layer(n_inputs: int, n_neurons: int, *, device: DeviceParams,
                gaps0: Sequence[Sequence[float]] | np.ndarray, neuron: LifParams | None = None,
                params: AstdpParams = AstdpParams(), wta: WtaMode = WtaMode.REFRACTORY,
                sfa: bool = False, sfa_params: SfaParams | None = None,
                sfa_gaps0: float | Sequence[float] = 2.0e-9,
                transistor: TransistorCard | None = None, writes: bool = True) -> AstdpLayer:
    """Build an n_inputs x n_neurons A-STDP layer.

    ``gaps0[i][j]`` (m) is synapse (i, j)'s initial gap. ``neuron`` defaults to
    ``default_astdp_neuron(params)``. ``wta`` picks the lateral inhibition (default: a fire
    holds the other neurons for its refractory period, so no second neuron can fire, and write
    its column, on the same presynaptic spikes). ``sfa`` adds one SFA cell per neuron
    (``sfa_params`` default ``default_astdp_sfa()``; ``sfa_gaps0``: one gap or one per neuron, m).
    ``writes=False`` gates the write drivers off (synapse and SFA pulses): an inference
    netlist whose devices are only read. ``transistor`` defaults to ``generic_nmos()`` (level 1,
    W/L = 2; with the bulk at -2.5 V its body effect puts V_T near 1.1 V, so v_gate_on = 1.8 V
    gives a ~55 uA SET compliance).
    """
    if n_inputs < 1 or n_neurons < 1:
        raise ValueError("need at least one input and one neuron")
    gaps = np.asarray(gaps0, dtype=float)
    if gaps.shape != (n_inputs, n_neurons):
        raise ValueError(f"gaps0 has shape {gaps.shape}, expected ({n_inputs}, {n_neurons})")
    if np.any(gaps < device.g_min) or np.any(gaps > device.g_max):
        raise ValueError(f"gaps0 must lie in [{device.g_min}, {device.g_max}] m")
    neuron = neuron if neuron is not None else default_astdp_neuron(params)
    params.check_neuron(neuron)
    sfa_p = sfa_params if sfa_params is not None else default_astdp_sfa()
    card = transistor if transistor is not None else generic_nmos()
    inhibit = wta is not WtaMode.OFF and n_neurons > 1
    sfa_g = np.broadcast_to(np.asarray(sfa_gaps0, dtype=float), (n_neurons,))

    neuron_name = _neuron_subckt_name(sfa, inhibit)
    subckts: list[Subckt] = [rram_subckt(device, device.g_max, name=SYNAPSE_RRAM)]
    if sfa:
        subckts += list(sfa_subckts(SFA_CELL, device, float(sfa_g[0]), sfa_p, writes=writes))
    subckts += [lif_neuron(neuron_name, neuron, threshold_from_node=sfa, inhibit=inhibit,
                           refractory_output=inhibit and wta is WtaMode.REFRACTORY),
                post_driver(POST_DRIVER, params, neuron, writes=writes)]

    pre = tuple(f"pre_{i}" for i in range(n_inputs))
    col = tuple(f"col_{j}" for j in range(n_neurons))
    post = tuple(f"post_{j}" for j in range(n_neurons))
    te = tuple(f"te_{j}" for j in range(n_neurons))
    vth = tuple(f"vth_{j}" for j in range(n_neurons)) if sfa else ()
    # The signal each neuron broadcasts to the others' inh ports.
    lateral = (tuple(f"busy_{j}" for j in range(n_neurons)) if wta is WtaMode.REFRACTORY
               else post)
    elements: list[Element] = [VSource("bulk", "vbulk", "0", params.v_bulk)]
    for i in range(n_inputs):
        for j in range(n_neurons):
            be = f"be_{i}_{j}"
            elements.append(Instance(f"syn_{i}_{j}", SYNAPSE_RRAM, (te[j], be),
                                     {param_name("gap0"): float(gaps[i, j])}))
            elements.append(card.element(f"syn_{i}_{j}", be, pre[i], col[j], "vbulk"))
            # Off-state leakage of the access transistor: keeps the bottom electrode from
            # floating while the gate is off (ngspice's Newton otherwise wanders there and the
            # step collapses); 0.2 nA per synapse at the read level, far below the read currents.
            elements.append(Resistor(f"leak_{i}_{j}", be, col[j], SYNAPSE_LEAK))
            if params.c_synapse_node > 0:
                elements.append(Capacitor(f"be_{i}_{j}", be, "0", params.c_synapse_node, ic=0.0))
    w_spike = 0.01 * neuron.v_spike
    for j in range(n_neurons):
        nodes: tuple[str, ...] = (col[j], post[j])
        if sfa:
            nodes += (vth[j],)
            elements.append(Instance(f"sfa_{j}", SFA_CELL, (post[j], vth[j]),
                                     sfa_instance_params(device, float(sfa_g[j]), sfa_p)))
        if inhibit:
            nodes += (f"inh_{j}",)
            # OR of the other neurons' signals, written 1 - prod(1 - s).
            keep = Expr.of(1.0)
            for k in range(n_neurons):
                if k != j:
                    keep = keep * (1.0 - smooth_step(
                        Expr(f"v({lateral[k]})") - 0.5 * neuron.v_spike, w_spike))
            elements.append(BehavioralVoltage(f"inh_{j}", f"inh_{j}", "0",
                                              neuron.v_spike * (1.0 - keep)))
            if wta is WtaMode.REFRACTORY:
                nodes += (lateral[j],)
        elements.append(Instance(f"neuron_{j}", neuron_name, nodes))
        elements.append(Instance(f"drv_{j}", POST_DRIVER, (post[j], te[j])))
    return AstdpLayer(n_inputs=n_inputs, n_neurons=n_neurons, subckts=tuple(subckts),
                      models=card.models, elements=tuple(elements), pre_nodes=pre,
                      input_nodes=col, output_nodes=post, te_nodes=te, vth_nodes=vth)


RESET_PHASE_NODE = "rst_phase"
RESET_PHASE_WIDTH = 0.05  # V, tanh width of the RESET-pulse detector on the top electrodes


def reset_phase_elements(layer: AstdpLayer, params: AstdpParams) -> tuple[Element, ...]:
    """Node ``rst_phase``: 1 V while any column's top electrode is in its RESET pulse (below
    the midpoint of v_read and v_te_reset), 0 V otherwise; an OR written 1 - prod(1 - s).

    The detector switches within ~0.1 ns of a top-electrode edge; its output reaches the gated
    rows through a ``t_driver_edge`` lag (the row drivers' own slew), so their gates open on a
    ns edge, not a step that ngspice had to cut to femtoseconds."""
    mid = 0.5 * (params.v_read + params.v_te_reset)
    keep = Expr.of(1.0)
    for te in layer.te_nodes:
        keep = keep * (1.0 - smooth_step(mid - Expr(f"v({te})"), RESET_PHASE_WIDTH))
    return _lagged(RESET_PHASE_NODE, 1.0 - keep, params.t_driver_edge, 0.0, level_node=f"{RESET_PHASE_NODE}_detect",
                   lag_node=f"{RESET_PHASE_NODE}_lag", slew=f"{RESET_PHASE_NODE}_slew")


def astdp_netlist(layer: AstdpLayer, pre_spike_times: Sequence[Sequence[float]], *,
                  params: AstdpParams, t_stop: float, max_step: float,
                  extra_elements: Sequence[Element] = (), title: str = "A-STDP layer",
                  header: Sequence[str] = (), reset_gated: Sequence[bool] | None = None) -> Netlist:
    """A complete transient netlist: the layer, one gate source per input, ``extra_elements``
    (e.g. teacher currents into ``layer.input_nodes``).

    ``reset_gated`` (one flag per input) marks the inputs whose gates the row driver also opens
    during every RESET pulse (off-pattern depression: the digital side knows which inputs lie
    outside the presented pattern). Such a gate is the larger of its spike waveform (node
    ``spk_i``) and v_gate_on while ``rst_phase`` is high."""
    if len(pre_spike_times) != layer.n_inputs:
        raise ValueError(f"need spike times for {layer.n_inputs} inputs, got {len(pre_spike_times)}")
    gated = np.zeros(layer.n_inputs, dtype=bool) if reset_gated is None else np.asarray(reset_gated, dtype=bool)
    if gated.shape != (layer.n_inputs,):
        raise ValueError(f"reset_gated must have one flag per input ({layer.n_inputs},), got shape {gated.shape}")
    sources: list[Element] = []
    for i, (node, times) in enumerate(zip(layer.pre_nodes, pre_spike_times)):
        if not gated[i]:
            sources.append(VSource(f"pre_{i}", node, "0", params.v_gate_off, pre_spike_pwl(times, params)))
            continue
        spk = f"spk_{i}"
        sources.append(VSource(f"spk_{i}", spk, "0", params.v_gate_off, pre_spike_pwl(times, params)))
        during_reset = params.v_gate_off + (params.v_gate_on - params.v_gate_off) * Expr(f"v({RESET_PHASE_NODE})")
        sources.append(BehavioralVoltage(f"pre_{i}", node, "0", SPICE_OPS.maximum(Expr(f"v({spk})"), during_reset)))
    if gated.any():
        sources.extend(reset_phase_elements(layer, params))
    return Netlist(title=title, elements=layer.elements + tuple(sources) + tuple(extra_elements),
                   subckts=layer.subckts, models=layer.models,
                   analysis=Tran(max_step, t_stop, max_step=max_step, uic=True),
                   header=tuple(header))


def astdp_netlist_text(*, n_inputs: int, n_neurons: int, device: DeviceParams,
                       gaps0: Sequence[Sequence[float]] | np.ndarray,
                       pre_spike_times: Sequence[Sequence[float]], t_stop: float,
                       command_line: str, neuron: LifParams | None = None,
                       params: AstdpParams = AstdpParams(),
                       wta: WtaMode = WtaMode.REFRACTORY, sfa: bool = False,
                       sfa_params: SfaParams | None = None,
                       sfa_gaps0: float | Sequence[float] = 2.0e-9,
                       teacher_currents: Sequence[float] | None = None,
                       max_step: float | None = None) -> str:
    """ngspice deck of an A-STDP layer with presynaptic spike trains, headed by the generating
    command and every parameter. ``teacher_currents`` (A, one per neuron, optional) adds a
    constant current into each neuron's input (supervision / forcing fires)."""
    neuron = neuron if neuron is not None else default_astdp_neuron(params)
    layer = astdp_layer(n_inputs, n_neurons, device=device, gaps0=gaps0, neuron=neuron,
                        params=params, wta=wta, sfa=sfa, sfa_params=sfa_params,
                        sfa_gaps0=sfa_gaps0)
    step = max_step if max_step is not None else layer_max_step(neuron, params)
    extra: list[Element] = []
    if teacher_currents is not None:
        if len(teacher_currents) != n_neurons:
            raise ValueError(f"need {n_neurons} teacher currents, got {len(teacher_currents)}")
        extra = [ISource(f"teach_{j}", "0", node, float(i_t))
                 for j, (node, i_t) in enumerate(zip(layer.input_nodes, teacher_currents))
                 if i_t != 0.0]
    gaps = np.asarray(gaps0, dtype=float)
    header = [
        f"generated by: {command_line}",
        f"layer: {n_inputs} inputs x {n_neurons} neurons, wta={wta.value}, sfa={sfa}, "
        f"t_stop={t_stop!r} s, max_step={step!r} s",
        f"astdp: {params!r}",
        f"neuron: {neuron!r}",
        f"device: {device!r}",
        "gaps0 (m, rows = inputs): " + "; ".join(" ".join(repr(float(g)) for g in row)
                                                 for row in gaps),
        "pre spike times (s): " + "; ".join(" ".join(repr(float(t)) for t in times) or "-"
                                            for times in pre_spike_times),
    ]
    if sfa:
        header += [f"sfa: {sfa_params if sfa_params is not None else default_astdp_sfa()!r}",
                   f"sfa gaps0 (m): {sfa_gaps0!r}"]
    if teacher_currents is not None:
        header.append(f"teacher currents (A): {list(map(float, teacher_currents))!r}")
    netlist = astdp_netlist(layer, pre_spike_times, params=params, t_stop=t_stop, max_step=step,
                            extra_elements=extra, header=header,
                            title=f"rramcosim A-STDP layer {n_inputs}x{n_neurons}")
    return write_ngspice(netlist)


def quote_command(argv: Sequence[str]) -> str:
    """A shell-quoted command line for ``command_line`` (e.g. from ``sys.argv``)."""
    return shlex.join(argv)
