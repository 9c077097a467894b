"""The front end as a torch module: filters, max pooling, V_REF, and the temporary FF head.

Responses are in software units (weight x pixel value, pixels in [0, 1]). Class filters come
first (indices 0..n_cf-1), feature filters after them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cosim.frontend.quant import fake_quantize


def image_tensor(images: Any) -> torch.Tensor:
    """(n, H, W) or channels-last (n, H, W, C) images -> float32 (n, C, H, W)."""
    img = np.asarray(images, dtype=np.float32)
    if img.ndim == 3:
        return torch.from_numpy(img.copy())[:, None]  # a copy: inputs may be read-only
    if img.ndim == 4:
        return torch.from_numpy(np.ascontiguousarray(img.transpose(0, 3, 1, 2)).copy())
    raise ValueError(f"images must be (n, H, W) or (n, H, W, C), got {img.shape}")


def pool_maps(maps: torch.Tensor, pool: int | None) -> torch.Tensor:
    """(n, F, h, w) -> (n, F) global max, or (n, F, ceil(h/k), ceil(w/k)) non-overlapping k x k
    windows (the last ones smaller), exactly as ``cosim.digital.max_pool``."""
    if pool is None:
        return maps.amax(dim=(2, 3))
    return F.max_pool2d(maps, kernel_size=pool, stride=pool, ceil_mode=True)


def pooled_responses(weights: Any, images: Any, pool: int | None = None, *, batch: int = 500) -> np.ndarray:
    """Pooled software responses of ``weights`` (F, C, s, s) to ``images``, float64."""
    w = torch.tensor(np.asarray(weights, dtype=np.float32))  # a copy: inputs may be read-only
    x = image_tensor(images)
    if w.ndim != 4 or w.shape[1] != x.shape[1]:
        raise ValueError(f"weights (F, {x.shape[1]}, s, s) expected for these images, got {tuple(w.shape)}")
    out = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch):
            out.append(pool_maps(F.conv2d(x[start:start + batch], w), pool).double().numpy())
    return np.concatenate(out)


class FrontEndNet(torch.nn.Module):
    """Filters (F, C, s, s), learned V_REF (F,), and a linear head on the feature filters' bits."""

    def __init__(self, *, n_filters: int, channels: int, size: int, n_class_filters: int,
                 n_head_inputs: int, n_classes: int, init_std: float, generator: torch.Generator) -> None:
        super().__init__()
        self.n_cf = n_class_filters
        self.weight = torch.nn.Parameter(
            torch.randn((n_filters, channels, size, size), generator=generator) * init_std)
        self.v_ref = torch.nn.Parameter(torch.zeros(n_filters))
        self.head = torch.nn.Linear(max(n_head_inputs, 1), n_classes)
        bound = 1.0 / np.sqrt(max(n_head_inputs, 1))
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound, generator=generator)
            self.head.bias.zero_()
        self.max_level: int | None = None  # set: forward uses fake-quantised weights (QAT)

    def effective_weight(self) -> torch.Tensor:
        return self.weight if self.max_level is None else fake_quantize(self.weight, self.max_level)

    def pooled(self, x: torch.Tensor, pool: int | None) -> torch.Tensor:
        return pool_maps(F.conv2d(x, self.effective_weight()), pool)

    def v_ref_like(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.v_ref if pooled.ndim == 2 else self.v_ref[:, None, None]
