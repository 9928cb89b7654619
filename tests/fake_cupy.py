"""A stand-in for CuPy on a machine without a CUDA GPU: NumPy does the arithmetic under CuPy's main rules.

The engine's device code (every branch taken when the array module is not NumPy) otherwise runs only on a
GPU.  Installed as the ``cupy`` module (:func:`installed`), this makes the backend find a "GPU", so that code
runs here and its results can be compared with NumPy's.  What it enforces is what breaks code written for
NumPy when it meets real CuPy arrays:

* a device array is not a ``numpy.ndarray`` (``isinstance`` and ``type`` checks see a different class), has
  no ``ctypes`` and its ``flags`` only ``c_contiguous``, ``f_contiguous`` and ``owndata``;
* it never turns into a host array implicitly: ``numpy.asarray``, ``numpy.array`` and anything else that calls
  ``__array__`` raise CuPy's TypeError; only ``.get()`` and ``cupy.asnumpy`` copy to the host;
* device and host arrays never mix: a NumPy array given to a CuPy function, in an operator or stored into a
  device array raises TypeError (CuPy copies host data to the device only through ``cupy.asarray`` /
  ``cupy.array``);
* CuPy's ufuncs do not take Python lists of numbers as arrays (only ``asarray`` and friends do);
* reductions give 0-d device arrays, not Python or NumPy scalars (``float()`` of one is allowed, as in CuPy).

Views share memory exactly as NumPy's do, so in-place updates through views and ``out=`` behave as on the GPU,
and a view's ``base`` is the device array that owns the memory.  What it does not know: which NumPy functions,
keywords and ``ndarray`` methods CuPy lacks beyond the few refused here (tests/engine/test_gpu_readiness.py
checks the engine's names against a real CuPy where one is installed), and CuPy's own type promotion (NumPy 2's
is used).
"""
from __future__ import annotations

import collections
import contextlib
import operator
import sys
import types
import weakref
from typing import Any, Iterator

import numpy as np

IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy "
            "array explicitly.")
# The functions that take host data (copying it to the device).
_FROM_HOST = {"asarray", "array", "ascontiguousarray", "asanyarray"}
# ndarray methods CuPy has (a subset of NumPy's: no ctypes, tofile, tostring, ...).
_METHODS = {
    "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "conj", "copy", "cumprod", "cumsum",
    "diagonal", "dot", "fill", "flatten", "item", "max", "mean", "min", "nonzero", "prod", "put", "ravel",
    "repeat", "reshape", "round", "sort", "squeeze", "std", "sum", "swapaxes", "take", "tobytes", "tolist",
    "trace", "transpose", "var", "view",
}


# NumPy functions called with device arrays (NumPy hands them over to CuPy's own, which CuPy has only for the
# functions it implements).  NumPy ufuncs on device arrays (``np.float32(2) * a``) are not recorded: CuPy takes
# every one of them over.
DISPATCHED: set[str] = set()
# Crossings between host and device, counted: "to_host" (``.get()``, ``asnumpy``) and "sync" (``float()``,
# ``int()``, ``bool()``, ``item()``, ``tolist()`` of a device array: each waits for the GPU to finish the work
# queued so far), and "to_device" (host data copied by ``asarray`` / ``array``).
CROSSINGS: "collections.Counter[str]" = collections.Counter()
# The wrapper of each NumPy array that owns its memory, so that a view's ``base`` is that wrapper, the same
# object each time (CuPy: ``view.base is owner``; the engine's packed parameters rely on it).
_OWNERS: "weakref.WeakValueDictionary[int, ndarray]" = weakref.WeakValueDictionary()


class _Flags:
    def __init__(self, a: np.ndarray) -> None:
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, key: str) -> bool:
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


def _host_refused(obj: Any) -> None:
    raise TypeError(f"Unsupported type {type(obj)}")


def _unwrap(obj: Any, lists: bool = False) -> Any:
    """The NumPy data behind device arrays in ``obj``; host arrays (but 0-d ones, which CuPy reads as scalars)
    and, unless ``lists``, lists refused."""
    if type(obj) is ndarray:
        return obj._a
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj[()]
        _host_refused(obj)
    if isinstance(obj, tuple):
        return tuple(_unwrap(o, lists) for o in obj)
    if isinstance(obj, list):
        if not lists and not all(type(o) is ndarray for o in obj):
            _host_refused(obj)
        return [_unwrap(o, lists) for o in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v, lists) for k, v in obj.items()}
    return obj


def _index(obj: Any) -> Any:
    """An index: device arrays unwrapped; host integer and boolean arrays are allowed (CuPy copies them)."""
    if type(obj) is ndarray:
        return obj._a
    if isinstance(obj, tuple):
        return tuple(_index(o) for o in obj)
    return obj


