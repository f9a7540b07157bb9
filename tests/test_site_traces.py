"""The traces the site draws (docs/traces/, written by docs/record_traces.py) are runs
of the spec as it is now: each replays, input by input, to exactly its recorded
outputs, so a picture on the site never shows a run the spec no longer makes."""

import json
import sys
from pathlib import Path

import pytest
from test_checker import EXPECTED_FINDINGS, assert_trace_replays

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import record_traces  # noqa: E402

CONFIGS = record_traces.traced_configs()


def config_name(config: Path) -> str:
    return str(config.relative_to(ROOT / "configs"))


def test_every_witness_and_control_has_a_recorded_trace() -> None:
    recorded = sorted(path.name for path in record_traces.TRACES.glob("*.trace.json"))
    assert recorded == sorted(record_traces.trace_path(config).name for config in CONFIGS)
    assert {config_name(config) for config in CONFIGS} <= set(EXPECTED_FINDINGS)


@pytest.mark.parametrize("config", CONFIGS, ids=config_name)
def test_a_recorded_trace_replays_on_the_spec_as_it_is(config: Path) -> None:
    data = json.loads(record_traces.trace_path(config).read_text(encoding="utf-8"))
    assert data["property"] == EXPECTED_FINDINGS[config_name(config)] or data["property"].startswith("witness:")
    assert_trace_replays(data, config_name(config))


def test_negative_control_a_recorded_output_changed_does_not_replay() -> None:
    config = ROOT / "configs" / "witnesses" / "block_commits.toml"
    data = json.loads(record_traces.trace_path(config).read_text(encoding="utf-8"))
    for row in data["steps"]:
        for item in row.get("inputs", []):
            if item["outputs"]:
                item["outputs"] = item["outputs"][1:]
                with pytest.raises(AssertionError):
                    assert_trace_replays(data, config_name(config))
                return
    pytest.fail("the trace has no step with outputs to change")
