"""Deliberate single-bug variants of the reference node: negative controls (issue 13, §5).

Each is the reference node with one bug of the kind a fast implementation
invites, selectable by name (`python -m reference.adapter --variant NAME`), never
the default: in the expiry index and the incremental root (the ledger), in quorum
counting, the NEW-VIEW computation and batching (the replica), and in the boundary
check. The differential tests (tests/test_reference_ledger.py,
tests/test_reference_replica.py) and the conformance suite must fail each one; a
test shows which catches it. Measured through the adapter (`fedspec conformance run
--node "python3 -m reference.adapter --variant NAME"`, every runner). The NEW-VIEW and
batching variants were caught by the differential tests alone until their shrunk
counterexamples became the replica runner's `regressions` cases
(tests/test_conformance_replica.py shows each fails there):

| variant | the suite | the differential tests |
|---|---|---|
| expiry_at_deadline | 11 ledger cases | ledger sequences |
| expiry_misses_task_locks | 17 ledger cases | ledger sequences |
| root_rehashes_on_insert_only | 97 ledger, 53 replica, 37 schedule cases | ledger sequences |
| root_changed_by_id_alone | 108 ledger, 52 replica cases | ledger sequences |
| quorum_checkpoint_tally_by_height | 2 replica cases (paths n4f1.walk-4) | group runs |
| new_view_first_certificate_wins | 2 replica cases (regressions/new_view_*) | view-change runs |
| batch_fills_past_large_request | 1 replica case (regressions/primary_batches_whole_requests_*) | primary runs |
| boundary_sender_signature_only | 1 replica case (a forged certificate vote) | (inputs arrive authenticated) |
"""

from collections.abc import Callable
from dataclasses import dataclass

from reference.boundary import Authenticate
from reference.chain import Chain
from reference.expiry import ExpiryIndex
from reference.ledger import Ledger
from reference.replica import Replica
from reference.state_tree import StateTree, bucket_of
from reference.views import Group, best_certificates, new_view_content, primary_of
from spec.wire.decoding import (
    ENVELOPE_CHAIN_OFFSET,
    DecodeError,
    DecodeFailure,
    authenticated_message_from_bytes,
    decode_envelope,
)
from spec.wire.envelope import (
    AuthenticationError,
    EnvelopeFailure,
    EnvelopeRefusal,
    first_repeated_signer,
    first_replica_outside_group,
    signature_count_matches,
    signature_obligations,
    signature_verifies,
    signer_lists,
)
from spec.wire.message_encoding import consensus_kind
from spec.wire.messages import Checkpoint, CheckpointCertificate, Message, PreparedCertificate, PrePrepare, ViewChange
from spec.wire.records import TransactionReceipt
from spec.wire.types import AnyTransaction, AtpTransferLock, FederationTask


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


LEDGER_VARIANTS: dict[str, Callable[..., Ledger]] = {
    "expiry_at_deadline": with_parts(expiry=ExpiresAtDeadline),
    "expiry_misses_task_locks": ExpiryIndexMissesTaskLocks,
    "root_rehashes_on_insert_only": with_parts(tree=TreeRehashesOnInsertOnly),
    "root_changed_by_id_alone": ChangedByIdAlone,
}
"""Variant name -> the ledger class with that bug. Names say where the bug is."""

VARIANTS = LEDGER_VARIANTS
"""The ledger's variants under their first name (tests/test_reference_ledger.py)."""


# --- quorum counting ------------------------------------------------------------------------------------
class CheckpointTallyByHeight(Replica):
    """Checkpoint votes are tallied by height alone: votes for different state roots
    add up, so f + 1 or a quorum is reached on votes that do not agree."""

    def tally_key(self, vote: Checkpoint) -> str:
        return ""


