"""Contrastive losses: RINCE and InfoNCE (NT-Xent), computed in log space.

Both losses take the projections of two views, ``z1`` and ``z2`` of shape
``(N, d)``, where row ``i`` of each is a view of sample ``i``. There are ``2N``
anchors (every row of ``z1`` and of ``z2``); an anchor's positive is the other
view of the same sample and its negatives are the other ``2N - 2`` rows.

With ``s(a, b) = cos(a, b) / temperature``, ``s+`` an anchor's positive score and
``S = exp(s+) + sum_k exp(s-_k)``:

* InfoNCE: ``-s+ + log(S)`` (SimCLR's NT-Xent loss);
* RINCE:   ``-exp(q * s+) / q + (lam * S) ** q / q``.

Both are averaged over the ``2N`` anchors. ``(lam * S) ** q`` is evaluated as
``exp(q * (log(lam) + logsumexp(...)))`` and the similarities are computed in at
least float32 (also under autocast), so that small temperatures and bfloat16 or
float16 inputs neither overflow nor give NaN.

References
----------
.. [1] Chuang, C.-Y., Hjelm, R. D., Wang, X., Vineet, V., Joshi, N., Torralba, A.,
   Jegelka, S. and Song, Y. "Robust Contrastive Learning against Noisy Views",
   CVPR 2022.
.. [2] Chen, T., Kornblith, S., Norouzi, M. and Hinton, G. "A Simple Framework for
   Contrastive Learning of Visual Representations", ICML 2020.
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "InfoNCELoss",
    "RINCELoss",
    "info_nce",
    "info_nce_anchors",
    "rince",
    "rince_anchors",
]


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")


def _check_q(q: float) -> None:
    _check_positive("q", q)
    if q > 1:
        raise ValueError(f"q must lie in (0, 1], got {q!r}.")


def _check_views(z1: Tensor, z2: Tensor) -> None:
    if not (isinstance(z1, Tensor) and isinstance(z2, Tensor)):
        raise TypeError(
            "z1 and z2 must be torch tensors, got "
            f"{type(z1).__name__} and {type(z2).__name__}."
        )
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            "z1 and z2 must be 2-D tensors of the same shape (N, d), got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}."
        )
    if z1.shape[0] < 2:
        raise ValueError(
            "A contrastive loss needs at least 2 samples (one positive and at least "
            f"one negative per anchor), got {z1.shape[0]}."
        )


def _anchor_scores(z1: Tensor, z2: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Return each anchor's positive score ``s+`` and ``log S``.

    Both are 1-D tensors of length ``2N`` in at least float32, with rows
    ``0..N-1`` the anchors of ``z1`` and rows ``N..2N-1`` those of ``z2``.
    """
    _check_views(z1, z2)
    dtype = torch.promote_types(z1.dtype, torch.float32)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = F.normalize(torch.cat([z1, z2], dim=0).to(dtype), dim=1)  # (2N, d)
        sim = z @ z.T / temperature  # (2N, 2N), s(a, b)
        # an anchor is not its own negative: remove the diagonal (in place: the
        # division's backward does not need its output)
        sim.fill_diagonal_(float("-inf"))
        # the positive of anchor i is row i + N (mod 2N); a row-wise dot product
        # gives its score without a gather, whose backward fills a (2N, 2N) matrix
        n = z1.shape[0]
        s_pos = (z[:n] * z[n:]).sum(dim=1) / temperature  # (N,)
        s_pos = torch.cat([s_pos, s_pos])  # (2N,)
        # log S by cross-entropy, = log S - s+ per anchor: torch's fused
        # log-softmax is faster forward and backward than logsumexp
        target = torch.arange(2 * n, device=z.device).roll(n)  # (2N,)
        log_s = F.cross_entropy(sim, target, reduction="none") + s_pos  # (2N,)
    return s_pos, log_s


