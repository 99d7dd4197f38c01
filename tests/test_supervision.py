"""supervision="labels": labels checked, carried to the loss, used; loss registry."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import silhouette_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from rince_sklearn import RINCELoss, RobustContrastiveEmbedder, rince
from rince_sklearn._net import false_positive_pairing
from rince_sklearn.batching import BatchLoader, TensorSource
from rince_sklearn.losses import register_loss
from rince_sklearn.supervision import encode_labels


# -- encode_labels ------------------------------------------------------------------
def test_encode_labels_codes_classes_and_unlabelled_markers():
    assert encode_labels(np.array([5, -1, 5, 2]), 4).tolist() == [0, -1, 0, 1]
    assert encode_labels(["b", None, "a", "b"], 4).tolist() == [0, -1, 1, 0]
    assert encode_labels(np.array([1.0, 0.0, -1.0]), 3).tolist() == [0, 1, -1]
    assert encode_labels(np.array([[1], [2]]), 2).tolist() == [0, 1]  # a column
    assert encode_labels([-1, -1], 2).tolist() == [-1, -1]  # nothing labelled


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "needs labels"),
        (np.linspace(0, 1, 5), "continuous"),
        (np.array([[0, 1], [1, 0], [1, 1], [0, 0], [1, 0]]), "1-D y"),
        (np.array([0, 1, 0]), "3 labels but X has 5"),
    ],
)
def test_encode_labels_errors(y, match):
    with pytest.raises(ValueError, match=match):
        encode_labels(y, 5)


# -- labels travel with their samples ------------------------------------------
def test_loader_yields_each_sample_with_its_label():
    data = torch.arange(50.0)[:, None]
    source = TensorSource(data).with_labels(torch.arange(50) % 7)
    loader = BatchLoader(
        source, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    seen = 0
    for batch, labels in loader:
        assert labels.tolist() == (batch[:, 0].long() % 7).tolist()
        seen += len(labels)
    assert seen == 50
    with pytest.raises(ValueError, match="one entry per sample"):
        source.with_labels(torch.zeros(3, dtype=torch.long))


def test_pairing_moves_the_labels_with_the_second_views():
    emb = RobustContrastiveEmbedder(
        supervision="labels",
        noise_rate=0.5,
        augmentation=None,
        max_epochs=1,
        random_state=0,
    )
    X = np.random.default_rng(0).normal(size=(20, 3))
    net = emb.fit(X, np.arange(20) % 4).net_
    # z2's row i holds sample i's id; after the pairing, row i holds sample
    # index[i] and the label of that view must be index[i]'s label
    z2 = torch.arange(20.0)[:, None]
    labels = torch.arange(20) % 4
    state = net.augment_rng_.get_state()
    paired, view_labels = net.pair_views(z2, labels, training=True)
    net.augment_rng_.set_state(state)
    index = false_positive_pairing(20, 0.5, net.augment_rng_)
    assert paired[:, 0].long().tolist() == index.tolist()
    assert (index != torch.arange(20)).sum() == 10
    assert view_labels.shape == (40,)
    assert view_labels[:20].tolist() == labels.tolist()
    assert view_labels[20:].tolist() == (paired[:, 0].long() % 4).tolist()
    # outside training the pairs and labels are left alone
    same, same_labels = net.pair_views(z2, labels, training=False)
    assert torch.equal(same, z2) and torch.equal(same_labels, labels)


class RecordingRINCE(RINCELoss):
    """RINCE that records the labels it is given (a registered toy loss)."""

    seen: list = []

    def forward(self, z1, z2, labels=None):
        RecordingRINCE.seen.append(None if labels is None else labels.clone())
        return super().forward(z1, z2, labels=labels)


class AlignOnly(nn.Module):
    """A toy loss without labels: pulls the two views together, with a scale."""

    def __init__(self, temperature=1.0):
        super().__init__()
        self.temperature = temperature

    def forward(self, z1, z2):
        z1 = nn.functional.normalize(z1, dim=1)
        z2 = nn.functional.normalize(z2, dim=1)
        return -(z1 * z2).sum(dim=1).mean() / self.temperature


@pytest.fixture
def recording():
    register_loss("recording_rince", RecordingRINCE)
    RecordingRINCE.seen = []
    return RecordingRINCE


def test_labels_reach_the_loss_in_every_batch(recording):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    emb = RobustContrastiveEmbedder(
        loss="recording_rince",
        supervision="labels",
        batch_size=64,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert emb.net_.criterion_.q == emb.q  # built with the estimator's settings
    # 300 rows: 4 equal batches of 64 a pass (the last 44 rows left out)
    assert len(recording.seen) == 2 * 4
    epoch = torch.cat(recording.seen[:4])
    counts = np.bincount(epoch.numpy(), minlength=10)
    assert len(epoch) == 256 and (counts <= np.bincount(y)).all()  # no row twice
    # with plain shuffling, a batch of 64 over 10 classes holds many same-label
    # pairs: on average more than 5 other views of the anchor's class
    for labels in recording.seen:
        same = (labels[:, None] == labels[None, :]).sum(1) - 1
        assert same.float().mean() > 2


def test_unsupervised_fit_passes_no_labels(recording):
    X, y = load_digits(return_X_y=True)
    RobustContrastiveEmbedder(loss="recording_rince", max_epochs=1, random_state=0).fit(
        X[:100], y[:100]
    )
    assert recording.seen and all(labels is None for labels in recording.seen)


def test_a_registered_toy_loss_and_a_loss_class_train():
    register_loss("align_only", AlignOnly)
    X, _ = load_digits(return_X_y=True)
    for loss in ("align_only", AlignOnly):
        emb = RobustContrastiveEmbedder(
            loss=loss, temperature=0.5, max_epochs=3, random_state=0
        ).fit(X[:200])
        assert isinstance(emb.net_.criterion_, AlignOnly)
        assert emb.net_.criterion_.temperature == 0.5
        losses = emb.history_[:, "train_loss"]
        assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="takes no labels parameter"):
        RobustContrastiveEmbedder(loss=AlignOnly, supervision="labels").fit(
            X[:50], np.arange(50) % 3
        )


def test_the_loss_constraint_reads_the_registry_when_checked():
    X, _ = load_digits(return_X_y=True)
    emb = RobustContrastiveEmbedder(loss="late_loss", max_epochs=1)
    with pytest.raises(ValueError, match="late_loss"):
        emb.fit(X[:50])
    register_loss("late_loss", AlignOnly)
    assert emb.fit(X[:50]).net_.criterion_.__class__ is AlignOnly
    with pytest.raises(ValueError, match="must be a str among"):
        RobustContrastiveEmbedder(loss="never_registered").fit(X[:50])
    with pytest.raises(TypeError, match="subclass of torch.nn.Module"):
        RobustContrastiveEmbedder(loss=int).fit(X[:50])


# -- the estimator with labels -------------------------------------------
def test_supervision_needs_class_labels():
    X, y = load_digits(return_X_y=True)
    emb = RobustContrastiveEmbedder(supervision="labels", max_epochs=1)
    with pytest.raises(ValueError, match="needs labels"):
        emb.fit(X[:50])
    with pytest.raises(ValueError, match="continuous"):
        emb.fit(X[:50], np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="must be a str among"):
        RobustContrastiveEmbedder(supervision="yes").fit(X[:50], y[:50])


def test_labels_put_classes_together():
    # 20 epochs on digits: with labels, classes are tighter and better apart
    # (cosine silhouette of the test embeddings by class) and nearest
    # neighbours share a class more often than without (the feature would be
    # broken if labels were lost)
    X, y = load_digits(return_X_y=True)
    X_fit, X_test, y_fit, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    knn, silhouette = {}, {}
    for supervision in ("none", "labels"):
        emb = RobustContrastiveEmbedder(
            supervision=supervision,
            own_view_weight=None,  # every positive alike: the labels' full pull
            max_epochs=20,
            temperature=0.1,
            random_state=0,
        ).fit(X_fit, y_fit)
        Z_fit, Z_test = emb.transform(X_fit), emb.transform(X_test)
        knn[supervision] = (
            KNeighborsClassifier(5).fit(Z_fit, y_fit).score(Z_test, y_test)
        )
        silhouette[supervision] = silhouette_score(Z_test, y_test, metric="cosine")
    # measured with the 256-wide default embedding: silhouette 0.259 against
    # 0.211, kNN 0.965 against 0.956; since the tabular views draw from
    # column-shuffled donors (other random draws) kNN read 0.957 against
    # 0.959: one test digit of 540. The silhouette carries the claim; the kNN
    # accuracy must stay high and within 3 digits of the label-free one.
    assert silhouette["labels"] > silhouette["none"] + 0.025
    assert knn["labels"] > 0.95 and knn["labels"] >= knn["none"] - 3 / len(y_test)


def test_unlabelled_and_string_labels_and_noise_rate():
    X, y = load_digits(return_X_y=True)
    names = np.array(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
        ],
        dtype=object,
    )[y[:200]]
    names[::3] = None  # a third unlabelled
    emb = RobustContrastiveEmbedder(
        supervision="labels", noise_rate=0.3, max_epochs=2, random_state=0
    ).fit(X[:200], names)
    assert np.isfinite(emb.transform(X[:10])).all()
    # all unlabelled: the unsupervised loss (the supervised path sums in
    # another order, so the models drift apart by float rounding only)
    unlabelled = RobustContrastiveEmbedder(
        supervision="labels", max_epochs=2, random_state=0
    ).fit(X[:200], np.full(200, -1))
    plain = RobustContrastiveEmbedder(max_epochs=2, random_state=0).fit(X[:200])
    first = [e.history_[0, "batches", 0, "train_loss"] for e in (unlabelled, plain)]
    assert first[0] == pytest.approx(first[1], rel=1e-6)
    np.testing.assert_allclose(
        unlabelled.transform(X[:50]), plain.transform(X[:50]), atol=1e-2
    )


def test_partial_fit_with_labels_matches_fit():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    # a constant rate: partial_fit has no known end to decay towards
    fitted = RobustContrastiveEmbedder(
        supervision="labels",
        max_epochs=2,
        batch_size=64,
        lr_schedule=None,
        random_state=0,
    ).fit(X, y)
    streamed = RobustContrastiveEmbedder(
        supervision="labels", batch_size=64, lr_schedule=None, random_state=0
    )
    for _ in range(2):
        streamed.partial_fit(X, y)
    np.testing.assert_allclose(
        streamed.transform(X), fitted.transform(X), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="needs labels"):
        streamed.partial_fit(X)


def test_score_ignores_labels():
    X, y = load_digits(return_X_y=True)
    emb = RobustContrastiveEmbedder(
        supervision="labels", max_epochs=2, random_state=0
    ).fit(X[:200], y[:200])
    assert emb.score(X[:200]) == emb.score(X[:200], y[:200])


def test_images_and_graphs_with_labels(recording):
    X, y = load_digits(return_X_y=True)
    images = X[:64].reshape(-1, 8, 8).astype(np.float32)
    emb = RobustContrastiveEmbedder(
        loss="recording_rince",
        supervision="labels",
        max_epochs=1,
        embedding_dim=8,
        random_state=0,
    ).fit(images, y[:64])
    assert emb.modality_ == "image"
    assert sorted(torch.cat(recording.seen).tolist()) == sorted(
        encode_labels(y[:64], 64).tolist()
    )
    recording.seen = []
    rng = np.random.default_rng(0)
    graphs, labels = [], []
    for i in range(30):  # paths (label 0) and stars (label 1)
        n = int(rng.integers(3, 7))
        if i % 2:
            pairs = [(0, k) for k in range(1, n)]
        else:
            pairs = [(k, k + 1) for k in range(n - 1)]
        edges = np.array(pairs).T
        edges = np.concatenate([edges, edges[::-1]], axis=1)
        graphs.append((edges, np.ones((n, 2), dtype=np.float32)))
        labels.append(i % 2)
    emb = RobustContrastiveEmbedder(
        loss="recording_rince",
        supervision="labels",
        max_epochs=2,
        embedding_dim=8,
        random_state=0,
    ).fit(graphs, labels)
    assert emb.modality_ == "graph"
    assert torch.cat(recording.seen).sum() == 2 * 15  # both epochs, 15 stars each
    assert emb.transform(graphs).shape == (30, 8)


def test_save_and_load_keep_supervision(tmp_path):
    X, y = load_digits(return_X_y=True)
    emb = RobustContrastiveEmbedder(
        supervision="labels", max_epochs=1, random_state=0
    ).fit(X[:100], y[:100])
    emb.save(tmp_path / "emb.pt")
    loaded = RobustContrastiveEmbedder.load(tmp_path / "emb.pt", device="cpu")
    assert loaded.supervision == "labels"
    np.testing.assert_allclose(loaded.transform(X[:10]), emb.transform(X[:10]))


def test_supervised_loss_value_in_a_fit_step_matches_the_function():
    # the net hands the loss the batch's labels: one full batch, no shuffling
    # effect on the value, no augmentation, so the first recorded loss is
    # rince(z1, z2, labels=y) of the untrained module
    X, y = load_digits(return_X_y=True)
    X, y = X[:40].astype(np.float32), y[:40]
    emb = RobustContrastiveEmbedder(
        supervision="labels",
        augmentation=None,
        max_epochs=1,
        batch_size=40,
        random_state=0,
    )
    emb.fit(X, y)
    first = emb.history_[0, "batches", 0, "train_loss"]
    # rebuild the untrained module from the same seed
    emb2 = RobustContrastiveEmbedder(
        supervision="labels",
        augmentation=None,
        max_epochs=1,
        batch_size=40,
        random_state=0,
    )
    from rince_sklearn.modalities import get_modality

    modality = get_modality("tabular")
    source = modality.prepare(emb2, X, reset=True)
    emb2._initialize_training(modality, source)
    module = emb2.net_.module_.train()
    x = torch.tensor(X)
    z = module(x)
    want = rince(
        z,
        module(x),
        q=0.5,
        lam=0.01,
        temperature=0.5,
        labels=encode_labels(y, 40),
        own_view_weight=0.5,  # the estimator's default
    )
    assert first == pytest.approx(float(want.detach()), rel=1e-5)


def test_own_view_weight_reaches_the_loss_and_is_checked():
    X, y = load_digits(return_X_y=True)
    emb = RobustContrastiveEmbedder(
        supervision="labels", own_view_weight=0.5, max_epochs=1, random_state=0
    ).fit(X[:200], y[:200])
    assert emb.net_.criterion_.own_view_weight == 0.5
    supcon = RobustContrastiveEmbedder(
        loss="infonce", supervision="labels", own_view_weight=0.25, max_epochs=1
    ).fit(X[:200], y[:200])
    assert supcon.net_.criterion_.own_view_weight == 0.25
    # a weight of 1 trusts only the own view: the labels change nothing
    kwargs = {"max_epochs": 2, "random_state": 0, "lr_schedule": None}
    plain = RobustContrastiveEmbedder(**kwargs).fit(X[:200])
    own_only = RobustContrastiveEmbedder(
        supervision="labels", own_view_weight=1.0, **kwargs
    ).fit(X[:200], y[:200])
    # (the same losses up to rounding, which training then amplifies a little)
    got, want = own_only.history_[:, "train_loss"], plain.history_[:, "train_loss"]
    np.testing.assert_allclose(got, want, rtol=1e-3)
    np.testing.assert_allclose(
        own_only.transform(X[:50]), plain.transform(X[:50]), atol=1e-2
    )
    with pytest.raises(ValueError, match="own_view_weight"):
        RobustContrastiveEmbedder(own_view_weight=1.5).fit(X[:50])
