"""The spec behind the adapter protocol: the node every conformance case is generated
from, and the one the suite must pass 100%.

    python -m conformance.spec_node [--mutant NAME]

It reads requests on standard input and answers on standard output, one JSON
object per line (`conformance.protocol`). Behind it are the spec's own functions:
`spec.ledger.apply_block` for blocks, `spec.pbft.step` for replica inputs, and the
wire layer's decoder and envelope check at the boundary, as a node's would be.
With `--mutant NAME` it is the spec with one deliberate bug
(`conformance.mutants`): the suite's negative controls.
"""

import argparse
import json
import sys
import traceback
from dataclasses import dataclass
from typing import Any, TextIO

from conformance.protocol import (
    ANSWER_TYPES,
    PROTOCOL_VERSION,
    STATELESS_REQUESTS,
    ErrorCode,
    RequestType,
    error_answer,
    ledger_summary,
    message_hex,
    receipt_form,
)
from spec import ledger, pbft
from spec.constants import SPEC_VERSION
from spec.state import Chain, chain_from_genesis, state_from_genesis
from spec.wire.decoding import (
    DecodeError,
    authenticated_message_from_bytes,
    decode_block,
    decode_consensus_message,
    decode_envelope,
    decode_header,
    decode_transaction,
)
from spec.wire.encoding import header_bytes, transaction_bytes
from spec.wire.envelope import AuthenticationError
from spec.wire.json_form import JsonFormError, from_json, input_from_json, to_json, transaction_from_json
from spec.wire.message_encoding import block_bytes, consensus_signing_message
from spec.wire.messages import ClientRequest, Input, Message, Timer, TimerFired
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import Block, BlockHeader, Genesis

IMPLEMENTATION = "fedspec-spec-node"


