"""Default encoder for graphs: a GIN in plain torch (no torch_geometric)."""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import Tensor, nn

from ..graphs import GraphBatch

__all__ = ["GINEncoder", "GINLayer", "adjacency", "aggregate", "global_pool"]


def global_pool(h: Tensor, batch: Tensor, num_graphs: int, how: str = "sum") -> Tensor:
    """Pool node rows ``h`` (N, D) into one row per graph (num_graphs, D).

    Parameters
    ----------
    h : Tensor of shape (N, D)
    batch : LongTensor of shape (N,)
        Graph id of every node.
    num_graphs : int
    how : {"sum", "mean"}, default="sum"
        A graph without nodes pools to zeros.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[1.0], [2.0], [4.0]])
    >>> global_pool(h, torch.tensor([0, 0, 1]), 2, "mean").ravel().tolist()
    [1.5, 4.0]
    """
    out = h.new_zeros(num_graphs, h.shape[1]).index_add_(0, batch, h)  # (G, D)
    if how == "mean":
        counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1)  # (G,)
        out = out / counts.to(h.dtype)[:, None]
    return out


def adjacency(edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
    """Sparse CSR matrix ``A`` with ``A[i, j]`` = number of edges ``j -> i``.

    ``A @ h`` sums every node's incoming messages in one sparse product, which
    is faster than gathering ``h`` per edge and scattering it back (forward and
    backward). Built once per batch and shared by all layers.

    Examples
    --------
    >>> import torch
    >>> a = adjacency(torch.tensor([[0, 0, 1], [1, 2, 2]]), 3, torch.float32)
    >>> a.to_dense().tolist()
    [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    """
    src, dst = edge_index
    order = torch.argsort(dst, stable=True)  # (E,) rows of A in order
    counts = torch.bincount(dst, minlength=num_nodes)  # (N,)
    crow = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])  # (N + 1,)
    values = torch.ones(src.shape[0], dtype=dtype, device=src.device)  # (E,)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, src[order], values, (num_nodes, num_nodes))


def aggregate(h: Tensor, edges: Tensor) -> Tensor:
    """Sum of incoming neighbour rows: ``out[i] = sum_{j -> i} h[j]``.

    ``edges`` is either an :func:`adjacency` matrix (sparse product) or an
    ``edge_index`` of shape ``(2, E)`` (gather and ``index_add``). The sparse
    product runs in the adjacency's dtype, outside autocast: torch has no
    sparse CSR product in bfloat16, to which autocast would cast it
    (``precision="bf16-mixed"``); the sums are then float32 as well.
    """
    if edges.layout == torch.sparse_csr:
        with torch.autocast(device_type=h.device.type, enabled=False):
            return edges @ h.to(edges.dtype)  # (N, D)
    src, dst = edges
    return h.new_zeros(h.shape).index_add_(0, dst, h.index_select(0, src))


class GINLayer(nn.Module):
    """One GIN layer [1]_: ``h_i' = MLP((1 + eps) h_i + sum_{j -> i} h_j)``.

    Messages flow along ``edge_index`` from row 0 (source) to row 1 (target).

    Parameters
    ----------
    in_features, out_features : int
    train_eps : bool, default=False
        Learn ``eps`` (initialised at 0) instead of fixing it at 0.

    References
    ----------
    .. [1] Xu, K., Hu, W., Leskovec, J. and Jegelka, S. "How Powerful are Graph
       Neural Networks?", ICLR 2019.
    """

    def __init__(self, in_features: int, out_features: int, train_eps: bool = False):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_features, out_features),
            nn.ReLU(),
            nn.Linear(out_features, out_features),
        )
        self.train_eps = train_eps
        if train_eps:
            self.eps = nn.Parameter(torch.zeros(1))
        else:
            self.register_buffer("eps", torch.zeros(1))

    def forward(self, h: Tensor, edges: Tensor) -> Tensor:
        """Map node rows ``(N, in_features)`` to ``(N, out_features)``.

        ``edges``: an ``edge_index`` ``(2, E)`` or its :func:`adjacency`.
        """
        neighbours = aggregate(h, edges)  # (N, in)
        if self.train_eps:
            return self.mlp(neighbours + (1 + self.eps) * h)  # (N, out)
        return self.mlp(neighbours + h)  # (N, out)


