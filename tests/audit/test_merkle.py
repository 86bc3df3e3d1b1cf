"""RFC 6962 / 9162 trees against the Certificate Transparency reference vectors, and proofs for
every shape of tree up to 40 leaves."""

from __future__ import annotations

import hashlib

import pytest

from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_path,
    inclusion_path,
    leaf_hash,
    list_subtree,
    root_of,
    verify_consistency,
    verify_inclusion,
)

CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
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
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip

LEAVES = [leaf_hash(data) for data in CT_LEAVES]
MANY = [leaf_hash(bytes([i, i * 7 % 256])) for i in range(40)]


def test_empty_tree_and_reference_roots() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root_of([])
    for n in range(1, 9):
        assert root_of(LEAVES[:n]).hex() == CT_ROOTS[n - 1]


def test_reference_inclusion_proofs() -> None:
    subtree = list_subtree(LEAVES)
    for (index, size), expected in CT_INCLUSION.items():
        path = inclusion_path(index, size, subtree)
        assert [p.hex() for p in path] == expected
        assert verify_inclusion(index, size, LEAVES[index], path, bytes.fromhex(CT_ROOTS[-1]))


def test_compact_range_matches_the_tree_and_round_trips() -> None:
    tree = CompactRange()
    for n, leaf in enumerate(MANY, start=1):
        tree.append(leaf)
        assert tree.root() == root_of(MANY[:n])
        again = CompactRange.from_bytes(tree.size, tree.to_bytes())
        assert again.root() == tree.root()
    with pytest.raises(ValueError):
        CompactRange.from_bytes(5, b"\x00" * 32)


def test_every_inclusion_proof_verifies_and_no_wrong_one_does() -> None:
    for size in range(1, len(MANY) + 1):
        leaves = MANY[:size]
        root = root_of(leaves)
        subtree = list_subtree(leaves)
        for index in range(size):
            path = inclusion_path(index, size, subtree)
            assert verify_inclusion(index, size, leaves[index], path, root)
            if size > 1:
                assert not verify_inclusion((index + 1) % size, size, leaves[index], path, root)
                assert not verify_inclusion(index, size, leaves[index], path[:-1], root)
        assert not verify_inclusion(size, size, leaves[0], [], root)


def test_every_consistency_proof_verifies_and_a_fork_does_not() -> None:
    for new in range(0, 30):
        subtree = list_subtree(MANY[:new])
        new_root = root_of(MANY[:new])
        for old in range(0, new + 1):
            old_root = root_of(MANY[:old])
            proof = consistency_path(old, new, subtree)
            assert verify_consistency(old, new, old_root, new_root, proof), (old, new)
            if 0 < old < new:
                forked = root_of([*MANY[: old - 1], leaf_hash(b"forged")])
                assert not verify_consistency(old, new, forked, new_root, proof)
                assert not verify_consistency(old, new, old_root, MANY[0], proof)
    assert not verify_consistency(3, 2, EMPTY_ROOT, EMPTY_ROOT, [])


@pytest.mark.parametrize("split", [1, 3, 64, 1000])
def test_extending_in_blocks_gives_the_tree_of_appending_one_by_one(split: int) -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(2500)]
    one, many = CompactRange(), CompactRange()
    for i, leaf in enumerate(leaves):
        one.append(leaf)
        if (i + 1) % split == 0 or i + 1 == len(leaves):
            many.extend(leaves[many.size : i + 1])
            assert (many.size, many.root(), many.nodes) == (one.size, one.root(), one.nodes)


def test_trees_built_in_aligned_parts_are_the_tree_built_at_once() -> None:
    """What verify's worker spans rely on: a frontier of the leaves before an aligned position
    followed by the frontier of a part built apart folds to the root of the whole, and appends
    to it; a part that is not aligned is refused."""
    from audit.merkle import fold_root

    leaves = [leaf_hash(bytes([i])) for i in range(70)]
    for block in (1, 2, 4, 8, 16):
        prefix = CompactRange()
        for lo in range(0, len(leaves), block):
            part = CompactRange()
            for hi in range(lo + 1, min(lo + block, len(leaves)) + 1):
                part.append(leaves[hi - 1])
                assert fold_root(prefix.nodes + part.nodes) == root_of(leaves[:hi]), (block, hi)
            prefix.append_range(part.size, part.nodes)
            assert prefix.root() == root_of(leaves[: prefix.size])
    tree = CompactRange()
    tree.extend(leaves[:3])
    with pytest.raises(ValueError, match="cannot start at 3"):
        tree.append_subtree(leaves[0], 1)
    with pytest.raises(ValueError, match="a frontier of 3 leaves has 2 nodes"):
        tree.append_range(3, [leaves[0]])
