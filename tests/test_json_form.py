"""The one JSON form of every wire object (spec.wire.json_form).

Every kind round-trips: from samples (the conformance samples, the records and
receipts of every shipped scenario) and from random values (hypothesis, seeded by
derandomize: a failure prints its example). Every field of every kind is in its
form, listed independently of the module; malformed JSON is refused with a named
reason at a named place, and random JSON never escapes as anything but a
JsonFormError. No other module of the code base writes JSON forms of its own.
Each check has a negative control: a form that drops a field, a checker that
misses a hand-written form.
"""

import ast
import copy
import dataclasses
import json
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import spec.wire.json_form as json_form
from conformance.encoding_vectors import handler_data
from conformance.generate import (
    consensus_sample_messages,
    signed_sample_transactions,
    vector_block,
    vector_genesis,
)
from spec.constants import MAX_UINT16, MAX_UINT64
from spec.scenario import load_and_replay
from spec.wire.json_form import (
    INPUT_TAGS,
    JSON_KINDS,
    JsonFormError,
    JsonFormReason,
    from_json,
    input_from_json,
    to_json,
    transaction_from_json,
    wire_kinds,
)
from spec.wire.messages import (
    BlockResponse,
    CheckpointCertificate,
    ClientRequest,
    CommitCertificate,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import BalanceSetRecord, BlockReceipt, LedgerState
from spec.wire.types import TRANSACTION_TYPES, AnyTransaction

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))

RANDOM = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- samples of every kind -----------------------------------------------------------------------
def nested(value: object) -> list[object]:
    """`value` and every object of JSON_KINDS inside it."""
    found = [value]
    if isinstance(value, BaseModel):
        parts: list[object] = [getattr(value, name) for name in type(value).model_fields]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [getattr(value, field.name) for field in dataclasses.fields(value)]
    elif isinstance(value, (tuple, list, frozenset, set)):
        return [inner for item in value for inner in nested(item)]
    elif isinstance(value, dict):
        return [inner for item in value.values() for inner in nested(item)]
    else:
        return []
    for part in parts:
        found += nested(part)
    return [item for item in found if type(item) in JSON_KINDS]


def sample_objects() -> list[object]:
    block = vector_block()
    roots: list[object] = [vector_genesis(), block, *consensus_sample_messages()]
    roots += [tx for _, tx in signed_sample_transactions()]
    roots += [ClientRequest(block.transactions[4:6]), ClientRequest(()), TimerFired(Timer.FETCH, 1_701_388_805_000)]
    for path in EXAMPLES:
        result = load_and_replay(path.read_text(encoding="utf-8"))
        roots.append(result.final)
        roots += [outcome.receipt for outcome in result.blocks]
    # No shipped scenario mints or fails an id: one state that has done both.
    minted = BalanceSetRecord("mint-1", "lct:web4:agent:alice", 5_000_000)
    roots.append(dataclasses.replace(
        result.final, balance_sets={minted.set_id: minted}, failed_transfer_ids={"t-9", "t-10"},
        failed_set_ids={"mint-0"}, failed_update_ids={"rep-2", "rep-1"},
    ))
    objects: list[object] = []
    for root in roots:
        objects += nested(root)
    return objects


SAMPLES = sample_objects()


def by_kind() -> dict[type, list[object]]:
    kinds: dict[type, list[object]] = {kind: [] for kind in JSON_KINDS}
    for value in SAMPLES:
        kinds[type(value)].append(value)
    return kinds


def test_the_samples_hold_every_kind() -> None:
    missing = [kind.__name__ for kind, values in by_kind().items() if not values]
    assert missing == []


# --- round trips ----------------------------------------------------------------------------------
def assert_round_trips(value: object) -> None:
    """Through JSON text and back, to the same object with the same form. (Equality
    alone would miss a wrong `PrePrepare.block`: it takes no part in equality.)"""
    data = json.loads(json.dumps(to_json(value)))
    back = from_json(type(value), data)
    assert back == value
    assert to_json(back) == data
    if type(value) in INPUT_TAGS:
        assert input_from_json(data) == value
    if type(value) in TRANSACTION_TYPES:
        assert transaction_from_json(data) == value


