"""Batch normalisation whose training statistics span every process's rows."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ._comm import _summed, world_size

__all__ = [
    "GatheredBatchNorm1d",
    "GatheredBatchNorm2d",
    "GatheredBatchNorm3d",
    "convert_batchnorm",
]


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
