"""Bad input gets a clear error, case by case."""

import warnings

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


# -- input gaps: each gets a message that names what was seen and the fix -------------
def test_dataframe_text_column_is_named_with_the_fix():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"age": [30.0, 40.0, 50.0], "smoker": ["No", "Yes", "No"], "bmi": [20, 25, 30]}
    )
    with pytest.raises(ValueError) as info:
        RobustContrastiveEmbedder(**FAST).fit(frame)
    message = str(info.value)
    assert "could not convert string to float: 'No'" in message
    assert "['smoker']" in message and "'age'" not in message
    assert "OneHotEncoder" in message and "make_column_transformer" in message
    category = frame.assign(smoker=frame["smoker"].astype("category"))
    with pytest.raises(ValueError, match=r"\['smoker'\]"):
        RobustContrastiveEmbedder(**FAST).fit(category)
    # numbers stored as objects or categories of numbers are numbers
    numeric = frame.assign(smoker=pd.Series([0, 1, 0], dtype=object))
    assert RobustContrastiveEmbedder(**FAST).fit(numeric).n_features_in_ == 3


def test_numpy_text_columns_are_named():
    X_text = np.array([["1.5", "a"], ["2.5", "b"]])
    with pytest.raises(ValueError, match=r"string to float: 'a'.*column\(s\) \[1\]"):
        RobustContrastiveEmbedder(**FAST).fit(X_text)


@pytest.mark.parametrize("alone", [False, True])
def test_dataframe_date_column_is_named_with_the_fix(alone):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0],
            "when": pd.to_datetime(["2020-01-01", "2021-06-01", "2022-01-01"]),
            "took": pd.to_timedelta([1, 2, 3], unit="s"),
        }
    )
    if alone:  # numpy would silently read it as nanoseconds since 1970
        frame = frame[["when"]]
    with pytest.raises(
        TypeError, match=r"\['when'(, 'took')?\] of X hold dates"
    ) as info:
        RobustContrastiveEmbedder(**FAST).fit(frame)
    assert ".dt.year" in str(info.value)
    numbers = pd.DataFrame({"x": [1.0, 2.0, 3.0], "when": [0.0, 1.0, 2.0]})
    fitted = RobustContrastiveEmbedder(**FAST).fit(numbers)
    with pytest.raises(TypeError, match=r"\['when'\] of X hold dates"):
        fitted.transform(frame.assign(x=1.0)[["x", "when"]])


def test_ragged_rows_say_so():
    with pytest.raises(ValueError, match="rows of X have different lengths"):
        RobustContrastiveEmbedder(**FAST).fit([[1.0, 2.0], [3.0], [4.0, 5.0]])


EDGES = np.array([[0, 1], [1, 0]])


@pytest.mark.parametrize(
    "X, match",
    [
        ((EDGES, np.ones((2, 3))), "wrap it in a list"),
        ([(np.array([]), np.ones((2, 3)))] * 2, None),  # no edges: valid
        ([(np.array([[0, 1], [1, 0], [0, 0]]), np.ones((2, 3)))] * 2, r"\(2, E\)"),
        ([(np.array([[0, 1, 0], [1, 0, 1]]), np.ones((2, 3)))] * 2, None),
        ([(np.array([[0, 1, 2]]), np.ones((3, 2)))] * 2, r"got shape \(1, 3\)"),
    ],
)
def test_auto_detection_sends_malformed_graphs_to_the_graph_checks(X, match):
    emb = RobustContrastiveEmbedder(**FAST)
    if match is None:
        assert emb.fit(X).modality_ == "graph"
    else:
        with pytest.raises((TypeError, ValueError), match=match):
            emb.fit(X)


@pytest.mark.parametrize("modality", ["tabular", "image"])
def test_graphs_given_to_an_array_modality(modality):
    graphs = [(EDGES, np.ones((2, 3)))] * 4
    with pytest.raises(TypeError, match=rf"modality='{modality}' expects an array"):
        RobustContrastiveEmbedder(**FAST, modality=modality).fit(graphs)
    X = np.random.default_rng(0).normal(size=(20, 3, 4, 4))
    fitted = RobustContrastiveEmbedder(**FAST).fit(
        X if modality == "image" else X[:, 0, 0]
    )
    for bad in (graphs, graphs[0]):
        with pytest.raises(
            TypeError, match=f"fitted on {modality} input.*list of graphs"
        ):
            fitted.transform(bad)


def test_flat_image_rows_get_a_hint():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(30, 784)).astype(np.uint8)
    for X, seen in [
        (pixels, "uint8 values"),
        (pixels.astype(np.float32), r"whole numbers in \[0, 255\]"),
        (pixels / np.float32(255), r"values in \[0, 1\]"),
        (rng.integers(0, 256, size=(30, 3 * 32 * 32)).astype(np.uint8), "uint8"),
    ]:
        c = 3 if X.shape[1] == 3072 else 1
        side = 32 if c == 3 else 28
        with pytest.warns(UserWarning, match=seen) as record:
            emb = RobustContrastiveEmbedder(**FAST).fit(X)
        assert emb.modality_ == "tabular"
        assert f"image_shape=({c}, {side}, {side})" in str(record[0].message)
    # an explicit modality is a decision: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RobustContrastiveEmbedder(**FAST, modality="tabular").fit(pixels)


def test_ordinary_tables_get_no_image_hint():
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    rng = np.random.default_rng(0)
    tables = [
        load_wine().data,
        load_breast_cancer().data,
        load_digits().data,  # 64 = 8x8, values 0..16: a classic table
        rng.normal(size=(30, 784)),  # negative values
        rng.integers(0, 2, size=(30, 1024)).astype(float),  # binary fingerprints
        rng.uniform(0, 1000, size=(30, 256)),  # beyond pixel values
        rng.integers(0, 256, size=(30, 100)).astype(float),  # 10x10, narrow
    ]
    for X in tables:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            emb = RobustContrastiveEmbedder(**FAST).fit(X[:40])
        assert emb.modality_ == "tabular"


def test_fashion_mnist_rows_get_the_hint():
    from rince_sklearn.datasets import load_fashion_mnist

    try:
        data = load_fashion_mnist(subset="test")
    except (FileNotFoundError, OSError):
        pytest.skip("Fashion-MNIST is not installed")
    with pytest.warns(UserWarning, match=r"image_shape=\(1, 28, 28\)"):
        RobustContrastiveEmbedder(**FAST).fit(data.data[:50])
