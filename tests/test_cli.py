"""The `fedspec` command: replay exit codes (0 ok, 1 property broken, 2 bad input), JSON output,
precise one-line errors without tracebacks, the code table, and a broken ledger caught end to end."""

import copy
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

import spec.ledger as ledger_module
from conformance.mutants import commit_credits_twice
from fedspec.cli import app
from spec.codes import CODE_TABLE, ResultCode
from spec.scenario import load_and_replay
from spec.wire.json_form import from_json
from spec.wire.records import BlockReceipt, LedgerState, SettlementCause, Transfer, TransferStatus
from spec.wire.state_root import state_root

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
HIGH_QUALITY = ROOT / "examples" / "task_high_quality.json"
LOW_QUALITY = ROOT / "examples" / "task_low_quality.json"
HEX64 = re.compile(r"^[0-9a-f]{64}$")

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HIGH_QUALITY.read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(json.dumps(data), encoding="utf-8")
    return path


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# --- examples ------------------------------------------------------------------------------------
def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_replays_clean(path: Path) -> None:
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    assert "all invariants hold after every block" in result.stdout
    assert "VIOLATION" not in result.stdout and "EXPECTATION FAILED" not in result.stdout
    final_root = state_root(load_and_replay(path.read_text(encoding="utf-8")).final)
    assert f"final state root {final_root}" in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_json_output(path: Path) -> None:
    result = invoke("ledger", "replay", "--json", str(path))
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    replayed = load_and_replay(path.read_text(encoding="utf-8"))
    assert view["ok"] is True
    assert view["violations"] == [] and view["expectation_failures"] == []
    assert view["scenario"] == replayed.scenario.name
    assert HEX64.match(view["final_state_root"])
    assert view["final_state_root"] == state_root(replayed.final)
    assert from_json(LedgerState, view["final"]) == replayed.final
    assert len(view["blocks"]) == len(replayed.blocks)
    codes = {info.code.value for info in CODE_TABLE}
    for block, outcome in zip(view["blocks"], replayed.blocks, strict=True):
        assert from_json(BlockReceipt, block["receipt"]) == outcome.receipt
        assert block["receipt"]["code"] == outcome.receipt.code.value
        assert block["state_root"] == outcome.state_root
        assert block["timestamp_ms"] == outcome.block.header.timestamp_ms
        assert all(tx["code"] in codes for tx in block["receipt"]["transactions"])
    assert view["blocks"][-1]["state_root"] == view["final_state_root"]


def test_several_files_give_a_json_list() -> None:
    result = invoke("ledger", "replay", "--json", *map(str, EXAMPLES))
    assert result.exit_code == 0, result.output
    views = json.loads(result.stdout)
    assert isinstance(views, list) and [v["scenario"] for v in views] == [
        load_and_replay(p.read_text(encoding="utf-8")).scenario.name for p in EXAMPLES
    ]


def test_json_output_of_high_quality_task() -> None:
    view = json.loads(invoke("ledger", "replay", "--json", str(HIGH_QUALITY)).stdout)
    receipts = [block["receipt"] for block in view["blocks"]]
    assert [[tx["code"] for tx in receipt["transactions"]] for receipt in receipts] == [["ok", "ok"], ["ok"], ["ok"]]
    settlement = receipts[1]["transactions"][0]["settlements"]
    assert settlement == [{"transfer_id": "task-A", "outcome": "COMMITTED", "cause": "PROOF"}]
    final = view["final"]
    assert final["accounts"]["lct:web4:agent:alice"]["total"] == 700_000_000
    assert final["accounts"]["lct:web4:agent:bob"]["total"] == 300_000_000
    assert final["tasks"]["task-A"]["status"] == "COMPLETED"
    assert final["tasks"]["task-A"]["proof"]["quality_bp"] == 8_500
    assert final["transfers"]["task-A"]["settled_by"] == "PROOF"
    assert final["reputations"]["Sprout"] == 5_350


# --- expectations that fail: exit 1 ----------------------------------------------------------------
def test_wrong_transaction_expectation_exits_1(tmp_path: Path) -> None:
    data = example()
    data["blocks"][0]["transactions"][1]["expect"] = "insufficient_available"
    path = write(tmp_path, "wrong_expect.json", data)
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    assert "block 1 transaction 1: expected insufficient_available, got ok" in result.stdout
    assert "EXPECTATION FAILED" in result.stdout

    result = invoke("ledger", "replay", "--json", str(path))
    assert result.exit_code == 1
    view = json.loads(result.stdout)
    assert view["ok"] is False
    assert view["expectation_failures"] == ["block 1 transaction 1: expected insufficient_available, got ok"]


