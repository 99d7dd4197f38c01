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


def test_sparse_images_are_refused():
    # sparse tables are accepted (tests/test_sparse.py); images must be dense
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="dense data is required"):
        RobustContrastiveEmbedder(**FAST, image_shape=(1, 1, 3)).fit(
            sparse.csr_matrix(X)
        )


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


# -- inputs that fit no modality: say what X looks like and what each expects ---------
def test_ragged_list_of_images_is_described():
    images = [np.zeros((8, 8)), np.zeros((9, 9)), np.zeros((8, 8))]
    with pytest.raises(ValueError) as info:
        RobustContrastiveEmbedder(**FAST).fit(images)
    message = str(info.value)
    assert "Tabular input must be 2-D" not in message
    assert (
        "a list of 3: ndarray of shape (8, 8) (float64), ndarray of shape (9, 9)"
        in (message)
    )
    assert "looks like images of different shapes" in message
    assert "resize or pad them" in message
    for expected in ("tabular: a 2-D array", "image: an array of images", "graph: a"):
        assert expected in message


def test_graph_with_a_3d_edge_index_reaches_the_graph_checks():
    graph = (np.zeros((2, 3, 1), dtype=int), np.ones((3, 2)))
    with pytest.raises(
        ValueError, match=r"X\[0\]: edge_index must have shape \(2, E\)"
    ):
        RobustContrastiveEmbedder(**FAST).fit([graph] * 3)


def test_graph_tuple_of_three_says_a_graph_is_a_pair():
    graph = (EDGES, np.ones((2, 2)), 1)
    with pytest.raises(TypeError, match=r"X\[0\] is a tuple of 3 members") as info:
        RobustContrastiveEmbedder(**FAST).fit([graph] * 3)
    message = str(info.value)
    assert (
        "ndarray of shape (2, 2) (int64), ndarray of shape (2, 2) (float64), int"
        in (message)
    )
    assert "exactly two: (edge_index, node_features)" in message
    assert "labels as y" in message
    with pytest.raises(TypeError, match="expects an array, but X is a list of graphs"):
        RobustContrastiveEmbedder(**FAST, modality="tabular").fit([graph] * 3)


def test_sample_label_pairs_are_named():
    pairs = [(np.zeros((8, 8), dtype=np.uint8), 3)] * 4
    with pytest.raises(TypeError, match=r"looks like \(sample, label\) pairs"):
        RobustContrastiveEmbedder(**FAST).fit(pairs)


