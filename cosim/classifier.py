"""The unsupervised A-STDP classifier on feature maps: learn, freeze, label neurons, predict.

The layer is ``cosim.astdp_stage`` (1T1R synapses, LIF neurons, winner-take-all, SFA) run by
the fast engine (``cosim.fast.astdp``), one feature map per episode, the device states carried
from image to image. After learning, plasticity is frozen (synapses and SFA thresholds keep
their state), each neuron is labelled by the class it wins most often on labelled images, and an
image is classified by the label of the neuron that fires first for it (no winner: no class).
A sample of learning episodes can be re-run in ngspice from the same device states
(``spice_check``) to measure how far the fast engine's decisions are from SPICE's.

Power proxy per image: output fires, synapse SET/RESET pulses and the energy the write pulses
draw (from the compact model's currents along the pulse trajectories, SFA cell included).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from circuits.astdp import AstdpParams, WtaMode, default_astdp_neuron
from compact_model.cards import load_preset
from cosim import digital
from cosim.astdp_stage import AstdpStageConfig, LayerState, SimulationFailed, StochasticWrites

log = logging.getLogger(__name__)


def _check_int(name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"ClassifierConfig.{name} must be an integer >= {lo}, got {value!r}")


def _check_pos(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"ClassifierConfig.{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassifierConfig:
    """The A-STDP layer as a classifier (defaults: system-spec "our defaults", tuned by
    ``scripts/astdp_search.py``; every one is a field)."""

    n_classes: int = 10  # 1, classes the labels come from
    redundancy: int = 4  # 1, output neurons per class: N = redundancy x n_classes
    # Complement inputs make every feature map drive the same number of gates (64 of 128), so a
    # neuron's current measures its match, not how many bits are set; noise at p = 0.1 depresses
    # the background fast enough to stop one neuron collecting every pattern (search: see
    # scripts/astdp_search.py and issue 6's note).
    schedule: digital.SpikeSchedule = digital.SpikeSchedule(
        slot_time=1.05e-6, pattern_slots=2, noise_slots=4, p_noise=0.1, complement=True)
    sfa: bool = True
    wta: WtaMode = WtaMode.REFRACTORY
    astdp: AstdpParams = AstdpParams()
    # 3.5 kohm: ~30 of the 64 driven synapses in LRS (~5.5 uA each at 0.2 V) reach the 0.6 V
    # threshold, the SFA's ~0.97 V ceiling needs ~50; scale it with 64 / n_bits for other widths.
    r_leak: float = 3.5e3  # ohm, neuron leak: membrane volts per ampere of synaptic current
    tau_mem: float = 0.2e-6  # s, membrane time constant (c_mem = tau_mem / r_leak), << the 1 us gate
    synapse_gap_range: tuple[float, float] = (1.0e-9, 1.3e-9)  # m, initial synapses (uniform): near LRS
    # Stochastic switching (cosim.astdp_stage.StochasticWrites): a SET / RESET pulse that reaches
    # a synapse switches it with these probabilities; c2c adds the card's cycle-to-cycle spread.
    p_set: float = 1.0  # 1
    p_reset: float = 1.0  # 1
    c2c: bool = False  # spread each written synapse's conductance with the preset's variability card
    # Off-pattern depression: the row drivers open the gates of every input outside the presented
    # pattern during each RESET pulse, so a fire depresses all of them, not only those that spike
    # by noise then (the FPGA knows the feature map). Without it nothing bounds a neuron's total
    # weight: one that potentiates most inputs wins nearly every image (issue 6's note).
    reset_off_pattern: bool = False
    preset: str = "siox-literature"  # model card of the synapse and SFA devices
    seed: int = 0  # seeds the initial synapses and the noise spikes

    def __post_init__(self) -> None:
        _check_int("n_classes", self.n_classes, 1)
        _check_int("redundancy", self.redundancy, 1)
        _check_int("seed", self.seed, 0)
        _check_pos("r_leak", self.r_leak)
        _check_pos("tau_mem", self.tau_mem)
        if not isinstance(self.schedule, digital.SpikeSchedule):
            raise ValueError("ClassifierConfig.schedule must be a SpikeSchedule")
        for name in ("p_set", "p_reset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(f"ClassifierConfig.{name} must be a probability in (0, 1], got {value!r}")
        if not isinstance(self.reset_off_pattern, bool):
            raise ValueError(f"ClassifierConfig.reset_off_pattern must be a bool, got {self.reset_off_pattern!r}")
        lo, hi = (float(x) for x in self.synapse_gap_range)
        if not 0 < lo <= hi:
            raise ValueError(f"ClassifierConfig.synapse_gap_range must be (lo, hi) m with 0 < lo <= hi, "
                             f"got {self.synapse_gap_range!r}")
        object.__setattr__(self, "synapse_gap_range", (lo, hi))

    @property
    def n_neurons(self) -> int:
        return self.redundancy * self.n_classes

    def stage(self, n_inputs: int) -> AstdpStageConfig:
        """The layer's circuit config for ``n_inputs`` feature bits (doubled with complements)."""
        lif = dataclasses.replace(default_astdp_neuron(self.astdp), r_leak=self.r_leak,
                                  c_mem=self.tau_mem / self.r_leak)
        inputs = n_inputs * (2 if self.schedule.complement else 1)
        card = load_preset(self.preset)
        writes = StochasticWrites(p_set=float(self.p_set), p_reset=float(self.p_reset),
                                  c2c=card.variability if self.c2c else None)
        return AstdpStageConfig(n_inputs=inputs, n_neurons=self.n_neurons, device=card.device,
                                params=self.astdp, neuron=lif, wta=self.wta, sfa=self.sfa, writes=writes)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Presentation:
    """What a run of images did, one entry per image (arrays of length n_images)."""

    winners: np.ndarray  # int, first neuron to fire, -1 if none
    fires: np.ndarray  # int, output spikes of all neurons
    set_events: np.ndarray  # int, synapse SET pulses
    reset_events: np.ndarray  # int, synapse RESET pulses
    write_energy: np.ndarray  # J, SET + RESET + SFA write pulses
    fires_per_neuron: np.ndarray = field(repr=False)  # int (n_images, n_neurons)
    states_before: tuple[LayerState, ...] = field(default=(), repr=False)  # kept when asked
    spike_trains: tuple[Any, ...] = field(default=(), repr=False)  # presynaptic trains, when kept
    reset_gates: tuple[Any, ...] = field(default=(), repr=False)  # off-pattern RESET gates, when kept

    def __len__(self) -> int:
        return int(self.winners.size)


