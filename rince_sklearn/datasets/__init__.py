"""Offline loaders for real data: image files (IDX), graph folders (TU), ...

Nothing here downloads: loaders read files that are already on disk and say how
to get them when they are missing.
"""

from ._idx import FASHION_MNIST_CLASSES, load_fashion_mnist, read_idx
from ._superpixels import images_to_superpixel_graphs
from ._tu import load_tu_dataset

__all__: list[str] = [
    "FASHION_MNIST_CLASSES",
    "images_to_superpixel_graphs",
    "load_fashion_mnist",
    "load_tu_dataset",
    "read_idx",
]
