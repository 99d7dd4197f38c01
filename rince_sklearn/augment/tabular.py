"""Batched augmentations for tabular rows."""

from __future__ import annotations

import copy
import secrets
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


def _draw_from_columns(
    x: Tensor, columns: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Draw, for each entry ``x[i, f]``, a value of column ``f`` but its own.

    ``columns`` holds each column's values in a row, sorted: ``(F, P)``. Entry
    ``(i, f)`` takes a uniform draw among ``columns[f]`` less one copy of
    ``x[i, f]`` (when the value occurs there). No search is needed: a uniform
    position ``r`` is drawn; if it holds the first copy of the entry's own
    value (the one left out: ``columns[f, r] == x[i, f]`` and the value
    before it is smaller), it is replaced by a uniform draw among the other
    ``P - 1`` positions. Each other position then has probability
    ``1/P + 1/P * 1/(P - 1) = 1/(P - 1)``. Values are compared in
    ``columns``' dtype. Returns ``(B, F)`` in ``x``'s dtype.
    """
    b, f = x.shape
    n = columns.shape[1]
    device = x.device
    values = x.to(columns.dtype).T  # (F, B)
    r = torch.randint(0, n, (b, f), generator=generator, device=device).T  # (F, B)
    s = torch.randint(0, max(n - 1, 1), (b, f), generator=generator, device=device).T
    drawn = columns.gather(1, r)  # (F, B)
    before = columns.gather(1, (r - 1).clamp(min=0))  # (F, B)
    left_out = (drawn == values) & ((r == 0) | (before < values))  # (F, B)
    # another position than r; a column of one value keeps it (nothing else)
    other = columns.gather(1, (s + (s >= r).long()).clamp(max=n - 1))  # (F, B)
    return torch.where(left_out, other, drawn).T.to(x.dtype)  # (B, F)


def marginal_corruption(
    x: Tensor,
    corruption_rate: float,
    generator: torch.Generator | None = None,
    pool: Tensor | None = None,
) -> Tensor:
    """Replace a random subset of each row's entries by draws from their column.

    Each entry is corrupted with probability ``corruption_rate``; a corrupted
    entry ``(i, f)`` takes a draw from column ``f``'s empirical marginal
    (independently per entry), as in SCARF. Without ``pool``, the marginal is
    the batch's: the value ``x[j, f]`` of a uniformly drawn other row
    ``j != i``. With ``pool`` (each column's values, as
    :class:`MarginalCorruption` keeps them after ``fit``; the order of a
    column's values does not matter), it is a uniform draw among ``pool[:, f]``
    less one copy of the entry's own value, if that value is among them: the
    draw that a donor row other than the row itself would give, when ``x``
    comes from the training data.

    Parameters
    ----------
    x : Tensor of shape (B, F)
        The batch.
    corruption_rate : float in [0, 1]
        Probability that an entry is replaced.
    generator : torch.Generator, default=None
        Source of all random draws.
    pool : Tensor of shape (P, F), default=None
        Each column's values; None draws from the batch. It is sorted per
        column on every call (:class:`MarginalCorruption` sorts its pool once).

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
    >>> pool = torch.tensor([[5.0, 0.0], [1.0, 2.0], [3.0, 4.0]])  # any order
    >>> view = marginal_corruption(x[:1], 1.0, torch.Generator(), pool=pool)
    >>> bool((view != x[:1]).all())  # never the entry's own value
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
    if pool.ndim != 2 or pool.shape[1] != f or pool.shape[0] < 1:
        raise ValueError(
            f"pool must hold at least one value per column of x, shape (P, {f}); "
            f"got {tuple(pool.shape)}."
        )
    columns = pool.to(x.device).T.sort(dim=1).values.contiguous()  # (F, P)
    return torch.where(mask, _draw_from_columns(x, columns, generator), x)


def _shuffle_columns(X: Tensor) -> Tensor:
    """Permute each column of ``X`` on its own, by secret random permutations.

    The permutations come from a generator seeded by the operating system's
    entropy, not from a fixed seed, so they cannot be recomputed to put the
    rows back together; nothing that uses the result depends on its order.
    Column 1's permutation is adjusted so that no row of the result has its
    first two entries from one row of ``X``: no row is taken whole from one
    row of ``X``. Returns ``(n, F)``, contiguous.
    """
    n, f = X.shape
    g = torch.Generator().manual_seed(secrets.randbits(63))
    # (F, n): a copy (never a view of X, even for one column), permuted in place
    columns = X.T.clone(memory_format=torch.contiguous_format)
    first = torch.randperm(n, generator=g)
    for c in range(f):
        order = first if c == 0 else torch.randperm(n, generator=g)
        if c == 1 and n >= 2:
            # a row with both entries from one row of X swaps its second entry
            # with the next row's; neither row then has that defect
            for j in torch.nonzero(order == first).flatten().tolist():
                if order[j] == first[j]:
                    k = (j + 1) % n
                    order[[j, k]] = order[[k, j]]
        columns[c] = columns[c, order]
    return columns.T.contiguous()


class MarginalCorruption(Augmentation):
    """SCARF-style corruption from each column's empirical distribution.

    Without ``fit``, a corrupted entry takes the same column's value in
    another random row of the batch. After ``fit(X)`` (which the estimator
    calls with the training data before training), it takes a draw from the
    column's values over the whole training set instead, as in SCARF [1]_:
    each column's empirical marginal, whatever the batch size, less one copy
    of the entry's own value (as if a donor row other than the row itself
    were drawn).

    ``fit`` keeps each column's training values, not the training rows: every
    column is permuted on its own, by a random permutation that is not kept,
    so that no row of ``pool_`` (which pickles and ``save`` store) is a
    training row, and a row with extreme values in every column is not kept
    together. The corruption uses only each column's sorted values, so the
    order does not change any view.

    Parameters
    ----------
    corruption_rate : float, default=0.6
        Probability that an entry is replaced by a draw from its column, in
        ``[0, 1]``.
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added afterwards, relative to each
        column's standard deviation in the batch, in ``[0, 10]``.
    max_rows : int, default=100_000
        Values kept per column by ``fit``, 1 to 10,000,000: a larger training
        set is subsampled (uniformly, with a fixed seed), which keeps each
        column's marginal up to sampling error and bounds the memory (and the
        saved file).

    Attributes
    ----------
    pool_ : Tensor of shape (n_values, n_features)
        Each column's training values (after ``fit``), every column in its own
        random order: the augmentation's saved state. Its columns sorted are
        derived from it (and cached with their copy on the device). A pool of
        training rows, as earlier versions kept, gives the same columns.

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
    >>> bool((corruption.pool_[:, None] == train[None]).all(-1).any())  # no row
    False
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
        """Keep each column's values in ``X`` (shape ``(n, F)``), not its rows."""
        self.check_params()
        X = torch.as_tensor(X)
        if X.ndim != 2:
            raise ValueError(
                "MarginalCorruption.fit expects rows of shape (n, F), got "
                f"{tuple(X.shape)}."
            )
        if X.shape[0] < 1:
            raise ValueError("MarginalCorruption.fit needs at least one row.")
        X = X.detach().to("cpu", torch.float32)
        if X.shape[0] > self.max_rows:
            g = torch.Generator().manual_seed(0)
            X = X[torch.randperm(X.shape[0], generator=g)[: self.max_rows]]
        self.pool_ = _shuffle_columns(X)
        return self

    fitted_state_names = ("pool_",)

    def check_fitted_state(self, name: str, value: Tensor) -> Tensor:
        """Check a pool of column values: 2-D finite floats, 1 to ``max_rows`` rows."""
        value = super().check_fitted_state(name, value)
        max_rows = self.max_rows
        if not (isinstance(max_rows, Integral) and not isinstance(max_rows, bool)):
            max_rows = MAX_POOL_ROWS
        if (
            value.ndim != 2
            or not value.is_floating_point()
            or not 1 <= value.shape[0] <= min(max_rows, MAX_POOL_ROWS)
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
        """Corrupt alone: draws from the pool when fitted, else from the batch."""
        pool = getattr(self, "pool_", None)
        if pool is None:
            return marginal_corruption(batch, self.corruption_rate, generator)
        if pool.shape[1] != batch.shape[1]:
            raise ValueError(
                f"MarginalCorruption was fitted on {pool.shape[1]} columns, got a "
                f"batch with {batch.shape[1]}."
            )
        b, f = batch.shape
        mask = torch.rand(b, f, generator=generator, device=batch.device)
        mask = mask < self.corruption_rate  # (B, F), drawn first as without a pool
        donors = _draw_from_columns(batch, self._columns_on(batch.device), generator)
        return torch.where(mask, donors, batch)  # (B, F)

    def augment_shard(
        self, batch: Tensor, shard: Any, generator: torch.Generator | None = None
    ) -> Tensor:
        """Corrupt one process's rows with donors from the whole global batch.

        The global batch's rows are gathered from all processes
        (``shard.gather``), so donors are drawn from the same rows as in a
        single process; the masks and donor choices of this process's rows
        come from ``generator``. Once fitted, draws come from the training
        columns, as in one process. Without a process group it equals
        :meth:`augment` (shape ``(b, F)``).
        """
        if getattr(self, "pool_", None) is not None:
            # fitted: draws come from the training set, as in one process;
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

    def _columns_on(self, device: torch.device) -> Tensor:
        """Return the pool's columns, each sorted, on ``device``: ``(F, P)``.

        Computed once per pool and device (not on every batch): derived from
        ``pool_``, so never stored or loaded.
        """
        cached = getattr(self, "_device_pool", None)
        if cached is None or cached[0] is not self.pool_ or cached[1].device != device:
            columns = self.pool_.to(device).T.sort(dim=1).values.contiguous()
            cached = (self.pool_, columns)
            self._device_pool = cached
        return cached[1]

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
