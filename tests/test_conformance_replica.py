"""The `replica` runner's cases (conformance/replica_vectors.py): what they cover, that
the spec node passes them through the adapter, and that a broken node would not.

The witness cases here are made from the witness traces docs/record_traces.py recorded
(docs/traces/), the very traces the checker's search finds under `fedspec check`'s
hash seed (tests/test_site_traces.py keeps them current); the search itself takes
about 12 s, which `fedspec conformance generate` spends and these tests do not.
"""

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest

import spec.pbft as pbft
from conformance import replica_vectors, spec_node
from conformance.cases import Case, case_files
from conformance.node import Verdict
from conformance.protocol import PROTOCOL_VERSION
from conformance.replica_vectors import (
    CHECK_HASH_SEED,
    PATH_CONFIG,
    ROOT,
    WITNESS_CONFIGS,
    TraceDocument,
    checker_traces,
    config_seeds,
    follows_the_quorum_rule,
    path_cases,
    quorum_cases,
    refusal_cases,
    regression_cases,
    trace_cases,
    witness_cases,
)
from conformance.runners import replica
from conformance.runners.replica import COMPARED
from conformance.suite import run_cases
from spec.refusals import Refusal
from spec.wire.envelope import EnvelopeRefusal

TRACES = ROOT / "docs" / "traces"
SPEC_NODE = f"{shlex.quote(sys.executable)} -m conformance.spec_node"


def recorded_trace(stem: str) -> TraceDocument:
    document: TraceDocument = json.loads((TRACES / f"{stem}.trace.json").read_text(encoding="utf-8"))
    return document


def recorded_witness_traces() -> list[tuple[str, TraceDocument]]:
    return [(config.stem, recorded_trace(config.stem)) for config in sorted(WITNESS_CONFIGS.glob("*.toml"))]


@pytest.fixture(scope="module")
def cases() -> dict[str, list[Case]]:
    return {
        "witnesses": witness_cases(recorded_witness_traces()),
        "paths": path_cases(),
        "refusals": refusal_cases(),
        "quorum": quorum_cases(),
        "regressions": regression_cases(),
    }


def every_case(cases: dict[str, list[Case]]) -> list[Case]:
    return [case for handler in cases.values() for case in handler]


def test_each_handler_has_its_cases_under_unique_valid_names(cases: dict[str, list[Case]]) -> None:
    counts = {handler: len(found) for handler, found in cases.items()}
    assert counts["witnesses"] >= 3 * len(list(WITNESS_CONFIGS.glob("*.toml"))), counts
    assert counts["paths"] == 3 * replica_vectors.PATH_WALKS, "one case per correct n4f1 replica a walk"
    assert counts["quorum"] == 3 * 6
    assert counts["regressions"] == 4
    assert all(case.handler == handler and case.runner == "replica" for handler, found in cases.items() for case in found)
    case_files(every_case(cases))  # raises on an invalid name or two cases with one id


# --- every refusal has its case ---------------------------------------------------------------------------
REASONS = {refusal.value for refusal in Refusal} | {refusal.value for refusal in EnvelopeRefusal}


def unexpected_reasons(cases: Iterable[Case]) -> set[str]:
    """The refusals and envelope refusals no step of `cases` expects."""
    expected = {step["expected"]["refusal"] for case in cases for step in case.data["steps"]}
    return REASONS - expected


def test_every_refusal_and_envelope_refusal_is_expected_of_a_refusals_step(cases: dict[str, list[Case]]) -> None:
    assert unexpected_reasons(cases["refusals"]) == set()


@pytest.mark.parametrize("removed", [
    "timestamp_ahead_of_clock.block-stamped-beyond-the-skew", "sender_signature_invalid.prepare-signed-by-another-replica",
])
def test_control_a_reason_whose_case_is_removed_is_caught(cases: dict[str, list[Case]], removed: str) -> None:
    kept = [case for case in cases["refusals"] if case.name != removed]
    assert len(kept) == len(cases["refusals"]) - 1
    assert unexpected_reasons(kept) == {removed.split(".")[0]}


