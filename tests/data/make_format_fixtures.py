"""Write the stored files of each saved-model format version (run once).

``python tests/data/make_format_fixtures.py`` writes, next to this script:

* ``format_v2.pt``: a small tabular model fitted on wine and saved by
  ``save()`` (format version 2, the current one), with an augmentation
  object and a class-valued parameter (the optimiser);
* ``format_v1.pt``: the same model in format version 1, as version 0.1 wrote
  it: classes as ``{"__import__": path}``, no ``library_version`` or
  ``augmentation_state`` entries, no fitted ``lr_``/``temperature_``/
  ``max_epochs_``/``encoder_kwargs_``/``embedding_dim_`` (its parameters were
  its settings), no ``own_view_weight`` parameter;
* ``format_embedding.npy``: the model's embedding of the first 20 rows of wine.

The files are committed: ``tests/test_persistence.py`` loads each with the
current code and compares the embeddings, so a change that stops an old file
from loading fails there. Never regenerate a fixture of an old version with
new code; add a file for a new version instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_wine

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import GaussianNoise

HERE = Path(__file__).resolve().parent


def main() -> None:
    X, _ = load_wine(return_X_y=True)
    emb = RobustContrastiveEmbedder(
        max_epochs=3,
        lr=0.01,
        temperature=0.5,
        embedding_dim=8,
        projection_dim=8,
        encoder_kwargs={"hidden_dims": [16, 16]},
        optimizer=torch.optim.AdamW,
        augmentation=GaussianNoise(0.2),
        random_state=0,
    ).fit(X)
    emb.save(HERE / "format_v2.pt")
    np.save(HERE / "format_embedding.npy", emb.transform(X[:20]))

    raw = torch.load(HERE / "format_v2.pt", weights_only=True)
    params = json.loads(raw["params"])
    params["optimizer"] = {"__import__": params["optimizer"]["__class__"]}
    del params["own_view_weight"]
    fitted = json.loads(raw["fitted"])
    for name in ("lr_", "temperature_", "max_epochs_", "encoder_kwargs_",
                 "embedding_dim_"):  # fmt: skip
        del fitted[name]
    v1 = {
        "format": raw["format"],
        "format_version": 1,
        "params": json.dumps(params),
        "fitted": json.dumps(fitted),
        "history": raw["history"],
        "state_dict": raw["state_dict"],
    }
    torch.save(v1, HERE / "format_v1.pt")


if __name__ == "__main__":
    main()
