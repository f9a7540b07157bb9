"""Replica processes on the loopback: kill -9 one, restart it, and it reloads its blocks from
SQLite, catches up from its peers and rejoins with the same chain as theirs. Every process is
stopped by its own pid, whatever happens."""

from pathlib import Path
from typing import Any

import pytest
from node_helpers import FAST_TIMERS, HANG_GUARD_SECONDS, balance_set

from reference.node.cluster import (
    ClusterLayout,
    control_request,
    kill_process,
    make_cluster,
    read_chain,
    start_cluster,
    start_replica,
    status,
    stop_process,
    wait_until,
)
from spec.wire.encoding import block_hash, transaction_bytes


@pytest.fixture
def running(tmp_path: Path) -> Any:
    layout = make_cluster(tmp_path, 4, seed_text="node process tests", timers=FAST_TIMERS, http=False)
    processes = start_cluster(layout)
    try:
        yield layout, processes
    finally:
        for process in processes:
            stop_process(process)


def submit(layout: ClusterLayout, replica: int, numbers: range) -> None:
    requests = [[transaction_bytes(balance_set(layout, number)).hex()] for number in numbers]
    answer = control_request(layout, replica, {"op": "submit", "requests": requests})
    assert answer is not None and answer["ok"], answer
    assert all(outcome["status"] in ("accepted", "committed") for outcome in answer["outcomes"]), answer


def height(layout: ClusterLayout, replica: int) -> int:
    answer = status(layout, replica)
    return -1 if answer is None else int(answer["height"])


def committed_transactions(layout: ClusterLayout, replica: int) -> int:
    return sum(len(block.transactions) for block in read_chain(layout, replica))


def test_killed_replica_restarts_catches_up_and_agrees(running: Any) -> None:
    layout, processes = running
    assert wait_until(lambda: all(status(layout, r) is not None for r in range(4)), HANG_GUARD_SECONDS)
    submit(layout, 1, range(0, 5))
    assert wait_until(lambda: all(committed_transactions(layout, r) == 5 for r in range(4)), HANG_GUARD_SECONDS)

    kill_process(processes[3])  # kill -9: no chance to flush or say goodbye
    before = len(read_chain(layout, 3))
    submit(layout, 1, range(5, 10))  # the other three are a quorum: they go on
    assert wait_until(lambda: all(committed_transactions(layout, r) == 10 for r in range(3)), HANG_GUARD_SECONDS)
    assert len(read_chain(layout, 3)) == before  # negative control: the dead replica did not move

    processes[3] = start_replica(layout, 3)
    assert wait_until(lambda: height(layout, 3) >= before, HANG_GUARD_SECONDS)  # reloaded from SQLite
    # it catches up with no further load: its peers' retransmitted votes show it is behind
    assert wait_until(lambda: committed_transactions(layout, 3) == 10, HANG_GUARD_SECONDS)

    # it rejoins: with replica 2 killed, no quorum forms without replica 3
    kill_process(processes[2])
    submit(layout, 1, range(10, 14))
    alive = (0, 1, 3)
    assert wait_until(lambda: all(committed_transactions(layout, r) == 14 for r in alive), HANG_GUARD_SECONDS)
    chains = [[block_hash(block.header) for block in read_chain(layout, r)] for r in range(4)]
    assert chains[0] == chains[1] == chains[3]
    assert chains[2] == chains[0][:len(chains[2])]  # the dead one's chain is a prefix
    roots = {status(layout, r)["state_root"] for r in alive}  # type: ignore[index]
    assert len(roots) == 1
    assert all(processes[r].poll() is None for r in alive)
