"""Decoding: canonical bytes back to typed values, the exact inverse of the encoders.

`decode_transaction`, `decode_header`, `decode_block` and `decode_consensus_message`
read what `transaction_bytes`, `header_bytes`, `block_bytes` and
`consensus_signing_message` write (`spec.wire.encoding`, `spec.wire.message_encoding`).

The decoder is strict: it accepts exactly the byte strings the encoders can
produce. For every value, `decode(encode(value)) == value`; for every accepted
input, `encode(decode(data)) == data`. Anything else is refused with a
`DecodeError`, whose `reason` names the failure (`DecodeFailure`) and whose message
gives the byte offset and the path of the field. Nothing else is ever raised.

It decodes *shape*, not *validity*. A block whose transaction root disagrees with
its transactions, a PRE_PREPARE whose digest is not its block's hash, a
certificate without a quorum, a replica id outside the genesis group: all decode,
and the ledger or the replica refuses them. Decoding checks only what makes the
bytes the one encoding of one value: counts and lengths within their bounds
(`spec.constants`), known type codes and domain tags, replica ids below
`MAX_REPLICAS`, ASCII strings that match their wire patterns, strictly ascending
replica sets, embedded view changes that fill their frames and name the outer
chain, and no byte after the end.

Checks are made in reading order, left to right, and the first failure is the one
reported; the fields of a transaction and of a block header are checked against
their wire types (`spec.wire.types`) once the whole transaction or header is read.
An input longer than `MAX_MESSAGE_BYTES` is refused before any byte is read.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from spec.constants import (
    CHAIN_ID_PATTERN,
    MAX_BLOCK_TRANSACTIONS,
    MAX_ENVELOPE_SIGNATURES,
    MAX_MESSAGE_BYTES,
    MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE,
    MAX_PROPOSALS_PER_NEW_VIEW,
    MAX_REPLICAS,
    MAX_VIEW_CHANGES_PER_NEW_VIEW,
    MAX_WIRE_STRING_BYTES,
    SIGNATURE_BYTES,
)
from spec.wire.encoding import SIGNED_FIELDS, TRANSACTION_TYPE_CODES, FieldKind, domain_tag
from spec.wire.envelope import SignedEnvelope, authenticated_message
from spec.wire.message_encoding import (
    CERTIFICATE_FIELDS,
    CONSENSUS_FIELDS,
    CONSENSUS_MESSAGE_KINDS,
    ConsensusFieldKind,
)
from spec.wire.messages import (
    CheckpointCertificate,
    CommitCertificate,
    Message,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    BlockHeader,
    ExecutionProof,
    FederationTask,
    ReputationUpdate,
    WireModel,
)


# --- failures ---------------------------------------------------------------------------
class DecodeFailure(StrEnum):
    """Why bytes were refused: each name is one way an input fails to be the
    canonical encoding of a value."""

    TRUNCATED = "TRUNCATED"
    """The input ends inside a field: the field needs more bytes than remain."""
    TRAILING_BYTES = "TRAILING_BYTES"
    """Bytes remain after the last field of the value."""
    LENGTH_OVER_BOUND = "LENGTH_OVER_BOUND"
    """A count or a byte length is over its bound: a string over
    `MAX_WIRE_STRING_BYTES`, a block over `MAX_BLOCK_TRANSACTIONS`, a replica set
    over `MAX_REPLICAS`, a list of view changes, proposals or prepared
    certificates over its `MAX_..._PER_...` bound, an embedded view change or the
    whole input over `MAX_MESSAGE_BYTES`."""
    LENGTH_MISMATCH = "LENGTH_MISMATCH"
    """An embedded view change does not fill its length prefix exactly: its
    signing message ends before the frame does, or needs bytes beyond it."""
    UNKNOWN_TRANSACTION_TYPE = "UNKNOWN_TRANSACTION_TYPE"
    """A transaction's type code is none of `TRANSACTION_TYPE_CODES`."""
    UNKNOWN_DOMAIN_TAG = "UNKNOWN_DOMAIN_TAG"
    """A consensus message does not start with the domain tag of a consensus
    message kind (another tag, such as a transaction's, is unknown here too)."""
    WRONG_EMBEDDED_KIND = "WRONG_EMBEDDED_KIND"
    """A NEW_VIEW embeds the signing message of another kind than VIEW_CHANGE."""
    CHAIN_ID_MISMATCH = "CHAIN_ID_MISMATCH"
    """A NEW_VIEW embeds a view change signed for another chain than its own, or an
    envelope arrives for another chain than the node's."""
    INTEGER_OUT_OF_RANGE = "INTEGER_OUT_OF_RANGE"
    """A replica id (a sender, a requester, a member of a replica set) is not
    below `MAX_REPLICAS`."""
    NON_CANONICAL_STRING = "NON_CANONICAL_STRING"
    """A string holds a byte outside ASCII: no wire string encodes to it."""
    NON_CANONICAL_REPLICA_SET = "NON_CANONICAL_REPLICA_SET"
    """A replica set is not strictly ascending: an id repeated, or ids out of
    order. A set has one encoding, ascending, and this is not it."""
    INVALID_FIELD = "INVALID_FIELD"
    """A value the wire types refuse: a string that does not match its pattern
    (`spec.wire.types`), a chain id that does not match `CHAIN_ID_PATTERN`."""


