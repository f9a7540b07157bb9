"""Canonical bytes and signatures of the PBFT consensus messages (spec.encoding, spec.crypto).

The known-answer vectors are re-derived here without the spec's encoder: the byte
layout is written out a second time below, keys and signatures are checked with
PyNaCl and hashes with hashlib directly.
"""

import dataclasses
import hashlib
import subprocess
import sys
import typing
from typing import Any

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from conformance.encoding_vectors import handler_data
from conformance.generate import (
    VECTOR_CHAIN_ID,
    consensus_sample_messages,
    vector_seed,
)
from spec.wire.encoding import SIGNED_FIELDS, domain_tag, sha256
from spec.wire.message_encoding import (
    CERTIFICATE_FIELDS,
    CONSENSUS_FIELDS,
    CONSENSUS_MESSAGE_KINDS,
    consensus_kind,
    consensus_signing_message,
)
from spec.wire.messages import (
    BlockRequest,
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
from spec.wire.signing import public_key_hex, sign_consensus_message, verify_consensus_message, verify_message
from spec.wire.types import Block

REPLICAS = ["Thor", "Sprout", "Legion", "Nova"]
"""The vector consensus group: replica i is platform i, signing with its vector key."""
KINDS = ["PRE_PREPARE", "PREPARE", "COMMIT", "CHECKPOINT", "VIEW_CHANGE", "NEW_VIEW", "BLOCK_REQUEST", "BLOCK_RESPONSE"]
CERTIFICATES = {
    "PreparedCertificate": PreparedCertificate,
    "CommitCertificate": CommitCertificate,
    "CheckpointCertificate": CheckpointCertificate,
}


def message_classes() -> list[type]:
    return list(typing.get_args(Message))


def samples() -> list[Message]:
    return consensus_sample_messages()


def key_of(message: Message) -> bytes:
    """Sample messages are signed by their sender's vector key (replica i = platform i)."""
    return vector_seed(("Thor", "Sprout", "Legion", "Nova")[message.sender])


def message_vectors() -> list[dict[str, Any]]:
    """The `encoding` runner's consensus_message cases (conformance/vectors/encoding/consensus_message/)."""
    return handler_data("consensus_message")


def group_genesis_vector() -> dict[str, Any]:
    """The state_root case of the group's genesis: the genesis and its state's root."""
    (case,) = [data for data in handler_data("state_root") if "genesis" in data]
    return case


def nacl_verifies(public_key: str, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(message, signature)
    except BadSignatureError:
        return False
    return True


# --- the field tables cover the spec.pbft classes ------------------------------------------------
def test_every_message_class_has_its_own_kind() -> None:
    classes = set(message_classes())
    assert set(CONSENSUS_MESSAGE_KINDS) == classes
    assert sorted(CONSENSUS_MESSAGE_KINDS.values()) == sorted(KINDS)
    assert list(CONSENSUS_FIELDS) == KINDS


def test_every_field_is_encoded_in_declaration_order() -> None:
    """A field added to a message or certificate class without an encoding fails here."""
    for cls in message_classes():
        declared = [field.name for field in dataclasses.fields(cls) if field.init]
        encoded = [name for name, _ in CONSENSUS_FIELDS[CONSENSUS_MESSAGE_KINDS[cls]]]
        assert encoded == declared, cls.__name__
    assert set(CERTIFICATE_FIELDS) == set(CERTIFICATES.values())
    for name, cls in CERTIFICATES.items():
        declared = [field.name for field in dataclasses.fields(cls) if field.init]
        assert [field for field, _ in CERTIFICATE_FIELDS[cls]] == declared, name


def test_samples_cover_every_kind_once() -> None:
    assert [consensus_kind(message) for message in samples()] == KINDS


# --- domain tags --------------------------------------------------------------------------------
def test_every_kind_starts_with_its_tag_then_the_chain_id() -> None:
    for message in samples():
        kind = consensus_kind(message)
        raw = consensus_signing_message("chain-x", message)
        assert raw.startswith(b"fedspec/v1/" + kind.encode("ascii") + b"\x00" + b"\x00\x07chain-x"), kind


def test_tags_are_distinct_and_none_is_a_prefix_of_another() -> None:
    names = KINDS + list(SIGNED_FIELDS) + ["TRANSACTION_ROOT", "BLOCK_HEADER", "STATE", "KEY_SEED"]
    tags = [domain_tag(name) for name in names]
    assert len(set(tags)) == len(tags)
    for first in tags:
        for second in tags:
            if first != second:
                assert not second.startswith(first), (first, second)


def test_a_signature_never_verifies_as_another_kind() -> None:
    """The same bytes after the tag, under any other tag, do not verify."""
    for message in samples():
        kind = consensus_kind(message)
        seed = key_of(message)
        public_key = public_key_hex(seed)
        signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, message)
        rest = consensus_signing_message(VECTOR_CHAIN_ID, message)[len(domain_tag(kind)):]
        assert verify_message(public_key, domain_tag(kind) + rest, signature)
        for other in KINDS + list(SIGNED_FIELDS):
            if other != kind:
                assert not verify_message(public_key, domain_tag(other) + rest, signature), (kind, other)


def test_a_prepare_signature_is_not_a_commit_signature() -> None:
    """PREPARE and COMMIT have the same fields: only the tag tells them apart."""
    digest = sha256(b"block").hex()
    seed = vector_seed("Sprout")
    prepare = Prepare(3, 7, digest, 1)
    commit = Commit(3, 7, digest, 1)
    signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, prepare)
    assert verify_consensus_message(public_key_hex(seed), VECTOR_CHAIN_ID, prepare, signature)
    assert not verify_consensus_message(public_key_hex(seed), VECTOR_CHAIN_ID, commit, signature)
    commit_signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, commit)
    assert not verify_consensus_message(public_key_hex(seed), VECTOR_CHAIN_ID, prepare, commit_signature)


