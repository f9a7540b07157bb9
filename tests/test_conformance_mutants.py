"""The suite's negative controls: every mutant node (`conformance.mutants`) fails the
suite, through its own process as a node build is played, and the generated table of
what kills each (`conformance/mutant_kills.json`) says so."""

import json
import sys

import pytest

from conformance.cases import load_cases
from conformance.generate import KILLS_FILE
from conformance.kills import kill_table
from conformance.mutants import MUTANT_NODES, MutantNode
from conformance.node import HandshakeError, Verdict
from conformance.runners import RUNNERS
from conformance.suite import run_cases

SPEC_NODE = f"{sys.executable} -m conformance.spec_node"
KILLS = json.loads(KILLS_FILE.read_text(encoding="utf-8"))
ISSUE_MUTANTS = {
    "prepare_without_validation", "expiry_on_the_deadline", "rollback_keeps_the_lock", "commit_credits_twice",
    "link_checked_before_authority", "new_view_ignores_prepared_certificates", "catch_up_trusts_one_peer",
    "state_root_without_settlement_cause", "quorum_two_f_plus_one",
}
"""The bugs issue 12 names (a code order, a NEW-VIEW, catch-up, a state root, a quorum ...)."""


def first_killing_case(name: str) -> str:
    return next(case_id for kills in KILLS[name]["killed_by"].values() for case_id in kills["first"])


def test_the_issue_s_mutants_are_all_there_and_the_table_covers_every_mutant() -> None:
    assert ISSUE_MUTANTS <= set(MUTANT_NODES)
    assert set(KILLS) == set(MUTANT_NODES)


@pytest.mark.parametrize("name", sorted(MUTANT_NODES))
def test_every_mutant_is_killed_by_some_committed_case(name: str) -> None:
    assert KILLS[name]["killed_by"], f"no committed case kills mutant {name}"


@pytest.mark.parametrize("name", sorted(MUTANT_NODES))
def test_the_mutant_node_process_fails_its_killing_case_which_the_spec_node_passes(name: str) -> None:
    cases = [case for case in load_cases() if case.id == first_killing_case(name)]
    [spec_result] = run_cases(RUNNERS, SPEC_NODE, cases, stop_on_failure=False)
    [mutant_result] = run_cases(RUNNERS, f"{SPEC_NODE} --mutant {name}", cases, stop_on_failure=False)
    assert spec_result.verdict == Verdict.PASS
    assert mutant_result.verdict != Verdict.PASS and mutant_result.differences


def test_control_a_mutant_without_a_bug_is_killed_by_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table can say "none": a bug that changes nothing survives every case."""
    monkeypatch.setitem(MUTANT_NODES, "no_bug", MutantNode(lambda patcher: None))
    ledger_cases = [case for case in load_cases() if case.runner == "ledger"]
    assert kill_table(RUNNERS, ledger_cases)["no_bug"]["killed_by"] == {}


def test_control_an_unknown_mutant_is_refused() -> None:
    cases = [case for case in load_cases() if case.runner == "ledger"][:1]
    with pytest.raises(HandshakeError, match="unknown mutant 'no_such_bug'"):
        list(run_cases(RUNNERS, f"{SPEC_NODE} --mutant no_such_bug", cases, stop_on_failure=False))
