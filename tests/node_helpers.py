"""Helpers of the networked node's tests: signed transactions for a local cluster's genesis, and
several `Node`s on one event loop (real TCP on the loopback)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from reference.node.cluster import CHAIN_ID, ClusterLayout, agent_name, make_cluster
from reference.node.config import NodeConfig, TimerSettings, load_config
from reference.node.runtime import Node
from spec.wire.signing import signed_copy
from spec.wire.types import BalanceSet

FAST_TIMERS = TimerSettings(view_change_ms=1_500, fetch_ms=100, retransmit_ms=150, reconnect_min_ms=20,
                            reconnect_max_ms=200)
HANG_GUARD_SECONDS = 20.0
"""How long a wait may take before the test fails: a guard against hanging, not a speed requirement."""


def balance_set(layout: ClusterLayout, number: int) -> BalanceSet:
    """A BALANCE_SET signed by the cluster's authority: each number a distinct, valid transaction."""
    unsigned = BalanceSet(set_id=f"set-{number}", agent=agent_name(0, 0), balance=1_000 + number,
                          signature="00" * 64)
    signed = signed_copy(layout.authority_seed, CHAIN_ID, unsigned)
    assert isinstance(signed, BalanceSet)
    return signed


def cluster(directory: Path, replicas: int = 4) -> tuple[ClusterLayout, list[NodeConfig]]:
    layout = make_cluster(directory, replicas, seed_text="node tests", timers=FAST_TIMERS, http=False)
    return layout, [load_config(path) for path in layout.configs]


async def wait_for(condition: Callable[[], bool], timeout: float = HANG_GUARD_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def with_nodes(configs: list[NodeConfig], body: Callable[[list[Node]], Awaitable[None]]) -> None:
    """Start a node per config, run `body`, stop every node started, whatever happens."""
    nodes: list[Node] = []
    try:
        for config in configs:
            node = Node(config)
            nodes.append(node)
            await node.start()
        await body(nodes)
    finally:
        for node in nodes:
            await node.stop()


def with_data_dir(config: NodeConfig, data_dir: Path) -> NodeConfig:
    return replace(config, data_dir=data_dir)


def block_hashes(node: Node) -> list[str]:
    return list(node.replica.executed)
