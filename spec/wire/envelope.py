"""Signed envelopes: a consensus message with every signature it must carry, and the
one check a node's boundary makes before its logic sees the message.

A replica signs every message it sends (`spec.wire.signing`). A certificate inside
a message counts other replicas' votes: the message names the signers, and its
envelope carries their signatures. So:

* `signature_obligations` lists every signature an envelope must hold, each as a
  signer and the exact bytes it signed, in one canonical order;
* `verify_envelope` checks the envelope against them and names the first thing
  wrong (`EnvelopeRefusal`, in the order of `ENVELOPE_REFUSALS`);
* `authenticated_message` is the one function a node's boundary calls on each
  message it receives, once: it returns the message, whose `sender` and signer
  sets `spec.pbft` may then take as facts, or raises `AuthenticationError`.

Obligations and signing messages are always rebuilt from the message as decoded,
never taken from the bytes received: what is verified is exactly what the logic
will see.

Repeated signers. In memory a signer set is a frozenset and cannot hold a replica
twice; on the wire it is a list, and the decoder refuses a list that is not
strictly ascending, so a repeat never decodes. The verifier relies on neither:

* it reads every signer collection as carried, sorted but not merged
  (`carried_signers`), and refuses one that names a replica twice
  (`CERTIFICATE_REPEATS_SIGNER`) before it counts or verifies anything. This is
  what stops one vote counting twice in a port that keeps signer lists as lists,
  or behind a reader that forgot to make a set. The same check covers the one
  signer list that is a tuple in memory too: a NEW-VIEW's view changes, where two
  view changes from one replica would count it twice towards the quorum;
* a decoder that merged a repeat into a set would leave the certificate smaller
  than its sender claimed. The envelope then carries one signature per listed
  signer, more than the obligations of the merged set, and is refused with
  `SIGNATURE_COUNT_WRONG`; and the sender signed the list with the repeat, which
  does not re-encode to the same bytes, so its signature fails as well.

Certificates are not verified on their own: every certificate travels inside a
signed message, and checking its votes without the message's own signature would
authenticate nothing about where it came from. There is therefore no
`verify_certificate`; `verify_envelope` is the only entry point.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from spec.constants import SIGNATURE_BYTES
from spec.wire.encoding import encode_u32
from spec.wire.message_encoding import consensus_kind, consensus_signing_message
from spec.wire.messages import (
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    Commit,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    ReplicaId,
    ViewChange,
)
from spec.wire.signing import sign_message, verify_message


# --- what an envelope must carry ------------------------------------------------------------
class ObligationRole(StrEnum):
    SENDER = "sender"
    """The message's own sender, over the message itself."""
    CERTIFICATE_SIGNER = "certificate_signer"
    """A replica whose vote a certificate counts, or who sent a message carried whole
    inside this one: a NEW-VIEW's view changes (its certificate of a view-change
    quorum) and its proposals, and the pre-prepare of a prepared certificate."""


@dataclass(frozen=True, slots=True)
class Obligation:
    """One signature an envelope must carry: `signer`'s, over `signing_message`."""

    signer: ReplicaId
    signing_message: bytes
    role: ObligationRole
    place: str
    """Where the signed vote sits in the message, e.g. ``NEW_VIEW.view_changes[0].checkpoint.signers``."""


def carried_signers(signers: Collection[ReplicaId]) -> tuple[ReplicaId, ...]:
    """A certificate's signer ids as carried, ascending. A repeat is kept, not merged,
    so that `verify_envelope` can refuse it."""
    return tuple(sorted(signers))


def signature_obligations(chain_id: str, message: Message) -> tuple[Obligation, ...]:
    """Every signature the envelope of `message` must carry, in canonical order: the
    sender's over the message itself, then those of whatever the message carries
    from other replicas, in field order, depth first (`carried_obligations`)."""
    kind = consensus_kind(message)
    sender = Obligation(message.sender, consensus_signing_message(chain_id, message), ObligationRole.SENDER, kind)
    return (sender,) + carried_obligations(chain_id, message, kind)


