"""Augmentations' parameters: scikit-learn cloning, declared ranges, modalities."""

import math
import re

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import rince_sklearn.augment as augment
from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import (
    AttributeMasking,
    Augmentation,
    ColorJitter,
    Compose,
    EdgePerturbation,
    GaussianBlur,
    GaussianNoise,
    GraphRandomChoice,
    HorizontalFlip,
    Identity,
    ImageNoise,
    MarginalCorruption,
    MemberAugmentations,
    NodeDropping,
    RandomChoice,
    RandomResizedCrop,
    RandomWalkSubgraph,
    check_augmentation,
    default_graph_augmentation,
    default_image_augmentation,
    fit_augmentation,
)
from rince_sklearn.graphs import collate_graphs
from rince_sklearn.modalities import get_modality

#: one instance per public augmentation class, with parameters off their
#: defaults where there are any
EXAMPLES = {
    "Augmentation": Augmentation(),
    "MemberAugmentations": MemberAugmentations(),
    "Identity": Identity(),
    "Compose": Compose([GaussianNoise(0.2), MarginalCorruption(0.3)]),
    "RandomChoice": RandomChoice([Identity(), GaussianNoise(0.3)], p=[0.25, 0.75]),
    "GaussianNoise": GaussianNoise(0.3),
    "MarginalCorruption": MarginalCorruption(0.4, noise_std=0.1, max_rows=500),
    "RandomResizedCrop": RandomResizedCrop(scale=(0.5, 0.9), ratio=(0.8, 1.25)),
    "HorizontalFlip": HorizontalFlip(0.3),
    "ColorJitter": ColorJitter(0.2, 0.3, p=0.6),
    "GaussianBlur": GaussianBlur(5, (0.2, 2.0), p=0.4),
    "ImageNoise": ImageNoise(0.1, p=0.9),
    "NodeDropping": NodeDropping(0.3),
    "EdgePerturbation": EdgePerturbation(0.1, 0.05),
    "AttributeMasking": AttributeMasking(0.3, fill="mean"),
    "RandomWalkSubgraph": RandomWalkSubgraph(0.05, 15, keep_rate=0.3),
    "GraphRandomChoice": GraphRandomChoice(
        [NodeDropping(0.1), EdgePerturbation(0.3)], p=[1.0, 3.0]
    ),
}

#: every public augmentation class, read from the package's ``__all__``
PUBLIC_CLASSES = sorted(
    name
    for name in augment.__all__
    if isinstance(getattr(augment, name), type)
    and issubclass(getattr(augment, name), Augmentation)
)
#: every public function that builds an augmentation, with its variants
FACTORIES = {
    "default_image_augmentation": default_image_augmentation(),
    "default_image_augmentation(noise)": default_image_augmentation(
        (0.6, 1.0), flip=False, blur_p=0.0, noise_std=0.05
    ),
    "default_graph_augmentation": default_graph_augmentation(),
    "default_graph_augmentation(per_graph)": default_graph_augmentation(
        per_graph=True, subgraph_keep_rate=0.2, mask_fill="mean"
    ),
}


def example(name):
    assert name in EXAMPLES, f"add an example of {name} to EXAMPLES"
    return EXAMPLES[name]


def test_the_public_classes_are_found():
    assert {"Compose", "RandomChoice", "GraphRandomChoice", "GaussianBlur"} <= set(
        PUBLIC_CLASSES
    )
    factories = {name for name in augment.__all__ if name.startswith("default_")}
    assert factories <= {name.split("(")[0] for name in FACTORIES}


