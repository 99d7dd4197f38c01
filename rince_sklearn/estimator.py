"""RobustContrastiveEmbedder: contrastive representation learning as a transformer."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
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
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.history import History
from torch import nn

from ._device import available_device, resolve_device
from ._hardware import check_precision, resolve_precision
from ._memory import check_step_memory
from ._net import ContrastiveNet
from ._persistence import (
    ClassAllowList,
    FileFormatError,
    Payload,
    check_architecture,
    check_int,
    check_positive,
    check_str,
    check_str_array,
    check_str_dict,
    read_payload,
    write_payload,
)
from ._persistence.mapping import declared_attributes, decode_payload, to_payload
from ._progress import FitProgress
from ._version import __version__
from .augment._base import (
    check_augmentation,
    fit_augmentation,
    set_augmentation_state,
)
from .batching import BatchSource, move_to_device
from .callbacks import QWarmup, ValidationScore, WarmupCosineLR
from .encoders.head import ContrastiveModule
from .losses import get_loss_class, registered_loss_names
from .metrics import retrieval_auc
from .modalities import Modality, detect_modality, get_modality
from .modalities._base import modality_names
from .supervision import encode_labels
from .threads import (
    MAX_N_THREADS,
    _restore_malloc_once,
    resolve_n_threads,
    torch_threads,
)

__all__ = ["RobustContrastiveEmbedder"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

#: rows augmented together when scoring: fixed, so that ``score`` does not
#: depend on ``batch_size``
_SCORE_CHUNK = 256
#: the most samples ``transform`` embeds at once
_TRANSFORM_CHUNK = 256

#: parameters that may hold a class, with the base class it must derive from
_CLASS_PARAMETERS: dict[str, type] = {
    "encoder": nn.Module,
    "optimizer": torch.optim.Optimizer,
    "loss": nn.Module,
}


class NonFiniteEmbeddingError(FloatingPointError, ValueError):
    """The encoder produced NaN or infinite embeddings (of extreme input, say).

    A ``FloatingPointError`` as before, and a ``ValueError``: the error a bad
    input (or a model file whose weights overflow) gets everywhere else.
    """


def _finite(embedding: torch.Tensor) -> torch.Tensor:
    """Return ``embedding``, or raise if the encoder produced NaN or inf."""
    if not bool(torch.isfinite(embedding).all()):
        raise NonFiniteEmbeddingError(
            "The encoder produced NaN or infinite embeddings. Check the input "
            "for extreme values, or refit with a lower lr or a larger "
            "temperature."
        )
    return embedding


def score_views(net: ContrastiveNet, source: BatchSource) -> float:
    """Return the label-free score of ``source``: the retrieval AUC of two views.

    Every sample is augmented twice (seeds 0 and 1, in chunks of 256 samples,
    so the score does not depend on ``batch_size``) and embedded; see
    :meth:`RobustContrastiveEmbedder.score`. Also the ``valid_score`` of
    ``validation_fraction``.
    """
    views = []
    for seed in (0, 1):
        generator = torch.Generator(device=net.device).manual_seed(seed)
        views.append(
            _finite(net.embed(source, batch_size=_SCORE_CHUNK, generator=generator))
        )
    return retrieval_auc(views[0], views[1])


class _RegistryOptions(StrOptions):
    """``StrOptions`` read from a registry each time the constraint is checked.

    The estimator's ``modality`` and ``loss`` accept the names registered
    when ``fit`` validates them (a modality or loss registered after the class
    was defined included), and the error lists the current names.
    """

    def __init__(self, names: Callable[[], Iterable[str]], extra: tuple = ()) -> None:
        self._names = names
        self._extra = tuple(extra)
        # not StrOptions.__init__: it would store a fixed set of options
        super(Options, self).__init__()
        self.type = str
        self.deprecated: set[str] = set()

    @property
    def options(self) -> list[str]:
        """The extra options, then the registered names."""
        return [*self._extra, *self._names()]


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
    modality : str, default="auto"
        Kind of input: ``"tabular"``, ``"image"``, ``"graph"``, the name of a
        modality added with :func:`~rince_sklearn.modalities.register_modality`,
        or ``"auto"``: a list of graphs is a graph input, a 3-D or 4-D array
        (or any input when ``image_shape`` is set) is an image input, a 2-D
        array is tabular. The input formats and the default encoder and
        augmentation of each modality are in the user guide's
        :ref:`table of modality defaults <modality-defaults>`.
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
    temperature : float or "auto", default="auto"
        Divides cosine similarities in the loss, > 0. ``"auto"``: the
        modality's default (see :ref:`defaults`), resolved into
        ``temperature_``.
    embedding_dim : int or "auto", default="auto"
        Width of ``transform``'s output (the encoder's output), resolved into
        ``embedding_dim_``. ``"auto"``: with the default encoder of tabular
        and image inputs, the encoder's own last layer, with no output layer
        (the MLP's last hidden layer, 256 wide; the CNN's pooled features of
        every stage, 224 wide at 28x28), which a linear probe reads better
        than a narrower linear output (``benchmarks/results/quality_*.md``);
        192 for graphs (the pooled rows of the GIN's 3 layers, 64 wide each,
        concatenated, no output layer); 64 for custom encoders (or
        ``encoder_kwargs["embedding_dim"]``).
    projection_dim : int, default=64
        Width of the projection head's output, where the loss is computed.
    encoder : "auto" or subclass of torch.nn.Module, default="auto"
        ``"auto"`` uses the modality's default encoder (see
        :ref:`modality defaults <modality-defaults>` and :ref:`defaults`).
        A class is built as ``encoder(**encoder_kwargs)``, with ``in_features``
        (tabular, graph node features) or ``in_channels`` (images) and
        ``embedding_dim`` added when its constructor accepts them and
        ``encoder_kwargs`` does not set them. It must map a batch to
        ``(batch, embedding_dim)``.
    encoder_kwargs : dict, default=None
        Keyword arguments of the encoder (also of the default one, where they
        override the modality's default width and depth); resolved into
        ``encoder_kwargs_``.
    augmentation : "auto", callable or None, default="auto"
        ``"auto"`` uses the modality's default augmentation (see
        :ref:`modality defaults <modality-defaults>`); the estimator fits a
        copy on the training data when the augmentation has a ``fit`` step
        (see :ref:`custom`). A callable maps a
        batch (a float tensor, or the batched graph) to a random view of it
        and is called once per view; it receives ``generator=`` (seeded from
        ``random_state``) if it accepts that keyword. None uses the batch
        itself as both views (only useful with ``noise_rate`` or for tests).
    supervision : {"none", "labels"}, default="none"
        ``"labels"``: ``fit(X, y)`` needs class labels ``y``, and an anchor's
        positives are its other view and every view in the batch with the same
        label (supervised contrastive learning; with RINCE, robust to noisy
        labels). Unlabelled samples, marked ``-1`` (numeric labels) or
        ``None``, have only their own other view as a positive. Batches are
        drawn by plain shuffling. ``"none"``: ``y`` is ignored. See
        :ref:`labels`.
    own_view_weight : float in [0, 1] or None, default=0.5
        With ``supervision="labels"``: the weight of an anchor's own other
        view among its positives, its same-label positives sharing the rest
        (None: every positive weighs the same, as in SupCon; 1: the labels
        are ignored). A wrong label makes a same-label positive a noisy view
        while the own view stays true: at 60% label noise, 0.5 kept 8 (digits)
        and 4.5 (Fashion-MNIST) points more probe accuracy than equal weights,
        and cost under a point without noise; see :ref:`labels`. Passed to the
        loss when its constructor takes ``own_view_weight``; ignored without
        labels.
    noise_rate : float, default=0.0
        Fraction of positive pairs in each training batch replaced by false
        positive pairs (a view of sample ``i`` with a view of another sample),
        to study robustness to noisy views.
    image_shape : tuple of int, default=None
        ``(C, H, W)``: read flat 2-D rows as images. Image inputs may also be
        ``(n, H, W)`` or ``(n, C, H, W)`` arrays; uint8 images are read as
        ``value / 255``. The fitted shape is ``image_shape_``.
    max_epochs : int or "auto", default="auto"
        Passes over the data. ``"auto"``: the modality's default (it may depend
        on the number of samples), resolved into ``max_epochs_``.
    batch_size : int, default=256
        Samples per training batch (at least 2); smaller data uses one batch of
        all samples. Every training batch has this size: the last incomplete
        batch of each epoch is left out (different samples each epoch), since
        the loss's scale depends on the batch size. Also the batch size of
        ``transform``, which embeds every sample.
    lr : float or "auto", default="auto"
        Peak learning rate. ``"auto"``: the modality's default, resolved into
        ``lr_``.
    lr_schedule : {"warmup_cosine"} or None, default="warmup_cosine"
        ``"warmup_cosine"``: the learning rate rises linearly over the first
        10% of the optimiser steps, then decays to 0 along a cosine over the
        rest of ``fit`` (:class:`~rince_sklearn.callbacks.WarmupCosineLR`). In
        ``partial_fit`` the total is unknown: the rate warms up over 10% of
        the first call's batches and then stays at ``lr`` (also after a
        ``fit``). None: constant
        ``lr`` (pass your own schedule in ``callbacks``).
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser.
    weight_decay : float, default=0.0
        Weight decay of the optimiser.
    device : str or torch.device, default="auto"
        ``"auto"`` picks CUDA when available, else CPU.
    precision : {"auto", "32", "bf16-mixed"}, default="auto"
        ``"bf16-mixed"`` runs the training forward passes under bfloat16
        autocast; the weights stay float32 and the loss is computed in
        float32. ``"32"`` trains in float32 throughout. ``"auto"`` (resolved
        into ``precision_`` at ``fit``) depends on the modality and the
        device: ``"bf16-mixed"`` for images on a device that computes
        bfloat16 natively (a CPU with AVX512_BF16 or AMX, a CUDA GPU of
        compute capability 8.0 or later), where a default image fit ran
        1.4x faster with equal probe accuracy; ``"32"`` for tabular and
        graph inputs (small matrix products, sums over nodes) and on devices
        that only emulate bfloat16, where it is several times slower.
        ``transform`` and ``score`` run in float32 whatever the training
        precision, so a model's embeddings do not depend on the machine that
        computes them. See :ref:`precision`.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks, for example :class:`skorch.callbacks.LRScheduler`.
    n_iter_no_change : int, default=None
        When set, stop once the training loss has not improved by at least
        ``tol`` for this many epochs (early stopping on the training loss).
    tol : float, default=1e-4
        Minimum absolute improvement of the training loss for early stopping.
    validation_fraction : float in (0, 0.5] or None, default=None
        Hold out this fraction of the training samples (at least 2, drawn
        with ``random_state``) and record the label-free :meth:`score` of
        the held-out samples after every ``validation_every`` epochs as
        ``valid_score`` in ``history_`` (printed with ``verbose=1``), as
        skorch prints ``valid_loss``: it tells whether more epochs still
        improve the embedding. The held-out samples are not trained on.
    validation_every : int, default=5
        Epochs between two validation scores (the last epoch is always
        scored).
    n_threads : int, default=None
        Torch intra-op threads used by ``fit``, ``partial_fit``, ``transform``
        and ``score``; torch's setting is restored afterwards. Named and read as
        the ``n_threads`` of scikit-learn's OpenMP code: ``n_jobs`` counts
        parallel fits (``GridSearchCV(n_jobs=...)``), this counts the threads
        inside one. None (the default) uses 1 thread, measured fastest for the
        default models on small machines, idle and under load (see
        :doc:`/scaling`); a positive number is used as given, also in joblib
        and Dask workers; ``-1`` uses one thread per available core. None or a
        fixed number gives the same model wherever the fit runs (main process
        or worker); ``-1`` depends on the machine's core count.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, augmentation, noisy pairing and shuffling: the same
        seed gives the same embeddings on CPU.
    verbose : int, default=0
        0: silent, as scikit-learn estimators are by default; 1: progress of
        the whole fit, with one line per epoch (its mean training loss, its
        time, the time left for the fit) and, on a terminal, a bar over all
        epochs redrawn in place. Output that is not a terminal (a log file, a
        notebook) gets plain lines without carriage returns.

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
    lr_, temperature_, max_epochs_ : float, float, int
        The values used: the parameters, or the modality's defaults where
        they are ``"auto"``.
    encoder_kwargs_ : dict
        The encoder's keyword arguments used (the default encoder's width and
        depth from the modality, overridden by ``encoder_kwargs``).
    embedding_dim_ : int
        Width of ``transform``'s output: ``embedding_dim``, or what ``"auto"``
        resolved to.
    precision_ : {"32", "bf16-mixed"}
        The training precision: ``precision``, or what ``"auto"`` resolved to.
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

    #: fitted attributes that ``save`` stores, each with the check that
    #: ``load`` applies to the stored value; a modality adds its own
    #: (:attr:`~rince_sklearn.modalities.Modality.fitted_attributes`)
    _saved_attributes: dict[str, Callable[[Any], Any]] = {
        "n_features_in_": check_int(1),
        "feature_names_in_": check_str_array,
        "modality_": check_str,
        "batch_size_": check_int(1),
        "lr_": check_positive,
        "temperature_": check_positive,
        "max_epochs_": check_int(1),
        "encoder_kwargs_": check_str_dict,
        "embedding_dim_": check_int(1),
        "precision_": check_precision,
    }
    #: fitted attributes that ``load`` and unpickling rebuild instead
    #: parameters that may hold a class, with the base class it must derive from
    _class_parameters: dict[str, type] = _CLASS_PARAMETERS
    _rebuilt_attributes: tuple[str, ...] = (
        "net_",
        "encoder_",
        "history_",
        "augmentation_",
        "device_",
    )

    # the fitted input's description, which the modality records
    # (rince_sklearn.modalities.ModalityHost); declared for type checkers only
    n_features_in_: int
    feature_names_in_: np.ndarray
    image_shape_: tuple[int, int, int]
    input_dtype_: str
    input_range_: tuple[float, float]

    _parameter_constraints: dict = {
        "modality": [_RegistryOptions(modality_names, extra=("auto",))],
        "loss": [_RegistryOptions(registered_loss_names), type],
        "q": [Interval(Real, 0, 1, closed="right")],
        "lam": [Interval(Real, 0, None, closed="neither")],
        "temperature": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "embedding_dim": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"auto"}), type],
        "encoder_kwargs": [dict, None],
        "augmentation": [StrOptions({"auto"}), callable, None],
        "supervision": [StrOptions({"none", "labels"})],
        "own_view_weight": [Interval(Real, 0, 1, closed="both"), None],
        "noise_rate": [Interval(Real, 0, 1, closed="both")],
        "image_shape": [tuple, list, None],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"warmup_cosine"}), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "32", "bf16-mixed"})],
        "callbacks": [list, None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="right"), None],
        "validation_every": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_threads": [
            Interval(Integral, 1, MAX_N_THREADS, closed="both"),
            Interval(Integral, -MAX_N_THREADS, -1, closed="both"),
            None,
        ],
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
        temperature: float | str = "auto",
        embedding_dim: int | str = "auto",
        projection_dim: int = 64,
        encoder: str | type[nn.Module] = "auto",
        encoder_kwargs: dict | None = None,
        augmentation: Any = "auto",
        supervision: str = "none",
        own_view_weight: float | None = 0.5,
        noise_rate: float = 0.0,
        image_shape: tuple[int, int, int] | None = None,
        max_epochs: int | str = "auto",
        batch_size: int = 256,
        lr: float | str = "auto",
        lr_schedule: str | None = "warmup_cosine",
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        weight_decay: float = 0.0,
        device: str | torch.device = "auto",
        precision: str = "auto",
        callbacks: list | None = None,
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        validation_fraction: float | None = None,
        validation_every: int = 5,
        n_threads: int | None = None,
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
        self.own_view_weight = own_view_weight
        self.noise_rate = noise_rate
        self.image_shape = image_shape
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.device = device
        self.precision = precision
        self.callbacks = callbacks
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.validation_every = validation_every
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # -- building the parts -----------------------------------------------------
    def _modality(self, X: Any) -> Modality:
        name = self.modality
        if name == "auto":
            name = detect_modality(X, self.image_shape)
        return get_modality(name)

    def _encoder_parts(
        self, modality: Modality, embedding_dim: int | None
    ) -> tuple[type[nn.Module], dict]:
        """Return the encoder class and its keyword arguments, sizes filled in."""
        encoder: Any = self.encoder
        if isinstance(encoder, str) and encoder == "auto":
            encoder = modality.default_encoder(self)
        elif not (isinstance(encoder, type) and issubclass(encoder, nn.Module)):
            raise TypeError(
                "encoder must be 'auto' or a subclass of torch.nn.Module, got "
                f"{encoder!r}."
            )
        kwargs = dict(self.encoder_kwargs_)
        accepted: Mapping[str, inspect.Parameter]
        try:
            accepted = inspect.signature(encoder).parameters
        except (TypeError, ValueError):  # pragma: no cover - C-level classes
            accepted = {}
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        sizes = {
            **modality.encoder_size_kwargs(self),
            "embedding_dim": embedding_dim,
        }
        for name, value in sizes.items():
            if name not in kwargs and (name in accepted or takes_any):
                kwargs[name] = value
        return encoder, kwargs

    def _resolve_augmentation(self, modality: Modality) -> Any:
        """Return the augmentation to train with, its parameters checked."""
        if isinstance(self.augmentation, str) and self.augmentation == "auto":
            return modality.default_augmentation(self)
        return check_augmentation(self.augmentation, modality.name)

    def _criterion(self) -> tuple[type[nn.Module], dict[str, float]]:
        """Return the loss class and the loss settings its constructor names."""
        loss = get_loss_class(self.loss) if isinstance(self.loss, str) else self.loss
        if not (isinstance(loss, type) and issubclass(loss, nn.Module)):
            raise TypeError(
                "loss must be a registered name or a subclass of torch.nn.Module, "
                f"got {loss!r}."
            )
        settings = {
            "q": self.q,
            "lam": self.lam,
            "temperature": self.temperature_,
            "own_view_weight": self.own_view_weight,
        }
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

    def _module_kwargs(self, modality: Modality) -> dict[str, Any]:
        """Return the arguments of the :class:`ContrastiveModule` to train."""
        encoder, encoder_kwargs = self._encoder_parts(modality, self.embedding_dim_)
        return {
            "encoder": encoder,
            "encoder_kwargs": encoder_kwargs,
            "embedding_dim": self.embedding_dim_,
            "projection_dim": self.projection_dim,
        }

    def _build_net(
        self,
        modality: Modality,
        seed: int,
        module_kwargs: dict | None = None,
        held_out: Any = None,
    ) -> ContrastiveNet:
        """Return a fresh, initialised skorch net for the fitted input."""
        if module_kwargs is None:
            module_kwargs = self._module_kwargs(modality)
        criterion, criterion_kwargs = self._criterion()
        optimizer = (
            _OPTIMIZERS[self.optimizer]
            if isinstance(self.optimizer, str)
            else self.optimizer
        )
        # copies: fitting must not change the objects passed as parameters
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.lr_schedule == "warmup_cosine":
            callbacks.append(
                ("lr_schedule", WarmupCosineLR(warmup=0.1, max_epochs=self.max_epochs_))
            )
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
        if held_out is not None:  # before the progress line that prints it
            callbacks.append(
                (
                    "validation",
                    ValidationScore(held_out, score_views, every=self.validation_every),
                )
            )
        if self.verbose:
            callbacks.append(("progress", FitProgress()))
        net = self._net_class(
            module=ContrastiveModule,
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            criterion=criterion,
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr_,
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size_,
            train_split=None,
            callbacks=callbacks or None,
            callbacks__print_log=None,  # FitProgress reports the epochs
            device=self.device_,
            verbose=int(self.verbose),
            augmentation=self.augmentation_,
            noise_rate=self.noise_rate,
            seed=seed,
            autocast_dtype=torch.bfloat16 if self.precision_ == "bf16-mixed" else None,
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
        with self._unchanged_on_failure(), self._threads():
            modality = self._modality(X)
            source = modality.prepare(self, X, reset=True)
            source.with_labels(self._labels(y, source))
            source, held_out = self._hold_out(source)
            self._initialize_training(modality, source, held_out)
            self.net_.partial_fit(source, None)
            self._set_fitted_net(self.net_)
        return self

    def _hold_out(self, source: BatchSource) -> tuple[BatchSource, Any]:
        """Split off ``validation_fraction`` of the samples (None: nothing)."""
        if self.validation_fraction is None:
            return source, None
        n = len(source)
        n_valid = max(2, int(round(self.validation_fraction * n)))
        if n - n_valid < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} holds out "
                f"{n_valid} of {n} samples, which leaves fewer than 2 to train on; "
                "pass more samples or validation_fraction=None."
            )
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
        return source.subset(order[n_valid:].sort().values), source.subset(
            order[:n_valid].sort().values
        )

    def _labels(self, y: Any, source: BatchSource) -> torch.Tensor | None:
        """Return the class codes of ``y`` under ``supervision="labels"``, else None."""
        if self.supervision != "labels":
            return None
        return encode_labels(y, len(source))

    def _threads(self) -> AbstractContextManager[int]:
        """Run torch on ``n_threads`` threads inside the block (all of a fit)."""
        return torch_threads(resolve_n_threads(self.n_threads))

    @contextmanager
    def _unchanged_on_failure(self) -> Iterator[None]:
        """Leave the estimator as it was if the block raises (Ctrl-C included).

        ``fit`` builds a new net, so restoring the attributes restores the
        previous model; ``partial_fit`` continues the fitted net in place, so
        its weights, optimiser state, random streams and history are
        snapshotted first and put back on failure.
        """
        saved = dict(self.__dict__)
        net = saved.get("net_")
        snapshot = net.snapshot() if net is not None else None
        try:
            yield
        except BaseException:
            if net is not None and snapshot is not None:
                net.restore(snapshot)
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _initialize_training(
        self, modality: Modality, source: BatchSource, held_out: Any = None
    ) -> None:
        """Resolve the fitted settings and build a fresh net (``fit``'s start)."""
        n_samples = len(source)
        if n_samples < 2:
            raise ValueError(
                f"Contrastive learning needs at least 2 samples, got {n_samples} "
                "sample(s)."
            )
        self.modality_ = modality.name
        # drop what a fit on another modality left (image_shape_ after images)
        keep = set(declared_attributes(type(self), modality))
        for name in [n for n in vars(self) if n.endswith("_") and n[0] != "_"]:
            if name not in keep:
                delattr(self, name)
        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_, modality.name)
        _restore_malloc_once()  # Dask workers' malloc setting (see threads.py)
        self.batch_size_ = min(self.batch_size, n_samples)
        self._resolve_defaults(modality, n_samples)
        self.augmentation_ = fit_augmentation(
            self._resolve_augmentation(modality),
            source.fit_data,
        )
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        self.net_ = self._build_net(modality, seed, held_out=held_out)
        check_step_memory(
            self.net_.module_.encoder,
            move_to_device(source.take(torch.arange(1)), self.device_),
            self.batch_size_,
        )

    def _resolve_defaults(self, modality: Modality, n_samples: int) -> None:
        """Set ``lr_``, ``temperature_``, ``max_epochs_``, ``encoder_kwargs_``."""
        defaults = modality.defaults(self, n_samples)
        for name in ("lr", "temperature", "max_epochs"):
            value = getattr(self, name)
            auto = isinstance(value, str) and value == "auto"
            setattr(self, f"{name}_", defaults[name] if auto else value)
        kwargs = dict(self.encoder_kwargs or {})
        default_encoder = isinstance(self.encoder, str) and self.encoder == "auto"
        if default_encoder:
            kwargs = {**defaults.get("encoder_kwargs", {}), **kwargs}
        self.encoder_kwargs_ = kwargs
        self.embedding_dim_ = self._resolve_embedding_dim(
            modality,
            defaults.get("embedding_dim", modality.FALLBACK_EMBEDDING_DIM),
            default_encoder,
        )

    def _resolve_embedding_dim(
        self, modality: Modality, default: int | None, default_encoder: bool
    ) -> int:
        """Return the embedding's width (``embedding_dim``, or what "auto" gives).

        A width in ``encoder_kwargs`` is the encoder's (None there: its own
        last layer, read from it); otherwise ``embedding_dim`` if it is a
        number; for ``"auto"``, with the default encoder, the modality's
        default, where None means the encoder's own last layer: it is built
        without an output layer (``embedding_dim=None`` in
        ``encoder_kwargs_``); an encoder class passed by the user gets the
        modality's fallback width. The width of a last layer is read from the
        encoder built on the ``meta`` device (no memory, no computation).
        """
        auto = isinstance(self.embedding_dim, str) and self.embedding_dim == "auto"
        if "embedding_dim" in self.encoder_kwargs_:
            given = self.encoder_kwargs_["embedding_dim"]
            width = self._encoder_width(modality) if given is None else int(given)
            if not auto and width != self.embedding_dim:
                raise ValueError(
                    f"embedding_dim={self.embedding_dim!r} but the encoder outputs "
                    f"{width} features (encoder_kwargs['embedding_dim']={given!r}): "
                    "set the width in one place."
                )
            return width
        if not auto:
            return int(self.embedding_dim)
        if not default_encoder:
            return modality.FALLBACK_EMBEDDING_DIM
        if default is not None:
            return int(default)
        self.encoder_kwargs_["embedding_dim"] = None
        return self._encoder_width(modality)

    def _encoder_width(self, modality: Modality) -> int:
        """Read the output width of the encoder that ``encoder_kwargs_`` builds."""
        encoder, kwargs = self._encoder_parts(modality, embedding_dim=None)
        name = getattr(encoder, "__name__", encoder)
        try:
            with torch.device("meta"):
                width = getattr(encoder(**kwargs), "embedding_dim", None)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} could not be built with embedding_dim=None (its own last "
                f"layer): {exc}. Set embedding_dim to its output width."
            ) from exc
        if not isinstance(width, Integral) or isinstance(width, bool) or width < 1:
            raise ValueError(
                f"{name} was built with "
                "embedding_dim=None (its own last layer), but it does not say how "
                "wide its output is (an int attribute embedding_dim): set "
                "embedding_dim to its output width."
            )
        return int(width)

    def _hold_schedules(self) -> None:
        """Stop the schedules' decay: ``partial_fit`` has no known end.

        Every :class:`~rince_sklearn.callbacks.WarmupCosineLR` (the default one
        or one in ``callbacks``) and :class:`~rince_sklearn.callbacks.QWarmup`
        is held: warmups then span a fraction of the first call's batches.
        """
        for _, callback in self.net_.callbacks_:
            if isinstance(callback, (WarmupCosineLR, QWarmup)):
                callback.hold()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any = None) -> RobustContrastiveEmbedder:
        """Continue training with one pass over the chunk ``X``.

        The first call on an unfitted estimator initialises everything as
        :meth:`fit` does (the input's description, the net, the optimiser and
        the random streams, all from ``random_state``); each later call runs
        one epoch over ``X`` with the same net, optimiser state and random
        streams, so data larger than memory can stream through in chunks.
        ``max_epochs`` is not used: one call is one pass. With no known total,
        the default learning-rate schedule warms up over 10% of the first
        call's batches and then keeps ``lr`` (no cosine decay; a call after
        :meth:`fit`, whose schedule has ended, continues at ``lr``). With
        ``lr_schedule=None``, ``k`` calls on the same ``X`` give the same
        model as ``fit`` with ``max_epochs=k``, and a call after :meth:`fit`
        continues from the fitted model as one more epoch of ``fit`` would.
        Training batches of ``batch_size`` are drawn within each chunk, so a
        chunk should hold several batches.

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
        with self._unchanged_on_failure(), self._threads():
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
                    f"partial_fit needs at least 2 samples per chunk, got "
                    f"{len(source)}."
                )
            self._hold_schedules()
            if self.verbose:  # one pass per call: the progress's total
                dict(self.net_.callbacks_)["progress"].epochs = 1
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
        if "net_" in state:  # skorch has put the net on an available device
            self._set_fitted_net(self.net_)

    def _set_fitted_net(self, net: ContrastiveNet) -> None:
        """Adopt a trained (or restored) net: the last step of fit, load, unpickle."""
        net.module_.eval()  # a fitted encoder is ready for inference
        self.net_ = net
        self.encoder_ = net.module_.encoder
        self.history_ = net.history
        self.device_ = torch.device(net.device)

    @property
    def _n_features_out(self) -> int:
        """Output width, for ``get_feature_names_out``."""
        return self.embedding_dim_

    def _embed(self, source: BatchSource) -> np.ndarray:
        """Return the encoder outputs for every sample of ``source`` (float32)."""
        with self._threads():
            # chunks of one size per model (subset invariance), bounded whatever
            # batch_size_ says (a file's, say): transform's memory stays small
            chunk = min(self.batch_size_, _TRANSFORM_CHUNK)
            embedding = self.net_.embed(source, batch_size=chunk)
        return _finite(embedding).numpy()

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

        It is a weak guide to downstream accuracy. In
        ``benchmarks/score_study.py`` (24 settings of ``q``, ``lam``,
        ``temperature`` and ``max_epochs`` per data set), its Spearman
        correlation with a linear probe's held-out accuracy was -0.29, -0.18
        and 0.56 on wine, breast cancer and digits, and 0.41, 0.51 and -0.41
        on iris, digits as images and Fashion-MNIST rows; it disagrees with the
        probe mainly about training length (more epochs raise the AUC, and
        lowered the probe's accuracy on the small tables). No label-free
        candidate tried there (RankMe, alignment and uniformity, k-NN
        agreement, products) did better on the held-out sets. With a few
        labels, rank a Pipeline by its downstream score instead.

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
        with self._threads():
            return score_views(self.net_, source)

    # -- persistence ----------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Save the fitted estimator to one file, without pickled objects.

        Weights are stored as tensors, and parameters, fitted attributes and
        the training history as JSON; :meth:`load` reads them back without
        unpickling objects, importing modules or calling functions named in
        the file. Classes (a custom encoder, optimiser or loss) are stored by
        name, :class:`~rince_sklearn.augment.Augmentation` objects by class
        name and parameters; plain functions cannot be saved (use pickle or
        joblib for those). Callbacks are not stored.

        Saving to a path is atomic: the file is written next to its
        destination and renamed over it once complete, so a failed or
        interrupted ``save`` leaves the previous file as it was. A symbolic
        link at ``path`` is replaced, not followed.

        Parameters
        ----------
        path : str, Path or binary file object
            Destination file (conventionally ``*.pt``).

        Raises
        ------
        ValueError
            A parameter cannot be saved without pickling (nothing is written).
        OSError
            The file could not be written (the message names the path).

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
        check_is_fitted(self)
        write_payload(to_payload(self, __version__), path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        trusted: Iterable[type] = (),
    ) -> RobustContrastiveEmbedder:
        """Load an estimator written by :meth:`save`.

        Loading runs no code from the file: nothing is unpickled, imported or
        called. Classes named in the file are looked up in an allow-list
        (rince_sklearn's own encoders, losses and augmentations, and torch's
        optimisers); a custom class must be passed in ``trusted``. Parameters
        and fitted attributes are checked before anything is built, the model
        is built only if its architecture matches the weights in the file, and
        a file whose content would inflate beyond its size is refused.

        Parameters
        ----------
        path : str, Path or binary file object
            File written by :meth:`save`.
        device : str or torch.device, default=None
            Where to put the model; None uses the saved ``device`` parameter
            (``"auto"``: CUDA when available). A model trained on GPU loads on
            a CPU-only machine.
        trusted : iterable of classes, default=()
            Your own classes that the file may name: custom encoders and
            losses (``torch.nn.Module`` subclasses), optimisers
            (``torch.optim.Optimizer`` subclasses) and augmentations
            (:class:`~rince_sklearn.augment.Augmentation` subclasses).

        Returns
        -------
        estimator : RobustContrastiveEmbedder
            The fitted estimator.

        Raises
        ------
        ValueError
            The file is missing, was not written by :meth:`save`, is malformed,
            names a class that is not allowed, or does not match its weights;
            the message says which.
        TypeError
            ``trusted`` holds something other than such classes.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_wine
        >>> from rince_sklearn import RobustContrastiveEmbedder
        >>> X, _ = load_wine(return_X_y=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "embedder.pt")
        >>> RobustContrastiveEmbedder(max_epochs=2, random_state=0).fit(X).save(path)
        >>> RobustContrastiveEmbedder.load(path, device="cpu").transform(X).shape
        (178, 256)
        """
        allow = ClassAllowList(trusted)
        payload = read_payload(path)
        try:
            decoded = decode_payload(cls, payload, allow, device=device)
            estimator = cls(**decoded.params)
            for name, value in decoded.fitted.items():
                setattr(estimator, name, value)
            estimator._restore(decoded.modality, payload)
            return estimator
        except RecursionError:
            raise FileFormatError(
                f"{payload.source} nests its values too deeply."
            ) from None
        except (ValueError, TypeError) as exc:
            if payload.source in str(exc):
                raise
            wrapped = FileFormatError if isinstance(exc, ValueError) else TypeError
            raise wrapped(f"{payload.source}: {exc}") from exc
        except (
            RuntimeError, MemoryError, IndexError, KeyError, AttributeError,
            OverflowError, NotImplementedError,
        ) as exc:  # fmt: skip
            # every check runs before anything is built, so this is a file
            # whose values are consistent yet unusable: say so, naming it
            raise FileFormatError(
                f"{payload.source} cannot be loaded: building the model it "
                f"describes failed ({type(exc).__name__}: {exc})."
            ) from None

    def _restore(self, modality: Modality, payload: Payload) -> None:
        """Build the net for the loaded attributes and load its weights into it."""
        self.device_ = available_device(self.device, stacklevel=3)
        augmentation = self._resolve_augmentation(modality)
        if payload.augmentation_state:
            if not getattr(augmentation, "requires_fit", False):
                raise FileFormatError(
                    f"{payload.source} holds a fitted state for an augmentation "
                    "that learns nothing from the training data."
                )
            augmentation = copy.deepcopy(augmentation)
            try:
                set_augmentation_state(augmentation, payload.augmentation_state)
            except (TypeError, ValueError) as exc:
                raise FileFormatError(f"{payload.source}: {exc}") from None
        self.augmentation_ = augmentation
        module_kwargs = self._module_kwargs(modality)
        check_architecture(
            lambda: ContrastiveModule(**module_kwargs),
            payload.state_dict,
            payload.source,
        )
        net = self._build_net(modality, seed=0, module_kwargs=module_kwargs)
        net.module_.load_state_dict(payload.state_dict)
        net.history = History(payload.history)
        self._set_fitted_net(net)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