class AstdpClassifier:
    """The layer's devices and the fast engine that runs it; ``present`` learns or infers."""

    def __init__(self, config: ClassifierConfig, n_inputs: int) -> None:
        from cosim.fast.astdp import FastAstdpModel  # characterised once, cached on disk

        self.config = config
        self.n_bits = int(n_inputs)
        self.stage = config.stage(self.n_bits)
        self.model = FastAstdpModel.build(self.stage)
        self.state = LayerState.initial(self.stage, np.random.default_rng([config.seed, 2]),
                                        gap_range=config.synapse_gap_range)
        self._rng = np.random.default_rng([config.seed, 3])  # noise spikes
        self._write_rng = np.random.default_rng([config.seed, 4])  # stochastic switching

    def present(self, bits: Any, *, learn: bool, keep_states: int | Sequence[int] = 0,
                progress: Callable[[int], None] | None = None) -> Presentation:
        """Run feature maps ``bits`` (n, n_bits) through the layer in order. With ``learn`` the
        devices switch and the state carries on; without, every image starts from the current
        (frozen) state. ``keep_states`` images (the first n, or these image indices) keep their
        pre-state and trains, for ``spice_check``."""
        from cosim.fast.astdp import run_fast_episode

        b = np.asarray(bits)
        if b.ndim != 2 or b.shape[1] != self.n_bits:
            raise ValueError(f"bits must have shape (n, {self.n_bits}), got {b.shape}")
        n, n_out = b.shape[0], self.config.n_neurons
        winners = np.full(n, -1, dtype=np.int64)
        per_neuron = np.zeros((n, n_out), dtype=np.int64)
        sets, resets, energy = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n))
        before, trains_kept, gates_kept = [], [], []
        keep = set(range(keep_states)) if isinstance(keep_states, (int, np.integer)) else \
            {int(i) for i in keep_states}
        for k in range(n):
            spikes = digital.schedule_spikes(b[k], self.config.schedule, rng=self._rng)
            trains = [list(t) for t in spikes.spike_times()]
            gates = self.reset_gates(b[k])
            if k in keep:
                before.append(self.state)
                trains_kept.append(trains)
                gates_kept.append(gates)
            ep = run_fast_episode(self.model, self.state, trains, learn=learn, rng=self._write_rng,
                                  reset_gated=gates)
            if learn:
                self.state = ep.state_after
            winners[k] = -1 if ep.winner is None else ep.winner
            per_neuron[k] = ep.spike_counts
            sets[k], resets[k] = ep.set_events, ep.reset_events
            energy[k] = sum(ep.write_energy.values())
            if progress is not None:
                progress(k)
        return Presentation(winners=winners, fires=per_neuron.sum(axis=1), set_events=sets,
                            reset_events=resets, write_energy=energy, fires_per_neuron=per_neuron,
                            states_before=tuple(before), spike_trains=tuple(trains_kept),
                            reset_gates=tuple(gates_kept))

    def reset_gates(self, bits: Any) -> np.ndarray | None:
        """The inputs whose gates open during every RESET pulse for feature map ``bits``: those
        outside its pattern with ``reset_off_pattern``, else None (none)."""
        if not self.config.reset_off_pattern:
            return None
        return ~digital.pattern_inputs(bits, self.config.schedule)