class DecodeError(Exception):
    """The input is not the canonical encoding of a value: `reason` names why,
    `offset` is the byte where the decoder found it, `detail` says which field."""

    def __init__(self, reason: DecodeFailure, offset: int, detail: str) -> None:
        super().__init__(f"{reason.value} at byte {offset}: {detail}")
        self.reason = reason
        self.offset = offset
        self.detail = detail


# --- reading ----------------------------------------------------------------------------
@dataclass
class Reader:
    """Reads one input left to right. `position` and `end` are offsets into the
    whole input, so every error names the byte where it happened. `frame` is empty
    for the input itself; inside an embedded view change it is that view change's
    path, and `end` is the end of its length-prefixed frame."""

    data: bytes
    position: int
    end: int
    frame: str = ""


def out_of_bytes(reader: Reader, needed: int, path: str) -> DecodeError:
    """The error for a field that needs more bytes than are left: the input is
    TRUNCATED, or, inside an embedded view change, its length prefix is wrong."""
    left = reader.end - reader.position
    if reader.frame:
        return DecodeError(
            DecodeFailure.LENGTH_MISMATCH, reader.position,
            f"{path} needs {needed} bytes, but the length prefix of {reader.frame} leaves {left}",
        )
    return DecodeError(DecodeFailure.TRUNCATED, reader.position, f"{path} needs {needed} bytes, {left} remain")


def take(reader: Reader, count: int, path: str) -> bytes:
    if count > reader.end - reader.position:
        raise out_of_bytes(reader, count, path)
    start = reader.position
    reader.position = start + count
    return reader.data[start:reader.position]


def require_end(reader: Reader, path: str) -> None:
    """Nothing may follow the last field: not in the input (TRAILING_BYTES), not in
    an embedded view change's frame (LENGTH_MISMATCH)."""
    left = reader.end - reader.position
    if left == 0:
        return
    if reader.frame:
        raise DecodeError(
            DecodeFailure.LENGTH_MISMATCH, reader.position,
            f"{reader.frame} ends {left} byte(s) before its length prefix says",
        )
    raise DecodeError(DecodeFailure.TRAILING_BYTES, reader.position, f"{left} byte(s) follow the end of {path}")


def require_within_bound(value: int, bound: int, offset: int, what: str) -> None:
    if value > bound:
        raise DecodeError(DecodeFailure.LENGTH_OVER_BOUND, offset, f"{what} is {value}, over its bound {bound}")


# --- primitives -------------------------------------------------------------------------
def read_unsigned(reader: Reader, width: int, path: str) -> int:
    """An unsigned big-endian integer of `width` bytes (u8, u16, u32, u64)."""
    return int.from_bytes(take(reader, width, path), "big")


def read_count(reader: Reader, width: int, bound: int, path: str) -> int:
    """The count in front of a list, checked against its bound before any item is read."""
    offset = reader.position
    count = read_unsigned(reader, width, f"the count of {path}")
    require_within_bound(count, bound, offset, f"the count of {path}")
    return count


