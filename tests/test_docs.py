"""The documentation: API reference coverage, docstrings, examples, build helpers.

The Sphinx build itself (which executes every gallery example) runs in CI
(``.ci/run``); these tests check, quickly and without Sphinx, what the build
relies on: every public name is in the API reference, every public docstring is
in numpydoc form with a runnable Examples section (the doctests themselves run
through ``--doctest-modules``), the gallery examples are well-formed, and the
offline intersphinx and benchmark-include helpers do what ``conf.py`` expects.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

#: modules whose ``__all__`` is public API: the package, its subpackages and its
#: public top-level modules
PUBLIC_MODULES = [
    "rince_sklearn",
    "rince_sklearn.augment",
    "rince_sklearn.batching",
    "rince_sklearn.callbacks",
    "rince_sklearn.datasets",
    "rince_sklearn.distributed",
    "rince_sklearn.encoders",
    "rince_sklearn.estimator",
    "rince_sklearn.graphs",
    "rince_sklearn.losses",
    "rince_sklearn.metrics",
    "rince_sklearn.molecules",
    "rince_sklearn.modalities",
    "rince_sklearn.noisy_views",
    "rince_sklearn.supervision",
    "rince_sklearn.threads",
]


def _public_objects() -> dict[str, object]:
    """``{"module.name": object}`` for every class or function in an ``__all__``.

    An object exported under several names is listed once, under the first.
    """
    found: dict[str, object] = {}
    seen: set[int] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants such as __version__: checked separately
            if id(obj) not in seen:
                seen.add(id(obj))
                found[f"{module_name}.{name}"] = obj
    return found


def _public_constants() -> list[str]:
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                if not name.startswith("__"):
                    names.append(name)
    return names


PUBLIC = _public_objects()

#: public names whose docstrings still lack a runnable Examples section (or
#: parameter docs): expected failures until they get one. Keep this empty.
PENDING_DOCSTRINGS: set[str] = set()


def _mark_pending(request, name: str) -> None:
    if name in PENDING_DOCSTRINGS:
        request.applymarker(
            pytest.mark.xfail(reason="docstring pending an Examples section")
        )


def _documented_in_api_rst() -> dict[int, str]:
    """Objects listed in ``docs/api.rst``'s autosummary tables, by id."""
    documented: dict[int, str] = {}
    current = None
    in_autosummary = False
    for line in (DOCS / "api.rst").read_text().splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            current = match.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_autosummary = True
            continue
        if in_autosummary:
            if line and not line.startswith(" "):
                in_autosummary = False
                continue
            entry = line.strip()
            if not entry or entry.startswith(":"):
                continue
            module = importlib.import_module(current)
            obj = getattr(module, entry)  # an entry that does not resolve fails
            documented[id(obj)] = f"{current}.{entry}"
    return documented


def test_every_public_name_is_in_the_api_reference():
    documented = _documented_in_api_rst()
    missing = [name for name, obj in PUBLIC.items() if id(obj) not in documented]
    assert not missing, (
        f"Public names missing from docs/api.rst: {missing}. Add each to an "
        "autosummary table under the module that users import it from."
    )
    text = (DOCS / "api.rst").read_text()
    constants = [name for name in _public_constants() if name not in text]
    assert not constants, f"Public constants not mentioned in docs/api.rst: {constants}"


def test_api_reference_lists_each_object_once():
    entries = []
    current = None
    for line in (DOCS / "api.rst").read_text().splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            current = match.group(1)
        elif re.match(r"   [A-Za-z_]\w*$", line):
            entries.append(id(getattr(importlib.import_module(current), line.strip())))
    assert len(entries) == len(set(entries)), "an object is listed twice in api.rst"


def _sections(doc: str) -> dict[str, str]:
    """Split a numpydoc docstring into ``{header: body}``."""
    lines = doc.splitlines()
    sections: dict[str, list[str]] = {"": []}
    header = ""
    i = 0
    while i < len(lines):
        if (
            i + 1 < len(lines)
            and lines[i].strip()
            and re.fullmatch(r"-{3,}", lines[i + 1].strip())
            and len(lines[i + 1].strip()) == len(lines[i].strip())
        ):
            header = lines[i].strip()
            sections[header] = []
            i += 2
            continue
        sections[header].append(lines[i])
        i += 1
    return {k: "\n".join(v) for k, v in sections.items()}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_is_numpydoc_with_runnable_examples(name, request):
    _mark_pending(request, name)
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    sections = _sections(doc)
    examples = sections.get("Examples")
    assert examples is not None, f"{name} has no 'Examples' section"
    assert ">>> " in examples, f"{name}'s Examples section has no doctest (>>>)"
    tests = doctest.DocTestFinder(recurse=False).find(obj, name)
    assert sum(len(t.examples) for t in tests) > 0, f"{name}: no doctest found"
    # the section order numpydoc expects
    order = [
        "Parameters",
        "Returns",
        "Yields",
        "Raises",
        "See Also",
        "Notes",
        "References",
        "Examples",
    ]
    present = [h for h in sections if h in order]
    assert present == sorted(present, key=order.index), (
        f"{name}: sections out of numpydoc order: {present}"
    )


