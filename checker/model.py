"""The world the checker explores: the spec's replicas, the network, the adversary.

A world is the state of every correct replica (faulty ones have none: they are
the adversary), the set of every message ever sent, and how much of its message
budget the adversary has spent. The network is that growing set: any message in
it may be delivered to any correct replica at any time, any number of times, or
never, which covers delay, reordering, duplication and loss through
interleavings.

Every transition is one of:

* deliver: a message from the set reaches a correct replica, which runs the
  spec's `step` on it and adds its outputs to the set;
* votes: a burst of matching votes reaches a correct replica (see `group_votes`);
* timer: a correct replica's view-change or fetch timer fires (its clock moves
  on by the configuration's tick, up to its bound);
* byzantine: a faulty replica adds a message it can sign to the set;
* crash: a correct replica stops for good (up to `bounds.crashes` of them; never
  the primary of `max_view`, see `checker.config.liveness_premise`). A crashed
  replica keeps the state it had, which the safety invariants still read; it
  takes no step and answers nothing, and liveness does not wait for it.

Clients are prompt: a replica gets each request when it starts (or, for a request
that waits for a height, in the step in which it executes that height).

A step into a view above `max_view` is not taken; a message for a view or a
height beyond the bounds is not sent (the step that makes it is). The report
counts both.
"""

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from itertools import combinations, product
from typing import NamedTuple, TypeVar

from checker import accelerate
from checker.config import CheckerConfig
from checker.memo import Interner, Memo
from checker.mutants import SPEC_VARIANTS, installed
from spec.codes import ResultCode
from spec.constants import MAX_CLOCK_SKEW_MS
from spec.ledger import apply_block, make_header
from spec.pbft import (
    ReplicaState,
    StepResult,
    block_transactions,
    genesis_checkpoint,
    initial_replica_state,
    new_view_proposals,
    primary_of,
    proposal_order,
    request_is_executed,
    step,
)
from spec.state import Chain
from spec.wire.encoding import block_hash
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    ClientRequest,
    Commit,
    CommitCertificate,
    Input,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Timer,
    TimerFired,
    ViewChange,
)
from spec.wire.records import BlockReceipt, LedgerState
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block


@dataclass(frozen=True, slots=True)
class World:
    replicas: tuple[ReplicaState | None, ...]
    """Indexed by replica; None for a faulty replica."""
    messages: frozenset[Message]
    byzantine_sent: int
    crashed: frozenset[int] = frozenset()
    """Correct replicas that have crashed."""


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    """deliver, votes, timer, byzantine or crash."""
    replica: int
    """The replica that steps (deliver, votes, timer), sends (byzantine) or stops (crash)."""
    inputs: tuple[Input, ...]
    """What the replica steps on, in order (a burst of votes has several), or the
    one message the faulty replica sends; nothing for a crash."""

    @property
    def is_fault(self) -> bool:
        """The adversary's move, not a correct replica's (liveness waits for neither)."""
        return self.kind in ("byzantine", "crash")


Choice = TypeVar("Choice")

LedgerKey = tuple[str, ...]
"""A ledger state named by the digests of the blocks that produced it."""

Effect = tuple[ReplicaState, tuple[Message, ...], bool]
"""What a replica's action does: its next state, what it sends within the bounds,
and whether its state changed."""

Move = tuple[Action, ReplicaState, frozenset[Message]]
"""A correct replica's action, its next state, and the messages new to the network."""


class Progress(NamedTuple):
    """How far the slowest correct replicas are: all `forget_useless` reads of them."""

    view: int
    height: int
    stable: int
    entered: int
    """The lowest view a replica has entered through its NEW-VIEW (its view if
    active, the one before if it waits for a NEW-VIEW)."""


BlockApplier = Callable[[Chain, LedgerState, Block], tuple[LedgerState, BlockReceipt]]
"""A block transition with `spec.ledger.apply_block`'s signature: the checker puts a
memoised (or, for a negative control, broken) one in its place around each step."""


class Ledgers:
    """Block application, memoised: the ledger is a pure function of the blocks
    applied, so a ledger state is named by its block digests."""

    def __init__(self, chain: Chain, genesis: LedgerState) -> None:
        self.chain = chain
        self.genesis = genesis
        self.results: dict[tuple[str, int, str], tuple[LedgerState, BlockReceipt]] = {}

    def apply(self, chain: Chain, state: LedgerState, block: Block) -> tuple[LedgerState, BlockReceipt]:
        key = (state.last_block_hash, state.height, block_hash(block.header))
        found = self.results.get(key)
        if found is None:
            found = apply_block(chain, state, block)
            self.results[key] = found
        return found


# --- mutants: broken replicas for negative controls ---------------------------------------
def lying_applier(apply: BlockApplier) -> BlockApplier:
    """A replica that does not validate: every block looks fine to it (an invalid
    one executes as nothing)."""

    def apply_without_validation(chain: Chain, state: LedgerState, block: Block) -> tuple[LedgerState, BlockReceipt]:
        post, receipt = apply(chain, state, block)
        if receipt.code == ResultCode.OK:
            return post, receipt
        return state, replace(receipt, code=ResultCode.OK)

    return apply_without_validation


