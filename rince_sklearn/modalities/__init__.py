"""Input kinds ("modalities"): validation, conversion and defaults per kind.

The estimator asks :func:`get_modality` for the :class:`Modality` that handles
its input, after :func:`detect_modality` has resolved ``modality="auto"``.
Modalities are an extension point: :func:`register_modality` adds one, and the
estimator's ``modality`` parameter accepts every registered name.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..graphs import looks_like_graph
from ._base import (
    Modality,
    ModalityHost,
    get_modality,
    holds_graphs,
    modality_names,
    register_modality,
    unregister_modality,
)
from .graph import GraphModality
from .image import ImageModality, flat_image_hint
from .tabular import TabularModality

__all__ = [
    "Modality",
    "ModalityHost",
    "detect_modality",
    "get_modality",
    "looks_like_graph",
    "modality_names",
    "register_modality",
    "unregister_modality",
]

register_modality(TabularModality())
register_modality(ImageModality())
register_modality(GraphModality())


def detect_modality(X: Any, image_shape: Any = None) -> str:
    """Resolve ``modality="auto"`` from the input.

    A list of graphs (or one graph not wrapped in a list, which the graph
    checks then refuse with a message) is ``"graph"``; an array with 3 or 4
    dimensions, or any input when ``image_shape`` is set, is ``"image"``; a 2-D
    array is ``"tabular"``. Custom modalities are never detected: select them
    by name.

    A 2-D input whose rows look like flattened images (see
    :func:`~rince_sklearn.modalities.image.flat_image_hint`: a width of
    ``side**2`` or ``3 * side**2`` and pixel-like values) is still
    ``"tabular"``, with a warning that says how to read it as images.

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
    if holds_graphs(X):
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
    if ndim == 2:
        hint = flat_image_hint(X)
        if hint is not None:
            warnings.warn(hint, UserWarning, stacklevel=2)
    return "tabular"  # 2-D, or anything else: tabular validation explains the error
