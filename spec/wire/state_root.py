"""The state root: what replicas compare at checkpoints.

Built on the primitives of `spec.wire.encoding`.
"""

from spec.wire.encoding import domain_tag, encode_hash, encode_str, encode_u8, encode_u32, encode_u64, sha256
from spec.wire.records import LedgerState

TRANSFER_STATUS_CODES: dict[str, int] = {"LOCKED": 1, "COMMITTED": 2, "ROLLED_BACK": 3, "EXPIRED": 4}
TASK_STATUS_CODES: dict[str, int] = {"PENDING": 1, "COMPLETED": 2, "FAILED": 3, "EXPIRED": 4}
SETTLEMENT_CAUSE_CODES: dict[str, int] = {"COMMIT": 1, "ROLLBACK": 2, "PROOF": 3, "EXPIRY": 4}


def encode_optional_u64(value: int | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_u64(value)


def encode_optional_str(value: str | None) -> bytes:
    if value is None:
        return encode_u8(0)
    return encode_u8(1) + encode_str(value)


def encode_id_set(ids: set[str]) -> bytes:
    out = encode_u32(len(ids))
    for item in sorted(ids):
        out += encode_str(item)
    return out


def state_bytes(state: LedgerState) -> bytes:
    """The canonical bytes of a ledger state. Every collection is sorted by key
    (ASCII byte order) and prefixed by its u32 count; enums are u8 codes; an
    optional value is a u8 presence flag (0 or 1) followed by the value."""
    out = domain_tag("STATE")
    out += encode_u64(state.height) + encode_hash(state.last_block_hash) + encode_u64(state.last_timestamp_ms)

    out += encode_u32(len(state.accounts))
    for agent in sorted(state.accounts):
        account = state.accounts[agent]
        out += encode_str(agent) + encode_str(account.platform)
        out += encode_u64(account.total) + encode_u64(account.locked)

    out += encode_u32(len(state.transfers))
    for transfer_id in sorted(state.transfers):
        t = state.transfers[transfer_id]
        out += encode_str(t.transfer_id)
        out += encode_str(t.source_agent) + encode_str(t.source_platform)
        out += encode_str(t.dest_agent) + encode_str(t.dest_platform)
        out += encode_u64(t.amount) + encode_u64(t.timeout_ms)
        out += encode_u64(t.created_at_ms) + encode_u64(t.expires_at_ms)
        out += encode_u8(TRANSFER_STATUS_CODES[t.status.value])
        out += encode_u8(1 if t.task_linked else 0)
        out += encode_u8(0 if t.settled_by is None else SETTLEMENT_CAUSE_CODES[t.settled_by.value])

    out += encode_u32(len(state.tasks))
    for task_id in sorted(state.tasks):
        k = state.tasks[task_id]
        out += encode_str(k.task_id)
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

    out += encode_u32(len(state.balance_sets))
    for set_id in sorted(state.balance_sets):
        b = state.balance_sets[set_id]
        out += encode_str(b.set_id) + encode_str(b.agent) + encode_u64(b.balance)

    out += encode_u32(len(state.reputation_updates))
    for update_id in sorted(state.reputation_updates):
        r = state.reputation_updates[update_id]
        out += encode_str(r.update_id) + encode_str(r.task_id) + encode_str(r.platform)
        out += encode_u64(r.quality_bp) + encode_u64(r.reputation_bp) + encode_str(r.reporter_platform)

    out += encode_u32(len(state.reputations))
    for platform in sorted(state.reputations):
        out += encode_str(platform) + encode_u64(state.reputations[platform])

    out += encode_id_set(state.failed_transfer_ids)
    out += encode_id_set(state.failed_set_ids)
    out += encode_id_set(state.failed_update_ids)
    return out


def state_root(state: LedgerState) -> str:
    """SHA-256 of the canonical state bytes: what replicas compare.

    Raises OverflowError for a state no correct ledger reaches (a negative or
    over-wide integer), which has no canonical bytes."""
    return sha256(state_bytes(state)).hex()


UNENCODABLE_ROOT = "unencodable"
"""Shown instead of a root for a state that has no canonical bytes."""


def displayed_state_root(state: LedgerState) -> str:
    """The state root, or UNENCODABLE_ROOT for a state a broken ledger made."""
    try:
        return state_root(state)
    except OverflowError:
        return UNENCODABLE_ROOT


