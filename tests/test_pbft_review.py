"""Review of the PBFT replica (`spec.pbft`): tests for what a mutation run found unpinned.

Each section pins one rule, at the function that decides it and through `step`.
Most end with negative controls: the rule broken the way a plausible bug would
break it (monkeypatched into `spec.pbft` for that one test), and the section's
checks seen to fail. The group is the one of tests/test_pbft.py (N = 4, f = 1,
quorum 3), driven with its helpers.
"""

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from builders import (
    ALICE,
    ATP,
    BOB,
    DAVE,
    ERIN,
    SPROUT,
    THOR,
    balance_set,
    commit,
    lock,
    pair,
    proof,
    reputation,
    rollback,
)
from pydantic import BaseModel
from test_pbft import (
    CLOCK,
    CONFIG,
    GENESIS_LEDGER,
    REQUEST,
    REQUESTS,
    ROOT_A,
    assert_ignored,
    block_on,
    deliver_all,
    dropping,
    fire,
    fresh_replicas,
    make_config,
    of_type,
    prepares_it,
    proposal,
    run,
    submit,
)

import spec.pbft as pbft
import spec.wire.messages as messages
from checker import accelerate
from spec.codes import ResultCode
from spec.ledger import apply_block
from spec.pbft import ReplicaState, Slot, StepResult, genesis_checkpoint, initial_replica_state, primary_of
from spec.refusals import Refusal
from spec.state import copy_state
from spec.wire.encoding import block_hash, transaction_hash
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Timer,
    ViewChange,
)
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block

GENESIS_CHECKPOINT = genesis_checkpoint(CONFIG)
N = CONFIG.n


# === a chain of blocks, and certificates for them, built by hand =======================================
def consecutive_blocks(count: int) -> tuple[list[Block], list[LedgerState]]:
    """`count` valid blocks, one request each, each on the ledger the previous one
    produced; and the ledger after each."""
    blocks: list[Block] = []
    ledgers: list[LedgerState] = []
    ledger = GENESIS_LEDGER
    for index in range(count):
        block = block_on(ledger, REQUESTS[index].transactions)
        ledger, receipt = apply_block(CONFIG.chain, ledger, block)
        assert receipt.code == ResultCode.OK
        blocks.append(block)
        ledgers.append(ledger)
    return blocks, ledgers


BLOCKS, LEDGERS = consecutive_blocks(4)
DIGESTS = [block_hash(block.header) for block in BLOCKS]


def at_height(height: int) -> Block:
    return BLOCKS[height - 1]


def certificate(block: Block, view: int = 0, prepares: frozenset[int] | None = None) -> PreparedCertificate:
    """A prepared certificate for `block` in `view`: its primary and the next two replicas."""
    primary = primary_of(view, N)
    if prepares is None:
        prepares = frozenset({primary, (primary + 1) % N, (primary + 2) % N})
    pre_prepare = PrePrepare(view, block.header.height, block_hash(block.header), block, primary)
    return PreparedCertificate(pre_prepare, prepares)


STABLE_AT_2 = CheckpointCertificate(2, state_root(LEDGERS[1]), frozenset({0, 1, 2}))
"""A stable checkpoint after the second block, signed by a quorum."""


# === 1. NEW-VIEW validity ===========================================================================
VIEW_CHANGES_TO_1 = tuple(
    ViewChange(1, STABLE_AT_2, (certificate(at_height(3)), certificate(at_height(4))), sender) for sender in (0, 2, 3)
)
"""A quorum of view changes for view 1 (whose primary is replica 1): each carries
the checkpoint at 2 and prepared certificates at heights 3 and 4."""

NEW_VIEW_1 = NewView(
    1, VIEW_CHANGES_TO_1, STABLE_AT_2, (proposal(at_height(3), view=1), proposal(at_height(4), view=1)), 1
)
"""The NEW-VIEW those view changes call for, written out by hand."""

OTHER_BLOCK_AT_3 = block_on(LEDGERS[1], REQUESTS[4].transactions)


def receiver() -> ReplicaState:
    """Replica 2, fresh: in view 0, at height 0, stable at genesis. It takes a valid
    NEW-VIEW for any later view."""
    return initial_replica_state(CONFIG, 2, CLOCK)


def tampered_new_views() -> dict[str, NewView]:
    """NEW-VIEWs a faulty primary might send instead of NEW_VIEW_1. Each differs
    from it in one respect; where the proposals still follow from the altered
    view changes, only the named check can reject it."""
    vc0, vc2, vc3 = VIEW_CHANGES_TO_1
    first, second = NEW_VIEW_1.proposals
    weak_certificate = replace(vc0.prepared[0], prepares=frozenset({0, 1}))
    return {
        # the view changes
        "a view change for another view": replace(NEW_VIEW_1, view_changes=(vc0, vc2, replace(vc3, new_view=2))),
        "a view change for an earlier view": replace(
            NEW_VIEW_1, view_changes=(vc0, vc2, replace(vc3, new_view=0, prepared=()))
        ),
        "a view change for another view beside a quorum": replace(
            NEW_VIEW_1, view_changes=(vc0, vc2, vc3, replace(vc3, new_view=2, sender=1))
        ),
        "a sender counted twice": replace(NEW_VIEW_1, view_changes=(vc0, vc2, vc2)),
        "a second view change from one sender beside a quorum": replace(
            NEW_VIEW_1, view_changes=(vc0, vc2, vc3, replace(vc3, prepared=()))
        ),
        "fewer than a quorum of view changes": replace(NEW_VIEW_1, view_changes=(vc0, vc2)),
        "an invalid view change": replace(
            NEW_VIEW_1, view_changes=(replace(vc0, prepared=(weak_certificate, vc0.prepared[1])), vc2, vc3)
        ),
        # the proposals
        "another block re-proposed": replace(NEW_VIEW_1, proposals=(proposal(OTHER_BLOCK_AT_3, view=1), second)),
        "the last re-proposal dropped": replace(NEW_VIEW_1, proposals=(first,)),
        "no re-proposals": replace(NEW_VIEW_1, proposals=()),
        "a proposal added": replace(
            NEW_VIEW_1, proposals=(first, second, proposal(block_on(LEDGERS[3], REQUESTS[4].transactions), view=1))
        ),
        "the re-proposals swapped": replace(NEW_VIEW_1, proposals=(second, first)),
        "a re-proposal in the old view": replace(NEW_VIEW_1, proposals=(replace(first, view=0), second)),
        "a re-proposal from another sender": replace(NEW_VIEW_1, proposals=(replace(first, sender=2), second)),
        # the checkpoint
        "the genesis checkpoint": replace(NEW_VIEW_1, checkpoint=GENESIS_CHECKPOINT),
        "a checkpoint at another height": replace(NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, height=4)),
        "a checkpoint with another state root": replace(NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, state_root=ROOT_A)),
        "a checkpoint with a lower state root": replace(
            NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, state_root="00" * 32)
        ),
        "a checkpoint with a higher state root": replace(
            NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, state_root="ff" * 32)
        ),
        "the checkpoint signed by fewer than a quorum": replace(
            NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, signers=frozenset({0, 1}))
        ),
        "the checkpoint signed by replica N": replace(
            NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, signers=frozenset({0, 1, N}))
        ),
        "the checkpoint signed by replica -1": replace(
            NEW_VIEW_1, checkpoint=replace(STABLE_AT_2, signers=frozenset({-1, 0, 1}))
        ),
        # the blocks
        "a re-proposed block that does not hash to its digest": replace(
            NEW_VIEW_1, proposals=(replace(first, block=OTHER_BLOCK_AT_3), second)
        ),
        "a re-proposed block's header with other transactions": replace(
            NEW_VIEW_1,
            proposals=(
                replace(first, block=Block(header=first.block.header, transactions=OTHER_BLOCK_AT_3.transactions)),
                second,
            ),
        ),
        # the sender
        "sent by a replica that is not the primary": replace(NEW_VIEW_1, sender=2),
    }


