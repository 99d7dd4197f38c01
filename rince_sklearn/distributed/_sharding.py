"""One process's part of the global data set and of each global batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from ..batching import BatchSource, batch_bounds
from ._comm import _gather_rows, world_size

__all__ = ["BatchLayout", "BatchShard", "ShardedBatchLoader", "shard_sizes"]


def shard_sizes(n: int, n_shards: int) -> list[int]:
    """Return the sizes of ``n`` rows split into ``n_shards`` contiguous shards.

    As :func:`torch.tensor_split`: the first ``n % n_shards`` shards hold one
    row more.

    Parameters
    ----------
    n : int
        Number of rows.
    n_shards : int
        Number of shards (processes).

    Returns
    -------
    sizes : list of int
        The shards' sizes, in order; they add up to ``n``.

    Examples
    --------
    >>> shard_sizes(10, 4)
    [3, 3, 2, 2]
    """
    base, extra = divmod(n, n_shards)
    return [base + (i < extra) for i in range(n_shards)]


class BatchShard:
    """Where this process's rows sit in a global training batch.

    Augmentations whose views depend on the whole batch receive it in
    ``augment_shard(batch, shard, generator)`` (see
    :func:`~rince_sklearn.augment.call_augmentation_shard`) and use it to read
    from the other processes.

    Parameters
    ----------
    sizes : sequence of int
        Rows of the global batch held by each process, in rank order.
    rank : int, default=None
        This process's rank (None: read from the process group).
    generator : torch.Generator, default=None
        A random stream in the same state on every process, for decisions
        that must be the same for the whole batch.
    group : ProcessGroup, default=None
        The group (None: the default group).

    Examples
    --------
    Without a process group, the shard is the whole batch:

    >>> import torch
    >>> shard = BatchShard([4])
    >>> shard.n_global, shard.gather(torch.ones(4, 2)).shape
    (4, torch.Size([4, 2]))
    """

    def __init__(
        self,
        sizes: Sequence[int],
        rank: int | None = None,
        generator: torch.Generator | None = None,
        group: Any = None,
    ) -> None:
        self.sizes = [int(s) for s in sizes]
        if rank is None:
            rank = dist.get_rank(group) if world_size(group) > 1 else 0
        self.rank = rank
        self.generator = generator
        self.group = group

    @property
    def n_global(self) -> int:
        """Rows in the global batch."""
        return sum(self.sizes)

    def gather(self, x: Tensor) -> Tensor:
        """Return every process's ``x`` concatenated along dim 0 (no gradients)."""
        if world_size(self.group) == 1:
            return x
        return _gather_rows(x, self.sizes, self.group)

    def sum(self, x: Tensor) -> Tensor:
        """Return the sum of every process's ``x`` (a new tensor)."""
        total = x.clone()
        if world_size(self.group) > 1:
            dist.all_reduce(total, op=dist.ReduceOp.SUM, group=self.group)
        return total


class BatchLayout:
    """Which process holds which rows of one global batch.

    Parameters
    ----------
    owner : LongTensor of shape (B,)
        The rank that holds each row of the global batch (in batch order).
    n_procs : int
        Number of processes.
    rank : int
        This process's rank.

    Attributes
    ----------
    sizes : list of int
        Rows held by each process; the gathered rows come in rank order.
    to_batch_order : LongTensor of shape (B,)
        ``gathered[to_batch_order]`` puts gathered rows back in batch order.
    local_rows : LongTensor of shape (sizes[rank],)
        Positions of this process's rows in the global batch.

    Examples
    --------
    >>> import torch
    >>> layout = BatchLayout(torch.tensor([1, 0, 1, 0, 0]), n_procs=2, rank=1)
    >>> layout.sizes, layout.local_rows.tolist(), layout.to_batch_order.tolist()
    ([3, 2], [0, 2], [3, 0, 4, 1, 2])
    """

    def __init__(self, owner: Tensor, n_procs: int, rank: int) -> None:
        self.sizes = torch.bincount(owner, minlength=n_procs).tolist()
        # gathered row k is batch row gathered_order[k]: rank 0's rows first,
        # each process's rows in batch order
        gathered_order = torch.argsort(owner, stable=True)  # (B,)
        self.to_batch_order = torch.argsort(gathered_order)  # (B,)
        self.local_rows = torch.nonzero(owner == rank).squeeze(1)  # (b_r,)


class ShardedBatchLoader:
    """Global batches, of which this process loads only its own rows.

    The samples of all processes form one global data set: process 0's
    ``part_sizes[0]`` samples, then process 1's, and so on. Every pass draws
    one permutation of it (``generator`` is in the same state on every
    process) and cuts it into global batches exactly as
    :class:`~rince_sklearn.batching.BatchLoader` does in a single process;
    each process then takes from ``dataset`` only the samples of each batch
    that it owns, and :attr:`layout` tells where they sit in the batch.

    Parameters
    ----------
    dataset : BatchSource
        The samples this process can read: its own part (``offset`` = the
        first global index it owns), or all samples (``offset=0``).
    batch_size : int
        Global batch size.
    part_sizes : sequence of int
        Samples owned by each process, in rank order.
    rank : int
        This process's rank.
    offset : int
        Global index of ``dataset``'s first sample.
    generator : torch.Generator, default=None
        Source of the permutations; the same state on every process.
    drop_last : bool, default=False
        Leave out the last incomplete global batch (with fewer samples than
        ``batch_size`` in all, the one batch is all of them).

    Yields
    ------
    batch, None
        This process's rows of the next global batch.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import TensorSource
    >>> part = TensorSource(torch.arange(10.0, 16.0)[:, None])  # samples 10..15
    >>> shuffle = torch.Generator().manual_seed(0)  # the same on every process
    >>> loader = ShardedBatchLoader(part, batch_size=8, part_sizes=[10, 6], rank=1,
    ...                             offset=10, generator=shuffle)
    >>> [(batch.ravel().tolist(), loader.layout.sizes) for batch, _ in loader]
    [([12.0, 10.0, 11.0, 13.0], [4, 4]), ([14.0, 15.0], [6, 2])]
    """

    def __init__(
        self,
        dataset: BatchSource,
        batch_size: int,
        part_sizes: Sequence[int],
        rank: int,
        offset: int,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        self.dataset = dataset
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.part_sizes = [int(s) for s in part_sizes]
        self.rank = rank
        self.offset = offset
        self.generator = generator
        self.layout: BatchLayout | None = None

    def _bounds(self) -> list[tuple[int, int]]:
        return batch_bounds(sum(self.part_sizes), self.batch_size, self.drop_last)

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self):
        n = sum(self.part_sizes)
        order = torch.randperm(n, generator=self.generator)  # as BatchLoader
        ends = torch.cumsum(torch.tensor(self.part_sizes), 0)  # (W,)
        for start, stop in self._bounds():
            ids = order[start:stop]  # (B,) global sample ids, batch order
            owner = torch.bucketize(ids, ends, right=True)  # (B,)
            self.layout = BatchLayout(owner, len(self.part_sizes), self.rank)
            local = ids[self.layout.local_rows] - self.offset  # (b_r,)
            yield self.dataset.take(local), None
        self.layout = None
