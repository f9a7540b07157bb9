"""Negative controls: deliberately broken ledgers are caught by the invariant predicates.

Each variant patches one function of `spec.ledger` (with pytest's monkeypatch) so that
the ledger itself is wrong: a real bug in the state transition, never a corrupted
state injected from outside. The blocks are built once, on the correct ledger; then

* the correct ledger replays them with zero violations (the control), and
* the broken ledger replays the same blocks and `spec.invariants.check_step` reports
  the specific invariant that the bug breaks.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from builders import (
    ALICE,
    ATP,
    DAVE,
    GENESIS,
    THOR,
    Ledger,
    balance_set,
    commit,
    lock,
    pair,
    proof,
    replay_blocks,
    reputation,
    rollback,
)

import spec.ledger as ledger_module
from spec.codes import ResultCode
from spec.invariants import (
    CONSERVATION,
    DETERMINISM,
    INVARIANT_NAMES,
    LOCK_ACCOUNTING,
    NO_DOUBLE_SPEND,
    SETTLE_ONCE,
    SETTLEMENT_CORRECTNESS,
    TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY,
    Violation,
)
from spec.wire.records import (
    BalanceSetRecord,
    BlockReceipt,
    LedgerState,
    ProofRecord,
    Settlement,
    SettlementCause,
    TaskStatus,
    Transfer,
    TransferStatus,
)
from spec.wire.types import AtpTransferCommit, AtpTransferLock, AtpTransferRollback, BalanceSet, Block, ExecutionProof

R = ResultCode

# The correct functions, captured before any test patches them.
RELEASE_LOCK = ledger_module.release_lock
COMMIT_LOCK = ledger_module.commit_lock
EXPIRE_DUE = ledger_module.expire_due
VALIDATE_SETTLE = ledger_module.validate_settle
VALIDATE_EXECUTION_PROOF = ledger_module.validate_execution_proof
APPLY_LOCK = ledger_module.apply_lock
NEXT_REPUTATION = ledger_module.next_reputation


# =============================================================================================
# Broken ledgers
# =============================================================================================
def rollback_forgets_to_unlock(work: LedgerState, transfer: Transfer, outcome: TransferStatus,
                               cause: SettlementCause) -> None:
    """release_lock that marks the transfer ended but leaves the amount locked."""
    work.transfers[transfer.transfer_id] = replace(transfer, status=outcome, settled_by=cause)


def commit_credits_twice(work: LedgerState, transfer: Transfer, cause: SettlementCause) -> None:
    """commit_lock that credits the destination a second time."""
    COMMIT_LOCK(work, transfer, cause)
    dest = work.accounts[transfer.dest_agent]
    work.accounts[dest.agent] = replace(dest, total=dest.total + transfer.amount)


def commit_keeps_the_lock(work: LedgerState, transfer: Transfer, cause: SettlementCause) -> None:
    """commit_lock that moves the total but never releases the source's locked amount."""
    source = work.accounts[transfer.source_agent]
    work.accounts[source.agent] = replace(source, total=source.total - transfer.amount)
    dest = work.accounts[transfer.dest_agent]
    work.accounts[dest.agent] = replace(dest, total=dest.total + transfer.amount)
    work.transfers[transfer.transfer_id] = replace(transfer, status=TransferStatus.COMMITTED, settled_by=cause)


def expire_at_the_deadline(work: LedgerState, now: int) -> list[Settlement]:
    """expire_due on the wrong side of the tie: expires when expires_at <= now.

    (`expires_at < now + 1` is exactly `expires_at <= now` for integers.)"""
    return EXPIRE_DUE(work, now + 1)


def expiry_forgets_the_task(work: LedgerState, now: int) -> list[Settlement]:
    """expire_due that expires a task's lock but leaves the task PENDING."""
    tasks_before = dict(work.tasks)
    settlements = EXPIRE_DUE(work, now)
    work.tasks.clear()
    work.tasks.update(tasks_before)
    return settlements


