"""The node's SQLite storage: WAL mode with the durability setting applied; the vote journal keeps a
slot's first vote; blocks and certificates read back as written."""

from pathlib import Path

import pytest

from reference.node.storage import JournalEntry, Storage, vote_key
from spec.constants import ZERO_HASH
from spec.wire.encoding import block_hash, transaction_root
from spec.wire.messages import BlockRequest, Checkpoint, CommitCertificate, Prepare, ViewChange
from spec.wire.types import Block, BlockHeader

SYNCHRONOUS_LEVELS = {"off": 0, "normal": 1, "full": 2}
"""SQLite's numbers for PRAGMA synchronous."""


@pytest.mark.parametrize("durability", ["full", "normal", "off"])
def test_durability_sets_wal_and_synchronous(durability: str, tmp_path: Path) -> None:
    storage = Storage(tmp_path, durability)
    try:
        assert storage.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert storage.connection.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_LEVELS[durability]
    finally:
        storage.close()


def test_journal_keeps_the_first_vote_of_a_slot(tmp_path: Path) -> None:
    storage = Storage(tmp_path, "full")
    try:
        first = JournalEntry("Prepare/0/1", 0, 1, "aa" * 32, b"first")
        storage.begin()
        storage.put_journal(first)
        storage.put_journal(JournalEntry("Prepare/0/1", 0, 1, "bb" * 32, b"second"))
        storage.put_journal(JournalEntry("Prepare/0/2", 0, 2, "cc" * 32, b"other slot"))  # control
        storage.commit()
        kept = {entry.vote_key: entry for entry in storage.journal()}
        assert kept["Prepare/0/1"] == first and kept["Prepare/0/2"].envelope == b"other slot"
    finally:
        storage.close()
    reopened = Storage(tmp_path, "full")  # it is on disk, not only in this connection
    try:
        assert {entry.vote_key for entry in reopened.journal()} == {"Prepare/0/1", "Prepare/0/2"}
    finally:
        reopened.close()


def test_vote_keys_name_slots_and_skip_non_votes() -> None:
    assert vote_key(Prepare(3, 7, "aa" * 32, 1)) == ("Prepare/3/7", 3, 7, "aa" * 32)
    assert vote_key(Checkpoint(8, "bb" * 32, 1))[0] == "Checkpoint/8"  # type: ignore[index]
    assert vote_key(ViewChange(4, None, (), 1))[0] == "ViewChange/4"  # type: ignore[arg-type,index]
    assert vote_key(BlockRequest(5, 1)) is None


def test_blocks_read_back_with_certificates(tmp_path: Path) -> None:
    header = BlockHeader(height=1, previous_hash=ZERO_HASH, timestamp_ms=1, proposer="p",
                         transaction_root=transaction_root(()))
    block = Block(header=header, transactions=())
    certificate = CommitCertificate(0, 1, block_hash(header), frozenset({0, 1, 2}))
    storage = Storage(tmp_path, "normal")
    try:
        storage.begin()
        storage.put_block(block, certificate, ("11" * 64, "22" * 64, "33" * 64))
        storage.commit()
        stored = storage.block(1)
        assert stored is not None and stored.block == block and stored.certificate == certificate
        assert stored.signatures == ("11" * 64, "22" * 64, "33" * 64) and storage.height() == 1
        assert storage.block(2) is None
    finally:
        storage.close()
