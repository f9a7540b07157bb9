"""Scenarios: a genesis plus blocks, written by hand, replayed against the ledger.

A scenario names keys by text seeds and transactions by their fields only; the
loader derives the keys, fills in block headers, signs every transaction with
its authorized key (or the key named by ``signed_by``) and hands back real wire
types. ``expect`` fields state what the replay must produce.

Text seeds make keys anyone can recompute: scenarios are for specification and
testing, never for real keys.
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from spec.codes import ResultCode
from spec.constants import INITIAL_REPUTATION_BP
from spec.invariants import Violation, check_step
from spec.ledger import apply_block, make_header
from spec.state import Chain, GenesisError, chain_from_genesis, state_from_genesis
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.state_root import displayed_state_root
from spec.wire.types import (
    TRANSACTION_TYPES,
    AnyTransaction,
    Block,
    BlockHeader,
    ChainId,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    Hash32,
    PlatformName,
    Transaction,
    UInt64,
)

AUTHORITY = "authority"
"""The `signed_by` value that signs with the genesis authority key."""

PLACEHOLDER_SIGNATURE = "00" * 64

DEFAULT_SIGNER_FIELD: dict[str, str] = {
    "ATP_TRANSFER_LOCK": "source_platform",
    "ATP_TRANSFER_COMMIT": "platform",
    "ATP_TRANSFER_ROLLBACK": "platform",
    "FEDERATION_TASK": "delegating_platform",
    "EXECUTION_PROOF": "executing_platform",
    "REPUTATION_UPDATE": "reporter_platform",
}
"""Which field names the signing platform; BALANCE_SET is signed by the authority."""

HASH_FIELDS_WITH_DEFAULTS = ("task_data_hash", "result_hash")
"""Hash fields a scenario may omit: they default to SHA-256 of the task id."""


class ScenarioError(ValueError):
    """The scenario cannot be read: the message says where and why."""


class ScenarioModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ScenarioPlatform(ScenarioModel):
    name: PlatformName
    key_seed: str = Field(min_length=1, max_length=256)
    reputation_bp: UInt64 = INITIAL_REPUTATION_BP


class ScenarioGenesis(ScenarioModel):
    chain_id: ChainId
    genesis_time_ms: UInt64
    authority_key_seed: str = Field(min_length=1, max_length=256)
    platforms: tuple[ScenarioPlatform, ...]
    accounts: tuple[GenesisAccount, ...]


def scenario_transaction_model(wire: type[BaseModel]) -> type[BaseModel]:
    """The scenario form of a wire type: no signature, optional signer and expectation."""
    fields: dict[str, Any] = {}
    for name, info in wire.model_fields.items():
        if name == "signature":
            continue
        if name in HASH_FIELDS_WITH_DEFAULTS:
            fields[name] = (Hash32 | None, None)
        else:
            fields[name] = (info.annotation, info)
    fields["signed_by"] = (PlatformName | None, None)
    fields["expect"] = (ResultCode | None, None)
    model: type[BaseModel] = create_model(
        "Scenario" + wire.__name__, __base__=ScenarioModel, **fields
    )
    return model


SCENARIO_TRANSACTION_MODELS: tuple[type[BaseModel], ...] = tuple(
    scenario_transaction_model(wire) for wire in TRANSACTION_TYPES
)


def scenario_transaction_union() -> Any:
    """Any scenario transaction, told apart by its `type` field."""
    union: Any = SCENARIO_TRANSACTION_MODELS[0]
    for model in SCENARIO_TRANSACTION_MODELS[1:]:
        union = union | model
    return Annotated[union, Field(discriminator="type")]


class ScenarioBlock(ScenarioModel):
    timestamp_ms: UInt64
    proposer: PlatformName | None = None
    transactions: tuple[scenario_transaction_union(), ...] = ()  # type: ignore[valid-type]
    height: UInt64 | None = None
    """Override the computed height (to exercise block_height_mismatch)."""
    previous_hash: Hash32 | None = None
    """Override the computed previous hash."""
    transaction_root: Hash32 | None = None
    """Override the computed transaction root."""
    expect: ResultCode | None = None
    """The block's expected code (ok, or the block code that rejects it)."""


class ExpectedAccount(ScenarioModel):
    total: UInt64 | None = None
    locked: UInt64 | None = None
    available: UInt64 | None = None


