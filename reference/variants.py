"""Deliberate single-bug variants of the reference ledger: negative controls (issue 13, §5).

Each is the reference ledger with one bug of the kind a fast implementation
invites, selectable by name (`python -m reference.adapter --variant NAME`), never
the default. The differential tests (tests/test_reference_ledger.py) and the
conformance suite must fail each one; a test shows they do.
"""

from collections.abc import Callable

from reference.expiry import ExpiryIndex
from reference.ledger import Ledger
from reference.state_tree import StateTree, bucket_of
from spec.wire.records import TransactionReceipt
from spec.wire.types import AtpTransferLock, FederationTask


# --- the expiry index --------------------------------------------------------------------------------------
class ExpiresAtDeadline(ExpiryIndex):
    """Due when the deadline is at or before the block's time: a lock whose deadline
    equals the block's timestamp expires, though it is still open in that block."""

    def is_due(self, expires_at_ms: int, now: int) -> bool:
        return expires_at_ms <= now


class ExpiryIndexMissesTaskLocks(Ledger):
    """The index is fed by plain locks only: a task's lock, made through the pair,
    never falls due, so an unproven task stays PENDING past its deadline."""

    def apply_task_pair(
        self, task: FederationTask, lock: AtpTransferLock, index: int, now: int
    ) -> tuple[TransactionReceipt, TransactionReceipt]:
        entries = len(self.new_entries)
        receipts = super().apply_task_pair(task, lock, index, now)
        del self.new_entries[entries:]
        return receipts


# --- the incremental root --------------------------------------------------------------------------------------
class TreeRehashesOnInsertOnly(StateTree):
    """A changed leaf marks its bucket for rehashing only when its key is new: a
    record that changes (an account's balance, a transfer's status) keeps its old
    hash in the cached subtree roots."""

    def set_leaf(self, key: bytes, leaf: bytes) -> None:
        bucket = bucket_of(key, self.depth)
        if key not in self.buckets[bucket]:
            self.leaves += 1
            self.dirty.add(bucket)
        self.buckets[bucket][key] = leaf


class ChangedByIdAlone(Ledger):
    """The commit remembers changed records by id, not by (kind, id): a task and its
    lock share their id, so only one of the two leaves is rehashed."""

    def commit(self) -> None:
        last_kind_by_id = {record_id: kind for kind, record_id in sorted(self.changed)}
        self.changed = {(kind, record_id) for record_id, kind in last_kind_by_id.items()}
        super().commit()


def with_parts(expiry: type[ExpiryIndex] = ExpiryIndex, tree: type[StateTree] = StateTree) -> type[Ledger]:
    return type("Variant", (Ledger,), {"expiry_index_class": expiry, "tree_class": tree})


VARIANTS: dict[str, Callable[..., Ledger]] = {
    "expiry_at_deadline": with_parts(expiry=ExpiresAtDeadline),
    "expiry_misses_task_locks": ExpiryIndexMissesTaskLocks,
    "root_rehashes_on_insert_only": with_parts(tree=TreeRehashesOnInsertOnly),
    "root_changed_by_id_alone": ChangedByIdAlone,
}
"""Variant name -> the ledger class with that bug. Names say where the bug is."""
