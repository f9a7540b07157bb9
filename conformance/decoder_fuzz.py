"""A fuzzer for the decoders: random byte strings, and mutations of every decode vector.

Every input goes to every decoder (`conformance.decoding_vectors.DECODERS`). Each
must either refuse it with a `DecodeError`, or accept it, and then encoding what it
returned must give back the input exactly. Anything else is a violation: another
exception escaping, or an accepted input that re-encodes to other bytes.

The inputs are drawn from one seeded generator, so a seed and a count name a run.
Most are a vector's bytes (valid or malformed) under one to four mutations (one in half the cases): a bit
flipped, bytes inserted, deleted or overwritten (with random or boundary values),
the input truncated, or spliced with another vector. The rest are random bytes.

`benchmarks/decoder_fuzz.py` runs it large and prints the figures; the tests run it
bounded, with a fixed seed.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.decoding_vectors import DECODERS, decoder_corpus, encode_decoded
from spec.wire.decoding import DecodeError

MUTATIONS = ("flip", "insert", "delete", "overwrite", "truncate", "splice")
BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
"""Byte values that sit on a boundary: zero, one, the ASCII edge, all ones."""
RANDOM_SHARE = 0.1
"""Share of inputs that are random bytes rather than a mutated vector."""
MOST_MUTATIONS = 4
"""Mutations stack: one, then each further one with chance 1/2, up to this many."""
LONGEST_EDIT = 8
"""Most bytes one insert, delete or overwrite touches."""


@dataclass
class DecoderTally:
    tried: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass
class Violation:
    decoder: str
    data: bytes
    problem: str


@dataclass
class FuzzReport:
    seed: int
    inputs: int = 0
    made_by: Counter[str] = field(default_factory=Counter)
    tallies: dict[str, DecoderTally] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)


# --- inputs ---------------------------------------------------------------------------------------
def edit_bytes(rng: random.Random) -> bytes:
    length = rng.randint(1, LONGEST_EDIT)
    if rng.random() < 0.5:
        return bytes(rng.choice(BOUNDARY_BYTES) for _ in range(length))
    return rng.randbytes(length)


def mutated(rng: random.Random, mutation: str, data: bytes, corpus: list[bytes]) -> bytes:
    """`data` under one mutation."""
    position = rng.randint(0, len(data))
    if mutation == "truncate":
        return data[:position]
    if mutation == "insert":
        return data[:position] + edit_bytes(rng) + data[position:]
    if mutation == "splice":
        other = rng.choice(corpus)
        return data[:position] + other[rng.randint(0, len(other)):]
    if not data:
        return data
    position = rng.randrange(len(data))
    if mutation == "flip":
        flipped = data[position] ^ (1 << rng.randrange(8))
        return data[:position] + bytes([flipped]) + data[position + 1:]
    if mutation == "delete":
        return data[:position] + data[position + rng.randint(1, LONGEST_EDIT):]
    replacement = edit_bytes(rng)
    return data[:position] + replacement + data[position + len(replacement):]


def next_input(rng: random.Random, corpus: list[bytes]) -> tuple[bytes, str]:
    """One fuzz input, and how it was made."""
    if rng.random() < RANDOM_SHARE:
        length = rng.randint(0, 64) if rng.random() < 0.8 else rng.randint(65, 4096)
        return rng.randbytes(length), "random"
    data = rng.choice(corpus)
    count = 1
    while count < MOST_MUTATIONS and rng.random() < 0.5:
        count += 1
    for _ in range(count):
        data = mutated(rng, rng.choice(MUTATIONS), data, corpus)
    return data, "1 mutation" if count == 1 else f"{count} mutations"


# --- running -------------------------------------------------------------------------------------
def try_decoder(name: str, decode: Callable[[bytes], Any], data: bytes, report: FuzzReport) -> None:
    tally = report.tallies.setdefault(name, DecoderTally())
    tally.tried += 1
    try:
        value = decode(data)
    except DecodeError as error:
        tally.rejected[error.reason.value] += 1
        return
    except Exception as error:  # the fuzzer's whole point: anything else is a finding
        report.violations.append(Violation(name, data, f"raised {type(error).__name__}: {error}"))
        return
    tally.accepted += 1
    try:
        again = encode_decoded(name, value)
    except Exception as error:
        report.violations.append(Violation(name, data, f"accepted, but re-encoding raised {type(error).__name__}: {error}"))
        return
    if again != data:
        report.violations.append(Violation(name, data, f"accepted, but re-encodes to other bytes: {again.hex()}"))


def fuzz(seed: int, count: int, should_stop: Callable[[], bool] = lambda: False) -> FuzzReport:
    """Feed `count` inputs from `seed` to every decoder (fewer if `should_stop` says so)."""
    rng = random.Random(seed)
    corpus = decoder_corpus()
    report = FuzzReport(seed)
    for name in DECODERS:
        report.tallies[name] = DecoderTally()
    for _ in range(count):
        if should_stop():
            break
        data, made_by = next_input(rng, corpus)
        report.inputs += 1
        report.made_by[made_by] += 1
        for name, decode in DECODERS.items():
            try_decoder(name, decode, data, report)
    return report