# -- images ----------------------------------------------------------------------------
def test_many_channels_of_square_maps_are_channels_first():
    X = np.random.default_rng(0).normal(size=(4, 2000, 4, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb = RobustContrastiveEmbedder(**FAST).fit(X)
    assert emb.image_shape_ == (2000, 4, 4)
    # channels-last images are still refused, with the way to say otherwise
    last = np.zeros((4, 28, 28, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="look channels-last") as info:
        RobustContrastiveEmbedder(**FAST).fit(last)
    assert r"X.transpose(0, 3, 1, 2)" in str(info.value)
    assert "pass image_shape=(28, 28, 3)" in str(info.value)
    fitted = RobustContrastiveEmbedder(**FAST, image_shape=(28, 28, 3)).fit(last)
    assert fitted.image_shape_ == (28, 28, 3)


@pytest.mark.parametrize("shape", [(0, 8, 8), (0, 3, 8, 8)])
def test_zero_images_say_so(shape):
    with pytest.raises(ValueError, match=r"Found 0 images \(an array of shape"):
        RobustContrastiveEmbedder(**FAST).fit(np.zeros(shape, dtype=np.float32))
    emb = RobustContrastiveEmbedder(**FAST).fit(np.zeros((4, *shape[1:]), np.float32))
    with pytest.raises(ValueError, match="a minimum of 1 is required"):
        emb.transform(np.zeros(shape, dtype=np.float32))


# -- tensors ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_tensors_that_require_grad_are_detached(dtype):
    rows = torch.tensor(X, dtype=dtype).requires_grad_(True)
    expected = RobustContrastiveEmbedder(**FAST).fit(rows.detach().float().numpy())
    emb = RobustContrastiveEmbedder(**FAST).fit(rows)
    np.testing.assert_allclose(emb.transform(rows), expected.transform(rows.detach()))
    images = torch.rand(6, 1, 8, 8, requires_grad=True)
    assert RobustContrastiveEmbedder(**FAST).fit(images).transform(images).shape[0] == 6


# -- silent losses: masks, large integers, complex numbers, numbers as text ----------
def masked(values):
    mask = np.zeros(values.shape, dtype=bool)
    mask.flat[1] = True
    return np.ma.masked_array(values, mask=mask)


def test_masked_arrays_are_refused_for_every_modality():
    match = r"a numpy masked array with 1 masked value\(s\)"
    with pytest.raises(ValueError, match=match) as info:
        RobustContrastiveEmbedder(**FAST).fit(masked(X))
    assert "X.filled(np.nan)" in str(info.value) and "SimpleImputer" in str(info.value)
    with pytest.raises(ValueError, match=match):
        RobustContrastiveEmbedder(**FAST).fit(masked(np.zeros((4, 8, 8))))
    graph = (EDGES, masked(np.ones((2, 3))))
    with pytest.raises(ValueError, match=rf"X\[0\]'s node features: {match}"):
        RobustContrastiveEmbedder(**FAST).fit([graph] * 3)
    graph = (masked(np.array([[0, 1], [1, 0]])), np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"X\[0\]'s edge_index: {match}"):
        RobustContrastiveEmbedder(**FAST).fit([graph] * 3)
    # nothing masked: nothing lost
    plain = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    assert RobustContrastiveEmbedder(**FAST).fit(plain).n_features_in_ == 3


def test_integers_beyond_float32_warn_with_the_fix():
    from sklearn.exceptions import DataConversionWarning

    ids = (2**40 + np.arange(20)).astype(np.int64)
    table = np.column_stack([ids, np.arange(20)])
    with pytest.warns(DataConversionWarning, match=r"Column\(s\) \[0\] of X") as info:
        emb = RobustContrastiveEmbedder(**FAST).fit(table)
    message = str(info[0].message)
    assert "beyond 2**24 = 16777216" in message
    assert "20 distinct values become 1" in message
    assert "StandardScaler" in message
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": ids, "n": np.arange(20)})
    with pytest.warns(DataConversionWarning, match=r"\['id'\] of X"):
        emb.fit(frame)
    with pytest.warns(DataConversionWarning, match="node features"):
        graph = (EDGES, np.full((2, 1), 2**40, dtype=np.int64))
        RobustContrastiveEmbedder(**FAST).fit([graph, (EDGES, graph[1] + 1)] * 2)
    # exact in float32: no warning (up to 2**24, even numbers up to 2**25, and
    # powers of two)
    exact = np.column_stack(
        [
            np.r_[np.arange(2**24 - 9, 2**24 + 1), 2**24 + 2 * np.arange(1, 11)],
            2 ** np.arange(20, 40),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RobustContrastiveEmbedder(**FAST).fit(exact.astype(np.int64)[:, :1])
        RobustContrastiveEmbedder(**FAST).fit(exact.astype(np.int64)[:, 1:])


def test_complex_input_is_refused_for_every_modality():
    match = "Complex data not supported: .*has dtype complex128"
    with pytest.raises(ValueError, match=match) as info:
        RobustContrastiveEmbedder(**FAST).fit(X + 1j)
    assert "np.concatenate([X.real, X.imag], axis=1)" in str(info.value)
    assert len(str(info.value)) < 400  # no dump of the array
    with pytest.raises(ValueError, match=match):
        RobustContrastiveEmbedder(**FAST).fit(np.ones((4, 8, 8)) * 1j)
    with pytest.raises(ValueError, match=r"Complex data not supported: X\[0\]'s node"):
        graph = (EDGES, np.ones((2, 3)) * (1 + 1j))
        RobustContrastiveEmbedder(**FAST).fit([graph] * 3)
    with pytest.raises(ValueError, match="Complex data not supported"):
        RobustContrastiveEmbedder(**FAST).fit(torch.tensor(X) * 1j)
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="column 'z' of X has dtype complex128"):
        RobustContrastiveEmbedder(**FAST).fit(
            pd.DataFrame({"x": X[:, 0], "z": X[:, 1] * 1j})
        )


def test_numbers_as_text_suggest_to_numeric_and_an_imputer():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "age": [str(v) for v in range(30, 49)] + ["n/a"],
            "bmi": np.linspace(18, 30, 20),
            "town": ["a", "b"] * 10,
        }
    )
    with pytest.raises(ValueError) as info:
        RobustContrastiveEmbedder(**FAST).fit(frame)
    message = str(info.value)
    assert message.startswith("could not convert string to float: 'n/a'")
    assert (
        "19 of 20 values of column 'age' are numbers, the others are like ['n/a']"
        in (message)
    )
    assert "pd.to_numeric(X['age'], errors='coerce')" in message
    assert "SimpleImputer" in message
    # the text column still gets the encoder, and only it
    assert "Column(s) ['town'] hold text or categories" in message
    assert "OneHotEncoder(), ['town']" in message
    # numpy: the column's index
    table = np.array([["1.5", "2"], ["n/a", "3"], ["2.5", "4"]], dtype=object)
    with pytest.raises(
        ValueError, match=r"pd.to_numeric\(X\[:, 0\], errors='coerce'\)"
    ):
        RobustContrastiveEmbedder(**FAST).fit(table)
