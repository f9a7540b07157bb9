"""Differential tests: the reference replica against the spec's, input by input.

Every input goes to two replicas at once: `spec.pbft.step` on the spec's state, and
`reference.replica.Replica.step` on the reference's. After each, the outputs (each
message's canonical bytes, blocks included), the refusal, the executed blocks, the
state root, the view and the height must be equal.

Two sources of inputs, both drawn by hypothesis:

* **a group run** (`group_runs`): four replicas (Thor, Sprout, Legion, Nova), of
  which Sprout, the primary of view 1, is Byzantine. The three correct replicas
  each run as a twin (spec and reference side by side). Hypothesis picks, one at a
  time: a client request to a replica (from a pool of valid, conflicting and
  invalid requests), the delivery of any message a correct replica sent (any
  number of times, in any order, to anyone, its sender included), a timer with a
  clock reading, or a message of the Byzantine replica built from what it could
  sign: equivocating pre-prepares in its views, votes for whatever it saw,
  checkpoint votes with a true or a false root, view changes carrying prepared
  certificates it assembled from the prepares it saw, NEW-VIEWs from any quorum of
  the view changes it holds, block requests and responses. The group's block
  limit is drawn from 1 to 3, so proposals batch and requests wait;
* **view changes** (`view_change_runs`): one replica fed view changes whose
  certificates conflict across views at the same heights, and NEW-VIEWs built
  from them (correct, or with one thing changed): what the NEW-VIEW computation
  must get right.

On a disagreement the test fails with the first step and field that differ, the
seed (`DIFFERENTIAL_SEED`), and the shrunk sequence of inputs, a line each.
The single-bug variants of the replica (`reference.variants.REPLICA_VARIANTS`) must
each disagree on some drawn sequence; `test_each_replica_variant_disagrees` shows it.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from builders import (
    ALICE,
    ATP,
    BOB,
    CAROL,
    DAVE,
    LEGION,
    SPROUT,
    T0,
    THOR,
    balance_set,
    lock,
    make_genesis,
    pair,
    proof,
)
from builders import commit as transfer_commit
from builders import rollback as transfer_rollback
from hypothesis import HealthCheck, Phase, find, given, seed, settings
from hypothesis import strategies as st

from reference.chain import chain_from_genesis as reference_chain
from reference.ledger import Ledger
from reference.replica import Replica, make_group
from reference.variants import REPLICA_VARIANTS
from spec import pbft
from spec.ledger import make_header
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.encoding import block_hash
from spec.wire.json_form import to_json
from spec.wire.message_encoding import consensus_signing_message
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
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block, Genesis

DIFFERENTIAL_SEED = 20261202
"""The seed every differential run starts from (printed with any disagreement)."""
NOVA = "Nova"
GENESIS = make_genesis((THOR, SPROUT, LEGION, NOVA))
CHAIN_ID = GENESIS.chain_id
N = 4
FAULTY: ReplicaId = 1
"""Sprout, the primary of view 1 (and 5): Byzantine."""
CORRECT = (0, 2, 3)
CLOCK = T0 + 1_000
"""Every replica's starting clock, in ms."""
GROUP_STEPS = 150
"""Inputs in a group run, at most."""
BOGUS_ROOT = "ee" * 32


def request_pool() -> tuple[tuple[AnyTransaction, ...], ...]:
    """Client requests: locks, task pairs, their settlements and proofs, a balance
    set; one that conflicts with another (the same transfer id), one invalid."""
    first_task, second_task = pair(task_id="k1", cost=50 * ATP), pair(task_id="k2", cost=60 * ATP, delegating_agent=DAVE)
    return (
        (lock("t1", amount=10 * ATP),),
        (lock("t2", source_agent=DAVE, amount=20 * ATP),),
        (lock("t3", source_agent=CAROL, dest_agent=ALICE, amount=5 * ATP),),
        first_task,
        second_task,
        (transfer_commit("t1"),),
        (transfer_rollback("t2"),),
        (proof("k1"),),
        (balance_set("s1", agent=BOB, balance=7 * ATP),),
        (lock("t1", amount=11 * ATP),),  # conflicts with the first: the same transfer id
        (lock("bad", amount=0),),  # a zero amount: refused as a request
    )


