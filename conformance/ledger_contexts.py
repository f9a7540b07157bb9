"""Where each result code can be reached: the (context, code) pairs the ledger cases
must cover.

A *context* is the block itself (`block`) or the kind of transaction a code is
reported for: each transaction type in lower case, with one type split in two,
because its codes differ: a plain `atp_transfer_lock`, and a `task_lock`, the
ATP_TRANSFER_LOCK that follows a FEDERATION_TASK and applies with it.

`spec.codes` says which codes exist and in what order they are checked, but not
which transaction types each one applies to, so the table is written here, once:
`REACHABLE` lists every pair some input reaches, and `UNREACHABLE` every pair the
context's check functions name in `spec/ledger.py` but that no input reaches, with
the reason. The two together must be exactly what those functions can return
(`codes_the_checks_name`, read from their syntax tree), so a code added to a check
function shows up here as missing until a case reaches it or a reason says why none
can. The test file holds the cases to the table both ways.
"""

import ast
import inspect
from functools import cache
from typing import Any

import spec.ledger
from spec.codes import KIND, ResultCode

R = ResultCode

BLOCK = "block"
ATP_TRANSFER_LOCK = "atp_transfer_lock"
TASK_LOCK = "task_lock"
ATP_TRANSFER_COMMIT = "atp_transfer_commit"
ATP_TRANSFER_ROLLBACK = "atp_transfer_rollback"
BALANCE_SET = "balance_set"
FEDERATION_TASK = "federation_task"
EXECUTION_PROOF = "execution_proof"
REPUTATION_UPDATE = "reputation_update"

EXISTS_CODES_OF_A_LOCK = (
    R.EXISTS_WITH_DIFFERENT_SOURCE_AGENT, R.EXISTS_WITH_DIFFERENT_DEST_AGENT, R.EXISTS_WITH_DIFFERENT_AMOUNT,
    R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
)
STATIC_CODES_OF_A_LOCK = (
    R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID, R.AMOUNT_MUST_NOT_BE_ZERO, R.AMOUNT_EXCEEDS_MAXIMUM,
    R.TIMEOUT_MUST_NOT_BE_ZERO, R.TIMEOUT_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT, R.AGENT_NOT_HOSTED_BY_PLATFORM,
    R.SELF_TRANSFER,
)

