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
        """:class:`~rince_sklearn.augment.MarginalCorruption` (60% of entries)."""
        return MarginalCorruption(corruption_rate=0.6)
