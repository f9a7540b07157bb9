"""The JSON form of every wire object: one shape per object, for every caller.

The command line, the checker's traces, the conformance vectors, the conformance
runner and a node's API all write and read JSON through this module, so an object
has exactly one JSON form wherever it appears.

The forms are derived, not written out per type:

* a pydantic model (a transaction, `Block`, `BlockHeader`, `Genesis`) is its own
  `model_dump(mode="json")`, and is read back by the model itself, strictly;
* a dataclass (a consensus message, a certificate, a replica input, a ledger record,
  `LedgerState`, a receipt) is an object of its fields, in declaration order, every
  field that its constructor takes (so `PrePrepare.block` is there although it takes
  no part in equality). A consensus message or a replica input
  starts with a `type` key naming its kind (`INPUT_TAGS`), wherever it appears;
* inside those: a set is an array sorted ascending, a tuple an array, a dictionary an
  object sorted by key, an enumeration its value, `None` is `null`.

Reading is as strict as the wire: every key present, no other key, integers are
JSON integers in 0..2^64 - 1 (replica ids in 0..2^16 - 1), hashes 64 lowercase hex
digits where the consensus encoding has a hash, sets strictly ascending (so an
object has one form, not several). Anything else is a `JsonFormError` naming the
place and the reason, never a traceback.

Why not pydantic's `TypeAdapter` for the dataclasses too: it writes fields the
constructor does not take, writes sets in iteration order (for strings,
a different order in every process), and reads unknown keys, negative integers and
repeated set members without complaint, and a bad transaction inside a
`ClientRequest` as one error per transaction type. The dataclass forms here are
derived from the same annotations it would use.

JSON text is for transport and for people; what is signed and hashed is the
canonical encoding (`spec.wire.encoding`, `spec.wire.message_encoding`).
"""

import dataclasses
import json
import re
import types
import typing
from enum import Enum, StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from spec.constants import HASH_PATTERN, MAX_UINT16, MAX_UINT64
from spec.wire.message_encoding import CERTIFICATE_FIELDS, CONSENSUS_FIELDS, CONSENSUS_MESSAGE_KINDS
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Input,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    TimerFired,
    ViewChange,
)
from spec.wire.records import (
    Account,
    BalanceSetRecord,
    BlockReceipt,
    LedgerState,
    ProofRecord,
    ReputationRecord,
    Settlement,
    Task,
    TransactionReceipt,
    Transfer,
)
from spec.wire.types import (
    TRANSACTION_TYPES,
    AnyTransaction,
    Block,
    BlockHeader,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    Transaction,
)

JsonValue = Any
"""What `json.loads` returns and `json.dumps` accepts: dict, list, str, int, bool, None."""

T = TypeVar("T")

TRANSACTION_ADAPTER: TypeAdapter[AnyTransaction] = TypeAdapter(Transaction)
"""Reads any transaction, told apart by its `type` field."""

TRANSACTION_TAGS = frozenset(kind.model_fields["type"].default for kind in TRANSACTION_TYPES)

TAG_KEY = "type"
"""The key that names the kind of a consensus message or a replica input."""

INPUT_TAGS: dict[type, str] = {
    **CONSENSUS_MESSAGE_KINDS,
    ClientRequest: "CLIENT_REQUEST",
    TimerFired: "TIMER",
}
"""The `type` of each replica input: a consensus message's is its domain tag name."""

JSON_KINDS: tuple[type, ...] = (
    *TRANSACTION_TYPES,
    BlockHeader,
    Block,
    GenesisPlatform,
    GenesisAccount,
    Genesis,
    PrePrepare,
    Prepare,
    Commit,
    Checkpoint,
    ViewChange,
    NewView,
    BlockRequest,
    BlockResponse,
    PreparedCertificate,
    CommitCertificate,
    CheckpointCertificate,
    ClientRequest,
    TimerFired,
    Account,
    Transfer,
    ProofRecord,
    Task,
    BalanceSetRecord,
    ReputationRecord,
    LedgerState,
    Settlement,
    TransactionReceipt,
    BlockReceipt,
)
"""Every kind of object with a JSON form: `from_json` reads each of them."""


class JsonFormReason(StrEnum):
    """Why a JSON value is not the JSON form of the kind asked for."""

    NOT_JSON = "not_json"
    """A value JSON cannot hold (only when given Python values, never from JSON text)."""
    WRONG_TYPE = "wrong_type"
    """An object, array, string, integer, boolean or null where another was due."""
    MISSING_KEY = "missing_key"
    UNKNOWN_KEY = "unknown_key"
    UNKNOWN_TYPE = "unknown_type"
    """A `type` that names no replica input, or not the kind asked for."""
    OUT_OF_RANGE = "out_of_range"
    """An integer outside 0..2^64 - 1 (0..2^16 - 1 for a replica id)."""
    NOT_A_HASH = "not_a_hash"
    UNKNOWN_VALUE = "unknown_value"
    """A string that is none of its enumeration's values."""
    SET_NOT_ASCENDING = "set_not_ascending"
    """A set written out of order or with a repeat: its one form is strictly ascending."""
    INVALID_WIRE_VALUE = "invalid_wire_value"
    """A transaction, block or genesis that its pydantic model refuses."""


