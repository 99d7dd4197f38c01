"""Encoders for images that adapt to the input size: a plain CNN and a small ResNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ConvEncoder", "ResNetEncoder"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1) shortcut.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    stride : int, default=1
        Stride of the first convolution (2 halves the resolution).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, in, H, W)`` to ``(B, out, H / stride, W / stride)``."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _output_layer(
    width: int, embedding_dim: int | None, identity_if_equal: bool = True
) -> nn.Module:
    """Return the linear map of pooled features to ``embedding_dim`` (or none)."""
    if embedding_dim is None or (identity_if_equal and embedding_dim == width):
        return nn.Identity()
    return nn.Linear(width, embedding_dim)


def _n_halvings(side: int, target: int) -> int:
    """Count the halvings (rounding up) that bring ``side`` to at most ``target``."""
    n = 0
    while side > target:
        side = (side + 1) // 2
        n += 1
    return n


def _short_side(image_size: int | Sequence[int] | None) -> int:
    """Return the short side of ``image_size`` (32 when it is None)."""
    if image_size is None:
        return 32
    if isinstance(image_size, int):
        return image_size
    return min(int(s) for s in image_size)


class ResNetEncoder(nn.Module):
    """A small ResNet from images ``(B, C, H, W)`` to ``(B, embedding_dim)``.

    The input is standardised per channel by a batch normalisation layer
    without learned scale (running statistics at inference), so images in
    ``[0, 1]``, ``[0, 255]`` or already standardised all work. A 3x3 stem
    convolution is followed by stages of residual blocks; every stage after the
    first halves the resolution and doubles the width. The architecture follows
    the input size when ``image_size`` is given:

    - images larger than 32 pixels on their short side are first reduced to at
      most 32 by a stride-2 stem and max pooling (64x64 -> 32x32);
    - then stages are added until the resolution is at most 8 (at least two
      stages): 8x8 -> 8, 4; 28x28 -> 28, 14, 7; 32x32 -> 32, 16, 8.

    Global average pooling and a linear layer give the embedding, so any input
    size works once built.

    Parameters
    ----------
    in_channels : int
        Channels of the input images (1 for grey, 3 for RGB).
    embedding_dim : int or None, default=64
        Output width; None: the pooled features of the last stage, with no
        output layer.
    image_size : int or (int, int), default=None
        ``(H, W)`` of the input, used to choose the downsampling; None builds
        the stages for 32x32 images.
    base_width : int, default=16
        Channels of the first stage.
    n_stages : int, default=None
        Number of stages; None chooses it from ``image_size`` as above.
    blocks_per_stage : int, default=1
        Residual blocks per stage.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.encoders import ResNetEncoder
    >>> enc = ResNetEncoder(in_channels=1, embedding_dim=16, image_size=(28, 28))
    >>> enc(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 16])
    >>> enc.stage_sizes
    [28, 14, 7]
    """

    def __init__(
        self,
        in_channels: int,
        embedding_dim: int | None = 64,
        image_size: int | Sequence[int] | None = None,
        base_width: int = 16,
        n_stages: int | None = None,
        blocks_per_stage: int = 1,
    ) -> None:
        super().__init__()
        side = _short_side(image_size)
        reductions = _n_halvings(side, 32)  # stem stride and pools
        side = -(-side // 2**reductions)
        if n_stages is None:
            n_stages = max(2, 1 + _n_halvings(side, 8))
        stem: list[nn.Module] = [
            nn.BatchNorm2d(in_channels, affine=False),
            nn.Conv2d(
                in_channels, base_width, 3, 2 if reductions else 1, 1, bias=False
            ),
            nn.BatchNorm2d(base_width),
            nn.ReLU(inplace=True),
        ]
        if reductions > 1:
            stem.append(nn.MaxPool2d(2 ** (reductions - 1), ceil_mode=True))
        self.stem = nn.Sequential(*stem)
        blocks: list[nn.Module] = []
        width = base_width
        sizes = []
        for stage in range(n_stages):
            out = base_width * 2**stage
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(width, out, stride))
                width = out
            sizes.append(side)
            side = (side + 1) // 2
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = _output_layer(width, embedding_dim, identity_if_equal=False)
        #: output width (the last stage's when ``embedding_dim`` is None)
        self.embedding_dim = width if embedding_dim is None else embedding_dim
        #: resolution of each stage's output (short side) for ``image_size``
        self.stage_sizes = sizes

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, in_channels, H, W)`` images to ``(B, embedding_dim)``."""
        h = self.stages(self.stem(x))  # (B, width, h, w)
        h = self.pool(h).flatten(1)  # (B, width)
        return self.fc(h)  # (B, embedding_dim)


