"""The `ledger` runner's cases, generated from the spec.

Each case is the genesis, the blocks that lead to its pre-state, and the block under
test (last); the expected side is what the spec answers (`ledger_case`). Handlers:

* `codes`: one case per (transaction context, result code) pair some input reaches
  (`conformance.ledger_contexts.REACHABLE`), named `<context>.<code>`;
* `blocks`: one case per block code, named `<code>`, and a few more ways to break a header;
* `precedence`: inputs wrong in two ways, which must report the code listed first;
* `idempotency`: resubmissions (`exists`), and ids that stay failed (`id_already_failed`);
* `deadline`: the deadline tie, on both sides, for proofs, commits, rollbacks and expiry;
* `expiry`: the order of expiries, and expiry before the block's transactions;
* `tasks`: task/lock pairs, settlement on quality, atomicity;
* `reputation`: the reputation rule, its rounding, expired tasks;
* `bounds`: the largest allowed values, and one past them;
* `balance_set`: BALANCE_SET against the locked amount and the supply bound;
* `flows`: the design documents' five flows (`examples/`), one case per block.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import Case
from conformance.ledger_builders import (
    ALICE,
    ATP,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    GENESIS_SUPPLY,
    LEGION,
    NOBODY,
    SPROUT,
    STEP_MS,
    THOR,
    UNKNOWN_PLATFORM,
    History,
    balance_set,
    commit,
    digest,
    fresh,
    lock,
    lock_for,
    pair,
    proof,
    reputation,
    rollback,
    task,
    with_balance_set,
    with_committed_lock,
    with_expired_lock,
    with_expired_task,
    with_failed_lock,
    with_lock,
    with_reputation_update,
    with_rolled_back_lock,
    with_settled_task,
    with_task,
)
from conformance.ledger_contexts import (
    ATP_TRANSFER_COMMIT,
    ATP_TRANSFER_LOCK,
    ATP_TRANSFER_ROLLBACK,
    BALANCE_SET,
    BLOCK,
    EXECUTION_PROOF,
    FEDERATION_TASK,
    REPUTATION_UPDATE,
    TASK_LOCK,
)
from conformance.runners.ledger import ledger_case
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
    MAX_UINT64,
)
from spec.ledger import next_reputation
from spec.scenario import genesis_of, load_and_replay
from spec.wire.types import AnyTransaction, Block

R = ResultCode
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GENESIS_REPUTATION = 5_000


def code_case(context: str, code: ResultCode, description: str, history: History, *txs: AnyTransaction,
              **block: Any) -> Case:
    """The case that shows `code` in `context`: `codes/<context>.<code>`, or `blocks/<code>`."""
    if context == BLOCK:
        return history.case("blocks", code.value, description, *txs, **block)
    return history.case("codes", f"{context}.{code.value}", description, *txs, **block)


# --- codes: plain locks and task pairs -----------------------------------------------------------------------
def lock_code_cases() -> list[Case]:
    context = ATP_TRANSFER_LOCK
    return [
        code_case(context, R.OK, "A plain lock of 100 ATP from Alice's 1,000 applies.", fresh(), lock()),
        code_case(context, R.UNKNOWN_PLATFORM, "A lock to a platform the genesis does not name.", fresh(),
                  lock(dest_platform=UNKNOWN_PLATFORM)),
        code_case(context, R.SIGNATURE_INVALID, "A lock signed by its destination platform, not its source.", fresh(),
                  lock(signer=SPROUT)),
        code_case(context, R.AMOUNT_MUST_NOT_BE_ZERO, "A lock of amount 0.", fresh(), lock(amount=0)),
        code_case(context, R.AMOUNT_EXCEEDS_MAXIMUM, "A lock of MAX_AMOUNT + 1.", fresh(), lock(amount=MAX_AMOUNT + 1)),
        code_case(context, R.TIMEOUT_MUST_NOT_BE_ZERO, "A lock with timeout 0.", fresh(), lock(timeout_ms=0)),
        code_case(context, R.TIMEOUT_EXCEEDS_MAXIMUM, "A lock with timeout MAX_TIMEOUT_MS + 1.", fresh(),
                  lock(timeout_ms=MAX_TIMEOUT_MS + 1)),
        code_case(context, R.UNKNOWN_ACCOUNT, "A lock to an agent with no account.", fresh(),
                  lock(dest_agent=NOBODY, dest_platform=SPROUT)),
        code_case(context, R.AGENT_NOT_HOSTED_BY_PLATFORM, "A lock naming Bob on Legion; Sprout hosts Bob.", fresh(),
                  lock(dest_platform=LEGION)),
        code_case(context, R.SELF_TRANSFER, "A lock from Alice to Alice.", fresh(), lock(dest_agent=ALICE)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, "Lock t1 again, from Dave instead of Alice.",
                  with_lock(), lock(source_agent=DAVE)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_DEST_AGENT, "Lock t1 again, to Carol instead of Bob.",
                  with_lock(), lock(dest_agent=CAROL)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_AMOUNT, "Lock t1 again, for 101 ATP instead of 100.",
                  with_lock(), lock(amount=101 * ATP)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS, "Lock t1 again, with a 30 s timeout instead of 60 s.",
                  with_lock(), lock(timeout_ms=30_000)),
        code_case(context, R.EXISTS, "Lock t1 resubmitted identically: it changes nothing.", with_lock(), lock()),
        code_case(context, R.ID_ALREADY_FAILED, "t1 failed on funds; t1 again for 1 ATP, which Alice has, stays failed.",
                  with_failed_lock(), lock(amount=1 * ATP)),
        code_case(context, R.INSUFFICIENT_AVAILABLE, "Alice has 400 ATP available (600 locked); a lock of 400 ATP + 1 unit.",
                  with_lock(600 * ATP), lock("t2", amount=400 * ATP + 1)),
    ]


def task_lock_code_cases() -> list[Case]:
    context = TASK_LOCK
    paid = task()
    return [
        code_case(context, R.OK, "A task and its lock apply together.", fresh(), *pair()),
        code_case(context, R.SIGNATURE_INVALID, "A task whose lock is signed by the executing platform.", fresh(),
                  paid, lock_for(paid, signer=SPROUT)),
        code_case(context, R.EXISTS, "A task pair resubmitted identically: both halves exist.", with_task(), *pair()),
        code_case(context, R.INSUFFICIENT_AVAILABLE, "A task costing 1,000 ATP + 1 unit; Alice has 1,000 ATP.", fresh(),
                  *pair(cost=1_000 * ATP + 1)),
        code_case(context, R.LINKED_TRANSACTION_FAILED, "A task reusing plain transfer t1's id fails; its lock with it.",
                  with_lock(), *pair(task_id="t1")),
    ]


def task_code_cases() -> list[Case]:
    context = FEDERATION_TASK
    paid = task()
    return [
        code_case(context, R.OK, "A task of 300 ATP from Alice to Bob, with its lock.", fresh(), *pair()),
        code_case(context, R.UNKNOWN_PLATFORM, "A task whose delegating platform the genesis does not name.", fresh(),
                  *pair(delegating_platform=UNKNOWN_PLATFORM)),
        code_case(context, R.EXECUTING_PLATFORM_NOT_IN_GROUP, "A task executed on a platform outside the group.", fresh(),
                  *pair(executing_platform=UNKNOWN_PLATFORM)),
        code_case(context, R.SIGNATURE_INVALID, "A task signed by its executing platform.", fresh(), *pair(signer=SPROUT)),
        code_case(context, R.AMOUNT_MUST_NOT_BE_ZERO, "A task of cost 0.", fresh(), *pair(cost=0)),
        code_case(context, R.AMOUNT_EXCEEDS_MAXIMUM, "A task of cost MAX_AMOUNT + 1.", fresh(), *pair(cost=MAX_AMOUNT + 1)),
        code_case(context, R.TIMEOUT_MUST_NOT_BE_ZERO, "A task with timeout 0.", fresh(), *pair(timeout_ms=0)),
        code_case(context, R.TIMEOUT_EXCEEDS_MAXIMUM, "A task with timeout MAX_TIMEOUT_MS + 1.", fresh(),
                  *pair(timeout_ms=MAX_TIMEOUT_MS + 1)),
        code_case(context, R.THRESHOLD_EXCEEDS_MAXIMUM, "A task with quality threshold 10001 bp.", fresh(),
                  *pair(quality_threshold_bp=MAX_THRESHOLD_BP + 1)),
        code_case(context, R.UNKNOWN_ACCOUNT, "A task executed by an agent with no account.", fresh(),
                  *pair(executing_agent=NOBODY, executing_platform=SPROUT)),
        code_case(context, R.AGENT_NOT_HOSTED_BY_PLATFORM, "A task naming Alice on Legion; Thor hosts Alice.", fresh(),
                  *pair(delegating_platform=LEGION)),
        code_case(context, R.SELF_TRANSFER, "A task Alice delegates to herself.", fresh(), *pair(executing_agent=ALICE)),
        code_case(context, R.TASK_LOCK_MISSING, "A task with no lock after it.", fresh(), paid),
        code_case(context, R.TASK_LOCK_MISMATCH, "A task whose lock pays 1 unit less than its cost.", fresh(),
                  paid, lock_for(paid, amount=paid.cost - 1)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT, "task-A again, delegated by Dave.", with_task(),
                  *pair(delegating_agent=DAVE)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, "task-A again, executed by Erin.", with_task(),
                  *pair(executing_agent=ERIN)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_COST, "task-A again, for 200 ATP.", with_task(), *pair(cost=200 * ATP)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP, "task-A again, with threshold 5000 bp.",
                  with_task(), *pair(quality_threshold_bp=5_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS, "task-A again, with a 30 s timeout.", with_task(),
                  *pair(timeout_ms=30_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH, "task-A again, for other task data.", with_task(),
                  *pair(task_data_hash=digest("other data"))),
        code_case(context, R.EXISTS, "task-A resubmitted identically with its lock.", with_task(), *pair()),
        code_case(context, R.ID_ALREADY_FAILED, "task-A failed on funds; task-A again for 100 ATP stays failed.",
                  History().block(*pair(cost=2_000 * ATP)), *pair(cost=100 * ATP)),
        code_case(context, R.ID_USED_BY_TRANSFER, "A task reusing the id of plain transfer t1.", with_lock(),
                  *pair(task_id="t1")),
        code_case(context, R.LINKED_TRANSACTION_FAILED, "A task whose lock fails on funds (2,000 ATP of Alice's 1,000).",
                  fresh(), *pair(cost=2_000 * ATP)),
    ]


# --- codes: commit, rollback, balance set --------------------------------------------------------------------
def settle_code_cases(context: str, settle: Callable[..., AnyTransaction], word: str) -> list[Case]:
    """COMMIT and ROLLBACK share their checks; `settle` builds one of them."""
    cases = [
        code_case(context, R.OK, f"A {word} of open transfer t1 by its source platform.", with_lock(), settle()),
        code_case(context, R.UNKNOWN_PLATFORM, f"A {word} by a platform the genesis does not name.", with_lock(),
                  settle(platform=UNKNOWN_PLATFORM)),
        code_case(context, R.SIGNATURE_INVALID, f"A {word} naming Thor but signed by Sprout.", with_lock(),
                  settle(signer=SPROUT)),
        code_case(context, R.TRANSFER_NOT_FOUND, f"A {word} of a transfer id never locked.", fresh(), settle("nope")),
        code_case(context, R.UNAUTHORIZED_PLATFORM, f"A {word} of t1 by Sprout, its destination platform.",
                  with_lock(), settle(platform=SPROUT)),
        code_case(context, R.TRANSFER_LINKED_TO_TASK, f"A {word} of task-A's lock.", with_task(), settle("task-A")),
        code_case(context, R.TRANSFER_EXPIRED, f"A {word} of t1 after it expired.", with_expired_lock(), settle()),
    ]
    return cases


def commit_code_cases() -> list[Case]:
    context = ATP_TRANSFER_COMMIT
    return [*settle_code_cases(context, commit, "commit"),
            code_case(context, R.EXISTS_WITH_DIFFERENT_PLATFORM, "t1 committed by Thor; the commit again, by Sprout.",
                      with_committed_lock(), commit(platform=SPROUT)),
            code_case(context, R.EXISTS, "t1 committed; the same commit again.", with_committed_lock(), commit()),
            code_case(context, R.TRANSFER_ALREADY_ROLLED_BACK, "A commit of t1 after its rollback.",
                      with_rolled_back_lock(), commit())]


def rollback_code_cases() -> list[Case]:
    context = ATP_TRANSFER_ROLLBACK
    return [*settle_code_cases(context, rollback, "rollback"),
            code_case(context, R.EXISTS_WITH_DIFFERENT_PLATFORM, "t1 rolled back by Thor; the rollback again, by Legion.",
                      with_rolled_back_lock(), rollback(platform=LEGION)),
            code_case(context, R.EXISTS, "t1 rolled back; the same rollback again.", with_rolled_back_lock(), rollback()),
            code_case(context, R.TRANSFER_ALREADY_COMMITTED, "A rollback of t1 after its commit.",
                      with_committed_lock(), rollback())]


def balance_set_code_cases() -> list[Case]:
    context = BALANCE_SET
    failed_below_locked = with_lock(500 * ATP).block(balance_set(balance=100 * ATP)).ok(rollback())
    return [
        code_case(context, R.OK, "The authority sets Alice's total to 2,000 ATP.", fresh(), balance_set()),
        code_case(context, R.SIGNATURE_INVALID, "A balance set signed by a platform, not the authority.", fresh(),
                  balance_set(signer=THOR)),
        code_case(context, R.BALANCE_EXCEEDS_MAXIMUM, "A balance of MAX_SUPPLY + 1.", fresh(),
                  balance_set(balance=MAX_SUPPLY + 1)),
        code_case(context, R.UNKNOWN_ACCOUNT, "A balance set for an agent with no account.", fresh(),
                  balance_set(agent=NOBODY)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_AGENT, "s1 again, for Bob instead of Alice.", with_balance_set(),
                  balance_set(agent=BOB)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_BALANCE, "s1 again, for 3,000 ATP instead of 2,000.",
                  with_balance_set(), balance_set(balance=3_000 * ATP)),
        code_case(context, R.EXISTS, "s1 resubmitted identically.", with_balance_set(), balance_set()),
        code_case(context, R.ID_ALREADY_FAILED, "s1 failed below the locked amount; after the rollback s1 stays failed.",
                  failed_below_locked, balance_set(balance=100 * ATP)),
        code_case(context, R.BALANCE_BELOW_LOCKED, "Alice has 500 ATP locked; a balance of 500 ATP - 1 unit.",
                  with_lock(500 * ATP), balance_set(balance=500 * ATP - 1)),
        code_case(context, R.SUPPLY_EXCEEDS_MAXIMUM, "Alice set to MAX_SUPPLY while others hold 1,500 ATP.", fresh(),
                  balance_set(balance=MAX_SUPPLY)),
    ]


# --- codes: proofs and reputation updates ----------------------------------------------------------------------
def proof_code_cases() -> list[Case]:
    context = EXECUTION_PROOF
    return [
        code_case(context, R.OK, "Bob proves task-A at quality 8500 (threshold 7000): Bob is paid.", with_task(), proof()),
        code_case(context, R.EXECUTING_PLATFORM_NOT_IN_GROUP, "A proof from a platform outside the group.", with_task(),
                  proof(executing_platform=UNKNOWN_PLATFORM)),
        code_case(context, R.SIGNATURE_INVALID, "A proof signed by the delegating platform.", with_task(),
                  proof(signer=THOR)),
        code_case(context, R.QUALITY_EXCEEDS_MAXIMUM, "A proof of quality 10001 bp.", with_task(),
                  proof(quality_bp=MAX_QUALITY_BP + 1)),
        code_case(context, R.EXECUTION_TIME_EXCEEDS_MAXIMUM, "A proof of execution time MAX_EXECUTION_TIME_MS + 1.",
                  with_task(), proof(execution_time_ms=MAX_EXECUTION_TIME_MS + 1)),
        code_case(context, R.UNKNOWN_ACCOUNT, "A proof by an agent with no account.", with_task(),
                  proof(executing_agent=NOBODY, executing_platform=SPROUT)),
        code_case(context, R.AGENT_NOT_HOSTED_BY_PLATFORM, "A proof naming Carol on Sprout; Legion hosts Carol.",
                  with_task(), proof(executing_agent=CAROL, executing_platform=SPROUT)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, "task-A proven; a proof again, by Erin.",
                  with_settled_task(), proof(executing_agent=ERIN)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_QUALITY_BP, "task-A proven at 8500; a proof again at 9000.",
                  with_settled_task(), proof(quality_bp=9_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS, "task-A proven; a proof again with another time.",
                  with_settled_task(), proof(execution_time_ms=2_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_RESULT_HASH, "task-A proven; a proof again with another result.",
                  with_settled_task(), proof(result_hash=digest("other result"))),
        code_case(context, R.EXISTS, "task-A proven; the same proof again.", with_settled_task(), proof()),
        code_case(context, R.TASK_NOT_FOUND, "A proof for a task id never created.", fresh(), proof(task_id="nope")),
        code_case(context, R.EXECUTING_PLATFORM_MISMATCH, "A proof for task-A from Legion (Carol); Sprout executes it.",
                  with_task(), proof(executing_agent=CAROL)),
        code_case(context, R.EXECUTING_AGENT_MISMATCH, "A proof for task-A by Erin on Sprout; Bob executes it.",
                  with_task(), proof(executing_agent=ERIN)),
        code_case(context, R.TASK_EXPIRED, "A proof for task-A after it expired.", with_expired_task(), proof()),
    ]


def reputation_code_cases() -> list[Case]:
    context = REPUTATION_UPDATE
    failed_not_settled = with_task().block(reputation()).ok(proof())
    return [
        code_case(context, R.OK, "Legion reports task-A (8500) on Sprout: 5000 -> 5350.", with_settled_task(), reputation()),
        code_case(context, R.UNKNOWN_PLATFORM, "An update reported by a platform the genesis does not name.",
                  with_settled_task(), reputation(reporter_platform=UNKNOWN_PLATFORM)),
        code_case(context, R.SIGNATURE_INVALID, "An update naming Legion as reporter, signed by Thor.",
                  with_settled_task(), reputation(signer=THOR)),
        code_case(context, R.QUALITY_EXCEEDS_MAXIMUM, "An update of quality 10001 bp.", with_settled_task(),
                  reputation(quality_bp=MAX_QUALITY_BP + 1, reputation_bp=GENESIS_REPUTATION)),
        code_case(context, R.REPUTATION_EXCEEDS_MAXIMUM, "An update to reputation 10001 bp.", with_settled_task(),
                  reputation(reputation_bp=MAX_REPUTATION_BP + 1)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_TASK_ID, "r1 again, for task-B.", with_reputation_update(),
                  reputation(task_id="task-B")),
        code_case(context, R.EXISTS_WITH_DIFFERENT_PLATFORM, "r1 again, rating Legion.", with_reputation_update(),
                  reputation(platform=LEGION)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_QUALITY_BP, "r1 again, with quality 9000.", with_reputation_update(),
                  reputation(quality_bp=9_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_REPUTATION_BP, "r1 again, with reputation 6000.",
                  with_reputation_update(), reputation(reputation_bp=6_000)),
        code_case(context, R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM, "r1 again, reported by Thor.",
                  with_reputation_update(), reputation(reporter_platform=THOR)),
        code_case(context, R.EXISTS, "r1 resubmitted identically.", with_reputation_update(), reputation()),
        code_case(context, R.ID_ALREADY_FAILED, "r1 failed while task-A was pending; once it settled, r1 stays failed.",
                  failed_not_settled, reputation()),
        code_case(context, R.TASK_NOT_FOUND, "An update for a task id never created.", fresh(), reputation(task_id="nope")),
        code_case(context, R.EXECUTING_PLATFORM_MISMATCH, "An update rating Legion for task-A; Sprout executed it.",
                  with_settled_task(), reputation(platform=LEGION)),
        code_case(context, R.TASK_NOT_SETTLED, "An update for task-A while it is pending.", with_task(), reputation()),
        code_case(context, R.REPUTATION_ALREADY_UPDATED, "task-A reported by r1; r2 reports it again.",
                  with_reputation_update(), reputation("r2")),
        code_case(context, R.QUALITY_MISMATCH, "task-A settled at 8500; an update crediting 9000.", with_settled_task(),
                  reputation(quality_bp=9_000)),
        code_case(context, R.REPUTATION_MISMATCH, "An update leaving Sprout's reputation at 5000.", with_settled_task(),
                  reputation(reputation_bp=GENESIS_REPUTATION)),
    ]


def code_cases() -> list[Case]:
    return [*lock_code_cases(), *task_lock_code_cases(), *task_code_cases(), *commit_code_cases(),
            *rollback_code_cases(), *balance_set_code_cases(), *proof_code_cases(), *reputation_code_cases()]


# --- blocks ------------------------------------------------------------------------------------------------------
def block_cases() -> list[Case]:
    context = BLOCK
    first, second = lock("t1"), lock("t2")
    swapped = fresh().make_block((second, first))
    other_order = Block(header=swapped.header, transactions=(first, second))
    rejected_then_valid = fresh().block(lock(), ts=fresh().now)
    return [
        code_case(context, R.OK, "An empty block applies.", fresh()),
        code_case(context, R.BLOCK_HEIGHT_MISMATCH, "The first block claims height 2.", fresh(), lock(), height=2),
        code_case(context, R.BLOCK_PREVIOUS_HASH_MISMATCH, "The second block names a wrong previous hash.", with_lock(),
                  lock("t2"), previous_hash="11" * 32),
        code_case(context, R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM, "A block at MAX_TIMESTAMP_MS + 1.", fresh(), lock(),
                  ts=MAX_TIMESTAMP_MS + 1),
        code_case(context, R.BLOCK_TIMESTAMP_NOT_INCREASING, "A block at the previous block's timestamp.", with_lock(),
                  lock("t2"), ts=with_lock().now),
        code_case(context, R.BLOCK_PROPOSER_UNKNOWN, "A block proposed by a platform outside the group.", fresh(), lock(),
                  proposer=UNKNOWN_PLATFORM),
        code_case(context, R.BLOCK_TRANSACTION_ROOT_MISMATCH, "A header whose transaction root is wrong.", fresh(),
                  lock(), transaction_root="22" * 32),
        code_case(context, R.BLOCK_TRANSACTION_INVALID, "The block's second transaction locks amount 0.", fresh(),
                  lock("t1"), lock("t2", amount=0)),
        with_lock().case("blocks", "height_repeats_previous", "The second block repeats height 1.", lock("t2"),
                         height=1),
        fresh().case("blocks", "first_block_previous_hash_not_zero", "The first block's previous hash is not zeros.",
                     lock(), previous_hash="ab" * 32),
        fresh().case("blocks", "timestamp_equals_genesis_time", "The first block is at the genesis time.", lock(),
                     ts=fresh().now),
        with_lock().case("blocks", "timestamp_goes_back", "The second block is 1 ms before the first.", lock("t2"),
                         ts=with_lock().now - 1),
        fresh().case_of_block("blocks", "transaction_root_of_other_order",
                              "The root is of the same transactions in the other order.", other_order),
        rejected_then_valid.case("blocks", "valid_block_after_a_rejected_one",
                                 "A rejected block changed nothing: the same lock at height 1 then applies.", lock()),
        fresh().case("blocks", "first_static_failure_beats_state_failures",
                     "A state failure, then two static failures: the block is invalid at the first static one.",
                     lock(amount=5_000 * ATP), lock("t2", amount=0), lock("t3", timeout_ms=0)),
    ]


# --- precedence ------------------------------------------------------------------------------------------------
Setup = tuple[History, tuple[AnyTransaction, ...], dict[str, Any]]
"""A pre-state, the block under test's transactions, and its header options."""


