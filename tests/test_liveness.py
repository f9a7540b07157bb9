"""The liveness check: bottom strongly connected components of the correct-only graph
on small hand-made graphs, the settled predicate (filling the height bound is not
settled), the negative controls, and the liveness premise that configurations which
expect to pass must meet."""

import dataclasses
from pathlib import Path

import pytest

from checker.config import CheckerConfig, ConfigError, liveness_premise, load_config
from checker.explore import Edge, Outcome, explore
from checker.liveness import BottomComponents, bottom_components, check_liveness, correct_only_graph, stuck
from checker.model import Action, Model, World
from spec.pbft import request_is_executed

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
CENSORING = CONFIGS / "controls/liveness_censoring_primary.toml"


# --- bottom components on hand-made graphs ---------------------------------------------------
def components(
    edges: list[tuple[int, int, bool]], settled: set[int], worlds: list[int] | None = None
) -> BottomComponents:
    nodes = worlds if worlds is not None else sorted({fp for s, t, _ in edges for fp in (s, t)})
    return bottom_components(correct_only_graph(nodes, edges), settled)


def test_a_bottom_cycle_of_unsettled_worlds_is_a_violation() -> None:
    # 0 -> 1 -> 2 -> 3 -> 1: the run goes round 1, 2, 3 for ever, none settled.
    found = components([(0, 1, False), (1, 2, False), (2, 3, False), (3, 1, False)], settled=set())
    assert found.total == 1
    assert found.unsettled == [frozenset({1, 2, 3})]
    assert found.unsettled_worlds == 3


def test_a_settled_sink_is_no_violation() -> None:
    # 0 -> 1 -> 2, 2 settled (its self-loop is left out of the graph).
    found = components([(0, 1, False), (1, 2, False), (2, 2, False)], settled={2})
    assert found.total == 1
    assert found.unsettled == []


def test_an_unsettled_cycle_that_can_escape_is_no_violation() -> None:
    # 1 <-> 2 is a strongly connected component of unsettled worlds, but 2 -> 3 leaves
    # it for a settled world: a fair run does not stay in it.
    found = components([(0, 1, False), (1, 2, False), (2, 1, False), (2, 3, False)], settled={3})
    assert found.total == 1
    assert found.unsettled == []


def test_an_unsettled_sink_beside_a_settled_one_is_a_violation() -> None:
    # From 0 a run may end in 2 (settled) or in 3 (unsettled): the latter counts.
    found = components([(0, 1, False), (1, 2, False), (1, 3, False)], settled={2})
    assert found.total == 2
    assert found.unsettled == [frozenset({3})]


def test_the_adversarys_transitions_are_not_a_way_out() -> None:
    # 1 reaches the settled 2 only through a byzantine message: after the last fault
    # 1 is stuck. A world with no transition at all (4) is a bottom component too.
    found = components([(0, 1, False), (1, 2, True), (0, 4, False)], settled={2}, worlds=[0, 1, 2, 4])
    assert found.total == 3
    assert sorted(found.unsettled, key=min) == [frozenset({1}), frozenset({4})]


def test_the_trace_goes_to_the_unsettled_world_met_first() -> None:
    # Breadth-first order 0, 1, 2, 3, 4; unsettled bottom components {4} and {2, 3}.
    action = Action("timer", 1, ())
    parents: dict[int, Edge | None] = {0: None, 1: (0, action, ()), 2: (0, action, ()), 3: (2, action, ()), 4: (1, action, ())}
    edges = [(0, 1, False), (0, 2, False), (2, 3, False), (3, 2, False), (1, 4, False), (1, 5, False)]
    outcome = Outcome(edges=edges, done={5}, parents={**parents, 5: (1, action, ())})
    found = stuck(outcome)
    assert found is not None
    assert found.first == 2
    assert found.components.total == 3
    assert len(found.components.unsettled) == 2
    assert found.components.unsettled_worlds == 3
    assert stuck(Outcome(edges=edges + [(4, 5, False), (3, 5, False)], done={5}, parents={**parents, 5: None})) is None


# --- the settled predicate ---------------------------------------------------------------------------
def old_requests_settled(self: Model, world: World) -> bool:
    """The definition before: a replica that filled the height bound counted as settled."""
    for state in world.replicas:
        if state is None or state.height >= self.config.max_height:
            continue
        for request in self.config.requests:
            if not request_is_executed(state, request.request.transactions):
                return False
    return True


def liveness_outcome(config: CheckerConfig) -> Outcome:
    outcome = explore(config)
    assert outcome.finding is None and outcome.exhausted
    check_liveness(config, outcome)
    return outcome


