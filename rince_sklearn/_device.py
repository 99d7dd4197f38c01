"""Where a model runs: the ``device`` parameter resolved to a torch device.

One small module used by ``fit`` (:func:`resolve_device`) and by ``load``
(:func:`available_device`, which falls back to the CPU with a warning when a
model saved on a GPU is loaded on a machine without one). Unpickling needs
neither: skorch maps a pickled net to an available device, and the estimator
reads ``device_`` back from the net.
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["available_device", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """Map ``"auto"`` to CUDA when available, else CPU; check other names.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, or a torch device name such as ``"cpu"`` or ``"cuda:0"``.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        The name is not a device, or it names CUDA where there is none.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto' or a torch device such as 'cpu' or 'cuda:0', "
            f"got {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    if resolved.type == "meta":
        raise ValueError(
            "device='meta' holds shapes and no data, so nothing can be trained or "
            "embedded on it; use device='auto', 'cpu' or 'cuda'."
        )
    if resolved.type not in ("cpu", "cuda"):
        try:
            torch.empty(0, device=resolved)
        except (RuntimeError, AssertionError, NotImplementedError) as exc:
            raise ValueError(
                f"device={device!r} is not available here ({exc}); use "
                "device='auto' or 'cpu'."
            ) from None
    return resolved


def available_device(
    device: str | torch.device, *, stacklevel: int = 2
) -> torch.device:
    """Resolve ``device`` for a restored model, falling back to the CPU.

    A model saved or pickled on a GPU machine names a CUDA device; where CUDA
    is not available it is restored on the CPU, with a warning.

    Parameters
    ----------
    device : str or torch.device
        The saved ``device`` parameter (or the caller's choice).
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    device : torch.device
    """
    try:
        requested = torch.device(device) if device != "auto" else None
    except (RuntimeError, TypeError):
        requested = None  # not a device name: resolve_device explains
    if requested is None or requested.type != "cuda" or torch.cuda.is_available():
        return resolve_device(device)
    warnings.warn(
        f"The model was saved with device={str(device)!r}, which is not available "
        "here; it is loaded on the CPU. Pass device= to load() to choose.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return torch.device("cpu")