@dataclass(frozen=True)
class Precedence:
    """An input wrong in two ways (`both`), which must report `first`, the code listed
    earlier; and the input with the later fault alone (`later_alone`), which shows that
    fault is real: a node checking the two in the wrong order reports `later`."""

    context: str
    first: ResultCode
    later: ResultCode
    both: Callable[[], Setup]
    later_alone: Callable[[], Setup]

    @property
    def name(self) -> str:
        return f"{self.context}.{self.first.value}.before.{self.later.value}"

    def case(self, which: Callable[[], Setup] | None = None) -> Case:
        history, txs, block = (which or self.both)()
        description = (f"A {self.context} wrong as both {self.first.value} and {self.later.value}: "
                       f"{self.first.value} comes first.")
        return history.case("precedence", self.name, description, *txs, **block)

    def later_alone_case(self) -> Case:
        return self.case(self.later_alone)


def one(builder: Callable[..., AnyTransaction]) -> Callable[..., tuple[AnyTransaction, ...]]:
    return lambda **fields: (builder(**fields),)


def task_txs(missing_lock: bool = False, **fields: Any) -> tuple[AnyTransaction, ...]:
    made = task(**fields)
    return (made,) if missing_lock else (made, lock_for(made))


def static_pair(context: str, build: Callable[..., tuple[AnyTransaction, ...]], fault_first: dict[str, Any],
                fault_later: dict[str, Any], first: ResultCode, later: ResultCode) -> Precedence:
    return Precedence(context, first, later, lambda: (fresh(), build(**fault_first, **fault_later), {}),
                      lambda: (fresh(), build(**fault_later), {}))


