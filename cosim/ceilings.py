"""How well could any prototype layer classify these feature maps? Ceilings for the A-STDP layer.

The A-STDP layer is a prototype classifier: with complement inputs, a neuron's read current
grows with the number of bits its synapses match (an inverse Hamming distance), winner-take-all
picks the best match, and each neuron is named by the class it wins most often. So the
accuracy of prototype classifiers on the same bits bounds what the layer can reach, and which
prototypes score like the layer tells what its learning rule stores:

* ``kmeans``: k-means centres of the learning stream (averages of clusters);
* ``class_means``: the mean map of each class (supervised: the averaging limit);
* ``exemplars``: k learning images as they are (what a rule that copies one pattern per fire
  keeps), mean over ``draws`` random choices;
* ``nearest_neighbour``: every labelling image a prototype (the memorising limit);
* ``linear``: a supervised logistic readout (a different model class: for scale only).

Every prototype is named by the majority class of the labelling images it is nearest to (the
layer's labelling step), except the class means, which carry their class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CeilingConfig", "prototype_accuracy", "kmeans_accuracy", "feature_ceilings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CeilingConfig:
    """Which ceilings ``feature_ceilings`` computes."""

    prototypes: int = 40  # 1, prototypes of k-means and of the exemplar draw (the layer's neurons)
    draws: int = 5  # 1, random exemplar sets averaged
    linear_epochs: int = 200  # 1, full-batch gradient steps of the logistic readout (0: skip it)
    seed: int = 0  # seeds k-means and the exemplar draws

    def __post_init__(self) -> None:
        for name, least in (("prototypes", 1), ("draws", 1), ("linear_epochs", 0), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"CeilingConfig.{name} must be an integer >= {least}, got {v!r}")


def _nearest(x: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Index of the nearest prototype (squared Euclidean; on 0/1 bits that is Hamming)."""
    x = x.astype(float)
    p = prototypes.astype(float)
    dist = (x * x).sum(1)[:, None] - 2.0 * x @ p.T + (p * p).sum(1)[None]
    return dist.argmin(axis=1)


def prototype_accuracy(prototypes: np.ndarray, label_bits: np.ndarray, label_labels: np.ndarray,
                       test_bits: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy of nearest-prototype classification, each prototype named by the majority class
    of the labelling images nearest to it (a prototype no labelling image reaches scores wrong)."""
    n_classes = int(max(label_labels.max(), test_labels.max())) + 1
    votes = np.zeros((len(prototypes), n_classes))
    np.add.at(votes, (_nearest(label_bits, prototypes), label_labels), 1)
    name = np.where(votes.sum(1) > 0, votes.argmax(axis=1), -1)
    return float(np.mean(name[_nearest(test_bits, prototypes)] == test_labels))


def kmeans_accuracy(learn_bits: np.ndarray, label_bits: np.ndarray, label_labels: np.ndarray,
                    test_bits: np.ndarray, test_labels: np.ndarray, *, clusters: int, seed: int) -> float:
    """k-means (k-means++ start, scipy) on the learning bits, clusters named on the labelling bits."""
    from scipy.cluster.vq import kmeans2

    centres, _ = kmeans2(learn_bits.astype(float), clusters, seed=seed, minit="++")
    return prototype_accuracy(centres, label_bits, label_labels, test_bits, test_labels)


def _linear_accuracy(label_bits: np.ndarray, label_labels: np.ndarray, test_bits: np.ndarray,
                     test_labels: np.ndarray, epochs: int, seed: int) -> float:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(label_bits, dtype=torch.float32)
    y = torch.as_tensor(label_labels, dtype=torch.long)
    n_classes = int(max(label_labels.max(), test_labels.max())) + 1
    w = (0.01 * torch.randn(x.shape[1], n_classes, generator=gen)).requires_grad_()
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(x @ w + b, y).backward()
        opt.step()
    with torch.no_grad():
        pred = (torch.as_tensor(test_bits, dtype=torch.float32) @ w + b).argmax(1).numpy()
    return float(np.mean(pred == test_labels))


def feature_ceilings(learn_bits: np.ndarray, label_bits: np.ndarray, label_labels: np.ndarray,
                     test_bits: np.ndarray, test_labels: np.ndarray,
                     config: CeilingConfig | None = None) -> dict[str, Any]:
    """Test accuracies of the prototype classifiers of the module docstring on one set of
    feature maps (bool or 0/1 arrays, one row per image)."""
    cfg = config or CeilingConfig()
    learn_bits, label_bits, test_bits = (np.asarray(a) for a in (learn_bits, label_bits, test_bits))
    label_labels, test_labels = np.asarray(label_labels, int), np.asarray(test_labels, int)
    widths = {a.shape[1] for a in (learn_bits, label_bits, test_bits) if a.ndim == 2}
    if len(widths) != 1 or any(a.ndim != 2 for a in (learn_bits, label_bits, test_bits)):
        raise ValueError("feature_ceilings: learn, label and test bits must be 2-D with one width, got shapes "
                         f"{learn_bits.shape}, {label_bits.shape}, {test_bits.shape}")
    if len(label_bits) != len(label_labels) or len(test_bits) != len(test_labels):
        raise ValueError("feature_ceilings: bits and labels differ in length")
    if cfg.prototypes > len(learn_bits):
        raise ValueError(f"feature_ceilings: {cfg.prototypes} prototypes need as many learning images, "
                         f"got {len(learn_bits)}")
    rng = np.random.default_rng([cfg.seed, 29])
    classes = np.unique(label_labels)
    means = np.stack([label_bits[label_labels == c].mean(0) for c in classes])
    exemplars = [prototype_accuracy(learn_bits[rng.choice(len(learn_bits), cfg.prototypes, replace=False)],
                                    label_bits, label_labels, test_bits, test_labels) for _ in range(cfg.draws)]
    row: dict[str, Any] = {
        "kmeans": kmeans_accuracy(learn_bits, label_bits, label_labels, test_bits, test_labels,
                                  clusters=cfg.prototypes, seed=cfg.seed),
        "class_means": float(np.mean(classes[_nearest(test_bits, means)] == test_labels)),
        "exemplars": float(np.mean(exemplars)),
        "exemplars_std": float(np.std(exemplars)),
        "nearest_neighbour": float(np.mean(label_labels[_nearest(test_bits, label_bits)] == test_labels)),
        "prototypes": cfg.prototypes,
    }
    if cfg.linear_epochs:
        row["linear"] = _linear_accuracy(label_bits, label_labels, test_bits, test_labels, cfg.linear_epochs,
                                         cfg.seed)
    return row
