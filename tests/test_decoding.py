"""The strict decoder (`spec.wire.decoding`): canonical bytes back to typed values.

* round trips, drawn with hypothesis (derandomized; the falsifying example is
  printed): decode(encode(x)) == x for every transaction, header, block and
  consensus message (blocks compared too: PrePrepare and BlockResponse equality
  ignores them), and encode(decode(b)) == b for every mutated b a decoder accepts;
* the decode vectors (the `encoding` runner's cases): every valid one
  round-trips, every malformed one is refused with its failure name and offset,
  and every `DecodeFailure` has at least one;
* every proper prefix of an encoding is TRUNCATED, and every encoding followed by
  more bytes has TRAILING_BYTES; an input over MAX_MESSAGE_BYTES is refused unread;
* a bounded fuzz run (fixed seed, printed on failure): nothing but DecodeError
  escapes, and every accepted input re-encodes to itself;
* negative controls: decoders with one check switched off, or reading a field
  wrong (a helper or table of `spec.wire.decoding` monkeypatched), are caught by
  the checks above. A decoder that skips the wire types' patterns still re-encodes
  every input it accepts to itself: only the malformed vectors catch it.
"""

import random
import typing
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from source_mutants import source_mutant

import spec.wire.decoding as decoding
from conformance.decoder_fuzz import fuzz, mutated
from conformance.decoding_vectors import (
    DECODERS,
    encode_decoded,
    malformed_inputs,
    valid_inputs,
)
from conformance.encoding_vectors import encoding_cases
from conformance.generate import (
    VECTOR_CHAIN_ID,
    consensus_sample_messages,
    signed_sample_transactions,
    vector_block,
)
from spec.constants import (
    CHAIN_ID_PATTERN,
    HASH_PATTERN,
    MAX_MESSAGE_BYTES,
    MAX_REPLICAS,
    MAX_UINT64,
    SIGNATURE_PATTERN,
)
from spec.wire.decoding import (
    TRANSACTION_CLASSES,
    DecodeError,
    DecodeFailure,
    decode_block,
    decode_consensus_message,
    decode_header,
    decode_transaction,
)
from spec.wire.encoding import TRANSACTION_TYPE_CODES, header_bytes, transaction_bytes
from spec.wire.message_encoding import block_bytes, consensus_signing_message
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
from spec.wire.types import TRANSACTION_TYPES, AnyTransaction, Block, BlockHeader, WireModel

F = DecodeFailure
FUZZ_SEED = 20261202
FUZZ_COUNT = 3_000
CONTROL_FUZZ_COUNT = 1_500
"""A shorter fuzz run for the negative controls (each control runs every check)."""

