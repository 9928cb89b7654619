"""The one exception type for user errors.

Anything raised as :class:`UserError` is a mistake in the user's input (a file, a graph, a dataset, a
command-line argument) and carries a message meant for a person: the CLI prints it on one line and exits 1,
the GUI shows it in a dialog or the problems panel.  Any other exception is a bug.
"""
from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any


class UserError(Exception):
    """A problem with the user's input, with a message that names what, where and what was expected."""


# -- what a message shows of a value read from a file ----------------------------------------------------------
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 60


def shown_value(value: Any) -> str:
    """``value`` as a short text for a message (at most 80 characters): long lists, texts and deep nesting are
    abbreviated, and an integer of more digits than Python prints is named by its type."""
    try:
        text = _SHORT_REPR.repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a real number (a bool, a text, a list, NaN, an infinity
    or an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None
