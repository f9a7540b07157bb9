"""The node's HTTP API (reference/node/api.py) against `FakeHandle`: the reference ledger, a block per request.

Each endpoint, each class of error, idempotent resubmission, the metrics' text format,
the OpenAPI schema, and schemathesis fuzzing from that schema (no server error), with
its negative control: a handle that raises is caught by the same fuzzing.
"""

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from node_api_fake import FakeHandle, fuzz_api
from prometheus_client.parser import text_string_to_metric_families

from conformance.ledger_builders import ALICE, BOB, GENESIS, THOR, lock, pair
from reference.node import api
from reference.node.api import MAX_BODY_BYTES, api_server, make_app, openapi_schema, write_openapi
from reference.node.handle import NodeBusy, Request, SubmitOutcome
from spec.wire.encoding import transaction_hash
from spec.wire.json_form import from_json, to_json
from spec.wire.records import Account, Task, TransactionReceipt, Transfer
from spec.wire.types import Block

FUZZ_SEED = 14
FUZZ_EXAMPLES = 5
"""Requests drawn per operation and generation mode in the test (benchmarks/api_fuzz.py runs more)."""


@pytest.fixture
def fake() -> FakeHandle:
    return FakeHandle(GENESIS)


@pytest.fixture
def client(fake: FakeHandle) -> TestClient:
    return TestClient(make_app(fake))


def request_body(*transactions: object) -> dict[str, object]:
    return {"transactions": [to_json(tx) for tx in transactions]}


