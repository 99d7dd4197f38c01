"""The ``precision`` parameter: "auto" resolved from the hardware and modality."""

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_wine
from sklearn.model_selection import GridSearchCV, KFold
from skorch.callbacks import Callback

import rince_sklearn._hardware as hardware
from rince_sklearn import RobustContrastiveEmbedder
from rince_sklearn._hardware import (
    cpu_has_native_bf16,
    device_has_native_bf16,
    resolve_precision,
)

CPU = torch.device("cpu")
#: a small image fit: bfloat16 may be emulated here (slow), so keep it tiny
IMAGE_PARAMS = dict(
    max_epochs=2,
    batch_size=32,
    embedding_dim=8,
    projection_dim=8,
    encoder_kwargs={"base_width": 4},
    random_state=0,
)


@pytest.fixture(scope="module")
def images():
    return load_digits().images[:96].astype(np.float32) / 16  # (96, 8, 8)


@pytest.fixture
def native_bf16(monkeypatch):
    """Make the CPU look like one with AVX512_BF16."""
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def no_bf16(monkeypatch):
    """Make the CPU look like one without bfloat16 instructions."""
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    lines = []
    for cpu in range(2):
        lines += [
            f"processor\t: {cpu}",
            "vmx flags\t: avx512_bf16",
            f"flags\t\t: {flags}",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


# -- detection -------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni", True),
        ("fpu avx2 avx512f amx_bf16 amx_tile", True),
        ("fpu sse2 avx2 fma avx512f avx512bw", False),  # AVX-512 without BF16
        ("fpu sse2 avx2 fma", False),
    ],
)
def test_cpu_flags_decide_on_linux(tmp_path, monkeypatch, flags, expected):
    # torch's own detection would say otherwise: on Linux the kernel's flags win
    monkeypatch.setattr(
        hardware, "_torch_cpu_capabilities", lambda: {"avx512_bf16": not expected}
    )
    assert cpu_has_native_bf16(_cpuinfo(tmp_path, flags), platform="linux") is expected


def test_the_vmx_flags_line_is_not_the_cpu_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(hardware, "_torch_cpu_capabilities", lambda: None)
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nvmx flags\t: avx512_bf16\nflags\t\t: fpu avx2\n")
    assert not cpu_has_native_bf16(path, platform="linux")


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ({"avx512_bf16": True, "amx_bf16": False}, True),
        ({"avx512_bf16": False, "amx_bf16": True}, True),
        ({"avx512_bf16": False, "amx_bf16": False, "avx2": True}, False),
        (None, False),  # a torch without get_capabilities
    ],
)
def test_elsewhere_torch_detection_or_float32(
    tmp_path, monkeypatch, capabilities, expected
):
    monkeypatch.setattr(hardware, "_torch_cpu_capabilities", lambda: capabilities)
    flags = _cpuinfo(tmp_path, "avx512_bf16")
    # macOS, Windows: no /proc/cpuinfo to read, whatever the file says
    for platform in ("darwin", "win32"):
        assert cpu_has_native_bf16(flags, platform=platform) is expected
    # Linux with an unreadable /proc/cpuinfo falls back the same way
    missing = tmp_path / "no-such-file"
    assert cpu_has_native_bf16(missing, platform="linux") is expected


def test_torch_detection_agrees_with_this_machines_flags():
    if not hasattr(torch.cpu, "get_capabilities"):
        pytest.skip("this torch has no torch.cpu.get_capabilities")
    try:
        open("/proc/cpuinfo").close()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    caps = torch.cpu.get_capabilities()
    from_torch = bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    assert cpu_has_native_bf16(platform="linux") == from_torch


