"""Data-parallel training of one model over several processes (torch.distributed).

Every process of a ``torch.distributed`` group runs the same script;
:class:`DistributedEmbedder` (every process passes the same data) and
:class:`ShardedEmbedder` (every process passes only its part) are
:class:`~rince_sklearn.RobustContrastiveEmbedder` s whose skorch net is a
:class:`DistributedContrastiveNet`. They train one model on global batches,
and the work of each process shrinks as processes are added:

1. **Batches.** The samples of all processes form one global data set
   (process ``r`` owns a contiguous block of it). Every process draws the same
   permutation of it and cuts the same global batches as a single process
   would; each process loads only the samples of each batch that it owns
   (:class:`ShardedBatchLoader`, whose :class:`BatchLayout` records where they
   sit in the batch).
2. **Views.** Each process augments only its own rows, with its own random
   stream. Augmentations that need the whole batch implement
   ``augment_shard`` and get what they need by a collective through a
   :class:`BatchShard`: SCARF's donors come from the all-gathered raw batch,
   :class:`~rince_sklearn.augment.GaussianNoise` scales by the global column
   spread, :class:`~rince_sklearn.augment.RandomChoice` makes one choice per
   global batch. ``noise_rate``'s pairing is drawn over the global batch from a
   stream shared by all processes.
3. **Embedding.** Each process embeds its rows through
   :class:`~torch.nn.parallel.DistributedDataParallel`; batch normalisation
   uses the global batch's statistics (:class:`GatheredBatchNorm1d` and
   friends: one all-reduce of per-channel sums, also on ``gloo``, unlike
   :class:`torch.nn.SyncBatchNorm`).
4. **Loss.** :func:`gather_with_grad` collects every process's projections
   (put back in batch order); each process computes the loss of its own
   anchors only against all of them (the criterion's ``anchor_losses``, for
   example :func:`~rince_sklearn.losses.rince_anchors`), divided by ``2B``.
   These shares add up to the global-batch loss, and loss work per process is
   about ``1 / world_size`` of it. A criterion without ``anchor_losses`` is
   computed whole on every process, which then takes ``1 / world_size`` of it.
5. **Gradients.** The gather's backward sums what all processes' shares send
   to each process's rows, and DDP, with a communication hook that sums
   instead of averaging, adds up the parameter gradients while the backward
   pass runs. Every process takes the same optimiser step with the gradient
   of the global-batch loss (``tests/test_distributed.py`` checks the loss and
   gradients of a step against one process to 1e-5 with 2 ``gloo``
   processes).

The net changes only documented hooks (skorch's ``initialize_module``,
``on_train_begin``, ``on_train_end``, ``get_iterator``, ``get_loss``,
``on_batch_end``, ``on_grad_computed``, and the parent's ``make_view`` and
``forward_view``); the parent's training step and backward pass run
unchanged.

Equivalence with one process. Without augmentation (or with a deterministic
one) a run equals single-process training on the global batch, noisy pairing
and batch normalisation included, up to float rounding. With random
augmentations the views come from per-process streams: they have the
single-process distribution but not its values, so the model differs from a
single-process run with the same seed (it is reproducible for a given number
of processes). Also different: image augmentations keep each view within the
range of the process's own rows, not the global batch's (the same whenever
the rows hold black and white pixels), and dropout masks come from each
process's stream. With :class:`ShardedEmbedder` and parts that are the
blocks of :func:`shard_sizes`, the model equals :class:`DistributedEmbedder`'s
on the whole data.

Why DistributedDataParallel, with a summing hook
--------------------------------------------------
Each process's loss is its share of the global loss, so the parameter
gradients must be summed over processes, not averaged as DDP does by default;
a communication hook that sums (``_sum_gradient_buckets``) does it
without rescaling the loss. DDP is used rather than one all-reduce after the
backward pass (:func:`sum_gradients`, still available as
``gradient_sync = "manual"``) because it overlaps the all-reduce of gradient
buckets with the rest of the backward pass. Measured on the 2-core CPU
development machine (``benchmarks/results/parallel_training.md``, MLP
(1024, 1024), global batch 2048, 2 processes, gloo, medians of 3
interleaved runs on a quiet machine): DDP reached 1.67x the wall-clock
throughput of one process and 1.84x its samples per CPU second, the manual
all-reduce 1.61x and 1.79x. (Under heavy load from other work the two were
too noisy to rank.) The
two views are two forward passes through the DDP module before one backward
pass, which DDP accepts as the graph is the same each step and every
parameter is used. skorch's ``AccelerateMixin`` (DDP plus accelerate's data
loader) is not used: its loader shards the data by samples without the
global batch layout that the gathered loss, the batch-wide augmentations and
the noisy pairing need, and it would add ``accelerate`` as a dependency.

Usage: launch one process per device, for example with ``torchrun``::

    torchrun --nproc-per-node 2 train.py

where ``train.py`` initialises the group and fits as usual (see the scaling
guide for several machines and per-process data)::

    import torch.distributed as dist
    from rince_sklearn.distributed import DistributedEmbedder

    dist.init_process_group("gloo")        # "nccl" with one GPU per process
    emb = DistributedEmbedder(batch_size=512, random_state=0).fit(X)
    if dist.get_rank() == 0:
        emb.save("embedder.pt")            # loads as RobustContrastiveEmbedder
    dist.destroy_process_group()

:func:`run_local` starts such a group on this machine (loopback only), for
tests and benchmarks. Without an initialised group (or with one process),
everything here behaves exactly like the single-process classes.
"""

