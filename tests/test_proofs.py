"""The proof runner and `fedspec prove`: a proof cannot pass vacuously, every proof
module keeps the contract (every obligation has a broken variant), and the command
reports and exits as documented."""

import json

import pytest
import z3
from typer.testing import CliRunner

from checker.proofs import PROOF_MODULES, all_variants, proof_module, variant_obligations
from checker.proofs.obligation import Obligation, Status, prove, selected
from fedspec.cli import app

runner = CliRunner()
x = z3.Int("x")


def obligation(hypotheses: list[z3.BoolRef], goal: z3.BoolRef, name: str = "demo.case") -> Obligation:
    return Obligation(name, "demo", lambda: hypotheses, lambda: goal, lambda model: f"x = {model.eval(x)}")


def test_a_valid_goal_is_proven() -> None:
    assert prove(obligation([x > 2], x > 1)).status == Status.PROVEN


def test_an_invalid_goal_fails_with_its_counterexample() -> None:
    result = prove(obligation([x > 0], x > 1))
    assert result.status == Status.FAILED
    assert result.counterexample == "x = 1"


def test_contradictory_hypotheses_are_reported_vacuous_not_proven() -> None:
    """The same contradiction proves `False`: the runner must refuse it."""
    for goal in (x > 1, z3.BoolVal(False)):
        result = prove(obligation([x > 2, x < 1], goal))
        assert result.status == Status.FAILED
        assert result.counterexample is not None and result.counterexample.startswith("vacuous")


def test_goal_false_fails_whenever_the_hypotheses_hold_somewhere() -> None:
    assert prove(obligation([x > 2], z3.BoolVal(False))).status == Status.FAILED


def test_selection_by_exact_name_prefix_and_glob() -> None:
    pool = [obligation([], x == x, name) for name in ("ledger.conservation.commit", "ledger.conservation.lock",
                                                       "ledger.settle_once.commit", "pbft.agreement")]
    names = lambda chosen: [o.name for o in chosen]  # noqa: E731
    assert names(selected(pool, ["pbft.agreement"])) == ["pbft.agreement"]
    assert names(selected(pool, ["ledger.conservation"])) == ["ledger.conservation.commit", "ledger.conservation.lock"]
    assert names(selected(pool, ["*.commit"])) == ["ledger.conservation.commit", "ledger.settle_once.commit"]
    assert names(selected(pool, ["ledger.conserv"])) == []
    assert len(selected(pool, [])) == 4


@pytest.mark.parametrize("module_name", PROOF_MODULES)
def test_every_obligation_is_named_for_its_proof_and_has_a_broken_variant(module_name: str) -> None:
    module = proof_module(module_name)
    names = [o.name for o in module.obligations()]
    assert len(names) == len(set(names)), "obligation names are unique"
    assert all(name.startswith(module_name + ".") for name in names)
    broken = module.broken_variants()
    assert set(broken) == set(names), "every obligation, and only those, has a broken variant"
    assert set(broken.values()) <= set(module.VARIANTS)
    for variant in module.VARIANTS:
        assert [o.name for o in variant_obligations(f"{module_name}.{variant}")] == names, (
            f"{variant} builds the same obligations over the broken model"
        )


def test_prove_exits_0_when_everything_selected_is_proven() -> None:
    result = runner.invoke(app, ["prove", "quorums"])
    assert result.exit_code == 0, result.output
    assert "proven" in result.stdout and "failed" not in result.stdout.split("obligations:")[0]


def test_prove_a_broken_variant_exits_1_and_prints_the_counterexample() -> None:
    result = runner.invoke(app, ["prove", "--variant", "quorums.two_f_plus_one"])
    assert result.exit_code == 1, result.output
    assert "failed" in result.stdout
    assert "N" in result.stdout and "f" in result.stdout


def test_prove_json_lists_each_obligation_with_its_result_and_seconds() -> None:
    result = runner.invoke(app, ["prove", "quorums", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["all_proven"] is True
    assert report["obligations"] and all(
        set(entry) == {"name", "statement", "result", "seconds", "counterexample"} for entry in report["obligations"]
    )
    assert {entry["result"] for entry in report["obligations"]} == {"proven"}


def test_prove_json_of_a_broken_variant_says_not_all_proven() -> None:
    result = runner.invoke(app, ["prove", "--json", "--variant", "quorums.two_f_plus_one"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["all_proven"] is False
    assert any(entry["result"] == "failed" and entry["counterexample"] for entry in report["obligations"])


@pytest.mark.parametrize("arguments", [["prove", "no.such.obligation"], ["prove", "--variant", "quorums.nonsense"],
                                       ["prove", "--variant", "nonsense"]])
def test_prove_refuses_what_selects_nothing_with_exit_2(arguments: list[str]) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert "error:" in result.stderr and "Traceback" not in result.output


def test_prove_lists_obligations_and_variants() -> None:
    listed = runner.invoke(app, ["prove", "--list", "quorums"])
    assert listed.exit_code == 0 and listed.stdout.startswith("quorums.")
    variants = runner.invoke(app, ["prove", "--variants"])
    assert variants.exit_code == 0
    assert set(line.split(":")[0] for line in variants.stdout.splitlines()) == set(all_variants())
