"""The saved-model format: a payload of plain data, written atomically.

A saved file is a ``torch.save`` zip archive of one dictionary:

==================  =============================================================
``format``          ``"rince_sklearn.RobustContrastiveEmbedder"``
``format_version``  ``2`` (files of version 1 are read too)
``library_version`` the ``rince_sklearn`` version that wrote it
``params``          the constructor parameters, as JSON
``fitted``          the fitted attributes that are not rebuilt, as JSON
``history``         the training history, as JSON
``state_dict``      the module's tensors
``augmentation_state`` what a fitted augmentation learnt (tensors; may be empty)
==================  =============================================================

This module is a codec: it turns a :class:`Payload` into a file and back, and
knows nothing about the estimator, which validates what it reads and restores
itself (``RobustContrastiveEmbedder._from_payload``).

Reading is safe by construction:

* the archive is inspected before it is unpickled: it must be a zip file of
  stored (uncompressed) entries whose sizes add up to the file's, so no entry
  can inflate in memory;
* it is unpickled with ``torch.load(weights_only=True)``, which builds tensors
  and plain containers only;
* JSON values decode to plain data (numbers, strings, lists, tuples, dicts,
  numeric or string arrays). Classes are decoded only where a class is expected
  (the encoder, the optimiser, the loss, the augmentation), and only by looking
  their name up in an allow-list (:class:`ClassAllowList`: the package's own
  classes, torch's optimisers and the classes that the caller trusts). Nothing
  is imported and no function is ever called: the only things constructed
  are allow-listed augmentation classes, from plain parameters.

Writing is atomic: the file is written to a temporary file in the destination's
folder, flushed and synced, then renamed over the destination, so a failed or
interrupted save leaves the previous file as it was; a symbolic link at the
destination is replaced, never followed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn

from .augment._base import Augmentation

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ClassAllowList",
    "Payload",
    "decode_augmentation",
    "decode_class",
    "decode_plain",
    "encode_augmentation",
    "encode_class",
    "encode_plain",
    "read_payload",
    "write_payload",
]

FORMAT = "rince_sklearn.RobustContrastiveEmbedder"
FORMAT_VERSION = 2
#: versions this code reads; version 1 stored classes as ``{"__import__": path}``
READABLE_VERSIONS = (1, 2)
_KEYS = {"format", "format_version", "params", "fitted", "history", "state_dict"}
_KEYS_V2 = _KEYS | {"library_version", "augmentation_state"}
#: names of the tensors a fitted augmentation keeps (``pool_``, ``0.pool_``)
_STATE_NAME = re.compile(r"^(\d+\.)*[a-z][a-z0-9_]*_$")
#: dtypes an array in a saved file may have (no void, object, or structured types)
_ARRAY_DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float16", "float32", "float64",
}  # fmt: skip
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


# -- encoding ---------------------------------------------------------------------


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _path_of(cls: type) -> str:
    """Return ``"module:qualname"``, refusing classes that have no such name."""
    module, qualname = cls.__module__, cls.__qualname__
    if "<locals>" in qualname or module == "__main__":
        raise ValueError(
            f"{cls!r} cannot be saved: save() stores classes by name, and this "
            "one has no importable name (it is defined in __main__ or inside a "
            "function). Define it at the top level of a module, or persist the "
            "estimator with pickle/joblib instead."
        )
    return _class_name(cls)


def encode_plain(value: Any) -> Any:
    """Encode plain data (numbers, strings, containers, arrays) as JSON data.

    Raises ``ValueError`` for anything else (objects, functions, classes).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            if not all(isinstance(v, str) for v in value.flat):
                raise ValueError("Only arrays of numbers or strings can be saved.")
            return {"__ndarray__": value.tolist(), "dtype": "str"}
        if value.dtype.name not in _ARRAY_DTYPES:
            raise ValueError(f"Arrays of dtype {value.dtype} cannot be saved.")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_plain(v) for v in value]}
    if isinstance(value, list):
        return [encode_plain(v) for v in value]
    if isinstance(value, dict):
        return {
            "__dict__": [[encode_plain(k), encode_plain(v)] for k, v in value.items()]
        }
    if isinstance(value, torch.device):
        return str(value)
    raise ValueError(
        f"{value!r} of type {type(value).__name__} cannot be saved: save() stores "
        "plain values (numbers, strings, lists, tuples, dicts, arrays), classes "
        "where a class is expected, and rince_sklearn Augmentation objects. "
        "Persist the estimator with pickle/joblib instead."
    )


