"""Labelled molecules that ship with RDKit: 1,017 assay results (ChEMBL)."""

from __future__ import annotations

import csv
import os
from numbers import Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_chembl2321810"]

_NAME = "CHEMBL2321810"


def _rdkit_folder() -> Path:
    try:
        from rdkit import RDConfig
    except ImportError as exc:
        raise ImportError(
            "load_chembl2321810 reads files that ship with RDKit: pip install "
            "'rince_sklearn[chem]' (or pip install rdkit), or pass data_home, a "
            f"folder with {_NAME}.smi and {_NAME}_act.csv."
        ) from exc
    return Path(RDConfig.RDContribDir) / "FreeWilson" / "data"


def load_chembl2321810(
    *,
    threshold: float | None = None,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load 1,017 molecules with their pIC50 in ChEMBL assay CHEMBL2321810.

    A series of closely related molecules (1,014 of them aryl sulfonamides)
    measured in one assay, as RDKit ships it for its Free-Wilson
    contribution: ``Contrib/FreeWilson/data/CHEMBL2321810.smi``
    (SMILES and a ChEMBL molecule id per line) and ``CHEMBL2321810_act.csv``
    (the pIC50 of each id, from 4.27 to 9.22, median 6.44). Nothing is
    downloaded; the files are read from RDKit's installation
    (``RDConfig.RDContribDir``) unless ``data_home`` names a folder with them.

    Parameters
    ----------
    threshold : float, default=None
        None: the target is the pIC50 (regression). A number: the target is
        1 for molecules with ``pIC50 >= threshold`` and 0 otherwise
        (classification; 6.5, about 316 nM, splits the set 492 to 525).
    data_home : str or path-like, default=None
        A folder with ``CHEMBL2321810.smi`` and ``CHEMBL2321810_act.csv``;
        None uses RDKit's copy.
    return_X_y : bool, default=False
        Return ``(smiles, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``smiles``: list of 1,017 SMILES strings, in the file's order;
        ``ids``: their ChEMBL molecule ids (str); ``pic50``: float64 array;
        ``target``: the pIC50, or int64 labels with ``threshold``;
        ``filenames``: the two files read; ``DESCR``: a description.
    (smiles, target) : tuple of (list of str, ndarray)
        When ``return_X_y`` is True. Turn the SMILES into graphs with
        :func:`~rince_sklearn.molecules.graphs_from_smiles`.

    Raises
    ------
    ImportError
        When RDKit is not installed and ``data_home`` is None.
    FileNotFoundError
        When a file is missing.
    ValueError
        When a file is malformed, or a molecule has no pIC50.

    Examples
    --------
    >>> from rince_sklearn.datasets import load_chembl2321810
    >>> smiles, y = load_chembl2321810(threshold=6.5, return_X_y=True)
    >>> len(smiles), int(y.sum())
    (1017, 492)
    """
    if threshold is not None and (
        not isinstance(threshold, Real) or not np.isfinite(threshold)
    ):
        raise ValueError(
            f"threshold must be None or a finite number (a pIC50), got {threshold!r}."
        )
    folder = _rdkit_folder() if data_home is None else Path(data_home)
    smi_path = folder / f"{_NAME}.smi"
    act_path = folder / f"{_NAME}_act.csv"
    for path in (smi_path, act_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing. RDKit's pip wheels ship it in "
                "Contrib/FreeWilson/data/; pass data_home, a folder with "
                f"{smi_path.name} and {act_path.name}, if your RDKit lacks it."
            )
    smiles, ids = [], []
    with open(smi_path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2:
                raise ValueError(
                    f"{smi_path} line {number}: expected 'SMILES id', got "
                    f"{line.strip()!r}."
                )
            smiles.append(fields[0])
            ids.append(fields[1])
    with open(act_path, newline="") as table:
        rows = list(csv.reader(table))
    if not rows or [field.strip() for field in rows[0]] != ["Name", "Act"]:
        raise ValueError(f"{act_path} must start with the header 'Name,Act'.")
    try:
        activity = {name.strip(): float(value) for name, value in rows[1:]}
    except ValueError as exc:
        raise ValueError(f"{act_path}: every row must be 'id,pIC50' ({exc}).") from exc
    missing = [name for name in ids if name not in activity]
    if missing:
        raise ValueError(
            f"{len(missing)} molecules of {smi_path.name} have no pIC50 in "
            f"{act_path.name}, for example {missing[0]!r}."
        )
    pic50 = np.array([activity[name] for name in ids], dtype=np.float64)
    target = pic50 if threshold is None else (pic50 >= threshold).astype(np.int64)
    if return_X_y:
        return smiles, target
    return Bunch(
        smiles=smiles,
        ids=ids,
        pic50=pic50,
        target=target,
        filenames=[str(smi_path), str(act_path)],
        DESCR=(
            f"{len(smiles)} molecules of ChEMBL assay {_NAME} with their pIC50, "
            "from RDKit's Contrib/FreeWilson/data"
            + ("" if threshold is None else f"; target: pIC50 >= {threshold}")
            + "."
        ),
    )