def skewed_applier(apply: BlockApplier, replica: int) -> BlockApplier:
    """A replica whose execution depends on who it is: odd replicas credit a
    platform's reputation by one basis point per block."""

    def apply_skewed(chain: Chain, state: LedgerState, block: Block) -> tuple[LedgerState, BlockReceipt]:
        post, receipt = apply(chain, state, block)
        if receipt.code != ResultCode.OK or replica % 2 == 0 or post is state:
            return post, receipt
        skewed = replace(post, reputations=dict(post.reputations))
        first = sorted(skewed.reputations)[0]
        skewed.reputations[first] = min(10_000, skewed.reputations[first] + 1)
        return skewed, receipt

    return apply_skewed


# --- the transition system -------------------------------------------------------------------
class Model:
    """Initial world and successors for one configuration. One per process."""

    def __init__(self, config: CheckerConfig) -> None:
        accelerate.install()  # the spec's pure functions, remembered: `checker.accelerate`
        self.config = config
        self.consensus = config.consensus
        self.n = config.n
        self.correct = config.correct
        self.faulty = tuple(sorted(config.faulty))
        self.real = Ledgers(self.consensus.chain, self.consensus.genesis_state)
        self.appliers: list[BlockApplier] = []
        for replica in range(self.n):
            own = Ledgers(self.consensus.chain, self.consensus.genesis_state)
            applier: BlockApplier = own.apply
            if config.mutant == "prepare_without_validation":
                applier = lying_applier(applier)
            if config.mutant == "nondeterministic_execution":
                applier = skewed_applier(applier, replica)
            self.appliers.append(applier)
        # What each replica's steps run with: the spec variant under test, if any, and
        # its own memoised (or broken) block transition in place of `apply_block`.
        variant = SPEC_VARIANTS.get(config.mutant or "", {})
        self.step_patches = [{**variant, "apply_block": applier} for applier in self.appliers]
        self.actions: list[dict[ReplicaState, dict[tuple[Input, ...], Effect | None]]] = [{} for _ in range(self.n)]
        self.memo: list[dict[ReplicaState, dict[Input, StepResult]]] = [
            {} for _ in range(self.n)
        ]
        self.crashable = tuple(sorted(config.crashable))
        self.pruned = 0
        self.initial_results: dict[int, list[tuple[Input, tuple[Message, ...]]]] = {}
        """What each correct replica sent on the requests it starts with."""
        self.menu_cache: dict[tuple[object, ...], tuple[Message, ...]] = {}
        self.roots: dict[LedgerKey, str] = {}
        self.interned = Interner()
        # Memos of what worlds share (`checker.memo`); replica states in keys by identity.
        self.delivery_memo: Memo[tuple[int, int, frozenset[Message]], tuple[ReplicaState, tuple[Move, ...]]] = Memo()
        self.timer_memo: Memo[tuple[int, int, frozenset[Message], tuple[Input, ...]], tuple[ReplicaState, tuple[Move, ...]]] = Memo()
        self.vote_memo: Memo[frozenset[Message], tuple[tuple[Message, ...], tuple[tuple[Input, ...], ...]]] = Memo()
        self.request_memo: Memo[frozenset[Message], frozenset[BlockRequest]] = Memo()
        self.answer_memo: Memo[tuple[object, ...], tuple[tuple[ReplicaState | None, ...], frozenset[Message]]] = Memo()
        self.progress_memo: Memo[tuple[int, ...], tuple[tuple[ReplicaState | None, ...], Progress]] = Memo()
        self.forget_memo: Memo[tuple[frozenset[Message], Progress, bool], frozenset[Message]] = Memo()

    # --- initial world ---
    def initial(self) -> World:
        replicas: list[ReplicaState | None] = []
        sent: list[Message] = []
        for replica in range(self.n):
            if replica in self.config.faulty:
                replicas.append(None)
            else:
                state = initial_replica_state(self.consensus, replica, self.config.start_clock(replica))
                for request in self.config.requests:
                    if request.after_height == 0:
                        state, outputs, _ = self.step(replica, state, request.request)
                        self.initial_results.setdefault(replica, []).append((request.request, outputs))
                        sent.extend(self.within_bounds(outputs))
                replicas.append(state)
        return World(tuple(replicas), frozenset(sent), 0)

    # --- one replica step, memoised (the step is a pure function) ---
    def step(self, replica: int, state: ReplicaState, event: Input) -> StepResult:
        table = self.memo[replica].get(state)
        if table is None:
            table = {}
            self.memo[replica][state] = table
        found = table.get(event)
        if found is None:
            if self.config.mutant == "drop_prepared_certificates":
                # The broken replica forgets its prepared certificates before every step.
                bare = replace(state, prepared=())
                with installed(self.step_patches[replica]):
                    found = step(self.consensus, bare, event)
                found = found._replace(state=replace(found.state, prepared=()))
            else:
                with installed(self.step_patches[replica]):
                    found = step(self.consensus, state, event)
            table[event] = found
        return found

    def within_bounds(self, outputs: tuple[Message, ...]) -> tuple[Message, ...]:
        """The outputs inside the bounds (a proposal for a height beyond them, say, is
        not sent)."""
        kept: list[Message] = []
        for message in outputs:
            if message_view(message) <= self.config.max_view and message_height(message) <= self.config.max_height:
                kept.append(message)
        if len(kept) == len(outputs):
            return outputs
        return tuple(kept)

    # --- successors ---
    def successors(self, world: World) -> Iterator[tuple[Action, World]]:
        singles, bursts = self.group_votes(world)
        for replica in self.correct:
            if replica in world.crashed:
                continue
            state = world.replicas[replica]
            assert state is not None
            actions = self.actions[replica].get(state)
            if actions is None:
                actions = {}
                self.actions[replica][state] = actions
            for action, new_state, fresh in self.deliveries(world.messages, actions, replica, state, singles, bursts):
                yield action, self.next_world(world, replica, state, new_state, fresh)
            for timer in (Timer.VIEW_CHANGE, Timer.FETCH):
                if timer == Timer.FETCH and not self.someone_is_ahead(world, state):
                    continue
                event = TimerFired(timer, self.clock_after_tick(world, replica, state))
                yield from self.take(world, actions, replica, state, "timer", (event,))
        if world.byzantine_sent < self.config.byzantine_messages:
            for sender, message in self.byzantine_menu(world):
                if message not in world.messages:
                    yield Action("byzantine", sender, (message,)), self.byzantine_world(world, message)
        if len(world.crashed) < self.config.crashes:
            for replica in self.crashable:
                if replica not in world.crashed:
                    yield Action("crash", replica, ()), self.crash_world(world, replica)

    def clock_after_tick(self, world: World, replica: int, state: ReplicaState) -> int:
        """The clock reading a timer of `replica` fires with: one tick on, within its
        bound, and never more than MAX_CLOCK_SKEW_MS ahead of another live correct
        clock (the protocol assumes synchronised clocks; `fault_premise` bounds where
        they start)."""
        reading = min(state.clock_ms + self.config.clock_tick_ms, self.config.latest_clock(replica))
        for other in self.live(world.replicas, world.crashed):
            if other is not None:
                reading = min(reading, other.clock_ms + MAX_CLOCK_SKEW_MS)
        return max(reading, state.clock_ms)

    def live(self, replicas: tuple[ReplicaState | None, ...], crashed: frozenset[int]) -> tuple[ReplicaState | None, ...]:
        """The replicas that still take steps: crashed ones as None, like faulty ones."""
        if not crashed:
            return replicas
        return tuple(None if index in crashed else state for index, state in enumerate(replicas))

    def crash_world(self, world: World, replica: int) -> World:
        crashed = world.crashed | {replica}
        adversary_active = world.byzantine_sent < self.config.byzantine_messages
        messages = self.forget_useless(self.live(world.replicas, crashed), world.messages, adversary_active)
        return World(world.replicas, messages, world.byzantine_sent, crashed)

    def answer_block_requests(
        self, replicas: tuple[ReplicaState | None, ...], messages: frozenset[Message]
    ) -> frozenset[Message]:
        """A reduction: every correct replica that can answer a BLOCK-REQUEST in the
        network has answered it. Answering changes no replica's state (it is
        `on_block_request`'s output alone), so an answer is a message available from
        the moment it could be sent; adding it at once only removes the worlds where
        it is still to be sent, and no delivery of a BLOCK-REQUEST is left to
        explore. Called when a request is sent and when a replica executes a block
        (it may now answer requests already in the network)."""
        requests = self.block_requests(messages)
        if not requests:
            return messages
        key = (requests, *map(id, replicas))
        found = self.answer_memo.get(key)
        if found is None:
            found = self.answer_memo.put(key, (replicas, self.answers(replicas, requests)))
        answers = found[1]
        if answers <= messages:
            return messages
        return messages | answers

    def answers(
        self, replicas: tuple[ReplicaState | None, ...], requests: frozenset[BlockRequest]
    ) -> frozenset[Message]:
        """What the correct replicas answer to `requests`: those that hold the block
        asked for, the requester excepted."""
        answers: list[Message] = []
        for request in requests:
            for responder, state in enumerate(replicas):
                if state is None or state.height < request.height or responder == request.sender:
                    continue
                after, outputs, _ = self.step(responder, state, request)
                assert after is state or after == state, "answering a block request changes nothing"
                answers.extend(outputs)
        return frozenset(answers)

    def block_requests(self, messages: frozenset[Message]) -> frozenset[BlockRequest]:
        """The BLOCK-REQUESTs in a network. Many worlds share one network, so they
        are picked out once per network (and answered once per set of requests and
        replicas: `answer_block_requests`)."""
        found = self.request_memo.get(messages)
        if found is None:
            requests = frozenset(message for message in messages if isinstance(message, BlockRequest))
            found = self.request_memo.put(messages, requests)
        return found

    def someone_is_ahead(self, world: World, state: ReplicaState) -> bool:
        """A reduction: a FETCH timer fires only when another correct replica has
        executed beyond `state`. Its BLOCK-REQUEST changes no replica's state, and
        only a replica holding the block answers it; a request nobody can answer now
        is the same as the one the timer sends later, when someone can. (The
        adversary's answers do not wait for requests.)"""
        for other in self.live(world.replicas, world.crashed):
            if other is not None and other.height > state.height:
                return True
        return False

    def byzantine_world(self, world: World, message: Message) -> World:
        sent = world.byzantine_sent + 1
        messages = world.messages | {message}
        if sent == self.config.byzantine_messages:
            messages = self.forget_useless(self.live(world.replicas, world.crashed), messages, False)
        return World(world.replicas, messages, sent, world.crashed)

    def group_votes(self, world: World) -> tuple[tuple[Message, ...], tuple[tuple[Input, ...], ...]]:
        """Split the network into single messages and bursts of votes.

        Prepares and commits for one (view, height, digest), and checkpoint votes
        for one (height, root), are delivered together, in sender order. Which of
        them a replica has counted below its quorum is invisible (it sends nothing,
        and no invariant reads it), and every vote stays in the network for later,
        so bursts reach every outcome single deliveries reach, through fewer
        intermediate worlds. (Many worlds share one network: the split is made
        once per network.)"""
        found = self.vote_memo.get(world.messages)
        if found is None:
            found = self.vote_memo.put(world.messages, split_votes(world.messages))
        return found

    def deliveries(
        self,
        messages: frozenset[Message],
        actions: dict[tuple[Input, ...], Effect | None],
        replica: int,
        state: ReplicaState,
        singles: tuple[Message, ...],
        bursts: tuple[tuple[Input, ...], ...],
    ) -> tuple["Move", ...]:
        """Every delivery to `replica` that changes something: of each message but a
        BLOCK-REQUEST (answered as soon as it can be: `answer_block_requests`), and
        of each burst of votes. What a delivery does depends on the replica's state
        and the network alone, and many worlds share both (they differ in the other
        replicas), so the list is made once per (replica, state, network)."""
        key = (replica, id(state), messages)
        found = self.delivery_memo.get(key)
        if found is None:
            moves: list[Move | None] = []
            for message in singles:
                if not isinstance(message, BlockRequest):
                    moves.append(self.move(messages, actions, replica, state, "deliver", (message,)))
            for burst in bursts:
                moves.append(self.move(messages, actions, replica, state, "votes", burst))
            found = self.delivery_memo.put(key, (state, tuple(move for move in moves if move is not None)))
        return found[1]

    def run_inputs(
        self, replica: int, state: ReplicaState, inputs: tuple[Input, ...]
    ) -> list[tuple[Input, ReplicaState, tuple[Message, ...]]]:
        """Step one replica through `inputs`, then through the client requests that
        reach it if it executed a block: each input with the state and outputs
        it produced."""
        results: list[tuple[Input, ReplicaState, tuple[Message, ...]]] = []
        current = state
        for event in inputs:
            current, outputs, _ = self.step(replica, current, event)
            results.append((event, current, outputs))
        if current.height > state.height:
            for request in self.config.requests:
                if request.after_height <= current.height:
                    current, outputs, _ = self.step(replica, current, request.request)
                    results.append((request.request, current, outputs))
        return results

    def take(
        self,
        world: World,
        actions: dict[tuple[Input, ...], Effect | None],
        replica: int,
        state: ReplicaState,
        kind: str,
        inputs: tuple[Input, ...],
    ) -> list[tuple[Action, World]]:
        """One action of one replica (`move`), as a successor of `world` (none when it
        changes nothing). A timer may fire in every world, so what it does is
        memoised per (replica, state, network, timer), like deliveries."""
        key = (replica, id(state), world.messages, inputs)
        found = self.timer_memo.get(key)
        if found is None:
            move = self.move(world.messages, actions, replica, state, kind, inputs)
            found = self.timer_memo.put(key, (state, () if move is None else (move,)))
        return [(action, self.next_world(world, replica, state, new_state, fresh)) for action, new_state, fresh in found[1]]

    def move(
        self,
        messages: frozenset[Message],
        actions: dict[tuple[Input, ...], Effect | None],
        replica: int,
        state: ReplicaState,
        kind: str,
        inputs: tuple[Input, ...],
    ) -> "Move | None":
        """One action of one replica in a network: the action, the replica's next
        state and the messages new to the network; None when it changes nothing.
        What the replica does is memoised per (replica state, inputs)."""
        try:
            found = actions[inputs]
        except KeyError:
            found = actions[inputs] = self.effect(replica, state, inputs)
        if found is None:
            return None
        new_state, outputs, changed = found
        fresh = frozenset(message for message in outputs if message not in messages)
        if not changed and not fresh:
            return None
        return Action(kind, replica, inputs), new_state, fresh

    def effect(self, replica: int, state: ReplicaState, inputs: tuple[Input, ...]) -> Effect | None:
        """What stepping through `inputs` does to a replica: None when it changes
        nothing or leaves the bounds."""
        results = self.run_inputs(replica, state, inputs)
        new_state = results[-1][1]
        outputs: tuple[Message, ...] = ()
        for _, _, more in results:
            outputs = outputs + more
        if new_state.view > self.config.max_view:
            self.pruned += 1  # a view beyond the bounds: the step is not taken
            return None
        changed = new_state != state
        if not changed and not outputs:
            return None
        kept = self.within_bounds(outputs)
        if len(kept) < len(outputs):
            self.pruned += 1  # messages beyond the bounds are not sent; the step is taken
        return self.interned(new_state), tuple(self.interned(message) for message in kept), changed

    def next_world(
        self, world: World, replica: int, before: ReplicaState, state: ReplicaState, fresh: Collection[Message]
    ) -> World:
        messages = world.messages | frozenset(fresh) if fresh else world.messages
        replicas = world.replicas[:replica] + (state,) + world.replicas[replica + 1 :]
        live = self.live(replicas, world.crashed)
        if state.height > before.height or any(isinstance(message, BlockRequest) for message in fresh):
            messages = self.answer_block_requests(live, messages)
        if progress_mark(before) != progress_mark(state):
            # Only a replica moving on can make messages useless to everyone.
            messages = self.forget_useless(live, messages, world.byzantine_sent < self.config.byzantine_messages)
        return World(replicas, messages, world.byzantine_sent, world.crashed)

    def apply_action(
        self, world: World, action: Action
    ) -> tuple[World, list[tuple[Input, ReplicaState, tuple[Message, ...]]]]:
        """Replay one action: the next world and what each input did."""
        if action.kind == "byzantine":
            message = action.inputs[0]
            assert not isinstance(message, (ClientRequest, TimerFired))
            return self.byzantine_world(world, message), []
        if action.kind == "crash":
            return self.crash_world(world, action.replica), []
        state = world.replicas[action.replica]
        assert state is not None
        results = self.run_inputs(action.replica, state, action.inputs)
        fresh: list[Message] = []
        for _, _, outputs in results:
            for message in self.within_bounds(outputs):
                if message not in world.messages and message not in fresh:
                    fresh.append(message)
        return self.next_world(world, action.replica, state, results[-1][1], fresh), results

    def forget_useless(
        self, replicas: tuple[ReplicaState | None, ...], messages: frozenset[Message], adversary_active: bool
    ) -> frozenset[Message]:
        """A message that every correct replica has moved past (views, heights and
        stable checkpoints only grow) can never change a correct replica again, so
        it is dropped from the set: worlds that differ only in such messages are one
        world. While the adversary may still send, it keeps what it can build
        from: old pre-prepares and prepares (for prepared certificates) and the
        NEW-VIEW of a view some correct replica is still in (to vote for its
        proposals)."""
        key = (messages, self.progress(replicas), adversary_active)
        found = self.forget_memo.get(key)
        if found is None:
            found = self.forget_memo.put(key, without_useless(*key))
        return found

    def progress(self, replicas: tuple[ReplicaState | None, ...]) -> Progress:
        """How far the slowest correct replicas are; memoised, as many worlds share
        their replicas' states."""
        key = tuple(map(id, replicas))
        found = self.progress_memo.get(key)
        if found is None:
            found = self.progress_memo.put(key, (replicas, self.lowest_progress(replicas)))
        return found[1]

    def lowest_progress(self, replicas: tuple[ReplicaState | None, ...]) -> Progress:
        """The lowest view, height, stable checkpoint and entered view among correct replicas."""
        view = entered = self.config.max_view + 1
        height = stable = self.config.max_height + 1
        for state in replicas:
            if state is not None:
                view = min(view, state.view)
                height = min(height, state.height)
                stable = min(stable, state.stable.height)
                entered = min(entered, state.view if state.active else state.view - 1)
        return Progress(view, height, stable, entered)

    def requests_settled(self, world: World) -> bool:
        """Every correct replica that has not crashed executed every request. Filling the height bound does
        not count: a faulty primary could fill it with empty blocks. (The liveness
        premise, `checker.config.liveness_premise`, gives the heights every request
        needs plus every height the adversary can take.)"""
        return not self.requests_missing(world)

    def requests_missing(self, world: World) -> list[tuple[int, list[int]]]:
        """For each correct replica that has not executed every request, the indexes
        of those it has not executed (in the configuration's order)."""
        missing: list[tuple[int, list[int]]] = []
        for replica, state in enumerate(self.live(world.replicas, world.crashed)):
            if state is None:
                continue
            indexes = []
            for index, request in enumerate(self.config.requests):
                if not request_is_executed(state, request.request.transactions):
                    indexes.append(index)
            if indexes:
                missing.append((replica, indexes))
        return missing

    def lowest(self, replicas: tuple[ReplicaState | None, ...]) -> tuple[int, int, int]:
        """The lowest view, height and stable checkpoint height among correct replicas."""
        lowest_view = self.config.max_view + 1
        lowest_height = self.config.max_height + 1
        lowest_stable = self.config.max_height + 1
        for state in replicas:
            if state is not None:
                lowest_view = min(lowest_view, state.view)
                lowest_height = min(lowest_height, state.height)
                lowest_stable = min(lowest_stable, state.stable.height)
        return lowest_view, lowest_height, lowest_stable

    # --- the adversary ---
    def byzantine_menu(self, world: World) -> tuple[tuple[int, Message], ...]:
        """Every message the faulty replicas may add now: well-formed, signed with
        their own keys, built from what they have seen (everything)."""
        menu: list[tuple[int, Message]] = []
        live = self.live(world.replicas, world.crashed)
        lowest_view, lowest_height, lowest_stable = self.lowest(live)
        families = {
            "pre_prepares": self.byzantine_pre_prepares,
            "votes": self.byzantine_votes,
            "view_changes": self.byzantine_view_changes,
            "new_views": self.byzantine_new_views,
            "checkpoints": self.byzantine_checkpoints,
            "block_responses": self.byzantine_block_responses,
        }
        for sender in self.faulty:
            for family in self.config.byzantine_moves:
                menu.extend((sender, message) for message in families[family](world, sender))
        useful: list[tuple[int, Message]] = []
        for sender, message in menu:
            # Offer only what some live correct replica could still act on.
            if isinstance(message, Checkpoint):
                if message.height > lowest_stable:
                    useful.append((sender, message))
            elif message_view(message) >= lowest_view and (
                isinstance(message, (ViewChange, NewView)) or message_height(message) > lowest_height
            ):
                useful.append((sender, message))
        return tuple(useful)

    def parents(self, world: World) -> dict[int, list[ReplicaState]]:
        """Ledger states a faulty primary can build on: those of correct replicas
        (one per chain, with the earliest clock among its holders)."""
        by_chain: dict[LedgerKey, ReplicaState] = {}
        for state in world.replicas:
            if state is None:
                continue
            known = by_chain.get(state.executed)
            if known is None or state.clock_ms < known.clock_ms:
                by_chain[state.executed] = state
        by_height: dict[int, list[ReplicaState]] = {}
        for state in by_chain.values():
            by_height.setdefault(state.height, []).append(state)
        return by_height

    def candidate_blocks(self, parent: ReplicaState, proposer: str) -> list[Block]:
        """The blocks of every configured family on `parent`'s ledger, each once."""
        key = ("blocks", parent.executed, parent.clock_ms, proposer)
        cached = self.menu_cache.get(key)
        if cached is not None:
            return [m.block for m in cached if isinstance(m, PrePrepare)]
        ledger = parent.ledger
        timestamp = max(ledger.last_timestamp_ms + 1, parent.clock_ms)
        requests = self.requests_for(parent)
        blocks: list[Block] = []
        digests: set[str] = set()
        for family in self.config.byzantine_blocks:
            for stamp, txs in self.family_contents(family, timestamp, parent, requests):
                header = make_header(ledger, stamp, proposer, txs)
                if family == "bad_root":
                    header = header.model_copy(update={"transaction_root": "0" * 64})
                digest = block_hash(header)
                if digest not in digests:
                    digests.add(digest)
                    blocks.append(Block(header=header, transactions=txs))
        self.menu_cache[key] = tuple(PrePrepare(0, 0, block_hash(b.header), b, 0) for b in blocks)
        return blocks

    def family_contents(
        self, family: str, timestamp: int, parent: ReplicaState, requests: list[tuple[AnyTransaction, ...]]
    ) -> list[tuple[int, tuple[AnyTransaction, ...]]]:
        """The (timestamp, transactions) of the blocks of one family on `parent`;
        `timestamp` is what a correct primary with `parent`'s clock would stamp."""
        proposal = block_transactions(self.consensus, tuple(requests))
        if family == "empty":
            return [(timestamp, ())]
        if not proposal:
            return []
        if family == "subset":
            singles = [block_transactions(self.consensus, (request,)) for request in requests]
            return [(timestamp, txs) for txs in singles if txs and txs != proposal]
        if family == "reordered":
            reordered = block_transactions(self.consensus, tuple(reversed(requests)))
            return [(timestamp, reordered)] if reordered and reordered != proposal else []
        if family == "latest_timestamp":
            return [(max(timestamp, parent.clock_ms + MAX_CLOCK_SKEW_MS), proposal)]
        if family == "future_timestamp":
            beyond = max(self.config.latest_clock(r) for r in self.correct) + MAX_CLOCK_SKEW_MS + 1
            return [(max(timestamp, beyond), proposal)]
        return [(timestamp, proposal)]  # proposal, bad_root

    def requests_for(self, parent: ReplicaState) -> list[tuple[AnyTransaction, ...]]:
        """The requests a correct primary on `parent`'s chain would hold, in proposal order."""
        requests = []
        for request in self.config.requests:
            txs = request.request.transactions
            if request.after_height <= parent.height and not request_is_executed(parent, txs):
                requests.append(txs)
        requests.sort(key=proposal_order)
        return requests

    def byzantine_pre_prepares(self, world: World, sender: int) -> list[PrePrepare]:
        """As primary of any view within the bounds (before, during or after a view
        change): every candidate block at the height after each correct chain."""
        found: list[PrePrepare] = []
        proposer = self.consensus.platforms[sender]
        for view in range(self.config.max_view + 1):
            if primary_of(view, self.n) != sender:
                continue
            for height, parents in self.parents(world).items():
                if height + 1 > self.config.max_height:
                    continue
                for parent in parents:
                    for block in self.candidate_blocks(parent, proposer):
                        found.append(PrePrepare(view, height + 1, block_hash(block.header), block, sender))
        return found

    def proposals_seen(self, world: World) -> list[PrePrepare]:
        found: list[PrePrepare] = []
        for message in world.messages:
            if isinstance(message, PrePrepare):
                found.append(message)
            elif isinstance(message, NewView):
                found.extend(message.proposals)
        return found

    def byzantine_votes(self, world: World, sender: int) -> list[Message]:
        """Prepares and commits for anything proposed: double votes included."""
        found: list[Message] = []
        for proposal in self.proposals_seen(world):
            if proposal.sender != sender:
                found.append(Prepare(proposal.view, proposal.height, proposal.digest, sender))
            found.append(Commit(proposal.view, proposal.height, proposal.digest, sender))
        return found

    def certificates_available(self, world: World, before_view: int) -> dict[int, list[PreparedCertificate]]:
        """For each height, every prepared certificate from a view below
        `before_view` that the adversary can assemble from genuine prepares and its
        own, oldest view first."""
        prepares: dict[tuple[int, int, str], set[int]] = {}
        for message in world.messages:
            if isinstance(message, Prepare):
                prepares.setdefault((message.view, message.height, message.digest), set()).add(message.sender)
        found: dict[tuple[int, int, str], PreparedCertificate] = {}
        for proposal in self.proposals_seen(world):
            key = (proposal.view, proposal.height, proposal.digest)
            if proposal.view >= before_view or key in found:
                continue
            signers = set(prepares.get(key, set()))
            signers.add(proposal.sender)
            signers.update(self.faulty)
            if len(signers) >= self.consensus.quorum:
                found[key] = PreparedCertificate(proposal, frozenset(signers))
        by_height: dict[int, list[PreparedCertificate]] = {}
        for key in sorted(found):
            by_height.setdefault(key[1], []).append(found[key])
        return by_height

    def stable_checkpoints(self, world: World) -> list[CheckpointCertificate]:
        """Every stable checkpoint the adversary can show: genesis and those of
        correct replicas, one per height (the lowest first)."""
        by_height = {0: genesis_checkpoint(self.consensus)}
        for state in world.replicas:
            if state is not None and state.stable.height not in by_height:
                by_height[state.stable.height] = state.stable
        return [by_height[height] for height in sorted(by_height)]

    def byzantine_view_changes(self, world: World, sender: int) -> list[ViewChange]:
        """For each higher view, each checkpoint it can show (a lower one included)
        and each choice of certificates above it: at each height, none or any one it
        can assemble (from an older view included)."""
        found: list[ViewChange] = []
        checkpoints = self.stable_checkpoints(world)
        for view in range(1, self.config.max_view + 1):
            certificates = self.certificates_available(world, view)
            for checkpoint in checkpoints:
                for chosen in certificate_choices(certificates, checkpoint.height):
                    found.append(ViewChange(view, checkpoint, chosen, sender))
        return found

    def byzantine_new_views(self, world: World, sender: int) -> list[NewView]:
        """As primary of a view: a NEW-VIEW from every quorum of view changes it
        holds, one per sender, honest or not, its own included whether sent or not.
        (Replicas recompute the proposals, so they are the ones a NEW-VIEW from
        those view changes must carry.)"""
        found: list[NewView] = []
        led = [view for view in range(1, self.config.max_view + 1) if primary_of(view, self.n) == sender]
        if not led:
            return found
        own = self.byzantine_view_changes(world, sender)
        for view in led:
            by_sender: dict[int, set[ViewChange]] = {}
            for message in world.messages:
                if isinstance(message, ViewChange) and message.new_view == view:
                    by_sender.setdefault(message.sender, set()).add(message)
            by_sender.setdefault(sender, set()).update(m for m in own if m.new_view == view)
            if len(by_sender) < self.consensus.quorum:
                continue
            options = {s: sorted(changes, key=view_change_key) for s, changes in by_sender.items()}
            for senders in combinations(sorted(options), self.consensus.quorum):
                for chosen in product(*(options[s] for s in senders)):
                    checkpoint, proposals = new_view_proposals(self.consensus, view, chosen)
                    found.append(NewView(view, chosen, checkpoint, proposals, sender))
        return found

    def byzantine_checkpoints(self, world: World, sender: int) -> list[Checkpoint]:
        """A checkpoint vote for a state root nobody has, and one for the real root of
        each checkpoint height a correct replica has reached (so that, with the
        correct replicas' own votes, a stable checkpoint can run ahead of a replica
        that has not executed that height)."""
        found: list[Checkpoint] = []
        interval = self.consensus.checkpoint_interval
        for height in range(interval, self.config.max_height + 1, interval):
            found.append(Checkpoint(height, "f" * 64, sender))
        for state in world.replicas:
            if state is not None and state.height > 0 and state.height % interval == 0:
                vote = Checkpoint(state.height, self.root_of(state), sender)
                if vote not in found:
                    found.append(vote)
        return found

    def byzantine_block_responses(self, world: World, sender: int) -> list[BlockResponse]:
        """Unsolicited catch-up: to each live correct replica, the next block with a
        commit certificate the adversary can assemble from genuine commits and its
        own, whether or not the replica asked, and whatever it is doing (in a view
        change included)."""
        commits: dict[tuple[int, int, str], set[int]] = {}
        for message in world.messages:
            if isinstance(message, Commit):
                commits.setdefault((message.view, message.height, message.digest), set()).add(message.sender)
        blocks: dict[str, Block] = {}
        for proposal in self.proposals_seen(world):
            blocks[proposal.digest] = proposal.block
        found: list[BlockResponse] = []
        for (view, height, digest), signers in sorted(commits.items()):
            signers = signers | set(self.faulty)
            if len(signers) < self.consensus.quorum or digest not in blocks:
                continue
            certificate = CommitCertificate(view, height, digest, frozenset(signers))
            for requester, state in enumerate(self.live(world.replicas, world.crashed)):
                if state is not None and state.height == height - 1:
                    found.append(BlockResponse(blocks[digest], certificate, requester, sender))
        return found

    def root_of(self, state: ReplicaState) -> str:
        """The state root after `state`'s executed blocks, computed once per chain."""
        root = self.roots.get(state.executed)
        if root is None:
            root = state_root(state.ledger)
            self.roots[state.executed] = root
        return root


