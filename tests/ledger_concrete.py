"""The spec's ledger state as the z3 encoding's, and back, for the drift tests.

Every string of the spec (agent, platform, transfer or task id, set id, update id,
hash) is an integer of the encoding (`checker.proofs.ledger_model`), numbered per
namespace by `Ids`. A `View` is a ledger as plain values over every index in play,
the same shape whether it comes from a `spec.wire.records.LedgerState` (`spec_view`) or from
a state of the encoding (`encoding_view`), so that the two compare field by field
(`differences`). `concrete_ledger` makes an encoding state that holds exactly a view,
and an `Evaluator` evaluates terms over the encoding's symbolic pre-state and
transaction at one concrete case.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

import z3
from builders import HOSTS, PLATFORMS
from ledger_cases import AGENTS, HASHES, SET_IDS, TRANSFER_IDS, UPDATE_IDS

from checker.proofs import ledger_model as model
from checker.proofs.ledger_model import (
    ACCOUNT,
    BALANCE_SET_RECORD,
    ENUM_NAMES,
    HOST,
    REPUTATION_RECORD,
    TASK,
    TRANSFER,
    Ledger,
    Record,
    symbolic_ledger,
)
from spec.wire.records import LedgerState, TransferStatus

# --- ids: every string of the spec is an integer of the encoding -----------------------------------
NAMESPACES = ("agent", "platform", "id", "set", "update", "hash")
FRESH = 10**6
"""An index, in every namespace, that no string maps to: nothing may change there."""

FIELD_NAMESPACE: dict[str, str] = {
    "transfer_id": "id", "task_id": "id", "set_id": "set", "update_id": "update", "reputation_update_id": "update",
    "source_agent": "agent", "dest_agent": "agent", "agent": "agent", "delegating_agent": "agent",
    "executing_agent": "agent", "proof_executing_agent": "agent",
    "source_platform": "platform", "dest_platform": "platform", "platform": "platform",
    "delegating_platform": "platform", "executing_platform": "platform", "reporter_platform": "platform",
    "task_data_hash": "hash", "result_hash": "hash", "proof_result_hash": "hash",
}
"""Which fields hold strings, and of what kind. Every other field is an integer or a flag."""

KIND_NAMESPACE: dict[str, str] = {"account": "agent", "transfer": "id", "task": "id", "set": "set",
                                  "update": "update", "platform": "platform"}
"""The namespace of the index of each kind of record the proof's conjuncts speak of."""


class HarnessError(Exception):
    """The translation itself failed (a term did not simplify to a value, a string
    outside the pools): an error of the test, never a finding about the encoding, so
    not an AssertionError, which the negative controls count as a finding."""


Universe = dict[str, Sequence[int]]
"""Namespace -> every index in play."""
UniverseKey = tuple[tuple[str, tuple[int, ...]], ...]


class Ids:
    """Numbers the strings of one case, one namespace at a time, from 1. Every string a
    case can draw is numbered up front, so every index in play is in the universe."""

    def __init__(self) -> None:
        self.numbers: dict[str, dict[str, int]] = {namespace: {} for namespace in NAMESPACES}
        pools = {"agent": AGENTS, "platform": PLATFORMS, "id": TRANSFER_IDS, "set": SET_IDS, "update": UPDATE_IDS,
                 "hash": HASHES}
        for namespace, pool in pools.items():
            for text in pool:
                self.of(namespace, text)

    def of(self, namespace: str, text: str) -> int:
        table = self.numbers[namespace]
        if text not in table:
            table[text] = len(table) + 1
        return table[text]

    def value(self, field: str, value: Any) -> Any:
        """A field's value in the encoding: strings numbered, everything else as it is."""
        namespace = FIELD_NAMESPACE.get(field)
        return value if namespace is None else self.of(namespace, value)

    def universe(self, namespace: str) -> list[int]:
        """Every index in play, and the fresh one."""
        return sorted(self.numbers[namespace].values()) + [FRESH]

    def key(self) -> UniverseKey:
        """Every namespace's universe, hashable: what the cached formulas are built over."""
        return tuple((namespace, tuple(self.universe(namespace))) for namespace in NAMESPACES)

    def cover(self, namespace: str, texts: Sequence[str] | set[str]) -> None:
        unknown = set(texts) - set(self.numbers[namespace])
        if unknown:
            raise HarnessError(f"{namespace} {sorted(unknown)} not in the pools the cases draw from")