def info_nce(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """InfoNCE (NT-Xent) loss between two batches of view projections.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, d)
        Projections of the first and second view; row ``i`` of both comes from
        sample ``i``. They need not be normalised.
    temperature : float, default=0.5
        Divides the cosine similarities.

    Returns
    -------
    loss : Tensor
        0-dim tensor, the mean of ``-s+ + log(S)`` over the ``2N`` anchors.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import info_nce
    >>> z = torch.eye(4)
    >>> round(float(info_nce(z, z, temperature=1.0)), 4)
    1.1654
    """
    _check_positive("temperature", temperature)
    s_pos, log_s = _anchor_scores(z1, z2, temperature)
    return (log_s - s_pos).mean()


def rince(
    z1: Tensor,
    z2: Tensor,
    q: float = 0.5,
    lam: float = 0.01,
    temperature: float = 0.5,
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

    Returns
    -------
    loss : Tensor
        0-dim tensor, the mean of ``-exp(q * s+) / q + (lam * S) ** q / q`` over
        the ``2N`` anchors. It is not bounded below by 0.

    Notes
    -----
    The positive term grows like ``exp(q / temperature)``: with float32 the loss
    itself stays finite while ``q / temperature < 88``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import rince
    >>> z = torch.eye(4)
    >>> round(float(rince(z, z, q=1.0, lam=0.5, temperature=1.0)), 4)
    1.6409
    """
    _check_q(q)
    _check_positive("lam", lam)
    _check_positive("temperature", temperature)
    s_pos, log_s = _anchor_scores(z1, z2, temperature)
    positive = torch.exp(q * s_pos) / q  # (2N,)
    partition = torch.exp(q * (math.log(lam) + log_s)) / q  # (2N,), (lam S)^q / q
    return (partition - positive).mean()


class InfoNCELoss(nn.Module):
    """InfoNCE (NT-Xent) loss as a module; see :func:`info_nce`.

    Parameters
    ----------
    temperature : float, default=0.5
        Divides the cosine similarities; > 0.

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
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        _check_positive("temperature", temperature)
        self.temperature = temperature

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Return the mean loss over the ``2N`` anchors of ``(z1, z2)``."""
        return info_nce(z1, z2, temperature=self.temperature)

    def anchor_losses(self, z1: Tensor, z2: Tensor, anchors: Tensor) -> Tensor:
        """Return the losses of the ``anchors`` only; see :func:`info_nce_anchors`."""
        return info_nce_anchors(z1, z2, anchors, temperature=self.temperature)

    def extra_repr(self) -> str:  # noqa: D102
        return f"temperature={self.temperature}"


class RINCELoss(nn.Module):
    """Robust InfoNCE (RINCE) loss as a module; see :func:`rince`.

    Parameters
    ----------
    q : float, default=0.5
        In ``(0, 1]``: small ``q`` behaves like InfoNCE, ``q = 1`` is the
        symmetric loss that is robust to noisy views.
    lam : float, default=0.01
        Weight of the partition term; > 0.
    temperature : float, default=0.5
        Divides the cosine similarities; > 0.

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
    """

    def __init__(
        self, q: float = 0.5, lam: float = 0.01, temperature: float = 0.5
    ) -> None:
        super().__init__()
        _check_q(q)
        _check_positive("lam", lam)
        _check_positive("temperature", temperature)
        self.q = q
        self.lam = lam
        self.temperature = temperature

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Return the mean loss over the ``2N`` anchors of ``(z1, z2)``."""
        return rince(z1, z2, q=self.q, lam=self.lam, temperature=self.temperature)

    def anchor_losses(self, z1: Tensor, z2: Tensor, anchors: Tensor) -> Tensor:
        """Return the losses of the ``anchors`` only; see :func:`rince_anchors`."""
        return rince_anchors(
            z1, z2, anchors, q=self.q, lam=self.lam, temperature=self.temperature
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"q={self.q}, lam={self.lam}, temperature={self.temperature}"


# -- the losses of some anchors (one process's share of a gathered batch) ---------
def _some_anchor_scores(
    z1: Tensor, z2: Tensor, anchors: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """Return ``s+`` and ``log S`` of the selected anchors only.

    ``anchors`` index the ``2N`` rows of ``cat([z1, z2])``; each anchor is
    compared with all ``2N`` rows, so the cost is ``O(k * N * d)`` for ``k``
    anchors instead of ``O(N**2 * d)``.
    """
    _check_views(z1, z2)
    n = z1.shape[0]
    anchors = torch.as_tensor(anchors, dtype=torch.long, device=z1.device)
    if anchors.ndim != 1 or (
        anchors.numel() and not (0 <= int(anchors.min()) <= int(anchors.max()) < 2 * n)
    ):
        raise ValueError(
            f"anchors must be a 1-D index into the 2N = {2 * n} rows of "
            f"cat([z1, z2]), got {anchors.tolist()!r}."
        )
    dtype = torch.promote_types(z1.dtype, torch.float32)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = F.normalize(torch.cat([z1, z2], dim=0).to(dtype), dim=1)  # (2N, d)
        za = z[anchors]  # (k, d)
        sim = za @ z.T / temperature  # (k, 2N)
        rows = torch.arange(anchors.numel(), device=z.device)  # (k,)
        sim[rows, anchors] = float("-inf")  # an anchor is not its own negative
        positive = (anchors + n) % (2 * n)  # (k,) the other view of the sample
        s_pos = (za * z[positive]).sum(dim=1) / temperature  # (k,)
        log_s = F.cross_entropy(sim, positive, reduction="none") + s_pos  # (k,)
    return s_pos, log_s


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
    positive = torch.exp(q * s_pos) / q  # (k,)
    partition = torch.exp(q * (math.log(lam) + log_s)) / q  # (k,)
    return partition - positive
