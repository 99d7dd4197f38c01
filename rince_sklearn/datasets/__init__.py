"""Offline loaders for real data: image files (IDX), graph folders (TU), molecules.

Nothing here downloads: loaders read files that are already on disk and say how
to get them when they are missing.
"""

from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist, read_idx
from .molecules import load_chembl2321810
from .superpixels import images_to_superpixel_graphs
from .tu import load_tu_dataset

__all__: list[str] = [
    "FASHION_MNIST_CLASSES",
    "images_to_superpixel_graphs",
    "load_chembl2321810",
    "load_fashion_mnist",
    "load_tu_dataset",
    "read_idx",
]
