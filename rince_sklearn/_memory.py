"""Memory of a training step, measured before training: warn or refuse early.

A fit on a few huge images (two 1024 x 1024 pictures) needs gigabytes for the
activations that the backward pass keeps, and used to find out by swapping or
by being killed. Before training on large samples, :func:`check_step_memory`
runs the encoder once on one sample, counts the bytes autograd saves for the
backward pass, scales them to a step (``batch_size`` samples, two views) and
compares the estimate with the machine's memory.
"""

from __future__ import annotations

import copy
import os
import warnings
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["check_step_memory", "physical_memory"]

#: samples smaller than this (numbers per sample) are never measured: a step on
#: them takes little memory whatever the encoder (a 256 x 256 RGB image is 196,608)
MEASURED_FROM = 256 * 256 * 3
#: a step estimated above this fraction of the memory is refused
REFUSE_FRACTION = 0.8
#: and above this fraction (or above WARN_BYTES), warned about
WARN_FRACTION = 0.25
WARN_BYTES = 4 * 2**30


def physical_memory() -> int | None:
    """Return the machine's physical memory in bytes, or None where unknown."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _saved_bytes(encoder: nn.Module, sample: Tensor) -> int:
    """Bytes autograd keeps for the backward pass of one forward of ``sample``."""
    total = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    probe = copy.deepcopy(encoder).train()  # batch statistics of the real one kept
    with (
        torch.random.fork_rng(devices=[]),
        torch.enable_grad(),
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
    ):
        probe(sample.detach().requires_grad_(False))
    return total


def check_step_memory(
    encoder: nn.Module, sample: Any, batch_size: int, where: str = "fit"
) -> int | None:
    """Warn about, or refuse, a training step too large for this machine.

    Parameters
    ----------
    encoder : torch.nn.Module
        The encoder, as it will be trained (on its device).
    sample : Tensor of shape (1, ...)
        One input sample, on the encoder's device.
    batch_size : int
        Samples per training step; each is seen in two views.
    where : str, default="fit"
        The call, for the messages.

    Returns
    -------
    estimate : int or None
        The estimated bytes of one step, or None when the samples are too
        small to need a measurement (or the encoder cannot run on one sample).

    Raises
    ------
    ValueError
        The estimate exceeds 80% of the machine's physical memory; the message
        says what to do.
    """
    if not isinstance(sample, Tensor) or sample[0].numel() < MEASURED_FROM:
        return None
    try:
        per_sample = _saved_bytes(encoder, sample[:1])
    except (RuntimeError, ValueError, TypeError):
        return None  # an encoder that needs more than one sample: not measured
    # two views per sample, and a quarter more for the backward pass's
    # temporaries: two 1024 x 1024 images with the default encoder are
    # estimated at 4.7 GiB and peaked at 4.3 GiB
    estimate = int(2 * batch_size * per_sample * 1.25)
    total = physical_memory()
    gib = estimate / 2**30
    advice = (
        "pass a smaller batch_size, downsample the images (for example with "
        "skimage.transform.resize in a FunctionTransformer before the "
        "embedder), or use an encoder that reduces the resolution early"
    )
    if total is not None and estimate > REFUSE_FRACTION * total:
        raise ValueError(
            f"{where}: one training step on these {tuple(sample.shape[1:])} samples "
            f"needs about {gib:.1f} GiB with batch_size={batch_size} (measured on "
            f"one sample), more than this machine's {total / 2**30:.1f} GiB of "
            f"memory allow; {advice}."
        )
    large_share = total is not None and estimate > WARN_FRACTION * total
    if estimate > WARN_BYTES or large_share:
        warnings.warn(
            f"{where}: one training step on these {tuple(sample.shape[1:])} samples "
            f"needs about {gib:.1f} GiB of memory with batch_size={batch_size}; "
            f"if that is too much, {advice}.",
            ResourceWarning,
            stacklevel=3,
        )
    return estimate
