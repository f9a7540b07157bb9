"""Builders for tests: a fixed genesis, signed transactions, and a ledger harness.

The genesis and the transaction builders are the conformance suite's
(`conformance.ledger_builders`): every transaction a real wire transaction, signed
with Ed25519 over its canonical signing message, every block header made by
`spec.ledger.make_header` unless a test overrides a field. What is the tests' own: a
genesis of other platforms or balances, the reputation rule restated (so that a
broken `spec.ledger.next_reputation` cannot make its own expected values), and the
harness that applies blocks and keeps every step.
"""

from dataclasses import dataclass, field
from typing import Any

from conformance.ledger_builders import (
    ALICE,
    ATP,
    AUTHORITY,
    BALANCES,
    BOB,
    CAROL,
    CHAIN_ID,
    DAVE,
    ERIN,
    HOSTS,
    LEGION,
    NOBODY,
    PLATFORMS,
    SPROUT,
    STEP_MS,
    THOR,
    UNKNOWN_PLATFORM,
    balance_set,
    commit,
    digest,
    lock,
    lock_for,
    pair,
    proof,
    rollback,
    seed,
    signed,
    task,
)
from conformance.ledger_builders import GENESIS_TIME_MS as T0
from conformance.ledger_builders import PLACEHOLDER_SIGNATURE as PLACEHOLDER
from spec.constants import INITIAL_REPUTATION_BP as INITIAL_REPUTATION
from spec.invariants import Violation, check_step
from spec.ledger import apply_block, make_header
from spec.state import Chain, chain_from_genesis, state_from_genesis
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex
from spec.wire.state_root import state_root
from spec.wire.types import (
    AnyTransaction,
    Block,
    BlockHeader,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    ReputationUpdate,
)

__all__ = [
    "ALICE", "ATP", "AUTHORITY", "BALANCES", "BOB", "CAROL", "CHAIN_ID", "DAVE", "ERIN", "HOSTS", "LEGION", "NOBODY",
    "PLACEHOLDER", "PLATFORMS", "SPROUT", "STEP_MS", "T0", "THOR", "UNKNOWN_PLATFORM", "balance_set", "commit",
    "digest", "lock", "lock_for", "pair", "proof", "rollback", "seed", "signed", "task",
]


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


def expected_reputation(current_bp: int, quality_bp: int) -> int:
    """The reputation rule restated: floor((current * 9000 + quality * 1000) / 10000)."""
    return (current_bp * 9_000 + quality_bp * 1_000) // 10_000


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