def proof_pays_below_threshold(
    work: LedgerState, tx: ExecutionProof, now: int, settlements: list[Settlement]
) -> ResultCode:
    """apply_execution_proof reading the threshold in percent instead of basis points."""
    code = VALIDATE_EXECUTION_PROOF(work, tx)
    if code != R.OK:
        return code
    task = work.tasks[tx.task_id]
    transfer = work.transfers[tx.task_id]
    record = ProofRecord(tx.executing_agent, tx.quality_bp, tx.execution_time_ms, tx.result_hash, now)
    if tx.quality_bp >= task.quality_threshold_bp // 100:  # the bug
        COMMIT_LOCK(work, transfer, SettlementCause.PROOF)
        settlements.append(Settlement(transfer.transfer_id, TransferStatus.COMMITTED, SettlementCause.PROOF))
        status = TaskStatus.COMPLETED
    else:
        RELEASE_LOCK(work, transfer, TransferStatus.ROLLED_BACK, SettlementCause.PROOF)
        settlements.append(Settlement(transfer.transfer_id, TransferStatus.ROLLED_BACK, SettlementCause.PROOF))
        status = TaskStatus.FAILED
    work.tasks[task.task_id] = replace(task, status=status, proof=record, settled_quality_bp=tx.quality_bp)
    return R.OK


def late_proof_accepted(work: LedgerState, tx: ExecutionProof) -> ResultCode:
    """validate_execution_proof that forgets the task may have expired."""
    code = VALIDATE_EXECUTION_PROOF(work, tx)
    return R.OK if code == R.TASK_EXPIRED else code


def lock_without_funds_check(work: LedgerState, tx: AtpTransferLock) -> ResultCode:
    """validate_lock that never looks at the available balance."""
    existing = work.transfers.get(tx.transfer_id)
    if existing is not None:
        return ledger_module.lock_difference(existing, tx)
    if tx.transfer_id in work.failed_transfer_ids:
        return R.ID_ALREADY_FAILED
    return R.OK


def settle_again(
    work: LedgerState, tx: AtpTransferCommit | AtpTransferRollback, own_cause: SettlementCause
) -> ResultCode:
    """validate_settle that lets a settled transfer be settled again."""
    code = VALIDATE_SETTLE(work, tx, own_cause)
    ended = (R.TRANSFER_ALREADY_COMMITTED, R.TRANSFER_ALREADY_ROLLED_BACK, R.TRANSFER_EXPIRED)
    return R.OK if code in ended else code


def commit_task_lock_allowed(
    work: LedgerState, tx: AtpTransferCommit | AtpTransferRollback, own_cause: SettlementCause
) -> ResultCode:
    """validate_settle without the transfer_linked_to_task check."""
    code = VALIDATE_SETTLE(work, tx, own_cause)
    if code == R.TRANSFER_LINKED_TO_TASK and work.transfers[tx.transfer_id].status == TransferStatus.LOCKED:
        return R.OK
    return code


def balance_set_for_whole_platform(work: LedgerState, tx: BalanceSet) -> ResultCode:
    """apply_balance_set that sets the balance of every account on the agent's platform."""
    code = ledger_module.validate_balance_set(work, tx)
    if code != R.OK:
        return code
    platform = work.accounts[tx.agent].platform
    for agent in sorted(work.accounts):
        account = work.accounts[agent]
        if account.platform == platform:
            work.accounts[agent] = replace(account, total=tx.balance)
    work.balance_sets[tx.set_id] = BalanceSetRecord(tx.set_id, tx.agent, tx.balance)
    return R.OK


def lock_with_wall_clock() -> Callable[[LedgerState, AtpTransferLock, int, bool], ResultCode]:
    """apply_lock that stamps the lock with a local clock instead of the block timestamp."""
    clock = itertools.count(1)

    def apply_lock(work: LedgerState, tx: AtpTransferLock, now: int, task_linked: bool) -> ResultCode:
        return APPLY_LOCK(work, tx, now + next(clock), task_linked)

    return apply_lock


