"""The ledger invariants (`checker.proofs.ledger`, transition relation in
`checker.proofs.ledger_model`): every obligation is proven; each fails under the
broken variant declared for it with a real counterexample naming the transition (or
genesis) and the violated conjunct; no variant is dead and the genesis variants
touch only genesis; the commit-without-debit counterexample adds up in plain Python;
the invariant is not vacuous (False in its place proves nothing, and it allows pending
and settled tasks with locked ATP); the verification conditions are quantifier-free."""

import re
from collections.abc import Iterator
from dataclasses import replace
from functools import cache

import pytest
import z3

from checker.proofs import ledger, obligation_named
from checker.proofs.ledger_model import COMMITTED, COMPLETED, LOCKED, MUTANTS, OK, PENDING, TRANSITIONS
from checker.proofs.obligation import Result, Status, prove, solver
from spec.codes import ResultCode
from spec.constants import MAX_REPUTATION_BP, MAX_SUPPLY

NAMES = [o.name for o in ledger.obligations()]
BROKEN = ledger.broken_variants()
INVARIANT = {invariant.name: invariant for invariant in ledger.INVARIANTS}


@cache
def proved(variant: str | None, name: str) -> Result:
    """Shared between tests, so that each obligation is proven once per run."""
    return prove(obligation_named(name, variant))


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """`transition_step` and `step_hypotheses` are cached: a test that patches the
    invariant must neither read hypotheses built before nor leave its own behind."""
    ledger.transition_step.cache_clear()
    ledger.step_hypotheses.cache_clear()
    yield
    ledger.transition_step.cache_clear()
    ledger.step_hypotheses.cache_clear()


def conjunct_kinds(group: str) -> dict[str, str]:
    """The text of each conjunct a `violated:` line of the group's obligations may name, and its kind."""
    if group == "frame":
        return {text: kind for text, kind, _ in ledger.frame_parts(ledger.transition_step("lock", None))}
    invariant = INVARIANT[group]
    return {c.text: c.kind for c in (*invariant.state, *invariant.step)}


# --- proven, and broken by its variant --------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_obligation_is_proven(name: str) -> None:
    result = proved(None, name)
    assert result.status == Status.PROVEN, f"{name}: {result.status}\n{result.counterexample}"


VIOLATED = re.compile(r"violated: (.+?)(?: \(at (\w+) (-?\d+)\))?")


def last_values(text: str, label: str) -> list[int]:
    """The numbers of a `label: a -> b` (or `label: a`) line."""
    found = re.search(rf"^{label}: (-?\d+)(?: -> (-?\d+))?", text, re.MULTILINE)
    assert found is not None, text
    return [int(value) for value in found.groups() if value is not None]


def record_after(text: str, kind: str, index: int | None) -> str:
    """A record as the counterexample leaves it (after the step, or at genesis)."""
    found = re.search(rf"^  {kind} {index}:(?:\n    before: .*\n    after: )? (.*)$", text, re.MULTILINE)
    assert found is not None, text
    return found[1]


def account_after(text: str, index: int | None) -> dict[str, int]:
    return account_fields(record_after(text, "account", index))


def account_changed(text: str, index: int | None) -> bool:
    found = re.search(rf"^  account {index}:\n    before: (.*)\n    after:  (.*)$", text, re.MULTILINE)
    assert found is not None, text
    return found[1] != found[2]


SUPPLY_DELTA = "the supply changes only by an accepted BALANCE_SET, by exactly its delta"
SHOWN_BROKEN = {
    "the supply is at most MAX_SUPPLY": lambda text, _: last_values(text, "supply")[-1] > MAX_SUPPLY,
    SUPPLY_DELTA: lambda text, _: len(set(last_values(text, "supply"))) == 2,
    "the block time never goes back": lambda text, _: (lambda a, b: b < a)(*block_times(text)),
    "locked is the sum of the account's open locks": lambda text, a: (
        lambda x: x["locked"] != x["open"])(account_after(text, a)),
    "0 <= locked <= total": lambda text, a: (lambda x: not 0 <= x["locked"] <= x["total"])(account_after(text, a)),
    "total >= 0 and available = total - locked >= 0": lambda text, a: (
        lambda x: x["total"] < 0 or x["total"] < x["locked"])(account_after(text, a)),
    "a reputation is within 0..MAX_REPUTATION_BP": lambda text, p: not 0 <= int(
        record_after(text, "platform", p).removeprefix("reputation ")) <= MAX_REPUTATION_BP,
    "an account the transition does not name is unchanged": account_changed,
}
"""The conjuncts whose violation the printed numbers show: checked in plain Python
(a BALANCE_SET may change the supply, so its delta is not checked here)."""


