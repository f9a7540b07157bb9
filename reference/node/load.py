"""A load for a local cluster, with acknowledgements: signed BALANCE_SETs submitted on a replica's
control socket, and the acks a client may rely on -- a transaction is acknowledged as committed when
a replica, asked again (submission is idempotent), answers `committed` with its height. Acks are
appended to ACKS_FILE in the cluster directory, one JSON line each; the audit checks each is in
the chain.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reference.node.cluster import CHAIN_ID, ClusterLayout, agent_name, control_request
from spec.wire.encoding import transaction_bytes, transaction_hash
from spec.wire.signing import signed_copy
from spec.wire.types import BalanceSet

ACKS_FILE = "acks.jsonl"
SUBMIT_SECONDS = 10.0
"""How long one submission on the control socket may take (a hang guard)."""


@dataclass(frozen=True)
class Ack:
    transaction_hash: str
    height: int
    replica: int
    """The replica that acknowledged it."""


def balance_set(layout: ClusterLayout, number: int, tag: str = "load") -> BalanceSet:
    """A BALANCE_SET signed by the cluster's authority: each (tag, number) a distinct, valid transaction."""
    unsigned = BalanceSet(set_id=f"{tag}-{number}", agent=agent_name(0, number % 2), balance=1_000 + number,
                          signature="00" * 64)
    signed = signed_copy(layout.authority_seed, CHAIN_ID, unsigned)
    assert isinstance(signed, BalanceSet)
    return signed


def submit(layout: ClusterLayout, replica: int, transactions: Iterable[BalanceSet]) -> list[str] | None:
    """Each transaction as a request of its own; the status of each (accepted, committed, refused), or
    None if the replica did not answer (down, paused, busy)."""
    requests = [[transaction_bytes(transaction).hex()] for transaction in transactions]
    answer = control_request(layout, replica, {"op": "submit", "requests": requests}, timeout=SUBMIT_SECONDS)
    if not isinstance(answer, dict) or not answer.get("ok"):
        return None
    return [str(outcome["status"]) for outcome in answer["outcomes"]]


def acknowledge(layout: ClusterLayout, replica: int, transactions: list[BalanceSet]) -> list[Ack]:
    """Ask `replica` again about each transaction: those it answers `committed` are acked (and recorded)."""
    requests = [[transaction_bytes(transaction).hex()] for transaction in transactions]
    answer = control_request(layout, replica, {"op": "submit", "requests": requests}, timeout=SUBMIT_SECONDS)
    if not isinstance(answer, dict) or not answer.get("ok"):
        return []
    acks = [Ack(transaction_hash(transaction).hex(), int(outcome["height"]), replica)
            for transaction, outcome in zip(transactions, answer["outcomes"], strict=True)
            if outcome["status"] == "committed"]
    record_acks(layout.directory, acks)
    return acks


def record_acks(directory: Path, acks: list[Ack]) -> None:
    with open(directory / ACKS_FILE, "a", encoding="utf-8") as file:
        for ack in acks:
            file.write(json.dumps({"transaction_hash": ack.transaction_hash, "height": ack.height,
                                   "replica": ack.replica}) + "\n")


def read_acks(directory: Path) -> list[Ack]:
    path = directory / ACKS_FILE
    if not path.exists():
        return []
    return [Ack(str(entry["transaction_hash"]), int(entry["height"]), int(entry["replica"]))
            for entry in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)]


ACK_POLL_SECONDS = 0.1
"""How often unacknowledged transactions are asked about again."""
BATCH_TRANSACTIONS = 500
"""Transactions in one submission on the control socket."""


@dataclass(frozen=True)
class LoadResult:
    submitted: int
    acknowledged: int
    unanswered: int
    """Submissions a replica did not answer (it was down or paused): sent again to the next replica."""


def run_load(layout: ClusterLayout, count: int, tag: str, replicas: list[int], timeout: float) -> LoadResult:
    """Submit `count` transactions (to the first replica of `replicas` that answers), then ask until each is
    acknowledged as committed or `timeout` seconds pass (a hang guard)."""
    import time

    transactions = [balance_set(layout, number, tag) for number in range(count)]
    unanswered = 0
    for start in range(0, count, BATCH_TRANSACTIONS):
        batch = transactions[start:start + BATCH_TRANSACTIONS]
        for replica in replicas:
            if submit(layout, replica, batch) is not None:
                break
            unanswered += 1
    waiting = list(transactions)
    deadline = time.monotonic() + timeout
    turn = 0
    while waiting and time.monotonic() < deadline:
        acked = {ack.transaction_hash for ack in acknowledge(layout, replicas[turn % len(replicas)], waiting)}
        waiting = [transaction for transaction in waiting if transaction_hash(transaction).hex() not in acked]
        turn += 1
        if waiting:
            time.sleep(ACK_POLL_SECONDS)
    return LoadResult(count, count - len(waiting), unanswered)
