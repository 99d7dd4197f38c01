"""The skorch net that trains an encoder and head with a contrastive loss.

:class:`ContrastiveNet` customises :class:`skorch.NeuralNet` only through its
documented hooks: ``initialize_module`` (seeded initialisation and random
streams), ``get_iterator`` (batches sliced from a :class:`~.batching.BatchSource`),
``train_step_single`` / ``validation_step`` (two augmented views per batch, the
noisy-view pairing), ``get_loss`` (the loss on the two projections, with the
views' labels when the data has labels) and ``on_batch_end`` (divergence
detection).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from torch import Tensor

from .augment import call_augmentation
from .batching import BatchLoader, move_to_device

__all__ = ["ContrastiveNet", "TrainingDivergedError", "false_positive_pairing"]


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite.

    ``fit`` raises it (it is a :class:`FloatingPointError`) with a message that
    names the epoch and suggests a remedy, instead of returning NaN embeddings.

    Examples
    --------
    >>> from rince_sklearn import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True
    """


def false_positive_pairing(
    n: int, noise_rate: float, generator: torch.Generator | None = None
) -> Tensor:
    """Return an index that turns a fraction of positive pairs into false ones.

    ``round(noise_rate * n)`` pairs are chosen at random (at least 2 once any is,
    since one sample cannot swap with itself); their second views are rotated
    among them, so each chosen sample's first view is paired with a view of
    another chosen sample. The index is a permutation: every second view is
    still used exactly once, as a positive of one anchor and as a negative of the
    others, so only the pairing changes, not the set of views in the batch.

    Parameters
    ----------
    n : int
        Batch size.
    noise_rate : float in [0, 1]
        Fraction of false positive pairs.
    generator : torch.Generator, default=None
        Source of randomness (its device is used for the result).

    Returns
    -------
    index : LongTensor of shape (n,)
        Apply as ``z2 = z2[index]``.

    Examples
    --------
    >>> import torch
    >>> index = false_positive_pairing(10, 0.5, torch.Generator().manual_seed(0))
    >>> int((index != torch.arange(10)).sum())
    5
    >>> sorted(index.tolist()) == list(range(10))
    True
    """
    device = generator.device if generator is not None else torch.device("cpu")
    index = torch.arange(n, device=device)
    k = min(n, int(round(noise_rate * n)))
    if k == 1 and n >= 2:
        k = 2
    if k < 2:
        return index
    chosen = torch.randperm(n, generator=generator, device=device)[:k]  # (k,)
    index[chosen] = chosen.roll(1)  # a cycle: no chosen sample keeps its view
    return index


