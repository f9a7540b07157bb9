"""The `fedspec` command.

Exit codes, for every command: 0 success, 1 the checked property does not hold
(an invariant broke, an expectation failed), 2 the input is unreadable or
malformed (a precise error on stderr, never a traceback).
"""

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spec.codes import CODE_TABLE
from spec.constants import UNITS_PER_ATP
from spec.scenario import ReplayResult, ScenarioError, load_and_replay, rejection_at_load
from spec.wire.json_form import to_json
from spec.wire.state_root import displayed_state_root

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    help="fedspec: the executable specification of a federation ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(help="Replay and inspect the ATP ledger specification.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail_input(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail_input(f"{path}: no such file")
    except IsADirectoryError:
        fail_input(f"{path}: is a directory, not a scenario file")
    except UnicodeDecodeError as error:
        fail_input(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})")
    except OSError as error:
        fail_input(f"{path}: cannot read ({error.strerror})")
    raise AssertionError("unreachable")


# --- JSON views -------------------------------------------------------------------------------
def replay_document(result: ReplayResult) -> dict[str, Any]:
    """What `ledger replay --json` prints: each block's receipt and the final state in
    their one JSON form (`spec.wire.json_form`), with the replay's own findings beside them."""
    blocks = []
    for outcome in result.blocks:
        blocks.append({
            "receipt": to_json(outcome.receipt),
            "timestamp_ms": outcome.block.header.timestamp_ms,
            "state_root": outcome.state_root,
            "violations": [{"invariant": v.invariant, "message": v.message} for v in outcome.violations],
        })
    return {
        "scenario": result.scenario.name,
        "ok": result.ok,
        "blocks": blocks,
        "final": to_json(result.final),
        "final_state_root": displayed_state_root(result.final),
        "violations": [
            {"block": number, "invariant": v.invariant, "message": v.message} for number, v in result.violations
        ],
        "expectation_failures": result.expectation_failures,
    }


# --- human views -------------------------------------------------------------------------------
def atp(units: int) -> str:
    whole, fraction = divmod(units, UNITS_PER_ATP)
    if fraction == 0:
        return f"{whole} ATP"
    return f"{whole}.{fraction:06d}".rstrip("0") + " ATP"


def print_replay(result: ReplayResult) -> None:
    out.print(f"[bold]scenario[/] {escape(result.scenario.name)}")
    for number, outcome in enumerate(result.blocks, start=1):
        receipt = outcome.receipt
        header = outcome.block.header
        status = "[green]ok[/]" if receipt.accepted else f"[red]{receipt.code.value}[/]"
        out.print(f"\n[bold]block {number}[/] height {header.height} at {header.timestamp_ms} ms by {header.proposer}: {status}")
        if receipt.invalid_index is not None and receipt.invalid_code is not None:
            out.print(f"  transaction {receipt.invalid_index}: [red]{receipt.invalid_code.value}[/] (static)")
        for settlement in receipt.expiries:
            out.print(f"  expiry: {settlement.transfer_id} -> {settlement.outcome.value}")
        for tx in receipt.transactions:
            colour = "green" if tx.code.value in ("ok", "exists") else "yellow"
            line = f"  [{tx.index}] {tx.type:<22} [{colour}]{tx.code.value}[/]"
            for settlement in tx.settlements:
                line += f"  -> {settlement.transfer_id} {settlement.outcome.value} by {settlement.cause.value}"
            out.print(line)
        out.print(f"  state root {outcome.state_root}")
        for violation in outcome.violations:
            out.print(f"  [bold red]VIOLATION[/] {violation.invariant}: {escape(violation.message)}")

    final = result.final
    accounts = Table(title="balances", title_justify="left")
    for column in ("agent", "platform", "total", "locked", "available"):
        accounts.add_column(column, justify="right" if column in ("total", "locked", "available") else "left")
    for agent, account in sorted(final.accounts.items()):
        accounts.add_row(agent, account.platform, atp(account.total), atp(account.locked), atp(account.available))
    out.print()
    out.print(accounts)
    if final.tasks:
        tasks = Table(title="tasks", title_justify="left")
        for column in ("task", "status", "cost", "threshold", "deadline ms", "settled quality"):
            tasks.add_column(column)
        for task_id, task in sorted(final.tasks.items()):
            quality = "-" if task.settled_quality_bp is None else f"{task.settled_quality_bp} bp"
            tasks.add_row(
                task_id, task.status.value, atp(task.cost), f"{task.quality_threshold_bp} bp", str(task.deadline_ms), quality
            )
        out.print(tasks)
    reputations = ", ".join(f"{name} {bp} bp" for name, bp in sorted(final.reputations.items()))
    out.print(f"reputations: {reputations}")
    out.print(f"final state root {displayed_state_root(final)}")
    for failure in result.expectation_failures:
        out.print(f"[bold red]EXPECTATION FAILED[/] {escape(failure)}")
    if result.ok:
        out.print("[bold green]all invariants hold after every block[/]")
    elif result.violations:
        out.print(f"[bold red]{len(result.violations)} invariant violation(s)[/]")


