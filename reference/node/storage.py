"""A node's durable state: one SQLite database in WAL mode (`node.sqlite3` in the data dir).

Tables:

* `blocks`: every committed block (canonical bytes) with its commit certificate and the
  certificate's signatures (in obligation order), so the node can answer BLOCK-REQUEST with a
  certificate any peer can verify;
* `checkpoints`: each stable checkpoint certificate with its signatures;
* `snapshots`: the ledger state (`spec.wire.json_form` of a `LedgerState`) at each checkpoint height
  the replica executed, and its state root; those below the stable checkpoint are deleted when it
  moves. (A restart replays the blocks, and the replayed root must equal the snapshot's.)
* `prepared`: the prepared certificates (with signatures) a VIEW-CHANGE must carry;
* `journal`: the VOTE JOURNAL. Every message the replica signs is written here, and the write
  committed, BEFORE the message is sent. One row per vote slot (`vote_key`): a restarted replica
  looks a vote up before it signs and never sends a different one for the same slot.

Durability (the node's `durability` setting, SQLite's `synchronous` pragma, WAL mode always):

* `full` (default): every commit fsyncs the WAL. A vote journalled has reached the disk before it
  is sent, so neither a killed process nor a power loss can make the replica sign a conflicting
  vote. Costs one fsync per step that sends a vote.
* `normal`: the WAL is fsynced only at SQLite checkpoints. A killed process (kill -9) loses
  nothing, as written pages are in the operating system's cache; a power loss or kernel crash may
  lose the last commits: the replica can come back without votes it sent, and may then equivocate
  (it counts as one of the f faulty replicas). Blocks lost are fetched again from peers.
* `off`: no fsync at all. Same as `normal` for a killed process; after a power loss the database
  may be corrupt as well as behind. For benchmarks and throwaway clusters only.
"""

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from spec.wire.decoding import decode_block
from spec.wire.json_form import from_json, to_json
from spec.wire.message_encoding import block_bytes
from spec.wire.messages import (
    Checkpoint,
    CheckpointCertificate,
    Commit,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from spec.wire.types import Block

DATABASE_NAME = "node.sqlite3"
SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, block BLOB NOT NULL, certificate TEXT NOT NULL, signatures TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    height INTEGER PRIMARY KEY, certificate TEXT NOT NULL, signatures TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    height INTEGER PRIMARY KEY, state_root TEXT NOT NULL, snapshot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prepared (
    height INTEGER PRIMARY KEY, certificate TEXT NOT NULL, signatures TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
    vote_key TEXT PRIMARY KEY, view INTEGER NOT NULL, height INTEGER NOT NULL, digest TEXT NOT NULL,
    envelope BLOB NOT NULL);
"""


@dataclass(frozen=True)
class JournalEntry:
    """A signed message as sent: its slot, the digest it voted for ("" if none) and its frame."""

    vote_key: str
    view: int
    height: int
    digest: str
    envelope: bytes


@dataclass(frozen=True)
class StoredBlock:
    block: Block
    certificate: CommitCertificate
    signatures: tuple[str, ...]


def vote_key(message: Message) -> tuple[str, int, int, str] | None:
    """The slot a signed message fills, its view, height and voted digest; None for messages that are
    no vote (BLOCK-REQUEST, BLOCK-RESPONSE), which may be sent any number of times.

    Two different messages for one slot from one replica are an equivocation."""
    if isinstance(message, (PrePrepare, Prepare, Commit)):
        kind = type(message).__name__
        return f"{kind}/{message.view}/{message.height}", message.view, message.height, message.digest
    if isinstance(message, Checkpoint):
        return f"Checkpoint/{message.height}", 0, message.height, message.state_root
    if isinstance(message, ViewChange):
        return f"ViewChange/{message.new_view}", message.new_view, 0, ""
    if isinstance(message, NewView):
        return f"NewView/{message.view}", message.view, 0, ""
    return None


class Storage:
    """The node's database. Writes are grouped: `begin`, several writes, `commit` (one fsync)."""

    def __init__(self, data_dir: Path, durability: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DATABASE_NAME
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(f"PRAGMA synchronous={SYNCHRONOUS[durability]}")
        self.connection.executescript(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    # --- writes (inside begin/commit) ------------------------------------------------------------------
    def put_block(self, block: Block, certificate: CommitCertificate, signatures: tuple[str, ...]) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?)",
            (block.header.height, block_bytes(block), json.dumps(to_json(certificate)), json.dumps(signatures)))

    def put_snapshot(self, height: int, state_root: str, snapshot: object) -> None:
        self.connection.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
                                (height, state_root, json.dumps(snapshot)))

    def put_checkpoint(self, certificate: CheckpointCertificate, signatures: tuple[str, ...]) -> None:
        """The new stable checkpoint; what it makes unnecessary is deleted (votes in the journal at or
        below it but view changes, prepared certificates and snapshots below it)."""
        self.connection.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
            (certificate.height, json.dumps(to_json(certificate)), json.dumps(signatures)))
        self.connection.execute("DELETE FROM snapshots WHERE height < ?", (certificate.height,))
        self.connection.execute("DELETE FROM prepared WHERE height <= ?", (certificate.height,))
        self.connection.execute(
            "DELETE FROM journal WHERE height <= ? AND vote_key NOT LIKE 'ViewChange/%' AND vote_key NOT LIKE "
            "'NewView/%'", (certificate.height,))

    def put_prepared(self, certificate: PreparedCertificate, signatures: tuple[str, ...]) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO prepared VALUES (?, ?, ?)",
            (certificate.pre_prepare.height, json.dumps(to_json(certificate)), json.dumps(signatures)))

    def put_journal(self, entry: JournalEntry) -> None:
        """Insert only: a slot's first vote is the one kept."""
        self.connection.execute(
            "INSERT OR IGNORE INTO journal VALUES (?, ?, ?, ?, ?)",
            (entry.vote_key, entry.view, entry.height, entry.digest, entry.envelope))

    # --- reads ------------------------------------------------------------------------------------
    def blocks(self, above: int = 0) -> Iterator[StoredBlock]:
        rows = self.connection.execute(
            "SELECT block, certificate, signatures FROM blocks WHERE height > ? ORDER BY height", (above,))
        for raw, certificate, signatures in rows:
            yield StoredBlock(decode_block(raw), from_json(CommitCertificate, json.loads(certificate)),
                              tuple(json.loads(signatures)))

    def block(self, height: int) -> StoredBlock | None:
        return next(iter(self.blocks_between(height, height)), None)

    def blocks_between(self, low: int, high: int) -> list[StoredBlock]:
        rows = self.connection.execute(
            "SELECT block, certificate, signatures FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height",
            (low, high)).fetchall()
        return [StoredBlock(decode_block(raw), from_json(CommitCertificate, json.loads(certificate)),
                            tuple(json.loads(signatures))) for raw, certificate, signatures in rows]

    def height(self) -> int:
        row = self.connection.execute("SELECT MAX(height) FROM blocks").fetchone()
        return int(row[0] or 0)

    def stable_checkpoint(self) -> tuple[CheckpointCertificate, tuple[str, ...]] | None:
        row = self.connection.execute(
            "SELECT certificate, signatures FROM checkpoints ORDER BY height DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return from_json(CheckpointCertificate, json.loads(row[0])), tuple(json.loads(row[1]))

    def snapshot(self, height: int) -> tuple[str, object] | None:
        """The state root and JSON-form ledger state at a checkpoint height, if kept."""
        row = self.connection.execute("SELECT state_root, snapshot FROM snapshots WHERE height = ?", (height,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def prepared_certificates(self) -> list[tuple[PreparedCertificate, tuple[str, ...]]]:
        rows = self.connection.execute("SELECT certificate, signatures FROM prepared ORDER BY height")
        return [(from_json(PreparedCertificate, json.loads(certificate)), tuple(json.loads(signatures)))
                for certificate, signatures in rows]

    def journal(self) -> list[JournalEntry]:
        rows = self.connection.execute("SELECT vote_key, view, height, digest, envelope FROM journal")
        return [JournalEntry(key, view, height, digest, bytes(envelope)) for key, view, height, digest, envelope in rows]