@pytest.mark.parametrize("kind", JSON_KINDS, ids=lambda kind: kind.__name__)
def test_every_sample_round_trips(kind: type) -> None:
    for value in by_kind()[kind]:
        assert_round_trips(value)


def test_a_writer_that_drops_a_field_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a form without PrePrepare.block (no part in equality)."""
    honest = json_form.dataclass_json

    def without_block(value: object) -> dict[str, Any]:
        data = honest(value)
        data.pop("block", None)
        return data

    monkeypatch.setattr(json_form, "dataclass_json", without_block)
    proposal = next(value for value in SAMPLES if isinstance(value, PrePrepare))
    with pytest.raises(JsonFormError) as caught:
        assert_round_trips(proposal)
    assert (caught.value.path, caught.value.reason) == ("PrePrepare.block", JsonFormReason.MISSING_KEY)


def test_a_reader_that_ignores_a_field_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a reader that keeps the sample block whatever the JSON says."""
    proposal = next(value for value in SAMPLES if isinstance(value, PrePrepare))
    other = next(tx for _, tx in signed_sample_transactions())
    changed = dataclasses.replace(proposal, block=proposal.block.model_copy(update={"transactions": (other,)}))
    honest = json_form.read_dataclass

    def stale_block(kind: type, data: Any, path: str) -> Any:
        value = honest(kind, data, path)
        return dataclasses.replace(value, block=proposal.block) if kind is PrePrepare else value

    monkeypatch.setattr(json_form, "read_dataclass", stale_block)
    with pytest.raises(AssertionError):
        assert_round_trips(changed)


# --- every field is in the form --------------------------------------------------------------------
def declared_fields(kind: type) -> list[str]:
    """The fields of a kind, listed from the class itself, not from json_form."""
    if issubclass(kind, BaseModel):
        return list(kind.model_fields)
    return [field.name for field in dataclasses.fields(kind)]


def missing_fields(value: object, data: dict[str, Any]) -> list[str]:
    tag = ["type"] if type(value) in INPUT_TAGS else []
    expected = tag + declared_fields(type(value))
    return [name for name in expected if name not in data] + [name for name in data if name not in expected]


@pytest.mark.parametrize("kind", JSON_KINDS, ids=lambda kind: kind.__name__)
def test_every_field_of_every_kind_is_in_its_form(kind: type) -> None:
    for value in by_kind()[kind]:
        assert missing_fields(value, to_json(value)) == []


def test_a_form_that_omits_fields_is_caught_by_the_field_list() -> None:
    """Negative control: the command line's old view of a ledger state omitted records."""
    state = next(value for value in SAMPLES if isinstance(value, LedgerState))
    old_view = {key: item for key, item in to_json(state).items() if key not in ("balance_sets", "failed_set_ids")}
    assert missing_fields(state, old_view) == ["balance_sets", "failed_set_ids"]
    task = next(value for value in SAMPLES if type(value).__name__ == "Task")
    assert missing_fields(task, {**to_json(task), "available": 1}) == ["available"]


def test_pre_prepare_and_block_response_carry_their_block() -> None:
    for value in SAMPLES:
        if isinstance(value, (PrePrepare, BlockResponse)):
            assert to_json(value)["block"] == value.block.model_dump(mode="json")


def test_sets_are_sorted_and_maps_are_sorted_by_key() -> None:
    certificate = CheckpointCertificate(3, "ab" * 32, frozenset({700, 3, 12, 0}))
    assert to_json(certificate)["signers"] == [0, 3, 12, 700]
    state = next(value for value in SAMPLES if isinstance(value, LedgerState) and len(value.accounts) > 1)
    shuffled = dataclasses.replace(state, accounts=dict(reversed(state.accounts.items())), failed_set_ids={"z", "b", "m"})
    data = to_json(shuffled)
    assert list(data["accounts"]) == sorted(state.accounts)
    assert data["failed_set_ids"] == ["b", "m", "z"]


