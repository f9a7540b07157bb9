"""Traces: a counterexample or a witness, replayed step by step, printed for people
and exported as JSON for machines.

The explorer keeps, for each world, only the edge that first reached it. A trace
is those edges from the initial world, replayed through the same spec step
functions, so every output in it is recomputed, not remembered. With symmetry on,
edges name replicas as the canonical worlds do; the replay undoes the renamings,
so the trace speaks of the replicas of the configuration.

The JSON form (`format: fedspec-trace/1`) lists, per step, the replica, each input
it was given and the outputs that input produced, so an implementation can be
driven through the same inputs and compared output by output. Inputs, messages
and the genesis are in their one JSON form (`spec.wire.json_form`), read back by
`spec.wire.json_form.input_from_json`.
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
from spec.wire.json_form import to_json
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    ClientRequest,
    Commit,
    Input,
    Message,
    NewView,
    Prepare,
    PrePrepare,
    TimerFired,
    ViewChange,
)

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
    again = check_world(world, ChainChecks(model.real, config.consensus.platforms), SentMessageChecks(config.consensus))
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


# --- JSON ---------------------------------------------------------------------------------------
def replica_summary(state: ReplicaState) -> dict[str, Any]:
    """What a trace shows of a replica after each step: a summary, not the replica's
    whole state (which is not a wire object and has no JSON form)."""
    slot = None
    if state.slot is not None:
        slot = {
            "view": state.slot.pre_prepare.view,
            "height": state.slot.pre_prepare.height,
            "digest": state.slot.pre_prepare.digest,
            "prepares": to_json(state.slot.prepares),
            "commits": to_json(state.slot.commits),
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
            row["sends"] = to_json(action.inputs[0])
        elif action.kind == "crash":
            pass  # the replica stops: nothing is sent or received
        else:
            row["inputs"] = [
                {"input": to_json(event), "outputs": [to_json(m) for m in outputs]}
                for event, _, outputs in step.results
            ]
        row["after"] = {
            str(index): replica_summary(state) for index, state in enumerate(step.world.replicas) if state is not None
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
        "genesis": to_json(config.genesis),
        "property": finding.property,
        "detail": finding.detail,
        "initial": {
            "replicas": {
                str(index): {
                    "inputs": [
                        {"input": to_json(event), "outputs": [to_json(m) for m in outputs]}
                        for event, outputs in trace.initial_results.get(index, [])
                    ]
                }
                for index, state in enumerate(initial.replicas)
                if state is not None
            },
            "network": [to_json(m) for m in sorted(initial.messages, key=repr)],
        },
        "steps": step_rows,
    }


def write_trace(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
