"""The checker's adversary, clocks and crashes: each move on the menu is one the
spec's correct replicas act on (or must refuse), and each bound is where the
configuration says."""

import dataclasses
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from checker.config import CheckerConfig, ConfigError, load_config
from checker.model import Model, World, certificate_choices
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.pbft import new_view_is_valid, view_change_is_valid
from spec.wire.encoding import block_hash
from spec.wire.messages import BlockResponse, CheckpointCertificate, Commit, PrePrepare, Timer, TimerFired, ViewChange

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
THOR, SPROUT, LEGION, NOVA = range(4)


def first_world(model: Model, reached: Callable[[World], bool], limit: int = 20_000) -> World:
    """The first world breadth-first search meets where `reached` holds."""
    start = model.initial()
    seen = {start}
    queue = deque([start])
    while queue and len(seen) < limit:
        world = queue.popleft()
        if reached(world):
            return world
        for _, successor in model.successors(world):
            if successor not in seen:
                seen.add(successor)
                queue.append(successor)
    raise AssertionError(f"no such world within {limit} worlds")


def config_text(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'extends = "{CONFIGS / "n4f1.toml"}"\n{text}')
    return path


# --- blocks ------------------------------------------------------------------------------------
def test_each_block_family_is_a_distinct_block_and_correct_replicas_judge_its_timestamp(tmp_path: Path) -> None:
    """Three transactions fit a block and the proof is due at once: `subset` gives each
    request alone, `reordered` the proof first, `latest_timestamp` the last stamp the
    replica's clock accepts (it prepares it), `future_timestamp` one past every clock
    (refused)."""
    path = config_text(tmp_path, "[consensus]\nmax_block_transactions = 3\n")
    config = load_config(path)
    config = dataclasses.replace(config, requests=tuple(dataclasses.replace(r, after_height=0) for r in config.requests))
    model = Model(config)
    world = model.initial()
    sprout = world.replicas[SPROUT]
    assert sprout is not None
    blocks = model.candidate_blocks(sprout, "Thor")
    counts = [len(block.transactions) for block in blocks]
    assert counts == [3, 0, 2, 1, 3, 3, 3], "proposal, empty, subset (pair, proof), reordered, latest, future"
    proposal, _, pair_only, proof_only, reordered, latest, future = blocks
    assert pair_only.transactions == proposal.transactions[:2]
    assert proof_only.transactions == proposal.transactions[2:]
    assert reordered.transactions == proposal.transactions[2:] + proposal.transactions[:2]
    assert latest.header.timestamp_ms == sprout.clock_ms + MAX_CLOCK_SKEW_MS
    assert future.header.timestamp_ms == config.latest_clock(SPROUT) + MAX_CLOCK_SKEW_MS + 1
    for block, prepares in ((latest, True), (future, False)):
        message = PrePrepare(0, 1, block_hash(block.header), block, THOR)
        after, outputs, _ = model.step(SPROUT, sprout, message)
        assert (after.slot is not None) == prepares


# --- view changes and new views ------------------------------------------------------------------
def test_certificate_choices_are_every_rising_selection_above_the_checkpoint() -> None:
    old, new, later = "h1 from view 0", "h1 from view 1", "h2 from view 0"
    by_height = {1: [old, new], 2: [later]}
    assert certificate_choices(by_height, 0) == [(), (old,), (new,), (later,), (old, later), (new, later)]
    assert certificate_choices(by_height, 1) == [(), (later,)]
    assert certificate_choices(by_height, 2) == [()]


def test_a_faulty_replica_shows_a_checkpoint_lower_than_the_best_it_knows() -> None:
    config = load_config(CONFIGS / "n4f1.toml")
    model = Model(config)
    world = model.initial()
    legion = world.replicas[LEGION]
    assert legion is not None
    stable = CheckpointCertificate(2, "e" * 64, frozenset({SPROUT, LEGION, NOVA}))
    world = dataclasses.replace(world, replicas=(None, world.replicas[SPROUT], dataclasses.replace(legion, stable=stable), world.replicas[NOVA]))
    checkpoints = {change.checkpoint.height for change in model.byzantine_view_changes(world, THOR)}
    assert checkpoints == {0, 2}


def test_a_faulty_primary_builds_a_new_view_with_its_own_unsent_view_change() -> None:
    """Sprout, faulty, leads view 1. Once Legion and Nova ask for view 1, it can form a
    quorum with a view change of its own that is not in the network, and every
    NEW-VIEW it offers is one correct replicas accept."""
    model = Model(load_config(CONFIGS / "witnesses/faulty_new_view_installed.toml"))

    def both_asked(world: World) -> bool:
        senders = {m.sender for m in world.messages if isinstance(m, ViewChange) and m.new_view == 1}
        return {LEGION, NOVA} <= senders and world.byzantine_sent == 0

    world = first_world(model, both_asked)
    new_views = model.byzantine_new_views(world, SPROUT)
    assert new_views
    assert all(new_view_is_valid(model.consensus, message) for message in new_views)
    unsent = [m for m in new_views if any(c.sender == SPROUT and c not in world.messages for c in m.view_changes)]
    assert unsent, "a NEW-VIEW may carry the primary's own view change without spending a message on it"
    assert all(view_change_is_valid(model.consensus, m) for m in model.byzantine_view_changes(world, SPROUT))


