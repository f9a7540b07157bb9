"""PBFT consensus: every replica is a pure, deterministic step function.

    step(config, state, input) -> StepResult(new state, outputs, refusal)

An input is a client request, a delivered message or a fired timer; the outputs
are messages, each broadcast to every replica (a BLOCK-RESPONSE names the one
replica it is for). The refusal is None when the replica took the input, and
otherwise names why it ignored it (`spec.refusals`): each handler below first asks
a function named `..._refusal` for the reason, if any, then acts.

Nothing in here reads a clock, draws a random number or does I/O: the shell that
runs a replica does that and calls `step`.

Messages reach `step` already authenticated. On the wire every message travels in
a signed envelope: its sender's Ed25519 signature under its kind's domain tag, and
the signature of every vote its certificates count. A node's boundary calls
`spec.wire.decoding.authenticated_message_from_bytes` on each frame once, before
`step`, so here a message's `sender` and a certificate's signer sets are facts.

Sequence numbers are block heights. A replica agrees on one height at a time: it
can validate a block only against the ledger state the previous block produced,
so it prepares height h + 1 only after it has executed height h. A message that a
replica cannot use yet (a vote for a height it has not reached, a pre-prepare for
a view it is not in) is dropped: the network may deliver it again, which is how
the model covers delay without a per-replica buffer.

Quorums: with N replicas and f = floor((N - 1) / 3) faulty ones tolerated, a
quorum is ceil((N + f + 1) / 2) replicas. Any two quorums then share at least
f + 1 replicas, one of them correct; 2f + 1 does that only when N = 3f + 1.
"""

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from spec.codes import ResultCode
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.ledger import apply_block, make_header, validate_static
from spec.refusals import Refusal
from spec.state import Chain
from spec.wire.encoding import block_hash, transaction_hash
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Digest,
    Input,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ReplicaId,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block


# --- sizes -----------------------------------------------------------------------------
def fault_tolerance(n: int) -> int:
    """f: how many faulty replicas N replicas tolerate."""
    return (n - 1) // 3


def quorum_size(n: int, f: int) -> int:
    """ceil((N + f + 1) / 2): the smallest size at which two quorums always share a
    correct replica (|Q1 ∩ Q2| >= 2q - N >= f + 1)."""
    return (n + f + 2) // 2


def primary_of(view: int, n: int) -> ReplicaId:
    return view % n


# --- configuration -----------------------------------------------------------------------
@dataclass(frozen=True)
class ConsensusConfig:
    """What every replica of one consensus group agrees on before it starts."""

    chain: Chain
    genesis_state: LedgerState = field(compare=False, repr=False)
    platforms: tuple[str, ...]
    """Replica i is platform `platforms[i]` (the genesis order)."""
    f: int
    quorum: int
    checkpoint_interval: int
    watermark_window: int
    max_block_transactions: int

    @property
    def n(self) -> int:
        return len(self.platforms)




# --- replica state -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Slot:
    """The one height a replica is agreeing on, in its current view."""

    pre_prepare: PrePrepare
    prepares: frozenset[ReplicaId]
    """Replicas whose prepare matched, the primary (by its pre-prepare) included.
    It stops growing at a quorum: once prepared, more prepares change nothing."""
    commits: frozenset[ReplicaId]
    """Matching commits; collected only once prepared."""


@dataclass(frozen=True, slots=True)
class ReplicaState:
    replica: ReplicaId
    view: int
    active: bool
    """True: normal operation in `view`. False: this replica sent VIEW-CHANGE for
    `view` and waits for its NEW-VIEW."""
    clock_ms: int
    ledger: LedgerState = field(compare=False, repr=False)
    """The state after the executed blocks. A function of `executed`, so it takes
    no part in equality."""
    executed: tuple[Digest, ...]
    """Digests of the executed blocks, height 1 first."""
    blocks: tuple[Block, ...] = field(compare=False, repr=False)
    """The executed blocks themselves (a function of `executed`)."""
    commit_certificates: tuple[CommitCertificate, ...]
    """The certificate each executed block committed with, to serve catch-up."""
    pending: tuple[tuple[AnyTransaction, ...], ...]
    """Client requests not yet in an executed block, in proposal order."""
    slot: Slot | None
    prepared: tuple[PreparedCertificate, ...]
    """For each height above the stable checkpoint that this replica prepared, the
    certificate from its highest view. View changes carry them."""
    stable: CheckpointCertificate
    checkpoint_votes: tuple[Checkpoint, ...]
    """Votes received for heights above the stable checkpoint."""
    view_changes: tuple[ViewChange, ...]
    """Valid view changes for views this replica is the primary of, at or above
    `view` (its own included): what its NEW-VIEW is built from."""
    view_change_senders: frozenset[tuple[int, ReplicaId]]
    """(view, sender) of every valid view change received for a view above
    `view`: enough for the rule that joins f + 1 of them."""
    view_proposals: tuple[PrePrepare, ...]
    """The re-proposals of the NEW-VIEW that started the current view."""
    known_height: int
    """The highest height this replica knows a correct replica has executed: from f + 1
    matching checkpoint votes, a stable checkpoint, or a NEW-VIEW's checkpoint."""

    @property
    def height(self) -> int:
        """Height of the last executed block."""
        return len(self.executed)


