"""Scaling out on this machine: parallel and Dask grid search, 2-process training.

Three comparisons, each a ratio of medians measured in the same run:

1. ``GridSearchCV`` over 6 settings (``q`` x ``lam``) x 2 folds of
   RobustContrastiveEmbedder on scikit-learn's digits (64 tabular features):
   ``n_jobs=2`` (joblib's loky workers, each limited to its share of the cores:
   1 torch thread here) against ``n_jobs=1`` with 1 torch thread; no refit,
   so the 12 fits are all that is timed.
2. The same search through joblib's Dask backend on a ``LocalCluster`` of 2
   worker processes x 1 thread (loopback), against ``n_jobs=2``.
3. ``--part train``: training throughput of DistributedEmbedder on 2
   processes (gloo, 1 thread each) against 1 process, same global batch, for
   tabular data and images, with each process's CPU time in augmentation and
   loss, and DDP against a manual all-reduce of the gradients.
4. ``--part malloc``: one search fit in a fresh process with and without the
   ``MALLOC_TRIM_THRESHOLD_`` that Dask's nannies set (CPU times, page faults),
   with the estimator's own remedy (``restore_malloc_mmap_threshold``) and
   with it switched off.
5. ``--part dask``: the search on a ``LocalCluster`` of 2 workers x 1 thread
   started with Dask's defaults (no configuration) against ``n_jobs=1`` and
   against a cluster with ``MALLOC_TRIM_THRESHOLD_`` unset (the recipe that
   the estimator's remedy replaces), interleaved; the same ``cv_results_``,
   the fits' CPU time, and the workers' page faults.

Worker pools (loky, the Dask cluster) are started before timing and reused,
as a long-lived cluster would be; process start-up of the distributed runs is
excluded (each process times its own ``fit``). The main process uses 1 torch
thread. Other engineers share the 2 cores, so absolute times are noisy; the
ratios come from interleaved repeats.

Run:  python benchmarks/bench_parallel.py [--part search|train|malloc|dask]
      [--repeats 3] [--max-epochs 30]
Writes benchmarks/results/parallel.md (search), parallel_training.md (train),
parallel_malloc.md (malloc) or parallel_dask.md (dask).
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
from rince_sklearn.distributed import (
    DistributedContrastiveNet,
    DistributedEmbedder,
    rank,
    run_local,
)

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
#: training: tabular rows are 4096 Fashion-MNIST images read as 784 pixel
#: columns, with a global batch of 2048 (contrastive training wants large
#: batches; with digits' 1797 rows and batches of 512 the optimiser step and
#: the communication, which do not shrink with more processes, were a third
#: of the work)
TABULAR_TRAIN_PARAMS = dict(
    embedding_dim=64,
    projection_dim=64,
    encoder_kwargs={"hidden_dims": (1024, 1024)},
    batch_size=2048,
    max_epochs=2,
    random_state=0,
)
#: images: 2048 Fashion-MNIST images (28x28), the default image encoder,
#: embedding and augmentations; 2 epochs (8 optimiser steps)
IMAGE_PARAMS = dict(
    batch_size=512,
    max_epochs=2,
    random_state=0,
)


class TimedNet(DistributedContrastiveNet):
    """The distributed net, timing each process's augmentation and loss."""

    # CPU seconds of the training thread (time.thread_time): the work each
    # process does, whatever else runs on the shared cores; waiting in a
    # collective for another process costs no CPU time and is not counted

    def initialize_module(self):
        self.phase_times_ = {"augment": 0.0, "loss": 0.0}
        return super().initialize_module()

    def make_view(self, batch):
        start = time.thread_time()
        try:
            return super().make_view(batch)
        finally:
            self.phase_times_["augment"] += time.thread_time() - start

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        start = time.thread_time()
        try:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        finally:
            self.phase_times_["loss"] += time.thread_time() - start


class ManualSyncNet(TimedNet):
    """Gradients summed by one all-reduce after backward, instead of DDP."""

    gradient_sync = "manual"


class TimedEmbedder(DistributedEmbedder):
    _net_class = TimedNet


class ManualSyncEmbedder(DistributedEmbedder):
    _net_class = ManualSyncNet