def test_each_refusals_case_ends_in_the_refusal_it_is_named_for(cases: dict[str, list[Case]]) -> None:
    for case in cases["refusals"]:
        assert case.data["steps"][-1]["expected"]["refusal"].lower() == case.name.split(".")[0], case.id


def test_control_a_sequence_refused_for_another_reason_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec whose `view_refusal` calls a stale view a future one: the sequences written
    for `stale_view` are refused for `future_view`, and generation says which."""
    real = pbft.view_refusal

    def swapped(state: pbft.ReplicaState, view: int) -> Refusal | None:
        refusal = real(state, view)
        return Refusal.FUTURE_VIEW if refusal == Refusal.STALE_VIEW else refusal

    monkeypatch.setattr(pbft, "view_refusal", swapped)
    with pytest.raises(AssertionError, match="stale_view.pre-prepare-of-view-0-in-view-1.*'future_view'"):
        refusal_cases()


# --- the spec node passes every case through the adapter ----------------------------------------------------
def failures(cases: list[Case]) -> dict[str, list[str]]:
    results = run_cases({"replica": replica}, SPEC_NODE, cases, stop_on_failure=False)
    return {result.case_id: result.differences for result in results if result.verdict != Verdict.PASS}


def test_the_spec_node_passes_every_replica_case_through_the_adapter(cases: dict[str, list[Case]]) -> None:
    assert failures(every_case(cases)) == {}


def test_control_a_wrong_expected_answer_fails_through_the_adapter(cases: dict[str, list[Case]]) -> None:
    """The quorum case with one expected output dropped: the runner reports that step."""
    case = next(case for case in cases["quorum"] if case.name == "n5.prepares-and-commits-on-a-quorum")
    data = json.loads(json.dumps(case.data))
    step = next(step for step in data["steps"] if step["expected"]["outputs"])
    step["expected"]["outputs"] = []
    found = failures([Case(case.runner, case.handler, case.name, case.description, data)])
    assert list(found) == [case.id] and "outputs" in found[case.id][0]


# --- a broken node gives other answers -----------------------------------------------------------------------
def answers_differ(case: Case) -> bool:
    """Whether the spec as it now runs in this process answers some step of `case` otherwise."""
    node, _ = spec_node.on_init({"protocol": PROTOCOL_VERSION, **case.data["init"]})
    for step in case.data["steps"]:
        answer = spec_node.step_once(node, step["input"])
        if {key: answer[key] for key in COMPARED} != {key: step["expected"][key] for key in COMPARED}:
            return True
    return False


def differing(cases: dict[str, list[Case]]) -> set[str]:
    return {case.id for case in every_case(cases) if answers_differ(case)}


def test_the_unbroken_spec_answers_every_case_as_expected(cases: dict[str, list[Case]]) -> None:
    assert differing(cases) == set()


QUORUM_KILLS = {
    f"replica/quorum/{group}.{name}"
    for group in ("n5", "n6")
    for name in (
        "prepares-and-commits-on-a-quorum", "checkpoint-stable-on-a-quorum", "new-view-on-a-quorum",
        "primary-sends-new-view-on-a-quorum", "caught-up-on-a-quorum-certificate",
    )
}


def test_control_quorum_2f_plus_1_is_caught_where_it_is_no_quorum(
    cases: dict[str, list[Case]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node whose quorum is 2f + 1: every quorum rule of N = 5 and 6 gives it away;
    on N = 4 and 7, where 2f + 1 is the quorum, nothing does."""
    monkeypatch.setattr(pbft, "quorum_size", lambda n, f: 2 * f + 1)
    assert differing(cases) == QUORUM_KILLS


