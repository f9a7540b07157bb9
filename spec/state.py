"""Ledger state: the chain's fixed configuration, derived from the genesis.

The records a state holds are in `spec.wire.records`. The ledger's step functions
never change a state they are given: they copy it (`copy_state`) and change the
copy, so every block application is a pure function.
"""

from dataclasses import dataclass

from spec.constants import MAX_REPUTATION_BP, MAX_SUPPLY, MAX_TIMESTAMP_MS, ZERO_HASH
from spec.wire.records import Account, LedgerState
from spec.wire.types import Genesis


class GenesisError(ValueError):
    """The genesis document is well-formed JSON but not a valid chain configuration."""


@dataclass(frozen=True)
class Chain:
    """What the genesis fixes for the chain's whole life."""

    chain_id: str
    genesis_time_ms: int
    authority_public_key: str
    platform_keys: dict[str, str]
    """Platform name -> Ed25519 public key (hex). These platforms are the consensus group."""
    agent_hosts: dict[str, str]
    """Agent id -> the platform that hosts its account."""



def copy_state(state: LedgerState) -> LedgerState:
    """A copy whose dictionaries can be changed without touching `state`.

    Records are immutable, so copying the containers is enough."""
    return LedgerState(
        height=state.height,
        last_block_hash=state.last_block_hash,
        last_timestamp_ms=state.last_timestamp_ms,
        accounts=dict(state.accounts),
        transfers=dict(state.transfers),
        tasks=dict(state.tasks),
        balance_sets=dict(state.balance_sets),
        reputation_updates=dict(state.reputation_updates),
        reputations=dict(state.reputations),
        failed_transfer_ids=set(state.failed_transfer_ids),
        failed_set_ids=set(state.failed_set_ids),
        failed_update_ids=set(state.failed_update_ids),
    )


def total_supply(state: LedgerState) -> int:
    supply = 0
    for account in state.accounts.values():
        supply += account.total
    return supply


def chain_from_genesis(genesis: Genesis) -> Chain:
    """Check the genesis document and derive the chain configuration from it."""
    if len(genesis.platforms) == 0:
        raise GenesisError("genesis.platforms: at least one platform is required")
    if genesis.genesis_time_ms > MAX_TIMESTAMP_MS:
        raise GenesisError(f"genesis.genesis_time_ms: above MAX_TIMESTAMP_MS ({MAX_TIMESTAMP_MS})")
    platform_keys: dict[str, str] = {}
    for index, platform in enumerate(genesis.platforms):
        if platform.name in platform_keys:
            raise GenesisError(f"genesis.platforms.{index}.name: duplicate platform {platform.name!r}")
        if platform.reputation_bp > MAX_REPUTATION_BP:
            raise GenesisError(f"genesis.platforms.{index}.reputation_bp: above {MAX_REPUTATION_BP}")
        platform_keys[platform.name] = platform.public_key
    agent_hosts: dict[str, str] = {}
    supply = 0
    for index, account in enumerate(genesis.accounts):
        if account.agent in agent_hosts:
            raise GenesisError(f"genesis.accounts.{index}.agent: duplicate account {account.agent!r}")
        if account.platform not in platform_keys:
            raise GenesisError(f"genesis.accounts.{index}.platform: unknown platform {account.platform!r}")
        agent_hosts[account.agent] = account.platform
        supply += account.balance
    if supply > MAX_SUPPLY:
        raise GenesisError(f"genesis.accounts: total balance {supply} is above MAX_SUPPLY ({MAX_SUPPLY})")
    return Chain(
        chain_id=genesis.chain_id,
        genesis_time_ms=genesis.genesis_time_ms,
        authority_public_key=genesis.authority_public_key,
        platform_keys=platform_keys,
        agent_hosts=agent_hosts,
    )


def state_from_genesis(genesis: Genesis) -> LedgerState:
    """The ledger state before the first block (height 0)."""
    chain_from_genesis(genesis)
    accounts: dict[str, Account] = {}
    for account in genesis.accounts:
        accounts[account.agent] = Account(account.agent, account.platform, account.balance, 0)
    reputations: dict[str, int] = {}
    for platform in genesis.platforms:
        reputations[platform.name] = platform.reputation_bp
    return LedgerState(
        height=0,
        last_block_hash=ZERO_HASH,
        last_timestamp_ms=genesis.genesis_time_ms,
        accounts=accounts,
        transfers={},
        tasks={},
        balance_sets={},
        reputation_updates={},
        reputations=reputations,
    )
