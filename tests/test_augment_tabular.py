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


def assert_same_columns(pool, X):
    """Each column of ``pool`` holds the values of ``X``'s (a permutation)."""
    assert pool.shape == X.shape
    torch.testing.assert_close(pool.sort(dim=0).values, X.sort(dim=0).values)


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
    restored = fresh.augmentations[1].augmentations[1].pool_
    assert torch.equal(restored, fitted.augmentations[1].augmentations[1].pool_)
    assert_same_columns(restored, X)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(fresh(X, g1), fitted(X, g2))


def test_estimator_fits_a_copy_on_the_training_data(X):
    corruption = MarginalCorruption(0.5)
    emb = RobustContrastiveEmbedder(
        augmentation=corruption, max_epochs=2, embedding_dim=4, random_state=0
    ).fit(X.numpy())
    assert not hasattr(corruption, "pool_")  # the parameter is untouched
    assert emb.augmentation is corruption
    assert_same_columns(emb.augmentation_.pool_, X)
    # the default augmentation is fitted too
    default = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X.numpy())
    assert default.augmentation_.pool_.shape == X.shape


def test_pickle_and_save_keep_the_fitted_state(X, tmp_path):
    emb = RobustContrastiveEmbedder(max_epochs=2, embedding_dim=4, random_state=0)
    emb.fit(X.numpy())
    unpickled = pickle.loads(pickle.dumps(emb))
    assert torch.equal(unpickled.augmentation_.pool_, emb.augmentation_.pool_)
    assert_same_columns(unpickled.augmentation_.pool_, X)
    path = tmp_path / "emb.pt"
    emb.save(path)
    loaded = RobustContrastiveEmbedder.load(path, device="cpu")
    assert torch.equal(loaded.augmentation_.pool_, emb.augmentation_.pool_)
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


# -- what fit keeps: each column's values, not the rows ---------------------------


def marked_table(n=500, f=4, seed=0):
    """Distinct random values, and row 17 extreme in every column (a marker)."""
    x = torch.randn(n, f, generator=gen(seed), dtype=torch.float64).float()
    x[17] = 1000.0 + torch.arange(f, dtype=torch.float32)
    return x


def rows_in(pool, X):
    """Whether each row of ``pool`` equals some row of ``X``: ``(P,)``."""
    return (pool[:, None, :] == X[None, :, :]).all(dim=-1).any(dim=1)


@pytest.mark.parametrize("f", [2, 3, 5])
def test_fit_keeps_no_training_row(f):
    X = marked_table(f=f)
    pool = MarginalCorruption().fit(X).pool_
    assert not rows_in(pool, X).any()
    assert not rows_in(pool, X[17:18]).any()  # the marker is not kept together
    assert (pool == X[17]).any(dim=0).all()  # though its values are
    assert_same_columns(pool, X)  # every column: a permutation of its values


def test_no_pool_row_comes_whole_from_one_training_row_on_small_tables():
    # with two columns, an unadjusted pair of random permutations leaves a
    # training row whole in about 63% of fits
    for seed in range(60):
        X = torch.randperm(40, generator=gen(seed)).reshape(20, 2).float()
        pool = MarginalCorruption().fit(X).pool_
        assert not rows_in(pool, X).any(), seed
        assert_same_columns(pool, X)


def test_a_subsampled_fit_keeps_columns_of_the_same_rows():
    X = marked_table(n=300, f=3)
    pool = MarginalCorruption(max_rows=100).fit(X).pool_
    assert pool.shape == (100, 3) and not rows_in(pool, X).any()
    g = torch.Generator().manual_seed(0)
    kept = X[torch.randperm(300, generator=g)[:100]]  # the documented subsample
    assert_same_columns(pool, kept)


def test_the_pool_order_is_not_reproducible_but_the_views_are():
    X = marked_table(n=200, f=3)
    a, b = MarginalCorruption(0.7).fit(X), MarginalCorruption(0.7).fit(X)
    assert not torch.equal(a.pool_, b.pool_)  # secret permutations
    batch = X[:50]
    assert torch.equal(a(batch, gen(1)), b(batch, gen(1)))


