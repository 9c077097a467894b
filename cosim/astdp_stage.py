"""The A-STDP classifier stage co-simulated in SPICE, one image (episode) at a time.

Each episode is one transient of the A-STDP layer (``circuits.astdp``): the feature map's
presynaptic spike trains drive the gates, the LIF neurons integrate, fire and compete, and the
synapse and SFA devices switch through the compact model inside the simulation. Between
episodes the device states are carried exactly: each synapse's and SFA cell's final gap (its
state node) becomes the next episode's initial gap. Membranes and timers restart at rest, as
the neurons idle between images. The digital side (which neuron won, spike counts) is read
from the simulated output spikes.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from circuits.astdp import (AstdpParams, WtaMode, astdp_layer, astdp_netlist, default_astdp_neuron,
                            layer_max_step)
from circuits.neuron import LifParams
from compact_model.params import DeviceParams, VariabilityParams
from cosim.backends import Backend, simulate_netlist
from cosim.ngspice_compat import SpiceError
from cosim.waveforms import Waveform
from netlist_gen.rram import gap_from_state_node

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StochasticWrites:
    """Cycle-to-cycle randomness of the synapse writes (applied by the fast engine only).

    Near its switching threshold a binary oxide RRAM switches with a probability set by the
    pulse (Yu et al., Front. Neurosci. 7:186, 2013; Gaba et al., Nanoscale 5:5872, 2013): a SET
    or RESET pulse that reaches a synapse switches it with ``p_set`` / ``p_reset``, so each fire
    moves a neuron's weights only part of the way to the pattern and the weights average over
    the patterns the neuron wins. ``c2c`` spreads the conductance after each write as the compact
    model does after programming (narrower at larger compliance, ``compact_model.variability``).
    The SPICE netlist switches deterministically; its checks run the fast engine without this.
    """

    p_set: float = 1.0  # 1, probability that a SET pulse reaching a synapse switches it
    p_reset: float = 1.0  # 1, probability that a RESET pulse reaching a synapse switches it
    c2c: VariabilityParams | None = None  # conductance spread after every write; None: none

    def __post_init__(self) -> None:
        for name in ("p_set", "p_reset"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"StochasticWrites.{name} must lie in (0, 1], got {value!r}")

    @property
    def active(self) -> bool:
        return self.p_set < 1.0 or self.p_reset < 1.0 or self.c2c is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class AstdpStageConfig:
    """The layer and how episodes are simulated."""

    n_inputs: int  # 1, presynaptic inputs (feature bits)
    n_neurons: int  # 1, output neurons
    device: DeviceParams  # synapse and SFA RRAM parameters
    params: AstdpParams = AstdpParams()
    neuron: LifParams | None = None  # default: circuits.astdp.default_astdp_neuron(params)
    wta: WtaMode = WtaMode.REFRACTORY
    sfa: bool = True
    settle: float = 2e-6  # s, simulated after the last presynaptic spike (writes complete)
    writes: StochasticWrites = StochasticWrites()  # fast engine only (see StochasticWrites)
    probes: tuple[str, ...] = ()  # extra vectors to keep, e.g. "v(xneuron_0.mem)"

    def __post_init__(self) -> None:
        if self.n_inputs < 1 or self.n_neurons < 1:
            raise ValueError("n_inputs and n_neurons must be >= 1")
        if not self.settle > 0:
            raise ValueError(f"settle must be > 0 s, got {self.settle}")

    @property
    def lif(self) -> LifParams:
        return self.neuron if self.neuron is not None else default_astdp_neuron(self.params)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerState:
    """Non-volatile device state of the layer, carried from episode to episode."""

    synapse_gaps: np.ndarray  # m, (n_inputs, n_neurons)
    sfa_gaps: np.ndarray  # m, (n_neurons,)

    @classmethod
    def initial(cls, config: AstdpStageConfig, rng: np.random.Generator, *,
                gap_range: tuple[float, float] = (1.4e-9, 1.8e-9), sfa_gap: float = 2.0e-9) -> "LayerState":
        """Random mid-range synapses (seeded) and equal SFA cells."""
        lo, hi = gap_range
        gaps = rng.uniform(lo, hi, size=(config.n_inputs, config.n_neurons))
        return cls(synapse_gaps=gaps, sfa_gaps=np.full(config.n_neurons, float(sfa_gap)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """What one image did to the layer."""

    fire_times: tuple[tuple[float, ...], ...]  # s, per neuron
    winner: int | None  # first neuron to fire (ties: lowest index), None if none fired
    state_before: LayerState
    state_after: LayerState
    waveform: Waveform = field(repr=False)  # output spikes, membranes, thresholds, probes
    retried: bool = False  # it converged only with safer solver settings than the first

    @property
    def spike_counts(self) -> np.ndarray:
        return np.array([len(t) for t in self.fire_times])


def rising_edges(time: np.ndarray, signal: np.ndarray, level: float) -> tuple[float, ...]:
    """Times (s) where ``signal`` crosses ``level`` upwards, linearly interpolated."""
    above = signal >= level
    idx = np.flatnonzero(~above[:-1] & above[1:])
    t0, t1, s0, s1 = time[idx], time[idx + 1], signal[idx], signal[idx + 1]
    return tuple(float(t) for t in t0 + (level - s0) * (t1 - t0) / (s1 - s0))


# Safer solver settings tried in order when a transient fails to converge: switching events
# of the RRAM behind a just-opening access transistor are the stiff spots.
RETRY_OPTIONS: tuple[dict[str, float | str], ...] = (
    {"reltol": 1e-4},
    {"reltol": 1e-3, "abstol": 1e-10, "vntol": 1e-5},
    {"reltol": 1e-3, "abstol": 1e-10, "vntol": 1e-5, "method": "gear"},
    {"reltol": 3e-3, "abstol": 1e-9, "vntol": 1e-4, "itl4": 100.0},
)


def _simulate_with_retries(netlist: Any, backend: Backend, title: str) -> tuple[dict[str, np.ndarray], int]:
    """The vectors and the index of the ``RETRY_OPTIONS`` setting that converged."""
    errors = []
    for k, options in enumerate(RETRY_OPTIONS):
        try:
            if k:
                log.warning("%s: retrying with %s after: %s", title, options, errors[-1])
            return simulate_netlist(dataclasses.replace(netlist, options=options), backend), k
        except SpiceError as exc:
            errors.append(str(exc).splitlines()[0][:300])
    raise SimulationFailed(title, netlist, errors)


class SimulationFailed(RuntimeError):
    """Every solver setting failed; the netlist is saved so the failure can be reproduced."""

    def __init__(self, title: str, netlist: Any, errors: list[str]) -> None:
        import tempfile

        from netlist_gen.ngspice import write_ngspice

        folder = Path(tempfile.mkdtemp(prefix="rramcosim-failed-"))
        self.netlist_path = folder / "episode.cir"
        self.netlist_path.write_text(write_ngspice(dataclasses.replace(netlist, options=RETRY_OPTIONS[0])))
        tried = "\n".join(f"  {opts}: {err}" for opts, err in zip(RETRY_OPTIONS, errors))
        super().__init__(f"{title}: the transient failed with every solver setting tried:\n{tried}\n"
                         f"netlist saved for reproduction: {self.netlist_path}")


def run_episode(config: AstdpStageConfig, state: LayerState, spike_times: Sequence[Sequence[float]],
                *, backend: Backend = Backend.NGSPICE, title: str = "episode", learn: bool = True,
                reset_gated: Sequence[bool] | None = None) -> Episode:
    """Simulate one image's presynaptic spikes; returns the fires and the new device state.
    ``learn=False`` simulates the inference netlist (write drivers gated off): the devices are
    only read, so no picosecond switching slows the transient. ``reset_gated`` (one flag per
    input) opens those inputs' gates during every RESET pulse (``circuits.astdp.astdp_netlist``)."""
    if len(spike_times) != config.n_inputs:
        raise ValueError(f"need spike times for {config.n_inputs} inputs, got {len(spike_times)}")
    lif = config.lif
    layer = astdp_layer(config.n_inputs, config.n_neurons, device=config.device,
                        gaps0=state.synapse_gaps, neuron=lif, params=config.params, wta=config.wta,
                        sfa=config.sfa, sfa_gaps0=state.sfa_gaps, writes=learn)
    last = max((t for times in spike_times for t in times), default=0.0)
    t_stop = last + config.params.t_pre + config.settle
    netlist = astdp_netlist(layer, spike_times, params=config.params, t_stop=t_stop,
                            max_step=layer_max_step(lif, config.params), title=title, reset_gated=reset_gated)
    result, setting = _simulate_with_retries(netlist, backend, title)
    time = result["time"]
    outputs = [result[f"v({node})"] for node in layer.output_nodes]
    fires = tuple(rising_edges(time, out, 0.5 * lif.v_spike) for out in outputs)
    firsts = [(t[0], j) for j, t in enumerate(fires) if t]
    winner = min(firsts)[1] if firsts else None
    syn = np.array([[gap_from_state_node(result[layer.synapse_gap_vector(i, j)][-1])
                     for j in range(config.n_neurons)] for i in range(config.n_inputs)])
    sfa = (np.array([gap_from_state_node(result[layer.sfa_gap_vector(j)][-1])
                     for j in range(config.n_neurons)]) if config.sfa else state.sfa_gaps.copy())
    # Clip solver overshoot at the window bounds: the next episode's parameters must validate.
    p = config.device
    after = LayerState(synapse_gaps=np.clip(syn, p.g_min, p.g_max), sfa_gaps=np.clip(sfa, p.g_min, p.g_max))
    keep = {f"v({n})": result[f"v({n})"] for n in layer.output_nodes}
    keep.update({layer.membrane_vector(j): result[layer.membrane_vector(j)]
                 for j in range(config.n_neurons)})
    keep.update({f"v({n})": result[f"v({n})"] for n in layer.vth_nodes})
    keep.update({name: result[name] for name in config.probes})
    log.debug("%s: fires %s, winner %s", title, [len(f) for f in fires], winner)
    return Episode(fire_times=fires, winner=winner, state_before=state, state_after=after,
                   waveform=Waveform(time=time, signals=keep, title=title), retried=setting > 0)


