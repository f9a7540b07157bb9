"""The site's build hooks (docs/hooks.py) render the same pages on every machine.

The hooks run `fedspec check` and `fedspec prove` while the site is built. Their
wall-clock figures are replaced, and their work is bounded by counts, not seconds."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
import hooks  # noqa: E402

CHECK_OUTPUT = """states:     1027 generated, 488 distinct, depth 4
speed:      7250 distinct states/s, 0.1 s wall, 1 worker(s)
result:     witness found: witness:view_change_completes at depth 4"""

CHECK_JSON = """  "depth": 4,
  "seconds": 0.036,
  "states_per_second": 13372.0,
  "workers": 1,"""

PROVE_OUTPUT = """│ quorums.two_quorums_share_f_plus_one         │ proven │    0.01 │
│ quorums.correct_replicas_form_a_quorum       │ proven │   12.50 │
└──────────────────────────────────────────────┴────────┴─────────┘
5 obligations: 5 proven, 0 failed, 0 unknown, in 0.0 s"""


@pytest.mark.parametrize("output", [CHECK_OUTPUT, CHECK_JSON, PROVE_OUTPUT])
def test_two_runs_that_differ_only_in_time_render_the_same(output: str) -> None:
    slower = output.replace("7250", "91").replace("0.1 s", "58.0 s").replace("0.036", "9.5")
    slower = slower.replace("13372.0", "7.0").replace("0.01", "3.20").replace("12.50", "0.02").replace("in 0.0 s", "in 58.1 s")
    assert slower != output
    assert hooks.without_wall_clock(slower) == hooks.without_wall_clock(output)


def test_counts_and_results_are_kept() -> None:
    rendered = hooks.without_wall_clock(CHECK_OUTPUT + "\n" + CHECK_JSON + "\n" + PROVE_OUTPUT)
    for kept in ("488 distinct", "depth 4", '"workers": 1', "│ proven │", "5 obligations: 5 proven"):
        assert kept in rendered
    for removed in ("7250", "0.036", "13372", "0.01", "12.50", "in 0.0 s"):
        assert removed not in rendered


def test_negative_control_a_pattern_left_out_lets_a_time_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "TIMING_PATTERNS", hooks.TIMING_PATTERNS[1:])
    assert "7250" in hooks.without_wall_clock(CHECK_OUTPUT)


def test_no_hook_reads_the_clock() -> None:
    source = Path(hooks.__file__).read_text(encoding="utf-8")
    for clock in ("import time", "perf_counter", "monotonic(", "datetime"):
        assert clock not in source


def test_identifiers_in_table_cells_break_only_between_words() -> None:
    html = "<td><code>block_height_mismatch</code></td><p><code>not_in_a_table</code></p>"
    rendered = hooks.on_page_content(html)
    assert "<code>block_<wbr>height_<wbr>mismatch</code>" in rendered
    assert "<code>not_in_a_table</code>" in rendered


def test_a_long_hash_in_a_cell_breaks_every_16_digits() -> None:
    digest = "ab" * 32
    rendered = hooks.with_break_opportunities(digest)
    assert rendered.replace("<wbr>", "") == digest
    assert [len(part) for part in rendered.split("<wbr>")] == [16, 16, 16, 16]


def test_negative_control_a_cell_left_without_breaks_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "with_break_opportunities", lambda code: code)
    with pytest.raises(AssertionError):
        test_identifiers_in_table_cells_break_only_between_words()
