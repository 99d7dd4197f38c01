"""Batched augmentations for tabular rows."""

from __future__ import annotations

import copy
import functools
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

from ._base import Augmentation
from ._params import Number

#: the strongest tabular noise, relative to each column's spread: beyond it
#: a view keeps nothing of the row
MAX_NOISE_STD = 10.0
#: the most training rows :class:`MarginalCorruption` may keep (the memory of
#: its pool, and the size of a saved file)
MAX_POOL_ROWS = 10_000_000

__all__ = ["GaussianNoise", "MarginalCorruption", "marginal_corruption"]


def _row_keys(x: Tensor, weights: Tensor) -> Tensor:
    """One float64 number per row, equal for equal rows: ``(B,)``."""
    return (x.to(torch.float64) * weights).sum(dim=1)


@functools.lru_cache(maxsize=32)
def _key_weights(n_features: int, device: torch.device) -> Tensor:
    """Return the fixed random weights of :func:`_row_keys` (made once each)."""
    g = torch.Generator().manual_seed(12345)
    return torch.randn(n_features, generator=g, dtype=torch.float64).to(device)


def marginal_corruption(
    x: Tensor,
    corruption_rate: float,
    generator: torch.Generator | None = None,
    pool: Tensor | None = None,
    pool_key: Tensor | None = None,
) -> Tensor:
    """Replace a random subset of each row's entries by draws from their column.

    Each entry is corrupted with probability ``corruption_rate``; a corrupted
    entry ``(i, f)`` takes the value ``donor[f]`` of a uniformly drawn donor row
    (independently per entry), i.e. a draw from column ``f``'s empirical
    marginal (SCARF). Donors are the rows of ``pool`` (the training data, as
    :class:`MarginalCorruption` keeps it after ``fit``) or, without a pool, the
    other rows of the batch. A donor is never the row itself: in the batch,
    row ``i`` draws among the ``B - 1`` others; in a pool, a drawn row equal to
    row ``i`` (the row itself, when ``x`` comes from the training data) is
    replaced by the next pool row.

    Parameters
    ----------
    x : Tensor of shape (B, F)
        The batch.
    corruption_rate : float in [0, 1]
        Probability that an entry is replaced.
    generator : torch.Generator, default=None
        Source of all random draws.
    pool : Tensor of shape (P, F), default=None
        Donor rows; None draws donors from the batch.
    pool_key : Tensor of shape (P,), default=None
        The pool rows' keys (see ``MarginalCorruption.fit``); needed with a pool
        to recognise the row itself.

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
    >>> bool((view != x).all())  # every entry from another row
    True
    """
    b, f = x.shape
    mask = torch.rand(b, f, generator=generator, device=x.device) < corruption_rate
    if pool is None:
        if b < 2:
            return x.clone()
        # a shift in 1 .. b-1: row i draws among the other rows only
        shift = torch.randint(1, b, (b, f), generator=generator, device=x.device)
        rows = (torch.arange(b, device=x.device)[:, None] + shift) % b  # (B, F)
        donors = x.gather(0, rows)  # (B, F): donors[i, f] = x[rows[i, f], f]
        return torch.where(mask, donors, x)  # (B, F)
    pool = pool.to(x.device)
    n = pool.shape[0]
    rows = torch.randint(0, n, (b, f), generator=generator, device=x.device)
    if pool_key is not None and n > 1:
        key = _row_keys(x, _key_weights(f, x.device))  # (B,)
        pool_key = pool_key.to(x.device)  # a no-op for MarginalCorruption's cache
        same_key = torch.isclose(pool_key[rows], key[:, None], rtol=1e-12, atol=0.0)
        self_row = same_key & (pool.gather(0, rows) == x)  # (B, F) row i drawn
        rows = torch.where(self_row, (rows + 1) % n, rows)
    donors = pool.to(x.dtype).gather(0, rows)  # (B, F)
    return torch.where(mask, donors, x)  # (B, F)


