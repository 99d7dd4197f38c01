"""Batched augmentations for images ``(B, C, H, W)``, all in torch.

Every augmentation works on the whole batch at once (on whatever device the
batch is on), draws its random parameters per sample from the ``generator``
argument, and keeps the batch's shape, dtype and range of values: a float
batch stays within its own ``[min, max]``, and a uint8 batch is augmented in
float and rounded back. A 3-D batch ``(B, H, W)`` is read as one channel.
Values need not lie in ``[0, 1]``: brightness and clipping are relative to
the batch's minimum and maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ._base import Augmentation, Compose
from ._params import Number, NumberPair

#: the widest blur kernel (taps): beyond the images this package is sized for
#: (up to 64x64), a kernel only adds border padding and work
MAX_KERNEL_SIZE = 63
#: the widest blur, in pixels: wider than the widest kernel is a box filter
MAX_SIGMA = 100.0
#: the most elongated crop: aspect ratios are kept in [1/100, 100]
MAX_RATIO = 100.0

_PROBABILITY = [Number(Real, 0, 1)]

__all__ = [
    "ColorJitter",
    "GaussianBlur",
    "HorizontalFlip",
    "ImageNoise",
    "RandomResizedCrop",
    "default_image_augmentation",
    "random_resized_crop",
]


def _uniform(
    n: int, low: float, high: float, generator: torch.Generator | None, device
) -> Tensor:
    """``n`` float32 draws from ``U(low, high)``."""
    u = torch.rand(n, generator=generator, device=device)
    return low + (high - low) * u


def _bernoulli(n: int, p: float, generator: torch.Generator | None, device) -> Tensor:
    """``n`` booleans, each True with probability ``p``."""
    return torch.rand(n, generator=generator, device=device) < p


def random_resized_crop(
    x: Tensor,
    scale: Sequence[float] = (0.35, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Crop a random box of each image and resize it back to the image's size.

    For each image, the box's area is a fraction ``s ~ U(scale)`` of the image
    and its aspect ratio ``r`` is log-uniform in ``ratio``; its width and height
    fractions are ``sqrt(s * r)`` and ``sqrt(s / r)`` (at most 1), and its
    position is uniform among those that keep it inside the image. The box is
    resampled bilinearly by one batched ``grid_sample``.

    Parameters
    ----------
    x : Tensor of shape (B, C, H, W), floating point
        The images.
    scale : (float, float), default=(0.35, 1.0)
        Range of the box's area as a fraction of the image's.
    ratio : (float, float), default=(3/4, 4/3)
        Range of the box's aspect ratio (width / height).
    generator : torch.Generator, default=None
        Source of all random draws.

    Returns
    -------
    Tensor of shape (B, C, H, W)
        The crops, resized to ``(H, W)``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import random_resized_crop
    >>> x = torch.rand(4, 3, 32, 32)
    >>> random_resized_crop(x, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3, 32, 32])
    >>> whole = random_resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    >>> torch.allclose(whole, x, atol=1e-5)  # the box is the whole image
    True
    """
    b = x.shape[0]
    device = x.device
    area = _uniform(b, scale[0], scale[1], generator, device)  # (B,)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator, device)
    r = log_r.exp()  # (B,)
    w = (area * r).sqrt().clamp(max=1.0)  # (B,) width fraction
    h = (area / r).sqrt().clamp(max=1.0)  # (B,) height fraction
    # box centre in normalised coordinates [-1, 1], keeping the box inside
    cx = (1 - w) * (2 * torch.rand(b, generator=generator, device=device) - 1)
    cy = (1 - h) * (2 * torch.rand(b, generator=generator, device=device) - 1)
    theta = torch.zeros(b, 2, 3, device=device, dtype=torch.float32)
    theta[:, 0, 0] = w
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # grid: (B, H, W, 2), sampling positions inside the box
    return F.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )  # (B, C, H, W)


