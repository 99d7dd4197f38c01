"""Graph datasets: TU text folders written here, superpixel graphs of images."""

import numpy as np
import pytest

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.datasets import images_to_superpixel_graphs, load_tu_dataset


# -- TU format -------------------------------------------------------------------------
def write_tu(folder, name="TOY", node_labels=True, node_attributes=True, edges=None):
    """Three graphs: a triangle (nodes 1-3), an edge (4-5), a lone node (6)."""
    folder.mkdir(parents=True, exist_ok=True)
    if edges is None:
        edges = [(1, 2), (2, 1), (2, 3), (3, 2), (3, 1), (1, 3), (4, 5), (5, 4)]
    (folder / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in edges))
    (folder / f"{name}_graph_indicator.txt").write_text("1\n1\n1\n2\n2\n3\n")
    (folder / f"{name}_graph_labels.txt").write_text("1\n-1\n1\n")
    if node_labels:
        (folder / f"{name}_node_labels.txt").write_text("0\n2\n2\n0\n5\n2\n")
    if node_attributes:
        rows = [f"{i}.5, {-i}" for i in range(6)]
        (folder / f"{name}_node_attributes.txt").write_text("\n".join(rows) + "\n")
    # edge labels are present in many TU datasets and must be ignored
    (folder / f"{name}_edge_labels.txt").write_text("1\n" * len(edges))
    return folder


def test_tu_folder_with_labels_and_attributes(tmp_path):
    data = load_tu_dataset(write_tu(tmp_path / "TOY"))
    assert data.name == "TOY"
    assert data.target.tolist() == [1, -1, 1]
    assert data.node_label_values.tolist() == [0, 2, 5]
    assert data.n_node_attributes == 2
    (e0, x0), (e1, x1), (e2, x2) = data.graphs
    assert sorted(map(tuple, e0.T.tolist())) == [
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 2),
        (2, 0),
        (2, 1),
    ]
    assert e1.tolist() == [[0, 1], [1, 0]]
    assert e2.shape == (2, 0)
    # attributes first, then the one-hot node label
    np.testing.assert_array_equal(
        x0, [[0.5, 0, 1, 0, 0], [1.5, -1, 0, 1, 0], [2.5, -2, 0, 1, 0]]
    )
    np.testing.assert_array_equal(x1, [[3.5, -3, 1, 0, 0], [4.5, -4, 0, 0, 1]])
    np.testing.assert_array_equal(x2, [[5.5, -5, 0, 1, 0]])
    assert x0.dtype == np.float32 and e0.dtype == np.int64


def test_tu_options_and_defaults(tmp_path):
    folder = write_tu(tmp_path / "TOY")
    graphs, y = load_tu_dataset(folder, use_node_attributes=False, return_X_y=True)
    assert graphs[0][1].shape == (3, 3)  # one-hot labels only
    graphs, _ = load_tu_dataset(
        folder, use_node_attributes=False, use_node_labels=False, return_X_y=True
    )
    assert [x.tolist() for _, x in graphs] == [[[1.0]] * 3, [[1.0]] * 2, [[1.0]]]
    plain = write_tu(
        tmp_path / "PLAIN", "PLAIN", node_labels=False, node_attributes=False
    )
    graphs, y = load_tu_dataset(plain, return_X_y=True)
    assert graphs[1][1].tolist() == [[1.0], [1.0]]


def test_tu_files_in_raw_subfolder_and_name(tmp_path):
    write_tu(tmp_path / "MUTAGLIKE" / "raw", "MUTAGLIKE")
    assert load_tu_dataset(tmp_path / "MUTAGLIKE").name == "MUTAGLIKE"
    write_tu(tmp_path / "two", "A1")
    write_tu(tmp_path / "two", "B2")
    with pytest.raises(ValueError, match="several TU datasets"):
        load_tu_dataset(tmp_path / "two")
    assert load_tu_dataset(tmp_path / "two", name="B2").name == "B2"


def test_tu_nodes_out_of_graph_order(tmp_path):
    folder = write_tu(tmp_path / "T", node_attributes=False, node_labels=False)
    # graph 2's nodes listed first: nodes 1, 2 in graph 2; nodes 3-5 in graph 1
    (folder / "TOY_graph_indicator.txt").write_text("2\n2\n1\n1\n1\n3\n")
    (folder / "TOY_A.txt").write_text("1, 2\n2, 1\n3, 4\n4, 5\n")
    graphs, _ = load_tu_dataset(folder, return_X_y=True)
    assert [len(x) for _, x in graphs] == [3, 2, 1]
    assert graphs[0][0].tolist() == [[0, 1], [1, 2]]
    assert graphs[1][0].tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda f: (f / "TOY_graph_labels.txt").unlink(),
            FileNotFoundError,
            "graph_labels",
        ),
        (lambda f: (f / "TOY_A.txt").unlink(), FileNotFoundError, "No TU dataset"),
        (lambda f: (f / "TOY_A.txt").write_text("1, 9\n"), ValueError, "outside 1..6"),
        (lambda f: (f / "TOY_A.txt").write_text("1, 4\n"), ValueError, "two different"),
        (
            lambda f: (f / "TOY_A.txt").write_text("1, x\n"),
            ValueError,
            "TU text format",
        ),
        (
            lambda f: (f / "TOY_graph_labels.txt").write_text("1\n1\n1\n1\n"),
            ValueError,
            "graphs 1..4",
        ),
        (
            lambda f: (f / "TOY_node_labels.txt").write_text("1\n"),
            ValueError,
            "1 lines for 6 nodes",
        ),
    ],
)
def test_tu_bad_folders(tmp_path, change, error, match):
    folder = write_tu(tmp_path / "TOY")
    change(folder)
    with pytest.raises(error, match=match):
        load_tu_dataset(folder)