def test_control_f_fixed_at_1_is_caught_on_seven_replicas(
    cases: dict[str, list[Case]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that takes f = 1 whatever N: on N = 7 its quorum happens to be right, but
    it joins a view and learns of a checkpoint on 2 votes, not f + 1 = 3."""
    monkeypatch.setattr(pbft, "fault_tolerance", lambda n: 1)
    assert differing(cases) == {
        "replica/quorum/n7.checkpoint-stable-on-a-quorum", "replica/quorum/n7.joins-a-view-on-f-plus-1",
    }


def test_control_prepare_without_validation_is_caught(
    cases: dict[str, list[Case]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that prepares any proposal without checking it against its ledger."""
    monkeypatch.setattr(pbft, "proposal_refusal", lambda config, state, pre_prepare: None)
    assert {
        "replica/refusals/block_height_mismatch.header-of-height-2-under-height-1",
        "replica/refusals/block_invalid.wrong-previous-hash",
        "replica/refusals/digest_mismatch.digest-not-the-blocks",
        "replica/refusals/timestamp_ahead_of_clock.block-stamped-beyond-the-skew",
    } <= differing(cases)


# --- trace cases are the traces --------------------------------------------------------------------------------
def recorded_outputs(document: TraceDocument) -> dict[int, list[Any]]:
    """Per correct replica, the outputs the trace recorded for each of its inputs."""
    outputs: dict[int, list[Any]] = {}
    for replica_id, start in document["initial"]["replicas"].items():
        outputs[int(replica_id)] = [item["outputs"] for item in start["inputs"]]
    for row in document["steps"]:
        for item in row.get("inputs", []):
            outputs[row["replica"]].append(item["outputs"])
    return outputs


def untraced(cases: list[Case], document: TraceDocument) -> list[str]:
    """The cases whose expected outputs, step by step, are not those the trace recorded."""
    recorded = recorded_outputs(document)
    wrong = []
    for case in cases:
        outputs = [step["expected"]["readable_outputs"] for step in case.data["steps"]]
        if outputs != recorded[case.data["init"]["replica"]]:
            wrong.append(case.name)
    return wrong


def test_a_trace_case_steps_on_the_traced_inputs_and_sends_the_traced_outputs() -> None:
    for stem, document in recorded_witness_traces():
        assert untraced(trace_cases("witnesses", stem, document, config_seeds(WITNESS_CONFIGS / f"{stem}.toml")),
                        document) == [], stem
    for name, document in checker_traces("paths"):
        assert untraced(trace_cases("paths", name, document, config_seeds(PATH_CONFIG)), document) == [], name


def test_control_a_replica_that_misses_a_traced_input_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases made without each replica's first delivered message no longer send what the trace did."""
    real: Callable[[TraceDocument], dict[int, list[Any]]] = replica_vectors.replica_inputs

    def without_first_message(document: TraceDocument) -> dict[int, list[Any]]:
        inputs = real(document)
        return {replica_id: dropped_first_message(events) for replica_id, events in inputs.items()}

    monkeypatch.setattr(replica_vectors, "replica_inputs", without_first_message)
    document = recorded_trace("block_commits")
    made = trace_cases("witnesses", "block_commits", document, config_seeds(WITNESS_CONFIGS / "block_commits.toml"))
    assert untraced(made, document) == [case.name for case in made]


def dropped_first_message(events: list[Any]) -> list[Any]:
    from spec.wire.messages import ClientRequest, TimerFired

    index = next(i for i, event in enumerate(events) if not isinstance(event, (ClientRequest, TimerFired)))
    return events[:index] + events[index + 1 :]


def test_only_traces_made_with_the_quorum_rule_become_cases() -> None:
    assert all(follows_the_quorum_rule(document) for _, document in recorded_witness_traces())
    assert not follows_the_quorum_rule(recorded_trace("quorum_2f1_n5f1")), "a control with quorum 2f + 1"


# --- generation is byte-stable -----------------------------------------------------------------------------------
def walks_under(hash_seed: str) -> str:
    """The `paths` walks as a child process under `hash_seed` prints them."""
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "conformance.replica_vectors", "paths"]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True).stdout


