"""Learning-rate schedule: linear warmup, then cosine decay over the fit.

The usual contrastive recipe (SimCLR, MoCo v3): the learning rate rises
linearly from almost 0 to ``lr`` over the first steps, then follows half a
cosine down to ``final_lr_ratio * lr`` at the last step of the fit. The
schedule is a skorch callback that sets the optimiser's learning rate before
every training batch; it counts optimiser steps across calls, so training that
continues (``partial_fit``) never restarts the warmup.
"""

from __future__ import annotations

import math
from typing import Any

from skorch.callbacks import Callback

__all__ = ["WarmupCosineLR", "steps_per_epoch", "warmup_cosine_factor"]


def warmup_cosine_factor(
    step: int, warmup_steps: int, total_steps: int | None, final_lr_ratio: float = 0.0
) -> float:
    """Return the multiplier of the base learning rate at optimiser step ``step``.

    ``step`` counts from 0. During the warmup the factor is
    ``(step + 1) / warmup_steps``; then, with ``total_steps`` known, it is
    ``r + (1 - r) * (1 + cos(pi * p)) / 2`` with ``r = final_lr_ratio`` and
    ``p = (step - warmup_steps) / (total_steps - warmup_steps)`` clipped to
    ``[0, 1]`` (so it stays at ``r`` after the end); with ``total_steps=None``
    it stays at 1.

    Parameters
    ----------
    step : int
        Optimiser steps already taken.
    warmup_steps : int
        Length of the linear warmup (0 for none).
    total_steps : int or None
        Steps of the whole fit; None: no decay (the total is unknown).
    final_lr_ratio : float, default=0.0
        Factor reached at the end of the decay.

    Returns
    -------
    float

    Examples
    --------
    >>> from rince_sklearn.callbacks import warmup_cosine_factor
    >>> [round(warmup_cosine_factor(s, 2, 10), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    >>> warmup_cosine_factor(50, 2, None)
    1.0
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if total_steps is None:
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (
        1 + math.cos(math.pi * progress)
    )


def steps_per_epoch(net: Any, X: Any) -> int:
    """Return the optimiser steps of one pass over ``X`` (1 when X is None).

    As the training loader cuts them: rince_sklearn's nets say it
    (``batches_per_epoch``: equal batches; in distributed training, over the
    global data); other nets count ``ceil(len(X) / batch_size)``.
    """
    if X is None:
        return 1
    count = getattr(net, "batches_per_epoch", None)
    return max(1, count(X) if count else math.ceil(len(X) / net.batch_size))


class WarmupCosineLR(Callback):
    """Linear warmup, then cosine decay of the learning rate over the fit.

    The estimator adds it by default (``lr_schedule="warmup_cosine"``) with
    ``max_epochs`` set to the fit's number of epochs; pass
    ``lr_schedule=None`` and your own callback (for example
    :class:`skorch.callbacks.LRScheduler`) in ``callbacks`` to replace it.

    The number of batches per epoch is read from the data of the first
    training call, so the schedule's total is ``max_epochs`` times that. With
    ``max_epochs=None``, or after :meth:`hold` (which the estimator's
    ``partial_fit`` calls: data streamed in chunks has no known total), the
    learning rate warms up and then stays at ``lr``.
    Steps are counted across training calls: a later call continues the
    schedule where the previous one stopped.

    Parameters
    ----------
    warmup : float, default=0.1
        Length of the warmup as a fraction of the schedule's total steps; with
        ``max_epochs=None``, as a fraction of the first call's batches (one
        epoch). At least one step when > 0.
    max_epochs : int or None, default=None
        Epochs the schedule spans; None: warmup, then a constant rate.
    final_lr_ratio : float, default=0.0
        The learning rate at the end of the decay, as a fraction of ``lr``.

    Attributes
    ----------
    step_ : int
        Optimiser steps scheduled so far.
    warmup_steps_ : int
        Length of the warmup, in steps (set by the first training call).
    total_steps_ : int or None
        Steps of the whole schedule (None without decay).
    held_ : bool
        Whether :meth:`hold` stopped the decay.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from rince_sklearn import RobustContrastiveEmbedder
    >>> from rince_sklearn.callbacks import WarmupCosineLR
    >>> X, _ = load_wine(return_X_y=True)
    >>> emb = RobustContrastiveEmbedder(
    ...     lr_schedule=None, callbacks=[WarmupCosineLR(warmup=0.5, max_epochs=4)],
    ...     max_epochs=4, batch_size=64, random_state=0).fit(X)
    >>> [round(lr, 5) for lr in emb.history_[:, "lr"]][:2]  # lr of each epoch's end
    [0.0005, 0.001]
    """

    def __init__(
        self,
        warmup: float = 0.1,
        max_epochs: int | None = None,
        final_lr_ratio: float = 0.0,
    ) -> None:
        self.warmup = warmup
        self.max_epochs = max_epochs
        self.final_lr_ratio = final_lr_ratio

    def initialize(self) -> WarmupCosineLR:
        """Reset the step count (skorch calls this when the net is built)."""
        self.step_ = 0
        self.warmup_steps_: int | None = None
        self.total_steps_: int | None = None
        self.held_ = False
        return self

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any):
        """Fix the schedule's length from the first training call's data."""
        if self.warmup_steps_ is not None:
            return  # a later call continues the schedule
        per_epoch = steps_per_epoch(net, X)
        if self.max_epochs is None or self.held_:
            self.total_steps_ = None
            basis = per_epoch
        else:
            self.total_steps_ = int(self.max_epochs) * per_epoch
            basis = self.total_steps_
        self.warmup_steps_ = (
            max(1, int(round(self.warmup * basis))) if self.warmup > 0 else 0
        )

    def on_batch_begin(
        self, net: Any, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        """Set the learning rate of the coming optimiser step."""
        if not training or self.warmup_steps_ is None:
            return
        factor = warmup_cosine_factor(
            self.step_, self.warmup_steps_, self.total_steps_, self.final_lr_ratio
        )
        lr = net.lr * factor
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        self.step_ += 1

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Record the learning rate of the epoch's last step as ``lr``."""
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])

    def hold(self) -> None:
        """Stop decaying: from the next step on, the rate stays at ``lr``.

        ``partial_fit`` calls it (before its first step, or after a ``fit``
        whose schedule has ended): training on streamed data has no known end.
        """
        self.held_ = True
        self.total_steps_ = None
