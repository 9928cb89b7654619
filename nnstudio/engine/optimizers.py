"""Optimizers and learning-rate schedules.

Each optimizer implements :meth:`Optimizer._kernel`, the element-wise update of one parameter from its
gradient and state; the base class's ``step`` does what is common to all of them first:

* **clip_norm** — global gradient-norm clipping: when the L2 norm of all gradients together exceeds
  ``clip_norm``, every gradient is scaled by ``clip_norm / norm`` (as PyTorch's ``clip_grad_norm_``).
* **weight_decay** — L2 regularisation added to the (clipped) gradient: ``g + weight_decay * param``.  For
  Adam this is the classic "L2 in the gradient" (not AdamW's decoupled decay).

State (velocities, moments) is created with ``xp.zeros_like(param)`` on the parameter's own device the first
time a key is seen.  Gradients are never modified: the gradient panels may still read them after the step.

Every operation writes into the parameter, its state or a reused work buffer: a step allocates nothing the
size of a parameter.  A big NumPy parameter is updated in blocks of :data:`CHUNK` elements (flat views), all
the passes of one block running while it is still in the CPU cache.  CuPy arrays (and small or
non-contiguous ones) are updated whole.

On contiguous NumPy arrays the kernels hand what the BLAS can do to its ``axpy`` / ``axpby``
(:mod:`.blas1`): momentum's whole update, the moving averages and the step of Adam and RMSprop, in fewer
passes and on the BLAS's own threads.  Those results may differ in a last bit where a block, a parameter or
a BLAS thread's share begins; with the NumPy passes alone (``NNSTUDIO_NUMPY_UPDATES=1``, or a BLAS without
these routines) the blocks do exactly the arithmetic of the whole-array passes, element by element.

The rest of the update runs on one thread.  Splitting a big parameter over two threads ourselves was
measured on a 2-core machine: it made the update itself faster in isolation, and in a training step when
OpenBLAS ran on one thread, but slower in a training step with OpenBLAS on its default two threads (which
right after the backward pass still hold the other core).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from nnstudio.engine import blas1
from nnstudio.engine.backend import array_module
from nnstudio.errors import UserError

Params = list[tuple[str, Any, Any]]

# Elements per block of a big NumPy parameter (1 MiB of float32 per array; a block's arrays stay in the L3
# cache, which a parameter, its gradient, state and buffers together may not).  Blocks small enough for L2
# (16K-32K) lost more to NumPy's per-call overhead, about a microsecond per pass, than they gained; of
# 64K..384K, 256K gave the fastest steps of every optimizer on a 1.6M-element Dense weight.
CHUNK = 262144


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


def _blockable(param: Any, arrays: list[Any]) -> bool:
    """Whether ``param`` is updated in blocks: a big contiguous NumPy array, and its gradient and state
    contiguous NumPy arrays of its shape and dtype (so flat views of all of them line up)."""
    if type(param) is not np.ndarray or param.size <= CHUNK or not param.flags.c_contiguous:
        return False
    return all(type(a) is np.ndarray and a.shape == param.shape and a.dtype == param.dtype
               and a.flags.c_contiguous for a in arrays)


class Optimizer:
    """Base class; subclasses name their per-parameter state in ``slots`` and implement :meth:`_kernel`."""

    name = "optimizer"
    slots: tuple[str, ...] = ()
    uses_spare = False  # whether _kernel writes into its second work buffer

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0, clip_norm: float | None = None) -> None:
        self.lr = _check(self.name, "lr", lr, 0.0, low_inclusive=False)
        self.weight_decay = _check(self.name, "weight_decay", weight_decay, 0.0)
        self.clip_norm = None if clip_norm is None else _check(self.name, "clip_norm", clip_norm, 0.0,
                                                               low_inclusive=False)
        self.state: dict[str, dict[str, Any]] = {}
        self.steps = 0
        self.last_grad_norm: float | None = None  # the global norm before clipping (when clipping is on)
        self._buffers: dict[Any, Any] = {}  # work buffers (not state: nothing to restore)
        # The packed state (see _packed_state): (packed parameters, keys, flat state per slot, each key's views)
        self._packing: tuple[Any, ...] | None = None

    # -- what each optimizer defines ------------------------------------------------------------------
    def _coefficients(self, key: str, lr: float) -> tuple[float, ...]:
        """The scalars of this step's update of parameter ``key`` (called once per parameter and step)."""
        return (lr,)

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        """Update ``param`` (a whole parameter or a block of one) in place from ``grad`` and ``state``.

        ``work`` and ``spare`` are buffers shaped like ``param``; ``grad`` may be ``spare`` itself (the
        clipped / decayed gradient), in which case the kernel may overwrite it once read.  ``c`` is what
        :meth:`_coefficients` gave.
        """
        raise NotImplementedError

    # -- the common part ------------------------------------------------------------------------------
    def update(self, key: str, param: Any, grad: Any, lr: float) -> None:
        """Change ``param`` in place from its (already clipped, decayed) gradient ``grad``."""
        self._update(key, param, grad, self._coefficients(key, lr), 1.0, 0.0)

    def step(self, params: Params, lr: float | None = None) -> None:
        """Apply one update to every ``(key, param, grad)``; ``lr`` defaults to the optimizer's own.

        When ``params`` carries the model's packed arrays (``params.packed``, see engine.model) and every
        parameter's step has the same coefficients, all of them are updated at once, on the flat arrays."""
        lr = self.lr if lr is None else float(lr)
        scale = 1.0
        if self.clip_norm is not None and params:
            norm = global_norm([g for _, _, g in params])
            self.last_grad_norm = norm
            if norm > self.clip_norm:
                scale = self.clip_norm / (norm + 1e-12)
        coefficients = [self._coefficients(key, lr) for key, _, _ in params]
        packed = getattr(params, "packed", None)
        if packed is not None and all(c == coefficients[0] for c in coefficients):
            state = self._packed_state(params, packed)
            self._apply(("packed",), packed.params, packed.grads, state, coefficients[0], scale, self.weight_decay)
        else:
            for (key, param, grad), c in zip(params, coefficients):
                self._update(key, param, grad, c, scale, self.weight_decay)
        self.steps += 1

    def _packed_state(self, params: Params, packed: Any) -> tuple[Any, ...]:
        """The state of every slot as one flat array laid out as ``packed`` (zeros where the packing leaves
        gaps), with each parameter's ``self.state`` entries views into it; made (keeping any state the
        parameters already had) the first time, and again when the packing or the state changed."""
        keys = tuple(key for key, _, _ in params)
        cached = self._packing
        if cached is not None and cached[0] is packed.params and cached[1] == keys and all(
                self.state.get(key, {}).get(slot) is view
                for key, views in zip(keys, cached[3]) for slot, view in zip(self.slots, views)):
            return cached[2]
        xp = array_module(packed.params)
        flat = tuple(xp.zeros_like(packed.params) for _ in self.slots)
        views = []
        for (key, param, _), start in zip(params, packed.offsets):
            slots = self.state.setdefault(key, {})
            mine = []
            for slot, whole in zip(self.slots, flat):
                view = whole[start:start + int(param.size)].reshape(param.shape)
                if slot in slots:
                    view[...] = slots[slot]
                slots[slot] = view
                mine.append(view)
            views.append(tuple(mine))
        self._packing = (packed.params, keys, flat, tuple(views))
        return flat

    def _update(self, key: str, param: Any, grad: Any, c: tuple[float, ...], scale: float, decay: float) -> None:
        state = tuple(self._slot(key, slot, param) for slot in self.slots)
        self._apply(key, param, grad, state, c, scale, decay)

    def _apply(self, key: Any, param: Any, grad: Any, state: tuple[Any, ...], c: tuple[float, ...], scale: float,
               decay: float) -> None:
        """Update ``param`` (one parameter, or the packed ones under the key ("packed",)) from ``grad``."""
        if _blockable(param, [grad, *state]):
            self._update_blocks(param, grad, state, c, scale, decay)
            return
        xp = array_module(param)
        work = self._scratch(key, param)
        spare = self._scratch(key, param, 1) if (self.uses_spare or scale != 1.0 or decay) else None
        g = _prepare_grad(xp, param, grad, work, spare, scale, decay)
        self._kernel(xp, param, g, state, work, spare, c)

    def _update_blocks(self, param: Any, grad: Any, state: tuple[Any, ...], c: tuple[float, ...],
                       scale: float, decay: float) -> None:
        """The update of a big NumPy parameter, :data:`CHUNK` elements of it (flat views) at a time."""
        flat = [a.reshape(-1) for a in (param, grad, *state)]
        work_full, spare_full = self._block_buffers(param.dtype)
        kernel = self._kernel
        n = param.size
        for i in range(0, n, CHUNK):
            j = min(i + CHUNK, n)
            p, g, *s = [a[i:j] for a in flat]
            work, spare = (work_full, spare_full) if j - i == CHUNK else (work_full[:j - i], spare_full[:j - i])
            kernel(np, p, _prepare_grad(np, p, g, work, spare, scale, decay), tuple(s), work, spare, c)

    def _block_buffers(self, dtype: Any) -> tuple[Any, Any]:
        """The two work buffers of one block, shared by all big parameters of ``dtype``."""
        bufs = self._buffers.get(("block", dtype))
        if bufs is None or bufs[0].size != CHUNK:
            bufs = self._buffers[("block", dtype)] = (np.empty(CHUNK, dtype), np.empty(CHUNK, dtype))
        return bufs

    def _slot(self, key: str, slot: str, param: Any) -> Any:
        """Per-parameter state, zeros on the parameter's device the first time."""
        slots = self.state.setdefault(key, {})
        if slot not in slots:
            slots[slot] = array_module(param).zeros_like(param)
        return slots[slot]

    def _scratch(self, key: str, param: Any, index: int = 0) -> Any:
        """Work buffer ``index`` shaped like ``param``, reused every step (updates then allocate nothing)."""
        buf = self._buffers.get((key, index))
        if buf is None or buf.shape != param.shape or buf.dtype != param.dtype or type(buf) is not type(param):
            buf = self._buffers[(key, index)] = array_module(param).empty_like(param)
        return buf

    def reset(self) -> None:
        """Forget all state (e.g. after the weights were reloaded)."""
        self.state.clear()
        self._buffers.clear()
        self._packing = None
        self.steps = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, weight_decay={self.weight_decay}, clip_norm={self.clip_norm})"


