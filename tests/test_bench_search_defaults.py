"""benchmarks/search_defaults.py: the graph configurations mean what they say."""

import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def search_defaults():
    yield from load_benchmark("search_defaults")


def test_untrained_configs_are_flagged_and_trained_ones_are_not(search_defaults):
    for name, config in search_defaults.GRAPH_CONFIGS.items():
        assert bool(config.get("untrained")) == name.startswith("untrained"), name


def test_graph_layouts_keep_their_widths(search_defaults):
    def width(name):
        return {**search_defaults.GRAPH_BASE, **search_defaults.GRAPH_CONFIGS[name]}

    # the searches made before the layout search keep the former 64 features,
    # whatever the graph default is today
    assert width("base")["embedding_dim"] == 64
    assert width("pg_mean_l3")["embedding_dim"] == 64
    chosen = width("pg_mean_l3h64")
    assert chosen["embedding_dim"] == 192
    assert chosen["encoder_kwargs"] == {"num_layers": 3, "hidden_dim": 64}
    assert width("pg_mean_l3h64_bs512")["batch_size"] == 512
