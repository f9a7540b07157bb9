"""The ledger runner's cases: they cover every reachable (context, result code) pair,
the spec node passes them through the real adapter process, and they are sharp enough
that broken ledgers fail them.

Each check has its negative control: a case left out, a pair left out of the table, a
case whose expected answer is tampered with, and ledgers with one deliberate bug.
"""

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from conformance import spec_node
from conformance.cases import Case, case_files
from conformance.ledger_contexts import (
    REACHABLE,
    UNREACHABLE,
    codes_the_checks_name,
    coverage_gaps,
    pairs_shown,
    reachable_pairs,
)
from conformance.ledger_vectors import HANDLERS, ledger_cases, precedences
from conformance.mutants import expiry_on_the_deadline, link_checked_before_authority, rollback_keeps_the_lock
from conformance.protocol import PROTOCOL_VERSION
from conformance.runners import ledger as ledger_runner
from conformance.suite import run_cases
from spec.codes import ResultCode

R = ResultCode
SPEC_NODE = "python3 -m conformance.spec_node"


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return ledger_cases()


# --- 1. coverage ------------------------------------------------------------------------------------------------
def test_every_reachable_pair_has_its_case_and_every_case_shows_only_listed_pairs(cases: list[Case]) -> None:
    assert coverage_gaps(cases) == []


def test_coverage_fails_when_a_case_is_left_out(cases: list[Case]) -> None:
    dropped = "ledger/codes/atp_transfer_lock.insufficient_available"
    remaining = [case for case in cases if case.id != dropped]
    assert len(remaining) == len(cases) - 1
    gaps = coverage_gaps(remaining)
    assert gaps == [f"atp_transfer_lock insufficient_available: no case {dropped}"]


def test_coverage_fails_when_a_case_shows_another_code(cases: list[Case]) -> None:
    """A case named for one pair whose block under test shows another: the case of
    task-A's expiry put where the proof-on-time case should be."""
    name = "ledger/codes/execution_proof.ok"
    impostor = next(case for case in cases if case.id == "ledger/codes/execution_proof.task_expired")
    swapped = [replace(impostor, handler="codes", name="execution_proof.ok") if case.id == name else case
               for case in cases]
    assert coverage_gaps(swapped) == [f"execution_proof ok: case {name} does not show it"]


def test_coverage_fails_when_the_table_leaves_out_a_pair_a_case_shows(cases: list[Case]) -> None:
    table = dict(REACHABLE)
    table["task_lock"] = tuple(code for code in table["task_lock"] if code != R.INSUFFICIENT_AVAILABLE)
    gaps = coverage_gaps(cases, table)
    assert "ledger/codes/task_lock.insufficient_available shows task_lock insufficient_available, which the table " \
           "does not list as reachable" in gaps
    assert gaps and all("task_lock insufficient_available" in gap for gap in gaps)


def table_mismatches(reachable: dict[str, tuple[ResultCode, ...]]) -> list[str]:
    """Per context, what the table lists (reachable or not) against what the spec's check functions name."""
    out = []
    for context, codes in reachable.items():
        listed = set(codes) | {code for (where, code) in UNREACHABLE if where == context}
        named = codes_the_checks_name(context)
        out += [f"{context}: {code.value} named by the checks, not in the table" for code in sorted(named - listed)]
        out += [f"{context}: {code.value} in the table, named by no check" for code in sorted(listed - named)]
    return out


def test_the_table_accounts_for_every_code_the_spec_checks_name() -> None:
    """REACHABLE and UNREACHABLE together are exactly what the context's functions in
    spec/ledger.py can return, and no pair is in both."""
    assert table_mismatches(REACHABLE) == []
    assert not set(reachable_pairs()) & set(UNREACHABLE)
    assert all(len(set(codes)) == len(codes) for codes in REACHABLE.values())


def test_the_table_check_fails_when_a_code_is_left_out() -> None:
    table = dict(REACHABLE)
    table["atp_transfer_commit"] = tuple(code for code in table["atp_transfer_commit"] if code != R.TRANSFER_EXPIRED)
    assert table_mismatches(table) == ["atp_transfer_commit: transfer_expired named by the checks, not in the table"]


def test_every_code_is_reachable_somewhere_but_the_one_the_decoder_stops() -> None:
    reached = {code for _context, code in reachable_pairs()}
    assert set(ResultCode) - reached == {R.BLOCK_TOO_MANY_TRANSACTIONS}


