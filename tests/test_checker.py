"""The model checker: every shipped configuration does what it is for, traces
replay, bad configurations are refused precisely, and the reductions (symmetry,
parallel workers) change counts, never verdicts."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from checker.config import ConfigError, load_config
from checker.explore import explore
from checker.model import Model
from checker.trace import TRACE_FORMAT, replay, trace_json
from fedspec.cli import app
from spec.pbft import initial_replica_state
from spec.wire.json_form import input_from_json, to_json

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()

EXPECTED_FINDINGS = {
    "controls/quorum_2f1_n5f1.toml": "agreement",
    "controls/two_faulty_of_four.toml": "agreement",
    "controls/view_change_drops_certificates.toml": "agreement",
    "controls/prepare_without_validation.toml": "validity",
    "controls/nondeterministic_execution.toml": "determinism",
    "controls/liveness_without_view_change.toml": "liveness",
    "controls/stale_prepared_certificate.toml": "sent-valid",
    "controls/fetch_on_checkpoint_evidence_only.toml": "liveness",
    "controls/liveness_censoring_primary.toml": "liveness",
    "witnesses/block_commits.toml": "witness:block_commits",
    "witnesses/task_settles_by_commit.toml": "witness:task_settles_by_commit",
    "witnesses/task_settles_by_rollback.toml": "witness:task_settles_by_rollback",
    "witnesses/view_change_completes.toml": "witness:view_change_completes",
    "witnesses/equivocation_survived.toml": "witness:equivocation_survived",
    "witnesses/catch_up_completes.toml": "witness:catch_up_completes",
    "witnesses/checkpoint_ahead_of_execution.toml": "witness:checkpoint_ahead_of_execution",
    "witnesses/faulty_new_view_installed.toml": "witness:faulty_new_view_installed",
    "witnesses/crash_survived.toml": "witness:crash_survived",
    "witnesses/timestamp_ahead_of_clock.toml": "witness:timestamp_ahead_of_clock",
    "witnesses/watermark_holds_back.toml": "witness:watermark_holds_back",
}


def test_every_shipped_control_and_witness_is_listed() -> None:
    shipped = {str(p.relative_to(CONFIGS)) for p in CONFIGS.glob("*/*.toml")}
    assert shipped == set(EXPECTED_FINDINGS)


@pytest.mark.parametrize("name", sorted(EXPECTED_FINDINGS))
def test_shipped_config_finds_what_it_is_for(name: str, tmp_path: Path) -> None:
    trace_file = tmp_path / "trace.json"
    result = runner.invoke(app, ["check", str(CONFIGS / name), "--json", "--trace", str(trace_file)])
    assert result.exit_code == 0, result.output  # the finding it looks for: as expected
    report = json.loads(result.stdout)
    assert report["expect"] == "violation" and report["as_expected"] is True
    assert report["finding"]["property"] == EXPECTED_FINDINGS[name]
    assert not re.search(r"\breplicas? \d", report["finding"]["detail"]), "findings name replicas by platform"
    assert trace_file.exists()
    assert_trace_replays(json.loads(trace_file.read_text()), name)


def assert_trace_replays(data: dict, name: str) -> None:
    """Drive fresh replicas through the exported inputs, one by one, and get exactly
    the exported outputs: the JSON holds enough to replay an implementation. (Through
    `Model.step`: the spec's step, or the configuration's mutant of it.)"""
    config = load_config(CONFIGS / name)
    model = Model(config)
    assert data["format"] == TRACE_FORMAT == "fedspec-trace/1"
    states = {}
    for index in config.correct:
        states[index] = initial_replica_state(config.consensus, index, config.start_clock(index))
        for item in data["initial"]["replicas"][str(index)]["inputs"]:
            states[index], outputs, _ = model.step(index, states[index], input_from_json(item["input"]))
            assert [to_json(m) for m in outputs] == item["outputs"]
    if EXPECTED_FINDINGS[name] != "liveness":
        assert data["steps"], "a safety finding or a witness has at least one step"
    for row in data["steps"]:
        if row["kind"] == "byzantine":
            assert row["replica"] in config.faulty
            continue
        if row["kind"] == "crash":
            assert row["replica"] in config.correct
            continue
        replica = row["replica"]
        for item in row["inputs"]:
            event = input_from_json(item["input"])
            assert to_json(event) == item["input"]
            states[replica], outputs, _ = model.step(replica, states[replica], event)
            assert [to_json(m) for m in outputs] == item["outputs"]
        for index, summary in row["after"].items():
            assert list(states[int(index)].executed) == summary["executed"]


def test_small_n4f1_is_exhausted_without_violation() -> None:
    config = dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1, byzantine_messages=0)
    outcome = explore(config)
    assert outcome.finding is None
    assert outcome.exhausted
    assert outcome.distinct > 100


def test_two_workers_reach_the_same_states_as_one() -> None:
    config = dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1, byzantine_messages=0)
    serial = explore(config, workers=1)
    parallel = explore(config, workers=2)
    assert (serial.distinct, serial.exhausted) == (parallel.distinct, parallel.exhausted)


def test_two_workers_find_the_same_shortest_violation() -> None:
    config = load_config(CONFIGS / "controls/two_faulty_of_four.toml")
    serial = explore(config, workers=1)
    parallel = explore(config, workers=2)
    assert serial.finding is not None and parallel.finding is not None
    assert serial.finding.property == parallel.finding.property
    assert len(serial.trace) == len(parallel.trace)
    trace = replay(config, parallel.trace)
    assert len(trace.steps) == len(parallel.trace)


def test_symmetry_shrinks_the_space_and_keeps_the_verdict() -> None:
    config = load_config(CONFIGS / "controls/quorum_2f1_n5f1.toml")
    with_symmetry = explore(config)
    without = explore(dataclasses.replace(config, symmetry=False))
    assert with_symmetry.finding is not None and without.finding is not None
    assert with_symmetry.finding.property == without.finding.property == "agreement"
    assert len(with_symmetry.trace) == len(without.trace)
    assert with_symmetry.distinct < without.distinct
    # The trace found on canonical worlds replays on the configuration's replicas.
    trace = replay(config, with_symmetry.trace)
    data = trace_json(config, trace, with_symmetry.finding)
    assert data["property"] == "agreement"


def test_max_states_cuts_the_search_and_says_so() -> None:
    result = runner.invoke(app, ["check", str(CONFIGS / "n4f1.toml"), "--json", "--max-states", "500"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cut_by_max_states"] is True
    assert report["exhausted"] is False


BAD_CONFIGS = [
    ("missing.toml", None, "no such file"),
    ("bad.toml", "name = \n", "not TOML"),
    ("unknown.toml", 'extends = "n4f1.toml"\nsurprise = 1\n', "surprise: Extra inputs are not permitted"),
    ("faulty.toml", 'extends = "n4f1.toml"\n[consensus]\nfaulty = ["Zeus"]\n', "consensus.faulty.0: 'Zeus' is not a genesis platform"),
    (
        "all.toml",
        'extends = "n4f1.toml"\n[consensus]\nfaulty = ["Thor", "Sprout", "Legion", "Nova"]\n',
        "at least one replica must be correct",
    ),
    ("loop.toml", 'extends = "loop.toml"\nname = "x"\n', "extends itself"),
    ("bounds.toml", 'extends = "n4f1.toml"\n[bounds]\nmax_height = 0\n', "bounds.max_height"),
    ("mutant.toml", 'extends = "n4f1.toml"\n[check]\nmutant = "evil"\n', "check.mutant"),
]


@pytest.mark.parametrize("file_name, text, message", BAD_CONFIGS)
def test_bad_config_is_refused_with_a_precise_error(tmp_path: Path, file_name: str, text: str | None, message: str) -> None:
    (tmp_path / "n4f1.toml").write_text((CONFIGS / "n4f1.toml").read_text())
    path = tmp_path / file_name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=".*"):
        load_config(path)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_ledger_invariant_violation_is_reported_as_a_ledger_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control of the checker's ledger check: with `check_step` reporting a
    violation on every block, the first executed block is a `ledger` finding that
    names the invariant and its message (not a crash)."""
    import checker.invariants
    from spec.invariants import Violation

    monkeypatch.setattr(checker.invariants, "check_step", lambda *args: [Violation("conservation", "supply moved")])
    config = dataclasses.replace(load_config(CONFIGS / "n4f1.toml"), max_view=1, byzantine_messages=0)
    outcome = explore(config)
    assert outcome.finding is not None
    assert outcome.finding.property == "ledger"
    assert "conservation: supply moved" in outcome.finding.detail


