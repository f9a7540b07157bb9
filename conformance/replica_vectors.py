"""The `replica` runner's cases, generated from the spec: one replica from genesis and
the inputs it steps on. Every case's expected answers come from the spec node
(`conformance.runners.replica.replica_case`); this module only chooses inputs.

Five handlers:

* `witnesses`: every reachability witness of the checker (configs/witnesses/), found
  by the checker's search and turned into one case per correct replica: the inputs
  that replica stepped on in the witness trace, in order, its first client requests
  included;
* `paths`: a seeded sample of random walks through the n4f1 model
  (configs/n4f1.toml), each turned into cases the same way;
* `refusals`: one short input sequence from genesis per refusal reason
  (`spec.refusals.Refusal`, `spec.wire.envelope.EnvelopeRefusal`), ending in the
  input refused for it, and a few frames the decoder refuses;
* `quorum`: groups where 2f + 1 is no quorum (N = 5 and N = 6, f = 1, quorum 4), and
  N = 7 (f = 2), where a replica must not prepare, commit, install a NEW-VIEW, take a
  stable checkpoint or a caught-up block on fewer votes than the rule's quorum, and
  must join a view on f + 1 view changes, no fewer;
* `regressions`: sequences a bug once got through, written from genesis: the shrunk
  counterexamples of the differential tests (tests/test_reference_replica.py) that no
  other case caught (a NEW-VIEW re-proposing the certificate of the highest view, a
  primary batching whole requests up to the first that does not fit), and an input
  the spec crashed on (an empty client request after the first executed block).

The checker's search and walks visit sets of messages, whose order follows Python's
string hashes; `fedspec check` fixes the hash seed for that reason, and so does this
module: checker traces are made under CHECK_HASH_SEED, in a child process when this
one runs under another, so that generating twice writes the same bytes.
"""

import functools
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from pathlib import Path
from typing import Any, NamedTuple

from conformance import spec_node
from conformance.cases import Case
from conformance.ledger_builders import PLACEHOLDER_SIGNATURE
from conformance.protocol import PROTOCOL_VERSION, ConsensusSettings, input_form
from conformance.runners.replica import replica_case
from spec import pbft
from spec.codes import ResultCode
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.ledger import apply_block, make_header
from spec.wire.decoding import decode_consensus_message
from spec.wire.encoding import block_hash, transaction_bytes
from spec.wire.envelope import SignedEnvelope, envelope_bytes, sign_envelope
from spec.wire.json_form import from_json, input_from_json, to_json
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
    ReplicaId,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import LedgerState
from spec.wire.signing import signed_copy
from spec.wire.types import AtpTransferLock, BalanceSet, Block, Genesis

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
WITNESS_CONFIGS = CONFIGS / "witnesses"
PATH_CONFIG = CONFIGS / "n4f1.toml"
"""The group of the `paths` handler, and the ledger and keys of the hand-written handlers."""

CHECK_HASH_SEED = "0"
"""The hash seed checker traces are made under: `fedspec check`'s (fedspec.cli.CHECK_HASH_SEED)."""

PATH_SEED = 20261202
"""The seed of the `paths` sample (random.Random)."""
PATH_WALKS = 8
"""Walks in the `paths` sample; each gives one case per correct replica (3 on n4f1)."""
PATH_LENGTH = 40
"""Transitions per walk at most (a walk stops earlier where no transition is left)."""

TraceDocument = dict[str, Any]
"""A checker trace in its JSON form (`checker.trace.trace_json`, format fedspec-trace/1)."""


# --- checker traces -------------------------------------------------------------------------------------
def witness_traces() -> list[tuple[str, TraceDocument]]:
    """Every witness configuration's trace, as `fedspec check` finds it, by config stem."""
    from checker.config import load_config
    from checker.explore import explore
    from checker.trace import concrete_finding, replay, trace_json

    traces = []
    for path in sorted(WITNESS_CONFIGS.glob("*.toml")):
        config = load_config(path)
        outcome = explore(config)
        if outcome.finding is None:
            raise RuntimeError(f"{path.name}: the checker found no witness")
        trace = replay(config, outcome.trace)
        traces.append((path.stem, trace_json(config, trace, concrete_finding(config, trace, outcome.finding))))
    return traces


def path_traces(seed: int = PATH_SEED, walks: int = PATH_WALKS, length: int = PATH_LENGTH) -> list[tuple[str, TraceDocument]]:
    """`walks` seeded random walks through the n4f1 model, each as a trace from the
    initial world, named walk-1, walk-2, ..."""
    from checker.config import load_config
    from checker.invariants import Finding
    from checker.model import Model
    from checker.trace import Trace, TraceStep, trace_json

    config = load_config(PATH_CONFIG)
    model = Model(config)
    initial = model.initial()
    chooser = random.Random(seed)
    traces = []
    for number in range(1, walks + 1):
        world, steps = initial, []
        for step_number in range(1, length + 1):
            successors = [action for action, _ in model.successors(world)]
            if not successors:
                break
            action = chooser.choice(successors)
            world, results = model.apply_action(world, action)
            steps.append(TraceStep(step_number, action, results, world))
        finding = Finding("path", f"random walk {number} of {walks} with seed {seed}")
        traces.append((f"walk-{number}", trace_json(config, Trace(initial, model.initial_results, steps), finding)))
    return traces


TRACE_SOURCES: dict[str, Callable[[], list[tuple[str, TraceDocument]]]] = {
    "witnesses": witness_traces, "paths": path_traces,
}


