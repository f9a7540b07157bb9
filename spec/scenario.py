"""Scenarios: a genesis plus blocks, written by hand, replayed against the ledger.

A scenario names keys by text seeds and transactions by their fields only; the
loader derives the keys, fills in block headers, signs every transaction with
its authorized key (or the key named by ``signed_by``, or takes the raw
``signature`` it is given) and hands back real wire types. ``expect`` fields state
what the replay must produce: per transaction, per block, after a block and at the
end. A lock written right after its task may leave out what the task fixes; amounts
may be written in ATP as exact decimal strings ("0.5 ATP"); the genesis may live in
a file of its own (``genesis_file``).

Text seeds make keys anyone can recompute: scenarios are for specification and
testing, never for real keys.
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)

from spec.codes import ResultCode
from spec.constants import INITIAL_REPUTATION_BP, MAX_UINT64, UNITS_PER_ATP
from spec.invariants import Violation, check_step
from spec.ledger import apply_block, make_header
from spec.state import Chain, GenesisError, chain_from_genesis, state_from_genesis
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.state_root import displayed_state_root
from spec.wire.types import (
    TRANSACTION_TYPES,
    AgentId,
    AnyTransaction,
    Block,
    BlockHeader,
    ChainId,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
    Hash32,
    PlatformName,
    SignatureHex,
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

AMOUNT_FIELDS = ("amount", "cost", "balance")
"""Transaction fields that hold ATP: a scenario may write them in units or as "N ATP"."""

LOCK_FIELDS_FROM_TASK: dict[str, str] = {
    "transfer_id": "task_id",
    "source_platform": "delegating_platform",
    "source_agent": "delegating_agent",
    "dest_platform": "executing_platform",
    "dest_agent": "executing_agent",
    "amount": "cost",
    "timeout_ms": "timeout_ms",
}
"""What a FEDERATION_TASK fixes in the ATP_TRANSFER_LOCK that must follow it (see
`spec.ledger.lock_matches_task`): lock field -> task field. A lock written right after
its task may leave any of these out; the loader copies them from the task."""

BLOCK_CODES_THAT_CHECK_ONE_TRANSACTION = (ResultCode.BLOCK_TRANSACTION_INVALID,)
"""The block codes under which one transaction's `expect` can still be checked (the
failing one, against its static code). Under any other rejection none can."""


class ScenarioError(ValueError):
    """The scenario cannot be read: the message says where and why."""


# --- exact ATP amounts ---------------------------------------------------------------------------
ATP_DECIMAL_PLACES = len(str(UNITS_PER_ATP)) - 1
"""Places after the decimal point that one unit takes: 1 unit = 0.000001 ATP."""
assert 10**ATP_DECIMAL_PLACES == UNITS_PER_ATP, "an ATP must be a power of ten units"

ATP_TEXT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))? ATP")
ATP_TEXT_PATTERN = rf"^(0|[1-9][0-9]*)(\.[0-9]{{1,{ATP_DECIMAL_PLACES}}})? ATP$"
"""The schema's form of an ATP string, places included (the loader says which rule failed)."""


def units_of_atp_text(value: object) -> object:
    """An amount written "300 ATP" or "0.5 ATP" as its exact number of units. Anything
    that is not a string is left to the integer check (which refuses floats): an
    amount is never rounded, so a decimal finer than one unit is an error."""
    if not isinstance(value, str):
        return value
    match = ATP_TEXT.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not an amount: write units as a JSON integer, or ATP as a string such as \"300 ATP\" or \"0.5 ATP\""
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > ATP_DECIMAL_PLACES:
        raise ValueError(
            f"{value!r} is finer than one unit: an ATP amount has at most {ATP_DECIMAL_PLACES} decimal places"
        )
    return int(whole) * UNITS_PER_ATP + int(fraction.ljust(ATP_DECIMAL_PLACES, "0"))


AtpAmount = Annotated[
    UInt64,
    BeforeValidator(units_of_atp_text),
    WithJsonSchema({
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": MAX_UINT64, "description": "units"},
            {"type": "string", "pattern": ATP_TEXT_PATTERN, "description": f"exact ATP, at most {ATP_DECIMAL_PLACES} decimal places"},
        ]
    }),
]
"""An ATP amount: integer units, or an exact decimal string of ATP ("300 ATP")."""


# --- the format ----------------------------------------------------------------------------------
class ScenarioModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ScenarioPlatform(ScenarioModel):
    name: PlatformName
    key_seed: str = Field(min_length=1, max_length=256)
    reputation_bp: UInt64 = INITIAL_REPUTATION_BP


