"""Every PBFT refusal (`spec.refusals.Refusal`), produced from a real replica state.

Each case below is a replica state, reached by driving replicas with the helpers
of tests/test_pbft.py, and an input it must ignore for one named reason. The step
must report that reason, change nothing and send nothing. One test checks that the
cases produce every reason of the enum, and that each (input, reason) pair they
produce is one the table (`REFUSAL_TABLE`) lists; another that inputs a replica
takes, even with nothing to send, report no refusal. The negative controls at the
end break a deciding function and see those checks fail.
"""

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from test_pbft import (
    BAD_LOCK,
    BAD_TASK,
    CLOCK,
    CONFIG,
    GENESIS_LEDGER,
    PRE_PREPARE,
    REQUEST,
    REQUESTS,
    ROOT_A,
    block_on,
    block_response_for_3,
    commit,
    fire,
    fresh_replicas,
    make_config,
    new_view_1,
    prepare,
    proposal,
    run,
    view_changes_to_view_1,
)
from test_pbft_review import replicas_at_height

import checker.trace
import spec.pbft as pbft
from checker.config import CheckerConfig, load_config
from checker.explore import explore
from checker.invariants import Finding
from checker.trace import Trace, render, replay
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.pbft import ConsensusConfig, ReplicaState, StepResult, initial_replica_state, step
from spec.refusals import REFUSAL_TABLE, Refusal, RefusalInfo
from spec.wire.encoding import block_hash
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Input,
    NewView,
    Prepare,
    PrePrepare,
    Timer,
    TimerFired,
    ViewChange,
)

Case = tuple[ConsensusConfig, ReplicaState, Input]

INPUT_KINDS: dict[type, str] = {
    ClientRequest: "client request",
    PrePrepare: "PRE-PREPARE",
    Prepare: "PREPARE",
    Commit: "COMMIT",
    Checkpoint: "CHECKPOINT",
    ViewChange: "VIEW-CHANGE",
    NewView: "NEW-VIEW",
    BlockRequest: "BLOCK-REQUEST",
    BlockResponse: "BLOCK-RESPONSE",
}
"""The names REFUSAL_TABLE gives the inputs."""


# --- replica states ------------------------------------------------------------------------------------
def backup() -> ReplicaState:
    """Replica 1 at the start: view 0, active, nothing pending, no slot."""
    return initial_replica_state(CONFIG, 1, CLOCK)


def with_slot() -> ReplicaState:
    """Replica 1 took the primary's proposal for height 1: prepares {0, 1}."""
    state, outputs, refusal = step(CONFIG, backup(), PRE_PREPARE)
    assert refusal is None and outputs == (prepare(1),)
    return state


def prepared() -> ReplicaState:
    """Replica 1 prepared height 1 (prepares {0, 1, 2}) and committed itself."""
    state, outputs, refusal = step(CONFIG, with_slot(), prepare(2))
    assert refusal is None and outputs == (commit(1),)
    return state


def timed_out(replica: int = 2, times: int = 1) -> ReplicaState:
    """`replica`, holding REQUEST, after its VIEW_CHANGE timer fired `times` times:
    in view `times`, waiting for that view's NEW-VIEW."""
    state, _, _ = step(CONFIG, initial_replica_state(CONFIG, replica, CLOCK), REQUEST)
    for _ in range(times):
        state, _, _ = fire(CONFIG, state, Timer.VIEW_CHANGE)
    assert (state.view, state.active) == (times, False)
    return state


def in_view_1() -> tuple[ReplicaState, NewView, list[ViewChange]]:
    """Replica 2 after installing the NEW-VIEW of view 1 (it took its re-proposal),
    the NEW-VIEW, and the VIEW-CHANGEs of replicas 1, 2 and 3 for view 1."""
    states, _, new_view = new_view_1()
    _, _, view_changes = view_changes_to_view_1()
    state, _, refusal = step(CONFIG, states[2], new_view)
    assert refusal is None and (state.view, state.active) == (1, True) and state.slot is not None
    return state, new_view, view_changes


