"""Ledger invariants: inductive invariants of the ledger's transition relation, for
any number of accounts, transfers and tasks and any amounts within the wire bounds.

The transition relation is `checker.proofs.ledger_model` (the spec's ledger rules,
function by function). One inductive invariant is the conjunction of every
conjunct below, grouped by the invariant of `spec.invariants` it makes up, plus
the `well_formed` group of auxiliary facts the others need. For each group and
each transition there is one obligation:

    the whole invariant in the pre-state ∧ the finite-sum facts ∧ the transition
        ⟹ the group's conjuncts in the post-state (and its two-state conjuncts),

and one for genesis (initiation). The `frame` obligations prove that each
transition changes accounts and transfers only at the indices it names, which is
what makes the ghost sums exact.

A conjunct over records holds for every index; the obligation's goal states it at a
fresh *witness* index (one per kind of record), which the counterexample prints.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import z3

from checker.proofs.ledger_model import (
    ACCOUNT,
    BY_COMMIT,
    BY_EXPIRY,
    BY_PROOF,
    BY_ROLLBACK,
    COMMITTED,
    COMPLETED,
    ENUM_NAMES,
    FAILED,
    LOCKED,
    MUTANTS,
    NO_CAUSE,
    OK,
    PENDING,
    ROLLED_BACK,
    TASK,
    TASK_EXPIRED,
    TRANSFER,
    TRANSFER_EXPIRED,
    TRANSITIONS,
    Encoding,
    Ledger,
    Step,
    choose,
    code_name,
    distinct_from_earlier,
    symbolic_ledger,
    symbolic_step,
    with_ghosts,
)
from checker.proofs.obligation import Obligation, model_bool, model_int
from spec.constants import (
    MAX_AMOUNT,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
)
from spec.invariants import (
    CONSERVATION,
    LOCK_ACCOUNTING,
    NO_DOUBLE_SPEND,
    SETTLE_ONCE,
    SETTLEMENT_CORRECTNESS,
    TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY,
)

TITLE = "Ledger invariants"

# --- broken variants ----------------------------------------------------------------------------------------
MUTANT_VARIANTS: dict[str, str] = {
    "lock_ignores_available": "A lock (plain or a task's) is accepted without checking the source's available ATP.",
    "lock_debits_source": "A lock also takes the amount off the source's total (the lock is paid twice: once "
                          "when locked, once when committed).",
    "lock_overwrites_existing": "A lock whose id is already a transfer replaces that transfer by a fresh LOCKED one.",
    "commit_keeps_lock": "Committing a lock moves the amount but leaves it counted in the source's locked ATP.",
    "commit_credits_without_debit": "Committing a lock credits the destination without debiting the source.",
    "rollback_forgets_unlock": "Ending a lock without payment (rollback, failed proof, expiry) leaves the amount "
                               "locked.",
    "release_refunds_amount": "Ending a lock without payment also credits the amount to the source, as if it had "
                              "been debited when locked.",
    "settle_twice": "COMMIT and ROLLBACK skip the lifecycle checks: a rolled-back or expired transfer can be "
                    "committed, a committed one rolled back.",
    "commit_of_task_lock_allowed": "COMMIT and ROLLBACK skip the task-link check: a task's lock can be settled "
                                   "without its proof.",
    "balance_set_below_locked": "BALANCE_SET may set a total below the account's locked ATP.",
    "balance_set_unchecked_supply": "BALANCE_SET may raise the supply above MAX_SUPPLY.",
    "reuses_failed_ids": "An id that failed on state can be used again (LOCK, task pair, BALANCE_SET, "
                         "REPUTATION_UPDATE skip id_already_failed).",
    "task_lock_not_linked": "A task pair records its lock as a plain transfer, not linked to the task.",
    "proof_ignores_threshold": "An execution proof pays the executor whatever its quality.",
    "proof_on_expired_task": "An execution proof is accepted for an expired task and settles its lock again.",
    "proof_settles_as_commit": "A paying proof records its lock as ended by COMMIT rather than by PROOF.",
    "reputation_update_twice": "A task's reputation can be updated a second time, under another update id.",
    "block_reward": "Each block credits one unit to a reward account, outside any BALANCE_SET.",
    "begin_block_skips_expiry": "A block starts applying transactions without running the expiry step.",
    "expiry_at_deadline": "A lock expires in the block whose timestamp equals its deadline (expires <= now), "
                          "where a proof is still on time.",
    "expiry_ignores_status": "The expiry step picks transfers by deadline alone, settled ones included.",
    "expiry_settles_as_rollback": "Expiry records the lock as ended by ROLLBACK rather than by EXPIRY.",
    "expiry_optional": "A block may end its expiry step while a due lock is still LOCKED.",
}
GENESIS_VARIANTS: dict[str, str] = {
    "genesis_unchecked_supply": "The genesis document's balances may add up to more than MAX_SUPPLY.",
    "genesis_signed_balances": "Genesis balances are signed integers: an account may start negative.",
    "genesis_imports_records": "Genesis may carry transfer and task records (imported, unchecked) besides accounts.",
}
PERTURBATION_VARIANTS: dict[str, str] = {
    "also_mints": "Every transition's success path also adds a unit to some account's total (and says so).",
    "also_moves_unit": "Every transition's success path also moves a unit between two accounts (and says so).",
    "also_releases_lock": "Every transition's success path also takes a unit off some account's locked ATP.",
    "also_reopens_transfer": "Every transition's success path also sets some transfer back to LOCKED.",
    "also_completes_task_unproven": "Every transition's success path also marks some task COMPLETED.",
    "also_recauses_task_lock": "Every transition's success path also records some transfer as ended by COMMIT.",
    "also_corrupts_reputation": "Every transition's success path also sets some platform's reputation to "
                                "MAX_REPUTATION_BP + 1.",
    "also_writes_unnamed_account": "Every transition's success path also adds a unit to an account it does not "
                                   "name among the accounts it touches.",
}
VARIANTS: dict[str, str] = {**MUTANT_VARIANTS, **GENESIS_VARIANTS, **PERTURBATION_VARIANTS}
assert set(MUTANT_VARIANTS) == set(MUTANTS), "every mutant of the encoding is a variant, and only those"


# --- witnesses ---------------------------------------------------------------------------------------------
KINDS: tuple[str, ...] = ("ledger", "account", "transfer", "task", "set", "update", "platform")
"""What a conjunct speaks of: the whole ledger, or each record of one kind."""


def witness(kind: str) -> z3.ArithRef:
    """The index at which an obligation's goal states a conjunct over all records of `kind`."""
    return z3.Int(f"witness.{kind}")


