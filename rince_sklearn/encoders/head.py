"""The projection head, and the module that chains encoder and head."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["ContrastiveModule", "ProjectionHead"]


class ProjectionHead(nn.Module):
    """SimCLR's projection head: ``Linear -> BatchNorm -> ReLU -> Linear``.

    The loss is computed on its output; ``transform`` stops before it.

    Parameters
    ----------
    in_features : int
        Width of the embedding.
    out_features : int
        Width of the projection.
    hidden_features : int, default=None
        Hidden width; ``in_features`` when None.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.encoders import ProjectionHead
    >>> ProjectionHead(8, 4)(torch.randn(3, 8)).shape
    torch.Size([3, 4])
    """

    def __init__(
        self, in_features: int, out_features: int, hidden_features: int | None = None
    ) -> None:
        super().__init__()
        hidden = in_features if hidden_features is None else hidden_features
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_features),
        )

    def forward(self, h: Tensor) -> Tensor:
        """Map ``(B, in_features)`` embeddings to ``(B, out_features)``."""
        return self.net(h)


class ContrastiveModule(nn.Module):
    """An encoder followed by a projection head, built from classes and kwargs.

    skorch builds it from ``module__*`` parameters, so every fit (and every
    clone) starts untrained.

    Parameters
    ----------
    encoder : type of nn.Module
        Built as ``encoder(**encoder_kwargs)``; maps a batch to
        ``(B, embedding_dim)``.
    encoder_kwargs : dict
        Its keyword arguments.
    embedding_dim : int
        The encoder's output width.
    projection_dim : int
        The head's output width.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.encoders import ContrastiveModule, MLPEncoder
    >>> module = ContrastiveModule(MLPEncoder, {"in_features": 5, "embedding_dim": 8},
    ...                            embedding_dim=8, projection_dim=4)
    >>> x = torch.randn(3, 5)
    >>> module(x).shape, module.encoder(x).shape
    (torch.Size([3, 4]), torch.Size([3, 8]))
    """

    def __init__(
        self,
        encoder: type[nn.Module],
        encoder_kwargs: dict[str, Any],
        embedding_dim: int,
        projection_dim: int,
    ) -> None:
        super().__init__()
        self.encoder = encoder(**encoder_kwargs)
        self.head = ProjectionHead(embedding_dim, projection_dim)
        self.embedding_dim = embedding_dim

    def forward(self, x: Any) -> Tensor:
        """Return the projection ``(B, projection_dim)`` of a batch."""
        h = self.encoder(x)  # (B, embedding_dim)
        if h.ndim != 2 or h.shape[1] != self.embedding_dim:
            raise ValueError(
                f"The encoder must return a tensor of shape (batch, "
                f"{self.embedding_dim}) (embedding_dim), got {tuple(h.shape)}."
            )
        return self.head(h)  # (B, projection_dim)