from __future__ import annotations

import inspect
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn.parallel import DistributedDataParallel

from ._net import ContrastiveNet
from .augment import call_augmentation_shard
from .batching import BatchSource, batch_bounds
from .estimator import RobustContrastiveEmbedder

__all__ = [
    "BatchLayout",
    "BatchShard",
    "DistributedContrastiveNet",
    "DistributedEmbedder",
    "GatheredBatchNorm1d",
    "GatheredBatchNorm2d",
    "GatheredBatchNorm3d",
    "convert_batchnorm",
    "gather_with_grad",
    "rank",
    "run_local",
    "shard_sizes",
    "ShardedBatchLoader",
    "ShardedEmbedder",
    "sum_gradients",
    "world_size",
]


# -- the process group ------------------------------------------------------------
def world_size(group: Any = None) -> int:
    """Return the number of processes in the group, 1 without one.

    Parameters
    ----------
    group : ProcessGroup, default=None
        The group (None: the default group).

    Returns
    -------
    n_procs : int
        The group's size; 1 when no group is initialised.

    Examples
    --------
    >>> world_size()  # no process group here
    1
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(group)
    return 1


def rank(group: Any = None) -> int:
    """Return this process's rank in the group, 0 without one.

    Parameters
    ----------
    group : ProcessGroup, default=None
        The group (None: the default group).

    Returns
    -------
    rank : int
        This process's rank; 0 when no group is initialised.

    Examples
    --------
    >>> rank()  # no process group here
    0
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group)
    return 0


def _comm_device(group: Any = None) -> torch.device:
    """Return the device that the group's backend communicates tensors from."""
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _summed(x: Tensor) -> Tensor:
    """Return ``x`` summed over all processes: a new tensor where ``x`` lives.

    The copy travels through the backend's device (:func:`_comm_device`); no
    autograd (the callers write the backward passes they need).
    """
    total = x.detach().to(_comm_device(), copy=True)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total.to(x.device)


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


def _all_sizes(n: int, group: Any = None) -> list[int]:
    """Return every process's ``n``, in rank order."""
    local = torch.tensor([n], dtype=torch.int64, device=_comm_device(group))
    sizes = [torch.zeros_like(local) for _ in range(world_size(group))]
    dist.all_gather(sizes, local, group=group)
    return [int(s) for s in sizes]


