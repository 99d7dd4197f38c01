"""Attack ``RobustContrastiveEmbedder.load`` with hostile saved files (a fuzzer).

Builds one small saved model per modality (tabular: wine; images: 8x8 digits;
graphs: small random graphs), writes many seeded tampered variants of each, and
runs ``load`` + ``transform`` + ``score`` on every variant in worker
subprocesses, recording the outcome (loaded, ValueError, TypeError, another
exception, timeout, crash), the growth of peak RSS, NaN or infinite outputs,
modules imported by the load, and whether a canary file was created.

A worker handles variants one after another, resetting its peak RSS (Linux
``/proc/self/clear_refs``) before each; a variant that grows it by more than
``--rerun-mb`` is measured again alone in a fresh worker. (Where the peak
cannot be reset, ru_maxrss is used and the worker exits after such a variant.)
A variant that runs past ``--timeout`` seconds, or kills its
worker, is run again alone to confirm.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/attack_load.py            # full run
    python benchmarks/attack_load.py --only 123 --keep /tmp/v      # one variant

Results go to ``benchmarks/results/attack_load.md``.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANARY_NAME = "CANARY_attack_load"
FAST = {"max_epochs": 2, "embedding_dim": 8, "projection_dim": 8, "random_state": 0}
MODALITIES = ("tabular", "image", "graph")
AUG = "rince_sklearn.augment."  # the allow-listed augmentations' modules


# -- data --------------------------------------------------------------------------


def random_graphs(n_graphs, n_features=3, seed=0, max_nodes=9):
    """Return random undirected graphs as (edge_index, node_features) tuples."""
    import numpy as np

    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        n = int(rng.integers(1, max_nodes + 1))
        pairs = [
            (i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.4
        ]
        edges = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        edges = np.concatenate([edges, edges[::-1]], axis=1)
        graphs.append((edges, rng.normal(size=(n, n_features)).astype(np.float32)))
    return graphs


def dataset(modality):
    """Return the data a model of ``modality`` is fitted on and transforms."""
    import numpy as np
    from sklearn.datasets import load_digits, load_wine

    if modality == "tabular":
        return load_wine(return_X_y=True)[0]
    if modality == "image":
        digits = load_digits(return_X_y=True)[0][:300]
        return digits.reshape(-1, 1, 8, 8).astype(np.float32)
    return random_graphs(60)


def build_models(folder):
    """Fit and save one small model per modality; return {modality: path}."""
    from rince_sklearn import RobustContrastiveEmbedder

    paths = {}
    for modality in MODALITIES:
        path = Path(folder) / f"base_{modality}.pt"
        emb = RobustContrastiveEmbedder(modality=modality, **FAST)
        emb.fit(dataset(modality)).save(path)
        paths[modality] = path
    return paths


# -- hostile values ----------------------------------------------------------------


def nested_list(depth):
    """Return a list nested ``depth`` deep."""
    value = []
    for _ in range(depth):
        value = [value]
    return value


def nested_tuple(depth):
    """Return a tuple tag nested ``depth`` deep."""
    value = 0
    for _ in range(depth):
        value = {"__tuple__": [value]}
    return value


def hostile_values(rng):
    """Return (description, JSON value) pairs that a file author may write."""
    values = [
        ("huge int 10**18", 10**18),
        ("int 2**63", 2**63),
        ("int 2**31", 2**31),
        ("int 10**400", 10**400),
        ("-1", -1),
        ("0", 0),
        ("-10**18", -(10**18)),
        ("NaN", float("nan")),
        ("inf", float("inf")),
        ("-inf", float("-inf")),
        ("1e308", 1e308),
        ("1e-320", 1e-320),
        ("0.5", 0.5),
        ("True", True),
        ("False", False),
        ("None", None),
        ("''", ""),
        ("'auto'", "auto"),
        ("'x'*100000", "x" * 100_000),
        ("[]", []),
        ("[1,2,3]", [1, 2, 3]),
        ("nested list depth 50", nested_list(50)),
        ("nested list depth 5000", nested_list(5000)),
        ("nested tuple depth 3000", nested_tuple(3000)),
        ("{} (plain dict)", {}),
        ("{'__tuple__': []}", {"__tuple__": []}),
        ("{'__tuple__': [10**9]*3}", {"__tuple__": [10**9] * 3}),
        ("{'__dict__': 5}", {"__dict__": 5}),
        ("{'__dict__': [[[1], 2]]}", {"__dict__": [[[1], 2]]}),
        ("{'__class__': 'os:system'}", {"__class__": "os:system"}),
        ("{'__class__': 'builtins:eval'}", {"__class__": "builtins:eval"}),
        ("{'__import__': 'os:system'}", {"__import__": "os:system"}),
        ("{'__device__': 'cuda:99'}", {"__device__": "cuda:99"}),
        ("ndarray float64 [1e308]*3", {"__ndarray__": [1e308] * 3, "dtype": "float64"}),
        ("ndarray dtype object ints", {"__ndarray__": [1, 2], "dtype": "object"}),
        ("ndarray dtype 'V8'", {"__ndarray__": [1], "dtype": "V8"}),
        ("ndarray dtype list", {"__ndarray__": [1], "dtype": ["int64"]}),
        ("ndarray ragged", {"__ndarray__": [[1], [1, 2]], "dtype": "float32"}),
        (
            "ndarray str 2-D",
            {"__ndarray__": [["a", "b"], ["c", "d"]], "dtype": "str"},
        ),
        ("ndarray huge ints uint8", {"__ndarray__": [10**30], "dtype": "uint8"}),
        (
            "augmentation os:system",
            {"__augmentation__": "os:system", "params": {"command": "touch CANARY"}},
        ),
        ("'cuda:0'", "cuda:0"),
        ("'meta'", "meta"),
        ("'cpu'", "cpu"),
        ("'graph'", "graph"),
        ("'image'", "image"),
        ("'tabular'", "tabular"),
    ]
    return values


# -- mutations -------------------------------------------------------------------
#
# A variant is a list of operations on the raw payload (the dict torch.load
# returns) or on the file's bytes; each operation has a description precise
# enough to redo it by hand, and the generator is seeded, so --only N rebuilds it.


def json_paths(value, prefix=()):
    """Yield the paths (tuples of keys/indices) of every value in a JSON tree."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, (*prefix, i))


def set_path(tree, path, new):
    """Return a copy of ``tree`` with the value at ``path`` replaced."""
    if not path:
        return new
    tree = copy.deepcopy(tree)
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return tree


def augmentation_classes():
    """Return {module:qualname: class} of every allow-listed augmentation."""
    from rince_sklearn._persistence import ClassAllowList
    from rince_sklearn.augment import Augmentation

    allow = ClassAllowList()
    return {k: c for k, c in allow._classes.items() if issubclass(c, Augmentation)}


