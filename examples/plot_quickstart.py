"""
Quickstart: a robust contrastive embedding in a scikit-learn Pipeline
=====================================================================

:class:`~rince_sklearn.RobustContrastiveEmbedder` learns an embedding without
labels, with the RINCE loss. Here it feeds a logistic regression in a Pipeline;
``GridSearchCV`` tunes RINCE's ``q`` and ``lam`` by the downstream accuracy, and
the result is compared with the raw features and with PCA of the same width, on
a held-out split of scikit-learn's wine data.

Run it with ``python examples/plot_quickstart.py`` (about half a minute on a
laptop CPU).
"""

# %%
# Data: 178 wines, 13 chemical measurements, 3 cultivars.
import matplotlib

matplotlib.use("Agg") if __name__ == "__main__" else None
import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)

# %%
# The Pipeline and the grid over RINCE's parameters. ``q`` near 0 behaves like
# InfoNCE; ``q = 1`` is the most robust to noisy views.
embedder = RobustContrastiveEmbedder(embedding_dim=16, max_epochs=30, random_state=0)
pipe = make_pipeline(embedder, StandardScaler(), LogisticRegression(max_iter=1000))
grid = GridSearchCV(
    pipe,
    {
        "robustcontrastiveembedder__q": [0.1, 0.5, 1.0],
        "robustcontrastiveembedder__lam": [0.001, 0.01, 0.1],
    },
    cv=3,
)
grid.fit(X_train, y_train)
print("best parameters:", grid.best_params_)

# %%
# Downstream accuracy on the held-out half, against two baselines of the same
# probe: the raw (standardised) features and PCA to the embedding's width.
probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
results = {
    "raw features (13)": probe.fit(X_train, y_train).score(X_test, y_test),
    "PCA (13 -> 8)": make_pipeline(
        StandardScaler(), PCA(8), LogisticRegression(max_iter=1000)
    )
    .fit(X_train, y_train)
    .score(X_test, y_test),
    "RINCE embedding (16), tuned": grid.score(X_test, y_test),
}
print(f"\n{'features':32s} test accuracy")
for name, accuracy in results.items():
    print(f"{name:32s} {accuracy:.3f}")

# %%
# The grid's cross-validated accuracy for every ``(q, lam)``.
scores = grid.cv_results_["mean_test_score"].reshape(3, 3)
fig, ax = plt.subplots(figsize=(4.5, 3.5))
image = ax.imshow(scores, cmap="viridis")
ax.set_xticks(range(3), ["0.001", "0.01", "0.1"])
ax.set_yticks(range(3), ["0.1", "0.5", "1.0"])
ax.set_xlabel("lam")
ax.set_ylabel("q")
ax.set_title("CV accuracy of the Pipeline")
fig.colorbar(image, ax=ax)
fig.tight_layout()
