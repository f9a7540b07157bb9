"""The reference node behind the conformance adapter protocol (docs/conformance/adapter.md).

    python -m reference.adapter [--variant NAME]

Requests arrive on standard input and answers leave on standard output, one JSON
object per line; logs go to standard error. This node serves `init` (the ledger
alone: `replica` null), `apply_blocks`, `state` and `shutdown`; `step` and `steps`
are answered with error 10 (not supported) until the replica core lands.

The protocol's few names are restated here rather than imported from
`conformance`: the node stands on the wire layer alone, as any other node would.
With `--variant NAME` the ledger carries one deliberate bug (`reference.variants`).
"""

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from reference.chain import GenesisError, chain_from_genesis
from reference.ledger import Ledger
from reference.variants import VARIANTS
from spec.constants import SPEC_VERSION
from spec.wire.decoding import DecodeError, decode_block
from spec.wire.json_form import JsonFormError, from_json, to_json
from spec.wire.types import Genesis

PROTOCOL_VERSION = "fedspec-adapter/1"
IMPLEMENTATION = "fedspec-reference-node"
REQUEST_TYPES = ("init", "apply_blocks", "step", "steps", "state", "shutdown")

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


class Node:
    """The adapter's state: the ledger of the last `init`."""

    def __init__(self, make_ledger: Callable[..., Ledger]) -> None:
        self.make_ledger = make_ledger
        self.ledger: Ledger | None = None

    def on_init(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("protocol") != PROTOCOL_VERSION:
            raise RequestError(NOT_SUPPORTED, f"protocol {request.get('protocol')!r}: this node speaks {PROTOCOL_VERSION}")
        if request.get("replica") is not None:
            raise RequestError(NOT_SUPPORTED, "replica: this node serves the ledger alone (replica null) for now")
        try:
            chain = chain_from_genesis(from_json(Genesis, request.get("genesis")))
        except (JsonFormError, GenesisError, ValueError) as error:
            raise RequestError(MALFORMED_REQUEST, f"genesis: {error}") from None
        self.ledger = self.make_ledger(chain)
        return {"implementation": IMPLEMENTATION, "version": SPEC_VERSION, "protocol": PROTOCOL_VERSION}

    def initialised(self, kind: str) -> Ledger:
        if self.ledger is None:
            raise RequestError(NOT_INITIALISED, f"{kind}: no init yet")
        return self.ledger

    def on_apply_blocks(self, request: dict[str, Any]) -> dict[str, Any]:
        ledger = self.initialised("apply_blocks")
        texts = request.get("blocks")
        if not isinstance(texts, list):
            raise RequestError(MALFORMED_REQUEST, "blocks: expected a list")
        blocks = []
        for index, text in enumerate(texts):
            try:
                blocks.append(decode_block(bytes.fromhex(text)))
            except (DecodeError, ValueError, TypeError) as error:
                raise RequestError(MALFORMED_REQUEST, f"blocks[{index}]: {error}") from None
        receipts = []
        roots = []
        for block in blocks:
            receipts.append(to_json(ledger.apply_block(block)))
            roots.append(ledger.state_root())
        return {"receipts": receipts, "state_roots": roots, "summary": ledger_summary(ledger)}

    def on_state(self) -> dict[str, Any]:
        ledger = self.initialised("state")
        return {"state_root": ledger.state_root(), "summary": ledger_summary(ledger)}

    def answer_body(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request.get("type")
        if kind == "init":
            return self.on_init(request)
        if kind not in REQUEST_TYPES:
            raise RequestError(NOT_SUPPORTED, f"type: {kind!r} is no request of {PROTOCOL_VERSION}")
        if kind == "shutdown":
            return {}
        if kind == "apply_blocks":
            return self.on_apply_blocks(request)
        if kind == "state":
            return self.on_state()
        raise RequestError(NOT_SUPPORTED, f"{kind}: this node has no replica yet")


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
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="run with this deliberate bug (negative control)")
    options = parser.parse_args(arguments)
    make_ledger: Callable[..., Ledger] = Ledger if options.variant is None else VARIANTS[options.variant]
    if options.variant is not None:
        print(f"reference node: variant {options.variant} installed", file=sys.stderr)
    serve(sys.stdin, sys.stdout, Node(make_ledger))


if __name__ == "__main__":
    main()