class ScenarioExpectation(ScenarioModel):
    accounts: dict[str, ExpectedAccount] = {}
    transfers: dict[str, Literal["LOCKED", "COMMITTED", "ROLLED_BACK", "EXPIRED"]] = {}
    tasks: dict[str, Literal["PENDING", "COMPLETED", "FAILED", "EXPIRED"]] = {}
    reputations: dict[str, UInt64] = {}


class Scenario(ScenarioModel):
    """A replayable scenario file."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    genesis: ScenarioGenesis
    blocks: tuple[ScenarioBlock, ...]
    expect: ScenarioExpectation = ScenarioExpectation()


# --- loading -------------------------------------------------------------------------------
def error_location(parts: tuple[int | str, ...]) -> str:
    """Where in a scenario an error is, as the replay numbers things: blocks from 1
    (`block 2`), transactions by their index in the block's receipt (`transaction 0`);
    the rest as a dotted path."""
    place = []
    if len(parts) >= 2 and parts[0] == "blocks" and isinstance(parts[1], int):
        place.append(f"block {parts[1] + 1}")
        parts = parts[2:]
        if len(parts) >= 2 and parts[0] == "transactions" and isinstance(parts[1], int):
            place.append(f"transaction {parts[1]}")
            parts = parts[2:]
    rest = ".".join(str(part) for part in parts)
    if not place:
        return rest or "(top level)"
    return " ".join(place) + (f": {rest}" if rest else "")


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        lines.append(f"{error_location(tuple(item['loc']))}: {item['msg']}")
    return "; ".join(lines)


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object in which a key appears twice is ambiguous: refuse it."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ScenarioError(f"not JSON this format accepts: duplicate key {key!r}")
        result[key] = value
    return result


def parse_scenario(text: str) -> Scenario:
    try:
        json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise ScenarioError("not JSON this format accepts: nested too deeply") from None
    try:
        # JSON mode: strict types, with JSON arrays accepted for tuples.
        return Scenario.model_validate_json(text)
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error)) from None


def genesis_of(spec_genesis: ScenarioGenesis) -> tuple[Genesis, dict[str, bytes], bytes]:
    """The wire genesis, the platforms' seeds and the authority seed."""
    seeds: dict[str, bytes] = {}
    platforms = []
    for index, platform in enumerate(spec_genesis.platforms):
        if platform.name == AUTHORITY:
            raise ScenarioError(f"genesis.platforms.{index}.name: {AUTHORITY!r} is reserved for the authority key")
        seed = seed_from_text(platform.key_seed)
        seeds[platform.name] = seed
        platforms.append(GenesisPlatform(
            name=platform.name, public_key=public_key_hex(seed), reputation_bp=platform.reputation_bp
        ))
    authority_seed = seed_from_text(spec_genesis.authority_key_seed)
    genesis = Genesis(
        chain_id=spec_genesis.chain_id,
        genesis_time_ms=spec_genesis.genesis_time_ms,
        authority_public_key=public_key_hex(authority_seed),
        platforms=tuple(platforms),
        accounts=spec_genesis.accounts,
    )
    return genesis, seeds, authority_seed


def default_hash(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("ascii")).hexdigest()


TRANSACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Transaction)


def signed_transaction(
    raw: BaseModel, chain_id: str, seeds: dict[str, bytes], authority_seed: bytes
) -> AnyTransaction:
    """Turn a scenario transaction into a signed wire transaction."""
    data = raw.model_dump(exclude={"expect"})
    signer = data.pop("signed_by")
    for name in HASH_FIELDS_WITH_DEFAULTS:
        if name in data and data[name] is None:
            data[name] = default_hash(data["task_id"])
    data["signature"] = PLACEHOLDER_SIGNATURE
    unsigned = TRANSACTION_ADAPTER.validate_python(data)
    if signer is None:
        tx_type = data["type"]
        signer = AUTHORITY if tx_type == "BALANCE_SET" else data[DEFAULT_SIGNER_FIELD[tx_type]]
    if signer == AUTHORITY:
        seed = authority_seed
    elif signer in seeds:
        seed = seeds[signer]
    else:
        # An unknown platform has no key; sign with one no genesis knows.
        seed = seed_from_text("fedspec/unknown-platform/" + signer)
    return signed_copy(seed, chain_id, unsigned)


# --- replay --------------------------------------------------------------------------------------
@dataclass
class BlockOutcome:
    block: Block
    receipt: BlockReceipt
    state_root: str
    violations: list[Violation]


