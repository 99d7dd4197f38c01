"""Default encoders per modality, and the projection head."""

from .graph import GINEncoder
from .head import ContrastiveModule, ProjectionHead
from .image import ConvEncoder, ResNetEncoder
from .tabular import MLPEncoder

__all__ = [
    "ContrastiveModule",
    "ConvEncoder",
    "GINEncoder",
    "MLPEncoder",
    "ProjectionHead",
    "ResNetEncoder",
]
