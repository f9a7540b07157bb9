"""The state root (`spec.wire.state_root.state_root`): what replicas compare at checkpoints.

Two ledger states must get the same root exactly when they are the same state.
These tests pin that from both sides:

* known answers: the roots of the states a fixed scenario reaches through the
  real ledger, written out as hex literals, so that any change to the canonical
  state bytes (a renumbered status code, a changed presence flag, a dropped or
  reordered field) changes a pinned root;
* one field at a time: changing exactly one field of one record (every field of
  every record type, every status, every settlement cause, an optional value
  present or absent) changes the root.

The scenario's final state holds transfers in every status and with every
settlement cause, tasks in every status, execution proofs, a reputation update,
a balance set and an id in each failed-id set. A hash of the wrong length and a
state with a negative integer have no canonical bytes (the latter shows as
`UNENCODABLE_ROOT`).

The last section pins two ledger outputs beside the root: the reputation bound and
the height and indices that block receipts report.
"""

import dataclasses
import enum
import inspect
import textwrap
import typing
from collections.abc import Callable
from typing import Any

import pytest
from builders import (
    ALICE,
    ATP,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    SPROUT,
    THOR,
    Ledger,
    balance_set,
    commit,
    lock,
    make_genesis,
    pair,
    proof,
    reputation,
    rollback,
)

import spec.wire.state_root as encoding
from spec.codes import ResultCode
from spec.constants import MAX_REPUTATION_BP
from spec.ledger import validate_static
from spec.state import copy_state
from spec.wire.records import (
    Account,
    BalanceSetRecord,
    LedgerState,
    ProofRecord,
    ReputationRecord,
    SettlementCause,
    Task,
    TaskStatus,
    Transfer,
    TransferStatus,
)
from spec.wire.state_root import state_root
from spec.wire.types import GenesisPlatform

R = ResultCode


# === the scenario ===============================================================================
def every_kind_of_record() -> Ledger:
    """Three blocks through the real ledger (builders' genesis: Thor, Sprout, Legion).

    Block 1 opens four plain transfers, four tasks and a balance set. Block 2
    commits one transfer, rolls one back, settles one task above its threshold and
    one below it; a lock from Erin (who has nothing) and a balance set below the
    locked amount fail. Block 3 comes after two deadlines (one plain transfer
    and one task expire) and records a reputation update; a wrong one fails."""
    ledger = Ledger()
    ledger.ok(
        balance_set("set-carol", agent=CAROL, balance=600 * ATP),
        lock("transfer-open", ALICE, BOB, amount=50 * ATP),
        lock("transfer-committed", ALICE, BOB, amount=100 * ATP),
        lock("transfer-rolled-back", DAVE, ERIN, amount=100 * ATP),
        lock("transfer-expired", DAVE, BOB, amount=10 * ATP, timeout_ms=1_000),
        *pair(task_id="task-completed", delegating_agent=ALICE, executing_agent=BOB, cost=300 * ATP),
        *pair(task_id="task-failed", delegating_agent=DAVE, executing_agent=ERIN, cost=200 * ATP),
        *pair(task_id="task-expired", delegating_agent=CAROL, executing_agent=BOB, cost=100 * ATP, timeout_ms=1_000),
        *pair(task_id="task-pending", delegating_agent=ALICE, executing_agent=ERIN, cost=100 * ATP),
    )
    receipt = ledger.block(
        lock("transfer-failed", ERIN, BOB, amount=ATP),
        commit("transfer-committed", THOR),
        rollback("transfer-rolled-back", THOR),
        proof("task-completed", BOB, quality_bp=8_500),
        proof("task-failed", ERIN, quality_bp=5_000),
        balance_set("set-failed", agent=ALICE, balance=ATP),
    )
    assert [r.code for r in receipt.transactions] == [R.INSUFFICIENT_AVAILABLE] + [R.OK] * 4 + [R.BALANCE_BELOW_LOCKED]
    receipt = ledger.block(
        reputation("update-recorded", "task-completed", SPROUT, quality_bp=8_500),
        reputation("update-failed", "task-failed", SPROUT, quality_bp=5_000, reputation_bp=1),
        ts=ledger.state.last_timestamp_ms + 2_000,
    )
    assert sorted(s.transfer_id for s in receipt.expiries) == ["task-expired", "transfer-expired"]
    assert [r.code for r in receipt.transactions] == [R.OK, R.REPUTATION_MISMATCH]
    return ledger


