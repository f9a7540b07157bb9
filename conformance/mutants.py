"""Mutant nodes: the spec node with one deliberate bug each, the suite's negative
controls. `python -m conformance.spec_node --mutant NAME` runs one; every one must
fail the suite, and the site's Conformance section lists the cases that kill each.

Each bug is a plausible mistake a node builder could make, put into the spec's own
functions by replacing them in their module: the rest of the spec calls the broken
function through the module, as it would if the bug were in its source. A bug is
written against a `Patcher` (anything with pytest's `monkeypatch.setattr`), so the
tests apply the same bugs with monkeypatch and the spec node applies them for the
life of its process.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import spec.ledger as ledger
import spec.pbft as pbft
import spec.wire.state_root as state_root_module
from spec.codes import ResultCode
from spec.wire.encoding import block_hash
from spec.wire.records import BlockReceipt, LedgerState, Transfer, TransferStatus


class Patcher(Protocol):
    def setattr(self, target: object, name: str, value: object) -> None: ...


class ForTheProcess:
    """A patcher whose patches last as long as the process: the spec node's."""

    def setattr(self, target: object, name: str, value: object) -> None:
        setattr(target, name, value)


# --- ledger bugs ---------------------------------------------------------------------------------------
def rollback_keeps_the_lock(patcher: Patcher) -> None:
    """Rollback and expiry end the transfer but leave its amount locked."""

    def release_lock(work: LedgerState, transfer: Transfer, outcome: TransferStatus, cause: Any) -> None:
        work.transfers[transfer.transfer_id] = replace(transfer, status=outcome, settled_by=cause)

    patcher.setattr(ledger, "release_lock", release_lock)


def expiry_on_the_deadline(patcher: Patcher) -> None:
    """A lock expires in the block whose timestamp equals its deadline (the deadline
    instant is still open: it expires only in a strictly later block)."""
    original = ledger.expire_due
    patcher.setattr(ledger, "expire_due", lambda work, now: original(work, now + 1))


def commit_credits_twice(patcher: Patcher) -> None:
    """A commit credits the destination twice the amount."""
    original = ledger.commit_lock

    def commit_lock(work: LedgerState, transfer: Transfer, cause: Any) -> None:
        original(work, transfer, cause)
        dest = work.accounts[transfer.dest_agent]
        work.accounts[dest.agent] = replace(dest, total=dest.total + transfer.amount)

    patcher.setattr(ledger, "commit_lock", commit_lock)


def link_checked_before_authority(patcher: Patcher) -> None:
    """COMMIT and ROLLBACK check `transfer_linked_to_task` before
    `unauthorized_platform`: two codes in the wrong order; only a code changes."""
    original = ledger.validate_settle

    def validate_settle(work: LedgerState, tx: Any, own_cause: Any) -> ResultCode:
        transfer = work.transfers.get(tx.transfer_id)
        if transfer is not None and transfer.task_linked and transfer.settled_by != own_cause:
            return ResultCode.TRANSFER_LINKED_TO_TASK
        result: ResultCode = original(work, tx, own_cause)
        return result

    patcher.setattr(ledger, "validate_settle", validate_settle)


def reputation_rounds_up(patcher: Patcher) -> None:
    """The reputation rule rounds up instead of down."""
    patcher.setattr(ledger, "next_reputation", lambda current, quality: -(-(current * 9000 + quality * 1000) // 10000))


def failed_lock_ids_forgotten(patcher: Patcher) -> None:
    """A plain lock that fails on state does not leave its id failed, so a retry with
    the same id may succeed where `id_already_failed` is due."""
    original = ledger.apply_transaction

    def apply_transaction(work: LedgerState, tx: Any, index: int, now: int) -> Any:
        before = set(work.failed_transfer_ids)
        receipt = original(work, tx, index, now)
        work.failed_transfer_ids.intersection_update(before)
        return receipt

    patcher.setattr(ledger, "apply_transaction", apply_transaction)


def state_root_without_settlement_cause(patcher: Patcher) -> None:
    """The state root leaves a transfer's `settled_by` out of its leaf."""
    original = state_root_module.transfer_bytes

    def transfer_bytes(transfer: Transfer) -> bytes:
        return original(replace(transfer, settled_by=None))

    patcher.setattr(state_root_module, "transfer_bytes", transfer_bytes)


# --- consensus bugs ------------------------------------------------------------------------------------
def prepare_without_validation(patcher: Patcher) -> None:
    """A replica prepares any proposed block without validating it against its
    ledger: an invalid block looks fine and executes as nothing."""
    original = ledger.apply_block

    def apply_block(chain: Any, state: LedgerState, block: Any) -> tuple[LedgerState, BlockReceipt]:
        post, receipt = original(chain, state, block)
        if receipt.code == ResultCode.OK:
            return post, receipt
        return state, replace(receipt, code=ResultCode.OK)

    patcher.setattr(pbft, "apply_block", apply_block)


def new_view_ignores_prepared_certificates(patcher: Patcher) -> None:
    """A NEW-VIEW re-proposes nothing: the prepared certificates its view changes
    carry are ignored, so a block prepared in the old view may be replaced."""
    original = pbft.new_view_proposals

    def new_view_proposals(config: pbft.ConsensusConfig, view: int, view_changes: Any) -> Any:
        checkpoint, _ = original(config, view, view_changes)
        return checkpoint, ()

    patcher.setattr(pbft, "new_view_proposals", new_view_proposals)


def catch_up_trusts_one_peer(patcher: Patcher) -> None:
    """A BLOCK-RESPONSE is taken on its sender's word: its commit certificate must
    name the block, but need not hold a quorum of commits."""

    def commit_certificate_is_valid(config: pbft.ConsensusConfig, certificate: Any, block: Any) -> bool:
        return bool(block.header.height == certificate.height and block_hash(block.header) == certificate.digest)

    patcher.setattr(pbft, "commit_certificate_is_valid", commit_certificate_is_valid)


def quorum_two_f_plus_one(patcher: Patcher) -> None:
    """Quorums of 2f + 1 replicas: right when N = 3f + 1, too small otherwise (N = 5 or
    6 with f = 1: two quorums of 3 need not share a correct replica)."""
    patcher.setattr(pbft, "quorum_size", lambda n, f: 2 * f + 1)


@dataclass(frozen=True)
class MutantNode:
    bug: Callable[[Patcher], None]

    @property
    def description(self) -> str:
        return " ".join((self.bug.__doc__ or "").split("\n\n")[0].split())


MUTANT_NODES: dict[str, MutantNode] = {
    bug.__name__: MutantNode(bug) for bug in (
        prepare_without_validation,
        expiry_on_the_deadline,
        rollback_keeps_the_lock,
        commit_credits_twice,
        link_checked_before_authority,
        new_view_ignores_prepared_certificates,
        catch_up_trusts_one_peer,
        state_root_without_settlement_cause,
        quorum_two_f_plus_one,
        reputation_rounds_up,
        failed_lock_ids_forgotten,
    )
}
"""Mutant name -> its bug. The name is what `--mutant` takes."""


def install_mutant(name: str) -> None:
    """Put mutant `name`'s bug into this process (the spec node calls it once, at start)."""
    if name not in MUTANT_NODES:
        raise SystemExit(f"unknown mutant {name!r}: one of {', '.join(sorted(MUTANT_NODES))}")
    MUTANT_NODES[name].bug(ForTheProcess())

