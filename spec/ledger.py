"""The ATP ledger state machine: block validity, transaction validity, settlement.

Read this file top to bottom:

1. `apply_block` is the whole state transition. It checks the header, then every
   transaction's static validity, then runs the expiry step, then applies the
   transactions in order.
2. `validate_static_*` decide the static result codes (no ledger state).
3. `apply_*` decide the state result codes and, when the code is ``ok``, change
   the working copy of the state.
4. `next_reputation` is the reputation rule.

Checks appear in each function in the precedence order of `spec.codes.CODE_TABLE`.
"""

from dataclasses import replace

from spec.codes import ResultCode
from spec.constants import (
    BASIS_POINTS,
    EXPIRED_TASK_QUALITY_BP,
    MAX_AMOUNT,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
    REPUTATION_WEIGHT_BP,
)
from spec.state import Chain, copy_state, total_supply
from spec.wire.encoding import block_hash, transaction_root
from spec.wire.records import (
    BalanceSetRecord,
    BlockReceipt,
    LedgerState,
    ProofRecord,
    ReputationRecord,
    Settlement,
    SettlementCause,
    Task,
    TaskStatus,
    TransactionReceipt,
    Transfer,
    TransferStatus,
)
from spec.wire.signing import verify_transaction
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    BlockHeader,
    ExecutionProof,
    FederationTask,
    ReputationUpdate,
)

R = ResultCode


# --- the reputation rule ------------------------------------------------------------
def next_reputation(current_bp: int, quality_bp: int) -> int:
    """A platform's reputation after one settled task of quality `quality_bp`.

    An exponential moving average in basis points, rounded down:

        new = floor((current * (10000 - W) + quality * W) / 10000),  W = 1000

    Both inputs are in 0..10000, so the result is too. An expired task counts as
    quality 0."""
    weighted = current_bp * (BASIS_POINTS - REPUTATION_WEIGHT_BP) + quality_bp * REPUTATION_WEIGHT_BP
    return weighted // BASIS_POINTS


# --- the block transition ------------------------------------------------------------
def validate_header(chain: Chain, state: LedgerState, block: Block) -> ResultCode:
    """Block-level checks, in precedence order. Depends only on the last block."""
    header = block.header
    if header.height != state.height + 1:
        return R.BLOCK_HEIGHT_MISMATCH
    if header.previous_hash != state.last_block_hash:
        return R.BLOCK_PREVIOUS_HASH_MISMATCH
    if header.timestamp_ms > MAX_TIMESTAMP_MS:
        return R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM
    if header.timestamp_ms <= state.last_timestamp_ms:
        return R.BLOCK_TIMESTAMP_NOT_INCREASING
    if header.proposer not in chain.platform_keys:
        return R.BLOCK_PROPOSER_UNKNOWN
    if len(block.transactions) > MAX_BLOCK_TRANSACTIONS:
        return R.BLOCK_TOO_MANY_TRANSACTIONS
    if header.transaction_root != transaction_root(block.transactions):
        return R.BLOCK_TRANSACTION_ROOT_MISMATCH
    return R.OK


def first_static_failure(chain: Chain, block: Block) -> tuple[int, ResultCode] | None:
    """The index and code of the first transaction that is invalid on its own."""
    txs = block.transactions
    for index in range(len(txs)):
        following = txs[index + 1] if index + 1 < len(txs) else None
        code = validate_static(chain, txs[index], following)
        if code != R.OK:
            return index, code
    return None


