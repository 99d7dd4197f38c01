"""Data-parallel training over 2 CPU processes (gloo) against one process.

One module-scoped fixture starts a 2-process group on this machine (loopback)
once; its processes write what they computed to files, and the tests compare
those with the same computations done here in a single process: without
augmentation a distributed run equals a single-process run; with augmentation
each process draws its own rows' views, and the step's loss and gradients
equal those of one process given the same views.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder, rince
from rince_sklearn.augment import GaussianNoise, MarginalCorruption
from rince_sklearn.batching import BatchLoader, TensorSource
from rince_sklearn.distributed import (
    BatchLayout,
    BatchShard,
    DistributedContrastiveNet,
    DistributedEmbedder,
    GatheredBatchNorm1d,
    ShardedBatchLoader,
    ShardedEmbedder,
    convert_batchnorm,
    gather_with_grad,
    rank,
    run_local,
    shard_sizes,
    world_size,
)
from rince_sklearn.losses import rince_anchors

N_PROCS = 2
STEP_BATCH = 15  # odd: shards of 8 and 7 rows exercise uneven gathering
PARAMS = dict(
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"hidden_dims": (16,)},
    batch_size=32,
    max_epochs=3,
    noise_rate=0.25,
    # plain SGD: Adam divides by the root of tiny squared gradients, so it
    # turns rounding noise in parameters without a true gradient (biases
    # before batch norm) into full-size steps, and runs drift apart
    optimizer="sgd",
    lr=0.05,
    random_state=0,
    # views are drawn per process (see the module docs): without augmentation
    # a distributed run must equal a single-process one exactly
    augmentation=None,
)
#: the default augmentation (SCARF, donors gathered from all processes)
AUGMENTED = {**PARAMS, "augmentation": "auto", "noise_rate": 0.0}
#: an augmentation that needs the global batch (the columns' spread) but learns
#: nothing from the training data, which each process of ShardedEmbedder sees
#: only its part of
BATCH_AUGMENTED = {**AUGMENTED, "augmentation": GaussianNoise(0.2)}
GRAPH_PARAMS = dict(
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"num_layers": 2},
    batch_size=12,
    max_epochs=2,
    optimizer="sgd",
    lr=0.05,
    random_state=0,
)
#: without augmentation, so that the step can be compared with one process
GRAPH_STEP = {**GRAPH_PARAMS, "augmentation": None, "noise_rate": 0.25}


def _data() -> np.ndarray:
    X, _ = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X)[:96]


def _projections() -> torch.Tensor:
    return torch.randn(
        STEP_BATCH * 2, 6, generator=torch.Generator().manual_seed(3)
    )  # rows 0..B-1: z1, B..2B-1: z2


def _one_step(estimator_class: type, X, params: dict = PARAMS) -> dict:
    """Initialise like fit and run the first training step (its views kept)."""
    estimator = estimator_class(**{**params, "batch_size": STEP_BATCH})
    modality = estimator._modality(X)
    source = modality.prepare(estimator, X, reset=True)
    estimator._initialize_training(modality, source)
    net = estimator.net_
    net.notify("on_train_begin", X=source, y=None)
    views = []
    make_view = net.make_view
    net.make_view = lambda batch: views.append(make_view(batch)) or views[-1]
    batch = next(iter(net.get_iterator(source, training=True)))
    step = net.train_step_single(batch)
    layout = net._layout() if hasattr(net, "_layout") else None
    return {
        "loss": float(step["loss"].detach()),
        "grads": {
            name: p.grad.detach().clone() for name, p in net.module_.named_parameters()
        },
        "running_mean": net.module_.head.net[1].running_mean.clone(),
        "views": views,
        "rows": None if layout is None else layout.local_rows,
    }


def _local_projections() -> tuple[torch.Tensor, torch.Tensor, slice]:
    """This rank's rows of both views of ``_projections()``, as leaves."""
    z = _projections()
    sizes = shard_sizes(STEP_BATCH, world_size())
    start = sum(sizes[: rank()])
    rows = slice(start, start + sizes[rank()])
    z1 = z[:STEP_BATCH][rows].clone().requires_grad_(True)
    z2 = z[STEP_BATCH:][rows].clone().requires_grad_(True)
    return z1, z2, rows