@dataclass(frozen=True, slots=True)
class RaceSlice:
    """The part of the layer that decides one episode's race, as its own layer: the inputs that
    spike and the neurons whose membranes the fast engine drives highest relative to threshold.

    An input that never spikes keeps its gate closed (its synapses only leak ~0.2 nA and are
    never written); a neuron outside the slice is assumed never to win."""

    rows: np.ndarray  # int, layer input of each slice input
    cols: np.ndarray  # int, layer neuron of each slice neuron
    config: AstdpStageConfig
    state: LayerState
    trains: tuple[Any, ...]
    full: Any  # the fast engine's frozen run of the whole layer (chooses the contenders)
    reset_gated: np.ndarray | None = None  # bool per slice input: gate opened during RESET pulses

    def layer_winner(self, winner: int | None) -> int:
        """A slice winner as a layer neuron index (-1: none)."""
        return -1 if winner is None else int(self.cols[winner])

    @property
    def full_winner(self) -> int:
        """The whole layer's winner in the fast engine (-1: none)."""
        return -1 if self.full.winner is None else int(self.full.winner)


def parse_contenders(value: Any) -> int | None:
    """A slice's neuron count as configs and command lines give it: an integer >= 1 (or its
    text), or None / "all" for the whole layer."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"contenders must be an integer >= 1 or 'all', got {value!r}")
    return int(value)


def race_slice(classifier: AstdpClassifier, state: LayerState, trains: Sequence[Sequence[float]],
               contenders: int | None, reset_gated: Any = None) -> RaceSlice:
    """The slice of ``classifier``'s layer that decides an episode from ``state`` (``contenders``
    None: every neuron, only the inputs that neither spike nor are ``reset_gated`` dropped)."""
    from cosim.fast.astdp import run_fast_episode

    contenders = parse_contenders(contenders)
    model = classifier.model
    full = run_fast_episode(model, state, trains, learn=False)
    if contenders is None or contenders >= classifier.stage.n_neurons:
        cols = np.arange(classifier.stage.n_neurons)
    else:
        drive = np.max([seg[3] for seg in full.segments], axis=0) / model.threshold(state.sfa_gaps)
        cols = np.sort(np.argsort(-drive, kind="stable")[:contenders])
    gated = np.zeros(len(trains), dtype=bool) if reset_gated is None else np.asarray(reset_gated, dtype=bool)
    rows = np.array([i for i, t in enumerate(trains) if t or gated[i]], dtype=np.int64)
    config = dataclasses.replace(classifier.stage, n_inputs=len(rows), n_neurons=len(cols))
    sub = LayerState(synapse_gaps=state.synapse_gaps[np.ix_(rows, cols)], sfa_gaps=state.sfa_gaps[cols])
    return RaceSlice(rows=rows, cols=cols, config=config, state=sub,
                     trains=tuple(list(trains[i]) for i in rows), full=full,
                     reset_gated=None if reset_gated is None else gated[rows])


def spice_check_inference(classifier: AstdpClassifier, bits: Any, *, contenders: int | None = 3,
                          seed: int = 0) -> dict[str, float]:
    """ngspice re-runs of inference episodes (plasticity frozen, write drivers gated off) of the
    feature maps ``bits`` (n, n_bits), from the classifier's current state, each on its
    ``race_slice``. Reports how often ngspice's winner on the slice equals the fast engine's on
    the same slice (the engines) and on the whole layer (the slice), and the episodes that
    failed (``spice_inference_failed``) or needed safer solver settings (``..._retried``)."""
    from cosim.astdp_stage import run_episode
    from cosim.fast.astdp import run_fast_episode

    b = np.asarray(bits)
    if b.ndim != 2 or b.shape[1] != classifier.n_bits:
        raise ValueError(f"bits must have shape (n, {classifier.n_bits}), got {b.shape}")
    contenders = parse_contenders(contenders)
    rng = np.random.default_rng([seed, 5])  # its own stream: the classifier's draws are untouched
    engines, slices = [], []
    failed = retried = 0
    for k in range(b.shape[0]):
        trains = [list(t) for t in digital.schedule_spikes(b[k], classifier.config.schedule, rng=rng).spike_times()]
        sl = race_slice(classifier, classifier.state, trains, contenders)
        fast = run_fast_episode(dataclasses.replace(classifier.model, config=sl.config), sl.state, sl.trains,
                                learn=False)
        try:
            spice = run_episode(sl.config, sl.state, sl.trains, learn=False, title=f"inference check {k}")
        except SimulationFailed as exc:  # recorded, not fatal
            log.warning("inference check %d did not converge in ngspice; netlist saved at %s", k, exc.netlist_path)
            failed += 1
            continue
        retried += spice.retried
        engines.append(spice.winner == fast.winner)
        slices.append(sl.layer_winner(spice.winner) == sl.full_winner)
    return {"spice_inference_images": float(len(engines)), "spice_inference_failed": float(failed),
            "spice_inference_retried": float(retried),
            "spice_contenders": _slice_width(classifier, contenders),
            "spice_inference_winner_equal_slice": _mean(engines),
            "spice_inference_winner_equal_layer": _mean(slices)}


def _illinois(error: Callable[[float], tuple[float, Any]], lo: float, f_lo: float, hi: float, f_hi: float,
              tol: float, what: str) -> tuple[float, Any]:
    """Root of a monotone increasing ``error(x) -> (f, payload)`` in [lo, hi] by the Illinois
    method, to |f| <= tol; returns x and the payload of the last trial. The caller has checked
    f_lo = error(lo) <= 0 <= f_hi = error(hi) (it words the range error)."""
    side = 0
    for _ in range(40):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f, payload = error(x)
        if abs(f) <= tol:
            return x, payload
        if f < 0:
            lo, f_lo = x, f
            f_hi = f_hi / 2 if side == -1 else f_hi  # halve the stale end's weight
            side = -1
        else:
            hi, f_hi = x, f
            f_lo = f_lo / 2 if side == 1 else f_lo
            side = 1
    raise RuntimeError(f"{what}: not found to the tolerance in 40 trials")


def with_synapse_compliance(config: ClassifierConfig, i_c: float, *, scale_leak: bool = True,
                            rel_tol: float = 0.005, gate_range: tuple[float, float] = (0.9, 3.3)
                            ) -> tuple[ClassifierConfig, dict[str, float]]:
    """``config`` with the synapse SET compliance ``i_c`` (A) and what was solved.

    The compliance is set by the presynaptic gate level ``astdp.v_gate_on``, found by the
    Illinois method on ln I_C within ``gate_range`` (V); every trial characterises the fast
    model (cached on disk). With ``scale_leak`` the neuron's ``r_leak`` is scaled by the ratio
    of LRS read currents, so the same number of LRS synapses reaches the threshold: the
    neuron is re-sized for the synapse, as a designer would. Returns the config and a record
    (v_gate_on, I_C reached, LRS read current, r_leak)."""
    from cosim.fast.astdp import FastAstdpModel

    if not (isinstance(i_c, (int, float)) and math.isfinite(i_c) and i_c > 0):
        raise ValueError(f"synapse compliance i_c must be a finite current > 0 A, got {i_c!r}")

    def error(v_gate: float) -> tuple[float, Any]:
        trial = dataclasses.replace(config, astdp=dataclasses.replace(config.astdp, v_gate_on=float(v_gate)))
        model = FastAstdpModel.build(trial.stage(1))  # one cell: I_C does not depend on the width
        return math.log(model.set_compliance() / i_c), (trial, model)

    lo, hi = (float(x) for x in gate_range)
    f_lo, _ = error(lo)
    f_hi, _ = error(hi)
    if not f_lo <= 0 <= f_hi:
        raise ValueError(f"synapse compliance {i_c:.3g} A is outside what gate levels {lo}-{hi} V reach "
                         f"({i_c * math.exp(f_lo):.3g}-{i_c * math.exp(f_hi):.3g} A)")
    v, (trial, model) = _illinois(error, lo, f_lo, hi, f_hi, math.log1p(rel_tol),
                                  f"synapse compliance {i_c:.3g} A gate level")
    r_leak = config.r_leak
    if scale_leak:
        base = FastAstdpModel.build(config.stage(1))
        r_leak = config.r_leak * base.lrs_read_current() / model.lrs_read_current()
        trial = dataclasses.replace(trial, r_leak=r_leak)
    return trial, {"v_gate_on": float(v), "synapse_i_c": model.set_compliance(),
                   "lrs_read_current": model.lrs_read_current(), "r_leak": float(r_leak)}


def first_reset_drop(model: Any) -> float:
    """Fraction of its read current a fully SET synapse loses to one RESET pulse of the fast
    ``model`` (``cosim.fast.astdp.FastAstdpModel``): the depression step of a graded RESET."""
    lrs = np.array([model.set_pulse.gap[-1]])
    after = model.reset_pulse.after(lrs, np.array([model.config.params.t_reset_pulse]))
    return float(1.0 - model.read_current(after)[0] / model.read_current(lrs)[0])


def with_reset_drop(config: ClassifierConfig, drop: float, *, rel_tol: float = 0.01,
                    level_range: tuple[float, float] = (-1.2, -2.0)) -> tuple[ClassifierConfig, dict[str, float]]:
    """``config`` with the RESET level ``astdp.v_te_reset`` at which one RESET pulse takes the
    fraction ``drop`` of a fully SET synapse's read current (``first_reset_drop``).

    A graded RESET needs a level that follows the LRS depth: a higher compliance leaves a
    thicker filament that the same pulse barely moves (issue 6: -1.42 V steps an LRS by 4 %
    of its read current at 40 uA, by 0.4 % at 100 uA). Solve after ``with_synapse_compliance``,
    which sets that depth. Illinois method on ln(drop) within ``level_range`` (V); returns the
    config and a record (v_te_reset, the drop reached)."""
    from cosim.fast.astdp import FastAstdpModel, NoSwitching

    if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not 0 < drop < 1:
        raise ValueError(f"reset_drop must be a fraction of the read current in (0, 1), got {drop!r}")
    lo, hi = sorted((abs(float(x)) for x in level_range))

    def error(magnitude: float) -> tuple[float, Any]:
        trial = dataclasses.replace(config, astdp=dataclasses.replace(config.astdp, v_te_reset=-magnitude))
        try:
            reached = first_reset_drop(FastAstdpModel.build(trial.stage(1)))
        except NoSwitching:  # a level too weak to move the gap at all: no drop
            reached = 0.0
        return math.log(max(reached, 1e-12) / drop), (trial, reached)

    f_lo, (_, d_lo) = error(lo)
    f_hi, (_, d_hi) = error(hi)
    if not f_lo <= 0 <= f_hi:
        raise ValueError(f"reset_drop {drop:.3g} is outside what RESET levels -{lo}..-{hi} V reach "
                         f"({d_lo:.3g}..{d_hi:.3g} of the LRS read current)")
    magnitude, (trial, reached) = _illinois(error, lo, f_lo, hi, f_hi, math.log1p(rel_tol),
                                          f"reset_drop {drop:.3g} RESET level")
    return trial, {"v_te_reset": -float(magnitude), "reset_drop": reached}


def label_neurons(winners: Any, labels: Any, n_neurons: int, n_classes: int) -> np.ndarray:
    """Each neuron's class: the one it wins most often for (ties: lowest class); -1 if it never wins."""
    table = digital.spike_counts(np.asarray(winners), n_neurons=n_neurons, labels=labels, n_classes=n_classes)
    return np.where(table.sum(axis=1) > 0, table.argmax(axis=1), -1)