def apply_block(chain: Chain, state: LedgerState, block: Block) -> tuple[LedgerState, BlockReceipt]:
    """Apply one block. Returns the new state and the block's receipt.

    A rejected block returns `state` itself, unchanged. The given state is never
    modified."""
    this_hash = block_hash(block.header)
    code = validate_header(chain, state, block)
    if code != R.OK:
        return state, BlockReceipt(state.height + 1, this_hash, code, None, None, (), ())
    failure = first_static_failure(chain, block)
    if failure is not None:
        index, tx_code = failure
        receipt = BlockReceipt(state.height + 1, this_hash, R.BLOCK_TRANSACTION_INVALID, index, tx_code, (), ())
        return state, receipt

    now = block.header.timestamp_ms
    work = copy_state(state)
    expiries = expire_due(work, now)
    receipts: list[TransactionReceipt] = []
    txs = block.transactions
    index = 0
    while index < len(txs):
        tx = txs[index]
        if isinstance(tx, FederationTask):
            lock = txs[index + 1]
            assert isinstance(lock, AtpTransferLock)  # guaranteed by the static checks
            task_receipt, lock_receipt = apply_task_pair(work, tx, lock, index, now)
            receipts.append(task_receipt)
            receipts.append(lock_receipt)
            index += 2
        else:
            receipts.append(apply_transaction(work, tx, index, now))
            index += 1

    work.height = block.header.height
    work.last_block_hash = this_hash
    work.last_timestamp_ms = now
    return work, BlockReceipt(work.height, this_hash, R.OK, None, None, tuple(expiries), tuple(receipts))


def apply_transaction(work: LedgerState, tx: AnyTransaction, index: int, now: int) -> TransactionReceipt:
    """Apply one transaction that is not part of a task pair."""
    settlements: list[Settlement] = []
    if isinstance(tx, AtpTransferLock):
        code = apply_lock(work, tx, now, task_linked=False)
        if code != R.OK and code != R.EXISTS and tx.transfer_id not in work.transfers:
            work.failed_transfer_ids.add(tx.transfer_id)
    elif isinstance(tx, AtpTransferCommit):
        code = apply_commit(work, tx, settlements)
    elif isinstance(tx, AtpTransferRollback):
        code = apply_rollback(work, tx, settlements)
    elif isinstance(tx, BalanceSet):
        code = apply_balance_set(work, tx)
        if code != R.OK and code != R.EXISTS and tx.set_id not in work.balance_sets:
            work.failed_set_ids.add(tx.set_id)
    elif isinstance(tx, ExecutionProof):
        code = apply_execution_proof(work, tx, now, settlements)
    elif isinstance(tx, ReputationUpdate):
        code = apply_reputation_update(work, tx)
        if code != R.OK and code != R.EXISTS and tx.update_id not in work.reputation_updates:
            work.failed_update_ids.add(tx.update_id)
    else:
        raise TypeError(f"not a transaction: {type(tx).__name__}")
    return TransactionReceipt(index, tx.type, code, tuple(settlements))


# --- expiry ----------------------------------------------------------------------------
def expire_due(work: LedgerState, now: int) -> list[Settlement]:
    """The expiry step: the first thing every block does, before its transactions.

    Every LOCKED transfer whose expires_at_ms is strictly earlier than the block's
    timestamp expires, in order of (expires_at_ms, transfer_id). A transfer whose
    deadline equals the block's timestamp is still open in that block: a proof or
    commit landing exactly at the deadline is on time."""
    due: list[Transfer] = []
    for transfer in work.transfers.values():
        if transfer.status == TransferStatus.LOCKED and transfer.expires_at_ms < now:
            due.append(transfer)
    due.sort(key=lambda t: (t.expires_at_ms, t.transfer_id))
    settlements: list[Settlement] = []
    for transfer in due:
        release_lock(work, transfer, TransferStatus.EXPIRED, SettlementCause.EXPIRY)
        if transfer.task_linked:
            task = work.tasks[transfer.transfer_id]
            work.tasks[task.task_id] = replace(
                task, status=TaskStatus.EXPIRED, settled_quality_bp=EXPIRED_TASK_QUALITY_BP
            )
        settlements.append(Settlement(transfer.transfer_id, TransferStatus.EXPIRED, SettlementCause.EXPIRY))
    return settlements


# --- moving ATP ------------------------------------------------------------------------
def release_lock(work: LedgerState, transfer: Transfer, outcome: TransferStatus, cause: SettlementCause) -> None:
    """End a LOCKED transfer without moving ATP (rollback or expiry)."""
    source = work.accounts[transfer.source_agent]
    work.accounts[source.agent] = replace(source, locked=source.locked - transfer.amount)
    work.transfers[transfer.transfer_id] = replace(transfer, status=outcome, settled_by=cause)