def require_ascii(raw: bytes, offset: int, path: str) -> None:
    for index, byte in enumerate(raw):
        if byte > 0x7F:
            raise DecodeError(
                DecodeFailure.NON_CANONICAL_STRING, offset + index, f"{path} holds byte 0x{byte:02x}, which is not ASCII"
            )


def read_str(reader: Reader, path: str) -> str:
    """A u16 byte length (at most MAX_WIRE_STRING_BYTES), then that many ASCII bytes."""
    offset = reader.position
    length = read_unsigned(reader, 2, f"the length of {path}")
    require_within_bound(length, MAX_WIRE_STRING_BYTES, offset, f"the length of {path}")
    raw = take(reader, length, path)
    require_ascii(raw, offset + 2, path)
    return raw.decode("ascii")


def read_hash(reader: Reader, path: str) -> str:
    """32 raw bytes, as the 64 lowercase hex digits of the wire types."""
    return take(reader, 32, path).hex()


def read_field(reader: Reader, kind: FieldKind, path: str) -> int | str:
    if kind == "u64":
        return read_unsigned(reader, 8, path)
    if kind == "str":
        return read_str(reader, path)
    return read_hash(reader, path)


def read_fields(
    reader: Reader, fields: tuple[tuple[str, FieldKind], ...], path: str, values: dict[str, object],
    offsets: dict[str, int],
) -> None:
    """Read `fields` in order into `values`, noting where each starts in `offsets`."""
    for name, kind in fields:
        offsets[name] = reader.position
        values[name] = read_field(reader, kind, f"{path}.{name}")


ModelT = TypeVar("ModelT", bound=WireModel)


def checked_model(model: type[ModelT], values: dict[str, object], offsets: dict[str, int], path: str) -> ModelT:
    """`values` as the wire type `model`, or INVALID_FIELD naming the first field it refuses."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        offset = offsets.get(field, min(offsets.values()))
        raise DecodeError(DecodeFailure.INVALID_FIELD, offset, f"{path}.{field}: {first['msg']}") from None


# --- transactions and blocks ------------------------------------------------------------
TRANSACTION_CLASSES: dict[str, type[AnyTransaction]] = {
    "ATP_TRANSFER_LOCK": AtpTransferLock,
    "ATP_TRANSFER_COMMIT": AtpTransferCommit,
    "ATP_TRANSFER_ROLLBACK": AtpTransferRollback,
    "BALANCE_SET": BalanceSet,
    "FEDERATION_TASK": FederationTask,
    "EXECUTION_PROOF": ExecutionProof,
    "REPUTATION_UPDATE": ReputationUpdate,
}
"""The wire type of each transaction type name (the keys of `TRANSACTION_TYPE_CODES`)."""

HEADER_FIELDS: tuple[tuple[str, FieldKind], ...] = (
    ("height", "u64"),
    ("previous_hash", "hash"),
    ("timestamp_ms", "u64"),
    ("proposer", "str"),
    ("transaction_root", "hash"),
)
"""The fields of `header_bytes`, in its order."""

"""An Ed25519 signature: 64 raw bytes."""


def transaction_type_named(code: int, offset: int, path: str) -> str:
    """The transaction type whose code is `code`."""
    for name, known in TRANSACTION_TYPE_CODES.items():
        if known == code:
            return name
    raise DecodeError(
        DecodeFailure.UNKNOWN_TRANSACTION_TYPE, offset,
        f"{path} has type code {code}, which is no transaction type (codes are {sorted(TRANSACTION_TYPE_CODES.values())})",
    )


def read_transaction(reader: Reader, path: str) -> AnyTransaction:
    """u8 type code, the type's SIGNED_FIELDS in order, the 64-byte signature."""
    start = reader.position
    code = read_unsigned(reader, 1, f"{path}.type")
    type_name = transaction_type_named(code, start, path)
    values: dict[str, object] = {"type": type_name}
    offsets: dict[str, int] = {"type": start}
    read_fields(reader, SIGNED_FIELDS[type_name], path, values, offsets)
    offsets["signature"] = reader.position
    values["signature"] = take(reader, SIGNATURE_BYTES, f"{path}.signature").hex()
    return checked_model(TRANSACTION_CLASSES[type_name], values, offsets, path)


