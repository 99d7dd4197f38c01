"""Why 2-process image training gains little: the batch norm's collectives.

Times the image case of ``bench_parallel.py --part train`` (2048 Fashion-MNIST
images, the image defaults, global batch 512, 2 epochs, 1 torch thread per
process) three ways, interleaved over ``--repeats`` rounds: 1 process; 2
processes with the default gathered batch norm (global statistics: one
all-reduce per batch-norm layer and view, forward and backward); 2 processes
whose batch norms keep their own process's statistics (the gathered layers
switched off, a diagnosis only: the model then differs from one process's).

Run:  python benchmarks/diagnose_parallel_bn.py [--repeats 3]
Prints each run and the medians (samples per wall second, and per CPU second
of the busiest process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import bench_parallel as bp  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X = bp.fashion()
    configs = {
        "1 process": (1, False),
        "2 processes, gathered batch norm": (2, False),
        "2 processes, local batch norm": (2, True),
    }
    runs: dict[str, list] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, (n_procs, local_bn) in configs.items():
            result = bp.ddp_run(X, bp.IMAGE_PARAMS, n_procs, local_batchnorm=local_bn)
            runs[name].append((result["samples/s"], result["samples/cpu-s"]))
            print(name, runs[name][-1], flush=True)
    base = statistics.median(wall for wall, _ in runs["1 process"])
    for name, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        ratio = wall / base
        print(f"{name}: {wall:.0f} samples/s ({ratio:.2f}x), {cpu:.0f} samples/cpu-s")


if __name__ == "__main__":
    main()
