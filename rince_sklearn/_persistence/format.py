"""What a saved file is: its format's name, versions, limits and errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "READABLE_VERSIONS",
    "FileFormatError",
    "Payload",
]

FORMAT = "rince_sklearn.RobustContrastiveEmbedder"
FORMAT_VERSION = 2
#: versions this code reads; version 1 stored classes as ``{"__import__": path}``
READABLE_VERSIONS = (1, 2)
_KEYS = {"format", "format_version", "params", "fitted", "history", "state_dict"}
_KEYS_V2 = _KEYS | {"library_version", "augmentation_state"}
#: names of the tensors a fitted augmentation keeps (``pool_``, ``0.pool_``)
_STATE_NAME = re.compile(r"^(\d+\.)*[a-z][a-z0-9_]*_$")
#: dtypes a tensor in a saved file may have (weights, buffers, fitted state)
_TENSOR_DTYPES = {
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
    "float32", "float64",
}  # fmt: skip
#: the largest file :func:`read_payload` reads (bytes); a model file is far smaller
MAX_FILE_BYTES = 4 * 2**30
#: most zip entries a saved file has (one per tensor storage, plus a few)
_MAX_ENTRIES = 100_000


class FileFormatError(ValueError):
    """A file is not a valid saved model; the message says what is wrong."""


@dataclass
class Payload:
    """What a saved file holds, decoded to Python objects.

    ``params`` and ``fitted`` hold the still-encoded JSON values until the
    estimator decodes them at the places where it knows what to expect.
    """

    params: dict[str, Any]
    fitted: dict[str, Any]
    history: list[Any]
    state_dict: dict[str, torch.Tensor]
    augmentation_state: dict[str, torch.Tensor] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    library_version: str | None = None
    source: str = field(default="the saved file")

