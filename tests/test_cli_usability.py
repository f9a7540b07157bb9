"""The command line as a new user meets it (issue 16, section 5): tables that are never
cut, each row printed once, no stray files, names instead of replica numbers, a
verdict against `expect` with its exit code, clean help, one error style and one
JSON shape, a replay that says what it checked in units people read, and progress
that does not repeat itself. Each behaviour has a negative control where the old
behaviour can be rebuilt."""

import io
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

import fedspec.cli as cli
from checker.config import load_config
from checker.explore import explore
from spec.codes import CODE_TABLE
from spec.constants import MAX_TIMESTAMP_MS
from spec.scenario import load_and_replay

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
EXAMPLES = ROOT / "examples"
CONCURRENT = EXAMPLES / "concurrent_tasks.json"
HIGH_QUALITY = EXAMPLES / "task_high_quality.json"
WITNESS = CONFIGS / "witnesses" / "view_change_completes.toml"
CONTROL = CONFIGS / "controls" / "two_faulty_of_four.toml"
PLATFORMS = ("Thor", "Sprout", "Legion", "Nova")

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), prog_name="fedspec")


def piped(*args: str, columns: int) -> subprocess.CompletedProcess[str]:
    """`fedspec ARGS` in a real process whose stdout is a pipe, COLUMNS set."""
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "fedspec", *args], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )


def rendered_at(monkeypatch: pytest.MonkeyPatch, width: int, *args: str) -> str:
    """What `fedspec ARGS` prints on a console exactly `width` columns wide."""
    screen = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=screen, width=width, highlight=False, soft_wrap=True))
    invoke(*args)
    return screen.getvalue()


def clipping_table(title: str | None, columns: list[Any], rows: list[list[str]]) -> Table:
    """The old tables: rich's defaults, which end a cell in `…` when it does not fit."""
    table = Table(title=title, title_justify="left")
    for header, justify, _ in columns:
        table.add_column(header, justify=justify)
    for row in rows:
        table.add_row(*row)
    return table


# --- 1. nothing that matters is cut --------------------------------------------------------------
@pytest.mark.parametrize("columns", [80, 60, 40])
def test_piped_code_table_cuts_nothing(columns: int) -> None:
    result = piped("ledger", "codes", columns=columns)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    if columns >= 80:
        lines = result.stdout.splitlines()
        for info in CODE_TABLE:
            assert any(f" {info.code.value} " in line for line in lines), info.code.value


def test_piped_replay_of_concurrent_tasks_shows_every_deadline_whole() -> None:
    result = piped("ledger", "replay", str(CONCURRENT), columns=80)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    tasks = load_and_replay(CONCURRENT.read_text(encoding="utf-8")).final.tasks
    assert len(tasks) == 3
    for task in tasks.values():
        assert f"deadline {cli.utc_time(task.deadline_ms)} ({task.deadline_ms} ms)" in result.stdout
    for agent in ("lct:web4:agent:alice", "lct:web4:agent:charlie"):
        assert agent in result.stdout


@pytest.mark.parametrize("width", [80, 50])
def test_prove_table_keeps_obligation_names_whole(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    text = rendered_at(monkeypatch, width, "prove", "quorums")
    assert "…" not in text
    names = [line.split()[1] for line in text.splitlines() if line.startswith("│ quorums.")]
    assert len(names) == 5 and all(name.count(".") == 1 for name in names)


def test_negative_control_rich_defaults_cut_a_code_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "unclipped_table", clipping_table)
    assert "…" in rendered_at(monkeypatch, 80, "ledger", "codes")


# --- 2. each obligation once ---------------------------------------------------------------------
def test_prove_prints_each_obligation_once() -> None:
    result = invoke("prove", "quorums")
    assert result.exit_code == 0, result.output
    for name in ("quorums.two_quorums_share_f_plus_one", "quorums.correct_replicas_form_a_quorum"):
        assert result.output.count(name) == 1, result.output


def test_prove_progress_on_a_terminal_names_no_obligation(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the progress is a transient bar of counts: the rows are the table's."""
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=100))
    result = invoke("prove", "quorums")
    assert result.exit_code == 0
    assert "quorums." not in screen.getvalue()
    assert result.stdout.count("quorums.two_quorums_share_f_plus_one") == 1


