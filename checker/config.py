"""Model-checker configurations: TOML files that fix N, f, the faulty replicas,
the bounds, the ledger and the client requests.

A configuration may extend another (`extends = "n4f1.toml"`, relative to its own
file): tables merge key by key, and the extending file wins.
"""

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spec.constants import CHECKPOINT_INTERVAL, MAX_CLOCK_SKEW_MS, WATERMARK_WINDOW
from spec.pbft import ConsensusConfig, fault_tolerance, primary_of, quorum_size
from spec.scenario import (
    ScenarioError,
    ScenarioGenesis,
    describe_validation_error,
    genesis_of,
    scenario_transaction_union,
    signed_transaction,
)
from spec.state import GenesisError, chain_from_genesis, state_from_genesis
from spec.wire.messages import ClientRequest
from spec.wire.types import Genesis, PlatformName, UInt64

MutantName = Literal[
    "drop_prepared_certificates",
    "prepare_without_validation",
    "nondeterministic_execution",
    "prepare_at_or_below_stable_checkpoint",
    "fetch_on_checkpoint_evidence_only",
    "new_view_compares_checkpoint_signers",
]
MUTANTS: tuple[MutantName, ...] = get_args(MutantName)
"""Broken replicas for negative controls: each must make the checker find a violation.
The first three break a replica from outside (`checker.model`); the others are
`spec/pbft.py` with a fixed bug put back (`checker.mutants.SPEC_VARIANTS`)."""

WitnessName = Literal[
    "block_commits",
    "task_settles_by_commit",
    "task_settles_by_rollback",
    "view_change_completes",
    "equivocation_survived",
    "catch_up_completes",
    "checkpoint_ahead_of_execution",
    "faulty_new_view_installed",
    "crash_survived",
    "timestamp_ahead_of_clock",
    "watermark_holds_back",
]
WITNESSES: tuple[WitnessName, ...] = get_args(WitnessName)
"""Reachability witnesses: each names a deliberately false property ("this never
happens"), so a counterexample shows the model reaches it."""

BlockFamily = Literal[
    "proposal", "empty", "subset", "reordered", "latest_timestamp", "future_timestamp", "bad_root"
]
BYZANTINE_BLOCKS: tuple[BlockFamily, ...] = (
    "proposal", "empty", "subset", "reordered", "latest_timestamp", "future_timestamp",
)
"""The default block families; `bad_root` may be added."""


class ConfigError(ValueError):
    """The configuration cannot be used: the message says where and why."""


class ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ConsensusSection(ConfigModel):
    faulty: tuple[PlatformName, ...] = ()
    """Platforms whose replicas are Byzantine."""
    crashable: tuple[PlatformName, ...] | None = None
    """Correct platforms whose replicas may crash (`bounds.crashes` of them at
    most); default: every correct one but the primary of `max_view`."""
    quorum: Literal["safe", "2f+1"] = "safe"
    """safe: ceil((N+f+1)/2). 2f+1 exists only as a negative control."""
    checkpoint_interval: int = Field(default=CHECKPOINT_INTERVAL, ge=1, le=1000)
    watermark_window: int = Field(default=WATERMARK_WINDOW, ge=1, le=10000)
    max_block_transactions: int = Field(default=2, ge=1, le=1000)
    clock_offset_ms: UInt64 = 1000
    """Every replica's clock reads genesis_time_ms + this."""


class BoundsSection(ConfigModel):
    max_view: int = Field(ge=0, le=50)
    max_height: int = Field(ge=1, le=50)
    byzantine_messages: int = Field(default=0, ge=0, le=50)
    """How many messages the faulty replicas may send in all."""
    crashes: int = Field(default=0, ge=0, le=50)
    """How many correct replicas may crash (stop for good, at any point) in all: a
    fault apart from the Byzantine budget."""


class ClocksSection(ConfigModel):
    """Each correct replica's clock: it starts at genesis_time_ms +
    consensus.clock_offset_ms + its own offset, and moves `tick_ms` forward each
    time one of its timers fires, at most `ticks` times (the bound keeps the model
    finite). Proposals are stamped from the primary's clock and checked against
    the receiver's (`spec.pbft.proposal_is_acceptable`)."""

    offsets_ms: dict[PlatformName, UInt64] = {}
    """Per platform, how far its clock starts ahead (0 when absent)."""
    tick_ms: int = Field(default=0, ge=0, le=MAX_CLOCK_SKEW_MS)
    ticks: int = Field(default=0, ge=0, le=10)


MoveFamily = Literal["pre_prepares", "votes", "view_changes", "new_views", "checkpoints", "block_responses"]
MOVES: tuple[MoveFamily, ...] = get_args(MoveFamily)


