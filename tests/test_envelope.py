"""Signed envelopes and verification at the boundary (spec.wire.envelope).

Every message kind is signed and verified; then forged, replayed and cross-domain
signatures, certificates that repeat a signer or name a replica outside the group,
and missing or extra signatures are each refused with their own name. Every check
has a negative control: the verifier with that one check switched off (its named
helper monkeypatched) lets the corresponding forged envelope through.
"""

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest

import spec.wire.envelope as envelope_module
from conformance.generate import CONSENSUS_REPLICAS, VECTOR_CHAIN_ID, consensus_sample_messages, vector_seed
from spec.wire.encoding import sha256
from spec.wire.envelope import (
    ENVELOPE_REFUSALS,
    AuthenticationError,
    EnvelopeFailure,
    EnvelopeRefusal,
    ObligationRole,
    SignedEnvelope,
    authenticated_message,
    envelope_bytes,
    sign_envelope,
    signature_obligations,
    verify_envelope,
)
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
    ViewChange,
)
from spec.wire.signing import public_key_hex, sign_consensus_message, sign_message

ROOT = Path(__file__).resolve().parent.parent
CHAIN = VECTOR_CHAIN_ID
GROUP_SIZE = len(CONSENSUS_REPLICAS)
SEEDS = {replica: vector_seed(name) for replica, name in enumerate(CONSENSUS_REPLICAS)}
OUTSIDER_SEED = vector_seed("outsider")
"""The key of a platform that is not in the group: it signs as replica N."""
KEYS = tuple(public_key_hex(SEEDS[replica]) for replica in range(GROUP_SIZE))
SEEDS_WITH_OUTSIDER = SEEDS | {GROUP_SIZE: OUTSIDER_SEED}


def samples() -> dict[str, Message]:
    return {consensus_kind(message): message for message in consensus_sample_messages()}


def signed(message: Message) -> SignedEnvelope:
    return sign_envelope(SEEDS_WITH_OUTSIDER, CHAIN, message)


def verify(envelope: SignedEnvelope) -> EnvelopeFailure | None:
    return verify_envelope(CHAIN, KEYS, envelope)


def with_signature(envelope: SignedEnvelope, index: int, signature: str) -> SignedEnvelope:
    signatures = list(envelope.signatures)
    signatures[index] = signature
    return SignedEnvelope(envelope.message, tuple(signatures))


def obligation_index(message: Message, place: str, signer: int) -> int:
    for index, obligation in enumerate(signature_obligations(CHAIN, message)):
        if obligation.place == place and obligation.signer == signer:
            return index
    raise AssertionError(f"no obligation for replica {signer} at {place}")


def flipped(signature: str) -> str:
    raw = bytearray(bytes.fromhex(signature))
    raw[0] ^= 0x01
    return raw.hex()


def block_response() -> BlockResponse:
    message = samples()["BLOCK_RESPONSE"]
    assert isinstance(message, BlockResponse)
    return message


def new_view() -> NewView:
    message = samples()["NEW_VIEW"]
    assert isinstance(message, NewView)
    return message


def stable_checkpoint() -> CheckpointCertificate:
    return CheckpointCertificate(2, sha256(b"root at 2").hex(), frozenset({3, 0, 1}))


def view_change_with_checkpoint() -> ViewChange:
    """A view change above a non-genesis checkpoint: it carries CHECKPOINT votes."""
    sample = samples()["VIEW_CHANGE"]
    assert isinstance(sample, ViewChange)
    return replace(sample, checkpoint=stable_checkpoint())


# --- every kind signs and verifies -------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(samples()))
def test_every_kind_signs_and_verifies(kind: str) -> None:
    message = samples()[kind]
    envelope = signed(message)
    assert len(envelope.signatures) == len(signature_obligations(CHAIN, message))
    assert verify(envelope) is None
    assert authenticated_message(CHAIN, KEYS, envelope) is message


def test_a_view_change_above_genesis_carries_checkpoint_votes() -> None:
    envelope = signed(view_change_with_checkpoint())
    assert verify(envelope) is None
    assert len(envelope.signatures) == 1 + 3 + 3


def where(message: Message) -> list[tuple[str, str, int]]:
    return [(o.role.value, o.place, o.signer) for o in signature_obligations(CHAIN, message)]


