"""Torch thread budgets: how many intra-op threads a fit and an embedding use.

Torch runs each operation on a pool of intra-op threads (one per core by
default). For the small models this package trains by default, more threads
buy little, and on a machine with other work running OpenMP threads that
outnumber free cores slow a fit down by 2-60x
(``benchmarks/results/threads.md``). The thread count also changes the trained
model in its last digits, which training amplifies: a fit with 2 threads does
not give the embeddings of a fit with 1.

:class:`~rince_sklearn.RobustContrastiveEmbedder` therefore sets torch's
thread count itself, from its ``n_threads`` parameter, around ``fit``,
``partial_fit``, ``transform`` and ``score`` (:func:`torch_threads`), and
restores the previous setting afterwards. :func:`resolve_n_threads` turns the
parameter into a number; the default, ``None``, resolves to
``DEFAULT_N_THREADS``, the same number in every process, so a fit gives the
same model in the main process and in a joblib or Dask worker.

The process-based engines say how many cores a worker was given through the
environment of the worker process:

* joblib's ``loky`` backend (the default of ``n_jobs``) sets ``OMP_NUM_THREADS``
  to ``cpu_count() // n_jobs`` (or to ``inner_max_num_threads`` from
  :func:`joblib.parallel_config`);
* ``dask.distributed`` nannies set ``OMP_NUM_THREADS=1`` in their workers (the
  ``distributed.nanny.pre-spawn-environ`` setting).

:func:`worker_thread_budget` reads that value, capped by the cores the process
may run on, and :func:`limit_torch_threads` lowers torch's setting to it for
the span of a ``with`` block; they are for user code that runs torch in
workers. The estimator does not follow the budget: that would make its result
depend on where it runs. Importing this module changes nothing.

The engines change one more setting of their workers: Dask's nannies set
``MALLOC_TRIM_THRESHOLD_=65536`` (also ``distributed.nanny.pre-spawn-environ``).
Setting that variable at all switches off glibc's adaptive ``mmap`` threshold,
so every allocation over 128 KiB (most tensors of a training step) becomes a
fresh ``mmap``, page-faulted in and unmapped again when freed, and a fit runs
markedly slower. :func:`restore_malloc_mmap_threshold` sets the thresholds
back to the values the adaptive rule would reach; the estimator calls it once
per process, when it first fits.

Examples
--------
>>> import torch
>>> from rince_sklearn.threads import resolve_n_threads, torch_threads
>>> before = torch.get_num_threads()
>>> with torch_threads(resolve_n_threads(None)) as n:
...     n == torch.get_num_threads() == 1
True
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = [
    "DEFAULT_N_THREADS",
    "MAX_N_THREADS",
    "available_cores",
    "limit_torch_threads",
    "resolve_n_threads",
    "restore_malloc_mmap_threshold",
    "torch_threads",
    "worker_thread_budget",
]

#: torch intra-op threads that ``n_threads=None`` resolves to: one, measured
#: fastest for the tabular, image and graph defaults on a 2-core machine, idle
#: and under load (``benchmarks/bench_threads.py``)
DEFAULT_N_THREADS = 1
#: the largest ``n_threads`` (either sign) a parameter may ask for
MAX_N_THREADS = 1024

#: the variable that joblib's loky workers and Dask's nannies set, and that
#: torch's OpenMP runtime reads
BUDGET_VARIABLE = "OMP_NUM_THREADS"


def available_cores() -> int:
    """Return the number of cores this process may run on.

    The CPU affinity mask where the platform has one (containers and job
    schedulers restrict it), else :func:`os.cpu_count`.

    Returns
    -------
    n_cores : int
        At least 1.

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return max(os.cpu_count() or 1, 1)  # pragma: no cover - macOS, Windows


def worker_thread_budget() -> int | None:
    """Return the number of threads this process was given, or None.

    Reads ``OMP_NUM_THREADS``, which joblib's process workers and Dask's
    nannies set to the worker's share of the cores, and caps it by
    :func:`available_cores`. Returns None when the variable is unset or not a
    positive integer: the process was given no limit (for example a plain
    ``n_jobs=1`` run), and torch's setting is left alone.

    Returns
    -------
    n_threads : int or None
        The thread budget, at least 1, or None for no limit.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "1"}):
    ...     worker_thread_budget()
    1
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "many"}):
    ...     worker_thread_budget() is None
    True
    """
    value = os.environ.get(BUDGET_VARIABLE, "").strip()
    try:
        n_threads = int(value)
    except ValueError:
        return None
    if n_threads < 1:
        return None
    return min(n_threads, available_cores())