def test_wrong_block_expectation_exits_1(tmp_path: Path) -> None:
    data = example()
    data["blocks"][1]["expect"] = "block_timestamp_not_increasing"
    # A block expected to be rejected whole may carry no transaction expect (it could
    # never be checked: refused at load, tests/test_scenarios.py); drop them here.
    for transaction in data["blocks"][1]["transactions"]:
        transaction.pop("expect", None)
    result = invoke("ledger", "replay", str(write(tmp_path, "wrong_block.json", data)))
    assert result.exit_code == 1
    assert "block 2: expected block_timestamp_not_increasing, got ok" in result.stdout


def test_wrong_final_expectation_exits_1(tmp_path: Path) -> None:
    data = example()
    data["expect"]["accounts"]["lct:web4:agent:alice"]["total"] = 1
    data["expect"]["tasks"]["task-A"] = "FAILED"
    result = invoke("ledger", "replay", str(write(tmp_path, "wrong_final.json", data)))
    assert result.exit_code == 1
    assert "final: lct:web4:agent:alice total is 700000000, expected 1" in result.stdout
    assert "final: task task-A is COMPLETED, expected FAILED" in result.stdout


def test_one_failing_file_among_good_ones_exits_1(tmp_path: Path) -> None:
    data = example()
    data["expect"]["reputations"]["Sprout"] = 5_351
    bad = write(tmp_path, "bad.json", data)
    result = invoke("ledger", "replay", str(EXAMPLES[0]), str(bad))
    assert result.exit_code == 1
    assert "final: reputation of Sprout is 5350, expected 5351" in result.stdout


def test_expected_rejection_replays_clean(tmp_path: Path) -> None:
    """A scenario may expect a failure code; meeting the expectation is success."""
    data = example()
    data["blocks"][0]["transactions"][1]["amount"] = 2_000_000_000
    data["blocks"][0]["transactions"][0]["cost"] = 2_000_000_000
    data["blocks"][0]["transactions"][0]["expect"] = "linked_transaction_failed"
    data["blocks"][0]["transactions"][1]["expect"] = "insufficient_available"
    data["blocks"][1]["transactions"][0]["expect"] = "task_not_found"
    data["blocks"][2]["transactions"][0]["expect"] = "task_not_found"
    data["blocks"].append({"timestamp_ms": 1, "expect": "block_timestamp_not_increasing"})
    data["expect"] = {"accounts": {"lct:web4:agent:alice": {"total": 1_000_000_000, "locked": 0}}}
    result = invoke("ledger", "replay", str(write(tmp_path, "rejections.json", data)))
    assert result.exit_code == 0, result.output


# --- malformed input: exit 2, one precise line, no traceback --------------------------------------
def mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(example())
    change(data)
    return data