# --- 3. no stray trace files ---------------------------------------------------------------------
def test_check_writes_no_file_without_trace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("check", str(WITNESS))
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []
    assert "trace:" not in result.stdout


def test_check_writes_the_trace_where_trace_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out" / "here.json"
    target.parent.mkdir()
    result = invoke("check", str(WITNESS), "--trace", str(target))
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("out"), Path("out/here.json")]
    assert json.loads(target.read_text(encoding="utf-8"))["property"] == "witness:view_change_completes"
    assert f"trace:      {target}" in result.stdout


# --- 4. names everywhere -------------------------------------------------------------------------
def test_violation_headline_names_platforms_as_the_trace_does() -> None:
    result = invoke("check", str(CONTROL))
    headline = result.stdout.splitlines()[0]
    assert headline.startswith("agreement: Legion and Nova executed different blocks at height 1"), headline
    assert not re.search(r"\breplicas? \d", result.stdout)
    assert "Legion receives" in result.stdout and "Nova receives" in result.stdout


def test_json_finding_names_platforms() -> None:
    report = json.loads(invoke("check", str(CONTROL), "--json").stdout)
    assert report["finding"]["detail"].startswith("Legion and Nova executed different blocks")


# --- 5. a verdict against expect, and its exit code ----------------------------------------------
@pytest.mark.parametrize("config", [CONTROL, WITNESS], ids=["control", "witness"])
def test_control_and_witness_that_work_exit_0_as_expected(config: Path) -> None:
    result = invoke("check", str(config))
    assert result.exit_code == cli.EXIT_AS_EXPECTED == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("verdict:    as expected")
    assert "expected:   violation" not in result.stdout


def test_control_cut_before_its_finding_exits_1_not_as_expected() -> None:
    result = invoke("check", str(CONTROL), "--max-states", "10")
    assert result.exit_code == cli.EXIT_NOT_AS_EXPECTED == 1, result.output
    assert "verdict:    NOT as expected: a violation was expected" in result.stdout
    assert json.loads(invoke("check", str(CONTROL), "--max-states", "10", "--json").stdout)["as_expected"] is False


def test_witness_that_should_pass_exits_1_not_as_expected(tmp_path: Path) -> None:
    """Negative control: the same run, told to expect no finding, is a failure."""
    path = tmp_path / "expects_pass.toml"
    path.write_text(f'extends = "{WITNESS}"\nname = "expects-pass"\n[check]\nexpect = "pass"\n', encoding="utf-8")
    result = invoke("check", str(path))
    assert result.exit_code == 1, result.output
    assert "verdict:    NOT as expected: no violation was expected" in result.stdout


def test_passing_configuration_exits_0_as_expected() -> None:
    result = invoke("check", str(CONFIGS / "n4f1.toml"), "--max-states", "300")
    assert result.exit_code == 0, result.output
    assert "verdict:    as expected (no violation was expected)" in result.stdout


# --- 6. clean help, and --version ----------------------------------------------------------------
def command_paths() -> list[list[str]]:
    import typer.main

    paths: list[list[str]] = [[]]

    def walk(command: Any, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(cli.app), [])
    return paths


HELP_WIDTH = 80


def description_paragraphs(help_text: str) -> list[list[str]]:
    """The paragraphs between the usage line and the first section of a help text."""
    body = help_text.split("\n\n", 1)[1]
    body = re.split(r"\n(?:Arguments|Options|Commands):\n", body)[0]
    return [paragraph.splitlines() for paragraph in body.strip("\n").split("\n\n")]


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "fedspec")
def test_help_is_clean(path: list[str]) -> None:
    result = runner.invoke(cli.app, [*path, "--help"], prog_name="fedspec", terminal_width=HELP_WIDTH)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"Usage: {' '.join(['fedspec', *path])} ")
    assert not re.search(r"<[a-z][^>]*>", text), text  # no <bool>, <path>, <list[Path]>
    usage = text.split("\n")[0]
    assert "python" not in usage and "{" not in usage, usage
    assert "..." not in re.split(r"\nCommands:\n", text + "\nCommands:\n")[1]  # command summaries whole
    for paragraph in description_paragraphs(text):
        for line in paragraph[:-1]:  # a reflowed paragraph: only its last line may be short
            assert len(line) > HELP_WIDTH // 2, f"ragged line {line!r} in\n{text}"


