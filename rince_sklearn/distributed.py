"""Data-parallel training of one model over several processes (torch.distributed).

Every process of a ``torch.distributed`` group runs the same script on the same
data; :class:`DistributedEmbedder` (a :class:`~rince_sklearn.RobustContrastiveEmbedder`
whose skorch net is a :class:`DistributedContrastiveNet`) then trains one model
on the global batch:

1. Every process draws the same global batch (the shuffling generator is seeded
   alike everywhere; rank 0's seed is broadcast) and makes the same two
   augmented views of it, so the views are exactly those of a single-process
   run, including batch-dependent augmentations such as SCARF's column draws.
2. Each process embeds only its shard of each view (rows
   ``tensor_split(range(B), world_size)[rank]``): the encoder and head, the
   expensive part, are split across processes.
3. :func:`gather_with_grad` concatenates the shards' projections from all
   processes, in rank order, with gradients: every process computes the loss on
   all ``2B`` anchors, so RINCE sees every process's negatives.
4. Batch normalisation normalises over the global batch
   (:class:`GatheredBatchNorm1d` and friends, which also work with the ``gloo``
   backend on CPUs, unlike :class:`torch.nn.SyncBatchNorm`).
5. Each process back-propagates ``loss / world_size``; the gather's backward
   sums the gradients that all processes send to each shard, so every shard
   receives the gradient of the global loss, and the parameter gradients,
   summed over processes, are the single-process gradients (up to rounding).
   Every process then takes the same optimiser step.

The result equals single-process training on the global batch: the same loss
and gradients at every step (``tests/test_distributed.py`` checks both to 1e-5
with 2 processes on the ``gloo`` backend, and that a short training run matches).
Exceptions: dropout masks come from each process's own random stream, and
graph batches (which are not row-sliced tensors) are not supported yet.

Why directly, and not through skorch's ``AccelerateMixin``
-----------------------------------------------------------
skorch's accelerate integration wraps the module in
:class:`~torch.nn.parallel.DistributedDataParallel` and shards the data with
its own data loader. That does not fit contrastive training: (a) each step runs
the module twice (two views) before one backward, which DDP's gradient
bucketing rejects unless the graph is declared static; (b) the loss must see
the other processes' embeddings, which DDP does not provide (it only averages
gradients), and averaging the gradients of per-process losses computed on local
negatives is *not* the global-batch loss; (c) a per-process sampler would shard
the samples before augmentation, so batch-dependent augmentations and
``noise_rate``'s pairing would differ from a single-process run; and (d) it adds
``accelerate`` as a dependency. Doing it directly takes three collectives
(gather with gradients, a gradient all-reduce, broadcasts at the start) in
plain torch, keeps skorch's training loop and callbacks, and gives
single-process results exactly.

Usage: launch one process per device, for example with ``torchrun``::

    torchrun --nproc-per-node 2 train.py

where ``train.py`` initialises the group and fits as usual::

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

import contextvars
import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from skorch.dataset import unpack_data
from torch import Tensor, nn

from ._net import ContrastiveNet
from .estimator import RobustContrastiveEmbedder

__all__ = [
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
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, sizes: list[int], group: Any
    ) -> Tensor:
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
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
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
    buckets: dict[tuple[torch.dtype, torch.device], list[nn.Parameter]] = {}
    for p in parameters:
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        buckets.setdefault((p.grad.dtype, p.grad.device), []).append(p)
    for params in buckets.values():
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        offset = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n


# -- batch normalisation over the global batch ---------------------------------------
#: shard sizes of the forward pass in progress, set by DistributedContrastiveNet
_SHARD_SIZES: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "rince_sklearn_shard_sizes", default=None
)


class _GatheredBatchNorm:
    """Batch normalisation whose training statistics span all processes.

    In training mode with a process group, the rows of all processes are
    gathered (with gradients), normalised together exactly as a single process
    would normalise the global batch (the running statistics too), and this
    process's rows are returned. Otherwise it is the plain batch norm.
    """

    def forward(self, input: Tensor) -> Tensor:
        """Normalise ``input`` over the global batch in training mode."""
        if not (self.training and world_size() > 1):
            return super().forward(input)  # type: ignore[misc]
        sizes = _SHARD_SIZES.get()
        if sizes is None or sizes[rank()] != input.shape[0]:
            sizes = _all_sizes(input.shape[0])
        full = gather_with_grad(input, sizes)  # (sum(sizes), C, ...)
        out = super().forward(full)  # type: ignore[misc]
        start = sum(sizes[: rank()])
        return out[start : start + input.shape[0]]


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


_GATHERED = {
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


# -- the skorch net and the estimator -------------------------------------------------
class DistributedContrastiveNet(ContrastiveNet):
    """:class:`~rince_sklearn._net.ContrastiveNet` trained over a process group.

    Takes the same parameters. Every process must hold the same data; see the
    module documentation for what happens in a step. Without a process group it
    trains exactly like its parent. :class:`DistributedEmbedder` builds it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(32, 4))
    >>> emb = DistributedEmbedder(embedding_dim=2, max_epochs=1).fit(X)
    >>> type(emb.net_).__name__
    'DistributedContrastiveNet'
    """

    def initialize_module(self) -> DistributedContrastiveNet:
        """Build the module (with rank 0's seed) and gather its batch norms."""
        if world_size() > 1:
            seed = torch.tensor([self.seed], dtype=torch.int64, device=_comm_device())
            dist.broadcast(seed, src=0)
            self.seed = int(seed)
        super().initialize_module()
        convert_batchnorm(self.module_)
        return self

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Check that all processes hold the same number of samples; sync weights."""
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if world_size() == 1:
            return
        lengths = _all_sizes(len(X))
        if len(set(lengths)) != 1:
            raise ValueError(
                "Every process must pass the same data to fit; got "
                f"{lengths} samples on ranks 0..{len(lengths) - 1}."
            )
        for tensor in self.module_.state_dict().values():
            dist.broadcast(tensor, src=0)  # identical already; guards against drift

    def forward_view(self, view: Any) -> Tensor:
        """Embed this process's shard of ``view``; gather all shards' projections."""
        n_procs = world_size()
        if n_procs == 1:
            return super().forward_view(view)
        if not isinstance(view, Tensor):
            raise TypeError(
                "Distributed training shards batches by rows and needs tensor "
                f"batches (tabular or image data), got {type(view).__name__}."
            )
        sizes = shard_sizes(view.shape[0], n_procs)
        if min(sizes) < 1:
            raise ValueError(
                f"A batch of {view.shape[0]} samples cannot be split over "
                f"{n_procs} processes: use batch_size >= {n_procs}."
            )
        start = sum(sizes[: rank()])
        token = _SHARD_SIZES.set(sizes)
        try:
            local = self.module_(view[start : start + sizes[rank()]])  # (b_r, P)
        finally:
            _SHARD_SIZES.reset(token)
        return gather_with_grad(local, sizes)  # (B, projection_dim)

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """One step on the global batch: loss on all anchors, summed gradients."""
        n_procs = world_size()
        if n_procs == 1:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        X, y = unpack_data(batch)
        z1, z2 = self.project_views(X, training=True)  # (B, P) each, all ranks
        z2, labels = self.pair_views(z2, y, training=True)  # y: the global batch's
        loss = self.get_loss((z1, z2), labels, X=X, training=True)
        # every process holds the same global loss: the gathers' backward sums
        # n_procs copies of its gradient, hence the division
        (loss / n_procs).backward()
        sum_gradients(self.module_.parameters())
        return {"loss": loss, "y_pred": z1}


class DistributedEmbedder(RobustContrastiveEmbedder):
    """:class:`~rince_sklearn.RobustContrastiveEmbedder` trained data-parallel.

    Same parameters, methods and fitted attributes. Run one copy per process of
    an initialised ``torch.distributed`` group, each with the same ``X``:
    ``fit`` (and ``partial_fit``) then train one model on global batches of
    ``batch_size`` samples, each process embedding ``batch_size / world_size``
    of them, with the same result as a single process (see
    :mod:`rince_sklearn.distributed`). Every process ends with the same model;
    ``transform`` runs locally. Without a process group it is a plain
    :class:`~rince_sklearn.RobustContrastiveEmbedder`. A saved model loads with
    :meth:`RobustContrastiveEmbedder.load`.

    For ``device``, give each process its own GPU (``f"cuda:{local_rank}"``)
    with the ``nccl`` backend, or use CPUs with ``gloo``.

    See Also
    --------
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
