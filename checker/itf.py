"""Checker traces in the ITF format of Apalache and Quint, so that their users' tools
(trace viewers, Quint's model-based testing, quint-connect) can read them.

ITF (Apalache ADR-015) is JSON: `{"#meta": {...}, "vars": [...], "states": [...]}`,
each state an object of every variable's value, with `{"#meta": {"index": i}}`.
Values are tagged: an integer is `{"#bigint": "digits"}` (never a bare JSON number),
a set `{"#set": [...]}`, a map `{"#map": [[key, value], ...]}`, a tuple
`{"#tup": [...]}`; a record is an object of its fields and a variant (a tagged union)
is `{"tag": NAME, "value": ...}`. There is no null: a variant that carries nothing
carries Apalache's unit value `"U_OF_UNIT"`.

A fedspec trace (`checker.trace`, `fedspec-trace/1`) becomes one ITF state for its
initial world and one per step, each with three variables:

* `replicas`: a map from each correct replica's id to its summary: `view`, `active`,
  `height` (how many blocks it executed), `executed` (their digests, in order),
  `slot` (`Agreeing` on a height, with its view, digest and the sets of replicas
  whose PREPARE and COMMIT it holds, or `Idle`: not `Some`/`None`, because itf-py
  cannot read a variant named after a Python keyword), `stable_checkpoint` and `crashed`;
* `action`: what the step did, a variant: `init` (the client requests the replicas
  started with), `deliver`, `votes`, `timer` (a correct replica's `inputs`, each with
  the `outputs` it sent), `byzantine` (a faulty replica's `sends`) or `crash`; each
  names its `replica` (`init` names none);
* `sent`: every message the step sent, in order.

Messages and inputs keep their one JSON form (`spec.wire.json_form`) as ITF records.
The document is written through itf-py's encoder and checked by `itf_problems`,
which refuses what ITF does not allow (a bare number, a null, a malformed tag).
"""

import json
from collections import namedtuple
from typing import Any

from itf_py import State, Trace, itf_variant, trace_to_json

from checker.model import World
from checker.trace import TRACE_FORMAT, replica_summary

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
VARIABLES = ["replicas", "action", "sent"]
UNIT = "U_OF_UNIT"
"""Apalache's value of the unit type: the payload of a variant that carries nothing."""
TAGS = ("#bigint", "#set", "#map", "#tup", "#unserializable")


# --- JSON forms as itf-py values ---------------------------------------------------------------------
def record(fields: dict[str, Any]) -> Any:
    """An ITF record (itf-py writes a named tuple as one)."""
    kind = namedtuple("Record", list(fields))  # type: ignore[misc]  # field names known only here
    return kind(**fields)


def variant(tag: str, payload: Any) -> Any:
    kind = itf_variant(namedtuple(tag, ["value"]))
    return kind(value=payload)


def itf_value(data: Any) -> Any:
    """A JSON form as an itf-py value: objects become records, arrays lists, integers
    big integers. JSON forms of messages and inputs have no nulls; one here is an error."""
    if isinstance(data, dict):
        return record({key: itf_value(value) for key, value in data.items()})
    if isinstance(data, list):
        return [itf_value(item) for item in data]
    if data is None or isinstance(data, float):
        raise ValueError(f"ITF has no value for {data!r}")
    return data


# --- the states ----------------------------------------------------------------------------------------
def replica_value(summary: dict[str, Any], crashed: bool) -> Any:
    slot = summary["slot"]
    slot_value = None
    if slot is not None:
        slot_value = record({
            "view": slot["view"], "height": slot["height"], "digest": slot["digest"],
            "prepares": frozenset(slot["prepares"]), "commits": frozenset(slot["commits"]),
        })
    return record({
        "view": summary["view"],
        "active": summary["active"],
        "height": len(summary["executed"]),
        "executed": list(summary["executed"]),
        "slot": variant("Idle", UNIT) if slot_value is None else variant("Agreeing", slot_value),
        "stable_checkpoint": summary["stable_checkpoint"],
        "crashed": crashed,
    })


def replicas_value(summaries: dict[str, dict[str, Any]], crashed: set[int]) -> dict[int, Any]:
    return {int(index): replica_value(summary, int(index) in crashed) for index, summary in sorted(
        summaries.items(), key=lambda item: int(item[0]))}


def step_action(row: dict[str, Any]) -> tuple[Any, list[Any]]:
    """A step's action and the messages it sent."""
    if row["kind"] == "byzantine":
        return variant("byzantine", record({"replica": row["replica"], "sends": itf_value(row["sends"])})), [row["sends"]]
    if row["kind"] == "crash":
        return variant("crash", record({"replica": row["replica"]})), []
    inputs = [record({"input": itf_value(item["input"]), "outputs": itf_value(item["outputs"])}) for item in row["inputs"]]
    sent = [message for item in row["inputs"] for message in item["outputs"]]
    return variant(row["kind"], record({"replica": row["replica"], "inputs": inputs})), sent


def initial_action(data: dict[str, Any]) -> tuple[Any, list[Any]]:
    started = []
    sent = []
    for index, entry in sorted(data["initial"]["replicas"].items(), key=lambda item: int(item[0])):
        for item in entry["inputs"]:
            started.append(record({
                "replica": int(index), "input": itf_value(item["input"]), "outputs": itf_value(item["outputs"]),
            }))
            sent.extend(item["outputs"])
    return variant("init", record({"inputs": started})), sent