# --- spec records as the encoding's fields ----------------------------------------------------------
Fields = dict[str, Any]
"""A record as the encoding's field names and plain values: ints, bools, enum names as the spec spells them."""

ABSENT: Fields = {"exists": False}


def transfer_fields(state: LedgerState, transfer_id: str, ids: Ids) -> Fields:
    transfer = state.transfers.get(transfer_id)
    if transfer is None:
        return dict(ABSENT)
    found: Fields = {"exists": True}
    for name in TRANSFER.fields[1:]:
        found[name] = ids.value(name, getattr(transfer, name))
    found["status"] = transfer.status.value
    found["settled_by"] = "-" if transfer.settled_by is None else transfer.settled_by.value
    return found


def task_fields(state: LedgerState, task_id: str, ids: Ids) -> Fields:
    task = state.tasks.get(task_id)
    if task is None:
        return dict(ABSENT)
    found: Fields = {"exists": True}
    for name in ("delegating_platform", "delegating_agent", "executing_platform", "executing_agent", "cost",
                 "quality_threshold_bp", "timeout_ms", "task_data_hash", "created_at_ms", "deadline_ms"):
        found[name] = ids.value(name, getattr(task, name))
    found["status"] = task.status.value
    found["has_proof"] = task.proof is not None
    if task.proof is not None:
        for name in ("executing_agent", "quality_bp", "execution_time_ms", "result_hash", "landed_at_ms"):
            found[f"proof_{name}"] = ids.value(f"proof_{name}", getattr(task.proof, name))
    found["has_settled_quality"] = task.settled_quality_bp is not None
    if task.settled_quality_bp is not None:
        found["settled_quality_bp"] = task.settled_quality_bp
    found["has_reputation_update"] = task.reputation_update_id is not None
    if task.reputation_update_id is not None:
        found["reputation_update_id"] = ids.of("update", task.reputation_update_id)
    return found


def plain_fields(record: Any, names: Sequence[str], ids: Ids) -> Fields:
    if record is None:
        return dict(ABSENT)
    return {"exists": True, **{name: ids.value(name, getattr(record, name)) for name in names}}


def normalized(record: Fields) -> Fields:
    """What the spec's record determines: nothing of an absent record, and no value
    behind an unset optional field (the encoding keeps a flag and a value)."""
    if not record.get("exists", True):
        return dict(ABSENT)
    kept = dict(record)
    optional = {"has_proof": [f"proof_{name}" for name in ("executing_agent", "quality_bp", "execution_time_ms",
                                                           "result_hash", "landed_at_ms")],
                "has_settled_quality": ["settled_quality_bp"], "has_reputation_update": ["reputation_update_id"]}
    for flag, names in optional.items():
        if flag in kept and not kept[flag]:
            for name in names:
                kept.pop(name, None)
    return kept


@dataclass
class View:
    """A ledger as plain values over every index in play: the spec's or the encoding's."""

    accounts: dict[int, Fields]
    transfers: dict[int, Fields]
    tasks: dict[int, Fields]
    balance_sets: dict[int, Fields]
    reputation_updates: dict[int, Fields]
    reputations: dict[int, int]
    failed_transfer_ids: set[int]
    failed_set_ids: set[int]
    failed_update_ids: set[int]
    now: int
    expiring: bool
    supply: int
    open_sum: dict[int, int]


def names_by_number(ids: Ids, namespace: str) -> dict[int, str | None]:
    """Index -> the string it numbers (None for the fresh index)."""
    found: dict[int, str | None] = {number: text for text, number in ids.numbers[namespace].items()}
    found[FRESH] = None
    return dict(sorted(found.items()))


