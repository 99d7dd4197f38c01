"""Checks of plain fitted values read from a file (widths, names, shapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "check_int",
    "check_int_tuple",
    "check_positive",
    "check_str",
    "check_str_array",
    "check_str_dict",
]


def check_int(low: int = 0) -> Callable[[Any], Any]:
    """Return a check that a value is an int >= ``low``."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise TypeError(f"expected an int >= {low}, got {value!r}")
        return value

    return check


def check_int_tuple(length: int) -> Callable[[Any], Any]:
    """Return a check that a value is a tuple of ``length`` positive ints."""

    def check(value: Any) -> Any:
        if (
            not isinstance(value, (tuple, list))
            or len(value) != length
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                       for v in value)
        ):  # fmt: skip
            raise TypeError(f"expected {length} positive ints, got {value!r}")
        return tuple(value)

    return check


def check_positive(value: Any) -> Any:
    """Check that a value is a finite number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise TypeError(f"expected a positive number, got {value!r}")
    return value


def check_str_dict(value: Any) -> Any:
    """Check that a value is a dict with string keys (keyword arguments)."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"expected a dict of keyword arguments, got {value!r}")
    return value


def check_str(value: Any) -> Any:
    """Check that a value is a string."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def check_str_array(value: Any) -> Any:
    """Check that a value is a 1-D array of strings (``feature_names_in_``)."""
    if (
        not isinstance(value, np.ndarray)
        or value.ndim != 1
        or not all(isinstance(v, str) for v in value)
    ):
        raise TypeError(f"expected a 1-D array of strings, got {value!r}")
    return value.astype(object)

