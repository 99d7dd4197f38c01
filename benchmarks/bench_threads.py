"""Torch threads per fit: the default ``n_threads`` against 1 and 2 threads.

For the tabular, image and graph defaults of RobustContrastiveEmbedder, the
wall time of ``fit`` with ``n_threads=1``, ``n_threads=2`` and the default
(``n_threads=None``), on an idle machine and under a competing CPU load that
this script starts itself (one busy-loop process per available core, as other
users' jobs would be). Settings are interleaved within each repeat, and each
cell is the median over repeats; the ratio ``default / best of {1, 2}`` is the
figure of merit (target: at most 1.1 in every row).

- tabular: scikit-learn's digits as 64 features (1,797 rows), 5 epochs;
- image: 512 Fashion-MNIST images (28 x 28; digits' 8 x 8 images if
  Fashion-MNIST is not installed), 1 epoch;
- graph: 1,024 random graphs of 10-30 nodes (a ring plus random chords, 8 node
  features), 5 epochs.

"Idle" means no load started by this script; the development machine is
shared, so other users' work may still run: the ratios within one run are
what to read, not absolute times.

Run:  python benchmarks/bench_threads.py [--repeats 5] [--resume]
Writes benchmarks/results/threads.csv (one row per condition, input and
setting; ``--resume`` skips rows already there) and benchmarks/results/threads.md.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.threads import DEFAULT_N_THREADS, available_cores

RESULTS = Path(__file__).parent / "results"
SETTINGS = {"1": 1, "2": 2, "default": None}
FIELDS = ["condition", "input", "setting", "repeat", "seconds"]


def _tabular():
    X = load_digits().data.astype(np.float32)
    return X, {"max_epochs": 5}, "digits, 1797 x 64, 5 epochs"


def _image():
    try:
        from rince_sklearn.datasets import load_fashion_mnist

        X, _ = load_fashion_mnist(subset="train", return_X_y=True)
        return X[:512], {"max_epochs": 1}, "Fashion-MNIST, 512 x 28 x 28, 1 epoch"
    except Exception:  # noqa: BLE001 - any failure: fall back to bundled data
        X = load_digits().images.astype(np.float32) / 16
        return X, {"max_epochs": 1}, "digits images, 1797 x 8 x 8, 1 epoch"


def _graphs():
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(1024):
        n = int(rng.integers(10, 31))
        ring = np.stack([np.arange(n), (np.arange(n) + 1) % n])
        chords = rng.integers(0, n, size=(2, n // 2))
        edges = np.concatenate([ring, chords], axis=1)
        edges = np.concatenate([edges, edges[::-1]], axis=1)  # both directions
        graphs.append((edges, rng.normal(size=(n, 8)).astype(np.float32)))
    return graphs, {"max_epochs": 5}, "1024 random graphs, 10-30 nodes, 5 epochs"


INPUTS = {"tabular": _tabular, "image": _image, "graph": _graphs}


def _spin() -> None:  # pragma: no cover - runs in the load processes
    while True:
        pass


class Load:
    """One busy-loop process per available core, for the span of a block."""

    def __init__(self, n_procs: int) -> None:
        self.n_procs = n_procs
        self.procs: list[multiprocessing.Process] = []

    def __enter__(self) -> Load:
        ctx = multiprocessing.get_context("spawn")
        self.procs = [
            ctx.Process(target=_spin, daemon=True) for _ in range(self.n_procs)
        ]
        for proc in self.procs:
            proc.start()
        time.sleep(1.0)  # let them start spinning
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join()


def time_fit(X, params, n_threads) -> float:
    est = RobustContrastiveEmbedder(
        random_state=0, device="cpu", n_threads=n_threads, **params
    )
    start = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - start


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def write_markdown(rows: list[dict], args, descriptions: dict[str, str]) -> None:
    cells: dict[tuple[str, str, str], list[float]] = {}
    for row in rows:
        key = (row["condition"], row["input"], row["setting"])
        cells.setdefault(key, []).append(float(row["seconds"]))
    lines = [
        "# Torch threads per fit: the default against 1 and 2 threads",
        "",
        f"Command: `python benchmarks/bench_threads.py --repeats {args.repeats}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{available_cores()} available cores, torch {torch.__version__}, "
        f"Python {sys.version.split()[0]}. The default `n_threads=None` "
        f"resolves to {DEFAULT_N_THREADS} thread(s).",
        "",
        "Wall time of `fit` (median of interleaved repeats, seconds). `loaded`: "
        f"{available_cores()} busy-loop processes (one per core) started by the "
        "script; `idle`: none started (the machine is shared: other users' work "
        "may still run). The ratio `default / best` compares the default with "
        "the faster of 1 and 2 threads in the same row; target <= 1.1.",
        "",
        "| condition | input | 1 thread | 2 threads | default | 2 / 1 | "
        "default / best |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for condition in ("idle", "loaded"):
        for name in INPUTS:
            times = {s: cells.get((condition, name, s)) for s in SETTINGS}
            if not all(times.values()):
                continue
            med = {s: statistics.median(v) for s, v in times.items()}
            best = min(med["1"], med["2"])
            lines.append(
                f"| {condition} | {name} | {med['1']:.2f} | {med['2']:.2f} | "
                f"{med['default']:.2f} | {med['2'] / med['1']:.2f} | "
                f"{med['default'] / best:.2f} |"
            )
    lines += ["", "Inputs:", ""]
    lines += [f"- {name}: {text}" for name, text in descriptions.items()]
    lines += [
        "",
        f"Repeats per cell: {args.repeats}. Raw times: `threads.csv`.",
        "",
    ]
    (RESULTS / "threads.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS))
    parser.add_argument("--conditions", nargs="+", default=["idle", "loaded"])
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    path = RESULTS / "threads.csv"
    rows = _read(path) if args.resume else []
    done = {(r["condition"], r["input"]) for r in rows}
    if not args.resume:
        with path.open("w", newline="") as f:
            csv.DictWriter(f, FIELDS).writeheader()
    data = {name: INPUTS[name]() for name in args.inputs}
    descriptions = {name: data[name][2] for name in args.inputs}
    for condition in args.conditions:
        for name in args.inputs:
            if (condition, name) in done:
                continue
            X, params, _ = data[name]
            time_fit(X, params, 1)  # warm-up: imports, allocator, kernels
            load = Load(available_cores()) if condition == "loaded" else None
            new = []
            if load is not None:
                load.__enter__()
            try:
                for repeat in range(args.repeats):
                    order = list(SETTINGS)
                    order = order[repeat % 3 :] + order[: repeat % 3]  # rotate
                    for setting in order:
                        seconds = time_fit(X, params, SETTINGS[setting])
                        new.append([condition, name, setting, repeat, seconds])
                        print(
                            condition,
                            name,
                            setting,
                            repeat,
                            f"{seconds:.2f}",
                            flush=True,
                        )
            finally:
                if load is not None:
                    load.__exit__(None, None, None)
            with path.open("a", newline="") as f:  # one block per finished cell
                csv.writer(f).writerows(new)
            rows += [dict(zip(FIELDS, map(str, r), strict=True)) for r in new]
            write_markdown(rows, args, descriptions)


if __name__ == "__main__":
    main()