# -- gathering with gradients -------------------------------------------------------
#: dtypes that every backend (gloo included) can communicate
_COMM_DTYPES = (torch.float32, torch.float64)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums the gradients of all ranks."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: list[int], group: Any) -> Tensor:
        ctx.sizes, ctx.group = sizes, group
        ctx.rank = dist.get_rank(group)
        comm_dtype = x.dtype if x.dtype in _COMM_DTYPES else torch.float32
        longest = max(sizes)
        padded = x.new_zeros((longest, *x.shape[1:]), dtype=comm_dtype)
        padded[: x.shape[0]] = x  # (longest, ...): all_gather needs equal shapes
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded, group=group)
        gathered = torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])
        return gathered.to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        dtype = grad.dtype
        comm_dtype = dtype if dtype in _COMM_DTYPES else torch.float32
        total = grad.to(comm_dtype).contiguous().clone()  # (sum, ...)
        # every rank's loss depends on this rank's rows: sum their gradients
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=ctx.group)
        start = sum(ctx.sizes[: ctx.rank])
        local = total[start : start + ctx.sizes[ctx.rank]]
        return local.to(dtype), None, None


def gather_with_grad(
    x: Tensor, sizes: Sequence[int] | None = None, group: Any = None
) -> Tensor:
    """Concatenate every process's ``x`` along dim 0, keeping gradients.

    The forward pass is an all-gather (shards may differ in length). The
    backward pass sums, over all processes, the gradient that each process's
    objective sends to this process's rows, so that back-propagating each
    process's loss ``L_r`` gives every process the gradient of ``sum_r L_r``
    with respect to its own rows. If every process computes the same loss on
    the gathered tensor, back-propagate ``loss / world_size``.

    Parameters
    ----------
    x : Tensor of shape (n_local, ...)
        This process's rows.
    sizes : sequence of int, default=None
        Every process's ``n_local``, in rank order, when known (saves one
        collective); gathered when None.
    group : ProcessGroup, default=None
        The group (None: the default group).

    Returns
    -------
    Tensor of shape (sum(sizes), ...)
        The rows of process 0, then of process 1, and so on. Without a process
        group (or with one process), ``x`` itself.

    Examples
    --------
    In a group of 2 processes holding 3 and 2 rows, every process gets the 5
    rows, and gradients flow back to each process's own rows:

    >>> import torch
    >>> from rince_sklearn import rince
    >>> z1 = torch.randn(3, 8, requires_grad=True)  # this process's rows
    >>> z2 = torch.randn(3, 8, requires_grad=True)
    >>> g1, g2 = gather_with_grad(z1), gather_with_grad(z2)  # all processes'
    >>> (rince(g1, g2) / world_size()).backward()
    >>> z1.grad.shape
    torch.Size([3, 8])
    """
    if world_size(group) == 1:
        return x
    if sizes is None:
        sizes = _all_sizes(x.shape[0], group)
    sizes = [int(s) for s in sizes]
    if sizes[rank(group)] != x.shape[0]:
        raise ValueError(
            f"sizes[{rank(group)}]={sizes[rank(group)]} does not match this "
            f"process's {x.shape[0]} rows."
        )
    return _GatherWithGrad.apply(x, sizes, group)


def sum_gradients(parameters: Any, group: Any = None) -> None:
    """Sum the gradients of ``parameters`` over all processes, in place.

    Gradients are flattened into one buffer per dtype and device, so there is
    one all-reduce per buffer; parameters without a gradient contribute zeros
    (and receive the sum).

    Parameters
    ----------
    parameters : iterable of Parameter
        The parameters (only those with ``requires_grad`` are used).
    group : ProcessGroup, default=None
        The group (None: the default group).

    Examples
    --------
    >>> import torch
    >>> layer = torch.nn.Linear(2, 1)
    >>> layer(torch.ones(1, 2)).sum().backward()
    >>> sum_gradients(layer.parameters())  # no group here: unchanged
    >>> layer.weight.grad
    tensor([[1., 1.]])
    """
    if world_size(group) == 1:
        return
    buckets: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for p in parameters:
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grad: Tensor = p.grad
        buckets.setdefault((grad.dtype, grad.device), []).append(grad)
    for grads in buckets.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n