def static_precedences() -> list[Precedence]:
    c_lock, c_task, c_proof, c_rep = ATP_TRANSFER_LOCK, FEDERATION_TASK, EXECUTION_PROOF, REPUTATION_UPDATE
    nobody_on_sprout = {"dest_agent": NOBODY, "dest_platform": SPROUT}
    executor_nobody = {"executing_agent": NOBODY, "executing_platform": SPROUT}
    return [
        static_pair(c_lock, one(lock), {"dest_platform": UNKNOWN_PLATFORM}, {"signer": SPROUT},
                    R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
        static_pair(c_lock, one(lock), {"signer": SPROUT}, {"amount": 0}, R.SIGNATURE_INVALID,
                    R.AMOUNT_MUST_NOT_BE_ZERO),
        static_pair(c_lock, one(lock), {"amount": 0}, {"timeout_ms": 0}, R.AMOUNT_MUST_NOT_BE_ZERO,
                    R.TIMEOUT_MUST_NOT_BE_ZERO),
        static_pair(c_lock, one(lock), {"amount": 0}, nobody_on_sprout, R.AMOUNT_MUST_NOT_BE_ZERO, R.UNKNOWN_ACCOUNT),
        static_pair(c_lock, one(lock), {"amount": MAX_AMOUNT + 1}, {"timeout_ms": MAX_TIMEOUT_MS + 1},
                    R.AMOUNT_EXCEEDS_MAXIMUM, R.TIMEOUT_EXCEEDS_MAXIMUM),
        static_pair(c_lock, one(lock), {"timeout_ms": MAX_TIMEOUT_MS + 1}, {"dest_agent": ALICE},
                    R.TIMEOUT_EXCEEDS_MAXIMUM, R.SELF_TRANSFER),
        static_pair(c_lock, one(lock), nobody_on_sprout, {"source_platform": LEGION}, R.UNKNOWN_ACCOUNT,
                    R.AGENT_NOT_HOSTED_BY_PLATFORM),
        static_pair(c_lock, one(lock), {"dest_platform": LEGION}, {"dest_agent": ALICE},
                    R.AGENT_NOT_HOSTED_BY_PLATFORM, R.SELF_TRANSFER),
        static_pair(c_task, task_txs, {"delegating_platform": UNKNOWN_PLATFORM},
                    {"executing_platform": UNKNOWN_PLATFORM}, R.UNKNOWN_PLATFORM, R.EXECUTING_PLATFORM_NOT_IN_GROUP),
        static_pair(c_task, task_txs, {"executing_platform": UNKNOWN_PLATFORM}, {"signer": SPROUT},
                    R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.SIGNATURE_INVALID),
        static_pair(c_task, task_txs, {"signer": LEGION}, {"cost": 0}, R.SIGNATURE_INVALID,
                    R.AMOUNT_MUST_NOT_BE_ZERO),
        static_pair(c_task, task_txs, {"timeout_ms": 0}, {"quality_threshold_bp": MAX_THRESHOLD_BP + 1},
                    R.TIMEOUT_MUST_NOT_BE_ZERO, R.THRESHOLD_EXCEEDS_MAXIMUM),
        static_pair(c_task, task_txs, {"quality_threshold_bp": MAX_THRESHOLD_BP + 1}, executor_nobody,
                    R.THRESHOLD_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT),
        static_pair(c_task, task_txs, executor_nobody, {"delegating_platform": LEGION}, R.UNKNOWN_ACCOUNT,
                    R.AGENT_NOT_HOSTED_BY_PLATFORM),
        static_pair(c_task, task_txs, {"executing_agent": ALICE}, {"missing_lock": True}, R.SELF_TRANSFER,
                    R.TASK_LOCK_MISSING),
        static_pair(c_proof, one(proof), {"executing_platform": UNKNOWN_PLATFORM}, {"quality_bp": MAX_QUALITY_BP + 1},
                    R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.QUALITY_EXCEEDS_MAXIMUM),
        static_pair(c_proof, one(proof), {"signer": THOR}, {"quality_bp": MAX_QUALITY_BP + 1}, R.SIGNATURE_INVALID,
                    R.QUALITY_EXCEEDS_MAXIMUM),
        static_pair(c_proof, one(proof), {"quality_bp": MAX_QUALITY_BP + 1},
                    {"execution_time_ms": MAX_EXECUTION_TIME_MS + 1}, R.QUALITY_EXCEEDS_MAXIMUM,
                    R.EXECUTION_TIME_EXCEEDS_MAXIMUM),
        static_pair(c_proof, one(proof), {"execution_time_ms": MAX_EXECUTION_TIME_MS + 1},
                    {"executing_agent": CAROL, "executing_platform": SPROUT}, R.EXECUTION_TIME_EXCEEDS_MAXIMUM,
                    R.AGENT_NOT_HOSTED_BY_PLATFORM),
        static_pair(c_rep, one(reputation), {"reporter_platform": UNKNOWN_PLATFORM}, {"signer": THOR},
                    R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
        static_pair(c_rep, one(reputation), {"signer": THOR},
                    {"quality_bp": MAX_QUALITY_BP + 1, "reputation_bp": GENESIS_REPUTATION}, R.SIGNATURE_INVALID,
                    R.QUALITY_EXCEEDS_MAXIMUM),
        static_pair(c_rep, one(reputation), {"quality_bp": MAX_QUALITY_BP + 1},
                    {"reputation_bp": MAX_REPUTATION_BP + 1}, R.QUALITY_EXCEEDS_MAXIMUM, R.REPUTATION_EXCEEDS_MAXIMUM),
        static_pair(BALANCE_SET, one(balance_set), {"signer": THOR}, {"balance": MAX_SUPPLY + 1},
                    R.SIGNATURE_INVALID, R.BALANCE_EXCEEDS_MAXIMUM),
        static_pair(BALANCE_SET, one(balance_set), {"balance": MAX_SUPPLY + 1}, {"agent": NOBODY},
                    R.BALANCE_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT),
        static_pair(ATP_TRANSFER_COMMIT, one(commit), {"platform": UNKNOWN_PLATFORM}, {"signer": LEGION},
                    R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID),
    ]


def block_setup(*faults: dict[str, Any]) -> Setup:
    """A block after one applied lock t0, carrying one lock unless a fault says what it
    carries; each fault sets header options (`ts`, `proposer`, header fields) or `txs`."""
    options: dict[str, Any] = {"txs": (lock(),)}
    for fault in faults:
        options.update(fault)
    txs = options.pop("txs")
    return History().ok(lock("t0")), txs, options


def block_pair(first_fault: dict[str, Any], later_fault: dict[str, Any], first: ResultCode,
               later: ResultCode) -> Precedence:
    return Precedence(BLOCK, first, later, lambda: block_setup(first_fault, later_fault),
                      lambda: block_setup(later_fault))


def block_precedences() -> list[Precedence]:
    height = {"height": 7}
    previous = {"previous_hash": "11" * 32}
    above_max = {"ts": MAX_TIMESTAMP_MS + 1}
    not_increasing = {"ts": History().now + STEP_MS}
    proposer = {"proposer": UNKNOWN_PLATFORM}
    root = {"transaction_root": "22" * 32}
    static_tx = {"txs": (lock(amount=0),)}
    return [
        block_pair(height, previous, R.BLOCK_HEIGHT_MISMATCH, R.BLOCK_PREVIOUS_HASH_MISMATCH),
        block_pair(previous, above_max, R.BLOCK_PREVIOUS_HASH_MISMATCH, R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM),
        block_pair(above_max, proposer, R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM, R.BLOCK_PROPOSER_UNKNOWN),
        block_pair(not_increasing, proposer, R.BLOCK_TIMESTAMP_NOT_INCREASING, R.BLOCK_PROPOSER_UNKNOWN),
        block_pair(proposer, root, R.BLOCK_PROPOSER_UNKNOWN, R.BLOCK_TRANSACTION_ROOT_MISMATCH),
        block_pair(root, static_tx, R.BLOCK_TRANSACTION_ROOT_MISMATCH, R.BLOCK_TRANSACTION_INVALID),
        block_pair(height, static_tx, R.BLOCK_HEIGHT_MISMATCH, R.BLOCK_TRANSACTION_INVALID),
    ]


def state_pair(context: str, first: ResultCode, later: ResultCode, both: tuple[Callable[[], History], tuple[Any, ...]],
               later_alone: tuple[Callable[[], History], tuple[Any, ...]]) -> Precedence:
    return Precedence(context, first, later, lambda: (both[0](), both[1], {}),
                      lambda: (later_alone[0](), later_alone[1], {}))


def state_precedences() -> list[Precedence]:
    c_lock, c_rep = ATP_TRANSFER_LOCK, REPUTATION_UPDATE
    failed_update = lambda: fresh().block(reputation(task_id="nope"))  # noqa: E731
    failed_set = lambda: with_lock(500 * ATP).block(balance_set(balance=1))  # noqa: E731
    return [
        state_pair(c_lock, R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, R.EXISTS_WITH_DIFFERENT_AMOUNT,
                   (with_lock, (lock(source_agent=DAVE, amount=200 * ATP),)), (with_lock, (lock(amount=200 * ATP),))),
        state_pair(c_lock, R.EXISTS_WITH_DIFFERENT_AMOUNT, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
                   (with_lock, (lock(amount=200 * ATP, timeout_ms=1),)), (with_lock, (lock(timeout_ms=1),))),
        state_pair(c_lock, R.EXISTS_WITH_DIFFERENT_AMOUNT, R.INSUFFICIENT_AVAILABLE,
                   (with_lock, (lock(amount=5_000 * ATP),)), (with_lock, (lock("t2", amount=5_000 * ATP),))),
        state_pair(c_lock, R.ID_ALREADY_FAILED, R.INSUFFICIENT_AVAILABLE,
                   (with_failed_lock, (lock(amount=5_000 * ATP),)), (fresh, (lock(amount=5_000 * ATP),))),
        state_pair(ATP_TRANSFER_COMMIT, R.EXISTS_WITH_DIFFERENT_PLATFORM, R.UNAUTHORIZED_PLATFORM,
                   (with_committed_lock, (commit(platform=SPROUT),)), (with_lock, (commit(platform=SPROUT),))),
        state_pair(ATP_TRANSFER_ROLLBACK, R.UNAUTHORIZED_PLATFORM, R.TRANSFER_ALREADY_COMMITTED,
                   (with_committed_lock, (rollback(platform=SPROUT),)), (with_committed_lock, (rollback(),))),
        state_pair(ATP_TRANSFER_COMMIT, R.UNAUTHORIZED_PLATFORM, R.TRANSFER_LINKED_TO_TASK,
                   (with_task, (commit("task-A", platform=SPROUT),)), (with_task, (commit("task-A"),))),
        state_pair(ATP_TRANSFER_ROLLBACK, R.UNAUTHORIZED_PLATFORM, R.TRANSFER_LINKED_TO_TASK,
                   (with_task, (rollback("task-A", platform=SPROUT),)), (with_task, (rollback("task-A"),))),
        state_pair(ATP_TRANSFER_ROLLBACK, R.TRANSFER_LINKED_TO_TASK, R.TRANSFER_EXPIRED,
                   (with_expired_task, (rollback("task-A"),)), (with_expired_lock, (rollback(),))),
        state_pair(EXECUTION_PROOF, R.EXECUTING_PLATFORM_MISMATCH, R.TASK_EXPIRED,
                   (with_expired_task, (proof(executing_agent=CAROL),)), (with_expired_task, (proof(),))),
        state_pair(EXECUTION_PROOF, R.EXECUTING_AGENT_MISMATCH, R.TASK_EXPIRED,
                   (with_expired_task, (proof(executing_agent=ERIN),)), (with_expired_task, (proof(),))),
        state_pair(EXECUTION_PROOF, R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, R.EXISTS_WITH_DIFFERENT_QUALITY_BP,
                   (with_settled_task, (proof(executing_agent=ERIN, quality_bp=1),)),
                   (with_settled_task, (proof(quality_bp=1),))),
        state_pair(c_rep, R.EXECUTING_PLATFORM_MISMATCH, R.TASK_NOT_SETTLED,
                   (with_task, (reputation(platform=LEGION),)), (with_task, (reputation(),))),
        state_pair(c_rep, R.REPUTATION_ALREADY_UPDATED, R.QUALITY_MISMATCH,
                   (with_reputation_update, (reputation("r2", quality_bp=1),)),
                   (with_settled_task, (reputation("r2", quality_bp=1),))),
        state_pair(c_rep, R.QUALITY_MISMATCH, R.REPUTATION_MISMATCH,
                   (with_settled_task, (reputation(quality_bp=1, reputation_bp=1),)),
                   (with_settled_task, (reputation(reputation_bp=1),))),
        state_pair(c_rep, R.ID_ALREADY_FAILED, R.TASK_NOT_FOUND,
                   (failed_update, (reputation(task_id="nope"),)), (fresh, (reputation(task_id="nope"),))),
        state_pair(c_rep, R.EXISTS_WITH_DIFFERENT_TASK_ID, R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM,
                   (with_reputation_update, (reputation(task_id="task-B", reporter_platform=THOR),)),
                   (with_reputation_update, (reputation(reporter_platform=THOR),))),
        state_pair(BALANCE_SET, R.EXISTS_WITH_DIFFERENT_AGENT, R.EXISTS_WITH_DIFFERENT_BALANCE,
                   (with_balance_set, (balance_set(agent=BOB, balance=1),)), (with_balance_set, (balance_set(balance=1),))),
        state_pair(BALANCE_SET, R.ID_ALREADY_FAILED, R.BALANCE_BELOW_LOCKED,
                   (failed_set, (balance_set(balance=1),)), (lambda: with_lock(500 * ATP), (balance_set(balance=1),))),
        state_pair(FEDERATION_TASK, R.EXISTS_WITH_DIFFERENT_COST, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
                   (with_task, pair(cost=1 * ATP, timeout_ms=1)), (with_task, pair(timeout_ms=1))),
        state_pair(FEDERATION_TASK, R.ID_ALREADY_FAILED, R.LINKED_TRANSACTION_FAILED,
                   (lambda: fresh().block(*pair(cost=5_000 * ATP)), pair(cost=5_000 * ATP)),
                   (fresh, pair(cost=5_000 * ATP))),
        state_pair(FEDERATION_TASK, R.ID_USED_BY_TRANSFER, R.LINKED_TRANSACTION_FAILED,
                   (with_lock, pair(task_id="t1", cost=5_000 * ATP)), (with_lock, pair(task_id="t9", cost=5_000 * ATP))),
    ]


def precedences() -> list[Precedence]:
    return [*static_precedences(), *block_precedences(), *state_precedences()]


def precedence_cases() -> list[Case]:
    return [entry.case() for entry in precedences()]


# --- idempotency -------------------------------------------------------------------------------------------------
def resubmissions() -> dict[str, tuple[History, tuple[AnyTransaction, ...]]]:
    """Each transaction type, applied, with the transactions that resubmit it."""
    return {
        ATP_TRANSFER_LOCK: (with_lock(), (lock(),)),
        FEDERATION_TASK: (with_task(), pair()),
        ATP_TRANSFER_COMMIT: (with_committed_lock(), (commit(),)),
        ATP_TRANSFER_ROLLBACK: (with_rolled_back_lock(), (rollback(),)),
        BALANCE_SET: (with_balance_set(), (balance_set(),)),
        EXECUTION_PROOF: (with_settled_task(), (proof(),)),
        REPUTATION_UPDATE: (with_reputation_update(), (reputation(),)),
    }


def idempotency_cases() -> list[Case]:
    cases = [
        history.case("idempotency", f"{context}.resubmitted_three_times",
                     f"A {context} that applied, three more times in one block: each exists, nothing changes.",
                     *(txs * 3))
        for context, (history, txs) in resubmissions().items()
    ]
    funded = History().block(lock(amount=2_000 * ATP)).ok(balance_set(balance=5_000 * ATP))
    task_funded = History().block(*pair(cost=2_000 * ATP)).ok(balance_set(balance=5_000 * ATP))
    return [
        *cases,
        fresh().case("idempotency", "resubmitted_in_the_block_that_applies_it",
                     "A lock twice and a task pair twice in one block: the second of each exists.",
                     lock(), lock(), *pair(), *pair()),
        with_committed_lock().case("idempotency", "lock_resubmitted_after_its_commit",
                                   "Lock t1 resubmitted after t1 was committed: it exists.", lock()),
        with_task().case("idempotency", "plain_lock_identical_to_a_task_lock",
                         "A plain lock identical to task-A's lock: transfer and task ids share one namespace.",
                         lock_for(task())),
        with_task().case("idempotency", "plain_lock_reusing_a_task_id_to_another_agent",
                         "A plain lock with task-A's id, to Erin: its destination differs.",
                         lock("task-A", dest_agent=ERIN, amount=300 * ATP)),
        funded.case("idempotency", "failed_lock_id_stays_failed_after_funds_arrive",
                    "t1 failed on funds, then Alice got 5,000 ATP: t1 again, for any amount, stays failed.",
                    lock(amount=2_000 * ATP), lock(amount=1 * ATP)),
        funded.case("idempotency", "fresh_id_applies_where_the_failed_one_does_not",
                    "After t1 failed and funds arrived, t2 with t1's fields applies.", lock("t2", amount=2_000 * ATP)),
        task_funded.case("idempotency", "failed_task_id_stays_failed_after_funds_arrive",
                         "task-A failed on funds, then funds arrived: task-A again stays failed, its lock with it.",
                         *pair(cost=2_000 * ATP)),
        task_funded.case("idempotency", "plain_lock_reusing_a_failed_task_id",
                         "task-A failed: a plain lock with id task-A is failed too (one namespace).", lock("task-A")),
        History().block(lock("x", amount=5_000 * ATP)).case(
            "idempotency", "failed_transfer_id_is_free_as_a_balance_set_id",
            "Transfer id x failed: balance set x applies, its namespace is its own.", balance_set("x")),
        History().block(lock("x", amount=5_000 * ATP)).ok(*pair()).ok(proof()).case(
            "idempotency", "failed_transfer_id_is_free_as_an_update_id",
            "Transfer id x failed: reputation update x applies, its namespace is its own.", reputation("x")),
        fresh().case("idempotency", "failed_id_within_the_block_that_fails_it",
                     "t1 fails on funds, then t1 again in the same block for 1 ATP: already failed.",
                     lock(amount=5_000 * ATP), lock(amount=1 * ATP)),
    ]


# --- the deadline tie, and expiry -----------------------------------------------------------------------------
def with_task_and_lock_due_together() -> History:
    """task-A and plain lock t1, both with a 1 s timeout, in one block: one deadline."""
    return History().ok(*pair(timeout_ms=1_000), lock("t1", timeout_ms=1_000))


def deadline_cases() -> list[Case]:
    deadline = with_task_and_lock_due_together().now + 1_000
    due = with_task_and_lock_due_together
    after = deadline + 1
    return [
        due().case("deadline", "proof_at_deadline_accepted",
                   "A proof in the block whose timestamp equals the task's deadline is on time.", proof(), ts=deadline),
        due().case("deadline", "proof_one_ms_after_deadline_expired",
                   "One ms after the deadline the task expires first; the proof finds it expired.", proof(), ts=after),
        due().case("deadline", "commit_at_deadline_accepted",
                   "A commit in the block at the lock's deadline is on time.", commit(), ts=deadline),
        due().case("deadline", "commit_one_ms_after_deadline_expired",
                   "One ms after the deadline the lock expires first; the commit finds it expired.", commit(), ts=after),
        due().case("deadline", "rollback_at_deadline_accepted",
                   "A rollback in the block at the lock's deadline is on time.", rollback(), ts=deadline),
        due().case("deadline", "rollback_one_ms_after_deadline_expired",
                   "One ms after the deadline the rollback finds the lock expired.", rollback(), ts=after),
        due().case("deadline", "nothing_expires_at_the_deadline",
                   "An empty block at the deadline: nothing expires.", ts=deadline),
        due().case("deadline", "both_expire_one_ms_after_the_deadline",
                   "An empty block 1 ms after the deadline: the lock and the task expire.", ts=after),
        due().block(ts=deadline).case("deadline", "expiry_in_the_first_block_past_the_deadline",
                                      "A block at the deadline, then one 1 ms later: the second expires both.",
                                      ts=after),
    ]


def expiry_cases() -> list[Case]:
    mixed = History().ok(lock("b", timeout_ms=1_000), lock("a", timeout_ms=1_000), lock("c", timeout_ms=500),
                         *pair(timeout_ms=1_000))
    bytewise = History().ok(*(lock(name, amount=1 * ATP, timeout_ms=1_000) for name in ("alpha", "Zed", "9", "_")))
    all_funds = History().ok(lock(amount=1_000 * ATP, timeout_ms=1_000))
    settled = History().ok(lock("t1", timeout_ms=1_000), lock("t2", timeout_ms=1_000),
                           lock("t3", timeout_ms=1_000)).ok(commit("t1"), rollback("t2"))
    staggered = History().ok(lock("t1", timeout_ms=1_000), lock("t2", timeout_ms=5_000))
    t1_expired = History().ok(lock("t1", timeout_ms=1_000), lock("t2", timeout_ms=5_000))
    t1_expired.block(ts=t1_expired.now + 2_000)
    return [
        mixed.case("expiry", "order_by_deadline_then_id",
                   "Locks b and a (1 s), c (0.5 s) and task-A (1 s) expire in one block: c, a, b, task-A.",
                   ts=mixed.now + 5_000),
        bytewise.case("expiry", "ids_ordered_bytewise",
                      "Locks alpha, Zed, 9 and _ expire together, ordered by the bytes of their ids.",
                      ts=bytewise.now + 5_000),
        all_funds.case("expiry", "expiry_frees_funds_before_the_transactions",
                       "All of Alice's ATP was locked; the block that expires the lock also locks it again.",
                       lock("t2", amount=1_000 * ATP), ts=all_funds.now + 2_000),
        settled.case("expiry", "settled_transfers_do_not_expire",
                     "t1 committed and t2 rolled back before their deadline: only open t3 expires.",
                     ts=settled.now + 5_000),
        staggered.case("expiry", "only_the_due_lock_expires",
                       "t1 (1 s) is due and t2 (5 s) is not: only t1 expires.", ts=staggered.now + 2_000),
        t1_expired.case("expiry", "the_later_lock_expires_in_a_later_block",
                        "t1 expired in the previous block; t2 expires now, and t1 does not again.",
                        ts=t1_expired.now + 4_000),
        with_task(timeout_ms=1_000).case("expiry", "expired_task_refunds_the_delegator",
                                         "task-A expires unproven: Alice's 300 ATP are unlocked, Bob gets nothing.",
                                         ts=with_task(timeout_ms=1_000).now + 5_000),
    ]


# --- tasks and reputation ---------------------------------------------------------------------------------------
def task_cases() -> list[Case]:
    paid = task()
    two_tasks = History().ok(*pair(task_id="task-A"), *pair(task_id="task-B"))
    return [
        two_tasks.case("tasks", "quality_at_threshold_pays_one_below_refunds",
                       "Threshold 7000: task-A proven at 7000 pays Bob, task-B at 6999 refunds Alice.",
                       proof("task-A", quality_bp=7_000), proof("task-B", quality_bp=6_999)),
        with_task(quality_threshold_bp=0).case("tasks", "threshold_zero_pays_quality_zero",
                                               "Threshold 0: a proof of quality 0 pays.", proof(quality_bp=0)),
        with_task(quality_threshold_bp=MAX_THRESHOLD_BP).case(
            "tasks", "threshold_maximum_pays_quality_maximum", "Threshold 10000: a proof of quality 10000 pays.",
            proof(quality_bp=MAX_QUALITY_BP)),
        fresh().case("tasks", "two_tasks_compete_for_funds",
                     "Two 600 ATP tasks from Alice's 1,000: the first pair applies, the second fails whole.",
                     *pair(task_id="task-A", cost=600 * ATP), *pair(task_id="task-B", cost=600 * ATP)),
        fresh().case("tasks", "task_and_its_proof_in_one_block",
                     "A task pair and its proof in one block: the proof settles it.", *pair(), proof()),
        fresh().case("tasks", "pair_after_a_plain_lock_in_one_block",
                     "A plain lock, then a task pair: the lock after the task is the task's.", lock(), *pair()),
        fresh().case("tasks", "lock_before_its_task", "A task's lock placed before the task: the lock is missing.",
                     lock_for(paid), paid),
        fresh().case("tasks", "transaction_between_task_and_lock",
                     "A commit between a task and its lock: the lock is missing.", paid, commit("task-A"), lock_for(paid)),
        fresh().case("tasks", "lock_pays_another_agent", "The task's lock pays Erin instead of Bob.",
                     paid, lock_for(paid, dest_agent=ERIN)),
        fresh().case("tasks", "lock_paid_by_another_agent", "The task's lock is paid by Dave instead of Alice.",
                     paid, lock_for(paid, source_agent=DAVE)),
        fresh().case("tasks", "lock_with_another_timeout", "The task's lock has a timeout 1 ms longer.",
                     paid, lock_for(paid, timeout_ms=paid.timeout_ms + 1)),
        fresh().case("tasks", "lock_from_another_platform", "The task's lock names Legion as source platform.",
                     paid, lock_for(paid, source_platform=LEGION)),
        fresh().case("tasks", "lock_to_another_platform", "The task's lock names Thor as destination platform.",
                     paid, lock_for(paid, dest_platform=THOR)),
        with_lock().case("tasks", "proof_for_a_plain_transfer", "A proof naming plain transfer t1: no such task.",
                         proof(task_id="t1")),
        with_settled_task(quality_bp=3_000).case("tasks", "failed_task_lock_cannot_be_rolled_back",
                                                 "task-A refunded on a low proof; a rollback of its lock is refused.",
                                                 rollback("task-A")),
    ]


def reputation_cases() -> list[Case]:
    rule_8501 = next_reputation(GENESIS_REPUTATION, 8_501)
    two_settled = History().ok(*pair(task_id="task-A"), *pair(task_id="task-B", cost=100 * ATP)).ok(
        proof("task-A", quality_bp=8_500), proof("task-B", quality_bp=9_000))
    after_first = next_reputation(GENESIS_REPUTATION, 8_500)
    return [
        with_settled_task(quality_bp=8_501).case(
            "reputation", "rule_rounds_down", "Quality 8501 from 5000: (5000*9000 + 8501*1000) / 10000 rounded down.",
            reputation(quality_bp=8_501, reputation_bp=rule_8501)),
        with_settled_task(quality_bp=8_501).case(
            "reputation", "rounding_up_is_rejected", "Quality 8501 from 5000, rounded up: reputation_mismatch.",
            reputation(quality_bp=8_501, reputation_bp=rule_8501 + 1)),
        with_expired_task().case("reputation", "expired_task_counts_as_quality_zero",
                                 "task-A expired unproven: its update credits quality 0 (5000 -> 4500).",
                                 reputation(quality_bp=0)),
        with_expired_task().case("reputation", "expired_task_with_its_threshold_quality_rejected",
                                 "task-A expired: an update crediting 8500 is a quality mismatch.", reputation()),
        with_settled_task(quality_bp=3_000).case("reputation", "refunded_task_counts_its_quality",
                                                 "task-A refunded at quality 3000: the update credits 3000.",
                                                 reputation(quality_bp=3_000)),
        with_settled_task().case("reputation", "the_rated_platform_may_report_itself",
                                 "Sprout reports its own task-A.", reputation(reporter_platform=SPROUT)),
        two_settled.case("reputation", "second_update_builds_on_the_first",
                         "Two updates for Sprout in one block: the second starts from the first's result.",
                         reputation("r1", "task-A", quality_bp=8_500),
                         reputation("r2", "task-B", quality_bp=9_000,
                                    reputation_bp=next_reputation(after_first, 9_000))),
        two_settled.case("reputation", "second_update_from_a_stale_reputation_rejected",
                         "The second update computed from the genesis reputation, not the first's result.",
                         reputation("r1", "task-A", quality_bp=8_500), reputation("r2", "task-B", quality_bp=9_000)),
    ]


# --- bounds and BALANCE_SET ---------------------------------------------------------------------------------------
def bound_cases() -> list[Case]:
    max_transactions = (commit(),) * MAX_BLOCK_TRANSACTIONS
    return [
        fresh().case("bounds", "lock_amount_at_maximum_passes_static_checks",
                     "A lock of MAX_AMOUNT is valid on its own and fails only on funds.", lock(amount=MAX_AMOUNT)),
        fresh().case("bounds", "lock_amount_at_uint64_maximum", "A lock of 2^64 - 1 units: above MAX_AMOUNT.",
                     lock(amount=MAX_UINT64)),
        fresh().case("bounds", "lock_of_exactly_the_available_amount", "Alice locks all her 1,000 ATP.",
                     lock(amount=1_000 * ATP)),
        fresh().case("bounds", "smallest_amount_and_timeout", "A lock of 1 unit for 1 ms.",
                     lock(amount=1, timeout_ms=1)),
        fresh().case("bounds", "lock_timeout_at_maximum", "A lock with timeout MAX_TIMEOUT_MS (30 days).",
                     lock(timeout_ms=MAX_TIMEOUT_MS)),
        fresh().case("bounds", "task_threshold_at_maximum", "A task with threshold 10000 bp.",
                     *pair(quality_threshold_bp=MAX_THRESHOLD_BP)),
        with_task().case("bounds", "proof_quality_and_execution_time_at_maximum",
                         "A proof of quality 10000 and execution time MAX_EXECUTION_TIME_MS.",
                         proof(quality_bp=MAX_QUALITY_BP, execution_time_ms=MAX_EXECUTION_TIME_MS)),
        with_settled_task().case("bounds", "reputation_at_maximum_passes_static_checks",
                                 "An update to reputation 10000 is valid on its own; the rule rejects it.",
                                 reputation(reputation_bp=MAX_REPUTATION_BP)),
        fresh().case("bounds", "timestamp_at_maximum_with_longest_timeout",
                     "A block at MAX_TIMESTAMP_MS locks with timeout MAX_TIMEOUT_MS: the deadline fits in 63 bits.",
                     lock(timeout_ms=MAX_TIMEOUT_MS), ts=MAX_TIMESTAMP_MS),
        with_lock().case("bounds", "exactly_max_block_transactions",
                         "A block of exactly MAX_BLOCK_TRANSACTIONS commits: the first applies, the rest exist.",
                         *max_transactions),
    ]


def balance_set_cases() -> list[Case]:
    others = GENESIS_SUPPLY - 1_000 * ATP
    at_maximum = History().ok(balance_set(balance=MAX_SUPPLY - others))
    return [
        fresh().case("balance_set", "supply_reaches_exactly_the_maximum",
                     "Alice set so that the supply is exactly MAX_SUPPLY.", balance_set(balance=MAX_SUPPLY - others)),
        at_maximum.case("balance_set", "supply_one_above_the_maximum",
                        "The supply is MAX_SUPPLY; Bob set from 0 to 1 unit.", balance_set("s2", agent=BOB, balance=1)),
        at_maximum.case("balance_set", "lowering_at_the_maximum",
                        "The supply is MAX_SUPPLY; Alice lowered by 1 unit.",
                        balance_set("s2", balance=MAX_SUPPLY - others - 1)),
        fresh().case("balance_set", "balance_at_max_supply_passes_static_checks",
                     "Bob set to MAX_SUPPLY is valid on its own; the supply bound rejects it.",
                     balance_set(agent=BOB, balance=MAX_SUPPLY)),
        with_lock(500 * ATP).case("balance_set", "balance_equal_to_locked", "500 ATP locked; Alice set to 500 ATP.",
                                  balance_set(balance=500 * ATP)),
        with_lock(500 * ATP).case("balance_set", "balance_one_below_locked",
                                  "500 ATP locked; Alice set to 500 ATP - 1 unit.",
                                  balance_set(balance=500 * ATP - 1)),
        fresh().case("balance_set", "balance_zero", "Alice, with nothing locked, set to 0.", balance_set(balance=0)),
        fresh().case("balance_set", "same_balance", "Alice set to the 1,000 ATP she has.",
                     balance_set(balance=1_000 * ATP)),
        fresh().case("balance_set", "raise_then_lock", "Alice raised to 2,000 ATP, then a lock of 1,500 ATP applies.",
                     balance_set(), lock(amount=1_500 * ATP)),
        fresh().case("balance_set", "lower_then_lock", "Alice lowered to 10 ATP, then a lock of 100 ATP fails.",
                     balance_set(balance=10 * ATP), lock()),
        fresh().case("balance_set", "lowering_first_makes_room",
                     "Alice set to 0, then Bob to MAX_SUPPLY - 1,500 ATP: the supply is exactly MAX_SUPPLY.",
                     balance_set("s1", balance=0), balance_set("s2", agent=BOB, balance=MAX_SUPPLY - others)),
        fresh().case("balance_set", "raising_first_exceeds",
                     "The same two sets in the other order: Bob's comes first and exceeds MAX_SUPPLY.",
                     balance_set("s2", agent=BOB, balance=MAX_SUPPLY - others), balance_set("s1", balance=0)),
    ]


# --- the design documents' flows ----------------------------------------------------------------------------------
def flow_cases() -> list[Case]:
    """The design documents' five flows (`examples/`): one case per block, the flow's
    blocks before it leading to its pre-state."""
    cases = []
    for path in sorted(EXAMPLES.glob("*.json")):
        result = load_and_replay(path.read_text(encoding="utf-8"))
        wire_genesis, _, _ = genesis_of(result.scenario.genesis)
        blocks = [outcome.block for outcome in result.blocks]
        for number in range(1, len(blocks) + 1):
            cases.append(ledger_case(
                "flows", f"{path.stem}.block-{number}", f"{path.stem}: block {number} of {len(blocks)}",
                wire_genesis, blocks[:number],
            ))
    return cases


HANDLERS: dict[str, Callable[[], list[Case]]] = {
    "codes": code_cases, "blocks": block_cases, "precedence": precedence_cases, "idempotency": idempotency_cases,
    "deadline": deadline_cases, "expiry": expiry_cases, "tasks": task_cases, "reputation": reputation_cases,
    "bounds": bound_cases, "balance_set": balance_set_cases, "flows": flow_cases,
}
"""Each handler of the ledger runner and the function that makes its cases."""


def ledger_cases() -> list[Case]:
    return [case for make in HANDLERS.values() for case in make()]
