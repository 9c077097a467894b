"""The digital logic of the reference system (an FPGA in the paper), vectorised over images.

Conventions (shared with ``cosim.filters`` and ``circuits.crossbar``):

* Column currents of the filter crossbar are (n_images, n_positions, n_filters) A, position
  p = y * side + x of the convolution window (row-major over the 9 x 9 output map of a 28 x 28
  image). A differential crossbar gives (n_images, n_positions, 2 * n_filters) with the pair of
  filter j interleaved as in ``CrossbarSpec.column_labels``: physical column 2j is G+ (colp_j),
  2j + 1 is G- (coln_j).
* Output maps are (n_images, n_filters, side, side); pooled values (n, F) for global pooling or
  (n, F, m, m) for k x k pooling; feature bits (n, F) or (n, F * m * m), filter-major.
* Thresholds: a bit is 1 exactly when pooled > V_REF (strict): a response equal to V_REF gives 0.
* Spike schedules: see ``SpikeSchedule`` and ``schedule_spikes``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

logger = logging.getLogger(__name__)

GLOBAL: Literal["global"] = "global"  # pooling region: the whole output map


# --------------------------------------------------------------------------------------------
# Convolution outputs, pooling, thresholds
# --------------------------------------------------------------------------------------------

def filter_outputs(column_currents: Any, *, differential: bool = False) -> np.ndarray:
    """Per-filter output maps (n, F, side, side) from column currents (n, positions, columns).

    ``differential=True``: columns are interleaved pairs (G+ of filter j at 2j, G- at 2j + 1)
    and each map is I+ - I-. The number of positions must be a perfect square (81 -> 9 x 9).
    """
    cur = np.asarray(column_currents, dtype=float)
    if cur.ndim != 3:
        raise ValueError(f"column_currents must have shape (n_images, positions, columns), got {cur.shape}")
    n, positions, cols = cur.shape
    side = math.isqrt(positions)
    if side * side != positions or positions == 0:
        raise ValueError(f"the number of positions must be a perfect square (e.g. 81 = 9 x 9), "
                         f"got {positions}")
    if differential:
        if cols % 2:
            raise ValueError(f"a differential crossbar has an even number of columns, got {cols}")
        cur = cur[..., 0::2] - cur[..., 1::2]
    if not np.all(np.isfinite(cur)):
        raise ValueError("column_currents must be finite")
    return np.ascontiguousarray(cur.transpose(0, 2, 1).reshape(n, cur.shape[2], side, side))


def max_pool(maps: Any, region: Literal["global"] | int = GLOBAL) -> np.ndarray:
    """Max pooling of output maps (n, F, h, w).

    ``"global"``: one value per filter, (n, F). An integer k: non-overlapping k x k windows,
    (n, F, ceil(h/k), ceil(w/k)); the last row/column of windows is smaller when k does not
    divide the map (every position is covered: no response is dropped).
    """
    arr = np.asarray(maps, dtype=float)
    if arr.ndim != 4:
        raise ValueError(f"maps must have shape (n_images, n_filters, height, width), got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError("maps must not contain NaN")
    if isinstance(region, str):
        if region != GLOBAL:
            raise ValueError(f"region must be 'global' or an integer k >= 1, got {region!r}")
        return arr.max(axis=(2, 3))
    if isinstance(region, bool) or not isinstance(region, (int, np.integer)) or region < 1:
        raise ValueError(f"region must be 'global' or an integer k >= 1, got {region!r}")
    k = int(region)
    n, f, h, w = arr.shape
    mh, mw = -(-h // k), -(-w // k)
    padded = np.full((n, f, mh * k, mw * k), -np.inf)
    padded[:, :, :h, :w] = arr  # -inf padding never wins a max
    return padded.reshape(n, f, mh, k, mw, k).max(axis=(3, 5))


def feature_bits(pooled: Any, v_ref: Any) -> np.ndarray:
    """Feature map bits: True exactly when pooled > v_ref (strict; equality gives False).

    ``pooled``: (n, F) or (n, F, m, m); ``v_ref``: (F,), one threshold per filter, in the unit of
    ``pooled``. Returns bool (n, F), or (n, F * m * m) filter-major for local pooling.
    """
    pooled = np.asarray(pooled, dtype=float)
    v_ref = np.asarray(v_ref, dtype=float)
    if pooled.ndim not in (2, 4):
        raise ValueError(f"pooled must have shape (n, F) or (n, F, m, m), got {pooled.shape}")
    if v_ref.shape != (pooled.shape[1],):
        raise ValueError(f"v_ref must have shape ({pooled.shape[1]},), one per filter, got {v_ref.shape}")
    if np.isnan(pooled).any() or not np.all(np.isfinite(v_ref)):
        raise ValueError("pooled must not contain NaN and v_ref must be finite")
    thresholds = v_ref if pooled.ndim == 2 else v_ref[:, None, None]
    return (pooled > thresholds).reshape(pooled.shape[0], -1)


# --------------------------------------------------------------------------------------------
# Spike scheduling for the A-STDP layer
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeSchedule:
    """Time slots of one presentation of a feature map to the A-STDP layer.

    Every slot lasts ``slot_time``; a spike is emitted at the start of its slot. Pattern slots
    (the active bits spike) come first and are spread evenly among the noise slots (each input
    spikes with probability ``p_noise``), see ``slot_kinds``.
    """

    slot_time: float  # s, duration of one slot (spike period)
    pattern_slots: int  # 1, slots in which the active feature bits spike
    noise_slots: int  # 1, slots of uncorrelated noise spikes
    p_noise: float  # 1, probability that an input spikes in a noise slot (independent draws)
    complement: bool = False  # add one complement input per bit (spikes when the bit is 0)

    def __post_init__(self) -> None:
        if isinstance(self.slot_time, bool) or not isinstance(self.slot_time, (int, float)) \
                or not math.isfinite(self.slot_time) or self.slot_time <= 0:
            raise ValueError(f"slot_time must be a finite number > 0 s, got {self.slot_time!r}")
        for name in ("pattern_slots", "noise_slots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.pattern_slots + self.noise_slots == 0:
            raise ValueError("pattern_slots + noise_slots must be >= 1 (an empty schedule)")
        if isinstance(self.p_noise, bool) or not isinstance(self.p_noise, (int, float)) \
                or not 0.0 <= self.p_noise <= 1.0:
            raise ValueError(f"p_noise must be a probability in [0, 1], got {self.p_noise!r}")
        if not isinstance(self.complement, bool):
            raise ValueError(f"complement must be a bool, got {self.complement!r}")

    @property
    def n_slots(self) -> int:
        return self.pattern_slots + self.noise_slots

    @property
    def duration(self) -> float:
        """s, length of one presentation."""
        return self.n_slots * self.slot_time

    def slot_kinds(self) -> np.ndarray:
        """bool (n_slots,), True for a pattern slot.

        Pattern slot i sits at slot floor(i * n_slots / pattern_slots): the first slot is a
        pattern slot and the noise slots are spread evenly after each one (P N N P N N for 2
        pattern and 4 noise slots), so noise always follows a pattern, which is what depresses
        the background synapses after a fire.
        """
        kinds = np.zeros(self.n_slots, dtype=bool)
        if self.pattern_slots:
            kinds[np.arange(self.pattern_slots) * self.n_slots // self.pattern_slots] = True
        return kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeTrains:
    """Input spikes of one or more presentations, as a raster over slots."""

    raster: np.ndarray  # bool (..., n_slots, n_inputs): input spikes at the start of the slot
    slot_times: np.ndarray  # s (n_slots,), start time of each slot
    is_pattern: np.ndarray  # bool (n_slots,), True for pattern slots

    def spike_times(self) -> tuple[np.ndarray, ...]:
        """Spike times (s) per input, sorted; only for a single presentation (2-D raster)."""
        if self.raster.ndim != 2:
            raise ValueError("spike_times() needs a single presentation (raster of shape (slots, inputs))")
        return tuple(self.slot_times[self.raster[:, i]] for i in range(self.raster.shape[1]))

    def counts(self) -> np.ndarray:
        """Spikes per input (..., n_inputs)."""
        return self.raster.sum(axis=-2)


def _as_bits(bits: Any) -> np.ndarray:
    bits = np.asarray(bits)
    if bits.ndim not in (1, 2) or bits.shape[-1] == 0:
        raise ValueError(f"bits must have shape (n_bits,) or (n_images, n_bits), got {bits.shape}")
    if bits.dtype != bool:
        if not np.all((bits == 0) | (bits == 1)):
            raise ValueError("bits must be booleans or 0/1")
        bits = bits.astype(bool)
    return bits


def pattern_inputs(bits: Any, schedule: SpikeSchedule) -> np.ndarray:
    """bool (..., n_inputs): the inputs that spike in a pattern slot of feature maps ``bits``
    (the bits, followed by their complements with ``schedule.complement``)."""
    bits = _as_bits(bits)
    return np.concatenate([bits, ~bits], axis=-1) if schedule.complement else bits


def schedule_spikes(bits: Any, schedule: SpikeSchedule, *, rng: np.random.Generator,
                    t_start: float = 0.0) -> SpikeTrains:
    """Spike raster of feature maps ``bits`` (n_bits,) or (n_images, n_bits) under ``schedule``.

    Inputs are the bits, followed (``schedule.complement``) by their complements. In a pattern
    slot input i spikes iff its bit (or complement) is 1; in a noise slot every input spikes
    independently with probability ``p_noise``. Noise is drawn in one call,
    ``rng.random((..., noise_slots, n_inputs))``, so the same seed gives the same trains.
    Slot s starts at ``t_start + s * slot_time`` (s).
    """
    bits = _as_bits(bits)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a seeded numpy Generator (np.random.default_rng(seed))")
    pattern = pattern_inputs(bits, schedule)
    kinds = schedule.slot_kinds()
    raster = np.zeros((*pattern.shape[:-1], schedule.n_slots, pattern.shape[-1]), dtype=bool)
    raster[..., kinds, :] = pattern[..., None, :]
    noise = rng.random((*pattern.shape[:-1], schedule.noise_slots, pattern.shape[-1]))
    raster[..., ~kinds, :] = noise < schedule.p_noise
    times = t_start + np.arange(schedule.n_slots) * schedule.slot_time
    raster.setflags(write=False)
    return SpikeTrains(raster=raster, slot_times=times, is_pattern=kinds)


# --------------------------------------------------------------------------------------------
# Winner-take-all and bookkeeping
# --------------------------------------------------------------------------------------------

def first_fire_times(spike_times: Sequence[Any]) -> np.ndarray:
    """First fire time (s) of each neuron from per-neuron spike-time arrays; inf if it never fired."""
    return np.array([np.min(t) if np.size(t) else np.inf for t in spike_times], dtype=float)


def winner_take_all(fire_times: Any) -> np.ndarray | int:
    """Index of the first neuron to fire; ties go to the lowest index; -1 if none fired.

    ``fire_times``: (n_neurons,) or (..., n_neurons) first fire times in s, ``inf`` for a
    neuron that did not fire. Returns an int, or an int array (...,) for batches.
    """
    t = np.asarray(fire_times, dtype=float)
    if t.ndim == 0 or t.shape[-1] == 0:
        raise ValueError(f"fire_times must have shape (..., n_neurons) with n_neurons >= 1, got {t.shape}")
    if np.isnan(t).any():
        raise ValueError("fire_times must not contain NaN (use inf for 'did not fire')")
    if np.isneginf(t).any():
        raise ValueError("fire_times must not contain -inf")
    winner = np.argmin(t, axis=-1)  # argmin returns the first of equal minima: ties -> lowest index
    winner = np.where(np.isposinf(np.min(t, axis=-1)), -1, winner)
    return int(winner) if winner.ndim == 0 else winner


def spike_counts(winners: Any, *, n_neurons: int, labels: Any = None,
                 n_classes: int | None = None) -> np.ndarray:
    """Fires per neuron (n_neurons,), or per neuron and class (n_neurons, n_classes) with labels.

    ``winners``: neuron indices of fire events (-1, no fire, is ignored); ``labels``: the class
    presented at each event. The per-class table is what labels neurons after learning.
    """
    w = np.asarray(winners).ravel()
    if not np.issubdtype(w.dtype, np.integer) and w.size:
        raise ValueError("winners must be integer neuron indices")
    if n_neurons < 1 or (w.size and (w.min() < -1 or w.max() >= n_neurons)):
        raise ValueError(f"winners must be in -1..{n_neurons - 1}")
    fired = w >= 0
    if labels is None:
        return np.bincount(w[fired], minlength=n_neurons)
    lab = np.asarray(labels).ravel()
    if lab.shape != w.shape:
        raise ValueError(f"labels must match winners, got {lab.shape} vs {w.shape}")
    if n_classes is None:
        n_classes = int(lab.max()) + 1 if lab.size else 1
    if lab.size and (lab.min() < 0 or lab.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1}")
    table = np.zeros((n_neurons, n_classes), dtype=np.int64)
    np.add.at(table, (w[fired], lab[fired]), 1)
    return table
