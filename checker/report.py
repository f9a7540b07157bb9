"""The report of one `fedspec check` run, TLC-style, as text and as JSON."""

from typing import Any

from checker.config import CheckerConfig
from checker.explore import Outcome
from checker.invariants import INVARIANTS


def bounds_line(config: CheckerConfig) -> str:
    platforms = config.consensus.platforms
    faulty = ", ".join(platforms[r] for r in sorted(config.faulty)) or "none"
    return (
        f"N={config.n} f={config.consensus.f} quorum={config.consensus.quorum} ({config.quorum_rule}) "
        f"faulty={{{faulty}}} views 0..{config.max_view} heights 1..{config.max_height} "
        f"byzantine messages <= {config.byzantine_messages} requests {len(config.requests)}"
    )


def checked_line(config: CheckerConfig) -> str:
    checked = ", ".join(INVARIANTS)
    if config.liveness:
        checked += ", liveness"
    if config.witness is not None:
        checked += f"; witness: never {config.witness}"
    if config.mutant is not None:
        checked += f"; mutant replicas: {config.mutant}"
    return checked


def verdict(config: CheckerConfig, outcome: Outcome) -> str:
    if outcome.finding is not None:
        kind = "witness found" if outcome.finding.property.startswith("witness:") else "VIOLATION"
        return f"{kind}: {outcome.finding.property} at depth {outcome.depth}"
    if outcome.cut_by_max_states:
        return "no violation in the explored part; the search was cut by --max-states"
    return (
        "no violation; the space within the bounds was exhausted "
        f"({outcome.pruned_by_bounds} transitions beyond the bounds not taken)"
    )


def came_out_as_expected(config: CheckerConfig, outcome: Outcome) -> bool:
    """A configuration that expects to pass must find nothing; a negative control
    or a witness (`expect = "violation"`) must find what it looks for."""
    found = outcome.finding is not None
    return found if config.expect == "violation" else not found


def verdict_line(config: CheckerConfig, outcome: Outcome) -> str:
    """The verdict against `expect`, which decides the exit code (0 as expected, 1 not)."""
    wanted = "a violation" if config.expect == "violation" else "no violation"
    if config.expect == "violation" and config.witness is not None:
        wanted = f"witness:{config.witness}"
    if came_out_as_expected(config, outcome):
        return f"as expected ({wanted} was expected)"
    return f"NOT as expected: {wanted} was expected"


def report_lines(config: CheckerConfig, outcome: Outcome) -> list[str]:
    return [
        f"model:      {config.name}: {bounds_line(config)}",
        f"checked:    {checked_line(config)}",
        f"states:     {outcome.generated} generated, {outcome.distinct} distinct, depth {outcome.depth}",
        f"speed:      {outcome.states_per_second:.0f} distinct states/s, {outcome.seconds:.1f} s wall, "
        f"{outcome.workers} worker(s)",
        f"result:     {verdict(config, outcome)}",
        f"verdict:    {verdict_line(config, outcome)}",
    ]


def report_json(config: CheckerConfig, outcome: Outcome, trace_path: str | None) -> dict[str, Any]:
    finding = None
    if outcome.finding is not None:
        finding = {"property": outcome.finding.property, "detail": outcome.finding.detail, "trace": trace_path}
    return {
        "config": config.name,
        "path": config.path,
        "n": config.n,
        "f": config.consensus.f,
        "quorum": config.consensus.quorum,
        "faulty": [config.consensus.platforms[r] for r in sorted(config.faulty)],
        "max_view": config.max_view,
        "max_height": config.max_height,
        "byzantine_messages": config.byzantine_messages,
        "invariants": list(INVARIANTS),
        "liveness": config.liveness,
        "witness": config.witness,
        "mutant": config.mutant,
        "expect": config.expect,
        "as_expected": came_out_as_expected(config, outcome),
        "generated": outcome.generated,
        "distinct": outcome.distinct,
        "depth": outcome.depth,
        "seconds": round(outcome.seconds, 3),
        "states_per_second": round(outcome.states_per_second, 1),
        "workers": outcome.workers,
        "exhausted": outcome.exhausted,
        "cut_by_max_states": outcome.cut_by_max_states,
        "pruned_by_bounds": outcome.pruned_by_bounds,
        "finding": finding,
    }
