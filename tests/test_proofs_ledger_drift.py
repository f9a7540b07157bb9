"""The ledger proof's transition relation is the executable spec: drift tests.

`checker.proofs.ledger` proves the invariants of a z3 encoding of `spec/ledger.py`
(`checker.proofs.ledger_model`). A proof about an encoding that says something the
spec does not would prove nothing about the spec, so these tests run the encoding
on concrete cases and require the spec's answer:

1. hypothesis builds a reachable ledger state: a few blocks of transactions applied
   from the test genesis by the spec's own functions (`tests/ledger_cases.py`);
2. it draws one transaction of the type under test, new or a resubmission of one the
   state holds, with one named flaw (a value at or beyond a bound, a failed id, a
   changed field, another platform, or none) and a real signature, so that the
   spec's static checks run too; every flaw of every type gets its own cases;
3. the spec gives the result code(s) and the post-state;
4. the concrete state and transaction are substituted into the very symbolic step
   the obligations prove things about (`checker.proofs.ledger.transition_step`),
   and z3 simplifies it to values (`tests/ledger_concrete.py`): the guard must be
   true, the codes must be the spec's, every record at every id in play (and at one
   id nothing uses) must be the spec's, and the ghosts must be the sums they stand
   for (`supply` is `total_supply`, `open_sum[a]` the amounts of a's LOCKED transfers);
5. the expiry step runs as the encoding splits it: `begin_block`, `expire_one` for
   each transfer in the spec's expiry order (each guard true), `finish_expiry` (its
   guard true at every id, and false while a due lock is left); the encoding's `due`
   picks exactly the transfers the spec expires.

Every result code the encoding has a branch for must come up in the cases, but for
the few no reachable state can produce (`UNREACHABLE`, each with its reason): so
every branch of the encoding's checks is compared with the spec's.

On every case, every conjunct of the proof's inductive invariant and the finite-sum
facts the proof assumes evaluate to true on the pre-state at every index, and every
two-state conjunct on the transition: the invariant the proof assumes is one that
the spec's reachable states have, so the proof is not about an empty set of states.

The negative controls change one ledger rule in the spec only (`tests/spec_mutants.py`)
or one rule in the encoding only (`Encoding(mutant)`, every mutant), and require
these tests to fail.

Runs are deterministic (derandomize); hypothesis prints the failing case, and
`note`s the transaction type, the flaw and the transaction. Set
FEDSPEC_DRIFT_EXAMPLES_PER_FLAW and FEDSPEC_DRIFT_EXPIRY_EXAMPLES to run more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import cache
from typing import Any

import pytest
import z3
from builders import GENESIS
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from ledger_cases import AGENTS, UNDER_TEST, Case, Draw, draw_case, next_timestamp, signed_by_its_platform
from ledger_concrete import (
    KIND_NAMESPACE,
    Evaluator,
    Ids,
    Universe,
    UniverseKey,
    concrete_ledger,
    differences,
    encoding_view,
    plain,
    spec_view,
)
from spec_mutants import MUTANTS as SPEC_MUTANTS

import spec.ledger as ledger
from checker.proofs import ledger_model as model
from checker.proofs.ledger import INVARIANTS, finite_sum_facts, transition_step
from checker.proofs.ledger_model import Encoding, Ledger, Step, code_name, symbolic_ledger
from spec.codes import ResultCode
from spec.state import chain_from_genesis, copy_state
from spec.wire.records import LedgerState
from spec.wire.types import FederationTask

R = ResultCode

# --- settings ---------------------------------------------------------------------------------------
EXAMPLES_PER_FLAW = int(os.environ.get("FEDSPEC_DRIFT_EXAMPLES_PER_FLAW", "15"))
"""Cases for each flaw of each transaction type, new and resubmitted (7 types, 7 to 21 flaws each)."""
EXPIRY_EXAMPLES = int(os.environ.get("FEDSPEC_DRIFT_EXPIRY_EXAMPLES", "250"))

DRIFT = settings(
    max_examples=EXPIRY_EXAMPLES,
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PER_FLAW = settings(DRIFT, max_examples=EXAMPLES_PER_FLAW)
NEGATIVE = settings(DRIFT, max_examples=300, phases=[Phase.generate])
"""The negative controls: no shrinking (only the failure matters); each stops at its first failure."""

CHAIN = chain_from_genesis(GENESIS)


# --- the invariant on concrete states ------------------------------------------------------------------
def indices(universe: Universe) -> dict[str, list[z3.ArithRef]]:
    """Every index in play, by the kinds of `checker.proofs.ledger.INDEX_KINDS`."""
    kinds = {"account": "agent", "id": "id", "set": "set", "update": "update", "platform": "platform"}
    return {kind: [z3.IntVal(i) for i in universe[namespace]] for kind, namespace in kinds.items()}


Named = tuple[tuple[str, z3.BoolRef], ...]


def at_every_index(subject: Any, universe: Universe, two_state: bool) -> list[tuple[str, z3.BoolRef]]:
    """Each conjunct of the proof's invariant, its one-state ones over a state or its
    two-state ones over a step, at every index of the kind it speaks of."""
    named: list[tuple[str, z3.BoolRef]] = []
    for invariant in INVARIANTS:
        for conjunct in invariant.step if two_state else invariant.state:
            where = [0] if conjunct.kind == "ledger" else universe[KIND_NAMESPACE[conjunct.kind]]
            for i in where:
                named.append((f"{invariant.name}: {conjunct.text} (at {conjunct.kind} {i})",
                              conjunct.holds(subject, z3.IntVal(i))))
    return named


def state_conjuncts(state: Ledger, universe: Universe) -> Named:
    """The invariant's one-state conjuncts at every index, and the finite-sum facts, over `state`."""
    named = at_every_index(state, universe, two_state=False)
    for k, fact in enumerate(finite_sum_facts(state, indices(universe))):
        named.append((f"finite-sum fact {k} of checker.proofs.ledger.finite_sum_facts", fact))
    return tuple(named)


