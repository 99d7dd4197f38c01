"""Per-modality "auto" defaults: resolved at fit time, never written back."""

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_wine

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import (
    AttributeMasking,
    GraphRandomChoice,
    RandomChoice,
    RandomWalkSubgraph,
    default_graph_augmentation,
)
from rince_sklearn.encoders import ConvEncoder, MLPEncoder
from rince_sklearn.graphs import collate_graphs
from rince_sklearn.modalities import get_modality

AUTO = ("lr", "temperature", "max_epochs")


@pytest.mark.parametrize("name", ["tabular", "image", "graph"])
def test_every_modality_defines_every_auto_value(name):
    emb = RobustContrastiveEmbedder()
    emb.n_features_in_, emb.image_shape_ = 4, (1, 8, 8)
    defaults = get_modality(name).defaults(emb, n_samples=500)
    assert defaults["lr"] > 0 and defaults["temperature"] > 0
    assert isinstance(defaults["max_epochs"], int) and defaults["max_epochs"] >= 1
    assert isinstance(defaults["encoder_kwargs"], dict)


def test_auto_values_resolve_into_fitted_attributes(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(random_state=0, max_epochs=2)
    emb.fit(X)
    defaults = get_modality("tabular").defaults(emb, len(X))
    assert emb.lr_ == defaults["lr"] and emb.temperature_ == defaults["temperature"]
    assert emb.max_epochs_ == 2  # explicit values are used as given
    # the default encoder's last hidden layer is the embedding
    assert emb.encoder_kwargs_ == {**defaults["encoder_kwargs"], "embedding_dim": None}
    assert emb.embedding_dim_ == defaults["encoder_kwargs"]["hidden_dims"][-1]
    # never written back: the parameters still say "auto"
    params = emb.get_params()
    assert params["lr"] == params["temperature"] == params["embedding_dim"] == "auto"
    assert clone(emb).get_params() == params
    # what the net and the loss received
    assert emb.net_.lr == emb.lr_ and emb.net_.max_epochs == 2
    assert emb.net_.criterion_.temperature == emb.temperature_
    assert len(emb.history_) == 2


def test_explicit_values_are_used_exactly(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(
        lr=0.0123,
        temperature=0.77,
        max_epochs=3,
        encoder_kwargs={"hidden_dims": (8,)},
        lr_schedule=None,
        random_state=0,
    ).fit(X)
    assert (emb.lr_, emb.temperature_, emb.max_epochs_) == (0.0123, 0.77, 3)
    assert emb.net_.optimizer_.param_groups[0]["lr"] == 0.0123
    assert emb.net_.criterion_.temperature == 0.77
    linear = [m for m in emb.encoder_.modules() if isinstance(m, torch.nn.Linear)]
    assert linear[0].out_features == 8  # user kwargs override the defaults


def test_tabular_epochs_follow_the_data_size():
    tabular = get_modality("tabular")
    emb = RobustContrastiveEmbedder(batch_size=256)
    small = tabular.defaults(emb, 100)["max_epochs"]
    large = tabular.defaults(emb, 100_000)["max_epochs"]
    low, high = tabular.DEFAULTS["epoch_range"]
    assert small == high and large == low  # many passes over little data
    middle = tabular.defaults(emb, 25_600)["max_epochs"]  # 100 batches per epoch
    assert middle == max(low, min(high, tabular.DEFAULTS["target_steps"] // 100))


def test_custom_encoder_gets_no_default_kwargs(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(encoder=MLPEncoder, max_epochs=1, random_state=0)
    assert emb.fit(X).encoder_kwargs_ == {}


def test_image_defaults_build_the_conv_encoder():
    X = load_digits().images[:64]
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
    assert isinstance(emb.encoder_, ConvEncoder)
    assert emb.lr_ == get_modality("image").DEFAULTS["lr"]
    assert emb.encoder_.stage_sizes == [8, 4]


def test_graph_lr_default_is_the_graph_modality_s():
    graphs = [nx.cycle_graph(5 + i % 4) for i in range(12)]
    emb = RobustContrastiveEmbedder(max_epochs=1, batch_size=4, random_state=0)
    emb.fit(graphs)
    assert emb.lr_ == get_modality("graph").DEFAULTS["lr"] == 3e-3


def test_subgraph_keep_rate_bounds_the_subgraph():
    batch = collate_graphs([nx.grid_2d_graph(10, 10)] * 8)  # 100 nodes each
    g = torch.Generator().manual_seed(0)
    wide = RandomWalkSubgraph()(batch, generator=g).nodes_per_graph()
    small = RandomWalkSubgraph(0.02, 20, keep_rate=0.2)(batch, generator=g)
    kept = small.nodes_per_graph()
    assert (kept >= 20).all() and (kept <= 25).all()  # 20%, + the last step
    assert (wide > 30).all()  # the default walks keep far more


def test_mean_fill_masks_with_the_training_mean():
    graphs = [
        (np.array([[0, 1], [1, 0]]), np.full((2, 2), float(v))) for v in range(1, 5)
    ]
    train = collate_graphs(graphs)  # node features 1, 1, 2, 2, 3, 3, 4, 4
    mask = AttributeMasking(0.5, fill="mean")
    assert mask.requires_fit and not AttributeMasking(0.5).requires_fit
    mask.fit(train)
    torch.testing.assert_close(mask.mean_, torch.tensor([2.5, 2.5]))
    view = mask(collate_graphs(graphs[:1]), generator=torch.Generator())
    assert sorted(view.x[:, 0].tolist()) == [1.0, 2.5]  # one of two nodes masked
    with pytest.raises(ValueError, match="'mean'"):
        AttributeMasking(0.5, fill="median")(train)


def test_default_graph_augmentation_options():
    assert isinstance(default_graph_augmentation(), RandomChoice)
    per_graph = default_graph_augmentation(per_graph=True, mask_fill="mean")
    assert isinstance(per_graph, GraphRandomChoice) and per_graph.requires_fit
    batch = collate_graphs([nx.cycle_graph(10)] * 6)
    view = per_graph.fit(batch)(batch, generator=torch.Generator().manual_seed(0))
    assert view.num_graphs == 6
    # graphs drew their own augmentation: not all graphs changed the same way
    assert len(set(view.nodes_per_graph().tolist())) > 1 or view.num_edges != 120


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


# -- embedding_dim="auto" -----------------------------------------------------------
class _Custom(torch.nn.Module):
    def __init__(self, in_features, embedding_dim=3):
        super().__init__()
        self.layer = torch.nn.Linear(in_features, embedding_dim)

    def forward(self, x):
        return self.layer(x)


def test_auto_width_is_the_default_mlps_last_hidden_layer(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
    assert emb.embedding_dim_ == 256
    assert emb.transform(X).shape == (len(X), 256)
    assert len(emb.get_feature_names_out()) == 256
    # no output layer: the encoder ends with its last hidden layer's ReLU
    assert isinstance(emb.encoder_.net[-1], torch.nn.ReLU)
    assert emb.net_.module_.head.net[0].in_features == 256
    narrow = RobustContrastiveEmbedder(
        max_epochs=1, encoder_kwargs={"hidden_dims": (32, 16)}, random_state=0
    ).fit(X)
    assert narrow.embedding_dim_ == 16 and narrow.transform(X).shape[1] == 16


def test_auto_width_is_the_cnns_pooled_features():
    X = np.random.default_rng(0).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
    # every stage's pooled features: 32 + 64 + 128 at 28x28
    assert emb.embedding_dim_ == sum(emb.encoder_.stage_widths) == 224
    assert isinstance(emb.encoder_.fc, torch.nn.Identity)
    assert emb.transform(X).shape == (20, 224)


@pytest.mark.parametrize(
    "params, width",
    [
        ({"embedding_dim": 8}, 8),  # explicit: an output layer of that width
        ({"encoder_kwargs": {"embedding_dim": 12}}, 12),
        ({"encoder": _Custom}, 64),  # custom encoders: the fallback width
        ({"encoder": _Custom, "encoder_kwargs": {"embedding_dim": 5}}, 5),
    ],
)
def test_explicit_and_custom_widths(wine, params, width):
    X, _ = wine
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0, **params).fit(X)
    assert emb.embedding_dim_ == width
    assert emb.transform(X).shape == (len(X), width)
    assert emb.get_params()["embedding_dim"] == params.get("embedding_dim", "auto")
    if "encoder" not in params:
        assert isinstance(emb.encoder_.net[-1], torch.nn.Linear)


def test_auto_width_of_graphs_is_the_modality_default():
    graph = get_modality("graph")
    assert graph.DEFAULTS["embedding_dim"] == 192
    graphs = [nx.path_graph(4), nx.cycle_graph(5)] * 4
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(graphs)
    assert emb.embedding_dim_ == 192 and emb.transform(graphs).shape == (8, 192)
    # three GIN layers 64 wide, their pooled rows concatenated: no output layer
    assert [norm.num_features for norm in emb.encoder_.norms] == [64, 64, 64]
    assert isinstance(emb.encoder_.out, torch.nn.Identity)


def test_conflicting_widths_are_refused(wine):
    X, _ = wine
    with pytest.raises(ValueError, match="set the width in one place"):
        RobustContrastiveEmbedder(
            embedding_dim=32, encoder_kwargs={"embedding_dim": 16}, max_epochs=1
        ).fit(X)
    with pytest.raises(ValueError, match="set the width in one place"):
        RobustContrastiveEmbedder(
            embedding_dim=32, encoder_kwargs={"embedding_dim": None}, max_epochs=1
        ).fit(X)
    # None in encoder_kwargs: the encoder's last layer, whatever embedding_dim
    emb = RobustContrastiveEmbedder(
        embedding_dim=256, encoder_kwargs={"embedding_dim": None}, max_epochs=1
    ).fit(X)
    assert emb.embedding_dim_ == 256 and isinstance(emb.encoder_.net[-1], torch.nn.ReLU)
    custom = RobustContrastiveEmbedder(
        encoder=MLPEncoder,
        encoder_kwargs={"embedding_dim": None, "hidden_dims": (8,)},
        max_epochs=1,
    ).fit(X)
    assert custom.embedding_dim_ == 8


def test_an_encoder_without_a_readable_width_gets_a_clear_error(wine):
    X, _ = wine
    with pytest.raises(ValueError, match="could not be built with embedding_dim"):
        RobustContrastiveEmbedder(
            encoder=_Custom, encoder_kwargs={"embedding_dim": None}, max_epochs=1
        ).fit(X)

    class Unsized(torch.nn.Module):  # builds with None but hides its width
        def __init__(self, in_features, embedding_dim=None):
            super().__init__()
            self.layer = torch.nn.Linear(in_features, 5)

        def forward(self, x):
            return self.layer(x)

    with pytest.raises(ValueError, match="does not say how wide"):
        RobustContrastiveEmbedder(
            encoder=Unsized, encoder_kwargs={"embedding_dim": None}, max_epochs=1
        ).fit(X)
