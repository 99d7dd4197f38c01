"""A local launcher: a process group of new processes on this machine."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["run_local"]


def _loopback_interface() -> str | None:
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None
    for name in names:
        if name.startswith("lo"):
            return name
    return None  # pragma: no cover


def _run_worker(
    local_rank: int,
    n_procs: int,
    store: str,
    backend: str,
    timeout_s: float,
    fn: Callable[..., Any],
    args: tuple,
) -> None:
    interface = _loopback_interface()
    if backend == "gloo" and interface and "GLOO_SOCKET_IFNAME" not in os.environ:
        os.environ["GLOO_SOCKET_IFNAME"] = interface  # stay on this machine
    dist.init_process_group(
        backend,
        init_method=f"file://{store}",
        rank=local_rank,
        world_size=n_procs,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def run_local(
    fn: Callable[..., Any],
    n_procs: int = 2,
    args: tuple = (),
    *,
    backend: str = "gloo",
    timeout_s: float = 300.0,
) -> None:
    """Run ``fn(*args)`` in ``n_procs`` new processes forming a process group.

    The processes meet through a file in a temporary folder and (with
    ``gloo``) talk over the loopback interface only, so nothing leaves this
    machine. ``fn`` must be importable (defined at the top level of a module):
    the processes are started with ``spawn``. It returns nothing to the
    caller; write results to files (rank 0, say). For several machines use
    ``torchrun`` instead.

    Parameters
    ----------
    fn : callable
        Called once in every process, inside the initialised group; it reads
        its rank with :func:`rank`.
    n_procs : int, default=2
        Number of processes.
    args : tuple, default=()
        Arguments of ``fn`` (picklable).
    backend : {"gloo", "nccl"}, default="gloo"
        ``"nccl"`` needs one GPU per process.
    timeout_s : float, default=300.0
        How long a collective may wait before the group gives up.

    Raises
    ------
    torch.multiprocessing.ProcessRaisedException
        When a process raised; the message carries its traceback.

    Examples
    --------
    ``train`` must live in an importable module (not in ``__main__`` of an
    interactive session):

    >>> def train(X):  # in mymodule.py
    ...     emb = DistributedEmbedder(batch_size=64, random_state=0).fit(X)
    ...     if rank() == 0:
    ...         emb.save("embedder.pt")
    >>> run_local(train, n_procs=2, args=(X,))  # doctest: +SKIP
    """
    if n_procs < 1:
        raise ValueError(f"n_procs must be at least 1, got {n_procs}.")
    with tempfile.TemporaryDirectory(prefix="rince_dist_") as folder:
        store = os.path.join(folder, "store")
        torch.multiprocessing.spawn(
            _run_worker,
            args=(n_procs, store, backend, timeout_s, fn, args),
            nprocs=n_procs,
            join=True,
        )
