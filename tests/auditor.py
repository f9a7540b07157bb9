"""An independent model of the ledger, for the stateful test.

Like TigerBeetle's auditor, this is a second, deliberately plain statement of
the ledger rules, written from the documented behaviour (the project context,
the docstrings of the wire types and the meanings in `spec.codes.CODE_TABLE`),
not from `spec.ledger`. It imports nothing of the spec but the code names and
the constants, so a rule the spec applies wrongly shows up as a disagreement
instead of being trusted.

How it decides a code. For every transaction it collects *every* code whose
meaning applies (a set of candidates), then reports the candidate that comes
first in `CODE_TABLE`: "when several apply, the one listed first is the one
reported". That is a different construction from the spec's ordered if-chains,
so a check placed out of order in the spec is caught. The only families where a
single member is chosen before ranking are the ``exists_with_different_<field>``
codes, where the documented rule is "the first differing field in the type's
field order".

What it keeps: account totals, every lock (its fields, deadline, status and what
ended it), every task (its fields, deadline, status, proof, settled quality and
reputation update), the balance-set and reputation-update records, the
reputations, the three sets of failed ids, and the chain tip (height, last block
hash, last timestamp). Locked amounts are not kept: they are recomputed as the
sum of the open locks, so the spec's running `locked` is checked against an
independent figure.

Transactions are described by `Tx`: the type, the unsigned fields in wire order,
who signed it and whether it was signed for this chain. The test turns a `Tx`
into a real signed wire transaction; the auditor only needs to know whether the
signature was made by the authorized key for this chain.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from spec.codes import CODE_TABLE, ResultCode
from spec.constants import (
    BASIS_POINTS,
    EXPIRED_TASK_QUALITY_BP,
    MAX_AMOUNT,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
    REPUTATION_WEIGHT_BP,
)

R = ResultCode

RANK: dict[ResultCode, int] = {}
for _rank, _info in enumerate(CODE_TABLE):
    RANK[_info.code] = _rank

AUTHORITY = "@authority"
"""The signer name of the genesis authority key (BALANCE_SET)."""

LOCK = "ATP_TRANSFER_LOCK"
COMMIT = "ATP_TRANSFER_COMMIT"
ROLLBACK = "ATP_TRANSFER_ROLLBACK"
BALANCE_SET = "BALANCE_SET"
TASK = "FEDERATION_TASK"
PROOF = "EXECUTION_PROOF"
REPUTATION = "REPUTATION_UPDATE"

FIELDS: dict[str, tuple[str, ...]] = {
    LOCK: ("transfer_id", "source_platform", "source_agent", "dest_platform", "dest_agent", "amount", "timeout_ms"),
    COMMIT: ("transfer_id", "platform"),
    ROLLBACK: ("transfer_id", "platform"),
    BALANCE_SET: ("set_id", "agent", "balance"),
    TASK: (
        "task_id", "delegating_platform", "delegating_agent", "executing_platform", "executing_agent",
        "cost", "quality_threshold_bp", "timeout_ms", "task_data_hash",
    ),
    PROOF: ("task_id", "executing_platform", "executing_agent", "quality_bp", "execution_time_ms", "result_hash"),
    REPUTATION: ("update_id", "task_id", "platform", "quality_bp", "reputation_bp", "reporter_platform"),
}
"""Each type's fields in wire order (the order of the type's docstring and schema)."""

SIGNER_FIELD: dict[str, str] = {
    LOCK: "source_platform",
    COMMIT: "platform",
    ROLLBACK: "platform",
    TASK: "delegating_platform",
    PROOF: "executing_platform",
    REPUTATION: "reporter_platform",
}
"""The field naming the platform whose key must sign; BALANCE_SET is signed by the authority."""


class Tx(NamedTuple):
    """A transaction as the auditor sees it: fields in wire order, signer, chain."""

    type: str
    fields: tuple[tuple[str, Any], ...]
    signer: str
    """A platform name, `AUTHORITY`, or a name no genesis knows."""
    chain_ok: bool = True
    """False when signed for another chain id (so the signature cannot verify here)."""

    def get(self, name: str) -> Any:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def replaced(self, **changes: Any) -> Tx:
        """The same transaction with some fields changed (signer and chain kept)."""
        fields = tuple((key, changes.get(key, value)) for key, value in self.fields)
        return self._replace(fields=fields)


def make_tx(tx_type: str, signer: str | None = None, chain_ok: bool = True, **values: Any) -> Tx:
    """A `Tx` signed by its authorized signer unless `signer` says otherwise."""
    fields = tuple((name, values[name]) for name in FIELDS[tx_type])
    if signer is None:
        signer = AUTHORITY if tx_type == BALANCE_SET else values[SIGNER_FIELD[tx_type]]
    return Tx(tx_type, fields, signer, chain_ok)


def authorized_signer(tx: Tx) -> str:
    if tx.type == BALANCE_SET:
        return AUTHORITY
    return str(tx.get(SIGNER_FIELD[tx.type]))


def next_reputation(current_bp: int, quality_bp: int) -> int:
    """The documented reputation rule: floor((current*(10000-W) + quality*W)/10000), W = 1000."""
    return (current_bp * (BASIS_POINTS - REPUTATION_WEIGHT_BP) + quality_bp * REPUTATION_WEIGHT_BP) // BASIS_POINTS


def first(candidates: set[ResultCode]) -> ResultCode:
    """The candidate listed first in CODE_TABLE, or ok when there is none."""
    if not candidates:
        return R.OK
    return min(candidates, key=lambda code: RANK[code])


# --- the model's state ----------------------------------------------------------------------------
@dataclass
class LockRecord:
    transfer_id: str
    source_platform: str
    source_agent: str
    dest_platform: str
    dest_agent: str
    amount: int
    timeout_ms: int
    expires_at_ms: int
    task_linked: bool
    status: str = "LOCKED"
    """LOCKED, COMMITTED, ROLLED_BACK or EXPIRED."""
    settled_by: str | None = None
    """COMMIT, ROLLBACK, PROOF or EXPIRY once the lock has ended."""


@dataclass
class TaskRecord:
    task_id: str
    delegating_platform: str
    delegating_agent: str
    executing_platform: str
    executing_agent: str
    cost: int
    quality_threshold_bp: int
    timeout_ms: int
    task_data_hash: str
    deadline_ms: int
    status: str = "PENDING"
    """PENDING, COMPLETED, FAILED or EXPIRED."""
    proof: tuple[str, int, int, str] | None = None
    """(executing_agent, quality_bp, execution_time_ms, result_hash) of the proof that settled it."""
    settled_quality_bp: int | None = None
    reputation_update_id: str | None = None


@dataclass
class Model:
    platforms: set[str]
    """The genesis platforms: the consensus group."""
    hosts: dict[str, str]
    """Agent -> hosting platform (fixed at genesis)."""
    height: int
    last_hash: str
    last_ts: int
    totals: dict[str, int]
    locks: dict[str, LockRecord]
    tasks: dict[str, TaskRecord]
    balance_sets: dict[str, tuple[str, int]]
    reputation_updates: dict[str, tuple[str, str, int, int, str]]
    """update_id -> (task_id, platform, quality_bp, reputation_bp, reporter_platform)."""
    reputations: dict[str, int]
    failed_transfer_ids: set[str] = field(default_factory=set)
    failed_set_ids: set[str] = field(default_factory=set)
    failed_update_ids: set[str] = field(default_factory=set)

    def locked(self, agent: str) -> int:
        """An account's locked amount: the sum of its open locks."""
        amount = 0
        for lock in self.locks.values():
            if lock.status == "LOCKED" and lock.source_agent == agent:
                amount += lock.amount
        return amount

    def available(self, agent: str) -> int:
        return self.totals[agent] - self.locked(agent)

    def pending_deadlines(self) -> list[int]:
        return sorted({lock.expires_at_ms for lock in self.locks.values() if lock.status == "LOCKED"})


