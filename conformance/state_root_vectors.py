"""Known-answer vectors for the state root: ledger states, their leaves and their roots
(the `encoding` runner's `state_root` cases, `conformance.encoding_vectors`).

Each vector is a ledger state written out record by record, then every leaf of
its tree (kind, id, key, value bytes, leaf hash) in key order, the records root
and the state root. The states are written by hand, consistent with the ledger's
rules (`spec.invariants.check_state` holds on each), and together hold accounts,
transfers in every status and with every settlement cause, tasks in every status,
with and without proofs, balance sets, reputation updates, reputations and an id
in every failed-id set.
"""

import dataclasses
import hashlib
from typing import Any

from spec.constants import ZERO_HASH
from spec.wire.records import (
    Account,
    BalanceSetRecord,
    LedgerState,
    ProofRecord,
    ReputationRecord,
    SettlementCause,
    Task,
    TaskStatus,
    Transfer,
    TransferStatus,
)
from spec.wire.state_root import (
    RECORD_KIND_CODES,
    leaf_hash,
    record_key,
    state_records,
)

ALICE, BOB, CAROL = "lct:web4:agent:alice", "lct:web4:agent:bob", "lct:web4:agent:carol"
THOR, SPROUT, LEGION = "Thor", "Sprout", "Legion"
ATP = 100_000_000
GENESIS_TIME_MS = 1_701_388_800_000

def digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def empty_state() -> LedgerState:
    return LedgerState(0, ZERO_HASH, GENESIS_TIME_MS, {}, {}, {}, {}, {}, {})


def genesis_state() -> LedgerState:
    """Three accounts on two platforms, three platform reputations: no block yet."""
    state = empty_state()
    state.accounts = {
        ALICE: Account(ALICE, THOR, 1_000 * ATP, 0),
        BOB: Account(BOB, SPROUT, 0, 0),
        CAROL: Account(CAROL, LEGION, 500 * ATP, 0),
    }
    state.reputations = {THOR: 5_000, SPROUT: 5_000, LEGION: 5_000}
    return state


def transfer(transfer_id: str, amount_atp: int, status: TransferStatus, cause: SettlementCause | None,
             task_linked: bool = False, created_at_ms: int = GENESIS_TIME_MS + 1_000) -> Transfer:
    return Transfer(
        transfer_id=transfer_id, source_agent=ALICE, source_platform=THOR, dest_agent=BOB, dest_platform=SPROUT,
        amount=amount_atp * ATP, timeout_ms=60_000, created_at_ms=created_at_ms,
        expires_at_ms=created_at_ms + 60_000, status=status, task_linked=task_linked, settled_by=cause,
    )


def task(task_id: str, cost_atp: int, status: TaskStatus, quality_bp: int | None, update_id: str | None = None) -> Task:
    """A task delegated by Alice to Bob in block 1; `quality_bp` is the proof's
    quality (landed in block 2), 0 for an expiry, None while pending."""
    proof = None
    if quality_bp is not None and status != TaskStatus.EXPIRED:
        proof = ProofRecord(BOB, quality_bp, 45_200, digest("result " + task_id), GENESIS_TIME_MS + 2_000)
    return Task(
        task_id=task_id, delegating_platform=THOR, delegating_agent=ALICE, executing_platform=SPROUT,
        executing_agent=BOB, cost=cost_atp * ATP, quality_threshold_bp=7_000, timeout_ms=60_000,
        task_data_hash=digest("data " + task_id), created_at_ms=GENESIS_TIME_MS + 1_000,
        deadline_ms=GENESIS_TIME_MS + 61_000, status=status, proof=proof, settled_quality_bp=quality_bp,
        reputation_update_id=update_id,
    )


def every_kind_state() -> LedgerState:
    """After block 3 (past the first deadlines): every status and cause, every kind of record."""
    state = genesis_state()
    state.height, state.last_block_hash, state.last_timestamp_ms = 3, digest("block 3"), GENESIS_TIME_MS + 62_000
    transfers = [
        transfer("transfer-open", 50, TransferStatus.LOCKED, None, created_at_ms=GENESIS_TIME_MS + 62_000),
        transfer("transfer-committed", 100, TransferStatus.COMMITTED, SettlementCause.COMMIT),
        transfer("transfer-rolled-back", 10, TransferStatus.ROLLED_BACK, SettlementCause.ROLLBACK),
        transfer("transfer-expired", 20, TransferStatus.EXPIRED, SettlementCause.EXPIRY),
        transfer("task-completed", 300, TransferStatus.COMMITTED, SettlementCause.PROOF, task_linked=True),
        transfer("task-failed", 200, TransferStatus.ROLLED_BACK, SettlementCause.PROOF, task_linked=True),
        transfer("task-expired", 30, TransferStatus.EXPIRED, SettlementCause.EXPIRY, task_linked=True),
        transfer("task-pending", 40, TransferStatus.LOCKED, None, task_linked=True, created_at_ms=GENESIS_TIME_MS + 62_000),
    ]
    state.transfers = {t.transfer_id: t for t in transfers}
    tasks = [
        task("task-completed", 300, TaskStatus.COMPLETED, 8_500, "update-recorded"),
        task("task-failed", 200, TaskStatus.FAILED, 5_000),
        task("task-expired", 30, TaskStatus.EXPIRED, 0),
        dataclasses.replace(task("task-pending", 40, TaskStatus.PENDING, None), created_at_ms=GENESIS_TIME_MS + 62_000,
                            deadline_ms=GENESIS_TIME_MS + 122_000),
    ]
    state.tasks = {k.task_id: k for k in tasks}
    locked = 50 + 40
    paid = 100 + 300
    state.accounts[ALICE] = Account(ALICE, THOR, (1_000 - paid) * ATP, locked * ATP)
    state.accounts[BOB] = Account(BOB, SPROUT, paid * ATP, 0)
    state.accounts[CAROL] = Account(CAROL, LEGION, 600 * ATP, 0)
    state.balance_sets = {"set-carol": BalanceSetRecord("set-carol", CAROL, 600 * ATP)}
    state.reputation_updates = {
        "update-recorded": ReputationRecord("update-recorded", "task-completed", SPROUT, 8_500, 5_350, LEGION),
    }
    state.reputations[SPROUT] = 5_350
    state.failed_transfer_ids = {"transfer-failed"}
    state.failed_set_ids = {"set-failed"}
    state.failed_update_ids = {"update-failed"}
    return state


def one_failed_id_state() -> LedgerState:
    """A single record: the records root is its leaf hash."""
    state = empty_state()
    state.failed_set_ids = {"set-failed"}
    return state


def vector_states() -> list[tuple[str, str, LedgerState]]:
    return [
        ("empty", "no record at all: the records root is 32 zero bytes", empty_state()),
        ("one_record", "one failed balance-set id: the records root is its leaf hash", one_failed_id_state()),
        ("genesis", "accounts and reputations before the first block", genesis_state()),
        ("every_kind", "after block 3: transfers in every status and with every settlement cause, tasks in "
         "every status (proofs on the completed and failed ones), a balance set, a reputation update, "
         "reputations and an id in every failed-id set", every_kind_state()),
    ]


def leaf_entries(state: LedgerState) -> list[dict[str, Any]]:
    leaves = []
    for kind, record_id, value in state_records(state):
        key = record_key(kind, record_id)
        leaves.append({"kind": kind, "kind_code": RECORD_KIND_CODES[kind], "id": record_id, "key": key.hex(),
                       "value": value.hex(), "leaf_hash": leaf_hash(key, value).hex()})
    return sorted(leaves, key=lambda leaf: leaf["key"])
