"""Order of the gallery: a reading order, not the alphabet."""

from __future__ import annotations

ORDER = [
    "plot_quickstart.py",
    "plot_grid_search_heatmap.py",
    "plot_training_curves.py",
    "plot_custom_encoder.py",
    "plot_images.py",
    "plot_graphs.py",
    "plot_molecules.py",
    "plot_noisy_views.py",
]


class ExampleOrder:
    """Sort key for ``sphinx_gallery_conf["within_subsection_order"]``.

    Listed examples come first, in :data:`ORDER`; any other example follows in
    alphabetical order.
    """

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        """Return the sort key of ``filename``."""
        if filename in ORDER:
            return ORDER.index(filename), filename
        return len(ORDER), filename

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
