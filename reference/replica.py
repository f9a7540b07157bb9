"""The reference node's PBFT replica: the rules of docs/consensus.md, written again.

A `Replica` is sans-I/O, as h11 is: one input in (`step`), the messages to send and
the refusal out. It reads no clock (a timer brings the time), draws no random
number and touches no socket. Messages reach it authenticated: the node's boundary
(`reference.boundary`) checks each envelope's signatures once, before `step`.

It decides exactly what the spec's replica decides: the same outputs in the same
order, the same refusal (checked in the same order), the same executed blocks,
view, height and state root after every input. Where the spec is plain and this is
fast:

* the replica is one object changed in place; the spec returns a new state per step;
* votes are tallied where they are kept: the open slot's prepares and commits as
  voter sets whose size is the count, checkpoint votes by (height, state root),
  view changes by view and sender, the senders asking for each future view by view;
  nothing is found by scanning every vote received;
* pending requests stay sorted in proposal order (a binary insertion), with a set
  beside them for the duplicate check; executed transactions are a set too;
* a proposal is checked against the ledger without applying it
  (`Ledger.block_verdict`: the header and each transaction's static checks, whose
  signature verdicts the ledger remembers), and a committed block is applied once,
  in place;
* the state root is the ledger's, kept between blocks (`reference.state_tree`).

Handlers read top to bottom as the spec's do: a `..._refusal` method names why an
input is ignored, if it is, before anything changes; then the handler acts,
appending what it sends to `outputs` in the order it sends it.
"""

import bisect

from reference.chain import Chain
from reference.ledger import Ledger
from reference.static_checks import static_code
from reference.views import (
    Group,
    NewViewContent,
    fault_tolerance,
    new_view_content,
    new_view_is_valid,
    primary_of,
    quorum_size,
    view_change_is_valid,
)
from spec.codes import ResultCode
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.refusals import Refusal
from spec.wire.encoding import block_hash, transaction_hash, transaction_root
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
from spec.wire.types import AnyTransaction, Block, BlockHeader

Request = tuple[AnyTransaction, ...]
"""A client request: one transaction, or a FEDERATION_TASK and its lock."""

PROPOSAL_RANK: dict[str, int] = {
    "BALANCE_SET": 0,
    "ATP_TRANSFER_LOCK": 1,
    "FEDERATION_TASK": 1,
    "EXECUTION_PROOF": 2,
    "ATP_TRANSFER_COMMIT": 3,
    "ATP_TRANSFER_ROLLBACK": 3,
    "REPUTATION_UPDATE": 4,
}
"""A correct primary proposes what creates things before what settles them."""


def proposal_order(request: Request) -> tuple[int, str]:
    first = request[0]
    return PROPOSAL_RANK[first.type], transaction_hash(first).hex()


def make_group(chain: Chain, genesis_root: str, checkpoint_interval: int, watermark_window: int,
               max_block_transactions: int) -> Group:
    """The group of a chain: its platforms in genesis order, f and the quorum from N."""
    platforms = tuple(chain.platform_keys)
    f = fault_tolerance(len(platforms))
    return Group(chain, platforms, f, quorum_size(len(platforms), f), checkpoint_interval, watermark_window,
                 max_block_transactions, CheckpointCertificate(0, genesis_root, frozenset()))


class Slot:
    """The one height the replica agrees on in its view, and the votes tallied for it."""

    __slots__ = ("pre_prepare", "prepares", "commits", "prepared")

    def __init__(self, pre_prepare: PrePrepare, primary: ReplicaId, replica: ReplicaId) -> None:
        self.pre_prepare = pre_prepare
        self.prepares: set[ReplicaId] = {primary, replica}
        """Replicas whose prepare matched, the primary by its pre-prepare. It stops
        growing at a quorum."""
        self.commits: set[ReplicaId] = set()
        """Matching commits; tallied only once prepared."""
        self.prepared = False


