"""
Images: a contrastive embedding of handwritten digits
=====================================================

:class:`~rince_sklearn.RobustContrastiveEmbedder` reads images as
``(n, H, W)`` or ``(n, C, H, W)`` arrays (or flat rows with ``image_shape``),
trains a small convolutional network on pairs of randomly augmented views of
each image with the RINCE loss, and returns one vector per image. Here it
embeds scikit-learn's 8x8 digits without their labels; a 2-D map of the
embedding is coloured by class, and a linear probe (logistic regression) on
the embedding is compared with one on the raw pixels.

The same code runs on Fashion-MNIST once its files are on disk
(``rince_sklearn.datasets.load_fashion_mnist``); see
``benchmarks/bench_images.py``. Run this example with
``python examples/plot_images.py`` (about 20 seconds on a laptop CPU).
"""

# %%
# Data: 1,797 grey images of 8x8 pixels, values 0 to 16, ten digits.
import os

import matplotlib

if not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import default_image_augmentation

digits = load_digits()
images = digits.images.astype(np.float32)  # (1797, 8, 8)
X_train, X_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.4, stratify=digits.target, random_state=0
)

# %%
# The views. Each training step sees two random views of every image: a random
# crop resized back to 8x8, brightness and contrast jitter and a light blur,
# drawn independently per image. Horizontal flips are left out, since a
# mirrored digit is another symbol. Crops that keep little of the image
# (a small ``crop_scale``) make views that share little: noisy views.
augmentation = default_image_augmentation(crop_scale=(0.35, 1.0), flip=False)
generator = torch.Generator().manual_seed(0)
batch = torch.from_numpy(np.repeat(X_train[:1], 8, axis=0))  # one image, 8 times
views = augmentation(batch, generator=generator).numpy()

fig, axes = plt.subplots(1, 9, figsize=(9, 1.3))
axes[0].imshow(X_train[0], cmap="gray_r")
axes[0].set_title("image", fontsize=8)
for ax, view in zip(axes[1:], views, strict=True):
    ax.imshow(view, cmap="gray_r")
for ax in axes:
    ax.set_axis_off()
fig.suptitle("eight random views of one digit", fontsize=9)

# %%
# Fit the embedder on the training images (no labels), then embed both splits.
embedder = RobustContrastiveEmbedder(
    embedding_dim=32, max_epochs=30, augmentation=augmentation, random_state=0
)
Z_train = embedder.fit_transform(X_train)
Z_test = embedder.transform(X_test)
print("image shape read from the input:", embedder.image_shape_)
print("embedding:", Z_train.shape)


# %%
# Linear probes: the same logistic regression on the embedding and on the
# 64 raw pixels, each with its regularisation ``C`` chosen by 3-fold
# cross-validation on the training split.
def probe(train, test):
    grid = {"C": np.logspace(-3, 2, 6)}
    model = make_pipeline(
        StandardScaler(), GridSearchCV(LogisticRegression(max_iter=2000), grid, cv=3)
    )
    return model.fit(train, y_train).score(test, y_test)


acc_embedding = probe(Z_train, Z_test)
acc_pixels = probe(X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1))
print(f"linear probe on the embedding : {acc_embedding:.3f}")
print(f"linear probe on the raw pixels: {acc_pixels:.3f}")

# %%
# A 2-D map of the test images' embeddings (t-SNE), coloured by the digit that
# the embedder never saw.
coords = TSNE(n_components=2, init="pca", random_state=0).fit_transform(Z_test)
fig, ax = plt.subplots(figsize=(6, 5))
scatter = ax.scatter(coords[:, 0], coords[:, 1], c=y_test, cmap="tab10", s=8)
ax.legend(*scatter.legend_elements(), title="digit", fontsize=7, loc="best")
ax.set_title(
    f"t-SNE of the embedding (probe {acc_embedding:.2f}, pixels {acc_pixels:.2f})"
)
ax.set_xticks([])
ax.set_yticks([])
plt.show()