def _prepare_grad(xp: Any, param: Any, grad: Any, work: Any, spare: Any, scale: float, decay: float) -> Any:
    """The clipped, decayed gradient ``grad * scale + decay * param``, written into ``spare`` (``grad`` itself
    when there is nothing to do); ``work`` is free to use."""
    if scale != 1.0:
        xp.multiply(grad, scale, out=spare)
        grad = spare
    if decay:
        if grad is spare:
            xp.multiply(param, decay, out=work)
            spare += work
        else:
            xp.multiply(param, decay, out=spare)
            spare += grad
        grad = spare
    return grad


def global_norm(arrays: list[Any]) -> float:
    """L2 norm of all ``arrays`` taken together: NumPy arrays summed block by block into a Python float,
    device arrays on the device with one host transfer."""
    if not arrays:
        return 0.0
    total = 0.0
    device = []
    for a in arrays:
        if type(a) is np.ndarray:
            total += _sum_of_squares(a)
        else:
            device.append(a)
    if device:
        total += float(sum((a * a).sum() for a in device))
    return math.sqrt(total)


def _sum_of_squares(a: np.ndarray) -> float:
    """sum(a * a) of a NumPy array, block by block (no temporary the size of ``a``)."""
    if a.size <= CHUNK or not a.flags.c_contiguous:
        return float((a * a).sum())
    flat = a.reshape(-1)
    buf = np.empty(CHUNK, np.result_type(a.dtype, np.float32))
    total = 0.0
    for i in range(0, flat.size, CHUNK):
        block = flat[i:i + CHUNK]
        out = buf[:block.size]
        np.multiply(block, block, out=out)
        total += float(out.sum())
    return total


