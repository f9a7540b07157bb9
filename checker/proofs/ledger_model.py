"""The ledger's transition relation in z3: `spec/ledger.py`, function by function.

The state is `spec.wire.records.LedgerState` with every dictionary an array indexed by
integers: agents, platforms, transfer and task ids (one namespace, as in the spec),
balance-set ids, reputation-update ids and hashes are all integers here. A record
is a z3 datatype with the spec's field names and an `exists` flag (an absent key is
a record whose flag is false); an optional field is a flag beside a value.

Each transaction type has one function computing its result code and post-state
from the pre-state, the transaction's fields and the block time `now`. The code is
a nested `If` in exactly the order of the spec's checks (`first`), so the encoding
reports the code the spec reports. Codes are integers: the row of the code in
`spec.codes.CODE_TABLE`.

What the encoding leaves out, on purpose:

* The static checks about genesis membership, signatures and hosting (unknown
  platform or account, invalid signature, an agent named with a platform that does
  not host it) are a precondition, `admitted`: a transaction that fails one makes
  its block invalid, and an invalid block changes nothing. The numeric static
  checks (zero or too large amounts and timeouts, thresholds, qualities,
  execution times, balances, self-transfers, the task/lock pairing) are encoded
  with their codes; a statically invalid transaction leaves the state unchanged.
* The expiry step `expire_due` is three transitions: `begin_block(t)` starts a
  block at time t and enters the expiry phase, `expire_one(x)` expires one due
  lock, `finish_expiry` ends the phase once no lock is due. Transactions run only
  outside the phase. The spec's order of expiry (by deadline, then id) is one of
  the orders this allows.
* Two sums are ghosts: `supply` (the sum of all totals) and `open_sum[a]` (the sum
  of the amounts of the LOCKED transfers whose source is a). Sums over unbounded
  sets are not first-order, so each transition names the accounts and transfers it
  touches, and `with_ghosts` updates the ghosts by the point-update rule of finite
  sums: the new sum is the old one minus the old terms at the touched indices plus
  the new ones. `checker.proofs.ledger` proves the frame (nothing outside the named
  indices changes), which is what makes the rule exact.

A *mutant* (`Encoding(mutant=...)`) drops or changes one rule, for the broken
variants of `checker.proofs.ledger`; `Encoding()` is the spec.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import z3

from spec.codes import CODE_TABLE, ResultCode
from spec.constants import (
    BASIS_POINTS,
    EXPIRED_TASK_QUALITY_BP,
    MAX_AMOUNT,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
    MAX_UINT64,
    REPUTATION_WEIGHT_BP,
)

R = ResultCode
Int = z3.IntSort()
Bool = z3.BoolSort()

# --- statuses and causes -------------------------------------------------------------------------
TransferStatusSort, (LOCKED, COMMITTED, ROLLED_BACK, TRANSFER_EXPIRED) = z3.EnumSort(
    "TransferStatus", ["LOCKED", "COMMITTED", "ROLLED_BACK", "transfer_EXPIRED"]
)
TaskStatusSort, (PENDING, COMPLETED, FAILED, TASK_EXPIRED) = z3.EnumSort(
    "TaskStatus", ["PENDING", "COMPLETED", "FAILED", "task_EXPIRED"]
)
CauseSort, (NO_CAUSE, BY_COMMIT, BY_ROLLBACK, BY_PROOF, BY_EXPIRY) = z3.EnumSort(
    "SettlementCause", ["no_cause", "by_COMMIT", "by_ROLLBACK", "by_PROOF", "by_EXPIRY"]
)

ENUM_NAMES: dict[str, str] = {
    "LOCKED": "LOCKED", "COMMITTED": "COMMITTED", "ROLLED_BACK": "ROLLED_BACK", "transfer_EXPIRED": "EXPIRED",
    "PENDING": "PENDING", "COMPLETED": "COMPLETED", "FAILED": "FAILED", "task_EXPIRED": "EXPIRED",
    "no_cause": "-", "by_COMMIT": "COMMIT", "by_ROLLBACK": "ROLLBACK", "by_PROOF": "PROOF", "by_EXPIRY": "EXPIRY",
}
"""How an enum constant prints: the spec's value (the z3 names are unique per sort)."""

# --- result codes -----------------------------------------------------------------------------------
CODE: dict[ResultCode, z3.IntNumRef] = {info.code: z3.IntVal(row) for row, info in enumerate(CODE_TABLE)}
"""Each result code as an integer: its row in `spec.codes.CODE_TABLE`."""


def code(result: ResultCode) -> z3.IntNumRef:
    return CODE[result]


def code_name(number: int) -> ResultCode:
    """The result code an integer of the encoding stands for."""
    return CODE_TABLE[number].code


OK = code(R.OK)
EXISTS = code(R.EXISTS)


def first(*checks: tuple[z3.BoolRef, z3.ArithRef], otherwise: z3.ArithRef = OK) -> z3.ArithRef:
    """The code of the first check whose condition holds, else `otherwise`: the spec's
    run of `if condition: return CODE` statements, in the same order."""
    result = otherwise
    for condition, result_code in reversed(checks):
        result = z3.If(condition, result_code, result)
    return result


def is_failure(result: z3.ArithRef) -> z3.BoolRef:
    """`code != OK and code != EXISTS`: the codes that leave a fresh id failed."""
    return z3.And(result != OK, result != EXISTS)


# --- records --------------------------------------------------------------------------------------------
class Record:
    """A spec record as a z3 datatype with one constructor, field by field."""

    def __init__(self, name: str, record_fields: Sequence[tuple[str, z3.SortRef]]) -> None:
        datatype = z3.Datatype(name)
        datatype.declare(name, *[(f"{name}.{field}", sort) for field, sort in record_fields])
        self.name = name
        self.sort = datatype.create()
        self.fields = tuple(field for field, _ in record_fields)
        self.accessors = {field: self.sort.accessor(0, i) for i, field in enumerate(self.fields)}

    def make(self, **values: Any) -> z3.DatatypeRef:
        missing = set(self.fields) - set(values)
        unknown = set(values) - set(self.fields)
        assert not missing and not unknown, f"{self.name}: missing {missing}, unknown {unknown}"
        return self.sort.constructor(0)(*(values[field] for field in self.fields))

    def get(self, term: z3.ExprRef, field: str) -> Any:
        return self.accessors[field](term)

    def replace(self, term: z3.ExprRef, **changes: Any) -> z3.DatatypeRef:
        """The record with some fields changed: the spec's `dataclasses.replace`."""
        return self.make(**{field: changes[field] if field in changes else self.get(term, field)
                            for field in self.fields})

    def view(self, term: z3.ExprRef) -> "View":
        return View(self, term)