def _anchor_check() -> dict:
    """This rank's share of the loss (its anchors only), and input gradients."""
    z1, z2, rows = _local_projections()
    g1, g2 = gather_with_grad(z1), gather_with_grad(z2)
    local = torch.arange(rows.start, rows.stop)
    anchors = torch.cat([local, local + STEP_BATCH])
    share = rince_anchors(g1, g2, anchors, q=0.5, lam=0.01, temperature=0.5)
    share = share.sum() / (2 * STEP_BATCH)
    share.backward()  # no division: the shares add up to the global loss
    return {"share": float(share.detach()), "grad_z1": z1.grad, "grad_z2": z2.grad}


def _graphs() -> list:
    """Small graphs (paths and cycles of 3 to 9 nodes, random node features)."""
    import networkx as nx

    rng = np.random.default_rng(0)
    graphs = []
    for i in range(30):
        g = nx.cycle_graph(4 + i % 6) if i % 2 else nx.path_graph(3 + i % 5)
        for v in g.nodes:
            g.nodes[v]["x"] = rng.normal(size=3).astype(np.float32)
        graphs.append(g)
    return graphs


def _gather_check() -> dict:
    """Loss and input gradients through gather_with_grad on this rank's shard."""
    z1, z2, rows = _local_projections()
    g1, g2 = gather_with_grad(z1), gather_with_grad(z2)  # sizes gathered too
    loss = rince(g1, g2, q=0.5, lam=0.01, temperature=0.5)
    (loss / world_size()).backward()
    return {
        "gathered": torch.cat([g1, g2]).detach(),
        "loss": float(loss.detach()),
        "grad_z1": z1.grad,
        "grad_z2": z2.grad,
        "rows": (rows.start, rows.stop),
    }


def _empty_rank_batch_norm() -> dict:
    """Rank 1 holds no row of the batch: the statistics are rank 0's alone."""
    torch.manual_seed(0)
    x = torch.randn(6, 3) if rank() == 0 else torch.zeros(0, 3)
    x.requires_grad_(True)
    gathered = convert_batchnorm(torch.nn.BatchNorm1d(3)).train()
    out = gathered(x)
    (out * torch.arange(out.numel()).view_as(out)).sum().backward()
    return {
        "out": out.detach(),
        "running_var": gathered.running_var.clone(),
        "grad_x": x.grad,
        "grad_weight": gathered.weight.grad,
    }


def _bn2d_data() -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """A global batch of 7 channels-last images, a loss weighting, the shards."""
    g = torch.Generator().manual_seed(3)
    x = 2 + 3 * torch.randn(7, 4, 5, 5, generator=g, dtype=torch.float64)
    weights = torch.randn(7, 4, 5, 5, generator=g, dtype=torch.float64)
    return x.to(memory_format=torch.channels_last), weights, shard_sizes(7, N_PROCS)


def _bn2d_layer() -> torch.nn.BatchNorm2d:
    layer = torch.nn.BatchNorm2d(4).double().train()
    with torch.no_grad():  # not the identity, so that every term is tested
        layer.weight.copy_(torch.tensor([0.5, -1.0, 2.0, 1.5]))
        layer.bias.copy_(torch.tensor([0.1, 0.2, -0.3, 0.0]))
    return layer