def test_negative_control_a_ragged_docstring_is_caught() -> None:
    ragged = "Usage: fedspec x\n\n  A line that is long enough to pass the check for raggedness, here\n  the\n  rest.\n"
    lines = description_paragraphs(ragged)[0]
    assert any(len(line) <= HELP_WIDTH // 2 for line in lines[:-1])


def test_help_of_python_m_fedspec_says_fedspec() -> None:
    result = piped("check", "--help", columns=80)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: fedspec check [OPTIONS] CONFIG")


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"fedspec {version('fedspec')}"


# --- 7. one error style, one JSON shape ----------------------------------------------------------
ERROR_LINE = re.compile(r"^error: \S.*: \S.*$")


def error_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    child = tmp_path / "child.toml"
    child.write_text('extends = "absent.toml"\nname = "child"\n', encoding="utf-8")
    return {
        "check a directory": (["check", str(tmp_path)], f"error: {tmp_path}: is a directory, not a configuration file"),
        "check a missing file": (["check", str(tmp_path / "no.toml")], f"error: {tmp_path / 'no.toml'}: no such file"),
        "check a bad extends": (
            ["check", str(child)], f"error: {child}: extends 'absent.toml': {tmp_path / 'absent.toml'}: no such file"
        ),
        "replay a directory": (
            ["ledger", "replay", str(tmp_path)], f"error: {tmp_path}: is a directory, not a scenario file"
        ),
        "replay a missing file": (
            ["ledger", "replay", "--json", str(tmp_path / "no.json")], f"error: {tmp_path / 'no.json'}: no such file"
        ),
    }


@pytest.mark.parametrize(
    "case", ["check a directory", "check a missing file", "check a bad extends", "replay a directory",
             "replay a missing file"]
)
def test_errors_have_one_style(case: str, tmp_path: Path) -> None:
    args, expected = error_cases(tmp_path)[case]
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [expected]
    assert ERROR_LINE.match(lines[0]) and "Errno" not in lines[0] and "Traceback" not in result.output


def test_replay_json_has_one_shape_for_good_and_bad_files(tmp_path: Path) -> None:
    missing = tmp_path / "absent.json"
    one_bad = json.loads(invoke("ledger", "replay", "--json", str(missing)).stdout)
    one_good = json.loads(invoke("ledger", "replay", "--json", str(HIGH_QUALITY)).stdout)
    assert isinstance(one_bad, dict) and isinstance(one_good, dict)
    assert one_bad.keys() == one_good.keys()
    assert one_bad["error"] == "no such file" and one_bad["path"] == str(missing) and one_bad["ok"] is False
    assert one_good["error"] is None
    both = invoke("ledger", "replay", "--json", str(HIGH_QUALITY), str(missing))
    assert both.exit_code == 2
    views = json.loads(both.stdout)
    assert [view["path"] for view in views] == [str(HIGH_QUALITY), str(missing)]
    assert all(view.keys() == one_good.keys() for view in views)


# --- 8. a replay that says what it checked, in units people read ----------------------------------
def test_replay_prints_description_and_counts_expectations() -> None:
    result = invoke("ledger", "replay", str(HIGH_QUALITY))
    assert result.exit_code == 0
    description = json.loads(HIGH_QUALITY.read_text(encoding="utf-8"))["description"]
    assert result.stdout.splitlines()[1] == description
    # 4 transaction codes; alice total and locked, bob total and locked, a transfer, a task, a reputation.
    assert "all 11 expectations met" in result.stdout


def test_replay_with_a_failed_expectation_does_not_claim_all_met(tmp_path: Path) -> None:
    data = json.loads(HIGH_QUALITY.read_text(encoding="utf-8"))
    data["expect"]["reputations"]["Sprout"] = 1
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 1
    assert "1 of 11 expectation(s) not met" in result.stdout
    assert "expectations met" not in result.stdout


def test_replay_shows_times_amounts_and_quality_in_human_units_beside_raw() -> None:
    result = invoke("ledger", "replay", str(HIGH_QUALITY))
    data = json.loads(HIGH_QUALITY.read_text(encoding="utf-8"))
    first = data["blocks"][0]["timestamp_ms"]
    assert f"block 1 height 1 at {cli.utc_time(first)} ({first} ms)" in result.stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ ms\)", result.stdout)
    assert "700 ATP" in result.stdout and "700000000" in result.stdout
    assert "settled quality 85% (8500 bp)" in result.stdout
    assert "Sprout 53.5% (5350 bp)" in result.stdout


