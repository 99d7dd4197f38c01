"""Helpers of the rince_sklearn documentation build (loaded by ``conf.py``).

* :func:`intersphinx_mapping_for`: intersphinx targets that work offline.
* :func:`write_benchmark_includes`: the list of benchmark result files that
  ``benchmarks.rst`` includes, regenerated at every build.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: environment variable that lets Sphinx download inventories it has no copy of
ONLINE_VARIABLE = "RINCE_DOCS_INTERSPHINX"


def intersphinx_mapping_for(
    targets: Mapping[str, str],
    inventory_dir: Path,
    environ: Mapping[str, str],
) -> dict[str, tuple[str, str | None]]:
    """Return an ``intersphinx_mapping`` that never needs the network offline.

    A target is used with its local inventory ``inventory_dir/<name>.inv`` when
    that file exists; otherwise it is used with a download at build time only
    when ``environ[ONLINE_VARIABLE] == "online"``, and left out otherwise (its
    references then render as plain code instead of failing the build).

    Parameters
    ----------
    targets : mapping of str to str
        Project name to documentation URL (ending with ``/``).
    inventory_dir : Path
        Folder of local ``objects.inv`` copies, named ``<name>.inv``.
    environ : mapping of str to str
        The environment (``os.environ``).

    Returns
    -------
    mapping : dict
        ``{name: (url, local path or None)}`` for ``conf.py``.

    Examples
    --------
    >>> from pathlib import Path
    >>> intersphinx_mapping_for({"numpy": "https://numpy.org/doc/stable/"},
    ...                         Path("/nonexistent"), {})
    {}
    >>> intersphinx_mapping_for({"numpy": "https://numpy.org/doc/stable/"},
    ...                         Path("/nonexistent"),
    ...                         {"RINCE_DOCS_INTERSPHINX": "online"})
    {'numpy': ('https://numpy.org/doc/stable/', None)}
    """
    online = environ.get(ONLINE_VARIABLE, "").strip().lower() == "online"
    mapping: dict[str, tuple[str, str | None]] = {}
    for name, url in targets.items():
        local = Path(inventory_dir) / f"{name}.inv"
        if local.is_file():
            mapping[name] = (url, str(local))
        elif online:
            mapping[name] = (url, None)
    return mapping


def benchmark_includes(results_dir: Path) -> str:
    """Return reST that includes every ``results_dir/*.md``, one section each.

    Paths are written relative to the documentation's source folder, which is
    assumed to be a sibling of ``benchmarks/`` (``/../benchmarks/results/``).

    Parameters
    ----------
    results_dir : Path
        The ``benchmarks/results`` folder.

    Returns
    -------
    text : str
        reStructuredText for ``.. include::``.

    Examples
    --------
    >>> print(benchmark_includes(Path("/nonexistent")))
    No results yet: run the scripts in ``benchmarks/``.
    <BLANKLINE>
    """
    lines: list[str] = []
    for md in sorted(Path(results_dir).glob("*.md")):
        heading = f"``{md.stem}``"
        lines += [
            f".. _bench-{md.stem}:",
            "",
            heading,
            "-" * len(heading),
            "",
            f"From ``benchmarks/results/{md.name}``:",
            "",
            f".. include:: /../benchmarks/results/{md.name}",
            "   :parser: myst_parser.sphinx_",
            "",
        ]
        figure = md.with_suffix(".png")
        if figure.is_file():
            lines += [
                f".. image:: /../benchmarks/results/{figure.name}",
                f"   :alt: {md.stem}",
                "",
            ]
    if not lines:
        lines = ["No results yet: run the scripts in ``benchmarks/``.", ""]
    return "\n".join(lines)


def write_benchmark_includes(results_dir: Path, target: Path) -> None:
    """Write :func:`benchmark_includes` to ``target`` if it changed."""
    text = benchmark_includes(results_dir)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _on_builder_inited(app: Any) -> None:
    source = Path(app.srcdir)
    write_benchmark_includes(
        source.parent / "benchmarks" / "results",
        source / "generated" / "benchmark_results.inc",
    )


def setup(app: Any) -> dict[str, Any]:
    """Register the build hooks (a Sphinx extension's entry point)."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
