"""Refusals: why a PBFT replica ignored an input.

`spec.pbft.step` returns a refusal with its outputs: None when the replica took the
input (even if it then had nothing to send), otherwise the one reason below that
made it drop the input, unchanged. A replica checks the reasons of one input in
the order its handler lists them; the first that applies is the one reported, so
two implementations refuse the same input for the same reason.

A refusal is not an error: the network may deliver a message the replica cannot
use yet again later (see "Dropped messages and re-delivery" on the consensus page),
and a faulty replica's messages are refused for good. "Nothing to do" is not a
refusal either: a timer that finds no pending request, or a primary with a block
already in flight, accepted its input.

Refusals are separate from the ledger's result codes (`spec.codes`): those say why
a block or a transaction is invalid; these say why a replica ignored a consensus
input (one of them, `block_invalid`, because its ledger found the block invalid).
This module imports nothing of the spec, so a node that reuses only the wire layer
can report refusals under the same names.
"""

from enum import StrEnum
from typing import NamedTuple


class Refusal(StrEnum):
    """A named reason to ignore an input. The value is the name the site and traces show."""

    # --- client requests ---
    REQUEST_ALREADY_PENDING = "request_already_pending"
    REQUEST_ALREADY_EXECUTED = "request_already_executed"
    REQUEST_MALFORMED = "request_malformed"
    REQUEST_LARGER_THAN_BLOCK = "request_larger_than_block"
    REQUEST_TRANSACTION_INVALID = "request_transaction_invalid"

    # --- views ---
    STALE_VIEW = "stale_view"
    FUTURE_VIEW = "future_view"
    AWAITING_NEW_VIEW = "awaiting_new_view"
    VIEW_ALREADY_STARTED = "view_already_started"

    # --- senders ---
    NOT_FROM_PRIMARY = "not_from_primary"
    OWN_MESSAGE = "own_message"

    # --- proposals ---
    FIXED_BY_NEW_VIEW = "fixed_by_new_view"
    HEIGHT_NOT_NEXT = "height_not_next"
    PROPOSAL_ALREADY_TAKEN = "proposal_already_taken"
    OUTSIDE_WATERMARKS = "outside_watermarks"
    BLOCK_HEIGHT_MISMATCH = "block_height_mismatch"
    DIGEST_MISMATCH = "digest_mismatch"
    TIMESTAMP_AHEAD_OF_CLOCK = "timestamp_ahead_of_clock"
    BLOCK_INVALID = "block_invalid"

    # --- votes ---
    NO_OPEN_SLOT = "no_open_slot"
    VOTE_FOR_OTHER_HEIGHT = "vote_for_other_height"
    VOTE_FOR_OTHER_BLOCK = "vote_for_other_block"
    DUPLICATE_VOTE = "duplicate_vote"
    ALREADY_PREPARED = "already_prepared"
    NOT_YET_PREPARED = "not_yet_prepared"

    # --- checkpoints ---
    CHECKPOINT_NOT_ABOVE_STABLE = "checkpoint_not_above_stable"
    CHECKPOINT_HEIGHT_NOT_ON_INTERVAL = "checkpoint_height_not_on_interval"

    # --- view change ---
    VIEW_CHANGE_ALREADY_COUNTED = "view_change_already_counted"
    VIEW_CHANGE_NOT_NEEDED = "view_change_not_needed"
    VIEW_CHANGE_INVALID = "view_change_invalid"
    NEW_VIEW_INVALID = "new_view_invalid"

    # --- catch-up ---
    HEIGHT_BELOW_FIRST_BLOCK = "height_below_first_block"
    BLOCK_NOT_YET_EXECUTED = "block_not_yet_executed"
    RESPONSE_FOR_OTHER_REPLICA = "response_for_other_replica"
    COMMIT_CERTIFICATE_INVALID = "commit_certificate_invalid"


class RefusalInfo(NamedTuple):
    refusal: Refusal
    inputs: tuple[str, ...]
    """The inputs a replica may refuse for this reason."""
    meaning: str


