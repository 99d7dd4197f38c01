"""Search of the per-modality defaults, on validation splits only.

Each trial fits the estimator with explicit settings on a "search-train" part
and probes it (StandardScaler + LogisticRegression) on a validation part; the
test data of ``bench_quality.py`` is never used:

- tabular: for each seed, the training half of ``bench_quality.py``'s 50/50
  split is split again, 70/30 (stratified), into search-train and validation;
- image: search-train images are drawn from the first 50,000 images of the
  Fashion-MNIST train file, validation is the last 10,000 (``bench_quality``'s
  test set is the separate test file);
- graph: superpixel graphs of train-file images 50,000.. (search-train) and
  58,000.. (validation); the test file is not touched.

Trials are one-at-a-time variations around a base configuration (a coordinate
search: the budget of a 2-core machine shared by several jobs allows no grid),
``--seeds`` seeds each. Results: one row per (config, dataset, seed), appended
to ``benchmarks/results/NAME.csv`` as soon as it is done (``--resume``
continues), summary in NAME.md.

Run:  python benchmarks/search_defaults.py {tabular,image,graph} [--seeds 3]
      [--resume] [--name NAME] [--configs base,lr3e-3,...]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import (  # noqa: E402
    pooled_node_features,
    probe,
    tabular_datasets,
)

from rince_sklearn import RobustContrastiveEmbedder  # noqa: E402
from rince_sklearn.augment import MarginalCorruption  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FIELDS = ["config", "dataset", "seed", "accuracy", "reference", "fit_seconds"]

TABULAR_BASE = dict(
    lr=1e-3,
    temperature=0.5,
    corruption_rate=0.6,
    hidden_dims=(256, 256),
    target_steps=1000,
)
TABULAR_CONFIGS = {
    "base": {},
    "lr3e-3": {"lr": 3e-3},
    "lr3e-4": {"lr": 3e-4},
    "T0.2": {"temperature": 0.2},
    "T1.0": {"temperature": 1.0},
    "corr0.3": {"corruption_rate": 0.3},
    "corr0.8": {"corruption_rate": 0.8},
    "wide512": {"hidden_dims": (512, 512)},
    "deep3": {"hidden_dims": (256, 256, 256)},
    "steps2000": {"target_steps": 2000},
    "steps500": {"target_steps": 500},
}


def tabular_epochs(n, batch_size, target_steps, low=20, high=200):
    per_epoch = -(-n // min(batch_size, n))
    return int(min(high, max(low, -(-target_steps // per_epoch))))


def tabular_trial(config, X_fit, X_val, y_fit, y_val, seed):
    c = {**TABULAR_BASE, **TABULAR_CONFIGS[config]}
    emb = RobustContrastiveEmbedder(
        lr=c["lr"],
        temperature=c["temperature"],
        max_epochs=tabular_epochs(len(X_fit), 256, c["target_steps"]),
        encoder_kwargs={"hidden_dims": c["hidden_dims"]},
        augmentation=MarginalCorruption(c["corruption_rate"]),
        random_state=seed,
    )
    start = time.perf_counter()
    emb.fit(X_fit)
    seconds = time.perf_counter() - start
    acc = probe(emb.transform(X_fit), y_fit, emb.transform(X_val), y_val)
    return acc, seconds


def tabular_cases(seeds):
    data = list(tabular_datasets())
    for seed in seeds:
        for name, X, y in data:
            X_tr, _, y_tr, _ = train_test_split(
                X, y, test_size=0.5, stratify=y, random_state=seed
            )
            X_fit, X_val, y_fit, y_val = train_test_split(
                X_tr, y_tr, test_size=0.3, stratify=y_tr, random_state=seed
            )
            yield name, seed, X_fit, X_val, y_fit, y_val


REFERENCE_VIEWS = dict(
    crop_scale=(0.6, 1.0),
    flip=True,
    brightness=0.4,
    contrast=0.0,
    jitter_p=1.0,
    blur_p=0.0,
    noise_std=0.05,
)
SIMCLR_VIEWS = dict(crop_scale=(0.35, 1.0))  # the previous default
IMAGE_BASE = dict(
    encoder="conv",
    encoder_kwargs={"base_width": 32},
    views=REFERENCE_VIEWS,
    lr=1e-3,
    temperature=0.5,
)
IMAGE_CONFIGS = {
    "base": {},
    "resnet+simclr_views": {"encoder": "resnet", "encoder_kwargs": {}, "views": {}},
    "simclr_views": {"views": SIMCLR_VIEWS},
    "crop0.35": {"views": {**REFERENCE_VIEWS, "crop_scale": (0.35, 1.0)}},
    "lr3e-3": {"lr": 3e-3},
    "T0.2": {"temperature": 0.2},
    "width64": {"encoder_kwargs": {"base_width": 64}},
    "blur": {"views": {**REFERENCE_VIEWS, "blur_p": 0.5}},
    "width16_nofc": {"encoder_kwargs": {"base_width": 16}},
    "2convs": {"encoder_kwargs": {"base_width": 32, "convs_per_stage": 2}},
}


def image_trial(config, X_fit, X_val, y_fit, y_val, seed, epochs):
    from rince_sklearn.augment import default_image_augmentation
    from rince_sklearn.encoders import ConvEncoder, ResNetEncoder

    c = {**IMAGE_BASE, **IMAGE_CONFIGS[config]}
    emb = RobustContrastiveEmbedder(
        encoder=ConvEncoder if c["encoder"] == "conv" else ResNetEncoder,
        encoder_kwargs=c["encoder_kwargs"],
        augmentation=default_image_augmentation(**c["views"]),
        lr=c["lr"],
        temperature=c["temperature"],
        max_epochs=epochs,
        random_state=seed,
    )
    start = time.perf_counter()
    emb.fit(X_fit)
    seconds = time.perf_counter() - start
    acc = probe(emb.transform(X_fit), y_fit, emb.transform(X_val), y_val)
    return acc, seconds


def image_cases(seeds, n_fit, n_val):
    from rince_sklearn.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_val, y_val = X[-n_val:], y[-n_val:]  # validation: the file's last images
    for seed in seeds:
        idx = np.random.default_rng(seed).choice(50_000, n_fit, replace=False)
        yield "fashion-mnist", seed, X[idx], X_val, y[idx], y_val


GRAPH_BASE = dict(
    lr=3e-3,
    temperature=0.5,
    # the width of the searches before the layout search (3 layers 21 wide);
    # the layouts below set their own
    embedding_dim=64,
    views=dict(per_graph=False, rate=0.2, subgraph_keep_rate=None, mask_fill=0.0),
)
GRAPH_CONFIGS = {
    "base": {},
    "per_graph": {"views": {**GRAPH_BASE["views"], "per_graph": True}},
    "subgraph20": {"views": {**GRAPH_BASE["views"], "subgraph_keep_rate": 0.2}},
    "mask_mean": {"views": {**GRAPH_BASE["views"], "mask_fill": "mean"}},
    "T0.2": {"temperature": 0.2},
    "T1.0": {"temperature": 1.0},
    "lr1e-3": {"lr": 1e-3},
    "rate0.1": {"views": {**GRAPH_BASE["views"], "rate": 0.1}},
    "untrained": {"untrained": True},  # at initialisation (BN statistics set)
    "pg_mean": {
        "views": {**GRAPH_BASE["views"], "per_graph": True, "mask_fill": "mean"}
    },
    "pg_mean_h64": {
        "views": {**GRAPH_BASE["views"], "per_graph": True, "mask_fill": "mean"},
        "encoder_kwargs": {"hidden_dim": 64},
    },
    "pg_mean_T0.2": {
        "views": {**GRAPH_BASE["views"], "per_graph": True, "mask_fill": "mean"},
        "temperature": 0.2,
    },
}
#: today's default views (one GraphCL view per graph, masks set to the mean),
#: with the GIN's layout varied; every layout also at initialisation
#: (``untrained_...``), because a wider GIN is better untrained too
_DEFAULT_VIEWS = {**GRAPH_BASE["views"], "per_graph": True, "mask_fill": "mean"}
_GIN_LAYOUTS = {
    "l3": {},  # GRAPH_BASE's 64 split over 3 layers (21/21/22)
    **{
        f"l{layers}h{width}": {
            "encoder_kwargs": {"num_layers": layers, "hidden_dim": width},
            "embedding_dim": layers * width,
        }
        for layers, width in [(3, 32), (4, 32), (5, 32), (5, 48), (5, 64), (3, 64)]
    },
}
for _name, _layout in _GIN_LAYOUTS.items():
    GRAPH_CONFIGS[f"pg_mean_{_name}"] = {"views": _DEFAULT_VIEWS, **_layout}
    GRAPH_CONFIGS[f"untrained_{_name}"] = {
        "views": _DEFAULT_VIEWS,
        **_layout,
        "untrained": True,
    }
#: the usual knobs again around the chosen layout (3 x 64)
for _name, _knob in [
    ("T0.2", {"temperature": 0.2}),
    ("lr1e-3", {"lr": 1e-3}),
    ("bs512", {"batch_size": 512}),
]:
    GRAPH_CONFIGS[f"pg_mean_l3h64_{_name}"] = {
        **GRAPH_CONFIGS["pg_mean_l3h64"],
        **_knob,
    }


def graph_trial(config, X_fit, X_val, y_fit, y_val, seed, epochs):
    from rince_sklearn.augment import default_graph_augmentation

    c = {**GRAPH_BASE, **GRAPH_CONFIGS[config]}
    emb = RobustContrastiveEmbedder(
        encoder_kwargs=c.get("encoder_kwargs"),
        embedding_dim=c["embedding_dim"],
        augmentation=default_graph_augmentation(**c["views"]),
        lr=c["lr"],
        temperature=c["temperature"],
        batch_size=c.get("batch_size", 256),
        max_epochs=epochs,
        random_state=seed,
    )
    start = time.perf_counter()
    if c.get("untrained"):
        emb.set_params(max_epochs=1, lr=1e-12, lr_schedule=None)
    emb.fit(X_fit)
    seconds = time.perf_counter() - start
    acc = probe(emb.transform(X_fit), y_fit, emb.transform(X_val), y_val)
    return acc, seconds


def graph_cases(seeds, n_fit, n_val):
    from rince_sklearn.datasets import images_to_superpixel_graphs, load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    g_fit = images_to_superpixel_graphs(X[50_000 : 50_000 + n_fit])
    g_val = images_to_superpixel_graphs(X[58_000 : 58_000 + n_val])
    y_fit, y_val = y[50_000 : 50_000 + n_fit], y[58_000 : 58_000 + n_val]
    for seed in seeds:
        yield "superpixels", seed, g_fit, g_val, y_fit, y_val


def summarise(rows, command, path, base):
    configs = list(dict.fromkeys(r["config"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [
        "# Search of the defaults (validation splits only)",
        "",
        f"Command: `{command}`",
        "",
        f"Base configuration: {base}. Each config changes one setting. Cells: "
        "validation accuracy minus that of standardised raw features on the "
        "same split (points), mean over the seeds done (count in brackets); "
        "last column: mean over datasets, then mean fit seconds.",
        "",
        "| config | " + " | ".join(datasets) + " | mean | fit s |",
        "| --- |" + " ---: |" * (len(datasets) + 2),
    ]
    for config in configs:
        cells, means, secs = [], [], []
        for name in datasets:
            sel = [r for r in rows if r["config"] == config and r["dataset"] == name]
            if not sel:
                cells.append("")
                continue
            d = [100 * (float(r["accuracy"]) - float(r["reference"])) for r in sel]
            means.append(np.mean(d))
            secs += [float(r["fit_seconds"]) for r in sel]
            cells.append(f"{np.mean(d):+.2f} ({len(sel)})")
        mean = f"{np.mean(means):+.2f}" if len(means) == len(datasets) else ""
        lines.append(
            f"| {config} | " + " | ".join(cells) + f" | {mean} | {np.mean(secs):.1f} |"
        )
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modality", choices=["tabular", "image", "graph"])
    parser.add_argument("--n-fit", type=int, default=3000)
    parser.add_argument("--n-val", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--name", default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--configs", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    name = args.name or f"quality_search_{args.modality}"
    csv_path, md_path = RESULTS / f"{name}.csv", RESULTS / f"{name}.md"
    command = "python benchmarks/search_defaults.py " + " ".join(sys.argv[1:])
    table = {"tabular": TABULAR_CONFIGS, "image": IMAGE_CONFIGS}.get(
        args.modality, GRAPH_CONFIGS
    )
    configs = args.configs.split(",") if args.configs else list(table)
    if args.modality == "tabular":
        cases, base = tabular_cases(range(args.seeds)), TABULAR_BASE

        def trial(config, *data):
            return tabular_trial(config, *data)
    elif args.modality == "graph":
        cases = graph_cases(range(args.seeds), args.n_fit, args.n_val)
        base = {**GRAPH_BASE, "epochs": args.epochs, "n_fit": args.n_fit}

        def trial(config, X_fit, X_val, y_fit, y_val, seed):
            return graph_trial(config, X_fit, X_val, y_fit, y_val, seed, args.epochs)
    else:
        cases = image_cases(range(args.seeds), args.n_fit, args.n_val)
        base = {**IMAGE_BASE, "epochs": args.epochs, "n_fit": args.n_fit}

        def trial(config, X_fit, X_val, y_fit, y_val, seed):
            return image_trial(config, X_fit, X_val, y_fit, y_val, seed, args.epochs)

    rows = []
    if args.resume and csv_path.exists():
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif csv_path.exists():
        csv_path.unlink()
    done = {(r["config"], r["dataset"], int(r["seed"])) for r in rows}
    for name_, seed, X_fit, X_val, y_fit, y_val in cases:
        if args.modality == "graph":  # pooled node features
            reference = probe(
                pooled_node_features(X_fit), y_fit, pooled_node_features(X_val), y_val
            )
        else:
            flat_fit = X_fit.reshape(len(X_fit), -1)
            reference = probe(flat_fit, y_fit, X_val.reshape(len(X_val), -1), y_val)
        for config in configs:
            if (config, name_, seed) in done:
                continue
            acc, seconds = trial(config, X_fit, X_val, y_fit, y_val, seed)
            row = {
                "config": config,
                "dataset": name_,
                "seed": seed,
                "accuracy": acc,
                "reference": reference,
                "fit_seconds": round(seconds, 2),
            }
            fresh = not csv_path.exists()
            with open(csv_path, "a", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=FIELDS)
                if fresh:
                    writer.writeheader()
                writer.writerow(row)
            rows.append(row)
            print(config, name_, seed, f"{acc:.4f} vs {reference:.4f}", flush=True)
    summarise(rows, command, md_path, base)


if __name__ == "__main__":
    main()
