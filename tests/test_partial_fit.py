"""partial_fit: one pass per call, state carried over, data streamed in chunks."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder

PARAMS = dict(
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"hidden_dims": (32,)},
    batch_size=64,
    random_state=0,
    # the equalities with fit below hold at a constant learning rate: fit's
    # default schedule decays over its known number of epochs, partial_fit's
    # cannot (tests/test_schedule.py checks what the schedule does in each)
    lr_schedule=None,
)


@pytest.fixture(scope="module")
def X():
    data, _ = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(data).astype(np.float32)


def test_k_calls_equal_fit_with_k_epochs(X):
    fitted = RobustContrastiveEmbedder(max_epochs=3, **PARAMS).fit(X)
    streamed = RobustContrastiveEmbedder(**PARAMS)
    for _ in range(3):
        assert streamed.partial_fit(X) is streamed
    # same net, optimiser state, shuffling and augmentation streams: identical
    np.testing.assert_array_equal(streamed.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(
        streamed.history_[:, "train_loss"], fitted.history_[:, "train_loss"]
    )


def test_partial_fit_after_fit_continues_the_fitted_model(X):
    three = RobustContrastiveEmbedder(max_epochs=3, **PARAMS).fit(X)
    two_then_one = RobustContrastiveEmbedder(max_epochs=2, **PARAMS).fit(X)
    net = two_then_one.net_
    two_then_one.partial_fit(X)
    assert two_then_one.net_ is net  # continued, not rebuilt
    np.testing.assert_array_equal(two_then_one.transform(X), three.transform(X))
    assert len(two_then_one.history_) == 3


def test_fit_after_partial_fit_starts_afresh(X):
    est = RobustContrastiveEmbedder(max_epochs=2, **PARAMS)
    est.partial_fit(X)
    est.partial_fit(X)
    est.fit(X)
    fresh = RobustContrastiveEmbedder(max_epochs=2, **PARAMS).fit(X)
    np.testing.assert_array_equal(est.transform(X), fresh.transform(X))
    assert len(est.history_) == 2


def test_chunks_are_one_epoch_each_and_reproducible(X):
    chunks = np.array_split(X, 4)

    def stream():
        est = RobustContrastiveEmbedder(**PARAMS)
        for chunk in chunks:
            est.partial_fit(chunk)
        return est

    first, second = stream(), stream()
    assert len(first.history_) == len(chunks)
    # chunks of 142 or 143 rows in batches of 64: one pass is 2 full batches
    # (the remainder of 14 or 15 rows is left out, different rows every pass)
    assert [len(epoch["batches"]) for epoch in first.history_] == [2, 2, 2, 2]
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    # the batch size is not capped by the first chunk
    assert first.batch_size_ == first.net_.batch_size == PARAMS["batch_size"]


def test_streamed_chunks_learn(X):
    # several passes of small chunks, as out-of-core data would arrive
    y = load_breast_cancer(return_X_y=True)[1]
    est = RobustContrastiveEmbedder(**PARAMS)
    for _ in range(6):
        for chunk in np.array_split(X, 5):
            est.partial_fit(chunk)
    Z = est.transform(X)
    acc = cross_val_score(LogisticRegression(max_iter=2000), Z, y, cv=3).mean()
    assert acc > 0.9, acc
    losses = est.history_[:, "train_loss"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_memmap_chunks_stream_from_disk(X, tmp_path):
    path = tmp_path / "X.f32"
    X.tofile(path)
    disk = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    from_disk = RobustContrastiveEmbedder(**PARAMS)
    in_memory = RobustContrastiveEmbedder(**PARAMS)
    for start in range(0, len(X), 200):
        from_disk.partial_fit(disk[start : start + 200])
        in_memory.partial_fit(X[start : start + 200])
    np.testing.assert_array_equal(from_disk.transform(X), in_memory.transform(X))


def test_different_number_of_features_is_refused(X):
    est = RobustContrastiveEmbedder(**PARAMS).partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :5])
    assert est.n_features_in_ == X.shape[1]


def test_chunk_of_one_sample_is_refused(X):
    est = RobustContrastiveEmbedder(**PARAMS).partial_fit(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        est.partial_fit(X[:1])
    with pytest.raises(ValueError, match="2 samples|minimum of 2"):
        RobustContrastiveEmbedder(**PARAMS).partial_fit(X[:1])


def test_parameters_are_validated_on_first_call(X):
    with pytest.raises(ValueError, match="q"):
        RobustContrastiveEmbedder(q=2.0).partial_fit(X)