def in_view_1_given(what: str) -> Case:
    """Replica 2 in view 1 (`in_view_1`), given a VIEW-CHANGE for view 1 (replica 3's),
    its NEW-VIEW again, or a PRE-PREPARE of view 1 with another block for height 1."""
    state, new_view, view_changes = in_view_1()
    inputs: dict[str, Input] = {
        "view change": view_changes[2],
        "new view": new_view,
        "pre-prepare": replace(another_block_at_height_1(), view=1, sender=1),
    }
    return CONFIG, state, inputs[what]


def executed_height_1() -> list[ReplicaState]:
    states, _ = run(CONFIG, fresh_replicas(), [REQUEST])
    assert [state.height for state in states] == [1, 1, 1, 1] and states[1].pending == ()
    return states


# --- the cases -------------------------------------------------------------------------------------------
def another_block_at_height_1() -> PrePrepare:
    return proposal(block_on(GENESIS_LEDGER, REQUESTS[1].transactions))


def pre_prepare_beyond_the_window() -> Case:
    state = replicas_at_height(4)[1]
    assert (state.stable.height, CONFIG.watermark_window) == (0, 4)
    return CONFIG, state, proposal(block_on(state.ledger, REQUESTS[4].transactions))


def new_primary_with_a_view_change() -> tuple[ReplicaState, ViewChange]:
    """Replica 1, primary of view 1, timed out and holding replica 2's VIEW-CHANGE."""
    _, _, view_changes = view_changes_to_view_1()
    state, _, refusal = step(CONFIG, timed_out(1), view_changes[1])
    assert refusal is None
    return state, view_changes[1]


def response_caught_up() -> Case:
    """The lagging replica 3 executed height 1 from a response; the same response again."""
    lagging, _, response = block_response_for_3()
    state, _, refusal = step(CONFIG, lagging, response)
    assert refusal is None and state.height == 1
    return CONFIG, state, response


def response_with_an_invalid_block() -> Case:
    """A response whose commit certificate is well formed for its block, but the block
    does not follow the genesis (a wrong previous hash)."""
    lagging, _, response = block_response_for_3()
    block = block_on(GENESIS_LEDGER, REQUEST.transactions, previous_hash="ab" * 32)
    certificate = CommitCertificate(0, 1, block_hash(block.header), frozenset({0, 1, 2}))
    return CONFIG, lagging, BlockResponse(block, certificate, 3, 0)