def test_the_new_view_obligations_in_canonical_order() -> None:
    """Sender first; each view change, its own signature then its certificates';
    the checkpoint (genesis: none); the proposals by the new primary."""
    signer = "certificate_signer"
    assert where(new_view()) == [
        ("sender", "NEW_VIEW", 1),
        (signer, "NEW_VIEW.view_changes[0]", 1),
        (signer, "NEW_VIEW.view_changes[0].prepared[0].pre_prepare", 0),
        (signer, "NEW_VIEW.view_changes[0].prepared[0].prepares", 1),
        (signer, "NEW_VIEW.view_changes[0].prepared[0].prepares", 2),
        (signer, "NEW_VIEW.view_changes[1]", 2),
        (signer, "NEW_VIEW.view_changes[1].prepared[0].pre_prepare", 0),
        (signer, "NEW_VIEW.view_changes[1].prepared[0].prepares", 1),
        (signer, "NEW_VIEW.view_changes[1].prepared[0].prepares", 2),
        (signer, "NEW_VIEW.view_changes[2]", 3),
        (signer, "NEW_VIEW.proposals[0]", 1),
    ]


def test_certificate_obligations_sign_the_votes_they_count() -> None:
    """Each obligation's bytes are the signing message of the vote it stands for:
    CHECKPOINT, then the pre-prepare itself and PREPARE for the others, signers ascending."""
    view_change = view_change_with_checkpoint()
    certificate = view_change.prepared[0]
    pre_prepare = certificate.pre_prepare
    checkpoint = view_change.checkpoint
    expected = [
        consensus_signing_message(CHAIN, view_change),
        consensus_signing_message(CHAIN, Checkpoint(checkpoint.height, checkpoint.state_root, 0)),
        consensus_signing_message(CHAIN, Checkpoint(checkpoint.height, checkpoint.state_root, 1)),
        consensus_signing_message(CHAIN, Checkpoint(checkpoint.height, checkpoint.state_root, 3)),
        consensus_signing_message(CHAIN, pre_prepare),
        consensus_signing_message(CHAIN, Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, 1)),
        consensus_signing_message(CHAIN, Prepare(pre_prepare.view, pre_prepare.height, pre_prepare.digest, 2)),
    ]
    assert [o.signing_message for o in signature_obligations(CHAIN, view_change)] == expected
    response = block_response()
    votes = [Commit(0, 1, response.certificate.digest, signer) for signer in (0, 1, 2)]
    assert [o.signing_message for o in signature_obligations(CHAIN, response)][1:] == [
        consensus_signing_message(CHAIN, vote) for vote in votes
    ]


def test_the_genesis_checkpoint_needs_no_signature() -> None:
    genesis = new_view().checkpoint
    assert genesis.height == 0 and genesis.signers == frozenset()
    assert not [o for o in signature_obligations(CHAIN, new_view()) if ".checkpoint" in o.place]


def test_a_primary_in_its_prepares_signs_once_with_its_pre_prepare() -> None:
    certificate = view_change_with_checkpoint().prepared[0]
    assert certificate.pre_prepare.sender in certificate.prepares
    prepares = [o for o in signature_obligations(CHAIN, view_change_with_checkpoint()) if o.place.endswith(".prepares")]
    assert [o.signer for o in prepares] == [1, 2]


def belongs(obligation_place: str, list_place: str) -> bool:
    """An obligation belongs to a signer list at its very place, or, for the view
    changes of a NEW-VIEW, at one index below it."""
    return obligation_place == list_place or re.fullmatch(re.escape(list_place) + r"\[\d+\]", obligation_place) is not None


def walk_mismatches(message: Message) -> list[str]:
    """Where the ids checked before encoding (signer_lists) and the signers of the
    obligations disagree: every obligation's signer must be in a list at or above
    its place, and every listed id must have an obligation there (a primary listed
    in its prepares signs with its pre-prepare)."""
    lists = envelope_module.signer_lists(message)
    obligations = signature_obligations(CHAIN, message)
    mismatches = []
    for obligation in obligations:
        if not any(
            belongs(obligation.place, signer_list.place) and obligation.signer in signer_list.signers
            for signer_list in lists
        ):
            mismatches.append(f"obligation {obligation.place} {obligation.signer} is in no list")
    for signer_list in lists:
        pre_prepare_place = signer_list.place.removesuffix(".prepares") + ".pre_prepare"
        for replica in signer_list.signers:
            if not any(
                obligation.signer == replica
                and (belongs(obligation.place, signer_list.place) or obligation.place == pre_prepare_place)
                for obligation in obligations
            ):
                mismatches.append(f"listed {signer_list.place} {replica} has no obligation")
    return mismatches


