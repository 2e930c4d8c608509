"""An RFC 6962 / RFC 9162 Merkle tree whose nodes live in storage.

A node is named by its coordinate (level, index): the root of the perfect subtree over the
leaves [index * 2**level, (index + 1) * 2**level). Level 0 holds the leaf hashes. Storage
only ever holds such perfect, aligned nodes, because they never change once complete; any
other subtree root the RFC needs (the ragged right edge of a tree whose size is not a power
of two) is folded on the fly from the O(log n) perfect nodes that tile it.

Every operation first works out all the coordinates it needs, asks `fetch` for them in a
single call (so a database answers with one query), and only then computes. `fetch` is not
called at all when nothing is needed (a one-leaf inclusion proof, an empty tree, ...).

The `reference_*` functions are the RFC's recursive definitions over a plain list of leaf
hashes: slow and obviously right, they are the oracle the stored-node versions are tested
against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from integrity.hashing import HASH_SIZE, node_hash

Coord = tuple[int, int]  # (level, index)
Fetch = Callable[[Sequence[Coord]], Mapping[Coord, bytes]]

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) in RFC 9162 section 2.1.1


class MissingNode(LookupError):
    """Storage did not return a node an operation needed: the stored tree is incomplete."""


# --- shapes -------------------------------------------------------------------------------


def _split(size: int) -> int:
    """The RFC's k: the largest power of two strictly smaller than size (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _tiles(start: int, end: int) -> list[Coord]:
    """The perfect nodes tiling leaves [start, end), largest (leftmost) first.

    Only valid for the ranges the RFC's recursion produces, whose start is a multiple of
    the largest power of two not above their size, so every tile is aligned.
    """
    tiles: list[Coord] = []
    offset = start
    for level in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> level & 1:
            tiles.append((level, offset >> level))
            offset += 1 << level
    return tiles


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root over consecutive perfect subtrees, largest first: the RFC splits each ragged
    range into its largest perfect left part and the rest, so it nests to the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _ask(fetch: Fetch, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The subtree root of every [start, end) range, with one call to fetch for them all."""
    tilings = [_tiles(start, end) for start, end in ranges]
    wanted = list(dict.fromkeys(coord for tiling in tilings for coord in tiling))
    if not wanted:
        return []
    nodes = fetch(wanted)
    missing = [coord for coord in wanted if coord not in nodes]
    if missing:
        level, index = missing[0]
        raise MissingNode(
            f"storage has no node at level {level}, index {index} "
            f"({len(missing)} of {len(wanted)} requested nodes missing)"
        )
    return [_fold([nodes[coord] for coord in tiling]) for tiling in tilings]


# --- tree heads and proofs over stored nodes -------------------------------------------------


def root_coords(size: int) -> list[Coord]:
    """The stored nodes whose fold is the root of the first `size` leaves."""
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    return _tiles(0, size)


def root(size: int, fetch: Fetch) -> bytes:
    """MTH of the first `size` leaves (RFC 9162 section 2.1.1)."""
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return _ask(fetch, [(0, size)])[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The sibling subtrees of PATH(index, D[0:size]), nearest the leaf first."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # the recursion appends outermost first; the proof lists innermost first
    return ranges


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 2.1.3.1)."""
    if size <= 0:
        raise ValueError(f"an inclusion proof needs a non-empty tree, got size {size}")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _ask(fetch, _inclusion_ranges(index, size))


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees of PROOF(old_size, D[0:new_size]), in proof order."""
    ranges: list[tuple[int, int]] = []
    start, end, m = 0, new_size, old_size
    whole_old_tree = True  # SUBPROOF's b: the old tree is this very subtree, already known
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def consistency_proof(old_size: int, new_size: int, fetch: Fetch) -> list[bytes]:
    """Proof that the first `old_size` leaves are a prefix of the first `new_size`
    (RFC 9162 2.1.4.1). Empty when the sizes are equal."""
    if old_size <= 0:
        raise ValueError(
            f"a consistency proof needs an old tree size of at least 1, got {old_size}"
        )
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")
    return _ask(fetch, _consistency_ranges(old_size, new_size))


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_proof(proof: object) -> bool:
    return isinstance(proof, list | tuple) and all(_is_hash(item) for item in proof)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows leaf_hash at `index` in the tree of `size` leaves with `root`.

    Never raises: malformed arguments are simply not a proof.
    """
    if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
        return False
    if not (_is_size(index) and _is_size(size)) or not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0:
            return False  # the proof is longer than the tree is deep
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                # on the ragged right edge: climb past the levels where this node has no sibling
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    Equal sizes need an empty proof and equal roots; the empty tree is a prefix of every tree
    (empty proof, old_root EMPTY_ROOT). Never raises.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # the old tree is a perfect subtree the proof leaves out, since the verifier has it
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_result = new_result = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_result = node_hash(node, old_result)
            new_result = node_hash(node, new_result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_result = node_hash(new_result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_result == old_root and new_result == new_root


# --- incremental appends ----------------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree: enough to append leaves and compute the root.

    At size n it holds one perfect subtree per set bit of n, largest first (the same nodes
    `root_coords(n)` names). Appending a leaf merges equal-sized neighbours, like carrying
    in binary addition, and each merge is a node that just became complete and should be
    stored.
    """

    def __init__(self, size: int = 0, nodes: Mapping[Coord, bytes] | None = None) -> None:
        coords = self.coords(size)
        nodes = nodes or {}
        missing = [coord for coord in coords if coord not in nodes]
        if missing:
            level, index = missing[0]
            raise MissingNode(
                f"resuming a tree of size {size} needs the node at level {level}, index {index}"
            )
        self._size = size
        self._edge: list[tuple[Coord, bytes]] = [(coord, nodes[coord]) for coord in coords]

    @staticmethod
    def coords(size: int) -> list[Coord]:
        """The stored nodes a Frontier needs to resume at tree size `size`."""
        return root_coords(size)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[Coord, bytes]]:
        """Add the next leaf; return every node that became complete, the leaf first."""
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash must be 32 bytes")
        carry: tuple[Coord, bytes] = ((0, self._size), leaf_hash)
        completed = [carry]
        while self._edge and self._edge[-1][0][0] == carry[0][0]:
            (level, index), left = self._edge.pop()
            carry = ((level + 1, index >> 1), node_hash(left, carry[1]))
            completed.append(carry)
        self._edge.append(carry)
        self._size += 1
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[Coord, bytes]]:
        """Append several leaves; return all the nodes completed along the way."""
        return [node for leaf in leaf_hashes for node in self.append(leaf)]

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        return _fold([hashed for _, hashed in self._edge])


# --- an in-memory node store --------------------------------------------------------------------


class MemoryNodes:
    """A dict of stored nodes, for tests and for trees built in memory."""

    def __init__(self, nodes: Mapping[Coord, bytes] | None = None) -> None:
        self.nodes: dict[Coord, bytes] = dict(nodes or {})

    @classmethod
    def from_leaves(cls, leaf_hashes: Iterable[bytes]) -> MemoryNodes:
        """Every complete node over these leaves, built level by level (independently of
        Frontier, so each can check the other)."""
        store = cls()
        level_hashes = list(leaf_hashes)
        level = 0
        while level_hashes:
            for index, hashed in enumerate(level_hashes):
                store.add((level, index), hashed)
            level_hashes = [
                node_hash(level_hashes[i], level_hashes[i + 1])
                for i in range(0, len(level_hashes) - 1, 2)
            ]
            level += 1
        return store

    def add(self, coord: Coord, hashed: bytes) -> None:
        self.nodes[coord] = hashed

    def fetch(self, coords: Sequence[Coord]) -> dict[Coord, bytes]:
        """Answer like storage would: the nodes it has, silently omitting the rest."""
        return {coord: self.nodes[coord] for coord in coords if coord in self.nodes}


# --- the RFC's own recursive definitions, as a test oracle ------------------------------------


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from RFC 9162 2.1.1, over leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_inclusion(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) straight from RFC 9162 2.1.3.1."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of size {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return reference_inclusion(index, leaves[:k]) + [reference_root(leaves[k:])]
    return reference_inclusion(index - k, leaves[k:]) + [reference_root(leaves[:k])]


def reference_consistency(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) straight from RFC 9162 2.1.4.1."""
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"old tree size {old_size} is not in 1..{len(leaves)}")
    return _reference_subproof(old_size, leaves, True)


def _reference_subproof(m: int, leaves: Sequence[bytes], whole_old_tree: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole_old_tree else [reference_root(leaves)]
    k = _split(n)
    if m <= k:
        return _reference_subproof(m, leaves[:k], whole_old_tree) + [reference_root(leaves[k:])]
    return _reference_subproof(m - k, leaves[k:], False) + [reference_root(leaves[:k])]
