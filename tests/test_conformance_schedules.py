"""Byzantine schedules: the spec passes them, through adapter processes and in-process;
every check catches a broken variant; the generators are deterministic and remove
equivalent schedules."""

import dataclasses
import sys

import pytest

from conformance import schedules
from conformance.runners import schedules as runner
from conformance.schedules import (
    Outcome,
    Player,
    Schedule,
    SpecReplica,
    equivalence_key,
    group_for,
    run_in_process,
    sampled_schedule,
    schedule_form,
    schedule_from_form,
    scope_schedule,
    scope_size,
    without_equivalents,
)
from conformance.suite import Nodes
from spec import pbft
from spec.ledger import apply_block, make_header
from spec.wire.encoding import block_hash
from spec.wire.messages import Message, PreparedCertificate, PrePrepare, ViewChange
from spec.wire.state_root import state_root
from spec.wire.types import Block, BlockHeader

SPEC_NODE = f"{sys.executable} -m conformance.spec_node"
SCOPE_STRIDE = 61
"""The in-process sample takes every 61st schedule of the scope (152 of 9216)."""


def scope_sample(stride: int) -> list[Schedule]:
    return [scope_schedule(index) for index in range(0, scope_size(), stride)]


# --- the spec passes ----------------------------------------------------------------------------------
def test_the_spec_node_passes_a_sample_through_adapter_processes() -> None:
    cases = runner.cases_for_seed(7)
    chosen = [case for case in cases if case.handler == "n4f1"][:6]
    chosen += [case for case in cases if case.handler == "n7f2"][:1]
    nodes = Nodes(SPEC_NODE)
    try:
        for case in chosen:
            assert runner.run_case(nodes, case) == [], f"{case.id} (replay: runner.cases_for_seed(7))"
    finally:
        nodes.close()


def test_the_spec_in_process_passes_a_larger_sample() -> None:
    sample = scope_sample(SCOPE_STRIDE) + [sampled_schedule(4, seed) for seed in range(20)]
    sample += [sampled_schedule(7, seed) for seed in range(4)] + [sampled_schedule(13, 0)]
    for schedule in sample:
        assert run_in_process(schedule, vouching=True) == [], schedule.id


def test_the_committed_sample_names_its_handlers_and_sizes() -> None:
    cases = runner.generate()
    handlers = [case.handler for case in cases]
    assert (handlers.count("n4f1"), handlers.count("n7f2"), handlers.count("n13f4")) == (30, 5, 2)
    assert len({case.id for case in cases}) == len(cases)


# --- negative controls: every check catches a broken variant -------------------------------------------
def test_a_group_with_a_quorum_one_smaller_breaks_agreement() -> None:
    """Quorum 2 of 4: the twins of a faulty replica, each with one correct replica,
    commit two blocks at one height."""
    group = group_for(4)
    small = dataclasses.replace(group.config, quorum=group.config.quorum - 1)
    failures = []
    for schedule in scope_sample(7)[:60]:
        failures += run_in_process(schedule, config=small)
    agreement = [failure for failure in failures if ": agreement: replicas " in failure]
    assert agreement, failures[:5]
    assert agreement[0].startswith("n4f1-scope-"), "a failure names the schedule that replays it"


def test_a_replica_that_never_proposes_fails_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pbft, "maybe_propose", lambda config, state: (state, ()))
    failures = run_in_process(scope_schedule(0))
    assert failures and all(": liveness: replica " in failure for failure in failures)


def test_the_liveness_check_sees_what_the_healed_rounds_bring_about() -> None:
    """Scope schedule 7430 needs 4 healed rounds (its bound gives 6): with 3 a request is
    still unexecuted and liveness fails, with 4 it passes."""
    schedule = scope_schedule(7430)
    assert schedule.healed_rounds == 6
    short = run_in_process(dataclasses.replace(schedule, healed_rounds=3))
    assert short and all(": liveness: replica " in failure for failure in short)
    assert run_in_process(dataclasses.replace(schedule, healed_rounds=4)) == []