@cache
def invariant_over_pre(universe_key: UniverseKey) -> tuple[Named, z3.BoolRef]:
    """The invariant's conjuncts over the symbolic pre-state, and their conjunction:
    built once, then evaluated at each case by substitution (building them anew for
    every case would cost more than all the rest of the test)."""
    named = state_conjuncts(symbolic_ledger("pre"), dict(universe_key))
    return named, z3.And([formula for _, formula in named])


@cache
def step_conjuncts_of(transition: str, variant: str | None, universe_key: UniverseKey) -> tuple[Named, z3.BoolRef]:
    named = tuple(at_every_index(transition_step(transition, variant), dict(universe_key), two_state=True))
    return named, z3.And([formula for _, formula in named])


def false_ones(named_and_all: tuple[Named, z3.BoolRef], evaluate: Evaluator) -> list[str]:
    """The names of the formulas that are false at the evaluator's case: one evaluation
    of their conjunction when all hold (the common case), one each when not."""
    named, conjunction = named_and_all
    if evaluate.true(conjunction):
        return []
    return [name for name, formula in named if not evaluate.true(formula)]


def invariant_failures(evaluate: Evaluator, ids: Ids) -> list[str]:
    """The conjuncts of the invariant (and finite-sum facts) false of the evaluator's pre-state."""
    return false_ones(invariant_over_pre(ids.key()), evaluate)


def step_conjunct_failures(transition: str, variant: str | None, evaluate: Evaluator, ids: Ids) -> list[str]:
    """The two-state conjuncts false of the evaluator's concrete transition."""
    return false_ones(step_conjuncts_of(transition, variant, ids.key()), evaluate)


# --- one transaction, by the spec and by the encoding -------------------------------------------------------
def spec_outcome(case: Case, txs: Sequence[Any]) -> tuple[dict[str, ResultCode], LedgerState]:
    """The spec's codes and post-state for a transaction (or a task and its lock). A
    static failure rejects the block: the code is the static one, the state unchanged."""
    following = txs[1] if len(txs) > 1 else None
    static = ledger.validate_static(CHAIN, txs[0], following)
    label = "task" if isinstance(txs[0], FederationTask) else "code"
    if static != R.OK:
        return {label: static}, case.state
    work = copy_state(case.state)
    if isinstance(txs[0], FederationTask):
        assert ledger.validate_static(CHAIN, txs[1], None) == R.OK, "a task's matching lock passes its own checks"
        task_receipt, lock_receipt = ledger.apply_task_pair(work, txs[0], txs[1], 0, case.now)
        return {"task": task_receipt.code, "lock": lock_receipt.code}, work
    return {"code": ledger.apply_transaction(work, txs[0], 0, case.now).code}, work


def bindings(step: Step, txs: Sequence[Any], ids: Ids) -> list[tuple[z3.ExprRef, int]]:
    """Each field of the step's symbolic transaction, with the concrete one's value."""
    symbolic = [step.tx.task, step.tx.lock] if isinstance(step.tx, model.TaskPair) else [step.tx]
    bound: list[tuple[z3.ExprRef, int]] = []
    for fields_of, tx in zip(symbolic, txs, strict=True):
        for field in fields(fields_of):
            bound.append((getattr(fields_of, field.name), ids.value(field.name, getattr(tx, field.name))))
    return bound


