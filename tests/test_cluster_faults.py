"""Faults on a local cluster of 4 replica processes, each followed by the audit: kill -9 and restart
(the primary and a backup), pause and resume, a partition healed. Every acknowledged transaction is
in the chain, the chains agree and replay through the spec. Negative controls: a replica partitioned
or paused does not move; the audit catches a forked chain, a stored root that is not the spec's, and
an acknowledged transaction missing from the chain."""

import json
import shutil
import sqlite3
from pathlib import Path

from cluster_helpers import height, load, running_cluster, wait_same_height

from conformance.audit import audit_directory
from reference.node.byzantine import conflicting_proposal
from reference.node.cluster_control import fault_heal, fault_kill, fault_partition, fault_pause, fault_resume
from reference.node.load import ACKS_FILE
from reference.node.storage import DATABASE_NAME
from spec.wire.decoding import decode_block
from spec.wire.encoding import block_hash
from spec.wire.message_encoding import block_bytes
from spec.wire.messages import PrePrepare

ALL = [0, 1, 2, 3]
SOCKETS = shutil.ignore_patterns("*.sock")


def test_kill_cycles_then_audit_clean_and_its_negative_controls(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    with running_cluster(directory) as cluster:
        load(cluster, 30, "before")
        for replica in (3, 0):  # a backup, then the primary of view 0
            fault_kill(directory, replica)
            load(cluster, 30, f"after-kill-{replica}")
        assert wait_same_height(cluster, ALL)
    report = audit_directory(directory)
    assert report.clean, report.problems
    assert report.acks_checked == 90 and report.transactions == 90 and min(report.heights.values()) >= 3

    forked = tmp_path / "forked"  # negative controls, each on a copy
    shutil.copytree(directory, forked, ignore=SOCKETS)
    database = forked / "data-2" / DATABASE_NAME
    with sqlite3.connect(database) as connection:
        (raw,) = connection.execute("SELECT block FROM blocks WHERE height = 2").fetchone()
        block = decode_block(raw)
        other = conflicting_proposal(PrePrepare(0, 2, block_hash(block.header), block, 0)).block
        connection.execute("UPDATE blocks SET block = ? WHERE height = 2", (block_bytes(other),))
    problems = audit_directory(forked).problems
    assert any("replica 2: block 2" in problem and "the chains fork" in problem for problem in problems), problems
    assert any("replica 2: block 3 refused by the spec" in problem for problem in problems), problems

    rooted = tmp_path / "rooted"
    shutil.copytree(directory, rooted, ignore=SOCKETS)
    with sqlite3.connect(rooted / "data-1" / DATABASE_NAME) as connection:
        connection.execute("INSERT OR REPLACE INTO snapshots VALUES (1, ?, '{}')", ("ab" * 32,))
    assert audit_directory(rooted).problems == ["replica 1: stored state root at checkpoint 1 is not the spec's"]

    unacked = tmp_path / "unacked"
    shutil.copytree(directory, unacked, ignore=SOCKETS)
    with open(unacked / ACKS_FILE, "a", encoding="utf-8") as file:
        file.write(json.dumps({"transaction_hash": "cd" * 32, "height": 1, "replica": 0}) + "\n")
    problems = audit_directory(unacked).problems
    assert len(problems) == 4 and all("acknowledged transaction cdcdcdcdcdcdcdcd" in p for p in problems), problems


def test_paused_replica_resumes_and_catches_up(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    with running_cluster(directory) as cluster:
        load(cluster, 20, "before")
        assert wait_same_height(cluster, ALL)
        paused_at = height(cluster, 2)
        fault_pause(directory, 2)
        load(cluster, 20, "paused", [1, 0, 3])
        assert height(cluster, 2) == -1  # negative control: a paused replica does not even answer
        fault_resume(directory, 2)
        assert height(cluster, 2) >= paused_at
        assert wait_same_height(cluster, ALL)
    report = audit_directory(directory)
    assert report.clean and report.acks_checked == 40, report.problems


def test_partitioned_replica_catches_up_after_heal(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    with running_cluster(directory) as cluster:
        load(cluster, 20, "before")
        assert wait_same_height(cluster, ALL)
        cut_at = height(cluster, 3)
        fault_partition(directory, 3)
        load(cluster, 20, "partitioned", [0, 1, 2])
        assert height(cluster, 3) == cut_at < height(cluster, 0)  # negative control: cut off, it did not move
        fault_heal(directory)
        assert wait_same_height(cluster, ALL)
    report = audit_directory(directory)
    assert report.clean and report.acks_checked == 40 and len(set(report.heights.values())) == 1, report.problems