CASES: dict[str, tuple[Refusal, Callable[[], Case]]] = {
    # client requests
    "a request already pending": (
        Refusal.REQUEST_ALREADY_PENDING, lambda: (CONFIG, step(CONFIG, backup(), REQUEST).state, REQUEST)),
    "a request already executed": (
        Refusal.REQUEST_ALREADY_EXECUTED, lambda: (CONFIG, executed_height_1()[1], REQUEST)),
    "an empty request": (Refusal.REQUEST_MALFORMED, lambda: (CONFIG, backup(), ClientRequest(()))),
    "an empty request after a block (its shape is asked before its first transaction)": (
        Refusal.REQUEST_MALFORMED, lambda: (CONFIG, executed_height_1()[1], ClientRequest(()))),
    "a lock followed by its task": (
        Refusal.REQUEST_MALFORMED, lambda: (CONFIG, backup(), ClientRequest(REQUEST.transactions[::-1]))),
    "a task and its lock, one transaction a block": (
        Refusal.REQUEST_LARGER_THAN_BLOCK,
        lambda: (make_config(max_block_transactions=1), backup(), REQUEST)),
    "a task signed by the wrong platform": (
        Refusal.REQUEST_TRANSACTION_INVALID, lambda: (CONFIG, backup(), ClientRequest((BAD_TASK, BAD_LOCK)))),
    # views
    "a PRE-PREPARE of view 0 in view 1": (Refusal.STALE_VIEW, lambda: (CONFIG, timed_out(), PRE_PREPARE)),
    "a PREPARE of view 0 in view 1": (Refusal.STALE_VIEW, lambda: (CONFIG, timed_out(), prepare(3))),
    "a COMMIT of view 0 in view 1": (Refusal.STALE_VIEW, lambda: (CONFIG, timed_out(), commit(3))),
    "a VIEW-CHANGE to view 1 in view 2": (
        Refusal.STALE_VIEW, lambda: (CONFIG, timed_out(2, times=2), view_changes_to_view_1()[2][0])),
    "a NEW-VIEW of view 1 in view 2": (Refusal.STALE_VIEW, lambda: (CONFIG, timed_out(2, times=2), new_view_1()[2])),
    "a PRE-PREPARE of view 1 in view 0": (
        Refusal.FUTURE_VIEW, lambda: (CONFIG, initial_replica_state(CONFIG, 2, CLOCK), replace(PRE_PREPARE, view=1, sender=1))),
    "a PREPARE of view 1 in view 0": (Refusal.FUTURE_VIEW, lambda: (CONFIG, with_slot(), replace(prepare(2), view=1))),
    "a COMMIT of view 1 in view 0": (Refusal.FUTURE_VIEW, lambda: (CONFIG, prepared(), replace(commit(2), view=1))),
    "a PRE-PREPARE of view 1 before its NEW-VIEW": (
        Refusal.AWAITING_NEW_VIEW, lambda: (CONFIG, timed_out(), replace(PRE_PREPARE, view=1, sender=1))),
    "a PREPARE of view 1 before its NEW-VIEW": (
        Refusal.AWAITING_NEW_VIEW, lambda: (CONFIG, timed_out(), replace(prepare(3), view=1))),
    "a VIEW-CHANGE to the view just installed": (Refusal.VIEW_ALREADY_STARTED, lambda: in_view_1_given("view change")),
    "the installed NEW-VIEW again": (Refusal.VIEW_ALREADY_STARTED, lambda: in_view_1_given("new view")),
    # senders
    "a PRE-PREPARE from a backup": (Refusal.NOT_FROM_PRIMARY, lambda: (CONFIG, backup(), replace(PRE_PREPARE, sender=2))),
    "the primary's own PRE-PREPARE": (
        Refusal.OWN_MESSAGE, lambda: (CONFIG, step(CONFIG, initial_replica_state(CONFIG, 0, CLOCK), REQUEST).state, PRE_PREPARE)),
    "its own BLOCK-REQUEST": (Refusal.OWN_MESSAGE, lambda: (CONFIG, executed_height_1()[0], BlockRequest(1, 0))),
    # proposals
    "a PRE-PREPARE for a height the NEW-VIEW fixed": (Refusal.FIXED_BY_NEW_VIEW, lambda: in_view_1_given("pre-prepare")),
    "a PRE-PREPARE for height 2 at height 0": (
        Refusal.HEIGHT_NOT_NEXT, lambda: (CONFIG, backup(), replace(PRE_PREPARE, height=2))),
    "a BLOCK-RESPONSE for a height already executed": (Refusal.HEIGHT_NOT_NEXT, response_caught_up),
    "a second proposal for height 1": (
        Refusal.PROPOSAL_ALREADY_TAKEN, lambda: (CONFIG, with_slot(), another_block_at_height_1())),
    "a PRE-PREPARE above the high watermark": (Refusal.OUTSIDE_WATERMARKS, pre_prepare_beyond_the_window),
    "a header for height 2 under a PRE-PREPARE for 1": (
        Refusal.BLOCK_HEIGHT_MISMATCH,
        lambda: (CONFIG, backup(), proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, height=2), height=1))),
    "a PRE-PREPARE whose digest is not its block's": (
        Refusal.DIGEST_MISMATCH, lambda: (CONFIG, backup(), replace(PRE_PREPARE, digest="ee" * 32))),
    "a block stamped beyond the clock skew": (
        Refusal.TIMESTAMP_AHEAD_OF_CLOCK,
        lambda: (CONFIG, backup(), proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, CLOCK + MAX_CLOCK_SKEW_MS + 1)))),
    "a block with a wrong previous hash": (
        Refusal.BLOCK_INVALID,
        lambda: (CONFIG, backup(), proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, previous_hash="ab" * 32)))),
    "a BLOCK-RESPONSE whose block the ledger rejects": (Refusal.BLOCK_INVALID, response_with_an_invalid_block),
    # votes
    "a PREPARE before the PRE-PREPARE": (Refusal.NO_OPEN_SLOT, lambda: (CONFIG, backup(), prepare(2))),
    "a COMMIT before the PRE-PREPARE": (Refusal.NO_OPEN_SLOT, lambda: (CONFIG, backup(), commit(2))),
    "a PREPARE for height 2": (Refusal.VOTE_FOR_OTHER_HEIGHT, lambda: (CONFIG, with_slot(), replace(prepare(2), height=2))),
    "a COMMIT for height 2": (Refusal.VOTE_FOR_OTHER_HEIGHT, lambda: (CONFIG, prepared(), replace(commit(2), height=2))),
    "a PREPARE for another block": (
        Refusal.VOTE_FOR_OTHER_BLOCK, lambda: (CONFIG, with_slot(), replace(prepare(2), digest="ee" * 32))),
    "a COMMIT for another block": (
        Refusal.VOTE_FOR_OTHER_BLOCK, lambda: (CONFIG, prepared(), replace(commit(2), digest="ee" * 32))),
    "its own PREPARE, delivered back": (Refusal.DUPLICATE_VOTE, lambda: (CONFIG, with_slot(), prepare(1))),
    "its own COMMIT, delivered back": (Refusal.DUPLICATE_VOTE, lambda: (CONFIG, prepared(), commit(1))),
    "a CHECKPOINT vote again": (
        Refusal.DUPLICATE_VOTE,
        lambda: (CONFIG, step(CONFIG, backup(), Checkpoint(2, ROOT_A, 2)).state, Checkpoint(2, ROOT_A, 2))),
    "a fourth PREPARE": (Refusal.ALREADY_PREPARED, lambda: (CONFIG, prepared(), prepare(3))),
    "a COMMIT before a prepare quorum": (Refusal.NOT_YET_PREPARED, lambda: (CONFIG, with_slot(), commit(2))),
    # checkpoints
    "a CHECKPOINT vote for height 0": (Refusal.CHECKPOINT_NOT_ABOVE_STABLE, lambda: (CONFIG, backup(), Checkpoint(0, ROOT_A, 2))),
    "a CHECKPOINT vote for height 1": (
        Refusal.CHECKPOINT_HEIGHT_NOT_ON_INTERVAL, lambda: (CONFIG, backup(), Checkpoint(1, ROOT_A, 2))),
    # view change
    "a VIEW-CHANGE the new primary holds": (
        Refusal.VIEW_CHANGE_ALREADY_COUNTED, lambda: (CONFIG, *new_primary_with_a_view_change())),
    "a VIEW-CHANGE to the view a backup waits in": (
        Refusal.VIEW_CHANGE_NOT_NEEDED, lambda: (CONFIG, timed_out(3), view_changes_to_view_1()[2][1])),
    "a VIEW-CHANGE with an unsigned checkpoint": (
        Refusal.VIEW_CHANGE_INVALID,
        lambda: (CONFIG, backup(), ViewChange(1, CheckpointCertificate(2, ROOT_A, frozenset()), (), 2))),
    "a NEW-VIEW sent by a backup": (
        Refusal.NEW_VIEW_INVALID, lambda: (CONFIG, timed_out(), replace(new_view_1()[2], sender=2))),
    # catch-up
    "a BLOCK-REQUEST for height 0": (Refusal.HEIGHT_BELOW_FIRST_BLOCK, lambda: (CONFIG, executed_height_1()[0], BlockRequest(0, 3))),
    "a BLOCK-REQUEST for a height not executed": (Refusal.BLOCK_NOT_YET_EXECUTED, lambda: (CONFIG, backup(), BlockRequest(1, 3))),
    "a BLOCK-RESPONSE for replica 3 at replica 2": (
        Refusal.RESPONSE_FOR_OTHER_REPLICA,
        lambda: (CONFIG, initial_replica_state(CONFIG, 2, CLOCK), block_response_for_3()[2])),
    "a BLOCK-RESPONSE with two commits": (
        Refusal.COMMIT_CERTIFICATE_INVALID,
        lambda: response_with_commits(frozenset({0, 1}))),
}
"""Case name -> the reason it must be refused for, and how to build it."""


