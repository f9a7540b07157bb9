"""How fast the suite plays its committed cases, per runner: through the adapter
process of a node build against the spec in this process, in one run.

    python3 benchmarks/conformance_rate.py [--node "COMMAND"] [--repeat K]

For each runner it plays every committed case K times (default 1) through the node's
process (`--node`, default the spec node) and through `conformance.suite.IN_PROCESS`,
and prints cases per second for each and their ratio: what the process boundary
(JSON, hex, signature checks at the boundary, pipes) costs. Every case must pass;
a failure is printed with its id.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.node import Verdict  # noqa: E402
from conformance.runners import RUNNERS  # noqa: E402
from conformance.suite import IN_PROCESS, RunOptions, collect, run_cases  # noqa: E402

SPEC_NODE = f"{sys.executable} -m conformance.spec_node"


def rate(node: str, runner: str, repeat: int) -> tuple[float, int, list[str]]:
    """Cases per second, cases played and the ids that did not pass."""
    cases = collect(RunOptions(node, {runner}), RUNNERS) * repeat
    started = time.perf_counter()
    results = list(run_cases(RUNNERS, node, cases, stop_on_failure=False))
    seconds = time.perf_counter() - started
    failed = sorted({result.case_id for result in results if result.verdict != Verdict.PASS})
    return len(results) / seconds, len(results), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node", default=SPEC_NODE, help="the node build's command (default: the spec node)")
    parser.add_argument("--repeat", type=int, default=1, help="play every case this many times")
    options = parser.parse_args()
    print(f"node: {options.node}")
    print(f"{'runner':<10} {'cases':>6} {'process /s':>11} {'in-process /s':>14} {'ratio':>6}")
    failures: list[str] = []
    for runner in RUNNERS:
        through_process, played, failed = rate(options.node, runner, options.repeat)
        in_process, _, failed_in_process = rate(IN_PROCESS, runner, options.repeat)
        failures += failed + failed_in_process
        print(f"{runner:<10} {played:>6} {through_process:>11.1f} {in_process:>14.1f} {in_process / through_process:>5.2f}x")
    for case_id in failures:
        print(f"NOT PASSED: {case_id}")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