def spec_view(state: LedgerState, now: int, expiring: bool, ids: Ids) -> View:
    """The spec's state as the encoding would hold it. An agent with no account and a
    platform with no reputation read as the arrays' defaults: zeros."""
    ids.cover("agent", list(state.accounts))
    ids.cover("platform", list(state.reputations))
    ids.cover("id", set(state.transfers) | set(state.tasks) | state.failed_transfer_ids)
    ids.cover("set", set(state.balance_sets) | state.failed_set_ids)
    ids.cover("update", set(state.reputation_updates) | state.failed_update_ids)
    agents = names_by_number(ids, "agent")
    transfer_ids = names_by_number(ids, "id")
    open_sum: dict[int, int] = {number: 0 for number in agents}
    for transfer in state.transfers.values():
        if transfer.status == TransferStatus.LOCKED:
            open_sum[ids.of("agent", transfer.source_agent)] += transfer.amount
    accounts: dict[int, Fields] = {}
    for number, agent in agents.items():
        account = None if agent is None else state.accounts.get(agent)
        accounts[number] = {"total": 0, "locked": 0} if account is None else {"total": account.total,
                                                                               "locked": account.locked}
    return View(
        accounts=accounts,
        transfers={number: transfer_fields(state, text or "", ids) for number, text in transfer_ids.items()},
        tasks={number: task_fields(state, text or "", ids) for number, text in transfer_ids.items()},
        balance_sets={number: plain_fields(state.balance_sets.get(text or ""), ("agent", "balance"), ids)
                      for number, text in names_by_number(ids, "set").items()},
        reputation_updates={
            number: plain_fields(state.reputation_updates.get(text or ""),
                                 ("task_id", "platform", "quality_bp", "reputation_bp", "reporter_platform"), ids)
            for number, text in names_by_number(ids, "update").items()
        },
        reputations={number: state.reputations.get(text or "", 0)
                     for number, text in names_by_number(ids, "platform").items()},
        failed_transfer_ids={ids.of("id", x) for x in state.failed_transfer_ids},
        failed_set_ids={ids.of("set", x) for x in state.failed_set_ids},
        failed_update_ids={ids.of("update", x) for x in state.failed_update_ids},
        now=now,
        expiring=expiring,
        supply=sum(account.total for account in state.accounts.values()),
        open_sum=open_sum,
    )


# --- plain values as z3 terms, and back ---------------------------------------------------------------
ENUMS: dict[tuple[str, str], z3.ExprRef] = {}
"""(sort name, the spec's spelling) -> the z3 constant."""
for constant in (model.LOCKED, model.COMMITTED, model.ROLLED_BACK, model.TRANSFER_EXPIRED, model.PENDING,
                 model.COMPLETED, model.FAILED, model.TASK_EXPIRED, model.NO_CAUSE, model.BY_COMMIT,
                 model.BY_ROLLBACK, model.BY_PROOF, model.BY_EXPIRY):
    ENUMS[(constant.sort().name(), ENUM_NAMES[str(constant)])] = constant


def term(sort: z3.SortRef, value: Any) -> z3.ExprRef:
    if sort == z3.BoolSort():
        return z3.BoolVal(bool(value))
    if sort == z3.IntSort():
        return z3.IntVal(int(value))
    return ENUMS[(sort.name(), value)]


def record_term(record: Record, values: Fields) -> z3.ExprRef:
    """The record with the given fields; a field the spec leaves unset holds the first
    value of its sort (it is behind a false flag, and nothing reads it)."""
    return cached_record_term(record.name, tuple(values.get(name) for name in record.fields))


RECORDS: dict[str, Record] = {record.name: record for record in (ACCOUNT, TRANSFER, TASK, BALANCE_SET_RECORD,
                                                                  REPUTATION_RECORD)}