def records_of(state: Ledger, kind: str) -> z3.ArrayRef:
    arrays = {"account": state.accounts, "transfer": state.transfers, "task": state.tasks,
              "set": state.balance_sets, "update": state.reputation_updates, "platform": state.reputations}
    return arrays[kind]


# --- conjuncts -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conjunct:
    """A fact of one state, for every record of `kind` (the index is ignored for `ledger`)."""

    text: str
    kind: str
    holds: Callable[[Ledger, z3.ArithRef], z3.BoolRef]


@dataclass(frozen=True)
class StepConjunct:
    """A fact of one transition (pre-state to post-state), for every record of `kind`."""

    text: str
    kind: str
    holds: Callable[[Step, z3.ArithRef], z3.BoolRef]


@dataclass(frozen=True)
class Invariant:
    name: str
    statement: str
    state: tuple[Conjunct, ...]
    step: tuple[StepConjunct, ...] = ()


def one_of(value: z3.ExprRef, *options: z3.ExprRef) -> z3.BoolRef:
    return z3.Or(*[value == option for option in options])


# conservation -----------------------------------------------------------------------------------------------
def minted(step: Step) -> z3.ArithRef:
    """What the supply must change by, from the transaction and its code alone: an
    accepted BALANCE_SET changes it by the new balance minus the old total; nothing
    else changes it."""
    if step.action != "balance_set":
        return z3.IntVal(0)
    (_, result), = step.codes
    return z3.If(result == OK, step.tx.balance - step.pre.account(step.tx.agent).total, 0)


CONSERVATION_INVARIANT = Invariant(
    CONSERVATION,
    "the supply (the ghost sum of all totals) stays at most MAX_SUPPLY and changes only by an accepted "
    "BALANCE_SET, by exactly its delta",
    state=(Conjunct("the supply is at most MAX_SUPPLY", "ledger", lambda s, _: s.supply <= MAX_SUPPLY),),
    step=(StepConjunct("the supply changes only by an accepted BALANCE_SET, by exactly its delta", "ledger",
                       lambda step, _: step.post.supply == step.pre.supply + minted(step)),),
)

# lock accounting -------------------------------------------------------------------------------------------
LOCK_ACCOUNTING_INVARIANT = Invariant(
    LOCK_ACCOUNTING,
    "every account's locked ATP is the sum of its open locks (the ghost open_sum), and 0 <= locked <= total",
    state=(
        Conjunct("locked is the sum of the account's open locks", "account",
                 lambda s, a: s.account(a).locked == s.open_sum[a]),
        Conjunct("0 <= locked <= total", "account",
                 lambda s, a: z3.And(0 <= s.account(a).locked, s.account(a).locked <= s.account(a).total)),
    ),
)


# settle once ------------------------------------------------------------------------------------------------
def cause_fits_status(s: Ledger, x: z3.ArithRef) -> z3.BoolRef:
    t = s.transfer(x)
    return z3.Implies(t.exists, z3.And(
        (t.status == LOCKED) == (t.settled_by == NO_CAUSE),
        z3.Implies(t.status == COMMITTED, one_of(t.settled_by, BY_COMMIT, BY_PROOF)),
        z3.Implies(t.status == ROLLED_BACK, one_of(t.settled_by, BY_ROLLBACK, BY_PROOF)),
        z3.Implies(t.status == TRANSFER_EXPIRED, t.settled_by == BY_EXPIRY),
    ))


TRANSFER_TERMS = ("source_agent", "source_platform", "dest_agent", "dest_platform", "amount", "timeout_ms",
                  "created_at_ms", "expires_at_ms", "task_linked")
TASK_TERMS = ("delegating_platform", "delegating_agent", "executing_platform", "executing_agent", "cost",
              "quality_threshold_bp", "timeout_ms", "task_data_hash", "created_at_ms", "deadline_ms")


def transfer_kept(step: Step, x: z3.ArithRef) -> z3.BoolRef:
    before, after = step.pre.transfer(x), step.post.transfer(x)
    return z3.Implies(before.exists, z3.And(
        after.exists, *[getattr(after, term) == getattr(before, term) for term in TRANSFER_TERMS]
    ))


def transfer_settled_for_good(step: Step, x: z3.ArithRef) -> z3.BoolRef:
    before, after = step.pre.transfer(x), step.post.transfer(x)
    return z3.Implies(z3.And(before.exists, before.status != LOCKED),
                      z3.And(after.status == before.status, after.settled_by == before.settled_by))


def task_kept(step: Step, k: z3.ArithRef) -> z3.BoolRef:
    before, after = step.pre.task(k), step.post.task(k)
    return z3.Implies(before.exists, z3.And(
        after.exists, *[getattr(after, term) == getattr(before, term) for term in TASK_TERMS],
        z3.Implies(before.status != PENDING, after.status == before.status),
    ))


SETTLE_ONCE_INVARIANT = Invariant(
    SETTLE_ONCE,
    "a transfer leaves LOCKED at most once, with a cause that fits its end state, and its end state and cause "
    "never change; records never vanish and their terms never change; a settled task's status never changes",
    state=(Conjunct("a transfer is LOCKED exactly when nothing ended it, and its cause fits its end state "
                    "(COMMITTED by COMMIT or PROOF, ROLLED_BACK by ROLLBACK or PROOF, EXPIRED by EXPIRY)",
                    "transfer", cause_fits_status),),
    step=(
        StepConjunct("a transfer never vanishes and its terms never change", "transfer", transfer_kept),
        StepConjunct("a settled transfer keeps its end state and cause", "transfer", transfer_settled_for_good),
        StepConjunct("a task never vanishes, its terms never change, and a settled task's status never changes",
                     "task", task_kept),
        StepConjunct("a BALANCE_SET record never vanishes or changes", "set",
                     lambda step, i: z3.Implies(step.pre.balance_set(i).exists,
                                                step.post.balance_sets[i] == step.pre.balance_sets[i])),
        StepConjunct("a REPUTATION_UPDATE record never vanishes or changes", "update",
                     lambda step, i: z3.Implies(step.pre.reputation_update(i).exists,
                                                step.post.reputation_updates[i] == step.pre.reputation_updates[i])),
    ),
)