def read_header(reader: Reader, path: str) -> BlockHeader:
    values: dict[str, object] = {}
    offsets: dict[str, int] = {}
    read_fields(reader, HEADER_FIELDS, path, values, offsets)
    return checked_model(BlockHeader, values, offsets, path)


def read_block(reader: Reader, path: str) -> Block:
    """The header, a u32 transaction count (at most MAX_BLOCK_TRANSACTIONS), then
    each transaction. The transaction root is not checked against the
    transactions: that is the block's validity, which the ledger decides."""
    start = reader.position
    header = read_header(reader, f"{path}.header")
    transactions_offset = reader.position
    count = read_count(reader, 4, MAX_BLOCK_TRANSACTIONS, f"{path}.transactions")
    transactions: list[AnyTransaction] = []
    for index in range(count):
        transactions.append(read_transaction(reader, f"{path}.transactions[{index}]"))
    values: dict[str, object] = {"header": header, "transactions": tuple(transactions)}
    return checked_model(Block, values, {"header": start, "transactions": transactions_offset}, path)


# --- consensus messages -----------------------------------------------------------------
MESSAGE_CLASSES: dict[str, type] = {kind: message_class for message_class, kind in CONSENSUS_MESSAGE_KINDS.items()}
"""The message class of each consensus message kind."""

LONGEST_TAG_SHOWN = 40
"""How many bytes of an unknown domain tag an error message quotes."""


def read_replica_id(reader: Reader, path: str) -> int:
    offset = reader.position
    replica = read_unsigned(reader, 2, path)
    require_replica_in_range(replica, offset, path)
    return replica


def require_replica_in_range(replica: int, offset: int, path: str) -> None:
    if replica >= MAX_REPLICAS:
        raise DecodeError(
            DecodeFailure.INTEGER_OUT_OF_RANGE, offset, f"{path} is replica {replica}; replica ids are below {MAX_REPLICAS}"
        )


def require_ascending(before: list[int], replica: int, offset: int, path: str) -> None:
    if before and replica <= before[-1]:
        what = "repeats" if replica == before[-1] else "comes after"
        raise DecodeError(
            DecodeFailure.NON_CANONICAL_REPLICA_SET, offset,
            f"{path}: replica {replica} {what} {before[-1]}; a replica set is encoded strictly ascending",
        )


def read_replica_set(reader: Reader, path: str) -> frozenset[int]:
    """u16 count (at most MAX_REPLICAS), then the replica ids, strictly ascending."""
    count = read_count(reader, 2, MAX_REPLICAS, path)
    replicas: list[int] = []
    for index in range(count):
        offset = reader.position
        replica = read_replica_id(reader, f"{path}[{index}]")
        require_ascending(replicas, replica, offset, path)
        replicas.append(replica)
    return frozenset(replicas)


def read_domain_tag(reader: Reader, path: str) -> str:
    """The consensus message kind whose domain tag comes next. Tags end with a zero
    byte that no tag holds elsewhere, so at most one tag matches."""
    start = reader.position
    for kind in CONSENSUS_FIELDS:
        tag = domain_tag(kind)
        if reader.data.startswith(tag, start, reader.end):
            reader.position = start + len(tag)
            return kind
    left = reader.data[start:reader.end]
    for kind in CONSENSUS_FIELDS:
        if domain_tag(kind).startswith(left):
            raise out_of_bytes(reader, len(domain_tag(kind)), f"the domain tag of {path}")
    shown = left[:LONGEST_TAG_SHOWN].split(b"\x00")[0]
    raise DecodeError(
        DecodeFailure.UNKNOWN_DOMAIN_TAG, start, f"{path} starts with {shown!r}, the domain tag of no consensus message kind"
    )


def require_pattern(value: str, pattern: str, offset: int, path: str) -> None:
    if re.fullmatch(pattern, value) is None:
        raise DecodeError(DecodeFailure.INVALID_FIELD, offset, f"{path}: {value!r} does not match {pattern}")