# -- batch normalisation over the global batch ---------------------------------------
def _local_statistics(x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Per-channel mean and biased variance of ``x`` (float64, shapes ``(C,)``).

    From torch's fused batch-norm kernel in training form, whose statistics
    pass is about ten times faster on CPU than :func:`torch.var_mean` over the
    batch and spatial axes (channels-last activations most of all) and as
    exact as one process's batch norm; its normalised output is discarded.
    Half-precision input is read in float32, as the mixed-precision kernels
    keep their statistics.
    """
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    _, mean, invstd = torch.ops.aten.native_batch_norm(
        x, None, None, None, None, True, 0.0, eps
    )
    var = (invstd.double() ** -2 - eps).clamp(min=0)  # invstd = (var + eps)^-1/2
    return mean.double(), var


class _GlobalBatchNormFunction(torch.autograd.Function):
    """Batch norm of this process's rows with given global statistics.

    The forward pass is the fused native batch norm in inference form (``mean``
    and ``var`` are the global batch's); the backward pass is the fused native
    one in inference form (``g * weight * invstd`` and this process's
    per-channel sums of ``g`` and ``g * x_hat``), plus the terms that flow
    through the global statistics, from one all-reduce of those ``2C`` sums::

        dx = weight * invstd * (g - (sum(g) + x_hat * sum(g * x_hat)) / N)

    with sums over the global batch of ``N`` values per channel. The
    parameter gradients returned are this process's sums (the data-parallel
    wrapper adds them up over processes).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        mean: Tensor,
        var: Tensor,
        n_global: Tensor,
        eps: float,
    ) -> Tensor:
        ctx.eps = eps
        ctx.has_weight, ctx.has_bias = weight is not None, bias is not None
        ctx.save_for_backward(x, weight, mean, var, n_global)
        if x.numel() == 0:  # no row here (the native kernel divides by zero)
            return x.clone()
        return nn.functional.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, mean, var, n_global = ctx.saved_tensors
        c = x.shape[1]
        w = weight if ctx.has_weight else mean.new_ones(c)
        if x.numel() == 0:  # no row here: this process adds nothing to the sums
            dx0, sum_gx, sum_g = torch.zeros_like(x), x.new_zeros(c), x.new_zeros(c)
        else:  # g * w * invstd; this process's sum(g * x_hat) and sum(g), (C,) each
            dx0, sum_gx, sum_g = torch.ops.aten.native_batch_norm_backward(
                g, x, w, mean, var, None, None, False, ctx.eps, [True, True, True]
            )
        total = _summed(torch.cat([sum_g, sum_gx]).double())  # (2C,) global sums
        invstd = torch.rsqrt(var.double() + ctx.eps)  # (C,)
        scale = w.double() * invstd / n_global.double()  # (C,)
        # dx = dx0 - (x - mean) * invstd * scale * sum_gx - scale * sum_g
        slope = scale * invstd * total[c:]  # (C,)
        offset = scale * total[:c] - slope * mean.double()  # (C,)
        shape = [1, c] + [1] * (x.ndim - 2)
        # in place on dx0 (a fresh tensor): two passes, no temporary
        dx = dx0.addcmul_(x, slope.to(x.dtype).view(shape), value=-1.0)
        dx.sub_(offset.to(x.dtype).view(shape))
        return (
            dx,
            sum_gx if ctx.has_weight else None,
            sum_g if ctx.has_bias else None,
            None,
            None,
            None,
            None,
        )


