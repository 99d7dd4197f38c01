"""Why RINCE with q = 1 lags on noisy images, and whether a q warmup fixes it.

Issue "noisy views, second study", item 3. Fashion-MNIST (``--n-train``
training images, 80% fit and 20% validation, ``--n-test`` test images, all
drawn with ``--split-seed``), the image defaults, ``noise_rate`` ``eta`` in
``--etas``; methods:

- ``infonce``: InfoNCE;
- ``rince_q1``: RINCE, ``q = 1``, ``lam = 0.01``;
- ``rince_q1_warm``: the same with :class:`~rince_sklearn.callbacks.QWarmup`
  (``q`` from ``--q-start`` to 1 over the first ``--warmup`` of the steps);
- ``rince_q05``: RINCE, ``q = 0.5`` (the default).

Each is probed by StandardScaler + LogisticRegression on ``transform``'s
output (fitted on the fit split, scored on validation and test); the training
loss of each epoch is kept, to see how fast each learns. Rows are appended to
``results/<name>.csv`` as they finish (``--resume`` skips those there); the
summary ``results/<name>.md`` gives means and standard deviations over seeds.

Run: ``python benchmarks/bench_q_warmup.py --seeds 0 1 2 --resume``
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from noisy_views import _carve, _fashion_subsets  # noqa: E402

from rince_sklearn import RobustContrastiveEmbedder  # noqa: E402
from rince_sklearn.callbacks import QWarmup  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FIELDS = ["method", "eta", "seed", "epochs", "val_acc", "test_acc", "seconds", "loss"]
METHODS = ("infonce", "rince_q1", "rince_q1_warm", "rince_q05")


def embedder(method: str, eta: float, seed: int, args) -> RobustContrastiveEmbedder:
    """The estimator of one method (image defaults, ``random_state=seed``)."""
    settings = {
        "infonce": {"loss": "infonce"},
        "rince_q1": {"q": 1.0},
        "rince_q1_warm": {
            "q": 1.0,
            "callbacks": [QWarmup(q_start=args.q_start, warmup=args.warmup)],
        },
        "rince_q05": {"q": 0.5},
    }[method]
    return RobustContrastiveEmbedder(
        lam=0.01,
        noise_rate=eta,
        max_epochs=args.epochs,
        n_threads=args.threads,
        device="cpu",
        random_state=seed,
        **settings,
    )


def probe(emb, X_fit, y_fit, X_val, y_val, X_test, y_test) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(emb.transform(X_fit), y_fit)
    val = model.score(emb.transform(X_val), y_val)
    return float(val), float(model.score(emb.transform(X_test), y_test))


def summarise(rows: list[dict], command: str, path: Path) -> None:
    lines = [
        f"Command: `{command}`",
        "",
        "# q = 1 with and without a q warmup, noisy views on Fashion-MNIST",
        "",
        "Test accuracy of the linear probe, mean ± std over seeds (count in "
        "brackets); last column: training loss of the first and last epochs "
        "(mean over seeds). See the module docstring of "
        "`benchmarks/bench_q_warmup.py`.",
        "",
    ]
    etas = sorted({float(r["eta"]) for r in rows})
    lines += ["| method | " + " | ".join(f"eta {e:g}" for e in etas) + " |"]
    lines += ["| --- |" + " ---: |" * len(etas)]
    for method in METHODS:
        cells = []
        for eta in etas:
            sel = [r for r in rows if r["method"] == method and float(r["eta"]) == eta]
            acc = np.array([float(r["test_acc"]) for r in sel])
            cells.append(
                f"{acc.mean():.4f} ± {acc.std():.4f} ({len(acc)})" if len(acc) else ""
            )
        if any(cells):
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "Training loss, first / last epoch (mean over seeds):", ""]
    for method in METHODS:
        for eta in etas:
            sel = [r for r in rows if r["method"] == method and float(r["eta"]) == eta]
            if sel:
                curves = np.array(
                    [[float(v) for v in r["loss"].split(";")] for r in sel]
                )
                mean = curves.mean(axis=0)
                lines.append(f"- {method}, eta {eta:g}: {mean[0]:.4f} / {mean[-1]:.4f}")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="q_warmup")
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--etas", type=float, nargs="+", default=[0.0, 0.8])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--q-start", type=float, default=0.1)
    parser.add_argument("--warmup", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python " + shlex.join(["benchmarks/bench_q_warmup.py", *sys.argv[1:]])
    X_train, y_train, X_test, y_test = _fashion_subsets(
        args.n_train, args.n_test, args.split_seed
    )
    X_fit, y_fit, X_val, y_val = _carve(X_train, y_train, 0.2, args.split_seed)
    path = RESULTS / f"{args.name}.csv"
    rows: list[dict] = []
    if args.resume and path.exists():
        with path.open() as fh:
            rows = list(csv.DictReader(fh))
    elif path.exists():
        raise SystemExit(f"{path} exists: pass --resume, or another --name")
    done = {(r["method"], float(r["eta"]), int(r["seed"])) for r in rows}
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for eta in args.etas:
            for seed in args.seeds:
                for method in args.methods:
                    if (method, eta, seed) in done:
                        continue
                    emb = embedder(method, eta, seed, args)
                    start = time.perf_counter()
                    emb.fit(X_fit)
                    seconds = time.perf_counter() - start
                    val, test = probe(emb, X_fit, y_fit, X_val, y_val, X_test, y_test)
                    losses = emb.history_[:, "train_loss"]
                    row = {
                        "method": method,
                        "eta": eta,
                        "seed": seed,
                        "epochs": args.epochs,
                        "val_acc": round(val, 4),
                        "test_acc": round(test, 4),
                        "seconds": round(seconds, 1),
                        "loss": ";".join(f"{v:.5f}" for v in losses),
                    }
                    writer.writerow(row)
                    fh.flush()
                    rows.append({k: str(v) for k, v in row.items()})
                    print(row, flush=True)
                    summarise(rows, command, RESULTS / f"{args.name}.md")
    summarise(rows, command, RESULTS / f"{args.name}.md")


if __name__ == "__main__":
    main()