@contextmanager
def limit_torch_threads(n_threads: int | None) -> Iterator[int]:
    """Cap torch's intra-op threads at ``n_threads`` inside a ``with`` block.

    The setting is lowered only (a process already using fewer threads keeps
    its setting) and restored on exit, also when the block raises. The limit is
    process-wide: threads of one process (joblib's ``threading`` backend, a
    Dask worker with several threads) share it.

    Parameters
    ----------
    n_threads : int or None
        The most threads torch may use; None changes nothing.

    Yields
    ------
    n_threads : int
        The number of threads in force inside the block.

    Examples
    --------
    >>> import torch
    >>> with limit_torch_threads(None) as n:
    ...     n == torch.get_num_threads()
    True
    """
    previous = torch.get_num_threads()
    if n_threads is None or n_threads >= previous:
        yield previous
        return
    with torch_threads(n_threads) as lowered:
        yield lowered


def resolve_n_threads(n_threads: int | None) -> int:
    """Return the number of torch threads that ``n_threads`` asks for.

    The semantics of scikit-learn's ``n_jobs`` and of the ``n_threads`` of its
    OpenMP helpers: a positive number is used as given; ``-1`` means one
    thread per core this process may run on (:func:`available_cores`), ``-2``
    all but one, and so on (at least 1); ``None`` means
    ``DEFAULT_N_THREADS``. Neither ``None`` nor a positive number depends
    on the machine or on a worker's ``OMP_NUM_THREADS``, so they give the same
    result wherever a fit runs; negative numbers depend on the core count.

    Parameters
    ----------
    n_threads : int or None
        The requested number; 0 is invalid.

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> resolve_n_threads(None), resolve_n_threads(3)
    (1, 3)
    >>> resolve_n_threads(-1) == available_cores()
    True
    """
    if n_threads is None:
        return DEFAULT_N_THREADS
    if n_threads == 0:
        raise ValueError(
            "n_threads must be a positive number of threads, a negative number "
            "(-1: one per core) or None (the default), got 0."
        )
    if n_threads < 0:
        return max(available_cores() + 1 + n_threads, 1)
    return int(n_threads)


@contextmanager
def torch_threads(n_threads: int) -> Iterator[int]:
    """Run torch on exactly ``n_threads`` intra-op threads inside a ``with`` block.

    Unlike :func:`limit_torch_threads`, the setting is raised as well as
    lowered, so the block runs on the same number of threads whatever the
    process was set to; it is restored on exit, also when the block raises. The
    setting is process-wide: threads of one process (joblib's ``threading``
    backend, a Dask worker with several threads) share it.

    Parameters
    ----------
    n_threads : int
        The number of threads, at least 1 (see :func:`resolve_n_threads`).

    Yields
    ------
    n_threads : int
        The number of threads in force inside the block.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(2):
    ...     torch.get_num_threads()
    2
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}.")
    previous = torch.get_num_threads()
    if n_threads == previous:
        yield previous
        return
    torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        torch.set_num_threads(previous)


# -- glibc's malloc thresholds --------------------------------------------------------

#: ``mallopt`` parameters (glibc's ``malloc.h``)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: glibc's largest adaptive mmap threshold (``DEFAULT_MMAP_THRESHOLD_MAX``:
#: 32 MiB on 64-bit systems, 16 MiB on 32-bit ones); the adaptive rule keeps
#: the trim threshold at twice the mmap threshold
MMAP_THRESHOLD = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

#: environment variables of glibc's malloc, by their tunable's name
#: (``GLIBC_TUNABLES=glibc.malloc.<name>=...`` sets the same)
_MALLOC_VARIABLES = {
    "MALLOC_TRIM_THRESHOLD_": "trim_threshold",
    "MALLOC_TOP_PAD_": "top_pad",
    "MALLOC_MMAP_MAX_": "mmap_max",
    "MALLOC_MMAP_THRESHOLD_": "mmap_threshold",
}
#: settings that switch the adaptive mmap threshold off while leaving the
#: threshold itself at its 128 KiB start
_FREEZING = frozenset({"trim_threshold", "top_pad", "mmap_max"})


def _initial_environment() -> Mapping[str, str]:
    """Return the environment this process started with.

    glibc reads its malloc settings once, at start-up: ``/proc/self/environ``
    (Linux) holds that environment, while ``os.environ`` may have changed
    since (a Dask ``LocalCluster`` writes the nanny's variables into the
    environment of the process that starts it).
    """
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return os.environ
    environ = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            environ[os.fsdecode(key)] = os.fsdecode(value)
    return environ


def _malloc_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the malloc settings in ``environ``, by tunable name."""
    settings = {
        name: environ[variable]
        for variable, name in _MALLOC_VARIABLES.items()
        if variable in environ
    }
    for item in environ.get("GLIBC_TUNABLES", "").split(":"):
        key, sep, value = item.partition("=")
        prefix, _, name = key.strip().rpartition(".")
        if sep and prefix == "glibc.malloc" and name in _MALLOC_VARIABLES.values():
            settings[name] = value
    return settings