REQUESTS = request_pool()


# --- one replica, twice ---------------------------------------------------------------------------------
class Disagreement(AssertionError):
    pass


def message_bytes(messages: tuple[Message, ...]) -> list[str]:
    return [consensus_signing_message(CHAIN_ID, message).hex() for message in messages]


class Twin:
    """One replica run by the spec and by the reference, side by side."""

    def __init__(self, replica: ReplicaId, max_block_transactions: int, replica_class: type[Replica] = Replica,
                 genesis: Genesis = GENESIS, interval: int = 2, window: int = 4, clock: int = CLOCK):
        self.replica = replica
        n = len(genesis.platforms)
        self.config = pbft.ConsensusConfig(
            chain=chain_from_genesis(genesis), genesis_state=state_from_genesis(genesis),
            platforms=tuple(p.name for p in genesis.platforms), f=pbft.fault_tolerance(n),
            quorum=pbft.quorum_size(n, pbft.fault_tolerance(n)), checkpoint_interval=interval,
            watermark_window=window, max_block_transactions=max_block_transactions,
        )
        self.spec = pbft.initial_replica_state(self.config, replica, clock)
        chain = reference_chain(genesis)
        ledger = Ledger(chain)
        group = make_group(chain, ledger.state_root(), interval, window, max_block_transactions)
        self.reference = replica_class(group, replica, clock, ledger)

    def step(self, event: Input) -> tuple[Message, ...]:
        """Step both; raise `Disagreement` naming the first field that differs."""
        before = self.spec.height
        result = pbft.step(self.config, self.spec, event)
        self.spec = result.state
        outputs, refusal = self.reference.step(event)
        spec_side = {
            "refusal": None if result.refusal is None else result.refusal.value,
            "outputs": message_bytes(result.outputs),
            "executed": self.spec.executed[before:],
            "view": self.spec.view,
            "height": self.spec.height,
            "state_root": state_root(self.spec.ledger),
        }
        reference_side = {
            "refusal": None if refusal is None else refusal.value,
            "outputs": message_bytes(outputs),
            "executed": tuple(self.reference.executed[before:]),
            "view": self.reference.view,
            "height": self.reference.height,
            "state_root": self.reference.ledger.state_root(),
        }
        for name, wanted in spec_side.items():
            if reference_side[name] != wanted:
                raise Disagreement(f"replica {self.replica}, field {name}: spec {wanted!r:.400}, "
                                   f"reference {reference_side[name]!r:.400}")
        return result.outputs


def described(event: Input) -> str:
    """One input, in a line: its kind and the fields people look at."""
    if isinstance(event, ClientRequest):
        return "client request " + ", ".join(f"{tx.type}({list(tx.model_dump().values())[1]})"
                                            for tx in event.transactions)
    if isinstance(event, TimerFired):
        return f"timer {event.timer.value} at {event.now_ms}"
    data = to_json(event)
    assert isinstance(data, dict)
    brief = {key: value for key, value in data.items() if key not in ("block", "view_changes", "proposals")}
    return f"{type(event).__name__} {brief}"[:300]


@dataclass
class Run:
    """What was stepped so far, for the failure message."""

    log: list[str] = field(default_factory=list)
    context: str = ""
    """What else reproduces the run (a walk's seed)."""

    def step(self, twin: Twin, event: Input) -> tuple[Message, ...]:
        self.log.append(f"  {len(self.log) + 1}. to replica {twin.replica}: {described(event)}")
        try:
            return twin.step(event)
        except Disagreement as error:
            raise Disagreement(f"step {len(self.log)}: {error}\nseed {DIFFERENTIAL_SEED}{self.context}; "
                               "the inputs:\n"
                               + "\n".join(self.log)) from None


