"""The `ledger` runner: a genesis, the blocks that lead to the pre-state, and the block
under test, applied through `apply_blocks`.

A case's `case.json`:

* `genesis`: the genesis, in its JSON form;
* `blocks`: every block in order, the block under test last, each as
  `{"hex": canonical bytes, "json": its JSON form}` (the node gets the hex);
* `expected`: `receipts` (every block's receipt, the block under test last: its
  block code, each transaction's code and settlements, the expiries), the
  `state_roots` after each block (the last is the post-state root) and the
  readable `summary` of the state after the last block.

The node passes when its receipts, root and summary equal the expected ones.
"""

from typing import Any

from conformance import spec_node
from conformance.cases import Case
from conformance.protocol import PROTOCOL_VERSION
from conformance.suite import Nodes, json_differences
from spec.wire.json_form import to_json
from spec.wire.message_encoding import block_bytes
from spec.wire.types import Block, Genesis

NAME = "ledger"


def ledger_case(handler: str, name: str, description: str, genesis: Genesis, blocks: list[Block]) -> Case:
    """A case whose expected side is what the spec computes for these blocks."""
    encoded = [block_bytes(block).hex() for block in blocks]
    node, _ = spec_node.on_init({"protocol": PROTOCOL_VERSION, "genesis": to_json(genesis), "replica": None})
    data = {
        "genesis": to_json(genesis),
        "blocks": [{"hex": text, "json": to_json(block)} for text, block in zip(encoded, blocks, strict=True)],
        "expected": spec_node.on_apply_blocks(node, {"blocks": encoded}),
    }
    return Case(NAME, handler, name, description, data)


def run_case(nodes: Nodes, case: Case) -> list[str]:
    session = nodes.session()
    session.init({"genesis": case.data["genesis"], "replica": None})
    answer = session.request({"type": "apply_blocks", "blocks": [block["hex"] for block in case.data["blocks"]]})
    got: dict[str, Any] = {key: answer[key] for key in case.data["expected"] if key in answer}
    return json_differences(case.data["expected"], got)


def generate() -> list[Case]:
    from conformance.ledger_vectors import ledger_cases

    cases: list[Case] = ledger_cases()
    return cases
