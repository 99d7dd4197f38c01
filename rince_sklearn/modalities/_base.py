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

    # -- defaults of the "auto" parameters ----------------------------------------
    #: values of the estimator's ``"auto"`` parameters for this modality:
    #: ``lr``, ``temperature``, ``max_epochs`` and the default encoder's
    #: ``encoder_kwargs`` (subclasses replace it; the search that chose each
    #: modality's values is in ``benchmarks/results/quality_search*.md``)
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.5,
        "max_epochs": 50,
        "encoder_kwargs": {},
    }

    def defaults(self, estimator: Any, n_samples: int) -> dict[str, Any]:
        """Return the values that the estimator's ``"auto"`` parameters take.

        Called by ``fit`` after :meth:`prepare` (so the input's description,
        such as ``n_features_in_``, is set) with the number of training
        samples; the estimator stores the results as ``lr_``, ``temperature_``,
        ``max_epochs_`` and ``encoder_kwargs_``. The base implementation
        returns :attr:`DEFAULTS`; subclasses may adapt it to the data's size.
        """
        defaults = dict(Modality.DEFAULTS)
        defaults.update(self.DEFAULTS)
        defaults["encoder_kwargs"] = dict(defaults["encoder_kwargs"])
        return defaults
