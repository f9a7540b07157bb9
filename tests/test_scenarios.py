"""What a scenario author can write: a raw signature, expectations after a block,
absence, files that must be refused at load, a genesis by reference, a lock derived
from its task, exact ATP amounts, and a loud error for an expectation that can
never be checked. Each feature has a negative control: the broken variant fails,
with a message that says where."""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from fedspec.cli import app
from spec.codes import ResultCode
from spec.scenario import (
    ScenarioError,
    genesis_of,
    load_and_replay,
    parse_scenario,
    rejection_at_load,
    units_of_atp_text,
)
from spec.wire.signing import seed_from_text, sign_transaction
from spec.wire.types import AtpTransferLock

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
REJECTED = SCENARIOS / "rejected"
SHARED_GENESIS = SCENARIOS / "genesis" / "two_platforms.json"
SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "conformance" / "schemas" / "scenario.schema.json").read_text(encoding="utf-8"))
)

ALICE = "lct:web4:agent:alice"
BOB = "lct:web4:agent:bob"
T0 = 1701388800000
runner = CliRunner()


def genesis() -> dict[str, Any]:
    return json.loads(SHARED_GENESIS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def scenario(blocks: list[dict[str, Any]], expect: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"name": "test", "genesis": genesis(), "blocks": blocks}
    if expect is not None:
        document["expect"] = expect
    return document


def replayed(document: dict[str, Any]) -> Any:
    return load_and_replay(json.dumps(document))


def lock(transfer_id: str = "t-1", amount: Any = "300 ATP", **extra: Any) -> dict[str, Any]:
    return {
        "type": "ATP_TRANSFER_LOCK", "transfer_id": transfer_id, "source_platform": "Thor", "source_agent": ALICE,
        "dest_platform": "Sprout", "dest_agent": BOB, "amount": amount, "timeout_ms": 60000, **extra,
    }


def task(cost: Any = "300 ATP") -> dict[str, Any]:
    return {
        "type": "FEDERATION_TASK", "task_id": "task-1", "delegating_platform": "Thor", "delegating_agent": ALICE,
        "executing_platform": "Sprout", "executing_agent": BOB, "cost": cost, "quality_threshold_bp": 7000,
        "timeout_ms": 60000,
    }


def block(number: int, *transactions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"timestamp_ms": T0 + 1000 * number, "transactions": list(transactions), **fields}


# === a raw signature ===============================================================================
def signature_of_lock(chain_id: str, transfer_id: str = "t-1") -> str:
    """The signature Thor's key makes over the test lock, under `chain_id`."""
    seed = seed_from_text(genesis()["platforms"][0]["key_seed"])
    wire = AtpTransferLock(**{**lock(transfer_id, 300_000_000), "signature": "00" * 64})
    return sign_transaction(seed, chain_id, wire)


def test_a_raw_signature_is_used_as_written() -> None:
    """Control: the right signature, given raw, is accepted; so the override is what signs."""
    raw = signature_of_lock(genesis()["chain_id"])
    result = replayed(scenario([block(1, lock(signature=raw, expect="ok"))]))
    assert result.ok, result.expectation_failures
    assert result.blocks[0].block.transactions[0].signature == raw


@pytest.mark.parametrize(
    ("what", "signature"),
    [
        ("made for another chain id", lambda: signature_of_lock("another-chain")),
        ("made for another transaction", lambda: signature_of_lock(genesis()["chain_id"], "t-2")),
    ],
)
def test_a_signature_replayed_across_domains_is_invalid(what: str, signature: Any) -> None:
    document = scenario([block(1, lock(signature=signature(), expect="signature_invalid"),
                               expect="block_transaction_invalid")])
    result = replayed(document)
    assert result.ok, (what, result.expectation_failures)
    assert result.blocks[0].receipt.invalid_code == ResultCode.SIGNATURE_INVALID
    # Negative control: the same scenario expecting ok fails, naming the transaction.
    document["blocks"][0]["transactions"][0]["expect"] = "ok"
    document["blocks"][0].pop("expect")
    assert replayed(document).expectation_failures == [
        "block 1 transaction 0: expected ok, got signature_invalid"
    ]


def test_a_signature_and_a_signer_together_are_refused() -> None:
    document = scenario([block(1, lock(signature="00" * 64, signed_by="Sprout"))])
    with pytest.raises(ScenarioError, match=r"^block 1 transaction 0: give signature or signed_by, not both$"):
        replayed(document)


def test_a_malformed_signature_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"signature"):
        replayed(scenario([block(1, lock(signature="zz"))]))


