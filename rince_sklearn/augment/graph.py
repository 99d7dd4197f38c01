"""Batched graph augmentations (GraphCL's four, vectorised over the batch).

Every function takes a :class:`~rince_sklearn.graphs.GraphBatch` and returns a
new one; none loops over graphs in Python. Per-graph counts are exact, as in
GraphCL [1]_: ``floor(rate * n)`` of a graph's ``n`` nodes (or undirected edges)
are dropped or masked, and every graph keeps at least one node, so pooling still
gives one row per graph. Randomness comes only from ``generator``.

References
----------
.. [1] You, Y., Chen, T., Sui, Y., Chen, T., Wang, Z. and Shen, Y. "Graph
   Contrastive Learning with Augmentations", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, cast

import torch
from torch import Tensor

from ..graphs import GraphBatch
from ._base import Augmentation, MemberAugmentations, RandomChoice
from ._params import Members, Number, Options, Weights

#: the longest random walk, in steps: each step is one pass over every walker
#: of the batch, so the walk length bounds the work of one view
MAX_WALK_LENGTH = 1000
#: the largest fill value of masked node features, in absolute value
MAX_FILL = 1e6

_RATE = [Number(Real, 0, 1)]

__all__ = [
    "AttributeMasking",
    "EdgePerturbation",
    "GraphRandomChoice",
    "NodeDropping",
    "RandomWalkSubgraph",
    "attribute_masking",
    "default_graph_augmentation",
    "drop_nodes",
    "induced_subgraph",
    "perturb_edges",
    "random_walk_subgraph",
]


def _random_rank(group: Tensor, generator: torch.Generator | None) -> Tensor:
    """Random rank of every element within its group (``0 .. size - 1``).

    ``group`` holds integer group ids (any order); each group's elements get a
    uniformly random permutation of ``0 .. size - 1``.
    """
    n = group.shape[0]
    u = torch.rand(n, generator=generator, device=group.device, dtype=torch.float64)
    order = torch.argsort(group.to(torch.float64) + 0.5 * u)  # by group, then random
    counts = torch.bincount(group)
    starts = torch.cumsum(counts, 0) - counts  # (groups,)
    rank = torch.empty_like(group)
    rank[order] = torch.arange(n, device=group.device) - starts[group[order]]
    return rank


def _only_where(counts: Tensor, where: Tensor | None) -> Tensor:
    """Zero the per-graph ``counts`` of graphs outside ``where`` (bool, (G,))."""
    if where is None:
        return counts
    return torch.where(where, counts, torch.zeros_like(counts))


def induced_subgraph(batch: GraphBatch, keep: Tensor) -> GraphBatch:
    """Keep the nodes where ``keep`` is True and the edges between them.

    Node ids are renumbered; graph ids stay (a graph left without nodes would
    pool to zeros, which the augmentations here never cause).

    Parameters
    ----------
    batch : GraphBatch
    keep : BoolTensor of shape (N,)

    Returns
    -------
    GraphBatch
    """
    new_id = torch.cumsum(keep, 0) - 1  # (N,) new index of each kept node
    src, dst = batch.edge_index
    edge_keep = keep[src] & keep[dst]  # (E,)
    edge_index = new_id[batch.edge_index[:, edge_keep]]  # (2, E')
    return GraphBatch(batch.x[keep], edge_index, batch.batch[keep], batch.num_graphs)


def drop_nodes(
    batch: GraphBatch,
    rate: float,
    generator: torch.Generator | None = None,
    *,
    where: Tensor | None = None,
) -> GraphBatch:
    """Remove ``floor(rate * n)`` random nodes of each graph, with their edges.

    At most ``n - 1`` nodes of a graph are removed.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.graphs import collate_graphs
    >>> ring = (np.array([[0, 1, 2, 3, 1, 2, 3, 0], [1, 2, 3, 0, 0, 1, 2, 3]]),
    ...         np.ones((4, 1)))
    >>> view = drop_nodes(collate_graphs([ring, ring]), 0.25)
    >>> view.nodes_per_graph().tolist(), view.edges_per_graph().tolist()
    ([3, 3], [4, 4])
    """
    counts = batch.nodes_per_graph()  # (G,)
    n_drop = torch.clamp(torch.floor(rate * counts).long(), max=counts - 1)  # (G,)
    n_drop = _only_where(n_drop, where)
    rank = _random_rank(batch.batch, generator)  # (N,)
    keep = rank >= n_drop[batch.batch]  # (N,)
    return induced_subgraph(batch, keep)


def _undirected_pairs(batch: GraphBatch) -> tuple[Tensor, int]:
    """Id of each edge's unordered node pair, and the number of pairs.

    Both directions of an undirected edge (and repeated edges) share one id.
    """
    src, dst = batch.edge_index
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    key = low * batch.num_nodes + high  # (E,)
    unique, pair = torch.unique(key, return_inverse=True)  # (P,), (E,)
    return pair, unique.shape[0]


def perturb_edges(
    batch: GraphBatch,
    drop_rate: float,
    add_rate: float = 0.0,
    generator: torch.Generator | None = None,
    *,
    where: Tensor | None = None,
) -> GraphBatch:
    """Drop and add random edges in each graph.

    Edges are counted as unordered pairs: both directions of an undirected
    edge are dropped together. Each graph with ``m`` pairs loses
    ``floor(drop_rate * m)`` of them and gains ``floor(add_rate * m)`` new
    pairs between two distinct random nodes (both directions, appended after
    the kept edges; they may repeat an existing edge).

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.graphs import collate_graphs
    >>> ring = (np.array([[0, 1, 2, 3, 1, 2, 3, 0], [1, 2, 3, 0, 0, 1, 2, 3]]),
    ...         np.ones((4, 1)))
    >>> view = perturb_edges(collate_graphs([ring]), drop_rate=0.5)
    >>> view.num_edges, view.num_nodes
    (4, 4)
    """
    edge_index = batch.edge_index
    device = edge_index.device
    counts = batch.nodes_per_graph()  # (G,)
    if batch.num_edges:
        pair, n_pairs = _undirected_pairs(batch)  # (E,)
        pair_graph = torch.empty(n_pairs, dtype=torch.long, device=device)
        pair_graph[pair] = batch.batch[edge_index[0]]  # (P,)
        pairs_per_graph = torch.bincount(pair_graph, minlength=batch.num_graphs)
    else:
        pairs_per_graph = torch.zeros_like(counts)
    if drop_rate > 0 and batch.num_edges:
        n_drop = _only_where(torch.floor(drop_rate * pairs_per_graph).long(), where)
        rank = _random_rank(pair_graph, generator)  # (P,)
        keep_pair = rank >= n_drop[pair_graph]  # (P,)
        edge_index = edge_index[:, keep_pair[pair]]  # (2, E')
    if add_rate > 0:
        n_add = torch.floor(add_rate * pairs_per_graph).long()  # (G,)
        n_add = _only_where(
            torch.where(counts > 1, n_add, torch.zeros_like(n_add)), where
        )
        total = int(n_add.sum())
        if total:
            graph = torch.repeat_interleave(
                torch.arange(batch.num_graphs, device=device), n_add
            )  # (A,)
            n = counts[graph]  # (A,)
            start = (torch.cumsum(counts, 0) - counts)[graph]  # (A,)
            u = torch.rand(2, total, generator=generator, device=device)
            a = torch.floor(u[0] * n).long()  # (A,) in [0, n)
            b = (a + 1 + torch.floor(u[1] * (n - 1)).long()) % n  # (A,) != a
            new = torch.stack([start + a, start + b])  # (2, A)
            edge_index = torch.cat([edge_index, new, new.flip(0)], dim=1)
    return batch.replace(edge_index=edge_index)


def attribute_masking(
    batch: GraphBatch,
    rate: float,
    generator: torch.Generator | None = None,
    fill: float | Tensor = 0.0,
    *,
    where: Tensor | None = None,
) -> GraphBatch:
    """Set all features of ``floor(rate * n)`` random nodes per graph to ``fill``.

    ``fill`` is a number, or a feature vector of shape ``(F,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.graphs import collate_graphs
    >>> g = (np.array([[0], [1]]), np.ones((4, 2)))
    >>> view = attribute_masking(collate_graphs([g, g]), 0.5)
    >>> view.x.sum(dim=1).tolist().count(0.0)
    4
    """
    counts = batch.nodes_per_graph()  # (G,)
    n_mask = _only_where(torch.floor(rate * counts).long(), where)  # (G,)
    rank = _random_rank(batch.batch, generator)  # (N,)
    mask = rank < n_mask[batch.batch]  # (N,)
    if isinstance(fill, Tensor):
        fill = fill.to(batch.x.device, batch.x.dtype).expand_as(batch.x)
        x = torch.where(mask[:, None], fill, batch.x)  # (N, F)
    else:
        x = batch.x.masked_fill(mask[:, None], fill)  # (N, F)
    return batch.replace(x=x)


def random_walk_subgraph(
    batch: GraphBatch,
    start_rate: float = 0.1,
    walk_length: int = 10,
    generator: torch.Generator | None = None,
    *,
    where: Tensor | None = None,
    keep_rate: float | None = None,
) -> GraphBatch:
    """Keep the nodes visited by short random walks, and the edges among them.

    Each graph with ``n`` nodes starts ``max(1, ceil(start_rate * n))`` walkers
    at distinct random nodes; every walker takes ``walk_length`` steps to a
    uniformly random out-neighbour (staying put on a node without one). The
    view is the subgraph induced by all visited nodes: connected pieces of the
    graph around the starts. All walkers of the batch move together, so the
    Python loop runs over steps, not graphs.

    With ``keep_rate``, a graph's walkers stop once it has
    ``ceil(keep_rate * n)`` visited nodes (they may overshoot by the walkers
    of the last step): GraphCL's subgraphs keep 20% of the nodes, while the
    defaults here (10% starts, 10 steps) keep about 43-57% of a superpixel
    graph's nodes.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn.graphs import collate_graphs
    >>> isolated = (np.zeros((2, 0), dtype=int), np.ones((10, 1)))
    >>> view = random_walk_subgraph(collate_graphs([isolated]), start_rate=0.3)
    >>> view.num_nodes  # walkers cannot leave their start nodes
    3
    """
    device = batch.x.device
    counts = batch.nodes_per_graph()  # (G,)
    n_start = torch.clamp(torch.ceil(start_rate * counts).long(), min=1)  # (G,)
    n_start = torch.minimum(n_start, counts)
    rank = _random_rank(batch.batch, generator)  # (N,)
    walker = torch.nonzero(rank < n_start[batch.batch]).squeeze(1)  # (W,)
    visited = torch.zeros(batch.num_nodes, dtype=torch.bool, device=device)
    visited[walker] = True
    if walk_length > 0 and batch.num_edges:
        src, dst = batch.edge_index
        order = torch.argsort(src, stable=True)
        neighbours = dst[order]  # (E,) targets grouped by source
        degree = torch.bincount(src, minlength=batch.num_nodes)  # (N,)
        row_start = torch.cumsum(degree, 0) - degree  # (N,)
        target = None
        if keep_rate is not None:
            target = torch.ceil(keep_rate * counts).long()  # (G,)
        for _ in range(walk_length):
            d = degree[walker]  # (W,)
            if target is not None:
                seen = torch.bincount(
                    batch.batch[visited], minlength=batch.num_graphs
                )  # (G,)
                d = torch.where(
                    seen[batch.batch[walker]] < target[batch.batch[walker]], d, 0
                )
            u = torch.rand(walker.shape[0], generator=generator, device=device)
            step = torch.floor(u * d).long()  # (W,) in [0, d)
            slot = (row_start[walker] + step).clamp(max=neighbours.shape[0] - 1)
            moved = neighbours[slot]  # (W,)
            walker = torch.where(d > 0, moved, walker)  # (W,)
            visited[walker] = True
    if where is not None:  # other graphs keep all their nodes
        visited |= ~where[batch.batch]
    return induced_subgraph(batch, visited)


class NodeDropping(Augmentation):
    """Drop ``floor(rate * n)`` random nodes per graph and their edges.

    Parameters
    ----------
    rate : float, default=0.2
        Fraction of each graph's nodes removed (GraphCL's 20%), in ``[0, 1]``.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.cycle_graph(10), nx.cycle_graph(5)])
    >>> view = NodeDropping(0.2)(batch, generator=torch.Generator().manual_seed(0))
    >>> view.nodes_per_graph().tolist()
    [8, 4]
    """

    modality = "graph"
    _parameter_constraints: dict[str, list[Any]] = {"rate": _RATE}

    def __init__(self, rate: float = 0.2) -> None:
        self.rate = rate

    def augment(
        self,
        batch: GraphBatch,
        generator: torch.Generator | None = None,
        *,
        where: Tensor | None = None,
    ) -> GraphBatch:
        """Return the batch without the dropped nodes."""
        return drop_nodes(batch, self.rate, generator, where=where)


class EdgePerturbation(Augmentation):
    """Drop (and optionally add) random undirected edges per graph.

    Parameters
    ----------
    drop_rate : float, default=0.2
        Fraction of each graph's edges removed (both directions together), in
        ``[0, 1]``.
    add_rate : float, default=0.0
        Edges added, as a fraction of each graph's edges, between random
        distinct nodes of the same graph, in ``[0, 1]`` (at most doubling the
        edges).

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.cycle_graph(10)])  # 10 edges, 20 directed
    >>> view = EdgePerturbation(0.2, 0.1)(batch, generator=torch.Generator())
    >>> view.num_edges  # 2 of 10 dropped, 1 added, both directions
    18
    """

    modality = "graph"
    _parameter_constraints: dict[str, list[Any]] = {
        "drop_rate": _RATE,
        "add_rate": _RATE,
    }

    def __init__(self, drop_rate: float = 0.2, add_rate: float = 0.0) -> None:
        self.drop_rate = drop_rate
        self.add_rate = add_rate

    def augment(
        self,
        batch: GraphBatch,
        generator: torch.Generator | None = None,
        *,
        where: Tensor | None = None,
    ) -> GraphBatch:
        """Return the batch with perturbed edges."""
        return perturb_edges(
            batch, self.drop_rate, self.add_rate, generator, where=where
        )


class AttributeMasking(Augmentation):
    """Replace all features of ``floor(rate * n)`` random nodes per graph.

    Parameters
    ----------
    rate : float, default=0.2
        Fraction of each graph's nodes masked, in ``[0, 1]``.
    fill : float or "mean", default=0.0
        Value written into the masked nodes' features (a number in
        ``[-1e6, 1e6]``); ``"mean"``: the mean
        node-feature vector of the training graphs (learnt by ``fit``, which
        the estimator calls; the batch's mean before that).

    Attributes
    ----------
    mean_ : Tensor of shape (n_features,)
        The training graphs' mean node features (``fill="mean"``, after
        ``fit``).

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.path_graph(10)])  # features: ones
    >>> view = AttributeMasking(0.3)(batch, generator=torch.Generator())
    >>> int((view.x == 0).sum())
    3
    """

    modality = "graph"
    _parameter_constraints: dict[str, list[Any]] = {
        "rate": _RATE,
        "fill": [Number(Real, -MAX_FILL, MAX_FILL), Options({"mean"})],
    }

    def __init__(self, rate: float = 0.2, fill: float | str = 0.0) -> None:
        self.rate = rate
        self.fill = fill

    @property
    def requires_fit(self) -> bool:  # noqa: D102 - documented on Augmentation
        return self.fill == "mean"

    fitted_state_names = ("mean_",)

    def check_fitted_state(self, name: str, value: Tensor) -> Tensor:
        """Check the mean node-feature vector: 1-D finite floats."""
        value = super().check_fitted_state(name, value)
        if value.ndim != 1 or not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"AttributeMasking's mean_ must be a 1-D finite vector, got shape "
                f"{tuple(value.shape)}."
            )
        return value.to(torch.float32)

    def fit(self, X: GraphBatch) -> AttributeMasking:
        """Learn the mean node-feature vector of the training graphs ``X``."""
        self.check_params()
        if self.requires_fit:
            self.mean_ = X.x.detach().to("cpu", torch.float32).mean(dim=0)
        return self

    def augment(
        self,
        batch: GraphBatch,
        generator: torch.Generator | None = None,
        *,
        where: Tensor | None = None,
    ) -> GraphBatch:
        """Return the batch with masked node features."""
        fill: Any = self.fill
        if isinstance(fill, str):
            if fill != "mean":
                raise ValueError(f"fill must be a number or 'mean', got {fill!r}.")
            mean = getattr(self, "mean_", None)
            fill = batch.x.mean(dim=0) if mean is None else mean
        return attribute_masking(batch, self.rate, generator, fill, where=where)


class RandomWalkSubgraph(Augmentation):
    """Keep the subgraph induced by short random walks in each graph.

    Parameters
    ----------
    start_rate : float, default=0.1
        Walkers per graph, as a fraction of its nodes (at least one), in
        ``[0, 1]``.
    walk_length : int, default=10
        Steps of every walker, 0 to 1000.
    keep_rate : float, default=None
        Stop a graph's walkers once this fraction (in ``[0, 1]``) of its nodes
        is visited
        (0.2 for GraphCL's subgraph size, with ``start_rate`` small and
        ``walk_length`` large enough to reach it); None: walk all steps
        (about 43-57% of a superpixel graph's nodes with the defaults).

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.path_graph(50)])
    >>> view = RandomWalkSubgraph(0.02, 4)(batch, generator=torch.Generator())
    >>> view.num_nodes <= 5  # one walker, four steps along the path
    True
    """

    modality = "graph"
    _parameter_constraints: dict[str, list[Any]] = {
        "start_rate": _RATE,
        "walk_length": [Number(Integral, 0, MAX_WALK_LENGTH)],
        "keep_rate": [Number(Real, 0, 1), None],
    }

    def __init__(
        self,
        start_rate: float = 0.1,
        walk_length: int = 10,
        keep_rate: float | None = None,
    ) -> None:
        self.start_rate = start_rate
        self.walk_length = walk_length
        self.keep_rate = keep_rate

    def augment(
        self,
        batch: GraphBatch,
        generator: torch.Generator | None = None,
        *,
        where: Tensor | None = None,
    ) -> GraphBatch:
        """Return the random-walk subgraphs."""
        return random_walk_subgraph(
            batch,
            self.start_rate,
            self.walk_length,
            generator,
            where=where,
            keep_rate=self.keep_rate,
        )


class GraphRandomChoice(MemberAugmentations):
    """Apply one augmentation per graph, drawn at random for every graph.

    Each graph of the batch draws one of ``augmentations`` (as GraphCL does
    per graph); each augmentation then runs once over the whole batch,
    restricted to the graphs that drew it, so no Python loop runs over graphs.

    Parameters
    ----------
    augmentations : list of graph augmentations
        :class:`NodeDropping`, :class:`EdgePerturbation`,
        :class:`AttributeMasking`, :class:`RandomWalkSubgraph`, or any
        augmentation whose ``augment`` accepts ``where=`` (a bool tensor of
        shape ``(num_graphs,)``: the graphs to change); 1 to 64 of them.
    p : list of float, default=None
        Their probabilities, one finite weight >= 0 per augmentation
        (normalised, not all 0); uniform when None.

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.complete_graph(10)] * 4)
    >>> choice = GraphRandomChoice([NodeDropping(0.5), EdgePerturbation(0.0)])
    >>> view = choice(batch, generator=torch.Generator().manual_seed(0))
    >>> sorted(set(view.nodes_per_graph().tolist()) - {5})  # untouched: 10
    [10]
    """

    modality = "graph"
    _parameter_constraints: dict[str, list[Any]] = {
        "augmentations": [Members(min_len=1, where=True)],
        "p": [Weights(), None],
    }

    def __init__(
        self, augmentations: Sequence[Augmentation], p: Sequence[float] | None = None
    ) -> None:
        self.augmentations = augmentations
        self.p = p

    def augment(
        self, batch: GraphBatch, generator: torch.Generator | None = None
    ) -> GraphBatch:
        """Return the view, each graph augmented by its own draw."""
        k = len(self.augmentations)
        device = batch.x.device
        weights = (
            torch.ones(k)
            if self.p is None
            else torch.tensor(self.p, dtype=torch.float32)
        )
        choice = torch.multinomial(
            weights.to(device), batch.num_graphs, replacement=True, generator=generator
        )  # (G,)
        for i, augmentation in enumerate(self.augmentations):
            if isinstance(augmentation, Augmentation):
                augmentation.check_params()  # called by augment(), not __call__
            batch = cast(Any, augmentation).augment(batch, generator, where=choice == i)
        return batch


def default_graph_augmentation(
    per_graph: bool = False,
    rate: float = 0.2,
    subgraph_keep_rate: float | None = None,
    mask_fill: float | str = 0.0,
) -> Augmentation:
    """Return GraphCL's four augmentations, one drawn per batch or per graph.

    Node dropping, edge perturbation and attribute masking at ``rate``, and
    random-walk subgraphs, each with probability 1/4. What each one does, as
    built here (the graph modality's defaults are in its ``DEFAULTS``):

    - node dropping removes ``floor(rate * n)`` nodes of each graph, with
      their edges;
    - edge perturbation drops ``floor(rate * m)`` of a graph's ``m`` edges,
      counted as undirected pairs (both directions of an edge go together),
      and adds none;
    - attribute masking sets all features of ``floor(rate * n)`` nodes to
      ``mask_fill``: 0 by default, or ``"mean"``, the training graphs' mean
      node-feature vector;
    - the random-walk subgraph starts walkers at 10% of the nodes for 10
      steps, which keeps about 43-57% of a superpixel graph's nodes, against
      about 20% in GraphCL; ``subgraph_keep_rate=0.2`` stops the walks at
      GraphCL's size (then from 2% starts, 20 steps).

    Parameters
    ----------
    per_graph : bool, default=False
        False: one augmentation is drawn per batch (and view) and applied to
        all its graphs (:class:`~rince_sklearn.augment.RandomChoice`); True:
        every graph draws its own, as in GraphCL (:class:`GraphRandomChoice`).
    rate : float, default=0.2
        Strength of node dropping, edge perturbation and attribute masking.
    subgraph_keep_rate : float, default=None
        Fraction of nodes the random-walk subgraph keeps; None: walk 10 steps
        from 10% of the nodes.
    mask_fill : float or "mean", default=0.0
        What masked nodes' features are set to.

    Returns
    -------
    RandomChoice or GraphRandomChoice

    Examples
    --------
    >>> import networkx as nx, torch
    >>> from rince_sklearn.graphs import collate_graphs
    >>> augmentation = default_graph_augmentation()
    >>> view = augmentation(collate_graphs([nx.cycle_graph(8)]), torch.Generator())
    >>> view.num_graphs
    1
    >>> type(default_graph_augmentation(per_graph=True)).__name__
    'GraphRandomChoice'
    """
    subgraph = (
        RandomWalkSubgraph()
        if subgraph_keep_rate is None
        else RandomWalkSubgraph(0.02, 20, keep_rate=subgraph_keep_rate)
    )
    members = [
        NodeDropping(rate),
        EdgePerturbation(rate),
        AttributeMasking(rate, fill=mask_fill),
        subgraph,
    ]
    return GraphRandomChoice(members) if per_graph else RandomChoice(members)
