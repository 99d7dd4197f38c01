"""The memory of a training step, measured before training (huge images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rince_sklearn import RobustContrastiveEmbedder, _memory
from rince_sklearn.encoders import ConvEncoder


def test_small_samples_are_not_measured(monkeypatch):
    calls = []
    monkeypatch.setattr(_memory, "_saved_bytes", lambda *a: calls.append(a) or 0)
    encoder = ConvEncoder(in_channels=1)
    assert _memory.check_step_memory(encoder, torch.zeros(1, 1, 28, 28), 256) is None
    assert calls == []


def test_the_estimate_counts_what_autograd_saves():
    encoder = torch.nn.Sequential(torch.nn.Linear(1000, 1000), torch.nn.ReLU())
    saved = _memory._saved_bytes(encoder, torch.zeros(1, 1000))
    # the Linear keeps its input (and weight) and the ReLU its output
    assert 2 * 4000 <= saved <= 4000 * 3 + 4 * 1000 * 1000 * 2


def test_a_fit_on_huge_images_is_refused_with_what_to_do(monkeypatch):
    """Two 1024 x 1024 images: gigabytes a step; a 1 GiB machine refuses."""
    monkeypatch.setattr(_memory, "physical_memory", lambda: 2**30)
    X = np.zeros((2, 1024, 1024), dtype=np.float32)
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="batch_size.*downsample"):
        emb.fit(X)
    assert not hasattr(emb, "net_")  # the estimator is left as it was


def test_a_large_step_is_warned_about(monkeypatch):
    monkeypatch.setattr(_memory, "physical_memory", lambda: 64 * 2**30)
    monkeypatch.setattr(_memory, "WARN_BYTES", 2**20)
    encoder = ConvEncoder(in_channels=3)
    with pytest.warns(ResourceWarning, match="GiB"):
        estimate = _memory.check_step_memory(encoder, torch.zeros(1, 3, 256, 256), 8)
    assert estimate > 2**20
