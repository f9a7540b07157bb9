"""Breadth-first exploration of a model, level by level, so a counterexample is a
shortest one.

A world is stored only by its fingerprint (a 64-bit hash of its canonical form)
and the edge that first reached it; the frontier alone keeps whole worlds.

With several workers, fingerprint space is split between them: each worker owns
the worlds whose fingerprint falls in its share, expands them, and hands the
successors it does not own to their owners at the end of each level, through
the coordinator, in the compact form of `checker.exchange` (each replica state,
message and network goes to a peer once; a world then travels as a few
numbers). A world's share is chosen by the state of its first correct replica
alone, so that the many transitions of the other replicas keep a successor with
the worker that expanded its parent.

The search makes and drops millions of small objects, freed by reference
counting as they go; next to none of them is part of a reference cycle. Python's
cyclic collector would still rescan the ever larger set of live worlds, memos
and edges again and again (a quarter of the time on n4f1, measured), so it is
paused while a search runs (`collector_paused`).
"""

import gc
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from checker.config import CheckerConfig
from checker.exchange import Edge, Fingerprint, Receiver, Sender
from checker.invariants import ChainChecks, Finding, SentMessageChecks, check_world, witness_reached
from checker.model import Model, World
from checker.symmetry import Renaming, Symmetry, invert

__all__ = ["Edge", "Fingerprint", "Outcome", "Progress", "explore", "trace_to"]

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
    """One worker's share of the search (all of it, with one worker)."""

    def __init__(self, config: CheckerConfig, index: int = 0, workers: int = 1) -> None:
        self.config = config
        self.model = Model(config)
        self.chains = ChainChecks(self.model.real, config.consensus.platforms)
        self.sent = SentMessageChecks(config.consensus)
        self.symmetry = Symmetry(config, self.model.interned) if config.symmetry else None
        self.index = index
        self.workers = workers
        self.anchor = min(config.correct)
        """The replica whose state chooses a world's owner."""
        self.parents: dict[Fingerprint, Edge | None] = {}
        self.frontier: list[tuple[Fingerprint, World]] = []
        """The worlds of the level to expand next, with their fingerprints."""
        self.generated = 0
        self.keep_edges = config.liveness
        self.edges: list[tuple[Fingerprint, Fingerprint, bool]] = []
        self.done: set[Fingerprint] = set()
        self.senders = [Sender() for _ in range(workers)]
        """What this worker hands each peer (its own entry stays empty)."""
        self.receivers = [Receiver(self.model.interned) for _ in range(workers)]
        """What this worker got from each peer."""

    def canonical(self, world: World) -> tuple[World, tuple[int, ...]]:
        if self.symmetry is None:
            return world, ()
        return self.symmetry.canonical(world)


    def start(self) -> tuple[Fingerprint, Finding | None]:
        world, renaming = self.canonical(self.model.initial())
        fp = self.fingerprint(world)
        if self.owner(fp) == self.index:
            self.parents[fp] = None
            self.frontier.append((fp, world))
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
        return hash(world) * self.workers + hash(world.replicas[self.anchor]) % self.workers

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

    def admit(
        self, fp: Fingerprint, edge: Edge, world: World, frontier: list[tuple[Fingerprint, World]]
    ) -> Finding | None:
        """A world reached for the first time: remember how, queue it for
        expansion, and check it."""
        self.parents[fp] = edge
        self.note_done(fp, world)
        frontier.append((fp, world))
        return self.check(world, edge[2])

    def receive(self, batches: list[tuple[int, bytes]]) -> tuple[Fingerprint | None, Finding | None]:
        """Admit the worlds that peers reached for this worker in the last level:
        they join the frontier. A world already known is not even rebuilt."""
        for sender, blob in batches:
            receiver = self.receivers[sender]
            for fp, sent_edge, sent_world in receiver.unpack(blob):
                if fp in self.parents:
                    continue
                problem = self.admit(fp, receiver.edge(sent_edge), receiver.world(sent_world), self.frontier)
                if problem is not None:
                    return fp, problem
        return None, None

    def expand_level(self) -> tuple[Fingerprint | None, Finding | None]:
        """Expand the frontier: the successors this worker owns and has not seen
        make the next frontier; the others are queued for their owners
        (`batches`). Stops at the first world that breaks an invariant."""
        next_frontier: list[tuple[Fingerprint, World]] = []
        parents, successors = self.parents, self.model.successors
        # Both run for every successor: their plain forms when symmetry or several workers play no part.
        canonical = self.canonical if self.symmetry is not None and self.symmetry.enabled else unrenamed
        fingerprint: Callable[[World], Fingerprint] = hash if self.workers == 1 else self.fingerprint
        for parent_fp, world in self.frontier:
            for action, successor in successors(world):
                self.generated += 1
                child, renaming = canonical(successor)
                fp = fingerprint(child)
                if self.keep_edges:
                    self.edges.append((parent_fp, fp, action.is_fault))
                owner = fp % self.workers
                if owner != self.index:
                    self.senders[owner].add(fp, (parent_fp, action, renaming), child)
                elif fp not in parents:
                    problem = self.admit(fp, (parent_fp, action, renaming), child, next_frontier)
                    if problem is not None:
                        return fp, problem
        self.frontier = next_frontier
        return None, None

    def batches(self) -> list[bytes]:
        """What this worker hands each peer from the level just expanded."""
        return [b"" if target == self.index else sender.batch() for target, sender in enumerate(self.senders)]


