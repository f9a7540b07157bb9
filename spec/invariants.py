"""The ledger invariants, as executable predicates.

Each predicate returns a list of violations (empty when it holds), each saying
what broke and where. State predicates look at one state; step predicates look
at a block's pre-state, the block, its receipt and the post-state.

The step predicates restate the rules independently of `spec.ledger`: they replay
only what the receipts and the block say (who was paid, which proof landed when)
and compare it with the post-state, so a ledger that applies a rule wrongly is
caught rather than trusted.
"""

from dataclasses import dataclass

from spec.codes import ResultCode
from spec.ledger import apply_block
from spec.state import Chain, total_supply
from spec.wire.records import BlockReceipt, LedgerState, SettlementCause, TaskStatus, Transfer, TransferStatus
from spec.wire.state_root import state_root
from spec.wire.types import BalanceSet, Block, ExecutionProof, FederationTask

CONSERVATION = "conservation"
LOCK_ACCOUNTING = "lock_accounting"
SETTLE_ONCE = "settle_once"
SETTLEMENT_CORRECTNESS = "settlement_correctness"
TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY = "task_locks_settled_by_proof_or_expiry"
NO_DOUBLE_SPEND = "no_double_spend"
DETERMINISM = "determinism"

INVARIANT_NAMES: tuple[str, ...] = (
    CONSERVATION,
    LOCK_ACCOUNTING,
    SETTLE_ONCE,
    SETTLEMENT_CORRECTNESS,
    TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY,
    NO_DOUBLE_SPEND,
    DETERMINISM,
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str


# --- state predicates -----------------------------------------------------------------------
def lock_accounting(state: LedgerState) -> list[Violation]:
    """Every account's locked balance is the sum of its open locks, and 0 <= locked <= total."""
    open_locks: dict[str, int] = {}
    for agent in state.accounts:
        open_locks[agent] = 0
    for transfer in state.transfers.values():
        if transfer.status == TransferStatus.LOCKED:
            open_locks[transfer.source_agent] += transfer.amount
    violations: list[Violation] = []
    for agent in sorted(state.accounts):
        account = state.accounts[agent]
        if account.locked != open_locks[agent]:
            violations.append(Violation(
                LOCK_ACCOUNTING,
                f"{agent}: locked {account.locked} but its open locks sum to {open_locks[agent]}",
            ))
        if account.locked < 0 or account.locked > account.total:
            violations.append(Violation(
                LOCK_ACCOUNTING, f"{agent}: locked {account.locked} outside 0..total {account.total}"
            ))
    return violations


def task_locks_settled_by_proof_or_expiry(state: LedgerState) -> list[Violation]:
    """A task-linked lock ends only by its task's proof or its expiry, never by COMMIT or ROLLBACK."""
    violations: list[Violation] = []
    for transfer_id in sorted(state.transfers):
        transfer = state.transfers[transfer_id]
        if not transfer.task_linked or transfer.status == TransferStatus.LOCKED:
            continue
        if transfer.settled_by not in (SettlementCause.PROOF, SettlementCause.EXPIRY):
            violations.append(Violation(
                TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY,
                f"task lock {transfer_id} ended {transfer.status.value} by {transfer.settled_by}",
            ))
    return violations


EXPECTED_TRANSFER_END: dict[TaskStatus, tuple[TransferStatus, SettlementCause | None]] = {
    TaskStatus.PENDING: (TransferStatus.LOCKED, None),
    TaskStatus.COMPLETED: (TransferStatus.COMMITTED, SettlementCause.PROOF),
    TaskStatus.FAILED: (TransferStatus.ROLLED_BACK, SettlementCause.PROOF),
    TaskStatus.EXPIRED: (TransferStatus.EXPIRED, SettlementCause.EXPIRY),
}


def task_settlement_consistency(state: LedgerState) -> list[Violation]:
    """Each task agrees with its lock and its proof: paid iff a proof with
    quality >= threshold landed by the deadline."""
    violations: list[Violation] = []
    for task_id in sorted(state.tasks):
        task = state.tasks[task_id]
        transfer = state.transfers.get(task_id)
        where = f"task {task_id} ({task.status.value})"
        if transfer is None or not transfer.task_linked or transfer.amount != task.cost:
            violations.append(Violation(SETTLEMENT_CORRECTNESS, f"{where}: no task-linked lock of its cost"))
            continue
        expected_status, expected_cause = EXPECTED_TRANSFER_END[task.status]
        if transfer.status != expected_status or transfer.settled_by != expected_cause:
            violations.append(Violation(
                SETTLEMENT_CORRECTNESS,
                f"{where}: its lock is {transfer.status.value} by {transfer.settled_by}, "
                f"expected {expected_status.value} by {expected_cause}",
            ))
        proof = task.proof
        if task.status in (TaskStatus.PENDING, TaskStatus.EXPIRED):
            if proof is not None:
                violations.append(Violation(SETTLEMENT_CORRECTNESS, f"{where}: has a proof"))
            continue
        if proof is None:
            violations.append(Violation(SETTLEMENT_CORRECTNESS, f"{where}: settled without a proof"))
            continue
        if proof.landed_at_ms > task.deadline_ms:
            violations.append(Violation(
                SETTLEMENT_CORRECTNESS,
                f"{where}: proof landed at {proof.landed_at_ms}, after the deadline {task.deadline_ms}",
            ))
        paid = proof.quality_bp >= task.quality_threshold_bp
        if paid != (task.status == TaskStatus.COMPLETED):
            violations.append(Violation(
                SETTLEMENT_CORRECTNESS,
                f"{where}: quality {proof.quality_bp} vs threshold {task.quality_threshold_bp}",
            ))
    return violations


def check_state(state: LedgerState) -> list[Violation]:
    """Every invariant that speaks of a single state."""
    return lock_accounting(state) + task_locks_settled_by_proof_or_expiry(state) + task_settlement_consistency(state)


# --- step predicates ---------------------------------------------------------------------------
def transfer_in(pre: LedgerState, post: LedgerState, transfer_id: str) -> Transfer | None:
    """The transfer record, from the post-state if it exists there, else from the pre-state."""
    if transfer_id in post.transfers:
        return post.transfers[transfer_id]
    return pre.transfers.get(transfer_id)


def replay_totals(pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState) -> tuple[dict[str, int], int]:
    """Account totals after the block, recomputed from the receipts alone: each
    commit moves its transfer's amount once, each accepted BALANCE_SET sets a
    total. Returns the totals and the sum of the BALANCE_SET deltas."""
    totals: dict[str, int] = {}
    for agent, account in pre.accounts.items():
        totals[agent] = account.total
    minted = 0
    for tx_receipt in receipt.transactions:
        tx = block.transactions[tx_receipt.index]
        if tx_receipt.code != ResultCode.OK:
            continue
        if isinstance(tx, BalanceSet):
            minted += tx.balance - totals[tx.agent]
            totals[tx.agent] = tx.balance
        for settlement in tx_receipt.settlements:
            if settlement.outcome != TransferStatus.COMMITTED:
                continue
            transfer = transfer_in(pre, post, settlement.transfer_id)
            if transfer is None:
                continue
            totals[transfer.source_agent] -= transfer.amount
            totals[transfer.dest_agent] += transfer.amount
    return totals, minted


def conservation(pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState) -> list[Violation]:
    """The sum of totals changes only through BALANCE_SET, and by exactly its delta."""
    if not receipt.accepted:
        if total_supply(post) != total_supply(pre):
            return [Violation(CONSERVATION, f"block {receipt.height}: rejected block changed the supply")]
        return []
    _totals, minted = replay_totals(pre, block, receipt, post)
    expected = total_supply(pre) + minted
    actual = total_supply(post)
    if actual != expected:
        return [Violation(
            CONSERVATION,
            f"block {receipt.height}: supply {actual}, expected {expected} "
            f"({total_supply(pre)} before, {minted:+d} by BALANCE_SET)",
        )]
    return []


def settle_once(pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState) -> list[Violation]:
    """A transfer leaves LOCKED exactly once and its end state is final; records never vanish."""
    violations: list[Violation] = []
    where = f"block {receipt.height}"
    for transfer_id, before in pre.transfers.items():
        after = post.transfers.get(transfer_id)
        if after is None:
            violations.append(Violation(SETTLE_ONCE, f"{where}: transfer {transfer_id} vanished"))
            continue
        if before.status != TransferStatus.LOCKED and (
            after.status != before.status or after.settled_by != before.settled_by
        ):
            violations.append(Violation(
                SETTLE_ONCE,
                f"{where}: transfer {transfer_id} went from {before.status.value} to {after.status.value}",
            ))
    for task_id, before_task in pre.tasks.items():
        after_task = post.tasks.get(task_id)
        if after_task is None:
            violations.append(Violation(SETTLE_ONCE, f"{where}: task {task_id} vanished"))
        elif before_task.status != TaskStatus.PENDING and after_task.status != before_task.status:
            violations.append(Violation(SETTLE_ONCE, f"{where}: settled task {task_id} changed status"))
    seen: set[str] = set()
    settlements = list(receipt.expiries)
    for tx_receipt in receipt.transactions:
        settlements.extend(tx_receipt.settlements)
    for settlement in settlements:
        if settlement.transfer_id in seen:
            violations.append(Violation(SETTLE_ONCE, f"{where}: transfer {settlement.transfer_id} settled twice"))
        seen.add(settlement.transfer_id)
        earlier = pre.transfers.get(settlement.transfer_id)
        if earlier is not None and earlier.status != TransferStatus.LOCKED:
            violations.append(Violation(
                SETTLE_ONCE, f"{where}: transfer {settlement.transfer_id} settled again after {earlier.status.value}"
            ))
        later = post.transfers.get(settlement.transfer_id)
        if later is None or later.status != settlement.outcome:
            violations.append(Violation(
                SETTLE_ONCE, f"{where}: receipt says {settlement.transfer_id} {settlement.outcome.value}, state disagrees"
            ))
    for transfer_id, ended in post.transfers.items():
        opened = pre.transfers.get(transfer_id)
        was_open = opened is None or opened.status == TransferStatus.LOCKED
        if was_open and ended.status != TransferStatus.LOCKED and transfer_id not in seen:
            violations.append(Violation(SETTLE_ONCE, f"{where}: transfer {transfer_id} ended with no settlement receipt"))
    return violations


def settlement_correctness(pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState) -> list[Violation]:
    """A task is paid iff a proof with quality >= threshold landed by its deadline.

    Restated from the block itself: a task pending before the block whose deadline
    is earlier than the block's timestamp must be EXPIRED; otherwise the first
    proof in the block from the task's executing platform and agent (after the task
    itself, if the block created it) settles it: COMPLETED if its quality reaches
    the threshold, FAILED if not; with no such proof it stays PENDING."""
    violations = task_settlement_consistency(post)
    if not receipt.accepted:
        return violations
    now = block.header.timestamp_ms
    created_at: dict[str, int] = {}
    for tx_receipt in receipt.transactions:
        tx = block.transactions[tx_receipt.index]
        if isinstance(tx, FederationTask) and tx_receipt.code == ResultCode.OK:
            created_at[tx.task_id] = tx_receipt.index
    for task_id in sorted(post.tasks):
        task = post.tasks[task_id]
        before = pre.tasks.get(task_id)
        if before is not None and before.status != TaskStatus.PENDING:
            continue
        if before is None and task_id not in created_at:
            violations.append(Violation(SETTLEMENT_CORRECTNESS, f"task {task_id} appeared without its FEDERATION_TASK"))
            continue
        if before is not None and before.deadline_ms < now:
            expected = TaskStatus.EXPIRED
        else:
            first = created_at.get(task_id, -1)
            expected = TaskStatus.PENDING
            for index in range(first + 1, len(block.transactions)):
                tx = block.transactions[index]
                if (
                    isinstance(tx, ExecutionProof)
                    and tx.task_id == task_id
                    and tx.executing_platform == task.executing_platform
                    and tx.executing_agent == task.executing_agent
                ):
                    paid = tx.quality_bp >= task.quality_threshold_bp
                    expected = TaskStatus.COMPLETED if paid else TaskStatus.FAILED
                    break
        if task.status != expected:
            violations.append(Violation(
                SETTLEMENT_CORRECTNESS,
                f"block {receipt.height} at {now}: task {task_id} (deadline {task.deadline_ms}) "
                f"is {task.status.value}, expected {expected.value}",
            ))
    return violations


def no_double_spend(pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState) -> list[Violation]:
    """No sequence of commits moves more than the payer held: every account's total
    after the block is exactly what its commits and BALANCE_SETs say, and no total
    or available balance is negative."""
    violations: list[Violation] = []
    if receipt.accepted:
        totals, _minted = replay_totals(pre, block, receipt, post)
        for agent in sorted(post.accounts):
            if post.accounts[agent].total != totals.get(agent):
                violations.append(Violation(
                    NO_DOUBLE_SPEND,
                    f"block {receipt.height}: {agent} total {post.accounts[agent].total}, "
                    f"its receipts account for {totals.get(agent)}",
                ))
    for agent in sorted(post.accounts):
        account = post.accounts[agent]
        if account.total < 0 or account.available < 0:
            violations.append(Violation(
                NO_DOUBLE_SPEND, f"block {receipt.height}: {agent} total {account.total}, available {account.available}"
            ))
    return violations


def determinism(chain: Chain, pre: LedgerState, block: Block, post: LedgerState) -> list[Violation]:
    """Applying the same block to the same state again gives the same state root."""
    again, _receipt = apply_block(chain, pre, block)
    try:
        same = state_root(again) == state_root(post)
    except OverflowError:
        # A broken ledger made a value the canonical bytes cannot hold (a negative balance):
        # the other predicates report that; here compare the two states field by field.
        same = again == post
    if not same:
        return [Violation(DETERMINISM, f"block {block.header.height}: a second application gave another state root")]
    return []


def check_step(
    chain: Chain, pre: LedgerState, block: Block, receipt: BlockReceipt, post: LedgerState
) -> list[Violation]:
    """Every invariant, checked across one block application."""
    violations: list[Violation] = []
    violations += conservation(pre, block, receipt, post)
    violations += lock_accounting(post)
    violations += settle_once(pre, block, receipt, post)
    violations += settlement_correctness(pre, block, receipt, post)
    violations += task_locks_settled_by_proof_or_expiry(post)
    violations += no_double_spend(pre, block, receipt, post)
    violations += determinism(chain, pre, block, post)
    return violations