Transition = tuple[ReplicaState, tuple[Message, ...]]
"""What a replica does once it took an input: its new state and the messages it sends."""


class StepResult(NamedTuple):
    """What `step` returns: the new state, the messages to send, and why the input
    was ignored (None: it was taken, even if nothing is sent)."""

    state: ReplicaState
    outputs: tuple[Message, ...]
    refusal: Refusal | None


def refused(state: ReplicaState, refusal: Refusal) -> StepResult:
    """The input is ignored: the state stays as it was and nothing is sent."""
    return StepResult(state, (), refusal)


def accepted(transition: Transition) -> StepResult:
    state, outputs = transition
    return StepResult(state, outputs, None)


def initial_replica_state(config: ConsensusConfig, replica: ReplicaId, clock_ms: int) -> ReplicaState:
    genesis = genesis_checkpoint(config)
    return ReplicaState(
        replica=replica,
        view=0,
        active=True,
        clock_ms=clock_ms,
        ledger=config.genesis_state,
        executed=(),
        blocks=(),
        commit_certificates=(),
        pending=(),
        slot=None,
        prepared=(),
        stable=genesis,
        checkpoint_votes=(),
        view_changes=(),
        view_change_senders=frozenset(),
        view_proposals=(),
        known_height=0,
    )


def genesis_checkpoint(config: ConsensusConfig) -> CheckpointCertificate:
    return CheckpointCertificate(0, state_root(config.genesis_state), frozenset())


# --- the step function -------------------------------------------------------------------------
def step(config: ConsensusConfig, state: ReplicaState, event: Input) -> StepResult:
    """The whole replica: one input in; the new state, the messages to send out, and
    the refusal if the input was ignored."""
    if isinstance(event, ClientRequest):
        return on_client_request(config, state, event)
    if isinstance(event, TimerFired):
        return on_timer(config, state, event)
    if isinstance(event, PrePrepare):
        return on_pre_prepare(config, state, event)
    if isinstance(event, Prepare):
        return on_prepare(config, state, event)
    if isinstance(event, Commit):
        return on_commit(config, state, event)
    if isinstance(event, Checkpoint):
        return on_checkpoint(config, state, event)
    if isinstance(event, ViewChange):
        return on_view_change(config, state, event)
    if isinstance(event, NewView):
        return on_new_view(config, state, event)
    if isinstance(event, BlockRequest):
        return on_block_request(state, event)
    return on_block_response(config, state, event)


# --- client requests and proposals --------------------------------------------------------------
PROPOSAL_RANK: dict[str, int] = {
    "BALANCE_SET": 0,
    "ATP_TRANSFER_LOCK": 1,
    "FEDERATION_TASK": 1,
    "EXECUTION_PROOF": 2,
    "ATP_TRANSFER_COMMIT": 3,
    "ATP_TRANSFER_ROLLBACK": 3,
    "REPUTATION_UPDATE": 4,
}
"""A correct primary proposes pending requests that create things first and those
that settle them after,
so that a task and its proof that wait together land in a working order. Any
order is valid for the other replicas; this is only the correct primary's policy."""


def proposal_order(request: tuple[AnyTransaction, ...]) -> tuple[int, str]:
    first = request[0]
    return PROPOSAL_RANK[first.type], transaction_hash(first).hex()


def request_shape_refusal(request: tuple[AnyTransaction, ...]) -> Refusal | None:
    """A request is one transaction, or a FEDERATION_TASK and its LOCK."""
    if len(request) == 0 or len(request) > 2:
        return Refusal.REQUEST_MALFORMED
    if len(request) == 2 and request[0].type != "FEDERATION_TASK":
        return Refusal.REQUEST_MALFORMED
    return None


def request_refusal(config: ConsensusConfig, request: tuple[AnyTransaction, ...]) -> Refusal | None:
    """A well-shaped request fits in a block, and each of its transactions passes the
    static checks."""
    if len(request) > config.max_block_transactions:
        return Refusal.REQUEST_LARGER_THAN_BLOCK
    for index in range(len(request)):
        following = request[index + 1] if index + 1 < len(request) else None
        if validate_static(config.chain, request[index], following) != ResultCode.OK:
            return Refusal.REQUEST_TRANSACTION_INVALID
    return None


def client_request_refusal(
    config: ConsensusConfig, state: ReplicaState, request: tuple[AnyTransaction, ...]
) -> Refusal | None:
    """The shape first: whether a request is pending or executed is asked of its first
    transaction, which an empty request does not have."""
    shape = request_shape_refusal(request)
    if shape is not None:
        return shape
    if request in state.pending:
        return Refusal.REQUEST_ALREADY_PENDING
    if request_is_executed(state, request):
        return Refusal.REQUEST_ALREADY_EXECUTED
    return request_refusal(config, request)