class ByzantineSection(ConfigModel):
    moves: tuple[MoveFamily, ...] = MOVES
    """The families of the faulty replicas' menu (see the checker page); a negative
    control may leave some out to find its violation sooner."""
    blocks: tuple[BlockFamily, ...] = BYZANTINE_BLOCKS
    """What a faulty primary may propose, on the ledger of any correct replica:
    the block a correct primary holding every request would (`proposal`), an
    empty block, each single request of that block alone (`subset`), its requests
    in reverse order (`reordered`), the proposal stamped at the latest time that
    replica's clock accepts (`latest_timestamp`), or beyond every correct clock's
    skew bound (`future_timestamp`), and the proposal with a transaction root that
    does not match its transactions (`bad_root`)."""


class CheckSection(ConfigModel):
    mutant: MutantName | None = None
    witness: WitnessName | None = None
    symmetry: bool = True
    liveness: bool = False
    """Also check liveness on the explored graph (keeps every edge in memory)."""
    expect: Literal["pass", "violation"] = "pass"
    """What this configuration is for; `fedspec check` reports it, tests assert it."""


class RequestSection(ConfigModel):
    after_height: int = Field(default=0, ge=0, le=50)
    """A client submits this request to a replica once that replica has executed
    this height (a proof after its task, say)."""
    transactions: tuple[scenario_transaction_union(), ...] = Field(min_length=1, max_length=2)  # type: ignore[valid-type]


