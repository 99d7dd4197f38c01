"""Offline loaders for real data: image files (IDX), graph folders (TU), ...

Nothing here downloads: loaders read files that are already on disk and say how
to get them when they are missing.
"""

from ._superpixels import images_to_superpixel_graphs
from ._tu import load_tu_dataset

__all__: list[str] = ["images_to_superpixel_graphs", "load_tu_dataset"]