def check_transaction(data: st.DataObject, transition: str, flaw: str, resubmit: bool,
                      variant: str | None = None, seen: set[tuple[str, ResultCode]] | None = None) -> None:
    case = draw_case(data)
    note(f"{transition}, {'resubmitted' if resubmit else 'new'}, with the flaw: {flaw}")
    txs = [signed_by_its_platform(tx) for tx in UNDER_TEST[transition].draw(Draw(data, case.state), flaw, resubmit)]
    note(f"transaction: {txs}")
    expected_codes, expected_post = spec_outcome(case, txs)

    ids = Ids()
    step = transition_step(transition, variant)
    bound = bindings(step, txs, ids)
    before = spec_view(case.state, case.now, False, ids)
    expected = spec_view(expected_post, case.now, False, ids)
    evaluate = Evaluator(concrete_ledger(before), ids)
    for symbol, value in bound:
        evaluate.bind(symbol, value)

    holds_everywhere(invariant_failures(evaluate, ids), "the proof's invariant")
    assert evaluate.true(step.guard), "the encoding's guard (not expiring, admitted) is false"
    codes = {label: code_name(plain(evaluate(result))) for label, result in step.codes}
    if "lock" in codes and "lock" not in expected_codes:
        del codes["lock"]  # a statically invalid task rejects its block: the spec reports no lock code
    if seen is not None:
        seen.update(codes.items())
    assert codes == expected_codes, f"{transition}: encoding codes {codes}, spec {expected_codes}"
    assert evaluate.true(step.ok) == all(c == R.OK for c in expected_codes.values())
    found = encoding_view(step.post, evaluate, ids)
    mismatch = differences(expected, found)
    assert not mismatch, f"{transition} with codes {expected_codes}:\n" + "\n".join(mismatch)
    holds_everywhere(step_conjunct_failures(transition, variant, evaluate, ids), f"{transition}'s two-state conjuncts")


# --- the expiry step, by the spec and by the encoding ---------------------------------------------------------
def check_expiry(data: st.DataObject, variant: str | None = None) -> None:
    """`begin_block`, `expire_one` in the spec's order, `finish_expiry`: the spec's `expire_due`."""
    case = draw_case(data)
    d = Draw(data, case.state)
    timestamp = next_timestamp(d, case.now)
    work = copy_state(case.state)
    expired = [settlement.transfer_id for settlement in ledger.expire_due(work, timestamp)]

    ids = Ids()
    before = spec_view(case.state, case.now, False, ids)
    after = spec_view(work, timestamp, False, ids)

    begin = transition_step("begin_block", variant)
    evaluate = Evaluator(concrete_ledger(before), ids)
    holds_everywhere(invariant_failures(evaluate, ids), "the proof's invariant is false of a reachable state")
    parameters = dict(begin.params)
    evaluate.bind(parameters["timestamp"], timestamp)
    if "reward_agent" in parameters:  # only the block_reward mutant has one
        evaluate.bind(parameters["reward_agent"], ids.of("agent", d.pick(AGENTS)))
    assert evaluate.true(begin.guard), "begin_block's guard is false for a later block"
    holds_everywhere(step_conjunct_failures("begin_block", variant, evaluate, ids), "begin_block")
    state = concrete_state(begin.post, evaluate, ids)
    assert plain(state.expiring), "begin_block does not start the expiry step"

    encoding = Encoding(variant if variant in model.MUTANTS else None)
    due = {i for i in ids.universe("id") if z3.is_true(z3.simplify(encoding.due(state, z3.IntVal(i))))}
    assert due == {ids.of("id", x) for x in expired}, (
        f"the encoding's due locks {sorted(due)} are not the ones the spec expires at {timestamp}: {expired}"
    )
    finish = transition_step("finish_expiry", variant)
    if expired:
        assert not enabled_at(finish, state, ids), "finish_expiry is enabled while a lock is due"
    for transfer_id in expired:
        expire = transition_step("expire_one", variant)
        evaluate = Evaluator(state, ids)
        evaluate.bind(dict(expire.params)["transfer_id"], ids.of("id", transfer_id))
        assert evaluate.true(expire.guard), f"expire_one({transfer_id}) is not enabled, yet the spec expires it"
        holds_everywhere(step_conjunct_failures("expire_one", variant, evaluate, ids), f"expire_one({transfer_id})")
        state = concrete_state(expire.post, evaluate, ids)
    assert enabled_at(finish, state, ids), "finish_expiry is not enabled once the spec's expiries are done"
    evaluate = Evaluator(state, ids)
    holds_everywhere(step_conjunct_failures("finish_expiry", variant, evaluate, ids), "finish_expiry")
    found = encoding_view(finish.post, evaluate, ids)
    mismatch = differences(after, found)
    assert not mismatch, f"expiry at {timestamp} of {expired}:\n" + "\n".join(mismatch)


