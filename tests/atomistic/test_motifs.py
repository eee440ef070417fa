"""Motif labels: the default SMARTS library on real molecules, bond perception from
3-D structures, user libraries, and per-motif contributions."""

import csv
import re
import subprocess
import sys
from collections import Counter
from importlib import resources

import numpy as np
import pytest

pytest.importorskip("ase")
pytest.importorskip("pandas")
pytest.importorskip("rdkit")

import pandas as pd
from ase import Atoms
from ase.build import molecule
from ase.collections import g2, s22
from rdkit import Chem
from rdkit.Chem import AllChem, rdDetermineBonds

from propmap.atomistic._motifs import (
    Motif,
    MotifPerceptionWarning,
    label_motifs,
    load_motifs,
    motif_contributions,
    structure_to_mol,
    summarize_motifs,
)

COLUMNS = ["structure", "motif", "atoms", "n_atoms"]


def embedded(smiles: str) -> Atoms:
    """A molecule from SMILES with RDKit's 3-D coordinates (ETKDG, then MMFF), its
    total formal charge in ``info["charge"]``. Each fragment is embedded alone and
    placed 6 Å past the previous one, so that fragments do not touch."""
    whole = Chem.MolFromSmiles(smiles)
    structure = Atoms()
    for fragment in Chem.GetMolFrags(whole, asMols=True):
        mol = Chem.AddHs(fragment)
        assert AllChem.EmbedMolecule(mol, randomSeed=0xF00D) == 0, smiles
        AllChem.MMFFOptimizeMolecule(mol)
        part = Atoms(
            numbers=[atom.GetAtomicNum() for atom in mol.GetAtoms()],
            positions=mol.GetConformer().GetPositions(),
        )
        if len(structure):
            part.translate(
                [structure.positions[:, 0].max() - part.positions[:, 0].min() + 6, 0, 0]
            )
        structure += part
    structure.info["charge"] = Chem.GetFormalCharge(whole)
    return structure


def counts(table, structure=0) -> dict:
    return dict(Counter(table.loc[table["structure"] == structure, "motif"]))


def symbols(atoms, indices) -> list:
    return sorted(atoms.get_chemical_symbols()[i] for i in indices)


