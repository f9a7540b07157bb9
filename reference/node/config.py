"""A node's configuration: one TOML file per replica.

    replica = 0                      # this replica's index in the genesis platforms
    genesis = "genesis.json"         # the genesis, in the project's JSON form
    key = "replica-0.key"            # this replica's Ed25519 seed, 64 hex digits
    data_dir = "data-0"              # SQLite database and control socket
    durability = "full"              # full | normal | off (reference.node.storage)
    # byzantine = "silent"           # tests only: equivocate | double_vote | silent (runtime.py)

    [listen]                         # replica-to-replica TCP
    host = "127.0.0.1"
    port = 7000
    [http]                           # the HTTP API (port 0: no API)
    host = "127.0.0.1"
    port = 8000
    [[peers]]                        # every other replica
    replica = 1
    host = "127.0.0.1"
    port = 7001
    [consensus]                      # optional; defaults from spec.constants
    [timers]                         # optional; milliseconds
    [limits]                         # optional

Relative paths are relative to the file's directory. A bad file gives a `ConfigError`
naming the key and what is wrong, never a traceback.
"""

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from spec.constants import CHECKPOINT_INTERVAL, MAX_BLOCK_TRANSACTIONS, MAX_MESSAGE_BYTES, WATERMARK_WINDOW

DURABILITY_SETTINGS = ("full", "normal", "off")
BYZANTINE_MODES = ("equivocate", "double_vote", "silent")
"""Misbehaviours a replica can be told to show, for tests only (`byzantine = MODE`; absent: correct)."""

# --- defaults, with their units --------------------------------------------------------------------
VIEW_CHANGE_TIMEOUT_MS = 2_000
"""Requests pending and no height executed for this long: the VIEW_CHANGE timer fires (doubling per
consecutive view change)."""
FETCH_INTERVAL_MS = 200
"""The FETCH timer fires this often: it brings the real clock to the core, and asks for the next block
when the replica knows it is behind."""
RETRANSMIT_INTERVAL_MS = 300
"""A replica's own still-needed messages are sent again this often."""
RECONNECT_MIN_MS = 50
RECONNECT_MAX_MS = 2_000
"""Backoff between attempts to reach a peer: doubling from the minimum up to the maximum."""
MAX_FRAME_BYTES = 16 * 1024 * 1024
"""A frame longer than this is dropped unread and its connection closed (bytes). At most
MAX_MESSAGE_BYTES; 16 MiB holds a full block (about 0.5 MiB) and a NEW-VIEW of a few dozen replicas."""
MAX_CONNECTIONS = 32
"""Inbound connections read at once; more are closed at once. Inbound buffers are bounded by
MAX_CONNECTIONS x MAX_FRAME_BYTES (512 MiB by default)."""
MAX_QUEUED_BYTES = 16 * 1024 * 1024
"""Bytes waiting to be written to one peer; a frame beyond is dropped (retransmission recovers)."""
MAX_BAD_FRAMES = 16
"""Frames dropped on one inbound connection before it is closed."""


class ConfigError(ValueError):
    """The configuration file is missing, not TOML, or has a wrong key: the message says which."""


@dataclass(frozen=True)
class PeerAddress:
    replica: int
    host: str
    port: int


@dataclass(frozen=True)
class ConsensusSettings:
    checkpoint_interval: int = CHECKPOINT_INTERVAL
    watermark_window: int = WATERMARK_WINDOW
    max_block_transactions: int = MAX_BLOCK_TRANSACTIONS


@dataclass(frozen=True)
class TimerSettings:
    view_change_ms: int = VIEW_CHANGE_TIMEOUT_MS
    fetch_ms: int = FETCH_INTERVAL_MS
    retransmit_ms: int = RETRANSMIT_INTERVAL_MS
    reconnect_min_ms: int = RECONNECT_MIN_MS
    reconnect_max_ms: int = RECONNECT_MAX_MS


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_connections: int = MAX_CONNECTIONS
    max_queued_bytes: int = MAX_QUEUED_BYTES
    max_bad_frames: int = MAX_BAD_FRAMES


@dataclass(frozen=True)
class NodeConfig:
    replica: int
    genesis_path: Path
    key_path: Path
    data_dir: Path
    listen: PeerAddress
    peers: tuple[PeerAddress, ...]
    http_host: str = "127.0.0.1"
    http_port: int = 0
    durability: str = "full"
    consensus: ConsensusSettings = field(default_factory=ConsensusSettings)
    timers: TimerSettings = field(default_factory=TimerSettings)
    limits: Limits = field(default_factory=Limits)
    byzantine: str = ""
    """Empty: a correct replica. Otherwise one of BYZANTINE_MODES (tests of safety only)."""


