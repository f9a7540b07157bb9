"""PBFT consensus: every replica is a pure, deterministic step function.

    step(config, state, input) -> (new state, outputs)

An input is a client request, a delivered message or a fired timer; the outputs
are messages, each broadcast to every replica (a BLOCK-RESPONSE names the one
replica it is for). Nothing in here reads a clock, draws a random number or does
I/O: the shell that runs a replica does that and calls `step`.

Messages reach `step` already authenticated. On the wire every message is signed
with its sender's Ed25519 key under its own domain tag (`spec.encoding`), and a
certificate carries the signature of every vote it counts; the boundary verifies
them, so here a message's `sender` and a certificate's signer sets are facts.

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

from spec.codes import ResultCode
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.ledger import apply_block, make_header, validate_static
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


Step = tuple[ReplicaState, tuple[Message, ...]]


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
def step(config: ConsensusConfig, state: ReplicaState, event: Input) -> Step:
    """The whole replica: one input in, the new state and the messages to send out."""
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


def request_is_proposable(config: ConsensusConfig, request: tuple[AnyTransaction, ...]) -> bool:
    """A request is one transaction, or a FEDERATION_TASK and its LOCK; each passes
    the static checks, and the request fits in a block."""
    if len(request) == 0 or len(request) > 2 or len(request) > config.max_block_transactions:
        return False
    if len(request) == 2 and request[0].type != "FEDERATION_TASK":
        return False
    for index in range(len(request)):
        following = request[index + 1] if index + 1 < len(request) else None
        if validate_static(config.chain, request[index], following) != ResultCode.OK:
            return False
    return True


def on_client_request(config: ConsensusConfig, state: ReplicaState, event: ClientRequest) -> Step:
    request = event.transactions
    if request in state.pending or request_is_executed(state, request):
        return state, ()
    if not request_is_proposable(config, request):
        return state, ()
    pending = tuple(sorted(state.pending + (request,), key=proposal_order))
    return maybe_propose(config, replace(state, pending=pending))


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


def maybe_propose(config: ConsensusConfig, state: ReplicaState) -> Step:
    """A correct primary with nothing in flight proposes its pending requests in a
    fresh block, unless the NEW-VIEW already fixed this height."""
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
    return accept_pre_prepare(config, state, pre_prepare, announce=True)


# --- normal case: pre-prepare, prepare, commit ---------------------------------------------------
def proposal_is_acceptable(
    config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare) -> bool:
    """Before preparing, a replica checks the proposal against its own ledger."""
    block = pre_prepare.block
    if block.header.height != pre_prepare.height:
        return False
    if block_hash(block.header) != pre_prepare.digest:
        return False
    if block.header.timestamp_ms > state.clock_ms + MAX_CLOCK_SKEW_MS:
        return False
    _, receipt = apply_block(config.chain, state.ledger, block)
    return receipt.code == ResultCode.OK


def on_pre_prepare(config: ConsensusConfig, state: ReplicaState, message: PrePrepare) -> Step:
    if not state.active or message.view != state.view:
        return state, ()
    if message.sender != primary_of(message.view, config.n) or message.sender == state.replica:
        return state, ()
    if proposal_from_new_view(state, message.height) is not None:
        return state, ()
    return accept_pre_prepare(config, state, message)


def accept_pre_prepare(
    config: ConsensusConfig, state: ReplicaState, pre_prepare: PrePrepare, announce: bool = False
) -> Step:
    """Take `pre_prepare` as this view's proposal for the next height, if it is one
    this replica may prepare. `announce`: the primary broadcasts a fresh proposal."""
    if state.slot is not None or pre_prepare.height != state.height + 1:
        return state, ()
    if not within_watermarks(config, state, pre_prepare.height):
        return state, ()
    if not proposal_is_acceptable(config, state, pre_prepare):
        return state, ()
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


def on_prepare(config: ConsensusConfig, state: ReplicaState, message: Prepare) -> Step:
    slot = state.slot
    if slot is None or not state.active or message.view != state.view:
        return state, ()
    if message.height != slot.pre_prepare.height or message.digest != slot.pre_prepare.digest:
        return state, ()
    if message.sender in slot.prepares or is_prepared(config, slot):
        return state, ()
    slot = replace(slot, prepares=slot.prepares | {message.sender})
    return after_prepare_vote(config, replace(state, slot=slot))


def after_prepare_vote(config: ConsensusConfig, state: ReplicaState) -> Step:
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


def on_commit(config: ConsensusConfig, state: ReplicaState, message: Commit) -> Step:
    slot = state.slot
    if slot is None or not state.active or message.view != state.view:
        return state, ()
    if message.height != slot.pre_prepare.height or message.digest != slot.pre_prepare.digest:
        return state, ()
    if not is_prepared(config, slot) or message.sender in slot.commits:
        return state, ()
    slot = replace(slot, commits=slot.commits | {message.sender})
    return after_commit_vote(config, replace(state, slot=slot))


def after_commit_vote(config: ConsensusConfig, state: ReplicaState) -> Step:
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
    config: ConsensusConfig, state: ReplicaState, block: Block, certificate: CommitCertificate) -> Step:
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


def take_next_proposal(config: ConsensusConfig, state: ReplicaState) -> Step:
    """Go on with the next height: the NEW-VIEW's proposal for it, or (as primary)
    a fresh one."""
    if not state.active:
        return state, ()
    fixed = proposal_from_new_view(state, state.height + 1)
    if fixed is not None:
        return accept_pre_prepare(config, state, fixed)
    return maybe_propose(config, state)


def on_checkpoint(config: ConsensusConfig, state: ReplicaState, message: Checkpoint) -> Step:
    before = state.stable.height
    state = record_checkpoint_vote(config, state, message)
    if state.stable.height == before:
        return state, ()
    # The window moved up: a primary held back by the high watermark goes on.
    return take_next_proposal(config, state)


def record_checkpoint_vote(config: ConsensusConfig, state: ReplicaState, message: Checkpoint) -> ReplicaState:
    """Count a checkpoint vote (this replica's own included); a quorum of matching
    votes makes the checkpoint stable."""
    if message.height <= state.stable.height or message.height % config.checkpoint_interval != 0:
        return state
    if message in state.checkpoint_votes:
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
def on_timer(config: ConsensusConfig, state: ReplicaState, event: TimerFired) -> Step:
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


def start_view_change(config: ConsensusConfig, state: ReplicaState, new_view: int) -> Step:
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


def on_view_change(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> Step:
    if message.new_view < state.view or (message.new_view == state.view and state.active):
        return state, ()
    if already_counted(config, state, message):
        return state, ()
    if not view_change_is_valid(config, message):
        return state, ()
    state = record_view_change(config, state, message)
    join = view_to_join(config, state)
    if join is not None:
        return start_view_change(config, state, join)
    return maybe_send_new_view(config, state)


def already_counted(config: ConsensusConfig, state: ReplicaState, message: ViewChange) -> bool:
    if (message.new_view, message.sender) in state.view_change_senders:
        return True
    if primary_of(message.new_view, config.n) != state.replica:
        return message.new_view == state.view  # a backup waiting in this view needs no more of them
    for known in state.view_changes:
        if known.new_view == message.new_view and known.sender == message.sender:
            return True
    return False


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


def maybe_send_new_view(config: ConsensusConfig, state: ReplicaState) -> Step:
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


def on_new_view(config: ConsensusConfig, state: ReplicaState, message: NewView) -> Step:
    if message.view < state.view or (message.view == state.view and state.active):
        return state, ()
    if not new_view_is_valid(config, message):
        return state, ()
    return install_new_view(config, state, message)


def install_new_view(config: ConsensusConfig, state: ReplicaState, message: NewView) -> Step:
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
def on_block_request(state: ReplicaState, message: BlockRequest) -> Step:
    if message.sender == state.replica or message.height < 1 or message.height > state.height:
        return state, ()
    index = message.height - 1
    response = BlockResponse(state.blocks[index], state.commit_certificates[index], message.sender, state.replica)
    return state, (response,)


def commit_certificate_is_valid(config: ConsensusConfig, certificate: CommitCertificate, block: Block) -> bool:
    if block.header.height != certificate.height or block_hash(block.header) != certificate.digest:
        return False
    return len(certificate.commits) >= config.quorum and all_replicas(config, certificate.commits)


def on_block_response(
    config: ConsensusConfig, state: ReplicaState, message: BlockResponse) -> Step:
    """A quorum's commits, not the responder's word, make the block acceptable."""
    certificate = message.certificate
    if message.requester != state.replica or certificate.height != state.height + 1:
        return state, ()
    if not commit_certificate_is_valid(config, certificate, message.block):
        return state, ()
    _, receipt = apply_block(config.chain, state.ledger, message.block)
    if receipt.code != ResultCode.OK:
        return state, ()
    votes = votes_for_caught_up_proposal(config, state, certificate)
    state, outputs = execute(config, replace(state, slot=None), message.block, certificate)
    if not state.active:
        # Still waiting for a NEW-VIEW: it may be further behind than anyone told it.
        outputs = outputs + (BlockRequest(state.height + 1, state.replica),)
    return state, votes + outputs


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
