"""The PBFT replica (`spec.pbft.step`), driven by hand.

Four replicas (Thor, Sprout, Legion, Nova: N = 4, f = 1, quorum 3) share the
builders' genesis. A test calls `step` on one replica at a time and carries the
outputs to the others itself: `deliver_all` does that in FIFO order until no new
message appears, optionally cutting replicas off or dropping some messages. No
randomness, no clock: every run is the same.

Client requests are real signed FEDERATION_TASK + ATP_TRANSFER_LOCK pairs, and
`max_block_transactions` is 2, so each block carries exactly one request.
"""

import copy
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pytest
from builders import ALICE, ATP, DAVE, LEGION, SPROUT, T0, THOR, lock, make_genesis, pair, reputation
from builders import commit as transfer_commit

import spec.pbft as pbft
from spec.constants import CHECKPOINT_INTERVAL, MAX_CLOCK_SKEW_MS, WATERMARK_WINDOW
from spec.ledger import make_header
from spec.pbft import (
    ConsensusConfig,
    ReplicaState,
    StepResult,
    fault_tolerance,
    genesis_checkpoint,
    initial_replica_state,
    new_view_proposals,
    primary_of,
    quorum_size,
    step,
)
from spec.state import chain_from_genesis, state_from_genesis
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
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block, Genesis

# --- the consensus group ----------------------------------------------------------------------
NOVA = "Nova"
PLATFORMS4 = (THOR, SPROUT, LEGION, NOVA)
GENESIS4 = make_genesis(PLATFORMS4)
CLOCK = T0 + 1_000
"""Every replica's clock (ms) unless a test fires a timer with another reading."""
EVERYONE = frozenset(range(len(PLATFORMS4)))
ROOT_A, ROOT_B = "aa" * 32, "bb" * 32
"""Stand-in state roots for checkpoint votes."""


def make_config(genesis: Genesis = GENESIS4, **overrides: int) -> ConsensusConfig:
    n = len(genesis.platforms)
    f = fault_tolerance(n)
    fields: dict[str, Any] = {
        "chain": chain_from_genesis(genesis),
        "genesis_state": state_from_genesis(genesis),
        "platforms": tuple(p.name for p in genesis.platforms),
        "f": f,
        "quorum": quorum_size(n, f),
        "checkpoint_interval": CHECKPOINT_INTERVAL,
        "watermark_window": WATERMARK_WINDOW,
        "max_block_transactions": 2,
    }
    fields.update(overrides)
    return ConsensusConfig(**fields)


CONFIG = make_config()


def fresh_replicas(config: ConsensusConfig = CONFIG) -> list[ReplicaState]:
    return [initial_replica_state(config, replica, CLOCK) for replica in range(config.n)]


def task_request(number: int) -> ClientRequest:
    """A task of 100 ATP from Alice (Thor) to Bob (Sprout) and its lock."""
    return ClientRequest(pair(task_id=f"task-{number}", cost=100 * ATP))


REQUESTS = tuple(task_request(number) for number in range(1, 6))
REQUEST = REQUESTS[0]


# --- blocks and proposals built by hand -------------------------------------------------------------
def block_on(
    ledger: LedgerState,
    txs: tuple[AnyTransaction, ...],
    timestamp: int | None = None,
    proposer: str = THOR,
    **header: Any,
) -> Block:
    """The next block on `ledger`; `header` overrides header fields after the fact."""
    timestamp = ledger.last_timestamp_ms + 1 if timestamp is None else timestamp
    made = make_header(ledger, timestamp, proposer, txs)
    if header:
        made = made.model_copy(update=header)
    return Block(header=made, transactions=txs)


def proposal(block: Block, view: int = 0, sender: int | None = None, height: int | None = None) -> PrePrepare:
    """The pre-prepare of `block` by the primary of `view` (or by `sender`)."""
    sender = primary_of(view, CONFIG.n) if sender is None else sender
    height = block.header.height if height is None else height
    return PrePrepare(view, height, block_hash(block.header), block, sender)


# --- driving replicas ---------------------------------------------------------------------------------
Stepper = Callable[[ConsensusConfig, ReplicaState, Input], StepResult]
Dropper = Callable[[Message, int], bool]
"""drop(message, recipient): True keeps `message` from `recipient`."""


def never(message: Message, recipient: int) -> bool:
    return False


def dropping(kind: type, unless_to: Iterable[int] = ()) -> Dropper:
    """Drop every message of `kind`, except to the replicas in `unless_to`."""
    spared = frozenset(unless_to)

    def drop(message: Message, recipient: int) -> bool:
        return isinstance(message, kind) and recipient not in spared

    return drop


def recipients(message: Message, reachable: Iterable[int]) -> list[int]:
    """A message is broadcast to every other replica; a BLOCK-RESPONSE goes to its requester only."""
    if isinstance(message, BlockResponse):
        return [message.requester] if message.requester in reachable else []
    return sorted(replica for replica in reachable if replica != message.sender)


def deliver_all(
    config: ConsensusConfig,
    states: list[ReplicaState],
    messages: Iterable[Message],
    reachable: Iterable[int] = EVERYONE,
    drop: Dropper = never,
    stepper: Stepper = step,
) -> tuple[list[ReplicaState], list[Message]]:
    """Deliver `messages` and every message they cause, first sent first delivered,
    until none is left. Replicas outside `reachable` receive nothing, and
    `drop(message, replica)` keeps a message from one replica. Returns the new
    states and every message sent, in order."""
    states = list(states)
    reachable = frozenset(reachable)
    queue = deque(messages)
    sent: list[Message] = []
    while queue:
        assert len(sent) < 10_000, "deliver_all: the replicas never go quiet"
        message = queue.popleft()
        sent.append(message)
        for replica in recipients(message, reachable):
            if drop(message, replica):
                continue
            states[replica], outputs, _ = stepper(config, states[replica], message)
            queue.extend(outputs)
    return states, sent


def submit(
    config: ConsensusConfig,
    states: list[ReplicaState],
    request: ClientRequest,
    to: Iterable[int] = EVERYONE,
    stepper: Stepper = step,
) -> tuple[list[ReplicaState], list[Message]]:
    """A client hands `request` to the replicas in `to` (lowest id first); returns their outputs undelivered."""
    states = list(states)
    outputs: list[Message] = []
    for replica in sorted(to):
        states[replica], more, _ = stepper(config, states[replica], request)
        outputs.extend(more)
    return states, outputs


def run(
    config: ConsensusConfig,
    states: list[ReplicaState],
    requests: Iterable[ClientRequest],
    to: Iterable[int] = EVERYONE,
    reachable: Iterable[int] = EVERYONE,
    drop: Dropper = never,
    stepper: Stepper = step,
) -> tuple[list[ReplicaState], list[Message]]:
    """Submit every request, then deliver until quiet."""
    outputs: list[Message] = []
    for request in requests:
        states, more = submit(config, states, request, to, stepper)
        outputs.extend(more)
    return deliver_all(config, states, outputs, reachable, drop, stepper)


def fire(config: ConsensusConfig, state: ReplicaState, timer: Timer, now_ms: int = CLOCK) -> StepResult:
    return step(config, state, TimerFired(timer, now_ms))


def of_type(messages: Iterable[Message], kind: type) -> list[Any]:
    return [message for message in messages if isinstance(message, kind)]


def assert_ignored(config: ConsensusConfig, state: ReplicaState, event: Input) -> None:
    """`event` changes nothing and sends nothing."""
    after, outputs, _ = step(config, state, event)
    assert outputs == ()
    assert after == state
    assert after.ledger is state.ledger


def prepares_it(config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare) -> bool:
    """Does a backup answer `pre_prepare` with its PREPARE (and take the slot)?"""
    after, outputs, _ = step(config, state, pre_prepare)
    prepared = Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, state.replica) in outputs
    assert prepared == (after.slot is not None), "a PREPARE is sent exactly when the slot is taken"
    return prepared


# === sizes ===========================================================================================
SIZES = {  # N: (f, quorum), written out rather than computed
    1: (0, 1), 2: (0, 2), 3: (0, 2), 4: (1, 3), 5: (1, 4), 6: (1, 4), 7: (2, 5),
    8: (2, 6), 9: (2, 6), 10: (3, 7), 11: (3, 8), 12: (3, 8), 13: (4, 9),
}


@pytest.mark.parametrize("n", sorted(SIZES))
def test_fault_tolerance_and_quorum_table(n: int) -> None:
    f, quorum = SIZES[n]
    assert fault_tolerance(n) == f
    assert quorum_size(n, f) == quorum


