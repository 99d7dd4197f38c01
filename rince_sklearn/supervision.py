"""Labels for supervised contrastive learning: validated, encoded as class codes.

With ``supervision="labels"``, :class:`~rince_sklearn.RobustContrastiveEmbedder`
turns the ``y`` of ``fit(X, y)`` into one integer code per sample with
:func:`encode_labels` and attaches the codes to the batch source; the loss then
treats every view with the same code as a positive. Only equality of codes
matters, so codes need not be the same from one ``partial_fit`` chunk to the
next.

Unlabelled samples are marked as in scikit-learn's semi-supervised estimators
(:class:`sklearn.semi_supervised.SelfTrainingClassifier`): ``-1`` in numeric
labels, and ``None`` in labels of other types (strings, objects). They get code
``-1``, and their only positive is their own other view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import type_of_target
from torch import Tensor

__all__ = ["UNLABELLED", "encode_labels"]

#: the marker of an unlabelled sample in numeric labels (``None`` in others)
UNLABELLED = -1


def _unlabelled_mask(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iuf":
        return y == UNLABELLED
    return np.fromiter(
        (v is None or (_is_number(v) and v == UNLABELLED) for v in y.tolist()),
        dtype=bool,
        count=len(y),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def encode_labels(y: Any, n_samples: int) -> Tensor:
    """Validate classification labels and return one integer code per sample.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of any type (ints, strings, ...). ``-1`` in numeric labels
        and ``None`` in others mark unlabelled samples.
    n_samples : int
        The number of samples of ``X``, which ``y`` must match.

    Returns
    -------
    codes : LongTensor of shape (n_samples,)
        ``0 .. n_classes - 1`` in the order in which classes first appear, and
        ``-1`` for unlabelled samples.

    Raises
    ------
    ValueError
        ``y`` is None, has the wrong length, or is not a classification target
        (continuous values, several columns).

    Examples
    --------
    >>> from rince_sklearn.supervision import encode_labels
    >>> encode_labels(["cat", "dog", None, "cat"], 4).tolist()
    [0, 1, -1, 0]
    >>> encode_labels([3, -1, 7, 3], 4).tolist()
    [0, -1, 1, 0]
    """
    if y is None:
        raise ValueError(
            "supervision='labels' needs labels: call fit(X, y) with one class "
            "label per sample (mark unlabelled samples with -1, or None for "
            "string labels), or use supervision='none'."
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            "supervision='labels' needs one class label per sample (a 1-D y), got "
            f"y of shape {y.shape}."
        )
    if len(y) != n_samples:
        raise ValueError(
            f"y has {len(y)} labels but X has {n_samples} samples; pass one label "
            "per sample."
        )
    unlabelled = _unlabelled_mask(y)
    labelled = y[~unlabelled]
    codes = np.full(len(y), UNLABELLED, dtype=np.int64)
    if len(labelled):
        kind = type_of_target(labelled, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                "supervision='labels' needs class labels (a binary or multiclass "
                f"target), but y is {kind!r}. Continuous targets have no classes "
                "to share: bin them first (for example with "
                "sklearn.preprocessing.KBinsDiscretizer) or use supervision='none'."
            )
        index: dict[Any, int] = {}
        codes[~unlabelled] = [
            index.setdefault(v, len(index)) for v in labelled.tolist()
        ]
    return torch.from_numpy(codes)
