"""Traces: a counterexample or a witness, replayed step by step, printed for people
and exported as JSON for machines.

The explorer keeps, for each world, only the edge that first reached it. A trace
is those edges from the initial world, replayed through the same spec step
functions, so every output in it is recomputed, not remembered. With symmetry on,
edges name replicas as the canonical worlds do; the replay undoes the renamings,
so the trace speaks of the replicas of the configuration.

The JSON form (`format: fedspec-trace/1`) lists, per step, the replica, each input
it was given and the outputs that input produced, so an implementation can be
driven through the same inputs and compared output by output.
"""

import json
from dataclasses import dataclass
from typing import Any

from checker.config import CheckerConfig
from checker.explore import Edge
from checker.invariants import ChainChecks, Finding, SentMessageChecks, check_world, witness_reached
from checker.model import Action, Model, World
from checker.symmetry import Renaming, compose, invert, rename_action
from spec.pbft import ReplicaState
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
from spec.wire.types import Block, Transaction

TRACE_FORMAT = "fedspec-trace/1"


@dataclass
class TraceStep:
    number: int
    action: Action
    results: list[tuple[Input, ReplicaState, tuple[Message, ...]]]
    """Each input the replica stepped on, its state after, and what it sent."""
    world: World
    """The world after the step."""


@dataclass
class Trace:
    initial: World
    initial_results: dict[int, list[tuple[Input, tuple[Message, ...]]]]
    """What each correct replica sent on the requests it started with."""
    steps: list[TraceStep]


def replay(config: CheckerConfig, edges: list[Edge]) -> Trace:
    """Re-run a trace from the initial world."""
    model = Model(config)
    world = model.initial()
    initial = world
    sigma: Renaming = initial_renaming(config, world)
    steps: list[TraceStep] = []
    for number, (_, action, renaming) in enumerate(edges, start=1):
        concrete = rename_action(action, invert(sigma))
        world, results = model.apply_action(world, concrete)
        steps.append(TraceStep(number, concrete, results, world))
        sigma = compose(renaming, sigma)
    return Trace(initial, model.initial_results, steps)


def concrete_finding(config: CheckerConfig, trace: Trace, finding: Finding) -> Finding:
    """The finding as the replayed world states it: with symmetry on, the search saw
    renamed replicas, and its detail may name the wrong ones."""
    world = trace.steps[-1].world if trace.steps else trace.initial
    model = Model(config)
    again = check_world(world, ChainChecks(model.real), SentMessageChecks(config.consensus))
    if again is None and config.witness is not None:
        again = witness_reached(model, world, config.witness)
    if again is not None and again.property == finding.property:
        return again
    return finding


def initial_renaming(config: CheckerConfig, world: World) -> Renaming:
    if not config.symmetry:
        return ()
    from checker.symmetry import Symmetry

    return Symmetry(config).canonical(world)[1]


# --- text ---------------------------------------------------------------------------------------
def short(digest: str) -> str:
    return digest[:8]


def names(config: CheckerConfig, replicas: frozenset[int] | set[int]) -> str:
    return "{" + ", ".join(config.consensus.platforms[r] for r in sorted(replicas)) + "}"


