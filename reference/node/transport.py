"""Frames between replicas over asyncio TCP.

A frame is a u32 big-endian length, then that many bytes: one byte of kind, then the body.

* `FRAME_ENVELOPE`: a signed envelope (`spec.wire.envelope.envelope_bytes`);
* `FRAME_REQUEST`: a client request relayed by the replica a client submitted it to (client
  requests must reach every replica, the primary first of all): u32 count, then each
  transaction as u32 length and its canonical bytes. Each transaction carries its own creator's
  signature, which the receiving replica checks as for any client request.

Inbound: any host may connect (up to `max_connections` at once). Each frame is handed to the
runtime once; the runtime checks it at the boundary and answers None (taken) or the name of why it
was dropped. A frame longer than `max_frame_bytes` is dropped unread and the connection closed;
after `max_bad_frames` dropped frames a connection is closed. Drops are counted by reason
(`Counters`).

Outbound: one connection per peer, written in order from a queue of at most `max_queued_bytes`
(a frame beyond is dropped: the runtime's retransmission recovers it), reconnected with a
doubling backoff. Inbound connections are only read, outbound ones only written.
"""

import asyncio
import contextlib
import sys
import traceback
from collections import Counter, deque
from collections.abc import Callable

from reference.node.config import Limits, PeerAddress, TimerSettings

FRAME_ENVELOPE = 1
FRAME_REQUEST = 2
LENGTH_BYTES = 4

FrameHandler = Callable[[bytes], str | None]
"""A frame's payload (kind byte and body) -> None if taken, else the reason it was dropped."""


def frame(kind: int, body: bytes) -> bytes:
    return (len(body) + 1).to_bytes(LENGTH_BYTES, "big") + bytes([kind]) + body


class PeerLink:
    """The outbound connection to one peer and the frames waiting for it."""

    def __init__(self, peer: PeerAddress, limits: Limits, timers: TimerSettings, counters: Counter[str]) -> None:
        self.peer = peer
        self.limits = limits
        self.timers = timers
        self.counters = counters
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.ready = asyncio.Event()
        self.connected = False
        self.task: asyncio.Task[None] | None = None

    def send(self, data: bytes) -> None:
        if self.queued_bytes + len(data) > self.limits.max_queued_bytes:
            self.counters["send_queue_full"] += 1
            return
        self.queue.append(data)
        self.queued_bytes += len(data)
        self.ready.set()

    async def run(self) -> None:
        backoff_ms = self.timers.reconnect_min_ms
        while True:
            try:
                _, writer = await asyncio.open_connection(self.peer.host, self.peer.port)
            except OSError:
                await asyncio.sleep(backoff_ms / 1000)
                backoff_ms = min(2 * backoff_ms, self.timers.reconnect_max_ms)
                continue
            backoff_ms = self.timers.reconnect_min_ms
            self.connected = True
            try:
                await self.drain_into(writer)
            except (OSError, ConnectionError):
                self.counters["peer_connection_lost"] += 1
            finally:
                self.connected = False
                writer.close()

    async def drain_into(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await self.ready.wait()
            while self.queue:
                data = self.queue.popleft()
                self.queued_bytes -= len(data)
                writer.write(data)
                await writer.drain()
            self.ready.clear()


class Transport:
    def __init__(self, listen: PeerAddress, peers: tuple[PeerAddress, ...], limits: Limits, timers: TimerSettings,
                 handle_frame: FrameHandler) -> None:
        self.listen = listen
        self.limits = limits
        self.handle_frame = handle_frame
        self.drops: Counter[str] = Counter()
        """Inbound frames dropped, and inbound connections refused or closed, by reason."""
        self.outbound_events: Counter[str] = Counter()
        """Outbound frames not queued (`send_queue_full`) and connections lost (`peer_connection_lost`)."""
        self.links = {peer.replica: PeerLink(peer, limits, timers, self.outbound_events) for peer in peers}
        self.server: asyncio.Server | None = None
        self.inbound: set[asyncio.Task[None]] = set()
        self.frames_received = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.accept, self.listen.host, self.listen.port)
        for link in self.links.values():
            link.task = asyncio.create_task(link.run())

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        tasks = [link.task for link in self.links.values() if link.task is not None] + list(self.inbound)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    def send(self, replica: int, data: bytes) -> None:
        link = self.links.get(replica)
        if link is not None:
            link.send(data)

    def broadcast(self, data: bytes) -> None:
        for link in self.links.values():
            link.send(data)

    def connected(self, replica: int) -> bool:
        link = self.links.get(replica)
        return link is not None and link.connected

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self.inbound) >= self.limits.max_connections:
            self.drops["connection_limit"] += 1
            writer.close()
            return
        self.inbound.add(task)
        try:
            await self.read_frames(reader)
        except (asyncio.IncompleteReadError, OSError, ConnectionError, asyncio.CancelledError):
            pass  # the peer went away, or the node is stopping, possibly mid-frame: nothing half-read is handed on
        finally:
            self.inbound.discard(task)
            writer.close()

    async def read_frames(self, reader: asyncio.StreamReader) -> None:
        bad_frames = 0
        while True:
            length = int.from_bytes(await reader.readexactly(LENGTH_BYTES), "big")
            if length > self.limits.max_frame_bytes:
                self.drops["frame_too_large"] += 1
                return  # unread, the rest of the stream cannot be framed: close
            if length == 0:
                reason: str | None = "frame_empty"
            else:
                payload = await reader.readexactly(length)
                self.frames_received += 1
                try:
                    reason = self.handle_frame(payload)
                except Exception:  # a bug of this node, not the peer's doing: log it, serve on
                    traceback.print_exc(file=sys.stderr)
                    reason = "node_internal_error"
            if reason is not None:
                self.drops[reason] += 1
                bad_frames += 1
                if bad_frames >= self.limits.max_bad_frames:
                    self.drops["connection_closed_bad_frames"] += 1
                    return