def test_a_signature_never_verifies_under_another_chain_id() -> None:
    for message in samples():
        seed = key_of(message)
        signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, message)
        assert verify_consensus_message(public_key_hex(seed), VECTOR_CHAIN_ID, message, signature)
        assert not verify_consensus_message(public_key_hex(seed), VECTOR_CHAIN_ID + "x", message, signature)
        assert not verify_consensus_message(public_key_hex(seed), "fedspec-vector", message, signature)


def test_a_signature_verifies_only_under_its_signers_key() -> None:
    for message in samples():
        seed = key_of(message)
        signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, message)
        for name in ("Thor", "Sprout", "Legion", "Nova"):
            other = vector_seed(name)
            verified = verify_consensus_message(public_key_hex(other), VECTOR_CHAIN_ID, message, signature)
            assert verified == (other == seed), (consensus_kind(message), name)


# --- every field counts -------------------------------------------------------------------------
def variants(value: Any, changed_fields: set[tuple[str, str]]) -> list[Any]:
    """Values that differ from `value` in one place; recursive through messages,
    certificates and tuples, so that every nested field is changed somewhere.
    Records in `changed_fields` each (class name, field name) it varied."""
    if isinstance(value, bool):
        raise TypeError("no boolean fields are expected in consensus messages")
    if isinstance(value, int):
        return [value + 1]
    if isinstance(value, str):
        return [sha256(value.encode("ascii")).hex()]
    if isinstance(value, frozenset):
        out: list[Any] = [value | {max(value, default=-1) + 1}]
        if len(value) > 0:
            out.append(value - {min(value)})
        return out
    if isinstance(value, Block):
        header = value.header.model_copy(update={"timestamp_ms": value.header.timestamp_ms + 1})
        fewer = value.model_copy(update={"transactions": value.transactions[:-1]})  # same header
        return [value.model_copy(update={"header": header}), fewer]
    if isinstance(value, tuple):
        if len(value) == 0:
            return []
        out = [value[:-1], value + (value[-1],)]
        for changed in variants(value[0], changed_fields):
            out.append((changed,) + value[1:])
        return out
    assert dataclasses.is_dataclass(value) and not isinstance(value, type)
    out = []
    for field in dataclasses.fields(value):
        if not field.init:
            continue  # a cache, not a field of the message
        for changed in variants(getattr(value, field.name), changed_fields):
            out.append(dataclasses.replace(value, **{field.name: changed}))
            changed_fields.add((type(value).__name__, field.name))
    return out


def test_changing_any_field_changes_the_bytes() -> None:
    """Every field of every message, and every field of the certificates and
    messages nested in them, takes part in the bytes."""
    changed_fields: set[tuple[str, str]] = set()
    for message in samples():
        original = consensus_signing_message(VECTOR_CHAIN_ID, message)
        for other in variants(message, changed_fields):
            assert consensus_signing_message(VECTOR_CHAIN_ID, other) != original, (message, other)
    expected: set[tuple[str, str]] = set()
    for cls in message_classes() + list(CERTIFICATES.values()):
        for field in dataclasses.fields(cls):
            if field.init:
                expected.add((cls.__name__, field.name))
    assert changed_fields == expected


