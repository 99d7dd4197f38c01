"""Molecules to graphs (rince_sklearn.molecules) and the ChEMBL loader.

The tests that read molecules need RDKit (the ``chem`` extra) and skip without
it; those of the messages given without RDKit, and of the import that must
not load it, run everywhere.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rince_sklearn.datasets import load_chembl2321810
from rince_sklearn.molecules import (
    ATOM_FEATURE_NAMES,
    SmilesToGraphs,
    graphs_from_smiles,
)

RDKIT_REASON = "needs RDKit: pip install 'rince_sklearn[chem]'"
COLUMN = {name: i for i, name in enumerate(ATOM_FEATURE_NAMES)}


@pytest.fixture(scope="module")
def Chem():
    return pytest.importorskip("rdkit.Chem", reason=RDKIT_REASON)


def on(x_row):
    """The names of the features that are 1 in one row."""
    return {ATOM_FEATURE_NAMES[i] for i in np.flatnonzero(x_row)}


# -- features -----------------------------------------------------------------
def test_feature_names_are_unique_and_38_wide():
    assert len(ATOM_FEATURE_NAMES) == 38
    assert len(set(ATOM_FEATURE_NAMES)) == 38


def test_ethanol(Chem):
    [(edge_index, x)] = graphs_from_smiles(["CCO"])
    assert edge_index.dtype == np.int64 and x.dtype == np.float32
    assert edge_index.tolist() == [[0, 1, 1, 2], [1, 2, 0, 1]]  # 2 bonds, 4 edges
    assert x.shape == (3, 38)
    common = {"formal_charge=0", "hybridisation=SP3"}
    assert on(x[0]) == common | {"element=C", "degree=1", "num_hs=3"}
    assert on(x[1]) == common | {"element=C", "degree=2", "num_hs=2"}
    assert on(x[2]) == common | {"element=O", "degree=1", "num_hs=1"}


def test_every_one_hot_group_has_exactly_one_column_set(Chem):
    smiles = ["C[N+](C)(C)C", "[O-]C(=O)c1ccccc1", "C#N", "[Na+].[Cl-]", "[Fe]"]
    groups = ["element=", "degree=", "formal_charge=", "num_hs=", "hybridisation="]
    for _, x in graphs_from_smiles(smiles):
        for prefix in groups:
            columns = [i for n, i in COLUMN.items() if n.startswith(prefix)]
            assert (x[:, columns].sum(axis=1) == 1).all(), prefix
        assert set(np.unique(x)) <= {0.0, 1.0}


def test_benzene_and_pyridine_are_aromatic_rings(Chem):
    [(edge_index, x)] = graphs_from_smiles(["c1ccccc1"])
    assert edge_index.shape == (2, 12)
    for row in x:
        assert on(row) == {
            "element=C",
            "degree=2",
            "formal_charge=0",
            "num_hs=1",
            "aromatic",
            "hybridisation=SP2",
            "in_ring",
        }
    [(_, x)] = graphs_from_smiles(["c1ccncc1"])
    assert x[:, COLUMN["aromatic"]].tolist() == [1.0] * 6
    assert x[:, COLUMN["element=N"]].tolist() == [0, 0, 0, 1, 0, 0]
    assert x[3, COLUMN["num_hs=0"]] == 1.0


def test_chain_atoms_are_not_in_a_ring_and_not_aromatic(Chem):
    [(_, x)] = graphs_from_smiles(["Cc1ccccc1"])  # toluene's methyl group
    assert x[0, COLUMN["in_ring"]] == 0.0 and x[0, COLUMN["aromatic"]] == 0.0
    assert x[1:, COLUMN["in_ring"]].tolist() == [1.0] * 6
    [(_, x)] = graphs_from_smiles(["C1CCCCC1"])  # cyclohexane: ring, not aromatic
    assert x[:, COLUMN["in_ring"]].tolist() == [1.0] * 6
    assert x[:, COLUMN["aromatic"]].sum() == 0.0


def test_charges_hybridisation_and_other_elements(Chem):
    [(_, x)] = graphs_from_smiles(["C[N+](C)(C)C"])
    assert on(x[1]) == {
        "element=N",
        "degree=4",
        "formal_charge=+1",
        "num_hs=0",
        "hybridisation=SP3",
    }
    [(_, x)] = graphs_from_smiles(["C#N"])
    assert x[:, COLUMN["hybridisation=SP"]].tolist() == [1.0, 1.0]
    [(edge_index, x)] = graphs_from_smiles(["[Fe+3]"])  # one atom, no bonds
    assert edge_index.shape == (2, 0)
    assert {"element=other", "degree=0", "formal_charge=+2+"} <= on(x[0])
    [(_, x)] = graphs_from_smiles(["FS(F)(F)(F)(F)F"])  # six bonded atoms
    assert {"degree=5+", "hybridisation=SP3D2"} <= on(x[1])


def test_explicit_hydrogens_are_nodes_of_their_own(Chem):
    mol = Chem.AddHs(Chem.MolFromSmiles("C"))
    [(edge_index, x)] = graphs_from_smiles([mol])
    assert x.shape == (5, 38) and edge_index.shape == (2, 8)
    assert x[:, COLUMN["element=H"]].tolist() == [0, 1, 1, 1, 1]
    assert x[0, COLUMN["num_hs=4+"]] == 1.0  # explicit Hs are still counted
    assert x[0, COLUMN["degree=4"]] == 1.0


def test_each_bond_appears_in_both_directions(Chem):
    [(edge_index, _)] = graphs_from_smiles(["CC(C)C(=O)O"])
    n_bonds = edge_index.shape[1] // 2
    forward, backward = edge_index[:, :n_bonds], edge_index[:, n_bonds:]
    assert np.array_equal(forward[::-1], backward)
    assert n_bonds == 5


# -- inputs ---------------------------------------------------------------------
def test_mol_input_equals_smiles_input(Chem):
    smiles = ["CCO", "c1ccccc1O", "C[N+](C)(C)C", "OC(=O)c1ccccc1Cl"]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    for mol in mols[2:]:
        Chem.Kekulize(mol, clearAromaticFlags=True)  # sanitising restores them
    from_smiles = graphs_from_smiles(smiles)
    from_mols = graphs_from_smiles(mols)
    for (e1, x1), (e2, x2) in zip(from_smiles, from_mols, strict=True):
        assert np.array_equal(e1, e2) and np.array_equal(x1, x2)
    assert not mols[3].GetAtomWithIdx(3).GetIsAromatic()  # the caller's copy


def test_arrays_series_and_one_column_tables_are_accepted(Chem):
    pd = pytest.importorskip("pandas")
    smiles = ["CCO", "CCN"]
    expected = graphs_from_smiles(smiles)
    for form in (
        np.array(smiles),
        pd.Series(smiles, index=[7, 3]),
        pd.DataFrame({"smiles": smiles}),
        np.array(smiles, dtype=object)[:, None],
    ):
        got = graphs_from_smiles(form)
        assert [x.tolist() for _, x in got] == [x.tolist() for _, x in expected]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("C1CC", "not valid SMILES"),
        ("CN(C)(C)(C)C", "valence"),
        ("c1cccc1", "kekulize"),
        ("", "has no atoms"),
        (None, "is None"),
    ],
)
def test_invalid_molecule_error_names_index_and_string(Chem, bad, reason):
    with pytest.raises(ValueError) as info:
        graphs_from_smiles(["CCO", "CCN", bad])
    message = str(info.value)
    assert "smiles_or_mols[2]" in message
    assert reason.lower() in message.lower()
    assert "errors='skip'" in message
    if bad is not None:
        assert repr(bad) in message


def test_an_unsanitisable_molecule_is_invalid_too(Chem):
    bad = Chem.MolFromSmiles("CN(C)(C)(C)C", sanitize=False)  # 5-valent N
    with pytest.raises(
        ValueError, match=r"smiles_or_mols\[1\] is a molecule .*valence"
    ):
        graphs_from_smiles([Chem.MolFromSmiles("C"), bad])
    graphs, kept = graphs_from_smiles([bad, Chem.Mol()], errors="skip")
    assert graphs == [] and kept.tolist() == []


def test_skip_returns_the_indices_kept(Chem):
    graphs, kept = graphs_from_smiles(
        ["CCO", "C1CC", None, "c1ccccc1", "CN(C)(C)(C)C"], errors="skip"
    )
    assert kept.dtype == np.int64 and kept.tolist() == [0, 3]
    assert [x.shape[0] for _, x in graphs] == [3, 6]
    graphs, kept = graphs_from_smiles(["C1CC"], errors="skip")
    assert graphs == [] and kept.tolist() == []


def test_wrong_types_raise_type_error(Chem):
    with pytest.raises(TypeError, match=r"wrap one molecule in a list"):
        graphs_from_smiles("CCO")
    with pytest.raises(TypeError, match=r"got Mol; wrap one molecule in a list"):
        graphs_from_smiles(Chem.MolFromSmiles("CCO"))
    with pytest.raises(TypeError, match=r"smiles_or_mols\[1\] is a int"):
        graphs_from_smiles(["CCO", 3], errors="skip")
    with pytest.raises(ValueError, match="errors must be"):
        graphs_from_smiles(["CCO"], errors="ignore")
    with pytest.raises(ValueError, match="one column"):
        graphs_from_smiles(np.array([["CCO", "CCN"]]))


# -- with the estimator -----------------------------------------------------------
def test_the_estimator_fits_on_the_graphs(Chem):
    from rince_sklearn import RobustContrastiveEmbedder

    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "C1CCCCC1", "OCCO", "[Na+].[Cl-]"]
    graphs = graphs_from_smiles(smiles)
    emb = RobustContrastiveEmbedder(max_epochs=1, batch_size=4, random_state=0)
    Z = emb.fit(graphs).transform(graphs)
    assert emb.modality_ == "graph" and emb.n_features_in_ == 38
    assert Z.shape == (7, emb.embedding_dim_) and np.isfinite(Z).all()


def test_smiles_to_graphs_in_a_pipeline(Chem):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from rince_sklearn import RobustContrastiveEmbedder

    smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "C1CCCCC1", "OCCO"]
    step = SmilesToGraphs()
    assert not step.__sklearn_tags__().requires_fit
    graphs = step.transform(smiles)  # no fit needed: stateless
    assert [e.tolist() for e, _ in graphs] == [
        e.tolist() for e, _ in graphs_from_smiles(smiles)
    ]
    pipe = make_pipeline(
        clone(step), RobustContrastiveEmbedder(max_epochs=1, random_state=0)
    )
    direct = RobustContrastiveEmbedder(max_epochs=1, random_state=0).fit(graphs)
    assert np.allclose(pipe.fit(smiles).transform(smiles), direct.transform(graphs))
    with pytest.raises(ValueError, match=r"smiles_or_mols\[1\] = 'C1CC'"):
        step.transform(["CCO", "C1CC"])


# -- the loader ---------------------------------------------------------------------
def test_load_chembl2321810(Chem):
    data = load_chembl2321810()
    assert len(data.smiles) == len(data.ids) == len(data.pic50) == 1017
    assert data.target is data.pic50
    assert 4.0 < data.pic50.min() < data.pic50.max() < 10.0
    smiles, y = load_chembl2321810(threshold=6.5, return_X_y=True)
    assert smiles == data.smiles
    assert y.dtype == np.int64 and y.tolist() == (data.pic50 >= 6.5).tolist()
    assert 400 < y.sum() < 600
    graphs = graphs_from_smiles(smiles)  # every molecule is valid
    assert len(graphs) == 1017


def test_load_chembl2321810_from_a_folder(tmp_path):
    (tmp_path / "CHEMBL2321810.smi").write_text("CCO 11\nc1ccccc1 12\n\n")
    (tmp_path / "CHEMBL2321810_act.csv").write_text("Name,Act\n12,7.5\n11,5.0\n")
    data = load_chembl2321810(data_home=tmp_path, threshold=6.0)
    assert data.smiles == ["CCO", "c1ccccc1"] and data.ids == ["11", "12"]
    assert data.pic50.tolist() == [5.0, 7.5] and data.target.tolist() == [0, 1]
    (tmp_path / "CHEMBL2321810_act.csv").write_text("Name,Act\n12,7.5\n")
    with pytest.raises(ValueError, match="no pIC50.*'11'"):
        load_chembl2321810(data_home=tmp_path)
    (tmp_path / "CHEMBL2321810_act.csv").write_text("id,value\n12,7.5\n")
    with pytest.raises(ValueError, match="header"):
        load_chembl2321810(data_home=tmp_path)
    with pytest.raises(ValueError, match="threshold"):
        load_chembl2321810(data_home=tmp_path, threshold="high")
    with pytest.raises(FileNotFoundError, match="data_home"):
        load_chembl2321810(data_home=tmp_path / "nowhere")


# -- without RDKit ------------------------------------------------------------------
@pytest.fixture()
def no_rdkit(monkeypatch):
    """Make ``import rdkit`` (and its submodules) fail, as without the extra."""
    monkeypatch.setitem(sys.modules, "rdkit", None)


def test_without_rdkit_the_error_says_how_to_install_it(no_rdkit):
    with pytest.raises(ImportError, match=r"pip install 'rince_sklearn\[chem\]'"):
        graphs_from_smiles(["CCO"])
    with pytest.raises(ImportError, match=r"pip install 'rince_sklearn\[chem\]'"):
        SmilesToGraphs().transform(["CCO"])
    with pytest.raises(ImportError, match=r"rince_sklearn\[chem\].*data_home"):
        load_chembl2321810()


def test_importing_the_package_does_not_import_rdkit():
    code = (
        "import sys, rince_sklearn, rince_sklearn.molecules, rince_sklearn.datasets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rdkit'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"