def check_rejected(scenarios: list[Path]) -> None:
    """`replay --expect-rejected`: a file written to be refused must be refused, with
    the reason printed; one that loads fails the run (a missing file is still exit 2)."""
    loaded = False
    for path in scenarios:
        reason = rejection_at_load(read_text(path), path)
        if reason is None:
            out.print(f"[bold red]LOADED[/] {escape(str(path))}: expected it to be rejected at load")
            loaded = True
        else:
            out.print(f"[green]rejected as expected[/] {escape(str(path))}: {escape(reason)}")
    raise typer.Exit(EXIT_VIOLATION if loaded else EXIT_OK)


# --- commands ----------------------------------------------------------------------------------
@ledger_app.command("replay")
def ledger_replay(
    scenarios: list[Path] = typer.Argument(
        ..., help="Scenario files: each a genesis plus blocks (see the site's scenario format)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the replay as JSON (a list for several files)."),
    expect_rejected: bool = typer.Option(
        False, "--expect-rejected", help="Each SCENARIO must be refused at load: exit 0 when all are, 1 when one loads."
    ),
) -> None:
    """Replay each SCENARIO, print every result code, the final state and root, and
    check every invariant after every block. Exit 0 when all hold, 1 when one breaks
    or an expectation fails, 2 when a scenario is unreadable or malformed."""
    if expect_rejected:
        check_rejected(scenarios)
    results: list[ReplayResult] = []
    unreadable = False
    for path in scenarios:
        try:
            results.append(load_and_replay(read_text(path), path))
        except ScenarioError as error:
            err.print(f"[bold red]error:[/] {escape(str(path))}: {escape(str(error))}")
            unreadable = True
        except typer.Exit:
            unreadable = True
    if as_json:
        views = [replay_document(result) for result in results]
        sys.stdout.write(json.dumps(views[0] if len(scenarios) == 1 and views else views, indent=2) + "\n")
    else:
        for number, result in enumerate(results):
            if number > 0:
                out.rule()
            print_replay(result)
    if unreadable:
        raise typer.Exit(EXIT_BAD_INPUT)
    all_ok = all(result.ok for result in results)
    raise typer.Exit(EXIT_OK if all_ok else EXIT_VIOLATION)


@ledger_app.command("codes")
def ledger_codes(as_json: bool = typer.Option(False, "--json", help="Print the table as JSON.")) -> None:
    """List every result code in precedence order, with its kind and meaning."""
    if as_json:
        rows = [{"code": i.code.value, "kind": i.kind, "meaning": i.meaning} for i in CODE_TABLE]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="result codes, in precedence order", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("code")
    table.add_column("kind")
    table.add_column("meaning")
    for number, info in enumerate(CODE_TABLE):
        table.add_row(str(number), info.code.value, info.kind, info.meaning)
    out.print(table)


@app.command("vectors")
def vectors(
    check: bool = typer.Option(False, "--check", help="Only check that the committed files are up to date."),
) -> None:
    """Write the known-answer vectors and JSON Schemas under conformance/ (or check them)."""
    from conformance.generate import ROOT, stale_files, write_all

    if check:
        stale = stale_files()
        for path in stale:
            err.print(f"[bold red]stale:[/] {path.relative_to(ROOT.parent)} differs from what the spec generates")
        if stale:
            err.print("run `fedspec vectors` and commit the result")
            raise typer.Exit(EXIT_VIOLATION)
        out.print("vectors and schemas are up to date")
        return
    for path in write_all():
        out.print(f"wrote {path.relative_to(ROOT.parent)}")