class _GatheredBatchNorm:
    """Batch normalisation whose training statistics span all processes.

    In training mode with a process group, each process computes its rows'
    per-channel mean and variance, one all-reduce of ``2C + 1`` numbers (in
    float64) gives the global batch's mean and (biased) variance, and each
    process normalises its own rows with them, as a single process would
    normalise the global batch; the running statistics are updated alike on
    every process. The backward pass needs one more all-reduce of ``2C``
    numbers. Both passes use torch's fused batch-norm kernels on the
    process's rows (``_GlobalBatchNormFunction``). Otherwise it is the plain
    batch norm.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Normalise ``input`` over the global batch in training mode."""
        bn: Any = self
        if not (bn.training and world_size() > 1):
            return super().forward(input)  # type: ignore[misc]
        c = input.shape[1]
        n_local = input.numel() // c
        # this process's statistics (fused, stable), then the global ones from
        # per-channel sums in float64: n_r * mean_r and n_r * (var_r + mean_r^2)
        with torch.no_grad():
            if n_local:
                mean_r, var_r = _local_statistics(input, bn.eps)  # (C,) float64
            else:  # this process holds no row of the batch: it adds nothing
                mean_r = var_r = input.new_zeros(c, dtype=torch.float64)
            count = mean_r.new_tensor([float(n_local)])
            total = _summed(
                torch.cat([n_local * mean_r, n_local * (var_r + mean_r**2), count])
            )
            n = total[-1]  # a 0-d tensor: no host sync per layer
            mean = total[:c] / n  # (C,) float64
            var = (total[c : 2 * c] / n - mean * mean).clamp(min=0)  # (C,) biased
        # statistics in float32 at least: torch's kernels take bfloat16 and
        # float16 input only with float32 statistics and parameters
        stat_dtype = torch.promote_types(input.dtype, torch.float32)
        out = _GlobalBatchNormFunction.apply(
            input,
            bn.weight if bn.affine else None,
            bn.bias if bn.affine else None,
            mean.to(stat_dtype),
            var.to(stat_dtype),
            n,
            bn.eps,
        )
        if bn.track_running_stats:
            with torch.no_grad():
                bn.num_batches_tracked += 1
                if bn.momentum is None:  # cumulative moving average
                    factor = 1.0 / float(bn.num_batches_tracked)
                else:
                    factor = bn.momentum
                unbiased = var * (n / (n - 1.0).clamp(min=1.0))
                bn.running_mean.mul_(1 - factor).add_(factor * mean.to(input.dtype))
                bn.running_var.mul_(1 - factor).add_(factor * unbiased.to(input.dtype))
        return out


