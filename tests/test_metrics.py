"""The label-free metrics against slow loops written from their definitions."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rince_sklearn.metrics import (
    alignment,
    alignment_uniformity,
    effective_rank,
    retrieval_auc,
    uniformity,
)


def _slow_auc(h1: np.ndarray, h2: np.ndarray) -> float:
    """For each query: P(other key less similar than own key), ties count half.

    The cosine similarities are computed once, as retrieval_auc computes them
    (so that exact ties stay ties); the counting is written out.
    """
    t1 = torch.nn.functional.normalize(torch.from_numpy(h1), dim=1)
    t2 = torch.nn.functional.normalize(torch.from_numpy(h2), dim=1)
    sim = (t1 @ t2.T).numpy()
    n = len(h1)
    total = 0.0
    for i in range(n):
        own = sim[i, i]
        for j in range(n):
            if j != i:
                other = sim[i, j]
                total += 1.0 if other < own else 0.5 if other == own else 0.0
    return total / (n * (n - 1))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 12),
    dim=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    chunk=st.integers(1, 5),
    discrete=st.booleans(),
)
def test_matches_the_definition(n, dim, seed, chunk, discrete):
    rng = np.random.default_rng(seed)
    h1 = rng.normal(size=(n, dim))
    h2 = rng.normal(size=(n, dim))
    if discrete:  # signed one-hot rows: exact similarities in {-1, 0, 1}, many ties
        eye = np.eye(dim)
        h1 = eye[rng.integers(dim, size=n)] * rng.choice([-1.0, 1.0], size=(n, 1))
        h2 = eye[rng.integers(dim, size=n)] * rng.choice([-1.0, 1.0], size=(n, 1))
    expected = _slow_auc(h1, h2)
    got = retrieval_auc(torch.from_numpy(h1), torch.from_numpy(h2), chunk_size=chunk)
    assert got == pytest.approx(expected, abs=1e-12)


def test_chance_and_perfect():
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.normal(size=(400, 8)))
    assert retrieval_auc(noise, torch.from_numpy(rng.normal(size=(400, 8)))) == (
        pytest.approx(0.5, abs=0.02)
    )
    assert retrieval_auc(noise, noise) == 1.0


@pytest.mark.parametrize("shapes", [((1, 3), (1, 3)), ((4, 3), (4, 2)), ((4,), (4,))])
def test_bad_shapes(shapes):
    a, b = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match="2 samples|same shape"):
        retrieval_auc(a, b)


# -- effective_rank (RankMe) --------------------------------------------------------


def _slow_effective_rank(Z: np.ndarray, eps: float = 1e-7) -> float:
    """RankMe written from Garrido et al. (2023), eq. 1, with a plain loop.

    The singular values are the square roots of the eigenvalues of Z^T Z
    (the Gram matrix of the smaller side), computed independently of the SVD.
    """
    gram = Z.T @ Z if Z.shape[1] <= Z.shape[0] else Z @ Z.T
    singular = [max(v, 0.0) ** 0.5 for v in np.linalg.eigvalsh(gram)]
    norm1 = sum(singular)
    entropy = 0.0
    for s in singular:
        p = s / norm1 + eps
        entropy -= p * np.log(p)
    return float(np.exp(entropy))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 30), dim=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_effective_rank_matches_the_paper(n, dim, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, dim)) * rng.uniform(0.1, 3.0, size=dim)
    assert effective_rank(Z) == pytest.approx(_slow_effective_rank(Z), rel=1e-6)
    assert effective_rank(torch.from_numpy(Z)) == pytest.approx(effective_rank(Z))


def test_effective_rank_extremes_and_scaling():
    rng = np.random.default_rng(0)
    rank_one = np.outer(rng.normal(size=200), rng.normal(size=16))
    assert effective_rank(rank_one) == pytest.approx(1.0, abs=1e-4)  # the minimum
    gaussian = rng.normal(size=(20_000, 16))  # isotropic: all directions equal
    assert 15.9 < effective_rank(gaussian) <= 16.0
    assert 0.99 < effective_rank(gaussian, normalize=True) <= 1.0
    Z = rng.normal(size=(100, 8)) @ rng.normal(size=(8, 8))
    for factor in (1e-3, 7.0, 1e4):
        assert effective_rank(factor * Z) == pytest.approx(effective_rank(Z))
    # fewer directions, lower rank: 3 equal directions out of 16
    three = np.hstack([rng.normal(size=(20_000, 3)), np.zeros((20_000, 13))])
    assert effective_rank(three) == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    "Z, match",
    [
        (np.zeros(5), "2-D"),
        (np.ones((1, 4)), "2 samples"),
        (np.full((3, 2), np.nan), "NaN"),
        (np.zeros((3, 2)), "zeros"),
    ],
)
def test_effective_rank_bad_input(Z, match):
    with pytest.raises(ValueError, match=match):
        effective_rank(Z)


# -- alignment and uniformity (Wang & Isola, 2020) ---------------------------------


def _unit(h: np.ndarray) -> np.ndarray:
    return h / np.linalg.norm(h, axis=1, keepdims=True)


def _slow_alignment_uniformity(h1: np.ndarray, h2: np.ndarray) -> tuple:
    """The paper's L_align (alpha=2) and L_uniform (t=2), written as loops."""
    z1, z2 = _unit(h1), _unit(h2)
    n = len(z1)
    align = sum(float(((z1[i] - z2[i]) ** 2).sum()) for i in range(n)) / n

    def unif(z):
        total = 0.0
        for i in range(n):
            for j in range(n):
                if i != j:
                    total += np.exp(-2.0 * float(((z[i] - z[j]) ** 2).sum()))
        return float(np.log(total / (n * (n - 1))))

    u1, u2 = unif(z1), unif(z2)
    return align, u1, u2, -(align + (u1 + u2) / 2)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 12),
    dim=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    chunk=st.integers(1, 5),
)
def test_alignment_uniformity_match_the_paper(n, dim, seed, chunk):
    rng = np.random.default_rng(seed)
    h1 = rng.normal(size=(n, dim))
    h2 = h1 + rng.normal(scale=rng.uniform(0.01, 2.0), size=(n, dim))
    align, u1, u2, combined = _slow_alignment_uniformity(h1, h2)
    assert alignment(h1, h2) == pytest.approx(align, rel=1e-9, abs=1e-12)
    assert uniformity(h1, chunk_size=chunk) == pytest.approx(u1, rel=1e-9)
    assert uniformity(torch.from_numpy(h2)) == pytest.approx(u2, rel=1e-9)
    assert alignment_uniformity(h1, h2) == pytest.approx(combined, rel=1e-9)


