"""IDX reader and the Fashion-MNIST loader, on files the tests write themselves."""

import gzip
import struct

import numpy as np
import pytest

from rince_sklearn.datasets import idx, load_fashion_mnist, read_idx

_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def write_idx(path, array, compress=None):
    """Write ``array`` in the IDX format, written from the format's description."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, _CODES[array.dtype.type], array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    compress = str(path).endswith(".gz") if compress is None else compress
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


@pytest.mark.parametrize("dtype", list(_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (2, 1, 2, 3)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=shape) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a-idx{len(shape)}-ubyte{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_read_idx_header_bytes(tmp_path):
    # the header written by hand: magic 0x00000803, then 2, 2, 2 big-endian
    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") * 3 + bytes(range(8))
    (tmp_path / "x").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "x").ravel(), np.arange(8))


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text")
    path = write_idx(tmp_path / "short", np.arange(10, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)
    (tmp_path / "header").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "header")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


def write_fake_fashion(folder, n_train=6, n_test=4, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    rng = np.random.default_rng(1)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y)
        arrays[prefix] = (x, y)
    return arrays


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """Hide the system-wide copy, the environment variable and the home folder."""
    monkeypatch.setattr(idx, "_SYSTEM_DIRS", (str(tmp_path / "system"),))
    monkeypatch.delenv(idx.DATA_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("compress", [True, False])
def test_load_fashion_mnist_from_data_home(tmp_path, no_system_data, compress):
    arrays = write_fake_fashion(tmp_path / "d" / "fashion-mnist", compress=compress)
    bunch = load_fashion_mnist(data_home=tmp_path / "d")
    np.testing.assert_array_equal(bunch.images, arrays["train"][0])
    np.testing.assert_array_equal(bunch.target, arrays["train"][1])
    assert bunch.target.dtype == np.int64
    assert bunch.data.shape == (6, 784)
    assert np.shares_memory(bunch.data, bunch.images)
    assert bunch.target_names[0] == "T-shirt/top" and len(bunch.target_names) == 10
    X, y = load_fashion_mnist(subset="all", data_home=tmp_path / "d", return_X_y=True)
    assert X.shape == (10, 28, 28) and y.shape == (10,)
    np.testing.assert_array_equal(X[6:], arrays["t10k"][0])


def test_load_fashion_mnist_from_environment(tmp_path, no_system_data, monkeypatch):
    arrays = write_fake_fashion(tmp_path / "env")
    monkeypatch.setenv(idx.DATA_ENV, str(tmp_path / "env"))
    X, y = load_fashion_mnist(subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, arrays["t10k"][0])


def test_load_fashion_mnist_system_folder(tmp_path, no_system_data, monkeypatch):
    write_fake_fashion(tmp_path / "system")
    assert load_fashion_mnist(subset="test").images.shape == (4, 28, 28)


def test_load_fashion_mnist_missing_says_how_to_get_it(tmp_path, no_system_data):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_home=tmp_path / "nothing")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert str(tmp_path / "nothing") in message
    assert idx.DATA_ENV in message


def test_load_fashion_mnist_bad_subset():
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist(subset="validation")


def test_load_fashion_mnist_mismatched_files(tmp_path, no_system_data):
    folder = tmp_path / "bad"
    write_fake_fashion(folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="labels"):
        load_fashion_mnist(data_home=folder)
