"""The `encoding` runner's cases, generated from the spec: one case per known-answer
vector, decode vector, malformed input and state-root vector.

Handlers (the case formats are in `conformance.runners.encoding`):

* `transaction`: one signed sample of every transaction type, with its signer's key,
  signing message, signature, canonical bytes and hash;
* `header`, `block`: the vector block (the seven samples, height 1), its header's
  bytes and hash, its transaction root and its bytes;
* `consensus_message`: one signed sample of every consensus message kind;
* `decode`: values at the decoding bounds the samples do not reach;
* `envelope`: every sample consensus message in its signed envelope;
* `malformed`: crafted bytes with one defect each and the `DecodeFailure` they show;
* `state_root`: hand-written ledger states, their leaves, records root and state root,
  and the state of the consensus vectors' genesis.

Every expected answer is the spec node's own (`conformance.spec_node`), so the cases
and the node the suite must pass cannot disagree; the generator also checks each
malformed input against the decoder, so a case whose failure name is wrong is never
written.
"""

import re
from typing import Any

from conformance import adapter_base, decoding_vectors, generate
from conformance.cases import Case
from conformance.decoding_vectors import MalformedInput, ValidInput
from conformance.state_root_vectors import leaf_entries, vector_states
from spec.state import state_from_genesis
from spec.wire.encoding import block_hash, header_bytes, sha256, signing_message, transaction_bytes, transaction_hash
from spec.wire.json_form import to_json
from spec.wire.message_encoding import block_bytes, consensus_kind, consensus_signing_message
from spec.wire.messages import Message
from spec.wire.signing import public_key_hex, sign_consensus_message
from spec.wire.state_root import records_root, state_root
from spec.wire.types import AnyTransaction

RUNNER = "encoding"


def slug(text: str) -> str:
    """A readable case name from a vector's name: lowercase, every other run of
    characters a hyphen (`PREPARE and one byte more` -> `prepare-and-one-byte-more`)."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")


def key_form(name: str) -> dict[str, str]:
    """A vector key: the text its seed is derived from
    (seed = SHA-256("fedspec/v1/KEY_SEED" || 0x00 || UTF-8(seed_text))), the seed and its public key."""
    seed = generate.vector_seed(name)
    return {"seed_text": "fedspec test vector " + name, "seed": seed.hex(), "public_key": public_key_hex(seed)}


def decoded(what: str, raw: bytes) -> dict[str, Any]:
    """The spec node's `decode` answer for `raw`: what a case expects."""
    return adapter_base.on_decode({"what": what, "hex": raw.hex()})


def round_trip_data(what: str, raw: bytes) -> dict[str, Any]:
    """The fields every round-trip case shares: the bytes and the JSON form they decode
    to (with the chain id, for a consensus message). Encoding the JSON form must give
    the bytes back, and decoding the bytes the JSON form."""
    answer = decoded(what, raw)
    if answer["failure"] is not None:
        raise ValueError(f"the {what} vector {raw.hex()[:40]}... is refused: {answer['failure']}")
    data = {"what": what, "hex": raw.hex(), "json": answer["json"]}
    if answer["chain_id"] is not None:
        data["chain_id"] = answer["chain_id"]
    if what != "envelope":
        request: dict[str, Any] = {key: data[key] for key in ("what", "json", "chain_id") if key in data}
        if adapter_base.on_encode(request)["hex"] != data["hex"]:
            raise ValueError(f"the {what} vector {raw.hex()[:40]}... does not re-encode to itself")
    return data


# --- the known-answer vectors ------------------------------------------------------------------------
def transaction_case(signer: str, tx: AnyTransaction) -> Case:
    data = round_trip_data("transaction", transaction_bytes(tx))
    data.update({
        "chain_id": generate.VECTOR_CHAIN_ID,
        "signer": signer,
        "key": key_form(signer),
        "signing_message": signing_message(generate.VECTOR_CHAIN_ID, tx).hex(),
        "signature": tx.signature,
        "transaction_hash": transaction_hash(tx).hex(),
    })
    description = f"a signed {tx.type}: its canonical bytes, signing message, signature and hash"
    return Case(RUNNER, "transaction", tx.type.lower(), description, data)


def block_cases() -> list[Case]:
    block = generate.vector_block()
    header = round_trip_data("header", header_bytes(block.header))
    header.update({"transaction_root": block.header.transaction_root, "block_hash": block_hash(block.header)})
    return [
        Case(RUNNER, "header", "vector_block", "the vector block's header: its bytes and the block hash", header),
        Case(RUNNER, "block", "vector_block", "height 1, proposed by Thor, holding one signed transaction of every type",
             round_trip_data("block", block_bytes(block))),
    ]


