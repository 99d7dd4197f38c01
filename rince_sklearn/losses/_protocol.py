"""What a loss offers to split its work over processes: the per-anchor losses."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor

__all__ = ["PerAnchorLoss"]


@runtime_checkable
class PerAnchorLoss(Protocol):
    """A contrastive loss that can compute the losses of some anchors only.

    ``anchor_losses(z1, z2, anchors)`` returns the losses of the ``anchors``
    (indices into the ``2N`` rows of ``cat([z1, z2])``) of the batch
    ``(z1, z2)``, each against the whole batch, such that the sum of
    ``anchor_losses(z1, z2, a).sum() / (2 * N)`` over anchor sets ``a`` that
    partition ``0 .. 2N-1`` is the loss ``criterion(z1, z2)``. One process of
    a distributed run (:class:`~rince_sklearn.distributed.DistributedEmbedder`)
    then computes only its own anchors' share of the global batch's loss; a
    criterion without the method is computed whole on every process.
    :class:`~rince_sklearn.RINCELoss` and :class:`~rince_sklearn.InfoNCELoss`
    implement it; ``isinstance(criterion, PerAnchorLoss)`` tells whether a
    criterion does (setting ``anchor_losses = None`` on a subclass opts out).

    See Also
    --------
    rince_anchors : RINCE's per-anchor losses.
    info_nce_anchors : InfoNCE's per-anchor losses.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import PerAnchorLoss, RINCELoss
    >>> class AlignLoss(torch.nn.Module):  # no per-anchor form
    ...     def forward(self, z1, z2):
    ...         return (z1 - z2).pow(2).sum(dim=1).mean()
    >>> isinstance(RINCELoss(), PerAnchorLoss), isinstance(AlignLoss(), PerAnchorLoss)
    (True, False)
    >>> z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    >>> RINCELoss().anchor_losses(z1, z2, torch.tensor([0, 5])).shape
    torch.Size([2])
    """

    def anchor_losses(self, z1: Tensor, z2: Tensor, anchors: Tensor) -> Tensor:
        """Return the losses of the ``anchors`` of ``(z1, z2)``, shape ``(k,)``.

        Parameters
        ----------
        z1, z2 : Tensor of shape (N, d)
            Projections of the two views of the whole batch.
        anchors : LongTensor of shape (k,)
            Indices into the ``2N`` rows of ``cat([z1, z2])``.

        Returns
        -------
        losses : Tensor of shape (k,)
            The loss of each anchor; ``losses.sum() / (2 * N)`` is its share of
            the batch's loss.
        """
        ...
