"""The augmentation contract, and augmentations that combine others.

An augmentation maps a batch to a randomly augmented view of the whole batch:
``view = augmentation(batch, generator=g)``. Built-in augmentations derive from
:class:`Augmentation`, draw all their randomness from ``generator`` (so a seed
reproduces every view) and keep their settings as plain attributes (so they
pickle, clone and save as JSON). Any other callable ``f(batch) -> view`` works
too; the estimator passes ``generator=`` to it only if it accepts that keyword.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = [
    "Augmentation",
    "Compose",
    "Identity",
    "RandomChoice",
    "call_augmentation",
    "call_augmentation_shard",
]


class Augmentation:
    """Base class of the batched augmentations.

    Subclasses implement :meth:`augment`. Their ``__init__`` stores its arguments
    under the same names, which :meth:`get_params` reads back.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Augmentation
    >>> class Scale(Augmentation):
    ...     def __init__(self, factor=2.0):
    ...         self.factor = factor
    ...     def augment(self, batch, generator=None):
    ...         return batch * self.factor
    >>> Scale(3.0), Scale(3.0).get_params()
    (Scale(factor=3.0), {'factor': 3.0})
    >>> Scale(3.0)(torch.ones(1, 2)).tolist()
    [[3.0, 3.0]]
    """

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Return a randomly augmented view of ``batch``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __call__(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        return self.augment(batch, generator=generator)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's arguments as a dict."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()

    __hash__ = None  # type: ignore[assignment]


class Identity(Augmentation):
    """Return the batch unchanged (useful to switch an augmentation off).

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Identity
    >>> x = torch.ones(3, 2)
    >>> Identity()(x) is x
    True
    """

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Return ``batch`` itself."""
        return batch


class Compose(Augmentation):
    """Apply augmentations one after the other.

    Parameters
    ----------
    augmentations : sequence of callables
        Applied in order; each receives the previous one's output.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Compose, GaussianNoise, MarginalCorruption
    >>> views = Compose([MarginalCorruption(0.3), GaussianNoise(0.1)])
    >>> views(torch.randn(8, 4), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([8, 4])
    """

    def __init__(self, augmentations: Sequence[Callable]) -> None:
        self.augmentations = list(augmentations)

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Apply every augmentation in turn."""
        for augmentation in self.augmentations:
            batch = call_augmentation(augmentation, batch, generator)
        return batch

    def augment_shard(
        self, batch: Any, shard: Any, generator: torch.Generator | None = None
    ) -> Any:
        """Apply every augmentation in turn to one process's shard of a batch."""
        for augmentation in self.augmentations:
            batch = call_augmentation_shard(augmentation, batch, shard, generator)
        return batch


class RandomChoice(Augmentation):
    """Apply one augmentation, drawn at random for the whole batch.

    Parameters
    ----------
    augmentations : sequence of callables
        The candidates.
    p : sequence of float, default=None
        Their probabilities; uniform when None.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import Identity, RandomChoice
    >>> def negate(batch):
    ...     return -batch
    >>> choice = RandomChoice([Identity(), negate], p=[0.0, 1.0])
    >>> choice(torch.ones(2, 3), generator=torch.Generator()).sum().item()
    -6.0
    """

    def __init__(
        self, augmentations: Sequence[Callable], p: Sequence[float] | None = None
    ) -> None:
        self.augmentations = list(augmentations)
        self.p = None if p is None else list(p)

    def augment(self, batch: Any, generator: torch.Generator | None = None) -> Any:
        """Apply one randomly chosen augmentation."""
        k = len(self.augmentations)
        weights = torch.ones(k) if self.p is None else torch.tensor(self.p)
        device = generator.device if generator is not None else "cpu"
        choice = int(torch.multinomial(weights.to(device), 1, generator=generator))
        return call_augmentation(self.augmentations[choice], batch, generator)

    def augment_shard(
        self, batch: Any, shard: Any, generator: torch.Generator | None = None
    ) -> Any:
        """Apply one augmentation to a shard, the same one on every process.

        The choice is drawn from ``shard.generator``, whose state is the same
        on every process, so the whole global batch gets one augmentation, as
        in a single process.
        """
        shared = shard.generator if shard.generator is not None else generator
        k = len(self.augmentations)
        weights = torch.ones(k) if self.p is None else torch.tensor(self.p)
        device = shared.device if shared is not None else "cpu"
        choice = int(torch.multinomial(weights.to(device), 1, generator=shared))
        return call_augmentation_shard(
            self.augmentations[choice], batch, shard, generator
        )


