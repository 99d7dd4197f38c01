"""Offline loaders for real data: image files (IDX), graph folders (TU), ...

Nothing here downloads: loaders read files that are already on disk and say how
to get them when they are missing.
"""

__all__: list[str] = []