LEDGER = every_kind_of_record()
FINAL = LEDGER.state


def test_the_scenario_reaches_every_status_and_settlement_cause() -> None:
    """Control for the tests below: the final state really holds what they vary."""
    transfers = FINAL.transfers
    assert {t.status for t in transfers.values()} == set(TransferStatus)
    assert {t.settled_by for t in transfers.values()} == set(SettlementCause) | {None}
    assert {t.task_linked for t in transfers.values()} == {True, False}
    assert {k.status for k in FINAL.tasks.values()} == set(TaskStatus)
    assert {k.proof is None for k in FINAL.tasks.values()} == {True, False}
    assert {k.settled_quality_bp is None for k in FINAL.tasks.values()} == {True, False}
    assert {k.reputation_update_id is None for k in FINAL.tasks.values()} == {True, False}
    assert FINAL.tasks["task-expired"].settled_quality_bp == 0
    assert set(FINAL.balance_sets) == {"set-carol"}
    assert set(FINAL.reputation_updates) == {"update-recorded"}
    assert (FINAL.failed_transfer_ids, FINAL.failed_set_ids, FINAL.failed_update_ids) == (
        {"transfer-failed"},
        {"set-failed"},
        {"update-failed"},
    )


# === known answers ==============================================================================
PINNED_ROOTS = (
    # Pinned values: computed once from spec/encoding.py and written here by hand.
    # A change to any of them is a change to the canonical state bytes, which every
    # other implementation must then follow: change them only on purpose.
    "8070d1f81ce3c0293760925f582a72ee32dfadef9718a1a9d1e1819a9cba2d1c",  # genesis
    "790fe9d2ca28a7b74b5fd0806155f6f927740ad3d6f20b16fafd7e8c26c38df1",  # after block 1
    "00c26de8d97faaa6d142dee294ca570ba909e8054eff928e839cd38df816e31e",  # after block 2
    "9b9f927746d70a3f1268c83b182b2092f3513d25e9ad572cad377de5e44c015a",  # after block 3: the final state
)


def roots_along_the_scenario() -> list[str]:
    ledger = every_kind_of_record()
    return [state_root(ledger.steps[0].pre)] + [state_root(step.post) for step in ledger.steps]


def test_state_roots_along_the_scenario_are_the_pinned_values() -> None:
    assert roots_along_the_scenario() == list(PINNED_ROOTS)


def test_the_state_root_is_the_sha256_of_the_canonical_state_bytes() -> None:
    assert state_root(FINAL) == encoding.sha256(encoding.state_bytes(FINAL)).hex()
    assert encoding.state_bytes(FINAL).startswith(b"fedspec/v1/STATE\x00")


# === one field at a time ========================================================================
def with_record(state: LedgerState, collection: str, key: str, record: Any) -> LedgerState:
    """A copy of `state` in which `getattr(state, collection)[key]` is `record`."""
    changed = copy_state(state)
    getattr(changed, collection)[key] = record
    return changed


