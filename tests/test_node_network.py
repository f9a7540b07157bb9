"""The replica runtime on real TCP: several nodes in one event loop on loopback ports.

* four replicas commit submitted signed transactions and agree (same chain, same root);
* frames that are oversized, malformed or wrongly signed are dropped and counted by reason,
  and the group goes on committing;
* catch-up takes a block only with a quorum's commit certificate, never one peer's word;
* the vote journal: a replica restarted and offered a conflicting proposal for a slot it voted in
  sends its journalled vote again, never a different one (negative control: without its
  journal it does send the different vote).
"""

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from node_helpers import balance_set, block_hashes, cluster, wait_for, with_data_dir, with_nodes

from reference.node import runtime
from reference.node.config import Limits
from reference.node.handle import NodeBusy
from reference.node.runtime import Node
from reference.node.transport import FRAME_ENVELOPE, frame
from spec.constants import ZERO_HASH
from spec.wire.decoding import decode_envelope
from spec.wire.encoding import block_hash, transaction_root
from spec.wire.envelope import envelope_bytes, sign_envelope
from spec.wire.messages import BlockResponse, CommitCertificate, Prepare, PrePrepare
from spec.wire.types import Block, BlockHeader


def agreed(nodes: list[Node], height: int) -> bool:
    return all(node.replica.height >= height for node in nodes)


def prefix_consistent(chains: list[list[str]]) -> bool:
    longest = max(chains, key=len)
    return all(chain == longest[:len(chain)] for chain in chains)


def test_prefix_consistency_check_catches_a_fork() -> None:
    """Negative control of the agreement check."""
    assert prefix_consistent([["a", "b"], ["a"], ["a", "b", "c"]])
    assert not prefix_consistent([["a", "b"], ["a", "x", "c"]])


def test_four_replicas_commit_submitted_transactions_and_agree(tmp_path: Path) -> None:
    layout, configs = cluster(tmp_path)
    transactions = [balance_set(layout, number) for number in range(6)]

    async def body(nodes: list[Node]) -> None:
        outcomes = await nodes[1].submit([(tx,) for tx in transactions])  # not the primary: relayed
        assert [outcome.status.value for outcome in outcomes] == ["accepted"] * 6
        assert await wait_for(lambda: all(
            sum(len(block.transactions) for block in node.replica.blocks) == 6 for node in nodes))
        chains = [block_hashes(node) for node in nodes]
        assert prefix_consistent(chains) and len(set(map(len, chains))) == 1
        assert len({node.ledger.state_root() for node in nodes}) == 1
        again = await nodes[2].submit([(transactions[0],)])  # idempotent: committed, with its receipt
        assert again[0].status.value == "committed" and again[0].receipts[0].code.value == "ok"
        assert all(not node.transport.drops for node in nodes)

    asyncio.run(asyncio.wait_for(with_nodes(configs, body), 60))


def raw_frames(port: int, frames: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        for data in frames:
            connection.sendall(data)


def test_bad_frames_are_dropped_and_counted_and_nothing_crashes(tmp_path: Path) -> None:
    layout, configs = cluster(tmp_path)
    seeds = dict(enumerate(layout.platform_seeds))
    prepare = Prepare(0, 1, "ab" * 32, 2)
    good = envelope_bytes("fedspec-local", sign_envelope(seeds, "fedspec-local", prepare))
    forged = envelope_bytes("fedspec-local", sign_envelope({2: seeds[3]}, "fedspec-local", prepare))

    async def body(nodes: list[Node]) -> None:
        target = nodes[0]
        port = configs[0].listen.port
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, raw_frames, port, [frame(FRAME_ENVELOPE, good)])  # control: taken
        assert await wait_for(lambda: target.refusals["no_open_slot"] >= 1)
        assert not target.transport.drops
        await loop.run_in_executor(None, raw_frames, port, [
            frame(FRAME_ENVELOPE, b"\x00\x00\x00\x05hello"),
            frame(FRAME_ENVELOPE, forged),
            frame(99, b"what"),
        ])
        oversized = (configs[0].limits.max_frame_bytes + 1).to_bytes(4, "big") + b"x" * 16
        await loop.run_in_executor(None, raw_frames, port, [oversized])
        assert await wait_for(lambda: target.transport.drops["frame_too_large"] == 1)
        drops = target.transport.drops
        assert drops["sender_signature_invalid"] == 1 and drops["frame_kind_unknown"] == 1
        assert sum(drops.values()) == 4, drops  # the malformed one under its decode failure's name
        assert "fedspec_dropped_frames_total{reason=\"frame_too_large\"} 1.0" in target.metrics()
        # nothing crashed: the group still commits
        await nodes[3].submit([(balance_set(layout, 1),)])
        assert await wait_for(lambda: agreed(nodes, 1))

    asyncio.run(asyncio.wait_for(with_nodes(configs, body), 60))


