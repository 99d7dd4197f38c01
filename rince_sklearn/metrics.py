"""Self-supervised metrics of an embedding, computed without labels."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["retrieval_auc"]


def retrieval_auc(queries: Tensor, keys: Tensor, chunk_size: int = 1024) -> float:
    """Area under the ROC curve of finding each query's own key among all keys.

    Row ``i`` of ``queries`` and row ``i`` of ``keys`` embed two views of the
    same sample. For each query, count the fraction of the other samples' keys
    that are less cosine-similar to it than its own key is (ties count half);
    the score is the mean over queries. 1.0: every sample's views are nearer
    to each other than to any other sample; 0.5: chance. It is the metric of
    ``RobustContrastiveEmbedder.score``.

    Parameters
    ----------
    queries : Tensor of shape (n_samples, dim)
        Embeddings of the first views.
    keys : Tensor of shape (n_samples, dim)
        Embeddings of the second views, in the same order.
    chunk_size : int, default=1024
        Queries compared at once (bounds memory to ``chunk_size * n_samples``).

    Returns
    -------
    auc : float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        Fewer than 2 samples, or shapes that differ.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.metrics import retrieval_auc
    >>> views = torch.eye(4)
    >>> retrieval_auc(views, views)  # every view finds its own twin
    1.0
    >>> retrieval_auc(views, -views)  # every twin is the farthest
    0.0
    """
    if queries.ndim != 2 or queries.shape != keys.shape:
        raise ValueError(
            "queries and keys must be 2-D tensors of the same shape, got "
            f"{tuple(queries.shape)} and {tuple(keys.shape)}."
        )
    n_samples = len(queries)
    if n_samples < 2:
        raise ValueError(f"retrieval_auc needs at least 2 samples, got {n_samples}.")
    h1 = torch.nn.functional.normalize(queries, dim=1)  # (n, dim)
    h2 = torch.nn.functional.normalize(keys, dim=1)  # (n, dim)
    total = 0.0
    for start in range(0, n_samples, chunk_size):
        sim = h1[start : start + chunk_size] @ h2.T  # (chunk, n)
        rows = torch.arange(len(sim))
        positive = sim[rows, rows + start][:, None]  # (chunk, 1)
        below = (sim < positive).sum(dim=1).double()  # (chunk,)
        ties = (sim == positive).sum(dim=1).double() - 1  # itself excluded
        total += float(((below + 0.5 * ties) / (n_samples - 1)).sum())
    return total / n_samples
