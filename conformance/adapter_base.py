"""What every node behind the adapter protocol shares, standing on the wire layer alone:
the errors a request is answered with, the readers of a request's fields, the encoding
runner's three requests (`encode`, `decode`, `state_root`, answered by the wire layer
itself) and the loop that reads requests and writes answers.

The spec node (`conformance.spec_node`) and the reference node (`reference.adapter`)
both build on it; an import contract lets `reference` import this module and
`conformance.protocol`, nothing else of `conformance`. Because `encode`, `decode` and
`state_root` are answered here by `spec.wire`, the reference node's pass of the
encoding runner is the wire layer's, not independent evidence.
"""

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from conformance.protocol import ANSWER_TYPES, PROTOCOL_VERSION, ErrorCode, RequestType, error_answer
from spec.wire.decoding import (
    DecodeError,
    decode_block,
    decode_consensus_message,
    decode_envelope,
    decode_header,
    decode_transaction,
)
from spec.wire.encoding import header_bytes, transaction_bytes
from spec.wire.json_form import JsonFormError, from_json, input_from_json, to_json, transaction_from_json
from spec.wire.message_encoding import block_bytes, consensus_signing_message
from spec.wire.messages import Message
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import Block, BlockHeader

REQUEST_NAMES = frozenset(member.value for member in RequestType)


class RequestError(Exception):
    """A request a node answers with an error: its code and a precise text."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code = code


def required(body: dict[str, Any], key: str, kind: type) -> Any:
    """The field `key` of a request, if it has the JSON type `kind` (a bool is no int)."""
    value = body.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"{key}: expected {kind.__name__}, got {value!r:.80}")
    return value


def hex_bytes(text: object, place: str) -> bytes:
    if not isinstance(text, str):
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"{place}: expected a hex string")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"{place}: not hex") from None


def request_kind(request: dict[str, Any]) -> str:
    """The request's type, if the protocol has it."""
    kind = request.get("type")
    if not isinstance(kind, str) or kind not in REQUEST_NAMES:
        raise RequestError(ErrorCode.NOT_SUPPORTED, f"type: {kind!r:.80} is no request of {PROTOCOL_VERSION}")
    return kind


# --- bytes and states alone: the encoding runner's requests ------------------------------------------
ENCODABLE = ("transaction", "header", "block", "consensus_message")
"""What `encode` takes, and `decode` with `envelope` (an envelope is sealed by signing, not encoded from JSON)."""
DECODABLE = (*ENCODABLE, "envelope")


def on_encode(body: dict[str, Any]) -> dict[str, Any]:
    """The canonical bytes of a wire object given in its JSON form (a consensus
    message's are its signing message, so they need the chain id)."""
    what = required(body, "what", str)
    data = body.get("json")
    try:
        if what == "transaction":
            raw = transaction_bytes(transaction_from_json(data))
        elif what == "header":
            raw = header_bytes(from_json(BlockHeader, data))
        elif what == "block":
            raw = block_bytes(from_json(Block, data))
        elif what == "consensus_message":
            message = input_from_json(data)
            if not isinstance(message, Message):
                raise RequestError(ErrorCode.MALFORMED_REQUEST, "json: a client request or timer is no consensus message")
            raw = consensus_signing_message(required(body, "chain_id", str), message)
        else:
            raise RequestError(ErrorCode.MALFORMED_REQUEST, f"what: {what!r} is none of {', '.join(ENCODABLE)}")
    except JsonFormError as error:
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"json: {error}") from None
    return {"hex": raw.hex()}


def decoded_form(what: str, raw: bytes) -> dict[str, Any]:
    """What `decode` answers for bytes the decoder takes: the JSON form, and the chain
    id the bytes name (a consensus message's and an envelope's; null for the others).
    An envelope is decoded for its shape only: its signatures are not checked here."""
    if what == "transaction":
        return {"json": to_json(decode_transaction(raw)), "chain_id": None}
    if what == "header":
        return {"json": to_json(decode_header(raw)), "chain_id": None}
    if what == "block":
        return {"json": to_json(decode_block(raw)), "chain_id": None}
    if what == "consensus_message":
        chain_id, message = decode_consensus_message(raw)
        return {"json": to_json(message), "chain_id": chain_id}
    chain_id, envelope = decode_envelope(raw)
    return {"json": {"message": to_json(envelope.message), "signatures": list(envelope.signatures)}, "chain_id": chain_id}


def on_decode(body: dict[str, Any]) -> dict[str, Any]:
    """The decoded object, or the name of the failure (`DecodeFailure`) the decoder reports."""
    what = required(body, "what", str)
    if what not in DECODABLE:
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"what: {what!r} is none of {', '.join(DECODABLE)}")
    raw = hex_bytes(body.get("hex"), "hex")
    try:
        return {**decoded_form(what, raw), "failure": None}
    except DecodeError as error:
        return {"json": None, "chain_id": None, "failure": error.reason.value}


def on_state_root(body: dict[str, Any]) -> dict[str, Any]:
    try:
        state = from_json(LedgerState, body.get("state"))
    except JsonFormError as error:
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"state: {error}") from None
    return {"state_root": state_root(state)}


WIRE_REQUESTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    RequestType.ENCODE: on_encode, RequestType.DECODE: on_decode, RequestType.STATE_ROOT: on_state_root,
}
"""Requests about bytes and states alone: answered with or without `init`."""


# --- the loop ------------------------------------------------------------------------------------------
def answer_line(line: str, answer_body: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """The answer to one request line, and whether the request was `shutdown`. A fault
    of the node's own is answered as a crash (indefinite), its traceback logged."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        return error_answer(None, ErrorCode.MALFORMED_REQUEST, f"not JSON: {error}"), False
    if not isinstance(request, dict):
        return error_answer(None, ErrorCode.MALFORMED_REQUEST, "a request is a JSON object"), False
    msg_id = request.get("msg_id")
    try:
        kind = request_kind(request)
        answer = {"type": ANSWER_TYPES[RequestType(kind)], "in_reply_to": msg_id, **answer_body(request)}
    except RequestError as error:
        return error_answer(msg_id, error.code, str(error)), False
    except Exception as error:  # the node failed: say so, log where, and serve on
        traceback.print_exc(file=sys.stderr)
        return error_answer(msg_id, ErrorCode.CRASH, f"{type(error).__name__}: {error}"), False
    return answer, kind == RequestType.SHUTDOWN


def serve(lines: TextIO, out: TextIO, answer_body: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Answer every request line until `shutdown` or the end of the input."""
    for line in lines:
        answer, done = answer_line(line, answer_body)
        out.write(json.dumps(answer, separators=(",", ":")) + "\n")
        out.flush()
        if done:
            return