@pytest.mark.parametrize("name", PUBLIC_CLASSES + sorted(FACTORIES))
def test_clone_gives_an_equal_unfitted_copy(name):
    original = FACTORIES[name] if name in FACTORIES else example(name)
    params = original.get_params(deep=False)
    assert set(params) <= set(original.get_params(deep=True))
    copy = clone(original)
    assert type(copy) is type(original) and copy is not original
    assert copy == original and repr(copy) == repr(original)
    members = getattr(original, "augmentations", [])
    for mine, theirs in zip(
        copy.augmentations if members else [], members, strict=True
    ):
        assert mine == theirs and mine is not theirs  # members are cloned too
    # set_params takes get_params' values back
    assert clone(copy).set_params(**params) == original


def test_clone_of_a_fitted_augmentation_is_unfitted():
    X = torch.randn(50, 3)
    fitted = fit_augmentation(Compose([Identity(), MarginalCorruption(0.5)]), X)
    assert fitted.augmentations[1].fitted_state()
    copy = clone(fitted)
    assert copy == fitted
    assert not hasattr(copy.augmentations[1], "pool_")


def test_get_and_set_params_follow_scikit_learn():
    class Wrapper(Augmentation):
        def __init__(self, inner=None, scale=1.0):
            self.inner = inner
            self.scale = scale

        def augment(self, batch, generator=None):
            return self.inner(batch, generator) * self.scale

    wrapped = Wrapper(GaussianNoise(0.1), 2.0)
    assert wrapped.get_params() == {
        "inner__std": 0.1,
        "inner": wrapped.inner,
        "scale": 2.0,
    }
    assert wrapped.get_params(deep=False) == {"inner": wrapped.inner, "scale": 2.0}
    copy = clone(wrapped).set_params(inner__std=0.4, scale=3.0)
    assert copy.inner.std == 0.4 and copy.scale == 3.0
    assert wrapped.inner.std == 0.1  # the clone's inner augmentation is its own
    with pytest.raises(ValueError, match="Invalid parameter 'std' for Wrapper"):
        wrapped.set_params(std=1.0)
    with pytest.raises(ValueError, match="'scale' has no parameters of its own"):
        wrapped.set_params(scale__x=1.0)


def test_set_params_reaches_list_members_by_index():
    views = Compose([MarginalCorruption(0.3), GaussianNoise(0.05)])
    views.set_params(augmentations__1__std=0.2, augmentations__0__corruption_rate=0.5)
    assert views == Compose([MarginalCorruption(0.5), GaussianNoise(0.2)])
    with pytest.raises(ValueError, match="index < 2"):
        views.set_params(augmentations__2__std=0.1)
    with pytest.raises(ValueError, match="to replace members"):
        views.set_params(augmentations__0=Identity())
    with pytest.raises(ValueError, match="has no set_params"):
        Compose([torch.neg]).set_params(augmentations__0__x=1)


def test_varargs_constructors_are_refused():
    class Loose(Augmentation):
        def __init__(self, *factors):
            self.factors = factors

    with pytest.raises(TypeError, match=r"takes \*args"):
        Loose(1.0).get_params()


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 5)).astype(np.float32)


FAST = dict(max_epochs=1, embedding_dim=4, projection_dim=4, random_state=0)


def test_grid_search_over_an_estimator_with_an_explicit_augmentation(table):
    emb = RobustContrastiveEmbedder(augmentation=GaussianNoise(0.1), **FAST)
    grid = GridSearchCV(emb, {"q": [0.5, 1.0]}, cv=2).fit(table)
    assert grid.best_params_["q"] in (0.5, 1.0)
    assert grid.best_estimator_.augmentation == GaussianNoise(0.1)
    assert grid.best_estimator_.augmentation is not emb.augmentation
    # the augmentation's own parameters are searchable too
    grid = GridSearchCV(emb, {"augmentation__std": [0.05, 0.3]}, cv=2).fit(table)
    assert grid.best_estimator_.augmentation.std in (0.05, 0.3)
    assert emb.augmentation == GaussianNoise(0.1)  # the original is untouched


