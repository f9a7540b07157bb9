"""The checker's speed-ups to the spec (`checker.accelerate`) never change an answer.

* a remembered hash is the class's own (dataclass) hash, on every replica state and
  message of seeded random walks, for the objects themselves and for equal copies;
  a memo keyed on too little, and one that does not keep its objects alive (so that
  a freed object's identity is taken by another), are caught;
* the remembered transaction hash and signature check answer as the plain ones, on
  valid and on tampered inputs; memos keyed on too little are caught;
* fingerprints agree between processes: a forked worker's fingerprints of the worlds
  it reached are the parent's fingerprints of the same worlds, rebuilt from bytes
  (fresh objects, pending requests included); a process-dependent hash is caught.

No timing is asserted: speed is measured by `benchmarks/checker_speed.py`.
"""

import dataclasses
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from walks import walk

import spec.pbft as pbft
import spec.wire.signing as signing
from checker import accelerate
from checker.accelerate import PLAIN_HASHES, REMEMBERED_HASH_KINDS, installed_hash, remembering_hash
from checker.config import CheckerConfig, load_config
from checker.memo import Memo
from checker.model import Model, World
from spec.pbft import ReplicaState
from spec.wire.encoding import signing_message
from spec.wire.messages import CheckpointCertificate, ClientRequest, ViewChange
from spec.wire.types import AnyTransaction

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SEEDS = (1, 2)


def small_config() -> CheckerConfig:
    """n4f1 with views 0..1 and one height: the adversary on, view changes reached."""
    return dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1, max_height=1)


def values_of(worlds: list[World]) -> list[object]:
    """Every replica state and every message of remembered-hash kind in `worlds`."""
    found: dict[int, object] = {}
    for world in worlds:
        for value in (*world.replicas, *world.messages):
            if isinstance(value, REMEMBERED_HASH_KINDS):
                found[id(value)] = value
    return list(found.values())


def differing_hashes(values: list[object], hash_of: Callable[[Any], int]) -> int:
    """Values whose hash under `hash_of` is not their plain hash, asked twice (the
    second answer comes from the memo) and for an equal copy."""
    differing = 0
    for value in values:
        plain = PLAIN_HASHES[type(value)](value)
        copy = dataclasses.replace(value)  # type: ignore[type-var]
        if (hash_of(value), hash_of(value), hash_of(copy)) != (plain, plain, plain):
            differing += 1
    return differing


@pytest.fixture(scope="module")
def walked() -> list[object]:
    model = Model(small_config())  # installs the speed-ups
    values = values_of(walk(model.config, SEEDS[0], model=model)) + [r.request for r in model.config.requests]
    kinds = {type(value) for value in values}
    assert kinds == set(REMEMBERED_HASH_KINDS), f"the walk never reached {set(REMEMBERED_HASH_KINDS) - kinds}"
    assert any(isinstance(value, ReplicaState) and value.pending for value in values), "no pending request"
    return values


def test_a_model_installs_every_speed_up() -> None:
    Model(small_config())
    assert all(installed_hash(kind) is not None for kind in REMEMBERED_HASH_KINDS)
    assert pbft.transaction_hash is not accelerate.PLAIN_TRANSACTION_HASH
    assert signing.verify_message is not accelerate.PLAIN_VERIFY_MESSAGE
    hashes = [installed_hash(kind) for kind in REMEMBERED_HASH_KINDS]
    Model(small_config())
    assert [installed_hash(kind) for kind in REMEMBERED_HASH_KINDS] == hashes, "installed once"


# --- remembered hashes -------------------------------------------------------------------
def test_remembered_hashes_are_the_plain_hashes(walked: list[object]) -> None:
    assert differing_hashes(walked, hash) == 0
    assert all(installed_hash(kind).hashes for kind in REMEMBERED_HASH_KINDS)  # type: ignore[union-attr]


def test_a_remembered_hash_stays_exact_past_its_limit(walked: list[object]) -> None:
    remembered = remembering_hash(PLAIN_HASHES[ReplicaState], limit=3)
    states = [value for value in walked if isinstance(value, ReplicaState)]
    assert differing_hashes(states, remembered) == 0
    assert len(remembered.hashes) <= 3  # type: ignore[attr-defined]


def test_a_hash_memo_keyed_on_too_little_is_caught(walked: list[object]) -> None:
    """Negative control: replica states remembered by (replica, view, height)."""
    memo: dict[tuple[int, int, int], int] = {}

    def by_progress(state: ReplicaState) -> int:
        key = (state.replica, state.view, state.height)
        return memo.setdefault(key, PLAIN_HASHES[ReplicaState](state))

    states = [value for value in walked if isinstance(value, ReplicaState)]
    assert differing_hashes(states, by_progress) > 0


def view_change(view: int) -> ViewChange:
    return ViewChange(view, CheckpointCertificate(0, "0" * 64, frozenset()), (), 0)


def wrong_hashes_of_short_lived_objects(hash_of: Callable[[Any], int]) -> int:
    """Objects made, hashed and dropped one after another: CPython gives the next
    one the memory, and so the identity, of the one just freed."""
    wrong = 0
    for view in range(200):
        value = view_change(view)
        if hash_of(value) != PLAIN_HASHES[ViewChange](value):
            wrong += 1
        del value
    return wrong


def test_a_remembered_hash_keeps_its_objects_alive() -> None:
    assert wrong_hashes_of_short_lived_objects(remembering_hash(PLAIN_HASHES[ViewChange])) == 0


def test_a_hash_memo_that_lets_its_objects_go_is_caught() -> None:
    """Negative control: keyed by identity, without keeping the object."""
    hashes: dict[int, int] = {}

    def forgetful(value: ViewChange) -> int:
        return hashes.setdefault(id(value), PLAIN_HASHES[ViewChange](value))

    assert wrong_hashes_of_short_lived_objects(forgetful) > 0


