"""Declared parameter constraints of the built-in augmentations.

An augmentation class lists, in ``_parameter_constraints``, the values that
each of its constructor parameters may take: a list of alternatives, each a
constraint object below or ``None`` (the value None). A value is valid when
one alternative accepts it. The check says which class, parameter and value
failed and what was allowed: a :class:`TypeError` when no alternative accepts
the value's type, else a :class:`ValueError` (the type fits but the value is
out of range).

The constraints are small on purpose: they bound the work and memory that one
call of an augmentation can ask for (kernel sizes, walk lengths, rates of
added edges), since a saved file builds augmentations from plain numbers.
"""

from __future__ import annotations

import inspect
import math
import reprlib
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

#: most members of a :class:`~rince_sklearn.augment.Compose` or a random choice
MAX_MEMBERS = 64
#: deepest nesting of augmentations inside one another that is checked
MAX_DEPTH = 16

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = 6


def short_repr(value: Any) -> str:
    """``repr(value)``, shortened for error messages (long lists, strings)."""
    return _repr.repr(value)


def _is_sequence(value: Any) -> bool:
    """Whether ``value`` is a list, a tuple or a 1-D array."""
    return isinstance(value, (list, tuple)) or (
        isinstance(value, np.ndarray) and value.ndim == 1
    )


def _is_number(value: Any, kind: type) -> bool:
    """Whether ``value`` is a ``kind`` (Integral or Real) and not a bool."""
    return isinstance(value, kind) and not isinstance(value, bool)


class Constraint:
    """One alternative allowed for a parameter."""

    def accepts_type(self, value: Any) -> bool:
        """Whether ``value`` has a type this constraint can judge."""
        raise NotImplementedError  # pragma: no cover - abstract

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:
        """Whether ``value`` (of an accepted type) is allowed in ``owner``."""
        raise NotImplementedError  # pragma: no cover - abstract


class Number(Constraint):
    """An int (``Integral``) or a number (``Real``) in a closed range.

    Bools are refused (``True`` is an ``int`` to Python, not a rate). The
    range is closed at both ends unless ``open_low`` or ``open_high``; NaN is
    in no range.
    """

    def __init__(
        self,
        kind: type,
        low: float,
        high: float,
        *,
        open_low: bool = False,
        open_high: bool = False,
        odd: bool = False,
    ) -> None:
        self.kind = kind
        self.low = low
        self.high = high
        self.open_low = open_low
        self.open_high = open_high
        self.odd = odd

    def accepts_type(self, value: Any) -> bool:  # noqa: D102
        return _is_number(value, self.kind)

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:  # noqa: D102
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return bool(above and below) and (not self.odd or int(value) % 2 == 1)

    def __str__(self) -> str:
        what = "an int" if self.kind is Integral else "a number"
        if self.odd:
            what = "an odd int"
        left = "(" if self.open_low else "["
        right = ")" if self.open_high else "]"
        return f"{what} in {left}{self.low}, {self.high}{right}"


class NumberPair(Constraint):
    """A list, tuple or array ``(low, high)`` of two numbers, ``low <= high``."""

    def __init__(self, item: Number) -> None:
        self.item = item

    def accepts_type(self, value: Any) -> bool:  # noqa: D102
        return _is_sequence(value) and all(self.item.accepts_type(v) for v in value)

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:  # noqa: D102
        return (
            len(value) == 2
            and all(self.item.is_satisfied_by(v, owner) for v in value)
            and value[0] <= value[1]
        )

    def __str__(self) -> str:
        return f"a pair (low, high) with low <= high, each {self.item}"


class Options(Constraint):
    """One of a few strings."""

    def __init__(self, options: set[str]) -> None:
        self.options = frozenset(options)

    def accepts_type(self, value: Any) -> bool:  # noqa: D102
        return isinstance(value, str)

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:  # noqa: D102
        return value in self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in sorted(self.options))


#: ``_augment_takes_where``'s answers, by class
_TAKES_WHERE: dict[Any, bool] = {}


def _augment_takes_where(cls: Any) -> bool:
    """Whether ``cls.augment`` accepts the keyword ``where``."""
    answer = _TAKES_WHERE.get(cls)
    if answer is None:
        try:
            parameters = inspect.signature(cls.augment).parameters
        except (AttributeError, TypeError, ValueError):
            answer = False
        else:
            answer = "where" in parameters or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
            )
        _TAKES_WHERE[cls] = answer
    return answer


class Members(Constraint):
    """A list or tuple of ``min_len`` to ``max_len`` callables.

    With ``where``, each member must be an object whose ``augment`` accepts
    ``where=`` (what :class:`~rince_sklearn.augment.GraphRandomChoice` calls).
    """

    def __init__(
        self, min_len: int = 0, max_len: int = MAX_MEMBERS, *, where: bool = False
    ) -> None:
        self.min_len = min_len
        self.max_len = max_len
        self.where = where

    def accepts_type(self, value: Any) -> bool:  # noqa: D102
        return isinstance(value, (list, tuple)) and all(callable(v) for v in value)

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:  # noqa: D102
        if not self.min_len <= len(value) <= self.max_len:
            return False
        return not self.where or all(_augment_takes_where(type(v)) for v in value)

    def __str__(self) -> str:
        what = (
            "augmentations whose augment() accepts where="
            if self.where
            else "callables"
        )
        return f"a list of {self.min_len} to {self.max_len} {what}"


class Weights(Constraint):
    """One finite, non-negative weight per member, not all zero."""

    def __init__(self, members: str = "augmentations") -> None:
        self.members = members

    def accepts_type(self, value: Any) -> bool:  # noqa: D102
        return _is_sequence(value) and all(_is_number(v, Real) for v in value)

    def is_satisfied_by(self, value: Any, owner: Any) -> bool:  # noqa: D102
        members = getattr(owner, self.members, None)
        n = len(members) if isinstance(members, (list, tuple)) else -1
        return (
            len(value) == n
            and all(math.isfinite(v) and v >= 0 for v in value)
            and sum(value) > 0
        )

    def __str__(self) -> str:
        return (
            f"a list of finite weights >= 0, one per member of {self.members}, "
            "not all 0"
        )


def describe(allowed: list[Any]) -> str:
    """Describe the alternatives of one parameter, in words."""
    return " or ".join("None" if c is None else str(c) for c in allowed)


def check_declared(owner: Any, constraints: dict[str, list[Any]]) -> None:
    """Check ``owner``'s attributes against ``constraints``; raise if one fails."""
    for name, allowed in constraints.items():
        value = getattr(owner, name)
        typed = False
        for constraint in allowed:
            if constraint is None:
                if value is None:
                    break
                continue
            if constraint.accepts_type(value):
                typed = True
                if constraint.is_satisfied_by(value, owner):
                    break
        else:
            error: Callable[[str], Exception] = ValueError if typed else TypeError
            raise error(
                f"{type(owner).__name__}'s parameter {name}={short_repr(value)} is "
                f"not allowed: it must be {describe(allowed)}."
            )
