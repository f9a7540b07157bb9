"""Builders of the ledger runner's cases: one fixed genesis, real signed transactions,
and a history of blocks applied by the spec.

Every transaction is a wire transaction signed with Ed25519 over its canonical
signing message; keys come from fixed seed texts (`spec.wire.signing.seed_from_text`),
and Ed25519 signatures are deterministic, so every case is the same bytes on every
run. Every header is made by `spec.ledger.make_header` on the history's state, unless
a case overrides a field to break it.
"""

import hashlib
from typing import Any

from conformance.cases import Case
from conformance.runners.ledger import ledger_case
from spec.constants import INITIAL_REPUTATION_BP, UNITS_PER_ATP
from spec.ledger import apply_block, make_header, next_reputation
from spec.state import Chain, chain_from_genesis, state_from_genesis
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    ExecutionProof,
    FederationTask,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    ReputationUpdate,
)

ATP = UNITS_PER_ATP
CHAIN_ID = "fedspec-conformance"
GENESIS_TIME_MS = 1_700_000_000_000
STEP_MS = 1_000
"""Default spacing of block timestamps, in ms."""

AUTHORITY = "authority"
THOR, SPROUT, LEGION = "Thor", "Sprout", "Legion"
PLATFORMS = (THOR, SPROUT, LEGION)
UNKNOWN_PLATFORM = "Mallory"
"""A platform no genesis names (it has a key all the same: a seed from its name)."""

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
"""Agent -> (host platform, genesis balance in units). Two agents per platform on Thor
and Sprout, so an agent can be swapped for another on the same platform."""
HOSTS: dict[str, str] = {agent: host for agent, (host, _balance) in BALANCES.items()}
GENESIS_SUPPLY = sum(balance for _host, balance in BALANCES.values())

PLACEHOLDER_SIGNATURE = "00" * 64
"""The signature field of a transaction before it is signed."""


def seed(name: str) -> bytes:
    """The Ed25519 seed of a platform or of the authority."""
    return seed_from_text("fedspec conformance " + name)


def make_genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        authority_public_key=public_key_hex(seed(AUTHORITY)),
        platforms=tuple(
            GenesisPlatform(name=name, public_key=public_key_hex(seed(name)), reputation_bp=INITIAL_REPUTATION_BP)
            for name in PLATFORMS
        ),
        accounts=tuple(
            GenesisAccount(agent=agent, platform=host, balance=balance) for agent, (host, balance) in BALANCES.items()
        ),
    )


GENESIS = make_genesis()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# --- signed transactions ------------------------------------------------------------------------
def signed(tx: AnyTransaction, signer: str, chain_id: str = CHAIN_ID) -> Any:
    return signed_copy(seed(signer), chain_id, tx)


def lock(
    transfer_id: str = "t1", source_agent: str = ALICE, dest_agent: str = BOB, amount: int = 100 * ATP,
    timeout_ms: int = 60_000, source_platform: str | None = None, dest_platform: str | None = None,
    signer: str | None = None, chain_id: str = CHAIN_ID,
) -> AtpTransferLock:
    """A lock signed by its source platform (each platform defaults to its agent's host)."""
    source_platform = HOSTS.get(source_agent, THOR) if source_platform is None else source_platform
    dest_platform = HOSTS.get(dest_agent, SPROUT) if dest_platform is None else dest_platform
    tx = AtpTransferLock(
        transfer_id=transfer_id, source_platform=source_platform, source_agent=source_agent,
        dest_platform=dest_platform, dest_agent=dest_agent, amount=amount, timeout_ms=timeout_ms,
        signature=PLACEHOLDER_SIGNATURE,
    )
    result: AtpTransferLock = signed(tx, source_platform if signer is None else signer, chain_id)
    return result


def commit(
    transfer_id: str = "t1", platform: str = THOR, signer: str | None = None, chain_id: str = CHAIN_ID
) -> AtpTransferCommit:
    tx = AtpTransferCommit(transfer_id=transfer_id, platform=platform, signature=PLACEHOLDER_SIGNATURE)
    result: AtpTransferCommit = signed(tx, platform if signer is None else signer, chain_id)
    return result


def rollback(
    transfer_id: str = "t1", platform: str = THOR, signer: str | None = None, chain_id: str = CHAIN_ID
) -> AtpTransferRollback:
    tx = AtpTransferRollback(transfer_id=transfer_id, platform=platform, signature=PLACEHOLDER_SIGNATURE)
    result: AtpTransferRollback = signed(tx, platform if signer is None else signer, chain_id)
    return result


