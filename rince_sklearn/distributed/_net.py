"""The skorch net that trains one model over a process group (see the package docs)."""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from .._net import ContrastiveNet
from ..augment import call_augmentation_shard
from ..batching import batch_bounds
from ..losses import PerAnchorLoss
from ._batchnorm import convert_batchnorm
from ._comm import (
    _all_sizes,
    _comm_device,
    _summed,
    gather_with_grad,
    rank,
    sum_gradients,
    world_size,
)
from ._sharding import BatchLayout, BatchShard, ShardedBatchLoader, shard_sizes

__all__ = ["DistributedContrastiveNet"]


#: DDP's switch for broadcasting buffers at every forward pass (renamed in torch 2.13)
_NO_BUFFER_SYNC: dict[str, Any] = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


class _TrainingGroup:
    """One training run's view of the process group.

    A plain object, so that skorch does not register the DDP wrapper as one of
    the net's modules.
    """

    def __init__(
        self,
        parts: list[int],
        offset: int,
        ddp: DistributedDataParallel | None,
    ) -> None:
        self.parts, self.offset, self.ddp = parts, offset, ddp


def _sum_gradient_buckets(process_group, bucket):
    """DDP communication hook: sum the gradients (DDP's default averages).

    Not annotated: DDP checks a hook's annotations against its own classes, and
    postponed (string) annotations fail that check.
    """
    work = dist.all_reduce(bucket.buffer(), group=process_group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


class DistributedContrastiveNet(ContrastiveNet):
    """:class:`~rince_sklearn._net.ContrastiveNet` trained over a process group.

    See the module documentation for what happens in a step. Without a process
    group (or with one process) it trains exactly like its parent.
    :class:`DistributedEmbedder` and :class:`ShardedEmbedder` build it.

    It changes only documented skorch hooks and the parent's own hooks:
    ``initialize_module`` (rank 0's seed, gathered batch norms, this process's
    augmentation stream), ``on_train_begin`` / ``on_train_end`` (the global
    data set's layout, the :class:`~torch.nn.parallel.DistributedDataParallel`
    wrapper), ``get_iterator`` (:class:`ShardedBatchLoader`), ``make_view``
    (augment this process's rows), ``forward_view`` (embed them, gather all
    projections) and ``get_loss`` (this process's anchors). The parent's
    training step and backward pass run unchanged.

    Parameters
    ----------
    *args
        As for :class:`~rince_sklearn._net.ContrastiveNet`.
    data : {"replicated", "sharded"}, default="replicated"
        ``"replicated"``: every process was given the same data and owns the
        contiguous block ``shard_sizes(n, world_size)[rank]`` of it;
        ``"sharded"``: every process was given only its own part, and the
        global data set is the parts in rank order.
    **kwargs
        As for :class:`~rince_sklearn._net.ContrastiveNet`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(32, 4))
    >>> emb = DistributedEmbedder(embedding_dim=2, max_epochs=1).fit(X)
    >>> type(emb.net_).__name__
    'DistributedContrastiveNet'
    """

    #: how gradients are summed over processes: "ddp" (DistributedDataParallel
    #: with a summing communication hook) or "manual" (one all-reduce after the
    #: backward pass, in ``on_grad_computed``); see the module documentation
    gradient_sync = "ddp"

    def __init__(self, *args: Any, data: str = "replicated", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data = data

    # -- set-up -------------------------------------------------------------------
    def initialize_module(self) -> DistributedContrastiveNet:
        """Build the module (with rank 0's seed), gather its batch norms."""
        if world_size() > 1:
            seed = torch.tensor([self.seed], dtype=torch.int64, device=_comm_device())
            dist.broadcast(seed, src=0)
            self.seed = int(seed)
        super().initialize_module()
        convert_batchnorm(self.module_)
        # this process's own stream for augmenting its rows; augment_rng_
        # stays the same on every process (noisy pairing, shared choices)
        self.shard_rng_ = torch.Generator(device=torch.device(self.device))
        self.shard_rng_.manual_seed(self.seed + 1 + 7919 * (rank() + 1))
        self._group: _TrainingGroup | None = None
        self._loader: ShardedBatchLoader | None = None
        return self

    _generators = (*ContrastiveNet._generators, "shard_rng_")
    _device_generators = (*ContrastiveNet._device_generators, "shard_rng_")

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_group", None)  # holds the process group: not picklable
        state.pop("_loader", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._group, self._loader = None, None

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Lay out the global data set; wrap the module for gradient summing."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        n_procs = world_size()
        if n_procs == 1:
            return
        lengths = _all_sizes(len(X))
        if self.data == "replicated":
            if len(set(lengths)) != 1:
                raise ValueError(
                    "Every process must pass the same data to fit; got "
                    f"{lengths} samples on ranks 0..{len(lengths) - 1}. To give "
                    "each process only its part, use ShardedEmbedder."
                )
            parts, offset = shard_sizes(lengths[0], n_procs), 0
        elif self.data == "sharded":
            parts, offset = lengths, sum(lengths[: rank()])
        else:
            raise ValueError(
                f"data must be 'replicated' or 'sharded', got {self.data!r}."
            )
        ddp = None
        if self.gradient_sync == "ddp":
            # broadcasts rank 0's parameters and buffers; the batch norms keep
            # identical running statistics on every process, so buffers are
            # not broadcast again at every forward pass
            ddp = DistributedDataParallel(self.module_, **_NO_BUFFER_SYNC)
            ddp.register_comm_hook(None, _sum_gradient_buckets)
        else:
            for tensor in self.module_.state_dict().values():
                dist.broadcast(tensor, src=0)
        self._group = _TrainingGroup(parts, offset, ddp)

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Drop the wrapper (it holds the process group)."""
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._group, self._loader = None, None

    def batches_per_epoch(self, dataset: Any) -> int:
        """Return the steps of one pass over the global data (all processes' rows)."""
        if self._group is None or world_size() == 1:
            return super().batches_per_epoch(dataset)
        return len(batch_bounds(sum(self._group.parts), self.batch_size, True))

    def get_iterator(self, dataset: Any, training: bool = False) -> Any:
        """Training: a :class:`ShardedBatchLoader` over the global data set."""
        loader = super().get_iterator(dataset, training=training)
        if world_size() == 1 or not training or self._group is None:
            return loader
        self._loader = ShardedBatchLoader(
            dataset,
            batch_size=self.batch_size,
            part_sizes=self._group.parts,
            rank=rank(),
            offset=self._group.offset,
            generator=self.shuffle_rng_,
            # the same batches as the parent's loader would cut
            drop_last=getattr(loader, "drop_last", False),
        )
        return self._loader

    # -- one step -------------------------------------------------------------------
    def _layout(self) -> BatchLayout | None:
        if world_size() == 1 or self._loader is None:
            return None
        return self._loader.layout

    def make_view(self, batch: Any) -> Any:
        """Augment this process's rows (batch-wide draws through a collective)."""
        layout = self._layout()
        if layout is None or self.augmentation is None:
            return super().make_view(batch)
        shard = BatchShard(layout.sizes, rank(), generator=self.augment_rng_)
        return call_augmentation_shard(self.augmentation, batch, shard, self.shard_rng_)

    def forward_view(self, view: Any) -> Tensor:
        """Embed this process's rows; return all projections in batch order."""
        layout = self._layout()
        if layout is None:
            return super().forward_view(view)
        ddp = self._group.ddp if self._group is not None else None
        module = ddp if ddp is not None else self.module_
        local = module(view)  # (b_r, projection_dim)
        gathered = gather_with_grad(local, layout.sizes)  # (B, P), rank order
        return gathered[layout.to_batch_order.to(gathered.device)]  # batch order

    def get_loss(
        self, y_pred: Any, y_true: Any = None, X: Any = None, training: bool = False
    ) -> Tensor:
        """Return the global-batch loss; its gradient is this process's share.

        With a criterion that implements
        :class:`~rince_sklearn.losses.PerAnchorLoss` (``anchor_losses(z1, z2,
        anchors)``, as the package's losses do), the share is the sum of this
        process's anchors' losses over ``2B``; other criteria are computed
        whole on every process and each takes ``1 / world_size`` of it. The
        shares add up to the global loss, so the summed gradients are its
        gradients. The value returned is the global loss (one all-reduce of a
        scalar), the same on every process, for the history and the divergence
        check.
        """
        layout = self._layout()
        if layout is None or not training:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        z1, z2 = y_pred  # (B, P) each, all processes' rows in batch order
        criterion = self.criterion_
        if isinstance(criterion, PerAnchorLoss) and y_true is None:
            n = z1.shape[0]
            local = layout.local_rows  # (b_r,) on the CPU: checked without a sync
            anchors = torch.cat([local, local + n])  # (2 b_r,) both views
            share = criterion.anchor_losses(z1, z2, anchors).sum() / (2 * n)
        else:
            whole = super().get_loss(y_pred, y_true, X=X, training=training)
            share = whole / world_size()
        total = _summed(share.float()).to(share)
        return share + (total - share).detach()

    def on_batch_end(
        self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        """Record the global batch size; check the (global) loss for divergence.

        The epoch's loss is then averaged over batches as in one process.
        """
        layout = self._layout() if training else None
        if layout is not None:
            self.history.record_batch("train_batch_size", sum(layout.sizes))
        super().on_batch_end(net, batch=batch, training=training, **kwargs)

    def on_grad_computed(self, net: Any, named_parameters: Any, **kwargs: Any):
        """With ``gradient_sync="manual"``: sum the gradients over processes."""
        super().on_grad_computed(net, named_parameters, **kwargs)
        if self.gradient_sync == "manual" and self._layout() is not None:
            sum_gradients(self.module_.parameters())