def require_error(response: httpx.Response, status: int, error: str, path: str | None = None, reason: str | None = None
                  ) -> dict[str, object]:
    """The response is the ErrorBody asked for, and carries no traceback."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "path", "reason"}
    assert body["error"] == error
    assert body["message"] and "Traceback" not in response.text
    if path is not None:
        assert body["path"] == path, body
    if reason is not None:
        assert body["reason"] == reason, body
    return dict(body)


# --- submitting ----------------------------------------------------------------------------------------------
def test_a_valid_request_commits_with_its_receipt(client: TestClient, fake: FakeHandle) -> None:
    transaction = lock()
    response = client.post("/transactions", json=request_body(transaction))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "committed"
    assert answer["transaction_hashes"] == [transaction_hash(transaction).hex()]
    assert answer["height"] == 1 and answer["block_hash"] == fake.receipts[answer["transaction_hashes"][0]].block_hash
    receipt = from_json(TransactionReceipt, answer["receipts"][0])
    assert receipt.code == "ok" and receipt.type == "ATP_TRANSFER_LOCK"
    assert answer["refusal"] is None and answer["invalid_code"] is None


def test_resubmission_is_idempotent(client: TestClient, fake: FakeHandle) -> None:
    body = request_body(*pair())
    first = client.post("/transactions", json=body)
    root_after_first = fake.state_root()
    again = client.post("/transactions", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(fake.blocks) == 1 and fake.state_root() == root_after_first
    assert fake.submitted == 2


def test_an_invalid_signature_is_refused_with_its_result_code(client: TestClient, fake: FakeHandle) -> None:
    forged = lock(signer="Sprout")  # Thor's agent, signed by another platform
    response = client.post("/transactions", json=request_body(forged))
    assert response.status_code == 422
    answer = response.json()
    assert answer["status"] == "refused"
    assert answer["refusal"] == "request_transaction_invalid"
    assert (answer["invalid_index"], answer["invalid_code"]) == (0, "signature_invalid")
    assert fake.blocks == []
    assert client.post("/transactions", json=request_body(forged)).json() == answer


def test_a_request_of_the_wrong_shape_is_refused_as_malformed(client: TestClient) -> None:
    response = client.post("/transactions", json=request_body(lock("a"), lock("b")))
    assert response.status_code == 422
    assert response.json()["refusal"] == "request_malformed"


def test_a_batch_answers_each_request_in_order(client: TestClient, fake: FakeHandle) -> None:
    good, forged = lock("t2"), lock("t3", signer="Sprout")
    body = {"requests": [request_body(good), request_body(forged), request_body(good)]}
    response = client.post("/transactions/batch", json=body)
    assert response.status_code == 200
    answers = response.json()["answers"]
    assert [answer["status"] for answer in answers] == ["committed", "refused", "committed"]
    assert answers[0] == answers[2]
    assert answers[1]["invalid_code"] == "signature_invalid"
    assert len(fake.blocks) == 1


# --- reading --------------------------------------------------------------------------------------------------
def test_the_reads_answer_the_committed_state(client: TestClient, fake: FakeHandle) -> None:
    task, task_lock = pair()
    client.post("/transactions", json=request_body(task, task_lock))
    account = from_json(Account, client.get(f"/accounts/{ALICE}").json())
    assert account == fake.ledger.accounts[ALICE] and account.locked == task_lock.amount
    assert from_json(Transfer, client.get(f"/transfers/{task.task_id}").json()) == fake.ledger.transfers[task.task_id]
    assert from_json(Task, client.get(f"/tasks/{task.task_id}").json()) == fake.ledger.tasks[task.task_id]
    block = client.get("/blocks/1").json()
    assert from_json(Block, block["block"]) == fake.blocks[0] and block["height"] == 1
    digest = transaction_hash(task_lock).hex()
    receipt = client.get(f"/receipts/{digest}").json()
    assert receipt["transaction_hash"] == digest and receipt["height"] == 1
    assert from_json(TransactionReceipt, receipt["receipt"]) == fake.receipts[digest].receipt
    assert client.get("/state-root").json() == {"height": 1, "state_root": fake.ledger.state_root()}
    status = client.get("/status").json()
    assert status == {"replica": 0, "platform": THOR, "view": 0, "view_active": True, "height": 1, "peers": []}


@pytest.mark.parametrize("url", [
    f"/accounts/{BOB}x", "/transfers/nothing", "/tasks/nothing", "/blocks/1", f"/receipts/{'ab' * 32}",
])
def test_what_is_not_there_is_404(client: TestClient, url: str) -> None:
    require_error(client.get(url), 404, "not_found")


# --- malformed requests ---------------------------------------------------------------------------------------
def test_malformed_json_is_400(client: TestClient) -> None:
    require_error(client.post("/transactions", content=b'{"transactions": ['), 400, "malformed_request", "body",
                  "not_json")
    require_error(client.post("/transactions", content=b"\xff\xfe"), 400, "malformed_request", "body", "not_utf8")
    require_error(client.post("/transactions", content=b'{"transactions": [], "transactions": []}'), 400,
                  "malformed_request", "body", "duplicate_key")
    require_error(client.post("/transactions", content=b'{"transactions": [NaN]}'), 400, "malformed_request",
                  "body", "not_json")
    require_error(client.post("/transactions", content=b"[" * 100_000 + b"]" * 100_000), 400, "malformed_request",
                  "body", "too_deep")


def deep_answers(client: TestClient) -> list[tuple[int, int, str | None]]:
    """(depth, status, reason) for a transaction whose amount nests arrays `depth` deep, at each small depth
    and at each depth around Python's recursion limit."""
    template = json.dumps({"transactions": [dict(to_json(lock()), amount="NESTED")]})
    limit = sys.getrecursionlimit()
    answers = []
    for depth in [*range(1, 40), *range(limit - 150, limit + 100)]:
        response = client.post("/transactions", content=template.replace('"NESTED"', "[" * depth + "]" * depth))
        answers.append((depth, response.status_code, response.json()["reason"]))
    return answers


def test_deep_nesting_is_400_at_every_depth(client: TestClient) -> None:
    for depth, status, reason in deep_answers(client):
        expected = "too_deep" if depth + 3 > api.MAX_JSON_DEPTH else "invalid_wire_value"  # the amount is 3 deep
        assert (status, reason) == (400, expected), depth
    require_error(client.post("/transactions", content=b"null"), 400, "malformed_request", "body", "wrong_type")


