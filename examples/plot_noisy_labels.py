"""
Noisy labels: supervised contrastive learning with RINCE
========================================================

With ``supervision="labels"``, :class:`~rince_sklearn.RobustContrastiveEmbedder`
uses the ``y`` of ``fit(X, y)``: an anchor's positives are its other view and
every view in the batch with the same label (supervised contrastive learning,
SupCon). When some labels are wrong, a same-label pair is a positive pair that
shares no information: a noisy view. The estimator's default keeps half of
each anchor's pull on its own other view, which no wrong label can make false
(``own_view_weight=0.5``); SupCon (``loss="infonce"``,
``own_view_weight=None``) spreads it evenly over all positives.

This example corrupts 40% of the training labels of scikit-learn's digits
(each replaced by a random other class; test labels stay clean) and compares,
with the same encoder and a logistic-regression probe fitted on the noisy
labels (its ``C`` chosen by cross-validation): supervised RINCE, SupCon, the
unsupervised embedding, and the same probe on the raw pixels. It runs in
about half a minute; the benchmark ``benchmarks/bench_label_noise.py`` does
the full study (longer training, several noise levels, seeds and data sets).
"""

# %%
# Data with noisy training labels
# -------------------------------
import matplotlib

matplotlib.use("Agg") if __name__ == "__main__" else None
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
rng = np.random.default_rng(0)
noisy = y_train.copy()
flip = rng.choice(len(noisy), int(0.4 * len(noisy)), replace=False)
noisy[flip] = (noisy[flip] + rng.integers(1, 10, len(flip))) % 10  # another class
print(f"{np.mean(noisy != y_train):.0%} of the training labels are wrong")

# %%
# Embedders, probed on the noisy labels
# -------------------------------------
# The probe is what a user would do: a linear classifier on the embedding,
# trained on the (noisy) labels available, scored on clean test labels. Its
# regularisation ``C`` is chosen by 3-fold cross-validation on the (noisy)
# training labels for each set of features: with wrong labels a fixed ``C=1``
# fits the noise, and which features suffer most from it would decide the
# ranking.


def probe(Z_train, Z_test):
    grid = {"C": np.logspace(-3, 2, 6)}
    model = make_pipeline(
        StandardScaler(), GridSearchCV(LogisticRegression(max_iter=2000), grid, cv=3)
    )
    return model.fit(Z_train, noisy).score(Z_test, y_test)


settings = {
    "RINCE, labels (q=1)": dict(supervision="labels", loss="rince", q=1.0),
    "RINCE, labels, equal weights": dict(
        supervision="labels", loss="rince", q=1.0, own_view_weight=None
    ),
    "SupCon (InfoNCE, labels)": dict(
        supervision="labels", loss="infonce", own_view_weight=None
    ),
    "RINCE, no labels": dict(supervision="none", loss="rince", q=0.5),
}
scores = {}
for name, params in settings.items():
    embedder = RobustContrastiveEmbedder(
        max_epochs=20, embedding_dim=32, device="cpu", random_state=0, **params
    ).fit(X_train, noisy)
    scores[name] = probe(embedder.transform(X_train), embedder.transform(X_test))
scores["raw pixels"] = probe(X_train, X_test)
for name, score in scores.items():
    print(f"{name:30s} {score:.3f}")

# %%
# The comparison
# --------------
# At this small scale (20 epochs, one seed) no embedding beats the raw
# pixels: with its ``C`` chosen by cross-validation, the probe on the 64
# pixels scored 0.896 when this was written, against 0.859-0.876 for the four
# embeddings (with a fixed ``C=1`` all five were within 0.843-0.852). The
# ranking of the embeddings varies with the seed and the training length; the
# benchmark (3 seeds, training until SupCon has memorised the noise) is the
# reference, and the user guide's "Noisy labels" page sums it up.
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(scores), list(scores.values()), color="tab:blue")
ax.set_xlim(min(scores.values()) - 0.05, 1.0)
ax.set_xlabel("test accuracy (probe trained on 40% wrong labels)")
fig.tight_layout()
plt.show()