class JsonFormError(ValueError):
    """A JSON value that is not the JSON form of the kind asked for: `path` says
    where (`PrePrepare.block.header.height`), `reason` why, `detail` in words."""

    def __init__(self, path: str, reason: JsonFormReason, detail: str) -> None:
        super().__init__(f"{path}: {reason.value}: {detail}")
        self.path = path
        self.reason = reason
        self.detail = detail


# --- writing ---------------------------------------------------------------------------------
def json_fields(kind: type) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of a dataclass that its JSON form holds: those its constructor takes."""
    return tuple(field for field in dataclasses.fields(kind) if field.init)


def to_json(value: object) -> JsonValue:
    """The JSON form of any object of `JSON_KINDS`, or of a set, tuple or dictionary of them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclass_json(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (frozenset, set)):
        return sorted(to_json(item) for item in value)
    if isinstance(value, (tuple, list)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in sorted(value.items())}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"{type(value).__name__} has no JSON form")


def dataclass_json(value: object) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    tag = INPUT_TAGS.get(type(value))
    if tag is not None:
        out[TAG_KEY] = tag
    for field in json_fields(type(value)):
        out[field.name] = to_json(getattr(value, field.name))
    return out


# --- reading ---------------------------------------------------------------------------------
def from_json(kind: type[T], data: JsonValue) -> T:
    """The object of `kind` whose JSON form is `data`, or a `JsonFormError`."""
    value: T = read_value(kind, data, kind.__name__, None)
    return value


def input_from_json(data: JsonValue) -> Input:
    """A replica input (a consensus message, a client request, a timer) from its
    JSON form, told apart by its `type`."""
    require_object(data, "input")
    tag = data.get(TAG_KEY)
    kinds = {name: kind for kind, name in INPUT_TAGS.items()}
    if not isinstance(tag, str) or tag not in kinds:
        raise JsonFormError(f"input.{TAG_KEY}", JsonFormReason.UNKNOWN_TYPE, f"{tag!r} is none of {sorted(kinds)}")
    event: Input = read_dataclass(kinds[tag], data, kinds[tag].__name__)
    return event


def transaction_from_json(data: JsonValue) -> AnyTransaction:
    """A transaction of any type, told apart by its `type`."""
    transaction: AnyTransaction = read_value(AnyTransaction, data, "transaction", None)
    return transaction


def read_value(annotation: Any, data: JsonValue, path: str, wire: str | None) -> Any:
    """Read `data` as `annotation`. `wire` is the field's kind in the consensus
    encoding (`CONSENSUS_FIELDS`), when it has one: it narrows integers and strings."""
    if annotation == AnyTransaction:
        return read_model(TRANSACTION_ADAPTER, data, path)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return read_model(TypeAdapter(annotation), data, path)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return read_dataclass(annotation, data, path)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return read_enum(annotation, data, path)
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union) and type(None) in arguments:
        if data is None:
            return None
        (present,) = [argument for argument in arguments if argument is not type(None)]
        return read_value(present, data, path, wire)
    if origin is tuple:
        require_array(data, path)
        return tuple(read_value(arguments[0], item, f"{path}[{index}]", wire) for index, item in enumerate(data))
    if origin in (frozenset, set):
        return read_set(origin, arguments[0], data, path, "u16" if wire == "replicas" else None)
    if origin is dict:
        require_object(data, path)
        for key in data:
            if not isinstance(key, str):
                raise JsonFormError(path, JsonFormReason.NOT_JSON, f"the key {key!r} is not a string")
        return {key: read_value(arguments[1], item, f"{path}.{key}", None) for key, item in data.items()}
    return read_scalar(annotation, data, path, wire)


def read_model(adapter: TypeAdapter[Any], data: JsonValue, path: str) -> Any:
    """A pydantic wire model, read by the model itself, strictly, from JSON."""
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise JsonFormError(path, JsonFormReason.NOT_JSON, str(error)) from None
    try:
        return adapter.validate_json(text, strict=True)
    except ValidationError as error:
        first = error.errors()[0]
        raise JsonFormError(model_error_path(path, first["loc"]), JsonFormReason.INVALID_WIRE_VALUE, first["msg"]) from None


