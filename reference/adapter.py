"""The reference node behind the conformance adapter protocol (docs/conformance/adapter.md).

    python -m reference.adapter [--variant NAME]

Requests arrive on standard input and answers leave on standard output, one JSON
object per line; logs go to standard error. The node serves every request of the
protocol: `init` (a ledger alone when `replica` is null, else a replica of the
group), `apply_blocks`, `step` and `steps` (each message input authenticated once
at the boundary, `reference.boundary`, then stepped), `state`, `shutdown`, and the
encoding runner's `encode`, `decode` and `state_root`, answered by the wire layer.

The protocol's few names are restated here rather than imported from
`conformance`: the node stands on the wire layer alone, as any other node would.
With `--variant NAME` one part carries a deliberate bug (`reference.variants`).
"""

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from reference.boundary import authenticated
from reference.chain import Chain, GenesisError, chain_from_genesis
from reference.ledger import Ledger
from reference.replica import Replica, make_group
from reference.variants import NODE_VARIANTS, Parts
from spec.constants import SPEC_VERSION
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
from spec.wire.messages import ClientRequest, Input, Message, Timer, TimerFired
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import Block, BlockHeader, Genesis

PROTOCOL_VERSION = "fedspec-adapter/1"
IMPLEMENTATION = "fedspec-reference-node"
REQUEST_TYPES = ("init", "apply_blocks", "step", "steps", "state", "shutdown", "encode", "decode", "state_root")

# Error codes of the protocol (adapter contract, 2.3): all definite except CRASH.
NOT_SUPPORTED = 10
MALFORMED_REQUEST = 12
CRASH = 13
NOT_INITIALISED = 14


class RequestError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


def error_answer(in_reply_to: object, code: int, text: str) -> dict[str, Any]:
    return {"type": "error", "in_reply_to": in_reply_to, "code": code, "definite": code != CRASH, "text": text}


def ledger_summary(ledger: Ledger) -> dict[str, Any]:
    """The readable post-state beside the root (adapter contract, 3.6)."""
    return {
        "height": ledger.height,
        "last_block_hash": ledger.last_block_hash,
        "accounts": {agent: {"total": account.total, "locked": account.locked}
                     for agent, account in sorted(ledger.accounts.items())},
        "transfers": {transfer_id: transfer.status.value for transfer_id, transfer in sorted(ledger.transfers.items())},
        "tasks": {task_id: task.status.value for task_id, task in sorted(ledger.tasks.items())},
        "reputations": dict(sorted(ledger.reputations.items())),
    }


