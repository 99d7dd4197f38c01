"""rince_sklearn: robust contrastive representation learning for scikit-learn.

The centre is :class:`RobustContrastiveEmbedder`, a scikit-learn transformer
that trains an encoder with the RINCE loss (Chuang et al., CVPR 2022) through
skorch, for tabular, image and graph inputs.
"""

from ._net import TrainingDivergedError
from ._version import __version__
from .estimator import RobustContrastiveEmbedder
from .losses import InfoNCELoss, RINCELoss, info_nce, rince

__all__ = [
    "InfoNCELoss",
    "RINCELoss",
    "RobustContrastiveEmbedder",
    "TrainingDivergedError",
    "__version__",
    "info_nce",
    "rince",
]
