"""Reading structures with read_structures, and their targets."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ase")

import ase.io
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator

from propmap.atomistic._io import atom_targets, read_structures, structure_targets


def labelled_water(energy: float) -> Atoms:
    """Water with a per-structure info entry, a per-atom array and a calculator
    that holds an energy and forces, as an extended XYZ file keeps them."""
    atoms = molecule("H2O")
    atoms.info["gap"] = 2.5 + energy
    atoms.new_array("hirshfeld", np.array([-0.8, 0.4, 0.4]))
    atoms.calc = SinglePointCalculator(
        atoms, energy=energy, forces=np.full((3, 3), energy)
    )
    return atoms


@pytest.fixture
def waters():
    return [labelled_water(-1.0), labelled_water(-2.0)]


def test_extxyz_round_trip_keeps_info_arrays_and_calculator(tmp_path, waters):
    path = tmp_path / "waters.extxyz"
    ase.io.write(path, waters, format="extxyz")

    structures = read_structures(path)

    assert len(structures) == 2
    for position, (read, written) in enumerate(zip(structures, waters, strict=True)):
        np.testing.assert_allclose(read.positions, written.positions)
        assert read.info["source"] == f"{path}:{position}"
    np.testing.assert_allclose(structure_targets(structures, "energy"), [-1.0, -2.0])
    np.testing.assert_allclose(structure_targets(structures, "gap"), [1.5, 0.5])
    forces = atom_targets(structures, "forces")
    np.testing.assert_allclose(forces[1], np.full((3, 3), -2.0))
    charges = atom_targets(structures, "hirshfeld")
    np.testing.assert_allclose(charges[0], [-0.8, 0.4, 0.4])


@pytest.mark.parametrize(
    ("name", "format", "atoms"),
    [
        ("molecule.xyz", "xyz", molecule("CH3CH2OH")),
        ("molecule.sdf", "sdf", molecule("CH3CH2OH")),
        ("molecule.pdb", "proteindatabank", molecule("CH3CH2OH")),
        ("crystal.cif", "cif", bulk("NaCl", "rocksalt", a=5.64)),
        ("POSCAR", "vasp", bulk("Si", "diamond", a=5.43, cubic=True)),
    ],
)
def test_formats_round_trip_with_the_format_told_from_the_file(
    tmp_path, name, format, atoms
):
    path = tmp_path / name
    ase.io.write(path, atoms, format=format)

    (read,) = read_structures(path)

    assert read.get_chemical_symbols() == atoms.get_chemical_symbols()
    if atoms.pbc.any():  # CIF rotates the cell to its standard orientation
        np.testing.assert_allclose(read.cell.cellpar(), atoms.cell.cellpar())
        np.testing.assert_allclose(
            read.get_scaled_positions(), atoms.get_scaled_positions(), atol=1e-6
        )
    else:
        np.testing.assert_allclose(read.positions, atoms.positions, atol=1e-3)
    assert read.info["source"] == f"{path}:0"
    assert (
        read_structures(str(path), format=format)[0].info["source"]
        == read.info["source"]
    )


def test_directory_reads_files_ase_knows_sorted_by_name(tmp_path, waters):
    ase.io.write(tmp_path / "b.xyz", waters, format="extxyz")
    ase.io.write(tmp_path / "a.cif", bulk("Cu"), format="cif")
    ase.io.write(tmp_path / ".hidden.xyz", waters[0], format="extxyz")
    (tmp_path / "notes.txt").write_text("not a structure\n")
    (tmp_path / "empty.xyz").write_text("")
    (tmp_path / "sub").mkdir()
    ase.io.write(tmp_path / "sub" / "c.xyz", waters[0], format="extxyz")

    structures = read_structures(tmp_path)

    assert [atoms.info["source"] for atoms in structures] == [
        f"{tmp_path / 'a.cif'}:0",
        f"{tmp_path / 'b.xyz'}:0",
        f"{tmp_path / 'b.xyz'}:1",
    ]


def test_directory_with_a_format_reads_every_file_in_it(tmp_path, waters):
    ase.io.write(tmp_path / "one", waters[0], format="extxyz")
    ase.io.write(tmp_path / "two", waters, format="extxyz")

    assert len(read_structures(tmp_path, format="extxyz")) == 3
    (tmp_path / "notes.txt").write_text("not a structure\n")
    with pytest.raises(ValueError, match=r"could not read .*notes.txt' as format"):
        read_structures(tmp_path, format="extxyz")


def test_directory_without_structures_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a structure\n")

    with pytest.raises(ValueError, match="holds no file that ase can read"):
        read_structures(tmp_path)


def test_list_of_paths_keeps_its_order_and_index_selects_per_file(tmp_path, waters):
    first, second = tmp_path / "first.xyz", tmp_path / "second.xyz"
    ase.io.write(first, waters, format="extxyz")
    ase.io.write(second, waters[::-1], format="extxyz")

    sources = [
        a.info["source"] for a in read_structures([second, str(first)], index=-1)
    ]
    assert sources == [f"{second}:1", f"{first}:1"]
    sliced = read_structures(first, index="1:")
    assert [a.info["source"] for a in sliced] == [f"{first}:1"]
    assert len(read_structures(first, index=slice(None, None, 2))) == 1


def test_an_existing_source_is_kept(tmp_path):
    atoms = molecule("H2O")
    atoms.info["source"] = "my-database:42"
    ase.io.write(tmp_path / "w.xyz", atoms, format="extxyz")

    assert read_structures(tmp_path / "w.xyz")[0].info["source"] == "my-database:42"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.xyz"):
        read_structures(tmp_path / "nowhere.xyz")


@pytest.mark.parametrize(
    ("name", "content", "format", "match"),
    [
        ("notes.txt", "some text\n", None, "notes.txt': ase does not recognise"),
        ("m.xyz", "1\n\nH 0 0 0\n", "no-such-format", "as format 'no-such-format'"),
        ("broken.xyz", "3\n\nO 0 0 0\nH 1 0\n", None, "broken.xyz'; the file may be"),
        ("broken.cif", "data_x\nnonsense\n", None, "broken.cif'; the file may be"),
        ("empty.xyz", "", None, "empty.xyz' is empty: it holds no structures"),
        ("none.xyz", "1\n\nH 0 0 0\n0\n\n", None, r"Structure 1 of .*none.xyz' has no"),
    ],
)
def test_unreadable_files_give_errors_that_name_them(
    tmp_path, name, content, format, match
):
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(ValueError, match=match):
        read_structures(path, format=format)


def test_bad_paths_and_indices(tmp_path, waters):
    path = tmp_path / "w.xyz"
    ase.io.write(path, waters, format="extxyz")

    with pytest.raises(IndexError, match=r"index 2 is out of range .* holds 2"):
        read_structures(path, index=2)
    with pytest.raises(ValueError, match="not an ase index"):
        read_structures(path, index="first")
    with pytest.raises(ValueError, match="No paths given"):
        read_structures([])
    with pytest.raises(TypeError, match="paths must be a path"):
        read_structures(3)


def test_missing_property_lists_what_there_is(waters):
    with pytest.raises(KeyError) as error:
        structure_targets(waters, "dipole")
    message = str(error.value)
    assert "No property 'dipole' in the structures" in message
    assert "available: energy, forces, gap, hirshfeld, numbers, positions" in message

    waters[1].info.pop("gap")
    with pytest.raises(KeyError, match=r"'gap' in structure 1;"):
        structure_targets(waters, "gap")
    with pytest.raises(KeyError, match="per-atom property: read it with atom_targets"):
        structure_targets(waters, "hirshfeld")
    with pytest.raises(KeyError, match="per-structure property: read it with struct"):
        atom_targets(waters, "gap")


def test_values_must_be_finite_numbers_of_the_right_shape(waters):
    waters[0].info["label"] = "polar"
    waters[1].info["label"] = 1.0
    waters[0].info["bad"] = waters[1].info["bad"] = np.nan
    waters[0].new_array("short", np.zeros((3, 2)))
    waters[1].new_array("short", np.zeros((3, 2)))

    with pytest.raises(ValueError, match=r"'label' of structure 0 is 'polar', not a"):
        structure_targets(waters, "label")
    with pytest.raises(ValueError, match="'bad' of structure 0 is not finite"):
        structure_targets(waters, "bad")
    with pytest.raises(ValueError, match=r"'forces' .* shape \(3, 3\), not a single"):
        structure_targets(waters, "forces")
    with pytest.raises(ValueError, match="not one value per atom"):
        atom_targets(waters, "energy")
    assert atom_targets(waters, "short")[0].shape == (3, 2)


def test_calculator_results_of_moved_atoms_are_not_used(waters):
    waters[0].positions += 0.1

    with pytest.raises(KeyError, match="'energy' in structure 0"):
        structure_targets(waters, "energy")


# -- SD files: every record, with its tags, through RDKit


def _write_sd(path, names=("ethanol", "methylamine", "water")):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    smiles = {"ethanol": "CCO", "methylamine": "CN", "water": "O"}
    writer = Chem.SDWriter(str(path))
    for k, name in enumerate(names):
        molecule = Chem.AddHs(Chem.MolFromSmiles(smiles[name]))
        AllChem.EmbedMolecule(molecule, randomSeed=k)
        molecule.SetProp("_Name", name)
        molecule.SetProp("activity", str(1.5 * k))
        molecule.SetProp("series", f"S{k}")
        writer.write(molecule)
    writer.close()
    return path


def test_sd_files_are_read_record_by_record_with_their_tags(tmp_path):
    path = _write_sd(tmp_path / "ligands.sdf")
    structures = read_structures(path)
    assert [s.get_chemical_formula() for s in structures] == ["C2H6O", "CH5N", "H2O"]
    assert [s.info["name"] for s in structures] == ["ethanol", "methylamine", "water"]
    np.testing.assert_array_equal(
        structure_targets(structures, "activity"), [0, 1.5, 3]
    )
    assert structures[2].info["series"] == "S2"
    assert structures[1].info["source"] == f"{path}:1"


def test_rdkits_bundled_egfr_ligands_are_365_structures():
    import rdkit

    path = Path(rdkit.__file__).parent / "Contrib" / "PBF" / "testData" / "egfr.sdf"
    if not path.exists():
        pytest.skip("this RDKit build ships no egfr.sdf")
    structures = read_structures(path)
    assert len(structures) == 365
    assert all("H" in s.get_chemical_symbols() for s in structures)
    assert structures[0].info["id"] == "ZINC02640583"


def test_a_broken_sd_record_is_named(tmp_path):
    path = _write_sd(tmp_path / "broken.sdf")
    text = path.read_text().split("$$$$\n")
    text[1] = (
        "garbage\n\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\nnot atoms\nM  END\n"
    )
    path.write_text("$$$$\n".join(text))
    with pytest.raises(ValueError, match=r"record 1 of .*broken\.sdf"):
        read_structures(path)


def test_a_multi_record_file_read_as_one_structure_warns(tmp_path):
    sd = _write_sd(tmp_path / "three.sdf")
    as_mol = tmp_path / "three.mol"  # ase's reader of .mol keeps the first record
    as_mol.write_text(sd.read_text())
    with pytest.warns(UserWarning, match="holds 3 SD records but was read as 1"):
        structures = read_structures(as_mol)
    assert len(structures) == 1


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_files_are_read_as_the_plain_file(tmp_path, suffix):
    """Decompressed once into memory (ase seeks in the stream otherwise, which
    made the shipped 2,000 QM9 molecules take 27 s instead of 0.5 s)."""
    import bz2
    import gzip
    import lzma

    from propmap.datasets import load_qm9

    plain = tmp_path / "qm9.extxyz"
    ase.io.write(plain, load_qm9(30), format="extxyz")
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix]
    packed = tmp_path / f"qm9.extxyz{suffix}"
    with opener(packed, "wb") as stream:
        stream.write(plain.read_bytes())
    expected, found = read_structures(str(plain)), read_structures(str(packed))
    assert len(found) == len(expected) == 30
    for one, other in zip(found, expected, strict=True):
        np.testing.assert_array_equal(one.positions, other.positions)
        assert one.info["gap"] == other.info["gap"]
    corrupt = tmp_path / f"bad.extxyz{suffix}"
    corrupt.write_bytes(b"not compressed at all")
    with pytest.raises(ValueError, match="could not read"):
        read_structures(str(corrupt))


def test_an_ase_database_keeps_its_key_value_pairs(tmp_path):
    """ase.io.read drops a database row's key-value pairs; they are the
    properties (pyxtal's crystal sets come as one), so they become atoms.info,
    beside the calculator's results."""
    import ase.db

    path = tmp_path / "set.db"
    with ase.db.connect(str(path)) as database:
        for k, name in enumerate(("H2O", "NH3", "CH4")):
            atoms = molecule(name)
            atoms.calc = SinglePointCalculator(atoms, energy=-float(k))
            database.write(atoms, lattice_energy=1.5 * k, label=name)
    structures = read_structures(path)
    assert [a.info["label"] for a in structures] == ["H2O", "NH3", "CH4"]
    np.testing.assert_allclose(
        structure_targets(structures, "lattice_energy"), [0.0, 1.5, 3.0]
    )
    np.testing.assert_allclose(structure_targets(structures, "energy"), [0, -1, -2])
    assert structures[0].info["source"].endswith("set.db:0")
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match=r"could not read .*broken\.db' as a database"):
        read_structures(broken)


def test_flat_or_hydrogen_less_sd_records_are_counted_in_a_warning(tmp_path):
    """Drawings (2-D coordinates, no explicit hydrogens) are read, with a
    warning that counts them; 3-D records with hydrogens raise none."""
    import warnings

    from rdkit import Chem
    from rdkit.Chem import AllChem

    path = tmp_path / "drawings.sdf"
    writer = Chem.SDWriter(str(path))
    for smiles in ("CCO", "c1ccccc1", "CN"):
        molecule = Chem.MolFromSmiles(smiles)
        AllChem.Compute2DCoords(molecule)
        writer.write(molecule)
    writer.close()
    with pytest.warns(UserWarning, match="records of") as caught:
        structures = read_structures(path)
    assert len(structures) == 3
    (message,) = [str(w.message) for w in caught]
    assert "3 flat (2-D coordinates" in message
    assert "3 with carbon but no explicit hydrogen" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_structures(_write_sd(tmp_path / "ligands.sdf"))