class RequestError(Exception):
    """A request this node answers with an error: its code and a precise text."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass
class NodeState:
    """What one `init` sets up; a later `init` replaces it (the runner reuses a
    process across cases that way)."""

    chain: Chain
    ledger: LedgerState
    config: pbft.ConsensusConfig | None
    replica: pbft.ReplicaState | None


# --- reading requests ---------------------------------------------------------------------------------
def required(body: dict[str, Any], key: str, kind: type) -> Any:
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


def consensus_config(body: dict[str, Any], chain: Chain, genesis_state: LedgerState) -> pbft.ConsensusConfig:
    settings = required(body, "consensus", dict)
    platforms = tuple(chain.platform_keys)
    f = pbft.fault_tolerance(len(platforms))
    return pbft.ConsensusConfig(
        chain=chain,
        genesis_state=genesis_state,
        platforms=platforms,
        f=f,
        quorum=pbft.quorum_size(len(platforms), f),
        checkpoint_interval=required(settings, "checkpoint_interval", int),
        watermark_window=required(settings, "watermark_window", int),
        max_block_transactions=required(settings, "max_block_transactions", int),
    )


# --- the requests -------------------------------------------------------------------------------------
def on_init(body: dict[str, Any]) -> tuple[NodeState, dict[str, Any]]:
    if body.get("protocol") != PROTOCOL_VERSION:
        raise RequestError(ErrorCode.NOT_SUPPORTED, f"protocol {body.get('protocol')!r}: this node speaks {PROTOCOL_VERSION}")
    try:
        genesis = from_json(Genesis, body.get("genesis"))
        chain = chain_from_genesis(genesis)
    except (JsonFormError, ValueError) as error:
        raise RequestError(ErrorCode.MALFORMED_REQUEST, f"genesis: {error}") from None
    genesis_state = state_from_genesis(genesis)
    node = NodeState(chain, genesis_state, None, None)
    replica = body.get("replica")
    if replica is not None:
        replica_id = required(body, "replica", int)
        node.config = consensus_config(body, chain, genesis_state)
        if replica_id >= node.config.n:
            raise RequestError(ErrorCode.MALFORMED_REQUEST, f"replica: {replica_id} is not in 0 .. {node.config.n - 1}")
        node.replica = pbft.initial_replica_state(node.config, replica_id, required(body, "clock_ms", int))
    return node, {"implementation": IMPLEMENTATION, "version": SPEC_VERSION, "protocol": PROTOCOL_VERSION}


def on_apply_blocks(node: NodeState, body: dict[str, Any]) -> dict[str, Any]:
    blocks = required(body, "blocks", list)
    decoded = []
    for index, text in enumerate(blocks):
        try:
            decoded.append(decode_block(hex_bytes(text, f"blocks[{index}]")))
        except DecodeError as error:
            raise RequestError(ErrorCode.MALFORMED_REQUEST, f"blocks[{index}]: {error}") from None
    receipts = []
    roots = []
    for block in decoded:
        node.ledger, receipt = ledger.apply_block(node.chain, node.ledger, block)
        receipts.append(receipt_form(receipt))
        roots.append(state_root(node.ledger))
    return {"receipts": receipts, "state_roots": roots, "summary": ledger_summary(node.ledger)}


def replica_input(node: NodeState, form: object) -> Input | str:
    """The input a step delivers, or the name of why the boundary refused its bytes."""
    if not isinstance(form, dict):
        raise RequestError(ErrorCode.MALFORMED_REQUEST, "input: expected an object")
    kind = form.get("kind")
    if kind == "timer":
        timer = form.get("timer")
        if timer not in {member.value for member in Timer}:
            raise RequestError(ErrorCode.MALFORMED_REQUEST, f"input.timer: {timer!r} is no timer")
        return TimerFired(Timer(timer), required(form, "now_ms", int))
    try:
        if kind == "client_request":
            transactions = required(form, "transactions", list)
            return ClientRequest(tuple(
                decode_transaction(hex_bytes(text, f"input.transactions[{index}]"))
                for index, text in enumerate(transactions)
            ))
        if kind == "message":
            frame = hex_bytes(form.get("envelope"), "input.envelope")
            return authenticated_message_from_bytes(node.chain.chain_id, tuple(node.chain.platform_keys.values()), frame)
    except DecodeError as error:
        return error.reason.value
    except AuthenticationError as error:
        return error.failure.refusal.value
    raise RequestError(ErrorCode.MALFORMED_REQUEST, f"input.kind: {kind!r} is none of client_request, message, timer")


def step_once(node: NodeState, form: object) -> dict[str, Any]:
    if node.config is None or node.replica is None:
        raise RequestError(ErrorCode.NOT_INITIALISED, "step: init named no replica")
    event = replica_input(node, form)
    before = node.replica.height
    if isinstance(event, str):
        outputs: tuple[Message, ...] = ()
        refusal: str | None = event
    else:
        result = pbft.step(node.config, node.replica, event)
        node.replica, outputs = result.state, result.outputs
        refusal = None if result.refusal is None else result.refusal.value
    state = node.replica
    return {
        "outputs": [message_hex(node.chain.chain_id, message) for message in outputs],
        "executed": [
            {"height": height, "block_hash": state.executed[height - 1]} for height in range(before + 1, state.height + 1)
        ],
        "refusal": refusal,
        "state_root": state_root(state.ledger),
        "view": state.view,
        "height": state.height,
    }


def on_state(node: NodeState) -> dict[str, Any]:
    current = node.ledger if node.replica is None else node.replica.ledger
    answer: dict[str, Any] = {"state_root": state_root(current), "summary": ledger_summary(current)}
    if node.replica is not None:
        answer["view"] = node.replica.view
        answer["height"] = node.replica.height
    return answer


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


def stateless_answer(kind: str, request: dict[str, Any]) -> dict[str, Any]:
    if kind == RequestType.ENCODE:
        return on_encode(request)
    if kind == RequestType.DECODE:
        return on_decode(request)
    return on_state_root(request)


def answer_body(node: NodeState | None, request: dict[str, Any]) -> tuple[NodeState | None, dict[str, Any]]:
    """The answer's fields for one request (the node state after it)."""
    kind = request.get("type")
    if kind == RequestType.INIT:
        return on_init(request)
    if kind not in {member.value for member in RequestType}:
        raise RequestError(ErrorCode.NOT_SUPPORTED, f"type: {kind!r} is no request of {PROTOCOL_VERSION}")
    if kind in STATELESS_REQUESTS:
        return node, stateless_answer(kind, request)
    if kind == RequestType.SHUTDOWN:
        return node, {}
    if node is None:
        raise RequestError(ErrorCode.NOT_INITIALISED, f"{kind}: no init yet")
    if kind == RequestType.APPLY_BLOCKS:
        return node, on_apply_blocks(node, request)
    if kind == RequestType.STEP:
        return node, step_once(node, request.get("input"))
    if kind == RequestType.STEPS:
        return node, {"results": [step_once(node, form) for form in required(request, "inputs", list)]}
    return node, on_state(node)


def serve(lines: TextIO, out: TextIO) -> None:
    """Answer every request line until `shutdown` or the end of the input."""
    node: NodeState | None = None
    for line in lines:
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            out.write(json.dumps(error_answer(None, ErrorCode.MALFORMED_REQUEST, f"not JSON: {error}")) + "\n")
            out.flush()
            continue
        msg_id = request.get("msg_id") if isinstance(request, dict) else None
        try:
            if not isinstance(request, dict):
                raise RequestError(ErrorCode.MALFORMED_REQUEST, "a request is a JSON object")
            node, body = answer_body(node, request)
            answer = {"type": ANSWER_TYPES[RequestType(request["type"])], "in_reply_to": msg_id, **body}
        except RequestError as error:
            answer = error_answer(msg_id, error.code, str(error))
        except Exception as error:  # the spec failed: say so, log where, and serve on
            traceback.print_exc(file=sys.stderr)
            answer = error_answer(msg_id, ErrorCode.CRASH, f"{type(error).__name__}: {error}")
        out.write(json.dumps(answer, separators=(",", ":")) + "\n")
        out.flush()
        if isinstance(request, dict) and request.get("type") == RequestType.SHUTDOWN:
            return


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m conformance.spec_node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutant", help="run the spec with this deliberate bug (conformance.mutants)")
    options = parser.parse_args(arguments)
    if options.mutant is not None:
        from conformance.mutants import install_mutant

        install_mutant(options.mutant)
        print(f"spec node: mutant {options.mutant} installed", file=sys.stderr)
    serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
