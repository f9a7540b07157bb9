"""The reference node's ledger: the rules of docs/ledger.md, written for speed.

Read it top to bottom: `Ledger.apply_block` is the whole block transition. It
checks the header and each transaction on its own (`reference.static_checks`),
and a block that fails there is refused before the ledger is touched. A valid
block then runs the expiry step and its transactions in order, against the
ledger's own dictionaries, and commits.

Where the spec is plain and this is fast:

* no copy of the state per block: each change is written in place and journalled
  (the collection, the key, the value before); a block that raises part way is
  undone from the journal, so nothing of it remains;
* the expiry step pops the locks that fall due from an index (`reference.expiry`)
  instead of scanning every transfer;
* the state root is kept (`reference.state_tree`): asked for a root, the ledger
  rehashes the leaves of the records changed since the last one, and the tree
  nodes above them, only;
* the supply (the sum of all totals, which BALANCE_SET bounds) is kept as a sum;
* each distinct signed transaction's signature is verified once.

Records and receipts are the wire layer's types (`spec.wire.records`), so a
receipt has the protocol's JSON form and a record the state root's bytes.
"""

from collections.abc import Callable
from typing import Any

from reference.chain import Chain
from reference.expiry import Entry, ExpiryIndex
from reference.state_tree import StateTree
from reference.static_checks import SignatureChecker, first_static_failure, header_code
from spec.codes import ResultCode
from spec.constants import BASIS_POINTS, EXPIRED_TASK_QUALITY_BP, MAX_SUPPLY, REPUTATION_WEIGHT_BP, ZERO_HASH
from spec.wire.encoding import block_hash, domain_tag, encode_hash, encode_u64, sha256
from spec.wire.records import (
    Account,
    BalanceSetRecord,
    BlockReceipt,
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
from spec.wire.state_root import (
    account_bytes,
    balance_set_bytes,
    leaf_hash,
    record_key,
    reputation_bytes,
    reputation_update_bytes,
    task_bytes,
    transfer_bytes,
)
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    ExecutionProof,
    FederationTask,
    ReputationUpdate,
)

R = ResultCode
LOCKED = TransferStatus.LOCKED

MISSING: Any = object()
"""In the journal: the key had no value before the block."""

Changed = tuple[str, str]
"""(record kind, id): a record whose leaf a commit must rehash. Kinds are the state
root's (`spec.wire.state_root.RECORD_KIND_CODES`)."""


def next_reputation(current_bp: int, quality_bp: int) -> int:
    """floor((current * (10000 - W) + quality * W) / 10000), W = REPUTATION_WEIGHT_BP."""
    return (current_bp * (BASIS_POINTS - REPUTATION_WEIGHT_BP) + quality_bp * REPUTATION_WEIGHT_BP) // BASIS_POINTS


