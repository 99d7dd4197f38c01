"""retrieval_auc against a slow loop written from its definition."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rince_sklearn.metrics import retrieval_auc


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