@pytest.mark.parametrize("n", range(1, 41))
def test_quorums_intersect_in_a_correct_replica_and_correct_replicas_form_one(n: int) -> None:
    f = fault_tolerance(n)
    q = quorum_size(n, f)
    assert 3 * f + 1 <= n, "f is at most (N - 1) / 3"
    assert 2 * q - n >= f + 1, "two quorums share at least f + 1 replicas, so a correct one"
    assert n - f >= q, "the correct replicas alone form a quorum"
    assert 2 * (q - 1) - n < f + 1, "and q is the smallest size that intersects safely"


def test_2f_plus_1_is_not_a_safe_quorum_for_n5() -> None:
    n, f = 5, 1
    two_f_plus_1 = 2 * f + 1
    assert 2 * two_f_plus_1 - n < f + 1  # two quorums of 3 out of 5 may share only one (faulty) replica
    assert quorum_size(n, f) == 4


def test_primary_rotates_through_the_replicas() -> None:
    assert [primary_of(view, 4) for view in range(6)] == [0, 1, 2, 3, 0, 1]


# === normal case =======================================================================================
def test_correct_primary_proposes_on_a_client_request_and_all_four_execute() -> None:
    states, sent = run(CONFIG, fresh_replicas(), [REQUEST])

    pre_prepares = of_type(sent, PrePrepare)
    assert len(pre_prepares) == 1
    proposed = pre_prepares[0]
    assert (proposed.view, proposed.height, proposed.sender) == (0, 1, 0)
    assert proposed.block.transactions == REQUEST.transactions
    assert proposed.block.header.proposer == THOR
    assert proposed.block.header.timestamp_ms == CLOCK

    assert sorted(p.sender for p in of_type(sent, Prepare)) == [1, 2, 3], "backups prepare; the primary does not"
    assert sorted(c.sender for c in of_type(sent, Commit)) == [0, 1, 2, 3]
    for state in states:
        assert state.executed == (proposed.digest,)
        assert state.slot is None
        assert state.pending == ()
        assert state.commit_certificates[0].digest == proposed.digest
        assert len(state.commit_certificates[0].commits) >= CONFIG.quorum
        assert "task-1" in state.ledger.tasks
    roots = {state_root(state.ledger) for state in states}
    assert len(roots) == 1
    assert roots != {state_root(CONFIG.genesis_state)}


def test_a_backup_keeps_a_request_pending_and_does_not_propose() -> None:
    state, outputs, _ = step(CONFIG, initial_replica_state(CONFIG, 1, CLOCK), REQUEST)
    assert outputs == ()
    assert state.pending == (REQUEST.transactions,)
    assert state.slot is None


def test_a_malformed_or_repeated_request_is_not_taken() -> None:
    primary = initial_replica_state(CONFIG, 0, CLOCK)
    task, _lock = REQUEST.transactions
    assert_ignored(CONFIG, primary, ClientRequest((task,)))  # a task without its lock
    assert_ignored(CONFIG, primary, ClientRequest(()))
    busy, outputs, _ = step(CONFIG, primary, REQUEST)
    assert len(of_type(outputs, PrePrepare)) == 1
    assert_ignored(CONFIG, busy, REQUEST)


def test_a_request_is_one_transaction_or_a_task_and_its_lock() -> None:
    two_locks = ClientRequest((lock("x1", amount=ATP), lock("x2", amount=ATP)))
    assert_ignored(CONFIG, initial_replica_state(CONFIG, 0, CLOCK), two_locks)


def test_a_request_too_large_for_a_block_does_not_stall_the_primary() -> None:
    too_large = ClientRequest(tuple(lock(f"x{i}", amount=ATP) for i in range(CONFIG.max_block_transactions + 1)))
    settle = ClientRequest((transfer_commit("x0"),))
    state = initial_replica_state(CONFIG, 0, CLOCK)
    state, first, _ = step(CONFIG, state, too_large)
    state, second, _ = step(CONFIG, state, settle)
    proposed = [tx for p in of_type(first + second, PrePrepare) for tx in p.block.transactions]
    assert settle.transactions[0] in proposed


def test_a_single_replica_commits_alone() -> None:
    genesis = make_genesis((THOR,), {ALICE: (THOR, 1_000 * ATP), DAVE: (THOR, 0)})
    config = make_config(genesis)
    assert (config.f, config.quorum) == (0, 1)
    request = ClientRequest(pair(task_id="solo", executing_agent=DAVE, cost=100 * ATP))
    state, outputs, _ = step(config, initial_replica_state(config, 0, CLOCK), request)
    assert [type(m) for m in outputs] == [PrePrepare, Commit]
    assert state.executed == (of_type(outputs, PrePrepare)[0].digest,)
    assert state.ledger.tasks["solo"].executing_agent == DAVE


# === what a backup prepares ================================================================================
def backup() -> ReplicaState:
    return initial_replica_state(CONFIG, 1, CLOCK)


GENESIS_LEDGER = CONFIG.genesis_state
BAD_TASK, BAD_LOCK = pair(task_id="task-bad", cost=100 * ATP, signer=LEGION)  # signed by the wrong platform


BLOCK_CASES: dict[str, tuple[PrePrepare, bool]] = {
    "a valid block": (proposal(block_on(GENESIS_LEDGER, REQUEST.transactions)), True),
    "a bad previous hash": (
        proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, previous_hash="ab" * 32)),
        False,
    ),
    "a header height other than the pre-prepare's": (
        proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, height=2), height=1),
        False,
    ),
    "a transaction signed by the wrong platform": (proposal(block_on(GENESIS_LEDGER, (BAD_TASK, BAD_LOCK))), False),
    "a task without its lock": (proposal(block_on(GENESIS_LEDGER, REQUEST.transactions[:1])), False),
    "an unknown proposer": (proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, proposer="Mallory")), False),
    "a digest that is not the block's": (
        replace(proposal(block_on(GENESIS_LEDGER, REQUEST.transactions)), digest="cd" * 32),
        False,
    ),
}


@pytest.mark.parametrize("case", list(BLOCK_CASES))
def test_a_backup_prepares_only_a_valid_block(case: str) -> None:
    pre_prepare, prepared = BLOCK_CASES[case]
    assert prepares_it(CONFIG, backup(), pre_prepare) is prepared


@pytest.mark.parametrize(
    ("timestamp", "prepared"),
    [
        (CLOCK + MAX_CLOCK_SKEW_MS, True),  # exactly at the bound
        (CLOCK + MAX_CLOCK_SKEW_MS + 1, False),  # beyond the backup's clock plus skew
        (T0 + 1, True),  # just above the previous (genesis) timestamp
        (T0, False),  # not above the previous timestamp
        (T0 - 1, False),
    ],
)
def test_timestamp_rule(timestamp: int, prepared: bool) -> None:
    pre_prepare = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, timestamp))
    assert prepares_it(CONFIG, backup(), pre_prepare) is prepared


def test_the_skew_bound_follows_the_backups_clock() -> None:
    late = CLOCK + MAX_CLOCK_SKEW_MS + 1
    pre_prepare = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions, late))
    state, _, _ = fire(CONFIG, backup(), Timer.FETCH, now_ms=CLOCK + 1)
    assert state.clock_ms == CLOCK + 1
    assert prepares_it(CONFIG, state, pre_prepare)
    earlier, _, _ = fire(CONFIG, state, Timer.FETCH, now_ms=T0)
    assert earlier.clock_ms == CLOCK + 1, "a replica's clock never runs backwards"


@pytest.mark.parametrize(
    ("case", "view", "sender", "prepared"),
    [
        ("primary of the current view", 0, 0, True),
        ("a backup posing as primary", 0, 2, False),
        ("the primary of the next view", 1, 1, False),
        ("a pre-prepare for the next view from the current primary", 1, 0, False),
    ],
)
def test_only_the_current_primary_pre_prepares(case: str, view: int, sender: int, prepared: bool) -> None:
    pre_prepare = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions), view=view, sender=sender)
    assert prepares_it(CONFIG, initial_replica_state(CONFIG, 3, CLOCK), pre_prepare) is prepared, case


@pytest.mark.parametrize(
    ("case", "view", "sender", "prepared"),
    [
        ("primary of the current view", 1, 1, True),
        ("the previous view's primary, for the previous view", 0, 0, False),
        ("a replica below the primary posing as primary", 1, 0, False),
    ],
)
def test_in_view_1_only_its_primary_pre_prepares(case: str, view: int, sender: int, prepared: bool) -> None:
    """Replica 3, active in view 1 (whose NEW-VIEW fixed no height)."""
    in_view_1 = replace(initial_replica_state(CONFIG, 3, CLOCK), view=1)
    pre_prepare = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions), view=view, sender=sender)
    assert prepares_it(CONFIG, in_view_1, pre_prepare) is prepared, case


def test_a_second_pre_prepare_for_a_taken_height_is_ignored() -> None:
    first = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions))
    other = proposal(block_on(GENESIS_LEDGER, REQUESTS[1].transactions))
    state, _, _ = step(CONFIG, backup(), first)
    assert_ignored(CONFIG, state, other)


