"""The status changes the ledger makes are exactly the tables `TRANSFER_TRANSITIONS`
and `TASK_TRANSITIONS` (spec.wire.records), which the site draws.

A ledger run reaches every row, and every status change it makes is a row."""

import pytest
from builders import ATP, BOB, Ledger, commit, lock, pair, proof, rollback

import spec.wire.records as records
from spec.wire.records import SettlementCause, StatusChange

Change = tuple[str, str, str]


def transfer_changes(before: records.LedgerState, after: records.LedgerState) -> set[Change]:
    changes: set[Change] = set()
    for transfer_id, now in after.transfers.items():
        earlier = before.transfers.get(transfer_id)
        if earlier is not None and earlier.status != now.status:
            assert now.settled_by is not None, f"{transfer_id} changed status with no cause"
            changes.add((earlier.status, now.status, now.settled_by))
    return changes


def task_changes(before: records.LedgerState, after: records.LedgerState) -> set[Change]:
    changes: set[Change] = set()
    for task_id, now in after.tasks.items():
        earlier = before.tasks.get(task_id)
        if earlier is not None and earlier.status != now.status:
            cause = SettlementCause.PROOF if now.proof is not None else SettlementCause.EXPIRY
            changes.add((earlier.status, now.status, cause))
    return changes


def every_way_to_settle() -> Ledger:
    """Explicit commit and rollback, expiry, and tasks paid, refunded and expired."""
    ledger = Ledger()
    high, high_lock = pair(task_id="task-paid", cost=10 * ATP)
    low, low_lock = pair(task_id="task-refunded", cost=10 * ATP)
    late, late_lock = pair(task_id="task-expired", cost=10 * ATP, timeout_ms=1_000)
    ledger.ok(lock("t-commit", amount=ATP), lock("t-rollback", amount=ATP), lock("t-expire", amount=ATP, timeout_ms=1_000))
    ledger.ok(high, high_lock, low, low_lock)
    ledger.ok(late, late_lock)
    ledger.ok(commit("t-commit"), rollback("t-rollback"))
    ledger.ok(proof("task-paid", executing_agent=BOB, quality_bp=8_500), proof("task-refunded", quality_bp=5_000))
    ledger.ok(ts=ledger.state.last_timestamp_ms + 10_000)  # past every deadline: the rest expire
    return ledger


def observed(ledger: Ledger) -> tuple[set[Change], set[Change]]:
    transfers: set[Change] = set()
    tasks: set[Change] = set()
    for step in ledger.steps:
        transfers |= transfer_changes(step.pre, step.post)
        tasks |= task_changes(step.pre, step.post)
    return transfers, tasks


def rows(table: tuple[StatusChange, ...]) -> set[Change]:
    return {(row.before, row.after, row.cause) for row in table}


def check_tables(ledger: Ledger) -> None:
    transfers, tasks = observed(ledger)
    assert transfers == rows(records.TRANSFER_TRANSITIONS)
    assert tasks == rows(records.TASK_TRANSITIONS)


def test_the_ledger_makes_every_transition_of_the_tables_and_no_other() -> None:
    check_tables(every_way_to_settle())


def test_final_statuses_never_change() -> None:
    finals = {row.after for row in records.TRANSFER_TRANSITIONS + records.TASK_TRANSITIONS}
    starts = {row.before for row in records.TRANSFER_TRANSITIONS + records.TASK_TRANSITIONS}
    assert finals.isdisjoint(starts)


@pytest.mark.parametrize("table", ["TRANSFER_TRANSITIONS", "TASK_TRANSITIONS"])
def test_negative_control_a_table_missing_a_row_is_caught(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, table, getattr(records, table)[1:])
    with pytest.raises(AssertionError):
        check_tables(every_way_to_settle())


def test_negative_control_a_row_the_ledger_never_makes_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    invented = StatusChange("COMMITTED", "ROLLED_BACK", "ROLLBACK", "never")
    monkeypatch.setattr(records, "TRANSFER_TRANSITIONS", records.TRANSFER_TRANSITIONS + (invented,))
    with pytest.raises(AssertionError):
        check_tables(every_way_to_settle())
