"""Plain data and class references to JSON data and back (the payload's values).

Encoding accepts plain values, classes where a class is expected and
:class:`~rince_sklearn.augment.Augmentation` objects; decoding builds plain
data, looks classes up in a :class:`ClassAllowList` and constructs nothing but
allow-listed augmentations from plain parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..augment._base import Augmentation
from .format import FileFormatError

__all__ = [
    "ClassAllowList",
    "decode_augmentation",
    "decode_class",
    "decode_plain",
    "encode_augmentation",
    "encode_class",
    "encode_plain",
]

#: dtypes an array in a saved file may have (no void, object, or structured types)
_ARRAY_DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float16", "float32", "float64",
}  # fmt: skip


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
            k: _encode_augmentation_param(v)
            for k, v in value.get_params(deep=False).items()
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
                if cls.__module__.split(".")[0] == "rince_sklearn" and not (
                    _abstract(cls)
                ):
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


def _abstract(cls: type) -> bool:
    """Whether ``cls`` is a private or abstract base that a file must not name.

    Base classes such as ``MemberAugmentations`` build without error but
    raise ``NotImplementedError`` when used.
    """
    if any(part.startswith("_") for part in cls.__qualname__.split(".")):
        return True
    return issubclass(cls, Augmentation) and cls.augment is Augmentation.augment


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