class ScenarioAccount(ScenarioModel):
    agent: AgentId
    platform: PlatformName
    balance: AtpAmount


class ScenarioGenesis(ScenarioModel):
    chain_id: ChainId
    genesis_time_ms: UInt64
    authority_key_seed: str = Field(min_length=1, max_length=256)
    platforms: tuple[ScenarioPlatform, ...]
    accounts: tuple[ScenarioAccount, ...]


def scenario_field(wire: type[BaseModel], name: str, info: Any) -> tuple[Any, Any]:
    """A wire field's scenario form: what may be left out defaults to None."""
    if name in HASH_FIELDS_WITH_DEFAULTS:
        return (Hash32 | None, None)
    derivable = wire.__name__ == "AtpTransferLock" and name in LOCK_FIELDS_FROM_TASK
    annotation = AtpAmount if name in AMOUNT_FIELDS else info.annotation
    if derivable:
        return (annotation | None, None)
    if name in AMOUNT_FIELDS:
        return (annotation, ...)
    return (info.annotation, info)


def scenario_transaction_model(wire: type[BaseModel]) -> type[BaseModel]:
    """The scenario form of a wire type: signature optional, plus optional signer and expectation."""
    fields: dict[str, Any] = {}
    for name, info in wire.model_fields.items():
        if name != "signature":
            fields[name] = scenario_field(wire, name, info)
    fields["signed_by"] = (PlatformName | None, None)
    fields["signature"] = (SignatureHex | None, None)
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


TransferStatusOrAbsent = Literal["LOCKED", "COMMITTED", "ROLLED_BACK", "EXPIRED", "ABSENT"]
TaskStatusOrAbsent = Literal["PENDING", "COMPLETED", "FAILED", "EXPIRED", "ABSENT"]
ABSENT = "ABSENT"
"""The status that asserts a transfer or task does not exist."""


class ExpectedAccount(ScenarioModel):
    total: AtpAmount | None = None
    locked: AtpAmount | None = None
    available: AtpAmount | None = None


class ScenarioExpectation(ScenarioModel):
    accounts: dict[str, ExpectedAccount] = {}
    transfers: dict[str, TransferStatusOrAbsent] = {}
    tasks: dict[str, TaskStatusOrAbsent] = {}
    reputations: dict[str, UInt64] = {}


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
    expect_after: ScenarioExpectation | None = None
    """The state expected right after this block, checked like the final `expect`."""


class Scenario(ScenarioModel):
    """A scenario with its genesis in hand: what `replay` takes."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    genesis: ScenarioGenesis
    blocks: tuple[ScenarioBlock, ...]
    expect: ScenarioExpectation = ScenarioExpectation()


class ScenarioFile(ScenarioModel):
    """A replayable scenario file: its genesis written in it, or named by `genesis_file`."""

    model_config = ConfigDict(
        title="Scenario", json_schema_extra={"oneOf": [{"required": ["genesis"]}, {"required": ["genesis_file"]}]}
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    genesis: ScenarioGenesis | None = None
    genesis_file: str | None = Field(default=None, min_length=1, max_length=1000)
    """A file holding the genesis, relative to this file's directory: a genesis object,
    or another scenario file whose genesis is used."""
    blocks: tuple[ScenarioBlock, ...]
    expect: ScenarioExpectation = ScenarioExpectation()

    @model_validator(mode="after")
    def one_genesis(self) -> "ScenarioFile":
        if (self.genesis is None) == (self.genesis_file is None):
            raise ValueError("give exactly one of genesis and genesis_file")
        return self


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


def parsed_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise ScenarioError("not JSON this format accepts: nested too deeply") from None


def parse_scenario(text: str, source: Path | None = None) -> Scenario:
    """Read a scenario file's text. `source` is the file it came from: its `genesis_file`
    is resolved against the file's directory; without a source it is an error."""
    if source is None:
        return parse_scenario_file(text, None, ())
    return parse_scenario_file(text, source.parent, (source.resolve(),))


def load_scenario(path: Path) -> Scenario:
    """Read the scenario file at `path`."""
    return parse_scenario(read_referenced_text(path, shown_path(path)), path)