# --- precedence: each later fault is real ----------------------------------------------------------------------
@pytest.mark.parametrize("entry", precedences(), ids=lambda entry: entry.name)
def test_each_precedence_case_reports_the_earlier_code_and_its_later_fault_alone_the_later(entry: Any) -> None:
    assert (entry.context, entry.first) in pairs_shown(entry.case().data)
    alone = pairs_shown(entry.later_alone_case().data)
    assert (entry.context, entry.later) in alone
    assert (entry.context, entry.first) not in alone


# --- the cases themselves ---------------------------------------------------------------------------------------
def test_case_ids_are_unique_valid_names_and_handlers_are_the_documented_ones(cases: list[Case]) -> None:
    case_files(cases)  # raises on an invalid name or a repeated id
    assert {case.handler for case in cases} == set(HANDLERS)
    assert all(case.description and "\n" not in case.description for case in cases)


def test_generation_is_byte_stable(cases: list[Case]) -> None:
    assert case_files(ledger_cases()) == case_files(cases)


# --- 2. the spec node passes every case through the adapter process ----------------------------------------------
def tampered(case: Case) -> Case:
    expected = {**case.data["expected"], "state_roots": ["00" * 32] * len(case.data["blocks"])}
    return replace(case, name=case.name + ".tampered", data={**case.data, "expected": expected})


def test_the_spec_node_passes_every_ledger_case_through_the_adapter(cases: list[Case]) -> None:
    """One process for every case; and a copy of one case with a wrong expected root,
    which the same run must fail (the runner really compares)."""
    control = tampered(cases[0])
    results = list(run_cases({"ledger": ledger_runner}, SPEC_NODE, [*cases, control], False))
    failing = [(result.case_id, result.verdict.value, result.differences[:3]) for result in results[:-1]
               if result.verdict.value != "pass"]
    assert failing == []
    assert len(results) == len(cases) + 1
    assert results[-1].case_id == control.id and results[-1].verdict.value == "fail"
    assert any("state_roots" in difference for difference in results[-1].differences)


# --- 3. broken ledgers fail the cases -------------------------------------------------------------------------------
def answers(case: Case) -> dict[str, Any]:
    """What the spec node answers for the case, computed in this process (with whatever
    `spec.ledger` currently is)."""
    node, _ = spec_node.on_init({"protocol": PROTOCOL_VERSION, "genesis": case.data["genesis"], "replica": None})
    return spec_node.on_apply_blocks(node, {"blocks": [block["hex"] for block in case.data["blocks"]]})


def killed_by(cases: list[Case]) -> list[str]:
    return [case.id for case in cases if answers(case) != case.data["expected"]]


MUTANTS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], set[str]]] = {
    "rollback_keeps_the_lock": (rollback_keeps_the_lock, {
        "ledger/codes/atp_transfer_rollback.ok", "ledger/deadline/rollback_at_deadline_accepted",
    }),
    "expiry_on_the_deadline": (expiry_on_the_deadline, {
        "ledger/deadline/proof_at_deadline_accepted", "ledger/deadline/commit_at_deadline_accepted",
        "ledger/deadline/nothing_expires_at_the_deadline",
    }),
    "link_checked_before_authority": (link_checked_before_authority, {
        "ledger/precedence/atp_transfer_commit.unauthorized_platform.before.transfer_linked_to_task",
        "ledger/precedence/atp_transfer_rollback.unauthorized_platform.before.transfer_linked_to_task",
    }),
}
"""Each broken ledger (a mutant node's bug, `conformance.mutants`), and cases that
must kill it (every one of them)."""


@pytest.fixture
def patching() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_broken_ledger_fails_the_cases(name: str, cases: list[Case], patching: pytest.MonkeyPatch) -> None:
    """Under the mutant, the spec node's answers differ from the expected ones in the
    named cases (and the same cases agree once the mutant is gone)."""
    install, must_kill = MUTANTS[name]
    chosen = [case for case in cases if case.id in must_kill]
    assert {case.id for case in chosen} == must_kill
    assert killed_by(chosen) == []
    install(patching)
    assert sorted(killed_by(chosen)) == sorted(must_kill)
    patching.undo()
    assert killed_by(chosen) == []