def _accepts_generator(func: Callable) -> bool:
    if isinstance(func, Augmentation):
        return True
    try:  # called twice per training batch: look each callable's signature up once
        return _signature_takes_generator(func)
    except TypeError:  # an unhashable callable
        return _signature_takes_generator.__wrapped__(func)


@functools.lru_cache(maxsize=256)
def _signature_takes_generator(func: Callable) -> bool:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "generator" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def call_augmentation(
    augmentation: Callable, batch: Any, generator: torch.Generator | None
) -> Any:
    """Call ``augmentation`` on ``batch``, passing ``generator`` if it takes one.

    Parameters
    ----------
    augmentation : callable
        An :class:`Augmentation`, or any callable ``f(batch)`` or
        ``f(batch, generator=...)``.
    batch : Tensor or GraphBatch
        The batch to augment.
    generator : torch.Generator or None
        Passed on as ``generator=`` when ``augmentation`` accepts that keyword
        (or ``**kwargs``).

    Returns
    -------
    view : Tensor or GraphBatch
        The augmented view.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.augment import call_augmentation
    >>> def noisy(batch, generator=None):
    ...     return batch + torch.randn(batch.shape, generator=generator)
    >>> x = torch.zeros(2, 2)
    >>> a = call_augmentation(noisy, x, torch.Generator().manual_seed(0))
    >>> b = call_augmentation(noisy, x, torch.Generator().manual_seed(0))
    >>> torch.equal(a, b)
    True
    >>> call_augmentation(lambda batch: batch + 1, torch.zeros(1, 2), None).tolist()
    [[1.0, 1.0]]
    """
    if _accepts_generator(augmentation):
        return augmentation(batch, generator=generator)
    return augmentation(batch)


def call_augmentation_shard(
    augmentation: Callable, batch: Any, shard: Any, generator: torch.Generator | None
) -> Any:
    """Augment one process's shard of a global batch (distributed training).

    An augmentation whose views depend on the whole batch (SCARF's donor rows,
    column statistics, one choice per batch) implements
    ``augment_shard(batch, shard, generator=None)`` and reads what it needs
    from the other processes through ``shard`` (a
    :class:`~rince_sklearn.distributed.BatchShard`: ``shard.gather(x)``
    concatenates every process's rows, ``shard.sum(x)`` adds every process's
    ``x``, and ``shard.generator`` draws the same numbers on every process).
    Any other augmentation is applied to the shard as if it were the batch.

    Parameters
    ----------
    augmentation : callable
        The augmentation.
    batch : Tensor or GraphBatch
        This process's rows of the global batch.
    shard : BatchShard
        Where these rows sit in the global batch.
    generator : torch.Generator or None
        This process's own random stream.

    Returns
    -------
    view : Tensor or GraphBatch
        The augmented view of the shard.

    Examples
    --------
    Without a process group, a shard is the whole batch:

    >>> import torch
    >>> from rince_sklearn.augment import MarginalCorruption, call_augmentation_shard
    >>> from rince_sklearn.distributed import BatchShard
    >>> x = torch.randn(6, 3)
    >>> view = call_augmentation_shard(
    ...     MarginalCorruption(0.5), x, BatchShard([6]), torch.Generator())
    >>> view.shape
    torch.Size([6, 3])
    """
    augment_shard = getattr(augmentation, "augment_shard", None)
    if augment_shard is not None:
        return augment_shard(batch, shard, generator=generator)
    return call_augmentation(augmentation, batch, generator)
