"""restore_malloc_mmap_threshold: undoing Dask's MALLOC_TRIM_THRESHOLD_ (glibc)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import rince_sklearn.threads as threads
from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.threads import (
    MMAP_THRESHOLD,
    TRIM_THRESHOLD,
    restore_malloc_mmap_threshold,
)

ROOT = Path(__file__).resolve().parents[1]
BOTH = {"M_MMAP_THRESHOLD": MMAP_THRESHOLD, "M_TRIM_THRESHOLD": TRIM_THRESHOLD}


def _on_glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


@pytest.fixture
def fake_glibc():
    """glibc as seen through ctypes, with a recording ``mallopt``."""
    libc = mock.Mock()
    libc.mallopt.return_value = 1
    with (
        mock.patch.object(threads.os, "confstr", return_value="glibc 2.36"),
        mock.patch.object(threads.ctypes, "CDLL", return_value=libc) as cdll,
    ):
        yield libc.mallopt, cdll


def test_thresholds_are_glibcs_adaptive_maximum():
    # DEFAULT_MMAP_THRESHOLD_MAX is 4 MiB * sizeof(long); the trim threshold
    # follows at twice the mmap threshold
    if sys.maxsize > 2**32:
        assert MMAP_THRESHOLD == 32 * 2**20
    assert TRIM_THRESHOLD == 2 * MMAP_THRESHOLD


@pytest.mark.parametrize(
    "environ",
    [
        {"MALLOC_TRIM_THRESHOLD_": "65536"},  # Dask's nanny
        {"MALLOC_TOP_PAD_": "131072"},
        {"MALLOC_MMAP_MAX_": "65536"},
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=65536"},
        {"GLIBC_TUNABLES": "glibc.elision.enable=1:glibc.malloc.top_pad=0"},
    ],
)
def test_a_frozen_threshold_is_restored_through_mallopt(fake_glibc, environ):
    mallopt, cdll = fake_glibc
    assert restore_malloc_mmap_threshold(environ) == BOTH
    cdll.assert_called_once_with(None)
    # M_MMAP_THRESHOLD is -3, M_TRIM_THRESHOLD is -1 (malloc.h)
    assert mallopt.call_args_list == [
        mock.call(-3, MMAP_THRESHOLD),
        mock.call(-1, TRIM_THRESHOLD),
    ]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"},  # not a threshold
        {"GLIBC_TUNABLES": "glibc.elision.enable=1"},
        # an explicit mmap threshold is a deliberate choice: left alone
        {"MALLOC_TRIM_THRESHOLD_": "65536", "MALLOC_MMAP_THRESHOLD_": "131072"},
        {
            "MALLOC_TRIM_THRESHOLD_": "65536",
            "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576",
        },
    ],
)
def test_nothing_is_called_without_a_frozen_threshold(fake_glibc, environ):
    mallopt, cdll = fake_glibc
    assert restore_malloc_mmap_threshold(environ) == {}
    mallopt.assert_not_called()
    cdll.assert_not_called()


def test_a_larger_trim_threshold_is_kept(fake_glibc):
    mallopt, _ = fake_glibc
    environ = {"MALLOC_TRIM_THRESHOLD_": str(4 * TRIM_THRESHOLD)}
    assert restore_malloc_mmap_threshold(environ) == {
        "M_MMAP_THRESHOLD": MMAP_THRESHOLD
    }
    mallopt.assert_called_once_with(-3, MMAP_THRESHOLD)


def test_a_refused_setting_is_not_reported(fake_glibc):
    mallopt, _ = fake_glibc
    mallopt.side_effect = [0, 1]  # glibc refused the mmap threshold
    applied = restore_malloc_mmap_threshold({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert applied == {"M_TRIM_THRESHOLD": TRIM_THRESHOLD}


@pytest.mark.parametrize(
    "confstr",
    [
        mock.Mock(side_effect=ValueError("unrecognized configuration name")),  # macOS
        mock.Mock(side_effect=AttributeError("confstr")),  # Windows
        mock.Mock(return_value=None),  # musl
    ],
)
def test_without_glibc_it_does_nothing(confstr):
    with (
        mock.patch.object(threads.os, "confstr", confstr, create=True),
        mock.patch.object(threads.ctypes, "CDLL") as cdll,
    ):
        assert restore_malloc_mmap_threshold({"MALLOC_TRIM_THRESHOLD_": "1"}) == {}
    cdll.assert_not_called()


@pytest.mark.parametrize("error", [OSError("no libc"), AttributeError("mallopt")])
def test_a_libc_without_mallopt_does_nothing(error):
    with (
        mock.patch.object(threads.os, "confstr", return_value="glibc 2.36"),
        mock.patch.object(threads.ctypes, "CDLL", side_effect=error),
    ):
        assert restore_malloc_mmap_threshold({"MALLOC_TRIM_THRESHOLD_": "1"}) == {}


def test_the_environment_read_is_the_one_the_process_started_with(monkeypatch):
    # a Dask LocalCluster writes the nanny's variables into os.environ of the
    # process that starts it; glibc read its settings before that
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc/self/environ")
    if "MALLOC_TRIM_THRESHOLD_" in threads._initial_environment():
        pytest.skip("this process started with MALLOC_TRIM_THRESHOLD_ set")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    initial = threads._initial_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in initial
    assert initial.get("PATH") == os.environ.get("PATH")
    with mock.patch.object(threads.ctypes, "CDLL") as cdll:
        assert restore_malloc_mmap_threshold() == {}
    cdll.assert_not_called()


def test_fit_restores_the_thresholds_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(
        threads, "restore_malloc_mmap_threshold", lambda: calls.append(1) or {}
    )
    threads._restore_malloc_once.cache_clear()
    try:
        X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
        for _ in range(2):
            RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
        assert calls == [1]
    finally:
        threads._restore_malloc_once.cache_clear()


_FAULTS = textwrap.dedent(
    """
    import resource, numpy as np
    from rince_sklearn.threads import restore_malloc_mmap_threshold

    def faults():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(100):
            a = np.ones(2**18)  # 2 MiB: over the frozen 128 KiB threshold
            del a
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    frozen = faults()
    applied = restore_malloc_mmap_threshold()
    print(frozen, faults(), sorted(applied))
    """
)


@pytest.mark.skipif(not _on_glibc(), reason="glibc's malloc only")
def test_page_faults_drop_in_a_process_started_like_a_dask_worker():
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split(maxsplit=2)
    frozen, restored, applied = int(out[0]), int(out[1]), out[2].strip()
    # each 2 MiB array was mapped and faulted in page by page (512 pages)
    assert frozen > 100 * 400, frozen
    assert restored < frozen / 20, (frozen, restored)
    assert applied == "['M_MMAP_THRESHOLD', 'M_TRIM_THRESHOLD']"


def test_dask_workers_restore_the_thresholds_when_they_fit():
    distributed = pytest.importorskip(
        "distributed", reason="the Dask test needs the 'distributed' extra"
    )
    if not _on_glibc():
        pytest.skip("glibc's malloc only")
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)

    def fit_in_worker():
        RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X)
        return (
            threads._initial_environment().get("MALLOC_TRIM_THRESHOLD_"),
            threads._restore_malloc_once(),
        )

    with (
        distributed.LocalCluster(  # Dask's defaults: the nanny sets the variable
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        variable, applied = client.submit(fit_in_worker, pure=False).result()
    assert variable == "65536"
    assert applied == BOTH
