"""Scaling out on this machine: parallel and Dask grid search, 2-process training.

Three comparisons, each a ratio of medians measured in the same run:

1. ``GridSearchCV`` over 6 settings (``q`` x ``lam``) x 2 folds of
   RobustContrastiveEmbedder on scikit-learn's digits (64 tabular features):
   ``n_jobs=2`` (joblib's loky workers, each limited to its share of the cores:
   1 torch thread here) against ``n_jobs=1`` with 1 torch thread; no refit,
   so the 12 fits are all that is timed.
2. The same search through joblib's Dask backend on a ``LocalCluster`` of 2
   worker processes x 1 thread (loopback), against ``n_jobs=2``.
3. Training throughput (samples per second) of DistributedEmbedder on 2
   processes (gloo, 1 thread each) against 1 process, same global batch.

Worker pools (loky, the Dask cluster) are started before timing and reused,
as a long-lived cluster would be; process start-up of the distributed runs is
excluded (each process times its own ``fit``). The main process uses 1 torch
thread. Other engineers share the 2 cores, so absolute times are noisy; the
ratios come from interleaved repeats.

Run:  python benchmarks/bench_parallel.py [--repeats 3]
Writes benchmarks/results/parallel.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler

import rince_sklearn
from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.distributed import DistributedEmbedder, rank, run_local

RESULTS = Path(__file__).parent / "results" / "parallel.md"
GRID = {"q": [0.1, 0.5, 1.0], "lam": [0.01, 0.1]}
SEARCH_PARAMS = dict(
    embedding_dim=32,
    projection_dim=32,
    encoder_kwargs={"hidden_dims": (256, 256)},
    batch_size=128,
    # enough work per fit (about a second) that dispatching it to a worker
    # process is a small part of it, as in real searches
    max_epochs=30,
    random_state=0,
)
DDP_PARAMS = dict(
    embedding_dim=64,
    projection_dim=64,
    encoder_kwargs={"hidden_dims": (1024, 1024)},
    batch_size=512,
    max_epochs=3,
    random_state=0,
)


def digits() -> np.ndarray:
    X, _ = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32)


def search(X: np.ndarray, n_jobs: int) -> float:
    start = time.perf_counter()
    GridSearchCV(
        RobustContrastiveEmbedder(**SEARCH_PARAMS),
        GRID,
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
        refit=False,  # the 12 fits only: a refit would run alone at the end
    ).fit(X)
    return time.perf_counter() - start


def runnable() -> int:
    """Tasks runnable on the machine right now (from /proc/loadavg)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def wait_for_quiet(max_wait: float = 45.0) -> None:
    """Wait (at most max_wait s) until few other tasks compete for the cores."""
    deadline = time.monotonic() + max_wait
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        quiet = quiet + 1 if runnable() <= 2 else 0
        time.sleep(1.0)


class LoadSampler:
    """Mean number of runnable tasks on the machine while a block runs."""

    def __enter__(self) -> LoadSampler:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.samples.append(runnable())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.mean(self.samples) if self.samples else float("nan")


def _ddp_worker(X: np.ndarray, out: str) -> None:
    torch.set_num_threads(1)
    emb = DistributedEmbedder(**DDP_PARAMS)
    start = time.perf_counter()
    emb.fit(X)
    elapsed = time.perf_counter() - start
    if rank() == 0:
        Path(out).write_text(str(elapsed))


