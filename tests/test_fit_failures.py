"""A fit that fails, or is interrupted, leaves a consistent estimator.

The fault matrix: a failing augmentation, encoder or callback, a diverging
model, and Ctrl-C (``KeyboardInterrupt``), each in a first ``fit`` (the
estimator stays unfitted), a refit (it stays exactly the previous model) and a
continued ``partial_fit`` (it stays exactly the previous model, random streams
included).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from rince_sklearn import RobustContrastiveEmbedder, TrainingDivergedError
from rince_sklearn.augment import Augmentation, MarginalCorruption

FAST = {
    "max_epochs": 3,
    "embedding_dim": 8,
    "projection_dim": 8,
    "batch_size": 32,
    "random_state": 0,
}


class FailingAugmentation(Augmentation):
    """SCARF views, until call ``fail_at`` raises."""

    def __init__(self, fail_at=5):
        self.fail_at = fail_at

    def augment(self, batch, generator=None):
        self.calls_ = getattr(self, "calls_", 0) + 1
        if self.calls_ >= self.fail_at:
            raise RuntimeError("augmentation failed")
        return MarginalCorruption(0.5)(batch, generator=generator)


class FailingEncoder(torch.nn.Module):
    """A linear encoder whose forward pass fails on its 5th call."""

    def __init__(self, in_features, embedding_dim):
        super().__init__()
        self.layer = torch.nn.Linear(in_features, embedding_dim)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls >= 5:
            raise RuntimeError("encoder failed")
        return self.layer(x)


class Raise(Callback):
    """Raise ``error`` at the end of batch ``at`` (counted from 1).

    ``error="ctrl-c"`` sends this process a SIGINT instead, as Ctrl-C does.
    """

    def __init__(self, error=RuntimeError, at=3):
        self.error = error
        self.at = at

    def on_train_begin(self, net, **kwargs):
        self.batches_ = 0

    def on_batch_end(self, net, **kwargs):
        self.batches_ += 1
        if self.batches_ != self.at:
            return
        if self.error == "ctrl-c":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises KeyboardInterrupt at once
        raise self.error("callback failed")


class InterruptingAugmentation(Augmentation):
    """Raises KeyboardInterrupt itself (not a callback asking to stop)."""

    def augment(self, batch, generator=None):
        raise KeyboardInterrupt


#: a process started in the background by a non-interactive shell ignores
#: SIGINT: there Ctrl-C cannot reach it, and the library keeps it ignored
SIGINT_IGNORED = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
needs_sigint = pytest.mark.skipif(
    SIGINT_IGNORED, reason="SIGINT is ignored in this process (a background job)"
)


def faults(names):
    """The FAULTS names as parameters, the Ctrl-C one skipped without SIGINT."""
    return [
        pytest.param(name, marks=needs_sigint) if name == "ctrl-c" else name
        for name in sorted(names)
    ]


FAULTS = {
    "augmentation": ({"augmentation": FailingAugmentation()}, RuntimeError),
    "encoder": ({"encoder": FailingEncoder}, RuntimeError),
    "callback": ({"callbacks": [Raise()]}, RuntimeError),
    "divergence": ({"lr": 1e8}, TrainingDivergedError),
    "ctrl-c": ({"callbacks": [Raise("ctrl-c")]}, KeyboardInterrupt),
    "KeyboardInterrupt in augmentation": (
        {"augmentation": InterruptingAugmentation()},
        KeyboardInterrupt,
    ),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 5)), rng.normal(size=(200, 7))


@pytest.mark.parametrize("fault", faults(FAULTS))
def test_failed_first_fit_leaves_the_estimator_unfitted(fault, data):
    X5, _ = data
    params, error = FAULTS[fault]
    emb = RobustContrastiveEmbedder(**FAST, **params)
    with pytest.raises(error):
        emb.fit(X5)
    assert not [k for k in vars(emb) if k.endswith("_") and not k.startswith("_")]
    with pytest.raises(NotFittedError):
        emb.transform(X5)


@pytest.mark.parametrize("fault", faults(FAULTS))
def test_failed_refit_leaves_the_previous_model(fault, data):
    X5, X7 = data
    params, error = FAULTS[fault]
    emb = RobustContrastiveEmbedder(**FAST).fit(X5)
    before = emb.transform(X5)
    attributes = dict(vars(emb))
    emb.set_params(**params)
    with pytest.raises(error):
        emb.fit(X7)  # another width: n_features_in_ would change
    assert vars(emb).keys() == attributes.keys()
    for name, value in attributes.items():
        if name.endswith("_"):
            assert getattr(emb, name) is value, name
    assert emb.n_features_in_ == 5 and len(emb.history_) == FAST["max_epochs"]
    np.testing.assert_array_equal(emb.transform(X5), before)


@pytest.mark.parametrize("fault", faults(["callback", "ctrl-c"]))
def test_failed_partial_fit_restores_weights_optimiser_and_streams(fault, data):
    X5, _ = data
    params, error = FAULTS[fault]
    emb = RobustContrastiveEmbedder(**FAST).fit(X5)
    twin = RobustContrastiveEmbedder(**FAST).fit(X5)
    before = emb.transform(X5)
    # the failing call trains some batches before it raises
    emb.net_.callbacks_.append(("raise", params["callbacks"][0]))
    params["callbacks"][0].on_train_begin(emb.net_)
    with pytest.raises(error):
        emb.partial_fit(X5)
    del emb.net_.callbacks_[-1]
    np.testing.assert_array_equal(emb.transform(X5), before)
    assert len(emb.history_) == FAST["max_epochs"]
    # the next call continues exactly as if the failed one never happened
    np.testing.assert_array_equal(
        emb.partial_fit(X5).transform(X5), twin.partial_fit(X5).transform(X5)
    )


@needs_sigint
def test_failed_first_partial_fit_leaves_the_estimator_unfitted(data):
    X5, _ = data
    emb = RobustContrastiveEmbedder(**FAST, callbacks=[Raise("ctrl-c")])
    with pytest.raises(KeyboardInterrupt):
        emb.partial_fit(X5)
    with pytest.raises(NotFittedError):
        emb.transform(X5)


@needs_sigint
def test_ctrl_c_stops_a_grid_search(data):
    X5, _ = data
    grid = GridSearchCV(
        RobustContrastiveEmbedder(**FAST, callbacks=[Raise("ctrl-c")]),
        {"q": [0.5, 1.0]},
        cv=2,
        error_score="raise",
    )
    with pytest.raises(KeyboardInterrupt):
        grid.fit(X5)
    # error_score=nan does not turn Ctrl-C into a failed fit either
    grid.set_params(error_score=np.nan)
    with pytest.raises(KeyboardInterrupt):
        grid.fit(X5)


def test_a_callback_may_still_stop_training_early(data):
    """skorch's idiom: a callback raises KeyboardInterrupt to end training."""
    X5, _ = data
    emb = RobustContrastiveEmbedder(**FAST, callbacks=[Stop()]).fit(X5)
    assert len(emb.history_) == 2
    emb.transform(X5)


class Stop(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt


def test_divergence_with_a_finite_loss_names_the_epoch(data):
    """A huge lr blows the weights up while the cosine-based loss stays finite."""
    X5, _ = data
    emb = RobustContrastiveEmbedder(**FAST, lr=1e8)
    with pytest.raises(TrainingDivergedError, match=r"in epoch 1\b.*lower lr"):
        emb.fit(X5)
