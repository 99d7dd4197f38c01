"""Self-supervised metrics of an embedding, computed without labels."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "alignment",
    "alignment_uniformity",
    "effective_rank",
    "retrieval_auc",
    "uniformity",
]


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


def effective_rank(
    embeddings: Tensor | np.ndarray, normalize: bool = False, eps: float = 1e-7
) -> float:
    """RankMe: the effective rank of an embedding matrix.

    With ``s_k`` the singular values of the ``(n_samples, dim)`` matrix and
    ``p_k = s_k / sum_j s_j + eps``, the effective rank is
    ``exp(-sum_k p_k log p_k)``, the exponential of the entropy of the
    normalised singular values (Roy & Vetterli, EUSIPCO 2007; used as RankMe
    by Garrido et al., "RankMe: Assessing the downstream performance of
    pretrained self-supervised representations by their rank", ICML 2023).
    It is 1 for a rank-1 matrix and ``min(n_samples, dim)`` when all singular
    values are equal; a collapsed embedding (few directions carry the
    variance) scores low. Rescaling the matrix does not change it. The
    matrix is not centred, as in RankMe.

    Parameters
    ----------
    embeddings : Tensor or ndarray of shape (n_samples, dim)
        The embeddings (for example ``transform(X)``).
    normalize : bool, default=False
        Divide by ``min(n_samples, dim)``, the largest possible value, so that
        the result lies in ``(0, 1]``.
    eps : float, default=1e-7
        Added to each ``p_k`` (RankMe's constant), so that zero singular
        values do not give ``0 * log 0``.

    Returns
    -------
    rank : float
        In ``[1, min(n_samples, dim)]`` (up to ``eps``), or divided by
        ``min(n_samples, dim)`` with ``normalize=True``.

    Raises
    ------
    ValueError
        Not 2-D, fewer than 2 samples, not finite, or all zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.metrics import effective_rank
    >>> round(effective_rank(np.eye(4)), 4)  # four equal directions
    4.0
    >>> round(effective_rank(np.ones((5, 3))), 4)  # rank 1
    1.0
    >>> round(effective_rank(np.eye(4), normalize=True), 4)
    1.0
    """
    if isinstance(embeddings, Tensor):
        embeddings = embeddings.detach().cpu().numpy()
    Z = np.asarray(embeddings, dtype=np.float64)
    if Z.ndim != 2:
        raise ValueError(
            f"embeddings must be a 2-D (n_samples, dim) matrix, got shape {Z.shape}."
        )
    if len(Z) < 2:
        raise ValueError(f"effective_rank needs at least 2 samples, got {len(Z)}.")
    if not np.isfinite(Z).all():
        raise ValueError("embeddings contain NaN or infinite values.")
    singular = np.linalg.svd(Z, compute_uv=False)
    total = singular.sum()
    if total == 0:
        raise ValueError("embeddings are all zeros: their rank is undefined.")
    p = singular / total + eps
    rank = math.exp(-float((p * np.log(p)).sum()))
    return rank / min(Z.shape) if normalize else rank


def _as_rows(embeddings: Tensor | np.ndarray, name: str) -> Tensor:
    """Return ``embeddings`` as a float64 CPU tensor, L2-normalised row-wise."""
    rows = torch.as_tensor(
        embeddings.detach().cpu() if isinstance(embeddings, Tensor) else embeddings
    ).to(torch.float64)
    if rows.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, dim) matrix, got shape "
            f"{tuple(rows.shape)}."
        )
    if len(rows) < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {len(rows)}.")
    if not torch.isfinite(rows).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return torch.nn.functional.normalize(rows, dim=1)


def alignment(
    views1: Tensor | np.ndarray, views2: Tensor | np.ndarray, alpha: float = 2.0
) -> float:
    """Alignment of two views: mean distance between the views of a sample.

    ``E ||f(x) - f(x')||^alpha`` over samples, on L2-normalised embeddings
    (Wang & Isola, "Understanding contrastive representation learning
    through alignment and uniformity on the hypersphere", ICML 2020). Lower
    is better: 0 when the two views of every sample embed alike.

    Parameters
    ----------
    views1, views2 : Tensor or ndarray of shape (n_samples, dim)
        Embeddings of two augmented views, row ``i`` of each from sample ``i``.
    alpha : float, default=2.0
        Power of the distance (the paper's default, 2: squared distances).

    Returns
    -------
    alignment : float
        In ``[0, 2 ** alpha]``.

    Raises
    ------
    ValueError
        Shapes that differ or are not 2-D, fewer than 2 samples, non-finite
        values.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.metrics import alignment
    >>> alignment(np.eye(3), 5 * np.eye(3))  # same directions
    0.0
    >>> alignment(np.eye(3), -np.eye(3))  # antipodal views: 2 ** 2
    4.0
    """
    z1, z2 = _as_rows(views1, "views1"), _as_rows(views2, "views2")
    if z1.shape != z2.shape:
        raise ValueError(
            f"views1 and views2 must have the same shape, got {tuple(z1.shape)} "
            f"and {tuple(z2.shape)}."
        )
    return float((z1 - z2).norm(dim=1).pow(alpha).mean())


def uniformity(
    embeddings: Tensor | np.ndarray, t: float = 2.0, chunk_size: int = 1024
) -> float:
    """Uniformity: log of the mean Gaussian potential between samples.

    ``log E_{i != j} exp(-t ||f(x_i) - f(x_j)||^2)`` on L2-normalised
    embeddings (Wang & Isola, ICML 2020). Lower is better: embeddings spread
    evenly over the sphere score low; all samples embedded alike score 0, the
    maximum. For ``t = 2`` and embeddings uniform on a high-dimensional
    sphere it approaches ``-4``. Computed in chunks, in log space.

    Parameters
    ----------
    embeddings : Tensor or ndarray of shape (n_samples, dim)
        The embeddings.
    t : float, default=2.0
        The potential's scale (the paper's default).
    chunk_size : int, default=1024
        Rows compared at once (bounds memory to ``chunk_size * n_samples``).

    Returns
    -------
    uniformity : float
        In ``[-4 t, 0]``.

    Raises
    ------
    ValueError
        Not 2-D, fewer than 2 samples, non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.metrics import uniformity
    >>> uniformity(np.ones((4, 3)))  # collapsed: the maximum
    0.0
    >>> round(uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]])), 6)  # antipodal
    -8.0
    """
    z = _as_rows(embeddings, "embeddings")
    n_samples = len(z)
    terms = []
    for start in range(0, n_samples, chunk_size):
        block = z[start : start + chunk_size]
        sq = (2 - 2 * block @ z.T).clamp(min=0)  # squared distances, unit rows
        rows = torch.arange(len(block))
        sq[rows, rows + start] = math.inf  # exclude each sample's own pair
        terms.append(torch.logsumexp((-t * sq).flatten(), dim=0).reshape(1))
    total = torch.logsumexp(torch.cat(terms), dim=0)
    return float(total - math.log(n_samples * (n_samples - 1)))


def alignment_uniformity(
    views1: Tensor | np.ndarray, views2: Tensor | np.ndarray
) -> float:
    """Negated sum of alignment and uniformity of two views (higher is better).

    ``-(alignment(views1, views2) + (uniformity(views1) + uniformity(views2))
    / 2)``, with the defaults ``alpha = 2`` and ``t = 2`` (Wang & Isola, ICML
    2020, whose training objective is this sum): high when the two views of
    a sample embed close together and different samples spread over the
    sphere. ``benchmarks/score_study.py`` compared it with
    :func:`retrieval_auc` as the estimator's ``score``: it ranked the grid
    more like a linear probe on the tuning tables, less on the held-out
    data sets, so ``score`` kept the AUC.

    Parameters
    ----------
    views1, views2 : Tensor or ndarray of shape (n_samples, dim)
        Embeddings of two augmented views, row ``i`` of each from sample ``i``.

    Returns
    -------
    score : float
        In ``[-4, 8]``; about ``4`` for perfectly aligned views spread
        uniformly over a high-dimensional sphere, 0 for a collapsed encoder.

    Raises
    ------
    ValueError
        Shapes that differ or are not 2-D, fewer than 2 samples, non-finite
        values.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.metrics import alignment_uniformity
    >>> alignment_uniformity(np.ones((4, 3)), np.ones((4, 3)))  # collapsed
    0.0
    >>> views = np.eye(2)  # aligned, orthogonal samples: -(0 + log e^-4)
    >>> round(alignment_uniformity(views, views), 6)
    4.0
    """
    align = alignment(views1, views2)
    score = -(align + 0.5 * (uniformity(views1) + uniformity(views2)))
    return score + 0.0  # -0.0 (a collapsed encoder) as 0.0
