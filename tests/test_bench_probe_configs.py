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