def test_without_the_depth_bound_a_depth_near_the_limit_is_a_500(client: TestClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative control: a depth JSON's parser accepts makes reading the form recurse past the limit."""
    monkeypatch.setattr(api, "MAX_JSON_DEPTH", 10**9)
    assert any(status == 500 for _depth, status, _reason in deep_answers(client))


def test_a_huge_integer_is_400_not_a_fault(client: TestClient) -> None:
    """Python refuses to convert an integer of over 4300 digits with a ValueError: once a 500."""
    for digits in (21, 5_000):
        body = b'{"transactions": [' + b"9" * digits + b"]}"
        require_error(client.post("/transactions", content=body), 400, "malformed_request", "body", "out_of_range")
    maximum = to_json(lock(amount=1))
    maximum["amount"] = 2**64 - 1  # 20 digits: read, then refused by the ledger's static bound, not the parser
    answer = client.post("/transactions", json={"transactions": [maximum]}).json()
    assert answer["invalid_code"] in {"amount_exceeds_maximum", "signature_invalid"}


def test_a_lone_surrogate_is_answered_in_escaped_form(client: TestClient) -> None:
    """`"\\ud800"` is valid JSON but no UTF-8: an error naming it was once a 500 when its answer was encoded."""
    body = require_error(client.post("/transactions", content=b'{"transactions": [], "\\ud800": 1}'), 400,
                         "malformed_request", reason="unknown_key")
    assert body["path"] == "body.\ud800"


def test_a_body_of_the_wrong_shape_names_the_field(client: TestClient) -> None:
    require_error(client.post("/transactions", json=[]), 400, "malformed_request", "body", "wrong_type")
    require_error(client.post("/transactions", json={}), 400, "malformed_request", "body.transactions", "missing_key")
    require_error(client.post("/transactions", json={"transactions": [], "extra": 1}), 400, "malformed_request",
                  "body.extra", "unknown_key")
    require_error(client.post("/transactions", json={"transactions": {}}), 400, "malformed_request",
                  "body.transactions", "wrong_type")
    require_error(client.post("/transactions/batch", json={"requests": []}), 400, "malformed_request",
                  "body.requests", "batch_size")


def test_a_wrong_type_names_the_field(client: TestClient) -> None:
    transaction = to_json(lock())
    transaction["amount"] = str(transaction["amount"])
    body = require_error(client.post("/transactions", json={"transactions": [transaction]}), 400,
                         "malformed_request", "body.transactions[0].amount", "invalid_wire_value")
    assert "integer" in str(body["message"])


def test_an_unknown_transaction_type_is_400(client: TestClient) -> None:
    transaction = to_json(lock())
    transaction["type"] = "ATP_TRANSFER_STEAL"
    body = require_error(client.post("/transactions", json={"transactions": [transaction]}), 400,
                         "malformed_request", reason="invalid_wire_value")
    assert str(body["path"]).startswith("body.transactions[0]") and "ATP_TRANSFER_STEAL" in str(body["message"])


def test_bad_hex_is_400(client: TestClient) -> None:
    transaction = to_json(lock())
    transaction["signature"] = "zz" + transaction["signature"][2:]
    require_error(client.post("/transactions", json={"transactions": [transaction]}), 400, "malformed_request",
                  "body.transactions[0].signature", "invalid_wire_value")
    require_error(client.get("/receipts/" + "AB" * 32), 400, "malformed_request", "path.transaction_hash",
                  "invalid_parameter")
    require_error(client.get("/receipts/abc"), 400, "malformed_request", "path.transaction_hash", "invalid_parameter")


@pytest.mark.parametrize("url, where", [
    ("/blocks/0", "path.height"), ("/blocks/one", "path.height"), (f"/blocks/{2 ** 64}", "path.height"),
    ("/accounts/alice", "path.agent"), ("/transfers/" + "x" * 65, "path.transfer_id"),
])
def test_a_bad_parameter_is_400(client: TestClient, url: str, where: str) -> None:
    require_error(client.get(url), 400, "malformed_request", where, "invalid_parameter")


def test_a_huge_body_is_413_declared_or_streamed(client: TestClient) -> None:
    huge = b" " * (MAX_BODY_BYTES + 1)
    require_error(client.post("/transactions", content=huge), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 65_536 + 1):
            yield b" " * 65_536

    require_error(client.post("/transactions", content=chunks()), 413, "body_too_large")


def test_routes_methods_and_media_types(client: TestClient) -> None:
    require_error(client.get("/nowhere"), 404, "not_found")
    require_error(client.get("/transactions"), 405, "method_not_allowed")
    require_error(client.post("/transactions", content=b"x", headers={"content-type": "text/plain"}), 415,
                  "unsupported_media_type")


class BusyHandle(FakeHandle):
    async def submit(self, requests: Sequence[Request]) -> list[SubmitOutcome]:
        raise NodeBusy("4096 requests pending")


def test_a_busy_node_answers_503_with_retry_after() -> None:
    client = TestClient(make_app(BusyHandle(GENESIS)))
    response = client.post("/transactions", json=request_body(lock()))
    require_error(response, 503, "node_busy")
    assert response.headers["retry-after"] == "1" and "4096 requests pending" in response.json()["message"]


class FaultyHandle(FakeHandle):
    """A handle with a bug: reading an account raises."""

    def account(self, agent: str) -> Account | None:
        raise RuntimeError("deliberate fault: the account table is gone")


def test_an_internal_fault_is_a_plain_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app(FaultyHandle(GENESIS)))
    with caplog.at_level(logging.ERROR, logger="reference.node.api"):
        response = client.get(f"/accounts/{ALICE}")
    body = require_error(response, 500, "internal_error")
    assert "deliberate fault" not in response.text and "RuntimeError" not in response.text
    assert "deliberate fault" in caplog.text and body["path"] is None


