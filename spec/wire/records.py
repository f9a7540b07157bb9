"""The records the ledger keeps, and the receipts it gives: plain data.

Records are immutable; a state is a set of dictionaries of records. The ledger's
step functions (`spec.ledger`) never change a state they are given: they copy it
and change the copy. The state root (`spec.wire.state_root`) is computed from these
records, and receipts are what a node reports for each block.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from spec.codes import ResultCode

R = ResultCode


class TransferStatus(StrEnum):
    LOCKED = "LOCKED"
    COMMITTED = "COMMITTED"
    ROLLED_BACK = "ROLLED_BACK"
    EXPIRED = "EXPIRED"


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    """Settled by a proof with quality >= threshold: the executing agent was paid."""
    FAILED = "FAILED"
    """Settled by a proof with quality < threshold: the delegator was refunded."""
    EXPIRED = "EXPIRED"
    """No proof by the deadline: the delegator was refunded at expiry."""


class SettlementCause(StrEnum):
    """What ended a lock. Task-linked locks end only by PROOF or EXPIRY."""

    COMMIT = "COMMIT"
    ROLLBACK = "ROLLBACK"
    PROOF = "PROOF"
    EXPIRY = "EXPIRY"


class StatusChange(NamedTuple):
    """One way a record leaves its first status: the status it reaches, what causes
    it, and when. The ledger (`spec.ledger`) makes these and no others; a test
    reaches every one and finds no other, and the site draws them."""

    before: str
    after: str
    cause: str
    when: str


TRANSFER_TRANSITIONS: tuple[StatusChange, ...] = (
    StatusChange(TransferStatus.LOCKED, TransferStatus.COMMITTED, SettlementCause.COMMIT, "ATP_TRANSFER_COMMIT by the source platform"),
    StatusChange(TransferStatus.LOCKED, TransferStatus.COMMITTED, SettlementCause.PROOF, "its task's proof, quality >= threshold"),
    StatusChange(TransferStatus.LOCKED, TransferStatus.ROLLED_BACK, SettlementCause.ROLLBACK, "ATP_TRANSFER_ROLLBACK by the source platform"),
    StatusChange(TransferStatus.LOCKED, TransferStatus.ROLLED_BACK, SettlementCause.PROOF, "its task's proof, quality < threshold"),
    StatusChange(TransferStatus.LOCKED, TransferStatus.EXPIRED, SettlementCause.EXPIRY, "the first block after expires_at_ms"),
)
"""Every change of a transfer's status. COMMITTED, ROLLED_BACK and EXPIRED are final."""

TASK_TRANSITIONS: tuple[StatusChange, ...] = (
    StatusChange(TaskStatus.PENDING, TaskStatus.COMPLETED, SettlementCause.PROOF, "EXECUTION_PROOF, quality >= threshold: the executor is paid"),
    StatusChange(TaskStatus.PENDING, TaskStatus.FAILED, SettlementCause.PROOF, "EXECUTION_PROOF, quality < threshold: the delegator is refunded"),
    StatusChange(TaskStatus.PENDING, TaskStatus.EXPIRED, SettlementCause.EXPIRY, "no proof by the deadline: the delegator is refunded"),
)
"""Every change of a task's status. COMPLETED, FAILED and EXPIRED are final."""



@dataclass(frozen=True)
class Account:
    agent: str
    platform: str
    total: int
    locked: int

    @property
    def available(self) -> int:
        return self.total - self.locked


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    source_agent: str
    source_platform: str
    dest_agent: str
    dest_platform: str
    amount: int
    timeout_ms: int
    created_at_ms: int
    expires_at_ms: int
    """created_at_ms + timeout_ms. The lock is open through this instant and expires
    in the first block whose timestamp is strictly later."""
    status: TransferStatus
    task_linked: bool
    settled_by: SettlementCause | None


@dataclass(frozen=True)
class ProofRecord:
    executing_agent: str
    quality_bp: int
    execution_time_ms: int
    result_hash: str
    landed_at_ms: int
    """Timestamp of the block that included the proof."""


@dataclass(frozen=True)
class Task:
    task_id: str
    delegating_platform: str
    delegating_agent: str
    executing_platform: str
    executing_agent: str
    cost: int
    quality_threshold_bp: int
    timeout_ms: int
    task_data_hash: str
    created_at_ms: int
    deadline_ms: int
    status: TaskStatus
    proof: ProofRecord | None
    settled_quality_bp: int | None
    """The quality the task settled with: the proof's, or 0 at expiry; None while pending."""
    reputation_update_id: str | None
    """The update id that recorded this task's reputation effect, once applied."""


@dataclass(frozen=True)
class BalanceSetRecord:
    set_id: str
    agent: str
    balance: int


@dataclass(frozen=True)
class ReputationRecord:
    update_id: str
    task_id: str
    platform: str
    quality_bp: int
    reputation_bp: int
    reporter_platform: str


@dataclass
class LedgerState:
    height: int
    last_block_hash: str
    last_timestamp_ms: int
    accounts: dict[str, Account]
    transfers: dict[str, Transfer]
    tasks: dict[str, Task]
    balance_sets: dict[str, BalanceSetRecord]
    reputation_updates: dict[str, ReputationRecord]
    reputations: dict[str, int]
    failed_transfer_ids: set[str] = field(default_factory=set)
    """Transfer and task ids (one namespace) whose creating transaction failed on state."""
    failed_set_ids: set[str] = field(default_factory=set)
    failed_update_ids: set[str] = field(default_factory=set)


# --- receipts ---------------------------------------------------------------------
@dataclass(frozen=True)
class Settlement:
    """A lock reaching its end state, explicit or derived (by a proof or expiry)."""

    transfer_id: str
    outcome: TransferStatus
    cause: SettlementCause


@dataclass(frozen=True)
class TransactionReceipt:
    index: int
    type: str
    code: ResultCode
    settlements: tuple[Settlement, ...]


@dataclass(frozen=True)
class BlockReceipt:
    height: int
    block_hash: str
    code: ResultCode
    """``ok``, or the block code that rejected the whole block."""
    invalid_index: int | None
    """For ``block_transaction_invalid``: the index of the first failing transaction."""
    invalid_code: ResultCode | None
    """For ``block_transaction_invalid``: that transaction's static code."""
    expiries: tuple[Settlement, ...]
    """Settlements of the expiry step, in expiry order, before any transaction."""
    transactions: tuple[TransactionReceipt, ...]

    @property
    def accepted(self) -> bool:
        return self.code == R.OK