# --- the Byzantine replica: what it can sign and assemble -----------------------------------------------------
class Network:
    """Every message a correct replica sent, once each, in the order first sent."""

    def __init__(self) -> None:
        self.messages: dict[Message, None] = {}

    def add(self, messages: tuple[Message, ...]) -> None:
        for message in messages:
            self.messages.setdefault(message, None)

    def all(self) -> list[Message]:
        return list(self.messages)

    def of(self, kind: type) -> list[Any]:
        return [message for message in self.messages if isinstance(message, kind)]


def assembled_certificates(network: Network) -> list[PreparedCertificate]:
    """Prepared certificates the faulty replica can show: a pre-prepare seen (or its
    own) and the prepares seen for it, its own prepare added, when they make a quorum."""
    quorum = pbft.quorum_size(N, pbft.fault_tolerance(N))
    proposals = network.of(PrePrepare) + [c.pre_prepare for vc in network.of(ViewChange) for c in vc.prepared]
    certificates = []
    for proposal in dict.fromkeys(proposals):
        voters = {proposal.sender, FAULTY}
        for vote in network.of(Prepare):
            if (vote.view, vote.height, vote.digest) == (proposal.view, proposal.height, proposal.digest):
                voters.add(vote.sender)
        if len(voters) >= quorum:
            certificates.append(PreparedCertificate(proposal, frozenset(voters)))
    return certificates


def stable_certificates(network: Network, config: pbft.ConsensusConfig) -> list[CheckpointCertificate]:
    found = [pbft.genesis_checkpoint(config)]
    for message in network.of(ViewChange):
        found.append(message.checkpoint)
    for message in network.of(NewView):
        found.append(message.checkpoint)
    return list(dict.fromkeys(found))


def rising(certificates: list[PreparedCertificate], above: int) -> tuple[PreparedCertificate, ...]:
    """One certificate per height above `above`, heights rising: what a view change carries."""
    chosen: dict[int, PreparedCertificate] = {}
    for certificate in certificates:
        height = certificate.pre_prepare.height
        if height > above:
            chosen.setdefault(height, certificate)
    return tuple(chosen[height] for height in sorted(chosen))


def byzantine_block(data: st.DataObject, twin: Twin) -> Block:
    """A block on the target's ledger: some pool requests, a timestamp near its clock."""
    ledger = twin.spec.ledger
    picked = data.draw(st.lists(st.sampled_from(REQUESTS), min_size=1, max_size=2, unique=True))
    txs = tuple(tx for request in picked for tx in request)
    timestamp = ledger.last_timestamp_ms + data.draw(st.sampled_from([1, 500, 10_000]))
    return Block(header=make_header(ledger, timestamp, SPROUT, txs), transactions=txs)


def byzantine_message(data: st.DataObject, network: Network, twin: Twin) -> Message:
    """One message the faulty replica could send to `twin`."""
    kind = data.draw(st.sampled_from(
        ["pre_prepare", "vote", "checkpoint", "view_change", "new_view", "block_request", "block_response"]))
    spec = twin.spec
    if kind == "pre_prepare":
        view = data.draw(st.sampled_from([1, 5, spec.view]))
        block = byzantine_block(data, twin)
        return PrePrepare(view, block.header.height, block_hash(block.header), block, FAULTY)
    if kind == "vote":
        seen = [m for m in network.all() if isinstance(m, (PrePrepare, Prepare, Commit))]
        if not seen:
            return Prepare(spec.view, spec.height + 1, BOGUS_ROOT, FAULTY)
        target = data.draw(st.sampled_from(seen))
        if data.draw(st.booleans()):
            return Prepare(target.view, target.height, target.digest, FAULTY)
        return Commit(target.view, target.height, target.digest, FAULTY)
    if kind == "checkpoint":
        true_roots = [(c.height, c.state_root) for c in network.of(Checkpoint)]
        height, root = data.draw(st.sampled_from(true_roots + [(2, BOGUS_ROOT), (4, BOGUS_ROOT)]))
        return Checkpoint(height, data.draw(st.sampled_from([root, BOGUS_ROOT])), FAULTY)
    if kind in ("view_change", "new_view"):
        return byzantine_view_message(data, network, twin, kind)
    if kind == "block_request":
        return BlockRequest(data.draw(st.integers(0, spec.height + 1)), FAULTY)
    responses = network.of(BlockResponse)
    if not responses:
        return BlockRequest(1, FAULTY)
    response = data.draw(st.sampled_from(responses))
    certificate = response.certificate
    if data.draw(st.booleans()):  # a certificate of too few commits
        certificate = CommitCertificate(certificate.view, certificate.height, certificate.digest,
                                        frozenset(sorted(certificate.commits)[:1]))
    return BlockResponse(response.block, certificate, twin.replica, FAULTY)


