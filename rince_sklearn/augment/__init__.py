"""Batched, seedable augmentations: one contract for every modality.

See :class:`Augmentation` for the contract.
"""

from ._base import (
    Augmentation,
    Compose,
    Identity,
    RandomChoice,
    call_augmentation,
    call_augmentation_shard,
)
from .graph import (
    AttributeMasking,
    EdgePerturbation,
    NodeDropping,
    RandomWalkSubgraph,
    default_graph_augmentation,
)
from .image import (
    ColorJitter,
    GaussianBlur,
    HorizontalFlip,
    ImageNoise,
    RandomResizedCrop,
    default_image_augmentation,
    random_resized_crop,
)
from .tabular import GaussianNoise, MarginalCorruption, marginal_corruption

__all__ = [
    "AttributeMasking",
    "EdgePerturbation",
    "NodeDropping",
    "RandomWalkSubgraph",
    "default_graph_augmentation",
    "Augmentation",
    "ColorJitter",
    "Compose",
    "GaussianBlur",
    "GaussianNoise",
    "HorizontalFlip",
    "Identity",
    "ImageNoise",
    "MarginalCorruption",
    "RandomChoice",
    "RandomResizedCrop",
    "call_augmentation",
    "call_augmentation_shard",
    "default_image_augmentation",
    "marginal_corruption",
    "random_resized_crop",
]
