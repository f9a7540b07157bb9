"""A TCP proxy on the loopback between the replicas of a local cluster, which can cut one replica off.

Each replica reaches each peer through its own route (a listening port of this proxy), so a route
knows both ends. `partition R` closes every open connection of a route to or from R and closes each
new one at once; `heal` lets them through again (the replicas reconnect with backoff).

    python -m reference.node.proxy ROUTES_JSON CONTROL_SOCKET

ROUTES_JSON: [{"source": i, "destination": j, "port": p, "target_port": q}, ...]. The control socket
takes JSON lines: {"op": "partition", "replica": R}, {"op": "heal"}, {"op": "status"}.
"""

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CHUNK_BYTES = 65_536


class Proxy:
    def __init__(self, routes: list[dict[str, int]]) -> None:
        self.routes = routes
        self.cut: set[int] = set()
        self.open: dict[int, set[asyncio.StreamWriter]] = {index: set() for index in range(len(routes))}
        self.refused = 0

    def route_cut(self, index: int) -> bool:
        route = self.routes[index]
        return route["source"] in self.cut or route["destination"] in self.cut

    async def connect(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.route_cut(index):
            self.refused += 1
            writer.close()
            return
        try:
            target_reader, target_writer = await asyncio.open_connection(HOST, self.routes[index]["target_port"])
        except OSError:
            writer.close()
            return
        self.open[index] |= {writer, target_writer}
        try:
            await asyncio.gather(pump(reader, target_writer), pump(target_reader, writer))
        finally:
            self.open[index] -= {writer, target_writer}
            for end in (writer, target_writer):
                end.close()

    def partition(self, replica: int) -> None:
        self.cut.add(replica)
        for index in range(len(self.routes)):
            if self.route_cut(index):
                for writer in list(self.open[index]):
                    writer.close()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") == "partition" and isinstance(request.get("replica"), int):
            self.partition(request["replica"])
        elif request.get("op") == "heal":
            self.cut.clear()
        elif request.get("op") != "status":
            return {"ok": False, "error": f"op: {request.get('op')!r} is none of partition, heal, status"}
        return {"ok": True, "partitioned": sorted(self.cut), "refused": self.refused}

    async def serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ValueError):
            while line := await reader.readline():
                try:
                    answer = self.answer(json.loads(line))
                except (ValueError, AttributeError):
                    answer = {"ok": False, "error": "not a JSON object"}
                writer.write((json.dumps(answer) + "\n").encode())
                await writer.drain()
        writer.close()


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while chunk := await reader.read(CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
    writer.close()


def route_handler(proxy: Proxy, index: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await proxy.connect(index, reader, writer)
    return handle


async def run_proxy(routes: list[dict[str, int]], control: Path) -> None:
    proxy = Proxy(routes)
    servers = [await asyncio.start_server(route_handler(proxy, index), HOST, route["port"])
               for index, route in enumerate(routes)]
    servers.append(await asyncio.start_unix_server(proxy.serve_control, str(control)))
    stopping = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signal_number, stopping.set)
    await stopping.wait()
    for server in servers:
        server.close()
    control.unlink(missing_ok=True)


def main(arguments: list[str]) -> int:
    if len(arguments) != 2:
        print("usage: python -m reference.node.proxy ROUTES_JSON CONTROL_SOCKET", file=sys.stderr)
        return 2
    try:
        routes = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
        asyncio.run(run_proxy(routes, Path(arguments[1])))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
