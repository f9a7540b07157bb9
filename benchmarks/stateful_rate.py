"""How fast the stateful test runs, and what the invariant checks cost.

    python3 benchmarks/stateful_rate.py [--examples N]

Runs the hypothesis state machine of tests/test_stateful.py (spec + auditor +
check_step after every block) for N examples with the CI settings otherwise, and
prints examples per second and steps (blocks) per second. Then, in the same run,
it replays every block the machine applied, from its recorded pre-state, twice:
`apply_block` alone, and `apply_block` followed by `check_step`, and prints both
rates and their ratio. Both replays see the same blocks with the same warm
signature cache; each is timed best of 5 passes.
"""

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hypothesis import settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402
from test_stateful import CHAIN, STATEFUL_SETTINGS, STEPS, LedgerMachine  # noqa: E402

from spec.invariants import check_step  # noqa: E402
from spec.ledger import apply_block  # noqa: E402
from spec.wire.records import LedgerState  # noqa: E402
from spec.wire.types import Block  # noqa: E402

REPEATS = 5


def replay_rate(records: list[tuple[LedgerState, Block]], with_checks: bool) -> float:
    """Blocks per second over all records, best of REPEATS passes."""
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        start = time.perf_counter()
        for pre, block in records:
            post, receipt = apply_block(CHAIN, pre, block)
            if with_checks:
                violations = check_step(CHAIN, pre, block, receipt, post)
                assert not violations, violations
        best = min(best, time.perf_counter() - start)
    return len(records) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="hypothesis examples to run (default 100)")
    args = parser.parse_args()

    records: list[tuple[LedgerState, Block]] = []
    LedgerMachine.recorder = records
    LedgerMachine.examples_run = 0
    LedgerMachine.blocks_run = 0
    start = time.perf_counter()
    run_state_machine_as_test(LedgerMachine, settings=settings(STATEFUL_SETTINGS, max_examples=args.examples))
    elapsed = time.perf_counter() - start
    LedgerMachine.recorder = None
    examples = LedgerMachine.examples_run
    blocks = LedgerMachine.blocks_run

    print(f"stateful test: {examples} examples (max_examples={args.examples}, up to {STEPS} blocks each), "
          f"{blocks} blocks, {elapsed:.2f} s")
    print(f"  examples per second: {examples / elapsed:.1f}")
    print(f"  steps (blocks) per second: {blocks / elapsed:.1f}")

    alone = replay_rate(records, with_checks=False)
    checked = replay_rate(records, with_checks=True)
    accepted = sum(1 for pre, block in records if apply_block(CHAIN, pre, block)[1].accepted)
    print(f"replay of the same {len(records)} blocks ({accepted} accepted), best of {REPEATS}:")
    print(f"  apply_block alone: {alone:.0f} blocks/s")
    print(f"  apply_block + check_step: {checked:.0f} blocks/s")
    print(f"  ratio apply_block alone / with check_step: {alone / checked:.2f}")


if __name__ == "__main__":
    main()
