"""The conformance runner against nodes that misbehave (tests/fake_node.py): each
misbehaviour gets its own verdict for the case it hit, the run goes on, and the
reports say what differed, what the node logged, and how to replay the case."""

import json
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

import conformance.node
from conformance.node import (
    HandshakeError,
    NodeFailure,
    NodeProcess,
    Verdict,
    answers_an_earlier_request,
    parsed_answer,
)
from conformance.protocol import PROTOCOL_VERSION, RequestType
from conformance.runners import ledger
from conformance.suite import (
    CaseResult,
    RunOptions,
    collect,
    handshake_genesis,
    json_differences,
    json_report,
    junit_report,
    replay_command,
    run_cases,
)
from fedspec.cli import app

FAKE_NODE = f"{sys.executable} {Path(__file__).parent / 'fake_node.py'}"
SPEC_NODE = f"{sys.executable} -m conformance.spec_node"
RUNNERS = {"ledger": ledger}
HANG_GUARD_S = 3.0
"""How long the hang test waits for an answer: the hung request never comes; the
others, two small blocks each, come in milliseconds."""
FLOWS = "ledger/flows/"
"""The five flows' cases: those of each flow's second block are the ones the fake node
misbehaves on (an `apply_blocks` of two blocks); the others it answers as the spec."""


def flow_cases() -> list:
    return collect(RunOptions(SPEC_NODE, {"ledger"}, FLOWS), RUNNERS)


def misbehaving(case_id: str) -> bool:
    return case_id.endswith(".block-2")


def run_fake(mode: str, cases: list | None = None) -> list[CaseResult]:
    return list(run_cases(RUNNERS, f"{FAKE_NODE} {mode}", cases or flow_cases(), stop_on_failure=False))


def verdicts(results: list[CaseResult]) -> dict[str, Verdict]:
    return {result.case_id: result.verdict for result in results}


def test_the_flow_cases_include_ones_the_fake_node_misbehaves_on() -> None:
    ids = [case.id for case in flow_cases()]
    assert sum(map(misbehaving, ids)) >= 3 and not all(map(misbehaving, ids))


def test_the_spec_node_passes_and_the_fake_node_passes_where_it_behaves() -> None:
    assert set(verdicts(run_fake("log")).values()) == {Verdict.PASS}


@pytest.mark.parametrize(("mode", "verdict", "says"), [
    ("crash", Verdict.CRASH, "exited (status 3)"),
    ("garbage", Verdict.PROTOCOL, "not JSON"),
    ("wrong_id", Verdict.PROTOCOL, "in_reply_to"),
    ("error", Verdict.ERROR, "error 10 (definite): apply_blocks is not supported"),
    ("wrong_root", Verdict.FAIL, "state_roots[1]: expected"),
])
def test_each_misbehaviour_gets_its_verdict_on_its_cases_and_the_run_goes_on(mode: str, verdict: Verdict, says: str) -> None:
    results = run_fake(mode)
    for result in results:
        if misbehaving(result.case_id):
            assert result.verdict == verdict, (mode, result)
            assert says in result.differences[0]
        else:
            assert result.verdict == Verdict.PASS, (mode, result)


def test_a_hung_node_times_out_is_killed_and_a_fresh_one_takes_the_next_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conformance.node, "REQUEST_TIMEOUT_S", HANG_GUARD_S)
    cases = [case for case in flow_cases() if case.id.startswith(FLOWS + "task_high_quality")]
    results = run_fake("hang", cases)
    assert verdicts(results) == {
        case.id: Verdict.TIMEOUT if misbehaving(case.id) else Verdict.PASS for case in cases
    }


def test_a_case_carries_its_own_slice_of_the_node_log() -> None:
    for result in run_fake("log"):
        assert ("fake node: two blocks" in result.log) == misbehaving(result.case_id)


def test_a_node_that_fails_the_handshake_stops_the_run() -> None:
    with pytest.raises(HandshakeError, match="failed the handshake"):
        run_fake("no_init")