def reputation_with_call_counter() -> Callable[[int, int], int]:
    """next_reputation whose rounding depends on how often it was called (hidden state)."""
    calls = itertools.count()

    def next_reputation(current_bp: int, quality_bp: int) -> int:
        return NEXT_REPUTATION(current_bp, quality_bp) + next(calls) % 2

    return next_reputation


# =============================================================================================
# The blocks each variant runs on (built on the correct ledger)
# =============================================================================================
def blocks_of(ledger: Ledger) -> list[Block]:
    for step in ledger.steps:
        assert step.receipt.accepted, step.receipt
    return [step.block for step in ledger.steps]


def lock_then_rollback() -> list[Block]:
    ledger = Ledger()
    ledger.ok(lock())
    ledger.ok(rollback())
    return blocks_of(ledger)


def lock_then_commit() -> list[Block]:
    ledger = Ledger()
    ledger.ok(lock())
    ledger.ok(commit())
    return blocks_of(ledger)


def proof_exactly_at_deadline() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair(timeout_ms=1_000))
    deadline = ledger.state.tasks["task-A"].deadline_ms
    ledger.ok(proof(), ts=deadline)
    assert ledger.state.tasks["task-A"].status == TaskStatus.COMPLETED
    return blocks_of(ledger)


def task_expires() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair(timeout_ms=1_000))
    receipt = ledger.block(ts=ledger.state.tasks["task-A"].deadline_ms + 1)
    assert [s.transfer_id for s in receipt.expiries] == ["task-A"]
    return blocks_of(ledger)


def low_quality_proof() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair(quality_threshold_bp=7_000))
    ledger.ok(proof(quality_bp=4_000))
    assert ledger.state.tasks["task-A"].status == TaskStatus.FAILED
    return blocks_of(ledger)


def proof_after_expiry() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair(timeout_ms=1_000))
    receipt = ledger.block(proof(), ts=ledger.state.tasks["task-A"].deadline_ms + 1)
    assert receipt.transactions[0].code == R.TASK_EXPIRED
    return blocks_of(ledger)


def two_locks_beyond_funds() -> list[Block]:
    ledger = Ledger()
    ledger.ok(lock("t1", amount=800 * ATP))
    receipt = ledger.block(lock("t2", amount=800 * ATP))
    assert receipt.transactions[0].code == R.INSUFFICIENT_AVAILABLE
    receipt = ledger.block(commit("t1"), commit("t2"))
    assert [r.code for r in receipt.transactions] == [R.OK, R.TRANSFER_NOT_FOUND]
    return blocks_of(ledger)


def commit_after_rollback() -> list[Block]:
    ledger = Ledger()
    ledger.ok(lock())
    ledger.ok(rollback())
    receipt = ledger.block(commit())
    assert receipt.transactions[0].code == R.TRANSFER_ALREADY_ROLLED_BACK
    return blocks_of(ledger)


def commit_of_task_lock() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair())
    receipt = ledger.block(commit("task-A", platform=THOR))
    assert receipt.transactions[0].code == R.TRANSFER_LINKED_TO_TASK
    return blocks_of(ledger)


def mint_to_alice() -> list[Block]:
    ledger = Ledger()
    ledger.ok(balance_set(agent=ALICE, balance=2_000 * ATP))
    assert ledger.state.accounts[DAVE].total == 1_000 * ATP
    return blocks_of(ledger)


def single_lock() -> list[Block]:
    ledger = Ledger()
    ledger.ok(lock())
    return blocks_of(ledger)


def task_with_reputation_update() -> list[Block]:
    ledger = Ledger()
    ledger.ok(*pair())
    ledger.ok(proof())
    ledger.ok(reputation())
    return blocks_of(ledger)


# =============================================================================================
# The variants
# =============================================================================================
@dataclass(frozen=True)
class Variant:
    function: str
    """The name in spec.ledger that is replaced."""
    broken: Callable[[], object]
    """Returns the replacement (a factory, so stateful replacements start fresh)."""
    blocks: Callable[[], list[Block]]
    caught_by: frozenset[str]
    """Invariants that must report the bug."""


def fixed(function: object) -> Callable[[], object]:
    return lambda: function


