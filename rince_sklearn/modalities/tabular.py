"""Tabular input: 2-D arrays, DataFrames and scipy sparse matrices of numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.validation import check_array, validate_data

from .._input_checks import (
    EXPECTED_INPUTS,
    FLOAT32_EXACT_INTEGERS,
    describe_input,
    refuse_complex,
    refuse_masked,
    to_numpy,
    warn_inexact_integers,
)
from ..augment.tabular import MarginalCorruption
from ..batching import BatchSource, SparseRowSource, TensorSource
from ..encoders.tabular import MLPEncoder
from ._base import Modality, ModalityHost, refuse_graphs

__all__ = ["TabularModality"]

_ENCODE_HINT = (
    "Encode such columns as numbers before the embedder, for example with "
    "make_pipeline(make_column_transformer((OneHotEncoder(), {columns}), "
    "remainder='passthrough'), RobustContrastiveEmbedder()) (or OrdinalEncoder "
    "for ordered categories), or drop them."
)

#: a text column counts as numbers with a few bad entries when more than this
#: share of its values (of the first ``_PARSE_SAMPLE``) parse as numbers
_NUMERIC_SHARE = 0.5
_PARSE_SAMPLE = 10_000


def _is_number_dtype(dtype: Any) -> bool:
    return getattr(dtype, "kind", "O") in "biuf"


def _holds_text(values: Any) -> bool:
    """Whether ``values`` hold strings that are not numbers.

    Other objects that are not numbers (a dict, say) are left to
    ``validate_data``, whose ``TypeError`` names them.
    """
    try:
        np.asarray(values, dtype=np.float64)
    except ValueError as exc:
        return "string" in str(exc)  # not, say, lists of different lengths
    except TypeError:
        return False
    return False


def _parse_counts(values: Any) -> tuple[int, int, list[Any]]:
    """Count the values (of the first ``_PARSE_SAMPLE``) that parse as numbers.

    Returns ``(n_numbers, n_values, examples)``, missing values (None, NaN)
    not counted either way and ``examples`` the first distinct values that
    do not parse.
    """
    numbers = total = 0
    examples: list[Any] = []
    for value in np.asarray(values, dtype=object)[:_PARSE_SAMPLE]:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        total += 1
        try:
            float(value)
        except (TypeError, ValueError):
            if len(examples) < 3 and value not in examples:
                examples.append(value)
        else:
            numbers += 1
    return numbers, total, examples


def _text_message(
    text: list[Any], columns: list[tuple[Any, Any, Any]], frame: bool
) -> str:
    """Return the message for text columns ``text``.

    Columns of numbers with a few entries that are not (``"n/a"``) get
    ``pd.to_numeric`` and an imputer; the others the encode hint.
    """
    by_name = {name: values for name, values, _ in columns}
    values = by_name[text[0]]
    first = next((v for v in np.asarray(values, dtype=object) if _holds_text([v])), "")
    numeric, categorical, details = [], [], []
    for name in text:
        numbers, total, examples = _parse_counts(by_name[name])
        if total and numbers / total > _NUMERIC_SHARE:
            numeric.append(name)
            details.append(
                f"{numbers} of {total} values of column {name!r} are numbers, the "
                f"others are like {examples}"
            )
        else:
            categorical.append(name)
    message = (
        f"could not convert string to float: {first!r}: column(s) {text} of X hold "
        "text, not numbers."
    )
    if numeric:
        column = numeric[0]
        access = f"X[{column!r}]" if frame else f"X[:, {column!r}]"
        message += (
            f" Column(s) {numeric} look numeric ({'; '.join(details)}). If those "
            "entries mark missing values, convert the column(s) with "
            f"pd.to_numeric({access}, errors='coerce'), which turns them into "
            "NaN, then fill the NaN with an imputer, e.g. make_pipeline("
            "SimpleImputer(), RobustContrastiveEmbedder())."
        )
    if categorical:
        message += (
            f" Column(s) {categorical} hold text or categories. "
            + _ENCODE_HINT.format(columns=categorical)
        )
    return message


def _check_columns(X: Any) -> None:
    """Refuse date, text and complex columns, naming them and the fix.

    numpy alone says "could not convert string to float" or raises a
    ``DTypePromotionError``, naming no column; a lone date column would even be
    read as nanoseconds since 1970.
    """
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # a DataFrame
        columns = [(name, X[name], dtype) for name, dtype in X.dtypes.items()]
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "OUSmM":
        columns = [(j, X[:, j], X.dtype) for j in range(X.shape[1])]
    else:
        return
    dates = [name for name, _, dtype in columns if getattr(dtype, "kind", "") in "mM"]
    if dates:
        raise TypeError(
            f"Column(s) {dates} of X hold dates or durations, which are not "
            "features an encoder can read as they are. Convert them to numbers "
            "first (for example df[col].dt.year, df[col].dt.dayofweek, or "
            "(df[col] - df[col].min()).dt.days), or drop them."
        )
    for name, _, dtype in columns:
        refuse_complex(dtype, f"column {name!r} of X")
    text = [
        name
        for name, values, dtype in columns
        if not _is_number_dtype(dtype) and _holds_text(values)
    ]
    if text:
        raise ValueError(_text_message(text, columns, hasattr(X, "columns")))


def _ragged_message(X: Any) -> str:
    """Say what a ragged input looks like and what each modality reads."""
    members = list(X) if isinstance(X, (list, tuple)) else []
    shapes = []
    for item in members[:_PARSE_SAMPLE]:
        try:
            shapes.append(np.shape(item))
        except (ValueError, TypeError):
            shapes.append(None)
    if members and all(s is not None and len(s) >= 2 for s in shapes):
        distinct = list(dict.fromkeys(shapes))
        shown = ", ".join(map(str, distinct[:3])) + (
            ", ..." if len(distinct) > 3 else ""
        )
        why = (
            f"it looks like images of different shapes ({shown}): resize or pad "
            "them to one size and stack them (np.stack) into an array (n, H, W) "
            "or (n, C, H, W)"
        )
    elif members and all(s is not None and len(s) <= 1 for s in shapes):
        lengths = [s[0] if s else 1 for s in shapes[:6]]
        why = (
            "read as a table, the rows of X have different lengths "
            f"({', '.join(map(str, lengths))}{', ...' if len(shapes) > 6 else ''}); "
            "every row needs the same number of values"
        )
    else:
        why = "its members have different forms, so it is no array"
    return (
        f"X is {describe_input(X)}, which no modality reads: {why}. Expected "
        f"one of: {EXPECTED_INPUTS}."
    )


def _as_table(X: Any) -> Any:
    """Turn tensors and lists into arrays; refuse masks and complex numbers."""
    if isinstance(X, torch.Tensor):  # requires_grad, GPU and bf16 included
        X = to_numpy(X)
    elif isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except ValueError as exc:
            if "inhomogeneous" not in str(exc):
                raise
            raise ValueError(_ragged_message(X)) from exc
    X = refuse_masked(X)
    if not hasattr(X, "columns"):
        refuse_complex(getattr(X, "dtype", None))
    return X


def _is_sparse_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is pandas' ``SparseDtype`` (pandas stays optional)."""
    return type(dtype).__name__ == "SparseDtype" and hasattr(dtype, "fill_value")


