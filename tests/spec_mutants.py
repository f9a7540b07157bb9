"""Broken variants of `spec.ledger`, each a plausible bug, applied with pytest's
monkeypatch: the negative controls of the tests that judge the spec's ledger (the
stateful test against the auditor, the drift tests of the z3 encoding)."""

from dataclasses import replace
from typing import Any

import pytest

import spec.ledger as ledger
from spec.codes import ResultCode
from spec.wire.records import LedgerState


def forget_to_unlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rollback and expiry end the transfer but leave the amount locked."""

    def release_lock(work: LedgerState, transfer: Any, outcome: Any, cause: Any) -> None:
        work.transfers[transfer.transfer_id] = replace(transfer, status=outcome, settled_by=cause)

    monkeypatch.setattr(ledger, "release_lock", release_lock)


def flip_expiry_tie(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock expires in the block whose timestamp equals its deadline (deadline exclusive)."""
    original = ledger.expire_due
    monkeypatch.setattr(ledger, "expire_due", lambda work, now: original(work, now + 1))


def round_reputation_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reputation rule rounds up instead of down."""
    monkeypatch.setattr(ledger, "next_reputation", lambda current, quality: -(-(current * 9000 + quality * 1000) // 10000))


def check_link_before_authority(monkeypatch: pytest.MonkeyPatch) -> None:
    """COMMIT/ROLLBACK checks transfer_linked_to_task before unauthorized_platform: only
    a code changes, no state, so only the auditor (not the invariants) can see it."""
    original = ledger.validate_settle

    def validate_settle(work: LedgerState, tx: Any, own_cause: Any) -> ResultCode:
        transfer = work.transfers.get(tx.transfer_id)
        if transfer is not None and transfer.task_linked and transfer.settled_by != own_cause:
            return ResultCode.TRANSFER_LINKED_TO_TASK
        result: ResultCode = original(work, tx, own_cause)
        return result

    monkeypatch.setattr(ledger, "validate_settle", validate_settle)


def forget_failed_lock_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain lock that fails on state does not leave its id failed."""
    original = ledger.apply_transaction

    def apply_transaction(work: LedgerState, tx: Any, index: int, now: int) -> Any:
        before = set(work.failed_transfer_ids)
        receipt = original(work, tx, index, now)
        work.failed_transfer_ids.intersection_update(before)
        return receipt

    monkeypatch.setattr(ledger, "apply_transaction", apply_transaction)


MUTANTS = [forget_to_unlock, flip_expiry_tie, round_reputation_up, check_link_before_authority, forget_failed_lock_ids]
