"""Random block sequences against the spec, judged by the independent auditor.

A hypothesis `RuleBasedStateMachine` builds blocks of real signed transactions on
a small genesis (4 platforms, 5 agents, balances of tens of units), applies them
with `spec.ledger.apply_block`, and after every block checks:

* the block code (and, for a static failure, the failing index and code) is the
  one `tests/auditor.py` predicts, and a rejected block leaves the state as it was;
* every transaction's code is in the auditor's allowed set, and the expiries and
  settlements are the ones it predicts;
* balances, locks, transfers, tasks, records, reputations and failed ids equal
  the auditor's state;
* `spec.invariants.check_step` finds no violation.

Ids come from small pools so ids collide, and a block may resubmit an earlier
transaction identically or with one field changed. Block timestamps are drawn
around the deadlines of open locks (deadline - 1, deadline, deadline + 1) or a
small or large step past the last block, so the expiry tie is exercised.

Runs are deterministic (derandomize) and print a reproduction blob on failure.
The CI setting is `CI_EXAMPLES` examples of `STEPS` blocks; set
FEDSPEC_STATEFUL_EXAMPLES to run more locally.

The negative controls run the same machine against deliberately broken ledgers
and require that it fails.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, ClassVar

import pytest
from auditor import (
    AUTHORITY,
    BALANCE_SET,
    COMMIT,
    FIELDS,
    LOCK,
    PROOF,
    REPUTATION,
    ROLLBACK,
    TASK,
    Auditor,
    HeaderView,
    Model,
    Outcome,
    Tx,
    authorized_signer,
    make_tx,
    next_reputation,
)
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from spec_mutants import MUTANTS

import spec.ledger as ledger
from spec.codes import ResultCode
from spec.constants import (
    MAX_AMOUNT,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
)
from spec.invariants import check_step
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.encoding import block_hash
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, sign_transaction
from spec.wire.types import (
    TRANSACTION_TYPES,
    AnyTransaction,
    Block,
    BlockHeader,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
)

# --- settings ------------------------------------------------------------------------------------------
CI_EXAMPLES = 250
STEPS = 25
EXAMPLES = int(os.environ.get("FEDSPEC_STATEFUL_EXAMPLES", str(CI_EXAMPLES)))

settings.register_profile(
    "fedspec-stateful",
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
STATEFUL_SETTINGS = settings.get_profile("fedspec-stateful")

NEGATIVE_SETTINGS = settings(STATEFUL_SETTINGS, max_examples=300, phases=[Phase.generate])
"""The negative controls: no shrinking (only the failure matters); each stops at its first failure."""

# --- genesis ---------------------------------------------------------------------------------------------
CHAIN_ID = "fedspec-stateful"
OTHER_CHAIN_ID = "fedspec-elsewhere"
GENESIS_TIME_MS = 1_700_000_000_000

PLATFORM_REPUTATIONS: dict[str, int] = {"Thor": 5000, "Sprout": 7000, "Legion": 5000, "Nova": 9990}
PLATFORMS: tuple[str, ...] = tuple(PLATFORM_REPUTATIONS)
ACCOUNTS: dict[str, tuple[str, int]] = {
    "lct:web4:agent:alice": ("Thor", 100),
    "lct:web4:agent:bob": ("Sprout", 40),
    "lct:web4:agent:carol": ("Legion", 60),
    "lct:web4:agent:dave": ("Legion", 0),
    "lct:web4:agent:erin": ("Nova", 25),
}
AGENTS: tuple[str, ...] = tuple(ACCOUNTS)
HOST: dict[str, str] = {agent: host for agent, (host, _balance) in ACCOUNTS.items()}
GHOST_PLATFORM = "Ghost"
GHOST_AGENT = "lct:web4:agent:mallory"

SEEDS: dict[str, bytes] = {name: seed_from_text("fedspec stateful " + name) for name in (*PLATFORMS, AUTHORITY)}

GENESIS = Genesis(
    chain_id=CHAIN_ID,
    genesis_time_ms=GENESIS_TIME_MS,
    authority_public_key=public_key_hex(SEEDS[AUTHORITY]),
    platforms=tuple(
        GenesisPlatform(name=name, public_key=public_key_hex(SEEDS[name]), reputation_bp=reputation)
        for name, reputation in PLATFORM_REPUTATIONS.items()
    ),
    accounts=tuple(
        GenesisAccount(agent=agent, platform=host, balance=balance) for agent, (host, balance) in ACCOUNTS.items()
    ),
)
CHAIN = chain_from_genesis(GENESIS)
GENESIS_STATE = state_from_genesis(GENESIS)

# --- value pools --------------------------------------------------------------------------------------------
TRANSFER_IDS = tuple(f"t{n}" for n in range(10))
"""Transfer and task ids: one namespace, few ids, so they collide."""
SET_IDS = tuple(f"s{n}" for n in range(6))
UPDATE_IDS = tuple(f"u{n}" for n in range(8))
AMOUNTS = (1, 5, 10, 20, 40, 60, 100)
TIMEOUTS = (1, 2, 5, 20, 100, 1000)
THRESHOLDS = (0, 5000, 7000, 10000)
QUALITIES = (0, 4999, 5000, 7000, 8500, 10000)
EXECUTION_TIMES = (0, 10, 500)
HASHES = ("aa" * 32, "bb" * 32)
BALANCES = (0, 10, 50, 100, 500)

VALID_VALUES: dict[str, tuple[Any, ...]] = {
    "transfer_id": TRANSFER_IDS,
    "task_id": TRANSFER_IDS,
    "set_id": SET_IDS,
    "update_id": UPDATE_IDS,
    "source_platform": PLATFORMS,
    "dest_platform": PLATFORMS,
    "platform": PLATFORMS,
    "delegating_platform": PLATFORMS,
    "executing_platform": PLATFORMS,
    "reporter_platform": PLATFORMS,
    "source_agent": AGENTS,
    "dest_agent": AGENTS,
    "agent": AGENTS,
    "delegating_agent": AGENTS,
    "executing_agent": AGENTS,
    "amount": AMOUNTS + (MAX_AMOUNT,),
    "cost": AMOUNTS,
    "timeout_ms": TIMEOUTS + (MAX_TIMEOUT_MS,),
    "quality_threshold_bp": THRESHOLDS,
    "quality_bp": QUALITIES,
    "execution_time_ms": EXECUTION_TIMES + (MAX_EXECUTION_TIME_MS,),
    "reputation_bp": (0, 4500, 5000, 6300, 9000, MAX_REPUTATION_BP),
    "task_data_hash": HASHES,
    "result_hash": HASHES,
    "balance": BALANCES + (MAX_SUPPLY,),
}
"""Statically valid values of every field (by itself), for retries with one field changed."""

OTHER = "<another known value>"
SELF = "<the counterpart agent>"
INVALID_VALUES: dict[str, tuple[Any, ...]] = {
    "source_platform": (GHOST_PLATFORM, OTHER),
    "dest_platform": (GHOST_PLATFORM, OTHER),
    "platform": (GHOST_PLATFORM,),
    "delegating_platform": (GHOST_PLATFORM, OTHER),
    "executing_platform": (GHOST_PLATFORM, OTHER),
    "reporter_platform": (GHOST_PLATFORM,),
    "source_agent": (GHOST_AGENT, OTHER, SELF),
    "dest_agent": (GHOST_AGENT, OTHER, SELF),
    "agent": (GHOST_AGENT,),
    "delegating_agent": (GHOST_AGENT, OTHER, SELF),
    "executing_agent": (GHOST_AGENT, OTHER, SELF),
    "amount": (0, MAX_AMOUNT + 1),
    "cost": (0, MAX_AMOUNT + 1),
    "timeout_ms": (0, MAX_TIMEOUT_MS + 1),
    "quality_threshold_bp": (MAX_THRESHOLD_BP + 1,),
    "quality_bp": (MAX_QUALITY_BP + 1,),
    "execution_time_ms": (MAX_EXECUTION_TIME_MS + 1,),
    "reputation_bp": (MAX_REPUTATION_BP + 1,),
    "balance": (MAX_SUPPLY + 1,),
}
"""Values that break a field statically: unknown, OTHER (a known platform that does
not host the agent, or a known agent its platform does not host), SELF (a self
transfer), out of bounds. Every static code is reachable from here."""

COUNTERPART: dict[str, str] = {
    "source_agent": "dest_agent",
    "dest_agent": "source_agent",
    "delegating_agent": "executing_agent",
    "executing_agent": "delegating_agent",
}

AGENT_PLATFORM: dict[str, str] = {
    "source_agent": "source_platform",
    "dest_agent": "dest_platform",
    "delegating_agent": "delegating_platform",
    "executing_agent": "executing_platform",
}
"""An agent field and the platform field that must host it."""

CORRUPTIONS = ("height", "previous_hash", "timestamp_repeat", "timestamp_max", "proposer", "root", "too_many")

# --- signing (cached: ed25519 signing is the slow part) ------------------------------------------------------
WIRE_TYPES: dict[str, Any] = {cls.model_fields["type"].default: cls for cls in TRANSACTION_TYPES}
PLACEHOLDER_SIGNATURE = "00" * 64


@lru_cache(maxsize=200_000)
def signed(tx: Tx) -> AnyTransaction:
    """The real wire transaction for `tx`, signed as `tx` says."""
    cls = WIRE_TYPES[tx.type]
    data = dict(tx.fields)
    unsigned = cls(**data, signature=PLACEHOLDER_SIGNATURE)
    seed = SEEDS.get(tx.signer)
    if seed is None:
        seed = seed_from_text("fedspec stateful unknown " + tx.signer)
    chain_id = CHAIN_ID if tx.chain_ok else OTHER_CHAIN_ID
    result: AnyTransaction = cls(**data, signature=sign_transaction(seed, chain_id, unsigned))
    return result


def lock_for(task: Tx) -> Tx:
    """The lock that matches a task (same id, agents, platforms, cost and timeout)."""
    signer = task.signer if task.signer == authorized_signer(task) else None
    return make_tx(
        LOCK,
        signer=signer,
        transfer_id=task.get("task_id"),
        source_platform=task.get("delegating_platform"),
        source_agent=task.get("delegating_agent"),
        dest_platform=task.get("executing_platform"),
        dest_agent=task.get("executing_agent"),
        amount=task.get("cost"),
        timeout_ms=task.get("timeout_ms"),
    )


def with_field(tx: Tx, name: str, value: Any) -> Tx:
    """`tx` with one field set (and, for an agent, its platform field set to the
    agent's host when known), re-signed by the authorized signer if it was signed so."""
    changes = {name: value}
    if name in AGENT_PLATFORM and value in HOST:
        changes[AGENT_PLATFORM[name]] = HOST[value]
    was_authorized = tx.signer == authorized_signer(tx)
    changed = tx.replaced(**changes)
    if was_authorized:
        changed = changed._replace(signer=authorized_signer(changed))
    return changed


# --- comparing the spec with the auditor -----------------------------------------------------------------
def state_differences(state: LedgerState, m: Model) -> list[str]:
    """Every way the spec's state differs from the auditor's model."""
    diffs: list[str] = []

    def same(what: str, spec_value: Any, model_value: Any) -> None:
        if spec_value != model_value:
            diffs.append(f"{what}: spec {spec_value!r}, auditor {model_value!r}")

    same("height", state.height, m.height)
    same("last_block_hash", state.last_block_hash, m.last_hash)
    same("last_timestamp_ms", state.last_timestamp_ms, m.last_ts)
    same("accounts", sorted(state.accounts), sorted(m.totals))
    for agent, account in state.accounts.items():
        if agent in m.totals:
            same(f"{agent} total", account.total, m.totals[agent])
            same(f"{agent} locked", account.locked, m.locked(agent))
    same("transfer ids", sorted(state.transfers), sorted(m.locks))
    for transfer_id, t in state.transfers.items():
        lock = m.locks.get(transfer_id)
        if lock is None:
            continue
        spec_view = (
            t.source_platform, t.source_agent, t.dest_platform, t.dest_agent, t.amount, t.timeout_ms,
            t.expires_at_ms, t.task_linked, t.status.value, None if t.settled_by is None else t.settled_by.value,
        )
        model_view = (
            lock.source_platform, lock.source_agent, lock.dest_platform, lock.dest_agent, lock.amount,
            lock.timeout_ms, lock.expires_at_ms, lock.task_linked, lock.status, lock.settled_by,
        )
        same(f"transfer {transfer_id}", spec_view, model_view)
    same("task ids", sorted(state.tasks), sorted(m.tasks))
    for task_id, task in state.tasks.items():
        record = m.tasks.get(task_id)
        if record is None:
            continue
        proof = task.proof
        spec_task = (
            task.delegating_platform, task.delegating_agent, task.executing_platform, task.executing_agent,
            task.cost, task.quality_threshold_bp, task.timeout_ms, task.task_data_hash, task.deadline_ms,
            task.status.value,
            None if proof is None else (proof.executing_agent, proof.quality_bp, proof.execution_time_ms, proof.result_hash),
            task.settled_quality_bp, task.reputation_update_id,
        )
        model_task = (
            record.delegating_platform, record.delegating_agent, record.executing_platform, record.executing_agent,
            record.cost, record.quality_threshold_bp, record.timeout_ms, record.task_data_hash, record.deadline_ms,
            record.status, record.proof, record.settled_quality_bp, record.reputation_update_id,
        )
        same(f"task {task_id}", spec_task, model_task)
    same(
        "balance sets",
        {set_id: (r.agent, r.balance) for set_id, r in state.balance_sets.items()},
        m.balance_sets,
    )
    same(
        "reputation updates",
        {
            update_id: (r.task_id, r.platform, r.quality_bp, r.reputation_bp, r.reporter_platform)
            for update_id, r in state.reputation_updates.items()
        },
        m.reputation_updates,
    )
    same("reputations", state.reputations, m.reputations)
    same("failed transfer ids", sorted(state.failed_transfer_ids), sorted(m.failed_transfer_ids))
    same("failed set ids", sorted(state.failed_set_ids), sorted(m.failed_set_ids))
    same("failed update ids", sorted(state.failed_update_ids), sorted(m.failed_update_ids))
    return diffs


def receipt_differences(receipt: BlockReceipt, outcome: Outcome, txs: list[Tx]) -> list[str]:
    diffs: list[str] = []
    if receipt.code != outcome.code:
        diffs.append(f"block code: spec {receipt.code.value}, auditor {outcome.code.value}")
        return diffs
    if (receipt.invalid_index, receipt.invalid_code) != (outcome.invalid_index, outcome.invalid_code):
        diffs.append(
            f"static failure: spec index {receipt.invalid_index} {receipt.invalid_code}, "
            f"auditor index {outcome.invalid_index} {outcome.invalid_code}"
        )
    if not receipt.accepted:
        return diffs
    if len(receipt.transactions) != len(outcome.allowed):
        diffs.append(f"{len(receipt.transactions)} receipts for {len(outcome.allowed)} transactions")
        return diffs
    for tx_receipt, allowed, settled, tx in zip(receipt.transactions, outcome.allowed, outcome.settlements, txs, strict=True):
        if tx_receipt.code not in allowed:
            diffs.append(
                f"tx {tx_receipt.index} {tx.type} {dict(tx.fields)}: spec {tx_receipt.code.value}, "
                f"auditor allows {sorted(code.value for code in allowed)}"
            )
        spec_settled = tuple((s.transfer_id, s.outcome.value, s.cause.value) for s in tx_receipt.settlements)
        if spec_settled != settled:
            diffs.append(f"tx {tx_receipt.index} settlements: spec {spec_settled}, auditor {settled}")
    spec_expiries = tuple(s.transfer_id for s in receipt.expiries)
    if spec_expiries != outcome.expiries:
        diffs.append(f"expiries: spec {spec_expiries}, auditor {outcome.expiries}")
    return diffs


# --- the state machine -----------------------------------------------------------------------------------------
Unit = tuple[Tx, ...]
"""Transactions drawn together: one transaction, a task with its lock (or a broken
pair), a lock with its COMMIT or ROLLBACK, or a task's whole life in one block."""


class LedgerMachine(RuleBasedStateMachine):
    examples_run: ClassVar[int] = 0
    blocks_run: ClassVar[int] = 0
    recorder: ClassVar[list[tuple[LedgerState, Block]] | None] = None
    """When a list, every block applied is appended with its pre-state (for the benchmark)."""

    def __init__(self) -> None:
        super().__init__()
        type(self).examples_run += 1
        self.state = GENESIS_STATE
        self.auditor = Auditor(PLATFORM_REPUTATIONS, ACCOUNTS, GENESIS_TIME_MS)
        self.history: list[Unit] = []
        """Units of accepted blocks (most recent last)."""
        self.applied: list[Unit] = []
        """The units among them whose every transaction reported ok."""

    # -- drawing -------------------------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        return self.auditor.model

    @staticmethod
    def pick(data: st.DataObject, options: tuple[Any, ...] | list[Any]) -> Any:
        return data.draw(st.sampled_from(tuple(options)))

    @staticmethod
    def one_in(data: st.DataObject, n: int) -> bool:
        return data.draw(st.integers(0, n - 1)) == n - 1

    def draw_timestamp(self, data: st.DataObject) -> int:
        last = self.model.last_ts
        deadlines = self.model.pending_deadlines()
        how = data.draw(st.integers(0, 5))
        if deadlines and how <= 2:
            timestamp = self.pick(data, deadlines) + self.pick(data, (-1, 0, 1))
        elif how <= 4:
            timestamp = last + self.pick(data, (1, 2, 3, 10, 50, 200))
        elif not self.one_in(data, 40):
            timestamp = last + self.pick(data, (5_000, MAX_TIMEOUT_MS + 1))
        else:
            # The last timestamp there can be: every later block exceeds the maximum.
            timestamp = MAX_TIMESTAMP_MS
        return max(timestamp, last + 1)

    def draw_agent_pair(self, data: st.DataObject) -> tuple[str, str]:
        first = self.pick(data, AGENTS)
        second = self.pick(data, [agent for agent in AGENTS if agent != first])
        return first, second

    def draw_new_id(self, data: st.DataObject, pool: tuple[str, ...], used: set[str]) -> str:
        """Mostly an id not used yet; sometimes a used one (a collision) or any id of the pool."""
        fresh = [i for i in pool if i not in used]
        if fresh and not self.one_in(data, 4):
            return str(self.pick(data, fresh[:3]))
        if used and not self.one_in(data, 3):
            return str(self.pick(data, sorted(used)))
        return str(self.pick(data, pool))

    def draw_known_id(self, data: st.DataObject, preferred: list[str]) -> str:
        """Mostly one of `preferred` (records in a useful state); sometimes any transfer id."""
        if preferred and not self.one_in(data, 4):
            return str(self.pick(data, sorted(preferred)))
        return str(self.pick(data, TRANSFER_IDS))

    def used_transfer_ids(self) -> set[str]:
        return set(self.model.locks) | self.model.failed_transfer_ids

    def draw_lock(self, data: st.DataObject) -> Unit:
        source, dest = self.draw_agent_pair(data)
        amount = self.pick(data, AMOUNTS + (MAX_AMOUNT,) if self.one_in(data, 8) else AMOUNTS)
        return (make_tx(
            LOCK,
            transfer_id=self.draw_new_id(data, TRANSFER_IDS, self.used_transfer_ids()),
            source_platform=HOST[source],
            source_agent=source,
            dest_platform=HOST[dest],
            dest_agent=dest,
            amount=amount,
            timeout_ms=self.pick(data, TIMEOUTS + (MAX_TIMEOUT_MS,)),
        ),)

    def draw_settle(self, data: st.DataObject, tx_type: str) -> Unit:
        plain = [i for i, lock in self.model.locks.items() if not lock.task_linked]
        open_plain = [i for i in plain if self.model.locks[i].status == "LOCKED"]
        transfer_id = self.draw_known_id(data, open_plain if open_plain and not self.one_in(data, 3) else plain)
        lock = self.model.locks.get(transfer_id)
        if lock is not None and not self.one_in(data, 5):
            platform = lock.source_platform
        else:
            platform = self.pick(data, PLATFORMS)
        return (make_tx(tx_type, transfer_id=transfer_id, platform=platform),)

    def draw_balance_set(self, data: st.DataObject) -> Unit:
        balance = self.pick(data, BALANCES + (MAX_SUPPLY,) if self.one_in(data, 8) else BALANCES)
        used = set(self.model.balance_sets) | self.model.failed_set_ids
        return (make_tx(
            BALANCE_SET, set_id=self.draw_new_id(data, SET_IDS, used), agent=self.pick(data, AGENTS), balance=balance
        ),)

    def draw_task(self, data: st.DataObject) -> Unit:
        delegating, executing = self.draw_agent_pair(data)
        task = make_tx(
            TASK,
            task_id=self.draw_new_id(data, TRANSFER_IDS, self.used_transfer_ids()),
            delegating_platform=HOST[delegating],
            delegating_agent=delegating,
            executing_platform=HOST[executing],
            executing_agent=executing,
            cost=self.pick(data, AMOUNTS),
            quality_threshold_bp=self.pick(data, THRESHOLDS),
            timeout_ms=self.pick(data, TIMEOUTS),
            task_data_hash=self.pick(data, HASHES),
        )
        lock = lock_for(task)
        shape = data.draw(st.integers(0, 15))
        if shape <= 12:
            return (task, lock)
        if shape == 13:
            # The lock differs from the task in one field.
            name = self.pick(data, FIELDS[LOCK][1:])
            return (task, lock.replaced(**{name: self.pick(data, VALID_VALUES[name])}))
        if shape == 14:
            return (task,)
        if self.one_in(data, 2):
            return (lock, task)
        other = self.pick(data, [i for i in TRANSFER_IDS if i != task.get("task_id")])
        return (task, lock.replaced(transfer_id=other))

    def draw_proof(self, data: st.DataObject) -> Unit:
        pending = [i for i, task in self.model.tasks.items() if task.status == "PENDING"]
        task_id = self.draw_known_id(data, pending if pending and not self.one_in(data, 4) else list(self.model.tasks))
        task = self.model.tasks.get(task_id)
        if task is not None and not self.one_in(data, 6):
            platform = task.executing_platform
            agent = task.executing_agent
            if self.one_in(data, 6):
                agent = self.pick(data, [a for a in AGENTS if HOST[a] == platform])
            threshold = task.quality_threshold_bp
            quality = self.pick(data, (0, max(threshold - 1, 0), threshold, min(threshold + 1, MAX_QUALITY_BP), MAX_QUALITY_BP))
            if task.proof is not None and self.one_in(data, 2):
                # The same proof again, possibly with one field changed.
                agent, quality, execution_time, result_hash = task.proof
                name = self.pick(data, ("none", "quality_bp", "execution_time_ms", "result_hash"))
                if name == "quality_bp":
                    quality = self.pick(data, QUALITIES)
                elif name == "execution_time_ms":
                    execution_time = self.pick(data, EXECUTION_TIMES)
                elif name == "result_hash":
                    result_hash = self.pick(data, HASHES)
                return (make_tx(
                    PROOF, task_id=task_id, executing_platform=HOST[agent], executing_agent=agent,
                    quality_bp=quality, execution_time_ms=execution_time, result_hash=result_hash,
                ),)
        else:
            agent = self.pick(data, AGENTS)
            platform = HOST[agent]
            quality = self.pick(data, QUALITIES)
        return (make_tx(
            PROOF,
            task_id=task_id,
            executing_platform=platform,
            executing_agent=agent,
            quality_bp=quality,
            execution_time_ms=self.pick(data, EXECUTION_TIMES),
            result_hash=self.pick(data, HASHES),
        ),)

    def draw_reputation(self, data: st.DataObject) -> Unit:
        settled = [i for i, task in self.model.tasks.items() if task.settled_quality_bp is not None]
        unrated = [i for i in settled if self.model.tasks[i].reputation_update_id is None]
        task_id = self.draw_known_id(data, unrated if unrated and not self.one_in(data, 4) else list(self.model.tasks))
        task = self.model.tasks.get(task_id)
        if task is not None and not self.one_in(data, 6):
            platform = task.executing_platform
            settled_quality = task.settled_quality_bp
            quality = settled_quality if settled_quality is not None else self.pick(data, QUALITIES)
        else:
            platform = self.pick(data, PLATFORMS)
            quality = self.pick(data, QUALITIES)
        if self.one_in(data, 8):
            quality = quality + 1 if quality < MAX_QUALITY_BP else quality - 1
        reputation = next_reputation(self.model.reputations[platform], quality)
        if self.one_in(data, 8):
            reputation = reputation + 1 if reputation < MAX_REPUTATION_BP else reputation - 1
        used = set(self.model.reputation_updates) | self.model.failed_update_ids
        return (make_tx(
            REPUTATION,
            update_id=self.draw_new_id(data, UPDATE_IDS, used),
            task_id=task_id,
            platform=platform,
            quality_bp=quality,
            reputation_bp=reputation,
            reporter_platform=self.pick(data, PLATFORMS),
        ),)

    def draw_retry(self, data: st.DataObject) -> Unit:
        """An earlier submission again: identical, or with one field changed."""
        source = self.applied if self.applied and not self.one_in(data, 3) else self.history
        unit: Unit = self.pick(data, source)
        if self.one_in(data, 2):
            return unit
        head = unit[0]
        name = self.pick(data, FIELDS[head.type][1:])
        changed = with_field(head, name, self.pick(data, VALID_VALUES[name]))
        if head.type == TASK:
            return (changed, lock_for(changed))
        return (changed,)

    def break_unit(self, data: st.DataObject, unit: Unit) -> Unit:
        """Make one transaction of the unit statically invalid (or try to), by one recipe:
        a wrong signer, another chain, or one field set to an invalid value."""
        position = self.pick(data, range(len(unit)))
        tx = unit[position]
        recipes: list[tuple[str, Any]] = [("signer", None), ("chain", None)]
        for name in FIELDS[tx.type]:
            for value in INVALID_VALUES.get(name, ()):
                if value != SELF or COUNTERPART[name] in FIELDS[tx.type]:
                    recipes.append((name, value))
        name, value = self.pick(data, recipes)
        if name == "signer":
            wrong = [signer for signer in (*PLATFORMS, AUTHORITY, GHOST_PLATFORM) if signer != authorized_signer(tx)]
            broken = tx._replace(signer=self.pick(data, wrong))
        elif name == "chain":
            broken = tx._replace(chain_ok=False)
        else:
            changes = {name: value}
            if value == OTHER:
                known = PLATFORMS if name.endswith("platform") else AGENTS
                changes[name] = self.pick(data, [v for v in known if v != tx.get(name)])
            elif value == SELF:
                other = COUNTERPART[name]
                changes[name] = tx.get(other)
                changes[AGENT_PLATFORM[name]] = tx.get(AGENT_PLATFORM[other])
            broken = tx.replaced(**changes)
            if tx.signer == authorized_signer(tx):
                broken = broken._replace(signer=authorized_signer(broken))
        if tx.type == TASK and len(unit) == 2 and unit[1].type == LOCK and self.one_in(data, 2):
            return (broken, lock_for(broken))
        return unit[:position] + (broken,) + unit[position + 1:]

    def draw_plain_flow(self, data: st.DataObject) -> Unit:
        """A lock and its COMMIT or ROLLBACK in the same block."""
        (lock,) = self.draw_lock(data)
        kind = self.pick(data, (COMMIT, ROLLBACK))
        return (lock, make_tx(kind, transfer_id=lock.get("transfer_id"), platform=lock.get("source_platform")))

    def draw_task_flow(self, data: st.DataObject) -> Unit:
        """A task, its lock, its proof and (sometimes) its reputation update in one block."""
        drawn = self.draw_task(data)
        if len(drawn) != 2 or drawn[0].type != TASK:
            return drawn
        task, lock = drawn
        threshold = task.get("quality_threshold_bp")
        quality = self.pick(data, (0, max(threshold - 1, 0), threshold, MAX_QUALITY_BP))
        proof = make_tx(
            PROOF,
            task_id=task.get("task_id"),
            executing_platform=task.get("executing_platform"),
            executing_agent=task.get("executing_agent"),
            quality_bp=quality,
            execution_time_ms=self.pick(data, EXECUTION_TIMES),
            result_hash=self.pick(data, HASHES),
        )
        if self.one_in(data, 2):
            return (task, lock, proof)
        platform = task.get("executing_platform")
        used = set(self.model.reputation_updates) | self.model.failed_update_ids
        update = make_tx(
            REPUTATION,
            update_id=self.draw_new_id(data, UPDATE_IDS, used),
            task_id=task.get("task_id"),
            platform=platform,
            quality_bp=quality,
            reputation_bp=next_reputation(self.model.reputations[platform], quality),
            reporter_platform=self.pick(data, PLATFORMS),
        )
        return (task, lock, proof, update)

    def draw_unit(self, data: st.DataObject) -> Unit:
        kinds = [
            "lock", "commit", "rollback", "balance_set", "task", "task", "proof", "proof", "reputation",
            "plain_flow", "task_flow",
        ]
        if self.history:
            kinds += ["retry", "retry"]
        kind = self.pick(data, kinds)
        if kind == "lock":
            unit = self.draw_lock(data)
        elif kind == "commit":
            unit = self.draw_settle(data, COMMIT)
        elif kind == "rollback":
            unit = self.draw_settle(data, ROLLBACK)
        elif kind == "balance_set":
            unit = self.draw_balance_set(data)
        elif kind == "task":
            unit = self.draw_task(data)
        elif kind == "proof":
            unit = self.draw_proof(data)
        elif kind == "reputation":
            unit = self.draw_reputation(data)
        elif kind == "plain_flow":
            unit = self.draw_plain_flow(data)
        elif kind == "task_flow":
            unit = self.draw_task_flow(data)
        else:
            unit = self.draw_retry(data)
        if self.one_in(data, 12):
            unit = self.break_unit(data, unit)
        return unit

    # -- the rule ----------------------------------------------------------------------------------------------------
    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        timestamp = self.draw_timestamp(data)
        proposer = self.pick(data, PLATFORMS)
        units = [self.draw_unit(data) for _ in range(data.draw(st.integers(0, 4)))]
        if units and self.one_in(data, 6):
            # A submission of this very block again, identical or with one field changed.
            unit = self.pick(data, units)
            if unit[0].type == TASK or self.one_in(data, 2):
                units.append(unit)
            else:
                name = self.pick(data, FIELDS[unit[0].type][1:])
                units.append((with_field(unit[0], name, self.pick(data, VALID_VALUES[name])),))
        corruption = self.pick(data, CORRUPTIONS) if self.one_in(data, 25) else None
        self.run_block(timestamp, proposer, units, corruption)

    def run_block(self, timestamp: int, proposer: str, units: list[Unit], corruption: str | None) -> None:
        txs = [tx for unit in units for tx in unit]
        if corruption == "too_many":
            filler = make_tx(COMMIT, transfer_id="t0", platform="Thor")
            txs = [filler] * (MAX_BLOCK_TRANSACTIONS + 1)
        wire = tuple(signed(tx) for tx in txs)
        header = ledger.make_header(self.state, timestamp, proposer, wire)
        root_ok = True
        if corruption == "height":
            header = header.model_copy(update={"height": header.height + 1})
        elif corruption == "previous_hash":
            header = header.model_copy(update={"previous_hash": "ab" * 32})
        elif corruption == "timestamp_repeat":
            header = header.model_copy(update={"timestamp_ms": self.state.last_timestamp_ms})
        elif corruption == "timestamp_max":
            header = header.model_copy(update={"timestamp_ms": MAX_TIMESTAMP_MS + 1})
        elif corruption == "proposer":
            header = header.model_copy(update={"proposer": GHOST_PLATFORM})
        elif corruption == "root":
            header = header.model_copy(update={"transaction_root": "cd" * 32})
            root_ok = False
        header = BlockHeader.model_validate(header.model_dump())
        block = Block(header=header, transactions=wire)

        pre = self.state
        post, receipt = ledger.apply_block(CHAIN, pre, block)
        type(self).blocks_run += 1
        if type(self).recorder is not None:
            type(self).recorder.append((pre, block))

        view = HeaderView(
            height=header.height,
            previous_hash=header.previous_hash,
            timestamp_ms=header.timestamp_ms,
            proposer=header.proposer,
            root_ok=root_ok,
            block_hash=block_hash(header),
        )
        outcome = self.auditor.predict(view, txs)
        diffs = receipt_differences(receipt, outcome, txs)
        if receipt.accepted and not diffs:
            diffs += state_differences(post, outcome.model)
        if not receipt.accepted:
            assert post is pre, "a rejected block must return the state unchanged"
        assert not diffs, "spec and auditor disagree:\n  " + "\n  ".join(diffs)

        violations = check_step(CHAIN, pre, block, receipt, post)
        assert not violations, "invariant violations:\n  " + "\n  ".join(
            f"{v.invariant}: {v.message}" for v in violations
        )

        if receipt.accepted:
            self.state = post
            self.auditor.accept(outcome)
            self.history = (self.history + units)[-40:]
            position = 0
            for unit in units:
                if all(receipt.transactions[position + k].code == ResultCode.OK for k in range(len(unit))):
                    self.applied = (self.applied + [unit])[-40:]
                position += len(unit)


TestLedgerAgainstAuditor = LedgerMachine.TestCase
TestLedgerAgainstAuditor.settings = STATEFUL_SETTINGS


# --- negative controls: a broken ledger must be caught (the bugs: tests/spec_mutants.py) ----------------------
@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.__name__ for mutant in MUTANTS])
def test_negative_control_finds_broken_ledger(monkeypatch: pytest.MonkeyPatch, mutant: Any) -> None:
    mutant(monkeypatch)
    with pytest.raises(AssertionError, match="spec and auditor disagree|invariant violations"):
        run_state_machine_as_test(LedgerMachine, settings=NEGATIVE_SETTINGS)
