"""Fuzz the node's HTTP API from its own OpenAPI schema with schemathesis, in process.

    python3 benchmarks/api_fuzz.py [--seed S] [--examples N] [--broken]

For every operation of the schema, draws up to N requests in each of schemathesis'
generation modes (positive: requests the schema allows; negative: requests it
forbids), from seed S, sends each to the API's ASGI app over a `FakeHandle` (the
reference ledger, each request committed as its own block: tests/node_api_fake.py),
and runs schemathesis' `not_a_server_error` check on every response. Prints the
requests tried, the answers by HTTP status, the server errors (each with a curl
command that repeats it); exits 1 if there is any server error.

`--broken` fuzzes a handle whose account read raises (the negative control): the
run must then report server errors for GET /accounts/{agent}.
"""

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from node_api_fake import FakeHandle, FuzzFigures, fuzz_api  # noqa: E402

from conformance.ledger_builders import GENESIS  # noqa: E402
from reference.node.api import make_app  # noqa: E402
from spec.wire.records import Account  # noqa: E402

SHOWN_SERVER_ERRORS = 10


class BrokenHandle(FakeHandle):
    """The negative control: reading an account raises."""

    def account(self, agent: str) -> Account | None:
        raise RuntimeError("deliberate fault")


def report_lines(figures: FuzzFigures, seed: int, examples: int) -> list[str]:
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(figures.by_status.items()))
    lines = [
        f"seed {seed}, up to {examples} examples per operation and mode: {figures.requests} requests in "
        f"{figures.seconds:.1f} s",
        f"answers by status: {statuses}",
        f"nothing to draw (no invalid form of an operation without input): {', '.join(figures.not_generated)}",
        f"server errors: {len(figures.server_errors)}",
    ]
    lines.extend(f"  {error}" for error in figures.server_errors[:SHOWN_SERVER_ERRORS])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--broken", action="store_true", help="fuzz the deliberately broken handle")
    args = parser.parse_args()
    if args.broken:
        # Each fault is logged with its traceback, as a node logs it; the report lists them already.
        logging.getLogger("reference.node.api").setLevel(logging.CRITICAL)
    handle = BrokenHandle(GENESIS) if args.broken else FakeHandle(GENESIS)
    figures = fuzz_api(make_app(handle), args.seed, args.examples)
    for line in report_lines(figures, args.seed, args.examples):
        print(line)
    sys.exit(1 if figures.server_errors else 0)


if __name__ == "__main__":
    main()
