"""One configuration, one fit, its linear probe: the quick runs behind the defaults.

The search of the per-modality defaults (``search_defaults.py``) runs grids on
validation splits; this script answers single questions about one setting in
the benchmarks' own protocol (``bench_quality.py``): fit the estimator with the
given parameters, then probe ``transform``'s output with StandardScaler +
LogisticRegression fitted on the training data and scored on held-out data.

- ``image``: Fashion-MNIST, ``--n`` random training images (``--seed``), the
  10,000 test images; with ``--embedding-dim 64`` (an output layer) the pooled
  features under it are probed too (``pooled``), from the same fit;
- ``graph``: Fashion-MNIST superpixel graphs, 5,000 training / 2,000 test
  images, trained and untrained (``lr=1e-12``) with the same parameters;
  ``--graph-views`` sets ``default_graph_augmentation``'s keywords,
  ``--graph-members`` the augmentations drawn per graph; ``--with-labels``
  adds a third fit of the same parameters with the training labels as
  positives (``supervision="labels"``) and a copy of the untrained encoder
  trained as a classifier with cross-entropy (``cross_entropy``): how far this
  encoder gets when it is trained for the labels themselves, the reference
  for the label-free ``trained`` row's gain;
- ``tabular``: ``--datasets`` of ``bench_quality.py``, 50/50 splits over
  ``--seeds``; the last hidden layer is probed too (``hidden``).

Every run prints one JSON line (append it to a file to keep it). Examples::

    python benchmarks/probe_configs.py image --params '{"embedding_dim": 64}'
    python benchmarks/probe_configs.py graph --graph-views '{"per_graph": true}'
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_quality import probe, superpixel_graphs, tabular_datasets  # noqa: E402

from rince_sklearn import RobustContrastiveEmbedder  # noqa: E402


def _hooked(emb, module, X) -> np.ndarray:
    """The outputs of ``module`` (inside the encoder) while embedding ``X``."""
    out: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda m, i, o: out.append(o.flatten(1)))
    try:
        emb.transform(X)
    finally:
        hook.remove()
    return torch.cat(out).detach().numpy()


def run_image(args, params) -> dict:
    from rince_sklearn.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    keep = np.random.default_rng(args.seed).choice(len(X), args.n, replace=False)
    X, y = X[keep], y[keep]
    emb = RobustContrastiveEmbedder(
        max_epochs=args.epochs, n_threads=args.threads, random_state=args.seed, **params
    )
    start = time.perf_counter()
    emb.fit(X)
    out = {"fit_s": round(time.perf_counter() - start, 1)}
    out["emb"] = probe(emb.transform(X), y, emb.transform(X_test), y_test)
    if not isinstance(emb.encoder_.fc, torch.nn.Identity):
        pooled = emb.encoder_.pool  # the last stage's pooled features
        out["pooled"] = probe(
            _hooked(emb, pooled, X), y, _hooked(emb, pooled, X_test), y_test
        )
    return out


#: what ``--graph-members`` may name: the graph views, nothing else
GRAPH_MEMBERS = (
    "NodeDropping",
    "EdgePerturbation",
    "AttributeMasking",
    "RandomWalkSubgraph",
)
_PLAIN = (bool, int, float, str, type(None))


def graph_members(spec):
    """Build ``GraphRandomChoice`` from ``[[name, {keyword: value}], ...]``.

    Names must be in ``GRAPH_MEMBERS`` and values plain numbers, strings,
    booleans or None: nothing else is looked up, imported or constructed.
    Raises ValueError otherwise.
    """
    from rince_sklearn.augment import GraphRandomChoice
    from rince_sklearn.augment import graph as views

    if not isinstance(spec, list) or not spec:
        raise ValueError("expected a non-empty list of [name, {keywords}] pairs")
    members = []
    for item in spec:
        if not (isinstance(item, list) and len(item) == 2):
            raise ValueError(f"expected [name, {{keywords}}], got {item!r}")
        name, keywords = item
        if name not in GRAPH_MEMBERS:
            raise ValueError(f"unknown view {name!r}; known: {list(GRAPH_MEMBERS)}")
        if not isinstance(keywords, dict) or not all(
            isinstance(k, str) and isinstance(v, _PLAIN) for k, v in keywords.items()
        ):
            raise ValueError(f"keywords of {name} must map names to plain values")
        members.append(getattr(views, name)(**keywords))
    return GraphRandomChoice(members)


def _graph_members_argument(text: str):
    try:
        return graph_members(json.loads(text))
    except (ValueError, TypeError) as error:  # JSON, names, keywords
        raise argparse.ArgumentTypeError(str(error)) from error


def run_graph(args, params) -> dict:
    from rince_sklearn.augment import default_graph_augmentation

    g_train, y_train, g_test, y_test = superpixel_graphs(5000, 2000)
    if args.graph_views is not None:
        params["augmentation"] = default_graph_augmentation(**args.graph_views)
    if args.graph_members is not None:  # checked and built by the parser
        params["augmentation"] = args.graph_members
    runs = [
        ("untrained", {"max_epochs": 1, "lr": 1e-12, "lr_schedule": None}),
        ("trained", {"max_epochs": args.epochs}),
    ]
    if args.with_labels:
        runs.append(("labels", {"max_epochs": args.epochs, "supervision": "labels"}))
    out, fitted = {}, {}
    for name, extra in runs:
        start = time.perf_counter()
        emb = RobustContrastiveEmbedder(
            n_threads=args.threads, random_state=args.seed, **{**params, **extra}
        )
        emb.fit(g_train, y_train if name == "labels" else None)
        out[f"{name}_s"] = round(time.perf_counter() - start, 1)
        out[name] = probe(
            emb.transform(g_train), y_train, emb.transform(g_test), y_test
        )
        fitted[name] = emb
    if args.with_labels:
        start = time.perf_counter()
        reference = cross_entropy_reference(
            fitted["untrained"],
            g_train,
            y_train,
            epochs=args.epochs,
            lr=fitted["trained"].lr_,  # the untrained fit's lr_ is 1e-12
            seed=args.seed,
        )
        out["cross_entropy_s"] = round(time.perf_counter() - start, 1)
        out["cross_entropy"] = probe(
            reference.transform(g_train), y_train, reference.transform(g_test), y_test
        )
    return out


def cross_entropy_reference(untrained, graphs, y, epochs, lr, seed):
    """A copy of the untrained estimator whose encoder is trained as a classifier.

    The copy's encoder (same layout and initialisation) gets a linear layer on
    top and is trained with cross-entropy on ``y`` for ``epochs`` (Adam at
    ``lr``, the estimator's batch size, no augmentation; the head's
    initialisation and the shuffling seeded by ``seed``); its ``transform``
    then gives what this encoder's features reach when they are trained for
    the labels themselves, the reference for the gains of the label-free fits.
    """
    from rince_sklearn.batching import move_to_device
    from rince_sklearn.graphs import collate_graphs

    reference = copy.deepcopy(untrained)
    encoder = reference.encoder_.train()
    classes, codes = np.unique(y, return_inverse=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = torch.nn.Linear(reference.embedding_dim_, len(classes))
    head = head.to(reference.device_)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    targets = torch.as_tensor(codes, device=reference.device_)
    rng = torch.Generator().manual_seed(seed)
    size = reference.batch_size
    for _ in range(epochs):
        order = torch.randperm(len(graphs), generator=rng).tolist()
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            batch = collate_graphs([graphs[i] for i in rows])
            logits = head(encoder(move_to_device(batch, reference.device_)))
            loss = torch.nn.functional.cross_entropy(logits, targets[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    encoder.eval()
    return reference


def run_tabular(args, params) -> dict:
    from sklearn.model_selection import train_test_split

    out = {}
    for name, X, y in tabular_datasets():
        if name not in args.datasets:
            continue
        scores: dict[str, list[float]] = {"emb": [], "hidden": [], "raw": []}
        for seed in range(args.seeds):
            X_a, X_b, y_a, y_b = train_test_split(
                X, y, test_size=0.5, stratify=y, random_state=seed
            )
            emb = RobustContrastiveEmbedder(
                n_threads=args.threads, random_state=seed, **params
            ).fit(X_a)
            scores["emb"].append(
                probe(emb.transform(X_a), y_a, emb.transform(X_b), y_b)
            )
            relu = [m for m in emb.encoder_.modules() if isinstance(m, torch.nn.ReLU)][
                -1
            ]
            scores["hidden"].append(
                probe(_hooked(emb, relu, X_a), y_a, _hooked(emb, relu, X_b), y_b)
            )
            scores["raw"].append(probe(X_a, y_a, X_b, y_b))
        out[name] = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modality", choices=["image", "graph", "tabular"])
    parser.add_argument("--params", type=json.loads, default={}, help="JSON")
    parser.add_argument("--graph-views", type=json.loads, default=None, help="JSON")
    parser.add_argument(
        "--graph-members",
        type=_graph_members_argument,
        default=None,
        help="JSON list of [name, {keywords}] of the views in GRAPH_MEMBERS, "
        'one drawn per graph, e.g. [["NodeDropping", {"rate": 0.2}]]',
    )
    parser.add_argument(
        "--with-labels",
        action="store_true",
        help="graph: also fit with the training labels as positives",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n", type=int, default=10_000, help="image: training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3, help="tabular: splits")
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "digits"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    run = {"image": run_image, "graph": run_graph, "tabular": run_tabular}
    result = run[args.modality](args, dict(args.params))
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
    print(json.dumps({"argv": sys.argv[1:], **rounded}), flush=True)


if __name__ == "__main__":
    main()
