"""Checker traces in ITF (checker.itf), the trace format of Apalache and Quint: a witness
trace exports, reads back with itf-py (the reader Quint users' Python tools use) to
the same replicas, actions and messages, one state per step plus the initial one;
`fedspec check --itf` writes it. Negative controls: documents ITF does not allow (a
bare big integer, a null, a malformed tag, a state out of place) are refused by the
validator, and one that itf-py's reader itself refuses."""

import copy
import json
from pathlib import Path
from typing import Any

import itf_py
import pytest
from typer.testing import CliRunner

from checker.config import load_config
from checker.itf import VARIABLES, itf_document, itf_problems, world_summaries
from checker.model import Model
from fedspec.cli import app
from spec.wire.json_form import to_json

ROOT = Path(__file__).resolve().parent.parent
WITNESS = "block_commits"


def witness_trace() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The recorded witness trace and its replicas' initial summaries, from the model
    of its configuration (checked to be the start the trace records)."""
    data = json.loads((ROOT / "docs" / "traces" / f"{WITNESS}.trace.json").read_text(encoding="utf-8"))
    model = Model(load_config(ROOT / "configs" / "witnesses" / f"{WITNESS}.toml"))
    initial = model.initial()
    for index, entry in data["initial"]["replicas"].items():
        recorded = [(item["input"], item["outputs"]) for item in entry["inputs"]]
        started = model.initial_results.get(int(index), [])
        assert [(to_json(event), [to_json(message) for message in outputs]) for event, outputs in started] == recorded
    return data, world_summaries(initial)


@pytest.fixture(scope="module")
def exported() -> tuple[dict[str, Any], dict[str, Any]]:
    data, initial = witness_trace()
    return data, itf_document(data, initial)


def without_loop(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "loop"}


def test_a_witness_exports_one_state_per_step_and_the_initial_one(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    data, document = exported
    assert itf_problems(document) == []
    assert document["vars"] == VARIABLES
    assert len(document["states"]) == len(data["steps"]) + 1
    assert [state["#meta"]["index"] for state in document["states"]] == list(range(len(data["steps"]) + 1))
    assert data["property"] in document["#meta"]["description"]


def test_itf_py_reads_it_back_to_the_trace(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    data, document = exported
    trace = itf_py.trace_from_json(json.loads(json.dumps(document)))
    assert len(trace.states) == len(data["steps"]) + 1
    for state, row in zip(trace.states[1:], data["steps"], strict=True):
        replicas = state.values["replicas"]
        assert sorted(replicas) == sorted(int(index) for index in row["after"])
        for index, summary in row["after"].items():
            replica = replicas[int(index)]
            assert list(replica.executed) == summary["executed"]
            assert replica.height == len(summary["executed"])
            assert (replica.view, replica.active) == (summary["view"], summary["active"])
            if summary["slot"] is None:
                assert type(replica.slot).__name__ == "Idle"
            else:
                assert type(replica.slot).__name__ == "Agreeing"
                assert replica.slot.prepares == frozenset(summary["slot"]["prepares"])
        action = state.values["action"]
        assert type(action).__name__ == row["kind"]
        assert action.replica == row["replica"]  # itf-py reads a variant of a record as that record
        sent = [item["outputs"] for item in row.get("inputs", [])]
        expected = [message for outputs in sent for message in outputs] or ([row["sends"]] if "sends" in row else [])
        assert [message.type for message in state.values["sent"]] == [message["type"] for message in expected]
    assert without_loop(itf_py.trace_to_json(trace)) == document


def test_fedspec_check_writes_the_itf_beside_the_trace(tmp_path: Path) -> None:
    trace_path, itf_path = tmp_path / "witness.trace.json", tmp_path / "witness.itf.json"
    config = ROOT / "configs" / "witnesses" / f"{WITNESS}.toml"
    result = CliRunner().invoke(app, ["check", str(config), "--trace", str(trace_path), "--itf", str(itf_path)])
    assert result.exit_code == 0, result.output  # the witness found, as expected
    document = json.loads(itf_path.read_text(encoding="utf-8"))
    data = json.loads(trace_path.read_text(encoding="utf-8"))
    assert itf_problems(document) == []
    assert len(itf_py.trace_from_json(document).states) == len(data["steps"]) + 1


# --- negative controls -----------------------------------------------------------------------------------
def first_bigint_place(value: Any) -> tuple[Any, Any] | None:
    """The container and key of the first {"#bigint": ...} inside `value`."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        if isinstance(item, dict) and set(item) == {"#bigint"}:
            return value, key
        found = first_bigint_place(item)
        if found is not None:
            return found
    return None


def broken_documents(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    broken: dict[str, dict[str, Any]] = {}
    raw = copy.deepcopy(document)
    place = first_bigint_place(raw["states"])
    assert place is not None
    container, key = place
    container[key] = int(container[key]["#bigint"])
    broken["a raw big integer"] = raw
    null = copy.deepcopy(document)
    null["states"][0]["sent"] = None
    broken["a null"] = null
    digits = copy.deepcopy(document)
    place = first_bigint_place(digits["states"])
    assert place is not None
    container, key = place
    container[key] = {"#bigint": "12a"}
    broken["a big integer of other than digits"] = digits
    unknown = copy.deepcopy(document)
    unknown["states"][0]["sent"] = {"#list": []}
    broken["an unknown tag"] = unknown
    index = copy.deepcopy(document)
    index["states"][1]["#meta"]["index"] = 7
    broken["a state out of place"] = index
    missing = copy.deepcopy(document)
    del missing["states"][-1]["action"]
    broken["a state without a variable"] = missing
    return broken


def test_the_validator_refuses_what_itf_does_not_allow(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, document = exported
    for name, broken in broken_documents(document).items():
        assert itf_problems(broken), name


def test_a_raw_big_integer_passes_itf_py_but_not_the_validator(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Why the validator exists: itf-py's reader takes a bare JSON number as it is."""
    _, document = exported
    raw = broken_documents(document)["a raw big integer"]
    itf_py.trace_from_json(raw)
    assert any("is not an ITF value" in problem for problem in itf_problems(raw))


def test_itf_py_refuses_a_map_entry_that_is_not_a_pair(exported: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, document = exported
    broken = copy.deepcopy(document)
    entries = broken["states"][0]["replicas"]["#map"]
    entries[0] = entries[0] + [entries[0][1]]
    with pytest.raises(ValueError):
        itf_py.trace_from_json(broken)
    assert itf_problems(broken)


def test_a_json_file_of_another_format_is_not_exported() -> None:
    data, initial = witness_trace()
    with pytest.raises(ValueError, match="fedspec-trace/1"):
        itf_document({**data, "format": "something-else"}, initial)