def byzantine_view_message(data: st.DataObject, network: Network, twin: Twin, kind: str) -> Message:
    """A view change of the faulty replica, or (as primary of the view) a NEW-VIEW."""
    config = twin.config
    checkpoint = data.draw(st.sampled_from(stable_certificates(network, config)))
    certificates = assembled_certificates(network)
    chosen = data.draw(st.lists(st.sampled_from(certificates), max_size=3)) if certificates else []
    new_view = data.draw(st.sampled_from([twin.spec.view, twin.spec.view + 1, 1, 5]))
    own = ViewChange(new_view, checkpoint, rising(chosen, checkpoint.height), FAULTY)
    if kind == "view_change" or new_view % N != FAULTY:
        return own
    others = [vc for vc in network.of(ViewChange) if vc.new_view == new_view]
    picked = data.draw(st.lists(st.sampled_from(others), unique_by=lambda vc: vc.sender, max_size=3)) if others else []
    view_changes = tuple(sorted(picked + [own], key=lambda vc: vc.sender))
    stable, proposals = pbft.new_view_proposals(config, new_view, view_changes)
    leave_out = data.draw(st.booleans())
    if proposals and leave_out:
        proposals = proposals[:-1]  # a NEW-VIEW that leaves a prepared height out
    return NewView(new_view, view_changes, stable, proposals, FAULTY)


# --- a group run ---------------------------------------------------------------------------------------------
MOVES = ("request", "request", *["flush"] * 8, "deliver", "timer", "byzantine", "byzantine")
"""A group run's moves, drawn uniformly: a flush (the oldest message not yet
broadcast goes to every correct replica) most often, so that heights commit."""


def group_run(data: st.DataObject, replica_class: type[Replica] = Replica) -> None:
    """Draw and step a group run; raises `Disagreement` at the first difference."""
    limit = data.draw(st.integers(1, 3), label="max_block_transactions")
    twins = {replica: Twin(replica, limit, replica_class) for replica in CORRECT}
    clocks = dict.fromkeys(CORRECT, CLOCK)
    network, run = Network(), Run()
    queue: list[Message] = []
    for _ in range(data.draw(st.integers(1, GROUP_STEPS), label="steps")):
        twin = twins[data.draw(st.sampled_from(CORRECT))]
        move = data.draw(st.sampled_from(MOVES))
        events: list[tuple[Twin, Input]] = []
        if move == "request":
            events = [(twin, ClientRequest(data.draw(st.sampled_from(REQUESTS))))]
        elif move == "flush" and queue:
            message = queue.pop(0)
            events = [(each, message) for each in twins.values()]
        elif move == "deliver" and network.messages:
            events = [(twin, data.draw(st.sampled_from(network.all())))]
        elif move == "timer":
            clocks[twin.replica] += data.draw(st.sampled_from([0, 1_000, 7_000]))
            events = [(twin, TimerFired(data.draw(st.sampled_from([Timer.VIEW_CHANGE, Timer.FETCH])),
                                        clocks[twin.replica]))]
        elif move == "byzantine":
            events = [(twin, byzantine_message(data, network, twin))]
        for target, event in events:
            sent = run.step(target, event)
            queue.extend(message for message in sent if message not in network.messages)
            network.add(sent)