def test_a_changed_block_changes_a_pre_prepare_that_compares_equal() -> None:
    """PrePrepare equality ignores the block; its bytes do not, so a digest that does
    not match the block is visible to whoever verifies the signature."""
    proposal = samples()[0]
    assert isinstance(proposal, PrePrepare)
    shorter = proposal.block.model_copy(update={"transactions": proposal.block.transactions[:1]})
    other = PrePrepare(proposal.view, proposal.height, proposal.digest, shorter, proposal.sender)
    assert other == proposal
    assert consensus_signing_message(VECTOR_CHAIN_ID, other) != consensus_signing_message(VECTOR_CHAIN_ID, proposal)


def test_a_signer_set_has_one_encoding_whatever_its_order() -> None:
    root = sha256(b"root").hex()
    built_up = frozenset([300, 2, 9, 1])
    built_down = frozenset([1, 9, 2, 300])
    first = ViewChange(5, CheckpointCertificate(4, root, built_up), (), 0)
    second = ViewChange(5, CheckpointCertificate(4, root, built_down), (), 0)
    raw = consensus_signing_message("c", first)
    assert raw == consensus_signing_message("c", second)
    signers = b"\x00\x04" + b"\x00\x01" + b"\x00\x02" + b"\x00\x09" + b"\x01\x2c"
    expected = u64(5) + u64(4) + bytes.fromhex(root) + signers + u16(0) + u16(0)
    assert raw == tag("VIEW_CHANGE") + lp("c") + expected


def test_a_replica_id_above_u16_has_no_encoding() -> None:
    with pytest.raises(OverflowError):
        consensus_signing_message("c", BlockRequest(1, 65_536))
    assert consensus_signing_message("c", BlockRequest(1, 65_535)).endswith(b"\xff\xff")


def test_a_new_view_embeds_each_view_change_as_signed() -> None:
    """Each view change's signature verifies against the bytes inside the NEW-VIEW."""
    new_view = samples()[5]
    assert isinstance(new_view, NewView)
    raw = consensus_signing_message(VECTOR_CHAIN_ID, new_view)
    position = len(tag("NEW_VIEW") + lp(VECTOR_CHAIN_ID)) + 8
    assert int.from_bytes(raw[position:position + 2], "big") == len(new_view.view_changes)
    position += 2
    for view_change in new_view.view_changes:
        length = int.from_bytes(raw[position:position + 4], "big")
        embedded = raw[position + 4:position + 4 + length]
        position += 4 + length
        seed = key_of(view_change)
        signature = sign_consensus_message(seed, VECTOR_CHAIN_ID, view_change)
        assert nacl_verifies(public_key_hex(seed), embedded, bytes.fromhex(signature))


# --- imports ------------------------------------------------------------------------------------
WIRE_AND_LOGIC_MODULES = [
    "spec.wire.types",
    "spec.wire.encoding",
    "spec.wire.messages",
    "spec.wire.message_encoding",
    "spec.wire.records",
    "spec.wire.state_root",
    "spec.wire.signing",
    "spec.pbft",
    "spec.ledger",
]


@pytest.mark.parametrize("first", WIRE_AND_LOGIC_MODULES)
def test_the_modules_import_in_any_order(first: str) -> None:
    code = f"import {first}; import {', '.join(WIRE_AND_LOGIC_MODULES)}; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- the known-answer vectors -------------------------------------------------------------------
def test_vector_keys_derive_from_their_seed_texts() -> None:
    keys = {entry["signer"]: entry["key"] for entry in message_vectors()}
    assert sorted(keys, key=REPLICAS.index) == REPLICAS
    genesis = group_genesis_vector()["genesis"]
    for index, name in enumerate(REPLICAS):
        key = keys[name]
        seed = hashlib.sha256(b"fedspec/v1/KEY_SEED\x00" + key["seed_text"].encode("utf-8")).digest()
        assert seed.hex() == key["seed"]
        assert bytes(SigningKey(seed).verify_key).hex() == key["public_key"]
        platform = genesis["platforms"][index]
        assert (platform["name"], platform["public_key"]) == (name, key["public_key"])


def test_vector_signatures_verify_with_pynacl_and_hashes_with_hashlib() -> None:
    entries = message_vectors()
    keys = {entry["signer"]: entry["key"] for entry in entries}
    assert [entry["kind"] for entry in entries] == KINDS
    for entry in entries:
        message = bytes.fromhex(entry["hex"])
        signature = bytes.fromhex(entry["signature"])
        public_key = entry["key"]["public_key"]
        assert len(signature) == 64
        assert REPLICAS[entry["json"]["sender"]] == entry["signer"]
        assert nacl_verifies(public_key, message, signature), entry["kind"]
        assert hashlib.sha256(message).hexdigest() == entry["sha256"]
        assert message.startswith(tag(entry["kind"]) + lp(entry["chain_id"]))
        for name, key in keys.items():
            if name != entry["signer"]:
                assert not nacl_verifies(key["public_key"], message, signature), (entry["kind"], name)
        changed = bytearray(message)
        changed[-1] ^= 0x01
        assert not nacl_verifies(public_key, bytes(changed), signature)


