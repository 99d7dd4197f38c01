"""Modalities: detection, the registry, the estimator Protocol, custom modalities."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.modalities import (
    Modality,
    ModalityHost,
    detect_modality,
    get_modality,
    modality_names,
    register_modality,
    unregister_modality,
)
from rince_sklearn.modalities.graph import GraphModality
from rince_sklearn.modalities.image import ImageModality
from rince_sklearn.modalities.tabular import TabularModality

DOCS = Path(__file__).resolve().parents[1] / "docs"
FAST = dict(max_epochs=1, embedding_dim=4, projection_dim=4, random_state=0)
EDGES = np.array([[0, 1], [1, 0]])
GRAPH = (EDGES, np.ones((2, 3)))


# -- detection -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, image_shape, expected",
    [
        (np.zeros((4, 8, 8)), None, "image"),
        (np.zeros((4, 3, 8, 8)), None, "image"),
        (torch.zeros(4, 3, 8, 8), None, "image"),
        ([np.zeros((8, 8))] * 3, None, "image"),
        (np.zeros((4, 64)), (1, 8, 8), "image"),
        (np.zeros((4, 64)), None, "tabular"),
        ([[1.0, 2.0], [3.0, 4.0]], None, "tabular"),
        ([GRAPH, GRAPH], None, "graph"),
        ([GRAPH, GRAPH], (1, 8, 8), "graph"),  # graphs win over image_shape
        # malformed graphs go to the graph checks, which say what is wrong
        (GRAPH, None, "graph"),  # one graph, not wrapped in a list
        ([(np.array([]), np.ones((2, 3)))], None, "graph"),  # edge_index (0,)
        ([(np.zeros((3, 4), dtype=int), np.ones((2, 3)))], None, "graph"),  # (3, E)
        # two images in a tuple are two images, not one (edge_index, x) pair
        ((np.zeros((8, 8), dtype=int), np.zeros((8, 8), dtype=int)), None, "image"),
        # a pair of numbers is a row
        ([(1.0, 2.0), (3.0, 4.0)], None, "tabular"),
        # meant as graphs, malformed: a 3-D edge_index, a label inside the tuple
        ([(np.zeros((2, 3, 1), dtype=int), np.ones((3, 2)))], None, "graph"),
        ([(EDGES, np.ones((2, 3)), 1)], None, "graph"),
        # ... but not a pair of equal-shape integer arrays, nor rows of 3 numbers
        ([(np.zeros((2, 4, 4), int), np.zeros((2, 4, 4), int))], None, "tabular"),
        ([(1, 2, 3), (4, 5, 6)], None, "tabular"),
        # sparse tables are tables
        (sparse.csr_matrix(np.eye(4)), None, "tabular"),
    ],
)
def test_detect_modality(X, image_shape, expected):
    assert detect_modality(X, image_shape=image_shape) == expected


# -- the registry ----------------------------------------------------------------------
class Rows(TabularModality):
    """The tabular modality under another name."""

    name = "rows"


@pytest.fixture
def rows():
    modality = register_modality(Rows())
    yield modality
    unregister_modality("rows")


def test_built_ins_are_registered():
    assert modality_names() == ["graph", "image", "tabular"]
    assert isinstance(get_modality("tabular"), TabularModality)
    assert isinstance(get_modality("image"), ImageModality)
    assert isinstance(get_modality("graph"), GraphModality)


def test_registered_name_is_a_valid_parameter(rows):
    X, _ = load_wine(return_X_y=True)
    emb = RobustContrastiveEmbedder(**FAST, modality="rows").fit(X)
    assert emb.modality_ == "rows"
    assert emb.transform(X).shape == (178, 4)
    reference = RobustContrastiveEmbedder(**FAST, modality="tabular").fit(X)
    np.testing.assert_allclose(emb.transform(X), reference.transform(X))


def test_unknown_name_lists_the_registered_ones(rows):
    emb = RobustContrastiveEmbedder(**FAST, modality="audio")
    with pytest.raises(InvalidParameterError) as info:
        emb.fit(np.ones((4, 2)))
    message = str(info.value)
    assert "The 'modality' parameter" in message
    for name in ("auto", "graph", "image", "rows", "tabular"):
        assert repr(name) in message
    unregister_modality("rows")
    with pytest.raises(InvalidParameterError, match="'audio'"):
        emb.fit(np.ones((4, 2)))
    with pytest.raises(InvalidParameterError, match="'rows'"):
        RobustContrastiveEmbedder(**FAST, modality="rows").fit(np.ones((4, 2)))
    register_modality(Rows())  # for the fixture's clean-up


def test_register_modality_validates_its_argument(rows):
    with pytest.raises(TypeError, match="the class Rows; pass an instance"):
        register_modality(Rows)
    with pytest.raises(TypeError, match="instance of a Modality subclass"):
        register_modality("rows")

    class Nameless(TabularModality):
        name = ""

    class Auto(TabularModality):
        name = "auto"

    for bad in (Nameless(), Auto()):
        with pytest.raises(ValueError, match="non-empty name other than 'auto'"):
            register_modality(bad)
    with pytest.raises(ValueError, match="'rows' is already registered .*replace"):
        register_modality(Rows())
    assert register_modality(rows) is rows  # the same object again is harmless
    replacement = Rows()
    register_modality(replacement, replace=True)
    assert get_modality("rows") is replacement


def test_replacing_a_built_in_needs_replace():
    original = get_modality("image")
    with pytest.raises(ValueError, match="already registered"):
        register_modality(ImageModality())
    try:
        register_modality(ImageModality(), replace=True)
        assert get_modality("image") is not original
    finally:
        register_modality(original, replace=True)
    assert get_modality("image") is original


def test_get_and_unregister_unknown_names():
    with pytest.raises(ValueError, match=r"registered modalities: \['graph', 'image'"):
        get_modality("audio")
    with pytest.raises(ValueError, match="No modality is registered as 'audio'"):
        unregister_modality("audio")


# -- what a modality may touch on the estimator ------------------------------------
PROTOCOL_MEMBERS = set(typing.get_type_hints(ModalityHost)) | {"image_shape"}


class Recording(RobustContrastiveEmbedder):
    """Records the public instance attributes read, written and deleted on it."""

    def start_recording(self):
        self.__dict__["_touched"] = set()
        return self

    def _record(self, name):
        touched = object.__getattribute__(self, "__dict__").get("_touched")
        if touched is not None and not name.startswith("_"):
            touched.add(name)

    def __getattribute__(self, name):
        if name in object.__getattribute__(self, "__dict__"):
            object.__getattribute__(self, "_record")(name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name):  # a missing attribute (hasattr and the like)
        self._record(name)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        self._record(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._record(name)
        object.__delattr__(self, name)


def _inputs():
    digits = load_digits().data[:20]
    graphs = [
        (np.array([[0, 1, 1, 2], [1, 0, 2, 1]]), np.full((3, 2), float(i)))
        for i in range(6)
    ]
    return {
        "tabular": (digits, {}),
        "image": (digits.reshape(-1, 8, 8).astype(np.uint8), {}),
        "graph": (graphs, {}),
    }


@pytest.mark.parametrize("name", ["tabular", "image", "graph"])
def test_built_ins_touch_only_the_protocol(name):
    X, params = _inputs()[name]
    modality = get_modality(name)
    estimator = Recording(**params).start_recording()
    modality.prepare(estimator, X, reset=True)
    modality.prepare(estimator, X, reset=False)
    modality.encoder_size_kwargs(estimator)
    modality.default_encoder(estimator)
    modality.default_augmentation(estimator)
    touched = estimator._touched
    assert "n_features_in_" in touched
    assert touched <= PROTOCOL_MEMBERS, touched - PROTOCOL_MEMBERS
    assert set(modality.fitted_attributes) <= PROTOCOL_MEMBERS


def test_the_estimator_declares_what_the_protocol_lists():
    hints = typing.get_type_hints(RobustContrastiveEmbedder)
    for name, hint in typing.get_type_hints(ModalityHost).items():
        assert hints[name] == hint, name


def test_modality_methods_are_typed_with_the_protocol():
    for method in ("prepare", "encoder_size_kwargs", "default_encoder"):
        hints = typing.get_type_hints(getattr(Modality, method))
        assert hints["estimator"] is ModalityHost


# -- a refit forgets the previous input's description ---------------------------------
def test_refit_on_another_modality_forgets_the_old_description():
    import pandas as pd

    digits = load_digits().data[:40]
    emb = RobustContrastiveEmbedder(**FAST).fit(digits.reshape(-1, 8, 8))
    assert emb.image_shape_ == (1, 8, 8) and emb.input_dtype_ == "float64"
    emb.fit(pd.DataFrame(digits[:, :5], columns=list("abcde")))
    assert emb.modality_ == "tabular"
    for stale in ("image_shape_", "input_dtype_", "input_range_"):
        assert not hasattr(emb, stale), stale
    assert list(emb.feature_names_in_) == list("abcde")
    emb.fit([GRAPH, GRAPH, GRAPH])
    assert not hasattr(emb, "feature_names_in_") and emb.n_features_in_ == 3


# -- the worked example of the user guide -----------------------------------------
def _code_blocks(rst: str, section: str) -> list[str]:
    """The ``code-block:: python`` blocks of one section, dedented."""
    start = rst.index(f"\n{section}\n")
    following = re.search(r"\n[^\n]+\n=+\n", rst[start + len(section) + 2 :])
    end = start + len(section) + 2 + following.start() if following else len(rst)
    blocks = re.findall(
        r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", rst[start:end] + "\n"
    )
    return ["\n".join(line[3:] for line in b.splitlines()) for b in blocks]


def test_custom_modality_example_runs_and_learns():
    blocks = _code_blocks(
        (DOCS / "user_guide" / "custom.rst").read_text(), "A custom modality"
    )
    assert len(blocks) == 2
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, "custom.rst", "exec"), namespace)
        emb, Z = namespace["emb"], namespace["Z"]
        docs, topics = namespace["docs"], namespace["topics"]
        assert emb.modality_ == "tokens" and emb.n_features_in_ == 300
        assert Z.shape == (300, 16) and np.isfinite(Z).all()
        assert namespace["accuracy"] > 0.95  # chance is about 0.5
        # training made the difference: one epoch is far from it
        one_epoch = clone(emb).set_params(max_epochs=1).fit_transform(docs)
        probe = cross_val_score(LogisticRegression(), one_epoch, topics, cv=5)
        assert probe.mean() < namespace["accuracy"] - 0.1
        # transform checks the input against the fit
        with pytest.raises(ValueError, match="Token id 400 was not seen"):
            emb.transform([[1, 2, 400]])
        # the same seed gives the same embedding
        np.testing.assert_array_equal(clone(emb).fit_transform(docs), Z)
    finally:
        if "tokens" in modality_names():
            unregister_modality("tokens")
