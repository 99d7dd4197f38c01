"""Similarity scores of contrastive losses, in at least float32, in log space.

An anchor's positive score ``s+`` and ``log S`` (the log of its partition over
the other ``2N - 1`` rows) for every anchor of a batch of two views, or for some
anchors only (one process's share of a gathered batch).
"""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

__all__: list[str] = []  # private: the losses are built on these


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")


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
