"""The symmetry reduction is sound only if renaming interchangeable replicas maps
runs to runs: every validity predicate and every step must commute with the
renaming. Checked here on worlds sampled from a real exploration, and the
checker's own audit of that premise is shown catching the order-dependent
NEW-VIEW rule the review found (finding 3)."""

import dataclasses
import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from walks import walk

from checker.config import CheckerConfig, load_config
from checker.invariants import message_is_valid
from checker.model import Model, World
from checker.mutants import SPEC_VARIANTS, installed
from checker.symmetry import Symmetry, rename_input, rename_message, rename_state
from spec.pbft import ReplicaState, new_view_proposals, step
from spec.wire.messages import BlockResponse, CheckpointCertificate, Message, NewView, Timer, TimerFired, ViewChange

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SEEDS = (1, 2, 3)
SAMPLE = 40
"""Worlds sampled per seed from the explored ones."""


def sampled_config() -> CheckerConfig:
    """n4f1 with views 0..1: Legion and Nova lead no view, so they are interchangeable."""
    return dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1)


SWAP = (0, 1, 3, 2)
"""Legion <-> Nova."""


def renamed_outputs(outputs: tuple[Message, ...]) -> list[Message]:
    return [rename_message(message, SWAP) for message in outputs]


StateRenamer = Callable[[ReplicaState, tuple[int, ...]], ReplicaState]


def step_commutes(
    config: CheckerConfig, state: ReplicaState, event: Message | TimerFired, rename: StateRenamer = rename_state
) -> bool:
    """step(rename(state), rename(event)) is rename(step(state, event)), outputs and
    refusal included."""
    after, outputs, refusal = step(config.consensus, state, event)
    if after.view > config.max_view:
        return True  # never taken: beyond the bounds a renamed replica may lead a view
    renamed_after, renamed_out, renamed_refusal = step(config.consensus, rename(state, SWAP), rename_input(event, SWAP))
    return (
        renamed_after == rename(after, SWAP)
        and renamed_out == tuple(renamed_outputs(outputs))
        and renamed_refusal == refusal
    )


def steps_to_try(config: CheckerConfig, world: World, chooser: random.Random) -> list[Message | TimerFired]:
    messages = sorted(world.messages, key=repr)
    events: list[Message | TimerFired] = chooser.sample(messages, min(4, len(messages)))
    return events + [TimerFired(Timer.VIEW_CHANGE, config.clock_ms), TimerFired(Timer.FETCH, config.clock_ms)]


def non_commuting_steps(config: CheckerConfig, seed: int, rename: StateRenamer = rename_state) -> list[str]:
    """Steps on sampled worlds that do not commute with swapping Legion and Nova."""
    chooser = random.Random(seed)
    found: list[str] = []
    for world in chooser.sample(walk(config, seed, walks=30, length=40), SAMPLE):
        for state in world.replicas:
            if state is None:
                continue
            for event in steps_to_try(config, world, chooser):
                if not step_commutes(config, state, event, rename):
                    found.append(f"seed {seed}: replica {state.replica} stepping on {event!r}")
    return found


def non_commuting_validity(config: CheckerConfig, seed: int) -> list[str]:
    chooser = random.Random(seed)
    found: list[str] = []
    for world in chooser.sample(walk(config, seed, walks=30, length=40), SAMPLE):
        for message in world.messages:
            if isinstance(message, (ViewChange, NewView, BlockResponse)):
                renamed = rename_message(message, SWAP)
                if message_is_valid(config.consensus, message) != message_is_valid(config.consensus, renamed):
                    found.append(f"seed {seed}: {message!r}")
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_renaming_commutes_with_every_validity_predicate_and_every_step(seed: int) -> None:
    config = sampled_config()
    assert Symmetry(config).members == (2, 3)
    assert non_commuting_validity(config, seed) == []
    assert non_commuting_steps(config, seed) == []


def forgetting_view_change_senders(state: ReplicaState, perm: tuple[int, ...]) -> ReplicaState:
    """A broken renaming: it leaves the (view, sender) pairs of view changes as they were."""
    return dataclasses.replace(rename_state(state, perm), view_change_senders=state.view_change_senders)


def test_a_renaming_that_forgets_a_field_does_not_commute() -> None:
    """Negative control for the commuting check."""
    assert non_commuting_steps(sampled_config(), SEEDS[0], forgetting_view_change_senders) != []


def test_the_sample_reaches_view_changes_and_executed_blocks() -> None:
    """Non-vacuity: the sampled worlds hold what the commuting checks are about."""
    worlds = [world for seed in SEEDS for world in walk(sampled_config(), seed, walks=30, length=40)]
    kinds = {type(message).__name__ for world in worlds for message in world.messages}
    assert {"PrePrepare", "Prepare", "Commit", "Checkpoint", "ViewChange", "NewView"} <= kinds
    assert any(state is not None and state.height > 0 for world in worlds for state in world.replicas)


# --- the audit, and the bug it catches ---------------------------------------------------------
def world_with_a_new_view_over_two_certificates_of_one_checkpoint(config: CheckerConfig) -> World:
    """Legion and Nova hold certificates of the checkpoint at height 2 signed by
    different quorums; Sprout, the primary of view 1, built its NEW-VIEW from theirs
    and its own (at genesis)."""
    genesis = CheckpointCertificate(0, Model(config).initial().replicas[1].stable.state_root, frozenset())
    root = "ab" * 32
    legion = ViewChange(1, CheckpointCertificate(2, root, frozenset({0, 1, 2})), (), 2)
    nova = ViewChange(1, CheckpointCertificate(2, root, frozenset({0, 2, 3})), (), 3)
    changes = (ViewChange(1, genesis, (), 1), legion, nova)
    checkpoint, proposals = new_view_proposals(config.consensus, 1, changes)
    new_view = NewView(1, changes, checkpoint, proposals, 1)
    initial = Model(config).initial()
    return World(initial.replicas, frozenset({legion, nova, new_view}), 0)


def test_the_audit_finds_the_order_dependent_new_view_rule() -> None:
    """Negative control: with the review's finding 3 put back (the whole checkpoint
    certificate compared), renaming Legion and Nova turns the valid NEW-VIEW into an
    invalid one, and the audit says so. On the spec as it is, it finds nothing."""
    config = dataclasses.replace(sampled_config(), mutant="new_view_compares_checkpoint_signers")
    world = world_with_a_new_view_over_two_certificates_of_one_checkpoint(config)
    found = Symmetry(config).audit(world, SWAP)
    assert found is not None and found.property == "symmetry"
    fixed = dataclasses.replace(config, mutant=None)
    assert Symmetry(fixed).audit(world, SWAP) is None
    with installed(SPEC_VARIANTS["new_view_compares_checkpoint_signers"]):
        new_view = next(m for m in world.messages if isinstance(m, NewView))
        assert message_is_valid(config.consensus, new_view)
        assert not message_is_valid(config.consensus, rename_message(new_view, SWAP))


def test_every_permutation_of_interchangeable_replicas_is_audited_alike() -> None:
    """The identity renaming is never a finding."""
    config = sampled_config()
    world = world_with_a_new_view_over_two_certificates_of_one_checkpoint(config)
    for perm in itertools.permutations((2, 3)):
        renaming = (0, 1) + perm
        assert Symmetry(config).audit(world, renaming) is None
