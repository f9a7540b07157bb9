"""The state tree kept between blocks: what an implementation does instead of the
spec's from-scratch `spec.wire.state_root.records_root`.

The tree is the compact sparse Merkle tree of `docs/encoding.md` ("State root"),
held in memory: a subtree with no leaf is absent, a subtree with one leaf is that
leaf, any other subtree is a branch holding its two halves and its hash. Putting or
removing one leaf rebuilds the branches on that leaf's path and no other, so one
changed record costs as many node hashes as its path is deep (about log2 of the
number of records), however large the state.

The tree restates the node rule here (tag, sides, empty root) instead of calling
the spec's, so that comparing the two checks the spec's tree too. It takes leaves
as (key, leaf hash), from `spec.wire.state_root.state_leaves`. It counts every node
hash it computes in `node_hashes`.
"""

import hashlib
from dataclasses import dataclass

NODE_TAG = b"fedspec/v1/STATE_NODE\x00"
EMPTY_ROOT = bytes(32)


@dataclass(frozen=True)
class Leaf:
    key: bytes
    hash: bytes


@dataclass(frozen=True)
class Branch:
    zero: "Node"
    one: "Node"
    hash: bytes


Node = Leaf | Branch | None


def hash_of(node: Node) -> bytes:
    return EMPTY_ROOT if node is None else node.hash


class StateTree:
    """A compact sparse Merkle tree updated one leaf at a time."""

    def __init__(self) -> None:
        self.top: Node = None
        self.node_hashes = 0

    def root(self) -> bytes:
        return hash_of(self.top)

    def bit(self, key: bytes, depth: int) -> int:
        """Bit `depth` of a key: bit 0 is the most significant bit of byte 0."""
        return (key[depth // 8] >> (7 - depth % 8)) & 1

    def branch(self, zero: Node, one: Node) -> Branch:
        self.node_hashes += 1
        return Branch(zero, one, hashlib.sha256(NODE_TAG + hash_of(zero) + hash_of(one)).digest())

    # --- put -------------------------------------------------------------------------------------
    def put(self, key: bytes, leaf_hash: bytes) -> None:
        """Add the leaf at `key`, or replace the one there."""
        self.top = self.put_below(self.top, Leaf(key, leaf_hash), 0)

    def put_below(self, node: Node, leaf: Leaf, depth: int) -> Node:
        if node is None:
            return leaf
        if isinstance(node, Leaf):
            if node.key == leaf.key:
                return leaf
            return self.split(node, leaf, depth)
        if self.bit(leaf.key, depth) == 0:
            return self.branch(self.put_below(node.zero, leaf, depth + 1), node.one)
        return self.branch(node.zero, self.put_below(node.one, leaf, depth + 1))

    def split(self, first: Leaf, second: Leaf, depth: int) -> Branch:
        """The subtree at `depth` holding exactly two leaves: branches down to the
        first bit where their keys differ."""
        first_bit, second_bit = self.bit(first.key, depth), self.bit(second.key, depth)
        if first_bit == second_bit:
            below = self.split(first, second, depth + 1)
            return self.branch(below, None) if first_bit == 0 else self.branch(None, below)
        return self.branch(first, second) if first_bit == 0 else self.branch(second, first)

    # --- remove ----------------------------------------------------------------------------------
    def remove(self, key: bytes) -> None:
        """Remove the leaf at `key`, if there is one."""
        self.top = self.remove_below(self.top, key, 0)

    def remove_below(self, node: Node, key: bytes, depth: int) -> Node:
        if node is None:
            return None
        if isinstance(node, Leaf):
            return None if node.key == key else node
        if self.bit(key, depth) == 0:
            zero, one = self.remove_below(node.zero, key, depth + 1), node.one
        else:
            zero, one = node.zero, self.remove_below(node.one, key, depth + 1)
        if zero is node.zero and one is node.one:
            return node
        return self.joined(zero, one)

    def joined(self, zero: Node, one: Node) -> Node:
        """A subtree left with at most one leaf is that leaf (or nothing): the branch
        collapses, and so may the branches above it."""
        if zero is None and not isinstance(one, Branch):
            return one
        if one is None and not isinstance(zero, Branch):
            return zero
        return self.branch(zero, one)

    # --- whole states ----------------------------------------------------------------------------
    def update(self, before: dict[bytes, bytes], after: dict[bytes, bytes]) -> int:
        """Go from the leaves `before` (key: leaf hash) to the leaves `after`, touching
        only the keys whose leaf changed, appeared or went; returns how many did."""
        changed = 0
        for key, leaf_hash in after.items():
            if before.get(key) != leaf_hash:
                self.put(key, leaf_hash)
                changed += 1
        for key in before:
            if key not in after:
                self.remove(key)
                changed += 1
        return changed

    def path_length(self, key: bytes) -> int:
        """How many branches lie on the path of `key`, from the top down."""
        node, depth = self.top, 0
        while isinstance(node, Branch):
            node = node.zero if self.bit(key, depth) == 0 else node.one
            depth += 1
        return depth

    def branch_count(self) -> int:
        """How many branches the tree holds: the node hashes of a rebuild."""
        count = 0
        pending: list[Node] = [self.top]
        while pending:
            node = pending.pop()
            if isinstance(node, Branch):
                count += 1
                pending += [node.zero, node.one]
        return count


def tree_of(leaves: dict[bytes, bytes]) -> StateTree:
    tree = StateTree()
    tree.update({}, leaves)
    return tree
