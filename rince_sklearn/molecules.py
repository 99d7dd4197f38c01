"""Molecules as graphs: SMILES strings or RDKit molecules in, graph inputs out.

:func:`graphs_from_smiles` turns molecules into the estimator's graph format,
tuples ``(edge_index, node_features)`` with one node per atom, one pair of
directed edges per bond and a fixed, documented set of atom features
(``ATOM_FEATURE_NAMES``); :class:`SmilesToGraphs` does the same as the
first step of a :class:`~sklearn.pipeline.Pipeline`.

RDKit is an optional dependency (``pip install 'rince_sklearn[chem]'``): it is
imported when a function of this module is called, never when
``rince_sklearn`` or this module is imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, overload

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ATOM_FEATURE_NAMES", "SmilesToGraphs", "graphs_from_smiles"]

#: elements with a column of their own, by atomic number; any other is "other"
_ELEMENTS: tuple[tuple[int, str], ...] = (
    (1, "H"),
    (5, "B"),
    (6, "C"),
    (7, "N"),
    (8, "O"),
    (9, "F"),
    (14, "Si"),
    (15, "P"),
    (16, "S"),
    (17, "Cl"),
    (34, "Se"),
    (35, "Br"),
    (53, "I"),
)
_DEGREES = ("0", "1", "2", "3", "4", "5+")
_CHARGES = ("-2-", "-1", "0", "+1", "+2+")
_N_HS = ("0", "1", "2", "3", "4+")
_HYBRIDISATIONS = ("SP", "SP2", "SP3", "SP3D", "SP3D2", "other")

#: Names of the columns of the node features that :func:`graphs_from_smiles`
#: returns, in order (38 of them); see its Notes for their meaning.
ATOM_FEATURE_NAMES: tuple[str, ...] = (
    *(f"element={symbol}" for _, symbol in _ELEMENTS),
    "element=other",
    *(f"degree={d}" for d in _DEGREES),
    *(f"formal_charge={c}" for c in _CHARGES),
    *(f"num_hs={h}" for h in _N_HS),
    "aromatic",
    *(f"hybridisation={h}" for h in _HYBRIDISATIONS),
    "in_ring",
)

_ELEMENT_COLUMN = {z: i for i, (z, _) in enumerate(_ELEMENTS)}
_OFFSETS = np.cumsum(
    [0, len(_ELEMENTS) + 1, len(_DEGREES), len(_CHARGES), len(_N_HS), 1]
)  # first column of: element, degree, charge, Hs, aromatic, hybridisation


def _import_chem() -> Any:
    try:
        from rdkit import Chem
    except ImportError as exc:
        raise ImportError(
            "Reading molecules needs RDKit: pip install 'rince_sklearn[chem]' (or "
            "pip install rdkit)."
        ) from exc
    return Chem


def _atom_features(mol: Any, Chem: Any) -> np.ndarray:
    """One row of ``ATOM_FEATURE_NAMES`` per atom of a sanitised molecule."""
    hybridisation_column = {
        Chem.HybridizationType.SP: 0,
        Chem.HybridizationType.SP2: 1,
        Chem.HybridizationType.SP3: 2,
        Chem.HybridizationType.SP3D: 3,
        Chem.HybridizationType.SP3D2: 4,
    }
    other_element = len(_ELEMENTS)
    other_hybridisation = len(_HYBRIDISATIONS) - 1
    rows = [
        (
            _ELEMENT_COLUMN.get(atom.GetAtomicNum(), other_element),
            min(atom.GetDegree(), len(_DEGREES) - 1),
            min(max(atom.GetFormalCharge(), -2), 2) + 2,
            min(atom.GetTotalNumHs(includeNeighbors=True), len(_N_HS) - 1),
            int(atom.GetIsAromatic()),
            hybridisation_column.get(atom.GetHybridization(), other_hybridisation),
            int(atom.IsInRing()),
        )
        for atom in mol.GetAtoms()
    ]
    codes = np.asarray(rows, dtype=np.int64).reshape(-1, 7)  # (n_atoms, 7)
    x = np.zeros((len(codes), len(ATOM_FEATURE_NAMES)), dtype=np.float32)
    atoms = np.arange(len(codes))
    for group in range(4):  # the one-hot groups before the aromatic flag
        x[atoms, _OFFSETS[group] + codes[:, group]] = 1.0
    x[:, _OFFSETS[4]] = codes[:, 4]
    x[atoms, _OFFSETS[5] + codes[:, 5]] = 1.0
    x[:, -1] = codes[:, 6]
    return x


def _bond_index(mol: Any) -> np.ndarray:
    """``(2, 2 * n_bonds)``: every bond in both directions, forward ones first."""
    pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    forward = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T  # (2, n_bonds)
    return np.ascontiguousarray(np.concatenate([forward, forward[::-1]], axis=1))


def _read_molecule(item: Any, index: int, Chem: Any) -> tuple[Any, str | None]:
    """Return ``(sanitised molecule, None)`` or ``(None, why it is invalid)``.

    Raises TypeError for items that are neither a SMILES string, a molecule
    nor None: those are a mistake in the call, not in the data.
    """
    from rdkit import rdBase

    if item is None:
        return None, "is None (a molecule that RDKit could not read earlier?)"
    if isinstance(item, str):
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(item)
            if mol is None:
                raw = Chem.MolFromSmiles(item, sanitize=False)
                if raw is None:
                    return None, f"= {item!r} is not valid SMILES (a syntax error)"
                problems = Chem.DetectChemistryProblems(raw)
                why = problems[0].Message() if problems else "it cannot be sanitised"
                return None, f"= {item!r} is not a valid molecule: {why}"
        empty = f"= {item!r} has no atoms"
    elif isinstance(item, Chem.Mol):
        mol = Chem.Mol(item)  # a copy: sanitising must not change the caller's
        with rdBase.BlockLogs():
            try:
                Chem.SanitizeMol(mol)
            except Exception as exc:  # RDKit raises its own exception classes
                return None, f"is a molecule that RDKit cannot sanitise: {exc}"
        empty = "is a molecule without atoms"
    else:
        raise TypeError(
            f"smiles_or_mols[{index}] is a {type(item).__name__}; expected a SMILES "
            "string or an rdkit.Chem.Mol."
        )
    if mol.GetNumAtoms() == 0:
        return None, empty
    return mol, None


def _as_items(smiles_or_mols: Any, name: str) -> list[Any]:
    if isinstance(smiles_or_mols, (str, bytes)) or not isinstance(
        smiles_or_mols, Iterable
    ):
        raise TypeError(
            f"{name} must be a list of SMILES strings or RDKit molecules, got "
            f"{type(smiles_or_mols).__name__}; wrap one molecule in a list: [x]."
        )
    items = smiles_or_mols
    shape = getattr(items, "shape", None)
    if shape is not None and len(shape) == 2:  # one column of a table
        if shape[1] != 1:
            raise ValueError(
                f"{name} must have one column of molecules, got shape {tuple(shape)}."
            )
        items = np.asarray(items, dtype=object)[:, 0]
    elif shape is not None and len(shape) != 1:
        raise ValueError(
            f"{name} must be 1-D (one molecule per entry), got shape {tuple(shape)}."
        )
    return list(items)


Graph = tuple[np.ndarray, np.ndarray]


@overload
def graphs_from_smiles(
    smiles_or_mols: Iterable[Any], *, errors: Literal["raise"] = ...
) -> list[Graph]: ...
@overload
def graphs_from_smiles(
    smiles_or_mols: Iterable[Any], *, errors: Literal["skip"]
) -> tuple[list[Graph], np.ndarray]: ...
def graphs_from_smiles(
    smiles_or_mols: Iterable[Any],
    *,
    errors: Literal["raise", "skip"] = "raise",
) -> list[Graph] | tuple[list[Graph], np.ndarray]:
    """Turn molecules into graphs: a node per atom, two directed edges per bond.

    The output is a list that
    :class:`~rince_sklearn.RobustContrastiveEmbedder` takes as it is (the
    tuple format of :mod:`rince_sklearn.graphs`). Hydrogens are nodes only
    when the molecule has them as explicit atoms (an RDKit ``Mol`` after
    ``Chem.AddHs``); otherwise they are counted in each atom's ``num_hs``
    feature. Needs RDKit (``pip install 'rince_sklearn[chem]'``).

    Parameters
    ----------
    smiles_or_mols : iterable of str or rdkit.Chem.Mol
        SMILES strings, RDKit molecules or both (a list, a 1-D array, a
        pandas Series, or a table of one column). Molecules are copied and
        sanitised, so a molecule and its SMILES give the same graph.
    errors : {"raise", "skip"}, default="raise"
        What an invalid entry (unparsable SMILES, impossible valence, no
        atoms, ``None``) does: ``"raise"`` raises a ValueError that names
        its index and the string; ``"skip"`` leaves it out, and the indices
        of the entries kept are returned too (select the labels with them).
        Entries of other types raise a TypeError in both modes.

    Returns
    -------
    graphs : list of (edge_index, node_features)
        One per molecule kept: ``edge_index`` int64 of shape ``(2, 2 * B)``
        for ``B`` bonds (bond ``k`` joins ``edge_index[:, k]`` and, reversed,
        ``edge_index[:, B + k]``); ``node_features`` float32 of shape
        ``(n_atoms, 38)``, columns ``ATOM_FEATURE_NAMES`` (see Notes).
    kept : ndarray of int64
        Only with ``errors="skip"``: the indices in ``smiles_or_mols`` of the
        molecules in ``graphs``, in order.

    Raises
    ------
    ValueError
        With ``errors="raise"``, for the first invalid entry, naming its index
        and the string (and RDKit's reason where it gives one).
    TypeError
        For a single string or molecule instead of a list, or an entry that is
        not a string, a molecule or None.
    ImportError
        When RDKit is not installed.

    See Also
    --------
    SmilesToGraphs : The same conversion as a scikit-learn transformer.

    Notes
    -----
    The node features, 38 columns, each 0 or 1 (names in
    ``ATOM_FEATURE_NAMES``):

    ============  =======  ===============================================
    columns       width    meaning (RDKit atom property)
    ============  =======  ===============================================
    0-13          14       element, one-hot: H, B, C, N, O, F, Si, P, S,
                           Cl, Se, Br, I, other (``GetAtomicNum``)
    14-19         6        number of bonded atoms, one-hot: 0, 1, 2, 3, 4,
                           5 or more (``GetDegree``: H atoms count only
                           when they are nodes)
    20-24         5        formal charge, one-hot: -2 or below, -1, 0, +1,
                           +2 or above (``GetFormalCharge``)
    25-29         5        number of hydrogens, one-hot: 0, 1, 2, 3, 4 or
                           more (``GetTotalNumHs(includeNeighbors=True)``:
                           implicit, explicit and bonded H atoms)
    30            1        aromatic (``GetIsAromatic``)
    31-36         6        hybridisation, one-hot: SP, SP2, SP3, SP3D,
                           SP3D2, other (``GetHybridization``; other is S,
                           unspecified and the rest)
    37            1        in a ring (``IsInRing``)
    ============  =======  ===============================================

    Bond features (bond type, conjugation, ring membership) are not part of
    the output: the estimator's graph formats carry node features only, and
    its default GIN encoder uses none. Aromatic bonds join two aromatic
    atoms, and ring bonds two ring atoms, so part of that information is in
    the node features. Stereochemistry is not encoded.

    Examples
    --------
    >>> from rince_sklearn.molecules import graphs_from_smiles
    >>> [(edge_index, x)] = graphs_from_smiles(["CCO"])  # ethanol
    >>> edge_index.tolist()
    [[0, 1, 1, 2], [1, 2, 0, 1]]
    >>> x.shape
    (3, 38)
    >>> graphs, kept = graphs_from_smiles(["c1ccccc1", "C1CC", "O"], errors="skip")
    >>> len(graphs), kept.tolist()
    (2, [0, 2])
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}.")
    Chem = _import_chem()
    graphs = []
    kept = []
    for index, item in enumerate(_as_items(smiles_or_mols, "smiles_or_mols")):
        mol, why = _read_molecule(item, index, Chem)
        if mol is None:
            if errors == "raise":
                raise ValueError(
                    f"smiles_or_mols[{index}] {why}. Fix or drop it, or pass "
                    "errors='skip' to leave invalid molecules out."
                )
            continue
        graphs.append((_bond_index(mol), _atom_features(mol, Chem)))
        kept.append(index)
    if errors == "skip":
        return graphs, np.asarray(kept, dtype=np.int64)
    return graphs