# --- the review's additions: sent-valid, spec variants, block requests answered at once ----------------
def test_sent_valid_flags_an_invalid_view_change_of_a_correct_replica_only() -> None:
    """A VIEW-CHANGE whose certificate lies at its own checkpoint (what finding 1 made
    correct replicas send) is a finding when a correct replica sent it, and the
    adversary's business when a faulty one did."""
    from checker.invariants import SentMessageChecks
    from checker.model import World
    from spec.pbft import CheckpointCertificate, PreparedCertificate, PrePrepare, ViewChange

    config = load_config(CONFIGS / "n4f1.toml")
    correct_primary = Model(dataclasses.replace(config, faulty=frozenset())).initial()
    proposal = next(m for m in correct_primary.messages if isinstance(m, PrePrepare))
    stable = CheckpointCertificate(2, "ab" * 32, frozenset({1, 2, 3}))
    at_checkpoint = PreparedCertificate(dataclasses.replace(proposal, height=2), frozenset({0, 1, 2}))
    replicas = Model(config).initial().replicas  # Thor (0) faulty
    checks = SentMessageChecks(config.consensus)
    for sender, expected in ((1, "sent-valid"), (0, None)):
        message = ViewChange(1, stable, (at_checkpoint,), sender)
        found = checks.check(World(replicas, frozenset({message}), 0))
        assert (found.property if found else None) == expected
    without = ViewChange(1, stable, (), 1)
    assert checks.check(World(replicas, frozenset({without}), 0)) is None


