"""What the genesis fixes for the chain's whole life, checked once at start.

Written again from the rules in docs/ledger.md ("State"): the platforms (the
consensus group) with their keys, the agents with their hosts, the authority key.
A node refuses a genesis the spec refuses, with the same field named.
"""

from dataclasses import dataclass

from nacl.signing import VerifyKey

from spec.constants import MAX_REPUTATION_BP, MAX_SUPPLY, MAX_TIMESTAMP_MS
from spec.wire.types import Genesis


class GenesisError(ValueError):
    """The genesis document is well-formed but not a valid chain configuration."""


@dataclass(frozen=True)
class Chain:
    chain_id: str
    genesis_time_ms: int
    authority_key: VerifyKey
    platform_keys: dict[str, VerifyKey]
    """Platform name -> its Ed25519 key, parsed once (the spec parses the hex per check)."""
    agent_hosts: dict[str, str]
    """Agent id -> the platform that hosts its account."""
    genesis: Genesis


def chain_from_genesis(genesis: Genesis) -> Chain:
    """Check the genesis as the spec does, in the same order, and keep what it fixes."""
    if len(genesis.platforms) == 0:
        raise GenesisError("genesis.platforms: at least one platform is required")
    if genesis.genesis_time_ms > MAX_TIMESTAMP_MS:
        raise GenesisError(f"genesis.genesis_time_ms: above MAX_TIMESTAMP_MS ({MAX_TIMESTAMP_MS})")
    platform_keys: dict[str, VerifyKey] = {}
    for index, platform in enumerate(genesis.platforms):
        if platform.name in platform_keys:
            raise GenesisError(f"genesis.platforms.{index}.name: duplicate platform {platform.name!r}")
        if platform.reputation_bp > MAX_REPUTATION_BP:
            raise GenesisError(f"genesis.platforms.{index}.reputation_bp: above {MAX_REPUTATION_BP}")
        platform_keys[platform.name] = VerifyKey(bytes.fromhex(platform.public_key))
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
        authority_key=VerifyKey(bytes.fromhex(genesis.authority_public_key)),
        platform_keys=platform_keys,
        agent_hosts=agent_hosts,
        genesis=genesis,
    )
