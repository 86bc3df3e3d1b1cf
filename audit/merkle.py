"""RFC 6962 / RFC 9162 Merkle trees: hashing, compact ranges, inclusion and consistency proofs.

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || left || right)``,
so a leaf can never be passed off as a node. A tree of ``n`` leaves splits at the largest power
of two below ``n`` (not at the midpoint), which is what makes the roots and proofs interoperable
with Certificate Transparency tooling.

Proof *generation* takes a ``subtree(lo, hi)`` callable returning the root of leaves
``[lo, hi)``: the store answers it from stored leaf hashes, tests from a list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class CompactRange:
    """The roots of the perfect subtrees that make up a tree of ``size`` leaves (its frontier).

    Appending costs one leaf plus, amortised, one node hash; the root of the whole tree is a
    fold over at most log2(size) hashes. The gateway keeps one in memory and stores it with the
    log's head, so restarting never rereads the log.
    """

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} nodes")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        nodes = self.nodes
        n = self.size
        while n & 1:
            leaf = node_hash(nodes.pop(), leaf)
            n >>= 1
        nodes.append(leaf)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaves: in aligned blocks of 2**k, each hashed level by level (a list
        comprehension per level), then merged into the frontier like one node of height k."""
        leaves = leaves if isinstance(leaves, list) else list(leaves)
        sha256 = hashlib.sha256
        i, n = 0, len(leaves)
        while i < n:
            size = self.size
            height = (size & -size).bit_length() - 1 if size else (n - i).bit_length() - 1
            while 1 << height > n - i:
                height -= 1
            level = leaves[i : i + (1 << height)]
            for _ in range(height):
                pairs = zip(level[::2], level[1::2], strict=True)
                level = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
            self.append_subtree(level[0], height)
            i += 1 << height

    def append_subtree(self, node: bytes, height: int) -> None:
        """Append the root of a perfect subtree of ``2**height`` leaves; the tree's size must be
        a multiple of that (the subtree is aligned)."""
        size = self.size
        if size & ((1 << height) - 1):
            raise ValueError(f"a subtree of {1 << height} leaves cannot start at {size}")
        nodes = self.nodes
        above = size >> height
        while above & 1:
            node = node_hash(nodes.pop(), node)
            above >>= 1
        nodes.append(node)
        self.size = size + (1 << height)

    def append_range(self, size: int, nodes: Sequence[bytes]) -> None:
        """Append the frontier of another tree of ``size`` leaves, built apart from this one: the
        leaves that follow ours (our size a multiple of its largest subtree)."""
        if len(nodes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} nodes")
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        for node, height in zip(nodes, heights, strict=True):
            self.append_subtree(node, height)

    def root(self) -> bytes:
        return fold_root(self.nodes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.nodes)

    def to_bytes(self) -> bytes:
        return b"".join(self.nodes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        if len(data) != 32 * size.bit_count():
            raise ValueError("frontier bytes do not match the tree size")
        return cls(size, [data[i : i + 32] for i in range(0, len(data), 32)])


def fold_root(nodes: Sequence[bytes]) -> bytes:
    """The root over a frontier: its subtrees from the largest, each at least as large as all
    those after it (also a frontier followed by a smaller one built apart)."""
    if not nodes:
        return EMPTY_ROOT
    root = nodes[-1]
    for node in reversed(nodes[:-1]):
        root = node_hash(node, root)
    return root


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes."""
    tree = CompactRange()
    tree.extend(leaves)
    return tree.root()


def list_subtree(leaves: Sequence[bytes]) -> Subtree:
    """A ``subtree`` callable over an in-memory list of leaf hashes."""

    def subtree(lo: int, hi: int) -> bytes:
        return root_of(leaves[lo:hi])

    return subtree


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 section 2.1.1: the audit path of leaf ``index``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_path(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 section 2.1.2: tree ``old_size`` is a prefix of ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    m, lo, hi, complete = old_size, 0, new_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            m -= k
            lo += k
            complete = False
    if not complete:
        proof.append(subtree(lo, hi))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2 (plus the trivial cases: equal sizes, empty old tree)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
