"""Tabular augmentations: SCARF's corruption from the training set's marginals."""

import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_wine

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import (
    Compose,
    GaussianNoise,
    Identity,
    MarginalCorruption,
    RandomChoice,
    augmentation_state,
    fit_augmentation,
    marginal_corruption,
    set_augmentation_state,
)


@pytest.fixture(scope="module")
def X():
    return torch.tensor(load_wine(return_X_y=True)[0], dtype=torch.float32)


@given(b=st.integers(2, 40), f=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_batch_donor_is_another_row_of_the_same_column(b, f, seed):
    # distinct values everywhere: an entry's origin can be read off its value
    x = torch.randperm(b * f, generator=torch.Generator().manual_seed(seed))
    x = x.reshape(b, f).float()
    view = marginal_corruption(x, 1.0, torch.Generator().manual_seed(seed))
    for j in range(f):
        rows = [int((x[:, j] == v).nonzero()) for v in view[:, j]]
        assert all(r != i for i, r in enumerate(rows))  # never the row itself


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=30, deadline=None)
def test_fitted_donor_comes_from_the_training_set_and_is_never_the_row(seed):
    g = torch.Generator().manual_seed(seed)
    train = torch.randperm(60 * 3, generator=g).reshape(60, 3).float()
    corruption = MarginalCorruption(1.0).fit(train)
    batch = train[torch.randperm(60, generator=g)[:8]]  # 8 training rows
    view = corruption(batch, generator=g)
    for j in range(3):
        assert torch.isin(view[:, j], train[:, j]).all()  # the column's values
        assert (view[:, j] != batch[:, j]).all()  # every donor is another row


def test_donors_cover_the_training_marginal_not_the_batch():
    train = torch.arange(1000.0)[:, None]  # one column, values 0..999
    corruption = MarginalCorruption(1.0).fit(train)
    batch = train[:4]
    draws = torch.cat(
        [corruption(batch, torch.Generator().manual_seed(s)) for s in range(200)]
    )
    assert draws.unique().numel() > 500  # far beyond the batch's 4 values
    assert abs(float(draws.mean()) - 499.5) < 25  # the uniform marginal's mean
    # without fit: only the batch's values
    unfit = MarginalCorruption(1.0)(batch, torch.Generator().manual_seed(0))
    assert torch.isin(unfit, batch).all()


def test_corruption_rate_is_the_fraction_of_replaced_entries(X):
    corruption = MarginalCorruption(0.3).fit(X)
    view = corruption(X, torch.Generator().manual_seed(0))
    changed = float((view != X).float().mean())
    assert 0.25 < changed < 0.33  # 0.3, less donors that share the value


def test_fit_on_a_large_table_keeps_at_most_max_rows():
    big = torch.randn(500, 2)
    corruption = MarginalCorruption(0.5, max_rows=100).fit(big)
    assert corruption.pool_.shape == (100, 2)
    assert torch.isin(corruption.pool_, big).all()


def test_wrong_width_is_refused(X):
    corruption = MarginalCorruption().fit(X)
    with pytest.raises(ValueError, match="fitted on 13 columns"):
        corruption(torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"rows of shape \(n, F\)"):
        MarginalCorruption().fit(torch.ones(4, 3, 2))


def test_fit_augmentation_copies_and_leaves_others_alone(X):
    corruption = MarginalCorruption(0.4)
    fitted = fit_augmentation(corruption, X)
    assert fitted is not corruption and not hasattr(corruption, "pool_")
    assert fitted == corruption  # same parameters
    noise = GaussianNoise(0.1)
    assert fit_augmentation(noise, lambda: pytest.fail("built needlessly")) is noise
    assert fit_augmentation(None, X) is None


def test_containers_fit_and_restore_their_members(X):
    views = Compose([Identity(), RandomChoice([GaussianNoise(), MarginalCorruption()])])
    assert views.requires_fit
    fitted = fit_augmentation(views, X)
    state = augmentation_state(fitted)
    assert sorted(state) == ["1.1.pool_"]
    fresh = Compose([Identity(), RandomChoice([GaussianNoise(), MarginalCorruption()])])
    set_augmentation_state(fresh, state)
    assert torch.equal(fresh.augmentations[1].augmentations[1].pool_, X)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(fresh(X, g1), fitted(X, g2))


def test_estimator_fits_a_copy_on_the_training_data(X):
    corruption = MarginalCorruption(0.5)
    emb = RobustContrastiveEmbedder(
        augmentation=corruption, max_epochs=2, embedding_dim=4, random_state=0
    ).fit(X.numpy())
    assert not hasattr(corruption, "pool_")  # the parameter is untouched
    assert emb.augmentation is corruption
    torch.testing.assert_close(emb.augmentation_.pool_, X)
    # the default augmentation is fitted too
    default = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X.numpy())
    assert default.augmentation_.pool_.shape == X.shape


def test_pickle_and_save_keep_the_fitted_state(X, tmp_path):
    emb = RobustContrastiveEmbedder(max_epochs=2, embedding_dim=4, random_state=0)
    emb.fit(X.numpy())
    unpickled = pickle.loads(pickle.dumps(emb))
    torch.testing.assert_close(unpickled.augmentation_.pool_, X)
    path = tmp_path / "emb.pt"
    emb.save(path)
    loaded = RobustContrastiveEmbedder.load(path, device="cpu")
    torch.testing.assert_close(loaded.augmentation_.pool_, X)
    assert loaded.score(X.numpy()) == pytest.approx(emb.score(X.numpy()))
    np.testing.assert_allclose(loaded.transform(X.numpy()), emb.transform(X.numpy()))


# -- the batch (unfitted) path, value by value ------------------------------------


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
    # an entry changes exactly when it is corrupted: its donor is never its row
    expected = rate
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
    assert aug.get_params() == {
        "corruption_rate": 0.3,
        "noise_std": 0.1,
        "max_rows": 100_000,
    }
    assert aug == MarginalCorruption(0.3, noise_std=0.1) != MarginalCorruption(0.4)
    assert pickle.loads(pickle.dumps(aug)) == aug
    assert repr(GaussianNoise(0.5)) == "GaussianNoise(std=0.5)"
