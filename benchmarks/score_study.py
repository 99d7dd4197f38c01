"""Which label-free score ranks embedders the way a linear probe does?

``RobustContrastiveEmbedder.score`` is what ``GridSearchCV(embedder).fit(X)``
ranks candidates by when there are no labels. This study fits the embedder
without labels on the training split of each data set, for every setting of
a grid (``q`` x ``lam`` x ``temperature`` x ``max_epochs``), and computes on
the held-out split:

- the linear-probe accuracy: StandardScaler + LogisticRegression, ``C``
  chosen by stratified 3-fold cross-validation on the training split among
  0.01, 0.1, 1 and 10, scored on the held-out split;
- candidate label-free scores, from the embedder alone (labels never seen):

  - ``auc``: the retrieval AUC of two augmented views (``emb.score(X_val)``,
    the score before this study);
  - ``rankme``: RankMe (Garrido et al., ICML 2023), the exponential of the
    entropy of the normalised singular values of ``transform(X_val)``,
    divided by ``min(n, dim)`` (``rankme_std``: the same on the
    column-standardised embedding, which the probe sees);
  - ``-align``, ``-unif``, ``-(align+unif)``: alignment and uniformity of
    Wang & Isola (ICML 2020) on the L2-normalised embeddings of the two
    augmented views (alignment ``E||f(x)-f(x')||^2``, uniformity
    ``log E exp(-2||f(x)-f(y)||^2)``; both lower is better, so negated);
  - ``top5``: fraction of samples whose view-1 embedding has its own view 2
    among its 5 nearest view-2 embeddings (cosine);
  - ``knn_overlap``: mean Jaccard overlap of each sample's 10 nearest
    neighbours computed in view 1 and in view 2;
  - ``auc*rankme``, ``auc*rankme_std``: products (normalised RankMe in
    ``(0, 1]``).

Per data set the summary gives each candidate's Spearman correlation with
the probe's accuracy across the grid, and the gap (points) between the best
setting's accuracy and the accuracy of the candidate's choice. Candidates
are chosen on the TUNING data sets only; the HELD-OUT ones are reported.

Data (all offline, scikit-learn's bundled sets and Fashion-MNIST from
Debian's package), stratified 50/50 splits (seed 0):

- tuning: wine, breast cancer, digits as rows (64 pixel columns, tabular);
- held-out: iris (tabular), digits as 8x8 images (``modality="image"``),
  Fashion-MNIST (``--fashion N`` random training images, as rows).

Run:  python benchmarks/score_study.py [--resume] [--name score_study]
      [--datasets wine,breast_cancer,...] [--grid full|pruned] [--fashion N]
      [--summary-only]
Writes one JSON file per (data set, setting) under
``benchmarks/results/<NAME>_runs/`` as soon as it is done (``--resume``
skips the settings already there; ``meta.json`` keeps the command, machine
and time of the last run, which ``--summary-only`` reuses), ``<NAME>.csv``
(all runs) and ``<NAME>.md`` (the summary).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.metrics import retrieval_auc
from rince_sklearn.modalities import get_modality

RESULTS = Path(__file__).parent / "results"
TUNING = ["wine", "breast_cancer", "digits"]
HELD_OUT = ["iris", "digits_images", "fashion"]
PROBE_CS = [0.01, 0.1, 1.0, 10.0]
CANDIDATES = [
    "auc",
    "rankme",
    "rankme_std",
    "-align",
    "-unif",
    "-(align+unif)",
    "top5",
    "knn_overlap",
    "auc*rankme",
    "auc*rankme_std",
]


# -- data ---------------------------------------------------------------------
def load(name, n_fashion):
    """Return ``(X, y, modality)``."""
    from sklearn import datasets

    if name == "wine":
        return (*datasets.load_wine(return_X_y=True), "tabular")
    if name == "breast_cancer":
        return (*datasets.load_breast_cancer(return_X_y=True), "tabular")
    if name == "digits":
        return (*datasets.load_digits(return_X_y=True), "tabular")
    if name == "iris":
        return (*datasets.load_iris(return_X_y=True), "tabular")
    if name == "digits_images":
        digits = datasets.load_digits()
        return digits.images.astype(np.float32) / 16.0, digits.target, "image"
    if name == "fashion":
        from rince_sklearn.datasets import load_fashion_mnist

        X, y = load_fashion_mnist(subset="train", return_X_y=True)
        idx = np.random.default_rng(0).choice(len(X), n_fashion, replace=False)
        X = np.asarray(X[idx], np.float32).reshape(n_fashion, -1) / 255.0
        return X, y[idx], "tabular"
    raise ValueError(f"unknown data set {name!r}")


# -- candidate scores -----------------------------------------------------------
def effective_rank(Z):
    """RankMe's effective rank: exp of the entropy of normalised singular values."""
    s = np.linalg.svd(np.asarray(Z, np.float64), compute_uv=False)
    p = s / s.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


