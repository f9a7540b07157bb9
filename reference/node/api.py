"""The node's HTTP API: `make_app(handle)`, a FastAPI app that uvicorn serves inside the node process.

    POST /transactions            one client request: {"transactions": [tx]} or [FEDERATION_TASK, its lock]
    POST /transactions/batch      {"requests": [{"transactions": [...]}, ...]}: one answer per request
    GET  /accounts/{agent}  /transfers/{transfer_id}  /tasks/{task_id}  /blocks/{height}
    GET  /receipts/{transaction_hash}  /state-root  /status  /metrics
    python3 -m reference.node.api --openapi FILE      writes the OpenAPI schema

Every JSON value in or out is the project's one JSON form (`spec.wire.json_form`):
bodies are read as bytes and parsed here, never by FastAPI's models, so a transaction
has the same form over HTTP as in a trace or a conformance vector. The OpenAPI schema
describes those forms (derived from the same types) so that clients and fuzzers know them.
Reading is as strict as the forms: integers are JSON integers (`1.0` is not one, though
JSON Schema allows it), no key twice, no NaN; and bounded: a body of at most 4 MiB, nested
at most 16 deep, integers of at most 20 digits.

Answers to a submitted request (`reference.node.handle`): 202 `accepted`, 200
`committed` with its receipts, 422 `refused` with the refusal's name and, for an
invalid transaction, its index and result code. A batch answers 200 with each
request's answer. Resubmitting is idempotent: the handle answers a request as it stands.

Errors are one JSON object, `{"error", "message", "path", "reason"}` (`ErrorBody`):
400 `malformed_request` (not JSON, not the JSON form: `path` names the field, `reason`
why), 404 `not_found`, 405 `method_not_allowed`, 413 `body_too_large`, 415
`unsupported_media_type`, 503 `node_busy` (the node takes no more requests for now:
retry after Retry-After), and 500 `internal_error` for a fault of the node itself,
whose detail goes to the log, never to the client. No traceback ever leaves.

Endpoints are `async def` on purpose: they run on the node's event loop, between
its steps, so a read sees one committed state (a plain `def` would run in a worker
thread, beside the replica).
"""

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path as FilePath
from typing import Any, cast

import uvicorn
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from reference.node.handle import (
    CommittedReceipt,
    NodeBusy,
    NodeHandle,
    NodeStatus,
    StateRootAt,
    SubmitOutcome,
    SubmitStatus,
)
from reference.node.handle import Request as ClientRequest
from reference.node.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from spec.constants import AGENT_PATTERN, HASH_PATTERN, ID_PATTERN, MAX_BLOCK_TRANSACTIONS, MAX_UINT64
from spec.wire.encoding import block_hash, transaction_hash
from spec.wire.json_form import JsonFormError, JsonValue, read_value, require_array, require_object, to_json
from spec.wire.records import Account, Task, TransactionReceipt, Transfer
from spec.wire.types import AnyTransaction, Block, Transaction

LOG = logging.getLogger("reference.node.api")

MAX_BODY_BYTES = 4 * 1024 * 1024
"""The largest request body read, in bytes: a full batch of task pairs (about 1.2 MB of JSON) with room."""
MAX_BATCH_REQUESTS = MAX_BLOCK_TRANSACTIONS
"""The most requests one batch carries: a block's worth."""
MAX_JSON_DEPTH = 16
"""The deepest nesting of arrays and objects read: a batch's transactions lie 4 deep. Deeper bodies are refused
before they are read as forms, whose reading recurses (Python's own limit would be a fault, not an answer)."""
MAX_INTEGER_DIGITS = len(str(MAX_UINT64))
"""The most digits of a JSON integer read: no field holds more than a u64's 20 (Python's own conversion limit,
4300 digits, would be a fault, not an answer)."""
JSON_MEDIA_TYPE = "application/json"
API_VERSION = "1"

MAX_HTTP_CONNECTIONS = 256
"""Connections and requests in progress at once; beyond them uvicorn answers 503 at once (overload, not a fault)."""
KEEP_ALIVE_SECONDS = 5
"""An idle keep-alive connection is closed after this many seconds."""
MAX_HEADER_BYTES = 64 * 1024
"""The most bytes of a request's line and headers buffered before the connection is refused."""

BUSY_RETRY_AFTER_SECONDS = 1
"""Retry-After of a 503 `node_busy`: a block's time, about."""