# === counting votes =========================================================================================
PRE_PREPARE = proposal(block_on(GENESIS_LEDGER, REQUEST.transactions))


def prepare(sender: int, pre_prepare: PrePrepare = PRE_PREPARE) -> Prepare:
    return Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, sender)


def commit(sender: int, pre_prepare: PrePrepare = PRE_PREPARE) -> Commit:
    return Commit(pre_prepare.view, pre_prepare.height, pre_prepare.digest, sender)


def test_a_duplicate_prepare_is_not_counted_twice() -> None:
    state, outputs, _ = step(CONFIG, initial_replica_state(CONFIG, 0, CLOCK), REQUEST)
    pre_prepare = of_type(outputs, PrePrepare)[0]
    state, outputs, _ = step(CONFIG, state, prepare(1, pre_prepare))
    assert outputs == ()
    assert_ignored(CONFIG, state, prepare(1, pre_prepare))
    state, outputs, _ = step(CONFIG, state, prepare(2, pre_prepare))
    assert outputs == (commit(0, pre_prepare),), "the third distinct prepare (primary included) is the quorum"


def test_a_prepare_for_another_digest_view_or_height_is_not_counted() -> None:
    state, _, _ = step(CONFIG, backup(), PRE_PREPARE)
    assert_ignored(CONFIG, state, replace(prepare(2), digest="ee" * 32))
    assert_ignored(CONFIG, state, replace(prepare(2), view=1))
    assert_ignored(CONFIG, state, replace(prepare(2), height=2))
    _, outputs, _ = step(CONFIG, state, prepare(2))
    assert outputs == (commit(1),)


def test_commits_before_prepared_are_ignored() -> None:
    state, outputs, _ = step(CONFIG, backup(), PRE_PREPARE)
    assert outputs == (prepare(1),)
    assert_ignored(CONFIG, state, commit(2))
    assert_ignored(CONFIG, state, commit(3))
    state, outputs, _ = step(CONFIG, state, prepare(2))
    assert outputs == (commit(1),)
    assert state.height == 0, "the early commits did not count: only its own commit so far"
    assert state.slot is not None and state.slot.commits == frozenset({1})
    state, outputs, _ = step(CONFIG, state, commit(2))
    assert outputs == () and state.height == 0
    assert_ignored(CONFIG, state, commit(2))
    state, outputs, _ = step(CONFIG, state, commit(3))
    assert state.executed == (PRE_PREPARE.digest,)
    assert state.commit_certificates == (CommitCertificate(0, 1, PRE_PREPARE.digest, frozenset({1, 2, 3})),)


def test_votes_without_a_slot_are_dropped() -> None:
    assert_ignored(CONFIG, backup(), prepare(2))
    assert_ignored(CONFIG, backup(), commit(2))


# === view change =============================================================================================
def prepared_everywhere() -> tuple[list[ReplicaState], PrePrepare]:
    """Every replica holds the request and has prepared its block at height 1 in
    view 0, but no commit got through."""
    states, sent = run(CONFIG, fresh_replicas(), [REQUEST], drop=dropping(Commit))
    pre_prepare = of_type(sent, PrePrepare)[0]
    for state in states:
        assert state.height == 0 and state.pending == (REQUEST.transactions,)
        assert [c.pre_prepare for c in state.prepared] == [pre_prepare]
    return states, pre_prepare


def test_a_view_change_timer_with_nothing_pending_does_nothing() -> None:
    assert_ignored(CONFIG, backup(), TimerFired(Timer.VIEW_CHANGE, CLOCK))


def test_a_view_change_carries_the_prepared_certificates() -> None:
    states, pre_prepare = prepared_everywhere()
    state, outputs, _ = fire(CONFIG, states[2], Timer.VIEW_CHANGE)
    assert len(outputs) == 2 and outputs[1] == BlockRequest(1, 2), "and it asks for its next block"
    view_change = outputs[0]
    assert isinstance(view_change, ViewChange)
    assert (view_change.new_view, view_change.sender) == (1, 2)
    assert view_change.checkpoint == genesis_checkpoint(CONFIG)
    assert len(view_change.prepared) == 1
    certificate = view_change.prepared[0]
    assert certificate.pre_prepare == pre_prepare
    assert block_hash(certificate.pre_prepare.block.header) == pre_prepare.digest
    assert len(certificate.prepares) >= CONFIG.quorum and 0 in certificate.prepares
    assert (state.view, state.active, state.slot) == (1, False, None)


def test_a_replica_waiting_for_a_new_view_moves_on_when_its_timer_fires_again() -> None:
    states, _ = prepared_everywhere()
    state, _, _ = fire(CONFIG, states[2], Timer.VIEW_CHANGE)
    state, outputs, _ = fire(CONFIG, state, Timer.VIEW_CHANGE)
    assert [(m.new_view, m.sender) for m in of_type(outputs, ViewChange)] == [(2, 2)]
    assert (state.view, state.active) == (2, False)


def view_changes_to_view_1() -> tuple[list[ReplicaState], PrePrepare, list[ViewChange]]:
    """Replicas 1, 2 and 3 time out in view 0 after preparing; their VIEW-CHANGEs, undelivered."""
    states, pre_prepare = prepared_everywhere()
    view_changes: list[ViewChange] = []
    for replica in (1, 2, 3):
        states[replica], outputs, _ = fire(CONFIG, states[replica], Timer.VIEW_CHANGE)
        view_changes.extend(of_type(outputs, ViewChange))
    return states, pre_prepare, view_changes


def new_view_1() -> tuple[list[ReplicaState], PrePrepare, NewView]:
    """As above, and the new primary (replica 1) has received the other two: its NEW-VIEW, undelivered."""
    states, pre_prepare, view_changes = view_changes_to_view_1()
    states[1], outputs, _ = step(CONFIG, states[1], view_changes[1])
    assert outputs == (), "two view changes are not a quorum"
    states[1], outputs, _ = step(CONFIG, states[1], view_changes[2])
    new_views = of_type(outputs, NewView)
    assert len(new_views) == 1
    return states, pre_prepare, new_views[0]


def test_the_new_primary_re_proposes_the_prepared_block_unchanged() -> None:
    states, pre_prepare, new_view = new_view_1()
    assert (new_view.view, new_view.sender) == (1, 1)
    assert sorted(vc.sender for vc in new_view.view_changes) == [1, 2, 3]
    assert len(new_view.proposals) == 1
    reproposed = new_view.proposals[0]
    assert (reproposed.view, reproposed.height, reproposed.sender) == (1, 1, 1)
    assert reproposed.digest == pre_prepare.digest
    assert reproposed.block == pre_prepare.block
    assert (states[1].view, states[1].active) == (1, True)


def test_after_the_view_change_every_replica_executes_the_prepared_block() -> None:
    states, pre_prepare, view_changes = view_changes_to_view_1()
    states, sent = deliver_all(CONFIG, states, view_changes)
    assert len(of_type(sent, NewView)) == 1
    assert 0 in {vc.sender for vc in of_type(sent, ViewChange)}, "replica 0 joined on f + 1 view changes"
    for state in states:
        assert (state.view, state.active) == (1, True)
        assert state.executed == (pre_prepare.digest,)
        assert state.pending == ()
    assert len({state_root(state.ledger) for state in states}) == 1


def test_a_valid_new_view_is_installed_by_a_waiting_backup() -> None:
    states, pre_prepare, new_view = new_view_1()
    state, outputs, _ = step(CONFIG, states[2], new_view)
    assert (state.view, state.active) == (1, True)
    assert outputs == (Prepare(1, 1, pre_prepare.digest, 2),)


def altered_new_views(new_view: NewView) -> dict[str, NewView]:
    """NEW-VIEWs a faulty primary might send instead of `new_view`."""
    other_block = block_on(GENESIS_LEDGER, REQUESTS[1].transactions)
    too_few = new_view.view_changes[:2]
    _, too_few_proposals = new_view_proposals(CONFIG, 1, too_few)
    return {
        "another block re-proposed": replace(new_view, proposals=(proposal(other_block, view=1),)),
        "the prepared block dropped": replace(new_view, proposals=()),
        "fewer than a quorum of view changes": replace(new_view, view_changes=too_few, proposals=too_few_proposals),
        "a view change counted twice": replace(new_view, view_changes=too_few + too_few[:1]),
        "the certificates stripped from a view change": replace(
            new_view,
            view_changes=tuple(replace(vc, prepared=()) for vc in new_view.view_changes),
        ),
        "sent by another replica": replace(new_view, sender=2),
        "a view change for another view": replace(
            new_view, view_changes=new_view.view_changes[:2] + (replace(new_view.view_changes[2], new_view=2),)
        ),
    }