class View:
    """A record term whose fields read as attributes: `transfer.amount`."""

    def __init__(self, record: Record, term: z3.ExprRef) -> None:
        self._record = record
        self.term = term

    def __getattr__(self, field: str) -> Any:
        if field.startswith("_") or field not in self._record.accessors:
            raise AttributeError(field)
        return self._record.get(self.term, field)


ACCOUNT = Record("Account", [("total", Int), ("locked", Int)])
TRANSFER = Record("Transfer", [
    ("exists", Bool), ("source_agent", Int), ("source_platform", Int), ("dest_agent", Int),
    ("dest_platform", Int), ("amount", Int), ("timeout_ms", Int), ("created_at_ms", Int),
    ("expires_at_ms", Int), ("status", TransferStatusSort), ("task_linked", Bool), ("settled_by", CauseSort),
])
TASK = Record("Task", [
    ("exists", Bool), ("delegating_platform", Int), ("delegating_agent", Int), ("executing_platform", Int),
    ("executing_agent", Int), ("cost", Int), ("quality_threshold_bp", Int), ("timeout_ms", Int),
    ("task_data_hash", Int), ("created_at_ms", Int), ("deadline_ms", Int), ("status", TaskStatusSort),
    # proof: ProofRecord | None
    ("has_proof", Bool), ("proof_executing_agent", Int), ("proof_quality_bp", Int),
    ("proof_execution_time_ms", Int), ("proof_result_hash", Int), ("proof_landed_at_ms", Int),
    # settled_quality_bp: int | None
    ("has_settled_quality", Bool), ("settled_quality_bp", Int),
    # reputation_update_id: str | None
    ("has_reputation_update", Bool), ("reputation_update_id", Int),
])
BALANCE_SET_RECORD = Record("BalanceSetRecord", [("exists", Bool), ("agent", Int), ("balance", Int)])
REPUTATION_RECORD = Record("ReputationRecord", [
    ("exists", Bool), ("task_id", Int), ("platform", Int), ("quality_bp", Int), ("reputation_bp", Int),
    ("reporter_platform", Int),
])


# --- the state ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ledger:
    """`spec.wire.records.LedgerState` (height and block hash aside), plus the block phase and two ghosts."""

    accounts: z3.ArrayRef
    """agent -> Account"""
    transfers: z3.ArrayRef
    """transfer id -> Transfer"""
    tasks: z3.ArrayRef
    """task id -> Task"""
    balance_sets: z3.ArrayRef
    """set id -> BalanceSetRecord"""
    reputation_updates: z3.ArrayRef
    """update id -> ReputationRecord"""
    reputations: z3.ArrayRef
    """platform -> reputation (basis points)"""
    failed_transfer_ids: z3.ArrayRef
    failed_set_ids: z3.ArrayRef
    failed_update_ids: z3.ArrayRef
    now: z3.ArithRef
    """The timestamp of the block being applied (of the last block, between blocks)."""
    expiring: z3.BoolRef
    """True between `begin_block` and `finish_expiry`: the expiry step is running."""
    supply: z3.ArithRef
    """Ghost: the sum of every account's total (`spec.state.total_supply`)."""
    open_sum: z3.ArrayRef
    """Ghost: agent -> the sum of the amounts of the LOCKED transfers it is the source of."""

    def account(self, agent: z3.ArithRef) -> View:
        return ACCOUNT.view(self.accounts[agent])

    def transfer(self, transfer_id: z3.ArithRef) -> View:
        return TRANSFER.view(self.transfers[transfer_id])

    def task(self, task_id: z3.ArithRef) -> View:
        return TASK.view(self.tasks[task_id])

    def balance_set(self, set_id: z3.ArithRef) -> View:
        return BALANCE_SET_RECORD.view(self.balance_sets[set_id])

    def reputation_update(self, update_id: z3.ArithRef) -> View:
        return REPUTATION_RECORD.view(self.reputation_updates[update_id])


def symbolic_ledger(prefix: str) -> Ledger:
    """A state with every component a fresh z3 constant named `prefix.component`."""
    def array(name: str, value: z3.SortRef) -> z3.ArrayRef:
        return z3.Array(f"{prefix}.{name}", Int, value)

    return Ledger(
        accounts=array("accounts", ACCOUNT.sort),
        transfers=array("transfers", TRANSFER.sort),
        tasks=array("tasks", TASK.sort),
        balance_sets=array("balance_sets", BALANCE_SET_RECORD.sort),
        reputation_updates=array("reputation_updates", REPUTATION_RECORD.sort),
        reputations=array("reputations", Int),
        failed_transfer_ids=array("failed_transfer_ids", Bool),
        failed_set_ids=array("failed_set_ids", Bool),
        failed_update_ids=array("failed_update_ids", Bool),
        now=z3.Int(f"{prefix}.now"),
        expiring=z3.Bool(f"{prefix}.expiring"),
        supply=z3.Int(f"{prefix}.supply"),
        open_sum=array("open_sum", Int),
    )


def choose(condition: z3.BoolRef, then: Ledger, otherwise: Ledger) -> Ledger:
    """`then` where `condition` holds, else `otherwise`, component by component."""
    return Ledger(**{
        component.name: z3.If(condition, getattr(then, component.name), getattr(otherwise, component.name))
        for component in fields(Ledger)
    })


# --- transactions -------------------------------------------------------------------------------------
# The wire fields the ledger reads, as integers (ids, agents, platforms and hashes too).
@dataclass(frozen=True)
class Lock:
    transfer_id: z3.ArithRef
    source_platform: z3.ArithRef
    source_agent: z3.ArithRef
    dest_platform: z3.ArithRef
    dest_agent: z3.ArithRef
    amount: z3.ArithRef
    timeout_ms: z3.ArithRef


@dataclass(frozen=True)
class Commit:
    transfer_id: z3.ArithRef
    platform: z3.ArithRef


@dataclass(frozen=True)
class Rollback:
    transfer_id: z3.ArithRef
    platform: z3.ArithRef


