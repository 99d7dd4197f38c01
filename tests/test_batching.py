"""Batch sources and the loader: every sample once per pass, never a batch of one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rince_sklearn.batching import (
    BatchLoader,
    BatchSource,
    TensorSource,
    batch_bounds,
    move_to_device,
)
from rince_sklearn.graphs import GraphBatch, GraphSource, pack_graphs


class Indices(BatchSource):
    """A source whose batches are the indices asked for."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def take(self, indices):
        return indices.clone()


def _passes(loader):
    return [batch for batch, target in loader if target is None]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n", [2, 3, 7, 16, 33])
@pytest.mark.parametrize("batch_size", [2, 3, 5, 16, 64])
def test_every_sample_once_per_pass_and_no_batch_of_one(n, batch_size, shuffle):
    generator = torch.Generator().manual_seed(n * 100 + batch_size)
    loader = BatchLoader(Indices(n), batch_size, shuffle=shuffle, generator=generator)
    for _ in range(3):  # several passes
        batches = _passes(loader)
        assert len(batches) == len(loader)
        seen = torch.cat(batches)
        assert sorted(seen.tolist()) == list(range(n))  # each sample exactly once
        sizes = [len(b) for b in batches]
        assert min(sizes) >= 2  # a contrastive batch of one has no negatives
        assert max(sizes) <= batch_size + 1  # only a trailing single one is merged
        assert all(size == batch_size for size in sizes[:-2])
        if not shuffle:
            assert seen.tolist() == list(range(n))


@pytest.mark.parametrize("n", range(1, 40))
def test_batch_bounds_tile_the_range(n):
    for batch_size in (2, 3, 4, 10):
        bounds = batch_bounds(n, batch_size)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
        sizes = [stop - start for start, stop in bounds]
        assert n == 1 or min(sizes) >= 2
        # the number of batches is what plain slicing gives, less a merged one
        plain = -(-n // batch_size)
        merged = n > 1 and n % batch_size == 1 and plain > 1
        assert len(bounds) == plain - merged


def test_seeded_shuffling_is_reproducible():
    def orders(seed, passes=3):
        loader = BatchLoader(
            Indices(50), 8, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
        return [torch.cat(_passes(loader)).tolist() for _ in range(passes)]

    first = orders(0)
    assert first == orders(0)  # same seed, same permutations, pass after pass
    assert first[0] != first[1]  # a new permutation every pass
    assert first != orders(1)
    assert first[0] != list(range(50))


def test_shuffled_positions_are_uniform():
    # over many passes each sample lands in the first batch equally often
    loader = BatchLoader(
        Indices(10), 2, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    counts = np.zeros(10)
    passes = 2000
    for _ in range(passes):
        counts[next(iter(loader))[0].numpy()] += 1
    expected = passes * 2 / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 27.9  # 99.9% quantile of chi-square with 9 degrees of freedom


def test_tensor_source_takes_rows_and_converts():
    data = torch.arange(12, dtype=torch.uint8).reshape(6, 2)
    source = TensorSource(data, convert=lambda b: b.float() / 255)
    batch = source.take(torch.tensor([4, 1]))
    assert batch.dtype == torch.float32
    torch.testing.assert_close(batch, data[[4, 1]].float() / 255)
    assert source.data.dtype == torch.uint8  # stored as given
    plain = TensorSource(data)
    assert torch.equal(plain.take(torch.tensor([0, 5])), data[[0, 5]])
    assert len(plain) == 6 and torch.equal(plain[3], data[3:4])  # a batch of one


def test_a_source_is_a_torch_dataset():
    source = TensorSource(torch.arange(10.0)[:, None])
    loader = torch.utils.data.DataLoader(source, batch_size=4, collate_fn=torch.cat)
    assert torch.equal(torch.cat(list(loader)), source.data)


def test_move_to_device_moves_tensors_and_graph_batches():
    meta = torch.device("meta")  # a device every torch build has
    assert move_to_device(torch.ones(3), meta).device == meta
    assert move_to_device(torch.ones(3), "cpu").device.type == "cpu"
    graphs = [(np.array([[0, 1], [1, 0]]), np.ones((2, 3)))] * 3
    batch = GraphSource(pack_graphs(graphs)).take(torch.arange(3))
    moved = move_to_device(batch, meta)
    assert isinstance(moved, GraphBatch) and moved.num_graphs == 3
    assert {t.device for t in (moved.x, moved.edge_index, moved.batch)} == {meta}
    assert batch.x.device.type == "cpu"  # the original stays


def test_graph_sources_load_every_graph_once():
    graphs = [(np.array([[0, 1], [1, 0]]), np.full((2, 1), float(i))) for i in range(9)]
    loader = BatchLoader(
        GraphSource(pack_graphs(graphs)),
        4,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    batches = _passes(loader)
    assert [len(b) for b in batches] == [4, 5]
    values = torch.cat([b.x[:, 0] for b in batches])
    assert sorted(values.unique().tolist()) == [float(i) for i in range(9)]


def test_fit_data_is_every_sample_as_one_batch():
    source = TensorSource(torch.arange(12.0).reshape(6, 2))
    torch.testing.assert_close(source.fit_data(), source.data)