# --- metrics and schema ---------------------------------------------------------------------------------------
def test_metrics_are_prometheus_text(client: TestClient, fake: FakeHandle) -> None:
    client.post("/transactions", json=request_body(lock()))
    fake.node_metrics.count_dropped_frame("frame_too_large")
    fake.node_metrics.count_dropped_frame("frame_too_large")
    fake.node_metrics.observe_phase("commit", 0.003)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert {"fedspec_committed_height", "fedspec_view", "fedspec_view_changes", "fedspec_dropped_frames",
            "fedspec_phase_seconds"} <= set(families)
    assert families["fedspec_committed_height"].samples[0].value == 1
    dropped = [s for s in families["fedspec_dropped_frames"].samples if s.name == "fedspec_dropped_frames_total"]
    assert [(s.labels, s.value) for s in dropped] == [({"reason": "frame_too_large"}, 2.0)]
    commit_count = [s for s in families["fedspec_phase_seconds"].samples
                    if s.name == "fedspec_phase_seconds_count" and s.labels == {"phase": "commit"}]
    assert commit_count[0].value == 1
    assert families["fedspec_phase_seconds"].type == "histogram"


def test_an_unknown_phase_is_refused(fake: FakeHandle) -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        fake.node_metrics.observe_phase("lunch", 1.0)


def test_the_openapi_schema_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    write_openapi(target)
    schema = json.loads(target.read_text())
    assert schema == json.loads(json.dumps(openapi_schema()))
    assert set(schema["paths"]) == {
        "/transactions", "/transactions/batch", "/accounts/{agent}", "/transfers/{transfer_id}", "/tasks/{task_id}",
        "/blocks/{height}", "/receipts/{transaction_hash}", "/state-root", "/status", "/metrics",
    }
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text
    components = schema["components"]["schemas"]
    references = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert references <= set(components), references - set(components)


# --- fuzzing --------------------------------------------------------------------------------------------------
def test_fuzzing_from_the_schema_finds_no_server_error() -> None:
    figures = fuzz_api(make_app(FakeHandle(GENESIS)), FUZZ_SEED, FUZZ_EXAMPLES)
    assert figures.requests >= 50, figures
    assert figures.server_errors == [], f"seed {FUZZ_SEED}: {figures.server_errors}"


def test_fuzzing_catches_an_endpoint_that_raises() -> None:
    figures = fuzz_api(make_app(FaultyHandle(GENESIS)), FUZZ_SEED, FUZZ_EXAMPLES)
    assert any(error.startswith("GET /accounts/{agent} -> 500") for error in figures.server_errors), figures


# --- served by uvicorn ----------------------------------------------------------------------------------------
HANG_GUARD_SECONDS = 20.0
"""Only against a hang: the server starts and answers in milliseconds."""


def test_uvicorn_serves_the_api_on_the_loopback() -> None:
    async def serve_and_ask() -> tuple[int, dict[str, object], int, object]:
        server = api_server(FakeHandle(GENESIS), "127.0.0.1", 0)
        serving = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(HANG_GUARD_SECONDS):
                while not server.started:
                    await asyncio.sleep(0.01)
                port = server.servers[0].sockets[0].getsockname()[1]
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    submitted = await http.post("/transactions", json=request_body(lock()))
                    status = await http.get("/status")
                handler_while_serving = signal.getsignal(signal.SIGTERM)
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, HANG_GUARD_SECONDS)
        return submitted.status_code, status.json(), port, handler_while_serving

    handler_before = signal.getsignal(signal.SIGTERM)
    submitted, status, port, handler_while_serving = asyncio.run(serve_and_ask())
    assert port > 0 and submitted == 200 and status["height"] == 1
    assert handler_while_serving == handler_before, "uvicorn took over SIGTERM: the node process owns it"
