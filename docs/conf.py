"""Sphinx configuration of the rince_sklearn documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. The gallery executes every ``examples/plot_*.py``.

Cross-links to numpy, scikit-learn, torch, skorch and Python (intersphinx) need
their ``objects.inv`` inventories, which are downloaded at build time. The build
must also work offline and warning-free (``-W``), so a target is used only

* when ``docs/_inventories/<name>.inv`` exists (a local copy; fetch them once
  with ``python docs/fetch_inventories.py`` on a machine with internet access),
  or
* when the environment variable ``RINCE_DOCS_INTERSPHINX=online`` is set, in
  which case Sphinx downloads the inventories itself.

Otherwise references to those projects render as plain code, without links.

Formulas are typeset by a copy of MathJax that ships with the
``sphinx-mathjax-offline`` package (in the docs extra) and is copied into
``_static/mathjax/``: the pages load no script from a CDN and render their
formulas offline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Gallery examples run in this process. Under CPU contention, several OpenMP
# threads per fit slow small models down by orders of magnitude; one thread per
# process keeps the gallery fast and its timings stable (the estimator itself
# trains on ``n_threads``, 1 by default; this covers torch and NumPy outside its
# fits). Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))

from rince_docs import intersphinx_mapping_for  # noqa: E402

import rince_sklearn  # noqa: E402

# -- project -----------------------------------------------------------------
project = "rince_sklearn"
author = "rince_sklearn developers"
copyright = "2026, rince_sklearn developers"  # noqa: A001
release = rince_sklearn.__version__
version = ".".join(release.split(".")[:2])

# -- extensions ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax from the package, not from a CDN (sets ``mathjax_path``)
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "rince_docs",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_inventories", "sphinxext", "README.md"]
source_suffix = {".rst": "restructuredtext"}  # Markdown only through includes
myst_heading_anchors = 0
# the benchmark scripts write their own Markdown; its heading levels may skip
suppress_warnings = ["myst.header"]
default_role = "literal"
root_doc = "index"

# autodoc / autosummary: one page per public name, generated from api.rst
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_member_order = "bysource"

# numpydoc: members are listed by the autosummary class template instead
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- intersphinx (offline-safe, see the module docstring) -----------------------
_INTERSPHINX_TARGETS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
}

intersphinx_mapping = intersphinx_mapping_for(
    _INTERSPHINX_TARGETS, HERE / "_inventories", os.environ
)
intersphinx_timeout = 10

# -- sphinx-gallery --------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("rince_sklearn",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "download_all_examples": False,
}

# -- benchmark results ------------------------------------------------------------
# benchmarks.rst shows every ``benchmarks/results/*.md`` (each written by its
# script, with the command at the top). The ``rince_docs`` extension regenerates
# the list of includes at each build, so a new results file appears without
# editing the page.

# -- HTML --------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"rince_sklearn {release}"
html_static_path = ["_static"]
# wraps long lines of code blocks instead of scrolling them sideways
html_css_files = ["rince.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    # no "On this page" column beside the gallery's examples: their code (up
    # to 88 characters a line) then fits the article at a 1280 px window
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        **{
            f"auto_examples/{example.stem}": []
            for example in sorted((HERE.parent / "examples").glob("plot_*.py"))
        },
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": []}