class GatheredBatchNorm1d(_GatheredBatchNorm, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` over the global batch (see module docs).

    Takes the parameters of :class:`torch.nn.BatchNorm1d`; without a process
    group it is that layer.

    Examples
    --------
    >>> import torch
    >>> layer = GatheredBatchNorm1d(4)
    >>> layer(torch.randn(8, 4)).shape
    torch.Size([8, 4])
    """


class GatheredBatchNorm2d(_GatheredBatchNorm, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` over the global batch (see module docs).

    Takes the parameters of :class:`torch.nn.BatchNorm2d`; without a process
    group it is that layer.

    Examples
    --------
    >>> import torch
    >>> GatheredBatchNorm2d(3)(torch.randn(4, 3, 5, 5)).shape
    torch.Size([4, 3, 5, 5])
    """


class GatheredBatchNorm3d(_GatheredBatchNorm, nn.BatchNorm3d):
    """:class:`torch.nn.BatchNorm3d` over the global batch (see module docs).

    Takes the parameters of :class:`torch.nn.BatchNorm3d`; without a process
    group it is that layer.

    Examples
    --------
    >>> import torch
    >>> GatheredBatchNorm3d(2)(torch.randn(4, 2, 3, 3, 3)).shape
    torch.Size([4, 2, 3, 3, 3])
    """


_GATHERED: dict[type[nn.Module], type[nn.Module]] = {
    nn.BatchNorm1d: GatheredBatchNorm1d,
    nn.BatchNorm2d: GatheredBatchNorm2d,
    nn.BatchNorm3d: GatheredBatchNorm3d,
}


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Turn every plain batch norm in ``module`` into its gathered version.

    The layers keep their parameters, buffers and ``state_dict`` keys (only the
    class changes), so weights load into either version. Subclasses of batch
    norm layers are left alone.

    Parameters
    ----------
    module : nn.Module
        Changed in place.

    Returns
    -------
    module : nn.Module
        The same module.

    Examples
    --------
    >>> from torch import nn
    >>> m = convert_batchnorm(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    >>> type(m[1]).__name__
    'GatheredBatchNorm1d'
    """
    for layer in module.modules():
        gathered = _GATHERED.get(type(layer))
        if gathered is not None:
            layer.__class__ = gathered
    return module


# -- one process's part of a global batch --------------------------------------------
def _gather_rows(x: Tensor, sizes: Sequence[int], group: Any = None) -> Tensor:
    """All-gather rows of different counts along dim 0, without gradients."""
    with torch.no_grad():
        return _GatherWithGrad.apply(x, [int(s) for s in sizes], group)


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


# -- the skorch net and the estimator -------------------------------------------------
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

        With a criterion that has ``anchor_losses(z1, z2, anchors)`` (the
        package's losses), the share is the sum of this process's anchors'
        losses over ``2B``; other criteria are computed whole on every process
        and each takes ``1 / world_size`` of it. The shares add up to the
        global loss, so the summed gradients are its gradients. The value
        returned is the global loss (one all-reduce of a scalar), the same on
        every process, for the history and the divergence check.
        """
        layout = self._layout()
        if layout is None or not training:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        z1, z2 = y_pred  # (B, P) each, all processes' rows in batch order
        anchor_losses = getattr(self.criterion_, "anchor_losses", None)
        if anchor_losses is not None and y_true is None:
            n = z1.shape[0]
            local = layout.local_rows  # (b_r,) on the CPU: checked without a sync
            anchors = torch.cat([local, local + n])  # (2 b_r,) both views
            share = anchor_losses(z1, z2, anchors).sum() / (2 * n)
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


class DistributedEmbedder(RobustContrastiveEmbedder):
    """:class:`~rince_sklearn.RobustContrastiveEmbedder` trained data-parallel.

    Same parameters, methods and fitted attributes. Run one copy per process
    of an initialised ``torch.distributed`` group, each with the same ``X``:
    ``fit`` (and ``partial_fit``) then train one model on global batches of
    ``batch_size`` samples; each process loads, augments and embeds only the
    samples of each batch in its own block of ``X`` (block ``rank`` of
    :func:`shard_sizes`), and computes the loss of their anchors against the
    projections of all processes (see :mod:`rince_sklearn.distributed`).
    Every process ends with the same model; ``transform`` runs locally.
    Without a process group it is a plain
    :class:`~rince_sklearn.RobustContrastiveEmbedder`. A saved model loads with
    :meth:`RobustContrastiveEmbedder.load`.

    For ``device``, give each process its own GPU (``f"cuda:{local_rank}"``)
    with the ``nccl`` backend, or use CPUs with ``gloo``.

    See Also
    --------
    ShardedEmbedder : Each process passes only its part of the data.
    run_local : Start a process group on this machine.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 5))
    >>> emb = DistributedEmbedder(embedding_dim=4, max_epochs=2, random_state=0)
    >>> emb.fit_transform(X).shape   # one process: plain single-process training
    (64, 4)
    """

    _net_class = DistributedContrastiveNet
    #: what each process passes to ``fit``: the same data, or its own part
    _data = "replicated"

    def _initialize_training(
        self, modality: Any, source: BatchSource, held_out: Any = None
    ) -> None:
        """As the parent; the batch size is capped by the global data set."""
        if self.supervision == "labels" and world_size() > 1:
            raise ValueError(
                "supervision='labels' is not supported in distributed training "
                "yet (each process would see only its own rows' labels); train "
                "it with RobustContrastiveEmbedder in one process, or use "
                "supervision='none'."
            )
        lengths = [len(source)] * world_size()
        if self._data == "sharded" and world_size() > 1:
            lengths = _all_sizes(len(source))
            if min(lengths) < 2:
                raise ValueError(
                    "Every process must hold at least 2 samples; got "
                    f"{lengths} samples on ranks 0..{len(lengths) - 1}."
                )
        super()._initialize_training(modality, source, held_out)
        self.net_.data = self._data
        n_global = sum(lengths) if self._data == "sharded" else len(source)
        self.batch_size_ = self.net_.batch_size = min(self.batch_size, n_global)


class ShardedEmbedder(DistributedEmbedder):
    """:class:`DistributedEmbedder` where each process passes only its part of ``X``.

    Same parameters, methods and fitted attributes. Process ``r`` calls
    ``fit(X_r)`` with its own samples; the global data set is ``X_0``,
    ``X_1``, ... in rank order, and every process trains the same model on
    global batches of ``batch_size`` drawn from it, loading, augmenting and
    embedding only its own samples. When the parts are the blocks
    ``X[a_r:b_r]`` with sizes :func:`shard_sizes` ``(len(X), world_size)``,
    the model equals that of :class:`DistributedEmbedder` fitted with the whole
    ``X`` in every process; other parts train an equally valid model on the
    data in another order. No process ever holds another's samples: what the
    augmentations need from the rest of the batch comes by collectives. An
    augmentation that learns from the training data (the default
    :class:`~rince_sklearn.augment.MarginalCorruption` keeps each column's
    training values as donors) learns from each process's own part, so with it
    the model equals the replicated one in distribution, not exactly.

    Each part needs at least 2 samples. Without a process group it is a plain
    :class:`~rince_sklearn.RobustContrastiveEmbedder`.

    See Also
    --------
    DistributedEmbedder : Every process passes the same data.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 5))
    >>> part = X[np.arange(len(X)) % world_size() == rank()]  # this process's
    >>> ShardedEmbedder(embedding_dim=4, max_epochs=2).fit(part).transform(X).shape
    (64, 4)
    """

    _data = "sharded"


# -- a local launcher -----------------------------------------------------------------
def _loopback_interface() -> str | None:
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None
    for name in names:
        if name.startswith("lo"):
            return name
    return None  # pragma: no cover


def _run_worker(
    local_rank: int,
    n_procs: int,
    store: str,
    backend: str,
    timeout_s: float,
    fn: Callable[..., Any],
    args: tuple,
) -> None:
    interface = _loopback_interface()
    if backend == "gloo" and interface and "GLOO_SOCKET_IFNAME" not in os.environ:
        os.environ["GLOO_SOCKET_IFNAME"] = interface  # stay on this machine
    dist.init_process_group(
        backend,
        init_method=f"file://{store}",
        rank=local_rank,
        world_size=n_procs,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def run_local(
    fn: Callable[..., Any],
    n_procs: int = 2,
    args: tuple = (),
    *,
    backend: str = "gloo",
    timeout_s: float = 300.0,
) -> None:
    """Run ``fn(*args)`` in ``n_procs`` new processes forming a process group.

    The processes meet through a file in a temporary folder and (with
    ``gloo``) talk over the loopback interface only, so nothing leaves this
    machine. ``fn`` must be importable (defined at the top level of a module):
    the processes are started with ``spawn``. It returns nothing to the
    caller; write results to files (rank 0, say). For several machines use
    ``torchrun`` instead.

    Parameters
    ----------
    fn : callable
        Called once in every process, inside the initialised group; it reads
        its rank with :func:`rank`.
    n_procs : int, default=2
        Number of processes.
    args : tuple, default=()
        Arguments of ``fn`` (picklable).
    backend : {"gloo", "nccl"}, default="gloo"
        ``"nccl"`` needs one GPU per process.
    timeout_s : float, default=300.0
        How long a collective may wait before the group gives up.

    Raises
    ------
    torch.multiprocessing.ProcessRaisedException
        When a process raised; the message carries its traceback.

    Examples
    --------
    ``train`` must live in an importable module (not in ``__main__`` of an
    interactive session):

    >>> def train(X):  # in mymodule.py
    ...     emb = DistributedEmbedder(batch_size=64, random_state=0).fit(X)
    ...     if rank() == 0:
    ...         emb.save("embedder.pt")
    >>> run_local(train, n_procs=2, args=(X,))  # doctest: +SKIP
    """
    if n_procs < 1:
        raise ValueError(f"n_procs must be at least 1, got {n_procs}.")
    with tempfile.TemporaryDirectory(prefix="rince_dist_") as folder:
        store = os.path.join(folder, "store")
        torch.multiprocessing.spawn(
            _run_worker,
            args=(n_procs, store, backend, timeout_s, fn, args),
            nprocs=n_procs,
            join=True,
        )
