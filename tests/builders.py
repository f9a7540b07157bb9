"""Builders for tests: a fixed genesis, signed transactions, and a ledger harness.

Every transaction is a real wire transaction, signed with Ed25519 over its
canonical signing message (keys from `spec.wire.signing.seed_from_text`); every block
header is made by `spec.ledger.make_header` unless a test overrides a field.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any

from spec.constants import UNITS_PER_ATP
from spec.invariants import Violation, check_step
from spec.ledger import apply_block, make_header
from spec.state import Chain, chain_from_genesis, state_from_genesis
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.state_root import state_root
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    BlockHeader,
    ExecutionProof,
    FederationTask,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    ReputationUpdate,
)

ATP = UNITS_PER_ATP
CHAIN_ID = "fedspec-test"
T0 = 1_700_000_000_000
"""Genesis time (ms)."""
STEP_MS = 1_000
"""Default spacing of block timestamps."""

AUTHORITY = "authority"
UNKNOWN_PLATFORM = "Mallory"
"""A platform name no genesis knows (it still has a key: seed("Mallory"))."""

THOR, SPROUT, LEGION = "Thor", "Sprout", "Legion"
PLATFORMS = (THOR, SPROUT, LEGION)
INITIAL_REPUTATION = 5_000

ALICE = "lct:web4:agent:alice"
DAVE = "lct:web4:agent:dave"
BOB = "lct:web4:agent:bob"
ERIN = "lct:web4:agent:erin"
CAROL = "lct:web4:agent:carol"
NOBODY = "lct:web4:agent:nobody"
"""An agent with no account."""

BALANCES: dict[str, tuple[str, int]] = {
    ALICE: (THOR, 1_000 * ATP),
    DAVE: (THOR, 1_000 * ATP),
    BOB: (SPROUT, 0),
    ERIN: (SPROUT, 0),
    CAROL: (LEGION, 500 * ATP),
}
HOSTS: dict[str, str] = {agent: host for agent, (host, _balance) in BALANCES.items()}

PLACEHOLDER = "00" * 64


def seed(name: str) -> bytes:
    return seed_from_text("fedspec tests " + name)


def make_genesis(
    platforms: tuple[str, ...] = PLATFORMS, balances: dict[str, tuple[str, int]] | None = None
) -> Genesis:
    balances = BALANCES if balances is None else balances
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=T0,
        authority_public_key=public_key_hex(seed(AUTHORITY)),
        platforms=tuple(
            GenesisPlatform(name=name, public_key=public_key_hex(seed(name)), reputation_bp=INITIAL_REPUTATION)
            for name in platforms
        ),
        accounts=tuple(
            GenesisAccount(agent=agent, platform=host, balance=balance) for agent, (host, balance) in balances.items()
        ),
    )


GENESIS = make_genesis()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def expected_reputation(current_bp: int, quality_bp: int) -> int:
    """The reputation rule restated: floor((current * 9000 + quality * 1000) / 10000)."""
    return (current_bp * 9_000 + quality_bp * 1_000) // 10_000


# --- signed transactions -----------------------------------------------------------------
def signed(tx: AnyTransaction, signer: str, chain_id: str = CHAIN_ID) -> AnyTransaction:
    return signed_copy(seed(signer), chain_id, tx)


def lock(
    transfer_id: str = "t1",
    source_agent: str = ALICE,
    dest_agent: str = BOB,
    amount: int = 100 * ATP,
    timeout_ms: int = 60_000,
    source_platform: str | None = None,
    dest_platform: str | None = None,
    signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> AtpTransferLock:
    source_platform = HOSTS.get(source_agent, THOR) if source_platform is None else source_platform
    dest_platform = HOSTS.get(dest_agent, SPROUT) if dest_platform is None else dest_platform
    tx = AtpTransferLock(
        transfer_id=transfer_id, source_platform=source_platform, source_agent=source_agent,
        dest_platform=dest_platform, dest_agent=dest_agent, amount=amount, timeout_ms=timeout_ms,
        signature=PLACEHOLDER,
    )
    result = signed(tx, source_platform if signer is None else signer, chain_id)
    assert isinstance(result, AtpTransferLock)
    return result


def commit(
    transfer_id: str = "t1", platform: str = THOR, signer: str | None = None, chain_id: str = CHAIN_ID
) -> AtpTransferCommit:
    tx = AtpTransferCommit(transfer_id=transfer_id, platform=platform, signature=PLACEHOLDER)
    result = signed(tx, platform if signer is None else signer, chain_id)
    assert isinstance(result, AtpTransferCommit)
    return result


def rollback(
    transfer_id: str = "t1", platform: str = THOR, signer: str | None = None, chain_id: str = CHAIN_ID
) -> AtpTransferRollback:
    tx = AtpTransferRollback(transfer_id=transfer_id, platform=platform, signature=PLACEHOLDER)
    result = signed(tx, platform if signer is None else signer, chain_id)
    assert isinstance(result, AtpTransferRollback)
    return result


def balance_set(
    set_id: str = "s1", agent: str = ALICE, balance: int = 2_000 * ATP, signer: str = AUTHORITY,
    chain_id: str = CHAIN_ID,
) -> BalanceSet:
    tx = BalanceSet(set_id=set_id, agent=agent, balance=balance, signature=PLACEHOLDER)
    result = signed(tx, signer, chain_id)
    assert isinstance(result, BalanceSet)
    return result


def task(
    task_id: str = "task-A",
    delegating_agent: str = ALICE,
    executing_agent: str = BOB,
    cost: int = 300 * ATP,
    quality_threshold_bp: int = 7_000,
    timeout_ms: int = 60_000,
    task_data_hash: str | None = None,
    delegating_platform: str | None = None,
    executing_platform: str | None = None,
    signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> FederationTask:
    delegating_platform = HOSTS.get(delegating_agent, THOR) if delegating_platform is None else delegating_platform
    executing_platform = HOSTS.get(executing_agent, SPROUT) if executing_platform is None else executing_platform
    tx = FederationTask(
        task_id=task_id, delegating_platform=delegating_platform, delegating_agent=delegating_agent,
        executing_platform=executing_platform, executing_agent=executing_agent, cost=cost,
        quality_threshold_bp=quality_threshold_bp, timeout_ms=timeout_ms,
        task_data_hash=digest("data " + task_id) if task_data_hash is None else task_data_hash,
        signature=PLACEHOLDER,
    )
    result = signed(tx, delegating_platform if signer is None else signer, chain_id)
    assert isinstance(result, FederationTask)
    return result


def lock_for(t: FederationTask, **overrides: Any) -> AtpTransferLock:
    """The ATP_TRANSFER_LOCK that pays for task `t` (fields overridable)."""
    fields: dict[str, Any] = {
        "transfer_id": t.task_id, "source_agent": t.delegating_agent, "dest_agent": t.executing_agent,
        "amount": t.cost, "timeout_ms": t.timeout_ms, "source_platform": t.delegating_platform,
        "dest_platform": t.executing_platform,
    }
    fields.update(overrides)
    return lock(**fields)


def pair(**task_fields: Any) -> tuple[FederationTask, AtpTransferLock]:
    """A FEDERATION_TASK and its matching lock."""
    t = task(**task_fields)
    return t, lock_for(t)


def proof(
    task_id: str = "task-A",
    executing_agent: str = BOB,
    quality_bp: int = 8_500,
    execution_time_ms: int = 1_000,
    result_hash: str | None = None,
    executing_platform: str | None = None,
    signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> ExecutionProof:
    executing_platform = HOSTS.get(executing_agent, SPROUT) if executing_platform is None else executing_platform
    tx = ExecutionProof(
        task_id=task_id, executing_platform=executing_platform, executing_agent=executing_agent,
        quality_bp=quality_bp, execution_time_ms=execution_time_ms,
        result_hash=digest("result " + task_id) if result_hash is None else result_hash, signature=PLACEHOLDER,
    )
    result = signed(tx, executing_platform if signer is None else signer, chain_id)
    assert isinstance(result, ExecutionProof)
    return result


def reputation(
    update_id: str = "r1",
    task_id: str = "task-A",
    platform: str = SPROUT,
    quality_bp: int = 8_500,
    reputation_bp: int | None = None,
    reporter_platform: str = LEGION,
    signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> ReputationUpdate:
    if reputation_bp is None:
        reputation_bp = expected_reputation(INITIAL_REPUTATION, quality_bp)
    tx = ReputationUpdate(
        update_id=update_id, task_id=task_id, platform=platform, quality_bp=quality_bp,
        reputation_bp=reputation_bp, reporter_platform=reporter_platform, signature=PLACEHOLDER,
    )
    result = signed(tx, reporter_platform if signer is None else signer, chain_id)
    assert isinstance(result, ReputationUpdate)
    return result


# --- the harness ------------------------------------------------------------------------------
@dataclass
class Step:
    pre: LedgerState
    block: Block
    receipt: BlockReceipt
    post: LedgerState


@dataclass
class Ledger:
    """A chain under test: applies blocks with the real `apply_block` and keeps every step."""

    genesis: Genesis = GENESIS
    chain: Chain = field(init=False)
    state: LedgerState = field(init=False)
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chain = chain_from_genesis(self.genesis)
        self.state = state_from_genesis(self.genesis)

    def make_block(
        self, txs: tuple[AnyTransaction, ...], ts: int | None = None, proposer: str = THOR, **header: Any
    ) -> Block:
        """The next block on the current state; `header` overrides header fields."""
        timestamp = self.state.last_timestamp_ms + STEP_MS if ts is None else ts
        made = make_header(self.state, timestamp, proposer, txs)
        if header:
            made = BlockHeader(**{**made.model_dump(), **header})
        return Block(header=made, transactions=txs)

    def apply(self, block: Block) -> BlockReceipt:
        pre = self.state
        post, receipt = apply_block(self.chain, pre, block)
        self.steps.append(Step(pre, block, receipt, post))
        self.state = post
        return receipt

    def block(self, *txs: AnyTransaction, ts: int | None = None, proposer: str = THOR, **header: Any) -> BlockReceipt:
        return self.apply(self.make_block(tuple(txs), ts, proposer, **header))

    def ok(self, *txs: AnyTransaction, ts: int | None = None) -> BlockReceipt:
        """Apply a block whose every transaction must apply (setup steps)."""
        receipt = self.block(*txs, ts=ts)
        assert receipt.accepted, receipt
        codes = [r.code.value for r in receipt.transactions]
        assert codes == ["ok"] * len(txs), codes
        return receipt

    @property
    def last(self) -> Step:
        return self.steps[-1]

    def violations(self) -> list[Violation]:
        found: list[Violation] = []
        for step in self.steps:
            found += check_step(self.chain, step.pre, step.block, step.receipt, step.post)
        return found

    def root(self) -> str:
        return state_root(self.state)


def replay_blocks(genesis: Genesis, blocks: list[Block]) -> tuple[list[BlockReceipt], list[Violation]]:
    """Apply `blocks` from genesis with whatever `spec.ledger` currently is; check every step."""
    chain = chain_from_genesis(genesis)
    state = state_from_genesis(genesis)
    receipts: list[BlockReceipt] = []
    violations: list[Violation] = []
    for block in blocks:
        post, receipt = apply_block(chain, state, block)
        violations += check_step(chain, state, block, receipt, post)
        receipts.append(receipt)
        state = post
    return receipts, violations
