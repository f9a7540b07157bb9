"""Breadth-first exploration of a model, level by level, so a counterexample is a
shortest one.

A world is stored only by its fingerprint (a 64-bit hash of its canonical form)
and the edge that first reached it; the frontier alone keeps whole worlds. With
several workers, fingerprint space is split between them: each worker owns the
worlds whose fingerprint falls in its share, expands them, and hands the
successors it does not own to their owners at the end of each level.
"""

import multiprocessing
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from checker.config import CheckerConfig
from checker.invariants import ChainChecks, Finding, SentMessageChecks, check_world, witness_reached
from checker.model import Action, Model, World
from checker.symmetry import Renaming, Symmetry, invert

Fingerprint = int
Edge = tuple[Fingerprint, Action, tuple[int, ...]]
"""How a world was first reached: its parent, the action, and the renaming that
made the successor canonical (identity when symmetry is off)."""


@dataclass
class Progress:
    depth: int
    distinct: int
    generated: int
    frontier: int
    seconds: float


@dataclass
class Outcome:
    generated: int = 0
    distinct: int = 0
    depth: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    cut_by_max_states: bool = False
    pruned_by_bounds: int = 0
    finding: Finding | None = None
    trace: list[Edge] = field(default_factory=list)
    """The edges from the initial world to the finding, in order."""
    workers: int = 1
    edges: list[tuple[Fingerprint, Fingerprint, bool]] | None = None
    """With liveness on: every transition (parent, child, by the adversary)."""
    done: set[Fingerprint] | None = None
    """With liveness on: the settled worlds."""
    parents: dict[Fingerprint, Edge | None] | None = None

    @property
    def states_per_second(self) -> float:
        return self.distinct / self.seconds if self.seconds > 0 else 0.0


class Explorer:
    """One worker's share of the search."""

    def __init__(self, config: CheckerConfig, index: int = 0, workers: int = 1) -> None:
        self.config = config
        self.model = Model(config)
        self.chains = ChainChecks(self.model.real)
        self.sent = SentMessageChecks(config.consensus)
        self.symmetry = Symmetry(config, self.model.interned) if config.symmetry else None
        self.index = index
        self.workers = workers
        self.parents: dict[Fingerprint, Edge | None] = {}
        self.frontier: list[World] = []
        self.generated = 0
        self.keep_edges = config.liveness
        self.edges: list[tuple[Fingerprint, Fingerprint, bool]] = []
        self.done: set[Fingerprint] = set()
        self.expanded = 0
        """How many worlds the last level expanded (all of one BFS depth)."""

    def canonical(self, world: World) -> tuple[World, tuple[int, ...]]:
        if self.symmetry is None:
            return world, ()
        return self.symmetry.canonical(world)

    def start(self) -> tuple[Fingerprint, Finding | None]:
        world, renaming = self.canonical(self.model.initial())
        fp = self.fingerprint(world)
        if self.owner(fp) == self.index:
            self.parents[fp] = None
            self.frontier.append(world)
            self.note_done(fp, world)
        return fp, self.check(world)

    def owner(self, fp: Fingerprint) -> int:
        return fp % self.workers

    def fingerprint(self, world: World) -> Fingerprint:
        """A 64-bit hash of the world, whose residue modulo the number of workers
        names its owner. The owner is chosen by the first correct replica's state
        alone, so that the many transitions of the other replicas keep a world with
        the worker that expanded its parent."""
        if self.workers == 1:
            return hash(world)
        anchor = next(state for state in world.replicas if state is not None)
        return hash(world) * self.workers + hash(anchor) % self.workers

    def check(self, world: World, renaming: Renaming = ()) -> Finding | None:
        """The invariants on a canonical world, and, if `renaming` made it canonical,
        the symmetry reduction's premise on it."""
        if renaming and self.symmetry is not None:
            found = self.symmetry.audit(world, invert(renaming))
            if found is not None:
                return found
        found = check_world(world, self.chains, self.sent)
        if found is None and self.config.witness is not None:
            found = witness_reached(self.model, world, self.config.witness)
        return found

    def note_done(self, fp: Fingerprint, world: World) -> None:
        if self.keep_edges and self.model.requests_settled(world):
            self.done.add(fp)

    def expand_level(
        self, incoming: list[tuple[Fingerprint, Edge, World]]
    ) -> tuple[list[list[tuple[Fingerprint, Edge, World]]], Fingerprint | None, Finding | None]:
        """Admit what other workers sent, expand the current frontier, and return
        the successors owned by others (one list per worker)."""
        found_fp: Fingerprint | None = None
        finding: Finding | None = None
        next_frontier: list[World] = []
        outboxes: list[list[tuple[Fingerprint, Edge, World]]] = [[] for _ in range(self.workers)]
        for fp, edge, world in incoming:
            if fp in self.parents:
                continue
            self.parents[fp] = edge
            self.note_done(fp, world)
            problem = self.check(world, edge[2])
            if problem is not None and finding is None:
                found_fp, finding = fp, problem
            self.frontier.append(world)
        if finding is not None:
            return outboxes, found_fp, finding
        self.expanded = len(self.frontier)
        sent: set[Fingerprint] = set()
        for world in self.frontier:
            parent_fp = self.fingerprint(world)
            for action, successor in self.model.successors(world):
                self.generated += 1
                canonical, renaming = self.canonical(successor)
                fp = self.fingerprint(canonical)
                if self.keep_edges:
                    self.edges.append((parent_fp, fp, action.kind == "byzantine"))
                owner = self.owner(fp)
                if owner != self.index:
                    if fp not in sent:
                        sent.add(fp)
                        outboxes[owner].append((fp, (parent_fp, action, renaming), canonical))
                    continue
                if fp in self.parents:
                    continue
                self.parents[fp] = (parent_fp, action, renaming)
                self.note_done(fp, canonical)
                problem = self.check(canonical, renaming)
                if problem is not None:
                    return outboxes, fp, problem
                next_frontier.append(canonical)
        self.frontier = next_frontier
        return outboxes, None, None