def block_times(text: str) -> tuple[int, int]:
    found = re.search(r"^block time: (-?\d+) -> (-?\d+);", text, re.MULTILINE)
    assert found is not None, text
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_obligation_fails_under_its_variant_with_a_counterexample(name: str) -> None:
    variant = BROKEN[name]
    result = proved(variant, name)
    assert result.status == Status.FAILED, f"{name} under {variant}: {result.status}"
    text = result.counterexample
    assert text is not None and not text.startswith("vacuous"), f"{name} under {variant}: {text}"
    lines = text.splitlines()
    _, group, case = name.split(".")
    if case == "genesis":
        assert lines[0] == "genesis state", text
        assert re.fullmatch(r"supply: -?\d+", lines[1]), text
    else:
        assert lines[0].startswith(f"transition: {case}("), text
        results = [line for line in lines if line.startswith("result: ")]
        if case in ("begin_block", "expire_one", "finish_expiry"):
            assert results == [], text
        else:
            assert len(results) == 1, text
            codes = [entry.split(" ")[1] for entry in results[0].removeprefix("result: ").split(", ")]
            assert set(codes) <= {c.value for c in ResultCode}, results[0]
        assert any(re.fullmatch(r"supply: -?\d+ -> -?\d+", line) for line in lines), text
        assert "records touched or violated:" in lines, text
    violated = [VIOLATED.fullmatch(line) for line in lines if line.startswith("violated: ")]
    assert violated, f"no violated conjunct\n{text}"
    kinds = conjunct_kinds(group)
    for found in violated:
        assert found is not None
        assert found[1] in kinds, f"{found[1]!r} is not a conjunct of {group}"
        kind = kinds[found[1]]
        if kind == "ledger":
            assert found[2] is None, found[0]
        else:
            # The violated record is named, and printed.
            assert found[2] == kind, found[0]
            assert re.search(rf"^  {kind} {found[3]}:", text, re.MULTILINE), f"{kind} {found[3]} not printed\n{text}"
        if found[1] in SHOWN_BROKEN and not (case == "balance_set" and found[1] == SUPPLY_DELTA):
            assert SHOWN_BROKEN[found[1]](text, None if found[3] is None else int(found[3])), f"{found[0]}\n{text}"


def test_every_variant_is_the_declared_breaker_of_some_obligation() -> None:
    assert set(BROKEN) == set(NAMES)
    assert set(BROKEN.values()) == set(ledger.VARIANTS), "a variant no obligation is declared to fail under is dead"


def test_every_mutant_of_the_encoding_is_a_variant() -> None:
    assert set(MUTANTS) <= set(ledger.VARIANTS)
    assert set(MUTANTS) == set(ledger.MUTANT_VARIANTS)
    assert len(MUTANTS) == len(set(MUTANTS))


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError):
        ledger.obligations("nonsense")


# --- the frame, and the genesis variants ------------------------------------------------------------------
def records(text: str) -> dict[tuple[str, int], tuple[str, str]]:
    """`records touched or violated:` as (kind, index) -> (before, after)."""
    found = re.findall(r"^  (\w+) (-?\d+):\n    before: (.*)\n    after:  (.*)$", text, re.MULTILINE)
    return {(kind, int(index)): (before, after) for kind, index, before, after in found}


def account_fields(text: str) -> dict[str, int]:
    found = re.fullmatch(r"total (-?\d+), locked (-?\d+), open locks (-?\d+)", text)
    assert found is not None, text
    return {"total": int(found[1]), "locked": int(found[2]), "open": int(found[3])}


