"""Wire types: the transactions, blocks and genesis document, exactly as they travel.

Every model is frozen, forbids unknown fields and uses strict types, so a value is
either exactly well-formed or rejected by the parser with a precise error. The
parser checks *shape* (types, lengths, character sets, the uint64 range); the
ledger checks *bounds and meaning* (zero amounts, maxima, authority) and names
each failure with a result code, see `spec.codes`.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from spec.constants import (
    AGENT_PATTERN,
    CHAIN_ID_PATTERN,
    HASH_PATTERN,
    ID_PATTERN,
    INITIAL_REPUTATION_BP,
    MAX_UINT64,
    PLATFORM_PATTERN,
    PUBLIC_KEY_PATTERN,
    SIGNATURE_PATTERN,
)

# --- scalar wire types ----------------------------------------------------------
UInt64 = Annotated[int, Field(strict=True, ge=0, le=MAX_UINT64)]
"""An unsigned 64-bit integer. Never a float, never a string of digits."""

Id = Annotated[str, Field(strict=True, pattern=ID_PATTERN)]
PlatformName = Annotated[str, Field(strict=True, pattern=PLATFORM_PATTERN)]
AgentId = Annotated[str, Field(strict=True, pattern=AGENT_PATTERN)]
ChainId = Annotated[str, Field(strict=True, pattern=CHAIN_ID_PATTERN)]
Hash32 = Annotated[str, Field(strict=True, pattern=HASH_PATTERN)]
PublicKeyHex = Annotated[str, Field(strict=True, pattern=PUBLIC_KEY_PATTERN)]
SignatureHex = Annotated[str, Field(strict=True, pattern=SIGNATURE_PATTERN)]


class WireModel(BaseModel):
    """Base of every wire type: immutable, strict, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


# --- transactions -----------------------------------------------------------------
class AtpTransferLock(WireModel):
    """Phase one of a transfer: reserve `amount` of the source account's available ATP.

    Signed by `source_platform`, the platform that hosts `source_agent`. The lock
    expires `timeout_ms` after the timestamp of the block that includes it."""

    type: Literal["ATP_TRANSFER_LOCK"] = "ATP_TRANSFER_LOCK"
    transfer_id: Id
    source_platform: PlatformName
    source_agent: AgentId
    dest_platform: PlatformName
    dest_agent: AgentId
    amount: UInt64
    timeout_ms: UInt64
    signature: SignatureHex


class AtpTransferCommit(WireModel):
    """Phase two, success: move the whole locked amount to the destination.

    Signed by `platform`, which must be the transfer's source platform."""

    type: Literal["ATP_TRANSFER_COMMIT"] = "ATP_TRANSFER_COMMIT"
    transfer_id: Id
    platform: PlatformName
    signature: SignatureHex


class AtpTransferRollback(WireModel):
    """Phase two, failure: release the lock; no ATP moves.

    Signed by `platform`, which must be the transfer's source platform."""

    type: Literal["ATP_TRANSFER_ROLLBACK"] = "ATP_TRANSFER_ROLLBACK"
    transfer_id: Id
    platform: PlatformName
    signature: SignatureHex


class BalanceSet(WireModel):
    """Set an account's total to `balance` units. Signed by the genesis authority key."""

    type: Literal["BALANCE_SET"] = "BALANCE_SET"
    set_id: Id
    agent: AgentId
    balance: UInt64
    signature: SignatureHex


class FederationTask(WireModel):
    """Delegate a task and pay for it on quality.

    Signed by `delegating_platform`. It must be followed, in the same block, by its
    ATP_TRANSFER_LOCK (transfer_id = task_id, same agents, amount = cost, same
    timeout); the two apply together or not at all. The task's deadline is the
    including block's timestamp plus `timeout_ms`. The task payload itself travels
    off-chain; `task_data_hash` is its SHA-256."""

    type: Literal["FEDERATION_TASK"] = "FEDERATION_TASK"
    task_id: Id
    delegating_platform: PlatformName
    delegating_agent: AgentId
    executing_platform: PlatformName
    executing_agent: AgentId
    cost: UInt64
    quality_threshold_bp: UInt64
    timeout_ms: UInt64
    task_data_hash: Hash32
    signature: SignatureHex


class ExecutionProof(WireModel):
    """The executing platform's claim of completion with a quality score.

    Signed by `executing_platform`. Settles the task: quality >= threshold commits
    the payment, quality < threshold rolls it back."""

    type: Literal["EXECUTION_PROOF"] = "EXECUTION_PROOF"
    task_id: Id
    executing_platform: PlatformName
    executing_agent: AgentId
    quality_bp: UInt64
    execution_time_ms: UInt64
    result_hash: Hash32
    signature: SignatureHex


class ReputationUpdate(WireModel):
    """Record a settled task's effect on the executing platform's reputation.

    Signed by `reporter_platform`, any platform of the consensus group. It names
    the task, the platform rated, the quality credited and the platform's new
    reputation; the ledger recomputes all of them and rejects any disagreement."""

    type: Literal["REPUTATION_UPDATE"] = "REPUTATION_UPDATE"
    update_id: Id
    task_id: Id
    platform: PlatformName
    quality_bp: UInt64
    reputation_bp: UInt64
    reporter_platform: PlatformName
    signature: SignatureHex


AnyTransaction = (
    AtpTransferLock
    | AtpTransferCommit
    | AtpTransferRollback
    | BalanceSet
    | FederationTask
    | ExecutionProof
    | ReputationUpdate
)
"""Any transaction (the plain union, for type annotations)."""

Transaction = Annotated[AnyTransaction, Field(discriminator="type")]
"""Any transaction, told apart by its `type` field when parsed."""

TRANSACTION_TYPES: tuple[type[WireModel], ...] = (
    AtpTransferLock,
    AtpTransferCommit,
    AtpTransferRollback,
    BalanceSet,
    FederationTask,
    ExecutionProof,
    ReputationUpdate,
)


# --- blocks -------------------------------------------------------------------------
class BlockHeader(WireModel):
    """What consensus agrees on. `timestamp_ms` is consensus time: the only clock."""

    height: UInt64
    previous_hash: Hash32
    timestamp_ms: UInt64
    proposer: PlatformName
    transaction_root: Hash32


class Block(WireModel):
    header: BlockHeader
    transactions: tuple[Transaction, ...]


# --- genesis ------------------------------------------------------------------------
class GenesisPlatform(WireModel):
    """A consensus replica: its name, its Ed25519 public key, its starting reputation."""

    name: PlatformName
    public_key: PublicKeyHex
    reputation_bp: UInt64 = INITIAL_REPUTATION_BP


class GenesisAccount(WireModel):
    """An agent's account, hosted by one platform, with its starting total."""

    agent: AgentId
    platform: PlatformName
    balance: UInt64


class Genesis(WireModel):
    """The chain's fixed configuration. Accounts are opened here and only here."""

    chain_id: ChainId
    genesis_time_ms: UInt64
    authority_public_key: PublicKeyHex
    platforms: tuple[GenesisPlatform, ...]
    accounts: tuple[GenesisAccount, ...]