def _is_sparse(X: Any) -> bool:
    """Whether X is a scipy sparse matrix or a DataFrame with a sparse column."""
    if sparse.issparse(X):
        return True
    if not (hasattr(X, "columns") and hasattr(X, "dtypes")):
        return False
    return any(_is_sparse_dtype(dtype) for dtype in X.dtypes)


def _integer_columns(X: Any) -> list[tuple[Any, np.ndarray]]:
    """Return the integer columns of a dense array or a DataFrame, with values.

    Of an array, only the columns with values beyond ``2**24``.
    """
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        columns = []
        for name, dtype in X.dtypes.items():
            if getattr(dtype, "kind", "") not in "iu":
                continue
            series = X[name]
            if _is_sparse_dtype(dtype):
                values = np.asarray(series.array.sp_values)
            else:
                values = series.dropna().to_numpy(
                    dtype=getattr(dtype, "numpy_dtype", dtype)
                )
            columns.append((name, values))
        return columns
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "iu":
        limit = FLOAT32_EXACT_INTEGERS
        big = ((X > limit) | (X < -limit)).any(axis=0)
        return [(j, X[:, j]) for j in np.flatnonzero(big).tolist()]
    return []


def _sparse_integer_columns(matrix: Any) -> list[tuple[Any, np.ndarray]]:
    """Return the stored values of an integer sparse matrix's large columns.

    Those are the columns with values beyond ``2**24``, each with its stored
    values.
    """
    if matrix.dtype.kind not in "iu":
        return []
    coo = sparse.coo_matrix(matrix)
    limit = FLOAT32_EXACT_INTEGERS
    big = (coo.data > limit) | (coo.data < -limit)
    return [(j, coo.data[coo.col == j]) for j in np.unique(coo.col[big]).tolist()]


def _frame_to_sparse(frame: Any) -> Any:
    """Return a DataFrame with sparse columns as one CSR matrix (float64).

    Sparse columns whose fill value is 0 keep only their stored entries;
    other columns (dense ones, and sparse ones filled with NaN or another
    number) are read whole, one at a time, and only their non-zero entries
    kept, so the frame is never densified whole.
    """
    n = len(frame)
    rows, cols, values = [], [], []
    for j, (name, dtype) in enumerate(frame.dtypes.items()):
        series = frame[name]
        fill = getattr(dtype, "fill_value", None)
        if _is_sparse_dtype(dtype) and not _isnan(fill) and fill == 0:
            array = series.array
            index = np.asarray(array.sp_index.to_int_index().indices, dtype=np.int64)
            data = np.asarray(array.sp_values, dtype=np.float64)
        else:
            column = np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
            index = np.flatnonzero(column != 0)  # NaN is kept, and refused later
            data = column[index]
        rows.append(index)
        cols.append(np.full(index.shape, j, dtype=np.int64))
        values.append(data)
    matrix = sparse.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, frame.shape[1]),
    )
    return matrix.tocsr()