@cache
def cached_record_term(name: str, values: tuple[Any, ...]) -> z3.ExprRef:
    """Built once per distinct record: consecutive cases share most of theirs."""
    record = RECORDS[name]
    made: dict[str, z3.ExprRef] = {}
    for i, (field, value) in enumerate(zip(record.fields, values, strict=True)):
        sort = record.sort.constructor(0).domain(i)
        if value is not None:
            made[field] = term(sort, value)
        elif sort == z3.BoolSort() or sort == z3.IntSort():
            made[field] = term(sort, 0)
        else:
            made[field] = sort.constructor(0)()
    return record.make(**made)


def array(default: z3.ExprRef, entries: dict[int, z3.ExprRef]) -> z3.ArrayRef:
    result = z3.K(z3.IntSort(), default)
    for index, value in entries.items():
        result = z3.Store(result, z3.IntVal(index), value)
    return result


def concrete_ledger(view: View) -> Ledger:
    """The encoding's state holding exactly the values of `view`."""
    absent = {record.name: record_term(record, ABSENT) for record in (TRANSFER, TASK, BALANCE_SET_RECORD,
                                                                       REPUTATION_RECORD)}

    def records(record: Record, entries: dict[int, Fields]) -> z3.ArrayRef:
        present = {i: record_term(record, values) for i, values in entries.items() if values["exists"]}
        return array(absent[record.name], present)

    def flags(members: set[int]) -> z3.ArrayRef:
        return array(z3.BoolVal(False), {i: z3.BoolVal(True) for i in sorted(members)})

    return Ledger(
        accounts=array(record_term(ACCOUNT, {"total": 0, "locked": 0}),
                       {i: record_term(ACCOUNT, values) for i, values in view.accounts.items() if i != FRESH}),
        transfers=records(TRANSFER, view.transfers),
        tasks=records(TASK, view.tasks),
        balance_sets=records(BALANCE_SET_RECORD, view.balance_sets),
        reputation_updates=records(REPUTATION_RECORD, view.reputation_updates),
        reputations=array(z3.IntVal(0), {i: z3.IntVal(value) for i, value in view.reputations.items() if i != FRESH}),
        failed_transfer_ids=flags(view.failed_transfer_ids),
        failed_set_ids=flags(view.failed_set_ids),
        failed_update_ids=flags(view.failed_update_ids),
        now=z3.IntVal(view.now),
        expiring=z3.BoolVal(view.expiring),
        supply=z3.IntVal(view.supply),
        open_sum=array(z3.IntVal(0), {i: z3.IntVal(value) for i, value in view.open_sum.items() if i != FRESH}),
    )


def plain(value: z3.ExprRef) -> Any:
    """A simplified z3 value as a plain one; anything else is not concrete, and a failure."""
    return atom(value.sexpr())


def atom(text: str) -> Any:
    """An SMT-LIB atom as a plain value: an integer, a flag or an enum constant."""
    if text == "true" or text == "false":
        return text == "true"
    if text.lstrip("-").isdigit():
        return int(text)
    if text not in ENUM_NAMES:
        raise HarnessError(f"not a concrete value: {text}")
    return ENUM_NAMES[text]


def record_fields(record: Record, value: z3.ExprRef) -> Fields:
    """A simplified record value, `(Transfer true 1 ...)` in SMT-LIB, as its fields:
    one call into z3 per record, not one per field."""
    text = re.sub(r"\(- (\d+)\)", r"-\1", value.sexpr())
    tokens = text.replace("(", " ").replace(")", " ").split()
    if not tokens or tokens[0] != record.name or len(tokens) != len(record.fields) + 1:
        raise HarnessError(f"not a concrete {record.name}: {value}")
    return normalized({name: atom(token) for name, token in zip(record.fields, tokens[1:], strict=True)})


def array_entries(array_value: z3.ExprRef) -> tuple[z3.ExprRef, dict[int, z3.ExprRef]] | None:
    """A simplified array as its default and its stored entries, read off the chain
    of stores over a constant array; None when it is not one (a lambda, say)."""
    entries: dict[int, z3.ExprRef] = {}
    node = array_value
    while z3.is_store(node):
        index = node.arg(1)
        if not z3.is_int_value(index):
            return None
        entries.setdefault(index.as_long(), node.arg(2))  # the outermost store of an index is its value
        node = node.arg(0)
    if not z3.is_K(node):
        return None
    return node.arg(0), entries


