"""rince_sklearn.noisy_views: the false-positive pairing behind ``noise_rate``."""

import pytest
import torch

from rince_sklearn.noisy_views import false_positive_pairing


@pytest.mark.parametrize("n", [2, 3, 10, 257])
@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3, 0.8, 1.0])
def test_false_positive_pairing_counts_and_permutation(n, rate):
    index = false_positive_pairing(n, rate, torch.Generator().manual_seed(n))
    assert sorted(index.tolist()) == list(range(n))  # every view used once
    moved = int((index != torch.arange(n)).sum())
    expected = min(n, round(rate * n))
    if expected == 1:
        expected = 2  # one sample cannot swap with itself
    assert moved == expected


def test_false_positive_pairing_is_seeded_and_spread():
    a = false_positive_pairing(50, 0.5, torch.Generator().manual_seed(1))
    b = false_positive_pairing(50, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    hits = torch.zeros(50)
    for seed in range(200):
        index = false_positive_pairing(50, 0.2, torch.Generator().manual_seed(seed))
        hits += (index != torch.arange(50)).float()
    # every sample is chosen about 20% of the time
    assert hits.min() > 0.08 * 200 and hits.max() < 0.35 * 200
