"""RFC 6962 / RFC 9162 Merkle trees: known answers, a naive reference, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault._merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- a deliberately naive reference, straight from RFC 6962 section 2.1 -------


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = ref_k(len(hashes))
    return sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = ref_k(len(hashes))
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, hashes[:k], complete) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    """n distinct leaf hashes."""
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# --- the Certificate Transparency reference tree ------------------------------

CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_LEAVES = [leaf_hash(d) for d in CT_INPUTS]

# Published CT reference roots for sizes 0..8 (certificate-transparency test
# data, as reproduced in transparency-dev/merkle testonly/constants.go).
CT_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]

# Published CT reference proofs over the same tree: (index, size, path) and
# (old size, new size, proof).
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_leaf_and_node_hashes_use_the_rfc6962_domain_prefixes():
    assert leaf_hash(b"abc") == sha256(b"\x00abc")
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == sha256(b"\x01" + a + b)
    assert node_hash(a, b) != node_hash(b, a)


def test_empty_tree_root_is_sha256_of_the_empty_string():
    assert root([]) == EMPTY_ROOT == sha256(b"") == CT_ROOTS[0]
    assert TreeBuilder().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_root_matches_naive_recursion_and_published_ct_value(size):
    expected = ref_mth(CT_LEAVES[:size])
    assert expected == CT_ROOTS[size]  # the naive reference itself is right
    assert root(CT_LEAVES[:size]) == expected


@pytest.mark.parametrize("index,size,path", CT_INCLUSION)
def test_reference_tree_inclusion_proofs_match_published_ct_values(index, size, path):
    path = [bytes.fromhex(h) for h in path]
    assert inclusion_proof(CT_LEAVES[:size], index) == path
    assert verify_inclusion(CT_LEAVES[index], index, size, path, CT_ROOTS[size])


@pytest.mark.parametrize("old,new,proof", CT_CONSISTENCY)
def test_reference_tree_consistency_proofs_match_published_ct_values(old, new, proof):
    proof = [bytes.fromhex(h) for h in proof]
    assert consistency_proof(CT_LEAVES, old, new) == proof
    assert verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], proof)
    assert not verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new], proof)


def test_roots_and_proofs_match_the_naive_rfc6962_definitions_up_to_size_70():
    hashes = leaves(70)
    for n in range(1, 71):
        tree = hashes[:n]
        assert root(tree) == ref_mth(tree)
        for i in range(n):
            assert inclusion_proof(tree, i) == ref_path(i, tree)
        for m in range(1, n):
            assert consistency_proof(tree, m, n) == ref_subproof(m, tree, True)


def test_tree_builder_matches_root_at_every_size_up_to_1100():
    builder = TreeBuilder()
    hashes = leaves(1100)
    assert builder.size == 0
    for n, h in enumerate(hashes, start=1):
        builder.append(h)
        assert builder.size == n
        assert builder.root() == root(hashes[:n])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=300))
def test_tree_builder_extend_matches_root_for_arbitrary_leaves(data):
    hashes = [leaf_hash(d) for d in data]
    builder = TreeBuilder()
    builder.extend(hashes)
    assert builder.size == len(hashes)
    assert builder.root() == root(hashes) == ref_mth(hashes)


def test_hundred_thousand_leaves_root_builder_and_proofs_agree():
    hashes = leaves(100_003)
    r = root(hashes)
    assert r == ref_mth(hashes)
    builder = TreeBuilder()
    builder.extend(hashes)
    assert builder.root() == r
    for i in (0, 65_535, 65_536, 100_002):
        assert verify_inclusion(hashes[i], i, len(hashes), inclusion_proof(hashes, i), r)
    old = root(hashes[:77_777])
    proof = consistency_proof(hashes, 77_777, len(hashes))
    assert verify_consistency(77_777, len(hashes), old, r, proof)


# --- caller mistakes ------------------------------------------------------------


def test_inclusion_proof_rejects_an_index_outside_the_tree():
    with pytest.raises(ValueError, match="leaf index 3 is out of range for a tree of size 3"):
        inclusion_proof(leaves(3), 3)
    with pytest.raises(ValueError, match="leaf index -1 is out of range"):
        inclusion_proof(leaves(3), -1)
    with pytest.raises(ValueError, match="out of range for a tree of size 0"):
        inclusion_proof([], 0)


def test_consistency_proof_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="old tree size 5 is larger than new tree size 4"):
        consistency_proof(leaves(8), 5, 4)
    with pytest.raises(ValueError, match="new tree size 9 is larger than the 8 leaves given"):
        consistency_proof(leaves(8), 2, 9)
    with pytest.raises(ValueError, match="old tree size -1 is negative"):
        consistency_proof(leaves(8), -1, 4)


def test_leaf_hashes_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="leaf hash 1 is 31 bytes"):
        root([leaf_hash(b"a"), b"\x00" * 31])
    with pytest.raises(ValueError, match="31 bytes"):
        TreeBuilder().append(b"\x00" * 31)


def test_degenerate_consistency_cases():
    hashes = leaves(8)
    r4, r8 = root(hashes[:4]), root(hashes)
    assert consistency_proof(hashes, 0, 8) == []
    assert consistency_proof(hashes, 4, 4) == []
    assert verify_consistency(4, 4, r4, r4, [])
    assert not verify_consistency(4, 4, r4, r8, [])
    assert not verify_consistency(4, 4, r4, r4, [r4])
    assert verify_consistency(0, 8, EMPTY_ROOT, r8, [])
    assert not verify_consistency(0, 8, r4, r8, [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, r8, [r8])
    assert not verify_consistency(8, 4, r8, r4, [])
    assert not verify_consistency(4, 8, r4, r8, [])  # an empty proof proves nothing
    assert not verify_consistency(-1, 8, r4, r8, [])


def test_verifiers_answer_false_for_malformed_input():
    hashes = leaves(8)
    r = root(hashes)
    proof = inclusion_proof(hashes, 5)
    assert not verify_inclusion(hashes[5], 8, 8, proof, r)
    assert not verify_inclusion(hashes[5], -1, 8, proof, r)
    assert not verify_inclusion(hashes[5][:31], 5, 8, proof, r)
    assert not verify_inclusion(hashes[5], 5, 8, [proof[0][:31]] + proof[1:], r)
    assert not verify_inclusion(hashes[5], 5, 8, proof + [r], r)  # too long
    assert not verify_inclusion(hashes[5], 5, 8, proof[:-1], r)  # too short
    cproof = consistency_proof(hashes, 6, 8)
    r6 = root(hashes[:6])
    assert not verify_consistency(6, 8, r6[:31], r, cproof)
    assert not verify_consistency(6, 8, r6, r, cproof + [r])
    assert not verify_consistency(6, 8, r6, r, cproof[:-1])


# --- properties ---------------------------------------------------------------


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_inclusion_proof_verifies_and_fails_for_wrong_index_leaf_or_root(data):
    n = data.draw(st.integers(1, 300), label="size")
    i = data.draw(st.integers(0, n - 1), label="index")
    hashes = leaves(n, salt=data.draw(st.binary(max_size=4), label="salt"))
    r = root(hashes)
    proof = inclusion_proof(hashes, i)
    assert verify_inclusion(hashes[i], i, n, proof, r)

    if n > 1:
        j = data.draw(st.integers(0, n - 2), label="other index")
        j = j if j < i else j + 1
        assert not verify_inclusion(hashes[i], j, n, proof, r)
        assert not verify_inclusion(hashes[j], i, n, proof, r)
    assert not verify_inclusion(leaf_hash(b"not in the log"), i, n, proof, r)
    assert not verify_inclusion(hashes[i], i, n, proof, flip(r, data.draw(st.integers(0, 7))))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="tampered step")
        tampered = proof[:k] + [flip(proof[k])] + proof[k + 1 :]
        assert not verify_inclusion(hashes[i], i, n, tampered, r)


def altered_old_trees(data, hashes: list[bytes], m: int) -> list[tuple[str, list[bytes]]]:
    """Old trees of size m that are not a prefix of ``hashes``."""
    n = len(hashes)
    out = []
    if m >= 1:
        k = data.draw(st.integers(0, m - 1), label="edited leaf")
        edited = list(hashes[:m])
        edited[k] = leaf_hash(b"edited")
        out.append(("edited", edited))
    if 1 <= m < n:
        k = data.draw(st.integers(0, m - 1), label="removed leaf")
        out.append(("removed", hashes[:k] + hashes[k + 1 : m + 1]))
    if m >= 2:
        a = data.draw(st.integers(0, m - 2), label="swap a")
        b = data.draw(st.integers(a + 1, m - 1), label="swap b")
        swapped = list(hashes[:m])
        swapped[a], swapped[b] = swapped[b], swapped[a]
        out.append(("swapped", swapped))
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_every_consistency_proof_verifies_and_fails_for_an_altered_old_tree(data):
    n = data.draw(st.integers(1, 300), label="new size")
    m = data.draw(st.integers(0, n), label="old size")
    hashes = leaves(n, salt=data.draw(st.binary(max_size=4), label="salt"))
    old_root, new_root = root(hashes[:m]), root(hashes)
    proof = consistency_proof(hashes, m, n)
    assert verify_consistency(m, n, old_root, new_root, proof)

    for how, old_tree in altered_old_trees(data, hashes, m):
        assert len(old_tree) == m and old_tree != hashes[:m], how
        bad_old_root = root(old_tree)
        # Neither the honest proof nor one built from the altered history
        # (the altered old tree extended with the real new entries) links
        # the altered old root to the real new root.
        forged = consistency_proof(old_tree + hashes[m:], m, n)
        assert not verify_consistency(m, n, bad_old_root, new_root, proof), how
        assert not verify_consistency(m, n, bad_old_root, new_root, forged), how

    assert not verify_consistency(m, n, flip(old_root, 3), new_root, proof)
    if m >= 1:  # every tree extends the empty tree, so only then can the new root be wrong
        assert not verify_consistency(m, n, old_root, flip(new_root, 5), proof)
        assert not verify_consistency(m, n, root(hashes[: m - 1]), new_root, proof)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="tampered step")
        tampered = proof[:k] + [flip(proof[k])] + proof[k + 1 :]
        assert not verify_consistency(m, n, old_root, new_root, tampered)


def test_every_consistency_proof_verifies_for_all_pairs_up_to_size_40():
    hashes = leaves(40)
    roots = [root(hashes[:s]) for s in range(41)]
    for n in range(41):
        for m in range(n + 1):
            proof = consistency_proof(hashes, m, n)
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