ALTERATIONS = (
    "another block re-proposed",
    "the prepared block dropped",
    "fewer than a quorum of view changes",
    "a view change counted twice",
    "the certificates stripped from a view change",
    "sent by another replica",
    "a view change for another view",
)


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_an_altered_new_view_is_rejected(alteration: str) -> None:
    states, _, new_view = new_view_1()
    assert_ignored(CONFIG, states[2], altered_new_views(new_view)[alteration])


def test_stripping_the_certificates_is_caught_only_by_recomputing_the_proposals() -> None:
    """Control for the case above: the stripped view changes are each valid; what
    fails is that the proposals no longer follow from them."""
    _, _, new_view = new_view_1()
    stripped = tuple(replace(vc, prepared=()) for vc in new_view.view_changes)
    checkpoint, proposals = new_view_proposals(CONFIG, 1, stripped)
    assert proposals == ()
    assert checkpoint == new_view.checkpoint


def test_a_stale_new_view_is_ignored() -> None:
    states, _, new_view = new_view_1()
    installed, _, _ = step(CONFIG, states[2], new_view)
    assert_ignored(CONFIG, installed, new_view)


def test_join_rule_f_plus_1_view_changes_move_a_replica() -> None:
    _, _, view_changes = view_changes_to_view_1()
    from_1, from_2 = view_changes[0], view_changes[1]
    state = initial_replica_state(CONFIG, 3, CLOCK)
    state, outputs, _ = step(CONFIG, state, from_1)
    assert outputs == () and (state.view, state.active) == (0, True), "f view changes could all be faulty"
    assert_ignored(CONFIG, state, from_1)  # the same sender again is still one sender
    state, outputs, _ = step(CONFIG, state, from_2)
    assert [(m.new_view, m.sender) for m in of_type(outputs, ViewChange)] == [(1, 3)]
    assert (state.view, state.active) == (1, False)


def test_join_rule_picks_the_smallest_view_asked_for() -> None:
    genesis = genesis_checkpoint(CONFIG)
    state = initial_replica_state(CONFIG, 3, CLOCK)
    state, outputs, _ = step(CONFIG, state, ViewChange(3, genesis, (), 1))
    assert outputs == ()
    state, outputs, _ = step(CONFIG, state, ViewChange(2, genesis, (), 2))
    assert [(m.new_view, m.sender) for m in of_type(outputs, ViewChange)] == [(2, 3)]
    assert state.view == 2


def test_the_new_primary_joining_on_f_plus_1_sends_new_view_at_once() -> None:
    _, _, view_changes = view_changes_to_view_1()
    state = initial_replica_state(CONFIG, 1, CLOCK)
    state, outputs, _ = step(CONFIG, state, view_changes[1])
    assert outputs == ()
    state, outputs, _ = step(CONFIG, state, view_changes[2])
    assert [type(m) for m in outputs][:3] == [ViewChange, BlockRequest, NewView]
    assert (state.view, state.active) == (1, True)


def forged_view_changes(genuine: ViewChange) -> dict[str, ViewChange]:
    """VIEW-CHANGEs a faulty replica might send instead of `genuine` (which carries one certificate)."""
    certificate = genuine.prepared[0]
    pre_prepare = certificate.pre_prepare
    return {
        "a certificate with fewer than a quorum of prepares": replace(
            genuine, prepared=(replace(certificate, prepares=frozenset({0, 2})),)
        ),
        "a certificate without its primary": replace(
            genuine, prepared=(replace(certificate, prepares=frozenset({1, 2, 3})),)
        ),
        "a certificate whose digest is not its block's": replace(
            genuine, prepared=(replace(certificate, pre_prepare=replace(pre_prepare, digest="ab" * 32)),)
        ),
        "a certificate from a non-primary": replace(
            genuine, prepared=(replace(certificate, pre_prepare=replace(pre_prepare, sender=2)),)
        ),
        "a certificate from the view it asks for": replace(
            genuine, prepared=(replace(certificate, pre_prepare=replace(pre_prepare, view=1, sender=1)),)
        ),
        "a certificate at or below its checkpoint": replace(
            genuine, checkpoint=CheckpointCertificate(2, ROOT_A, frozenset({0, 1, 2}))
        ),
        "a checkpoint with fewer than a quorum of signers": replace(
            genuine, prepared=(), checkpoint=CheckpointCertificate(2, ROOT_A, frozenset({0, 1}))
        ),
        "a checkpoint off the interval": replace(
            genuine, prepared=(), checkpoint=CheckpointCertificate(3, ROOT_A, frozenset({0, 1, 2}))
        ),
        "a genesis checkpoint with another state root": replace(
            genuine, checkpoint=CheckpointCertificate(0, ROOT_A, frozenset())
        ),
        "a certificate from a replica below its view's primary": replace(
            genuine, new_view=2, prepared=(replace(certificate, pre_prepare=replace(pre_prepare, view=1, sender=0)),)
        ),
    }


FORGERIES = (
    "a certificate with fewer than a quorum of prepares",
    "a certificate without its primary",
    "a certificate whose digest is not its block's",
    "a certificate from a non-primary",
    "a certificate from the view it asks for",
    "a certificate at or below its checkpoint",
    "a checkpoint with fewer than a quorum of signers",
    "a checkpoint off the interval",
    "a genesis checkpoint with another state root",
    "a certificate from a replica below its view's primary",
)


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_view_change_is_not_counted(forgery: str) -> None:
    _, _, view_changes = view_changes_to_view_1()
    forged = forged_view_changes(view_changes[1])[forgery]
    assert_ignored(CONFIG, initial_replica_state(CONFIG, 1, CLOCK), forged)


@pytest.mark.parametrize(
    "genuine",
    [
        "as sent",
        "with a stable checkpoint instead of its certificate",
    ],
)
def test_a_genuine_view_change_is_counted_by_the_new_primary(genuine: str) -> None:
    """Control for the forgeries above."""
    _, _, view_changes = view_changes_to_view_1()
    message = view_changes[1]
    if genuine != "as sent":
        message = replace(message, prepared=(), checkpoint=CheckpointCertificate(2, ROOT_A, frozenset({0, 1, 2})))
    state, _, _ = step(CONFIG, initial_replica_state(CONFIG, 1, CLOCK), message)
    assert state.view_changes == (message,)


def test_new_view_proposals_take_the_highest_view_and_stop_at_the_first_gap() -> None:
    genesis = genesis_checkpoint(CONFIG)
    in_view_0 = block_on(GENESIS_LEDGER, REQUEST.transactions)
    in_view_1 = block_on(GENESIS_LEDGER, REQUESTS[1].transactions, proposer=SPROUT)
    at_height_3 = block_on(GENESIS_LEDGER, REQUESTS[2].transactions, height=3)
    older = PreparedCertificate(proposal(in_view_0, view=0), frozenset({0, 1, 2}))
    newer = PreparedCertificate(proposal(in_view_1, view=1), frozenset({1, 2, 3}))
    beyond_gap = PreparedCertificate(proposal(at_height_3, view=0), frozenset({0, 1, 2}))
    view_changes = (
        ViewChange(2, genesis, (older, beyond_gap), 0),
        ViewChange(2, genesis, (newer,), 1),
        ViewChange(2, genesis, (), 3),
    )
    expected = (PrePrepare(2, 1, block_hash(in_view_1.header), in_view_1, 2),)
    for ordered in (view_changes, view_changes[::-1]):
        checkpoint, proposals = new_view_proposals(CONFIG, 2, ordered)
        assert checkpoint == genesis
        assert proposals == expected
        assert proposals[0].block == in_view_1


def test_new_view_proposals_start_above_the_highest_stable_checkpoint() -> None:
    genesis = genesis_checkpoint(CONFIG)
    stable = CheckpointCertificate(2, ROOT_A, frozenset({0, 1, 2}))
    at_height_1 = PreparedCertificate(proposal(block_on(GENESIS_LEDGER, REQUEST.transactions)), frozenset({0, 1, 2}))
    block_3 = block_on(GENESIS_LEDGER, REQUESTS[2].transactions, height=3)
    at_height_3 = PreparedCertificate(proposal(block_3), frozenset({0, 1, 2}))
    view_changes = (
        ViewChange(1, genesis, (at_height_1,), 0),
        ViewChange(1, stable, (at_height_3,), 2),
        ViewChange(1, stable, (), 3),
    )
    checkpoint, proposals = new_view_proposals(CONFIG, 1, view_changes)
    assert checkpoint == stable
    assert proposals == (PrePrepare(1, 3, block_hash(block_3.header), block_3, 1),)


