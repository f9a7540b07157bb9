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
import sys
from dataclasses import dataclass
from typing import Any

from conformance.adapter_base import WIRE_REQUESTS, RequestError, hex_bytes, request_kind, required, serve
from conformance.protocol import PROTOCOL_VERSION, ErrorCode, RequestType, ledger_summary, message_hex, receipt_form
from spec import ledger, pbft
from spec.constants import SPEC_VERSION
from spec.state import Chain, chain_from_genesis, state_from_genesis
from spec.wire.decoding import DecodeError, authenticated_message_from_bytes, decode_block, decode_transaction
from spec.wire.envelope import AuthenticationError
from spec.wire.json_form import JsonFormError, from_json
from spec.wire.messages import ClientRequest, Input, Message, Timer, TimerFired
from spec.wire.records import LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import Genesis

IMPLEMENTATION = "fedspec-spec-node"
__all__ = ["RequestError", "answer_body"]


@dataclass
class NodeState:
    """What one `init` sets up; a later `init` replaces it (the runner reuses a
    process across cases that way)."""

    chain: Chain
    ledger: LedgerState
    config: pbft.ConsensusConfig | None
    replica: pbft.ReplicaState | None


# --- reading requests ---------------------------------------------------------------------------------
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


def answer_body(node: NodeState | None, request: dict[str, Any]) -> tuple[NodeState | None, dict[str, Any]]:
    """The answer's fields for one request (the node state after it)."""
    kind = request_kind(request)
    if kind == RequestType.INIT:
        return on_init(request)
    if kind in WIRE_REQUESTS:
        return node, WIRE_REQUESTS[kind](request)
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


class SpecNode:
    """The node state between requests, for the serve loop."""

    def __init__(self) -> None:
        self.state: NodeState | None = None

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.state, body = answer_body(self.state, request)
        return body


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m conformance.spec_node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutant", help="run the spec with this deliberate bug (conformance.mutants)")
    options = parser.parse_args(arguments)
    if options.mutant is not None:
        from conformance.mutants import install_mutant

        install_mutant(options.mutant)
        print(f"spec node: mutant {options.mutant} installed", file=sys.stderr)
    serve(sys.stdin, sys.stdout, SpecNode().answer)


if __name__ == "__main__":
    main()