def test_paths_are_made_under_the_checkers_hash_seed_whatever_this_process_runs_under(
    cases: dict[str, list[Case]],
) -> None:
    """The walks choose among successors whose order follows string hashes: made under
    another seed they differ (the control), so they are always made under CHECK_HASH_SEED."""
    made = json.loads(walks_under(CHECK_HASH_SEED))
    assert [[name, document] for name, document in checker_traces("paths")] == made
    assert json.loads(walks_under("1")) != made
    assert case_files(path_cases()) == case_files(cases["paths"])


def test_the_hand_written_cases_are_the_same_bytes_each_time(cases: dict[str, list[Case]]) -> None:
    assert case_files(refusal_cases() + quorum_cases() + regression_cases()) == case_files(
        cases["refusals"] + cases["quorum"] + cases["regressions"])


# --- the regressions catch the reference node's variants the other cases miss ---------------------------------------
REGRESSION_KILLS = {
    "new_view_first_certificate_wins": {
        "replica/regressions/new_view_reproposes_the_highest_view_certificate",
        "replica/regressions/new_view_with_the_highest_view_certificate_is_taken",
    },
    "batch_fills_past_large_request": {
        "replica/regressions/primary_batches_whole_requests_up_to_the_first_that_does_not_fit",
    },
}
"""The reference node's variants (reference/variants.py) that only the differential tests
caught before the `regressions` handler, and the regression cases that fail each."""
REFERENCE_NODE = f"{shlex.quote(sys.executable)} -m reference.adapter"


def failing_case_ids(command: str, cases: list[Case]) -> set[str]:
    from conformance.runners import RUNNERS

    return {result.case_id for result in run_cases(RUNNERS, command, cases, stop_on_failure=False)
            if result.verdict != Verdict.PASS}


@pytest.mark.parametrize("command", [SPEC_NODE, REFERENCE_NODE], ids=["spec-node", "reference-node"])
def test_the_spec_and_reference_nodes_pass_every_regression(cases: dict[str, list[Case]], command: str) -> None:
    assert failing_case_ids(command, cases["regressions"]) == set()


@pytest.mark.parametrize("variant", sorted(REGRESSION_KILLS))
def test_control_the_regressions_catch_variant(cases: dict[str, list[Case]], variant: str) -> None:
    """Negative controls: the reference node with one deliberate bug, through its adapter,
    fails the regression written for that bug, and no other."""
    assert failing_case_ids(f"{REFERENCE_NODE} --variant {variant}", cases["regressions"]) == REGRESSION_KILLS[variant]


def test_control_a_regression_that_no_longer_shows_its_point_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec whose primary fills its block past a request that does not fit: the batching
    case would expect the bug, and generation refuses it rather than write it."""
    def fills_past(config: pbft.ConsensusConfig, requests: Any) -> tuple[Any, ...]:
        transactions: list[Any] = []
        for request in requests:
            if len(transactions) + len(request) <= config.max_block_transactions:
                transactions.extend(request)
        return tuple(transactions)

    monkeypatch.setattr(pbft, "block_transactions", fills_past)
    with pytest.raises(AssertionError, match="primary_batches_whole_requests.*do not show"):
        regression_cases()


def test_control_the_spec_that_asked_an_empty_request_whether_it_was_executed_crashes_on_its_case(
    cases: dict[str, list[Case]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec before the fix: whether a request is executed was asked before its shape,
    and read the first transaction of an empty request."""
    real = pbft.client_request_refusal

    def executed_first(config: pbft.ConsensusConfig, state: pbft.ReplicaState, request: Any) -> Refusal | None:
        if pbft.request_is_executed(state, request):
            return Refusal.REQUEST_ALREADY_EXECUTED
        return real(config, state, request)

    monkeypatch.setattr(pbft, "client_request_refusal", executed_first)
    case = next(case for case in cases["regressions"] if case.name == "empty_request_after_the_first_block_is_malformed")
    with pytest.raises(IndexError):
        answers_differ(case)

