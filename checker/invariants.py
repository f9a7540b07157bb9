"""What the checker checks on every world it reaches. All of it speaks of correct
replicas only: a faulty replica has no state to check.

* agreement: no two correct replicas execute different blocks at one height,
  whatever views they committed them in;
* validity: every block a correct replica executed is valid against the ledger
  state before it (`spec.ledger.apply_block` returns `ok`);
* ledger: every ledger invariant of `spec.invariants`, across every block every
  correct replica executed;
* determinism: a correct replica's ledger has the state root that the real
  ledger reaches from genesis through the same blocks, so the same committed
  prefix gives the same root on every correct replica;
* sent-valid: every VIEW-CHANGE and NEW-VIEW a correct replica sends is valid by
  the rule correct replicas apply to the ones they receive
  (`view_change_is_valid`, `new_view_is_valid`). A correct replica whose view
  changes others reject can no longer help any view change: a liveness bug that
  safety checks alone never see.

A witness is the opposite: a deliberately false property ("this never happens")
whose counterexample shows that the model reaches it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from checker.memo import Memo
from checker.model import Ledgers, Model, World
from spec.codes import ResultCode
from spec.invariants import check_step
from spec.pbft import (
    ConsensusConfig,
    ReplicaState,
    commit_certificate_is_valid,
    new_view_is_valid,
    primary_of,
    view_change_is_valid,
)
from spec.wire.messages import BlockResponse, Message, NewView, PrePrepare, ViewChange
from spec.wire.records import LedgerState, TaskStatus
from spec.wire.state_root import state_root

INVARIANTS = ("agreement", "validity", "ledger", "determinism", "sent-valid")


@dataclass(frozen=True)
class Finding:
    """A violated invariant, or a witness reached."""

    property: str
    detail: str


class ChainChecks:
    """Checks of one executed chain against the real ledger, memoised by the
    chain's block digests (a chain is checked once however many worlds hold it)."""

    def __init__(self, ledgers: Ledgers, platforms: tuple[str, ...]) -> None:
        self.ledgers = ledgers
        self.platforms = platforms
        """Replica i is platform `platforms[i]`: findings name replicas as the trace does."""
        self.states: dict[tuple[str, ...], LedgerState] = {(): ledgers.genesis}
        self.verdicts: dict[tuple[int, tuple[str, ...]], Finding | None] = {}
        self.agreeing: Memo[tuple[tuple[str, ...], ...], bool] = Memo()
        """Sets of executed chains already found to agree."""

    def agreement(self, world: World) -> Finding | None:
        """`agreement`, once per set of executed chains (worlds share them)."""
        key = tuple(state.executed for state in world.replicas if state is not None)
        if key in self.agreeing:
            return None
        found = agreement(world, self.platforms)
        if found is None:
            self.agreeing.put(key, True)
        return found

    def check(self, replica: ReplicaState) -> Finding | None:
        """A replica's ledger is a function of its executed blocks, so the verdict
        is kept per (replica, executed blocks)."""
        key = (replica.replica, replica.executed)
        if key in self.verdicts:
            return self.verdicts[key]
        verdict = self.check_chain(replica)
        if verdict is None:
            verdict = self.check_root(replica)
        self.verdicts[key] = verdict
        return verdict

    def check_root(self, replica: ReplicaState) -> Finding | None:
        real = state_root(self.states[replica.executed])
        own = state_root(replica.ledger)
        if own == real:
            return None
        return Finding(
            "determinism",
            f"{self.platforms[replica.replica]} at height {replica.height}: state root {own[:12]}… differs from "
            f"{real[:12]}…, which the same blocks give from genesis",
        )

    def check_chain(self, replica: ReplicaState) -> Finding | None:
        chain = self.ledgers.chain
        for height in range(1, replica.height + 1):
            prefix = replica.executed[:height]
            if prefix in self.states:
                continue
            pre = self.states[replica.executed[: height - 1]]
            block = replica.blocks[height - 1]
            post, receipt = self.ledgers.apply(chain, pre, block)
            if receipt.code != ResultCode.OK:
                return Finding(
                    "validity",
                    f"{self.platforms[replica.replica]} executed block {height} ({prefix[-1][:12]}…), "
                    f"which the ledger rejects: {receipt.code.value}",
                )
            violations = check_step(chain, pre, block, receipt, post)
            if violations:
                first = violations[0]
                return Finding("ledger", f"block {height}: {first.invariant}: {first.message}")
            self.states[prefix] = post
        return None


