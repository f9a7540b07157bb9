"""Reachable ledger states, and transactions to try on them, drawn with hypothesis.

A *case* is a state inside a block: a few blocks applied from the test genesis by the
spec's own functions (the expiry step `expire_due`, then `apply_transaction` or
`apply_task_pair`), each transaction statically valid, most of them acting on
something (a proof for a pending task, a settlement of an open lock, an update for a
settled task), so that histories reach every kind of record; block times are drawn
around the deadlines of open locks (one before, at, one after), so the expiry tie
comes up.

The *transaction under test* is a plausible one, or a resubmission of one the state
holds, with at most one named *flaw*: a value at or beyond a bound, an id that failed,
a field changed from the recorded one, another platform. The tests try every flaw of
a transaction type on its own cases, so every way a transaction can fail comes up.
Ids come from small pools, so they collide.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from builders import ATP, AUTHORITY, CHAIN_ID, GENESIS, HOSTS, PLACEHOLDER, PLATFORMS, digest, signed
from hypothesis import strategies as st

import spec.ledger as ledger
from spec.constants import (
    MAX_AMOUNT,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
    MAX_UINT64,
)
from spec.state import state_from_genesis
from spec.wire.records import LedgerState, TaskStatus, TransferStatus
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    ExecutionProof,
    FederationTask,
    ReputationUpdate,
)

AGENTS: tuple[str, ...] = tuple(HOSTS)
TRANSFER_IDS = ("t0", "t1", "t2", "t3")
"""Transfer and task ids: one namespace, a small pool, so that ids collide."""
SET_IDS = ("s0", "s1")
UPDATE_IDS = ("u0", "u1", "u2")
HASHES = (digest("h0"), digest("h1"))

BLOCKS = 5
"""Blocks before the case: from one to this many."""
TRANSACTIONS_PER_BLOCK = 5
TIMEOUTS = (1, 2, 1_000, 60_000, MAX_TIMEOUT_MS)
BLOCK_STEPS = (1, 2, 1_000, 60_000, 10**9)

Values = dict[str, Any]
"""A transaction's fields, before it is built (and signed)."""


@dataclass
class Case:
    """A reachable state inside a block: the expiry step of the block at `now` ran, and
    maybe some of its transactions."""

    state: LedgerState
    now: int