def test_device_detection(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    assert device_has_native_bf16(CPU)
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    assert not device_has_native_bf16(CPU)
    assert not device_has_native_bf16(torch.device("meta"))
    if not torch.cuda.is_available():
        assert not device_has_native_bf16(torch.device("cuda"))


# -- resolution ------------------------------------------------------------------
@pytest.mark.parametrize("native", [True, False])
def test_resolution(monkeypatch, native):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    auto_image = "bf16-mixed" if native else "32"
    assert resolve_precision("auto", CPU, "image") == auto_image
    # tables and graphs: small matrix products, sums over nodes: float32
    assert resolve_precision("auto", CPU, "tabular") == "32"
    assert resolve_precision("auto", CPU, "graph") == "32"
    assert resolve_precision("auto", CPU, "my_modality") == "32"
    for given in ("32", "bf16-mixed"):  # explicit values are kept
        for modality in ("image", "tabular", "graph"):
            assert resolve_precision(given, CPU, modality) == given
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp8", CPU, "image")


class RecordDtype(Callback):
    """Record the dtype of the projections the loss receives."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        net.history.record_batch("projection_dtype", str(kwargs["y_pred"].dtype))


def _dtypes(est):
    return {
        d for epoch in est.history_[:, "batches", :, "projection_dtype"] for d in epoch
    }


def test_default_is_auto():
    assert RobustContrastiveEmbedder().precision == "auto"


def test_auto_trains_images_in_bf16_where_the_cpu_computes_it(images, native_bf16):
    est = RobustContrastiveEmbedder(callbacks=[RecordDtype()], **IMAGE_PARAMS)
    est.fit(images)
    assert est.precision == "auto"  # the parameter is left as given
    assert est.precision_ == "bf16-mixed"
    assert est.net_.autocast_dtype is torch.bfloat16
    assert _dtypes(est) == {"torch.bfloat16"}
    assert {p.dtype for p in est.net_.module_.parameters()} == {torch.float32}
    Z = est.transform(images)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()


def test_auto_without_native_bf16_trains_in_float32(images, no_bf16):
    est = RobustContrastiveEmbedder(callbacks=[RecordDtype()], **IMAGE_PARAMS)
    est.fit(images)
    assert est.precision_ == "32" and est.net_.autocast_dtype is None
    assert _dtypes(est) == {"torch.float32"}
    # the same model as precision="32"
    fp32 = RobustContrastiveEmbedder(precision="32", **IMAGE_PARAMS).fit(images)
    np.testing.assert_array_equal(est.transform(images), fp32.transform(images))


def test_auto_keeps_tables_in_float32_even_with_native_bf16(native_bf16):
    X = load_wine().data.astype(np.float32)
    est = RobustContrastiveEmbedder(max_epochs=2, random_state=0).fit(X)
    assert est.precision_ == "32" and est.net_.autocast_dtype is None


def test_auto_on_this_machine(images):
    est = RobustContrastiveEmbedder(**{**IMAGE_PARAMS, "max_epochs": 1}).fit(images)
    assert est.precision_ == ("bf16-mixed" if cpu_has_native_bf16() else "32")


def test_bf16_transform_is_finite_deterministic_and_in_float32(images):
    fits = [
        RobustContrastiveEmbedder(precision="bf16-mixed", **IMAGE_PARAMS).fit(images)
        for _ in range(2)
    ]
    Z = [est.transform(images) for est in fits]
    assert Z[0].dtype == np.float32 and np.isfinite(Z[0]).all()
    np.testing.assert_array_equal(Z[0], Z[1])  # same seed, same embeddings
    # transform runs without autocast: the float32 weights' exact outputs
    est = fits[0]
    with torch.inference_mode():
        batch = torch.from_numpy(images[:, None]).contiguous(
            memory_format=torch.channels_last
        )
        expected = est.encoder_.eval()(batch).numpy()
    np.testing.assert_allclose(Z[0], expected, rtol=1e-5, atol=1e-6)


# -- persistence -----------------------------------------------------------------
@pytest.mark.parametrize("precision", ["bf16-mixed", "32"])
def test_precision_round_trips_through_save_and_load(images, tmp_path, precision):
    est = RobustContrastiveEmbedder(precision=precision, **IMAGE_PARAMS).fit(images)
    est.save(tmp_path / "model.pt")
    loaded = RobustContrastiveEmbedder.load(tmp_path / "model.pt", device="cpu")
    assert loaded.precision_ == precision
    expected = torch.bfloat16 if precision == "bf16-mixed" else None
    assert loaded.net_.autocast_dtype is expected
    np.testing.assert_array_equal(loaded.transform(images), est.transform(images))


def _without_precision_(src, dst, precision_param):
    payload = torch.load(src, map_location="cpu", weights_only=True)
    params, fitted = json.loads(payload["params"]), json.loads(payload["fitted"])
    del fitted["precision_"]
    params["precision"] = precision_param
    payload["params"], payload["fitted"] = json.dumps(params), json.dumps(fitted)
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize(
    "param, expected", [("32", "32"), ("bf16-mixed", "bf16-mixed")]
)
def test_files_from_before_precision_auto_load(images, tmp_path, param, expected):
    # such files have no precision_; they trained as their parameter said
    est = RobustContrastiveEmbedder(precision=param, **IMAGE_PARAMS).fit(images)
    est.save(tmp_path / "new.pt")
    old = _without_precision_(tmp_path / "new.pt", tmp_path / "old.pt", param)
    loaded = RobustContrastiveEmbedder.load(old, device="cpu")
    assert loaded.precision == param and loaded.precision_ == expected
    np.testing.assert_array_equal(loaded.transform(images), est.transform(images))
    loaded.partial_fit(images)  # continues training in the saved precision
    assert loaded.net_.autocast_dtype is (
        torch.bfloat16 if expected == "bf16-mixed" else None
    )


@pytest.mark.parametrize("value", ["16", 32, None, ["32"]])
def test_a_malformed_precision_in_a_file_is_refused(images, tmp_path, value):
    est = RobustContrastiveEmbedder(precision="32", **IMAGE_PARAMS).fit(images)
    est.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    fitted = json.loads(payload["fitted"])
    fitted["precision_"] = value
    payload["fitted"] = json.dumps(fitted)
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="precision_"):
        RobustContrastiveEmbedder.load(tmp_path / "bad.pt")


# -- the same choice in every worker --------------------------------------------
def test_grid_search_with_auto_precision_equals_n_jobs_1(images):
    def search(n_jobs):
        return GridSearchCV(
            RobustContrastiveEmbedder(**{**IMAGE_PARAMS, "max_epochs": 1}),
            {"q": [0.5, 1.0]},
            cv=KFold(2, shuffle=True, random_state=0),
            n_jobs=n_jobs,
        ).fit(images)

    serial, parallel = search(1), search(2)
    for column in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(
            parallel.cv_results_[column], serial.cv_results_[column], column
        )
    assert parallel.best_estimator_.precision_ == serial.best_estimator_.precision_


def test_bf16_mixed_trains_the_default_graph_encoder():
    # its sparse neighbour sums had no bfloat16 kernel under autocast
    # (NotImplementedError: "addmm_out_sparse_csr_impl_mkl" ... 'BFloat16')
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(24):
        n = int(rng.integers(4, 9))
        ring = np.stack([np.arange(n), (np.arange(n) + 1) % n])
        edges = np.concatenate([ring, ring[::-1]], axis=1)
        graphs.append((edges, rng.normal(size=(n, 3)).astype(np.float32)))
    params = {**IMAGE_PARAMS, "encoder_kwargs": {"hidden_dim": 8}}
    est = RobustContrastiveEmbedder(
        precision="bf16-mixed", callbacks=[RecordDtype()], **params
    ).fit(graphs)
    assert est.precision_ == "bf16-mixed" and _dtypes(est) == {"torch.bfloat16"}
    Z = est.transform(graphs)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