def test_a_compose_nested_in_a_pipeline_clones(table):
    views = Compose([MarginalCorruption(0.3), GaussianNoise(0.05)])
    pipe = make_pipeline(
        StandardScaler(), RobustContrastiveEmbedder(augmentation=views, **FAST)
    )
    copy = clone(pipe)
    cloned = copy.named_steps["robustcontrastiveembedder"].augmentation
    assert cloned == views and cloned is not views
    assert all(
        a is not b
        for a, b in zip(cloned.augmentations, views.augmentations, strict=True)
    )
    copy.set_params(robustcontrastiveembedder__augmentation__augmentations__1__std=0.2)
    assert cloned.augmentations[1].std == 0.2
    assert views.augmentations[1].std == 0.05
    assert copy.fit(table).transform(table).shape == (40, 4)


# -- declared ranges ----------------------------------------------------------------

V, T = ValueError, TypeError
#: (class, parameter, bad value, error): at least one per declared parameter
BAD = [
    ("GaussianNoise", "std", -0.1, V),
    ("GaussianNoise", "std", 11.0, V),
    ("GaussianNoise", "std", math.nan, V),
    ("GaussianNoise", "std", math.inf, V),
    ("GaussianNoise", "std", "0.1", T),
    ("GaussianNoise", "std", True, T),
    ("MarginalCorruption", "corruption_rate", 1.5, V),
    ("MarginalCorruption", "corruption_rate", -0.1, V),
    ("MarginalCorruption", "noise_std", 100.0, V),
    ("MarginalCorruption", "max_rows", 0, V),
    ("MarginalCorruption", "max_rows", 10**8, V),
    ("MarginalCorruption", "max_rows", 100.0, T),
    ("MarginalCorruption", "max_rows", True, T),
    ("RandomResizedCrop", "scale", (0.0, 1.0), V),
    ("RandomResizedCrop", "scale", (0.5, 0.4), V),
    ("RandomResizedCrop", "scale", (0.5,), V),
    ("RandomResizedCrop", "scale", (0.5, 1.5), V),
    ("RandomResizedCrop", "scale", 0.5, T),
    ("RandomResizedCrop", "scale", ("a", "b"), T),
    ("RandomResizedCrop", "ratio", (0.0, 1.0), V),
    ("RandomResizedCrop", "ratio", (1e-3, 1.0), V),
    ("RandomResizedCrop", "ratio", (1.0, 1e3), V),
    ("HorizontalFlip", "p", 1.5, V),
    ("HorizontalFlip", "p", True, T),
    ("ColorJitter", "brightness", 1.5, V),
    ("ColorJitter", "contrast", -0.1, V),
    ("ColorJitter", "p", 2, V),
    ("GaussianBlur", "kernel_size", 200000001, V),
    ("GaussianBlur", "kernel_size", 4, V),
    ("GaussianBlur", "kernel_size", 0, V),
    ("GaussianBlur", "kernel_size", 65, V),
    ("GaussianBlur", "kernel_size", 3.0, T),
    ("GaussianBlur", "kernel_size", True, T),
    ("GaussianBlur", "sigma", (0.0, 1.0), V),
    ("GaussianBlur", "sigma", (1.0, 200.0), V),
    ("GaussianBlur", "sigma", (2.0, 1.0), V),
    ("GaussianBlur", "p", -1.0, V),
    ("ImageNoise", "std", 2.0, V),
    ("ImageNoise", "p", 1.1, V),
    ("NodeDropping", "rate", 1.1, V),
    ("NodeDropping", "rate", True, T),
    ("EdgePerturbation", "drop_rate", -0.1, V),
    ("EdgePerturbation", "add_rate", 1e7, V),
    ("AttributeMasking", "rate", 2.0, V),
    ("AttributeMasking", "fill", "median", V),
    ("AttributeMasking", "fill", 1e7, V),
    ("AttributeMasking", "fill", math.inf, V),
    ("AttributeMasking", "fill", None, T),
    ("RandomWalkSubgraph", "start_rate", 2.0, V),
    ("RandomWalkSubgraph", "walk_length", 1e9, T),
    ("RandomWalkSubgraph", "walk_length", 10**9, V),
    ("RandomWalkSubgraph", "walk_length", -1, V),
    ("RandomWalkSubgraph", "walk_length", True, T),
    ("RandomWalkSubgraph", "keep_rate", 1.5, V),
    ("Compose", "augmentations", [1, 2], T),
    ("Compose", "augmentations", "abc", T),
    ("Compose", "augmentations", [Identity()] * 65, V),
    ("RandomChoice", "augmentations", [], V),
    ("RandomChoice", "p", [1.0], V),
    ("RandomChoice", "p", [0.0, 0.0], V),
    ("RandomChoice", "p", [-1.0, 2.0], V),
    ("RandomChoice", "p", [math.nan, 1.0], V),
    ("RandomChoice", "p", "ab", T),
    ("GraphRandomChoice", "augmentations", [GaussianNoise()], V),
    ("GraphRandomChoice", "augmentations", [], V),
    ("GraphRandomChoice", "p", [1.0, 2.0, 3.0], V),
]