class AstdpSession:
    """Episodes as consecutive windows of ONE ngspice transient (``cosim.session``, halt/resume).

    The layer's netlist is written and parsed once; each image only replaces the presynaptic
    gate waveforms (``alter``) and resumes the halted transient, so every device and node state
    - synapse and SFA gaps, membranes, timers - is the simulator's own, carried exactly. A window
    that fails to converge is retried by the session from its starting state with safer solver
    settings. Use as a context manager (the session owns a worker process).
    """

    def __init__(self, config: AstdpStageConfig, state: LayerState, *, horizon_s: float = 2e-3) -> None:
        from circuits.astdp import astdp_layer as _layer
        from cosim.session import SessionBackend, SessionConfig, open_session

        self.config = config
        lif = config.lif
        self.layer = _layer(config.n_inputs, config.n_neurons, device=config.device,
                            gaps0=state.synapse_gaps, neuron=lif, params=config.params, wta=config.wta,
                            sfa=config.sfa, sfa_gaps0=state.sfa_gaps)
        self.max_step = layer_max_step(lif, config.params)
        netlist = astdp_netlist(self.layer, [[] for _ in range(config.n_inputs)], params=config.params,
                                t_stop=horizon_s, max_step=self.max_step, title="A-STDP session")
        self.session = open_session(SessionConfig(backend=SessionBackend.NGSPICE_RESUME,
                                                  horizon_s=horizon_s, keep_history=False))
        self.session.load(dataclasses.replace(netlist, options=dict(RETRY_OPTIONS[0])))
        self.state = state

    def __enter__(self) -> "AstdpSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def episode(self, spike_times: Sequence[Sequence[float]], *, title: str = "episode") -> Episode:
        cfg, layer = self.config, self.layer
        if len(spike_times) != cfg.n_inputs:
            raise ValueError(f"need spike times for {cfg.n_inputs} inputs, got {len(spike_times)}")
        from circuits.astdp import pre_spike_pwl

        last = max((t for times in spike_times for t in times), default=0.0)
        duration = last + cfg.params.t_pre + cfg.settle
        sources = {f"pre_{i}": (pre_spike_pwl(times, cfg.params) if len(times) else cfg.params.v_gate_off)
                   for i, times in enumerate(spike_times)}
        r = self.session.run_window(duration, sources=sources, step=self.max_step, max_step=self.max_step)
        time = r.vectors["time"] - r.t_start
        lif = cfg.lif
        outputs = [r.vectors[f"v({node})"] for node in layer.output_nodes]
        fires = tuple(rising_edges(time, out, 0.5 * lif.v_spike) for out in outputs)
        firsts = [(t[0], j) for j, t in enumerate(fires) if t]
        final = r.final()
        syn = np.array([[gap_from_state_node(final[layer.synapse_gap_vector(i, j)])
                         for j in range(cfg.n_neurons)] for i in range(cfg.n_inputs)])
        sfa = (np.array([gap_from_state_node(final[layer.sfa_gap_vector(j)]) for j in range(cfg.n_neurons)])
               if cfg.sfa else self.state.sfa_gaps.copy())
        after = LayerState(synapse_gaps=syn, sfa_gaps=sfa)
        keep = {f"v({n})": r.vectors[f"v({n})"] for n in layer.output_nodes}
        keep.update({layer.membrane_vector(j): r.vectors[layer.membrane_vector(j)]
                     for j in range(cfg.n_neurons)})
        keep.update({f"v({n})": r.vectors[f"v({n})"] for n in layer.vth_nodes})
        keep.update({name: r.vectors[name] for name in cfg.probes})
        episode = Episode(fire_times=fires, winner=min(firsts)[1] if firsts else None,
                          state_before=self.state, state_after=after,
                          waveform=Waveform(time=time, signals=keep, title=title), retried=bool(r.attempt))
        self.state = after
        return episode
