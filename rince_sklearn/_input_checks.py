"""Checks shared by every kind of input: what numpy's conversions would lose.

numpy's and scikit-learn's conversions drop a masked array's mask, a complex
number's imaginary part, and the low bits of large integers cast to float32,
without a word. These checks refuse (or warn about) such inputs with a
message that names the fix, for every modality. They import nothing from the
package, so that :mod:`rince_sklearn.graphs` and the modalities share them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import DataConversionWarning

__all__: list[str] = []  # private: the modalities' and graphs' checks


def to_numpy(value: Any) -> np.ndarray:
    """Return ``value`` as a numpy array; a tensor is detached and moved to CPU.

    A tensor that requires grad, lives on a GPU or holds bfloat16 (which numpy
    lacks; it becomes float32) converts too.

    Examples
    --------
    >>> import torch
    >>> from rince_sklearn._input_checks import to_numpy
    >>> to_numpy(torch.ones(2, requires_grad=True)).tolist()
    [1.0, 1.0]
    """
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.numpy()
    return np.asarray(value)


#: what each built-in modality reads, for messages about inputs that fit none
EXPECTED_INPUTS = (
    "tabular: a 2-D array, DataFrame or scipy sparse matrix of numbers, "
    "(n_samples, n_features); image: an array of images of one size, (n, H, W) "
    "or (n, C, H, W), or flat rows with image_shape=(C, H, W); graph: a list of "
    "graphs, each a pair (edge_index of shape (2, E), node_features of shape "
    "(n_nodes, F)), a networkx graph, or an object with .x and .edge_index"
)


def _describe_member(item: Any, depth: int = 0) -> str:
    """One member of an input, as a message names it: type, shape, dtype."""
    shape = getattr(item, "shape", None)
    if shape is not None and hasattr(item, "dtype"):
        return f"{type(item).__name__} of shape {tuple(shape)} ({item.dtype})"
    if isinstance(item, (tuple, list)):
        if depth > 0:
            return f"{type(item).__name__} of {len(item)}"
        inner = ", ".join(_describe_member(m, depth + 1) for m in item[:3])
        more = ", ..." if len(item) > 3 else ""
        return f"{type(item).__name__} of {len(item)} ({inner}{more})"
    return type(item).__name__


def describe_members(items: Sequence[Any]) -> str:
    """List the first members of a tuple (a malformed graph), in order.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn._input_checks import describe_members
    >>> describe_members((np.zeros((2, 1), int), np.ones((2, 3)), 7))
    'ndarray of shape (2, 1) (int64), ndarray of shape (2, 3) (float64), int'
    """
    shown = ", ".join(_describe_member(m, 1) for m in list(items)[:4])
    return shown + (", ..." if len(items) > 4 else "")


def describe_input(X: Any) -> str:
    """Say what ``X`` looks like: its type and the form of its first members.

    Parameters
    ----------
    X : object
        An input that no modality reads as it is.

    Returns
    -------
    description : str

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn._input_checks import describe_input
    >>> describe_input([np.zeros((8, 8)), np.zeros((9, 9))])
    'a list of 2: ndarray of shape (8, 8) (float64), ndarray of shape (9, 9) (float64)'
    """
    if not isinstance(X, (list, tuple)):
        return "a " + _describe_member(X)
    seen: list[str] = []
    for item in X:
        description = _describe_member(item)
        if description not in seen:
            seen.append(description)
        if len(seen) == 3:
            break
    more = ", ..." if len(seen) == 3 and len(X) > 3 else ""
    return f"a {type(X).__name__} of {len(X)}: {', '.join(seen)}{more}"


def refuse_masked(X: Any, where: str = "X") -> Any:
    """Refuse a numpy masked array that masks values (its mask would be lost).

    numpy's conversions (``np.asarray``, scikit-learn's validation) drop the
    mask and keep the values under it, which would then be embedded as data.
    A masked array that masks nothing is returned as its plain data.

    Parameters
    ----------
    X : object
        An input, or a part of one (node features).
    where : str, default="X"
        How the message names it.

    Returns
    -------
    X : object
        ``X`` itself, or the data of a masked array without masked values.

    Raises
    ------
    ValueError
        ``X`` is a masked array with at least one masked value.
    """
    if not isinstance(X, np.ma.MaskedArray):
        return X
    n_masked = int(np.ma.count_masked(X))
    if n_masked:
        raise ValueError(
            f"{where}: a numpy masked array with {n_masked} masked value(s) of "
            f"{X.size}, whose mask would be ignored and the values under it read "
            "as data. Fill them with a value (X.filled(0.0)), or treat them as "
            "missing and impute them (SimpleImputer().fit_transform("
            "X.filled(np.nan)), or a SimpleImputer step in the pipeline) first."
        )
    return np.ma.getdata(X)


def refuse_complex(
    dtype: Any,
    where: str = "X",
    split: str = "features, np.concatenate([X.real, X.imag], axis=1)",
) -> None:
    """Refuse complex numbers, which a cast to float would silently halve.

    Parameters
    ----------
    dtype : numpy or torch dtype
        The dtype of the input (or of a part of it).
    where : str, default="X"
        How the message names it.
    split : str, default="features, np.concatenate([X.real, X.imag], axis=1)"
        How the message says to keep the real and imaginary parts apart.

    Raises
    ------
    ValueError
        ``dtype`` is complex.

    Examples
    --------
    >>> import numpy as np
    >>> from rince_sklearn._input_checks import refuse_complex
    >>> refuse_complex(np.dtype("float32"))  # real: nothing to say
    """
    if isinstance(dtype, torch.dtype):
        complex_ = dtype.is_complex
    else:
        complex_ = getattr(dtype, "kind", "") == "c"
    if complex_:
        raise ValueError(
            f"Complex data not supported: {where} has dtype {dtype}, but the "
            "encoders read real numbers (a cast to float would drop the "
            "imaginary parts). Pass the real and imaginary parts as separate "
            f"{split}, or the magnitude np.abs(X)."
        )


#: integers beyond this magnitude are not all exact in float32 (24-bit mantissa)
FLOAT32_EXACT_INTEGERS = 2**24


def warn_inexact_integers(
    columns: Sequence[tuple[Any, np.ndarray]], where: str = "X", stacklevel: int = 5
) -> None:
    """Warn when integer columns lose distinct values in the float32 cast.

    Encoders read float32, whose 24-bit mantissa holds every integer up to
    ``2**24 = 16777216`` but not all beyond: 20 consecutive IDs near ``2**40``
    all become the same number, and so the same embedding. Only integer arrays
    with values beyond ``2**24`` are inspected; the warning names the columns
    where distinct values merge.

    Parameters
    ----------
    columns : sequence of (name, 1-D array)
        Each column's name (or index) and values; non-integer arrays are
        skipped.
    where : str, default="X"
        How the message names the input.
    stacklevel : int, default=5
        Passed to :func:`warnings.warn`.
    """
    merged: list[Any] = []
    details: list[str] = []
    for name, values in columns:
        values = np.asarray(values)
        if values.dtype.kind not in "iu" or values.dtype.itemsize < 4:
            continue
        big = (values > FLOAT32_EXACT_INTEGERS) | (values < -FLOAT32_EXACT_INTEGERS)
        if not big.any():
            continue
        distinct = np.unique(values)
        after = np.unique(distinct.astype(np.float32))
        if after.size < distinct.size:
            merged.append(name)
            if len(details) < 3:
                details.append(
                    f"{name!r}: {distinct.size} distinct values become {after.size}"
                )
    if merged:
        warnings.warn(
            f"Column(s) {merged} of {where} hold integers beyond 2**24 = "
            f"{FLOAT32_EXACT_INTEGERS}, which the encoder's float32 cannot tell "
            f"apart ({'; '.join(details)}), so different rows get the same "
            "embedding. Rescale such columns first (StandardScaler, or subtract "
            "an offset such as the column's minimum), or drop them if they are "
            "identifiers.",
            DataConversionWarning,
            stacklevel=stacklevel,
        )