def standardise(Z):
    Z = np.asarray(Z, np.float64)
    std = Z.std(0)
    return (Z - Z.mean(0)) / np.where(std > 0, std, 1.0)


def normed(Z):
    Z = np.asarray(Z, np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def alignment(h1, h2):
    return float((np.linalg.norm(normed(h1) - normed(h2), axis=1) ** 2).mean())


def uniformity(h):
    z = normed(h)
    sq = np.clip(2 - 2 * z @ z.T, 0, None)  # squared distances of unit vectors
    iu = np.triu_indices(len(z), k=1)
    a = -2 * sq[iu]
    return float(np.log(np.exp(a - a.max()).mean()) + a.max())


def top_k_retrieval(h1, h2, k=5):
    sim = normed(h1) @ normed(h2).T
    own = np.diag(sim)[:, None]
    return float(((sim > own).sum(1) < k).mean())


def knn_overlap(h1, h2, k=10):
    def neighbours(h):
        sim = normed(h) @ normed(h).T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1)[:, :k]

    n1, n2 = neighbours(h1), neighbours(h2)
    inter = np.array([len(np.intersect1d(a, b)) for a, b in zip(n1, n2, strict=True)])
    return float((inter / (2 * k - inter)).mean())


def label_free_scores(emb, X_val):
    """Every candidate, from the fitted embedder and unlabelled ``X_val``."""
    source = get_modality(emb.modality_).prepare(emb, X_val, reset=False)
    h1 = emb._embed(source, augment_seed=0)  # the two views that score uses
    h2 = emb._embed(source, augment_seed=1)
    Z = emb.transform(X_val)
    cap = min(Z.shape)
    out = {
        "auc": retrieval_auc(torch.from_numpy(h1), torch.from_numpy(h2)),
        "rankme": effective_rank(Z) / cap,
        "rankme_std": effective_rank(standardise(Z)) / cap,
        "-align": -alignment(h1, h2),
        "-unif": -0.5 * (uniformity(h1) + uniformity(h2)),
        "top5": top_k_retrieval(h1, h2),
        "knn_overlap": knn_overlap(h1, h2),
    }
    out["-(align+unif)"] = out["-align"] + out["-unif"]
    out["auc*rankme"] = out["auc"] * out["rankme"]
    out["auc*rankme_std"] = out["auc"] * out["rankme_std"]
    return out


def probe(F_train, y_train, F_val, y_val, seed):
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    model = make_pipeline(
        StandardScaler(), LogisticRegressionCV(Cs=PROBE_CS, cv=cv, max_iter=3000)
    )
    return float(model.fit(F_train, y_train).score(F_val, y_val))


# -- grid -----------------------------------------------------------------------
def default_epochs(modality, n_train):
    emb = RobustContrastiveEmbedder(modality=modality)
    return int(get_modality(modality).defaults(emb, n_train)["max_epochs"])


