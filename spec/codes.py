"""Result codes, in precedence order.

Every way a block or a transaction can be invalid has its own code. The codes are
checked in the order of `CODE_TABLE`: when several apply, the one listed first is
the one reported, so two implementations reject the same input with the same code.

Three kinds:

* ``block``: the block itself is malformed for this chain; the whole block is
  rejected and nothing in it applies.
* ``static``: the transaction is invalid on its own (bounds, signature, genesis
  references, the task/lock pairing). Static failures depend only on the
  transaction, its block and the genesis document, never on ledger state, so a
  block containing one is invalid as a whole (code ``block_transaction_invalid``).
* ``state``: the transaction is well-formed but fails against the ledger state.
  It stays in the block with its code, and changes nothing (except that an id
  which failed on state is remembered as failed).
"""

from enum import StrEnum
from typing import Literal, NamedTuple

CodeKind = Literal["ok", "block", "static", "state"]


class ResultCode(StrEnum):
    """A named result. The value is the code as it appears on the wire and the site."""

    OK = "ok"

    # --- block (checked first, in this order) ---
    BLOCK_HEIGHT_MISMATCH = "block_height_mismatch"
    BLOCK_PREVIOUS_HASH_MISMATCH = "block_previous_hash_mismatch"
    BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM = "block_timestamp_exceeds_maximum"
    BLOCK_TIMESTAMP_NOT_INCREASING = "block_timestamp_not_increasing"
    BLOCK_PROPOSER_UNKNOWN = "block_proposer_unknown"
    BLOCK_TOO_MANY_TRANSACTIONS = "block_too_many_transactions"
    BLOCK_TRANSACTION_ROOT_MISMATCH = "block_transaction_root_mismatch"
    BLOCK_TRANSACTION_INVALID = "block_transaction_invalid"

    # --- static: invalid on its own ---
    UNKNOWN_PLATFORM = "unknown_platform"
    EXECUTING_PLATFORM_NOT_IN_GROUP = "executing_platform_not_in_group"
    SIGNATURE_INVALID = "signature_invalid"
    AMOUNT_MUST_NOT_BE_ZERO = "amount_must_not_be_zero"
    AMOUNT_EXCEEDS_MAXIMUM = "amount_exceeds_maximum"
    TIMEOUT_MUST_NOT_BE_ZERO = "timeout_must_not_be_zero"
    TIMEOUT_EXCEEDS_MAXIMUM = "timeout_exceeds_maximum"
    THRESHOLD_EXCEEDS_MAXIMUM = "threshold_exceeds_maximum"
    QUALITY_EXCEEDS_MAXIMUM = "quality_exceeds_maximum"
    EXECUTION_TIME_EXCEEDS_MAXIMUM = "execution_time_exceeds_maximum"
    REPUTATION_EXCEEDS_MAXIMUM = "reputation_exceeds_maximum"
    BALANCE_EXCEEDS_MAXIMUM = "balance_exceeds_maximum"
    UNKNOWN_ACCOUNT = "unknown_account"
    AGENT_NOT_HOSTED_BY_PLATFORM = "agent_not_hosted_by_platform"
    SELF_TRANSFER = "self_transfer"
    TASK_LOCK_MISSING = "task_lock_missing"
    TASK_LOCK_MISMATCH = "task_lock_mismatch"

    # --- state: idempotency ---
    EXISTS_WITH_DIFFERENT_TASK_ID = "exists_with_different_task_id"
    EXISTS_WITH_DIFFERENT_SOURCE_AGENT = "exists_with_different_source_agent"
    EXISTS_WITH_DIFFERENT_DEST_AGENT = "exists_with_different_dest_agent"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_PLATFORM = "exists_with_different_platform"
    EXISTS_WITH_DIFFERENT_AGENT = "exists_with_different_agent"
    EXISTS_WITH_DIFFERENT_BALANCE = "exists_with_different_balance"
    EXISTS_WITH_DIFFERENT_DELEGATING_AGENT = "exists_with_different_delegating_agent"
    EXISTS_WITH_DIFFERENT_EXECUTING_AGENT = "exists_with_different_executing_agent"
    EXISTS_WITH_DIFFERENT_COST = "exists_with_different_cost"
    EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP = "exists_with_different_quality_threshold_bp"
    EXISTS_WITH_DIFFERENT_TIMEOUT_MS = "exists_with_different_timeout_ms"
    EXISTS_WITH_DIFFERENT_TASK_DATA_HASH = "exists_with_different_task_data_hash"
    EXISTS_WITH_DIFFERENT_QUALITY_BP = "exists_with_different_quality_bp"
    EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS = "exists_with_different_execution_time_ms"
    EXISTS_WITH_DIFFERENT_RESULT_HASH = "exists_with_different_result_hash"
    EXISTS_WITH_DIFFERENT_REPUTATION_BP = "exists_with_different_reputation_bp"
    EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM = "exists_with_different_reporter_platform"
    EXISTS = "exists"
    ID_ALREADY_FAILED = "id_already_failed"
    ID_USED_BY_TRANSFER = "id_used_by_transfer"

    # --- state: references and authority ---
    TRANSFER_NOT_FOUND = "transfer_not_found"
    TASK_NOT_FOUND = "task_not_found"
    UNAUTHORIZED_PLATFORM = "unauthorized_platform"
    EXECUTING_PLATFORM_MISMATCH = "executing_platform_mismatch"
    EXECUTING_AGENT_MISMATCH = "executing_agent_mismatch"
    TRANSFER_LINKED_TO_TASK = "transfer_linked_to_task"

    # --- state: lifecycle ---
    TRANSFER_ALREADY_COMMITTED = "transfer_already_committed"
    TRANSFER_ALREADY_ROLLED_BACK = "transfer_already_rolled_back"
    TRANSFER_EXPIRED = "transfer_expired"
    TASK_EXPIRED = "task_expired"
    TASK_NOT_SETTLED = "task_not_settled"
    REPUTATION_ALREADY_UPDATED = "reputation_already_updated"
    QUALITY_MISMATCH = "quality_mismatch"
    REPUTATION_MISMATCH = "reputation_mismatch"

    # --- state: funds ---
    INSUFFICIENT_AVAILABLE = "insufficient_available"
    BALANCE_BELOW_LOCKED = "balance_below_locked"
    SUPPLY_EXCEEDS_MAXIMUM = "supply_exceeds_maximum"

    # --- state: pairing ---
    LINKED_TRANSACTION_FAILED = "linked_transaction_failed"


