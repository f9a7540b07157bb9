"""The HTTP API served inside replica processes: a batch submitted to one replica over HTTP commits on all four, and a resubmission answers
`committed` with its receipt."""

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from node_helpers import FAST_TIMERS, HANG_GUARD_SECONDS, balance_set

from reference.node.cluster import make_cluster, start_cluster, stop_process, wait_until
from reference.node.config import load_config
from spec.wire.json_form import to_json


def http(port: int, path: str, body: object | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, None


def test_submit_over_http_commits_on_every_replica(tmp_path: Path) -> None:
    layout = make_cluster(tmp_path, 4, seed_text="node http tests", timers=FAST_TIMERS)
    ports = [load_config(path).http_port for path in layout.configs]
    processes = start_cluster(layout)
    try:
        assert wait_until(lambda: all(http(port, "/status")[0] == 200 for port in ports), HANG_GUARD_SECONDS)
        transactions = [balance_set(layout, number) for number in range(4)]
        batch = {"requests": [{"transactions": [to_json(tx)]} for tx in transactions]}
        code, answer = http(ports[2], "/transactions/batch", batch)
        assert code == 200, answer
        assert wait_until(lambda: all(http(port, "/status")[1]["height"] >= 1 for port in ports), HANG_GUARD_SECONDS)
        # resubmitted to another replica once committed: 200 `committed`, not ordered again
        assert wait_until(lambda: http(ports[0], "/transactions", {"transactions": [to_json(transactions[3])]})[0]
                          == 200, HANG_GUARD_SECONDS)
        assert http(ports[0], "/transactions", {"transactions": [to_json(transactions[3])]})[1]["status"] == "committed"
        assert wait_until(lambda: len({json.dumps(http(port, "/state-root")[1]) for port in ports}) == 1,
                          HANG_GUARD_SECONDS)
    finally:
        for process in processes:
            stop_process(process)
    assert [process.returncode for process in processes] == [0, 0, 0, 0]  # SIGTERM: a clean stop
