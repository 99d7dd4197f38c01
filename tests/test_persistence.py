"""save/load, pickle and joblib: round trips, and a file that is an attack.

The tamper suite writes the attacks of a hostile model file: class and function
references that name code to import or call, oversized tensors hidden by zip
compression, architectures far larger than the file's weights, malformed
values. Loading must refuse each with a ValueError or TypeError, run nothing,
import nothing and allocate little. ``save`` must be atomic.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from rince_sklearn import RobustContrastiveEmbedder, __version__
from rince_sklearn.augment import Compose, GaussianNoise, MarginalCorruption

FAST = {"max_epochs": 3, "embedding_dim": 8, "projection_dim": 8, "random_state": 0}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, wine):
    """A fitted tabular model saved once, with its embedding of wine."""
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    path = tmp_path_factory.mktemp("saved") / "model.pt"
    emb.save(path)
    return path, emb.transform(X)


def _read(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _tamper(src, dst, *, params=None, fitted=None, **entries):
    """Copy the file at ``src`` to ``dst`` with JSON entries changed."""
    payload = _read(src)
    if params is not None:
        decoded = json.loads(payload["params"])
        decoded.update(params)
        payload["params"] = json.dumps(decoded)
    if fitted is not None:
        decoded = json.loads(payload["fitted"])
        decoded.update(fitted)
        payload["fitted"] = json.dumps(decoded)
    payload.update(entries)
    torch.save(payload, dst)
    return dst


# -- round trips -----------------------------------------------------------------


def test_pickle_and_joblib_round_trip(wine, tmp_path):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    expected = emb.transform(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(emb)).transform(X), expected
    )
    joblib.dump(emb, tmp_path / "emb.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "emb.joblib").transform(X), expected
    )


def test_save_load_round_trip(wine, tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = wine
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(13)])
    emb = RobustContrastiveEmbedder(
        **FAST, augmentation=MarginalCorruption(0.3, noise_std=0.1), optimizer="adamw"
    ).fit(df)
    emb.save(tmp_path / "emb.pt")
    loaded = RobustContrastiveEmbedder.load(tmp_path / "emb.pt")
    np.testing.assert_array_equal(loaded.transform(df), emb.transform(df))
    assert loaded.get_params() == emb.get_params()
    assert list(loaded.feature_names_in_) == list(emb.feature_names_in_)
    assert loaded.history_[-1, "train_loss"] == emb.history_[-1, "train_loss"]
    assert loaded.score(df) == emb.score(df)
    # a loaded estimator can be refitted
    loaded.fit(df)


def test_a_file_keeps_its_resolved_defaults_when_the_defaults_change(
    tmp_path, monkeypatch
):
    # the graph default width went from 64 to 192: a model saved with "auto"
    # resolved under the former default loads with its own width
    nx = pytest.importorskip("networkx")
    from rince_sklearn.modalities import get_modality

    defaults = get_modality("graph").DEFAULTS
    graphs = [nx.path_graph(4), nx.cycle_graph(5)] * 4
    monkeypatch.setitem(defaults, "embedding_dim", 64)
    emb = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(graphs)
    emb.save(tmp_path / "former.pt")
    monkeypatch.setitem(defaults, "embedding_dim", 192)
    loaded = RobustContrastiveEmbedder.load(tmp_path / "former.pt")
    assert loaded.embedding_dim == "auto" and loaded.embedding_dim_ == 64
    np.testing.assert_array_equal(loaded.transform(graphs), emb.transform(graphs))


def test_save_load_nested_augmentations_and_tuples(wine, tmp_path):
    X, _ = wine
    augmentation = Compose([MarginalCorruption(0.3), GaussianNoise(0.05)])
    emb = RobustContrastiveEmbedder(
        **FAST, augmentation=augmentation, encoder_kwargs={"hidden_dims": (16, 8)}
    ).fit(X)
    emb.save(tmp_path / "emb.pt")
    loaded = RobustContrastiveEmbedder.load(tmp_path / "emb.pt")
    assert loaded.augmentation == augmentation
    assert loaded.encoder_kwargs == {"hidden_dims": (16, 8)}
    np.testing.assert_array_equal(loaded.transform(X), emb.transform(X))


def test_saved_file_records_format_and_library_version(saved):
    path, _ = saved
    payload = _read(path)
    assert payload["format_version"] == 2
    assert payload["library_version"] == __version__


class TopLevelEncoder(torch.nn.Module):
    def __init__(self, in_features, embedding_dim):
        super().__init__()
        self.layer = torch.nn.Linear(in_features, embedding_dim)

    def forward(self, x):
        return self.layer(x)


def test_save_load_custom_encoder_and_callbacks_warning(wine, tmp_path):
    X, _ = wine

    class Nothing(Callback):
        pass

    emb = RobustContrastiveEmbedder(
        **FAST, encoder=TopLevelEncoder, callbacks=[Nothing()]
    ).fit(X)
    with pytest.warns(UserWarning, match="Callbacks are not saved"):
        emb.save(tmp_path / "emb.pt")
    loaded = RobustContrastiveEmbedder.load(
        tmp_path / "emb.pt", device="cpu", trusted=[TopLevelEncoder]
    )
    assert loaded.encoder is TopLevelEncoder and loaded.callbacks is None
    np.testing.assert_array_equal(loaded.transform(X), emb.transform(X))


def test_custom_class_needs_to_be_trusted(wine, tmp_path):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST, encoder=TopLevelEncoder).fit(X)
    emb.save(tmp_path / "emb.pt")
    with pytest.raises(ValueError, match=r"trusted=\[TopLevelEncoder\]"):
        RobustContrastiveEmbedder.load(tmp_path / "emb.pt")
    # trusting something of the wrong kind is refused up front
    with pytest.raises(TypeError, match="trusted"):
        RobustContrastiveEmbedder.load(tmp_path / "emb.pt", trusted=[print])


def test_save_refuses_functions_and_local_objects(wine, tmp_path):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST, augmentation=lambda b: b).fit(X)
    with pytest.raises(ValueError, match="cannot be saved"):
        emb.save(tmp_path / "emb.pt")
    assert not (tmp_path / "emb.pt").exists()


def test_save_to_file_object(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    buffer = io.BytesIO()
    emb.save(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(
        RobustContrastiveEmbedder.load(buffer).transform(X), emb.transform(X)
    )


def test_pickle_keeps_one_encoder_and_the_random_streams(wine):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    clone_ = pickle.loads(pickle.dumps(emb))
    assert clone_.encoder_ is clone_.net_.module_.encoder
    assert clone_.history_ is clone_.net_.history
    # the augmentation stream continues where it was
    assert torch.equal(
        clone_.net_.augment_rng_.get_state(), emb.net_.augment_rng_.get_state()
    )
    clone_.partial_fit(X)
    emb.partial_fit(X)
    np.testing.assert_array_equal(clone_.transform(X), emb.transform(X))


def test_load_of_a_gpu_model_falls_back_to_cpu(saved, wine, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: no fallback to test")
    X, _ = wine
    path, expected = saved
    # the same file as a GPU machine writes it: the device parameter is cuda
    _tamper(path, tmp_path / "gpu.pt", params={"device": "cuda"})
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        loaded = RobustContrastiveEmbedder.load(tmp_path / "gpu.pt")
    assert loaded.device_ == torch.device("cpu") and loaded.device == "cuda"
    np.testing.assert_array_equal(loaded.transform(X), expected)


def test_every_fitted_attribute_is_saved_or_rebuilt(wine, digits_images, tmp_path):
    """A round trip keeps every public fitted attribute, in every modality."""
    X, _ = wine
    for data in (X, digits_images[:60]):
        emb = RobustContrastiveEmbedder(**{**FAST, "max_epochs": 1}).fit(data)
        emb.save(tmp_path / "m.pt")
        loaded = RobustContrastiveEmbedder.load(tmp_path / "m.pt")
        fitted = {k for k in vars(emb) if k.endswith("_") and not k.startswith("_")}
        assert fitted == {
            k for k in vars(loaded) if k.endswith("_") and not k.startswith("_")
        }
        for name in fitted - {"net_", "encoder_", "history_", "augmentation_"}:
            assert np.all(getattr(loaded, name) == getattr(emb, name)), name


@pytest.fixture(scope="module")
def digits_images():
    from sklearn.datasets import load_digits

    return load_digits().images.astype(np.float32)


# -- atomic save -----------------------------------------------------------------


def test_save_replaces_a_symlink_without_touching_its_target(saved, wine, tmp_path):
    X, _ = wine
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "model.pt"
    link.symlink_to(victim)
    RobustContrastiveEmbedder(**FAST).fit(X).save(link)
    assert victim.read_text() == "precious"
    assert not link.is_symlink()
    RobustContrastiveEmbedder.load(link)


def test_failed_save_leaves_the_previous_file_and_no_debris(saved, wine, tmp_path):
    X, _ = wine
    path, expected = saved
    target = tmp_path / "model.pt"
    target.write_bytes(path.read_bytes())
    emb = RobustContrastiveEmbedder(**FAST, augmentation=lambda b: b).fit(X)
    with pytest.raises(ValueError):
        emb.save(target)
    np.testing.assert_array_equal(
        RobustContrastiveEmbedder.load(target).transform(X), expected
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_save_into_a_missing_directory_names_the_path(wine, tmp_path):
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    with pytest.raises(OSError, match="missing"):
        emb.save(tmp_path / "missing" / "model.pt")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX resource limits")
def test_save_under_a_file_size_limit_keeps_the_old_file(saved, wine, tmp_path):
    """A full disk during save (RLIMIT_FSIZE) leaves the previous file loadable."""
    X, _ = wine
    path, expected = saved
    target = tmp_path / "model.pt"
    target.write_bytes(path.read_bytes())
    limit = target.stat().st_size // 2
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        import numpy as np, torch
        from sklearn.datasets import load_wine
        from rince_sklearn import RobustContrastiveEmbedder
        torch.set_num_threads(1)
        X, _ = load_wine(return_X_y=True)
        emb = RobustContrastiveEmbedder(max_epochs=1, embedding_dim=8,
                                        projection_dim=8, random_state=1).fit(X)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        try:
            emb.save({str(target)!r})
        except OSError as exc:
            assert {str(target)!r} in str(exc), exc
            sys.exit(0)
        sys.exit("save succeeded beyond the file-size limit")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_array_equal(
        RobustContrastiveEmbedder.load(target).transform(X), expected
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


# -- the tamper suite -------------------------------------------------------------


@pytest.fixture()
def canary(tmp_path, monkeypatch):
    """An importable module that leaves a mark when it is imported or called."""
    mark = tmp_path / "PWNED"
    (tmp_path / "rince_canary.py").write_text(
        textwrap.dedent(
            f"""
            import pathlib
            pathlib.Path({str(mark)!r}).write_text("imported")

            def hit(*args, **kwargs):
                pathlib.Path({str(mark)!r}).write_text("called")

            class Encoder:
                def __init__(self, *args, **kwargs):
                    hit()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("rince_canary", None)
    yield mark
    sys.modules.pop("rince_canary", None)