class Ledger:
    """One chain's ledger state, its expiry index and its state tree, applied block by block."""

    expiry_index_class: Callable[[], ExpiryIndex] = ExpiryIndex
    tree_class: Callable[[], StateTree] = StateTree

    def __init__(self, chain: Chain) -> None:
        genesis = chain.genesis
        self.chain = chain
        self.signatures = SignatureChecker(chain.chain_id)
        self.height = 0
        self.last_block_hash = ZERO_HASH
        self.last_timestamp_ms = genesis.genesis_time_ms
        self.accounts: dict[str, Account] = {
            a.agent: Account(a.agent, a.platform, a.balance, 0) for a in genesis.accounts
        }
        self.transfers: dict[str, Transfer] = {}
        self.tasks: dict[str, Task] = {}
        self.balance_sets: dict[str, BalanceSetRecord] = {}
        self.reputation_updates: dict[str, ReputationRecord] = {}
        self.reputations: dict[str, int] = {p.name: p.reputation_bp for p in genesis.platforms}
        self.failed_transfer_ids: set[str] = set()
        self.failed_set_ids: set[str] = set()
        self.failed_update_ids: set[str] = set()
        self.supply = sum(account.total for account in self.accounts.values())
        self.expiry = self.expiry_index_class()
        self.tree = self.tree_class()
        # What the block in progress did, for its commit or its undoing.
        self.journal: list[tuple[Any, Any, Any]] = []
        self.changed: set[Changed] = set()
        self.new_entries: list[Entry] = []
        self.unhashed: set[Changed] = set()
        """Records changed by committed blocks whose leaves the tree has not yet."""
        self.changed.update(("ACCOUNT", agent) for agent in self.accounts)
        self.changed.update(("REPUTATION", platform) for platform in self.reputations)
        self.commit()

    # --- the block transition --------------------------------------------------------------------------
    def apply_block(self, block: Block) -> BlockReceipt:
        """Apply one block; its receipt. A refused block leaves the ledger as it was."""
        this_hash = block_hash(block.header)
        code, invalid_index, invalid_code = self.block_verdict(block)
        if code != R.OK:
            return BlockReceipt(self.height + 1, this_hash, code, invalid_index, invalid_code, (), ())
        position = (self.height, self.last_block_hash, self.last_timestamp_ms, self.supply)
        expired: list[Entry] = []
        try:
            receipt = self.apply_valid_block(block, this_hash, expired)
        except BaseException:
            self.undo(position, expired)
            raise
        self.commit()
        return receipt

    def block_verdict(self, block: Block) -> tuple[ResultCode, int | None, ResultCode | None]:
        """Whether the block would apply: its block code, and for a transaction that
        fails on its own, that transaction's index and code. Changes nothing."""
        code = header_code(self.chain, self.height, self.last_block_hash, self.last_timestamp_ms, block)
        if code != R.OK:
            return code, None, None
        failure = first_static_failure(self.chain, self.signatures, block)
        if failure is not None:
            return R.BLOCK_TRANSACTION_INVALID, failure[0], failure[1]
        return R.OK, None, None

    def apply_valid_block(self, block: Block, this_hash: str, expired: list[Entry]) -> BlockReceipt:
        now = block.header.timestamp_ms
        expiries = self.expire_due(now, expired)
        receipts: list[TransactionReceipt] = []
        txs = block.transactions
        index = 0
        while index < len(txs):
            tx = txs[index]
            if isinstance(tx, FederationTask):
                lock = txs[index + 1]
                assert isinstance(lock, AtpTransferLock)  # the static pairing check saw to it
                receipts.extend(self.apply_task_pair(tx, lock, index, now))
                index += 2
            else:
                receipts.append(self.apply_transaction(tx, index, now))
                index += 1
        self.height = block.header.height
        self.last_block_hash = this_hash
        self.last_timestamp_ms = now
        return BlockReceipt(self.height, this_hash, R.OK, None, None, tuple(expiries), tuple(receipts))

    def apply_transaction(self, tx: AnyTransaction, index: int, now: int) -> TransactionReceipt:
        """One transaction that is not part of a task pair. A creating transaction that
        fails on state, for an id not in use, leaves its id failed."""
        settlements: list[Settlement] = []
        if isinstance(tx, AtpTransferLock):
            code = self.apply_lock(tx, now, task_linked=False)
            if is_failure(code) and tx.transfer_id not in self.transfers:
                self.add_failed("FAILED_TRANSFER_ID", self.failed_transfer_ids, tx.transfer_id)
        elif isinstance(tx, AtpTransferCommit):
            code = self.apply_settle(tx, SettlementCause.COMMIT, settlements)
        elif isinstance(tx, AtpTransferRollback):
            code = self.apply_settle(tx, SettlementCause.ROLLBACK, settlements)
        elif isinstance(tx, BalanceSet):
            code = self.apply_balance_set(tx)
            if is_failure(code) and tx.set_id not in self.balance_sets:
                self.add_failed("FAILED_SET_ID", self.failed_set_ids, tx.set_id)
        elif isinstance(tx, ExecutionProof):
            code = self.apply_execution_proof(tx, now, settlements)
        elif isinstance(tx, ReputationUpdate):
            code = self.apply_reputation_update(tx)
            if is_failure(code) and tx.update_id not in self.reputation_updates:
                self.add_failed("FAILED_UPDATE_ID", self.failed_update_ids, tx.update_id)
        else:
            raise TypeError(f"not a transaction: {type(tx).__name__}")
        return TransactionReceipt(index, tx.type, code, tuple(settlements))

    # --- writing, journalled ------------------------------------------------------------------------------
    def put(self, kind: str, records: dict[str, Any], key: str, value: Any) -> None:
        """Write a record in place; remember what it was and that its leaf changed."""
        self.journal.append((records, key, records.get(key, MISSING)))
        records[key] = value
        self.changed.add((kind, key))

    def add_failed(self, kind: str, ids: set[str], key: str) -> None:
        if key not in ids:
            self.journal.append((ids, key, MISSING))
            ids.add(key)
            self.changed.add((kind, key))

    def undo(self, position: tuple[int, str, int, int], expired: list[Entry]) -> None:
        """Take back everything the block in progress wrote, newest first."""
        for container, key, before in reversed(self.journal):
            if isinstance(container, set):
                container.discard(key)
            elif before is MISSING:
                del container[key]
            else:
                container[key] = before
        self.height, self.last_block_hash, self.last_timestamp_ms, self.supply = position
        self.expiry.restore(expired)
        self.journal, self.changed, self.new_entries = [], set(), []

    def commit(self) -> None:
        """Make the block's writes final: index its new locks; its changed records wait
        for the next state root to be rehashed (a replica asks at checkpoints only)."""
        for expires_at_ms, transfer_id in self.new_entries:
            self.expiry.add(expires_at_ms, transfer_id)
        self.unhashed |= self.changed
        self.journal, self.changed, self.new_entries = [], set(), []

    def rehash_changed_leaves(self) -> None:
        for kind, record_id in self.unhashed:
            key = record_key(kind, record_id)
            self.tree.set_leaf(key, leaf_hash(key, self.record_bytes(kind, record_id)))
        self.unhashed = set()

    def record_bytes(self, kind: str, record_id: str) -> bytes:
        """The value bytes of a record's leaf; a failed id's is empty (its presence counts)."""
        if kind == "ACCOUNT":
            return account_bytes(self.accounts[record_id])
        if kind == "TRANSFER":
            return transfer_bytes(self.transfers[record_id])
        if kind == "TASK":
            return task_bytes(self.tasks[record_id])
        if kind == "BALANCE_SET":
            return balance_set_bytes(self.balance_sets[record_id])
        if kind == "REPUTATION_UPDATE":
            return reputation_update_bytes(self.reputation_updates[record_id])
        if kind == "REPUTATION":
            return reputation_bytes(record_id, self.reputations[record_id])
        return b""

    def state_root(self) -> str:
        """SHA-256(tag STATE || u64 height || hash last_block_hash || u64 last_timestamp_ms
        || records root), the records root kept by the tree."""
        self.rehash_changed_leaves()
        position = encode_u64(self.height) + encode_hash(self.last_block_hash) + encode_u64(self.last_timestamp_ms)
        return sha256(domain_tag("STATE") + position + self.tree.root()).hex()

    # --- expiry ---------------------------------------------------------------------------------------
    def expire_due(self, now: int, expired: list[Entry]) -> list[Settlement]:
        """Expire every LOCKED transfer whose deadline is strictly before `now`, in
        (expires_at_ms, transfer_id) order; popped entries go to `expired` (for undo)."""
        settlements: list[Settlement] = []
        for entry in self.expiry.pop_due(now):
            expired.append(entry)
            transfer = self.transfers[entry[1]]
            if transfer.status != LOCKED:
                continue  # settled before its deadline: the entry outlived it
            self.release(transfer, TransferStatus.EXPIRED, SettlementCause.EXPIRY)
            if transfer.task_linked:
                task = self.tasks[transfer.transfer_id]
                self.put("TASK", self.tasks, task.task_id,
                         task_with(task, status=TaskStatus.EXPIRED, settled_quality_bp=EXPIRED_TASK_QUALITY_BP))
            settlements.append(Settlement(transfer.transfer_id, TransferStatus.EXPIRED, SettlementCause.EXPIRY))
        return settlements

    # --- moving ATP -------------------------------------------------------------------------------------
    def set_account(self, account: Account, total: int, locked: int) -> None:
        self.put("ACCOUNT", self.accounts, account.agent, Account(account.agent, account.platform, total, locked))

    def release(self, transfer: Transfer, outcome: TransferStatus, cause: SettlementCause) -> None:
        """End a LOCKED transfer without moving ATP (rollback, refund or expiry)."""
        source = self.accounts[transfer.source_agent]
        self.set_account(source, source.total, source.locked - transfer.amount)
        self.put("TRANSFER", self.transfers, transfer.transfer_id, transfer_with(transfer, outcome, cause))

    def pay(self, transfer: Transfer, cause: SettlementCause) -> None:
        """End a LOCKED transfer by moving its whole amount from source to destination."""
        source = self.accounts[transfer.source_agent]
        self.set_account(source, source.total - transfer.amount, source.locked - transfer.amount)
        dest = self.accounts[transfer.dest_agent]
        self.set_account(dest, dest.total + transfer.amount, dest.locked)
        self.put("TRANSFER", self.transfers, transfer.transfer_id,
                 transfer_with(transfer, TransferStatus.COMMITTED, cause))

    # --- locks and their settlement ------------------------------------------------------------------------
    def lock_code(self, tx: AtpTransferLock) -> ResultCode:
        existing = self.transfers.get(tx.transfer_id)
        if existing is not None:
            return lock_difference(existing, tx)
        if tx.transfer_id in self.failed_transfer_ids:
            return R.ID_ALREADY_FAILED
        account = self.accounts[tx.source_agent]
        if account.total - account.locked < tx.amount:
            return R.INSUFFICIENT_AVAILABLE
        return R.OK

    def apply_lock(self, tx: AtpTransferLock, now: int, task_linked: bool) -> ResultCode:
        code = self.lock_code(tx)
        if code != R.OK:
            return code
        source = self.accounts[tx.source_agent]
        self.set_account(source, source.total, source.locked + tx.amount)
        expires_at_ms = now + tx.timeout_ms
        self.put("TRANSFER", self.transfers, tx.transfer_id, Transfer(
            tx.transfer_id, tx.source_agent, tx.source_platform, tx.dest_agent, tx.dest_platform, tx.amount,
            tx.timeout_ms, now, expires_at_ms, LOCKED, task_linked, None,
        ))
        self.new_entries.append((expires_at_ms, tx.transfer_id))
        return R.OK

    def settle_code(self, tx: AtpTransferCommit | AtpTransferRollback, own_cause: SettlementCause) -> ResultCode:
        """COMMIT's and ROLLBACK's checks: a repeat of the same settlement exists."""
        transfer = self.transfers.get(tx.transfer_id)
        if transfer is None:
            return R.TRANSFER_NOT_FOUND
        if transfer.settled_by == own_cause:
            return R.EXISTS if tx.platform == transfer.source_platform else R.EXISTS_WITH_DIFFERENT_PLATFORM
        if tx.platform != transfer.source_platform:
            return R.UNAUTHORIZED_PLATFORM
        if transfer.task_linked:
            return R.TRANSFER_LINKED_TO_TASK
        return ENDED_CODES.get(transfer.status, R.OK)

    def apply_settle(
        self, tx: AtpTransferCommit | AtpTransferRollback, cause: SettlementCause, settlements: list[Settlement]
    ) -> ResultCode:
        code = self.settle_code(tx, cause)
        if code != R.OK:
            return code
        transfer = self.transfers[tx.transfer_id]
        if cause == SettlementCause.COMMIT:
            self.pay(transfer, cause)
            settlements.append(Settlement(tx.transfer_id, TransferStatus.COMMITTED, cause))
        else:
            self.release(transfer, TransferStatus.ROLLED_BACK, cause)
            settlements.append(Settlement(tx.transfer_id, TransferStatus.ROLLED_BACK, cause))
        return R.OK

    # --- balance sets -----------------------------------------------------------------------------------
    def balance_set_code(self, tx: BalanceSet) -> ResultCode:
        existing = self.balance_sets.get(tx.set_id)
        if existing is not None:
            if tx.agent != existing.agent:
                return R.EXISTS_WITH_DIFFERENT_AGENT
            if tx.balance != existing.balance:
                return R.EXISTS_WITH_DIFFERENT_BALANCE
            return R.EXISTS
        if tx.set_id in self.failed_set_ids:
            return R.ID_ALREADY_FAILED
        account = self.accounts[tx.agent]
        if tx.balance < account.locked:
            return R.BALANCE_BELOW_LOCKED
        if self.supply - account.total + tx.balance > MAX_SUPPLY:
            return R.SUPPLY_EXCEEDS_MAXIMUM
        return R.OK

    def apply_balance_set(self, tx: BalanceSet) -> ResultCode:
        code = self.balance_set_code(tx)
        if code != R.OK:
            return code
        account = self.accounts[tx.agent]
        self.supply += tx.balance - account.total
        self.set_account(account, tx.balance, account.locked)
        self.put("BALANCE_SET", self.balance_sets, tx.set_id, BalanceSetRecord(tx.set_id, tx.agent, tx.balance))
        return R.OK

    # --- tasks, their proofs and their reputation updates ------------------------------------------------------
    def task_code(self, tx: FederationTask) -> ResultCode:
        existing = self.tasks.get(tx.task_id)
        if existing is not None:
            return task_difference(existing, tx)
        if tx.task_id in self.failed_transfer_ids:
            return R.ID_ALREADY_FAILED
        if tx.task_id in self.transfers:
            return R.ID_USED_BY_TRANSFER
        return R.OK

    def apply_task_pair(
        self, task: FederationTask, lock: AtpTransferLock, index: int, now: int
    ) -> tuple[TransactionReceipt, TransactionReceipt]:
        """A FEDERATION_TASK and its lock: both apply, or neither (docs/ledger.md, "The pair")."""
        task_code = self.task_code(task)
        if task_code == R.OK:
            lock_code = self.lock_code(lock)
        elif task_code == R.EXISTS:
            lock_code = lock_difference(self.transfers[task.task_id], lock)
        else:
            lock_code = R.LINKED_TRANSACTION_FAILED
        if task_code == R.OK and lock_code == R.OK:
            self.apply_lock(lock, now, task_linked=True)
            self.put("TASK", self.tasks, task.task_id, new_task(task, now))
        elif task_code == R.OK:
            task_code = R.LINKED_TRANSACTION_FAILED
        in_use = task.task_id in self.tasks or task.task_id in self.transfers
        if is_failure(task_code) and not in_use:
            self.add_failed("FAILED_TRANSFER_ID", self.failed_transfer_ids, task.task_id)
        return (TransactionReceipt(index, task.type, task_code, ()),
                TransactionReceipt(index + 1, lock.type, lock_code, ()))

    def proof_code(self, tx: ExecutionProof) -> ResultCode:
        task = self.tasks.get(tx.task_id)
        if task is None:
            return R.TASK_NOT_FOUND
        if task.proof is not None:
            return proof_difference(task.proof, tx)
        if tx.executing_platform != task.executing_platform:
            return R.EXECUTING_PLATFORM_MISMATCH
        if tx.executing_agent != task.executing_agent:
            return R.EXECUTING_AGENT_MISMATCH
        if task.status == TaskStatus.EXPIRED:
            return R.TASK_EXPIRED
        return R.OK

    def apply_execution_proof(self, tx: ExecutionProof, now: int, settlements: list[Settlement]) -> ResultCode:
        """Settle a pending task: pay at quality >= threshold, else refund. (The expiry
        step of this block already expired every task past its deadline.)"""
        code = self.proof_code(tx)
        if code != R.OK:
            return code
        task = self.tasks[tx.task_id]
        transfer = self.transfers[tx.task_id]
        if tx.quality_bp >= task.quality_threshold_bp:
            self.pay(transfer, SettlementCause.PROOF)
            settlements.append(Settlement(tx.task_id, TransferStatus.COMMITTED, SettlementCause.PROOF))
            status = TaskStatus.COMPLETED
        else:
            self.release(transfer, TransferStatus.ROLLED_BACK, SettlementCause.PROOF)
            settlements.append(Settlement(tx.task_id, TransferStatus.ROLLED_BACK, SettlementCause.PROOF))
            status = TaskStatus.FAILED
        proof = ProofRecord(tx.executing_agent, tx.quality_bp, tx.execution_time_ms, tx.result_hash, now)
        self.put("TASK", self.tasks, task.task_id,
                 task_with(task, status=status, proof=proof, settled_quality_bp=tx.quality_bp))
        return R.OK

    def reputation_update_code(self, tx: ReputationUpdate) -> ResultCode:
        existing = self.reputation_updates.get(tx.update_id)
        if existing is not None:
            return reputation_difference(existing, tx)
        if tx.update_id in self.failed_update_ids:
            return R.ID_ALREADY_FAILED
        task = self.tasks.get(tx.task_id)
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
        if tx.reputation_bp != next_reputation(self.reputations[tx.platform], tx.quality_bp):
            return R.REPUTATION_MISMATCH
        return R.OK

    def apply_reputation_update(self, tx: ReputationUpdate) -> ResultCode:
        code = self.reputation_update_code(tx)
        if code != R.OK:
            return code
        self.put("REPUTATION", self.reputations, tx.platform, tx.reputation_bp)
        task = self.tasks[tx.task_id]
        self.put("TASK", self.tasks, task.task_id, task_with(task, reputation_update_id=tx.update_id))
        self.put("REPUTATION_UPDATE", self.reputation_updates, tx.update_id, ReputationRecord(
            tx.update_id, tx.task_id, tx.platform, tx.quality_bp, tx.reputation_bp, tx.reporter_platform,
        ))
        return R.OK