class _ImageAugmentation(Augmentation):
    """Shared handling of layouts and dtypes; subclasses implement ``_apply``.

    ``_apply`` receives a floating ``(B, C, H, W)`` batch and the batch's
    minimum and maximum (0-dim tensors) and returns the augmented batch.
    """

    modality = "image"

    def _apply(
        self, x: Tensor, lo: Tensor, hi: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        raise NotImplementedError  # pragma: no cover - abstract

    def augment(
        self, batch: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return an augmented view of ``batch`` (same shape, dtype and range)."""
        if not isinstance(batch, Tensor) or batch.ndim not in (3, 4):
            shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch)
            raise ValueError(
                f"{type(self).__name__} expects a tensor of images of shape "
                f"(B, C, H, W) or (B, H, W), got {shape}."
            )
        x = batch if batch.ndim == 4 else batch.unsqueeze(1)  # (B, C, H, W)
        if x.shape[0] == 0:
            return batch
        floating = x.is_floating_point()
        if not floating:
            x = x.float()
        lo, hi = x.amin(), x.amax()  # range to keep
        out = self._apply(x, lo, hi, generator)
        if not floating:
            out = out.round().clamp(lo, hi).to(batch.dtype)
        return out if batch.ndim == 4 else out.squeeze(1)


class RandomResizedCrop(_ImageAugmentation):
    """Crop a random part of each image and resize it to the full size.

    The main source of difference between views in contrastive learning on
    images. Crops that keep too little of the image (small ``scale``) make
    views that share no content: a natural source of noisy views.
    See :func:`random_resized_crop`.

    Parameters
    ----------
    scale : (float, float), default=(0.35, 1.0)
        Range of the crop's area as a fraction of the image's, in ``(0, 1]``.
        The default suits small images (8x8 to 64x64); SimCLR uses
        ``(0.08, 1.0)`` on 224x224 images.
    ratio : (float, float), default=(3/4, 4/3)
        Range of the crop's aspect ratio, in ``[1/100, 100]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import RandomResizedCrop
    >>> x = torch.rand(5, 3, 16, 16)
    >>> view = RandomResizedCrop(scale=(0.3, 1.0))(x, torch.Generator().manual_seed(0))
    >>> view.shape, bool(view.min() >= x.min()), bool(view.max() <= x.max())
    (torch.Size([5, 3, 16, 16]), True, True)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "scale": [NumberPair(Number(Real, 0, 1, open_low=True))],
        "ratio": [NumberPair(Number(Real, 1 / MAX_RATIO, MAX_RATIO))],
    }

    def __init__(
        self,
        scale: Sequence[float] = (0.35, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
    ) -> None:
        self.scale = scale
        self.ratio = ratio

    def _apply(self, x, lo, hi, generator):
        return random_resized_crop(x, tuple(self.scale), tuple(self.ratio), generator)


class HorizontalFlip(_ImageAugmentation):
    """Mirror each image left-right with probability ``p``.

    Parameters
    ----------
    p : float, default=0.5
        Probability that an image is flipped, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import HorizontalFlip
    >>> x = torch.arange(4.0).reshape(1, 1, 2, 2)
    >>> HorizontalFlip(p=1.0)(x)[0, 0].tolist()
    [[1.0, 0.0], [3.0, 2.0]]
    """

    _parameter_constraints: dict[str, list[Any]] = {"p": _PROBABILITY}

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def _apply(self, x, lo, hi, generator):
        flip = _bernoulli(x.shape[0], self.p, generator, x.device)  # (B,)
        return torch.where(flip[:, None, None, None], x.flip(-1), x)


class ColorJitter(_ImageAugmentation):
    """Random brightness and contrast per image.

    With factors ``b ~ U(1 - brightness, 1 + brightness)`` and
    ``c ~ U(1 - contrast, 1 + contrast)`` drawn per image, and ``lo``, ``hi``
    the batch's minimum and maximum, each image becomes
    ``x' = lo + b * (x - lo)`` (brightness: scaling towards black, as
    torchvision does for images in ``[0, 1]``), then
    ``x'' = m + c * (x' - m)`` with ``m`` the image's mean (contrast), clipped
    to ``[lo, hi]``.

    Parameters
    ----------
    brightness : float, default=0.4
        Spread of the brightness factor, in ``[0, 1]``.
    contrast : float, default=0.4
        Spread of the contrast factor, in ``[0, 1]``.
    p : float, default=0.8
        Probability that an image is jittered at all, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import ColorJitter
    >>> x = torch.rand(8, 1, 6, 6)
    >>> view = ColorJitter()(x, torch.Generator().manual_seed(0))
    >>> view.shape, view.dtype, bool(view.min() >= x.min())
    (torch.Size([8, 1, 6, 6]), torch.float32, True)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "brightness": [Number(Real, 0, 1)],
        "contrast": [Number(Real, 0, 1)],
        "p": _PROBABILITY,
    }

    def __init__(
        self, brightness: float = 0.4, contrast: float = 0.4, p: float = 0.8
    ) -> None:
        self.brightness = brightness
        self.contrast = contrast
        self.p = p

    def _apply(self, x, lo, hi, generator):
        b = x.shape[0]
        apply = _bernoulli(b, self.p, generator, x.device)  # (B,)
        fb = _uniform(b, 1 - self.brightness, 1 + self.brightness, generator, x.device)
        fc = _uniform(b, 1 - self.contrast, 1 + self.contrast, generator, x.device)
        one = torch.ones_like(fb)
        fb = torch.where(apply, fb, one).to(x.dtype)[:, None, None, None]
        fc = torch.where(apply, fc, one).to(x.dtype)[:, None, None, None]
        out = lo + fb * (x - lo)  # (B, C, H, W) brightness
        mean = out.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
        out = mean + fc * (out - mean)  # contrast
        return out.clamp(lo, hi)


def _gaussian_kernels(sigma: Tensor, size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels, one row per sigma: ``(B, size)``."""
    half = (size - 1) / 2
    t = torch.arange(size, device=sigma.device, dtype=sigma.dtype) - half  # (size,)
    k = torch.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)  # (B, size)
    return k / k.sum(dim=1, keepdim=True)


class GaussianBlur(_ImageAugmentation):
    """Blur each image with a Gaussian of random width, with probability ``p``.

    ``sigma ~ U(sigma)`` in pixels is drawn per image; the separable kernel of
    ``kernel_size`` taps is applied with reflection at the borders by two
    grouped convolutions over the whole batch. A blurred pixel is a weighted
    mean of its neighbours, so the range is kept.

    Parameters
    ----------
    kernel_size : int, default=3
        Odd number of taps, 1 to 63; 3 suits images up to about 32x32.
    sigma : (float, float), default=(0.1, 1.0)
        Range of the Gaussian's standard deviation, in pixels, within
        ``(0, 100]``.
    p : float, default=0.5
        Probability that an image is blurred, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import GaussianBlur
    >>> x = torch.zeros(1, 1, 5, 5)
    >>> x[0, 0, 2, 2] = 1.0
    >>> view = GaussianBlur(sigma=(1.0, 1.0), p=1.0)(x)
    >>> round(float(view.sum()), 4), bool(view[0, 0, 2, 2] < 1)
    (1.0, True)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "kernel_size": [Number(Integral, 1, MAX_KERNEL_SIZE, odd=True)],
        "sigma": [NumberPair(Number(Real, 0, MAX_SIGMA, open_low=True))],
        "p": _PROBABILITY,
    }

    def __init__(
        self,
        kernel_size: int = 3,
        sigma: Sequence[float] = (0.1, 1.0),
        p: float = 0.5,
    ) -> None:
        self.kernel_size = kernel_size
        self.sigma = sigma
        self.p = p

    def _apply(self, x, lo, hi, generator):
        k = int(self.kernel_size)
        b, c, h, w = x.shape
        apply = _bernoulli(b, self.p, generator, x.device)  # (B,)
        sigma = _uniform(b, self.sigma[0], self.sigma[1], generator, x.device)
        sigma = sigma.clamp(min=1e-3).to(x.dtype)
        kernel = _gaussian_kernels(sigma, k)  # (B, k)
        identity = torch.zeros_like(kernel)
        identity[:, k // 2] = 1.0
        kernel = torch.where(apply[:, None], kernel, identity)  # (B, k)
        kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, k)
        pad = k // 2
        mode = "reflect" if min(h, w) > pad else "replicate"
        y = x.reshape(1, b * c, h, w)  # one group per (image, channel)
        y = F.pad(y, (pad, pad, 0, 0), mode=mode)
        y = F.conv2d(y, kernel[:, None, None, :], groups=b * c)  # along W
        y = F.pad(y, (0, 0, pad, pad), mode=mode)
        y = F.conv2d(y, kernel[:, None, :, None], groups=b * c)  # along H
        return y.reshape(b, c, h, w)


class ImageNoise(_ImageAugmentation):
    """Add Gaussian pixel noise, relative to the batch's range, then clip.

    Parameters
    ----------
    std : float, default=0.05
        Noise standard deviation as a fraction of ``max - min`` of the batch,
        in ``[0, 1]`` (the result is clipped to the range, so more only
        saturates).
    p : float, default=0.5
        Probability that an image gets noise, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import ImageNoise
    >>> x = torch.rand(4, 1, 8, 8)
    >>> view = ImageNoise(std=0.1, p=1.0)(x, torch.Generator().manual_seed(0))
    >>> bool((view != x).any()), bool(view.max() <= x.max())
    (True, True)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "std": [Number(Real, 0, 1)],
        "p": _PROBABILITY,
    }

    def __init__(self, std: float = 0.05, p: float = 0.5) -> None:
        self.std = std
        self.p = p

    def _apply(self, x, lo, hi, generator):
        apply = _bernoulli(x.shape[0], self.p, generator, x.device)  # (B,)
        noise = torch.randn(
            x.shape, generator=generator, device=x.device, dtype=x.dtype
        )  # (B, C, H, W)
        scale = (hi - lo) * self.std * apply.to(x.dtype)[:, None, None, None]
        return (x + scale * noise).clamp(lo, hi)