@functools.cache
def checker_traces(source: str) -> list[tuple[str, TraceDocument]]:
    """The traces of `source` (a key of TRACE_SOURCES), made under CHECK_HASH_SEED: here
    if this process runs under it, else in a child process that does. Remembered: the
    witnesses' search takes seconds, and a process may generate the cases more than once."""
    if os.environ.get("PYTHONHASHSEED") == CHECK_HASH_SEED:
        return TRACE_SOURCES[source]()
    path = os.environ.get("PYTHONPATH")
    environment = {**os.environ, "PYTHONHASHSEED": CHECK_HASH_SEED,
                   "PYTHONPATH": str(ROOT) if not path else f"{ROOT}{os.pathsep}{path}"}
    command = [sys.executable, "-m", "conformance.replica_vectors", source]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {result.returncode}):\n{result.stderr}")
    return [(name, document) for name, document in json.loads(result.stdout)]


# --- a trace as cases -----------------------------------------------------------------------------------
def replica_inputs(document: TraceDocument) -> dict[int, list[Input]]:
    """Per correct replica, every input it stepped on in the trace, in order: the
    client requests it started with, then those of its own steps (a burst of votes
    gives several). A faulty replica's messages and crashes are no replica's input."""
    inputs: dict[int, list[Input]] = {}
    for replica, start in document["initial"]["replicas"].items():
        inputs[int(replica)] = [input_from_json(item["input"]) for item in start["inputs"]]
    for row in document["steps"]:
        for item in row.get("inputs", []):
            inputs[row["replica"]].append(input_from_json(item["input"]))
    return inputs


def follows_the_quorum_rule(document: TraceDocument) -> bool:
    """A node derives f and the quorum from N (the adapter sends neither), so only a
    trace made with the rule's f and quorum can become a case."""
    config = document["config"]
    f = pbft.fault_tolerance(len(config["replicas"]))
    return bool(config["f"] == f and config["quorum"] == pbft.quorum_size(len(config["replicas"]), f))


def trace_cases(handler: str, name: str, document: TraceDocument, seeds: dict[ReplicaId, bytes]) -> list[Case]:
    """One case per correct replica of a trace: `name`.`platform`."""
    config = document["config"]
    genesis = from_json(Genesis, document["genesis"])
    settings = ConsensusSettings(
        config["checkpoint_interval"], config["watermark_window"], config["max_block_transactions"],
    )
    cases = []
    for replica, inputs in sorted(replica_inputs(document).items()):
        platform = config["replicas"][replica]
        description = (
            f"{config['name']}, {document['property']} ({document['detail']}): the inputs {platform} "
            f"(replica {replica}) steps on"
        )
        cases.append(replica_case(
            handler, f"{name}.{platform.lower()}", description, genesis, seeds, replica, settings,
            config["clocks_ms"][str(replica)], list(inputs),
        ))
    return cases


def config_seeds(path: Path) -> dict[ReplicaId, bytes]:
    """Every replica's key seed in a checker configuration: from its `key_seed` text."""
    return Group.from_config(path).seeds


def witness_cases(traces: Sequence[tuple[str, TraceDocument]] | None = None) -> list[Case]:
    """The `witnesses` handler; `traces` by config stem (default: the checker's search)."""
    cases: list[Case] = []
    for stem, document in checker_traces("witnesses") if traces is None else traces:
        if follows_the_quorum_rule(document):
            cases.extend(trace_cases("witnesses", stem, document, config_seeds(WITNESS_CONFIGS / f"{stem}.toml")))
    return cases


def path_cases(traces: Sequence[tuple[str, TraceDocument]] | None = None) -> list[Case]:
    cases: list[Case] = []
    seeds = config_seeds(PATH_CONFIG)
    for name, document in checker_traces("paths") if traces is None else traces:
        cases.extend(trace_cases("paths", f"n4f1.{name}", document, seeds))
    return cases