def holds_everywhere(failures: list[str], what: str) -> None:
    assert not failures, f"{what}: false of a spec state or transition:\n" + "\n".join(failures)


def concrete_state(state: Ledger, evaluate: Evaluator, ids: Ids) -> Ledger:
    """A post-state as a concrete ledger, to be the pre-state of the next transition."""
    return concrete_ledger(encoding_view(state, evaluate, ids))


def enabled_at(step: Step, state: Ledger, ids: Ids) -> bool:
    """Whether `step` (over the symbolic pre-state) is enabled at `state`, its guard over
    every transfer checked at every id in play."""
    evaluate = Evaluator(state, ids)
    if not evaluate.true(step.guard):
        return False
    if step.guard_at_every_transfer is None:
        return True
    return all(evaluate.true(step.guard_at_every_transfer(z3.IntVal(i))) for i in ids.universe("id"))


# --- the tests -------------------------------------------------------------------------------------------
def run_cases(config: settings, check: Callable[[st.DataObject], None]) -> None:
    """Run `check` on hypothesis' cases under `config`."""

    @config
    @given(st.data())
    def run(data: st.DataObject) -> None:
        check(data)

    run()


def codes_in(expression: z3.ExprRef) -> set[ResultCode]:
    """Every result code an encoded code term can take: the code constants at its leaves."""
    found: set[ResultCode] = set()
    pending = [expression]
    seen_ids: set[int] = set()
    while pending:
        e = pending.pop()
        if e.get_id() in seen_ids:
            continue
        seen_ids.add(e.get_id())
        if z3.is_int_value(e):
            found.add(code_name(e.as_long()))
        elif z3.is_app_of(e, z3.Z3_OP_ITE):
            pending += e.children()[1:]
    return found


UNREACHABLE: dict[tuple[str, str, ResultCode], str] = {
    ("commit", "code", R.TRANSFER_ALREADY_COMMITTED): (
        "a plain transfer is COMMITTED only by a COMMIT, which a second COMMIT finds as `exists`; a PROOF commits "
        "only task locks, and a COMMIT of one is `transfer_linked_to_task` first"),
    ("rollback", "code", R.TRANSFER_ALREADY_ROLLED_BACK): (
        "a plain transfer is ROLLED_BACK only by a ROLLBACK (`exists` to a second one); a PROOF rolls back only "
        "task locks, `transfer_linked_to_task` first"),
    ("task_pair", "lock", R.ID_ALREADY_FAILED): (
        "the lock's id is the task's, and the task's own checks find a failed id first"),
    **{("task_pair", "lock", code): (
        "when the task exists identically so does its lock: the static pairing ties the lock's fields to the "
        "task's, and the recorded lock carries the recorded task's terms")
       for code in (R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, R.EXISTS_WITH_DIFFERENT_DEST_AGENT,
                    R.EXISTS_WITH_DIFFERENT_AMOUNT, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS)},
}
"""Codes the encoding has a branch for, that no reachable state and transaction
produce, and why. Every other code must come up in the cases."""


def unobservable(step: Step) -> set[tuple[str, ResultCode]]:
    """The lock codes of a statically invalid task pair: the encoding gives the lock the
    task's static code, but the spec rejects the block with the task's code alone, so
    there is nothing of the spec's to compare them with."""
    if not isinstance(step.tx, model.TaskPair):
        return set()
    static = codes_in(model.validate_static_task(step.tx.task, step.tx.lock)) - {R.OK}
    return {("lock", code) for code in static}