def test_a_replica_that_executed_a_re_proposed_block_votes_for_it_again() -> None:
    """Only replica 0 saw the commits and executed height 1; the view change
    re-proposes the block and replica 0's fresh votes help the others commit it."""
    states, sent = run(CONFIG, fresh_replicas(), [REQUEST], drop=dropping(Commit, unless_to={0}))
    digest = of_type(sent, PrePrepare)[0].digest
    assert [state.height for state in states] == [1, 0, 0, 0]
    outputs: list[Message] = []
    for replica in (1, 2, 3):
        states[replica], more, _ = fire(CONFIG, states[replica], Timer.VIEW_CHANGE)
        outputs.extend(more)
    states, sent = deliver_all(CONFIG, states, outputs)
    assert Prepare(1, 1, digest, 0) in sent and Commit(1, 1, digest, 0) in sent
    for state in states:
        assert (state.view, state.active) == (1, True)
        assert state.executed == (digest,)
    assert len({state_root(state.ledger) for state in states}) == 1


def test_a_replica_that_catches_up_on_a_re_proposed_block_votes_for_it_in_the_new_view() -> None:
    """Only replica 0 executed height 1, then fell silent. Replica 2 installs view 1's
    NEW-VIEW (re-proposing that block), prepares it, and only then executes it by
    catch-up: it still sends its COMMIT in view 1, which replica 3 needs, since with
    replica 0 silent a quorum of view 1 takes every other replica. (The checker found
    the run where it did not, with a faulty primary of view 1 and a silent one.)"""
    states, sent = run(CONFIG, fresh_replicas(), [REQUEST], drop=dropping(Commit, unless_to={0}))
    digest = of_type(sent, PrePrepare)[0].digest
    view_changes: list[ViewChange] = []
    for replica in (1, 2, 3):
        states[replica], outputs, _ = fire(CONFIG, states[replica], Timer.VIEW_CHANGE)
        view_changes.extend(of_type(outputs, ViewChange))
    new_views: list[NewView] = []
    for message in view_changes:
        states[1], outputs, _ = step(CONFIG, states[1], message)
        new_views.extend(of_type(outputs, NewView))
    states[2], installed, _ = step(CONFIG, states[2], new_views[0])
    assert installed == (Prepare(1, 1, digest, 2),)
    _, responses, _ = step(CONFIG, states[0], BlockRequest(1, 2))
    states[2], outputs, _ = step(CONFIG, states[2], responses[0])
    assert states[2].executed == (digest,)
    assert Commit(1, 1, digest, 2) in outputs, "the caught-up replica still votes in the view"
    states[3], more, _ = step(CONFIG, states[3], new_views[0])
    states, _ = deliver_all(CONFIG, states, list(installed) + list(outputs) + list(more), reachable={1, 2, 3})
    assert states[3].executed == (digest,), "its commit quorum of view 1 is replicas 1, 2 and 3"
    # The primary counted replica 2's commit before it was prepared; delivered again, it counts.
    states[1], _, _ = step(CONFIG, states[1], Commit(1, 1, digest, 2))
    assert states[1].executed == (digest,)


def test_a_new_view_whose_re_proposed_block_was_swapped_is_not_installed_as_is() -> None:
    states, pre_prepare, new_view = new_view_1()
    genuine = new_view.proposals[0]
    other = block_on(GENESIS_LEDGER, REQUESTS[1].transactions)
    swapped_block = Block(header=genuine.block.header, transactions=other.transactions)  # same header, same digest
    swapped = replace(new_view, proposals=(replace(genuine, block=swapped_block),))
    state, outputs, _ = step(CONFIG, states[2], swapped)
    rejected = state == states[2] and outputs == ()
    prepares_the_genuine_block = Prepare(1, 1, pre_prepare.digest, 2) in outputs
    assert rejected or prepares_the_genuine_block


# === checkpoints ================================================================================================
def test_a_quorum_of_matching_checkpoint_votes_makes_a_checkpoint_stable() -> None:
    state = initial_replica_state(CONFIG, 3, CLOCK)
    for vote in (Checkpoint(2, ROOT_A, 0), Checkpoint(2, ROOT_B, 1), Checkpoint(2, ROOT_B, 2), Checkpoint(2, ROOT_A, 3)):
        state, outputs, _ = step(CONFIG, state, vote)
        assert outputs == ()
    assert state.stable.height == 0, "three votes, but no three of them match"
    assert_ignored(CONFIG, state, Checkpoint(2, ROOT_A, 0))  # a repeated vote counts once
    state, outputs, _ = step(CONFIG, state, Checkpoint(2, ROOT_B, 3))  # a faulty replica may vote twice
    assert outputs == ()
    assert (state.stable.height, state.stable.state_root, state.stable.signers) == (2, ROOT_B, frozenset({1, 2, 3}))
    assert state.known_height == 2
    assert state.checkpoint_votes == ()
    assert_ignored(CONFIG, state, Checkpoint(2, ROOT_B, 0))  # at or below the stable checkpoint


def test_a_checkpoint_vote_off_the_interval_is_ignored() -> None:
    assert_ignored(CONFIG, backup(), Checkpoint(3, ROOT_A, 0))
    assert_ignored(CONFIG, backup(), Checkpoint(0, ROOT_A, 0))


def test_replicas_vote_at_checkpoint_heights_and_agree() -> None:
    states, sent = run(CONFIG, fresh_replicas(), REQUESTS[:3], to={0})
    assert [state.height for state in states] == [3, 3, 3, 3]
    votes = of_type(sent, Checkpoint)
    assert sorted((v.height, v.sender) for v in votes) == [(2, 0), (2, 1), (2, 2), (2, 3)]
    assert len({v.state_root for v in votes}) == 1
    for state in states:
        assert state.stable.height == 2
        assert state.stable.state_root == votes[0].state_root
        assert len(state.stable.signers) >= CONFIG.quorum
        assert [c.pre_prepare.height for c in state.prepared] == [3], "certificates at or below it are dropped"


def four_blocks_without_checkpoints() -> tuple[list[ReplicaState], list[Checkpoint]]:
    """Five requests at the primary; no checkpoint vote gets through, so the
    low watermark stays at 0 and the window (4) stops the fifth block."""
    states, sent = run(CONFIG, fresh_replicas(), REQUESTS, to={0}, drop=dropping(Checkpoint))
    return states, of_type(sent, Checkpoint)


def test_a_primary_does_not_propose_above_the_high_watermark() -> None:
    states, votes = four_blocks_without_checkpoints()
    assert [state.height for state in states] == [4, 4, 4, 4]
    assert [state.stable.height for state in states] == [0, 0, 0, 0]
    assert len(states[0].pending) == 1 and states[0].slot is None
    assert sorted((v.height, v.sender) for v in votes) == [(h, r) for h in (2, 4) for r in range(4)]


def test_a_pre_prepare_above_the_high_watermark_is_ignored_until_a_checkpoint_is_stable() -> None:
    states, votes = four_blocks_without_checkpoints()
    fifth = proposal(block_on(states[1].ledger, states[0].pending[0]))
    assert fifth.height == 5
    assert not prepares_it(CONFIG, states[1], fifth)
    state = states[1]
    for vote in votes:
        if vote.height == 2 and vote.sender in (0, 2):
            state, _, _ = step(CONFIG, state, vote)
    assert state.stable.height == 2, "its own vote and two others"
    assert prepares_it(CONFIG, state, fifth)


def test_a_primary_proposes_once_a_stable_checkpoint_opens_the_window() -> None:
    states, votes = four_blocks_without_checkpoints()
    primary = states[0]
    outputs: list[Message] = []
    for vote in votes:
        if vote.height == 2 and vote.sender in (1, 2):
            primary, more, _ = step(CONFIG, primary, vote)
            outputs.extend(more)
    assert primary.stable.height == 2
    assert [(p.height, p.sender) for p in of_type(outputs, PrePrepare)] == [(5, 0)]


# === catch-up ===================================================================================================
def lagging_replica_3() -> tuple[list[ReplicaState], list[Message]]:
    """Replica 3 is cut off while the others execute two blocks; then it receives
    their checkpoint votes (and nothing else)."""
    states, sent = run(CONFIG, fresh_replicas(), REQUESTS[:2], to={0}, reachable={0, 1, 2})
    assert [state.height for state in states] == [2, 2, 2, 0]
    for vote in of_type(sent, Checkpoint):
        states[3], outputs, _ = step(CONFIG, states[3], vote)
        assert outputs == ()
    assert (states[3].stable.height, states[3].known_height, states[3].height) == (2, 2, 0)
    return states, sent


def test_f_plus_one_matching_checkpoint_votes_tell_a_replica_the_height_exists() -> None:
    """Below a quorum, so no stable checkpoint; but f + 1 = 2 votes include a correct
    replica, so the height exists (a primary will not propose there). One vote does not."""
    states, sent = run(CONFIG, fresh_replicas(), REQUESTS[:2], to={0}, reachable={0, 1, 2})
    votes = [vote for vote in of_type(sent, Checkpoint) if vote.sender in (0, 1)]
    lagging = states[3]
    lagging, _, _ = step(CONFIG, lagging, votes[0])
    assert lagging.known_height == 0
    lagging, _, _ = step(CONFIG, lagging, votes[1])
    assert (lagging.stable.height, lagging.known_height) == (0, 2)


