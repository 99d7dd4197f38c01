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
