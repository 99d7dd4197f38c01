"""Batched, seedable augmentations: one contract for every modality.

See :class:`Augmentation` for the contract.
"""

from ._base import (
    Augmentation,
    Compose,
    Identity,
    MemberAugmentations,
    RandomChoice,
    augmentation_state,
    call_augmentation,
    call_augmentation_shard,
    check_augmentation,
    fit_augmentation,
    set_augmentation_state,
)
from .graph import (
    AttributeMasking,
    EdgePerturbation,
    GraphRandomChoice,
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
    "GraphRandomChoice",
    "NodeDropping",
    "RandomWalkSubgraph",
    "default_graph_augmentation",
    "Augmentation",
    "augmentation_state",
    "fit_augmentation",
    "set_augmentation_state",
    "ColorJitter",
    "Compose",
    "GaussianBlur",
    "GaussianNoise",
    "HorizontalFlip",
    "Identity",
    "ImageNoise",
    "MarginalCorruption",
    "MemberAugmentations",
    "RandomChoice",
    "RandomResizedCrop",
    "call_augmentation",
    "call_augmentation_shard",
    "check_augmentation",
    "default_image_augmentation",
    "marginal_corruption",
    "random_resized_crop",
]
