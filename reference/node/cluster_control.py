"""A local cluster run from the command line: `fedspec cluster up | status | down | fault ...`.

The cluster lives in one directory (default `.fedspec-cluster/`): the genesis, keys and configs that
`cluster.make_cluster` writes, a pid file per process (`replica-I.pid`, `proxy.pid`), the routes of
the loopback proxy (`proxy-routes.json`) and `cluster.json` (how many replicas, which one is
Byzantine, whether the proxy is in the path). Every replica reaches every peer through the proxy, on
a route of its own, so one replica can be partitioned off (`fault partition R`) and healed; a
cluster laid out with `proxy=False` (benchmarks) connects the replicas directly and cannot be. Processes are started in sessions
of their own (they outlive the command that started them) and stopped by the pids recorded.

Every failure a user can cause is a `ClusterError` with a precise message.
"""

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reference.node.cluster import (
    ClusterLayout,
    control_request,
    free_port,
    make_cluster,
    project_root,
    wait_until,
)
from reference.node.config import BYZANTINE_MODES, PeerAddress, TimerSettings, config_toml, load_config
from reference.node.runtime import load_genesis, load_seed

DEFAULT_DIRECTORY = Path(".fedspec-cluster")
DEFAULT_REPLICAS = 4
MIN_REPLICAS = 4
"""3f + 1 with f = 1: the smallest group that tolerates a fault."""
MAX_REPLICAS = 31
HEALTHY_SECONDS = 30.0
"""How long `up` and a fault wait for the replicas to answer and connect (a hang guard)."""
STATUS_SECONDS = 2.0
"""How long `status` waits for one replica's answer (a paused one gives none)."""
STOP_GRACE_SECONDS = 5.0
"""SIGTERM, then this long before SIGKILL."""
POLL_SECONDS = 0.05
CLUSTER_FILE = "cluster.json"
PROXY = "proxy"


class ClusterError(Exception):
    """What the user asked cannot be done; the message says why."""


@dataclass(frozen=True)
class Cluster:
    layout: ClusterLayout
    byzantine: dict[int, str]
    """Byzantine replicas, by index: the mode each runs in (tests only)."""
    proxy: bool = True
    """The replicas reach each other through the loopback proxy (which can partition them)."""

    @property
    def directory(self) -> Path:
        return self.layout.directory

    @property
    def replicas(self) -> int:
        return len(self.layout.configs)

    def correct(self) -> list[int]:
        return [replica for replica in range(self.replicas) if replica not in self.byzantine]


# --- processes by pid ------------------------------------------------------------------------------------
def pid_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.pid"


