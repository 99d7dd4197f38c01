"""Reading a saved file: bounded, inspected before unpickling, tensors checked.

The archive must be a zip file of stored (uncompressed) entries whose sizes add
up to no more than the file's; it is unpickled with
``torch.load(weights_only=True)``; every tensor must be a dense CPU tensor of
an allowed dtype, and all of them, each counted once, must fit in the file.
"""

from __future__ import annotations

import io
import json
import os
import stat
import warnings
import zipfile
from collections.abc import Iterable
from typing import IO, Any

import torch

from .format import (
    _KEYS,
    _KEYS_V2,
    _MAX_ENTRIES,
    _STATE_NAME,
    _TENSOR_DTYPES,
    FORMAT,
    MAX_FILE_BYTES,
    READABLE_VERSIONS,
    FileFormatError,
    Payload,
)

__all__ = ["read_payload"]


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
    if isinstance(file, (str, os.PathLike)):
        # a path is memory-mapped, not read: a tensor costs its pages once,
        # not a copy of the file's bytes and a tensor besides
        size, identity = _check_path(file, source)
        raw = _unpickle(file, source, mmap=True)
        if _identity(os.stat(file)) != identity:
            raise FileFormatError(f"{source} changed while it was being read.")
    else:
        data = _read_bounded(file, source)
        buffer = io.BytesIO(data)
        _check_archive(buffer, len(data), source)
        buffer.seek(0)
        size = len(data)
        raw = _unpickle(buffer, source, mmap=False)
    payload = _check_raw(raw, source, size)
    # the fitted state outlives the load: in memory of its own, not the file's
    payload.augmentation_state = {
        k: v.clone() for k, v in payload.augmentation_state.items()
    }
    return payload


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _check_path(
    file: str | os.PathLike, source: str
) -> tuple[int, tuple[int, int, int, int]]:
    """Check a saved file's kind, size and archive without reading its content."""
    try:
        with open(file, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):  # /dev/zero, a pipe
                raise FileFormatError(
                    f"{source} is not a regular file; load() reads files written "
                    "by save()."
                )
            if info.st_size > MAX_FILE_BYTES:
                raise _too_big(source)
            _check_archive(handle, info.st_size, source)
    except IsADirectoryError:
        raise FileFormatError(f"{source} is a folder, not a saved model.") from None
    except OSError as exc:
        raise FileFormatError(f"Cannot read {source}: {exc.strerror}.") from None
    return info.st_size, _identity(info)


def _unpickle(file: Any, source: str, mmap: bool) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises UnpicklingError and friends
        raise FileFormatError(
            f"{source} is not a file written by RobustContrastiveEmbedder.save(), or "
            f"it holds objects that are not plain data ({exc})."
        ) from None


def _too_big(source: str) -> FileFormatError:
    return FileFormatError(
        f"{source} is larger than {MAX_FILE_BYTES} bytes, far more than a model "
        "written by save() takes; it is not such a file."
    )


def _read_bounded(file: IO[bytes], source: str) -> bytes:
    """Read at most :data:`MAX_FILE_BYTES` from a binary file object."""
    data = file.read(MAX_FILE_BYTES + 1)
    if not isinstance(data, bytes):
        raise TypeError(f"{source} must be opened in binary mode ('rb').")
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(source)
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
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise FileFormatError(
                f"{source}: {what} {name!r} hold NaN or infinite values; a model "
                "written by save() never does (fit stops when training diverges)."
            )
        if name.endswith("running_var") and bool((tensor < 0).any()):
            raise FileFormatError(
                f"{source}: {what} {name!r} hold negative variances."
            )
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