def _wrap(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return ndarray(obj)
    if isinstance(obj, np.generic):
        return ndarray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


def _result(value: Any, kwargs: dict) -> Any:
    """``value`` as device arrays; the ``out=`` array itself when that is what came back (as CuPy returns it)."""
    out = kwargs.get("out")
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    if type(out) is ndarray and value is out._a:
        return out
    return _wrap(value)


def _call(fn: Any, args: tuple, kwargs: dict, lists: bool = True) -> Any:
    """``fn`` on the NumPy data of ``args`` (host arrays refused; lists too unless ``lists``: they are fine as
    shapes, axes and indices, but CuPy's ufuncs take no list as an array)."""
    return _result(fn(*_unwrap(args, lists), **_unwrap(kwargs, True)), kwargs)


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: NumPy data that refuses to meet the host implicitly."""

    __slots__ = ("_a", "__weakref__")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise TypeError("ndarray() takes NumPy data; use cupy.asarray")
        self._a = data
        if data.base is None:
            _OWNERS[id(data)] = self

    # -- what CuPy's ndarray has ---------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    T = property(lambda self: ndarray(self._a.T))
    flags = property(lambda self: _Flags(self._a))
    device = property(lambda self: _DEVICE)

    @property
    def base(self) -> "ndarray | None":
        """The device array that owns this view's memory (None for an owner), the same object every time."""
        owner = self._a
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        if owner is self._a:
            return None
        found = _OWNERS.get(id(owner))
        return found if found is not None and found._a is owner else ndarray(owner)

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        CROSSINGS["to_host"] += 1
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr: np.ndarray, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError("set() takes a NumPy array")
        np.copyto(self._a, arr)

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(IMPLICIT)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _call(getattr(ufunc, method), inputs, kwargs, lists=False)

    def __array_function__(self, func: Any, types_: Any, args: tuple, kwargs: dict) -> Any:
        name = func.__name__
        DISPATCHED.add(name)
        if name in _FROM_HOST:
            return globals()[name](*args, **kwargs)
        return _call(func, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        if name in ("item", "tolist", "tobytes"):
            CROSSINGS["sync"] += 1
        method = getattr(self._a, name)
        return lambda *args, **kwargs: _call(method, args, kwargs)

    def __repr__(self) -> str:
        return f"fake-cupy {self._a!r}"

    # -- Python protocols --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Iterator[Any]:
        return (_wrap(row) for row in self._a)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_index(key)] = _unwrap(value)


def _binary(op: Any) -> Any:
    return lambda self, other: _wrap(op(self._a, _unwrap(other)))


def _reflected(op: Any) -> Any:
    return lambda self, other: _wrap(op(_unwrap(other), self._a))


def _inplace(op: Any) -> Any:
    def method(self: ndarray, other: Any) -> ndarray:
        op(self._a, _unwrap(other))
        return self

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    _op = getattr(operator, _name + "_") if _name in ("and", "or") else getattr(operator, _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _reflected(_op))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
for _convert in (bool, float, int, complex):  # a device value read on the host: the GPU is waited for
    setattr(ndarray, f"__{_convert.__name__}__",
            (lambda convert: lambda self: CROSSINGS.update(("sync",)) or convert(self._a))(_convert))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", (lambda op: lambda self: _wrap(op(self._a)))(getattr(operator, _name)))


# -- module functions ---------------------------------------------------------------------------------
def _host_data(a: Any, dtype: Any, order: Any, ndmin: int = 0) -> np.ndarray:
    """Host data to copy to the device: what CuPy can hold (numbers and booleans), always a fresh copy."""
    CROSSINGS["to_device"] += 1
    data = np.array(a, dtype=dtype, order=order or "K", copy=True, ndmin=ndmin)
    if data.dtype.kind not in "biufc" or data.dtype == np.longdouble:
        raise ValueError(f"Unsupported dtype {data.dtype}")
    return data


def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    if type(a) is ndarray:
        if (dtype is None or np.dtype(dtype) == a.dtype) and order in (None, "K", "A"):
            return a
        return ndarray(np.asarray(a._a, dtype=dtype, order=order))
    return ndarray(_host_data(a, dtype, order))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: Any = "K", subok: bool = False, ndmin: int = 0,
          *, blocking: bool = False) -> ndarray:
    if type(obj) is ndarray:
        data = np.array(obj._a, dtype=dtype, order=order, copy=bool(copy), ndmin=ndmin)
        return obj if data is obj._a else ndarray(data)
    return ndarray(_host_data(obj, dtype, order, ndmin))


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    a = asarray(a, dtype)
    return a if a._a.flags.c_contiguous else ndarray(np.ascontiguousarray(a._a))


asanyarray = asarray


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args: Any) -> Any:
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


class _Ufunc:
    def __init__(self, ufunc: np.ufunc) -> None:
        self._u = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # every input must be a device array or a scalar
        return _call(self._u, args, kwargs, lists=False)

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._u.reduce, args, kwargs)

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._u.accumulate, args, kwargs)

    def outer(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._u.outer, args, kwargs)