def default_image_augmentation(
    crop_scale: Sequence[float] = (0.35, 1.0),
    flip: bool = True,
    *,
    brightness: float = 0.4,
    contrast: float = 0.4,
    jitter_p: float = 0.8,
    blur_p: float = 0.5,
    noise_std: float = 0.0,
) -> Compose:
    """Return image views after SimCLR's recipe, sized for small images.

    ``RandomResizedCrop(crop_scale)``, then ``HorizontalFlip(0.5)`` (if
    ``flip``), ``ColorJitter(brightness, contrast, p=jitter_p)``,
    ``GaussianBlur(3, p=blur_p)`` (if ``blur_p > 0``) and
    ``ImageNoise(noise_std, p=1)`` (if ``noise_std > 0``). The image
    modality's default (``augmentation="auto"``) calls it with the strengths
    of its ``DEFAULTS``, chosen by the search in
    ``benchmarks/results/quality_search_image.md``.

    Parameters
    ----------
    crop_scale : (float, float), default=(0.35, 1.0)
        The crop's area range; see :class:`RandomResizedCrop`.
    flip : bool, default=True
        Include horizontal flips (switch off for digits or text, whose mirror
        images are other symbols).
    brightness, contrast : float, default=0.4
        Spreads of :class:`ColorJitter`'s factors (0 switches one off).
    jitter_p : float, default=0.8
        Probability that an image is jittered.
    blur_p : float, default=0.5
        Probability that an image is blurred (0: no blur step).
    noise_std : float, default=0.0
        Pixel noise relative to the batch's range (0: no noise step).

    Returns
    -------
    Compose

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import default_image_augmentation
    >>> views = default_image_augmentation()
    >>> views(torch.rand(4, 3, 32, 32), generator=torch.Generator()).shape
    torch.Size([4, 3, 32, 32])
    >>> [type(step).__name__ for step in default_image_augmentation(
    ...     (0.6, 1.0), contrast=0.0, jitter_p=1.0, blur_p=0.0, noise_std=0.05
    ... ).augmentations]
    ['RandomResizedCrop', 'HorizontalFlip', 'ColorJitter', 'ImageNoise']
    """
    steps: list[Augmentation] = [RandomResizedCrop(scale=tuple(crop_scale))]
    if flip:
        steps.append(HorizontalFlip(0.5))
    if jitter_p > 0 and (brightness > 0 or contrast > 0):
        steps.append(ColorJitter(brightness, contrast, p=jitter_p))
    if blur_p > 0:
        steps.append(GaussianBlur(3, (0.1, 1.0), p=blur_p))
    if noise_std > 0:
        steps.append(ImageNoise(noise_std, p=1.0))
    return Compose(steps)