@dataclass
class ReplayResult:
    scenario: Scenario
    chain: Chain
    final: LedgerState
    blocks: list[BlockOutcome] = field(default_factory=list)
    expectation_failures: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[tuple[int, Violation]]:
        found = []
        for number, outcome in enumerate(self.blocks, start=1):
            for violation in outcome.violations:
                found.append((number, violation))
        return found

    @property
    def ok(self) -> bool:
        return not self.violations and not self.expectation_failures


def build_block(
    spec_block: ScenarioBlock,
    state: LedgerState,
    genesis: Genesis,
    seeds: dict[str, bytes],
    authority_seed: bytes,
) -> Block:
    txs = []
    for raw in spec_block.transactions:
        txs.append(signed_transaction(raw, genesis.chain_id, seeds, authority_seed))
    transactions = tuple(txs)
    proposer = spec_block.proposer if spec_block.proposer is not None else genesis.platforms[0].name
    header = make_header(state, spec_block.timestamp_ms, proposer, transactions)
    overrides: dict[str, Any] = {}
    if spec_block.height is not None:
        overrides["height"] = spec_block.height
    if spec_block.previous_hash is not None:
        overrides["previous_hash"] = spec_block.previous_hash
    if spec_block.transaction_root is not None:
        overrides["transaction_root"] = spec_block.transaction_root
    if overrides:
        header = BlockHeader(**{**header.model_dump(), **overrides})
    return Block(header=header, transactions=transactions)


def check_block_expectations(number: int, spec_block: ScenarioBlock, receipt: BlockReceipt) -> list[str]:
    failures = []
    if spec_block.expect is not None and receipt.code != spec_block.expect:
        failures.append(f"block {number}: expected {spec_block.expect.value}, got {receipt.code.value}")
    for index, raw in enumerate(spec_block.transactions):
        expected = raw.expect
        if expected is None:
            continue
        if receipt.accepted:
            actual = receipt.transactions[index].code
        elif receipt.invalid_index == index and receipt.invalid_code is not None:
            actual = receipt.invalid_code
        else:
            continue
        if actual != expected:
            failures.append(f"block {number} transaction {index}: expected {expected.value}, got {actual.value}")
    return failures


def check_final_expectations(expect: ScenarioExpectation, state: LedgerState) -> list[str]:
    failures = []
    for agent, wanted in expect.accounts.items():
        account = state.accounts.get(agent)
        if account is None:
            failures.append(f"final: no account {agent}")
            continue
        for name in ("total", "locked", "available"):
            value = getattr(wanted, name)
            if value is not None and getattr(account, name) != value:
                failures.append(f"final: {agent} {name} is {getattr(account, name)}, expected {value}")
    for transfer_id, wanted_status in expect.transfers.items():
        transfer = state.transfers.get(transfer_id)
        actual = "absent" if transfer is None else transfer.status.value
        if actual != wanted_status:
            failures.append(f"final: transfer {transfer_id} is {actual}, expected {wanted_status}")
    for task_id, wanted_task in expect.tasks.items():
        task = state.tasks.get(task_id)
        actual = "absent" if task is None else task.status.value
        if actual != wanted_task:
            failures.append(f"final: task {task_id} is {actual}, expected {wanted_task}")
    for platform, wanted_bp in expect.reputations.items():
        actual_bp = state.reputations.get(platform)
        if actual_bp != wanted_bp:
            failures.append(f"final: reputation of {platform} is {actual_bp}, expected {wanted_bp}")
    return failures


def replay(scenario: Scenario) -> ReplayResult:
    """Apply every block, checking every invariant after every block."""
    genesis, seeds, authority_seed = genesis_of(scenario.genesis)
    try:
        chain = chain_from_genesis(genesis)
    except GenesisError as error:
        raise ScenarioError(str(error)) from None
    state = state_from_genesis(genesis)
    result = ReplayResult(scenario=scenario, chain=chain, final=state)
    for number, spec_block in enumerate(scenario.blocks, start=1):
        block = build_block(spec_block, state, genesis, seeds, authority_seed)
        post, receipt = apply_block(chain, state, block)
        violations = check_step(chain, state, block, receipt, post)
        result.blocks.append(BlockOutcome(block, receipt, displayed_state_root(post), violations))
        result.expectation_failures += check_block_expectations(number, spec_block, receipt)
        state = post
    result.final = state
    result.expectation_failures += check_final_expectations(scenario.expect, state)
    return result


def load_and_replay(text: str) -> ReplayResult:
    return replay(parse_scenario(text))
