"""Default encoder for tabular rows: an MLP with input standardisation."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["MLPEncoder"]


class MLPEncoder(nn.Module):
    """Multi-layer perceptron from ``in_features`` to ``embedding_dim``.

    The input is standardised by a batch normalisation layer without learned
    scale (running statistics at inference), so columns on different scales
    need no prior scaling. Hidden layers are ``Linear -> BatchNorm -> ReLU``,
    followed by a linear output layer, or by none when ``embedding_dim`` is
    None: then the last hidden layer is the embedding (what the estimator's
    ``embedding_dim="auto"`` builds; see its user-guide section).

    Parameters
    ----------
    in_features : int
        Number of input columns.
    embedding_dim : int or None, default=64
        Output width; None: no output layer, the output is the last hidden
        layer's (``hidden_dims[-1]`` wide).
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
    >>> MLPEncoder(in_features=5, embedding_dim=None).embedding_dim
    256
    """

    def __init__(
        self,
        in_features: int,
        embedding_dim: int | None = 64,
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
        if embedding_dim is not None:
            layers.append(nn.Linear(width, embedding_dim))
            width = embedding_dim
        self.net = nn.Sequential(*layers)
        #: output width (``hidden_dims[-1]`` when ``embedding_dim`` is None)
        self.embedding_dim = width

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` of shape ``(B, in_features)`` to ``(B, embedding_dim)``."""
        return self.net(x)