def _batch_norm_2d_check(dtype: torch.dtype = torch.float64) -> dict:
    """This rank's rows (uneven shards) through a gathered BatchNorm2d.

    ``dtype``: of the input; a bfloat16 input meets float32 parameters, as
    under ``precision="bf16-mixed"``.
    """
    x, weights, sizes = _bn2d_data()
    start = sum(sizes[: rank()])
    rows = slice(start, start + sizes[rank()])
    local = x[rows].to(dtype).requires_grad_(True)
    layer = convert_batchnorm(_bn2d_layer())
    if dtype == torch.bfloat16:
        layer.float()
    out = layer(local)
    (out * weights[rows]).sum().backward()
    return {
        "out": out.detach(),
        "grad_x": local.grad,
        "grad_weight": layer.weight.grad,
        "grad_bias": layer.bias.grad,
        "running_var": layer.running_var.clone(),
        "rows": (rows.start, rows.stop),
    }


def _worker(folder: str) -> None:
    torch.set_num_threads(1)
    X = _data()
    results = {
        "world_size": world_size(),
        "empty_rank_bn": _empty_rank_batch_norm(),
        "bn2d": _batch_norm_2d_check(),
        "bn2d_bf16": _batch_norm_2d_check(torch.bfloat16),
        "gather": _gather_check(),
        "anchors": _anchor_check(),
        "step": _one_step(DistributedEmbedder, X),
        "augmented_step": _one_step(DistributedEmbedder, X, AUGMENTED),
        "graph_step": _one_step(DistributedEmbedder, _graphs(), GRAPH_STEP),
    }
    del results["graph_step"]["views"]  # GraphBatch objects: not saved
    graphs = DistributedEmbedder(**GRAPH_PARAMS).fit(_graphs())
    results["graph_history"] = torch.tensor(graphs.history_[:, "train_loss"])
    results["graph_embedding"] = torch.from_numpy(graphs.transform(_graphs()))
    # the sharded-data path: this process holds only its block of X
    sizes = shard_sizes(len(X), world_size())
    start = sum(sizes[: rank()])
    part = X[start : start + sizes[rank()]]
    sharded = ShardedEmbedder(**BATCH_AUGMENTED).fit(part)
    replicated = DistributedEmbedder(**BATCH_AUGMENTED).fit(X)
    results["sharded"] = torch.from_numpy(sharded.transform(X))
    results["replicated"] = torch.from_numpy(replicated.transform(X))
    results["sharded_history"] = torch.tensor(sharded.history_[:, "train_loss"])
    emb = DistributedEmbedder(**PARAMS).fit(X)
    results["history"] = torch.tensor(emb.history_[:, "train_loss"])
    # progress output must not change what is trained (it once replaced the
    # sharded loader while counting batches)
    verbose = DistributedEmbedder(**PARAMS, verbose=1).fit(X)
    results["verbose_history"] = torch.tensor(verbose.history_[:, "train_loss"])
    results["embedding"] = torch.from_numpy(emb.transform(X))
    results["bn_class"] = type(emb.net_.module_.head.net[1]).__name__
    if rank() == 0:
        emb.save(Path(folder) / "model.pt")
    try:  # different data on each process: every process must refuse it
        DistributedEmbedder(**PARAMS).fit(X[: 40 + 10 * rank()])
    except ValueError as exc:
        results["mismatch_error"] = str(exc)
    torch.save(results, Path(folder) / f"rank{rank()}.pt")
    dist.barrier()


@pytest.fixture(scope="module")
def distributed_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    run_local(_worker, N_PROCS, args=(str(folder),), timeout_s=120)
    return folder, [torch.load(folder / f"rank{r}.pt") for r in range(N_PROCS)]


def test_group_had_two_processes(distributed_results):
    _, results = distributed_results
    assert [r["world_size"] for r in results] == [N_PROCS] * N_PROCS