def describe(config: CheckerConfig, event: Input) -> str:
    """One line for a message or an input, naming replicas by platform."""
    platform = config.consensus.platforms
    if isinstance(event, ClientRequest):
        kinds = "+".join(tx.type for tx in event.transactions)
        return f"client request {kinds}"
    if isinstance(event, TimerFired):
        return f"{event.timer.value} timer"
    if isinstance(event, PrePrepare):
        return (
            f"PRE-PREPARE v{event.view} h{event.height} {short(event.digest)} "
            f"({len(event.block.transactions)} txs, t={event.block.header.timestamp_ms}) from {platform[event.sender]}"
        )
    if isinstance(event, Prepare):
        return f"PREPARE v{event.view} h{event.height} {short(event.digest)} from {platform[event.sender]}"
    if isinstance(event, Commit):
        return f"COMMIT v{event.view} h{event.height} {short(event.digest)} from {platform[event.sender]}"
    if isinstance(event, Checkpoint):
        return f"CHECKPOINT h{event.height} root {short(event.state_root)} from {platform[event.sender]}"
    if isinstance(event, ViewChange):
        prepared = ", ".join(
            f"h{c.pre_prepare.height}:{short(c.pre_prepare.digest)}@v{c.pre_prepare.view}" for c in event.prepared
        )
        return (
            f"VIEW-CHANGE to v{event.new_view} checkpoint h{event.checkpoint.height} "
            f"prepared [{prepared}] from {platform[event.sender]}"
        )
    if isinstance(event, NewView):
        proposals = ", ".join(f"h{p.height}:{short(p.digest)}" for p in event.proposals)
        senders = {v.sender for v in event.view_changes}
        return f"NEW-VIEW v{event.view} from {platform[event.sender]} on view changes of {names(config, senders)}, re-proposing [{proposals}]"
    if isinstance(event, BlockRequest):
        return f"BLOCK-REQUEST h{event.height} from {platform[event.sender]}"
    assert isinstance(event, BlockResponse)
    certificate = event.certificate
    return (
        f"BLOCK-RESPONSE h{certificate.height} {short(certificate.digest)} for {platform[event.requester]} "
        f"with commits of {names(config, certificate.commits)} from {platform[event.sender]}"
    )


def replica_line(config: CheckerConfig, state: ReplicaState) -> str:
    platform = config.consensus.platforms[state.replica]
    mode = "active" if state.active else "view-changing"
    executed = " ".join(short(d) for d in state.executed) or "-"
    slot = "-"
    if state.slot is not None:
        pre = state.slot.pre_prepare
        slot = f"h{pre.height} {short(pre.digest)} prepares {names(config, state.slot.prepares)}"
        if state.slot.commits:
            slot += f" commits {names(config, state.slot.commits)}"
    return f"{platform:>10}: view {state.view} {mode}; executed [{executed}]; agreeing on {slot}"


def render(config: CheckerConfig, trace: Trace, finding: Finding) -> str:
    platform = config.consensus.platforms
    model = Model(config)  # to ask each step again for its refusal (memoised, and with the configuration's mutant)
    initial, steps = trace.initial, trace.steps
    lines = [f"{finding.property}: {finding.detail}", "", "initial world:"]
    for state in initial.replicas:
        if state is not None:
            lines.append("  " + replica_line(config, state))
    for message in sorted(initial.messages, key=repr):
        lines.append("  in the network: " + describe(config, message))
    before = initial
    for step in steps:
        action = step.action
        who = platform[action.replica]
        lines.append("")
        if action.kind == "byzantine":
            lines.append(f"{step.number:>3}. {who} (faulty) sends {describe(config, action.inputs[0])}")
        elif action.kind == "crash":
            lines.append(f"{step.number:>3}. {who} crashes (stops for good)")
        else:
            previous = before.replicas[action.replica]
            assert previous is not None, "only a correct replica steps on inputs"
            shown = 0
            for event, state, outputs in step.results:
                refusal = model.step(action.replica, previous, event).refusal
                if refusal is None and state == previous and not outputs:
                    continue  # taken, but it changed nothing (a vote in a burst, say)
                prefix = f"{step.number:>3}. " if shown == 0 else "     "
                if refusal is None:
                    lines.append(f"{prefix}{who} receives {describe(config, event)}")
                else:
                    lines.append(f"{prefix}{who} ignores {describe(config, event)}: {refusal.value}")
                for message in outputs:
                    lines.append(f"       -> sends {describe(config, message)}")
                previous = state
                shown += 1
        before = step.world
        for state in step.world.replicas:
            if state is not None:
                crashed = " (crashed)" if state.replica in step.world.crashed else ""
                lines.append("     " + replica_line(config, state) + crashed)
    return "\n".join(lines)


