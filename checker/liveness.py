"""Liveness, as far as a bounded graph can show it.

The property: after the last fault, correct replicas left to themselves (every
message may still be delivered, every timer may still fire) can always bring
every client request into an executed block on every correct replica, or fill
the height bound. On the explored graph: from every world, a settled world is
reachable through transitions of correct replicas alone. Settled worlds are
absorbing (executed blocks stay executed), so this is the same as "every bottom
strongly connected component of the correct-only graph is settled", the form in
which a fair run must end up in one of them.
"""

from checker.config import CheckerConfig
from checker.explore import Fingerprint, Outcome, trace_to
from checker.invariants import Finding


def stuck_worlds(outcome: Outcome) -> list[Fingerprint]:
    """Worlds from which no correct-only path reaches a settled world, in BFS order."""
    assert outcome.edges is not None and outcome.done is not None and outcome.parents is not None
    predecessors: dict[Fingerprint, list[Fingerprint]] = {}
    for source, target, byzantine in outcome.edges:
        if not byzantine and source != target:
            predecessors.setdefault(target, []).append(source)
    good: set[Fingerprint] = set(outcome.done)
    queue = list(outcome.done)
    while queue:
        target = queue.pop()
        for source in predecessors.get(target, ()):
            if source not in good:
                good.add(source)
                queue.append(source)
    stuck: list[Fingerprint] = []
    for fp in outcome.parents:
        if fp not in good:
            stuck.append(fp)
    return stuck


def check_liveness(config: CheckerConfig, outcome: Outcome) -> None:
    """Record a liveness finding in `outcome`, with the shortest trace to a stuck world."""
    stuck = stuck_worlds(outcome)
    if not stuck:
        return
    assert outcome.parents is not None
    outcome.finding = Finding(
        "liveness",
        f"{len(stuck)} worlds from which correct replicas alone never execute every request; the first is shown",
    )
    outcome.trace = trace_to(outcome.parents.get, stuck[0])
    outcome.depth = len(outcome.trace)
    outcome.exhausted = False
