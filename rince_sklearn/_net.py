"""The skorch net that trains an encoder and head with a contrastive loss.

:class:`ContrastiveNet` customises :class:`skorch.NeuralNet` through its
documented hooks: ``initialize_module`` (seeded initialisation and random
streams), ``get_iterator`` (batches sliced from a :class:`~.batching.BatchSource`),
``train_step_single`` / ``validation_step`` (two augmented views per batch, the
noisy-view pairing), ``get_loss`` (the loss on the two projections, with the
views' labels when the data has labels), ``on_batch_end`` / ``on_epoch_end``
(divergence detection). ``partial_fit`` is skorch's, except that a
``KeyboardInterrupt`` propagates (skorch swallows it). Every batch loop lives
here: training, and :meth:`ContrastiveNet.embed` for ``transform`` and
``score``.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import unpack_data
from torch import Tensor

from .augment._base import call_augmentation
from .batching import BatchLoader, BatchSource, batch_bounds, move_to_device
from .noisy_views import false_positive_pairing

__all__ = ["ContrastiveNet", "TrainingDivergedError"]

#: parameters or projections larger than this in absolute value mean that
#: training has diverged, even while the loss (of cosine similarities) is finite
DIVERGENCE_LIMIT = 1e6


@contextmanager
def _watch_sigint() -> Iterator[Callable[[], bool]]:
    """Record whether a SIGINT (Ctrl-C) arrives while the block runs.

    The previous handler still runs (by default it raises
    ``KeyboardInterrupt``). Outside the main thread, where Python delivers no
    signals, nothing is installed.
    """
    arrived = [False]
    previous = signal.getsignal(signal.SIGINT)
    install = threading.current_thread() is threading.main_thread() and callable(
        previous
    )

    def handler(signum: int, frame: Any) -> Any:
        arrived[0] = True
        return previous(signum, frame)  # type: ignore[operator,misc]

    if install:
        signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: arrived[0]
    finally:
        if install:
            signal.signal(signal.SIGINT, previous)


def _raised_by_callback(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in a method of a skorch callback."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame
        tb = tb.tb_next
    return last is not None and isinstance(last.f_locals.get("self"), Callback)


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
        float32. None trains in full precision. :meth:`embed` (``transform``,
        ``score``) always runs in float32.
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

    #: the random streams of training (their states are part of a snapshot)
    _generators: tuple[str, ...] = ("shuffle_rng_", "augment_rng_")
    #: those on the module's device (pickled as their state: see __getstate__)
    _device_generators: tuple[str, ...] = ("augment_rng_",)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # a CUDA generator cannot be unpickled without CUDA: keep its state,
        # a CPU byte tensor, and rebuild it on the net's device on load
        for name in self._device_generators:
            rng = state.pop(name, None)
            if rng is not None:
                state[f"_{name}state"] = rng.get_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        rng_states = {
            name: state.pop(f"_{name}state", None) for name in self._device_generators
        }
        super().__setstate__(state)
        for name, rng_state in rng_states.items():
            if rng_state is not None:
                rng = torch.Generator(device=self.device)
                rng.set_state(rng_state)
                setattr(self, name, rng)

    def get_iterator(self, dataset: Any, training: bool = False) -> BatchLoader:
        """Slice ``dataset`` (a :class:`~.batching.BatchSource`) into batches.

        Training batches are shuffled and all of ``batch_size`` samples: the
        last incomplete batch of each pass is left out (different samples in
        every pass), so the loss has one scale across batches and epochs.
        """
        return BatchLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=training,
            generator=self.shuffle_rng_ if training else None,
            drop_last=training,
        )

    # -- training and inference loops --------------------------------------------
    def partial_fit(
        self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any
    ) -> ContrastiveNet:
        """Train on ``X`` like skorch's ``partial_fit``; Ctrl-C propagates.

        skorch catches every ``KeyboardInterrupt`` and returns a half-trained
        net as if training had finished. skorch's callbacks raise it on purpose
        to stop training early (:class:`skorch.callbacks.EarlyStopping` does),
        and that stays a normal end of training here; but a real Ctrl-C
        (SIGINT), or a ``KeyboardInterrupt`` raised anywhere but in a
        callback, propagates, as scikit-learn's convention is, so that a grid
        search stops instead of scoring a half-trained model.
        """
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        with _watch_sigint() as interrupted:
            try:
                self.fit_loop(X, y, **fit_params)
            except KeyboardInterrupt as exc:
                if interrupted() or not _raised_by_callback(exc):
                    raise
        self.notify("on_train_end", X=X, y=y)
        return self

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of the training state, for :meth:`restore`.

        The weights, the optimiser's state, the random streams and the length
        of the history: what a failed ``partial_fit`` must put back.
        """
        return {
            "module": copy.deepcopy(self.module_.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer_.state_dict()),
            "generators": {
                name: getattr(self, name).get_state() for name in self._generators
            },
            "history": len(self.history),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back the training state saved by :meth:`snapshot`."""
        self.module_.load_state_dict(snapshot["module"])
        self.optimizer_.load_state_dict(snapshot["optimizer"])
        for name, rng_state in snapshot["generators"].items():
            getattr(self, name).set_state(rng_state)
        del self.history[snapshot["history"] :]

    def embed(
        self,
        source: BatchSource,
        batch_size: int,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Return the encoder's outputs for every sample of ``source``.

        Eval mode, no gradients, in batches of ``batch_size``; with
        ``generator``, each batch is first augmented with it (``score``).
        Never under autocast: a model's embeddings are its float32 weights'
        outputs, the same on a machine without native bfloat16 as on the one
        that trained it with ``autocast_dtype``.

        Returns
        -------
        embedding : Tensor of shape (len(source), embedding_dim)
            float32, on the CPU.
        """
        encoder = self.module_.encoder
        was_training = encoder.training
        encoder.eval()
        n_samples = len(source)
        out: Tensor | None = None
        start = 0
        try:
            with torch.inference_mode():
                for batch, _ in BatchLoader(source, batch_size=batch_size):
                    batch = move_to_device(batch, self.device)
                    if generator is not None and self.augmentation is not None:
                        batch = call_augmentation(self.augmentation, batch, generator)
                    n = _batch_length(batch)
                    if generator is None:  # transform: every chunk the same shape
                        batch = _pad_rows(batch, batch_size)
                    rows = encoder(batch)[:n].float().cpu()  # (n, embedding_dim)
                    if out is None:  # written in place: no list of chunks to join
                        out = torch.empty((n_samples, *rows.shape[1:]))
                    out[start : start + n] = rows
                    start += n
        finally:
            encoder.train(was_training)
        if out is None:
            raise ValueError("There are no samples to embed.")
        return out

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
        """Stop training with a clear error when the loss becomes NaN or inf.

        The loss is read from the history, where skorch has already put it
        (no second device read); the projections' largest magnitude is kept
        on the device and checked once per epoch.
        """
        if kwargs.get("loss") is None or not training:
            return
        value = self.history[-1, "batches", -1, "train_loss"]
        if not math.isfinite(value):
            self._diverged(f"The training loss became {value}")
        y_pred = kwargs.get("y_pred")
        if isinstance(y_pred, Tensor) and y_pred.numel():
            largest = y_pred.detach().abs().amax()
            previous: Tensor | None = getattr(self, "projection_max_", None)
            self.projection_max_ = (
                largest if previous is None else torch.maximum(previous, largest)
            )

    #: the epoch's largest projection magnitude so far, on the device
    projection_max_: Tensor | None = None

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        """Start the epoch's record of the projections' largest magnitude."""
        super().on_epoch_begin(net, **kwargs)
        self.projection_max_ = None

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        """Stop training when a projection or a weight is absurdly large.

        The loss is computed on cosine similarities, so it can stay finite
        while the weights and outputs run away (for example with a huge
        ``lr``). One device read per epoch.
        """
        with torch.no_grad():
            parts = [p.detach().abs().amax() for p in self.module_.parameters()]
            parts = [p for p in parts if p.numel()]
            projections = getattr(self, "projection_max_", None)
            weights = float(torch.stack(parts).max()) if parts else 0.0
            outputs = float(projections) if projections is not None else 0.0
        if not outputs <= DIVERGENCE_LIMIT:  # NaN too
            self._diverged(f"The projections reached {outputs:.3g}")
        if not weights <= DIVERGENCE_LIMIT:
            self._diverged(f"A weight reached {weights:.3g}")

    def batches_per_epoch(self, dataset: Any) -> int:
        """Return the optimiser steps of one training pass over ``dataset``.

        What the training loader cuts (equal batches), computed without
        building a loader, for callbacks that plan by steps (the schedule, the
        progress bar).
        """
        return len(batch_bounds(len(dataset), self.batch_size, drop_last=True))

    def _diverged(self, what: str) -> None:
        epoch = len(self.history)
        raise TrainingDivergedError(
            f"{what} in epoch {epoch}. The model diverged: lower lr, raise "
            "temperature (the RINCE positive term grows like exp(q / "
            "temperature)), lower q, or check the input and the augmentation "
            "for NaN or extreme values."
        )


def _batch_length(batch: Any) -> int:
    """Return the number of samples in a batch (a tensor or a batched graph)."""
    return batch.shape[0] if isinstance(batch, Tensor) else len(batch)


def _pad_rows(batch: Any, size: int) -> Any:
    """Pad a tensor batch to ``size`` rows by repeating its last row.

    The encoder then always sees batches of one shape, and the kernels that
    torch picks by shape (a matrix-vector product for one row, blocked
    products for many) compute every sample the same way: an embedding does
    not depend on which other samples were transformed with it (scikit-learn's
    subset invariance). Batched graphs vary in size by nature and are left
    as they are.
    """
    if not isinstance(batch, Tensor) or batch.shape[0] >= size:
        return batch
    padding = batch[-1:].expand(size - batch.shape[0], *batch.shape[1:])
    return torch.cat([batch, padding])