class SentMessageChecks:
    """Validity of what correct replicas send, memoised per message (a message is
    checked once however many worlds hold it)."""

    def __init__(self, consensus: ConsensusConfig) -> None:
        self.consensus = consensus
        self.verdicts: dict[Message, bool] = {}
        self.clean: Memo[tuple[frozenset[Message], tuple[bool, ...]], bool] = Memo()
        """Networks already found clean, with which replicas are correct (have a state)."""

    def check(self, world: World) -> Finding | None:
        key = (world.messages, tuple(map(bool, world.replicas)))  # a state is truthy, a faulty replica's None not
        if key in self.clean:
            return None
        found = self.check_network(world)
        if found is None:
            self.clean.put(key, True)
        return found

    def check_network(self, world: World) -> Finding | None:
        for message in world.messages:
            if not isinstance(message, (ViewChange, NewView)) or world.replicas[message.sender] is None:
                continue
            valid = self.verdicts.get(message)
            if valid is None:
                valid = message_is_valid(self.consensus, message)
                self.verdicts[message] = valid
            if not valid:
                sender = self.consensus.platforms[message.sender]
                return Finding("sent-valid", f"correct replica {sender} sent {describe_sent(message)}, "
                               "which every correct replica rejects")
        return None



def message_is_valid(consensus: ConsensusConfig, message: ViewChange | NewView | BlockResponse) -> bool:
    """The validity rule a correct replica applies to a received message of this kind."""
    if isinstance(message, ViewChange):
        return view_change_is_valid(consensus, message)
    if isinstance(message, NewView):
        return new_view_is_valid(consensus, message)
    return commit_certificate_is_valid(consensus, message.certificate, message.block)


def describe_sent(message: ViewChange | NewView) -> str:
    if isinstance(message, ViewChange):
        heights = [certificate.pre_prepare.height for certificate in message.prepared]
        return (f"a VIEW-CHANGE to view {message.new_view} with stable checkpoint {message.checkpoint.height} "
                f"and prepared certificates at heights {heights}")
    return f"a NEW-VIEW for view {message.view}"


def agreement(world: World, platforms: tuple[str, ...]) -> Finding | None:
    replicas = [s for s in world.replicas if s is not None]
    for i in range(len(replicas)):
        for j in range(i + 1, len(replicas)):
            a = replicas[i].executed
            b = replicas[j].executed
            for height in range(min(len(a), len(b))):
                if a[height] != b[height]:
                    return Finding(
                        "agreement",
                        f"{platforms[replicas[i].replica]} and {platforms[replicas[j].replica]} executed different blocks "
                        f"at height {height + 1}: {a[height][:12]}… and {b[height][:12]}…",
                    )
    return None


def check_world(world: World, chains: ChainChecks, sent: SentMessageChecks) -> Finding | None:
    found = chains.agreement(world)
    if found is not None:
        return found
    found = sent.check(world)
    if found is not None:
        return found
    for replica in world.replicas:
        if replica is not None:
            found = chains.check(replica)
            if found is not None:
                return found
    return None


# --- witnesses ---------------------------------------------------------------------------------
def any_task_status(world: World, status: TaskStatus) -> bool:
    for replica in world.replicas:
        if replica is None:
            continue
        for task in replica.ledger.tasks.values():
            if task.status == status:
                return True
    return False


def equivocation_survived(model: Model, world: World) -> bool:
    """A faulty primary proposed two blocks for one height in one view, and a
    correct replica executed a block at that height."""
    proposals: dict[tuple[int, int], set[str]] = {}
    for message in world.messages:
        if isinstance(message, PrePrepare) and message.sender in model.config.faulty:
            proposals.setdefault((message.view, message.height), set()).add(message.digest)
    for (_, height), digests in proposals.items():
        if len(digests) < 2:
            continue
        for replica in world.replicas:
            if replica is not None and replica.height >= height:
                return True
    return False