# Every motif of the default library on a molecule that has it, with all the labels
# that molecule gets: a label missing or one too many fails.
MOLECULES = {
    "CC(C)CO": {"methyl": 2, "methine": 1, "methylene": 1, "hydroxyl": 1},
    "C=CC#C": {"alkene": 1, "alkyne": 1},
    "Oc1ccccc1": {"aromatic CH": 5, "benzene ring": 1, "phenol": 1},
    "O": {"water": 1},
    "COC": {"methyl": 2, "ether": 1},
    "CC=O": {"methyl": 1, "carbonyl": 1, "aldehyde": 1},
    "C=O": {"carbonyl": 1},
    "CC(C)=O": {"methyl": 2, "carbonyl": 1, "ketone": 1},
    "CC(=O)O": {"methyl": 1, "carbonyl": 1, "carboxylic acid": 1},
    "CC(=O)[O-]": {"methyl": 1, "carbonyl": 1, "carboxylate": 1},
    "CC(=O)OC": {"methyl": 2, "carbonyl": 1, "ester": 1},
    "CC(=O)OC(C)=O": {"methyl": 2, "carbonyl": 2, "anhydride": 1},
    "CC(=O)Cl": {"methyl": 1, "carbonyl": 1, "acyl halide": 1, "chloro": 1},
    "CC(N)=O": {"methyl": 1, "carbonyl": 1, "primary amide": 1},
    "CNC(C)=O": {"methyl": 2, "carbonyl": 1, "secondary amide": 1},
    "CN(C)C(C)=O": {"methyl": 3, "carbonyl": 1, "tertiary amide": 1},
    "NC(N)=O": {"carbonyl": 1, "urea": 1},
    "CNC(=O)OC": {"methyl": 2, "carbonyl": 1, "carbamate": 1},
    "Nc1ccccc1": {"aromatic CH": 5, "benzene ring": 1, "primary amine": 1},
    "CNC": {"methyl": 2, "secondary amine": 1},
    "CN(C)C": {"methyl": 3, "tertiary amine": 1},
    "CC(=O)[O-].[NH4+]": {"methyl": 1, "carbonyl": 1, "carboxylate": 1, "ammonium": 1},
    "[NH3+]CC(=O)[O-]": {
        "methylene": 1,
        "carbonyl": 1,
        "carboxylate": 1,
        "primary ammonium": 1,
    },
    "C[NH2+]C": {"methyl": 2, "secondary ammonium": 1},
    "C[NH+](C)C": {"methyl": 3, "tertiary ammonium": 1},
    "C[N+](C)(C)C": {"methyl": 4, "quaternary ammonium": 1},
    "c1ccncc1": {"aromatic CH": 5, "aromatic N": 1},
    "c1cc[nH]c1": {"aromatic CH": 4, "pyrrole NH": 1},
    "c1cc[nH+]cc1": {"aromatic CH": 5, "pyridinium NH": 1},
    "c1c[nH]cn1": {"aromatic CH": 3, "aromatic N": 1, "pyrrole NH": 1, "imidazole": 1},
    "O=c1cccc[nH]1": {
        "aromatic CH": 4,
        "carbonyl": 1,
        "secondary amide": 1,
        "pyrrole NH": 1,
    },
    "O=c1cc[nH]c(=O)[nH]1": {
        "aromatic CH": 2,
        "carbonyl": 2,
        "secondary amide": 1,
        "urea": 1,
        "pyrrole NH": 2,
    },
    "C[N+](=O)[O-]": {"methyl": 1, "nitro": 1},
    "CC#N": {"methyl": 1, "nitrile": 1},
    "CC=NC": {"methyl": 2, "imine": 1},
    "CC=NO": {"methyl": 1, "oxime": 1},
    "CN=[N+]=[N-]": {"methyl": 1, "azide": 1},
    "CN=NC": {"methyl": 2, "azo": 1},
    "NC(N)=N": {"guanidine": 1},
    "NC(N)=[NH2+]": {"guanidine": 1},
    "CC(N)=N": {"methyl": 1, "amidine": 1},
    "CN=C=O": {"methyl": 1, "isocyanate": 1},
    "CS": {"methyl": 1, "thiol": 1},
    "CSC": {"methyl": 2, "thioether": 1},
    "CC(N)=S": {"methyl": 1, "thioamide": 1},
    "CS(C)=O": {"methyl": 2, "sulfoxide": 1},
    "CS(C)(=O)=O": {"methyl": 2, "sulfone": 1},
    "CS(N)(=O)=O": {"methyl": 1, "sulfonamide": 1},
    "CB(O)O": {"methyl": 1, "boronic acid": 1},
    "COP(=O)(O)O": {"methyl": 1, "phosphate": 1},
    "OP(=O)([O-])[O-]": {"phosphate": 1},
    "FC(Cl)(Br)I": {"fluoro": 1, "chloro": 1, "bromo": 1, "iodo": 1},
    "c1ccc2ccccc2c1": {"aromatic CH": 8, "benzene ring": 2},
}


@pytest.fixture(scope="module")
def library():
    return load_motifs()


@pytest.fixture(scope="module")
def embedded_table():
    structures = [embedded(smiles) for smiles in MOLECULES]
    return label_motifs(structures)


def test_default_library_parses(library):
    names = [motif.name for motif in library]
    assert len(library) >= 45
    assert len(set(names)) == len(names)
    for motif in library:
        assert motif.query.GetNumAtoms() > 0
        assert Chem.MolFromSmarts(motif.smarts) is not None, motif.name
        assert motif.description
    text = (resources.files("propmap.atomistic") / "data" / "motifs.csv").read_text(
        encoding="utf-8"
    )
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["name", "smarts", "description"]
    assert [row[0] for row in rows[1:]] == names


@pytest.mark.parametrize("smiles", list(MOLECULES))
def test_motifs_on_embedded_molecules(embedded_table, smiles):
    index = list(MOLECULES).index(smiles)
    assert counts(embedded_table, index) == MOLECULES[smiles]