CONSENSUS_NOTE = (
    "Each message is well-formed and signed by its sender's key (replica i is platform i of the consensus "
    "group's genesis, the state_root case consensus_group_genesis); together they sketch view 0 preparing and "
    "committing height 1 and view 1 re-proposing it. They fix bytes, not behaviour: the block is the vector "
    "block (one transaction of every type), which is not a valid block on this genesis, and the CHECKPOINT's "
    "state root is a sample hash."
)


def consensus_message_case(message: Message) -> Case:
    kind = consensus_kind(message)
    signer = generate.CONSENSUS_REPLICAS[message.sender]
    signing = consensus_signing_message(generate.VECTOR_CHAIN_ID, message)
    data = round_trip_data("consensus_message", signing)
    data.update({
        "kind": kind,
        "class": type(message).__name__,
        "signer": signer,
        "key": key_form(signer),
        "sha256": sha256(signing).hex(),
        "signature": sign_consensus_message(generate.vector_seed(signer), generate.VECTOR_CHAIN_ID, message),
        "note": CONSENSUS_NOTE,
    })
    description = f"a signed {kind}: its JSON form, its signing message (its canonical bytes) and signature"
    return Case(RUNNER, "consensus_message", kind.lower(), description, data)


# --- decode vectors ----------------------------------------------------------------------------------
def decode_case(valid: ValidInput) -> Case:
    description = f"{valid.name}: a {valid.kind} the decoder must take and re-encode byte for byte"
    return Case(RUNNER, "decode", f"{valid.decoder}.{slug(valid.name)}", description, round_trip_data(valid.decoder, valid.data))


def envelope_case(valid: ValidInput) -> Case:
    data = {**round_trip_data("envelope", valid.data), "kind": valid.kind}
    description = f"a {valid.kind} in its signed envelope, signed by the vector keys"
    return Case(RUNNER, "envelope", valid.kind.lower(), description, data)


def malformed_case(bad: MalformedInput) -> Case:
    """The decoder must refuse the bytes with `failure`; `offset` and `error` are what
    `spec.wire.decoding` reports, for reference only."""
    error = decoding_vectors.decoding_error(bad)
    answer = decoded(bad.decoder, bad.data)
    if answer["failure"] != bad.failure.value:
        raise ValueError(f"malformed vector {bad.name!r}: the spec node answers {answer}")
    data = {
        "what": bad.decoder, "hex": bad.data.hex(), "failure": bad.failure.value, "offset": error.offset,
        "error": str(error),
    }
    description = f"{bad.name}: refused as {bad.failure.value}"
    return Case(RUNNER, "malformed", f"{bad.decoder}.{slug(bad.name)}", description, data)


# --- state roots -------------------------------------------------------------------------------------
def state_root_case(name: str, description: str, state: Any, extra: dict[str, Any] | None = None) -> Case:
    """A ledger state written record by record: its JSON form (what the node is given),
    every leaf in key order, the records root and the state root."""
    form = to_json(state)
    root = adapter_base.on_state_root({"state": form})["state_root"]
    if root != state_root(state):
        raise ValueError(f"the state root vector {name} does not read back to its state")
    data = {
        "state": form, "leaves": leaf_entries(state), "records_root": records_root(state).hex(), "state_root": root,
        **(extra or {}),
    }
    return Case(RUNNER, "state_root", name, description, data)


def consensus_genesis_case() -> Case:
    genesis = generate.vector_genesis()
    description = (
        "the genesis of the consensus vectors' group (replica i is its platform i): its state's root is the "
        "checkpoint root of the VIEW_CHANGE and NEW_VIEW samples"
    )
    return state_root_case("consensus_group_genesis", description, state_from_genesis(genesis),
                           {"genesis": to_json(genesis)})


def encoding_cases() -> list[Case]:
    """Every case of the `encoding` runner, in a fixed order."""
    cases = [transaction_case(signer, tx) for signer, tx in generate.signed_sample_transactions()]
    cases += block_cases()
    cases += [consensus_message_case(message) for message in generate.consensus_sample_messages()]
    cases += [decode_case(valid) for valid in decoding_vectors.boundary_inputs()]
    cases += [envelope_case(valid) for valid in decoding_vectors.envelope_inputs()]
    cases += [malformed_case(bad) for bad in decoding_vectors.malformed_inputs()]
    cases += [state_root_case(name, description, state) for name, description, state in vector_states()]
    cases.append(consensus_genesis_case())
    return cases


def handler_data(handler: str) -> list[dict[str, Any]]:
    """The `case.json` of every case of one handler, in order: what the tests and the
    site read the vectors through."""
    return [case.data for case in encoding_cases() if case.handler == handler]
