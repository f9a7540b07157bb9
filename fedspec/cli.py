"""The `fedspec` command.

Exit codes, for every command: 0 success, 1 the checked property does not hold
(an invariant broke, an expectation failed), 2 the input is unreadable or
malformed (a precise error on stderr, never a traceback).

`fedspec check` states its exit code against the configuration's `expect`: 0 when
the run came out as expected (no violation where `expect = "pass"`; the violation
or the witness a negative control or a witness configuration looks for), 1 when
it did NOT come out as expected, 2 when the configuration is unusable.

Every error is one line on stderr: `error: WHERE: WHAT`, WHERE being the file
(and, inside it, the place) that is wrong.
"""

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from spec.codes import CODE_TABLE
from spec.constants import BASIS_POINTS, UNITS_PER_ATP
from spec.scenario import ReplayResult, ScenarioError, load_and_replay, rejection_at_load
from spec.wire.json_form import to_json
from spec.wire.state_root import displayed_state_root

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
EXIT_AS_EXPECTED = EXIT_OK
EXIT_NOT_AS_EXPECTED = EXIT_VIOLATION
"""`fedspec check`: the run came out as the configuration's `expect` says, or not."""

PROGRAM = "fedspec"
"""The name help and usage lines give the command, however it was started
(`fedspec`, `python -m fedspec`, or the re-executed `fedspec check`)."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# --- help: plain text, arguments by name, no type placeholders --------------------------------
def argument_label(argument: TyperArgument) -> str:
    """How usage and help name an argument: its metavar, else its name in capitals,
    with `...` when it takes several values."""
    if argument.metavar is not None:
        return argument.metavar
    label = (argument.name or "").upper()
    return label + "..." if argument.nargs != 1 else label


def argument_help(argument: TyperArgument) -> str:
    text = argument.help or ""
    return f"{text}  [required]" if argument.required else text


class PlainCommand(TyperCommand):
    """A command whose help is plain text that wraps to the terminal: arguments
    shown by name, options by their metavar, never a type placeholder such as `<bool>`."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [argument_label(param) for param in self.get_params(ctx) if isinstance(param, TyperArgument)]
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        params = self.get_params(ctx)
        arguments = [(argument_label(param), argument_help(param)) for param in params if isinstance(param, TyperArgument)]
        options = [record for param in params if not isinstance(param, TyperArgument) and (record := param.get_help_record(ctx))]
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


HELP_SUMMARY_LIMIT = 1000
"""Characters of a command's summary in its group's list: enough for the first
sentence whole (click would cut it at the terminal's width with `...`)."""


class PlainGroup(TyperGroup):
    """A group whose list of commands gives each one's first sentence whole."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=HELP_SUMMARY_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def plain_typer(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        cls=PlainGroup,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def fedspec_version() -> str:
    try:
        return version("fedspec")
    except PackageNotFoundError:
        return "unknown (not installed)"


app = plain_typer("fedspec: the executable specification of a federation ledger.")


@app.callback(invoke_without_command=True)
def top_level(
    context: typer.Context,
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, help="Print the version of fedspec and exit."
    ),
) -> None:
    """fedspec: the executable specification of a federation ledger."""
    if show_version:
        out.print(f"{PROGRAM} {fedspec_version()}")
        raise typer.Exit(EXIT_OK)
    if context.invoked_subcommand is None:
        out.print(escape(context.get_help()))
        raise typer.Exit(EXIT_BAD_INPUT)


ledger_app = plain_typer("Replay and inspect the ATP ledger specification.")
app.add_typer(ledger_app, name="ledger")


class InputError(Exception):
    """An input file that cannot be used; the message starts with the file's path."""


