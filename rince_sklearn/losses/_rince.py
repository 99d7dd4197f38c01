"""The RINCE loss [1]_: functional form, per-anchor form and module.

``-exp(q * s+) / q + (lam * S) ** q / q`` per anchor, averaged over the ``2N``
anchors of a batch of two views (see :mod:`rince_sklearn.losses`). The powers
are taken from log-space scores and averaged in float64.

References
----------
.. [1] Chuang, C.-Y., Hjelm, R. D., Wang, X., Vineet, V., Joshi, N., Torralba, A.,
   Jegelka, S. and Song, Y. "Robust Contrastive Learning against Noisy Views",
   CVPR 2022.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._positives import _check_labels, _check_own_view_weight, _Positives
from ._scores import _anchor_scores, _check_positive, _scores, _some_anchor_scores

__all__ = ["RINCELoss", "rince", "rince_anchors"]

#: log of float32's largest finite value (3.4e38)
_LOG_FLOAT32_MAX = math.log(torch.finfo(torch.float32).max)


def _check_q(q: float) -> None:
    _check_positive("q", q)
    if q > 1:
        raise ValueError(f"q must lie in (0, 1], got {q!r}.")


def _power_terms(
    log_positive: Tensor, log_partition: Tensor, q: float, largest: float
) -> Tensor:
    """Return ``mean(exp(log_partition) - exp(log_positive)) / q`` over anchors.

    ``log_positive`` is ``q * s+`` (or the log of the mean of ``exp(q * s_p)``
    over an anchor's positives) and ``log_partition`` is ``q * log(lam * S)``,
    both ``(2N,)``; ``largest`` bounds both from above. The powers are taken
    and averaged in float64, so that the sum over anchors cannot overflow
    where each term fits. The result is returned in the inputs' dtype while
    that can hold every term, and in float64 beyond (``q / temperature`` past
    about 88, where a term is about ``exp(q / temperature) / q``).
    """
    terms = _wide_power_terms(log_positive, log_partition, q)  # (2N,) float64
    return _narrow(terms.mean(), log_positive.dtype, q, largest)


def _wide_power_terms(log_positive: Tensor, log_partition: Tensor, q: float) -> Tensor:
    """Return ``(exp(log_partition) - exp(log_positive)) / q`` in float64."""
    wide = torch.float64
    terms = torch.exp(log_partition.to(wide)) - torch.exp(log_positive.to(wide))
    return terms / q


def _narrow(value: Tensor, dtype: torch.dtype, q: float, largest: float) -> Tensor:
    """Return ``value`` in ``dtype`` while a term of size ``largest`` fits it."""
    if dtype == torch.float64 or largest - math.log(q) >= _LOG_FLOAT32_MAX - 1.0:
        return value
    return value.to(dtype)


def rince(
    z1: Tensor,
    z2: Tensor,
    q: float = 0.5,
    lam: float = 0.01,
    temperature: float = 0.5,
    labels: Tensor | None = None,
    own_view_weight: float | None = None,
) -> Tensor:
    """RINCE loss between two batches of view projections.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, d)
        Projections of the first and second view; row ``i`` of both comes from
        sample ``i``. They need not be normalised.
    q : float, default=0.5
        In ``(0, 1]``. As ``q -> 0`` the loss tends to InfoNCE + ``log(lam)``; at
        ``q = 1`` it is the symmetric, noise-robust
        ``-(1 - lam) * exp(s+) + lam * sum_k exp(s-_k)``.
    lam : float, default=0.01
        Weight of the partition term ``S``; > 0.
    temperature : float, default=0.5
        Divides the cosine similarities; > 0.
    labels : Tensor of shape (N,) or (2N,), default=None
        Integer class codes of the samples (shared by both views) or of the
        ``2N`` views (the rows of ``z1``, then those of ``z2``); a negative
        code marks an unlabelled view. With labels, an anchor's positives
        ``P`` are its other view and every other view with the same label; its
        loss is the RINCE term of each positive, with the partition ``S`` over
        all of the anchor's ``2N - 1`` candidates, averaged over ``P``:
        ``-mean_{p in P} exp(q * s_p) / q + (lam * S) ** q / q``. As ``q -> 0``
        it tends to SupCon's "outside" loss + ``log(lam)``
        (:func:`info_nce` with the same labels). None (or all labels distinct)
        gives plain RINCE.
    own_view_weight : float in [0, 1] or None, default=None
        With labels: the average over ``P`` is weighted, ``w`` for the
        anchor's own other view and ``1 - w`` shared by its same-label
        positives (an anchor without any keeps weight 1 on its own view);
        None weighs every positive the same. Under label noise a same-label
        positive may be a wrong one while the own view is not: ``w = 0.5``
        keeps half of every anchor's pull on a positive it can trust
        (``docs/user_guide/labels.rst``). ``w = 1`` ignores the labels.

    Returns
    -------
    loss : Tensor
        0-dim tensor, the mean of ``-exp(q * s+) / q + (lam * S) ** q / q`` over
        the ``2N`` anchors. It is not bounded below by 0.

    Notes
    -----
    An anchor's term is about ``-exp(q * s+) / q``, up to ``exp(q / temperature)
    / q`` when its views align. The powers are averaged in float64, so the
    float32 result is finite whenever every term is (``q / temperature <
    log(3.4e38) + log(q) - 1``, about ``87.7 + log(q)``); beyond, the loss is
    returned in float64 (finite while ``q / temperature < 709``). Gradients
    reach float32 embeddings: they overflow a little above the float32 bound,
    and training there is hopeless anyway (the positive term drowns every
    other), so keep ``q / temperature`` well below 88.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import rince
    >>> z = torch.eye(4)
    >>> round(float(rince(z, z, q=1.0, lam=0.5, temperature=1.0)), 4)
    1.6409
    >>> labels = torch.tensor([0, 0, 1, 1])  # samples 0 and 1 share a class
    >>> round(float(rince(z, z, q=1.0, lam=0.5, temperature=1.0, labels=labels)), 4)
    2.7864
    """
    _check_q(q)
    _check_positive("lam", lam)
    _check_positive("temperature", temperature)
    _check_own_view_weight(own_view_weight)
    labels = _check_labels(labels, z1.shape[0]) if isinstance(z1, Tensor) else labels
    if labels is None:
        s_pos, log_s = _anchor_scores(z1, z2, temperature)
        log_positive = q * s_pos  # (2N,)
    else:
        if q / temperature + math.log(2 * z1.shape[0]) < 80:
            # exp(q s) neither overflows nor underflows in float32 (nor do its
            # sums over 2N views): sum the powers by class, no (2N, 2N) mask
            _, sim, s_pos, log_s = _scores(z1, z2, temperature)
            with torch.autocast(device_type=sim.device.type, enabled=False):
                positives = _Positives(
                    labels.to(sim.device), own_view_weight, sim.dtype
                )
                n2 = sim.shape[0]
                index = torch.arange(n2, device=sim.device)
                # exp(q s), 0 on the diagonal and at the own views (summed apart)
                powers = torch.exp(q * sim).index_put(
                    (index, index.roll(n2 // 2)), sim.new_zeros(())
                )  # (2N, 2N)
                mean = positives.weighted(
                    torch.exp(q * s_pos), positives.other_sums(powers)
                )  # sum_p w_p exp(q s_p) > 0
                log_positive = torch.log(mean)  # (2N,)
        else:  # very small temperatures: in log space, with a (2N, 2N) mask
            _, sim, s_pos, log_s = _scores(z1, z2, temperature)
            with torch.autocast(device_type=sim.device.type, enabled=False):
                positives = _Positives(
                    labels.to(sim.device), own_view_weight, sim.dtype
                )
                # log sum_p w_p exp(q s_p) = q log S + log sum_p w_p p_p ** q,
                # with log p = s - log S <= 0: the own view in a column of its
                # own, so that no row is all -inf
                log_p = sim - log_s[:, None]  # (2N, 2N), -inf on the diagonal
                own = torch.log(positives.own) + q * (s_pos - log_s)  # (2N,)
                rest = q * log_p + torch.log(positives.other)[:, None]
                rest = rest.masked_fill(~positives.other_mask(), -math.inf)
                terms = torch.cat([own[:, None], rest], dim=1)  # (2N, 2N + 1)
                log_positive = q * log_s + torch.logsumexp(terms, dim=1)  # (2N,)
    log_partition = q * (math.log(lam) + log_s)  # (2N,), log (lam S)^q
    # s <= 1 / temperature and S <= (2N - 1) exp(1 / temperature): the largest
    # exponent either term can reach, known without reading the tensors
    n_candidates = 2 * z1.shape[0] - 1
    largest = q * (1 / temperature + max(0.0, math.log(lam * n_candidates)))
    return _power_terms(log_positive, log_partition, q, largest)


def rince_anchors(
    z1: Tensor,
    z2: Tensor,
    anchors: Tensor,
    q: float = 0.5,
    lam: float = 0.01,
    temperature: float = 0.5,
) -> Tensor:
    """Per-anchor RINCE losses of some anchors of a batch of two views.

    As :func:`info_nce_anchors`, for :func:`rince`:
    ``rince_anchors(z1, z2, anchors, ...).sum() / (2 * N)`` over a partition of
    the ``2N`` anchors adds up to ``rince(z1, z2, ...)``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, d)
        Projections of the two views of the whole batch.
    anchors : LongTensor of shape (k,)
        The anchors, as indices into the ``2N`` rows of ``cat([z1, z2])``.
    q, lam, temperature : float
        As in :func:`rince`.

    Returns
    -------
    losses : Tensor of shape (k,)
        ``-exp(q * s+) / q + (lam * S) ** q / q`` of each anchor.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import rince, rince_anchors
    >>> z1, z2 = torch.randn(6, 4), torch.randn(6, 4)
    >>> every = rince_anchors(z1, z2, torch.arange(12), q=0.5, lam=0.01)
    >>> torch.allclose(every.mean(), rince(z1, z2, q=0.5, lam=0.01))
    True
    """
    _check_q(q)
    _check_positive("lam", lam)
    _check_positive("temperature", temperature)
    s_pos, log_s = _some_anchor_scores(z1, z2, anchors, temperature)
    n_candidates = 2 * z1.shape[0] - 1  # the bound rince() uses
    largest = q * (1 / temperature + max(0.0, math.log(lam * n_candidates)))
    terms = _wide_power_terms(q * s_pos, q * (math.log(lam) + log_s), q)  # (k,)
    # the caller sums the terms: leave room for the sum in the narrow dtype
    return _narrow(terms, s_pos.dtype, q, largest + math.log(max(len(terms), 1)))


class RINCELoss(nn.Module):
    """Robust InfoNCE (RINCE) loss as a module; see :func:`rince`.

    With ``labels`` in ``forward``, an anchor's positives are its other view
    and every view of the batch with the same label: supervised contrastive
    learning that is robust to noisy labels.

    Parameters
    ----------
    q : float, default=0.5
        In ``(0, 1]``: small ``q`` behaves like InfoNCE, ``q = 1`` is the
        symmetric loss that is robust to noisy views.
    lam : float, default=0.01
        Weight of the partition term; > 0.
    temperature : float, default=0.5
        Divides the cosine similarities; > 0.
    own_view_weight : float in [0, 1] or None, default=None
        With labels, the weight of an anchor's own other view among its
        positives (None: all positives weigh the same); see :func:`rince`.

    See Also
    --------
    InfoNCELoss : The limit ``q -> 0`` (up to the constant ``log(lam)``).

    References
    ----------
    .. [1] Chuang et al., "Robust Contrastive Learning against Noisy Views",
       CVPR 2022.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn import RINCELoss
    >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    >>> RINCELoss(q=0.5, lam=0.01, temperature=0.5)(z1, z2).shape
    torch.Size([])
    >>> RINCELoss()(z1, z2, labels=torch.tensor([0, 1, 0, 1, 2, 2, -1, -1])).shape
    torch.Size([])
    """

    def __init__(
        self,
        q: float = 0.5,
        lam: float = 0.01,
        temperature: float = 0.5,
        own_view_weight: float | None = None,
    ) -> None:
        super().__init__()
        _check_q(q)
        _check_positive("lam", lam)
        _check_positive("temperature", temperature)
        _check_own_view_weight(own_view_weight)
        self.q = q
        self.lam = lam
        self.temperature = temperature
        self.own_view_weight = own_view_weight

    def forward(self, z1: Tensor, z2: Tensor, labels: Tensor | None = None) -> Tensor:
        """Return the mean loss over the ``2N`` anchors of ``(z1, z2)``."""
        return rince(
            z1,
            z2,
            q=self.q,
            lam=self.lam,
            temperature=self.temperature,
            labels=labels,
            own_view_weight=self.own_view_weight,
        )

    def anchor_losses(self, z1: Tensor, z2: Tensor, anchors: Tensor) -> Tensor:
        """Return the losses of the ``anchors`` only; see :func:`rince_anchors`."""
        return rince_anchors(
            z1, z2, anchors, q=self.q, lam=self.lam, temperature=self.temperature
        )

    def extra_repr(self) -> str:  # noqa: D102
        own = f", own_view_weight={self.own_view_weight}"
        return f"q={self.q}, lam={self.lam}, temperature={self.temperature}" + (
            own if self.own_view_weight is not None else ""
        )