# settlement correctness ----------------------------------------------------------------------------------------
def task_has_its_lock(s: Ledger, k: z3.ArithRef) -> z3.BoolRef:
    task, lock = s.task(k), s.transfer(k)
    return z3.Implies(task.exists, z3.And(
        lock.exists, lock.task_linked,
        lock.source_agent == task.delegating_agent, lock.dest_agent == task.executing_agent,
        lock.source_platform == task.delegating_platform, lock.dest_platform == task.executing_platform,
        lock.amount == task.cost, lock.timeout_ms == task.timeout_ms, lock.created_at_ms == task.created_at_ms,
        lock.expires_at_ms == task.deadline_ms,
    ))


def task_status_matches_lock(s: Ledger, k: z3.ArithRef) -> z3.BoolRef:
    task, lock = s.task(k), s.transfer(k)
    on_time = task.proof_landed_at_ms <= task.deadline_ms
    settled_with_proof = z3.And(task.has_proof, task.proof_executing_agent == task.executing_agent,
                                task.has_settled_quality, task.settled_quality_bp == task.proof_quality_bp, on_time)
    return z3.Implies(task.exists, z3.And(
        z3.Implies(task.status == PENDING,
                   z3.And(lock.status == LOCKED, z3.Not(task.has_proof), z3.Not(task.has_settled_quality))),
        z3.Implies(task.status == COMPLETED, z3.And(
            lock.status == COMMITTED, lock.settled_by == BY_PROOF, settled_with_proof,
            task.proof_quality_bp >= task.quality_threshold_bp)),
        z3.Implies(task.status == FAILED, z3.And(
            lock.status == ROLLED_BACK, lock.settled_by == BY_PROOF, settled_with_proof,
            task.proof_quality_bp < task.quality_threshold_bp)),
        z3.Implies(task.status == TASK_EXPIRED, z3.And(
            lock.status == TRANSFER_EXPIRED, lock.settled_by == BY_EXPIRY, z3.Not(task.has_proof),
            task.has_settled_quality, task.settled_quality_bp == 0)),
    ))


def pending_before(step: Step, k: z3.ArithRef) -> z3.BoolRef:
    return z3.And(step.pre.task(k).exists, step.pre.task(k).status == PENDING)


def expires_only_after_deadline(step: Step, k: z3.ArithRef) -> z3.BoolRef:
    return z3.Implies(z3.And(pending_before(step, k), step.post.task(k).status == TASK_EXPIRED),
                      step.pre.task(k).deadline_ms < step.post.now)


def proven_only_by_deadline(step: Step, k: z3.ArithRef) -> z3.BoolRef:
    after = step.post.task(k)
    return z3.Implies(z3.And(pending_before(step, k), one_of(after.status, COMPLETED, FAILED)),
                      z3.And(after.proof_landed_at_ms == step.post.now, step.post.now <= step.pre.task(k).deadline_ms))


def created_pending(step: Step, k: z3.ArithRef) -> z3.BoolRef:
    after = step.post.task(k)
    return z3.Implies(z3.And(z3.Not(step.pre.task(k).exists), after.exists),
                      z3.And(after.status == PENDING, after.created_at_ms == step.post.now))


SETTLEMENT_CORRECTNESS_INVARIANT = Invariant(
    SETTLEMENT_CORRECTNESS,
    "each task has its task-linked lock with its terms; PENDING iff the lock is LOCKED, COMPLETED iff COMMITTED by "
    "a proof of quality >= threshold landed by the deadline, FAILED iff ROLLED_BACK by a proof below the threshold "
    "landed by the deadline, EXPIRED iff EXPIRED by expiry with no proof; a task expires only after its deadline "
    "and is settled by a proof only by its deadline",
    state=(
        Conjunct("a task's lock exists, is task-linked and carries the task's agents, platforms, cost, timeout, "
                 "creation time and deadline", "task", task_has_its_lock),
        Conjunct("a task's status matches its lock and proof (PENDING: LOCKED, no proof; COMPLETED: COMMITTED by "
                 "PROOF, quality >= threshold, landed by the deadline; FAILED: ROLLED_BACK by PROOF, quality < "
                 "threshold, landed by the deadline; EXPIRED: EXPIRED by EXPIRY, no proof, quality 0)",
                 "task", task_status_matches_lock),
        Conjunct("a task-linked transfer is a task's lock", "transfer",
                 lambda s, x: z3.Implies(z3.And(s.transfer(x).exists, s.transfer(x).task_linked), s.task(x).exists)),
    ),
    step=(
        StepConjunct("a task becomes EXPIRED only in a block later than its deadline", "task",
                     expires_only_after_deadline),
        StepConjunct("a task is settled by a proof only in a block at or before its deadline, and the proof lands "
                     "in that block", "task", proven_only_by_deadline),
        StepConjunct("a new task starts PENDING, created in the current block", "task", created_pending),
    ),
)

# task locks -----------------------------------------------------------------------------------------------------
TASK_LOCKS_INVARIANT = Invariant(
    TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY,
    "a task-linked lock ends only by its task's proof or by expiry, never by COMMIT or ROLLBACK",
    state=(Conjunct("a settled task-linked transfer was ended by PROOF or EXPIRY", "transfer",
                    lambda s, x: z3.Implies(
                        z3.And(s.transfer(x).exists, s.transfer(x).task_linked, s.transfer(x).status != LOCKED),
                        one_of(s.transfer(x).settled_by, BY_PROOF, BY_EXPIRY))),),
)


# no double spend ---------------------------------------------------------------------------------------------------
def committed_now(step: Step, x: z3.ArithRef) -> z3.BoolRef:
    before = step.pre.transfer(x)
    return z3.And(before.exists, before.status == LOCKED, step.post.transfer(x).status == COMMITTED)


