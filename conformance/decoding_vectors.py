"""Decode vectors: byte strings the decoder accepts, and malformed ones it refuses by name.

They become cases of the `encoding` runner (`conformance.encoding_vectors`):

* valid inputs each decoder (`DECODERS`) accepts: every sample transaction, header,
  block and consensus message (`sample_inputs`, the runner's round-trip cases), values
  at the decoding bounds (`boundary_inputs`, its `decode` cases) and every sample in
  its signed envelope (`envelope_inputs`). Decoding one and encoding the result gives
  back the same bytes;
* `malformed_inputs`: crafted inputs, each with the decoder it is for and the name of
  the failure (`spec.wire.decoding.DecodeFailure`) that decoder must report. Each has
  exactly one defect, so the name does not depend on the order of checks.

The generator checks every vector against the decoder as it writes it, so a vector
whose failure name is wrong cannot be written. `decoder_corpus()` gives the fuzzer
(`conformance.decoder_fuzz`) every vector's bytes to mutate.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance import generate
from spec.constants import (
    MAX_BLOCK_TRANSACTIONS,
    MAX_ENVELOPE_SIGNATURES,
    MAX_MESSAGE_BYTES,
    MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE,
    MAX_PROPOSALS_PER_NEW_VIEW,
    MAX_REPLICAS,
    MAX_UINT64,
    MAX_VIEW_CHANGES_PER_NEW_VIEW,
    MAX_WIRE_STRING_BYTES,
)
from spec.wire.decoding import (
    DecodeError,
    DecodeFailure,
    decode_block,
    decode_consensus_message,
    decode_envelope,
    decode_header,
    decode_transaction,
)
from spec.wire.encoding import (
    SIGNED_FIELDS,
    TRANSACTION_TYPE_CODES,
    domain_tag,
    encode_field,
    encode_hash,
    encode_str,
    encode_u8,
    encode_u16,
    encode_u32,
    encode_u64,
    header_bytes,
    signing_message,
    transaction_bytes,
)
from spec.wire.envelope import envelope_bytes, sign_envelope
from spec.wire.message_encoding import (
    CERTIFICATE_FIELDS,
    CONSENSUS_FIELDS,
    block_bytes,
    consensus_kind,
    consensus_signing_message,
    encode_consensus_field,
)
from spec.wire.messages import (
    BlockResponse,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    ViewChange,
)
from spec.wire.types import AnyTransaction, AtpTransferCommit, Block, BlockHeader

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "transaction": decode_transaction,
    "header": decode_header,
    "block": decode_block,
    "consensus_message": decode_consensus_message,
    "envelope": decode_envelope,
}
"""Each decoder by the name the vectors use."""

ENCODERS: dict[str, str] = {
    "transaction": "transaction_bytes",
    "header": "header_bytes",
    "block": "block_bytes",
    "consensus_message": "consensus_signing_message",
    "envelope": "envelope_bytes",
}
"""The encoder each decoder inverts."""


def encode_decoded(decoder: str, value: Any) -> bytes:
    """The canonical bytes of what `decoder` returned: its encoder applied to it."""
    if decoder == "transaction":
        return transaction_bytes(value)
    if decoder == "header":
        return header_bytes(value)
    if decoder == "block":
        return block_bytes(value)
    if decoder == "envelope":
        envelope_chain_id, envelope = value
        return envelope_bytes(envelope_chain_id, envelope)
    chain_id, message = value
    return consensus_signing_message(chain_id, message)


@dataclass(frozen=True)
class ValidInput:
    name: str
    decoder: str
    kind: str
    """The transaction type, `header`, `block`, or the consensus message kind."""
    data: bytes


@dataclass(frozen=True)
class MalformedInput:
    name: str
    decoder: str
    failure: DecodeFailure
    data: bytes


# --- valid inputs ----------------------------------------------------------------------------------
def chain_id() -> str:
    return generate.VECTOR_CHAIN_ID


def sample_message(message_class: type) -> Any:
    return next(m for m in generate.consensus_sample_messages() if isinstance(m, message_class))


def boundary_transaction() -> AnyTransaction:
    """A commit whose id is as long as a wire string may be."""
    return AtpTransferCommit(transfer_id="x" * MAX_WIRE_STRING_BYTES, platform="Thor", signature="ab" * 64)


def boundary_messages() -> list[tuple[str, Message]]:
    """Values at the decoding bounds: the largest replica id and u64, a full replica set."""
    digest = "cd" * 32
    everyone = frozenset(range(MAX_REPLICAS))
    return [
        ("largest replica id and u64", Prepare(MAX_UINT64, MAX_UINT64, digest, MAX_REPLICAS - 1)),
        ("every replica signs", BlockResponse(
            empty_block(), CommitCertificate(0, 2, digest, everyone), MAX_REPLICAS - 1, 0,
        )),
    ]


def empty_block() -> Block:
    header = BlockHeader(height=2, previous_hash="11" * 32, timestamp_ms=1_701_388_802_000, proposer="Sprout",
                         transaction_root="22" * 32)
    return Block(header=header, transactions=())


def sample_inputs() -> list[ValidInput]:
    """Every sample transaction, the vector block and its header, every sample consensus message."""
    out: list[ValidInput] = []
    for _signer, tx in generate.signed_sample_transactions():
        out.append(ValidInput(f"{tx.type} sample", "transaction", tx.type, transaction_bytes(tx)))
    block = generate.vector_block()
    out.append(ValidInput("vector block header", "header", "header", header_bytes(block.header)))
    out.append(ValidInput("vector block", "block", "block", block_bytes(block)))
    for message in generate.consensus_sample_messages():
        kind = consensus_kind(message)
        out.append(ValidInput(f"{kind} sample", "consensus_message", kind, consensus_signing_message(chain_id(), message)))
    return out


def boundary_inputs() -> list[ValidInput]:
    """Values at the decoding bounds, and the empty block: what the samples do not reach."""
    longest = boundary_transaction()
    out = [ValidInput("id of MAX_WIRE_STRING_BYTES", "transaction", longest.type, transaction_bytes(longest))]
    out.append(ValidInput("empty block", "block", "block", block_bytes(empty_block())))
    for name, message in boundary_messages():
        kind = consensus_kind(message)
        out.append(ValidInput(name, "consensus_message", kind, consensus_signing_message(chain_id(), message)))
    return out


def envelope_inputs() -> list[ValidInput]:
    """Every sample consensus message in its signed envelope."""
    out = []
    for message in generate.consensus_sample_messages():
        kind = consensus_kind(message)
        out.append(ValidInput(f"{kind} envelope", "envelope", kind, sample_envelope_bytes(message)))
    return out


def valid_inputs() -> list[ValidInput]:
    return sample_inputs() + boundary_inputs() + envelope_inputs()


def sample_envelope_bytes(message: Any) -> bytes:
    """`message` in its signed envelope, signed by the vector keys (replica i = platform i)."""
    seeds = {replica: generate.vector_seed(name) for replica, name in enumerate(generate.CONSENSUS_REPLICAS)}
    return envelope_bytes(chain_id(), sign_envelope(seeds, chain_id(), message))


def malformed_envelopes() -> list[MalformedInput]:
    """An envelope cut short, one with bytes after it, one whose message length is one
    short, and one whose signature count is over its bound."""
    whole = sample_envelope_bytes(sample_message(Prepare))
    length = int.from_bytes(whole[:4], "big")
    return [
        MalformedInput("envelope cut in its last signature", "envelope", DecodeFailure.TRUNCATED, whole[:-1]),
        MalformedInput("envelope with a byte after it", "envelope", DecodeFailure.TRAILING_BYTES, whole + b"\x00"),
        MalformedInput("envelope message length one short", "envelope", DecodeFailure.LENGTH_MISMATCH, encode_u32(length - 1) + whole[4:]),
        MalformedInput(
            "envelope signature count over its bound", "envelope", DecodeFailure.LENGTH_OVER_BOUND,
            whole[: 4 + length] + encode_u32(MAX_ENVELOPE_SIGNATURES + 1),
        ),
    ]


# --- building malformed bytes -----------------------------------------------------------------------
def raw_str(raw: bytes) -> bytes:
    """A string field holding exactly `raw`, whatever it is."""
    return encode_u16(len(raw)) + raw


def raw_replicas(*replicas: int) -> bytes:
    """A replica set field listing `replicas` in the order given."""
    return encode_u16(len(replicas)) + b"".join(encode_u16(r) for r in replicas)


def transaction_bytes_with(tx: AnyTransaction, **replaced: bytes) -> bytes:
    """The transaction bytes of `tx`, with the bytes of the named fields
    (`type` and `signature` included) replaced."""
    out = replaced.get("type", encode_u8(TRANSACTION_TYPE_CODES[tx.type]))
    for name, kind in SIGNED_FIELDS[tx.type]:
        out += replaced.get(name, encode_field(getattr(tx, name), kind))
    return out + replaced.get("signature", bytes.fromhex(tx.signature))


def header_bytes_with(header: BlockHeader, **replaced: bytes) -> bytes:
    return (
        replaced.get("height", encode_u64(header.height))
        + replaced.get("previous_hash", encode_hash(header.previous_hash))
        + replaced.get("timestamp_ms", encode_u64(header.timestamp_ms))
        + replaced.get("proposer", encode_str(header.proposer))
        + replaced.get("transaction_root", encode_hash(header.transaction_root))
    )


def fields_with(value: Any, fields: Any, **replaced: bytes) -> bytes:
    out = b""
    for name, kind in fields:
        out += replaced.get(name, encode_consensus_field(chain_id(), getattr(value, name), kind))
    return out


def message_bytes_with(message: Message, **replaced: bytes) -> bytes:
    """The signing message of `message`, with the bytes of the named fields (or of
    `tag` or `chain_id`) replaced."""
    kind = consensus_kind(message)
    head = replaced.pop("tag", domain_tag(kind)) + replaced.pop("chain_id", encode_str(chain_id()))
    return head + fields_with(message, CONSENSUS_FIELDS[kind], **replaced)


def certificate_bytes_with(certificate: Any, **replaced: bytes) -> bytes:
    return fields_with(certificate, CERTIFICATE_FIELDS[type(certificate)], **replaced)


def framed(embedded: bytes, length_change: int = 0) -> bytes:
    """One embedded view change: its u32 length (changed by `length_change`), then its bytes."""
    return encode_u32(len(embedded) + length_change) + embedded


def view_changes_with(frames: list[bytes]) -> bytes:
    return encode_u16(len(frames)) + b"".join(frames)


# --- malformed inputs ----------------------------------------------------------------------------
def truncated_and_trailing() -> list[MalformedInput]:
    F = DecodeFailure
    lock = transaction_bytes(generate.signed_sample_transactions()[0][1])
    block = generate.vector_block()
    prepare = consensus_signing_message(chain_id(), sample_message(Prepare))
    new_view = consensus_signing_message(chain_id(), sample_message(NewView))
    short_block = header_bytes(block.header) + encode_u32(len(block.transactions))
    for tx in block.transactions[:-1]:
        short_block += transaction_bytes(tx)
    long_block = header_bytes(block.header) + encode_u32(len(block.transactions) - 1)
    for tx in block.transactions:
        long_block += transaction_bytes(tx)
    return [
        MalformedInput("empty transaction", "transaction", F.TRUNCATED, b""),
        MalformedInput("empty header", "header", F.TRUNCATED, b""),
        MalformedInput("empty block", "block", F.TRUNCATED, b""),
        MalformedInput("empty consensus message", "consensus_message", F.TRUNCATED, b""),
        MalformedInput("transaction without its last byte", "transaction", F.TRUNCATED, lock[:-1]),
        MalformedInput("string shorter than its length", "transaction", F.TRUNCATED,
                       encode_u8(TRANSACTION_TYPE_CODES["ATP_TRANSFER_COMMIT"]) + encode_u16(10) + b"abc"),
        MalformedInput("header cut inside the proposer", "header", F.TRUNCATED, header_bytes(block.header)[:50]),
        MalformedInput("block missing its last transaction", "block", F.TRUNCATED, short_block),
        MalformedInput("cut inside the domain tag", "consensus_message", F.TRUNCATED, domain_tag("PREPARE")[:12]),
        MalformedInput("PREPARE without its sender's last byte", "consensus_message", F.TRUNCATED, prepare[:-1]),
        MalformedInput("NEW_VIEW cut inside an embedded view change", "consensus_message", F.TRUNCATED, new_view[:200]),
        MalformedInput("transaction and one byte more", "transaction", F.TRAILING_BYTES, lock + b"\x00"),
        MalformedInput("header and one byte more", "header", F.TRAILING_BYTES, header_bytes(block.header) + b"\x00"),
        MalformedInput("block counting one transaction fewer than it holds", "block", F.TRAILING_BYTES, long_block),
        MalformedInput("PREPARE and one byte more", "consensus_message", F.TRAILING_BYTES, prepare + b"\x01"),
        MalformedInput("NEW_VIEW and two bytes more", "consensus_message", F.TRAILING_BYTES, new_view + b"\x00\x00"),
    ]


def lengths_over_bounds() -> list[MalformedInput]:
    F = DecodeFailure
    commit = generate.signed_sample_transactions()[1][1]
    block = generate.vector_block()
    over_count = header_bytes(block.header) + encode_u32(MAX_BLOCK_TRANSACTIONS + 1)
    for tx in block.transactions:
        over_count += transaction_bytes(tx)
    response = sample_message(BlockResponse)
    view_change = sample_message(ViewChange)
    new_view = sample_message(NewView)
    return [
        MalformedInput("id one byte over MAX_WIRE_STRING_BYTES", "transaction", F.LENGTH_OVER_BOUND,
                       transaction_bytes_with(commit, transfer_id=raw_str(b"x" * (MAX_WIRE_STRING_BYTES + 1)))),
        MalformedInput("chain id of 65535 bytes", "consensus_message", F.LENGTH_OVER_BOUND,
                       message_bytes_with(sample_message(Prepare), chain_id=encode_u16(0xFFFF))),
        MalformedInput("block of MAX_BLOCK_TRANSACTIONS + 1", "block", F.LENGTH_OVER_BOUND, over_count),
        MalformedInput("block count 2^32 - 1", "block", F.LENGTH_OVER_BOUND,
                       header_bytes(block.header) + encode_u32(0xFFFFFFFF)),
        MalformedInput("replica set of MAX_REPLICAS + 1", "consensus_message", F.LENGTH_OVER_BOUND,
                       message_bytes_with(response, certificate=certificate_bytes_with(
                           response.certificate, commits=raw_replicas(*range(MAX_REPLICAS + 1))))),
        MalformedInput("MAX_VIEW_CHANGES_PER_NEW_VIEW + 1 view changes", "consensus_message", F.LENGTH_OVER_BOUND,
                       message_bytes_with(new_view, view_changes=encode_u16(MAX_VIEW_CHANGES_PER_NEW_VIEW + 1))),
        MalformedInput("MAX_PROPOSALS_PER_NEW_VIEW + 1 proposals", "consensus_message", F.LENGTH_OVER_BOUND,
                       message_bytes_with(new_view, proposals=encode_u16(MAX_PROPOSALS_PER_NEW_VIEW + 1))),
        MalformedInput("MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE + 1 certificates", "consensus_message",
                       F.LENGTH_OVER_BOUND,
                       message_bytes_with(view_change, prepared=encode_u16(MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE + 1))),
        MalformedInput("embedded view change longer than MAX_MESSAGE_BYTES", "consensus_message", F.LENGTH_OVER_BOUND,
                       message_bytes_with(new_view, view_changes=encode_u16(1) + encode_u32(MAX_MESSAGE_BYTES + 1))),
    ]


def frames_tags_and_chains() -> list[MalformedInput]:
    F = DecodeFailure
    new_view = sample_message(NewView)
    embedded = [consensus_signing_message(chain_id(), vc) for vc in new_view.view_changes]

    def with_first_frame(first: bytes) -> bytes:
        return message_bytes_with(new_view, view_changes=view_changes_with([first] + [framed(e) for e in embedded[1:]]))

    other_chain = consensus_signing_message("another-chain", new_view.view_changes[0])
    prepare = sample_message(Prepare)
    lock = generate.signed_sample_transactions()[0][1]
    return [
        MalformedInput("view change frame one byte too long", "consensus_message", F.LENGTH_MISMATCH,
                       with_first_frame(framed(embedded[0], +1))),
        MalformedInput("view change frame one byte too short", "consensus_message", F.LENGTH_MISMATCH,
                       with_first_frame(framed(embedded[0], -1))),
        MalformedInput("view change frame of length 0", "consensus_message", F.LENGTH_MISMATCH,
                       with_first_frame(encode_u32(0))),
        MalformedInput("NEW_VIEW embedding a PREPARE", "consensus_message", F.WRONG_EMBEDDED_KIND,
                       with_first_frame(framed(consensus_signing_message(chain_id(), prepare)))),
        MalformedInput("NEW_VIEW embedding a view change of another chain", "consensus_message", F.CHAIN_ID_MISMATCH,
                       with_first_frame(framed(other_chain))),
        MalformedInput("a transaction's signing message", "consensus_message", F.UNKNOWN_DOMAIN_TAG,
                       signing_message(chain_id(), lock)),
        MalformedInput("PREPARE under tag version v2", "consensus_message", F.UNKNOWN_DOMAIN_TAG,
                       message_bytes_with(prepare, tag=b"fedspec/v2/PREPARE\x00")),
        MalformedInput("PREPARE under a lowercase tag", "consensus_message", F.UNKNOWN_DOMAIN_TAG,
                       message_bytes_with(prepare, tag=b"fedspec/v1/prepare\x00")),
        MalformedInput("the BLOCK_HEADER tag", "consensus_message", F.UNKNOWN_DOMAIN_TAG,
                       domain_tag("BLOCK_HEADER") + header_bytes(generate.vector_block().header)),
        MalformedInput("NEW_VIEW embedding a view change with an unknown tag", "consensus_message", F.UNKNOWN_DOMAIN_TAG,
                       with_first_frame(framed(b"fedspec/v1/VIEW_CHANGES\x00" + embedded[0][len(domain_tag("VIEW_CHANGE")):]))),
    ]


def codes_integers_and_strings() -> list[MalformedInput]:
    F = DecodeFailure
    commit = generate.signed_sample_transactions()[1][1]
    lock = generate.signed_sample_transactions()[0][1]
    block = generate.vector_block()
    prepare = sample_message(Prepare)
    response = sample_message(BlockResponse)
    view_change = sample_message(ViewChange)
    bad_code_in_block = header_bytes(block.header) + encode_u32(1) + transaction_bytes_with(commit, type=encode_u8(9))
    bad_signers = certificate_bytes_with(view_change.checkpoint, signers=raw_replicas(2, 2))
    return [
        MalformedInput("type code 0", "transaction", F.UNKNOWN_TRANSACTION_TYPE, transaction_bytes_with(commit, type=encode_u8(0))),
        MalformedInput("type code 8", "transaction", F.UNKNOWN_TRANSACTION_TYPE, transaction_bytes_with(commit, type=encode_u8(8))),
        MalformedInput("type code 255", "transaction", F.UNKNOWN_TRANSACTION_TYPE, transaction_bytes_with(commit, type=encode_u8(255))),
        MalformedInput("block holding type code 9", "block", F.UNKNOWN_TRANSACTION_TYPE, bad_code_in_block),
        MalformedInput("sender MAX_REPLICAS", "consensus_message", F.INTEGER_OUT_OF_RANGE,
                       message_bytes_with(prepare, sender=encode_u16(MAX_REPLICAS))),
        MalformedInput("sender 65535", "consensus_message", F.INTEGER_OUT_OF_RANGE,
                       message_bytes_with(prepare, sender=encode_u16(0xFFFF))),
        MalformedInput("requester MAX_REPLICAS", "consensus_message", F.INTEGER_OUT_OF_RANGE,
                       message_bytes_with(response, requester=encode_u16(MAX_REPLICAS))),
        MalformedInput("signer MAX_REPLICAS in a commit certificate", "consensus_message", F.INTEGER_OUT_OF_RANGE,
                       message_bytes_with(response, certificate=certificate_bytes_with(
                           response.certificate, commits=raw_replicas(0, 1, MAX_REPLICAS)))),
        MalformedInput("commit certificate signers out of order", "consensus_message", F.NON_CANONICAL_REPLICA_SET,
                       message_bytes_with(response, certificate=certificate_bytes_with(
                           response.certificate, commits=raw_replicas(1, 0, 2)))),
        MalformedInput("commit certificate signer repeated", "consensus_message", F.NON_CANONICAL_REPLICA_SET,
                       message_bytes_with(response, certificate=certificate_bytes_with(
                           response.certificate, commits=raw_replicas(0, 1, 1)))),
        MalformedInput("checkpoint signer repeated in a VIEW_CHANGE", "consensus_message", F.NON_CANONICAL_REPLICA_SET,
                       message_bytes_with(view_change, checkpoint=bad_signers)),
        MalformedInput("non-ASCII transfer id", "transaction", F.NON_CANONICAL_STRING,
                       transaction_bytes_with(commit, transfer_id=raw_str("café".encode()))),
        MalformedInput("non-ASCII chain id", "consensus_message", F.NON_CANONICAL_STRING,
                       message_bytes_with(prepare, chain_id=raw_str(b"fedspec\xff"))),
        MalformedInput("non-ASCII proposer", "header", F.NON_CANONICAL_STRING,
                       header_bytes_with(block.header, proposer=raw_str(b"Th\x80r"))),
        MalformedInput("transfer id with a space", "transaction", F.INVALID_FIELD,
                       transaction_bytes_with(commit, transfer_id=encode_str("transfer 1"))),
        MalformedInput("empty transfer id", "transaction", F.INVALID_FIELD, transaction_bytes_with(commit, transfer_id=encode_str(""))),
        MalformedInput("agent without its lct prefix", "transaction", F.INVALID_FIELD,
                       transaction_bytes_with(lock, source_agent=encode_str("alice"))),
        MalformedInput("proposer with a '!'", "header", F.INVALID_FIELD, header_bytes_with(block.header, proposer=encode_str("Thor!"))),
        MalformedInput("chain id with a space", "consensus_message", F.INVALID_FIELD,
                       message_bytes_with(prepare, chain_id=encode_str("fedspec vectors"))),
        MalformedInput("invalid agent inside a BLOCK_RESPONSE's block", "consensus_message", F.INVALID_FIELD,
                       message_bytes_with(response, block=block_bytes_with_first(transaction_bytes_with(
                           lock, dest_agent=encode_str("lct:web4:agent:BOB"))))),
    ]


def block_bytes_with_first(first: bytes) -> bytes:
    """The vector block's bytes with its first transaction's bytes replaced."""
    block = generate.vector_block()
    out = header_bytes(block.header) + encode_u32(len(block.transactions)) + first
    for tx in block.transactions[1:]:
        out += transaction_bytes(tx)
    return out


def malformed_inputs() -> list[MalformedInput]:
    return (
        truncated_and_trailing() + lengths_over_bounds() + frames_tags_and_chains() + codes_integers_and_strings()
        + malformed_envelopes()
    )


# --- checking the vectors --------------------------------------------------------------------------------
def decoding_error(case: MalformedInput) -> DecodeError:
    """The decoder's error for a malformed vector; refuses to write a vector whose
    failure is not the one it is meant to show."""
    try:
        DECODERS[case.decoder](case.data)
    except DecodeError as error:
        if error.reason != case.failure:
            raise ValueError(f"decode vector {case.name!r} fails with {error}, not {case.failure}") from error
        return error
    raise ValueError(f"decode vector {case.name!r} is accepted by decode_{case.decoder}")


def checked_valid(case: ValidInput) -> ValidInput:
    if encode_decoded(case.decoder, DECODERS[case.decoder](case.data)) != case.data:
        raise ValueError(f"decode vector {case.name!r} does not re-encode to itself")
    return case


def decoder_corpus() -> list[bytes]:
    """Every vector's bytes, valid and malformed: what the fuzzer mutates."""
    return [case.data for case in valid_inputs()] + [case.data for case in malformed_inputs()]