def test_every_default_motif_is_tested(library):
    found = {name for expected in MOLECULES.values() for name in expected}
    assert found == {motif.name for motif in library}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CH3COOH", {"methyl": 1, "carbonyl": 1, "carboxylic acid": 1}),
        ("CH3CONH2", {"methyl": 1, "carbonyl": 1, "primary amide": 1}),
        ("CH3CH2OH", {"methyl": 1, "methylene": 1, "hydroxyl": 1}),
        ("H3CNH2", {"methyl": 1, "primary amine": 1}),
        ("C5H5N", {"aromatic CH": 5, "aromatic N": 1}),
        ("C6H6", {"aromatic CH": 6, "benzene ring": 1}),
        ("HCOOCH3", {"methyl": 1, "carbonyl": 1, "ester": 1}),
        ("CH3NO2", {"methyl": 1, "nitro": 1}),
        ("C2H6SO", {"methyl": 2, "sulfoxide": 1}),
    ],
)
def test_motifs_on_ase_molecules(name, expected):
    assert counts(label_motifs([molecule(name)])) == expected


def test_instances_cover_the_atoms_of_the_group():
    acid = molecule("CH3COOH")
    table = label_motifs(acid)
    assert list(table.columns) == COLUMNS
    table = table.set_index("motif")
    methyl, carboxyl = (
        table.loc["methyl", "atoms"],
        table.loc["carboxylic acid", "atoms"],
    )
    assert symbols(acid, methyl) == ["C", "H", "H", "H"]
    assert symbols(acid, carboxyl) == ["C", "H", "O", "O"]
    assert list(methyl) == sorted(methyl)
    assert table.loc["methyl", "n_atoms"] == 4
    # the acidic hydrogen is the one bonded to an oxygen of the group
    hydrogen = next(i for i in carboxyl if acid[i].symbol == "H")
    oxygen = [i for i in carboxyl if acid[i].symbol == "O"]
    assert min(acid.get_distance(hydrogen, i) for i in oxygen) < 1.1

    benzene = molecule("C6H6")
    ring = label_motifs(benzene).set_index("motif").loc["benzene ring", "atoms"]
    assert symbols(benzene, ring) == ["C"] * 6


def test_hydrogen_bonded_complexes_keep_their_molecules():
    # S22 dimers at hydrogen-bond distances: no bonds across the H-bonds
    names = [
        "Formic_acid_dimer",
        "Formamide_dimer",
        "2-pyridoxine_2-aminopyridine_complex",
        "Adenine-thymine_Watson-Crick_complex",
        "Phenol_dimer",
    ]
    table = label_motifs([s22[name] for name in names])
    assert counts(table, 0) == {"carbonyl": 2, "carboxylic acid": 2}
    assert counts(table, 1) == {"carbonyl": 2, "primary amide": 2}
    assert counts(table, 2) == {
        "aromatic CH": 8,
        "carbonyl": 1,
        "secondary amide": 1,
        "primary amine": 1,
        "aromatic N": 1,
        "pyrrole NH": 1,
    }
    assert counts(table, 3) == {
        "methyl": 1,
        "aromatic CH": 3,
        "carbonyl": 2,
        "secondary amide": 1,
        "urea": 1,
        "primary amine": 1,
        "aromatic N": 3,
        "pyrrole NH": 3,
        "imidazole": 1,
    }
    assert counts(table, 4) == {"aromatic CH": 10, "benzene ring": 2, "phenol": 2}


# Even-electron G2 entries whose bonding RDKit does not assign: bare atoms, SiH2 and
# NH, ionic and metal molecules, and hypervalent ClF3.
G2_UNASSIGNED = {
    "AlCl3", "AlF3", "Be", "C", "ClF3", "Li2", "LiF", "LiH", "NH", "Na2", "NaCl",
    "O", "S", "Si", "SiH2_s1A1d", "SiH2_s3B1d",
}  # fmt: skip


def test_g2_labels_without_errors():
    names = list(g2.names)
    with pytest.warns(MotifPerceptionWarning) as record:
        table = label_motifs([g2[name] for name in names])
    warned = set()
    for warning in record:
        assert warning.category is MotifPerceptionWarning
        index = int(re.search(r"structure (\d+)", str(warning.message)).group(1))
        warned.add(names[index])
    radicals = {name for name in names if g2[name].numbers.sum() % 2}
    assert radicals <= warned
    assert warned - radicals <= G2_UNASSIGNED
    assert not {names[i] for i in table["structure"]} & warned
    assert table["structure"].nunique() > 70


