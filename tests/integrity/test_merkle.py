"""The stored-node Merkle tree against the RFC's own recursive definitions."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import pytest

from integrity.hashing import leaf_hash
from integrity.merkle import (
    EMPTY_ROOT,
    Coord,
    Frontier,
    MemoryNodes,
    MissingNode,
    consistency_proof,
    inclusion_proof,
    reference_consistency,
    reference_inclusion,
    reference_root,
    root,
    root_coords,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 70
LEAVES = [leaf_hash(f"leaf {i}".encode()) for i in range(MAX_SIZE + 1)]  # one spare
STORE = MemoryNodes.from_leaves(LEAVES)

# RFC 6962 reference data as published with the Certificate Transparency and
# transparency-dev/merkle test suites: eight leaf inputs and the tree head for each size.
CT_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


class CountingFetch:
    def __init__(self, store: MemoryNodes) -> None:
        self.store = store
        self.calls: list[list[Coord]] = []

    def __call__(self, coords: Sequence[Coord]) -> dict[Coord, bytes]:
        self.calls.append(list(coords))
        return self.store.fetch(coords)


def flipped(proof: list[bytes], position: int) -> list[bytes]:
    tampered = list(proof)
    node = bytearray(tampered[position])
    node[0] ^= 0x01
    tampered[position] = bytes(node)
    return tampered


def ceil_log2(n: int) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0


# --- known answers -----------------------------------------------------------------------------


def test_empty_root_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root(0, MemoryNodes().fetch) == EMPTY_ROOT
    assert reference_root([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


def test_certificate_transparency_vectors() -> None:
    leaves = [leaf_hash(bytes.fromhex(data)) for data in CT_INPUTS]
    store = MemoryNodes.from_leaves(leaves)
    for size in range(1, len(leaves) + 1):
        assert root(size, store.fetch).hex() == CT_ROOTS[size - 1], size
    for (index, size), expected in CT_INCLUSION.items():
        proof = inclusion_proof(index, size, store.fetch)
        assert [node.hex() for node in proof] == expected
        assert verify_inclusion(leaves[index], index, size, proof, bytes.fromhex(CT_ROOTS[-1]))
    for (old, new), expected in CT_CONSISTENCY.items():
        proof = consistency_proof(old, new, store.fetch)
        assert [node.hex() for node in proof] == expected
        old_root, new_root = bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
        assert verify_consistency(old, new, old_root, new_root, proof)


# --- against the oracle, every size ------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_roots_and_inclusion_proofs_match_the_rfc(size: int) -> None:
    leaves = LEAVES[:size]
    expected_root = reference_root(leaves)
    assert root(size, STORE.fetch) == expected_root
    for index in range(size):
        proof = inclusion_proof(index, size, STORE.fetch)
        assert proof == reference_inclusion(index, leaves)
        assert len(proof) <= ceil_log2(size)
        assert verify_inclusion(leaves[index], index, size, proof, expected_root)


@pytest.mark.parametrize("new_size", range(1, MAX_SIZE + 1))
def test_consistency_proofs_match_the_rfc(new_size: int) -> None:
    leaves = LEAVES[:new_size]
    new_root = reference_root(leaves)
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(old_size, new_size, STORE.fetch)
        assert proof == reference_consistency(old_size, leaves)
        assert len(proof) <= 2 * ceil_log2(new_size)
        old_root = reference_root(leaves[:old_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_root_coords_name_only_perfect_aligned_nodes() -> None:
    assert root_coords(0) == []
    assert root_coords(1) == [(0, 0)]
    assert root_coords(8) == [(3, 0)]
    assert root_coords(13) == [(3, 0), (2, 2), (0, 12)]
    for size in range(1, MAX_SIZE + 1):
        assert all(coord in STORE.nodes for coord in root_coords(size))


# --- tampering -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 5, 8, 13, 33, 70])
def test_tampered_inclusion_fails(size: int) -> None:
    leaves = LEAVES[:size]
    good_root = reference_root(leaves)
    other_root = reference_root(LEAVES[: size + 1])
    for index in range(size):
        proof = inclusion_proof(index, size, STORE.fetch)
        leaf = leaves[index]
        for position in range(len(proof)):
            assert not verify_inclusion(leaf, index, size, flipped(proof, position), good_root)
        assert not verify_inclusion(leaf, (index + 1) % size, size, proof, good_root)
        assert not verify_inclusion(leaf, index, size, proof, other_root)
        assert not verify_inclusion(LEAVES[size], index, size, proof, good_root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], good_root)
        assert not verify_inclusion(leaf, index, size, proof + [bytes(32)], good_root)
        # A proof is bound to its tree size: it does not pass for a neighbouring size,
        # checked against that size's genuine root, as a forger would have to.
        assert not verify_inclusion(leaf, index, size + 1, proof, other_root)
        smaller_root = reference_root(leaves[:-1])
        assert not verify_inclusion(leaf, index, size - 1, proof, smaller_root)


@pytest.mark.parametrize("new_size", [2, 3, 5, 8, 13, 33, 70])
def test_tampered_consistency_fails(new_size: int) -> None:
    new_root = reference_root(LEAVES[:new_size])
    for old_size in range(1, new_size):
        old_root = reference_root(LEAVES[:old_size])
        proof = consistency_proof(old_size, new_size, STORE.fetch)
        for position in range(len(proof)):
            tampered = flipped(proof, position)
            assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
        assert not verify_consistency(old_size, new_size, new_root, new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, old_root, proof)
        bigger_root = reference_root(LEAVES[: new_size + 1])
        assert not verify_consistency(old_size, new_size + 1, old_root, bigger_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof + [bytes(32)])
        if old_size > 1:
            smaller_root = reference_root(LEAVES[: old_size - 1])
            assert not verify_consistency(old_size - 1, new_size, smaller_root, new_root, proof)


def test_degenerate_consistency() -> None:
    some_root = reference_root(LEAVES[:5])
    assert consistency_proof(5, 5, STORE.fetch) == []
    assert verify_consistency(5, 5, some_root, some_root, [])
    assert not verify_consistency(5, 5, some_root, reference_root(LEAVES[:6]), [])
    assert not verify_consistency(5, 5, some_root, some_root, [bytes(32)])
    # The empty tree is a prefix of every tree, and there is nothing to prove.
    assert verify_consistency(0, 5, EMPTY_ROOT, some_root, [])
    assert not verify_consistency(0, 5, some_root, some_root, [])
    assert not verify_consistency(3, 5, reference_root(LEAVES[:3]), some_root, [])


@pytest.mark.parametrize(
    "arguments",
    [
        ("not bytes", 0, 1, [], LEAVES[0]),
        (LEAVES[0][:31], 0, 1, [], LEAVES[0]),
        (LEAVES[0], 0, 1, [], b"short"),
        (LEAVES[0], -1, 1, [], LEAVES[0]),
        (LEAVES[0], 1, 1, [], LEAVES[0]),
        (LEAVES[0], 0, 0, [], LEAVES[0]),
        (LEAVES[0], True, 2, [LEAVES[1]], LEAVES[0]),
        (LEAVES[0], 0, "1", [], LEAVES[0]),
        (LEAVES[0], 0, 2, "not a list", LEAVES[0]),
        (LEAVES[0], 0, 2, [None], LEAVES[0]),
        (LEAVES[0], 0, 2, [b"x" * 31], LEAVES[0]),
    ],
)
def test_verify_inclusion_rejects_nonsense_without_raising(arguments: tuple) -> None:
    assert verify_inclusion(*arguments) is False


@pytest.mark.parametrize(
    "arguments",
    [
        (3, 2, EMPTY_ROOT, EMPTY_ROOT, []),
        (-1, 2, EMPTY_ROOT, EMPTY_ROOT, []),
        (1, 2, b"short", EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 2, EMPTY_ROOT, None, [EMPTY_ROOT]),
        (1, 2, EMPTY_ROOT, EMPTY_ROOT, None),
        (1, 2, EMPTY_ROOT, EMPTY_ROOT, ["hex"]),
        (1.0, 2, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
    ],
)
def test_verify_consistency_rejects_nonsense_without_raising(arguments: tuple) -> None:
    assert verify_consistency(*arguments) is False


def test_out_of_range_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="outside a tree of size 3"):
        inclusion_proof(3, 3, STORE.fetch)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(-1, 3, STORE.fetch)
    with pytest.raises(ValueError, match="non-empty tree"):
        inclusion_proof(0, 0, STORE.fetch)
    with pytest.raises(ValueError, match="larger than new tree size"):
        consistency_proof(5, 4, STORE.fetch)
    with pytest.raises(ValueError, match="at least 1"):
        consistency_proof(0, 4, STORE.fetch)
    with pytest.raises(ValueError, match="negative"):
        root(-1, STORE.fetch)


def test_missing_stored_nodes_are_reported() -> None:
    with pytest.raises(MissingNode, match="level 0, index 2"):
        root(3, MemoryNodes.from_leaves(LEAVES[:2]).fetch)


# --- one fetch per operation ---------------------------------------------------------------------


def test_each_operation_fetches_once() -> None:
    for size in range(1, 40):
        fetch = CountingFetch(STORE)
        root(size, fetch)
        assert len(fetch.calls) == 1
        for index in range(size):
            fetch = CountingFetch(STORE)
            inclusion_proof(index, size, fetch)
            assert len(fetch.calls) == (1 if size > 1 else 0)
        for old_size in range(1, size + 1):
            fetch = CountingFetch(STORE)
            consistency_proof(old_size, size, fetch)
            assert len(fetch.calls) == (1 if old_size < size else 0)
            # asking for a node twice would waste the one query
            assert all(len(call) == len(set(call)) for call in fetch.calls)


# --- incremental appends --------------------------------------------------------------------------


def test_frontier_builds_the_same_tree() -> None:
    frontier = Frontier()
    built: dict[Coord, bytes] = {}
    for size, leaf in enumerate(LEAVES, start=1):
        completed = frontier.append(leaf)
        assert completed[0] == ((0, size - 1), leaf)
        assert [coord[0] for coord, _ in completed] == list(range(len(completed)))
        built.update(completed)
        assert frontier.size == size
        assert frontier.root() == reference_root(LEAVES[:size])
        assert built == MemoryNodes.from_leaves(LEAVES[:size]).nodes


def test_frontier_resumes_from_stored_nodes() -> None:
    for size in range(len(LEAVES)):
        coords = Frontier.coords(size)
        resumed = Frontier(size, STORE.fetch(coords))
        assert resumed.size == size
        assert resumed.root() == reference_root(LEAVES[:size])
        store = MemoryNodes(STORE.fetch(coords))
        for coord, hashed in resumed.extend(LEAVES[size:]):
            store.add(coord, hashed)
        assert resumed.root() == reference_root(LEAVES)
        assert root(len(LEAVES), store.fetch) == reference_root(LEAVES)


def test_frontier_refuses_incomplete_state_and_bad_leaves() -> None:
    with pytest.raises(MissingNode, match="size 5"):
        Frontier(5, {(2, 0): LEAVES[0]})
    with pytest.raises(ValueError, match="32 bytes"):
        Frontier().append(b"too short")
