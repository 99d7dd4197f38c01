"""Read graph classification datasets in the TU text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_tu_dataset"]


def _find_prefix(folder: Path, name: str | None) -> tuple[Path, str]:
    candidates = [folder, folder / "raw", folder / (name or ""), folder / "raw"]
    for where in dict.fromkeys(candidates):
        if name is not None:
            if (where / f"{name}_A.txt").is_file():
                return where, name
            continue
        found = sorted(where.glob("*_A.txt")) if where.is_dir() else []
        if len(found) == 1:
            return where, found[0].name[: -len("_A.txt")]
        if len(found) > 1:
            names = [f.name[: -len("_A.txt")] for f in found]
            raise ValueError(
                f"{where} holds several TU datasets {names}; choose one with name=."
            )
    wanted = f"{name}_A.txt" if name else "DS_A.txt"
    raise FileNotFoundError(
        f"No TU dataset in {folder}: expected {wanted}, {wanted[:-5]}"
        "graph_indicator.txt and graph labels there (or in its raw/ folder). "
        "Nothing is downloaded: get the folder (for example MUTAG.zip) from the TU "
        "graph benchmark collection (chrsmrrs.github.io/datasets) and unzip it."
    )


def _read(path: Path, dtype: Any, ndmin: int) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=ndmin)  # type: ignore[call-overload]
    except ValueError as exc:
        raise ValueError(f"{path} is not in the TU text format: {exc}") from exc


def load_tu_dataset(
    folder: str | Path,
    *,
    name: str | None = None,
    use_node_attributes: bool = True,
    use_node_labels: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list, np.ndarray]:
    r"""Load a graph classification dataset in the TU text format.

    The folder of a TU dataset ``DS`` (as unzipped from the TU collection of
    benchmark graph datasets, e.g. ``MUTAG/``) holds comma-separated text files:

    - ``DS_A.txt``: one edge ``row, col`` per line, 1-based node ids over the
      whole dataset (undirected graphs list both directions);
    - ``DS_graph_indicator.txt``: line ``i`` is the 1-based graph id of node ``i``;
    - ``DS_graph_labels.txt``: line ``g`` is the class of graph ``g``;
    - optional ``DS_node_labels.txt`` (one integer per node) and
      ``DS_node_attributes.txt`` (comma-separated floats per node).

    Edge labels and attributes are not read. Nothing is downloaded.

    Parameters
    ----------
    folder : str or Path
        The dataset's folder (the files may also lie in its ``raw/`` folder, as
        torch_geometric stores them).
    name : str, default=None
        The prefix ``DS``; None finds the only ``*_A.txt`` in the folder.
    use_node_attributes : bool, default=True
        Use ``DS_node_attributes.txt`` as node features when present.
    use_node_labels : bool, default=True
        Append a one-hot encoding of ``DS_node_labels.txt`` when present.
    return_X_y : bool, default=False
        Return ``(graphs, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``graphs``: list of ``(edge_index, node_features)`` tuples (node ids
        within each graph from 0, features float32; a graph without attributes
        or labels has one constant feature ``1.0`` per node); ``target``:
        ndarray of graph labels; ``name``; ``node_label_values``: the node
        labels in the order of the one-hot columns (empty if none were used);
        ``n_node_attributes``.
    (graphs, target) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    A dataset of two graphs, an edge and a triangle, written by hand:

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "TOY_A.txt").write_text("1, 2\n2, 1\n3, 4\n4, 5\n5, 3\n")
    >>> _ = (folder / "TOY_graph_indicator.txt").write_text("1\n1\n2\n2\n2\n")
    >>> _ = (folder / "TOY_graph_labels.txt").write_text("0\n1\n")
    >>> graphs, y = load_tu_dataset(folder, return_X_y=True)
    >>> [g[0].tolist() for g in graphs], y.tolist()
    ([[[0, 1], [1, 0]], [[0, 1, 2], [1, 2, 0]]], [0, 1])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder.")
    where, prefix = _find_prefix(folder, name)

    def path(suffix: str) -> Path:
        return where / f"{prefix}_{suffix}.txt"

    for required in ("A", "graph_indicator", "graph_labels"):
        if not path(required).is_file():
            raise FileNotFoundError(
                f"{path(required)} is missing: a TU dataset needs {prefix}_A.txt, "
                f"{prefix}_graph_indicator.txt and {prefix}_graph_labels.txt."
            )
    edges = _read(path("A"), np.int64, 2)  # (E, 2), 1-based
    if edges.size and edges.shape[1] != 2:
        raise ValueError(
            f"{path('A')} must have two ids per line, got {edges.shape[1]}."
        )
    edges = edges.reshape(-1, 2) - 1
    indicator = _read(path("graph_indicator"), np.int64, 1)  # (N,)
    target = _read(path("graph_labels"), np.int64, 1)  # (G,)
    n_nodes, n_graphs = len(indicator), len(target)
    graph_ids = np.unique(indicator)
    if not np.array_equal(graph_ids, np.arange(1, n_graphs + 1)):
        raise ValueError(
            f"{path('graph_indicator')} must name graphs 1..{n_graphs} (one per line "
            f"of {path('graph_labels').name}), each with at least one node; it names "
            f"{len(graph_ids)} graphs from {graph_ids.min()} to {graph_ids.max()}."
        )
    if edges.size and (edges.min() < 0 or edges.max() >= n_nodes):
        raise ValueError(
            f"{path('A')} names node ids outside 1..{n_nodes} (the number of lines "
            f"of {path('graph_indicator').name})."
        )

    features = []
    n_attributes = 0
    label_values = np.zeros(0, dtype=np.int64)
    if use_node_attributes and path("node_attributes").is_file():
        attributes = _read(path("node_attributes"), np.float32, 2)
        if len(attributes) != n_nodes:
            raise ValueError(
                f"{path('node_attributes')} has {len(attributes)} lines for "
                f"{n_nodes} nodes."
            )
        n_attributes = attributes.shape[1]
        features.append(attributes)
    if use_node_labels and path("node_labels").is_file():
        labels = _read(path("node_labels"), np.int64, 2)[:, 0]
        if len(labels) != n_nodes:
            raise ValueError(
                f"{path('node_labels')} has {len(labels)} lines for {n_nodes} nodes."
            )
        label_values, codes = np.unique(labels, return_inverse=True)
        features.append(np.eye(len(label_values), dtype=np.float32)[codes])
    if features:
        x = np.concatenate(features, axis=1)
    else:
        x = np.ones((n_nodes, 1), dtype=np.float32)

    # group nodes by graph (the files list them in graph order, but be safe)
    order = np.argsort(indicator, kind="stable")
    position = np.empty(n_nodes, dtype=np.int64)
    position[order] = np.arange(n_nodes)
    node_ptr = np.concatenate([[0], np.cumsum(np.bincount(indicator - 1))])
    edge_graph = indicator[edges[:, 0]] - 1 if edges.size else np.zeros(0, np.int64)
    if edges.size and not np.array_equal(edge_graph, indicator[edges[:, 1]] - 1):
        bad = np.flatnonzero(edge_graph != indicator[edges[:, 1]] - 1)[0]
        raise ValueError(
            f"{path('A')} line {bad + 1} joins nodes of two different graphs."
        )
    local = position[edges] - node_ptr[edge_graph][:, None]  # (E, 2)
    edge_order = np.argsort(edge_graph, kind="stable")
    edge_ptr = np.concatenate(
        [[0], np.cumsum(np.bincount(edge_graph, minlength=n_graphs))]
    )
    local, x = local[edge_order], x[order]
    graphs = [
        (
            np.ascontiguousarray(local[edge_ptr[g] : edge_ptr[g + 1]].T),
            x[node_ptr[g] : node_ptr[g + 1]],
        )
        for g in range(n_graphs)
    ]
    if return_X_y:
        return graphs, target
    return Bunch(
        graphs=graphs,
        target=target,
        name=prefix,
        node_label_values=label_values,
        n_node_attributes=n_attributes,
    )
