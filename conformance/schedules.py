"""Byzantine schedules, Twins- and ByzzFuzz-style: the format, the generators, the
network player and the checks.

A schedule says what a faulty network and faulty replicas do to a PBFT group over
a few rounds; the runner plays it against the correct replicas (adapter processes
of the node under test, or the spec in-process) and then checks safety and
liveness. Faulty replicas are run by the player itself, with the spec, as twins
(Twins, OPODIS 2021): two copies that share the replica's identity and key, placed
in different partitions, which is enough for equivocation, double votes and lost
state. On top, a faulty copy's messages may be rewritten by small-scope mutations
(ByzzFuzz, OOPSLA 2023).

The format (JSON, `schedule_form`)
----------------------------------
    {
      "format": "fedspec-schedule/1",
      "id": "n4f1-scope-00042",          the name a replay uses
      "n": 4, "f": 1,
      "faulty": [0],                       replica ids run as twins by the player
      "generator": {...},                  the generator and its settings (see below)
      "seed": 42,                          the scope index or the sampling seed
      "healed_rounds": 5,                  rounds played after the last faulty round
      "rounds": [ ROUND, ... ]             the faulty rounds, in order
    }

    ROUND = {
      "round": 0,
      "view": 0, "leader": 0,              the view this round is meant for and its primary
                                           (PBFT: view mod N). A replica moves on only when its
                                           view-change timer finds work undone, so a replica's
                                           view is at most the round's.
      "partitions": [[1, 2], [3]],         blocks of correct replica ids; a message crosses no
                                           block boundary (it is dropped). A block may be empty
                                           when only twin copies sit in it.
      "twins": [{"replica": 0, "copies": [0, 1]}],
                                           for each faulty replica, the block of its copy 0 and
                                           of its copy 1 (same identity, same key)
      "mutations": [{"replica": 0, "copy": 1, "kind": "other_digest"}],
                                           rewrite that copy's messages sent in this round
      "requests": [{"request": 0, "partitions": [0, 1]}],
                                           client request 0 (`Group.requests`) reaches every
                                           replica and copy in blocks 0 and 1, at the start
      "timers": [{"timer": "VIEW_CHANGE", "now_ms": 1001000}, {"timer": "FETCH", ...}],
                                           fired at every replica and copy at the round's end
      "waves": 4                           delivery waves before the round ends
    }

Mutation kinds (`MUTATION_KINDS`), each re-signed with the faulty replica's key only
(PRE-PREPARE, PREPARE and COMMIT carry no one else's signature):
* `view_plus_one`: a PRE-PREPARE, PREPARE or COMMIT names the next view;
* `height_plus_one`: it names the next height;
* `other_digest`: a PREPARE or COMMIT votes for another block's digest;
* `replay_proposal`: with the copy's first message of the round, the oldest proposal
  the network carried so far is sent again, as the copy's own, in the copy's view.

Playing a round: the round's client requests, and the messages still in flight from
the previous round (those its last wave and its timers produced), are delivered
first; then every message sent is delivered, in waves (one `steps` request per
replica per wave), to every replica and copy in the sender's block. After `waves`
waves the round ends: the timers fire, and what is still in flight travels on into
the next round, under its partitions (so a round can end between a block's prepares
and its commits, and a vote can reach a replica that already moved on). A message
from a correct replica is delivered only if it is sent in that replica's own name and
every vote it carries was sent by its signer (the player signs with every key, so it
must not sign what a replica never sent).

Healing: after the faulty rounds the network is whole and the faulty replicas are
silent (their copies neither send nor receive). The first healed round submits every
request again to every correct replica, as a PBFT client does when its request goes
unanswered. A healed round runs until the network is quiet (at most
`MAX_WAVES_PER_ROUND` waves), and only the laggards' VIEW_CHANGE timers fire
(`Player.timers_fired`). `healed_rounds` = R + f + `HEAL_EXTRA_ROUNDS` for R faulty
rounds (see there for why it suffices).

Checks after every schedule (`schedule_failures`): agreement, validity, the ledger
invariants on the spec's replay of each committed chain, the state roots the nodes
report against that replay, and liveness.

Generators: `scope_schedule(index)` for N=4, f=1, exhaustive over the scope the
`SCOPE_*` constants define (`scope_description` sums it up); `sampled_schedule(n, seed)`
for N=7, f=2 and N=13, f=4 (and for N=4 with mutations).
"""