def test_consensus_vectors_read_back_to_the_sample_messages() -> None:
    for entry, message in zip(handler_data("consensus_message"), consensus_sample_messages(), strict=True):
        assert input_from_json(entry["json"]) == message
        assert entry["json"] == to_json(message)
    (group,) = [data for data in handler_data("state_root") if "genesis" in data]
    assert from_json(type(vector_genesis()), group["genesis"]) == vector_genesis()


# --- random objects ---------------------------------------------------------------------------------
def objects_of(annotation: Any, wire: str | None = None) -> st.SearchStrategy[Any]:
    """Random values of a kind: samples for wire models, built from the annotations otherwise."""
    if annotation == AnyTransaction:
        return st.sampled_from([tx for _, tx in signed_sample_transactions()])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return st.sampled_from(by_kind()[annotation])
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        hints = typing.get_type_hints(annotation)
        wire_of = wire_kinds(annotation)
        fields = {
            field.name: objects_of(hints[field.name], wire_of.get(field.name))
            for field in dataclasses.fields(annotation)
            if field.init
        }
        return st.builds(annotation, **fields)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if type(None) in arguments:
        (present,) = [argument for argument in arguments if argument is not type(None)]
        return st.none() | objects_of(present, wire)
    if origin is tuple:
        return st.lists(objects_of(arguments[0], wire), max_size=3).map(tuple)
    if origin in (frozenset, set):
        element = objects_of(arguments[0], "u16" if wire == "replicas" else None)
        return st.sets(element, max_size=4).map(origin)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), objects_of(arguments[1]), max_size=3)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(0, MAX_UINT16 if wire == "u16" else MAX_UINT64)
    assert annotation is str, annotation
    if wire == "hash":
        return st.binary(min_size=32, max_size=32).map(bytes.hex)
    return st.text(max_size=8)


DATACLASS_KINDS = [kind for kind in JSON_KINDS if dataclasses.is_dataclass(kind)]


@pytest.mark.parametrize("kind", DATACLASS_KINDS, ids=lambda kind: kind.__name__)
def test_random_objects_round_trip(kind: type) -> None:
    @RANDOM
    @given(objects_of(kind))
    def round_trip(value: object) -> None:
        assert missing_fields(value, to_json(value)) == []
        assert_round_trips(value)

    round_trip()


# --- malformed JSON ----------------------------------------------------------------------------------
def sample(kind: type) -> Any:
    return to_json(by_kind()[kind][0])