def supply_change(text: str) -> tuple[int, int]:
    found = re.search(r"^supply: (-?\d+) -> (-?\d+)$", text, re.MULTILINE)
    assert found is not None, text
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("transition", TRANSITIONS)
def test_writing_an_unnamed_account_breaks_the_frame_and_escapes_the_ghost_supply(transition: str) -> None:
    """The account written is not among those the transition names, so the ghost sum
    misses it: a total grows by one and the supply does not count it."""
    name = f"ledger.frame.{transition}"
    assert BROKEN[name] == "also_writes_unnamed_account"
    result = proved("also_writes_unnamed_account", name)
    assert result.status == Status.FAILED and result.counterexample is not None
    text = result.counterexample
    found = re.search(r"^violated: an account the transition does not name is unchanged \(at account (-?\d+)\)$",
                      text, re.MULTILINE)
    assert found is not None, text
    unnamed = int(found[1])
    accounts = {index: [account_fields(side) for side in sides]
                for (kind, index), sides in records(text).items() if kind == "account"}
    written_before, written_after = accounts.pop(unnamed)
    assert written_after["total"] == written_before["total"] + 1, text
    # The ghost supply moves by the named accounts' changes only (a BALANCE_SET's, say).
    start, end = supply_change(text)
    assert end - start == sum(after["total"] - before["total"] for before, after in accounts.values()), text


@pytest.mark.parametrize("variant", sorted(ledger.GENESIS_VARIANTS))
def test_genesis_variants_leave_every_transition_obligation_unchanged(variant: str) -> None:
    """Same hypotheses and goals, term for term, as the spec's: a genesis variant cannot
    break a transition or frame obligation, and the genesis obligations do differ."""
    spec = {o.name: o for o in ledger.obligations()}
    for obligation in ledger.obligations(variant):
        same = spec[obligation.name]
        hypotheses, spec_hypotheses = obligation.hypotheses(), same.hypotheses()
        identical = len(hypotheses) == len(spec_hypotheses) and all(
            a.eq(b) for a, b in zip(hypotheses, spec_hypotheses, strict=True)) and obligation.goal().eq(same.goal())
        assert identical == (not obligation.name.endswith(".genesis")), obligation.name


def test_a_genesis_variant_keeps_the_transitions_of_its_group_proven() -> None:
    variant = "genesis_unchecked_supply"
    assert proved(variant, "ledger.conservation.genesis").status == Status.FAILED
    for transition in TRANSITIONS:
        assert proved(variant, f"ledger.conservation.{transition}").status == Status.PROVEN, transition


# --- one counterexample, added up -----------------------------------------------------------------------------
def test_a_commit_that_credits_without_debit_mints_the_amount() -> None:
    result = proved("commit_credits_without_debit", "ledger.conservation.commit")
    assert result.status == Status.FAILED and result.counterexample is not None
    text = result.counterexample
    assert "result: code ok" in text.splitlines(), text
    assert "violated: the supply changes only by an accepted BALANCE_SET, by exactly its delta" in text, text
    start, end = supply_change(text)
    assert end != start
    commit = re.match(r"transition: commit\(transfer_id=(-?\d+), platform=(-?\d+)\)$", text.splitlines()[0])
    assert commit is not None, text
    transfer_id = int(commit[1])
    touched = records(text)
    before, after = touched[("transfer", transfer_id)]
    lock = re.fullmatch(r"LOCKED by -, \w+(?: \w+)?, agent (-?\d+) -> agent (-?\d+), amount (\d+), .*", before)
    assert lock is not None, before
    source, dest, amount = int(lock[1]), int(lock[2]), int(lock[3])
    assert after.startswith("COMMITTED by COMMIT"), after
    assert source != dest and amount > 0
    # The supply grows by exactly the amount: the destination is credited, the source keeps its total.
    assert end - start == amount
    source_before, source_after = (account_fields(side) for side in touched[("account", source)])
    dest_before, dest_after = (account_fields(side) for side in touched[("account", dest)])
    assert source_after["total"] == source_before["total"]
    assert source_after["locked"] == source_before["locked"] - amount
    assert dest_after["total"] == dest_before["total"] + amount
    assert start <= MAX_SUPPLY