def replica_name(replica: int) -> str:
    return f"replica-{replica}"


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (one we started and has exited is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: another command started it
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def recorded_pid(directory: Path, name: str) -> int | None:
    path = pid_path(directory, name)
    try:
        return int(path.read_text().strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ClusterError(f"{path}: not a pid file; remove it by hand") from None


def spawn(directory: Path, name: str, command: list[str]) -> int:
    """Start `command` in a session of its own, its output appended to NAME.log; record its pid."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [project_root(),
                                                                         os.environ.get("PYTHONPATH")]))}
    with open(directory / f"{name}.log", "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=environment, start_new_session=True)
    pid_path(directory, name).write_text(f"{process.pid}\n")
    return process.pid


def signal_process(pid: int, number: signal.Signals) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def stop_pid(pid: int, forcefully: bool = False) -> None:
    """SIGTERM (SIGKILL if `forcefully` or still alive after the grace), and wait until it is gone."""
    if not alive(pid):
        return
    signal_process(pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
    signal_process(pid, signal.SIGKILL if forcefully else signal.SIGTERM)
    if not wait_until(lambda: not alive(pid), STOP_GRACE_SECONDS, POLL_SECONDS):
        signal_process(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), STOP_GRACE_SECONDS, POLL_SECONDS)


def process_names(cluster: Cluster) -> list[str]:
    return [replica_name(replica) for replica in range(cluster.replicas)] + ([PROXY] if cluster.proxy else [])


def live_processes(cluster: Cluster) -> dict[str, int]:
    pids = {name: recorded_pid(cluster.directory, name) for name in process_names(cluster)}
    return {name: pid for name, pid in pids.items() if pid is not None and alive(pid)}


def stale_pid_files(cluster: Cluster) -> list[str]:
    pids = {name: recorded_pid(cluster.directory, name) for name in process_names(cluster)}
    return [name for name, pid in pids.items() if pid is not None and not alive(pid)]


# --- the directory ------------------------------------------------------------------------------------------
def load_cluster(directory: Path) -> Cluster:
    """The cluster laid out in `directory`; `ClusterError` if there is none."""
    try:
        description = json.loads((directory / CLUSTER_FILE).read_text(encoding="utf-8"))
        replicas = int(description["replicas"])
        byzantine = {int(replica): str(mode) for replica, mode in description.get("byzantine", {}).items()}
        configs = tuple(directory / f"{replica_name(replica)}.toml" for replica in range(replicas))
        layout = ClusterLayout(directory, configs, load_seed(directory / "authority.key"),
                               tuple(load_seed(directory / f"{replica_name(replica)}.key") for replica in range(replicas)),
                               load_genesis(directory / "genesis.json"))
    except FileNotFoundError:
        raise ClusterError(f"{directory}: no cluster here (run `fedspec cluster up --dir {directory}`)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ClusterError(f"{directory}/{CLUSTER_FILE}: damaged ({error}); remove the directory") from None
    except Exception as error:  # NodeError from a key or the genesis
        raise ClusterError(f"{directory}: {error}") from None
    return Cluster(layout, byzantine, bool(description.get("proxy", True)))


def proxy_routes(layout: ClusterLayout) -> list[dict[str, int]]:
    """One route for each ordered pair of replicas: replica `source` reaches `destination` through `port`."""
    listens = {replica: load_config(path).listen.port for replica, path in enumerate(layout.configs)}
    return [{"source": source, "destination": destination, "port": free_port(), "target_port": listens[destination]}
            for source in listens for destination in listens if source != destination]


def route_peers_through_proxy(layout: ClusterLayout, routes: list[dict[str, int]], byzantine: dict[int, str]) -> None:
    """Rewrite each replica's config: its peers at its proxy routes; its Byzantine mode, if any."""
    for replica, path in enumerate(layout.configs):
        config = load_config(path)
        peers = tuple(PeerAddress(route["destination"], "127.0.0.1", route["port"])
                      for route in routes if route["source"] == replica)
        config = replace(config, peers=peers or config.peers, byzantine=byzantine.get(replica, ""))
        path.write_text(config_toml(config, layout.directory), encoding="utf-8")


def create_cluster(directory: Path, replicas: int, byzantine: dict[int, str], seed_text: str | None = None,
                   timers: TimerSettings | None = None, durability: str = "full", proxy: bool = True) -> Cluster:
    for replica, mode in byzantine.items():
        if not 0 <= replica < replicas:
            raise ClusterError(f"--byzantine-replica: {replica} is not 0 .. {replicas - 1}")
        if mode not in BYZANTINE_MODES:
            raise ClusterError(f"--byzantine: {mode!r} is none of {', '.join(BYZANTINE_MODES)}")
    layout = make_cluster(directory, replicas, seed_text=seed_text, durability=durability, timers=timers, http=False)
    routes = proxy_routes(layout) if proxy else []
    (directory / "proxy-routes.json").write_text(json.dumps(routes, indent=1), encoding="utf-8")
    if proxy or byzantine:
        route_peers_through_proxy(layout, routes, byzantine)
    description = {"replicas": replicas, "byzantine": {str(replica): mode for replica, mode in byzantine.items()},
                   "proxy": proxy}
    (directory / CLUSTER_FILE).write_text(json.dumps(description, indent=1) + "\n", encoding="utf-8")
    return Cluster(layout, byzantine, proxy)


# --- up, status, down -----------------------------------------------------------------------------------------
def start_proxy(cluster: Cluster) -> int:
    directory = cluster.directory
    (directory / "proxy.sock").unlink(missing_ok=True)
    return spawn(directory, PROXY, [sys.executable, "-m", "reference.node.proxy", str(directory / "proxy-routes.json"),
                                    str(directory / "proxy.sock")])


def start_replica_process(cluster: Cluster, replica: int) -> int:
    return spawn(cluster.directory, replica_name(replica),
                 [sys.executable, "-m", "reference.node", str(cluster.layout.configs[replica])])


def replica_status(cluster: Cluster, replica: int, timeout: float = STATUS_SECONDS) -> dict[str, Any] | None:
    answer = control_request(cluster.layout, replica, {"op": "status"}, timeout=timeout)
    return answer["status"] if isinstance(answer, dict) and answer.get("ok") else None


def healthy(cluster: Cluster, replica: int) -> bool:
    """It answers, and its links to every peer are up."""
    answer = replica_status(cluster, replica)
    return answer is not None and all(peer["connected"] for peer in answer["peers"])


def wait_healthy(cluster: Cluster, replicas: list[int]) -> None:
    if not wait_until(lambda: all(healthy(cluster, replica) for replica in replicas), HEALTHY_SECONDS, POLL_SECONDS):
        sick = [replica for replica in replicas if not healthy(cluster, replica)]
        raise ClusterError(f"replicas {sick} not healthy after {HEALTHY_SECONDS:.0f} s; see "
                           + ", ".join(f"{cluster.directory}/{replica_name(replica)}.log" for replica in sick))


def cluster_up(directory: Path, replicas: int | None = None, byzantine: dict[int, str] | None = None,
               seed_text: str | None = None, timers: TimerSettings | None = None, durability: str = "full",
               proxy: bool = True) -> Cluster:
    """Lay out a cluster of `replicas` (default DEFAULT_REPLICAS) in `directory` (or reuse the one there), start the proxy and every replica, and wait
    until each answers and is connected to its peers. Refused if any of its processes is running, or a pid
    file names one that is gone."""
    if replicas is not None and not MIN_REPLICAS <= replicas <= MAX_REPLICAS:
        raise ClusterError(f"--replicas: {replicas} is not {MIN_REPLICAS} .. {MAX_REPLICAS}")
    if (directory / CLUSTER_FILE).exists():
        cluster = load_cluster(directory)
        running = live_processes(cluster)
        if running:
            raise ClusterError(f"{directory}: a cluster is already up ({', '.join(f'{name} pid {pid}' for name, pid in running.items())}); "
                               "`fedspec cluster down` first")
        stale = stale_pid_files(cluster)
        if stale:
            raise ClusterError(f"{directory}: stale pid files of {', '.join(stale)} (processes gone); "
                               "`fedspec cluster down` clears them")
        if (replicas is not None and cluster.replicas != replicas) or (byzantine is not None and byzantine != cluster.byzantine):
            raise ClusterError(f"{directory}: holds a cluster of {cluster.replicas} replicas"
                               f"{' with Byzantine ' + str(cluster.byzantine) if cluster.byzantine else ''}; "
                               "use another --dir, or remove this one")
    else:
        cluster = create_cluster(directory, replicas or DEFAULT_REPLICAS, byzantine or {}, seed_text, timers,
                                 durability, proxy)
    try:
        if cluster.proxy:
            start_proxy(cluster)
        for replica in range(cluster.replicas):
            start_replica_process(cluster, replica)
        wait_healthy(cluster, list(range(cluster.replicas)))
    except BaseException:
        cluster_down(directory)
        raise
    return cluster


def cluster_status(directory: Path) -> list[dict[str, Any]]:
    """Each replica's view of itself: running or not, and its view, height, state root and peers."""
    cluster = load_cluster(directory)
    rows = []
    for replica in range(cluster.replicas):
        pid = recorded_pid(directory, replica_name(replica))
        row: dict[str, Any] = {"replica": replica, "pid": pid, "byzantine": cluster.byzantine.get(replica, "")}
        if pid is None or not alive(pid):
            row["state"] = "down" if pid is None else "gone (stale pid file)"
        else:
            answer = replica_status(cluster, replica)
            row["state"] = "up" if answer is not None else "not answering (paused?)"
            if answer is not None:
                row |= {key: answer[key] for key in ("view", "view_active", "height", "state_root", "peers")}
        rows.append(row)
    return rows


def cluster_down(directory: Path) -> list[str]:
    """Stop every process of the cluster by its recorded pid; remove the pid files. What it did, one line each."""
    cluster = load_cluster(directory)
    done = []
    for name in process_names(cluster):
        pid = recorded_pid(directory, name)
        if pid is None:
            continue
        if alive(pid):
            stop_pid(pid)
            done.append(f"{name}: stopped pid {pid}")
        else:
            done.append(f"{name}: pid {pid} was already gone (stale pid file removed)")
        pid_path(directory, name).unlink(missing_ok=True)
    if not done:
        raise ClusterError(f"{directory}: no cluster is up (no pid files)")
    return done


# --- faults -------------------------------------------------------------------------------------------------
def running_replica(cluster: Cluster, replica: int) -> int:
    if not 0 <= replica < cluster.replicas:
        raise ClusterError(f"REPLICA: {replica} is not 0 .. {cluster.replicas - 1}")
    pid = recorded_pid(cluster.directory, replica_name(replica))
    if pid is None or not alive(pid):
        raise ClusterError(f"replica {replica} is not running" + ("" if pid is None else f" (pid {pid} is gone)"))
    return pid


def wait_answering(cluster: Cluster, replica: int) -> None:
    if not wait_until(lambda: replica_status(cluster, replica) is not None, HEALTHY_SECONDS, POLL_SECONDS):
        raise ClusterError(f"replica {replica} does not answer after {HEALTHY_SECONDS:.0f} s; see "
                           f"{cluster.directory}/{replica_name(replica)}.log")


def fault_kill(directory: Path, replica: int) -> str:
    """kill -9 the replica, start it again on its data, wait until it answers."""
    cluster = load_cluster(directory)
    pid = running_replica(cluster, replica)
    stop_pid(pid, forcefully=True)
    new_pid = start_replica_process(cluster, replica)
    wait_answering(cluster, replica)
    return f"replica {replica}: killed pid {pid} (SIGKILL), restarted as pid {new_pid}"


def fault_pause(directory: Path, replica: int) -> str:
    cluster = load_cluster(directory)
    pid = running_replica(cluster, replica)
    signal_process(pid, signal.SIGSTOP)
    return f"replica {replica}: paused pid {pid} (SIGSTOP)"


def fault_resume(directory: Path, replica: int) -> str:
    cluster = load_cluster(directory)
    pid = running_replica(cluster, replica)
    signal_process(pid, signal.SIGCONT)
    wait_answering(cluster, replica)
    return f"replica {replica}: resumed pid {pid} (SIGCONT)"


def proxy_request(cluster: Cluster, request: dict[str, Any]) -> dict[str, Any]:
    if not cluster.proxy:
        raise ClusterError(f"{cluster.directory}: this cluster's replicas connect directly (laid out without the proxy)")
    pid = recorded_pid(cluster.directory, PROXY)
    if pid is None or not alive(pid):
        raise ClusterError("the cluster's proxy is not running (`fedspec cluster up` first)")
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(STATUS_SECONDS)
            connection.connect(str(cluster.directory / "proxy.sock"))
            connection.sendall((json.dumps(request) + "\n").encode())
            answer: dict[str, Any] = json.loads(connection.makefile().readline())
    except (OSError, ValueError) as error:
        raise ClusterError(f"the proxy does not answer: {error}") from None
    return answer


def fault_partition(directory: Path, replica: int) -> str:
    """Cut the replica's peer traffic at the proxy (both directions); it stays up and answers."""
    cluster = load_cluster(directory)
    running_replica(cluster, replica)
    answer = proxy_request(cluster, {"op": "partition", "replica": replica})
    wait_answering(cluster, replica)
    return f"replica {replica}: partitioned (cut off: {answer['partitioned']})"


def fault_heal(directory: Path) -> str:
    cluster = load_cluster(directory)
    answer = proxy_request(cluster, {"op": "heal"})
    return f"healed (cut off: {answer['partitioned']})"