def model_error_path(path: str, location: tuple[int | str, ...]) -> str:
    """Where pydantic found an error, written as this module writes places: array
    indices in brackets, and without the tag pydantic puts in for a transaction's
    `type` (`ATP_TRANSFER_LOCK.amount` is the transaction's `amount`)."""
    parts = list(location)
    for index in range(len(parts) - 1, -1, -1):
        part = parts[index]
        if isinstance(part, str) and part in TRANSACTION_TAGS and (index == 0 or isinstance(parts[index - 1], int)):
            del parts[index]
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def read_dataclass(kind: type[T], data: JsonValue, path: str) -> T:
    """A dataclass from an object holding exactly its JSON fields (and its `type`)."""
    require_object(data, path)
    expected = [field.name for field in json_fields(kind)]
    tag = INPUT_TAGS.get(kind)
    if tag is not None:
        expected.insert(0, TAG_KEY)
        if TAG_KEY in data and data[TAG_KEY] != tag:
            raise JsonFormError(f"{path}.{TAG_KEY}", JsonFormReason.UNKNOWN_TYPE, f"{data[TAG_KEY]!r}, not {tag!r}")
    for name in expected:
        if name not in data:
            raise JsonFormError(f"{path}.{name}", JsonFormReason.MISSING_KEY, f"{kind.__name__} has a {name!r}")
    for name in data:
        if name not in expected:
            raise JsonFormError(f"{path}.{name}", JsonFormReason.UNKNOWN_KEY, f"{kind.__name__} has no {name!r}")
    hints = typing.get_type_hints(kind)
    wire = wire_kinds(kind)
    values = {}
    for field in json_fields(kind):
        values[field.name] = read_value(hints[field.name], data[field.name], f"{path}.{field.name}", wire.get(field.name))
    return kind(**values)


def wire_kinds(kind: type) -> dict[str, str]:
    """The consensus encoding's kind of each field of a message or certificate."""
    if kind in CONSENSUS_MESSAGE_KINDS:
        return dict(CONSENSUS_FIELDS[CONSENSUS_MESSAGE_KINDS[kind]])
    return dict(CERTIFICATE_FIELDS.get(kind, ()))


def read_set(origin: type, element: Any, data: JsonValue, path: str, wire: str | None) -> Any:
    require_array(data, path)
    items = [read_value(element, item, f"{path}[{index}]", wire) for index, item in enumerate(data)]
    for index in range(1, len(items)):
        if not items[index - 1] < items[index]:
            raise JsonFormError(
                f"{path}[{index}]", JsonFormReason.SET_NOT_ASCENDING, "a set is written strictly ascending"
            )
    return origin(items)


def read_enum(kind: type[Enum], data: JsonValue, path: str) -> Enum:
    values = [member.value for member in kind]
    if not isinstance(data, str):
        raise JsonFormError(path, JsonFormReason.WRONG_TYPE, f"a string, one of {values}")
    if data not in values:
        raise JsonFormError(path, JsonFormReason.UNKNOWN_VALUE, f"{data!r} is none of {values}")
    return kind(data)


def read_scalar(annotation: Any, data: JsonValue, path: str, wire: str | None) -> Any:
    if annotation is bool:
        if not isinstance(data, bool):
            raise JsonFormError(path, JsonFormReason.WRONG_TYPE, "a boolean")
        return data
    if annotation is int:
        return read_integer(data, path, MAX_UINT16 if wire == "u16" else MAX_UINT64)
    if annotation is str:
        if not isinstance(data, str):
            raise JsonFormError(path, JsonFormReason.WRONG_TYPE, "a string")
        if wire == "hash" and not re.fullmatch(HASH_PATTERN, data):
            raise JsonFormError(path, JsonFormReason.NOT_A_HASH, "64 lowercase hex digits")
        return data
    raise TypeError(f"{path}: no JSON form reads {annotation!r}")


def read_integer(data: JsonValue, path: str, maximum: int) -> int:
    if not isinstance(data, int) or isinstance(data, bool):
        raise JsonFormError(path, JsonFormReason.WRONG_TYPE, "an integer (not a float, string or boolean)")
    if not 0 <= data <= maximum:
        raise JsonFormError(path, JsonFormReason.OUT_OF_RANGE, f"{data} is outside 0..{maximum}")
    return data


def require_object(data: JsonValue, path: str) -> None:
    if not isinstance(data, dict):
        raise JsonFormError(path, JsonFormReason.WRONG_TYPE, f"an object, not {json_type(data)}")


def require_array(data: JsonValue, path: str) -> None:
    if not isinstance(data, list):
        raise JsonFormError(path, JsonFormReason.WRONG_TYPE, f"an array, not {json_type(data)}")


def json_type(data: JsonValue) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, dict):
        return "an object"
    if isinstance(data, list):
        return "an array"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, (int, float)):
        return "a number"
    return type(data).__name__