# --- groups for the hand-written handlers -----------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A consensus group a hand-written case runs in: the n4f1 ledger, keys and client
    requests, on the platforms given."""

    name: str
    genesis: Genesis
    seeds: dict[ReplicaId, bytes]
    authority_seed: bytes
    settings: ConsensusSettings
    clock_ms: int
    requests: tuple[ClientRequest, ...]
    """The n4f1 requests: Alice@Sprout's task with its lock, then Bob's proof."""

    @staticmethod
    def from_config(path: Path, platforms: tuple[str, ...] = ()) -> "Group":
        """The group of a checker configuration; `platforms` in place of its own,
        each keyed by `check NAME` as the shipped configurations are."""
        from checker.config import CheckerConfigFile, build_config, read_toml
        from spec.scenario import genesis_of

        data = read_toml(path)
        if platforms:
            data["genesis"]["platforms"] = [{"name": name, "key_seed": f"check {name.lower()}"} for name in platforms]
        raw = CheckerConfigFile.model_validate_json(json.dumps(data))
        config = build_config(raw, str(path))
        genesis, seeds, authority_seed = genesis_of(raw.genesis)
        settings = ConsensusSettings(
            config.consensus.checkpoint_interval, config.consensus.watermark_window,
            config.consensus.max_block_transactions,
        )
        return Group(
            f"n{config.n}", genesis, {index: seeds[p.name] for index, p in enumerate(genesis.platforms)},
            authority_seed, settings, config.clock_ms, tuple(request.request for request in config.requests),
        )

    @property
    def n(self) -> int:
        return len(self.genesis.platforms)

    def init(self, replica: ReplicaId, settings: ConsensusSettings | None = None) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL_VERSION, "genesis": to_json(self.genesis), "replica": replica,
            "consensus": (settings or self.settings).form(), "clock_ms": self.clock_ms,
        }

    def replica(self, replica: ReplicaId) -> tuple[pbft.ConsensusConfig, pbft.ReplicaState]:
        """A replica of this group at genesis, as the spec node sets it up."""
        node, _ = spec_node.on_init(self.init(replica))
        assert node.config is not None and node.replica is not None
        return node.config, node.replica

    def case(
        self, handler: str, name: str, description: str, replica: ReplicaId, inputs: Sequence[Input | dict[str, Any]],
        settings: ConsensusSettings | None = None,
    ) -> Case:
        return replica_case(
            handler, name, description, self.genesis, self.seeds, replica, settings or self.settings, self.clock_ms,
            list(inputs),
        )

    def sealed(self, message: Message, chain_id: str | None = None) -> dict[str, Any]:
        """A message in its envelope, as a protocol-form input (signed for `chain_id`)."""
        return input_form(chain_id or self.genesis.chain_id, self.seeds, message)

    def frame(self, message: Message, signatures: tuple[str, ...]) -> dict[str, Any]:
        """A message with the signatures given, whatever they are, as a protocol-form input."""
        data = envelope_bytes(self.genesis.chain_id, SignedEnvelope(message, signatures))
        return {"kind": "message", "envelope": data.hex()}

    def signatures(self, message: Message) -> tuple[str, ...]:
        return sign_envelope(self.seeds, self.genesis.chain_id, message).signatures


def ledger_after(config: pbft.ConsensusConfig, blocks: Sequence[Block]) -> LedgerState:
    """The ledger state after `blocks` from genesis (each must be valid)."""
    state = config.genesis_state
    for block in blocks:
        state, receipt = apply_block(config.chain, state, block)
        if receipt.code != ResultCode.OK:
            raise AssertionError(f"block {block.header.height} is invalid: {receipt.code}")
    return state


# --- the messages of a group's first heights -----------------------------------------------------------
CHECKPOINT_ROOT = "c4" * 32
"""The root the checkpoint votes of the hand-written cases name: a replica counts
votes without checking their root against its own (it may not have executed)."""
OTHER_DIGEST = "ee" * 32
"""A digest no block of these cases has."""


@dataclass(frozen=True)
class Story:
    """A group's primary of view 0 proposing the task at height 1, and what the other
    replicas can send around it: votes, view changes to view 1, a NEW-VIEW, catch-up."""

    group: Group
    config: pbft.ConsensusConfig
    proposal: PrePrepare
    """The primary's own proposal of the task and its lock, as the spec makes it."""

    @staticmethod
    def of(group: Group) -> "Story":
        config, primary = group.replica(0)
        outputs = pbft.step(config, primary, group.requests[0]).outputs
        assert len(outputs) == 1 and isinstance(outputs[0], PrePrepare), outputs
        return Story(group, config, outputs[0])

    @property
    def request(self) -> ClientRequest:
        return self.group.requests[0]

    @property
    def quorum(self) -> int:
        return self.config.quorum

    @property
    def f(self) -> int:
        return self.config.f

    def others(self, *excluded: ReplicaId) -> list[ReplicaId]:
        """Every replica but `excluded`, primary of view 0 first."""
        return [replica for replica in range(self.group.n) if replica not in excluded]

    def prepare(self, sender: ReplicaId) -> Prepare:
        return Prepare(0, 1, self.proposal.digest, sender)

    def commit(self, sender: ReplicaId) -> Commit:
        return Commit(0, 1, self.proposal.digest, sender)

    def timer(self, timer: Timer) -> TimerFired:
        return TimerFired(timer, self.group.clock_ms)

    def timed_out(self) -> list[Input]:
        """The task's request, then the VIEW_CHANGE timer: a replica holding a request it
        has not seen executed leaves view 0 for view 1."""
        return [self.request, self.timer(Timer.VIEW_CHANGE)]

    def block(self, header_changes: dict[str, Any]) -> Block:
        """The proposal's block with header fields changed."""
        header = self.proposal.block.header.model_copy(update=header_changes)
        return Block(header=header, transactions=self.proposal.block.transactions)

    def proposing(self, block: Block, view: int = 0, height: int = 1) -> PrePrepare:
        """The primary of `view` proposing `block` at `height`, with the block's own digest."""
        return PrePrepare(view, height, block_hash(block.header), block, pbft.primary_of(view, self.group.n))

    def other_proposal(self, view: int = 0) -> PrePrepare:
        """Another valid block for height 1: the same request, stamped a millisecond later."""
        later = self.proposal.block.header.timestamp_ms + 1
        return self.proposing(self.block({"timestamp_ms": later}), view)

    def executing_height_1(self, replica: ReplicaId) -> list[Input]:
        """What a backup steps on to execute height 1: the proposal, then prepares and
        commits from the first replicas up to a quorum."""
        prepares = [self.prepare(sender) for sender in self.others(0, replica)[: self.quorum - 2]]
        commits = [self.commit(sender) for sender in self.others(replica)[: self.quorum - 1]]
        return [self.proposal, *prepares, *commits]

    def height_2_proposal(self) -> PrePrepare:
        """The primary's proposal of the proof at height 2, on the ledger after height 1."""
        ledger = ledger_after(self.config, [self.proposal.block])
        txs = self.group.requests[1].transactions
        header = make_header(ledger, self.proposal.block.header.timestamp_ms + 1, self.proposal.block.header.proposer, txs)
        return self.proposing(Block(header=header, transactions=txs), height=2)

    def prepared_certificate(self) -> PreparedCertificate:
        return PreparedCertificate(self.proposal, frozenset(range(self.quorum)))

    def view_change(self, sender: ReplicaId, prepared: bool = False) -> ViewChange:
        """`sender` asking for view 1 from the genesis checkpoint (with the proposal's
        prepared certificate if `prepared`)."""
        certificates = (self.prepared_certificate(),) if prepared else ()
        return ViewChange(1, pbft.genesis_checkpoint(self.config), certificates, sender)

    def new_view(self, senders: Sequence[ReplicaId], prepared: bool = False) -> NewView:
        """The NEW-VIEW of view 1 on these senders' view changes, with what they determine."""
        view_changes = tuple(self.view_change(sender, prepared) for sender in sorted(senders))
        checkpoint, proposals = pbft.new_view_proposals(self.config, 1, view_changes)
        return NewView(1, view_changes, checkpoint, proposals, pbft.primary_of(1, self.group.n))

    def response(self, requester: ReplicaId, commits: Sequence[ReplicaId]) -> BlockResponse:
        """The primary answering `requester` with height 1 and a certificate of `commits`."""
        certificate = CommitCertificate(0, 1, self.proposal.digest, frozenset(commits))
        return BlockResponse(self.proposal.block, certificate, requester, 0)

    def checkpoint_vote(self, sender: ReplicaId, height: int = 2) -> Checkpoint:
        return Checkpoint(height, CHECKPOINT_ROOT, sender)