# One row per reason, grouped as the enum is. The site renders it.
REFUSAL_TABLE: tuple[RefusalInfo, ...] = (
    RefusalInfo(Refusal.REQUEST_ALREADY_PENDING, ("client request",), "The same request already waits to be proposed."),
    RefusalInfo(Refusal.REQUEST_ALREADY_EXECUTED, ("client request",), "The request's first transaction is in a block the replica executed."),
    RefusalInfo(Refusal.REQUEST_MALFORMED, ("client request",), "The request is neither one transaction nor a FEDERATION_TASK followed by one more (its lock)."),
    RefusalInfo(Refusal.REQUEST_LARGER_THAN_BLOCK, ("client request",), "The request has more transactions than a block may carry (`max_block_transactions`)."),
    RefusalInfo(Refusal.REQUEST_TRANSACTION_INVALID, ("client request",), "A transaction of the request fails a static check of the ledger (its own result code is not `ok`): no block could carry it."),
    RefusalInfo(Refusal.STALE_VIEW, ("PRE-PREPARE", "PREPARE", "COMMIT", "VIEW-CHANGE", "NEW-VIEW"), "The message is for a view below the replica's: that view is over."),
    RefusalInfo(Refusal.FUTURE_VIEW, ("PRE-PREPARE", "PREPARE", "COMMIT"), "The message is for a view above the replica's, which it has not entered (yet)."),
    RefusalInfo(Refusal.AWAITING_NEW_VIEW, ("PRE-PREPARE", "PREPARE", "COMMIT"), "The replica is changing to the message's view and has not installed its NEW-VIEW: it agrees on nothing meanwhile."),
    RefusalInfo(Refusal.VIEW_ALREADY_STARTED, ("VIEW-CHANGE", "NEW-VIEW"), "The replica already works in that view: its NEW-VIEW is installed."),
    RefusalInfo(Refusal.NOT_FROM_PRIMARY, ("PRE-PREPARE",), "The sender is not the primary of the message's view."),
    RefusalInfo(Refusal.OWN_MESSAGE, ("PRE-PREPARE", "BLOCK-REQUEST"), "The replica sent the message itself: it took its own proposal when it made it, and it does not answer its own request."),
    RefusalInfo(Refusal.FIXED_BY_NEW_VIEW, ("PRE-PREPARE",), "The NEW-VIEW that started the view fixed the block for that height: no other pre-prepare counts there."),
    RefusalInfo(Refusal.HEIGHT_NOT_NEXT, ("PRE-PREPARE", "BLOCK-RESPONSE"), "The height is not the replica's executed height + 1: it agrees on and executes one height at a time, in order."),
    RefusalInfo(Refusal.PROPOSAL_ALREADY_TAKEN, ("PRE-PREPARE",), "The replica already took a proposal for the next height in this view (its slot is open)."),
    RefusalInfo(Refusal.OUTSIDE_WATERMARKS, ("PRE-PREPARE",), "The height is not above the stable checkpoint, or more than `watermark_window` above it."),
    RefusalInfo(Refusal.BLOCK_HEIGHT_MISMATCH, ("PRE-PREPARE",), "The block header's height is not the height the pre-prepare names."),
    RefusalInfo(Refusal.DIGEST_MISMATCH, ("PRE-PREPARE",), "The block hash of the header is not the pre-prepare's digest."),
    RefusalInfo(Refusal.TIMESTAMP_AHEAD_OF_CLOCK, ("PRE-PREPARE",), "The block's timestamp is more than MAX_CLOCK_SKEW_MS ahead of the replica's clock."),
    RefusalInfo(Refusal.BLOCK_INVALID, ("PRE-PREPARE", "BLOCK-RESPONSE"), "The replica's own ledger rejects the block (`apply_block` does not return `ok`)."),
    RefusalInfo(Refusal.NO_OPEN_SLOT, ("PREPARE", "COMMIT"), "The replica agrees on no height in this view: a vote before its pre-prepare, or after the block executed."),
    RefusalInfo(Refusal.VOTE_FOR_OTHER_HEIGHT, ("PREPARE", "COMMIT"), "The vote is for another height than the one the replica agrees on."),
    RefusalInfo(Refusal.VOTE_FOR_OTHER_BLOCK, ("PREPARE", "COMMIT"), "The vote is for the height the replica agrees on, but for another digest."),
    RefusalInfo(Refusal.DUPLICATE_VOTE, ("PREPARE", "COMMIT", "CHECKPOINT"), "The replica already counted this sender's vote (for a checkpoint: this very vote)."),
    RefusalInfo(Refusal.ALREADY_PREPARED, ("PREPARE",), "The replica already has a prepare quorum for its slot: more prepares change nothing."),
    RefusalInfo(Refusal.NOT_YET_PREPARED, ("COMMIT",), "The replica has no prepare quorum yet: it collects commits only once prepared."),
    RefusalInfo(Refusal.CHECKPOINT_NOT_ABOVE_STABLE, ("CHECKPOINT",), "The vote's height is at or below the replica's stable checkpoint: that height is decided."),
    RefusalInfo(Refusal.CHECKPOINT_HEIGHT_NOT_ON_INTERVAL, ("CHECKPOINT",), "The vote's height is not a multiple of `checkpoint_interval`."),
    RefusalInfo(Refusal.VIEW_CHANGE_ALREADY_COUNTED, ("VIEW-CHANGE",), "The replica already counted a VIEW-CHANGE from this sender for this view."),
    RefusalInfo(Refusal.VIEW_CHANGE_NOT_NEEDED, ("VIEW-CHANGE",), "The replica waits in this view and is not its primary: it needs no more VIEW-CHANGEs for it."),
    RefusalInfo(Refusal.VIEW_CHANGE_INVALID, ("VIEW-CHANGE",), "Its checkpoint certificate or one of its prepared certificates is invalid, or the certificates' heights do not rise above the checkpoint (`view_change_is_valid`)."),
    RefusalInfo(Refusal.NEW_VIEW_INVALID, ("NEW-VIEW",), "It is not from the view's primary, its VIEW-CHANGEs are not a valid quorum for the view, or its checkpoint and proposals are not the ones they determine (`new_view_is_valid`)."),
    RefusalInfo(Refusal.HEIGHT_BELOW_FIRST_BLOCK, ("BLOCK-REQUEST",), "The requested height is below 1: there is no such block."),
    RefusalInfo(Refusal.BLOCK_NOT_YET_EXECUTED, ("BLOCK-REQUEST",), "The replica has not executed the requested height."),
    RefusalInfo(Refusal.RESPONSE_FOR_OTHER_REPLICA, ("BLOCK-RESPONSE",), "The response names another replica as its requester."),
    RefusalInfo(Refusal.COMMIT_CERTIFICATE_INVALID, ("BLOCK-RESPONSE",), "The commit certificate is not for this block (height or digest), or fewer than a quorum of group replicas signed it."),
)
