"""Tabular input: 2-D arrays and DataFrames of numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from ..augment.tabular import MarginalCorruption
from ..batching import TensorSource
from ..encoders.tabular import MLPEncoder
from ._base import Modality, ModalityHost, refuse_graphs

__all__ = ["TabularModality"]

_ENCODE_HINT = (
    "Encode such columns as numbers before the embedder, for example with "
    "make_pipeline(make_column_transformer((OneHotEncoder(), {columns}), "
    "remainder='passthrough'), RobustContrastiveEmbedder()) (or OrdinalEncoder "
    "for ordered categories), or drop them."
)


def _is_number_dtype(dtype: Any) -> bool:
    return getattr(dtype, "kind", "O") in "biuf"


def _holds_text(values: Any) -> bool:
    """Whether ``values`` hold strings that are not numbers.

    Other objects that are not numbers (a dict, say) are left to
    ``validate_data``, whose ``TypeError`` names them.
    """
    try:
        np.asarray(values, dtype=np.float64)
    except ValueError as exc:
        return "string" in str(exc)  # not, say, lists of different lengths
    except TypeError:
        return False
    return False


def _check_columns(X: Any) -> None:
    """Refuse date and text columns, naming them and the fix.

    numpy alone says "could not convert string to float" or raises a
    ``DTypePromotionError``, naming no column; a lone date column would even be
    read as nanoseconds since 1970.
    """
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # a DataFrame
        columns = [(name, X[name], dtype) for name, dtype in X.dtypes.items()]
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "OUSmM":
        columns = [(j, X[:, j], X.dtype) for j in range(X.shape[1])]
    else:
        return
    dates = [name for name, _, dtype in columns if getattr(dtype, "kind", "") in "mM"]
    if dates:
        raise TypeError(
            f"Column(s) {dates} of X hold dates or durations, which are not "
            "features an encoder can read as they are. Convert them to numbers "
            "first (for example df[col].dt.year, df[col].dt.dayofweek, or "
            "(df[col] - df[col].min()).dt.days), or drop them."
        )
    text = [
        name
        for name, values, dtype in columns
        if not _is_number_dtype(dtype) and _holds_text(values)
    ]
    if text:
        values = next(values for name, values, _ in columns if name == text[0])
        first = next(
            (v for v in np.asarray(values, dtype=object) if _holds_text([v])), ""
        )
        raise ValueError(
            f"could not convert string to float: {first!r}: column(s) {text} of X "
            "hold text or categories, not numbers. " + _ENCODE_HINT.format(columns=text)
        )


class TabularModality(Modality):
    """Rows of numeric features; the default encoder is an MLP, views are SCARF.

    Accepts a 2-D array-like or a DataFrame of numbers (bool and pandas'
    nullable integer columns included). Text, category and date columns are
    refused with a message naming them and the fix (encode them in a
    ``ColumnTransformer`` first); NaN and infinite values are refused.
    """

    name = "tabular"

    def prepare(self, estimator: ModalityHost, X: Any, *, reset: bool) -> TensorSource:
        """Validate a 2-D numeric array (NaN and inf are refused)."""
        refuse_graphs(self.name, estimator, X, reset=reset)
        _check_columns(X)
        try:
            X = validate_data(
                estimator,
                X,
                reset=reset,
                dtype=np.float32,
                ensure_min_samples=2 if reset else 1,
            )
        except ValueError as exc:
            if "inhomogeneous" not in str(exc):
                raise
            raise ValueError(
                "Tabular input must be a 2-D array whose rows all have the same "
                "number of values, but the rows of X have different lengths "
                f"({exc})."
            ) from exc
        return TensorSource(torch.tensor(X, dtype=torch.float32))

    def encoder_size_kwargs(self, estimator: ModalityHost) -> dict[str, Any]:
        """Return ``in_features=n_features_in_``: the number of columns."""
        return {"in_features": estimator.n_features_in_}

    def default_encoder(self, estimator: ModalityHost) -> type[MLPEncoder]:
        """:class:`~rince_sklearn.encoders.MLPEncoder`."""
        return MLPEncoder

    def default_augmentation(self, estimator: ModalityHost) -> MarginalCorruption:
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
        "embedding_dim": None,  # the encoder's last layer, no output layer
        "corruption_rate": 0.6,
        #: ``max_epochs="auto"`` gives about this many optimiser steps ...
        "target_steps": 1000,
        #: ... within these bounds on the number of epochs
        "epoch_range": (20, 200),
    }

    def defaults(self, estimator: ModalityHost, n_samples: int) -> dict[str, Any]:
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
