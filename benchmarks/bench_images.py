"""Benchmarks of the image embedder on Fashion-MNIST (files from disk, offline).

Three measurements, one sub-command each; each writes
``benchmarks/results/images_<name>.{md,csv}`` with the command at the top.

``accuracy``
    Train on ``--n-train`` random training images (a new draw per seed), probe
    on the 10,000 test images: a linear probe (standardisation + logistic
    regression) on the embedding, on raw pixels, and on PCA of the same width.
``throughput``
    Images per second of ``fit`` against a hand-written torch loop with the
    same CNN, augmentations, loss and optimiser, interleaved, median of
    repeats; and the share of each step spent in augmentation (timed by a
    wrapper around the augmentation, in both).
``memory``
    ``fit`` (and ``transform``) on all 60,000 training images; peak resident
    memory from ``getrusage`` (the same figure as ``/usr/bin/time -v``'s
    "Maximum resident set size") and tracemalloc's peak of Python allocations.

Speed runs use ``torch.set_num_threads(--threads)`` (1 by default) so that the
ratios are stable on shared machines.
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from rince_sklearn import RINCELoss, RobustContrastiveEmbedder
from rince_sklearn.augment import (
    Augmentation,
    call_augmentation,
    default_image_augmentation,
)
from rince_sklearn.datasets import load_fashion_mnist
from rince_sklearn.encoders import ContrastiveModule, ConvEncoder
from rince_sklearn.modalities.image import ImageModality

RESULTS = Path(__file__).parent / "results"


class TimedAugmentation(Augmentation):
    """Wrap an augmentation and add up the seconds spent in it."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0

    def augment(self, batch, generator=None):
        start = time.perf_counter()
        view = call_augmentation(self.inner, batch, generator)
        if view.is_cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        return view


def write(name, command, header, rows, text):
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    (RESULTS / f"{name}.md").write_text(f"Command: `{command}`\n\n{text}\n")
    print(text)


def probe_accuracy(Z_train, y_train, Z_test, y_test):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    probe.fit(Z_train, y_train)
    return probe.score(Z_test, y_test)


def embedder(args, seed, **extra):
    return RobustContrastiveEmbedder(
        embedding_dim="auto" if args.dim is None else args.dim,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        random_state=seed,
        **extra,
    )