def test_tu_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_tu_dataset(tmp_path / "nowhere")


def test_tu_graphs_feed_the_estimator(tmp_path):
    graphs, _ = load_tu_dataset(write_tu(tmp_path / "TOY"), return_X_y=True)
    est = RobustContrastiveEmbedder(max_epochs=2, embedding_dim=4, random_state=0)
    assert est.fit_transform(graphs).shape == (3, 4)
    assert est.n_features_in_ == 5


# -- superpixels -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fashion_like():
    """Real images: scikit-learn's digits, upscaled to 24x24 uint8."""
    pytest.importorskip("skimage")
    from sklearn.datasets import load_digits

    images = load_digits().images[:12] / 16
    return (np.kron(images, np.ones((3, 3))) * 255).round().astype(np.uint8)


def test_superpixel_graph_matches_skimage_rag(fashion_like):
    from skimage.graph import rag_mean_color
    from skimage.segmentation import slic

    graphs = images_to_superpixel_graphs(fashion_like, n_segments=30)
    for image, (edges, x) in zip(fashion_like, graphs, strict=True):
        img = image / 255.0
        labels = slic(
            img, n_segments=30, compactness=0.25, channel_axis=None, start_label=0
        )
        labels = np.unique(labels, return_inverse=True)[1].reshape(labels.shape)
        rag = rag_mean_color(img, labels, connectivity=2)
        expected = sorted((u, v) for u, v in rag.edges()) + sorted(
            (v, u) for u, v in rag.edges()
        )
        assert sorted(map(tuple, edges.T.tolist())) == sorted(expected)
        assert x.shape == (labels.max() + 1, 3)
        for region in range(labels.max() + 1):
            rows, cols = np.nonzero(labels == region)
            np.testing.assert_allclose(x[region, 0], img[rows, cols].mean(), rtol=1e-5)
            np.testing.assert_allclose(x[region, 1], rows.mean() / 23, rtol=1e-5)
            np.testing.assert_allclose(x[region, 2], cols.mean() / 23, rtol=1e-5)


def test_superpixels_colour_channels_and_jobs(fashion_like):
    colour = np.stack([fashion_like, 255 - fashion_like, fashion_like // 2], axis=-1)
    graphs = images_to_superpixel_graphs(colour, n_segments=20)
    assert all(x.shape[1] == 5 for _, x in graphs)
    first = images_to_superpixel_graphs(
        np.moveaxis(colour, -1, 1), n_segments=20, channel_axis=0
    )
    np.testing.assert_array_equal(first[3][1], graphs[3][1])
    from joblib import parallel_config

    with parallel_config(backend="threading"):  # the chunking, without spawning
        parallel = images_to_superpixel_graphs(fashion_like, n_segments=20, n_jobs=2)
    serial = images_to_superpixel_graphs(fashion_like, n_segments=20)
    for (e1, x1), (e2, x2) in zip(parallel, serial, strict=True):
        np.testing.assert_array_equal(e1, e2)
        np.testing.assert_array_equal(x1, x2)


def test_superpixels_of_fashion_mnist_have_the_expected_size():
    pytest.importorskip("skimage")
    from rince_sklearn import datasets

    if not hasattr(datasets, "load_fashion_mnist"):
        pytest.skip("load_fashion_mnist is not available")
    try:
        images, _ = datasets.load_fashion_mnist(subset="test", return_X_y=True)
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"Fashion-MNIST files are not installed: {exc}")
    graphs = images_to_superpixel_graphs(images[:50])
    nodes = np.mean([len(x) for _, x in graphs])
    edges = np.mean([e.shape[1] / 2 for e, _ in graphs])
    assert 60 <= nodes <= 90 and 150 <= edges <= 320, (nodes, edges)


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (np.zeros((2, 4)), ValueError, r"\(n, H, W\)"),
        (np.zeros((0, 4, 4)), ValueError, "empty"),
        (np.full((1, 4, 4), np.nan), ValueError, "NaN"),
        (np.array([[["a"]]]), TypeError, "numeric"),
    ],
)
def test_superpixels_bad_input(images, error, match):
    pytest.importorskip("skimage")
    with pytest.raises(error, match=match):
        images_to_superpixel_graphs(images)
