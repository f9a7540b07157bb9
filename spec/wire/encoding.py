"""Canonical bytes: the one byte encoding of everything that is signed or hashed.

The encoding is a fixed-order concatenation of fields, with no field names and no
optional parts, so every value has exactly one encoding:

* ``u8``, ``u16``, ``u32``, ``u64``: unsigned big-endian integers of 1, 2, 4 and 8 bytes;
* ``str``: a u16 big-endian byte length, then the ASCII bytes (every string on
  the wire is ASCII by its schema pattern);
* ``hash``: the 32 raw bytes of a 64-hex-digit hash;
* ``sig``: the 64 raw bytes of an Ed25519 signature.

A transaction's fields are encoded in the order of `SIGNED_FIELDS`. What is
signed is the domain tag of its type, then the chain id, then those fields; what
is hashed adds the type code in front and the signature at the end.

Consensus messages are signed the same way (`spec.wire.message_encoding`), and the
ledger state is hashed from its records (`spec.wire.state_root`); both build on the
primitives here.
"""

import hashlib
from typing import Literal

from spec.wire.types import AnyTransaction, Block, BlockHeader

FieldKind = Literal["u64", "str", "hash"]

DOMAIN_PREFIX = "fedspec/v1/"

TRANSACTION_TYPE_CODES: dict[str, int] = {
    "ATP_TRANSFER_LOCK": 1,
    "ATP_TRANSFER_COMMIT": 2,
    "ATP_TRANSFER_ROLLBACK": 3,
    "BALANCE_SET": 4,
    "FEDERATION_TASK": 5,
    "EXECUTION_PROOF": 6,
    "REPUTATION_UPDATE": 7,
}

SIGNED_FIELDS: dict[str, tuple[tuple[str, FieldKind], ...]] = {
    "ATP_TRANSFER_LOCK": (
        ("transfer_id", "str"),
        ("source_platform", "str"),
        ("source_agent", "str"),
        ("dest_platform", "str"),
        ("dest_agent", "str"),
        ("amount", "u64"),
        ("timeout_ms", "u64"),
    ),
    "ATP_TRANSFER_COMMIT": (
        ("transfer_id", "str"),
        ("platform", "str"),
    ),
    "ATP_TRANSFER_ROLLBACK": (
        ("transfer_id", "str"),
        ("platform", "str"),
    ),
    "BALANCE_SET": (
        ("set_id", "str"),
        ("agent", "str"),
        ("balance", "u64"),
    ),
    "FEDERATION_TASK": (
        ("task_id", "str"),
        ("delegating_platform", "str"),
        ("delegating_agent", "str"),
        ("executing_platform", "str"),
        ("executing_agent", "str"),
        ("cost", "u64"),
        ("quality_threshold_bp", "u64"),
        ("timeout_ms", "u64"),
        ("task_data_hash", "hash"),
    ),
    "EXECUTION_PROOF": (
        ("task_id", "str"),
        ("executing_platform", "str"),
        ("executing_agent", "str"),
        ("quality_bp", "u64"),
        ("execution_time_ms", "u64"),
        ("result_hash", "hash"),
    ),
    "REPUTATION_UPDATE": (
        ("update_id", "str"),
        ("task_id", "str"),
        ("platform", "str"),
        ("quality_bp", "u64"),
        ("reputation_bp", "u64"),
        ("reporter_platform", "str"),
    ),
}


# --- primitive encoders --------------------------------------------------------------
def encode_u8(value: int) -> bytes:
    return value.to_bytes(1, "big")


def encode_u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def encode_u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def encode_u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def encode_str(value: str) -> bytes:
    raw = value.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def encode_hash(value: str) -> bytes:
    raw = bytes.fromhex(value)
    if len(raw) != 32:
        raise ValueError("a hash is exactly 32 bytes")
    return raw


def encode_field(value: object, kind: FieldKind) -> bytes:
    if kind == "u64":
        assert isinstance(value, int)
        return encode_u64(value)
    if kind == "str":
        assert isinstance(value, str)
        return encode_str(value)
    assert isinstance(value, str)
    return encode_hash(value)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def domain_tag(name: str) -> bytes:
    """The domain-separation tag: ASCII ``fedspec/v1/<NAME>`` and a zero byte.

    Every signed or hashed message starts with the tag of its kind, so a signature
    made for one message type can never verify as another."""
    return (DOMAIN_PREFIX + name).encode("ascii") + b"\x00"


# --- transactions -----------------------------------------------------------------
def transaction_type(tx: AnyTransaction) -> str:
    value = tx.type
    assert isinstance(value, str)
    return value


def signed_body(tx: AnyTransaction) -> bytes:
    """The transaction's fields, without type and signature, in canonical order."""
    out = b""
    for name, kind in SIGNED_FIELDS[transaction_type(tx)]:
        out += encode_field(getattr(tx, name), kind)
    return out


def signing_message(chain_id: str, tx: AnyTransaction) -> bytes:
    """The exact bytes the authorized key signs: tag, chain id, fields."""
    return domain_tag(transaction_type(tx)) + encode_str(chain_id) + signed_body(tx)


def transaction_bytes(tx: AnyTransaction) -> bytes:
    """The transaction as hashed: type code, fields, signature."""
    signature = bytes.fromhex(tx.signature)
    return encode_u8(TRANSACTION_TYPE_CODES[transaction_type(tx)]) + signed_body(tx) + signature


def transaction_hash(tx: AnyTransaction) -> bytes:
    return sha256(transaction_bytes(tx))


def transaction_root(transactions: tuple[AnyTransaction, ...]) -> str:
    """SHA-256 of the TRANSACTION_ROOT tag, the u32 count, then each transaction hash."""
    data = domain_tag("TRANSACTION_ROOT") + encode_u32(len(transactions))
    for tx in transactions:
        data += transaction_hash(tx)
    return sha256(data).hex()


# --- blocks -------------------------------------------------------------------------
def header_bytes(header: BlockHeader) -> bytes:
    return (
        encode_u64(header.height)
        + encode_hash(header.previous_hash)
        + encode_u64(header.timestamp_ms)
        + encode_str(header.proposer)
        + encode_hash(header.transaction_root)
    )


def block_hash(header: BlockHeader) -> str:
    """SHA-256 of the BLOCK_HEADER tag and the header's canonical bytes."""
    return sha256(domain_tag("BLOCK_HEADER") + header_bytes(header)).hex()


def block_id(block: Block) -> str:
    return block_hash(block.header)
