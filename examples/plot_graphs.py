"""
Embedding graphs: superpixel graphs of handwritten digits
=========================================================

:class:`~rince_sklearn.RobustContrastiveEmbedder` embeds whole graphs. Here each
of scikit-learn's 8x8 digit images becomes a graph of its SLIC superpixels
(:func:`~rince_sklearn.datasets.images_to_superpixel_graphs`): a node per
superpixel with its mean intensity and centroid, an edge between touching
superpixels. A GIN encoder is trained on the graphs with GraphCL's
augmentations and the RINCE loss, without labels; a logistic-regression probe
on the embedding then predicts the digit, and is compared with a probe on the
node features pooled per graph.

Graphs may also come as ``networkx`` graphs or torch_geometric ``Data``
objects, or from a TU dataset folder with
:func:`~rince_sklearn.datasets.load_tu_dataset`.
"""

# %%
# Images to graphs
# ----------------
import os

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.datasets import images_to_superpixel_graphs

torch.set_num_threads(min(2, torch.get_num_threads()))
digits = load_digits()
images = digits.images / 16  # intensities in [0, 1]
graphs = images_to_superpixel_graphs(images, n_segments=25)
y = digits.target
print(
    f"{len(graphs)} graphs, {np.mean([len(x) for _, x in graphs]):.1f} nodes and "
    f"{np.mean([e.shape[1] / 2 for e, _ in graphs]):.1f} edges on average"
)

# %%
# A few graphs drawn over their images: node positions are the superpixel
# centroids, node colours their mean intensity.
fig, axes = plt.subplots(1, 5, figsize=(10, 2.4))
for ax, i in zip(axes, range(5), strict=True):
    edges, x = graphs[i]
    rows, cols = x[:, 1] * 7, x[:, 2] * 7
    ax.imshow(images[i], cmap="gray_r", alpha=0.4)
    for a, b in edges.T:
        ax.plot([cols[a], cols[b]], [rows[a], rows[b]], color="tab:blue", lw=0.8)
    ax.scatter(cols, rows, c=x[:, 0], cmap="gray_r", edgecolors="tab:blue", s=40)
    ax.set_title(f"digit {y[i]}")
    ax.axis("off")
fig.tight_layout()

# %%
# Train the embedder and probe it
# -------------------------------
train, test = train_test_split(
    np.arange(len(graphs)), test_size=0.3, random_state=0, stratify=y
)
g_train, g_test = [graphs[i] for i in train], [graphs[i] for i in test]

embedder = RobustContrastiveEmbedder(
    max_epochs=30, batch_size=128, lr=3e-3, random_state=0
)
z_train = embedder.fit_transform(g_train)
z_test = embedder.transform(g_test)


def probe_accuracy(f_train, f_test):
    """Standardise, then a logistic regression with ``C`` chosen by 3-fold CV."""
    grid = {"C": np.logspace(-3, 2, 6)}
    model = make_pipeline(
        StandardScaler(), GridSearchCV(LogisticRegression(max_iter=3000), grid, cv=3)
    )
    return model.fit(f_train, y[train]).score(f_test, y[test])


def pooled(gs):
    return np.stack(
        [np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0)]) for _, x in gs]
    )


embedding_acc = probe_accuracy(z_train, z_test)
pooled_acc = probe_accuracy(pooled(g_train), pooled(g_test))
print(f"probe on the graph embedding:  {embedding_acc:.3f}")
print(f"probe on pooled node features: {pooled_acc:.3f}")
print(f"self-supervised retrieval score (test graphs): {embedder.score(g_test):.3f}")

# %%
# The test graphs' embedding (standardised), on its first two principal
# components.
points = PCA(n_components=2).fit_transform(StandardScaler().fit_transform(z_test))
fig, ax = plt.subplots(figsize=(5, 4.5))
scatter = ax.scatter(points[:, 0], points[:, 1], c=y[test], cmap="tab10", s=8)
ax.legend(*scatter.legend_elements(), title="digit", fontsize=7, loc="best")
ax.set_title("GIN embedding of superpixel graphs (PCA)")
fig.tight_layout()
plt.show()