def without_useless(messages: frozenset[Message], progress: Progress, adversary_active: bool) -> frozenset[Message]:
    """The network less the messages no correct replica can act on: `Model.forget_useless`."""
    dropped = []
    for message in messages:
        if isinstance(message, (PrePrepare, Prepare, Commit)):
            useful = message.view >= progress.view or (adversary_active and not isinstance(message, Commit))
        elif isinstance(message, (ViewChange, NewView)):
            view = message.new_view if isinstance(message, ViewChange) else message.view
            useful = view_still_open(progress, view)
            if adversary_active and isinstance(message, NewView):
                useful = useful or view >= progress.view
        elif isinstance(message, Checkpoint):
            useful = message.height > progress.stable
        else:
            useful = message_height(message) > progress.height
        if not useful:
            dropped.append(message)
    if not dropped:
        return messages
    return messages - frozenset(dropped)  # a set difference keeps the stored hashes


def view_still_open(progress: Progress, view: int) -> bool:
    """Some correct replica has not yet entered `view` through its NEW-VIEW: one is
    in a lower view, or in `view` itself waiting for its NEW-VIEW."""
    return progress.entered < view


def split_votes(messages: frozenset[Message]) -> tuple[tuple[Message, ...], tuple[tuple[Input, ...], ...]]:
    """The single messages of a network, and its votes in bursts: `Model.group_votes`."""
    singles: list[Message] = []
    groups: dict[tuple[object, ...], list[Message]] = {}
    for message in messages:
        if isinstance(message, Prepare):
            groups.setdefault(("P", message.view, message.height, message.digest), []).append(message)
        elif isinstance(message, Commit):
            groups.setdefault(("C", message.view, message.height, message.digest), []).append(message)
        elif isinstance(message, Checkpoint):
            groups.setdefault(("K", message.height, message.state_root), []).append(message)
        else:
            singles.append(message)
    bursts: list[tuple[Input, ...]] = []
    for key in sorted(groups, key=repr):
        bursts.append(tuple(sorted(groups[key], key=vote_sender)))
    return tuple(singles), tuple(bursts)


