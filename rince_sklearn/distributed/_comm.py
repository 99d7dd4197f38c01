"""The process group: sizes and ranks, sums, and gathers that keep gradients.

Without an initialised group (or with one process) every function here is the
identity or returns the single-process answer, so the rest of the package runs
unchanged in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_with_grad", "rank", "sum_gradients", "world_size"]


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


def _gather_rows(x: Tensor, sizes: Sequence[int], group: Any = None) -> Tensor:
    """All-gather rows of different counts along dim 0, without gradients."""
    with torch.no_grad():
        return _GatherWithGrad.apply(x, [int(s) for s in sizes], group)