# === expectations after a block ======================================================================
def test_the_state_after_each_block_is_checked() -> None:
    result = load_and_replay((SCENARIOS / "task_paid_after_each_block.json").read_text(encoding="utf-8"),
                             SCENARIOS / "task_paid_after_each_block.json")
    assert result.ok, result.expectation_failures


def test_a_wrong_expectation_after_a_block_fails_naming_the_block() -> None:
    after_lock = {"accounts": {ALICE: {"available": "700 ATP"}}, "transfers": {"t-1": "LOCKED"}}
    document = scenario([
        block(1, lock(), expect_after=after_lock),
        block(2, {"type": "ATP_TRANSFER_COMMIT", "transfer_id": "t-1", "platform": "Thor"},
              expect_after={"transfers": {"t-1": "COMMITTED"}}),
    ])
    assert replayed(document).ok
    # Negative control: each block's state is checked, not the final one; a wrong
    # expectation fails with the number of its block.
    wrong = copy.deepcopy(document)
    wrong["blocks"][0]["expect_after"]["transfers"] = {"t-1": "COMMITTED"}
    wrong["blocks"][1]["expect_after"]["accounts"] = {ALICE: {"total": "1000 ATP"}}
    assert replayed(wrong).expectation_failures == [
        "after block 1: transfer t-1 is LOCKED, expected COMMITTED",
        "after block 2: lct:web4:agent:alice total is 700000000, expected 1000000000",
    ]


def test_a_rejected_block_leaves_the_state_its_expectation_sees_unchanged() -> None:
    document = scenario([block(1, lock(), height=9, expect="block_height_mismatch",
                               expect_after={"transfers": {"t-1": "ABSENT"}, "accounts": {ALICE: {"locked": 0}}})])
    assert replayed(document).ok


# === absence ======================================================================================
def test_an_absence_assertion_holds_for_what_was_never_created() -> None:
    document = scenario([block(1, lock())], expect={"transfers": {"t-2": "ABSENT"}, "tasks": {"t-1": "ABSENT"}})
    assert replayed(document).ok


def test_an_absence_assertion_fails_when_the_thing_exists() -> None:
    document = scenario([block(1, task(), {"type": "ATP_TRANSFER_LOCK"})],
                        expect={"transfers": {"task-1": "ABSENT"}, "tasks": {"task-1": "ABSENT"}})
    assert replayed(document).expectation_failures == [
        "final: transfer task-1 is LOCKED, expected ABSENT",
        "final: task task-1 is PENDING, expected ABSENT",
    ]


def test_a_status_expectation_fails_for_what_does_not_exist() -> None:
    document = scenario([], expect={"tasks": {"task-1": "PENDING"}})
    assert replayed(document).expectation_failures == ["final: task task-1 is ABSENT, expected PENDING"]


# === files that must be refused at load =================================================================
REFUSALS = {
    "amount_finer_than_a_unit.json": "'0.0000001 ATP' is finer than one unit: an ATP amount has at most 6 decimal places",
    "cycle_a.json": 'genesis_file "cycle_a.json" (tests/scenarios/rejected/cycle_a.json): a cycle of references: '
    "tests/scenarios/rejected/cycle_a.json -> tests/scenarios/rejected/cycle_b.json -> tests/scenarios/rejected/cycle_a.json",
    "cycle_b.json": "a cycle of references: tests/scenarios/rejected/cycle_b.json -> ",
    "expect_in_a_block_rejected_whole.json": "block 1: expects block_height_mismatch, which rejects the block whole, "
    "so the expect of its transaction 0 can never be checked",
    "lock_without_its_task.json": "block 1 transaction 0: an ATP_TRANSFER_LOCK that leaves out source_platform, "
    "source_agent, dest_platform, dest_agent, amount, timeout_ms must come right after the FEDERATION_TASK it pays for",
    "missing_genesis_file.json": 'genesis_file "../genesis/no_such_genesis.json" '
    "(tests/scenarios/genesis/no_such_genesis.json): no such file",
    "signature_and_signer.json": "block 1 transaction 0: give signature or signed_by, not both",
}


