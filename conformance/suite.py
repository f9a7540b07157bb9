"""The conformance runner: every case of the chosen runners against one node build.

    fedspec conformance run --node "COMMAND" [--suite RUNNER,...] [-k PATTERN] [--case ID]
                            [--collect-only] [-x] [--junit FILE] [--json FILE] [--seed N]

Each runner (`conformance.runners`) knows its cases and how to play one against the
node; this module picks the cases, runs them one by one with a fresh `init` each,
turns whatever happened into a verdict, and reports: a summary per runner, for a
failing case a minimal diff of expected against got, its id and the command that
replays it alone, and JUnit XML and JSON files for CI.
"""

import json
import shlex
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

from conformance.cases import Case, load_cases
from conformance.node import InProcessSession, NodeFailure, NodeSession, Session, Verdict
from spec.wire.json_form import to_json

IN_PROCESS = "in-process"
"""The node "command" that plays every case against the spec in this process
(`conformance.node.InProcessSession`): no process, the same requests and answers."""


class Runner(Protocol):
    """What each module of `conformance.runners` provides."""

    NAME: str

    def generate(self) -> list[Case]:
        """Every case of this runner, computed from the spec (what `generate` writes)."""

    def run_case(self, nodes: "Nodes", case: Case) -> list[str]:
        """Play `case` against the node; the differences from the spec's answers (none: pass)."""


class Nodes:
    """The node processes of a run, by slot: one for a vector case, one per correct
    replica for a schedule. Every slot runs the same command and is reused across
    cases until a failure leaves it in doubt."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.sessions: dict[int, Session] = {}

    def session(self, slot: int = 0) -> Session:
        if slot not in self.sessions:
            self.sessions[slot] = InProcessSession() if self.command == IN_PROCESS else NodeSession(self.command)
        return self.sessions[slot]

    def log_marks(self) -> dict[int, int]:
        return {slot: session.log_mark() for slot, session in self.sessions.items()}

    def logs_since(self, marks: dict[int, int]) -> str:
        parts = []
        for slot, session in sorted(self.sessions.items()):
            text = session.log_since(marks.get(slot, 0))
            if text:
                parts.append(text if len(self.sessions) == 1 else f"--- node {slot} ---\n{text}")
        return "".join(parts)

    def discard(self) -> None:
        for session in self.sessions.values():
            session.discard()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()


# --- results -------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    case_id: str
    runner: str
    verdict: Verdict
    differences: list[str] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0


def replay_command(node_command: str, case_id: str) -> str:
    return f"fedspec conformance run --node {shlex.quote(node_command)} --case {shlex.quote(case_id)}"


def play(runner: Runner, nodes: Nodes, case: Case) -> CaseResult:
    """One case, whatever the node does: a verdict, never an exception."""
    marks = nodes.log_marks()
    started = time.perf_counter()
    try:
        differences = runner.run_case(nodes, case)
        verdict = Verdict.FAIL if differences else Verdict.PASS
    except NodeFailure as failure:
        differences = [str(failure)]
        verdict = failure.verdict
    log = nodes.logs_since(marks)
    if verdict not in (Verdict.PASS, Verdict.FAIL, Verdict.ERROR):
        nodes.discard()
    return CaseResult(case.id, case.runner, verdict, differences, log, time.perf_counter() - started)


def selected(cases: list[Case], runners: set[str] | None, pattern: str | None, exact: str | None) -> list[Case]:
    chosen = []
    for case in cases:
        if runners is not None and case.runner not in runners:
            continue
        if pattern is not None and pattern not in case.id:
            continue
        if exact is not None and case.id != exact:
            continue
        chosen.append(case)
    return chosen


def run_cases(
    runners: dict[str, Runner], node_command: str, cases: list[Case], stop_on_failure: bool,
    progress: Callable[[CaseResult], None] = lambda result: None,
    identity: dict[str, Any] | None = None,
) -> Generator[CaseResult, None, None]:
    """Play `cases` in order. The node must first pass the handshake (`HandshakeError`
    otherwise); what it says of itself goes into `identity`."""
    nodes = Nodes(node_command)
    try:
        handshake = nodes.session().handshake({"genesis": handshake_genesis(), "replica": None})
        if identity is not None:
            identity.update({key: handshake.get(key) for key in ("implementation", "version", "protocol")})
        for case in cases:
            result = play(runners[case.runner], nodes, case)
            progress(result)
            yield result
            if stop_on_failure and result.verdict != Verdict.PASS:
                return
    finally:
        nodes.close()


def handshake_genesis() -> dict[str, Any]:
    """The genesis of the handshake's `init`: the encoding vectors' network."""
    from conformance.generate import vector_genesis

    genesis: dict[str, Any] = to_json(vector_genesis())
    return genesis


# --- reports -------------------------------------------------------------------------------------------
def summary_by_runner(results: list[CaseResult]) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    for result in results:
        counts = summary.setdefault(result.runner, {})
        counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
    return summary


def json_report(node_command: str, identity: dict[str, Any] | None, results: list[CaseResult]) -> dict[str, Any]:
    return {
        "node": node_command,
        "implementation": identity,
        "summary": summary_by_runner(results),
        "cases": [
            {
                "id": result.case_id, "runner": result.runner, "verdict": result.verdict.value,
                "differences": result.differences, "log": result.log,
                "replay": replay_command(node_command, result.case_id),
            }
            for result in results
        ],
    }


def junit_report(node_command: str, results: list[CaseResult]) -> str:
    """JUnit XML: one test suite per runner, one test case per vector or schedule, each
    with its slice of the node's standard error. Times are left out so that two runs
    of one build write the same file."""
    root = ElementTree.Element("testsuites", name="fedspec conformance")
    suites: dict[str, ElementTree.Element] = {}
    for result in results:
        if result.runner not in suites:
            suites[result.runner] = ElementTree.SubElement(root, "testsuite", name=result.runner)
        case = ElementTree.SubElement(suites[result.runner], "testcase", classname=result.runner, name=result.case_id)
        if result.verdict == Verdict.FAIL:
            failure = ElementTree.SubElement(case, "failure", message=result.differences[0][:200], type="fail")
            failure.text = "\n".join(result.differences) + "\nreplay: " + replay_command(node_command, result.case_id)
        elif result.verdict != Verdict.PASS:
            error = ElementTree.SubElement(case, "error", message=result.differences[0][:200], type=result.verdict.value)
            error.text = "\n".join(result.differences) + "\nreplay: " + replay_command(node_command, result.case_id)
        if result.log:
            ElementTree.SubElement(case, "system-err").text = result.log
    for runner, suite in suites.items():
        runner_results = [result for result in results if result.runner == runner]
        suite.set("tests", str(len(runner_results)))
        suite.set("failures", str(sum(result.verdict == Verdict.FAIL for result in runner_results)))
        suite.set("errors", str(sum(result.verdict not in (Verdict.PASS, Verdict.FAIL) for result in runner_results)))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode") + "\n"


def write_reports(
    node_command: str, identity: dict[str, Any] | None, results: list[CaseResult],
    junit: Path | None, json_file: Path | None,
) -> None:
    if junit is not None:
        junit.write_text(junit_report(node_command, results), encoding="utf-8")
    if json_file is not None:
        json_file.write_text(json.dumps(json_report(node_command, identity, results), indent=2) + "\n", encoding="utf-8")


# --- differences --------------------------------------------------------------------------------------
MAX_DIFFERENCES = 20
"""A failing case lists at most this many differences: the first ones say what broke."""


def json_differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """The places where `got` differs from `expected`, each as `path: expected X, got Y`."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out: list[str] = []
        for key in sorted(set(expected) | set(got), key=str):
            place = f"{path}.{key}" if path else str(key)
            if key not in got:
                out.append(f"{place}: missing (expected {short(expected[key])})")
            elif key not in expected:
                out.append(f"{place}: unexpected {short(got[key])}")
            else:
                out.extend(json_differences(expected[key], got[key], place))
        return out[:MAX_DIFFERENCES]
    if isinstance(expected, list) and isinstance(got, list):
        out = []
        for index in range(max(len(expected), len(got))):
            place = f"{path}[{index}]"
            if index >= len(got):
                out.append(f"{place}: missing (expected {short(expected[index])})")
            elif index >= len(expected):
                out.append(f"{place}: unexpected {short(got[index])}")
            else:
                out.extend(json_differences(expected[index], got[index], place))
        return out[:MAX_DIFFERENCES]
    if expected != got or type(expected) is not type(got):
        return [f"{path or 'answer'}: expected {short(expected)}, got {short(got)}"]
    return []


