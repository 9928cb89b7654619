"""Progress of long command-line work (an epoch, an evaluation, a download) on stderr.

Why this exists: an epoch of the full Fashion-MNIST takes minutes on two cores, and a command that prints
nothing for minutes looks hung.  On a terminal a tqdm bar moves within each epoch or file (rate and time
left); when stderr is a file or a pipe (a log, a CI job) or the command's stdout is JSON, a bar's carriage
returns would only litter the log, so a plain line is written instead, at most every ``plain_interval_s``
seconds (so short work prints none).  ``write`` prints a line above a running bar without tearing it.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, TextIO

from tqdm import tqdm

PLAIN_INTERVAL_S = 30.0


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _terminal_width(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


class Progress:
    """One unit of long work: ``update(done, postfix)`` as it goes, ``close()`` when it ends.

    ``total`` is counted in ``unit`` ("samples", "B"); with ``unit="B"`` the bar scales to kB / MB.  ``bar``
    says whether the tqdm bar is used (default: when ``stream`` is a terminal); otherwise a plain line
    ``DESC: DONE/TOTAL UNIT, RATE UNIT/s, Ns left POSTFIX`` goes out every ``plain_interval_s`` seconds.
    """

    def __init__(self, stream: TextIO, total: int, desc: str, unit: str = "samples", bar: bool | None = None,
                 plain_interval_s: float = PLAIN_INTERVAL_S, initial: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.total, self.desc, self.unit = stream, max(int(total), 0), desc, unit
        self.use_bar = is_terminal(stream) if bar is None else bar
        self.plain_interval = plain_interval_s
        self.clock = clock
        self.started = clock()
        self.initial = self.done = int(initial)
        self.last_plain = self.started
        self._bar: tqdm | None = None
        if self.use_bar:
            scaled = unit == "B"
            # A terminal that reports no size (a fresh pseudo-terminal, some CI consoles) would get no bar at
            # all from tqdm (it thinks there is no row to draw on): it gets 80 x 24 instead.
            known_size = _terminal_width(stream) > 0
            self._bar = tqdm(total=self.total or None, initial=self.done, desc=desc, unit=unit,
                             unit_scale=scaled, unit_divisor=1024 if scaled else 1000, file=stream, leave=False,
                             dynamic_ncols=known_size, ncols=None if known_size else 80,
                             nrows=None if known_size else 24, mininterval=0.1, smoothing=0.1)

    def update(self, done: int, postfix: str = "") -> None:
        """``done`` units of ``total`` are finished (an absolute count, not an increment)."""
        done = int(done)
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(postfix, refresh=False)
            if done != self.done:
                self._bar.update(done - self.done)
            self.done = done
            return
        self.done = done
        now = self.clock()
        if now - self.last_plain >= self.plain_interval and done < self.total:
            self.last_plain = now
            print(self.plain_text(now, postfix), file=self.stream, flush=True)

    def plain_text(self, now: float, postfix: str = "") -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.initial) / elapsed
        if self.unit == "B":
            amount = f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB, {rate / 1e6:.2f} MB/s"
        else:
            amount = f"{self.done:,}/{self.total:,} {self.unit}, {rate:,.0f} {self.unit}/s"
        left = f", {(self.total - self.done) / rate:,.0f}s left" if rate > 0 and self.total else ""
        return f"{self.desc}: {amount}{left}" + (f" {postfix}" if postfix else "")

    def write(self, text: str) -> None:
        """A line of text above the bar (or just the line when there is no bar)."""
        if self._bar is not None:
            self._bar.clear()
            print(text, file=self.stream, flush=True)
            self._bar.refresh()
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar (the work's own result line follows); idempotent."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["PLAIN_INTERVAL_S", "Progress", "is_terminal"]
