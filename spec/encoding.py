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

PBFT consensus messages (`spec.pbft`) are signed the same way: the domain tag of
their kind, the chain id, then their fields in the order of `CONSENSUS_FIELDS`
(section "consensus messages" at the end of this module).
"""

import hashlib
from typing import TYPE_CHECKING, Literal

from spec.state import LedgerState
from spec.types import AnyTransaction, Block, BlockHeader

if TYPE_CHECKING:
    # For annotations only: spec.pbft imports this module, so importing it at run
    # time would be a cycle. The encoder reads messages through CONSENSUS_FIELDS.
    from spec.pbft import Message

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


# --- ledger state -------------------------------------------------------------------
TRANSFER_STATUS_CODES: dict[str, int] = {"LOCKED": 1, "COMMITTED": 2, "ROLLED_BACK": 3, "EXPIRED": 4}
TASK_STATUS_CODES: dict[str, int] = {"PENDING": 1, "COMPLETED": 2, "FAILED": 3, "EXPIRED": 4}
SETTLEMENT_CAUSE_CODES: dict[str, int] = {"COMMIT": 1, "ROLLBACK": 2, "PROOF": 3, "EXPIRY": 4}


def encode_optional_u64(value: int | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_u64(value)


def encode_optional_str(value: str | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_str(value)


def encode_id_set(ids: set[str]) -> bytes:
    out = encode_u32(len(ids))
    for item in sorted(ids):
        out += encode_str(item)
    return out


def state_bytes(state: LedgerState) -> bytes:
    """The canonical bytes of a ledger state. Every collection is sorted by key
    (ASCII byte order) and prefixed by its u32 count; enums are u8 codes; an
    optional value is a u8 presence flag (0 or 1) followed by the value."""
    out = domain_tag("STATE")
    out += encode_u64(state.height) + encode_hash(state.last_block_hash) + encode_u64(state.last_timestamp_ms)

    out += encode_u32(len(state.accounts))
    for agent in sorted(state.accounts):
        account = state.accounts[agent]
        out += encode_str(agent) + encode_str(account.platform)
        out += encode_u64(account.total) + encode_u64(account.locked)

    out += encode_u32(len(state.transfers))
    for transfer_id in sorted(state.transfers):
        t = state.transfers[transfer_id]
        out += encode_str(t.transfer_id)
        out += encode_str(t.source_agent) + encode_str(t.source_platform)
        out += encode_str(t.dest_agent) + encode_str(t.dest_platform)
        out += encode_u64(t.amount) + encode_u64(t.timeout_ms)
        out += encode_u64(t.created_at_ms) + encode_u64(t.expires_at_ms)
        out += encode_u8(TRANSFER_STATUS_CODES[t.status.value])
        out += encode_u8(1 if t.task_linked else 0)
        out += encode_u8(0 if t.settled_by is None else SETTLEMENT_CAUSE_CODES[t.settled_by.value])

    out += encode_u32(len(state.tasks))
    for task_id in sorted(state.tasks):
        k = state.tasks[task_id]
        out += encode_str(k.task_id)
        out += encode_str(k.delegating_platform) + encode_str(k.delegating_agent)
        out += encode_str(k.executing_platform) + encode_str(k.executing_agent)
        out += encode_u64(k.cost) + encode_u64(k.quality_threshold_bp) + encode_u64(k.timeout_ms)
        out += encode_hash(k.task_data_hash)
        out += encode_u64(k.created_at_ms) + encode_u64(k.deadline_ms)
        out += encode_u8(TASK_STATUS_CODES[k.status.value])
        if k.proof is None:
            out += encode_u8(0)
        else:
            p = k.proof
            out += encode_u8(1) + encode_str(p.executing_agent) + encode_u64(p.quality_bp)
            out += encode_u64(p.execution_time_ms) + encode_hash(p.result_hash) + encode_u64(p.landed_at_ms)
        out += encode_optional_u64(k.settled_quality_bp)
        out += encode_optional_str(k.reputation_update_id)

    out += encode_u32(len(state.balance_sets))
    for set_id in sorted(state.balance_sets):
        b = state.balance_sets[set_id]
        out += encode_str(b.set_id) + encode_str(b.agent) + encode_u64(b.balance)

    out += encode_u32(len(state.reputation_updates))
    for update_id in sorted(state.reputation_updates):
        r = state.reputation_updates[update_id]
        out += encode_str(r.update_id) + encode_str(r.task_id) + encode_str(r.platform)
        out += encode_u64(r.quality_bp) + encode_u64(r.reputation_bp) + encode_str(r.reporter_platform)

    out += encode_u32(len(state.reputations))
    for platform in sorted(state.reputations):
        out += encode_str(platform) + encode_u64(state.reputations[platform])

    out += encode_id_set(state.failed_transfer_ids)
    out += encode_id_set(state.failed_set_ids)
    out += encode_id_set(state.failed_update_ids)
    return out


def state_root(state: LedgerState) -> str:
    """SHA-256 of the canonical state bytes: what replicas compare.

    Raises OverflowError for a state no correct ledger reaches (a negative or
    over-wide integer), which has no canonical bytes."""
    return sha256(state_bytes(state)).hex()


UNENCODABLE_ROOT = "unencodable"
"""Shown instead of a root for a state that has no canonical bytes."""


def displayed_state_root(state: LedgerState) -> str:
    """The state root, or UNENCODABLE_ROOT for a state a broken ledger made."""
    try:
        return state_root(state)
    except OverflowError:
        return UNENCODABLE_ROOT


# --- consensus messages -------------------------------------------------------------
# Every PBFT message (spec.pbft) is signed by its sender over
#
#     domain_tag(KIND) || str(chain_id) || its fields, in the order of CONSENSUS_FIELDS[KIND]
#
# Each field is self-delimiting (fixed width, or prefixed by a count or a length),
# so the bytes of one message can be read back in exactly one way.
#
# Certificates carry signer sets, not signatures. On the wire every certificate is
# accompanied by one signature per signer, each over the signing message of the
# vote it stands for:
#   * CheckpointCertificate(height, state_root, signers): CHECKPOINT(height, state_root, signer);
#   * CommitCertificate(view, height, digest, commits): COMMIT(view, height, digest, signer);
#   * PreparedCertificate(pre_prepare, prepares): the pre-prepare's own signature for
#     its sender (the primary's vote is its PRE_PREPARE) and PREPARE(view, height,
#     digest, signer) for every other signer.
# The wire boundary verifies them; the step functions of spec.pbft see only the
# signer sets. The genesis checkpoint (height 0) has no signers and no signatures.

ConsensusFieldKind = Literal[
    "u16",
    "u64",
    "hash",
    "block",
    "replicas",
    "pre_prepare",
    "pre_prepares",
    "checkpoint_certificate",
    "commit_certificate",
    "prepared_certificates",
    "view_changes",
]

CONSENSUS_FIELD_ENCODINGS: dict[ConsensusFieldKind, str] = {
    "u16": "unsigned big-endian integer, 2 bytes (replica ids)",
    "u64": "unsigned big-endian integer, 8 bytes (views, heights)",
    "hash": "the 32 raw bytes of a 64-hex-digit hash",
    "block": "header bytes, then u32 transaction count, then the transaction bytes of each transaction in block order",
    "replicas": "u16 count, then each replica id as u16, ascending",
    "pre_prepare": "the PRE_PREPARE fields in their order (no domain tag, no chain id)",
    "pre_prepares": "u16 count, then each as pre_prepare",
    "checkpoint_certificate": "the CheckpointCertificate fields in their order",
    "commit_certificate": "the CommitCertificate fields in their order",
    "prepared_certificates": "u16 count, then the PreparedCertificate fields of each, in their order",
    "view_changes": "u16 count, then for each view change: u32 byte length, then its whole VIEW_CHANGE signing message",
}
"""How each kind of consensus field is encoded."""

CONSENSUS_MESSAGE_KINDS: dict[str, str] = {
    "PrePrepare": "PRE_PREPARE",
    "Prepare": "PREPARE",
    "Commit": "COMMIT",
    "Checkpoint": "CHECKPOINT",
    "ViewChange": "VIEW_CHANGE",
    "NewView": "NEW_VIEW",
    "BlockRequest": "BLOCK_REQUEST",
    "BlockResponse": "BLOCK_RESPONSE",
}
"""The domain tag name of each message class of `spec.pbft`, by class name."""

CONSENSUS_FIELDS: dict[str, tuple[tuple[str, ConsensusFieldKind], ...]] = {
    "PRE_PREPARE": (
        ("view", "u64"),
        ("height", "u64"),
        ("digest", "hash"),
        ("block", "block"),
        ("sender", "u16"),
    ),
    "PREPARE": (
        ("view", "u64"),
        ("height", "u64"),
        ("digest", "hash"),
        ("sender", "u16"),
    ),
    "COMMIT": (
        ("view", "u64"),
        ("height", "u64"),
        ("digest", "hash"),
        ("sender", "u16"),
    ),
    "CHECKPOINT": (
        ("height", "u64"),
        ("state_root", "hash"),
        ("sender", "u16"),
    ),
    "VIEW_CHANGE": (
        ("new_view", "u64"),
        ("checkpoint", "checkpoint_certificate"),
        ("prepared", "prepared_certificates"),
        ("sender", "u16"),
    ),
    "NEW_VIEW": (
        ("view", "u64"),
        ("view_changes", "view_changes"),
        ("checkpoint", "checkpoint_certificate"),
        ("proposals", "pre_prepares"),
        ("sender", "u16"),
    ),
    "BLOCK_REQUEST": (
        ("height", "u64"),
        ("sender", "u16"),
    ),
    "BLOCK_RESPONSE": (
        ("block", "block"),
        ("certificate", "commit_certificate"),
        ("requester", "u16"),
        ("sender", "u16"),
    ),
}
"""The signed fields of each consensus message kind, in order: every field of the
`spec.pbft` class, in the order the class declares them."""

CERTIFICATE_FIELDS: dict[str, tuple[tuple[str, ConsensusFieldKind], ...]] = {
    "PreparedCertificate": (
        ("pre_prepare", "pre_prepare"),
        ("prepares", "replicas"),
    ),
    "CommitCertificate": (
        ("view", "u64"),
        ("height", "u64"),
        ("digest", "hash"),
        ("commits", "replicas"),
    ),
    "CheckpointCertificate": (
        ("height", "u64"),
        ("state_root", "hash"),
        ("signers", "replicas"),
    ),
}
"""The fields of each certificate, in order: what it certifies, then its signer set."""


def consensus_kind(message: object) -> str:
    """The kind of a consensus message: the name of its domain tag."""
    return CONSENSUS_MESSAGE_KINDS[type(message).__name__]


def block_bytes(block: Block) -> bytes:
    """A whole block inside a consensus message: the header bytes, the u32
    transaction count, then each transaction's bytes. A receiver can check the
    message's digest against the header, and the header's transaction root
    against the transactions."""
    out = header_bytes(block.header) + encode_u32(len(block.transactions))
    for tx in block.transactions:
        out += transaction_bytes(tx)
    return out


def encode_replica_set(replicas: frozenset[int]) -> bytes:
    """u16 count, then the replica ids ascending: a set has one encoding whatever
    order it was built in."""
    out = encode_u16(len(replicas))
    for replica in sorted(replicas):
        out += encode_u16(replica)
    return out


def encode_fields(chain_id: str, value: object, fields: tuple[tuple[str, ConsensusFieldKind], ...]) -> bytes:
    out = b""
    for name, kind in fields:
        out += encode_consensus_field(chain_id, getattr(value, name), kind)
    return out


def encode_consensus_field(chain_id: str, value: object, kind: ConsensusFieldKind) -> bytes:
    """One field of a consensus message or certificate (`CONSENSUS_FIELD_ENCODINGS`).
    The chain id is needed only by `view_changes`, which embeds whole signing messages."""
    if kind == "u16":
        assert isinstance(value, int)
        return encode_u16(value)
    if kind == "u64":
        assert isinstance(value, int)
        return encode_u64(value)
    if kind == "hash":
        assert isinstance(value, str)
        return encode_hash(value)
    if kind == "block":
        assert isinstance(value, Block)
        return block_bytes(value)
    if kind == "replicas":
        assert isinstance(value, frozenset)
        return encode_replica_set(value)
    if kind == "pre_prepare":
        assert consensus_kind(value) == "PRE_PREPARE"
        return encode_fields(chain_id, value, CONSENSUS_FIELDS["PRE_PREPARE"])
    if kind == "checkpoint_certificate":
        assert type(value).__name__ == "CheckpointCertificate"
        return encode_fields(chain_id, value, CERTIFICATE_FIELDS["CheckpointCertificate"])
    if kind == "commit_certificate":
        assert type(value).__name__ == "CommitCertificate"
        return encode_fields(chain_id, value, CERTIFICATE_FIELDS["CommitCertificate"])
    if kind == "pre_prepares":
        assert isinstance(value, tuple)
        out = encode_u16(len(value))
        for pre_prepare in value:
            out += encode_consensus_field(chain_id, pre_prepare, "pre_prepare")
        return out
    if kind == "prepared_certificates":
        assert isinstance(value, tuple)
        out = encode_u16(len(value))
        for certificate in value:
            assert type(certificate).__name__ == "PreparedCertificate"
            out += encode_fields(chain_id, certificate, CERTIFICATE_FIELDS["PreparedCertificate"])
        return out
    assert kind == "view_changes"
    assert isinstance(value, tuple)
    out = encode_u16(len(value))
    for view_change in value:
        assert consensus_kind(view_change) == "VIEW_CHANGE"
        # The view change exactly as its sender signed it, so that its signature,
        # carried beside the NEW-VIEW, verifies against these very bytes.
        embedded = consensus_signing_message(chain_id, view_change)
        out += encode_u32(len(embedded)) + embedded
    return out


def consensus_signing_message(chain_id: str, message: "Message") -> bytes:
    """The exact bytes a replica signs for a consensus message: the domain tag of
    its kind, the chain id, then its fields in the order of `CONSENSUS_FIELDS`."""
    kind = consensus_kind(message)
    return domain_tag(kind) + encode_str(chain_id) + encode_fields(chain_id, message, CONSENSUS_FIELDS[kind])