# --- JSON -----------------------------------------------------------------------------------------
def block_json(block: Block) -> dict[str, Any]:
    data: dict[str, Any] = block.model_dump(mode="json")
    return data


def prepared_json(certificate: PreparedCertificate) -> dict[str, Any]:
    return {"pre_prepare": message_json(certificate.pre_prepare), "prepares": sorted(certificate.prepares)}


def checkpoint_certificate_json(certificate: CheckpointCertificate) -> dict[str, Any]:
    return {"height": certificate.height, "state_root": certificate.state_root, "signers": sorted(certificate.signers)}


def message_json(event: Input) -> dict[str, Any]:
    """A message or input as JSON. Replicas are named by their index in the genesis
    platform list."""
    if isinstance(event, ClientRequest):
        return {"type": "CLIENT_REQUEST", "transactions": [tx.model_dump(mode="json") for tx in event.transactions]}
    if isinstance(event, TimerFired):
        return {"type": "TIMER", "timer": event.timer.value, "now_ms": event.now_ms}
    if isinstance(event, PrePrepare):
        return {
            "type": "PRE_PREPARE",
            "view": event.view,
            "height": event.height,
            "digest": event.digest,
            "block": block_json(event.block),
            "sender": event.sender,
        }
    if isinstance(event, (Prepare, Commit)):
        kind = "PREPARE" if isinstance(event, Prepare) else "COMMIT"
        return {"type": kind, "view": event.view, "height": event.height, "digest": event.digest, "sender": event.sender}
    if isinstance(event, Checkpoint):
        return {"type": "CHECKPOINT", "height": event.height, "state_root": event.state_root, "sender": event.sender}
    if isinstance(event, ViewChange):
        return {
            "type": "VIEW_CHANGE",
            "new_view": event.new_view,
            "checkpoint": checkpoint_certificate_json(event.checkpoint),
            "prepared": [prepared_json(c) for c in event.prepared],
            "sender": event.sender,
        }
    if isinstance(event, NewView):
        return {
            "type": "NEW_VIEW",
            "view": event.view,
            "view_changes": [message_json(v) for v in event.view_changes],
            "checkpoint": checkpoint_certificate_json(event.checkpoint),
            "proposals": [message_json(p) for p in event.proposals],
            "sender": event.sender,
        }
    if isinstance(event, BlockRequest):
        return {"type": "BLOCK_REQUEST", "height": event.height, "sender": event.sender}
    assert isinstance(event, BlockResponse)
    certificate = event.certificate
    return {
        "type": "BLOCK_RESPONSE",
        "block": block_json(event.block),
        "certificate": {
            "view": certificate.view,
            "height": certificate.height,
            "digest": certificate.digest,
            "commits": sorted(certificate.commits),
        },
        "requester": event.requester,
        "sender": event.sender,
    }


def input_from_json(data: dict[str, Any]) -> Input:
    """The inverse of `message_json` (used to replay exported traces)."""
    from pydantic import TypeAdapter

    kind = data["type"]
    if kind == "CLIENT_REQUEST":
        adapter: TypeAdapter[Any] = TypeAdapter(Transaction)
        return ClientRequest(tuple(adapter.validate_json(json.dumps(tx)) for tx in data["transactions"]))
    if kind == "TIMER":
        return TimerFired(Timer(data["timer"]), data["now_ms"])
    if kind == "PRE_PREPARE":
        block = Block.model_validate_json(json.dumps(data["block"]))
        return PrePrepare(data["view"], data["height"], data["digest"], block, data["sender"])
    if kind == "PREPARE":
        return Prepare(data["view"], data["height"], data["digest"], data["sender"])
    if kind == "COMMIT":
        return Commit(data["view"], data["height"], data["digest"], data["sender"])
    if kind == "CHECKPOINT":
        return Checkpoint(data["height"], data["state_root"], data["sender"])
    if kind == "VIEW_CHANGE":
        return view_change_from_json(data)
    if kind == "NEW_VIEW":
        changes = tuple(view_change_from_json(v) for v in data["view_changes"])
        proposals = tuple(input_from_json(p) for p in data["proposals"])
        assert all(isinstance(p, PrePrepare) for p in proposals)
        return NewView(
            data["view"], changes, checkpoint_certificate_from_json(data["checkpoint"]), proposals, data["sender"]  # type: ignore[arg-type]
        )
    if kind == "BLOCK_REQUEST":
        return BlockRequest(data["height"], data["sender"])
    if kind == "BLOCK_RESPONSE":
        raw = data["certificate"]
        certificate = CommitCertificate(raw["view"], raw["height"], raw["digest"], frozenset(raw["commits"]))
        return BlockResponse(
            Block.model_validate_json(json.dumps(data["block"])), certificate, data["requester"], data["sender"]
        )
    raise ValueError(f"unknown message type {kind!r}")