def unrenamed(world: World) -> tuple[World, tuple[int, ...]]:
    """The canonical form of a world when symmetry plays no part: the world itself."""
    return world, ()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a search (see the module's
    docstring); the few cycles made meanwhile are collected once it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        with collector_paused():  # resumed once the search's memos are gone, so it has little to scan
            return explore_serial(config, max_states, progress)
    return explore_parallel(config, workers, max_states, progress)


def explore_serial(config: CheckerConfig, max_states: int | None, progress: ProgressCallback | None) -> Outcome:
    started = time.perf_counter()
    explorer = Explorer(config)
    outcome = Outcome(workers=1)
    fp, finding = explorer.start()
    depth = 0
    while finding is None and explorer.frontier:
        if max_states is not None and len(explorer.parents) >= max_states:
            outcome.cut_by_max_states = True
            break
        found_fp, finding = explorer.expand_level()
        if finding is not None:
            assert found_fp is not None
            fp = found_fp
            depth += 1
            break
        if explorer.frontier:
            depth += 1
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(Progress(depth, len(explorer.parents), explorer.generated, len(explorer.frontier), elapsed))
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
@dataclass
class Report:
    """What a worker says after a command: its counts, and a finding if it met one."""

    found: Fingerprint | None
    finding: Finding | None
    frontier: int
    distinct: int
    generated: int
    pruned: int
    batches: list[bytes] = field(default_factory=list)
    """After an expansion: what it hands each worker (empty for itself and for
    those it hands nothing)."""


def worker_main(config: CheckerConfig, index: int, workers: int, connection: "multiprocessing.connection.Connection") -> None:
    """Serve the coordinator: expand a level, admit what peers reached for this
    worker, answer trace lookups. The process lives for one search, so the cyclic
    collector stays off."""
    gc.disable()
    explorer = Explorer(config, index, workers)
    while True:
        command, payload = connection.recv()
        if command == "stop":
            connection.close()
            return
        if command == "lookup":
            connection.send(explorer.parents.get(payload))
            continue
        batches: list[bytes] = []
        if command == "start":
            found, finding = explorer.start()
        elif command == "expand":
            found, finding = explorer.expand_level()
            batches = explorer.batches()
        else:
            assert command == "receive"
            found, finding = explorer.receive(payload)
        counts = (len(explorer.frontier), len(explorer.parents), explorer.generated, explorer.model.pruned)
        connection.send(Report(found, finding, *counts, batches))


