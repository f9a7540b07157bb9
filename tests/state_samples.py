"""Ledger states for the state-root tests and benchmark: seeded random walks through
the real ledger, and large states of settled transfers."""

import dataclasses
import random

from builders import (
    ALICE,
    ATP,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    GENESIS,
    LEGION,
    SPROUT,
    THOR,
    Ledger,
    balance_set,
    commit,
    lock,
    pair,
    proof,
    reputation,
    rollback,
)

from spec.state import copy_state, state_from_genesis
from spec.wire.records import LedgerState, SettlementCause, Transfer, TransferStatus
from spec.wire.types import AnyTransaction

PAYERS = (ALICE, DAVE, CAROL)
PAYEES = (BOB, ERIN)
TIMEOUTS_MS = (1_000, 60_000)
"""Short locks expire within a walk's next blocks; long ones stay open."""
BLOCK_GAPS_MS = (1_000, 2_000, 30_000)


def random_transactions(chooser: random.Random) -> list[AnyTransaction]:
    """One transaction, or a task and its lock, on small pools of ids, so that ids
    recur: commits, rollbacks and proofs find their lock, and some creations fail."""
    transfer_id = f"walk-transfer-{chooser.randrange(5)}"
    task_id = f"walk-task-{chooser.randrange(4)}"
    kind = chooser.choice(("lock", "commit", "rollback", "set", "task", "proof", "reputation"))
    if kind == "lock":
        amount = chooser.randint(1, 400) * ATP
        return [lock(transfer_id, chooser.choice(PAYERS), chooser.choice(PAYEES), amount, chooser.choice(TIMEOUTS_MS))]
    if kind == "commit":
        return [commit(transfer_id, chooser.choice((THOR, LEGION)))]
    if kind == "rollback":
        return [rollback(transfer_id, chooser.choice((THOR, LEGION)))]
    if kind == "set":
        return [balance_set(f"walk-set-{chooser.randrange(12)}", chooser.choice(PAYERS), chooser.choice((0, 300, 900)) * ATP)]
    if kind == "task":
        cost = chooser.randint(1, 300) * ATP
        return list(pair(task_id=task_id, delegating_agent=chooser.choice(PAYERS), executing_agent=chooser.choice(PAYEES),
                         cost=cost, timeout_ms=chooser.choice(TIMEOUTS_MS)))
    if kind == "proof":
        return [proof(task_id, chooser.choice(PAYEES), quality_bp=chooser.choice((5_000, 8_500)))]
    return [reputation(f"walk-update-{chooser.randrange(4)}", task_id, SPROUT, quality_bp=chooser.choice((5_000, 8_500)))]


def random_ledger_walk(seed: int, blocks: int = 12, most_transactions: int = 6) -> Ledger:
    """`blocks` blocks of random transactions through the real ledger (builders' genesis)."""
    chooser = random.Random(seed)
    ledger = Ledger()
    for _ in range(blocks):
        transactions: list[AnyTransaction] = []
        for _ in range(chooser.randint(1, most_transactions)):
            transactions += random_transactions(chooser)
        ledger.block(*transactions, ts=ledger.state.last_timestamp_ms + chooser.choice(BLOCK_GAPS_MS))
    return ledger


def settled_transfers_state(records: int) -> LedgerState:
    """Builders' genesis state with settled transfers added until it holds `records` records."""
    state = copy_state(state_from_genesis(GENESIS))
    settled = Transfer(
        transfer_id="", source_agent=ALICE, source_platform=THOR, dest_agent=BOB, dest_platform=SPROUT,
        amount=ATP, timeout_ms=60_000, created_at_ms=GENESIS.genesis_time_ms,
        expires_at_ms=GENESIS.genesis_time_ms + 60_000, status=TransferStatus.COMMITTED, task_linked=False,
        settled_by=SettlementCause.COMMIT,
    )
    existing = len(state.accounts) + len(state.reputations)
    for number in range(records - existing):
        transfer_id = f"settled-{number:07d}"
        state.transfers[transfer_id] = dataclasses.replace(settled, transfer_id=transfer_id)
    return state
