"""The InfoNCE (NT-Xent) loss [1]_: functional form, per-anchor form and module.

``-s+ + log(S)`` per anchor, averaged over the ``2N`` anchors of a batch of two
views (see :mod:`rince_sklearn.losses`); with labels, SupCon's "outside" form.

References
----------
.. [1] Chen, T., Kornblith, S., Norouzi, M. and Hinton, G. "A Simple Framework for
   Contrastive Learning of Visual Representations", ICML 2020.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._positives import _check_labels, _check_own_view_weight, _Positives
from ._scores import _anchor_scores, _check_positive, _scores, _some_anchor_scores

__all__ = ["InfoNCELoss", "info_nce", "info_nce_anchors"]


def info_nce(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    labels: Tensor | None = None,
    own_view_weight: float | None = None,
) -> Tensor:
    """InfoNCE (NT-Xent) loss between two batches of view projections.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, d)
        Projections of the first and second view; row ``i`` of both comes from
        sample ``i``. They need not be normalised.
    temperature : float, default=0.5
        Divides the cosine similarities.
    labels : Tensor of shape (N,) or (2N,), default=None
        Integer class codes of the samples (shared by both views) or of the
        ``2N`` views (the rows of ``z1``, then those of ``z2``); a negative
        code marks an unlabelled view. With labels, an anchor's positives
        ``P`` are its other view and every other view with the same label, and
        its loss is SupCon's [1]_ "outside" form
        ``-mean_{p in P} s_p + log(S)``. None (or all labels distinct) gives
        plain InfoNCE.
    own_view_weight : float in [0, 1] or None, default=None
        With labels: None averages over ``P`` with equal weights; a number
        ``w`` gives the anchor's own other view the weight ``w`` and its
        same-label positives ``1 - w`` together (an anchor without any keeps
        weight 1 on its own view). ``w = 1`` ignores the labels.

    Returns
    -------
    loss : Tensor
        0-dim tensor, the mean of ``-s+ + log(S)`` over the ``2N`` anchors.

    References
    ----------
    .. [1] Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import info_nce
    >>> z = torch.eye(4)
    >>> round(float(info_nce(z, z, temperature=1.0)), 4)
    1.1654
    >>> labels = torch.tensor([0, 0, 1, 1])  # samples 0 and 1 share a class
    >>> round(float(info_nce(z, z, temperature=1.0, labels=labels)), 4)
    1.8321
    """
    _check_positive("temperature", temperature)
    _check_own_view_weight(own_view_weight)
    labels = _check_labels(labels, z1.shape[0]) if isinstance(z1, Tensor) else labels
    if labels is None:
        s_pos, log_s = _anchor_scores(z1, z2, temperature)
        return (log_s - s_pos).mean()
    z, _, s_pos, log_s = _scores(z1, z2, temperature)
    with torch.autocast(device_type=z.device.type, enabled=False):  # in z's dtype
        positives = _Positives(labels.to(z.device), own_view_weight, z.dtype)
        # the scores summed over each anchor's other same-label views, by
        # class: s(i, j) is linear in z_j, so the sum is z_i . (sum of the
        # class's z_j, less z_i and the own view's) / T
        class_sums = positives.onehot.T @ z  # (k, d)
        own_view = z.roll(z1.shape[0], dims=0) * positives.own_same[:, None]
        others = class_sums[positives.codes] - z - own_view  # (2N, d)
        other_sums = (z * others).sum(dim=1) * positives.labelled / temperature
        # -sum_p w_p s_p + log S (the weights sum to 1)
        return (log_s - positives.weighted(s_pos, other_sums)).mean()


def info_nce_anchors(
    z1: Tensor, z2: Tensor, anchors: Tensor, temperature: float = 0.5
) -> Tensor:
    """Per-anchor InfoNCE losses of some anchors of a batch of two views.

    Anchor ``a`` is row ``a`` of ``cat([z1, z2])`` (``0 .. 2N-1``); its
    positive and negatives are those of :func:`info_nce`, taken from the whole
    batch. ``info_nce_anchors(z1, z2, anchors).sum() / (2 * N)``, summed over
    anchor sets that partition ``0 .. 2N-1``, is :func:`info_nce`: this is how
    each process of a distributed run computes only its own anchors' share.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, d)
        Projections of the two views of the whole batch.
    anchors : LongTensor of shape (k,)
        The anchors, as indices into the ``2N`` rows.
    temperature : float, default=0.5
        Divides the cosine similarities.

    Returns
    -------
    losses : Tensor of shape (k,)
        ``-s+ + log(S)`` of each anchor.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import info_nce, info_nce_anchors
    >>> z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    >>> halves = info_nce_anchors(z1, z2, torch.arange(4)).sum() + info_nce_anchors(
    ...     z1, z2, torch.arange(4, 10)).sum()
    >>> torch.allclose(halves / 10, info_nce(z1, z2))
    True
    """
    _check_positive("temperature", temperature)
    s_pos, log_s = _some_anchor_scores(z1, z2, anchors, temperature)
    return log_s - s_pos


class InfoNCELoss(nn.Module):
    """InfoNCE (NT-Xent) loss as a module; see :func:`info_nce`.

    With ``labels`` in ``forward``, it is SupCon's "outside" loss (supervised
    contrastive learning); without, SimCLR's NT-Xent.

    Parameters
    ----------
    temperature : float, default=0.5
        Divides the cosine similarities; > 0.
    own_view_weight : float in [0, 1] or None, default=None
        With labels, the weight of an anchor's own other view among its
        positives; see :func:`info_nce`.

    See Also
    --------
    RINCELoss : The noise-robust generalisation.

    References
    ----------
    .. [1] Chen et al., "A Simple Framework for Contrastive Learning of Visual
       Representations", ICML 2020.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn import InfoNCELoss
    >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    >>> InfoNCELoss(temperature=0.5)(z1, z2).shape
    torch.Size([])
    >>> InfoNCELoss()(z1, z2, labels=torch.tensor([0, 1, 0, 1, 2, 2, -1, -1])).shape
    torch.Size([])
    """

    def __init__(
        self, temperature: float = 0.5, own_view_weight: float | None = None
    ) -> None:
        super().__init__()
        _check_positive("temperature", temperature)
        _check_own_view_weight(own_view_weight)
        self.temperature = temperature
        self.own_view_weight = own_view_weight

    def forward(self, z1: Tensor, z2: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return the mean loss over the ``2N`` anchors of ``(z1, z2)``."""
        return info_nce(
            z1,
            z2,
            temperature=self.temperature,
            labels=labels,
            own_view_weight=self.own_view_weight,
        )

    def anchor_losses(self, z1: Tensor, z2: Tensor, anchors: Tensor) -> Tensor:
        """Return the losses of the ``anchors`` only; see :func:`info_nce_anchors`."""
        return info_nce_anchors(z1, z2, anchors, temperature=self.temperature)

    def extra_repr(self) -> str:  # noqa: D102
        own = f", own_view_weight={self.own_view_weight}"
        return f"temperature={self.temperature}" + (
            own if self.own_view_weight is not None else ""
        )
