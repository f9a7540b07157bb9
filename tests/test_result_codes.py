"""Every result code, produced through the real ledger; precedence; idempotency; canonical bytes.

The table `CASES` maps each code of `spec.codes.CODE_TABLE` to functions that
build a genesis and blocks of real signed transactions and apply them with
`spec.ledger.apply_block`. A meta-test fails when a code has no case, so a new
code cannot be added without a test that produces it.
"""

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from builders import (
    ALICE,
    ATP,
    BOB,
    CAROL,
    CHAIN_ID,
    DAVE,
    ERIN,
    INITIAL_REPUTATION,
    LEGION,
    NOBODY,
    SPROUT,
    T0,
    THOR,
    UNKNOWN_PLATFORM,
    Ledger,
    Step,
    balance_set,
    commit,
    digest,
    expected_reputation,
    lock,
    lock_for,
    pair,
    proof,
    reputation,
    rollback,
    task,
)
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from conformance.encoding_vectors import handler_data
from spec.codes import CODE_TABLE, KIND, PRECEDENCE, ResultCode, is_state_failure
from spec.constants import (
    MAX_AMOUNT,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EXECUTION_TIME_MS,
    MAX_SUPPLY,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
)
from spec.ledger import apply_block, make_header
from spec.state import Chain
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, AtpTransferLock, BalanceSet, Block, FederationTask, ReputationUpdate

R = ResultCode


# =============================================================================================
# The table: code -> functions that produce it
# =============================================================================================
@dataclass
class Produced:
    """A ledger whose last block produced the code; `index` is the transaction (None: the block)."""

    ledger: Ledger
    index: int | None


CaseFn = Callable[[], Produced]
CASES: list[tuple[ResultCode, CaseFn]] = []


def produces(code: ResultCode) -> Callable[[CaseFn], CaseFn]:
    def register(fn: CaseFn) -> CaseFn:
        CASES.append((code, fn))
        return fn

    return register


def at(ledger: Ledger, index: int | None = 0) -> Produced:
    return Produced(ledger, index)


def with_lock(amount: int = 100 * ATP, **fields: Any) -> Ledger:
    ledger = Ledger()
    ledger.ok(lock(amount=amount, **fields))
    return ledger


def with_task(**fields: Any) -> Ledger:
    ledger = Ledger()
    ledger.ok(*pair(**fields))
    return ledger


def with_settled_task(quality_bp: int = 8_500) -> Ledger:
    ledger = with_task()
    ledger.ok(proof(quality_bp=quality_bp))
    return ledger


def with_reputation_update() -> Ledger:
    ledger = with_settled_task()
    ledger.ok(reputation())
    return ledger


def with_expired_task() -> Ledger:
    ledger = with_task(timeout_ms=1_000)
    receipt = ledger.block(ts=ledger.state.last_timestamp_ms + 1_001)
    assert [s.transfer_id for s in receipt.expiries] == ["task-A"]
    return ledger


# --- ok ------------------------------------------------------------------------------------
@produces(R.OK)
def ok_lock() -> Produced:
    ledger = Ledger()
    ledger.block(lock())
    return at(ledger)


@produces(R.OK)
def ok_empty_block() -> Produced:
    ledger = Ledger()
    ledger.block()
    return at(ledger, None)


@produces(R.OK)
def ok_full_task_flow() -> Produced:
    ledger = with_settled_task()
    ledger.block(reputation())
    return at(ledger)


# --- block codes -----------------------------------------------------------------------------
@produces(R.BLOCK_HEIGHT_MISMATCH)
def height_skips_one() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), height=2)
    return at(ledger, None)


@produces(R.BLOCK_HEIGHT_MISMATCH)
def height_repeats_previous() -> Produced:
    ledger = with_lock()
    ledger.block(lock("t2"), height=1)
    return at(ledger, None)


@produces(R.BLOCK_PREVIOUS_HASH_MISMATCH)
def previous_hash_wrong() -> Produced:
    ledger = with_lock()
    ledger.block(lock("t2"), previous_hash="11" * 32)
    return at(ledger, None)


@produces(R.BLOCK_PREVIOUS_HASH_MISMATCH)
def first_block_previous_hash_not_zero() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), previous_hash="ab" * 32)
    return at(ledger, None)


@produces(R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM)
def timestamp_above_maximum() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), ts=MAX_TIMESTAMP_MS + 1)
    return at(ledger, None)


@produces(R.BLOCK_TIMESTAMP_NOT_INCREASING)
def timestamp_equals_genesis_time() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), ts=T0)
    return at(ledger, None)


@produces(R.BLOCK_TIMESTAMP_NOT_INCREASING)
def timestamp_equals_previous_block() -> Produced:
    ledger = with_lock()
    ledger.block(lock("t2"), ts=ledger.state.last_timestamp_ms)
    return at(ledger, None)


@produces(R.BLOCK_TIMESTAMP_NOT_INCREASING)
def timestamp_goes_back() -> Produced:
    ledger = with_lock()
    ledger.block(lock("t2"), ts=ledger.state.last_timestamp_ms - 1)
    return at(ledger, None)


@produces(R.BLOCK_PROPOSER_UNKNOWN)
def proposer_unknown() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), proposer=UNKNOWN_PLATFORM)
    return at(ledger, None)


@produces(R.BLOCK_TOO_MANY_TRANSACTIONS)
def too_many_transactions() -> Produced:
    ledger = Ledger()
    ledger.block(*([lock()] * (MAX_BLOCK_TRANSACTIONS + 1)))
    return at(ledger, None)


@produces(R.BLOCK_TRANSACTION_ROOT_MISMATCH)
def transaction_root_wrong() -> Produced:
    ledger = Ledger()
    ledger.block(lock(), transaction_root="22" * 32)
    return at(ledger, None)


@produces(R.BLOCK_TRANSACTION_ROOT_MISMATCH)
def transaction_root_of_other_order() -> Produced:
    ledger = Ledger()
    first, second = lock("t1"), lock("t2")
    header = ledger.make_block((second, first)).header
    ledger.apply(Block(header=header, transactions=(first, second)))
    return at(ledger, None)


@produces(R.BLOCK_TRANSACTION_INVALID)
def static_failure_in_second_transaction() -> Produced:
    ledger = Ledger()
    receipt = ledger.block(lock("t1"), lock("t2", amount=0))
    assert (receipt.invalid_index, receipt.invalid_code) == (1, R.AMOUNT_MUST_NOT_BE_ZERO)
    return at(ledger, None)


# --- static codes ------------------------------------------------------------------------------
def static(*txs: AnyTransaction, index: int = 0) -> Produced:
    ledger = Ledger()
    ledger.block(*txs)
    return at(ledger, index)


def task_txs(missing_lock: bool = False, **fields: Any) -> tuple[AnyTransaction, ...]:
    t = task(**fields)
    return (t,) if missing_lock else (t, lock_for(t))


