"""Pixel noise: a fixed fraction of each image's pixels replaced by uniform random values."""

from __future__ import annotations

import numpy as np

_CHUNK = 8192  # images per block: bounds the temporary sort keys (fixed, so draws are reproducible)


def replace_pixels(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A float32 copy of ``images`` (n, ...) in which ``round(fraction * pixels)`` distinct
    pixels of every image, at random positions, hold uniform random values in [0, 1).

    A pixel is one array element of an image (for colour images, one channel value).
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise ValueError(f"noise fraction must be a number in [0, 1], got {fraction!r}")
    out = np.array(images, dtype=np.float32)
    n = out.shape[0]
    flat = out.reshape(n, -1)
    pixels = flat.shape[1]
    k = int(round(fraction * pixels))
    if k == 0 or n == 0:
        return out
    for start in range(0, n, _CHUNK):
        block = flat[start:start + _CHUNK]
        # k smallest of uniform keys = k distinct positions, uniformly chosen, per row.
        keys = rng.random(block.shape, dtype=np.float32)
        positions = np.argpartition(keys, k - 1, axis=1)[:, :k]
        values = rng.random((block.shape[0], k), dtype=np.float32)
        np.put_along_axis(block, positions, values, axis=1)
    return out
