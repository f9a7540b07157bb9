"""Mutant nodes: the spec node with one deliberate bug each, the suite's negative
controls. Every one must fail the suite; the site's Conformance page lists which
cases kill each."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class MutantNode:
    description: str
    install: Callable[[], None]
    """Put the bug into the running process (the spec node calls it once, at start)."""


MUTANT_NODES: dict[str, MutantNode] = {}


def install_mutant(name: str) -> None:
    if name not in MUTANT_NODES:
        raise SystemExit(f"unknown mutant {name!r}: one of {', '.join(sorted(MUTANT_NODES))}")
    MUTANT_NODES[name].install()
