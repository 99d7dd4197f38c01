"""
Training curves from ``history_``
=================================

A fitted :class:`~rince_sklearn.RobustContrastiveEmbedder` keeps skorch's
training history in ``history_``: one row per epoch with the mean training
loss (``"train_loss"``), its duration (``"dur"``) and one entry per batch. This
example trains the embedder on scikit-learn's digits with InfoNCE and with
RINCE at three values of ``q``, draws the curves, and uses early stopping
(``n_iter_no_change``) on the training loss.
"""

# %%
# Four embedders, one per loss
# ----------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from rince_sklearn import RobustContrastiveEmbedder

X, y = load_digits(return_X_y=True)
X = X[:600]  # a subset keeps the example fast
settings = {
    "InfoNCE": {"loss": "infonce"},
    "RINCE q=0.1": {"q": 0.1},
    "RINCE q=0.5": {"q": 0.5},
    "RINCE q=1.0": {"q": 1.0},
}
fitted = {
    name: RobustContrastiveEmbedder(
        **params, embedding_dim=16, max_epochs=25, batch_size=128, random_state=0
    ).fit(X)
    for name, params in settings.items()
}

# %%
# Reading the history
# -------------------
# ``history_[:, "train_loss"]`` slices one column over all epochs; a batch-level
# value is read as ``history_[epoch, "batches", batch, "train_loss"]``.
history = fitted["RINCE q=0.5"].history_
print(
    "epochs:", len(history), "- batches in the first epoch:", len(history[0, "batches"])
)
print("first and last epoch loss:", history[0, "train_loss"], history[-1, "train_loss"])
print(f"mean epoch duration: {np.mean(history[:, 'dur']):.3f} s")

# %%
# Losses on different scales
# --------------------------
# RINCE's value depends on ``q`` (at ``q = 1`` it is a difference of
# similarities, and it is not bounded below by 0) and differs from InfoNCE's,
# so each curve gets its own scale.
fig, axes = plt.subplots(1, 4, figsize=(11, 2.8), sharex=True)
for ax, (name, model) in zip(axes, fitted.items(), strict=True):
    loss = model.history_[:, "train_loss"]
    ax.plot(np.arange(1, len(loss) + 1), loss)
    ax.set_title(name)
    ax.set_xlabel("epoch")
axes[0].set_ylabel("training loss")
fig.tight_layout()
plt.show()

# %%
# sphinx_gallery_thumbnail_number = 2
#
# On a common scale, as the fraction of each curve's total decrease, the four
# losses train at much the same pace on clean data; their difference shows when
# views are noisy (see the noisy-views example).
fig, ax = plt.subplots(figsize=(4.8, 3.4))
for name, model in fitted.items():
    loss = np.asarray(model.history_[:, "train_loss"])
    ax.plot(np.arange(1, len(loss) + 1), (loss[0] - loss) / (loss[0] - loss.min()))
    ax.lines[-1].set_label(name)
ax.set_xlabel("epoch")
ax.set_ylabel("fraction of the total decrease")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Early stopping on the training loss
# -----------------------------------
# With ``n_iter_no_change=k``, training stops once the epoch loss has not
# improved by at least ``tol`` for ``k`` epochs. ``max_epochs`` is then only an
# upper bound; ``len(history_)`` says how many epochs ran. With the same
# ``random_state``, the epochs that run are exactly those of the ``q=0.5`` model
# above.
early = RobustContrastiveEmbedder(
    embedding_dim=16,
    max_epochs=200,
    batch_size=128,
    n_iter_no_change=3,
    tol=1e-3,
    random_state=0,
).fit(X)
loss = early.history_[:, "train_loss"]
print(f"stopped after {len(loss)} of 200 epochs")

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot(np.arange(1, len(loss) + 1), loss, marker="o", markersize=3)
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (RINCE, q=0.5)")
ax.set_title("Early stopping with n_iter_no_change=3")
fig.tight_layout()
plt.show()
