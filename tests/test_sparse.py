"""Sparse tables: scipy sparse matrices and arrays, and sparse DataFrame columns."""

import numpy as np
import pytest
import torch
from scipy import sparse

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import MarginalCorruption
from rince_sklearn.batching import SparseRowSource

pd = pytest.importorskip("pandas")

FAST = {"max_epochs": 2, "embedding_dim": 4, "projection_dim": 4, "random_state": 0}


def sparse_rows(n=60, n_features=12, density=0.2, seed=0):
    """A dense array with about ``density`` non-zero entries, and its CSR form."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, n_features)) * (rng.random((n, n_features)) < density)
    dense[:, 0] = rng.normal(size=n)  # no all-zero row
    return dense, sparse.csr_matrix(dense)


@pytest.fixture(scope="module")
def fitted_dense():
    dense, _ = sparse_rows()
    emb = RobustContrastiveEmbedder(**FAST).fit(dense)
    return dense, emb.transform(dense), emb.score(dense)


def test_documented_recipe_with_a_many_level_category():
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 300
    city = rng.integers(0, 50, n)
    frame = pd.DataFrame(
        {
            "city": [f"city{c}" for c in city],
            "age": rng.normal(40, 10, n),
            "income": rng.normal(0, 1, n) + (city % 2),
        }
    )
    y = (city % 2 == 0).astype(int)
    ct = make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough")
    encoded = ct.fit_transform(frame)
    assert sparse.issparse(encoded)  # what made the recipe fail before
    assert encoded.nnz / np.prod(encoded.shape) < 0.3
    pipe = make_pipeline(
        ct,
        RobustContrastiveEmbedder(max_epochs=2, random_state=0),
        LogisticRegression(max_iter=500),
    )
    predicted = pipe.fit(frame, y).predict(frame)
    assert predicted.shape == (n,) and set(predicted) <= {0, 1}
    assert pipe[1].n_features_in_ == encoded.shape[1]


@pytest.mark.parametrize(
    "convert",
    [
        sparse.csr_matrix,
        sparse.csc_matrix,
        sparse.coo_matrix,
        sparse.lil_matrix,
        sparse.csr_array,
        sparse.csc_array,
        sparse.coo_array,
    ],
)
def test_every_sparse_format_embeds_as_the_dense_data(fitted_dense, convert):
    dense, expected, expected_score = fitted_dense
    X = convert(dense)
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    assert not hasattr(emb, "feature_names_in_")
    np.testing.assert_allclose(emb.transform(X), expected, rtol=1e-5, atol=1e-6)
    # a model fitted on sparse rows embeds dense ones, and the reverse
    np.testing.assert_allclose(emb.transform(dense), expected, rtol=1e-5, atol=1e-6)
    assert emb.score(X) == pytest.approx(expected_score, abs=1e-6)


def test_partial_fit_on_sparse_batches_matches_dense():
    dense, X = sparse_rows()
    a = RobustContrastiveEmbedder(**FAST)
    b = RobustContrastiveEmbedder(**FAST)
    for rows in (slice(0, 30), slice(30, 60)):
        a.partial_fit(X[rows])
        b.partial_fit(dense[rows])
    np.testing.assert_allclose(a.transform(X), b.transform(dense), atol=1e-6)


def test_pandas_sparse_columns(fitted_dense):
    dense, expected, _ = fitted_dense
    names = [f"f{j}" for j in range(dense.shape[1])]
    all_sparse = pd.DataFrame.sparse.from_spmatrix(
        sparse.csr_matrix(dense), columns=names
    )
    mixed = pd.DataFrame(dense, columns=names).astype(
        {name: pd.SparseDtype(float, 0.0) for name in names[1:]}
    )  # f0 dense, the others sparse
    for frame in (all_sparse, mixed):
        emb = RobustContrastiveEmbedder(**FAST).fit(frame)
        assert list(emb.feature_names_in_) == names
        np.testing.assert_allclose(emb.transform(frame), expected, atol=1e-6)
    with pytest.warns(UserWarning, match="feature names"):
        emb.transform(dense)  # fitted with names, given none: scikit-learn warns
    # a sparse column filled with NaN holds NaN wherever nothing is stored
    holes = pd.arrays.SparseArray(np.where(dense[:, 3] == 0, np.nan, dense[:, 3]))
    assert np.isnan(holes.fill_value) and holes.sp_values.size < len(holes)
    nan_filled = mixed.assign(f3=holes)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        RobustContrastiveEmbedder(**FAST).fit(nan_filled)


@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_nan_and_inf_in_sparse_data_are_refused(value, match):
    dense, X = sparse_rows()
    bad = X.copy()
    bad.data[3] = value
    with pytest.raises(ValueError, match=f"Input X contains {match}"):
        RobustContrastiveEmbedder(**FAST).fit(bad)
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    with pytest.raises(ValueError, match=f"Input X contains {match}"):
        emb.transform(bad)
    with pytest.raises(ValueError, match="X has 11 features, but"):
        emb.transform(X[:, :11])


def test_training_never_densifies_the_whole_matrix(monkeypatch):
    dense, X = sparse_rows(n=500, n_features=6)
    sizes = []
    take = SparseRowSource.take

    def recording_take(self, indices):
        sizes.append(len(indices))
        return take(self, indices)

    monkeypatch.setattr(SparseRowSource, "take", recording_take)
    monkeypatch.setattr(SparseRowSource, "fit_rows", 100)
    emb = RobustContrastiveEmbedder(**FAST, batch_size=32).fit(X)
    assert sizes and max(sizes) == 100  # the augmentation's fit rows, then batches
    assert emb.augmentation_.pool_.shape == (100, 6)
    sizes.clear()
    emb.transform(X)
    assert max(sizes) <= 32 + 1


def test_fit_data_is_the_subsample_that_marginal_corruption_draws(monkeypatch):
    assert SparseRowSource.fit_rows == MarginalCorruption().max_rows
    dense, X = sparse_rows(n=300, n_features=5)
    monkeypatch.setattr(SparseRowSource, "fit_rows", 40)
    source = SparseRowSource(X)
    rows = source.fit_data()
    assert rows.shape == (40, 5) and rows.dtype == torch.float32
    from_dense = MarginalCorruption(max_rows=40).fit(torch.tensor(dense)).pool_
    from_sparse = MarginalCorruption(max_rows=40).fit(rows).pool_
    # each fit shuffles every column with a secret seed: the same values per
    # column (the marginals the views draw from), in another order
    torch.testing.assert_close(
        from_sparse.sort(dim=0).values, from_dense.sort(dim=0).values
    )
    small = SparseRowSource(X[:30]).fit_data()  # fewer rows: all of them, in order
    torch.testing.assert_close(small, torch.tensor(dense[:30], dtype=torch.float32))


def test_fit_data_of_a_wide_matrix_stays_within_its_byte_budget(monkeypatch):
    dense, X = sparse_rows(n=300, n_features=10)
    source = SparseRowSource(X)
    # the defaults: 100,000 rows up to 671 columns, 13,421 of 5,000 columns
    assert source.fit_bytes == 256 * 2**20
    assert source.fit_rows_for(671) == 100_000
    assert source.fit_rows_for(5000) == 13_421
    assert source.fit_rows_for(10**7) == 1_000
    monkeypatch.setattr(SparseRowSource, "fit_rows", 100)
    monkeypatch.setattr(SparseRowSource, "fit_bytes", 40 * 4 * 10)  # 40 rows
    monkeypatch.setattr(SparseRowSource, "min_fit_rows", 5)
    assert source.fit_rows_for(10) == 40 and source.fit_rows_for(1000) == 5
    assert source.fit_rows_for(1) == 100
    rows = source.fit_data()
    # a prefix of the rows MarginalCorruption's fit draws from dense data
    drawn = torch.randperm(300, generator=torch.Generator().manual_seed(0))[:40]
    torch.testing.assert_close(rows, torch.tensor(dense, dtype=torch.float32)[drawn])


def test_sparse_row_source_takes_dense_rows():
    dense, X = sparse_rows(n=10, n_features=4)
    for matrix in (X, X.tocoo(), sparse.csc_array(X)):
        source = SparseRowSource(matrix)
        assert len(source) == 10
        batch = source.take(torch.tensor([7, 2, 7]))
        assert batch.dtype == torch.float32 and batch.is_contiguous()
        torch.testing.assert_close(
            batch, torch.tensor(dense[[7, 2, 7]], dtype=torch.float32)
        )


def test_sparse_integers_beyond_float32_warn():
    from sklearn.exceptions import DataConversionWarning

    ids = 2**40 + np.arange(20)
    X = sparse.csr_matrix(np.column_stack([ids, np.arange(20) % 3]).astype(np.int64))
    with pytest.warns(DataConversionWarning, match=r"Column\(s\) \[0\] of X"):
        RobustContrastiveEmbedder(**FAST).fit(X)


def test_the_estimator_declares_sparse_input():
    assert RobustContrastiveEmbedder().__sklearn_tags__().input_tags.sparse