def test_the_junit_report_has_one_test_case_per_case_with_its_failure_log_and_replay() -> None:
    results = run_fake("wrong_root")
    root = ElementTree.fromstring(junit_report(f"{FAKE_NODE} wrong_root", results))
    testcases = root.findall("./testsuite/testcase")
    assert [testcase.get("name") for testcase in testcases] == [result.case_id for result in results]
    failed = [testcase for testcase in testcases if testcase.find("failure") is not None]
    assert [testcase.get("name") for testcase in failed] == [r.case_id for r in results if misbehaving(r.case_id)]
    assert "--case" in (failed[0].findtext("failure") or "")


def test_the_json_report_gives_each_case_its_verdict_and_replay() -> None:
    results = run_fake("error")
    report = json_report("node", {"implementation": "fake"}, results)
    assert report["summary"]["ledger"] == {
        "pass": sum(not misbehaving(r.case_id) for r in results), "error": sum(misbehaving(r.case_id) for r in results),
    }
    assert report["cases"][0]["replay"] == replay_command("node", results[0].case_id)


def test_json_differences_name_the_place_and_both_values() -> None:
    expected = {"receipts": [{"code": "ok"}], "state_root": "aa"}
    assert json_differences(expected, expected) == []
    assert json_differences(expected, {"receipts": [{"code": "insufficient_available"}], "state_root": "aa"}) == [
        'receipts[0].code: expected "ok", got "insufficient_available"',
    ]
    assert json_differences(expected, {"receipts": []}) == [
        'receipts[0]: missing (expected {"code":"ok"})', 'state_root: missing (expected "aa")',
    ]
    assert json_differences([1], [1, 2]) == ["[1]: unexpected 2"]
    assert json_differences(1, True) == ["answer: expected 1, got true"]


# --- the command line ----------------------------------------------------------------------------------
def invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["conformance", "run", *arguments])
    return result.exit_code, result.output


def test_cli_exit_codes_0_1_2_and_a_replay_that_runs_only_its_case(tmp_path: Path) -> None:
    assert invoke("--node", SPEC_NODE, "-k", FLOWS)[0] == 0
    code, output = invoke("--node", f"{FAKE_NODE} wrong_root", "-k", FLOWS, "--junit", str(tmp_path / "junit.xml"))
    assert code == 1 and "state_roots[1]: expected" in output
    replay = next(line for line in output.splitlines() if "replay:" in line).split("--case ", 1)[1].strip()
    code, output = invoke("--node", f"{FAKE_NODE} wrong_root", "--case", replay, "--json")
    assert code == 1 and [case["id"] for case in json.loads(output)["cases"]] == [replay]
    assert (tmp_path / "junit.xml").exists()
    assert invoke("--node", f"{FAKE_NODE} no_init", "-k", FLOWS)[0] == 2
    assert invoke("--node", SPEC_NODE, "--case", "ledger/no/such")[0] == 2


def test_an_answer_the_runner_gave_up_on_is_passed_over_not_taken_for_the_next() -> None:
    """A case that fails part way leaves answers unread (a schedule's other replicas);
    the next request's answer is found behind them, and the session is not wrongly
    called out of protocol."""
    node = NodeProcess.start(SPEC_NODE)
    try:
        init = {"type": "init", "protocol": PROTOCOL_VERSION, "genesis": handshake_genesis(), "replica": None}
        node.request(init)
        node.send({"type": "state"})  # never read: the runner moved on
        answer = node.request({"type": "state"})
        assert answer["type"] == "state_ok" and answer["in_reply_to"] == node.next_id - 1
    finally:
        node.kill()


def test_control_an_answer_to_a_later_request_is_out_of_protocol() -> None:
    with pytest.raises(NodeFailure, match="expected the answer to msg_id 3"):
        parsed_answer('{"type": "state_ok", "in_reply_to": 4}', RequestType.STATE, 3)
    assert answers_an_earlier_request('{"type": "state_ok", "in_reply_to": 2}', 3)
    assert not answers_an_earlier_request('{"type": "state_ok", "in_reply_to": 4}', 3)


def test_a_node_command_that_does_not_parse_is_a_bad_invocation() -> None:
    assert invoke("--node", 'python3 "unbalanced', "-k", FLOWS)[0] == 2
    assert invoke("--node", "", "-k", FLOWS)[0] == 2
    assert invoke("--node", SPEC_NODE, "-k", "no/such/case")[0] == 2
    assert invoke("--node", SPEC_NODE, "--suite", "")[0] == 2