def _function(name: str) -> Any:
    fn = getattr(np, name)
    if isinstance(fn, np.ufunc):
        return _Ufunc(fn)

    def device_function(*args: Any, **kwargs: Any) -> Any:
        return _call(fn, args, kwargs)

    device_function.__name__ = name
    return device_function


def __getattr__(name: str) -> Any:  # module attributes on demand: functions wrapped, types and constants as NumPy's
    if name.startswith("__"):
        raise AttributeError(name)
    value = getattr(np, name)  # AttributeError for what NumPy lacks
    if isinstance(value, (types.ModuleType, type)) or not callable(value):
        if isinstance(value, types.ModuleType):
            raise AttributeError(f"module 'cupy' has no attribute '{name}'")
        return value  # float32, dtype, inf, pi, newaxis ...
    wrapped = _function(name)
    globals()[name] = wrapped
    return wrapped


# -- submodules: random, lib.stride_tricks, cuda ------------------------------------------------------
class _Generator:
    def __init__(self, seed: Any) -> None:
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name not in {"random", "standard_normal", "integers", "uniform", "binomial", "beta", "gamma",
                        "standard_exponential", "standard_gamma", "poisson", "exponential"}:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute '{name}'")
        method = getattr(self._g, name)
        return lambda *args, **kwargs: _call(method, args, kwargs)


random = types.ModuleType("cupy.random")
random.default_rng = _Generator  # type: ignore[attr-defined]
random.Generator = _Generator  # type: ignore[attr-defined]
for _name in ("rand", "randn", "random", "random_sample", "randint", "normal", "uniform", "standard_normal",
              "permutation", "shuffle", "seed", "choice"):
    setattr(random, _name, (lambda fn: lambda *args, **kwargs: _call(fn, args, kwargs))(getattr(np.random, _name)))

lib = types.ModuleType("cupy.lib")
lib.stride_tricks = types.ModuleType("cupy.lib.stride_tricks")  # type: ignore[attr-defined]
lib.stride_tricks.as_strided = (  # type: ignore[attr-defined]
    lambda x, shape=None, strides=None: _wrap(np.lib.stride_tricks.as_strided(_unwrap(x), shape, strides)))


class _Device:
    id = 0

    def __init__(self, device: int = 0) -> None:
        self.id = device

    def synchronize(self) -> None:
        pass

    @property
    def mem_info(self) -> tuple[int, int]:
        return _runtime.memGetInfo()

    def __enter__(self) -> "_Device":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class _Stream:
    def synchronize(self) -> None:
        pass


class _runtime:  # noqa: N801 - cupy.cuda.runtime
    @staticmethod
    def getDeviceCount() -> int:  # noqa: N802 - CUDA's names
        return 1

    @staticmethod
    def getDeviceProperties(device: int) -> dict[str, Any]:  # noqa: N802
        return {"name": b"Stand-in GPU", "totalGlobalMem": 16 << 30}

    @staticmethod
    def memGetInfo() -> tuple[int, int]:  # noqa: N802
        return 12 << 30, 16 << 30


_DEVICE = _Device()
_NULL_STREAM = _Stream()
_Stream.null = _NULL_STREAM  # type: ignore[attr-defined]
cuda = types.ModuleType("cupy.cuda")
cuda.runtime = _runtime  # type: ignore[attr-defined]
cuda.Device = _Device  # type: ignore[attr-defined]
cuda.Stream = _Stream  # type: ignore[attr-defined]
cuda.get_current_stream = lambda: _NULL_STREAM  # type: ignore[attr-defined]


class _Pool:
    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_POOL = _Pool()
get_default_memory_pool = lambda: _POOL  # noqa: E731
get_default_pinned_memory_pool = lambda: _POOL  # noqa: E731
__version__ = "0.0-stand-in"


@contextlib.contextmanager
def installed() -> Iterator[types.ModuleType]:
    """This module as ``cupy`` while the block runs, with the backend's cached discovery reset before and
    after (so the backend finds the stand-in GPU, and afterwards no GPU again).  A block that ends without an
    error must have handed no NumPy function a device array (:data:`DISPATCHED`, emptied on entry): everything
    on device arrays goes through the array module."""
    from nnstudio.engine import backend  # noqa: PLC0415

    module = sys.modules[__name__]
    saved = {k: sys.modules[k] for k in ("cupy",) if k in sys.modules}
    sys.modules["cupy"] = module
    backend._cupy_backend.cache_clear()  # noqa: SLF001
    DISPATCHED.clear()
    try:
        yield module
    finally:
        sys.modules.pop("cupy", None)
        sys.modules.update(saved)
        backend._cupy_backend.cache_clear()  # noqa: SLF001
    assert not DISPATCHED, f"NumPy functions called with device arrays: {sorted(DISPATCHED)}"
