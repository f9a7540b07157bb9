"""The `replica` runner's cases, generated from the spec."""

from conformance.cases import Case


def replica_cases() -> list[Case]:
    return []
