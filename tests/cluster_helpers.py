"""Helpers of the local cluster's tests: a cluster in a tmp directory, stopped by its recorded pids
whatever happens, and loads that wait (bounded) for their acknowledgements."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from node_helpers import FAST_TIMERS, HANG_GUARD_SECONDS

from reference.node.cluster import wait_until
from reference.node.cluster_control import Cluster, ClusterError, cluster_down, cluster_up, replica_status
from reference.node.load import LoadResult, run_load


@contextlib.contextmanager
def running_cluster(directory: Path, byzantine: dict[int, str] | None = None) -> Iterator[Cluster]:
    cluster = cluster_up(directory, 4, byzantine, seed_text="cluster tests", timers=FAST_TIMERS)
    try:
        yield cluster
    finally:
        with contextlib.suppress(ClusterError):
            cluster_down(directory)


def load(cluster: Cluster, count: int, tag: str, replicas: list[int] | None = None) -> LoadResult:
    """`count` transactions, every one acknowledged as committed (else the test fails)."""
    result = run_load(cluster.layout, count, tag, replicas or cluster.correct(), HANG_GUARD_SECONDS)
    assert result.acknowledged == count, result
    return result


def height(cluster: Cluster, replica: int) -> int:
    answer = replica_status(cluster, replica)
    return -1 if answer is None else int(answer["height"])


def wait_same_height(cluster: Cluster, replicas: list[int]) -> bool:
    """Every one of `replicas` at the height of the highest (a hang guard bounds the wait)."""
    return wait_until(lambda: len({height(cluster, replica) for replica in replicas}) == 1, HANG_GUARD_SECONDS)
