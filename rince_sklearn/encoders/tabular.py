"""Default encoder for tabular rows: an MLP with input standardisation."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["MLPEncoder"]


class MLPEncoder(nn.Module):
    """Multi-layer perceptron from ``in_features`` to ``embedding_dim``.

    The input is standardised by a batch normalisation layer without learned
    scale (running statistics at inference), so columns on different scales
    need no prior scaling. Hidden layers are ``Linear -> BatchNorm -> ReLU``.

    Parameters
    ----------
    in_features : int
        Number of input columns.
    embedding_dim : int, default=64
        Output width.
    hidden_dims : sequence of int, default=(256, 256)
        Widths of the hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.encoders import MLPEncoder
    >>> MLPEncoder(in_features=5, embedding_dim=8)(torch.randn(4, 5)).shape
    torch.Size([4, 8])
    """

    def __init__(
        self,
        in_features: int,
        embedding_dim: int = 64,
        hidden_dims: Sequence[int] = (256, 256),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(in_features, affine=False)]
        width = in_features
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, embedding_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` of shape ``(B, in_features)`` to ``(B, embedding_dim)``."""
        return self.net(x)
