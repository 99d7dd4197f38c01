"""The learning-rate schedule: warmup then cosine in fit, no decay in partial_fit."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_wine

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.callbacks import WarmupCosineLR, warmup_cosine_factor

PARAMS = dict(
    embedding_dim=4,
    projection_dim=4,
    encoder_kwargs={"hidden_dims": (16,)},
    batch_size=32,  # wine: 178 rows, 5 equal batches per epoch (18 rows left out)
    lr=0.01,
    random_state=0,
)


@pytest.fixture(scope="module")
def X():
    return load_wine(return_X_y=True)[0]


def reference_factor(step, warmup, total, final):
    """The schedule written from its definition."""
    if step < warmup:
        return (step + 1) / warmup
    if total is None:
        return 1.0
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + (1 - final) * (1 + math.cos(math.pi * p)) / 2


@given(
    step=st.integers(0, 500),
    warmup=st.integers(0, 50),
    total=st.one_of(st.none(), st.integers(51, 400)),
    final=st.floats(0, 0.5),
)
def test_factor_matches_the_formula_and_stays_in_range(step, warmup, total, final):
    value = warmup_cosine_factor(step, warmup, total, final)
    assert value == pytest.approx(reference_factor(step, warmup, total, final))
    assert 0 < value <= 1 or (value == pytest.approx(final) and final == 0)


def test_factor_is_monotone_after_the_warmup():
    values = [warmup_cosine_factor(s, 10, 100) for s in range(120)]
    assert values[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert all(a >= b for a, b in zip(values[9:], values[10:], strict=False))
    assert values[-1] == 0.0


def test_fit_warms_up_and_decays_to_zero(X):
    emb = RobustContrastiveEmbedder(max_epochs=10, **PARAMS).fit(X)
    lrs = np.array(emb.history_[:, "lr"])  # the rate of each epoch's last step
    steps = 10 * 5
    warmup = round(0.1 * steps)  # 5 steps: the whole first epoch
    expected = [
        0.01 * reference_factor(5 * (e + 1) - 1, warmup, steps, 0.0) for e in range(10)
    ]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6, atol=1e-12)
    assert lrs[0] == pytest.approx(0.01) and 0 < lrs[-1] < 2e-3 * 0.01
    assert emb.lr == 0.01  # the parameter is not written back


def test_no_schedule_keeps_the_rate_constant(X):
    emb = RobustContrastiveEmbedder(max_epochs=3, lr_schedule=None, **PARAMS).fit(X)
    assert "lr" not in emb.history_[-1]
    groups = emb.net_.optimizer_.param_groups
    assert all(group["lr"] == 0.01 for group in groups)


def test_a_users_callback_replaces_the_default(X):
    emb = RobustContrastiveEmbedder(
        max_epochs=4,
        lr_schedule=None,
        callbacks=[WarmupCosineLR(warmup=0.0, max_epochs=4, final_lr_ratio=0.5)],
        **PARAMS,
    ).fit(X)
    lrs = emb.history_[:, "lr"]
    # its own schedule: 20 steps, no warmup, from 0.01 down towards 0.005
    assert lrs[-1] == pytest.approx(0.01 * reference_factor(19, 0, 20, 0.5))
    assert 0.005 < lrs[-1] < 0.0051
    names = [name for name, _ in emb.net_.callbacks_]
    assert "lr_schedule" not in names


def test_partial_fit_warms_up_once_then_holds_the_rate(X):
    emb = RobustContrastiveEmbedder(max_epochs=2, **PARAMS)
    lrs = []
    for _ in range(4):
        emb.partial_fit(X)
        lrs.append(emb.history_[-1, "lr"])
    # warmup over the first call (one step: 10% of 5 batches), then lr: the
    # decay of max_epochs=2 is not applied, so training never stalls
    assert lrs == pytest.approx([0.01] * 4)
    schedule = dict(emb.net_.callbacks_)["lr_schedule"]
    assert schedule.step_ == 4 * 5  # counted across calls, never restarted


def test_partial_fit_after_fit_continues_at_the_base_rate(X):
    emb = RobustContrastiveEmbedder(max_epochs=3, **PARAMS).fit(X)
    assert emb.history_[-1, "lr"] < 0.02 * 0.01  # the end of the cosine
    before = emb.transform(X)
    emb.partial_fit(X)
    assert emb.history_[-1, "lr"] == pytest.approx(0.01)
    assert not np.allclose(emb.transform(X), before)  # it did train


# -- QWarmup: RINCE's q rises from near-InfoNCE to its value ------------------------
def test_q_warmup_raises_q_linearly_then_gives_it_back():
    from sklearn.datasets import load_wine

    from rince_sklearn.callbacks import QWarmup

    X, _ = load_wine(return_X_y=True)
    seen = []

    class Spy(QWarmup):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            super().on_batch_begin(net, batch=batch, training=training, **kwargs)
            if training:
                seen.append(net.criterion_.q)

    emb = RobustContrastiveEmbedder(
        q=1.0,
        max_epochs=5,
        batch_size=64,  # 2 equal batches per epoch: 10 steps, 5 of warmup
        callbacks=[Spy(q_start=0.25, warmup=0.5)],
        random_state=0,
    ).fit(X)
    np.testing.assert_allclose(seen, [0.4, 0.55, 0.7, 0.85, 1.0, 1, 1, 1, 1, 1])
    assert emb.net_.criterion_.q == 1.0  # the loss's own q after training
    # partial_fit continues the count: no second warmup
    emb.partial_fit(X)
    assert seen[-2:] == [1.0, 1.0]
    # q at each epoch's last step: steps 2 and 4 of the warmup, then 1
    np.testing.assert_allclose(emb.history_[:, "q"], [0.55, 0.85, 1, 1, 1, 1])


def test_q_warmup_in_partial_fit_spans_the_first_call():
    from sklearn.datasets import load_wine

    from rince_sklearn.callbacks import QWarmup

    X, _ = load_wine(return_X_y=True)
    # max_epochs (200 for wine) means nothing to partial_fit: the warmup spans
    # half of the first call's 2 batches, then q is the loss's
    emb = RobustContrastiveEmbedder(
        q=1.0, batch_size=64, callbacks=[QWarmup(q_start=0.2, warmup=0.5)]
    )
    for _ in range(2):
        emb.partial_fit(X)
    warmup = dict(emb.net_.callbacks_)["QWarmup"]
    assert warmup.held_ and warmup.warmup_steps_ == 1
    assert emb.history_[:, "q"] == [1.0, 1.0]


def test_q_warmup_needs_a_loss_with_q_and_sane_settings():
    from sklearn.datasets import load_wine

    from rince_sklearn.callbacks import QWarmup

    X, _ = load_wine(return_X_y=True)
    with pytest.raises(TypeError, match="loss='rince'"):
        RobustContrastiveEmbedder(
            loss="infonce", max_epochs=1, callbacks=[QWarmup()]
        ).fit(X)
    for bad in ({"q_start": 0.0}, {"q_start": 1.5}, {"warmup": 0.0}):
        with pytest.raises(ValueError, match="must be in"):
            RobustContrastiveEmbedder(max_epochs=1, callbacks=[QWarmup(**bad)]).fit(X)
