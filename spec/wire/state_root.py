"""The state root: what replicas compare at checkpoints.

Every record of the ledger state is a leaf of a sparse Merkle tree, at the
256-bit path SHA-256 of its kind and id. The tree is compact (as Diem's Jellyfish
tree): a subtree holding one leaf is that leaf, so a path is only as deep as it
takes to tell its leaf from its neighbours. The state root hashes the chain's
position (height, last block hash and timestamp) with the root of that tree.

The spec builds the tree from scratch, plainly. An implementation keeps the tree
and, when a block changes a record, rehashes that record's leaf and the nodes on
its path only (`docs/encoding.md`, "State root"). Built on the primitives of
`spec.wire.encoding`.
"""

from spec.wire.encoding import domain_tag, encode_hash, encode_str, encode_u8, encode_u64, sha256
from spec.wire.records import Account, BalanceSetRecord, LedgerState, ReputationRecord, Task, Transfer

RECORD_KIND_CODES: dict[str, int] = {
    # kind: the u8 code in its key. One code per collection of LedgerState, so the
    # same id in two collections (a task and its lock) is two leaves.
    "ACCOUNT": 1,
    "TRANSFER": 2,
    "TASK": 3,
    "BALANCE_SET": 4,
    "REPUTATION_UPDATE": 5,
    "REPUTATION": 6,
    "FAILED_TRANSFER_ID": 7,
    "FAILED_SET_ID": 8,
    "FAILED_UPDATE_ID": 9,
}
TRANSFER_STATUS_CODES: dict[str, int] = {"LOCKED": 1, "COMMITTED": 2, "ROLLED_BACK": 3, "EXPIRED": 4}
TASK_STATUS_CODES: dict[str, int] = {"PENDING": 1, "COMPLETED": 2, "FAILED": 3, "EXPIRED": 4}
SETTLEMENT_CAUSE_CODES: dict[str, int] = {"COMMIT": 1, "ROLLBACK": 2, "PROOF": 3, "EXPIRY": 4}

EMPTY_ROOT = bytes(32)
"""The root of a subtree that holds no leaf: 32 zero bytes, which no known input
hashes to, so it passes for no leaf and no node."""

KEY_BITS = 256
"""A record key is a SHA-256 output: a path of 256 bits from the root of the tree."""


class RecordKeyCollision(ValueError):
    """Two records of one state share a key. Keys are distinct for distinct (kind,
    id), so only a SHA-256 collision could make this: the state has no root."""