import dataclasses
import functools
import itertools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from conformance.protocol import ConsensusSettings
from spec import pbft
from spec.codes import ResultCode
from spec.invariants import check_step
from spec.ledger import apply_block
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.encoding import block_hash, sha256, transaction_hash
from spec.wire.envelope import signature_obligations
from spec.wire.messages import (
    BlockResponse,
    ClientRequest,
    Commit,
    Input,
    Message,
    NewView,
    Prepare,
    PrePrepare,
    ReplicaId,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.state_root import state_root
from spec.wire.types import AtpTransferLock, Block, Genesis, GenesisAccount, GenesisPlatform

SCHEDULE_FORMAT = "fedspec-schedule/1"

# --- the group every schedule runs on -------------------------------------------------------------------
CHAIN_ID = "fedspec-schedules"
GENESIS_TIME_MS = 1_000_000
ROUND_MS = 1_000
"""How far every clock moves per round (ms): below MAX_CLOCK_SKEW_MS, so a proposal
stamped by one replica's clock is never ahead of another's."""
SETTINGS = ConsensusSettings(checkpoint_interval=2, watermark_window=4, max_block_transactions=2)
"""Checkpoints every two heights and blocks of two transactions: a few rounds reach
a checkpoint, and a backlog of requests needs more than one block."""
REQUEST_COUNT = 6
"""Client requests a schedule may submit (one per round at most)."""
TRANSFER_AMOUNT = 10
ALICE_BALANCE = 1_000
"""Every request locks TRANSFER_AMOUNT of Alice's ALICE_BALANCE: valid in any order
and any subset, so a correct primary can always propose what it has pending."""

# --- bounds on the player, in counts -----------------------------------------------------------------------
MAX_WAVES_PER_ROUND = 64
"""Delivery waves in one round; a correct group goes quiet in far fewer (a view
change and two heights take about ten)."""
MAX_MESSAGES_PER_ROUND = 50_000
"""Deliveries in one round, against a node that floods the network."""
HEAL_EXTRA_ROUNDS = 2
"""healed_rounds = R + f + HEAL_EXTRA_ROUNDS, for R faulty rounds. Why that suffices,
with the faulty replicas silent, the network whole and every request resubmitted to
every correct replica in the first healed round:
* a correct replica's view rises by at most one per round (a timer, or joining a view
  some correct replica asked for), so after R faulty rounds the correct replicas'
  views lie within R of each other; once healed, only the laggards' timers fire
  (`Player.timers_fired`), so the laggards rise one view per round, while the
  view changes they send arrive, and within R rounds all ask for one view;
* views then rise together, one per round; of any f + 1 consecutive primaries at
  most f are faulty (silent), so within f more rounds a correct primary's NEW-VIEW
  starts a view every correct replica is in;
* that round runs until the network is quiet, through every height, so it commits
  the backlog; a replica that was behind fetches the blocks it misses in the same
  round (BLOCK-REQUEST on its view change) or the next (its FETCH timer): 2 rounds.
Measured (every 10th schedule of the N=4 scope, 200 N=4, 60 N=7 and 10 N=13 samples),
the healed rounds a schedule needs are at most 4 of the scope's 6, 5 of the N=4
samples' 7, 4 of N=7's 8 and 4 of N=13's 10; with fewer than it needs, a schedule
fails liveness (tests/test_conformance_schedules.py, scope schedule 7430)."""

# --- the N=4 scope ----------------------------------------------------------------------------------------
SCOPE_N = 4
SCOPE_ROUNDS = 3
SCOPE_MAX_BLOCKS = 2
SCOPE_WAVES = 4
"""The N=4, f=1 scope: 3 rounds (views 0..2) of SCOPE_WAVES waves each; in each round,
the 3 correct replicas and the faulty replica's 2 copies split into at most 2 blocks
(16 ways per round, twin placement included); the faulty replica is any of the 4,
which decides the round it leads, if any (PBFT fixes the leader of a view); round r
submits request r to everyone; no mutations (the samples have them). Four waves let a
view change, or a request, reach a commit within the round when the partition allows."""

# --- sampling ------------------------------------------------------------------------------------------------
SAMPLE_ROUNDS = 4
SAMPLE_MAX_BLOCKS = 3
SAMPLE_MIN_WAVES = 2
SAMPLE_MAX_WAVES = 6
MUTATION_PROBABILITY = 0.5
"""Per round: the chance that one faulty copy's messages are mutated."""
REQUEST_REACH_PROBABILITY = 0.5
"""A sampled round's client request reaches each partition block with this chance (and
at least one block always)."""
VIEW_CHANGE_TIMER_PROBABILITY = 0.5
"""Per round: the chance that the VIEW_CHANGE timers fire at its end (FETCH always
does). When they do not, the votes in flight reach the next round's blocks in the
same view: a block can commit at some replicas and not at others."""
MUTATION_KINDS = ("view_plus_one", "height_plus_one", "other_digest", "replay_proposal")

Node = tuple[ReplicaId, int]
"""A participant of the network: (replica id, copy). A correct replica is copy 0; a
faulty replica's twins are copies 0 and 1."""


# --- the group --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """The consensus group a schedule runs on: keys derived from names, so anyone can
    recompute them (test keys, never real ones)."""

    n: int
    genesis: Genesis
    seeds: dict[ReplicaId, bytes]
    config: pbft.ConsensusConfig
    requests: tuple[ClientRequest, ...]


def platform_name(replica: ReplicaId) -> str:
    return f"replica-{replica}"


def key_seed(name: str) -> bytes:
    return seed_from_text("fedspec schedule key " + name)


def schedule_requests(n: int) -> tuple[ClientRequest, ...]:
    requests = []
    for index in range(REQUEST_COUNT):
        lock = AtpTransferLock(
            transfer_id=f"transfer-{index}", source_platform=platform_name(1), source_agent="lct:web4:agent:alice",
            dest_platform=platform_name(2), dest_agent="lct:web4:agent:bob", amount=TRANSFER_AMOUNT,
            timeout_ms=600_000, signature="00" * 64,
        )
        requests.append(ClientRequest((signed_copy(key_seed(platform_name(1)), CHAIN_ID, lock),)))
    return tuple(requests)


@functools.cache
def group_for(n: int) -> Group:
    seeds = {replica: key_seed(platform_name(replica)) for replica in range(n)}
    genesis = Genesis(
        chain_id=CHAIN_ID, genesis_time_ms=GENESIS_TIME_MS, authority_public_key=public_key_hex(key_seed("authority")),
        platforms=tuple(GenesisPlatform(name=platform_name(r), public_key=public_key_hex(seeds[r])) for r in range(n)),
        accounts=(
            GenesisAccount(agent="lct:web4:agent:alice", platform=platform_name(1), balance=ALICE_BALANCE),
            GenesisAccount(agent="lct:web4:agent:bob", platform=platform_name(2), balance=0),
        ),
    )
    chain = chain_from_genesis(genesis)
    f = pbft.fault_tolerance(n)
    config = pbft.ConsensusConfig(
        chain=chain, genesis_state=state_from_genesis(genesis), platforms=tuple(chain.platform_keys), f=f,
        quorum=pbft.quorum_size(n, f), checkpoint_interval=SETTINGS.checkpoint_interval,
        watermark_window=SETTINGS.watermark_window, max_block_transactions=SETTINGS.max_block_transactions,
    )
    requests = schedule_requests(n)
    for request in requests:
        assert pbft.request_refusal(config, request.transactions) is None, "a schedule's requests are valid"
    return Group(n, genesis, seeds, config, requests)


# --- the schedule ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutation:
    replica: ReplicaId
    copy: int
    kind: str


@dataclass(frozen=True)
class Round:
    view: int
    leader: ReplicaId
    partitions: tuple[tuple[ReplicaId, ...], ...]
    twins: tuple[tuple[ReplicaId, int, int], ...]
    """(faulty replica, block of copy 0, block of copy 1)."""
    mutations: tuple[Mutation, ...]
    requests: tuple[tuple[int, tuple[int, ...]], ...]
    """(request index, the blocks it reaches)."""
    timers: tuple[TimerFired, ...]
    waves: int
    """Delivery waves before the round ends; what is still in flight then travels on
    into the next round, under its partitions."""


@dataclass(frozen=True)
class Schedule:
    id: str
    n: int
    f: int
    faulty: tuple[ReplicaId, ...]
    generator: dict[str, Any]
    seed: int
    rounds: tuple[Round, ...]
    healed_rounds: int


def healed_rounds(faulty_rounds: int, f: int) -> int:
    return faulty_rounds + f + HEAL_EXTRA_ROUNDS


def round_timers(round_number: int, view_change: bool = True) -> tuple[TimerFired, ...]:
    """The timers fired at the end of a round, with the clock reading they bring."""
    now_ms = GENESIS_TIME_MS + (round_number + 1) * ROUND_MS
    fetch = TimerFired(Timer.FETCH, now_ms)
    return (TimerFired(Timer.VIEW_CHANGE, now_ms), fetch) if view_change else (fetch,)


def round_from_blocks(
    n: int, round_number: int, blocks: list[list[Node]], faulty: tuple[ReplicaId, ...],
    mutations: tuple[Mutation, ...], request_blocks: tuple[tuple[int, frozenset[int]], ...], waves: int,
    view_change_timer: bool = True,
) -> Round:
    """A round in canonical form from blocks of nodes: empty blocks dropped, blocks in
    order of their sorted members. `request_blocks` name blocks by their position in
    `blocks`, and follow them into the canonical order."""
    kept = [(sorted(block), position) for position, block in enumerate(blocks) if block]
    kept.sort()
    new_position = {position: index for index, (_, position) in enumerate(kept)}
    partitions = tuple(tuple(r for r, copy in members if r not in faulty) for members, _ in kept)
    where: dict[Node, int] = {}
    for index, (members, _) in enumerate(kept):
        for node in members:
            where[node] = index
    twins = tuple((r, where[(r, 0)], where[(r, 1)]) for r in faulty)
    requests = tuple(
        (request, tuple(sorted(new_position[p] for p in reached if p in new_position)))
        for request, reached in request_blocks
    )
    return Round(
        round_number, pbft.primary_of(round_number, n), partitions, twins, mutations,
        tuple((request, reached) for request, reached in requests if reached),
        round_timers(round_number, view_change_timer), waves,
    )


def membership(round_: Round) -> dict[Node, int]:
    """The block of every node that takes part in this round."""
    where: dict[Node, int] = {}
    for index, block in enumerate(round_.partitions):
        for replica in block:
            where[(replica, 0)] = index
    for replica, first, second in round_.twins:
        where[(replica, 0)] = first
        where[(replica, 1)] = second
    return where


def healed_round(schedule: Schedule, number: int) -> Round:
    """Healed round `number` (0-based): one block of every correct replica, the faulty
    silent; the first resubmits every request the schedule submitted."""
    correct = tuple(r for r in range(schedule.n) if r not in schedule.faulty)
    requests: tuple[tuple[int, tuple[int, ...]], ...] = ()
    if number == 0:
        requests = tuple((request, (0,)) for request in submitted_requests(schedule))
    round_number = len(schedule.rounds) + number
    return Round(round_number, pbft.primary_of(round_number, schedule.n), (correct,), (), (), requests,
                 round_timers(round_number), MAX_WAVES_PER_ROUND)


def submitted_requests(schedule: Schedule) -> list[int]:
    return sorted({request for round_ in schedule.rounds for request, _ in round_.requests})


# --- the JSON form ------------------------------------------------------------------------------------------
def round_form(number: int, round_: Round) -> dict[str, Any]:
    return {
        "round": number, "view": round_.view, "leader": round_.leader,
        "partitions": [list(block) for block in round_.partitions],
        "twins": [{"replica": r, "copies": [first, second]} for r, first, second in round_.twins],
        "mutations": [{"replica": m.replica, "copy": m.copy, "kind": m.kind} for m in round_.mutations],
        "requests": [{"request": request, "partitions": list(reached)} for request, reached in round_.requests],
        "timers": [{"timer": timer.timer.value, "now_ms": timer.now_ms} for timer in round_.timers],
        "waves": round_.waves,
    }


def schedule_form(schedule: Schedule) -> dict[str, Any]:
    return {
        "format": SCHEDULE_FORMAT, "id": schedule.id, "n": schedule.n, "f": schedule.f,
        "faulty": list(schedule.faulty), "generator": schedule.generator, "seed": schedule.seed,
        "healed_rounds": schedule.healed_rounds,
        "rounds": [round_form(number, round_) for number, round_ in enumerate(schedule.rounds)],
    }


def round_from_form(form: dict[str, Any]) -> Round:
    return Round(
        form["view"], form["leader"], tuple(tuple(block) for block in form["partitions"]),
        tuple((twin["replica"], twin["copies"][0], twin["copies"][1]) for twin in form["twins"]),
        tuple(Mutation(m["replica"], m["copy"], m["kind"]) for m in form["mutations"]),
        tuple((entry["request"], tuple(entry["partitions"])) for entry in form["requests"]),
        tuple(TimerFired(Timer(timer["timer"]), timer["now_ms"]) for timer in form["timers"]), form["waves"],
    )


def schedule_from_form(form: dict[str, Any]) -> Schedule:
    if form.get("format") != SCHEDULE_FORMAT:
        raise ValueError(f"not a {SCHEDULE_FORMAT} schedule")
    return Schedule(
        form["id"], form["n"], form["f"], tuple(form["faulty"]), form["generator"], form["seed"],
        tuple(round_from_form(round_) for round_ in form["rounds"]), form["healed_rounds"],
    )


# --- equivalence (Twins' removal of renamed duplicates) --------------------------------------------------------
def reachable_leaders(schedule: Schedule) -> set[ReplicaId]:
    """Every replica that can lead a view this schedule reaches. A correct replica's
    view rises only by a timer (one per round) or by joining a view that some correct
    replica asked for, so no view exceeds the number of rounds played."""
    last_view = len(schedule.rounds) + schedule.healed_rounds
    return {view % schedule.n for view in range(last_view + 1)}


def renamings(schedule: Schedule) -> Iterator[dict[ReplicaId, ReplicaId]]:
    """The renamings of correct replicas that leave the schedule's meaning unchanged:
    PBFT ties the primary to the replica id (view mod N), so only correct replicas that
    lead no reachable view are interchangeable (Twins renames every replica because it
    chooses leaders per round; a PBFT node cannot be told to)."""
    free = sorted(set(range(schedule.n)) - set(schedule.faulty) - reachable_leaders(schedule))
    for order in itertools.permutations(free):
        mapping = {r: r for r in range(schedule.n)}
        mapping.update(dict(zip(free, order, strict=True)))
        yield mapping


def transformed_round(
    n: int, round_: Round, mapping: dict[ReplicaId, ReplicaId], swapped: frozenset[ReplicaId],
) -> Round:
    """`round_` with correct replicas renamed by `mapping` and the copies of the faulty
    replicas in `swapped` exchanged, in canonical form."""
    blocks: list[list[Node]] = [[(mapping[r], 0) for r in block] for block in round_.partitions]
    for replica, first, second in round_.twins:
        if replica in swapped:
            first, second = second, first
        blocks[first].append((replica, 0))
        blocks[second].append((replica, 1))
    mutations = tuple(sorted(
        (dataclasses.replace(m, copy=1 - m.copy) if m.replica in swapped else m for m in round_.mutations),
        key=lambda m: (m.replica, m.copy, m.kind),
    ))
    requests = tuple((request, frozenset(reached)) for request, reached in round_.requests)
    faulty = tuple(replica for replica, _, _ in round_.twins)
    result = round_from_blocks(n, round_.view, blocks, faulty, mutations, requests, round_.waves)
    return dataclasses.replace(result, leader=round_.leader, timers=round_.timers)


def equivalence_key(schedule: Schedule) -> str:
    """One text for every schedule equivalent to this one: the least canonical form over
    the renamings and the twin swaps (each faulty replica's copies exchanged)."""
    best: str | None = None
    faulty = schedule.faulty
    for mapping in renamings(schedule):
        for size in range(len(faulty) + 1):
            for swapped in itertools.combinations(faulty, size):
                rounds = [round_form(i, transformed_round(schedule.n, r, mapping, frozenset(swapped)))
                          for i, r in enumerate(schedule.rounds)]
                text = json.dumps([schedule.n, list(faulty), rounds], sort_keys=True, separators=(",", ":"))
                if best is None or text < best:
                    best = text
    assert best is not None
    return best


def without_equivalents(schedules: list[Schedule]) -> tuple[list[Schedule], list[tuple[str, str]]]:
    """The schedules with every one equivalent to an earlier one removed, and the
    (removed id, kept id) pairs."""
    kept: list[Schedule] = []
    seen: dict[str, str] = {}
    removed: list[tuple[str, str]] = []
    for schedule in schedules:
        key = equivalence_key(schedule)
        if key in seen:
            removed.append((schedule.id, seen[key]))
        else:
            seen[key] = schedule.id
            kept.append(schedule)
    return kept, removed


# --- the N=4 scope -------------------------------------------------------------------------------------------
def set_partitions(items: list[Node], max_blocks: int) -> list[list[list[Node]]]:
    """Every partition of `items` into at most `max_blocks` non-empty blocks, in a fixed order."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out: list[list[list[Node]]] = []
    for partition in set_partitions(rest, max_blocks):
        for index in range(len(partition)):
            out.append(partition[:index] + [[first] + partition[index]] + partition[index + 1:])
        if len(partition) < max_blocks:
            out.append([[first]] + partition)
    return out


@functools.cache
def scope_partitions(faulty: ReplicaId) -> tuple[tuple[tuple[Node, ...], ...], ...]:
    nodes: list[Node] = [(r, 0) for r in range(SCOPE_N) if r != faulty] + [(faulty, 0), (faulty, 1)]
    return tuple(tuple(tuple(block) for block in partition) for partition in set_partitions(nodes, SCOPE_MAX_BLOCKS))


@functools.cache
def twin_swap_index(faulty: ReplicaId) -> tuple[int, ...]:
    """For each scope partition, the index of the same partition with the twins exchanged."""
    partitions = scope_partitions(faulty)

    def normal(partition: tuple[tuple[Node, ...], ...]) -> frozenset[frozenset[Node]]:
        return frozenset(frozenset(block) for block in partition)

    index_of = {normal(partition): index for index, partition in enumerate(partitions)}
    swapped = []
    for partition in partitions:
        exchanged = tuple(
            tuple((r, 1 - copy) if r == faulty else (r, copy) for r, copy in block) for block in partition
        )
        swapped.append(index_of[normal(exchanged)])
    return tuple(swapped)


@functools.cache
def scope_entries() -> tuple[tuple[ReplicaId, tuple[int, ...]], ...]:
    """The scope's schedules as (faulty replica, partition index per round), one per
    class of twin-swapped equivalents: a sequence is kept when it is not above its swap."""
    entries = []
    for faulty in range(SCOPE_N):
        swap = twin_swap_index(faulty)
        count = len(scope_partitions(faulty))
        for choice in itertools.product(range(count), repeat=SCOPE_ROUNDS):
            if choice <= tuple(swap[index] for index in choice):
                entries.append((faulty, choice))
    return tuple(entries)


def scope_size() -> int:
    return len(scope_entries())


def scope_description() -> dict[str, Any]:
    per_round = len(scope_partitions(0))
    return {
        "n": SCOPE_N, "f": 1, "rounds": SCOPE_ROUNDS, "max_blocks": SCOPE_MAX_BLOCKS,
        "partitions_per_round": per_round, "faulty_choices": SCOPE_N,
        "before_removal": SCOPE_N * per_round ** SCOPE_ROUNDS, "schedules": scope_size(),
        "equivalences": "twin swap (renaming removes nothing: at N=4 every replica leads a reachable view)",
    }


def scope_schedule(index: int) -> Schedule:
    faulty, choice = scope_entries()[index]
    rounds = []
    for number, partition_index in enumerate(choice):
        blocks = [list(block) for block in scope_partitions(faulty)[partition_index]]
        everyone = frozenset(range(len(blocks)))
        rounds.append(round_from_blocks(SCOPE_N, number, blocks, (faulty,), (), ((number, everyone),), SCOPE_WAVES))
    generator = {
        "kind": "exhaustive", "rounds": SCOPE_ROUNDS, "max_blocks": SCOPE_MAX_BLOCKS, "waves": SCOPE_WAVES,
        "index": index,
    }
    return Schedule(
        f"n4f1-scope-{index:05d}", SCOPE_N, 1, (faulty,), generator, index, tuple(rounds),
        healed_rounds(SCOPE_ROUNDS, 1),
    )


# --- seeded sampling --------------------------------------------------------------------------------------------
def sampled_round(rng: random.Random, n: int, number: int, faulty: tuple[ReplicaId, ...]) -> Round:
    nodes: list[Node] = [(replica, 0) for replica in range(n) if replica not in faulty]
    nodes += [(replica, copy) for replica in faulty for copy in (0, 1)]
    count = rng.randint(1, SAMPLE_MAX_BLOCKS)
    blocks: list[list[Node]] = [[] for _ in range(count)]
    for node in nodes:
        blocks[rng.randrange(count)].append(node)
    mutations: tuple[Mutation, ...] = ()
    if rng.random() < MUTATION_PROBABILITY:
        mutations = (Mutation(rng.choice(faulty), rng.randint(0, 1), rng.choice(MUTATION_KINDS)),)
    reached = frozenset(block for block in range(count) if rng.random() < REQUEST_REACH_PROBABILITY)
    reached = reached or frozenset({rng.randrange(count)})
    waves = rng.randint(SAMPLE_MIN_WAVES, SAMPLE_MAX_WAVES)
    view_change = rng.random() < VIEW_CHANGE_TIMER_PROBABILITY
    return round_from_blocks(n, number, blocks, faulty, mutations, ((number, reached),), waves, view_change)


def sampled_schedule(n: int, seed: int) -> Schedule:
    """A schedule drawn for N = n from `seed` alone: the same seed, the same schedule."""
    rng = random.Random(f"fedspec schedule n={n} seed={seed}")
    f = pbft.fault_tolerance(n)
    faulty = tuple(sorted(rng.sample(range(n), f)))
    rounds = tuple(sampled_round(rng, n, number, faulty) for number in range(SAMPLE_ROUNDS))
    generator = {
        "kind": "sampled", "rounds": SAMPLE_ROUNDS, "max_blocks": SAMPLE_MAX_BLOCKS,
        "waves": [SAMPLE_MIN_WAVES, SAMPLE_MAX_WAVES],
        "mutation_probability": MUTATION_PROBABILITY, "mutation_kinds": list(MUTATION_KINDS),
        "view_change_timer_probability": VIEW_CHANGE_TIMER_PROBABILITY,
    }
    return Schedule(f"n{n}f{f}-seed-{seed}", n, f, faulty, generator, seed, rounds, healed_rounds(SAMPLE_ROUNDS, f))


# --- replicas as the player sees them ---------------------------------------------------------------------------
@dataclass
class Reply:
    """What a replica answered to one input."""

    outputs: tuple[Message, ...]
    executed: tuple[tuple[int, str], ...]
    """(height, block hash) of every block this input executed."""
    state_root: str | None
    """As the replica reports it (None: the in-process replica, asked at the end)."""
    view: int


class Endpoint(Protocol):
    """A replica the player drives: inputs go in a batch, answers come back in order.
    `send` then `receive`, so that adapter processes work on a wave in parallel."""

    def send(self, inputs: list[Input]) -> None: ...

    def receive(self) -> list[Reply]: ...

    def final_state_root(self) -> str | None: ...


class SpecReplica:
    """A replica run in-process by the spec's step function: the faulty copies always,
    and the correct replicas on the fast path."""

    def __init__(self, config: pbft.ConsensusConfig, replica: ReplicaId,
                 step: Callable[..., pbft.StepResult] | None = None) -> None:
        self.config = config
        self.state = pbft.initial_replica_state(config, replica, GENESIS_TIME_MS)
        self.step = step
        self.replies: list[Reply] = []

    def send(self, inputs: list[Input]) -> None:
        step = self.step if self.step is not None else pbft.step
        for event in inputs:
            before = self.state.height
            result = step(self.config, self.state, event)
            self.state = result.state
            executed = tuple((h, self.state.executed[h - 1]) for h in range(before + 1, self.state.height + 1))
            self.replies.append(Reply(result.outputs, executed, None, self.state.view))

    def receive(self) -> list[Reply]:
        replies, self.replies = self.replies, []
        return replies

    def final_state_root(self) -> str | None:
        return state_root(self.state.ledger)


# --- mutations -----------------------------------------------------------------------------------------------
def other_digest(digest: str, known: dict[str, Block]) -> str:
    """Another block's digest the network carried, or (none yet) a digest of no block."""
    for candidate in sorted(known):
        if candidate != digest:
            return candidate
    return sha256(bytes.fromhex(digest)).hex()


def mutated(message: Message, kind: str, known: dict[str, Block]) -> Message:
    """`message` rewritten by one small-scope mutation; unchanged where it does not apply.
    Only fields the faulty sender alone signs change."""
    if not isinstance(message, PrePrepare | Prepare | Commit):
        return message
    if kind == "view_plus_one":
        return dataclasses.replace(message, view=message.view + 1)
    if kind == "height_plus_one":
        return dataclasses.replace(message, height=message.height + 1)
    if kind == "other_digest" and not isinstance(message, PrePrepare):
        return dataclasses.replace(message, digest=other_digest(message.digest, known))
    return message


def blocks_carried(message: Message) -> list[Block]:
    """Every block a message carries, so that the runner knows each executed block by hash."""
    if isinstance(message, PrePrepare | BlockResponse):
        return [message.block]
    if isinstance(message, NewView):
        found = [proposal.block for proposal in message.proposals]
        for view_change in message.view_changes:
            found += blocks_carried(view_change)
        return found
    if isinstance(message, ViewChange):
        return [certificate.pre_prepare.block for certificate in message.prepared]
    return []


# --- the player ----------------------------------------------------------------------------------------------
class PlayError(Exception):
    """The network could not be played to the end (a node that floods it, or answers
    with the wrong number of results)."""


@dataclass
class Outcome:
    """What the correct replicas did, as the player saw it."""

    executed: dict[ReplicaId, list[str]]
    reported_roots: dict[ReplicaId, str | None]
    blocks: dict[str, Block]
    proposals: list[PrePrepare]
    failures: list[str]


class Player:
    """Plays one schedule: routes every message as the round's partitions allow, rewrites
    a faulty copy's messages as the round's mutations say, fires the timers."""

    def __init__(
        self, schedule: Schedule, group: Group, correct: dict[ReplicaId, Endpoint], vouching: bool = False,
        twin_config: pbft.ConsensusConfig | None = None,
    ) -> None:
        self.schedule = schedule
        self.vouching = vouching
        """Check that every vote a correct replica's message carries was sent by its signer:
        the player seals messages with every replica's key, so it must not sign a vote for
        a replica that never cast it (on the adapter path, where the node is not the spec)."""
        self.sent_votes: set[tuple[ReplicaId, bytes]] = set()
        self.group = group
        self.endpoints: dict[Node, Endpoint] = {(r, 0): endpoint for r, endpoint in correct.items()}
        self.faulty_copies: dict[Node, SpecReplica] = {}
        for replica in schedule.faulty:
            for copy in (0, 1):
                self.faulty_copies[(replica, copy)] = SpecReplica(twin_config or group.config, replica)
                self.endpoints[(replica, copy)] = self.faulty_copies[(replica, copy)]
        self.outcome = Outcome({r: [] for r in correct}, {}, {}, [], [])
        self.views: dict[ReplicaId, int] = {r: 0 for r in correct}
        """The view each correct replica last reported."""
        self.replayed: set[tuple[int, Node]] = set()
        """(round, copy) pairs whose replay mutation was done: once per round."""

    def play(self) -> Outcome:
        carried: list[tuple[Node, Message]] = []
        rounds = list(self.schedule.rounds)
        rounds += [healed_round(self.schedule, h) for h in range(self.schedule.healed_rounds)]
        for number, round_ in enumerate(rounds):
            carried = self.play_round(round_, carried, healed=number >= len(self.schedule.rounds))
        for (replica, copy), endpoint in self.endpoints.items():
            if (replica, copy) not in self.faulty_copies:
                root = endpoint.final_state_root()
                if root is not None:
                    self.outcome.reported_roots[replica] = root
        return self.outcome

    def play_round(
        self, round_: Round, carried: list[tuple[Node, Message]], healed: bool,
    ) -> list[tuple[Node, Message]]:
        where = membership(round_)
        inbox: dict[Node, list[Input]] = {}
        for request, reached in round_.requests:
            for node, block in where.items():
                if block in reached:
                    inbox.setdefault(node, []).append(self.group.requests[request])
        limit = MAX_WAVES_PER_ROUND if healed else round_.waves
        in_flight = carried
        delivered = 0
        for _ in range(limit):
            for sender, message in in_flight:
                self.route(sender, message, where, inbox)
            in_flight = []
            if not inbox:
                break
            delivered += sum(len(inputs) for inputs in inbox.values())
            if delivered > MAX_MESSAGES_PER_ROUND:
                raise PlayError(f"round {round_.view}: over {MAX_MESSAGES_PER_ROUND} deliveries")
            in_flight = self.exchange(inbox, round_)
            inbox = {}
        if healed and in_flight:
            raise PlayError(f"round {round_.view}: the network was not quiet after {MAX_WAVES_PER_ROUND} waves")
        return in_flight + self.exchange(self.timers_fired(round_, where, healed), round_)

    def timers_fired(self, round_: Round, where: dict[Node, int], healed: bool) -> dict[Node, list[Input]]:
        """In a faulty round every timer fires everywhere. Once healed, a correct replica's
        VIEW_CHANGE timer fires only if no correct replica is in a lower view: the others
        wait for the laggards, as PBFT's doubling timeouts make them wait, so that the
        correct replicas meet in one view (with every timer firing at once, a replica one
        view ahead would stay ahead forever and no view would gather a quorum)."""
        if not healed:
            return {node: list[Input](round_.timers) for node in where}
        lowest = min(self.views.values(), default=0)
        fired: dict[Node, list[Input]] = {}
        for node in where:
            fired[node] = [timer for timer in round_.timers
                           if timer.timer != Timer.VIEW_CHANGE or self.views.get(node[0], 0) <= lowest]
        return fired

    def exchange(self, inbox: dict[Node, list[Input]], round_: Round) -> list[tuple[Node, Message]]:
        """Deliver every node's inputs (all sent before any answer is awaited); the
        messages they sent, mutated as the round says, with their sender node."""
        for node, inputs in inbox.items():
            self.endpoints[node].send(inputs)
        sent: list[tuple[Node, Message]] = []
        for node, inputs in inbox.items():
            replies = self.endpoints[node].receive()
            if len(replies) != len(inputs):
                raise PlayError(f"replica {node[0]} answered {len(replies)} of {len(inputs)} inputs")
            for reply in replies:
                outputs = reply.outputs
                if node not in self.faulty_copies:
                    self.record_execution(node[0], reply)
                    outputs = self.vouched(node[0], outputs)
                for message in self.sent_by(node, outputs, round_):
                    sent.append((node, message))
        return sent

    def vouched(self, replica: ReplicaId, outputs: tuple[Message, ...]) -> tuple[Message, ...]:
        """A correct replica's outputs that the player may sign for it: sent in its own
        name, and (when vouching) carrying only votes their signers sent. The rest is
        a failure of the replica, and is not delivered."""
        kept = []
        for message in outputs:
            if message.sender != replica:
                self.outcome.failures.append(f"replica {replica} sent a {type(message).__name__} "
                                             f"in the name of replica {message.sender}")
                continue
            if self.vouching and not self.vouch_for(replica, message):
                continue
            kept.append(message)
        return tuple(kept)

    def vouch_for(self, replica: ReplicaId, message: Message) -> bool:
        """Whether every signature `message` needs is one its sender may give: its own
        (over the message and whatever it carries in its own name, such as a NEW-VIEW's
        proposals), a faulty replica's, or a vote its signer sent before. Every signature
        it needs then counts as given, for the messages that carry it later."""
        obligations = signature_obligations(self.group.genesis.chain_id, message)
        unsent = []
        for obligation in obligations:
            if obligation.signer in self.schedule.faulty or obligation.signer == message.sender:
                continue  # the adversary holds the faulty replicas' keys; a sender signs what it sends
            if (obligation.signer, obligation.signing_message) not in self.sent_votes:
                unsent.append(f"a vote of replica {obligation.signer} it never sent ({obligation.place})")
        if unsent:
            self.outcome.failures.append(f"replica {replica} sent a {type(message).__name__} carrying "
                                         + "; ".join(unsent))
            return False
        self.sent_votes.update((obligation.signer, obligation.signing_message) for obligation in obligations)
        return True

    def sent_by(self, node: Node, outputs: tuple[Message, ...], round_: Round) -> list[Message]:
        """What `node` sends: its outputs, rewritten by the round's mutations of its copy."""
        messages = list(outputs)
        for mutation in round_.mutations:
            if (mutation.replica, mutation.copy) != node:
                continue
            if mutation.kind != "replay_proposal":
                messages = [mutated(message, mutation.kind, self.outcome.blocks) for message in messages]
            elif messages and self.outcome.proposals and (round_.view, node) not in self.replayed:
                self.replayed.add((round_.view, node))
                old = self.outcome.proposals[0]
                view = self.faulty_copies[node].state.view
                messages.append(PrePrepare(view, old.height, old.digest, old.block, node[0]))
        return messages

    def route(self, sender: Node, message: Message, where: dict[Node, int], inbox: dict[Node, list[Input]]) -> None:
        for block in blocks_carried(message):
            digest = block_hash(block.header)
            if digest not in self.outcome.blocks:
                self.outcome.blocks[digest] = block
        if isinstance(message, PrePrepare):
            self.outcome.proposals.append(message)
        if sender not in where:
            return  # a silent faulty copy
        for node, block_index in where.items():
            if node == sender or block_index != where[sender]:
                continue
            if isinstance(message, BlockResponse) and node[0] != message.requester:
                continue
            inbox.setdefault(node, []).append(message)

    def record_execution(self, replica: ReplicaId, reply: Reply) -> None:
        executed = self.outcome.executed[replica]
        for height, digest in reply.executed:
            if height != len(executed) + 1:
                self.outcome.failures.append(
                    f"replica {replica} reported executing height {height} after height {len(executed)}")
            executed.append(digest)
        if reply.state_root is not None:
            self.outcome.reported_roots[replica] = reply.state_root
        self.views[replica] = reply.view


# --- the checks ---------------------------------------------------------------------------------------------
def agreement_failures(executed: dict[ReplicaId, list[str]]) -> list[str]:
    """Correct replicas' executed blocks are prefixes of one chain."""
    failures = []
    replicas = sorted(executed)
    for index, first in enumerate(replicas):
        for second in replicas[index + 1:]:
            a, b = executed[first], executed[second]
            for height in range(min(len(a), len(b))):
                if a[height] != b[height]:
                    failures.append(f"agreement: replicas {first} and {second} executed different blocks at "
                                    f"height {height + 1}: {a[height][:16]} and {b[height][:16]}")
                    break
    return failures


def replayed_chain(
    group: Group, replica: ReplicaId, digests: list[str], blocks: dict[str, Block],
    memo: dict[tuple[str, ...], LedgerState],
) -> tuple[LedgerState | None, list[str]]:
    """The spec's replay of one replica's executed chain: the final state, and every
    block that is unknown, invalid against its pre-state, or breaks a ledger invariant."""
    chain = group.config.chain
    state = group.config.genesis_state
    failures: list[str] = []
    for height, digest in enumerate(digests, start=1):
        prefix = tuple(digests[:height])
        if prefix in memo:
            state = memo[prefix]
            continue
        block = blocks.get(digest)
        if block is None or block_hash(block.header) != digest:
            return None, [f"validity: replica {replica} executed block {digest[:16]} at height {height}, "
                          "which no message the runner routed carries"]
        post, receipt = apply_block(chain, state, block)
        if receipt.code != ResultCode.OK:
            return None, [f"validity: replica {replica} executed an invalid block at height {height} "
                          f"({receipt.code.value})"]
        for violation in check_step(chain, state, block, receipt, post):
            failures.append(f"invariant {violation.invariant}: replica {replica}'s chain at height {height}: "
                            f"{violation.message}")
        memo[prefix] = post
        state = post
    return state, failures


def chain_failures(group: Group, outcome: Outcome) -> list[str]:
    """Validity, the ledger invariants, and the reported state roots against the spec's replay."""
    failures: list[str] = []
    memo: dict[tuple[str, ...], LedgerState] = {}
    for replica, digests in sorted(outcome.executed.items()):
        final, found = replayed_chain(group, replica, digests, outcome.blocks, memo)
        failures += found
        reported = outcome.reported_roots.get(replica)
        if final is not None and reported is not None and reported != state_root(final):
            failures.append(f"state root: replica {replica} reports {reported[:16]} at height {len(digests)}, "
                            f"the spec's replay gives {state_root(final)[:16]}")
    return failures


def liveness_failures(schedule: Schedule, group: Group, outcome: Outcome) -> list[str]:
    """After healing, every submitted request is in some block each correct replica executed."""
    failures = []
    for request in submitted_requests(schedule):
        first = transaction_hash(group.requests[request].transactions[0])
        for replica, digests in sorted(outcome.executed.items()):
            executed = {transaction_hash(tx) for d in digests if d in outcome.blocks
                        for tx in outcome.blocks[d].transactions}
            if first not in executed:
                failures.append(f"liveness: replica {replica} did not execute request {request} within "
                                f"{schedule.healed_rounds} healed rounds")
    return failures


def schedule_failures(schedule: Schedule, group: Group, outcome: Outcome) -> list[str]:
    """Every check, each failure naming the check, the replicas and the schedule."""
    failures = outcome.failures + agreement_failures(outcome.executed) + chain_failures(group, outcome)
    if not failures:
        failures = liveness_failures(schedule, group, outcome)
    return [f"{schedule.id}: {failure}" for failure in failures]


# --- the in-process path -----------------------------------------------------------------------------------------
def run_in_process(schedule: Schedule, config: pbft.ConsensusConfig | None = None,
                   step: Callable[..., pbft.StepResult] | None = None, vouching: bool = False) -> list[str]:
    """Play `schedule` with the correct replicas run in-process by the spec; the
    failures, empty on a pass. Negative controls pass a variant `config` (which the
    twins run as well, as Twins runs copies of the implementation under test) or a
    variant `step` for the correct replicas. `vouching`: check the votes the correct
    replicas' messages carry, as the adapter path does (`Player.vouching`)."""
    group = group_for(schedule.n)
    config = config if config is not None else group.config
    correct: dict[ReplicaId, Endpoint] = {
        r: SpecReplica(config, r, step) for r in range(schedule.n) if r not in schedule.faulty
    }
    try:
        outcome = Player(schedule, group, correct, vouching, twin_config=config).play()
    except PlayError as error:
        return [f"{schedule.id}: network: {error}"]
    return schedule_failures(schedule, group, outcome)