def expected_total(step: Step, a: z3.ArithRef) -> z3.ArithRef:
    """An account's total after the step, from what the step says happened: each
    transfer that went from LOCKED to COMMITTED moved its amount once from its source
    to its destination, an accepted BALANCE_SET set a total, nothing else moved ATP.
    Transfers other than the named ones do not change (the frame obligations)."""
    moved = []
    for k, x in enumerate(step.transfers):
        t = step.pre.transfer(x)
        delta = z3.If(a == t.dest_agent, t.amount, 0) - z3.If(a == t.source_agent, t.amount, 0)
        moved.append(z3.If(z3.And(distinct_from_earlier(step.transfers, k), committed_now(step, x)), delta, 0))
    total = step.pre.account(a).total + z3.Sum([z3.IntVal(0)] + moved)
    if step.action == "balance_set":
        (_, result), = step.codes
        return z3.If(z3.And(result == OK, a == step.tx.agent), step.tx.balance, total)
    return total


NO_DOUBLE_SPEND_INVARIANT = Invariant(
    NO_DOUBLE_SPEND,
    "no total or available balance is negative, and every account's total changes only by the commits of this "
    "step (each moving its amount once from source to destination) and an accepted BALANCE_SET",
    state=(Conjunct("total >= 0 and available = total - locked >= 0", "account",
                    lambda s, a: z3.And(s.account(a).total >= 0, s.account(a).total - s.account(a).locked >= 0)),),
    step=(StepConjunct("a total changes only by the amounts of transfers committed in this step, each moved once "
                       "from source to destination, or by an accepted BALANCE_SET", "account",
                       lambda step, a: step.post.account(a).total == expected_total(step, a)),),
)


# auxiliary -----------------------------------------------------------------------------------------------------------
def transfer_terms_valid(s: Ledger, x: z3.ArithRef) -> z3.BoolRef:
    t = s.transfer(x)
    return z3.Implies(t.exists, z3.And(
        0 < t.amount, t.amount <= MAX_AMOUNT, 0 < t.timeout_ms, t.timeout_ms <= MAX_TIMEOUT_MS,
        t.expires_at_ms == t.created_at_ms + t.timeout_ms, t.source_agent != t.dest_agent,
        0 <= t.created_at_ms, t.created_at_ms <= s.now,
    ))


def task_terms_valid(s: Ledger, k: z3.ArithRef) -> z3.BoolRef:
    """The bounds the static checks put on a task and its proof, kept by the state."""
    task = s.task(k)
    return z3.Implies(task.exists, z3.And(
        0 <= task.quality_threshold_bp, task.quality_threshold_bp <= MAX_THRESHOLD_BP,
        z3.Implies(task.has_proof, z3.And(0 <= task.proof_quality_bp, task.proof_quality_bp <= MAX_QUALITY_BP,
                                          task.created_at_ms <= task.proof_landed_at_ms,
                                          task.proof_landed_at_ms <= s.now)),
        z3.Implies(task.has_settled_quality,
                   z3.And(0 <= task.settled_quality_bp, task.settled_quality_bp <= MAX_QUALITY_BP)),
    ))


def update_recorded_on_task(s: Ledger, u: z3.ArithRef) -> z3.BoolRef:
    record = s.reputation_update(u)
    task = s.task(record.task_id)
    return z3.Implies(record.exists, z3.And(
        task.exists, task.has_reputation_update, task.reputation_update_id == u,
        record.platform == task.executing_platform, task.has_settled_quality,
        record.quality_bp == task.settled_quality_bp,
    ))


def task_update_recorded(s: Ledger, k: z3.ArithRef) -> z3.BoolRef:
    task = s.task(k)
    record = s.reputation_update(task.reputation_update_id)
    return z3.Implies(z3.And(task.exists, task.has_reputation_update), z3.And(record.exists, record.task_id == k))


def stays_failed(ids: Callable[[Ledger], z3.ArrayRef]) -> Callable[[Step, z3.ArithRef], z3.BoolRef]:
    return lambda step, i: z3.Implies(ids(step.pre)[i], ids(step.post)[i])


WELL_FORMED_INVARIANT = Invariant(
    "well_formed",
    "auxiliary facts the other invariants rest on: transfer and task terms within the static bounds, no LOCKED "
    "transfer past "
    "its deadline outside the expiry step, failed ids unused and failed for good, each task's reputation update "
    "recorded once, reputations within 0..10000, time within bounds and never going back",
    state=(
        Conjunct("a transfer's amount and timeout are within the static bounds, its deadline is created + timeout, "
                 "it was created no later than the current block, and its source is not its destination", "transfer",
                 transfer_terms_valid),
        Conjunct("a task's quality threshold, and its proof's and settled quality, are within 0..10000; its proof "
                 "landed no earlier than the task and no later than the current block", "task", task_terms_valid),
        Conjunct("outside the expiry step, no LOCKED transfer is past its deadline", "transfer",
                 lambda s, x: z3.Implies(z3.And(z3.Not(s.expiring), s.transfer(x).exists,
                                                s.transfer(x).status == LOCKED),
                                         s.transfer(x).expires_at_ms >= s.now)),
        Conjunct("a failed transfer or task id is not in use", "transfer",
                 lambda s, x: z3.Implies(s.failed_transfer_ids[x],
                                         z3.And(z3.Not(s.transfer(x).exists), z3.Not(s.task(x).exists)))),
        Conjunct("a failed balance-set id is not in use", "set",
                 lambda s, i: z3.Implies(s.failed_set_ids[i], z3.Not(s.balance_set(i).exists))),
        Conjunct("a failed reputation-update id is not in use", "update",
                 lambda s, u: z3.Implies(s.failed_update_ids[u], z3.Not(s.reputation_update(u).exists))),
        Conjunct("a reputation update is the one its task records, for the task's executing platform and settled "
                 "quality", "update", update_recorded_on_task),
        Conjunct("a task's reputation update id names an update of that task", "task", task_update_recorded),
        Conjunct("a reputation is within 0..MAX_REPUTATION_BP", "platform",
                 lambda s, p: z3.And(0 <= s.reputations[p], s.reputations[p] <= MAX_REPUTATION_BP)),
        Conjunct("the block time is within 0..MAX_TIMESTAMP_MS", "ledger",
                 lambda s, _: z3.And(0 <= s.now, s.now <= MAX_TIMESTAMP_MS)),
    ),
    step=(
        StepConjunct("a failed transfer or task id stays failed", "transfer", stays_failed(lambda s: s.failed_transfer_ids)),
        StepConjunct("a failed balance-set id stays failed", "set", stays_failed(lambda s: s.failed_set_ids)),
        StepConjunct("a failed reputation-update id stays failed", "update",
                     stays_failed(lambda s: s.failed_update_ids)),
        StepConjunct("the block time never goes back", "ledger", lambda step, _: step.post.now >= step.pre.now),
    ),
)