@pytest.mark.parametrize(("name", "param", "value", "error"), BAD)
def test_a_bad_value_is_refused_with_its_name_and_range(name, param, value, error):
    bad = clone(example(name)).set_params(**{param: value})  # set, not checked
    pattern = rf"{name}'s parameter {param}=.* is not allowed: it must be "
    with pytest.raises(error, match=pattern):
        bad.check_params()
    with pytest.raises(error, match=pattern):
        check_augmentation(bad)
    with pytest.raises(error, match=pattern):  # inside a container too
        check_augmentation(Compose([Identity(), RandomChoice([bad])]))


def test_every_declared_parameter_has_a_bad_value():
    for name in PUBLIC_CLASSES:
        cls = getattr(augment, name)
        declared = set(cls._parameter_constraints)
        assert declared == set(example(name).get_params(deep=False)), name
        tested = {param for n, param, _, _ in BAD if n == name}
        assert tested == declared, name


@pytest.mark.parametrize("name", PUBLIC_CLASSES + sorted(FACTORIES))
def test_defaults_and_examples_pass(name):
    if name in FACTORIES:
        check_augmentation(FACTORIES[name])
        return
    cls = getattr(augment, name)
    check_augmentation(example(name))
    if name in ("Compose", "RandomChoice", "GraphRandomChoice"):
        members = [NodeDropping(), EdgePerturbation()]
        assert check_augmentation(cls(members)).check_params() == cls(members)
    else:
        check_augmentation(cls())
        assert cls() == cls().check_params()


@pytest.mark.parametrize("modality", ["tabular", "image", "graph"])
def test_each_modality_default_passes_its_check(modality):
    default = get_modality(modality).default_augmentation(None)
    assert check_augmentation(default, modality) is default


def test_the_issue_hostile_values_are_refused_before_any_work():
    images = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"kernel_size=200000001 .* \[1, 63\]"):
        GaussianBlur(kernel_size=200000001, p=1.0)(images)
    graphs = collate_graphs([nx.cycle_graph(6)] * 2)
    with pytest.raises(ValueError, match=r"add_rate=10000000.0 .* \[0, 1\]"):
        EdgePerturbation(add_rate=1e7)(graphs, generator=torch.Generator())
    with pytest.raises(TypeError, match=r"walk_length=1000000000.0 .*an int"):
        RandomWalkSubgraph(walk_length=1e9)(graphs, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"walk_length=1000000000 .* \[0, 1000\]"):
        RandomWalkSubgraph(walk_length=10**9)(graphs, generator=torch.Generator())
    per_graph = GraphRandomChoice([RandomWalkSubgraph(walk_length=10**9)])
    with pytest.raises(ValueError, match="walk_length"):  # members called directly
        per_graph.set_params(p=None)(graphs, generator=torch.Generator())