class HeaderView(NamedTuple):
    height: int
    previous_hash: str
    timestamp_ms: int
    proposer: str
    root_ok: bool
    """Whether the header's transaction_root is the root of the block's transactions."""
    block_hash: str
    """The hash of this header (remembered as the tip when the block applies)."""


class Outcome(NamedTuple):
    code: ResultCode
    invalid_index: int | None
    invalid_code: ResultCode | None
    allowed: tuple[frozenset[ResultCode], ...]
    """For an accepted block: the codes each transaction may report."""
    expiries: tuple[str, ...]
    """Transfer ids expired by the expiry step, in expiry order."""
    settlements: tuple[tuple[tuple[str, str, str], ...], ...]
    """Per transaction: (transfer_id, outcome, cause) of every lock it ended."""
    model: Model
    """The model after the block (the same object when the block is rejected)."""


# --- the auditor ------------------------------------------------------------------------------------
class Auditor:
    def __init__(
        self,
        platforms: dict[str, int],
        accounts: dict[str, tuple[str, int]],
        genesis_time_ms: int,
    ) -> None:
        """`platforms`: name -> starting reputation; `accounts`: agent -> (host, balance)."""
        self.model = Model(
            platforms=set(platforms),
            hosts={agent: host for agent, (host, _balance) in accounts.items()},
            height=0,
            last_hash="0" * 64,
            last_ts=genesis_time_ms,
            totals={agent: balance for agent, (_host, balance) in accounts.items()},
            locks={},
            tasks={},
            balance_sets={},
            reputation_updates={},
            reputations=dict(platforms),
        )

    # -- block ---------------------------------------------------------------------------------------
    def header_code(self, header: HeaderView, count: int) -> ResultCode:
        m = self.model
        candidates: set[ResultCode] = set()
        if header.height != m.height + 1:
            candidates.add(R.BLOCK_HEIGHT_MISMATCH)
        if header.previous_hash != m.last_hash:
            candidates.add(R.BLOCK_PREVIOUS_HASH_MISMATCH)
        if header.timestamp_ms > MAX_TIMESTAMP_MS:
            candidates.add(R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM)
        if header.timestamp_ms <= m.last_ts:
            candidates.add(R.BLOCK_TIMESTAMP_NOT_INCREASING)
        if header.proposer not in m.platforms:
            candidates.add(R.BLOCK_PROPOSER_UNKNOWN)
        if count > MAX_BLOCK_TRANSACTIONS:
            candidates.add(R.BLOCK_TOO_MANY_TRANSACTIONS)
        if not header.root_ok:
            candidates.add(R.BLOCK_TRANSACTION_ROOT_MISMATCH)
        return first(candidates)

    def predict(self, header: HeaderView, txs: Sequence[Tx]) -> Outcome:
        """What the ledger must do with this block: codes, expiries and the state after."""
        code = self.header_code(header, len(txs))
        if code != R.OK:
            return Outcome(code, None, None, (), (), (), self.model)
        for index, tx in enumerate(txs):
            following = txs[index + 1] if index + 1 < len(txs) else None
            static = self.static_code(tx, following)
            if static != R.OK:
                return Outcome(R.BLOCK_TRANSACTION_INVALID, index, static, (), (), (), self.model)

        m = copy.deepcopy(self.model)
        now = header.timestamp_ms
        expiries = expire(m, now)
        allowed: list[frozenset[ResultCode]] = []
        settlements: list[tuple[tuple[str, str, str], ...]] = []
        index = 0
        while index < len(txs):
            tx = txs[index]
            if tx.type == TASK:
                task_code, lock_code = apply_pair(m, tx, txs[index + 1], now)
                allowed += [frozenset({task_code}), frozenset({lock_code})]
                settlements += [(), ()]
                index += 2
                continue
            code, settled = apply_single(m, tx, now)
            allowed.append(frozenset({code}))
            settlements.append(settled)
            index += 1
        m.height = header.height
        m.last_hash = header.block_hash
        m.last_ts = now
        return Outcome(R.OK, None, None, tuple(allowed), tuple(expiries), tuple(settlements), m)

    def accept(self, outcome: Outcome) -> None:
        self.model = outcome.model

    # -- static ----------------------------------------------------------------------------------------
    def static_code(self, tx: Tx, following: Tx | None) -> ResultCode:
        """Every static code whose meaning applies, ranked by CODE_TABLE."""
        m = self.model
        c: set[ResultCode] = set()
        f = dict(tx.fields)
        signer_known = tx.type == BALANCE_SET or f[SIGNER_FIELD[tx.type]] in m.platforms
        if signer_known and not (tx.chain_ok and tx.signer == authorized_signer(tx)):
            c.add(R.SIGNATURE_INVALID)

        def platform(name: str) -> None:
            if f[name] not in m.platforms:
                c.add(R.UNKNOWN_PLATFORM)

        def executing_platform(name: str) -> None:
            if f[name] not in m.platforms:
                c.add(R.EXECUTING_PLATFORM_NOT_IN_GROUP)

        def amount(name: str) -> None:
            if f[name] == 0:
                c.add(R.AMOUNT_MUST_NOT_BE_ZERO)
            if f[name] > MAX_AMOUNT:
                c.add(R.AMOUNT_EXCEEDS_MAXIMUM)

        def timeout(name: str) -> None:
            if f[name] == 0:
                c.add(R.TIMEOUT_MUST_NOT_BE_ZERO)
            if f[name] > MAX_TIMEOUT_MS:
                c.add(R.TIMEOUT_EXCEEDS_MAXIMUM)

        def hosted(agent_field: str, platform_field: str) -> None:
            agent = f[agent_field]
            if agent not in m.hosts:
                c.add(R.UNKNOWN_ACCOUNT)
            elif m.hosts[agent] != f[platform_field]:
                c.add(R.AGENT_NOT_HOSTED_BY_PLATFORM)

        if tx.type == LOCK:
            platform("source_platform")
            platform("dest_platform")
            amount("amount")
            timeout("timeout_ms")
            hosted("source_agent", "source_platform")
            hosted("dest_agent", "dest_platform")
            if f["source_agent"] == f["dest_agent"]:
                c.add(R.SELF_TRANSFER)
        elif tx.type in (COMMIT, ROLLBACK):
            platform("platform")
        elif tx.type == BALANCE_SET:
            if f["balance"] > MAX_SUPPLY:
                c.add(R.BALANCE_EXCEEDS_MAXIMUM)
            if f["agent"] not in m.hosts:
                c.add(R.UNKNOWN_ACCOUNT)
        elif tx.type == TASK:
            platform("delegating_platform")
            executing_platform("executing_platform")
            amount("cost")
            timeout("timeout_ms")
            if f["quality_threshold_bp"] > MAX_THRESHOLD_BP:
                c.add(R.THRESHOLD_EXCEEDS_MAXIMUM)
            hosted("delegating_agent", "delegating_platform")
            hosted("executing_agent", "executing_platform")
            if f["delegating_agent"] == f["executing_agent"]:
                c.add(R.SELF_TRANSFER)
            if following is None or following.type != LOCK or following.get("transfer_id") != f["task_id"]:
                c.add(R.TASK_LOCK_MISSING)
            else:
                lock = dict(following.fields)
                same = (
                    lock["source_platform"] == f["delegating_platform"]
                    and lock["source_agent"] == f["delegating_agent"]
                    and lock["dest_platform"] == f["executing_platform"]
                    and lock["dest_agent"] == f["executing_agent"]
                    and lock["amount"] == f["cost"]
                    and lock["timeout_ms"] == f["timeout_ms"]
                )
                if not same:
                    c.add(R.TASK_LOCK_MISMATCH)
        elif tx.type == PROOF:
            executing_platform("executing_platform")
            if f["quality_bp"] > MAX_QUALITY_BP:
                c.add(R.QUALITY_EXCEEDS_MAXIMUM)
            if f["execution_time_ms"] > MAX_EXECUTION_TIME_MS:
                c.add(R.EXECUTION_TIME_EXCEEDS_MAXIMUM)
            hosted("executing_agent", "executing_platform")
        elif tx.type == REPUTATION:
            platform("platform")
            platform("reporter_platform")
            if f["quality_bp"] > MAX_QUALITY_BP:
                c.add(R.QUALITY_EXCEEDS_MAXIMUM)
            if f["reputation_bp"] > MAX_REPUTATION_BP:
                c.add(R.REPUTATION_EXCEEDS_MAXIMUM)
        else:
            raise ValueError(f"unknown transaction type {tx.type}")
        return first(c)


