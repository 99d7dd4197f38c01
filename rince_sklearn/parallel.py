"""Thread limits for fits that run side by side in joblib or Dask workers.

``GridSearchCV(n_jobs=k)`` runs ``k`` fits at once, each in a worker process.
If every worker let torch use one intra-op thread per core, ``k`` workers would
run ``k`` times as many threads as there are cores, and the fits would slow each
other down (oversubscription). The process-based engines say how many cores a
worker was given through the environment of the worker process:

* joblib's ``loky`` backend (the default of ``n_jobs``) sets ``OMP_NUM_THREADS``
  to ``cpu_count() // n_jobs`` (or to ``inner_max_num_threads`` from
  :func:`joblib.parallel_config`);
* ``dask.distributed`` nannies set ``OMP_NUM_THREADS=1`` in their workers (the
  ``distributed.nanny.pre-spawn-environ`` setting).

:func:`worker_thread_budget` reads that value, capped by the cores the process
may run on, and :func:`limit_torch_threads` applies it to torch for the span of
a ``with`` block, restoring the previous setting afterwards.
:class:`~rince_sklearn.RobustContrastiveEmbedder` does this around its training
and embedding loops, so a fit uses at most its share of the cores whatever torch
was told at start-up. Importing this module changes nothing.

Examples
--------
>>> import torch
>>> from rince_sklearn.parallel import limit_torch_threads
>>> before = torch.get_num_threads()
>>> with limit_torch_threads(1):
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import torch

__all__ = [
    "available_cores",
    "limit_torch_threads",
    "worker_thread_budget",
    "worker_threads",
]

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
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}.")
    torch.set_num_threads(n_threads)
    try:
        yield n_threads
    finally:
        torch.set_num_threads(previous)


def worker_threads() -> AbstractContextManager[int]:
    """Limit torch to :func:`worker_thread_budget` inside a ``with`` block.

    Shorthand for ``limit_torch_threads(worker_thread_budget())``, used by the
    estimator around training and inference.

    Returns
    -------
    context : context manager
        Yields the number of threads in force.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "1"}):
    ...     with worker_threads() as n_threads:
    ...         n_threads
    1
    """
    return limit_torch_threads(worker_thread_budget())