def another_value(value: Any) -> Any:
    """A value of the same type as `value` and different from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, enum.Enum):
        members = list(type(value))
        return members[(members.index(value) + 1) % len(members)]
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        if len(value) == 64 and set(value) <= set("0123456789abcdef"):
            return "ab" * 32 if value != "ab" * 32 else "cd" * 32
        return value + "x"
    if isinstance(value, ProofRecord):
        return dataclasses.replace(value, quality_bp=value.quality_bp + 1)
    raise AssertionError(f"no other value known for {value!r}")


RECORDS: dict[type, tuple[str, str, str]] = {
    # record type: (its LedgerState collection, the field that is its key there,
    #               the key of a record whose every optional field is present)
    Account: ("accounts", "agent", ALICE),
    Transfer: ("transfers", "transfer_id", "transfer-committed"),
    Task: ("tasks", "task_id", "task-completed"),
    BalanceSetRecord: ("balance_sets", "set_id", "set-carol"),
    ReputationRecord: ("reputation_updates", "update_id", "update-recorded"),
}


def record_field_cases() -> list[tuple[str, str]]:
    return [(record_type.__name__, f.name) for record_type in RECORDS for f in dataclasses.fields(record_type)]


@pytest.mark.parametrize(("record_type", "field_name"), record_field_cases())
def test_changing_one_field_of_one_record_changes_the_root(record_type: str, field_name: str) -> None:
    """A changed key field moves the record to the new key, as the ledger would have stored it."""
    collection, key_field, key = next(entry for kind, entry in RECORDS.items() if kind.__name__ == record_type)
    record = getattr(FINAL, collection)[key]
    value = getattr(record, field_name)
    assert value is not None, "the chosen record has every optional field present"
    new_value = another_value(value)
    changed = with_record(FINAL, collection, key, dataclasses.replace(record, **{field_name: new_value}))
    if field_name == key_field:
        records = getattr(changed, collection)
        records[new_value] = records.pop(key)
    assert state_root(changed) != state_root(FINAL), f"{record_type}.{field_name} is not in the root"


@pytest.mark.parametrize("field_name", [f.name for f in dataclasses.fields(ProofRecord)])
def test_changing_one_field_of_a_proof_changes_the_root(field_name: str) -> None:
    task = FINAL.tasks["task-completed"]
    assert task.proof is not None
    proof_record = dataclasses.replace(task.proof, **{field_name: another_value(getattr(task.proof, field_name))})
    changed = with_record(FINAL, "tasks", task.task_id, dataclasses.replace(task, proof=proof_record))
    assert state_root(changed) != state_root(FINAL), f"ProofRecord.{field_name} is not in the root"


def record_types_in(owner: type) -> set[type]:
    """The dataclasses a dataclass holds: as dictionary values or (optional) fields."""
    found: set[type] = set()
    for hint in typing.get_type_hints(owner).values():
        for part in (hint, *typing.get_args(hint)):
            if dataclasses.is_dataclass(part) and isinstance(part, type):
                found.add(part)
    return found


def test_every_record_type_of_the_state_is_varied_above() -> None:
    """A record type added to the ledger state needs its own line in RECORDS."""
    in_the_state = record_types_in(LedgerState)
    assert in_the_state == set(RECORDS)
    nested: set[type] = set()
    for record_type in in_the_state:
        nested |= record_types_in(record_type)
    assert nested == {ProofRecord}, "the proof test above is the only one for a nested record"


def roots_of_variants(collection: str, key: str, field_name: str, values: list[Any]) -> list[str]:
    record = getattr(FINAL, collection)[key]
    return [
        state_root(with_record(FINAL, collection, key, dataclasses.replace(record, **{field_name: value})))
        for value in values
    ]


@pytest.mark.parametrize("key", sorted(FINAL.transfers))
def test_every_transfer_status_has_its_own_root(key: str) -> None:
    roots = roots_of_variants("transfers", key, "status", list(TransferStatus))
    assert len(set(roots)) == len(TransferStatus)


@pytest.mark.parametrize("key", sorted(FINAL.transfers))
def test_every_settlement_cause_and_none_have_their_own_root(key: str) -> None:
    causes: list[SettlementCause | None] = [None, *SettlementCause]
    roots = roots_of_variants("transfers", key, "settled_by", causes)
    assert len(set(roots)) == len(causes)


@pytest.mark.parametrize("key", sorted(FINAL.tasks))
def test_every_task_status_has_its_own_root(key: str) -> None:
    roots = roots_of_variants("tasks", key, "status", list(TaskStatus))
    assert len(set(roots)) == len(TaskStatus)


@pytest.mark.parametrize("key", sorted(FINAL.transfers))
def test_a_task_linked_and_a_plain_transfer_have_different_roots(key: str) -> None:
    roots = roots_of_variants("transfers", key, "task_linked", [False, True])
    assert roots[0] != roots[1]


OPTIONAL_TASK_VALUES: dict[str, list[Any]] = {
    # absent, then present values that a broken presence flag could confuse with absence
    "proof": [None, ProofRecord(BOB, 0, 0, "00" * 32, 0), ProofRecord(BOB, 8_500, 1_000, "ab" * 32, 0)],
    "settled_quality_bp": [None, 0, 1],
    "reputation_update_id": [None, "", "0", "update-recorded"],
}


@pytest.mark.parametrize("key", sorted(FINAL.tasks))
@pytest.mark.parametrize("field_name", sorted(OPTIONAL_TASK_VALUES))
def test_an_optional_task_field_absent_or_present_gives_different_roots(key: str, field_name: str) -> None:
    values = OPTIONAL_TASK_VALUES[field_name]
    roots = roots_of_variants("tasks", key, field_name, values)
    assert len(set(roots)) == len(values)


def state_alterations(state: LedgerState) -> dict[str, Callable[[LedgerState], None]]:
    """For each field of LedgerState, one change to it (applied in place to a copy)."""

    def add_account(s: LedgerState) -> None:
        s.accounts["lct:web4:agent:zoe"] = Account("lct:web4:agent:zoe", SPROUT, 0, 0)

    def drop_transfer(s: LedgerState) -> None:
        del s.transfers["transfer-open"]

    def drop_task(s: LedgerState) -> None:
        del s.tasks["task-pending"]

    def drop_balance_set(s: LedgerState) -> None:
        del s.balance_sets["set-carol"]

    def drop_reputation_update(s: LedgerState) -> None:
        del s.reputation_updates["update-recorded"]

    def change_a_reputation(s: LedgerState) -> None:
        s.reputations[THOR] += 1

    return {
        "height": lambda s: setattr(s, "height", s.height + 1),
        "last_block_hash": lambda s: setattr(s, "last_block_hash", another_value(s.last_block_hash)),
        "last_timestamp_ms": lambda s: setattr(s, "last_timestamp_ms", s.last_timestamp_ms + 1),
        "accounts": add_account,
        "transfers": drop_transfer,
        "tasks": drop_task,
        "balance_sets": drop_balance_set,
        "reputation_updates": drop_reputation_update,
        "reputations": change_a_reputation,
        "failed_transfer_ids": lambda s: s.failed_transfer_ids.add("transfer-other"),
        "failed_set_ids": lambda s: s.failed_set_ids.add("set-other"),
        "failed_update_ids": lambda s: s.failed_update_ids.add("update-other"),
    }


def test_every_field_of_the_ledger_state_is_in_the_root() -> None:
    """Enumerates the fields of LedgerState: a field added without a line in
    `state_alterations` fails here."""
    alterations = state_alterations(FINAL)
    assert sorted(alterations) == sorted(f.name for f in dataclasses.fields(LedgerState))
    for name, alter in alterations.items():
        changed = copy_state(FINAL)
        alter(changed)
        assert state_root(changed) != state_root(FINAL), f"LedgerState.{name} is not in the root"
    assert state_root(copy_state(FINAL)) == state_root(FINAL)


def test_a_failed_id_counts_in_its_own_set_only() -> None:
    """The three failed-id sets are encoded apart: moving an id from one to another changes the root."""
    as_transfer, as_set = copy_state(FINAL), copy_state(FINAL)
    as_transfer.failed_transfer_ids.add("shared-id")
    as_set.failed_set_ids.add("shared-id")
    assert state_root(as_transfer) != state_root(as_set)


# === negative controls: broken encodings the checks above catch ======================================
def mutated_state_bytes(old: str, new: str) -> Callable[[LedgerState], bytes]:
    """`spec.wire.state_root.state_bytes` with one piece of its source text replaced."""
    source = textwrap.dedent(inspect.getsource(encoding.state_bytes))
    assert source.count(old) == 1, f"the mutant's text is not in state_bytes once: {old!r}"
    namespace = dict(vars(encoding))
    exec(compile(source.replace(old, new), encoding.__file__, "exec"), namespace)
    mutant: Callable[[LedgerState], bytes] = namespace["state_bytes"]
    return mutant


def failing_checks() -> list[str]:
    """Which of the checks above fail with whatever `spec.encoding` is now."""
    checks: dict[str, Callable[[], object]] = {
        "pinned roots": test_state_roots_along_the_scenario_are_the_pinned_values,
        "record fields": lambda: [
            test_changing_one_field_of_one_record_changes_the_root(*case) for case in record_field_cases()
        ],
        "proof fields": lambda: [
            test_changing_one_field_of_a_proof_changes_the_root(f.name) for f in dataclasses.fields(ProofRecord)
        ],
        "transfer statuses": lambda: [test_every_transfer_status_has_its_own_root(k) for k in FINAL.transfers],
        "settlement causes": lambda: [
            test_every_settlement_cause_and_none_have_their_own_root(k) for k in FINAL.transfers
        ],
        "task statuses": lambda: [test_every_task_status_has_its_own_root(k) for k in FINAL.tasks],
        "task link": lambda: [test_a_task_linked_and_a_plain_transfer_have_different_roots(k) for k in FINAL.transfers],
        "optional task fields": lambda: [
            test_an_optional_task_field_absent_or_present_gives_different_roots(k, name)
            for k in FINAL.tasks
            for name in OPTIONAL_TASK_VALUES
        ],
        "state fields": test_every_field_of_the_ledger_state_is_in_the_root,
    }
    failed: list[str] = []
    for name, check in checks.items():
        try:
            check()
        except AssertionError:
            failed.append(name)
    return failed


def test_the_unbroken_encoding_passes_every_check() -> None:
    """Control for the controls below."""
    assert failing_checks() == []


STATE_BYTES_MUTANTS: dict[str, tuple[str, str, str]] = {
    # name: (text in state_bytes, its replacement, a check that must catch it)
    "transfer timeout dropped": ("+ encode_u64(t.timeout_ms)", "", "record fields"),
    "task link always 0": ("encode_u8(1 if t.task_linked else 0)", "encode_u8(0)", "task link"),
    "transfer status dropped": ("out += encode_u8(TRANSFER_STATUS_CODES[t.status.value])", "pass", "transfer statuses"),
    "unsettled encoded as a cause's code": ("encode_u8(0 if t.settled_by is None", "encode_u8(4 if t.settled_by is None", "settlement causes"),
    "absent proof flagged present": ("out += encode_u8(0)\n", "out += encode_u8(1)\n", "pinned roots"),
    "proof landing time dropped": ("+ encode_u64(p.landed_at_ms)", "", "proof fields"),
    "task status dropped": ("out += encode_u8(TASK_STATUS_CODES[k.status.value])", "pass", "task statuses"),
    "reputations dropped": ("out += encode_str(platform) + encode_u64(state.reputations[platform])", "pass", "state fields"),
    "failed update ids dropped": ("out += encode_id_set(state.failed_update_ids)", "pass", "state fields"),
}


@pytest.mark.parametrize("mutant", sorted(STATE_BYTES_MUTANTS))
def test_a_broken_state_encoding_is_caught(mutant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new, catcher = STATE_BYTES_MUTANTS[mutant]
    monkeypatch.setattr(encoding, "state_bytes", mutated_state_bytes(old, new))
    failed = failing_checks()
    assert "pinned roots" in failed, "every change to the bytes changes a pinned root"
    assert catcher in failed


@pytest.mark.parametrize(
    ("table", "status", "colliding_code", "catcher"),
    [
        ("TRANSFER_STATUS_CODES", "EXPIRED", 3, "transfer statuses"),  # collides with ROLLED_BACK
        ("TRANSFER_STATUS_CODES", "LOCKED", 2, "transfer statuses"),
        ("TASK_STATUS_CODES", "FAILED", 2, "task statuses"),  # collides with COMPLETED
        ("TASK_STATUS_CODES", "EXPIRED", 1, "task statuses"),
        ("SETTLEMENT_CAUSE_CODES", "EXPIRY", 0, "settlement causes"),  # collides with no cause at all
        ("SETTLEMENT_CAUSE_CODES", "PROOF", 1, "settlement causes"),
    ],
)
def test_colliding_status_codes_are_caught(
    table: str, status: str, colliding_code: int, catcher: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(getattr(encoding, table), status, colliding_code)
    failed = failing_checks()
    assert catcher in failed


@pytest.mark.parametrize(
    ("table", "status"),
    [("TRANSFER_STATUS_CODES", "LOCKED"), ("TASK_STATUS_CODES", "PENDING"), ("SETTLEMENT_CAUSE_CODES", "COMMIT")],
)
def test_a_renumbered_status_code_is_caught_by_the_pinned_roots(
    table: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renumbering to an unused code collides with nothing: only known answers see it."""
    monkeypatch.setitem(getattr(encoding, table), status, 9)
    assert failing_checks() == ["pinned roots"]