def digits() -> np.ndarray:
    X, _ = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32)


#: best parameters of the last search (the same whatever runs the fits)
BEST: dict[str, dict] = {}
#: the last search's mean test scores, one per setting
SCORES: dict[str, np.ndarray] = {}


def search(X: np.ndarray, n_jobs: int) -> float:
    start = time.perf_counter()
    grid = GridSearchCV(
        RobustContrastiveEmbedder(**SEARCH_PARAMS),
        GRID,
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
        refit=False,  # the 12 fits only: a refit would run alone at the end
    ).fit(X)
    BEST["last"] = grid.best_params_
    SCORES["last"] = grid.cv_results_["mean_test_score"]
    return time.perf_counter() - start


#: Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers (the
#: ``distributed.nanny.pre-spawn-environ`` setting). Setting it at all switches
#: off glibc's adaptive mmap threshold, so every tensor over 128 KiB is a fresh
#: mmap that is page-faulted in and unmapped again: here +0.7 s of system time
#: and 320,000 page faults per 1.5 s fit. None unsets it.
DASK_TORCH_ENVIRON = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


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


def fashion(n: int = 2048) -> np.ndarray:
    from rince_sklearn.datasets import load_fashion_mnist

    X, _ = load_fashion_mnist(return_X_y=True)
    return X[:n]


#: batch-norm variants that ``ddp_run`` can time (``diagnose_parallel_bn.py``):
#: "gathered" is the library's; the others are diagnoses, not equivalent models
BATCHNORM_MODES = {
    "gathered": "global statistics (the library's)",
    "uncommunicated": "the gathered layers' computation, sums not all-reduced",
    "local": "plain batch norms with each process's own statistics",
}


def _ddp_worker(
    X: np.ndarray, params: dict, sync: str, out: str, batchnorm: str = "gathered"
) -> None:
    torch.set_num_threads(1)
    from rince_sklearn.distributed import _batchnorm

    if batchnorm == "local":  # plain layers: per-process statistics
        _batchnorm._GATHERED.clear()
    elif batchnorm == "uncommunicated":  # same kernels, local sums only
        _batchnorm._summed = lambda x: x.detach().clone()
    estimator = ManualSyncEmbedder if sync == "manual" else TimedEmbedder
    # warm-up: the first fit in a fresh process pays one-off costs (lazy
    # imports, first kernel calls, allocator growth) of about 1.5 s here,
    # the same for 1 or 2 processes; time a second fit
    warm = {**params, "max_epochs": 1}
    estimator(**warm).fit(X[: 2 * params["batch_size"]])
    emb = estimator(**params)
    start, cpu = time.perf_counter(), time.process_time()
    emb.fit(X)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    phases = emb.net_.phase_times_
    Path(f"{out}.{rank()}").write_text(
        f"{elapsed} {cpu} {phases['augment']} {phases['loss']}"
    )


def ddp_run(
    X: np.ndarray,
    params: dict,
    n_procs: int,
    sync: str = "ddp",
    batchnorm: str = "gathered",
) -> dict:
    """Samples/s of a fit, and rank 0's seconds in augmentation and loss.

    ``batchnorm``: a key of ``BATCHNORM_MODES`` (all but "gathered" are
    diagnoses, ``diagnose_parallel_bn.py``).
    """
    if batchnorm not in BATCHNORM_MODES:  # a typo would time the library's layers
        raise ValueError(
            f"batchnorm must be one of {list(BATCHNORM_MODES)}, got {batchnorm!r}"
        )
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "time.txt")
        run_local(_ddp_worker, n_procs, args=(X, params, sync, out, batchnorm))
        ranks = [
            list(map(float, Path(f"{out}.{r}").read_text().split()))
            for r in range(n_procs)
        ]
    samples = params["max_epochs"] * len(X)
    elapsed, _, augment, loss = ranks[0]
    return {
        "samples/s": samples / elapsed,
        # per CPU second of the busiest process: the wall throughput on cores
        # of its own, up to the time spent waiting for each other
        "samples/cpu-s": samples / max(r[1] for r in ranks),
        "augment s": augment,
        "loss s": loss,
    }


TRAIN_RESULTS = Path(__file__).parent / "results" / "parallel_training.md"


