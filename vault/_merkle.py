"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs, as pure functions.

Leaves are given as leaf hashes (32-byte SHA-256 digests from
:func:`leaf_hash`); a tree of ``n`` leaves is the Merkle Tree Hash of RFC 6962
section 2.1, whose left subtree always holds the largest power of two strictly
smaller than ``n`` leaves.

Proof *generation* takes the caller's own leaves, so a bad index or size is a
programming mistake and raises :class:`ValueError`. Proof *verification* takes
untrusted input and only ever answers ``True`` or ``False``.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TreeBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of one log entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaves(leaf_hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(leaf_hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is {len(h)} bytes, not {HASH_SIZE}")


def _root(level: list[bytes]) -> bytes:
    """MTH of already-checked leaf hashes, one tree level at a time."""
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        # Pairing neighbours and carrying an odd last node up unchanged gives
        # exactly the RFC 6962 shape (complete subtrees on the left).
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle Tree Hash of ``leaf_hashes`` in O(n).

    The empty tree's hash is SHA-256 of the empty string.
    """
    _check_leaves(leaf_hashes)
    return _root(list(leaf_hashes))


class TreeBuilder:
    """Incremental Merkle tree: append leaf hashes, ask for the root at any time.

    Keeps only the roots of the complete subtrees that make up the current
    size (one per set bit of ``size``), so the state is O(log n).
    """

    def __init__(self) -> None:
        """Start an empty tree."""
        self._size = 0
        self._peaks: list[bytes] = []  # largest (leftmost) subtree first

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one 32-byte leaf hash at the right edge of the tree."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
        h, n = bytes(leaf_hash), self._size
        while n & 1:  # each trailing 1 bit is a same-size subtree to merge with
            h = node_hash(self._peaks.pop(), h)
            n >>= 1
        self._peaks.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every leaf hash of ``leaf_hashes`` in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the leaves appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        r = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            r = node_hash(peak, r)
        return r


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the RFC 6962 audit path for leaf ``index`` in the tree of all
    ``leaf_hashes``, ordered from the leaf's sibling up to the root's child.

    For a proof against an older tree size, pass ``leaf_hashes[:size]``.
    Raises ValueError when ``index`` is not a leaf of the tree.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is out of range for a tree of size {n}")
    _check_leaves(leaf_hashes)
    path: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            path.append(_root(list(leaf_hashes[mid:hi])))
            hi = mid
        else:
            path.append(_root(list(leaf_hashes[lo:mid])))
            lo = mid
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 6962 consistency proof from the first ``old_size``
    leaves to the first ``new_size`` leaves of ``leaf_hashes``.

    The proof is empty when ``old_size`` is 0 or equals ``new_size``.
    Raises ValueError when ``0 <= old_size <= new_size <= len(leaf_hashes)``
    does not hold.
    """
    if old_size < 0:
        raise ValueError(f"old tree size {old_size} is negative")
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if new_size > len(leaf_hashes):
        raise ValueError(
            f"new tree size {new_size} is larger than the {len(leaf_hashes)} leaves given"
        )
    _check_leaves(leaf_hashes[:new_size])
    if old_size == 0 or old_size == new_size:
        return []
    # SUBPROOF(m, D[lo:hi], b) of RFC 6962 2.1.2, unrolled top-down.
    proof: list[bytes] = []
    lo, hi, m, whole_old_tree = 0, new_size, old_size, True
    while hi - lo != m:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            proof.append(_root(list(leaf_hashes[mid:hi])))
            hi = mid
        else:
            proof.append(_root(list(leaf_hashes[lo:mid])))
            m -= mid - lo
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(_root(list(leaf_hashes[lo:hi])))
    proof.reverse()
    return proof


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, (bytes, bytearray)) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf_hash`` is leaf ``index`` of the tree of
    ``size`` leaves whose hash is ``root`` (RFC 9162 section 2.1.3.2).

    Any malformed input (index outside the tree, hashes of the wrong length)
    is a failed verification, never an exception.
    """
    if not 0 <= index < size or not _all_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
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
    """True when ``proof`` shows the tree of ``old_size`` leaves with hash
    ``old_root`` is a prefix of the tree of ``new_size`` leaves with hash
    ``new_root`` (RFC 9162 section 2.1.4.2).

    Equal sizes need an empty proof and equal roots; an old size of 0 needs
    an empty proof and the empty-tree root. A shrinking or negative size, or
    hashes of the wrong length, are a failed verification, never an exception.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree
        path.insert(0, bytes(old_root))
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
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
