"""A node's configuration: the TOML the cluster writes loads back equal; a bad file is refused with
the key and what is wrong, and `fedspec node run` says so without a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from reference.node.cluster import make_cluster
from reference.node.config import ConfigError, config_from_table, load_config

VALID = {"replica": 0, "genesis": "g.json", "key": "k", "data_dir": "d",
         "listen": {"host": "127.0.0.1", "port": 7000}, "peers": [{"replica": 1, "host": "127.0.0.1", "port": 7001}]}


def test_written_configs_load(tmp_path: Path) -> None:
    layout = make_cluster(tmp_path, 4, seed_text="config", http=False)
    configs = [load_config(path) for path in layout.configs]
    assert [config.replica for config in configs] == [0, 1, 2, 3]
    assert all(len(config.peers) == 3 and config.durability == "full" for config in configs)
    assert config_from_table(VALID, tmp_path).listen.port == 7000  # control: the valid table loads


@pytest.mark.parametrize("change, message", [
    ({"replica": "x"}, "replica: expected an integer"),
    ({"durability": "sometimes"}, "durability: 'sometimes' is none of"),
    ({"listen": {"host": "127.0.0.1", "port": 70000}}, "listen.port: 70000 is not 0 .. 65535"),
    ({"peers": [{"replica": 0, "host": "h", "port": 1}]}, "peers: each peer is another replica"),
    ({"timers": {"fetch_ms": 0}}, "timers.fetch_ms: 0 is not at least 1"),
    ({"limits": {"max_frame_bytes": 1 << 40}}, "limits.max_frame_bytes: at most MAX_MESSAGE_BYTES"),
    ({"colour": "blue"}, "colour: unknown key"),
])
def test_bad_config_is_refused_by_name(change: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        config_from_table({**VALID, **change}, tmp_path)


def test_node_run_reports_a_bad_config_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('replica = "x"\n')
    result = subprocess.run([sys.executable, "-m", "fedspec", "node", "run", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "replica: expected an integer" in result.stderr and "Traceback" not in result.stderr