def required(body: dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(MALFORMED_REQUEST, f"{key}: expected {kind.__name__}, got {value!r:.80}")
    return value


def hex_bytes(text: object, place: str) -> bytes:
    if not isinstance(text, str):
        raise RequestError(MALFORMED_REQUEST, f"{place}: expected a hex string")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise RequestError(MALFORMED_REQUEST, f"{place}: not hex") from None


class Node:
    """The adapter's state: the chain of the last `init`, and its ledger alone or its replica."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.chain: Chain | None = None
        self.ledger: Ledger | None = None
        self.replica: Replica | None = None

    def on_init(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("protocol") != PROTOCOL_VERSION:
            raise RequestError(NOT_SUPPORTED, f"protocol {request.get('protocol')!r}: this node speaks {PROTOCOL_VERSION}")
        try:
            chain = chain_from_genesis(from_json(Genesis, request.get("genesis")))
        except (JsonFormError, GenesisError, ValueError) as error:
            raise RequestError(MALFORMED_REQUEST, f"genesis: {error}") from None
        ledger = self.parts.make_ledger(chain)
        replica = None
        if request.get("replica") is not None:  # a ledger of its own: `apply_blocks` does not touch it
            replica = self.new_replica(request, chain, self.parts.make_ledger(chain))
        self.chain, self.ledger, self.replica = chain, ledger, replica
        return {"implementation": IMPLEMENTATION, "version": SPEC_VERSION, "protocol": PROTOCOL_VERSION}

    def new_replica(self, request: dict[str, Any], chain: Chain, ledger: Ledger) -> Replica:
        replica_id = required(request, "replica", int)
        settings = required(request, "consensus", dict)
        group = make_group(
            chain, ledger.state_root(), required(settings, "checkpoint_interval", int),
            required(settings, "watermark_window", int), required(settings, "max_block_transactions", int),
        )
        if replica_id >= group.n:
            raise RequestError(MALFORMED_REQUEST, f"replica: {replica_id} is not in 0 .. {group.n - 1}")
        return self.parts.replica_class(group, replica_id, required(request, "clock_ms", int), ledger)

    def initialised(self, kind: str) -> Ledger:
        if self.ledger is None:
            raise RequestError(NOT_INITIALISED, f"{kind}: no init yet")
        return self.ledger

    def on_apply_blocks(self, request: dict[str, Any]) -> dict[str, Any]:
        ledger = self.initialised("apply_blocks")
        texts = required(request, "blocks", list)
        blocks = []
        for index, text in enumerate(texts):
            try:
                blocks.append(decode_block(hex_bytes(text, f"blocks[{index}]")))
            except DecodeError as error:
                raise RequestError(MALFORMED_REQUEST, f"blocks[{index}]: {error}") from None
        receipts = []
        roots = []
        for block in blocks:
            receipts.append(to_json(ledger.apply_block(block)))
            roots.append(ledger.state_root())
        return {"receipts": receipts, "state_roots": roots, "summary": ledger_summary(ledger)}

    def on_state(self) -> dict[str, Any]:
        ledger = self.initialised("state") if self.replica is None else self.replica.ledger
        answer: dict[str, Any] = {"state_root": ledger.state_root(), "summary": ledger_summary(ledger)}
        if self.replica is not None:
            answer["view"] = self.replica.view
            answer["height"] = self.replica.height
        return answer

    # --- the replica ---------------------------------------------------------------------------------------
    def replica_input(self, form: object) -> Input | str:
        """The input a step delivers, or the name of why the boundary refused its bytes."""
        assert self.chain is not None
        if not isinstance(form, dict):
            raise RequestError(MALFORMED_REQUEST, "input: expected an object")
        kind = form.get("kind")
        if kind == "timer":
            timer = form.get("timer")
            if timer not in TIMER_NAMES:
                raise RequestError(MALFORMED_REQUEST, f"input.timer: {timer!r} is no timer")
            return TimerFired(Timer(timer), required(form, "now_ms", int))
        if kind == "client_request":
            texts = required(form, "transactions", list)
            try:
                return ClientRequest(tuple(
                    decode_transaction(hex_bytes(text, f"input.transactions[{index}]"))
                    for index, text in enumerate(texts)
                ))
            except DecodeError as error:
                return error.reason.value
        if kind == "message":
            frame = hex_bytes(form.get("envelope"), "input.envelope")
            return authenticated(self.chain.chain_id, self.group_keys(), frame, self.parts.authenticate)
        raise RequestError(MALFORMED_REQUEST, f"input.kind: {kind!r} is none of client_request, message, timer")

    def group_keys(self) -> tuple[str, ...]:
        assert self.chain is not None
        return tuple(platform.public_key for platform in self.chain.genesis.platforms)

    def step_once(self, form: object) -> dict[str, Any]:
        replica = self.replica
        if replica is None or self.chain is None:
            raise RequestError(NOT_INITIALISED, "step: init named no replica")
        event = self.replica_input(form)
        before = replica.height
        outputs: tuple[Message, ...] = ()
        if isinstance(event, str):
            refusal: str | None = event
        else:
            outputs, refused = replica.step(event)
            refusal = None if refused is None else refused.value
        chain_id = self.chain.chain_id
        return {
            "outputs": [consensus_signing_message(chain_id, message).hex() for message in outputs],
            "executed": [{"height": height, "block_hash": replica.executed[height - 1]}
                         for height in range(before + 1, replica.height + 1)],
            "refusal": refusal,
            "state_root": replica.ledger.state_root(),
            "view": replica.view,
            "height": replica.height,
        }

    def answer_body(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request.get("type")
        if kind == "init":
            return self.on_init(request)
        if kind not in REQUEST_TYPES:
            raise RequestError(NOT_SUPPORTED, f"type: {kind!r} is no request of {PROTOCOL_VERSION}")
        if kind in STATELESS:
            return STATELESS[kind](request)
        if kind == "shutdown":
            return {}
        self.initialised(kind)
        if kind == "apply_blocks":
            return self.on_apply_blocks(request)
        if kind == "step":
            return self.step_once(request.get("input"))
        if kind == "steps":
            return {"results": [self.step_once(form) for form in required(request, "inputs", list)]}
        return self.on_state()


TIMER_NAMES = frozenset(member.value for member in Timer)


# --- bytes and states alone: the encoding runner's requests ----------------------------------------------
ENCODABLE = ("transaction", "header", "block", "consensus_message")
DECODABLE = (*ENCODABLE, "envelope")


def on_encode(request: dict[str, Any]) -> dict[str, Any]:
    """The canonical bytes of a wire object given in its JSON form."""
    what = required(request, "what", str)
    data = request.get("json")
    try:
        if what == "transaction":
            raw = transaction_bytes(transaction_from_json(data))
        elif what == "header":
            raw = header_bytes(from_json(BlockHeader, data))
        elif what == "block":
            raw = block_bytes(from_json(Block, data))
        elif what == "consensus_message":
            message = input_from_json(data)
            if isinstance(message, (ClientRequest, TimerFired)):
                raise RequestError(MALFORMED_REQUEST, "json: a client request or timer is no consensus message")
            raw = consensus_signing_message(required(request, "chain_id", str), message)
        else:
            raise RequestError(MALFORMED_REQUEST, f"what: {what!r} is none of {', '.join(ENCODABLE)}")
    except JsonFormError as error:
        raise RequestError(MALFORMED_REQUEST, f"json: {error}") from None
    return {"hex": raw.hex()}


def decoded_form(what: str, raw: bytes) -> dict[str, Any]:
    """The JSON form of bytes the decoder takes, and the chain id they name (if any)."""
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
    return {"json": {"message": to_json(envelope.message), "signatures": list(envelope.signatures)},
            "chain_id": chain_id}


def on_decode(request: dict[str, Any]) -> dict[str, Any]:
    what = required(request, "what", str)
    if what not in DECODABLE:
        raise RequestError(MALFORMED_REQUEST, f"what: {what!r} is none of {', '.join(DECODABLE)}")
    raw = hex_bytes(request.get("hex"), "hex")
    try:
        return {**decoded_form(what, raw), "failure": None}
    except DecodeError as error:
        return {"json": None, "chain_id": None, "failure": error.reason.value}


def on_state_root(request: dict[str, Any]) -> dict[str, Any]:
    try:
        state = from_json(LedgerState, request.get("state"))
    except JsonFormError as error:
        raise RequestError(MALFORMED_REQUEST, f"state: {error}") from None
    return {"state_root": state_root(state)}


STATELESS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "encode": on_encode, "decode": on_decode, "state_root": on_state_root,
}
"""Requests about bytes and states alone: answered with or without `init`."""


def answer(node: Node, line: str) -> tuple[dict[str, Any], bool]:
    """The answer to one request line, and whether it was `shutdown`."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        return error_answer(None, MALFORMED_REQUEST, f"not JSON: {error}"), False
    if not isinstance(request, dict):
        return error_answer(None, MALFORMED_REQUEST, "a request is a JSON object"), False
    msg_id = request.get("msg_id")
    try:
        body = node.answer_body(request)
        reply = {"type": f"{request['type']}_ok", "in_reply_to": msg_id, **body}
    except RequestError as error:
        reply = error_answer(msg_id, error.code, str(error))
    except Exception as error:  # a bug of this node: say so, log where, serve on
        traceback.print_exc(file=sys.stderr)
        reply = error_answer(msg_id, CRASH, f"{type(error).__name__}: {error}")
    return reply, request.get("type") == "shutdown"


def serve(lines: TextIO, out: TextIO, node: Node) -> None:
    for line in lines:
        reply, done = answer(node, line)
        out.write(json.dumps(reply, separators=(",", ":")) + "\n")
        out.flush()
        if done:
            return


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reference.adapter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(NODE_VARIANTS), help="run with this deliberate bug (negative control)")
    options = parser.parse_args(arguments)
    parts = Parts() if options.variant is None else NODE_VARIANTS[options.variant]
    if options.variant is not None:
        print(f"reference node: variant {options.variant} installed", file=sys.stderr)
    serve(sys.stdin, sys.stdout, Node(parts))


if __name__ == "__main__":
    main()
