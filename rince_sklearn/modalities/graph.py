"""Graph input: lists of graphs, embedded whole (graph-level representations).

The graph formats themselves (conversion, validation, packing, batching) are
in :mod:`rince_sklearn.graphs`; this module is the estimator's view of them.
"""

from __future__ import annotations

from typing import Any

from ..augment._base import Augmentation
from ..augment.graph import default_graph_augmentation
from ..encoders.graph import GINEncoder
from ..graphs import GraphSource, pack_graphs
from ._base import Modality, ModalityHost

__all__ = ["GraphModality"]


class GraphModality(Modality):
    """Lists of graphs; the default encoder is a GIN, views are GraphCL's.

    See :mod:`rince_sklearn.graphs` for the accepted graph formats.
    ``n_features_in_`` is the node-feature width.
    """

    name = "graph"

    def prepare(self, estimator: ModalityHost, X: Any, *, reset: bool) -> GraphSource:
        """Validate a list of graphs and pack it (see ``pack_graphs``)."""
        packed = pack_graphs(X)
        n_features = packed.n_features
        if reset:
            estimator.n_features_in_ = n_features
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif n_features != estimator.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(estimator).__name__} is "
                f"expecting {estimator.n_features_in_} features as input "
                "(node-feature width of the graphs)."
            )
        return GraphSource(packed)

    def encoder_size_kwargs(self, estimator: ModalityHost) -> dict[str, Any]:
        """Return ``in_features=n_features_in_``: the node-feature width."""
        return {"in_features": estimator.n_features_in_}

    def default_encoder(self, estimator: ModalityHost) -> type[GINEncoder]:
        """:class:`~rince_sklearn.encoders.GINEncoder`."""
        return GINEncoder

    def default_augmentation(self, estimator: ModalityHost) -> Augmentation:
        """GraphCL's four augmentations, as ``DEFAULTS["augmentation"]`` sets them.

        See :func:`~rince_sklearn.augment.default_graph_augmentation`.
        """
        return default_graph_augmentation(**self.DEFAULTS["augmentation"])

    # -- defaults of the "auto" parameters ----------------------------------------
    DEFAULTS: dict[str, Any] = {
        "lr": 3e-3,
        "temperature": 0.5,
        "max_epochs": 20,
        "encoder_kwargs": {},
        #: the GIN's 3 layers split it: 64 wide each, their pooled rows
        #: concatenated, no output layer (benchmarks/results/
        #: quality_search_graph_layouts.md: as good as 5 layers of 48 or 64,
        #: and faster; 21-wide layers, the former 64, were 3.3 points behind)
        "embedding_dim": 192,
        "augmentation": {
            "per_graph": True,
            "rate": 0.2,
            "subgraph_keep_rate": None,
            "mask_fill": "mean",
        },
    }