def encode_class(cls: type) -> dict[str, str]:
    """Encode a class by name, for the places where a class is expected."""
    return {"__class__": _path_of(cls)}


def encode_augmentation(value: Any) -> Any:
    """Encode an augmentation parameter: ``"auto"``, None or an Augmentation."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Augmentation):
        params = {
            k: _encode_augmentation_param(v) for k, v in value.get_params().items()
        }
        return {"__augmentation__": _path_of(type(value)), "params": params}
    raise ValueError(
        f"The augmentation {value!r} cannot be saved: save() stores instances of "
        "rince_sklearn.augment.Augmentation subclasses (with their parameters), "
        "not functions or other callables. Wrap it in an Augmentation subclass "
        "defined at the top level of a module, or use pickle/joblib instead."
    )


def _encode_augmentation_param(value: Any) -> Any:
    if isinstance(value, Augmentation):
        return encode_augmentation(value)
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, Augmentation) or callable(v) for v in value
    ):
        items = [encode_augmentation(v) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if callable(value) and not isinstance(value, (str, bytes)):
        return encode_augmentation(value)  # raises with an explanation
    return encode_plain(value)


# -- decoding ---------------------------------------------------------------------


class ClassAllowList:
    """The classes a saved file may name, by ``"module:qualname"``.

    Built-in: the package's own encoders, losses and augmentations, and
    torch's optimisers. Others only when the caller trusts them.

    Parameters
    ----------
    trusted : iterable of classes
        User classes a file may name: subclasses of ``torch.nn.Module``
        (encoders, losses), ``torch.optim.Optimizer`` or
        ``rince_sklearn.augment.Augmentation``.
    """

    BASES: tuple[type, ...] = (nn.Module, torch.optim.Optimizer, Augmentation)

    def __init__(self, trusted: Iterable[Any] = ()) -> None:
        classes: dict[str, type] = {}
        for base in self.BASES:
            for cls in _subclasses(base):
                if cls.__module__.split(".")[0] == "rince_sklearn":
                    classes[_class_name(cls)] = cls
        for name in dir(torch.optim):
            obj = getattr(torch.optim, name)
            if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer):
                classes[_class_name(obj)] = obj
        for cls in trusted:
            if not (isinstance(cls, type) and issubclass(cls, self.BASES)):
                raise TypeError(
                    "trusted must list classes that derive from torch.nn.Module, "
                    "torch.optim.Optimizer or rince_sklearn.augment.Augmentation, "
                    f"got {cls!r}."
                )
            classes[_class_name(cls)] = cls
        self._classes = classes

    def get(self, path: Any, base: type, where: str) -> type:
        """Return the allowed subclass of ``base`` called ``path``, or raise."""
        if not isinstance(path, str) or ":" not in path:
            raise FileFormatError(f"{where}: {path!r} is not a class name.")
        cls = self._classes.get(path)
        if cls is None:
            short = path.rpartition(":")[2].rpartition(".")[2]
            raise FileFormatError(
                f"{where} names the class {path!r}, which is not one of "
                "rince_sklearn's own classes. load() constructs user classes only "
                f"when you trust them: load(path, trusted=[{short}]) after "
                f"importing {short} yourself."
            )
        if not issubclass(cls, base):
            raise FileFormatError(
                f"{where} names {path!r}, which is not a subclass of "
                f"{base.__module__}.{base.__qualname__}."
            )
        return cls


def _subclasses(base: type) -> list[type]:
    found: list[type] = []
    todo: list[type] = [base]
    while todo:
        subclasses: list[type] = type.__subclasses__(todo.pop())
        for sub in subclasses:
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def decode_plain(value: Any, where: str) -> Any:
    """Decode JSON data written by :func:`encode_plain`; refuse anything else."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode_plain(v, where) for v in value]
    if not isinstance(value, dict):  # pragma: no cover - json gives no other types
        raise FileFormatError(f"{where}: unexpected value {value!r}.")
    if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
        return tuple(decode_plain(v, where) for v in value["__tuple__"])
    if set(value) == {"__dict__"} and isinstance(value["__dict__"], list):
        items = value["__dict__"]
        if not all(isinstance(kv, list) and len(kv) == 2 for kv in items):
            raise FileFormatError(f"{where}: malformed dictionary {value!r}.")
        out = {}
        for k, v in items:
            key = decode_plain(k, where)
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise FileFormatError(f"{where}: dictionary key {key!r} is not plain.")
            out[key] = decode_plain(v, where)
        return out
    if set(value) == {"__ndarray__", "dtype"}:
        return _decode_array(value, where)
    if set(value) == {"__device__"} and isinstance(value["__device__"], str):
        return value["__device__"]  # version 1 stored torch.device this way
    tag = next((k for k in value if k.startswith("__")), None)
    raise FileFormatError(
        f"{where}: {tag or 'a dictionary'} is not allowed here (only plain data: "
        "numbers, strings, lists, tuples, dicts, arrays)."
    )