class HandWritten(NamedTuple):
    """A hand-written case: what its last input must be refused for (None for a
    quorum case), its name within the handler, what it shows, the replica it runs
    and the inputs from genesis, and settings where they are not the group's."""

    refusal: str | None
    name: str
    description: str
    replica: ReplicaId
    inputs: list[Input | dict[str, Any]]
    settings: ConsensusSettings | None = None


def refused(refusal: str, slug: str, description: str, replica: ReplicaId, inputs: Sequence[Input | dict[str, Any]],
            settings: ConsensusSettings | None = None) -> HandWritten:
    """A sequence whose last input is refused for `refusal`; its case is named REFUSAL.SLUG."""
    return HandWritten(refusal, f"{refusal.lower()}.{slug}", description, replica, list(inputs), settings)


def replace_settings(settings: ConsensusSettings, **changes: int) -> ConsensusSettings:
    return dataclass_replace(settings, **changes)


# Sprout (replica 1) is a backup of view 0 and the primary of view 1; Legion (2) and
# Nova (3) are backups of both; Thor (0) is the primary of view 0.
def request_and_view_refusals(story: Story) -> list[HandWritten]:
    """Client requests refused, and messages of a view the replica is not working in."""
    group, request, proposal = story.group, story.request, story.proposal
    task, lock = request.transactions
    timed_out = story.timed_out()
    return [
        refused("request_already_pending", "same-request-twice", "a backup given one client request twice", 1,
                [request, request]),
        refused("request_already_executed", "request-after-its-block",
                "a backup that executed height 1 given its request", 1, [*story.executing_height_1(1), request]),
        refused("request_malformed", "empty-request", "a client request without transactions", 1,
                [ClientRequest(())]),
        refused("request_malformed", "lock-before-its-task", "a task's lock before the task", 1,
                [ClientRequest((lock, task))]),
        refused("request_larger_than_block", "task-and-lock-one-transaction-a-block",
                "a task and its lock where a block carries one transaction", 1, [request],
                replace_settings(group.settings, max_block_transactions=1)),
        refused("request_transaction_invalid", "task-signed-by-another-platform",
                "a task signed with Legion's key for Sprout's agent", 1,
                [ClientRequest((signed_copy(group.seeds[2], group.genesis.chain_id, task), lock))]),
        refused("stale_view", "pre-prepare-of-view-0-in-view-1",
                "a backup that timed out into view 1 given view 0's proposal", 2, [*timed_out, proposal]),
        refused("stale_view", "view-change-to-view-1-in-view-2",
                "a backup that timed out twice given a view change to view 1", 2,
                [*timed_out, story.timer(Timer.VIEW_CHANGE), story.view_change(3)]),
        refused("future_view", "pre-prepare-of-view-1-in-view-0", "a backup in view 0 given a proposal of view 1", 2,
                [story.other_proposal(view=1)]),
        refused("awaiting_new_view", "pre-prepare-of-view-1-before-its-new-view",
                "a backup waiting for view 1's NEW-VIEW given a proposal of view 1", 2,
                [*timed_out, story.other_proposal(view=1)]),
        refused("view_already_started", "new-view-again", "a backup given view 1's NEW-VIEW twice", 2,
                [story.new_view([1, 2, 3]), story.new_view([1, 2, 3])]),
    ]


