"""Batched augmentations for tabular rows."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._base import Augmentation

__all__ = ["GaussianNoise", "MarginalCorruption", "marginal_corruption"]


def marginal_corruption(
    x: Tensor, corruption_rate: float, generator: torch.Generator | None = None
) -> Tensor:
    """Replace a random subset of each row's entries by draws from their column.

    Each entry is corrupted with probability ``corruption_rate``; a corrupted
    entry ``(i, f)`` takes the value ``x[r, f]`` of a uniformly drawn row ``r`` of
    the batch, i.e. a draw from column ``f``'s empirical distribution (SCARF).

    Parameters
    ----------
    x : Tensor of shape (B, F)
        The batch.
    corruption_rate : float in [0, 1]
        Probability that an entry is replaced.
    generator : torch.Generator, default=None
        Source of all random draws.

    Returns
    -------
    Tensor of shape (B, F)
        The corrupted copy.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import marginal_corruption
    >>> x = torch.arange(6.0).reshape(3, 2)
    >>> torch.equal(marginal_corruption(x, 0.0), x)  # nothing corrupted
    True
    >>> view = marginal_corruption(x, 1.0, torch.Generator().manual_seed(0))
    >>> bool(torch.isin(view[:, 0], x[:, 0]).all())  # values of the same column
    True
    """
    b, f = x.shape
    mask = torch.rand(b, f, generator=generator, device=x.device) < corruption_rate
    rows = torch.randint(0, b, (b, f), generator=generator, device=x.device)
    donors = x.gather(0, rows)  # (B, F): donors[i, f] = x[rows[i, f], f]
    return torch.where(mask, donors, x)  # (B, F)


class MarginalCorruption(Augmentation):
    """SCARF-style corruption from each column's empirical distribution.

    Parameters
    ----------
    corruption_rate : float, default=0.6
        Probability that an entry is replaced by the same column's value in a
        random row of the batch. With batches of a few hundred rows this is a
        draw from the column's empirical marginal, not a uniform value between
        its minimum and maximum.
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added afterwards, relative to each
        column's standard deviation in the batch.

    References
    ----------
    .. [1] Bahri, D., Jiang, H., Tay, Y. and Metzler, D. "SCARF: Self-Supervised
       Contrastive Learning using Random Feature Corruption", ICLR 2022.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import MarginalCorruption
    >>> x = torch.arange(12.0).reshape(4, 3)
    >>> view = MarginalCorruption(0.5)(x, generator=torch.Generator().manual_seed(0))
    >>> view.shape
    torch.Size([4, 3])
    >>> bool(all(torch.isin(view[:, j], x[:, j]).all() for j in range(3)))
    True
    """

    def __init__(self, corruption_rate: float = 0.6, noise_std: float = 0.0) -> None:
        self.corruption_rate = corruption_rate
        self.noise_std = noise_std

    def augment(
        self, batch: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return a corrupted copy of ``batch`` (shape ``(B, F)``)."""
        view = marginal_corruption(batch, self.corruption_rate, generator)
        if self.noise_std > 0:
            view = GaussianNoise(self.noise_std)(view, generator=generator)
        return view

    def augment_shard(
        self, batch: Tensor, shard: Any, generator: torch.Generator | None = None
    ) -> Tensor:
        """Corrupt one process's rows with donors from the whole global batch.

        The global batch's rows are gathered from all processes
        (``shard.gather``), so donors are drawn from the same rows as in a
        single process; the masks and donor choices of this process's rows
        come from ``generator``. Without a process group it equals
        :meth:`augment` (shape ``(b, F)``).
        """
        pool = shard.gather(batch)  # (B, F): every process's rows
        b, f = batch.shape
        mask = torch.rand(b, f, generator=generator, device=batch.device)
        mask = mask < self.corruption_rate  # (b, F)
        rows = torch.randint(
            0, pool.shape[0], (b, f), generator=generator, device=batch.device
        )  # (b, F) donor rows in the global batch
        view = torch.where(mask, pool.gather(0, rows), batch)  # (b, F)
        if self.noise_std > 0:
            view = GaussianNoise(self.noise_std).augment_shard(view, shard, generator)
        return view


class GaussianNoise(Augmentation):
    """Add Gaussian noise scaled by each column's standard deviation in the batch.

    Parameters
    ----------
    std : float, default=0.1
        Noise standard deviation, relative to each column's spread.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import GaussianNoise
    >>> x = torch.randn(500, 3) * torch.tensor([1.0, 10.0, 100.0])
    >>> view = GaussianNoise(0.1)(x, generator=torch.Generator().manual_seed(0))
    >>> relative = (view - x).std(dim=0) / x.std(dim=0)  # about 0.1 per column
    >>> bool(((relative > 0.08) & (relative < 0.12)).all())
    True
    """

    def __init__(self, std: float = 0.1) -> None:
        self.std = std

    def augment(
        self, batch: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return ``batch`` plus noise (shape ``(B, F)``)."""
        scale = batch.std(dim=0, unbiased=False, keepdim=True)  # (1, F)
        noise = torch.randn(
            batch.shape, generator=generator, device=batch.device, dtype=batch.dtype
        )
        return batch + self.std * scale * noise

    def augment_shard(
        self, batch: Tensor, shard: Any, generator: torch.Generator | None = None
    ) -> Tensor:
        """Add noise scaled by the global batch's column spread (two all-reduces).

        Without a process group it equals :meth:`augment` up to rounding.
        """
        n = shard.n_global
        total = shard.sum(batch.sum(dim=0, dtype=torch.float64))  # (F,)
        mean = total / n
        squares = shard.sum(((batch.double() - mean) ** 2).sum(dim=0))  # (F,)
        scale = (squares / n).sqrt().to(batch.dtype)[None, :]  # (1, F)
        noise = torch.randn(
            batch.shape, generator=generator, device=batch.device, dtype=batch.dtype
        )
        return batch + self.std * scale * noise