ENDED_CODES: dict[TransferStatus, ResultCode] = {
    TransferStatus.COMMITTED: R.TRANSFER_ALREADY_COMMITTED,
    TransferStatus.ROLLED_BACK: R.TRANSFER_ALREADY_ROLLED_BACK,
    TransferStatus.EXPIRED: R.TRANSFER_EXPIRED,
}
"""Why a settlement cannot end a transfer that already ended."""


def is_failure(code: ResultCode) -> bool:
    """Failed on state: neither applied nor an identical resubmission."""
    return code != R.OK and code != R.EXISTS


# --- records, built without dataclasses.replace (it is slow) ------------------------------------------------
def transfer_with(t: Transfer, status: TransferStatus, settled_by: SettlementCause) -> Transfer:
    return Transfer(t.transfer_id, t.source_agent, t.source_platform, t.dest_agent, t.dest_platform, t.amount,
                    t.timeout_ms, t.created_at_ms, t.expires_at_ms, status, t.task_linked, settled_by)


def task_with(k: Task, **changes: Any) -> Task:
    fields = {name: getattr(k, name) for name in TASK_FIELDS}
    fields.update(changes)
    return Task(**fields)


TASK_FIELDS = tuple(Task.__dataclass_fields__)


def new_task(tx: FederationTask, now: int) -> Task:
    return Task(
        task_id=tx.task_id, delegating_platform=tx.delegating_platform, delegating_agent=tx.delegating_agent,
        executing_platform=tx.executing_platform, executing_agent=tx.executing_agent, cost=tx.cost,
        quality_threshold_bp=tx.quality_threshold_bp, timeout_ms=tx.timeout_ms, task_data_hash=tx.task_data_hash,
        created_at_ms=now, deadline_ms=now + tx.timeout_ms, status=TaskStatus.PENDING, proof=None,
        settled_quality_bp=None, reputation_update_id=None,
    )


# --- identical resubmissions: `exists`, or the first field that differs --------------------------------------
def lock_difference(existing: Transfer, tx: AtpTransferLock) -> ResultCode:
    """Platforms are not compared: the static checks tie each agent to its host."""
    if tx.source_agent != existing.source_agent:
        return R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT
    if tx.dest_agent != existing.dest_agent:
        return R.EXISTS_WITH_DIFFERENT_DEST_AGENT
    if tx.amount != existing.amount:
        return R.EXISTS_WITH_DIFFERENT_AMOUNT
    if tx.timeout_ms != existing.timeout_ms:
        return R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS
    return R.EXISTS


def task_difference(existing: Task, tx: FederationTask) -> ResultCode:
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
