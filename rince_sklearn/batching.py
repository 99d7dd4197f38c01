"""Batches: validated inputs held as tensors, and the loader that slices them.

Every modality turns its validated input into a :class:`BatchSource`: something
with a length and a ``take(indices)`` method that returns one batch (a tensor for
tabular and image data, a batched graph for graphs). :class:`BatchLoader` yields
batches by indexing the source with slices of a (shuffled) permutation, so no
per-sample Python work or collation happens in the training loop. A source may
carry labels (``with_labels``, for supervised contrastive learning); the loader
then yields each batch with its samples' labels. :class:`SparseRowSource` keeps
a scipy sparse matrix compressed and densifies only the rows of each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from scipy import sparse
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "BatchLoader",
    "BatchSource",
    "SparseRowSource",
    "SubsetSource",
    "TensorSource",
    "move_to_device",
]


class BatchSource(Dataset):
    """Base class of the data that the training loop slices into batches.

    Subclasses implement ``__len__`` and ``take``. ``__getitem__`` returns a
    batch of one, so a source is also a ``torch.utils.data.Dataset``.
    ``labels`` is None, or one integer class code per sample (negative for an
    unlabelled sample), set with :meth:`with_labels`.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import BatchSource
    >>> class Squares(BatchSource):
    ...     def __len__(self):
    ...         return 5
    ...     def take(self, indices):
    ...         return (indices.float() ** 2)[:, None]
    >>> Squares().take(torch.tensor([1, 3])).tolist()
    [[1.0], [9.0]]
    >>> Squares()[2].tolist()  # a batch of one
    [[4.0]]
    >>> Squares().with_labels(torch.tensor([0, 1, 0, -1, 1])).labels.tolist()
    [0, 1, 0, -1, 1]
    """

    #: one class code per sample (negative: unlabelled), or None
    labels: Tensor | None = None

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def take(self, indices: Tensor) -> Any:  # pragma: no cover - abstract
        """Return the batch made of the samples at ``indices`` (1-D long tensor)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        return self.take(torch.as_tensor([index]))

    def fit_data(self) -> Any:
        """Return the training data that a fitted augmentation learns from.

        The estimator passes it to the augmentation's ``fit`` (SCARF's donor
        rows, say) before training. Here it is every sample as one batch;
        :class:`SparseRowSource` returns a bounded subsample instead, so that a
        large sparse matrix is never densified whole.

        Returns
        -------
        batch : Tensor or GraphBatch
            ``self.take(torch.arange(len(self)))``.
        """
        return self.take(torch.arange(len(self)))

    def subset_fit_data(self, indices: Tensor) -> Any:
        """Return :meth:`fit_data` for the samples at ``indices`` (all of them)."""
        return self.take(indices)

    def subset(self, indices: Tensor) -> BatchSource:
        """Return the samples at ``indices`` as a source of their own.

        Labels, if any, follow their samples. Used to hold out a validation
        split (``validation_fraction``).

        Parameters
        ----------
        indices : Tensor of shape (n,)
            Distinct sample positions (a 1-D long tensor).

        Returns
        -------
        source : BatchSource
        """
        return SubsetSource(self, indices)

    def with_labels(self, labels: Tensor | None) -> BatchSource:
        """Attach one label per sample (a 1-D integer tensor, or None); return self.

        Parameters
        ----------
        labels : Tensor of shape (n_samples,) or None
            Integer class codes, negative for unlabelled samples.

        Returns
        -------
        self : BatchSource
        """
        if labels is not None:
            if labels.ndim != 1 or labels.shape[0] != len(self):
                raise ValueError(
                    f"labels must hold one entry per sample ({len(self)}), got "
                    f"shape {tuple(labels.shape)}."
                )
            labels = labels.long()
        self.labels = labels
        return self


class SubsetSource(BatchSource):
    """Some samples of another source, in the order of ``indices``.

    Parameters
    ----------
    source : BatchSource
        The source the samples come from.
    indices : Tensor of shape (n,)
        Their positions there (1-D, long).

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import TensorSource
    >>> rows = TensorSource(torch.arange(10.0)[:, None])
    >>> part = rows.subset(torch.tensor([7, 2]))
    >>> len(part), part.take(torch.tensor([0, 1])).ravel().tolist()
    (2, [7.0, 2.0])
    """

    def __init__(self, source: BatchSource, indices: Tensor) -> None:
        self.source = source
        self.indices = torch.as_tensor(indices, dtype=torch.long)
        labels = source.labels
        self.labels = None if labels is None else labels[self.indices]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def take(self, indices: Tensor) -> Any:
        """Return the samples at ``indices`` of this subset."""
        return self.source.take(self.indices[indices])

    def fit_data(self) -> Any:
        """Return what the parent source's ``fit_data`` gives for these samples."""
        return self.source.subset_fit_data(self.indices)