class SGD(Optimizer):
    """param -= lr * g"""

    name = "sgd"

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        if blas1.fits(param, grad):
            blas1.axpy(-c[0], grad, param)
            return
        xp.multiply(grad, c[0], out=work)
        param -= work


class Momentum(Optimizer):
    """v = momentum * v + g; param -= lr * v   (PyTorch's SGD with momentum)."""

    name = "momentum"
    slots = ("velocity",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.momentum = _check(self.name, "momentum", momentum, 0.0, 1.0)

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        (v,) = state
        if blas1.fits(param, grad, v):  # two passes instead of four (see engine.blas1)
            blas1.axpby(1.0, grad, self.momentum, v)
            blas1.axpy(-c[0], v, param)
            return
        v *= self.momentum
        v += grad
        xp.multiply(v, c[0], out=work)
        param -= work


class Nesterov(Momentum):
    """v = momentum * v + g; param -= lr * (g + momentum * v)   (look-ahead momentum)."""

    name = "nesterov"

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        (v,) = state
        if blas1.fits(param, grad, v):
            blas1.axpby(1.0, grad, self.momentum, v)
            blas1.axpy(-c[0], grad, param)
            blas1.axpy(-c[0] * self.momentum, v, param)
            return
        v *= self.momentum
        v += grad
        xp.multiply(v, self.momentum, out=work)
        work += grad
        work *= c[0]
        param -= work


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected first and second moments, counted per parameter."""

    name = "adam"
    slots = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.beta1 = _check(self.name, "beta1", beta1, 0.0, 1.0)
        self.beta2 = _check(self.name, "beta2", beta2, 0.0, 1.0)
        self.eps = _check(self.name, "eps", eps, 0.0, low_inclusive=False)
        self.t: dict[str, int] = {}

    def _coefficients(self, key: str, lr: float) -> tuple[float, ...]:
        t = self.t[key] = self.t.get(key, 0) + 1
        # denom = sqrt(v / (1 - beta2^t)) + eps, then param -= lr / (1 - beta1^t) * m / denom
        return 1 / math.sqrt(1 - self.beta2 ** t), lr / (1 - self.beta1 ** t)

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        m, v = state
        if blas1.fits(param, grad, m, v, work):  # eight passes instead of thirteen (see engine.blas1)
            blas1.axpby(1 - self.beta1, grad, self.beta1, m)
            xp.multiply(grad, grad, out=work)
            blas1.axpby(1 - self.beta2, work, self.beta2, v)
            xp.sqrt(v, out=work)
            work *= c[0]
            work += self.eps
            xp.divide(m, work, out=work)
            blas1.axpy(-c[1], work, param)
            return
        m *= self.beta1
        xp.multiply(grad, 1 - self.beta1, out=work)
        m += work
        v *= self.beta2
        xp.multiply(grad, grad, out=work)
        work *= 1 - self.beta2
        v += work
        xp.sqrt(v, out=work)
        work *= c[0]
        work += self.eps
        xp.divide(m, work, out=work)
        work *= c[1]
        param -= work

    def reset(self) -> None:
        super().reset()
        self.t.clear()


class RMSprop(Optimizer):
    """s = rho * s + (1 - rho) g^2; param -= lr * g / (sqrt(s) + eps)."""

    name = "rmsprop"
    slots = ("square_avg",)
    uses_spare = True

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8, **kw: Any) -> None:
        super().__init__(lr, **kw)
        self.rho = _check(self.name, "rho", rho, 0.0, 1.0)
        self.eps = _check(self.name, "eps", eps, 0.0, low_inclusive=False)

    def _kernel(self, xp: Any, param: Any, grad: Any, state: tuple[Any, ...], work: Any, spare: Any,
                c: tuple[float, ...]) -> None:
        (s,) = state
        if blas1.fits(param, grad, s, work):  # six passes instead of nine
            xp.multiply(grad, grad, out=work)
            blas1.axpby(1 - self.rho, work, self.rho, s)
            xp.sqrt(s, out=work)
            work += self.eps
            xp.divide(grad, work, out=work)
            blas1.axpy(-c[0], work, param)
            return
        s *= self.rho
        xp.multiply(grad, grad, out=work)
        work *= 1 - self.rho
        s += work
        xp.sqrt(s, out=work)
        work += self.eps
        xp.multiply(grad, c[0], out=spare)  # grad may be spare: it is not read after this
        xp.divide(spare, work, out=work)
        param -= work


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