@dataclass(frozen=True)
class BalanceSet:
    set_id: z3.ArithRef
    agent: z3.ArithRef
    balance: z3.ArithRef


@dataclass(frozen=True)
class FederationTask:
    task_id: z3.ArithRef
    delegating_platform: z3.ArithRef
    delegating_agent: z3.ArithRef
    executing_platform: z3.ArithRef
    executing_agent: z3.ArithRef
    cost: z3.ArithRef
    quality_threshold_bp: z3.ArithRef
    timeout_ms: z3.ArithRef
    task_data_hash: z3.ArithRef


@dataclass(frozen=True)
class ExecutionProof:
    task_id: z3.ArithRef
    executing_platform: z3.ArithRef
    executing_agent: z3.ArithRef
    quality_bp: z3.ArithRef
    execution_time_ms: z3.ArithRef
    result_hash: z3.ArithRef


@dataclass(frozen=True)
class ReputationUpdate:
    update_id: z3.ArithRef
    task_id: z3.ArithRef
    platform: z3.ArithRef
    quality_bp: z3.ArithRef
    reputation_bp: z3.ArithRef
    reporter_platform: z3.ArithRef


@dataclass(frozen=True)
class TaskPair:
    """A FEDERATION_TASK and the ATP_TRANSFER_LOCK that follows it: one transition."""

    task: FederationTask
    lock: Lock


Transaction = Lock | Commit | Rollback | BalanceSet | FederationTask | ExecutionProof | ReputationUpdate


def symbolic(kind: type[Any], prefix: str) -> Any:
    """A transaction of type `kind` whose every field is a fresh integer `prefix.field`."""
    return kind(**{field.name: z3.Int(f"{prefix}.{field.name}") for field in fields(kind)})


def wire_fields(tx: Any) -> list[z3.ArithRef]:
    if isinstance(tx, TaskPair):
        return wire_fields(tx.task) + wire_fields(tx.lock)
    return [getattr(tx, field.name) for field in fields(tx)]


HOST = z3.Function("host", Int, Int)
"""The genesis' agent -> hosting platform map."""


def admitted(tx: Any) -> z3.BoolRef:
    """What the encoding assumes of a transaction instead of checking it: every field
    is a uint64 (the wire parser's job), and the static checks about the genesis and
    signatures pass: known platforms and accounts, a valid signature by the
    authorized platform, and each agent named with the platform that hosts it."""
    conditions = [z3.And(value >= 0, value <= MAX_UINT64) for value in wire_fields(tx)]
    if isinstance(tx, TaskPair):
        return z3.And(*conditions, admitted(tx.task), admitted(tx.lock))
    if isinstance(tx, Lock):
        conditions += [HOST(tx.source_agent) == tx.source_platform, HOST(tx.dest_agent) == tx.dest_platform]
    if isinstance(tx, FederationTask):
        conditions += [HOST(tx.delegating_agent) == tx.delegating_platform,
                       HOST(tx.executing_agent) == tx.executing_platform]
    if isinstance(tx, ExecutionProof):
        conditions.append(HOST(tx.executing_agent) == tx.executing_platform)
    return z3.And(*conditions)


