"""Bad input gets a clear error, case by case."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from rince_sklearn import RobustContrastiveEmbedder

FAST = {"max_epochs": 1, "embedding_dim": 4, "projection_dim": 4, "random_state": 0}
X = np.random.default_rng(0).normal(size=(20, 3))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.where(np.eye(20, 3) == 1, np.nan, X), "Input X contains NaN"),
        (np.where(np.eye(20, 3) == 1, np.inf, X), "Input X contains infinity"),
        (np.array([["a", "b"], ["c", "d"]]), "could not convert string to float"),
        (np.empty((0, 3)), "0 sample"),
        (X[:1], "1 sample"),
        (np.empty((5, 0)), "0 feature"),
        (X[:, 0], "Expected 2D array, got 1D array"),
    ],
)
def test_bad_training_data(bad, message):
    with pytest.raises(ValueError, match=message):
        RobustContrastiveEmbedder(**FAST).fit(bad)


def test_wrong_width_at_transform():
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but RobustContrastive"):
        emb.transform(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        emb.transform(np.full((2, 3), np.nan))


@pytest.mark.parametrize("method", ["transform", "score", "save"])
def test_methods_before_fit(method, tmp_path):
    emb = RobustContrastiveEmbedder(**FAST)
    arg = tmp_path / "x.pt" if method == "save" else X
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(emb, method)(arg)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"q": 0.0}, "q"),
        ({"q": 1.2}, "q"),
        ({"q": "half"}, "q"),
        ({"lam": 0.0}, "lam"),
        ({"lam": -1.0}, "lam"),
        ({"temperature": 0.0}, "temperature"),
        ({"noise_rate": -0.1}, "noise_rate"),
        ({"noise_rate": 1.5}, "noise_rate"),
        ({"batch_size": 1}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"lr": 0.0}, "lr"),
        ({"loss": "triplet"}, "loss"),
        ({"modality": "audio"}, "modality"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"encoder": "resnet"}, "encoder"),
        ({"augmentation": "strong"}, "augmentation"),
        ({"encoder_kwargs": [1, 2]}, "encoder_kwargs"),
    ],
)
def test_out_of_range_parameters(params, name):
    emb = RobustContrastiveEmbedder(**FAST).set_params(**params)
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        emb.fit(X)


def test_encoder_that_is_not_a_module():
    with pytest.raises(TypeError, match="subclass of torch.nn.Module"):
        RobustContrastiveEmbedder(**FAST, encoder=dict).fit(X)


def test_encoder_with_wrong_output_width():
    class Wrong(torch.nn.Module):
        def __init__(self, in_features):
            super().__init__()
            self.layer = torch.nn.Linear(in_features, 7)

        def forward(self, x):
            return self.layer(x)

    with pytest.raises(ValueError, match=r"shape \(batch, 4\) \(embedding_dim\)"):
        RobustContrastiveEmbedder(**FAST, encoder=Wrong).fit(X)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense data is required"):
        RobustContrastiveEmbedder(**FAST).fit(sparse.csr_matrix(X))


def test_complex_input_is_refused():
    with pytest.raises(ValueError, match="Complex data not supported"):
        RobustContrastiveEmbedder(**FAST).fit(X + 1j)
