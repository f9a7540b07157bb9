"""The `encoding` runner: the spec node passes every case through the real adapter
process, and nodes with one encoding bug each fail the cases that should catch it.

The cases are written to disk and read back first, as the suite ships them, so the
runner is tested on what a node's team gets. The negative controls run the spec
node in-process (`conformance.suite.IN_PROCESS`: the same `spec_node.answer_body` the process serves) with one
function swapped: an encoder, a decoder's failure name, a state root, or a case's
expected side corrupted by hand.
"""

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import adapter_base
from conformance.cases import Case, case_files, load_cases
from conformance.node import Verdict
from conformance.runners import encoding
from conformance.suite import IN_PROCESS, Nodes, play, run_cases
from spec.wire.encoding import transaction_bytes
from spec.wire.message_encoding import block_bytes
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root

SPEC_NODE = "python3 -m conformance.spec_node"
HANDLERS = ("transaction", "header", "block", "consensus_message", "decode", "envelope", "malformed", "state_root")


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return encoding.generate()


def written_and_read_back(cases: list[Case], root: Path) -> list[Case]:
    for path, text in case_files(cases).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return load_cases(root)


def test_every_handler_has_cases_and_every_case_a_unique_id(cases: list[Case]) -> None:
    counts = Counter(case.handler for case in cases)
    assert set(counts) == set(HANDLERS)
    assert counts["transaction"] == 7 and counts["consensus_message"] == 8 and counts["envelope"] == 8
    assert len({case.id for case in cases}) == len(cases)


def test_the_spec_node_passes_every_case_through_the_adapter(cases: list[Case], tmp_path: Path) -> None:
    shipped = written_and_read_back(cases, tmp_path)
    assert [case.id for case in shipped] == sorted(case.id for case in cases)
    results = list(run_cases({encoding.NAME: encoding}, SPEC_NODE, shipped, stop_on_failure=False))
    failed = [(result.case_id, result.differences, result.log[-500:]) for result in results if result.verdict != Verdict.PASS]
    assert failed == []
    assert len(results) == len(cases)


# --- negative controls, in process ---------------------------------------------------------------------
def failing_ids(cases: list[Case]) -> set[str]:
    """The cases the spec node, played in this process, does not pass, whatever the verdict."""
    nodes = Nodes(IN_PROCESS)
    return {case.id for case in cases if play(encoding, nodes, case).verdict != Verdict.PASS}


def ids_of(cases: list[Case], what: str) -> set[str]:
    """The round-trip cases of one kind of object (`what`): its own handler's and its decode cases."""
    return {case.id for case in cases if case.data.get("what") == what and case.handler != "malformed"}


def test_the_in_process_spec_node_passes_too(cases: list[Case]) -> None:
    """Without this, a control below could fail for a reason of its own."""
    assert failing_ids(cases) == set()


def test_an_encoder_that_drops_a_transaction_signature_byte_fails_every_transaction_case(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_base, "transaction_bytes", lambda tx: transaction_bytes(tx)[:-1])
    assert failing_ids(cases) == ids_of(cases, "transaction")
    assert {"transaction", "decode"} == {case.handler for case in cases if case.id in ids_of(cases, "transaction")}


def test_a_block_encoder_that_drops_the_last_byte_fails_every_block_case(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter_base, "block_bytes", lambda block: block_bytes(block)[:-1])
    assert failing_ids(cases) == ids_of(cases, "block")


def test_a_decoder_that_names_the_wrong_failure_fails_the_malformed_cases(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRAILING_BYTES reported as TRUNCATED: exactly the cases of TRAILING_BYTES fail."""
    real = adapter_base.on_decode

    def confused(body: dict[str, Any]) -> dict[str, Any]:
        answer = real(body)
        if answer["failure"] == "TRAILING_BYTES":
            answer["failure"] = "TRUNCATED"
        return answer

    monkeypatch.setitem(adapter_base.WIRE_REQUESTS, "decode", confused)
    trailing = {case.id for case in cases if case.handler == "malformed" and case.data["failure"] == "TRAILING_BYTES"}
    assert trailing
    assert failing_ids(cases) == trailing


def test_a_state_root_that_leaves_out_the_reputations_fails_the_states_that_have_some(
    cases: list[Case], monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_reputations(state: LedgerState) -> str:
        stripped = copy.copy(state)
        stripped.reputations = {}
        return state_root(stripped)

    monkeypatch.setattr(adapter_base, "state_root", without_reputations)
    with_reputations = {case.id for case in cases if case.handler == "state_root" and case.data["state"]["reputations"]}
    assert with_reputations
    assert failing_ids(cases) == with_reputations


def corrupted(case: Case) -> Iterator[Case]:
    """The case with its expected side changed by hand, one field at a time."""
    fields = {"malformed": ("failure",), "state_root": ("state_root",)}.get(case.handler, ("hex", "json"))
    for field in fields:
        data = copy.deepcopy(case.data)
        if field == "json":
            first = next(iter(data["json"]))
            data["json"][first] = "changed"
        elif field == "failure":
            data["failure"] = "UNKNOWN_DOMAIN_TAG" if data["failure"] != "UNKNOWN_DOMAIN_TAG" else "TRUNCATED"
        else:
            data[field] = ("00" if data[field][:2] != "00" else "01") + data[field][2:]
        yield Case(case.runner, case.handler, case.name, case.description, data)


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_hand_corrupted_expected_side_fails(cases: list[Case], handler: str) -> None:
    case = next(case for case in cases if case.handler == handler)
    broken = list(corrupted(case))
    assert broken
    assert failing_ids(broken) == {case.id}, [b.data for b in broken]