# --- the expiry step ---------------------------------------------------------------------------------
def expire(m: Model, now: int) -> list[str]:
    """Every open lock whose deadline is strictly before `now` expires (the deadline
    itself is still on time), in (deadline, id) order; its task, if any, expires
    with settled quality 0."""
    due = [lock for lock in m.locks.values() if lock.status == "LOCKED" and lock.expires_at_ms < now]
    due.sort(key=lambda lock: (lock.expires_at_ms, lock.transfer_id))
    for lock in due:
        lock.status = "EXPIRED"
        lock.settled_by = "EXPIRY"
        task = m.tasks.get(lock.transfer_id)
        if lock.task_linked and task is not None:
            task.status = "EXPIRED"
            task.settled_quality_bp = EXPIRED_TASK_QUALITY_BP
    return [lock.transfer_id for lock in due]


# --- state rules -------------------------------------------------------------------------------------
def first_difference(recorded: dict[str, Any], tx: dict[str, Any], table: tuple[tuple[str, ResultCode], ...]) -> ResultCode:
    """`exists`, or the code of the first field (in wire order) where `tx` differs."""
    for name, code in table:
        if recorded[name] != tx[name]:
            return code
    return R.EXISTS


# A platform field has no exists_with_different_* code of its own: the static
# checks tie every agent to its host, so a different platform means a different
# agent, and the agent's code is the one that names the difference.
LOCK_IDENTITY = (
    ("source_platform", R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT),
    ("source_agent", R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT),
    ("dest_platform", R.EXISTS_WITH_DIFFERENT_DEST_AGENT),
    ("dest_agent", R.EXISTS_WITH_DIFFERENT_DEST_AGENT),
    ("amount", R.EXISTS_WITH_DIFFERENT_AMOUNT),
    ("timeout_ms", R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS),
)
TASK_IDENTITY = (
    ("delegating_platform", R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT),
    ("delegating_agent", R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT),
    ("executing_platform", R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT),
    ("executing_agent", R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT),
    ("cost", R.EXISTS_WITH_DIFFERENT_COST),
    ("quality_threshold_bp", R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP),
    ("timeout_ms", R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS),
    ("task_data_hash", R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH),
)
PROOF_IDENTITY = (
    ("executing_agent", R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT),
    ("quality_bp", R.EXISTS_WITH_DIFFERENT_QUALITY_BP),
    ("execution_time_ms", R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS),
    ("result_hash", R.EXISTS_WITH_DIFFERENT_RESULT_HASH),
)
REPUTATION_IDENTITY = (
    ("task_id", R.EXISTS_WITH_DIFFERENT_TASK_ID),
    ("platform", R.EXISTS_WITH_DIFFERENT_PLATFORM),
    ("quality_bp", R.EXISTS_WITH_DIFFERENT_QUALITY_BP),
    ("reputation_bp", R.EXISTS_WITH_DIFFERENT_REPUTATION_BP),
    ("reporter_platform", R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM),
)
BALANCE_SET_IDENTITY = (
    ("agent", R.EXISTS_WITH_DIFFERENT_AGENT),
    ("balance", R.EXISTS_WITH_DIFFERENT_BALANCE),
)


