"""What a modality is, what it may touch on the estimator, and the registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from torch import nn

from ..batching import BatchSource
from ..graphs import _holds_integers, looks_like_graph

__all__ = [
    "Modality",
    "ModalityHost",
    "get_modality",
    "modality_names",
    "register_modality",
    "unregister_modality",
]


class ModalityHost(Protocol):
    """The estimator as a modality sees it: what a modality may read and write.

    A modality reads the estimator's parameters listed here and, in
    ``prepare(reset=True)``, records the description of the fitted input on it
    (``n_features_in_`` always; the others when they apply). It touches nothing
    else (``tests/test_modalities.py`` checks the built-in modalities).
    :class:`~rince_sklearn.RobustContrastiveEmbedder` satisfies this protocol;
    a type checker checks that a modality's code keeps to it.

    Attributes
    ----------
    image_shape : tuple of int or None
        The ``image_shape`` parameter (read only).
    n_features_in_ : int
        Number of features of the fitted input (``validate_data`` sets it).
    feature_names_in_ : ndarray of str
        Column names of a fitted DataFrame (``validate_data`` sets or deletes it).
    image_shape_ : tuple of int
        ``(C, H, W)`` of fitted images.
    input_dtype_ : str
        dtype of fitted images (``"uint8"``, ``"float32"``, ...).
    input_range_ : tuple of float
        ``(min, max)`` of fitted images as the encoder reads them.

    Examples
    --------
    >>> import typing
    >>> from rince_sklearn.modalities import ModalityHost
    >>> hints = typing.get_type_hints(ModalityHost)  # what prepare may write
    >>> hints["n_features_in_"], hints["image_shape_"]
    (<class 'int'>, tuple[int, int, int])
    """

    # parameters: read-only for a modality
    @property
    def image_shape(self) -> Sequence[int] | None:  # noqa: D102
        ...

    @property
    def batch_size(self) -> int:  # noqa: D102 - read by "auto" max_epochs
        ...

    # the fitted input's description
    n_features_in_: int
    feature_names_in_: np.ndarray
    image_shape_: tuple[int, int, int]
    input_dtype_: str
    input_range_: tuple[float, float]

    def __sklearn_tags__(self) -> Any:  # noqa: D105 - read by validate_data
        ...


class Modality:
    """One kind of input: how to validate it, and its default parts.

    A modality turns user input into a :class:`~rince_sklearn.batching.BatchSource`
    (checking it on the way), names its default encoder and augmentation, and
    says which sizes of the data an encoder is told about. Subclass it and
    register an instance with :func:`register_modality` to add a kind of input
    (see the user guide's "A custom modality").

    ``prepare(estimator, X, reset=True)`` (in ``fit``) validates ``X`` and
    records the input's description on the estimator; ``reset=False``
    (``transform``, ``score``) checks ``X`` against it. A modality reads and
    writes only what :class:`ModalityHost` lists, plus its own
    ``fitted_attributes``.

    Attributes
    ----------
    name : str
        The value of the estimator's ``modality`` parameter that selects it.
    fitted_attributes : dict of str to callable
        Fitted attributes that ``prepare(reset=True)`` writes beyond
        ``n_features_in_`` and ``feature_names_in_``, each with the check that
        ``load`` applies to its saved value (plain data only). ``save`` stores
        exactly these, and a fit on another modality removes them.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn import RobustContrastiveEmbedder
    >>> from rince_sklearn.modalities import Modality, get_modality
    >>> tabular = get_modality("tabular")
    >>> isinstance(tabular, Modality), tabular.name
    (True, 'tabular')
    >>> emb = RobustContrastiveEmbedder()
    >>> len(tabular.prepare(emb, np.ones((4, 3)), reset=True)), emb.n_features_in_
    (4, 3)
    >>> tabular.default_encoder(emb).__name__, tabular.encoder_size_kwargs(emb)
    ('MLPEncoder', {'in_features': 3})
    """

    name: str = ""

    #: fitted attributes that ``prepare`` sets beyond ``n_features_in_`` and
    #: ``feature_names_in_``, each with the check that ``load`` applies to its
    #: saved value (plain data: numbers, strings, tuples, arrays); ``save``
    #: stores exactly these, and a fit on another modality removes them
    fitted_attributes: dict[str, Callable[[Any], Any]] = {}

    def prepare(self, estimator: ModalityHost, X: Any, *, reset: bool) -> BatchSource:
        """Validate ``X`` and return it as a batch source.

        With ``reset=True`` (in ``fit``) record the input's description on the
        estimator (``n_features_in_`` and the like); with ``reset=False``
        (``transform``, ``score``) check ``X`` against it.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def encoder_size_kwargs(self, estimator: ModalityHost) -> dict[str, Any]:
        """Sizes of the fitted input an encoder may accept (``in_features``...)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def default_encoder(self, estimator: ModalityHost) -> type[nn.Module]:
        """Return the encoder class used when ``encoder="auto"``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def default_augmentation(self, estimator: ModalityHost) -> Callable | None:
        """Return the augmentation used when ``augmentation="auto"``."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- defaults of the "auto" parameters ----------------------------------------
    #: values of the estimator's ``"auto"`` parameters for this modality:
    #: ``lr``, ``temperature``, ``max_epochs`` and the default encoder's
    #: ``encoder_kwargs`` (subclasses replace it; the search that chose each
    #: modality's values is in ``benchmarks/results/quality_search*.md``), and
    #: ``embedding_dim``: a width, or None for the default encoder's own last
    #: layer (its pooled or last hidden features, with no output layer; a
    #: custom encoder then gets :attr:`FALLBACK_EMBEDDING_DIM`)
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.5,
        "max_epochs": 50,
        "encoder_kwargs": {},
        "embedding_dim": 64,
    }
    #: ``embedding_dim="auto"`` with an encoder class passed by the user (even
    #: the default encoder's own class): its width, unless ``encoder_kwargs``
    #: sets one
    FALLBACK_EMBEDDING_DIM: int = 64

    def defaults(self, estimator: ModalityHost, n_samples: int) -> dict[str, Any]:
        """Return the values that the estimator's ``"auto"`` parameters take.

        Called by ``fit`` after :meth:`prepare` (so the input's description,
        such as ``n_features_in_``, is set) with the number of training
        samples; the estimator stores the results as ``lr_``, ``temperature_``,
        ``max_epochs_``, ``encoder_kwargs_`` and ``embedding_dim_``. The base
        implementation returns :attr:`DEFAULTS`; subclasses may adapt it to the
        data's size.
        """
        defaults = dict(Modality.DEFAULTS)
        defaults.update(self.DEFAULTS)
        defaults["encoder_kwargs"] = dict(defaults["encoder_kwargs"])
        return defaults


def _meant_as_graph(item: Any) -> bool:
    """Whether a list member is meant as a graph, even a malformed one.

    Beyond :func:`~rince_sklearn.graphs.looks_like_graph`: a pair whose first
    member is an integer array of 3 or more dimensions (an ``edge_index`` of
    the wrong shape), and a tuple of 3 or more members that starts with an
    ``edge_index`` of shape ``(2, E)`` (a label packed into the graph). The
    graph checks then say what is wrong, instead of the table's.
    """
    if looks_like_graph(item):
        return True
    if not (isinstance(item, tuple) and len(item) >= 2):
        return False
    first = item[0]
    if isinstance(first, (tuple, str)) or np.isscalar(first) or first is None:
        return False
    try:
        shape = np.shape(first)
    except (ValueError, TypeError):
        return False
    if not _holds_integers(first):
        return False
    if len(item) == 2:
        try:
            other = np.shape(item[1])
        except (ValueError, TypeError):
            other = None
        return len(shape) >= 3 and shape != other
    return len(shape) == 2 and shape[0] == 2


def holds_graphs(X: Any) -> bool:
    """Whether ``X`` is a graph input: a list of graphs, or one graph unwrapped."""
    if looks_like_graph(X):
        return True
    return isinstance(X, (list, tuple)) and len(X) > 0 and _meant_as_graph(X[0])


def refuse_graphs(name: str, estimator: ModalityHost, X: Any, *, reset: bool) -> None:
    """Raise a clear ``TypeError`` when graphs reach the ``name`` modality.

    Without it numpy fails on a list of graphs with "inhomogeneous shape".
    """
    if not holds_graphs(X):
        return
    if reset:
        raise TypeError(
            f"modality={name!r} expects an array, but X is a list of graphs (or "
            "one graph); use modality='graph' or 'auto' to embed graphs."
        )
    raise TypeError(
        f"This {type(estimator).__name__} was fitted on {name} input "
        f"(n_features_in_={estimator.n_features_in_}), but X is a list of graphs "
        "(or one graph). Fit an estimator on graphs to embed graphs."
    )


# -- the registry ---------------------------------------------------------------------
_REGISTRY: dict[str, Modality] = {}


def register_modality(modality: Modality, *, replace: bool = False) -> Modality:
    """Make ``modality`` available as the estimator's ``modality=modality.name``.

    Parameters
    ----------
    modality : Modality
        An instance of a :class:`Modality` subclass with a non-empty ``name``
        (other than ``"auto"``).
    replace : bool, default=False
        Allow replacing a modality already registered under that name (the
        built-in ones included). Without it, registering another modality
        under a taken name is an error (registering the same object again is
        not).

    Returns
    -------
    modality : Modality
        The argument, registered.

    Raises
    ------
    TypeError
        ``modality`` is not a :class:`Modality` instance (a class, for example).
    ValueError
        The name is empty or ``"auto"``, or already taken and ``replace=False``.

    Examples
    --------
    >>> from rince_sklearn.modalities import (
    ...     get_modality, register_modality, unregister_modality)
    >>> from rince_sklearn.modalities.tabular import TabularModality
    >>> class Rows(TabularModality):
    ...     name = "rows"
    >>> _ = register_modality(Rows())
    >>> type(get_modality("rows")).__name__
    'Rows'
    >>> unregister_modality("rows")
    """
    if not isinstance(modality, Modality):
        what = (
            f"the class {modality.__name__}"
            if isinstance(modality, type)
            else f"a {type(modality).__name__}"
        )
        raise TypeError(
            "register_modality expects an instance of a Modality subclass, got "
            f"{what}; pass an instance, e.g. register_modality(MyModality())."
        )
    name = modality.name
    if not isinstance(name, str) or not name or name == "auto":
        raise ValueError(
            f"A modality needs a non-empty name other than 'auto' (the value of "
            f"the estimator's modality parameter), got name={name!r} on "
            f"{type(modality).__name__}."
        )
    if name in _REGISTRY and not replace and _REGISTRY[name] is not modality:
        raise ValueError(
            f"A modality named {name!r} is already registered "
            f"({type(_REGISTRY[name]).__name__}); pass replace=True to replace it."
        )
    _REGISTRY[name] = modality
    return modality


def unregister_modality(name: str) -> None:
    """Remove the modality registered as ``name`` (for tests and notebooks).

    Parameters
    ----------
    name : str
        A registered name.

    Raises
    ------
    ValueError
        No modality has that name.

    Examples
    --------
    >>> from rince_sklearn.modalities import (
    ...     modality_names, register_modality, unregister_modality)
    >>> from rince_sklearn.modalities.image import ImageModality
    >>> class Pictures(ImageModality):
    ...     name = "pictures"
    >>> _ = register_modality(Pictures())
    >>> unregister_modality("pictures")
    >>> "pictures" in modality_names()
    False
    """
    get_modality(name)
    del _REGISTRY[name]


def modality_names() -> list[str]:
    """Return the names of the registered modalities, sorted.

    Returns
    -------
    names : list of str
        The values ``modality`` accepts, besides ``"auto"``.

    Examples
    --------
    >>> from rince_sklearn.modalities import modality_names
    >>> modality_names()
    ['graph', 'image', 'tabular']
    """
    return sorted(_REGISTRY)


def get_modality(name: str) -> Modality:
    """Return the :class:`Modality` called ``name``.

    Parameters
    ----------
    name : str
        ``"tabular"``, ``"image"``, ``"graph"``, or the name of a modality added
        with :func:`register_modality`.

    Returns
    -------
    modality : Modality
        The registered modality.

    Raises
    ------
    ValueError
        No modality has that name.

    Examples
    --------
    >>> from rince_sklearn.modalities import get_modality
    >>> type(get_modality("image")).__name__
    'ImageModality'
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"No modality is registered as {name!r}; registered modalities: "
            f"{modality_names()}."
        ) from None