def short(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


# --- a whole run ---------------------------------------------------------------------------------------
@dataclass
class RunOptions:
    node_command: str
    suites: set[str] | None = None
    """Runner names to run; None: every runner."""
    pattern: str | None = None
    """Only cases whose id contains this text (`-k`)."""
    case_id: str | None = None
    """Only the case with exactly this id (`--case`, what a replay command gives)."""
    stop_on_failure: bool = False
    seed: int | None = None
    """Resample the schedules from this seed instead of the committed sample."""


class InvocationError(ValueError):
    """A run asked for something that does not exist: exit 2."""


def collect(options: RunOptions, runners: dict[str, Runner]) -> list[Case]:
    """The cases a run plays, in runner order, then id order. A selection that names no
    runner, or matches no case, is a bad invocation: a run that checks nothing must not pass."""
    if options.suites is not None:
        unknown = options.suites - set(runners)
        if unknown or not options.suites:
            named = f"no runner {', '.join(sorted(unknown))}" if unknown else "names no runner"
            raise InvocationError(f"--suite: {named} (runners: {', '.join(runners)})")
    from conformance.runners import schedules

    cases = load_cases()
    if options.seed is not None:
        cases = [case for case in cases if case.runner != schedules.NAME] + schedules.cases_for_seed(options.seed)
    if options.case_id is not None and options.case_id not in {case.id for case in cases}:
        cases += schedules.case_for_id(options.case_id)
    order = {name: position for position, name in enumerate(runners)}
    cases = sorted(selected(cases, options.suites, options.pattern, options.case_id),
                   key=lambda case: (order.get(case.runner, len(order)), case.id))
    cases = [case for case in cases if case.runner in runners]
    if not cases:
        raise InvocationError(f"no case matches {selection_text(options)}")
    return cases


def selection_text(options: RunOptions) -> str:
    parts = []
    if options.case_id is not None:
        parts.append(f"--case {options.case_id}")
    if options.pattern is not None:
        parts.append(f"-k {options.pattern}")
    if options.suites is not None:
        parts.append(f"--suite {','.join(sorted(options.suites))}")
    return " ".join(parts) or "the selection"
