"""Fuzz the decoders: random and mutated byte strings into every decode_* function.

    python3 benchmarks/decoder_fuzz.py [--seed S] [--count N] [--max-seconds T]

Draws N inputs from seed S (`conformance.decoder_fuzz`): mutations (bit flip,
insert, delete, overwrite, truncate, splice; one to four at a time) of every
decode vector's bytes, and random byte strings. Each input goes to every decoder.
A decoder must refuse an input with its own DecodeError, or accept it and
re-encode it to the same bytes. Prints, per decoder, the inputs tried, accepted
and rejected by failure name, then every violation; exits 1 if there is any.
`--max-seconds` stops early on a busy machine (the figures say how many ran).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.decoder_fuzz import FuzzReport, fuzz  # noqa: E402
from conformance.decoding_vectors import decoder_corpus  # noqa: E402

SHOWN_VIOLATIONS = 10


def report_lines(report: FuzzReport, seconds: float) -> list[str]:
    made_by = ", ".join(f"{how} {number}" for how, number in sorted(report.made_by.items()))
    lines = [
        f"seed {report.seed}: {report.inputs} inputs ({made_by}) from {len(decoder_corpus())} vectors, "
        f"each fed to {len(report.tallies)} decoders, {seconds:.1f} s",
        f"{'decoder':<24} {'tried':>8} {'accepted':>9} {'rejected':>9}   rejected by reason",
    ]
    for name, tally in report.tallies.items():
        rejected = sum(tally.rejected.values())
        reasons = ", ".join(f"{reason} {number}" for reason, number in tally.rejected.most_common())
        lines.append(f"decode_{name:<17} {tally.tried:>8} {tally.accepted:>9} {rejected:>9}   {reasons}")
    lines.append(f"violations: {len(report.violations)}")
    for violation in report.violations[:SHOWN_VIOLATIONS]:
        lines.append(f"  decode_{violation.decoder}({violation.data.hex()}): {violation.problem}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=None)
    args = parser.parse_args()
    start = time.monotonic()

    def out_of_time() -> bool:
        return args.max_seconds is not None and time.monotonic() - start > args.max_seconds

    report = fuzz(args.seed, args.count, out_of_time)
    for line in report_lines(report, time.monotonic() - start):
        print(line)
    sys.exit(1 if report.violations else 0)


if __name__ == "__main__":
    main()