def test_vector_signatures_are_what_spec_crypto_signs() -> None:
    for message, entry in zip(samples(), message_vectors(), strict=True):
        seed = bytes.fromhex(entry["key"]["seed"])
        assert sign_consensus_message(seed, entry["chain_id"], message) == entry["signature"]


# An independent statement of the layout, read from the vectors' JSON fields only.
def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def lp(text: str) -> bytes:
    raw = text.encode("ascii")
    return len(raw).to_bytes(2, "big") + raw


def tag(name: str) -> bytes:
    return b"fedspec/v1/" + name.encode("ascii") + b"\x00"


def transaction_bytes_by_signature() -> dict[str, bytes]:
    """Transaction bytes from the transaction cases (checked independently in test_result_codes)."""
    return {entry["signature"]: bytes.fromhex(entry["hex"]) for entry in handler_data("transaction")}


TX_BYTES = transaction_bytes_by_signature()


def block_of(block: dict[str, Any]) -> bytes:
    header = block["header"]
    out = u64(header["height"]) + bytes.fromhex(header["previous_hash"]) + u64(header["timestamp_ms"])
    out += lp(header["proposer"]) + bytes.fromhex(header["transaction_root"])
    out += u32(len(block["transactions"]))
    for tx in block["transactions"]:
        out += TX_BYTES[tx["signature"]]
    return out


def replicas_of(ids: list[int]) -> bytes:
    assert ids == sorted(set(ids))
    return u16(len(ids)) + b"".join(u16(replica) for replica in ids)


def pre_prepare_of(f: dict[str, Any]) -> bytes:
    return u64(f["view"]) + u64(f["height"]) + bytes.fromhex(f["digest"]) + block_of(f["block"]) + u16(f["sender"])


def checkpoint_certificate_of(c: dict[str, Any]) -> bytes:
    return u64(c["height"]) + bytes.fromhex(c["state_root"]) + replicas_of(c["signers"])


def commit_certificate_of(c: dict[str, Any]) -> bytes:
    return u64(c["view"]) + u64(c["height"]) + bytes.fromhex(c["digest"]) + replicas_of(c["commits"])


def body_of(kind: str, f: dict[str, Any], chain_id: str) -> bytes:
    if kind == "PRE_PREPARE":
        return pre_prepare_of(f)
    if kind in ("PREPARE", "COMMIT"):
        return u64(f["view"]) + u64(f["height"]) + bytes.fromhex(f["digest"]) + u16(f["sender"])
    if kind == "CHECKPOINT":
        return u64(f["height"]) + bytes.fromhex(f["state_root"]) + u16(f["sender"])
    if kind == "VIEW_CHANGE":
        out = u64(f["new_view"]) + checkpoint_certificate_of(f["checkpoint"]) + u16(len(f["prepared"]))
        for certificate in f["prepared"]:
            out += pre_prepare_of(certificate["pre_prepare"]) + replicas_of(certificate["prepares"])
        return out + u16(f["sender"])
    if kind == "NEW_VIEW":
        out = u64(f["view"]) + u16(len(f["view_changes"]))
        for view_change in f["view_changes"]:
            embedded = signing_of("VIEW_CHANGE", view_change, chain_id)
            out += u32(len(embedded)) + embedded
        out += checkpoint_certificate_of(f["checkpoint"]) + u16(len(f["proposals"]))
        for proposal in f["proposals"]:
            out += pre_prepare_of(proposal)
        return out + u16(f["sender"])
    if kind == "BLOCK_REQUEST":
        return u64(f["height"]) + u16(f["sender"])
    assert kind == "BLOCK_RESPONSE"
    return block_of(f["block"]) + commit_certificate_of(f["certificate"]) + u16(f["requester"]) + u16(f["sender"])


def signing_of(kind: str, fields: dict[str, Any], chain_id: str) -> bytes:
    return tag(kind) + lp(chain_id) + body_of(kind, fields, chain_id)


def test_vector_signing_messages_rebuild_from_their_fields() -> None:
    for entry in message_vectors():
        rebuilt = signing_of(entry["kind"], entry["json"], entry["chain_id"])
        assert rebuilt.hex() == entry["hex"], entry["kind"]


def test_vector_genesis_checkpoint_has_the_genesis_state_root() -> None:
    view_change = next(entry for entry in message_vectors() if entry["kind"] == "VIEW_CHANGE")
    root = group_genesis_vector()["state_root"]
    assert view_change["json"]["checkpoint"] == {"height": 0, "state_root": root, "signers": []}