GROUP_SETTINGS = settings(max_examples=100, deadline=None, print_blob=True, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@seed(DIFFERENTIAL_SEED)
@GROUP_SETTINGS
@given(st.data())
def test_group_runs_agree_with_the_spec(data: st.DataObject) -> None:
    group_run(data)


# --- view changes with conflicting certificates --------------------------------------------------------------
def certificate_pool(config: pbft.ConsensusConfig) -> list[PreparedCertificate]:
    """Prepared certificates for heights 1 and 2 in views 0 to 3, each view's block
    its own (a different timestamp): conflicting certificates for one height."""
    ledger = config.genesis_state
    pool = []
    for view in range(4):
        for height in (1, 2):
            txs = (lock(f"v{view}h{height}", amount=(view + 1) * ATP),)
            header = make_header(ledger, T0 + 10 * view + height, THOR, txs).model_copy(update={"height": height})
            block = Block(header=header, transactions=txs)
            proposal = PrePrepare(view, height, block_hash(header), block, pbft.primary_of(view, N))
            voters = frozenset({proposal.sender, *[(proposal.sender + k) % N for k in (1, 2)]})
            pool.append(PreparedCertificate(proposal, voters))
    return pool


def view_change_run(data: st.DataObject, replica_class: type[Replica] = Replica) -> None:
    """Replica 0 (the primary of view 4) or 1 (a backup there) receives view changes
    for view 4 carrying drawn certificates, then maybe a NEW-VIEW built from them.
    None is from the replica itself: authenticated, a message under its own name is
    one it sent (and it counted its own view change when it sent it)."""
    twin = Twin(data.draw(st.sampled_from([0, 1])), 2, replica_class)
    pool = certificate_pool(twin.config)
    run = Run()
    view_changes = []
    others = [sender for sender in range(N) if sender != twin.replica]
    for sender in data.draw(st.lists(st.sampled_from(others), min_size=1, max_size=3, unique=True)):
        chosen = data.draw(st.lists(st.sampled_from(pool), max_size=2))
        view_changes.append(ViewChange(4, pbft.genesis_checkpoint(twin.config), rising(chosen, 0), sender))
    for message in view_changes:
        run.step(twin, message)
    if twin.replica == 0:
        return  # the primary sends its own NEW-VIEW, if it has a quorum
    ordered = tuple(sorted(view_changes, key=lambda vc: vc.sender))
    stable, proposals = pbft.new_view_proposals(twin.config, 4, ordered)
    if data.draw(st.booleans()) and proposals:
        other = data.draw(st.sampled_from(pool))
        proposals = (PrePrepare(4, 1, other.pre_prepare.digest, other.pre_prepare.block, 0),) + proposals[1:]
    run.step(twin, NewView(4, ordered, stable, proposals, 0))


@seed(DIFFERENTIAL_SEED)
@settings(max_examples=150, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_view_change_runs_agree_with_the_spec(data: st.DataObject) -> None:
    view_change_run(data)


# --- a primary and its backups' votes ---------------------------------------------------------------------------
def primary_run(data: st.DataObject, replica_class: type[Replica] = Replica) -> None:
    """The primary of view 0 takes client requests while the backups' votes for its
    proposals arrive now and then: requests wait while a block is in flight, and the
    next block batches them. (The backups vote as correct ones would.)"""
    twin = Twin(0, data.draw(st.integers(1, 3), label="max_block_transactions"), replica_class)
    run = Run()
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        move = data.draw(st.sampled_from(["request", "request", "votes", "checkpoint", "timer"]))
        slot = twin.spec.slot
        if move == "request":
            run.step(twin, ClientRequest(data.draw(st.sampled_from(REQUESTS))))
        elif move == "votes" and slot is not None:
            proposal = slot.pre_prepare
            vote_kind = Commit if len(slot.prepares) >= twin.config.quorum else Prepare
            for backup in (2, 3):
                run.step(twin, vote_kind(proposal.view, proposal.height, proposal.digest, backup))
        elif move == "checkpoint" and twin.spec.height >= 2:
            height = twin.spec.height - twin.spec.height % 2
            root = checkpoint_root(twin, height)
            for backup in (2, 3):
                run.step(twin, Checkpoint(height, root, backup))
        elif move == "timer":
            run.step(twin, TimerFired(Timer.FETCH, CLOCK + 1_000 * len(run.log)))


def checkpoint_root(twin: Twin, height: int) -> str:
    """The state root after `height`, replayed on the spec's ledger."""
    from spec.ledger import apply_block

    ledger = twin.config.genesis_state
    for block in twin.spec.blocks[:height]:
        ledger, _ = apply_block(twin.config.chain, ledger, block)
    return state_root(ledger)


@seed(DIFFERENTIAL_SEED)
@settings(max_examples=80, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_primary_runs_agree_with_the_spec(data: st.DataObject) -> None:
    primary_run(data)


# --- the checker's model: random walks ---------------------------------------------------------------------------
@seed(DIFFERENTIAL_SEED)
@settings(max_examples=15, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_model_walks_agree_with_the_spec(walk_seed: int) -> None:
    """A seeded random walk through the checker's n4f1 model (Thor Byzantine: one
    message of its choosing), as the `paths` vectors are made: every correct
    replica's inputs, in order, stepped into a twin."""
    from conformance.replica_vectors import path_traces, replica_inputs
    from spec.wire.json_form import from_json

    (_, document), = path_traces(seed=walk_seed, walks=1, length=60)
    config = document["config"]
    genesis = from_json(Genesis, document["genesis"])
    for replica, inputs in sorted(replica_inputs(document).items()):
        twin = Twin(replica, config["max_block_transactions"], Replica, genesis, config["checkpoint_interval"],
                    config["watermark_window"], config["clocks_ms"][str(replica)])
        run = Run(context=f", walk seed {walk_seed}")
        for event in inputs:
            run.step(twin, event)


# --- negative controls ----------------------------------------------------------------------------------------
VARIANT_SEARCH = settings(max_examples=400, deadline=None, database=None, phases=[Phase.generate],
                          suppress_health_check=list(HealthCheck))
CAUGHT_BY: dict[str, Any] = {
    "quorum_checkpoint_tally_by_height": group_run,
    "new_view_first_certificate_wins": view_change_run,
    "batch_fills_past_large_request": primary_run,
}
"""Which differential run finds each replica variant."""


def disagrees(run: Any, replica_class: type[Replica]) -> Any:
    def check(data: st.DataObject) -> bool:
        try:
            run(data, replica_class)
        except Disagreement:
            return True
        return False
    return check


@pytest.mark.parametrize("variant", sorted(REPLICA_VARIANTS))
def test_each_replica_variant_disagrees(variant: str) -> None:
    """Negative controls: a differential run finds every deliberate bug of the replica."""
    assert set(CAUGHT_BY) == set(REPLICA_VARIANTS)
    find(st.data(), disagrees(CAUGHT_BY[variant], REPLICA_VARIANTS[variant]), settings=VARIANT_SEARCH)


# --- through the adapter ------------------------------------------------------------------------------------
SUITE_CATCHES = {
    "quorum_checkpoint_tally_by_height": "replica/paths/n4f1.walk-4",
    "boundary_sender_signature_only": "replica/refusals/certificate_signature_invalid",
    "new_view_first_certificate_wins": "replica/regressions/new_view_",
    "batch_fills_past_large_request": "replica/regressions/primary_batches",
}
"""Every replica and boundary variant, and a replica case that catches it. The NEW-VIEW
and batching variants were first found by the differential runs above only; their
shrunk counterexamples became the `regressions` cases."""


def replica_suite_failures(command: str, runners: set[str]) -> list[str]:
    from conformance.runners import RUNNERS
    from conformance.suite import RunOptions, collect, run_cases

    cases = collect(RunOptions(command, runners), RUNNERS)
    assert cases
    return [result.case_id for result in run_cases(RUNNERS, command, cases, False) if result.verdict.value != "pass"]


def test_the_reference_adapter_passes_the_encoding_replica_and_schedule_cases() -> None:
    """The conformance suite's encoding, replica and schedules runners (the ledger's is in
    tests/test_reference_ledger.py), against `python -m reference.adapter`."""
    import sys

    command = f"{sys.executable} -m reference.adapter"
    assert replica_suite_failures(command, {"encoding", "replica", "schedules"}) == []


@pytest.mark.parametrize("variant", sorted(SUITE_CATCHES))
def test_the_replica_cases_catch_variant(variant: str) -> None:
    import sys

    failures = replica_suite_failures(f"{sys.executable} -m reference.adapter --variant {variant}", {"replica"})
    assert any(case_id.startswith(SUITE_CATCHES[variant]) for case_id in failures), failures


def test_the_adapter_answers_as_the_spec_node_on_one_session() -> None:
    """Request by request, the reference adapter and the spec node give the same answers
    (but their names): encoding before any init, a replica's init, steps (a timer, a
    client request, a frame for another chain, bytes that are no envelope), blocks
    applied beside the replica (its own ledger stays as it was), state, a bad request."""
    import json

    from conformance import spec_node
    from conformance.adapter_base import answer_line
    from conformance.protocol import input_form
    from reference.adapter import Node
    from reference.variants import Parts
    from spec.wire.message_encoding import block_bytes

    seeds = {number: b"%d" % number * 32 for number in range(N)}
    lock_hex = input_form(CHAIN_ID, seeds, ClientRequest(REQUESTS[0]))["transactions"][0]
    other_chain = input_form("another-chain", seeds, Prepare(0, 1, BOGUS_ROOT, 2))
    requests: list[dict[str, Any]] = [
        {"type": "decode", "what": "transaction", "hex": lock_hex},
        {"type": "decode", "what": "envelope", "hex": "00"},
        {"type": "init", "protocol": "fedspec-adapter/1", "genesis": to_json(GENESIS), "replica": 0, "clock_ms": CLOCK,
         "consensus": {"checkpoint_interval": 2, "watermark_window": 4, "max_block_transactions": 2}},
        {"type": "steps", "inputs": [
            {"kind": "timer", "timer": "FETCH", "now_ms": CLOCK + 5},
            input_form(CHAIN_ID, seeds, ClientRequest(REQUESTS[3])),
            other_chain,
            {"kind": "message", "envelope": "00ff"},
        ]},
        {"type": "step", "input": {"kind": "timer", "timer": "SOON", "now_ms": 1}},
        {"type": "apply_blocks", "blocks": [block_bytes(Block(header=make_header(
            state_from_genesis(GENESIS), T0 + 1, THOR, REQUESTS[0]), transactions=REQUESTS[0])).hex()]},
        {"type": "state"},
        {"type": "bogus"},
        {"type": "shutdown"},
    ]
    reference = Node(Parts())
    spec: Any = None
    answers: list[dict[str, Any]] = []
    for number, request in enumerate(requests):
        line = json.dumps({**request, "msg_id": number})
        ours, _ = answer_line(line, reference.answer_body)
        try:
            spec, body = spec_node.answer_body(spec, {**request, "msg_id": number})
            theirs = {"type": f"{request['type']}_ok", "in_reply_to": number, **body}
        except spec_node.RequestError as error:
            theirs = {"type": "error", "in_reply_to": number, "code": int(error.code)}
        for answer_fields in (ours, theirs):
            answer_fields.pop("implementation", None)
            answer_fields.pop("text", None)
            answer_fields.pop("definite", None)
        assert ours == theirs, f"request {number} ({request['type']})"
        answers.append(ours)
    refusals = [result["refusal"] for result in answers[3]["results"]]
    assert refusals == [None, None, "CHAIN_ID_MISMATCH", refusals[3]] and refusals[3] is not None
    assert [answers[number]["type"] for number in (4, 7)] == ["error", "error"]
    assert answers[5]["state_roots"][0] != answers[6]["state_root"]  # the replica's ledger is its own