def test_gathered_loss_and_input_gradients_equal_single_process(
    distributed_results,
):
    _, results = distributed_results
    z = _projections().requires_grad_(True)
    loss = rince(z[:STEP_BATCH], z[STEP_BATCH:], q=0.5, lam=0.01, temperature=0.5)
    loss.backward()
    loss = float(loss.detach())
    for r in results:
        gathered = r["gather"]
        torch.testing.assert_close(gathered["gathered"], z.detach())
        assert gathered["loss"] == pytest.approx(loss, abs=1e-5)
        start, stop = gathered["rows"]
        grad = z.grad
        torch.testing.assert_close(
            gathered["grad_z1"], grad[start:stop], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            gathered["grad_z2"],
            grad[STEP_BATCH + start : STEP_BATCH + stop],
            atol=1e-5,
            rtol=0,
        )


def test_each_rank_computes_only_its_anchors_and_the_shares_add_up(
    distributed_results,
):
    _, results = distributed_results
    z = _projections().requires_grad_(True)
    loss = rince(z[:STEP_BATCH], z[STEP_BATCH:], q=0.5, lam=0.01, temperature=0.5)
    loss.backward()
    shares = [r["anchors"]["share"] for r in results]
    assert sum(shares) == pytest.approx(float(loss.detach()), abs=1e-5)
    assert min(abs(share) for share in shares) > 1e-3  # each rank has a real part
    sizes = shard_sizes(STEP_BATCH, N_PROCS)
    for r, result in enumerate(results):
        start = sum(sizes[:r])
        rows = slice(start, start + sizes[r])
        # gradients summed by the gather's backward: those of the global loss
        torch.testing.assert_close(
            result["anchors"]["grad_z1"], z.grad[:STEP_BATCH][rows], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            result["anchors"]["grad_z2"], z.grad[STEP_BATCH:][rows], atol=1e-5, rtol=0
        )


def test_training_step_loss_and_gradients_equal_single_process(
    distributed_results,
):
    # batches, noisy pairing, global batch norm, per-rank losses and the
    # gradients summed by DDP in one step of the estimator's net, against the
    # same step in one process
    _, results = distributed_results
    reference = _one_step(RobustContrastiveEmbedder, _data())
    for r in results:
        step = r["step"]
        assert step["loss"] == pytest.approx(reference["loss"], abs=1e-5)
        assert step["grads"].keys() == reference["grads"].keys()
        for name, grad in reference["grads"].items():
            torch.testing.assert_close(
                step["grads"][name], grad, atol=1e-5, rtol=0, msg=name
            )
        torch.testing.assert_close(
            step["running_mean"], reference["running_mean"], atol=1e-6, rtol=0
        )


def _reference_step_on(views: list, params: dict, X) -> dict:
    """One single-process step on given views (in batch order)."""
    estimator = RobustContrastiveEmbedder(**{**params, "batch_size": STEP_BATCH})
    modality = estimator._modality(X)
    source = modality.prepare(estimator, X, reset=True)
    estimator._initialize_training(modality, source)
    net = estimator.net_
    net._set_training(True)
    z1, z2 = net.module_(views[0]), net.module_(views[1])
    loss = net.get_loss((z1, z2), training=True)
    loss.backward()
    return {
        "loss": float(loss.detach()),
        "grads": {n: p.grad for n, p in net.module_.named_parameters()},
    }


def test_augmented_step_equals_single_process_on_the_same_views(
    distributed_results,
):
    # each rank augmented only its rows (SCARF donors from the whole batch);
    # given those views, loss and summed gradients are the global batch's
    _, results = distributed_results
    steps = [r["augmented_step"] for r in results]
    n_rows = sum(len(step["rows"]) for step in steps)
    assert n_rows == STEP_BATCH
    views = []
    for k in range(2):
        view = torch.empty(STEP_BATCH, steps[0]["views"][k].shape[1])
        for step in steps:
            view[step["rows"]] = step["views"][k]
        views.append(view)
    # the views are augmented: they differ from the batch, and from each other
    assert not torch.equal(views[0], views[1])
    reference = _reference_step_on(views, AUGMENTED, _data())
    for step in steps:
        assert step["loss"] == pytest.approx(reference["loss"], abs=1e-5)
        for name, grad in reference["grads"].items():
            torch.testing.assert_close(
                step["grads"][name], grad, atol=1e-5, rtol=0, msg=name
            )