def set_lock_field(name: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["blocks"][0]["transactions"][1][name] = value

    return change


LOCK_FIELD = "block 1 transaction 1: ATP_TRANSFER_LOCK"

MALFORMED: dict[str, tuple[Any, str]] = {
    "not JSON": ("{", "not JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    "empty file": ("", "not JSON: Expecting value at line 1, column 1"),
    "trailing garbage": (json.dumps(example()) + " x", "not JSON: Extra data"),
    "top-level list": ("[]", "(top level): Input should be an object"),
    "amount as float": (mutated(set_lock_field("amount", 300.0)), f"{LOCK_FIELD}.amount: Input should be a valid integer"),
    "amount as string": (
        mutated(set_lock_field("amount", "300000000")),
        f"{LOCK_FIELD}.amount: Value error, '300000000' is not an amount: write units as a JSON integer, or ATP as a "
        'string such as "300 ATP" or "0.5 ATP"',
    ),
    "amount as boolean": (mutated(set_lock_field("amount", True)), f"{LOCK_FIELD}.amount: Input should be a valid integer"),
    "amount negative": (mutated(set_lock_field("amount", -1)), f"{LOCK_FIELD}.amount: Input should be greater than or equal to 0"),
    "amount above u64": (mutated(set_lock_field("amount", 2**64)), f"{LOCK_FIELD}.amount: Input should be less than or equal to 18446744073709551615"),
    "NaN balance": (
        json.dumps(example()).replace('"balance": 1000000000', '"balance": NaN'),
        "genesis.accounts.0.balance: Input should be a valid integer",
    ),
    "unknown field": (mutated(set_lock_field("colour", "red")), f"{LOCK_FIELD}.colour: Extra inputs are not permitted"),
    "unknown top-level field": (mutated(lambda d: d.update(version=2)), "version: Extra inputs are not permitted"),
    "missing field": (
        mutated(lambda d: d["blocks"][0]["transactions"][0].pop("task_id")),
        "block 1 transaction 0: FEDERATION_TASK.task_id: Field required",
    ),
    "unknown transaction type": (
        mutated(set_lock_field("type", "MINT")), "block 1 transaction 1: Input tag 'MINT' found using 'type'"
    ),
    "unknown result code in expect": (
        mutated(set_lock_field("expect", "great")), f"{LOCK_FIELD}.expect: Input should be 'ok'"
    ),
    "duplicate JSON key": ('{"name": "a", "name": "b"}', "not JSON this format accepts: duplicate key 'name'"),
    "nested too deeply": ("[" * 100_000 + "]" * 100_000, "not JSON this format accepts: nested too deeply"),
    "genesis with duplicate platform": (
        mutated(lambda d: d["genesis"]["platforms"].append({"name": "Thor", "key_seed": "again"})),
        "genesis.platforms.4.name: duplicate platform 'Thor'",
    ),
    "unknown platform in accounts": (
        mutated(lambda d: d["genesis"]["accounts"][0].update(platform="Nowhere")),
        "genesis.accounts.0.platform: unknown platform 'Nowhere'",
    ),
    "genesis with duplicate account": (
        mutated(lambda d: d["genesis"]["accounts"].append(dict(d["genesis"]["accounts"][0]))),
        "genesis.accounts.2.agent: duplicate account 'lct:web4:agent:alice'",
    ),
    "genesis without platforms": (
        mutated(lambda d: d["genesis"].update(platforms=[], accounts=[])),
        "genesis.platforms: at least one platform is required",
    ),
    "genesis supply above maximum": (
        mutated(lambda d: d["genesis"]["accounts"][0].update(balance=10**18 + 1)),
        "genesis.accounts: total balance 1000000000000000001 is above MAX_SUPPLY",
    ),
    "genesis reputation above maximum": (
        mutated(lambda d: d["genesis"]["platforms"][0].update(reputation_bp=10_001)),
        "genesis.platforms.0.reputation_bp: above 10000",
    ),
    "platform named like the authority key": (
        mutated(lambda d: d["genesis"]["platforms"].append({"name": "authority", "key_seed": "x"})),
        "genesis.platforms.4.name: 'authority' is reserved for the authority key",
    ),
    "non-UTF-8 bytes": (b'{"name": "\xff\xfe"}', "not UTF-8 text (invalid start byte at byte 10)"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_input_exits_2_with_one_precise_line(name: str, tmp_path: Path) -> None:
    content, message = MALFORMED[name]
    path = write(tmp_path, "input.json", content)
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert message in lines[0], lines[0]


def test_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [f"error: {path}: no such file"]


def test_directory_exits_2(tmp_path: Path) -> None:
    result = invoke("ledger", "replay", str(tmp_path))
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path}: is a directory, not a scenario file"]


def test_bad_input_wins_over_good_files_and_each_error_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    broken = write(tmp_path, "broken.json", "{")
    result = invoke("ledger", "replay", str(EXAMPLES[0]), str(missing), str(broken))
    assert result.exit_code == 2
    assert_no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0] == f"error: {missing}: no such file"
    assert lines[1].startswith(f"error: {broken}: not JSON")


def test_malformed_input_with_json_flag_still_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", mutated(set_lock_field("amount", 300.0)))
    result = invoke("ledger", "replay", "--json", str(path))
    assert result.exit_code == 2
    assert_no_traceback(result)
    view = json.loads(result.stdout)
    assert view["path"] == str(path) and view["ok"] is False
    assert view["error"] == f"{LOCK_FIELD}.amount: Input should be a valid integer"
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_arguments_is_a_usage_error() -> None:
    result = invoke("ledger", "replay")
    assert result.exit_code == 2
    assert_no_traceback(result)


def test_markup_in_a_path_is_printed_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "x[/]" / "absent.json"
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert result.stderr.strip() == f"error: {path}: no such file"


def test_markup_in_a_scenario_name_is_printed_verbatim(tmp_path: Path) -> None:
    data = example()
    data["name"] = "odd [/] name"
    result = invoke("ledger", "replay", str(write(tmp_path, "odd.json", data)))
    assert result.exit_code == 0
    assert_no_traceback(result)
    assert "scenario odd [/] name" in result.stdout


def test_pattern_in_an_error_is_printed_verbatim(tmp_path: Path) -> None:
    data = mutated(lambda d: d["genesis"]["accounts"][0].update(agent="lct:web4:agent:Alice"))
    result = invoke("ledger", "replay", str(write(tmp_path, "pattern.json", data)))
    assert result.exit_code == 2
    assert "String should match pattern '^lct:web4:agent:[a-z0-9_-]{1,48}$'" in result.stderr


def test_real_process_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, in a real process: 0 on an example, 2 on a float amount."""
    command = [sys.executable, "-m", "fedspec.cli", "ledger", "replay"]
    good = subprocess.run([*command, str(HIGH_QUALITY)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert good.returncode == 0, good.stderr
    bad_path = write(tmp_path, "float.json", mutated(set_lock_field("amount", 300.0)))
    bad = subprocess.run([*command, str(bad_path)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip() == f"error: {bad_path}: {LOCK_FIELD}.amount: Input should be a valid integer"


# --- codes and vectors -----------------------------------------------------------------------------
def test_codes_json_lists_every_code_in_precedence_order() -> None:
    result = invoke("ledger", "codes", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [row["code"] for row in rows] == [info.code.value for info in CODE_TABLE]
    assert {row["code"] for row in rows} == {code.value for code in ResultCode}
    assert [row["kind"] for row in rows] == [info.kind for info in CODE_TABLE]
    assert all(row["meaning"] for row in rows)


def test_codes_table_prints() -> None:
    """The human table (its width follows the terminal, so only its frame is checked here)."""
    result = invoke("ledger", "codes")
    assert result.exit_code == 0
    assert "result codes, in precedence order" in result.stdout
    assert f" {len(CODE_TABLE) - 1} " in result.stdout


def test_conformance_generate_check_passes() -> None:
    """The committed cases, kill table and schemas are what the spec generates."""
    result = invoke("conformance", "generate", "--check")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout


# --- a broken ledger, end to end: exit 1 naming the invariant ------------------------------------
def rollback_forgets_to_unlock(work: LedgerState, transfer: Transfer, outcome: TransferStatus,
                               cause: SettlementCause) -> None:
    work.transfers[transfer.transfer_id] = replace(transfer, status=outcome, settled_by=cause)


def test_broken_ledger_replay_exits_1_naming_the_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("ledger", "replay", str(LOW_QUALITY)).exit_code == 0
    monkeypatch.setattr(ledger_module, "release_lock", rollback_forgets_to_unlock)
    result = invoke("ledger", "replay", str(LOW_QUALITY))
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    assert "VIOLATION lock_accounting:" in result.stdout
    assert "invariant violation(s)" in result.stdout

    result = invoke("ledger", "replay", "--json", str(LOW_QUALITY))
    assert result.exit_code == 1
    view = json.loads(result.stdout)
    assert view["ok"] is False
    assert "lock_accounting" in {v["invariant"] for v in view["violations"]}


def test_broken_commit_replay_exits_1_naming_conservation(monkeypatch: pytest.MonkeyPatch) -> None:
    commit_credits_twice(monkeypatch)
    result = invoke("ledger", "replay", "--json", str(HIGH_QUALITY))
    assert result.exit_code == 1
    names = {v["invariant"] for v in json.loads(result.stdout)["violations"]}
    assert {"conservation", "no_double_spend"} <= names


def test_broken_ledger_with_negative_balance_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    validate_settle = ledger_module.validate_settle

    def settle_again(work: LedgerState, tx: Any, own_cause: SettlementCause) -> ResultCode:
        code = validate_settle(work, tx, own_cause)
        return ResultCode.OK if code == ResultCode.TRANSFER_LINKED_TO_TASK else code

    # A task-linked lock committed by the delegator, then settled again by the proof: locked goes negative.
    data = example()
    data["blocks"][1]["transactions"].insert(0, {
        "type": "ATP_TRANSFER_COMMIT", "transfer_id": "task-A", "platform": "Thor", "expect": "transfer_linked_to_task",
    })
    monkeypatch.setattr(ledger_module, "validate_settle", settle_again)
    result = invoke("ledger", "replay", str(write(tmp_path, "settle_twice.json", data)))
    assert result.exit_code == 1
    assert_no_traceback(result)
