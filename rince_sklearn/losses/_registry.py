"""The registry of losses, by the name that the estimator's ``loss`` takes."""

from __future__ import annotations

from torch import nn

from ._infonce import InfoNCELoss
from ._rince import RINCELoss

__all__ = ["get_loss_class", "register_loss", "registered_loss_names"]

_LOSSES: dict[str, type[nn.Module]] = {"rince": RINCELoss, "infonce": InfoNCELoss}


def register_loss(name: str, cls: type[nn.Module], *, replace: bool = False) -> None:
    """Make the loss ``cls`` available to the estimator as ``loss=name``.

    The estimator builds it as ``cls(**settings)``, where ``settings`` are those
    of its ``q``, ``lam`` and ``temperature`` that the constructor accepts,
    and calls it as ``loss(z1, z2)`` on the two views' projections, or as
    ``loss(z1, z2, labels=labels)`` with ``supervision="labels"`` (``labels``
    as in :func:`rince`), so a loss that takes labels has a ``labels``
    parameter in ``forward``. A loss that also implements
    :class:`PerAnchorLoss` splits its work over the processes of a
    distributed run.

    Parameters
    ----------
    name : str
        The value of the estimator's ``loss`` parameter.
    cls : subclass of torch.nn.Module
        The loss.
    replace : bool, default=False
        Allow replacing a loss already registered under ``name`` (the
        built-in ``"rince"`` and ``"infonce"`` included). Without it,
        registering another class under a taken name is an error
        (registering the same class again is not).

    Raises
    ------
    TypeError
        ``name`` is not a non-empty str, or ``cls`` is not a subclass of
        ``torch.nn.Module``.
    ValueError
        ``name`` is taken by another class and ``replace=False``.

    See Also
    --------
    get_loss_class : Look a registered loss up.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import get_loss_class, register_loss
    >>> class AlignLoss(torch.nn.Module):  # pulls positive pairs together only
    ...     def forward(self, z1, z2):
    ...         return (z1 - z2).pow(2).sum(dim=1).mean()
    >>> register_loss("align", AlignLoss)
    >>> get_loss_class("align").__name__
    'AlignLoss'
    >>> register_loss("rince", AlignLoss)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: A loss named 'rince' is already registered (...RINCELoss); ...
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A loss's name must be a non-empty str, got {name!r}.")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"A loss must be a subclass of torch.nn.Module, got {cls!r}.")
    taken = _LOSSES.get(name)
    if taken is not None and taken is not cls and not replace:
        raise ValueError(
            f"A loss named {name!r} is already registered "
            f"({taken.__module__}.{taken.__qualname__}); pass replace=True to "
            f"replace it with {cls.__qualname__}, or register it under another "
            "name."
        )
    _LOSSES[name] = cls


def get_loss_class(name: str) -> type[nn.Module]:
    """Return the loss class registered as ``name``.

    Parameters
    ----------
    name : str
        ``"rince"``, ``"infonce"`` or a name added with :func:`register_loss`.

    Returns
    -------
    cls : subclass of torch.nn.Module

    Raises
    ------
    ValueError
        No loss has that name.

    Examples
    --------
    >>> from rince_sklearn.losses import get_loss_class
    >>> get_loss_class("infonce").__name__
    'InfoNCELoss'
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(
            f"No loss is registered as {name!r}; registered losses: "
            f"{sorted(_LOSSES)}. Add one with rince_sklearn.losses.register_loss."
        ) from None


def registered_loss_names() -> set[str]:
    """Return the names of the registered losses (a new set).

    Examples
    --------
    >>> from rince_sklearn.losses import registered_loss_names
    >>> {"rince", "infonce"} <= registered_loss_names()
    True
    """
    return set(_LOSSES)