REACHABLE: dict[str, tuple[ResultCode, ...]] = {
    # Every block code but one: each header check, and a statically invalid transaction.
    BLOCK: tuple(code for code in ResultCode if KIND[code] in ("ok", "block") and code != R.BLOCK_TOO_MANY_TRANSACTIONS),
    ATP_TRANSFER_LOCK: (
        R.OK, *STATIC_CODES_OF_A_LOCK, *EXISTS_CODES_OF_A_LOCK, R.EXISTS, R.ID_ALREADY_FAILED,
        R.INSUFFICIENT_AVAILABLE,
    ),
    # A task's lock passed the task's pairing check, which ties its platforms, agents,
    # amount and timeout to the task's (checked first): only its signature can be wrong
    # on its own. On state, only funds fail it, or its task.
    TASK_LOCK: (R.OK, R.SIGNATURE_INVALID, R.EXISTS, R.INSUFFICIENT_AVAILABLE, R.LINKED_TRANSACTION_FAILED),
    ATP_TRANSFER_COMMIT: (
        R.OK, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID, R.EXISTS_WITH_DIFFERENT_PLATFORM, R.EXISTS,
        R.TRANSFER_NOT_FOUND, R.UNAUTHORIZED_PLATFORM, R.TRANSFER_LINKED_TO_TASK, R.TRANSFER_ALREADY_ROLLED_BACK,
        R.TRANSFER_EXPIRED,
    ),
    ATP_TRANSFER_ROLLBACK: (
        R.OK, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID, R.EXISTS_WITH_DIFFERENT_PLATFORM, R.EXISTS,
        R.TRANSFER_NOT_FOUND, R.UNAUTHORIZED_PLATFORM, R.TRANSFER_LINKED_TO_TASK, R.TRANSFER_ALREADY_COMMITTED,
        R.TRANSFER_EXPIRED,
    ),
    BALANCE_SET: (
        R.OK, R.SIGNATURE_INVALID, R.BALANCE_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT, R.EXISTS_WITH_DIFFERENT_AGENT,
        R.EXISTS_WITH_DIFFERENT_BALANCE, R.EXISTS, R.ID_ALREADY_FAILED, R.BALANCE_BELOW_LOCKED,
        R.SUPPLY_EXCEEDS_MAXIMUM,
    ),
    FEDERATION_TASK: (
        R.OK, R.UNKNOWN_PLATFORM, R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.SIGNATURE_INVALID, R.AMOUNT_MUST_NOT_BE_ZERO,
        R.AMOUNT_EXCEEDS_MAXIMUM, R.TIMEOUT_MUST_NOT_BE_ZERO, R.TIMEOUT_EXCEEDS_MAXIMUM,
        R.THRESHOLD_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT, R.AGENT_NOT_HOSTED_BY_PLATFORM, R.SELF_TRANSFER,
        R.TASK_LOCK_MISSING, R.TASK_LOCK_MISMATCH, R.EXISTS_WITH_DIFFERENT_DELEGATING_AGENT,
        R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, R.EXISTS_WITH_DIFFERENT_COST,
        R.EXISTS_WITH_DIFFERENT_QUALITY_THRESHOLD_BP, R.EXISTS_WITH_DIFFERENT_TIMEOUT_MS,
        R.EXISTS_WITH_DIFFERENT_TASK_DATA_HASH, R.EXISTS, R.ID_ALREADY_FAILED, R.ID_USED_BY_TRANSFER,
        R.LINKED_TRANSACTION_FAILED,
    ),
    EXECUTION_PROOF: (
        R.OK, R.EXECUTING_PLATFORM_NOT_IN_GROUP, R.SIGNATURE_INVALID, R.QUALITY_EXCEEDS_MAXIMUM,
        R.EXECUTION_TIME_EXCEEDS_MAXIMUM, R.UNKNOWN_ACCOUNT, R.AGENT_NOT_HOSTED_BY_PLATFORM,
        R.EXISTS_WITH_DIFFERENT_EXECUTING_AGENT, R.EXISTS_WITH_DIFFERENT_QUALITY_BP,
        R.EXISTS_WITH_DIFFERENT_EXECUTION_TIME_MS, R.EXISTS_WITH_DIFFERENT_RESULT_HASH, R.EXISTS, R.TASK_NOT_FOUND,
        R.EXECUTING_PLATFORM_MISMATCH, R.EXECUTING_AGENT_MISMATCH, R.TASK_EXPIRED,
    ),
    REPUTATION_UPDATE: (
        R.OK, R.UNKNOWN_PLATFORM, R.SIGNATURE_INVALID, R.QUALITY_EXCEEDS_MAXIMUM, R.REPUTATION_EXCEEDS_MAXIMUM,
        R.EXISTS_WITH_DIFFERENT_TASK_ID, R.EXISTS_WITH_DIFFERENT_PLATFORM, R.EXISTS_WITH_DIFFERENT_QUALITY_BP,
        R.EXISTS_WITH_DIFFERENT_REPUTATION_BP, R.EXISTS_WITH_DIFFERENT_REPORTER_PLATFORM, R.EXISTS,
        R.ID_ALREADY_FAILED, R.TASK_NOT_FOUND, R.EXECUTING_PLATFORM_MISMATCH, R.TASK_NOT_SETTLED,
        R.REPUTATION_ALREADY_UPDATED, R.QUALITY_MISMATCH, R.REPUTATION_MISMATCH,
    ),
}
"""Context -> every code some input reaches in it, in precedence order."""

PAIRED_STATIC = (
    "the task before it passed its static checks, whose pairing check ties the lock's platforms and agents "
    "(known, hosted, distinct) and its amount and timeout (nonzero, in bounds) to the task's"
)
PAIRED_EXISTS = (
    "the lock's id is the task's, checked first: a task that exists identically comes with an identical lock "
    "(the pairing ties every field of the lock to the task's, and the recorded lock was tied to the recorded task)"
)

UNREACHABLE: dict[tuple[str, ResultCode], str] = {
    (BLOCK, R.BLOCK_TOO_MANY_TRANSACTIONS): (
        "a node receives a block as bytes, and the decoder (spec.wire.decoding) refuses a transaction count above "
        "MAX_BLOCK_TRANSACTIONS (LENGTH_OVER_BOUND) before the ledger sees the block; the ledger's own check guards "
        "blocks built in memory"),
    (ATP_TRANSFER_COMMIT, R.TRANSFER_ALREADY_COMMITTED): (
        "a plain transfer is COMMITTED only by a COMMIT, which a second COMMIT finds as `exists` first; a PROOF "
        "commits only task locks, which a COMMIT finds `transfer_linked_to_task` first"),
    (ATP_TRANSFER_ROLLBACK, R.TRANSFER_ALREADY_ROLLED_BACK): (
        "a plain transfer is ROLLED_BACK only by a ROLLBACK, `exists` to a second one; a PROOF rolls back only "
        "task locks, `transfer_linked_to_task` first"),
    **{(TASK_LOCK, code): PAIRED_STATIC for code in STATIC_CODES_OF_A_LOCK if code != R.SIGNATURE_INVALID},
    **{(TASK_LOCK, code): PAIRED_EXISTS for code in EXISTS_CODES_OF_A_LOCK},
    (TASK_LOCK, R.ID_ALREADY_FAILED): "the lock's id is the task's, and the task's own checks find a failed id first",
}
"""(context, code) pairs that a check function of the context names but no input
reaches, and why."""