def train_main(repeats: int) -> None:
    """2 processes x 1 thread against 1 x 1: throughput and per-phase times."""
    torch.set_num_threads(1)
    pixels = fashion(4096).reshape(4096, -1).astype(np.float32) / 255
    data = {"tabular": StandardScaler().fit_transform(pixels), "images": fashion()}
    params = {"tabular": TABULAR_TRAIN_PARAMS, "images": IMAGE_PARAMS}
    configs = [
        ("tabular", 1, "ddp"),
        ("tabular", 2, "ddp"),
        ("tabular", 2, "manual"),
        ("images", 1, "ddp"),
        ("images", 2, "ddp"),
    ]
    runs: dict[tuple, list[dict]] = {}
    for _ in range(repeats):  # interleaved: every configuration once per round
        for kind, n_procs, sync in configs:
            wait_for_quiet(10.0)
            with LoadSampler() as load:
                result = ddp_run(data[kind], params[kind], n_procs, sync)
            result["runnable"] = load.mean
            result["load1"] = os.getloadavg()[0]
            runs.setdefault((kind, n_procs, sync), []).append(result)
            print(kind, n_procs, sync, result, flush=True)

    def med(key: tuple, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    lines = [
        "# Data-parallel training: 2 processes against 1, same global batch",
        "",
        f"Command: `python benchmarks/bench_parallel.py --part train --repeats "
        f"{repeats}`",
        "",
        f"Machine: {os.cpu_count()} cores, torch {torch.__version__}, gloo on "
        "loopback, 1 torch thread per process, fit time only (each process "
        f"times its own fit). Medians of {repeats} interleaved repeats. Other "
        "work on the 2 cores shows in the load averages below: absolute "
        "numbers are noisy, and a 2-process run competes with any such load "
        "for the same 2 cores.",
        "",
        "- tabular: 4096 Fashion-MNIST images read as rows of 784 "
        "standardised pixel columns, MLP (1024, 1024), global batch 2048, 2 "
        "epochs, SCARF views (donors gathered from the global batch).",
        "- images: 2048 Fashion-MNIST images (28 x 28), the image defaults "
        "(encoder, embedding, augmentations), global batch 512, 2 epochs.",
        "- every process first fits once on two batches, untimed: the first "
        "fit in a fresh process pays about 1.5 s of one-off costs.",
        "",
        "Throughput is measured two ways: samples per second of wall time "
        "(what the shared machine gave), and samples per CPU second of the "
        "busiest process (what each process had to compute; on cores of their "
        "own, processes would run at about this rate, less the time they wait "
        "for each other in collectives). Phase times are CPU seconds of rank "
        "0's training thread in augmentation (`make_view`, both views, "
        "collectives included) and loss (`get_loss`, all-reduce included).",
        "",
        "| data | processes | gradient sync | samples/s (wall) | vs 1 | "
        "samples/cpu-s | vs 1 | rank 0 augment s | rank 0 loss s | "
        "augment+loss vs 1 |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, n_procs, sync in configs:
        key = (kind, n_procs, sync)
        one = (kind, 1, "ddp")
        phases = med(key, "augment s") + med(key, "loss s")
        phases_one = med(one, "augment s") + med(one, "loss s")
        lines.append(
            f"| {kind} | {n_procs} | {sync if n_procs > 1 else '-'} | "
            f"{med(key, 'samples/s'):.0f} | "
            f"{med(key, 'samples/s') / med(one, 'samples/s'):.2f}x | "
            f"{med(key, 'samples/cpu-s'):.0f} | "
            f"{med(key, 'samples/cpu-s') / med(one, 'samples/cpu-s'):.2f}x | "
            f"{med(key, 'augment s'):.3f} | {med(key, 'loss s'):.3f} | "
            f"{phases / phases_one:.2f}x |"
        )
    lines += [
        "",
        "Raw runs (samples/s, samples/cpu-s, rank 0's augmentation and loss "
        "CPU seconds, mean "
        "runnable tasks on the machine during the run, 1-minute load average "
        "after it):",
        "",
    ]
    for (kind, n_procs, sync), results in runs.items():
        for r in results:
            lines.append(
                f"- {kind}, {n_procs} process(es), {sync}: "
                f"{r['samples/s']:.0f} samples/s, "
                f"{r['samples/cpu-s']:.0f} samples/cpu-s, "
                f"augment {r['augment s']:.3f} s, "
                f"loss {r['loss s']:.3f} s (runnable {r['runnable']:.1f}, "
                f"load {r['load1']:.1f})"
            )
    TRAIN_RESULTS.write_text("\n".join(lines) + "\n")
    print(TRAIN_RESULTS.read_text())


MALLOC_RESULTS = Path(__file__).parent / "results" / "parallel_malloc.md"


def _one_fit_usage(remedy: bool = True) -> None:
    """Print the CPU times and page faults of one search fit (second fit).

    ``remedy=False`` switches off the estimator's call of
    ``restore_malloc_mmap_threshold`` (as before it existed).
    """
    import resource

    if not remedy:
        import rince_sklearn.estimator

        rince_sklearn.estimator._restore_malloc_once = dict  # type: ignore
    torch.set_num_threads(1)
    X = digits()[:900]
    RobustContrastiveEmbedder(**{**SEARCH_PARAMS, "max_epochs": 2}).fit(X)
    before = resource.getrusage(resource.RUSAGE_SELF)
    RobustContrastiveEmbedder(**SEARCH_PARAMS).fit(X)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        after.ru_utime - before.ru_utime,
        after.ru_stime - before.ru_stime,
        after.ru_minflt - before.ru_minflt,
    )


def malloc_main(repeats: int) -> None:
    """One fit in a fresh process, with and without Dask's malloc setting."""
    import subprocess
    import sys

    rows = []
    for _ in range(repeats):
        for label, extra, remedy in [
            ("unset", {}, True),
            ("65536", {"MALLOC_TRIM_THRESHOLD_": "65536"}, True),
            ("65536, remedy off", {"MALLOC_TRIM_THRESHOLD_": "65536"}, False),
        ]:
            env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
            env.update(extra)
            code = f"import bench_parallel as b; b._one_fit_usage({remedy})"
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=Path(__file__).parent,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            user, system, faults = float(out[0]), float(out[1]), int(out[2])
            rows.append((label, user, system, faults, os.getloadavg()[0]))
            print(rows[-1], flush=True)
    lines = [
        "# One search fit with and without MALLOC_TRIM_THRESHOLD_ "
        "(Dask's nanny sets it)",
        "",
        "Command: `python benchmarks/bench_parallel.py --part malloc "
        f"--repeats {repeats}`",
        "",
        "Each row: a fresh Python process fits the search's estimator once "
        "untimed, then once more, measured with `resource.getrusage` (CPU "
        "seconds and minor page faults are not inflated by other work on the "
        "machine the way wall time is). Setting the variable at all switches "
        "off glibc's adaptive mmap threshold, so every tensor over 128 KiB is "
        "a fresh mmap, page-faulted in and unmapped when freed. The estimator "
        "undoes it (`rince_sklearn.threads.restore_malloc_mmap_threshold`, "
        "called once per process at the first fit); `remedy off` switches "
        "that call off, as before it existed.",
        "",
        "| MALLOC_TRIM_THRESHOLD_ | user s | system s | minor page faults | "
        "load average |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} | {r[4]:.1f} |" for r in rows
    ]
    MALLOC_RESULTS.write_text("\n".join(lines) + "\n")
    print(MALLOC_RESULTS.read_text())


DASK_RESULTS = Path(__file__).parent / "results" / "parallel_dask.md"
DEFAULTS = "dask 2x1, Dask's defaults"
RECIPE = "dask 2x1, MALLOC_TRIM_THRESHOLD_ unset"


def _worker_usage() -> tuple[int, float]:
    """Minor page faults and CPU seconds of this (worker) process so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_utime + usage.ru_stime


def _worker_malloc() -> tuple[str | None, dict]:
    """The worker's initial MALLOC_TRIM_THRESHOLD_ and the estimator's remedy."""
    from rince_sklearn.threads import _initial_environment, _restore_malloc_once

    return (
        _initial_environment().get("MALLOC_TRIM_THRESHOLD_"),
        _restore_malloc_once(),
    )


def dask_main(repeats: int, quiet_wait: float) -> None:
    """The search on a LocalCluster with Dask's defaults against n_jobs=1."""
    import dask
    import distributed

    torch.set_num_threads(1)
    X = digits()
    times: dict[str, list[float]] = {}
    loads: dict[str, list[float]] = {}
    scores: dict[str, list[np.ndarray]] = {}
    faults: dict[str, list[int]] = {}
    cpu: dict[str, list[float]] = {}
    # the recipe's cluster starts first: a nanny also writes pre-spawn-environ
    # into os.environ of this process, which later workers would inherit
    clusters, clients = {}, {}
    for label, config in [(RECIPE, DASK_TORCH_ENVIRON), (DEFAULTS, {})]:
        with dask.config.set(config):
            clusters[label] = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        clients[label] = distributed.Client(clusters[label], set_as_default=False)

    def timed(name: str, fn) -> None:
        wait_for_quiet(quiet_wait)
        with LoadSampler() as load:
            start = time.process_time()
            value = fn()
            if name.startswith("n_jobs=1"):  # the fits ran in this process
                cpu.setdefault(name, []).append(time.process_time() - start)
        times.setdefault(name, []).append(value)
        loads.setdefault(name, []).append(load.mean)
        scores.setdefault(name, []).append(SCORES["last"])
        print(f"{name}: {value:.2f} s (runnable {load.mean:.1f})", flush=True)

    def on_dask(label: str) -> float:
        client = clients[label]
        before = client.run(_worker_usage)
        with joblib.parallel_config(backend="dask", client=client):
            seconds = search(X, -1)
        after = client.run(_worker_usage)
        faults.setdefault(label, []).append(
            sum(after[w][0] - before[w][0] for w in after)
        )
        cpu.setdefault(label, []).append(sum(after[w][1] - before[w][1] for w in after))
        return seconds

    try:
        for client in clients.values():
            with joblib.parallel_config(backend="dask", client=client):
                search(X[:200], n_jobs=-1)  # the workers import everything
        for _ in range(repeats):
            timed("n_jobs=1, 1 thread", lambda: search(X, 1))
            for label in clients:
                timed(label, lambda label=label: on_dask(label))
        malloc = {label: c.run(_worker_malloc) for label, c in clients.items()}
    finally:
        for label in clients:
            clients[label].close()
            clusters[label].close()
    med = {name: statistics.median(values) for name, values in times.items()}
    cpu_med = {name: statistics.median(values) for name, values in cpu.items()}
    base, default = med["n_jobs=1, 1 thread"], med[DEFAULTS]
    reference = scores["n_jobs=1, 1 thread"][0]
    same = all(np.array_equal(s, reference) for v in scores.values() for s in v)
    n_fits = len(GRID["q"]) * len(GRID["lam"]) * 2
    lines = [
        "# Dask without a recipe: GridSearchCV on a default LocalCluster",
        "",
        f"Command: `python benchmarks/bench_parallel.py --part dask --repeats "
        f"{repeats} --max-epochs {SEARCH_PARAMS['max_epochs']} --quiet-wait "
        f"{quiet_wait:.0f}`",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or 'cpu'}), "
        f"torch {torch.__version__}, joblib {joblib.__version__}, dask "
        f"{distributed.__version__}, rince_sklearn {rince_sklearn.__version__}. "
        "The cores were shared with other work while this ran. Medians of "
        f"{repeats} interleaved repeats.",
        "",
        f"The search of `parallel.md` ({n_fits} fits: 6 settings x 2 folds on "
        f"digits, MLP (256, 256), {SEARCH_PARAMS['max_epochs']} epochs, no "
        "refit) on a `LocalCluster(n_workers=2, threads_per_worker=1)` started "
        "without any Dask configuration, so its nannies set "
        "`MALLOC_TRIM_THRESHOLD_=65536` in the workers, against `n_jobs=1` in "
        "this process, and against a cluster started with the former recipe "
        "(`MALLOC_TRIM_THRESHOLD_` unset in the workers); both clusters open "
        "side by side.",
        "",
        "| configuration | wall time (s) | speedup vs n_jobs=1 | CPU time of the "
        "fits (s) | / n_jobs=1 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, value in med.items():
        lines.append(
            f"| {name} | {value:.2f} | {base / value:.2f}x | {cpu_med[name]:.2f} "
            f"| {cpu_med[name] / cpu_med['n_jobs=1, 1 thread']:.2f} |"
        )
    lines += [
        "",
        f"**Dask with its defaults against n_jobs=1: {base / default:.2f}x** "
        "in wall time; against the recipe's cluster: "
        f"{med[RECIPE] / default:.2f}x in wall time, **CPU time of the fits "
        f"defaults / recipe: {cpu_med[DEFAULTS] / cpu_med[RECIPE]:.2f}**. "
        "The fits' CPU time (this process's for n_jobs=1, both workers' for "
        "Dask, which also counts the workers' own task handling) is the "
        "figure that other work on the machine does not stretch. The same "
        f"mean test scores in every search: {same} "
        f"({[round(float(v), 4) for v in reference]}).",
        "",
        "In the workers, their initial MALLOC_TRIM_THRESHOLD_ and what the "
        "estimator set with mallopt, and the minor page faults of both "
        "workers per search (a fit with the threshold frozen took about "
        "300,000, `parallel_malloc.md`):",
        "",
    ]
    for label in clients:
        lines.append(
            f"- {label}: {sorted(set(map(str, malloc[label].values())))}; "
            f"page faults {', '.join(str(f) for f in faults[label])} "
            f"({statistics.median(faults[label]) / n_fits:.0f} per fit)"
        )
    lines += [
        "",
        "Raw times (s), each with the mean number of runnable tasks on the "
        "machine (ours included):",
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
    DASK_RESULTS.write_text("\n".join(lines) + "\n")
    print(DASK_RESULTS.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--part",
        choices=["search", "train", "malloc", "dask"],
        default="search",
        help="search: GridSearchCV with loky and Dask (parallel.md); train: "
        "2-process training (parallel_training.md); malloc: one fit with and "
        "without Dask's MALLOC_TRIM_THRESHOLD_ (parallel_malloc.md); dask: "
        "the search on a default LocalCluster against n_jobs=1 "
        "(parallel_dask.md)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=SEARCH_PARAMS["max_epochs"],
        help="epochs of each search fit (search, dask)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=45.0,
        help="seconds to wait at most, before each measurement, for the "
        "machine to quieten",
    )
    args = parser.parse_args()
    SEARCH_PARAMS["max_epochs"] = args.max_epochs
    if args.part == "dask":
        dask_main(args.repeats, args.quiet_wait)
        return
    if args.part == "train":
        train_main(args.repeats)
        return
    if args.part == "malloc":
        malloc_main(args.repeats)
        return
    torch.set_num_threads(1)
    X = digits()
    import dask
    import distributed

    times: dict[str, list[float]] = {}

    loads: dict[str, list[float]] = {}
    best: dict[str, list[dict]] = {}
    environ: dict[str, dict] = {}

    def timed(name: str, fn) -> None:
        wait_for_quiet(args.quiet_wait)
        # runnable tasks on the whole machine (other engineers' work included)
        with LoadSampler() as load:
            value = fn()
        times.setdefault(name, []).append(value)
        loads.setdefault(name, []).append(load.mean)
        best.setdefault(name, []).append(dict(BEST.get("last", {})))
        print(
            f"{name}: {value:.2f} (runnable {load.mean:.1f}, load "
            f"{os.getloadavg()[0]:.1f}) best {BEST.get('last')}",
            flush=True,
        )

    # loky first, with no Dask cluster alive: its idle worker processes and
    # client threads took the second core from loky's workers (n_jobs=2 ran
    # at 1.06x of n_jobs=1 with a cluster open, 1.8x without)
    # the loky pool restarts when its settings change: a small untimed search
    # before the timed ones makes sure its workers are running
    timed("search n_jobs=2, cold start (X[:200])", lambda: search(X[:200], 2))
    for _ in range(args.repeats):
        timed("search n_jobs=1, 1 thread", lambda: search(X, 1))
        timed("search n_jobs=2, 1 thread/worker", lambda: search(X, 2))
    # the cluster without the malloc setting starts first: a nanny also sets
    # pre-spawn-environ in os.environ of the process that runs it (here, this
    # one), and later-spawned workers would inherit it
    clusters, clients = {}, {}
    for label, config in [("dask 2x1, fixed", DASK_TORCH_ENVIRON), ("dask 2x1", {})]:
        with dask.config.set(config):
            clusters[label] = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        clients[label] = distributed.Client(clusters[label], set_as_default=False)
        environ[label] = clients[label].run(
            lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")
        )
    try:
        for client in clients.values():
            with joblib.parallel_config(backend="dask", client=client):
                search(X[:200], n_jobs=-1)  # the Dask workers import everything
        for _ in range(args.repeats):
            for label, client in clients.items():
                with joblib.parallel_config(backend="dask", client=client):
                    timed(f"search {label}", lambda: search(X, -1))
    finally:
        for label in clients:
            clients[label].close()
            clusters[label].close()

    med = {name: statistics.median(values) for name, values in times.items()}
    base = med["search n_jobs=1, 1 thread"]
    par = med["search n_jobs=2, 1 thread/worker"]
    lines = [
        "# Scaling out: parallel and Dask grid search",
        "",
        "Command: `python benchmarks/bench_parallel.py --repeats "
        f"{args.repeats} --quiet-wait {args.quiet_wait:.0f}"
        + (f" --max-epochs {args.max_epochs}`" if args.max_epochs != 30 else "`"),
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
    fixed = med["search dask 2x1, fixed"]
    same_best = {
        name: all(b == best["search n_jobs=1, 1 thread"][0] for b in found)
        for name, found in best.items()
        if "cold" not in name
    }
    lines += [
        "",
        f"**n_jobs=2 against n_jobs=1: {base / par:.2f}x** (target: at least "
        "1.6x on 2 cores).",
        "",
        "Starting the two loky workers (spawn, imports) is not in these "
        "times: a first search on 200 samples with a fresh pool took "
        f"{med['search n_jobs=2, cold start (X[:200])']:.2f} s.",
        "",
        "## Dask backend",
        "",
        "LocalCluster, 2 worker processes x 1 thread, loopback; both clusters "
        "open side by side, searches interleaved.",
        "",
        f"- Dask's default worker environment (MALLOC_TRIM_THRESHOLD_ = "
        f"{sorted(set(environ['dask 2x1'].values()))}): {dask:.2f} s, "
        f"**{base / dask:.2f}x** n_jobs=1.",
        f"- MALLOC_TRIM_THRESHOLD_ unset in the workers (values "
        f"{sorted(set(environ['dask 2x1, fixed'].values()), key=str)}): "
        f"{fixed:.2f} s, **{base / fixed:.2f}x** n_jobs=1 (target: at least "
        f"1.5x); loky n_jobs=2: {par:.2f} s.",
        f"- Same best parameters as n_jobs=1 in every search: {same_best} "
        f"(n_jobs=1 found {best['search n_jobs=1, 1 thread'][0]}).",
        "",
        "Why: Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 "
        "(`distributed.nanny.pre-spawn-environ`). Setting that variable at all "
        "switches off glibc's adaptive mmap threshold, so every tensor larger "
        "than 128 KiB is a fresh mmap, page-faulted in and unmapped when "
        "freed. One search fit measured alone (`resource.getrusage`, second "
        "fit in a process): 1.5-1.9 s user and 0.00 s system time, 250 page "
        "faults without the variable; 1.6-1.8 s user and 0.7 s system time, "
        "320,000 page faults with it (`--part malloc`, parallel_malloc.md). "
        "The nanny also writes the variable into "
        "`os.environ` of the process that runs it, so worker pools started "
        "later from that process (loky's, for `n_jobs=2`) inherit it, which "
        "is why the earlier run saw loky slow down with a LocalCluster open.",
        "",
        "Data-parallel training: see `parallel_training.md` (`--part train`).",
        "",
        "Raw times (s, or samples/s), each with the mean number of runnable "
        "tasks on the machine while it ran (ours included; on 2 cores, more "
        "than our own 1 or 2 means other work competed for the cores). Each "
        f"measurement waited up to {args.quiet_wait:.0f} s for the machine to "
        "quieten first:",
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
