"""The `replica` runner: one replica from genesis and a sequence of inputs, each
delivered through `steps` in one request.

A case's `case.json`:

* `init`: what the runner sends in `init`: the `genesis`, the `replica` id, its
  `secret_key` (a test key, for nodes that sign what they send), the `consensus`
  settings and the replica's starting `clock_ms`;
* `steps`: one object per input, in order:
  * `input`: the input in its protocol form (a client request's transactions in
    canonical bytes, a timer with its clock reading, a message in its signed
    envelope), and `readable`: its JSON form, for people (absent for bytes that are
    not a message);
  * `expected`: what the replica answers: the `outputs` (each message's canonical
    bytes, in order), the blocks `executed` by this input, the `refusal` (a name
    from `spec.refusals`, `spec.wire.envelope`'s refusals or `spec.wire.decoding`'s
    failures; null when the input was taken), and the `state_root`, `view` and
    `height` after it; `readable_outputs` are the outputs' JSON forms.

The node passes when every step's answer equals the expected one.
"""

from typing import Any

from conformance import spec_node
from conformance.cases import Case
from conformance.protocol import PROTOCOL_VERSION, ConsensusSettings, input_form
from conformance.suite import Nodes, json_differences
from spec.wire.decoding import DecodeError, decode_consensus_message
from spec.wire.json_form import to_json
from spec.wire.messages import Input, ReplicaId
from spec.wire.types import Genesis

NAME = "replica"
COMPARED = ("outputs", "executed", "refusal", "state_root", "view", "height")
"""The fields of a step's answer the runner compares."""


def readable_message(text: str) -> Any:
    _, message = decode_consensus_message(bytes.fromhex(text))
    return to_json(message)


def replica_case(
    handler: str, name: str, description: str, genesis: Genesis, seeds: dict[ReplicaId, bytes], replica: ReplicaId,
    settings: ConsensusSettings, clock_ms: int, inputs: list[Input | dict[str, Any]],
) -> Case:
    """A case whose expected answers are the spec node's. An input is a replica input
    (sealed here with `seeds`, every replica's test key) or, for bytes a boundary must
    refuse, a protocol form written out."""
    init = {
        "genesis": to_json(genesis), "replica": replica, "secret_key": seeds[replica].hex(),
        "consensus": settings.form(), "clock_ms": clock_ms,
    }
    node, _ = spec_node.on_init({"protocol": PROTOCOL_VERSION, **init})
    steps = []
    for event in inputs:
        if isinstance(event, dict):
            form, readable = event, None
        else:
            form, readable = input_form(genesis.chain_id, seeds, event), to_json(event)
        answer = spec_node.step_once(node, form)
        expected = {key: answer[key] for key in COMPARED}
        expected["readable_outputs"] = [readable_message(text) for text in answer["outputs"]]
        step: dict[str, Any] = {"input": form, "expected": expected}
        if readable is not None:
            step["readable"] = readable
        steps.append(step)
    return Case(NAME, handler, name, description, {"init": init, "steps": steps})


def run_case(nodes: Nodes, case: Case) -> list[str]:
    session = nodes.session()
    session.init(case.data["init"])
    steps = case.data["steps"]
    answer = session.request({"type": "steps", "inputs": [step["input"] for step in steps]})
    results = answer.get("results")
    if not isinstance(results, list) or len(results) != len(steps):
        return [f"steps: expected {len(steps)} results, got {json_differences([], results)[:1] or results!r:.200}"]
    for number, (step, result) in enumerate(zip(steps, results, strict=True), start=1):
        expected = {key: step["expected"][key] for key in COMPARED}
        got = {key: result.get(key) if isinstance(result, dict) else None for key in COMPARED}
        differences = json_differences(expected, got, f"step {number}")
        if differences:
            return differences + readable_output_differences(step, got, number)
    return []


def readable_output_differences(step: dict[str, Any], got: dict[str, Any], number: int) -> list[str]:
    """When outputs differ, the same difference between their JSON forms, which people read."""
    if step["expected"]["outputs"] == got["outputs"] or not isinstance(got["outputs"], list):
        return []
    try:
        readable = [readable_message(text) for text in got["outputs"]]
    except (DecodeError, ValueError, TypeError) as error:
        return [f"step {number}: an output is not a consensus message: {error}"]
    return ["in JSON form:"] + json_differences(step["expected"]["readable_outputs"], readable, f"step {number}.outputs")


def generate() -> list[Case]:
    from conformance.replica_vectors import replica_cases

    cases: list[Case] = replica_cases()
    return cases