def test_units() -> None:
    assert cli.atp(1) == "0.000001 ATP" and cli.atp(1_500_000) == "1.5 ATP" and cli.atp(0) == "0 ATP"
    assert cli.percent(8_500) == "85%" and cli.percent(5_350) == "53.5%" and cli.percent(1) == "0.01%"
    assert cli.percent(10_000) == "100%"
    assert cli.utc_time(0) == "1970-01-01 00:00:00 UTC"
    assert cli.utc_time(1_500) == "1970-01-01 00:00:01.500 UTC"
    assert cli.utc_time(MAX_TIMESTAMP_MS) == "beyond the calendar"


def test_blocks_are_numbered_from_1_in_errors_as_in_output(tmp_path: Path) -> None:
    data = json.loads(HIGH_QUALITY.read_text(encoding="utf-8"))
    data["blocks"][1]["transactions"][0]["quality_bp"] = "high"
    path = tmp_path / "second_block.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("ledger", "replay", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: block 2 transaction 0: EXECUTION_PROOF.quality_bp:")
    assert "blocks.1" not in result.stderr
    clean = invoke("ledger", "replay", str(HIGH_QUALITY)).stdout
    assert "block 2 height 2 " in clean  # the block the error calls block 2


# --- 9. progress printed once per level; the README's layout lists each folder once --------------
def small_exhaustive_config(tmp_path: Path) -> Path:
    """n4f1 over views 0..1 without Byzantine messages: exhausted in well under a second."""
    path = tmp_path / "small.toml"
    path.write_text(
        f'extends = "{CONFIGS / "n4f1.toml"}"\nname = "small"\n[bounds]\nmax_view = 1\nbyzantine_messages = 0\n',
        encoding="utf-8",
    )
    return path


def test_check_prints_each_progress_line_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "PROGRESS_AFTER_SECONDS", 0.0)
    result = invoke("check", str(small_exhaustive_config(tmp_path)))
    assert result.exit_code == 0, result.output
    depths = re.findall(r"^  depth (\d+):", result.stderr, flags=re.MULTILINE)
    assert len(depths) > 5, result.stderr
    assert len(depths) == len(set(depths)), result.stderr


def test_negative_control_the_explorer_reports_the_last_depth_twice(tmp_path: Path) -> None:
    """Why the command filters: the explorer reports the level that ends the search
    (nothing new) at the depth of the level before it, so printing every report
    prints the last line twice."""
    reported: list[Any] = []
    explore(load_config(small_exhaustive_config(tmp_path)), progress=reported.append)
    depths = [progress.depth for progress in reported]
    assert depths[-1] == depths[-2]
    shown: list[int] = []
    for progress in reported:
        progress.seconds = cli.PROGRESS_AFTER_SECONDS
        if cli.progress_line(progress, shown[-1] if shown else None) is not None:
            shown.append(progress.depth)
    assert shown == sorted(set(depths))


def layout_folders(readme: str) -> list[str]:
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [match for line in section.splitlines() for match in re.findall(r"^\| (`[^|]+`) \|", line)]


def test_readme_layout_lists_each_folder_once() -> None:
    folders = layout_folders((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "`benchmarks/`" in folders
    assert len(folders) == len(set(folders)), folders


def test_negative_control_a_folder_listed_twice_is_caught() -> None:
    readme = "## Layout\n\n| folder | what |\n|---|---|\n| `benchmarks/` | a |\n| `benchmarks/` | b |\n\n## Next\n"
    folders = layout_folders(readme)
    assert len(folders) != len(set(folders))
