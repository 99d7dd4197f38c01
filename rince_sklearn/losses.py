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

This is the SimCLR-style form of the official RINCE code: ``2N`` anchors,
``2N - 2`` negatives each, ``lam`` times the partition that includes the
positive, the mean over anchors. The official code's MoCo-v3 form differs: an
anchor's negatives come from the other view only, the loss is scaled by
``2 * temperature``, and the two directions ``(z1, z2)`` and ``(z2, z1)`` are
summed. This package uses the SimCLR form because it is the form written in the
paper's equations, it uses every other view in the batch as a negative (twice
as many as the MoCo form for one batch, which matters for the small batches of
tabular data), and it is a plain function of one batch with no momentum
encoder, so ``q -> 0`` is exactly NT-Xent plus ``log(lam)``.

With ``labels`` (supervised contrastive learning [3]_), an anchor's positives
are its other view and every other view in the batch with the same label; the
loss of an anchor is its per-positive loss averaged over its positives (see
:func:`rince` and :func:`info_nce`). Losses are looked up by name in a
registry: :func:`register_loss` adds one, :func:`get_loss_class` finds one.

References
----------
.. [1] Chuang, C.-Y., Hjelm, R. D., Wang, X., Vineet, V., Joshi, N., Torralba, A.,
   Jegelka, S. and Song, Y. "Robust Contrastive Learning against Noisy Views",
   CVPR 2022.
.. [2] Chen, T., Kornblith, S., Norouzi, M. and Hinton, G. "A Simple Framework for
   Contrastive Learning of Visual Representations", ICML 2020.
.. [3] Khosla, P., Teterwak, P., Wang, C., Sarna, A., Tian, Y., Isola, P.,
   Maschinot, A., Liu, C. and Krishnan, D. "Supervised Contrastive Learning",
   NeurIPS 2020.
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
    "get_loss_class",
    "info_nce",
    "info_nce_anchors",
    "register_loss",
    "registered_loss_names",
    "rince",
    "rince_anchors",
]

#: log of float32's largest finite value (3.4e38)
_LOG_FLOAT32_MAX = math.log(torch.finfo(torch.float32).max)


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


def _anchor_scores(z1: Tensor, z2: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Return each anchor's positive score ``s+`` and ``log S``.

    Both are 1-D tensors of length ``2N`` in at least float32, with rows
    ``0..N-1`` the anchors of ``z1`` and rows ``N..2N-1`` those of ``z2``.
    """
    _, _, s_pos, log_s = _scores(z1, z2, temperature)
    return s_pos, log_s


def _scores(
    z1: Tensor, z2: Tensor, temperature: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return ``z``, the scores ``s(a, b)``, ``s+`` and ``log S`` of the anchors.

    ``z`` is ``(2N, d)``, the normalised views (those of ``z1``, then those of
    ``z2``); the scores are ``(2N, 2N)`` with ``-inf`` on the diagonal; ``s+``
    and ``log S`` are ``(2N,)``. All in at least float32, outside autocast.
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
    return z, sim, s_pos, log_s


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
    anchors = torch.as_tensor(anchors, dtype=torch.long)
    # checked where they are (the CPU for the package's own callers), so that
    # the check costs no device read
    if anchors.ndim != 1 or (
        anchors.device.type == "cpu"
        and anchors.numel()
        and not (0 <= int(anchors.min()) <= int(anchors.max()) < 2 * n)
    ):
        raise ValueError(
            f"anchors must be a 1-D index into the 2N = {2 * n} rows of "
            f"cat([z1, z2]), got {anchors.tolist()!r}."
        )
    anchors = anchors.to(z1.device)
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
    n_candidates = 2 * z1.shape[0] - 1  # the bound rince() uses
    largest = q * (1 / temperature + max(0.0, math.log(lam * n_candidates)))
    terms = _wide_power_terms(q * s_pos, q * (math.log(lam) + log_s), q)  # (k,)
    # the caller sums the terms: leave room for the sum in the narrow dtype
    return _narrow(terms, s_pos.dtype, q, largest + math.log(max(len(terms), 1)))


# -- the registry of losses, by name -------------------------------------------
_LOSSES: dict[str, type[nn.Module]] = {"rince": RINCELoss, "infonce": InfoNCELoss}


def register_loss(name: str, cls: type[nn.Module]) -> None:
    """Make the loss ``cls`` available to the estimator as ``loss=name``.

    The estimator builds it as ``cls(**settings)``, where ``settings`` are those
    of its ``q``, ``lam`` and ``temperature`` that the constructor accepts,
    and calls it as ``loss(z1, z2)`` on the two views' projections, or as
    ``loss(z1, z2, labels=labels)`` with ``supervision="labels"`` (``labels``
    as in :func:`rince`), so a loss that takes labels has a ``labels``
    parameter in ``forward``. A name registered again is replaced.

    Parameters
    ----------
    name : str
        The value of the estimator's ``loss`` parameter.
    cls : subclass of torch.nn.Module
        The loss.

    See Also
    --------
    get_loss_class : Look a registered loss up.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.losses import get_loss_class, register_loss
    >>> class AlignLoss(torch.nn.Module):  # pulls positive pairs together only
    ...     def forward(self, z1, z2):
    ...         return (z1 - z2).pow(2).sum(dim=1).mean()
    >>> register_loss("align", AlignLoss)
    >>> get_loss_class("align").__name__
    'AlignLoss'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"A loss's name must be a non-empty str, got {name!r}.")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"A loss must be a subclass of torch.nn.Module, got {cls!r}.")
    _LOSSES[name] = cls


def get_loss_class(name: str) -> type[nn.Module]:
    """Return the loss class registered as ``name``.

    Parameters
    ----------
    name : str
        ``"rince"``, ``"infonce"`` or a name added with :func:`register_loss`.

    Returns
    -------
    cls : subclass of torch.nn.Module

    Raises
    ------
    ValueError
        No loss has that name.

    Examples
    --------
    >>> from rince_sklearn.losses import get_loss_class
    >>> get_loss_class("infonce").__name__
    'InfoNCELoss'
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(
            f"No loss is registered as {name!r}; registered losses: "
            f"{sorted(_LOSSES)}. Add one with rince_sklearn.losses.register_loss."
        ) from None


def registered_loss_names() -> set[str]:
    """Return the names of the registered losses (a new set).

    Examples
    --------
    >>> from rince_sklearn.losses import registered_loss_names
    >>> {"rince", "infonce"} <= registered_loss_names()
    True
    """
    return set(_LOSSES)
