"""Scaling out on one machine: thread limits, parallel and Dask grid search,
devices and bf16 autocast (the CPU side; benchmarks/gpu_checks.py has the GPU
side)."""

import os
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn.estimator import resolve_device
from rince_sklearn.threads import (
    DEFAULT_N_THREADS,
    available_cores,
    limit_torch_threads,
    resolve_n_threads,
    torch_threads,
    worker_thread_budget,
)

PARAMS = dict(
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"hidden_dims": (32,)},
    batch_size=64,
    max_epochs=3,
    random_state=0,
)
GRID = {"q": [0.1, 1.0], "lam": [0.01]}


@pytest.fixture(scope="module")
def X():
    data, _ = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(data).astype(np.float32)


# -- thread limits ---------------------------------------------------------------
def test_limit_lowers_and_restores():
    with limit_torch_threads(None):  # this module's fixture: 1 thread
        previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with limit_torch_threads(1) as n:
            assert n == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with limit_torch_threads(8) as n:  # never raises the setting
            assert n == 2 and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="boom"):
            with limit_torch_threads(1):
                raise RuntimeError("boom")
        assert torch.get_num_threads() == 2  # restored after an error too
        with pytest.raises(ValueError, match="positive"):
            with limit_torch_threads(0):
                pass
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(
    "value, expected",
    [("1", 1), ("100000", available_cores()), ("0", None), ("x", None), ("", None)],
)
def test_budget_reads_omp_num_threads(value, expected):
    with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": value}):
        assert worker_thread_budget() == expected


def test_no_budget_without_the_variable():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    with mock.patch.dict(os.environ, env, clear=True):
        assert worker_thread_budget() is None


