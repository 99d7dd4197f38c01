"""Input kinds ("modalities"): validation, conversion and defaults per kind.

The estimator asks :func:`get_modality` for the :class:`Modality` that handles
its input, after :func:`detect_modality` has resolved ``modality="auto"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Modality
from .graph import GraphModality
from .image import ImageModality
from .tabular import TabularModality

__all__ = ["Modality", "detect_modality", "get_modality", "looks_like_graph"]

_MODALITIES: dict[str, Modality] = {"tabular": TabularModality()}
_MODALITIES["image"] = ImageModality()
_MODALITIES["graph"] = GraphModality()


def register_modality(modality: Modality) -> None:
    """Make ``modality`` available under ``modality.name``."""
    _MODALITIES[modality.name] = modality


def get_modality(name: str) -> Modality:
    """Return the :class:`Modality` called ``name``.

    Parameters
    ----------
    name : str
        ``"tabular"``, ``"image"``, ``"graph"``, or the name of a modality added
        with ``register_modality``.

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
        return _MODALITIES[name]
    except KeyError:
        raise ValueError(
            f"The {name!r} modality is not supported yet; supported modalities: "
            f"{sorted(_MODALITIES)}."
        ) from None


def looks_like_graph(obj: Any) -> bool:
    """Whether ``obj`` is one graph in a supported format.

    That is an object with ``.edge_index`` and ``.x`` (torch_geometric's
    ``Data``), a ``networkx`` graph, or a pair ``(edge_index, node_features)``
    whose first member is a ``(2, E)`` array. Only the form is checked;
    :func:`rince_sklearn.graphs.pack_graphs` validates the contents.

    Parameters
    ----------
    obj : object
        A candidate graph.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> looks_like_graph((np.array([[0, 1], [1, 0]]), np.ones((2, 3))))
    True
    >>> looks_like_graph(np.ones((2, 3)))
    False
    """
    if hasattr(obj, "edge_index"):
        return True
    if hasattr(obj, "adj") and hasattr(obj, "nodes") and hasattr(obj, "edges"):
        return True
    if isinstance(obj, tuple) and len(obj) == 2:
        if isinstance(obj[0], tuple) or np.isscalar(obj[0]):
            return False  # a pair of graphs, or of numbers
        try:
            shape = np.shape(obj[0])
        except (ValueError, TypeError):  # ragged nested sequences
            return False
        return len(shape) == 2 and shape[0] == 2
    return False


def detect_modality(X: Any, image_shape: Any = None) -> str:
    """Resolve ``modality="auto"`` from the input.

    A list of graphs is ``"graph"``; an array with 3 or 4 dimensions, or any
    input when ``image_shape`` is set, is ``"image"``; a 2-D array is
    ``"tabular"``.

    Parameters
    ----------
    X : object
        The input given to ``fit``.
    image_shape : tuple of int, default=None
        The estimator's ``image_shape`` parameter.

    Returns
    -------
    modality : {"tabular", "image", "graph"}
        The name of the modality.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.modalities import detect_modality
    >>> detect_modality(np.zeros((10, 4))), detect_modality(np.zeros((10, 28, 28)))
    ('tabular', 'image')
    >>> detect_modality(np.zeros((10, 784)), image_shape=(1, 28, 28))
    'image'
    >>> detect_modality([(np.array([[0], [1]]), np.ones((2, 3)))])
    'graph'
    """
    if isinstance(X, (list, tuple)) and len(X) > 0 and looks_like_graph(X[0]):
        return "graph"
    if image_shape is not None:
        return "image"
    ndim = getattr(X, "ndim", None)
    if ndim is None:
        try:
            ndim = np.asarray(X).ndim
        except (ValueError, TypeError):  # ragged nested lists
            ndim = -1
    if ndim in (3, 4):
        return "image"
    return "tabular"  # 2-D, or anything else: tabular validation explains the error