def test_the_signer_lists_and_the_obligations_walk_the_same_parts() -> None:
    for message in list(samples().values()) + [view_change_with_checkpoint()]:
        assert walk_mismatches(message) == [], consensus_kind(message)


def test_a_walk_that_skips_a_part_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: signer lists that forget a view change's checkpoint."""
    original = envelope_module.view_change_signer_lists

    def without_checkpoint(view_change: ViewChange, place: str) -> tuple[object, ...]:
        return original(view_change, place)[1:]

    monkeypatch.setattr(envelope_module, "view_change_signer_lists", without_checkpoint)
    assert walk_mismatches(view_change_with_checkpoint()) == [
        "obligation VIEW_CHANGE.checkpoint.signers 0 is in no list",
        "obligation VIEW_CHANGE.checkpoint.signers 1 is in no list",
        "obligation VIEW_CHANGE.checkpoint.signers 3 is in no list",
    ]


# --- envelope bytes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(samples()))
def test_envelope_bytes_read_back_by_hand(kind: str) -> None:
    """u32 length, the signing message, u32 count, 64 raw bytes per signature, nothing more."""
    envelope = signed(samples()[kind])
    raw = envelope_bytes(CHAIN, envelope)
    length = int.from_bytes(raw[:4], "big")
    assert raw[4:4 + length] == consensus_signing_message(CHAIN, envelope.message)
    rest = raw[4 + length:]
    count = int.from_bytes(rest[:4], "big")
    assert count == len(envelope.signatures)
    assert len(rest) == 4 + 64 * count
    for index, signature in enumerate(envelope.signatures):
        assert rest[4 + 64 * index:4 + 64 * (index + 1)].hex() == signature


def test_a_signature_of_the_wrong_size_has_no_envelope_bytes() -> None:
    envelope = signed(samples()["PREPARE"])
    with pytest.raises(ValueError, match="exactly 64 bytes"):
        envelope_bytes(CHAIN, with_signature(envelope, 0, envelope.signatures[0][:-2]))


# --- every signature is checked where it stands --------------------------------------------------------
@pytest.mark.parametrize("kind", list(samples()))
def test_each_damaged_signature_is_named_where_it_stands(kind: str) -> None:
    """Flip one bit of each signature in turn: the refusal names that obligation."""
    message = samples()[kind]
    envelope = signed(message)
    for index, obligation in enumerate(signature_obligations(CHAIN, message)):
        failure = verify(with_signature(envelope, index, flipped(envelope.signatures[index])))
        refusal = (
            EnvelopeRefusal.SENDER_SIGNATURE_INVALID
            if obligation.role == ObligationRole.SENDER
            else EnvelopeRefusal.CERTIFICATE_SIGNATURE_INVALID
        )
        assert failure == EnvelopeFailure(refusal, obligation.place, obligation.signer), (kind, index)


# --- forged, replayed and cross-domain signatures, and bad signer lists ---------------------------------
def forged_sender() -> SignedEnvelope:
    """A PREPARE in replica 1's name, signed with replica 3's key."""
    message = samples()["PREPARE"]
    return SignedEnvelope(message, (sign_consensus_message(SEEDS[3], CHAIN, message),))


def sender_replayed_from_another_chain() -> SignedEnvelope:
    message = samples()["PREPARE"]
    return SignedEnvelope(message, (sign_consensus_message(SEEDS[1], "another-chain", message),))


def sender_replayed_from_another_view() -> SignedEnvelope:
    message = samples()["PREPARE"]
    assert isinstance(message, Prepare)
    earlier = replace(message, view=message.view + 1)
    return SignedEnvelope(message, (sign_consensus_message(SEEDS[1], CHAIN, earlier),))


