"""Noisy labels: supervised RINCE against SupCon and plain baselines.

A fraction ``rho`` of the training (and validation) labels is corrupted; test
labels stay clean. Symmetric noise replaces a label by a uniformly random other
class; the asymmetric setting flips a fraction ``rho`` of some classes to one
fixed similar class (digits 2->7, 3->8, 5->6, 7->1; Fashion-MNIST T-shirt->Shirt,
Pullover->Coat, Sandal->Sneaker, Ankle boot->Sneaker; segments: each class to
the next). Methods, all fitted on the same noisy labels:

- ``rince_sup``: ``RobustContrastiveEmbedder(supervision="labels")`` with RINCE,
  ``q`` chosen per (data set, noise, seed) among ``--qs`` by the linear probe's
  accuracy on the validation split, whose labels are as noisy as the
  training labels (never on test);
- ``supcon``: the same with ``loss="infonce"`` (SupCon);
- ``rince_unsup``: RINCE without labels (``supervision="none"``);
- ``rince_own``: supervised RINCE whose positives are weighted, the anchor's
  own other view ``--own-weight`` and its same-label positives the rest
  (``own_view_weight``), ``q`` chosen on validation as for ``rince_sup``;
- ``supcon_own``: SupCon with the same weighting (is the weighting, or RINCE,
  what helps?);
- ``lr_raw``: StandardScaler + LogisticRegression on the raw features;
- ``mlp``: StandardScaler + MLPClassifier (256, 256) with early stopping on 10%
  of the noisy training labels.

Probes of the embeddings: StandardScaler + LogisticRegression and a 10-nearest
neighbour classifier (cosine), both fitted on the *noisy* training labels of
the embedded training split and scored on the clean test labels (and on the
noisy validation labels, for choosing ``q``).

Every embedder trains with ``partial_fit`` one epoch at a time (the same model
as ``fit`` with ``max_epochs=k``), and is probed at each of ``--epochs``: one
training run gives the accuracy-against-epochs curve.

Data (all as feature rows, MLP encoder, SCARF corruption): scikit-learn's
digits (1,797 x 64, 10 classes), river's ImageSegments (2,310 x 18, 7
classes) and Fashion-MNIST (a random 3,000 training images, 1,000 validation
images from the training set and 2,000 test images, pixels as 784 features:
sized for a small shared CPU; the CNN was not run).

Sub-commands: ``grid`` (appends rows to ``results/<name>.csv``, one file per
invocation name; ``--resume`` skips the rows already there), ``cost`` (fit time
with and without labels, in one run), ``report`` (markdown table and plots from
the CSV). Example::

    python benchmarks/bench_label_noise.py grid --datasets digits --seeds 0 1 2
    python benchmarks/bench_label_noise.py report
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FIELDS = [
    "dataset",
    "noise",
    "rho",
    "method",
    "q",
    "seed",
    "epoch",
    "val_lr",
    "test_lr",
    "val_knn",
    "test_knn",
    "seconds",
]
ASYMMETRIC = {
    "digits": {2: 7, 3: 8, 5: 6, 7: 1},
    "fashion": {0: 6, 2: 4, 5: 7, 9: 7},
}


# -- data ----------
def load(name: str, split_seed: int = 0):
    """Return fit, validation and test splits ``(X, y)`` of a data set."""
    from sklearn.model_selection import train_test_split

    if name == "fashion":
        from rince_sklearn.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train", return_X_y=True)
        Xt, yt = load_fashion_mnist(subset="test", return_X_y=True)
        rng = np.random.default_rng(split_seed)
        train = rng.choice(len(y), 4000, replace=False)
        test = rng.choice(len(yt), 2000, replace=False)
        X = X[train].reshape(4000, -1).astype(np.float32) / 255
        y = y[train]
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=1000, stratify=y, random_state=split_seed
        )
        X_test = Xt[test].reshape(2000, -1).astype(np.float32) / 255
        return (X_fit, y_fit), (X_val, y_val), (X_test, yt[test])
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    elif name == "segments":
        from river.datasets import ImageSegments

        rows = list(ImageSegments())
        X = np.array([list(x.values()) for x, _ in rows], dtype=np.float64)
        labels = sorted({c for _, c in rows})
        y = np.array([labels.index(c) for _, c in rows])
    else:
        raise SystemExit(f"unknown data set {name!r}")
    X = X.astype(np.float32)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=split_seed
    )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=split_seed
    )
    return (X_fit, y_fit), (X_val, y_val), (X_test, y_test)


def corrupt(y: np.ndarray, noise: str, rho: float, dataset: str, seed: int):
    """Return a copy of ``y`` with exactly ``round(rho * n)`` labels corrupted."""
    rng = np.random.default_rng(seed)
    y = y.copy()
    classes = np.unique(y)
    if noise == "sym":
        flip = rng.choice(len(y), int(round(rho * len(y))), replace=False)
        for i in flip:  # a uniformly random *other* class
            others = classes[classes != y[i]]
            y[i] = rng.choice(others)
        return y
    mapping = ASYMMETRIC.get(
        dataset, {c: classes[(k + 1) % len(classes)] for k, c in enumerate(classes)}
    )
    original = y.copy()
    for source, target in mapping.items():
        members = np.flatnonzero(original == source)
        flip = rng.choice(members, int(round(rho * len(members))), replace=False)
        y[flip] = target
    return y


# -- one run ----------
def probe(emb_fit, y_fit, emb_val, y_val, emb_test, y_test):
    """Accuracies of the LR and kNN probes: (val_lr, test_lr, val_knn, test_knn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    lr.fit(emb_fit, y_fit)
    knn = KNeighborsClassifier(n_neighbors=10, metric="cosine").fit(emb_fit, y_fit)
    return (
        lr.score(emb_val, y_val),
        lr.score(emb_test, y_test),
        knn.score(emb_val, y_val),
        knn.score(emb_test, y_test),
    )


def train_embedder(data, y_noisy_fit, method, q, seed, epochs, args):
    """Train one embedder epoch by epoch; at each checkpoint yield
    ``(epoch, (emb_fit, emb_val, emb_test, y_test), process seconds)``."""
    import torch

    from rince_sklearn import RobustContrastiveEmbedder

    (X_fit, _), (X_val, _), (X_test, y_test) = data
    loss = "infonce" if method.startswith("supcon") else "rince"
    emb = RobustContrastiveEmbedder(
        loss=loss,
        q=q if q > 0 else 0.5,  # supcon: q unused
        lam=args.lam,
        temperature=args.temperature,
        supervision="none" if method == "rince_unsup" else "labels",
        own_view_weight=args.own_weight if method.endswith("_own") else None,
        batch_size=args.batch_size,
        embedding_dim=args.embedding_dim,
        random_state=seed,
        device="cpu",
    )
    torch.set_num_threads(1)
    seconds = 0.0
    for epoch in range(1, max(epochs) + 1):
        start = time.process_time()
        emb.partial_fit(X_fit, y_noisy_fit)
        seconds += time.process_time() - start
        if epoch in epochs:
            embedded = (
                emb.transform(X_fit),
                emb.transform(X_val),
                emb.transform(X_test),
                y_test,
            )
            yield epoch, embedded, seconds


def run_baseline(data, y_noisy_fit, y_noisy_val, method, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (X_fit, _), (X_val, _), (X_test, y_test) = data
    start = time.process_time()
    if method == "lr_raw":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    else:
        # early stopping on 10% of the (noisy) training labels: the fair,
        # strong form of this baseline (it stops before memorising much)
        model = make_pipeline(
            StandardScaler(),
            MLPClassifier(
                (256, 256), max_iter=200, early_stopping=True, random_state=seed
            ),
        )
    model.fit(X_fit, y_noisy_fit)
    seconds = time.process_time() - start
    val, test = model.score(X_val, y_noisy_val), model.score(X_test, y_test)
    return (val, test, math.nan, math.nan), seconds


def grid(args) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    path = RESULTS / f"{args.name}.csv"
    done = set()
    if args.resume and path.exists():
        with path.open() as fh:
            for row in csv.DictReader(fh):
                done.add(_key(row))
    elif path.exists():
        raise SystemExit(f"{path} exists: pass --resume, or another --name")
    new = not path.exists()
    fh = path.open("a", newline="")
    writer = csv.DictWriter(fh, fieldnames=FIELDS)
    if new:
        writer.writeheader()
    settings = [("sym", rho) for rho in args.rhos]
    if args.asym is not None:
        settings.append(("asym", args.asym))
    methods = args.methods

    def write(base, epoch, accs, sec):
        row = {**base, "epoch": epoch, "seconds": round(sec, 2)}
        row.update(zip(FIELDS[7:11], (round(a, 4) for a in accs), strict=False))
        writer.writerow(row)
        fh.flush()
        print(row, flush=True)

    for dataset in args.datasets:
        data = load(dataset)
        (_, y_fit), (_, y_val), _ = data
        noisy = {
            (noise, rho, seed): (
                corrupt(y_fit, noise, rho, dataset, seed),
                corrupt(y_val, noise, rho, dataset, seed + 1000),
            )
            for noise, rho in settings
            for seed in args.seeds
        }
        # the unsupervised embedding does not see the labels: train it once per
        # seed and probe it with every setting's noisy labels
        if "rince_unsup" in methods:
            for seed in args.seeds:
                bases = [
                    dict(
                        dataset=dataset,
                        noise=noise,
                        rho=rho,
                        method="rince_unsup",
                        q=args.unsup_q,
                        seed=seed,
                    )
                    for noise, rho in settings
                ]
                if all(_key({**b, "epoch": max(args.epochs)}) in done for b in bases):
                    continue
                for epoch, embedded, sec in train_embedder(
                    data, None, "rince_unsup", args.unsup_q, seed, args.epochs, args
                ):
                    for b in bases:
                        yf, yv = noisy[(b["noise"], b["rho"], seed)]
                        accs = probe(embedded[0], yf, embedded[1], yv, *embedded[2:])
                        write(b, epoch, accs, sec)
        jobs = []
        for method in methods:
            if method in ("rince_sup", "rince_own"):
                jobs += [(method, q) for q in args.qs]
            elif method != "rince_unsup":
                jobs.append((method, 0.0))
        for noise, rho in settings:  # in the given order: most wanted first
            for seed in args.seeds:
                yf, yv = noisy[(noise, rho, seed)]
                for method, q in jobs:
                    base = dict(
                        dataset=dataset,
                        noise=noise,
                        rho=rho,
                        method=method,
                        q=q,
                        seed=seed,
                    )
                    last = max(args.epochs) if method not in ("lr_raw", "mlp") else 0
                    if _key({**base, "epoch": last}) in done:
                        continue
                    if method in ("lr_raw", "mlp"):
                        accs, sec = run_baseline(data, yf, yv, method, seed)
                        write(base, 0, accs, sec)
                        continue
                    for epoch, embedded, sec in train_embedder(
                        data, yf, method, q, seed, args.epochs, args
                    ):
                        accs = probe(embedded[0], yf, embedded[1], yv, *embedded[2:])
                        write(base, epoch, accs, sec)
    fh.close()


def _key(row: dict) -> tuple:
    return (
        row["dataset"],
        row["noise"],
        float(row["rho"]),
        row["method"],
        float(row["q"]),
        int(row["seed"]),
        int(row["epoch"]),
    )


# -- cost ----------
def cost(args) -> None:
    """Fit time with labels over fit time without, alternating, in one run."""
    import torch

    from rince_sklearn import RobustContrastiveEmbedder

    torch.set_num_threads(1)
    (X, y), _, _ = load(args.datasets[0])
    ratios, times = [], {"none": [], "labels": []}
    for repeat in range(args.repeats):
        for supervision in ("none", "labels"):
            emb = RobustContrastiveEmbedder(
                supervision=supervision,
                max_epochs=args.cost_epochs,
                batch_size=args.batch_size,
                random_state=repeat,
                device="cpu",
            )
            start = time.process_time()
            emb.fit(X, y)
            times[supervision].append(time.process_time() - start)
        ratios.append(times["labels"][-1] / times["none"][-1])
    text = [
        f"Command: `{_command()}`",
        "",
        f"# Cost of labels: {args.datasets[0]}, {len(X)} rows, "
        f"{args.cost_epochs} epochs, batch_size={args.batch_size}",
        "",
        "Process time (torch.set_num_threads(1)), supervised and unsupervised fits "
        "alternating, one run; shared, noisy machine, so the median ratio is "
        "the figure.",
        "",
        f"- unsupervised fits (s): {', '.join(f'{t:.2f}' for t in times['none'])}",
        f"- supervised fits (s): {', '.join(f'{t:.2f}' for t in times['labels'])}",
        f"- ratios: {', '.join(f'{r:.3f}' for r in ratios)}",
        f"- median ratio supervised / unsupervised: {np.median(ratios):.3f} "
        "(target <= 1.10)",
    ]
    (RESULTS / f"{args.name}_cost.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))


# -- report ----------
def report(args) -> None:
    import pandas as pd

    tags = dict(tag.split("=", 1) for tag in args.tags)
    frames = []
    for name in args.names:
        frame = pd.read_csv(RESULTS / f"{name}.csv")
        if name in tags:  # a variant (another lam...): rows of its own
            frame["method"] = frame.method + f" ({tags[name]})"
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    final = df[
        (df.epoch == 0) | (df.epoch == df.groupby("dataset").epoch.transform("max"))
    ]
    # supervised RINCE: choose q per (dataset, noise, rho, seed) on noisy val
    keys = ["dataset", "noise", "rho", "seed"]
    order = []
    chosen = [m for m in final.method.unique() if "rince_sup" in m or "rince_own" in m]
    for method in sorted(chosen):
        sup = final[final.method == method]
        best = sup.loc[sup.groupby(keys).val_lr.idxmax()].copy()
        best["method"] = f"{method}, q on val"
        fixed = sup.copy()
        fixed["method"] = method + " q=" + fixed.q.astype(str)
        final = pd.concat([final[final.method != method], best, fixed])
        order += [f"{method}, q on val", *sorted(set(fixed.method))]
    last_epochs = ", ".join(
        f"{d}: {e}" for d, e in df.groupby("dataset").epoch.max().items()
    )
    order += ["supcon", "supcon_own", "rince_unsup", "lr_raw", "mlp"]
    lines = [
        f"Command: `{_command()}` (data: {', '.join(args.names)}.csv)",
        "",
        "# Noisy labels: test accuracy (clean test labels)",
        "",
        "Mean over seeds (number of seeds in brackets when fewer than 3) of "
        "the LogisticRegression probe fitted on the noisy training labels; "
        "kNN probe below. `lr_raw` and `mlp` are classifiers trained on the "
        "noisy labels directly. Embedders at their last checkpoint epoch "
        f"({last_epochs}).",
        "",
    ]
    for metric in ("test_lr", "test_knn"):
        lines += [f"## {metric}", ""]
        for dataset, part in final.groupby("dataset"):
            settings = sorted(
                {(n, r) for n, r in zip(part.noise, part.rho, strict=False)},
                key=lambda s: (s[0] != "sym", s[1]),
            )
            head = [f"{n} {r:g}" for n, r in settings]
            lines += [
                f"### {dataset}",
                "",
                "| method | " + " | ".join(head) + " |",
                "|---" * (len(head) + 1) + "|",
            ]
            for method in [m for m in order if m in set(part.method)]:
                cells = []
                for n, r in settings:
                    vals = part[
                        (part.method == method) & (part.noise == n) & (part.rho == r)
                    ][metric].dropna()
                    if len(vals) == 0:
                        cells.append("")
                    else:
                        extra = f" ({len(vals)})" if len(vals) < 3 else ""
                        cells.append(f"{vals.mean():.3f}{extra}")
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
            lines.append("")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(df, args)


def _plot(df, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = df[
        (df.dataset == args.curve_dataset)
        & (df.noise == "sym")
        & (df.rho == args.curve_rho)
        & (df.epoch > 0)
    ]
    if not len(part):
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, metric, probe_name in zip(
        axes, ("test_lr", "test_knn"), ("LR probe", "10-NN probe"), strict=True
    ):
        for (method, q), g in part.groupby(["method", "q"]):
            label = method if method in ("supcon",) else f"{method} q={q:g}"
            curve = g.groupby("epoch")[metric].mean()
            ax.plot(curve.index, curve.values, marker="o", label=label)
        for method in ("lr_raw", "mlp"):
            base = df[
                (df.dataset == args.curve_dataset)
                & (df.noise == "sym")
                & (df.rho == args.curve_rho)
                & (df.method == method)
            ]
            if len(base):
                ax.axhline(
                    base.test_lr.mean(),
                    ls="--",
                    lw=1,
                    label=method,
                    color="grey" if method == "lr_raw" else "black",
                )
        ax.set_xlabel("epochs")
        ax.set_ylabel(f"test accuracy ({probe_name}, clean test labels)")
        ax.set_title(
            f"{args.curve_dataset}, {args.curve_rho:g} symmetric noise: {probe_name}"
        )
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.name}_epochs.png", dpi=100)


def _command() -> str:
    return "python benchmarks/bench_label_noise.py " + shlex.join(sys.argv[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["grid", "cost", "report"])
    parser.add_argument("--name", default="label_noise")
    parser.add_argument(
        "--tags",
        nargs="*",
        default=[],
        help="report: NAME=TEXT marks the rows of NAME.csv as a variant",
    )
    parser.add_argument(
        "--names",
        nargs="+",
        default=None,
        help="report: CSV names to merge (default: --name)",
    )
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument(
        "--rhos", nargs="+", type=float, default=[0.0, 0.2, 0.4, 0.6, 0.8]
    )
    parser.add_argument(
        "--asym",
        type=float,
        default=0.4,
        help="rho of the asymmetric setting (omit with -1)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--qs", nargs="+", type=float, default=[0.5, 1.0])
    parser.add_argument("--unsup-q", type=float, default=0.5)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["rince_sup", "supcon", "rince_unsup", "lr_raw", "mlp"],
    )
    parser.add_argument(
        "--own-weight",
        type=float,
        default=0.5,
        help="own_view_weight of the rince_own and supcon_own methods",
    )
    parser.add_argument(
        "--embedding-dim",
        default="auto",
        type=lambda v: v if v == "auto" else int(v),
        help="the embedders' embedding_dim (earlier runs: 64)",
    )
    parser.add_argument("--lam", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cost-epochs", type=int, default=10)
    parser.add_argument("--curve-dataset", default="digits")
    parser.add_argument("--curve-rho", type=float, default=0.6)
    args = parser.parse_args()
    if args.asym is not None and args.asym < 0:
        args.asym = None
    args.names = args.names or [args.name]
    RESULTS.mkdir(exist_ok=True)
    {"grid": grid, "cost": cost, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
