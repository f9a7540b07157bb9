"""A replica as a running process: the core (`reference.replica`) driven by asyncio.

One `Node` owns the replica, its ledger, its database (`storage`), its TCP transport, the timers
and the client submissions. Everything happens on one event loop, so the core sees one input at a
time:

    frame in -> boundary (decode, chain, every signature: once) -> replica.step
             -> store executed blocks, stable checkpoint, prepared certificates
             -> journal every vote (one SQLite commit) -> send

The vote journal. Before any message the replica signs leaves, it is written to the journal and
the write committed (per the durability setting). Each vote fills a slot (`storage.vote_key`); if
the core ever produces a different vote for a slot already journalled -- it can after a restart,
which loses its in-memory state -- the journalled one is sent instead and the event counted. A
PRE-PREPARE conflicting with a journalled vote of the same slot is not even given to the core.

Retransmission. The replica's own messages that may still be needed are sent again every
`retransmit_ms`: its votes of the current view at the height executed last (peers may lack its
commit) and above, its latest checkpoint vote, its VIEW-CHANGE while awaiting the NEW-VIEW, and its
NEW-VIEW while it is the primary of the view. Anything older a peer gets with BLOCK-REQUEST.

Timers, from the real clock. FETCH fires every `fetch_ms`: it brings the clock to the core (which
bounds proposal timestamps by it) and makes the core ask for the next block when checkpoints show
it is behind. VIEW_CHANGE fires when requests wait (or a NEW-VIEW is awaited) and no block was
executed for `view_change_ms`, doubling per consecutive view change.

Restart. The blocks are replayed from storage into a fresh ledger and replica (each checked by the
ledger again), the stable checkpoint and prepared certificates restored, the journal reloaded
(the replica re-enters the highest view it voted in, awaiting its NEW-VIEW). Then it catches up:
votes from f + 1 distinct peers for heights above its own (which include a correct replica's)
show it is behind, and it sends BLOCK-REQUEST; a BLOCK-RESPONSE is taken only with a commit
certificate of a quorum, every signature checked at the boundary: no single peer's word counts.
"""

import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from reference.chain import Chain, chain_from_genesis
from reference.ledger import Ledger
from reference.node.byzantine import byzantine_sends
from reference.node.config import NodeConfig
from reference.node.handle import (
    CommittedReceipt,
    NodeBusy,
    NodeStatus,
    PeerStatus,
    Request,
    StateRootAt,
    SubmitOutcome,
    SubmitStatus,
    first_invalid_transaction,
)
from reference.node.metrics import NodeMetrics
from reference.node.signatures import SignatureStore
from reference.node.storage import JournalEntry, Storage, vote_key
from reference.node.transport import FRAME_ENVELOPE, FRAME_REQUEST, Transport, frame
from reference.replica import Replica, make_group
from spec.refusals import Refusal
from spec.wire.decoding import DecodeError, DecodeFailure, decode_envelope, decode_transaction
from spec.wire.encoding import transaction_bytes, transaction_hash
from spec.wire.envelope import (
    AuthenticationError,
    SignedEnvelope,
    authenticated_message,
    checkpoint_certificate_obligations,
    commit_certificate_obligations,
    envelope_bytes,
    prepared_certificate_obligations,
)
from spec.wire.json_form import from_json, to_json
from spec.wire.message_encoding import consensus_signing_message
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    ClientRequest,
    Commit,
    Input,
    Message,
    Prepare,
    PrePrepare,
    Timer,
    TimerFired,
)
from spec.wire.records import Account, BlockReceipt, LedgerState, Task, Transfer
from spec.wire.signing import public_key_hex
from spec.wire.types import Block, Genesis

TICK_SECONDS = 0.02
"""How often the timers are looked at (s): a timer fires at most this late."""
HTTP_STOP_SECONDS = 2.0
"""How long a stopping node waits for the HTTP server to finish its requests in hand."""
CONTROL_LINE_BYTES = 64 * 1024 * 1024
"""The longest request line the control socket reads (bytes)."""
MAX_PENDING_REQUESTS = 100_000
"""Client requests waiting to be ordered beyond which `submit` answers `NodeBusy` (back-pressure)."""
MAX_REQUEST_TRANSACTIONS = 2
"""A relayed client request holds one transaction, or a task and its lock."""