def test_every_file_written_to_be_refused_is_refused_for_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert sorted(path.name for path in REJECTED.glob("*.json")) == sorted(REFUSALS)
    for name, reason in REFUSALS.items():
        path = REJECTED / name
        refusal = rejection_at_load(path.read_text(encoding="utf-8"), path)
        assert refusal is not None and reason in refusal, (name, refusal)


def test_replay_expect_rejected_passes_only_when_every_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    refused = [f"tests/scenarios/rejected/{name}" for name in sorted(REFUSALS)]
    result = runner.invoke(app, ["ledger", "replay", "--expect-rejected", *refused])
    assert result.exit_code == 0, result.output
    assert result.output.count("rejected as expected") == len(REFUSALS)
    # Negative control: a file that loads makes the run fail, and says which.
    result = runner.invoke(app, ["ledger", "replay", "--expect-rejected", refused[0], "examples/executor_crash.json"])
    assert result.exit_code == 1
    assert "LOADED examples/executor_crash.json: expected it to be rejected at load" in result.output
    # A file that does not exist is not "rejected": it is a bad command line.
    result = runner.invoke(app, ["ledger", "replay", "--expect-rejected", "tests/scenarios/rejected/nothing.json"])
    assert result.exit_code == 2


def test_a_file_that_loads_but_fails_its_expectations_is_not_rejected_at_load() -> None:
    document = scenario([], expect={"tasks": {"task-1": "PENDING"}})
    assert rejection_at_load(json.dumps(document)) is None


# === a genesis by reference ==========================================================================
def test_a_genesis_by_reference_replays_as_the_same_genesis_written_out() -> None:
    path = SCENARIOS / "task_paid_after_each_block.json"
    by_reference = load_and_replay(path.read_text(encoding="utf-8"), path)
    written_out = json.loads(path.read_text(encoding="utf-8"))
    written_out["genesis"] = genesis()
    del written_out["genesis_file"]
    inline = replayed(written_out)
    assert [o.state_root for o in by_reference.blocks] == [o.state_root for o in inline.blocks]
    assert genesis_of(by_reference.scenario.genesis)[0] == genesis_of(inline.scenario.genesis)[0]


def test_a_genesis_may_come_from_another_scenario_file() -> None:
    path = SCENARIOS / "genesis_from_a_scenario.json"
    result = load_and_replay(path.read_text(encoding="utf-8"), path)
    assert result.ok, result.expectation_failures
    assert result.scenario.genesis.chain_id == genesis()["chain_id"]


def test_a_genesis_reference_is_refused_without_a_file_to_resolve_it_against() -> None:
    document = {"name": "x", "genesis_file": "genesis/two_platforms.json", "blocks": []}
    with pytest.raises(ScenarioError, match="relative to the scenario's own file, and this scenario was given as text"):
        parse_scenario(json.dumps(document))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"genesis_file": "genesis/two_platforms.json", "genesis": "inline"}, "give exactly one of genesis and genesis_file"),
        ({}, "give exactly one of genesis and genesis_file"),
    ],
)
def test_a_scenario_gives_exactly_one_genesis(fields: dict[str, Any], message: str) -> None:
    document: dict[str, Any] = {"name": "x", "blocks": [], **fields}
    if document.get("genesis") == "inline":
        document["genesis"] = genesis()
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(json.dumps(document), SCENARIOS / "x.json")


def test_a_broken_genesis_file_is_named_in_the_error(tmp_path: Path) -> None:
    broken = genesis()
    broken["accounts"][0]["balance"] = 1.5
    (tmp_path / "genesis.json").write_text(json.dumps(broken), encoding="utf-8")
    document = {"name": "x", "genesis_file": "genesis.json", "blocks": []}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(json.dumps(document), tmp_path / "x.json")
    assert str(caught.value).startswith(f'genesis_file "genesis.json" ({(tmp_path / "genesis.json").as_posix()}): ')
    assert "accounts.0.balance" in str(caught.value)