def response_with_commits(commits: frozenset[int]) -> Case:
    lagging, _, response = block_response_for_3()
    return CONFIG, lagging, replace(response, certificate=replace(response.certificate, commits=commits))


# --- checks ---------------------------------------------------------------------------------------------
def refusal_of(name: str) -> Refusal | None:
    """Step the case; a refused input must leave the state as it was and send nothing."""
    config, state, event = CASES[name][1]()
    after, outputs, refusal = step(config, state, event)
    if refusal is not None:
        assert after is state and outputs == (), f"{name}: refused ({refusal}) but changed something"
    return refusal


def wrongly_refused(names: Iterable[str]) -> dict[str, Refusal | None]:
    """The cases whose step reports another reason than theirs (or none)."""
    found: dict[str, Refusal | None] = {}
    for name in names:
        refusal = refusal_of(name)
        if refusal != CASES[name][0]:
            found[name] = refusal
    return found


def unproduced(names: Iterable[str]) -> set[Refusal]:
    """The reasons of the enum that no case among `names` produces."""
    return set(Refusal) - {refusal_of(name) for name in names} - {None}


def undeclared_pairs(names: Iterable[str], table: tuple[RefusalInfo, ...] = REFUSAL_TABLE) -> set[tuple[str, str]]:
    """The (input, reason) pairs the cases produce that `table` does not list."""
    declared = {(kind, info.refusal.value) for info in table for kind in info.inputs}
    produced: set[tuple[str, str]] = set()
    for name in names:
        _, _, event = CASES[name][1]()
        refusal = refusal_of(name)
        if refusal is not None:
            produced.add((INPUT_KINDS[type(event)], refusal.value))
    return produced - declared


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_refused_for_its_reason_and_changes_nothing(name: str) -> None:
    assert wrongly_refused([name]) == {}