def _shell(mark):
    return {"__augmentation__": "os:system", "params": {"command": f"touch {mark}"}}


ATTACKS = {
    # the augmentation parameter names a function to call with arguments
    "augmentation os.system": lambda m: {"params": {"augmentation": _shell(m)}},
    "augmentation runpy": lambda m: {
        "params": {
            "augmentation": {
                "__augmentation__": "runpy:run_path",
                "params": {"path_name": "evil.py"},
            }
        }
    },
    "augmentation open(w)": lambda m: {
        "params": {
            "augmentation": {
                "__augmentation__": "builtins:open",
                "params": {"file": str(m) + ".victim", "mode": "w"},
            }
        }
    },
    "augmentation canary class": lambda m: {
        "params": {
            "augmentation": {"__augmentation__": "rince_canary:Encoder", "params": {}}
        }
    },
    "nested augmentation": lambda m: {
        "params": {
            "augmentation": {
                "__augmentation__": "rince_sklearn.augment._base:Compose",
                "params": {"augmentations": [_shell(m)]},
            }
        }
    },
    "encoder_kwargs": lambda m: {
        "params": {"encoder_kwargs": {"__dict__": [["hidden_dims", _shell(m)]]}}
    },
    "random_state": lambda m: {"params": {"random_state": _shell(m)}},
    "callbacks": lambda m: {"params": {"callbacks": [_shell(m)]}},
    "fitted n_features_in_": lambda m: {"fitted": {"n_features_in_": _shell(m)}},
    "import tag module": lambda m: {
        "params": {"encoder": {"__import__": "rince_canary:Encoder"}}
    },
    "class tag module": lambda m: {
        "params": {"encoder": {"__class__": "rince_canary:Encoder"}}
    },
    "import tag eval": lambda m: {
        "params": {"optimizer": {"__import__": "builtins:eval"}}
    },
    "class tag not an optimizer": lambda m: {
        "params": {"optimizer": {"__class__": "collections:OrderedDict"}}
    },
    "encoder that is an optimizer": lambda m: {
        "params": {"encoder": {"__class__": "torch.optim.adam:Adam"}}
    },
    "import tag in a plain value": lambda m: {
        "params": {"tol": {"__import__": "rince_canary:hit"}}
    },
    "ndarray of a huge dtype": lambda m: {
        "fitted": {"feature_names_in_": {"__ndarray__": ["a"], "dtype": "V1000000000"}}
    },
    "unknown parameter": lambda m: {"params": {"evil": 1}},
    "unknown fitted attribute": lambda m: {"fitted": {"evil_": 1}},
    "parameter out of range": lambda m: {"params": {"q": 5.0}},
    "fitted attribute of the wrong type": lambda m: {
        "fitted": {"n_features_in_": "13"}
    },
    "unknown modality": lambda m: {"fitted": {"modality_": "rince_canary"}},
    "fitted lr_ not a number": lambda m: {"fitted": {"lr_": _shell(m)}},
    "fitted encoder_kwargs_ with a class": lambda m: {
        "fitted": {
            "encoder_kwargs_": {"__dict__": [["x", {"__class__": "rince_canary:X"}]]}
        }
    },
    "augmentation state under a dunder name": lambda m: {
        "augmentation_state": {"__class__": torch.zeros(1)}
    },
    "augmentation state of the wrong shape": lambda m: {
        "augmentation_state": {"pool_": torch.zeros(3)}
    },
    "augmentation state for no such member": lambda m: {
        "augmentation_state": {"7.pool_": torch.zeros(2, 13)}
    },
    "augmentation state under another name": lambda m: {
        "augmentation_state": {"corruption_rate_": torch.zeros(1)}
    },
    "ndarray beyond its dtype": lambda m: {
        "fitted": {"feature_names_in_": {"__ndarray__": [10**30], "dtype": "int64"}}
    },
    "augmentation state for an augmentation that fits nothing": lambda m: {
        "params": {
            "augmentation": {
                "__augmentation__": "rince_sklearn.augment.tabular:GaussianNoise",
                "params": {"std": 0.1},
            }
        },
        "augmentation_state": {"pool_": torch.zeros(2, 2)},
    },
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_tampered_file_runs_and_imports_nothing(attack, saved, canary, tmp_path):
    path, _ = saved
    (tmp_path / "evil.py").write_text(f"open({str(canary)!r}, 'w').write('ran')")
    tampered = _tamper(path, tmp_path / "evil.pt", **ATTACKS[attack](canary))
    with pytest.raises((ValueError, TypeError)) as info:
        RobustContrastiveEmbedder.load(tampered)
    assert str(tampered) in str(info.value) or "saved file" in str(info.value)
    assert not canary.exists(), canary.read_text()
    assert not Path(str(canary) + ".victim").exists()
    assert "rince_canary" not in sys.modules


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickled_object_in_the_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(
        {"format": "rince_sklearn.RobustContrastiveEmbedder", "payload": _Exploit()},
        tmp_path / "evil.pt",
    )
    with pytest.raises(ValueError, match="not plain data"):
        RobustContrastiveEmbedder.load(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_a_pickle_file_is_refused_without_torch_warnings(wine, tmp_path, recwarn):
    X, _ = wine
    with open(tmp_path / "model.pkl", "wb") as file:
        pickle.dump({"a": 1}, file)
    with pytest.raises(ValueError, match="not a file written by"):
        RobustContrastiveEmbedder.load(tmp_path / "model.pkl")
    assert not [w for w in recwarn if "pickle" in str(w.message).lower()]


def test_load_rejects_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not written by"):
        RobustContrastiveEmbedder.load(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a file written by"):
        RobustContrastiveEmbedder.load(tmp_path / "text.pt")
    with pytest.raises(ValueError, match="(?i)no such file"):
        RobustContrastiveEmbedder.load(tmp_path / "absent.pt")


@pytest.mark.parametrize("version", [0, -5, 3, "2", True, None])
def test_unknown_format_versions_are_refused(saved, tmp_path, version):
    path, _ = saved
    tampered = _tamper(path, tmp_path / "v.pt", format_version=version)
    with pytest.raises(ValueError, match="format version"):
        RobustContrastiveEmbedder.load(tampered)


@pytest.mark.parametrize(
    "change",
    [
        {"extra": torch.zeros(3)},
        {"params": "not json"},
        {"params": json.dumps([1, 2])},
        {"history": json.dumps({"a": 1})},
        {"state_dict": {"x": 1}},
    ],
    ids=["unknown key", "bad json", "params not a dict", "bad history", "bad state"],
)
def test_malformed_entries_are_value_errors(saved, tmp_path, change):
    path, _ = saved
    tampered = tmp_path / "bad.pt"
    torch.save({**_read(path), **change}, tampered)
    with pytest.raises((ValueError, TypeError), match=str(tampered)):
        RobustContrastiveEmbedder.load(tampered)


def test_weights_of_the_wrong_shape_or_name(saved, tmp_path):
    path, _ = saved
    payload = _read(path)
    name = next(iter(payload["state_dict"]))
    for change in ({name: torch.zeros(1)}, {"rogue.weight": torch.zeros(1)}):
        state = {**payload["state_dict"], **change}
        tampered = _tamper(path, tmp_path / "w.pt", state_dict=state)
        with pytest.raises(ValueError, match="weights"):
            RobustContrastiveEmbedder.load(tampered)


def _peak_memory_of_load(path: Path) -> tuple[int, str]:
    """Return (growth of peak RSS in MB during load, the error) in a subprocess."""
    script = textwrap.dedent(
        f"""
        import resource, torch
        from rince_sklearn import RobustContrastiveEmbedder
        torch.zeros(1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            RobustContrastiveEmbedder.load({str(path)!r})
            error = "loaded"
        except (ValueError, TypeError) as exc:
            kind = "ValueError" if isinstance(exc, ValueError) else "TypeError"
            error = kind + ": " + str(exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
        print(error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    growth, error = result.stdout.strip().split("\n", 1)
    return int(growth), error


def test_zip_bomb_is_refused_before_memory_grows(saved, tmp_path):
    """A small file that decompresses to a 256 MiB tensor under an unknown key."""
    path, _ = saved
    payload = _read(path)
    buffer = io.BytesIO()
    torch.save({**payload, "junk": torch.zeros(2**26)}, buffer)
    bomb = tmp_path / "bomb.pt"
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            out.writestr(info.filename, source.read(info.filename))
    del buffer
    assert bomb.stat().st_size < 2_000_000
    growth, error = _peak_memory_of_load(bomb)
    assert error.startswith("ValueError") and "compressed" in error, error
    assert growth < 100, f"load grew the peak memory by {growth} MB"


@pytest.mark.parametrize(
    "encoder_kwargs",
    [{"hidden_dims": [2**22]}, {"hidden_dims": [8] * 100_000}],
    ids=["wide", "deep"],
)
def test_architecture_bomb_is_refused_before_allocation(
    saved, tmp_path, encoder_kwargs
):
    """encoder_kwargs that ask for a huge encoder beside small weights."""
    path, _ = saved
    encoded = {"__dict__": [[k, v] for k, v in encoder_kwargs.items()]}
    tampered = _tamper(
        path,
        tmp_path / "arch.pt",
        params={"encoder_kwargs": encoded},
        fitted={"encoder_kwargs_": encoded},
    )
    growth, error = _peak_memory_of_load(tampered)
    assert error.startswith("ValueError") and "weights" in error, error
    assert growth < 100, f"load grew the peak memory by {growth} MB"


def test_strided_tensor_bomb_is_refused(saved, tmp_path):
    """A tensor whose logical size is far beyond its storage (stride 0)."""
    path, _ = saved
    payload = _read(path)
    name, value = next((k, v) for k, v in payload["state_dict"].items() if v.ndim == 2)
    fake = torch.zeros(1).as_strided(value.shape, (0, 0))
    state = {**payload["state_dict"], name: fake}
    tampered = _tamper(path, tmp_path / "strided.pt", state_dict=state)
    with pytest.raises(ValueError, match="weights"):
        RobustContrastiveEmbedder.load(tampered)


def test_deeply_nested_json_is_a_value_error(saved, tmp_path):
    path, _ = saved
    payload = _read(path)
    params = json.loads(payload["params"])
    deep = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit
    text = json.dumps(params).replace('"tol": 0.0001', f'"tol": {deep}')
    assert deep in text
    torch.save({**payload, "params": text}, tmp_path / "deep.pt")
    with pytest.raises(ValueError, match="deep.pt"):
        RobustContrastiveEmbedder.load(tmp_path / "deep.pt")


def test_a_missing_fitted_attribute_of_the_modality_is_a_value_error(tmp_path):
    from sklearn.datasets import load_digits

    images = load_digits().images[:40].astype(np.float32)
    emb = RobustContrastiveEmbedder(**{**FAST, "max_epochs": 1}).fit(images)
    emb.save(tmp_path / "img.pt")
    payload = _read(tmp_path / "img.pt")
    fitted = json.loads(payload["fitted"])
    del fitted["image_shape_"]
    torch.save({**payload, "fitted": json.dumps(fitted)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="image_shape_"):
        RobustContrastiveEmbedder.load(tmp_path / "bad.pt")


def test_files_from_before_auto_width_and_own_view_weight_load(wine, tmp_path):
    # such files have no fitted embedding_dim_ and no own_view_weight parameter
    # (trained with equal weights over the positives): both are restored so
    X, y = wine
    emb = RobustContrastiveEmbedder(
        **{**FAST, "embedding_dim": 16}, supervision="labels"
    ).fit(X, y)
    path = emb.save(tmp_path / "new.pt") or tmp_path / "new.pt"
    payload = _read(path)
    params, fitted = json.loads(payload["params"]), json.loads(payload["fitted"])
    del params["own_view_weight"], fitted["embedding_dim_"]
    payload["params"], payload["fitted"] = json.dumps(params), json.dumps(fitted)
    torch.save(payload, tmp_path / "old.pt")
    old = RobustContrastiveEmbedder.load(tmp_path / "old.pt")
    assert old.embedding_dim_ == 16 and old.own_view_weight is None
    np.testing.assert_array_equal(old.transform(X), emb.transform(X))


@pytest.mark.parametrize(
    "fitted",
    [
        {"embedding_dim_": 10**12},  # a head as wide as that: never allocated
        {"embedding_dim_": -3},
        {"embedding_dim_": "wide"},
        {"encoder_kwargs_": {"embedding_dim": None, "hidden_dims": [10**9, 10**9]}},
    ],
)
def test_hostile_widths_are_refused_before_anything_is_built(saved, tmp_path, fitted):
    path, _ = saved
    tampered = _tamper(path, tmp_path / "w.pt", fitted=fitted)
    with pytest.raises(ValueError):
        RobustContrastiveEmbedder.load(tampered)


def test_hostile_pooled_stages_in_an_image_model_are_refused(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, size=(16, 12, 12), dtype=np.uint8)
    path = tmp_path / "img.pt"
    RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X).save(path)
    kwargs = {"base_width": 32, "pooled_stages": 10**9, "embedding_dim": None}
    tampered = _tamper(path, tmp_path / "p.pt", fitted={"encoder_kwargs_": kwargs})
    with pytest.raises(ValueError, match="pooled_stages|cannot build"):
        RobustContrastiveEmbedder.load(tampered)


# -- second round of attacks: tensors without bytes, shared storage, sizes -------


def _wide_mlp_state(width: int, depth: int, make) -> dict:
    """The state dict of a tabular model with ``depth`` hidden layers ``width`` wide.

    ``make(shape, dtype)`` makes each tensor (a meta tensor, a view of one
    shared storage...); the layout is that of the default tabular encoder
    (input batch norm, then Linear-BatchNorm-activation blocks, an output
    Linear) and head, for wine's 13 columns and FAST's widths.
    """
    state = {}

    def batch_norm(prefix, n):
        state[f"{prefix}.weight"] = make((n,), torch.float32)
        state[f"{prefix}.bias"] = make((n,), torch.float32)
        state[f"{prefix}.running_mean"] = make((n,), torch.float32)
        state[f"{prefix}.running_var"] = make((n,), torch.float32)
        state[f"{prefix}.num_batches_tracked"] = make((), torch.int64)

    batch_norm("encoder.net.0", 13)
    for name in ("weight", "bias"):  # the input norm is not affine
        del state[f"encoder.net.0.{name}"]
    n_in = 13
    for i in range(depth):
        state[f"encoder.net.{1 + 3 * i}.weight"] = make((width, n_in), torch.float32)
        state[f"encoder.net.{1 + 3 * i}.bias"] = make((width,), torch.float32)
        batch_norm(f"encoder.net.{2 + 3 * i}", width)
        n_in = width
    state[f"encoder.net.{1 + 3 * depth}.weight"] = make((8, n_in), torch.float32)
    state[f"encoder.net.{1 + 3 * depth}.bias"] = make((8,), torch.float32)
    state["head.net.0.weight"] = make((8, 8), torch.float32)
    state["head.net.0.bias"] = make((8,), torch.float32)
    batch_norm("head.net.1", 8)
    state["head.net.3.weight"] = make((8, 8), torch.float32)
    state["head.net.3.bias"] = make((8,), torch.float32)
    return state


def _wide_mlp_file(saved, dst, width, depth, make):
    path, _ = saved
    hidden = {"__dict__": [["hidden_dims", [width] * depth]]}
    state = _wide_mlp_state(width, depth, make)
    return _tamper(
        path,
        dst,
        params={"encoder_kwargs": hidden},
        fitted={"encoder_kwargs_": hidden},
        state_dict=state,
    )


def test_the_wide_model_state_matches_the_real_layout(saved, tmp_path):
    """The attacks below are real-looking: with real tensors the file loads."""
    tampered = _wide_mlp_file(
        saved, tmp_path / "real.pt", 16, 3, lambda s, d: torch.zeros(s, dtype=d)
    )
    RobustContrastiveEmbedder.load(tampered)


def test_meta_tensors_are_refused_before_the_model_is_built(saved, tmp_path):
    """Weights as meta tensors: shapes of a 150 MB model in a file of kilobytes."""
    tampered = _wide_mlp_file(
        saved, tmp_path / "meta.pt", 512, 150,
        lambda s, d: torch.empty(s, dtype=d, device="meta"),
    )  # fmt: skip
    assert tampered.stat().st_size < 1_000_000
    growth, error = _peak_memory_of_load(tampered)
    assert error.startswith("ValueError") and "meta" in error, error
    assert "meta.pt" in error
    assert growth < 100, f"load grew the peak memory by {growth} MB"


def test_tensors_that_view_one_storage_are_refused(saved, tmp_path):
    """150 weights viewing one 1 MB storage: a 1 MB file, a 150 MB model."""
    shared = torch.zeros(512 * 512)

    def view(shape, dtype):
        if dtype != torch.float32:
            return torch.zeros(shape, dtype=dtype)
        return shared[: int(np.prod(shape))].view(shape)

    tampered = _wide_mlp_file(saved, tmp_path / "shared.pt", 512, 150, view)
    assert tampered.stat().st_size < 3_000_000
    growth, error = _peak_memory_of_load(tampered)
    assert error.startswith("ValueError") and "share storage" in error, error
    assert growth < 100, f"load grew the peak memory by {growth} MB"


def test_saved_tensors_never_share_storage(wine, tmp_path):
    """save writes each tensor in a storage of its own, even a view's."""
    X, _ = wine
    emb = RobustContrastiveEmbedder(**FAST).fit(X)
    emb.save(tmp_path / "m.pt")
    state = _read(tmp_path / "m.pt")["state_dict"]
    pointers = [t.untyped_storage().data_ptr() for t in state.values() if t.numel()]
    assert len(set(pointers)) == len(pointers)
    for tensor in state.values():
        needed = tensor.numel() * tensor.element_size()
        assert tensor.untyped_storage().nbytes() == needed


@pytest.mark.parametrize("dtype", [torch.complex64, torch.uint16])
def test_tensors_of_other_dtypes_are_refused(saved, tmp_path, dtype):
    path, _ = saved
    payload = _read(path)
    name = next(iter(payload["state_dict"]))
    value = payload["state_dict"][name]
    state = {**payload["state_dict"], name: torch.zeros(value.shape, dtype=dtype)}
    tampered = _tamper(path, tmp_path / "dtype.pt", state_dict=state)
    with pytest.raises(ValueError, match="dtype"):
        RobustContrastiveEmbedder.load(tampered)


def test_load_of_a_device_file_is_refused_without_reading_it():
    with pytest.raises(ValueError, match="not a regular file"):
        RobustContrastiveEmbedder.load("/dev/zero")


def test_load_of_a_folder_names_it(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        RobustContrastiveEmbedder.load(tmp_path)


def test_load_reads_a_bounded_number_of_bytes(saved, monkeypatch):
    from rince_sklearn._persistence import reading

    path, _ = saved
    monkeypatch.setattr(reading, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(ValueError, match="larger than"):
        RobustContrastiveEmbedder.load(path)
    with open(path, "rb") as handle, pytest.raises(ValueError, match="larger than"):
        RobustContrastiveEmbedder.load(handle)


@pytest.mark.parametrize("device", ["meta", "mps", "xla", "cuda:7", "banana"])
def test_a_device_named_in_the_file_is_a_value_error_naming_it(saved, tmp_path, device):
    path, _ = saved
    tampered = _tamper(path, tmp_path / "dev.pt", params={"device": device})
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a real CUDA device may exist here")
    try:
        RobustContrastiveEmbedder.load(tampered)
    except ValueError as exc:
        assert "dev.pt" in str(exc), exc
    else:
        assert device.startswith("cuda")  # falls back to the CPU, with a warning


@pytest.mark.parametrize("n_threads", [512, -512, 2**63, 2**20])
def test_n_threads_from_a_file_is_capped_or_refused(saved, tmp_path, n_threads, wine):
    from rince_sklearn.threads import available_cores

    path, expected = saved
    tampered = _tamper(path, tmp_path / "threads.pt", params={"n_threads": n_threads})
    if abs(n_threads) > 1024:
        with pytest.raises(ValueError, match="n_threads"):
            RobustContrastiveEmbedder.load(tampered)
        return
    if n_threads > 0:
        with pytest.warns(UserWarning, match="n_threads"):
            loaded = RobustContrastiveEmbedder.load(tampered)
        assert loaded.n_threads == available_cores()
    else:
        loaded = RobustContrastiveEmbedder.load(tampered)  # -512: at least 1 thread
    np.testing.assert_allclose(loaded.transform(wine[0]), expected, atol=1e-6)


def test_n_threads_beyond_the_bound_is_refused_by_fit(wine):
    with pytest.raises(ValueError, match="n_threads"):
        RobustContrastiveEmbedder(n_threads=2**63).fit(wine[0])


def test_load_errors_name_the_file(saved, tmp_path):
    """Unusable but well-formed values: every load error names the file."""
    path, _ = saved
    bad = [
        {"params": {"lr": "fast"}},
        {"params": {"temperature": -1.0}},
        {"fitted": {"n_features_in_": "many"}},
        {"fitted": {"modality_": "audio"}},
    ]
    for i, change in enumerate(bad):
        tampered = _tamper(path, tmp_path / f"bad{i}.pt", **change)
        with pytest.raises((ValueError, TypeError)) as info:
            RobustContrastiveEmbedder.load(tampered)
        assert f"bad{i}.pt" in str(info.value), (change, info.value)


# -- save: modes, killed saves, Ctrl-C, long names --------------------------------


def test_save_keeps_the_mode_of_the_file_it_replaces(saved, wine, tmp_path):
    _, _ = saved
    emb = RobustContrastiveEmbedder(**FAST).fit(wine[0])
    target = tmp_path / "private.pt"
    emb.save(target)
    os.chmod(target, 0o600)
    emb.save(target)
    assert (target.stat().st_mode & 0o777) == 0o600


def test_the_next_save_removes_what_a_killed_save_left(wine, tmp_path):
    target = tmp_path / "model.pt"
    script = textwrap.dedent(
        f"""
        import os, torch
        from sklearn.datasets import load_wine
        from rince_sklearn import RobustContrastiveEmbedder
        emb = RobustContrastiveEmbedder(max_epochs=1, embedding_dim=8,
            projection_dim=8, random_state=0).fit(load_wine(return_X_y=True)[0])
        def die(*args, **kwargs):
            os._exit(9)  # killed in the middle of writing
        torch.save = die
        emb.save({str(target)!r})
        """
    )
    for _ in range(3):
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT)
        assert result.returncode == 9
    # each killed save removed its killed predecessor's file: one is left
    debris = [p for p in tmp_path.iterdir() if p.name != "model.pt"]
    assert len(debris) == 1, debris
    # a concurrent save's temporary file (its process runs) must be left alone
    live = tmp_path / f".{debris[0].name.split('.')[1]}.{os.getpid()}.x.rince-tmp"
    live.write_bytes(b"in progress")
    RobustContrastiveEmbedder(**FAST).fit(wine[0]).save(target)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["model.pt", live.name]), left
    RobustContrastiveEmbedder.load(target)


def test_ctrl_c_inside_torch_save_stays_a_keyboard_interrupt(
    saved, wine, tmp_path, monkeypatch
):
    """torch.save's writer turns a Ctrl-C into a RuntimeError on its way out."""
    emb = RobustContrastiveEmbedder(**FAST).fit(wine[0])

    def interrupted_save(obj, handle):
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("PytorchStreamWriter failed writing file data/0")

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        emb.save(tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_to_a_name_at_the_file_system_limit(wine, tmp_path):
    emb = RobustContrastiveEmbedder(**FAST).fit(wine[0])
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / ("m" * (limit - 3) + ".pt")
    emb.save(target)
    RobustContrastiveEmbedder.load(target)


# -- stored files of every format version -----------------------------------------

DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("version", [1, 2])
def test_a_stored_file_of_each_format_version_loads(wine, version):
    """Files written by earlier versions (tests/data/make_format_fixtures.py)."""
    loaded = RobustContrastiveEmbedder.load(DATA / f"format_v{version}.pt")
    expected = np.load(DATA / "format_embedding.npy")
    np.testing.assert_allclose(loaded.transform(wine[0][:20]), expected, atol=1e-5)
    assert loaded.optimizer is torch.optim.AdamW
    assert isinstance(loaded.augmentation, GaussianNoise)
    assert (loaded.lr_, loaded.temperature_, loaded.max_epochs_) == (0.01, 0.5, 3)
    assert loaded.encoder_kwargs_ == {"hidden_dims": [16, 16]}
    assert loaded.embedding_dim_ == 8
    # version 1 was written before own_view_weight: trained with equal weights
    assert loaded.own_view_weight == (None if version == 1 else 0.5)


def test_every_old_format_version_has_an_upgrade_and_a_stored_file():
    from rince_sklearn._persistence import FORMAT_VERSION, READABLE_VERSIONS
    from rince_sklearn._persistence.mapping import UPGRADES

    assert sorted(UPGRADES) == [v for v in READABLE_VERSIONS if v < FORMAT_VERSION]
    for version in READABLE_VERSIONS:
        assert (DATA / f"format_v{version}.pt").is_file()


def test_the_version_1_upgrade_retags_classes_and_fills_the_settings():
    from rince_sklearn._persistence import Payload
    from rince_sklearn._persistence.mapping import upgrade

    old = Payload(
        params={"optimizer": {"__import__": "torch.optim.adamw:AdamW"},
                "device": {"__device__": "cpu"}, "lr": 0.1, "temperature": 0.2,
                "max_epochs": 4, "encoder_kwargs": None},
        fitted={}, history=[], state_dict={}, format_version=1,
    )  # fmt: skip
    new = upgrade(old)
    assert new.format_version == 2 and old.format_version == 1
    assert new.params["optimizer"] == {"__class__": "torch.optim.adamw:AdamW"}
    assert new.params["device"] == "cpu"
    assert new.fitted == {
        "lr_": 0.1, "temperature_": 0.2, "max_epochs_": 4,
        "encoder_kwargs_": {"__dict__": []},
    }  # fmt: skip


def test_a_version_2_file_with_version_1_tags_is_refused(tmp_path):
    """The upgrade retags version 1 files only: version 2 never wrote these tags."""
    payload = _read(DATA / "format_v2.pt")
    params = json.loads(payload["params"])
    params["optimizer"] = {"__import__": params["optimizer"]["__class__"]}
    torch.save({**payload, "params": json.dumps(params)}, tmp_path / "tags.pt")
    with pytest.raises(ValueError, match="tags.pt"):
        RobustContrastiveEmbedder.load(tmp_path / "tags.pt")


# -- allow-listed augmentations built from a file's sizes --------------------------


def _augmentation_file(src, dst, cls_path, params):
    encoded = {"__augmentation__": cls_path, "params": params}
    return _tamper(src, dst, params={"augmentation": encoded})


@pytest.fixture(scope="module")
def saved_images(tmp_path_factory):
    X = np.random.default_rng(0).integers(0, 256, size=(16, 12, 12), dtype=np.uint8)
    path = tmp_path_factory.mktemp("img") / "img.pt"
    RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(X).save(path)
    return path, X


def test_a_huge_blur_kernel_from_a_file_is_refused_at_load(saved_images, tmp_path):
    path, _ = saved_images
    tampered = _augmentation_file(
        path, tmp_path / "blur.pt", "rince_sklearn.augment.image:GaussianBlur",
        {"kernel_size": 200000001, "sigma": {"__tuple__": [0.1, 1.0]}, "p": 0.5},
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"blur\.pt.*kernel_size"):
        RobustContrastiveEmbedder.load(tampered)


@pytest.mark.parametrize(
    ("cls_path", "params", "match"),
    [
        ("rince_sklearn.augment.tabular:GaussianNoise", {"std": 1e12}, "std"),
        ("rince_sklearn.augment.tabular:GaussianNoise", {"std": True}, "std"),
        ("rince_sklearn.augment.tabular:MarginalCorruption",
         {"corruption_rate": 7.0, "noise_std": 0.0, "max_rows": 10}, "corruption"),
        # an augmentation of another modality, for a tabular model
        ("rince_sklearn.augment.graph:EdgePerturbation",
         {"drop_rate": 0.2, "add_rate": 0.0}, "graph"),
    ],
)  # fmt: skip
def test_hostile_augmentation_parameters_are_refused_at_load(
    saved, tmp_path, cls_path, params, match
):
    path, _ = saved
    tampered = _augmentation_file(path, tmp_path / "aug.pt", cls_path, params)
    with pytest.raises((ValueError, TypeError), match=match) as info:
        RobustContrastiveEmbedder.load(tampered)
    assert "aug.pt" in str(info.value)


def test_a_fit_refuses_an_augmentation_of_another_modality(wine):
    from rince_sklearn.augment import EdgePerturbation

    emb = RobustContrastiveEmbedder(max_epochs=1, augmentation=EdgePerturbation())
    with pytest.raises(ValueError, match="graph"):
        emb.fit(wine[0])


class KeepsRows(GaussianNoise):
    """A user augmentation that keeps the training rows it was fitted on."""

    fitted_state_names = ("rows_",)

    @property
    def requires_fit(self):
        return True

    def fit(self, X):
        self.rows_ = torch.as_tensor(X).float().clone()
        return self


def test_no_training_row_is_in_a_saved_file_and_a_user_state_is_warned_of(
    wine, tmp_path
):
    X = wine[0].copy()
    X[17] = np.arange(13) * 1000.0 + 0.123  # a marker row
    emb = RobustContrastiveEmbedder(**FAST).fit(X)  # the default views (SCARF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default keeps no rows: no warning
        emb.save(tmp_path / "default.pt")
    state = _read(tmp_path / "default.pt")["augmentation_state"]
    pool = next(iter(state.values())).numpy()
    rows = {tuple(r) for r in X.astype(np.float32)}
    assert not any(tuple(r) in rows for r in pool)
    custom = RobustContrastiveEmbedder(**FAST, augmentation=KeepsRows(0.1)).fit(X)
    with pytest.warns(UserWarning, match="KeepsRows.*training data"):
        custom.save(tmp_path / "custom.pt")


# -- found by benchmarks/attack_load.py (results/attack_load.md) -------------------


def test_a_huge_batch_size_from_a_file_does_not_size_transform(saved, wine, tmp_path):
    """#467, #988: batch_size_ = 10**6 padded one row to a million (2 GB)."""
    from rince_sklearn._net import ContrastiveNet

    path, expected = saved
    tampered = _tamper(path, tmp_path / "bs.pt", fitted={"batch_size_": 10**6})
    loaded = RobustContrastiveEmbedder.load(tampered)
    sizes = []
    embed = ContrastiveNet.embed

    def spy(self, source, batch_size, generator=None):
        sizes.append(batch_size)
        return embed(self, source, batch_size, generator)

    ContrastiveNet.embed = spy
    try:
        np.testing.assert_allclose(
            loaded.transform(wine[0][:1]), expected[:1], atol=1e-6
        )
    finally:
        ContrastiveNet.embed = embed
    assert sizes and max(sizes) <= 256


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -1.0], ids=["nan", "inf", "negative"]
)
def test_non_finite_weights_and_negative_variances_are_refused(saved, tmp_path, value):
    """#38, #46...: such weights loaded, then transform raised FloatingPointError."""
    path, _ = saved
    payload = _read(path)
    state = dict(payload["state_dict"])
    name = "encoder.net.0.running_var" if value < 0 else "encoder.net.1.weight"
    state[name] = torch.full_like(state[name], value)
    tampered = _tamper(path, tmp_path / "nan.pt", state_dict=state)
    with pytest.raises(ValueError, match=r"nan\.pt.*(NaN|negative)"):
        RobustContrastiveEmbedder.load(tampered)


@pytest.mark.parametrize(
    "cls_path",
    [
        "rince_sklearn.augment._base:MemberAugmentations",
        "rince_sklearn.augment.image:_ImageAugmentation",
        "rince_sklearn.augment._base:Augmentation",
    ],
)
def test_abstract_augmentation_classes_are_not_allowed(
    saved_images, tmp_path, cls_path
):
    """#883...: abstract bases loaded, then score raised NotImplementedError."""
    path, _ = saved_images
    tampered = _augmentation_file(path, tmp_path / "abs.pt", cls_path, {})
    with pytest.raises(ValueError, match="not one of"):
        RobustContrastiveEmbedder.load(tampered)