class TensorSource(BatchSource):
    """Samples stored as the rows of one tensor.

    Parameters
    ----------
    data : Tensor of shape (n, ...)
        The samples. Kept in its own dtype (for example uint8 images) and
        converted per batch by ``convert``.
    convert : callable, default=None
        Maps a batch of rows to the float tensor that the encoder reads.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import TensorSource
    >>> pixels = torch.tensor([[0, 255], [255, 0]], dtype=torch.uint8)
    >>> source = TensorSource(pixels, convert=lambda batch: batch.float() / 255)
    >>> len(source), source.take(torch.tensor([1])).tolist()
    (2, [[1.0, 0.0]])
    """

    def __init__(
        self, data: Tensor, convert: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        self.data = data
        self.convert = convert

    def __len__(self) -> int:
        return self.data.shape[0]

    def take(self, indices: Tensor) -> Tensor:
        """Return rows ``indices`` as a float batch."""
        batch = self.data[indices]
        return batch if self.convert is None else self.convert(batch)


class SparseRowSource(BatchSource):
    """Rows of a scipy sparse matrix, densified batch by batch.

    The matrix stays compressed (CSR, float32); :meth:`take` turns only the
    requested rows into a dense float32 tensor, so the memory that training
    and ``transform`` need grows with ``nnz + batch_size * n_features``, not
    with ``n_samples * n_features``. A batch holds the same values as the
    rows of ``matrix.toarray()``, so sparse and dense input of the same data
    train alike (but for a matrix too wide for :meth:`fit_data` to return the
    dense donor pool whole).

    Parameters
    ----------
    matrix : scipy sparse matrix or array of shape (n_samples, n_features)
        Any format; converted to CSR float32 (without a copy when it is one).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        The rows, in CSR format.
    fit_rows, fit_bytes, min_fit_rows : int
        Bound the rows that reach an augmentation's ``fit`` (see
        :meth:`fit_rows_for` and :meth:`fit_data`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from scipy import sparse
    >>> from rince_sklearn.batching import SparseRowSource
    >>> source = SparseRowSource(sparse.csr_matrix(np.eye(3)))
    >>> len(source), source.take(torch.tensor([2, 0])).tolist()
    (3, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    """

    #: rows densified for an augmentation's ``fit``: the default
    #: :class:`~rince_sklearn.augment.MarginalCorruption` keeps at most
    #: ``max_rows=100_000`` donor rows, drawn with the same seeded permutation
    #: as :meth:`fit_data`, so its donors are those of the same data given dense
    fit_rows: int = 100_000
    #: ... and at most this many bytes of them (256 MiB), but never fewer than
    #: ``min_fit_rows`` rows: a wide one-hot matrix gets fewer donor rows
    fit_bytes: int = 256 * 2**20
    min_fit_rows: int = 1_000

    def __init__(self, matrix: Any) -> None:
        csr = sparse.csr_matrix(matrix, dtype=np.float32)
        if csr.ndim != 2:  # pragma: no cover - scipy matrices are 2-D
            raise ValueError(f"expected a 2-D sparse matrix, got shape {csr.shape}.")
        self.matrix = csr

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def take(self, indices: Tensor) -> Tensor:
        """Return rows ``indices`` as a dense float32 tensor ``(B, n_features)``."""
        rows = torch.as_tensor(indices, dtype=torch.long).cpu().numpy()
        dense = self.matrix[rows].toarray()  # (B, F) float32, C order
        return torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32))

    def fit_rows_for(self, n_features: int) -> int:
        """Return how many rows :meth:`fit_data` densifies for this width.

        ``min(fit_rows, max(min_fit_rows, fit_bytes // (4 * n_features)))``:
        100,000 rows up to 671 columns, fewer for wider matrices (13,421 rows
        of 5,000 columns), so the dense copy stays within ``fit_bytes``
        unless that leaves fewer than ``min_fit_rows`` rows.
        """
        by_bytes = self.fit_bytes // (4 * max(1, n_features))
        return int(min(self.fit_rows, max(self.min_fit_rows, by_bytes)))

    def fit_data(self) -> Tensor:
        """Return a bounded set of rows, dense, for an augmentation's ``fit``.

        All rows when there are at most :meth:`fit_rows_for` of them;
        otherwise that many drawn uniformly without replacement: the first
        ones of ``torch.randperm(n)`` with seed 0, which is the draw that
        ``MarginalCorruption.fit`` makes on dense data. So with up to 671
        columns the donors are exactly those of the same data given dense,
        and for wider matrices a prefix of them.

        Returns
        -------
        rows : Tensor of shape (min(n_samples, fit_rows_for(n_features)), n_features)
        """
        return self.subset_fit_data(torch.arange(self.matrix.shape[0]))

    def subset_fit_data(self, indices: Tensor) -> Tensor:
        """Return :meth:`fit_data` for the rows at ``indices``: bounded as well."""
        n, n_features = int(indices.shape[0]), self.matrix.shape[1]
        keep = self.fit_rows_for(n_features)
        if n <= keep:
            return self.take(indices)
        generator = torch.Generator().manual_seed(0)
        return self.take(indices[torch.randperm(n, generator=generator)[:keep]])


