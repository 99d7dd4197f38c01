"""The classes of ``rince_sklearn.losses`` and ``rince_sklearn.distributed`` keep
their names.

Both were single modules and are packages of private modules now. A class's
``module:qualname`` is what saved models (``save``) and pickles hold, so every
public class must still be named after the package (``rince_sklearn.losses:
RINCELoss``), not after the private module that defines it: files and pickles
written before the split load, and those written now load in later versions
whatever file the class moves to.
"""

from __future__ import annotations

import importlib
import json
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import rince_sklearn.distributed as distributed
import rince_sklearn.losses as losses
from rince_sklearn import InfoNCELoss, RINCELoss, RobustContrastiveEmbedder
from rince_sklearn._persistence import ClassAllowList
from rince_sklearn.distributed import (
    DistributedEmbedder,
    GatheredBatchNorm1d,
    GatheredBatchNorm2d,
    GatheredBatchNorm3d,
)

SMALL = {"max_epochs": 1, "embedding_dim": 4, "projection_dim": 4, "random_state": 0}


def _public_classes():
    for package in (losses, distributed):
        for name in package.__all__:
            obj = getattr(package, name)
            if isinstance(obj, type):
                yield pytest.param(package.__name__, name, obj, id=f"{name}")


@pytest.mark.parametrize("module, name, cls", list(_public_classes()))
def test_a_public_class_is_named_after_its_package(module, name, cls):
    assert (cls.__module__, cls.__qualname__) == (module, name)
    assert getattr(importlib.import_module(cls.__module__), cls.__qualname__) is cls
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_saved_files_may_name_the_classes_by_their_package_paths():
    allow = ClassAllowList()
    named = {
        "rince_sklearn.losses:RINCELoss": RINCELoss,
        "rince_sklearn.losses:InfoNCELoss": InfoNCELoss,
        "rince_sklearn.distributed:GatheredBatchNorm1d": GatheredBatchNorm1d,
        "rince_sklearn.distributed:GatheredBatchNorm2d": GatheredBatchNorm2d,
        "rince_sklearn.distributed:GatheredBatchNorm3d": GatheredBatchNorm3d,
    }
    for path, cls in named.items():
        assert allow.get(path, nn.Module, "the test") is cls


def test_a_file_that_names_a_loss_class_by_its_package_path_loads(wine, tmp_path):
    X, _ = wine
    emb = RobustContrastiveEmbedder(loss=RINCELoss, **SMALL).fit(X)
    emb.save(tmp_path / "rince.pt")
    payload = torch.load(tmp_path / "rince.pt", map_location="cpu", weights_only=True)
    params = json.loads(payload["params"])
    assert params["loss"] == {"__class__": "rince_sklearn.losses:RINCELoss"}
    # the other loss class, as a file of any version names it
    params["loss"] = {"__class__": "rince_sklearn.losses:InfoNCELoss"}
    payload["params"] = json.dumps(params)
    torch.save(payload, tmp_path / "infonce.pt")
    loaded = RobustContrastiveEmbedder.load(tmp_path / "infonce.pt")
    assert loaded.loss is InfoNCELoss
    np.testing.assert_array_equal(loaded.transform(X), emb.transform(X))


def test_a_pickled_distributed_embedder_names_only_the_package(wine):
    X, _ = wine
    emb = DistributedEmbedder(encoder_kwargs={"hidden_dims": (8,)}, **SMALL).fit(X)
    assert any(isinstance(m, GatheredBatchNorm1d) for m in emb.net_.module_.modules())
    data = pickle.dumps(emb)
    assert b"rince_sklearn.distributed._" not in data  # no private module path
    assert b"rince_sklearn.losses._" not in data
    np.testing.assert_array_equal(pickle.loads(data).transform(X), emb.transform(X))
