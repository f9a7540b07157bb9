"""`fedspec cluster up | status | load | audit | down` from the command line, in a tmp directory: the
processes start, answer and stop by their recorded pids; every misuse is one error line, exit 2, no
traceback. Whatever happens, every process started is stopped by its pid."""

import os
import subprocess
import sys
from pathlib import Path

from reference.node.cluster_control import alive, cluster_down, live_processes, load_cluster, recorded_pid

ROOT = Path(__file__).resolve().parents[1]
COMMAND_SECONDS = 60.0
"""A hang guard for one command."""


def fedspec(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fedspec", *arguments], capture_output=True, text=True,
                          env=environment, timeout=COMMAND_SECONDS, cwd=ROOT)


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_up_status_load_audit_down(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    refused(fedspec("cluster", "status", "--dir", str(directory)), "no cluster here")
    refused(fedspec("cluster", "up", "--dir", str(directory), "--replicas", "3"), "--replicas: 3 is not 4 .. 31")
    try:
        up = fedspec("cluster", "up", "--dir", str(directory))
        assert up.returncode == 0, up
        cluster = load_cluster(directory)
        pids = live_processes(cluster)
        assert sorted(pids) == ["proxy", "replica-0", "replica-1", "replica-2", "replica-3"]
        assert up.stdout.count(": up, pid") == 4 and "peers" in up.stdout

        refused(fedspec("cluster", "up", "--dir", str(directory)), "a cluster is already up")
        load = fedspec("cluster", "load", "--dir", str(directory), "--transactions", "40")
        assert load.returncode == 0 and "40 submitted, 40 acknowledged as committed" in load.stdout, load
        status = fedspec("cluster", "status", "--dir", str(directory))
        assert status.returncode == 0 and status.stdout.count("view 0") == 4, status
        audit = fedspec("cluster", "audit", "--dir", str(directory))
        assert audit.returncode == 0 and "audit clean" in audit.stdout and "40 acknowledged" in audit.stdout, audit
        refused(fedspec("cluster", "fault", "kill", "7", "--dir", str(directory)), "REPLICA: 7 is not 0 .. 3")

        down = fedspec("cluster", "down", "--dir", str(directory))
        assert down.returncode == 0 and down.stdout.count("stopped pid") == 5, down
        assert not any(alive(pid) for pid in pids.values())
        refused(fedspec("cluster", "down", "--dir", str(directory)), "no cluster is up")
        refused(fedspec("cluster", "fault", "pause", "1", "--dir", str(directory)), "replica 1 is not running")
    finally:
        if recorded_pid(directory, "proxy") is not None:
            cluster_down(directory)


def test_stale_pid_file_refused_then_cleared(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    try:
        assert fedspec("cluster", "up", "--dir", str(directory)).returncode == 0
        assert fedspec("cluster", "down", "--dir", str(directory)).returncode == 0
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        (directory / "replica-2.pid").write_text(f"{gone.pid}\n")  # a pid whose process is gone
        refused(fedspec("cluster", "up", "--dir", str(directory)), "stale pid files of replica-2")
        down = fedspec("cluster", "down", "--dir", str(directory))
        assert down.returncode == 0 and "was already gone (stale pid file removed)" in down.stdout
        up = fedspec("cluster", "up", "--dir", str(directory))  # the same cluster again, on its data
        assert up.returncode == 0, up
    finally:
        if recorded_pid(directory, "proxy") is not None:
            cluster_down(directory)