def proposal_refusals(story: Story) -> list[HandWritten]:
    """PRE-PREPAREs refused: the wrong sender, height or view, and blocks the replica rejects."""
    group, request, proposal = story.group, story.request, story.proposal
    return [
        refused("not_from_primary", "pre-prepare-from-a-backup", "a proposal of view 0 signed by Legion, a backup", 1,
                [PrePrepare(0, 1, proposal.digest, proposal.block, 2)]),
        refused("own_message", "primary-given-its-own-pre-prepare", "the primary given back the proposal it made", 0,
                [request, proposal]),
        refused("own_message", "own-block-request", "a replica given back its own block request", 1,
                [BlockRequest(1, 1)]),
        refused("fixed_by_new_view", "other-proposal-for-a-height-the-new-view-fixed",
                "a backup in view 1, whose NEW-VIEW re-proposed height 1, given another proposal for height 1", 2,
                [story.new_view([1, 2, 3], prepared=True), story.other_proposal(view=1)]),
        refused("height_not_next", "pre-prepare-for-height-2-at-genesis",
                "a backup at height 0 given a proposal for height 2", 1,
                [PrePrepare(0, 2, proposal.digest, proposal.block, 0)]),
        refused("height_not_next", "block-response-again",
                "a lagging replica given the block response it caught up with again", 1,
                [story.response(1, story.others(1)[: story.quorum])] * 2),
        refused("proposal_already_taken", "second-proposal-for-height-1", "a backup given two proposals for height 1",
                1, [proposal, story.other_proposal()]),
        refused("outside_watermarks", "height-2-with-a-window-of-1",
                "a backup that executed height 1, with no stable checkpoint and a window of one height, given height 2",
                1, [*story.executing_height_1(1), story.height_2_proposal()],
                replace_settings(group.settings, watermark_window=1)),
        refused("block_height_mismatch", "header-of-height-2-under-height-1",
                "a proposal for height 1 whose block header says height 2", 1,
                [story.proposing(story.block({"height": 2}))]),
        refused("digest_mismatch", "digest-not-the-blocks", "a proposal whose digest is not its block's hash", 1,
                [PrePrepare(0, 1, OTHER_DIGEST, proposal.block, 0)]),
        refused("timestamp_ahead_of_clock", "block-stamped-beyond-the-skew",
                "a block stamped more than MAX_CLOCK_SKEW_MS ahead of the backup's clock", 1,
                [story.proposing(story.block({"timestamp_ms": group.clock_ms + MAX_CLOCK_SKEW_MS + 1}))]),
        refused("block_invalid", "wrong-previous-hash", "a block that does not follow the genesis (wrong previous hash)",
                1, [story.proposing(story.block({"previous_hash": "ab" * 32}))]),
    ]


def vote_refusals(story: Story) -> list[HandWritten]:
    """PREPAREs, COMMITs and CHECKPOINT votes refused."""
    proposal = story.proposal
    return [
        refused("no_open_slot", "prepare-before-the-pre-prepare", "a backup given a prepare before any proposal", 1,
                [story.prepare(2)]),
        refused("vote_for_other_height", "prepare-for-height-2", "a prepare for height 2 while agreeing on height 1", 1,
                [proposal, Prepare(0, 2, proposal.digest, 2)]),
        refused("vote_for_other_block", "prepare-for-another-digest", "a prepare for another block at height 1", 1,
                [proposal, Prepare(0, 1, OTHER_DIGEST, 2)]),
        refused("duplicate_vote", "own-prepare-delivered-back", "a backup given back its own prepare", 1,
                [proposal, story.prepare(1)]),
        refused("duplicate_vote", "checkpoint-vote-twice", "a checkpoint vote given twice", 1,
                [story.checkpoint_vote(2), story.checkpoint_vote(2)]),
        refused("already_prepared", "prepare-after-a-quorum", "a prepare after the backup prepared", 1,
                [proposal, story.prepare(2), story.prepare(3)]),
        refused("not_yet_prepared", "commit-before-a-prepare-quorum", "a commit before the backup prepared", 1,
                [proposal, story.commit(2)]),
        refused("checkpoint_not_above_stable", "checkpoint-vote-for-height-0",
                "a checkpoint vote for the genesis height", 1, [story.checkpoint_vote(2, height=0)]),
        refused("checkpoint_height_not_on_interval", "checkpoint-vote-for-height-1",
                "a checkpoint vote for height 1 with a checkpoint every 2 heights", 1,
                [story.checkpoint_vote(2, height=1)]),
    ]


def view_change_and_catch_up_refusals(story: Story) -> list[HandWritten]:
    """VIEW-CHANGEs, NEW-VIEWs, BLOCK-REQUESTs and BLOCK-RESPONSEs refused."""
    timed_out = story.timed_out()
    unsigned_checkpoint = CheckpointCertificate(2, CHECKPOINT_ROOT, frozenset())
    return [
        refused("view_change_already_counted", "view-change-twice-at-the-new-primary",
                "view 1's primary, waiting for a quorum, given Legion's view change twice", 1,
                [*timed_out, story.view_change(2), story.view_change(2)]),
        refused("view_change_not_needed", "view-change-at-a-waiting-backup",
                "a backup waiting in view 1, which it does not lead, given a view change to view 1", 3,
                [*timed_out, story.view_change(2)]),
        refused("view_change_invalid", "unsigned-checkpoint",
                "a view change whose checkpoint of height 2 no replica signed", 1,
                [ViewChange(1, unsigned_checkpoint, (), 2)]),
        refused("new_view_invalid", "new-view-from-a-backup", "a NEW-VIEW of view 1 sent by Legion, not its primary", 3,
                [*timed_out, dataclass_replace(story.new_view([1, 2, 3]), sender=2)]),
        refused("height_below_first_block", "block-request-for-height-0", "a block request for height 0", 1,
                [BlockRequest(0, 3)]),
        refused("block_not_yet_executed", "block-request-for-height-1-at-genesis",
                "a block request for a height the replica has not executed", 1, [BlockRequest(1, 3)]),
        refused("response_for_other_replica", "response-for-nova-at-legion", "a block response for Nova given to Legion",
                2, [story.response(3, story.others(3)[: story.quorum])]),
        refused("commit_certificate_invalid", "certificate-one-short-of-a-quorum",
                "a block response whose commit certificate is one commit short of a quorum", 1,
                [story.response(1, story.others(1)[: story.quorum - 1])]),
    ]


