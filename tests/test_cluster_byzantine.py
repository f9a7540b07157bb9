"""One Byzantine replica among 4 processes (f = 1): an equivocating primary, a double voter, a silent
replica. The correct replicas go on committing, and the audit of their chains is clean: safety holds.
Each mode is shown to misbehave (negative control): the correct replicas refuse what it sent, or
see nothing from it."""

from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import load, running_cluster, wait_same_height

from conformance.audit import audit_directory
from reference.node.cluster_control import Cluster, ClusterError, create_cluster, load_cluster, replica_status
from reference.node.config import ConfigError, config_from_table, load_config


def refusals(cluster: Cluster, name: str) -> int:
    answers: list[Any] = [replica_status(cluster, replica) for replica in cluster.correct()]
    return sum(int(answer["refusals"].get(name, 0)) for answer in answers if answer is not None)


@pytest.mark.parametrize(("mode", "replica", "shown_by"), [
    ("equivocate", 0, "vote_for_other_block"),   # the primary of view 0: peers hold different proposals
    ("double_vote", 0, "vote_for_other_block"),  # its second vote of a slot names another block
    ("silent", 0, ""),                           # the primary of view 0: the others must change view
    ("silent", 3, ""),                           # a backup: the other three are the quorum
])
def test_one_byzantine_replica_among_four_keeps_safety(tmp_path: Path, mode: str, replica: int, shown_by: str) -> None:
    directory = tmp_path / "cluster"
    with running_cluster(directory, {replica: mode}) as cluster:
        assert cluster.correct() == [other for other in range(4) if other != replica]
        load(cluster, 30, "first")
        load(cluster, 30, "second")
        assert wait_same_height(cluster, cluster.correct())
        if shown_by:
            assert refusals(cluster, shown_by) > 0
        else:
            answer = replica_status(cluster, replica)
            assert answer is not None and answer["byzantine"] == "silent"
        if (mode, replica) == ("silent", 0):  # nothing came from the primary of view 0: a view change
            views = [replica_status(cluster, other) for other in cluster.correct()]
            assert all(view is not None and view["view"] >= 1 for view in views), views
    report = audit_directory(directory)
    assert report.clean, report.problems
    assert sorted(report.heights) == cluster.correct() and report.acks_checked == 60


def test_byzantine_mode_is_a_config_key_never_the_default(tmp_path: Path) -> None:
    cluster = create_cluster(tmp_path, 4, {2: "double_vote"}, seed_text="byzantine config")
    modes = [load_config(path).byzantine for path in cluster.layout.configs]
    assert modes == ["", "", "double_vote", ""]
    assert load_cluster(tmp_path).correct() == [0, 1, 3]
    with pytest.raises(ConfigError, match="byzantine: 'liar' is none of equivocate, double_vote, silent"):
        config_from_table({"replica": 0, "genesis": "g", "key": "k", "data_dir": "d", "byzantine": "liar",
                           "listen": {"host": "127.0.0.1", "port": 1}}, tmp_path)
    with pytest.raises(ClusterError, match="--byzantine: 'liar' is none of"):
        create_cluster(tmp_path / "other", 4, {0: "liar"})