def trace_to(lookup: Callable[[Fingerprint], Edge | None], fp: Fingerprint) -> list[Edge]:
    edges: list[Edge] = []
    edge = lookup(fp)
    while edge is not None:
        edges.append(edge)
        edge = lookup(edge[0])
    edges.reverse()
    return edges


ProgressCallback = Callable[[Progress], None]


def explore(
    config: CheckerConfig,
    workers: int = 1,
    max_states: int | None = None,
    progress: ProgressCallback | None = None,
) -> Outcome:
    if workers <= 1:
        return explore_serial(config, max_states, progress)
    return explore_parallel(config, workers, max_states, progress)


def explore_serial(config: CheckerConfig, max_states: int | None, progress: ProgressCallback | None) -> Outcome:
    started = time.perf_counter()
    explorer = Explorer(config)
    outcome = Outcome(workers=1)
    fp, finding = explorer.start()
    depth = 0
    incoming: list[tuple[Fingerprint, Edge, World]] = []
    while finding is None and explorer.frontier:
        if max_states is not None and len(explorer.parents) >= max_states:
            outcome.cut_by_max_states = True
            break
        _, found_fp, finding = explorer.expand_level(incoming)
        if finding is not None:
            assert found_fp is not None
            fp = found_fp
            depth += 1
            break
        if explorer.frontier:
            depth += 1
        if progress is not None:
            progress(
                Progress(depth, len(explorer.parents), explorer.generated, len(explorer.frontier), time.perf_counter() - started)
            )
    outcome.generated = explorer.generated
    outcome.distinct = len(explorer.parents)
    outcome.depth = depth
    outcome.pruned_by_bounds = explorer.model.pruned
    outcome.finding = finding
    outcome.exhausted = finding is None and not outcome.cut_by_max_states
    if finding is not None:
        outcome.trace = trace_to(explorer.parents.get, fp)
        outcome.depth = len(outcome.trace)
    if config.liveness:
        outcome.edges = explorer.edges
        outcome.done = explorer.done
        outcome.parents = explorer.parents
    outcome.seconds = time.perf_counter() - started
    return outcome