def commit_lock(work: LedgerState, transfer: Transfer, cause: SettlementCause) -> None:
    """End a LOCKED transfer by moving its whole amount from source to destination."""
    source = work.accounts[transfer.source_agent]
    work.accounts[source.agent] = replace(
        source, total=source.total - transfer.amount, locked=source.locked - transfer.amount
    )
    dest = work.accounts[transfer.dest_agent]
    work.accounts[dest.agent] = replace(dest, total=dest.total + transfer.amount)
    work.transfers[transfer.transfer_id] = replace(transfer, status=TransferStatus.COMMITTED, settled_by=cause)


# --- static validity -----------------------------------------------------------------------
def validate_static(chain: Chain, tx: AnyTransaction, following: AnyTransaction | None) -> ResultCode:
    """The static result code of `tx`: everything decidable without ledger state.

    `following` is the next transaction in the block (for the task/lock pairing)."""
    if isinstance(tx, AtpTransferLock):
        return validate_static_lock(chain, tx)
    if isinstance(tx, (AtpTransferCommit, AtpTransferRollback)):
        return validate_static_settle(chain, tx)
    if isinstance(tx, BalanceSet):
        return validate_static_balance_set(chain, tx)
    if isinstance(tx, FederationTask):
        return validate_static_task(chain, tx, following)
    if isinstance(tx, ExecutionProof):
        return validate_static_proof(chain, tx)
    if isinstance(tx, ReputationUpdate):
        return validate_static_reputation_update(chain, tx)
    raise TypeError(f"not a transaction: {type(tx).__name__}")


def signed_by(chain: Chain, platform: str, tx: AnyTransaction) -> bool:
    return verify_transaction(chain.platform_keys[platform], chain.chain_id, tx)


def validate_amount(amount: int) -> ResultCode:
    if amount == 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    if amount > MAX_AMOUNT:
        return R.AMOUNT_EXCEEDS_MAXIMUM
    return R.OK


def validate_timeout(timeout_ms: int) -> ResultCode:
    if timeout_ms == 0:
        return R.TIMEOUT_MUST_NOT_BE_ZERO
    if timeout_ms > MAX_TIMEOUT_MS:
        return R.TIMEOUT_EXCEEDS_MAXIMUM
    return R.OK


def validate_hosted(chain: Chain, agent: str, platform: str) -> ResultCode:
    if agent not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    if chain.agent_hosts[agent] != platform:
        return R.AGENT_NOT_HOSTED_BY_PLATFORM
    return R.OK


def validate_static_lock(chain: Chain, tx: AtpTransferLock) -> ResultCode:
    if tx.source_platform not in chain.platform_keys or tx.dest_platform not in chain.platform_keys:
        return R.UNKNOWN_PLATFORM
    if not signed_by(chain, tx.source_platform, tx):
        return R.SIGNATURE_INVALID
    code = validate_amount(tx.amount)
    if code != R.OK:
        return code
    code = validate_timeout(tx.timeout_ms)
    if code != R.OK:
        return code
    if tx.source_agent not in chain.agent_hosts or tx.dest_agent not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    code = validate_hosted(chain, tx.source_agent, tx.source_platform)
    if code != R.OK:
        return code
    code = validate_hosted(chain, tx.dest_agent, tx.dest_platform)
    if code != R.OK:
        return code
    if tx.source_agent == tx.dest_agent:
        return R.SELF_TRANSFER
    return R.OK


def validate_static_settle(chain: Chain, tx: AtpTransferCommit | AtpTransferRollback) -> ResultCode:
    if tx.platform not in chain.platform_keys:
        return R.UNKNOWN_PLATFORM
    if not signed_by(chain, tx.platform, tx):
        return R.SIGNATURE_INVALID
    return R.OK


def validate_static_balance_set(chain: Chain, tx: BalanceSet) -> ResultCode:
    if not verify_transaction(chain.authority_public_key, chain.chain_id, tx):
        return R.SIGNATURE_INVALID
    if tx.balance > MAX_SUPPLY:
        return R.BALANCE_EXCEEDS_MAXIMUM
    if tx.agent not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    return R.OK