class SmilesToGraphs(TransformerMixin, BaseEstimator):
    """Turn SMILES strings or RDKit molecules into graphs, in a Pipeline.

    A stateless transformer: ``transform`` is :func:`graphs_from_smiles`
    with ``errors="raise"`` (a Pipeline cannot drop samples, so an invalid
    molecule is an error), and ``fit`` learns nothing. Put it before a
    :class:`~rince_sklearn.RobustContrastiveEmbedder` to fit a pipeline on
    SMILES directly. Needs RDKit (``pip install 'rince_sklearn[chem]'``).

    See Also
    --------
    graphs_from_smiles : The conversion, with the node features documented.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from rince_sklearn import RobustContrastiveEmbedder
    >>> from rince_sklearn.molecules import SmilesToGraphs
    >>> smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "C1CCCCC1", "OCCO"]
    >>> pipe = make_pipeline(
    ...     SmilesToGraphs(), RobustContrastiveEmbedder(max_epochs=1, random_state=0)
    ... )
    >>> pipe.fit_transform(smiles).shape
    (6, 192)
    """

    def fit(self, X: Iterable[Any], y: Any = None) -> SmilesToGraphs:
        """Check the input's form and return the transformer (nothing is learnt).

        Parameters
        ----------
        X : iterable of str or rdkit.Chem.Mol
            The molecules, as for :func:`graphs_from_smiles`.
        y : None
            Ignored.

        Returns
        -------
        self : SmilesToGraphs
            The transformer.

        Examples
        --------
        >>> from rince_sklearn.molecules import SmilesToGraphs
        >>> SmilesToGraphs().fit(["CCO"])
        SmilesToGraphs()
        """
        _as_items(X, "X")
        return self

    def transform(self, X: Iterable[Any]) -> list[Graph]:
        """Return the graphs of the molecules.

        Parameters
        ----------
        X : iterable of str or rdkit.Chem.Mol
            The molecules, as for :func:`graphs_from_smiles`.

        Returns
        -------
        graphs : list of (edge_index, node_features)
            One graph per molecule, as :func:`graphs_from_smiles` returns them.

        Examples
        --------
        >>> from rince_sklearn.molecules import SmilesToGraphs
        >>> [(edge_index, x)] = SmilesToGraphs().transform(["C#N"])
        >>> edge_index.shape, x.shape
        ((2, 2), (2, 38))
        """
        return graphs_from_smiles(_as_items(X, "X"), errors="raise")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