@produces(R.UNKNOWN_PLATFORM)
def lock_dest_platform_unknown() -> Produced:
    return static(lock(dest_platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def lock_source_platform_unknown() -> Produced:
    return static(lock(source_platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def commit_platform_unknown() -> Produced:
    return static(commit(platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def rollback_platform_unknown() -> Produced:
    return static(rollback(platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def task_delegating_platform_unknown() -> Produced:
    return static(*task_txs(delegating_platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def reputation_reporter_unknown() -> Produced:
    return static(reputation(reporter_platform=UNKNOWN_PLATFORM))


@produces(R.UNKNOWN_PLATFORM)
def reputation_platform_unknown() -> Produced:
    return static(reputation(platform=UNKNOWN_PLATFORM))


@produces(R.EXECUTING_PLATFORM_NOT_IN_GROUP)
def task_executing_platform_unknown() -> Produced:
    return static(*task_txs(executing_platform=UNKNOWN_PLATFORM))


@produces(R.EXECUTING_PLATFORM_NOT_IN_GROUP)
def proof_executing_platform_unknown() -> Produced:
    return static(proof(executing_platform=UNKNOWN_PLATFORM))


@produces(R.SIGNATURE_INVALID)
def lock_signed_by_destination_platform() -> Produced:
    return static(lock(signer=SPROUT))


@produces(R.SIGNATURE_INVALID)
def lock_signed_for_another_chain() -> Produced:
    return static(lock(chain_id="another-chain"))


@produces(R.SIGNATURE_INVALID)
def balance_set_signed_by_platform() -> Produced:
    return static(balance_set(signer=THOR))


@produces(R.SIGNATURE_INVALID)
def task_signed_by_executing_platform() -> Produced:
    return static(*task_txs(signer=SPROUT))


@produces(R.SIGNATURE_INVALID)
def proof_signed_by_delegating_platform() -> Produced:
    return static(proof(signer=THOR))


@produces(R.SIGNATURE_INVALID)
def reputation_signed_by_other_platform() -> Produced:
    return static(reputation(signer=THOR))


@produces(R.SIGNATURE_INVALID)
def rollback_carrying_commit_signature() -> Produced:
    """Domain separation: COMMIT and ROLLBACK have the same fields, but not the same tag."""
    signature = commit("t1").signature
    forged = rollback("t1").model_copy(update={"signature": signature})
    return static(forged)


@produces(R.AMOUNT_MUST_NOT_BE_ZERO)
def lock_amount_zero() -> Produced:
    return static(lock(amount=0))


@produces(R.AMOUNT_MUST_NOT_BE_ZERO)
def task_cost_zero() -> Produced:
    return static(*task_txs(cost=0))


@produces(R.AMOUNT_EXCEEDS_MAXIMUM)
def lock_amount_above_maximum() -> Produced:
    return static(lock(amount=MAX_AMOUNT + 1))


@produces(R.AMOUNT_EXCEEDS_MAXIMUM)
def task_cost_above_maximum() -> Produced:
    return static(*task_txs(cost=MAX_AMOUNT + 1))


@produces(R.TIMEOUT_MUST_NOT_BE_ZERO)
def lock_timeout_zero() -> Produced:
    return static(lock(timeout_ms=0))


@produces(R.TIMEOUT_MUST_NOT_BE_ZERO)
def task_timeout_zero() -> Produced:
    return static(*task_txs(timeout_ms=0))


@produces(R.TIMEOUT_EXCEEDS_MAXIMUM)
def lock_timeout_above_maximum() -> Produced:
    return static(lock(timeout_ms=MAX_TIMEOUT_MS + 1))


@produces(R.TIMEOUT_EXCEEDS_MAXIMUM)
def task_timeout_above_maximum() -> Produced:
    return static(*task_txs(timeout_ms=MAX_TIMEOUT_MS + 1))


@produces(R.THRESHOLD_EXCEEDS_MAXIMUM)
def task_threshold_above_maximum() -> Produced:
    return static(*task_txs(quality_threshold_bp=10_001))


@produces(R.QUALITY_EXCEEDS_MAXIMUM)
def proof_quality_above_maximum() -> Produced:
    return static(proof(quality_bp=10_001))


@produces(R.QUALITY_EXCEEDS_MAXIMUM)
def reputation_quality_above_maximum() -> Produced:
    return static(reputation(quality_bp=10_001, reputation_bp=5_000))


@produces(R.EXECUTION_TIME_EXCEEDS_MAXIMUM)
def proof_execution_time_above_maximum() -> Produced:
    return static(proof(execution_time_ms=MAX_EXECUTION_TIME_MS + 1))


@produces(R.REPUTATION_EXCEEDS_MAXIMUM)
def reputation_above_maximum() -> Produced:
    return static(reputation(reputation_bp=10_001))


@produces(R.BALANCE_EXCEEDS_MAXIMUM)
def balance_above_maximum_supply() -> Produced:
    return static(balance_set(balance=MAX_SUPPLY + 1))


@produces(R.UNKNOWN_ACCOUNT)
def lock_to_unknown_agent() -> Produced:
    return static(lock(dest_agent=NOBODY, dest_platform=SPROUT))


@produces(R.UNKNOWN_ACCOUNT)
def lock_from_unknown_agent() -> Produced:
    return static(lock(source_agent=NOBODY, source_platform=THOR))


@produces(R.UNKNOWN_ACCOUNT)
def balance_set_unknown_agent() -> Produced:
    return static(balance_set(agent=NOBODY))


@produces(R.UNKNOWN_ACCOUNT)
def task_executing_agent_unknown() -> Produced:
    return static(*task_txs(executing_agent=NOBODY, executing_platform=SPROUT))


@produces(R.UNKNOWN_ACCOUNT)
def proof_executing_agent_unknown() -> Produced:
    return static(proof(executing_agent=NOBODY, executing_platform=SPROUT))


@produces(R.AGENT_NOT_HOSTED_BY_PLATFORM)
def lock_dest_on_wrong_platform() -> Produced:
    return static(lock(dest_platform=LEGION))


@produces(R.AGENT_NOT_HOSTED_BY_PLATFORM)
def lock_source_on_wrong_platform() -> Produced:
    """Signed by the named platform, but that platform does not host the source agent."""
    return static(lock(source_platform=LEGION))


@produces(R.AGENT_NOT_HOSTED_BY_PLATFORM)
def task_delegating_agent_on_wrong_platform() -> Produced:
    return static(*task_txs(delegating_platform=LEGION))


@produces(R.AGENT_NOT_HOSTED_BY_PLATFORM)
def proof_agent_on_wrong_platform() -> Produced:
    return static(proof(executing_agent=CAROL, executing_platform=SPROUT))


@produces(R.SELF_TRANSFER)
def lock_to_self() -> Produced:
    return static(lock(dest_agent=ALICE))


@produces(R.SELF_TRANSFER)
def task_to_self() -> Produced:
    return static(*task_txs(executing_agent=ALICE))


@produces(R.TASK_LOCK_MISSING)
def task_alone() -> Produced:
    return static(*task_txs(missing_lock=True))


@produces(R.TASK_LOCK_MISSING)
def task_followed_by_lock_with_other_id() -> Produced:
    t = task()
    return static(t, lock_for(t, transfer_id="other"))


@produces(R.TASK_LOCK_MISSING)
def task_lock_before_task() -> Produced:
    t = task()
    return static(lock_for(t), t, index=1)


@produces(R.TASK_LOCK_MISSING)
def task_followed_by_commit() -> Produced:
    t = task()
    return static(t, commit("task-A"), lock_for(t))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_amount_differs() -> Produced:
    t = task()
    return static(t, lock_for(t, amount=t.cost - 1))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_timeout_differs() -> Produced:
    t = task()
    return static(t, lock_for(t, timeout_ms=t.timeout_ms + 1))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_pays_other_agent() -> Produced:
    t = task()
    return static(t, lock_for(t, dest_agent=ERIN))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_paid_by_other_agent() -> Produced:
    t = task()
    return static(t, lock_for(t, source_agent=DAVE))


# The platforms are compared for equality, whichever way the names sort ("Legion" <
# "Sprout" < "Thor"): a lock from or to another platform than its task's is caught at
# the task, before the lock's own hosting check.
@produces(R.TASK_LOCK_MISMATCH)
def task_lock_from_a_platform_sorting_before_the_delegators() -> Produced:
    t = task()  # Alice, on Thor
    return static(t, lock_for(t, source_platform=LEGION))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_from_a_platform_sorting_after_the_delegators() -> Produced:
    t = task(delegating_agent=CAROL)  # Carol, on Legion
    return static(t, lock_for(t, source_platform=THOR))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_to_a_platform_sorting_before_the_executors() -> Produced:
    t = task()  # Bob, on Sprout
    return static(t, lock_for(t, dest_platform=LEGION))


@produces(R.TASK_LOCK_MISMATCH)
def task_lock_to_a_platform_sorting_after_the_executors() -> Produced:
    t = task()  # Bob, on Sprout
    return static(t, lock_for(t, dest_platform=THOR))


# --- state: idempotency --------------------------------------------------------------------------
@produces(R.EXISTS_WITH_DIFFERENT_TASK_ID)
def reputation_id_reused_for_other_task() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(task_id="task-B"))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_TASK_ID)
def reputation_id_reused_for_a_task_id_sorting_before() -> Produced:
    """Any other task id, not only a greater one ("task-0" < "task-A")."""
    ledger = with_reputation_update()
    ledger.block(reputation(task_id="task-0"))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT)
def lock_id_reused_other_source() -> Produced:
    ledger = with_lock()
    ledger.block(lock(source_agent=DAVE))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_DEST_AGENT)
def lock_id_reused_other_dest() -> Produced:
    ledger = with_lock()
    ledger.block(lock(dest_agent=CAROL))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_DEST_AGENT)
def plain_lock_reusing_task_id_other_dest() -> Produced:
    """Transfer and task ids share one namespace."""
    ledger = with_task()
    ledger.block(lock("task-A", dest_agent=ERIN, amount=300 * ATP))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_AMOUNT)
def lock_id_reused_other_amount() -> Produced:
    ledger = with_lock()
    ledger.block(lock(amount=101 * ATP))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_PLATFORM)
def commit_repeated_by_other_platform() -> Produced:
    ledger = with_lock()
    ledger.ok(commit())
    ledger.block(commit(platform=SPROUT))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_PLATFORM)
def rollback_repeated_by_other_platform() -> Produced:
    ledger = with_lock()
    ledger.ok(rollback())
    ledger.block(rollback(platform=LEGION))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_PLATFORM)
def reputation_id_reused_other_platform() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(platform=LEGION))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_AGENT)
def balance_set_id_reused_other_agent() -> Produced:
    ledger = Ledger()
    ledger.ok(balance_set())
    ledger.block(balance_set(agent=BOB))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_BALANCE)
def balance_set_id_reused_other_balance() -> Produced:
    ledger = Ledger()
    ledger.ok(balance_set())
    ledger.block(balance_set(balance=3_000 * ATP))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT)
def task_id_reused_other_delegator() -> Produced:
    ledger = with_task()
    ledger.block(*pair(delegating_agent=DAVE))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT)
def task_id_reused_other_executor() -> Produced:
    ledger = with_task()
    ledger.block(*pair(executing_agent=ERIN))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT)
def proof_repeated_by_other_agent() -> Produced:
    ledger = with_settled_task()
    ledger.block(proof(executing_agent=ERIN))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_COST)
def task_id_reused_other_cost() -> Produced:
    ledger = with_task()
    ledger.block(*pair(cost=200 * ATP))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP)