def on_client_request(config: ConsensusConfig, state: ReplicaState, event: ClientRequest) -> StepResult:
    request = event.transactions
    refusal = client_request_refusal(config, state, request)
    if refusal is not None:
        return refused(state, refusal)
    pending = tuple(sorted(state.pending + (request,), key=proposal_order))
    return accepted(maybe_propose(config, replace(state, pending=pending)))


def request_is_executed(state: ReplicaState, request: tuple[AnyTransaction, ...]) -> bool:
    for block in state.blocks:
        if request[0] in block.transactions:
            return True
    return False


def is_primary(config: ConsensusConfig, state: ReplicaState) -> bool:
    return primary_of(state.view, config.n) == state.replica


def proposal_from_new_view(state: ReplicaState, height: int) -> PrePrepare | None:
    """The pre-prepare the current view's NEW-VIEW fixed for `height`, if any.
    Such a height is decided by the NEW-VIEW alone: no other pre-prepare counts."""
    for pre_prepare in state.view_proposals:
        if pre_prepare.height == height:
            return pre_prepare
    return None


def block_transactions(
    config: ConsensusConfig, requests: tuple[tuple[AnyTransaction, ...], ...]
) -> tuple[AnyTransaction, ...]:
    """The transactions of a correct primary's block: whole requests, in the given
    (proposal) order, as many as fit in `max_block_transactions`."""
    transactions: list[AnyTransaction] = []
    for request in requests:
        if len(transactions) + len(request) > config.max_block_transactions:
            break
        transactions.extend(request)
    return tuple(transactions)


def maybe_propose(config: ConsensusConfig, state: ReplicaState) -> Transition:
    """A correct primary with nothing in flight proposes its pending requests in a
    fresh block, unless the NEW-VIEW already fixed this height. (Not proposing is
    not a refusal: the input that led here was taken.)"""
    if not state.active or not is_primary(config, state) or state.slot is not None:
        return state, ()
    height = state.height + 1
    if state.known_height >= height:
        return state, ()
    txs = block_transactions(config, state.pending)
    if len(txs) == 0:
        return state, ()
    timestamp = max(state.ledger.last_timestamp_ms + 1, state.clock_ms)
    header = make_header(state.ledger, timestamp, config.platforms[state.replica], txs)
    block = Block(header=header, transactions=txs)
    pre_prepare = PrePrepare(state.view, height, block_hash(header), block, state.replica)
    if pre_prepare_refusal(config, state, pre_prepare) is not None:
        return state, ()  # above the high watermark, say: the primary waits for a checkpoint
    return accept_pre_prepare(config, state, pre_prepare, announce=True)


# --- normal case: pre-prepare, prepare, commit ---------------------------------------------------
def proposal_refusal(config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare) -> Refusal | None:
    """Before preparing, a replica checks the proposal against its own ledger."""
    block = pre_prepare.block
    if block.header.height != pre_prepare.height:
        return Refusal.BLOCK_HEIGHT_MISMATCH
    if block_hash(block.header) != pre_prepare.digest:
        return Refusal.DIGEST_MISMATCH
    if block.header.timestamp_ms > state.clock_ms + MAX_CLOCK_SKEW_MS:
        return Refusal.TIMESTAMP_AHEAD_OF_CLOCK
    _, receipt = apply_block(config.chain, state.ledger, block)
    if receipt.code != ResultCode.OK:
        return Refusal.BLOCK_INVALID
    return None


def view_refusal(state: ReplicaState, view: int) -> Refusal | None:
    """A message of the normal case counts only in the view the replica works in."""
    if view < state.view:
        return Refusal.STALE_VIEW
    if view > state.view:
        return Refusal.FUTURE_VIEW
    if not state.active:
        return Refusal.AWAITING_NEW_VIEW
    return None


def delivered_pre_prepare_refusal(config: ConsensusConfig, state: ReplicaState, message: PrePrepare) -> Refusal | None:
    """A PRE-PREPARE from the network: this view's, from its primary (a replica took
    its own proposal when it made it), for a height the NEW-VIEW left open; then the
    checks every proposal passes."""
    refusal = view_refusal(state, message.view)
    if refusal is not None:
        return refusal
    if message.sender != primary_of(message.view, config.n):
        return Refusal.NOT_FROM_PRIMARY
    if message.sender == state.replica:
        return Refusal.OWN_MESSAGE
    if proposal_from_new_view(state, message.height) is not None:
        return Refusal.FIXED_BY_NEW_VIEW
    return pre_prepare_refusal(config, state, message)


def on_pre_prepare(config: ConsensusConfig, state: ReplicaState, message: PrePrepare) -> StepResult:
    refusal = delivered_pre_prepare_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    return accepted(accept_pre_prepare(config, state, message))


