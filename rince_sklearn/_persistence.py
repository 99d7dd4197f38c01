"""Save and load fitted estimators without pickling Python objects.

A saved file is a ``torch.save`` archive of plain data: the module's tensors,
and JSON strings for the parameters, the fitted attributes and the history. It
is read with ``torch.load(weights_only=True)``, which refuses any pickled
object, so loading a tampered file cannot execute code. Classes and functions
(custom encoders, augmentations, optimisers) are stored by import path and
imported by name when loading: only code that is installed can be named.
"""

from __future__ import annotations

import copy
import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .augment import Augmentation, augmentation_state, set_augmentation_state
from .modalities import get_modality

FORMAT = "rince_sklearn.RobustContrastiveEmbedder"
FORMAT_VERSION = 1

#: fitted attributes that are rebuilt on load rather than stored
_REBUILT = {"net_", "encoder_", "history_", "augmentation_", "device_"}


def _import_path(obj: Any) -> str:
    module, qualname = obj.__module__, obj.__qualname__
    if "<locals>" in qualname or module == "__main__":
        raise ValueError(
            f"{obj!r} cannot be saved by import path: define it at the top level "
            "of an importable module, or use pickle/joblib instead of save()."
        )
    return f"{module}:{qualname}"


def _import(path: str) -> Any:
    module, _, qualname = path.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _encode(value: Any) -> Any:
    """Encode a parameter or fitted value as JSON-ready data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, Augmentation):
        params = {k: _encode(v) for k, v in value.get_params().items()}
        return {"__augmentation__": _import_path(type(value)), "params": params}
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return {"__import__": _import_path(value)}
    raise ValueError(
        f"Cannot save {value!r} of type {type(value).__name__} without pickling. "
        "Use a class, a top-level function or an rince_sklearn Augmentation, or "
        "persist the estimator with pickle/joblib instead."
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        dtype = value["dtype"]
        return np.asarray(
            value["__ndarray__"], dtype=object if dtype == "object" else dtype
        )
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__augmentation__" in value:
        cls = _import(value["__augmentation__"])
        return cls(**{k: _decode(v) for k, v in value["params"].items()})
    if "__import__" in value:
        return _import(value["__import__"])
    raise ValueError(f"Unknown entry in saved file: {value!r}")


def save_estimator(estimator: Any, path: str | Path) -> None:
    """Write a fitted estimator to ``path``; see ``RobustContrastiveEmbedder.save``."""
    params = estimator.get_params(deep=False)
    if params.get("callbacks"):
        warnings.warn(
            "Callbacks are not saved: the loaded estimator has callbacks=None.",
            UserWarning,
            stacklevel=3,
        )
        params["callbacks"] = None
    fitted = {
        name: _encode(value)
        for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_") and name not in _REBUILT
    }
    history = json.dumps(estimator.history_.to_list(), default=float)
    state = {
        k: v.detach().cpu() for k, v in estimator.net_.module_.state_dict().items()
    }
    torch.save(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "params": json.dumps({k: _encode(v) for k, v in params.items()}),
            "fitted": json.dumps(fitted),
            "history": history,
            "state_dict": state,
            # what a fitted augmentation learnt (MarginalCorruption's donor
            # rows): plain tensors, restored into the rebuilt augmentation
            "augmentation_state": {
                k: v.detach().cpu()
                for k, v in augmentation_state(estimator.augmentation_).items()
            },
        },
        path,
    )


def load_estimator(cls: type, path: str | Path, device: Any = None) -> Any:
    """Read an estimator written by :func:`save_estimator`."""
    from skorch.history import History

    from .estimator import resolve_device

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError and friends
        raise ValueError(
            f"{path} is not a file written by RobustContrastiveEmbedder.save(), or "
            f"it holds objects that are not plain data ({exc})."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} was not written by RobustContrastiveEmbedder.save().")
    if payload["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses format version {payload['format_version']}; this "
            f"rince_sklearn reads versions up to {FORMAT_VERSION}. Upgrade it."
        )
    params = {k: _decode(v) for k, v in json.loads(payload["params"]).items()}
    if device is not None:
        params["device"] = device
    estimator = cls(**params)
    for name, value in json.loads(payload["fitted"]).items():
        setattr(estimator, name, _decode(value))
    modality = get_modality(estimator.modality_)
    try:
        estimator.device_ = resolve_device(estimator.device)
    except ValueError:  # saved on a GPU, loaded where there is none
        warnings.warn(
            f"The model was saved with device={estimator.device!r}, which is not "
            "available here; it is loaded on the CPU. Pass device= to load() to "
            "choose.",
            UserWarning,
            stacklevel=3,
        )
        estimator.device_ = torch.device("cpu")
    estimator.augmentation_ = estimator._resolve_augmentation(modality)
    aug_state = payload.get("augmentation_state") or {}
    if aug_state:
        estimator.augmentation_ = copy.deepcopy(estimator.augmentation_)
        set_augmentation_state(estimator.augmentation_, aug_state)
    net = estimator._build_net(modality, seed=0)
    net.module_.load_state_dict(payload["state_dict"])
    net.history = History(json.loads(payload["history"]))
    estimator.net_ = net
    estimator._set_fitted_net(net)
    return estimator