class RecordThreads(Callback):
    """Record torch's thread count in each epoch (top level: picklable)."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())


def test_torch_threads_sets_exactly_and_restores():
    previous = torch.get_num_threads()  # the root conftest's 1 thread
    with torch_threads(2) as n:  # raised as well as lowered
        assert n == 2 and torch.get_num_threads() == 2
        with torch_threads(1) as inner:
            assert inner == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == previous
    with pytest.raises(RuntimeError, match="boom"):
        with torch_threads(2):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == previous  # restored after an error too
    with pytest.raises(ValueError, match="positive"):
        with torch_threads(0):
            pass


def test_resolve_n_threads_follows_n_jobs_semantics():
    assert resolve_n_threads(None) == DEFAULT_N_THREADS == 1
    assert resolve_n_threads(3) == 3  # as given, more than the cores too
    assert resolve_n_threads(-1) == available_cores()
    assert resolve_n_threads(-(available_cores() + 5)) == 1
    with pytest.raises(ValueError, match="got 0"):
        resolve_n_threads(0)
    # the default does not follow a worker's budget
    with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "7"}):
        assert resolve_n_threads(None) == DEFAULT_N_THREADS


def test_n_threads_is_validated(X):
    with pytest.raises(InvalidParameterError, match="n_threads"):
        RobustContrastiveEmbedder(n_threads=0).fit(X)
    with pytest.raises(InvalidParameterError, match="n_threads"):
        RobustContrastiveEmbedder(n_threads=1.5).fit(X)


def test_fit_limits_threads_while_training_and_restores(X):
    torch.set_num_threads(2)
    try:
        with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "1"}):
            est = RobustContrastiveEmbedder(callbacks=[RecordThreads()], **PARAMS)
            est.fit(X)
            assert torch.get_num_threads() == 2
            est.partial_fit(X)
            assert torch.get_num_threads() == 2
        assert est.history_[:, "torch_threads"] == [1, 1, 1, 1]
    finally:
        torch.set_num_threads(1)


def test_explicit_n_threads_is_used_and_restored(X):
    est = RobustContrastiveEmbedder(
        callbacks=[RecordThreads()], n_threads=2, **PARAMS
    ).fit(X)
    assert est.history_[:, "torch_threads"] == [2] * PARAMS["max_epochs"]
    assert torch.get_num_threads() == 1  # the root conftest's setting


def _fit_in_worker(X, n_threads=None):
    """Run in a joblib worker: torch told to use 2 threads, as user code might."""
    torch.set_num_threads(2)
    est = RobustContrastiveEmbedder(
        callbacks=[RecordThreads()], n_threads=n_threads, **PARAMS
    ).fit(X)
    return (
        os.environ.get("OMP_NUM_THREADS"),
        est.history_[:, "torch_threads"],
        torch.get_num_threads(),
        est.transform(X),
    )


def test_loky_workers_train_with_the_estimators_setting(X):
    # the estimator's n_threads decides, not the worker's share of the cores:
    # the default everywhere, and an explicit number as given, so that a fit
    # gives the same model in a worker as in the main process
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_fit_in_worker)(X, n_threads) for n_threads in (None, 2)
    )
    share = max(os.cpu_count() // 2, 1)
    for (variable, during, after, embedding), n_threads in zip(
        results, (None, 2), strict=True
    ):
        assert variable == str(share)  # what loky gave the worker
        assert during == [resolve_n_threads(n_threads)] * PARAMS["max_epochs"]
        assert after == 2  # the worker's own setting is restored
        torch.set_num_threads(2)  # the main process told otherwise, too
        try:
            here = RobustContrastiveEmbedder(n_threads=n_threads, **PARAMS).fit(X)
        finally:
            torch.set_num_threads(1)
        np.testing.assert_array_equal(embedding, here.transform(X))


# -- parallel grid search ----------------------------------------------------------
def _search(X, n_jobs):
    search = GridSearchCV(
        RobustContrastiveEmbedder(**PARAMS),
        GRID,
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    return search.fit(X)


@pytest.fixture(scope="module")
def serial_search(X):
    # torch told to use 2 threads in this process, while joblib's and Dask's
    # workers get 1 in OMP_NUM_THREADS: the estimator's own setting decides
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _search(X, n_jobs=1)
    finally:
        torch.set_num_threads(previous)


def _assert_same_search(searched, reference):
    """Every score column of ``cv_results_`` and ``best_params_`` are equal."""
    columns = [k for k in reference.cv_results_ if k.endswith("test_score")]
    assert len(columns) == 2 + 2 + 1  # 2 splits, mean, std, rank
    for column in columns:
        np.testing.assert_array_equal(
            searched.cv_results_[column], reference.cv_results_[column], column
        )
    assert searched.best_params_ == reference.best_params_


def test_grid_search_n_jobs_2_equals_n_jobs_1(X, serial_search):
    parallel = _search(X, n_jobs=2)
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"],
        serial_search.cv_results_["mean_test_score"],
    )
    _assert_same_search(parallel, serial_search)
    np.testing.assert_array_equal(
        parallel.best_estimator_.transform(X),
        serial_search.best_estimator_.transform(X),
    )


def test_grid_search_on_a_dask_cluster_equals_n_jobs_1(X, serial_search):
    distributed = pytest.importorskip(
        "distributed", reason="the Dask test needs the 'distributed' extra"
    )
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Dask's nannies give each worker process one thread
        budgets = client.run(worker_thread_budget)
        assert sorted(budgets.values()) == [1, 1]
        with joblib.parallel_config(backend="dask"):
            searched = _search(X, n_jobs=-1)
    np.testing.assert_array_equal(
        searched.cv_results_["mean_test_score"],
        serial_search.cv_results_["mean_test_score"],
    )
    _assert_same_search(searched, serial_search)


# -- devices ---------------------------------------------------------------------
def test_auto_device_is_cpu_without_cuda(X):
    est = RobustContrastiveEmbedder(**PARAMS).fit(X)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert est.device_.type == expected
    devices = {p.device.type for p in est.net_.module_.parameters()}
    devices |= {b.device.type for b in est.net_.module_.buffers()}
    assert devices == {expected}
    assert est.net_.augment_rng_.device.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_clear_error(X):
    with pytest.raises(ValueError, match="CUDA is not available"):
        RobustContrastiveEmbedder(device="cuda", **PARAMS).fit(X)


def test_saved_weights_are_cpu_tensors_and_load_on_cpu(X, tmp_path):
    est = RobustContrastiveEmbedder(**PARAMS).fit(X)
    est.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert {t.device.type for t in payload["state_dict"].values()} == {"cpu"}
    loaded = RobustContrastiveEmbedder.load(tmp_path / "model.pt", device="cpu")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


# -- bf16 autocast ----------------------------------------------------------------
class RecordDtype(Callback):
    """Record the dtype of the projections the loss receives."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        net.history.record_batch("projection_dtype", str(kwargs["y_pred"].dtype))


def test_bf16_mixed_autocasts_training_on_cpu(X):
    fp32 = RobustContrastiveEmbedder(callbacks=[RecordDtype()], **PARAMS).fit(X)
    bf16 = RobustContrastiveEmbedder(
        precision="bf16-mixed", callbacks=[RecordDtype()], **PARAMS
    ).fit(X)
    assert set(bf16.history_[:, "batches", :, "projection_dtype"][0]) == {
        "torch.bfloat16"
    }
    assert set(fp32.history_[:, "batches", :, "projection_dtype"][0]) == {
        "torch.float32"
    }
    # weights stay float32; transform is float32, finite, and close to fp32
    assert {p.dtype for p in bf16.net_.module_.parameters()} == {torch.float32}
    Z = bf16.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    loss16 = np.array(bf16.history_[:, "train_loss"])
    loss32 = np.array(fp32.history_[:, "train_loss"])
    assert np.abs(loss16 - loss32).max() < 0.05, (loss16, loss32)


def test_precision_is_validated(X):
    with pytest.raises(InvalidParameterError, match="precision"):
        RobustContrastiveEmbedder(precision="fp8").fit(X)