def test_a_replica_that_knows_of_no_higher_height_does_not_fetch() -> None:
    assert_ignored(CONFIG, backup(), TimerFired(Timer.FETCH, CLOCK))


def test_a_replica_that_starts_a_view_change_asks_for_its_next_block() -> None:
    """A replica cannot tell it is behind a group that went idle, so with its
    VIEW-CHANGE it asks for the block after its own; a replica that does not have it
    stays silent."""
    holding, _, _ = step(CONFIG, backup(), REQUEST)
    waiting, outputs, _ = fire(CONFIG, holding, Timer.VIEW_CHANGE)
    assert not waiting.active and waiting.known_height == waiting.height == 0
    assert outputs[1:] == (BlockRequest(1, waiting.replica),)
    assert_ignored(CONFIG, initial_replica_state(CONFIG, 2, CLOCK), outputs[1])


def test_a_replica_that_missed_a_height_between_checkpoints_catches_up() -> None:
    """Regression (review finding 2): three heights, a checkpoint every two. Replica 3
    executes heights 1 and 2 with the others, then misses every message of height 3;
    the others go idle. No checkpoint vote will ever tell it height 3 exists, and
    its FETCH timer does nothing. It times out on its pending request; its view
    change waits alone (the others have nothing pending and do not join), but the
    block request it sent with it brings it the block and its commit certificate."""
    states, _ = run(CONFIG, fresh_replicas(), REQUESTS[:2])
    assert [state.height for state in states] == [2, 2, 2, 2]
    states, sent = run(CONFIG, states, REQUESTS[2:3], reachable={0, 1, 2})
    assert [state.height for state in states] == [3, 3, 3, 2]
    assert of_type(sent, Checkpoint) == [], "height 3 is no checkpoint"
    assert states[3].known_height == 2, "nothing told replica 3 about height 3"
    assert_ignored(CONFIG, states[3], TimerFired(Timer.FETCH, CLOCK))
    states[3], outputs, _ = fire(CONFIG, states[3], Timer.VIEW_CHANGE)
    assert of_type(outputs, BlockRequest) == [BlockRequest(3, 3)]
    states, sent = deliver_all(CONFIG, states, outputs)
    assert [state.view for state in states] == [0, 0, 0, 1], "one view change is not enough to join"
    assert states[3].executed == states[0].executed
    assert state_root(states[3].ledger) == state_root(states[0].ledger)
    assert BlockRequest(4, 3) in sent, "still waiting, it asks for the next block too; nobody has it"


def test_a_lagging_replica_fetches_and_executes_committed_blocks() -> None:
    states, _ = lagging_replica_3()
    requests: list[BlockRequest] = []
    for _ in range(4):
        states[3], outputs, _ = fire(CONFIG, states[3], Timer.FETCH)
        requests.extend(of_type(outputs, BlockRequest))
        states, _ = deliver_all(CONFIG, states, outputs)
    assert [(r.height, r.sender) for r in requests] == [(1, 3), (2, 3)]
    assert states[3].executed == states[0].executed
    assert state_root(states[3].ledger) == state_root(states[0].ledger)
    assert states[3].commit_certificates == states[0].commit_certificates


def block_response_for_3() -> tuple[ReplicaState, ReplicaState, BlockResponse]:
    """The lagging replica 3, a replica that has the blocks, and its response for height 1."""
    states, _ = lagging_replica_3()
    lagging, outputs, _ = fire(CONFIG, states[3], Timer.FETCH)
    assert outputs == (BlockRequest(1, 3),)
    _, responses, _ = step(CONFIG, states[0], outputs[0])
    response = responses[0]
    assert isinstance(response, BlockResponse)
    return lagging, states[0], response


def test_a_block_response_with_a_commit_certificate_is_executed() -> None:
    lagging, source, response = block_response_for_3()
    state, _, _ = step(CONFIG, lagging, response)
    assert state.executed == source.executed[:1]
    assert state.blocks == source.blocks[:1]


def altered_responses(response: BlockResponse, source: ReplicaState) -> dict[str, BlockResponse]:
    certificate = response.certificate
    valid_other_block = block_on(CONFIG.genesis_state, REQUESTS[2].transactions)
    return {
        "fewer than a quorum of signers": replace(
            response, certificate=replace(certificate, commits=frozenset(sorted(certificate.commits)[:2]))
        ),
        "a signer that is no replica": replace(
            response, certificate=replace(certificate, commits=frozenset(sorted(certificate.commits)[:2]) | {7})
        ),
        "another valid block under the certificate": replace(response, block=valid_other_block),
        "the next block under its own certificate": BlockResponse(
            source.blocks[1], source.commit_certificates[1], 3, 0
        ),
        "addressed to another replica": replace(response, requester=2),
    }


RESPONSE_ALTERATIONS = (
    "fewer than a quorum of signers",
    "a signer that is no replica",
    "another valid block under the certificate",
    "the next block under its own certificate",
    "addressed to another replica",
)


@pytest.mark.parametrize("alteration", RESPONSE_ALTERATIONS)
def test_an_unproven_block_response_is_ignored(alteration: str) -> None:
    lagging, source, response = block_response_for_3()
    assert_ignored(CONFIG, lagging, altered_responses(response, source)[alteration])


def test_a_block_request_beyond_what_a_replica_has_gets_no_answer() -> None:
    states, _ = lagging_replica_3()
    assert_ignored(CONFIG, states[0], BlockRequest(3, 3))
    assert_ignored(CONFIG, states[0], BlockRequest(0, 3))
    assert_ignored(CONFIG, states[0], BlockRequest(1, 0))  # its own request


# === purity and determinism =======================================================================================
def deep_snapshot(config: ConsensusConfig, state: ReplicaState, event: Input) -> Any:
    return copy.deepcopy((state, state.ledger, state.blocks, config.genesis_state, event))


def blocks_of(messages: Iterable[Message]) -> list[Block]:
    """The blocks messages carry (message equality leaves them out)."""
    found: list[Block] = []
    for message in messages:
        if isinstance(message, (PrePrepare, BlockResponse)):
            found.append(message.block)
        if isinstance(message, NewView):
            found.extend(p.block for p in message.proposals)
    return found


def checked_step(config: ConsensusConfig, state: ReplicaState, event: Input) -> StepResult:
    """`step`, asserting that it leaves its inputs as they were and that a second call gives the same answer."""
    before = deep_snapshot(config, state, event)
    root = state_root(state.ledger)
    first_state, first_outputs, first_refusal = step(config, state, event)
    assert deep_snapshot(config, state, event) == before, f"step changed its input on {event!r}"
    assert state_root(state.ledger) == root
    second_state, second_outputs, second_refusal = step(config, state, event)
    assert second_state == first_state and second_outputs == first_outputs and second_refusal == first_refusal
    assert second_state.ledger == first_state.ledger and second_state.blocks == first_state.blocks
    assert blocks_of(second_outputs) == blocks_of(first_outputs)
    return StepResult(first_state, first_outputs, first_refusal)


def test_step_is_pure_and_deterministic_through_normal_case_view_change_and_catch_up() -> None:
    # normal case, with replica 3 cut off: two blocks, a stable checkpoint
    states, sent = run(CONFIG, fresh_replicas(), REQUESTS[:2], to={0}, reachable={0, 1, 2}, stepper=checked_step)
    for vote in of_type(sent, Checkpoint):
        states[3], _, _ = checked_step(CONFIG, states[3], vote)
    # catch-up
    for _ in range(2):
        states[3], fetch, _ = checked_step(CONFIG, states[3], TimerFired(Timer.FETCH, CLOCK))
        states, _ = deliver_all(CONFIG, states, fetch, stepper=checked_step)
    assert state_root(states[3].ledger) == state_root(states[0].ledger)
    # a request that only prepares, then a view change that commits it
    states, _ = run(CONFIG, states, REQUESTS[2:3], drop=dropping(Commit), stepper=checked_step)
    outputs: list[Message] = []
    for replica in (1, 2, 3):
        states[replica], more, _ = checked_step(CONFIG, states[replica], TimerFired(Timer.VIEW_CHANGE, CLOCK))
        outputs.extend(more)
    states, sent = deliver_all(CONFIG, states, outputs, stepper=checked_step)
    assert of_type(sent, NewView)
    assert [state.height for state in states] == [3, 3, 3, 3]
    assert len({state_root(state.ledger) for state in states}) == 1