# --- remembered transaction hashes and signature checks ------------------------------------
def transactions_of(walked: list[object]) -> list[AnyTransaction]:
    found: list[AnyTransaction] = []
    for value in walked:
        if isinstance(value, ClientRequest):
            found.extend(value.transactions)
    assert found
    return found


@pytest.fixture(scope="module")
def requested() -> list[AnyTransaction]:
    """Every transaction a shipped configuration requests, each once."""
    found: dict[AnyTransaction, None] = {}
    for path in sorted(CONFIGS.rglob("*.toml")):
        for request in load_config(path).requests:
            found.update(dict.fromkeys(request.request.transactions))
    types = [tx.type for tx in found]
    assert len(set(types)) < len(types), "no two transactions of one type: a memo by type would pass"
    return list(found)


def differing_transaction_hashes(transactions: list[AnyTransaction], hash_of: Callable[[AnyTransaction], bytes]) -> int:
    return sum(hash_of(tx) != accelerate.PLAIN_TRANSACTION_HASH(tx) for tx in transactions * 2)


def test_remembered_transaction_hashes_are_the_plain_ones(requested: list[AnyTransaction]) -> None:
    Model(small_config())
    assert differing_transaction_hashes(requested, pbft.transaction_hash) == 0
    assert differing_transaction_hashes(requested, accelerate.remembering_transaction_hash(limit=1)) == 0


def test_a_transaction_hash_memo_keyed_on_too_little_is_caught(requested: list[AnyTransaction]) -> None:
    """Negative control: transactions remembered by their type."""
    memo: dict[str, bytes] = {}

    def by_type(tx: AnyTransaction) -> bytes:
        return memo.setdefault(tx.type, accelerate.PLAIN_TRANSACTION_HASH(tx))

    assert differing_transaction_hashes(requested, by_type) > 0


def signature_cases(walked: list[object]) -> Iterator[tuple[str, bytes, str]]:
    """For each transaction: its real signature, then the same with one hex digit
    changed, then the real one on a changed message."""
    chain = small_config().consensus.chain
    keys = [*chain.platform_keys.values(), chain.authority_public_key]
    for tx in transactions_of(walked):
        message = signing_message(chain.chain_id, tx)
        key = next(key for key in keys if accelerate.PLAIN_VERIFY_MESSAGE(key, message, tx.signature))
        tampered = ("0" if tx.signature[0] != "0" else "1") + tx.signature[1:]
        yield key, message, tx.signature
        yield key, message, tampered
        yield key, message + b"\x00", tx.signature


def differing_verdicts(walked: list[object], verify: Callable[[str, bytes, str], bool]) -> int:
    cases = list(signature_cases(walked))
    return sum(verify(*case) != accelerate.PLAIN_VERIFY_MESSAGE(*case) for case in cases * 2)


def test_remembered_signature_checks_are_the_plain_ones(walked: list[object]) -> None:
    assert differing_verdicts(walked, signing.verify_message) == 0
    assert differing_verdicts(walked, accelerate.remembering_verify_message(limit=1)) == 0


def test_a_signature_memo_keyed_on_too_little_is_caught(walked: list[object]) -> None:
    """Negative control: verdicts remembered by key and message, not the signature."""
    memo: Memo[tuple[str, bytes], bool] = Memo()

    def without_signature(public_key: str, message: bytes, signature: str) -> bool:
        found = memo.get((public_key, message))
        if found is None:
            found = memo.put((public_key, message), accelerate.PLAIN_VERIFY_MESSAGE(public_key, message, signature))
        return found

    assert differing_verdicts(walked, without_signature) > 0


# --- fingerprints across worker processes -----------------------------------------------------
def fingerprints(world: World) -> tuple[int, ...]:
    """What `checker.explore` reads of a world: its hash and its replicas' hashes."""
    return (hash(world), *(hash(state) for state in world.replicas))


def walk_in_worker(connection: Connection, seed: int, process_dependent: bool) -> None:
    """In a forked worker: walk, then send the fingerprints and the worlds as bytes."""
    model = Model(small_config())
    if process_dependent:
        plain = PLAIN_HASHES[ReplicaState]
        ReplicaState.__hash__ = remembering_hash(lambda state: plain(state) ^ os.getpid())  # type: ignore[method-assign]
    worlds = walk(model.config, seed, walks=5, model=model)
    connection.send(([fingerprints(world) for world in worlds], pickle.dumps(worlds)))
    connection.close()


def fingerprints_differing_between_processes(seed: int, process_dependent: bool = False) -> int:
    """Worlds a forked worker reached whose fingerprints there differ from those the
    parent computes for the same worlds rebuilt from bytes."""
    accelerate.install()
    context = multiprocessing.get_context("fork")  # as `checker.explore.start_workers`
    parent_end, child_end = context.Pipe()
    worker = context.Process(target=walk_in_worker, args=(child_end, seed, process_dependent))
    worker.start()
    sent, blob = parent_end.recv()
    worker.join(timeout=60)
    worlds: list[World] = pickle.loads(blob)
    assert any(state is not None and state.pending for world in worlds for state in world.replicas)
    return sum(theirs != fingerprints(world) for theirs, world in zip(sent, worlds, strict=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_forked_worker_fingerprints_worlds_as_the_parent_does(seed: int) -> None:
    assert fingerprints_differing_between_processes(seed) == 0


def test_a_process_dependent_hash_is_caught() -> None:
    """Negative control: a replica state's hash that mixes in the process id."""
    assert fingerprints_differing_between_processes(SEEDS[0], process_dependent=True) > 0
