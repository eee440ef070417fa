"""Finding and cutting out the molecules of crystals and clusters."""

import numpy as np
import pytest

pytest.importorskip("ase")

from ase import Atoms
from ase.build import bulk, molecule
from ase.data import s22

from propmap.atomistic._molecules import (
    _misfit,
    extract_molecule,
    find_molecules,
    match_molecule,
    split_into_molecules,
)


def water_box() -> Atoms:
    """Two waters in a 6 Å cubic box, the first one split across two faces."""
    first = molecule("H2O")
    first.translate([3.0, 0.2, 0.2])  # one H below y = 0, both H below z = 0
    second = molecule("H2O")
    second.translate([3.0, 3.0, 3.0])
    box = first + second
    box.set_cell([6.0, 6.0, 6.0])
    box.pbc = True
    box.wrap()
    return box


def test_a_molecule_split_across_the_cell_is_found_and_made_whole():
    box = water_box()
    assert box.get_distance(0, 1) > 4  # the stored positions are split

    groups = find_molecules(box)

    assert [group.tolist() for group in groups] == [[0, 1, 2], [3, 4, 5]]
    reference = molecule("H2O")
    for indices, water in zip(groups, split_into_molecules(box), strict=True):
        assert not water.pbc.any()
        assert water.cell.rank == 0
        np.testing.assert_array_equal(water.info["parent_indices"], indices)
        for hydrogen in (1, 2):
            assert 0.96 < water.get_distance(0, hydrogen) < 1.0
        np.testing.assert_allclose(
            water.positions - water.positions[0],
            reference.positions - reference.positions[0],
            atol=1e-12,
        )


def test_extract_keeps_the_order_of_indices_and_the_first_atom_in_place():
    box = water_box()
    box.set_tags([10, 11, 12, 13, 14, 15])
    box.info["source"] = "box.xyz:0"

    water = extract_molecule(box, [2, 0, 1])

    assert water.get_chemical_symbols() == ["H", "O", "H"]
    assert water.get_tags().tolist() == [12, 10, 11]
    np.testing.assert_array_equal(water.info["parent_indices"], [2, 0, 1])
    assert water.info["source"] == "box.xyz:0"
    np.testing.assert_allclose(water.positions[0], box.positions[2])
    assert 0.96 < water.get_distance(1, 0) < 1.0
    assert 0.96 < water.get_distance(1, 2) < 1.0


def test_split_is_extract_of_each_molecule_found():
    box = water_box()[[0, 3, 1, 4, 2, 5]]  # the two waters interleaved

    groups = find_molecules(box)

    assert [group.tolist() for group in groups] == [[0, 2, 4], [1, 3, 5]]
    for indices, split in zip(groups, split_into_molecules(box), strict=True):
        cut = extract_molecule(box, indices)
        np.testing.assert_allclose(split.positions, cut.positions)
        np.testing.assert_array_equal(split.numbers, cut.numbers)


@pytest.mark.parametrize("periodic", [False, True])
def test_molecules_far_apart_in_a_cluster(periodic):
    names = ["C6H6", "H2O", "CH4", "NH3", "CH3COOH"]
    cluster = Atoms()
    for number, name in enumerate(names):
        part = molecule(name)
        part.translate([8.0 * number, 0.0, 0.0])
        cluster += part
    if periodic:
        cluster.set_cell([60.0, 20.0, 20.0])
        cluster.pbc = True

    groups = find_molecules(cluster)

    sizes = [len(molecule(name)) for name in names]
    starts = np.cumsum([0, *sizes])
    assert [group.tolist() for group in groups] == [
        list(range(start, start + size))
        for start, size in zip(starts[:-1], sizes, strict=True)
    ]
    for indices, part in zip(groups, split_into_molecules(cluster), strict=True):
        np.testing.assert_array_equal(part.positions, cluster.positions[indices])


@pytest.mark.parametrize("name", s22.s22)
def test_s22_dimers_split_into_their_two_monomers(name):
    dimer = s22.create_s22_system(name)
    n_a, n_b = s22.get_number_of_dimer_atoms(name)

    groups = find_molecules(dimer)

    assert [group.tolist() for group in groups] == [
        list(range(n_a)),
        list(range(n_a, n_a + n_b)),
    ]


def chain() -> Atoms:
    """An infinite carbon chain along x: periodic along x only."""
    return Atoms(
        "C2",
        positions=[[0.0, 5.0, 5.0], [1.3, 5.0, 5.0]],
        cell=[2.6, 10.0, 10.0],
        pbc=[True, False, False],
    )