# --- parallel exploration ----------------------------------------------------------------------
def worker_main(config: CheckerConfig, index: int, workers: int, connection: "multiprocessing.connection.Connection") -> None:
    """Serve the coordinator: expand a level, admit worlds, answer trace lookups."""
    explorer = Explorer(config, index, workers)
    while True:
        command, payload = connection.recv()
        if command == "start":
            fp, finding = explorer.start()
            connection.send((fp, finding, len(explorer.frontier)))
        elif command == "level":
            incoming: list[tuple[Fingerprint, Edge, World]] = []
            for blob in payload:
                incoming.extend(pickle.loads(blob))
            outboxes, found_fp, finding = explorer.expand_level(incoming)
            # Pickled here, once, and forwarded as bytes: the coordinator never unpacks worlds.
            blobs = [pickle.dumps(box, protocol=pickle.HIGHEST_PROTOCOL) if box else b"" for box in outboxes]
            connection.send(
                (
                    blobs,
                    found_fp,
                    finding,
                    len(explorer.frontier),
                    len(explorer.parents),
                    explorer.generated,
                    explorer.model.pruned,
                    explorer.expanded,
                )
            )
        elif command == "lookup":
            connection.send(explorer.parents.get(payload))
        elif command == "stop":
            connection.close()
            return


def explore_parallel(
    config: CheckerConfig, workers: int, max_states: int | None, progress: ProgressCallback | None
) -> Outcome:
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")  # workers share the parent's hash seed
    connections = []
    processes = []
    for index in range(workers):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=worker_main, args=(config, index, workers, child_end), daemon=True)
        process.start()
        connections.append(parent_end)
        processes.append(process)
    outcome = Outcome(workers=workers)
    try:
        finding: Finding | None = None
        found_fp = 0
        for connection in connections:
            connection.send(("start", None))
        frontier_sizes = []
        for connection in connections:
            fp, problem, size = connection.recv()
            frontier_sizes.append(size)
            if problem is not None:
                finding, found_fp = problem, fp
        inboxes: list[list[bytes]] = [[] for _ in range(workers)]
        depth = -1  # the first level expands the initial world, at depth 0
        distinct = 0
        generated = 0
        pruned = 0
        while finding is None and (sum(frontier_sizes) > 0 or any(inboxes)):
            if max_states is not None and distinct >= max_states:
                outcome.cut_by_max_states = True
                break
            for index, connection in enumerate(connections):
                connection.send(("level", inboxes[index]))
            inboxes = [[] for _ in range(workers)]
            distinct = generated = pruned = expanded = 0
            frontier_sizes = []
            for connection in connections:
                outboxes, problem_fp, problem, size, seen, made, cut, level_size = connection.recv()
                expanded += level_size
                for target, blob in enumerate(outboxes):
                    if blob:
                        inboxes[target].append(blob)
                if problem is not None and finding is None:
                    finding, found_fp = problem, problem_fp
                frontier_sizes.append(size)
                distinct += seen
                generated += made
                pruned += cut
            if expanded > 0:
                depth += 1
            if progress is not None:
                progress(Progress(max(depth, 0), distinct, generated, sum(frontier_sizes), time.perf_counter() - started))
        outcome.generated = generated
        outcome.distinct = distinct
        outcome.depth = max(depth, 0)
        outcome.pruned_by_bounds = pruned
        outcome.finding = finding
        outcome.exhausted = finding is None and not outcome.cut_by_max_states
        if finding is not None:

            def lookup(fp: Fingerprint) -> Edge | None:
                connection = connections[fp % workers]
                connection.send(("lookup", fp))
                edge: Edge | None = connection.recv()
                return edge

            outcome.trace = trace_to(lookup, found_fp)
            outcome.depth = len(outcome.trace)
    finally:
        for connection in connections:
            try:
                connection.send(("stop", None))
            except (BrokenPipeError, OSError):
                pass
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    outcome.seconds = time.perf_counter() - started
    return outcome

