"""Checks of the scale-out benchmark harness (benchmarks/bench_parallel.py)."""

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench_parallel():
    yield from load_benchmark("bench_parallel")


def test_unknown_batch_norm_mode_is_refused_before_any_process_starts(
    bench_parallel,
):
    X = np.zeros((4, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="batchnorm must be one of"):
        bench_parallel.ddp_run(X, bench_parallel.IMAGE_PARAMS, 2, batchnorm="locl")
