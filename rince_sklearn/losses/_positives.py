"""Supervised positives: the views that share an anchor's label, and their weights.

With ``labels``, an anchor's positives are its own other view and every other
view of the batch with the same label; ``own_view_weight`` sets how the
anchor's pull is shared between them (see :func:`~rince_sklearn.losses.rince`).
"""

from __future__ import annotations

from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

__all__: list[str] = []  # private: the losses are built on these


def _check_labels(labels: Tensor | None, n: int) -> Tensor | None:
    """Return ``labels`` as a long tensor of the ``2N`` views' labels, or None."""
    if labels is None:
        return None
    if not isinstance(labels, Tensor):
        raise TypeError(
            f"labels must be a torch tensor or None, got {type(labels).__name__}."
        )
    if labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise TypeError(
            "labels must be an integer tensor (class codes, negative for "
            f"unlabelled views), got dtype {labels.dtype}."
        )
    if labels.ndim != 1 or labels.shape[0] not in (n, 2 * n):
        raise ValueError(
            f"labels must be a 1-D tensor of length N = {n} (one label per "
            f"sample, shared by both views) or 2N = {2 * n} (the rows of z1, then "
            f"those of z2), got shape {tuple(labels.shape)}."
        )
    labels = labels.long()
    return labels if labels.shape[0] == 2 * n else torch.cat([labels, labels])


def _check_own_view_weight(own_view_weight: float | None) -> None:
    if own_view_weight is None:
        return
    if (
        isinstance(own_view_weight, bool)
        or not isinstance(own_view_weight, Real)
        or not 0.0 <= float(own_view_weight) <= 1.0
    ):
        raise ValueError(
            "own_view_weight must be None (every positive weighs the same) or a "
            f"number in [0, 1], got {own_view_weight!r}."
        )


class _Positives:
    """An anchor's positives by label, without a ``(2N, 2N)`` mask.

    Sums over the views that share an anchor's label are taken by class: a
    product with the ``(2N, k)`` one-hot matrix of the batch's ``k`` labels.
    The positives' weights are ``own`` for the anchor's own other view and
    ``other`` for each same-label view: with ``own_view_weight`` None,
    ``1 / |P|`` each; with a number ``w``, ``w`` and ``(1 - w) / (|P| - 1)``;
    an anchor without same-label positives puts all its weight on its own
    view.

    Parameters
    ----------
    labels : Tensor of shape (2N,)
        The views' labels (negative: unlabelled).
    own_view_weight : float or None
    dtype : torch.dtype
    """

    def __init__(
        self, labels: Tensor, own_view_weight: float | None, dtype: torch.dtype
    ) -> None:
        n = labels.shape[0] // 2
        labelled = labels >= 0
        _, self.codes = torch.unique(labels, return_inverse=True)  # (2N,)
        self.onehot = F.one_hot(self.codes).to(dtype)  # (2N, k)
        self.onehot.mul_(labelled[:, None])  # the unlabelled share no label
        self.labelled = labelled.to(dtype)
        # other views with the anchor's label, and whether the own view is one
        same = (self.onehot.sum(dim=0)[self.codes] - 1.0) * self.labelled
        self.own_same = (labelled & (labels == labels.roll(n))).to(dtype)
        n_other = same - self.own_same  # same-label positives besides the own view
        has_other = n_other > 0
        if own_view_weight is None:  # every positive weighs 1 / |P|
            self.own = 1.0 / (n_other + 1.0)
        else:
            self.own = torch.where(has_other, float(own_view_weight), 1.0).to(dtype)
        self.other = torch.where(
            has_other, (1.0 - self.own) / n_other.clamp(min=1.0), 0.0
        )

    def other_sums(self, values: Tensor) -> Tensor:
        """Return ``sum_j values[i, j]`` over i's same-label positives but its own view.

        ``values`` is ``(2N, 2N)`` and must be 0 on the diagonal and at each
        anchor's own other view (so that nothing is taken back out of a sum
        by subtraction, which rounding could make negative); ``(2N,)``.
        """
        sums = (values @ self.onehot).gather(1, self.codes[:, None]).squeeze(1)
        return sums * self.labelled

    def other_mask(self) -> Tensor:
        """Return the ``(2N, 2N)`` mask of each anchor's same-label positives.

        The anchor itself and its own other view are left out (for the
        log-space path of very small temperatures, which needs a mask).
        """
        mask = (self.onehot @ self.onehot.T) > 0  # (2N, 2N), by shared label
        n2 = mask.shape[0]
        index = torch.arange(n2, device=mask.device)
        mask[index, index] = False
        mask[index, index.roll(n2 // 2)] = False
        return mask

    def weighted(self, own_values: Tensor, other_sums: Tensor) -> Tensor:
        """Return ``sum_p w_p v_p`` from the own view's value and the others' sum."""
        return self.own * own_values + self.other * other_sums