def progress_mark(state: ReplicaState) -> tuple[int, bool, int, int]:
    """What `forget_useless` reads of a replica."""
    return state.view, state.active, len(state.executed), state.stable.height


def vote_sender(message: Input) -> int:
    assert isinstance(message, (Prepare, Commit, Checkpoint))
    return message.sender


def view_change_key(message: ViewChange) -> tuple[int, int]:
    return len(message.prepared), message.checkpoint.height


def certificate_choices(by_height: dict[int, list[Choice]], above: int) -> list[tuple[Choice, ...]]:
    """Every choice of at most one certificate per height above `above`, heights
    rising (what `view_change_is_valid` accepts), the empty choice first."""
    choices: list[tuple[Choice, ...]] = [()]
    for height in sorted(by_height):
        if height <= above:
            continue
        choices = choices + [choice + (certificate,) for choice in choices for certificate in by_height[height]]
    return choices


def message_view(message: Message) -> int:
    if isinstance(message, (PrePrepare, Prepare, Commit)):
        return message.view
    if isinstance(message, ViewChange):
        return message.new_view
    if isinstance(message, NewView):
        return message.view
    return 0


def message_height(message: Message) -> int:
    if isinstance(message, (PrePrepare, Prepare, Commit, Checkpoint, BlockRequest)):
        return message.height
    if isinstance(message, BlockResponse):
        return message.certificate.height
    if isinstance(message, NewView) and message.proposals:
        return message.proposals[-1].height
    return 0