def test_a_value_set_after_construction_is_refused_at_the_next_call():
    noise = GaussianNoise(0.1)
    x = torch.randn(8, 3)
    noise(x)
    noise.set_params(std=-1.0)
    with pytest.raises(ValueError, match=r"std=-1.0 .* \[0, 10.0\]"):
        noise(x)
    with pytest.raises(ValueError, match="max_rows"):
        MarginalCorruption(max_rows=0).fit(x)


def test_user_augmentations_without_declarations_pass():
    class Anything(Augmentation):
        def __init__(self, strength=-1e9, kernel_size=True):
            self.strength = strength
            self.kernel_size = kernel_size

        def augment(self, batch, generator=None):
            return batch

    check_augmentation(Anything(), "graph")
    check_augmentation(Compose([Anything(), torch.neg]), "tabular")
    assert torch.equal(Anything()(torch.ones(2)), torch.ones(2))
    with pytest.raises(TypeError, match="must be callable"):
        check_augmentation(3.0)
    assert check_augmentation(None, "image") is None

    class Blur(GaussianBlur):  # a subclass inherits the declarations
        pass

    with pytest.raises(ValueError, match="Blur's parameter kernel_size=8"):
        check_augmentation(Blur(kernel_size=8))


def test_another_modality_is_refused():
    with pytest.raises(ValueError, match="NodeDropping is an augmentation of graph"):
        check_augmentation(NodeDropping(0.2), modality="tabular")
    nested = Compose([Identity(), RandomChoice([GaussianNoise(), GaussianBlur()])])
    with pytest.raises(ValueError, match="GaussianBlur is an augmentation of image"):
        check_augmentation(nested, modality="tabular")
    with pytest.raises(ValueError, match="GaussianNoise is an augmentation of tab"):
        check_augmentation(nested, modality="image")
    with pytest.raises(ValueError, match="GraphRandomChoice .* graph"):
        check_augmentation(default_graph_augmentation(per_graph=True), "image")
    check_augmentation(nested)  # no modality: ranges only
    # members decide for the modality-agnostic ones, and a user-defined
    # modality is not judged here
    for modality in ("tabular", "image", "graph"):
        check_augmentation(Compose([Identity(), RandomChoice([Identity()])]), modality)
    check_augmentation(MarginalCorruption(), "rows")
    declared = {getattr(augment, n).modality for n in PUBLIC_CLASSES}
    assert declared == {None, "tabular", "image", "graph"}


def test_deep_nesting_is_refused():
    views = Identity()
    for _ in range(20):
        views = Compose([views])
    with pytest.raises(ValueError, match="nested more than 16 deep"):
        check_augmentation(views)
    assert check_augmentation(Compose([Compose([Identity()])]))


def test_messages_shorten_long_values():
    many = [Identity()] * 1000
    with pytest.raises(ValueError) as info:
        Compose(many).check_params()
    assert len(str(info.value)) < 300
    assert re.search(r"a list of 0 to 64 callables", str(info.value))


def test_arrays_and_numpy_numbers_are_accepted():
    choice = RandomChoice([Identity(), GaussianNoise()], p=np.array([0.2, 0.8]))
    crop = RandomResizedCrop(scale=np.array([0.5, 1.0]), ratio=(np.float64(0.8), 1.2))
    blur = GaussianBlur(kernel_size=np.int64(5), p=np.float32(1.0))
    for augmentation in (choice, crop, blur):
        assert check_augmentation(augmentation) is augmentation
    assert choice(torch.ones(2, 2), torch.Generator()).shape == (2, 2)
    assert crop(torch.rand(2, 1, 8, 8), torch.Generator()).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="kernel_size"):
        GaussianBlur(kernel_size=np.int64(8)).check_params()
    with pytest.raises(TypeError, match="p="):
        RandomChoice([Identity()], p=np.ones((1, 1))).check_params()