def test_graphs_train_distributed(distributed_results):
    _, results = distributed_results
    reference = _one_step(RobustContrastiveEmbedder, _graphs(), GRAPH_STEP)
    for r in results:
        step = r["graph_step"]
        assert step["loss"] == pytest.approx(reference["loss"], abs=1e-5)
        for name, grad in reference["grads"].items():
            # float32 sums over thousands of nodes: reordering the batch alone
            # changes the gradients by about 1e-4 of their scale
            scale = float(grad.abs().max()) + 1e-3
            torch.testing.assert_close(
                step["grads"][name], grad, atol=2e-3 * scale, rtol=0, msg=name
            )
        history = r["graph_history"].numpy()
        assert np.isfinite(history).all() and len(history) == GRAPH_PARAMS["max_epochs"]
    # a run with GraphCL's augmentations: every process ends with the same model
    torch.testing.assert_close(
        results[0]["graph_embedding"], results[1]["graph_embedding"], atol=0, rtol=0
    )


def test_sharded_data_gives_the_model_of_the_replicated_data(distributed_results):
    _, results = distributed_results
    for r in results:
        np.testing.assert_array_equal(r["sharded"].numpy(), r["replicated"].numpy())
    np.testing.assert_array_equal(results[0]["sharded"], results[1]["sharded"])
    history = results[0]["sharded_history"].numpy()
    assert history[-1] < history[0]  # it learns


def test_short_training_run_matches_single_process(distributed_results):
    folder, results = distributed_results
    X = _data()
    reference = RobustContrastiveEmbedder(**PARAMS).fit(X)
    expected_history = reference.history_[:, "train_loss"]
    expected = reference.transform(X)
    for r in results:
        assert r["bn_class"] == "GatheredBatchNorm1d"
        np.testing.assert_allclose(r["history"].numpy(), expected_history, atol=1e-5)
        np.testing.assert_allclose(r["embedding"].numpy(), expected, atol=1e-4)
    # the model saved by rank 0 loads as a plain single-process estimator
    loaded = RobustContrastiveEmbedder.load(folder / "model.pt", device="cpu")
    np.testing.assert_allclose(loaded.transform(X), expected, atol=1e-4)


def test_without_process_group_it_is_the_plain_estimator():
    X = _data()
    assert world_size() == 1 and rank() == 0
    distributed = DistributedEmbedder(**PARAMS).fit(X)
    plain = RobustContrastiveEmbedder(**PARAMS).fit(X)
    assert isinstance(distributed.net_, DistributedContrastiveNet)
    np.testing.assert_array_equal(distributed.transform(X), plain.transform(X))


def test_gather_is_identity_and_batchnorm_plain_without_group():
    x = torch.randn(4, 3, requires_grad=True)
    assert gather_with_grad(x) is x
    layers = convert_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm1d(3)))
    assert isinstance(layers[0], GatheredBatchNorm1d)
    expected = torch.nn.functional.batch_norm(x, None, None, training=True)
    torch.testing.assert_close(layers(x), expected)
    assert list(layers.state_dict()) == list(
        torch.nn.Sequential(torch.nn.BatchNorm1d(3)).state_dict()
    )