def test_a_file_that_names_itself_is_a_cycle(tmp_path: Path) -> None:
    path = tmp_path / "self.json"
    path.write_text(json.dumps({"name": "self", "genesis_file": "self.json", "blocks": []}), encoding="utf-8")
    refusal = rejection_at_load(path.read_text(encoding="utf-8"), path)
    assert refusal is not None and refusal.endswith(f"a cycle of references: {path.as_posix()} -> {path.as_posix()}")


# === the lock derived from its task ==================================================================
def test_a_lock_left_out_is_derived_from_its_task() -> None:
    derived = replayed(scenario([block(1, task(), {"type": "ATP_TRANSFER_LOCK", "expect": "ok"})]))
    written = replayed(scenario([block(1, task(), lock("task-1", expect="ok"))]))
    assert derived.ok and written.ok, derived.expectation_failures
    assert derived.blocks[0].block == written.blocks[0].block


def test_what_a_lock_states_wins_over_its_task() -> None:
    """A lock that states a field keeps it, so a mismatched pair can still be written."""
    document = scenario([block(1, task(), {"type": "ATP_TRANSFER_LOCK", "amount": "299 ATP"},
                               expect="block_transaction_invalid")])
    result = replayed(document)
    assert result.blocks[0].receipt.invalid_code == ResultCode.TASK_LOCK_MISMATCH
    assert result.blocks[0].block.transactions[1].amount == 299_000_000


def test_a_lock_with_fields_left_out_needs_its_task_right_before_it() -> None:
    document = scenario([block(1, task(), lock("t-9"), {"type": "ATP_TRANSFER_LOCK", "transfer_id": "t-2"})])
    with pytest.raises(ScenarioError, match=r"^block 1 transaction 2: an ATP_TRANSFER_LOCK that leaves out "):
        replayed(document)


# === exact ATP amounts ===============================================================================
@pytest.mark.parametrize(
    ("text", "units"),
    [("300 ATP", 300_000_000), ("0.5 ATP", 500_000), ("0.000001 ATP", 1), ("1.000000 ATP", 1_000_000),
     ("0 ATP", 0), ("18446744073709.551615 ATP", 2**64 - 1)],
)
def test_an_atp_string_is_its_exact_number_of_units(text: str, units: int) -> None:
    assert units_of_atp_text(text) == units


@pytest.mark.parametrize(
    ("text", "reason"),
    [("0.0000001 ATP", "finer than one unit"), ("1.0000000 ATP", "finer than one unit"),
     ("1.5", "not an amount"), ("01 ATP", "not an amount"), ("-1 ATP", "not an amount"),
     (".5 ATP", "not an amount"), ("1e3 ATP", "not an amount"), ("300 atp", "not an amount"), ("300ATP", "not an amount")],
)
def test_an_atp_string_that_is_not_exact_units_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        units_of_atp_text(text)
    document = scenario([block(1, lock(amount=text))])
    with pytest.raises(ScenarioError, match=r"^block 1 transaction 0: ATP_TRANSFER_LOCK\.amount: "):
        replayed(document)


@pytest.mark.parametrize("amount", [300.0, 0.5, True, "18446744073709.551616 ATP"])
def test_an_amount_is_never_a_float_a_boolean_or_out_of_range(amount: Any) -> None:
    with pytest.raises(ScenarioError, match=r"amount"):
        replayed(scenario([block(1, lock(amount=amount))]))


def test_amounts_in_atp_and_in_units_replay_alike() -> None:
    in_atp = scenario([block(1, task("0.25 ATP"), {"type": "ATP_TRANSFER_LOCK"})],
                      expect={"accounts": {ALICE: {"available": "999.75 ATP", "locked": "0.25 ATP"}}})
    in_units = copy.deepcopy(in_atp)
    in_units["genesis"]["accounts"][0]["balance"] = 1_000_000_000
    in_units["genesis"]["accounts"][1]["balance"] = 500_000
    in_units["blocks"][0]["transactions"][0]["cost"] = 250_000
    in_units["expect"]["accounts"][ALICE] = {"available": 999_750_000, "locked": 250_000}
    assert replayed(in_atp).ok and replayed(in_units).ok
    assert replayed(in_atp).blocks[0].state_root == replayed(in_units).blocks[0].state_root
    # Negative control: one unit off is a failure.
    in_atp["expect"]["accounts"][ALICE]["locked"] = "0.250001 ATP"
    assert replayed(in_atp).expectation_failures == [f"final: {ALICE} locked is 250000, expected 250001"]