def caught_up(world: World) -> bool:
    """A correct replica executed a block whose commit certificate lacks its own
    commit: it can only have come by catch-up."""
    for replica in world.replicas:
        if replica is None:
            continue
        for certificate in replica.commit_certificates:
            if replica.replica not in certificate.commits:
                return True
    return False


def checkpoint_ahead(model: Model, world: World) -> bool:
    """A correct replica holds a stable checkpoint above the height it executed,
    counted with a faulty replica's vote for the real root."""
    for replica in world.replicas:
        if replica is not None and replica.stable.height > replica.height:
            if replica.stable.signers & model.config.faulty:
                return True
    return False


def faulty_new_view_installed(model: Model, world: World) -> bool:
    """A correct replica is active in a view led by a faulty primary, above view 0:
    it installed that primary's NEW-VIEW."""
    for replica in world.replicas:
        if replica is not None and replica.active and replica.view >= 1:
            if primary_of(replica.view, model.n) in model.config.faulty:
                return True
    return False


def crash_survived(model: Model, world: World) -> bool:
    """A correct replica crashed, and every other correct replica executed every
    request."""
    return bool(world.crashed) and model.requests_settled(world)


def timestamp_ahead_of_clock(world: World) -> bool:
    """A correct replica executed a block stamped later than its own clock reads:
    the skew allowance of the timestamp rule was needed."""
    for replica in world.replicas:
        if replica is None:
            continue
        for block in replica.blocks:
            if block.header.timestamp_ms > replica.clock_ms:
                return True
    return False


def watermark_holds_back(model: Model, world: World) -> bool:
    """A correct primary, active, with nothing in flight and requests pending,
    may not propose: the next height is above its high watermark."""
    window = model.consensus.watermark_window
    for replica in model.live(world.replicas, world.crashed):
        if replica is None or not replica.active or replica.slot is not None or not replica.pending:
            continue
        if primary_of(replica.view, model.n) == replica.replica and replica.height + 1 > replica.stable.height + window:
            return True
    return False


WITNESS_TEXT = {
    "block_commits": "a correct replica executes a committed block",
    "task_settles_by_commit": "a task settles by commit (quality >= threshold)",
    "task_settles_by_rollback": "a task settles by rollback (quality < threshold)",
    "view_change_completes": "a correct replica enters a view above 0 through NEW-VIEW",
    "equivocation_survived": "a faulty primary equivocates and correct replicas still commit that height",
    "catch_up_completes": "a lagging correct replica executes a block fetched with its commit certificate",
    "checkpoint_ahead_of_execution": "a faulty replica's vote for the real root makes a checkpoint stable above "
    "a correct replica's height",
    "faulty_new_view_installed": "a correct replica enters a view led by a faulty primary through its NEW-VIEW",
    "crash_survived": "a correct replica crashes and every other correct replica executes every request",
    "timestamp_ahead_of_clock": "a correct replica executes a block stamped ahead of its own clock",
    "watermark_holds_back": "a correct primary with pending requests waits for a checkpoint: the next height "
    "is above its high watermark",
}


WITNESS_REACHED: dict[str, Callable[[Model, World], bool]] = {
    "block_commits": lambda model, world: any(r is not None and r.height >= 1 for r in world.replicas),
    "task_settles_by_commit": lambda model, world: any_task_status(world, TaskStatus.COMPLETED),
    "task_settles_by_rollback": lambda model, world: any_task_status(world, TaskStatus.FAILED),
    "view_change_completes": lambda model, world: any(
        r is not None and r.active and r.view >= 1 for r in world.replicas
    ),
    "equivocation_survived": equivocation_survived,
    "catch_up_completes": lambda model, world: caught_up(world),
    "checkpoint_ahead_of_execution": checkpoint_ahead,
    "faulty_new_view_installed": faulty_new_view_installed,
    "crash_survived": crash_survived,
    "timestamp_ahead_of_clock": lambda model, world: timestamp_ahead_of_clock(world),
    "watermark_holds_back": watermark_holds_back,
}
"""Each witness's predicate: the world where "this never happens" fails."""


def witness_reached(model: Model, world: World, witness: str) -> Finding | None:
    if WITNESS_REACHED[witness](model, world):
        return Finding("witness:" + witness, WITNESS_TEXT[witness])
    return None