def envelope_refusals(story: Story) -> list[HandWritten]:
    """One sequence per `spec.wire.envelope.EnvelopeRefusal`, each a backup that took
    the proposal and then gets a frame whose signatures the boundary refuses (a node
    that let it through would prepare or execute on it)."""
    group, proposal = story.group, story.proposal
    response = story.response(1, story.others(1)[: story.quorum])
    forged = list(group.signatures(response))
    forged[2] = group.signatures(dataclass_replace(response, sender=3))[0]  # Nova's key where Legion's vote belongs
    outside = dataclass_replace(response, certificate=dataclass_replace(response.certificate, commits=frozenset({0, 1, 7})))
    twice = (story.view_change(1), story.view_change(2), story.view_change(2))
    repeated = dataclass_replace(story.new_view([1, 2, 3]), view_changes=twice)
    unchecked = ("00" * 64,)
    """A signature the boundary never reaches: the signers are refused before it verifies any."""
    return [
        refused("sender_outside_group", "prepare-from-replica-4", "a prepare whose sender is replica 4 of 4", 1,
                [proposal, group.frame(Prepare(0, 1, proposal.digest, 4), unchecked)]),
        refused("certificate_signer_outside_group", "commit-certificate-naming-replica-7",
                "a block response whose certificate names replica 7", 1,
                [proposal, group.frame(outside, unchecked * 4)]),
        refused("certificate_repeats_signer", "new-view-with-two-view-changes-from-legion",
                "a NEW-VIEW carrying two view changes from Legion", 1,
                [proposal, group.frame(repeated, unchecked * (1 + len(twice)))]),
        refused("signature_count_wrong", "prepare-without-signature", "a prepare whose envelope has no signature", 1,
                [proposal, group.frame(story.prepare(2), ())]),
        refused("sender_signature_invalid", "prepare-signed-by-another-replica", "Legion's prepare signed with Nova's key",
                1, [proposal, group.frame(story.prepare(2), group.signatures(story.prepare(3)))]),
        refused("certificate_signature_invalid", "commit-certificate-with-a-forged-vote",
                "a block response whose certificate carries Nova's signature for Legion's commit", 1,
                [proposal, group.frame(response, tuple(forged))]),
    ]


def decoding_refusals(story: Story) -> list[HandWritten]:
    """Bytes the decoder refuses at the boundary (`spec.wire.decoding.DecodeFailure`),
    each after the proposal a backup took."""
    group, proposal = story.group, story.proposal
    good = group.sealed(story.prepare(2))["envelope"]
    tag = ENVELOPE_LENGTH_BYTES * 2
    broken_tag = good[:tag] + f"{int(good[tag : tag + 2], 16) ^ 0xFF:02x}" + good[tag + 2 :]
    task, lock = (transaction_bytes(tx).hex() for tx in story.request.transactions)
    return [
        refused("TRUNCATED", "envelope-missing-its-last-byte", "a prepare's envelope without its last byte", 1,
                [proposal, message_frame(good[:-2])]),
        refused("TRAILING_BYTES", "envelope-with-a-byte-more", "a prepare's envelope with one byte after it", 1,
                [proposal, message_frame(good + "00")]),
        refused("CHAIN_ID_MISMATCH", "envelope-for-another-chain", "a prepare sealed for chain fedspec-other", 1,
                [proposal, group.sealed(story.prepare(2), chain_id="fedspec-other")]),
        refused("UNKNOWN_DOMAIN_TAG", "envelope-with-a-broken-domain-tag",
                "a prepare's envelope whose domain tag has its first byte inverted", 1,
                [proposal, message_frame(broken_tag)]),
        refused("TRUNCATED", "client-request-with-a-truncated-transaction",
                "a client request whose lock misses its last byte", 1,
                [{"kind": "client_request", "transactions": [task, lock[:-2]]}]),
    ]


ENVELOPE_LENGTH_BYTES = 4
"""An envelope opens with the u32 length of its signing message, whose domain tag follows."""


def message_frame(envelope_hex: str) -> dict[str, Any]:
    """Bytes delivered as a message, whatever they hold, in protocol form."""
    return {"kind": "message", "envelope": envelope_hex}


def checked_case(group: Group, handler: str, sequence: HandWritten) -> Case:
    """The case of a hand-written sequence. A refusal sequence's last input must be
    refused for the reason it is written for: else the sequence is wrong, not the spec."""
    case = group.case(handler, sequence.name, sequence.description, sequence.replica, sequence.inputs, sequence.settings)
    got = case.data["steps"][-1]["expected"]["refusal"]
    if sequence.refusal is not None and got != sequence.refusal:
        raise AssertionError(f"{case.id}: the last input is refused for {got!r}, not {sequence.refusal!r}")
    return case


REFUSAL_SEQUENCES: tuple[Callable[[Story], list[HandWritten]], ...] = (
    request_and_view_refusals, proposal_refusals, vote_refusals, view_change_and_catch_up_refusals,
    envelope_refusals, decoding_refusals,
)


def refusal_cases() -> list[Case]:
    """The `refusals` handler, on the n4f1 group."""
    story = Story.of(Group.from_config(PATH_CONFIG))
    return [checked_case(story.group, "refusals", sequence) for make in REFUSAL_SEQUENCES for sequence in make(story)]


# --- quorums ----------------------------------------------------------------------------------------------
QUORUM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("Thor", "Sprout", "Legion", "Nova", "Vega"),
    ("Thor", "Sprout", "Legion", "Nova", "Vega", "Orion"),
    ("Thor", "Sprout", "Legion", "Nova", "Vega", "Orion", "Lyra"),
)
"""N = 5 and 6 (f = 1, quorum 4, where 2f + 1 = 3 is no quorum) and N = 7 (f = 2,
quorum 5, where f + 1 = 3 decides joining a view and fetching)."""