def task_id_reused_other_threshold() -> Produced:
    ledger = with_task()
    ledger.block(*pair(quality_threshold_bp=5_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS)
def task_id_reused_other_timeout() -> Produced:
    ledger = with_task()
    ledger.block(*pair(timeout_ms=30_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS)
def lock_id_reused_other_timeout() -> Produced:
    ledger = with_lock()
    ledger.block(lock(timeout_ms=30_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH)
def task_id_reused_other_data() -> Produced:
    ledger = with_task()
    ledger.block(*pair(task_data_hash=digest("other data")))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_QUALITY_BP)
def proof_repeated_other_quality() -> Produced:
    ledger = with_settled_task()
    ledger.block(proof(quality_bp=9_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_QUALITY_BP)
def reputation_id_reused_other_quality() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(quality_bp=9_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS)
def proof_repeated_other_execution_time() -> Produced:
    ledger = with_settled_task()
    ledger.block(proof(execution_time_ms=2_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_RESULT_HASH)
def proof_repeated_other_result() -> Produced:
    ledger = with_settled_task()
    ledger.block(proof(result_hash=digest("other result")))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_REPUTATION_BP)
def reputation_id_reused_other_reputation() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(reputation_bp=6_000))
    return at(ledger)


@produces(R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM)
def reputation_id_reused_other_reporter() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(reporter_platform=THOR))
    return at(ledger)


@produces(R.EXISTS)
def lock_resubmitted() -> Produced:
    ledger = with_lock()
    ledger.block(lock())
    return at(ledger)


@produces(R.EXISTS)
def lock_resubmitted_after_commit() -> Produced:
    ledger = with_lock()
    ledger.ok(commit())
    ledger.block(lock())
    return at(ledger)


@produces(R.EXISTS)
def task_pair_resubmitted() -> Produced:
    ledger = with_task()
    receipt = ledger.block(*pair())
    assert receipt.transactions[1].code == R.EXISTS
    return at(ledger)


@produces(R.EXISTS)
def balance_set_resubmitted() -> Produced:
    ledger = Ledger()
    ledger.ok(balance_set())
    ledger.block(balance_set())
    return at(ledger)


@produces(R.EXISTS)
def proof_resubmitted() -> Produced:
    ledger = with_settled_task()
    ledger.block(proof())
    return at(ledger)


@produces(R.EXISTS)
def reputation_resubmitted() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation())
    return at(ledger)


@produces(R.EXISTS)
def commit_resubmitted() -> Produced:
    ledger = with_lock()
    ledger.ok(commit())
    ledger.block(commit())
    return at(ledger)


@produces(R.EXISTS)
def rollback_resubmitted() -> Produced:
    ledger = with_lock()
    ledger.ok(rollback())
    ledger.block(rollback())
    return at(ledger)


@produces(R.ID_ALREADY_FAILED)
def lock_id_failed_before() -> Produced:
    ledger = Ledger()
    ledger.block(lock(amount=2_000 * ATP))
    ledger.block(lock(amount=2_000 * ATP))
    return at(ledger)


@produces(R.ID_ALREADY_FAILED)
def task_id_failed_before() -> Produced:
    ledger = Ledger()
    ledger.block(*pair(cost=2_000 * ATP))
    ledger.block(*pair(cost=2_000 * ATP))
    return at(ledger)


@produces(R.ID_ALREADY_FAILED)
def lock_reusing_failed_task_id() -> Produced:
    ledger = Ledger()
    ledger.block(*pair(cost=2_000 * ATP))
    ledger.block(lock("task-A"))
    return at(ledger)


@produces(R.ID_ALREADY_FAILED)
def balance_set_id_failed_before() -> Produced:
    ledger = with_lock(500 * ATP)
    ledger.block(balance_set(balance=100 * ATP))
    ledger.block(balance_set(balance=100 * ATP))
    return at(ledger)


@produces(R.ID_ALREADY_FAILED)
def reputation_id_failed_before() -> Produced:
    ledger = Ledger()
    ledger.block(reputation(task_id="nope"))
    ledger.block(reputation(task_id="nope"))
    return at(ledger)


@produces(R.ID_USED_BY_TRANSFER)
def task_id_is_a_plain_transfer() -> Produced:
    ledger = with_lock()
    ledger.block(*pair(task_id="t1"))
    return at(ledger)


# --- state: references and authority ------------------------------------------------------------
@produces(R.TRANSFER_NOT_FOUND)
def commit_unknown_transfer() -> Produced:
    ledger = Ledger()
    ledger.block(commit("nope"))
    return at(ledger)


@produces(R.TRANSFER_NOT_FOUND)
def rollback_unknown_transfer() -> Produced:
    ledger = Ledger()
    ledger.block(rollback("nope"))
    return at(ledger)


@produces(R.TRANSFER_NOT_FOUND)
def commit_of_failed_lock() -> Produced:
    ledger = Ledger()
    ledger.block(lock(amount=2_000 * ATP))
    ledger.block(commit())
    return at(ledger)


@produces(R.TASK_NOT_FOUND)
def proof_unknown_task() -> Produced:
    ledger = Ledger()
    ledger.block(proof(task_id="nope"))
    return at(ledger)


@produces(R.TASK_NOT_FOUND)
def proof_for_plain_transfer() -> Produced:
    ledger = with_lock()
    ledger.block(proof(task_id="t1"))
    return at(ledger)


@produces(R.TASK_NOT_FOUND)
def reputation_unknown_task() -> Produced:
    ledger = Ledger()
    ledger.block(reputation(task_id="nope"))
    return at(ledger)


@produces(R.UNAUTHORIZED_PLATFORM)
def commit_by_destination_platform() -> Produced:
    ledger = with_lock()
    ledger.block(commit(platform=SPROUT))
    return at(ledger)


@produces(R.UNAUTHORIZED_PLATFORM)
def rollback_by_third_platform() -> Produced:
    ledger = with_lock()
    ledger.block(rollback(platform=LEGION))
    return at(ledger)


@produces(R.EXECUTING_PLATFORM_MISMATCH)
def proof_from_other_platform() -> Produced:
    ledger = with_task()
    ledger.block(proof(executing_agent=CAROL))
    return at(ledger)


@produces(R.EXECUTING_PLATFORM_MISMATCH)
def reputation_rates_other_platform() -> Produced:
    ledger = with_settled_task()
    ledger.block(reputation(platform=LEGION))
    return at(ledger)


@produces(R.EXECUTING_AGENT_MISMATCH)
def proof_from_other_agent_same_platform() -> Produced:
    ledger = with_task()
    ledger.block(proof(executing_agent=ERIN))
    return at(ledger)


@produces(R.TRANSFER_LINKED_TO_TASK)
def commit_task_lock() -> Produced:
    ledger = with_task()
    ledger.block(commit("task-A"))
    return at(ledger)


@produces(R.TRANSFER_LINKED_TO_TASK)
def rollback_task_lock() -> Produced:
    ledger = with_task()
    ledger.block(rollback("task-A"))
    return at(ledger)


# --- state: lifecycle -------------------------------------------------------------------------
@produces(R.TRANSFER_ALREADY_COMMITTED)
def rollback_after_commit() -> Produced:
    ledger = with_lock()
    ledger.ok(commit())
    ledger.block(rollback())
    return at(ledger)


@produces(R.TRANSFER_ALREADY_COMMITTED)
def commit_then_rollback_same_block() -> Produced:
    ledger = with_lock()
    ledger.ok(commit())
    ledger.block(rollback(), rollback())
    return at(ledger, 1)


@produces(R.TRANSFER_ALREADY_ROLLED_BACK)
def commit_after_rollback() -> Produced:
    ledger = with_lock()
    ledger.ok(rollback())
    ledger.block(commit())
    return at(ledger)


@produces(R.TRANSFER_EXPIRED)
def commit_after_expiry() -> Produced:
    ledger = with_lock(timeout_ms=1_000)
    receipt = ledger.block(commit(), ts=ledger.state.last_timestamp_ms + 1_001)
    assert [s.transfer_id for s in receipt.expiries] == ["t1"]
    return at(ledger)


@produces(R.TRANSFER_EXPIRED)
def rollback_after_expiry() -> Produced:
    ledger = with_lock(timeout_ms=1_000)
    ledger.block(ts=ledger.state.last_timestamp_ms + 5_000)
    ledger.block(rollback())
    return at(ledger)


@produces(R.TASK_EXPIRED)
def proof_one_ms_after_deadline() -> Produced:
    ledger = with_task(timeout_ms=1_000)
    receipt = ledger.block(proof(), ts=ledger.state.last_timestamp_ms + 1_001)
    assert [s.transfer_id for s in receipt.expiries] == ["task-A"]
    return at(ledger)


@produces(R.TASK_EXPIRED)
def proof_after_expiry_block() -> Produced:
    ledger = with_expired_task()
    ledger.block(proof())
    return at(ledger)


@produces(R.TASK_NOT_SETTLED)
def reputation_for_pending_task() -> Produced:
    ledger = with_task()
    ledger.block(reputation())
    return at(ledger)


@produces(R.REPUTATION_ALREADY_UPDATED)
def second_reputation_update() -> Produced:
    ledger = with_reputation_update()
    ledger.block(reputation(update_id="r2"))
    return at(ledger)


@produces(R.QUALITY_MISMATCH)
def reputation_with_other_quality() -> Produced:
    ledger = with_settled_task()
    ledger.block(reputation(quality_bp=9_000))
    return at(ledger)