def lock_candidates(m: Model, f: dict[str, Any]) -> set[ResultCode]:
    c: set[ResultCode] = set()
    recorded = m.locks.get(f["transfer_id"])
    if recorded is not None:
        c.add(first_difference(vars(recorded), f, LOCK_IDENTITY))
    if f["transfer_id"] in m.failed_transfer_ids:
        c.add(R.ID_ALREADY_FAILED)
    if m.available(f["source_agent"]) < f["amount"]:
        c.add(R.INSUFFICIENT_AVAILABLE)
    return c


def open_lock(m: Model, f: dict[str, Any], now: int, task_linked: bool) -> None:
    m.locks[f["transfer_id"]] = LockRecord(
        transfer_id=f["transfer_id"],
        source_platform=f["source_platform"],
        source_agent=f["source_agent"],
        dest_platform=f["dest_platform"],
        dest_agent=f["dest_agent"],
        amount=f["amount"],
        timeout_ms=f["timeout_ms"],
        expires_at_ms=now + f["timeout_ms"],
        task_linked=task_linked,
    )


def pay(m: Model, lock: LockRecord, cause: str) -> None:
    m.totals[lock.source_agent] -= lock.amount
    m.totals[lock.dest_agent] += lock.amount
    lock.status = "COMMITTED"
    lock.settled_by = cause


