"""Image input: ``(n, H, W)``, ``(n, C, H, W)`` or flat rows with ``image_shape``."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import validate_data
from torch import Tensor

from .._input_checks import refuse_complex, refuse_masked, to_numpy
from .._persistence import check_int_tuple, check_str
from ..augment.image import default_image_augmentation
from ..batching import TensorSource
from ..encoders.image import ConvEncoder
from ._base import Modality, ModalityHost, refuse_graphs

__all__ = ["ImageModality", "flat_image_hint", "uint8_to_unit"]

#: channel counts that make the last axis of a 4-D array look like channels
_CHANNEL_COUNTS = (1, 3, 4)


def uint8_to_unit(batch: Tensor) -> Tensor:
    """Convert a uint8 batch to float32 in ``[0, 1]`` (``value / 255``)."""
    return batch.to(torch.float32).div_(255.0)


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    """Return the estimator's ``image_shape`` parameter as a tuple of 3 ints."""
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(s, Integral) and int(s) >= 1 for s in shape)
    ):
        raise ValueError(
            "image_shape must be a tuple (C, H, W) of three positive ints, e.g. "
            f"(1, 28, 28) for grey 28x28 images; got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _as_array(X: Any) -> Any:
    """Turn tensors and lists into arrays (DataFrames stay, for their names)."""
    if isinstance(X, Tensor):
        return to_numpy(X)
    if hasattr(X, "columns") or hasattr(X, "ndim"):
        return refuse_masked(X)
    try:
        return np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        shapes = []
        for item in X:
            shape = np.shape(item) if not isinstance(item, Tensor) else item.shape
            if tuple(shape) not in shapes:
                shapes.append(tuple(shape))
            if len(shapes) == 3:
                break
        raise ValueError(
            "All images must have the same shape, but the input is a ragged list "
            f"(image shapes include {shapes}). Resize or pad the images to one "
            "size and pass an array of shape (n, H, W) or (n, C, H, W)."
        ) from exc


def _check_range(value: Any) -> tuple[float, float]:
    """Check a saved ``input_range_``: two finite numbers, low <= high."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
            for v in value
        )
        or value[0] > value[1]
    ):
        raise TypeError(f"expected (low, high) with finite low <= high, got {value!r}")
    return (float(value[0]), float(value[1]))


def _value_range(flat: np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of images as the encoder reads them (uint8 as value/255)."""
    if flat.size == 0:
        return (0.0, 0.0)
    low, high = float(flat.min()), float(flat.max())
    if flat.dtype == np.uint8:
        return (low / 255.0, high / 255.0)
    return (low, high)


def _check_scale(estimator: ModalityHost, dtype: str, high: float) -> None:
    """Warn when images reach ``transform`` on another scale than in ``fit``.

    uint8 images are read as ``value / 255`` and other images as they are, so
    float images on a 0-255 scale given to a model fitted on uint8 images (or
    the reverse) would be embedded on a scale 255 times off, silently.
    """
    fitted_dtype = getattr(estimator, "input_dtype_", None)
    if fitted_dtype is None:  # fitted before this attribute existed
        return
    fitted_high = estimator.input_range_[1]
    if fitted_dtype == "uint8" and dtype != "uint8" and high > 2.0:
        warnings.warn(
            "The model was fitted on uint8 images, which are read as value / 255 "
            f"(in [0, 1]), but these {dtype} images reach {high:g}: they look "
            "like 0-255 pixel values and are embedded on another scale than in "
            "fit. Pass them as uint8 (X.astype(np.uint8)) or divide them by 255.",
            UserWarning,
            stacklevel=5,
        )
    elif fitted_dtype != "uint8" and dtype == "uint8" and fitted_high > 2.0:
        warnings.warn(
            f"The model was fitted on {fitted_dtype} images with values up to "
            f"{fitted_high:g}, read as they are, but these images are uint8, "
            "which are read as value / 255 (in [0, 1]): they are embedded on "
            "another scale than in fit. Pass them as X.astype(np.float32) to read "
            "them as in fit.",
            UserWarning,
            stacklevel=5,
        )


def _head(X: Any, n_rows: int) -> np.ndarray | None:
    """Return the first ``n_rows`` rows of ``X`` as an array (None if unreadable)."""
    try:
        if isinstance(X, Tensor):
            return to_numpy(X[:n_rows])
        if sparse.issparse(X):
            return sparse.csr_matrix(X)[:n_rows].toarray()
        if hasattr(X, "iloc"):
            return np.asarray(X.iloc[:n_rows].to_numpy())
        return np.asarray(X[:n_rows])
    except (TypeError, ValueError, IndexError):
        return None


def flat_image_hint(X: Any) -> str | None:
    """Say so when 2-D rows look like flattened images (Fashion-MNIST's, say).

    Rows look like images when their width is ``side**2`` or ``3 * side**2``
    with ``side >= 8``, and their values look like pixels: a uint8 array, or,
    for rows at least 256 wide, whole numbers in ``[0, 255]`` (not all 0 or 1)
    or numbers in ``[0, 1]`` (not all 0 or 1). Narrower non-uint8 tables are
    not flagged: ``load_digits().data`` (64 columns, 8x8 images with values
    0..16) is a classic tabular benchmark. Only the first 256 rows are read.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Input about to be read as tabular rows.

    Returns
    -------
    hint : str or None
        What to pass to read the rows as images, or None when they do not look
        like images.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.modalities.image import flat_image_hint
    >>> pixels = np.random.default_rng(0).integers(0, 256, (10, 784), dtype=np.uint8)
    >>> "image_shape=(1, 28, 28)" in flat_image_hint(pixels)
    True
    >>> print(flat_image_hint(np.random.default_rng(0).normal(size=(10, 784))))
    None
    """
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    width = int(shape[1])
    layout = None
    for channels in (1, 3):
        side = int(round((width / channels) ** 0.5))
        if side >= 8 and channels * side * side == width:
            layout = (channels, side, side)
    if layout is None:
        return None
    rows = _head(X, 256)
    if rows is None or rows.size == 0:
        return None
    if rows.dtype == np.uint8:
        seen = "uint8 values"
    elif width < 256 or rows.dtype.kind not in "biuf":
        return None
    else:
        if not np.isfinite(rows).all():
            return None
        low, high = float(rows.min()), float(rows.max())
        binary = bool(np.isin(rows, (0, 1)).all())
        if low < 0 or binary:
            return None
        if high <= 1:
            seen = "values in [0, 1]"
        elif high <= 255 and bool((rows == np.round(rows)).all()):
            seen = "whole numbers in [0, 255]"
        else:
            return None
    c, h, w = layout
    as_array = f"(n, {h}, {w})" if c == 1 else f"(n, {c}, {h}, {w})"
    return (
        f"X has {width} columns of {seen}: it looks like flattened {c}x{h}x{w} "
        "images, but it is embedded as tabular data (MLP encoder, SCARF views). "
        f"To embed images, pass image_shape=({c}, {h}, {w}) (or the images as an "
        f"array of shape {as_array}); to keep the rows tabular and silence this "
        "warning, pass modality='tabular'."
    )


class ImageModality(Modality):
    """Images; the default encoder is a plain CNN, views are SimCLR-style.

    Accepted layouts:

    - ``(n, H, W)``: grey images (one channel);
    - ``(n, C, H, W)``: channels first, as in torch;
    - ``(n, C*H*W)`` flat rows, with the estimator's ``image_shape=(C, H, W)``
      (so the embedder can follow another Pipeline step); after ``fit``, flat
      rows of the fitted width are also accepted by ``transform``.

    Arrays, nested lists, torch tensors and (flat) DataFrames are accepted.
    uint8 images are stored as uint8 and converted per batch to float32 in
    ``[0, 1]`` (``value / 255``, as torchvision does); images of any other
    real number type are used as float32 values as they are (the default encoder
    standardises its input, so their scale does not matter). Use the same
    dtype in ``fit`` and ``transform``: ``transform`` warns when float images
    on a 0-255 scale reach a model fitted on uint8 images, or uint8 images a
    model fitted on floats on a 0-255 scale. NaN and infinite values are
    refused, and so are complex numbers and masked arrays that mask values.
    Tensors are detached first.

    A 4-D array whose last axis could be channels (1, 3 or 4) is read
    channels-first without a word when only that reading gives square images
    (``(n, 64, 4, 4)``: 64 maps of 4x4 pixels). Otherwise, when its second
    axis could not be channels, it is refused as channels-last (e.g.
    ``(n, 28, 28, 3)``), with the transpose that fixes it; when both axes
    could be, e.g. ``(n, 4, 4, 3)``, it is read channels-first with a warning
    that says how to transpose it. ``image_shape`` confirms a channels-first
    reading and silences the error or warning.

    Fitted attributes: ``image_shape_ = (C, H, W)``, ``n_features_in_ = C * H *
    W``, ``input_dtype_`` (the fitted images' dtype, a str) and
    ``input_range_`` (their ``(min, max)`` as the encoder reads them).
    """

    name = "image"
    fitted_attributes = {
        "image_shape_": check_int_tuple(3),
        "input_dtype_": check_str,
        "input_range_": _check_range,
    }

    def prepare(self, estimator: ModalityHost, X: Any, *, reset: bool) -> TensorSource:
        """Validate images, record (``reset``) or check their shape."""
        refuse_graphs(self.name, estimator, X, reset=reset)
        X = _as_array(X)
        shape = tuple(X.shape)
        refuse_complex(
            getattr(X, "dtype", None),
            split="channels, np.concatenate([X.real, X.imag], axis=1) for (n, C, "
            "H, W) images",
        )
        if len(shape) >= 2 and shape[0] == 0:
            raise ValueError(
                f"Found 0 images (an array of shape {shape}) while a minimum of "
                f"{2 if reset else 1} is required by {type(estimator).__name__}."
            )
        if reset:
            if estimator.image_shape is not None:
                image_shape = _check_image_shape(estimator.image_shape)
            else:
                image_shape = self._shape_from_array(shape)
        else:
            c, h, w = estimator.image_shape_
            image_shape = (int(c), int(h), int(w))
        self._check_layout(shape, image_shape, reset=reset)
        flat = X if len(shape) == 2 else np.reshape(X, (shape[0], -1))
        flat = validate_data(
            estimator,
            flat,
            reset=reset,
            dtype=None,
            ensure_min_samples=2 if reset else 1,
        )
        dtype = str(flat.dtype)  # as given, before any conversion
        if flat.dtype == np.uint8:
            convert = uint8_to_unit
        else:
            if not np.issubdtype(flat.dtype, np.number) and flat.dtype != np.bool_:
                raise TypeError(
                    f"Images must be numbers (uint8 or float), got dtype {flat.dtype}."
                )
            flat = flat.astype(np.float32, copy=False)
            convert = None
        low, high = _value_range(flat)
        if reset:
            estimator.image_shape_ = image_shape
            estimator.input_dtype_ = dtype
            estimator.input_range_ = (low, high)
        else:
            _check_scale(estimator, dtype, high)
        images = np.ascontiguousarray(flat).reshape((flat.shape[0], *image_shape))
        if not images.flags.writeable:  # torch cannot share read-only memory
            images = images.copy()
        return TensorSource(torch.from_numpy(images), convert=convert)

    @staticmethod
    def _shape_from_array(shape: tuple[int, ...]) -> tuple[int, int, int]:
        """Read ``(C, H, W)`` from an array's shape when ``image_shape`` is None."""
        if len(shape) == 3:
            return (1, shape[1], shape[2])
        if len(shape) == 4:
            c, h, w = shape[1:]
            # square images in the channels-first reading only: (n, 64, 4, 4)
            # is 64 maps of 4x4 pixels, not 64x4 pixels with 4 channels
            only_first_square = h == w and c != h
            if w in _CHANNEL_COUNTS and only_first_square:
                return (c, h, w)
            if w in _CHANNEL_COUNTS and c not in _CHANNEL_COUNTS:
                raise ValueError(
                    f"Images of shape {shape} look channels-last (n, H, W, C): "
                    f"{c}x{h} pixels with {w} channel(s); images must be "
                    "channels-first (n, C, H, W). Transpose them with "
                    f"X.transpose(0, 3, 1, 2). If they are channels-first ({c} "
                    f"channels of {h}x{w} pixels), pass image_shape=({c}, {h}, "
                    f"{w})."
                )
            if w in _CHANNEL_COUNTS:
                warnings.warn(
                    f"Images of shape {shape} are read channels-first: {c} "
                    f"channel(s) of {h}x{w} pixels. If they are channels-last "
                    f"({c}x{h} pixels with {w} channel(s)), transpose them with "
                    "X.transpose(0, 3, 1, 2). Pass image_shape="
                    f"({c}, {h}, {w}) to confirm the channels-first reading and "
                    "silence this warning.",
                    UserWarning,
                    stacklevel=5,
                )
            return (c, h, w)
        if len(shape) == 2:
            width = shape[1]
            side = int(round(width**0.5))
            hint = (
                f" (for example image_shape=(1, {side}, {side}))"
                if side * side == width
                else ""
            )
            raise ValueError(
                f"Flat rows of shape {shape} need image_shape=(C, H, W) with "
                f"C * H * W = {width} to be read as images{hint}; or pass "
                "images of shape (n, H, W) or (n, C, H, W)."
            )
        raise ValueError(
            f"Images must have shape (n, H, W), (n, C, H, W), or (n, C*H*W) with "
            f"image_shape; got an array of shape {shape}."
        )

    @staticmethod
    def _check_layout(
        shape: tuple[int, ...], image_shape: tuple[int, int, int], *, reset: bool
    ) -> None:
        """Check that an input of ``shape`` holds images of ``image_shape``."""
        c, h, w = image_shape
        ok = (
            (len(shape) == 4 and shape[1:] == (c, h, w))
            or (len(shape) == 3 and c == 1 and shape[1:] == (h, w))
            or (len(shape) == 2 and shape[1] == c * h * w)
        )
        if ok:
            return
        where = "image_shape" if reset else "fit"
        accepted = f"(n, {c}, {h}, {w})" + (f", (n, {h}, {w})" if c == 1 else "")
        raise ValueError(
            f"Expected images of shape (C, H, W) = {image_shape} (from {where}): "
            f"an array of shape {accepted} or flat rows (n, {c * h * w}); got an "
            f"array of shape {shape}."
        )

    def encoder_size_kwargs(self, estimator: ModalityHost) -> dict[str, Any]:
        """Return ``in_channels`` (C) and ``image_size`` ((H, W))."""
        c, h, w = estimator.image_shape_
        return {"in_channels": c, "image_size": (h, w)}

    def default_encoder(self, estimator: ModalityHost) -> type[ConvEncoder]:
        """:class:`~rince_sklearn.encoders.ConvEncoder` (widths from ``DEFAULTS``)."""
        return ConvEncoder

    def default_augmentation(self, estimator: ModalityHost) -> Any:
        """Crop, flip, jitter, noise: ``default_image_augmentation(**DEFAULTS)``.

        The strengths are ``DEFAULTS["augmentation"]``.
        """
        return default_image_augmentation(**self.DEFAULTS["augmentation"])

    # -- defaults of the "auto" parameters ----------------------------------------
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.2,
        "max_epochs": 60,
        "encoder_kwargs": {"base_width": 32, "pooled_stages": None},
        "embedding_dim": None,  # the encoder's last layer, no output layer
        "augmentation": {
            "crop_scale": (0.6, 1.0),
            "flip": True,
            "brightness": 0.4,
            "contrast": 0.0,
            "jitter_p": 1.0,
            "blur_p": 0.0,
            "noise_std": 0.05,
        },
    }