@produces(R.QUALITY_MISMATCH)
def reputation_for_expired_task_nonzero_quality() -> Produced:
    ledger = with_expired_task()
    ledger.block(reputation(quality_bp=8_500))
    return at(ledger)


@produces(R.REPUTATION_MISMATCH)
def reputation_unchanged() -> Produced:
    ledger = with_settled_task()
    ledger.block(reputation(reputation_bp=INITIAL_REPUTATION))
    return at(ledger)


@produces(R.REPUTATION_MISMATCH)
def reputation_rounded_up() -> Produced:
    ledger = with_settled_task(quality_bp=8_501)
    rule = expected_reputation(INITIAL_REPUTATION, 8_501)
    assert (INITIAL_REPUTATION * 9_000 + 8_501 * 1_000) % 10_000 != 0
    ledger.block(reputation(quality_bp=8_501, reputation_bp=rule + 1))
    return at(ledger)


# --- state: funds ---------------------------------------------------------------------------------
@produces(R.INSUFFICIENT_AVAILABLE)
def lock_more_than_total() -> Produced:
    ledger = Ledger()
    ledger.block(lock(amount=1_000 * ATP + 1))
    return at(ledger)


@produces(R.INSUFFICIENT_AVAILABLE)
def lock_more_than_available() -> Produced:
    ledger = with_lock(600 * ATP)
    ledger.block(lock("t2", amount=400 * ATP + 1))
    return at(ledger)


@produces(R.INSUFFICIENT_AVAILABLE)
def task_lock_more_than_available() -> Produced:
    ledger = Ledger()
    receipt = ledger.block(*pair(cost=1_000 * ATP + 1))
    assert receipt.transactions[0].code == R.LINKED_TRANSACTION_FAILED
    return at(ledger, 1)


@produces(R.BALANCE_BELOW_LOCKED)
def balance_set_below_locked() -> Produced:
    ledger = with_lock(500 * ATP)
    ledger.block(balance_set(balance=500 * ATP - 1))
    return at(ledger)


@produces(R.SUPPLY_EXCEEDS_MAXIMUM)
def balance_set_pushes_supply_over_maximum() -> Produced:
    ledger = Ledger()
    ledger.block(balance_set(balance=MAX_SUPPLY))
    return at(ledger)


# --- state: pairing ---------------------------------------------------------------------------------
@produces(R.LINKED_TRANSACTION_FAILED)
def task_whose_lock_lacks_funds() -> Produced:
    ledger = Ledger()
    ledger.block(*pair(cost=2_000 * ATP))
    return at(ledger, 0)


@produces(R.LINKED_TRANSACTION_FAILED)
def lock_whose_task_failed() -> Produced:
    ledger = with_lock()
    ledger.block(*pair(task_id="t1"))
    return at(ledger, 1)


@produces(R.LINKED_TRANSACTION_FAILED)
def lock_of_task_resubmitted_under_failed_id() -> Produced:
    ledger = Ledger()
    ledger.block(*pair(cost=2_000 * ATP))
    receipt = ledger.block(*pair(cost=2_000 * ATP))
    assert receipt.transactions[0].code == R.ID_ALREADY_FAILED
    return at(ledger, 1)


@produces(R.LINKED_TRANSACTION_FAILED)
def lock_of_task_with_changed_cost() -> Produced:
    ledger = with_task()
    receipt = ledger.block(*pair(cost=301 * ATP))
    assert receipt.transactions[0].code == R.EXISTS_WITH_DIFFERENT_COST
    return at(ledger, 1)


# =============================================================================================
# Running the table
# =============================================================================================
def code_of(receipt: BlockReceipt, index: int | None) -> ResultCode:
    if index is None:
        return receipt.code
    if receipt.code == R.BLOCK_TRANSACTION_INVALID:
        assert receipt.invalid_index == index, receipt
        assert receipt.invalid_code is not None
        return receipt.invalid_code
    assert receipt.accepted, receipt
    return receipt.transactions[index].code


def created_id(tx: AnyTransaction) -> tuple[str, str] | None:
    """The failed-id set and id a transaction would be remembered under."""
    if isinstance(tx, (AtpTransferLock, FederationTask)):
        return "failed_transfer_ids", tx.transfer_id if isinstance(tx, AtpTransferLock) else tx.task_id
    if isinstance(tx, BalanceSet):
        return "failed_set_ids", tx.set_id
    if isinstance(tx, ReputationUpdate):
        return "failed_update_ids", tx.update_id
    return None


def id_in_use(state: LedgerState, tx: AnyTransaction) -> bool:
    if isinstance(tx, AtpTransferLock):
        return tx.transfer_id in state.transfers
    if isinstance(tx, FederationTask):
        return tx.task_id in state.transfers or tx.task_id in state.tasks
    if isinstance(tx, BalanceSet):
        return tx.set_id in state.balance_sets
    if isinstance(tx, ReputationUpdate):
        return tx.update_id in state.reputation_updates
    return False


FAILED_SETS = ("failed_transfer_ids", "failed_set_ids", "failed_update_ids")
CONTENT_FIELDS = ("height", "last_timestamp_ms", "accounts", "transfers", "tasks", "balance_sets",
                  "reputation_updates", "reputations")


def assert_state_failures_change_only_failed_ids(chain: Chain, step: Step) -> None:
    """The block holds only non-applying transactions: its post-state equals the same
    block without them (same timestamp, so the same expiries) except for failed ids."""
    assert step.receipt.accepted
    assert all(r.code != R.OK for r in step.receipt.transactions), step.receipt
    header = step.block.header
    empty = Block(header=make_header(step.pre, header.timestamp_ms, header.proposer, ()), transactions=())
    baseline, _receipt = apply_block(chain, step.pre, empty)
    for name in CONTENT_FIELDS:
        assert getattr(step.post, name) == getattr(baseline, name), name
    remembered: dict[str, set[str]] = {name: set() for name in FAILED_SETS}
    must_remember: dict[str, set[str]] = {name: set() for name in FAILED_SETS}
    for tx_receipt in step.receipt.transactions:
        tx = step.block.transactions[tx_receipt.index]
        named = created_id(tx)
        if named is None:
            continue
        remembered[named[0]].add(named[1])
        if is_state_failure(tx_receipt.code) and not id_in_use(step.pre, tx):
            must_remember[named[0]].add(named[1])
    for name in FAILED_SETS:
        before, after = getattr(baseline, name), getattr(step.post, name)
        assert before <= after, name
        assert after - before <= remembered[name], name
        assert must_remember[name] <= after, name


def case_id(entry: tuple[ResultCode, CaseFn]) -> str:
    return f"{entry[0].value}:{entry[1].__name__}"


@pytest.mark.parametrize("entry", CASES, ids=[case_id(entry) for entry in CASES])
def test_case_produces_its_code(entry: tuple[ResultCode, CaseFn]) -> None:
    code, build = entry
    produced = build()
    ledger = produced.ledger
    step = ledger.last
    assert code_of(step.receipt, produced.index) == code
    assert ledger.violations() == []
    kind = KIND[code]
    if kind == "block":
        assert step.receipt.transactions == () and step.receipt.expiries == ()
    if kind in ("block", "static"):
        # A rejected block leaves the state exactly as it was.
        assert step.post is step.pre
        assert state_root(step.post) == state_root(step.pre)
        assert not step.receipt.accepted
    if kind == "static":
        assert step.receipt.code == R.BLOCK_TRANSACTION_INVALID
    if kind == "state":
        assert_state_failures_change_only_failed_ids(ledger.chain, step)


