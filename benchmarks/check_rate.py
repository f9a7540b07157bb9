"""How fast the model checker explores, on one worker and on several, in one run.

    python3 benchmarks/check_rate.py [--config configs/n4f1.toml] [--workers 1 2] [--max-states K]

Explores the configuration once per worker count and prints, for each: distinct
and generated states, depth, wall time and distinct states per second, then the
speed-up of each count over the first. Machines are shared and noisy: compare the
ratios of one run, not absolute figures across runs.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.config import load_config  # noqa: E402
from checker.explore import explore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "n4f1.toml"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-states", type=int, default=None)
    args = parser.parse_args()
    config = load_config(args.config)
    print(f"config {config.name}: N={config.n} f={config.consensus.f} views 0..{config.max_view} "
          f"heights 1..{config.max_height} byzantine messages <= {config.byzantine_messages}")
    rates: list[float] = []
    for workers in args.workers:
        outcome = explore(config, workers=workers, max_states=args.max_states)
        verdict = "exhausted" if outcome.exhausted else ("cut by --max-states" if outcome.cut_by_max_states else "finding")
        if outcome.finding is not None:
            verdict = f"finding: {outcome.finding.property}"
        rates.append(outcome.states_per_second)
        print(
            f"workers {workers}: {outcome.distinct} distinct, {outcome.generated} generated, depth {outcome.depth}, "
            f"{outcome.seconds:.1f} s, {outcome.states_per_second:.0f} distinct states/s, {verdict}",
            flush=True,
        )
    for workers, rate in zip(args.workers[1:], rates[1:], strict=True):
        print(f"speed-up of {workers} workers over {args.workers[0]}: {rate / rates[0]:.2f}x")


if __name__ == "__main__":
    main()