# --- fedspec conformance ------------------------------------------------------------------
conformance_app = typer.Typer(
    help="The conformance suite: generate its vectors from the spec, run it against a node build.",
    no_args_is_help=True,
)
app.add_typer(conformance_app, name="conformance")


@conformance_app.command("generate")
def conformance_generate(
    check: bool = typer.Option(False, "--check", help="Only check that the committed files are up to date."),
) -> None:
    """Write every runner's cases under conformance/vectors/ and the JSON Schemas (or check them).

    The files are the same, byte for byte, on every run; `--check` exits 1 when a
    committed file differs from what the spec generates or is no longer generated."""
    from conformance.generate import ROOT, stale_files, write_all

    if check:
        stale = stale_files()
        for path in stale:
            err.print(f"[bold red]stale:[/] {path.relative_to(ROOT.parent)} differs from what the spec generates")
        if stale:
            err.print("run `fedspec conformance generate` and commit the result")
            raise typer.Exit(EXIT_VIOLATION)
        out.print("the conformance vectors and schemas are up to date")
        return
    written = write_all()
    out.print(f"wrote {len(written)} files under conformance/")


@conformance_app.command("run")
def conformance_run(
    node: str = typer.Option(..., "--node", help='The command that starts the node under test, e.g. "python -m conformance.spec_node".'),
    suite: str | None = typer.Option(None, "--suite", help="Comma-separated runners to run (default: all)."),
    pattern: str | None = typer.Option(None, "-k", help="Only cases whose id contains this text."),
    case_id: str | None = typer.Option(None, "--case", help="Only the case with exactly this id (as a replay command gives)."),
    collect_only: bool = typer.Option(False, "--collect-only", help="List the selected case ids and exit."),
    stop_on_failure: bool = typer.Option(False, "-x", "--exitfirst", help="Stop at the first case that does not pass."),
    junit: Path | None = typer.Option(None, "--junit", help="Write a JUnit XML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of text."),
    seed: int | None = typer.Option(None, "--seed", help="Resample the Byzantine schedules from this seed."),
) -> None:
    """Run the conformance suite against a node build.

    Exit 0: every case passed. Exit 1: a case failed (its diff and a command that
    replays it alone are printed). Exit 2: a bad invocation, or a node that fails
    the handshake."""
    from conformance.node import HandshakeError, Verdict
    from conformance.runners import RUNNERS
    from conformance.suite import (
        InvocationError,
        RunOptions,
        collect,
        json_report,
        run_cases,
        summary_by_runner,
        write_reports,
    )

    suites = None if suite is None else {name.strip() for name in suite.split(",") if name.strip()}
    options = RunOptions(node, suites, pattern, case_id, stop_on_failure, seed)
    try:
        cases = collect(options, RUNNERS)
    except (InvocationError, ValueError) as error:
        fail_input(str(error))
    if collect_only:
        for case in cases:
            out.print(case.id)
        return
    identity: dict[str, Any] = {}
    results = []
    with conformance_progress(len(cases), not as_json, node) as advance:
        try:
            for result in run_cases(RUNNERS, node, cases, stop_on_failure, identity=identity):
                results.append(result)
                advance(result)
        except HandshakeError as error:
            fail_input(str(error))
    write_reports(node, identity, results, junit, None)
    if as_json:
        out.print_json(data=json_report(node, identity, results))
    else:
        print_conformance_summary(identity, summary_by_runner(results))
    raise typer.Exit(EXIT_OK if all(result.verdict == Verdict.PASS for result in results) else EXIT_VIOLATION)


LOG_LINES_SHOWN = 20
"""A failing case shows at most this many of the node's last log lines (the JUnit and
JSON reports keep them all)."""