class WrongRootReplica(SpecReplica):
    """Reports the root of its ledger with the height one higher."""

    def final_state_root(self) -> str | None:
        return state_root(dataclasses.replace(self.state.ledger, height=self.state.ledger.height + 1))


def test_a_reported_state_root_that_differs_from_the_replay_fails() -> None:
    schedule = scope_schedule(0)
    group = group_for(4)
    correct = {r: WrongRootReplica(group.config, r) for r in range(4) if r not in schedule.faulty}
    outcome = Player(schedule, group, dict(correct)).play()
    failures = schedules.schedule_failures(schedule, group, outcome)
    assert failures and all(": state root: replica " in failure for failure in failures)


def test_an_executed_block_invalid_against_its_pre_state_fails_validity() -> None:
    group = group_for(4)
    transactions = group.requests[0].transactions
    header = make_header(group.config.genesis_state, schedules.GENESIS_TIME_MS + 1, "replica-0", transactions)
    valid = Block(header=header, transactions=transactions)
    wrong = Block(header=BlockHeader(**{**header.model_dump(), "previous_hash": "11" * 32}), transactions=transactions)
    for block, expected in ((valid, []), (wrong, ["validity: replica 1 executed an invalid block at height 1"])):
        digest = block_hash(block.header)
        outcome = Outcome({1: [digest]}, {}, {digest: block}, [], [])
        found = schedules.chain_failures(group, outcome)
        assert [failure.split(" (")[0] for failure in found] == expected


