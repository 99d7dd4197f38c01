"""Graph inputs: several formats in, one validated, packed representation out.

A graph input is a list of graphs, each one of

- a tuple ``(edge_index, node_features)``: ``edge_index`` an integer array of
  shape ``(2, E)`` (an undirected graph lists both directions; messages flow
  from ``edge_index[0]`` to ``edge_index[1]``) and ``node_features`` a float
  array of shape ``(n_nodes, F)`` (a 1-D array is one feature per node);
- a ``networkx`` graph: nodes in ``G.nodes`` order, node attribute ``"x"`` as
  features (a number or a 1-D array per node). Without any ``"x"`` every node
  gets one constant feature ``1.0``; an undirected graph lists each edge in
  both directions, a directed one as it is;
- an object with ``.x`` and ``.edge_index`` (a ``torch_geometric.data.Data``);
  ``x=None`` gives the same constant feature, with ``.num_nodes`` nodes.

:func:`pack_graphs` validates such a list and stores it as concatenated
tensors with node and edge offsets (:class:`PackedGraphs`);
:class:`GraphSource` gathers any subset of graphs from it into a
:class:`GraphBatch` (concatenated node features, offset edge index, graph id
per node) with tensor operations only: that is the collation the training
loop's batch iterator uses. The same graph gives the same packed arrays
whichever format it came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._input_checks import (
    describe_members,
    refuse_complex,
    refuse_masked,
    to_numpy,
    warn_inexact_integers,
)
from .batching import BatchSource

__all__ = [
    "GraphBatch",
    "GraphSource",
    "PackedGraphs",
    "collate_graphs",
    "graph_to_arrays",
    "looks_like_graph",
    "pack_graphs",
]


class GraphBatch:
    """Several graphs held as one disjoint graph.

    Parameters
    ----------
    x : Tensor of shape (N, F)
        Node features of all graphs, graph after graph.
    edge_index : LongTensor of shape (2, E)
        Edges as indices into the rows of ``x`` (so offset per graph); messages
        flow from ``edge_index[0]`` to ``edge_index[1]``.
    batch : LongTensor of shape (N,)
        Graph id of every node, in ``[0, num_graphs)``, non-decreasing.
    num_graphs : int
        Number of graphs (a graph may lose all its edges, never its id).

    Notes
    -----
    ``len(batch)`` is the number of graphs: skorch measures batches with
    ``len``. Augmentations return new ``GraphBatch`` objects and never modify
    their input.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn.graphs import GraphBatch
    >>> g = GraphBatch(
    ...     x=torch.ones(3, 2),
    ...     edge_index=torch.tensor([[0, 1], [1, 0]]),
    ...     batch=torch.tensor([0, 0, 1]),
    ...     num_graphs=2,
    ... )
    >>> len(g), g.num_nodes, g.num_edges
    (2, 3, 2)
    """

    __slots__ = ("x", "edge_index", "batch", "num_graphs")

    def __init__(
        self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int
    ) -> None:
        self.x = x
        self.edge_index = edge_index
        self.batch = batch
        self.num_graphs = int(num_graphs)

    def __len__(self) -> int:
        return self.num_graphs

    @property
    def num_nodes(self) -> int:
        """Number of nodes of all graphs together."""
        return self.x.shape[0]

    @property
    def num_edges(self) -> int:
        """Number of (directed) edges of all graphs together."""
        return self.edge_index.shape[1]

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.x.device

    def nodes_per_graph(self) -> Tensor:
        """Return the number of nodes of each graph, shape ``(num_graphs,)``."""
        return torch.bincount(self.batch, minlength=self.num_graphs)

    def edges_per_graph(self) -> Tensor:
        """Return the number of edges of each graph, shape ``(num_graphs,)``."""
        return torch.bincount(self.batch[self.edge_index[0]], minlength=self.num_graphs)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> GraphBatch:
        """Return the batch on ``device`` (itself when it is already there)."""
        return GraphBatch(
            self.x.to(device, non_blocking=non_blocking),
            self.edge_index.to(device, non_blocking=non_blocking),
            self.batch.to(device, non_blocking=non_blocking),
            self.num_graphs,
        )

    def replace(self, **changes: Any) -> GraphBatch:
        """Return a copy with some of ``x``, ``edge_index``, ``batch`` replaced."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return GraphBatch(**fields)

    def __repr__(self) -> str:
        return (
            f"GraphBatch(num_graphs={self.num_graphs}, num_nodes={self.num_nodes}, "
            f"num_edges={self.num_edges}, num_node_features={self.x.shape[1]})"
        )