def grid(modality, n_train, kind):
    default = default_epochs(modality, n_train)
    short = max(3, default // 8)
    qs, lams, temps = [0.1, 0.5, 1.0], [0.001, 0.1], [0.1, 0.5]
    epochs = [short, default]
    if kind == "pruned":  # 12 settings: drop temperature 0.1 at the short budget
        settings = [
            s
            for s in itertools.product(qs, lams, temps, epochs)
            if not (s[2] == 0.1 and s[3] == short)
        ]
        return settings
    return list(itertools.product(qs, lams, temps, epochs))


def key(setting):
    q, lam, t, e = setting
    return f"q{q}_lam{lam}_t{t}_e{e}"


def run_dataset(name, args, run_dir):
    X, y, modality = load(name, args.fashion)
    X_tr, X_val, y_tr, y_val = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    rows = []
    for setting in grid(modality, len(X_tr), args.grid):
        path = run_dir / f"{name}__{key(setting)}.json"
        if args.resume and path.exists():
            rows.append(json.loads(path.read_text()))
            continue
        q, lam, t, e = setting
        start = time.perf_counter()
        emb = RobustContrastiveEmbedder(
            modality=modality,
            q=q,
            lam=lam,
            temperature=t,
            max_epochs=e,
            random_state=0,
        ).fit(X_tr)
        fit_s = time.perf_counter() - start
        row = {
            "dataset": name,
            "q": q,
            "lam": lam,
            "temperature": t,
            "max_epochs": e,
            "fit_seconds": round(fit_s, 2),
        }
        row["accuracy"] = probe(
            emb.transform(X_tr).reshape(len(X_tr), -1),
            y_tr,
            emb.transform(X_val).reshape(len(X_val), -1),
            y_val,
            seed=0,
        )
        row.update(label_free_scores(emb, X_val))
        path.write_text(json.dumps(row))
        print(
            name,
            key(setting),
            f"acc={row['accuracy']:.4f}",
            f"auc={row['auc']:.4f}",
            f"rankme={row['rankme']:.3f}",
            f"{fit_s:.1f}s",
            flush=True,
        )
        rows.append(row)
    return rows


# -- summary --------------------------------------------------------------------
def evaluate(rows):
    """Return ``{candidate: (spearman, gap_points)}`` for one data set's rows."""
    acc = np.array([r["accuracy"] for r in rows])
    out = {}
    for c in CANDIDATES:
        s = np.array([r[c] for r in rows])
        rho = spearmanr(s, acc).statistic if np.ptp(s) > 0 else float("nan")
        out[c] = (float(rho), 100 * float(acc.max() - acc[int(np.argmax(s))]))
    return out


def findings(results, tuning, held, target_rho=0.6, target_gap=1.0):
    """The candidate chosen on the tuning sets, judged on the held-out ones."""

    def mean(c, sets, field):
        return float(np.nanmean([results[n][c][field] for n in sets]))

    chosen = max(CANDIDATES, key=lambda c: mean(c, tuning, 0))
    lines = ["## Findings", ""]
    lines.append(
        f"Chosen on the tuning sets (highest mean Spearman): `{chosen}`, "
        f"{mean(chosen, tuning, 0):.2f} (gap {mean(chosen, tuning, 1):.1f} "
        f"points) against `auc`'s {mean('auc', tuning, 0):.2f} "
        f"(gap {mean('auc', tuning, 1):.1f})."
    )
    lines.append(
        f"On the held-out sets: `{chosen}` {mean(chosen, held, 0):.2f} mean "
        f"Spearman, {mean(chosen, held, 1):.1f} points mean gap; `auc` "
        f"{mean('auc', held, 0):.2f}, {mean('auc', held, 1):.1f} points."
    )
    meeting = [
        c
        for c in CANDIDATES
        if all(
            results[n][c][0] >= target_rho and results[n][c][1] <= target_gap
            for n in held
        )
    ]
    lines.append(
        f"Candidates with Spearman >= {target_rho} and a gap <= {target_gap} "
        f"point on every held-out set: {', '.join(meeting) or 'none'}."
    )
    return lines + [""]


def command():
    return f"python benchmarks/score_study.py {' '.join(sys.argv[1:])}"


def summary(all_rows, args, meta):
    by_set = {}
    for r in all_rows:
        by_set.setdefault(r["dataset"], []).append(r)
    names = [n for n in TUNING + HELD_OUT if n in by_set]
    results = {n: evaluate(by_set[n]) for n in names}
    tuning = [n for n in names if n in TUNING]
    lines = [
        "# Label-free scores against the linear probe across a grid",
        "",
        f"Command: `{meta['command']}`"
        + (f" (summary rewritten by `{command()}`)" if args.summary_only else ""),
        "",
        f"Machine: {meta['machine']}; {meta['minutes']:.1f} min for the runs "
        "not resumed.",
        "",
        "Protocol: see the module docstring of `benchmarks/score_study.py`. "
        "Per data set, Spearman correlation of each candidate with the probe's "
        "held-out accuracy across the grid, and the gap (points) between the "
        "best setting's accuracy and that of the candidate's choice. Tuning "
        f"sets: {', '.join(tuning)}; held-out sets: "
        f"{', '.join(n for n in names if n in HELD_OUT)}.",
        "",
    ]
    for title, field in (("Spearman correlation", 0), ("Gap to the best, points", 1)):
        lines += [
            f"## {title}",
            "",
            "| candidate | "
            + " | ".join(names)
            + (" | mean (tuning) |" if tuning else " |"),
            "| --- |" + " ---: |" * (len(names) + bool(tuning)),
        ]
        for c in CANDIDATES:
            vals = [results[n][c][field] for n in names]
            cells = [f"{v:.2f}" if field == 0 else f"{v:.1f}" for v in vals]
            if tuning:
                mean = np.nanmean([results[n][c][field] for n in tuning])
                cells.append(f"{mean:.2f}" if field == 0 else f"{mean:.1f}")
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("")
    held = [n for n in names if n in HELD_OUT]
    if tuning and held:
        lines += findings(results, tuning, held)
    lines += [
        "## Ranges across the grid",
        "",
        "| dataset | settings | accuracy | auc | rankme |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for n in names:
        rs = by_set[n]

        def rng(f, rs=rs):
            v = [r[f] for r in rs]
            return f"{min(v):.3f}-{max(v):.3f}"

        lines.append(
            f"| {n} | {len(rs)} | {rng('accuracy')} | {rng('auc')} | {rng('rankme')} |"
        )
    return "\n".join(lines) + "\n", results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="score_study")
    parser.add_argument("--datasets", default=",".join(TUNING + HELD_OUT))
    parser.add_argument("--grid", choices=["full", "pruned"], default="full")
    parser.add_argument("--fashion", type=int, default=2000)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)  # sklearn 1.8 notes
    run_dir = RESULTS / f"{args.name}_runs"
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    all_rows = []
    for name in args.datasets.split(","):
        if args.summary_only:
            all_rows += [
                json.loads(p.read_text())
                for p in sorted(run_dir.glob(f"{name}__*.json"))
            ]
        else:
            all_rows += run_dataset(name, args, run_dir)
    meta_path = run_dir / "meta.json"
    if args.summary_only:
        meta = json.loads(meta_path.read_text())
    else:
        meta = {
            "command": command(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), "
            f"torch {torch.__version__}, OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, estimators' default "
            "1 torch thread",
            "minutes": (time.perf_counter() - start) / 60,
        }
        meta_path.write_text(json.dumps(meta))
    with open(RESULTS / f"{args.name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(all_rows[0]))
        writer.writeheader()
        writer.writerows(all_rows)
    text, _ = summary(all_rows, args, meta)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