@pytest.mark.parametrize(
    "network",
    [
        bulk("Si"),
        bulk("Si", cubic=True),
        chain(),
        Atoms("C", cell=[1.4, 10.0, 10.0], pbc=[True, False, False]),
    ],
    ids=["silicon", "silicon-cubic", "chain", "one-atom-chain"],
)
def test_infinite_covalent_networks_are_no_molecules(network):
    with pytest.raises(ValueError, match="form an infinite covalent network"):
        find_molecules(network)
    with pytest.raises(ValueError, match="form an infinite covalent network"):
        split_into_molecules(network)
    with pytest.raises(ValueError, match=r"own periodic image \("):
        extract_molecule(network, np.arange(len(network)))


def test_the_chain_without_periodicity_is_one_molecule():
    finite = chain()
    finite.pbc = False

    (group,) = find_molecules(finite)

    assert group.tolist() == [0, 1]


def test_indices_that_are_not_one_molecule():
    box = water_box()

    with pytest.raises(ValueError, match=r"atoms \[3\] are not bonded to atom 0"):
        extract_molecule(box, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="non-empty 1-D sequence of integer"):
        extract_molecule(box, [])
    with pytest.raises(ValueError, match="non-empty 1-D sequence of integer"):
        extract_molecule(box, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"indices repeat the atoms \[1\]"):
        extract_molecule(box, [0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"indices \[6, -1\] are out of range"):
        extract_molecule(box, [0, 6, -1])


def test_structures_that_cannot_be_split():
    box = water_box()
    box.cell[2] = 0.0

    with pytest.raises(ValueError, match=r"periodic .* zero or linearly dependent"):
        find_molecules(box)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        find_molecules(water_box(), scale=0)
    with pytest.raises(ValueError, match="has no atoms"):
        find_molecules(Atoms())


# -- matching a molecule's atoms to another geometry of it


def _scrambled(template, seed=0, noise=0.02):
    """``template`` with its atoms shuffled, rotated, moved and jiggled; and the
    order that puts them back."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(template))
    scrambled = template[order]
    scrambled.rotate(73, (1, 2, 3), center="COM")
    scrambled.translate([4.0, -2.0, 1.0])
    scrambled.positions += rng.normal(0, noise, scrambled.positions.shape)
    return scrambled, np.argsort(order)


@pytest.mark.parametrize("name", ["CH3CH2OH", "trans-butane", "C6H6", "CH3COOH"])
def test_match_molecule_undoes_a_shuffle(name):
    template = molecule(name)
    scrambled, back = _scrambled(template)
    matched = match_molecule(scrambled, template)
    assert list(matched.numbers) == list(template.numbers)
    # every atom back at its own place (up to the symmetry of the molecule:
    # positions, not labels, are compared)
    assert _misfit(matched.positions, template) < 0.05
    # bonds are kept: the heavy atoms are exactly where the shuffle took them
    heavy = template.numbers > 1
    if name == "CH3CH2OH":
        np.testing.assert_allclose(
            matched.positions[heavy], scrambled.positions[back][heavy]
        )


def test_match_molecule_finds_methyl_rotors_past_the_limit_of_graph_matches():
    # hexamethylbenzene's graph has 12·6⁶ automorphisms, far more than are tried
    from ase.build import molecule as build

    benzene = build("C6H6")
    atoms = benzene[[a for a in range(12) if benzene.numbers[a] == 6]]
    methyls = Atoms()
    for carbon in atoms.positions:
        out = carbon / np.linalg.norm(carbon)
        methyl = build("CH4")
        del methyl[[1]]  # CH3, pointing away from the ring
        methyl.translate(carbon + 1.5 * out - methyl.positions[0])
        methyls += methyl
    hexamethylbenzene = atoms + methyls
    scrambled, _ = _scrambled(hexamethylbenzene, seed=3, noise=0.0)
    matched = match_molecule(scrambled, hexamethylbenzene)
    assert _misfit(matched.positions, hexamethylbenzene) < 1e-6


def test_match_molecule_keeps_a_molecule_already_in_order():
    template = molecule("CH3CH2OH")
    moved = template.copy()
    moved.translate([1.0, 0.0, 0.0])
    assert match_molecule(moved, template) is moved


def test_match_molecule_refuses_other_molecules():
    with pytest.raises(ValueError, match="not the template's"):
        match_molecule(molecule("H2O"), molecule("CH4"))
    # same formula, other bonds: ethanol is not dimethyl ether
    with pytest.raises(ValueError, match="isomers"):
        match_molecule(molecule("CH3OCH3"), molecule("CH3CH2OH"))
