"""Tabular augmentations: SCARF's corruption from the training set's marginals."""

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
    assert sorted(state) == ["1.1.pool_", "1.1.pool_key_"]
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