def prepare_signature_as_commit() -> SignedEnvelope:
    """A COMMIT carrying its sender's PREPARE signature of the same fields."""
    commit = samples()["COMMIT"]
    assert isinstance(commit, Commit)
    prepare = Prepare(commit.view, commit.height, commit.digest, commit.sender)
    return SignedEnvelope(commit, (sign_consensus_message(SEEDS[commit.sender], CHAIN, prepare),))


def commit_vote(replica: int, view: int = 0, height: int = 1, chain_id: str = CHAIN) -> str:
    digest = block_response().certificate.digest
    return sign_consensus_message(SEEDS[replica], chain_id, Commit(view, height, digest, replica))


def commit_vote_forged() -> SignedEnvelope:
    envelope = signed(block_response())
    index = obligation_index(block_response(), "BLOCK_RESPONSE.certificate.commits", 1)
    forged = sign_consensus_message(SEEDS[3], CHAIN, Commit(0, 1, block_response().certificate.digest, 1))
    return with_signature(envelope, index, forged)


def commit_vote_replayed_from_another_chain() -> SignedEnvelope:
    index = obligation_index(block_response(), "BLOCK_RESPONSE.certificate.commits", 1)
    return with_signature(signed(block_response()), index, commit_vote(1, chain_id="another-chain"))


def commit_vote_replayed_from_another_view() -> SignedEnvelope:
    index = obligation_index(block_response(), "BLOCK_RESPONSE.certificate.commits", 1)
    return with_signature(signed(block_response()), index, commit_vote(1, view=1))


def commit_vote_replayed_from_another_height() -> SignedEnvelope:
    index = obligation_index(block_response(), "BLOCK_RESPONSE.certificate.commits", 1)
    return with_signature(signed(block_response()), index, commit_vote(1, height=2))


def prepare_vote_as_commit_vote() -> SignedEnvelope:
    """Replica 1's PREPARE of the block, presented as its COMMIT in a commit certificate."""
    digest = block_response().certificate.digest
    prepare = sign_consensus_message(SEEDS[1], CHAIN, Prepare(0, 1, digest, 1))
    index = obligation_index(block_response(), "BLOCK_RESPONSE.certificate.commits", 1)
    return with_signature(signed(block_response()), index, prepare)


def checkpoint_vote_reused_at_another_height() -> SignedEnvelope:
    """Replica 1's CHECKPOINT at height 4, reused in a certificate for height 2."""
    view_change = view_change_with_checkpoint()
    root = view_change.checkpoint.state_root
    later = sign_consensus_message(SEEDS[1], CHAIN, Checkpoint(4, root, 1))
    index = obligation_index(view_change, "VIEW_CHANGE.checkpoint.signers", 1)
    return with_signature(signed(view_change), index, later)


def checkpoint_vote_reused_as_sender() -> SignedEnvelope:
    """Replica 1's CHECKPOINT signature presented as its own CHECKPOINT of another root."""
    vote = Checkpoint(2, stable_checkpoint().state_root, 1)
    other = Checkpoint(2, sha256(b"another root").hex(), 1)
    return SignedEnvelope(other, (sign_consensus_message(SEEDS[1], CHAIN, vote),))


def new_view_with_a_bad_view_change_signature() -> SignedEnvelope:
    """The second view change inside the NEW-VIEW, signed by replica 1 in replica 2's name."""
    message = new_view()
    index = obligation_index(message, "NEW_VIEW.view_changes[1]", 2)
    forged = sign_consensus_message(SEEDS[1], CHAIN, message.view_changes[1])
    return with_signature(signed(message), index, forged)


def new_view_with_a_bad_prepare_inside() -> SignedEnvelope:
    """A PREPARE vote of a prepared certificate inside a view change inside the NEW-VIEW."""
    message = new_view()
    index = obligation_index(message, "NEW_VIEW.view_changes[0].prepared[0].prepares", 2)
    envelope = signed(message)
    return with_signature(envelope, index, flipped(envelope.signatures[index]))


def new_view_repeating_a_view_change() -> SignedEnvelope:
    """Replica 2's view change twice: one replica would count twice towards the quorum."""
    message = new_view()
    twice = (message.view_changes[0], message.view_changes[1], message.view_changes[1])
    return signed(replace(message, view_changes=twice))


