"""Graph embeddings on Fashion-MNIST superpixel graphs: accuracy and speed.

Accuracy: a logistic-regression probe on the graph embedding of
``RobustContrastiveEmbedder`` (GIN, GraphCL augmentations, RINCE), against a
probe on pooled node features (mean, std, min, max of every feature) and on an
untrained GIN of the same architecture, over several seeds.

Speed: graphs per second of training steps (two views, forward, backward,
optimiser step) of our plain-torch GIN against the same model built from
torch_geometric's ``GINConv`` and ``global_add_pool``, on the same batches, with
``torch.set_num_threads(1)`` (the machine is shared, so ratios measured in the
same run are what counts), and the share of a full step (gather a batch, two
augmented views, the step) spent gathering and augmenting.

Usage::

    python benchmarks/bench_graphs.py --n-train 5000 --n-test 2000 --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.augment import default_graph_augmentation
from rince_sklearn.datasets import images_to_superpixel_graphs, load_fashion_mnist
from rince_sklearn.encoders import GINEncoder
from rince_sklearn.encoders.head import ContrastiveModule
from rince_sklearn.graphs import GraphSource, pack_graphs
from rince_sklearn.losses import RINCELoss

RESULTS = Path(__file__).parent / "results"


def pooled_features(graphs):
    return np.stack(
        [np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0)]) for _, x in graphs]
    )


def probe(z_train, y_train, z_test, y_test):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return model.fit(z_train, y_train).score(z_test, y_test)


def accuracy(args, g_train, y_train, g_test, y_test):
    rows = []
    base = probe(pooled_features(g_train), y_train, pooled_features(g_test), y_test)
    rows.append(("pooled node features", -1, base, 0.0))
    print(f"pooled node features: {base:.4f}", flush=True)
    for seed in range(args.seeds):
        kwargs = dict(batch_size=args.batch_size, random_state=seed)
        untrained = RobustContrastiveEmbedder(max_epochs=1, lr=1e-12, **kwargs)
        untrained.fit(g_train)
        acc = probe(
            untrained.transform(g_train), y_train, untrained.transform(g_test), y_test
        )
        rows.append(("untrained GIN", seed, acc, 0.0))
        print(f"untrained GIN seed {seed}: {acc:.4f}", flush=True)
        for loss in args.losses:
            est = RobustContrastiveEmbedder(
                max_epochs=args.epochs, lr=args.lr, loss=loss, **kwargs
            )
            start = time.perf_counter()
            est.fit(g_train)
            fit_s = time.perf_counter() - start
            acc = probe(est.transform(g_train), y_train, est.transform(g_test), y_test)
            rows.append((f"GIN + {loss}", seed, acc, fit_s))
            print(f"GIN + {loss} seed {seed}: {acc:.4f} ({fit_s:.0f} s)", flush=True)
    return rows


def pyg_gin_class():
    """The same model as GINEncoder, from torch_geometric's layers."""
    from torch import nn
    from torch_geometric.nn import GINConv, global_add_pool

    class PygGIN(nn.Module):
        def __init__(self, in_features, embedding_dim=64, hidden_dim=64, num_layers=3):
            super().__init__()
            self.input_norm = nn.BatchNorm1d(in_features, affine=False)
            self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
            width = in_features
            for _ in range(num_layers):
                mlp = nn.Sequential(
                    nn.Linear(width, hidden_dim),
                    nn.ReLU(),
                    nn.Linear(hidden_dim, hidden_dim),
                )
                self.convs.append(GINConv(mlp))
                self.norms.append(nn.BatchNorm1d(hidden_dim))
                width = hidden_dim
            self.out = nn.Linear(hidden_dim * num_layers, embedding_dim)

        def forward(self, g):
            h = self.input_norm(g.x)
            pooled = []
            for conv, norm in zip(self.convs, self.norms, strict=True):
                h = norm(torch.relu(conv(h, g.edge_index)))
                pooled.append(global_add_pool(h, g.batch, size=g.num_graphs))
            return self.out(torch.cat(pooled, 1))

    return PygGIN