def validate_static_task(chain: Chain, tx: FederationTask, following: AnyTransaction | None) -> ResultCode:
    if tx.delegating_platform not in chain.platform_keys:
        return R.UNKNOWN_PLATFORM
    if tx.executing_platform not in chain.platform_keys:
        return R.EXECUTING_PLATFORM_NOT_IN_GROUP
    if not signed_by(chain, tx.delegating_platform, tx):
        return R.SIGNATURE_INVALID
    code = validate_amount(tx.cost)
    if code != R.OK:
        return code
    code = validate_timeout(tx.timeout_ms)
    if code != R.OK:
        return code
    if tx.quality_threshold_bp > MAX_THRESHOLD_BP:
        return R.THRESHOLD_EXCEEDS_MAXIMUM
    if tx.delegating_agent not in chain.agent_hosts or tx.executing_agent not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    code = validate_hosted(chain, tx.delegating_agent, tx.delegating_platform)
    if code != R.OK:
        return code
    code = validate_hosted(chain, tx.executing_agent, tx.executing_platform)
    if code != R.OK:
        return code
    if tx.delegating_agent == tx.executing_agent:
        return R.SELF_TRANSFER
    if not isinstance(following, AtpTransferLock) or following.transfer_id != tx.task_id:
        return R.TASK_LOCK_MISSING
    if not lock_matches_task(tx, following):
        return R.TASK_LOCK_MISMATCH
    return R.OK


def lock_matches_task(task: FederationTask, lock: AtpTransferLock) -> bool:
    """The task's lock pays the task's cost from delegator to executor, with its timeout."""
    return (
        lock.source_platform == task.delegating_platform
        and lock.source_agent == task.delegating_agent
        and lock.dest_platform == task.executing_platform
        and lock.dest_agent == task.executing_agent
        and lock.amount == task.cost
        and lock.timeout_ms == task.timeout_ms
    )


def validate_static_proof(chain: Chain, tx: ExecutionProof) -> ResultCode:
    if tx.executing_platform not in chain.platform_keys:
        return R.EXECUTING_PLATFORM_NOT_IN_GROUP
    if not signed_by(chain, tx.executing_platform, tx):
        return R.SIGNATURE_INVALID
    if tx.quality_bp > MAX_QUALITY_BP:
        return R.QUALITY_EXCEEDS_MAXIMUM
    if tx.execution_time_ms > MAX_EXECUTION_TIME_MS:
        return R.EXECUTION_TIME_EXCEEDS_MAXIMUM
    return validate_hosted(chain, tx.executing_agent, tx.executing_platform)


def validate_static_reputation_update(chain: Chain, tx: ReputationUpdate) -> ResultCode:
    if tx.reporter_platform not in chain.platform_keys or tx.platform not in chain.platform_keys:
        return R.UNKNOWN_PLATFORM
    if not signed_by(chain, tx.reporter_platform, tx):
        return R.SIGNATURE_INVALID
    if tx.quality_bp > MAX_QUALITY_BP:
        return R.QUALITY_EXCEEDS_MAXIMUM
    if tx.reputation_bp > MAX_REPUTATION_BP:
        return R.REPUTATION_EXCEEDS_MAXIMUM
    return R.OK


# --- state validity and application --------------------------------------------------------
def lock_difference(existing: Transfer, tx: AtpTransferLock) -> ResultCode:
    """`exists` or the first field in which `tx` differs from the recorded transfer.

    Platforms are not compared: the static checks tie each agent to its host."""
    if tx.source_agent != existing.source_agent:
        return R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT
    if tx.dest_agent != existing.dest_agent:
        return R.EXISTS_WITH_DIFFERENT_DEST_AGENT
    if tx.amount != existing.amount:
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    if tx.timeout_ms != existing.timeout_ms:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS
    return R.EXISTS


def validate_lock(work: LedgerState, tx: AtpTransferLock) -> ResultCode:
    existing = work.transfers.get(tx.transfer_id)
    if existing is not None:
        return lock_difference(existing, tx)
    if tx.transfer_id in work.failed_transfer_ids:
        return R.ID_ALREADY_FAILED
    if work.accounts[tx.source_agent].available < tx.amount:
        return R.INSUFFICIENT_AVAILABLE
    return R.OK