@pytest.mark.parametrize("name", ["CH3", "OH", "NO2"])
def test_radical_warns_and_gets_no_labels(name):
    with pytest.warns(MotifPerceptionWarning, match="odd number of electrons"):
        table = label_motifs([molecule(name)])
    assert table.empty
    assert list(table.columns) == COLUMNS


def test_radical_molecule_keeps_its_connectivity():
    methyl = molecule("CH3")
    with pytest.warns(MotifPerceptionWarning, match=r"the structure \(CH3\)"):
        mol = structure_to_mol(methyl)
    assert mol.GetNumAtoms() == 4
    assert mol.GetNumBonds() == 3
    assert all(bond.GetBondType() == Chem.BondType.SINGLE for bond in mol.GetBonds())


def test_warning_names_the_structure_and_its_source():
    radical = molecule("OH")
    radical.info["source"] = "radicals.xyz:3"
    with pytest.warns(MotifPerceptionWarning, match=r"structure 1 \(HO, from radicals"):
        label_motifs([molecule("H2O"), radical])


def test_charge_from_argument_or_info():
    acetate = embedded("CC(=O)[O-]")
    expected = {"methyl": 1, "carbonyl": 1, "carboxylate": 1}
    assert counts(label_motifs(acetate)) == expected  # info["charge"] = -1
    del acetate.info["charge"]
    assert counts(label_motifs(acetate, charges=[-1])) == expected
    assert counts(label_motifs(acetate, charges=[-1.0])) == expected
    with pytest.warns(MotifPerceptionWarning, match="with charge 0"):
        assert label_motifs(acetate).empty
    # an explicit charge wins over info
    acetate.info["charge"] = 0
    assert Chem.GetFormalCharge(structure_to_mol(acetate, charge=-1)) == -1


def test_structure_to_mol():
    pyridine = molecule("C5H5N")
    pyridine.info["charge"] = 0
    mol = structure_to_mol(pyridine)
    assert [atom.GetAtomicNum() for atom in mol.GetAtoms()] == list(pyridine.numbers)
    np.testing.assert_allclose(mol.GetConformer().GetPositions(), pyridine.positions)
    assert mol.GetConformer().Is3D()
    assert sum(atom.GetIsAromatic() for atom in mol.GetAtoms()) == 6
    assert Chem.MolToSmiles(Chem.RemoveHs(mol)) == "c1ccncc1"

    pyridinium = embedded("c1cc[nH+]cc1")
    assert Chem.GetFormalCharge(structure_to_mol(pyridinium)) == 1


def test_hueckel_retry(monkeypatch):
    # the default bond orders fail once; those from the Hückel connectivity are used
    determine_connectivity = rdDetermineBonds.DetermineConnectivity
    determine_bond_orders = rdDetermineBonds.DetermineBondOrders
    connectivity = []

    def spy(mol, useHueckel=False, **kwargs):
        connectivity.append(useHueckel)
        determine_connectivity(mol, useHueckel=useHueckel, **kwargs)

    def fails_first_time(mol, **kwargs):
        if not connectivity[-1]:
            raise ValueError("no valid bond ordering")
        determine_bond_orders(mol, **kwargs)

    monkeypatch.setattr(rdDetermineBonds, "DetermineConnectivity", spy)
    monkeypatch.setattr(rdDetermineBonds, "DetermineBondOrders", fails_first_time)
    table = label_motifs(molecule("CH3COOH"))
    assert connectivity == [False, True]
    assert counts(table) == {"methyl": 1, "carbonyl": 1, "carboxylic acid": 1}


def test_bond_orders_failing_twice_warns(monkeypatch):
    def fails(mol, **kwargs):
        raise ValueError("no valid bond ordering")

    monkeypatch.setattr(rdDetermineBonds, "DetermineBondOrders", fails)
    with pytest.warns(MotifPerceptionWarning, match="with the Hückel connectivity"):
        mol = structure_to_mol(molecule("CH3COOH"))
    assert mol.GetNumBonds() == 7
    assert all(bond.GetBondType() == Chem.BondType.SINGLE for bond in mol.GetBonds())
    with pytest.warns(MotifPerceptionWarning):
        assert label_motifs(molecule("CH3COOH")).empty


