"""RobustContrastiveEmbedder on tabular data: API, training, learning, persistence."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from rince_sklearn import RobustContrastiveEmbedder, TrainingDivergedError
from rince_sklearn._net import false_positive_pairing
from rince_sklearn.augment import MarginalCorruption
from rince_sklearn.encoders import MLPEncoder

FAST = {"max_epochs": 3, "embedding_dim": 8, "projection_dim": 8, "random_state": 0}


def test_fit_transform_shapes_and_attributes(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST)
    assert emb.fit(X) is emb
    Z = emb.transform(X)
    assert Z.shape == (178, 8) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    assert emb.n_features_in_ == 13
    assert emb.modality_ == "tabular"
    assert emb.device_ == torch.device("cpu")
    assert isinstance(emb.encoder_, MLPEncoder)
    assert isinstance(emb.augmentation_, MarginalCorruption)
    assert len(emb.history_) == 3
    assert all(np.isfinite(row["train_loss"]) for row in emb.history_)
    assert not emb.encoder_.training


def test_fit_transform_equals_fit_then_transform(wine):
    X, _ = wine
    a = RobustContrastiveEmbedder(**FAST).fit_transform(X)
    b = RobustContrastiveEmbedder(**FAST).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


def test_random_state_reproducibility(wine):
    X, _ = wine
    a = RobustContrastiveEmbedder(**FAST).fit(X).transform(X)
    b = RobustContrastiveEmbedder(**FAST).fit(X).transform(X)
    c = RobustContrastiveEmbedder(**{**FAST, "random_state": 1}).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_transform_does_not_depend_on_batch_composition(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    full = emb.transform(X)
    np.testing.assert_allclose(emb.transform(X[5:9]), full[5:9], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["tabular", "image"])
def test_transform_of_a_subset_is_the_subset_of_transform(wine, kind):
    """Exactly, with the default encoders: one row alone or all rows at once.

    torch picks kernels by shape (a matrix-vector product for one row), which
    once made one row's embedding differ from its row of the whole in the 7th
    digit (scikit-learn's ``check_methods_subset_invariance``).
    """
    if kind == "tabular":
        X = wine[0]
    else:
        from sklearn.datasets import load_digits

        X = load_digits().images[:150].astype(np.float32)
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
    full = emb.transform(X)
    for index in (slice(0, 1), slice(7, 8), slice(None, None, 2), slice(0, 37)):
        np.testing.assert_array_equal(emb.transform(X[index]), full[index])


def test_dataframe_input_and_pandas_output(wine):
    pd = pytest.importorskip("pandas")
    X, _ = wine
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(13)])
    emb = RobustContrastiveEmbedder(**FAST).set_output(transform="pandas")
    out = emb.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"robustcontrastiveembedder{i}" for i in range(8)]
    assert list(emb.feature_names_in_) == list(df.columns)
    assert list(emb.get_feature_names_out()) == list(out.columns)
    with pytest.raises(ValueError, match="feature names"):
        emb.transform(df.rename(columns={"c0": "other"}))


def test_batch_size_adapts_to_small_data():
    X = np.random.default_rng(0).normal(size=(10, 4))
    emb = RobustContrastiveEmbedder(**FAST, batch_size=256).fit(X)
    assert emb.batch_size_ == 10
    assert emb.history_[-1, "batches", -1, "train_batch_size"] == 10
    # training batches all have batch_size samples: of 11, batches of 4 and 4
    # (the 3 left out change from epoch to epoch; tests/test_equal_batches.py)
    emb = RobustContrastiveEmbedder(**FAST, batch_size=4).fit(np.vstack([X, X[:1]]))
    assert [b["train_batch_size"] for b in emb.history_[-1]["batches"]] == [4, 4]


def test_two_samples_is_enough():
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    Z = RobustContrastiveEmbedder(**FAST).fit_transform(X)
    assert Z.shape == (2, 8)


def test_callbacks_are_called(wine):
    X, _ = wine

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    counter = CountEpochs()
    emb = RobustContrastiveEmbedder(**FAST, callbacks=[counter]).fit(X)
    fitted = [cb for _, cb in emb.net_.callbacks_ if isinstance(cb, CountEpochs)]
    assert fitted[0].epochs_ == 3
    assert not hasattr(counter, "epochs_")  # the parameter itself is left alone


def test_early_stopping_on_training_loss(wine):
    X, _ = wine
    # a learning rate far too small to improve the loss by tol
    emb = RobustContrastiveEmbedder(
        **{**FAST, "max_epochs": 30}, lr=1e-12, n_iter_no_change=2, tol=1.0
    ).fit(X)
    assert len(emb.history_) == 3


def test_verbose_prints_progress(wine, capsys):
    X, _ = wine
    RobustContrastiveEmbedder(**FAST, verbose=1).fit(X)
    out = capsys.readouterr()
    assert "train_loss" in out.out
    RobustContrastiveEmbedder(**FAST, verbose=0).fit(X)
    out = capsys.readouterr()
    assert out.out == ""


def test_infonce_and_optimizers(wine):
    X, _ = wine
    for kwargs in (
        {"loss": "infonce"},
        {"optimizer": "sgd", "lr": 0.05},
        {"optimizer": "adamw", "weight_decay": 0.01},
        {"optimizer": torch.optim.RMSprop},
    ):
        Z = RobustContrastiveEmbedder(**FAST, **kwargs).fit_transform(X)
        assert np.isfinite(Z).all()


def test_divergence_names_the_epoch(wine):
    X, _ = wine
    calls = {"n": 0}

    def poison_after_first_epoch(batch):
        calls["n"] += 1  # wine is one batch: two views per epoch
        return batch * float("nan") if calls["n"] > 2 else batch

    emb = RobustContrastiveEmbedder(**FAST, augmentation=poison_after_first_epoch)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2\b.*lower lr"):
        emb.fit(X)


def test_custom_encoder_gets_sizes(wine):
    X, _ = wine

    class Linear(torch.nn.Module):
        def __init__(self, in_features, embedding_dim, bias=True):
            super().__init__()
            self.layer = torch.nn.Linear(in_features, embedding_dim, bias=bias)

        def forward(self, x):
            return self.layer(x)

    emb = RobustContrastiveEmbedder(
        **FAST, encoder=Linear, encoder_kwargs={"bias": False}
    ).fit(X)
    assert emb.encoder_.layer.weight.shape == (8, 13)
    assert emb.encoder_.layer.bias is None


def test_custom_augmentation_with_generator_is_reproducible(wine):
    X, _ = wine
    seen = []

    def jitter(batch, generator=None):
        seen.append(generator)
        noise = torch.randn(batch.shape, generator=generator)
        return batch + 0.1 * noise

    a = RobustContrastiveEmbedder(**FAST, augmentation=jitter).fit_transform(X)
    b = RobustContrastiveEmbedder(**FAST, augmentation=jitter).fit_transform(X)
    assert isinstance(seen[0], torch.Generator)
    np.testing.assert_array_equal(a, b)


# -- noisy views ----------------------------------------------------------------


@pytest.mark.parametrize(
    "n, rate, expected",
    [
        (10, 0.0, 0),
        (10, 0.5, 5),
        (10, 1.0, 10),
        (10, 0.06, 2),
        (3, 0.4, 2),
        (7, 0.02, 0),
    ],
)
def test_false_positive_pairing_counts(n, rate, expected):
    index = false_positive_pairing(n, rate, torch.Generator().manual_seed(0))
    assert sorted(index.tolist()) == list(range(n))  # a permutation
    assert int((index != torch.arange(n)).sum()) == expected


def test_noise_rate_changes_training_not_transform_contract(wine):
    X, _ = wine
    clean = RobustContrastiveEmbedder(**FAST).fit(X)
    noisy = RobustContrastiveEmbedder(**FAST, noise_rate=0.8).fit(X)
    assert not np.allclose(clean.transform(X), noisy.transform(X))
    # a positive pair that is all noise cannot be learned: the loss stays higher
    assert noisy.history_[-1, "train_loss"] > clean.history_[-1, "train_loss"]


# -- learning -------------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset, threshold", [("wine", 0.93), ("breast_cancer", 0.93)]
)
def test_it_learns_tabular(dataset, threshold, request):
    X, y = request.getfixturevalue(dataset)
    emb = RobustContrastiveEmbedder(max_epochs=60, embedding_dim=32, random_state=0)
    Z = emb.fit_transform(X)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    accuracy = cross_val_score(probe, Z, y, cv=5).mean()
    assert accuracy >= threshold
    # the self-supervised score improves far beyond an untrained encoder's
    untrained = RobustContrastiveEmbedder(
        max_epochs=1, lr=1e-12, embedding_dim=32, random_state=0
    ).fit(X)
    assert emb.score(X) > untrained.score(X) + 0.05


def test_score_is_a_retrieval_accuracy(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    score = emb.score(X)
    assert 0.0 <= score <= 1.0
    assert emb.score(X) == score  # deterministic
    # independent of the loss parameters and the batch size
    for name, value in (
        ("q", 1.0),
        ("lam", 0.5),
        ("temperature", 0.1),
        ("batch_size", 8),
    ):
        assert clone(emb).set_params(**{name: value}).__class__ is type(emb)
        emb.set_params(**{name: value})
        assert emb.score(X) == score
    # without augmentation each view retrieves itself
    exact = RobustContrastiveEmbedder(**FAST, augmentation=None).fit(X)
    assert exact.score(X) == 1.0
    # the AUC of a random ranking is 0.5: an encoder that outputs noise
    noise = RobustContrastiveEmbedder(**FAST, encoder=RandomEncoder).fit(X)
    assert noise.score(X) == pytest.approx(0.5, abs=0.05)


def test_pipeline_grid_search_with_labels(wine):
    X, y = wine
    pipe = make_pipeline(
        RobustContrastiveEmbedder(**FAST), LogisticRegression(max_iter=500)
    )
    grid = GridSearchCV(
        pipe,
        {
            "robustcontrastiveembedder__q": [0.1, 1.0],
            "robustcontrastiveembedder__lam": [0.01, 0.1],
        },
        cv=2,
    ).fit(X, y)
    assert set(grid.best_params_) == {
        "robustcontrastiveembedder__q",
        "robustcontrastiveembedder__lam",
    }
    assert 0 <= grid.best_score_ <= 1


def test_grid_search_without_labels_uses_score(wine):
    X, _ = wine
    grid = GridSearchCV(RobustContrastiveEmbedder(**FAST), {"q": [0.2, 1.0]}, cv=2).fit(
        X
    )
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_device_auto_and_unavailable_cuda(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST, device="auto").fit(X)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert emb.device_.type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            RobustContrastiveEmbedder(**FAST, device="cuda").fit(X)
    with pytest.raises(ValueError, match="device must be"):
        RobustContrastiveEmbedder(**FAST, device="tpu-please").fit(X)


class RandomEncoder(torch.nn.Module):
    """Ignores its input: embeddings are noise (plus one trainable weight)."""

    def __init__(self, embedding_dim):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.embedding_dim = embedding_dim

    def forward(self, x):
        return self.scale * torch.randn(len(x), self.embedding_dim)