class NodeError(Exception):
    """The node cannot start: its genesis or key is unusable. The message says why."""


class RecordingLedger(Ledger):
    """The ledger, keeping each applied block's receipt (the core does not return it)."""

    def __init__(self, chain: Chain) -> None:
        super().__init__(chain)
        self.receipts: list[BlockReceipt] = []

    def apply_block(self, block: Block) -> BlockReceipt:
        receipt = super().apply_block(block)
        self.receipts.append(receipt)
        return receipt


def load_genesis(path: Path) -> Genesis:
    try:
        return from_json(Genesis, json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise NodeError(f"{path}: cannot read the genesis: {error.strerror}") from None
    except ValueError as error:  # JSON or JSON form
        raise NodeError(f"{path}: not a genesis: {error}") from None


def load_seed(path: Path) -> bytes:
    try:
        seed = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except OSError as error:
        raise NodeError(f"{path}: cannot read the key: {error.strerror}") from None
    except ValueError:
        raise NodeError(f"{path}: a key is 64 hex digits (an Ed25519 seed)") from None
    if len(seed) != 32:
        raise NodeError(f"{path}: a key is 64 hex digits (an Ed25519 seed)")
    return seed


def envelope_at_boundary(chain_id: str, keys: tuple[str, ...], data: bytes) -> SignedEnvelope | str:
    """The envelope of a frame, authenticated once (as `reference.boundary`), or why it is refused."""
    try:
        envelope_chain_id, envelope = decode_envelope(data)
        if envelope_chain_id != chain_id:
            return DecodeFailure.CHAIN_ID_MISMATCH.value
        authenticated_message(chain_id, keys, envelope)
    except DecodeError as error:
        return error.reason.value
    except AuthenticationError as error:
        return error.failure.refusal.value
    return envelope


def request_body(request: Request) -> bytes:
    body = len(request).to_bytes(4, "big")
    for transaction in request:
        raw = transaction_bytes(transaction)
        body += len(raw).to_bytes(4, "big") + raw
    return body


def request_from_body(body: bytes) -> Request | str:
    """The relayed request, or why it is dropped."""
    if len(body) < 4:
        return "request_malformed"
    count = int.from_bytes(body[:4], "big")
    if count == 0 or count > MAX_REQUEST_TRANSACTIONS:
        return "request_malformed"
    position, transactions = 4, []
    for _ in range(count):
        length = int.from_bytes(body[position:position + 4], "big")
        raw = body[position + 4:position + 4 + length]
        if len(raw) != length or position + 4 > len(body):
            return "request_malformed"
        try:
            transactions.append(decode_transaction(raw))
        except DecodeError as error:
            return error.reason.value
        position += 4 + length
    return "request_malformed" if position != len(body) else tuple(transactions)


def vote_value(chain_id: str, message: Message) -> str:
    """What a vote says, compared to find a conflicting one: the digest of slot votes, the state root of
    checkpoint votes, the hash of the whole message otherwise."""
    if isinstance(message, (PrePrepare, Prepare, Commit)):
        return message.digest
    if isinstance(message, Checkpoint):
        return message.state_root
    return hashlib.sha256(consensus_signing_message(chain_id, message)).hexdigest()


FAIL_STOP_EXIT = 3
"""The exit status of a node that stopped itself because it could not store what it must."""


def fail_stop(reason: str) -> NoReturn:
    """Stop the process at once: a replica whose state is not durable must not go on (nothing it did since
    its last commit was sent; a restart reloads what was committed)."""
    print(f"fatal: {reason}", file=sys.stderr, flush=True)
    os._exit(FAIL_STOP_EXIT)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    """One replica: `await start()`, then it runs on the loop until `await stop()`."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        genesis = load_genesis(config.genesis_path)
        try:
            self.chain = chain_from_genesis(genesis)
        except ValueError as error:
            raise NodeError(f"{config.genesis_path}: {error}") from None
        self.seed = load_seed(config.key_path)
        self.keys = tuple(platform.public_key for platform in genesis.platforms)
        if config.replica >= len(self.keys):
            raise NodeError(f"replica {config.replica}: the genesis has replicas 0 .. {len(self.keys) - 1}")
        if public_key_hex(self.seed) != self.keys[config.replica]:
            raise NodeError(f"{config.key_path}: not the key of replica {config.replica} in the genesis")
        settings = config.consensus
        self.group = make_group(self.chain, Ledger(self.chain).state_root(), settings.checkpoint_interval,
                                settings.watermark_window, settings.max_block_transactions)
        self.signatures = SignatureStore(self.chain.chain_id, config.replica, self.seed)
        self.transport = Transport(config.listen, config.peers, config.limits, config.timers, self.on_frame)
        self.storage: Storage | None = None
        self.ledger = RecordingLedger(self.chain)
        self.replica = Replica(self.group, config.replica, now_ms(), self.ledger)
        self.journal: dict[str, JournalEntry] = {}
        self.live: dict[str, JournalEntry] = {}
        """The replica's own sent votes that retransmission may still need, by slot."""
        self.events: Counter[str] = Counter()
        """What the node did besides stepping: withheld votes, unknown signatures, relays..."""
        self.refusals: Counter[str] = Counter()
        """Inputs the core refused, by refusal name."""
        self.evidence: dict[tuple[str, int], set[int]] = {}
        """(kind, height) -> peers whose votes show the height executed (`note_evidence`)."""
        self.behind_until = 0
        self.transaction_positions: dict[str, tuple[int, int]] = {}
        """Committed transaction hash -> (height, index in its block)."""
        self.metrics_registry = NodeMetrics()
        self.exported_drops: Counter[str] = Counter()
        self.slot_timing: tuple[int, float, bool] | None = None
        self.submitted_at: dict[str, float] = {}
        self.views_entered = 0
        self.tasks: list[asyncio.Task[Any]] = []
        self.control_server: asyncio.AbstractServer | None = None
        self.http_server: Any = None
        self.stopped = False

    # --- life ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.restore()
        await self.transport.start()
        loop = asyncio.get_running_loop()
        self.last_progress = loop.time()
        self.view_change_streak = 0
        self.next_fetch = self.next_retransmit = loop.time()
        self.tasks.append(asyncio.create_task(self.tick_forever()))
        self.control_server = await asyncio.start_unix_server(self.serve_control, str(self.control_path()),
                                                              limit=CONTROL_LINE_BYTES)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.http_server is not None:  # let it finish the requests in hand, then the rest stops
            self.http_server.should_exit = True
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self.tasks[-1]), HTTP_STOP_SECONDS)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.control_server is not None:
            self.control_server.close()
        await self.transport.stop()
        if self.storage is not None:
            self.storage.close()

    def control_path(self) -> Path:
        return self.config.data_dir / "control.sock"

    async def serve_http(self) -> bool:
        """Serve the HTTP API inside this process, on this loop, if this build has one (`reference.node.api`:
        `api_server(handle, host, port)` or `make_app(handle)`). False if it has none or the port is 0."""
        if self.config.http_port == 0:
            return False
        try:
            api = importlib.import_module("reference.node.api")
        except ModuleNotFoundError as error:
            if error.name != "reference.node.api":
                raise
            return False
        if hasattr(api, "api_server"):
            server = api.api_server(self, self.config.http_host, self.config.http_port)
        else:
            import uvicorn

            server = uvicorn.Server(uvicorn.Config(api.make_app(self), host=self.config.http_host,
                                                   port=self.config.http_port, log_level="warning"))
        self.http_server = server
        self.tasks.append(asyncio.create_task(server.serve()))
        return True

    # --- restart -----------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Reload what storage holds: blocks (replayed), stable checkpoint, prepared certificates, journal."""
        self.storage = storage = Storage(self.config.data_dir, self.config.durability)
        chain_id, replica = self.chain.chain_id, self.replica
        for stored in storage.blocks():
            obligations = commit_certificate_obligations(chain_id, stored.certificate, "certificate")
            if len(stored.signatures) == len(obligations):
                self.signatures.remember(obligations, stored.signatures)
            replica.execute(stored.block, stored.certificate)
            self.index_block(replica.height)
            self.check_snapshot(storage, replica.height)
        stable = storage.stable_checkpoint()
        if stable is not None:
            certificate, signatures = stable
            self.signatures.remember(checkpoint_certificate_obligations(chain_id, certificate, "checkpoint"),
                                     signatures)
            replica.adopt_stable_checkpoint(certificate)
        for prepared, signatures in storage.prepared_certificates():
            self.signatures.remember(prepared_certificate_obligations(chain_id, prepared, "prepared"), signatures)
            if prepared.pre_prepare.height > replica.height:
                replica.prepared[prepared.pre_prepare.height] = prepared
        self.journal = {entry.vote_key: entry for entry in storage.journal()}
        self.live = dict(self.journal)
        view = max((entry.view for entry in self.journal.values()), default=0)
        if view > replica.view:  # it voted in `view`: back in it, awaiting its NEW-VIEW again
            replica.view, replica.active, replica.slot = view, False, None
        replica.outputs = []
        self.metrics_registry.set_committed_height(replica.height)

    def check_snapshot(self, storage: Storage, height: int) -> None:
        """A replayed checkpoint height must give the state root stored when it was first executed."""
        if height % self.group.checkpoint_interval != 0:
            return
        kept = storage.snapshot(height)
        if kept is not None and kept[0] != self.ledger.state_root():
            raise NodeError(f"{storage.path}: replaying the stored blocks to height {height} gives state root "
                            f"{self.ledger.state_root()}, not the {kept[0]} stored: the database is damaged")

    # --- stepping -----------------------------------------------------------------------------------
    def step(self, event: Input) -> Refusal | None:
        """One input into the core; what it executed stored, what it sends journalled, then sent."""
        replica = self.replica
        height, view, active = replica.height, replica.view, replica.active
        stable, prepared = replica.stable.height, dict(replica.prepared)
        outputs, refusal = replica.step(event)
        if refusal is not None:
            self.refusals[refusal.value] += 1
            return refusal
        sends = self.persist(height, stable, prepared, outputs)
        if self.config.byzantine:  # tests of safety only: what a faulty replica sends instead
            sends = byzantine_sends(self.config.byzantine, self.chain.chain_id, self.signatures,
                                    [peer.replica for peer in self.config.peers], outputs, sends)
        for destination, data in sends:
            if destination is None:
                self.transport.broadcast(data)
            else:
                self.transport.send(destination, data)
        self.note_progress(height, view, active)
        return None

    def persist(self, height: int, stable: int, prepared: dict[int, Any],
                outputs: tuple[Message, ...]) -> list[tuple[int | None, bytes]]:
        """Store blocks, checkpoint and certificates, and journal the outputs: one commit. Returns the frames."""
        assert self.storage is not None
        if not outputs and self.replica.height == height and self.replica.stable.height == stable \
                and self.replica.prepared == prepared:
            return []  # nothing to store (a client request taken, a vote tallied): no transaction, no fsync
        started = time.perf_counter()
        try:
            self.storage.begin()
            for executed in range(height + 1, self.replica.height + 1):
                self.store_block(executed)
            if self.replica.stable.height > stable:
                self.store_checkpoint()
            for certificate_height, certificate in self.replica.prepared.items():
                if prepared.get(certificate_height) != certificate:
                    self.store_prepared(certificate)
            sends = [send for send in (self.outbound(message) for message in outputs) if send is not None]
            self.storage.commit()
        except sqlite3.Error as error:
            fail_stop(f"storage failed ({error}): a replica that cannot journal its votes must not send them")
        if outputs:
            self.metrics_registry.observe_phase("journal", time.perf_counter() - started)
        return sends

    def store_block(self, height: int) -> None:
        assert self.storage is not None
        block, certificate = self.replica.blocks[height - 1], self.replica.commit_certificates[height - 1]
        obligations = commit_certificate_obligations(self.chain.chain_id, certificate, "certificate")
        signatures = self.signatures.signatures_for(obligations)
        if signatures is None:
            self.events["commit_certificate_signature_unknown"] += 1
            signatures = ()
        self.storage.put_block(block, certificate, signatures)
        self.index_block(height)
        if height % self.group.checkpoint_interval == 0 and height == self.ledger.height:  # its checkpoint vote's state
            self.storage.put_snapshot(height, self.ledger.state_root(), to_json(self.snapshot()))

    def index_block(self, height: int) -> None:
        block = self.replica.blocks[height - 1]
        for index, transaction in enumerate(block.transactions):
            key = transaction_hash(transaction).hex()
            self.transaction_positions[key] = (height, index)
            submitted = self.submitted_at.pop(key, None)
            if submitted is not None:
                self.metrics_registry.observe_phase("request", time.perf_counter() - submitted)

    def store_checkpoint(self) -> None:
        assert self.storage is not None
        certificate = self.replica.stable
        signatures = self.signatures.signatures_for(
            checkpoint_certificate_obligations(self.chain.chain_id, certificate, "checkpoint"))
        if signatures is None:
            self.events["checkpoint_certificate_signature_unknown"] += 1
            return
        self.storage.put_checkpoint(certificate, signatures)
        for key in [key for key, entry in self.journal.items() if entry.height <= certificate.height
                    and key.split("/")[0] in ("PrePrepare", "Prepare", "Commit", "Checkpoint")]:
            del self.journal[key]

    def store_prepared(self, certificate: Any) -> None:
        assert self.storage is not None
        signatures = self.signatures.signatures_for(
            prepared_certificate_obligations(self.chain.chain_id, certificate, "prepared"))
        if signatures is None:
            self.events["prepared_certificate_signature_unknown"] += 1
            return
        self.storage.put_prepared(certificate, signatures)

    def snapshot(self) -> LedgerState:
        ledger = self.ledger
        return LedgerState(
            ledger.height, ledger.last_block_hash, ledger.last_timestamp_ms, dict(ledger.accounts),
            dict(ledger.transfers), dict(ledger.tasks), dict(ledger.balance_sets), dict(ledger.reputation_updates),
            dict(ledger.reputations), set(ledger.failed_transfer_ids), set(ledger.failed_set_ids),
            set(ledger.failed_update_ids))

    def outbound(self, message: Message) -> tuple[int | None, bytes] | None:
        """The frame for one output and where it goes (None: everyone); journalled first if a vote."""
        destination = message.requester if isinstance(message, BlockResponse) else None
        slot = vote_key(message)
        if slot is None:
            envelope = self.seal_response(message) if isinstance(message, BlockResponse) else self.signatures.seal(message)
            if envelope is None:
                self.events["certificate_signature_unknown"] += 1
                return None
            return destination, frame(FRAME_ENVELOPE, envelope_bytes(self.chain.chain_id, envelope))
        key, view, height, _ = slot
        value = vote_value(self.chain.chain_id, message)
        kept = self.journal.get(key)
        if kept is not None:
            if kept.digest != value:
                self.events["vote_withheld_conflicts_journal"] += 1
            self.live[key] = kept
            return destination, kept.envelope
        envelope = self.signatures.seal(message)
        if envelope is None:
            self.events["certificate_signature_unknown"] += 1
            return None
        entry = JournalEntry(key, view, height, value, frame(FRAME_ENVELOPE, envelope_bytes(self.chain.chain_id, envelope)))
        assert self.storage is not None
        self.storage.put_journal(entry)
        self.journal[key] = self.live[key] = entry
        return destination, entry.envelope

    def seal_response(self, message: BlockResponse) -> SignedEnvelope | None:
        """A BLOCK-RESPONSE carries the stored commit certificate's signatures."""
        assert self.storage is not None
        stored = self.storage.block(message.certificate.height)
        if stored is not None and stored.signatures:
            obligations = commit_certificate_obligations(self.chain.chain_id, stored.certificate, "certificate")
            self.signatures.remember(obligations, stored.signatures)
        return self.signatures.seal(message)

    def note_progress(self, height: int, view: int, active: bool) -> None:
        replica, now = self.replica, asyncio.get_running_loop().time()
        if replica.height > height:
            self.last_progress, self.view_change_streak = now, 0
            self.metrics_registry.set_committed_height(replica.height)
            if self.slot_timing is not None and self.slot_timing[2]:
                self.metrics_registry.observe_phase("commit", now - self.slot_timing[1])
            self.slot_timing = None
        if replica.active and (not active or replica.view != view):
            self.last_progress = now
            self.views_entered += 1
            self.metrics_registry.count_view_change()
            self.metrics_registry.set_view(replica.view)
        slot = replica.slot
        if slot is not None:
            if self.slot_timing is None or self.slot_timing[0] != slot.pre_prepare.height:
                self.slot_timing = (slot.pre_prepare.height, now, False)
            if slot.prepared and not self.slot_timing[2]:
                self.metrics_registry.observe_phase("prepare", now - self.slot_timing[1])
                self.slot_timing = (slot.pre_prepare.height, now, True)

    # --- inbound -----------------------------------------------------------------------------------------
    def on_frame(self, payload: bytes) -> str | None:
        """One frame from a peer: None if it passed the boundary, else why it is dropped."""
        kind, body = payload[0], payload[1:]
        if kind == FRAME_REQUEST:
            request = request_from_body(body)
            if isinstance(request, str):
                return request
            self.step(ClientRequest(request))
            return None
        if kind != FRAME_ENVELOPE:
            return "frame_kind_unknown"
        envelope = envelope_at_boundary(self.chain.chain_id, self.keys, body)
        if isinstance(envelope, str):
            return envelope
        self.signatures.remember_envelope(envelope, body[4:4 + int.from_bytes(body[:4], "big")])
        message = envelope.message
        if isinstance(message, PrePrepare) and self.conflicts_with_journal(message):
            self.events["pre_prepare_conflicts_journal"] += 1
            return None
        self.note_evidence(message)
        self.step(message)
        return None

    def conflicts_with_journal(self, proposal: PrePrepare) -> bool:
        """This replica already voted for another block in this slot."""
        for kind in ("PrePrepare", "Prepare", "Commit"):
            kept = self.journal.get(f"{kind}/{proposal.view}/{proposal.height}")
            if kept is not None and kept.digest != proposal.digest:
                return True
        return False

    def note_evidence(self, message: Message) -> None:
        """Votes showing heights this replica has not executed. A vote for height h shows h - 1 was
        executed by its sender, a checkpoint vote its own height; f + 1 senders include a correct
        replica. A quorum of commits for h shows h itself is committed."""
        if isinstance(message, Commit):
            self.count_evidence(("commit", message.height), message.sender, self.group.quorum, message.height)
        if isinstance(message, (PrePrepare, Prepare, Commit)):
            self.count_evidence(("vote", message.height - 1), message.sender, self.group.f + 1, message.height - 1)
        elif isinstance(message, Checkpoint):
            self.count_evidence(("vote", message.height), message.sender, self.group.f + 1, message.height)

    def count_evidence(self, key: tuple[str, int], sender: int, needed: int, executed: int) -> None:
        if executed <= self.replica.height:
            return
        senders = self.evidence.setdefault(key, set())
        senders.add(sender)
        if len(senders) >= needed:
            self.behind_until = max(self.behind_until, executed)

    # --- timers ------------------------------------------------------------------------------------------
    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.tick(asyncio.get_running_loop().time())
            except Exception as error:  # a bug: say so and go on, never die silently
                self.events["tick_error"] += 1
                print(f"node {self.config.replica}: tick failed: {type(error).__name__}: {error}", file=sys.stderr)

    def tick(self, now: float) -> None:
        timers, replica = self.config.timers, self.replica
        if now >= self.next_fetch:
            self.next_fetch = now + timers.fetch_ms / 1000
            self.step(TimerFired(Timer.FETCH, now_ms()))
            self.fetch_if_behind()
        if now >= self.next_retransmit:
            self.next_retransmit = now + timers.retransmit_ms / 1000
            self.retransmit()
        waiting = not replica.active or len(replica.pending) > 0
        timeout = timers.view_change_ms * 2 ** min(self.view_change_streak, 6) / 1000
        if waiting and now - self.last_progress >= timeout:
            self.last_progress = now
            self.view_change_streak += 1
            self.step(TimerFired(Timer.VIEW_CHANGE, now_ms()))

    def fetch_if_behind(self) -> None:
        """Ask for the next block when peers' votes show this replica is behind (the core asks by itself
        only when checkpoints show it)."""
        replica = self.replica
        for key in [key for key in self.evidence if key[1] <= replica.height]:
            del self.evidence[key]
        if self.behind_until > replica.height and replica.known_height <= replica.height:
            send = self.outbound(BlockRequest(replica.height + 1, replica.replica))
            if send is not None:
                self.transport.broadcast(send[1])

    def retransmit(self) -> None:
        replica = self.replica
        if self.config.byzantine == "silent":
            return
        checkpoint = max((entry.height for key, entry in self.live.items() if key.startswith("Checkpoint/")),
                         default=0)
        for key in list(self.live):
            entry = self.live[key]
            kind = key.split("/")[0]
            if kind in ("PrePrepare", "Prepare", "Commit"):
                needed = entry.view == replica.view and entry.height >= replica.height
            elif kind == "Checkpoint":
                needed = entry.height == checkpoint
            elif kind == "ViewChange":
                needed = entry.view == replica.view and not replica.active
            else:
                needed = entry.view == replica.view and replica.is_primary()
            if needed:
                self.transport.broadcast(entry.envelope)
            else:
                del self.live[key]

    # --- the node handle (the HTTP API's view of the node) ---------------------------------------------
    async def submit(self, requests: Sequence[Request]) -> list[SubmitOutcome]:
        """One outcome per request; `NodeBusy`, taking none of them, when stopping or when the pending
        requests would pass MAX_PENDING_REQUESTS."""
        if self.stopped:
            raise NodeBusy("the node is stopping")
        if len(self.replica.pending) + len(requests) > MAX_PENDING_REQUESTS:
            raise NodeBusy(f"{len(self.replica.pending)} requests pending (at most {MAX_PENDING_REQUESTS})")
        return [self.submit_one(tuple(request)) for request in requests]

    def submit_one(self, request: Request) -> SubmitOutcome:
        committed = self.committed_outcome(request)
        if committed is not None:
            return committed
        refusal = self.step(ClientRequest(request))
        if refusal is None or refusal == Refusal.REQUEST_ALREADY_PENDING:
            if refusal is None:
                self.submitted_at[transaction_hash(request[0]).hex()] = time.perf_counter()
            self.transport.broadcast(frame(FRAME_REQUEST, request_body(request)))
            self.events["requests_relayed"] += 1
            return SubmitOutcome(SubmitStatus.ACCEPTED)
        invalid = first_invalid_transaction(self.chain, self.ledger.signatures, request) if request else None
        return SubmitOutcome(SubmitStatus.REFUSED, refusal=refusal, invalid_index=None if invalid is None else invalid[0],
                             invalid_code=None if invalid is None else invalid[1])

    def committed_outcome(self, request: Request) -> SubmitOutcome | None:
        if len(request) == 0:
            return None
        positions = [self.transaction_positions.get(transaction_hash(tx).hex()) for tx in request]
        if positions[0] is None or any(position is None for position in positions):
            return None
        height = positions[0][0]
        block_receipt = self.ledger.receipts[height - 1]
        receipts = tuple(block_receipt.transactions[position[1]] for position in positions if position is not None)
        return SubmitOutcome(SubmitStatus.COMMITTED, height=height, block_hash=block_receipt.block_hash,
                             receipts=receipts)

    def account(self, agent: str) -> Account | None:
        return self.ledger.accounts.get(agent)

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.ledger.transfers.get(transfer_id)

    def task(self, task_id: str) -> Task | None:
        return self.ledger.tasks.get(task_id)

    def block(self, height: int) -> Block | None:
        return self.replica.blocks[height - 1] if 1 <= height <= self.replica.height else None

    def receipt(self, transaction_hash: str) -> CommittedReceipt | None:
        position = self.transaction_positions.get(transaction_hash)
        if position is None:
            return None
        block_receipt = self.ledger.receipts[position[0] - 1]
        return CommittedReceipt(transaction_hash, position[0], block_receipt.block_hash,
                                block_receipt.transactions[position[1]])

    def state_root(self) -> StateRootAt:
        return StateRootAt(self.ledger.height, self.ledger.state_root())

    def status(self) -> NodeStatus:
        replica = self.replica
        return NodeStatus(
            replica=replica.replica, platform=self.group.platforms[replica.replica], view=replica.view,
            view_active=replica.active, height=replica.height,
            peers=tuple(PeerStatus(peer.replica, self.transport.connected(peer.replica)) for peer in self.config.peers))

    def drops(self) -> Counter[str]:
        """Inbound frames and connections dropped, by reason."""
        return Counter(self.transport.drops)

    def metrics(self) -> str:
        for reason, count in self.transport.drops.items():
            while self.exported_drops[reason] < count:
                self.metrics_registry.count_dropped_frame(reason)
                self.exported_drops[reason] += 1
        return self.metrics_registry.render()

    # --- the control socket (local tools and tests) -----------------------------------------------------
    def control_status(self) -> dict[str, Any]:
        return {
            **dict(to_json(self.status())),
            "state_root": self.ledger.state_root(),
            "drops": dict(self.transport.drops), "outbound": dict(self.transport.outbound_events), "events": dict(self.events), "refusals": dict(self.refusals),
            "pid": os.getpid(), "byzantine": self.config.byzantine,
        }

    async def serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """JSON lines on a Unix socket in the data dir: {"op": "status"} or
        {"op": "submit", "requests": [[transaction hex, ...], ...]}."""
        try:
            while line := await reader.readline():
                writer.write((json.dumps(await self.control_answer(line)) + "\n").encode())
                await writer.drain()
        except (OSError, ConnectionError, ValueError):  # ValueError: a line over CONTROL_LINE_BYTES
            pass
        finally:
            writer.close()

    async def control_answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if request.get("op") == "status":
                return {"ok": True, "status": self.control_status()}
            if request.get("op") == "submit":
                requests = [tuple(decode_transaction(bytes.fromhex(text)) for text in texts)
                            for texts in request["requests"]]
                outcomes = await self.submit(requests)
                return {"ok": True, "outcomes": [to_json(outcome) for outcome in outcomes]}
            return {"ok": False, "error": f"op: {request.get('op')!r} is none of status, submit"}
        except NodeBusy as error:
            return {"ok": False, "error": f"busy: {error}"}
        except (ValueError, KeyError, TypeError, AttributeError, DecodeError) as error:
            return {"ok": False, "error": f"{type(error).__name__}: {error}"}


async def run_node(config: NodeConfig) -> None:
    """Run one replica until SIGTERM or SIGINT."""
    node = Node(config)
    await node.start()
    http = await node.serve_http()
    print(f"replica {config.replica} listening on {config.listen.host}:{node.transport.port}"
          + (f", HTTP on {config.http_host}:{config.http_port}" if http else "")
          + f", height {node.replica.height}", file=sys.stderr, flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)
    await stopping.wait()
    await node.stop()
