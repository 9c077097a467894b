"""Quasi-static I-V sweeps (one voltage sweep of one device) and helpers on them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ._common import FloatArray, check_finite, check_same_length, frozen_array, frozen_mapping


# eq=False: the fields are numpy arrays, whose == is element-wise, so a generated __eq__
# (and the __hash__ that frozen=True adds) would raise; identity semantics instead.
@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class IVSweep:
    """One measured I-V sweep. Arrays are read-only copies of equal length."""

    time: FloatArray  # s, time stamp of each point (the point index 0, 1, ... if not measured)
    voltage: FloatArray  # V, applied voltage (signed)
    current: FloatArray  # A, measured current (signed)
    label: str  # -, human-readable name, e.g. "04 endurance set:Run123"
    source: str  # -, path of the file the sweep was read from ("" if built in memory)
    compliance: float | None = None  # A, current compliance set on the instrument, if known
    metadata: Mapping[str, str] = field(default_factory=dict)  # -, extra "key: value" notes

    def __post_init__(self) -> None:
        for name in ("time", "voltage", "current"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), name))
        check_same_length("IVSweep", time=self.time, voltage=self.voltage, current=self.current)
        check_finite("IVSweep", time=self.time, voltage=self.voltage, current=self.current)
        if self.compliance is not None:
            c = float(self.compliance)
            if not (math.isfinite(c) and c > 0):
                raise ValueError(f"IVSweep: compliance must be a finite current > 0 A, got {c}")
            object.__setattr__(self, "compliance", c)
        object.__setattr__(self, "metadata", frozen_mapping(self.metadata))

    def __len__(self) -> int:
        return len(self.voltage)

    @property
    def apex(self) -> int:
        """Index of the point of largest |V| (the first one if several tie)."""
        return int(np.argmax(np.abs(self.voltage)))

    @property
    def polarity(self) -> int:
        """+1 or -1: sign of the voltage of largest magnitude (ValueError if V is all zero)."""
        v = self.voltage[self.apex]
        if v == 0:
            raise ValueError(f"IVSweep {self.label!r}: polarity undefined, voltage is all zero")
        return 1 if v > 0 else -1

    def split_branches(self) -> tuple[IVSweep, IVSweep]:
        """(outbound, return) halves split at the largest-|V| point.

        The apex point belongs to both halves so each is a complete curve on its own.
        """
        k = self.apex
        return self._slice(slice(0, k + 1), "out"), self._slice(slice(k, None), "return")

    def _slice(self, s: slice, suffix: str) -> IVSweep:
        return dataclasses.replace(self, time=self.time[s], voltage=self.voltage[s],
                                   current=self.current[s], label=f"{self.label}:{suffix}")


def estimate_compliance(sweep: IVSweep, rel_tol: float = 1e-3) -> float | None:
    """Current magnitude (A) at which the sweep was clamped by a compliance, else None.

    A compliance shows up as a plateau at the largest |I|: we require at least 3 consecutive
    points whose |I| is within ``rel_tol`` (relative) of max |I|, and return the median |I|
    of those plateau points. A peak (e.g. a RESET) gives None.
    """
    if not rel_tol >= 0:
        raise ValueError(f"rel_tol must be >= 0, got {rel_tol}")
    mag = np.abs(sweep.current)
    i_max = float(mag.max())
    if i_max <= 0:
        return None
    near = mag >= i_max * (1.0 - rel_tol)
    # Run lengths of consecutive True values, via the edges of the padded 0/1 signal.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], near.astype(np.int8), [0]))))
    starts, stops = edges[0::2], edges[1::2]
    plateau = np.zeros_like(near)
    for a, b in zip(starts, stops):
        if b - a >= 3:
            plateau[a:b] = True
    if not plateau.any():
        return None
    return float(np.median(mag[plateau]))
