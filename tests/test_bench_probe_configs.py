"""benchmarks/probe_configs.py: --graph-members builds only the graph views."""

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def probe_configs():
    yield from load_benchmark("probe_configs")


def test_graph_members_builds_the_named_views(probe_configs):
    from rince_sklearn.augment import AttributeMasking, GraphRandomChoice, NodeDropping

    choice = probe_configs.graph_members(
        [["NodeDropping", {"rate": 0.3}], ["AttributeMasking", {"fill": "mean"}]]
    )
    assert isinstance(choice, GraphRandomChoice)
    assert [type(m) for m in choice.augmentations] == [NodeDropping, AttributeMasking]
    assert choice.augmentations[0].rate == 0.3


@pytest.mark.parametrize(
    "spec",
    [
        [["os.system", {}]],  # a dotted path: never imported
        [["__import__", {}]],
        [["GraphRandomChoice", {}]],  # a class of the module, not a view
        [["default_graph_augmentation", {}]],  # a function of the module
        [["NodeDropping", {"rate": {"__class__": "x"}}]],  # not a plain value
        [["NodeDropping", {"rate": [0.2]}]],
        [["NodeDropping", ["rate"]]],
        [["NodeDropping"]],
        "NodeDropping",
        [],
    ],
)
def test_graph_members_refuses_anything_else(probe_configs, spec):
    with pytest.raises(ValueError):
        probe_configs.graph_members(spec)


def test_a_bad_graph_members_argument_stops_before_any_work(probe_configs, capsys):
    with pytest.raises(SystemExit) as stop:  # argparse's usage error
        probe_configs.main(["graph", "--graph-members", '[["os.system", {}]]'])
    assert stop.value.code == 2
    assert "unknown view 'os.system'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a keyword the view does not take
        probe_configs.main(["graph", "--graph-members", '[["NodeDropping", {"x": 1}]]'])


def _rings(n, rng):
    """Rings of 4-6 nodes with 3 random node features; label = ring size."""
    import numpy as np

    graphs, labels = [], []
    for _ in range(n):
        k = int(rng.integers(4, 7))
        src = np.arange(k)
        ring = np.stack([np.r_[src, (src + 1) % k], np.r_[(src + 1) % k, src]])
        graphs.append((ring, rng.normal(size=(k, 3)).astype(np.float32)))
        labels.append(k)
    return graphs, np.array(labels)


def test_with_labels_adds_a_labelled_fit(probe_configs, monkeypatch):
    import numpy as np

    rng = np.random.default_rng(0)
    (g_train, y_train), (g_test, y_test) = _rings(40, rng), _rings(20, rng)
    monkeypatch.setattr(
        probe_configs,
        "superpixel_graphs",
        lambda *a: (g_train, y_train, g_test, y_test),
    )
    fitted = []
    real_fit = probe_configs.RobustContrastiveEmbedder.fit

    def spy(self, X, y=None, **kw):
        fitted.append((self.supervision, y))
        return real_fit(self, X, y, **kw)

    monkeypatch.setattr(probe_configs.RobustContrastiveEmbedder, "fit", spy)
    args = probe_configs.argparse.Namespace(
        graph_views=None,
        graph_members=None,
        with_labels=True,
        epochs=1,
        threads=1,
        seed=0,
    )
    seen = {}
    real_ce = probe_configs.cross_entropy_reference

    def ce_spy(untrained, graphs, y, **kw):
        seen.update(kw)
        return real_ce(untrained, graphs, y, **kw)

    monkeypatch.setattr(probe_configs, "cross_entropy_reference", ce_spy)
    out = probe_configs.run_graph(args, {"batch_size": 16})
    # trained at the label-free fit's learning rate, not the untrained one's
    assert seen["lr"] == 3e-3 and seen["epochs"] == 1 and seen["seed"] == 0
    assert set(out) == {
        "untrained",
        "untrained_s",
        "trained",
        "trained_s",
        "labels",
        "labels_s",
        "cross_entropy",
        "cross_entropy_s",
    }
    assert all(0 <= out[k] <= 1 for k in ("untrained", "labels", "cross_entropy"))
    assert [s for s, _ in fitted] == ["none", "none", "labels"]
    assert fitted[0][1] is None and fitted[1][1] is None
    assert fitted[2][1] is y_train


def test_cross_entropy_reference_trains_a_copy(probe_configs):
    import numpy as np
    import torch

    graphs, y = _rings(40, np.random.default_rng(1))
    untrained = probe_configs.RobustContrastiveEmbedder(
        max_epochs=1, lr=1e-12, lr_schedule=None, batch_size=16, random_state=0
    ).fit(graphs)
    before = [p.detach().clone() for p in untrained.encoder_.parameters()]
    untrained_features = untrained.transform(graphs)
    reference = probe_configs.cross_entropy_reference(
        untrained, graphs, y, epochs=3, lr=1e-2, seed=0
    )
    moved = max(
        (p - b).abs().max().item()
        for p, b in zip(reference.encoder_.parameters(), before, strict=True)
    )
    assert moved > 1e-3  # it trains (an lr of 1e-12 would leave it as it was)
    assert reference.encoder_ is reference.net_.module_.encoder  # transform uses it
    assert not reference.encoder_.training
    for p, b in zip(untrained.encoder_.parameters(), before, strict=True):
        assert torch.equal(p, b)  # on a copy: the estimator is untouched
    np.testing.assert_array_equal(untrained.transform(graphs), untrained_features)
    again = probe_configs.cross_entropy_reference(
        untrained, graphs, y, epochs=3, lr=1e-2, seed=0
    )
    features = reference.transform(graphs)
    assert features.shape == (40, untrained.embedding_dim_)
    assert not np.allclose(features, untrained_features)
    np.testing.assert_allclose(features, again.transform(graphs))