# --- a transition -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One transition: its guard, its result codes and its post-state.

    `accounts`, `transfers` and `tasks` name the indices the transition touches.
    The frame obligations prove that nothing outside them changes; the ghosts are
    updated from the values at exactly these indices."""

    action: str
    params: tuple[tuple[str, z3.ExprRef], ...]
    guard: z3.BoolRef
    """When the transition may happen, apart from `guard_at_every_transfer`."""
    codes: tuple[tuple[str, z3.ArithRef], ...]
    """("code", c) for a transaction; ("task", c), ("lock", c) for a task pair; none for the expiry steps."""
    ok: z3.BoolRef
    """The success path: every code is `ok` (always true for the expiry steps)."""
    tx: Any
    pre: Ledger
    post: Ledger
    accounts: tuple[z3.ArithRef, ...]
    transfers: tuple[z3.ArithRef, ...]
    tasks: tuple[z3.ArithRef, ...]
    guard_at_every_transfer: Callable[[z3.ArithRef], z3.BoolRef] | None = None
    """A part of the guard that must hold at every transfer id (no lock is due, for
    `finish_expiry`), kept apart so that it can be instantiated."""

    def enabled(self) -> z3.BoolRef:
        """The whole guard, quantifier included."""
        if self.guard_at_every_transfer is None:
            return self.guard
        transfer_id = z3.Int("transfer_id")
        return z3.And(self.guard, z3.ForAll([transfer_id], self.guard_at_every_transfer(transfer_id)))


def params_of(tx: Any) -> tuple[tuple[str, z3.ExprRef], ...]:
    if isinstance(tx, TaskPair):
        return (tuple((f"task.{name}", value) for name, value in params_of(tx.task))
                + tuple((f"lock.{name}", value) for name, value in params_of(tx.lock)))
    return tuple((field.name, getattr(tx, field.name)) for field in fields(tx))


# --- the ghosts: the point-update rule of finite sums ---------------------------------------------------------
def distinct_from_earlier(indices: Sequence[z3.ArithRef], k: int) -> z3.BoolRef:
    """The k-th named index is not one named before it (each index counts once)."""
    return z3.And(*[indices[k] != indices[j] for j in range(k)]) if k else z3.BoolVal(True)


def open_amount(state: Ledger, transfer_id: z3.ArithRef, agent: z3.ArithRef) -> z3.ArithRef:
    """The term of transfer `transfer_id` in the sum `open_sum[agent]`."""
    transfer = state.transfer(transfer_id)
    counted = z3.And(transfer.exists, transfer.status == LOCKED, transfer.source_agent == agent)
    return z3.If(counted, transfer.amount, 0)


def with_ghosts(step: Step) -> Step:
    """The post-state's ghosts by the point-update rule: for a sum over all indices of
    a term that changed only at the named indices, new sum = old sum + the sum, over
    the named indices (each once), of (new term - old term)."""
    pre, post = step.pre, step.post
    accounts = step.accounts
    supply = pre.supply + z3.Sum([z3.IntVal(0)] + [
        z3.If(distinct_from_earlier(accounts, k), post.account(a).total - pre.account(a).total, 0)
        for k, a in enumerate(accounts)
    ])
    agent = z3.Int("agent")
    transfers = step.transfers
    open_sum = z3.Lambda([agent], pre.open_sum[agent] + z3.Sum([z3.IntVal(0)] + [
        z3.If(distinct_from_earlier(transfers, k), open_amount(post, x, agent) - open_amount(pre, x, agent), 0)
        for k, x in enumerate(transfers)
    ]))
    return replace(step, post=replace(post, supply=supply, open_sum=open_sum))


# --- the encoding -------------------------------------------------------------------------------------------
MUTANTS: tuple[str, ...] = (
    "lock_ignores_available",
    "lock_debits_source",
    "lock_overwrites_existing",
    "commit_keeps_lock",
    "commit_credits_without_debit",
    "rollback_forgets_unlock",
    "release_refunds_amount",
    "settle_twice",
    "commit_of_task_lock_allowed",
    "balance_set_below_locked",
    "balance_set_unchecked_supply",
    "reuses_failed_ids",
    "task_lock_not_linked",
    "proof_ignores_threshold",
    "proof_on_expired_task",
    "proof_settles_as_commit",
    "reputation_update_twice",
    "block_reward",
    "begin_block_skips_expiry",
    "expiry_at_deadline",
    "expiry_ignores_status",
    "expiry_settles_as_rollback",
    "expiry_optional",
)
"""The rules a broken variant may drop or change (described in `checker.proofs.ledger.VARIANTS`)."""


def next_reputation(current_bp: z3.ArithRef, quality_bp: z3.ArithRef) -> z3.ArithRef:
    """`spec.ledger.next_reputation`: floor((current * (10000 - W) + quality * W) / 10000)."""
    weighted = current_bp * (BASIS_POINTS - REPUTATION_WEIGHT_BP) + quality_bp * REPUTATION_WEIGHT_BP
    return weighted / BASIS_POINTS  # z3 integer division: floor, for a positive divisor


def amount_checks(amount: z3.ArithRef) -> list[tuple[z3.BoolRef, z3.ArithRef]]:
    """`validate_amount`."""
    return [(amount == 0, code(R.AMOUNT_MUST_NOT_BE_ZERO)), (amount > MAX_AMOUNT, code(R.AMOUNT_EXCEEDS_MAXIMUM))]


def timeout_checks(timeout_ms: z3.ArithRef) -> list[tuple[z3.BoolRef, z3.ArithRef]]:
    """`validate_timeout`."""
    return [(timeout_ms == 0, code(R.TIMEOUT_MUST_NOT_BE_ZERO)),
            (timeout_ms > MAX_TIMEOUT_MS, code(R.TIMEOUT_EXCEEDS_MAXIMUM))]


def lock_matches_task(task: FederationTask, lock: Lock) -> z3.BoolRef:
    return z3.And(
        lock.source_platform == task.delegating_platform,
        lock.source_agent == task.delegating_agent,
        lock.dest_platform == task.executing_platform,
        lock.dest_agent == task.executing_agent,
        lock.amount == task.cost,
        lock.timeout_ms == task.timeout_ms,
    )


# The numeric static checks, in the order of spec.ledger.validate_static_*; the
# checks `admitted` assumes sit between them in the spec and cannot fail here.
def validate_static_lock(tx: Lock) -> z3.ArithRef:
    return first(*amount_checks(tx.amount), *timeout_checks(tx.timeout_ms),
                 (tx.source_agent == tx.dest_agent, code(R.SELF_TRANSFER)))


def validate_static_balance_set(tx: BalanceSet) -> z3.ArithRef:
    return first((tx.balance > MAX_SUPPLY, code(R.BALANCE_EXCEEDS_MAXIMUM)))


def validate_static_task(tx: FederationTask, lock: Lock) -> z3.ArithRef:
    """The task's static code with its following lock. The lock's own static checks
    cannot fail once the task's pass (the pairing ties its fields to the task's),
    except for its signature, which `admitted` assumes."""
    return first(
        *amount_checks(tx.cost),
        *timeout_checks(tx.timeout_ms),
        (tx.quality_threshold_bp > MAX_THRESHOLD_BP, code(R.THRESHOLD_EXCEEDS_MAXIMUM)),
        (tx.delegating_agent == tx.executing_agent, code(R.SELF_TRANSFER)),
        (lock.transfer_id != tx.task_id, code(R.TASK_LOCK_MISSING)),
        (z3.Not(lock_matches_task(tx, lock)), code(R.TASK_LOCK_MISMATCH)),
    )


def validate_static_proof(tx: ExecutionProof) -> z3.ArithRef:
    return first((tx.quality_bp > MAX_QUALITY_BP, code(R.QUALITY_EXCEEDS_MAXIMUM)),
                 (tx.execution_time_ms > MAX_EXECUTION_TIME_MS, code(R.EXECUTION_TIME_EXCEEDS_MAXIMUM)))


def validate_static_reputation_update(tx: ReputationUpdate) -> z3.ArithRef:
    return first((tx.quality_bp > MAX_QUALITY_BP, code(R.QUALITY_EXCEEDS_MAXIMUM)),
                 (tx.reputation_bp > MAX_REPUTATION_BP, code(R.REPUTATION_EXCEEDS_MAXIMUM)))


def lock_difference(existing: View, tx: Lock) -> z3.ArithRef:
    return first(
        (tx.source_agent != existing.source_agent, code(R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT)),
        (tx.dest_agent != existing.dest_agent, code(R.EXISTS_WITH_DIFFERENT_DEST_AGENT)),
        (tx.amount != existing.amount, code(R.EXISTS_WITH_DIFFERENT_AMOUNT)),
        (tx.timeout_ms != existing.timeout_ms, code(R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS)),
        otherwise=EXISTS,
    )


def task_difference(existing: View, tx: FederationTask) -> z3.ArithRef:
    return first(
        (tx.delegating_agent != existing.delegating_agent, code(R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT)),
        (tx.executing_agent != existing.executing_agent, code(R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT)),
        (tx.cost != existing.cost, code(R.EXISTS_WITH_DIFFERENT_COST)),
        (tx.quality_threshold_bp != existing.quality_threshold_bp, code(R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP)),
        (tx.timeout_ms != existing.timeout_ms, code(R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS)),
        (tx.task_data_hash != existing.task_data_hash, code(R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH)),
        otherwise=EXISTS,
    )


def proof_difference(task: View, tx: ExecutionProof) -> z3.ArithRef:
    return first(
        (tx.executing_agent != task.proof_executing_agent, code(R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT)),
        (tx.quality_bp != task.proof_quality_bp, code(R.EXISTS_WITH_DIFFERENT_QUALITY_BP)),
        (tx.execution_time_ms != task.proof_execution_time_ms, code(R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS)),
        (tx.result_hash != task.proof_result_hash, code(R.EXISTS_WITH_DIFFERENT_RESULT_HASH)),
        otherwise=EXISTS,
    )


def reputation_difference(existing: View, tx: ReputationUpdate) -> z3.ArithRef:
    return first(
        (tx.task_id != existing.task_id, code(R.EXISTS_WITH_DIFFERENT_TASK_ID)),
        (tx.platform != existing.platform, code(R.EXISTS_WITH_DIFFERENT_PLATFORM)),
        (tx.quality_bp != existing.quality_bp, code(R.EXISTS_WITH_DIFFERENT_QUALITY_BP)),
        (tx.reputation_bp != existing.reputation_bp, code(R.EXISTS_WITH_DIFFERENT_REPUTATION_BP)),
        (tx.reporter_platform != existing.reporter_platform, code(R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM)),
        otherwise=EXISTS,
    )


def store(array: z3.ArrayRef, index: z3.ArithRef, value: z3.ExprRef) -> z3.ArrayRef:
    return z3.Store(array, index, value)


def mark_failed(ids: z3.ArrayRef, the_id: z3.ArithRef, result: z3.ArithRef, in_use: z3.BoolRef) -> z3.ArrayRef:
    """An id whose creating transaction failed on state, and that is not in use, stays failed."""
    return z3.If(z3.And(is_failure(result), z3.Not(in_use)), store(ids, the_id, z3.BoolVal(True)), ids)


class Encoding:
    """The transition relation. `Encoding()` is `spec/ledger.py`; `Encoding(mutant)`
    drops or changes the rule named `mutant` (see `MUTANTS`)."""

    def __init__(self, mutant: str | None = None) -> None:
        assert mutant is None or mutant in MUTANTS, f"unknown mutant {mutant!r}"
        self.mutant = mutant

    def broken(self, name: str) -> bool:
        assert name in MUTANTS, name
        return self.mutant == name

    # --- moving ATP (spec: release_lock, commit_lock) -------------------------------------------------------
    def release_lock(self, s: Ledger, transfer_id: z3.ArithRef, outcome: z3.ExprRef, cause: z3.ExprRef) -> Ledger:
        """End a LOCKED transfer without moving ATP (rollback, a failed proof, expiry)."""
        transfer = s.transfer(transfer_id)
        source = s.account(transfer.source_agent)
        locked = source.locked if self.broken("rollback_forgets_unlock") else source.locked - transfer.amount
        total = source.total + transfer.amount if self.broken("release_refunds_amount") else source.total
        accounts = store(s.accounts, transfer.source_agent, ACCOUNT.make(total=total, locked=locked))
        ended = TRANSFER.replace(transfer.term, status=outcome, settled_by=cause)
        return replace(s, accounts=accounts, transfers=store(s.transfers, transfer_id, ended))

    def commit_lock(self, s: Ledger, transfer_id: z3.ArithRef, cause: z3.ExprRef) -> Ledger:
        """End a LOCKED transfer by moving its whole amount from source to destination."""
        transfer = s.transfer(transfer_id)
        source = s.account(transfer.source_agent)
        total = source.total if self.broken("commit_credits_without_debit") else source.total - transfer.amount
        locked = source.locked if self.broken("commit_keeps_lock") else source.locked - transfer.amount
        accounts = store(s.accounts, transfer.source_agent, ACCOUNT.make(total=total, locked=locked))
        dest = ACCOUNT.view(accounts[transfer.dest_agent])  # read after the write, as the spec does
        accounts = store(accounts, transfer.dest_agent, ACCOUNT.replace(dest.term, total=dest.total + transfer.amount))
        ended = TRANSFER.replace(transfer.term, status=COMMITTED, settled_by=cause)
        return replace(s, accounts=accounts, transfers=store(s.transfers, transfer_id, ended))

    # --- ATP_TRANSFER_LOCK ----------------------------------------------------------------------------------
    def validate_lock(self, s: Ledger, tx: Lock) -> z3.ArithRef:
        existing = s.transfer(tx.transfer_id)
        source = s.account(tx.source_agent)
        checks = []
        if not self.broken("lock_overwrites_existing"):
            checks.append((existing.exists, lock_difference(existing, tx)))
        if not self.broken("reuses_failed_ids"):
            checks.append((s.failed_transfer_ids[tx.transfer_id], code(R.ID_ALREADY_FAILED)))
        if not self.broken("lock_ignores_available"):
            checks.append((source.total - source.locked < tx.amount, code(R.INSUFFICIENT_AVAILABLE)))
        return first(*checks)

    def apply_lock(self, s: Ledger, tx: Lock, task_linked: bool) -> tuple[z3.ArithRef, Ledger]:
        result = self.validate_lock(s, tx)
        source = s.account(tx.source_agent)
        total = source.total - tx.amount if self.broken("lock_debits_source") else source.total
        accounts = store(s.accounts, tx.source_agent, ACCOUNT.make(total=total, locked=source.locked + tx.amount))
        transfer = TRANSFER.make(
            exists=True,
            source_agent=tx.source_agent,
            source_platform=tx.source_platform,
            dest_agent=tx.dest_agent,
            dest_platform=tx.dest_platform,
            amount=tx.amount,
            timeout_ms=tx.timeout_ms,
            created_at_ms=s.now,
            expires_at_ms=s.now + tx.timeout_ms,
            status=LOCKED,
            task_linked=task_linked,
            settled_by=NO_CAUSE,
        )
        applied = replace(s, accounts=accounts, transfers=store(s.transfers, tx.transfer_id, transfer))
        return result, choose(result == OK, applied, s)

    def lock(self, s: Ledger, tx: Lock) -> tuple[z3.ArithRef, Ledger]:
        """`apply_transaction` for a lock outside a task pair."""
        result, work = self.apply_lock(s, tx, task_linked=False)
        in_use = work.transfer(tx.transfer_id).exists
        return result, replace(work, failed_transfer_ids=mark_failed(work.failed_transfer_ids, tx.transfer_id,
                                                                     result, in_use))

    # --- ATP_TRANSFER_COMMIT and ATP_TRANSFER_ROLLBACK ---------------------------------------------------------
    def validate_settle(self, s: Ledger, transfer_id: z3.ArithRef, platform: z3.ArithRef,
                        own_cause: z3.ExprRef) -> z3.ArithRef:
        transfer = s.transfer(transfer_id)
        checks = [
            (z3.And(transfer.exists, transfer.settled_by == own_cause),
             first((platform != transfer.source_platform, code(R.EXISTS_WITH_DIFFERENT_PLATFORM)), otherwise=EXISTS)),
            (z3.Not(transfer.exists), code(R.TRANSFER_NOT_FOUND)),
            (platform != transfer.source_platform, code(R.UNAUTHORIZED_PLATFORM)),
        ]
        if not self.broken("commit_of_task_lock_allowed"):
            checks.append((transfer.task_linked, code(R.TRANSFER_LINKED_TO_TASK)))
        if not self.broken("settle_twice"):
            checks += [
                (transfer.status == COMMITTED, code(R.TRANSFER_ALREADY_COMMITTED)),
                (transfer.status == ROLLED_BACK, code(R.TRANSFER_ALREADY_ROLLED_BACK)),
                (transfer.status == TRANSFER_EXPIRED, code(R.TRANSFER_EXPIRED)),
            ]
        return first(*checks)

    def commit(self, s: Ledger, tx: Commit) -> tuple[z3.ArithRef, Ledger]:
        result = self.validate_settle(s, tx.transfer_id, tx.platform, BY_COMMIT)
        return result, choose(result == OK, self.commit_lock(s, tx.transfer_id, BY_COMMIT), s)

    def rollback(self, s: Ledger, tx: Rollback) -> tuple[z3.ArithRef, Ledger]:
        result = self.validate_settle(s, tx.transfer_id, tx.platform, BY_ROLLBACK)
        released = self.release_lock(s, tx.transfer_id, ROLLED_BACK, BY_ROLLBACK)
        return result, choose(result == OK, released, s)

    # --- BALANCE_SET --------------------------------------------------------------------------------------------
    def validate_balance_set(self, s: Ledger, tx: BalanceSet) -> z3.ArithRef:
        existing = s.balance_set(tx.set_id)
        account = s.account(tx.agent)
        checks = [(existing.exists, first(
            (tx.agent != existing.agent, code(R.EXISTS_WITH_DIFFERENT_AGENT)),
            (tx.balance != existing.balance, code(R.EXISTS_WITH_DIFFERENT_BALANCE)),
            otherwise=EXISTS,
        ))]
        if not self.broken("reuses_failed_ids"):
            checks.append((s.failed_set_ids[tx.set_id], code(R.ID_ALREADY_FAILED)))
        if not self.broken("balance_set_below_locked"):
            checks.append((tx.balance < account.locked, code(R.BALANCE_BELOW_LOCKED)))
        if not self.broken("balance_set_unchecked_supply"):
            # total_supply(work) is the ghost `supply`: the sum of all totals.
            checks.append((s.supply - account.total + tx.balance > MAX_SUPPLY, code(R.SUPPLY_EXCEEDS_MAXIMUM)))
        return first(*checks)

    def balance_set(self, s: Ledger, tx: BalanceSet) -> tuple[z3.ArithRef, Ledger]:
        result = self.validate_balance_set(s, tx)
        account = s.account(tx.agent)
        record = BALANCE_SET_RECORD.make(exists=True, agent=tx.agent, balance=tx.balance)
        applied = replace(
            s,
            accounts=store(s.accounts, tx.agent, ACCOUNT.replace(account.term, total=tx.balance)),
            balance_sets=store(s.balance_sets, tx.set_id, record),
        )
        work = choose(result == OK, applied, s)
        in_use = work.balance_set(tx.set_id).exists
        return result, replace(work, failed_set_ids=mark_failed(work.failed_set_ids, tx.set_id, result, in_use))

    # --- FEDERATION_TASK with its ATP_TRANSFER_LOCK -----------------------------------------------------------
    def validate_task(self, s: Ledger, tx: FederationTask) -> z3.ArithRef:
        existing = s.task(tx.task_id)
        checks = [(existing.exists, task_difference(existing, tx))]
        if not self.broken("reuses_failed_ids"):
            checks.append((s.failed_transfer_ids[tx.task_id], code(R.ID_ALREADY_FAILED)))
        checks.append((s.transfer(tx.task_id).exists, code(R.ID_USED_BY_TRANSFER)))
        return first(*checks)

    def task_pair(self, s: Ledger, task: FederationTask, lock: Lock) -> tuple[z3.ArithRef, z3.ArithRef, Ledger]:
        """`apply_task_pair`: both apply, or neither."""
        task_code = self.validate_task(s, task)
        lock_code = z3.If(task_code == OK, self.validate_lock(s, lock),
                          z3.If(task_code == EXISTS, lock_difference(s.transfer(task.task_id), lock),
                                code(R.LINKED_TRANSACTION_FAILED)))
        both = z3.And(task_code == OK, lock_code == OK)
        _, locked = self.apply_lock(s, lock, task_linked=not self.broken("task_lock_not_linked"))
        record = TASK.make(
            exists=True,
            delegating_platform=task.delegating_platform,
            delegating_agent=task.delegating_agent,
            executing_platform=task.executing_platform,
            executing_agent=task.executing_agent,
            cost=task.cost,
            quality_threshold_bp=task.quality_threshold_bp,
            timeout_ms=task.timeout_ms,
            task_data_hash=task.task_data_hash,
            created_at_ms=s.now,
            deadline_ms=s.now + task.timeout_ms,
            status=PENDING,
            has_proof=False, proof_executing_agent=0, proof_quality_bp=0, proof_execution_time_ms=0,
            proof_result_hash=0, proof_landed_at_ms=0,
            has_settled_quality=False, settled_quality_bp=0,
            has_reputation_update=False, reputation_update_id=0,
        )
        created = replace(locked, tasks=store(locked.tasks, task.task_id, record))
        work = choose(both, created, s)
        task_code = z3.If(z3.And(task_code == OK, z3.Not(both)), code(R.LINKED_TRANSACTION_FAILED), task_code)
        in_use = z3.Or(work.task(task.task_id).exists, work.transfer(task.task_id).exists)
        failed = mark_failed(work.failed_transfer_ids, task.task_id, task_code, in_use)
        return task_code, lock_code, replace(work, failed_transfer_ids=failed)

    # --- EXECUTION_PROOF --------------------------------------------------------------------------------------
    def validate_execution_proof(self, s: Ledger, tx: ExecutionProof) -> z3.ArithRef:
        task = s.task(tx.task_id)
        checks = [
            (z3.And(task.exists, task.has_proof), proof_difference(task, tx)),
            (z3.Not(task.exists), code(R.TASK_NOT_FOUND)),
            (tx.executing_platform != task.executing_platform, code(R.EXECUTING_PLATFORM_MISMATCH)),
            (tx.executing_agent != task.executing_agent, code(R.EXECUTING_AGENT_MISMATCH)),
        ]
        if not self.broken("proof_on_expired_task"):
            checks.append((task.status == TASK_EXPIRED, code(R.TASK_EXPIRED)))
        return first(*checks)

    def execution_proof(self, s: Ledger, tx: ExecutionProof) -> tuple[z3.ArithRef, Ledger]:
        """Settle a pending task on its proof: pay on quality >= threshold, else refund."""
        result = self.validate_execution_proof(s, tx)
        task = s.task(tx.task_id)
        paid = z3.BoolVal(True) if self.broken("proof_ignores_threshold") else tx.quality_bp >= task.quality_threshold_bp
        cause = BY_COMMIT if self.broken("proof_settles_as_commit") else BY_PROOF
        settled = choose(paid, self.commit_lock(s, tx.task_id, cause),
                         self.release_lock(s, tx.task_id, ROLLED_BACK, BY_PROOF))
        proven = TASK.replace(
            task.term,
            status=z3.If(paid, COMPLETED, FAILED),
            has_proof=True,
            proof_executing_agent=tx.executing_agent,
            proof_quality_bp=tx.quality_bp,
            proof_execution_time_ms=tx.execution_time_ms,
            proof_result_hash=tx.result_hash,
            proof_landed_at_ms=s.now,
            has_settled_quality=True,
            settled_quality_bp=tx.quality_bp,
        )
        applied = replace(settled, tasks=store(settled.tasks, tx.task_id, proven))
        return result, choose(result == OK, applied, s)

    # --- REPUTATION_UPDATE ------------------------------------------------------------------------------------
    def validate_reputation_update(self, s: Ledger, tx: ReputationUpdate) -> z3.ArithRef:
        existing = s.reputation_update(tx.update_id)
        task = s.task(tx.task_id)
        checks = [(existing.exists, reputation_difference(existing, tx))]
        if not self.broken("reuses_failed_ids"):
            checks.append((s.failed_update_ids[tx.update_id], code(R.ID_ALREADY_FAILED)))
        checks += [
            (z3.Not(task.exists), code(R.TASK_NOT_FOUND)),
            (tx.platform != task.executing_platform, code(R.EXECUTING_PLATFORM_MISMATCH)),
            (z3.Not(task.has_settled_quality), code(R.TASK_NOT_SETTLED)),
        ]
        if not self.broken("reputation_update_twice"):
            checks.append((task.has_reputation_update, code(R.REPUTATION_ALREADY_UPDATED)))
        checks += [
            (tx.quality_bp != task.settled_quality_bp, code(R.QUALITY_MISMATCH)),
            (tx.reputation_bp != next_reputation(s.reputations[tx.platform], tx.quality_bp),
             code(R.REPUTATION_MISMATCH)),
        ]
        return first(*checks)

    def reputation_update(self, s: Ledger, tx: ReputationUpdate) -> tuple[z3.ArithRef, Ledger]:
        result = self.validate_reputation_update(s, tx)
        task = s.task(tx.task_id)
        record = REPUTATION_RECORD.make(exists=True, task_id=tx.task_id, platform=tx.platform,
                                        quality_bp=tx.quality_bp, reputation_bp=tx.reputation_bp,
                                        reporter_platform=tx.reporter_platform)
        applied = replace(
            s,
            reputations=store(s.reputations, tx.platform, tx.reputation_bp),
            tasks=store(s.tasks, tx.task_id, TASK.replace(task.term, has_reputation_update=True,
                                                          reputation_update_id=tx.update_id)),
            reputation_updates=store(s.reputation_updates, tx.update_id, record),
        )
        work = choose(result == OK, applied, s)
        in_use = work.reputation_update(tx.update_id).exists
        return result, replace(work, failed_update_ids=mark_failed(work.failed_update_ids, tx.update_id,
                                                                   result, in_use))

    # --- expiry (spec: expire_due) ----------------------------------------------------------------------------
    def due(self, s: Ledger, transfer_id: z3.ArithRef) -> z3.BoolRef:
        """A lock the expiry step must end: LOCKED, and its deadline strictly before the block."""
        transfer = s.transfer(transfer_id)
        if self.broken("expiry_at_deadline"):
            passed = transfer.expires_at_ms <= s.now
        else:
            passed = transfer.expires_at_ms < s.now
        locked = z3.BoolVal(True) if self.broken("expiry_ignores_status") else transfer.status == LOCKED
        return z3.And(transfer.exists, locked, passed)

    def expire(self, s: Ledger, transfer_id: z3.ArithRef) -> Ledger:
        """One iteration of `expire_due`'s loop."""
        cause = BY_ROLLBACK if self.broken("expiry_settles_as_rollback") else BY_EXPIRY
        work = self.release_lock(s, transfer_id, TRANSFER_EXPIRED, cause)
        task = work.task(transfer_id)
        expired = TASK.replace(task.term, status=TASK_EXPIRED, has_settled_quality=True,
                               settled_quality_bp=EXPIRED_TASK_QUALITY_BP)
        linked = s.transfer(transfer_id).task_linked
        return replace(work, tasks=z3.If(linked, store(work.tasks, transfer_id, expired), work.tasks))

    # --- the transitions --------------------------------------------------------------------------------------
    def transaction(self, action: str, s: Ledger, tx: Any, static: z3.ArithRef,
                    applied: tuple[z3.ArithRef, Ledger], accounts: Sequence[z3.ArithRef],
                    transfers: Sequence[z3.ArithRef] = (), tasks: Sequence[z3.ArithRef] = ()) -> Step:
        """A transaction outside the expiry phase. A static failure rejects the block,
        which changes nothing."""
        state_code, work = applied
        result = z3.If(static == OK, state_code, static)
        return Step(action, params_of(tx), z3.And(z3.Not(s.expiring), admitted(tx)), (("code", result),),
                    result == OK, tx, s, choose(static == OK, work, s), tuple(accounts), tuple(transfers), tuple(tasks))

    def step_lock(self, s: Ledger, tx: Lock) -> Step:
        return self.transaction("lock", s, tx, validate_static_lock(tx), self.lock(s, tx),
                                accounts=[tx.source_agent], transfers=[tx.transfer_id])

    def step_commit(self, s: Ledger, tx: Commit) -> Step:
        transfer = s.transfer(tx.transfer_id)
        return self.transaction("commit", s, tx, OK, self.commit(s, tx),
                                accounts=[transfer.source_agent, transfer.dest_agent], transfers=[tx.transfer_id])

    def step_rollback(self, s: Ledger, tx: Rollback) -> Step:
        return self.transaction("rollback", s, tx, OK, self.rollback(s, tx),
                                accounts=[s.transfer(tx.transfer_id).source_agent], transfers=[tx.transfer_id])

    def step_balance_set(self, s: Ledger, tx: BalanceSet) -> Step:
        return self.transaction("balance_set", s, tx, validate_static_balance_set(tx), self.balance_set(s, tx),
                                accounts=[tx.agent])

    def step_task_pair(self, s: Ledger, pair: TaskPair) -> Step:
        static = validate_static_task(pair.task, pair.lock)
        task_code, lock_code, work = self.task_pair(s, pair.task, pair.lock)
        task_code = z3.If(static == OK, task_code, static)
        lock_code = z3.If(static == OK, lock_code, static)
        return Step("task_pair", params_of(pair), z3.And(z3.Not(s.expiring), admitted(pair)),
                    (("task", task_code), ("lock", lock_code)), z3.And(task_code == OK, lock_code == OK), pair,
                    s, choose(static == OK, work, s), (pair.lock.source_agent,), (pair.lock.transfer_id,),
                    (pair.task.task_id,))

    def step_execution_proof(self, s: Ledger, tx: ExecutionProof) -> Step:
        transfer = s.transfer(tx.task_id)
        return self.transaction("execution_proof", s, tx, validate_static_proof(tx), self.execution_proof(s, tx),
                                accounts=[transfer.source_agent, transfer.dest_agent], transfers=[tx.task_id],
                                tasks=[tx.task_id])

    def step_reputation_update(self, s: Ledger, tx: ReputationUpdate) -> Step:
        return self.transaction("reputation_update", s, tx, validate_static_reputation_update(tx),
                                self.reputation_update(s, tx), accounts=[], tasks=[tx.task_id])

    def step_begin_block(self, s: Ledger, timestamp: z3.ArithRef, reward_agent: z3.ArithRef) -> Step:
        """A block at `timestamp` begins: its expiry step starts. `reward_agent` is read
        only by the `block_reward` mutant (the spec pays no block reward)."""
        guard = z3.And(z3.Not(s.expiring), timestamp > s.now, timestamp <= MAX_TIMESTAMP_MS)
        post = replace(s, now=timestamp, expiring=z3.BoolVal(not self.broken("begin_block_skips_expiry")))
        accounts: tuple[z3.ArithRef, ...] = ()
        params: tuple[tuple[str, z3.ExprRef], ...] = (("timestamp", timestamp),)
        if self.broken("block_reward"):
            rewarded = post.account(reward_agent)
            post = replace(post, accounts=store(post.accounts, reward_agent,
                                                ACCOUNT.replace(rewarded.term, total=rewarded.total + 1)))
            accounts, params = (reward_agent,), params + (("reward_agent", reward_agent),)
        return Step("begin_block", params, guard, (), z3.BoolVal(True), None, s, post,
                    accounts, (), ())

    def step_expire_one(self, s: Ledger, transfer_id: z3.ArithRef) -> Step:
        guard = z3.And(s.expiring, self.due(s, transfer_id))
        return Step("expire_one", (("transfer_id", transfer_id),), guard, (), z3.BoolVal(True), None, s,
                    self.expire(s, transfer_id), (s.transfer(transfer_id).source_agent,), (transfer_id,),
                    (transfer_id,))

    def step_finish_expiry(self, s: Ledger) -> Step:
        def not_due(transfer_id: z3.ArithRef) -> z3.BoolRef:
            return z3.Not(self.due(s, transfer_id))

        return Step("finish_expiry", (), s.expiring, (), z3.BoolVal(True), None, s,
                    replace(s, expiring=z3.BoolVal(False)), (), (), (),
                    guard_at_every_transfer=None if self.broken("expiry_optional") else not_due)


