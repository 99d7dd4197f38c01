"""Image input: ``(n, H, W)``, ``(n, C, H, W)`` or flat rows with ``image_shape``."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import Tensor

from ..augment.image import default_image_augmentation
from ..batching import TensorSource
from ..encoders.image import ConvEncoder
from ._base import Modality

__all__ = ["ImageModality", "uint8_to_unit"]


def uint8_to_unit(batch: Tensor) -> Tensor:
    """Convert a uint8 batch to float32 in ``[0, 1]`` (``value / 255``)."""
    return batch.to(torch.float32).div_(255.0)


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    """Return the estimator's ``image_shape`` parameter as a tuple of 3 ints."""
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(s, Integral) and s >= 1 for s in shape)
    ):
        raise ValueError(
            "image_shape must be a tuple (C, H, W) of three positive ints, e.g. "
            f"(1, 28, 28) for grey 28x28 images; got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _as_array(X: Any) -> Any:
    """Turn tensors and lists into arrays (DataFrames stay, for their names)."""
    if isinstance(X, Tensor):
        return X.detach().cpu().numpy()
    if hasattr(X, "columns") or hasattr(X, "ndim"):
        return X
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
    number type are used as float32 values as they are (the default encoder
    standardises its input, so their scale does not matter). Use the same
    dtype in ``fit`` and ``transform``. NaN and infinite values are refused.

    Fitted attributes: ``image_shape_ = (C, H, W)`` and
    ``n_features_in_ = C * H * W``.
    """

    name = "image"

    def prepare(self, estimator: Any, X: Any, *, reset: bool) -> TensorSource:
        """Validate images, record (``reset``) or check their shape."""
        X = _as_array(X)
        shape = tuple(X.shape)
        if reset:
            if estimator.image_shape is not None:
                image_shape = _check_image_shape(estimator.image_shape)
            else:
                image_shape = self._shape_from_array(shape)
        else:
            image_shape = tuple(estimator.image_shape_)
        self._check_layout(shape, image_shape, reset=reset)
        flat = X if len(shape) == 2 else np.reshape(X, (shape[0], -1))
        flat = validate_data(
            estimator,
            flat,
            reset=reset,
            dtype=None,
            ensure_min_samples=2 if reset else 1,
        )
        if flat.dtype == np.uint8:
            convert = uint8_to_unit
        else:
            if not np.issubdtype(flat.dtype, np.number) and flat.dtype != np.bool_:
                raise TypeError(
                    f"Images must be numbers (uint8 or float), got dtype {flat.dtype}."
                )
            flat = flat.astype(np.float32, copy=False)
            convert = None
        if reset:
            estimator.image_shape_ = image_shape
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
            if w in (1, 3, 4) and c not in (1, 3, 4):
                raise ValueError(
                    f"Images of shape {shape} look channels-last (n, H, W, C); "
                    "images must be channels-first (n, C, H, W). Transpose them "
                    "with X.transpose(0, 3, 1, 2)."
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

    def encoder_size_kwargs(self, estimator: Any) -> dict[str, Any]:
        """Return ``in_channels`` (C) and ``image_size`` ((H, W))."""
        c, h, w = estimator.image_shape_
        return {"in_channels": c, "image_size": (h, w)}

    def default_encoder(self, estimator: Any) -> type[ConvEncoder]:
        """:class:`~rince_sklearn.encoders.ConvEncoder` (widths from ``DEFAULTS``)."""
        return ConvEncoder

    def default_augmentation(self, estimator: Any) -> Any:
        """Crop, flip, jitter, noise: ``default_image_augmentation(**DEFAULTS)``.

        The strengths are ``DEFAULTS["augmentation"]``.
        """
        return default_image_augmentation(**self.DEFAULTS["augmentation"])

    # -- defaults of the "auto" parameters ----------------------------------------
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.2,
        "max_epochs": 30,
        "encoder_kwargs": {"base_width": 32},
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