def parse_scenario_file(text: str, base_directory: Path | None, referrers: tuple[Path, ...]) -> Scenario:
    parsed_json(text)
    try:
        # JSON mode: strict types, with JSON arrays accepted for tuples.
        file = ScenarioFile.model_validate_json(text)
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error)) from None
    check_blocks_are_checkable(file.blocks)
    genesis = file.genesis
    if genesis is None:
        genesis = referenced_genesis(str(file.genesis_file), base_directory, referrers)
    return Scenario(name=file.name, description=file.description, genesis=genesis, blocks=file.blocks, expect=file.expect)


# --- a genesis by reference ---------------------------------------------------------------------
def shown_path(path: Path) -> str:
    """A path as a message shows it: relative to the working directory when under it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def read_referenced_text(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{label}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise ScenarioError(f"{label}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ScenarioError(f"{label}: cannot read ({error.strerror})") from None


def referenced_genesis(reference: str, base_directory: Path | None, referrers: tuple[Path, ...]) -> ScenarioGenesis:
    """The genesis a `genesis_file` names: a file holding a genesis object, or a scenario
    file whose genesis (written or itself referenced) is used. `referrers` are the
    files already on the way here, so that a cycle is named instead of followed."""
    if base_directory is None:
        raise ScenarioError(
            f"genesis_file {json.dumps(reference)}: is relative to the scenario's own file, and this scenario was given as text"
        )
    path = (base_directory / reference).resolve()
    label = f"genesis_file {json.dumps(reference)} ({shown_path(path)})"
    if path in referrers:
        cycle = " -> ".join(shown_path(step) for step in (*referrers, path))
        raise ScenarioError(f"{label}: a cycle of references: {cycle}")
    text = read_referenced_text(path, label)
    try:
        document = parsed_json(text)
        if isinstance(document, dict) and "chain_id" in document:
            return ScenarioGenesis.model_validate_json(text)
        return parse_scenario_file(text, path.parent, (*referrers, path)).genesis
    except ScenarioError as error:
        if str(error).startswith("genesis_file"):
            raise  # already names the file it is about
        raise ScenarioError(f"{label}: {error}") from None
    except ValidationError as error:
        raise ScenarioError(f"{label}: {describe_validation_error(error)}") from None


# --- what can be checked at all -----------------------------------------------------------------
def check_blocks_are_checkable(blocks: tuple[ScenarioBlock, ...]) -> None:
    """Refuse what the replay could never honour: an `expect` on a transaction of a block
    expected to be rejected whole, a signer given twice, a lock with nothing to derive from."""
    for number, block in enumerate(blocks, start=1):
        expecting = [index for index, raw in enumerate(block.transactions) if raw.expect is not None]
        if block.expect is not None and block.expect != ResultCode.OK and expecting:
            if block.expect not in BLOCK_CODES_THAT_CHECK_ONE_TRANSACTION:
                raise ScenarioError(
                    f"block {number}: expects {block.expect.value}, which rejects the block whole, so the expect "
                    f"of its transaction {expecting[0]} can never be checked"
                )
            if len(expecting) > 1:
                raise ScenarioError(
                    f"block {number}: expects {block.expect.value}, under which only the one failing transaction's "
                    f"expect is checked, but transactions {expecting} carry one"
                )
        for index, raw in enumerate(block.transactions):
            where = f"block {number} transaction {index}"
            if raw.signature is not None and raw.signed_by is not None:
                raise ScenarioError(f"{where}: give signature or signed_by, not both")
            previous = block.transactions[index - 1] if index > 0 else None
            lock_fields(raw, previous, where)


def lock_fields(raw: BaseModel, previous: BaseModel | None, where: str) -> dict[str, Any]:
    """A transaction's fields, a lock's left-out fields copied from the task just before it."""
    data = raw.model_dump(exclude={"expect"})
    if data["type"] != "ATP_TRANSFER_LOCK":
        return data
    missing = [name for name in LOCK_FIELDS_FROM_TASK if data[name] is None]
    if not missing:
        return data
    if previous is None or previous.model_dump()["type"] != "FEDERATION_TASK":
        raise ScenarioError(
            f"{where}: an ATP_TRANSFER_LOCK that leaves out {', '.join(missing)} must come right after "
            "the FEDERATION_TASK it pays for"
        )
    task = previous.model_dump()
    for name in missing:
        data[name] = task[LOCK_FIELDS_FROM_TASK[name]]
    return data


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
        accounts=tuple(
            GenesisAccount(agent=account.agent, platform=account.platform, balance=account.balance)
            for account in spec_genesis.accounts
        ),
    )
    return genesis, seeds, authority_seed


def default_hash(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("ascii")).hexdigest()


TRANSACTION_ADAPTER: TypeAdapter[Any] = TypeAdapter(Transaction)


def signed_transaction(
    raw: BaseModel,
    chain_id: str,
    seeds: dict[str, bytes],
    authority_seed: bytes,
    previous: BaseModel | None = None,
    where: str = "transaction",
) -> AnyTransaction:
    """Turn a scenario transaction into a signed wire transaction. `previous` is the
    transaction before it in its block (a lock may take its fields from its task)."""
    data = lock_fields(raw, previous, where)
    signer = data.pop("signed_by")
    signature = data.pop("signature")
    for name in HASH_FIELDS_WITH_DEFAULTS:
        if name in data and data[name] is None:
            data[name] = default_hash(data["task_id"])
    if signature is not None:
        # Taken as written: a signature made for another chain or another transaction
        # is how a scenario replays one across domains.
        return TRANSACTION_ADAPTER.validate_python({**data, "signature": signature})  # type: ignore[no-any-return]
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
    number: int = 1,
) -> Block:
    txs = []
    previous = None
    for index, raw in enumerate(spec_block.transactions):
        where = f"block {number} transaction {index}"
        txs.append(signed_transaction(raw, genesis.chain_id, seeds, authority_seed, previous, where))
        previous = raw
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
    """The block's code and its transactions' codes. A transaction's `expect` that the
    block's rejection leaves unchecked is a failure, never a silent pass."""
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
            failures.append(
                f"block {number} transaction {index}: expected {expected.value}, but the block was rejected "
                f"({receipt.code.value}) and this transaction was never applied, so its expect cannot be checked"
            )
            continue
        if actual != expected:
            failures.append(f"block {number} transaction {index}: expected {expected.value}, got {actual.value}")
    return failures


