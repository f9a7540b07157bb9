"""The `schedules` runner: Byzantine schedules (`conformance.schedules`) played against
the node under test, one adapter process per correct replica.

A case's `case.json` is `{"schedule": SCHEDULE}`, the schedule in its JSON form (its
format is in `conformance.schedules`). Handlers: `n4f1` (the exhaustive N=4 scope and
N=4 samples with mutations), `n7f2` and `n13f4` (samples).

The runner starts (or reuses) one node process per correct replica, `init`s each with
its replica id, the schedule group's genesis, its test key and the consensus
settings, and plays the network: every wave of deliveries to a replica is one
`steps` request, each message in its signed envelope, sealed by the runner with the
test keys (it stands for the network and holds every key; it signs a vote for a
correct replica only if that replica sent it). The faulty replicas' twins run
in-process with the spec. A node's outputs are consensus messages in canonical bytes
(hex), decoded with `spec.wire.decoding.decode_consensus_message`.

The node passes a schedule when every check of `conformance.schedules` holds:
agreement, validity, the ledger invariants, the reported state roots, liveness.
A failure names the check, the replicas and the schedule id; a scope schedule
replays from its index (`scope_schedule`), a sampled one from its N and seed
(`sampled_schedule`).
"""

import random
import re
from typing import Any

from conformance.cases import Case
from conformance.node import NodeFailure, Session, Verdict
from conformance.protocol import RequestType, input_form
from conformance.schedules import (
    GENESIS_TIME_MS,
    SETTINGS,
    Group,
    Player,
    PlayError,
    Reply,
    Schedule,
    group_for,
    sampled_schedule,
    schedule_failures,
    schedule_form,
    schedule_from_form,
    scope_schedule,
    scope_size,
)
from conformance.suite import Nodes
from spec.wire.decoding import DecodeError, decode_consensus_message
from spec.wire.json_form import to_json
from spec.wire.messages import ClientRequest, Input, Message, ReplicaId

NAME = "schedules"

SAMPLE_SEED = 20_261_202
"""The seed of the committed sample: `generate()` is `cases_for_seed(SAMPLE_SEED)`."""
SAMPLE_SCOPE = 24
"""Schedules of the N=4 scope in a sample."""
SAMPLE_N4_MUTATED = 6
SAMPLE_N7 = 5
SAMPLE_N13 = 2


def handler_for(schedule: Schedule) -> str:
    return f"n{schedule.n}f{schedule.f}"


def schedule_case(schedule: Schedule) -> Case:
    name = schedule.id.removeprefix(handler_for(schedule) + "-")
    description = (f"N={schedule.n}, f={schedule.f}, faulty {list(schedule.faulty)} as twins, "
                   f"{len(schedule.rounds)} faulty rounds, {schedule.healed_rounds} healed")
    return Case(NAME, handler_for(schedule), name, description, {"schedule": schedule_form(schedule)})


def cases_for_seed(seed: int) -> list[Case]:
    """A sample drawn from `seed` alone: scope schedules, N=4 samples with mutations,
    N=7 and N=13 samples. Each sampled schedule's own seed is drawn here, so a failing
    one replays from its id."""
    rng = random.Random(f"fedspec schedules sample {seed}")
    scope = sorted(rng.sample(range(scope_size()), SAMPLE_SCOPE))
    schedules = [scope_schedule(index) for index in scope]
    for n, count in ((4, SAMPLE_N4_MUTATED), (7, SAMPLE_N7), (13, SAMPLE_N13)):
        schedules += [sampled_schedule(n, rng.randrange(1_000_000)) for _ in range(count)]
    return [schedule_case(schedule) for schedule in schedules]


SAMPLED_ID = re.compile(r"^schedules/n(\d+)f\d+/seed-(\d+)$")
"""A sampled schedule's case id: it holds all it takes to draw the schedule again."""