VARIANTS: dict[str, Variant] = {
    "rollback forgets to unlock": Variant(
        "release_lock", fixed(rollback_forgets_to_unlock), lock_then_rollback, frozenset({LOCK_ACCOUNTING})),
    "commit credits twice": Variant(
        "commit_lock", fixed(commit_credits_twice), lock_then_commit, frozenset({CONSERVATION, NO_DOUBLE_SPEND})),
    "commit keeps the lock": Variant(
        "commit_lock", fixed(commit_keeps_the_lock), lock_then_commit, frozenset({LOCK_ACCOUNTING})),
    "expiry on the wrong side of the deadline tie": Variant(
        "expire_due", fixed(expire_at_the_deadline), proof_exactly_at_deadline, frozenset({SETTLEMENT_CORRECTNESS})),
    "expiry forgets the task": Variant(
        "expire_due", fixed(expiry_forgets_the_task), task_expires, frozenset({SETTLEMENT_CORRECTNESS})),
    "proof pays below the threshold": Variant(
        "apply_execution_proof", fixed(proof_pays_below_threshold), low_quality_proof,
        frozenset({SETTLEMENT_CORRECTNESS})),
    "proof accepted after the task expired": Variant(
        "validate_execution_proof", fixed(late_proof_accepted), proof_after_expiry,
        frozenset({SETTLEMENT_CORRECTNESS, SETTLE_ONCE})),
    "lock does not check available funds": Variant(
        "validate_lock", fixed(lock_without_funds_check), two_locks_beyond_funds,
        frozenset({LOCK_ACCOUNTING, NO_DOUBLE_SPEND})),
    "settled transfer settled again": Variant(
        "validate_settle", fixed(settle_again), commit_after_rollback, frozenset({SETTLE_ONCE})),
    "explicit COMMIT of a task lock": Variant(
        "validate_settle", fixed(commit_task_lock_allowed), commit_of_task_lock,
        frozenset({TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY})),
    "BALANCE_SET changes another account": Variant(
        "apply_balance_set", fixed(balance_set_for_whole_platform), mint_to_alice,
        frozenset({CONSERVATION, NO_DOUBLE_SPEND})),
    "lock stamped by a local clock": Variant(
        "apply_lock", lock_with_wall_clock, single_lock, frozenset({DETERMINISM})),
    "reputation rule with hidden state": Variant(
        "next_reputation", reputation_with_call_counter, task_with_reputation_update, frozenset({DETERMINISM})),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_broken_ledger_is_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    variant = VARIANTS[name]
    blocks = variant.blocks()

    # Control: the correct ledger on the same blocks breaks nothing.
    clean_receipts, clean_violations = replay_blocks_checked(blocks)
    assert clean_violations == []
    assert all(receipt.accepted for receipt in clean_receipts)

    assert hasattr(ledger_module, variant.function)
    monkeypatch.setattr(ledger_module, variant.function, variant.broken())
    _receipts, violations = replay_blocks_checked(blocks)
    found = {violation.invariant for violation in violations}
    assert variant.caught_by <= found, [f"{v.invariant}: {v.message}" for v in violations]


def replay_blocks_checked(blocks: list[Block]) -> tuple[list[BlockReceipt], list[Violation]]:
    return replay_blocks(GENESIS, blocks)


def test_every_invariant_has_a_negative_control() -> None:
    covered: set[str] = set()
    for variant in VARIANTS.values():
        covered |= variant.caught_by
    assert covered == set(INVARIANT_NAMES)


def test_patches_are_undone_between_tests() -> None:
    """The module-level functions are the correct ones again (monkeypatch restored them)."""
    assert ledger_module.release_lock is RELEASE_LOCK
    assert ledger_module.commit_lock is COMMIT_LOCK
    assert ledger_module.expire_due is EXPIRE_DUE
    assert ledger_module.validate_settle is VALIDATE_SETTLE
    assert ledger_module.apply_lock is APPLY_LOCK
    assert ledger_module.next_reputation is NEXT_REPUTATION
