"""The audit after a cluster run: every correct replica's chain, read from its database (read only),
replayed through the spec (`spec.ledger.apply_block`), and checked:

- each block is accepted by the spec, and every ledger invariant (`spec.invariants.check_step`)
  holds across it;
- the chains are prefix-consistent: at each height every replica that has it holds the same block;
- the state roots the spec computes are equal at each height, and equal to the roots each replica
  stored at its checkpoints (its snapshots);
- every transaction acknowledged as committed (the load's acks) is in the chain, at the height
  acknowledged.

    report = audit_directory(Path(".fedspec-cluster"))     # the correct replicas of cluster.json
    report.clean, report.problems

The audit uses the spec, so it lives outside reference/ (which may not import it).
"""

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reference.node.load import Ack, read_acks
from reference.node.storage import DATABASE_NAME
from spec.codes import ResultCode
from spec.invariants import check_step
from spec.ledger import apply_block
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.decoding import DecodeError, decode_block
from spec.wire.encoding import block_hash, transaction_hash
from spec.wire.json_form import from_json
from spec.wire.state_root import state_root
from spec.wire.types import Block, Genesis

MAX_PROBLEMS = 50
"""Problems kept in a report; the count beyond is kept too."""


@dataclass
class AuditReport:
    heights: dict[int, int] = field(default_factory=dict)
    """Replica -> the height of its chain."""
    blocks_replayed: int = 0
    """Over every replica: a block held by four replicas is replayed four times."""
    transactions: int = 0
    acks_checked: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more_problems += 1

    def summary(self) -> str:
        verdict = "clean" if self.clean else f"{len(self.problems) + self.more_problems} problems"
        heights = ", ".join(f"replica {replica}: {height}" for replica, height in sorted(self.heights.items()))
        return (f"audit {verdict}: chains ({heights}); {self.blocks_replayed} blocks replayed through the spec, "
                f"{self.transactions} transactions; {self.acks_checked} acknowledged transactions checked")


def read_database(path: Path) -> tuple[list[Block], dict[int, str]]:
    """The blocks (in height order) and checkpoint state roots stored in one replica's database, read only."""
    if not path.exists():
        return [], {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        raw_blocks = [raw for (raw,) in connection.execute("SELECT block FROM blocks ORDER BY height")]
        roots = dict(connection.execute("SELECT height, state_root FROM snapshots"))
    finally:
        connection.close()
    return [decode_block(raw) for raw in raw_blocks], roots


def replay(genesis: Genesis, replica: int, blocks: Sequence[Block], report: AuditReport) -> list[str]:
    """The spec's state root after each block (index 0: the genesis), as far as the spec accepts the chain."""
    chain, state = chain_from_genesis(genesis), state_from_genesis(genesis)
    roots = [state_root(state)]
    for block in blocks:
        post, receipt = apply_block(chain, state, block)
        if receipt.code != ResultCode.OK:
            report.problem(f"replica {replica}: block {block.header.height} refused by the spec: {receipt.code.value}")
            break
        for violation in check_step(chain, state, block, receipt, post):
            report.problem(f"replica {replica}: block {block.header.height}: {violation.invariant}: {violation.message}")
        report.blocks_replayed += 1
        state = post
        roots.append(state_root(state))
    return roots


def check_prefixes(chains: dict[int, list[str]], report: AuditReport) -> None:
    """At each height, every replica holding it holds the same block."""
    longest = max(chains.values(), key=len, default=[])
    for replica, hashes in sorted(chains.items()):
        for height, (own, other) in enumerate(zip(hashes, longest, strict=False), start=1):
            if own != other:
                report.problem(f"replica {replica}: block {height} is {own[:16]}, another replica's is {other[:16]}: "
                               "the chains fork")
                break


def check_roots(roots: dict[int, list[str]], stored: dict[int, dict[int, str]], report: AuditReport) -> None:
    longest = max(roots.values(), key=len, default=[])
    for replica, own in sorted(roots.items()):
        for height, (mine, other) in enumerate(zip(own, longest, strict=False)):
            if mine != other:
                report.problem(f"replica {replica}: state root at height {height} differs from another replica's")
                break
        for height, root in sorted(stored[replica].items()):
            if height < len(own) and own[height] != root:
                report.problem(f"replica {replica}: stored state root at checkpoint {height} is not the spec's")


def check_acks(acks: Sequence[Ack], chains: dict[int, list[Block]], report: AuditReport) -> None:
    """Each acknowledged transaction is in the block at its acknowledged height, in every correct chain that
    reaches the height, and in at least one."""
    longest = max(chains.values(), key=len, default=[])
    for ack in acks:
        report.acks_checked += 1
        if ack.height > len(longest):
            report.problem(f"acknowledged transaction {ack.transaction_hash[:16]} (height {ack.height}, by replica "
                           f"{ack.replica}) is beyond every correct chain")
            continue
        for replica, blocks in sorted(chains.items()):
            if ack.height <= len(blocks):
                hashes = {transaction_hash(tx).hex() for tx in blocks[ack.height - 1].transactions}
                if ack.transaction_hash not in hashes:
                    report.problem(f"replica {replica}: acknowledged transaction {ack.transaction_hash[:16]} is not "
                                   f"in its block {ack.height}")


def audit_chains(genesis: Genesis, databases: dict[int, Path], acks: Sequence[Ack]) -> AuditReport:
    """Audit the replicas whose databases are given (the correct ones)."""
    report = AuditReport()
    chains: dict[int, list[Block]] = {}
    stored: dict[int, dict[int, str]] = {}
    for replica, path in sorted(databases.items()):
        try:
            chains[replica], stored[replica] = read_database(path)
        except (sqlite3.Error, DecodeError) as error:
            report.problem(f"replica {replica}: {path}: unreadable: {error}")
            chains[replica], stored[replica] = [], {}
        report.heights[replica] = len(chains[replica])
        report.transactions = max(report.transactions, sum(len(block.transactions) for block in chains[replica]))
        for height, block in enumerate(chains[replica], start=1):
            if block.header.height != height:
                report.problem(f"replica {replica}: the block stored at {height} says height {block.header.height}")
                break
    roots = {replica: replay(genesis, replica, blocks, report) for replica, blocks in chains.items()}
    check_prefixes({replica: [block_hash(block.header) for block in blocks] for replica, blocks in chains.items()},
                   report)
    check_roots(roots, stored, report)
    check_acks(acks, chains, report)
    return report


def audit_directory(directory: Path, replicas: Sequence[int] | None = None) -> AuditReport:
    """Audit the cluster in `directory`: its correct replicas (those not Byzantine in cluster.json) unless
    `replicas` are named, and the acks recorded there."""
    description = json.loads((directory / "cluster.json").read_text(encoding="utf-8"))
    genesis = from_json(Genesis, json.loads((directory / "genesis.json").read_text(encoding="utf-8")))
    byzantine = {int(replica) for replica in description.get("byzantine", {})}
    chosen = [replica for replica in range(int(description["replicas"])) if replica not in byzantine] \
        if replicas is None else list(replicas)
    databases = {replica: directory / f"data-{replica}" / DATABASE_NAME for replica in chosen}
    return audit_chains(genesis, databases, read_acks(directory))