def certificate_listing_a_signer_twice() -> SignedEnvelope:
    """Signers handed over as a list with a repeat (what a reader that forgot to make a
    set, or a port that keeps lists, would produce): refused before anything is
    encoded, so no signatures are needed."""
    response = block_response()
    certificate = CommitCertificate(0, 1, response.certificate.digest, (1, 1, 2))  # type: ignore[arg-type]
    return SignedEnvelope(replace(response, certificate=certificate), ())


def certificate_smaller_than_claimed() -> SignedEnvelope:
    """Its sender listed replica 1 twice and sent a signature for each; a decoder that
    merged the repeat leaves one more signature than the set's obligations."""
    envelope = signed(block_response())
    return SignedEnvelope(envelope.message, envelope.signatures + (commit_vote(1),))


def certificate_naming_replica_n() -> SignedEnvelope:
    response = block_response()
    certificate = replace(response.certificate, commits=frozenset({0, 1, GROUP_SIZE}))
    return signed(replace(response, certificate=certificate))


def certificate_naming_replica_minus_one() -> SignedEnvelope:
    """Replica -1 has no u16 encoding, so nothing can sign it, but an in-memory caller
    can hand it over: refused before anything is encoded."""
    response = block_response()
    certificate = replace(response.certificate, commits=frozenset({-1, 1, 2}))
    return SignedEnvelope(replace(response, certificate=certificate), ())


def prepared_certificate_from_an_outside_primary() -> SignedEnvelope:
    view_change = view_change_with_checkpoint()
    certificate = view_change.prepared[0]
    outside = PreparedCertificate(replace(certificate.pre_prepare, sender=GROUP_SIZE), certificate.prepares)
    return signed(replace(view_change, prepared=(outside,)))


def new_view_proposal_from_outside() -> SignedEnvelope:
    message = new_view()
    proposal = message.proposals[0]
    return signed(replace(message, proposals=(replace(proposal, sender=GROUP_SIZE),)))


def sender_n() -> SignedEnvelope:
    prepare = samples()["PREPARE"]
    return signed(replace(prepare, sender=GROUP_SIZE))


def sender_minus_one() -> SignedEnvelope:
    """A PREPARE from replica -1 (unsignable, as above)."""
    prepare = samples()["PREPARE"]
    return SignedEnvelope(replace(prepare, sender=-1), ())


def missing_signature() -> SignedEnvelope:
    envelope = signed(new_view())
    return SignedEnvelope(envelope.message, envelope.signatures[:-1])


def extra_signature() -> SignedEnvelope:
    envelope = signed(samples()["PREPARE"])
    return SignedEnvelope(envelope.message, envelope.signatures + envelope.signatures)