def predict(winners: Any, neuron_labels: Any) -> np.ndarray:
    """Class of each image: its winner's label; -1 for no winner or an unlabelled neuron."""
    w = np.asarray(winners)
    nl = np.asarray(neuron_labels)
    return np.where(w >= 0, nl[np.maximum(w, 0)], -1)


def accuracies(predicted: Any, labels: Any, trained_classes: Sequence[int] | None = None) -> dict[str, float]:
    """Global accuracy, and on trained / non-trained classes when ``trained_classes`` splits them.
    An image without a prediction counts as wrong."""
    p, y = np.asarray(predicted), np.asarray(labels)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"predicted and labels must be equal-length vectors, got {p.shape} and {y.shape}")
    out = {"accuracy": float(np.mean(p == y)) if y.size else math.nan,
           "no_winner": float(np.mean(p < 0)) if y.size else math.nan}
    if trained_classes is not None:
        seen = np.isin(y, np.asarray(list(trained_classes)))
        out["accuracy_trained"] = float(np.mean(p[seen] == y[seen])) if seen.any() else math.nan
        out["accuracy_nontrained"] = float(np.mean(p[~seen] == y[~seen])) if (~seen).any() else math.nan
    return out


def power_proxy(run: Presentation) -> dict[str, float]:
    """Per-image means of the power proxy of a run."""
    n = max(len(run), 1)
    return {"fires_per_image": float(run.fires.sum() / n), "set_per_image": float(run.set_events.sum() / n),
            "reset_per_image": float(run.reset_events.sum() / n),
            "write_energy_per_image_j": float(run.write_energy.sum() / n)}