def release(m: Model, lock: LockRecord, status: str, cause: str) -> None:
    lock.status = status
    lock.settled_by = cause


def apply_single(m: Model, tx: Tx, now: int) -> tuple[ResultCode, tuple[tuple[str, str, str], ...]]:
    """The code of one transaction outside a task pair, applying it to `m` when ok."""
    f = dict(tx.fields)
    c: set[ResultCode] = set()
    settled: tuple[tuple[str, str, str], ...] = ()

    if tx.type == LOCK:
        c = lock_candidates(m, f)
        code = first(c)
        if code == R.OK:
            open_lock(m, f, now, task_linked=False)
        elif code != R.EXISTS and f["transfer_id"] not in m.locks:
            m.failed_transfer_ids.add(f["transfer_id"])
        return code, settled

    if tx.type in (COMMIT, ROLLBACK):
        own = "COMMIT" if tx.type == COMMIT else "ROLLBACK"
        lock = m.locks.get(f["transfer_id"])
        if lock is None:
            c.add(R.TRANSFER_NOT_FOUND)
        else:
            # An explicit COMMIT (ROLLBACK) already applied: this one is its
            # resubmission, compared on its only other field, the platform.
            if lock.settled_by == own:
                c.add(R.EXISTS if f["platform"] == lock.source_platform else R.EXISTS_WITH_DIFFERENT_PLATFORM)
            if f["platform"] != lock.source_platform:
                c.add(R.UNAUTHORIZED_PLATFORM)
            if lock.task_linked:
                c.add(R.TRANSFER_LINKED_TO_TASK)
            if lock.status == "COMMITTED":
                c.add(R.TRANSFER_ALREADY_COMMITTED)
            if lock.status == "ROLLED_BACK":
                c.add(R.TRANSFER_ALREADY_ROLLED_BACK)
            if lock.status == "EXPIRED":
                c.add(R.TRANSFER_EXPIRED)
        code = first(c)
        if code == R.OK:
            assert lock is not None
            if own == "COMMIT":
                pay(m, lock, "COMMIT")
                settled = ((lock.transfer_id, "COMMITTED", "COMMIT"),)
            else:
                release(m, lock, "ROLLED_BACK", "ROLLBACK")
                settled = ((lock.transfer_id, "ROLLED_BACK", "ROLLBACK"),)
        return code, settled

    if tx.type == BALANCE_SET:
        recorded_set = m.balance_sets.get(f["set_id"])
        if recorded_set is not None:
            recorded = {"agent": recorded_set[0], "balance": recorded_set[1]}
            c.add(first_difference(recorded, f, BALANCE_SET_IDENTITY))
        if f["set_id"] in m.failed_set_ids:
            c.add(R.ID_ALREADY_FAILED)
        agent = f["agent"]
        if f["balance"] < m.locked(agent):
            c.add(R.BALANCE_BELOW_LOCKED)
        if sum(m.totals.values()) - m.totals[agent] + f["balance"] > MAX_SUPPLY:
            c.add(R.SUPPLY_EXCEEDS_MAXIMUM)
        code = first(c)
        if code == R.OK:
            m.totals[agent] = f["balance"]
            m.balance_sets[f["set_id"]] = (agent, f["balance"])
        elif code != R.EXISTS and f["set_id"] not in m.balance_sets:
            m.failed_set_ids.add(f["set_id"])
        return code, settled

    if tx.type == PROOF:
        task = m.tasks.get(f["task_id"])
        if task is None:
            c.add(R.TASK_NOT_FOUND)
        else:
            if task.proof is not None:
                recorded = dict(zip(("executing_agent", "quality_bp", "execution_time_ms", "result_hash"), task.proof, strict=True))
                c.add(first_difference(recorded, f, PROOF_IDENTITY))
            if f["executing_platform"] != task.executing_platform:
                c.add(R.EXECUTING_PLATFORM_MISMATCH)
            if f["executing_agent"] != task.executing_agent:
                c.add(R.EXECUTING_AGENT_MISMATCH)
            if task.status == "EXPIRED":
                c.add(R.TASK_EXPIRED)
        code = first(c)
        if code == R.OK:
            assert task is not None
            lock = m.locks[task.task_id]
            if f["quality_bp"] >= task.quality_threshold_bp:
                pay(m, lock, "PROOF")
                task.status = "COMPLETED"
                settled = ((lock.transfer_id, "COMMITTED", "PROOF"),)
            else:
                release(m, lock, "ROLLED_BACK", "PROOF")
                task.status = "FAILED"
                settled = ((lock.transfer_id, "ROLLED_BACK", "PROOF"),)
            task.proof = (f["executing_agent"], f["quality_bp"], f["execution_time_ms"], f["result_hash"])
            task.settled_quality_bp = f["quality_bp"]
        return code, settled

    if tx.type == REPUTATION:
        recorded_update = m.reputation_updates.get(f["update_id"])
        if recorded_update is not None:
            recorded = dict(zip(("task_id", "platform", "quality_bp", "reputation_bp", "reporter_platform"), recorded_update, strict=True))
            c.add(first_difference(recorded, f, REPUTATION_IDENTITY))
        if f["update_id"] in m.failed_update_ids:
            c.add(R.ID_ALREADY_FAILED)
        task = m.tasks.get(f["task_id"])
        if task is None:
            c.add(R.TASK_NOT_FOUND)
        else:
            if f["platform"] != task.executing_platform:
                c.add(R.EXECUTING_PLATFORM_MISMATCH)
            if task.settled_quality_bp is None:
                c.add(R.TASK_NOT_SETTLED)
            else:
                if task.reputation_update_id is not None:
                    c.add(R.REPUTATION_ALREADY_UPDATED)
                if f["quality_bp"] != task.settled_quality_bp:
                    c.add(R.QUALITY_MISMATCH)
            if f["platform"] in m.reputations and f["reputation_bp"] != next_reputation(m.reputations[f["platform"]], f["quality_bp"]):
                c.add(R.REPUTATION_MISMATCH)
        code = first(c)
        if code == R.OK:
            assert task is not None
            m.reputations[f["platform"]] = f["reputation_bp"]
            task.reputation_update_id = f["update_id"]
            m.reputation_updates[f["update_id"]] = (
                f["task_id"], f["platform"], f["quality_bp"], f["reputation_bp"], f["reporter_platform"]
            )
        elif code != R.EXISTS and f["update_id"] not in m.reputation_updates:
            m.failed_update_ids.add(f["update_id"])
        return code, settled

    raise ValueError(f"not a single transaction: {tx.type}")


