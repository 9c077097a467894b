"""Leaky integrate-and-fire (LIF) neuron as a SPICE subcircuit built from smooth behavioural parts.

Topology (nodes internal to the subcircuit except the ports)::

    in ──(Vsense, 0 V)── 0        virtual-ground current input: ``in`` is held at 0 V and the
                                  current flowing into it is copied onto the membrane
    0 ──(Bin: i(vsense) * open)──> mem ──C_mem── 0      membrane (starts at v_reset)
                                   mem ──R_leak── 0     leak to 0 V (resting potential)
                                   mem ──(Breset)── 0   reset switch: (1 - open) (v(mem) - v_reset) / r_reset
    0 ──(Btimer)──> tmr ──C_tmr── 0, tmr ──R_tmr── 0    refractory one-shot (RC timer, 0..1 V)
    out  = v_spike * S(v(tmr) - x_spike)                spike output (B-source, low impedance)
    busy = v_spike * S(v(tmr) - X_RELEASE)              optional: high while refractory

``S(u) = (1 + tanh(u / v_smooth)) / 2`` is a smooth step: every element is a smooth function of
the node voltages (no breakpoints, no hard switches), which keeps ngspice's Newton iteration and
time-step control out of trouble.

Comparator and one-shot: the timer charges (time constant ``t_timer_rise``) toward 1 V while
``S(v(mem) - V_TH')`` is high and decays through R_tmr C_tmr otherwise. The comparator has
hysteresis: once the timer passes X_LATCH its threshold V_TH' drops from V_TH to
v_low = (V_TH + v_reset) / 2, so a fire, once started, always runs to completion.

Reset switch (``open`` = 1 - closed, an OR written as a product so it stays in [0, 1]):
closed while the timer is above X_HI (the reset starts only once the timer is nearly charged,
so the one-shot always starts from the same level), or while the timer is above X_RELEASE and
the membrane below v_low (hysteresis: it holds the reset membrane until the timer has decayed),
or, with the ``inh`` port, while v(inh) > v_spike / 2 (winner-take-all: another neuron resets
this one). While it is closed the input current is also disconnected from the membrane, so the
membrane sits exactly at v_reset whatever the input (e.g. synapse write currents).

Timing, from the moment the membrane reaches V_TH: the output rises within ~3 t_timer_rise and
stays high for ``t_spike``; the membrane is held at ``v_reset`` until ``t_refractory`` after
the crossing (the spike is part of the refractory period). The timer's decay constant and
output level are computed from these (``LifParams.timer_tau``, ``timer_spike_level``). For a
constant input current I the inter-spike interval is therefore the analytic LIF interval plus
the refractory period, ``t_refractory + R C ln((I R - v_reset) / (I R - V_TH))``, and there are
no spikes for I R < V_TH (``lif_interval``).

Time step: the trapezoidal rule rings on decays faster than half a step, so simulate with
``max_step <= LifParams.max_step`` (0.4 min(t_timer_rise, t_reset), 2 ns by default); small
capacitors on internal nodes are avoided for the same reason.

The threshold is the constant ``v_th`` or, with ``threshold_from_node=True``, the voltage of
the port ``vth`` (read by a behavioural source, no current drawn), e.g. an SFA cell's output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netlist_gen.expr import SPICE_OPS, Expr
from netlist_gen.ir import BehavioralCurrent, BehavioralVoltage, Capacitor, Resistor, Subckt, VSource
from netlist_gen.names import check_name

X_HI = 0.95  # V, timer level at which the membrane reset starts
X_RELEASE = 0.4  # V, timer level at which the reset releases (end of the refractory period)
X_LATCH = 0.5  # V, timer level above which the comparator's threshold is lowered (hysteresis)
TIMER_CAPACITANCE = 1e-12  # F, capacitor of the refractory timer node
SENSE_SOURCE = "sense"  # name of the input's 0 V sense source (ngspice: vsense)


@dataclass(frozen=True, slots=True, kw_only=True)
class LifParams:
    """Leaky integrate-and-fire neuron. Defaults: tau_mem = 1 us, threshold 0.5 V, 1 us refractory."""

    c_mem: float = 1e-12  # F, membrane capacitance
    r_leak: float = 1e6  # ohm, leak resistance (membrane time constant r_leak * c_mem)
    v_th: float = 0.5  # V, firing threshold (ignored when the threshold comes from a node)
    v_reset: float = 0.0  # V, membrane voltage after a fire and during the refractory period
    t_refractory: float = 1e-6  # s, membrane hold time from the threshold crossing (incl. spike)
    v_spike: float = 1.0  # V, output spike amplitude
    t_spike: float = 0.2e-6  # s, output spike width (< t_refractory)
    t_reset: float = 5e-9  # s, membrane discharge time constant while the reset switch is closed
    t_timer_rise: float = 5e-9  # s, charging time constant of the refractory timer
    v_smooth: float = 1e-3  # V, tanh width of the comparator and the timer thresholds

    def __post_init__(self) -> None:
        for name in ("c_mem", "r_leak", "v_th", "v_reset", "t_refractory", "v_spike", "t_spike",
                     "t_reset", "t_timer_rise", "v_smooth"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"LifParams.{name} must be finite, got {value}")
        for name in ("c_mem", "r_leak", "t_refractory", "v_spike", "t_spike", "t_reset",
                     "t_timer_rise", "v_smooth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LifParams.{name} must be > 0, got {getattr(self, name)}")
        if self.v_th <= self.v_reset:
            raise ValueError(f"v_th ({self.v_th} V) must exceed v_reset ({self.v_reset} V)")
        if not self.t_spike <= 0.9 * self.t_refractory:
            raise ValueError(f"t_spike ({self.t_spike} s) must be <= 0.9 t_refractory "
                             f"({self.t_refractory} s): the spike lies inside the refractory period")
        if not self.t_spike >= 10 * self.t_timer_rise:
            raise ValueError("t_spike must be >= 10 t_timer_rise (the timer must charge within "
                             "a small fraction of the spike)")
        if not self.t_spike >= 2 * self.timer_rise_time:
            raise ValueError("t_spike must be >= twice the timer's rise (3 t_timer_rise + "
                             "0.7 t_reset)")
        if not self.t_reset <= 0.02 * self.t_refractory:
            raise ValueError("t_reset must be <= 0.02 t_refractory (the membrane must be fully "
                             "reset well within the refractory period)")
        if not self.v_smooth <= 0.02 * (self.v_th - self.v_reset):
            raise ValueError("v_smooth must be <= 2 % of v_th - v_reset")

    @property
    def tau_mem(self) -> float:
        """Membrane time constant R_leak C_mem (s)."""
        return self.r_leak * self.c_mem

    @property
    def max_step(self) -> float:
        """Largest transient time step (s) that resolves the internal time constants."""
        return 0.4 * min(self.t_timer_rise, self.t_reset)

    @property
    def r_reset(self) -> float:
        """On-resistance of the reset switch (ohm)."""
        return self.t_reset / self.c_mem

    @property
    def timer_peak(self) -> float:
        """Timer level (V) at which the charging stops: the timer passes X_HI, the reset then
        pulls the membrane from V_TH to the comparator's lowered threshold (half way to v_reset)
        in t_reset ln 2, while the timer keeps charging."""
        return 1.0 - (1.0 - X_HI) * math.exp(-math.log(2.0) * self.t_reset / self.t_timer_rise)

    @property
    def timer_rise_time(self) -> float:
        """Time (s) from the threshold crossing to the timer's peak: the charge to X_HI plus
        the membrane's discharge to the lowered comparator threshold."""
        return self.t_timer_rise * math.log(1.0 / (1.0 - X_HI)) + self.t_reset * math.log(2.0)

    @property
    def timer_tau(self) -> float:
        """Decay time constant of the refractory timer (s), chosen so that the rise and the
        decay from the peak to X_RELEASE last t_refractory."""
        return (self.t_refractory - self.timer_rise_time) / math.log(self.timer_peak / X_RELEASE)

    @property
    def timer_spike_level(self) -> float:
        """Timer level (V) below which the output spike ends."""
        return self.timer_peak * math.exp(-(self.t_spike - self.timer_rise_time) / self.timer_tau)