def carried_obligations(chain_id: str, message: Message, place: str) -> tuple[Obligation, ...]:
    """The signatures of the certificates and whole messages `message` carries."""
    if isinstance(message, ViewChange):
        return view_change_obligations(chain_id, message, place)
    if isinstance(message, NewView):
        return new_view_obligations(chain_id, message, place)
    if isinstance(message, BlockResponse):
        return commit_certificate_obligations(chain_id, message.certificate, place + ".certificate")
    # PRE_PREPARE, PREPARE, COMMIT, CHECKPOINT and BLOCK_REQUEST carry nothing signed by others.
    return ()


def view_change_obligations(chain_id: str, view_change: ViewChange, place: str) -> tuple[Obligation, ...]:
    """Its checkpoint certificate, then each prepared certificate in order."""
    obligations = checkpoint_certificate_obligations(chain_id, view_change.checkpoint, place + ".checkpoint")
    for index, certificate in enumerate(view_change.prepared):
        obligations += prepared_certificate_obligations(chain_id, certificate, f"{place}.prepared[{index}]")
    return obligations


def new_view_obligations(chain_id: str, new_view: NewView, place: str) -> tuple[Obligation, ...]:
    """Each view change in order, its own signature then its certificates'; then the
    checkpoint certificate; then each proposal's signature by its sender (the new
    primary)."""
    obligations: tuple[Obligation, ...] = ()
    for index, view_change in enumerate(new_view.view_changes):
        here = f"{place}.view_changes[{index}]"
        obligations += (carried_message_obligation(chain_id, view_change, here),)
        obligations += view_change_obligations(chain_id, view_change, here)
    obligations += checkpoint_certificate_obligations(chain_id, new_view.checkpoint, place + ".checkpoint")
    for index, proposal in enumerate(new_view.proposals):
        obligations += (carried_message_obligation(chain_id, proposal, f"{place}.proposals[{index}]"),)
    return obligations


def carried_message_obligation(chain_id: str, message: Message, place: str) -> Obligation:
    """A message carried whole inside another: its sender's signature over it."""
    signing = consensus_signing_message(chain_id, message)
    return Obligation(message.sender, signing, ObligationRole.CERTIFICATE_SIGNER, place)


def checkpoint_certificate_obligations(
    chain_id: str, certificate: CheckpointCertificate, place: str
) -> tuple[Obligation, ...]:
    """CHECKPOINT(height, state_root, signer) for each signer, ascending. The genesis
    checkpoint has no signers, so it needs no signatures."""
    obligations: tuple[Obligation, ...] = ()
    for signer in carried_signers(certificate.signers):
        vote = Checkpoint(certificate.height, certificate.state_root, signer)
        obligations += (carried_message_obligation(chain_id, vote, place + ".signers"),)
    return obligations


def commit_certificate_obligations(chain_id: str, certificate: CommitCertificate, place: str) -> tuple[Obligation, ...]:
    """COMMIT(view, height, digest, signer) for each signer, ascending."""
    obligations: tuple[Obligation, ...] = ()
    for signer in carried_signers(certificate.commits):
        vote = Commit(certificate.view, certificate.height, certificate.digest, signer)
        obligations += (carried_message_obligation(chain_id, vote, place + ".commits"),)
    return obligations


def prepared_certificate_obligations(
    chain_id: str, certificate: PreparedCertificate, place: str
) -> tuple[Obligation, ...]:
    """The pre-prepare's own signature by its sender (the primary's vote is its
    PRE_PREPARE), then PREPARE(view, height, digest, signer) for every other signer,
    ascending."""
    pre_prepare = certificate.pre_prepare
    obligations: tuple[Obligation, ...] = (carried_message_obligation(chain_id, pre_prepare, place + ".pre_prepare"),)
    for signer in carried_signers(certificate.prepares):
        if signer != pre_prepare.sender:
            vote = Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, signer)
            obligations += (carried_message_obligation(chain_id, vote, place + ".prepares"),)
    return obligations