# --- the value bytes of each kind of record -------------------------------------------------------
def encode_optional_u64(value: int | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_u64(value)


def encode_optional_str(value: str | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_str(value)


def account_bytes(account: Account) -> bytes:
    return encode_str(account.agent) + encode_str(account.platform) + encode_u64(account.total) + encode_u64(account.locked)


def transfer_bytes(t: Transfer) -> bytes:
    """Enums are u8 codes; no settlement yet is code 0."""
    out = encode_str(t.transfer_id)
    out += encode_str(t.source_agent) + encode_str(t.source_platform)
    out += encode_str(t.dest_agent) + encode_str(t.dest_platform)
    out += encode_u64(t.amount) + encode_u64(t.timeout_ms)
    out += encode_u64(t.created_at_ms) + encode_u64(t.expires_at_ms)
    out += encode_u8(TRANSFER_STATUS_CODES[t.status.value])
    out += encode_u8(1 if t.task_linked else 0)
    out += encode_u8(0 if t.settled_by is None else SETTLEMENT_CAUSE_CODES[t.settled_by.value])
    return out


def task_bytes(k: Task) -> bytes:
    """An optional value is a u8 presence flag (0 or 1), then the value if present."""
    out = encode_str(k.task_id)
    out += encode_str(k.delegating_platform) + encode_str(k.delegating_agent)
    out += encode_str(k.executing_platform) + encode_str(k.executing_agent)
    out += encode_u64(k.cost) + encode_u64(k.quality_threshold_bp) + encode_u64(k.timeout_ms)
    out += encode_hash(k.task_data_hash)
    out += encode_u64(k.created_at_ms) + encode_u64(k.deadline_ms)
    out += encode_u8(TASK_STATUS_CODES[k.status.value])
    if k.proof is None:
        out += encode_u8(0)
    else:
        p = k.proof
        out += encode_u8(1) + encode_str(p.executing_agent) + encode_u64(p.quality_bp)
        out += encode_u64(p.execution_time_ms) + encode_hash(p.result_hash) + encode_u64(p.landed_at_ms)
    out += encode_optional_u64(k.settled_quality_bp)
    out += encode_optional_str(k.reputation_update_id)
    return out


def balance_set_bytes(b: BalanceSetRecord) -> bytes:
    return encode_str(b.set_id) + encode_str(b.agent) + encode_u64(b.balance)


def reputation_update_bytes(r: ReputationRecord) -> bytes:
    out = encode_str(r.update_id) + encode_str(r.task_id) + encode_str(r.platform)
    out += encode_u64(r.quality_bp) + encode_u64(r.reputation_bp) + encode_str(r.reporter_platform)
    return out


def reputation_bytes(platform: str, reputation_bp: int) -> bytes:
    return encode_str(platform) + encode_u64(reputation_bp)


def state_records(state: LedgerState) -> list[tuple[str, str, bytes]]:
    """Every record of the state as (kind, id, value bytes). A failed id is a
    record whose value is empty: its presence is what counts."""
    records: list[tuple[str, str, bytes]] = []
    for agent, account in state.accounts.items():
        records.append(("ACCOUNT", agent, account_bytes(account)))
    for transfer_id, transfer in state.transfers.items():
        records.append(("TRANSFER", transfer_id, transfer_bytes(transfer)))
    for task_id, task in state.tasks.items():
        records.append(("TASK", task_id, task_bytes(task)))
    for set_id, balance_set in state.balance_sets.items():
        records.append(("BALANCE_SET", set_id, balance_set_bytes(balance_set)))
    for update_id, update in state.reputation_updates.items():
        records.append(("REPUTATION_UPDATE", update_id, reputation_update_bytes(update)))
    for platform, reputation_bp in state.reputations.items():
        records.append(("REPUTATION", platform, reputation_bytes(platform, reputation_bp)))
    for transfer_id in state.failed_transfer_ids:
        records.append(("FAILED_TRANSFER_ID", transfer_id, b""))
    for set_id in state.failed_set_ids:
        records.append(("FAILED_SET_ID", set_id, b""))
    for update_id in state.failed_update_ids:
        records.append(("FAILED_UPDATE_ID", update_id, b""))
    return records


# --- leaves, nodes and the root -------------------------------------------------------------------
def record_key(kind: str, record_id: str) -> bytes:
    """The record's path in the tree: SHA-256(tag STATE_KEY || u8 kind code || str id)."""
    return sha256(domain_tag("STATE_KEY") + encode_u8(RECORD_KIND_CODES[kind]) + encode_str(record_id))


def leaf_hash(key: bytes, value: bytes) -> bytes:
    """SHA-256(tag STATE_LEAF || key || SHA-256(value bytes))."""
    return sha256(domain_tag("STATE_LEAF") + key + sha256(value))


def node_hash(zero_side: bytes, one_side: bytes) -> bytes:
    """SHA-256(tag STATE_NODE || root of the 0 side || root of the 1 side)."""
    return sha256(domain_tag("STATE_NODE") + zero_side + one_side)


def state_leaves(state: LedgerState) -> list[tuple[bytes, bytes]]:
    """Every record of the state as (key, leaf hash)."""
    leaves: list[tuple[bytes, bytes]] = []
    for kind, record_id, value in state_records(state):
        key = record_key(kind, record_id)
        leaves.append((key, leaf_hash(key, value)))
    return leaves


def key_bit(key: bytes, depth: int) -> int:
    """Bit `depth` of the key's path: bit 0 is the most significant bit of byte 0."""
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def subtree_root(leaves: list[tuple[bytes, bytes]], depth: int) -> bytes:
    """The root of the leaves whose keys share their first `depth` bits: EMPTY_ROOT
    for none, the leaf hash for one, else the node over the two halves split at bit
    `depth`. Keys are distinct (one per kind and id), so two leaves part before
    KEY_BITS bits."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0][1]
    if depth == KEY_BITS:
        raise RecordKeyCollision(f"{len(leaves)} records share the key {leaves[0][0].hex()}")
    zero_side: list[tuple[bytes, bytes]] = []
    one_side: list[tuple[bytes, bytes]] = []
    for key, leaf in leaves:
        if key_bit(key, depth) == 0:
            zero_side.append((key, leaf))
        else:
            one_side.append((key, leaf))
    return node_hash(subtree_root(zero_side, depth + 1), subtree_root(one_side, depth + 1))


def records_root(state: LedgerState) -> bytes:
    """The root of the tree of every record of the state."""
    return subtree_root(state_leaves(state), 0)


def state_root(state: LedgerState) -> str:
    """SHA-256(tag STATE || u64 height || hash last_block_hash || u64 last_timestamp_ms
    || records root): what replicas compare.

    Raises OverflowError for a state no correct ledger reaches (a negative or
    over-wide integer), which has no canonical bytes."""
    position = encode_u64(state.height) + encode_hash(state.last_block_hash) + encode_u64(state.last_timestamp_ms)
    return sha256(domain_tag("STATE") + position + records_root(state)).hex()


UNENCODABLE_ROOT = "unencodable"
"""Shown instead of a root for a state that has no canonical bytes."""


def displayed_state_root(state: LedgerState) -> str:
    """The state root, or UNENCODABLE_ROOT for a state a broken ledger made."""
    try:
        return state_root(state)
    except OverflowError:
        return UNENCODABLE_ROOT
