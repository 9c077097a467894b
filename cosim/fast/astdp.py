"""The A-STDP layer (1T1R synapses, LIF neurons, winner-take-all, SFA) as an event-driven model.

The same circuit as ``circuits.astdp`` and the same device equations, solved piecewise in
closed form instead of by a transient:

- **Reads.** Between events every presynaptic gate is either on or off, so each neuron's input
  current is constant: the sum of its on synapses' 1T1R read currents at ``v_read`` (RRAM in
  series with the access transistor, whose I-V is characterised once in ngspice), plus the
  0.2 nA off-leakage of the others (``circuits.astdp.SYNAPSE_LEAK``). The membrane then follows
  the LIF exponential exactly and its threshold crossing time is analytic.
- **Fires.** A crossing fires the neuron: the output spike (= SET pulse) rises after the
  one-shot's latency (the refractory timer charging to its spike level), the membrane is held at
  v_reset for ``t_refractory``; with winner-take-all the other membranes are held for the
  winner's refractory period (REFRACTORY) or its spike (SPIKE).
- **Writes.** Synapse (i, j) is SET for the time its gate is on during neuron j's SET pulse and
  RESET for the time it is on during the RESET pulse. Under a constant drive the gap obeys an
  autonomous ODE, so the gap after a pulse of any length from any start is a time shift along
  one trajectory: ``PulseResponse`` integrates the compact model once (``compact_model.simulate``
  with the tabulated transistor in series) and interpolates. The SFA cell's partial SET (v_prog
  through R_load) is one more such trajectory; its threshold is ``circuits.sfa.sfa_threshold``.

Simplifications (measured against ngspice by ``cosim.fast.parity``): gate edges are taken as
on from 85 % of a rising edge to 15 % of a falling one; the driver's smooth transitions are
steps; the transistor's source (the neuron's virtual ground) is at exactly 0 V.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from circuits.astdp import SYNAPSE_LEAK, WtaMode, default_astdp_sfa
from circuits.neuron import X_HI, X_RELEASE, LifParams
from circuits.sfa import SfaParams, sfa_threshold
from circuits.transistors import TransistorCard, generic_nmos
from compact_model import equations as eq
from compact_model.access import SeriesResistor
from compact_model.simulate import simulate
from compact_model.variability import apply_c2c
from cosim.astdp_stage import AstdpStageConfig, LayerState
from cosim.backends import osdi_cache_dir
from cosim.fast.cells import TransistorTable, series_current, transistor_table

_GATE_ON_FRACTION = 0.85  # of an edge: the access transistor conducts from here (V_G ~ V_T + margin)
_CACHE_VERSION = 1  # bump when the characterisation changes
_TRAJECTORY_POINTS = 2000  # samples of a pulse trajectory (log-spaced in time)


@dataclass(frozen=True, slots=True)
class TabulatedAccess:
    """``compact_model`` series element: the tabulated transistor between device and 0 V."""

    table: TransistorTable

    def device_voltage(self, v_applied: np.ndarray, gap: np.ndarray, p: Any) -> np.ndarray:
        v = np.broadcast_to(np.asarray(v_applied, dtype=float), np.shape(gap))
        i = series_current(lambda u: eq.current(u, gap, p, eq.NUMPY_OPS), self.table, v)
        return eq.voltage_at_current(i, gap, p, eq.NUMPY_OPS)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PulseResponse:
    """Gap after a constant-drive pulse of any length from any gap: a shift along one
    trajectory (the drive's ODE is autonomous). Monotone: SET lowers the gap, RESET raises it."""

    time: np.ndarray  # s, increasing from 0
    gap: np.ndarray  # m, the trajectory, strictly monotone
    energy: np.ndarray | None = None  # J, drawn from the driver from time 0 (cumulative), if known

    @classmethod
    def integrate(cls, device: Any, v_applied: float, gap0: float, duration: float,
                  series: Any) -> "PulseResponse":
        t = np.concatenate([[0.0], np.geomspace(1e-13, duration, _TRAJECTORY_POINTS)])
        traj = simulate(device, t, np.full(t.size, v_applied), gap0, series=series)
        gap = np.asarray(traj.gap, dtype=float).ravel()
        # Keep the strictly monotone part (the tail settles at the compliance-limited gap).
        step = np.diff(gap)
        sign = -1.0 if gap[-1] < gap[0] else 1.0
        keep = np.concatenate([[True], sign * step > 1e-18])
        return cls(time=t[keep], gap=gap[keep])

    def _time_at(self, gap: np.ndarray) -> np.ndarray:
        """Where on the trajectory (s) a device at ``gap`` already is."""
        if self.gap[-1] > self.gap[0]:
            return np.interp(gap, self.gap, self.time)
        return np.interp(gap, self.gap[::-1], self.time[::-1])

    def after(self, gap: np.ndarray, duration: np.ndarray) -> np.ndarray:
        """Gap (m) after ``duration`` (s, >= 0) of this drive, starting from ``gap``."""
        gap = np.asarray(gap, dtype=float)
        duration = np.asarray(duration, dtype=float)
        rising = self.gap[-1] > self.gap[0]
        start = self._time_at(gap)
        out = np.interp(start + duration, self.time, self.gap)
        # Beyond the trajectory's end (a SET below its compliance-limited gap) nothing moves:
        # a pulse never drives the gap against its own direction.
        out = np.maximum(out, gap) if rising else np.minimum(out, gap)
        return np.where(duration > 0, out, gap)

    def with_energy(self, v_applied: float, current: Any) -> "PulseResponse":
        """This trajectory with its cumulative driver energy |v_applied * I(gap(t))| dt (J);
        ``current(gap)`` is the drive's current (A) at each gap (m)."""
        power = np.abs(v_applied * np.asarray(current(self.gap), dtype=float))
        steps = 0.5 * (power[1:] + power[:-1]) * np.diff(self.time)
        return PulseResponse(time=self.time, gap=self.gap, energy=np.concatenate([[0.0], np.cumsum(steps)]))

    def power_at(self, gap: np.ndarray) -> np.ndarray:
        """Power (W) the driver delivers to a device held at ``gap`` (a pulse that does not
        switch it): the slope of the cumulative energy at that point of the trajectory."""
        if self.energy is None:
            raise ValueError("this PulseResponse carries no energy table (use with_energy)")
        slope = np.diff(self.energy) / np.diff(self.time)
        mid = 0.5 * (self.time[1:] + self.time[:-1])
        return np.interp(self._time_at(np.asarray(gap, dtype=float)), mid, slope)

    def energy_of(self, gap: np.ndarray, duration: np.ndarray) -> np.ndarray:
        """Energy (J) the driver delivers during ``duration`` (s) of this drive from ``gap``: the
        difference of the cumulative energy along the trajectory, as for ``after``. Past the
        trajectory's end (compliance-limited) the last sampled power keeps flowing."""
        if self.energy is None:
            raise ValueError("this PulseResponse carries no energy table (use with_energy)")
        duration = np.asarray(duration, dtype=float)
        start = self._time_at(np.asarray(gap, dtype=float))
        stop = start + duration
        t_end = float(self.time[-1])
        tail_power = (self.energy[-1] - self.energy[-2]) / (self.time[-1] - self.time[-2])
        inside = np.interp(np.minimum(stop, t_end), self.time, self.energy) - np.interp(start, self.time, self.energy)
        return np.where(duration > 0, inside + tail_power * np.clip(stop - t_end, 0.0, None), 0.0)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FastAstdpModel:
    """Everything the event-driven layer needs, characterised once per configuration."""

    config: AstdpStageConfig
    sfa_params: SfaParams
    lif: LifParams
    read_gap: np.ndarray  # m, grid of the read-current table
    read_log_current: np.ndarray  # ln(A), synapse read current at v_read with the gate on
    set_pulse: PulseResponse
    reset_pulse: PulseResponse
    sfa_pulse: PulseResponse
    latency: float  # s, from the threshold crossing to the output spike's rise
    table: TransistorTable

    @classmethod
    def build(cls, config: AstdpStageConfig, *, transistor: TransistorCard | None = None,
              sfa_params: SfaParams | None = None) -> "FastAstdpModel":
        """Characterise the transistor in ngspice and integrate the pulse trajectories; both are
        cached on disk by content (``cosim.backends.osdi_cache_dir``'s folder), as they take
        tens of seconds and depend only on the parameters."""
        p, a, lif = config.device, config.params, config.lif
        card = transistor if transistor is not None else generic_nmos()
        sfa_p = sfa_params if sfa_params is not None else default_astdp_sfa()
        key = hashlib.sha256(repr((p, a, lif, sfa_p, card, _CACHE_VERSION)).encode()).hexdigest()[:20]
        path = osdi_cache_dir().parent / "fast" / f"astdp-{key}.npz"
        arrays = _load_cache(path)
        if arrays is None:
            arrays = _characterise(p, a, lif, sfa_p, card)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        table = TransistorTable(v_ds=arrays["table_v"], i_d=arrays["table_i"], v_gate=a.v_gate_on,
                                v_bulk=a.v_bulk, source=f"ngspice DC sweep of {card.name}")
        latency = lif.t_timer_rise * math.log(1.0 / (1.0 - lif.timer_spike_level))

        def through_access(v: float) -> Any:  # 1T1R current at a constant drive v, per gap
            return lambda g: series_current(lambda u: eq.current(u, g, p, eq.NUMPY_OPS), table, np.full(g.shape, v))

        def through_load(g: np.ndarray) -> np.ndarray:  # SFA cell: RRAM behind R_load
            v_dev = SeriesResistor(r=sfa_p.r_load).device_voltage(np.full(g.shape, sfa_p.v_prog), g, p)
            return eq.current(v_dev, g, p, eq.NUMPY_OPS)

        return cls(config=config, sfa_params=sfa_p, lif=lif, read_gap=arrays["read_gap"],
                   read_log_current=arrays["read_log_current"],
                   set_pulse=PulseResponse(time=arrays["set_t"], gap=arrays["set_g"])
                   .with_energy(a.v_te_set, through_access(a.v_te_set)),
                   reset_pulse=PulseResponse(time=arrays["reset_t"], gap=arrays["reset_g"])
                   .with_energy(a.v_te_reset, through_access(a.v_te_reset)),
                   sfa_pulse=PulseResponse(time=arrays["sfa_t"], gap=arrays["sfa_g"])
                   .with_energy(sfa_p.v_prog, through_load),
                   latency=latency, table=table)

    def read_current(self, gaps: np.ndarray) -> np.ndarray:
        """Synapse read current (A) at v_read with the gate on."""
        return np.exp(np.interp(gaps, self.read_gap, self.read_log_current))

    def set_compliance(self) -> float:
        """SET compliance current (A): what flows through a synapse at ``v_te_set`` once its SET
        has settled, i.e. the limit the access transistor at ``v_gate_on`` imposes."""
        p, a = self.config.device, self.config.params
        g = np.array([self.set_pulse.gap[-1]])
        i = series_current(lambda u: eq.current(u, g, p, eq.NUMPY_OPS), self.table, np.array([a.v_te_set]))
        return float(i[0])

    def lrs_read_current(self) -> float:
        """Read current (A) of a synapse just after a full SET (gate on, ``v_read``)."""
        return float(self.read_current(np.array([self.set_pulse.gap[-1]]))[0])

    def threshold(self, sfa_gaps: np.ndarray) -> np.ndarray:
        if not self.config.sfa:
            return np.full(self.config.n_neurons, self.lif.v_th)
        return np.asarray(sfa_threshold(self.config.device, sfa_gaps, self.sfa_params), dtype=float)


def _load_cache(path: Any) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None


class NoSwitching(ValueError):
    """A write level of the layer that leaves the device's gap (almost) where it is."""


def _switching(pulse: PulseResponse, what: str, p: Any) -> PulseResponse:
    """``pulse``, refused with a clear error when it hardly moves the gap: less than 5 % of the
    model's gap range over the characterised window (tens of pulse widths). A write level that
    far below the device's switching threshold leaves a layer that cannot learn, and a table
    without a trajectory to shift along."""
    moved = abs(float(pulse.gap[-1] - pulse.gap[0]))
    if moved < 0.05 * (p.g_max - p.g_min):
        raise NoSwitching(f"{what} moves the device's gap by only {moved * 1e9:.3g} nm from "
                          f"{pulse.gap[0] * 1e9:.3g} nm in tens of pulse widths: the level is below the "
                          "switching threshold of this model card")
    return pulse


def _characterise(p: Any, a: Any, lif: LifParams, sfa_p: SfaParams,
                  card: TransistorCard) -> dict[str, np.ndarray]:
    span = max(abs(a.v_te_set), abs(a.v_te_reset)) * 1.05
    table = transistor_table(card, v_gate=a.v_gate_on, v_bulk=a.v_bulk, v_range=(-span, span))
    gaps = np.linspace(p.g_min, p.g_max, 400)
    read = series_current(lambda u: eq.current(u, gaps, p, eq.NUMPY_OPS), table, np.full(gaps.size, a.v_read))
    access = TabulatedAccess(table)
    set_pulse = _switching(PulseResponse.integrate(p, a.v_te_set, p.g_max, 50 * lif.t_spike, access),
                           f"AstdpParams.v_te_set={a.v_te_set!r} V (SET from the HRS)", p)
    # RESET starts from the SET's end point: at g_min itself the window holds the rate at 0.
    reset_pulse = _switching(PulseResponse.integrate(p, a.v_te_reset, float(set_pulse.gap[-1]),
                                                     50 * a.t_reset_pulse, access),
                             f"AstdpParams.v_te_reset={a.v_te_reset!r} V (RESET from the LRS)", p)
    sfa_pulse = _switching(PulseResponse.integrate(p, sfa_p.v_prog, p.g_max, 200 * lif.t_spike,
                                                   SeriesResistor(r=sfa_p.r_load)),
                           f"SfaParams.v_prog={sfa_p.v_prog!r} V (the SFA cell's partial SET)", p)
    return {"table_v": table.v_ds, "table_i": table.i_d, "read_gap": gaps, "read_log_current": np.log(read),
            "set_t": set_pulse.time, "set_g": set_pulse.gap, "reset_t": reset_pulse.time,
            "reset_g": reset_pulse.gap, "sfa_t": sfa_pulse.time, "sfa_g": sfa_pulse.gap}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FastEpisode:
    """What one image did to the layer (the fast engine's ``cosim.astdp_stage.Episode``)."""

    fire_times: tuple[tuple[float, ...], ...]  # s, output spike rise per fire, per neuron
    winner: int | None  # first neuron to fire, None if none fired
    state_before: LayerState
    state_after: LayerState
    segments: tuple[tuple[float, float, np.ndarray, np.ndarray, np.ndarray], ...] = field(repr=False)
    set_events: int = 0  # synapse SET pulses applied (gate on during a SET pulse)
    reset_events: int = 0  # synapse RESET pulses applied
    write_energy: dict[str, float] = field(default_factory=dict)  # J drawn by "set", "reset", "sfa" pulses
    crossings: tuple[tuple[int, float], ...] = ()  # (neuron, threshold crossing time s) per fire
    inhibit_delay: float | None = None  # s, crossing -> losers' reset starts (None: no WTA)

    @property
    def spike_counts(self) -> np.ndarray:
        return np.array([len(t) for t in self.fire_times])

    def membranes(self, time: np.ndarray, lif: LifParams) -> np.ndarray:
        """Membrane voltages (V), (neurons, len(time)), rebuilt from the analytic segments.

        The decisions need only the crossing times; for the waveform the circuit's reset is
        drawn as it happens: the winner keeps integrating until its one-shot's timer passes
        X_HI, the others until the inhibition arrives, then each discharges to v_reset with
        time constant t_reset.
        """
        time = np.asarray(time, dtype=float)
        n = self.segments[0][2].size if self.segments else 0
        out = np.full((n, time.size), lif.v_reset)
        for t0, t1, v0, v_inf, free in self.segments:
            sel = (time >= t0) & (time < t1)
            if sel.any():
                decay = np.exp(-(time[sel] - t0) / lif.tau_mem)
                settled = v_inf[:, None] + (v0 - v_inf)[:, None] * decay
                out[:, sel] = np.where(free[:, None], settled, lif.v_reset)
        t_hi = lif.t_timer_rise * math.log(1.0 / (1.0 - X_HI))
        for j, t_c in self.crossings:
            seg = next((sg for sg in self.segments if sg[0] <= t_c <= sg[1] and sg[1] == t_c), None)
            if seg is None:
                continue
            t0, _, v0, v_inf, free = seg
            delays = {j: t_hi}
            if self.inhibit_delay is not None:
                delays.update({k: self.inhibit_delay for k in range(n) if k != j and free[k]})
            for k, delay in delays.items():
                def cont(t: np.ndarray, k: int = k) -> np.ndarray:
                    return v_inf[k] + (v0[k] - v_inf[k]) * np.exp(-(t - t0) / lif.tau_mem)
                t_start = t_c + delay
                rising = (time >= t_c) & (time < t_start)
                out[k, rising] = cont(time[rising])
                falling = (time >= t_start) & (time < t_c + lif.t_refractory)
                v_start = float(cont(np.array(t_start)))
                discharge = np.exp(-(time[falling] - t_start) / lif.t_reset)
                out[k, falling] = lif.v_reset + (v_start - lif.v_reset) * discharge
        return out


def _windows(spike_times: Sequence[Sequence[float]], t_pre: float, t_edge: float) -> list[np.ndarray]:
    """Per input, (k, 2) conduction windows of its presynaptic spikes."""
    lead = _GATE_ON_FRACTION * t_edge
    trail = t_pre - _GATE_ON_FRACTION * t_edge
    return [np.array([[t + lead, t + trail] for t in sorted(times)]).reshape(-1, 2)
            for times in spike_times]


def _overlap(windows: list[np.ndarray], start: float, stop: float) -> np.ndarray:
    """Per input, total time (s) its gate conducts within [start, stop]."""
    out = np.zeros(len(windows))
    for i, w in enumerate(windows):
        if w.size:
            out[i] = float(np.sum(np.clip(np.minimum(w[:, 1], stop) - np.maximum(w[:, 0], start), 0, None)))
    return out


def _write(model: FastAstdpModel, pulse: PulseResponse, gaps: np.ndarray, duration: np.ndarray,
           energy: float, writes: Any, kind: str, rng: np.random.Generator | None) -> tuple[np.ndarray, float]:
    """One neuron's column after a SET or RESET pulse that lasts ``duration`` (s) per synapse,
    and the energy total with the pulse's draw added. With ``writes`` each reached synapse
    switches with its probability (a synapse that does not switch still draws its current for
    the pulse) and each switched one gets the compact model's C2C spread."""
    if writes is None:
        return pulse.after(gaps, duration), energy + float(pulse.energy_of(gaps, duration).sum())
    reached = duration > 0
    p = writes.p_set if kind == "set" else writes.p_reset
    switches = reached & (rng.random(gaps.size) < p)
    stays = reached & ~switches
    drawn = float(pulse.energy_of(gaps[switches], duration[switches]).sum())
    drawn += float((pulse.power_at(gaps[stays]) * duration[stays]).sum())
    out = gaps.copy()
    out[switches] = pulse.after(gaps[switches], duration[switches])
    if writes.c2c is not None and switches.any():
        out[switches] = apply_c2c(out[switches], model.config.device, writes.c2c, rng,
                                  v_read=model.config.params.v_read, after_reset=kind == "reset")
    return out, energy + drawn


def run_fast_episode(model: FastAstdpModel, state: LayerState, spike_times: Sequence[Sequence[float]],
                     *, learn: bool = True, rng: np.random.Generator | None = None,
                     deterministic_writes: bool = False, reset_gated: Any = None) -> FastEpisode:
    """One image through the layer, from ``state``; ``learn=False`` freezes the devices.

    With stochastic writes in the config (``AstdpStageConfig.writes``) learning needs ``rng``
    for the draws; ``deterministic_writes`` switches every reached synapse as the SPICE
    netlist does (for engine comparisons). ``reset_gated`` (bool per input) marks the inputs
    whose gates the driver opens for every RESET pulse (``circuits.astdp.astdp_netlist``):
    they are depressed by each fire whether or not they spike."""
    cfg, a, lif = model.config, model.config.params, model.lif
    writes = None if deterministic_writes or not cfg.writes.active else cfg.writes
    if learn and writes is not None and rng is None:
        raise ValueError("stochastic writes (AstdpStageConfig.writes) need an rng, "
                         "or pass deterministic_writes=True")
    n_in, n_out = cfg.n_inputs, cfg.n_neurons
    if len(spike_times) != n_in:
        raise ValueError(f"need spike times for {n_in} inputs, got {len(spike_times)}")
    gated = np.zeros(n_in, dtype=bool) if reset_gated is None else np.asarray(reset_gated, dtype=bool)
    if gated.shape != (n_in,):
        raise ValueError(f"reset_gated must have one flag per input ({n_in},), got shape {gated.shape}")
    windows = _windows(spike_times, a.t_pre, a.t_edge)
    bounds = sorted({float(x) for w in windows for x in w.ravel()})
    t_end = (max(bounds) if bounds else 0.0) + cfg.settle
    gaps = state.synapse_gaps.copy()
    sfa_gaps = state.sfa_gaps.copy()
    vth = model.threshold(sfa_gaps)
    tau, r_leak = lif.tau_mem, lif.r_leak
    v = np.full(n_out, lif.v_reset)
    held_until = np.zeros(n_out)
    fires: list[list[float]] = [[] for _ in range(n_out)]
    crossings: list[tuple[int, float]] = []
    segments = []
    n_set = n_reset = 0
    energy = {"set": 0.0, "reset": 0.0, "sfa": 0.0}
    i_read = model.read_current(gaps)  # (n_in, n_out)
    i_leak = a.v_read / SYNAPSE_LEAK
    hold = lif.t_refractory if cfg.wta is WtaMode.REFRACTORY else lif.t_spike
    inhibit = cfg.wta is not WtaMode.OFF and n_out > 1
    t = 0.0
    while t < t_end:
        later = [b for b in bounds if b > t + 1e-15] + [h for h in held_until if h > t + 1e-15] + [t_end]
        t_next = min(later)
        mid = 0.5 * (t + t_next)
        on = np.array([bool(w.size) and bool(np.any((w[:, 0] <= mid) & (mid < w[:, 1]))) for w in windows])
        current = on.astype(float) @ i_read + (n_in - on.sum()) * i_leak
        free = held_until <= t + 1e-15
        v_inf = current * r_leak
        crossing = np.full(n_out, np.inf)
        can = free & (v_inf > vth)
        already = can & (v >= vth)
        crossing[already] = t
        grow = can & ~already
        crossing[grow] = t + tau * np.log((v_inf[grow] - v[grow]) / (v_inf[grow] - vth[grow]))
        j = int(np.argmin(crossing))
        t_stop = min(t_next, float(crossing[j]))
        segments.append((t, t_stop, v.copy(), v_inf.copy(), free.copy()))
        v = np.where(free, v_inf + (v - v_inf) * np.exp(-(t_stop - t) / tau), lif.v_reset)
        if crossing[j] < t_next:  # neuron j fires at t_stop
            t_fire = t_stop + model.latency
            fires[j].append(t_fire)
            crossings.append((j, t_stop))
            v[j] = lif.v_reset
            held_until[j] = t_stop + lif.t_refractory
            if inhibit:
                others = np.arange(n_out) != j
                v[others] = lif.v_reset
                held_until[others] = np.maximum(held_until[others], t_stop + hold)
            if learn:
                set_time = _overlap(windows, t_fire, t_stop + lif.t_spike)
                reset_start = t_fire + a.t_reset_delay
                reset_time = np.where(gated, a.t_reset_pulse,
                                      _overlap(windows, reset_start, reset_start + a.t_reset_pulse))
                n_set += int(np.count_nonzero(set_time))
                n_reset += int(np.count_nonzero(reset_time))
                for kind, pulse, duration in (("set", model.set_pulse, set_time),
                                              ("reset", model.reset_pulse, reset_time)):
                    gaps[:, j], energy[kind] = _write(model, pulse, gaps[:, j], duration, energy[kind],
                                                      writes, kind, rng)
                i_read[:, j] = model.read_current(gaps[:, j])
                if cfg.sfa:
                    sfa_drive = (np.array([sfa_gaps[j]]), np.array([t_stop + lif.t_spike - t_fire]))
                    energy["sfa"] += float(model.sfa_pulse.energy_of(*sfa_drive)[0])
                    sfa_gaps[j] = float(model.sfa_pulse.after(*sfa_drive)[0])
                    vth = model.threshold(sfa_gaps)
        t = t_stop
    firsts = [(f[0], k) for k, f in enumerate(fires) if f]
    if not inhibit:
        inhibit_delay = None
    elif cfg.wta is WtaMode.REFRACTORY:  # the winner's busy output: its timer past X_RELEASE
        inhibit_delay = lif.t_timer_rise * math.log(1.0 / (1.0 - X_RELEASE))
    else:  # its output spike
        inhibit_delay = model.latency
    after = LayerState(synapse_gaps=gaps, sfa_gaps=sfa_gaps)
    return FastEpisode(fire_times=tuple(tuple(f) for f in fires), winner=min(firsts)[1] if firsts else None,
                       state_before=state, state_after=after, segments=tuple(segments),
                       set_events=n_set, reset_events=n_reset, write_energy=energy, crossings=tuple(crossings),
                       inhibit_delay=inhibit_delay)