ROUND_TRIPS = settings(
    derandomize=True, max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(decoder: str, data: bytes) -> str:
    """What a decoder does with `data`: the failure name, `accepted`, or what else it raised."""
    try:
        DECODERS[decoder](data)
    except DecodeError as error:
        return error.reason.value
    except Exception as error:  # a check of the decoder: anything else is a finding
        return f"raised {type(error).__name__}"
    return "accepted"


def blocks_in(message: Message) -> list[Block]:
    """Every block a message carries, in order: the blocks its equality ignores."""
    if isinstance(message, PrePrepare | BlockResponse):
        return [message.block]
    if isinstance(message, ViewChange):
        return [certificate.pre_prepare.block for certificate in message.prepared]
    if isinstance(message, NewView):
        blocks = []
        for view_change in message.view_changes:
            blocks += blocks_in(view_change)
        return blocks + [proposal.block for proposal in message.proposals]
    return []


# === strategies ====================================================================================
RAW_HEX_BYTES = {HASH_PATTERN: 32, SIGNATURE_PATTERN: 64}
"""Hex patterns drawn as raw bytes: the same values, far faster than from_regex."""


def field_strategy(model: type[WireModel], name: str) -> st.SearchStrategy[Any]:
    """Any value the wire type accepts for the field: its pattern, or the u64 range."""
    for metadata in model.model_fields[name].metadata:
        pattern = getattr(metadata, "pattern", None)
        if pattern in RAW_HEX_BYTES:
            return st.binary(min_size=RAW_HEX_BYTES[pattern], max_size=RAW_HEX_BYTES[pattern]).map(bytes.hex)
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
    return st.integers(0, MAX_UINT64)


def model_strategy(model: type[WireModel]) -> st.SearchStrategy[Any]:
    fields = {name: field_strategy(model, name) for name in model.model_fields if name != "type"}
    return st.builds(model, **fields)


TRANSACTIONS: st.SearchStrategy[AnyTransaction] = st.one_of([model_strategy(model) for model in TRANSACTION_TYPES])
HEADERS = model_strategy(BlockHeader)


def blocks(most: int) -> st.SearchStrategy[Block]:
    return st.builds(Block, header=HEADERS, transactions=st.lists(TRANSACTIONS, max_size=most).map(tuple))


U64 = st.integers(0, MAX_UINT64)
HASHES = st.binary(min_size=32, max_size=32).map(bytes.hex)
REPLICAS = st.integers(0, MAX_REPLICAS - 1)
REPLICA_SETS = st.frozensets(REPLICAS, max_size=6)
CHAIN_IDS = st.from_regex(CHAIN_ID_PATTERN, fullmatch=True)
PRE_PREPARES = st.builds(PrePrepare, U64, U64, HASHES, blocks(2), REPLICAS)
CHECKPOINTS = st.builds(CheckpointCertificate, U64, HASHES, REPLICA_SETS)
VIEW_CHANGES = st.builds(
    ViewChange, U64, CHECKPOINTS,
    st.lists(st.builds(PreparedCertificate, PRE_PREPARES, REPLICA_SETS), max_size=2).map(tuple), REPLICAS,
)
MESSAGE_STRATEGIES: dict[type, st.SearchStrategy[Any]] = {
    PrePrepare: PRE_PREPARES,
    Prepare: st.builds(Prepare, U64, U64, HASHES, REPLICAS),
    Commit: st.builds(Commit, U64, U64, HASHES, REPLICAS),
    Checkpoint: st.builds(Checkpoint, U64, HASHES, REPLICAS),
    ViewChange: VIEW_CHANGES,
    NewView: st.builds(NewView, U64, st.lists(VIEW_CHANGES, max_size=3).map(tuple), CHECKPOINTS,
                       st.lists(PRE_PREPARES, max_size=2).map(tuple), REPLICAS),
    BlockRequest: st.builds(BlockRequest, U64, REPLICAS),
    BlockResponse: st.builds(BlockResponse, blocks(3), st.builds(CommitCertificate, U64, U64, HASHES, REPLICA_SETS),
                             REPLICAS, REPLICAS),
}
MESSAGES: st.SearchStrategy[Message] = st.one_of(list(MESSAGE_STRATEGIES.values()))


def test_the_round_trips_draw_every_message_class() -> None:
    assert set(MESSAGE_STRATEGIES) == set(typing.get_args(Message))


# === round trips ====================================================================================
@pytest.mark.parametrize("model", TRANSACTION_TYPES, ids=lambda model: model.__name__)
def test_a_transaction_of_every_type_decodes_to_itself(model: type[WireModel]) -> None:
    @settings(ROUND_TRIPS, max_examples=40)
    @given(model_strategy(model))
    def round_trip(tx: AnyTransaction) -> None:
        assert decode_transaction(transaction_bytes(tx)) == tx

    round_trip()


@ROUND_TRIPS
@given(HEADERS)
def test_a_header_decodes_to_itself(header: BlockHeader) -> None:
    assert decode_header(header_bytes(header)) == header


@ROUND_TRIPS
@given(blocks(4))
def test_a_block_decodes_to_itself(block: Block) -> None:
    assert decode_block(block_bytes(block)) == block


@pytest.mark.parametrize("message_class", list(MESSAGE_STRATEGIES), ids=lambda cls: cls.__name__)
def test_a_consensus_message_of_every_kind_decodes_to_itself_blocks_included(message_class: type) -> None:
    @settings(ROUND_TRIPS, max_examples=25)
    @given(CHAIN_IDS, MESSAGE_STRATEGIES[message_class])
    def round_trip(chain_id: str, message: Message) -> None:
        decoded_chain_id, decoded = decode_consensus_message(consensus_signing_message(chain_id, message))
        assert (decoded_chain_id, decoded) == (chain_id, message)
        assert blocks_in(decoded) == blocks_in(message)

    round_trip()


def check_sample_round_trips() -> None:
    for _signer, tx in signed_sample_transactions():
        assert decode_transaction(transaction_bytes(tx)) == tx
    block = vector_block()
    assert decode_header(header_bytes(block.header)) == block.header
    assert decode_block(block_bytes(block)) == block
    for message in consensus_sample_messages():
        chain_id, decoded = decode_consensus_message(consensus_signing_message(VECTOR_CHAIN_ID, message))
        assert (chain_id, decoded) == (VECTOR_CHAIN_ID, message)
        assert blocks_in(decoded) == blocks_in(message)


def test_the_samples_decode_to_themselves_blocks_included() -> None:
    check_sample_round_trips()


def test_block_equality_in_a_message_would_miss_a_different_block() -> None:
    """Why the round trips compare blocks: a PrePrepare with another block is still equal."""
    message = next(m for m in consensus_sample_messages() if isinstance(m, PrePrepare))
    other = PrePrepare(message.view, message.height, message.digest, Block(header=message.block.header, transactions=()),
                       message.sender)
    assert other == message
    assert blocks_in(other) != blocks_in(message)


ENCODED = st.one_of(
    TRANSACTIONS.map(lambda tx: transaction_bytes(tx)),
    HEADERS.map(header_bytes),
    blocks(3).map(block_bytes),
    st.tuples(CHAIN_IDS, MESSAGES).map(lambda pair: consensus_signing_message(*pair)),
)


@ROUND_TRIPS
@given(ENCODED, st.lists(st.sampled_from(("flip", "insert", "delete", "overwrite", "truncate")), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1))
def test_every_mutated_encoding_is_refused_by_name_or_re_encodes_to_itself(
    data: bytes, mutations: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    for mutation in mutations:
        data = mutated(rng, mutation, data, [data])
    for decoder in DECODERS:
        assert_refused_by_name_or_reencodes(decoder, data)


def assert_refused_by_name_or_reencodes(decoder: str, data: bytes) -> None:
    try:
        value = DECODERS[decoder](data)
    except DecodeError:
        return
    assert encode_decoded(decoder, value) == data, f"decode_{decoder} accepted {data.hex()} but re-encodes otherwise"


# === the decode vectors =============================================================================
def check_valid_vectors() -> None:
    for case in valid_inputs():
        value = DECODERS[case.decoder](case.data)
        assert encode_decoded(case.decoder, value) == case.data, case.name


def check_malformed_vectors(failure: DecodeFailure) -> None:
    cases = [case for case in malformed_inputs() if case.failure == failure]
    assert cases, f"no malformed vector shows {failure}"
    for case in cases:
        assert outcome(case.decoder, case.data) == failure.value, case.name


def test_every_valid_vector_decodes_and_re_encodes_to_itself() -> None:
    check_valid_vectors()


@pytest.mark.parametrize("failure", list(DecodeFailure))
def test_every_malformed_vector_is_refused_with_its_named_failure(failure: DecodeFailure) -> None:
    check_malformed_vectors(failure)


ROUND_TRIP_HANDLERS = ("transaction", "header", "block", "consensus_message", "decode", "envelope")
"""The `encoding` runner's handlers whose cases are bytes a decoder takes."""


def test_the_encoding_cases_match_the_decoder() -> None:
    """The cases as the runner writes them: every valid input is one, its bytes
    re-encode to themselves, and every malformed one is refused with its failure and offset."""
    cases = encoding_cases()
    valid = [case for case in cases if case.handler in ROUND_TRIP_HANDLERS]
    malformed = [case for case in cases if case.handler == "malformed"]
    assert sorted(case.data["hex"] for case in valid) == sorted(case.data.hex() for case in valid_inputs())
    assert sorted(case.data["hex"] for case in malformed) == sorted(case.data.hex() for case in malformed_inputs())
    assert {case.data["failure"] for case in malformed} == {failure.value for failure in DecodeFailure}
    for case in valid:
        raw = bytes.fromhex(case.data["hex"])
        assert encode_decoded(case.data["what"], DECODERS[case.data["what"]](raw)) == raw, case.id
    for case in malformed:
        with pytest.raises(DecodeError) as caught:
            DECODERS[case.data["what"]](bytes.fromhex(case.data["hex"]))
        assert (caught.value.reason.value, caught.value.offset) == (case.data["failure"], case.data["offset"]), case.id


def test_the_valid_vectors_cover_every_transaction_type_and_message_kind() -> None:
    kinds = {case.kind for case in valid_inputs()}
    assert set(TRANSACTION_TYPE_CODES) <= kinds
    assert {"PRE_PREPARE", "PREPARE", "COMMIT", "CHECKPOINT", "VIEW_CHANGE", "NEW_VIEW", "BLOCK_REQUEST",
            "BLOCK_RESPONSE", "header", "block"} <= kinds


# === prefixes, suffixes and the input bound ===========================================================
def sample_encodings() -> list[tuple[str, bytes]]:
    return [(case.decoder, case.data) for case in valid_inputs()]


def check_prefixes_and_suffixes() -> None:
    """Every proper prefix of an encoding is TRUNCATED; one more byte is TRAILING_BYTES."""
    for decoder, data in sample_encodings():
        for end in range(len(data)):
            assert outcome(decoder, data[:end]) == F.TRUNCATED.value, f"decode_{decoder}, first {end} bytes"
        for extra in (b"\x00", b"\xff\xff"):
            assert outcome(decoder, data + extra) == F.TRAILING_BYTES.value, f"decode_{decoder}, {extra.hex()} appended"


def test_every_proper_prefix_is_truncated_and_every_extension_has_trailing_bytes() -> None:
    check_prefixes_and_suffixes()


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_an_input_over_the_message_bound_is_refused_before_it_is_read(decoder: str) -> None:
    with pytest.raises(DecodeError) as caught:
        DECODERS[decoder](bytes(MAX_MESSAGE_BYTES + 1))
    assert (caught.value.reason, caught.value.offset) == (F.LENGTH_OVER_BOUND, 0)
    assert "the input length" in caught.value.detail
    # Control: at the bound, the input is read (and refused for what it holds).
    assert outcome(decoder, bytes(MAX_MESSAGE_BYTES)) != F.LENGTH_OVER_BOUND.value


def test_an_error_names_the_field_and_the_byte() -> None:
    lock = transaction_bytes(signed_sample_transactions()[0][1])
    with pytest.raises(DecodeError) as caught:
        decode_transaction(lock[:-1])
    assert str(caught.value) == "TRUNCATED at byte 85: transaction.signature needs 64 bytes, 63 remain"


def test_the_transaction_classes_are_the_wire_types_by_type_name() -> None:
    assert list(TRANSACTION_CLASSES) == list(TRANSACTION_TYPE_CODES)
    for name, model in TRANSACTION_CLASSES.items():
        assert model.model_fields["type"].default == name


# === fuzzing ==========================================================================================
def check_fuzz(count: int) -> None:
    report = fuzz(FUZZ_SEED, count)
    shown = "; ".join(f"decode_{v.decoder}({v.data.hex()}): {v.problem}" for v in report.violations[:3])
    assert not report.violations, f"fuzz seed {FUZZ_SEED}: {len(report.violations)} violations: {shown}"
    assert report.inputs == count


def test_fuzzed_inputs_are_refused_by_name_or_re_encode_to_themselves() -> None:
    check_fuzz(FUZZ_COUNT)
    report = fuzz(FUZZ_SEED, FUZZ_COUNT)
    for name, tally in report.tallies.items():
        assert tally.tried == FUZZ_COUNT
        assert tally.accepted > 0, f"the fuzz run (seed {FUZZ_SEED}) exercised no accepted input of decode_{name}"
        assert tally.accepted + sum(tally.rejected.values()) == tally.tried


def test_the_fuzzer_is_deterministic_in_its_seed() -> None:
    first, second = fuzz(7, 200), fuzz(7, 200)
    assert first.tallies == second.tallies and first.made_by == second.made_by


# === negative controls ================================================================================
def failing_checks() -> list[str]:
    """Which checks above fail with whatever `spec.wire.decoding` is now."""
    checks: dict[str, Callable[[], object]] = {failure.value: lambda f=failure: check_malformed_vectors(f)
                                               for failure in DecodeFailure}
    checks["round trips"] = check_sample_round_trips
    checks["valid vectors"] = check_valid_vectors
    checks["prefixes"] = check_prefixes_and_suffixes
    checks["fuzz"] = lambda: check_fuzz(CONTROL_FUZZ_COUNT)
    failed = []
    for name, check in checks.items():
        try:
            check()
        except AssertionError:
            failed.append(name)
    return failed


def test_the_unbroken_decoder_passes_every_check() -> None:
    """Control for the controls below."""
    assert failing_checks() == []


def never(*_arguments: object) -> None:
    """A check switched off."""


def mutated_function(name: str, old: str, new: str) -> Callable[..., Any]:
    """The function `name` of `spec.wire.decoding` with one piece of its source text replaced."""
    return source_mutant(decoding, name, old, new)


def unchecked_model(model: type[WireModel], values: dict[str, object], offsets: dict[str, int], path: str) -> Any:
    return model.model_construct(**values)


def unchecked_take(reader: decoding.Reader, count: int, path: str) -> bytes:
    start = reader.position
    reader.position = start + count
    return reader.data[start:reader.position]


HEADER_FIELDS_SWAPPED = (decoding.HEADER_FIELDS[2], *decoding.HEADER_FIELDS[1:2], decoding.HEADER_FIELDS[0],
                         *decoding.HEADER_FIELDS[3:])
"""The header's height and timestamp read in each other's place."""


DECODER_MUTANTS: dict[str, tuple[str, Callable[[], Any], set[str]]] = {
    # name: (helper or table of spec.wire.decoding, its broken replacement, checks that must catch it)
    "no trailing-bytes check": ("require_end", lambda: never, {"TRAILING_BYTES", "LENGTH_MISMATCH", "prefixes", "fuzz"}),
    "no bounds on counts and lengths": ("require_within_bound", lambda: never, {"LENGTH_OVER_BOUND"}),
    "a frame's end read as the input's": ("out_of_bytes", lambda: mutated_function(
        "out_of_bytes", "if reader.frame:", "if False:"), {"LENGTH_MISMATCH"}),
    "reading past the end": ("take", lambda: unchecked_take, {"TRUNCATED", "prefixes"}),
    "unknown type codes read as commits": ("transaction_type_named", lambda: mutated_function(
        "transaction_type_named", "    raise DecodeError(", "    return 'ATP_TRANSFER_COMMIT'\n    raise DecodeError("),
        {"UNKNOWN_TRANSACTION_TYPE"}),
    "a cut tag reported as unknown": ("read_domain_tag", lambda: mutated_function(
        "read_domain_tag", "raise out_of_bytes(", "pass  # "), {"TRUNCATED", "prefixes"}),
    "any kind embedded in a NEW_VIEW": ("require_embedded_kind", lambda: never, {"WRONG_EMBEDDED_KIND"}),
    "embedded chain id unchecked": ("require_same_chain", lambda: never, {"CHAIN_ID_MISMATCH"}),
    "replica ids unbounded": ("require_replica_in_range", lambda: never, {"INTEGER_OUT_OF_RANGE"}),
    "non-ASCII strings read": ("require_ascii", lambda: never, {"NON_CANONICAL_STRING", "fuzz"}),
    "replica sets in any order": ("require_ascending", lambda: never, {"NON_CANONICAL_REPLICA_SET", "fuzz"}),
    "chain id pattern unchecked": ("require_pattern", lambda: never, {"INVALID_FIELD"}),
    "wire types unchecked": ("checked_model", lambda: unchecked_model, {"INVALID_FIELD"}),
    "header read in another order": ("HEADER_FIELDS", lambda: HEADER_FIELDS_SWAPPED, {"round trips", "valid vectors"}),
    "a replica set loses its last member": ("read_replica_set", lambda: mutated_function(
        "read_replica_set", "replicas.append(replica)", "replicas.append(replica) if index < count - 1 else None"),
        {"round trips", "valid vectors"}),
}


@pytest.mark.parametrize("mutant", sorted(DECODER_MUTANTS))
def test_a_decoder_with_a_check_switched_off_is_caught(mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    helper, broken, catchers = DECODER_MUTANTS[mutant]
    monkeypatch.setattr(decoding, helper, broken())
    failed = set(failing_checks())
    assert catchers <= failed, f"{mutant}: caught by {sorted(failed)}, expected {sorted(catchers)}"