class GINEncoder(nn.Module):
    """Graph Isomorphism Network that embeds whole graphs.

    Node features are standardised (a batch normalisation without learned
    scale), then pass ``num_layers`` GIN layers, each followed by ReLU and batch
    normalisation, as in GraphCL's encoder [1]_. Every layer's node rows are
    pooled per graph (``readout``) and the pooled rows of all layers are
    concatenated (jumping knowledge [2]_): that is the embedding (or it is
    mapped linearly to ``embedding_dim`` when the widths do not add up to it).

    Parameters
    ----------
    in_features : int
        Node-feature width.
    embedding_dim : int, default=64
        Output width.
    hidden_dim : int, default=None
        Width of every GIN layer. None splits ``embedding_dim`` over the layers
        (``embedding_dim // num_layers`` each, the remainder to the last one) so
        that their pooled concatenation *is* the embedding, with no output
        layer; without jumping knowledge the width is ``embedding_dim``.
        Otherwise a linear layer maps the pooled rows to ``embedding_dim``.
    num_layers : int, default=3
        Number of GIN layers.
    readout : {"sum", "mean"}, default="sum"
        How node rows are pooled into a graph row.
    jumping_knowledge : bool, default=True
        Concatenate the pooled rows of all layers; when False, only the last
        layer's rows are pooled.
    train_eps : bool, default=False
        Learn GIN's ``eps``.
    dropout : float, default=0.0
        Dropout on the node rows after every layer.
    sparse : bool, default=True
        Sum neighbours with a sparse CSR product (faster on CPU and GPU);
        False gathers and scatters per edge (``index_add_``). Other dtypes than
        float32/float64 always use the latter.

    References
    ----------
    .. [1] You, Y. et al. "Graph Contrastive Learning with Augmentations",
       NeurIPS 2020.
    .. [2] Xu, K. et al. "Representation Learning on Graphs with Jumping
       Knowledge Networks", ICML 2018.

    Examples
    --------
    >>> import networkx as nx
    >>> from rince_sklearn.graphs import collate_graphs
    >>> batch = collate_graphs([nx.path_graph(4), nx.star_graph(5)])
    >>> GINEncoder(in_features=1, embedding_dim=8)(batch).shape
    torch.Size([2, 8])
    """

    def __init__(
        self,
        in_features: int,
        embedding_dim: int = 64,
        hidden_dim: int | None = None,
        num_layers: int = 3,
        readout: Literal["sum", "mean"] = "sum",
        jumping_knowledge: bool = True,
        train_eps: bool = False,
        dropout: float = 0.0,
        sparse: bool = True,
    ) -> None:
        super().__init__()
        if readout not in ("sum", "mean"):
            raise ValueError(f"readout must be 'sum' or 'mean', got {readout!r}.")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        self.readout = readout
        self.sparse = sparse
        self.jumping_knowledge = jumping_knowledge
        self.input_norm = nn.BatchNorm1d(in_features, affine=False)
        self.layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        if hidden_dim is not None:
            widths = [hidden_dim] * num_layers
        elif jumping_knowledge:
            if embedding_dim < num_layers:
                raise ValueError(
                    f"embedding_dim={embedding_dim} is too small to split over "
                    f"num_layers={num_layers} layers; set hidden_dim."
                )
            widths = [embedding_dim // num_layers] * num_layers
            widths[-1] += embedding_dim - sum(widths)
        else:
            widths = [embedding_dim] * num_layers
        width = in_features
        for hidden in widths:
            self.layers.append(GINLayer(width, hidden, train_eps))
            self.norms.append(nn.BatchNorm1d(hidden))
            width = hidden
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        pooled = sum(widths) if jumping_knowledge else widths[-1]
        self.out = (
            nn.Identity()
            if pooled == embedding_dim
            else nn.Linear(pooled, embedding_dim)
        )

    def forward(self, graphs: GraphBatch) -> Tensor:
        """Embed a :class:`~rince_sklearn.graphs.GraphBatch`: ``(num_graphs, D)``."""
        h = self.input_norm(graphs.x)  # (N, F)
        edges = graphs.edge_index
        if self.sparse and h.dtype in (torch.float32, torch.float64):
            edges = adjacency(edges, graphs.num_nodes, h.dtype)  # (N, N) CSR
        pooled = []
        for layer, norm in zip(self.layers, self.norms, strict=True):
            h = self.dropout(norm(torch.relu(layer(h, edges))))  # (N, H)
            if self.jumping_knowledge:
                pooled.append(
                    global_pool(h, graphs.batch, graphs.num_graphs, self.readout)
                )
        if not self.jumping_knowledge:
            pooled.append(global_pool(h, graphs.batch, graphs.num_graphs, self.readout))
        return self.out(torch.cat(pooled, dim=1))  # (G, embedding_dim)