def module_classes():
    """Return the allow-listed torch.nn.Module and optimiser class names."""
    from torch import nn

    from rince_sklearn._persistence import ClassAllowList

    allow = ClassAllowList()
    modules = sorted(k for k, c in allow._classes.items() if issubclass(c, nn.Module))
    others = sorted(
        k for k, c in allow._classes.items() if not issubclass(c, nn.Module)
    )
    return modules, others


MEMBER_CLASSES = ("Compose", "RandomChoice", "GraphRandomChoice")


def random_augmentation(rng, classes, depth, values):
    """Return an encoded augmentation (random class, random parameters)."""
    import inspect

    name = rng.choice(sorted(classes))
    cls = classes[name]
    short = name.rpartition(":")[2]
    params = {}
    if short in MEMBER_CLASSES and depth > 0:
        n = (
            rng.choice([0, 1, 2, 3, 5, 65, 200])
            if rng.random() < 0.3
            else rng.randint(1, 3)
        )
        members = [
            random_augmentation(rng, classes, depth - 1, values)
            for _ in range(min(n, 3))
        ]
        members = (members * (n // max(len(members), 1) + 1))[:n] if members else []
        params["augmentations"] = members
        if short != "Compose" and rng.random() < 0.5:
            params["p"] = rng.choice(
                [[1.0] * n, [float("nan")] * n, [-1.0] * n, [1e308] * n, [0.0] * n, "x"]
            )
        return {"__augmentation__": name, "params": params}
    try:
        signature = inspect.signature(cls)
        names = [p for p in signature.parameters if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        names = []
    for param in names:
        if rng.random() < 0.5:
            default = signature.parameters[param].default
            if default is inspect.Parameter.empty:
                continue
            params[param] = (
                default
                if not isinstance(default, tuple)
                else {"__tuple__": list(default)}
            )
        else:
            params[param] = rng.choice(values)[1]
    if rng.random() < 0.1:
        params["evil"] = 1
    return {"__augmentation__": name, "params": params}


def nested_augmentation(
    depth, inner="rince_sklearn.augment._base:Identity", member="Compose"
):
    """Return Compose/RandomChoice nested ``depth`` deep around ``inner``."""
    value = {"__augmentation__": inner, "params": {}}
    for _ in range(depth):
        value = {
            "__augmentation__": f"rince_sklearn.augment._base:{member}",
            "params": {"augmentations": [value]},
        }
    return value


def generate(seed, n_random, modalities=MODALITIES):
    """Return the variants: dicts with id, modality, kind, description, ops."""
    import torch

    sys.setrecursionlimit(20000)  # to encode the deeply nested hostile values
    rng = random.Random(seed)
    values = hostile_values(rng)
    classes = augmentation_classes()
    modules, optimisers = module_classes()
    variants = []

    def add(modality, kind, description, ops):
        variants.append(
            {
                "id": len(variants),
                "modality": modality,
                "kind": kind,
                "description": description,
                "ops": ops,
            }
        )

    for modality in modalities:
        m = modality
        # ---- format / entries
        for v in [0, 1, 3, -1, "2", 2.0, True, None, 10**30]:
            add(m, "format", f"format_version = {v!r}", [("raw", "format_version", v)])
        add(m, "format", "format = 'x'", [("raw", "format", "x")])
        add(m, "format", "library_version = 5", [("raw", "library_version", 5)])
        add(m, "format", "library_version = None", [("raw", "library_version", None)])
        for key in [
            "params",
            "fitted",
            "history",
            "state_dict",
            "augmentation_state",
            "library_version",
        ]:
            add(m, "format", f"delete entry {key}", [("rawdel", key)])
        add(m, "format", "extra entry 'evil'", [("raw", "evil", 1)])
        add(m, "format", "params = {} (a dict, not JSON text)", [("raw", "params", {})])
        add(m, "format", "params = '[]'", [("raw", "params", "[]")])
        add(m, "format", "params = 'not json'", [("raw", "params", "{not json")])
        add(
            m,
            "format",
            "params = JSON nested 100000 deep",
            [("raw", "params", "[" * 100000 + "]" * 100000)],
        )
        add(m, "format", "fitted = 'null'", [("raw", "fitted", "null")])
        add(m, "format", "payload is a list", [("whole", "list")])
        add(
            m,
            "format",
            "v1 file: format_version=1, no library_version/augmentation_state",
            [
                ("raw", "format_version", 1),
                ("rawdel", "library_version"),
                ("rawdel", "augmentation_state"),
            ],
        )
        add(
            m,
            "format",
            "v1 file with encoder {'__import__': 'os:system'}",
            [
                ("raw", "format_version", 1),
                ("rawdel", "library_version"),
                ("rawdel", "augmentation_state"),
                ("json", "params", ("encoder",), {"__import__": "os:system"}),
            ],
        )
        add(
            m,
            "format",
            "v1 file with lr_ absent and lr='auto'",
            [
                ("raw", "format_version", 1),
                ("rawdel", "library_version"),
                ("rawdel", "augmentation_state"),
                ("jsondel", "fitted", "lr_"),
            ],
        )
        # ---- file bytes
        add(m, "bytes", "empty file", [("bytes", "empty")])
        add(m, "bytes", "random bytes", [("bytes", "random")])
        add(m, "bytes", "truncated to half", [("bytes", "truncate")])
        add(m, "bytes", "legacy (non-zip) torch.save", [("bytes", "legacy")])
        add(
            m,
            "bytes",
            "pickle calling os.system (canary) inside a torch zip",
            [("bytes", "reduce_canary")],
        )
        add(
            m,
            "bytes",
            "plain pickle calling os.system (canary)",
            [("bytes", "pickle_canary")],
        )
        add(
            m,
            "bytes",
            "zip re-written with deflate compression",
            [("bytes", "deflate")],
        )
        add(
            m,
            "bytes",
            "largest data/ entry truncated to 8 bytes (storage declares more)",
            [("bytes", "short_storage")],
        )
        add(
            m,
            "bytes",
            "zip with an extra 1 MB stored entry",
            [("bytes", "extra_entry")],
        )
        add(m, "bytes", "zip with duplicate data.pkl entry", [("bytes", "dup_pkl")])
        # ---- tensors
        for op, desc in [
            ("nan", "weights NaN"),
            ("inf", "weights inf"),
            ("big", "weights 1e38"),
            ("neg_var", "running_var = -1"),
            ("zero_var", "running_var = 0 (eps only)"),
            ("float64", "dtype float64"),
            ("float16", "dtype float16"),
            ("bfloat16", "dtype bfloat16"),
            ("int64", "dtype int64"),
            ("bool", "dtype bool"),
            ("complex64", "dtype complex64"),
            ("qint8", "quantized qint8"),
            ("meta", "meta tensor"),
            ("sparse", "sparse COO tensor"),
            ("sparse_csr", "sparse CSR tensor"),
            ("transpose", "non-contiguous (transposed view)"),
            ("shape+1", "first dim + 1"),
            ("shape_flat", "flattened"),
            ("scalar", "0-d"),
            ("empty", "zero elements"),
            ("shared", "view into a storage shared by all tensors"),
            ("offset", "storage_offset into a bigger storage"),
            ("expand", "expanded (stride 0) 10**6 x"),
            ("channels_last", "channels_last 4-D weight"),
            ("requires_grad", "requires_grad=True parameter"),
            ("nested", "nested tensor"),
        ]:
            for target in ["first_weight", "random", "batches_tracked"]:
                if target == "batches_tracked" and op not in (
                    "big",
                    "float64",
                    "int64",
                    "bool",
                    "nan",
                    "shape+1",
                ):
                    continue
                add(
                    m,
                    "tensor",
                    f"state_dict {target}: {desc}",
                    [("tensor", target, op)],
                )
        add(m, "tensor", "state_dict: every tensor NaN", [("tensor", "all", "nan")])
        add(
            m,
            "tensor",
            "state_dict: num_batches_tracked = 2**62",
            [("tensor", "batches_tracked", "huge_count")],
        )
        add(m, "tensor", "state_dict: delete a random key", [("tensordel", "random")])
        add(
            m,
            "tensor",
            "state_dict: extra key 'evil.weight' (8,)",
            [("tensoradd", "evil.weight", [8])],
        )
        add(
            m,
            "tensor",
            "state_dict: extra 30 MB tensor 'encoder.extra'",
            [("tensoradd", "encoder.extra", [30 * 2**18])],
        )
        add(m, "tensor", "state_dict: key is an int", [("tensoradd", 5, [1])])
        add(
            m,
            "tensor",
            "state_dict: value is a list",
            [("tensorval", "first_weight", [1.0])],
        )
        add(m, "tensor", "state_dict = {}", [("raw", "state_dict", {})])
        add(m, "tensor", "state_dict = [] (list)", [("raw", "state_dict", [])])
        add(
            m,
            "tensor",
            "state_dict: 100000 extra 1-element tensors",
            [("tensormany", 100000)],
        )
        # augmentation_state
        for desc, op in [
            (
                "pool_ = zeros(2_000_000, n_features) float32 (in the file: 104 MB "
                "tabular, 512 MB image, 24 MB graph)",
                ("augstate", "pool_", "bigpool"),
            ),
            ("pool_ with NaN", ("augstate", "pool_", "nanpool")),
            ("pool_ int64", ("augstate", "pool_", "intpool")),
            ("pool_ 0 rows", ("augstate", "pool_", "emptypool")),
            ("pool_ wrong width (n_features+5)", ("augstate", "pool_", "widepool")),
            ("pool_ 3-D", ("augstate", "pool_", "pool3d")),
            ("pool_ non-contiguous", ("augstate", "pool_", "pooltrans")),
            ("state name 'evil' (no underscore)", ("augstate", "evil", "small")),
            ("state name '__class__'", ("augstate", "__class__", "small")),
            ("state name '0.pool_'", ("augstate", "0.pool_", "small")),
            ("state name '99.pool_'", ("augstate", "99.pool_", "small")),
            ("state name 'augmentations_'", ("augstate", "augmentations_", "small")),
            ("state name 'requires_fit_'", ("augstate", "requires_fit_", "small")),
            ("state name 'mean_' (8,) NaN", ("augstate", "mean_", "nansmall")),
            ("state name '2.mean_' = zeros(1)", ("augstate", "2.mean_", "one")),
            ("state name '2.mean_' = 2-D", ("augstate", "2.mean_", "twod")),
        ]:
            add(m, "augstate", f"augmentation_state: {desc}", [op])
        add(
            m,
            "augstate",
            "augmentation_state = {} but augmentation needs fit",
            [("raw", "augmentation_state", {})],
        )
        # ---- history
        for desc, val in [
            ("'[1]'", "[1]"),
            ("'{}'", "{}"),
            ("'[{}]' ", "[{}]"),
            ("nested 100000 deep", '[{"a":' + "[" * 100000 + "]" * 100000 + "}]"),
            (
                "NaN everywhere",
                json.dumps([{"train_loss": float("nan"), "epoch": float("inf")}]),
            ),
            ("10 MB string", json.dumps([{"x": "y" * 10_000_000}])),
            ("batches not a list", json.dumps([{"batches": 5, "epoch": 1}])),
            (
                "epoch -1, dur 'x'",
                json.dumps([{"epoch": -1, "dur": "x", "batches": [{}]}]),
            ),
        ]:
            add(m, "history", f"history = {desc}", [("raw", "history", val)])
        # ---- params / fitted: every key deleted, hostile value per key
        for section, keys in (("params", PARAM_KEYS), ("fitted", FITTED_KEYS[m])):
            for key in keys:
                add(
                    m, "json", f"{section}: delete {key!r}", [("jsondel", section, key)]
                )
                for _ in range(3):
                    desc, val = rng.choice(values)
                    add(
                        m,
                        "json",
                        f"{section}[{key!r}] = {desc}",
                        [("json", section, (key,), val)],
                    )
            add(
                m,
                "json",
                f"{section}: add key 'evil'",
                [("json", section, ("evil",), 1)],
            )
            add(
                m,
                "json",
                f"{section}: add key 'evil_'",
                [("json", section, ("evil_",), 1)],
            )
        # random deep JSON replacements (inside __dict__/__tuple__ too)
        for _ in range(n_random):
            section = rng.choice(["params", "fitted"])
            desc, val = rng.choice(values)
            add(
                m,
                "json_random",
                f"{section}: random path := {desc}",
                [("jsonrandom", section, rng.random(), val)],
            )
        # ---- classes
        for name in (
            modules
            + optimisers
            + ["os:system", "subprocess:Popen", "builtins:eval", "torch.nn:Linear"]
        ):
            add(
                m,
                "class",
                f"params['encoder'] = class {name}",
                [("json", "params", ("encoder",), {"__class__": name})],
            )
        for name in (
            modules[:: max(1, len(modules) // 6)] + optimisers[:3] + ["os:system"]
        ):
            add(
                m,
                "class",
                f"params['loss'] = class {name}",
                [("json", "params", ("loss",), {"__class__": name})],
            )
            add(
                m,
                "class",
                f"params['optimizer'] = class {name}",
                [("json", "params", ("optimizer",), {"__class__": name})],
            )
        # ---- augmentations
        for name in sorted(classes):
            add(
                m,
                "augment",
                f"augmentation = {name}() defaults",
                [
                    (
                        "json",
                        "params",
                        ("augmentation",),
                        {"__augmentation__": name, "params": {}},
                    )
                ],
            )
        for _ in range(max(10, n_random // 2)):
            aug = random_augmentation(rng, classes, rng.randint(0, 4), values)
            add(
                m,
                "augment",
                f"augmentation = {json.dumps(aug, default=repr)[:3000]}",
                [("json", "params", ("augmentation",), aug)],
            )
        for depth in [15, 16, 17, 40, 500, 3000]:
            for member in ["Compose", "RandomChoice"]:
                add(
                    m,
                    "augment",
                    f"augmentation = {member} nested {depth} deep around Identity",
                    [
                        (
                            "json",
                            "params",
                            ("augmentation",),
                            nested_augmentation(depth, member=member),
                        )
                    ],
                )
        add(
            m,
            "augment",
            "augmentation = Compose of 64 x Compose of 64 x GaussianNoise(10)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "_base:Compose",
                        "params": {
                            "augmentations": [
                                {
                                    "__augmentation__": AUG + "_base:Compose",
                                    "params": {
                                        "augmentations": [
                                            {
                                                "__augmentation__": AUG
                                                + "tabular:GaussianNoise",
                                                "params": {"std": 10.0},
                                            }
                                        ]
                                        * 64
                                    },
                                }
                            ]
                            * 64
                        },
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = {'__augmentation__': 'os:system', params: {command}}",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": "os:system",
                        "params": {"command": f"touch {CANARY_NAME}"},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = {'__class__': 'os:system'}",
            [("json", "params", ("augmentation",), {"__class__": "os:system"})],
        )
        add(
            m,
            "augment",
            "augmentation params = list",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "_base:Identity",
                        "params": [1],
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation params key non-string (int via __dict__ impossible)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "tabular:GaussianNoise",
                        "params": {
                            "std": {
                                "__tuple__": [
                                    {
                                        "__augmentation__": AUG + "_base:Identity",
                                        "params": {},
                                    }
                                ]
                            }
                        },
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = MarginalCorruption(max_rows=10**7) with tiny pool",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "tabular:MarginalCorruption",
                        "params": {"max_rows": 10_000_000},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = RandomWalkSubgraph(walk_length=1000, start_rate=1)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "graph:RandomWalkSubgraph",
                        "params": {"walk_length": 1000, "start_rate": 1.0},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = GaussianBlur(kernel_size=63, sigma=(100,100), p=1)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "image:GaussianBlur",
                        "params": {
                            "kernel_size": 63,
                            "sigma": {"__tuple__": [100.0, 100.0]},
                            "p": 1.0,
                        },
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = RandomResizedCrop(scale=(1e-9,1e-9), ratio=(100,100))",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "image:RandomResizedCrop",
                        "params": {
                            "scale": {"__tuple__": [1e-9, 1e-9]},
                            "ratio": {"__tuple__": [100.0, 100.0]},
                        },
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = EdgePerturbation(add_rate=1)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "graph:EdgePerturbation",
                        "params": {"add_rate": 1.0, "drop_rate": 0.0},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = EdgePerturbation(add_rate=1e6)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "graph:EdgePerturbation",
                        "params": {"add_rate": 1e6},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = AttributeMasking(fill=1e6, rate=1)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "graph:AttributeMasking",
                        "params": {"fill": 1e6, "rate": 1.0},
                    },
                )
            ],
        )
        add(
            m,
            "augment",
            "augmentation = ColorJitter(brightness=1e308, contrast=1e308, p=1)",
            [
                (
                    "json",
                    "params",
                    ("augmentation",),
                    {
                        "__augmentation__": AUG + "image:ColorJitter",
                        "params": {"brightness": 1e308, "contrast": 1e308, "p": 1.0},
                    },
                )
            ],
        )
        # ---- encoder_kwargs / sizes
        for desc, kwargs in ENCODER_KWARGS[m]:
            enc = {"__dict__": [[k, v] for k, v in kwargs.items()]}
            add(
                m,
                "encoder_kwargs",
                f"encoder_kwargs_ = {desc}",
                [("json", "fitted", ("encoder_kwargs_",), enc)],
            )
            add(
                m,
                "encoder_kwargs",
                f"encoder_kwargs = encoder_kwargs_ = {desc}",
                [
                    ("json", "fitted", ("encoder_kwargs_",), enc),
                    ("json", "params", ("encoder_kwargs",), enc),
                ],
            )
        for key, vals in SIZE_FIELDS[m]:
            for v in vals:
                add(
                    m,
                    "sizes",
                    f"fitted[{key!r}] = {v!r}",
                    [("json", "fitted", (key,), v)],
                )
        for v in [10**6, 10**9, 1, 0]:
            add(
                m,
                "sizes",
                f"embedding_dim_ = {v} and params embedding_dim = {v}",
                [
                    ("json", "fitted", ("embedding_dim_",), v),
                    ("json", "params", ("embedding_dim",), v),
                ],
            )
            add(
                m,
                "sizes",
                f"projection_dim = {v}",
                [("json", "params", ("projection_dim",), v)],
            )
            add(
                m,
                "sizes",
                f"batch_size_ = {v}",
                [("json", "fitted", ("batch_size_",), v)],
            )
        add(
            m,
            "sizes",
            "modality_ = other modality",
            [
                (
                    "json",
                    "fitted",
                    ("modality_",),
                    {"tabular": "image", "image": "graph", "graph": "tabular"}[m],
                )
            ],
        )
        add(
            m,
            "sizes",
            "params modality = other modality",
            [
                (
                    "json",
                    "params",
                    ("modality",),
                    {"tabular": "image", "image": "graph", "graph": "tabular"}[m],
                )
            ],
        )
        add(m, "sizes", "device = 'meta'", [("json", "params", ("device",), "meta")])
        add(
            m, "sizes", "device = 'cuda:7'", [("json", "params", ("device",), "cuda:7")]
        )
        add(
            m,
            "sizes",
            "precision = 'bf16-mixed'",
            [("json", "params", ("precision",), "bf16-mixed")],
        )
        add(m, "sizes", "n_threads = 128", [("json", "params", ("n_threads",), 128)])
        add(m, "sizes", "n_threads = -128", [("json", "params", ("n_threads",), -128)])
        add(
            m,
            "sizes",
            "supervision = 'labels'",
            [("json", "params", ("supervision",), "labels")],
        )
        add(m, "sizes", "lr_ = 1e-320", [("json", "fitted", ("lr_",), 1e-320)])
        add(
            m,
            "sizes",
            "temperature_ = 1e-320",
            [("json", "fitted", ("temperature_",), 1e-320)],
        )
        add(
            m,
            "sizes",
            "temperature_ = 1e308",
            [("json", "fitted", ("temperature_",), 1e308)],
        )
        add(
            m,
            "sizes",
            "feature_names_in_ 13 strings",
            [
                (
                    "json",
                    "fitted",
                    ("feature_names_in_",),
                    {"__ndarray__": [f"f{i}" for i in range(13)], "dtype": "object"},
                )
            ],
        )
        add(
            m,
            "sizes",
            "feature_names_in_ 1_000_000 strings",
            [
                (
                    "json",
                    "fitted",
                    ("feature_names_in_",),
                    {"__ndarray__": ["f"] * 1_000_000, "dtype": "object"},
                )
            ],
        )
    _ = torch  # imported for the tensor ops' module availability check
    return variants


PARAM_KEYS = [
    "augmentation",
    "batch_size",
    "callbacks",
    "device",
    "embedding_dim",
    "encoder",
    "encoder_kwargs",
    "image_shape",
    "lam",
    "loss",
    "lr",
    "lr_schedule",
    "max_epochs",
    "modality",
    "n_iter_no_change",
    "n_threads",
    "noise_rate",
    "optimizer",
    "own_view_weight",
    "precision",
    "projection_dim",
    "q",
    "random_state",
    "supervision",
    "temperature",
    "tol",
    "verbose",
    "weight_decay",
]
_COMMON_FITTED = [
    "n_features_in_",
    "modality_",
    "batch_size_",
    "lr_",
    "temperature_",
    "max_epochs_",
    "encoder_kwargs_",
    "embedding_dim_",
]
FITTED_KEYS = {
    "tabular": _COMMON_FITTED,
    "image": _COMMON_FITTED + ["image_shape_", "input_dtype_", "input_range_"],
    "graph": _COMMON_FITTED,
}
_T = "__tuple__"
ENCODER_KWARGS = {
    "tabular": [
        ("hidden_dims=(10**6, 10**6)", {"hidden_dims": {_T: [10**6, 10**6]}}),
        ("hidden_dims=(10**9,)", {"hidden_dims": {_T: [10**9]}}),
        ("hidden_dims=(8,)*100000", {"hidden_dims": {_T: [8] * 100000}}),
        ("hidden_dims=(0,)", {"hidden_dims": {_T: [0]}}),
        ("hidden_dims=(-5,)", {"hidden_dims": {_T: [-5]}}),
        ("hidden_dims=()", {"hidden_dims": {_T: []}}),
        ("hidden_dims='abc'", {"hidden_dims": "abc"}),
        ("hidden_dims=(256.5, 256)", {"hidden_dims": {_T: [256.5, 256]}}),
        ("dropout=NaN", {"hidden_dims": {_T: [256, 256]}, "dropout": float("nan")}),
        ("dropout=1.0", {"hidden_dims": {_T: [256, 256]}, "dropout": 1.0}),
        ("in_features=10**9", {"hidden_dims": {_T: [256, 256]}, "in_features": 10**9}),
        (
            "embedding_dim=10**9",
            {"hidden_dims": {_T: [256, 256]}, "embedding_dim": 10**9},
        ),
        ("unknown kwarg", {"hidden_dims": {_T: [256, 256]}, "evil": 1}),
    ],
    "image": [
        ("base_width=10**6", {"base_width": 10**6, "pooled_stages": None}),
        ("base_width=0", {"base_width": 0, "pooled_stages": None}),
        ("base_width=-1", {"base_width": -1, "pooled_stages": None}),
        (
            "n_stages=10**6",
            {"base_width": 32, "pooled_stages": None, "n_stages": 10**6},
        ),
        ("n_stages=64", {"base_width": 32, "pooled_stages": None, "n_stages": 64}),
        (
            "convs_per_stage=10**6",
            {"base_width": 32, "pooled_stages": None, "convs_per_stage": 10**6},
        ),
        (
            "max_width=10**9",
            {"base_width": 32, "pooled_stages": None, "max_width": 10**9},
        ),
        ("pooled_stages=10**6", {"base_width": 32, "pooled_stages": 10**6}),
        ("pooled_stages=-3", {"base_width": 32, "pooled_stages": -3}),
        (
            "image_size=(10**6,10**6)",
            {
                "base_width": 32,
                "pooled_stages": None,
                "image_size": {_T: [10**6, 10**6]},
            },
        ),
        (
            "image_size=(0,0)",
            {"base_width": 32, "pooled_stages": None, "image_size": {_T: [0, 0]}},
        ),
        (
            "channels_last='x'",
            {"base_width": 32, "pooled_stages": None, "channels_last": "x"},
        ),
        (
            "in_channels=10**6",
            {"base_width": 32, "pooled_stages": None, "in_channels": 10**6},
        ),
    ],
    "graph": [
        ("hidden_dim=10**6", {"hidden_dim": 10**6}),
        ("hidden_dim=10**9", {"hidden_dim": 10**9}),
        ("hidden_dim=0", {"hidden_dim": 0}),
        ("num_layers=10**6", {"num_layers": 10**6}),
        ("num_layers=100000", {"num_layers": 100000}),
        ("num_layers=0", {"num_layers": 0}),
        ("num_layers=-1", {"num_layers": -1}),
        ("readout='max'", {"readout": "max"}),
        ("jumping_knowledge=False", {"jumping_knowledge": False}),
        ("train_eps=True", {"train_eps": True}),
        ("dropout=NaN", {"dropout": float("nan")}),
        ("sparse='yes'", {"sparse": "yes"}),
        ("in_features=10**9", {"in_features": 10**9}),
    ],
}
SIZE_FIELDS = {
    "tabular": [("n_features_in_", [12, 14, 10**9, 0, True, 13.0])],
    "image": [
        ("n_features_in_", [63, 65, 10**9]),
        (
            "image_shape_",
            [
                {_T: [1, 4, 16]},
                {_T: [2, 8, 8]},
                {_T: [1, 10**6, 10**6]},
                {_T: [1, 8]},
                {_T: [64, 1, 1]},
                {_T: [1, 8, 0]},
                {_T: [10**5, 8, 8]},
            ],
        ),
        (
            "input_range_",
            [
                {_T: [16.0, 0.0]},
                {_T: [float("nan"), 1.0]},
                {_T: [float("-inf"), float("inf")]},
                {_T: [0.0, 1e308]},
                {_T: [-1e308, 1e308]},
                {_T: [0.0, 0.0]},
                {_T: [1, 2, 3]},
                "x",
            ],
        ),
        (
            "input_dtype_",
            ["uint8", "float64", "object", "V8", "complex128", "", "bool"],
        ),
    ],
    "graph": [("n_features_in_", [2, 4, 10**9, 0])],
}


# -- applying a variant ---------------------------------------------------------


def _tensor_op(t, op, n_features):
    import torch

    if op == "nan":
        return torch.full_like(t, float("nan")) if t.is_floating_point() else t
    if op == "inf":
        return torch.full_like(t, float("inf")) if t.is_floating_point() else t
    if op == "big":
        return (
            torch.full_like(t, 1e38)
            if t.is_floating_point()
            else torch.full_like(t, 2**62)
        )
    if op in ("neg_var", "zero_var"):
        return torch.full_like(t, -1.0 if op == "neg_var" else 0.0)
    if op == "huge_count":
        return torch.full_like(t, 2**62)
    if op in ("float64", "float16", "bfloat16", "int64", "bool", "complex64"):
        return t.to(getattr(torch, op))
    if op == "qint8":
        return torch.quantize_per_tensor(t.float(), 0.1, 0, torch.qint8)
    if op == "meta":
        return torch.empty(t.shape, dtype=t.dtype, device="meta")
    if op == "sparse":
        return t.to_sparse()
    if op == "sparse_csr":
        return t.reshape(t.shape[0] if t.dim() else 1, -1).to_sparse_csr()
    if op == "transpose":
        if t.dim() >= 2:
            return t.t().contiguous().t() if t.dim() == 2 else t.transpose(0, 1)
        return torch.stack([t, t], 1)[:, 0] if t.dim() == 1 else t
    if op == "shape+1":
        if t.dim() == 0:
            return t.reshape(1)
        return torch.cat([t, t[:1]])
    if op == "shape_flat":
        return t.reshape(-1)
    if op == "scalar":
        return t.reshape(-1)[0].clone()
    if op == "empty":
        return t.reshape(-1)[:0].clone()
    if op == "offset":
        big = torch.zeros(t.numel() + 1000, dtype=t.dtype)
        return big[1000:].view(t.shape)
    if op == "expand":
        return t.reshape(-1)[:1].expand(10**6)
    if op == "channels_last":
        if t.dim() == 4:
            return t.contiguous(memory_format=torch.channels_last)
        return t
    if op == "requires_grad":
        return torch.nn.Parameter(t.clone().float(), requires_grad=True)
    if op == "nested":
        return torch.nested.nested_tensor(
            [t.reshape(-1).float(), t.reshape(-1).float()]
        )
    raise KeyError(op)


def apply_ops(raw, variant, rng_seed, n_features):
    """Apply a variant's ops to the raw payload dict (not the byte ops)."""
    import torch

    rng = random.Random(rng_seed)
    for op in variant["ops"]:
        kind = op[0]
        if kind == "raw":
            raw[op[1]] = op[2]
        elif kind == "rawdel":
            raw.pop(op[1], None)
        elif kind == "whole":
            raw = [raw]
        elif kind == "json":
            _, section, path, value = op
            tree = json.loads(raw[section])
            raw[section] = json.dumps(set_path(tree, list(path), value), allow_nan=True)
        elif kind == "jsondel":
            tree = json.loads(raw[op[1]])
            tree.pop(op[2], None)
            raw[op[1]] = json.dumps(tree, allow_nan=True)
        elif kind == "jsonrandom":
            _, section, u, value = op
            tree = json.loads(raw[op[1]])
            paths = [p for p in json_paths(tree) if p]
            path = paths[int(u * len(paths))]
            variant["description"] += f" (path {list(path)})"
            raw[section] = json.dumps(set_path(tree, list(path), value), allow_nan=True)
        elif kind in ("tensor", "tensorval", "tensordel"):
            state = raw["state_dict"]
            target = op[1]
            if target == "first_weight":
                names = [next(k for k in state if k.endswith("weight"))]
            elif target == "batches_tracked":
                names = [next(k for k in state if k.endswith("num_batches_tracked"))]
            elif target == "all":
                names = list(state)
            else:
                names = [rng.choice(sorted(state))]
            if kind == "tensor" and op[2] in ("neg_var", "zero_var"):
                variances = sorted(k for k in state if k.endswith("running_var"))
                names = [
                    variances[0] if target == "first_weight" else rng.choice(variances)
                ]
            variant["description"] += f" (keys {names[:3]})"
            for name in names:
                if kind == "tensordel":
                    del state[name]
                elif kind == "tensorval":
                    state[name] = op[2]
                elif op[2] == "shared":
                    total = sum(v.numel() for v in state.values())
                    big = torch.zeros(total, dtype=torch.float32)
                    offset = 0
                    for key in list(state):
                        v = state[key]
                        if v.dtype == torch.float32:
                            state[key] = big[offset : offset + v.numel()].view(v.shape)
                        offset += v.numel()
                    break
                else:
                    state[name] = _tensor_op(state[name], op[2], n_features)
        elif kind == "tensoradd":
            raw["state_dict"][op[1]] = torch.zeros(op[2])
        elif kind == "tensormany":
            for i in range(op[1]):
                raw["state_dict"][f"extra.{i}"] = torch.zeros(1)
        elif kind == "augstate":
            _, name, what = op
            state = raw.setdefault("augmentation_state", {})
            if what == "bigpool":
                state[name] = torch.zeros(2_000_000, n_features)
            elif what == "nanpool":
                state[name] = torch.full((50, n_features), float("nan"))
            elif what == "intpool":
                state[name] = torch.zeros(50, n_features, dtype=torch.int64)
            elif what == "emptypool":
                state[name] = torch.zeros(0, n_features)
            elif what == "widepool":
                state[name] = torch.zeros(50, n_features + 5)
            elif what == "pool3d":
                state[name] = torch.zeros(5, 10, n_features)
            elif what == "pooltrans":
                state[name] = torch.zeros(n_features, 50).t()
            elif what == "small":
                state[name] = torch.zeros(8)
            elif what == "nansmall":
                state[name] = torch.full((8,), float("nan"))
            elif what == "one":
                state[name] = torch.zeros(1)
            elif what == "twod":
                state[name] = torch.zeros(3, 3)
    return raw


def write_variant(base_path, variant, out_path, n_features):
    """Write the tampered file of ``variant`` to ``out_path``."""
    import pickle

    import torch

    byte_ops = [op for op in variant["ops"] if op[0] == "bytes"]
    rng = random.Random(variant["id"])
    if not byte_ops:
        raw = torch.load(base_path, weights_only=True)
        raw = apply_ops(raw, variant, variant["id"], n_features)
        torch.save(raw, out_path)
        return
    what = byte_ops[0][1]
    data = Path(base_path).read_bytes()
    if what == "empty":
        data = b""
    elif what == "random":
        data = bytes(rng.randrange(256) for _ in range(4096))
    elif what == "truncate":
        data = data[: len(data) // 2]
    elif what == "legacy":
        buffer = io.BytesIO()
        torch.save(
            torch.load(base_path, weights_only=True),
            buffer,
            _use_new_zipfile_serialization=False,
        )
        data = buffer.getvalue()
    elif what == "reduce_canary":
        buffer = io.BytesIO()
        torch.save({"format": "x", "evil": _Canary()}, buffer)
        data = buffer.getvalue()
    elif what == "pickle_canary":
        data = pickle.dumps(_Canary())
    elif what in ("deflate", "short_storage", "extra_entry", "dup_pkl"):
        src = zipfile.ZipFile(io.BytesIO(data))
        buffer = io.BytesIO()
        entries = src.infolist()
        largest = max(
            (
                e
                for e in entries
                if "/data/" in e.filename and e.filename.rsplit("/", 1)[1].isdigit()
            ),
            key=lambda e: e.file_size,
        )
        with zipfile.ZipFile(buffer, "w") as dst:
            for entry in entries:
                body = src.read(entry)
                if what == "short_storage" and entry.filename == largest.filename:
                    body = body[:8]
                compress = (
                    zipfile.ZIP_DEFLATED if what == "deflate" else zipfile.ZIP_STORED
                )
                dst.writestr(entry.filename, body, compress_type=compress)
                if what == "dup_pkl" and entry.filename.endswith("data.pkl"):
                    dst.writestr(entry.filename, body)
            if what == "extra_entry":
                dst.writestr(
                    entries[0].filename.split("/")[0] + "/extra", b"\0" * 2**20
                )
        data = buffer.getvalue()
    Path(out_path).write_bytes(data)


class _Canary:
    """An object whose unpickling would run a shell command creating the canary."""

    def __reduce__(self):
        return (os.system, (f"touch {CANARY_NAME}",))


def rss_kb(field, pid="self"):
    """Return ``VmRSS`` or ``VmHWM`` (peak) of a process in kB, or 0."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak():
    """Reset this process's peak RSS (Linux ``clear_refs`` 5); return success."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


# -- the worker ------------------------------------------------------------------


def worker(manifest_path, out_path, rerun_mb, workdir):
    """Run the listed variants; append one JSON line per event to ``out_path``."""
    import gc
    import resource
    import signal
    import warnings

    import numpy as np
    import torch

    from rince_sklearn import RobustContrastiveEmbedder

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    os.chdir(workdir)
    manifest = json.loads(Path(manifest_path).read_text())
    data = {m: dataset(m) for m in MODALITIES}
    # warm up: every modality's load, transform and score once
    for modality in MODALITIES:
        emb = RobustContrastiveEmbedder.load(manifest["bases"][modality])
        emb.transform(data[modality])
        emb.score(data[modality])
    baseline_modules = set(sys.modules)

    class Timeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise Timeout

    signal.signal(signal.SIGALRM, on_alarm)
    out = open(out_path, "a")

    def emit(record):
        out.write(json.dumps(record) + "\n")
        out.flush()

    for item in manifest["variants"]:
        emit({"start": item["id"]})
        gc.collect()
        precise = reset_peak()
        before = (
            rss_kb("VmRSS")
            if precise
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
        t0 = time.perf_counter()
        stage, outcome, message, nan = "load", "ok", "", False
        signal.alarm(int(manifest["timeout"]))
        try:
            emb = RobustContrastiveEmbedder.load(item["path"])
            stage = "transform"
            out_t = emb.transform(data[item["modality"]])
            if not np.isfinite(out_t).all():
                nan = True
            stage = "score"
            s = emb.score(data[item["modality"]])
            if not math.isfinite(s):
                nan = True
            stage = "done"
        except Timeout:
            outcome = "timeout"
        except ValueError as exc:
            outcome, message = "ValueError", str(exc)[:400]
        except TypeError as exc:
            outcome, message = "TypeError", str(exc)[:400]
        except BaseException as exc:  # noqa: BLE001 - the point is to see them all
            outcome, message = (
                type(exc).__module__ + "." + type(exc).__name__,
                str(exc)[:400],
            )
        finally:
            signal.alarm(0)
        after = (
            rss_kb("VmHWM")
            if precise
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        )
        new_modules = sorted(set(sys.modules) - baseline_modules)
        baseline_modules |= set(new_modules)
        growth = (after - before) / 1024
        emit(
            {
                "id": item["id"],
                "stage": stage,
                "outcome": outcome,
                "message": message,
                "nan": nan,
                "growth_mb": growth,
                "seconds": time.perf_counter() - t0,
                "new_modules": new_modules[:20],
                "canary": os.path.exists(os.path.join(workdir, CANARY_NAME)),
            }
        )
        if growth > rerun_mb and not precise:
            break  # ru_maxrss is raised for good: later growths would be hidden
    out.close()


# -- the driver ------------------------------------------------------------------


def run_batch(items, bases, args, workdir, alone=False):
    """Run ``items`` in workers; return {id: record}. Restarts after each stop."""
    results = {}
    todo = list(items)
    while todo:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "manifest.json"
            out = Path(tmp) / "out.jsonl"
            batch = todo[:1] if alone else todo
            manifest.write_text(
                json.dumps(
                    {
                        "bases": {k: str(v) for k, v in bases.items()},
                        "variants": batch,
                        "timeout": args.timeout,
                    }
                )
            )
            env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    str(manifest),
                    str(out),
                    str(args.rerun_mb),
                    workdir,
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started, current = None, None
            stderr = b""
            killed_for_memory = False
            while True:
                try:
                    _, stderr = proc.communicate(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if rss_kb("VmRSS", proc.pid) > args.kill_mb * 1024:
                    killed_for_memory = True
                    proc.kill()
                    proc.communicate()
                    break
                lines = out.read_text().splitlines() if out.exists() else []
                try:
                    last = json.loads(lines[-1]) if lines else {}
                except ValueError:  # a line being written
                    last = {}
                if "start" in last:
                    sid = json.loads(lines[-1])["start"]
                    if sid != current:
                        current, started = sid, time.monotonic()
                    elif time.monotonic() - started > args.timeout + 15:
                        proc.kill()
                        proc.communicate()
                        break
            lines = out.read_text().splitlines() if out.exists() else []
            last_start = None
            for line in lines:
                record = json.loads(line)
                if "start" in record:
                    last_start = record["start"]
                else:
                    results[record["id"]] = record
                    last_start = None
            done = set(results)
            if last_start is not None and last_start not in done:
                rc = proc.returncode
                outcome = "timeout (killed)" if rc in (-9,) else f"crash (rc {rc})"
                if killed_for_memory:
                    outcome = f"memory (killed above {args.kill_mb:.0f} MB RSS)"
                results[last_start] = {
                    "id": last_start,
                    "stage": "?",
                    "outcome": outcome,
                    "message": stderr.decode(errors="replace")[-400:],
                    "nan": False,
                    "growth_mb": args.kill_mb if killed_for_memory else float("nan"),
                    "seconds": float("nan"),
                    "new_modules": [],
                    "canary": False,
                }
                done.add(last_start)
            elif not lines and proc.returncode != 0:
                raise RuntimeError("worker failed to start: " + stderr.decode()[-2000:])
            todo = [v for v in todo if v["id"] not in done]
    return results


def is_failure(record, rerun_mb):
    """Return the reasons a record breaks the safety rules (empty: it holds)."""
    reasons = []
    if record["outcome"] not in ("ok", "ValueError", "TypeError"):
        reasons.append(f"raised {record['outcome']}")
    if record["nan"]:
        reasons.append("NaN/inf left transform or score")
    if record["growth_mb"] == record["growth_mb"] and record["growth_mb"] > 100:
        reasons.append(f"peak RSS grew {record['growth_mb']:.0f} MB")
    if (
        record.get("seconds", 0) == record.get("seconds", 0)
        and record.get("seconds", 0) > 30
    ):
        reasons.append(f"took {record['seconds']:.0f} s")
    # zipfile decodes non-UTF-8 entry names with the cp437 codec, imported lazily
    # by the standard library: the file cannot choose which module
    imported = [m for m in record["new_modules"] if m != "encodings.cp437"]
    if imported:
        reasons.append(f"imported {imported}")
    if record["canary"]:
        reasons.append("CANARY FILE CREATED (code ran)")
    return reasons


def main():
    """Parse arguments; run the attack (or a worker)."""
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--random", type=int, default=25, help="random JSON replacements per modality"
    )
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--rerun-mb", type=float, default=50.0)
    parser.add_argument(
        "--kill-mb",
        type=float,
        default=4000.0,
        help="kill a worker whose RSS passes this (protects the machine)",
    )
    parser.add_argument("--only", type=int, nargs="*", help="run only these ids")
    parser.add_argument("--keep", help="folder to keep the variant files in")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks/results/attack_load.md")
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.setrecursionlimit(20000)
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    folder = (
        Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="attack_load_"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    workdir = str(folder / "cwd")
    os.makedirs(workdir, exist_ok=True)
    bases = build_models(folder)
    n_features = {"tabular": 13, "image": 64, "graph": 3}
    variants = generate(args.seed, args.random)
    if args.only is not None:
        variants = [v for v in variants if v["id"] in set(args.only)]
    items = []
    write_errors = {}
    for v in variants:
        path = folder / f"v{v['id']:04d}_{v['modality']}.pt"
        try:
            write_variant(bases[v["modality"]], v, path, n_features[v["modality"]])
        except Exception as exc:  # noqa: BLE001 - torch refuses some ops to save
            write_errors[v["id"]] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        items.append({"id": v["id"], "modality": v["modality"], "path": str(path)})
    print(
        f"{len(items)} variants written ({len(write_errors)} could not be saved) "
        f"in {time.time() - t0:.0f} s",
        flush=True,
    )
    results = run_batch(items, bases, args, workdir)
    # confirm: growth, timeouts and crashes measured alone in a fresh worker
    suspects = [
        i
        for i in items
        if results[i["id"]]["growth_mb"] != results[i["id"]]["growth_mb"]
        or results[i["id"]]["growth_mb"] > args.rerun_mb
        or results[i["id"]]["outcome"].startswith(("timeout", "crash", "memory"))
    ]
    print(
        f"{len(results)} run in {time.time() - t0:.0f} s; "
        f"re-running {len(suspects)} alone",
        flush=True,
    )
    for item in suspects:
        first = results[item["id"]]
        again = run_batch([item], bases, args, workdir, alone=True)[item["id"]]
        again["first_run"] = {k: first[k] for k in ("outcome", "growth_mb")}
        results[item["id"]] = again
    canary_created = os.path.exists(os.path.join(workdir, CANARY_NAME))
    report(variants, results, write_errors, args, time.time() - t0, canary_created)
    print(f"done in {time.time() - t0:.0f} s -> {args.out}", flush=True)


def report(variants, results, write_errors, args, seconds, canary_created):
    """Write the Markdown results."""
    by_id = {v["id"]: v for v in variants}
    lines = [
        "# Hostile saved files against RobustContrastiveEmbedder.load",
        "",
        f"`OMP_NUM_THREADS=1 python benchmarks/attack_load.py --seed {args.seed} "
        f"--random {args.random}` ({seconds:.0f} s wall, one worker at a time).",
        "",
        "Each variant is one saved model (tabular: wine; image: 8x8 digits, 300; "
        "graph: 60 random graphs) with the mutation listed, run through "
        "`load`, `transform` and `score` of the data it was fitted on. Growth is "
        "the peak RSS during the variant (VmHWM, reset through /proc/self/clear_refs "
        "before each variant; ru_maxrss where that is refused) minus the RSS before "
        "it, in a warm worker; a worker whose RSS passes "
        f"{args.kill_mb:.0f} MB is killed to protect the machine; any variant above "
        f"{args.rerun_mb:.0f} MB, every timeout and every crash was re-run alone "
        "in a fresh worker and that run is reported. Rule: only ValueError or "
        "TypeError, no NaN output, <= 100 MB growth, <= 30 s, no import, no code.",
        "",
        f"Variants: {len(variants)} generated, {len(results)} run, "
        f"{len(write_errors)} not writable by torch.save (listed at the end). "
        f"Canary file created: {canary_created}.",
        "",
        "## Outcomes",
        "",
        "| modality | outcome | stage | count |",
        "|---|---|---|---|",
    ]
    counts = Counter(
        (by_id[i]["modality"], r["outcome"], r["stage"]) for i, r in results.items()
    )
    for (m, o, s), n in sorted(counts.items()):
        lines.append(f"| {m} | {o} | {s} | {n} |")
    totals = Counter(r["outcome"] for r in results.values())
    lines += [
        "",
        "Totals: " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())),
        "",
    ]
    kinds = Counter((by_id[i]["kind"], r["outcome"]) for i, r in results.items())
    lines += ["| mutation kind | outcome | count |", "|---|---|---|"]
    for (k, o), n in sorted(kinds.items()):
        lines.append(f"| {k} | {o} | {n} |")
    failures = [(i, is_failure(r, args.rerun_mb)) for i, r in sorted(results.items())]
    failures = [(i, why) for i, why in failures if why]
    lines += ["", f"## Failures ({len(failures)})", ""]
    if not failures:
        lines.append("None.")
    for i, why in failures:
        v, r = by_id[i], results[i]
        lines += [
            f"- **#{i}** {v['modality']} / {v['kind']}: {v['description']}",
            f"  - {'; '.join(why)} (stage {r['stage']}, {r['seconds']:.1f} s, "
            f"growth {r['growth_mb']:.0f} MB)",
            f"  - message: `{r['message'][:300].replace('`', chr(39))}`",
            f"  - reproduce: `python benchmarks/attack_load.py --seed {args.seed} "
            f"--random {args.random} --only {i} --keep /tmp/v`",
        ]
    big = sorted(
        (
            (r["growth_mb"], i)
            for i, r in results.items()
            if r["growth_mb"] == r["growth_mb"] and r["growth_mb"] > args.rerun_mb
        ),
        reverse=True,
    )
    lines += ["", f"## Growth above {args.rerun_mb:.0f} MB (measured alone)", ""]
    lines += [
        f"- #{i} {by_id[i]['modality']}: {by_id[i]['description'][:200]} — "
        f"{g:.0f} MB, {results[i]['outcome']}"
        for g, i in big
    ] or ["None."]
    slow = sorted(
        ((r["seconds"], i) for i, r in results.items() if r["seconds"] == r["seconds"]),
        reverse=True,
    )[:10]
    lines += ["", "## Slowest ten", ""]
    lines += [
        f"- #{i} {by_id[i]['modality']}: {by_id[i]['description'][:150]} — "
        f"{s:.1f} s, {results[i]['outcome']}"
        for s, i in slow
    ]
    oks = [i for i, r in results.items() if r["outcome"] == "ok"]
    lines += ["", f"## Loaded without error ({len(oks)})", ""]
    lines += [
        f"- #{i} {by_id[i]['modality']}: {by_id[i]['description'][:200]}"
        for i in sorted(oks)
    ]
    lines += [
        "",
        "## Not writable with torch.save (so not a file an attacker can make this way)",
        "",
    ]
    lines += [
        f"- #{i} {by_id[i]['modality']}: {by_id[i]['description']}: {e}"
        for i, e in sorted(write_errors.items())
    ] or ["None."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