class ConvEncoder(nn.Module):
    """A plain CNN from images ``(B, C, H, W)`` to ``(B, embedding_dim)``.

    The input is standardised per channel by a batch normalisation layer
    without learned scale (as in :class:`ResNetEncoder`). Then come stages of
    ``Conv3x3 -> BatchNorm -> ReLU`` (``convs_per_stage`` of them), each stage
    but the last followed by 2x2 max pooling; the width doubles at every stage
    (up to ``max_width``). Stages are added until the resolution is at most 8
    (at least two): 28x28 -> 28, 14, 7 (widths 32, 64, 128); 32x32 -> 32, 16,
    8; 64x64 -> 64, 32, 16, 8 (widths up to 256). Global average pooling
    gives the embedding, through a linear layer when the last width is not
    ``embedding_dim``.

    It costs about a quarter of :class:`ResNetEncoder`'s default per image at
    28x28, and learned better within a CPU budget in the search of the image
    defaults (``benchmarks/results/quality_search_image.md``), which made it
    the image modality's default encoder.

    Parameters
    ----------
    in_channels : int
        Channels of the input images (1 for grey, 3 for RGB).
    embedding_dim : int or None, default=64
        Output width; None: the pooled features (see ``pooled_stages``), with
        no output layer (what the estimator's ``embedding_dim="auto"`` builds).
    image_size : int or (int, int), default=None
        ``(H, W)`` of the input, used to choose the number of stages; None
        builds the stages for 32x32 images.
    base_width : int, default=32
        Channels of the first stage.
    n_stages : int, default=None
        Number of stages; None chooses it from ``image_size`` as above.
    convs_per_stage : int, default=1
        Convolutions per stage.
    max_width : int, default=512
        Largest number of channels.
    pooled_stages : int or None, default=1
        How many of the last stages are pooled into the embedding: their
        globally averaged outputs are concatenated (1: the last stage only;
        None: every stage, 32 + 64 + 128 = 224 features at 28x28), so that a
        linear probe also reads the finer scales. The image modality's
        default is None: on Fashion-MNIST it lifted the linear probe from
        0.844 to 0.859 after 10 epochs
        (``benchmarks/results/quality_probes.md``).
    channels_last : bool, default=True
        Keep the convolutions' weights and activations channels-last
        (``torch.channels_last``), which oneDNN on CPUs and cuDNN with mixed
        precision run faster (about 25% less time per training step on a CPU
        at 28x28, ``benchmarks/results/images_throughput.md``); the results
        are those of the default layout up to rounding.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.encoders import ConvEncoder
    >>> enc = ConvEncoder(in_channels=1, embedding_dim=16, image_size=(28, 28))
    >>> enc(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 16])
    >>> enc.stage_sizes, enc.stage_widths
    ([28, 14, 7], [32, 64, 128])
    >>> ConvEncoder(in_channels=1, embedding_dim=None, image_size=28).embedding_dim
    128
    """

    def __init__(
        self,
        in_channels: int,
        embedding_dim: int | None = 64,
        image_size: int | Sequence[int] | None = None,
        base_width: int = 32,
        n_stages: int | None = None,
        convs_per_stage: int = 1,
        max_width: int = 512,
        pooled_stages: int | None = 1,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        side = _short_side(image_size)
        if n_stages is None:
            n_stages = max(2, 1 + _n_halvings(side, 8))
        if pooled_stages is None:
            pooled_stages = n_stages
        if not 1 <= pooled_stages <= n_stages:
            raise ValueError(
                f"pooled_stages must be None (all) or between 1 and "
                f"n_stages={n_stages}, got {pooled_stages}."
            )
        layers: list[nn.Module] = [nn.BatchNorm2d(in_channels, affine=False)]
        #: index in ``features`` after which each stage's output is ready
        self.stage_ends: list[int] = []
        width = in_channels
        self.stage_sizes: list[int] = []
        self.stage_widths: list[int] = []
        for stage in range(n_stages):
            out = min(max_width, base_width * 2**stage)
            for _ in range(convs_per_stage):
                layers += [
                    nn.Conv2d(width, out, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(out),
                    nn.ReLU(inplace=True),
                ]
                width = out
            self.stage_sizes.append(side)
            self.stage_widths.append(out)
            self.stage_ends.append(len(layers) - 1)
            if stage < n_stages - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
                side = (side + 1) // 2
        self.features = nn.Sequential(*layers)
        self.channels_last = channels_last
        if channels_last:  # the convolutions' weights in the layout of the input
            self.features.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pooled_stages = pooled_stages
        # the layers after which a pooled stage's output is read (forward)
        self._pooled_ends = frozenset(self.stage_ends[n_stages - pooled_stages :])
        width = sum(self.stage_widths[n_stages - pooled_stages :])
        # the pooled features are the embedding when the widths agree
        self.fc: nn.Module = _output_layer(width, embedding_dim)
        #: output width (the pooled width when ``embedding_dim`` is None)
        self.embedding_dim = width if embedding_dim is None else embedding_dim

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, in_channels, H, W)`` images to ``(B, embedding_dim)``."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.pooled_stages == 1:
            h = self.pool(self.features(x)).flatten(1)  # (B, width)
            return self.fc(h)  # (B, embedding_dim)
        pooled = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._pooled_ends:
                pooled.append(self.pool(x).flatten(1))  # (B, stage width)
        return self.fc(torch.cat(pooled, dim=1))  # (B, embedding_dim)
