"""Data-parallel training over 2 CPU processes (gloo) equals one process.

One module-scoped fixture starts a 2-process group on this machine (loopback)
once; its processes write what they computed to files, and the tests compare
those with the same computations done here in a single process.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from rince_sklearn import RobustContrastiveEmbedder, rince
from rince_sklearn.distributed import (
    DistributedContrastiveNet,
    DistributedEmbedder,
    GatheredBatchNorm1d,
    convert_batchnorm,
    gather_with_grad,
    rank,
    run_local,
    shard_sizes,
    world_size,
)

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
)


def _data() -> np.ndarray:
    X, _ = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X)[:96]


def _projections() -> torch.Tensor:
    return torch.randn(
        STEP_BATCH * 2, 6, generator=torch.Generator().manual_seed(3)
    )  # rows 0..B-1: z1, B..2B-1: z2


def _one_step(estimator_class: type, X: np.ndarray) -> dict:
    """Initialise like fit, run one training step on the first rows of X."""
    estimator = estimator_class(**PARAMS)
    modality = estimator._modality(X)
    source = modality.prepare(estimator, X, reset=True)
    estimator._initialize_training(modality, source)
    net = estimator.net_
    batch = source.take(torch.arange(STEP_BATCH))
    step = net.train_step_single((batch, None))
    return {
        "loss": float(step["loss"].detach()),
        "grads": {
            name: p.grad.detach().clone() for name, p in net.module_.named_parameters()
        },
        "running_mean": net.module_.head.net[1].running_mean.clone(),
    }


def _gather_check() -> dict:
    """Loss and input gradients through gather_with_grad on this rank's shard."""
    z = _projections()
    sizes = shard_sizes(STEP_BATCH, world_size())
    start = sum(sizes[: rank()])
    rows = slice(start, start + sizes[rank()])
    z1 = z[:STEP_BATCH][rows].clone().requires_grad_(True)
    z2 = z[STEP_BATCH:][rows].clone().requires_grad_(True)
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


def _worker(folder: str) -> None:
    torch.set_num_threads(1)
    X = _data()
    results = {
        "world_size": world_size(),
        "gather": _gather_check(),
        "step": _one_step(DistributedEmbedder, X),
    }
    emb = DistributedEmbedder(**PARAMS).fit(X)
    results["history"] = torch.tensor(emb.history_[:, "train_loss"])
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


def test_training_step_loss_and_gradients_equal_single_process(
    distributed_results,
):
    # views, noisy pairing, global batch norm and the summed gradients of one
    # step of the estimator's net, against the same step in one process
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


def test_shard_sizes_cover_the_batch():
    assert shard_sizes(15, 2) == [8, 7]
    assert shard_sizes(4, 4) == [1, 1, 1, 1]
    assert sum(shard_sizes(1001, 3)) == 1001


def test_different_data_on_each_process_is_refused(distributed_results):
    _, results = distributed_results
    for r in results:
        assert "same data" in r.get("mismatch_error", "")
        assert "[40, 50]" in r["mismatch_error"]
