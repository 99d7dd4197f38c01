"""Default encoders per modality, and the projection head."""

from .graph import GINEncoder
from .head import ContrastiveModule, ProjectionHead
from .tabular import MLPEncoder

__all__ = ["ContrastiveModule", "GINEncoder", "MLPEncoder", "ProjectionHead"]