def _parse_size(value: str | None) -> int | None:
    """Read a size as glibc does (decimal, ``0x`` hex), or None."""
    if value is None:
        return None
    try:
        return int(value.strip(), 0)
    except ValueError:
        return None


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """Return glibc's ``mallopt`` through ctypes, or None without glibc."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):  # not glibc (macOS, Windows)
        return None
    if not version or not version.startswith("glibc"):  # musl and others
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def restore_malloc_mmap_threshold(
    environ: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Undo the malloc setting that slows torch down in Dask workers (glibc).

    glibc adapts its ``mmap`` threshold: an allocation larger than the
    threshold (128 KiB at first) is served by a fresh ``mmap``, and when such
    a block is freed the threshold rises to its size (up to 32 MiB), so that
    blocks of that size are reused from then on. Setting any of
    ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``MALLOC_MMAP_MAX_``
    (or their ``GLIBC_TUNABLES``) switches the adaptation off and leaves the
    threshold at 128 KiB: every larger tensor is then mapped, page-faulted in
    and unmapped again, at every training step. Dask's nannies set
    ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers, which made a fit of
    a small grid search take 1.3-1.8x the CPU time, with 280,000-320,000
    page faults instead of a few hundred
    (``benchmarks/results/parallel_malloc.md``).

    When the environment this process started with has such a setting, and
    does not set the mmap threshold itself (``MALLOC_MMAP_THRESHOLD_`` or
    ``glibc.malloc.mmap_threshold``: a deliberate choice, left alone), this
    calls ``mallopt`` to set the mmap threshold to glibc's largest adaptive
    value (``MMAP_THRESHOLD``, 32 MiB on 64-bit systems) and the trim
    threshold to twice that (``TRIM_THRESHOLD``, what the adaptive rule
    sets; a larger trim threshold in the environment is kept). Freed memory
    is still returned to the system, past 64 MiB of free heap instead of 64
    KiB. Elsewhere (no such setting, or no glibc: musl, macOS, Windows) it
    does nothing. :class:`~rince_sklearn.RobustContrastiveEmbedder` calls it
    once per process, when it first fits; call it yourself for other torch
    code in Dask workers.

    Parameters
    ----------
    environ : mapping, default=None
        The environment to read; None reads the one this process started
        with (``/proc/self/environ`` on Linux, else ``os.environ``).

    Returns
    -------
    applied : dict of str to int
        The ``mallopt`` parameters set (``"M_MMAP_THRESHOLD"``,
        ``"M_TRIM_THRESHOLD"``) and their values; empty when nothing was done.

    Examples
    --------
    >>> restore_malloc_mmap_threshold(environ={})  # glibc's defaults: nothing to do
    {}
    """
    if environ is None:
        environ = _initial_environment()
    settings = _malloc_settings(environ)
    if "mmap_threshold" in settings or not _FREEZING & settings.keys():
        return {}
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return {}
    wanted = {"M_MMAP_THRESHOLD": (M_MMAP_THRESHOLD, MMAP_THRESHOLD)}
    trim = _parse_size(settings.get("trim_threshold"))
    if trim is None or trim < TRIM_THRESHOLD:
        wanted["M_TRIM_THRESHOLD"] = (M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    applied = {}
    for name, (parameter, value) in wanted.items():
        if mallopt(parameter, value) == 1:  # 0: glibc refused the value
            applied[name] = value
    return applied


@functools.cache
def _restore_malloc_once() -> dict[str, int]:
    """:func:`restore_malloc_mmap_threshold`, at most once per process."""
    return restore_malloc_mmap_threshold()