class Evaluator:
    """Evaluates terms over the symbolic pre-state and transaction of a step at a
    concrete case: substitute, replace the genesis' `host` function by the table, simplify."""

    def __init__(self, pre: Ledger, ids: Ids) -> None:
        self.pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
        symbolic = symbolic_ledger("pre")
        for component in fields(Ledger):
            self.pairs.append((getattr(symbolic, component.name), getattr(pre, component.name)))
        hosts = z3.IntVal(0)
        for agent, platform in HOSTS.items():
            hosts = z3.If(z3.Var(0, z3.IntSort()) == ids.of("agent", agent), z3.IntVal(ids.of("platform", platform)),
                          hosts)
        self.hosts = hosts

    def bind(self, symbol: z3.ExprRef, value: int) -> None:
        self.pairs.append((symbol, z3.IntVal(value)))

    def __call__(self, expression: z3.ExprRef) -> z3.ExprRef:
        substituted = z3.substitute(expression, *self.pairs)
        return z3.simplify(z3.substitute_funs(substituted, (HOST, self.hosts)))

    def true(self, formula: z3.BoolRef) -> bool:
        value = self(formula)
        if not (z3.is_true(value) or z3.is_false(value)):
            raise HarnessError(f"not concrete: {value}")
        return z3.is_true(value)


def encoding_view(state: Ledger, evaluate: Callable[[z3.ExprRef], z3.ExprRef], ids: Ids) -> View:
    """The encoding's state `state` (terms over the symbolic pre-state) as plain values."""

    def entries(component: z3.ArrayRef, namespace: str) -> dict[int, z3.ExprRef]:
        concrete = evaluate(component)
        stored = array_entries(concrete)
        if stored is None:
            return {i: z3.simplify(z3.Select(concrete, z3.IntVal(i))) for i in ids.universe(namespace)}
        default, values = stored
        return {i: values.get(i, default) for i in ids.universe(namespace)}

    def records(record: Record, component: z3.ArrayRef, namespace: str) -> dict[int, Fields]:
        return {i: record_fields(record, value) for i, value in entries(component, namespace).items()}

    def members(component: z3.ArrayRef, namespace: str) -> set[int]:
        return {i for i, value in entries(component, namespace).items() if plain(value)}

    return View(
        accounts=records(ACCOUNT, state.accounts, "agent"),
        transfers=records(TRANSFER, state.transfers, "id"),
        tasks=records(TASK, state.tasks, "id"),
        balance_sets=records(BALANCE_SET_RECORD, state.balance_sets, "set"),
        reputation_updates=records(REPUTATION_RECORD, state.reputation_updates, "update"),
        reputations={i: plain(value) for i, value in entries(state.reputations, "platform").items()},
        failed_transfer_ids=members(state.failed_transfer_ids, "id"),
        failed_set_ids=members(state.failed_set_ids, "set"),
        failed_update_ids=members(state.failed_update_ids, "update"),
        now=plain(evaluate(state.now)),
        expiring=plain(evaluate(state.expiring)),
        supply=plain(evaluate(state.supply)),
        open_sum={i: plain(value) for i, value in entries(state.open_sum, "agent").items()},
    )


def differences(expected: View, found: View) -> list[str]:
    """Every component where the encoding's state is not the spec's, field by field."""
    lines: list[str] = []
    for component in fields(View):
        want, got = getattr(expected, component.name), getattr(found, component.name)
        if want == got:
            continue
        if isinstance(want, dict):
            for index in sorted(set(want) | set(got)):
                if want.get(index) != got.get(index):
                    lines.append(f"{component.name}[{index}]: spec {want.get(index)}, encoding {got.get(index)}")
        else:
            lines.append(f"{component.name}: spec {want}, encoding {got}")
    return lines
