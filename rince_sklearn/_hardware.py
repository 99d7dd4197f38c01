"""What the machine computes natively: the ``precision`` parameter resolved.

``RobustContrastiveEmbedder(precision="auto")`` (the default) trains with
bfloat16 autocast only where that is faster: on a device whose arithmetic
units compute bfloat16 natively, and for the modalities whose default models
were measured faster with it. Everywhere else it trains in float32, because
bfloat16 that the hardware only emulates is much slower than float32: on a
2-core AMD EPYC (Zen 3, AVX2, no AVX512_BF16) a one-epoch image fit took 11x
as long with ``precision="bf16-mixed"``.

* CPUs: native bfloat16 means the AVX512_BF16 or AMX_BF16 instructions
  (``avx512_bf16`` or ``amx_bf16`` among the flags of ``/proc/cpuinfo`` on
  Linux; elsewhere, or where ``/proc/cpuinfo`` cannot be read,
  :func:`torch.cpu.get_capabilities` when torch has it; otherwise no). Other
  instruction sets (ARM's BF16 included) resolve to float32: not measured.
* CUDA: :func:`torch.cuda.is_bf16_supported` without emulation (compute
  capability 8.0 or later; ROCm devices).
* Other devices: float32.

:func:`resolve_precision` is called once per ``fit``, in the process that
fits: the choice depends on the machine only, so a search's workers on one
machine choose what the main process chooses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "AUTO_BF16_MODALITIES",
    "BF16_CPU_FLAGS",
    "PRECISIONS",
    "check_precision",
    "cpu_has_native_bf16",
    "device_has_native_bf16",
    "resolve_precision",
]

#: the resolved values of the ``precision`` parameter
PRECISIONS = ("32", "bf16-mixed")

#: CPU flags (Linux's names) of instructions that compute bfloat16 natively
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

#: modalities that ``precision="auto"`` trains with bfloat16 autocast where the
#: device computes it natively: images (convolutions; the issue that made
#: "auto" the default measured a default image training step about 2x and a
#: whole fit 1.42x faster on a CPU with AVX512_BF16, probe accuracy equal).
#: Tabular and graph defaults stay float32: their matrix products are small
#: and the graph encoder's sums over nodes (``index_add_``) would accumulate
#: in bfloat16; they were not measured faster
AUTO_BF16_MODALITIES = frozenset({"image"})

_CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_flags(path: Path) -> frozenset[str] | None:
    """Return the flags of the first processor in ``path``, or None if unreadable.

    The ``flags`` line of x86 Linux (ARM's ``Features`` line holds no x86
    flags, so it reads as no bfloat16 instructions).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return frozenset()


def _torch_cpu_capabilities() -> dict[str, Any] | None:
    """Return torch's CPU capabilities (torch 2.8+), or None if it has none."""
    get_capabilities = getattr(getattr(torch, "cpu", None), "get_capabilities", None)
    if get_capabilities is None:
        return None
    try:
        return dict(get_capabilities())
    except Exception:  # noqa: BLE001 - a failed probe means "unknown"
        return None


def cpu_has_native_bf16(
    cpuinfo: str | Path = _CPUINFO, platform: str | None = None
) -> bool:
    """Whether this machine's CPU computes bfloat16 natively (AVX512_BF16, AMX).

    On Linux the kernel's ``/proc/cpuinfo`` flags decide (they list what
    both the processor and the kernel support, also in a virtual machine);
    elsewhere, or when that file cannot be read, torch's own detection
    (:func:`torch.cpu.get_capabilities`, keys ``avx512_bf16`` and
    ``amx_bf16``) where torch has it; otherwise False.

    Parameters
    ----------
    cpuinfo : str or Path, default="/proc/cpuinfo"
        The file to read the flags from (on Linux).
    platform : str, default=None
        ``sys.platform`` of the machine; None reads it.

    Returns
    -------
    native : bool

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "cpuinfo")
    >>> with open(path, "w") as f:
    ...     _ = f.write("processor : 0" + chr(10) + "flags : fpu avx2 avx512_bf16")
    >>> cpu_has_native_bf16(path, platform="linux")
    True
    """
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        flags = _cpuinfo_flags(Path(cpuinfo))
        if flags is not None:
            return bool(flags & BF16_CPU_FLAGS)
    capabilities = _torch_cpu_capabilities()
    if capabilities is None:
        return False
    return any(bool(capabilities.get(flag, False)) for flag in BF16_CPU_FLAGS)


def device_has_native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively.

    Parameters
    ----------
    device : torch.device
        A CPU: :func:`cpu_has_native_bf16`; a CUDA device:
        :func:`torch.cuda.is_bf16_supported` without emulation; any other
        device: False.

    Returns
    -------
    native : bool
    """
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    if device.type == "cuda" and torch.cuda.is_available():
        with torch.cuda.device(device):
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    return False


def resolve_precision(
    precision: str,
    device: torch.device,
    modality: str,
    modalities: Iterable[str] = AUTO_BF16_MODALITIES,
) -> str:
    """Return the precision a fit trains in: ``"32"`` or ``"bf16-mixed"``.

    Parameters
    ----------
    precision : {"auto", "32", "bf16-mixed"}
        The estimator's parameter; ``"32"`` and ``"bf16-mixed"`` are returned
        as given.
    device : torch.device
        Where the fit trains.
    modality : str
        The fitted modality's name.
    modalities : iterable of str, default=AUTO_BF16_MODALITIES
        The modalities that ``"auto"`` may train in bfloat16.

    Returns
    -------
    precision : {"32", "bf16-mixed"}
        ``"bf16-mixed"`` for ``"auto"`` when ``modality`` is one of
        ``modalities`` and :func:`device_has_native_bf16`; else ``"32"``.

    Examples
    --------
    >>> import torch
    >>> resolve_precision("auto", torch.device("cpu"), "tabular")
    '32'
    >>> resolve_precision("bf16-mixed", torch.device("cpu"), "tabular")
    'bf16-mixed'
    """
    if precision in PRECISIONS:
        return precision
    if precision != "auto":
        raise ValueError(
            f"precision must be 'auto', '32' or 'bf16-mixed', got {precision!r}."
        )
    if modality in set(modalities) and device_has_native_bf16(device):
        return "bf16-mixed"
    return "32"


def check_precision(value: Any) -> str:
    """Check a saved ``precision_``: ``"32"`` or ``"bf16-mixed"``.

    Raises
    ------
    TypeError
        Any other value (``load`` reports it as a malformed file).
    """
    if not isinstance(value, str) or value not in PRECISIONS:
        raise TypeError(f"expected one of {list(PRECISIONS)}, got {value!r}")
    return value