INVARIANTS: tuple[Invariant, ...] = (
    CONSERVATION_INVARIANT,
    LOCK_ACCOUNTING_INVARIANT,
    SETTLE_ONCE_INVARIANT,
    SETTLEMENT_CORRECTNESS_INVARIANT,
    TASK_LOCKS_INVARIANT,
    NO_DOUBLE_SPEND_INVARIANT,
    WELL_FORMED_INVARIANT,
)


# --- hypotheses: the invariant at the indices that matter ----------------------------------------------------
INDEX_KINDS: dict[str, str] = {"account": "account", "transfer": "id", "task": "id", "set": "set",
                               "update": "update", "platform": "platform"}
"""Transfer and task ids are one namespace (a task's lock has the task's id), so the
conjuncts over transfers and over tasks are instantiated at the same ids."""

Indices = dict[str, list[z3.ArithRef]]


def unique(terms: list[z3.ArithRef]) -> list[z3.ArithRef]:
    kept: list[z3.ArithRef] = []
    for term in terms:
        if not any(term.eq(other) for other in kept):
            kept.append(term)
    return kept


def relevant_indices(step: Step) -> Indices:
    """Where an obligation about `step` instantiates the invariant: the witnesses, the
    indices the transition names and reads, the accounts of those transfers, and the
    records these reference (a task's reputation update, an update's task)."""
    pre, tx = step.pre, step.tx
    updates = [witness("update")] + ([tx.update_id] if step.action == "reputation_update" else [])
    ids = [witness("transfer"), witness("task"), *step.transfers, *step.tasks]
    updates += [pre.task(k).reputation_update_id for k in ids]
    ids += [pre.reputation_update(u).task_id for u in updates]
    accounts = [witness("account"), *step.accounts]
    for x in ids:
        accounts += [pre.transfer(x).source_agent, pre.transfer(x).dest_agent]
    return {
        "account": unique(accounts),
        "id": unique(ids),
        "set": unique([witness("set")] + ([tx.set_id] if step.action == "balance_set" else [])),
        "update": unique(updates),
        "platform": unique([witness("platform")] + ([tx.platform] if step.action == "reputation_update" else [])),
    }


def witnesses_only() -> Indices:
    return {"account": [witness("account")], "id": [witness("transfer"), witness("task")], "set": [witness("set")],
            "update": [witness("update")], "platform": [witness("platform")]}


def invariant_at(state: Ledger, indices: Indices) -> list[z3.BoolRef]:
    """The whole inductive invariant (every conjunct of every group) at the given
    indices. The invariant holds at every index; assuming it only at these is weaker,
    so a proof from them is a proof from the invariant, and the query stays free of
    quantifiers: z3 decides it, proven or a counterexample, never unknown."""
    facts: list[z3.BoolRef] = []
    for invariant in INVARIANTS:
        for conjunct in invariant.state:
            if conjunct.kind == "ledger":
                facts.append(conjunct.holds(state, z3.IntVal(0)))
            else:
                facts += [conjunct.holds(state, i) for i in indices[INDEX_KINDS[conjunct.kind]]]
    return facts


def finite_sum_facts(state: Ledger, indices: Indices) -> list[z3.BoolRef]:
    """Assumed, not proven by z3: a sum of non-negative terms is at least each of its
    terms. `open_sum[a]` is the sum of the (positive) amounts of a's LOCKED transfers,
    so it is at least the amount of each of them. (The supply needs no such fact: no
    obligation does without it.)"""
    facts = []
    for x in indices["id"]:
        t = state.transfer(x)
        facts.append(z3.Implies(z3.And(t.exists, t.status == LOCKED), state.open_sum[t.source_agent] >= t.amount))
    return facts


def step_facts(step: Step, indices: Indices) -> list[z3.BoolRef]:
    """The hypotheses of an obligation about `step`: the invariant and the finite-sum
    facts in the pre-state, and the transition's guard, at the relevant indices."""
    facts = invariant_at(step.pre, indices) + finite_sum_facts(step.pre, indices)
    facts.append(step.guard)
    if step.guard_at_every_transfer is not None:
        facts += [step.guard_at_every_transfer(x) for x in indices["id"]]
    return facts


def genesis(variant: str | None) -> tuple[Ledger, list[z3.BoolRef]]:
    """`spec.state.state_from_genesis`, at the witnesses: accounts with their balances
    and nothing locked, no records, no failed ids, reputations within bounds, the
    supply (the sum of the balances) at most MAX_SUPPLY (`chain_from_genesis` refuses
    more), outside any block."""
    s = symbolic_ledger("genesis")
    a, p = witness("account"), witness("platform")
    facts = [
        s.account(a).locked == 0,
        0 <= s.reputations[p], s.reputations[p] <= MAX_REPUTATION_BP,
        0 <= s.supply, 0 <= s.now, s.now <= MAX_TIMESTAMP_MS, z3.Not(s.expiring),
    ]
    if variant != "genesis_signed_balances":
        facts.append(s.account(a).total >= 0)
    if variant != "genesis_unchecked_supply":
        facts.append(s.supply <= MAX_SUPPLY)
    if variant != "genesis_imports_records":
        facts.append(s.open_sum[a] == 0)  # no transfers: every open sum is the empty sum
    for x in (witness("transfer"), witness("task")):
        facts.append(z3.Not(s.failed_transfer_ids[x]))
        if variant != "genesis_imports_records":
            facts += [z3.Not(s.transfer(x).exists), z3.Not(s.task(x).exists)]
    facts += finite_sum_facts(s, witnesses_only())
    facts += [z3.Not(s.balance_set(witness("set")).exists), z3.Not(s.failed_set_ids[witness("set")]),
              z3.Not(s.reputation_update(witness("update")).exists), z3.Not(s.failed_update_ids[witness("update")])]
    return s, facts