def case_for_id(case_id: str) -> list[Case]:
    """The sampled schedule a case id names (what a replay of a `--seed` run asks for),
    drawn again from its N and seed; none for any other id."""
    match = SAMPLED_ID.match(case_id)
    if match is None:
        return []
    case = schedule_case(sampled_schedule(int(match.group(1)), int(match.group(2))))
    return [case] if case.id == case_id else []


def generate() -> list[Case]:
    return cases_for_seed(SAMPLE_SEED)


# --- a correct replica behind the adapter protocol ------------------------------------------------------
def init_body(group: Group, replica: ReplicaId) -> dict[str, Any]:
    return {
        "genesis": to_json(group.genesis), "replica": replica, "secret_key": group.seeds[replica].hex(),
        "consensus": SETTINGS.form(), "clock_ms": GENESIS_TIME_MS,
    }


class AdapterReplica:
    """One correct replica: a node process that takes each wave as one `steps` request.
    `send` writes the request and `receive` waits for its answer, so that the player
    keeps every process busy at once."""

    def __init__(
        self, session: Session, group: Group, replica: ReplicaId, sealed: dict[Any, dict[str, Any]],
    ) -> None:
        self.session = session
        self.group = group
        self.replica = replica
        self.sealed = sealed
        """Sealed envelopes by message, shared by the replicas of a schedule: each message
        is signed once however many replicas receive it."""
        self.waiting: tuple[int, int] | None = None

    def form(self, event: Input) -> dict[str, Any]:
        if isinstance(event, ClientRequest):
            return input_form(self.group.genesis.chain_id, self.group.seeds, event)
        key = (type(event), event)
        if key not in self.sealed:
            self.sealed[key] = input_form(self.group.genesis.chain_id, self.group.seeds, event)
        form: dict[str, Any] = self.sealed[key]
        return form

    def send(self, inputs: list[Input]) -> None:
        body = {"type": RequestType.STEPS.value, "inputs": [self.form(event) for event in inputs]}
        self.waiting = (self.session.send(body), len(inputs))

    def receive(self) -> list[Reply]:
        assert self.waiting is not None
        pending, count = self.waiting
        self.waiting = None
        answer = self.session.receive(pending)
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != count:
            raise NodeFailure(Verdict.PROTOCOL, f"replica {self.replica}: steps: expected {count} results")
        return [self.reply(result) for result in results]

    def reply(self, result: Any) -> Reply:
        try:
            outputs = tuple(self.message(text) for text in result["outputs"])
            executed = tuple((int(entry["height"]), str(entry["block_hash"])) for entry in result["executed"])
            return Reply(outputs, executed, str(result["state_root"]), int(result["view"]))
        except (KeyError, TypeError, ValueError) as error:
            text = f"replica {self.replica}: a step result is malformed: {error}"
            raise NodeFailure(Verdict.PROTOCOL, text) from None

    def message(self, text: str) -> Message:
        try:
            chain_id, message = decode_consensus_message(bytes.fromhex(text))
        except (DecodeError, ValueError) as error:
            raise PlayError(f"replica {self.replica} sent bytes that are no consensus message: {error}") from None
        if chain_id != self.group.genesis.chain_id:
            raise PlayError(f"replica {self.replica} sent a message for chain {chain_id!r}")
        return message

    def final_state_root(self) -> str | None:
        return None  # every step answer carries it


def run_case(nodes: Nodes, case: Case) -> list[str]:
    schedule = schedule_from_form(case.data["schedule"])
    group = group_for(schedule.n)
    sealed: dict[Any, dict[str, Any]] = {}
    correct = [r for r in range(schedule.n) if r not in schedule.faulty]
    replicas: dict[ReplicaId, AdapterReplica] = {}
    for slot, replica in enumerate(correct):
        session = nodes.session(slot)
        session.init(init_body(group, replica))
        replicas[replica] = AdapterReplica(session, group, replica, sealed)
    try:
        outcome = Player(schedule, group, dict(replicas), vouching=True).play()
    except PlayError as error:
        return [f"{schedule.id}: network: {error}"]
    return schedule_failures(schedule, group, outcome)
