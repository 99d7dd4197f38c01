"""The data-parallel estimators: every process passes the same data, or its part."""

from __future__ import annotations

from typing import Any

from ..batching import BatchSource
from ..estimator import RobustContrastiveEmbedder
from ._comm import _all_sizes, world_size
from ._net import DistributedContrastiveNet

__all__ = ["DistributedEmbedder", "ShardedEmbedder"]


class DistributedEmbedder(RobustContrastiveEmbedder):
    """:class:`~rince_sklearn.RobustContrastiveEmbedder` trained data-parallel.

    Same parameters, methods and fitted attributes. Run one copy per process
    of an initialised ``torch.distributed`` group, each with the same ``X``:
    ``fit`` (and ``partial_fit``) then train one model on global batches of
    ``batch_size`` samples; each process loads, augments and embeds only the
    samples of each batch in its own block of ``X`` (block ``rank`` of
    :func:`shard_sizes`), and computes the loss of their anchors against the
    projections of all processes (see :mod:`rince_sklearn.distributed`).
    Every process ends with the same model; ``transform`` runs locally.
    Without a process group it is a plain
    :class:`~rince_sklearn.RobustContrastiveEmbedder`. A saved model loads with
    :meth:`RobustContrastiveEmbedder.load`.

    For ``device``, give each process its own GPU (``f"cuda:{local_rank}"``)
    with the ``nccl`` backend, or use CPUs with ``gloo``.

    See Also
    --------
    ShardedEmbedder : Each process passes only its part of the data.
    run_local : Start a process group on this machine.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 5))
    >>> emb = DistributedEmbedder(embedding_dim=4, max_epochs=2, random_state=0)
    >>> emb.fit_transform(X).shape   # one process: plain single-process training
    (64, 4)
    """

    _net_class = DistributedContrastiveNet
    #: what each process passes to ``fit``: the same data, or its own part
    _data = "replicated"

    def _initialize_training(
        self, modality: Any, source: BatchSource, held_out: Any = None
    ) -> None:
        """As the parent; the batch size is capped by the global data set."""
        if self.supervision == "labels" and world_size() > 1:
            raise ValueError(
                "supervision='labels' is not supported in distributed training "
                "yet (each process would see only its own rows' labels); train "
                "it with RobustContrastiveEmbedder in one process, or use "
                "supervision='none'."
            )
        lengths = [len(source)] * world_size()
        if self._data == "sharded" and world_size() > 1:
            lengths = _all_sizes(len(source))
            if min(lengths) < 2:
                raise ValueError(
                    "Every process must hold at least 2 samples; got "
                    f"{lengths} samples on ranks 0..{len(lengths) - 1}."
                )
        super()._initialize_training(modality, source, held_out)
        self.net_.data = self._data
        n_global = sum(lengths) if self._data == "sharded" else len(source)
        self.batch_size_ = self.net_.batch_size = min(self.batch_size, n_global)


class ShardedEmbedder(DistributedEmbedder):
    """:class:`DistributedEmbedder` where each process passes only its part of ``X``.

    Same parameters, methods and fitted attributes. Process ``r`` calls
    ``fit(X_r)`` with its own samples; the global data set is ``X_0``,
    ``X_1``, ... in rank order, and every process trains the same model on
    global batches of ``batch_size`` drawn from it, loading, augmenting and
    embedding only its own samples. When the parts are the blocks
    ``X[a_r:b_r]`` with sizes :func:`shard_sizes` ``(len(X), world_size)``,
    the model equals that of :class:`DistributedEmbedder` fitted with the whole
    ``X`` in every process; other parts train an equally valid model on the
    data in another order. No process ever holds another's samples: what the
    augmentations need from the rest of the batch comes by collectives. An
    augmentation that learns from the training data (the default
    :class:`~rince_sklearn.augment.MarginalCorruption` keeps each column's
    training values as donors) learns from each process's own part, so with it
    the model equals the replicated one in distribution, not exactly.

    Each part needs at least 2 samples. Without a process group it is a plain
    :class:`~rince_sklearn.RobustContrastiveEmbedder`.

    See Also
    --------
    DistributedEmbedder : Every process passes the same data.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(64, 5))
    >>> part = X[np.arange(len(X)) % world_size() == rank()]  # this process's
    >>> ShardedEmbedder(embedding_dim=4, max_epochs=2).fit(part).transform(X).shape
    (64, 4)
    """

    _data = "sharded"