CHECK_FUNCTIONS: dict[str, tuple[str, ...]] = {
    ATP_TRANSFER_LOCK: ("validate_static_lock", "validate_lock"),
    TASK_LOCK: ("validate_static_lock", "validate_lock"),
    ATP_TRANSFER_COMMIT: ("validate_static_settle", "validate_settle"),
    ATP_TRANSFER_ROLLBACK: ("validate_static_settle", "validate_settle"),
    BALANCE_SET: ("validate_static_balance_set", "validate_balance_set"),
    FEDERATION_TASK: ("validate_static_task", "validate_task"),
    EXECUTION_PROOF: ("validate_static_proof", "validate_execution_proof"),
    REPUTATION_UPDATE: ("validate_static_reputation_update", "validate_reputation_update"),
}
"""The functions of `spec/ledger.py` that decide a transaction context's codes (with
every function of the module they call)."""

PAIR_CODES = (R.LINKED_TRANSACTION_FAILED,)
"""What `apply_task_pair` itself reports on either half of a pair whose other half failed."""


def transaction_context(types: list[str], index: int) -> str:
    """The context of the transaction at `index` among a block's transaction types. A
    lock right after a task is that task's lock: the static pairing check makes every
    FEDERATION_TASK be followed by its lock, and `apply_block` applies the two together."""
    kind = types[index]
    if kind == "ATP_TRANSFER_LOCK" and index > 0 and types[index - 1] == "FEDERATION_TASK":
        return TASK_LOCK
    return kind.lower()


def pairs_shown(data: dict[str, Any]) -> set[tuple[str, ResultCode]]:
    """The (context, code) pairs the expected receipt of a case's block under test
    (its last block) shows: the block code, then the code of the statically invalid
    transaction or of every transaction."""
    receipt = data["expected"]["receipts"][-1]
    types = [tx["type"] for tx in data["blocks"][-1]["json"]["transactions"]]
    shown = {(BLOCK, ResultCode(receipt["code"]))}
    if receipt["code"] == R.BLOCK_TRANSACTION_INVALID:
        shown.add((transaction_context(types, receipt["invalid_index"]), ResultCode(receipt["invalid_code"])))
    for tx_receipt in receipt["transactions"]:
        shown.add((transaction_context(types, tx_receipt["index"]), ResultCode(tx_receipt["code"])))
    return shown


def reachable_pairs() -> list[tuple[str, ResultCode]]:
    return [(context, code) for context, codes in REACHABLE.items() for code in codes]


# --- what the spec's check functions can return -------------------------------------------------------
@cache
def ledger_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(inspect.getsource(spec.ledger))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def codes_named_in(name: str, seen: frozenset[str] = frozenset()) -> set[ResultCode]:
    """Every `R.CODE` in the function `name` of `spec/ledger.py` and in the functions of
    that module it calls, transitively."""
    functions = ledger_functions()
    found: set[ResultCode] = set()
    for node in ast.walk(functions[name]):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "R":
            found.add(ResultCode[node.attr])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called = node.func.id
            if called in functions and called not in seen | {name}:
                found |= codes_named_in(called, seen | {name})
    return found


def codes_the_checks_name(context: str) -> set[ResultCode]:
    """Every code the context's check functions name (the pair's own code for a task or its lock)."""
    if context == BLOCK:
        return {code for code in ResultCode if KIND[code] in ("ok", "block")}
    found: set[ResultCode] = {R.OK}
    for name in CHECK_FUNCTIONS[context]:
        found |= codes_named_in(name)
    if context in (FEDERATION_TASK, TASK_LOCK):
        found |= set(PAIR_CODES)
    return found


# --- coverage ---------------------------------------------------------------------------------------------------
def case_name_of(context: str, code: ResultCode) -> str:
    """The id of the case that must show `code` in `context`."""
    if context == BLOCK:
        return f"ledger/blocks/{code.value}"
    return f"ledger/codes/{context}.{code.value}"


def coverage_gaps(cases: list[Any], reachable: dict[str, tuple[ResultCode, ...]] = REACHABLE) -> list[str]:
    """What keeps the ledger cases and the table from matching, both ways: a reachable
    pair without its case (or whose case does not show it), and a case that shows a pair
    the table does not list as reachable."""
    listed = {(context, code) for context, codes in reachable.items() for code in codes}
    by_id = {case.id: case for case in cases if case.runner == "ledger"}
    gaps = []
    for context, code in sorted(listed):
        name = case_name_of(context, code)
        if name not in by_id:
            gaps.append(f"{context} {code.value}: no case {name}")
        elif (context, code) not in pairs_shown(by_id[name].data):
            gaps.append(f"{context} {code.value}: case {name} does not show it")
    for case_id, case in sorted(by_id.items()):
        for context, code in sorted(pairs_shown(case.data) - listed):
            gaps.append(f"{case_id} shows {context} {code.value}, which the table does not list as reachable")
    return gaps
