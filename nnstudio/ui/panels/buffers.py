"""Growing NumPy histories for live plots.

Why this exists: a plot that appends one point per training step must not reallocate or copy its whole
history each time.  :class:`GrowingBuffer` keeps a preallocated array that doubles when full (amortised
O(1) appends, also for a block of many points at once), and hands out ``view()`` = ``buf[:n]`` without a
copy, which pyqtgraph's ``setData`` takes directly.  :class:`SeriesTable` is a set of such columns of the
same length (step, loss, accuracy, ...) that grow together and export as CSV.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


class GrowingBuffer:
    """A 1-D float64 array that grows by doubling; ``view()`` is the filled part."""

    def __init__(self, capacity: int = 256, dtype: type = np.float64) -> None:
        self._data = np.empty(max(int(capacity), 1), dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return int(self._data.shape[0])

    def _reserve(self, needed: int) -> None:
        if needed <= self._data.shape[0]:
            return
        size = self._data.shape[0]
        while size < needed:
            size *= 2
        grown = np.empty(size, dtype=self._data.dtype)
        grown[:self._n] = self._data[:self._n]
        self._data = grown

    def append(self, value: float) -> None:
        self._reserve(self._n + 1)
        self._data[self._n] = value
        self._n += 1

    def extend(self, values: Iterable[float] | np.ndarray) -> None:
        block = np.asarray(values, dtype=self._data.dtype).reshape(-1)
        self._reserve(self._n + block.size)
        self._data[self._n:self._n + block.size] = block
        self._n += block.size

    def view(self) -> np.ndarray:
        """The values appended so far (a view, valid until the next append)."""
        return self._data[:self._n]

    def last(self, default: float = float("nan")) -> float:
        return float(self._data[self._n - 1]) if self._n else default

    def clear(self) -> None:
        self._n = 0


class SeriesTable:
    """Named columns of equal length that grow together (one row per step or epoch)."""

    def __init__(self, columns: Sequence[str], capacity: int = 256) -> None:
        self.columns = list(columns)
        self._buffers = {name: GrowingBuffer(capacity) for name in self.columns}

    def __len__(self) -> int:
        return len(self._buffers[self.columns[0]]) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self._buffers[name].view()

    def append_rows(self, **columns: Iterable[float] | np.ndarray | float) -> None:
        """Append the same number of values to every column; a missing column gets NaN."""
        blocks = {name: np.atleast_1d(np.asarray(v, dtype=np.float64)) for name, v in columns.items()}
        unknown = set(blocks) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}; this table has {self.columns}")
        sizes = {b.size for b in blocks.values()}
        if len(sizes) > 1:
            raise ValueError(f"columns of different lengths appended: { {k: b.size for k, b in blocks.items()} }")
        count = sizes.pop() if sizes else 0
        for name in self.columns:
            self._buffers[name].extend(blocks.get(name, np.full(count, np.nan)))

    def clear(self) -> None:
        for buf in self._buffers.values():
            buf.clear()

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: self[name] for name in self.columns}