# --- perturbations: generic broken variants --------------------------------------------------------------------------
def perturbed(step: Step, variant: str | None) -> Step:
    """The step with a perturbation variant applied to its success path."""
    if variant not in PERTURBATION_VARIANTS:
        return step
    post = step.post
    accounts, transfers = step.accounts, step.transfers
    victim, other = z3.Int("victim.account"), z3.Int("victim.other_account")
    x, k, p = z3.Int("victim.transfer"), z3.Int("victim.task"), z3.Int("victim.platform")

    def add_to_total(state: Ledger, agent: z3.ArithRef, amount: int) -> Ledger:
        account = state.account(agent)
        return replace(state, accounts=z3.Store(state.accounts, agent,
                                                ACCOUNT.replace(account.term, total=account.total + amount)))

    def set_transfer(state: Ledger, **changes: z3.ExprRef) -> Ledger:
        return replace(state, transfers=z3.Store(state.transfers, x, TRANSFER.replace(state.transfers[x], **changes)))

    if variant == "also_mints":
        changed, accounts = add_to_total(post, victim, 1), accounts + (victim,)
    elif variant == "also_moves_unit":
        changed, accounts = add_to_total(add_to_total(post, victim, -1), other, 1), accounts + (victim, other)
    elif variant == "also_releases_lock":
        account = post.account(victim)
        changed = replace(post, accounts=z3.Store(post.accounts, victim,
                                                  ACCOUNT.replace(account.term, locked=account.locked - 1)))
        accounts = accounts + (victim,)
    elif variant == "also_reopens_transfer":
        changed, transfers = set_transfer(post, status=LOCKED, settled_by=NO_CAUSE), transfers + (x,)
    elif variant == "also_recauses_task_lock":
        changed, transfers = set_transfer(post, settled_by=BY_COMMIT), transfers + (x,)
    elif variant == "also_completes_task_unproven":
        changed = replace(post, tasks=z3.Store(post.tasks, k, TASK.replace(post.tasks[k], status=COMPLETED)))
    elif variant == "also_corrupts_reputation":
        changed = replace(post, reputations=z3.Store(post.reputations, p, MAX_REPUTATION_BP + 1))
    else:  # also_writes_unnamed_account: the ghost supply misses it; frame and no_double_spend catch it
        changed = add_to_total(post, victim, 1)
        unnamed = z3.And(*[victim != named for named in step.accounts])
        return replace(step, post=choose(step.ok, changed, post), guard=z3.And(step.guard, unnamed))
    return replace(step, post=choose(step.ok, changed, post), accounts=accounts, transfers=transfers)



# --- the transitions, as the obligations see them ----------------------------------------------------------------
TRANSITION_TEXT: dict[str, str] = {
    "lock": "An ATP_TRANSFER_LOCK, whatever its code",
    "commit": "An ATP_TRANSFER_COMMIT, whatever its code",
    "rollback": "An ATP_TRANSFER_ROLLBACK, whatever its code",
    "balance_set": "A BALANCE_SET, whatever its code",
    "task_pair": "A FEDERATION_TASK with its ATP_TRANSFER_LOCK, whatever their codes",
    "execution_proof": "An EXECUTION_PROOF, whatever its code",
    "reputation_update": "A REPUTATION_UPDATE, whatever its code",
    "begin_block": "The start of a block (a later timestamp; the expiry step begins)",
    "expire_one": "The expiry of one due lock",
    "finish_expiry": "The end of the expiry step (no lock is due)",
}


@cache
def transition_step(transition: str, variant: str | None) -> Step:
    """The transition from a symbolic pre-state, with the variant's mutant or
    perturbation, and its ghosts updated."""
    mutant = variant if variant in MUTANTS else None
    step = symbolic_step(Encoding(mutant), transition, symbolic_ledger("pre"))
    return with_ghosts(perturbed(step, variant))


@cache
def step_hypotheses(transition: str, variant: str | None) -> tuple[z3.BoolRef, ...]:
    step = transition_step(transition, variant)
    return tuple(step_facts(step, relevant_indices(step)))


Part = tuple[str, str, z3.BoolRef]
"""A goal conjunct: its text, the kind of record it speaks of, and the formula at the witness."""


def state_parts(invariant: Invariant, state: Ledger) -> list[Part]:
    return [(c.text, c.kind, c.holds(state, witness(c.kind))) for c in invariant.state]


def step_parts(invariant: Invariant, step: Step) -> list[Part]:
    return state_parts(invariant, step.post) + [(c.text, c.kind, c.holds(step, witness(c.kind)))
                                                for c in invariant.step]


def frame_parts(step: Step) -> list[Part]:
    """Nothing outside the named indices changes: the premise of the point-update rule."""
    a, x = witness("account"), witness("transfer")
    unnamed_account = z3.And(*[a != named for named in step.accounts])
    unnamed_transfer = z3.And(*[x != named for named in step.transfers])
    return [
        ("an account the transition does not name is unchanged", "account",
         z3.Implies(unnamed_account, step.post.accounts[a] == step.pre.accounts[a])),
        ("a transfer the transition does not name is unchanged", "transfer",
         z3.Implies(unnamed_transfer, step.post.transfers[x] == step.pre.transfers[x])),
    ]


# --- counterexamples ------------------------------------------------------------------------------------------------
def enum_text(model: z3.ModelRef, term: z3.ExprRef) -> str:
    value = str(model.eval(term, model_completion=True))
    return ENUM_NAMES.get(value, value)


def account_text(model: z3.ModelRef, state: Ledger, a: z3.ArithRef) -> str:
    account = state.account(a)
    return (f"total {model_int(model, account.total)}, locked {model_int(model, account.locked)}, "
            f"open locks {model_int(model, state.open_sum[a])}")


def transfer_text(model: z3.ModelRef, state: Ledger, x: z3.ArithRef) -> str:
    t = state.transfer(x)
    if not model_bool(model, t.exists):
        return "absent"

    def n(term: z3.ArithRef) -> int:
        return model_int(model, term)

    kind = "task lock" if model_bool(model, t.task_linked) else "plain"
    return (f"{enum_text(model, t.status)} by {enum_text(model, t.settled_by)}, {kind}, agent {n(t.source_agent)} -> "
            f"agent {n(t.dest_agent)}, amount {n(t.amount)}, created {n(t.created_at_ms)}, "
            f"expires {n(t.expires_at_ms)}")


