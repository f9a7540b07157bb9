"""A local group of replicas: lay out genesis, keys and configs in a directory, start one
`python -m reference.node CONFIG` process per replica, stop each by its own pid.

    layout = make_cluster(directory, replicas=4)          # files only
    processes = start_cluster(layout)                      # N processes
    stop_process(processes[0])                             # SIGTERM, then SIGKILL after a grace
    kill_process(processes[0])                             # kill -9 (a crash)
    processes[0] = start_replica(layout, 0)                # restart on the same data dir

Ports are free loopback ports found by binding port 0. Keys are fresh random seeds unless a
`seed_text` is given (tests: reproducible keys). Status and submission go through each node's
control socket (`control_request`); blocks are read from its database (`read_chain`).
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reference.node.config import NodeConfig, PeerAddress, TimerSettings, config_toml
from reference.node.storage import DATABASE_NAME
from spec.constants import UNITS_PER_ATP
from spec.wire.json_form import to_json
from spec.wire.signing import public_key_hex, seed_from_text
from spec.wire.types import Block, Genesis, GenesisAccount, GenesisPlatform

CHAIN_ID = "fedspec-local"
GENESIS_TIME_MS = 1_700_000_000_000
AGENTS_PER_PLATFORM = 2
AGENT_BALANCE = 1_000 * UNITS_PER_ATP
STOP_GRACE_SECONDS = 5.0
"""SIGTERM, then this long before SIGKILL."""


@dataclass(frozen=True)
class ClusterLayout:
    directory: Path
    configs: tuple[Path, ...]
    authority_seed: bytes
    platform_seeds: tuple[bytes, ...]
    genesis: Genesis


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LISTEN_PORT_FLOOR = 10_000
"""Listening ports are taken at or above this port and below the kernel's ephemeral range."""
PORTS_PER_PROCESS = 256
"""Each process that lays out clusters draws ports from a slice of its own this long."""
next_port_offset = [os.getpid() % PORTS_PER_PROCESS]
"""Where this process's next port search starts in its slice (two processes that share
a slice start apart)."""


def ephemeral_floor() -> int:
    """The lowest port the kernel picks for outgoing connections and for port 0 (32768
    where the kernel does not say)."""
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A loopback port to listen on, that no other process is likely to take before the
    node binds it: below the ephemeral range (so no outgoing connection's source port
    lands on it, and port 0 never hands it out), in a slice of the range chosen by this
    process's id (so test workers laying out clusters side by side do not draw the same
    ports), the first in the slice that binds now."""
    slices = max(1, (ephemeral_floor() - LISTEN_PORT_FLOOR) // PORTS_PER_PROCESS)
    base = LISTEN_PORT_FLOOR + (os.getpid() // PORTS_PER_PROCESS % slices) * PORTS_PER_PROCESS
    for step in range(PORTS_PER_PROCESS):
        offset = (next_port_offset[0] + step) % PORTS_PER_PROCESS
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", base + offset))
            except OSError:
                continue
        next_port_offset[0] = offset + 1
        return base + offset
    raise OSError(f"no free loopback port in {base} .. {base + PORTS_PER_PROCESS - 1}")


def platform_name(replica: int) -> str:
    return f"platform-{replica}"


def agent_name(replica: int, index: int) -> str:
    return f"lct:web4:agent:p{replica}-{index}"


def make_seed(seed_text: str | None, name: str) -> bytes:
    return secrets.token_bytes(32) if seed_text is None else seed_from_text(f"{seed_text} {name}")


def make_genesis(platform_seeds: tuple[bytes, ...], authority_seed: bytes) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, genesis_time_ms=GENESIS_TIME_MS, authority_public_key=public_key_hex(authority_seed),
        platforms=tuple(GenesisPlatform(name=platform_name(replica), public_key=public_key_hex(seed))
                        for replica, seed in enumerate(platform_seeds)),
        accounts=tuple(GenesisAccount(agent=agent_name(replica, index), platform=platform_name(replica),
                                      balance=AGENT_BALANCE)
                       for replica in range(len(platform_seeds)) for index in range(AGENTS_PER_PLATFORM)),
    )


def make_cluster(directory: Path, replicas: int, seed_text: str | None = None, durability: str = "full",
                 timers: TimerSettings | None = None, http: bool = True) -> ClusterLayout:
    """Write genesis.json, authority.key, replica-I.key and replica-I.toml into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    authority_seed = make_seed(seed_text, "authority")
    platform_seeds = tuple(make_seed(seed_text, platform_name(replica)) for replica in range(replicas))
    genesis = make_genesis(platform_seeds, authority_seed)
    (directory / "genesis.json").write_text(json.dumps(to_json(genesis), indent=1), encoding="utf-8")
    (directory / "authority.key").write_text(authority_seed.hex() + "\n", encoding="ascii")
    addresses = [PeerAddress(replica, "127.0.0.1", free_port()) for replica in range(replicas)]
    configs = []
    for replica in range(replicas):
        key_path = directory / f"replica-{replica}.key"
        key_path.write_text(platform_seeds[replica].hex() + "\n", encoding="ascii")
        key_path.chmod(0o600)
        config = NodeConfig(
            replica=replica, genesis_path=directory / "genesis.json", key_path=key_path,
            data_dir=directory / f"data-{replica}", listen=addresses[replica],
            peers=tuple(address for address in addresses if address.replica != replica),
            http_port=free_port() if http else 0, durability=durability,
        )
        if timers is not None:
            config = replace(config, timers=timers)
        path = directory / f"replica-{replica}.toml"
        path.write_text(config_toml(config, directory), encoding="utf-8")
        configs.append(path)
    return ClusterLayout(directory, tuple(configs), authority_seed, platform_seeds, genesis)