F = EnvelopeFailure
R = EnvelopeRefusal
FORGERIES = {
    "forged sender": (forged_sender, F(R.SENDER_SIGNATURE_INVALID, "PREPARE", 1)),
    "sender replayed from another chain": (sender_replayed_from_another_chain, F(R.SENDER_SIGNATURE_INVALID, "PREPARE", 1)),
    "sender replayed from another view": (sender_replayed_from_another_view, F(R.SENDER_SIGNATURE_INVALID, "PREPARE", 1)),
    "PREPARE signature as the COMMIT": (prepare_signature_as_commit, F(R.SENDER_SIGNATURE_INVALID, "COMMIT", 2)),
    "CHECKPOINT signature for another root": (checkpoint_vote_reused_as_sender, F(R.SENDER_SIGNATURE_INVALID, "CHECKPOINT", 1)),
    "forged commit vote": (commit_vote_forged, F(R.CERTIFICATE_SIGNATURE_INVALID, "BLOCK_RESPONSE.certificate.commits", 1)),
    "commit vote from another chain": (commit_vote_replayed_from_another_chain, F(R.CERTIFICATE_SIGNATURE_INVALID, "BLOCK_RESPONSE.certificate.commits", 1)),
    "commit vote from another view": (commit_vote_replayed_from_another_view, F(R.CERTIFICATE_SIGNATURE_INVALID, "BLOCK_RESPONSE.certificate.commits", 1)),
    "commit vote from another height": (commit_vote_replayed_from_another_height, F(R.CERTIFICATE_SIGNATURE_INVALID, "BLOCK_RESPONSE.certificate.commits", 1)),
    "PREPARE vote as a COMMIT vote": (prepare_vote_as_commit_vote, F(R.CERTIFICATE_SIGNATURE_INVALID, "BLOCK_RESPONSE.certificate.commits", 1)),
    "CHECKPOINT vote from another height": (checkpoint_vote_reused_at_another_height, F(R.CERTIFICATE_SIGNATURE_INVALID, "VIEW_CHANGE.checkpoint.signers", 1)),
    "NEW-VIEW with a forged view change": (new_view_with_a_bad_view_change_signature, F(R.CERTIFICATE_SIGNATURE_INVALID, "NEW_VIEW.view_changes[1]", 2)),
    "NEW-VIEW with a bad PREPARE inside": (new_view_with_a_bad_prepare_inside, F(R.CERTIFICATE_SIGNATURE_INVALID, "NEW_VIEW.view_changes[0].prepared[0].prepares", 2)),
    "NEW-VIEW repeating a view change": (new_view_repeating_a_view_change, F(R.CERTIFICATE_REPEATS_SIGNER, "NEW_VIEW.view_changes", 2)),
    "certificate listing a signer twice": (certificate_listing_a_signer_twice, F(R.CERTIFICATE_REPEATS_SIGNER, "BLOCK_RESPONSE.certificate.commits", 1)),
    "certificate smaller than claimed": (certificate_smaller_than_claimed, F(R.SIGNATURE_COUNT_WRONG, "BLOCK_RESPONSE", None)),
    "certificate naming replica N": (certificate_naming_replica_n, F(R.CERTIFICATE_SIGNER_OUTSIDE_GROUP, "BLOCK_RESPONSE.certificate.commits", GROUP_SIZE)),
    "certificate naming replica -1": (certificate_naming_replica_minus_one, F(R.CERTIFICATE_SIGNER_OUTSIDE_GROUP, "BLOCK_RESPONSE.certificate.commits", -1)),
    "pre-prepare from replica N": (prepared_certificate_from_an_outside_primary, F(R.CERTIFICATE_SIGNER_OUTSIDE_GROUP, "VIEW_CHANGE.prepared[0].pre_prepare", GROUP_SIZE)),
    "proposal from replica N": (new_view_proposal_from_outside, F(R.CERTIFICATE_SIGNER_OUTSIDE_GROUP, "NEW_VIEW.proposals[0]", GROUP_SIZE)),
    "sender N": (sender_n, F(R.SENDER_OUTSIDE_GROUP, "PREPARE", GROUP_SIZE)),
    "sender -1": (sender_minus_one, F(R.SENDER_OUTSIDE_GROUP, "PREPARE", -1)),
    "missing signature": (missing_signature, F(R.SIGNATURE_COUNT_WRONG, "NEW_VIEW", None)),
    "extra signature": (extra_signature, F(R.SIGNATURE_COUNT_WRONG, "PREPARE", None)),
}


@pytest.mark.parametrize("case", list(FORGERIES))
def test_each_forgery_is_refused_by_name(case: str) -> None:
    build, expected = FORGERIES[case]
    envelope = build()
    assert verify(envelope) == expected
    with pytest.raises(AuthenticationError) as raised:
        authenticated_message(CHAIN, KEYS, envelope)
    assert raised.value.failure == expected
    assert str(raised.value).startswith(expected.refusal.value)


def test_every_refusal_has_a_forgery_producing_it() -> None:
    produced = {expected.refusal for _, expected in FORGERIES.values()}
    assert produced == set(EnvelopeRefusal)


def test_the_same_signatures_verify_on_the_message_they_were_made_for() -> None:
    """The replays are refused for what they were replayed onto, not for being bad:
    each verifies where it came from."""
    response = block_response()
    for view, height in ((1, 1), (0, 2)):
        other = CommitCertificate(view, height, response.certificate.digest, response.certificate.commits)
        assert verify(signed(replace(response, certificate=other))) is None
    assert verify_envelope("another-chain", KEYS, sign_envelope(SEEDS, "another-chain", response)) is None


# --- negative controls: a verifier missing one check lets its forgery through ---------------------------
def always_true(*_: object) -> bool:
    return True


def never(*_: object) -> bool:
    return False