def pre_prepare_refusal(config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare) -> Refusal | None:
    """Whether this replica may prepare `pre_prepare` as this view's proposal for
    its next height: the checks every proposal passes, its own primary's included."""
    if pre_prepare.height != state.height + 1:
        return Refusal.HEIGHT_NOT_NEXT
    if state.slot is not None:
        return Refusal.PROPOSAL_ALREADY_TAKEN
    if not within_watermarks(config, state, pre_prepare.height):
        return Refusal.OUTSIDE_WATERMARKS
    return proposal_refusal(config, state, pre_prepare)


def accept_pre_prepare(
    config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare, announce: bool = False
) -> Transition:
    """Take `pre_prepare` as this view's proposal for the next height (it passed
    `pre_prepare_refusal`). `announce`: the primary broadcasts a fresh proposal."""
    primary = primary_of(pre_prepare.view, config.n)
    outputs: tuple[Message, ...] = ()
    if announce:
        outputs = (pre_prepare,)
    elif state.replica != primary:
        outputs = (Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, state.replica),)
    slot = Slot(pre_prepare, frozenset({primary, state.replica}), frozenset())
    state, more = after_prepare_vote(config, replace(state, slot=slot))
    return state, outputs + more


def within_watermarks(config: ConsensusConfig, state: ReplicaState, height: int) -> bool:
    """A replica agrees only on heights above its stable checkpoint (below it the
    height is decided, and a certificate there would make its VIEW-CHANGEs invalid)
    and at most `watermark_window` above it."""
    return state.stable.height < height <= state.stable.height + config.watermark_window


def is_prepared(config: ConsensusConfig, slot: Slot) -> bool:
    return len(slot.prepares) >= config.quorum


def slot_vote_refusal(state: ReplicaState, vote: Prepare | Commit) -> Refusal | None:
    """A PREPARE or COMMIT counts only for the slot: this view, its height, its digest."""
    refusal = view_refusal(state, vote.view)
    if refusal is not None:
        return refusal
    if state.slot is None:
        return Refusal.NO_OPEN_SLOT
    if vote.height != state.slot.pre_prepare.height:
        return Refusal.VOTE_FOR_OTHER_HEIGHT
    if vote.digest != state.slot.pre_prepare.digest:
        return Refusal.VOTE_FOR_OTHER_BLOCK
    return None


def prepare_refusal(config: ConsensusConfig, state: ReplicaState, message: Prepare) -> Refusal | None:
    refusal = slot_vote_refusal(state, message)
    if refusal is not None:
        return refusal
    assert state.slot is not None  # slot_vote_refusal: the slot is open
    if message.sender in state.slot.prepares:
        return Refusal.DUPLICATE_VOTE
    if is_prepared(config, state.slot):
        return Refusal.ALREADY_PREPARED
    return None


def on_prepare(config: ConsensusConfig, state: ReplicaState, message: Prepare) -> StepResult:
    refusal = prepare_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    assert state.slot is not None
    slot = replace(state.slot, prepares=state.slot.prepares | {message.sender})
    return accepted(after_prepare_vote(config, replace(state, slot=slot)))


def after_prepare_vote(config: ConsensusConfig, state: ReplicaState) -> Transition:
    """On reaching a prepare quorum: keep the certificate, send COMMIT."""
    slot = state.slot
    assert slot is not None
    if not is_prepared(config, slot):
        return state, ()
    certificate = PreparedCertificate(slot.pre_prepare, slot.prepares)
    prepared = record_prepared(state.prepared, certificate)
    slot = replace(slot, commits=frozenset({state.replica}))
    commit = Commit(slot.pre_prepare.view, slot.pre_prepare.height, slot.pre_prepare.digest, state.replica)
    state, more = after_commit_vote(config, replace(state, slot=slot, prepared=prepared))
    return state, (commit,) + more


def record_prepared(
    prepared: tuple[PreparedCertificate, ...], certificate: PreparedCertificate
) -> tuple[PreparedCertificate, ...]:
    """Keep one certificate per height: the newest, which is the one from the highest
    view (a replica prepares in rising views)."""
    height = certificate.pre_prepare.height
    kept: list[PreparedCertificate] = []
    for existing in prepared:
        if existing.pre_prepare.height != height:
            kept.append(existing)
    kept.append(certificate)
    kept.sort(key=lambda c: c.pre_prepare.height)
    return tuple(kept)


def commit_refusal(config: ConsensusConfig, state: ReplicaState, message: Commit) -> Refusal | None:
    refusal = slot_vote_refusal(state, message)
    if refusal is not None:
        return refusal
    assert state.slot is not None  # slot_vote_refusal: the slot is open
    if not is_prepared(config, state.slot):
        return Refusal.NOT_YET_PREPARED
    if message.sender in state.slot.commits:
        return Refusal.DUPLICATE_VOTE
    return None


def on_commit(config: ConsensusConfig, state: ReplicaState, message: Commit) -> StepResult:
    refusal = commit_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    assert state.slot is not None
    slot = replace(state.slot, commits=state.slot.commits | {message.sender})
    return accepted(after_commit_vote(config, replace(state, slot=slot)))