def apply_lock(work: LedgerState, tx: AtpTransferLock, now: int, task_linked: bool) -> ResultCode:
    code = validate_lock(work, tx)
    if code != R.OK:
        return code
    source = work.accounts[tx.source_agent]
    work.accounts[source.agent] = replace(source, locked=source.locked + tx.amount)
    work.transfers[tx.transfer_id] = Transfer(
        transfer_id=tx.transfer_id,
        source_agent=tx.source_agent,
        source_platform=tx.source_platform,
        dest_agent=tx.dest_agent,
        dest_platform=tx.dest_platform,
        amount=tx.amount,
        timeout_ms=tx.timeout_ms,
        created_at_ms=now,
        expires_at_ms=now + tx.timeout_ms,
        status=TransferStatus.LOCKED,
        task_linked=task_linked,
        settled_by=None,
    )
    return R.OK


def validate_settle(
    work: LedgerState, tx: AtpTransferCommit | AtpTransferRollback, own_cause: SettlementCause
) -> ResultCode:
    """Shared checks of COMMIT (own_cause COMMIT) and ROLLBACK (own_cause ROLLBACK)."""
    transfer = work.transfers.get(tx.transfer_id)
    if transfer is not None and transfer.settled_by == own_cause:
        if tx.platform != transfer.source_platform:
            return R.EXISTS_WITH_DIFFERENT_PLATFORM
        return R.EXISTS
    if transfer is None:
        return R.TRANSFER_NOT_FOUND
    if tx.platform != transfer.source_platform:
        return R.UNAUTHORIZED_PLATFORM
    if transfer.task_linked:
        return R.TRANSFER_LINKED_TO_TASK
    if transfer.status == TransferStatus.COMMITTED:
        return R.TRANSFER_ALREADY_COMMITTED
    if transfer.status == TransferStatus.ROLLED_BACK:
        return R.TRANSFER_ALREADY_ROLLED_BACK
    if transfer.status == TransferStatus.EXPIRED:
        return R.TRANSFER_EXPIRED
    return R.OK


def apply_commit(work: LedgerState, tx: AtpTransferCommit, settlements: list[Settlement]) -> ResultCode:
    code = validate_settle(work, tx, SettlementCause.COMMIT)
    if code != R.OK:
        return code
    commit_lock(work, work.transfers[tx.transfer_id], SettlementCause.COMMIT)
    settlements.append(Settlement(tx.transfer_id, TransferStatus.COMMITTED, SettlementCause.COMMIT))
    return R.OK


def apply_rollback(work: LedgerState, tx: AtpTransferRollback, settlements: list[Settlement]) -> ResultCode:
    code = validate_settle(work, tx, SettlementCause.ROLLBACK)
    if code != R.OK:
        return code
    release_lock(work, work.transfers[tx.transfer_id], TransferStatus.ROLLED_BACK, SettlementCause.ROLLBACK)
    settlements.append(Settlement(tx.transfer_id, TransferStatus.ROLLED_BACK, SettlementCause.ROLLBACK))
    return R.OK


def validate_balance_set(work: LedgerState, tx: BalanceSet) -> ResultCode:
    existing = work.balance_sets.get(tx.set_id)
    if existing is not None:
        if tx.agent != existing.agent:
            return R.EXISTS_WITH_DIFFERENT_AGENT
        if tx.balance != existing.balance:
            return R.EXISTS_WITH_DIFFERENT_BALANCE
        return R.EXISTS
    if tx.set_id in work.failed_set_ids:
        return R.ID_ALREADY_FAILED
    account = work.accounts[tx.agent]
    if tx.balance < account.locked:
        return R.BALANCE_BELOW_LOCKED
    if total_supply(work) - account.total + tx.balance > MAX_SUPPLY:
        return R.SUPPLY_EXCEEDS_MAXIMUM
    return R.OK


def apply_balance_set(work: LedgerState, tx: BalanceSet) -> ResultCode:
    code = validate_balance_set(work, tx)
    if code != R.OK:
        return code
    account = work.accounts[tx.agent]
    work.accounts[tx.agent] = replace(account, total=tx.balance)
    work.balance_sets[tx.set_id] = BalanceSetRecord(tx.set_id, tx.agent, tx.balance)
    return R.OK