ESTIMATOR_METHODS = ["fit", "partial_fit", "transform", "score", "save", "load"]


@pytest.mark.parametrize("method", ESTIMATOR_METHODS)
def test_estimator_methods_have_runnable_examples(method, request):
    from rince_sklearn import RobustContrastiveEmbedder

    name = f"rince_sklearn.RobustContrastiveEmbedder.{method}"
    _mark_pending(request, name)
    func = getattr(RobustContrastiveEmbedder, method)
    examples = _sections(inspect.getdoc(func) or "").get("Examples", "")
    assert ">>> " in examples, f"{name} has no Examples section with a doctest"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_passes_numpydoc_validation(name, request):
    _mark_pending(request, name)
    validate = pytest.importorskip("numpydoc.validate", reason="needs the docs extra")
    obj = PUBLIC[name]
    # validate under the defining module's path, which numpydoc can import
    path = f"{obj.__module__}.{obj.__qualname__}"
    checked = {
        "GL02",  # closing quotes on their own line
        "GL03",  # double blank lines
        "GL08",  # no docstring
        "SS01",  # no summary
        "SS03",  # summary ends without a period
        "PR01",  # parameters not documented
        "PR02",  # unknown parameters documented
        "PR03",  # parameters documented in the wrong order
        "PR06",  # 'integer'/'boolean'/'string' instead of int/bool/str
        "PR10",  # missing space before the colon
        "EX01",  # no Examples section
    }
    if inspect.isclass(obj) and (
        "__init__" not in vars(obj) or getattr(obj, "_is_protocol", False)
    ):
        # an inherited constructor (a torch layer, the estimator's parameters)
        # is documented where it is defined; a typing.Protocol has none
        checked.discard("PR01")
    errors = [
        f"{code}: {message}"
        for code, message in validate.validate(path)["errors"]
        if code in checked
    ]
    assert not errors, f"{name}: " + "; ".join(errors)


def test_docs_helpers_doctests():
    sys.path.insert(0, str(DOCS / "sphinxext"))
    try:
        import rince_docs
    finally:
        sys.path.remove(str(DOCS / "sphinxext"))
    result = doctest.testmod(rince_docs)
    assert result.attempted > 0 and result.failed == 0


@pytest.fixture()
def rince_docs():
    sys.path.insert(0, str(DOCS / "sphinxext"))
    try:
        import rince_docs as module
    finally:
        sys.path.remove(str(DOCS / "sphinxext"))
    return module


def test_intersphinx_uses_local_inventories_and_never_the_network_offline(
    rince_docs, tmp_path
):
    targets = {
        "numpy": "https://numpy.org/doc/stable/",
        "sklearn": "https://scikit-learn.org/stable/",
    }
    (tmp_path / "numpy.inv").write_bytes(b"# Sphinx inventory version 2\n")
    offline = rince_docs.intersphinx_mapping_for(targets, tmp_path, {})
    assert offline == {"numpy": (targets["numpy"], str(tmp_path / "numpy.inv"))}
    online = rince_docs.intersphinx_mapping_for(
        targets, tmp_path, {"RINCE_DOCS_INTERSPHINX": "online"}
    )
    assert online == {**offline, "sklearn": (targets["sklearn"], None)}


def test_conf_maps_the_four_required_projects(rince_docs):
    tree = ast.parse((DOCS / "conf.py").read_text())
    targets = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and getattr(node.targets[0], "id", "") == "_INTERSPHINX_TARGETS"
    )
    assert {"numpy", "sklearn", "torch", "skorch"} <= set(targets)
    for url in targets.values():
        assert url.startswith("https://") and url.endswith("/"), url


def test_benchmark_includes_list_every_results_file(rince_docs, tmp_path):
    (tmp_path / "b.md").write_text("# B\n")
    (tmp_path / "a.md").write_text("# A\n")
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "b.png").write_bytes(b"")
    text = rince_docs.benchmark_includes(tmp_path)
    includes = re.findall(r"\.\. include:: (\S+)", text)
    assert includes == ["/../benchmarks/results/a.md", "/../benchmarks/results/b.md"]
    images = re.findall(r"\.\. image:: (\S+)", text)
    assert images == ["/../benchmarks/results/b.png"]  # a figure beside its md
    target = tmp_path / "out" / "results.inc"
    rince_docs.write_benchmark_includes(tmp_path, target)
    assert target.read_text() == text