# -- one graph, any format -> (edge_index int64 (2, E), x float32 (n, F)) ----------
#: a graph without node features gets one constant feature per node: it may
#: claim at most max(this, 2 * n_edges) nodes, so that a bad ``num_nodes``
#: (10**12, say) is refused instead of allocated (2**24 nodes: 64 MiB)
MAX_FEATURELESS_NODES = 2**24


def _is_networkx(obj: Any) -> bool:
    return hasattr(obj, "adj") and hasattr(obj, "nodes") and hasattr(obj, "edges")


def _check_edge_index(edge_index: Any, where: str) -> np.ndarray:
    edge_index = refuse_masked(edge_index, f"{where}'s edge_index")
    try:
        edges = to_numpy(edge_index)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where}: edge_index must be an integer array of shape (2, E), got "
            f"{type(edge_index).__name__}."
        ) from exc
    if edges.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(
            f"{where}: edge_index must have shape (2, E) (sources in row 0, "
            f"targets in row 1), got shape {edges.shape}."
        )
    if edges.dtype == bool or not np.issubdtype(edges.dtype, np.integer):
        raise TypeError(
            f"{where}: edge_index must hold integer node indices, got dtype "
            f"{edges.dtype}. Convert it with edge_index.astype(int) if the "
            "values are whole numbers."
        )
    return edges.astype(np.int64, copy=False)


def _check_features(features: Any, n_nodes: int | None, where: str) -> np.ndarray:
    """Check node features; keep their dtype (bool, int or float, not complex)."""
    features = refuse_masked(features, f"{where}'s node features")
    try:
        x = to_numpy(features)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where}: node features must be a numeric array of shape "
            f"(n_nodes, n_features), got {type(features).__name__}."
        ) from exc
    refuse_complex(x.dtype, f"{where}'s node features")
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{where}: node features must be numeric, got dtype {x.dtype}.")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(
            f"{where}: node features must have shape (n_nodes, n_features), got "
            f"shape {x.shape}."
        )
    if n_nodes is not None and x.shape[0] != n_nodes:
        raise ValueError(
            f"{where}: the graph has {n_nodes} nodes but {x.shape[0]} rows of "
            "node features."
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"{where}: the node features have 0 columns (shape {x.shape}); every "
            "node needs at least one feature. For graphs without node features "
            "pass np.ones((n_nodes, 1)), the constant feature that a networkx "
            "graph without 'x' or an object with x=None gets."
        )
    return x


def _featureless_nodes(graph: Any, edges: np.ndarray, where: str) -> int:
    """Check the ``num_nodes`` of a graph with ``x=None``, before allocating."""
    n_nodes = getattr(graph, "num_nodes", None)
    if n_nodes is None:
        raise ValueError(
            f"{where}: the graph has x=None and no num_nodes; give node features."
        )
    if isinstance(n_nodes, Tensor) and n_nodes.numel() == 1:
        n_nodes = n_nodes.item()
    if isinstance(n_nodes, (bool, np.bool_)) or not isinstance(
        n_nodes, (int, np.integer)
    ):
        raise TypeError(
            f"{where}: num_nodes must be an integer, got {n_nodes!r} "
            f"({type(n_nodes).__name__})."
        )
    n_nodes = int(n_nodes)
    if n_nodes < 0:
        raise ValueError(f"{where}: num_nodes must be at least 0, got {n_nodes}.")
    limit = max(MAX_FEATURELESS_NODES, 2 * edges.shape[1])
    if n_nodes > limit:
        raise ValueError(
            f"{where}: the graph has x=None and num_nodes={n_nodes}, but a graph "
            f"without node features may have at most max(2**24, 2 * n_edges) = "
            f"{limit} nodes (each would get the constant feature 1.0). Check "
            "num_nodes, or give node features x of shape (n_nodes, F)."
        )
    return n_nodes