class ContrastiveNet(NeuralNet):
    """skorch net for contrastive training of a :class:`~.encoders.ContrastiveModule`.

    Parameters
    ----------
    module, criterion : see :class:`skorch.NeuralNet`
        The criterion takes ``(z1, z2)``, the projections of the two views, and
        ``labels=`` when the batches carry labels (see :meth:`get_loss`).
    augmentation : callable, default=None
        Maps a batch to a random view; None uses the batch itself for both views.
    noise_rate : float, default=0.0
        Fraction of false positive pairs in each training batch.
    seed : int, default=0
        Seeds the module's initialisation, the shuffling and the augmentations.
    autocast_dtype : torch.dtype, default=None
        When set (``torch.bfloat16``), the training forward passes run under
        :func:`torch.autocast` with this dtype; the loss is still computed in
        float32. None trains in full precision.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        module: Any,
        criterion: Any,
        *args: Any,
        augmentation: Callable | None = None,
        noise_rate: float = 0.0,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion, *args, **kwargs)
        self.augmentation = augmentation
        self.noise_rate = noise_rate
        self.seed = seed
        self.autocast_dtype = autocast_dtype

    # -- initialisation ---------------------------------------------------------
    def initialize_module(self) -> ContrastiveNet:
        """Build the module under ``seed``, and seed the random streams."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            super().initialize_module()
        device = torch.device(self.device)
        # shuffling happens on the CPU (indices of data kept there), views on
        # the module's device
        self.shuffle_rng_ = torch.Generator().manual_seed(self.seed)
        self.augment_rng_ = torch.Generator(device=device).manual_seed(self.seed + 1)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # a CUDA generator cannot be unpickled without CUDA: keep its state,
        # a CPU byte tensor, and rebuild it on the net's device on load
        rng = state.pop("augment_rng_", None)
        if rng is not None:
            state["_augment_rng_state"] = rng.get_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        rng_state = state.pop("_augment_rng_state", None)
        super().__setstate__(state)
        if rng_state is not None:
            self.augment_rng_ = torch.Generator(device=self.device)
            self.augment_rng_.set_state(rng_state)

    def get_iterator(self, dataset: Any, training: bool = False) -> BatchLoader:
        """Slice ``dataset`` (a :class:`~.batching.BatchSource`) into batches."""
        return BatchLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=training,
            generator=self.shuffle_rng_ if training else None,
        )

    # -- one step ---------------------------------------------------------------
    def make_view(self, batch: Any) -> Any:
        """Return one random view of a batch (already on the device)."""
        if self.augmentation is None:
            return batch
        return call_augmentation(self.augmentation, batch, self.augment_rng_)

    def autocast(self) -> torch.autocast:
        """Return the autocast context of the forward passes (maybe disabled)."""
        return torch.autocast(
            device_type=torch.device(self.device).type,
            dtype=self.autocast_dtype,
            enabled=self.autocast_dtype is not None,
        )

    def forward_view(self, view: Any) -> Tensor:
        """Return the projection of one view (a hook for distributed training)."""
        return self.module_(view)

    def project_views(self, batch: Any, training: bool) -> tuple[Tensor, Tensor]:
        """Return the projections ``(z1, z2)`` of two views of ``batch``.

        The pairs are the true ones; :meth:`pair_views` makes some false.
        """
        batch = move_to_device(batch, self.device)
        with self.autocast():
            z1 = self.forward_view(self.make_view(batch))  # (B, projection_dim)
            z2 = self.forward_view(self.make_view(batch))  # (B, projection_dim)
        return z1, z2

    def pair_views(
        self, z2: Tensor, labels: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Return the second views as paired with the first, and the views' labels.

        In training, ``noise_rate`` of the pairs are made false positives by
        reordering ``z2``. ``labels`` (the batch's labels, or None) are
        returned on the device, for the ``2B`` views (those of ``z1``, then
        those of ``z2``) once the pairing moved any view: a second view keeps
        the label of its own sample, so a false pair is false for the labels
        too.
        """
        if labels is not None:
            labels = move_to_device(labels, self.device)
        if not (training and self.noise_rate > 0):
            return z2, labels
        index = false_positive_pairing(len(z2), self.noise_rate, self.augment_rng_)
        if labels is not None:
            labels = torch.cat([labels, labels[index]])  # (2B,)
        return z2[index], labels

    def get_loss(
        self, y_pred: Any, y_true: Any = None, X: Any = None, training: bool = False
    ) -> Tensor:
        """Return the criterion on the two views' projections ``y_pred``.

        ``y_true`` is None, or the views' labels (from :meth:`pair_views`),
        passed to the criterion as ``labels=``.
        """
        z1, z2 = y_pred
        if y_true is None:
            return self.criterion_(z1, z2)
        return self.criterion_(z1, z2, labels=y_true)

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """Compute the loss on two views of the batch and its gradients."""
        self._set_training(True)
        X, y = unpack_data(batch)
        z1, z2 = self.project_views(X, training=True)
        z2, labels = self.pair_views(z2, y, training=True)
        loss = self.get_loss((z1, z2), labels, X=X, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": z1}

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, Any]:
        """Compute the loss on two views of the batch, without noise or grads."""
        self._set_training(False)
        X, y = unpack_data(batch)
        with torch.no_grad():
            z1, z2 = self.project_views(X, training=False)
            z2, labels = self.pair_views(z2, y, training=False)
            loss = self.get_loss((z1, z2), labels, X=X, training=False)
        return {"loss": loss, "y_pred": z1}

    # -- safety -----------------------------------------------------------------
    def on_batch_end(
        self, net: NeuralNet, batch: Any = None, training: bool = False, **kwargs: Any
    ) -> None:
        """Stop training with a clear error when the loss is NaN or infinite."""
        loss = kwargs.get("loss")
        if loss is None:
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            epoch = len(self.history)
            raise TrainingDivergedError(
                f"The training loss became {value} in epoch {epoch}. The model "
                "diverged: lower lr, raise temperature (the RINCE positive term "
                "grows like exp(q / temperature)), lower q, or check the input and "
                "the augmentation for NaN or extreme values."
            )