class CheckerConfigFile(ConfigModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    extends: str | None = None
    genesis: ScenarioGenesis
    consensus: ConsensusSection = ConsensusSection()
    bounds: BoundsSection
    byzantine: ByzantineSection = ByzantineSection()
    clocks: ClocksSection = ClocksSection()
    check: CheckSection = CheckSection()
    requests: tuple[RequestSection, ...] = ()


@dataclass(frozen=True)
class Request:
    request: ClientRequest
    after_height: int


@dataclass(frozen=True)
class CheckerConfig:
    """A loaded configuration: the consensus group and what the checker explores."""

    name: str
    description: str
    path: str
    consensus: ConsensusConfig
    genesis: Genesis
    faulty: frozenset[int]
    clock_ms: int
    """Where every clock starts before its own offset."""
    clock_offsets: tuple[int, ...]
    """Per replica, how far its clock starts ahead of `clock_ms`."""
    clock_tick_ms: int
    clock_ticks: int
    max_view: int
    max_height: int
    byzantine_messages: int
    crashes: int
    crashable: frozenset[int]
    byzantine_blocks: tuple[str, ...]
    byzantine_moves: tuple[str, ...]
    requests: tuple[Request, ...]
    mutant: str | None
    witness: str | None
    symmetry: bool
    liveness: bool
    expect: str
    quorum_rule: str

    @property
    def n(self) -> int:
        return self.consensus.n

    @property
    def correct(self) -> tuple[int, ...]:
        return tuple(r for r in range(self.n) if r not in self.faulty)

    def start_clock(self, replica: int) -> int:
        return self.clock_ms + self.clock_offsets[replica]

    def latest_clock(self, replica: int) -> int:
        """The furthest `replica`'s clock moves within the bounds."""
        return self.start_clock(replica) + self.clock_ticks * self.clock_tick_ms

    def clock_spread(self) -> int:
        """How far apart two correct clocks start, in ms. (Ticks never take one more
        than MAX_CLOCK_SKEW_MS ahead of another: `Model.clock_after_tick`.)"""
        starts = [self.start_clock(replica) for replica in self.correct]
        return max(starts) - min(starts)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: extends itself through {' -> '.join(str(p) for p in seen)}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not TOML: {error}") from None
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: must be a file name")
    try:
        base = read_toml(path.parent / parent, seen + (path.resolve(),))
    except ConfigError as error:
        # The error names the file that is wrong; say which configuration led to it.
        raise ConfigError(f"{path}: extends {parent!r}: {error}") from None
    base.pop("extends", None)
    return merge(base, data)


def load_config(path: str | Path) -> CheckerConfig:
    path = Path(path)
    data = read_toml(path)
    try:
        # JSON mode: strict types, with arrays accepted for tuples.
        raw = CheckerConfigFile.model_validate_json(json.dumps(data))
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None
    try:
        config = build_config(raw, str(path))
    except (ScenarioError, GenesisError) as error:
        raise ConfigError(f"{path}: {error}") from None
    broken = fault_premise(config)
    if config.expect == "pass" and broken:
        raise ConfigError(f"{path}: the configuration breaks the protocol's assumptions: {'; '.join(broken)}")
    broken = liveness_premise(config)
    if config.liveness and (config.expect == "pass" or config.mutant is not None) and broken:
        raise ConfigError(f"{path}: check.liveness: the bounds break the liveness premise: {'; '.join(broken)}")
    return config


def build_config(raw: CheckerConfigFile, path: str) -> CheckerConfig:
    genesis, seeds, authority_seed = genesis_of(raw.genesis)
    chain = chain_from_genesis(genesis)
    platforms = tuple(p.name for p in genesis.platforms)
    n = len(platforms)
    if n < 1:
        raise ConfigError(f"{path}: genesis.platforms: at least one platform is required")
    faulty: set[int] = set()
    for index, name in enumerate(raw.consensus.faulty):
        if name not in platforms:
            raise ConfigError(f"{path}: consensus.faulty.{index}: {name!r} is not a genesis platform")
        faulty.add(platforms.index(name))
    if len(faulty) == n:
        raise ConfigError(f"{path}: consensus.faulty: at least one replica must be correct")
    f = fault_tolerance(n)
    quorum = quorum_size(n, f) if raw.consensus.quorum == "safe" else 2 * f + 1
    consensus = ConsensusConfig(
        chain=chain,
        genesis_state=state_from_genesis(genesis),
        platforms=platforms,
        f=f,
        quorum=quorum,
        checkpoint_interval=raw.consensus.checkpoint_interval,
        watermark_window=raw.consensus.watermark_window,
        max_block_transactions=raw.consensus.max_block_transactions,
    )
    requests: list[Request] = []
    for index, section in enumerate(raw.requests):
        txs = []
        for raw_tx in section.transactions:
            txs.append(signed_transaction(raw_tx, genesis.chain_id, seeds, authority_seed))
        if txs[0].type == "FEDERATION_TASK" and len(txs) != 2:
            raise ConfigError(f"{path}: requests.{index}.transactions: a FEDERATION_TASK needs its LOCK after it")
        if len(txs) == 2 and txs[0].type != "FEDERATION_TASK":
            raise ConfigError(f"{path}: requests.{index}.transactions: only a FEDERATION_TASK and its LOCK go together")
        requests.append(Request(ClientRequest(tuple(txs)), section.after_height))
    return CheckerConfig(
        name=raw.name,
        description=raw.description,
        path=path,
        consensus=consensus,
        genesis=genesis,
        faulty=frozenset(faulty),
        clock_ms=genesis.genesis_time_ms + raw.consensus.clock_offset_ms,
        clock_offsets=clock_offsets(raw.clocks, platforms, path),
        clock_tick_ms=raw.clocks.tick_ms,
        clock_ticks=raw.clocks.ticks,
        max_view=raw.bounds.max_view,
        max_height=raw.bounds.max_height,
        byzantine_messages=raw.bounds.byzantine_messages if faulty else 0,
        crashes=raw.bounds.crashes,
        crashable=crashable_replicas(raw, platforms, faulty, path),
        byzantine_blocks=raw.byzantine.blocks,
        byzantine_moves=raw.byzantine.moves,
        requests=tuple(requests),
        mutant=raw.check.mutant,
        witness=raw.check.witness,
        symmetry=raw.check.symmetry,
        liveness=raw.check.liveness,
        expect=raw.check.expect,
        quorum_rule=raw.consensus.quorum,
    )


def crashable_replicas(raw: CheckerConfigFile, platforms: tuple[str, ...], faulty: set[int], path: str) -> frozenset[int]:
    last_primary = primary_of(raw.bounds.max_view, len(platforms))
    if raw.consensus.crashable is None:
        return frozenset(r for r in range(len(platforms)) if r not in faulty and r != last_primary)
    chosen: set[int] = set()
    for index, name in enumerate(raw.consensus.crashable):
        if name not in platforms:
            raise ConfigError(f"{path}: consensus.crashable.{index}: {name!r} is not a genesis platform")
        replica = platforms.index(name)
        if replica in faulty:
            raise ConfigError(f"{path}: consensus.crashable.{index}: {name} is faulty; only correct replicas crash")
        if replica == last_primary:
            raise ConfigError(
                f"{path}: consensus.crashable.{index}: {name} leads max_view = {raw.bounds.max_view}, "
                "which needs a live primary"
            )
        chosen.add(replica)
    return frozenset(chosen)


def clock_offsets(clocks: ClocksSection, platforms: tuple[str, ...], path: str) -> tuple[int, ...]:
    for name in clocks.offsets_ms:
        if name not in platforms:
            raise ConfigError(f"{path}: clocks.offsets_ms: {name!r} is not a genesis platform")
    return tuple(clocks.offsets_ms.get(name, 0) for name in platforms)


def fault_premise(config: CheckerConfig) -> list[str]:
    """What the protocol assumes of faults and clocks, for a configuration that
    expects to pass: at most f Byzantine replicas (crashes never break safety, so
    they are bounded by the liveness premise instead), and correct clocks that stay
    within MAX_CLOCK_SKEW_MS of each other."""
    broken: list[str] = []
    f = config.consensus.f
    if len(config.faulty) > f:
        broken.append(f"consensus.faulty: {len(config.faulty)} Byzantine replicas, more than f = {f}")
    if config.clock_spread() > MAX_CLOCK_SKEW_MS:
        broken.append(
            f"clocks.offsets_ms: correct clocks start {config.clock_spread()} ms apart, "
            f"more than MAX_CLOCK_SKEW_MS = {MAX_CLOCK_SKEW_MS}"
        )
    return broken


def liveness_premise(config: CheckerConfig) -> list[str]:
    """What the bounds must allow for the liveness check to speak of the protocol
    rather than of the bounds: empty when they allow it, else one reason per broken
    part. A liveness configuration that expects to pass, or has a mutant, is refused
    when one breaks (its finding would be the bounds', not the protocol's or the
    mutant's); a negative control without a mutant may break one on purpose.

    * every request fits in a block (else no correct primary can ever propose it);
    * a request that waits for height a is submitted: once every request due
      earlier has executed, the chain is at least that high (those requests hold
      S transactions, a block at most `max_block_transactions` = c, so they take
      at least ceil(S / c) heights, which must be >= a);
    * heights: max_height >= K + W, for K requests and W = byzantine_messages when
      a faulty replica is the primary of a view within the bounds (else 0). Every
      block executed on the chain was first proposed by a primary. A block first
      proposed by a correct primary holds at least one request not executed below
      it (a correct primary never proposes an empty block, and its pending
      requests are those not executed on its chain, which the block extends): at
      most K of them. A block first proposed by a faulty primary costs it its
      PRE-PREPARE, one message of its budget, and only one block can be executed
      at a height (agreement), so equivocating buys no more than one height per
      message: at most W of them. So a correct replica at height K + W has
      executed every request, and no request ever needs a height beyond the bound;
    * views: the primary of max_view is correct. Timers fire at any time in the
      model, so correct replicas may always reach max_view, and a step beyond it is
      not taken: max_view is the view in which timers no longer interrupt its
      primary (the model's stand-in for timeouts long enough after the last
      fault), and it must be led by a correct replica. This is also what lets a
      view change pass every faulty primary of a lower view. (For the same
      reason the model never crashes the primary of max_view.)
    * crashes: the replicas that are neither faulty nor crashed make a quorum;
    * timestamps: a faulty primary does not stamp blocks at the limit of the
      clocks (`latest_timestamp`): the chain's timestamps only grow, so after such
      a block a correct primary must wait for its clock to pass the stamp, and a
      bounded clock need not. Safety configurations keep that move."""
    broken: list[str] = []
    capacity = config.consensus.max_block_transactions
    for index, request in enumerate(config.requests):
        size = len(request.request.transactions)
        if size > capacity:
            broken.append(
                f"requests.{index} has {size} transactions, more than consensus.max_block_transactions = {capacity}: "
                "it can never be proposed"
            )
    for index, request in enumerate(config.requests):
        if request.after_height == 0:
            continue
        earlier = sum(len(r.request.transactions) for r in config.requests if r.after_height < request.after_height)
        reached = -(-earlier // capacity)
        if reached < request.after_height:
            broken.append(
                f"requests.{index} waits for height {request.after_height}, but the requests due before it "
                f"({earlier} transactions, at most {capacity} a block) may fill only {reached}: it may never be submitted"
            )
    leads = [view for view in range(config.max_view + 1) if primary_of(view, config.n) in config.faulty]
    adversary = config.byzantine_messages if leads else 0
    needed = len(config.requests) + adversary
    if config.max_height < needed:
        requests = "1 request" if len(config.requests) == 1 else f"{len(config.requests)} requests"
        messages = "1 byzantine message" if adversary == 1 else f"{adversary} byzantine messages"
        broken.append(
            f"bounds.max_height = {config.max_height} < {needed}: {requests} may take a height each, "
            f"and {messages} one more each (an empty block from a faulty primary)"
        )
    if "latest_timestamp" in config.byzantine_blocks and leads:
        broken.append(
            "byzantine.blocks has latest_timestamp and a faulty replica leads a view: a block stamped at the "
            "limit of a correct clock holds every later proposal until that clock passes the stamp, which "
            "bounded clocks need not do (in a real run it is a wait of at most MAX_CLOCK_SKEW_MS)"
        )
    never_fail = config.n - len(config.faulty) - config.crashes
    if never_fail < config.consensus.quorum:
        broken.append(
            f"consensus.faulty and bounds.crashes: {len(config.faulty)} Byzantine and {config.crashes} crashed "
            f"leave {never_fail} replicas, fewer than a quorum of {config.consensus.quorum}"
        )
    last = primary_of(config.max_view, config.n)
    if last in config.faulty:
        broken.append(
            f"bounds.max_view = {config.max_view} is led by faulty {config.consensus.platforms[last]}: "
            "the last view must have a correct primary, or nothing replaces a silent one"
        )
    return broken
