"""RINCE's ``q`` warmed up: training starts close to InfoNCE and moves to ``q``.

RINCE with ``q = 1`` weighs every positive pair by ``exp(s+)``: at the start of
training, when all scores are alike, its gradients are those of a linear loss
and carry little of InfoNCE's emphasis on the pairs that are still far apart,
so it learns slowly. A small ``q`` is close to InfoNCE. This callback starts the
loss at ``q_start`` and raises ``q`` linearly to the loss's own ``q`` over the
first ``warmup`` of the fit's optimiser steps; the robust loss then trains the
rest of the fit.
"""

from __future__ import annotations

from typing import Any

from skorch.callbacks import Callback

from .schedule import steps_per_epoch

__all__ = ["QWarmup"]


class QWarmup(Callback):
    """Raise RINCE's ``q`` linearly from ``q_start`` to its value over the warmup.

    Pass it in the estimator's ``callbacks``; the loss must have a ``q``
    attribute (``loss="rince"``). The target is the loss's ``q`` when training
    starts, so ``GridSearchCV`` over ``q`` works as usual. Steps are counted
    across training calls (``partial_fit`` continues the warmup), and the
    loss's ``q`` is its target again whenever training stops, so that
    ``score`` and a later ``fit`` see the estimator's ``q``.

    Parameters
    ----------
    q_start : float, default=0.1
        ``q`` at the first step, in ``(0, 1]``.
    warmup : float, default=0.2
        Length of the warmup as a fraction of the fit's optimiser steps
        (``max_epochs`` times the batches of one epoch); at least one step.
    max_epochs : int or None, default=None
        Epochs of the fit; None reads the net's ``max_epochs`` (what the
        estimator resolved). ``partial_fit`` has no known length: there (after
        :meth:`hold`, which it calls) the warmup spans ``warmup`` of the first
        call's batches.

    Notes
    -----
    The loss's scale changes with ``q``, so during the warmup the recorded
    ``train_loss`` of successive epochs is not comparable, and an early stop
    on it (``n_iter_no_change``) should wait until the warmup has ended.

    Attributes
    ----------
    step_ : int
        Optimiser steps so far.
    warmup_steps_ : int
        Length of the warmup, in steps (set by the first training call).
    target_q_ : float
        The loss's ``q``, reached at the end of the warmup.
    held_ : bool
        Whether :meth:`hold` made the warmup span the first call's batches.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from rince_sklearn import RobustContrastiveEmbedder
    >>> from rince_sklearn.callbacks import QWarmup
    >>> X, _ = load_wine(return_X_y=True)
    >>> emb = RobustContrastiveEmbedder(q=1.0, max_epochs=4, batch_size=64,
    ...     callbacks=[QWarmup(q_start=0.2, warmup=0.5)], random_state=0).fit(X)
    >>> [round(q, 2) for q in emb.history_[:, "q"]]  # q at each epoch's end
    [0.6, 1.0, 1.0, 1.0]
    """

    def __init__(
        self, q_start: float = 0.1, warmup: float = 0.2, max_epochs: int | None = None
    ) -> None:
        self.q_start = q_start
        self.warmup = warmup
        self.max_epochs = max_epochs

    def initialize(self) -> QWarmup:
        """Check the settings and reset the step count (when the net is built)."""
        if not 0 < self.q_start <= 1:
            raise ValueError(f"q_start must be in (0, 1], got {self.q_start!r}.")
        if not 0 < self.warmup <= 1:
            raise ValueError(f"warmup must be in (0, 1], got {self.warmup!r}.")
        self.step_ = 0
        self.warmup_steps_: int | None = None
        self.target_q_: float | None = None
        self.held_ = False
        return self

    def hold(self) -> None:
        """Warm up over the first training call's batches (no known total)."""
        self.held_ = True

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Read the target ``q`` and fix the warmup's length (first call only)."""
        criterion = net.criterion_
        if not hasattr(criterion, "q"):
            raise TypeError(
                f"QWarmup changes the loss's q, but {type(criterion).__name__} has "
                "no q: use it with loss='rince'."
            )
        self.target_q_ = float(criterion.q)
        if self.warmup_steps_ is not None:
            return  # a later call continues the warmup
        per_epoch = steps_per_epoch(net, X)
        if self.held_:  # partial_fit: a fraction of this call's batches
            epochs = 1
        elif self.max_epochs is not None:
            epochs = self.max_epochs
        else:
            epochs = net.max_epochs
        self.warmup_steps_ = max(1, int(round(self.warmup * int(epochs) * per_epoch)))

    def on_batch_begin(
        self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        """Set ``q`` for the coming optimiser step."""
        if not training or self.warmup_steps_ is None or self.target_q_ is None:
            return
        progress = min(1.0, (self.step_ + 1) / self.warmup_steps_)
        net.criterion_.q = self.q_start + (self.target_q_ - self.q_start) * progress
        self.step_ += 1

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the ``q`` of the epoch's last step as ``q``."""
        net.history.record("q", float(net.criterion_.q))

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """Give the loss its own ``q`` back."""
        if self.target_q_ is not None:
            net.criterion_.q = self.target_q_
