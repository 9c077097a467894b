"""Fig. 8 of the reference paper: A-STDP synaptic evolution, SFA threshold and spiking over images.

Input: a ``rramcosim cosim`` output folder (``cosim.pipeline.write_outputs``): ``winners.csv``
(image, label, winner, fires), ``features.csv`` (image, label, filter, bit, ...) and
``device_states.npz`` (``synapse_gaps_m`` (n_images, inputs, neurons) and ``sfa_gaps_m``
(n_images, neurons), in m, after each image). Panels, over the images in presentation order:
(a) mean read conductance of each neuron's pattern synapses (solid) and background synapses
(dashed), G = I(0.2 V)/0.2 V from the compact model; a neuron's pattern is the set of inputs whose
feature bit is 1 in most of the images it won (neurons that never won are left out);
(b) each neuron's SFA threshold V_TH; (c) output fires per image, first image of every class
marked (the paper: a new class first raises the spike frequency, which then decays).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from figures import common

logger = logging.getLogger(__name__)

NAME = "fig8_astdp_evolution"
V_READ = 0.2  # V, read voltage of the synapse conductance
WINNER_COLUMNS = ("image", "label", "winner", "fires")
FEATURE_COLUMNS = ("image", "filter", "bit")
STATE_KEYS = ("synapse_gaps_m", "sfa_gaps_m")


@dataclass(frozen=True, slots=True, kw_only=True)
class CosimRun:
    """The cached outputs of one co-simulation run that Fig. 8 needs."""

    winners: Any  # DataFrame: image, label, winner (-1: none), fires; one row per image in order
    features: Any  # DataFrame: image, filter, bit (0/1); one row per image and filter
    synapse_gaps_m: Any  # (n_images, inputs, neurons) m, filament gaps after each image
    sfa_gaps_m: Any  # (n_images, neurons) m, SFA cell gaps after each image


def load_cosim_run(folder: str | Path) -> CosimRun:
    """Read a ``rramcosim cosim`` output folder; errors name the file and what is missing."""
    import numpy as np

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no co-simulation output folder at {folder}")
    winners = common.read_table(folder / "winners.csv", WINNER_COLUMNS)
    features = common.read_table(folder / "features.csv", FEATURE_COLUMNS)
    npz = folder / "device_states.npz"
    if not npz.is_file():
        raise FileNotFoundError(f"no device states at {npz}")
    with np.load(npz) as states:
        missing = [k for k in STATE_KEYS if k not in states.files]
        if missing:
            raise common.TableError(f"{npz}: missing array(s) {missing}; it has {states.files}")
        return CosimRun(winners=winners, features=features,
                        synapse_gaps_m=np.asarray(states["synapse_gaps_m"]),
                        sfa_gaps_m=np.asarray(states["sfa_gaps_m"]))


def pattern_masks(bits: Any, winners: Any, n_inputs: int, n_neurons: int) -> dict[int, Any]:
    """Per neuron that won at least once: the boolean mask (inputs,) of its pattern synapses.

    ``bits`` (n_images, filters) 0/1, ``winners`` (n_images,) neuron or -1. With complement
    inputs (inputs = 2 x filters) input f + filters carries 1 - bit f."""
    import numpy as np

    bits = np.asarray(bits, dtype=float)
    if n_inputs == 2 * bits.shape[1]:
        bits = np.concatenate([bits, 1.0 - bits], axis=1)
    elif n_inputs != bits.shape[1]:
        raise common.TableError(f"features have {bits.shape[1]} filters per image but the synapse array "
                                f"has {n_inputs} inputs (expected filters or 2 x filters)")
    winners = np.asarray(winners)
    return {j: bits[winners == j].mean(axis=0) > 0.5 for j in range(n_neurons) if (winners == j).any()}


def plot_astdp_evolution(run: CosimRun, device: Any = None, sfa: Any = None, *,
                         v_read: float = V_READ) -> Any:
    """Three panels over images (see the module docstring); returns the matplotlib Figure.

    ``device``: compact-model DeviceParams (default: the "siox-literature" preset's);
    ``sfa``: SfaParams of the threshold cell (default ``circuits.astdp.default_astdp_sfa()``)."""
    import numpy as np
    from matplotlib.lines import Line2D

    from circuits.astdp import default_astdp_sfa
    from circuits.sfa import sfa_threshold
    from compact_model import equations as eq
    from compact_model.cards import load_preset

    device = load_preset("siox-literature").device if device is None else device
    sfa = default_astdp_sfa() if sfa is None else sfa
    common.require_columns(run.winners, WINNER_COLUMNS, "winners table")
    common.require_columns(run.features, FEATURE_COLUMNS, "features table")
    gaps = np.asarray(run.synapse_gaps_m, dtype=float)
    sfa_gaps = np.asarray(run.sfa_gaps_m, dtype=float)
    n_images, n_inputs, n_neurons = gaps.shape
    if len(run.winners) != n_images or sfa_gaps.shape != (n_images, n_neurons):
        raise common.TableError(f"{len(run.winners)} winner rows, synapse gaps {gaps.shape} and SFA gaps "
                                f"{sfa_gaps.shape} do not describe the same images and neurons")
    images = run.winners["image"].to_numpy()
    bits = (run.features.pivot_table(index="image", columns="filter", values="bit", aggfunc="first")
            .reindex(images).to_numpy())
    if np.isnan(bits).any():
        raise common.TableError("features table: not every image of winners.csv has every filter's bit")
    masks = pattern_masks(bits, run.winners["winner"].to_numpy(), n_inputs, n_neurons)
    g_us = 1e6 * np.asarray(eq.current(v_read, gaps, device, eq.NUMPY_OPS)) / v_read
    v_th = np.asarray(sfa_threshold(device, sfa_gaps, sfa))
    with common.style():
        fig, (ax_g, ax_t, ax_f) = common.new_figure(3, 1, figsize=(6.5, 7.0), sharex=True)
        for j, mask in masks.items():
            color = f"C{j % 10}"
            ax_g.plot(images, g_us[:, mask, j].mean(axis=1) if mask.any() else np.full(n_images, np.nan),
                      color=color, ls="-", label=f"neuron {j} pattern")
            ax_g.plot(images, g_us[:, ~mask, j].mean(axis=1) if (~mask).any() else np.full(n_images, np.nan),
                      color=color, ls="--", label=f"neuron {j} background")
        if not masks:
            logger.warning("no neuron won an image: no pattern/background synapses to draw")
        ax_g.legend(handles=[Line2D([], [], color="0.3", ls="-", label="pattern synapses"),
                             Line2D([], [], color="0.3", ls="--", label="background synapses")])
        ax_g.set(yscale="log", ylabel=f"mean synapse G at {v_read:g} V (µS)",
                 title="(a) synaptic evolution, pattern vs background (Fig. 8)")
        for j in range(n_neurons):
            ax_t.plot(images, 1e3 * v_th[:, j], color=f"C{j % 10}", label=f"neuron {j}")
        ax_t.set(ylabel=r"SFA threshold $V_{TH}$ (mV)", title="(b) spike-frequency adaptation threshold")
        ax_f.plot(images, run.winners["fires"].to_numpy(), "k.-", label="output fires")
        labels = run.winners["label"].to_numpy()
        _, first = np.unique(labels, return_index=True)
        for i in sorted(first):
            ax_f.axvline(images[i], color="0.6", lw=0.7, ls=":")
            ax_f.annotate(f"class {labels[i]}", xy=(images[i], 1.0), xycoords=("data", "axes fraction"),
                          fontsize=6, rotation=90, va="top", ha="right")
        ax_f.set(xlabel="image (presentation order)", ylabel="fires per image (1)",
                 title="(c) output spiking (new class: first image marked)")
    return fig


def make(folder: str | Path, out_dir: str | Path | None = None, preset: str = "siox-literature") -> Path:
    """Read the cached run, plot, save; returns the PNG path."""
    from compact_model.cards import load_preset

    fig = plot_astdp_evolution(load_cosim_run(folder), load_preset(preset).device)
    return common.save(fig, NAME, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="output folder of `rramcosim cosim`")
    p.add_argument("--preset", default="siox-literature", help="compact-model card of the synapses and SFA cells")
    args = p.parse_args(argv)
    print(make(args.folder, args.out, args.preset))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
