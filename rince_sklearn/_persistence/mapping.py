"""The estimator <-> payload mapping, and the upgrades of older files.

:func:`to_payload` encodes a fitted estimator's parameters and fitted
attributes as JSON data; :func:`decode_payload` upgrades a read payload to the
current format, then decodes and checks every value against what the
estimator declares (its constraints, its saved attributes and their checks,
the modality's), and returns plain Python values: nothing is built here. The
estimator builds the model from them (``RobustContrastiveEmbedder.load``).

Upgrades: one function per old format version, turning a payload of that
version into one of the next (:data:`UPGRADES`); values added within a version
(a new parameter or fitted attribute that older files lack) get the value that
reproduces the older behaviour (:data:`ADDED_PARAMETERS`,
:func:`_fill_added_attributes`). Each is tested against a stored file of its
version (``tests/data``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)

from ..augment._base import (
    MemberAugmentations,
    augmentation_state,
    check_augmentation,
)
from ..modalities import Modality, get_modality
from ..threads import available_cores
from .checks import check_str
from .codec import (
    ClassAllowList,
    decode_augmentation,
    decode_class,
    decode_plain,
    encode_augmentation,
    encode_class,
    encode_plain,
)
from .format import FORMAT_VERSION, FileFormatError, Payload

if TYPE_CHECKING:  # pragma: no cover
    from ..estimator import RobustContrastiveEmbedder

__all__ = [
    "ADDED_PARAMETERS",
    "UPGRADES",
    "DecodedModel",
    "declared_attributes",
    "decode_payload",
    "to_payload",
    "upgrade",
]

#: parameters added after format version 2 was introduced, with the value that
#: reproduces how files written before them were trained
ADDED_PARAMETERS: dict[str, Any] = {
    "own_view_weight": None,  # equal weights over the positives
}


@dataclass(frozen=True)
class DecodedModel:
    """What a payload describes, decoded and checked, before anything is built."""

    params: dict[str, Any]
    fitted: dict[str, Any]
    modality: Modality


# -- writing ----------------------------------------------------------------------


def declared_attributes(
    estimator_class: type[RobustContrastiveEmbedder], modality: Modality
) -> dict[str, Callable[[Any], Any]]:
    """Return the saved fitted attributes and their checks (estimator's, modality's)."""
    return {**estimator_class._saved_attributes, **modality.fitted_attributes}


def to_payload(estimator: RobustContrastiveEmbedder, library_version: str) -> Payload:
    """Encode a fitted estimator as plain data (see the package docstring)."""
    params = estimator.get_params(deep=False)
    if params.get("callbacks"):
        warnings.warn(
            "Callbacks are not saved: the loaded estimator has callbacks=None.",
            UserWarning,
            stacklevel=4,
        )
        params["callbacks"] = None
    class_parameters = type(estimator)._class_parameters
    encoded = {}
    for name, value in params.items():
        if name in class_parameters and isinstance(value, type):
            encoded[name] = encode_class(value)
        elif name == "augmentation":
            encoded[name] = encode_augmentation(value)
        else:
            encoded[name] = encode_plain(value)
    declared = declared_attributes(type(estimator), get_modality(estimator.modality_))
    fitted = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if name in type(estimator)._rebuilt_attributes:
            continue
        if name not in declared:
            raise ValueError(
                f"The fitted attribute {name} cannot be saved: it is not "
                "declared in _saved_attributes or the modality's "
                "fitted_attributes. Use pickle/joblib, or declare it."
            )
        fitted[name] = encode_plain(value)
    _warn_of_foreign_state(estimator.augmentation_)
    return Payload(
        params=encoded,
        fitted=fitted,
        history=estimator.history_.to_list(),
        state_dict=dict(estimator.net_.module_.state_dict()),
        augmentation_state=augmentation_state(estimator.augmentation_),
        library_version=library_version,
    )


def _warn_of_foreign_state(augmentation: Any) -> None:
    """Warn when a user augmentation's fitted state goes into the file.

    rince_sklearn's own augmentations keep no training row (the tabular
    default keeps each column's values, shuffled column by column); a user
    class may keep anything it learnt, rows included.
    """
    todo, foreign = [augmentation], []
    while todo:
        current = todo.pop()
        if isinstance(current, MemberAugmentations):
            todo.extend(current.augmentations)
        elif augmentation_state(current) and not type(
            current
        ).__module__.startswith("rince_sklearn."):
            foreign.append(type(current).__qualname__)
    if foreign:
        warnings.warn(
            f"save() stores the fitted state of {', '.join(sorted(foreign))}, which "
            "may hold training data (rows, say): check what it keeps before you "
            "share the file.",
            UserWarning,
            stacklevel=4,
        )


# -- upgrades ---------------------------------------------------------------------


def _upgrade_v1(payload: Payload) -> Payload:
    """Version 1 -> 2: class and device tags renamed, the "auto" settings filled.

    Version 1 stored classes as ``{"__import__": path}`` and torch devices as
    ``{"__device__": name}``, and was written before ``lr``, ``temperature``,
    ``max_epochs`` and the encoder's keyword arguments could be ``"auto"``: its
    parameters are its fitted settings.
    """
    params = {k: _retag_v1(v) for k, v in payload.params.items()}
    fitted = {k: _retag_v1(v) for k, v in payload.fitted.items()}
    for name in ("lr", "temperature", "max_epochs"):
        fitted.setdefault(f"{name}_", params.get(name))
    kwargs = params.get("encoder_kwargs") or {"__dict__": []}
    fitted.setdefault("encoder_kwargs_", kwargs)
    return replace(payload, params=params, fitted=fitted, format_version=2)


def _retag_v1(value: Any) -> Any:
    if isinstance(value, list):
        return [_retag_v1(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"__import__"}:
        return {"__class__": value["__import__"]}
    if set(value) == {"__device__"} and isinstance(value["__device__"], str):
        return value["__device__"]
    return {k: _retag_v1(v) for k, v in value.items()}


#: format version -> the function that upgrades a payload of it to the next
UPGRADES: dict[int, Callable[[Payload], Payload]] = {1: _upgrade_v1}


def upgrade(payload: Payload) -> Payload:
    """Return ``payload`` upgraded, one version at a time, to :data:`FORMAT_VERSION`."""
    while payload.format_version < FORMAT_VERSION:
        payload = UPGRADES[payload.format_version](payload)
    return payload


def _fill_added_attributes(params: dict[str, Any], fitted: dict[str, Any]) -> None:
    """Fill the fitted attributes that files written before them lack."""
    if "embedding_dim_" not in fitted:  # before embedding_dim="auto" existed
        fitted["embedding_dim_"] = params.get("embedding_dim")
    if "precision_" not in fitted:  # before precision="auto" existed
        saved = params.get("precision")
        fitted["precision_"] = "bf16-mixed" if saved == "bf16-mixed" else "32"


# -- reading ----------------------------------------------------------------------


def decode_payload(
    estimator_class: type[RobustContrastiveEmbedder],
    payload: Payload,
    allow: ClassAllowList,
    device: Any = None,
) -> DecodedModel:
    """Upgrade, decode and check a read payload; build nothing.

    Raises
    ------
    ValueError
        A parameter or fitted attribute is unknown, missing or invalid; the
        message names the file and the value.
    """
    payload = upgrade(payload)
    source = payload.source
    params = _decode_params(estimator_class, payload, allow)
    for name, value in ADDED_PARAMETERS.items():
        params.setdefault(name, value)
    if device is not None:
        params["device"] = device
    try:
        validate_parameter_constraints(
            estimator_class._parameter_constraints,
            params,
            caller_name=estimator_class.__name__,
        )
    except InvalidParameterError as exc:
        raise FileFormatError(f"{source}: {exc}") from None
    _cap_threads(params, source)
    fitted_raw = dict(payload.fitted)
    _fill_added_attributes(payload.params, fitted_raw)
    modality = _decode_modality(fitted_raw, source)
    augmentation = params.get("augmentation")
    try:  # declared ranges and size caps, and the file's modality, before use
        if not isinstance(augmentation, str):  # "auto": the modality's default
            check_augmentation(augmentation, modality.name)
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"{source}: parameter 'augmentation': {exc}") from None
    fitted = _decode_fitted(estimator_class, fitted_raw, modality, source)
    return DecodedModel(params=params, fitted=fitted, modality=modality)


def _decode_params(
    estimator_class: type[RobustContrastiveEmbedder],
    payload: Payload,
    allow: ClassAllowList,
) -> dict[str, Any]:
    source = payload.source
    unknown = set(payload.params) - set(estimator_class._get_param_names())
    if unknown:
        raise FileFormatError(
            f"{source} sets unknown parameters {sorted(unknown)}; it was not "
            f"written by this version of {estimator_class.__name__}.save()."
        )
    class_parameters = estimator_class._class_parameters
    params = {}
    for name, value in payload.params.items():
        where = f"{source}: parameter {name!r}"
        if name in class_parameters:
            params[name] = decode_class(value, class_parameters[name], allow, where)
        elif name == "augmentation":
            params[name] = decode_augmentation(value, allow, where)
        else:
            params[name] = decode_plain(value, where)
    if params.get("callbacks") is not None:
        raise FileFormatError(f"{source}: callbacks are never saved.")
    return params


def _cap_threads(params: dict[str, Any], source: str) -> None:
    """Cap a file's ``n_threads`` at the cores this process may run on."""
    n_threads = params.get("n_threads")
    if n_threads is not None and n_threads > available_cores():
        warnings.warn(
            f"{source} asks for n_threads={n_threads}; this process may run on "
            f"{available_cores()} cores, so it is loaded with "
            f"n_threads={available_cores()}.",
            UserWarning,
            stacklevel=5,
        )
        params["n_threads"] = available_cores()


def _decode_modality(fitted: dict[str, Any], source: str) -> Modality:
    name = decode_plain(fitted.get("modality_"), f"{source}: modality_")
    try:
        return get_modality(check_str(name))
    except (TypeError, ValueError) as exc:
        raise FileFormatError(f"{source}: fitted attribute modality_: {exc}") from None


def _decode_fitted(
    estimator_class: type[RobustContrastiveEmbedder],
    fitted: dict[str, Any],
    modality: Modality,
    source: str,
) -> dict[str, Any]:
    declared = declared_attributes(estimator_class, modality)
    unknown = set(fitted) - set(declared)
    # every declared attribute is set by fit, but for DataFrame column names
    missing = set(declared) - {"feature_names_in_"} - set(fitted)
    if unknown or missing:
        raise FileFormatError(
            f"{source} has unknown fitted attributes {sorted(unknown)} or lacks "
            f"{sorted(missing)}."
        )
    decoded = {}
    for name, value in fitted.items():
        where = f"{source}: fitted attribute {name}"
        try:
            decoded[name] = declared[name](decode_plain(value, where))
        except TypeError as exc:
            raise FileFormatError(f"{where}: {exc}.") from None
    return decoded
