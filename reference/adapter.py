"""The reference node behind the conformance adapter protocol (docs/conformance/adapter.md).

    python -m reference.adapter [--variant NAME]

Requests arrive on standard input and answers leave on standard output, one JSON
object per line; logs go to standard error. The node serves every request of the
protocol: `init` (a ledger alone when `replica` is null, else a replica of the
group), `apply_blocks`, `step` and `steps` (each message input authenticated once
at the boundary, `reference.boundary`, then stepped), `state`, `shutdown`, and the
encoding runner's `encode`, `decode` and `state_root`, answered by the wire layer.

What every node behind the protocol shares, and stands on the wire layer alone, it
takes from `conformance.protocol` and `conformance.adapter_base` (the only modules of
`conformance` the import contract lets it use): the protocol's names, the readers of
a request's fields, the encoding runner's requests (answered by the wire layer itself)
and the serve loop. The ledger and the replica behind it are its own.
With `--variant NAME` one part carries a deliberate bug (`reference.variants`).
"""

import argparse
import sys
from typing import Any

from conformance.adapter_base import WIRE_REQUESTS, RequestError, hex_bytes, request_kind, required, serve
from conformance.protocol import PROTOCOL_VERSION, ErrorCode, RequestType, ledger_summary
from reference.boundary import authenticated
from reference.chain import Chain, GenesisError, chain_from_genesis
from reference.ledger import Ledger
from reference.replica import Replica, make_group
from reference.variants import NODE_VARIANTS, Parts
from spec.constants import SPEC_VERSION
from spec.wire.decoding import DecodeError, decode_block, decode_transaction
from spec.wire.json_form import JsonFormError, from_json, to_json
from spec.wire.message_encoding import consensus_signing_message
from spec.wire.messages import ClientRequest, Input, Message, Timer, TimerFired
from spec.wire.types import Genesis

IMPLEMENTATION = "fedspec-reference-node"
MALFORMED_REQUEST = ErrorCode.MALFORMED_REQUEST
NOT_SUPPORTED = ErrorCode.NOT_SUPPORTED
NOT_INITIALISED = ErrorCode.NOT_INITIALISED


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
        kind = request_kind(request)
        if kind == RequestType.INIT:
            return self.on_init(request)
        if kind in WIRE_REQUESTS:
            return WIRE_REQUESTS[kind](request)
        if kind == RequestType.SHUTDOWN:
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


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reference.adapter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(NODE_VARIANTS), help="run with this deliberate bug (negative control)")
    options = parser.parse_args(arguments)
    parts = Parts() if options.variant is None else NODE_VARIANTS[options.variant]
    if options.variant is not None:
        print(f"reference node: variant {options.variant} installed", file=sys.stderr)
    serve(sys.stdin, sys.stdout, Node(parts).answer_body)


if __name__ == "__main__":
    main()
