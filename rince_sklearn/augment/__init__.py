"""Batched, seedable augmentations: one contract for every modality.

See :class:`Augmentation` for the contract.
"""

from ._base import Augmentation, Compose, Identity, RandomChoice, call_augmentation
from .graph import (
    AttributeMasking,
    EdgePerturbation,
    NodeDropping,
    RandomWalkSubgraph,
    default_graph_augmentation,
)
from .tabular import GaussianNoise, MarginalCorruption, marginal_corruption

__all__ = [
    "AttributeMasking",
    "EdgePerturbation",
    "NodeDropping",
    "RandomWalkSubgraph",
    "default_graph_augmentation",
    "Augmentation",
    "Compose",
    "GaussianNoise",
    "Identity",
    "MarginalCorruption",
    "RandomChoice",
    "call_augmentation",
    "marginal_corruption",
]
