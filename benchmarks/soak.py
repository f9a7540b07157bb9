"""Soak: kill -9 / restart cycles under load on a local cluster, then the audit.

    python3 benchmarks/soak.py [--cycles 1000] [--replicas 4] [--transactions 20] [--dir DIR] [--keep]

Each cycle submits a batch of signed transactions, kills one replica with SIGKILL while the batch is
in flight (the replicas in turn, so the primary too), restarts it on its data, waits until it
answers, then waits until every transaction of the batch is acknowledged as committed (each wait
bounded by a hang guard). At the end it waits until the replicas agree on the height, stops the
cluster by its pids and runs the audit (chains replayed through the spec, prefixes, roots,
invariants, every ack in the chain). It prints what it found; exit status 0 only if every batch
was acknowledged and the audit is clean.
"""

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.audit import AuditReport, audit_directory  # noqa: E402
from reference.node.cluster import wait_until  # noqa: E402
from reference.node.cluster_control import (  # noqa: E402
    Cluster,
    ClusterError,
    cluster_down,
    cluster_up,
    fault_kill,
    replica_status,
)
from reference.node.config import TimerSettings  # noqa: E402
from reference.node.load import acknowledge, balance_set, submit  # noqa: E402
from spec.wire.encoding import transaction_hash  # noqa: E402
from spec.wire.types import BalanceSet  # noqa: E402

SOAK_TIMERS = TimerSettings(view_change_ms=1_500, fetch_ms=100, retransmit_ms=150, reconnect_min_ms=20,
                            reconnect_max_ms=200)
"""Shorter than the defaults: a killed primary is replaced in seconds, so cycles stay short."""
HANG_GUARD_SECONDS = 60.0
"""How long a batch may wait for its acknowledgements before the cycle is reported as failed."""
ACK_POLL_SECONDS = 0.1


@dataclass
class SoakReport:
    cycles: int = 0
    submitted: int = 0
    acknowledged: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    audit: AuditReport | None = None

    @property
    def clean(self) -> bool:
        return not self.failures and self.audit is not None and self.audit.clean


def acknowledge_all(cluster: Cluster, batch: list[BalanceSet], replicas: list[int]) -> int:
    """Ask the replicas in turn until the whole batch is acknowledged or the hang guard passes; how many were."""
    waiting, turn = list(batch), 0
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while waiting and time.monotonic() < deadline:
        acked = {ack.transaction_hash for ack in acknowledge(cluster.layout, replicas[turn % len(replicas)], waiting)}
        waiting = [transaction for transaction in waiting if transaction_hash(transaction).hex() not in acked]
        turn += 1
        if waiting:
            time.sleep(ACK_POLL_SECONDS)
    return len(batch) - len(waiting)


def cycle(cluster: Cluster, number: int, transactions: int, report: SoakReport) -> None:
    victim = number % cluster.replicas
    others = [replica for replica in range(cluster.replicas) if replica != victim]
    batch = [balance_set(cluster.layout, number * transactions + index, "soak") for index in range(transactions)]
    if submit(cluster.layout, others[0], batch) is None:
        report.failures.append(f"cycle {number}: replica {others[0]} did not take the batch")
    fault_kill(cluster.directory, victim)
    acked = acknowledge_all(cluster, batch, others + [victim])
    report.submitted += transactions
    report.acknowledged += acked
    report.cycles += 1
    if acked != transactions:
        report.failures.append(f"cycle {number} (killed replica {victim}): {transactions - acked} of {transactions} "
                               f"transactions not acknowledged within {HANG_GUARD_SECONDS:.0f} s")


def heights(cluster: Cluster) -> set[object]:
    return {(replica_status(cluster, replica) or {}).get("height") for replica in range(cluster.replicas)}


def soak(directory: Path, cycles: int, replicas: int, transactions: int) -> SoakReport:
    report = SoakReport()
    started = time.monotonic()
    cluster = cluster_up(directory, replicas, seed_text="soak", timers=SOAK_TIMERS)
    try:
        for number in range(cycles):
            cycle(cluster, number, transactions, report)
            if len(report.failures) > 10:
                report.failures.append("stopped early: more than 10 failures")
                break
        if not wait_until(lambda: len(heights(cluster)) == 1, HANG_GUARD_SECONDS):
            report.failures.append(f"the replicas did not reach one height: {sorted(map(str, heights(cluster)))}")
    finally:
        cluster_down(directory)
    report.audit = audit_directory(directory)
    report.seconds = time.monotonic() - started
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--transactions", type=int, default=20, help="transactions submitted per cycle")
    parser.add_argument("--dir", type=Path, default=None, help="the cluster directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="fedspec-soak-"))
    try:
        report = soak(directory, args.cycles, args.replicas, args.transactions)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"soak: {report.cycles} kill -9 / restart cycles on {args.replicas} replicas in {report.seconds:.1f} s; "
          f"{report.submitted} transactions submitted, {report.acknowledged} acknowledged as committed")
    for failure in report.failures:
        print(f"  failure: {failure}")
    assert report.audit is not None
    print(report.audit.summary())
    for problem in report.audit.problems:
        print(f"  {problem}")
    print("soak clean" if report.clean else "soak FOUND PROBLEMS")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