def after_commit_vote(config: ConsensusConfig, state: ReplicaState) -> Transition:
    """On reaching a commit quorum: execute the block."""
    slot = state.slot
    assert slot is not None
    if len(slot.commits) < config.quorum:
        return state, ()
    pre_prepare = slot.pre_prepare
    certificate = CommitCertificate(pre_prepare.view, pre_prepare.height, pre_prepare.digest, slot.commits)
    return execute(config, state, pre_prepare.block, certificate)


# --- execution and checkpoints ----------------------------------------------------------------------
def execute(
    config: ConsensusConfig, state: ReplicaState, block: Block, certificate: CommitCertificate) -> Transition:
    """Apply a committed block to the ledger, in height order, then go on."""
    ledger, _ = apply_block(config.chain, state.ledger, block)
    pending: list[tuple[AnyTransaction, ...]] = []
    for request in state.pending:
        if request[0] not in block.transactions:
            pending.append(request)
    state = replace(
        state,
        ledger=ledger,
        executed=state.executed + (certificate.digest,),
        blocks=state.blocks + (block,),
        commit_certificates=state.commit_certificates + (certificate,),
        pending=tuple(pending),
        slot=None,
    )
    outputs: tuple[Message, ...] = ()
    if state.height % config.checkpoint_interval == 0:
        vote = Checkpoint(state.height, state_root(ledger), state.replica)
        outputs = (vote,)
        state = record_checkpoint_vote(config, state, vote)
    state, more = take_next_proposal(config, state)
    return state, outputs + more


def take_next_proposal(config: ConsensusConfig, state: ReplicaState) -> Transition:
    """Go on with the next height: the NEW-VIEW's proposal for it, or (as primary)
    a fresh one."""
    if not state.active:
        return state, ()
    fixed = proposal_from_new_view(state, state.height + 1)
    if fixed is None:
        return maybe_propose(config, state)
    if pre_prepare_refusal(config, state, fixed) is not None:
        return state, ()  # a slot still open, say: the checkpoint that led here came first
    return accept_pre_prepare(config, state, fixed)


def on_checkpoint(config: ConsensusConfig, state: ReplicaState, message: Checkpoint) -> StepResult:
    refusal = checkpoint_vote_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    before = state.stable.height
    state = record_checkpoint_vote(config, state, message)
    if state.stable.height == before:
        return StepResult(state, (), None)
    # The window moved up: a primary held back by the high watermark goes on.
    return accepted(take_next_proposal(config, state))


def checkpoint_vote_refusal(config: ConsensusConfig, state: ReplicaState, message: Checkpoint) -> Refusal | None:
    if message.height <= state.stable.height:
        return Refusal.CHECKPOINT_NOT_ABOVE_STABLE
    if message.height % config.checkpoint_interval != 0:
        return Refusal.CHECKPOINT_HEIGHT_NOT_ON_INTERVAL
    if message in state.checkpoint_votes:
        return Refusal.DUPLICATE_VOTE
    return None


def record_checkpoint_vote(config: ConsensusConfig, state: ReplicaState, message: Checkpoint) -> ReplicaState:
    """Count a checkpoint vote (this replica's own included); a quorum of matching
    votes makes the checkpoint stable."""
    if checkpoint_vote_refusal(config, state, message) is not None:
        return state
    votes = state.checkpoint_votes + (message,)
    signers: set[ReplicaId] = set()
    for vote in votes:
        if vote.height == message.height and vote.state_root == message.state_root:
            signers.add(vote.sender)
    state = replace(state, checkpoint_votes=tuple(sorted(votes, key=checkpoint_order)))
    if len(signers) >= config.f + 1 and message.height > state.known_height:
        # f + 1 matching votes include a correct replica: that height exists, and a
        # replica below it should fetch it (the block still needs its commit certificate).
        state = replace(state, known_height=message.height)
    if len(signers) < config.quorum:
        return state
    stable = CheckpointCertificate(message.height, message.state_root, frozenset(signers))
    return adopt_stable_checkpoint(state, stable)


def checkpoint_order(vote: Checkpoint) -> tuple[int, str, int]:
    return vote.height, vote.state_root, vote.sender


def adopt_stable_checkpoint(state: ReplicaState, stable: CheckpointCertificate) -> ReplicaState:
    """Move the low watermark up and forget what it makes unnecessary: votes and
    prepared certificates at or below it, and an open slot there (that height is
    decided; this replica fetches it)."""
    if stable.height <= state.stable.height:
        return state
    slot = state.slot
    if slot is not None and slot.pre_prepare.height <= stable.height:
        slot = None
    votes: list[Checkpoint] = []
    for vote in state.checkpoint_votes:
        if vote.height > stable.height:
            votes.append(vote)
    prepared: list[PreparedCertificate] = []
    for certificate in state.prepared:
        if certificate.pre_prepare.height > stable.height:
            prepared.append(certificate)
    return replace(
        state,
        stable=stable,
        slot=slot,
        checkpoint_votes=tuple(votes),
        prepared=tuple(prepared),
        known_height=max(state.known_height, stable.height),
    )