@pytest.mark.parametrize(
    ("helper", "stub", "cases"),
    [
        ("repeats_a_signer", never, ["NEW-VIEW repeating a view change"]),
        ("signature_count_matches", always_true, ["extra signature"]),
        ("signature_verifies", always_true, [
            "forged sender", "sender replayed from another chain", "sender replayed from another view",
            "PREPARE signature as the COMMIT", "CHECKPOINT signature for another root", "forged commit vote",
            "commit vote from another chain", "commit vote from another view", "commit vote from another height",
            "PREPARE vote as a COMMIT vote", "CHECKPOINT vote from another height",
            "NEW-VIEW with a forged view change", "NEW-VIEW with a bad PREPARE inside",
        ]),
    ],
)
def test_a_verifier_without_one_check_lets_its_forgery_through(
    monkeypatch: pytest.MonkeyPatch, helper: str, stub: object, cases: list[str]
) -> None:
    envelopes = [FORGERIES[case][0]() for case in cases]
    assert all(verify(envelope) is not None for envelope in envelopes)
    monkeypatch.setattr(envelope_module, helper, stub)
    for case, envelope in zip(cases, envelopes, strict=True):
        assert verify(envelope) is None, case


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("sender N", IndexError),
        ("certificate naming replica N", IndexError),
        ("pre-prepare from replica N", IndexError),
        ("proposal from replica N", IndexError),
        ("sender -1", OverflowError),
        ("certificate naming replica -1", OverflowError),
    ],
)
def test_without_the_group_check_an_outsider_is_a_traceback_not_a_refusal(
    monkeypatch: pytest.MonkeyPatch, case: str, error: type[Exception]
) -> None:
    """Replica N has no key and replica -1 no bytes: without the check, a named refusal
    becomes an IndexError or an OverflowError (never an acceptance, since no one
    holds a key for an id outside the group)."""
    envelope = FORGERIES[case][0]()
    monkeypatch.setattr(envelope_module, "replica_in_group", always_true)
    with pytest.raises(error):
        verify(envelope)


def test_without_the_repeat_check_a_listed_repeat_is_a_traceback_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signer list with a repeat has no canonical bytes: skipping the check leaves the
    encoder's assertion, not a named refusal, to stop it."""
    envelope = certificate_listing_a_signer_twice()
    monkeypatch.setattr(envelope_module, "repeats_a_signer", never)
    with pytest.raises(AssertionError):
        verify(envelope)


def test_without_the_count_check_a_missing_signature_is_a_traceback_not_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = missing_signature()
    monkeypatch.setattr(envelope_module, "signature_count_matches", always_true)
    with pytest.raises(IndexError):
        verify(envelope)


# --- refusals are ordered and documented --------------------------------------------------------------
def test_refusals_are_checked_in_table_order() -> None:
    """A sender outside the group with a forged signature is refused for the sender:
    the group check comes first. An extra signature over a forged one: the count."""
    prepare = samples()["PREPARE"]
    outside = replace(prepare, sender=GROUP_SIZE)
    bad = SignedEnvelope(outside, (sign_message(SEEDS[0], b"anything"),))
    assert verify(bad) == F(R.SENDER_OUTSIDE_GROUP, "PREPARE", GROUP_SIZE)
    forged = forged_sender()
    assert verify(SignedEnvelope(forged.message, forged.signatures * 2)) == F(R.SIGNATURE_COUNT_WRONG, "PREPARE", None)
    assert list(ENVELOPE_REFUSALS) == list(EnvelopeRefusal)


def test_the_encoding_page_renders_the_refusal_table() -> None:
    page = (ROOT / "docs/encoding.md").read_text(encoding="utf-8")
    assert "<!-- fedspec:envelope refusals -->" in page
    assert "<!-- fedspec:envelope obligations NEW_VIEW -->" in page


def test_every_refusal_has_a_meaning() -> None:
    for refusal in EnvelopeRefusal:
        assert ENVELOPE_REFUSALS[refusal].strip(), refusal


def test_the_envelope_module_imports_only_the_wire_layer_constants_and_codes() -> None:
    tree = ast.parse((ROOT / "spec/wire/envelope.py").read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
        if isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    project = [name for name in imported if name.split(".")[0] in ("spec", "checker", "conformance", "fedspec", "reference")]
    assert project, imported
    for name in project:
        assert name.startswith("spec.wire.") or name in ("spec.constants", "spec.codes"), name