def quorum_sequences(story: Story) -> list[HandWritten]:
    """What a replica must not do one vote short of the quorum (or of f + 1), and does on it."""
    q, f, group = story.quorum, story.f, story.group.name
    others = story.others(1)
    votes = [story.checkpoint_vote(sender) for sender in others[:q]]
    fetch, again = story.timer(Timer.FETCH), story.checkpoint_vote(others[0])
    timed_out = story.timed_out()
    return [
        HandWritten(None, f"{group}.prepares-and-commits-on-a-quorum",
                    f"a backup given prepares, then commits, one by one up to {q}: it sends its COMMIT and executes "
                    "on the last of each, not before", 1, list(story.executing_height_1(1))),
        HandWritten(None, f"{group}.checkpoint-stable-on-a-quorum",
                    f"checkpoint votes one by one: {f + 1} tell the replica height 2 exists (its FETCH timer asks "
                    f"for height 1), {q} make it stable (a vote again: a duplicate before, below the stable "
                    "checkpoint after)", 1,
                    [*votes[:f], fetch, votes[f], fetch, *votes[f + 1 : q - 1], again, votes[q - 1], again]),
        HandWritten(None, f"{group}.new-view-on-a-quorum",
                    f"a backup given view 1's NEW-VIEW on {q - 1} view changes (invalid), then on {q}", 2,
                    [story.new_view(story.others(2)[: q - 1]), story.new_view(story.others(2)[:q])]),
        HandWritten(None, f"{group}.primary-sends-new-view-on-a-quorum",
                    f"view 1's primary, timed out, given view changes until it holds {q}", 1,
                    [*timed_out, *[story.view_change(sender) for sender in others[1:q]]]),
        HandWritten(None, f"{group}.caught-up-on-a-quorum-certificate",
                    f"a block response certified by {q - 1} commits (invalid), then by {q}", 1,
                    [story.response(1, others[: q - 1]), story.response(1, others[:q])]),
        HandWritten(None, f"{group}.joins-a-view-on-f-plus-1",
                    f"a backup of view 0 given view changes to view 1 one by one: it joins on the {f + 1}th", 2,
                    [story.view_change(sender) for sender in story.others(1, 2)[: f + 1]]),
    ]


def quorum_cases() -> list[Case]:
    """The `quorum` handler: each sequence on each group of QUORUM_GROUPS."""
    cases = []
    for platforms in QUORUM_GROUPS:
        story = Story.of(Group.from_config(PATH_CONFIG, platforms))
        title = f"N = {story.group.n}, f = {story.f}, quorum {story.quorum}"
        for sequence in quorum_sequences(story):
            cases.append(checked_case(story.group, "quorum", sequence._replace(
                description=f"{title}: {sequence.description}")))
    return cases


# --- regressions ----------------------------------------------------------------------------------------------
# Sequences a bug got through once: each the shrunk counterexample of a differential
# test (tests/test_reference_replica.py) or a spec crash, written from genesis so that
# the suite catches the bug in any node. Each is checked when generated for what it is
# written to show, so that a change to the inputs cannot leave it showing nothing.
REGRESSION_VIEW = 4
"""The view the NEW-VIEW cases move to: its primary is Thor (replica 0) on N = 4, and
views 0 and 1 below it had primaries that could prepare conflicting blocks."""


class Regression(NamedTuple):
    """A hand-written sequence and what the outputs of its last input must show."""

    sequence: HandWritten
    shows: Callable[[list[Message]], bool]


def conflicting_view_changes(story: Story) -> tuple[ViewChange, ViewChange]:
    """View changes to REGRESSION_VIEW from Legion and Nova, each with a prepared
    certificate for height 1: Legion's from view 0 (Thor's proposal), Nova's from view 1
    (Sprout's other block). The lower sender carries the lower view, so a node that
    takes the first certificate it finds re-proposes the older block."""
    later = story.other_proposal(view=1)
    view_1 = PreparedCertificate(later, frozenset(story.others(0)[: story.quorum]))
    genesis = pbft.genesis_checkpoint(story.config)
    return (ViewChange(REGRESSION_VIEW, genesis, (story.prepared_certificate(),), 2),
            ViewChange(REGRESSION_VIEW, genesis, (view_1,), 3))


def reproposes(digest: str) -> Callable[[list[Message]], bool]:
    """Whether the outputs hold a NEW-VIEW that re-proposes `digest` at height 1."""
    def shows(outputs: list[Message]) -> bool:
        return any(isinstance(message, NewView) and [p.digest for p in message.proposals] == [digest]
                   for message in outputs)
    return shows


def sends_exactly(expected: Sequence[Message]) -> Callable[[list[Message]], bool]:
    return lambda outputs: outputs == list(expected)


def new_view_regressions(story: Story) -> list[Regression]:
    """Conflicting prepared certificates for height 1, from views 0 and 1: the NEW-VIEW
    of view 4 must re-propose the one of the highest view (view 1), though view 0's
    comes first in sender order, at the primary that makes it and at a backup that
    checks it."""
    legion, nova = conflicting_view_changes(story)
    highest = nova.prepared[0].pre_prepare.digest
    primary_view_change = ViewChange(REGRESSION_VIEW, pbft.genesis_checkpoint(story.config), (), 0)
    view_changes = (primary_view_change, legion, nova)
    checkpoint, proposals = pbft.new_view_proposals(story.config, REGRESSION_VIEW, view_changes)
    new_view = NewView(REGRESSION_VIEW, view_changes, checkpoint, proposals, 0)
    return [
        Regression(HandWritten(
            None, "new_view_reproposes_the_highest_view_certificate",
            "view 4's primary given view changes with height-1 certificates of views 0 then 1 re-proposes view 1's block",
            0, [legion, nova]), reproposes(highest)),
        Regression(HandWritten(
            None, "new_view_with_the_highest_view_certificate_is_taken",
            "a backup given view 4's NEW-VIEW re-proposing view 1's block over view 0's takes it and prepares it",
            1, [new_view]), sends_exactly([Prepare(REGRESSION_VIEW, 1, highest, 1)])),
    ]