# --- the NEW-VIEW computation ----------------------------------------------------------------------------
def first_certificate_content(
    group: Group, view: int, view_changes: tuple[ViewChange, ...]
) -> tuple[CheckpointCertificate, tuple[PrePrepare, ...]]:
    """Each height re-proposed from the first certificate found for it, not the one
    of the highest view: a block prepared again in a later view can be replaced by
    an older one."""
    checkpoint, _ = new_view_content(group, view, ())
    for message in view_changes:
        if message.checkpoint.height > checkpoint.height:
            checkpoint = message.checkpoint
    first: dict[int, PreparedCertificate] = {}
    for message in view_changes:
        for certificate in message.prepared:
            first.setdefault(certificate.pre_prepare.height, certificate)
    assert set(first) == set(best_certificates(view_changes))
    proposals: list[PrePrepare] = []
    height = checkpoint.height + 1
    while height in first:
        chosen = first[height].pre_prepare
        proposals.append(PrePrepare(view, height, chosen.digest, chosen.block, primary_of(view, group.n)))
        height += 1
    return checkpoint, tuple(proposals)


class NewViewFirstCertificateWins(Replica):
    new_view_content = staticmethod(first_certificate_content)


# --- batching -------------------------------------------------------------------------------------------
class BatchFillsPastLargeRequest(Replica):
    """A request that does not fit is skipped and smaller ones after it fill the
    block: the spec's primary stops at the first that does not fit."""

    def block_transactions(self) -> tuple[AnyTransaction, ...]:
        limit = self.group.max_block_transactions
        transactions: list[AnyTransaction] = []
        for _, request in self.pending:
            if len(transactions) + len(request) <= limit:
                transactions.extend(request)
        return tuple(transactions)


# --- the boundary check ------------------------------------------------------------------------------------
def sender_signature_only(chain_id: str, platform_keys: tuple[str, ...], frame: bytes) -> Message:
    """The envelope's shape, signers and signature count are checked, and the sender's
    signature; the signatures of the votes its certificates count are not."""
    envelope_chain_id, envelope = decode_envelope(frame)
    if envelope_chain_id != chain_id:
        raise DecodeError(DecodeFailure.CHAIN_ID_MISMATCH, ENVELOPE_CHAIN_OFFSET, "another chain")
    message = envelope.message
    lists = signer_lists(message)
    failure = first_replica_outside_group(lists, len(platform_keys)) or first_repeated_signer(lists)
    if failure is not None:
        raise AuthenticationError(failure)
    obligations = signature_obligations(chain_id, message)
    if not signature_count_matches(obligations, envelope.signatures):
        raise AuthenticationError(EnvelopeFailure(EnvelopeRefusal.SIGNATURE_COUNT_WRONG, consensus_kind(message), None))
    sender = obligations[0]
    if not signature_verifies(platform_keys[sender.signer], sender, envelope.signatures[0]):
        raise AuthenticationError(EnvelopeFailure(EnvelopeRefusal.SENDER_SIGNATURE_INVALID, sender.place, sender.signer))
    return message


# --- every variant, as the parts of a node ----------------------------------------------------------------------
@dataclass(frozen=True)
class Parts:
    """What a node is built from: the default parts, or a variant's (one of them broken)."""

    make_ledger: Callable[[Chain], Ledger] = Ledger
    replica_class: type[Replica] = Replica
    authenticate: Authenticate = authenticated_message_from_bytes


REPLICA_VARIANTS: dict[str, type[Replica]] = {
    "quorum_checkpoint_tally_by_height": CheckpointTallyByHeight,
    "new_view_first_certificate_wins": NewViewFirstCertificateWins,
    "batch_fills_past_large_request": BatchFillsPastLargeRequest,
}
"""Variant name -> the replica class with that bug."""

BOUNDARY_VARIANTS: dict[str, Authenticate] = {
    "boundary_sender_signature_only": sender_signature_only,
}
"""Variant name -> the boundary check with that bug."""

NODE_VARIANTS: dict[str, Parts] = {
    **{name: Parts(make_ledger=ledger) for name, ledger in LEDGER_VARIANTS.items()},
    **{name: Parts(replica_class=replica) for name, replica in REPLICA_VARIANTS.items()},
    **{name: Parts(authenticate=check) for name, check in BOUNDARY_VARIANTS.items()},
}
"""Every variant by name (`python -m reference.adapter --variant NAME`)."""