def test_the_cases_produce_every_reason_and_only_pairs_the_table_lists() -> None:
    assert unproduced(CASES) == set()
    assert undeclared_pairs(CASES) == set()
    assert sorted(info.refusal for info in REFUSAL_TABLE) == sorted(Refusal), "one table row per reason"


# --- taken inputs are not refused -----------------------------------------------------------------------------
TAKEN: dict[str, Callable[[], Case]] = {
    "a timer with nothing to do": lambda: (CONFIG, backup(), TimerFired(Timer.VIEW_CHANGE, CLOCK)),
    "a FETCH timer with nothing to fetch": lambda: (CONFIG, backup(), TimerFired(Timer.FETCH, CLOCK)),
    "a client request at a backup": lambda: (CONFIG, backup(), REQUEST),
    "a first CHECKPOINT vote": lambda: (CONFIG, backup(), Checkpoint(2, ROOT_A, 2)),
    "a PREPARE short of a quorum": lambda: (CONFIG, with_slot(), prepare(3)),
    "a VIEW-CHANGE short of a quorum": lambda: (CONFIG, timed_out(1), view_changes_to_view_1()[2][1]),
}
"""Inputs a replica takes with nothing to send (or, for the timer, nothing to do):
"nothing to do" is not a refusal."""


def refused_though_taken(names: Iterable[str]) -> dict[str, Refusal]:
    found: dict[str, Refusal] = {}
    for name in names:
        config, state, event = TAKEN[name]()
        _, _, refusal = step(config, state, event)
        if refusal is not None:
            found[name] = refusal
    return found


def test_inputs_taken_with_nothing_to_send_report_no_refusal() -> None:
    assert refused_though_taken(TAKEN) == {}


