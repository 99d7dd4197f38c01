"""
Tuning ``q`` and ``lam`` with ``GridSearchCV``, with and without labels
========================================================================

RINCE has two parameters of its own: ``q`` (from InfoNCE-like at small values
to the most noise-robust form at 1) and ``lam`` (the weight of the partition
term). This example searches a 3 x 3 grid of them twice on scikit-learn's
breast-cancer data and draws both searches as heatmaps:

* **without labels**, ``GridSearchCV`` ranks the embedders by their own
  :meth:`~rince_sklearn.RobustContrastiveEmbedder.score`: how well two
  augmented views of a held-out sample find each other (a retrieval AUC, 0.5 is
  chance); and
* **with labels**, the embedder is the first step of a
  :class:`~sklearn.pipeline.Pipeline` with a logistic regression, and the grid
  is ranked by cross-validated accuracy.
"""

# %%
# Data and the grid
# -----------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from rince_sklearn import RobustContrastiveEmbedder

X, y = load_breast_cancer(return_X_y=True)
qs = [0.1, 0.5, 1.0]
lams = [0.001, 0.01, 0.1]
cv = KFold(n_splits=3, shuffle=True, random_state=0)  # the same folds for both
embedder = RobustContrastiveEmbedder(
    embedding_dim=16, projection_dim=16, max_epochs=10, random_state=0
)

# %%
# Without labels: the embedder's own score
# ----------------------------------------
# ``fit(X)`` without ``y``: each candidate is trained on two folds and scored
# on the third by the retrieval AUC of augmented views. The score does not
# depend on ``q``, ``lam`` or ``temperature`` themselves, so it compares models
# trained with different losses fairly.
unsupervised = GridSearchCV(embedder, {"q": qs, "lam": lams}, cv=cv, refit=False)
unsupervised.fit(X)
print("best without labels:", unsupervised.best_params_)

# %%
# With labels: downstream accuracy of a Pipeline
# ----------------------------------------------
# The step's parameters are addressed as ``<step name>__<parameter>``. The
# logistic regression chooses its own ``C`` by an inner 3-fold
# cross-validation on each training part, so that every ``(q, lam)`` is judged
# with the regularisation that suits its embedding.
probe = GridSearchCV(
    LogisticRegression(max_iter=1000), {"C": np.logspace(-3, 2, 6)}, cv=3
)
pipe = make_pipeline(embedder, probe)
supervised = GridSearchCV(
    pipe,
    {"robustcontrastiveembedder__q": qs, "robustcontrastiveembedder__lam": lams},
    cv=cv,
    refit=False,  # only the table of scores is needed here
)
supervised.fit(X, y)
print("best with labels:", supervised.best_params_)
print(f"best cross-validated accuracy: {supervised.best_score_:.3f}")


# %%
# The two heatmaps
# ----------------
# ``cv_results_`` lists the candidates in the order of ``ParameterGrid``, which
# sorts the parameter names; we look each ``(q, lam)`` up explicitly rather than
# relying on that order.
def score_table(search, prefix=""):
    """Return the mean test scores as a (len(qs), len(lams)) array."""
    table = np.empty((len(qs), len(lams)))
    params = search.cv_results_["params"]
    scores = search.cv_results_["mean_test_score"]
    for p, s in zip(params, scores, strict=True):
        table[qs.index(p[prefix + "q"]), lams.index(p[prefix + "lam"])] = s
    return table


tables = {
    "retrieval AUC (no labels)": score_table(unsupervised),
    "accuracy (labels)": score_table(supervised, "robustcontrastiveembedder__"),
}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for ax, (title, table) in zip(axes, tables.items(), strict=True):
    image = ax.imshow(table, cmap="viridis")
    middle = (table.min() + table.max()) / 2
    for i in range(len(qs)):
        for j in range(len(lams)):
            colour = "black" if table[i, j] > middle else "white"
            ax.text(j, i, f"{table[i, j]:.3f}", ha="center", va="center", c=colour)
    ax.set_xticks(range(len(lams)), [str(v) for v in lams])
    ax.set_yticks(range(len(qs)), [str(v) for v in qs])
    ax.set_xlabel("lam")
    ax.set_ylabel("q")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
fig.tight_layout()
plt.show()

# %%
# The two criteria need not agree: the retrieval score measures how invariant
# the embedding is to the augmentation, the accuracy how well it separates the
# classes. Use the labelled search when labels exist for the task at hand, and
# the unlabelled one to pick sensible settings before any labels do.