def test_a_pool_of_training_rows_from_an_older_file_gives_the_same_views():
    X = marked_table(n=100, f=3)
    old = MarginalCorruption(0.6)
    set_augmentation_state(old, {"pool_": X.clone()})  # rows, as kept before
    new = MarginalCorruption(0.6).fit(X)
    batch = X[10:40]
    assert torch.equal(old(batch, gen(2)), new(batch, gen(2)))
    assert torch.equal(
        marginal_corruption(batch, 0.6, gen(2), pool=X), new(batch, gen(2))
    )
    with pytest.raises(ValueError, match="pool_ must be 2-D finite floats"):
        set_augmentation_state(MarginalCorruption(max_rows=50), {"pool_": X})
    with pytest.raises(ValueError, match="pool_ must be 2-D finite floats"):
        set_augmentation_state(old, {"pool_": torch.full((3, 3), float("nan"))})


def draw_counts(column, own, n_draws=30000, seed=0):
    """Counts of the values a corrupted entry ``own`` takes from ``column``."""
    pool = torch.tensor(column, dtype=torch.float32)[:, None]
    x = torch.full((n_draws, 1), float(own))
    view = marginal_corruption(x, 1.0, gen(seed), pool=pool)
    values, counts = view.flatten().unique(return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def chi_square(counts, probabilities):
    n = sum(counts.values())
    assert set(counts) <= set(probabilities)
    return sum(
        (counts.get(v, 0) - n * p) ** 2 / (n * p) for v, p in probabilities.items()
    )


def test_a_corrupted_entry_is_a_uniform_draw_among_the_other_values():
    from scipy.stats import chi2

    column = [3.0, 1.0, 4.0, 1.5, 9.0, 2.625]  # distinct values, exact in float32
    total, dof = 0.0, 0
    for k, own in enumerate(column):
        counts = draw_counts(column, own, seed=k)
        assert own not in counts  # never its own value
        others = [v for v in column if v != own]
        total += chi_square(counts, {v: 1 / len(others) for v in others})
        dof += len(others) - 1
    assert total < chi2.ppf(0.999, dof)


@pytest.mark.parametrize(
    ("own", "probabilities"),
    [
        (1.0, {1.0: 1 / 3, 2.0: 1 / 3, 3.0: 1 / 3}),  # one copy of 1 is left out
        (2.0, {1.0: 2 / 3, 3.0: 1 / 3}),
        (3.0, {1.0: 2 / 3, 2.0: 1 / 3}),
        (5.0, {1.0: 1 / 2, 2.0: 1 / 4, 3.0: 1 / 4}),  # not in the column
        (0.0, {1.0: 1 / 2, 2.0: 1 / 4, 3.0: 1 / 4}),  # below every value
    ],
)
def test_a_repeated_value_loses_one_copy(own, probabilities):
    from scipy.stats import chi2

    counts = draw_counts([2.0, 1.0, 3.0, 1.0], own)
    assert chi_square(counts, probabilities) < chi2.ppf(0.999, len(probabilities) - 1)


def test_a_column_of_one_value_keeps_it():
    pool = torch.tensor([[2.0, 5.0]])
    x = torch.tensor([[2.0, 1.0], [3.0, 5.0]])
    view = marginal_corruption(x, 1.0, gen(0), pool=pool)
    assert view.tolist() == [[2.0, 5.0], [2.0, 5.0]]
    with pytest.raises(ValueError, match=r"shape \(P, 2\)"):
        marginal_corruption(x, 1.0, gen(0), pool=torch.ones(3, 3))


def test_fitted_views_of_float64_batches_never_take_the_own_value():
    X = marked_table(n=80, f=3).double()
    corruption = MarginalCorruption(1.0).fit(X)
    view = corruption(X, gen(4))
    assert view.dtype == torch.float64 and (view != X).all()


def test_a_fitted_shard_equals_the_batch_without_a_group():
    from rince_sklearn.distributed import BatchShard

    X = marked_table(n=64, f=3)
    for corruption in (MarginalCorruption(0.6), MarginalCorruption(0.3, 0.1)):
        corruption.fit(X)
        expected = corruption(X, generator=gen(5))
        got = corruption.augment_shard(X, BatchShard([64]), gen(5))
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_fit_leaves_its_input_alone():
    for X in (torch.arange(10.0)[:, None], torch.arange(12.0).reshape(6, 2)):
        before = X.clone()
        pool = MarginalCorruption().fit(X).pool_
        assert torch.equal(X, before) and pool.data_ptr() != X.data_ptr()
        assert_same_columns(pool, X)
    with pytest.raises(ValueError, match="at least one row"):
        MarginalCorruption().fit(torch.ones(0, 3))