def load_config(path: Path) -> NodeConfig:
    """The configuration in `path`, checked; `ConfigError` says what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not TOML: {error}") from None
    return config_from_table(data, path.parent)


def config_from_table(data: dict[str, Any], base: Path) -> NodeConfig:
    known = {"replica", "genesis", "key", "data_dir", "durability", "listen", "http", "peers", "consensus",
             "timers", "limits", "byzantine"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    replica = integer(data, "replica", "replica", minimum=0)
    durability = data.get("durability", "full")
    if durability not in DURABILITY_SETTINGS:
        raise ConfigError(f"durability: {durability!r} is none of {', '.join(DURABILITY_SETTINGS)}")
    byzantine = data.get("byzantine", "")
    if byzantine != "" and byzantine not in BYZANTINE_MODES:
        raise ConfigError(f"byzantine: {byzantine!r} is none of {', '.join(BYZANTINE_MODES)}")
    listen = address(table(data, "listen"), "listen", replica)
    http = table(data, "http", required=False)
    peers_data = data.get("peers", [])
    if not isinstance(peers_data, list):
        raise ConfigError("peers: expected an array of tables [[peers]]")
    peers = tuple(peer_address(entry, f"peers[{index}]") for index, entry in enumerate(peers_data))
    ids = [peer.replica for peer in peers]
    if replica in ids or len(set(ids)) != len(ids):
        raise ConfigError("peers: each peer is another replica, named once")
    return NodeConfig(
        replica=replica,
        genesis_path=base / text(data, "genesis", "genesis"),
        key_path=base / text(data, "key", "key"),
        data_dir=base / text(data, "data_dir", "data_dir"),
        listen=listen,
        peers=peers,
        http_host=text(http, "host", "http.host") if "host" in http else "127.0.0.1",
        http_port=integer(http, "port", "http.port", minimum=0, maximum=65_535) if "port" in http else 0,
        durability=durability,
        consensus=ConsensusSettings(**settings(table(data, "consensus", required=False), "consensus",
                                               ConsensusSettings)),
        timers=TimerSettings(**settings(table(data, "timers", required=False), "timers", TimerSettings)),
        limits=checked_limits(Limits(**settings(table(data, "limits", required=False), "limits", Limits))),
        byzantine=byzantine,
    )


def checked_limits(limits: Limits) -> Limits:
    if limits.max_frame_bytes > MAX_MESSAGE_BYTES:
        raise ConfigError(f"limits.max_frame_bytes: at most MAX_MESSAGE_BYTES ({MAX_MESSAGE_BYTES})")
    return limits


def settings(data: dict[str, Any], place: str, kind: type) -> dict[str, int]:
    """Positive integers for the fields of `kind` that `data` names; unknown keys refused."""
    names = {entry.name for entry in fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{place}.{unknown[0]}: unknown key (known: {', '.join(sorted(names))})")
    return {name: integer(data, name, f"{place}.{name}", minimum=1) for name in data}


def table(data: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table [{key}]")
    return value


def address(data: dict[str, Any], place: str, replica: int) -> PeerAddress:
    return PeerAddress(replica, text(data, "host", f"{place}.host"),
                       integer(data, "port", f"{place}.port", minimum=0, maximum=65_535))


def peer_address(entry: object, place: str) -> PeerAddress:
    if not isinstance(entry, dict):
        raise ConfigError(f"{place}: expected a table")
    return address(entry, place, integer(entry, "replica", f"{place}.replica", minimum=0))


def integer(data: dict[str, Any], key: str, place: str, minimum: int, maximum: int | None = None) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{place}: expected an integer, got {value!r:.60}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum} .. {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{place}: {value} is not {bound}")
    return value


def text(data: dict[str, Any], key: str, place: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or value == "":
        raise ConfigError(f"{place}: expected a non-empty string, got {value!r:.60}")
    return value


def config_toml(config: NodeConfig, base: Path) -> str:
    """The TOML text of `config`, its paths relative to `base` (the file's directory)."""
    def relative(path: Path) -> str:
        return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)

    lines = [
        f"replica = {config.replica}", f'genesis = "{relative(config.genesis_path)}"',
        f'key = "{relative(config.key_path)}"', f'data_dir = "{relative(config.data_dir)}"',
        f'durability = "{config.durability}"',
        *([f'byzantine = "{config.byzantine}"'] if config.byzantine else []), "",
        "[listen]", f'host = "{config.listen.host}"', f"port = {config.listen.port}", "",
        "[http]", f'host = "{config.http_host}"', f"port = {config.http_port}", "",
    ]
    for peer in config.peers:
        lines += ["[[peers]]", f"replica = {peer.replica}", f'host = "{peer.host}"', f"port = {peer.port}", ""]
    for name, group in (("consensus", config.consensus), ("timers", config.timers), ("limits", config.limits)):
        lines.append(f"[{name}]")
        lines += [f"{entry.name} = {getattr(group, entry.name)}" for entry in fields(group)]
        lines.append("")
    return "\n".join(lines)