def check_state_expectations(when: str, expect: ScenarioExpectation, state: LedgerState) -> list[str]:
    """`expect` against `state`; `when` ("final", "after block 2") starts each message."""
    failures = []
    for agent, wanted in expect.accounts.items():
        account = state.accounts.get(agent)
        if account is None:
            failures.append(f"{when}: no account {agent}")
            continue
        for name in ("total", "locked", "available"):
            value = getattr(wanted, name)
            if value is not None and getattr(account, name) != value:
                failures.append(f"{when}: {agent} {name} is {getattr(account, name)}, expected {value}")
    for transfer_id, wanted_status in expect.transfers.items():
        transfer = state.transfers.get(transfer_id)
        actual = ABSENT if transfer is None else transfer.status.value
        if actual != wanted_status:
            failures.append(f"{when}: transfer {transfer_id} is {actual}, expected {wanted_status}")
    for task_id, wanted_task in expect.tasks.items():
        task = state.tasks.get(task_id)
        actual = ABSENT if task is None else task.status.value
        if actual != wanted_task:
            failures.append(f"{when}: task {task_id} is {actual}, expected {wanted_task}")
    for platform, wanted_bp in expect.reputations.items():
        actual_bp = state.reputations.get(platform)
        if actual_bp != wanted_bp:
            failures.append(f"{when}: reputation of {platform} is {actual_bp}, expected {wanted_bp}")
    return failures


def check_final_expectations(expect: ScenarioExpectation, state: LedgerState) -> list[str]:
    return check_state_expectations("final", expect, state)


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
        block = build_block(spec_block, state, genesis, seeds, authority_seed, number)
        post, receipt = apply_block(chain, state, block)
        violations = check_step(chain, state, block, receipt, post)
        result.blocks.append(BlockOutcome(block, receipt, displayed_state_root(post), violations))
        result.expectation_failures += check_block_expectations(number, spec_block, receipt)
        if spec_block.expect_after is not None:
            result.expectation_failures += check_state_expectations(f"after block {number}", spec_block.expect_after, post)
        state = post
    result.final = state
    result.expectation_failures += check_final_expectations(scenario.expect, state)
    return result


def load_and_replay(text: str, source: Path | None = None) -> ReplayResult:
    """Read and replay a scenario's text; `source`, its file, resolves its `genesis_file`."""
    return replay(parse_scenario(text, source))


def rejection_at_load(text: str, source: Path | None = None) -> str | None:
    """Why a scenario file is refused before any block applies (exactly the refusals
    `load_and_replay` raises as ScenarioError: the format, the genesis and its
    reference, what could never be checked), or None when it loads."""
    try:
        scenario = parse_scenario(text, source)
        genesis, seeds, authority_seed = genesis_of(scenario.genesis)
        chain_from_genesis(genesis)
    except (ScenarioError, GenesisError) as error:
        return str(error)
    return None