def task_difference(existing: Task, tx: FederationTask) -> ResultCode:
    """`exists` or the first field in which `tx` differs from the recorded task."""
    if tx.delegating_agent != existing.delegating_agent:
        return R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT
    if tx.executing_agent != existing.executing_agent:
        return R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT
    if tx.cost != existing.cost:
        return R.EXISTS_WITH_DIFFERENT_COST
    if tx.quality_threshold_bp != existing.quality_threshold_bp:
        return R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP
    if tx.timeout_ms != existing.timeout_ms:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS
    if tx.task_data_hash != existing.task_data_hash:
        return R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH
    return R.EXISTS


def validate_task(work: LedgerState, tx: FederationTask) -> ResultCode:
    existing = work.tasks.get(tx.task_id)
    if existing is not None:
        return task_difference(existing, tx)
    if tx.task_id in work.failed_transfer_ids:
        return R.ID_ALREADY_FAILED
    if tx.task_id in work.transfers:
        return R.ID_USED_BY_TRANSFER
    return R.OK


def apply_task_pair(
    work: LedgerState, task: FederationTask, lock: AtpTransferLock, index: int, now: int
) -> tuple[TransactionReceipt, TransactionReceipt]:
    """Apply a FEDERATION_TASK and its ATP_TRANSFER_LOCK: both, or neither.

    The task is validated first, then the lock. If the task fails, the lock
    reports `linked_transaction_failed`; if the lock fails, the task does. If the
    task is an identical resubmission, so is its lock: both report `exists`. A pair that fails, for an id not yet in
    use, leaves the id failed."""
    task_code = validate_task(work, task)
    if task_code == R.OK:
        lock_code = validate_lock(work, lock)
    elif task_code == R.EXISTS:
        # The static pairing check ties the lock's fields to the task's, so an
        # identical task comes with an identical lock: it exists too.
        lock_code = lock_difference(work.transfers[task.task_id], lock)
    else:
        lock_code = R.LINKED_TRANSACTION_FAILED

    if task_code == R.OK and lock_code == R.OK:
        apply_lock(work, lock, now, task_linked=True)
        work.tasks[task.task_id] = Task(
            task_id=task.task_id,
            delegating_platform=task.delegating_platform,
            delegating_agent=task.delegating_agent,
            executing_platform=task.executing_platform,
            executing_agent=task.executing_agent,
            cost=task.cost,
            quality_threshold_bp=task.quality_threshold_bp,
            timeout_ms=task.timeout_ms,
            task_data_hash=task.task_data_hash,
            created_at_ms=now,
            deadline_ms=now + task.timeout_ms,
            status=TaskStatus.PENDING,
            proof=None,
            settled_quality_bp=None,
            reputation_update_id=None,
        )
    elif task_code == R.OK:
        task_code = R.LINKED_TRANSACTION_FAILED

    id_in_use = task.task_id in work.tasks or task.task_id in work.transfers
    if task_code != R.OK and task_code != R.EXISTS and not id_in_use:
        work.failed_transfer_ids.add(task.task_id)
    return (
        TransactionReceipt(index, task.type, task_code, ()),
        TransactionReceipt(index + 1, lock.type, lock_code, ()),
    )


def proof_difference(existing: ProofRecord, tx: ExecutionProof) -> ResultCode:
    if tx.executing_agent != existing.executing_agent:
        return R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT
    if tx.quality_bp != existing.quality_bp:
        return R.EXISTS_WITH_DIFFERENT_QUALITY_BP
    if tx.execution_time_ms != existing.execution_time_ms:
        return R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS
    if tx.result_hash != existing.result_hash:
        return R.EXISTS_WITH_DIFFERENT_RESULT_HASH
    return R.EXISTS


def validate_execution_proof(work: LedgerState, tx: ExecutionProof) -> ResultCode:
    task = work.tasks.get(tx.task_id)
    if task is not None and task.proof is not None:
        return proof_difference(task.proof, tx)
    if task is None:
        return R.TASK_NOT_FOUND
    if tx.executing_platform != task.executing_platform:
        return R.EXECUTING_PLATFORM_MISMATCH
    if tx.executing_agent != task.executing_agent:
        return R.EXECUTING_AGENT_MISMATCH
    if task.status == TaskStatus.EXPIRED:
        return R.TASK_EXPIRED
    return R.OK