def _mean(flags: list[Any]) -> float:
    return float(np.mean(flags)) if flags else math.nan


def _slice_width(classifier: AstdpClassifier, contenders: int | None) -> float:
    n = classifier.stage.n_neurons
    return float(n if contenders is None else min(contenders, n))


SWITCHED_NM = 0.1  # nm: a gap change above this counts as a write (switching steps are ~0.1-1 nm)


def spice_check(classifier: AstdpClassifier, run: Presentation, *, contenders: int | None = None
                ) -> dict[str, float]:
    """Re-run the kept learning episodes of ``run`` in ngspice and in the fast engine from the
    same device states and spike trains. Both switch every reached synapse (SPICE has no
    stochastic writes), so this measures the engines, not the draws. Needs
    ``present(..., keep_states=...)``.

    ``contenders`` runs each on its ``race_slice`` (the spiking inputs and that many neurons)
    instead of the whole layer: a 128 x 40 layer is 5120 dynamic devices, a slice of 3 neurons
    ~380. Reports winner and spike-count agreement, the slice's winner against the whole layer's
    (``spice_winner_equal_layer``), and the written states: the fraction of slice synapses both
    engines agree were switched and the largest gap difference (nm). An episode ngspice cannot
    converge with any solver setting is counted in ``spice_check_failed`` (its netlist saved and
    logged), not fatal: the run's fast-engine result stands; one that needed safer settings
    than the first in ``spice_check_retried``."""
    from cosim.astdp_stage import run_episode
    from cosim.fast.astdp import run_fast_episode

    n = len(run.states_before)
    if n == 0:
        return {}
    same_winner, same_count, same_layer, same_switch, gap_diff = [], [], [], [], []
    failed = retried = 0
    for k in range(n):
        state, trains = run.states_before[k], run.spike_trains[k]
        gates = run.reset_gates[k] if run.reset_gates else None
        sl = race_slice(classifier, state, trains, contenders, reset_gated=gates)
        try:
            ep = run_episode(sl.config, sl.state, sl.trains, title=f"spice check {k}", reset_gated=sl.reset_gated)
        except SimulationFailed as exc:  # recorded, not fatal: the fast run's result stands
            log.warning("spice check %d did not converge in ngspice; netlist saved at %s", k, exc.netlist_path)
            failed += 1
            continue
        retried += ep.retried
        fast = run_fast_episode(dataclasses.replace(classifier.model, config=sl.config), sl.state, sl.trains,
                                deterministic_writes=True, reset_gated=sl.reset_gated)
        same_winner.append(ep.winner == fast.winner)
        same_count.append(bool(np.array_equal(ep.spike_counts, fast.spike_counts)))
        same_layer.append(sl.layer_winner(ep.winner) == sl.full_winner)
        before = sl.state.synapse_gaps
        moved_spice = np.abs(ep.state_after.synapse_gaps - before) * 1e9 > SWITCHED_NM
        moved_fast = np.abs(fast.state_after.synapse_gaps - before) * 1e9 > SWITCHED_NM
        same_switch.append(float(np.mean(moved_spice == moved_fast)) if before.size else 1.0)
        gap_diff.append(float(np.max(np.abs(ep.state_after.synapse_gaps - fast.state_after.synapse_gaps),
                                     initial=0.0)) * 1e9)
    done = len(same_winner)
    return {"spice_check_images": float(done), "spice_check_failed": float(failed),
            "spice_check_retried": float(retried),
            "spice_winner_equal": _mean(same_winner), "spice_spike_counts_equal": _mean(same_count),
            "spice_winner_equal_layer": _mean(same_layer), "spice_switch_agreement": _mean(same_switch),
            "spice_gap_max_diff_nm": float(np.max(gap_diff)) if done else math.nan,
            "spice_contenders": _slice_width(classifier, parse_contenders(contenders))}


__all__ = ["ClassifierConfig", "AstdpClassifier", "Presentation", "RaceSlice", "label_neurons", "predict",
           "accuracies", "parse_contenders", "power_proxy", "race_slice", "spice_check", "spice_check_inference",
           "with_synapse_compliance", "with_reset_drop", "first_reset_drop"]