TAMPERINGS = sorted(tampered_new_views())


def test_the_genuine_new_view_is_valid_and_installed() -> None:
    """Control for the tamperings: the NEW-VIEW they start from passes both checks."""
    assert pbft.new_view_is_valid(CONFIG, NEW_VIEW_1)
    state, outputs, _ = pbft.step(CONFIG, receiver(), NEW_VIEW_1)
    assert (state.view, state.active, state.view_proposals) == (1, True, NEW_VIEW_1.proposals)
    assert outputs == (), "replica 2 is at height 0: nothing re-proposed is its next height"


def test_a_new_view_with_more_than_a_quorum_of_view_changes_is_valid() -> None:
    """A quorum is a lower bound: the primary's own view change beside the other three is fine."""
    own = ViewChange(1, STABLE_AT_2, VIEW_CHANGES_TO_1[0].prepared, 1)
    everyone = replace(NEW_VIEW_1, view_changes=(*VIEW_CHANGES_TO_1, own))
    assert len(everyone.view_changes) == N
    assert pbft.new_view_is_valid(CONFIG, everyone)
    state, _, _ = pbft.step(CONFIG, receiver(), everyone)
    assert (state.view, state.active) == (1, True)


def test_the_fewer_than_quorum_tampering_recomputes_to_the_same_proposals() -> None:
    """So that in that case only the quorum check can reject it."""
    fewer = tampered_new_views()["fewer than a quorum of view changes"]
    assert pbft.new_view_proposals(CONFIG, 1, fewer.view_changes) == (fewer.checkpoint, fewer.proposals)


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_new_view_is_invalid(tampering: str) -> None:
    assert not pbft.new_view_is_valid(CONFIG, tampered_new_views()[tampering])


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_new_view_changes_nothing_and_sends_nothing(tampering: str) -> None:
    assert_ignored(CONFIG, receiver(), tampered_new_views()[tampering])


def accepted_tamperings() -> list[str]:
    """The tampered NEW-VIEWs that `new_view_is_valid` or `step` accepts."""
    accepted: list[str] = []
    for name, new_view in tampered_new_views().items():
        before = receiver()
        after, outputs, _ = pbft.step(CONFIG, before, new_view)
        if pbft.new_view_is_valid(CONFIG, new_view) or after != before or outputs != ():
            accepted.append(name)
    return accepted


NewViewCheck = Callable[[Any, NewView], bool]


def valid_once_the_sender_is_right(original: NewViewCheck) -> NewViewCheck:
    """Returns True right after the sender check."""
    return lambda config, message: message.sender == primary_of(message.view, config.n)


def valid_once_each_view_change_is(original: NewViewCheck) -> NewViewCheck:
    """Checks the sender and each view change, then returns True: no quorum, no recomputation."""

    def check(config: Any, message: NewView) -> bool:
        if message.sender != primary_of(message.view, config.n):
            return False
        return all(pbft.view_change_is_valid(config, view_change) for view_change in message.view_changes)

    return check


def blind_to_repeated_senders(original: NewViewCheck) -> NewViewCheck:
    """Counts only the first view change of each sender, as if the repeated-sender check were gone."""

    def check(config: Any, message: NewView) -> bool:
        first_of_each: dict[int, ViewChange] = {}
        for view_change in message.view_changes:
            first_of_each.setdefault(view_change.sender, view_change)
        return original(config, replace(message, view_changes=tuple(first_of_each.values())))

    return check


def trusting_digests(original: NewViewCheck) -> NewViewCheck:
    """Compares re-proposals by digest only, as if the block comparison were gone."""

    def check(config: Any, message: NewView) -> bool:
        _, recomputed = pbft.new_view_proposals(config, message.view, message.view_changes)
        if recomputed == message.proposals:
            message = replace(message, proposals=recomputed)
        return original(config, message)

    return check


