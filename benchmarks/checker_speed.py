"""How fast the model checker explores, against an earlier checker, in one run.

    python3 benchmarks/checker_speed.py [--config configs/n4f1.toml] [--max-states 400000]
                                        [--baseline REF] [--workers 2] [--repeat 1]

Exports the baseline checker (`--baseline`, default a385e0a, the checker before the
speed work of issue 10) with `git archive` into a temporary directory, then explores
the same configuration, cut at the same `--max-states`, with:

* the baseline checker on 1 worker;
* this tree's checker on 1 worker;
* this tree's checker on `--workers` workers.

Each run is a subprocess of its own (started, waited for and, past `--timeout`,
killed by this script), importing only its own tree. The table gives distinct and
generated states, depth, wall seconds, CPU seconds of the run's processes, and
distinct states per second of wall time; then the ratios: this checker over the
baseline on one worker, and several workers over one. With `--repeat N` every run
is made N times, interleaved, and the fastest of each is kept.

The machine is shared and noisy: compare the ratios of one run, not absolute
figures across runs. The load average before each run is printed: when other work
holds the cores, more workers cannot help. No test asserts on any of this.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "a385e0a"

RUNNER = """
import json, resource, sys, time
from checker.config import load_config
from checker.explore import explore

def cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

config = load_config(sys.argv[1])
max_states = int(sys.argv[2]) or None
before = cpu()
outcome = explore(config, workers=int(sys.argv[3]), max_states=max_states)
print(json.dumps({
    "distinct": outcome.distinct, "generated": outcome.generated, "depth": outcome.depth,
    "seconds": outcome.seconds, "cpu": cpu() - before, "exhausted": outcome.exhausted,
    "finding": None if outcome.finding is None else outcome.finding.property,
}))
"""


@dataclass
class Run:
    label: str
    tree: Path
    workers: int
    distinct: int = 0
    generated: int = 0
    depth: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    load: float = 0.0
    verdict: str = ""

    @property
    def rate(self) -> float:
        return self.distinct / self.seconds if self.seconds > 0 else 0.0


def export(ref: str, into: Path) -> Path:
    """The tree of `ref`, as `git archive` gives it, under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True, capture_output=True)
    tree = into / "baseline"
    tree.mkdir()
    archive_path = into / "baseline.tar"
    archive_path.write_bytes(archive.stdout)
    with tarfile.open(archive_path) as tar:
        tar.extractall(tree, filter="data")
    archive_path.unlink()
    return tree


def measure(run: Run, config: str, max_states: int, timeout: float) -> Run:
    """One exploration in a subprocess that imports `run.tree` alone."""
    environment = dict(os.environ, PYTHONPATH=str(run.tree))
    load = os.getloadavg()[0]
    command = [sys.executable, "-c", RUNNER, config, str(max_states), str(run.workers)]
    with subprocess.Popen(command, cwd=run.tree, env=environment, stdout=subprocess.PIPE, text=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise SystemExit(f"{run.label}: no answer within {timeout:.0f} s; stopped") from None
    if process.returncode != 0:
        raise SystemExit(f"{run.label}: the run failed (exit {process.returncode})")
    found = json.loads(output.strip().splitlines()[-1])
    verdict = "exhausted" if found["exhausted"] else "cut by --max-states"
    if found["finding"] is not None:
        verdict = "finding: " + found["finding"]
    return Run(
        run.label, run.tree, run.workers, found["distinct"], found["generated"], found["depth"],
        found["seconds"], found["cpu"], load, verdict,
    )


def same_config(baseline: Path, config: str) -> bool:
    ours = ROOT / config
    theirs = baseline / config
    return theirs.exists() and theirs.read_bytes() == ours.read_bytes()


def report(runs: list[Run]) -> None:
    print(f"{'run':<28} {'distinct':>10} {'generated':>11} {'depth':>5} {'wall s':>8} {'cpu s':>8} "
          f"{'states/s':>9} {'load':>5}  result")
    for run in runs:
        print(f"{run.label:<28} {run.distinct:>10,} {run.generated:>11,} {run.depth:>5} {run.seconds:>8.1f} "
              f"{run.cpu:>8.1f} {run.rate:>9,.0f} {run.load:>5.2f}  {run.verdict}")
    baseline, current, parallel = runs
    print(f"current / baseline, 1 worker: {current.rate / baseline.rate:.2f}x states/s "
          f"({baseline.cpu / current.cpu:.2f}x less CPU)")
    print(f"{parallel.workers} workers / 1 worker, current: {parallel.rate / current.rate:.2f}x states/s "
          f"({parallel.cpu / current.cpu:.2f}x the CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/n4f1.toml", help="relative to the tree's root")
    parser.add_argument("--max-states", type=int, default=400_000, help="0: explore to the end")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref of the checker to compare with")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed to each run")
    args = parser.parse_args()
    if shutil.which("git") is None:
        raise SystemExit("git is needed to export the baseline")
    with tempfile.TemporaryDirectory(prefix="checker-speed-") as scratch:
        baseline_tree = export(args.baseline, Path(scratch))
        if not same_config(baseline_tree, args.config):
            print(f"note: {args.config} differs in {args.baseline}; each checker reads its own copy")
        plan = [
            Run(f"baseline {args.baseline}, 1 worker", baseline_tree, 1),
            Run("current, 1 worker", ROOT, 1),
            Run(f"current, {args.workers} workers", ROOT, args.workers),
        ]
        print(f"config {args.config}, --max-states {args.max_states or 'none'}, {os.cpu_count()} CPUs")
        best: list[Run | None] = [None] * len(plan)
        for _ in range(args.repeat):
            for index, run in enumerate(plan):
                result = measure(run, args.config, args.max_states, args.timeout)
                print(f"  {result.label}: {result.distinct:,} distinct in {result.seconds:.1f} s", flush=True)
                if best[index] is None or result.rate > best[index].rate:  # type: ignore[union-attr]
                    best[index] = result
        report([run for run in best if run is not None])


if __name__ == "__main__":
    main()
