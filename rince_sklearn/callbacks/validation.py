"""A held-out signal during training: the label-free score on a validation split.

skorch prints a ``valid_loss`` when it holds out data; a contrastive loss on
held-out rows says little (it depends on ``q``, ``lam`` and the batch), so
:class:`ValidationScore` records the estimator's own label-free score, the one
``score`` returns, on the held-out samples every few epochs. It is what
``validation_fraction`` adds to a fit: a ``valid_score`` column in
``history_``, printed by ``verbose=1``, that tells whether training still
improves the embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skorch.callbacks import Callback

__all__ = ["ValidationScore"]


class ValidationScore(Callback):
    """Record a label-free score of held-out samples in the history.

    Parameters
    ----------
    source : BatchSource
        The held-out samples. Let go of at the end of training, so that a
        fitted model keeps no training data.
    scorer : callable
        ``scorer(net, source) -> float``, higher is better.
    every : int, default=1
        Score after every ``every``-th epoch, and after the last one.

    Examples
    --------
    >>> from rince_sklearn.callbacks import ValidationScore
    >>> ValidationScore(source=None, scorer=lambda net, source: 0.5).every
    1
    """

    def __init__(
        self, source: Any, scorer: Callable[[Any, Any], float], every: int = 1
    ) -> None:
        self.source = source
        self.scorer = scorer
        self.every = every

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Score the held-out samples and record ``valid_score``."""
        if self.source is None:
            return
        epoch = len(net.history)
        if epoch % self.every and epoch < net.max_epochs:
            return
        net.history.record("valid_score", float(self.scorer(net, self.source)))

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Let go of the held-out samples (a fitted model keeps no data)."""
        self.source = None