def test_the_censoring_control_fails_liveness_and_says_why() -> None:
    config = load_config(CENSORING)
    assert config.expect == "violation"
    outcome = liveness_outcome(config)
    assert outcome.finding is not None and outcome.finding.property == "liveness"
    detail = outcome.finding.detail
    assert "bottom components of the correct-only graph are unsettled" in detail
    assert "Sprout lacks requests.0" in detail
    assert "bounds.max_height = 1 < 2" in detail
    # The world shown has an empty block executed at height 1 and nothing else.
    assert outcome.trace
    assert any(edge[1].kind == "byzantine" for edge in outcome.trace)


def test_the_censoring_control_passed_with_the_old_settled_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    """The faulty primary fills the only height with an empty block: counting the height
    bound as settled made that a pass."""
    monkeypatch.setattr(Model, "requests_settled", old_requests_settled)
    outcome = liveness_outcome(load_config(CENSORING))
    assert outcome.finding is None


def test_the_shipped_liveness_config_has_exactly_the_heights_the_premise_asks_for() -> None:
    """configs/n4f1_liveness.toml (exhausted with liveness in CI, about 270,000 worlds:
    too slow for a unit test) is n4f1 over views 0..1 with K + W heights: both of
    n4f1's requests, and one for Thor's one message. One height fewer breaks the
    premise, as the censoring control does with its one request."""
    n4f1 = load_config(CONFIGS / "n4f1.toml")
    shipped = load_config(CONFIGS / "n4f1_liveness.toml")
    assert shipped.liveness and shipped.expect == "pass"
    assert liveness_premise(shipped) == []
    assert shipped.max_height == len(shipped.requests) + shipped.byzantine_messages == 3
    assert liveness_premise(dataclasses.replace(shipped, max_height=2)) != []
    same = ("requests", "faulty", "byzantine_messages", "byzantine_moves", "consensus", "mutant")
    for name in same:
        assert getattr(shipped, name) == getattr(n4f1, name), name
    # Every block family but the stamp at the limit of the clocks (the premise's rule 6).
    assert set(n4f1.byzantine_blocks) - set(shipped.byzantine_blocks) == {"latest_timestamp"}
    assert liveness_premise(dataclasses.replace(shipped, byzantine_blocks=n4f1.byzantine_blocks)) != []
    control = load_config(CENSORING)
    assert control.max_height < len(control.requests) + control.byzantine_messages


def test_the_silent_primary_control_still_fails_liveness() -> None:
    config = load_config(CONFIGS / "controls/liveness_without_view_change.toml")
    outcome = liveness_outcome(config)
    assert outcome.finding is not None and outcome.finding.property == "liveness"
    assert "bounds.max_view = 0 is led by faulty Thor" in outcome.finding.detail


# --- the premise -------------------------------------------------------------------------------------
PREMISE_CASES = [
    ("heights", "[bounds]\nmax_height = 2\n", "bounds.max_height = 2 < 3"),
    ("views", "[bounds]\nmax_height = 3\nmax_view = 4\n", "bounds.max_view = 4 is led by faulty Thor"),
    (
        "fit",
        "[bounds]\nmax_height = 3\n[consensus]\nmax_block_transactions = 1\n",
        "requests.0 has 2 transactions, more than consensus.max_block_transactions = 1",
    ),
]


@pytest.mark.parametrize("label, text, message", PREMISE_CASES, ids=[c[0] for c in PREMISE_CASES])
def test_a_liveness_config_that_breaks_the_premise_is_refused(tmp_path: Path, label: str, text: str, message: str) -> None:
    path = tmp_path / f"{label}.toml"
    path.write_text(f'extends = "{CONFIGS / "n4f1.toml"}"\n[check]\nliveness = true\n{text}')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "check.liveness: the bounds break the liveness premise" in str(error.value)
    assert message in str(error.value)
    # The same bounds, without liveness or as a negative control, load.
    path.write_text(f'extends = "{CONFIGS / "n4f1.toml"}"\n[check]\nliveness = true\nexpect = "violation"\n{text}')
    assert load_config(path).liveness
    path.write_text(f'extends = "{CONFIGS / "n4f1.toml"}"\n{text}')
    assert not load_config(path).liveness


def test_a_request_that_waits_for_a_height_nothing_reaches_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "late.toml"
    text = (CONFIGS / "n4f1.toml").read_text().replace("after_height = 1", "after_height = 2")
    text = text.replace("max_height = 2", "max_height = 3")
    path.write_text(text + "\n[check]\nliveness = true\n")
    with pytest.raises(ConfigError, match="requests.1 waits for height 2, but the requests due before it"):
        load_config(path)
