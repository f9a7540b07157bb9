"""Canonical bytes of consensus messages: what a replica signs, and what travels.

Built on the primitives of `spec.wire.encoding`; the messages are those of
`spec.wire.messages`.
"""

from typing import Literal

from spec.wire.encoding import (
    domain_tag,
    encode_hash,
    encode_str,
    encode_u16,
    encode_u32,
    encode_u64,
    header_bytes,
    transaction_bytes,
)
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    Commit,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from spec.wire.types import Block

# Every consensus message (spec.wire.messages) is signed by its sender over
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
# spec.wire.envelope carries and verifies them; the step functions of spec.pbft see
# only the signer sets. The genesis checkpoint (height 0) has no signers and no signatures.

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

CONSENSUS_MESSAGE_KINDS: dict[type, str] = {
    PrePrepare: "PRE_PREPARE",
    Prepare: "PREPARE",
    Commit: "COMMIT",
    Checkpoint: "CHECKPOINT",
    ViewChange: "VIEW_CHANGE",
    NewView: "NEW_VIEW",
    BlockRequest: "BLOCK_REQUEST",
    BlockResponse: "BLOCK_RESPONSE",
}
"""The domain tag name of each message class."""

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
message class (`spec.wire.messages`), in the order the class declares them."""

CERTIFICATE_FIELDS: dict[type, tuple[tuple[str, ConsensusFieldKind], ...]] = {
    PreparedCertificate: (
        ("pre_prepare", "pre_prepare"),
        ("prepares", "replicas"),
    ),
    CommitCertificate: (
        ("view", "u64"),
        ("height", "u64"),
        ("digest", "hash"),
        ("commits", "replicas"),
    ),
    CheckpointCertificate: (
        ("height", "u64"),
        ("state_root", "hash"),
        ("signers", "replicas"),
    ),
}
"""The fields of each certificate, in order: what it certifies, then its signer set."""


def consensus_kind(message: object) -> str:
    """The kind of a consensus message: the name of its domain tag."""
    return CONSENSUS_MESSAGE_KINDS[type(message)]


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
        assert isinstance(value, PrePrepare)
        return encode_fields(chain_id, value, CONSENSUS_FIELDS["PRE_PREPARE"])
    if kind == "checkpoint_certificate":
        assert isinstance(value, CheckpointCertificate)
        return encode_fields(chain_id, value, CERTIFICATE_FIELDS[CheckpointCertificate])
    if kind == "commit_certificate":
        assert isinstance(value, CommitCertificate)
        return encode_fields(chain_id, value, CERTIFICATE_FIELDS[CommitCertificate])
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
            assert isinstance(certificate, PreparedCertificate)
            out += encode_fields(chain_id, certificate, CERTIFICATE_FIELDS[PreparedCertificate])
        return out
    assert kind == "view_changes"
    assert isinstance(value, tuple)
    out = encode_u16(len(value))
    for view_change in value:
        assert isinstance(view_change, ViewChange)
        # The view change exactly as its sender signed it, so that its signature,
        # carried beside the NEW-VIEW, verifies against these very bytes.
        embedded = consensus_signing_message(chain_id, view_change)
        out += encode_u32(len(embedded)) + embedded
    return out


def consensus_signing_message(chain_id: str, message: Message) -> bytes:
    """The exact bytes a replica signs for a consensus message: the domain tag of
    its kind, the chain id, then its fields in the order of `CONSENSUS_FIELDS`."""
    kind = consensus_kind(message)
    return domain_tag(kind) + encode_str(chain_id) + encode_fields(chain_id, message, CONSENSUS_FIELDS[kind])
