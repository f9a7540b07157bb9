"""A node's Prometheus metrics, and their text exposition for `GET /metrics`.

The runtime records; `NodeHandle.metrics` returns `NodeMetrics.render()`. Each node has
its own registry (never the process-global one), so two nodes in one process, or a
test beside a node, never share a counter.

* `fedspec_committed_height`: the height of the last committed block;
* `fedspec_view`: the replica's current view;
* `fedspec_view_changes_total`: views this replica entered after view 0 (NEW-VIEW installed);
* `fedspec_dropped_frames_total{reason}`: inbound frames dropped at the boundary, by the
  name of why (a decode failure's or envelope refusal's name, `frame_too_large`, ...);
* `fedspec_phase_seconds{phase}`: how long each phase of agreement took (`PHASES`), a histogram.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text exposition format's content type (version 0.0.4)."""

PHASES: dict[str, str] = {
    "propose": "a request accepted until the primary's PRE-PREPARE carries it",
    "prepare": "a PRE-PREPARE taken until the prepare quorum (prepared)",
    "commit": "prepared until the commit quorum (committed)",
    "execute": "a committed block applied to the ledger and stored",
    "journal": "a signed message written to the vote journal before it is sent",
    "request": "a request accepted until its block committed, end to end",
}
"""Phase name -> what its latency measures, from its start to its end."""

PHASE_BUCKETS_SECONDS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
"""Histogram bucket upper bounds, in seconds: from a fast fsync to a view change's timeout."""


class NodeMetrics:
    """One node's metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.committed_height = Gauge(
            "fedspec_committed_height", "Height of the last committed block.", registry=self.registry)
        self.view = Gauge("fedspec_view", "The replica's current view.", registry=self.registry)
        self.view_changes = Counter(
            "fedspec_view_changes", "Views entered after view 0 (a NEW-VIEW installed).", registry=self.registry)
        self.dropped_frames = Counter(
            "fedspec_dropped_frames", "Inbound frames dropped at the boundary, by reason.", ["reason"],
            registry=self.registry)
        self.phase_seconds = Histogram(
            "fedspec_phase_seconds", "Latency of each phase of agreement, in seconds.", ["phase"],
            buckets=PHASE_BUCKETS_SECONDS, registry=self.registry)
        for phase in PHASES:
            self.phase_seconds.labels(phase=phase)  # every phase exported from the start, at zero

    def set_committed_height(self, height: int) -> None:
        self.committed_height.set(height)

    def set_view(self, view: int) -> None:
        self.view.set(view)

    def count_view_change(self) -> None:
        self.view_changes.inc()

    def count_dropped_frame(self, reason: str) -> None:
        self.dropped_frames.labels(reason=reason).inc()

    def observe_phase(self, phase: str, seconds: float) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}: one of {sorted(PHASES)}")
        self.phase_seconds.labels(phase=phase).observe(seconds)

    def render(self) -> str:
        """The text exposition of every metric."""
        text: str = generate_latest(self.registry).decode("utf-8")
        return text