def changed(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


DELETE = object()

MALFORMED: list[tuple[str, type, tuple[Any, ...], Any, str, JsonFormReason]] = [
    ("negative view", Prepare, ("view",), -1, "Prepare.view", JsonFormReason.OUT_OF_RANGE),
    ("view above u64", Prepare, ("view",), MAX_UINT64 + 1, "Prepare.view", JsonFormReason.OUT_OF_RANGE),
    ("view as a string", Prepare, ("view",), "1", "Prepare.view", JsonFormReason.WRONG_TYPE),
    ("view as a float", Prepare, ("view",), 1.0, "Prepare.view", JsonFormReason.WRONG_TYPE),
    ("view as a boolean", Prepare, ("view",), True, "Prepare.view", JsonFormReason.WRONG_TYPE),
    ("sender above u16", Prepare, ("sender",), MAX_UINT16 + 1, "Prepare.sender", JsonFormReason.OUT_OF_RANGE),
    ("digest in capitals", Prepare, ("digest",), "AB" * 32, "Prepare.digest", JsonFormReason.NOT_A_HASH),
    ("digest too short", Prepare, ("digest",), "ab", "Prepare.digest", JsonFormReason.NOT_A_HASH),
    ("no digest", Prepare, ("digest",), DELETE, "Prepare.digest", JsonFormReason.MISSING_KEY),
    ("no type", Prepare, ("type",), DELETE, "Prepare.type", JsonFormReason.MISSING_KEY),
    ("another kind's type", Prepare, ("type",), "COMMIT", "Prepare.type", JsonFormReason.UNKNOWN_TYPE),
    ("an unknown key", Prepare, ("signature",), "00", "Prepare.signature", JsonFormReason.UNKNOWN_KEY),
    ("signers out of order", CheckpointCertificate, ("signers",), [2, 1], "CheckpointCertificate.signers[1]",
     JsonFormReason.SET_NOT_ASCENDING),
    ("a signer twice", CommitCertificate, ("commits",), [1, 1], "CommitCertificate.commits[1]",
     JsonFormReason.SET_NOT_ASCENDING),
    ("signers as an object", CheckpointCertificate, ("signers",), {}, "CheckpointCertificate.signers",
     JsonFormReason.WRONG_TYPE),
    ("a block of a negative height", PrePrepare, ("block", "header", "height"), -1, "PrePrepare.block.header.height",
     JsonFormReason.INVALID_WIRE_VALUE),
    ("a block with an unknown key", PrePrepare, ("block", "extra"), 1, "PrePrepare.block.extra",
     JsonFormReason.INVALID_WIRE_VALUE),
    ("a nested pre-prepare without its type", PreparedCertificate, ("pre_prepare", "type"), DELETE,
     "PreparedCertificate.pre_prepare.type", JsonFormReason.MISSING_KEY),
    ("a view change of another kind", NewView, ("view_changes", 0, "type"), "NEW_VIEW", "NewView.view_changes[0].type",
     JsonFormReason.UNKNOWN_TYPE),
    ("a view change's prepared certificates as null", ViewChange, ("prepared",), None, "ViewChange.prepared",
     JsonFormReason.WRONG_TYPE),
    ("a transaction of no type", ClientRequest, ("transactions", 0, "type"), "MINT", "ClientRequest.transactions[0]",
     JsonFormReason.INVALID_WIRE_VALUE),
    ("a transaction's negative amount", ClientRequest, ("transactions", 0, "amount"), -1,
     "ClientRequest.transactions[0].amount", JsonFormReason.INVALID_WIRE_VALUE),
    ("a block's transaction without a signature", PrePrepare, ("block", "transactions", 1, "signature"), DELETE,
     "PrePrepare.block.transactions[1].signature", JsonFormReason.INVALID_WIRE_VALUE),
    ("an unknown timer", TimerFired, ("timer",), "SOON", "TimerFired.timer", JsonFormReason.UNKNOWN_VALUE),
    ("a timer as a number", TimerFired, ("timer",), 1, "TimerFired.timer", JsonFormReason.WRONG_TYPE),
    ("accounts as an array", LedgerState, ("accounts",), [], "LedgerState.accounts", JsonFormReason.WRONG_TYPE),
    ("failed ids out of order", LedgerState, ("failed_transfer_ids",), ["b", "a"], "LedgerState.failed_transfer_ids[1]",
     JsonFormReason.SET_NOT_ASCENDING),
    ("a receipt code of no name", BlockReceipt, ("code",), "fine", "BlockReceipt.code", JsonFormReason.UNKNOWN_VALUE),
    ("a receipt without transactions", BlockReceipt, ("transactions",), DELETE, "BlockReceipt.transactions",
     JsonFormReason.MISSING_KEY),
]


@pytest.mark.parametrize(("case", "kind", "path", "value", "where", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_json_is_refused_by_name(
    case: str, kind: type, path: tuple[Any, ...], value: Any, where: str, reason: JsonFormReason
) -> None:
    data = sample(kind)
    from_json(kind, data)  # the unchanged sample reads: the change alone is refused
    with pytest.raises(JsonFormError) as caught:
        from_json(kind, changed(data, path, value))
    assert (caught.value.path, caught.value.reason) == (where, reason), case
    assert str(caught.value).startswith(f"{where}: {reason.value}: ")


def test_inputs_are_told_apart_by_their_type() -> None:
    with pytest.raises(JsonFormError) as caught:
        input_from_json({**sample(Prepare), "type": "PREPAR"})
    assert (caught.value.path, caught.value.reason) == ("input.type", JsonFormReason.UNKNOWN_TYPE)
    with pytest.raises(JsonFormError) as caught:
        input_from_json({**sample(Prepare), "view": -1})
    assert (caught.value.path, caught.value.reason) == ("Prepare.view", JsonFormReason.OUT_OF_RANGE)
    with pytest.raises(JsonFormError) as caught:
        input_from_json([])
    assert caught.value.reason == JsonFormReason.WRONG_TYPE
    with pytest.raises(JsonFormError) as caught:
        transaction_from_json({"type": "MINT"})
    assert caught.value.reason == JsonFormReason.INVALID_WIRE_VALUE


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(JsonFormError) as caught:
        from_json(type(vector_block()), {"header": float("nan"), "transactions": []})
    assert caught.value.reason == JsonFormReason.NOT_JSON
    with pytest.raises(JsonFormError) as caught:
        from_json(LedgerState, {**sample(LedgerState), "reputations": {1: 5}})
    assert caught.value.reason == JsonFormReason.NOT_JSON


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**65) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def leaf_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [prefix] + [path for key, item in data.items() for path in leaf_paths(item, (*prefix, key))]
    if isinstance(data, list):
        return [prefix] + [path for index, item in enumerate(data) for path in leaf_paths(item, (*prefix, index))]
    return [prefix]


@pytest.mark.parametrize("kind", JSON_KINDS, ids=lambda kind: kind.__name__)
def test_random_changes_are_read_or_refused_by_name(kind: type) -> None:
    """Any value put anywhere in a valid form: read, or a JsonFormError; nothing else."""
    data = sample(kind)
    paths = [path for path in leaf_paths(data) if path]

    @RANDOM
    @given(st.sampled_from(paths), JSON_VALUES | st.just(DELETE))
    def read_or_refuse(path: tuple[Any, ...], value: Any) -> None:
        try:
            from_json(kind, changed(data, path, value))
        except JsonFormError:
            pass

    read_or_refuse()


# --- no other JSON forms -------------------------------------------------------------------------------
DOCUMENTS = {"trace_json", "report_json"}
"""Functions named *_json that build a whole document (a trace, a checker report) out
of JSON forms, never a form of their own."""

FORM_CALLS = {"model_dump", "model_dump_json", "TypeAdapter", "asdict"}
"""Calls that write or read a JSON form: only spec.wire.json_form makes them."""


def hand_written_forms(source: str) -> list[str]:
    """Functions that look like a JSON form of their own, and calls that make one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_json") and node.name not in DOCUMENTS:
            found.append(f"def {node.name}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in FORM_CALLS:
                found.append(f"call {name}")
    return found


def test_nothing_else_writes_json_forms_by_hand() -> None:
    found = {}
    for folder in ("checker", "conformance", "fedspec"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            forms = hand_written_forms(path.read_text(encoding="utf-8"))
            if forms:
                found[str(path.relative_to(ROOT))] = forms
    assert found == {}


def test_a_hand_written_form_is_found() -> None:
    """Negative control: the old forms of the command line, the traces and the vectors."""
    source = (
        "def settlement_json(s):\n    return {'transfer_id': s.transfer_id}\n"
        "def view_change_from_json(data):\n    return data\n"
        "def fields(block):\n    return block.model_dump(mode='json')\n"
    )
    assert hand_written_forms(source) == ["def settlement_json", "def view_change_from_json", "call model_dump"]