def test_presence_flags_are_caught_by_the_pinned_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    """A present optional value flagged 2 instead of 1 keeps every distinction; only known answers see it."""
    monkeypatch.setattr(encoding, "encode_optional_u64", lambda v: b"\x00" if v is None else b"\x02" + encoding.encode_u64(v))
    assert failing_checks() == ["pinned roots"]


# === what has no canonical bytes ===============================================================
@pytest.mark.parametrize("hex_digits", [62, 66])
def test_a_hash_of_other_than_32_bytes_has_no_encoding(hex_digits: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encoding.encode_hash("ab" * (hex_digits // 2))


def test_a_state_no_correct_ledger_reaches_is_shown_as_unencodable() -> None:
    agent = sorted(FINAL.accounts)[0]
    broken = with_record(FINAL, "accounts", agent, dataclasses.replace(FINAL.accounts[agent], total=-1))
    with pytest.raises(OverflowError):
        state_root(broken)
    assert encoding.displayed_state_root(broken) == encoding.UNENCODABLE_ROOT
    assert encoding.displayed_state_root(FINAL) == state_root(FINAL)


# === bounds and receipts ===========================================================================
def test_a_reputation_of_exactly_the_maximum_passes_the_static_checks_and_one_more_does_not() -> None:
    chain = LEDGER.chain
    assert MAX_REPUTATION_BP == 10_000
    assert validate_static(chain, reputation(reputation_bp=10_000), None) == R.OK
    assert validate_static(chain, reputation(reputation_bp=10_001), None) == R.REPUTATION_EXCEEDS_MAXIMUM


def test_a_platform_at_full_reputation_records_an_update_of_10000() -> None:
    """End to end: Sprout starts at 10000 and a task settled at quality 10000 keeps it there."""
    genesis = make_genesis()
    platforms = tuple(
        GenesisPlatform(name=p.name, public_key=p.public_key, reputation_bp=10_000 if p.name == SPROUT else p.reputation_bp)
        for p in genesis.platforms
    )
    ledger = Ledger(genesis.model_copy(update={"platforms": platforms}))
    ledger.ok(*pair(task_id="task-perfect", cost=100 * ATP))
    ledger.ok(proof("task-perfect", quality_bp=10_000))
    receipt = ledger.block(reputation("update-perfect", "task-perfect", SPROUT, quality_bp=10_000, reputation_bp=10_000))
    assert [r.code for r in receipt.transactions] == [R.OK]
    assert ledger.state.reputations[SPROUT] == 10_000
    refused = ledger.block(reputation("update-beyond", "task-perfect", SPROUT, quality_bp=10_000, reputation_bp=10_001))
    assert (refused.code, refused.invalid_index, refused.invalid_code) == (
        R.BLOCK_TRANSACTION_INVALID,
        0,
        R.REPUTATION_EXCEEDS_MAXIMUM,
    )


def test_a_rejected_block_reports_the_height_it_was_proposed_for() -> None:
    """Rejected by a header check or by a static check: the receipt names the height
    the block claimed to extend the chain with (the state's height + 1), not the
    state's own height."""
    ledger = Ledger()
    ledger.ok(lock("transfer-first"))
    assert ledger.state.height == 1
    by_header = ledger.block(lock("transfer-second"), previous_hash="11" * 32)
    assert (by_header.code, by_header.height) == (R.BLOCK_PREVIOUS_HASH_MISMATCH, 2)
    by_static_check = ledger.block(lock("transfer-second"), lock("transfer-third", amount=0))
    assert (by_static_check.code, by_static_check.height, by_static_check.invalid_index) == (
        R.BLOCK_TRANSACTION_INVALID,
        2,
        1,
    )
    accepted = ledger.block(lock("transfer-second"))
    assert (accepted.code, accepted.height) == (R.OK, 2)


def test_each_receipt_of_a_task_pair_has_its_own_index() -> None:
    """A task and its lock are applied together but receive the indices of their
    own positions, whether the pair applies or fails."""
    ledger = Ledger()
    receipt = ledger.block(
        balance_set("set-dave", agent=DAVE, balance=900 * ATP),
        *pair(task_id="task-paid", cost=100 * ATP),
        *pair(task_id="task-too-dear", cost=5_000 * ATP),
        lock("transfer-after", amount=ATP),
    )
    assert [(r.index, r.type, r.code) for r in receipt.transactions] == [
        (0, "BALANCE_SET", R.OK),
        (1, "FEDERATION_TASK", R.OK),
        (2, "ATP_TRANSFER_LOCK", R.OK),
        (3, "FEDERATION_TASK", R.LINKED_TRANSACTION_FAILED),
        (4, "ATP_TRANSFER_LOCK", R.INSUFFICIENT_AVAILABLE),
        (5, "ATP_TRANSFER_LOCK", R.OK),
    ]