def test_unassignable_molecule_warns():
    with pytest.warns(MotifPerceptionWarning, match="cannot assign its bond orders"):
        assert label_motifs(molecule("ClF3")).empty


def test_periodic_structure_is_an_error():
    water = molecule("H2O", vacuum=5.0)
    water.pbc = True
    with pytest.raises(ValueError, match=r"structure 0 \(H2O\): it is periodic"):
        label_motifs([water])
    with pytest.raises(ValueError, match="Cut it into molecules first"):
        structure_to_mol(water)
    water.pbc = False  # a molecule in a box
    assert counts(label_motifs(water)) == {"water": 1}


def test_many_instances_are_all_found():
    # more than RDKit's default limit of 1000 matches
    ethane = molecule("C2H6")
    copies = []
    for k in range(501):
        copy = ethane.copy()
        copy.translate([5.0 * (k % 23), 5.0 * (k // 23), 0.0])
        copies.append(copy)
    cluster = sum(copies[1:], copies[0])
    methyl = [motif for motif in load_motifs() if motif.name == "methyl"]
    table = label_motifs(cluster, motifs=methyl)
    assert len(table) == 1002
    assert len(set(table["atoms"])) == 1002


def test_bad_inputs():
    with pytest.raises(ValueError, match="charges has 1 entries for 2 structures"):
        label_motifs([molecule("H2O"), molecule("H2O")], charges=[0])
    with pytest.raises(ValueError, match=r"whole number; got 0\.5"):
        label_motifs(molecule("H2O"), charges=[0.5])
    with pytest.raises(TypeError, match=r"motifs\[0\] is a tuple, not a Motif"):
        label_motifs(molecule("H2O"), motifs=[("water", "[OH2]")])
    with pytest.raises(TypeError, match=r"Expected ase\.Atoms"):
        structure_to_mol("H2O")
    with pytest.raises(ValueError, match="has no atoms"):
        structure_to_mol(Atoms())
    with pytest.raises(TypeError, match=r"not ase\.Atoms"):
        label_motifs(["H2O"])


def test_motif_validation():
    with pytest.raises(ValueError, match="Motif 'broken': RDKit cannot parse"):
        Motif("broken", "[C;X4")
    with pytest.raises(ValueError, match="Motif 'empty': RDKit cannot parse"):
        Motif("empty", "")
    with pytest.raises(ValueError, match="has no name"):
        Motif(" ", "C")
    with pytest.raises(TypeError, match="smarts must be a string"):
        Motif("carbon", 6)
    motif = Motif("carbon", "[#6]", "any carbon")
    assert motif == Motif("carbon", "[#6]", "any carbon")
    assert hash(motif) == hash(Motif("carbon", "[#6]", "any carbon"))
    with pytest.raises(AttributeError):
        motif.name = "other"


def test_duplicate_names_are_an_error():
    with pytest.raises(ValueError, match="unique; repeated: 'methyl'"):
        load_motifs(extra=[("methyl", "[CH3]")])
    with pytest.raises(ValueError, match="unique; repeated: 'water'"):
        label_motifs(molecule("H2O"), motifs=[Motif("water", "O"), Motif("water", "O")])


def test_user_library(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "name,smarts,description\n"
        'oxygen,"[#8;X1,X2]",any oxygen\n'
        "\n"
        "hydroxyl H,[#1][OX2],the hydrogen and oxygen of any O-H\n",
        encoding="utf-8",
    )
    mine = load_motifs(path, extra=[("carbon", "[#6]"), Motif("CH3", "[CH3]", "C")])
    assert [motif.name for motif in mine] == ["oxygen", "hydroxyl H", "carbon", "CH3"]
    assert mine[0].description == "any oxygen"
    assert mine[2].description == ""
    table = label_motifs(molecule("CH3COOH"), motifs=mine)
    assert counts(table) == {"oxygen": 2, "hydroxyl H": 1, "carbon": 2, "CH3": 1}
    assert table.loc[table["motif"] == "CH3", "n_atoms"].item() == 1

    extended = load_motifs(extra=[Motif("acid OH", "[OX2;H1;$(OC=O)][#1]")])
    assert len(extended) == len(load_motifs()) + 1
    assert counts(label_motifs(molecule("CH3COOH"), motifs=extended))["acid OH"] == 1

    short = tmp_path / "short.csv"
    short.write_text("name,smarts\nnitrogen,[#7]\n", encoding="utf-8")
    assert load_motifs(short) == [Motif("nitrogen", "[#7]")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the first line must be the header"),
        ("name;smarts\nC;C\n", "the first line must be the header"),
        ("name,smarts,description\nany C,[#6,#7],x\n", "line 2: expected 3 fields"),
        ("name,smarts\nok,C\nbad,[C\n", r"line 3: Motif 'bad': RDKit cannot parse"),
        ("name,smarts\ntwice,C\ntwice,N\n", "repeated: 'twice'"),
    ],
)
def test_bad_library_file(tmp_path, text, message):
    path = tmp_path / "motifs.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        load_motifs(path)
    assert str(path) in str(error.value) or "repeated" in message


def test_missing_library_file_and_bad_extra(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_motifs(tmp_path / "missing.csv")
    with pytest.raises(TypeError, match=r"extra\[0\] must be a Motif"):
        load_motifs(extra=["[#6]"])


@pytest.fixture
def hand_made_table():
    return pd.DataFrame(
        {
            "structure": [0, 0, 1, 1],
            "motif": ["a", "b", "a", "a"],
            "atoms": [(0, 1), (2,), (0,), (1, 2, 3)],
            "n_atoms": [2, 1, 1, 3],
        }
    )


def test_motif_contributions(hand_made_table):
    per_atom = [np.array([1.0, 2.0, 4.0]), [0.5, 1.0, 2.0, 3.0]]
    result = motif_contributions(hand_made_table, per_atom)
    np.testing.assert_allclose(result["contribution"], [3.0, 4.0, 0.5, 6.0])
    assert "contribution" not in hand_made_table.columns
    pd.testing.assert_frame_equal(result[COLUMNS], hand_made_table)


def test_motif_contributions_errors(hand_made_table):
    with pytest.raises(ValueError, match="atom_contributions has 1 structures"):
        motif_contributions(hand_made_table, [np.ones(3)])
    with pytest.raises(ValueError, match=r"covers atoms \(1, 2, 3\) of structure 1"):
        motif_contributions(hand_made_table, [np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match=r"must be 1-D .* shape \(3, 1\)"):
        motif_contributions(hand_made_table, [np.ones((3, 1)), np.ones(4)])
    with pytest.raises(ValueError, match="needs the column"):
        motif_contributions(hand_made_table.drop(columns="atoms"), [np.ones(3)])


def test_summarize_motifs(hand_made_table):
    with_values = hand_made_table.assign(contribution=[1.0, 5.0, 2.0, 3.0])
    summary = summarize_motifs(with_values)
    assert list(summary.index) == ["a", "b"]
    assert list(summary.columns) == ["count", "mean", "std", "min", "max"]
    np.testing.assert_array_equal(summary["count"], [3, 1])
    np.testing.assert_allclose(
        summary.loc["a", ["mean", "std", "min", "max"]], [2, 1, 1, 3]
    )
    assert np.isnan(summary.loc["b", "std"])
    assert summary.loc["b", "mean"] == summary.loc["b", "max"] == 5.0

    counts_only = summarize_motifs(hand_made_table)
    assert list(counts_only.columns) == ["count"]
    assert counts_only["count"].to_dict() == {"a": 3, "b": 1}
    with pytest.raises(ValueError, match="'motif'"):
        summarize_motifs(hand_made_table.drop(columns="motif"))


def test_contributions_of_labelled_molecules():
    structures = [molecule("CH3COOH"), molecule("CH3CH2OH")]
    table = label_motifs(structures)
    per_atom = [np.arange(len(atoms), dtype=float) for atoms in structures]
    result = motif_contributions(table, per_atom)
    for row in result.itertuples():
        assert row.contribution == sum(row.atoms)
    summary = summarize_motifs(result)
    assert summary.loc["methyl", "count"] == 2


def test_import_is_light():
    code = (
        "import sys, propmap.atomistic._motifs; "
        "print(sorted({'rdkit', 'ase'} & set(sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