def read_chain_id(reader: Reader, path: str) -> str:
    offset = reader.position
    chain_id = read_str(reader, f"{path}.chain_id")
    require_pattern(chain_id, CHAIN_ID_PATTERN, offset, f"{path}.chain_id")
    return chain_id


def require_embedded_kind(kind: str, offset: int, path: str) -> None:
    if kind != "VIEW_CHANGE":
        raise DecodeError(DecodeFailure.WRONG_EMBEDDED_KIND, offset, f"{path} is a {kind}, not a VIEW_CHANGE")


def require_same_chain(embedded: str, outer: str, offset: int, path: str) -> None:
    if embedded != outer:
        raise DecodeError(
            DecodeFailure.CHAIN_ID_MISMATCH, offset, f"{path} is for chain {embedded!r}, inside a message for {outer!r}"
        )


def read_embedded_view_change(reader: Reader, chain_id: str, path: str) -> ViewChange:
    """u32 byte length, then a whole VIEW_CHANGE signing message for the same chain,
    filling exactly that many bytes."""
    offset = reader.position
    length = read_unsigned(reader, 4, f"the length of {path}")
    require_within_bound(length, MAX_MESSAGE_BYTES, offset, f"the length of {path}")
    if length > reader.end - reader.position:
        raise out_of_bytes(reader, length, path)
    frame = Reader(reader.data, reader.position, reader.position + length, frame=path)
    kind = read_domain_tag(frame, path)
    require_embedded_kind(kind, offset + 4, path)
    chain_offset = frame.position
    embedded_chain_id = read_chain_id(frame, path)
    require_same_chain(embedded_chain_id, chain_id, chain_offset, path)
    values = read_consensus_fields(frame, chain_id, CONSENSUS_FIELDS["VIEW_CHANGE"], path)
    require_end(frame, path)
    reader.position = frame.end
    return ViewChange(**values)