# --- view change ------------------------------------------------------------------------------------
def on_timer(config: ConsensusConfig, state: ReplicaState, event: TimerFired) -> StepResult:
    """A timer is never refused: it brings the clock, and may find nothing to do."""
    return accepted(timer_fired(config, state, event))


def timer_fired(config: ConsensusConfig, state: ReplicaState, event: TimerFired) -> Transition:
    if event.now_ms > state.clock_ms:
        state = replace(state, clock_ms=event.now_ms)
    if event.timer == Timer.FETCH:
        if state.known_height > state.height:
            return state, (BlockRequest(state.height + 1, state.replica),)
        return state, ()
    if not state.active:
        return start_view_change(config, state, state.view + 1)
    if len(state.pending) > 0:
        return start_view_change(config, state, state.view + 1)
    return state, ()


def start_view_change(config: ConsensusConfig, state: ReplicaState, new_view: int) -> Transition:
    """Leave the current view: stop agreeing, announce what this replica prepared,
    and ask for the block after its own. A replica may time out because it is behind
    a group that went idle: then nothing else would ever tell it (see Catch-up)."""
    message = ViewChange(new_view, state.stable, state.prepared, state.replica)
    request = BlockRequest(state.height + 1, state.replica)
    state = replace(state, view=new_view, active=False, slot=None, view_proposals=())
    state = forget_view_changes_below(state, new_view)
    state = record_view_change(config, state, message)
    state, more = maybe_send_new_view(config, state)
    return state, (message, request) + more