def balance_set(
    set_id: str = "s1", agent: str = ALICE, balance: int = 2_000 * ATP, signer: str = AUTHORITY,
    chain_id: str = CHAIN_ID,
) -> BalanceSet:
    tx = BalanceSet(set_id=set_id, agent=agent, balance=balance, signature=PLACEHOLDER_SIGNATURE)
    result: BalanceSet = signed(tx, signer, chain_id)
    return result


def task(
    task_id: str = "task-A", delegating_agent: str = ALICE, executing_agent: str = BOB, cost: int = 300 * ATP,
    quality_threshold_bp: int = 7_000, timeout_ms: int = 60_000, task_data_hash: str | None = None,
    delegating_platform: str | None = None, executing_platform: str | None = None, signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> FederationTask:
    """A task signed by its delegating platform (each platform defaults to its agent's host)."""
    delegating_platform = HOSTS.get(delegating_agent, THOR) if delegating_platform is None else delegating_platform
    executing_platform = HOSTS.get(executing_agent, SPROUT) if executing_platform is None else executing_platform
    tx = FederationTask(
        task_id=task_id, delegating_platform=delegating_platform, delegating_agent=delegating_agent,
        executing_platform=executing_platform, executing_agent=executing_agent, cost=cost,
        quality_threshold_bp=quality_threshold_bp, timeout_ms=timeout_ms,
        task_data_hash=digest("data " + task_id) if task_data_hash is None else task_data_hash,
        signature=PLACEHOLDER_SIGNATURE,
    )
    result: FederationTask = signed(tx, delegating_platform if signer is None else signer, chain_id)
    return result


def lock_for(paid: FederationTask, **overrides: Any) -> AtpTransferLock:
    """The lock that pays for task `paid`: its id, agents, platforms, cost and timeout
    (any field overridable, to break the pairing)."""
    fields: dict[str, Any] = {
        "transfer_id": paid.task_id, "source_agent": paid.delegating_agent, "dest_agent": paid.executing_agent,
        "amount": paid.cost, "timeout_ms": paid.timeout_ms, "source_platform": paid.delegating_platform,
        "dest_platform": paid.executing_platform,
    }
    fields.update(overrides)
    return lock(**fields)


def pair(**task_fields: Any) -> tuple[FederationTask, AtpTransferLock]:
    """A FEDERATION_TASK and the lock that pays for it."""
    made = task(**task_fields)
    return made, lock_for(made)


def proof(
    task_id: str = "task-A", executing_agent: str = BOB, quality_bp: int = 8_500, execution_time_ms: int = 1_000,
    result_hash: str | None = None, executing_platform: str | None = None, signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> ExecutionProof:
    executing_platform = HOSTS.get(executing_agent, SPROUT) if executing_platform is None else executing_platform
    tx = ExecutionProof(
        task_id=task_id, executing_platform=executing_platform, executing_agent=executing_agent,
        quality_bp=quality_bp, execution_time_ms=execution_time_ms,
        result_hash=digest("result " + task_id) if result_hash is None else result_hash,
        signature=PLACEHOLDER_SIGNATURE,
    )
    result: ExecutionProof = signed(tx, executing_platform if signer is None else signer, chain_id)
    return result


def reputation(
    update_id: str = "r1", task_id: str = "task-A", platform: str = SPROUT, quality_bp: int = 8_500,
    reputation_bp: int | None = None, reporter_platform: str = LEGION, signer: str | None = None,
    chain_id: str = CHAIN_ID,
) -> ReputationUpdate:
    """A reputation update; its new reputation defaults to the rule applied to the
    genesis reputation (right for a platform's first update)."""
    if reputation_bp is None:
        reputation_bp = next_reputation(INITIAL_REPUTATION_BP, quality_bp)
    tx = ReputationUpdate(
        update_id=update_id, task_id=task_id, platform=platform, quality_bp=quality_bp, reputation_bp=reputation_bp,
        reporter_platform=reporter_platform, signature=PLACEHOLDER_SIGNATURE,
    )
    result: ReputationUpdate = signed(tx, reporter_platform if signer is None else signer, chain_id)
    return result


# --- histories ---------------------------------------------------------------------------------------
class History:
    """The blocks from genesis to a case's pre-state, applied by the spec as they are added.

    `case` adds the block under test and makes the case: the genesis, every block, and
    the spec's answers for them (`conformance.runners.ledger.ledger_case`)."""

    def __init__(self, genesis: Genesis = GENESIS) -> None:
        self.genesis = genesis
        self.chain: Chain = chain_from_genesis(genesis)
        self.state: LedgerState = state_from_genesis(genesis)
        self.blocks: list[Block] = []
        self.receipts: list[BlockReceipt] = []

    @property
    def now(self) -> int:
        """The timestamp of the last block (the genesis time before the first)."""
        return self.state.last_timestamp_ms

    def make_block(
        self, txs: tuple[AnyTransaction, ...], ts: int | None = None, proposer: str = THOR, **header: Any
    ) -> Block:
        """The next block on the current state; `header` overrides header fields."""
        timestamp = self.now + STEP_MS if ts is None else ts
        made = make_header(self.state, timestamp, proposer, txs)
        if header:
            made = made.model_copy(update=header)
        return Block(header=made, transactions=txs)

    def add(self, block: Block) -> BlockReceipt:
        self.state, receipt = apply_block(self.chain, self.state, block)
        self.blocks.append(block)
        self.receipts.append(receipt)
        return receipt

    def block(self, *txs: AnyTransaction, ts: int | None = None, proposer: str = THOR, **header: Any) -> "History":
        """Add a block (whatever its receipt): a step towards the pre-state."""
        self.add(self.make_block(tuple(txs), ts, proposer, **header))
        return self

    def ok(self, *txs: AnyTransaction, ts: int | None = None) -> "History":
        """Add a block whose every transaction must apply: a setup step that must not fail."""
        receipt = self.add(self.make_block(tuple(txs), ts))
        codes = [tx_receipt.code.value for tx_receipt in receipt.transactions]
        if receipt.code.value != "ok" or codes != ["ok"] * len(txs):
            raise ValueError(f"a setup block did not apply: {receipt.code.value} {codes}")
        return self

    def case(
        self, handler: str, name: str, description: str, *txs: AnyTransaction, ts: int | None = None,
        proposer: str = THOR, **header: Any,
    ) -> Case:
        """The case whose block under test carries `txs` on this history."""
        return self.case_of_block(handler, name, description, self.make_block(tuple(txs), ts, proposer, **header))

    def case_of_block(self, handler: str, name: str, description: str, block: Block) -> Case:
        return ledger_case(handler, name, description, self.genesis, [*self.blocks, block])


# --- the pre-states most cases start from --------------------------------------------------------------
def fresh() -> History:
    """The genesis state: no block yet."""
    return History()


def with_lock(amount: int = 100 * ATP, **fields: Any) -> History:
    """An open plain transfer t1: Alice (Thor) to Bob (Sprout), 100 ATP, 60 s."""
    return History().ok(lock(amount=amount, **fields))


def with_committed_lock() -> History:
    return with_lock().ok(commit())


def with_rolled_back_lock() -> History:
    return with_lock().ok(rollback())


def with_expired_lock() -> History:
    """t1 with a 1 s timeout, expired by an empty block 2 s later."""
    history = with_lock(timeout_ms=1_000)
    return history.block(ts=history.now + 2_000)


def with_failed_lock() -> History:
    """t1 failed on funds (5,000 ATP asked of Alice's 1,000): its id is failed."""
    return History().block(lock(amount=5_000 * ATP))


def with_task(**fields: Any) -> History:
    """A pending task-A: Alice (Thor) delegates to Bob (Sprout), 300 ATP, threshold 7000, 60 s."""
    return History().ok(*pair(**fields))


def with_settled_task(quality_bp: int = 8_500) -> History:
    """task-A settled by Bob's proof of quality `quality_bp` (8500 pays)."""
    return with_task().ok(proof(quality_bp=quality_bp))


def with_reputation_update() -> History:
    """task-A settled at 8500 and reported by update r1 (Legion reporting on Sprout)."""
    return with_settled_task().ok(reputation())


def with_expired_task() -> History:
    """task-A with a 1 s timeout, expired by an empty block 1.001 s later."""
    history = with_task(timeout_ms=1_000)
    return history.block(ts=history.now + 1_001)


def with_balance_set() -> History:
    """Balance set s1 applied: Alice's total is 2,000 ATP."""
    return History().ok(balance_set())