def _networkx_to_arrays(graph: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    nodes = list(graph.nodes)
    position = {node: i for i, node in enumerate(nodes)}
    pairs = [(position[u], position[v]) for u, v in graph.edges()]
    edges = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T  # (2, E)
    if not graph.is_directed():
        loops = edges[0] == edges[1]
        edges = np.concatenate([edges, edges[::-1][:, ~loops]], axis=1)
    attributes = graph.nodes(data="x")
    values = [value for _, value in attributes]
    missing = sum(value is None for value in values)
    if missing == len(values):
        x = np.ones((len(nodes), 1), dtype=np.float32)
    elif missing:
        raise ValueError(
            f"{where}: {missing} of {len(values)} nodes lack the node attribute "
            "'x'; give every node features, or none (then every node gets the "
            "constant feature 1.0)."
        )
    else:
        rows = [np.atleast_1d(to_numpy(value)) for value in values]
        if len({row.shape for row in rows}) > 1:
            raise ValueError(
                f"{where}: the node attributes 'x' have different shapes "
                f"{sorted({row.shape for row in rows})}; every node needs the same "
                "number of features."
            )
        x = _check_features(np.stack(rows), len(nodes), where)
    return edges, x


def _shape(value: Any) -> tuple[int, ...] | None:
    """``np.shape(value)``, or None for ragged nested sequences."""
    try:
        return tuple(np.shape(value))
    except (ValueError, TypeError):
        return None


def _holds_integers(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
    if dtype is None:
        try:
            dtype = np.asarray(value).dtype
        except (ValueError, TypeError):
            return False
    return bool(np.issubdtype(dtype, np.integer))


def looks_like_graph(obj: Any) -> bool:
    """Whether ``obj`` has the form of one graph in a supported format.

    That is an object with ``.edge_index`` (torch_geometric's ``Data``), a
    ``networkx`` graph, or a pair ``(edge_index, node_features)`` whose first
    member is an array of shape ``(2, E)``. So that a malformed graph reaches
    the graph checks (whose messages say what is wrong) rather than being read
    as a table, a pair also counts when its first member is empty or a 2-D
    integer array of another height, provided its two members differ in shape
    (a pair of equal-shape arrays, such as two images, does not). Only the form
    is checked; :func:`pack_graphs` validates the contents.

    Parameters
    ----------
    obj : object
        A candidate graph.

    Returns
    -------
    bool
        True when ``obj`` should be validated as a graph.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.graphs import looks_like_graph
    >>> looks_like_graph((np.array([[0, 1], [1, 0]]), np.ones((2, 3))))
    True
    >>> looks_like_graph((np.array([[0, 1, 2], [1, 2, 0], [0, 0, 0]]), np.ones((3, 1))))
    True
    >>> looks_like_graph(np.ones((2, 3))), looks_like_graph((1.0, 2.0))
    (False, False)
    """
    if hasattr(obj, "edge_index"):
        return True
    if _is_networkx(obj):
        return True
    if not (isinstance(obj, tuple) and len(obj) == 2):
        return False
    first, second = obj
    if isinstance(first, tuple) or np.isscalar(first) or first is None:
        return False  # a pair of graphs, or of numbers
    shape = _shape(first)
    if shape is None:
        return False
    if len(shape) == 2 and shape[0] == 2:
        return True
    malformed = 0 in shape or (len(shape) == 2 and _holds_integers(first))
    return malformed and shape != _shape(second)


def graph_to_arrays(graph: Any, where: str = "graph") -> tuple[np.ndarray, np.ndarray]:
    """Convert one graph in any supported format to ``(edge_index, x)`` arrays.

    Parameters
    ----------
    graph : tuple, networkx graph, or object with ``.x`` and ``.edge_index``
        See the module description for the formats.
    where : str, default="graph"
        How error messages name this graph (e.g. ``"X[3]"``).

    Returns
    -------
    edge_index : ndarray of shape (2, E), dtype int64
        Node indices, not yet checked against the number of nodes.
    x : ndarray of shape (n_nodes, n_features), dtype float32

    Examples
    --------
    >>> import networkx as nx
    >>> edge_index, x = graph_to_arrays(nx.path_graph(3))
    >>> edge_index.tolist()
    [[0, 1, 1, 2], [1, 2, 0, 1]]
    >>> x.ravel().tolist()
    [1.0, 1.0, 1.0]
    """
    edges, x = _graph_arrays(graph, where)
    return edges, x.astype(np.float32, copy=False)


def _graph_arrays(graph: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`graph_to_arrays`, with the node features in their own dtype."""
    if isinstance(graph, tuple) and len(graph) == 2:
        if _shape(graph[1]) == () and _shape(graph[0]) not in (None, ()):
            raise TypeError(
                f"{where} is a pair ({describe_members(graph)}) whose second "
                "member is a single value, not node features: X looks like "
                "(sample, label) pairs, not graphs (edge_index, node_features). "
                "Pass the samples stacked as X (np.stack([s for s, _ in pairs])) "
                "and the labels as y."
            )
        edges = _check_edge_index(graph[0], where)
        x = _check_features(graph[1], None, where)
        return edges, x
    if hasattr(graph, "edge_index") and hasattr(graph, "x"):
        edges = _check_edge_index(graph.edge_index, where)
        if graph.x is None:
            n_nodes = _featureless_nodes(graph, edges, where)
            return edges, np.ones((n_nodes, 1), dtype=np.float32)
        return edges, _check_features(graph.x, None, where)
    if _is_networkx(graph):
        return _networkx_to_arrays(graph, where)
    raise TypeError(
        f"{where} is a {type(graph).__name__}, which is not a graph. Expected a "
        "tuple (edge_index, node_features), a networkx graph, or an object with "
        ".x and .edge_index (such as torch_geometric.data.Data)."
    )


# -- many graphs -> packed storage ---------------------------------------------------
@dataclass
class PackedGraphs:
    """Validated graphs stored as concatenated tensors with offsets.

    Parameters
    ----------
    x : Tensor of shape (N, F), float32
        Node features of all graphs, graph after graph.
    edge_index : LongTensor of shape (2, E)
        Edges of all graphs, graph after graph, as node indices *within* their
        own graph.
    node_ptr : LongTensor of shape (n_graphs + 1,)
        Graph ``g`` owns rows ``node_ptr[g]:node_ptr[g + 1]`` of ``x``.
    edge_ptr : LongTensor of shape (n_graphs + 1,)
        Graph ``g`` owns columns ``edge_ptr[g]:edge_ptr[g + 1]`` of
        ``edge_index``.

    Examples
    --------
    >>> import networkx as nx
    >>> packed = pack_graphs([nx.path_graph(3), nx.path_graph(2)])
    >>> packed.n_graphs, packed.n_features, packed.edge_index.tolist()
    (2, 1, [[0, 1, 1, 2, 0, 1], [1, 2, 0, 1, 1, 0]])
    """

    x: Tensor
    edge_index: Tensor
    node_ptr: Tensor
    edge_ptr: Tensor

    @property
    def n_graphs(self) -> int:
        """Number of graphs."""
        return self.node_ptr.shape[0] - 1

    @property
    def n_features(self) -> int:
        """Node-feature width."""
        return self.x.shape[1]


def pack_graphs(X: Any) -> PackedGraphs:
    """Validate a list of graphs and pack it into concatenated tensors.

    Parameters
    ----------
    X : list of graphs
        Tuples ``(edge_index, node_features)``, networkx graphs, or objects with
        ``.x`` and ``.edge_index``; formats may be mixed.

    Returns
    -------
    PackedGraphs

    Raises
    ------
    TypeError
        ``X`` is not a list of graphs, an element is not a graph, or an edge
        index is not made of integers.
    ValueError
        An empty list, a graph without nodes, an edge naming a missing node,
        node-feature widths that differ between graphs, or NaN/inf features.

    Examples
    --------
    >>> import numpy as np
    >>> triangle = (np.array([[0, 1, 2], [1, 2, 0]]), np.ones((3, 2)))
    >>> pair = (np.array([[0], [1]]), np.zeros((2, 2)))
    >>> packed = pack_graphs([triangle, pair])
    >>> packed.node_ptr.tolist(), packed.edge_ptr.tolist()
    ([0, 3, 5], [0, 3, 4])
    """
    if isinstance(X, np.ndarray) and X.dtype == object:
        X = list(X)
    if looks_like_graph(X):
        raise TypeError(
            f"Graph input must be a list of graphs, got one graph "
            f"({type(X).__name__}); wrap it in a list: [graph]."
        )
    if not isinstance(X, (list, tuple)):
        raise TypeError(
            "Graph input must be a list of graphs (tuples (edge_index, "
            "node_features), networkx graphs, or objects with .x and .edge_index), "
            f"got {type(X).__name__}."
        )
    if len(X) == 0:
        raise ValueError("Graph input is an empty list; at least one graph is needed.")
    edges_list: list[np.ndarray] = []
    x_list: list[np.ndarray] = []
    for i, graph in enumerate(X):
        where = f"X[{i}]"
        if isinstance(graph, tuple) and len(graph) != 2:
            raise TypeError(
                f"{where} is a tuple of {len(graph)} members "
                f"({describe_members(graph)}), but a graph given as a tuple "
                "has exactly two: (edge_index, node_features). Pass graph labels "
                "as y (fit(X, y)), not inside the graphs."
            )
        if not (isinstance(graph, tuple) and len(graph) == 2) and not (
            looks_like_graph(graph)
        ):
            kinds = sorted({type(g).__name__ for g in X})
            raise TypeError(
                f"{where} is a {type(graph).__name__}, not a graph: a graph list "
                f"must hold graphs only (found types {kinds}). Expected tuples "
                "(edge_index, node_features), networkx graphs, or objects with .x "
                "and .edge_index."
            )
        edges, x = _graph_arrays(graph, where)
        if x.shape[0] == 0:
            raise ValueError(f"{where} has no nodes; every graph needs at least one.")
        if edges.size and (edges.min() < 0 or edges.max() >= x.shape[0]):
            bad = edges[:, ((edges < 0) | (edges >= x.shape[0])).any(axis=0)]
            raise ValueError(
                f"{where}: edge {tuple(bad[:, 0].tolist())} names a node that does "
                f"not exist; the graph has {x.shape[0]} nodes, so edge indices "
                f"must lie in [0, {x.shape[0] - 1}]."
            )
        if x_list and x.shape[1] != x_list[0].shape[1]:
            raise ValueError(
                f"All graphs must have the same node-feature width: X[0] has "
                f"{x_list[0].shape[1]} features per node, {where} has {x.shape[1]}."
            )
        edges_list.append(edges)
        x_list.append(x)
    integers = [x for x in x_list if x.dtype.kind in "iu"]
    if integers:
        stacked = np.concatenate(integers)  # (N_int, F)
        warn_inexact_integers(
            [(j, stacked[:, j]) for j in range(stacked.shape[1])],
            where="the node features",
        )
    x_all = np.concatenate([x.astype(np.float32, copy=False) for x in x_list])
    if not np.isfinite(x_all).all():
        rows = np.flatnonzero(~np.isfinite(x_all).all(axis=1))
        node_ptr = np.cumsum([0] + [len(x) for x in x_list])
        graph = int(np.searchsorted(node_ptr, rows[0], side="right") - 1)
        raise ValueError(
            f"Node features contain NaN or infinity (first in X[{graph}]); "
            "impute or drop those values first."
        )
    node_counts = [len(x) for x in x_list]
    edge_counts = [e.shape[1] for e in edges_list]
    return PackedGraphs(
        x=torch.from_numpy(np.ascontiguousarray(x_all)),
        edge_index=torch.from_numpy(np.concatenate(edges_list, axis=1)),
        node_ptr=torch.from_numpy(np.cumsum([0] + node_counts, dtype=np.int64)),
        edge_ptr=torch.from_numpy(np.cumsum([0] + edge_counts, dtype=np.int64)),
    )


# -- gathering graphs into batches -----------------------------------------------------
def _segments(starts: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """Return ``(positions, segment)`` for the concatenated ranges.

    ``positions`` lists ``starts[k], ..., starts[k] + counts[k] - 1`` for every
    ``k`` in turn and ``segment`` the ``k`` of each entry; no Python loop.
    """
    total = int(counts.sum())
    segment = torch.repeat_interleave(
        torch.arange(len(counts), device=counts.device), counts, output_size=total
    )  # (total,)
    out_starts = torch.cumsum(counts, 0) - counts  # (K,) where each range lands
    offset = torch.arange(total, device=counts.device) - out_starts[segment]
    return starts[segment] + offset, segment


class GraphSource(BatchSource):
    """Packed graphs that the training loop gathers into :class:`GraphBatch` es.

    Parameters
    ----------
    packed : PackedGraphs
        The validated graphs (see :func:`pack_graphs`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> graphs = [(np.array([[0, 1], [1, 0]]), np.full((2, 1), float(i)))
    ...           for i in range(4)]
    >>> source = GraphSource(pack_graphs(graphs))
    >>> batch = source.take(torch.tensor([3, 1]))
    >>> batch.x.ravel().tolist(), batch.edge_index.tolist(), batch.batch.tolist()
    ([3.0, 3.0, 1.0, 1.0], [[0, 1, 2, 3], [1, 0, 3, 2]], [0, 0, 1, 1])
    """

    def __init__(self, packed: PackedGraphs) -> None:
        self.packed = packed

    def __len__(self) -> int:
        return self.packed.n_graphs

    def take(self, indices: Tensor) -> GraphBatch:
        """Gather the graphs at ``indices`` into one :class:`GraphBatch`."""
        p = self.packed
        indices = torch.as_tensor(indices, dtype=torch.long)
        node_counts = p.node_ptr[indices + 1] - p.node_ptr[indices]  # (B,)
        edge_counts = p.edge_ptr[indices + 1] - p.edge_ptr[indices]  # (B,)
        nodes, batch = _segments(p.node_ptr[indices], node_counts)  # (N,), (N,)
        edges, edge_graph = _segments(p.edge_ptr[indices], edge_counts)  # (E,)
        new_node_ptr = torch.cumsum(node_counts, 0) - node_counts  # (B,)
        edge_index = p.edge_index.index_select(1, edges)  # (2, E), local ids
        edge_index = edge_index + new_node_ptr[edge_graph]  # (2, E), batch ids
        return GraphBatch(p.x.index_select(0, nodes), edge_index, batch, len(indices))


def collate_graphs(graphs: Sequence[Any]) -> GraphBatch:
    """Collate graphs (any supported format, or ``GraphBatch`` es) into one batch.

    A ``collate_fn`` for a plain :class:`torch.utils.data.DataLoader` over a
    list of graphs or over a :class:`GraphSource` (whose items are batches of
    one graph). The estimator's own loader gathers whole batches with
    :meth:`GraphSource.take` instead.

    Parameters
    ----------
    graphs : sequence of graphs or of GraphBatch
        Graphs in any supported format (validated), or batches to concatenate.

    Returns
    -------
    GraphBatch

    Examples
    --------
    >>> import numpy as np
    >>> g = (np.array([[0], [1]]), np.ones((2, 3)))
    >>> collate_graphs([g, g]).edge_index.tolist()
    [[0, 2], [1, 3]]
    """
    if all(isinstance(g, GraphBatch) for g in graphs):
        xs = [g.x for g in graphs]
        counts = torch.tensor([g.num_nodes for g in graphs])
        offsets = torch.cumsum(counts, 0) - counts
        graph_offsets = torch.tensor([0] + [g.num_graphs for g in graphs]).cumsum(0)
        return GraphBatch(
            torch.cat(xs),
            torch.cat(
                [g.edge_index + int(o) for g, o in zip(graphs, offsets, strict=True)],
                dim=1,
            ),
            torch.cat(
                [g.batch + int(o) for g, o in zip(graphs, graph_offsets, strict=False)]
            ),
            int(graph_offsets[-1]),
        )
    source = GraphSource(pack_graphs(list(graphs)))
    return source.take(torch.arange(len(source)))
