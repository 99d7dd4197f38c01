"""Batches: training batches of one size, inference batches of every sample."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rince_sklearn.batching import BatchLoader, TensorSource, batch_bounds


@given(n=st.integers(1, 300), batch_size=st.integers(2, 64))
def test_training_batches_are_equal_and_disjoint(n, batch_size):
    source = TensorSource(torch.arange(n)[:, None])
    loader = BatchLoader(
        source,
        batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        drop_last=True,
    )
    batches = [batch[:, 0] for batch, _ in loader]
    assert len(batches) == len(loader)
    expected = batch_size if n >= batch_size else n
    assert {len(b) for b in batches} == {expected}
    assert len(batches) == max(n // batch_size, 1)
    seen = torch.cat(batches)
    assert len(torch.unique(seen)) == len(seen)  # no sample twice in a pass
    assert n - len(seen) == (n % batch_size if n >= batch_size else 0)


@given(n=st.integers(2, 300), batch_size=st.integers(2, 64))
def test_inference_batches_cover_every_sample_once_in_order(n, batch_size):
    source = TensorSource(torch.arange(n)[:, None])
    batches = [batch[:, 0] for batch, _ in BatchLoader(source, batch_size)]
    assert torch.equal(torch.cat(batches), torch.arange(n))
    assert min(len(b) for b in batches) >= 2  # never a batch of one


def test_left_out_samples_change_between_passes():
    n, batch_size = 103, 10
    loader = BatchLoader(
        TensorSource(torch.arange(n)[:, None]),
        batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        drop_last=True,
    )
    counts = np.zeros(n)
    passes = 300
    for _ in range(passes):
        for batch, _ in loader:
            counts[batch[:, 0].numpy()] += 1
    # every sample is seen in 100/103 of the passes on average, none starved
    assert counts.sum() == passes * 100
    assert counts.min() > 0.9 * passes


def test_batch_bounds_examples():
    assert batch_bounds(11, 4, drop_last=True) == [(0, 4), (4, 8)]
    assert batch_bounds(8, 4, drop_last=True) == [(0, 4), (4, 8)]
    assert batch_bounds(3, 4, drop_last=True) == [(0, 3)]
    assert batch_bounds(9, 4) == [(0, 4), (4, 9)]


@pytest.mark.parametrize("n", [300, 317])
def test_fit_trains_on_equal_batches(n):
    from rince_sklearn import RobustContrastiveEmbedder

    X = np.random.default_rng(0).normal(size=(n, 5)).astype(np.float32)
    est = RobustContrastiveEmbedder(
        embedding_dim=4, batch_size=64, max_epochs=2, random_state=0
    ).fit(X)
    for epoch in range(2):
        sizes = est.history_[epoch, "batches", :, "train_batch_size"]
        assert sizes == [64] * (n // 64)
    assert est.transform(X).shape == (n, 4)  # inference still sees every row