def test_step_is_pure_on_inputs_it_rejects() -> None:
    for pre_prepare, _ in BLOCK_CASES.values():
        checked_step(CONFIG, backup(), pre_prepare)
    states, _, new_view = new_view_1()
    for altered in altered_new_views(new_view).values():
        checked_step(CONFIG, states[2], altered)
    lagging, source, response = block_response_for_3()
    for unproven in altered_responses(response, source).values():
        checked_step(CONFIG, lagging, unproven)


def test_the_snapshot_sees_a_mutated_ledger() -> None:
    """Control for the purity check: changing the ledger in place is noticed."""
    state = backup()
    private = replace(state, ledger=copy.deepcopy(state.ledger))
    before = deep_snapshot(CONFIG, private, REQUEST)
    private.ledger.accounts.clear()
    assert deep_snapshot(CONFIG, private, REQUEST) != before


def test_two_identical_runs_send_identical_messages() -> None:
    first = run(CONFIG, fresh_replicas(), REQUESTS[:3])[1]
    second = run(CONFIG, fresh_replicas(), REQUESTS[:3])[1]
    assert first == second
    assert blocks_of(first) == blocks_of(second)


# === regressions of the review's findings ==========================================================================
EVERY_HEIGHT = make_config(checkpoint_interval=1)
"""A checkpoint at every height, so a stable checkpoint can overtake a replica's slot."""


def left_behind_at_height_1() -> tuple[list[ReplicaState], list[Message], list[Message]]:
    """Every replica holds REQUEST; replicas 0, 1 and 2 execute it without replica 3.
    Returns the states, the primary's first outputs and everything 0..2 sent."""
    states, outputs = submit(EVERY_HEIGHT, fresh_replicas(EVERY_HEIGHT), REQUEST)
    states, sent = deliver_all(EVERY_HEIGHT, states, outputs, reachable={0, 1, 2})
    assert [state.height for state in states] == [1, 1, 1, 0]
    return states, outputs, sent


def adopt_checkpoint_votes(state: ReplicaState, sent: list[Message]) -> ReplicaState:
    for vote in of_type(sent, Checkpoint):
        state, _, _ = step(EVERY_HEIGHT, state, vote)
    assert (state.stable.height, state.height) == (1, 0)
    return state


def view_change_of(state: ReplicaState) -> ViewChange:
    _, outputs, _ = fire(EVERY_HEIGHT, state, Timer.VIEW_CHANGE)
    view_changes = of_type(outputs, ViewChange)
    assert len(view_changes) == 1
    return view_changes[0]


def test_a_stable_checkpoint_that_overtakes_an_open_slot_closes_it() -> None:
    """Regression (review finding 1, path A): replica 3 has prepared height 1 when a
    quorum's checkpoint votes make height 1 stable; the prepares that arrive after
    must not give it a prepared certificate at or below its stable checkpoint, which
    would make every VIEW-CHANGE it sends invalid."""
    states, outputs, sent = left_behind_at_height_1()
    replica, answer, _ = step(EVERY_HEIGHT, states[3], of_type(outputs, PrePrepare)[0])
    assert replica.slot is not None and of_type(answer, Prepare)
    replica = adopt_checkpoint_votes(replica, sent)
    assert replica.slot is None, "height 1 is decided: the replica fetches it instead"
    for prepare in of_type(sent, Prepare):
        replica, _, _ = step(EVERY_HEIGHT, replica, prepare)
    assert replica.prepared == ()
    assert pbft.view_change_is_valid(EVERY_HEIGHT, view_change_of(replica))


def test_a_proposal_at_or_below_the_stable_checkpoint_is_not_prepared() -> None:
    """Regression (review finding 1, path B): a NEW-VIEW whose checkpoint is lower than
    replica 3's own re-proposes height 1, which replica 3's stable checkpoint already
    covers. It does not prepare it, and its next VIEW-CHANGE stays valid."""
    states, outputs, sent = left_behind_at_height_1()
    replica = adopt_checkpoint_votes(states[3], sent)
    pre_prepare = of_type(outputs, PrePrepare)[0]
    certificate = PreparedCertificate(pre_prepare, frozenset({0, 1, 2}))
    genesis = genesis_checkpoint(EVERY_HEIGHT)
    view_changes = tuple(ViewChange(1, genesis, (certificate,), sender) for sender in (0, 1, 2))
    checkpoint, proposals = new_view_proposals(EVERY_HEIGHT, 1, view_changes)
    assert checkpoint == genesis and [p.height for p in proposals] == [1]
    new_view = NewView(1, view_changes, checkpoint, proposals, 1)
    assert pbft.new_view_is_valid(EVERY_HEIGHT, new_view)
    replica, answer, _ = step(EVERY_HEIGHT, replica, new_view)
    assert (replica.view, replica.active) == (1, True)
    assert of_type(answer, Prepare) == [] and replica.slot is None
    assert pbft.view_change_is_valid(EVERY_HEIGHT, view_change_of(replica))


def test_a_primary_does_not_propose_at_or_below_its_stable_checkpoint() -> None:
    """The lower watermark binds the primary too (`within_watermarks`)."""
    states, _, sent = left_behind_at_height_1()
    assert not pbft.within_watermarks(EVERY_HEIGHT, adopt_checkpoint_votes(states[3], sent), 1)
    assert pbft.within_watermarks(EVERY_HEIGHT, states[3], 1)


def checkpoint_signed_by(signers: Iterable[int], height: int = 2, root: str = ROOT_A) -> CheckpointCertificate:
    return CheckpointCertificate(height, root, frozenset(signers))


def test_which_certificate_of_one_checkpoint_a_new_view_carries_does_not_matter() -> None:
    """Regression (review finding 3): two view changes carry certificates for one
    checkpoint with different signers. The NEW-VIEW is valid whichever it carries and
    in whatever order it lists its view changes, so renaming replicas (the checker's
    symmetry reduction) cannot turn a valid NEW-VIEW into an invalid one."""
    first, second = checkpoint_signed_by({0, 1, 2}), checkpoint_signed_by({0, 1, 3})
    view_changes = (
        ViewChange(1, first, (), 1),
        ViewChange(1, first, (), 2),
        ViewChange(1, second, (), 3),
    )
    for ordered in (view_changes, tuple(reversed(view_changes))):
        for carried in (first, second):
            assert pbft.new_view_is_valid(EVERY_HEIGHT, NewView(1, ordered, carried, (), 1))


@pytest.mark.parametrize(
    "carried",
    [
        checkpoint_signed_by({0, 1, 2}, height=1),
        checkpoint_signed_by({0, 1, 2}, root=ROOT_B),
        checkpoint_signed_by({0, 1}),
        checkpoint_signed_by({0, 1, 4}),
    ],
    ids=["another height", "another root", "too few signers", "a signer that is no replica"],
)
def test_a_new_view_must_carry_a_valid_certificate_of_the_chosen_checkpoint(carried: CheckpointCertificate) -> None:
    view_changes = tuple(ViewChange(1, checkpoint_signed_by({0, 1, 2}), (), sender) for sender in (1, 2, 3))
    assert pbft.new_view_is_valid(EVERY_HEIGHT, NewView(1, view_changes, checkpoint_signed_by({1, 2, 3}), (), 1))
    assert not pbft.new_view_is_valid(EVERY_HEIGHT, NewView(1, view_changes, carried, (), 1))


# === survivors of the mutation run (benchmarks/mutation_run.py) ======================================
def test_only_a_federation_task_goes_first_in_a_two_transaction_request() -> None:
    """A REPUTATION_UPDATE sorts after FEDERATION_TASK, an ATP_TRANSFER_LOCK before it:
    both are refused as the first of two (the rule is equality, not an order)."""
    primary = initial_replica_state(CONFIG, 0, CLOCK)
    for first in (reputation("r9"), lock("x9", amount=ATP)):
        assert_ignored(CONFIG, primary, ClientRequest((first, lock("x8", amount=ATP))))


def test_the_new_view_checkpoint_is_the_highest_whatever_the_order() -> None:
    """View changes whose checkpoints come highest first (4, then 2) still give 4."""
    high, low = checkpoint_signed_by({0, 1, 2}, height=4), checkpoint_signed_by({0, 1, 2}, height=2)
    view_changes = (ViewChange(1, high, (), 1), ViewChange(1, low, (), 2), ViewChange(1, low, (), 3))
    for ordered in (view_changes, tuple(reversed(view_changes))):
        checkpoint, _ = new_view_proposals(EVERY_HEIGHT, 1, ordered)
        assert checkpoint == high


def test_re_proposals_start_just_above_an_odd_checkpoint() -> None:
    """With a checkpoint at height 1, the first re-proposal is at height 2 (not 1 | 1)."""
    states, outputs = submit(EVERY_HEIGHT, fresh_replicas(EVERY_HEIGHT), REQUEST)
    states, _ = deliver_all(EVERY_HEIGHT, states, outputs)
    assert states[0].stable.height == 1
    second = proposal(block_on(states[0].ledger, REQUESTS[1].transactions))
    certificate = PreparedCertificate(second, frozenset({0, 1, 2}))
    view_changes = tuple(ViewChange(1, states[0].stable, (certificate,), sender) for sender in (1, 2, 3))
    checkpoint, proposals = new_view_proposals(EVERY_HEIGHT, 1, view_changes)
    assert checkpoint.height == 1 and [p.height for p in proposals] == [2]