def task_text(model: z3.ModelRef, state: Ledger, k: z3.ArithRef) -> str:
    task = state.task(k)
    if not model_bool(model, task.exists):
        return "absent"

    def n(term: z3.ArithRef) -> int:
        return model_int(model, term)

    proof = "no proof"
    if model_bool(model, task.has_proof):
        proof = f"proof quality {n(task.proof_quality_bp)} landed at {n(task.proof_landed_at_ms)}"
    settled = f"settled quality {n(task.settled_quality_bp)}" if model_bool(model, task.has_settled_quality) else ""
    update = f"update {n(task.reputation_update_id)}" if model_bool(model, task.has_reputation_update) else ""
    extras = ", ".join(part for part in (proof, settled, update) if part)
    return (f"{enum_text(model, task.status)}, agent {n(task.delegating_agent)} -> agent {n(task.executing_agent)}, "
            f"cost {n(task.cost)}, threshold {n(task.quality_threshold_bp)}, deadline {n(task.deadline_ms)}, {extras}")


FAILED_IDS: dict[str, Callable[[Ledger], z3.ArrayRef]] = {
    "transfer": lambda s: s.failed_transfer_ids, "task": lambda s: s.failed_transfer_ids,
    "set": lambda s: s.failed_set_ids, "update": lambda s: s.failed_update_ids,
}
"""The failed-id flags of each kind of record that has an id."""


def record_text(model: z3.ModelRef, state: Ledger, kind: str, i: z3.ArithRef) -> str:
    text = record_fields_text(model, state, kind, i)
    if kind in FAILED_IDS and model_bool(model, FAILED_IDS[kind](state)[i]):
        text += " (id failed)"
    return text


def record_fields_text(model: z3.ModelRef, state: Ledger, kind: str, i: z3.ArithRef) -> str:
    if kind == "account":
        return account_text(model, state, i)
    if kind == "transfer":
        return transfer_text(model, state, i)
    if kind == "task":
        return task_text(model, state, i)
    if kind == "platform":
        return f"reputation {model_int(model, state.reputations[i])}"
    if kind == "set":
        record = state.balance_set(i)
        if not model_bool(model, record.exists):
            return "absent"
        return f"agent {model_int(model, record.agent)} set to {model_int(model, record.balance)}"
    update = state.reputation_update(i)
    if not model_bool(model, update.exists):
        return "absent"
    return (f"task {model_int(model, update.task_id)}, platform {model_int(model, update.platform)}, "
            f"quality {model_int(model, update.quality_bp)}, reputation {model_int(model, update.reputation_bp)}")


def unique_values(model: z3.ModelRef, terms: list[z3.ArithRef]) -> list[tuple[int, z3.ArithRef]]:
    seen: dict[int, z3.ArithRef] = {}
    for term in terms:
        seen.setdefault(model_int(model, term), term)
    return list(seen.items())


def violated(model: z3.ModelRef, parts: list[Part]) -> list[str]:
    lines = []
    for text, kind, holds in parts:
        if not model_bool(model, holds):
            where = "" if kind == "ledger" else f" (at {kind} {model_int(model, witness(kind))})"
            lines.append(f"violated: {text}{where}")
    return lines


def records_before_after(model: z3.ModelRef, pre: Ledger, post: Ledger | None,
                         named: dict[str, list[z3.ArithRef]]) -> list[str]:
    lines = []
    for kind, terms in named.items():
        for value, term in unique_values(model, terms):
            before = record_text(model, pre, kind, term)
            if post is None:
                lines.append(f"  {kind} {value}: {before}")
            else:
                after = record_text(model, post, kind, term)
                lines.append(f"  {kind} {value}:\n    before: {before}\n    after:  {after}")
    return lines


def failing_kinds(model: z3.ModelRef, parts: list[Part]) -> set[str]:
    return {kind for _, kind, holds in parts if not model_bool(model, holds)}


def render_step(step: Step, parts: list[Part], model: z3.ModelRef) -> str:
    params = ", ".join(f"{name}={model_int(model, value)}" for name, value in step.params)
    lines = [f"transition: {step.action}({params})"]
    if step.codes:
        lines.append("result: " + ", ".join(f"{label} {code_name(model_int(model, term)).value}"
                                            for label, term in step.codes))
    pre, post = step.pre, step.post
    lines.append(f"block time: {model_int(model, pre.now)} -> {model_int(model, post.now)}; expiry step running: "
                 f"{model_bool(model, pre.expiring)} -> {model_bool(model, post.expiring)}")
    lines.append(f"supply: {model_int(model, pre.supply)} -> {model_int(model, post.supply)}")
    lines += violated(model, parts)
    kinds = failing_kinds(model, parts)
    named: dict[str, list[z3.ArithRef]] = {"account": list(step.accounts), "transfer": list(step.transfers),
                                           "task": list(step.tasks)}
    if step.action == "balance_set":
        named["set"] = [step.tx.set_id]
    if step.action == "reputation_update":
        named["update"], named["platform"] = [step.tx.update_id], [step.tx.platform]
    for kind in sorted(kinds - {"ledger"}):
        named.setdefault(kind, []).append(witness(kind))
    lines.append("records touched or violated:")
    lines += records_before_after(model, pre, post, {kind: terms for kind, terms in named.items() if terms})
    return "\n".join(lines)


def render_genesis(state: Ledger, parts: list[Part], model: z3.ModelRef) -> str:
    lines = ["genesis state", f"supply: {model_int(model, state.supply)}"]
    lines += violated(model, parts)
    named = {kind: [witness(kind)] for kind in sorted(failing_kinds(model, parts) - {"ledger"})}
    lines += records_before_after(model, state, None, named)
    return "\n".join(lines)


# --- obligations -----------------------------------------------------------------------------------------------------
def invariant_obligation(invariant: Invariant, transition: str, variant: str | None) -> Obligation:
    def goal() -> z3.BoolRef:
        return z3.And(*[holds for _, _, holds in step_parts(invariant, transition_step(transition, variant))])

    return Obligation(
        name=f"ledger.{invariant.name}.{transition}",
        statement=f"{TRANSITION_TEXT[transition]} keeps {invariant.name}: {invariant.statement}.",
        hypotheses=lambda: list(step_hypotheses(transition, variant)),
        goal=goal,
        render=lambda model: render_step(transition_step(transition, variant),
                                         step_parts(invariant, transition_step(transition, variant)), model),
    )


