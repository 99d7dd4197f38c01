"""RobustContrastiveEmbedder: contrastive representation learning as a transformer."""

from __future__ import annotations

import copy
import inspect
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, ProgressBar
from torch import nn

from ._net import ContrastiveNet
from .augment import call_augmentation
from .batching import BatchLoader, BatchSource, move_to_device
from .encoders import ContrastiveModule
from .losses import get_loss_class, registered_loss_names
from .modalities import Modality, detect_modality, get_modality
from .parallel import worker_threads
from .supervision import encode_labels

__all__ = ["RobustContrastiveEmbedder"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

#: rows augmented together when scoring: fixed, so that ``score`` does not
#: depend on ``batch_size``
_SCORE_CHUNK = 256


def resolve_device(device: str | torch.device) -> torch.device:
    """Map ``"auto"`` to CUDA when available, else CPU; check other names."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto' or a torch device such as 'cpu' or 'cuda:0', "
            f"got {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    return resolved


class _RegisteredLossNames(StrOptions):
    """``StrOptions`` whose options are the loss registry's names when checked."""

    def __init__(self) -> None:
        super().__init__(registered_loss_names())

    @property  # type: ignore[override]
    def options(self) -> set[str]:  # noqa: D102
        return registered_loss_names()

    @options.setter
    def options(self, value: set[str]) -> None:  # set by Options.__init__
        pass


class RobustContrastiveEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Learn an embedding by contrastive learning with the RINCE loss.

    Two random views of every sample in a batch go through an encoder and a
    projection head; the loss pulls each sample's two projections together and
    pushes the other samples' apart. RINCE [1]_ does this robustly when some
    positive pairs share no information (noisy views); InfoNCE is available for
    comparison. ``transform`` returns the encoder's output, before the head.
    Inputs may be tabular, images or graphs; training runs through skorch.

    Parameters
    ----------
    modality : {"auto", "tabular", "image", "graph"}, default="auto"
        Kind of input. ``"auto"``: a list of graphs is a graph input, a 3-D or
        4-D array (or any input when ``image_shape`` is set) is an image input,
        a 2-D array is tabular.
    loss : {"rince", "infonce"}, registered name or torch.nn.Module class, \
default="rince"
        Training loss; see :class:`~rince_sklearn.RINCELoss`. A name added
        with :func:`~rince_sklearn.losses.register_loss`, or a class, is
        built with those of ``q``, ``lam`` and ``temperature`` that its
        constructor names, and called as ``loss(z1, z2)`` (and with
        ``labels=`` under ``supervision="labels"``).
    q : float, default=0.5
        RINCE's exponent in ``(0, 1]``: towards 0 it behaves like InfoNCE, at 1
        it is most robust to noisy views. Ignored by ``loss="infonce"``.
    lam : float, default=0.01
        RINCE's weight of the partition term, > 0. Ignored by InfoNCE.
    temperature : float, default=0.5
        Divides cosine similarities in the loss, > 0.
    embedding_dim : int, default=64
        Width of ``transform``'s output (the encoder's output).
    projection_dim : int, default=64
        Width of the projection head's output, where the loss is computed.
    encoder : "auto" or subclass of torch.nn.Module, default="auto"
        ``"auto"`` uses the modality's default (an MLP for tabular data,
        :class:`~rince_sklearn.encoders.ResNetEncoder` for images).
        A class is built as ``encoder(**encoder_kwargs)``, with ``in_features``
        (tabular, graph node features) or ``in_channels`` (images) and
        ``embedding_dim`` added when its constructor accepts them and
        ``encoder_kwargs`` does not set them. It must map a batch to
        ``(batch, embedding_dim)``.
    encoder_kwargs : dict, default=None
        Keyword arguments of the encoder (also of the default one).
    augmentation : "auto", callable or None, default="auto"
        ``"auto"`` uses the modality's default (for tabular data,
        :class:`~rince_sklearn.augment.MarginalCorruption`; for images, crops,
        flips, colour jitter and blur:
        :func:`~rince_sklearn.augment.default_image_augmentation`). A callable maps a
        batch (a float tensor, or the batched graph) to a random view of it and
        is called once per view; it receives ``generator=`` (seeded from
        ``random_state``) if it accepts that keyword. None uses the batch itself
        as both views (only useful with ``noise_rate`` or for tests).
    supervision : {"none", "labels"}, default="none"
        ``"labels"``: ``fit(X, y)`` needs class labels ``y``, and an anchor's
        positives are its other view and every view in the batch with the same
        label (supervised contrastive learning; with RINCE, robust to noisy
        labels). Unlabelled samples, marked ``-1`` (numeric labels) or
        ``None``, have only their own other view as a positive. Batches are
        drawn by plain shuffling. ``"none"``: ``y`` is ignored. See
        :ref:`labels`.
    noise_rate : float, default=0.0
        Fraction of positive pairs in each training batch replaced by false
        positive pairs (a view of sample ``i`` with a view of another sample),
        to study robustness to noisy views.
    image_shape : tuple of int, default=None
        ``(C, H, W)``: read flat 2-D rows as images. Image inputs may also be
        ``(n, H, W)`` or ``(n, C, H, W)`` arrays; uint8 images are read as
        ``value / 255``. The fitted shape is ``image_shape_``.
    max_epochs : int, default=50
        Passes over the data.
    batch_size : int, default=256
        Samples per training batch (at least 2); smaller data uses one batch of
        all samples. Also the batch size of ``transform``.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser.
    weight_decay : float, default=0.0
        Weight decay of the optimiser.
    device : str or torch.device, default="auto"
        ``"auto"`` picks CUDA when available, else CPU.
    precision : {"32", "bf16-mixed"}, default="32"
        ``"bf16-mixed"`` runs the training forward passes under bfloat16
        autocast (faster on GPUs with bfloat16 units; also works on CPU); the
        weights stay float32, the loss is computed in float32 and ``transform``
        runs in float32. ``"32"`` trains in float32 throughout.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks, for example :class:`skorch.callbacks.LRScheduler`.
    n_iter_no_change : int, default=None
        When set, stop once the training loss has not improved by at least
        ``tol`` for this many epochs (early stopping on the training loss).
    tol : float, default=1e-4
        Minimum absolute improvement of the training loss for early stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, augmentation, noisy pairing and shuffling: the same
        seed gives the same embeddings on CPU.
    verbose : int, default=0
        0: silent; 1: a progress bar and a table of per-epoch losses.

    Attributes
    ----------
    n_features_in_ : int
        Number of features (columns for tabular data, ``C*H*W`` for images,
        node-feature width for graphs).
    image_shape_ : tuple of int
        ``(C, H, W)`` of the images (image inputs only).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, when ``X`` was a DataFrame with string column names.
    modality_ : str
        The resolved modality.
    device_ : torch.device
        The device used for training and inference.
    batch_size_ : int
        The training batch size used (``batch_size``, or fewer with less data).
    augmentation_ : callable or None
        The augmentation used.
    net_ : ContrastiveNet
        The trained skorch net (encoder and projection head).
    encoder_ : torch.nn.Module
        The trained encoder.
    history_ : skorch.History
        Per-epoch (and per-batch) training losses and timings.

    See Also
    --------
    rince_sklearn.RINCELoss : The loss.
    sklearn.decomposition.PCA : A linear baseline embedding.

    Notes
    -----
    ``score`` is a self-supervised metric (retrieval AUC of augmented views),
    so ``GridSearchCV`` can tune the estimator without labels. It ignores
    labels also with ``supervision="labels"``: there, tune the Pipeline on
    its downstream score.

    References
    ----------
    .. [1] Chuang, C.-Y., Hjelm, R. D., Wang, X., Vineet, V., Joshi, N.,
       Torralba, A., Jegelka, S. and Song, Y. "Robust Contrastive Learning
       against Noisy Views", CVPR 2022.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from rince_sklearn import RobustContrastiveEmbedder
    >>> X, y = load_wine(return_X_y=True)
    >>> emb = RobustContrastiveEmbedder(embedding_dim=8, max_epochs=5, random_state=0)
    >>> emb.fit_transform(X).shape
    (178, 8)
    >>> emb.get_feature_names_out()[:2].tolist()
    ['robustcontrastiveembedder0', 'robustcontrastiveembedder1']
    """

    #: the skorch net class that ``fit`` builds (distributed training swaps it)
    _net_class: type[ContrastiveNet] = ContrastiveNet

    _parameter_constraints: dict = {
        "modality": [StrOptions({"auto", "tabular", "image", "graph"})],
        "loss": [_RegisteredLossNames(), type],
        "q": [Interval(Real, 0, 1, closed="right")],
        "lam": [Interval(Real, 0, None, closed="neither")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"auto"}), type],
        "encoder_kwargs": [dict, None],
        "augmentation": [StrOptions({"auto"}), callable, None],
        "supervision": [StrOptions({"none", "labels"})],
        "noise_rate": [Interval(Real, 0, 1, closed="both")],
        "image_shape": [tuple, list, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"32", "bf16-mixed"})],
        "callbacks": [list, None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        modality: str = "auto",
        loss: str = "rince",
        q: float = 0.5,
        lam: float = 0.01,
        temperature: float = 0.5,
        embedding_dim: int = 64,
        projection_dim: int = 64,
        encoder: str | type[nn.Module] = "auto",
        encoder_kwargs: dict | None = None,
        augmentation: Any = "auto",
        supervision: str = "none",
        noise_rate: float = 0.0,
        image_shape: tuple[int, int, int] | None = None,
        max_epochs: int = 50,
        batch_size: int = 256,
        lr: float = 1e-3,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        weight_decay: float = 0.0,
        device: str | torch.device = "auto",
        precision: str = "32",
        callbacks: list | None = None,
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.modality = modality
        self.loss = loss
        self.q = q
        self.lam = lam
        self.temperature = temperature
        self.embedding_dim = embedding_dim
        self.projection_dim = projection_dim
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.augmentation = augmentation
        self.supervision = supervision
        self.noise_rate = noise_rate
        self.image_shape = image_shape
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.device = device
        self.precision = precision
        self.callbacks = callbacks
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- building the parts -----------------------------------------------------
    def _modality(self, X: Any) -> Modality:
        name = self.modality
        if name == "auto":
            name = detect_modality(X, self.image_shape)
        return get_modality(name)

    def _encoder_parts(self, modality: Modality) -> tuple[type[nn.Module], dict]:
        """Return the encoder class and its keyword arguments, sizes filled in."""
        if self.encoder == "auto":
            encoder = modality.default_encoder(self)
        else:
            encoder = self.encoder
            if not (isinstance(encoder, type) and issubclass(encoder, nn.Module)):
                raise TypeError(
                    "encoder must be 'auto' or a subclass of torch.nn.Module, got "
                    f"{encoder!r}."
                )
        kwargs = dict(self.encoder_kwargs or {})
        try:
            accepted = inspect.signature(encoder).parameters
        except (TypeError, ValueError):  # pragma: no cover - C-level classes
            accepted = {}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        sizes = {
            **modality.encoder_size_kwargs(self),
            "embedding_dim": self.embedding_dim,
        }
        for name, value in sizes.items():
            if name not in kwargs and (name in accepted or takes_any):
                kwargs[name] = value
        return encoder, kwargs

    def _resolve_augmentation(self, modality: Modality) -> Any:
        if isinstance(self.augmentation, str) and self.augmentation == "auto":
            return modality.default_augmentation(self)
        return self.augmentation

    def _criterion(self) -> tuple[type[nn.Module], dict[str, float]]:
        """Return the loss class and the loss settings its constructor names."""
        loss = get_loss_class(self.loss) if isinstance(self.loss, str) else self.loss
        if not (isinstance(loss, type) and issubclass(loss, nn.Module)):
            raise TypeError(
                "loss must be a registered name or a subclass of torch.nn.Module, "
                f"got {loss!r}."
            )
        settings = {"q": self.q, "lam": self.lam, "temperature": self.temperature}
        accepted = inspect.signature(loss).parameters
        if self.supervision == "labels":
            forward = inspect.signature(loss.forward).parameters
            if "labels" not in forward and not any(
                p.kind is p.VAR_KEYWORD for p in forward.values()
            ):
                raise ValueError(
                    f"supervision='labels' passes labels= to the loss, but "
                    f"{loss.__name__}.forward takes no labels parameter. Use a "
                    "loss that takes labels (rince, infonce) or supervision='none'."
                )
        return loss, {k: v for k, v in settings.items() if k in accepted}

    def _build_net(self, modality: Modality, seed: int) -> ContrastiveNet:
        """Return a fresh, initialised skorch net for the fitted input."""
        encoder, encoder_kwargs = self._encoder_parts(modality)
        criterion, criterion_kwargs = self._criterion()
        optimizer = (
            _OPTIMIZERS[self.optimizer]
            if isinstance(self.optimizer, str)
            else self.optimizer
        )
        # copies: fitting must not change the objects passed as parameters
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.n_iter_no_change is not None:
            callbacks.append(
                EarlyStopping(
                    monitor="train_loss",
                    patience=self.n_iter_no_change,
                    threshold=self.tol,
                    threshold_mode="abs",
                    load_best=False,
                )
            )
        if self.verbose:
            callbacks.append(ProgressBar())
        net = self._net_class(
            module=ContrastiveModule,
            module__encoder=encoder,
            module__encoder_kwargs=encoder_kwargs,
            module__embedding_dim=self.embedding_dim,
            module__projection_dim=self.projection_dim,
            criterion=criterion,
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size_,
            train_split=None,
            callbacks=callbacks or None,
            device=self.device_,
            verbose=int(self.verbose),
            augmentation=self.augmentation_,
            noise_rate=self.noise_rate,
            seed=seed,
            autocast_dtype=torch.bfloat16 if self.precision == "bf16-mixed" else None,
        )
        return net.initialize()

    # -- scikit-learn API ---------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> RobustContrastiveEmbedder:
        """Train the encoder on ``X``.

        Parameters
        ----------
        X : array-like, DataFrame, or list of graphs
            Training data; see the modality descriptions.
        y : array-like of shape (n_samples,), default=None
            Class labels, used with ``supervision="labels"`` (``-1`` or
            ``None`` marks an unlabelled sample); ignored otherwise, and
            accepted for Pipeline compatibility.

        Returns
        -------
        self : RobustContrastiveEmbedder
            The fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> emb = RobustContrastiveEmbedder(max_epochs=3, random_state=0).fit(X)
        >>> len(emb.history_), emb.n_features_in_, emb.modality_
        (3, 13, 'tabular')
        """
        modality = self._modality(X)
        source = modality.prepare(self, X, reset=True)
        source.with_labels(self._labels(y, source))
        self._initialize_training(modality, source)
        with worker_threads():
            self.net_.partial_fit(source, None)
        self._set_fitted_net(self.net_)
        return self

    def _labels(self, y: Any, source: BatchSource) -> torch.Tensor | None:
        """Return the class codes of ``y`` under ``supervision="labels"``, else None."""
        if self.supervision != "labels":
            return None
        return encode_labels(y, len(source))

    def _initialize_training(self, modality: Modality, source: BatchSource) -> None:
        """Resolve the fitted settings and build a fresh net (``fit``'s start)."""
        n_samples = len(source)
        if n_samples < 2:
            raise ValueError(
                f"Contrastive learning needs at least 2 samples, got {n_samples} "
                "sample(s)."
            )
        self.modality_ = modality.name
        self.device_ = resolve_device(self.device)
        self.batch_size_ = min(self.batch_size, n_samples)
        self.augmentation_ = self._resolve_augmentation(modality)
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        self.net_ = self._build_net(modality, seed)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any = None) -> RobustContrastiveEmbedder:
        """Continue training with one pass over the chunk ``X``.

        The first call on an unfitted estimator initialises everything as
        :meth:`fit` does (the input's description, the net, the optimiser and
        the random streams, all from ``random_state``); each later call runs
        one epoch over ``X`` with the same net, optimiser state and random
        streams, so data larger than memory can stream through in chunks.
        ``max_epochs`` is not used: one call is one pass. ``k`` calls on the
        same ``X`` give the same model as ``fit`` with ``max_epochs=k``, and a
        call after :meth:`fit` continues from the fitted model. Training
        batches of ``batch_size`` are drawn within each chunk, so a chunk
        should hold several batches.

        Parameters
        ----------
        X : array-like, DataFrame, or list of graphs
            One chunk of training data, of the same kind and width as the
            first chunk (at least 2 samples).
        y : array-like of shape (n_samples,), default=None
            The chunk's class labels, used with ``supervision="labels"``;
            ignored otherwise.

        Returns
        -------
        self : RobustContrastiveEmbedder
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X = np.random.default_rng(0).normal(size=(300, 5))
        >>> emb = RobustContrastiveEmbedder(embedding_dim=4, batch_size=50,
        ...                                 random_state=0)
        >>> for chunk in np.array_split(X, 3):
        ...     emb = emb.partial_fit(chunk)
        >>> len(emb.history_), emb.transform(X[:2]).shape
        (3, (2, 4))
        """
        first = not hasattr(self, "net_")
        modality = self._modality(X) if first else get_modality(self.modality_)
        source = modality.prepare(self, X, reset=first)
        source.with_labels(self._labels(y, source))
        if first:
            # the batch size is not capped by the first chunk's length
            self._initialize_training(modality, source)
            self.batch_size_ = self.net_.batch_size = self.batch_size
        elif len(source) < 2:
            raise ValueError(
                f"partial_fit needs at least 2 samples per chunk, got {len(source)}."
            )
        with worker_threads():
            self.net_.partial_fit(source, None, epochs=1)
        self._set_fitted_net(self.net_)
        return self

    def __getstate__(self) -> dict[str, Any]:
        # encoder_ and history_ are views into net_: pickle them once, through
        # the skorch net, whose own pickling maps CUDA tensors to the CPU when
        # the machine that unpickles has no GPU
        state = self.__dict__.copy()
        state.pop("encoder_", None)
        state.pop("history_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "net_" in state:
            self._set_fitted_net(self.net_)
            if self.device_.type == "cuda" and not torch.cuda.is_available():
                self.device_ = torch.device(self.net_.device)  # skorch chose CPU

    def _set_fitted_net(self, net: ContrastiveNet) -> None:
        net.module_.eval()  # a fitted encoder is ready for inference
        self.encoder_ = net.module_.encoder
        self.history_ = net.history

    @property
    def _n_features_out(self) -> int:
        """Output width, for ``get_feature_names_out``."""
        return self.embedding_dim

    def _embed(
        self, source: BatchSource, augment_seed: int | None = None
    ) -> np.ndarray:
        """Return the encoder outputs for every sample of ``source`` (float32).

        With ``augment_seed``, each chunk is first augmented (used by ``score``).
        """
        encoder = self.encoder_
        was_training = encoder.training
        encoder.eval()
        generator = None
        if augment_seed is not None:
            generator = torch.Generator(device=self.device_).manual_seed(augment_seed)
        batch_size = _SCORE_CHUNK if augment_seed is not None else self.batch_size_
        outputs = []
        try:
            with worker_threads(), torch.inference_mode():
                for batch, _ in BatchLoader(source, batch_size=batch_size):
                    batch = move_to_device(batch, self.device_)
                    if generator is not None and self.augmentation_ is not None:
                        batch = call_augmentation(self.augmentation_, batch, generator)
                    outputs.append(encoder(batch).float().cpu())
        finally:
            encoder.train(was_training)
        embedding = torch.cat(outputs).numpy()
        if not np.isfinite(embedding).all():
            raise FloatingPointError(
                "The encoder produced NaN or infinite embeddings. Check the input "
                "for extreme values, or refit with a lower lr or a larger "
                "temperature."
            )
        return embedding

    def transform(self, X: Any) -> np.ndarray:
        """Embed ``X`` with the trained encoder (eval mode, no augmentation).

        Parameters
        ----------
        X : array-like, DataFrame, or list of graphs
            Data of the same kind and width as in ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, embedding_dim), dtype float32
            The embeddings.

        Examples
        --------
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> emb = RobustContrastiveEmbedder(embedding_dim=4, max_epochs=2,
        ...                                 random_state=0)
        >>> embedding = emb.fit(X).transform(X[:3])
        >>> embedding.shape, embedding.dtype
        ((3, 4), dtype('float32'))
        """
        check_is_fitted(self)
        source = get_modality(self.modality_).prepare(self, X, reset=False)
        return self._embed(source)

    def score(self, X: Any, y: Any = None) -> float:
        """Self-supervised score: how well augmented views find each other.

        Every sample of ``X`` is augmented twice (with a fixed seed, in chunks of
        256 samples) and both views are embedded by the encoder. For each
        sample, the score counts the fraction of the other samples' second
        views that are less cosine-similar to its first view than its own
        second view is (ties count half), and averages over samples: the area
        under the ROC curve of retrieving the positive view. 1.0 is perfect,
        0.5 is chance. It depends on the encoder and the augmentation only, not
        on ``q``, ``lam``, ``temperature`` or ``batch_size``, so models trained
        with different losses can be compared, and ``GridSearchCV`` can tune
        the estimator without labels. It needs ``augmentation``: without one,
        every view finds itself and the score is 1.0.

        Parameters
        ----------
        X : array-like, DataFrame, or list of graphs
            Data to score (at least 2 samples).
        y : None
            Ignored.

        Returns
        -------
        score : float
            Retrieval AUC in ``[0, 1]``.

        Examples
        --------
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> emb = RobustContrastiveEmbedder(max_epochs=5, random_state=0).fit(X)
        >>> 0.5 < emb.score(X) <= 1.0  # better than chance
        True
        """
        check_is_fitted(self)
        source = get_modality(self.modality_).prepare(self, X, reset=False)
        n_samples = len(source)
        if n_samples < 2:
            raise ValueError(
                f"score needs at least 2 samples to rank views, got {n_samples}."
            )
        h1 = torch.from_numpy(self._embed(source, augment_seed=0))
        h2 = torch.from_numpy(self._embed(source, augment_seed=1))
        h1 = torch.nn.functional.normalize(h1, dim=1)  # (n, embedding_dim)
        h2 = torch.nn.functional.normalize(h2, dim=1)  # (n, embedding_dim)
        total = 0.0
        for start in range(0, n_samples, 1024):
            sim = h1[start : start + 1024] @ h2.T  # (chunk, n)
            rows = torch.arange(len(sim))
            positive = sim[rows, rows + start][:, None]  # (chunk, 1)
            below = (sim < positive).sum(dim=1).double()  # (chunk,)
            ties = (sim == positive).sum(dim=1).double() - 1  # self excluded
            total += float(((below + 0.5 * ties) / (n_samples - 1)).sum())
        return total / n_samples

    # -- persistence ----------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Save the fitted estimator to one file, without pickled objects.

        Weights are stored as tensors and parameters, fitted attributes and the
        training history as JSON; :meth:`load` reads them back with
        ``torch.load(weights_only=True)``, so a tampered file cannot run code.
        Custom encoders and augmentations are stored by import path (and, for
        :class:`~rince_sklearn.augment.Augmentation` instances, their
        parameters); callbacks are not stored.

        Parameters
        ----------
        path : str or Path
            Destination file (conventionally ``*.pt``).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> emb = RobustContrastiveEmbedder(max_epochs=2, random_state=0).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "embedder.pt")
        >>> emb.save(path)
        >>> loaded = RobustContrastiveEmbedder.load(path, device="cpu")
        >>> np.allclose(loaded.transform(X), emb.transform(X))
        True
        """
        from ._persistence import save_estimator

        check_is_fitted(self)
        save_estimator(self, path)

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device | None = None
    ) -> RobustContrastiveEmbedder:
        """Load an estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            File written by :meth:`save`.
        device : str or torch.device, default=None
            Where to put the model; None uses the saved ``device`` parameter
            (``"auto"``: CUDA when available). A model trained on GPU loads on
            a CPU-only machine.

        Returns
        -------
        estimator : RobustContrastiveEmbedder
            The fitted estimator.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "embedder.pt")
        >>> RobustContrastiveEmbedder(max_epochs=2, random_state=0).fit(X).save(path)
        >>> RobustContrastiveEmbedder.load(path, device="cpu").transform(X).shape
        (178, 64)
        """
        from ._persistence import load_estimator

        return load_estimator(cls, path, device=device)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