class CodeInfo(NamedTuple):
    code: ResultCode
    kind: CodeKind
    meaning: str


# The table is the precedence: earlier rows are checked first. The site renders it.
CODE_TABLE: tuple[CodeInfo, ...] = (
    CodeInfo(ResultCode.OK, "ok", "The block or transaction applied."),
    CodeInfo(ResultCode.BLOCK_HEIGHT_MISMATCH, "block", "The header's height is not the previous height + 1."),
    CodeInfo(ResultCode.BLOCK_PREVIOUS_HASH_MISMATCH, "block", "The header's previous_hash is not the hash of the last applied header (all zeros for the first block)."),
    CodeInfo(ResultCode.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM, "block", "The header's timestamp is above MAX_TIMESTAMP_MS."),
    CodeInfo(ResultCode.BLOCK_TIMESTAMP_NOT_INCREASING, "block", "The header's timestamp is not strictly greater than the previous block's (or the genesis time)."),
    CodeInfo(ResultCode.BLOCK_PROPOSER_UNKNOWN, "block", "The proposer is not a platform of the genesis."),
    CodeInfo(ResultCode.BLOCK_TOO_MANY_TRANSACTIONS, "block", "The block carries more than MAX_BLOCK_TRANSACTIONS transactions."),
    CodeInfo(ResultCode.BLOCK_TRANSACTION_ROOT_MISMATCH, "block", "The header's transaction_root is not the root of the block's transactions."),
    CodeInfo(ResultCode.BLOCK_TRANSACTION_INVALID, "block", "A transaction in the block failed a static check; its index and code are reported."),
    CodeInfo(ResultCode.UNKNOWN_PLATFORM, "static", "A platform field (other than executing_platform) names no platform of the genesis."),
    CodeInfo(ResultCode.EXECUTING_PLATFORM_NOT_IN_GROUP, "static", "The executing platform of a task or proof is not in the consensus group."),
    CodeInfo(ResultCode.SIGNATURE_INVALID, "static", "The signature does not verify under the authorized key and the type's domain tag."),
    CodeInfo(ResultCode.AMOUNT_MUST_NOT_BE_ZERO, "static", "A lock amount or task cost is 0."),
    CodeInfo(ResultCode.AMOUNT_EXCEEDS_MAXIMUM, "static", "A lock amount or task cost is above MAX_AMOUNT."),
    CodeInfo(ResultCode.TIMEOUT_MUST_NOT_BE_ZERO, "static", "A lock or task timeout is 0."),
    CodeInfo(ResultCode.TIMEOUT_EXCEEDS_MAXIMUM, "static", "A lock or task timeout is above MAX_TIMEOUT_MS."),
    CodeInfo(ResultCode.THRESHOLD_EXCEEDS_MAXIMUM, "static", "A task's quality threshold is above 10000 basis points."),
    CodeInfo(ResultCode.QUALITY_EXCEEDS_MAXIMUM, "static", "A proof's or reputation update's quality is above 10000 basis points."),
    CodeInfo(ResultCode.EXECUTION_TIME_EXCEEDS_MAXIMUM, "static", "A proof's execution time is above MAX_EXECUTION_TIME_MS."),
    CodeInfo(ResultCode.REPUTATION_EXCEEDS_MAXIMUM, "static", "A reputation update's new reputation is above 10000 basis points."),
    CodeInfo(ResultCode.BALANCE_EXCEEDS_MAXIMUM, "static", "A BALANCE_SET's balance is above MAX_SUPPLY."),
    CodeInfo(ResultCode.UNKNOWN_ACCOUNT, "static", "An agent field names no account of the genesis."),
    CodeInfo(ResultCode.AGENT_NOT_HOSTED_BY_PLATFORM, "static", "An agent is named with a platform that does not host it."),
    CodeInfo(ResultCode.SELF_TRANSFER, "static", "Source and destination (delegating and executing) agents are the same."),
    CodeInfo(ResultCode.TASK_LOCK_MISSING, "static", "A FEDERATION_TASK is not immediately followed by an ATP_TRANSFER_LOCK with transfer_id = task_id."),
    CodeInfo(ResultCode.TASK_LOCK_MISMATCH, "static", "The task's lock differs from the task in agents, platforms, amount (= cost) or timeout."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_TASK_ID, "state", "The reputation update id exists for a different task."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, "state", "The transfer id exists with a different source agent."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_DEST_AGENT, "state", "The transfer id exists with a different destination agent."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_AMOUNT, "state", "The transfer id exists with a different amount."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_PLATFORM, "state", "The settlement or reputation update exists with a different platform."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_AGENT, "state", "The balance-set id exists for a different agent."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_BALANCE, "state", "The balance-set id exists with a different balance."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT, "state", "The task id exists with a different delegating agent."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, "state", "The task (or its proof) exists with a different executing agent."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_COST, "state", "The task id exists with a different cost."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP, "state", "The task id exists with a different quality threshold."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_TIMEOUT_MS, "state", "The transfer or task id exists with a different timeout."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH, "state", "The task id exists with a different task data hash."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_QUALITY_BP, "state", "The proof or reputation update exists with a different quality."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS, "state", "The proof exists with a different execution time."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_RESULT_HASH, "state", "The proof exists with a different result hash."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_REPUTATION_BP, "state", "The reputation update id exists with a different reputation."),
    CodeInfo(ResultCode.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM, "state", "The reputation update id exists with a different reporter."),
    CodeInfo(ResultCode.EXISTS, "state", "An identical transaction already applied; resubmission is idempotent and changes nothing."),
    CodeInfo(ResultCode.ID_ALREADY_FAILED, "state", "The id was used before by a transaction that failed on state; it stays failed."),
    CodeInfo(ResultCode.ID_USED_BY_TRANSFER, "state", "The task id is already the id of a plain transfer."),
    CodeInfo(ResultCode.TRANSFER_NOT_FOUND, "state", "COMMIT or ROLLBACK names a transfer id that was never locked."),
    CodeInfo(ResultCode.TASK_NOT_FOUND, "state", "A proof or reputation update names a task id that does not exist."),
    CodeInfo(ResultCode.UNAUTHORIZED_PLATFORM, "state", "COMMIT or ROLLBACK is signed by a platform other than the transfer's source platform."),
    CodeInfo(ResultCode.EXECUTING_PLATFORM_MISMATCH, "state", "The proof's or reputation update's platform is not the task's executing platform."),
    CodeInfo(ResultCode.EXECUTING_AGENT_MISMATCH, "state", "The proof's executing agent is not the task's executing agent."),
    CodeInfo(ResultCode.TRANSFER_LINKED_TO_TASK, "state", "COMMIT or ROLLBACK names a task's lock; only the task's proof or expiry settles it."),
    CodeInfo(ResultCode.TRANSFER_ALREADY_COMMITTED, "state", "The transfer is already committed."),
    CodeInfo(ResultCode.TRANSFER_ALREADY_ROLLED_BACK, "state", "The transfer is already rolled back."),
    CodeInfo(ResultCode.TRANSFER_EXPIRED, "state", "The transfer expired before this block."),
    CodeInfo(ResultCode.TASK_EXPIRED, "state", "The task expired before this block: its deadline is earlier than the block's timestamp."),
    CodeInfo(ResultCode.TASK_NOT_SETTLED, "state", "A reputation update names a task that is still pending."),
    CodeInfo(ResultCode.REPUTATION_ALREADY_UPDATED, "state", "The task's reputation update was already applied (under another update id)."),
    CodeInfo(ResultCode.QUALITY_MISMATCH, "state", "The reputation update's quality is not the quality the task settled with."),
    CodeInfo(ResultCode.REPUTATION_MISMATCH, "state", "The reputation update's new reputation disagrees with the reputation rule."),
    CodeInfo(ResultCode.INSUFFICIENT_AVAILABLE, "state", "The source account's available ATP (total - locked) is below the amount."),
    CodeInfo(ResultCode.BALANCE_BELOW_LOCKED, "state", "BALANCE_SET would set a total below the account's locked ATP."),
    CodeInfo(ResultCode.SUPPLY_EXCEEDS_MAXIMUM, "state", "BALANCE_SET would raise the sum of all totals above MAX_SUPPLY."),
    CodeInfo(ResultCode.LINKED_TRANSACTION_FAILED, "state", "The other member of a task/lock pair failed, so this one does not apply either."),
)

PRECEDENCE: dict[ResultCode, int] = {}
for _index, _info in enumerate(CODE_TABLE):
    PRECEDENCE[_info.code] = _index

KIND: dict[ResultCode, CodeKind] = {}
for _info in CODE_TABLE:
    KIND[_info.code] = _info.kind


def is_static_failure(code: ResultCode) -> bool:
    """A static failure makes the whole block invalid."""
    return KIND[code] == "static"


def is_state_failure(code: ResultCode) -> bool:
    """A state failure stays in the block with its code and changes nothing.

    `exists` is not a failure: the transaction already applied."""
    return KIND[code] == "state" and code != ResultCode.EXISTS