class Draw:
    """Draws from hypothesis, with what the state holds at hand."""

    def __init__(self, data: st.DataObject, state: LedgerState) -> None:
        self.data = data
        self.state = state

    def pick(self, options: Sequence[Any]) -> Any:
        return self.data.draw(st.sampled_from(list(options)))

    def chance(self, n: int) -> bool:
        """True about once in n draws."""
        return self.data.draw(st.integers(0, n - 1)) == 0

    def source(self) -> str:
        """An agent, mostly one with ATP available."""
        funded = [agent for agent in AGENTS if self.state.accounts[agent].available > 0]
        return str(self.pick(funded if funded and not self.chance(5) else AGENTS))

    def other_agent(self, agent: str) -> str:
        return str(self.pick([other for other in AGENTS if other != agent]))

    def amount(self, source: str) -> int:
        available = self.state.accounts[source].available
        return int(self.pick([1, 10 * ATP, max(available // 2, 1), max(available, 1)]))

    def available(self, agent: str) -> int:
        return self.state.accounts[agent].available

    def one_of(self, ids: Sequence[str], pool: Sequence[str]) -> str:
        """Mostly one of `ids` (those in use that fit), sometimes any id of the pool."""
        return str(self.pick(list(ids))) if ids and not self.chance(4) else str(self.pick(pool))


def unsigned(kind: type[Any], values: Values) -> Any:
    return kind(signature=PLACEHOLDER, **values)


def set_agent(values: Values, role: str, agent: str) -> None:
    """Name `agent` in a role (`source`, `dest`, `delegating`, `executing`) with its host."""
    values[f"{role}_agent"] = agent
    values[f"{role}_platform"] = HOSTS[agent]


# --- plausible transactions: what histories are made of -----------------------------------------------------
def plausible_lock(d: Draw) -> Values:
    source = d.source()
    values = {"transfer_id": d.pick(TRANSFER_IDS), "amount": d.amount(source), "timeout_ms": d.pick(TIMEOUTS)}
    set_agent(values, "source", source)
    set_agent(values, "dest", d.other_agent(source))
    return values


def plausible_settle(d: Draw) -> Values:
    """An open plain transfer, mostly, by its source's platform."""
    open_plain = sorted(x for x, t in d.state.transfers.items() if t.status == TransferStatus.LOCKED
                        and not t.task_linked)
    transfer_id = d.one_of(open_plain, TRANSFER_IDS)
    transfer = d.state.transfers.get(transfer_id)
    platform = transfer.source_platform if transfer is not None else d.pick(PLATFORMS)
    return {"transfer_id": transfer_id, "platform": platform}


def plausible_balance_set(d: Draw) -> Values:
    locking = [agent for agent in AGENTS if d.state.accounts[agent].locked > 0]
    agent = d.pick(locking if locking and d.chance(2) else AGENTS)
    locked = d.state.accounts[agent].locked
    return {"set_id": d.pick(SET_IDS), "agent": agent,
            "balance": d.pick([0, 10 * ATP, 2_000 * ATP, locked, max(locked - 1, 0)])}


def plausible_task(d: Draw) -> Values:
    delegating = d.source()
    values = {"task_id": d.pick(TRANSFER_IDS), "cost": d.amount(delegating),
              "quality_threshold_bp": d.pick([0, 5_000, 7_000, MAX_THRESHOLD_BP]), "timeout_ms": d.pick(TIMEOUTS),
              "task_data_hash": d.pick(HASHES)}
    set_agent(values, "delegating", delegating)
    set_agent(values, "executing", d.other_agent(delegating))
    return values


def lock_paying_for(task: Values) -> Values:
    """The ATP_TRANSFER_LOCK that pays for the task: its id, agents, cost and timeout."""
    return {"transfer_id": task["task_id"], "source_platform": task["delegating_platform"],
            "source_agent": task["delegating_agent"], "dest_platform": task["executing_platform"],
            "dest_agent": task["executing_agent"], "amount": task["cost"], "timeout_ms": task["timeout_ms"]}


def plausible_proof(d: Draw) -> Values:
    """For a pending task mostly, by its executing agent, of a quality about its threshold."""
    pending = sorted(k for k, task in d.state.tasks.items() if task.status == TaskStatus.PENDING)
    task_id = d.one_of(pending or sorted(d.state.tasks), TRANSFER_IDS)
    task = d.state.tasks.get(task_id)
    executing = task.executing_agent if task is not None else d.pick(AGENTS)
    threshold = task.quality_threshold_bp if task is not None else 5_000
    values = {"task_id": task_id, "quality_bp": d.pick([max(threshold - 1, 0), threshold,
                                                        min(threshold + 1, MAX_QUALITY_BP)]),
              "execution_time_ms": d.pick([0, 1_000]), "result_hash": d.pick(HASHES)}
    set_agent(values, "executing", executing)
    return values


def plausible_reputation_update(d: Draw) -> Values:
    """For a settled task not yet reported, mostly, with the right quality and reputation."""
    settled = sorted(k for k, task in d.state.tasks.items() if task.settled_quality_bp is not None)
    unreported = [k for k in settled if d.state.tasks[k].reputation_update_id is None]
    task_id = d.one_of(unreported or settled or sorted(d.state.tasks), TRANSFER_IDS)
    task = d.state.tasks.get(task_id)
    platform = task.executing_platform if task is not None else d.pick(PLATFORMS)
    quality = task.settled_quality_bp if task is not None and task.settled_quality_bp is not None else 0
    return {"update_id": d.pick(UPDATE_IDS), "task_id": task_id, "platform": platform, "quality_bp": quality,
            "reputation_bp": ledger.next_reputation(d.state.reputations[platform], quality),
            "reporter_platform": d.pick(PLATFORMS)}


# --- histories --------------------------------------------------------------------------------------------------
def next_timestamp(d: Draw, last: int) -> int:
    """A small or large step past `last`, or a lock's deadline, one before or one after."""
    deadlines = [t.expires_at_ms + delta for t in d.state.transfers.values() if t.status == TransferStatus.LOCKED
                 for delta in (-1, 0, 1) if t.expires_at_ms + delta > last]
    if deadlines and not d.chance(3):
        return min(int(d.pick(deadlines)), MAX_TIMESTAMP_MS)
    return min(last + int(d.pick(BLOCK_STEPS)), MAX_TIMESTAMP_MS)


def apply_one(d: Draw, work: LedgerState, now: int) -> None:
    """One plausible transaction (or task pair), applied as `apply_block` would: mostly
    one that has something to act on; one in six of any kind, which mostly fails and
    leaves its id failed."""
    tasks, transfers = work.tasks.values(), work.transfers.values()
    useful = ["lock", "task", "balance_set"]
    if any(t.status == TransferStatus.LOCKED and not t.task_linked for t in transfers):
        useful += ["commit", "rollback"]
    if any(task.status == TaskStatus.PENDING for task in tasks):
        useful += ["proof", "proof"]
    if any(task.settled_quality_bp is not None and task.reputation_update_id is None for task in tasks):
        useful += ["reputation", "reputation"]
    kind = d.pick(("lock", "commit", "rollback", "balance_set", "task", "proof", "reputation") if d.chance(6)
                  else useful)
    if kind == "task":
        task = plausible_task(d)
        ledger.apply_task_pair(work, unsigned(FederationTask, task), unsigned(AtpTransferLock, lock_paying_for(task)),
                               0, now)
        return
    tx: AnyTransaction
    if kind == "lock":
        tx = unsigned(AtpTransferLock, plausible_lock(d))
    elif kind == "commit":
        tx = unsigned(AtpTransferCommit, plausible_settle(d))
    elif kind == "rollback":
        tx = unsigned(AtpTransferRollback, plausible_settle(d))
    elif kind == "balance_set":
        tx = unsigned(BalanceSet, plausible_balance_set(d))
    elif kind == "proof":
        tx = unsigned(ExecutionProof, plausible_proof(d))
    else:
        tx = unsigned(ReputationUpdate, plausible_reputation_update(d))
    ledger.apply_transaction(work, tx, 0, now)


def draw_case(data: st.DataObject) -> Case:
    """Blocks of plausible transactions from genesis; the case is the state inside the last block."""
    state = state_from_genesis(GENESIS)
    now = state.last_timestamp_ms
    d = Draw(data, state)
    for _ in range(data.draw(st.integers(1, BLOCKS), label="blocks")):
        now = next_timestamp(d, now)
        ledger.expire_due(state, now)
        for _ in range(data.draw(st.integers(1, TRANSACTIONS_PER_BLOCK))):
            apply_one(d, state, now)
        state.last_timestamp_ms = now
    return Case(state, now)


# --- the transaction under test: plausible or resubmitted, with at most one flaw ------------------------------------
Flaw = Callable[[Draw, Values], None]


def set_to(field: str, value: Any) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        values[field] = value
    return flaw


def add_one(field: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        values[field] += 1
    return flaw


def less_one(field: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        values[field] = values[field] - 1 if values[field] > 0 else 1
    return flaw


def another_agent(role: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        set_agent(values, role, d.other_agent(values[f"{role}_agent"]))
    return flaw


def another_agent_same_platform(role: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        agent = values[f"{role}_agent"]
        neighbours = [other for other in AGENTS if other != agent and HOSTS[other] == HOSTS[agent]]
        if neighbours:
            set_agent(values, role, d.pick(neighbours))
    return flaw


def another_of(field: str, pool: Sequence[str]) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        values[field] = d.pick([x for x in pool if x != values[field]])
    return flaw


def failed_id(field: str, failed: Callable[[LedgerState], set[str]]) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        ids = failed(d.state)
        if ids:
            values[field] = d.pick(sorted(ids))
    return flaw


def to_itself(source: str, dest: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        set_agent(values, dest, values[f"{source}_agent"])
    return flaw


def more_than_available(amount: str, source: str) -> Flaw:
    def flaw(d: Draw, values: Values) -> None:
        values[amount] = d.available(values[f"{source}_agent"]) + 1
    return flaw


def none(d: Draw, values: Values) -> None:
    """No flaw."""


def amount_flaws(field: str, source: str) -> dict[str, Flaw]:
    return {f"zero {field}": set_to(field, 0), f"{field} above MAX_AMOUNT": set_to(field, MAX_AMOUNT + 1),
            f"{field} at the uint64 maximum": set_to(field, MAX_UINT64),
            f"{field} above what is available": more_than_available(field, source),
            f"{field} + 1": add_one(field)}


TIMEOUT_FLAWS: dict[str, Flaw] = {
    "zero timeout": set_to("timeout_ms", 0), "timeout at MAX_TIMEOUT_MS": set_to("timeout_ms", MAX_TIMEOUT_MS),
    "timeout above MAX_TIMEOUT_MS": set_to("timeout_ms", MAX_TIMEOUT_MS + 1), "timeout + 1": add_one("timeout_ms"),
}

LOCK_FLAWS: dict[str, Flaw] = {
    "none": none, **amount_flaws("amount", "source"), **TIMEOUT_FLAWS,
    "to itself": to_itself("source", "dest"),
    "a failed id": failed_id("transfer_id", lambda s: s.failed_transfer_ids),
    "another source": another_agent("source"), "another destination": another_agent("dest"),
}
BALANCE_SET_FLAWS: dict[str, Flaw] = {
    "none": none, "balance at MAX_SUPPLY": set_to("balance", MAX_SUPPLY),
    "balance above MAX_SUPPLY": set_to("balance", MAX_SUPPLY + 1),
    "balance - 1": less_one("balance"), "balance + 1": add_one("balance"),
    "a failed id": failed_id("set_id", lambda s: s.failed_set_ids), "another agent": another_of("agent", AGENTS),
}
TASK_FLAWS: dict[str, Flaw] = {
    "none": none, **amount_flaws("cost", "delegating"), **TIMEOUT_FLAWS,
    "threshold at MAX_THRESHOLD_BP": set_to("quality_threshold_bp", MAX_THRESHOLD_BP),
    "threshold above MAX_THRESHOLD_BP": set_to("quality_threshold_bp", MAX_THRESHOLD_BP + 1),
    "threshold + 1": add_one("quality_threshold_bp"), "to itself": to_itself("delegating", "executing"),
    "a failed id": failed_id("task_id", lambda s: s.failed_transfer_ids),
    "another delegator": another_agent("delegating"), "another executor": another_agent("executing"),
    "another data hash": another_of("task_data_hash", HASHES),
}
TASK_LOCK_FLAWS: dict[str, Flaw] = {
    "lock for another id": another_of("transfer_id", TRANSFER_IDS), "lock amount + 1": add_one("amount"),
    "lock timeout + 1": add_one("timeout_ms"),
}
"""Flaws of a task's lock: it no longer pays for its task (drawn instead of a task flaw)."""
PROOF_FLAWS: dict[str, Flaw] = {
    "none": none, "quality above MAX_QUALITY_BP": set_to("quality_bp", MAX_QUALITY_BP + 1),
    "quality + 1": add_one("quality_bp"), "quality - 1": less_one("quality_bp"),
    "execution time at its maximum": set_to("execution_time_ms", MAX_EXECUTION_TIME_MS),
    "execution time above its maximum": set_to("execution_time_ms", MAX_EXECUTION_TIME_MS + 1),
    "execution time + 1": add_one("execution_time_ms"), "another result hash": another_of("result_hash", HASHES),
    "another executing agent": another_agent("executing"),
    "another executing agent on the same platform": another_agent_same_platform("executing"),
    "an unknown task": another_of("task_id", TRANSFER_IDS),
}
REPUTATION_FLAWS: dict[str, Flaw] = {
    "none": none, "quality above MAX_QUALITY_BP": set_to("quality_bp", MAX_QUALITY_BP + 1),
    "reputation above MAX_REPUTATION_BP": set_to("reputation_bp", MAX_REPUTATION_BP + 1),
    "quality + 1": add_one("quality_bp"), "quality - 1": less_one("quality_bp"),
    "reputation + 1": add_one("reputation_bp"), "reputation - 1": less_one("reputation_bp"),
    "another platform": another_of("platform", PLATFORMS), "another reporter": another_of("reporter_platform", PLATFORMS),
    "another task": another_of("task_id", TRANSFER_IDS), "another update id": another_of("update_id", UPDATE_IDS),
    "a failed id": failed_id("update_id", lambda s: s.failed_update_ids),
}


SETTLE_TARGETS: dict[str, Callable[[LedgerState], list[str]]] = {
    "an open plain transfer": lambda s: [x for x, t in s.transfers.items()
                                         if t.status == TransferStatus.LOCKED and not t.task_linked],
    "a settled plain transfer": lambda s: [x for x, t in s.transfers.items()
                                           if t.status != TransferStatus.LOCKED and not t.task_linked],
    "a task's lock": lambda s: [x for x, t in s.transfers.items() if t.task_linked],
    "any id": lambda s: list(TRANSFER_IDS),
}
"""What a COMMIT or ROLLBACK under test names (any id of the pool when the state has none of the kind)."""
SETTLE_FLAWS: tuple[str, ...] = tuple(f"{target}{by}" for target in SETTLE_TARGETS
                                      for by in ("", " by another platform"))


def resubmitted(d: Draw, records: dict[str, Any], names: Sequence[str], key: str | None = None) -> Values | None:
    """One of the records, as the transaction that made it (its dictionary key as the
    field `key`, if given); None when there is none."""
    if not records:
        return None
    chosen = d.pick(sorted(records))
    values = {name: getattr(records[chosen], name) for name in names}
    if key is not None:
        values[key] = chosen
    return values


LOCK_FIELDS = ("transfer_id", "source_platform", "source_agent", "dest_platform", "dest_agent", "amount",
               "timeout_ms")
TASK_FIELDS = ("task_id", "delegating_platform", "delegating_agent", "executing_platform", "executing_agent", "cost",
               "quality_threshold_bp", "timeout_ms", "task_data_hash")


def lock_under_test(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
    values = resubmit and resubmitted(d, d.state.transfers, LOCK_FIELDS) or plausible_lock(d)
    LOCK_FLAWS[flaw](d, values)
    return [unsigned(AtpTransferLock, values)]


def settle_under_test(kind: type[Any]) -> Callable[[Draw, str], list[Any]]:
    def draw(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
        target, _, by = flaw.partition(" by ")
        transfer_id = str(d.pick(sorted(SETTLE_TARGETS[target](d.state) or TRANSFER_IDS)))
        transfer = d.state.transfers.get(transfer_id)
        platform = transfer.source_platform if transfer is not None else d.pick(PLATFORMS)
        if by:
            platform = d.pick([p for p in PLATFORMS if p != platform])
        return [unsigned(kind, {"transfer_id": transfer_id, "platform": platform})]

    return draw


def balance_set_under_test(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
    values = resubmit and resubmitted(d, d.state.balance_sets, ("set_id", "agent", "balance")) or \
        plausible_balance_set(d)
    BALANCE_SET_FLAWS[flaw](d, values)
    return [unsigned(BalanceSet, values)]


def task_pair_under_test(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
    """The task with its paying lock; a task flaw changes the task (and so its lock), a
    lock flaw the lock alone."""
    task = resubmit and resubmitted(d, d.state.tasks, TASK_FIELDS) or plausible_task(d)
    if flaw in TASK_LOCK_FLAWS:
        lock = lock_paying_for(task)
        TASK_LOCK_FLAWS[flaw](d, lock)
    else:
        TASK_FLAWS[flaw](d, task)
        lock = lock_paying_for(task)
    return [unsigned(FederationTask, task), unsigned(AtpTransferLock, lock)]


def proof_under_test(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
    proven = {k: task.proof for k, task in d.state.tasks.items() if task.proof is not None}
    names = ("executing_agent", "quality_bp", "execution_time_ms", "result_hash")
    values = resubmitted(d, proven, names, "task_id") if resubmit else None
    if values is None:
        values = plausible_proof(d)
    set_agent(values, "executing", values["executing_agent"])
    PROOF_FLAWS[flaw](d, values)
    return [unsigned(ExecutionProof, values)]


def reputation_update_under_test(d: Draw, flaw: str, resubmit: bool) -> list[Any]:
    names = ("update_id", "task_id", "platform", "quality_bp", "reputation_bp", "reporter_platform")
    values = resubmit and resubmitted(d, d.state.reputation_updates, names) or plausible_reputation_update(d)
    REPUTATION_FLAWS[flaw](d, values)
    return [unsigned(ReputationUpdate, values)]


@dataclass(frozen=True)
class UnderTest:
    """How a case draws the transaction of one transition (a task and its lock for
    `task_pair`), unsigned: with a named flaw ("none": none), and either a plausible
    new one or (`resubmit`) one the state holds, as it was made (a plausible one when
    the state holds none)."""

    draw: Callable[[Draw, str, bool], list[Any]]
    flaws: tuple[str, ...]
    resubmits: tuple[bool, ...] = (False, True)


UNDER_TEST: dict[str, UnderTest] = {
    "lock": UnderTest(lock_under_test, tuple(LOCK_FLAWS)),
    "commit": UnderTest(settle_under_test(AtpTransferCommit), SETTLE_FLAWS, (False,)),
    "rollback": UnderTest(settle_under_test(AtpTransferRollback), SETTLE_FLAWS, (False,)),
    "balance_set": UnderTest(balance_set_under_test, tuple(BALANCE_SET_FLAWS)),
    "task_pair": UnderTest(task_pair_under_test, tuple(TASK_FLAWS) + tuple(TASK_LOCK_FLAWS)),
    "execution_proof": UnderTest(proof_under_test, tuple(PROOF_FLAWS)),
    "reputation_update": UnderTest(reputation_update_under_test, tuple(REPUTATION_FLAWS)),
}
"""Each transaction transition of the encoding, with every flaw its transaction may carry."""

AUTHORIZED_SIGNER: dict[type[Any], str] = {
    AtpTransferLock: "source_platform", AtpTransferCommit: "platform", AtpTransferRollback: "platform",
    FederationTask: "delegating_platform", ExecutionProof: "executing_platform", ReputationUpdate: "reporter_platform",
}


def signed_by_its_platform(tx: Any) -> Any:
    """Signed for real by the platform the transaction names as its author (the
    authority for a BALANCE_SET), so that the spec's signature check passes."""
    signer = AUTHORITY if isinstance(tx, BalanceSet) else getattr(tx, AUTHORIZED_SIGNER[type(tx)])
    return signed(tx, signer, CHAIN_ID)
