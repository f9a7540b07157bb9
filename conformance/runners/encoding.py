"""The `encoding` runner: bytes and JSON forms, both ways, and state roots, asked of the
node through `encode`, `decode` and `state_root`. These requests do not depend on
`init`; the runner still opens each case with one, as every session opens.

A case's `case.json`, by handler:

* `transaction`, `header`, `block`, `consensus_message`, `decode` (round trips): `what`
  (the kind of object), `hex` (its canonical bytes), `json` (its JSON form) and, for a
  consensus message, `chain_id` (its signing message names the chain; a transaction
  case's `chain_id` is the one its signature is for, not in its bytes). The node
  must encode `json` to `hex` and decode `hex` to `json` (and `chain_id`), with no
  failure. The other fields are for implementers checking their own code: the
  signer's `key` (seed_text, seed, public_key), `signing_message`, `signature`, hashes;
* `envelope`: `hex`, a signed envelope, and `json`, what it decodes to
  (`{"message": JSON form, "signatures": [hex, ...]}`) with its `chain_id`. Decode only:
  an envelope is made by signing, not encoded from JSON;
* `malformed`: `what`, `hex` and `failure`, the `DecodeFailure` name the decoder must
  answer (with no JSON form); `offset` and `error` are the spec's report, for reference;
* `state_root`: `state`, a ledger state in its JSON form, and `state_root`, the root
  the node must compute. `leaves` lists every record in key order: its kind and kind
  code, id, key = SHA-256(tag STATE_KEY || u8 kind code || str id), value (the
  record's canonical bytes) and leaf_hash = SHA-256(tag STATE_LEAF || key ||
  SHA-256(value)); `records_root` is the root of the compact sparse Merkle tree of
  those leaves. Only the state root is compared.
"""

from typing import Any

from conformance.cases import Case
from conformance.generate import vector_genesis
from conformance.node import Session
from conformance.suite import Nodes, json_differences
from spec.wire.json_form import to_json

NAME = "encoding"
DECODE_ONLY = frozenset({"envelope"})
"""Kinds a node is asked to decode but not to encode."""
CHAINED = frozenset({"consensus_message", "envelope"})
"""Kinds whose bytes name a chain: their `chain_id` is part of the round trip (a
transaction case's `chain_id` is the one its signature is for, not in its bytes)."""


def round_trip_differences(session: Session, data: dict[str, Any]) -> list[str]:
    """Encode the JSON form and decode the bytes: each must give the other back."""
    chain_id = data["chain_id"] if data["what"] in CHAINED else None
    expected_decode = {"json": data["json"], "chain_id": chain_id, "failure": None}
    decoded = session.request({"type": "decode", "what": data["what"], "hex": data["hex"]})
    differences = json_differences(expected_decode, {key: decoded.get(key) for key in expected_decode}, "decode")
    if data["what"] in DECODE_ONLY:
        return differences
    request = {"type": "encode", "what": data["what"], "json": data["json"]}
    if chain_id is not None:
        request["chain_id"] = chain_id
    encoded = session.request(request)
    return differences + json_differences({"hex": data["hex"]}, {"hex": encoded.get("hex")}, "encode")


def malformed_differences(session: Session, data: dict[str, Any]) -> list[str]:
    answer = session.request({"type": "decode", "what": data["what"], "hex": data["hex"]})
    expected = {"json": None, "failure": data["failure"]}
    return json_differences(expected, {key: answer.get(key) for key in expected}, "decode")


def state_root_differences(session: Session, data: dict[str, Any]) -> list[str]:
    answer = session.request({"type": "state_root", "state": data["state"]})
    return json_differences({"state_root": data["state_root"]}, {"state_root": answer.get("state_root")})


def run_case(nodes: Nodes, case: Case) -> list[str]:
    session = nodes.session()
    session.init({"genesis": to_json(vector_genesis()), "replica": None})
    if case.handler == "malformed":
        return malformed_differences(session, case.data)
    if case.handler == "state_root":
        return state_root_differences(session, case.data)
    return round_trip_differences(session, case.data)


def generate() -> list[Case]:
    from conformance.encoding_vectors import encoding_cases

    return encoding_cases()
