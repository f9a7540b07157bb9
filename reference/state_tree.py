"""The state root's sparse Merkle tree, kept between blocks and updated in place.

The construction is the wire layer's (`spec.wire.state_root`, docs/encoding.md
"State root"): a leaf per record at the 256-bit path `record_key(kind, id)`; a
subtree with no leaf is EMPTY_ROOT, a subtree with one leaf *is* that leaf's
hash, any other subtree is node_hash(root of its 0 side, root of its 1 side).
The spec rebuilds that tree from every record on each call; this module keeps it.

How it is kept. The top BUCKET_DEPTH levels of the tree are dense arrays: for
every prefix of d bits (d = 0 .. BUCKET_DEPTH) the number of leaves under it and
the root of its subtree. Below them, the leaves sharing a BUCKET_DEPTH-bit prefix
form a bucket, a dictionary key -> leaf hash. Changing a leaf marks its bucket
dirty; `root()` rehashes each dirty bucket from its leaves, then the dense nodes
above the dirty buckets only, level by level. A block touching k records costs
about k * (BUCKET_DEPTH + leaves per bucket) hashes, whatever the ledger's size.

Why buckets rather than a node object per trie node: with 2^16 buckets a bucket
holds ~15 leaves at 10^6 records, so rehashing one from its leaves is as cheap as
walking its cached path, and the tree costs a dictionary entry per leaf instead
of a Python object per node (a third of the memory).

Records are never removed from a ledger state, so the tree has no delete.
"""

import hashlib

from spec.wire.encoding import domain_tag
from spec.wire.state_root import EMPTY_ROOT, KEY_BITS, RecordKeyCollision

NODE_TAG = domain_tag("STATE_NODE")
"""`spec.wire.state_root.node_hash` is SHA-256(NODE_TAG || zero side || one side); the
tag is made once here because the tree hashes nodes in its innermost loop (a test
checks the two agree)."""


def node_hash(zero_side: bytes, one_side: bytes) -> bytes:
    return hashlib.sha256(NODE_TAG + zero_side + one_side).digest()

BUCKET_DEPTH = 16
"""Levels of cached nodes above the buckets: 2^16 buckets, sized for ledgers of up
to a few million records (~15 leaves a bucket at 10^6)."""

BUCKET_COUNT = 1 << BUCKET_DEPTH


def bucket_of(key: bytes) -> int:
    """The bucket of a key: its first BUCKET_DEPTH bits (two bytes)."""
    return (key[0] << 8) | key[1]


def key_bit(key: bytes, depth: int) -> int:
    """Bit `depth` of the key's path: bit 0 is the most significant bit of byte 0."""
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def sorted_subtree_root(leaves: list[tuple[bytes, bytes]], low: int, high: int, depth: int) -> bytes:
    """The root of leaves[low:high], sorted by key and sharing their first `depth` bits.

    Sorted keys put the 0 side of bit `depth` before the 1 side, so the split is
    the first leaf whose bit is 1."""
    count = high - low
    if count == 0:
        return EMPTY_ROOT
    if count == 1:
        return leaves[low][1]
    if depth == KEY_BITS:
        raise RecordKeyCollision(f"{count} records share the key {leaves[low][0].hex()}")
    split = low
    while split < high and key_bit(leaves[split][0], depth) == 0:
        split += 1
    return node_hash(
        sorted_subtree_root(leaves, low, split, depth + 1), sorted_subtree_root(leaves, split, high, depth + 1)
    )


class StateTree:
    """Leaves by key, and the cached roots of every dense subtree."""

    def __init__(self) -> None:
        self.buckets: list[dict[bytes, bytes]] = [{} for _ in range(BUCKET_COUNT)]
        self.counts: list[list[int]] = [[0] * (1 << depth) for depth in range(BUCKET_DEPTH + 1)]
        """counts[d][p]: the leaves under the d-bit prefix p."""
        self.roots: list[list[bytes]] = [[EMPTY_ROOT] * (1 << depth) for depth in range(BUCKET_DEPTH + 1)]
        """roots[d][p]: the root of the subtree under the d-bit prefix p (valid when p is not dirty)."""
        self.dirty: set[int] = set()

    def set_leaf(self, key: bytes, leaf: bytes) -> None:
        """Put or replace the leaf at `key`."""
        bucket = bucket_of(key)
        self.buckets[bucket][key] = leaf
        self.dirty.add(bucket)

    def root(self) -> bytes:
        """The root of every leaf: rehash the dirty buckets, then the nodes above them."""
        if self.dirty:
            self.rehash(self.dirty)
            self.dirty = set()
        return self.roots[0][0]

    def rehash(self, dirty_buckets: set[int]) -> None:
        counts, roots = self.counts[BUCKET_DEPTH], self.roots[BUCKET_DEPTH]
        for bucket in dirty_buckets:
            leaves = sorted(self.buckets[bucket].items())
            counts[bucket] = len(leaves)
            roots[bucket] = sorted_subtree_root(leaves, 0, len(leaves), BUCKET_DEPTH)
        changed = dirty_buckets
        for depth in range(BUCKET_DEPTH - 1, -1, -1):
            changed = {prefix >> 1 for prefix in changed}
            below_counts, below_roots = self.counts[depth + 1], self.roots[depth + 1]
            counts, roots = self.counts[depth], self.roots[depth]
            for prefix in changed:
                zero = 2 * prefix
                zero_count = below_counts[zero]
                count = zero_count + below_counts[zero + 1]
                counts[prefix] = count
                # Empty, or its one leaf (in whichever child holds it), or the node over both.
                if count >= 2:
                    roots[prefix] = node_hash(below_roots[zero], below_roots[zero + 1])
                elif count == 1:
                    roots[prefix] = below_roots[zero] if zero_count == 1 else below_roots[zero + 1]
                else:
                    roots[prefix] = EMPTY_ROOT
