"""The state root's sparse Merkle tree, kept between blocks and updated in place.

The construction is the wire layer's (`spec.wire.state_root`, docs/encoding.md
"State root"): a leaf per record at the 256-bit path `record_key(kind, id)`; a
subtree with no leaf is EMPTY_ROOT, a subtree with one leaf *is* that leaf's
hash, any other subtree is node_hash(root of its 0 side, root of its 1 side).
The spec rebuilds that tree from every record on each call; this module keeps it.

How it is kept. The top `depth` levels of the tree are dense arrays: for every
prefix of d bits (d = 0 .. depth) the number of leaves under it and the root of
its subtree. Below them, the leaves sharing a `depth`-bit prefix form a bucket, a
dictionary key -> leaf hash. Changing a leaf marks its bucket dirty; `root()`
rehashes each dirty bucket from its leaves, then the dense nodes above the dirty
buckets only, level by level. A dense node with no leaf or one needs no hash: its
root is EMPTY_ROOT or that one leaf's hash.

The depth grows with the tree: when the leaves outnumber MAX_BUCKET_LOAD a bucket,
the tree is rebuilt two levels deeper (once each time the records quadruple, so
the rebuilds cost O(1) a record, amortised). A bucket so holds a few leaves, and a
block touching k records costs about k * log2(records) hashes, the hashes any
Merkle tree needs, and nothing that grows faster with the ledger.

Why buckets rather than a Python object per trie node: a bucket costs one small
dictionary for a few leaves, and the dense levels two list slots a node; an object
per node would cost several times the memory at 10^6 records.

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

MIN_DEPTH = 8
"""Dense levels of an empty tree: 256 buckets."""
MAX_DEPTH = 22
"""Dense levels at most: 4 million buckets, for ledgers of up to ~32 million records
(beyond, buckets fill up: the root stays right, and gets slower)."""
DEPTH_STEP = 2
MAX_BUCKET_LOAD = 8
"""Leaves a bucket holds on average before the tree grows DEPTH_STEP levels deeper."""


def bucket_of(key: bytes, depth: int) -> int:
    """The bucket of a key: its first `depth` bits."""
    return int.from_bytes(key[:3], "big") >> (24 - depth)


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
    """Leaves by key in buckets, and the cached roots of every dense subtree."""

    def __init__(self, depth: int = MIN_DEPTH) -> None:
        self.depth = depth
        self.leaves = 0
        self.buckets: list[dict[bytes, bytes]] = [{} for _ in range(1 << depth)]
        self.counts: list[list[int]] = [[0] * (1 << level) for level in range(depth + 1)]
        """counts[d][p]: the leaves under the d-bit prefix p."""
        self.roots: list[list[bytes]] = [[EMPTY_ROOT] * (1 << level) for level in range(depth + 1)]
        """roots[d][p]: the root of the subtree under the d-bit prefix p (once p is not dirty)."""
        self.dirty: set[int] = set()

    def set_leaf(self, key: bytes, leaf: bytes) -> None:
        """Put or replace the leaf at `key`."""
        bucket_number = bucket_of(key, self.depth)
        bucket = self.buckets[bucket_number]
        if key not in bucket:
            self.leaves += 1
        bucket[key] = leaf
        self.dirty.add(bucket_number)

    def root(self) -> bytes:
        """The root of every leaf: rehash the dirty buckets, then the nodes above them."""
        if self.leaves > MAX_BUCKET_LOAD << self.depth and self.depth < MAX_DEPTH:
            self.deepen()
        if self.dirty:
            self.rehash(self.dirty)
            self.dirty = set()
        return self.roots[0][0]

    def deepen(self) -> None:
        """Rebuild DEPTH_STEP levels deeper (or more): every bucket is dirty after."""
        depth = self.depth
        while self.leaves > MAX_BUCKET_LOAD << depth and depth < MAX_DEPTH:
            depth += DEPTH_STEP
        deeper = StateTree(min(depth, MAX_DEPTH))
        for bucket in self.buckets:
            for key, leaf in bucket.items():
                deeper.set_leaf(key, leaf)
        self.__dict__.update(deeper.__dict__)

    def rehash(self, dirty_buckets: set[int]) -> None:
        bottom = self.depth
        counts, roots = self.counts[bottom], self.roots[bottom]
        for bucket in dirty_buckets:
            leaves = sorted(self.buckets[bucket].items())
            counts[bucket] = len(leaves)
            roots[bucket] = sorted_subtree_root(leaves, 0, len(leaves), bottom)
        sha256, tag = hashlib.sha256, NODE_TAG  # node_hash, inlined: this loop is the tree's hot path
        changed = dirty_buckets
        for depth in range(bottom - 1, -1, -1):
            changed = {prefix >> 1 for prefix in changed}
            below_counts, below_roots = self.counts[depth + 1], self.roots[depth + 1]
            counts, roots = self.counts[depth], self.roots[depth]
            for prefix in changed:
                zero = prefix << 1
                zero_count = below_counts[zero]
                count = zero_count + below_counts[zero | 1]
                counts[prefix] = count
                # The node over both sides, or its one leaf (in whichever side holds it), or empty.
                if count >= 2:
                    roots[prefix] = sha256(tag + below_roots[zero] + below_roots[zero | 1]).digest()
                elif count == 1:
                    roots[prefix] = below_roots[zero] if zero_count == 1 else below_roots[zero | 1]
                else:
                    roots[prefix] = EMPTY_ROOT