def speed(args, g_train):
    source = GraphSource(pack_graphs(g_train))
    n_features = source.packed.n_features
    augmentation = default_graph_augmentation()
    generator = torch.Generator().manual_seed(0)
    shuffle = torch.Generator().manual_seed(0)
    batches = [
        source.take(torch.randperm(len(source), generator=shuffle)[: args.batch_size])
        for _ in range(args.speed_batches)
    ]
    views = [
        (augmentation(b, generator=generator), augmentation(b, generator=generator))
        for b in batches
    ]
    loss_fn = RINCELoss()
    sizes = {"in_features": n_features, "hidden_dim": 64}  # as the PyG model
    models = {
        "ours (plain torch, CSR)": (GINEncoder, sizes),
        "ours (index_add_)": (GINEncoder, {**sizes, "sparse": False}),
    }
    try:
        models["torch_geometric GINConv"] = (
            pyg_gin_class(),
            {"in_features": n_features},
        )
        pyg_version = __import__("torch_geometric").__version__
    except ImportError:
        pyg_version = None
    built = {}
    for name, (cls, kw) in models.items():
        torch.manual_seed(0)
        module = ContrastiveModule(cls, kw, 64, 64)
        built[name] = (module, torch.optim.Adam(module.parameters(), lr=1e-3))

    def step(module, optimizer, pair):
        optimizer.zero_grad()
        loss = loss_fn(module(pair[0]), module(pair[1]))
        loss.backward()
        optimizer.step()

    times = {name: [] for name in built}
    for module, optimizer in built.values():  # warm up
        step(module, optimizer, views[0])
    for _ in range(args.repeats):  # interleaved, so load affects all alike
        for name, (module, optimizer) in built.items():
            start = time.perf_counter()
            for pair in views:
                step(module, optimizer, pair)
            times[name].append(time.perf_counter() - start)
    n_graphs = args.batch_size * len(views)
    rows = [(name, n_graphs / np.median(t)) for name, t in times.items()]

    # share of a full training step spent in gathering and augmenting
    module, optimizer = built["ours (plain torch, CSR)"]
    parts = {"gather": [], "augment": [], "step": []}
    for _ in range(args.repeats):
        for _ in range(len(views)):
            t0 = time.perf_counter()
            index = torch.randperm(len(source), generator=shuffle)[: args.batch_size]
            batch = source.take(index)
            t1 = time.perf_counter()
            pair = (
                augmentation(batch, generator=generator),
                augmentation(batch, generator=generator),
            )
            t2 = time.perf_counter()
            step(module, optimizer, pair)
            t3 = time.perf_counter()
            parts["gather"].append(t1 - t0)
            parts["augment"].append(t2 - t1)
            parts["step"].append(t3 - t2)
    medians = {k: float(np.median(v)) for k, v in parts.items()}
    total = sum(medians.values())
    shares = {k: v / total for k, v in medians.items()}
    return rows, shares, medians, pyg_version


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--losses", nargs="+", default=["rince"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--speed-batches", type=int, default=8)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--out", default="graphs")
    args = parser.parse_args()
    torch.set_num_threads(1)

    images, y = load_fashion_mnist(subset="train", return_X_y=True)
    test_images, y_test = load_fashion_mnist(subset="test", return_X_y=True)
    start = time.perf_counter()
    g_train = images_to_superpixel_graphs(images[: args.n_train])
    g_test = images_to_superpixel_graphs(test_images[: args.n_test])
    convert_s = time.perf_counter() - start
    y_train, y_test = y[: args.n_train], y_test[: args.n_test]
    nodes = np.mean([len(x) for _, x in g_train])
    edges = np.mean([e.shape[1] / 2 for e, _ in g_train])
    print(f"superpixels: {convert_s:.1f} s, {nodes:.1f} nodes, {edges:.1f} edges")

    speed_rows, shares, medians, pyg_version = speed(args, g_train)
    for name, gps in speed_rows:
        print(f"{name}: {gps:.0f} graphs/s", flush=True)
    print("shares:", {k: round(v, 3) for k, v in shares.items()})
    acc_rows = (
        [] if args.skip_accuracy else accuracy(args, g_train, y_train, g_test, y_test)
    )

    RESULTS.mkdir(exist_ok=True)
    command = " ".join(["python benchmarks/bench_graphs.py", *sys.argv[1:]])
    lines = [
        "# Graph embeddings: Fashion-MNIST superpixel graphs",
        "",
        f"Command: `{command}`",
        "",
        f"torch {torch.__version__}, torch_geometric {pyg_version}, one CPU thread "
        "(`torch.set_num_threads(1)`) on a machine shared with other jobs: compare "
        "ratios within this run, not absolute times.",
        "",
        f"Data: {args.n_train} training and {args.n_test} test images of Fashion-MNIST "
        f"as SLIC superpixel graphs (`images_to_superpixel_graphs`, {nodes:.1f} nodes "
        f"and {edges:.1f} undirected edges per graph on average; node features: "
        f"mean intensity and centroid), converted in {convert_s:.1f} s.",
        "",
    ]
    if acc_rows:
        lines += [
            "## Probe accuracy (logistic regression on standardised features)",
            "",
            f"Trained: `RobustContrastiveEmbedder(max_epochs={args.epochs}, "
            f"batch_size={args.batch_size}, lr={args.lr})` with its graph defaults "
            "(3-layer GIN whose sum-pooled layers, 21 + 21 + 22 wide, are "
            "concatenated into the 64-d embedding; GraphCL's four augmentations, "
            f"one drawn per batch and view; loss {' / '.join(args.losses)} with the "
            "estimator's defaults). The untrained "
            "GIN is the same network at its random initialisation.",
            "",
            "| representation | mean accuracy | std | seeds | mean fit time (s) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name in dict.fromkeys(r[0] for r in acc_rows):
            accs = [r[2] for r in acc_rows if r[0] == name]
            fit = np.mean([r[3] for r in acc_rows if r[0] == name])
            lines.append(
                f"| {name} | {np.mean(accs):.4f} | {np.std(accs):.4f} | {len(accs)} "
                f"| {fit:.0f} |"
            )
        lines.append("")
        with open(RESULTS / f"{args.out}.csv", "w") as f:
            f.write("representation,seed,accuracy,fit_seconds\n")
            for name, seed, acc, fit_s in acc_rows:
                f.write(f"{name},{seed},{acc:.4f},{fit_s:.1f}\n")
    reference = dict(speed_rows).get("torch_geometric GINConv")
    lines += [
        "## Training speed (same batches, two pre-augmented views per step)",
        "",
        "Both models: 3 GIN layers of width 64 (MLP Linear-ReLU-Linear, then ReLU "
        "and batch norm), sum pooling of every layer, concatenation, Linear to 64; "
        f"batch of {args.batch_size} graphs; median of {args.repeats} interleaved "
        f"repeats over {args.speed_batches} batches; forward, RINCE loss, backward and "
        "Adam step of encoder and projection head.",
        "",
        "| model | graphs / s | ratio to torch_geometric |",
        "| --- | --- | --- |",
    ]
    for name, gps in speed_rows:
        ratio = f"{gps / reference:.2f}x" if reference else "n/a"
        lines.append(f"| {name} | {gps:.0f} | {ratio} |")
    lines += [
        "",
        "Share of a full training step (gather a batch with `GraphSource.take`, two "
        "views with the default augmentation, the step), medians per batch:",
        "",
        "| part | median ms | share |",
        "| --- | --- | --- |",
    ]
    for part in ("gather", "augment", "step"):
        lines.append(f"| {part} | {medians[part] * 1e3:.1f} | {shares[part]:.1%} |")
    lines.append("")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines))
    with open(RESULTS / f"{args.out}_speed.csv", "w") as f:
        f.write("model,graphs_per_second\n")
        for name, gps in speed_rows:
            f.write(f"{name},{gps:.1f}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