def start_replica(layout: ClusterLayout, replica: int) -> subprocess.Popen[bytes]:
    """One replica process; its output goes to replica-I.log in the cluster directory."""
    log = open(layout.directory / f"replica-{replica}.log", "ab")  # noqa: SIM115 -- the process owns it
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [project_root(),
                                                                         os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "reference.node", str(layout.configs[replica])],
                            stdout=log, stderr=subprocess.STDOUT, env=environment)


def project_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def start_cluster(layout: ClusterLayout) -> list[subprocess.Popen[bytes]]:
    return [start_replica(layout, replica) for replica in range(len(layout.configs))]


def kill_process(process: subprocess.Popen[bytes]) -> None:
    """kill -9, by its own pid."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_SECONDS)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, by its own pid; SIGKILL if it has not stopped within the grace."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    kill_process(process)


def control_path(layout: ClusterLayout, replica: int) -> Path:
    return layout.directory / f"data-{replica}" / "control.sock"


def control_request(layout: ClusterLayout, replica: int, request: dict[str, Any], timeout: float = 5.0) -> Any:
    """One request on a replica's control socket; the answer, or None if the replica does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(str(control_path(layout, replica)))
            connection.sendall((json.dumps(request) + "\n").encode())
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = connection.recv(65_536)
                if not chunk:
                    return None
                answer += chunk
            return json.loads(answer)
    except OSError:
        return None


def status(layout: ClusterLayout, replica: int) -> dict[str, Any] | None:
    answer = control_request(layout, replica, {"op": "status"})
    return None if answer is None or not answer.get("ok") else answer["status"]


def wait_until(condition: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition` until true or `timeout` seconds pass (a hang guard, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def read_chain(layout: ClusterLayout, replica: int) -> list[Block]:
    """The committed blocks in a replica's database, read while it runs (WAL readers do not block)."""
    import sqlite3

    from spec.wire.decoding import decode_block

    path = layout.directory / f"data-{replica}" / DATABASE_NAME
    if not path.exists():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [decode_block(raw) for (raw,) in connection.execute("SELECT block FROM blocks ORDER BY height")]
    finally:
        connection.close()