# --- negative controls --------------------------------------------------------------------------------------
def test_control_a_deciding_function_that_reports_another_reason_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """`view_refusal` calling a stale view a future one: the stale cases it decides fail."""
    real = pbft.view_refusal

    def swapped(state: ReplicaState, view: int) -> Refusal | None:
        refusal = real(state, view)
        return Refusal.FUTURE_VIEW if refusal == Refusal.STALE_VIEW else refusal

    monkeypatch.setattr(pbft, "view_refusal", swapped)
    wrong = wrongly_refused(CASES)
    assert set(wrong) == {
        "a PRE-PREPARE of view 0 in view 1", "a PREPARE of view 0 in view 1", "a COMMIT of view 0 in view 1",
    }
    assert set(wrong.values()) == {Refusal.FUTURE_VIEW}


def test_control_a_reason_no_case_produces_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """`proposal_refusal` folding the clock check into `block_invalid`: the reason
    `timestamp_ahead_of_clock` is no longer produced, and the completeness check says so."""
    real = pbft.proposal_refusal

    def folded(config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare) -> Refusal | None:
        refusal = real(config, state, pre_prepare)
        return Refusal.BLOCK_INVALID if refusal == Refusal.TIMESTAMP_AHEAD_OF_CLOCK else refusal

    monkeypatch.setattr(pbft, "proposal_refusal", folded)
    assert unproduced(CASES) == {Refusal.TIMESTAMP_AHEAD_OF_CLOCK}
    assert unproduced(set(CASES) - {"a task signed by the wrong platform"}) == {
        Refusal.TIMESTAMP_AHEAD_OF_CLOCK, Refusal.REQUEST_TRANSACTION_INVALID,
    }, "and a reason whose only case is left out"


def test_control_a_pair_the_table_does_not_list_is_caught() -> None:
    narrowed = tuple(
        replace_inputs(info, ("PRE-PREPARE",)) if info.refusal == Refusal.HEIGHT_NOT_NEXT else info
        for info in REFUSAL_TABLE
    )
    assert undeclared_pairs(CASES, narrowed) == {("BLOCK-RESPONSE", "height_not_next")}


def replace_inputs(info: RefusalInfo, inputs: tuple[str, ...]) -> RefusalInfo:
    return info._replace(inputs=inputs)


def test_control_a_refused_input_reported_as_taken_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint handler that calls every vote a duplicate (and ignores it)."""
    monkeypatch.setattr(pbft, "checkpoint_vote_refusal", lambda config, state, message: Refusal.DUPLICATE_VOTE)
    assert refused_though_taken(TAKEN) == {"a first CHECKPOINT vote": Refusal.DUPLICATE_VOTE}


# --- counterexamples name refusals ------------------------------------------------------------------------
COUNTEREXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "configs/controls/prepare_without_validation.toml"
"""A control whose counterexample (a few seconds away) delivers duplicate and surplus votes."""


Counterexample = tuple[CheckerConfig, Trace, Finding]


@pytest.fixture(scope="module")
def counterexample() -> Counterexample:
    config = load_config(COUNTEREXAMPLE_CONFIG)
    outcome = explore(config)
    assert outcome.finding is not None
    return config, replay(config, outcome.trace), outcome.finding


def reasons_printed(text: str) -> list[str]:
    """The reason at the end of each `REPLICA ignores INPUT: REASON` line."""
    return [line.rsplit(": ", 1)[1] for line in text.splitlines() if " ignores " in line]


def test_a_counterexample_names_the_refusal_of_each_ignored_input(counterexample: Counterexample) -> None:
    text = render(*counterexample)
    reasons = reasons_printed(text)
    assert Refusal.DUPLICATE_VOTE.value in reasons, text
    assert set(reasons) <= {refusal.value for refusal in Refusal}


def test_control_a_trace_that_loses_the_refusals_is_caught(
    counterexample: Counterexample, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trace asks `Model.step` again for each input's refusal: with the refusals
    dropped there, no input is shown as ignored, and the test above would fail."""
    real = checker.trace.Model.step

    def unrefusing(self: checker.trace.Model, replica: int, state: ReplicaState, event: Input) -> StepResult:
        return real(self, replica, state, event)._replace(refusal=None)

    monkeypatch.setattr(checker.trace.Model, "step", unrefusing)
    assert reasons_printed(render(*counterexample)) == []
