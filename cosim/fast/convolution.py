"""The convolution stage on the fast engine: every filter position as one row-voltage vector of
``FastCrossbar`` (the same programmed array, wires and cells as ``cosim.convolution``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from circuits.crossbar import CrossbarSpec
from cosim.fast.crossbar import FastCrossbar


def fast_convolution(sim: Any) -> "FastConvolution":
    """The fast engine's copy of a ``cosim.pipeline.CoSimulation``'s programmed filter array."""
    return FastConvolution(sim.conv.spec, np.asarray(sim.programmed.gaps), v_max=sim.conv.v_read_max)


class FastConvolution:
    """Filter outputs (I+ - I-) of every position, through ``FastCrossbar``."""

    def __init__(self, spec: CrossbarSpec, states: np.ndarray, *, v_max: float, calibration: Any = None,
                 dtype: torch.dtype = torch.float32) -> None:
        self.crossbar = FastCrossbar(spec, states, v_range=(0.0, v_max), calibration=calibration, dtype=dtype)
        self.spec = spec

    def currents_of(self, patches: np.ndarray) -> np.ndarray:
        """Logical outputs (A), (vectors, filters), of row-voltage vectors (..., rows)."""
        flat = np.asarray(patches).reshape(-1, self.spec.rows)
        if self.spec.differential:
            return self.crossbar.pair_currents(flat).numpy()
        return self.crossbar.currents(flat).numpy()

    def pooled_outputs(self, patches: np.ndarray) -> np.ndarray:
        """Global max over positions, (images, filters), of patches (images, positions, rows)."""
        n, positions = patches.shape[:2]
        return self.currents_of(patches).reshape(n, positions, -1).max(axis=1)