# --- the replica ids a message names as signers -----------------------------------------------
@dataclass(frozen=True, slots=True)
class SignerList:
    """The replica ids one part of a message names as its signers, as carried."""

    place: str
    role: ObligationRole
    signers: tuple[ReplicaId, ...]


def signer_lists(message: Message) -> tuple[SignerList, ...]:
    """Every list of signers `message` names, in field order: its sender, then what
    it carries (for a NEW-VIEW, its view changes' senders as one list before what
    each view change carries). Read without encoding anything, so that ids outside
    the group and repeats are refused before any bytes are built."""
    kind = consensus_kind(message)
    sender = SignerList(kind, ObligationRole.SENDER, (message.sender,))
    if isinstance(message, ViewChange):
        return (sender,) + view_change_signer_lists(message, kind)
    if isinstance(message, NewView):
        return (sender,) + new_view_signer_lists(message, kind)
    if isinstance(message, BlockResponse):
        commits = carried_signers(message.certificate.commits)
        return (sender, SignerList(kind + ".certificate.commits", ObligationRole.CERTIFICATE_SIGNER, commits))
    return (sender,)


def view_change_signer_lists(view_change: ViewChange, place: str) -> tuple[SignerList, ...]:
    role = ObligationRole.CERTIFICATE_SIGNER
    lists: tuple[SignerList, ...] = (
        SignerList(place + ".checkpoint.signers", role, carried_signers(view_change.checkpoint.signers)),
    )
    for index, certificate in enumerate(view_change.prepared):
        here = f"{place}.prepared[{index}]"
        lists += (SignerList(here + ".pre_prepare", role, (certificate.pre_prepare.sender,)),)
        lists += (SignerList(here + ".prepares", role, carried_signers(certificate.prepares)),)
    return lists


def new_view_signer_lists(new_view: NewView, place: str) -> tuple[SignerList, ...]:
    """The view changes' senders are one list: together they are the NEW-VIEW's
    certificate of a view-change quorum, so each replica may appear once."""
    role = ObligationRole.CERTIFICATE_SIGNER
    senders: tuple[ReplicaId, ...] = ()
    for view_change in new_view.view_changes:
        senders += (view_change.sender,)
    lists: tuple[SignerList, ...] = (SignerList(place + ".view_changes", role, senders),)
    for index, view_change in enumerate(new_view.view_changes):
        lists += view_change_signer_lists(view_change, f"{place}.view_changes[{index}]")
    lists += (SignerList(place + ".checkpoint.signers", role, carried_signers(new_view.checkpoint.signers)),)
    for index, proposal in enumerate(new_view.proposals):
        lists += (SignerList(f"{place}.proposals[{index}]", role, (proposal.sender,)),)
    return lists


# --- the envelope ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    """A consensus message and its signatures (hex), in the order of `signature_obligations`."""

    message: Message
    signatures: tuple[str, ...]


def sign_envelope(seeds_by_replica: Mapping[ReplicaId, bytes], chain_id: str, message: Message) -> SignedEnvelope:
    """Sign every obligation with its signer's seed: for tests and tools, which hold
    every replica's key. A replica signs only its own messages and collects the
    other signatures with the votes it counts."""
    signatures: tuple[str, ...] = ()
    for obligation in signature_obligations(chain_id, message):
        signatures += (sign_message(seeds_by_replica[obligation.signer], obligation.signing_message),)
    return SignedEnvelope(message, signatures)


def signature_bytes(signature: str) -> bytes:
    raw = bytes.fromhex(signature)
    if len(raw) != SIGNATURE_BYTES:
        raise ValueError(f"a signature is exactly {SIGNATURE_BYTES} bytes")
    return raw


