"""Simulated noisy views: positive pairs that share no information.

The RINCE paper's claim is about noisy views. To measure it on any data, a
fraction ``eta`` of the positive pairs in each training batch is replaced by
false positive pairs (the first view of a sample with the second view of
another sample): :func:`false_positive_pairing` draws that re-pairing, and the
estimator's ``noise_rate`` parameter applies it to every training batch
(through the training net's ``pair_views`` hook).
It is an experimental device, for studying robustness, not a training aid.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["false_positive_pairing"]


def false_positive_pairing(
    n: int, noise_rate: float, generator: torch.Generator | None = None
) -> Tensor:
    """Return an index that turns a fraction of positive pairs into false ones.

    ``round(noise_rate * n)`` pairs are chosen at random (at least 2 once any is,
    since one sample cannot swap with itself); their second views are rotated
    among them, so each chosen sample's first view is paired with a view of
    another chosen sample. The index is a permutation: every second view is
    still used exactly once, as a positive of one anchor and as a negative of the
    others, so only the pairing changes, not the set of views in the batch.

    Parameters
    ----------
    n : int
        Batch size.
    noise_rate : float in [0, 1]
        Fraction of false positive pairs.
    generator : torch.Generator, default=None
        Source of randomness (its device is used for the result).

    Returns
    -------
    index : LongTensor of shape (n,)
        Apply as ``z2 = z2[index]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.noisy_views import false_positive_pairing
    >>> index = false_positive_pairing(10, 0.5, torch.Generator().manual_seed(0))
    >>> int((index != torch.arange(10)).sum())
    5
    >>> sorted(index.tolist()) == list(range(10))
    True
    """
    device = generator.device if generator is not None else torch.device("cpu")
    index = torch.arange(n, device=device)
    k = min(n, int(round(noise_rate * n)))
    if k == 1 and n >= 2:
        k = 2
    if k < 2:
        return index
    chosen = torch.randperm(n, generator=generator, device=device)[:k]  # (k,)
    index[chosen] = chosen.roll(1)  # a cycle: no chosen sample keeps its view
    return index