def _decode_array(value: dict, where: str) -> np.ndarray:
    dtype, data = value["dtype"], value["__ndarray__"]
    if dtype in ("str", "object"):  # feature names
        flat = np.asarray(data, dtype=object)
        if not all(isinstance(v, str) for v in flat.flat):
            raise FileFormatError(f"{where}: an array of strings holds non-strings.")
        return flat
    if dtype not in _ARRAY_DTYPES:
        raise FileFormatError(f"{where}: arrays of dtype {dtype!r} are not allowed.")
    try:
        return np.asarray(decode_plain(data, where), dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FileFormatError(f"{where}: malformed array ({exc}).") from None


def decode_class(value: Any, base: type, allow: ClassAllowList, where: str) -> Any:
    """Decode a class reference (or a plain value such as ``"auto"``)."""
    if isinstance(value, dict):
        if set(value) == {"__class__"}:
            return allow.get(value["__class__"], base, where)
        if set(value) == {"__import__"}:  # version 1's name for the same thing
            return allow.get(value["__import__"], base, where)
    return decode_plain(value, where)


def decode_augmentation(value: Any, allow: ClassAllowList, where: str) -> Any:
    """Decode an augmentation: an allow-listed class built from plain params."""
    if isinstance(value, dict) and set(value) == {"__augmentation__", "params"}:
        cls = allow.get(value["__augmentation__"], Augmentation, where)
        params = value["params"]
        if not isinstance(params, dict):
            raise FileFormatError(f"{where}: augmentation parameters must be a dict.")
        kwargs = {
            str(k): _decode_augmentation_param(v, allow, where)
            for k, v in params.items()
        }
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise FileFormatError(
                f"{where}: cannot build {cls.__name__} from {kwargs!r} ({exc})."
            ) from None
    return decode_plain(value, where)


def _decode_augmentation_param(value: Any, allow: ClassAllowList, where: str) -> Any:
    if isinstance(value, dict) and "__augmentation__" in value:
        return decode_augmentation(value, allow, where)
    if isinstance(value, list):
        return [_decode_augmentation_param(v, allow, where) for v in value]
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        items = value["__tuple__"]
        if isinstance(items, list):
            return tuple(_decode_augmentation_param(v, allow, where) for v in items)
    return decode_plain(value, where)


# -- checks of plain fitted values ------------------------------------------------


def check_int(low: int = 0) -> Callable[[Any], Any]:
    """Return a check that a value is an int >= ``low``."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise TypeError(f"expected an int >= {low}, got {value!r}")
        return value

    return check


def check_int_tuple(length: int) -> Callable[[Any], Any]:
    """Return a check that a value is a tuple of ``length`` positive ints."""

    def check(value: Any) -> Any:
        if (
            not isinstance(value, (tuple, list))
            or len(value) != length
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                       for v in value)
        ):  # fmt: skip
            raise TypeError(f"expected {length} positive ints, got {value!r}")
        return tuple(value)

    return check


def check_positive(value: Any) -> Any:
    """Check that a value is a finite number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise TypeError(f"expected a positive number, got {value!r}")
    return value


def check_str_dict(value: Any) -> Any:
    """Check that a value is a dict with string keys (keyword arguments)."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"expected a dict of keyword arguments, got {value!r}")
    return value


def check_str(value: Any) -> Any:
    """Check that a value is a string."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def check_str_array(value: Any) -> Any:
    """Check that a value is a 1-D array of strings (``feature_names_in_``)."""
    if (
        not isinstance(value, np.ndarray)
        or value.ndim != 1
        or not all(isinstance(v, str) for v in value)
    ):
        raise TypeError(f"expected a 1-D array of strings, got {value!r}")
    return value.astype(object)


# -- reading ----------------------------------------------------------------------


def _describe(file: Any) -> str:
    return str(file) if isinstance(file, (str, os.PathLike)) else "the saved file"


def _check_archive(handle: IO[bytes], size: int, source: str) -> None:
    """Refuse anything but a zip archive of stored entries that fit in the file."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileFormatError(
            f"{source} is not a file written by RobustContrastiveEmbedder.save() "
            "(it is not a zip archive; pickle files are never loaded: use "
            "joblib.load or pickle.load for files you trust)."
        ) from None
    with archive:
        entries = archive.infolist()
        if len(entries) > _MAX_ENTRIES:
            raise FileFormatError(f"{source} has {len(entries)} entries: too many.")
        total = 0
        for entry in entries:
            if entry.compress_type != zipfile.ZIP_STORED:
                raise FileFormatError(
                    f"{source} holds a compressed entry ({entry.filename!r}); files "
                    "written by save() are never compressed, and compressed "
                    "entries could inflate far beyond the file's size."
                )
            total += entry.file_size
        if total > size:
            raise FileFormatError(
                f"{source} declares {total} bytes of content in {size} bytes."
            )


def read_payload(file: str | os.PathLike | IO[bytes]) -> Payload:
    """Read and check a saved file; see the module docstring.

    Parameters
    ----------
    file : path or binary file object
        A file written by :func:`write_payload`.

    Returns
    -------
    payload : Payload
        ``params`` and ``fitted`` still hold JSON data: decode them with
        :func:`decode_plain`, :func:`decode_class` and
        :func:`decode_augmentation` where the caller knows what to expect.

    Raises
    ------
    ValueError
        The file is missing, is not a saved model, or is malformed or too big
        for its size; the message says which.
    """
    source = _describe(file)
    data = _read_bounded(file, source)
    buffer = io.BytesIO(data)
    _check_archive(buffer, len(data), source)
    buffer.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = torch.load(buffer, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError and friends
        raise FileFormatError(
            f"{source} is not a file written by RobustContrastiveEmbedder.save(), or "
            f"it holds objects that are not plain data ({exc})."
        ) from None
    return _check_raw(raw, source, len(data))


def _read_bounded(file: str | os.PathLike | IO[bytes], source: str) -> bytes:
    """Read at most :data:`MAX_FILE_BYTES` from a regular file or a file object."""
    too_big = (
        f"{source} is larger than {MAX_FILE_BYTES} bytes, far more than a model "
        "written by save() takes; it is not such a file."
    )
    if not isinstance(file, (str, os.PathLike)):
        data = file.read(MAX_FILE_BYTES + 1)
        if not isinstance(data, bytes):
            raise TypeError(f"{source} must be opened in binary mode ('rb').")
        if len(data) > MAX_FILE_BYTES:
            raise FileFormatError(too_big)
        return data
    try:
        with open(file, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):  # /dev/zero, a pipe, a folder
                raise FileFormatError(
                    f"{source} is not a regular file; load() reads files written "
                    "by save()."
                )
            if info.st_size > MAX_FILE_BYTES:
                raise FileFormatError(too_big)
            data = handle.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise FileFormatError(f"{source} is a folder, not a saved model.") from None
    except OSError as exc:
        raise FileFormatError(f"Cannot read {source}: {exc.strerror}.") from None
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise FileFormatError(too_big)
    return data


def _check_raw(raw: Any, source: str, size: int) -> Payload:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise FileFormatError(
            f"{source} was not written by RobustContrastiveEmbedder.save()."
        )
    version = raw.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise FileFormatError(
            f"{source} has format version {version!r}; this rince_sklearn "
            f"reads format versions {list(READABLE_VERSIONS)}. A newer version of "
            "rince_sklearn may read it."
        )
    expected = _KEYS if version == 1 else _KEYS_V2
    if set(raw) != expected:
        unknown, missing = sorted(set(raw) - expected), sorted(expected - set(raw))
        raise FileFormatError(
            f"{source} is malformed: unknown entries {unknown}, missing {missing}."
        )
    library_version = raw.get("library_version")
    if library_version is not None and not isinstance(library_version, str):
        raise FileFormatError(f"{source}: library_version must be a string.")
    params = _json(raw["params"], dict, "params", source)
    fitted = _json(raw["fitted"], dict, "fitted", source)
    history = _json(raw["history"], list, "history", source)
    if not all(isinstance(row, dict) for row in history):
        raise FileFormatError(f"{source}: the history must be a list of dicts.")
    state = _tensors(raw["state_dict"], "state_dict", "the weights", source)
    augmentation_state = _tensors(
        raw.get("augmentation_state", {}),
        "augmentation_state",
        "the augmentation's state",
        source,
    )
    _check_budget([*state.values(), *augmentation_state.values()], size, source)
    for name in augmentation_state:
        if not _STATE_NAME.match(name):
            raise FileFormatError(
                f"{source}: {name!r} is not a name of a fitted augmentation's state."
            )
    return Payload(
        params=params,
        fitted=fitted,
        history=history,
        state_dict=state,
        augmentation_state=augmentation_state,
        format_version=version,
        library_version=library_version,
        source=source,
    )


def _tensors(value: Any, entry: str, what: str, source: str) -> dict[str, torch.Tensor]:
    """Check that ``value`` maps names to dense CPU tensors that fit their storage."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise FileFormatError(f"{source}: {entry} must map names to tensors.")
    for name, tensor in value.items():
        if tensor.device.type != "cpu":  # meta tensors have shapes and no bytes
            raise FileFormatError(
                f"{source}: {what} {name!r} are a {tensor.device.type} tensor; "
                "files written by save() hold CPU tensors only."
            )
        if str(tensor.dtype).removeprefix("torch.") not in _TENSOR_DTYPES:
            raise FileFormatError(
                f"{source}: {what} {name!r} have dtype {tensor.dtype}, which a "
                "saved model never holds."
            )
        needed = tensor.numel() * tensor.element_size()
        if (
            tensor.layout != torch.strided
            or not tensor.is_contiguous()
            or tensor.untyped_storage().nbytes()
            < needed + tensor.storage_offset() * tensor.element_size()
        ):
            raise FileFormatError(f"{source}: {what} {name!r} are not a dense tensor.")
    return value


def _check_budget(tensors: Iterable[torch.Tensor], size: int, source: str) -> None:
    """Refuse tensors whose bytes, each counted once, exceed the file's size.

    Every tensor is copied into a module of its own when the model is built,
    so this is the memory the weights will take. Tensors that view one
    storage (each a few bytes in the file, each a full copy once loaded) are
    caught here: ``save`` writes every tensor with a storage of its own.
    """
    total = sum(t.numel() * t.element_size() for t in tensors)
    if total > size:
        raise FileFormatError(
            f"{source}: its tensors add up to {total} bytes, more than the file's "
            f"{size} bytes: they share storage, which files written by save() "
            "never do (the file is inconsistent or hostile)."
        )


def _json(text: Any, kind: type, name: str, source: str) -> Any:
    if not isinstance(text, str):
        raise FileFormatError(f"{source}: the {name} entry must be JSON text.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FileFormatError(
            f"{source}: the {name} entry is not JSON ({exc})."
        ) from None
    if not isinstance(value, kind):
        raise FileFormatError(
            f"{source}: the {name} entry must be a JSON {kind.__name__}."
        )
    return value


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


# -- writing ----------------------------------------------------------------------


def write_payload(payload: Payload, file: str | os.PathLike | IO[bytes]) -> None:
    """Write ``payload`` to ``file``; atomically when ``file`` is a path.

    Parameters
    ----------
    payload : Payload
        ``params`` and ``fitted`` hold already-encoded JSON data.
    file : path or binary file object
        Destination.

    Raises
    ------
    OSError
        The file could not be written; the message names the path, and the
        previous file at that path, if any, is unchanged.
    """
    raw = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": payload.library_version,
        "params": json.dumps(payload.params, allow_nan=True),
        "fitted": json.dumps(payload.fitted),
        "history": json.dumps(payload.history, default=_json_number),
        # contiguous: channels-last weights are stored in the standard layout
        # (loading copies them back into the module's own layout)
        "state_dict": {k: _own_storage(v) for k, v in payload.state_dict.items()},
        "augmentation_state": {
            k: _own_storage(v) for k, v in payload.augmentation_state.items()
        },
    }
    if not isinstance(file, (str, os.PathLike)):
        torch.save(raw, file)
        return
    path = Path(file)
    directory = path.parent
    prefix = _temporary_prefix(path)
    _remove_orphans(directory, prefix)
    mode = _mode_to_keep(path)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f"{prefix}{os.getpid()}.", suffix=_TEMPORARY_SUFFIX, dir=directory
        )
    except OSError as exc:
        raise OSError(
            exc.errno, f"Cannot save the model to {path}: {exc.strerror}"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(raw, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)  # replaces a symlink itself, not its target
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if _interrupted(exc):  # Ctrl-C inside torch.save surfaces as its error
            raise KeyboardInterrupt from exc
        if isinstance(exc, (OSError, RuntimeError)):
            raise OSError(
                f"Cannot save the model to {path}: {exc}. The previous file at "
                "that path, if any, is unchanged."
            ) from exc
        raise
    _sync_directory(directory)


#: the suffix of ``save``'s temporary files (``.<hash>.<pid>.<random>.rince-tmp``)
_TEMPORARY_SUFFIX = ".rince-tmp"


def _own_storage(tensor: torch.Tensor) -> torch.Tensor:
    """Return a CPU copy of ``tensor`` in a storage of its own, in standard layout.

    Channels-last weights are stored in the standard layout (loading copies
    them back into the module's own layout); a view never carries the rest of
    its storage into the file, and no two tensors of a file share bytes, which
    :func:`read_payload` checks.
    """
    return tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)