@pytest.mark.parametrize(
    ("broken", "slips_through"),
    [
        (valid_once_the_sender_is_right, "a view change for another view"),
        (valid_once_the_sender_is_right, "a sender counted twice"),
        (valid_once_each_view_change_is, "fewer than a quorum of view changes"),
        (valid_once_each_view_change_is, "the last re-proposal dropped"),
        (valid_once_each_view_change_is, "a checkpoint with another state root"),
        (blind_to_repeated_senders, "a second view change from one sender beside a quorum"),
        (trusting_digests, "a re-proposed block that does not hash to its digest"),
        (trusting_digests, "a re-proposed block's header with other transactions"),
    ],
)
def test_negative_control_a_broken_new_view_check_lets_a_tampering_through(
    broken: Callable[[NewViewCheck], NewViewCheck], slips_through: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert accepted_tamperings() == []
    monkeypatch.setattr(pbft, "new_view_is_valid", broken(pbft.new_view_is_valid))
    assert slips_through in accepted_tamperings()


# === 2. certificate signers are replicas 0 .. N-1 ===================================================
SIGNER_SETS: dict[str, tuple[frozenset[int], bool]] = {
    # name: (signers, valid)
    "a quorum of replicas": (frozenset({0, 1, 2}), True),
    "a quorum including replica N-1": (frozenset({0, 1, N - 1}), True),
    "quorum-1 replicas and replica N": (frozenset({0, 1, N}), False),
    "quorum-1 replicas and replica -1": (frozenset({-1, 0, 1}), False),
    "a quorum of replicas and replica N": (frozenset({0, 1, 2, N}), False),
    "a quorum of replicas and replica -1": (frozenset({-1, 0, 1, 2}), False),
}
SIGNER_CASES = sorted(SIGNER_SETS)


@pytest.mark.parametrize("case", SIGNER_CASES)
def test_all_replicas_accepts_exactly_the_ids_0_to_n_minus_1(case: str) -> None:
    signers, valid = SIGNER_SETS[case]
    assert pbft.all_replicas(CONFIG, signers) is valid


def prepared_certificate_signed_by(signers: frozenset[int]) -> PreparedCertificate:
    return certificate(at_height(1), view=0, prepares=signers)


def commit_certificate_signed_by(signers: frozenset[int]) -> CommitCertificate:
    return CommitCertificate(0, 1, DIGESTS[0], signers)


def checkpoint_certificate_signed_by(signers: frozenset[int]) -> CheckpointCertificate:
    return replace(STABLE_AT_2, signers=signers)


@pytest.mark.parametrize("case", SIGNER_CASES)
def test_certificate_validity_follows_the_signer_ids(case: str) -> None:
    signers, valid = SIGNER_SETS[case]
    assert pbft.prepared_certificate_is_valid(CONFIG, prepared_certificate_signed_by(signers), 1) is valid
    assert pbft.commit_certificate_is_valid(CONFIG, commit_certificate_signed_by(signers), at_height(1)) is valid
    assert pbft.checkpoint_certificate_is_valid(CONFIG, checkpoint_certificate_signed_by(signers)) is valid


def counts_view_change(message: ViewChange) -> bool:
    """Does the primary of view 1 (replica 1, fresh) count `message`?"""
    before = initial_replica_state(CONFIG, 1, CLOCK)
    after, outputs, _ = pbft.step(CONFIG, before, message)
    counted = after.view_changes == (message,)
    assert counted or (after == before and outputs == ())
    return counted


def executes_block_response(certificate: CommitCertificate) -> bool:
    """Does a fresh replica 3 execute block 1 sent with `certificate`?"""
    before = initial_replica_state(CONFIG, 3, CLOCK)
    after, outputs, _ = pbft.step(CONFIG, before, BlockResponse(at_height(1), certificate, 3, 0))
    executed = after.executed == (DIGESTS[0],)
    assert executed or (after == before and outputs == ())
    return executed


@pytest.mark.parametrize("case", SIGNER_CASES)
def test_a_replica_uses_a_certificate_only_if_every_signer_is_a_replica(case: str) -> None:
    """Through `step`: a view change carrying the prepared certificate or the
    checkpoint certificate is counted, a block response with the commit
    certificate is executed, exactly when the signers are valid."""
    signers, valid = SIGNER_SETS[case]
    with_prepared = ViewChange(1, GENESIS_CHECKPOINT, (prepared_certificate_signed_by(signers),), 2)
    with_checkpoint = ViewChange(1, checkpoint_certificate_signed_by(signers), (), 2)
    assert counts_view_change(with_prepared) is valid
    assert counts_view_change(with_checkpoint) is valid
    assert executes_block_response(commit_certificate_signed_by(signers)) is valid


def signer_verdicts() -> dict[str, tuple[bool, bool, bool]]:
    """For each signer set, whether a view change with either certificate is counted and a block response executed."""
    verdicts: dict[str, tuple[bool, bool, bool]] = {}
    for case, (signers, _) in SIGNER_SETS.items():
        verdicts[case] = (
            counts_view_change(ViewChange(1, GENESIS_CHECKPOINT, (prepared_certificate_signed_by(signers),), 2)),
            counts_view_change(ViewChange(1, checkpoint_certificate_signed_by(signers), (), 2)),
            executes_block_response(commit_certificate_signed_by(signers)),
        )
    return verdicts


def test_negative_control_replica_n_taken_for_a_replica_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The off-by-one `replica > config.n`: a certificate with quorum-1 real signers passes."""
    assert signer_verdicts()["quorum-1 replicas and replica N"] == (False, False, False)

    def off_by_one(config: Any, replicas: frozenset[int]) -> bool:
        return all(0 <= replica <= config.n for replica in replicas)

    monkeypatch.setattr(pbft, "all_replicas", off_by_one)
    assert signer_verdicts()["quorum-1 replicas and replica N"] == (True, True, True)
    assert "the checkpoint signed by replica N" in accepted_tamperings()


# === 3. NEW-VIEW proposals re-propose every consecutive prepared height ===================================
def view_changes_carrying(*carried: tuple[PreparedCertificate, ...]) -> tuple[ViewChange, ...]:
    """View changes for view 1 from replicas 0, 2 and 3, the first carrying
    `carried[0]`, the next `carried[1]`, ...; the rest carry nothing."""
    senders = (0, 2, 3)
    prepared = list(carried) + [()] * (len(senders) - len(carried))
    return tuple(ViewChange(1, GENESIS_CHECKPOINT, prepared[i], sender) for i, sender in enumerate(senders))


def proposed_blocks(view_changes: tuple[ViewChange, ...]) -> list[tuple[int, Block]]:
    """(height, block) of each proposal `new_view_proposals` computes, checking that
    every ordering of the view changes gives the same answer."""
    answers = {pbft.new_view_proposals(CONFIG, 1, ordering) for ordering in itertools.permutations(view_changes)}
    assert len(answers) == 1, "the proposals depend on the order of the view changes"
    checkpoint, proposals = answers.pop()
    assert checkpoint == GENESIS_CHECKPOINT
    for pre_prepare in proposals:
        assert (pre_prepare.view, pre_prepare.sender, pre_prepare.digest) == (1, 1, block_hash(pre_prepare.block.header))
    return [(pre_prepare.height, pre_prepare.block) for pre_prepare in proposals]


def test_two_consecutive_prepared_heights_are_both_re_proposed() -> None:
    carried = (certificate(at_height(1)), certificate(at_height(2)))
    assert proposed_blocks(view_changes_carrying(carried)) == [(1, at_height(1)), (2, at_height(2))]


def test_three_consecutive_prepared_heights_are_all_re_proposed() -> None:
    carried = (certificate(at_height(1)), certificate(at_height(2)), certificate(at_height(3)))
    assert proposed_blocks(view_changes_carrying(carried)) == [(h, at_height(h)) for h in (1, 2, 3)]


def test_consecutive_heights_from_different_view_changes_are_all_re_proposed() -> None:
    view_changes = view_changes_carrying(
        (certificate(at_height(1)),), (certificate(at_height(2)), certificate(at_height(3)))
    )
    assert proposed_blocks(view_changes) == [(h, at_height(h)) for h in (1, 2, 3)]


def test_re_proposals_stop_at_the_first_height_no_certificate_covers() -> None:
    carried = (certificate(at_height(1)), certificate(at_height(3)))
    assert proposed_blocks(view_changes_carrying(carried)) == [(1, at_height(1))]
    assert proposed_blocks(view_changes_carrying((certificate(at_height(2)),))) == []


def test_at_each_height_the_certificate_from_the_highest_view_wins() -> None:
    """Height 2 is prepared in view 0 with one block and in view 1 with another:
    the view-1 block is re-proposed, and heights 1 and 3 are kept around it."""
    other_at_2 = block_on(LEDGERS[0], REQUESTS[4].transactions, proposer=SPROUT)
    view_changes = view_changes_carrying(
        (certificate(at_height(1)), certificate(at_height(2), view=0), certificate(at_height(3))),
        (certificate(at_height(1)), certificate(other_at_2, view=1)),
    )
    view_changes = tuple(replace(vc, new_view=2) for vc in view_changes)
    answers = {pbft.new_view_proposals(CONFIG, 2, ordering) for ordering in itertools.permutations(view_changes)}
    assert len(answers) == 1
    _, proposals = answers.pop()
    assert [(p.height, p.block) for p in proposals] == [(1, at_height(1)), (2, other_at_2), (3, at_height(3))]


def test_re_proposals_above_a_stable_checkpoint_cover_every_consecutive_height() -> None:
    assert pbft.new_view_proposals(CONFIG, 1, VIEW_CHANGES_TO_1) == (NEW_VIEW_1.checkpoint, NEW_VIEW_1.proposals)


def height_2_prepared_everywhere_but_committed_only_at_replica_0() -> list[ReplicaState]:
    """Two requests at every replica; the commits for height 2 reach replica 0 only.
    Replica 0 executes both blocks; the others execute height 1 and hold a
    prepared certificate for height 2 (and still the one for height 1)."""

    def drop(message: Message, recipient: int) -> bool:
        return isinstance(message, Commit) and message.height == 2 and recipient != 0

    states, _ = run(CONFIG, fresh_replicas(), REQUESTS[:2], drop=drop)
    assert [state.height for state in states] == [2, 1, 1, 1]
    return states


def view_change_without_block_requests() -> tuple[list[ReplicaState], list[Message]]:
    """Replicas 1, 2 and 3 time out; deliver everything but their block requests (the
    view change alone must carry the committed block): the states and every message sent."""
    states = height_2_prepared_everywhere_but_committed_only_at_replica_0()
    outputs: list[Message] = []
    for replica in (1, 2, 3):
        states[replica], more, _ = fire(CONFIG, states[replica], Timer.VIEW_CHANGE)
        outputs.extend(more)
    return deliver_all(CONFIG, states, outputs, drop=dropping(BlockRequest))


def digests_executed_after_a_view_change() -> list[tuple[str, ...]]:
    """What each replica executed in `view_change_without_block_requests`."""
    states, sent = view_change_without_block_requests()
    assert len(of_type(sent, NewView)) == 1
    return [state.executed for state in states]


def test_a_block_committed_at_one_replica_is_re_proposed_at_its_height_and_executed_everywhere() -> None:
    """Agreement through a view change: replica 0 committed height 2, so the new
    view must re-propose that very block there (a fresh block at height 2 would
    fork replica 0 from the others)."""
    committed = height_2_prepared_everywhere_but_committed_only_at_replica_0()[0].executed
    assert digests_executed_after_a_view_change() == [committed] * 4


def only_the_first_re_proposal(original: Callable[..., Any]) -> Callable[..., Any]:
    def proposals(config: Any, view: int, view_changes: tuple[ViewChange, ...]) -> Any:
        checkpoint, computed = original(config, view, view_changes)
        return checkpoint, computed[:1]

    return proposals


def test_negative_control_re_proposing_only_the_first_height_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pbft, "new_view_proposals", only_the_first_re_proposal(pbft.new_view_proposals))
    with pytest.raises(AssertionError):
        test_two_consecutive_prepared_heights_are_both_re_proposed()
    with pytest.raises(AssertionError):
        test_consecutive_heights_from_different_view_changes_are_all_re_proposed()
    executed = digests_executed_after_a_view_change()
    assert executed[0] != executed[1], "replica 0 and the others forked"


def votes_after_the_view_change() -> dict[int, set[tuple[str, int, int]]]:
    """The view-1 votes each replica sends in `digests_executed_after_a_view_change`'s
    scenario: replica -> {(PREPARE or COMMIT, view, height)}."""
    _, sent = view_change_without_block_requests()
    votes: dict[int, set[tuple[str, int, int]]] = {replica: set() for replica in range(N)}
    for message in sent:
        if isinstance(message, Prepare | Commit) and message.view == 1:
            votes[message.sender].add((type(message).__name__.upper(), message.view, message.height))
    return votes


def test_a_replica_votes_again_for_every_re_proposed_block_it_executed_not_only_its_last() -> None:
    """Replica 0 executed heights 1 and 2, the others height 1; the NEW-VIEW re-proposes
    both. Each replica votes in view 1 for every re-proposed block it executed (a
    replica that had not executed one needs those votes to commit it): replica 0 for
    heights 1 and 2, the others for height 1, and for height 2 as they prepare it.
    The new primary (replica 1) prepares by its NEW-VIEW, so it sends no PREPARE."""
    votes = votes_after_the_view_change()
    both = {(kind, 1, height) for kind in ("PREPARE", "COMMIT") for height in (1, 2)}
    assert votes[0] == both
    assert votes[1] == {("COMMIT", 1, 1), ("COMMIT", 1, 2)}
    assert votes[2] == votes[3] == both


# === 4. a replica keeps a prepared certificate for every height above its stable checkpoint ==========================
def test_record_prepared_keeps_one_certificate_per_height_in_height_order() -> None:
    at_1, at_2, at_3 = (certificate(at_height(h)) for h in (1, 2, 3))
    at_2_later = certificate(at_height(2), view=1)
    assert pbft.record_prepared((), at_1) == (at_1,)
    assert pbft.record_prepared((at_1,), at_2) == (at_1, at_2)
    assert pbft.record_prepared((at_1, at_2), at_3) == (at_1, at_2, at_3)
    assert pbft.record_prepared((at_1, at_3), at_2) == (at_1, at_2, at_3)
    assert pbft.record_prepared((at_1, at_2, at_3), at_2_later) == (at_1, at_2_later, at_3)


def prepared_heights_in_view_changes() -> list[list[int]]:
    """The heights of the certificates each of replicas 1, 2 and 3 carries in its VIEW-CHANGE."""
    states = height_2_prepared_everywhere_but_committed_only_at_replica_0()
    carried: list[list[int]] = []
    for replica in (1, 2, 3):
        _, outputs, _ = fire(CONFIG, states[replica], Timer.VIEW_CHANGE)
        (view_change,) = of_type(outputs, ViewChange)
        carried.append([c.pre_prepare.height for c in view_change.prepared])
    return carried


def test_a_view_change_carries_every_height_its_sender_prepared() -> None:
    """Height 1 was prepared and executed, height 2 prepared: with no stable
    checkpoint yet, the view change carries both."""
    assert prepared_heights_in_view_changes() == [[1, 2]] * 3


def test_negative_control_keeping_only_the_newest_certificate_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pbft, "record_prepared", lambda prepared, certificate: (certificate,))
    assert prepared_heights_in_view_changes() == [[2]] * 3
    executed = digests_executed_after_a_view_change()
    assert executed[0] != executed[1], "height 1 is no longer re-proposed, so height 2 is not either: a fork"


# === 5. installing a NEW-VIEW adopts its checkpoint ================================================================
def test_a_backup_installing_a_new_view_adopts_its_checkpoint() -> None:
    state, _, _ = pbft.step(CONFIG, receiver(), NEW_VIEW_1)
    assert state.stable == STABLE_AT_2
    assert state.known_height >= 2
    _, outputs, _ = fire(CONFIG, state, Timer.FETCH)
    assert outputs == (BlockRequest(1, 2),), "it is behind the checkpoint, so it fetches"


def test_the_new_primary_installing_its_own_new_view_adopts_its_checkpoint() -> None:
    """Replica 1 joins view 1 on two view changes, completes a quorum with its own
    and sends the NEW-VIEW: it adopts the checkpoint at 2 that the others carried."""
    state = initial_replica_state(CONFIG, 1, CLOCK)
    outputs: tuple[Message, ...] = ()
    for view_change in VIEW_CHANGES_TO_1[:2]:
        state, outputs, _ = pbft.step(CONFIG, state, view_change)
    (new_view,) = of_type(outputs, NewView)
    assert new_view.checkpoint == STABLE_AT_2
    assert (state.view, state.active) == (1, True)
    assert state.stable == STABLE_AT_2
    assert state.known_height >= 2


def test_negative_control_a_new_view_installed_without_its_checkpoint_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = pbft.install_new_view

    def install_keeping_own_checkpoint(config: Any, state: ReplicaState, message: NewView) -> Any:
        return original(config, state, replace(message, checkpoint=state.stable))

    monkeypatch.setattr(pbft, "install_new_view", install_keeping_own_checkpoint)
    with pytest.raises(AssertionError):
        test_a_backup_installing_a_new_view_adopts_its_checkpoint()
    with pytest.raises(AssertionError):
        test_the_new_primary_installing_its_own_new_view_adopts_its_checkpoint()


# === 6. proposals only within the watermarks, and none for a height known to exist ========================
def proposes(state: ReplicaState, request: ClientRequest) -> tuple[ReplicaState, list[PrePrepare]]:
    state, outputs, _ = pbft.step(CONFIG, state, request)
    return state, of_type(outputs, PrePrepare)


# The primary's own proposal passes the same `pre_prepare_refusal` as a backup's
# (`maybe_propose` asks it before announcing), watermarks included. What is
# observable, and pinned here, is the rule they share, at both of its bounds, for
# the primary and for a backup.
def replicas_at_height(height: int) -> list[ReplicaState]:
    """Every replica after `height` blocks, no checkpoint vote delivered anywhere (stable stays 0)."""
    states, _ = run(CONFIG, fresh_replicas(), REQUESTS[:height], to={0}, drop=dropping(Checkpoint))
    assert [state.height for state in states] == [height] * 4
    assert all(state.stable == GENESIS_CHECKPOINT for state in states)
    return states


def primary_at_height(height: int) -> ReplicaState:
    return replicas_at_height(height)[0]


def test_the_primary_proposes_at_exactly_the_high_watermark() -> None:
    assert CONFIG.watermark_window == 4
    _, proposed = proposes(primary_at_height(3), REQUESTS[3])
    assert [p.height for p in proposed] == [4]


def test_the_primary_at_the_high_watermark_holds_requests_until_a_checkpoint_is_stable() -> None:
    state, proposed = proposes(primary_at_height(4), REQUESTS[4])
    assert proposed == [] and state.slot is None
    assert state.pending == (REQUESTS[4].transactions,)
    root = state_root(state.ledger)  # not the height-2 root, but the votes only need to match each other
    state, outputs, _ = pbft.step(CONFIG, state, Checkpoint(2, root, 1))
    assert outputs == ()
    state, outputs, _ = pbft.step(CONFIG, state, Checkpoint(2, root, 2))
    state, outputs, _ = pbft.step(CONFIG, state, Checkpoint(2, root, 3))
    assert state.stable.height == 2
    assert [(p.height, p.block.transactions) for p in of_type(outputs, PrePrepare)] == [
        (5, REQUESTS[4].transactions)
    ]


def test_a_backup_at_the_high_watermark_prepares_the_next_height_only_once_a_checkpoint_is_stable() -> None:
    backup_at_4 = replicas_at_height(4)[1]
    fifth = proposal(block_on(backup_at_4.ledger, REQUESTS[4].transactions))
    assert not prepares_it(CONFIG, backup_at_4, fifth)
    (own_vote,) = [vote for vote in backup_at_4.checkpoint_votes if vote.height == 2]
    state = backup_at_4
    for sender in (0, 2):
        state, _, _ = pbft.step(CONFIG, state, replace(own_vote, sender=sender))
    assert state.stable.height == 2
    assert prepares_it(CONFIG, state, fifth)


@pytest.mark.parametrize("height", [0, 1])
def test_a_replica_does_not_prepare_at_or_below_its_stable_checkpoint(height: int) -> None:
    """Replica 2, at height 0 or 1, adopts the checkpoint at 2 from NEW_VIEW_1. Its
    next height is decided (it must fetch it): a pre-prepare for it in the new view
    is refused, below the checkpoint or exactly at it, so no prepared certificate at
    or below the checkpoint can enter its view changes."""
    states, _ = run(CONFIG, fresh_replicas(), REQUESTS[:height])
    state, _, _ = pbft.step(CONFIG, states[2], NEW_VIEW_1)
    assert (state.view, state.active, state.height, state.stable.height) == (1, True, height, 2)
    next_block = block_on(state.ledger, REQUESTS[height].transactions)
    pre_prepare = proposal(next_block, view=1)
    assert pre_prepare.height == height + 1 <= state.stable.height
    assert not prepares_it(CONFIG, state, pre_prepare)
    assert_ignored(CONFIG, state, pre_prepare)
    # control: after a NEW-VIEW that carries no checkpoint, the same pre-prepare is prepared
    bare_view_changes = tuple(ViewChange(1, GENESIS_CHECKPOINT, (), sender) for sender in (0, 2, 3))
    without_checkpoint, _, _ = pbft.step(CONFIG, states[2], NewView(1, bare_view_changes, GENESIS_CHECKPOINT, (), 1))
    assert (without_checkpoint.view, without_checkpoint.active, without_checkpoint.stable.height) == (1, True, 0)
    assert prepares_it(CONFIG, without_checkpoint, pre_prepare)


def primary_at_height_1_told_height_2_exists(votes: int) -> ReplicaState:
    """The primary after one block, then `votes` matching checkpoint votes for height 2 from other replicas."""
    states, _ = run(CONFIG, fresh_replicas(), [REQUEST], to={0})
    state = states[0]
    for sender in (1, 2)[:votes]:
        state, _, _ = pbft.step(CONFIG, state, Checkpoint(2, ROOT_A, sender))
    return state


def test_a_primary_that_knows_the_next_height_exists_does_not_propose_for_it() -> None:
    """f + 1 = 2 matching votes for height 2 include a correct replica: height 2 is
    decided elsewhere, and a fresh block there would conflict with it."""
    told = primary_at_height_1_told_height_2_exists(votes=2)
    assert (told.height, told.known_height, told.stable.height) == (1, 2, 0)
    assert proposes(told, REQUESTS[1])[1] == []


def test_a_primary_told_by_a_single_vote_still_proposes() -> None:
    """Control for the test above: one vote may be a faulty replica's."""
    told = primary_at_height_1_told_height_2_exists(votes=1)
    assert told.known_height == 0
    assert [p.height for p in proposes(told, REQUESTS[1])[1]] == [2]


# === 7. a correct primary proposes creations before settlements ============================================
WIDE = make_config(max_block_transactions=12)
"""Blocks wide enough for every request below at once."""

TASK_PAIR = pair(task_id="task-ordered", cost=100 * ATP)
ORDERED_REQUESTS: dict[str, tuple[AnyTransaction, ...]] = {
    "balance set": (balance_set("set-dave", agent=DAVE, balance=2_000 * ATP),),
    "plain lock to be committed": (lock("transfer-paid", ALICE, BOB, amount=10 * ATP),),
    "plain lock to be rolled back": (lock("transfer-returned", DAVE, ERIN, amount=10 * ATP),),
    "task and its lock": TASK_PAIR,
    "second task and its lock": pair(task_id="task-ordered-4", cost=100 * ATP),
    "proof of the task": (proof("task-ordered", BOB, quality_bp=8_500),),
    # its hash sorts after the commit's and the rollback's: proofs before settlements
    # is the rank, not an accident of the hashes
    "proof of the second task": (proof("task-ordered-4", BOB, quality_bp=8_500),),
    "commit": (commit("transfer-paid", THOR),),
    "rollback": (rollback("transfer-returned", THOR),),
    "reputation update": (reputation("update-ordered", "task-ordered", SPROUT, quality_bp=8_500),),
}
RANKED_GROUPS = (
    # the proposal policy, restated: groups in this order, requests within a group by transaction hash
    ("balance set",),
    ("plain lock to be committed", "plain lock to be rolled back", "task and its lock", "second task and its lock"),
    ("proof of the task", "proof of the second task"),
    ("commit", "rollback"),
    ("reputation update",),
)


def expected_proposal_order() -> list[tuple[AnyTransaction, ...]]:
    ordered: list[tuple[AnyTransaction, ...]] = []
    for group in RANKED_GROUPS:
        requests = [ORDERED_REQUESTS[name] for name in group]
        ordered.extend(sorted(requests, key=lambda request: transaction_hash(request[0])))
    return ordered


def test_every_transaction_type_has_a_place_in_the_policy() -> None:
    types = {request[0].type for request in ORDERED_REQUESTS.values()}
    assert types == set(pbft.PROPOSAL_RANK)
    assert sorted(name for group in RANKED_GROUPS for name in group) == sorted(ORDERED_REQUESTS)


@pytest.mark.parametrize("arrival", ["in policy order reversed", "in policy order", "as listed"])
def test_a_backup_keeps_pending_requests_in_proposal_order(arrival: str) -> None:
    """Whatever order they arrive in (ties are broken by hash, not by arrival)."""
    requests = {
        "in policy order reversed": expected_proposal_order()[::-1],
        "in policy order": expected_proposal_order(),
        "as listed": list(ORDERED_REQUESTS.values()),
    }[arrival]
    state = initial_replica_state(WIDE, 1, CLOCK)
    for request in requests:
        state, _, _ = pbft.step(WIDE, state, ClientRequest(request))
    assert list(state.pending) == expected_proposal_order()


def block_proposed_after_a_busy_slot() -> tuple[Block, list[ResultCode]]:
    """The primary proposes REQUESTS[4] at once; while that block is in flight every
    request of ORDERED_REQUESTS arrives, in the reverse of the policy's order. Its
    next block carries them all: that block, and the result code of each of its
    transactions."""
    states = fresh_replicas(WIDE)
    states, outputs = submit(WIDE, states, REQUESTS[4], to={0})
    for request in expected_proposal_order()[::-1]:
        states, more = submit(WIDE, states, ClientRequest(request), to={0})
        assert more == [], "the primary's slot is busy"
    states, _ = deliver_all(WIDE, states, outputs)
    assert [state.height for state in states] == [2, 2, 2, 2]
    first, second = states[0].blocks
    after_first, _ = apply_block(WIDE.chain, WIDE.genesis_state, first)
    _, receipt = apply_block(WIDE.chain, after_first, second)
    return second, [r.code for r in receipt.transactions]


def test_a_correct_primary_proposes_creations_first_and_every_transaction_applies() -> None:
    block, codes = block_proposed_after_a_busy_slot()
    expected = [tx for request in expected_proposal_order() for tx in request]
    assert list(block.transactions) == expected
    assert codes == [ResultCode.OK] * len(expected), "the task before its proof, each lock before its settlement"


@pytest.mark.parametrize(
    ("kind", "rank"),
    [("EXECUTION_PROOF", 1), ("EXECUTION_PROOF", 0), ("ATP_TRANSFER_COMMIT", 1), ("REPUTATION_UPDATE", 2), ("BALANCE_SET", 4)],
)
def test_negative_control_a_changed_rank_is_caught(kind: str, rank: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pbft.PROPOSAL_RANK, kind, rank)
    with pytest.raises(AssertionError):
        test_a_correct_primary_proposes_creations_first_and_every_transaction_applies()
    with pytest.raises(AssertionError):
        test_a_backup_keeps_pending_requests_in_proposal_order("as listed")


def test_negative_control_ties_broken_by_arrival_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the hash, sorting keeps ties in arrival order: reversed arrival shows it."""
    monkeypatch.setattr(pbft, "proposal_order", lambda request: (pbft.PROPOSAL_RANK[request[0].type], ""))
    test_a_backup_keeps_pending_requests_in_proposal_order("in policy order")
    with pytest.raises(AssertionError):
        test_a_backup_keeps_pending_requests_in_proposal_order("in policy order reversed")


# === 8. values: every message, input and state is immutable, and fingerprinted ===========================
def one_of_each() -> dict[type, Any]:
    """An instance of every dataclass of `spec.pbft`."""
    block = at_height(1)
    commit_certificate = CommitCertificate(0, 1, DIGESTS[0], frozenset({0, 1, 2}))
    return {
        pbft.ConsensusConfig: CONFIG,
        PrePrepare: proposal(block),
        Prepare: Prepare(0, 1, DIGESTS[0], 1),
        Commit: Commit(0, 1, DIGESTS[0], 1),
        Checkpoint: Checkpoint(2, ROOT_A, 0),
        PreparedCertificate: certificate(block),
        CommitCertificate: commit_certificate,
        CheckpointCertificate: STABLE_AT_2,
        ViewChange: VIEW_CHANGES_TO_1[0],
        NewView: NEW_VIEW_1,
        BlockRequest: BlockRequest(1, 3),
        BlockResponse: BlockResponse(block, commit_certificate, 3, 0),
        ClientRequest: REQUEST,
        pbft.TimerFired: pbft.TimerFired(Timer.FETCH, CLOCK),
        Slot: Slot(proposal(block), frozenset({0, 2}), frozenset()),
        ReplicaState: initial_replica_state(CONFIG, 2, CLOCK),
    }


def test_every_message_input_and_state_is_immutable() -> None:
    """A replica keeps the messages it received and the model checker keeps states in
    sets: none may change after it is made. Every field of every one refuses assignment."""
    examples = one_of_each()
    declared = {
        value
        for module in (pbft, messages)
        for value in vars(module).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
    }
    assert set(examples) == declared
    for kind, example in examples.items():
        for field in dataclasses.fields(kind):
            if field.init:
                with pytest.raises(dataclasses.FrozenInstanceError):
                    setattr(example, field.name, getattr(example, field.name))


# === 8b. fingerprints: the checker's remembered hashes cover every compared field =====================================
# The spec's classes hash as `dataclass` makes them; the model checker installs its own
# remembered hashes on them (`checker.accelerate`) and fingerprints worlds by those. A
# compared field those hashes missed would merge distinct worlds, so every test below
# runs under the checker's hashes (`checker_hashes`).
NOT_IN_THE_FINGERPRINT: dict[type, set[str]] = {
    ReplicaState: {"ledger", "blocks"},  # functions of `executed`
    ViewChange: set(),
    NewView: set(),
    ClientRequest: set(),
}

VIEW_CHANGE = VIEW_CHANGES_TO_1[0]

BASES: dict[type, Any] = {
    ReplicaState: initial_replica_state(CONFIG, 2, CLOCK),
    ViewChange: VIEW_CHANGE,
    NewView: NEW_VIEW_1,
    ClientRequest: REQUEST,
}

OTHER_VALUES: dict[type, dict[str, Any]] = {
    ReplicaState: {
        "replica": 3,
        "view": 1,
        "active": False,
        "clock_ms": CLOCK + 1,
        "executed": (DIGESTS[0],),
        "commit_certificates": (CommitCertificate(0, 1, DIGESTS[0], frozenset({0, 1, 2})),),
        "pending": (REQUEST.transactions,),
        "slot": Slot(proposal(at_height(1)), frozenset({0, 2}), frozenset()),
        "prepared": (certificate(at_height(1)),),
        "stable": STABLE_AT_2,
        "checkpoint_votes": (Checkpoint(2, ROOT_A, 0),),
        "view_changes": (VIEW_CHANGE,),
        "view_change_senders": frozenset({(1, 3)}),
        "view_proposals": (proposal(at_height(1), view=1),),
        "known_height": 2,
    },
    ViewChange: {
        "new_view": 2,
        "checkpoint": GENESIS_CHECKPOINT,
        "prepared": (),
        "sender": 3,
    },
    NewView: {
        "view": 5,
        "view_changes": VIEW_CHANGES_TO_1[:2],
        "checkpoint": GENESIS_CHECKPOINT,
        "proposals": NEW_VIEW_1.proposals[:1],
        "sender": 2,
    },
    ClientRequest: {
        "transactions": REQUESTS[1].transactions,
    },
}


def fields_the_hash_misses(kind: type) -> list[str]:
    """The fields of `kind` whose change leaves the hash of BASES[kind] unchanged.
    Enumerates every dataclass field: one with no other value listed counts as missed."""
    base = BASES[kind]
    missed: list[str] = []
    for field in dataclasses.fields(kind):
        if field.name in NOT_IN_THE_FINGERPRINT[kind]:
            continue
        if field.name not in OTHER_VALUES[kind]:
            missed.append(field.name)
            continue
        changed = replace(base, **{field.name: OTHER_VALUES[kind][field.name]})
        assert changed != base, f"{kind.__name__}.{field.name}: the other value is not other"
        if hash(changed) == hash(base):
            missed.append(field.name)
    return missed


@pytest.fixture
def checker_hashes() -> None:
    """The model checker's hashes in place, as every search has them."""
    accelerate.install()
    assert all(accelerate.installed_hash(kind) is not None for kind in BASES)


@pytest.mark.parametrize("kind", list(BASES), ids=lambda kind: kind.__name__)
def test_changing_any_one_field_changes_the_fingerprint(kind: type, checker_hashes: None) -> None:
    assert fields_the_hash_misses(kind) == []


@pytest.mark.parametrize("kind", list(BASES), ids=lambda kind: kind.__name__)
def test_the_fields_left_out_of_the_fingerprint_are_left_out_of_equality_too(kind: type) -> None:
    left_out = NOT_IN_THE_FINGERPRINT[kind]
    assert {f.name for f in dataclasses.fields(kind) if not f.compare} == left_out


@pytest.mark.parametrize("kind", list(BASES), ids=lambda kind: kind.__name__)
def test_equal_values_have_equal_fingerprints(kind: type, checker_hashes: None) -> None:
    base = BASES[kind]
    copy = replace(base)
    assert copy == base and hash(copy) == hash(base)


def test_two_replica_states_differing_only_in_ledger_objects_are_one_state(checker_hashes: None) -> None:
    """ledger and blocks follow from `executed`: states with equal fields but distinct objects for them are equal."""
    base = BASES[ReplicaState]
    rebuilt = replace(base, ledger=copy_state(base.ledger), blocks=tuple(base.blocks))
    assert rebuilt.ledger is not base.ledger
    assert rebuilt == base and hash(rebuilt) == hash(base)


def test_negative_control_a_fingerprint_without_pending_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A remembered hash of the checker's kind over every compared field but the
    pending requests (what a hash of requests by a key of their own could come to)."""

    def hash_without_pending(state: ReplicaState) -> int:
        return hash(
            tuple(
                getattr(state, f.name)
                for f in dataclasses.fields(ReplicaState)
                if f.compare and f.name != "pending"
            )
        )

    monkeypatch.setattr(ReplicaState, "__hash__", accelerate.remembering_hash(hash_without_pending))
    assert fields_the_hash_misses(ReplicaState) == ["pending"]


def test_negative_control_a_field_with_no_other_value_listed_counts_as_missed(
    monkeypatch: pytest.MonkeyPatch, checker_hashes: None
) -> None:
    """So a field added to ReplicaState fails the test until it is listed (and hashed)."""
    monkeypatch.delitem(OTHER_VALUES[ReplicaState], "known_height")
    assert fields_the_hash_misses(ReplicaState) == ["known_height"]


# === 9. values, not objects: a group past view and height 256, every message decoded afresh ================
# CPython shares one object for each int from -5 to 256, so below 257 a comparison by
# identity (`is`) happens to agree with one by value (`==`). A real node decodes every
# message from the wire: its numbers are equal to the replica's own, never the same
# objects. This group runs at views and heights above 256, and every message it
# passes is rebuilt field by field first, as a decoder would.
START = 300
"""The height (and view) the group starts from."""


def from_the_wire(value: Any) -> Any:
    """`value` as decoded from the wire: equal, but sharing no int, str or block with the original."""
    if isinstance(value, bool) or value is None or isinstance(value, pbft.Timer):
        return value
    if isinstance(value, int):
        return int(str(value))
    if isinstance(value, str):
        return "".join(list(value))
    if isinstance(value, tuple):
        return tuple(from_the_wire(item) for item in value)
    if isinstance(value, frozenset):
        return frozenset(from_the_wire(item) for item in value)
    if isinstance(value, BaseModel):  # a block or a transaction: its fields, each decoded afresh
        return type(value).model_validate({name: from_the_wire(item) for name, item in value})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: from_the_wire(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return type(value)(**fields)
    raise TypeError(f"from_the_wire: {type(value).__name__}")


def over_the_wire(config: Any, state: ReplicaState, event: Any) -> StepResult:
    copy = from_the_wire(event)
    assert copy == event
    return pbft.step(config, state, copy)


def replicas_restarted_at(height: int, view: int) -> list[ReplicaState]:
    """Four replicas in `view` that have executed `height` blocks and hold a stable
    checkpoint there, as after a restart from a snapshot: the ledger is the genesis
    ledger moved to `height`; the earlier blocks and their certificates are
    placeholders (none is asked for)."""
    ledger = replace(copy_state(GENESIS_LEDGER), height=height, last_block_hash="ab" * 32)
    stable = CheckpointCertificate(height, state_root(ledger), frozenset({0, 1, 2}))
    placeholder_block = block_on(GENESIS_LEDGER, ())
    placeholder = CommitCertificate(0, 1, block_hash(placeholder_block.header), frozenset({0, 1, 2}))
    states = []
    for replica in range(N):
        state = initial_replica_state(CONFIG, replica, CLOCK)
        states.append(replace(
            state, view=view, ledger=ledger, executed=(placeholder.digest,) * height, blocks=(placeholder_block,) * height,
            commit_certificates=(placeholder,) * height, stable=stable, known_height=height,
        ))
    return states


def test_a_group_past_256_agrees_on_values_through_normal_case_view_change_and_catch_up() -> None:
    states = replicas_restarted_at(START, START)
    assert primary_of(START, N) == 0
    # normal case: three blocks, a checkpoint at START + 2
    states, sent = run(CONFIG, states, REQUESTS[:3], to={0}, stepper=over_the_wire)
    assert [state.height for state in states] == [START + 3] * N
    assert [state.stable.height for state in states] == [START + 2] * N
    assert len({state_root(state.ledger) for state in states}) == 1
    assert len(of_type(sent, Prepare)) == 3 * (N - 1) and len(of_type(sent, Commit)) == 3 * N
    # a view change: the next block is prepared everywhere, committed nowhere
    states, sent = run(CONFIG, states, REQUESTS[3:4], drop=dropping(Commit), stepper=over_the_wire)
    (prepared,) = of_type(sent, PrePrepare)
    assert [len(state.prepared) for state in states] == [2] * N
    outputs: list[Message] = []
    for replica in (1, 2, 3):
        states[replica], more, _ = over_the_wire(CONFIG, states[replica], pbft.TimerFired(Timer.VIEW_CHANGE, CLOCK))
        outputs.extend(more)
    states, sent = deliver_all(CONFIG, states, outputs, drop=dropping(BlockRequest), stepper=over_the_wire)
    (new_view,) = of_type(sent, NewView)
    assert [(state.view, state.active) for state in states] == [(START + 1, True)] * N
    assert [state.executed[-1] for state in states] == [prepared.digest] * N
    assert [state.height for state in states] == [START + 4] * N
    assert [state.stable.height for state in states] == [START + 4] * N
    executed = new_view.proposals[0]
    assert executed.height == START + 3
    for replica in range(N):
        assert Commit(START + 1, START + 3, executed.digest, replica) in sent, "a re-vote for the executed block"
    assert [state.view_changes for state in states] == [()] * N, "replica 0's late VIEW-CHANGE is not kept"
    for replica in range(N):
        after, outputs, _ = over_the_wire(CONFIG, states[replica], new_view)
        assert (after, outputs) == (states[replica], ()), "the NEW-VIEW again, once installed, changes nothing"
    # catch-up: replica 3 misses a block and fetches it with its commit certificate
    states, _ = run(CONFIG, states, REQUESTS[4:5], to={1}, reachable={0, 1, 2}, stepper=over_the_wire)
    assert [state.height for state in states] == [START + 5] * 3 + [START + 4]
    request = BlockRequest(START + 5, 3)
    _, (response,), _ = over_the_wire(CONFIG, states[0], request)
    states[3], _, _ = over_the_wire(CONFIG, states[3], response)
    assert states[3].executed == states[0].executed
    assert state_root(states[3].ledger) == state_root(states[0].ledger)


def test_a_primary_waiting_past_view_256_counts_a_view_change_delivered_twice_once() -> None:
    """Replica 1, primary of view START + 1, has sent its own VIEW-CHANGE and received
    replica 2's; replica 2's again, decoded afresh, is no second vote (else two copies
    and its own would make a NEW-VIEW with a sender counted twice)."""
    states = replicas_restarted_at(START, START)
    for replica in (1, 2):
        states[replica], _, _ = over_the_wire(CONFIG, states[replica], REQUEST)
        states[replica], outputs, _ = over_the_wire(CONFIG, states[replica], pbft.TimerFired(Timer.VIEW_CHANGE, CLOCK))
    (view_change,) = of_type(outputs, ViewChange)
    assert view_change.new_view == START + 1
    states[1], outputs, _ = over_the_wire(CONFIG, states[1], view_change)
    assert outputs == () and len(states[1].view_changes) == 2
    after, outputs, _ = over_the_wire(CONFIG, states[1], view_change)
    assert (after, outputs) == (states[1], ())


def test_record_prepared_replaces_the_certificate_at_a_height_past_256() -> None:
    """One certificate per height, the heights compared by value."""
    old = certificate(at_height(1))
    new = certificate(at_height(1), view=1)
    old = replace(old, pre_prepare=replace(old.pre_prepare, height=int("300")))
    new = replace(new, pre_prepare=replace(new.pre_prepare, height=int("300")))
    assert old.pre_prepare.height is not new.pre_prepare.height
    assert pbft.record_prepared((old,), new) == (new,)


# === 10. votes count only for what they name (survivors of the mutation run after the catch-up vote fix) ==========
def prepared_replica_at_height_1() -> tuple[ReplicaState, PrePrepare]:
    """Replica 2, prepared at height 1 in view 0 (three prepares) and holding its own commit."""
    pre_prepare = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions))
    state, _, _ = pbft.step(CONFIG, initial_replica_state(CONFIG, 2, CLOCK), pre_prepare)
    state, outputs, _ = pbft.step(CONFIG, state, Prepare(0, 1, pre_prepare.digest, 1))
    assert Commit(0, 1, pre_prepare.digest, 2) in outputs
    return state, pre_prepare


@pytest.mark.parametrize("height", [0, 2, 3])
def test_a_commit_naming_another_height_does_not_count_for_the_slot(height: int) -> None:
    """A COMMIT with the slot's digest but another height is a vote for another slot:
    counted, a Byzantine replica's vote at height 2 would help commit height 1."""
    state, pre_prepare = prepared_replica_at_height_1()
    assert_ignored(CONFIG, state, Commit(0, height, pre_prepare.digest, 1))
    assert pbft.step(CONFIG, state, Commit(0, height, pre_prepare.digest, 1)).refusal == Refusal.VOTE_FOR_OTHER_HEIGHT
    state, _, _ = pbft.step(CONFIG, state, Commit(0, height, pre_prepare.digest, 3))
    assert state.height == 0 and state.slot is not None and state.slot.commits == frozenset({2})


def test_the_commit_naming_the_slot_does_count() -> None:
    """The positive control of the test above: the same votes at height 1 execute the block."""
    state, pre_prepare = prepared_replica_at_height_1()
    state, _, _ = pbft.step(CONFIG, state, Commit(0, 1, pre_prepare.digest, 1))
    state, _, _ = pbft.step(CONFIG, state, Commit(0, 1, pre_prepare.digest, 3))
    assert state.executed == (pre_prepare.digest,)


def test_checkpoint_votes_for_a_lower_height_do_not_count_toward_a_higher_one() -> None:
    """Two votes for (2, R) and one for (4, R): no checkpoint has a quorum. Counted
    together, (4, R) would become stable on the word of replicas that never said so."""
    state = initial_replica_state(CONFIG, 3, CLOCK)
    for vote in (Checkpoint(2, ROOT_A, 0), Checkpoint(2, ROOT_A, 1), Checkpoint(4, ROOT_A, 2)):
        state, _, _ = pbft.step(CONFIG, state, vote)
    assert state.stable == GENESIS_CHECKPOINT
    assert state.known_height == 2, "f + 1 votes for height 2 show that height 2 exists"
    state, _, _ = pbft.step(CONFIG, state, Checkpoint(4, ROOT_A, 1))
    state, _, _ = pbft.step(CONFIG, state, Checkpoint(4, ROOT_A, 0))
    assert state.stable == CheckpointCertificate(4, ROOT_A, frozenset({0, 1, 2})), "the positive control"


def caught_up_replica(replica: int, view_proposal: PrePrepare) -> ReplicaState:
    """`replica`, active in view 1, whose NEW-VIEW re-proposed `view_proposal` at height 1."""
    state = initial_replica_state(CONFIG, replica, CLOCK)
    return replace(state, view=1, active=True, view_proposals=(view_proposal,))


BLOCK_1 = block_on(GENESIS_LEDGER, REQUEST.transactions)
OTHER_BLOCK_1 = block_on(GENESIS_LEDGER, REQUESTS[1].transactions)


@pytest.mark.parametrize("re_proposed", [BLOCK_1, OTHER_BLOCK_1])
def test_a_caught_up_replica_votes_only_for_the_block_the_new_view_re_proposed(re_proposed: Block) -> None:
    """The block executed by catch-up is not the one the NEW-VIEW re-proposed at its
    height: voting for the re-proposal would be a vote for a block it did not execute.
    (Both orders of the two digests, so that no comparison but equality passes.)"""
    executed = OTHER_BLOCK_1 if re_proposed is BLOCK_1 else BLOCK_1
    state = caught_up_replica(2, proposal(re_proposed, view=1))
    certificate = CommitCertificate(0, 1, block_hash(executed.header), frozenset({0, 1, 2}))
    assert pbft.votes_for_caught_up_proposal(CONFIG, state, certificate) == ()
    same = CommitCertificate(0, 1, block_hash(re_proposed.header), frozenset({0, 1, 2}))
    assert len(pbft.votes_for_caught_up_proposal(CONFIG, state, same)) == 2, "the positive control"


@pytest.mark.parametrize("replica", [0, 1, 2, 3])
def test_every_backup_that_catches_up_prepares_and_commits_and_the_primary_commits(replica: int) -> None:
    """In view 1 (primary 1) a backup below the primary's id votes as one above it does."""
    state = caught_up_replica(replica, proposal(BLOCK_1, view=1))
    digest = block_hash(BLOCK_1.header)
    votes = pbft.votes_for_caught_up_proposal(CONFIG, state, CommitCertificate(0, 1, digest, frozenset({0, 1, 2})))
    expected: tuple[Message, ...] = (Commit(1, 1, digest, replica),)
    if replica != 1:
        expected = (Prepare(1, 1, digest, replica),) + expected
    assert votes == expected