def checkpoint_certificate_from_json(data: dict[str, Any]) -> CheckpointCertificate:
    return CheckpointCertificate(data["height"], data["state_root"], frozenset(data["signers"]))


def view_change_from_json(data: dict[str, Any]) -> ViewChange:
    prepared = []
    for raw in data["prepared"]:
        pre_prepare = input_from_json(raw["pre_prepare"])
        assert isinstance(pre_prepare, PrePrepare)
        prepared.append(PreparedCertificate(pre_prepare, frozenset(raw["prepares"])))
    return ViewChange(data["new_view"], checkpoint_certificate_from_json(data["checkpoint"]), tuple(prepared), data["sender"])


def replica_json(state: ReplicaState) -> dict[str, Any]:
    slot = None
    if state.slot is not None:
        slot = {
            "view": state.slot.pre_prepare.view,
            "height": state.slot.pre_prepare.height,
            "digest": state.slot.pre_prepare.digest,
            "prepares": sorted(state.slot.prepares),
            "commits": sorted(state.slot.commits),
        }
    return {
        "view": state.view,
        "active": state.active,
        "executed": list(state.executed),
        "slot": slot,
        "stable_checkpoint": state.stable.height,
    }


def trace_json(config: CheckerConfig, trace: Trace, finding: Finding) -> dict[str, Any]:
    platform = config.consensus.platforms
    initial, steps = trace.initial, trace.steps
    step_rows = []
    for step in steps:
        action = step.action
        row: dict[str, Any] = {"step": step.number, "kind": action.kind, "replica": action.replica}
        if action.kind == "byzantine":
            row["sends"] = message_json(action.inputs[0])
        elif action.kind == "crash":
            pass  # the replica stops: nothing is sent or received
        else:
            row["inputs"] = [
                {"input": message_json(event), "outputs": [message_json(m) for m in outputs]}
                for event, _, outputs in step.results
            ]
        row["after"] = {
            str(index): replica_json(state) for index, state in enumerate(step.world.replicas) if state is not None
        }
        step_rows.append(row)
    return {
        "format": TRACE_FORMAT,
        "config": {
            "name": config.name,
            "replicas": list(platform),
            "faulty": sorted(config.faulty),
            "f": config.consensus.f,
            "quorum": config.consensus.quorum,
            "checkpoint_interval": config.consensus.checkpoint_interval,
            "watermark_window": config.consensus.watermark_window,
            "max_block_transactions": config.consensus.max_block_transactions,
            "clock_ms": config.clock_ms,
            "clocks_ms": {str(index): config.start_clock(index) for index in config.correct},
            "mutant": config.mutant,
        },
        "genesis": config.genesis.model_dump(mode="json"),
        "property": finding.property,
        "detail": finding.detail,
        "initial": {
            "replicas": {
                str(index): {
                    "inputs": [
                        {"input": message_json(event), "outputs": [message_json(m) for m in outputs]}
                        for event, outputs in trace.initial_results.get(index, [])
                    ]
                }
                for index, state in enumerate(initial.replicas)
                if state is not None
            },
            "network": [message_json(m) for m in sorted(initial.messages, key=repr)],
        },
        "steps": step_rows,
    }


def write_trace(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
