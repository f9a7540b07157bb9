"""The checker's speed machinery changes how fast worlds are explored, never which.

* the model's memos (`checker.memo`): successors computed with warm memos are those
  computed with none, on worlds of seeded random walks, and a memo keyed on too
  little is caught (negative control);
* the symmetry's memoised canonical form equals the plain one (sort by `signature`,
  rename with `rename_world`), and a memo keyed on too little is caught;
* the parallel explorer's exchange rebuilds the worlds and edges it was given, and
  sends each part once;
* several workers reach exactly the worlds one worker reaches, with the adversary
  and symmetry on.

No timing is asserted anywhere: speed is measured by `benchmarks/checker_speed.py`.
"""

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from walks import walk

from checker.config import CheckerConfig, load_config
from checker.exchange import Receiver, Sender
from checker.explore import explore
from checker.memo import Interner, Memo
from checker.model import Action, Model, World
from checker.symmetry import Symmetry, rename_world, signature

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SEEDS = (1, 2)


def small_config() -> CheckerConfig:
    """n4f1 with views 0..1 and one height: the adversary and symmetry on, ten
    thousand worlds."""
    return dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1, max_height=1)


def memos_of(model: Model) -> list[Memo[object, object]]:
    return [value for value in vars(model).values() if isinstance(value, Memo)]


def without_memos(config: CheckerConfig) -> Model:
    """A model whose memos keep nothing past the entry just made."""
    model = Model(config)
    for memo in memos_of(model):
        memo.limit = 0
    return model


def successors_of(model: Model, world: World) -> Counter[tuple[Action, World]]:
    return Counter(model.successors(world))


def differing_worlds(config: CheckerConfig, seed: int, warm: Model) -> int:
    """Worlds whose successors differ between `warm` (memos kept across all worlds)
    and a model without memos."""
    cold = without_memos(config)
    differing = 0
    for world in walk(config, seed):
        if successors_of(warm, world) != successors_of(cold, world):
            differing += 1
    return differing


@pytest.mark.parametrize("seed", SEEDS)
def test_memoised_successors_are_the_successors(seed: int) -> None:
    config = small_config()
    warm = Model(config)
    assert differing_worlds(config, seed, warm) == 0
    assert all(len(memo) > 0 for memo in memos_of(warm) if memo is not warm.forget_memo)


class ForgetfulDeliveries(Model):
    """A broken memo: deliveries keyed by the replica's state alone, not the network."""

    def deliveries(self, messages, actions, replica, state, singles, bursts):  # type: ignore[no-untyped-def]
        key = (replica, id(state), frozenset())
        found = self.delivery_memo.get(key)
        if found is None:
            moves = super().deliveries(messages, actions, replica, state, singles, bursts)
            found = self.delivery_memo.put(key, (state, moves))
        return found[1]


def test_a_memo_keyed_on_too_little_is_caught() -> None:
    """Negative control for the memo check."""
    config = small_config()
    assert differing_worlds(config, SEEDS[0], ForgetfulDeliveries(config)) > 0


def test_stepping_makes_equal_states_one_object() -> None:
    """Interning: every state a step made is the one object of its value, so the
    memos keyed by a state's identity find it whatever path reached it."""
    config = small_config()
    model = Model(config)
    initial = {id(state) for state in model.initial().replicas}
    objects: dict[object, set[int]] = {}
    for world in walk(config, SEEDS[0], model=model):
        for state in world.replicas:
            if state is not None and id(state) not in initial:
                objects.setdefault(state, set()).add(id(state))
    assert len(objects) > 10
    assert all(len(identities) == 1 for identities in objects.values())


# --- symmetry -------------------------------------------------------------------------------
def plain_canonical(symmetry: Symmetry, world: World) -> World:
    """The canonical form as first written: sort by `signature`, rename every part anew."""
    order = sorted(symmetry.members, key=lambda replica: signature(world.replicas[replica]))
    if tuple(order) == symmetry.members:
        return world
    renaming = list(range(symmetry.n))
    for target, source in zip(symmetry.members, order, strict=True):
        renaming[source] = target
    return rename_world(world, tuple(renaming))


def differing_forms(config: CheckerConfig, seed: int, symmetry: Symmetry) -> int:
    differing = 0
    renamed = 0
    for world in walk(config, seed):
        fast, renaming = symmetry.canonical(world)
        renamed += bool(renaming)
        if fast != plain_canonical(symmetry, world) or hash(fast) != hash(plain_canonical(symmetry, world)):
            differing += 1
    assert renamed > 0, "the walk never needed a renaming: the check would be vacuous"
    return differing


@pytest.mark.parametrize("seed", SEEDS)
def test_memoised_canonical_form_is_the_plain_one(seed: int) -> None:
    config = small_config()
    symmetry = Symmetry(config, Interner())
    assert symmetry.enabled
    assert differing_forms(config, seed, symmetry) == 0


def test_a_canonical_memo_keyed_on_too_little_is_caught() -> None:
    """Negative control for the canonical-form check: renamed states remembered by
    their signature (which leaves identities out), not by the state."""

    class Broken(Symmetry):
        def rename_state(self, state, perm):  # type: ignore[no-untyped-def]
            key = (signature(state), perm)
            found = self.renamed_states.get(key)  # type: ignore[call-overload]
            if found is None:
                found = self.renamed_states.put(key, super().rename_state(state, perm))  # type: ignore[arg-type]
            return found

    config = small_config()
    assert differing_forms(config, SEEDS[0], Broken(config)) > 0


# --- the parallel explorer --------------------------------------------------------------------
def test_the_exchange_rebuilds_worlds_and_edges_and_sends_each_part_once() -> None:
    config = small_config()
    model = Model(config)
    pairs = [(action, successor) for world in walk(config, SEEDS[0], walks=3) for action, successor in model.successors(world)]
    sender, receiver = Sender(), Receiver(Model(config).interned)
    first = []
    for fp, (action, world) in enumerate(pairs):
        sender.add(fp, (fp + 1, action, ()), world)
        first.append((fp, (fp + 1, action, ()), world))
    blob = sender.batch()
    rebuilt = [(fp, receiver.edge(edge), receiver.world(sent)) for fp, edge, sent in receiver.unpack(blob)]
    assert len(rebuilt) == len({fp for fp, _, _ in first})
    assert rebuilt == first
    # The same worlds again: only numbers travel.
    for fp, (action, world) in enumerate(pairs):
        sender.add(fp, (fp + 1, action, ()), world)
    again = sender.batch()
    known = len(receiver.table)
    assert [receiver.world(sent) for _, _, sent in receiver.unpack(again)] == [world for _, _, world in first]
    assert len(receiver.table) == known and len(again) < len(blob)


def test_two_workers_reach_the_same_worlds_with_the_adversary_and_symmetry() -> None:
    config = small_config()
    serial = explore(config, workers=1)
    parallel = explore(config, workers=2)
    assert serial.exhausted and parallel.exhausted
    assert (serial.distinct, serial.generated, serial.depth) == (parallel.distinct, parallel.generated, parallel.depth)
