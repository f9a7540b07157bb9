"""Mutation run: how many small bugs planted in the spec do the tests (and the checker) kill?

    python3 benchmarks/mutation_run.py [--file spec/wire/encoding.py ...] [--sample N] [--seed S]
        [--tests "PYTEST ARGS"] [--check-config configs/n4f1.toml [--check-max-states K]] [--timeout SECONDS]
        [--only ID ...] [--max-mutants N] [--budget-minutes M] [--jobs N]
        [--equivalent benchmarks/equivalent_mutants.txt]

The mutants are cosmic-ray's (its core operators, enumerated with `cosmic_ray.commands.init`
and applied with `cosmic_ray.mutating.mutate_code`); this is only the driver around them.
Default files: spec/ledger.py, spec/pbft.py and the wire layer's encoders, each killed by its own
default tests (`DEFAULT_TESTS`; `--tests` replaces them for every file). With
`--check-config`, a mutant that the tests leave alive is also run through
`fedspec check CONFIG --workers 1`, and counts as killed when that reports a violation or
an error (the checker runs CI makes; the config must pass unmutated).

Isolation: the work tree is copied once to a temporary folder; each mutant is written
there, the tests run against that copy (PYTHONPATH points at it, and the baseline checks
that `spec` is imported from it), and the original text is written back before the next
mutant. The real work tree is never written, so Ctrl-C or a crash leaves nothing mutated
behind; the copy is deleted on exit. Each mutant runs its tests in a subprocess in its
own process group, killed whole at the per-mutant timeout (default: 4 x the unmutated
run, at least 20 s).

`--sample N --seed S` runs a seeded random sample of N mutants per file (the seed is
printed; without --seed one is drawn); `--only ID` reruns given mutants, e.g. survivors
after a new test. `--max-mutants` and `--budget-minutes` bound a
run; mutants not started within them are reported as not run.

Per file it prints the mutants tried, killed, survived, timed out, the kill rate
(killed / (tried - set aside)), and every survivor as `id file:line operator: before ->
after`. A mutant listed in the `--equivalent` file (one line per mutant: its id, then a
description and ` -- reason`) is set aside: left out of the rate and printed apart.
Ids hash the file, the operator and the text of the mutated line, so they survive edits
elsewhere in the file; an edit of the line itself retires the id (reported as stale).
Not in CI: a full run of spec/pbft.py takes hours.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import hashlib
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cosmic_ray.plugins
from cosmic_ray.commands import init as cosmic_ray_init
from cosmic_ray.mutating import mutate_code
from cosmic_ray.work_db import WorkDB, use_db
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
WIRE_ENCODERS = ["spec/wire/encoding.py", "spec/wire/message_encoding.py", "spec/wire/state_root.py"]
DEFAULT_FILES = ["spec/ledger.py", "spec/pbft.py", *WIRE_ENCODERS]
ENCODING_TESTS = [
    "tests/test_cli.py::test_conformance_generate_check_passes",  # the vectors (`fedspec conformance generate --check`)
    "tests/test_consensus_encoding.py",
    "tests/test_state_root.py",
]
# Fast, sharp tests first: with -x a killed mutant stops at its first failure.
DEFAULT_TESTS = {
    **{path: ENCODING_TESTS for path in WIRE_ENCODERS},
    "spec/ledger.py": [
        "tests/test_negative_controls.py",
        "tests/test_result_codes.py",
        "tests/test_state_root.py",
        "tests/test_cli.py",
        "tests/test_stateful.py",
    ],
    "spec/pbft.py": [
        "tests/test_pbft.py",
        "tests/test_pbft_review.py",
        "tests/test_symmetry.py",
        "tests/test_consensus_encoding.py",
    ],
}
FALLBACK_TESTS = ["tests"]
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "site",
    "mutants", "*.trace.json",
)

console = Console(highlight=False, soft_wrap=True)


@dataclasses.dataclass
class Mutant:
    file: str  # relative to the root, e.g. spec/wire/encoding.py
    operator: str  # cosmic-ray's name, e.g. core/NumberReplacer
    operator_args: dict[str, object]
    occurrence: int
    line: int
    ident: str
    before: str = ""  # the changed lines, filled in by materialize()
    after: str = ""

    def describe(self) -> str:
        change = f"{self.before} -> {self.after}" if self.before else "(not materialized)"
        return f"{self.file}:{self.line} {self.operator.removeprefix('core/')}: {change}"


@dataclasses.dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, timeout
    by: str = ""  # tests or checker, for killed
    seconds: float = 0.0


@dataclasses.dataclass
class Summary:
    file: str
    tried: int
    killed: int
    survived: int
    timeout: int
    set_aside: int
    rate: float


def changed_lines(original: list[str], mutated: list[str]) -> tuple[str, str]:
    before: list[str] = []
    after: list[str] = []
    for line in difflib.unified_diff(original, mutated, lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        (before if line.startswith("-") else after).append(line[1:].strip())
    return " / ".join(before) or "(nothing)", " / ".join(after) or "(removed)"


def enumerate_mutants(copy: Path, rel: str) -> list[Mutant]:
    """Every mutant of one file, in source order. The id hashes the file, the operator, the
    text of the mutated line and the mutant's rank among those three alike, so it holds
    while the rest of the file changes."""
    path = copy / rel
    lines = path.read_text(encoding="utf-8").splitlines()
    with use_db(str(copy / ".mutation-session.sqlite"), WorkDB.Mode.create) as work_db:
        cosmic_ray_init([path], work_db, {})
        items = list(work_db.work_items)
    specs = sorted((m for item in items for m in item.mutations), key=lambda m: (m.start_pos, m.operator_name, m.occurrence))
    seen: Counter[tuple[str, str, str]] = Counter()
    mutants: list[Mutant] = []
    for spec in specs:
        line = spec.start_pos[0]
        key = (rel, spec.operator_name, lines[line - 1].strip())
        ident = hashlib.sha1("\0".join([*key, str(seen[key])]).encode()).hexdigest()[:10]
        seen[key] += 1
        mutants.append(Mutant(rel, spec.operator_name, dict(spec.operator_args), spec.occurrence, line, ident))
    return mutants


def materialize(mutant: Mutant, original: str) -> str | None:
    """The mutated module (None when the operator finds nothing to change); fills in the changed lines."""
    operator = cosmic_ray.plugins.get_operator(mutant.operator)(**mutant.operator_args)
    mutated: str | None = mutate_code(original, operator, mutant.occurrence)
    if mutated is None or mutated == original:
        return None
    mutant.before, mutant.after = changed_lines(original.splitlines(), mutated.splitlines())
    return mutated


def load_equivalent(path: Path | None) -> dict[str, str]:
    """id -> the rest of the line (description and reason)."""
    if path is None or not path.exists():
        return {}
    listed: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ident, _, rest = line.partition(" ")
        listed[ident] = rest.strip()
    return listed


def run_group(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run a command in its own process group; (exit code or None on timeout, output)."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=max(timeout, 0.1))
        return proc.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return None, "timeout"
    except BaseException:
        kill_group(proc)
        raise


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


class Runner:
    def __init__(self, copy: Path, tests: list[str], check_config: str | None, check_max_states: int | None,
                 jobs: int) -> None:
        self.copy = copy
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"  # two mutants within one mtime tick must not share a .pyc
        self.test_command = [sys.executable, *PYTEST, *(["-n", str(jobs)] if jobs > 1 else []), *tests]
        self.check_command = None
        if check_config is not None:
            self.check_command = [sys.executable, "-m", "fedspec", "check", check_config, "--workers", "1",
                                  "--trace", str(copy / "mutant.trace.json")]
            if check_max_states is not None:
                self.check_command += ["--max-states", str(check_max_states)]

    def commands(self) -> list[list[str]]:
        return [self.test_command] + ([self.check_command] if self.check_command else [])

    def run(self, timeout: float) -> tuple[str, str, str]:
        """(status, killed by, output) of the tree as it is now."""
        deadline = time.monotonic() + timeout
        code, output = run_group(self.test_command, self.copy, self.env, timeout)
        if code is None:
            return "timeout", "", output
        if code != 0:
            return "killed", "tests", output
        if self.check_command is None:
            return "survived", "", output
        code, output = run_group(self.check_command, self.copy, self.env, deadline - time.monotonic())
        if code is None:
            return "timeout", "", output
        if code != 0:
            return "killed", "checker", output
        return "survived", "", output


def baseline(runner: Runner, rel: str) -> float:
    """Seconds of the unmutated run; exits when it fails or imports the real tree."""
    code, out = run_group([sys.executable, "-c", "import spec; print(spec.__file__)"], runner.copy, runner.env, 60)
    if code != 0 or not Path(out.strip()).resolve().is_relative_to(runner.copy.resolve()):
        sys.exit(f"spec is not imported from the copy ({out.strip()}): mutants would not be seen; stopping")
    started = time.monotonic()
    status, _, output = runner.run(3600)
    if status != "survived":
        console.print(output[-3000:], markup=False)
        sys.exit(f"{rel}: the unmutated tree does not pass ({status}); fix that first")
    return time.monotonic() - started


def run_file(copy: Path, rel: str, args: argparse.Namespace, equivalent: dict[str, str], deadline: float,
             budget_left: list[int]) -> tuple[Summary, bool]:
    path = copy / rel
    original = path.read_bytes()
    original_text = original.decode("utf-8")
    tests = shlex.split(args.tests) if args.tests else DEFAULT_TESTS.get(rel, FALLBACK_TESTS)
    runner = Runner(copy, tests, args.check_config, args.check_max_states, args.jobs)
    mutants = enumerate_mutants(copy, rel)
    chosen = list(mutants)
    if args.only:
        chosen = [m for m in mutants if m.ident in args.only]
    elif args.sample is not None and args.sample < len(mutants):
        chosen = sorted(random.Random(f"{args.seed}:{rel}").sample(mutants, args.sample), key=lambda m: m.line)
    console.print(f"\n== {rel}: {len(mutants)} mutants, running {len(chosen)}"
                  + (" (--only)" if args.only else f" (seeded sample, seed {args.seed})" if len(chosen) < len(mutants)
                     else " (all)"))
    for command in runner.commands():
        console.print("   " + shlex.join(command), markup=False)
    base = baseline(runner, rel)
    timeout = args.timeout if args.timeout else max(20.0, 4 * base)
    console.print(f"   unmutated: passes in {base:.1f} s; per-mutant timeout {timeout:.0f} s")

    outcomes: list[Outcome] = []
    interrupted = False
    no_change = 0
    tally: Counter[str] = Counter()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True)
    try:
        with progress:
            task = progress.add_task(rel, total=len(chosen))
            for mutant in chosen:
                if budget_left[0] <= 0 or time.monotonic() >= deadline:
                    break
                budget_left[0] -= 1
                started = time.monotonic()
                source = materialize(mutant, original_text)
                if source is None:  # the operator found nothing to change after all
                    no_change += 1
                    progress.update(task, advance=1)
                    continue
                try:
                    path.write_text(source, encoding="utf-8")
                    status, by, _ = runner.run(min(timeout, max(deadline - time.monotonic(), 1.0)))
                finally:
                    path.write_bytes(original)
                outcomes.append(Outcome(mutant, status, by, time.monotonic() - started))
                tally[status] += 1
                counts = f"killed {tally['killed']} survived {tally['survived']} timeout {tally['timeout']}"
                progress.update(task, advance=1, description=f"{rel} {counts}")
                if not console.is_terminal and len(outcomes) % 50 == 0:
                    console.print(f"   {len(outcomes)}/{len(chosen)}: {counts}")
    except KeyboardInterrupt:
        interrupted = True
        console.print("interrupted: reporting what ran (the work tree was never mutated)")
    finally:
        path.write_bytes(original)

    return report(rel, mutants, len(chosen) - len(outcomes) - no_change, outcomes, equivalent), interrupted


def report(rel: str, mutants: list[Mutant], not_run: int, outcomes: list[Outcome],
           equivalent: dict[str, str]) -> Summary:
    set_aside = [o for o in outcomes if o.mutant.ident in equivalent and o.status == "survived"]
    wrongly_listed = [o for o in outcomes if o.mutant.ident in equivalent and o.status != "survived"]
    counted = [o for o in outcomes if o.mutant.ident not in equivalent]
    killed = [o for o in counted if o.status == "killed"]
    survived = [o for o in counted if o.status == "survived"]
    timed_out = [o for o in counted if o.status == "timeout"]
    by = Counter(o.by for o in killed)
    rate = len(killed) / len(counted) if counted else float("nan")
    ids = {m.ident for m in mutants}
    stale = sorted(i for i, rest in equivalent.items() if rest.split(":", 1)[0] == rel and i not in ids)
    console.print(
        f"{rel}: tried {len(outcomes)}, killed {len(killed)} (tests {by['tests']}, checker {by['checker']}), "
        f"survived {len(survived)}, timed out {len(timed_out)}, set aside as equivalent {len(set_aside)}"
        + (f", not run {not_run}" if not_run else "")
        + f"; kill rate {len(killed)}/{len(counted)} = {100 * rate:.1f}%"
        + (f" ({100 * (len(killed) + len(timed_out)) / len(counted):.1f}% counting timeouts as killed)"
           if timed_out else ""))
    for title, rows in (("survivors", survived), ("timed out", timed_out)):
        if rows:
            console.print(f"  {title}:")
            for o in rows:
                console.print(f"    {o.mutant.ident} {o.mutant.describe()}", markup=False)
    if set_aside:
        console.print("  set aside as equivalent:")
        for o in set_aside:
            reason = equivalent[o.mutant.ident].partition(" -- ")[2] or "(no reason given)"
            console.print(f"    {o.mutant.ident} {o.mutant.describe()} -- {reason}", markup=False)
    if wrongly_listed:
        console.print("  listed as equivalent but killed (remove from the list):")
        for o in wrongly_listed:
            console.print(f"    {o.mutant.ident} {o.mutant.describe()} ({o.status})", markup=False)
    if stale:
        console.print(f"  equivalent-list ids of {rel} that match no mutant any more (line edited?): {', '.join(stale)}")
    return Summary(rel, len(outcomes), len(killed), len(survived), len(timed_out), len(set_aside), rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", action="append", dest="files", help="a module to mutate (repeatable)")
    parser.add_argument("--sample", type=int, help="run a seeded random sample of N mutants per file")
    parser.add_argument("--seed", type=int, help="the sample's seed (printed; drawn when not given)")
    parser.add_argument("--only", action="append", metavar="ID", help="run only this mutant (repeatable)")
    parser.add_argument("--tests", help="pytest arguments selecting the tests, for every file (quoted)")
    parser.add_argument("--check-config", help="also run `fedspec check CONFIG` on mutants the tests do not kill")
    parser.add_argument("--check-max-states", type=int, help="bound each checker run (its --max-states)")
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: 4 x unmutated run, >= 20)")
    parser.add_argument("--max-mutants", type=int, default=2000, help="at most this many mutants in the run")
    parser.add_argument("--budget-minutes", type=float, default=240.0, help="start no mutant after this")
    parser.add_argument("--jobs", type=int, default=1, help="pytest-xdist workers per test run (-n); 1: none")
    parser.add_argument("--equivalent", type=Path, default=ROOT / "benchmarks" / "equivalent_mutants.txt")
    args = parser.parse_args()
    files = args.files or DEFAULT_FILES
    for rel in files:
        if not (ROOT / rel).is_file():
            parser.error(f"no such file: {rel}")
    if args.check_config and not (ROOT / args.check_config).is_file():
        parser.error(f"no such config: {args.check_config}")
    if args.sample is not None and args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    if args.seed is not None:
        console.print(f"seed {args.seed}")
    equivalent = load_equivalent(args.equivalent)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + 60 * args.budget_minutes
    budget_left = [args.max_mutants]
    summaries: list[Summary] = []
    with tempfile.TemporaryDirectory(prefix="fedspec-mutation-") as tmp:
        copy = Path(tmp) / "tree"
        shutil.copytree(ROOT, copy, ignore=COPY_IGNORE, symlinks=True)
        for rel in files:
            summary, interrupted = run_file(copy, rel, args, equivalent, deadline, budget_left)
            summaries.append(summary)
            if interrupted:
                break
    if len(summaries) > 1:
        console.print("\nsummary:")
        for s in summaries:
            console.print(f"  {s.file}: {s.killed}/{s.tried - s.set_aside} killed ({100 * s.rate:.1f}%), "
                          f"{s.survived} survived, {s.timeout} timed out, {s.set_aside} set aside")


if __name__ == "__main__":
    main()
