"""Tabular input: 2-D arrays and DataFrames of numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from ..augment import MarginalCorruption
from ..batching import TensorSource
from ..encoders import MLPEncoder
from ._base import Modality

__all__ = ["TabularModality"]


class TabularModality(Modality):
    """Rows of numeric features; the default encoder is an MLP, views are SCARF."""

    name = "tabular"

    def prepare(self, estimator: Any, X: Any, *, reset: bool) -> TensorSource:
        """Validate a 2-D numeric array (NaN and inf are refused)."""
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=np.float32,
            ensure_min_samples=2 if reset else 1,
        )
        return TensorSource(torch.tensor(X, dtype=torch.float32))

    def encoder_size_kwargs(self, estimator: Any) -> dict[str, Any]:
        """Return ``in_features=n_features_in_``: the number of columns."""
        return {"in_features": estimator.n_features_in_}

    def default_encoder(self, estimator: Any) -> type[MLPEncoder]:
        """:class:`~rince_sklearn.encoders.MLPEncoder`."""
        return MLPEncoder

    def default_augmentation(self, estimator: Any) -> MarginalCorruption:
        """:class:`~rince_sklearn.augment.MarginalCorruption` (``corruption_rate``).

        The rate is ``DEFAULTS["corruption_rate"]``; the estimator fits it on
        the training data, so that donors come from the whole training set.
        """
        return MarginalCorruption(corruption_rate=self.DEFAULTS["corruption_rate"])

    # -- defaults of the "auto" parameters ----------------------------------------
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.5,
        "encoder_kwargs": {"hidden_dims": (256, 256)},
        "corruption_rate": 0.6,
        #: ``max_epochs="auto"`` gives about this many optimiser steps ...
        "target_steps": 1000,
        #: ... within these bounds on the number of epochs
        "epoch_range": (20, 200),
    }

    def defaults(self, estimator: Any, n_samples: int) -> dict[str, Any]:
        """Return the tabular defaults; ``max_epochs`` follows the data's size.

        Small tables need many passes and large ones few:
        ``max_epochs = target_steps / batches per epoch``, clipped to
        ``epoch_range``.
        """
        defaults = super().defaults(estimator, n_samples)
        batch = max(2, min(int(estimator.batch_size), n_samples))
        per_epoch = -(-n_samples // batch)
        low, high = self.DEFAULTS["epoch_range"]
        epochs = -(-int(self.DEFAULTS["target_steps"]) // per_epoch)
        defaults["max_epochs"] = int(min(high, max(low, epochs)))
        return defaults