def test_alignment_uniformity_extremes_and_scaling():
    rng = np.random.default_rng(0)
    # rank 1 with one sign: every sample on one point, the worst uniformity
    collapsed = np.outer(rng.uniform(0.5, 2.0, size=50), rng.normal(size=16))
    assert uniformity(collapsed) == pytest.approx(0.0, abs=1e-12)
    assert alignment_uniformity(collapsed, collapsed) == pytest.approx(0.0, abs=1e-12)
    # isotropic Gaussian, identical views: near the high-dimensional limit 4
    # (uniform on S^(d-1): E exp(-2 |x - y|^2) ~ exp(-4 + 8 / d))
    gaussian = rng.normal(size=(2000, 256))
    assert alignment_uniformity(gaussian, gaussian) == pytest.approx(
        4 - 8 / 256, abs=0.02
    )
    # independent views: alignment 2 (the mean of |u - v|^2 for random u, v)
    other = rng.normal(size=(2000, 256))
    assert alignment(gaussian, other) == pytest.approx(2.0, abs=0.01)
    # the embeddings' scale (overall or per sample) does not matter
    h1, h2 = rng.normal(size=(60, 8)), rng.normal(size=(60, 8))
    scale = rng.uniform(0.01, 100.0, size=(60, 1))
    assert alignment_uniformity(3.0 * h1, scale * h2) == pytest.approx(
        alignment_uniformity(h1, h2), rel=1e-9
    )


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros(5), np.zeros(5), "2-D"),
        (np.ones((1, 4)), np.ones((1, 4)), "2 samples"),
        (np.ones((4, 3)), np.ones((4, 2)), "same shape"),
        (np.full((3, 2), np.inf), np.ones((3, 2)), "NaN or infinite"),
    ],
)
def test_alignment_uniformity_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        alignment_uniformity(a, b)
