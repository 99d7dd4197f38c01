"""Images to superpixel graphs (the "MNIST superpixels" benchmark's recipe)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["images_to_superpixel_graphs"]


def _import_slic() -> Any:
    try:
        from skimage.segmentation import slic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "images_to_superpixel_graphs needs scikit-image: pip install "
            "'rince_sklearn[graph]' (or pip install scikit-image)."
        ) from exc
    return slic


def _region_graph(
    image: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Region adjacency graph of one labelled image (8-connected regions).

    ``image`` is ``(H, W, C)`` float, ``labels`` ``(H, W)`` with consecutive
    labels from 0. Returns ``edge_index`` (2, E), both directions, sorted, and
    node features ``(n, C + 2)``: mean intensity per channel, then the
    centroid's row and column scaled to ``[0, 1]``.
    """
    h, w, c = image.shape
    n = int(labels.max()) + 1
    flat = labels.ravel()
    size = np.bincount(flat, minlength=n).astype(np.float64)  # (n,)
    means = np.stack(
        [np.bincount(flat, image[..., k].ravel(), n) / size for k in range(c)], 1
    )  # (n, C)
    rows, cols = np.indices((h, w))
    centroid = np.stack(
        [
            np.bincount(flat, rows.ravel(), n) / size / max(h - 1, 1),
            np.bincount(flat, cols.ravel(), n) / size / max(w - 1, 1),
        ],
        1,
    )  # (n, 2)
    # neighbouring pixels: right, down, down-right, down-left (8-connectivity)
    pairs = [
        (labels[:, :-1], labels[:, 1:]),
        (labels[:-1, :], labels[1:, :]),
        (labels[:-1, :-1], labels[1:, 1:]),
        (labels[:-1, 1:], labels[1:, :-1]),
    ]
    a = np.concatenate([p[0].ravel() for p in pairs])
    b = np.concatenate([p[1].ravel() for p in pairs])
    differ = a != b
    key = np.unique(
        np.concatenate([a[differ] * n + b[differ], b[differ] * n + a[differ]])
    )  # both directions, sorted by source then target
    edge_index = np.stack([key // n, key % n]).astype(np.int64)  # (2, E)
    x = np.concatenate([means, centroid], axis=1).astype(np.float32)
    return edge_index, x


def _convert(
    images: np.ndarray, n_segments: int, compactness: float, scale: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    slic = _import_slic()
    graphs = []
    for image in images:
        image = image.astype(np.float64) / scale  # (H, W, C)
        labels = slic(
            image,
            n_segments=n_segments,
            compactness=compactness,
            channel_axis=-1,
            start_label=0,
        )
        labels = np.unique(labels, return_inverse=True)[1].reshape(labels.shape)
        graphs.append(_region_graph(image, labels))
    return graphs


def images_to_superpixel_graphs(
    images: Any,
    *,
    n_segments: int = 75,
    compactness: float = 0.25,
    channel_axis: int | None = None,
    n_jobs: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Turn images into region adjacency graphs of their SLIC superpixels.

    Each image is cut into about ``n_segments`` superpixels by SLIC
    (``skimage.segmentation.slic``); every superpixel is a node, and two nodes
    are joined when their regions touch (8-connectivity, as in
    ``skimage.graph.rag_mean_color``'s default). This is the recipe of the
    "MNIST superpixels" benchmark of the graph neural network literature [1]_;
    a 28x28 Fashion-MNIST image gives about 76 nodes and 240 undirected edges,
    in about a millisecond.

    Needs scikit-image (``pip install 'rince_sklearn[graph]'``).

    Parameters
    ----------
    images : array-like of shape (n, H, W) or (n, H, W, C)
        Grayscale images, or colour images with channels last (see
        ``channel_axis``). Integer images are scaled by their dtype's maximum
        (uint8: 255), float images are used as they are.
    n_segments : int, default=75
        Approximate number of superpixels per image.
    compactness : float, default=0.25
        SLIC's balance between intensity and space (low values follow
        intensity edges; suits intensities in ``[0, 1]``).
    channel_axis : int, default=None
        Axis of the channels within each image of 4-D input: ``0`` for
        ``(n, C, H, W)``, ``-1`` for ``(n, H, W, C)``. None reads 4-D input as
        channels last; 3-D input is always grayscale.
    n_jobs : int, default=None
        Parallel jobs (joblib); None runs in this process.

    Returns
    -------
    graphs : list of (edge_index, node_features)
        ``edge_index`` int64 of shape ``(2, E)`` (both directions);
        ``node_features`` float32 of shape ``(n_nodes, C + 2)``: mean intensity
        of each channel, then the centroid's row and column scaled to
        ``[0, 1]``.

    References
    ----------
    .. [1] Monti, F. et al. "Geometric deep learning on graphs and manifolds
       using mixture model CNNs", CVPR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> images = load_digits().images[:2] / 16  # intensities in [0, 1]
    >>> graphs = images_to_superpixel_graphs(images, n_segments=16)
    >>> edge_index, x = graphs[0]
    >>> x.shape[1], edge_index.shape[0]
    (3, 2)
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4:
        if channel_axis is not None and channel_axis % 3 == 0:  # (C, H, W)
            images = np.moveaxis(images, 1, -1)
    else:
        raise ValueError(
            "images must have shape (n, H, W) or (n, H, W, C), got shape "
            f"{images.shape}."
        )
    if images.shape[0] == 0:
        raise ValueError("images is empty; at least one image is needed.")
    if not np.issubdtype(images.dtype, np.number) or images.dtype == bool:
        raise TypeError(f"images must be numeric, got dtype {images.dtype}.")
    if np.issubdtype(images.dtype, np.integer):
        scale = float(np.iinfo(images.dtype).max)
    else:
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or infinity.")
        scale = 1.0
    if n_jobs is None or n_jobs == 1:
        return _convert(images, n_segments, compactness, scale)
    from joblib import Parallel, cpu_count, delayed

    n_chunks = max(1, cpu_count() if n_jobs < 0 else n_jobs) * 4
    chunks = np.array_split(np.arange(len(images)), n_chunks)
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_convert)(images[idx], n_segments, compactness, scale)
        for idx in chunks
        if len(idx)
    )
    return [graph for part in parts for graph in part]
