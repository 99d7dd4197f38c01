"""Where 2-process image training spends its time in the gathered batch norm.

Times the image case of ``bench_parallel.py --part train`` (2048 Fashion-MNIST
images, the image defaults, global batch 512, 2 epochs, 1 torch thread per
process) four ways, interleaved over ``--repeats`` rounds: 1 process; 2
processes with the library's gathered batch norm (global statistics: one
all-reduce per batch-norm layer and view, forward and backward); 2 processes
running the same gathered layers with their sums not all-reduced (the
computation without the communication); 2 processes whose batch norms are the
plain layers with each process's own statistics. The last two are diagnoses
only: their models differ from one process's.

Run:  python benchmarks/diagnose_parallel_bn.py [--repeats 3]
Prints each run and writes the medians (samples per wall second, and per CPU
second of the busiest process) to ``results/parallel_batchnorm_diagnosis.md``.
"""

from __future__ import annotations

import argparse
import os
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
        "1 process": (1, "gathered"),
        "2 processes, gathered batch norm": (2, "gathered"),
        "2 processes, gathered without all-reduce": (2, "uncommunicated"),
        "2 processes, plain local batch norm": (2, "local"),
    }
    runs: dict[str, list] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, (n_procs, mode) in configs.items():
            result = bp.ddp_run(X, bp.IMAGE_PARAMS, n_procs, batchnorm=mode)
            runs[name].append((result["samples/s"], result["samples/cpu-s"]))
            print(name, runs[name][-1], flush=True)
    base = statistics.median(wall for wall, _ in runs["1 process"])
    lines = [
        "# Two-process image training: where the gathered batch norm's time goes",
        "",
        "Command: `python benchmarks/diagnose_parallel_bn.py --repeats "
        f"{args.repeats}`",
        "",
        "Image case of `bench_parallel.py --part train` (2048 Fashion-MNIST "
        "images, image defaults, global batch 512, 2 epochs, 1 torch thread per "
        f"process, gloo on loopback, {os.cpu_count()} cores, torch "
        f"{torch.__version__}). Medians of {args.repeats} interleaved rounds; "
        f"1-minute load average at the end: {os.getloadavg()[0]:.1f}. The rows "
        "without all-reduce and with plain local batch norms are diagnoses, "
        "not models equivalent to one process's.",
        "",
        "| run | samples/s (wall) | vs 1 process | samples/cpu-s (busiest) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"{name}: {wall:.0f} samples/s ({wall / base:.2f}x), {cpu:.0f} cpu")
        lines.append(f"| {name} | {wall:.0f} | {wall / base:.2f}x | {cpu:.0f} |")
    lines += ["", "Raw runs (samples/s, samples/cpu-s):", ""]
    lines += [
        f"- {name}: " + ", ".join(f"({w:.0f}, {c:.0f})" for w, c in values)
        for name, values in runs.items()
    ]
    out = Path(__file__).parent / "results" / "parallel_batchnorm_diagnosis.md"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