# === an expectation that can never be checked ==========================================================
def test_an_expect_on_a_transaction_of_a_block_rejected_whole_fails_loudly() -> None:
    """The block was not expected to be rejected, so the file loads; the replay finds the
    transaction's expect unreachable and says so (it used to pass silently)."""
    document = scenario([block(1, lock(expect="ok"), height=9)])
    result = replayed(document)
    assert not result.ok
    assert result.expectation_failures == [
        "block 1 transaction 0: expected ok, but the block was rejected (block_height_mismatch) and this "
        "transaction was never applied, so its expect cannot be checked"
    ]


def test_only_the_failing_transaction_of_an_invalid_block_has_a_checkable_expect() -> None:
    bad = lock("t-2", signed_by="Sprout", expect="signature_invalid")
    checkable = scenario([block(1, lock(), bad)])
    assert replayed(checkable).blocks[0].receipt.invalid_index == 1
    assert replayed(checkable).ok
    # The transaction before the failing one is never applied either: its expect is loud.
    unreachable = scenario([block(1, lock(expect="ok"), bad)])
    assert replayed(unreachable).expectation_failures == [
        "block 1 transaction 0: expected ok, but the block was rejected (block_transaction_invalid) and this "
        "transaction was never applied, so its expect cannot be checked"
    ]
    # Written with the block's code, the file says it itself: refused at load.
    unreachable["blocks"][0]["expect"] = "block_transaction_invalid"
    with pytest.raises(ScenarioError, match=r"^block 1: expects block_transaction_invalid, under which only the one "):
        replayed(unreachable)


@pytest.mark.parametrize("code", ["block_height_mismatch", "block_previous_hash_mismatch", "block_timestamp_not_increasing", "block_proposer_unknown"])
def test_a_block_expected_rejected_whole_may_carry_no_transaction_expect(code: str) -> None:
    with pytest.raises(ScenarioError, match=rf"^block 1: expects {code}, which rejects the block whole"):
        replayed(scenario([block(1, lock(expect="ok"), expect=code)]))
    # Control: without the transaction's expect the same block loads.
    assert rejection_at_load(json.dumps(scenario([block(1, lock(), expect=code)]))) is None


# === old files and the schema ========================================================================
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
WRITTEN = [SCENARIOS / "task_paid_after_each_block.json", SCENARIOS / "genesis_from_a_scenario.json"]


@pytest.mark.parametrize("path", EXAMPLES + WRITTEN, ids=lambda path: path.name)
def test_the_schema_accepts_every_shipped_and_written_scenario(path: Path) -> None:
    SCHEMA.validate(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_old_scenario_files_still_replay_cleanly(path: Path) -> None:
    assert load_and_replay(path.read_text(encoding="utf-8"), path).ok


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["blocks"][0]["transactions"][1].update(amount="0.0000001 ATP"),
        lambda d: d["blocks"][0]["transactions"][1].update(amount=1.5),
        lambda d: d.update(genesis=genesis()),
        lambda d: d.pop("genesis_file"),
        lambda d: d["blocks"][0]["expect_after"]["tasks"].update({"task-bob": "GONE"}),
    ],
    ids=["finer than a unit", "float amount", "both geneses", "no genesis", "unknown status"],
)
def test_the_schema_refuses_what_the_loader_refuses(change: Any) -> None:
    document = json.loads((SCENARIOS / "task_paid_after_each_block.json").read_text(encoding="utf-8"))
    document["blocks"][0]["transactions"][1].update(amount="300 ATP")
    SCHEMA.validate(document)
    change(document)
    with pytest.raises(jsonschema.ValidationError):
        SCHEMA.validate(document)