def envelope_bytes(chain_id: str, envelope: SignedEnvelope) -> bytes:
    """u32 byte length, then the message's consensus signing message; u32 signature
    count, then each signature's 64 raw bytes, in obligation order.

    The count is a u32, not a u16: a NEW-VIEW carries a quorum of view changes, each
    with a checkpoint certificate and a prepared certificate per height in the
    watermark window, so its signatures grow as N^2 times the window and pass
    65 535 in a group of a few hundred replicas."""
    signing = consensus_signing_message(chain_id, envelope.message)
    out = encode_u32(len(signing)) + signing + encode_u32(len(envelope.signatures))
    for signature in envelope.signatures:
        out += signature_bytes(signature)
    return out


# --- refusals -----------------------------------------------------------------------------------
class EnvelopeRefusal(StrEnum):
    """Why a boundary refuses an envelope. The value is the name on the site."""

    SENDER_OUTSIDE_GROUP = "sender_outside_group"
    CERTIFICATE_SIGNER_OUTSIDE_GROUP = "certificate_signer_outside_group"
    CERTIFICATE_REPEATS_SIGNER = "certificate_repeats_signer"
    SIGNATURE_COUNT_WRONG = "signature_count_wrong"
    SENDER_SIGNATURE_INVALID = "sender_signature_invalid"
    CERTIFICATE_SIGNATURE_INVALID = "certificate_signature_invalid"


ENVELOPE_REFUSALS: dict[EnvelopeRefusal, str] = {
    EnvelopeRefusal.SENDER_OUTSIDE_GROUP: "The message's sender is not a replica of the group: its id is not in 0 .. N-1.",
    EnvelopeRefusal.CERTIFICATE_SIGNER_OUTSIDE_GROUP: "A certificate, or a message carried inside this one, names a signer whose id is not in 0 .. N-1.",
    EnvelopeRefusal.CERTIFICATE_REPEATS_SIGNER: "A certificate names one replica twice, or a NEW-VIEW carries two view changes from one replica: one vote would count twice.",
    EnvelopeRefusal.SIGNATURE_COUNT_WRONG: "The envelope carries more or fewer signatures than the message's obligations (a certificate smaller than its sender claimed lands here).",
    EnvelopeRefusal.SENDER_SIGNATURE_INVALID: "The sender's signature does not verify over the message's signing message under the sender's key.",
    EnvelopeRefusal.CERTIFICATE_SIGNATURE_INVALID: "The signature for a certificate's vote, or for a carried message, does not verify under its signer's key: forged, replayed from another chain, view or height, or made for another kind.",
}
"""Every refusal with its meaning, in the order `verify_envelope` checks: when several
apply, the one listed first is reported (for the signatures, the first failing
obligation in canonical order, which puts the sender first)."""


@dataclass(frozen=True, slots=True)
class EnvelopeFailure:
    """A refusal, and where: `place` is the message kind for the message itself, else
    the path of the certificate or carried message; `signer` the replica at fault
    (None when the signature count is wrong)."""

    refusal: EnvelopeRefusal
    place: str
    signer: ReplicaId | None

    def __str__(self) -> str:
        if self.signer is None:
            return f"{self.refusal.value} at {self.place}"
        return f"{self.refusal.value} at {self.place}: replica {self.signer}"