# --- unsolicited block responses -------------------------------------------------------------------
def test_an_unsolicited_block_response_brings_a_replica_in_a_view_change_up_to_date() -> None:
    """Two correct replicas committed height 1 (with Thor's commit, a quorum), Nova is
    waiting for a NEW-VIEW and asked for nothing: Thor can hand it the block with a
    commit certificate, and Nova executes it."""
    config = dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1)
    model = Model(config)

    def ready(world: World) -> bool:
        committers = {m.sender for m in world.messages if isinstance(m, Commit) and m.height == 1}
        nova = world.replicas[NOVA]
        return len(committers) >= 2 and nova is not None and not nova.active and nova.height == 0

    world = first_world(model, ready)
    responses = [m for m in model.byzantine_block_responses(world, THOR) if m.requester == NOVA]
    assert responses
    nova = world.replicas[NOVA]
    assert nova is not None
    after, _, _ = model.step(NOVA, nova, responses[0])
    assert after.height == 1 and not after.active
    assert isinstance(responses[0], BlockResponse) and THOR in responses[0].certificate.commits


# --- clocks ----------------------------------------------------------------------------------------
def clocked(tmp_path: Path, clocks: str, extra: str = "") -> CheckerConfig:
    return load_config(config_text(tmp_path, f"[clocks]\n{clocks}\n{extra}"))


def test_a_timer_moves_its_clock_one_tick_within_its_bound_and_the_skew(tmp_path: Path) -> None:
    config = clocked(tmp_path, "offsets_ms = {Legion = 4000}\ntick_ms = 3000\nticks = 2\n")
    model = Model(config)
    world = model.initial()
    sprout, legion = world.replicas[SPROUT], world.replicas[LEGION]
    assert sprout is not None and legion is not None
    assert legion.clock_ms == sprout.clock_ms + 4000
    # Legion is 4 s ahead: one tick would take it 7 s ahead of Sprout, beyond the skew.
    assert model.clock_after_tick(world, LEGION, legion) == sprout.clock_ms + MAX_CLOCK_SKEW_MS
    assert model.clock_after_tick(world, SPROUT, sprout) == sprout.clock_ms + 3000
    # At its bound a clock stays put.
    at_bound = dataclasses.replace(sprout, clock_ms=config.latest_clock(SPROUT))
    assert model.clock_after_tick(world, SPROUT, at_bound) == config.latest_clock(SPROUT)
    timers = [a.inputs[0] for a, _ in model.successors(world) if a.kind == "timer" and a.replica == SPROUT]
    assert timers == [TimerFired(Timer.VIEW_CHANGE, sprout.clock_ms + 3000)]


def test_clocks_that_start_further_apart_than_the_skew_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="correct clocks start 5001 ms apart, more than MAX_CLOCK_SKEW_MS"):
        clocked(tmp_path, "offsets_ms = {Legion = 5001}\n")
    # A negative control may break the assumption on purpose.
    assert clocked(tmp_path, "offsets_ms = {Legion = 5001}\n", '[check]\nexpect = "violation"\n').expect == "violation"
    with pytest.raises(ConfigError, match="clocks.offsets_ms: 'Zeus' is not a genesis platform"):
        clocked(tmp_path, "offsets_ms = {Zeus = 1}\n")


def test_more_byzantine_replicas_than_f_are_refused_unless_a_control(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="2 Byzantine replicas, more than f = 1"):
        load_config(config_text(tmp_path, '[consensus]\nfaulty = ["Thor", "Nova"]\n'))


# --- crashes ---------------------------------------------------------------------------------------
def test_a_crashed_replica_takes_no_step_and_liveness_does_not_wait_for_it() -> None:
    model = Model(load_config(CONFIGS / "n4_crash_liveness.toml"))
    world = model.initial()
    crashes = [(a, w) for a, w in model.successors(world) if a.kind == "crash"]
    assert [a.replica for a, _ in crashes] == [THOR], "only the configured replica may crash"
    action, crashed = crashes[0]
    assert action.is_fault
    assert crashed.crashed == {THOR} and crashed.replicas == world.replicas
    assert all(a.replica != THOR for a, _ in model.successors(crashed))
    assert all(a.kind != "crash" for a, _ in model.successors(crashed)), "the budget is one crash"
    assert [replica for replica, _ in model.requests_missing(crashed)] == [SPROUT, LEGION, NOVA]


CRASH_CASES = [
    ("quorum", '[consensus]\ncrashable = ["Nova"]\n[bounds]\ncrashes = 1\nmax_height = 3\n[check]\nliveness = true\n',
     "1 Byzantine and 1 crashed leave 2 replicas, fewer than a quorum of 3"),
    ("faulty", '[consensus]\ncrashable = ["Thor"]\n[bounds]\ncrashes = 1\n', "consensus.crashable.0: Thor is faulty"),
    ("last", '[consensus]\ncrashable = ["Legion"]\n[bounds]\ncrashes = 1\n',
     "consensus.crashable.0: Legion leads max_view = 2, which needs a live primary"),
    ("stamp", '[bounds]\nmax_height = 3\nmax_view = 1\n[check]\nliveness = true\n',
     "byzantine.blocks has latest_timestamp and a faulty replica leads a view"),
]


@pytest.mark.parametrize("label, text, message", CRASH_CASES, ids=[c[0] for c in CRASH_CASES])
def test_a_crash_or_stamp_configuration_outside_the_premises_is_refused(
    tmp_path: Path, label: str, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(config_text(tmp_path, text, f"{label}.toml"))
    assert message in str(error.value)


def test_default_crashable_replicas_are_the_correct_ones_but_the_last_primary(tmp_path: Path) -> None:
    config = load_config(config_text(tmp_path, "[bounds]\ncrashes = 1\n"))
    assert config.crashable == {SPROUT, NOVA}
