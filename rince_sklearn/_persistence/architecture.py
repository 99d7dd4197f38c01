"""Checking that parameters describe the architecture of the weights in a file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from .format import FileFormatError

__all__ = ["check_architecture"]


class _TooBig(Exception):
    """Raised inside the registration hooks to stop building a module."""


def check_architecture(
    build: Callable[[], nn.Module], state: Mapping[str, torch.Tensor], source: str
) -> None:
    """Check that ``build()`` makes a module whose weights are ``state``.

    The module is built on the ``meta`` device (shapes only, no memory), and
    the build is stopped as soon as it registers more tensors, elements or
    submodules than the file's weights account for: parameters that describe a
    huge or very deep architecture beside small weights are refused before
    anything is allocated.

    Raises
    ------
    ValueError
        The architecture and the weights differ; the message says how.
    """
    n_tensors = len(state)
    n_elements = sum(t.numel() for t in state.values())
    counts = {"tensors": 0, "elements": 0, "modules": 0}

    def count_tensor(module: nn.Module, name: str, tensor: Any) -> None:
        if tensor is None:
            return
        counts["tensors"] += 1
        counts["elements"] += tensor.numel()
        if counts["tensors"] > n_tensors + 16 or counts["elements"] > n_elements + 1024:
            raise _TooBig

    def count_module(module: nn.Module, name: str, submodule: Any) -> None:
        counts["modules"] += 1
        if counts["modules"] > 4 * n_tensors + 64:
            raise _TooBig

    from torch.nn.modules import module as torch_module

    handles = [
        torch_module.register_module_parameter_registration_hook(count_tensor),
        torch_module.register_module_buffer_registration_hook(count_tensor),
        torch_module.register_module_module_registration_hook(count_module),
    ]
    try:
        with torch.device("meta"):
            module = build()
    except _TooBig:
        raise FileFormatError(
            f"{source}: its parameters describe an architecture larger than the "
            f"weights in the file ({n_tensors} tensors, {n_elements} numbers); "
            "the file is inconsistent or hostile."
        ) from None
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise FileFormatError(
            f"{source}: cannot build the model its parameters describe ({exc})."
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    expected = module.state_dict()
    if set(expected) != set(state):
        missing = sorted(set(expected) - set(state))[:5]
        unknown = sorted(set(state) - set(expected))[:5]
        raise FileFormatError(
            f"{source}: the weights do not match the model's architecture "
            f"(missing {missing}, unknown {unknown})."
        )
    for name, tensor in expected.items():
        if tensor.shape != state[name].shape or tensor.dtype != state[name].dtype:
            raise FileFormatError(
                f"{source}: the weights {name!r} have shape "
                f"{tuple(state[name].shape)} and dtype {state[name].dtype}; the "
                f"architecture expects {tuple(tensor.shape)} and {tensor.dtype}."
            )