def apply_execution_proof(
    work: LedgerState, tx: ExecutionProof, now: int, settlements: list[Settlement]
) -> ResultCode:
    """Settle a pending task on its proof: pay on quality >= threshold, else refund.

    The deadline needs no check here: the expiry step of this block already
    expired every task whose deadline is earlier than `now`."""
    code = validate_execution_proof(work, tx)
    if code != R.OK:
        return code
    task = work.tasks[tx.task_id]
    transfer = work.transfers[tx.task_id]
    proof = ProofRecord(tx.executing_agent, tx.quality_bp, tx.execution_time_ms, tx.result_hash, now)
    if tx.quality_bp >= task.quality_threshold_bp:
        commit_lock(work, transfer, SettlementCause.PROOF)
        settlements.append(Settlement(transfer.transfer_id, TransferStatus.COMMITTED, SettlementCause.PROOF))
        status = TaskStatus.COMPLETED
    else:
        release_lock(work, transfer, TransferStatus.ROLLED_BACK, SettlementCause.PROOF)
        settlements.append(Settlement(transfer.transfer_id, TransferStatus.ROLLED_BACK, SettlementCause.PROOF))
        status = TaskStatus.FAILED
    work.tasks[task.task_id] = replace(task, status=status, proof=proof, settled_quality_bp=tx.quality_bp)
    return R.OK


def reputation_difference(existing: ReputationRecord, tx: ReputationUpdate) -> ResultCode:
    if tx.task_id != existing.task_id:
        return R.EXISTS_WITH_DIFFERENT_TASK_ID
    if tx.platform != existing.platform:
        return R.EXISTS_WITH_DIFFERENT_PLATFORM
    if tx.quality_bp != existing.quality_bp:
        return R.EXISTS_WITH_DIFFERENT_QUALITY_BP
    if tx.reputation_bp != existing.reputation_bp:
        return R.EXISTS_WITH_DIFFERENT_REPUTATION_BP
    if tx.reporter_platform != existing.reporter_platform:
        return R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM
    return R.EXISTS


def validate_reputation_update(work: LedgerState, tx: ReputationUpdate) -> ResultCode:
    existing = work.reputation_updates.get(tx.update_id)
    if existing is not None:
        return reputation_difference(existing, tx)
    if tx.update_id in work.failed_update_ids:
        return R.ID_ALREADY_FAILED
    task = work.tasks.get(tx.task_id)
    if task is None:
        return R.TASK_NOT_FOUND
    if tx.platform != task.executing_platform:
        return R.EXECUTING_PLATFORM_MISMATCH
    if task.settled_quality_bp is None:
        return R.TASK_NOT_SETTLED
    if task.reputation_update_id is not None:
        return R.REPUTATION_ALREADY_UPDATED
    if tx.quality_bp != task.settled_quality_bp:
        return R.QUALITY_MISMATCH
    if tx.reputation_bp != next_reputation(work.reputations[tx.platform], tx.quality_bp):
        return R.REPUTATION_MISMATCH
    return R.OK


def apply_reputation_update(work: LedgerState, tx: ReputationUpdate) -> ResultCode:
    code = validate_reputation_update(work, tx)
    if code != R.OK:
        return code
    work.reputations[tx.platform] = tx.reputation_bp
    task = work.tasks[tx.task_id]
    work.tasks[task.task_id] = replace(task, reputation_update_id=tx.update_id)
    work.reputation_updates[tx.update_id] = ReputationRecord(
        tx.update_id, tx.task_id, tx.platform, tx.quality_bp, tx.reputation_bp, tx.reporter_platform
    )
    return R.OK


# --- building blocks --------------------------------------------------------------------------
def make_header(state: LedgerState, timestamp_ms: int, proposer: str, txs: tuple[AnyTransaction, ...]) -> BlockHeader:
    """The header of the next block on `state`: height, previous hash and root filled in."""
    return BlockHeader(
        height=state.height + 1,
        previous_hash=state.last_block_hash,
        timestamp_ms=timestamp_ms,
        proposer=proposer,
        transaction_root=transaction_root(txs),
    )


def apply_blocks(chain: Chain, state: LedgerState, blocks: list[Block]) -> tuple[LedgerState, list[BlockReceipt]]:
    receipts: list[BlockReceipt] = []
    for block in blocks:
        state, receipt = apply_block(chain, state, block)
        receipts.append(receipt)
    return state, receipts