@dataclass
class Workers:
    """The worker processes of a parallel search and the coordinator's ends of their pipes."""

    connections: list["multiprocessing.connection.Connection"]
    processes: list["multiprocessing.process.BaseProcess"]

    def stop(self) -> None:
        for connection in self.connections:
            try:
                connection.send(("stop", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()

    def command(self, name: str, payloads: Sequence[object]) -> list[Report]:
        """Send every worker a command (with its own payload) and collect their reports."""
        for connection, payload in zip(self.connections, payloads, strict=True):
            connection.send((name, payload))
        return [connection.recv() for connection in self.connections]

    def lookup(self, fp: Fingerprint) -> Edge | None:
        """The edge that reached a world, from the worker that owns it."""
        connection = self.connections[fp % len(self.connections)]
        connection.send(("lookup", fp))
        edge: Edge | None = connection.recv()
        return edge


def start_workers(config: CheckerConfig, workers: int) -> Workers:
    context = multiprocessing.get_context("fork")  # workers share the parent's hash seed
    started = Workers([], [])
    for index in range(workers):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=worker_main, args=(config, index, workers, child_end), daemon=True)
        process.start()
        started.connections.append(parent_end)
        started.processes.append(process)
    return started


def explore_parallel(
    config: CheckerConfig, workers: int, max_states: int | None, progress: ProgressCallback | None
) -> Outcome:
    started = time.perf_counter()
    pool = start_workers(config, workers)
    outcome = Outcome(workers=workers)
    try:
        found_fp, finding = run_levels(pool, outcome, max_states, progress, started)
        outcome.finding = finding
        outcome.exhausted = finding is None and not outcome.cut_by_max_states
        if finding is not None:
            outcome.trace = trace_to(pool.lookup, found_fp)
            outcome.depth = len(outcome.trace)
    finally:
        pool.stop()
    outcome.seconds = time.perf_counter() - started
    return outcome


def run_levels(
    pool: Workers, outcome: Outcome, max_states: int | None, progress: ProgressCallback | None, started: float
) -> tuple[Fingerprint, Finding | None]:
    """Drive the workers level by level as `explore_serial` drives its explorer:
    each level is expanded by every worker, then each worker admits what the
    others reached for it, so the counts at every level (and where `max_states`
    cuts) are those of one worker. Fills in the counts of `outcome`; returns the
    fingerprint of the world with the finding."""
    reports = pool.command("start", [None] * len(pool.connections))
    finding, found_fp = first_finding(reports)
    outcome.distinct = sum(report.distinct for report in reports)
    depth = 0
    while finding is None and sum(report.frontier for report in reports) > 0:
        if max_states is not None and outcome.distinct >= max_states:
            outcome.cut_by_max_states = True
            break
        expanded = pool.command("expand", [None] * len(pool.connections))
        outcome.generated = sum(report.generated for report in expanded)
        outcome.pruned_by_bounds = sum(report.pruned for report in expanded)
        finding, found_fp = first_finding(expanded)
        if finding is None:
            reports = pool.command("receive", forwarded(expanded))
            finding, found_fp = first_finding(reports)
        outcome.distinct = sum(report.distinct for report in reports)
        if finding is not None or sum(report.frontier for report in reports) > 0:
            depth += 1
        outcome.depth = depth
        if progress is not None:
            frontier = sum(report.frontier for report in reports)
            progress(Progress(depth, outcome.distinct, outcome.generated, frontier, time.perf_counter() - started))
    outcome.distinct = sum(report.distinct for report in reports)
    return found_fp, finding


def first_finding(reports: list[Report]) -> tuple[Finding | None, Fingerprint]:
    for report in reports:
        if report.finding is not None:
            return report.finding, report.found if report.found is not None else 0
    return None, 0


def forwarded(reports: list[Report]) -> list[list[tuple[int, bytes]]]:
    """For each worker, the batches the others made for it, with their senders."""
    inboxes: list[list[tuple[int, bytes]]] = [[] for _ in reports]
    for sender, report in enumerate(reports):
        for target, blob in enumerate(report.batches):
            if blob:
                inboxes[target].append((sender, blob))
    return inboxes