@pytest.mark.parametrize("transition", sorted(UNDER_TEST))
def test_the_encoding_of_each_transaction_is_the_spec(transition: str) -> None:
    """Every flaw the transaction may carry, on `EXAMPLES_PER_FLAW` cases each; and every
    result code the encoding can give comes up (but the ones `UNREACHABLE` explains),
    so every branch of its checks is compared with the spec's."""
    seen: set[tuple[str, ResultCode]] = set()
    under_test = UNDER_TEST[transition]
    for flaw in under_test.flaws:
        for resubmit in under_test.resubmits:
            run_cases(PER_FLAW, lambda data, flaw=flaw, resubmit=resubmit: check_transaction(
                data, transition, flaw, resubmit, seen=seen))
    step = transition_step(transition, None)
    possible = {(label, code) for label, result in step.codes for code in codes_in(result)}
    unreachable = {(label, code) for (name, label, code) in UNREACHABLE if name == transition}
    assert unreachable <= possible, "UNREACHABLE names a code the encoding cannot give"
    missing = sorted(f"{label} {code.value}" for label, code in possible - unreachable - unobservable(step) - seen)
    assert not missing, f"{transition}: the cases never produced {missing}"
    assert not seen & unreachable, f"{transition}: a code UNREACHABLE says no case produces came up"


def test_the_encoding_of_the_expiry_step_is_the_spec() -> None:
    run_cases(DRIFT, check_expiry)


# --- negative controls: a rule changed on one side only must be caught ---------------------------------------
NEGATIVE_PER_FLAW = settings(NEGATIVE, max_examples=10)
"""A broken variant is looked for flaw by flaw, ten cases each, until one fails."""

MUTANT_SHOWS_IN: dict[str, str] = {
    "lock_ignores_available": "lock", "lock_debits_source": "lock", "lock_overwrites_existing": "lock",
    "commit_keeps_lock": "commit", "commit_credits_without_debit": "commit", "rollback_forgets_unlock": "rollback",
    "release_refunds_amount": "rollback", "settle_twice": "commit", "commit_of_task_lock_allowed": "commit",
    "balance_set_below_locked": "balance_set", "balance_set_unchecked_supply": "balance_set",
    "reuses_failed_ids": "lock", "task_lock_not_linked": "task_pair", "proof_ignores_threshold": "execution_proof",
    "proof_on_expired_task": "execution_proof", "proof_settles_as_commit": "execution_proof",
    "reputation_update_twice": "reputation_update", "block_reward": "expiry", "begin_block_skips_expiry": "expiry",
    "expiry_at_deadline": "expiry", "expiry_ignores_status": "expiry", "expiry_settles_as_rollback": "expiry",
    "expiry_optional": "expiry",
}
"""The transition whose drift test each mutant of the encoding must fail."""

SPEC_MUTANT_SHOWS_IN: dict[str, str] = {
    "rollback_keeps_the_lock": "rollback", "expiry_on_the_deadline": "expiry", "reputation_rounds_up": "reputation_update",
    "link_checked_before_authority": "commit", "failed_lock_ids_forgotten": "lock",
}
"""The transition whose drift test each broken spec (`tests/spec_mutants.py`) must fail."""


def fails(config: settings, check: Callable[[st.DataObject], None]) -> bool:
    try:
        run_cases(config, check)
    except AssertionError:
        return True
    return False


def drift_found(transition: str, variant: str | None = None) -> bool:
    """Whether the drift test of `transition` fails, the encoding built with `variant`."""
    if transition == "expiry":
        return fails(NEGATIVE, lambda data: check_expiry(data, variant))
    under_test = UNDER_TEST[transition]
    for flaw in under_test.flaws:
        for resubmit in under_test.resubmits:
            if fails(NEGATIVE_PER_FLAW, lambda data, flaw=flaw, resubmit=resubmit: check_transaction(
                    data, transition, flaw, resubmit, variant=variant)):
                return True
    return False


def test_every_mutant_of_the_encoding_has_its_drift_test() -> None:
    assert set(MUTANT_SHOWS_IN) == set(model.MUTANTS)
    assert set(SPEC_MUTANT_SHOWS_IN) == {mutant.__name__ for mutant in SPEC_MUTANTS}


@pytest.mark.parametrize("mutant", sorted(MUTANT_SHOWS_IN))
def test_a_rule_changed_in_the_encoding_only_is_caught(mutant: str) -> None:
    assert drift_found(MUTANT_SHOWS_IN[mutant], variant=mutant), f"the encoding mutant {mutant} went unnoticed"


@pytest.mark.parametrize("mutant", SPEC_MUTANTS, ids=[mutant.__name__ for mutant in SPEC_MUTANTS])
def test_a_rule_changed_in_the_spec_only_is_caught(monkeypatch: pytest.MonkeyPatch, mutant: Any) -> None:
    """What the drift tests are for: a ledger rule changed in `spec/ledger.py` and not
    mirrored in the encoding fails them."""
    mutant(monkeypatch)
    assert drift_found(SPEC_MUTANT_SHOWS_IN[mutant.__name__]), f"the spec mutant {mutant.__name__} went unnoticed"