def apply_pair(m: Model, task_tx: Tx, lock_tx: Tx, now: int) -> tuple[ResultCode, ResultCode]:
    """A FEDERATION_TASK and its lock: both apply, or neither.

    The task is judged first. If it fails on state, the lock reports
    linked_transaction_failed; if the task is fine and the lock fails, the lock
    reports its own code and the task linked_transaction_failed. Identical
    resubmissions of both report exists. A failed pair leaves its (unused) id
    failed."""
    t = dict(task_tx.fields)
    lk = dict(lock_tx.fields)
    task_id = t["task_id"]
    c: set[ResultCode] = set()
    recorded = m.tasks.get(task_id)
    if recorded is not None:
        c.add(first_difference(vars(recorded), t, TASK_IDENTITY))
    if task_id in m.failed_transfer_ids:
        c.add(R.ID_ALREADY_FAILED)
    if recorded is None and task_id in m.locks:
        c.add(R.ID_USED_BY_TRANSFER)
    task_code = first(c)

    if task_code == R.OK:
        lock_code = first(lock_candidates(m, lk))
        if lock_code != R.OK:
            task_code = R.LINKED_TRANSACTION_FAILED
    elif task_code == R.EXISTS:
        # The static pairing ties the lock to the task, so an identical task
        # should come with an identical lock. Judge the lock anyway: if that
        # claim ever breaks, the lock's own difference shows it.
        lock_code = first_difference(vars(m.locks[task_id]), lk, LOCK_IDENTITY)
        if lock_code != R.EXISTS:
            task_code = R.LINKED_TRANSACTION_FAILED
    else:
        lock_code = R.LINKED_TRANSACTION_FAILED

    if task_code == R.OK:
        open_lock(m, lk, now, task_linked=True)
        m.tasks[task_id] = TaskRecord(
            task_id=task_id,
            delegating_platform=t["delegating_platform"],
            delegating_agent=t["delegating_agent"],
            executing_platform=t["executing_platform"],
            executing_agent=t["executing_agent"],
            cost=t["cost"],
            quality_threshold_bp=t["quality_threshold_bp"],
            timeout_ms=t["timeout_ms"],
            task_data_hash=t["task_data_hash"],
            deadline_ms=now + t["timeout_ms"],
        )
    elif task_code != R.EXISTS and task_id not in m.tasks and task_id not in m.locks:
        m.failed_transfer_ids.add(task_id)
    return task_code, lock_code
