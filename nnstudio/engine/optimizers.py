"""Optimizers and learning-rate schedules.

Each optimizer implements one method, ``update(key, param, grad, lr)``, which changes ``param`` in place;
the base class's ``step`` does what is common to all of them first:

* **clip_norm** — global gradient-norm clipping: when the L2 norm of all gradients together exceeds
  ``clip_norm``, every gradient is scaled by ``clip_norm / norm`` (as PyTorch's ``clip_grad_norm_``).
* **weight_decay** — L2 regularisation added to the (clipped) gradient: ``g + weight_decay * param``.  For
  Adam this is the classic "L2 in the gradient" (not AdamW's decoupled decay).

State (velocities, moments) is created with ``xp.zeros_like(param)`` on the parameter's own device the first
time a key is seen.  Gradients are never modified: the gradient panels may still read them after the step.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from nnstudio.engine.backend import array_module
from nnstudio.errors import UserError

Params = list[tuple[str, Any, Any]]


def _check(name: str, field: str, value: float, low: float, high: float | None = None,
           low_inclusive: bool = True) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"Optimizer '{name}': {field} must be a number. Received: {field}={value!r}") from None
    ok = (value >= low if low_inclusive else value > low) and (high is None or value < high)
    if not ok or math.isnan(value):
        bound = f"{'at least' if low_inclusive else 'above'} {low:g}" + (f" and below {high:g}" if high else "")
        raise UserError(f"Optimizer '{name}': {field} must be {bound}. Received: {field}={value!r}")
    return value


class Optimizer:
    """Base class; subclasses implement :meth:`update`."""

    name = "optimizer"

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0, clip_norm: float | None = None) -> None:
        self.lr = _check(self.name, "lr", lr, 0.0, low_inclusive=False)
        self.weight_decay = _check(self.name, "weight_decay", weight_decay, 0.0)
        self.clip_norm = None if clip_norm is None else _check(self.name, "clip_norm", clip_norm, 0.0,
                                                               low_inclusive=False)
        self.state: dict[str, dict[str, Any]] = {}
        self.steps = 0
        self.last_grad_norm: float | None = None  # the global norm before clipping (when clipping is on)
        self._buffers: dict[str, Any] = {}  # per-parameter work buffers (not state: nothing to restore)

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        """Change ``param`` in place from its (clipped, decayed) gradient ``grad``."""
        raise NotImplementedError

    def step(self, params: Params, lr: float | None = None) -> None:
        """Apply one update to every ``(key, param, grad)``; ``lr`` defaults to the optimizer's own."""
        lr = self.lr if lr is None else float(lr)
        scale = 1.0
        if self.clip_norm is not None and params:
            norm = global_norm([g for _, _, g in params])
            self.last_grad_norm = norm
            if norm > self.clip_norm:
                scale = self.clip_norm / (norm + 1e-12)
        for key, param, grad in params:
            g = grad
            if scale != 1.0:
                g = g * scale
            if self.weight_decay:
                g = g + self.weight_decay * param
            self.update(key, param, g, lr)
        self.steps += 1

    def _slot(self, key: str, slot: str, param: Any) -> Any:
        """Per-parameter state, zeros on the parameter's device the first time."""
        slots = self.state.setdefault(key, {})
        if slot not in slots:
            slots[slot] = array_module(param).zeros_like(param)
        return slots[slot]

    def _scratch(self, key: str, param: Any) -> Any:
        """A work buffer shaped like ``param``, reused every step (updates then allocate nothing)."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != param.shape or buf.dtype != param.dtype:
            buf = self._buffers[key] = array_module(param).empty_like(param)
        return buf

    def reset(self) -> None:
        """Forget all state (e.g. after the weights were reloaded)."""
        self.state.clear()
        self._buffers.clear()
        self.steps = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, weight_decay={self.weight_decay}, clip_norm={self.clip_norm})"


def global_norm(arrays: list[Any]) -> float:
    """L2 norm of all ``arrays`` taken together (one host transfer)."""
    if not arrays:
        return 0.0
    total = sum((a * a).sum() for a in arrays)
    return math.sqrt(float(total))


class SGD(Optimizer):
    """param -= lr * g"""

    name = "sgd"

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        param -= lr * grad


class Momentum(Optimizer):
    """v = momentum * v + g; param -= lr * v   (PyTorch's SGD with momentum)."""

    name = "momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.momentum = _check(self.name, "momentum", momentum, 0.0, 1.0)

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        v = self._slot(key, "velocity", param)
        v *= self.momentum
        v += grad
        step = self._scratch(key, param)
        array_module(param).multiply(v, lr, out=step)
        param -= step


class Nesterov(Momentum):
    """v = momentum * v + g; param -= lr * (g + momentum * v)   (look-ahead momentum)."""

    name = "nesterov"

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        v = self._slot(key, "velocity", param)
        v *= self.momentum
        v += grad
        param -= lr * (grad + self.momentum * v)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected first and second moments, counted per parameter."""

    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.beta1 = _check(self.name, "beta1", beta1, 0.0, 1.0)
        self.beta2 = _check(self.name, "beta2", beta2, 0.0, 1.0)
        self.eps = _check(self.name, "eps", eps, 0.0, low_inclusive=False)
        self.t: dict[str, int] = {}

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        xp = array_module(param)
        m = self._slot(key, "m", param)
        v = self._slot(key, "v", param)
        t = self.t[key] = self.t.get(key, 0) + 1
        # Every operation writes into m, v or one reused buffer: no temporaries the size of the parameter.
        work = self._scratch(key, param)
        m *= self.beta1
        xp.multiply(grad, 1 - self.beta1, out=work)
        m += work
        v *= self.beta2
        xp.multiply(grad, grad, out=work)
        work *= 1 - self.beta2
        v += work
        # denom = sqrt(v / (1 - beta2^t)) + eps, then param -= lr / (1 - beta1^t) * m / denom
        xp.sqrt(v, out=work)
        work *= 1 / math.sqrt(1 - self.beta2 ** t)
        work += self.eps
        xp.divide(m, work, out=work)
        work *= lr / (1 - self.beta1 ** t)
        param -= work

    def reset(self) -> None:
        super().reset()
        self.t.clear()


class RMSprop(Optimizer):
    """s = rho * s + (1 - rho) g^2; param -= lr * g / (sqrt(s) + eps)."""

    name = "rmsprop"

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.rho = _check(self.name, "rho", rho, 0.0, 1.0)
        self.eps = _check(self.name, "eps", eps, 0.0, low_inclusive=False)

    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        xp = array_module(param)
        s = self._slot(key, "square_avg", param)
        s *= self.rho
        s += (1 - self.rho) * (grad * grad)
        denom = xp.sqrt(s)
        denom += self.eps
        param -= lr * grad / denom


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adam, RMSprop)}


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                   clip_norm: float | None = None, **kw: Any) -> Optimizer:
    """The optimizer called ``name`` (sgd, momentum, nesterov, adam, rmsprop).

    ``momentum`` only concerns momentum and nesterov; ``kw`` passes beta1 / beta2 / eps (adam) or
    rho / eps (rmsprop).
    """
    key = str(name).strip().lower()
    cls = OPTIMIZERS.get(key)
    if cls is None:
        raise UserError(f"Unknown optimizer '{name}': expected one of {', '.join(OPTIMIZERS)}")
    common = {"weight_decay": weight_decay, "clip_norm": clip_norm}
    allowed = {"adam": {"beta1", "beta2", "eps"}, "rmsprop": {"rho", "eps"}}.get(key, set())
    extra = sorted(set(kw) - allowed)
    if extra:
        raise UserError(f"Optimizer '{key}': unknown setting(s) {', '.join(extra)}"
                        + (f"; it accepts {', '.join(sorted(allowed))}" if allowed else ""))
    if key in ("momentum", "nesterov"):
        return cls(lr, momentum=momentum, **common)
    return cls(lr, **common, **kw)


SCHEDULES = ("constant", "step", "cosine")


def make_schedule(name: str, base_lr: float, total_steps: int, step_size: int | None = None,
                  gamma: float = 0.1) -> Callable[[int], float]:
    """A function step -> learning rate.

    constant: ``base_lr``.  step: ``base_lr * gamma ** (step // step_size)``, with ``step_size`` defaulting
    to a third of ``total_steps``.  cosine: from ``base_lr`` at step 0 down to 0 at ``total_steps`` along
    half a cosine (and 0 after).
    """
    key = str(name).strip().lower()
    if key not in SCHEDULES:
        raise UserError(f"Unknown learning-rate schedule '{name}': expected one of {', '.join(SCHEDULES)}")
    base = _check("schedule", "base_lr", base_lr, 0.0, low_inclusive=False)
    total = int(total_steps)
    if total < 1:
        raise UserError(f"Schedule '{key}': total_steps must be at least 1. Received: total_steps={total_steps!r}")
    if key == "constant":
        return lambda step: base
    if key == "step":
        size = max(1, total // 3) if step_size is None else int(step_size)
        if size < 1:
            raise UserError(f"Schedule 'step': step_size must be at least 1. Received: step_size={step_size!r}")
        g = _check("schedule", "gamma", gamma, 0.0, low_inclusive=False)
        return lambda step: base * g ** (max(0, int(step)) // size)
    return lambda step: 0.5 * base * (1.0 + math.cos(math.pi * min(max(0, int(step)), total) / total))
