"""What the estimator needs to know about one kind of input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..batching import BatchSource

__all__ = ["Modality"]


class Modality:
    """One kind of input: how to validate it, and its default parts.

    A modality turns user input into a :class:`~rince_sklearn.batching.BatchSource`
    (checking it on the way), names its default encoder and augmentation, and
    says which sizes of the data an encoder is told about.

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

    #: the value of the estimator's ``modality`` parameter
    name: str = ""

    #: fitted attributes that ``prepare`` sets beyond ``n_features_in_`` and
    #: ``feature_names_in_``, each with the check that ``load`` applies to its
    #: saved value (plain data: numbers, strings, tuples, arrays); ``save``
    #: stores exactly these, and a fit on another modality removes them
    fitted_attributes: dict[str, Callable[[Any], Any]] = {}

    def prepare(self, estimator: Any, X: Any, *, reset: bool) -> BatchSource:
        """Validate ``X`` and return it as a batch source.

        With ``reset=True`` (in ``fit``) record the input's description on the
        estimator (``n_features_in_`` and the like); with ``reset=False``
        (``transform``, ``score``) check ``X`` against it.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def encoder_size_kwargs(self, estimator: Any) -> dict[str, Any]:
        """Sizes of the fitted input an encoder may accept (``in_features``...)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def default_encoder(self, estimator: Any) -> type[nn.Module]:
        """Return the encoder class used when ``encoder="auto"``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def default_augmentation(self, estimator: Any) -> Callable:
        """Return the augmentation used when ``augmentation="auto"``."""
        raise NotImplementedError  # pragma: no cover - abstract