def _isnan(value: Any) -> bool:
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return False


class TabularModality(Modality):
    """Rows of numeric features; the default encoder is an MLP, views are SCARF.

    Accepts a 2-D array-like or a DataFrame of numbers (bool and pandas'
    nullable integer columns included), a torch tensor (detached first), or
    a scipy sparse matrix or array in any format (or a DataFrame with sparse
    columns), which stays sparse: each batch's rows are densified when the
    batch is drawn. Text, category and date columns are refused with a message
    naming them and the fix (encode them in a ``ColumnTransformer`` first);
    NaN and infinite values, complex numbers and masked arrays that mask
    values are refused. Integer columns whose distinct values merge in the
    float32 cast (beyond ``2**24``) get a ``DataConversionWarning``.
    """

    name = "tabular"

    def prepare(self, estimator: ModalityHost, X: Any, *, reset: bool) -> BatchSource:
        """Validate a 2-D numeric array (NaN and inf are refused).

        A scipy sparse matrix (any format), or a DataFrame with sparse
        columns, stays sparse: a :class:`~rince_sklearn.batching.SparseRowSource`
        densifies each batch's rows only.
        """
        refuse_graphs(self.name, estimator, X, reset=reset)
        X = _as_table(X)
        _check_columns(X)
        if _is_sparse(X):
            return self._prepare_sparse(estimator, X, reset=reset)
        warn_inexact_integers(_integer_columns(X))
        try:
            X = validate_data(
                estimator,
                X,
                reset=reset,
                dtype=np.float32,
                ensure_min_samples=2 if reset else 1,
            )
        except ValueError as exc:
            if "inhomogeneous" not in str(exc):
                raise
            raise ValueError(_ragged_message(X)) from exc
        return TensorSource(torch.tensor(X, dtype=torch.float32))

    @staticmethod
    def _prepare_sparse(
        estimator: ModalityHost, X: Any, *, reset: bool
    ) -> SparseRowSource:
        """Validate sparse rows without densifying them (CSR float32)."""
        frame = hasattr(X, "columns")
        matrix = _frame_to_sparse(X) if frame else X
        refuse_complex(matrix.dtype)
        warn_inexact_integers(
            _integer_columns(X) if frame else _sparse_integer_columns(matrix)
        )
        matrix = check_array(
            matrix,
            accept_sparse="csr",
            dtype=np.float32,
            ensure_min_samples=2 if reset else 1,
            input_name="X",
            estimator=estimator,
        )
        # feature names and n_features_in_, read from X itself
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        return SparseRowSource(matrix)

    def encoder_size_kwargs(self, estimator: ModalityHost) -> dict[str, Any]:
        """Return ``in_features=n_features_in_``: the number of columns."""
        return {"in_features": estimator.n_features_in_}

    def default_encoder(self, estimator: ModalityHost) -> type[MLPEncoder]:
        """:class:`~rince_sklearn.encoders.MLPEncoder`."""
        return MLPEncoder

    def default_augmentation(self, estimator: ModalityHost) -> MarginalCorruption:
        """:class:`~rince_sklearn.augment.MarginalCorruption` (``corruption_rate``).

        The rate is ``DEFAULTS["corruption_rate"]``; the estimator fits it on
        the training data, so that donors come from the whole training set.
        """
        return MarginalCorruption(corruption_rate=self.DEFAULTS["corruption_rate"])

    # -- defaults of the "auto" parameters ----------------------------------------
    DEFAULTS: dict[str, Any] = {
        "lr": 1e-3,
        "temperature": 0.5,
        "encoder_kwargs": {"hidden_dims": (256, 256)},
        "embedding_dim": None,  # the encoder's last layer, no output layer
        "corruption_rate": 0.6,
        #: ``max_epochs="auto"`` gives about this many optimiser steps ...
        "target_steps": 1000,
        #: ... within these bounds on the number of epochs
        "epoch_range": (20, 200),
    }

    def defaults(self, estimator: ModalityHost, n_samples: int) -> dict[str, Any]:
        """Return the tabular defaults; ``max_epochs`` follows the data's size.

        Small tables need many passes and large ones few:
        ``max_epochs = target_steps / batches per epoch``, clipped to
        ``epoch_range``.
        """
        defaults = super().defaults(estimator, n_samples)
        batch = max(2, min(int(estimator.batch_size), n_samples))
        per_epoch = -(-n_samples // batch)
        low, high = self.DEFAULTS["epoch_range"]
        epochs = -(-int(self.DEFAULTS["target_steps"]) // per_epoch)
        defaults["max_epochs"] = int(min(high, max(low, epochs)))
        return defaults