def test_a_replica_that_installs_a_new_view_forgets_the_view_changes_for_it() -> None:
    """The new primary drops the view changes it built the NEW-VIEW from; a backup that
    had counted one for the new view (not enough to join) drops that count."""
    states, _, new_view = new_view_1()
    assert (states[1].view, states[1].active) == (1, True)
    assert [change for change in states[1].view_changes if change.new_view <= 1] == []
    _, _, view_changes = view_changes_to_view_1()
    backup_0, _, _ = step(CONFIG, initial_replica_state(CONFIG, 0, CLOCK), view_changes[1])
    assert (1, view_changes[1].sender) in backup_0.view_change_senders
    backup_0, _, _ = step(CONFIG, backup_0, new_view)
    assert (backup_0.view, backup_0.active) == (1, True)
    assert [pair for pair in backup_0.view_change_senders if pair[0] <= 1] == []


def test_checkpoints_at_large_heights_compare_by_value() -> None:
    """Heights are compared by value (ints above 256 are distinct objects in CPython)."""
    first = CheckpointCertificate(int("300"), ROOT_A, frozenset({0, 1, 2}))
    second = CheckpointCertificate(int("300"), ROOT_A, frozenset({1, 2, 3}))
    assert pbft.same_checkpoint(first, second)


def test_a_commit_certificate_for_another_height_than_its_block_is_invalid() -> None:
    block = block_on(GENESIS_LEDGER, REQUEST.transactions)
    for height in (block.header.height - 1, block.header.height + 1):
        certificate = CommitCertificate(0, height, block_hash(block.header), frozenset({0, 1, 2}))
        assert not pbft.commit_certificate_is_valid(CONFIG, certificate, block)
    right = CommitCertificate(0, block.header.height, block_hash(block.header), frozenset({0, 1, 2}))
    assert pbft.commit_certificate_is_valid(CONFIG, right, block)


def test_a_certificate_with_more_than_a_quorum_is_valid() -> None:
    """At least a quorum, not exactly one: every replica's commit counts."""
    block = block_on(GENESIS_LEDGER, REQUEST.transactions)
    everyone = CommitCertificate(0, block.header.height, block_hash(block.header), EVERYONE)
    assert len(EVERYONE) > CONFIG.quorum
    assert pbft.commit_certificate_is_valid(CONFIG, everyone, block)
    assert pbft.checkpoint_certificate_is_valid(CONFIG, CheckpointCertificate(2, ROOT_A, EVERYONE))


def test_a_new_stable_checkpoint_keeps_the_votes_above_it() -> None:
    """Votes for a higher checkpoint outlive the adoption of a lower one: with them a
    later vote still completes that quorum."""
    state = initial_replica_state(CONFIG, 3, CLOCK)
    for sender in (0, 1):
        state, _, _ = step(CONFIG, state, Checkpoint(4, ROOT_B, sender))
    for sender in (0, 1, 2):
        state, _, _ = step(CONFIG, state, Checkpoint(2, ROOT_A, sender))
    assert state.stable.height == 2
    assert [(vote.height, vote.sender) for vote in state.checkpoint_votes] == [(4, 0), (4, 1)]
    state, _, _ = step(CONFIG, state, Checkpoint(4, ROOT_B, 2))
    assert (state.stable.height, state.stable.state_root) == (4, ROOT_B)


def test_a_checkpoint_vote_below_the_stable_checkpoint_is_ignored() -> None:
    """Not only a vote at the stable height: one for any lower checkpoint is stale too."""
    state = initial_replica_state(CONFIG, 3, CLOCK)
    for sender in (0, 1, 2):
        state, _, _ = step(CONFIG, state, Checkpoint(4, ROOT_A, sender))
    assert state.stable.height == 4
    assert_ignored(CONFIG, state, Checkpoint(2, ROOT_B, 0))
    assert_ignored(CONFIG, state, Checkpoint(4, ROOT_A, 3))


def test_a_primary_whose_clock_is_not_ahead_proposes_just_after_the_last_block() -> None:
    """A correct primary's timestamp is max(last block's + 1, its clock): with the clock
    still at the last block's timestamp, the next block is stamped one millisecond later."""
    states, _ = run(CONFIG, fresh_replicas(), REQUESTS[:3], to={0})
    assert [block.header.timestamp_ms for block in states[0].blocks] == [CLOCK, CLOCK + 1, CLOCK + 2], (
        "first the clock, ahead of genesis; then, the clock standing still, last + 1 (from an even and an odd last)"
    )


def test_a_new_primary_needs_a_quorum_of_view_changes_for_the_view_itself() -> None:
    """Replica 1 is primary of views 1 and 1 + N. Waiting in view 1 with its own and one
    other VIEW-CHANGE for it, a VIEW-CHANGE for view 1 + N does not complete the quorum."""
    _, _, view_changes = view_changes_to_view_1()
    primary = initial_replica_state(CONFIG, 1, CLOCK)
    primary, _, _ = step(CONFIG, primary, REQUEST)
    primary, _, _ = fire(CONFIG, primary, Timer.VIEW_CHANGE)
    primary, outputs, _ = step(CONFIG, primary, view_changes[1])
    assert outputs == () and (primary.view, primary.active) == (1, False)
    later = replace(view_changes[2], new_view=1 + CONFIG.n)
    primary, outputs, _ = step(CONFIG, primary, later)
    assert of_type(outputs, NewView) == []
    assert (primary.view, primary.active) == (1, False)
    primary, outputs, _ = step(CONFIG, primary, view_changes[2])
    (new_view,) = of_type(outputs, NewView)
    assert {vc.new_view for vc in new_view.view_changes} == {1}


def test_the_new_primary_counts_a_view_change_from_a_lower_replica() -> None:
    """Replica 1, waiting in view 1 with its own VIEW-CHANGE, counts replica 0's (a
    sender below its own id is no duplicate)."""
    states, _ = prepared_everywhere()
    states[0], outputs0, _ = fire(CONFIG, states[0], Timer.VIEW_CHANGE)
    states[1], _, _ = fire(CONFIG, states[1], Timer.VIEW_CHANGE)
    (from_0,) = of_type(outputs0, ViewChange)
    primary, _, _ = step(CONFIG, states[1], from_0)
    assert sorted(vc.sender for vc in primary.view_changes) == [0, 1]


def test_installing_a_new_view_at_the_own_stable_checkpoint_keeps_its_certificate() -> None:
    """The low watermark only moves up: a NEW-VIEW whose checkpoint is the one this
    replica already holds stable (with other signers) leaves its certificate alone."""
    state = initial_replica_state(CONFIG, 3, CLOCK)
    for sender in (1, 2, 3):
        state, _, _ = step(CONFIG, state, Checkpoint(2, ROOT_A, sender))
    assert state.stable == checkpoint_signed_by({1, 2, 3})
    carried = checkpoint_signed_by({0, 1, 2})
    view_changes = tuple(ViewChange(1, carried, (), sender) for sender in (0, 1, 2))
    new_view = NewView(1, view_changes, carried, (), 1)
    assert pbft.new_view_is_valid(CONFIG, new_view)
    state, _, _ = step(CONFIG, state, new_view)
    assert (state.view, state.active) == (1, True)
    assert state.stable == checkpoint_signed_by({1, 2, 3})


def test_a_view_change_for_a_view_well_above_the_installed_one_still_counts_toward_joining() -> None:
    """Replica 0 hears replica 3 ask for view 5, then installs a NEW-VIEW for view 3: the
    request for view 5 (above view 3 + 1) is kept, so replica 2 asking for view 5 too
    makes f + 1 and replica 0 joins."""
    genesis = genesis_checkpoint(CONFIG)
    state, _, _ = step(CONFIG, initial_replica_state(CONFIG, 0, CLOCK), ViewChange(5, genesis, (), 3))
    assert state.view == 0 and (5, 3) in state.view_change_senders
    new_view = NewView(3, tuple(ViewChange(3, genesis, (), sender) for sender in (1, 2, 3)), genesis, (), 3)
    state, _, _ = step(CONFIG, state, new_view)
    assert (state.view, state.active) == (3, True)
    assert (5, 3) in state.view_change_senders
    state, outputs, _ = step(CONFIG, state, ViewChange(5, genesis, (), 2))
    assert (state.view, state.active) == (5, False)
    assert [(m.new_view, m.sender) for m in of_type(outputs, ViewChange)] == [(5, 0)]