def record_view_change(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> ReplicaState:
    if primary_of(message.new_view, config.n) == state.replica:
        received = tuple(sorted(state.view_changes + (message,), key=view_change_order))
        state = replace(state, view_changes=received)
    if message.new_view > state.view:
        state = replace(state, view_change_senders=state.view_change_senders | {(message.new_view, message.sender)})
    return state


def forget_view_changes_below(state: ReplicaState, view: int) -> ReplicaState:
    """View changes for views below `view` can no longer matter; those for `view`
    itself only to its primary, while it waits for a quorum."""
    kept: list[ViewChange] = []
    for message in state.view_changes:
        if message.new_view >= view:
            kept.append(message)
    senders: set[tuple[int, ReplicaId]] = set()
    for pair in state.view_change_senders:
        if pair[0] > view:
            senders.add(pair)
    return replace(state, view_changes=tuple(kept), view_change_senders=frozenset(senders))


def view_change_order(message: ViewChange) -> tuple[int, int]:
    return message.new_view, message.sender


def checkpoint_certificate_is_valid(config: ConsensusConfig, certificate: CheckpointCertificate) -> bool:
    if certificate.height == 0:
        return certificate == genesis_checkpoint(config)
    if certificate.height % config.checkpoint_interval != 0:
        return False
    return len(certificate.signers) >= config.quorum and all_replicas(config, certificate.signers)


def all_replicas(config: ConsensusConfig, replicas: frozenset[ReplicaId]) -> bool:
    for replica in replicas:
        if replica < 0 or replica >= config.n:
            return False
    return True


def prepared_certificate_is_valid(config: ConsensusConfig, certificate: PreparedCertificate, before_view: int) -> bool:
    pre_prepare = certificate.pre_prepare
    if pre_prepare.view >= before_view or pre_prepare.sender != primary_of(pre_prepare.view, config.n):
        return False
    if (
        pre_prepare.block.header.height != pre_prepare.height
        or block_hash(pre_prepare.block.header) != pre_prepare.digest
    ):
        return False
    if pre_prepare.sender not in certificate.prepares:
        return False
    return len(certificate.prepares) >= config.quorum and all_replicas(config, certificate.prepares)


def view_change_is_valid(config: ConsensusConfig, message: ViewChange) -> bool:
    if not checkpoint_certificate_is_valid(config, message.checkpoint):
        return False
    previous_height = message.checkpoint.height
    for certificate in message.prepared:
        height = certificate.pre_prepare.height
        if height <= previous_height:
            return False  # heights must rise and lie above the checkpoint
        if not prepared_certificate_is_valid(config, certificate, message.new_view):
            return False
        previous_height = height
    return True


def view_to_enter_refusal(state: ReplicaState, view: int) -> Refusal | None:
    """A VIEW-CHANGE or NEW-VIEW for a view the replica left, or one it already works in."""
    if view < state.view:
        return Refusal.STALE_VIEW
    if view == state.view and state.active:
        return Refusal.VIEW_ALREADY_STARTED
    return None


def view_change_refusal(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> Refusal | None:
    refusal = view_to_enter_refusal(state, message.new_view)
    if refusal is not None:
        return refusal
    refusal = view_change_count_refusal(config, state, message)
    if refusal is not None:
        return refusal
    if not view_change_is_valid(config, message):
        return Refusal.VIEW_CHANGE_INVALID
    return None


def on_view_change(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> StepResult:
    refusal = view_change_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    state = record_view_change(config, state, message)
    join = view_to_join(config, state)
    if join is not None:
        return accepted(start_view_change(config, state, join))
    return accepted(maybe_send_new_view(config, state))


def view_change_count_refusal(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> Refusal | None:
    """Whether the replica already counted this sender's VIEW-CHANGE for the view, or
    needs none."""
    if (message.new_view, message.sender) in state.view_change_senders:
        return Refusal.VIEW_CHANGE_ALREADY_COUNTED
    if primary_of(message.new_view, config.n) != state.replica:
        if message.new_view == state.view:
            return Refusal.VIEW_CHANGE_NOT_NEEDED  # a backup waiting in this view needs no more of them
        return None
    for known in state.view_changes:
        if known.new_view == message.new_view and known.sender == message.sender:
            return Refusal.VIEW_CHANGE_ALREADY_COUNTED
    return None


def view_to_join(config: ConsensusConfig, state: ReplicaState) -> int | None:
    """f + 1 replicas asking for views above ours include a correct one: join the
    smallest view they ask for, so that a correct replica is never left behind."""
    senders: set[ReplicaId] = set()
    smallest: int | None = None
    for view, sender in state.view_change_senders:
        if view > state.view and sender != state.replica:
            senders.add(sender)
            if smallest is None or view < smallest:
                smallest = view
    if len(senders) >= config.f + 1:
        return smallest
    return None


def view_changes_for(state: ReplicaState, view: int) -> tuple[ViewChange, ...]:
    found: list[ViewChange] = []
    for message in state.view_changes:
        if message.new_view == view:
            found.append(message)
    return tuple(found)


def new_view_proposals(
    config: ConsensusConfig, view: int, view_changes: tuple[ViewChange, ...]
) -> tuple[CheckpointCertificate, tuple[PrePrepare, ...]]:
    """What a NEW-VIEW must carry, computed from its view changes.

    The checkpoint is the highest stable one among them (any of its certificates:
    see `same_checkpoint`). Above it, each height is
    re-proposed with the block of its prepared certificate from the highest view,
    unchanged, up to the first height no certificate covers."""
    checkpoint = genesis_checkpoint(config)
    for message in view_changes:
        if message.checkpoint.height > checkpoint.height:
            checkpoint = message.checkpoint
    best: dict[int, PreparedCertificate] = {}
    for message in view_changes:
        for certificate in message.prepared:
            height = certificate.pre_prepare.height
            current = best.get(height)
            if current is None or certificate_rank(certificate) > certificate_rank(current):
                best[height] = certificate
    proposals: list[PrePrepare] = []
    height = checkpoint.height + 1
    primary = primary_of(view, config.n)
    while height in best:
        chosen = best[height].pre_prepare
        proposals.append(PrePrepare(view, height, chosen.digest, chosen.block, primary))
        height += 1
    return checkpoint, tuple(proposals)


def certificate_rank(certificate: PreparedCertificate) -> tuple[int, str]:
    """Highest view wins; the digest only breaks ties that valid certificates
    cannot produce, so that the choice is deterministic anyway."""
    return certificate.pre_prepare.view, certificate.pre_prepare.digest


def maybe_send_new_view(config: ConsensusConfig, state: ReplicaState) -> Transition:
    """The primary of the view this replica is moving to starts it on a quorum."""
    if state.active or not is_primary(config, state):
        return state, ()
    view_changes = view_changes_for(state, state.view)
    if len(view_changes) < config.quorum:
        return state, ()
    checkpoint, proposals = new_view_proposals(config, state.view, view_changes)
    message = NewView(state.view, view_changes, checkpoint, proposals, state.replica)
    state, more = install_new_view(config, state, message)
    return state, (message,) + more


def same_checkpoint(first: CheckpointCertificate, second: CheckpointCertificate) -> bool:
    """Two stable checkpoints say the same thing when height and root agree: which
    quorum signed is not part of it. (Several view changes may carry certificates
    for one checkpoint with different signers; which one a NEW-VIEW carries must not
    matter, or its validity would depend on the order of its view changes.)"""
    return first.height == second.height and first.state_root == second.state_root


def new_view_is_valid(config: ConsensusConfig, message: NewView) -> bool:
    if message.sender != primary_of(message.view, config.n):
        return False
    senders: set[ReplicaId] = set()
    for view_change in message.view_changes:
        if view_change.new_view != message.view or view_change.sender in senders:
            return False
        if not view_change_is_valid(config, view_change):
            return False
        senders.add(view_change.sender)
    if len(senders) < config.quorum:
        return False
    checkpoint, proposals = new_view_proposals(config, message.view, message.view_changes)
    if not same_checkpoint(checkpoint, message.checkpoint) or proposals != message.proposals:
        return False
    if not checkpoint_certificate_is_valid(config, message.checkpoint):
        return False
    for index in range(len(proposals)):
        if proposals[index].block != message.proposals[index].block:
            return False  # equal digests, but a block that does not hash to it
    return True


def new_view_refusal(config: ConsensusConfig, state: ReplicaState, message: NewView) -> Refusal | None:
    refusal = view_to_enter_refusal(state, message.view)
    if refusal is not None:
        return refusal
    if not new_view_is_valid(config, message):
        return Refusal.NEW_VIEW_INVALID
    return None


def on_new_view(config: ConsensusConfig, state: ReplicaState, message: NewView) -> StepResult:
    refusal = new_view_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    return accepted(install_new_view(config, state, message))


def install_new_view(config: ConsensusConfig, state: ReplicaState, message: NewView) -> Transition:
    """Enter `message.view` and take its proposal for the next height, if it has one."""
    state = replace(state, view=message.view, active=True, slot=None, view_proposals=message.proposals)
    state = forget_view_changes_below(state, message.view + 1)
    state = adopt_stable_checkpoint(state, message.checkpoint)
    votes = votes_for_executed_proposals(config, state, message)
    state, more = take_next_proposal(config, state)
    return state, votes + more


def votes_for_executed_proposals(config: ConsensusConfig, state: ReplicaState, message: NewView) -> tuple[Message, ...]:
    """A replica that already executed a re-proposed block votes for it again in the
    new view, so that replicas which had not executed it can commit it here."""
    votes: list[Message] = []
    primary = primary_of(message.view, config.n)
    for proposal in message.proposals:
        if proposal.height > state.height or state.executed[proposal.height - 1] != proposal.digest:
            continue
        if state.replica != primary:
            votes.append(Prepare(message.view, proposal.height, proposal.digest, state.replica))
        votes.append(Commit(message.view, proposal.height, proposal.digest, state.replica))
    return tuple(votes)


# --- catch-up ---------------------------------------------------------------------------------------
def block_request_refusal(state: ReplicaState, message: BlockRequest) -> Refusal | None:
    if message.sender == state.replica:
        return Refusal.OWN_MESSAGE
    if message.height < 1:
        return Refusal.HEIGHT_BELOW_FIRST_BLOCK
    if message.height > state.height:
        return Refusal.BLOCK_NOT_YET_EXECUTED
    return None


def on_block_request(state: ReplicaState, message: BlockRequest) -> StepResult:
    refusal = block_request_refusal(state, message)
    if refusal is not None:
        return refused(state, refusal)
    index = message.height - 1
    response = BlockResponse(state.blocks[index], state.commit_certificates[index], message.sender, state.replica)
    return StepResult(state, (response,), None)


def commit_certificate_is_valid(config: ConsensusConfig, certificate: CommitCertificate, block: Block) -> bool:
    if block.header.height != certificate.height or block_hash(block.header) != certificate.digest:
        return False
    return len(certificate.commits) >= config.quorum and all_replicas(config, certificate.commits)


def block_response_refusal(config: ConsensusConfig, state: ReplicaState, message: BlockResponse) -> Refusal | None:
    """A quorum's commits, not the responder's word, make the block acceptable."""
    certificate = message.certificate
    if message.requester != state.replica:
        return Refusal.RESPONSE_FOR_OTHER_REPLICA
    if certificate.height != state.height + 1:
        return Refusal.HEIGHT_NOT_NEXT
    if not commit_certificate_is_valid(config, certificate, message.block):
        return Refusal.COMMIT_CERTIFICATE_INVALID
    _, receipt = apply_block(config.chain, state.ledger, message.block)
    if receipt.code != ResultCode.OK:
        return Refusal.BLOCK_INVALID
    return None


def on_block_response(config: ConsensusConfig, state: ReplicaState, message: BlockResponse) -> StepResult:
    refusal = block_response_refusal(config, state, message)
    if refusal is not None:
        return refused(state, refusal)
    certificate = message.certificate
    votes = votes_for_caught_up_proposal(config, state, certificate)
    state, outputs = execute(config, replace(state, slot=None), message.block, certificate)
    if not state.active:
        # Still waiting for a NEW-VIEW: it may be further behind than anyone told it.
        outputs = outputs + (BlockRequest(state.height + 1, state.replica),)
    return StepResult(state, votes + outputs, None)


def votes_for_caught_up_proposal(
    config: ConsensusConfig, state: ReplicaState, certificate: CommitCertificate
) -> tuple[Message, ...]:
    """A replica in a view whose NEW-VIEW re-proposed the block it now executes by
    catch-up votes for it in that view, as `votes_for_executed_proposals` does for
    one executed before the NEW-VIEW came: the others of the view may still need
    its commit (with a faulty replica silent, a quorum needs every correct one)."""
    if not state.active:
        return ()
    proposal = proposal_from_new_view(state, certificate.height)
    if proposal is None or proposal.digest != certificate.digest:
        return ()
    votes: list[Message] = []
    if state.replica != primary_of(state.view, config.n):
        votes.append(Prepare(state.view, proposal.height, proposal.digest, state.replica))
    votes.append(Commit(state.view, proposal.height, proposal.digest, state.replica))
    return tuple(votes)
