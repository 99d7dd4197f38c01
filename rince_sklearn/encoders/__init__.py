"""Default encoders per modality, and the projection head."""

from .head import ContrastiveModule, ProjectionHead
from .tabular import MLPEncoder

__all__ = ["ContrastiveModule", "MLPEncoder", "ProjectionHead"]