def read_consensus_fields(
    reader: Reader, chain_id: str, fields: tuple[tuple[str, ConsensusFieldKind], ...], path: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind in fields:
        values[name] = read_consensus_field(reader, chain_id, kind, f"{path}.{name}")
    return values


def read_consensus_field(reader: Reader, chain_id: str, kind: ConsensusFieldKind, path: str) -> object:
    """One field of a consensus message or certificate: the inverse of
    `encode_consensus_field`, branch for branch."""
    if kind == "u16":
        return read_replica_id(reader, path)
    if kind == "u64":
        return read_unsigned(reader, 8, path)
    if kind == "hash":
        return read_hash(reader, path)
    if kind == "block":
        return read_block(reader, path)
    if kind == "replicas":
        return read_replica_set(reader, path)
    if kind == "pre_prepare":
        return PrePrepare(**read_consensus_fields(reader, chain_id, CONSENSUS_FIELDS["PRE_PREPARE"], path))
    if kind == "checkpoint_certificate":
        return CheckpointCertificate(**read_consensus_fields(reader, chain_id, CERTIFICATE_FIELDS[CheckpointCertificate], path))
    if kind == "commit_certificate":
        return CommitCertificate(**read_consensus_fields(reader, chain_id, CERTIFICATE_FIELDS[CommitCertificate], path))
    if kind == "pre_prepares":
        count = read_count(reader, 2, MAX_PROPOSALS_PER_NEW_VIEW, path)
        proposals: list[object] = []
        for index in range(count):
            proposals.append(read_consensus_field(reader, chain_id, "pre_prepare", f"{path}[{index}]"))
        return tuple(proposals)
    if kind == "prepared_certificates":
        count = read_count(reader, 2, MAX_PREPARED_CERTIFICATES_PER_VIEW_CHANGE, path)
        certificates: list[PreparedCertificate] = []
        for index in range(count):
            fields = CERTIFICATE_FIELDS[PreparedCertificate]
            certificates.append(PreparedCertificate(**read_consensus_fields(reader, chain_id, fields, f"{path}[{index}]")))
        return tuple(certificates)
    assert kind == "view_changes"
    count = read_count(reader, 2, MAX_VIEW_CHANGES_PER_NEW_VIEW, path)
    view_changes: list[ViewChange] = []
    for index in range(count):
        view_changes.append(read_embedded_view_change(reader, chain_id, f"{path}[{index}]"))
    return tuple(view_changes)


def read_signing_message(reader: Reader, path: str) -> tuple[str, Message]:
    """Domain tag of a consensus message kind, str chain id, the kind's CONSENSUS_FIELDS."""
    kind = read_domain_tag(reader, path)
    chain_id = read_chain_id(reader, kind)
    values = read_consensus_fields(reader, chain_id, CONSENSUS_FIELDS[kind], kind)
    message: Message = MESSAGE_CLASSES[kind](**values)
    return chain_id, message


# --- decoders ---------------------------------------------------------------------------
ValueT = TypeVar("ValueT")


def decode_whole(data: bytes, read: Callable[[Reader, str], ValueT], path: str) -> ValueT:
    """Read one value that must fill `data` exactly."""
    require_within_bound(len(data), MAX_MESSAGE_BYTES, 0, "the input length")
    reader = Reader(data, 0, len(data))
    value = read(reader, path)
    require_end(reader, path)
    return value


def decode_transaction(data: bytes) -> AnyTransaction:
    """The transaction whose `transaction_bytes` are `data`."""
    return decode_whole(data, read_transaction, "transaction")


def decode_header(data: bytes) -> BlockHeader:
    """The block header whose `header_bytes` are `data`."""
    return decode_whole(data, read_header, "header")


def decode_block(data: bytes) -> Block:
    """The block whose `block_bytes` are `data` (shape only: its transaction root is not checked)."""
    return decode_whole(data, read_block, "block")


def decode_consensus_message(data: bytes) -> tuple[str, Message]:
    """The chain id and the message whose `consensus_signing_message` is `data`."""
    return decode_whole(data, read_signing_message, "the message")


def read_envelope(reader: Reader, path: str) -> tuple[str, SignedEnvelope]:
    """u32 length and the signing message filling exactly that many bytes, then u32
    count and that many 64-byte signatures (`spec.wire.envelope.envelope_bytes`)."""
    offset = reader.position
    length = read_unsigned(reader, 4, f"the length of {path}.message")
    require_within_bound(length, MAX_MESSAGE_BYTES, offset, f"the length of {path}.message")
    if length > reader.end - reader.position:
        raise out_of_bytes(reader, length, f"{path}.message")
    frame = Reader(reader.data, reader.position, reader.position + length, frame=f"{path}.message")
    chain_id, message = read_signing_message(frame, f"{path}.message")
    require_end(frame, f"{path}.message")
    reader.position = frame.end
    count = read_count(reader, 4, MAX_ENVELOPE_SIGNATURES, f"{path}.signatures")
    signatures: list[str] = []
    for index in range(count):
        signatures.append(take(reader, SIGNATURE_BYTES, f"{path}.signatures[{index}]").hex())
    return chain_id, SignedEnvelope(message, tuple(signatures))


def decode_envelope(data: bytes) -> tuple[str, SignedEnvelope]:
    """The chain id and the signed envelope whose `envelope_bytes` are `data`. Shape
    only: `spec.wire.envelope.verify_envelope` checks the signatures."""
    return decode_whole(data, read_envelope, "envelope")


ENVELOPE_CHAIN_OFFSET = 4
"""Where an envelope's message starts, after its u32 length: a wrong chain is reported there."""


def authenticated_message_from_bytes(chain_id: str, platform_keys: tuple[str, ...], data: bytes) -> Message:
    """What a node's boundary calls on every frame it receives, once: the message,
    decoded and authenticated, for the replica's step function. Raises `DecodeError`
    for bytes that are not an envelope or an envelope for another chain, and
    `spec.wire.envelope.AuthenticationError` for one whose signatures fail."""
    envelope_chain_id, envelope = decode_envelope(data)
    if envelope_chain_id != chain_id:
        raise DecodeError(
            DecodeFailure.CHAIN_ID_MISMATCH, ENVELOPE_CHAIN_OFFSET,
            f"the envelope is for chain {envelope_chain_id!r}, this node is on {chain_id!r}",
        )
    return authenticated_message(chain_id, platform_keys, envelope)