def itf_states(data: dict[str, Any], initial: dict[str, dict[str, Any]]) -> list[State]:
    action, sent = initial_action(data)
    crashed: set[int] = set()
    states = [State({"index": 0}, {"replicas": replicas_value(initial, crashed), "action": action,
                                   "sent": [itf_value(message) for message in sent]})]
    for row in data["steps"]:
        if row["kind"] == "crash":
            crashed.add(row["replica"])
        action, sent = step_action(row)
        states.append(State({"index": len(states)}, {
            "replicas": replicas_value(row["after"], crashed), "action": action,
            "sent": [itf_value(message) for message in sent],
        }))
    return states


def itf_document(data: dict[str, Any], initial: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ITF form of a fedspec trace (`data`, its JSON form) whose correct replicas
    start as `initial` summarises them (by replica id; the JSON form keeps only what
    they were given and sent, so the caller supplies their summaries)."""
    if data.get("format") != TRACE_FORMAT:
        raise ValueError(f"not a {TRACE_FORMAT} trace: format {data.get('format')!r}")
    meta = {
        "format": "ITF",
        "format-description": ITF_DESCRIPTION,
        "source": f"{TRACE_FORMAT} {data['config']['name']}",
        "description": f"{data['property']}: {data['detail']}",
    }
    document: dict[str, Any] = trace_to_json(Trace(meta, [], list(VARIABLES), itf_states(data, initial), None))
    del document["loop"]  # itf-py writes null for "no loop"; ITF leaves the key out
    problems = itf_problems(document)
    if problems:
        raise ValueError("not a valid ITF document: " + "; ".join(problems[:5]))
    return document


def world_summaries(world: World) -> dict[str, dict[str, Any]]:
    """Each correct replica's summary in a world: for a trace's initial world (a
    replayed trace's `initial`, or `Model(config).initial()`), what `itf_document` needs."""
    return {str(index): replica_summary(state) for index, state in enumerate(world.replicas) if state is not None}


# --- validation ----------------------------------------------------------------------------------------
def value_problems(value: Any, place: str) -> list[str]:
    """What in one ITF value ITF does not allow."""
    if isinstance(value, bool) or isinstance(value, str):
        return []
    if value is None or isinstance(value, (int, float)):
        return [f"{place}: {value!r} is not an ITF value (integers are {{\"#bigint\": \"...\"}}; there is no null)"]
    if isinstance(value, list):
        return [problem for index, item in enumerate(value) for problem in value_problems(item, f"{place}[{index}]")]
    if not isinstance(value, dict):
        return [f"{place}: {type(value).__name__} is not JSON"]
    tags = [key for key in value if key.startswith("#")]
    if not tags:
        return [problem for key, item in value.items() for problem in value_problems(item, f"{place}.{key}")]
    if len(value) != 1 or tags[0] not in TAGS:
        return [f"{place}: {sorted(value)} is no ITF tagged value"]
    return tagged_problems(tags[0], value[tags[0]], place)


def tagged_problems(tag: str, content: Any, place: str) -> list[str]:
    if tag == "#bigint":
        text = content[1:] if isinstance(content, str) and content.startswith("-") else content
        ok = isinstance(text, str) and text.isascii() and text.isdigit()
        return [] if ok else [f"{place}: #bigint {content!r} is not a decimal integer string"]
    if tag == "#unserializable":
        return [] if isinstance(content, str) else [f"{place}: #unserializable needs a string"]
    if not isinstance(content, list):
        return [f"{place}: {tag} needs an array"]
    if tag == "#map":
        problems = []
        for index, pair in enumerate(content):
            if not isinstance(pair, list) or len(pair) != 2:
                problems.append(f"{place}.#map[{index}]: a map entry is [key, value]")
            else:
                problems += value_problems(pair[0], f"{place}.#map[{index}].key")
                problems += value_problems(pair[1], f"{place}.#map[{index}].value")
        return problems
    return [problem for index, item in enumerate(content) for problem in value_problems(item, f"{place}.{tag}[{index}]")]


def itf_problems(document: Any) -> list[str]:
    """Everything that keeps `document` from being an ITF trace: its shape, the
    states' indices and variables, and every value."""
    if not isinstance(document, dict):
        return ["an ITF trace is a JSON object"]
    problems = [f"unknown top-level key {key!r}" for key in document if key not in {"#meta", "params", "vars", "states", "loop"}]
    variables, states = document.get("vars"), document.get("states")
    if not isinstance(variables, list) or not all(isinstance(name, str) for name in variables):
        return problems + ["vars: a list of variable names is required"]
    if not isinstance(states, list) or not states:
        return problems + ["states: a non-empty list is required"]
    for index, state in enumerate(states):
        if not isinstance(state, dict):
            problems.append(f"states[{index}]: a state is an object")
            continue
        if state.get("#meta", {}).get("index", index) != index:
            problems.append(f"states[{index}].#meta.index is {state['#meta']['index']!r}")
        if set(state) - {"#meta"} != set(variables):
            problems.append(f"states[{index}]: variables {sorted(set(state) - {'#meta'})}, not {sorted(variables)}")
        for name in variables:
            if name in state:
                problems += value_problems(state[name], f"states[{index}].{name}")
    return problems


def write_itf(path: str, document: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