class MarginalCorruption(Augmentation):
    """SCARF-style corruption from each column's empirical distribution.

    Without ``fit``, a corrupted entry takes the same column's value in
    another random row of the batch. After ``fit(X)`` (which the estimator
    calls with the training data before training), donors are drawn from the
    whole training set instead, as in SCARF [1]_: each column's empirical
    marginal over the training data, whatever the batch size. A donor is never
    the row itself.

    Parameters
    ----------
    corruption_rate : float, default=0.6
        Probability that an entry is replaced by a draw from its column, in
        ``[0, 1]``.
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added afterwards, relative to each
        column's standard deviation in the batch, in ``[0, 10]``.
    max_rows : int, default=100_000
        Training rows kept as donors by ``fit``, 1 to 10,000,000: a larger
        training set is
        subsampled (uniformly, with a fixed seed), which keeps each column's
        marginal up to sampling error and bounds the memory (and the saved
        file).

    Attributes
    ----------
    pool_ : Tensor of shape (n_rows, n_features)
        The donor rows (after ``fit``): the augmentation's saved state. A
        float64 key per donor row, used to recognise a row among the donors,
        is derived from it (and cached with the pool's copy on the device).

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
    >>> train = torch.arange(100.0).reshape(50, 2)
    >>> corruption = MarginalCorruption(1.0).fit(train)
    >>> view = corruption(train[:4], generator=torch.Generator().manual_seed(0))
    >>> bool(torch.isin(view, train).all()), bool((view != train[:4]).all())
    (True, True)
    """

    modality = "tabular"
    _parameter_constraints: dict[str, list[Any]] = {
        "corruption_rate": [Number(Real, 0, 1)],
        "noise_std": [Number(Real, 0, MAX_NOISE_STD)],
        "max_rows": [Number(Integral, 1, MAX_POOL_ROWS)],
    }

    @property
    def requires_fit(self) -> bool:  # noqa: D102 - documented on Augmentation
        return True

    def __init__(
        self,
        corruption_rate: float = 0.6,
        noise_std: float = 0.0,
        max_rows: int = 100_000,
    ) -> None:
        self.corruption_rate = corruption_rate
        self.noise_std = noise_std
        self.max_rows = max_rows

    def fit(self, X: Tensor) -> MarginalCorruption:
        """Keep the training rows ``X`` (shape ``(n, F)``) as donors."""
        self.check_params()
        X = torch.as_tensor(X)
        if X.ndim != 2:
            raise ValueError(
                "MarginalCorruption.fit expects rows of shape (n, F), got "
                f"{tuple(X.shape)}."
            )
        X = X.detach().to("cpu", torch.float32)
        if X.shape[0] > self.max_rows:
            g = torch.Generator().manual_seed(0)
            X = X[torch.randperm(X.shape[0], generator=g)[: self.max_rows]]
        self.pool_ = X.contiguous()
        return self

    fitted_state_names = ("pool_",)

    def check_fitted_state(self, name: str, value: Tensor) -> Tensor:
        """Check a pool of donor rows: 2-D finite floats, 1 to ``max_rows`` rows."""
        value = super().check_fitted_state(name, value)
        if (
            value.ndim != 2
            or not value.is_floating_point()
            or not 1 <= value.shape[0] <= self.max_rows
            or not bool(torch.isfinite(value).all())
        ):
            raise ValueError(
                "MarginalCorruption's pool_ must be 2-D finite floats with 1 to "
                f"max_rows={self.max_rows} rows, got a {value.dtype} tensor of "
                f"shape {tuple(value.shape)}."
            )
        return value.to(torch.float32).contiguous()

    def augment(
        self, batch: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return a corrupted copy of ``batch`` (shape ``(B, F)``)."""
        view = self._corrupt(batch, generator)
        if self.noise_std > 0:
            view = GaussianNoise(self.noise_std)(view, generator=generator)
        return view

    def _corrupt(self, batch: Tensor, generator: torch.Generator | None) -> Tensor:
        """Corrupt alone: donors from the pool when fitted, else from the batch."""
        pool = getattr(self, "pool_", None)
        if pool is None:
            return marginal_corruption(batch, self.corruption_rate, generator)
        if pool.shape[1] != batch.shape[1]:
            raise ValueError(
                f"MarginalCorruption was fitted on {pool.shape[1]} columns, got a "
                f"batch with {batch.shape[1]}."
            )
        pool, pool_key = self._pool_on(batch.device)
        return marginal_corruption(
            batch, self.corruption_rate, generator, pool=pool, pool_key=pool_key
        )

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
        if getattr(self, "pool_", None) is not None:
            # fitted: donors come from the training set, as in one process;
            # the noise still takes the global batch's column spread
            view = self._corrupt(batch, generator)
            if self.noise_std > 0:
                view = GaussianNoise(self.noise_std).augment_shard(
                    view, shard, generator
                )
            return view
        pool = shard.gather(batch)  # (B, F): every process's rows, in rank order
        b, f = batch.shape
        n_global = pool.shape[0]
        mask = torch.rand(b, f, generator=generator, device=batch.device)
        mask = mask < self.corruption_rate  # (b, F)
        if n_global < 2:
            view = batch.clone()
        else:
            # as in one process: a donor is any other row of the global batch
            offset = sum(shard.sizes[: shard.rank])
            own = torch.arange(offset, offset + b, device=batch.device)[:, None]
            shift = torch.randint(
                1, n_global, (b, f), generator=generator, device=batch.device
            )
            rows = (own + shift) % n_global  # (b, F) donor rows, never the row
            view = torch.where(mask, pool.gather(0, rows), batch)  # (b, F)
        if self.noise_std > 0:
            view = GaussianNoise(self.noise_std).augment_shard(view, shard, generator)
        return view

    def _pool_on(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """Return the pool and its rows' keys on ``device``.

        Computed once per pool and device (not on every batch): the keys are
        derived from ``pool_``, so they are never stored or loaded.
        """
        cached = getattr(self, "_device_pool", None)
        if cached is None or cached[0] is not self.pool_ or cached[1].device != device:
            pool = self.pool_.to(device)
            key = _row_keys(pool, _key_weights(pool.shape[1], device))
            cached = (self.pool_, pool, key)
            self._device_pool = cached
        return cached[1], cached[2]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_device_pool", None)  # a device copy: rebuilt when needed
        return state

    def __deepcopy__(self, memo: dict) -> MarginalCorruption:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for name, value in self.__getstate__().items():
            setattr(new, name, copy.deepcopy(value, memo))
        return new


class GaussianNoise(Augmentation):
    """Add Gaussian noise scaled by each column's standard deviation in the batch.

    Parameters
    ----------
    std : float, default=0.1
        Noise standard deviation, relative to each column's spread, in
        ``[0, 10]``.

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

    modality = "tabular"
    _parameter_constraints: dict[str, list[Any]] = {
        "std": [Number(Real, 0, MAX_NOISE_STD)]
    }

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
