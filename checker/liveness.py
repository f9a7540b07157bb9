"""Liveness, as far as a bounded graph can show it.

The property: after the last fault, with every message still deliverable and every
timer firing, every client request is executed by every correct replica. (The
configuration's requests are valid and each is submitted to every correct replica
as soon as it is due; see `checker.config.liveness_premise` for what the bounds
must allow.)

On the explored graph: take every world the search reached (any of them may be the
one after the last fault) and keep only the transitions of correct replicas. A fair
run (every transition that stays enabled is eventually taken) of that graph ends in
a bottom strongly connected component, one with no transition out, and visits every
world of it again and again. A world's executed blocks only grow, so every world of
one component holds the same executed blocks: a component is settled or not as a
whole (`Model.requests_settled`). The property holds on the graph exactly when every
bottom component is settled. The components come from `networkx.condensation`.
"""

from collections.abc import Container, Iterable
from dataclasses import dataclass

import networkx as nx

from checker.config import CheckerConfig, liveness_premise
from checker.explore import Fingerprint, Outcome, trace_to
from checker.invariants import Finding
from checker.model import Model
from checker.trace import replay


def correct_only_graph(
    worlds: Iterable[Fingerprint], edges: Iterable[tuple[Fingerprint, Fingerprint, bool]]
) -> nx.DiGraph:
    """Every world, and every transition that is not the adversary's. (A transition
    back to its own world changes no component: it is left out.)"""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(worlds)
    graph.add_edges_from((source, target) for source, target, byzantine in edges if not byzantine and source != target)
    return graph


@dataclass(frozen=True)
class BottomComponents:
    """The bottom strongly connected components of a correct-only graph."""

    total: int
    """How many bottom components there are."""
    unsettled: list[frozenset[Fingerprint]]
    """Those holding a world that is not settled."""

    @property
    def unsettled_worlds(self) -> int:
        return sum(len(component) for component in self.unsettled)


def bottom_components(graph: nx.DiGraph, settled: Container[Fingerprint]) -> BottomComponents:
    """The components no correct transition leaves, and which of them hold an
    unsettled world."""
    condensed = nx.condensation(graph)
    total = 0
    unsettled: list[frozenset[Fingerprint]] = []
    for component in condensed.nodes:
        if condensed.out_degree(component) != 0:
            continue
        total += 1
        members: set[Fingerprint] = condensed.nodes[component]["members"]
        if any(fp not in settled for fp in members):
            unsettled.append(frozenset(members))
    return BottomComponents(total, unsettled)


@dataclass(frozen=True)
class Stuck:
    """A liveness failure: the unsettled bottom components and the world of them
    that breadth-first search reached first (its trace is a shortest one)."""

    components: BottomComponents
    first: Fingerprint


def stuck(outcome: Outcome) -> Stuck | None:
    """The unsettled bottom components of the explored graph, or None when there are none."""
    assert outcome.edges is not None and outcome.done is not None and outcome.parents is not None
    components = bottom_components(correct_only_graph(outcome.parents, outcome.edges), outcome.done)
    if not components.unsettled:
        return None
    worlds: set[Fingerprint] = set().union(*components.unsettled)
    # `parents` is filled in breadth-first order: the first world met has a shortest trace.
    first = next(fp for fp in outcome.parents if fp in worlds)
    return Stuck(components, first)


def check_liveness(config: CheckerConfig, outcome: Outcome) -> None:
    """Record a liveness finding in `outcome`, with the shortest trace to a world of
    an unsettled bottom component."""
    found = stuck(outcome)
    if found is None:
        return
    assert outcome.parents is not None
    outcome.trace = trace_to(outcome.parents.get, found.first)
    outcome.depth = len(outcome.trace)
    outcome.exhausted = False
    outcome.finding = Finding("liveness", liveness_detail(config, outcome, found))


def liveness_detail(config: CheckerConfig, outcome: Outcome, found: Stuck) -> str:
    components = found.components
    detail = (
        f"{len(components.unsettled)} of the {components.total} bottom components of the correct-only graph "
        f"are unsettled ({components.unsettled_worlds} worlds): from the world shown, correct replicas alone "
        "(every delivery, every timer) never execute every request"
    )
    trace = replay(config, outcome.trace)
    world = trace.steps[-1].world if trace.steps else trace.initial
    missing = Model(config).requests_missing(world)
    if missing:
        platforms = config.consensus.platforms
        parts = []
        for replica, indexes in missing:
            requests = ", ".join(f"requests.{index}" for index in indexes)
            parts.append(f"{platforms[replica]} lacks {requests}")
        detail += f" ({'; '.join(parts)})"
    broken = liveness_premise(config)
    if broken:
        detail += "; the bounds break the liveness premise, so this is expected of them: " + "; ".join(broken)
    return detail
