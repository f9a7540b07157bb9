"""The signatures a replica must forward, and the sealing of what it sends.

A VIEW-CHANGE carries prepared certificates and a checkpoint certificate, a NEW-VIEW carries view
changes, a BLOCK-RESPONSE a commit certificate: their envelopes must hold the signature of every
vote counted (`spec.wire.envelope.signature_obligations`). The replica signs only its own; the
others it keeps from the authenticated envelopes it received, one per obligation, keyed by
(signer, SHA-256 of the signing message). Ed25519 signatures are deterministic, so a kept
signature is exactly the one its signer would make again.

The store is bounded (`MAX_KEPT_SIGNATURES`, least recently used out first); signatures that must
outlive it (commit and stable checkpoint certificates) the runtime keeps in storage and gives
back with `remember`. A message whose obligations cannot all be met is not sent: `seal` returns
None and the runtime counts it.
"""

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

from spec.wire.envelope import (
    Obligation,
    ObligationRole,
    SignedEnvelope,
    carried_obligations,
    signature_obligations,
)
from spec.wire.message_encoding import consensus_kind
from spec.wire.messages import Message
from spec.wire.signing import sign_message

MAX_KEPT_SIGNATURES = 200_000
"""Signatures of others' votes kept in memory (about 200 bytes each)."""

SignatureKey = tuple[int, bytes]


def obligation_key(obligation: Obligation) -> SignatureKey:
    return obligation.signer, hashlib.sha256(obligation.signing_message).digest()


class SignatureStore:
    def __init__(self, chain_id: str, replica: int, seed: bytes, capacity: int = MAX_KEPT_SIGNATURES) -> None:
        self.chain_id = chain_id
        self.replica = replica
        self.seed = seed
        self.capacity = capacity
        self.kept: OrderedDict[SignatureKey, str] = OrderedDict()

    def remember(self, obligations: Iterable[Obligation], signatures: Iterable[str]) -> None:
        """Keep each obligation's signature (from an authenticated envelope, or from storage)."""
        for obligation, signature in zip(obligations, signatures, strict=True):
            if obligation.signer == self.replica:
                continue
            key = obligation_key(obligation)
            self.kept[key] = signature
            self.kept.move_to_end(key)
        while len(self.kept) > self.capacity:
            self.kept.popitem(last=False)

    def remember_envelope(self, envelope: SignedEnvelope, signing_message: bytes) -> None:
        """Keep an authenticated envelope's signatures. `signing_message` is the message's bytes as
        received: the sender's obligation is keyed by them rather than by encoding the message again (a
        PRE-PREPARE's block is most of the work). Were they not the canonical bytes the signature was
        verified over, the key would only never be looked up: no signature is kept under a wrong key."""
        message = envelope.message
        sender = Obligation(message.sender, signing_message, ObligationRole.SENDER, consensus_kind(message))
        carried = carried_obligations(self.chain_id, message, consensus_kind(message))
        self.remember((sender, *carried), envelope.signatures)

    def signatures_for(self, obligations: Iterable[Obligation]) -> tuple[str, ...] | None:
        """One signature per obligation: this replica's made, others' looked up; None if one is unknown."""
        signatures: list[str] = []
        for obligation in obligations:
            if obligation.signer == self.replica:
                signatures.append(sign_message(self.seed, obligation.signing_message))
                continue
            signature = self.kept.get(obligation_key(obligation))
            if signature is None:
                return None
            signatures.append(signature)
        return tuple(signatures)

    def seal(self, message: Message) -> SignedEnvelope | None:
        """The envelope of a message this replica sends, or None if a carried vote's signature is unknown."""
        signatures = self.signatures_for(signature_obligations(self.chain_id, message))
        return None if signatures is None else SignedEnvelope(message, signatures)