def _temporary_prefix(path: Path) -> str:
    """Return the prefix of the temporary files of a save to ``path``.

    Short whatever the name's length (a name up to the file system's limit
    can be saved to), and the same for every save to one path, so that the
    next save finds what a killed one left.
    """
    digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    return f".{digest}."


def _remove_orphans(directory: Path, prefix: str) -> None:
    """Remove the temporary files of earlier saves to this path that were killed.

    A temporary file names the process that writes it; one whose process no
    longer runs (on this machine) is debris of a kill. Files of running
    processes, a concurrent save among them, are left alone.
    """
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)):
            continue
        pid_text = name[len(prefix) :].partition(".")[0]
        if not pid_text.isdigit() or _process_is_running(int(pid_text)):
            continue
        try:
            os.unlink(directory / name)
        except OSError:
            pass


def _process_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or unknowable: keep its file
    return True


def _mode_to_keep(path: Path) -> int:
    """Return the permission bits of the file being replaced, else the umask's."""
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~_umask()


def _interrupted(exc: BaseException) -> bool:
    """Return whether ``exc`` is, or was raised while handling, a Ctrl-C."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__context__ or current.__cause__
    return False


def _json_number(value: Any) -> float:
    """Encode numpy and torch scalars in the history as floats."""
    return float(value)


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems
        pass
    finally:
        os.close(fd)