@pytest.mark.parametrize(
    "shape, channels_last, scale, shift",
    [
        ((64, 8, 6, 6), True, 3.0, 5.0),
        ((64, 8, 6, 6), False, 1e-3, 100.0),  # small spread around a large mean
        ((128, 16), False, 1.0, 0.0),
        ((4, 3, 2, 2, 2), False, 2.0, -1.0),
    ],
)
def test_local_batch_norm_statistics_match_float64(shape, channels_last, scale, shift):
    """The fast per-channel statistics agree with float64 var_mean."""
    from rince_sklearn.distributed._batchnorm import _local_statistics

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    x = x * scale + shift
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    dims = [0, *range(2, x.ndim)]
    var, mean = torch.var_mean(x.double(), dims, correction=0)
    got_mean, got_var = _local_statistics(x, 1e-5)
    assert got_mean.dtype == got_var.dtype == torch.float64
    torch.testing.assert_close(
        got_mean, mean, rtol=1e-6, atol=1e-6 * (abs(shift) + scale)
    )
    torch.testing.assert_close(got_var, var, rtol=1e-3, atol=0.0)
    # float64 input stays exact; a constant channel's variance is about 0
    # (within float32 rounding of eps, which is added back when normalising)
    got_mean, got_var = _local_statistics(x.double(), 1e-5)
    torch.testing.assert_close(got_var, var, rtol=1e-9, atol=1e-12)
    constant_var = _local_statistics(torch.full((8, 2), 3.0), 1e-5)[1]
    assert ((constant_var >= 0) & (constant_var < 1e-10)).all()
    # half-precision input is read in float32
    half_mean, _ = _local_statistics(x.bfloat16(), 1e-5)
    torch.testing.assert_close(half_mean, x.bfloat16().double().mean(dims))


def test_shard_sizes_cover_the_batch():
    assert shard_sizes(15, 2) == [8, 7]
    assert shard_sizes(4, 4) == [1, 1, 1, 1]
    assert sum(shard_sizes(1001, 3)) == 1001


def test_different_data_on_each_process_is_refused(distributed_results):
    _, results = distributed_results
    for r in results:
        assert "same data" in r.get("mismatch_error", "")
        assert "[40, 50]" in r["mismatch_error"]


def test_sharded_loader_draws_the_single_process_batches():
    # the union of the processes' rows is each single-process batch, in order
    X = torch.arange(23.0)[:, None]
    parts = [9, 14]
    single = [
        batch.ravel()
        for batch, _ in BatchLoader(
            TensorSource(X), 5, shuffle=True, generator=torch.Generator().manual_seed(1)
        )
    ]
    per_rank = []
    for r, offset in enumerate([0, 9]):
        part = TensorSource(X[offset : offset + parts[r]])
        loader = ShardedBatchLoader(
            part, 5, parts, r, offset, generator=torch.Generator().manual_seed(1)
        )
        batches = []
        for batch, _ in loader:
            batches.append((batch.ravel(), loader.layout))
        per_rank.append(batches)
        assert len(loader) == len(single)
    for k, expected in enumerate(single):
        (b0, layout), (b1, _) = per_rank[0][k], per_rank[1][k]
        gathered = torch.cat([b0, b1])
        torch.testing.assert_close(gathered[layout.to_batch_order], expected)
        assert layout.sizes == [len(b0), len(b1)]
        assert bool((b0 < 9).all()) and bool((b1 >= 9).all())


def test_batch_layout_reorders_gathered_rows():
    owner = torch.tensor([1, 0, 0, 1, 1, 0])
    layout = BatchLayout(owner, n_procs=2, rank=1)
    batch = torch.arange(6)
    gathered = torch.cat([batch[owner == 0], batch[owner == 1]])
    torch.testing.assert_close(gathered[layout.to_batch_order], batch)
    assert layout.local_rows.tolist() == [0, 3, 4]


