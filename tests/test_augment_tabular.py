"""Tabular augmentations: SCARF's marginal corruption and Gaussian noise."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from sklearn.datasets import load_wine

from rince_sklearn.augment import GaussianNoise, MarginalCorruption, marginal_corruption


def tagged(b=500, f=40):
    """x[i, j] = 1000 * j + i: every value names its row and its column."""
    rows = torch.arange(b, dtype=torch.float64)[:, None]
    cols = torch.arange(f, dtype=torch.float64)[None, :]
    return 1000 * cols + rows


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.6, 0.9, 1.0])
def test_replaced_fraction_matches_the_rate(rate):
    x = tagged()
    b, f = x.shape
    view = marginal_corruption(x, rate, gen(0))
    changed = (view != x).double().mean().item()
    # an entry changes when it is corrupted and its donor is another row
    expected = rate * (1 - 1 / b)
    sigma = math.sqrt(max(expected * (1 - expected), 1e-12) / (b * f))
    assert abs(changed - expected) <= 5 * sigma + 1e-12


def test_replaced_values_come_from_the_same_column_of_the_batch():
    x = tagged()
    view = marginal_corruption(x, 0.8, gen(1))
    column = torch.div(view, 1000, rounding_mode="floor")
    assert torch.equal(column, torch.div(x, 1000, rounding_mode="floor"))
    donor_rows = view - 1000 * column
    assert donor_rows.min() >= 0 and donor_rows.max() < len(x)


def test_donor_rows_are_uniform():
    x = tagged(b=20, f=2000)
    view = marginal_corruption(x, 1.0, gen(2))
    donors = (view % 1000).long().flatten()
    counts = torch.bincount(donors, minlength=20).double()
    expected = donors.numel() / 20
    chi2 = ((counts - expected) ** 2 / expected).sum().item()
    assert chi2 < 43.8  # 99.9% quantile of chi-square with 19 degrees of freedom


def test_corruption_is_reproducible_and_keeps_shape_dtype_device():
    x = torch.tensor(load_wine().data[:64], dtype=torch.float32)
    aug = MarginalCorruption(0.6)
    a, b = aug(x, generator=gen(3)), aug(x, generator=gen(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, aug(x, generator=gen(4)))
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert torch.equal(x, torch.tensor(load_wine().data[:64], dtype=torch.float32))


def test_noise_after_corruption_is_relative_to_each_column():
    torch.manual_seed(0)
    x = torch.randn(4000, 3, dtype=torch.float64) * torch.tensor([1.0, 10.0, 100.0])
    view = MarginalCorruption(0.0, noise_std=0.2)(x, generator=gen(5))
    relative = (view - x).std(dim=0) / x.std(dim=0)
    torch.testing.assert_close(
        relative, torch.full((3,), 0.2, dtype=torch.float64), atol=0.01, rtol=0
    )


def test_gaussian_noise_statistics():
    x = torch.randn(20000, 4, generator=gen(6), dtype=torch.float64)
    x = x * torch.tensor([0.5, 2.0, 8.0, 0.0])  # the last column is constant
    view = GaussianNoise(0.1)(x, generator=gen(7))
    noise = view - x
    scale = x.std(dim=0, unbiased=False)
    torch.testing.assert_close(
        noise[:, :3].std(dim=0), 0.1 * scale[:3], rtol=0.03, atol=0
    )
    assert (noise[:, :3].mean(dim=0).abs() < 4 * 0.1 * scale[:3] / 141).all()
    assert torch.equal(view[:, 3], x[:, 3])  # no spread, no noise
    assert torch.equal(view, GaussianNoise(0.1)(x, generator=gen(7)))


def test_parameters_compare_and_pickle():
    aug = MarginalCorruption(0.3, noise_std=0.1)
    assert aug.get_params() == {"corruption_rate": 0.3, "noise_std": 0.1}
    assert aug == MarginalCorruption(0.3, noise_std=0.1) != MarginalCorruption(0.4)
    assert pickle.loads(pickle.dumps(aug)) == aug
    assert repr(GaussianNoise(0.5)) == "GaussianNoise(std=0.5)"