def ddp_throughput(X: np.ndarray, n_procs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "time.txt")
        run_local(_ddp_worker, n_procs, args=(X, out))
        elapsed = float(Path(out).read_text())
    return DDP_PARAMS["max_epochs"] * len(X) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X = digits()
    import distributed

    times: dict[str, list[float]] = {}

    loads: dict[str, list[float]] = {}

    def timed(name: str, fn) -> None:
        wait_for_quiet()
        # runnable tasks on the whole machine (other engineers' work included)
        with LoadSampler() as load:
            value = fn()
        times.setdefault(name, []).append(value)
        loads.setdefault(name, []).append(load.mean)
        print(f"{name}: {value:.2f} (runnable {load.mean:.1f})", flush=True)

    # loky first, with no Dask cluster alive: its idle worker processes and
    # client threads took the second core from loky's workers (n_jobs=2 ran
    # at 1.06x of n_jobs=1 with a cluster open, 1.8x without)
    # the loky pool restarts when its settings change: a small untimed search
    # before the timed ones makes sure its workers are running
    timed("search n_jobs=2, cold start (X[:200])", lambda: search(X[:200], 2))
    for _ in range(args.repeats):
        timed("search n_jobs=1, 1 thread", lambda: search(X, 1))
        timed("search n_jobs=2, 1 thread/worker", lambda: search(X, 2))
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        with joblib.parallel_config(backend="dask"):
            search(X[:200], n_jobs=-1)  # the Dask workers import everything
            for _ in range(args.repeats):
                timed("search dask 2x1", lambda: search(X, -1))
    finally:
        client.close()
        cluster.close()
    for _ in range(args.repeats):
        timed("train 1 process (samples/s)", lambda: ddp_throughput(X, 1))
        timed("train 2 processes (samples/s)", lambda: ddp_throughput(X, 2))

    med = {name: statistics.median(values) for name, values in times.items()}
    base = med["search n_jobs=1, 1 thread"]
    par = med["search n_jobs=2, 1 thread/worker"]
    lines = [
        "# Scaling out: parallel and Dask grid search, 2-process training",
        "",
        f"Command: `python benchmarks/bench_parallel.py --repeats {args.repeats}`",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or 'cpu'}), "
        f"torch {torch.__version__}, joblib {joblib.__version__}, dask "
        f"{distributed.__version__}, rince_sklearn {rince_sklearn.__version__}. "
        "The cores were shared with other work while this ran. Medians of "
        f"{args.repeats} interleaved repeats.",
        "",
        "## GridSearchCV: 6 settings x 2 folds (12 fits) on digits",
        "",
        f"Each fit: MLP (256, 256), {SEARCH_PARAMS['max_epochs']} epochs, batch "
        f"{SEARCH_PARAMS['batch_size']}, 898 or 899 samples, no refit. Worker "
        "pools were started before timing.",
        "",
        "| configuration | wall time (s) | speedup vs n_jobs=1, 1 thread |",
        "| --- | ---: | ---: |",
    ]
    for name, value in med.items():
        if name.startswith("search") and "cold" not in name:
            lines.append(
                f"| {name.removeprefix('search ')} | {value:.2f} | "
                f"{base / value:.2f}x |"
            )
    dask = med["search dask 2x1"]
    one = med["train 1 process (samples/s)"]
    two = med["train 2 processes (samples/s)"]
    lines += [
        "",
        f"**n_jobs=2 against n_jobs=1: {base / par:.2f}x** (target: at least "
        "1.6x on 2 cores).",
        "",
        "Starting the two loky workers (spawn, imports) is not in these "
        "times: a first search on 200 samples with a fresh pool took "
        f"{med['search n_jobs=2, cold start (X[:200])']:.2f} s.",
        "",
        "## Dask backend against n_jobs=2",
        "",
        f"Dask (LocalCluster, 2 processes x 1 thread, loopback): {dask:.2f} s; "
        f"n_jobs=2 (loky): {par:.2f} s; **Dask / loky wall time = "
        f"{dask / par:.2f}**.",
        "",
        "## Data-parallel training: 2 processes against 1, same global batch",
        "",
        f"DistributedEmbedder, MLP (1024, 1024), global batch "
        f"{DDP_PARAMS['batch_size']}, {DDP_PARAMS['max_epochs']} epochs on "
        "digits, gloo on loopback, 1 torch thread per process, fit time only.",
        "",
        "| processes | samples/s |",
        "| --- | ---: |",
        f"| 1 | {one:.0f} |",
        f"| 2 | {two:.0f} |",
        "",
        f"**Throughput ratio 2 processes / 1 = {two / one:.2f}x.**",
        "",
        "Each process embeds half of every view, but it also draws and augments "
        "the whole global batch, computes the loss on all anchors, and runs "
        "two collectives per batch-norm layer and view plus a gradient "
        "all-reduce per step; on 2 shared cores that work does not shrink "
        "with more processes, so the ratio stays below 2. On separate machines "
        "or GPUs the encoder, not this overhead, dominates.",
        "",
        "Raw times (s, or samples/s), each with the mean number of runnable "
        "tasks on the machine while it ran (ours included; on 2 cores, more "
        "than our own 1 or 2 means other work competed for the cores). Each "
        "measurement waited up to 45 s for the machine to quieten first:",
        "",
    ]
    for name, values in times.items():
        lines.append(
            f"- {name}: "
            + ", ".join(
                f"{v:.2f} (runnable {load:.1f})"
                for v, load in zip(values, loads[name], strict=True)
            )
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
