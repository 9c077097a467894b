"""Readouts that measure the quality of the front end's features (not part of the hardware).

* Class-filter decision: the class of the class filter with the largest normalised pooled
  margin (pooled - V_REF) / gain.
* A supervised multinomial logistic readout on the feature bits (full-batch L-BFGS, L2), the
  spec's probe of how much class information the bits carry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

logger = logging.getLogger(__name__)


def cf_decision(margins: Any, cf_classes: Sequence[int]) -> np.ndarray:
    """Predicted labels (n,): argmax over class filters' margins (n, n_cf) -> their classes."""
    m = np.asarray(margins, dtype=float)
    cls = np.asarray(list(cf_classes), dtype=np.int64)
    if m.ndim != 2 or m.shape[1] != cls.size or cls.size == 0:
        raise ValueError(f"margins must be (n, {cls.size}) for {cls.size} class filters, got {m.shape}")
    return cls[np.argmax(m, axis=1)]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LinearReadout:
    """Multinomial logistic readout: label = classes[argmax(bits @ weight + bias)]."""

    weight: np.ndarray  # (n_bits, n_classes)
    bias: np.ndarray  # (n_classes,)
    classes: tuple[int, ...]  # the label of each output

    def predict(self, bits: Any) -> np.ndarray:
        x = np.asarray(bits, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.weight.shape[0]:
            raise ValueError(f"bits must be (n, {self.weight.shape[0]}), got {x.shape}")
        return np.asarray(self.classes)[np.argmax(x @ self.weight + self.bias, axis=1)]

    def accuracy(self, bits: Any, labels: Any) -> float:
        return float(np.mean(self.predict(bits) == np.asarray(labels)))


def fit_linear_readout(bits: Any, labels: Any, *, l2: float = 1e-4, max_iter: int = 200) -> LinearReadout:
    """Fit a logistic readout on feature bits (n, n_bits) -> labels (n,), deterministically
    (zero start, full-batch L-BFGS); ``l2`` is the penalty on the weights per sample."""
    x = torch.as_tensor(np.asarray(bits, dtype=np.float64))
    lab = np.asarray(labels)
    if x.ndim != 2 or lab.shape != (x.shape[0],) or x.shape[0] == 0:
        raise ValueError(f"bits (n, n_bits) and labels (n,) expected, got {tuple(x.shape)}, {lab.shape}")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    classes = tuple(int(c) for c in np.unique(lab))
    y = torch.as_tensor(np.searchsorted(np.asarray(classes), lab))
    # Centred inputs condition L-BFGS better; the centring is folded into the bias afterwards.
    mu = x.mean(dim=0)
    xc = x - mu
    w = torch.zeros((x.shape[1], len(classes)), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xc @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weight = w.detach().numpy().copy()
    bias = (b.detach() - mu @ w.detach()).numpy().copy()
    weight.setflags(write=False)
    bias.setflags(write=False)
    return LinearReadout(weight=weight, bias=bias, classes=classes)