def proposal(layout: object, seeds: dict[int, bytes], number: int, now_ms: int) -> bytes:
    """A PRE-PREPARE of replica 0 (view 0, height 1) for a block holding one transaction: a frame's
    payload (kind byte and envelope), as `Node.on_frame` takes it."""
    txs = (balance_set(layout, number),)  # type: ignore[arg-type]
    header = BlockHeader(height=1, previous_hash=ZERO_HASH, timestamp_ms=now_ms, proposer="platform-0",
                         transaction_root=transaction_root(txs))
    message = PrePrepare(0, 1, block_hash(header), Block(header=header, transactions=txs), 0)
    return bytes([FRAME_ENVELOPE]) + envelope_bytes("fedspec-local", sign_envelope(seeds, "fedspec-local", message))


class FakePeer:
    """Plays a replica's listening port: collects the frames the node under test sends it."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(4), "big")
                self.frames.append(await reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    def prepares(self) -> list[tuple[Prepare, bytes]]:
        found = []
        for data in self.frames:
            message = decode_envelope(data[1:])[1].message
            if isinstance(message, Prepare):
                found.append((message, data))
        return found


def test_journal_keeps_a_restarted_replica_from_voting_twice(tmp_path: Path) -> None:
    layout, configs = cluster(tmp_path)
    seeds = dict(enumerate(layout.platform_seeds))
    config = configs[1]

    async def scenario(first_data_dir: Path, restart_data_dir: Path) -> tuple[set[str], set[bytes], str, str]:
        peer = FakePeer()
        servers = [await asyncio.start_server(peer.serve, "127.0.0.1", address.port) for address in config.peers]
        try:
            now = __import__("time").time_ns() // 1_000_000
            first, second = proposal(layout, seeds, 1, now), proposal(layout, seeds, 2, now)
            digest_first = decode_envelope(first[1:])[1].message.digest  # type: ignore[union-attr]
            digest_second = decode_envelope(second[1:])[1].message.digest  # type: ignore[union-attr]

            async def before(nodes: list[Node]) -> None:
                assert nodes[0].on_frame(first) is None, nodes[0].transport.drops
                assert await wait_for(lambda: any(m.digest == digest_first for m, _ in peer.prepares())), (
                    nodes[0].refusals, nodes[0].events, len(peer.frames))

            await with_nodes([with_data_dir(config, first_data_dir)], before)
            peer.frames.clear()

            async def after(nodes: list[Node]) -> None:
                nodes[0].on_frame(second)
                # several retransmission rounds: what the restarted replica says about the slot
                assert await wait_for(lambda: len(peer.prepares()) >= 3)

            await with_nodes([with_data_dir(config, restart_data_dir)], after)
            return ({m.digest for m, _ in peer.prepares()}, {data for _, data in peer.prepares()},
                    digest_first, digest_second)
        finally:
            for server in servers:
                server.close()

    digests, frames, first, second = asyncio.run(asyncio.wait_for(scenario(config.data_dir, config.data_dir), 60))
    assert digests == {first} and len(frames) == 1  # the same vote, the same bytes
    # negative control: restarted without its journal, the replica votes for the other block
    digests, _, first, second = asyncio.run(asyncio.wait_for(scenario(tmp_path / "control-before", tmp_path / "control-after"), 60))
    assert second in digests


def test_catch_up_takes_a_block_only_with_a_quorum_certificate(tmp_path: Path) -> None:
    """One peer's word is not enough: a BLOCK-RESPONSE needs a commit certificate of a quorum, every
    signature checked at the boundary."""
    layout, configs = cluster(tmp_path)
    seeds = dict(enumerate(layout.platform_seeds))
    now = __import__("time").time_ns() // 1_000_000
    txs = (balance_set(layout, 1),)
    header = BlockHeader(height=1, previous_hash=ZERO_HASH, timestamp_ms=now, proposer="platform-0",
                         transaction_root=transaction_root(txs))
    block = Block(header=header, transactions=txs)

    def response(signers: frozenset[int], keys: dict[int, bytes]) -> bytes:
        message = BlockResponse(block, CommitCertificate(0, 1, block_hash(header), signers), 3, 0)
        return bytes([FRAME_ENVELOPE]) + envelope_bytes("fedspec-local", sign_envelope(keys, "fedspec-local", message))

    async def body(nodes: list[Node]) -> None:
        node = nodes[0]
        assert node.on_frame(response(frozenset({0}), seeds)) is None  # authentic, but one replica's word
        assert node.refusals["commit_certificate_invalid"] == 1 and node.replica.height == 0
        forged = {0: seeds[0], 1: seeds[0], 2: seeds[0]}  # replica 0 signing its peers' commits
        assert node.on_frame(response(frozenset({0, 1, 2}), forged)) == "certificate_signature_invalid"
        assert node.replica.height == 0
        assert node.on_frame(response(frozenset({0, 1, 2}), seeds)) is None  # control: a quorum's commits
        assert node.replica.height == 1
        assert node.storage is not None and node.storage.block(1) is not None

    asyncio.run(asyncio.wait_for(with_nodes([configs[3]], body), 60))


def test_limits_close_extra_connections_and_persistent_offenders(tmp_path: Path) -> None:
    layout, configs = cluster(tmp_path)
    config = replace(configs[3], limits=Limits(max_connections=2, max_bad_frames=3))

    async def body(nodes: list[Node]) -> None:
        drops = nodes[0].transport.drops
        port = config.listen.port
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]  # peers 0..2 are not running
        assert await wait_for(lambda: len(nodes[0].transport.inbound) == 2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        assert drops["connection_limit"] == 1
        for _, held_writer in held:
            held_writer.close()
        assert await wait_for(lambda: len(nodes[0].transport.inbound) == 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame(99, b"junk") * 3 + frame(99, b"never read"))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after the third bad frame
        assert drops["frame_kind_unknown"] == 3 and drops["connection_closed_bad_frames"] == 1

    asyncio.run(asyncio.wait_for(with_nodes([config], body), 60))


def test_primary_stopped_the_others_change_view_and_go_on(tmp_path: Path) -> None:
    """VIEW-CHANGE and NEW-VIEW over the network: their certificates travel with the signatures the
    replicas kept from the votes they received (`reference.node.signatures`)."""
    layout, configs = cluster(tmp_path)

    async def body(nodes: list[Node]) -> None:
        await nodes[1].submit([(balance_set(layout, number),) for number in range(3)])
        assert await wait_for(lambda: agreed(nodes, 1) and all(not node.replica.pending for node in nodes))
        await nodes[0].stop()  # the primary of view 0 is gone
        others = nodes[1:]
        await nodes[2].submit([(balance_set(layout, number),) for number in range(3, 6)])
        assert await wait_for(lambda: all(
            sum(len(block.transactions) for block in node.replica.blocks) == 6 for node in others))
        assert all(node.replica.view >= 1 and node.replica.active for node in others)
        assert all(node.events["certificate_signature_unknown"] == 0 for node in others)
        assert prefix_consistent([block_hashes(node) for node in others])
        assert len({node.ledger.state_root() for node in others}) == 1

    asyncio.run(asyncio.wait_for(with_nodes(configs, body), 60))  # stopping a stopped node does nothing


def test_submit_pushes_back_when_too_many_requests_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout, configs = cluster(tmp_path)
    limit = 3
    monkeypatch.setattr(runtime, "MAX_PENDING_REQUESTS", limit)

    async def body(nodes: list[Node]) -> None:
        node = nodes[0]  # a backup alone: nothing is ordered, everything stays pending
        accepted = await node.submit([(balance_set(layout, number),) for number in range(limit)])
        assert [outcome.status.value for outcome in accepted] == ["accepted"] * limit  # control
        with pytest.raises(NodeBusy):
            await node.submit([(balance_set(layout, limit),)])
        assert len(node.replica.pending) == limit  # nothing of the refused call was taken

    asyncio.run(asyncio.wait_for(with_nodes([configs[1]], body), 60))