# -- accuracy ------------------------------------------------------------------------
def accuracy(args, command):
    """Run ``args.seeds``; one CSV per seed, then a summary of all seeds' files.

    Seeds may run as parallel processes (``--seeds 0``, ``--seeds 1``, ...):
    each writes ``images_accuracy_seed<S>.csv``, and every run rewrites the
    summary from the per-seed files made with the same settings.
    """
    from sklearn.decomposition import PCA

    train = load_fashion_mnist(subset="train")
    test = load_fashion_mnist(subset="test")
    X_test = test.images
    flat_test = X_test.reshape(len(X_test), -1) / np.float32(255)
    settings = f"n_train={args.n_train} epochs={args.epochs} dim={args.dim}"
    settings += f" batch_size={args.batch_size} lr={args.lr}"
    header = ["seed", "method", "accuracy", "fit_seconds", "settings", "command"]
    for seed in args.seeds:
        idx = np.random.default_rng(seed).choice(len(train.images), args.n_train, False)
        X, y = train.images[idx], train.target[idx]
        flat = X.reshape(len(X), -1) / np.float32(255)
        start = time.perf_counter()
        emb = embedder(args, seed).fit(X)
        fit_s = time.perf_counter() - start
        scores = {
            "embedding": probe_accuracy(
                emb.transform(X), y, emb.transform(X_test), test.target
            ),
            "raw_pixels": probe_accuracy(flat, y, flat_test, test.target),
        }
        pca = PCA(args.dim, random_state=seed).fit(flat)
        scores["pca"] = probe_accuracy(
            pca.transform(flat), y, pca.transform(flat_test), test.target
        )
        rows = [
            [seed, method, f"{score:.4f}", f"{fit_s:.0f}", settings, command]
            for method, score in scores.items()
        ]
        RESULTS.mkdir(parents=True, exist_ok=True)
        with open(RESULTS / f"{args.name}_seed{seed}.csv", "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
        print(seed, scores, f"fit {fit_s:.0f}s", flush=True)
    rows = []
    for path in sorted(RESULTS.glob(f"{args.name}_seed*.csv")):
        with open(path, newline="") as f:
            rows += [r for r in csv.reader(f) if r[4] == settings]
    seeds = sorted({int(r[0]) for r in rows})
    table = ["| method | mean accuracy | std | per seed |", "| --- | --- | --- | --- |"]
    for method in ("embedding", "raw_pixels", "pca"):
        values = [float(r[2]) for r in rows if r[1] == method]
        table.append(
            f"| {method} | {np.mean(values):.4f} | {np.std(values):.4f} | "
            + ", ".join(f"{v:.4f}" for v in values)
            + " |"
        )
    fit_times = sorted({float(r[3]) for r in rows})
    commands = sorted({r[5] for r in rows})
    text = (
        "# Fashion-MNIST: linear probe on the embedding vs raw pixels vs PCA\n\n"
        f"Commands (one process per seed): {'; '.join(f'`{c}`' for c in commands)}"
        f"\n\nTrain on {args.n_train} random training images per seed (seeds "
        f"{seeds}; the seed draws the images and seeds the embedder), probe on "
        "the 10,000 test images. Probe: StandardScaler + "
        "LogisticRegression(max_iter=500), fitted on the training images' "
        "features. Embedder: the default image encoder and augmentations, RINCE "
        f"q=0.5, lam=0.01, the default temperature, embedding_dim={args.dim}, "
        f"max_epochs={args.epochs}, batch_size={args.batch_size}, lr={args.lr}; "
        f"PCA of the same width ({args.dim}). torch threads: {args.threads}; "
        f"fit took {min(fit_times):.0f}-{max(fit_times):.0f} s (wall) per seed "
        "on a 2-core CPU shared with other jobs.\n\n" + "\n".join(table)
    )
    write(args.name, command, header, rows, text)


# -- throughput ----------------------------------------------------------------------
def hand_loop(X, args, augmentation):
    """The same training as ``fit``, written as a plain torch loop."""
    c, h, w = X.shape[1:]
    torch.manual_seed(0)
    defaults = ImageModality.DEFAULTS  # what fit resolves "auto" to
    encoder_kwargs = {
        "in_channels": c,
        "image_size": (h, w),
        **defaults["encoder_kwargs"],
        "embedding_dim": args.dim,  # None: the pooled features, as "auto"
    }
    width = ConvEncoder(**encoder_kwargs).embedding_dim
    module = ContrastiveModule(ConvEncoder, encoder_kwargs, width, 64)
    criterion = RINCELoss(q=0.5, lam=0.01, temperature=defaults["temperature"])
    optimizer = torch.optim.Adam(module.parameters(), lr=args.lr)
    data = torch.from_numpy(X)  # uint8 (n, C, H, W)
    shuffle = torch.Generator().manual_seed(0)
    views = torch.Generator().manual_seed(1)
    module.train()
    for _ in range(args.epochs):
        order = torch.randperm(len(data), generator=shuffle)
        # equal batches, as fit cuts them
        for start in range(0, max(len(data) - args.batch_size, 0) + 1, args.batch_size):
            batch = data[order[start : start + args.batch_size]].float() / 255
            z1 = module(augmentation(batch, generator=views))
            z2 = module(augmentation(batch, generator=views))
            loss = criterion(z1, z2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def throughput(args, command):
    train = load_fashion_mnist(subset="train")
    X = train.images[: args.n_train, None]  # (n, 1, 28, 28) uint8
    n_images = len(X) * args.epochs
    rows = []
    # warm-up (first calls of the convolution kernels are slow), not measured
    views = default_image_augmentation(**ImageModality.DEFAULTS["augmentation"])
    hand_loop(X[:512], args, views)
    embedder(args, 0).fit(X[:512])
    for repeat in range(args.repeats):
        for kind in ("loop", "fit", "fit_nchw"):
            aug = TimedAugmentation(views)
            start, cpu_start = time.perf_counter(), time.process_time()
            if kind == "loop":
                hand_loop(X, args, aug)
            elif kind == "fit":
                embedder(args, 0, augmentation=aug).fit(X)
            else:  # the same fit in torch's default (NCHW) memory layout
                nchw = {"channels_last": False}
                embedder(args, 0, augmentation=aug, encoder_kwargs=nchw).fit(X)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            rows.append(
                [
                    repeat,
                    kind,
                    f"{seconds:.3f}",
                    f"{n_images / seconds:.1f}",
                    f"{aug.seconds / seconds:.4f}",
                    f"{cpu:.3f}",
                ]
            )
            print(rows[-1], flush=True)

    def med(kind, col):
        return statistics.median(float(r[col]) for r in rows if r[1] == kind)

    def ratios(col, kind="fit", base="loop"):
        runs = {k: [r for r in rows if r[1] == k] for k in (kind, base)}
        pairs = zip(runs[kind], runs[base], strict=True)
        return [float(f[col]) / float(b[col]) for f, b in pairs]

    wall, cpu = ratios(2), ratios(5)
    layout = ratios(5, "fit", "fit_nchw")
    text = (
        "# Throughput: fit vs a hand-written torch loop\n\n"
        f"{args.n_train} Fashion-MNIST training images (28x28, uint8), "
        f"{args.epochs} epochs, batch_size={args.batch_size}, default "
        "ConvEncoder and image augmentations, RINCE, Adam, equal batches; the "
        "fit adds its default warmup+cosine schedule; both two forward passes "
        f"per step. torch.set_num_threads({args.threads}); {args.repeats} "
        "repeats, interleaved (loop, fit, loop, fit, ...); the fit/loop ratio "
        "is per repeat, median reported. The machine was shared with other "
        "jobs, so the CPU-time ratio (process time of this single-threaded "
        "process) is the steadier figure.\n\n"
        "| | loop | fit |\n| --- | --- | --- |\n"
        f"| median seconds | {med('loop', 2):.2f} | {med('fit', 2):.2f} |\n"
        f"| median CPU seconds | {med('loop', 5):.2f} | {med('fit', 5):.2f} |\n"
        f"| median images/s | {med('loop', 3):.0f} | {med('fit', 3):.0f} |\n"
        f"| images per CPU second | {n_images / med('loop', 5):.0f} | "
        f"{n_images / med('fit', 5):.0f} |\n"
        f"| augmentation share of the time | {med('loop', 4):.1%} | "
        f"{med('fit', 4):.1%} |\n\n"
        f"fit / loop, wall clock: median {statistics.median(wall):.3f} (per "
        f"repeat: {', '.join(f'{r:.3f}' for r in wall)}).\n\n"
        f"fit / loop, CPU time: median {statistics.median(cpu):.3f} (per "
        f"repeat: {', '.join(f'{r:.3f}' for r in cpu)}). Target: <= 1.10.\n\n"
        "fit (channels-last ConvEncoder, the default) / the same fit in the "
        f"NCHW layout, CPU time: median {statistics.median(layout):.3f} (per "
        f"repeat: {', '.join(f'{r:.3f}' for r in layout)})."
    )
    header = ["repeat", "kind", "seconds", "images_per_second"]
    header += ["augmentation_share", "cpu_seconds"]
    write("images_throughput", command, header, rows, text)


# -- memory --------------------------------------------------------------------------
def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory(args, command):
    tracemalloc.start()
    train = load_fashion_mnist(subset="train")
    X = train.images  # (60000, 28, 28) uint8, 47 MB
    after_load = peak_rss_mb()
    start = time.perf_counter()
    emb = embedder(args, 0).fit(X)
    fit_s = time.perf_counter() - start
    after_fit = peak_rss_mb()
    Z = emb.transform(X)
    after_transform = peak_rss_mb()
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = [
        ["after_loading", f"{after_load:.0f}"],
        ["after_fit", f"{after_fit:.0f}"],
        ["after_transform", f"{after_transform:.0f}"],
        ["tracemalloc_peak_python", f"{py_peak / 2**20:.0f}"],
    ]
    text = (
        "# Memory: fit on all 60,000 Fashion-MNIST training images\n\n"
        f"max_epochs={args.epochs}, batch_size={args.batch_size}, "
        f"embedding_dim={args.dim}; fit took {fit_s:.0f} s; transform gave "
        f"{Z.shape}. Peak resident set size (getrusage, as /usr/bin/time -v "
        "reports it), cumulative:\n\n"
        "| stage | peak RSS (MiB) |\n| --- | --- |\n"
        f"| data loaded (uint8, {X.nbytes / 2**20:.0f} MiB) | {after_load:.0f} |\n"
        f"| after fit | {after_fit:.0f} |\n"
        f"| after transform | {after_transform:.0f} |\n\n"
        f"tracemalloc peak of Python-side allocations: {py_peak / 2**20:.0f} MiB. "
        "Target: peak RSS < 2500 MB (2384 MiB)."
    )
    write("images_memory", command, ["stage", "megabytes"], rows, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["accuracy", "throughput", "memory"])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--dim", type=int, default=None, help="embedding_dim (default: 'auto')"
    )
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--name", default="images_accuracy", help="results file stem (accuracy)"
    )
    args = parser.parse_args(argv)
    if args.what == "accuracy" and args.dim is None:
        args.dim = 64  # its PCA needs a width: the former default embedding's
    torch.set_num_threads(args.threads)
    command = "python " + " ".join(["benchmarks/bench_images.py", *sys.argv[1:]])
    {"accuracy": accuracy, "throughput": throughput, "memory": memory}[args.what](
        args, command
    )


if __name__ == "__main__":
    main()