class AuthenticationError(Exception):
    """A received message failed `verify_envelope`: the boundary drops it, and the
    replica's logic never sees it."""

    def __init__(self, failure: EnvelopeFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


# --- the checks, each a named decision -------------------------------------------------------
def replica_in_group(replica: ReplicaId, group_size: int) -> bool:
    """Replica i is the i-th genesis platform: ids run 0 .. N-1."""
    return 0 <= replica < group_size


def repeats_a_signer(signers: tuple[ReplicaId, ...]) -> bool:
    return len(frozenset(signers)) != len(signers)


def signature_count_matches(obligations: tuple[Obligation, ...], signatures: tuple[str, ...]) -> bool:
    return len(signatures) == len(obligations)


def signature_verifies(public_key: str, obligation: Obligation, signature: str) -> bool:
    """Ed25519 over the obligation's signing message, whose domain tag and chain id
    keep a signature to its kind and chain, and whose fields keep it to its view
    and height."""
    return verify_message(public_key, obligation.signing_message, signature)


def first_replica_outside_group(lists: tuple[SignerList, ...], group_size: int) -> EnvelopeFailure | None:
    for signer_list in lists:
        for replica in signer_list.signers:
            if not replica_in_group(replica, group_size):
                if signer_list.role == ObligationRole.SENDER:
                    return EnvelopeFailure(EnvelopeRefusal.SENDER_OUTSIDE_GROUP, signer_list.place, replica)
                return EnvelopeFailure(EnvelopeRefusal.CERTIFICATE_SIGNER_OUTSIDE_GROUP, signer_list.place, replica)
    return None


def first_repeated_signer(lists: tuple[SignerList, ...]) -> EnvelopeFailure | None:
    for signer_list in lists:
        if repeats_a_signer(signer_list.signers):
            repeated = first_repeat(signer_list.signers)
            return EnvelopeFailure(EnvelopeRefusal.CERTIFICATE_REPEATS_SIGNER, signer_list.place, repeated)
    return None


def first_repeat(signers: tuple[ReplicaId, ...]) -> ReplicaId | None:
    seen: set[ReplicaId] = set()
    for signer in signers:
        if signer in seen:
            return signer
        seen.add(signer)
    return None


def first_invalid_signature(
    platform_keys: tuple[str, ...], obligations: tuple[Obligation, ...], signatures: tuple[str, ...]
) -> EnvelopeFailure | None:
    """Each signature against its obligation, in canonical order. Every signer was
    found in the group before, so its key exists."""
    for index, obligation in enumerate(obligations):
        if not signature_verifies(platform_keys[obligation.signer], obligation, signatures[index]):
            if obligation.role == ObligationRole.SENDER:
                return EnvelopeFailure(EnvelopeRefusal.SENDER_SIGNATURE_INVALID, obligation.place, obligation.signer)
            return EnvelopeFailure(EnvelopeRefusal.CERTIFICATE_SIGNATURE_INVALID, obligation.place, obligation.signer)
    return None


# --- the boundary --------------------------------------------------------------------------------
def verify_envelope(chain_id: str, platform_keys: tuple[str, ...], envelope: SignedEnvelope) -> EnvelopeFailure | None:
    """None if `envelope` is authentic on chain `chain_id` for the group whose replica i
    has public key `platform_keys[i]` (the genesis platforms, in order); otherwise
    the first failure, in the order of `ENVELOPE_REFUSALS`.

    Authentic means: every replica id named as a signer is in the group, no signer
    list repeats a replica, and the envelope carries exactly one valid signature
    per obligation. Whether the message is any use (a quorum, the right primary, a
    block matching its digest) is for the replica's logic to decide."""
    message = envelope.message
    lists = signer_lists(message)
    outside = first_replica_outside_group(lists, len(platform_keys))
    if outside is not None:
        return outside
    repeated = first_repeated_signer(lists)
    if repeated is not None:
        return repeated
    obligations = signature_obligations(chain_id, message)
    if not signature_count_matches(obligations, envelope.signatures):
        return EnvelopeFailure(EnvelopeRefusal.SIGNATURE_COUNT_WRONG, consensus_kind(message), None)
    return first_invalid_signature(platform_keys, obligations, envelope.signatures)


def authenticated_message(chain_id: str, platform_keys: tuple[str, ...], envelope: SignedEnvelope) -> Message:
    """What a node's boundary calls on every message it receives, once: the message,
    now authenticated, for the replica's step function; or `AuthenticationError`
    naming the failure, and the message goes no further."""
    failure = verify_envelope(chain_id, platform_keys, envelope)
    if failure is not None:
        raise AuthenticationError(failure)
    return envelope.message