def test_spec_variants_replace_existing_functions_and_are_put_back() -> None:
    import spec.pbft as pbft
    from checker.config import MUTANTS
    from checker.mutants import SPEC_VARIANTS, installed

    originals = {name: getattr(pbft, name) for patches in SPEC_VARIANTS.values() for name in patches}
    for variant, patches in SPEC_VARIANTS.items():
        assert variant in MUTANTS
        with installed(patches):
            for name, function in patches.items():
                assert getattr(pbft, name) is function
        for name in patches:
            assert getattr(pbft, name) is originals[name]


def test_every_mutant_is_used_by_a_shipped_control_or_a_test() -> None:
    from checker.config import MUTANTS

    used = {load_config(path).mutant for path in CONFIGS.glob("controls/*.toml")}
    tested_elsewhere = {"new_view_compares_checkpoint_signers"}  # tests/test_symmetry.py
    assert set(MUTANTS) == (used - {None}) | tested_elsewhere


def test_a_block_request_is_answered_at_once_by_every_replica_that_can() -> None:
    """The model's reduction: along a trace to a catch-up, after every step, each
    block request sent so far whose requester still lacks the block is answered by
    every correct replica that holds it."""
    from checker.invariants import caught_up
    from spec.pbft import BlockRequest, BlockResponse

    config = dataclasses.replace(load_config(CONFIG_FOR_CATCH_UP), mutant=None)
    outcome = explore(dataclasses.replace(config, witness="catch_up_completes"))
    assert outcome.finding is not None and outcome.finding.property == "witness:catch_up_completes"
    trace = replay(config, outcome.trace)
    requests: set[BlockRequest] = set()
    answered = 0
    for step in trace.steps:
        for _, _, outputs in step.results:
            requests.update(m for m in outputs if isinstance(m, BlockRequest))
        replicas = step.world.replicas
        for request in requests:
            requester = replicas[request.sender]
            if requester is None or requester.height >= request.height:
                continue
            for responder, state in enumerate(replicas):
                if state is None or responder == request.sender or state.height < request.height:
                    continue
                answers = [m for m in step.world.messages if isinstance(m, BlockResponse)
                           and (m.sender, m.requester, m.certificate.height) == (responder, request.sender, request.height)]
                assert answers, f"step {step.number}: replica {responder} has not answered {request}"
                answered += 1
    assert requests and answered > 0, "the trace exercises the reduction"
    assert caught_up(trace.steps[-1].world)


CONFIG_FOR_CATCH_UP = CONFIGS / "controls/stale_prepared_certificate.toml"
"""Three replicas, a checkpoint at every height: catch-up comes within a few steps
(the configuration's mutant is set aside)."""
