"""The metaplastic update rule, the weight quantiser and the optimisers that apply the rule.

Metaplasticity (Laborieux et al., "Synaptic metaplasticity in binarized neural networks",
Nat. Commun. 12, 2549 (2021)): every quantised weight has a high-precision hidden weight W_h.
An optimiser step that would DECREASE |W_h| (move it toward zero, possibly across it, which is
what flips the binary weight sign(W_h)) is multiplied by

    f_meta(m, W_h) = 1 - tanh^2(m * W_h),

a step that increases |W_h| is applied in full. So a hidden weight that has grown large (a
weight that mattered for a past task) becomes hard to flip: it is consolidated. m = 0 gives
f_meta = 1, the plain optimiser. D'Agostino et al. (AICAS 2023, arXiv:2306.12142) keep the
same rule for multi-level (quantised) weights stored in memristors, the hidden weights living
in digital memory; here the quantised weight is ``WeightQuantizer`` of W_h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

__all__ = ["WeightQuantizer", "metaplastic_attenuation", "MetaplasticAdam", "MetaplasticSGD",
           "fixed_point_step", "round_to_fixed_point"]


def metaplastic_attenuation(update: torch.Tensor, hidden: torch.Tensor, meta: float) -> torch.Tensor:
    """The update actually applied to ``hidden``: ``update`` times f_meta where it decreases |W_h|.

    "Toward zero" is judged as in Laborieux et al.: the update's sign is opposite to sign(W_h).
    A hidden weight at exactly 0 has no sign, so nothing is attenuated there (f_meta(0) = 1
    anyway).
    """
    if meta == 0:
        return update
    toward_zero = update * torch.sign(hidden) < 0
    f_meta = 1.0 - torch.tanh(meta * hidden) ** 2
    return torch.where(toward_zero, update * f_meta, update)


def fixed_point_step(bits: int, max_value: float) -> float:
    """Resolution of a signed ``bits``-bit fixed-point number spanning [-max_value, max_value]."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"bits must be an integer >= 2, got {bits!r}")
    if not (math.isfinite(max_value) and max_value > 0):
        raise ValueError(f"max_value must be a finite number > 0, got {max_value!r}")
    return 2.0 * max_value / (2 ** bits - 1)


def round_to_fixed_point(hidden: torch.Tensor, bits: int, max_value: float) -> torch.Tensor:
    """``hidden`` as stored in a ``bits``-bit fixed-point digital memory: clipped to
    [-max_value, max_value] and rounded to the nearest of its 2^bits - 1 steps (an update smaller
    than half a step is lost, which is what bounds the precision the hidden weight needs)."""
    step = fixed_point_step(bits, max_value)
    return torch.clamp(torch.round(hidden / step) * step, -max_value, max_value)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightQuantizer:
    """Uniform symmetric quantiser of hidden weights to ``n_levels`` weight values in [-1, 1].

    Weight values q_j = -1 + 2 j / (k - 1), j = 0..k-1 (k = 2: the binary weights +-1 of a BNN,
    i.e. sign(W_h); k = 3: ternary -1, 0, 1). The hidden weight is first divided by
    ``w_range``: |W_h| >= w_range maps to the extreme values, and metaplasticity lets it grow
    beyond that to consolidate.

    Signed device level: q = L * unit with integer L, so a differential pair programs
    G+ = level max(L, 0), G- = level max(-L, 0). Odd k: L = j - (k-1)/2 in -(k-1)/2..(k-1)/2
    (unit 2/(k-1)); even k: L = 2j - (k-1), odd integers in -(k-1)..(k-1) (unit 1/(k-1)), so
    zero is never a weight. ``device_levels`` = max|L| + 1 levels per device.
    """

    n_levels: int  # 1, number of weight values k (2 = binarised)
    w_range: float = 1.0  # 1 (hidden-weight units), |W_h| mapped to the extreme weight value

    def __post_init__(self) -> None:
        k = self.n_levels
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"n_levels must be an integer >= 2, got {k!r}")
        if not (isinstance(self.w_range, (int, float)) and math.isfinite(self.w_range)
                and self.w_range > 0):
            raise ValueError(f"w_range must be a finite number > 0, got {self.w_range!r}")

    @property
    def binary(self) -> bool:
        return self.n_levels == 2

    @property
    def max_level(self) -> int:
        """Largest signed device level |L|."""
        k = self.n_levels
        return (k - 1) // 2 if k % 2 else k - 1

    @property
    def device_levels(self) -> int:
        """Conductance levels each device of a differential pair needs (level 0 = HRS)."""
        return self.max_level + 1

    @property
    def unit(self) -> float:
        """Weight value of signed level 1."""
        return 1.0 / self.max_level

    @property
    def bits(self) -> int:
        """Bits to store one quantised weight: ceil(log2 k)."""
        return int(math.ceil(math.log2(self.n_levels)))

    def values(self) -> np.ndarray:
        """The k weight values, ascending."""
        return np.linspace(-1.0, 1.0, self.n_levels)

    def index(self, hidden: torch.Tensor) -> torch.Tensor:
        """Index j (int64) of the weight value of each hidden weight (round half to even)."""
        k = self.n_levels
        x = torch.clamp(hidden / self.w_range, -1.0, 1.0)
        return torch.round((x + 1.0) * (k - 1) / 2.0).to(torch.int64)

    def signed_levels(self, hidden: torch.Tensor) -> torch.Tensor:
        """Signed device level L (int64) of each hidden weight."""
        j = self.index(hidden)
        k = self.n_levels
        return j - (k - 1) // 2 if k % 2 else 2 * j - (k - 1)

    def quantize(self, hidden: torch.Tensor) -> torch.Tensor:
        """Quantised weight values (same dtype as ``hidden``), no gradient."""
        return (self.signed_levels(hidden).to(hidden.dtype) * self.unit).detach()


class _Metaplastic(torch.optim.Optimizer):
    """Shared step: compute the plain update, attenuate it by the rule, add it to the weight."""

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # noqa: D102 (torch signature)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = self._update(p, p.grad, group)
                p.add_(metaplastic_attenuation(update, p, group["meta"]))
        return loss


def _check_common(lr: float, meta: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (math.isfinite(meta) and meta >= 0):
        raise ValueError(f"meta must be a finite number >= 0, got {meta!r}")


class MetaplasticAdam(_Metaplastic):
    """Adam (Kingma & Ba) whose bias-corrected step passes through ``metaplastic_attenuation``,
    as in Laborieux et al.'s metaplastic Adam. ``meta`` may differ per parameter group (0 for
    parameters that are not hidden weights, e.g. batch-norm ones)."""

    def __init__(self, params: Iterable[Any], *, lr: float = 5e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, meta: float = 0.0) -> None:
        _check_common(lr, meta)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, meta=meta))

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        b1, b2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].mul_(b1).add_(grad, alpha=1 - b1)
        state["exp_avg_sq"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = state["exp_avg"] / (1 - b1 ** t)
        v_hat = state["exp_avg_sq"] / (1 - b2 ** t)
        return -group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])


class MetaplasticSGD(_Metaplastic):
    """Plain SGD (optional momentum) whose step passes through ``metaplastic_attenuation``."""

    def __init__(self, params: Iterable[Any], *, lr: float = 1e-2, momentum: float = 0.0,
                 meta: float = 0.0) -> None:
        _check_common(lr, meta)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, meta=meta))

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        if group["momentum"]:
            state = self.state[p]
            buf = state.setdefault("momentum", torch.zeros_like(p))
            buf.mul_(group["momentum"]).add_(grad)
            grad = buf
        return -group["lr"] * grad
