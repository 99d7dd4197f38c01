"""Settings for every test, the package's doctests included."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Run torch on one intra-op thread, then restore the setting.

    The test models are tiny: a second thread buys nothing, and on a loaded
    machine OpenMP threads that outnumber free cores slow fits down by 10-100x.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


#: modules whose doctests read molecules, which needs RDKit (the chem extra)
_NEEDS_RDKIT = ("rince_sklearn/molecules.py", "rince_sklearn/datasets/molecules.py")


def _have_rdkit() -> bool:
    try:
        import rdkit  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    """Skip the doctests that need RDKit when it is not installed."""
    if _have_rdkit():
        return
    skip = pytest.mark.skip(reason="needs RDKit: pip install 'rince_sklearn[chem]'")
    for item in items:
        path = item.path.as_posix()
        if type(item).__name__ == "DoctestItem" and path.endswith(_NEEDS_RDKIT):
            item.add_marker(skip)