def task_lock(group: Group) -> AtpTransferLock:
    """The lock of the n4f1 task: Alice@Sprout paying Bob@Legion."""
    _, paid = group.requests[0].transactions
    assert isinstance(paid, AtpTransferLock), paid
    return paid


def group_lock(group: Group, transfer_id: str, amount: int) -> AtpTransferLock:
    """Alice@Sprout locking `amount` for Bob@Legion, signed by Sprout: the task's lock
    with another id and amount."""
    unsigned = task_lock(group).model_copy(update={"transfer_id": transfer_id, "amount": amount})
    signed = signed_copy(group.seeds[1], group.genesis.chain_id, unsigned)
    assert isinstance(signed, AtpTransferLock)
    return signed


def group_balance_set(group: Group, set_id: str, balance: int) -> BalanceSet:
    """The authority setting Bob's balance."""
    bob = task_lock(group).dest_agent
    unsigned = BalanceSet(set_id=set_id, agent=bob, balance=balance, signature=PLACEHOLDER_SIGNATURE)
    signed = signed_copy(group.authority_seed, group.genesis.chain_id, unsigned)
    assert isinstance(signed, BalanceSet)
    return signed


def batching_regressions(story: Story) -> list[Regression]:
    """The primary proposes whole pending requests in proposal order (a balance set
    first, then locks and tasks by hash) and stops at the first that does not fit:
    with a block of 2, the balance set goes alone, since the task pair after it does
    not fit, though the lock after the pair would."""
    group, config = story.group, story.config
    first, small = group_lock(group, "t1", 10), group_lock(group, "t2", 20)
    pair, balance = group.requests[0].transactions, group_balance_set(group, "s1", 7)
    if not pbft.proposal_order(pair) < pbft.proposal_order((small,)):
        raise AssertionError("the lock must sort after the task pair, or the pair is not the first that does not fit")
    _, primary = group.replica(0)
    proposal = pbft.step(config, primary, ClientRequest((first,))).outputs[0]
    assert isinstance(proposal, PrePrepare)
    votes = story.others(0)[: config.quorum - 1]
    inputs: list[Input | dict[str, Any]] = [
        ClientRequest((first,)), ClientRequest((small,)), ClientRequest(pair),
        *[Prepare(0, 1, proposal.digest, sender) for sender in votes], ClientRequest((balance,)),
        *[Commit(0, 1, proposal.digest, sender) for sender in votes],
    ]

    def proposes_the_balance_set_alone(outputs: list[Message]) -> bool:
        return any(isinstance(message, PrePrepare) and message.height == 2 and message.block.transactions == (balance,)
                   for message in outputs)
    return [Regression(HandWritten(
        None, "primary_batches_whole_requests_up_to_the_first_that_does_not_fit",
        "the primary, limit 2, proposes height 2 with the balance set alone: the task pair next does not fit",
        0, inputs), proposes_the_balance_set_alone)]


def empty_request_regressions(story: Story) -> list[Regression]:
    """An empty client request once a block is executed: the spec asked whether the
    request was executed before its shape, and read its first transaction (IndexError)."""
    return [Regression(HandWritten(
        "request_malformed", "empty_request_after_the_first_block_is_malformed",
        "a backup that executed height 1 refuses a client request without transactions as malformed",
        1, [*story.executing_height_1(1), ClientRequest(())]), sends_exactly([]))]


REGRESSION_SEQUENCES: tuple[Callable[[Story], list[Regression]], ...] = (
    new_view_regressions, batching_regressions, empty_request_regressions,
)


def last_outputs(case: Case) -> list[Message]:
    return [decode_consensus_message(bytes.fromhex(text))[1] for text in case.data["steps"][-1]["expected"]["outputs"]]


def regression_cases() -> list[Case]:
    """The `regressions` handler, on the n4f1 group: each case checked for what its last
    input must show (and, for a refusal, the refusal)."""
    story = Story.of(Group.from_config(PATH_CONFIG))
    cases = []
    for make in REGRESSION_SEQUENCES:
        for sequence, shows in make(story):
            case = checked_case(story.group, "regressions", sequence)
            if not shows(last_outputs(case)):
                raise AssertionError(f"{case.id}: the last input's outputs do not show what the case is for")
            cases.append(case)
    return cases


def replica_vectors_main(arguments: list[str]) -> None:
    """`python -m conformance.replica_vectors SOURCE`: the traces of SOURCE as JSON."""
    if len(arguments) != 1 or arguments[0] not in TRACE_SOURCES:
        raise SystemExit(f"usage: python -m conformance.replica_vectors {{{','.join(TRACE_SOURCES)}}}")
    json.dump(TRACE_SOURCES[arguments[0]](), sys.stdout)


def replica_cases() -> list[Case]:
    """Every case of the `replica` runner, handler by handler."""
    return witness_cases() + path_cases() + refusal_cases() + quorum_cases() + regression_cases()


if __name__ == "__main__":
    replica_vectors_main(sys.argv[1:])