@contextmanager
def conformance_progress(total: int, enabled: bool, node_command: str) -> Iterator[Callable[[Any], None]]:
    """A progress bar on a terminal's stderr; each case that does not pass is printed
    as it ends, with its diff, the node's log and the command that replays it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    def report(result: Any) -> None:
        if enabled and result.verdict != "pass":
            print_case_failure(result, node_command)

    if not (enabled and err.is_terminal):
        yield report
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as bar:
        task = bar.add_task("conformance", total=total)

        def advance(result: Any) -> None:
            bar.update(task, advance=1, description=result.case_id)
            report(result)

        yield advance


def print_case_failure(result: Any, node_command: str) -> None:
    from conformance.suite import replay_command

    out.print(f"[bold red]{result.verdict.value.upper()}[/] {escape(result.case_id)}")
    for line in result.differences:
        out.print(f"    {escape(line)}")
    log = result.log.rstrip().splitlines()
    if log:
        out.print(f"    node log (last {min(len(log), LOG_LINES_SHOWN)} of {len(log)} lines):")
        for line in log[-LOG_LINES_SHOWN:]:
            out.print(f"      {escape(line)}")
    out.print(f"    replay: {escape(replay_command(node_command, result.case_id))}")


def print_conformance_summary(identity: dict[str, Any], summary: dict[str, dict[str, int]]) -> None:
    name = f"{identity.get('implementation')} {identity.get('version')}" if identity else "the node"
    table = Table(title=f"conformance of {escape(name)}", title_justify="left")
    table.add_column("runner")
    table.add_column("cases", justify="right")
    table.add_column("passed", justify="right")
    table.add_column("not passed", justify="right")
    for runner, counts in summary.items():
        total = sum(counts.values())
        passed = counts.get("pass", 0)
        failed = ", ".join(f"{count} {verdict}" for verdict, count in sorted(counts.items()) if verdict != "pass")
        table.add_row(runner, str(total), str(passed), failed or "0")
    out.print(table)


# --- fedspec check -------------------------------------------------------------------------
@app.command("check")
def check(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="A model-checker configuration (TOML)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Processes exploring in parallel."),
    max_states: int | None = typer.Option(None, "--max-states", min=1, help="Stop after this many distinct states."),
    trace_out: Path | None = typer.Option(
        None, "--trace", help="Where to write the JSON trace of a finding (default: CONFIG-NAME.trace.json)."
    ),
) -> None:
    """Explore a configuration with the bounded model checker.

    Exit 0: every invariant holds in the explored space. Exit 1: a violation (or the
    witness a witness configuration looks for); its trace is printed and written as
    JSON. Exit 2: the configuration is unusable."""
    from checker.config import ConfigError, load_config
    from checker.explore import Progress, explore
    from checker.liveness import check_liveness
    from checker.report import report_json, report_lines
    from checker.trace import concrete_finding, render, replay, trace_json, write_trace

    try:
        config = load_config(config_path)
    except ConfigError as error:
        fail_input(str(error))
        return
    if config.liveness and workers > 1:
        fail_input(f"{config_path}: check.liveness needs the whole graph in one process: use --workers 1")

    def show_progress(progress: Progress) -> None:
        if progress.seconds >= 2.0:
            err.print(
                f"  depth {progress.depth}: {progress.distinct} distinct, {progress.generated} generated, "
                f"{progress.frontier} on the frontier, {progress.seconds:.0f} s",
                style="dim",
            )

    outcome = explore(config, workers=workers, max_states=max_states, progress=show_progress)
    if outcome.finding is None and config.liveness and outcome.exhausted:
        check_liveness(config, outcome)
    trace_path: str | None = None
    text = ""
    if outcome.finding is not None:
        trace = replay(config, outcome.trace)
        finding = concrete_finding(config, trace, outcome.finding)
        outcome.finding = finding
        target = trace_out if trace_out is not None else Path(f"{config.name}.trace.json")
        trace_path = str(target)
        write_trace(trace_path, trace_json(config, trace, finding))
        text = render(config, trace, finding)
    if as_json:
        out.print_json(json.dumps(report_json(config, outcome, trace_path)))
    else:
        if text:
            out.print(escape(text))
            out.print()
        for line in report_lines(config, outcome):
            out.print(escape(line))
        if trace_path is not None:
            out.print(escape(f"trace:      {trace_path}"))
    raise typer.Exit(EXIT_VIOLATION if outcome.finding is not None else EXIT_OK)


@app.command("prove")
def prove(
    names: list[str] = typer.Argument(
        None, metavar="[NAME]...", help="Obligations to prove: exact names, dotted prefixes (ledger.conservation) or globs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    timeout: float = typer.Option(60.0, "--timeout", min=1.0, help="Seconds allowed per obligation (then unknown)."),
    variant: str | None = typer.Option(
        None, "--variant", metavar="PROOF.VARIANT", help="Prove a broken variant instead (a negative control: must fail)."
    ),
    list_only: bool = typer.Option(False, "--list", help="List the selected obligations with their statements."),
    list_variants: bool = typer.Option(False, "--variants", help="List the broken variants (negative controls)."),
) -> None:
    """Prove the safety and ledger invariants with z3, for every N, f and ledger size.

    Prints one row per obligation: its name, its result (proven, failed, unknown) and
    the seconds it took; then each failure's counterexample. Exit 0 only when every
    selected obligation is proven; 1 otherwise; 2 when NAME selects nothing or the
    variant is unknown."""
    from checker.proofs import UnknownVariant, all_obligations, all_variants, variant_obligations
    from checker.proofs.obligation import Status, prove_all, selected

    if list_variants:
        for name, description in all_variants().items():
            out.print(escape(f"{name}: {description}"))
        raise typer.Exit(EXIT_OK)
    try:
        pool = all_obligations() if variant is None else variant_obligations(variant)
    except UnknownVariant as error:
        fail_input(str(error))
        return
    chosen = selected(pool, names or [])
    if not chosen:
        fail_input(f"no obligation matches {' '.join(names or [])!r} (fedspec prove --list shows them)")
    if list_only:
        for obligation in chosen:
            out.print(escape(f"{obligation.name}: {obligation.statement}"))
        raise typer.Exit(EXIT_OK)

    def show_progress(result: Any) -> None:
        if not as_json:
            err.print(f"  {result.status.value:<8} {result.seconds:6.2f} s  {result.name}", style="dim")

    results = prove_all(chosen, timeout, on_result=show_progress)
    all_proven = all(result.status == Status.PROVEN for result in results)
    total = sum(result.seconds for result in results)
    if as_json:
        out.print_json(json.dumps({
            "variant": variant,
            "all_proven": all_proven,
            "seconds": round(total, 3),
            "obligations": [
                {
                    "name": result.name,
                    "statement": obligation.statement,
                    "result": result.status.value,
                    "seconds": round(result.seconds, 3),
                    "counterexample": result.counterexample,
                }
                for obligation, result in zip(chosen, results, strict=True)
            ],
        }))
        raise typer.Exit(EXIT_OK if all_proven else EXIT_VIOLATION)
    table = Table(title=None if variant is None else f"broken variant {variant}")
    table.add_column("obligation")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    style = {Status.PROVEN: "green", Status.FAILED: "bold red", Status.UNKNOWN: "yellow"}
    for result in results:
        table.add_row(escape(result.name), f"[{style[result.status]}]{result.status.value}[/]", f"{result.seconds:.2f}")
    out.print(table)
    counts = {status: sum(1 for result in results if result.status == status) for status in Status}
    out.print(
        f"{len(results)} obligations: {counts[Status.PROVEN]} proven, {counts[Status.FAILED]} failed, "
        f"{counts[Status.UNKNOWN]} unknown, in {total:.1f} s"
    )
    for result in results:
        if result.status != Status.PROVEN and result.counterexample is not None:
            out.print()
            out.print(escape(f"{result.name}: {result.status.value}"))
            out.print(escape(result.counterexample))
    raise typer.Exit(EXIT_OK if all_proven else EXIT_VIOLATION)


CHECK_HASH_SEED = "0"
"""`fedspec check` runs under a fixed hash seed: fingerprints and set orders, and so
the counts and the shortest trace a run prints, are then the same on every run."""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "check" and os.environ.get("PYTHONHASHSEED") != CHECK_HASH_SEED:
        os.environ["PYTHONHASHSEED"] = CHECK_HASH_SEED
        os.execv(sys.executable, [sys.executable, "-m", "fedspec", *sys.argv[1:]])
    app()


if __name__ == "__main__":
    main()
