"""Shared fixtures of the cosim tests: a tiny digit-like data set in MNIST's IDX format."""

from __future__ import annotations

import numpy as np
import pytest


def digit_like(n: int, seed: int, n_classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images of ``n_classes`` classes: a bright square in a class-specific cell of a
    grid over the image, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n).astype(np.uint8)
    img = rng.random((n, 28, 28)) * 0.2
    width = int(np.ceil(np.sqrt(n_classes)))
    cell = 24 // width
    side, offset = 2 * cell // 3, 2 + cell // 6
    for i, k in enumerate(labels):
        r, c = divmod(int(k), width)
        img[i, offset + cell * r:offset + cell * r + side, offset + cell * c:offset + cell * c + side] = 1.0
    return (img * 255).astype(np.uint8), labels


def write_mnist_files(root, train: tuple, test: tuple):
    """``root``/mnist/ with the four IDX files of (images uint8 (n, 28, 28), labels) per split."""
    from cosim.datasets import idx

    folder = root / "mnist"
    folder.mkdir(parents=True)
    for split, (images, labels) in (("train", train), ("t10k", test)):
        idx.write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.asarray(images, dtype=np.uint8))
        idx.write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.asarray(labels, dtype=np.uint8))
    return root


@pytest.fixture(scope="session")
def digit_images():
    """``digit_like`` for tests that need other sizes or class counts."""
    return digit_like


@pytest.fixture(scope="session")
def mnist_files():
    """``write_mnist_files`` for tests that make their own images."""
    return write_mnist_files


@pytest.fixture(scope="session")
def digit_data_dir(tmp_path_factory):
    """A data dir holding "mnist" IDX files: 400 training and 120 test images of 4 classes."""
    return write_mnist_files(tmp_path_factory.mktemp("data"), digit_like(400, 0), digit_like(120, 1))