def block_from_the_wire(block: Block) -> Block:
    """`block` decoded afresh, as `from_the_wire` decodes a transaction (JSON arrays
    turned into the tuples the strict Python mode asks for)."""

    def arrays_as_tuples(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(arrays_as_tuples(item) for item in value)
        if isinstance(value, dict):
            return {key: arrays_as_tuples(item) for key, item in value.items()}
        return value

    return Block.model_validate(arrays_as_tuples(json.loads(block.model_dump_json())))


@pytest.mark.parametrize("entry", CASES, ids=[case_id(entry) for entry in CASES])
def test_each_case_gives_the_same_results_with_its_blocks_decoded_from_the_wire(
    entry: tuple[ResultCode, CaseFn],
) -> None:
    """The ledger compares fields by value, never by the identity of the objects holding
    them: replayed with every block decoded afresh (so no int above 256 or str of one
    block is the object of another block, of the genesis or of the test's constants),
    each case gives the same receipts and the same state roots."""
    _code, build = entry
    ledger = build().ledger
    state = ledger.steps[0].pre
    for step in ledger.steps:
        decoded = block_from_the_wire(step.block)
        assert decoded == step.block
        post, receipt = apply_block(ledger.chain, state, decoded)
        assert receipt == step.receipt
        assert state_root(post) == state_root(step.post)
        state = post


def test_a_chain_past_height_256_takes_its_next_block() -> None:
    """Heights are compared by value: past 256 (where CPython stops sharing one object
    per int) the next block is still the next block, and a repeated height is still wrong."""
    ledger = Ledger()
    ledger.state = dataclasses.replace(ledger.state, height=300, last_block_hash="ab" * 32)
    receipt = ledger.block(lock())
    assert receipt.code == R.OK and ledger.state.height == 301
    assert ledger.block(lock("t2"), height=301).code == R.BLOCK_HEIGHT_MISMATCH


def test_every_code_has_a_case() -> None:
    covered = {code for code, _build in CASES}
    table = {info.code for info in CODE_TABLE}
    assert covered == table
    assert table == set(ResultCode)
    assert len(CODE_TABLE) == len(table), "a code appears twice in CODE_TABLE"


def test_code_table_kinds_are_grouped_in_order() -> None:
    kinds = [info.kind for info in CODE_TABLE]
    order = ["ok", "block", "static", "state"]
    assert kinds == sorted(kinds, key=order.index)


def test_rejected_block_does_not_advance_the_chain() -> None:
    ledger = Ledger()
    before = ledger.root()
    receipt = ledger.block(lock(), ts=T0)
    assert receipt.code == R.BLOCK_TIMESTAMP_NOT_INCREASING
    assert ledger.root() == before and ledger.state.height == 0
    # The same transactions in a valid block at the same height then apply.
    assert ledger.block(lock()).accepted
    assert ledger.state.height == 1


# =============================================================================================
# Boundaries: the largest allowed value is accepted statically
# =============================================================================================
def test_maximum_values_pass_static_checks() -> None:
    ledger = Ledger()
    receipt = ledger.block(
        lock("t-max-amount", amount=MAX_AMOUNT),
        lock("t-max-timeout", timeout_ms=MAX_TIMEOUT_MS),
        *pair(quality_threshold_bp=10_000),
        proof(quality_bp=10_000, execution_time_ms=MAX_EXECUTION_TIME_MS),
        balance_set("s-max", agent=BOB, balance=MAX_SUPPLY),
    )
    codes = [r.code for r in receipt.transactions]
    assert codes == [R.INSUFFICIENT_AVAILABLE, R.OK, R.OK, R.OK, R.OK, R.SUPPLY_EXCEEDS_MAXIMUM]
    assert ledger.violations() == []


def test_timestamp_at_maximum_is_accepted() -> None:
    ledger = Ledger()
    assert ledger.block(lock(timeout_ms=MAX_TIMEOUT_MS), ts=MAX_TIMESTAMP_MS).accepted
    assert ledger.state.transfers["t1"].expires_at_ms == MAX_TIMESTAMP_MS + MAX_TIMEOUT_MS < 2**63
    assert ledger.violations() == []


def test_quality_equal_to_threshold_pays_and_one_below_refunds() -> None:
    ledger = Ledger()
    ledger.ok(*pair(task_id="task-A", quality_threshold_bp=7_000), *pair(task_id="task-B", quality_threshold_bp=7_000))
    receipt = ledger.ok(proof("task-A", quality_bp=7_000), proof("task-B", quality_bp=6_999))
    outcomes = [s.outcome.value for r in receipt.transactions for s in r.settlements]
    assert outcomes == ["COMMITTED", "ROLLED_BACK"]
    assert ledger.state.accounts[BOB].total == 300 * ATP
    assert ledger.state.accounts[ALICE].total == 700 * ATP and ledger.state.accounts[ALICE].locked == 0
    assert ledger.violations() == []


def test_deadline_is_inclusive() -> None:
    """A proof or commit in the block whose timestamp equals the deadline is on time."""
    ledger = Ledger()
    ledger.ok(*pair(timeout_ms=1_000), lock("t1", timeout_ms=1_000))
    deadline = ledger.state.tasks["task-A"].deadline_ms
    assert ledger.state.transfers["t1"].expires_at_ms == deadline
    receipt = ledger.ok(proof(), commit("t1"), ts=deadline)
    assert receipt.expiries == ()
    assert ledger.state.tasks["task-A"].status.value == "COMPLETED"
    assert ledger.violations() == []


def test_expiry_order_is_by_deadline_then_id() -> None:
    ledger = Ledger()
    ledger.ok(lock("b", timeout_ms=1_000), lock("a", timeout_ms=1_000), lock("c", timeout_ms=500), *pair(timeout_ms=1_000))
    receipt = ledger.block(ts=ledger.state.last_timestamp_ms + 5_000)
    assert [s.transfer_id for s in receipt.expiries] == ["c", "a", "b", "task-A"]
    assert ledger.state.accounts[ALICE].locked == 0
    assert ledger.violations() == []


def test_exactly_max_block_transactions_is_accepted() -> None:
    ledger = Ledger()
    receipt = ledger.block(*([lock()] * MAX_BLOCK_TRANSACTIONS))
    assert receipt.accepted
    assert [r.code for r in receipt.transactions] == [R.OK] + [R.EXISTS] * (MAX_BLOCK_TRANSACTIONS - 1)


def test_supply_may_reach_exactly_the_maximum() -> None:
    ledger = Ledger()
    others = sum(account.total for agent, account in ledger.state.accounts.items() if agent != ALICE)
    receipt = ledger.block(balance_set(balance=MAX_SUPPLY - others))
    assert receipt.transactions[0].code == R.OK
    assert sum(a.total for a in ledger.state.accounts.values()) == MAX_SUPPLY
    receipt = ledger.block(balance_set("s2", agent=BOB, balance=1))
    assert receipt.transactions[0].code == R.SUPPLY_EXCEEDS_MAXIMUM


# =============================================================================================
# Precedence: a transaction wrong in two ways reports the code listed first
# =============================================================================================
def earlier(a: ResultCode, b: ResultCode) -> ResultCode:
    return a if PRECEDENCE[a] < PRECEDENCE[b] else b


def first_code(txs: tuple[AnyTransaction, ...]) -> ResultCode:
    ledger = Ledger()
    receipt = ledger.block(*txs)
    return code_of(receipt, 0)


def one(builder: Callable[..., AnyTransaction]) -> Callable[..., tuple[AnyTransaction, ...]]:
    return lambda **fields: (builder(**fields),)


STATIC_PAIRS: list[tuple[str, Callable[..., tuple[AnyTransaction, ...]], dict[str, Any], dict[str, Any], ResultCode, ResultCode]] = [
    ("lock unknown platform + bad signature", one(lock),
     {"dest_platform": UNKNOWN_PLATFORM}, {"signer": SPROUT}, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
    ("lock bad signature + zero amount", one(lock),
     {"signer": SPROUT}, {"amount": 0}, R.SIGNATURE_INVALID, R.AMOUNT_MUST_NOT_BE_ZERO),
    ("lock zero amount + zero timeout", one(lock),
     {"amount": 0}, {"timeout_ms": 0}, R.AMOUNT_MUST_NOT_BE_ZERO, R.TIMEOUT_MUST_NOT_BE_ZERO),
    ("lock zero amount + unknown account", one(lock),
     {"amount": 0}, {"dest_agent": NOBODY, "dest_platform": SPROUT}, R.AMOUNT_MUST_NOT_BE_ZERO, R.UNKNOWN_ACCOUNT),
    ("lock amount too big + timeout too big", one(lock),
     {"amount": MAX_AMOUNT + 1}, {"timeout_ms": MAX_TIMEOUT_MS + 1}, R.AMOUNT_EXCEEDS_MAXIMUM, R.TIMEOUT_EXCEEDS_MAXIMUM),
    ("lock timeout too big + self transfer", one(lock),
     {"timeout_ms": MAX_TIMEOUT_MS + 1}, {"dest_agent": ALICE}, R.TIMEOUT_EXCEEDS_MAXIMUM, R.SELF_TRANSFER),
    ("lock unknown dest + source not hosted", one(lock),
     {"dest_agent": NOBODY, "dest_platform": SPROUT}, {"source_platform": LEGION},
     R.UNKNOWN_ACCOUNT, R.AGENT_NOT_HOSTED_BY_PLATFORM),
    ("lock dest not hosted + self transfer", one(lock),
     {"dest_platform": LEGION}, {"dest_agent": ALICE}, R.AGENT_NOT_HOSTED_BY_PLATFORM, R.SELF_TRANSFER),
    ("task unknown delegating platform + executing platform not in group", task_txs,
     {"delegating_platform": UNKNOWN_PLATFORM}, {"executing_platform": UNKNOWN_PLATFORM},
     R.UNKNOWN_PLATFORM, R.EXECUTING_PLATFORM_NOT_IN_GROUP),
    ("task executing platform not in group + bad signature", task_txs,
     {"executing_platform": UNKNOWN_PLATFORM}, {"signer": SPROUT},
     R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.SIGNATURE_INVALID),
    ("task bad signature + zero cost", task_txs,
     {"signer": LEGION}, {"cost": 0}, R.SIGNATURE_INVALID, R.AMOUNT_MUST_NOT_BE_ZERO),
    ("task zero timeout + threshold too big", task_txs,
     {"timeout_ms": 0}, {"quality_threshold_bp": 10_001}, R.TIMEOUT_MUST_NOT_BE_ZERO, R.THRESHOLD_EXCEEDS_MAXIMUM),
    ("task threshold too big + unknown executor", task_txs,
     {"quality_threshold_bp": 10_001}, {"executing_agent": NOBODY, "executing_platform": SPROUT},
     R.THRESHOLD_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT),
    ("task unknown executor + delegating agent not hosted", task_txs,
     {"executing_agent": NOBODY, "executing_platform": SPROUT}, {"delegating_platform": LEGION},
     R.UNKNOWN_ACCOUNT, R.AGENT_NOT_HOSTED_BY_PLATFORM),
    ("task self transfer + lock missing", task_txs,
     {"executing_agent": ALICE}, {"missing_lock": True}, R.SELF_TRANSFER, R.TASK_LOCK_MISSING),
    ("proof platform not in group + quality too big", one(proof),
     {"executing_platform": UNKNOWN_PLATFORM}, {"quality_bp": 10_001},
     R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.QUALITY_EXCEEDS_MAXIMUM),
    ("proof bad signature + quality too big", one(proof),
     {"signer": THOR}, {"quality_bp": 10_001}, R.SIGNATURE_INVALID, R.QUALITY_EXCEEDS_MAXIMUM),
    ("proof quality too big + execution time too big", one(proof),
     {"quality_bp": 10_001}, {"execution_time_ms": MAX_EXECUTION_TIME_MS + 1},
     R.QUALITY_EXCEEDS_MAXIMUM, R.EXECUTION_TIME_EXCEEDS_MAXIMUM),
    ("proof execution time too big + agent not hosted", one(proof),
     {"execution_time_ms": MAX_EXECUTION_TIME_MS + 1}, {"executing_agent": CAROL, "executing_platform": SPROUT},
     R.EXECUTION_TIME_EXCEEDS_MAXIMUM, R.AGENT_NOT_HOSTED_BY_PLATFORM),
    ("reputation unknown reporter + bad signature", one(reputation),
     {"reporter_platform": UNKNOWN_PLATFORM}, {"signer": THOR}, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
    ("reputation bad signature + quality too big", one(reputation),
     {"signer": THOR}, {"quality_bp": 10_001, "reputation_bp": 5_000}, R.SIGNATURE_INVALID, R.QUALITY_EXCEEDS_MAXIMUM),
    ("reputation quality too big + reputation too big", one(reputation),
     {"quality_bp": 10_001}, {"reputation_bp": 10_001}, R.QUALITY_EXCEEDS_MAXIMUM, R.REPUTATION_EXCEEDS_MAXIMUM),
    ("balance set bad signature + balance too big", one(balance_set),
     {"signer": THOR}, {"balance": MAX_SUPPLY + 1}, R.SIGNATURE_INVALID, R.BALANCE_EXCEEDS_MAXIMUM),
    ("balance set balance too big + unknown agent", one(balance_set),
     {"balance": MAX_SUPPLY + 1}, {"agent": NOBODY}, R.BALANCE_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT),
    ("commit unknown platform + bad signature", one(commit),
     {"platform": UNKNOWN_PLATFORM}, {"signer": LEGION}, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
]


@pytest.mark.parametrize(
    ("builder", "fault_a", "fault_b", "code_a", "code_b"),
    [entry[1:] for entry in STATIC_PAIRS],
    ids=[entry[0] for entry in STATIC_PAIRS],
)
def test_static_precedence(
    builder: Callable[..., tuple[AnyTransaction, ...]],
    fault_a: dict[str, Any],
    fault_b: dict[str, Any],
    code_a: ResultCode,
    code_b: ResultCode,
) -> None:
    assert KIND[first_code(builder())] not in ("block", "static"), "the base transaction is statically valid"
    assert first_code(builder(**fault_a)) == code_a
    assert first_code(builder(**fault_b)) == code_b
    assert set(fault_a).isdisjoint(fault_b)
    both = first_code(builder(**fault_a, **fault_b))
    assert both == earlier(code_a, code_b)
    assert both == code_a, "each pair lists the earlier code first"


def block_args(*faults: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"txs": (lock(),), "ts": None, "proposer": THOR, "header": {}}
    for fault in faults:
        for key, value in fault.items():
            if key == "header":
                args["header"] = {**args["header"], **value}
            else:
                args[key] = value
    return args


def block_code(*faults: dict[str, Any]) -> ResultCode:
    ledger = Ledger()
    ledger.ok(lock("t0"))
    args = block_args(*faults)
    receipt = ledger.block(*args["txs"], ts=args["ts"], proposer=args["proposer"], **args["header"])
    return receipt.code


HEIGHT = {"header": {"height": 7}}
PREVIOUS = {"header": {"previous_hash": "11" * 32}}
TS_ABOVE_MAX = {"ts": MAX_TIMESTAMP_MS + 1}
TS_NOT_INCREASING = {"ts": T0 + 1_000}
PROPOSER = {"proposer": UNKNOWN_PLATFORM}
TOO_MANY = {"txs": (lock(),) * (MAX_BLOCK_TRANSACTIONS + 1)}
ROOT = {"header": {"transaction_root": "22" * 32}}
STATIC_TX = {"txs": (lock(amount=0),)}
STATE_FAILURE_AND_STATIC_TX = {"txs": (lock(amount=5_000 * ATP), lock("t2", amount=0))}

BLOCK_PAIRS = [
    (HEIGHT, PREVIOUS, R.BLOCK_HEIGHT_MISMATCH, R.BLOCK_PREVIOUS_HASH_MISMATCH),
    (PREVIOUS, TS_ABOVE_MAX, R.BLOCK_PREVIOUS_HASH_MISMATCH, R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM),
    (TS_ABOVE_MAX, PROPOSER, R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM, R.BLOCK_PROPOSER_UNKNOWN),
    (TS_NOT_INCREASING, PROPOSER, R.BLOCK_TIMESTAMP_NOT_INCREASING, R.BLOCK_PROPOSER_UNKNOWN),
    (PROPOSER, TOO_MANY, R.BLOCK_PROPOSER_UNKNOWN, R.BLOCK_TOO_MANY_TRANSACTIONS),
    (TOO_MANY, ROOT, R.BLOCK_TOO_MANY_TRANSACTIONS, R.BLOCK_TRANSACTION_ROOT_MISMATCH),
    (ROOT, STATIC_TX, R.BLOCK_TRANSACTION_ROOT_MISMATCH, R.BLOCK_TRANSACTION_INVALID),
    (HEIGHT, STATIC_TX, R.BLOCK_HEIGHT_MISMATCH, R.BLOCK_TRANSACTION_INVALID),
]


@pytest.mark.parametrize(
    ("fault_a", "fault_b", "code_a", "code_b"), BLOCK_PAIRS, ids=[f"{a.value}+{b.value}" for _x, _y, a, b in BLOCK_PAIRS]
)
def test_block_precedence(
    fault_a: dict[str, Any], fault_b: dict[str, Any], code_a: ResultCode, code_b: ResultCode
) -> None:
    assert block_code() == R.OK
    assert block_code(fault_a) == code_a
    assert block_code(fault_b) == code_b
    assert block_code(fault_a, fault_b) == earlier(code_a, code_b) == code_a


def test_static_failure_beats_state_failure_and_first_static_failure_is_reported() -> None:
    ledger = Ledger()
    receipt = ledger.block(lock(amount=5_000 * ATP), lock("t2", amount=0), lock("t3", timeout_ms=0))
    assert receipt.code == R.BLOCK_TRANSACTION_INVALID
    assert (receipt.invalid_index, receipt.invalid_code) == (1, R.AMOUNT_MUST_NOT_BE_ZERO)
    assert receipt.transactions == ()


@dataclass(frozen=True)
class StatePair:
    """`both()` is wrong in two ways and must report `first`; `later_alone()` shows the other fault
    really produces `later` on its own."""

    first: ResultCode
    later: ResultCode
    both: Callable[[], ResultCode]
    later_alone: Callable[[], ResultCode]


def last_code(ledger: Ledger, index: int = 0) -> ResultCode:
    return code_of(ledger.last.receipt, index)


def run(setup: Callable[[], Ledger], *txs: AnyTransaction, index: int = 0, ts: int | None = None) -> ResultCode:
    ledger = setup()
    ledger.block(*txs, ts=ts)
    assert ledger.violations() == []
    return last_code(ledger, index)


def expired_lock() -> Ledger:
    ledger = with_lock(timeout_ms=1_000)
    ledger.block(ts=ledger.state.last_timestamp_ms + 2_000)
    return ledger


def failed_lock() -> Ledger:
    ledger = Ledger()
    ledger.block(lock(amount=5_000 * ATP))
    return ledger


def committed_lock() -> Ledger:
    ledger = with_lock()
    ledger.ok(commit())
    return ledger


STATE_PAIRS: dict[str, StatePair] = {
    "exists_with_different_amount beats insufficient funds": StatePair(
        R.EXISTS_WITH_DIFFERENT_AMOUNT, R.INSUFFICIENT_AVAILABLE,
        lambda: run(with_lock, lock(amount=5_000 * ATP)),
        lambda: run(with_lock, lock("t2", amount=5_000 * ATP)),
    ),
    "different source agent beats different amount (field order)": StatePair(
        R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, R.EXISTS_WITH_DIFFERENT_AMOUNT,
        lambda: run(with_lock, lock(source_agent=DAVE, amount=200 * ATP)),
        lambda: run(with_lock, lock(amount=200 * ATP)),
    ),
    "different amount beats different timeout (field order)": StatePair(
        R.EXISTS_WITH_DIFFERENT_AMOUNT, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
        lambda: run(with_lock, lock(amount=200 * ATP, timeout_ms=1)),
        lambda: run(with_lock, lock(timeout_ms=1)),
    ),
    "id_already_failed beats insufficient funds": StatePair(
        R.ID_ALREADY_FAILED, R.INSUFFICIENT_AVAILABLE,
        lambda: run(failed_lock, lock(amount=5_000 * ATP)),
        lambda: run(Ledger, lock(amount=5_000 * ATP)),
    ),
    "exists_with_different_platform beats unauthorized_platform": StatePair(
        R.EXISTS_WITH_DIFFERENT_PLATFORM, R.UNAUTHORIZED_PLATFORM,
        lambda: run(committed_lock, commit(platform=SPROUT)),
        lambda: run(with_lock, commit(platform=SPROUT)),
    ),
    "unauthorized_platform beats transfer_already_committed": StatePair(
        R.UNAUTHORIZED_PLATFORM, R.TRANSFER_ALREADY_COMMITTED,
        lambda: run(committed_lock, rollback(platform=SPROUT)),
        lambda: run(committed_lock, rollback()),
    ),
    "transfer_linked_to_task beats transfer_expired": StatePair(
        R.TRANSFER_LINKED_TO_TASK, R.TRANSFER_EXPIRED,
        lambda: run(with_expired_task, rollback("task-A")),
        lambda: run(expired_lock, rollback()),
    ),
    "executing_platform_mismatch beats task_expired": StatePair(
        R.EXECUTING_PLATFORM_MISMATCH, R.TASK_EXPIRED,
        lambda: run(with_expired_task, proof(executing_agent=CAROL)),
        lambda: run(with_expired_task, proof()),
    ),
    "executing_agent_mismatch beats task_expired": StatePair(
        R.EXECUTING_AGENT_MISMATCH, R.TASK_EXPIRED,
        lambda: run(with_expired_task, proof(executing_agent=ERIN)),
        lambda: run(with_expired_task, proof()),
    ),
    "proof exists_with_different_executing_agent beats executing_agent_mismatch": StatePair(
        R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, R.EXECUTING_AGENT_MISMATCH,
        lambda: run(with_settled_task, proof(executing_agent=ERIN, quality_bp=1)),
        lambda: run(with_task, proof(executing_agent=ERIN)),
    ),
    "reputation executing_platform_mismatch beats task_not_settled": StatePair(
        R.EXECUTING_PLATFORM_MISMATCH, R.TASK_NOT_SETTLED,
        lambda: run(with_task, reputation(platform=LEGION)),
        lambda: run(with_task, reputation()),
    ),
    "reputation_already_updated beats quality_mismatch": StatePair(
        R.REPUTATION_ALREADY_UPDATED, R.QUALITY_MISMATCH,
        lambda: run(with_reputation_update, reputation("r2", quality_bp=1)),
        lambda: run(with_settled_task, reputation("r2", quality_bp=1)),
    ),
    "quality_mismatch beats reputation_mismatch": StatePair(
        R.QUALITY_MISMATCH, R.REPUTATION_MISMATCH,
        lambda: run(with_settled_task, reputation(quality_bp=1, reputation_bp=1)),
        lambda: run(with_settled_task, reputation(reputation_bp=1)),
    ),
    "reputation id_already_failed beats task_not_found": StatePair(
        R.ID_ALREADY_FAILED, R.TASK_NOT_FOUND,
        lambda: run(lambda: _after(Ledger(), reputation(task_id="nope")), reputation(task_id="nope")),
        lambda: run(Ledger, reputation(task_id="nope")),
    ),
    "balance set different agent beats different balance": StatePair(
        R.EXISTS_WITH_DIFFERENT_AGENT, R.EXISTS_WITH_DIFFERENT_BALANCE,
        lambda: run(lambda: _after(Ledger(), balance_set()), balance_set(agent=BOB, balance=1)),
        lambda: run(lambda: _after(Ledger(), balance_set()), balance_set(balance=1)),
    ),
    "balance set id_already_failed beats balance_below_locked": StatePair(
        R.ID_ALREADY_FAILED, R.BALANCE_BELOW_LOCKED,
        lambda: run(lambda: _after(with_lock(500 * ATP), balance_set(balance=1)), balance_set(balance=1)),
        lambda: run(lambda: with_lock(500 * ATP), balance_set(balance=1)),
    ),
    "task different cost beats different timeout (field order)": StatePair(
        R.EXISTS_WITH_DIFFERENT_COST, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
        lambda: run(with_task, *pair(cost=1 * ATP, timeout_ms=1)),
        lambda: run(with_task, *pair(timeout_ms=1)),
    ),
    "task id_used_by_transfer beats its lock's funds": StatePair(
        R.ID_USED_BY_TRANSFER, R.INSUFFICIENT_AVAILABLE,
        lambda: run(with_lock, *pair(task_id="t1", cost=5_000 * ATP)),
        lambda: run(with_lock, *pair(task_id="t9", cost=5_000 * ATP), index=1),
    ),
}


def _after(ledger: Ledger, *txs: AnyTransaction) -> Ledger:
    ledger.block(*txs)
    return ledger


@pytest.mark.parametrize("name", list(STATE_PAIRS))
def test_state_precedence(name: str) -> None:
    entry = STATE_PAIRS[name]
    assert PRECEDENCE[entry.first] < PRECEDENCE[entry.later]
    assert entry.later_alone() == entry.later
    assert entry.both() == entry.first


# =============================================================================================
# Idempotency
# =============================================================================================
def content(state: LedgerState) -> tuple[Any, ...]:
    """Everything in a state except the block header fields."""
    return tuple(getattr(state, name) for name in CONTENT_FIELDS[2:] + FAILED_SETS)


RESUBMISSIONS: dict[str, tuple[Callable[[], Ledger], tuple[AnyTransaction, ...]]] = {
    "lock": (with_lock, (lock(),)),
    "task pair": (with_task, pair()),
    "balance set": (lambda: _after(Ledger(), balance_set()), (balance_set(),)),
    "commit": (committed_lock, (commit(),)),
    "rollback": (lambda: _after(with_lock(), rollback()), (rollback(),)),
    "proof": (with_settled_task, (proof(),)),
    "reputation update": (with_reputation_update, (reputation(),)),
}


@pytest.mark.parametrize("name", list(RESUBMISSIONS))
def test_identical_resubmission_is_exists_and_changes_nothing(name: str) -> None:
    setup, txs = RESUBMISSIONS[name]
    ledger = setup()
    before = content(ledger.state)
    receipt = ledger.block(*txs)
    assert [r.code for r in receipt.transactions] == [R.EXISTS] * len(txs)
    assert all(r.settlements == () for r in receipt.transactions)
    assert content(ledger.state) == before
    # and again, many times over, in one block
    receipt = ledger.block(*(txs * 3))
    assert [r.code for r in receipt.transactions] == [R.EXISTS] * (3 * len(txs))
    assert content(ledger.state) == before
    assert ledger.violations() == []


def from_the_wire(tx: AnyTransaction) -> AnyTransaction:
    """`tx` as a node receives it from another: decoded afresh from its JSON, so every
    field is an equal value but a new object (no int or str shared with the original,
    nor between its fields: pydantic's JSON mode would share equal strings, so the
    JSON is parsed by `json` and the fields validated as Python values)."""
    return type(tx).model_validate(json.loads(tx.model_dump_json()))


@pytest.mark.parametrize("name", list(RESUBMISSIONS))
def test_a_resubmission_decoded_from_the_wire_is_exists(name: str) -> None:
    """A repeat is recognised by the values of its fields, not by the identity of the
    objects holding them: the copy a peer relays, decoded separately from the
    original, is EXISTS too."""
    setup, txs = RESUBMISSIONS[name]
    ledger = setup()
    before = content(ledger.state)
    relayed = tuple(from_the_wire(tx) for tx in txs)
    assert relayed == txs
    receipt = ledger.block(*relayed)
    assert [r.code for r in receipt.transactions] == [R.EXISTS] * len(txs)
    assert content(ledger.state) == before


def test_resubmission_in_the_same_block_is_exists() -> None:
    ledger = Ledger()
    receipt = ledger.block(lock(), lock(), *pair(), *pair())
    assert [r.code for r in receipt.transactions] == [R.OK, R.EXISTS, R.OK, R.OK, R.EXISTS, R.EXISTS]
    assert ledger.state.accounts[ALICE].locked == 400 * ATP


def test_failed_lock_id_stays_failed_after_funds_arrive() -> None:
    ledger = Ledger()
    receipt = ledger.block(lock(amount=2_000 * ATP))
    assert receipt.transactions[0].code == R.INSUFFICIENT_AVAILABLE
    ledger.ok(balance_set(balance=5_000 * ATP))
    before = content(ledger.state)
    receipt = ledger.block(lock(amount=2_000 * ATP), lock(amount=1 * ATP))
    assert [r.code for r in receipt.transactions] == [R.ID_ALREADY_FAILED, R.ID_ALREADY_FAILED]
    assert content(ledger.state) == before
    # a fresh id with the same fields now applies
    ledger.ok(lock("t2", amount=2_000 * ATP))
    assert ledger.violations() == []


def test_failed_task_id_stays_failed_after_funds_arrive() -> None:
    ledger = Ledger()
    receipt = ledger.block(*pair(cost=2_000 * ATP))
    assert [r.code for r in receipt.transactions] == [R.LINKED_TRANSACTION_FAILED, R.INSUFFICIENT_AVAILABLE]
    ledger.ok(balance_set(balance=5_000 * ATP))
    receipt = ledger.block(*pair(cost=2_000 * ATP))
    assert [r.code for r in receipt.transactions] == [R.ID_ALREADY_FAILED, R.LINKED_TRANSACTION_FAILED]
    # one namespace: a plain lock cannot take the failed task id either
    receipt = ledger.block(lock("task-A"))
    assert receipt.transactions[0].code == R.ID_ALREADY_FAILED
    assert "task-A" not in ledger.state.tasks and "task-A" not in ledger.state.transfers
    assert ledger.violations() == []


def test_failed_balance_set_id_stays_failed_after_lock_is_released() -> None:
    ledger = with_lock(500 * ATP)
    assert ledger.block(balance_set(balance=100 * ATP)).transactions[0].code == R.BALANCE_BELOW_LOCKED
    ledger.ok(rollback())
    assert ledger.block(balance_set(balance=100 * ATP)).transactions[0].code == R.ID_ALREADY_FAILED
    assert ledger.state.accounts[ALICE].total == 1_000 * ATP
    ledger.ok(balance_set("s2", balance=100 * ATP))
    assert ledger.violations() == []


def test_failed_reputation_id_stays_failed_after_settlement() -> None:
    ledger = with_task()
    assert ledger.block(reputation()).transactions[0].code == R.TASK_NOT_SETTLED
    ledger.ok(proof())
    assert ledger.block(reputation()).transactions[0].code == R.ID_ALREADY_FAILED
    ledger.ok(reputation("r2"))
    assert ledger.state.reputations[SPROUT] == expected_reputation(INITIAL_REPUTATION, 8_500)
    assert ledger.violations() == []


def test_failed_ids_do_not_leak_between_namespaces() -> None:
    ledger = Ledger()
    ledger.block(lock("x", amount=5_000 * ATP))
    assert "x" in ledger.state.failed_transfer_ids
    ledger.ok(balance_set("x"))
    ledger.block(reputation("x", task_id="nope"))
    ledger.ok(*pair())
    ledger.ok(proof())
    assert ledger.block(reputation("x")).transactions[0].code == R.ID_ALREADY_FAILED
    ledger.ok(reputation("y"))


# =============================================================================================
# Canonical encoding: known-answer vectors, checked independently of spec code
# =============================================================================================
TYPE_CODES = {
    "ATP_TRANSFER_LOCK": 1, "ATP_TRANSFER_COMMIT": 2, "ATP_TRANSFER_ROLLBACK": 3, "BALANCE_SET": 4,
    "FEDERATION_TASK": 5, "EXECUTION_PROOF": 6, "REPUTATION_UPDATE": 7,
}
FIELD_ORDER = {
    "ATP_TRANSFER_LOCK": [("transfer_id", "s"), ("source_platform", "s"), ("source_agent", "s"),
                          ("dest_platform", "s"), ("dest_agent", "s"), ("amount", "u"), ("timeout_ms", "u")],
    "ATP_TRANSFER_COMMIT": [("transfer_id", "s"), ("platform", "s")],
    "ATP_TRANSFER_ROLLBACK": [("transfer_id", "s"), ("platform", "s")],
    "BALANCE_SET": [("set_id", "s"), ("agent", "s"), ("balance", "u")],
    "FEDERATION_TASK": [("task_id", "s"), ("delegating_platform", "s"), ("delegating_agent", "s"),
                        ("executing_platform", "s"), ("executing_agent", "s"), ("cost", "u"),
                        ("quality_threshold_bp", "u"), ("timeout_ms", "u"), ("task_data_hash", "h")],
    "EXECUTION_PROOF": [("task_id", "s"), ("executing_platform", "s"), ("executing_agent", "s"),
                        ("quality_bp", "u"), ("execution_time_ms", "u"), ("result_hash", "h")],
    "REPUTATION_UPDATE": [("update_id", "s"), ("task_id", "s"), ("platform", "s"), ("quality_bp", "u"),
                          ("reputation_bp", "u"), ("reporter_platform", "s")],
}


def transaction_vectors() -> list[dict[str, Any]]:
    """The `encoding` runner's transaction cases (conformance/vectors/encoding/transaction/)."""
    return handler_data("transaction")


def vector_keys() -> dict[str, dict[str, str]]:
    """Every signer's key, as the transaction cases give it."""
    return {entry["signer"]: entry["key"] for entry in transaction_vectors()}


def tag(name: str) -> bytes:
    return b"fedspec/v1/" + name.encode("ascii") + b"\x00"


def lp(text: str) -> bytes:
    raw = text.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def body_of(tx_json: dict[str, Any]) -> bytes:
    out = b""
    for name, kind in FIELD_ORDER[tx_json["type"]]:
        value = tx_json[name]
        if kind == "s":
            out += lp(value)
        elif kind == "u":
            out += value.to_bytes(8, "big")
        else:
            out += bytes.fromhex(value)
    return out


def nacl_verifies(public_key: str, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(message, signature)
    except BadSignatureError:
        return False
    return True


def test_vector_keys_derive_from_their_seed_texts() -> None:
    keys = vector_keys()
    assert set(keys) == {"Thor", "Sprout", "Legion", "authority"}
    for key in keys.values():
        seed = hashlib.sha256(b"fedspec/v1/KEY_SEED\x00" + key["seed_text"].encode("utf-8")).digest()
        assert seed.hex() == key["seed"]
        assert bytes(SigningKey(seed).verify_key).hex() == key["public_key"]


def test_vector_transactions_verify_and_hash_independently() -> None:
    keys = vector_keys()
    assert [tx["json"]["type"] for tx in transaction_vectors()] == list(TYPE_CODES)
    for entry in transaction_vectors():
        kind, chain_id = entry["json"]["type"], entry["chain_id"]
        message = bytes.fromhex(entry["signing_message"])
        signature = bytes.fromhex(entry["signature"])
        raw = bytes.fromhex(entry["hex"])
        body = body_of(entry["json"])
        assert entry["json"]["signature"] == entry["signature"]
        assert message == tag(kind) + lp(chain_id) + body
        assert raw == bytes([TYPE_CODES[kind]]) + body + signature
        assert len(signature) == 64
        assert nacl_verifies(keys[entry["signer"]]["public_key"], message, signature)
        assert hashlib.sha256(raw).hexdigest() == entry["transaction_hash"]
        # only the signer's key verifies it
        for name, key in keys.items():
            if name != entry["signer"]:
                assert not nacl_verifies(key["public_key"], message, signature)


def test_vector_block_hashes_independently() -> None:
    transactions = transaction_vectors()
    (header_case,) = handler_data("header")
    (block,) = handler_data("block")
    header = block["json"]["header"]
    assert header == header_case["json"]
    hashes = b"".join(bytes.fromhex(entry["transaction_hash"]) for entry in transactions)
    count = len(transactions).to_bytes(4, "big")
    root = hashlib.sha256(tag("TRANSACTION_ROOT") + count + hashes).hexdigest()
    assert root == header_case["transaction_root"] == header["transaction_root"]
    header_bytes = (
        header["height"].to_bytes(8, "big")
        + bytes.fromhex(header["previous_hash"])
        + header["timestamp_ms"].to_bytes(8, "big")
        + lp(header["proposer"])
        + bytes.fromhex(header["transaction_root"])
    )
    assert header_bytes.hex() == header_case["hex"]
    assert hashlib.sha256(tag("BLOCK_HEADER") + header_bytes).hexdigest() == header_case["block_hash"]
    assert [tx["signature"] for tx in block["json"]["transactions"]] == [t["signature"] for t in transactions]
    block_bytes = header_bytes + count + b"".join(bytes.fromhex(t["hex"]) for t in transactions)
    assert block_bytes.hex() == block["hex"]


def test_one_byte_change_of_a_signing_message_fails_verification() -> None:
    for entry in transaction_vectors():
        public_key = entry["key"]["public_key"]
        message = bytes.fromhex(entry["signing_message"])
        signature = bytes.fromhex(entry["signature"])
        for position in range(len(message)):
            changed = bytearray(message)
            changed[position] ^= 0x01
            assert not nacl_verifies(public_key, bytes(changed), signature), (entry["json"]["type"], position)
        assert not nacl_verifies(public_key, message + b"\x00", signature)
        assert not nacl_verifies(public_key, message[:-1], signature)


def test_signature_for_one_type_does_not_verify_as_another() -> None:
    """Domain separation: the same signed fields under another type's tag do not verify."""
    for entry in transaction_vectors():
        public_key, kind, chain_id = entry["key"]["public_key"], entry["json"]["type"], entry["chain_id"]
        signature = bytes.fromhex(entry["signature"])
        rest = lp(chain_id) + body_of(entry["json"])
        assert nacl_verifies(public_key, tag(kind) + rest, signature)
        for other in TYPE_CODES:
            if other != kind:
                assert not nacl_verifies(public_key, tag(other) + rest, signature), (kind, other)
        # and not on another chain either
        assert not nacl_verifies(public_key, tag(kind) + lp(chain_id + "x") + body_of(entry["json"]), signature)


def test_commit_signature_is_rejected_on_a_rollback_by_the_ledger() -> None:
    ledger = with_lock()
    forged = rollback().model_copy(update={"signature": commit().signature})
    receipt = ledger.block(forged)
    assert (receipt.code, receipt.invalid_code) == (R.BLOCK_TRANSACTION_INVALID, R.SIGNATURE_INVALID)
    assert ledger.block(commit()).accepted
    assert CHAIN_ID not in {entry["chain_id"] for entry in transaction_vectors()}