ANSWER_STATUS = {SubmitStatus.ACCEPTED: 202, SubmitStatus.COMMITTED: 200, SubmitStatus.REFUSED: 422}
"""The HTTP status of a single request's answer."""


class ApiError(Exception):
    """A request the API refuses before the node sees it: the HTTP status and the `ErrorBody` fields."""

    def __init__(self, status: int, error: str, message: str, path: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.path, self.reason = status, error, message, path, reason


class AsciiJSONResponse(JSONResponse):
    """JSON written in ASCII: a string read from a request (a key named in an error's path) may hold a lone
    surrogate (`\\ud800` is valid JSON), which UTF-8 cannot encode; escaped, it is written as it came."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(status: int, error: str, message: str, path: str | None = None, reason: str | None = None
                   ) -> JSONResponse:
    return AsciiJSONResponse({"error": error, "message": message, "path": path, "reason": reason}, status_code=status)


# --- reading a body ---------------------------------------------------------------------------------------
async def body_bytes(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed MAX_BODY_BYTES (by its declared length, or
    while it streams in), and with 415 if it is declared as something other than JSON."""
    media_type = request.headers.get("content-type", JSON_MEDIA_TYPE).split(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise ApiError(415, "unsupported_media_type", f"the body must be {JSON_MEDIA_TYPE}, not {media_type!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body is {declared} bytes; at most {MAX_BODY_BYTES} are read")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "malformed_request", "the connection closed before the body ended", "body",
                       "incomplete") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> JsonValue:
    """Strict JSON text: UTF-8, no NaN or Infinity, no repeated key in an object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "malformed_request", f"the body is not UTF-8: byte {error.start}", "body",
                       "not_utf8") from None
    try:
        data = json.loads(text, parse_constant=refuse_constant, parse_int=bounded_integer, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as error:
        raise ApiError(400, "malformed_request", f"the body is not JSON: {error.msg} at line {error.lineno} "
                       f"column {error.colno}", "body", "not_json") from None
    except RecursionError:
        data = TOO_DEEP
    except ValueError as error:  # any other refusal of the text by Python's JSON reader
        raise ApiError(400, "malformed_request", f"the body is not JSON: {error}", "body", "not_json") from None
    if data is TOO_DEEP or nesting_depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, "malformed_request", f"the body nests arrays and objects more than {MAX_JSON_DEPTH} "
                       "deep", "body", "too_deep")
    return data


TOO_DEEP = object()
"""What the body parsed to when JSON's own parser gave up on its depth."""


def nesting_depth(data: JsonValue) -> int:
    """How deep arrays and objects nest in `data` (a scalar: 0), found without recursion."""
    deepest = 0
    stack: list[tuple[JsonValue, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((item, depth) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def bounded_integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ApiError(400, "malformed_request", f"an integer of {len(digits)} characters: no field holds more than "
                       f"{MAX_INTEGER_DIGITS} digits", "body", "out_of_range")
    return int(digits)


def refuse_constant(name: str) -> None:
    raise ApiError(400, "malformed_request", f"{name} is not a JSON number", "body", "not_json")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ApiError(400, "malformed_request", f"the key {key!r} appears twice in an object", "body",
                           "duplicate_key")
        result[key] = value
    return result


def only_key(data: JsonValue, key: str, path: str) -> JsonValue:
    """The value of an object's one key `key` (no other key allowed)."""
    require_object(data, path)
    if key not in data:
        raise ApiError(400, "malformed_request", f"{path} has a {key!r}", f"{path}.{key}", "missing_key")
    for other in data:
        if other != key:
            raise ApiError(400, "malformed_request", f"{path} has no {other!r}", f"{path}.{other}", "unknown_key")
    return data[key]


def read_request(data: JsonValue, path: str) -> ClientRequest:
    """A client request, `{"transactions": [...]}`, each transaction in its JSON form. Its shape (one
    transaction, or a task and its lock) is the replica's to judge: it answers `request_malformed`."""
    transactions = only_key(data, "transactions", path)
    require_array(transactions, f"{path}.transactions")
    return tuple(read_value(AnyTransaction, item, f"{path}.transactions[{index}]", None)
                 for index, item in enumerate(transactions))


def read_batch(data: JsonValue) -> list[ClientRequest]:
    requests = only_key(data, "requests", "body")
    require_array(requests, "body.requests")
    if not 1 <= len(requests) <= MAX_BATCH_REQUESTS:
        raise ApiError(400, "malformed_request", f"a batch carries 1 to {MAX_BATCH_REQUESTS} requests, not "
                       f"{len(requests)}", "body.requests", "batch_size")
    return [read_request(item, f"body.requests[{index}]") for index, item in enumerate(requests)]


# --- writing an answer --------------------------------------------------------------------------------------
def answer_json(request: ClientRequest, outcome: SubmitOutcome) -> JsonValue:
    """A request's answer: its transactions' hashes (to ask for receipts by), then the outcome's JSON form."""
    return {"transaction_hashes": [transaction_hash(tx).hex() for tx in request], **to_json(outcome)}


def found(value: Any, what: str) -> JsonValue:
    if value is None:
        raise ApiError(404, "not_found", f"no {what}")
    return to_json(value)


# --- the app ------------------------------------------------------------------------------------------------
def make_app(handle: NodeHandle) -> FastAPI:
    """The API of the node behind `handle`."""
    app = FastAPI(title="fedspec reference node", version=API_VERSION, description=__doc__,
                  docs_url=None, redoc_url=None, default_response_class=AsciiJSONResponse)
    install_error_handlers(app)
    add_submit_routes(app, handle)
    add_read_routes(app, handle)
    app.openapi = lambda: openapi_schema_of(app)  # type: ignore[method-assign]
    return app


class NodeApiServer(uvicorn.Server):
    """uvicorn's server, minus its signal handlers: the node process owns SIGINT and SIGTERM and stops the API
    itself (`should_exit`), where uvicorn would take them over while it serves."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def api_server(handle: NodeHandle, host: str, port: int) -> NodeApiServer:
    """The uvicorn server of the API, to run on the node's own event loop: `await server.serve()` in a task;
    set `server.should_exit = True` to stop it. No lifespan, no access log (the node logs what matters)."""
    config = uvicorn.Config(
        make_app(handle), host=host, port=port, lifespan="off", access_log=False, log_config=None, http="h11",
        limit_concurrency=MAX_HTTP_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    return NodeApiServer(config)


def add_submit_routes(app: FastAPI, handle: NodeHandle) -> None:
    @app.post("/transactions", summary="Submit one request", openapi_extra=body_schema("SubmitRequest"),
              responses=documented(SUBMIT_RESPONSES))
    async def submit_one(request: Request) -> JSONResponse:
        client_request = read_request(parse_json(await body_bytes(request)), "body")
        (outcome,) = await handle.submit([client_request])
        return AsciiJSONResponse(answer_json(client_request, outcome), status_code=ANSWER_STATUS[outcome.status])

    @app.post("/transactions/batch", summary="Submit a batch of requests", openapi_extra=body_schema("BatchRequest"),
              responses=documented(BATCH_RESPONSES))
    async def submit_batch(request: Request) -> JSONResponse:
        client_requests = read_batch(parse_json(await body_bytes(request)))
        outcomes = await handle.submit(client_requests)
        answers = [answer_json(one, outcome) for one, outcome in zip(client_requests, outcomes, strict=True)]
        return AsciiJSONResponse({"answers": answers})


# A parameter's declaration is made afresh for each route: FastAPI keeps a route's parameter name in it.
def agent_parameter() -> Any:
    return Path(pattern=AGENT_PATTERN, description="An agent id.")


def id_parameter() -> Any:
    return Path(pattern=ID_PATTERN, description="A transfer or task id.")


def hash_parameter() -> Any:
    return Path(pattern=HASH_PATTERN, description="A transaction hash: 64 lowercase hex digits.")


def height_parameter() -> Any:
    return Path(ge=1, le=MAX_UINT64, description="A block height, from 1.")


def add_read_routes(app: FastAPI, handle: NodeHandle) -> None:
    @app.get("/accounts/{agent}", summary="An account", responses=documented(read_responses(Account)))
    async def account(agent: str = agent_parameter()) -> JSONResponse:
        return AsciiJSONResponse(found(handle.account(agent), f"account {agent!r}"))

    @app.get("/transfers/{transfer_id}", summary="A transfer", responses=documented(read_responses(Transfer)))
    async def transfer(transfer_id: str = id_parameter()) -> JSONResponse:
        return AsciiJSONResponse(found(handle.transfer(transfer_id), f"transfer {transfer_id!r}"))

    @app.get("/tasks/{task_id}", summary="A task", responses=documented(read_responses(Task)))
    async def task(task_id: str = id_parameter()) -> JSONResponse:
        return AsciiJSONResponse(found(handle.task(task_id), f"task {task_id!r}"))

    @app.get("/blocks/{height}", summary="A committed block", responses=documented(read_responses("BlockAnswer")))
    async def block(height: int = height_parameter()) -> JSONResponse:
        committed = handle.block(height)
        if committed is None:
            raise ApiError(404, "not_found", f"no committed block at height {height}")
        answer = {"height": height, "block_hash": block_hash(committed.header), "block": to_json(committed)}
        return AsciiJSONResponse(answer)

    @app.get("/receipts/{transaction_hash}", summary="A committed transaction's receipt",
             responses=documented(read_responses(CommittedReceipt)))
    async def receipt(transaction_hash: str = hash_parameter()) -> JSONResponse:
        return AsciiJSONResponse(found(handle.receipt(transaction_hash), f"committed transaction {transaction_hash}"))

    @app.get("/state-root", summary="The state root", responses=documented(read_responses(StateRootAt)))
    async def state_root() -> JSONResponse:
        return AsciiJSONResponse(to_json(handle.state_root()))

    @app.get("/status", summary="The replica's status", responses=documented(read_responses(NodeStatus)))
    async def status() -> JSONResponse:
        return AsciiJSONResponse(to_json(handle.status()))

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={200: {"content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}}}})
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(handle.metrics(), media_type=METRICS_CONTENT_TYPE)


# --- errors -------------------------------------------------------------------------------------------------
HTTP_ERROR_NAMES = {404: "not_found", 405: "method_not_allowed"}
HTTP_ERROR_MESSAGES = {404: "no endpoint {path}", 405: "{path} does not answer {method}"}


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal as an `ErrorBody`; any other exception as a plain 500 (`InternalFaultMiddleware`)."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.error, error.message, error.path, error.reason)

    @app.exception_handler(NodeBusy)
    async def node_busy(_request: Request, error: NodeBusy) -> JSONResponse:
        response = error_response(503, "node_busy", f"the node takes no more requests for now: {error}")
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(JsonFormError)
    async def json_form_error(_request: Request, error: JsonFormError) -> JSONResponse:
        return error_response(400, "malformed_request", str(error), error.path, error.reason.value)

    @app.exception_handler(RequestValidationError)
    async def parameter_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(400, "malformed_request", f"{where}: {first.get('msg', 'invalid')}", where,
                              "invalid_parameter")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        name = HTTP_ERROR_NAMES.get(error.status_code, "http_error")
        message = HTTP_ERROR_MESSAGES.get(error.status_code, str(error.detail))
        return error_response(error.status_code, name, message.format(method=request.method, path=request.url.path))

    app.add_middleware(InternalFaultMiddleware)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
INTERNAL_FAULT_MESSAGE = "the node failed to answer this request; the fault is in its log"


class InternalFaultMiddleware:
    """The last guard: an exception no handler named is logged with its traceback and answered with a
    plain 500, so the client never sees the traceback and the server never stops."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            LOG.exception("internal fault answering %s %s", scope.get("method"), scope.get("path"))
            if scope["type"] != "http" or started:
                return
            response = error_response(500, "internal_error", INTERNAL_FAULT_MESSAGE)
            await response(scope, receive, send)


# --- the OpenAPI schema --------------------------------------------------------------------------------------
REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def kind_schemas() -> dict[str, Any]:
    """The JSON schemas of the JSON forms the API reads and writes, keyed by name."""
    schemas: dict[str, Any] = {}
    adapters: dict[str, TypeAdapter[Any]] = {
        "Transaction": TypeAdapter(Transaction), "Block": TypeAdapter(Block), "Account": TypeAdapter(Account),
        "Transfer": TypeAdapter(Transfer), "Task": TypeAdapter(Task),
        "TransactionReceipt": TypeAdapter(TransactionReceipt), "CommittedReceipt": TypeAdapter(CommittedReceipt),
        "StateRootAt": TypeAdapter(StateRootAt), "NodeStatus": TypeAdapter(NodeStatus),
        "SubmitOutcome": TypeAdapter(SubmitOutcome),
    }
    for name, adapter in adapters.items():
        schema = adapter.json_schema(ref_template=REF, mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    for schema in schemas.values():
        require_transaction_type(schema)
    schemas.update(api_schemas())
    return schemas


def require_transaction_type(schema: dict[str, Any]) -> None:
    """A transaction's `type` has a default in its model, but its JSON form always carries it (the union
    is told apart by it): the schema says so. Integers are JSON integers, never `1.0` (the schema cannot
    say that; the API answers 400 `invalid_wire_value`)."""
    type_field = schema.get("properties", {}).get("type", {})
    if "const" in type_field and "type" not in schema.get("required", []):
        schema["required"] = ["type", *schema.get("required", [])]
        type_field.pop("default", None)


def api_schemas() -> dict[str, Any]:
    """The API's own envelopes around the JSON forms."""
    hash_string = {"type": "string", "pattern": HASH_PATTERN}
    request = {"type": "object", "additionalProperties": False, "required": ["transactions"],
               "properties": {"transactions": {"type": "array", "minItems": 1, "maxItems": 2, "items": ref("Transaction"),
                                               "description": "One transaction, or a FEDERATION_TASK and its lock "
                                               "(another shape is refused: request_malformed)."}}}
    answer = {"allOf": [ref("SubmitOutcome"), {"type": "object", "required": ["transaction_hashes"],
                                               "properties": {"transaction_hashes": {"type": "array",
                                                                                     "items": hash_string}}}]}
    return {
        "SubmitRequest": request,
        "BatchRequest": {"type": "object", "additionalProperties": False, "required": ["requests"],
                         "properties": {"requests": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_REQUESTS,
                                                     "items": ref("SubmitRequest")}}},
        "SubmitAnswer": answer,
        "BatchAnswer": {"type": "object", "required": ["answers"],
                        "properties": {"answers": {"type": "array", "items": ref("SubmitAnswer")}}},
        "BlockAnswer": {"type": "object", "required": ["height", "block_hash", "block"],
                        "properties": {"height": {"type": "integer"}, "block_hash": hash_string,
                                       "block": ref("Block")}},
        "ErrorBody": {"type": "object", "required": ["error", "message", "path", "reason"], "properties": {
            "error": {"type": "string", "description": "The class: malformed_request, not_found, ..."},
            "message": {"type": "string", "description": "What is wrong, in words."},
            "path": {"type": ["string", "null"], "description": "Where in the request (body.transactions[0].amount)."},
            "reason": {"type": ["string", "null"], "description": "Why, by name (wrong_type, missing_key, ...)."}}},
    }


def body_schema(name: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {JSON_MEDIA_TYPE: {"schema": ref(name)}}}}


def json_content(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_MEDIA_TYPE: {"schema": ref(name)}}}


ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("ErrorBody", "Malformed: the body or a parameter is not what the API reads; `path` says where."),
}
BODY_ERRORS: dict[int, tuple[str, str]] = {
    413: ("ErrorBody", f"The body is larger than {MAX_BODY_BYTES} bytes."),
    415: ("ErrorBody", "The body is not application/json."),
    503: ("ErrorBody", "The node takes no more requests for now: retry after Retry-After seconds."),
}
SUBMIT_RESPONSES = {
    200: ("SubmitAnswer", "Committed: the request's receipts (also the answer to resubmitting a committed request)."),
    202: ("SubmitAnswer", "Accepted: the request waits to be ordered."),
    422: ("SubmitAnswer", "Refused: the refusal's name, and an invalid transaction's result code."),
    **ERROR_RESPONSES, **BODY_ERRORS,
}
BATCH_RESPONSES = {200: ("BatchAnswer", "One answer per request, in order."), **ERROR_RESPONSES, **BODY_ERRORS}


def read_responses(kind: type | str) -> dict[int, tuple[str, str]]:
    name = kind if isinstance(kind, str) else kind.__name__
    return {200: (name, "Found."), 404: ("ErrorBody", "Not found."), **ERROR_RESPONSES}


def documented(responses: dict[int, tuple[str, str]]) -> dict[int | str, dict[str, Any]]:
    return {status: json_content(name, description) for status, (name, description) in responses.items()}


def openapi_schema_of(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema of the routes, with the JSON forms' schemas as components and without FastAPI's own
    422 validation answer (this API answers 400 `ErrorBody` instead)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                    del responses["422"]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components.update(kind_schemas())
        app.openapi_schema = schema
    return app.openapi_schema


def openapi_schema() -> dict[str, Any]:
    """The API's OpenAPI schema (building it calls nothing of a handle)."""
    return make_app(cast(NodeHandle, object())).openapi()


def write_openapi(path: FilePath) -> None:
    path.write_text(json.dumps(openapi_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The reference node's HTTP API.")
    parser.add_argument("--openapi", type=FilePath, required=True, metavar="FILE", help="write the OpenAPI schema")
    options = parser.parse_args(arguments)
    write_openapi(options.openapi)
    print(f"wrote {options.openapi}", file=sys.stderr)


if __name__ == "__main__":
    main()