TRANSITIONS: tuple[str, ...] = (
    "lock", "commit", "rollback", "balance_set", "task_pair", "execution_proof", "reputation_update",
    "begin_block", "expire_one", "finish_expiry",
)


def symbolic_step(encoding: Encoding, transition: str, pre: Ledger) -> Step:
    """Transition `transition` from `pre` with fresh symbolic parameters (ghosts not yet updated)."""
    builders: dict[str, Callable[[], Step]] = {
        "lock": lambda: encoding.step_lock(pre, symbolic(Lock, "lock")),
        "commit": lambda: encoding.step_commit(pre, symbolic(Commit, "commit")),
        "rollback": lambda: encoding.step_rollback(pre, symbolic(Rollback, "rollback")),
        "balance_set": lambda: encoding.step_balance_set(pre, symbolic(BalanceSet, "balance_set")),
        "task_pair": lambda: encoding.step_task_pair(
            pre, TaskPair(symbolic(FederationTask, "task"), symbolic(Lock, "lock"))),
        "execution_proof": lambda: encoding.step_execution_proof(pre, symbolic(ExecutionProof, "proof")),
        "reputation_update": lambda: encoding.step_reputation_update(pre, symbolic(ReputationUpdate, "update")),
        "begin_block": lambda: encoding.step_begin_block(pre, z3.Int("block.timestamp"), z3.Int("block.reward_agent")),
        "expire_one": lambda: encoding.step_expire_one(pre, z3.Int("expire.transfer_id")),
        "finish_expiry": lambda: encoding.step_finish_expiry(pre),
    }
    return builders[transition]()
