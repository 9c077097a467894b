"""Quantisation of filter weights to signed levels, in numpy (the stored result) and in torch
(fake quantisation with a straight-through estimator, for quantisation-aware training).

Both use the rule of ``cosim.filters.quantize``: one scale per filter, scale = max|w| / L_max,
L = round(w / scale) half to even, clipped to [-L_max, L_max]; so numpy and torch agree on
every level and a bank re-quantised with the same bits and coding keeps its levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cosim.filters import WeightCoding, quantize


def quantize_levels(weights: Any, bits: int, coding: WeightCoding) -> tuple[np.ndarray, np.ndarray]:
    """Levels int16 with the shape of ``weights`` (F, ...) and scale float64 (F,)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim < 2:
        raise ValueError(f"weights must have shape (n_filters, ...), got {w.shape}")
    levels, scale = quantize(w.reshape(w.shape[0], -1, 1), bits, coding=coding)
    return levels.reshape(w.shape), scale


def fake_quantize(weight: torch.Tensor, max_level: int) -> torch.Tensor:
    """Quantised weights in the forward pass, identity gradient (straight-through) backwards.

    The per-filter scale is treated as a constant (detached): the gradient reaches every latent
    weight, including the largest one that sets the scale.
    """
    if max_level < 1:
        raise ValueError(f"max_level must be >= 1, got {max_level}")
    dims = tuple(range(1, weight.ndim))
    peak = weight.detach().abs().amax(dim=dims, keepdim=True)
    scale = torch.where(peak > 0, peak / max_level, torch.ones_like(peak))
    q = torch.clamp(torch.round(weight.detach() / scale), -max_level, max_level) * scale
    return weight + (q - weight.detach())
