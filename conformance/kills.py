"""Which cases kill each mutant node: the table the site's Conformance section shows.

Every mutant (`conformance.mutants`) is played against every committed case in this
process (`conformance.suite.IN_PROCESS`), its bug installed for the duration; a case
kills it when the verdict is not a pass. `fedspec conformance generate` writes the
table to `conformance/mutant_kills.json`, and its drift check keeps it current. The
tests play each mutant through its own process too (`--mutant`), as a node build is
played.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conformance.cases import Case
from conformance.mutants import MUTANT_NODES
from conformance.node import Verdict
from conformance.suite import IN_PROCESS, Runner, run_cases

KILLS_SHOWN = 5
"""How many killing case ids the table lists per runner (the count says how many there are)."""


class Undoable:
    """A patcher that remembers what it replaced, to put it back."""

    def __init__(self) -> None:
        self.saved: list[tuple[object, str, object]] = []

    def setattr(self, target: object, name: str, value: object) -> None:
        self.saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def undo(self) -> None:
        for target, name, value in reversed(self.saved):
            setattr(target, name, value)
        self.saved.clear()


@contextmanager
def bug_installed(name: str) -> Iterator[None]:
    patcher = Undoable()
    MUTANT_NODES[name].bug(patcher)
    try:
        yield
    finally:
        patcher.undo()


def killing_cases(name: str, runners: dict[str, Runner], cases: list[Case]) -> list[str]:
    """The ids of the cases mutant `name` does not pass."""
    with bug_installed(name):
        results = run_cases(runners, IN_PROCESS, cases, stop_on_failure=False)
        return [result.case_id for result in results if result.verdict != Verdict.PASS]


def kill_table(runners: dict[str, Runner], cases: list[Case]) -> dict[str, Any]:
    """Mutant -> its description and, per runner, how many cases kill it and the first few."""
    table: dict[str, Any] = {}
    for name, mutant in MUTANT_NODES.items():
        by_runner: dict[str, list[str]] = {}
        for case_id in killing_cases(name, runners, cases):
            by_runner.setdefault(case_id.split("/", 1)[0], []).append(case_id)
        table[name] = {
            "description": mutant.description,
            "killed_by": {
                runner: {"count": len(ids), "first": ids[:KILLS_SHOWN]} for runner, ids in sorted(by_runner.items())
            },
        }
    return table