class Replica:
    """One replica of the group, changed in place by each input."""

    new_view_content: NewViewContent = staticmethod(new_view_content)
    """How a NEW-VIEW's checkpoint and proposals follow from its view changes."""

    def __init__(self, group: Group, replica: ReplicaId, clock_ms: int, ledger: Ledger) -> None:
        self.group = group
        self.replica = replica
        self.view = 0
        self.active = True
        """True: working in `view`. False: sent VIEW-CHANGE for `view`, awaiting its NEW-VIEW."""
        self.clock_ms = clock_ms
        self.ledger = ledger
        self.executed: list[Digest] = []
        self.blocks: list[Block] = []
        self.commit_certificates: list[CommitCertificate] = []
        self.executed_transactions: set[AnyTransaction] = set()
        self.pending: list[tuple[tuple[int, str], Request]] = []
        """Requests not yet executed, sorted by proposal order (ties: arrival order)."""
        self.pending_requests: set[Request] = set()
        self.slot: Slot | None = None
        self.prepared: dict[int, PreparedCertificate] = {}
        """Height -> the certificate of the highest view this replica prepared it in."""
        self.stable: CheckpointCertificate = group.genesis_checkpoint
        self.checkpoint_votes: dict[int, dict[str, set[ReplicaId]]] = {}
        """Height -> state root -> the replicas that voted it, above the stable checkpoint."""
        self.view_changes: dict[int, dict[ReplicaId, ViewChange]] = {}
        """For views this replica is the primary of, at or above `view`: sender -> view change."""
        self.view_change_senders: dict[int, set[ReplicaId]] = {}
        """For views above `view`: who asked for it (the rule that joins f + 1 of them)."""
        self.view_proposals: dict[int, PrePrepare] = {}
        """Height -> the proposal the NEW-VIEW of the current view fixed for it."""
        self.known_height = 0
        self.outputs: list[Message] = []

    @property
    def height(self) -> int:
        return len(self.executed)

    def is_primary(self) -> bool:
        return primary_of(self.view, self.group.n) == self.replica

    # --- the step ---------------------------------------------------------------------------------------
    def step(self, event: Input) -> tuple[tuple[Message, ...], Refusal | None]:
        """One input: the messages sent, in order, and the refusal (None: taken)."""
        self.outputs = []
        refusal: Refusal | None = getattr(self, HANDLERS[type(event)])(event)
        if refusal is not None:
            return (), refusal
        return tuple(self.outputs), None

    # --- client requests and proposals ----------------------------------------------------------------------
    def request_refusal(self, request: Request) -> Refusal | None:
        """One transaction or a task and its lock, that fits in a block, each
        transaction passing its static checks."""
        if len(request) == 0 or len(request) > 2:
            return Refusal.REQUEST_MALFORMED
        if len(request) == 2 and request[0].type != "FEDERATION_TASK":
            return Refusal.REQUEST_MALFORMED
        if len(request) > self.group.max_block_transactions:
            return Refusal.REQUEST_LARGER_THAN_BLOCK
        chain, signatures = self.group.chain, self.ledger.signatures
        for index, tx in enumerate(request):
            following = request[index + 1] if index + 1 < len(request) else None
            if static_code(chain, signatures, tx, following) != ResultCode.OK:
                return Refusal.REQUEST_TRANSACTION_INVALID
        return None

    def client_request_refusal(self, request: Request) -> Refusal | None:
        if request in self.pending_requests:
            return Refusal.REQUEST_ALREADY_PENDING
        if len(request) > 0 and request[0] in self.executed_transactions:
            return Refusal.REQUEST_ALREADY_EXECUTED
        return self.request_refusal(request)

    def on_client_request(self, event: ClientRequest) -> Refusal | None:
        request = event.transactions
        refusal = self.client_request_refusal(request)
        if refusal is not None:
            return refusal
        bisect.insort_right(self.pending, (proposal_order(request), request), key=pending_key)
        self.pending_requests.add(request)
        self.maybe_propose()
        return None

    def block_transactions(self) -> tuple[AnyTransaction, ...]:
        """Whole pending requests in proposal order, up to the first that does not fit."""
        limit = self.group.max_block_transactions
        transactions: list[AnyTransaction] = []
        for _, request in self.pending:
            if len(transactions) + len(request) > limit:
                break
            transactions.extend(request)
        return tuple(transactions)

    def maybe_propose(self) -> None:
        """As primary with nothing in flight, propose the pending requests in a fresh
        block, unless the NEW-VIEW fixed this height or a correct replica is known to
        have executed it already."""
        if not self.active or not self.is_primary() or self.slot is not None:
            return
        height = self.height + 1
        if self.known_height >= height:
            return
        txs = self.block_transactions()
        if len(txs) == 0:
            return
        ledger = self.ledger
        header = BlockHeader(
            height=ledger.height + 1, previous_hash=ledger.last_block_hash,
            timestamp_ms=max(ledger.last_timestamp_ms + 1, self.clock_ms),
            proposer=self.group.platforms[self.replica], transaction_root=transaction_root(txs),
        )
        proposal = PrePrepare(self.view, height, block_hash(header), Block(header=header, transactions=txs),
                              self.replica)
        if self.pre_prepare_refusal(proposal) is None:  # above the high watermark, say: wait for a checkpoint
            self.accept_pre_prepare(proposal, announce=True)

    # --- normal case ---------------------------------------------------------------------------------
    def proposal_refusal(self, proposal: PrePrepare) -> Refusal | None:
        """The block against this replica's own clock and ledger, without applying it."""
        header = proposal.block.header
        if header.height != proposal.height:
            return Refusal.BLOCK_HEIGHT_MISMATCH
        if block_hash(header) != proposal.digest:
            return Refusal.DIGEST_MISMATCH
        if header.timestamp_ms > self.clock_ms + MAX_CLOCK_SKEW_MS:
            return Refusal.TIMESTAMP_AHEAD_OF_CLOCK
        if self.ledger.block_verdict(proposal.block)[0] != ResultCode.OK:
            return Refusal.BLOCK_INVALID
        return None

    def view_refusal(self, view: int) -> Refusal | None:
        if view < self.view:
            return Refusal.STALE_VIEW
        if view > self.view:
            return Refusal.FUTURE_VIEW
        if not self.active:
            return Refusal.AWAITING_NEW_VIEW
        return None

    def delivered_pre_prepare_refusal(self, message: PrePrepare) -> Refusal | None:
        refusal = self.view_refusal(message.view)
        if refusal is not None:
            return refusal
        if message.sender != primary_of(message.view, self.group.n):
            return Refusal.NOT_FROM_PRIMARY
        if message.sender == self.replica:
            return Refusal.OWN_MESSAGE
        if message.height in self.view_proposals:
            return Refusal.FIXED_BY_NEW_VIEW
        return self.pre_prepare_refusal(message)

    def pre_prepare_refusal(self, proposal: PrePrepare) -> Refusal | None:
        if proposal.height != self.height + 1:
            return Refusal.HEIGHT_NOT_NEXT
        if self.slot is not None:
            return Refusal.PROPOSAL_ALREADY_TAKEN
        if not self.within_watermarks(proposal.height):
            return Refusal.OUTSIDE_WATERMARKS
        return self.proposal_refusal(proposal)

    def within_watermarks(self, height: int) -> bool:
        low = self.stable.height
        return low < height <= low + self.group.watermark_window

    def on_pre_prepare(self, message: PrePrepare) -> Refusal | None:
        refusal = self.delivered_pre_prepare_refusal(message)
        if refusal is not None:
            return refusal
        self.accept_pre_prepare(message)
        return None

    def accept_pre_prepare(self, proposal: PrePrepare, announce: bool = False) -> None:
        """Open the slot for `proposal`; a backup prepares it, a primary announces its own."""
        primary = primary_of(proposal.view, self.group.n)
        if announce:
            self.outputs.append(proposal)
        elif self.replica != primary:
            self.outputs.append(Prepare(proposal.view, proposal.height, proposal.digest, self.replica))
        self.slot = Slot(proposal, primary, self.replica)
        self.after_prepare_vote(self.slot)

    def slot_vote_refusal(self, vote: Prepare | Commit) -> Refusal | None:
        refusal = self.view_refusal(vote.view)
        if refusal is not None:
            return refusal
        slot = self.slot
        if slot is None:
            return Refusal.NO_OPEN_SLOT
        if vote.height != slot.pre_prepare.height:
            return Refusal.VOTE_FOR_OTHER_HEIGHT
        if vote.digest != slot.pre_prepare.digest:
            return Refusal.VOTE_FOR_OTHER_BLOCK
        return None

    def prepare_refusal(self, message: Prepare) -> Refusal | None:
        refusal = self.slot_vote_refusal(message)
        if refusal is not None:
            return refusal
        assert self.slot is not None
        if message.sender in self.slot.prepares:
            return Refusal.DUPLICATE_VOTE
        if self.slot.prepared:
            return Refusal.ALREADY_PREPARED
        return None

    def on_prepare(self, message: Prepare) -> Refusal | None:
        refusal = self.prepare_refusal(message)
        if refusal is not None:
            return refusal
        assert self.slot is not None
        self.slot.prepares.add(message.sender)
        self.after_prepare_vote(self.slot)
        return None

    def after_prepare_vote(self, slot: Slot) -> None:
        """At a prepare quorum: keep the certificate, send COMMIT, count it."""
        if len(slot.prepares) < self.group.quorum:
            return
        slot.prepared = True
        proposal = slot.pre_prepare
        self.prepared[proposal.height] = PreparedCertificate(proposal, frozenset(slot.prepares))
        slot.commits.add(self.replica)
        self.outputs.append(Commit(proposal.view, proposal.height, proposal.digest, self.replica))
        self.after_commit_vote(slot)

    def commit_refusal(self, message: Commit) -> Refusal | None:
        refusal = self.slot_vote_refusal(message)
        if refusal is not None:
            return refusal
        assert self.slot is not None
        if not self.slot.prepared:
            return Refusal.NOT_YET_PREPARED
        if message.sender in self.slot.commits:
            return Refusal.DUPLICATE_VOTE
        return None

    def on_commit(self, message: Commit) -> Refusal | None:
        refusal = self.commit_refusal(message)
        if refusal is not None:
            return refusal
        assert self.slot is not None
        self.slot.commits.add(message.sender)
        self.after_commit_vote(self.slot)
        return None

    def after_commit_vote(self, slot: Slot) -> None:
        """At a commit quorum: execute."""
        if len(slot.commits) < self.group.quorum:
            return
        proposal = slot.pre_prepare
        certificate = CommitCertificate(proposal.view, proposal.height, proposal.digest, frozenset(slot.commits))
        self.execute(proposal.block, certificate)

    # --- execution and checkpoints ------------------------------------------------------------------------
    def execute(self, block: Block, certificate: CommitCertificate) -> None:
        """Apply a committed block, in height order; vote at a checkpoint; go on."""
        self.ledger.apply_block(block)
        self.executed.append(certificate.digest)
        self.blocks.append(block)
        self.commit_certificates.append(certificate)
        included = set(block.transactions)
        self.executed_transactions |= included
        kept = [entry for entry in self.pending if entry[1][0] not in included]
        if len(kept) != len(self.pending):
            self.pending = kept
            self.pending_requests = {request for _, request in kept}
        self.slot = None
        if self.height % self.group.checkpoint_interval == 0:
            vote = Checkpoint(self.height, self.ledger.state_root(), self.replica)
            self.outputs.append(vote)
            self.record_checkpoint_vote(vote)
        self.take_next_proposal()

    def take_next_proposal(self) -> None:
        """The NEW-VIEW's proposal for the next height, or as primary a fresh one."""
        if not self.active:
            return
        fixed = self.view_proposals.get(self.height + 1)
        if fixed is None:
            self.maybe_propose()
        elif self.pre_prepare_refusal(fixed) is None:
            self.accept_pre_prepare(fixed)

    def checkpoint_vote_refusal(self, message: Checkpoint) -> Refusal | None:
        if message.height <= self.stable.height:
            return Refusal.CHECKPOINT_NOT_ABOVE_STABLE
        if message.height % self.group.checkpoint_interval != 0:
            return Refusal.CHECKPOINT_HEIGHT_NOT_ON_INTERVAL
        if message.sender in self.checkpoint_votes.get(message.height, {}).get(self.tally_key(message), ()):
            return Refusal.DUPLICATE_VOTE
        return None

    def tally_key(self, vote: Checkpoint) -> str:
        """Votes for one height count together when they name the same state root."""
        return vote.state_root

    def on_checkpoint(self, message: Checkpoint) -> Refusal | None:
        refusal = self.checkpoint_vote_refusal(message)
        if refusal is not None:
            return refusal
        before = self.stable.height
        self.record_checkpoint_vote(message)
        if self.stable.height != before:
            self.take_next_proposal()  # the window moved up: a primary held back goes on
        return None

    def record_checkpoint_vote(self, vote: Checkpoint) -> None:
        """Tally a vote (this replica's own included): f + 1 matching votes show the
        height exists; a quorum makes the checkpoint stable."""
        if self.checkpoint_vote_refusal(vote) is not None:
            return
        voters = self.checkpoint_votes.setdefault(vote.height, {}).setdefault(self.tally_key(vote), set())
        voters.add(vote.sender)
        if len(voters) >= self.group.f + 1 and vote.height > self.known_height:
            self.known_height = vote.height
        if len(voters) >= self.group.quorum:
            self.adopt_stable_checkpoint(CheckpointCertificate(vote.height, vote.state_root, frozenset(voters)))

    def adopt_stable_checkpoint(self, stable: CheckpointCertificate) -> None:
        """Move the low watermark up; forget votes, certificates and a slot at or below it."""
        if stable.height <= self.stable.height:
            return
        if self.slot is not None and self.slot.pre_prepare.height <= stable.height:
            self.slot = None
        for height in [voted for voted in self.checkpoint_votes if voted <= stable.height]:
            del self.checkpoint_votes[height]
        for height in [prepared for prepared in self.prepared if prepared <= stable.height]:
            del self.prepared[height]
        self.stable = stable
        self.known_height = max(self.known_height, stable.height)

    # --- timers and view change ------------------------------------------------------------------------------
    def on_timer(self, event: TimerFired) -> Refusal | None:
        """Never refused: it brings the clock, and may find nothing to do."""
        if event.now_ms > self.clock_ms:
            self.clock_ms = event.now_ms
        if event.timer == Timer.FETCH:
            if self.known_height > self.height:
                self.outputs.append(BlockRequest(self.height + 1, self.replica))
        elif not self.active or len(self.pending) > 0:
            self.start_view_change(self.view + 1)
        return None

    def start_view_change(self, new_view: int) -> None:
        """Leave the view: announce what was prepared, ask for the next block."""
        prepared = tuple(self.prepared[height] for height in sorted(self.prepared))
        message = ViewChange(new_view, self.stable, prepared, self.replica)
        self.outputs.append(message)
        self.outputs.append(BlockRequest(self.height + 1, self.replica))
        self.view, self.active, self.slot, self.view_proposals = new_view, False, None, {}
        self.forget_view_changes_below(new_view)
        self.record_view_change(message)
        self.maybe_send_new_view()

    def record_view_change(self, message: ViewChange) -> None:
        if primary_of(message.new_view, self.group.n) == self.replica:
            self.view_changes.setdefault(message.new_view, {})[message.sender] = message
        if message.new_view > self.view:
            self.view_change_senders.setdefault(message.new_view, set()).add(message.sender)

    def forget_view_changes_below(self, view: int) -> None:
        """View changes below `view` no longer matter; senders asking for `view` itself neither."""
        for old in [changed for changed in self.view_changes if changed < view]:
            del self.view_changes[old]
        for old in [asked for asked in self.view_change_senders if asked <= view]:
            del self.view_change_senders[old]

    def view_to_enter_refusal(self, view: int) -> Refusal | None:
        if view < self.view:
            return Refusal.STALE_VIEW
        if view == self.view and self.active:
            return Refusal.VIEW_ALREADY_STARTED
        return None

    def view_change_count_refusal(self, message: ViewChange) -> Refusal | None:
        if message.sender in self.view_change_senders.get(message.new_view, ()):
            return Refusal.VIEW_CHANGE_ALREADY_COUNTED
        if primary_of(message.new_view, self.group.n) != self.replica:
            if message.new_view == self.view:
                return Refusal.VIEW_CHANGE_NOT_NEEDED
            return None
        if message.sender in self.view_changes.get(message.new_view, {}):
            return Refusal.VIEW_CHANGE_ALREADY_COUNTED
        return None

    def view_change_refusal(self, message: ViewChange) -> Refusal | None:
        refusal = self.view_to_enter_refusal(message.new_view)
        if refusal is not None:
            return refusal
        refusal = self.view_change_count_refusal(message)
        if refusal is not None:
            return refusal
        if not view_change_is_valid(self.group, message):
            return Refusal.VIEW_CHANGE_INVALID
        return None

    def on_view_change(self, message: ViewChange) -> Refusal | None:
        refusal = self.view_change_refusal(message)
        if refusal is not None:
            return refusal
        self.record_view_change(message)
        join = self.view_to_join()
        if join is not None:
            self.start_view_change(join)
        else:
            self.maybe_send_new_view()
        return None

    def view_to_join(self) -> int | None:
        """f + 1 others asking for views above ours include a correct replica: join the
        smallest view they ask for."""
        others: set[ReplicaId] = set()
        smallest: int | None = None
        for view, senders in self.view_change_senders.items():
            if view <= self.view:
                continue
            asking = senders - {self.replica}
            if asking:
                others |= asking
                if smallest is None or view < smallest:
                    smallest = view
        return smallest if len(others) >= self.group.f + 1 else None

    def maybe_send_new_view(self) -> None:
        """The primary of the view being entered starts it on a quorum of view changes."""
        if self.active or not self.is_primary():
            return
        received = self.view_changes.get(self.view, {})
        if len(received) < self.group.quorum:
            return
        view_changes = tuple(received[sender] for sender in sorted(received))
        checkpoint, proposals = self.new_view_content(self.group, self.view, view_changes)
        message = NewView(self.view, view_changes, checkpoint, proposals, self.replica)
        self.outputs.append(message)
        self.install_new_view(message)

    def new_view_refusal(self, message: NewView) -> Refusal | None:
        refusal = self.view_to_enter_refusal(message.view)
        if refusal is not None:
            return refusal
        if not new_view_is_valid(self.group, message, self.new_view_content):
            return Refusal.NEW_VIEW_INVALID
        return None

    def on_new_view(self, message: NewView) -> Refusal | None:
        refusal = self.new_view_refusal(message)
        if refusal is not None:
            return refusal
        self.install_new_view(message)
        return None

    def install_new_view(self, message: NewView) -> None:
        """Enter the view; vote again for re-proposals already executed; take the next."""
        self.view, self.active, self.slot = message.view, True, None
        self.view_proposals = {proposal.height: proposal for proposal in message.proposals}
        self.forget_view_changes_below(message.view + 1)
        self.adopt_stable_checkpoint(message.checkpoint)
        primary = primary_of(message.view, self.group.n)
        for proposal in message.proposals:
            if proposal.height > self.height or self.executed[proposal.height - 1] != proposal.digest:
                continue
            self.vote_again(proposal, primary)
        self.take_next_proposal()

    def vote_again(self, proposal: PrePrepare, primary: ReplicaId) -> None:
        """PREPARE (a backup) and COMMIT in this view for a block already executed, so
        that replicas which have not executed it can commit it here."""
        if self.replica != primary:
            self.outputs.append(Prepare(self.view, proposal.height, proposal.digest, self.replica))
        self.outputs.append(Commit(self.view, proposal.height, proposal.digest, self.replica))

    # --- catch-up ----------------------------------------------------------------------------------------
    def block_request_refusal(self, message: BlockRequest) -> Refusal | None:
        if message.sender == self.replica:
            return Refusal.OWN_MESSAGE
        if message.height < 1:
            return Refusal.HEIGHT_BELOW_FIRST_BLOCK
        if message.height > self.height:
            return Refusal.BLOCK_NOT_YET_EXECUTED
        return None

    def on_block_request(self, message: BlockRequest) -> Refusal | None:
        refusal = self.block_request_refusal(message)
        if refusal is not None:
            return refusal
        index = message.height - 1
        self.outputs.append(BlockResponse(self.blocks[index], self.commit_certificates[index], message.sender,
                                          self.replica))
        return None

    def commit_certificate_is_valid(self, certificate: CommitCertificate, block: Block) -> bool:
        if block.header.height != certificate.height or block_hash(block.header) != certificate.digest:
            return False
        n = self.group.n
        return len(certificate.commits) >= self.group.quorum and all(0 <= r < n for r in certificate.commits)

    def block_response_refusal(self, message: BlockResponse) -> Refusal | None:
        """A quorum's commits, not the responder's word, make the block acceptable."""
        certificate = message.certificate
        if message.requester != self.replica:
            return Refusal.RESPONSE_FOR_OTHER_REPLICA
        if certificate.height != self.height + 1:
            return Refusal.HEIGHT_NOT_NEXT
        if not self.commit_certificate_is_valid(certificate, message.block):
            return Refusal.COMMIT_CERTIFICATE_INVALID
        if self.ledger.block_verdict(message.block)[0] != ResultCode.OK:
            return Refusal.BLOCK_INVALID
        return None

    def on_block_response(self, message: BlockResponse) -> Refusal | None:
        refusal = self.block_response_refusal(message)
        if refusal is not None:
            return refusal
        certificate = message.certificate
        if self.active:
            fixed = self.view_proposals.get(certificate.height)
            if fixed is not None and fixed.digest == certificate.digest:
                self.vote_again(fixed, primary_of(self.view, self.group.n))
        self.slot = None
        self.execute(message.block, certificate)
        if not self.active:  # still awaiting a NEW-VIEW: it may be further behind than anyone said
            self.outputs.append(BlockRequest(self.height + 1, self.replica))
        return None


def pending_key(entry: tuple[tuple[int, str], Request]) -> tuple[int, str]:
    return entry[0]


HANDLERS: dict[type, str] = {
    ClientRequest: "on_client_request",
    TimerFired: "on_timer",
    PrePrepare: "on_pre_prepare",
    Prepare: "on_prepare",
    Commit: "on_commit",
    Checkpoint: "on_checkpoint",
    ViewChange: "on_view_change",
    NewView: "on_new_view",
    BlockRequest: "on_block_request",
    BlockResponse: "on_block_response",
}
"""Input kind -> the name of its handler (by name, so that a variant's override counts)."""