def fail_input(message: str) -> None:
    """Print the one error line, `error: WHERE: WHAT`, and exit 2."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a scenario file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


# --- tables that are never cut ----------------------------------------------------------------
Column = tuple[str, str, bool]
"""A table column: its header, its justification, and whether its cells are names
to keep whole (an identifier, a code): such a column is at least as wide as its
widest cell, and the others wrap instead."""


def unclipped_table(title: str | None, columns: list[Column], rows: list[list[str]]) -> Table:
    """A table that never cuts a cell: rich would end a cell in `…` when the terminal
    (or a pipe's 80 columns) is narrow; here cells wrap at spaces and fold a long
    word onto the next line, and the name columns keep their names whole."""
    table = Table(title=title, title_justify="left")
    for index, (header, justify, whole) in enumerate(columns):
        widest = max((Text.from_markup(line).cell_len for row in rows for line in row[index].splitlines()), default=0)
        table.add_column(
            header, justify=justify, overflow="fold", min_width=widest if whole else None  # type: ignore[arg-type]
        )
    for row in rows:
        table.add_row(*row)
    return table


# --- units people read, beside the raw values -----------------------------------------------------
def atp(units: int) -> str:
    """An amount in ATP, exactly (1 ATP = UNITS_PER_ATP units)."""
    whole, fraction = divmod(units, UNITS_PER_ATP)
    if fraction == 0:
        return f"{whole} ATP"
    return f"{whole}.{fraction:06d}".rstrip("0") + " ATP"


def atp_with_units(units: int) -> str:
    return f"{atp(units)} ({units} units)"


def percent(basis_points: int) -> str:
    """Basis points as a percentage, exactly (10000 bp = 100%)."""
    whole, fraction = divmod(basis_points * 100, BASIS_POINTS)
    if fraction == 0:
        return f"{whole}%"
    return f"{whole}.{fraction * 100 // BASIS_POINTS:02d}".rstrip("0") + "%"


def percent_with_bp(basis_points: int) -> str:
    return f"{percent(basis_points)} ({basis_points} bp)"


def utc_time(epoch_ms: int) -> str:
    """Epoch milliseconds as a UTC date and time (milliseconds shown when not zero)."""
    try:
        moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return "beyond the calendar"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if epoch_ms % 1000:
        text += f".{epoch_ms % 1000:03d}"
    return text + " UTC"


def time_with_ms(epoch_ms: int) -> str:
    return f"{utc_time(epoch_ms)} ({epoch_ms} ms)"


# --- JSON views -------------------------------------------------------------------------------
def expectation_count(scenario: Any) -> int:
    """How many expectations a scenario states: every value under an `expect` key,
    anywhere in the file (a block's code, a transaction's code, each final balance,
    status and reputation), counted one each."""
    return expectations_under(to_json(scenario), False)


def expectations_under(value: Any, inside_expect: bool) -> int:
    if isinstance(value, dict):
        return sum(expectations_under(item, inside_expect or key == "expect") for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(expectations_under(item, inside_expect) for item in value)
    return 1 if inside_expect and value is not None else 0


def replay_document(path: Path, result: ReplayResult) -> dict[str, Any]:
    """What `ledger replay --json` prints for one file: each block's receipt and the
    final state in their one JSON form (`spec.wire.json_form`), with the replay's own
    findings beside them."""
    blocks = []
    for outcome in result.blocks:
        blocks.append({
            "receipt": to_json(outcome.receipt),
            "timestamp_ms": outcome.block.header.timestamp_ms,
            "state_root": outcome.state_root,
            "violations": [{"invariant": found.invariant, "message": found.message} for found in outcome.violations],
        })
    return {
        "path": str(path),
        "error": None,
        "scenario": result.scenario.name,
        "description": result.scenario.description,
        "ok": result.ok,
        "blocks": blocks,
        "final": to_json(result.final),
        "final_state_root": displayed_state_root(result.final),
        "violations": [
            {"block": number, "invariant": v.invariant, "message": v.message} for number, v in result.violations
        ],
        "expectations": expectation_count(result.scenario),
        "expectation_failures": result.expectation_failures,
    }


def unreadable_document(path: Path, error: str) -> dict[str, Any]:
    """The same shape for a file that could not be replayed: `error` says why (the
    line stderr gives too), and there is nothing else."""
    return {
        "path": str(path),
        "error": error,
        "scenario": None,
        "description": None,
        "ok": False,
        "blocks": [],
        "final": None,
        "final_state_root": None,
        "violations": [],
        "expectations": 0,
        "expectation_failures": [],
    }


# --- human views -------------------------------------------------------------------------------
def print_block(number: int, outcome: Any) -> None:
    receipt = outcome.receipt
    header = outcome.block.header
    status = "[green]ok[/]" if receipt.accepted else f"[red]{receipt.code.value}[/]"
    out.print(
        f"\n[bold]block {number}[/] height {header.height} at {time_with_ms(header.timestamp_ms)} "
        f"by {header.proposer}: {status}"
    )
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


def print_final_state(final: Any) -> None:
    rows = [
        [agent, account.platform, *(f"{atp(units)}\n{units}" for units in (account.total, account.locked, account.available))]
        for agent, account in sorted(final.accounts.items())
    ]
    columns = [("agent", "left", True), ("platform", "left", True)]
    columns += [(header, "right", False) for header in ("total", "locked", "available")]
    out.print()
    out.print(unclipped_table(f"balances, in ATP and in units (1 ATP = {UNITS_PER_ATP} units)", columns, rows))
    if final.tasks:
        out.print("tasks")
    for task_id, task in sorted(final.tasks.items()):
        out.print(f"  {escape(task_id)}: {task.status.value}")
        out.print(f"    cost {atp_with_units(task.cost)}, quality threshold {percent_with_bp(task.quality_threshold_bp)}")
        out.print(f"    deadline {time_with_ms(task.deadline_ms)}")
        if task.settled_quality_bp is not None:
            out.print(f"    settled quality {percent_with_bp(task.settled_quality_bp)}")
    reputations = ", ".join(f"{name} {percent_with_bp(bp)}" for name, bp in sorted(final.reputations.items()))
    out.print(f"reputations: {reputations}")
    out.print(f"final state root {displayed_state_root(final)}")


def print_replay(result: ReplayResult) -> None:
    out.print(f"[bold]scenario[/] {escape(result.scenario.name)}")
    if result.scenario.description:
        out.print(escape(result.scenario.description))
    for number, outcome in enumerate(result.blocks, start=1):
        print_block(number, outcome)
    print_final_state(result.final)
    stated = expectation_count(result.scenario)
    for failure in result.expectation_failures:
        out.print(f"[bold red]EXPECTATION FAILED[/] {escape(failure)}")
    if result.expectation_failures:
        out.print(f"[bold red]{len(result.expectation_failures)} of {stated} expectation(s) not met[/]")
    elif stated:
        out.print(f"[bold green]all {stated} expectations met[/]")
    else:
        out.print("the scenario states no expectations")
    if not result.violations:
        out.print("[bold green]all invariants hold after every block[/]")
    else:
        out.print(f"[bold red]{len(result.violations)} invariant violation(s)[/]")


def check_rejected(scenarios: list[Path]) -> None:
    """`replay --expect-rejected`: a file written to be refused must be refused, with
    the reason printed; one that loads fails the run (a missing file is still exit 2)."""
    loaded = False
    for path in scenarios:
        try:
            reason = rejection_at_load(read_text(path), path)
        except InputError as error:
            fail_input(str(error))
        if reason is None:
            out.print(f"[bold red]LOADED[/] {escape(str(path))}: expected it to be rejected at load")
            loaded = True
        else:
            out.print(f"[green]rejected as expected[/] {escape(str(path))}: {escape(reason)}")
    raise typer.Exit(EXIT_VIOLATION if loaded else EXIT_OK)


# --- commands ----------------------------------------------------------------------------------
def replay_file(path: Path) -> ReplayResult | str:
    """The replay of one scenario file, or what stopped it (already printed on
    stderr in the one error style, `error: PATH: WHAT`; this returns WHAT)."""
    try:
        return load_and_replay(read_text(path), path)
    except ScenarioError as error:
        what = str(error)
    except InputError as error:
        what = str(error).removeprefix(f"{path}: ")
    err.print(f"[bold red]error:[/] {escape(f'{path}: {what}')}")
    return what


@ledger_app.command("replay", cls=PlainCommand)
def ledger_replay(
    scenarios: list[Path] = typer.Argument(
        ..., metavar="SCENARIO...", help="Scenario files: each a genesis plus blocks (see the site's scenario format)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the replay as JSON: one object per file (a list of them for several files)."
    ),
    expect_rejected: bool = typer.Option(
        False, "--expect-rejected", help="Each SCENARIO must be refused at load: exit 0 when all are, 1 when one loads."
    ),
) -> None:
    """Replay each SCENARIO, print every result code, the final state and root, and
    check every invariant and expectation after every block.

    Exit 0 when all hold, 1 when one breaks or an expectation fails, 2 when a
    scenario is unreadable or malformed (the error names the file and the place
    in it; blocks are numbered from 1, as the replay prints them). With
    --expect-rejected, exit 0 when every SCENARIO is refused at load, 1 when one loads."""
    if expect_rejected:
        check_rejected(scenarios)
    replays = [(path, replay_file(path)) for path in scenarios]
    if as_json:
        views = [
            unreadable_document(path, result) if isinstance(result, str) else replay_document(path, result)
            for path, result in replays
        ]
        sys.stdout.write(json.dumps(views[0] if len(views) == 1 else views, indent=2) + "\n")
    else:
        readable = [result for _, result in replays if not isinstance(result, str)]
        for number, result in enumerate(readable):
            if number > 0:
                out.rule()
            print_replay(result)
    if any(isinstance(result, str) for _, result in replays):
        raise typer.Exit(EXIT_BAD_INPUT)
    all_ok = all(result.ok for _, result in replays if not isinstance(result, str))
    raise typer.Exit(EXIT_OK if all_ok else EXIT_VIOLATION)


@ledger_app.command("codes", cls=PlainCommand)
def ledger_codes(as_json: bool = typer.Option(False, "--json", help="Print the table as JSON.")) -> None:
    """List every result code in precedence order, with its kind and meaning."""
    if as_json:
        rows = [{"code": i.code.value, "kind": i.kind, "meaning": i.meaning} for i in CODE_TABLE]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    cells = [[str(number), info.code.value, info.kind, info.meaning] for number, info in enumerate(CODE_TABLE)]
    columns = [("#", "right", True), ("code", "left", True), ("kind", "left", True), ("meaning", "left", False)]
    table = unclipped_table("result codes, in precedence order", columns, cells)
    out.print(table)


# --- fedspec conformance ------------------------------------------------------------------
conformance_app = plain_typer("The conformance suite: generate its vectors from the spec, run it against a node build.")
app.add_typer(conformance_app, name="conformance")


@conformance_app.command("generate", cls=PlainCommand)
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


@conformance_app.command("run", cls=PlainCommand)
def conformance_run(
    node: str = typer.Option(..., "--node", metavar="COMMAND", help='The command that starts the node under test, e.g. "python -m conformance.spec_node".'),
    suite: str | None = typer.Option(None, "--suite", metavar="RUNNERS", help="Comma-separated runners to run (default: all)."),
    pattern: str | None = typer.Option(None, "-k", metavar="TEXT", help="Only cases whose id contains this text."),
    case_id: str | None = typer.Option(None, "--case", metavar="CASE", help="Only the case with exactly this id (as a replay command gives)."),
    collect_only: bool = typer.Option(False, "--collect-only", help="List the selected case ids and exit."),
    stop_on_failure: bool = typer.Option(False, "-x", "--exitfirst", help="Stop at the first case that does not pass."),
    junit: Path | None = typer.Option(None, "--junit", metavar="PATH", help="Write a JUnit XML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of text."),
    seed: int | None = typer.Option(None, "--seed", metavar="SEED", help="Resample the Byzantine schedules from this seed."),
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
        try:  # closing: an interrupted run still stops every node it started
            with closing(run_cases(RUNNERS, node, cases, stop_on_failure, identity=identity)) as played:
                for result in played:
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
PROGRESS_AFTER_SECONDS = 2.0
"""`fedspec check` prints a progress line per level only once a run has taken this
many seconds (a short run prints its report alone)."""


def progress_line(progress: Any, last_depth: int | None) -> str | None:
    """The progress line of a finished level, or None when it would repeat the
    depth of the line before it (the last level ends with nothing new)."""
    if progress.seconds < PROGRESS_AFTER_SECONDS or progress.depth == last_depth:
        return None
    return (
        f"  depth {progress.depth}: {progress.distinct} distinct, {progress.generated} generated, "
        f"{progress.frontier} on the frontier, {progress.seconds:.0f} s"
    )


@app.command("check", cls=PlainCommand)
def check(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="A model-checker configuration (TOML)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, metavar="K", help="Processes exploring in parallel."),
    max_states: int | None = typer.Option(
        None, "--max-states", min=1, metavar="K", help="Stop after this many distinct states."
    ),
    trace_out: Path | None = typer.Option(
        None, "--trace", metavar="PATH", help="Write the JSON trace of a finding here (no file is written without it)."
    ),
    itf_out: Path | None = typer.Option(
        None, "--itf", metavar="PATH", help="Write the trace of a finding here in the ITF format of Apalache and Quint."
    ),
) -> None:
    """Explore a configuration with the bounded model checker.

    The report ends with the verdict: the run came out as the configuration's
    `expect` says (no violation, or the violation or witness it looks for), or NOT.
    Exit 0: as expected. Exit 1: NOT as expected; a finding's trace is printed.
    Exit 2: the configuration is unusable."""
    from checker.config import ConfigError, load_config
    from checker.explore import Progress, explore
    from checker.liveness import check_liveness
    from checker.report import came_out_as_expected, report_json, report_lines
    from checker.trace import concrete_finding, render, replay, trace_json, write_trace

    try:
        config = load_config(config_path)
    except ConfigError as error:
        fail_input(str(error))
        return
    if config.liveness and workers > 1:
        fail_input(f"{config_path}: check.liveness needs the whole graph in one process: use --workers 1")
    if trace_out is not None and trace_out.is_dir():
        fail_input(f"{trace_out}: is a directory: --trace names the file to write")
    shown_depth: list[int | None] = [None]

    def show_progress(progress: Progress) -> None:
        line = progress_line(progress, shown_depth[0])
        if line is not None:
            shown_depth[0] = progress.depth
            err.print(line, style="dim")

    outcome = explore(config, workers=workers, max_states=max_states, progress=show_progress)
    if outcome.finding is None and config.liveness and outcome.exhausted:
        check_liveness(config, outcome)
    trace_path: str | None = None
    itf_path: str | None = None
    text = ""
    if outcome.finding is not None:
        trace = replay(config, outcome.trace)
        finding = concrete_finding(config, trace, outcome.finding)
        outcome.finding = finding
        data = trace_json(config, trace, finding)
        if trace_out is not None:
            trace_path = str(trace_out)
            try:
                write_trace(trace_path, data)
            except OSError as error:
                fail_input(f"{trace_path}: cannot write the trace ({error.strerror})")
        if itf_out is not None:
            from checker.itf import itf_document, world_summaries, write_itf

            try:
                write_itf(str(itf_out), itf_document(data, world_summaries(trace.initial)))
            except OSError as error:
                fail_input(f"{itf_out}: cannot write the ITF trace ({error.strerror})")
            itf_path = str(itf_out)
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
        if itf_path is not None:
            out.print(escape(f"itf:        {itf_path}"))
    raise typer.Exit(EXIT_AS_EXPECTED if came_out_as_expected(config, outcome) else EXIT_NOT_AS_EXPECTED)


@contextmanager
def proving_progress(total: int, enabled: bool) -> Iterator[Callable[[Any], None]]:
    """How many obligations are done, on a terminal's stderr, erased when the table
    is printed: each obligation's row appears once, in the table on stdout."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not (enabled and err.is_terminal):
        yield lambda result: None
        return
    with Progress(TextColumn("proving"), BarColumn(), MofNCompleteColumn(), console=err, transient=True) as bar:
        task = bar.add_task("prove", total=total)
        yield lambda result: bar.update(task, advance=1)


@app.command("prove", cls=PlainCommand)
def prove(
    names: list[str] = typer.Argument(
        None, metavar="[NAME]...", help="Obligations to prove: exact names, dotted prefixes (ledger.conservation) or globs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    timeout: float = typer.Option(60.0, "--timeout", min=1.0, metavar="SECONDS", help="Seconds allowed per obligation (then unknown)."),
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

    with proving_progress(len(chosen), enabled=not as_json) as show_progress:
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
    style = {Status.PROVEN: "green", Status.FAILED: "bold red", Status.UNKNOWN: "yellow"}
    rows = [
        [escape(result.name), f"[{style[result.status]}]{result.status.value}[/]", f"{result.seconds:.2f}"]
        for result in results
    ]
    columns = [("obligation", "left", True), ("result", "left", True), ("seconds", "right", True)]
    table = unclipped_table(None if variant is None else f"broken variant {variant}", columns, rows)
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


node_app = plain_typer("Run a replica of the reference node.")
app.add_typer(node_app, name="node")


@node_app.command("run", cls=PlainCommand)
def node_run(config: Path = typer.Argument(..., metavar="CONFIG", help="The replica's TOML configuration.")) -> None:
    """Run one replica until SIGTERM or SIGINT (reference.node.runtime)."""
    from reference.node.__main__ import main as node_main

    raise typer.Exit(node_main([str(config)]))


cluster_app = plain_typer("A local cluster of replica processes on the loopback: up, status, faults, audit, down.")
app.add_typer(cluster_app, name="cluster")
CLUSTER_DIR_OPTION = typer.Option(Path(".fedspec-cluster"), "--dir", metavar="DIR", help="The cluster's directory.")
REPLICA_ARGUMENT = typer.Argument(..., metavar="REPLICA", help="The replica's index (0 .. N - 1).")


def cluster_failed(error: Exception) -> None:
    """A cluster command that cannot do what was asked: one error line, exit 2."""
    fail_input(str(error))


@cluster_app.command("up", cls=PlainCommand)
def cluster_up_command(
    replicas: int | None = typer.Option(None, "--replicas", metavar="N",
                                        help="How many replicas (4 .. 31; default 4, or the cluster's in DIR)."),
    directory: Path = CLUSTER_DIR_OPTION,
    byzantine: str = typer.Option("", "--byzantine", metavar="MODE",
                                  help="Tests only: run one replica as equivocate, double_vote or silent."),
    byzantine_replica: int = typer.Option(0, "--byzantine-replica", metavar="REPLICA",
                                          help="Which replica --byzantine applies to (0, the first primary)."),
    direct: bool = typer.Option(False, "--direct",
                                help="Connect the replicas directly, not through the loopback proxy (no partitions)."),
) -> None:
    """Lay out genesis, keys and configs in DIR (or reuse the cluster there), start the replicas and the
    loopback proxy, and wait until every replica answers and is connected to its peers."""
    from reference.node.cluster_control import ClusterError, cluster_status, cluster_up

    try:
        cluster_up(directory, replicas, {byzantine_replica: byzantine} if byzantine else None, proxy=not direct)
        print_cluster_status(cluster_status(directory))
    except ClusterError as error:
        cluster_failed(error)


def print_cluster_status(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        line = f"replica {row['replica']}: {row['state']}" + (f", pid {row['pid']}" if row["pid"] else "")
        if "height" in row:
            peers = " ".join(f"{peer['replica']}{'+' if peer['connected'] else '-'}" for peer in row["peers"])
            line += (f", view {row['view']}{'' if row['view_active'] else ' (changing)'}, height {row['height']}, "
                     f"root {row['state_root'][:16]}, peers {peers}")
        if row["byzantine"]:
            line += f", byzantine {row['byzantine']}"
        out.print(escape(line))


@cluster_app.command("status", cls=PlainCommand)
def cluster_status_command(directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Each replica's state: its pid, view, height, state root and peers (+ connected, - not)."""
    from reference.node.cluster_control import ClusterError, cluster_status

    try:
        print_cluster_status(cluster_status(directory))
    except ClusterError as error:
        cluster_failed(error)


@cluster_app.command("down", cls=PlainCommand)
def cluster_down_command(directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Stop every process of the cluster by the pid recorded for it (its data stays in DIR)."""
    from reference.node.cluster_control import ClusterError, cluster_down

    try:
        for line in cluster_down(directory):
            out.print(escape(line))
    except ClusterError as error:
        cluster_failed(error)


@cluster_app.command("load", cls=PlainCommand)
def cluster_load_command(
    transactions: int = typer.Option(1_000, "--transactions", metavar="N", help="How many signed BALANCE_SETs."),
    directory: Path = CLUSTER_DIR_OPTION,
) -> None:
    """Submit N signed transactions and wait until each is acknowledged as committed (the acks are recorded in
    DIR for the audit)."""
    import secrets

    from reference.node.cluster_control import HEALTHY_SECONDS, ClusterError, load_cluster
    from reference.node.load import run_load

    try:
        cluster = load_cluster(directory)
    except ClusterError as error:
        cluster_failed(error)
        return
    result = run_load(cluster.layout, transactions, f"load-{secrets.token_hex(4)}", cluster.correct(), HEALTHY_SECONDS)
    out.print(escape(f"{result.submitted} submitted, {result.acknowledged} acknowledged as committed"))
    raise typer.Exit(EXIT_OK if result.acknowledged == result.submitted else EXIT_VIOLATION)


@cluster_app.command("audit", cls=PlainCommand)
def cluster_audit_command(directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Replay every correct replica's chain through the spec; check prefixes, roots, invariants and acks."""
    from conformance.audit import audit_directory
    from reference.node.cluster_control import ClusterError, load_cluster

    try:
        load_cluster(directory)
    except ClusterError as error:
        cluster_failed(error)
        return
    report = audit_directory(directory)
    out.print(escape(report.summary()))
    for problem in report.problems:
        out.print(escape(f"  {problem}"))
    raise typer.Exit(EXIT_OK if report.clean else EXIT_VIOLATION)


fault_app = plain_typer("Faults in the style of CometBFT's e2e perturbations; each waits until the replica answers.")
cluster_app.add_typer(fault_app, name="fault")


def run_fault(action: Any, *arguments: Any) -> None:
    from reference.node.cluster_control import ClusterError

    try:
        out.print(escape(action(*arguments)))
    except ClusterError as error:
        cluster_failed(error)


@fault_app.command("kill", cls=PlainCommand)
def fault_kill_command(replica: int = REPLICA_ARGUMENT, directory: Path = CLUSTER_DIR_OPTION) -> None:
    """kill -9 the replica, then start it again on its data."""
    from reference.node.cluster_control import fault_kill

    run_fault(fault_kill, directory, replica)


@fault_app.command("pause", cls=PlainCommand)
def fault_pause_command(replica: int = REPLICA_ARGUMENT, directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Pause the replica (SIGSTOP)."""
    from reference.node.cluster_control import fault_pause

    run_fault(fault_pause, directory, replica)


@fault_app.command("resume", cls=PlainCommand)
def fault_resume_command(replica: int = REPLICA_ARGUMENT, directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Let a paused replica go on (SIGCONT)."""
    from reference.node.cluster_control import fault_resume

    run_fault(fault_resume, directory, replica)


@fault_app.command("partition", cls=PlainCommand)
def fault_partition_command(replica: int = REPLICA_ARGUMENT, directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Cut the replica off from its peers at the loopback proxy (it stays up)."""
    from reference.node.cluster_control import fault_partition

    run_fault(fault_partition, directory, replica)


@fault_app.command("heal", cls=PlainCommand)
def fault_heal_command(directory: Path = CLUSTER_DIR_OPTION) -> None:
    """Let every partitioned replica's traffic through again."""
    from reference.node.cluster_control import fault_heal

    run_fault(fault_heal, directory)


CHECK_HASH_SEED = "0"
"""`fedspec check` runs under a fixed hash seed: fingerprints and set orders, and so
the counts and the shortest trace a run prints, are then the same on every run."""


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "check" and os.environ.get("PYTHONHASHSEED") != CHECK_HASH_SEED:
        os.environ["PYTHONHASHSEED"] = CHECK_HASH_SEED
        os.execv(sys.executable, [sys.executable, "-m", "fedspec", *sys.argv[1:]])
    app(prog_name=PROGRAM)


if __name__ == "__main__":
    main()