# --- non-vacuity --------------------------------------------------------------------------------------------------
def always_false(conjunct: ledger.Conjunct) -> ledger.Conjunct:
    return replace(conjunct, holds=lambda s, i: z3.BoolVal(False))


@pytest.mark.usefixtures("fresh_caches")
def test_a_conjunct_replaced_by_false_proves_nothing_that_mentions_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every transition and frame obligation assumes the whole invariant: with a False
    conjunct their hypotheses contradict, reported vacuous, not proven. The False
    conjunct fails at genesis; the other groups' genesis, which assumes no invariant,
    stays proven."""
    target = ledger.LOCK_ACCOUNTING_INVARIANT
    patched = replace(target, state=(always_false(target.state[0]), *target.state[1:]))
    monkeypatch.setattr(ledger, "INVARIANTS", tuple(patched if i is target else i for i in ledger.INVARIANTS))
    for obligation in ledger.obligations():
        result = prove(obligation)
        text = result.counterexample or ""
        if obligation.name == f"ledger.{target.name}.genesis":
            assert result.status == Status.FAILED and not text.startswith("vacuous"), obligation.name
        elif obligation.name.endswith(".genesis"):
            assert result.status == Status.PROVEN, obligation.name
        else:
            assert result.status == Status.FAILED and text.startswith("vacuous"), obligation.name


@pytest.mark.usefixtures("fresh_caches")
def test_an_invariant_of_false_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "INVARIANTS", tuple(
        replace(i, state=tuple(always_false(c) for c in i.state)) for i in ledger.INVARIANTS))
    proven = [o.name for o in ledger.obligations() if prove(o).status == Status.PROVEN]
    assert proven == []


def proof_from(pending_lock_status: z3.ExprRef) -> z3.CheckSatResult:
    """The hypotheses of the EXECUTION_PROOF obligations (the invariant at their indices,
    the finite-sum facts, the guard), with the proof's task PENDING on a lock in the
    given status, another task COMPLETED, ATP locked at the lock's source, and the proof
    accepted and paying."""
    step = ledger.transition_step("execution_proof", None)
    pre, k = step.pre, step.tx.task_id
    completed = ledger.witness("task")
    (_, result), = step.codes
    situation = [
        pre.task(k).exists, pre.task(k).status == PENDING, pre.transfer(k).status == pending_lock_status,
        completed != k, pre.task(completed).exists, pre.task(completed).status == COMPLETED,
        pre.account(pre.transfer(k).source_agent).locked > 0,
        result == OK, step.post.task(k).status == COMPLETED,
    ]
    s = solver(60)
    s.add(*ledger.step_hypotheses("execution_proof", None), *situation)
    return s.check()


def test_the_invariant_allows_pending_and_completed_tasks_with_atp_locked() -> None:
    assert proof_from(LOCKED) == z3.sat


def test_the_invariant_forbids_a_pending_task_whose_lock_is_settled() -> None:
    """The same situation with the lock already COMMITTED: the negative control of the
    one above, so that `sat` there is not the solver ignoring the situation."""
    assert proof_from(COMMITTED) == z3.unsat


# --- decidability -----------------------------------------------------------------------------------------------------
def test_every_verification_condition_is_quantifier_free() -> None:
    """The invariant is assumed at finitely many indices, so no ∀ or ∃ reaches z3; the
    only binder is the λ that updates the ghost open_sum (an array, decided by z3)."""
    roots = []
    for obligation in ledger.obligations():
        roots += [(obligation.name, formula) for formula in obligation.hypotheses() + [z3.Not(obligation.goal())]]
    seen: set[int] = set()
    quantified: set[str] = set()
    lambdas = 0
    todo = list(roots)
    while todo:
        name, e = todo.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_quantifier(e):
            if e.is_lambda():
                lambdas += 1
            else:
                quantified.add(name)
            todo.append((name, e.body()))
        elif z3.is_app(e):
            todo.extend((name, child) for child in e.children())
    assert quantified == set()
    assert lambdas > 0, "the walk reaches the open_sum update"