def genesis_obligation(invariant: Invariant, variant: str | None) -> Obligation:
    def parts() -> list[Part]:
        return state_parts(invariant, genesis(variant)[0])

    return Obligation(
        name=f"ledger.{invariant.name}.genesis",
        statement=f"The genesis state satisfies {invariant.name}.",
        hypotheses=lambda: genesis(variant)[1],
        goal=lambda: z3.And(*[holds for _, _, holds in parts()]),
        render=lambda model: render_genesis(genesis(variant)[0], parts(), model),
    )


def frame_obligation(transition: str, variant: str | None) -> Obligation:
    return Obligation(
        name=f"ledger.frame.{transition}",
        statement=f"{TRANSITION_TEXT[transition]} changes accounts and transfers only at the indices it names, "
                  "so the ghost sums' point update is exact.",
        hypotheses=lambda: list(step_hypotheses(transition, variant)),
        goal=lambda: z3.And(*[holds for _, _, holds in frame_parts(transition_step(transition, variant))]),
        render=lambda model: render_step(transition_step(transition, variant),
                                         frame_parts(transition_step(transition, variant)), model),
    )


def obligations(variant: str | None = None) -> list[Obligation]:
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} of ledger")
    made: list[Obligation] = []
    for invariant in INVARIANTS:
        made.append(genesis_obligation(invariant, variant))
        made += [invariant_obligation(invariant, transition, variant) for transition in TRANSITIONS]
    made += [frame_obligation(transition, variant) for transition in TRANSITIONS]
    return made


# --- every obligation fails under a variant ----------------------------------------------------------------------------
BROKEN_BY: dict[str, dict[str, str]] = {
    CONSERVATION: {
        "genesis": "genesis_unchecked_supply", "lock": "lock_debits_source",
        "commit": "commit_credits_without_debit", "rollback": "release_refunds_amount",
        "balance_set": "balance_set_unchecked_supply", "task_pair": "lock_debits_source",
        "execution_proof": "commit_credits_without_debit", "reputation_update": "also_mints",
        "begin_block": "block_reward", "expire_one": "release_refunds_amount", "finish_expiry": "also_mints",
    },
    LOCK_ACCOUNTING: {
        "genesis": "genesis_imports_records", "lock": "lock_ignores_available", "commit": "commit_keeps_lock",
        "rollback": "rollback_forgets_unlock", "balance_set": "balance_set_below_locked",
        "task_pair": "lock_ignores_available", "execution_proof": "commit_keeps_lock",
        "reputation_update": "also_releases_lock", "begin_block": "also_releases_lock",
        "expire_one": "rollback_forgets_unlock", "finish_expiry": "also_releases_lock",
    },
    SETTLE_ONCE: {
        "genesis": "genesis_imports_records", "lock": "lock_overwrites_existing", "commit": "settle_twice",
        "rollback": "settle_twice", "balance_set": "also_reopens_transfer", "task_pair": "also_reopens_transfer",
        "execution_proof": "proof_on_expired_task", "reputation_update": "also_reopens_transfer",
        "begin_block": "also_reopens_transfer", "expire_one": "expiry_ignores_status",
        "finish_expiry": "also_reopens_transfer",
    },
    SETTLEMENT_CORRECTNESS: {
        "genesis": "genesis_imports_records", "lock": "lock_overwrites_existing",
        "commit": "commit_of_task_lock_allowed", "rollback": "commit_of_task_lock_allowed",
        "balance_set": "also_completes_task_unproven", "task_pair": "task_lock_not_linked",
        "execution_proof": "proof_ignores_threshold", "reputation_update": "also_completes_task_unproven",
        "begin_block": "also_completes_task_unproven", "expire_one": "expiry_at_deadline",
        "finish_expiry": "also_completes_task_unproven",
    },
    TASK_LOCKS_SETTLED_BY_PROOF_OR_EXPIRY: {
        "genesis": "genesis_imports_records", "lock": "also_recauses_task_lock",
        "commit": "commit_of_task_lock_allowed", "rollback": "commit_of_task_lock_allowed",
        "balance_set": "also_recauses_task_lock", "task_pair": "also_recauses_task_lock",
        "execution_proof": "proof_settles_as_commit", "reputation_update": "also_recauses_task_lock",
        "begin_block": "also_recauses_task_lock", "expire_one": "expiry_settles_as_rollback",
        "finish_expiry": "also_recauses_task_lock",
    },
    NO_DOUBLE_SPEND: {
        "genesis": "genesis_signed_balances", "lock": "lock_ignores_available", "commit": "settle_twice",
        "rollback": "release_refunds_amount", "balance_set": "balance_set_below_locked",
        "task_pair": "lock_ignores_available", "execution_proof": "proof_on_expired_task",
        "reputation_update": "also_moves_unit", "begin_block": "block_reward",
        "expire_one": "release_refunds_amount", "finish_expiry": "also_moves_unit",
    },
    "well_formed": {
        "genesis": "genesis_imports_records", "lock": "reuses_failed_ids", "commit": "also_corrupts_reputation",
        "rollback": "also_corrupts_reputation", "balance_set": "reuses_failed_ids", "task_pair": "reuses_failed_ids",
        "execution_proof": "also_corrupts_reputation", "reputation_update": "reputation_update_twice",
        "begin_block": "begin_block_skips_expiry", "expire_one": "also_corrupts_reputation",
        "finish_expiry": "expiry_optional",
    },
    "frame": {transition: "also_writes_unnamed_account" for transition in TRANSITIONS},
}
"""For each group and transition (or genesis), the variant that breaks that obligation:
a realistic mutant of a rule where one exists, else a generic perturbation of the
transition's success path that breaks exactly what the group constrains."""


def broken_variants() -> dict[str, str]:
    """For each obligation, a variant under which it fails with a counterexample."""
    return {f"ledger.{group}.{case}": variant for group, cases in BROKEN_BY.items() for case, variant in cases.items()}