def move_to_device(batch: Any, device: torch.device | str) -> Any:
    """Move a batch (a tensor or an object with ``.to``) to ``device``.

    Parameters
    ----------
    batch : Tensor or GraphBatch
        Anything with a ``.to(device, non_blocking=...)`` method.
    device : torch.device or str
        The target device.

    Returns
    -------
    batch : Tensor or GraphBatch
        The batch on ``device``.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import move_to_device
    >>> move_to_device(torch.ones(2), "cpu").device
    device(type='cpu')
    """
    return batch.to(device, non_blocking=True)


def batch_bounds(
    n: int, batch_size: int, drop_last: bool = False
) -> list[tuple[int, int]]:
    """Split ``range(n)`` into batches of ``batch_size`` with no batch of one.

    A contrastive batch of one sample has no negatives, and batch normalisation
    fails on it, so a trailing batch of a single sample joins the batch before it.
    With ``drop_last``, the trailing incomplete batch is left out instead, so
    that every batch has ``batch_size`` samples; when ``n < batch_size`` the
    one batch is all ``n`` samples.

    Examples
    --------
    >>> batch_bounds(5, 2)
    [(0, 2), (2, 5)]
    >>> batch_bounds(4, 8)
    [(0, 4)]
    >>> batch_bounds(11, 4, drop_last=True)
    [(0, 4), (4, 8)]
    >>> batch_bounds(3, 4, drop_last=True)
    [(0, 3)]
    """
    if drop_last and n >= batch_size:
        return [
            (start, start + batch_size)
            for start in range(0, n - batch_size + 1, batch_size)
        ]
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


class BatchLoader:
    """Iterate over a :class:`BatchSource` in batches, as skorch's iterators do.

    Parameters
    ----------
    dataset : BatchSource
        The samples.
    batch_size : int
        Samples per batch; without ``drop_last`` the last batch may be smaller
        (but never a single sample when there are two or more).
    shuffle : bool, default=False
        Draw a new permutation for every pass.
    generator : torch.Generator, default=None
        Source of the permutations, for reproducibility.
    drop_last : bool, default=False
        Leave out the last incomplete batch, so every batch has ``batch_size``
        samples (with fewer than ``batch_size`` samples, the one batch is all
        of them). Training uses it with ``shuffle``: a contrastive loss's
        partition term grows with the batch, so batches of one size give losses
        of one scale, and the ``n % batch_size`` samples left out change from
        pass to pass.

    Yields
    ------
    batch, labels
        skorch unpacks every batch into ``(X, y)``: ``labels`` are the batch's
        samples' labels when the source has labels (a long tensor), else None.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.batching import BatchLoader, TensorSource
    >>> source = TensorSource(torch.arange(9.0)[:, None])
    >>> [len(batch) for batch, _ in BatchLoader(source, batch_size=4)]
    [4, 5]
    >>> [len(batch) for batch, _ in BatchLoader(source, batch_size=4, drop_last=True)]
    [4, 4]
    >>> source = source.with_labels(torch.arange(9) % 3)
    >>> [labels.tolist() for _, labels in BatchLoader(source, batch_size=4)]
    [[0, 1, 2, 0], [1, 2, 0, 1, 2]]
    """

    def __init__(
        self,
        dataset: BatchSource,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last

    def __len__(self) -> int:
        return len(batch_bounds(len(self.dataset), self.batch_size, self.drop_last))

    def __iter__(self) -> Iterator[tuple[Any, Tensor | None]]:
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        labels = getattr(self.dataset, "labels", None)
        for start, stop in batch_bounds(n, self.batch_size, self.drop_last):
            indices = order[start:stop]
            yield (
                self.dataset.take(indices),
                None if labels is None else labels[indices],
            )