def test_a_ledger_that_breaks_conservation_fails_the_invariants(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec's replay credits Bob once more with every block: the invariants, which
    restate the rules independently, catch it."""
    def crediting_twice(chain, state, block):  # type: ignore[no-untyped-def]
        post, receipt = apply_block(chain, state, block)
        accounts = dict(post.accounts)
        bob = accounts["lct:web4:agent:bob"]
        accounts["lct:web4:agent:bob"] = dataclasses.replace(bob, total=bob.total + 1)
        return dataclasses.replace(post, accounts=accounts), receipt

    monkeypatch.setattr(schedules, "apply_block", crediting_twice)
    failures = run_in_process(scope_schedule(0))
    assert any(": invariant conservation: replica " in failure for failure in failures), failures[:3]


def test_agreement_compares_every_pair_of_correct_replicas() -> None:
    assert schedules.agreement_failures({1: ["a", "b"], 2: ["a"], 3: []}) == []
    found = schedules.agreement_failures({1: ["a", "b"], 2: ["a", "c"]})
    assert found == ["agreement: replicas 1 and 2 executed different blocks at height 2: b and c"]


class SpeakingForOthers(SpecReplica):
    """Sends its outputs in another replica's name."""

    def receive(self) -> list[schedules.Reply]:
        replies = super().receive()
        for reply in replies:
            reply.outputs = tuple(dataclasses.replace(m, sender=(m.sender + 1) % 4) for m in reply.outputs)
        return replies


class ForgingCertificates(SpecReplica):
    """With every proposal it sends, claims a prepared certificate signed by everyone."""

    def receive(self) -> list[schedules.Reply]:
        replies = super().receive()
        for reply in replies:
            forged: list[Message] = []
            for message in reply.outputs:
                if isinstance(message, PrePrepare):
                    certificate = PreparedCertificate(message, frozenset(range(4)))
                    forged.append(ViewChange(99, pbft.genesis_checkpoint(self.config), (certificate,), message.sender))
            reply.outputs = reply.outputs + tuple(forged)
        return replies


@pytest.mark.parametrize(("kind", "expected"), [
    (SpeakingForOthers, "in the name of replica"), (ForgingCertificates, "it never sent"),
])
def test_the_player_signs_nothing_a_correct_replica_did_not_send(kind: type[SpecReplica], expected: str) -> None:
    schedule = scope_schedule(scope_size() - 1)
    group = group_for(4)
    correct = {r: kind(group.config, r) for r in range(4) if r not in schedule.faulty}
    outcome = Player(schedule, group, dict(correct), vouching=True).play()
    assert any(expected in failure for failure in outcome.failures)
    honest = {r: SpecReplica(group.config, r) for r in range(4) if r not in schedule.faulty}
    assert Player(schedule, group, dict(honest), vouching=True).play().failures == []


# --- generators ---------------------------------------------------------------------------------------------
def test_the_scope_holds_each_twin_swap_class_once() -> None:
    """16 partitions of 5 nodes into at most 2 blocks per round, 3 rounds, 4 faulty
    choices: 16384 sequences; a twin swap fixes the 8**3 sequences that keep the twins
    together, so (16**3 + 8**3) / 2 classes per faulty choice."""
    assert scope_size() == 4 * (16**3 + 8**3) // 2 == 9216
    keys = {equivalence_key(scope_schedule(index)) for index in range(0, scope_size(), 3)}
    assert len(keys) == len(range(0, scope_size(), 3)), "no two scope schedules are equivalent"


def twin_swapped(schedule: Schedule) -> Schedule:
    swapped = frozenset(schedule.faulty)
    identity = {r: r for r in range(schedule.n)}
    rounds = tuple(schedules.transformed_round(schedule.n, r, identity, swapped) for r in schedule.rounds)
    return dataclasses.replace(schedule, id=schedule.id + "-swapped", rounds=rounds)


def test_a_twin_swapped_duplicate_is_removed() -> None:
    schedule = scope_schedule(1234)
    swapped = twin_swapped(schedule)
    assert swapped.rounds != schedule.rounds, "the control really changes the schedule"
    kept, removed = without_equivalents([schedule, swapped, scope_schedule(1235)])
    assert [s.id for s in kept] == [schedule.id, "n4f1-scope-01235"]
    assert removed == [(swapped.id, schedule.id)]


def short_n13_schedule() -> Schedule:
    """One faulty round at N=13: views reach 1 + 7 healed rounds = 8, so replicas 9..12
    lead no reachable view and are interchangeable."""
    base = sampled_schedule(13, 3)
    faulty = (0, 1, 2, 3)
    blocks = [[(r, 0) for r in range(4, 11)] + [(r, 0) for r in faulty], [(11, 0), (12, 0)] + [(r, 1) for r in faulty]]
    round_ = schedules.round_from_blocks(13, 0, blocks, faulty, (), ((0, frozenset({0, 1})),), 4)
    return dataclasses.replace(base, id="n13-short", faulty=faulty, rounds=(round_,),
                               healed_rounds=schedules.healed_rounds(1, 4))


def renamed(schedule: Schedule, first: int, second: int) -> Schedule:
    mapping = {r: r for r in range(schedule.n)} | {first: second, second: first}
    rounds = tuple(schedules.transformed_round(schedule.n, r, mapping, frozenset()) for r in schedule.rounds)
    return dataclasses.replace(schedule, id=f"{schedule.id}-renamed-{first}-{second}", rounds=rounds)


def test_a_renamed_duplicate_is_removed_and_a_renamed_leader_is_not() -> None:
    schedule = short_n13_schedule()
    free = renamed(schedule, 10, 11)
    leader = renamed(schedule, 5, 11)
    assert free.rounds != schedule.rounds and leader.rounds != schedule.rounds
    kept, removed = without_equivalents([schedule, free, leader])
    assert removed == [(free.id, schedule.id)], "renaming replicas that lead no reachable view is an equivalence"
    assert [s.id for s in kept] == [schedule.id, leader.id], "a leader's id is its role: renaming it is not"
    assert run_in_process(schedule) == []


def test_generators_are_deterministic_and_the_form_round_trips() -> None:
    assert sampled_schedule(7, 11) == sampled_schedule(7, 11)
    assert sampled_schedule(7, 11) != sampled_schedule(7, 12)
    assert [c.data for c in runner.cases_for_seed(5)] == [c.data for c in runner.cases_for_seed(5)]
    assert [c.id for c in runner.cases_for_seed(5)] != [c.id for c in runner.cases_for_seed(6)]
    for schedule in (scope_schedule(77), sampled_schedule(13, 2)):
        assert schedule_from_form(schedule_form(schedule)) == schedule