def test_shard_augmentations_without_group_equal_the_batch_ones():
    X, _ = load_wine(return_X_y=True)
    x = torch.tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    shard = BatchShard([len(x)])
    for augmentation in (MarginalCorruption(0.6), MarginalCorruption(0.3, 0.1)):
        expected = augmentation(x, generator=torch.Generator().manual_seed(0))
        got = augmentation.augment_shard(x, shard, torch.Generator().manual_seed(0))
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    expected = GaussianNoise(0.2)(x, generator=torch.Generator().manual_seed(0))
    got = GaussianNoise(0.2).augment_shard(x, shard, torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_sharded_loader_can_leave_out_the_last_incomplete_batch():
    X = TensorSource(torch.arange(23.0)[:, None])
    sizes = []
    for r in range(2):  # replicated data: every process reads from the full X
        loader = ShardedBatchLoader(
            X, 5, [12, 11], r, 0, torch.Generator().manual_seed(0), drop_last=True
        )
        sizes.append([sum(loader.layout.sizes) for _ in loader])
        assert len(loader) == 4
    assert sizes == [[5, 5, 5, 5], [5, 5, 5, 5]]


def test_gathered_batch_norm_with_a_rank_that_holds_no_row(distributed_results):
    _, results = distributed_results
    torch.manual_seed(0)
    x = torch.randn(6, 3)
    plain = torch.nn.BatchNorm1d(3).train()
    expected = plain(x).detach()
    torch.testing.assert_close(results[0]["empty_rank_bn"]["out"], expected)
    for r in results:  # the same running statistics everywhere, none NaN
        torch.testing.assert_close(r["empty_rank_bn"]["running_var"], plain.running_var)
    # gradients: rank 0's rows get the single-process gradient, rank 1's none
    x.requires_grad_(True)
    plain = torch.nn.BatchNorm1d(3).train()
    out = plain(x)
    (out * torch.arange(out.numel()).view_as(out)).sum().backward()
    torch.testing.assert_close(results[0]["empty_rank_bn"]["grad_x"], x.grad)
    assert results[1]["empty_rank_bn"]["grad_x"].shape == (0, 3)
    weight_grad = sum(r["empty_rank_bn"]["grad_weight"] for r in results)
    torch.testing.assert_close(weight_grad, plain.weight.grad)


def test_gathered_batch_norm_2d_equals_one_process_forward_and_backward(
    distributed_results,
):
    """Uneven shards of channels-last images: outputs, input gradients and
    (summed over ranks) parameter gradients equal one process's batch norm of
    the global batch."""
    _, results = distributed_results
    x, weights, _ = _bn2d_data()
    x.requires_grad_(True)
    layer = _bn2d_layer()
    out = layer(x)
    (out * weights).sum().backward()
    for r in results:
        start, stop = r["bn2d"]["rows"]
        torch.testing.assert_close(r["bn2d"]["out"], out.detach()[start:stop])
        torch.testing.assert_close(r["bn2d"]["grad_x"], x.grad[start:stop])
        torch.testing.assert_close(r["bn2d"]["running_var"], layer.running_var)
    for name in ("grad_weight", "grad_bias"):
        total = sum(r["bn2d"][name] for r in results)
        expected = getattr(layer, name[5:]).grad
        torch.testing.assert_close(total, expected)


def test_gathered_batch_norm_takes_bfloat16_input_with_float32_parameters(
    distributed_results,
):
    """Mixed precision: bfloat16 activations, float32 parameters and
    statistics, as one process's batch norm does under bf16 autocast."""
    _, results = distributed_results
    x, weights, _ = _bn2d_data()
    x = x.to(torch.bfloat16).requires_grad_(True)
    layer = _bn2d_layer().float()
    out = layer(x)
    (out * weights).sum().backward()
    for r in results:
        start, stop = r["bn2d_bf16"]["rows"]
        assert r["bn2d_bf16"]["out"].dtype == torch.bfloat16
        torch.testing.assert_close(
            r["bn2d_bf16"]["out"].float(),
            out.detach()[start:stop].float(),
            atol=0.05,
            rtol=0.02,
        )
        torch.testing.assert_close(
            r["bn2d_bf16"]["grad_x"].float(),
            x.grad[start:stop].float(),
            atol=0.05,
            rtol=0.02,
        )
    total = sum(r["bn2d_bf16"]["grad_weight"] for r in results)
    torch.testing.assert_close(total, layer.weight.grad, atol=0.5, rtol=0.02)


def test_progress_output_trains_the_same_model(distributed_results):
    _, results = distributed_results
    for r in results:
        torch.testing.assert_close(r["verbose_history"], r["history"])