EXAMPLE_FILES = sorted(EXAMPLES.glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_gallery_example_is_well_formed(path):
    source = path.read_text()
    tree = ast.parse(source)  # it compiles
    doc = ast.get_docstring(tree, clean=False)
    assert doc, f"{path.name} needs a module docstring (the gallery's text)"
    lines = doc.strip("\n").splitlines()
    assert len(lines) >= 3, f"{path.name}: the docstring needs a title and text"
    title, underline = lines[0], lines[1]
    assert re.fullmatch(r"=+", underline) and len(underline) >= len(title), (
        f"{path.name}: the first docstring line is the title, underlined with "
        "'=' at least as long"
    )
    # at least one figure
    assert "plt." in source or ".subplots(" in source, f"{path.name} draws nothing"


def test_gallery_has_the_required_examples():
    names = {p.name for p in EXAMPLE_FILES}
    required = {
        "plot_quickstart.py",
        "plot_grid_search_heatmap.py",
        "plot_training_curves.py",
        "plot_custom_encoder.py",
    }
    assert required <= names
    assert (EXAMPLES / "GALLERY_HEADER.rst").is_file()


def test_docstring_examples_run_in_the_test_suite():
    tomllib = pytest.importorskip("tomllib", reason="Python >= 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    options = config["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"]
    assert "rince_sklearn" in options["testpaths"]


def _install_rst_extras() -> dict[str, str]:
    """``{extra: its row's text}`` from the extras table of ``install.rst``.

    A row starts with the extra's name in double backquotes in the first
    column; the lines under it whose first column is blank continue it.
    """
    rows: dict[str, str] = {}
    current = None
    for line in (DOCS / "install.rst").read_text().splitlines():
        match = re.match(r"``([\w-]+)``\s{2,}(.*)", line)
        if match:
            current = match.group(1)
            rows[current] = match.group(2)
        elif current is not None and re.match(r"\s{10,}\S", line):
            rows[current] += " " + line.strip()
        else:
            current = None
    return rows


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_install_rst_lists_every_package_of_every_extra():
    tomllib = pytest.importorskip("tomllib", reason="Python >= 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = config["project"]["optional-dependencies"]
    rows = _install_rst_extras()
    assert set(rows) == set(extras), (
        "docs/install.rst's extras table must have one row per extra of "
        f"pyproject.toml: missing {sorted(set(extras) - set(rows))}, "
        f"stale {sorted(set(rows) - set(extras))}"
    )
    missing = []
    for extra, requirements in extras.items():
        names = set(re.findall(r"``([^`]+)``", rows[extra]))
        text = {_normalise(name) for name in names}
        for requirement in requirements:
            name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[^]]*\])?", requirement)
            assert name, requirement
            if _normalise(name.group(0)) not in text:
                missing.append(f"{extra}: {name.group(0)}")
    assert not missing, (
        "packages of pyproject.toml's extras not named (in double backquotes) "
        f"in their row of docs/install.rst: {missing}"
    )


def test_install_rst_parser_reads_continued_rows():
    rows = _install_rst_extras()
    assert "``bench``" not in rows.get("docs", ""), "rows run into each other"
    assert "torch_geometric" in rows["bench"]  # on a continuation line


README = ROOT / "README.md"


def _readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def test_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    pytest_lines = [
        line.strip()
        for line in ci.splitlines()
        if line.strip().startswith("python -m pytest")
    ]
    commands = [block.strip() for block in _readme_blocks("bash")]
    test_command = next(c for c in commands if c.endswith("python -m pytest -q"))
    assert "python -m pytest -q" in pytest_lines  # what the README says CI runs
    assert 'pip install -e ".[test]"' in test_command
    assert "bash .ci/run" in commands  # the complete check is named too
    # what the README says the test command leaves out is what .ci/run adds
    text = README.read_text()
    for step in ("ruff check .", "mypy", "tests/test_docs.py", "Sphinx"):
        assert step in ci or step.lower() in ci, step
        assert step in text, step


def test_readme_example_and_result_sources_exist():
    blocks = _readme_blocks("python")
    assert blocks, "README has no Python example"
    for block in blocks:
        compile(block, "README.md", "exec")  # it parses
    assert "examples/plot_quickstart.py" in README.read_text()
    assert (EXAMPLES / "plot_quickstart.py").is_file()
    cited = set(re.findall(r"`(quality_\w+\.md)`", README.read_text()))
    assert cited, "README's results table cites no results file"
    results = ROOT / "benchmarks" / "results"
    missing = sorted(name for name in cited if not (results / name).is_file())
    assert not missing, f"README cites results files that do not exist: {missing}"
