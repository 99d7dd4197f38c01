"""IDX files (the MNIST / Fashion-MNIST format) and a Fashion-MNIST loader.

Nothing here downloads: the loader reads files that are on disk already and,
when it finds none, says where it looked and how to get them.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist", "read_idx"]

#: IDX type codes -> numpy dtypes (big-endian, as the format stores them)
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Fashion-MNIST's class names, in label order
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: environment variable naming a folder with the data (or a parent of it)
DATA_ENV = "RINCE_SKLEARN_DATA"

#: where system packages put the files (Debian's ``dataset-fashion-mnist``)
_SYSTEM_DIRS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a numpy array.

    IDX is the format of MNIST, Fashion-MNIST, EMNIST and KMNIST: two zero
    bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C``
    int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions, one
    big-endian 4-byte size per dimension, then the values in C order,
    big-endian. Files ending in ``.gz`` are decompressed.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    ndarray
        Of the file's shape, in the file's type (native byte order); uint8 for
        image and label files.

    Raises
    ------
    ValueError
        When the file is not IDX, or its data is shorter or longer than its
        header says.

    Examples
    --------
    >>> import tempfile, struct, pathlib
    >>> from rince_sklearn.datasets import read_idx
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx2-ubyte"
    >>> _ = path.write_bytes(struct.pack(">BBBBII", 0, 0, 8, 2, 2, 3) + bytes(range(6)))
    >>> read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: it must start with two zero bytes and a "
            f"type code in {sorted(hex(c) for c in _IDX_DTYPES)}, got "
            f"{raw[:4]!r}."
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header needs {header} bytes.")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} holds {len(raw) - header} bytes of data, but its header "
            f"describes an array of shape {shape} and type {dtype} "
            f"({expected} bytes): the file is truncated or corrupt."
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _find_file(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _candidate_dirs(data_home: str | os.PathLike | None) -> list[Path]:
    """Folders searched for the files, in order."""
    roots: list[Path] = []
    if data_home is not None:
        roots.append(Path(data_home).expanduser())
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]).expanduser())
    roots.append(Path("~/rince_sklearn_data").expanduser())
    folders: list[Path] = []
    for root in roots:
        folders += [root, root / "fashion-mnist", root / "fashion_mnist"]
    folders += [Path(d) for d in _SYSTEM_DIRS]
    return folders


def load_fashion_mnist(
    *,
    subset: str = "train",
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST from IDX files on disk (never downloads).

    Fashion-MNIST [1]_ has 60,000 training and 10,000 test images of 28x28
    grey pixels (uint8) in 10 classes of clothing. The four files
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``, gzipped or
    not) are looked for, in this order, in

    1. ``data_home``, then its ``fashion-mnist/`` subfolder;
    2. the folder named by the ``RINCE_SKLEARN_DATA`` environment variable
       (and its ``fashion-mnist/`` subfolder);
    3. ``~/rince_sklearn_data`` (and its ``fashion-mnist/`` subfolder);
    4. ``/usr/share/datasets/fashion-mnist``, where Debian's package
       ``dataset-fashion-mnist`` installs them.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which split; ``"all"`` is the training images followed by the test
        images.
    data_home : str or path-like, default=None
        A folder with the files (searched first).
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``images``: uint8 array ``(n, 28, 28)``; ``data``: the same pixels as
        flat rows ``(n, 784)`` (a view, no copy); ``target``: int64 labels
        ``(n,)``; ``target_names``: the class names; ``filenames``: the files
        read; ``DESCR``: a description.
    (images, target) : tuple of ndarray
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the files are in none of the places above; the message lists
        them and says how to get the files.

    References
    ----------
    .. [1] Xiao, H., Rasul, K. and Vollgraf, R. "Fashion-MNIST: a Novel Image
       Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747,
       2017.

    Examples
    --------
    >>> from rince_sklearn.datasets import load_fashion_mnist
    >>> try:
    ...     images, target = load_fashion_mnist(subset="test", return_X_y=True)
    ... except FileNotFoundError:  # the files are not installed here
    ...     images, target = np.zeros((10000, 28, 28), np.uint8), np.zeros(10000)
    >>> images.shape, images.dtype
    ((10000, 28, 28), dtype('uint8'))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    splits = ["train", "test"] if subset == "all" else [subset]
    folders = _candidate_dirs(data_home)
    for folder in folders:
        found = [_find_file(folder, stem) for s in splits for stem in _FILES[s]]
        paths = [p for p in found if p is not None]
        if len(paths) == len(found):
            break
    else:
        looked = "\n".join(f"  - {f}" for f in dict.fromkeys(folders))
        raise FileNotFoundError(
            f"Fashion-MNIST files for subset={subset!r} were not found. Looked "
            f"in:\n{looked}\nTo get them (this package never downloads):\n"
            "  - on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
            "  - or download train-images-idx3-ubyte.gz, train-labels-idx1-"
            "ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
            "from https://github.com/zalandoresearch/fashion-mnist into a "
            f"folder, and pass it as data_home= or set ${DATA_ENV}."
        )
    images, targets = [], []
    for i in range(len(splits)):
        image_path, label_path = paths[2 * i], paths[2 * i + 1]
        x, y = read_idx(image_path), read_idx(label_path)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{image_path} and {label_path} do not hold (n, H, W) images and "
                f"n labels: shapes {x.shape} and {y.shape}."
            )
        images.append(x)
        targets.append(y.astype(np.int64))
    X = images[0] if len(images) == 1 else np.concatenate(images)
    y = targets[0] if len(targets) == 1 else np.concatenate(targets)
    if return_X_y:
        return X, y
    return Bunch(
        images=X,
        data=X.reshape(len(X), -1),
        target=y,
        target_names=list(FASHION_MNIST_CLASSES),
        filenames=[str(p) for p in paths],
        DESCR=(
            f"Fashion-MNIST ({subset}): {len(X)} grey images of "
            f"{X.shape[1]}x{X.shape[2]} pixels (uint8) in 10 classes of "
            "clothing (Xiao et al., 2017)."
        ),
    )