def lif_interval(params: LifParams, current: float, v_th: float | None = None) -> float:
    """Analytic inter-spike interval (s) for a constant input current (A); inf if it never fires.

    t = t_refractory + R C ln((I R - v_reset) / (I R - V_TH)).
    """
    v_th = params.v_th if v_th is None else v_th
    drive = current * params.r_leak
    if drive <= v_th:
        return math.inf
    return params.t_refractory + params.tau_mem * math.log((drive - params.v_reset) / (drive - v_th))


def smooth_step(x: Expr, width: float) -> Expr:
    """Smooth step 0 -> 1 around x = 0 over about +-2 width."""
    return 0.5 * (1.0 + SPICE_OPS.tanh(x / width))


def lif_neuron(name: str, params: LifParams, *, threshold_from_node: bool = False,
               inhibit: bool = False, refractory_output: bool = False) -> Subckt:
    """LIF neuron subcircuit.

    Ports: ``in`` (current input, held at 0 V), ``out`` (spike output, 0 or ``v_spike`` V), then
    ``vth`` (threshold voltage input) if ``threshold_from_node``, then ``inh`` (reset while
    v(inh) > v_spike / 2, for winner-take-all) if ``inhibit``, then ``busy`` (``v_spike`` during
    the whole refractory period, 0 otherwise) if ``refractory_output``. Internal nodes: ``mem``
    (membrane) and ``tmr`` (refractory timer), probed as ``v(x<instance>.mem)``.
    """
    check_name(name, "neuron subcircuit name")
    p = params
    mem, tmr = Expr("v(mem)"), Expr("v(tmr)")
    vth = Expr("v(vth)") if threshold_from_node else Expr.of(p.v_th)
    w = p.v_smooth
    v_low = 0.5 * (vth + p.v_reset)
    # Comparator with hysteresis: once the timer is past X_LATCH its threshold drops to v_low, so
    # the timer keeps charging until the reset has pulled the membrane half way down.
    fire = smooth_step(mem - vth + (vth - v_low) * smooth_step(tmr - X_LATCH, w), w)
    # Reset switch: closes at X_HI; stays closed, with the membrane below v_low, until the timer
    # decays past X_RELEASE. An OR written 1 - prod(1 - c), so it stays within [0, 1].
    keep_open = ((1.0 - smooth_step(tmr - X_HI, w))
                 * (1.0 - smooth_step(tmr - X_RELEASE, w) * smooth_step(v_low - mem, w)))
    if inhibit:
        keep_open = keep_open * (1.0 - smooth_step(Expr("v(inh)") - 0.5 * p.v_spike, w))
    hold = 1.0 - keep_open
    g_timer = TIMER_CAPACITANCE / p.t_timer_rise
    elements = (
        VSource(SENSE_SOURCE, "in", "0", 0.0),
        # The input current reaches the membrane only while the reset switch is open.
        BehavioralCurrent("in", "0", "mem", Expr(f"i(v{SENSE_SOURCE})") * keep_open),
        Capacitor("mem", "mem", "0", p.c_mem, ic=p.v_reset),
        Resistor("leak", "mem", "0", p.r_leak),
        BehavioralCurrent("reset", "mem", "0", (1.0 / p.r_reset) * hold * (mem - p.v_reset)),
        BehavioralCurrent("timer", "0", "tmr", g_timer * (1.0 - tmr) * fire),
        Capacitor("tmr", "tmr", "0", TIMER_CAPACITANCE, ic=0.0),
        Resistor("tmr", "tmr", "0", p.timer_tau / TIMER_CAPACITANCE),
        BehavioralVoltage("out", "out", "0", p.v_spike * smooth_step(tmr - p.timer_spike_level, w)),
    )
    if refractory_output:
        elements += (BehavioralVoltage("busy", "busy", "0",
                                       p.v_spike * smooth_step(tmr - X_RELEASE, w)),)
    ports = (("in", "out") + (("vth",) if threshold_from_node else ()) + (("inh",) if inhibit else ())
             + (("busy",) if refractory_output else ()))
    return Subckt(name=name, ports=ports, elements=elements)
