"""PBFT agreement (`checker.proofs.pbft`): every obligation is proven; each fails under
the broken variant declared for it with a real, shrunk counterexample that plain
Python confirms (the invariant holds before the step, the named conjunct fails after
it at the named instance), and shrinking keeps each sort's bound once found; the
invariant is not vacuous (False in its place proves nothing, and it allows a view
change after an execution); every verification condition is stratified, so it stays
decidable."""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from itertools import product

import pytest
import z3

from checker.proofs import obligation_named, pbft
from checker.proofs.obligation import Result, Status, check, prove, smallest_model, solver, universe

NAMES = [o.name for o in pbft.obligations()]
BROKEN = pbft.broken_variants()
CONJUNCT = {c.name: c for c in pbft.CONJUNCTS}
ACTION = {a.name: a for a in pbft.ACTIONS}


@cache
def proved(variant: str | None, name: str) -> Result:
    """Shared between tests, so that each obligation is proven once per run."""
    return prove(obligation_named(name, variant))


# --- counterexamples, read back into plain Python -------------------------------------------------------
Tuple = tuple[str, ...]


@dataclass
class Story:
    """A printed counterexample: the step, the violated instance, the structure and the two states."""

    step: str
    parameters: dict[str, str]
    violated: str | None
    instance: list[tuple[str, str]]
    views: list[str]
    nodes: list[str]
    faulty: set[str]
    quorums: dict[str, set[str]]
    seqs: list[str]
    digests: list[str]
    before: dict[str, set[Tuple]]
    after: dict[str, set[Tuple]]
    added: dict[str, set[Tuple]]
    removed: dict[str, set[Tuple]]

    def correct(self, n: str) -> bool:
        return n not in self.faulty

    def lt(self, a: str, b: str) -> bool:
        return self.views.index(a) < self.views.index(b)

    def domain(self, sort: z3.SortRef) -> list[str]:
        return {"Node": self.nodes, "Quorum": list(self.quorums), "View": self.views, "Seq": self.seqs,
                "Digest": self.digests}[sort.name()]


TUPLE = re.compile(r"([+-]?)\(([^)]*)\)")


def tuples(text: str) -> list[tuple[str, Tuple]]:
    return [(sign, tuple(part.strip() for part in body.split(","))) for sign, body in TUPLE.findall(text)]


def elements(text: str, label: str) -> list[str]:
    """The elements of a sort the text mentions, numbered 0..k: every one up to the highest
    mentioned is in the model's universe (the renderer numbers the universe from 0)."""
    numbers = [int(i) for i in re.findall(rf"\b{label}(\d+)\b", text)]
    return [f"{label}{i}" for i in range(max(numbers) + 1)] if numbers else []


def parse(text: str) -> Story:
    lines = text.splitlines()
    step = re.fullmatch(r"step: (.+)", lines[0])
    assert step is not None, text
    i = 1
    parameters: dict[str, str] = {}
    while lines[i].startswith("  "):
        found = re.fullmatch(r"  (.+?) = (\S+)(?:  \(.*\))?", lines[i])
        assert found is not None, lines[i]
        parameters[found[1]] = found[2]
        i += 1
    violated, instance = None, []
    if lines[i].startswith("violated: "):
        found = re.fullmatch(r"violated: (\w+) at (.+)", lines[i])
        assert found is not None, lines[i]
        violated = found[1]
        instance = [(pair.split(" = ")[0], pair.split(" = ")[1]) for pair in found[2].split(", ")]
        i += 1
    assert lines[i].startswith("views, in order: "), text
    views = lines[i].removeprefix("views, in order: ").split(" < ")
    i += 1
    assert lines[i].startswith("nodes: "), text
    node_entries = lines[i].removeprefix("nodes: ").split(", ")
    nodes = [entry.split()[0] for entry in node_entries]
    faulty = {entry.split()[0] for entry in node_entries if entry.endswith("(faulty)")}
    i += 1
    quorums: dict[str, set[str]] = {}
    while found := re.fullmatch(r"(quorum\d+) = \{(.*)\}", lines[i]):
        quorums[found[1]] = set(found[2].split(", ")) if found[2] else set()
        i += 1
    assert lines[i] in ("before the step:", "state:"), lines[i]
    i += 1
    before: dict[str, set[Tuple]] = {r.name: set() for r in pbft.RELATIONS}
    while i < len(lines) and lines[i].startswith("  "):
        name, rest = lines[i].strip().split(": ", 1)
        before[name] = {t for _, t in tuples(rest)}
        i += 1
    added: dict[str, set[Tuple]] = {r.name: set() for r in pbft.RELATIONS}
    removed: dict[str, set[Tuple]] = {r.name: set() for r in pbft.RELATIONS}
    if i < len(lines):
        assert lines[i] == "after the step (+ added, - removed):", lines[i]
        i += 1
        while i < len(lines):
            name, rest = lines[i].strip().split(": ", 1)
            for sign, t in tuples(rest):
                (added if sign == "+" else removed)[name].add(t)
            i += 1
    after = {name: (before[name] | added[name]) - removed[name] for name in before}
    return Story(step[1], parameters, violated, instance, views, nodes, faulty, quorums,
                 elements(text, "seq"), elements(text, "digest"), before, after, added, removed)


# The conjuncts again, in plain Python over a printed state.
State = dict[str, set[Tuple]]


def some_quorum(story: Story, holds: Callable[[str], bool]) -> bool:
    return any(all(holds(m) for m in members) for members in story.quorums.values())


PYTHON_CONJUNCTS = {
    "one_prepare_per_view": lambda w, s, n, v, sq, d1, d2: not (
        w.correct(n) and (n, v, sq, d1) in s["prepare"] and (n, v, sq, d2) in s["prepare"]) or d1 == d2,
    "commit_is_held_or_decided": lambda w, s, n, v, sq, d: not (
        w.correct(n) and (n, v, sq, d) in s["commit"]) or (n, v, sq, d) in s["holds"] or (sq, d) in s["decided"],
    "held_certificate_is_genuine": lambda w, s, n, v, sq, d: not (
        w.correct(n) and (n, v, sq, d) in s["holds"]) or (v, sq, d) in s["pcert"],
    "prepare_certificate_has_quorum": lambda w, s, v, sq, d: (v, sq, d) not in s["pcert"] or some_quorum(
        w, lambda m: (m, v, sq, d) in s["prepare"]),
    "execution_has_commit_certificate": lambda w, s, n, v, sq, d: (n, v, sq, d) not in s["committed_at"] or (
        v, sq, d) in s["ccert"],
    "commit_certificate_has_quorum": lambda w, s, v, sq, d: (v, sq, d) not in s["ccert"] or some_quorum(
        w, lambda m: (m, v, sq, d) in s["commit"]),
    "prepare_blocks_lower_views": lambda w, s, n, v2, sq, d2, v1, d1: not (
        w.correct(n) and (n, v2, sq, d2) in s["prepare"] and w.lt(v1, v2) and d1 != d2) or (v1, sq, d1) in s["blocked"],
    "blocked_has_quorum": lambda w, s, v, sq, d: (v, sq, d) not in s["blocked"] or some_quorum(
        w, lambda m: not w.correct(m) or ((m, v) in s["left"] and (m, v, sq, d) not in s["holds"])),
    "view_change_reports_held_certificates": lambda w, s, n, v, sq, d, v2: not (
        w.correct(n) and (n, v, sq, d) in s["holds"] and (n, v2) in s["vc_sent"] and w.lt(v, v2)) or (
        n, v2, sq, d, v) in s["vc_cert"],
    "reports_are_certificates": lambda w, s, n, v2, sq, d, pv: (n, v2, sq, d, pv) not in s["vc_cert"] or (
        pv, sq, d) in s["pcert"],
    "view_change_leaves_lower_views": lambda w, s, n, v, v2: not (
        w.correct(n) and (n, v2) in s["vc_sent"] and w.lt(v, v2)) or (n, v) in s["left"],
    "decision_blocks_other_held_certificates": lambda w, s, sq, d, n, v, d2: not (
        (sq, d) in s["decided"] and w.correct(n) and (n, v, sq, d2) in s["holds"] and d2 != d) or (
        v, sq, d2) in s["blocked"],
    "decision_has_held_quorum": lambda w, s, v, sq, d: (v, sq, d) not in s["anchor"] or some_quorum(
        w, lambda m: not w.correct(m) or (m, v, sq, d) in s["holds"]),
    "execution_is_anchored": lambda w, s, sq, d: all(
        not (w.correct(n) and (n, v, sq, d) in s["committed_at"]) or (sq, d) in s["decided"]
        for n in w.nodes for v in w.views) and (
        (sq, d) not in s["decided"] or any((v, sq, d) in s["anchor"] for v in w.views)),
}


def conjunct_holds(story: Story, state: State, name: str, values: Tuple) -> bool:
    return bool(PYTHON_CONJUNCTS[name](story, state, *values))


def violations(story: Story, state: State, conjunct: pbft.Conjunct) -> list[Tuple]:
    domains = [story.domain(sort) for _, sort in conjunct.variables]
    return [values for values in product(*domains) if not conjunct_holds(story, state, conjunct.name, values)]


def quorums_share_a_correct_replica(story: Story) -> bool:
    return all((q1 & q2) - story.faulty for q1, q2 in product(story.quorums.values(), repeat=2))


def test_the_python_conjuncts_mirror_the_proofs_conjuncts() -> None:
    assert set(PYTHON_CONJUNCTS) == set(CONJUNCT)
    for conjunct in pbft.CONJUNCTS:
        arity = PYTHON_CONJUNCTS[conjunct.name].__code__.co_argcount - 2
        assert arity == len(conjunct.variables), conjunct.name


# --- proven, and broken by its variant --------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_obligation_is_proven(name: str) -> None:
    result = proved(None, name)
    assert result.status == Status.PROVEN, f"{name}: {result.status}\n{result.counterexample}"


def test_every_variant_is_the_declared_breaker_of_some_obligation() -> None:
    assert set(BROKEN) == set(NAMES)
    assert set(BROKEN.values()) == set(pbft.VARIANTS), "a variant no obligation is declared to fail under is dead"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_obligation_fails_under_its_variant_with_a_counterexample_python_confirms(name: str) -> None:
    variant = BROKEN[name]
    result = proved(variant, name)
    assert result.status == Status.FAILED, f"{name} under {variant}: {result.status}"
    text = result.counterexample
    assert text is not None and not text.startswith("vacuous"), f"{name} under {variant}: {text}"
    story = parse(text)
    assert len(story.nodes) <= 3, f"not shrunk: {len(story.nodes)} replicas\n{text}"
    assert len(story.views) <= 3 and len(story.quorums) <= 3, f"not shrunk\n{text}"
    if variant != "quorums_share_any_replica":
        assert quorums_share_a_correct_replica(story), f"the model breaks the quorum axiom\n{text}"

    if name == "pbft.agreement":
        p = story.parameters
        assert story.step == "agreement" and story.violated is None, text
        assert p["d1"] != p["d2"], text
        for n, v, d in ((p["n1"], p["v1"], p["d1"]), (p["n2"], p["v2"], p["d2"])):
            assert story.correct(n) and (n, v, p["s"], d) in story.before["committed_at"], f"execution {n}\n{text}"
        for conjunct in pbft.CONJUNCTS:
            assert not violations(story, story.before, conjunct), f"invariant fails: {conjunct.name}\n{text}"
        return

    _, conjunct_name, case = name.split(".")
    conjunct = CONJUNCT[conjunct_name]
    assert story.step == ("initial state" if case == "initial" else case), text
    assert story.violated == conjunct_name, text
    assert [label for label, _ in story.instance] == [label for label, _ in conjunct.variables], text
    values = tuple(value for _, value in story.instance)
    assert not conjunct_holds(story, story.after, conjunct_name, values), f"the named instance holds after the step\n{text}"
    if case == "initial":
        assert variant == "arbitrary_initial_state"
        assert any(story.before.values()), f"a violation in the empty state?\n{text}"
    else:
        assert conjunct_holds(story, story.before, conjunct_name, values), f"the instance fails already before\n{text}"
        for other in pbft.CONJUNCTS:
            assert not violations(story, story.before, other), f"pre-state breaks {other.name}\n{text}"
        assert any(story.added.values()) or any(story.removed.values()), f"the step changes nothing\n{text}"


# --- one counterexample, told in full -------------------------------------------------------------------------
def test_a_new_view_ignoring_certificates_prepares_over_a_committed_digest() -> None:
    """The classic bug: a correct replica committed X at s in a lower view and its
    VIEW-CHANGE reported it; the NEW-VIEW ignores the report and a correct replica
    prepares another digest at s in the higher view."""
    result = proved("new_view_ignores_certificates", "pbft.blocked_has_quorum.prepare")
    assert result.status == Status.FAILED and result.counterexample is not None
    story = parse(result.counterexample)
    p = story.parameters
    n, v, s, d, q = p["n"], p["v"], p["s"], p["d"], p["q"]
    assert story.step == "prepare" and story.correct(n)
    assert story.added["prepare"] == {(n, v, s, d)}
    # The violated instance: digest x, now blocked at s in a lower view w ...
    instance = dict(story.instance)
    w, x = instance["v"], instance["d"]
    assert instance["s"] == s and story.lt(w, v) and x != d
    # (The step blocks every other digest at s in every lower view.)
    lower = [view for view in story.views if story.lt(view, v)]
    assert story.added["blocked"] == {(view, s, other) for view in lower for other in story.digests if other != d}
    # ... was committed there by a correct member of the NEW-VIEW's quorum, whose VIEW-CHANGE for v reported it.
    assert any(
        story.correct(c) and (c, w, s, x) in story.before["holds"] and (c, v, s, x, w) in story.before["vc_cert"]
        for c in story.quorums[q]
    ), result.counterexample
    # The NEW-VIEW still had its quorum of VIEW-CHANGEs for v ...
    assert all((m, v) in story.before["vc_sent"] for m in story.quorums[q])
    # ... but the spec's rule refuses d: the highest-view certificate its members report for s names another digest.
    reports = [(rd, pv) for m, rv, rs, rd, pv in story.before["vc_cert"] if m in story.quorums[q] and (rv, rs) == (v, s)]
    assert reports, "the quorum reported a certificate for s"
    highest = max(story.views.index(pv) for _, pv in reports)
    assert d not in {rd for rd, pv in reports if story.views.index(pv) == highest}
    # Shrunk to the least it takes: one replica, one quorum, two views, one sequence number, two digests.
    assert (len(story.nodes), len(story.quorums), len(story.views), len(story.seqs), len(story.digests)) == (1, 1, 2, 1, 2)


def test_the_agreement_counterexample_has_two_executions_and_quorums_meeting_in_a_faulty_replica() -> None:
    result = proved("quorums_share_any_replica", "pbft.agreement")
    assert result.status == Status.FAILED and result.counterexample is not None
    story = parse(result.counterexample)
    p = story.parameters
    assert p["d1"] != p["d2"]
    assert (p["n1"], p["v1"], p["s"], p["d1"]) in story.before["committed_at"]
    assert (p["n2"], p["v2"], p["s"], p["d2"]) in story.before["committed_at"]
    assert story.correct(p["n1"]) and story.correct(p["n2"])
    quorums = list(story.quorums.values())
    assert all(q1 & q2 for q1, q2 in product(quorums, repeat=2)), "the broken axiom still holds"
    assert not quorums_share_a_correct_replica(story), "some two quorums meet only in faulty replicas"
    assert len(story.nodes) == 2, result.counterexample


def test_the_agreement_counterexample_needs_two_replicas() -> None:
    """`smallest_model` found the least: with a single replica (which must be correct,
    to execute) the broken axiom is the true one and agreement holds."""
    obligation = obligation_named("pbft.agreement", "quorums_share_any_replica")
    only, x = z3.Const("only", pbft.Node), z3.Const("x", pbft.Node)
    s = solver(60)
    s.add(*obligation.hypotheses(), z3.Not(obligation.goal()), z3.ForAll([x], x == only))
    assert s.check() == z3.unsat


def test_shrinking_a_later_sort_does_not_bring_back_replicas() -> None:
    """`smallest_model` shrinks replicas first, then quorums, keeping each bound it finds.
    A model here needs two replicas or two quorums, so the fewest replicas is one (with
    two quorums). When z3's first model already has one replica, that count must still be
    held while the quorums shrink, not traded back for a second replica."""
    n1, n2 = z3.Consts("shrink.n1 shrink.n2", pbft.Node)
    q1, q2 = z3.Consts("shrink.q1 shrink.q2", pbft.Quorum)
    s = solver(60)
    s.add(z3.Or(q1 != q2, n1 != n2))
    x = z3.Const("shrink.x", pbft.Node)
    s.push()
    s.add(z3.ForAll([x], x == n1))
    assert s.check() == z3.sat
    one_replica = s.model()
    s.pop()
    assert s.check() == z3.sat
    assert len(universe(one_replica, pbft.Node)) == 1
    model = smallest_model(s, one_replica, (pbft.Node, pbft.Quorum))
    assert (len(universe(model, pbft.Node)), len(universe(model, pbft.Quorum))) == (1, 2)


# --- which variant breaks what ----------------------------------------------------------------------------
def test_new_view_ignores_certificates_keeps_one_prepare_per_view() -> None:
    assert proved("new_view_ignores_certificates", "pbft.blocked_has_quorum.prepare").status == Status.FAILED
    assert proved("new_view_ignores_certificates", "pbft.one_prepare_per_view.prepare").status == Status.PROVEN


def test_quorums_sharing_any_replica_break_agreement_and_the_new_view_step_only() -> None:
    """Two quorums meeting only in a faulty replica break agreement, and the NEW-VIEW
    step: two prepared certificates for different digests in one view (whose quorums
    meet in a faulty replica) tie as the highest, and the new primary may pick the one
    no correct replica committed. The other steps keep their blocked-quorum bookkeeping."""
    variant = "quorums_share_any_replica"
    for name in ("pbft.agreement", "pbft.blocked_has_quorum.prepare"):
        assert proved(variant, name).status == Status.FAILED, name
    for case in ("initial", "commit", "execute", "view_change", "faulty_report"):
        assert proved(variant, f"pbft.blocked_has_quorum.{case}").status == Status.PROVEN, case


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError):
        pbft.obligations("nonsense")


# --- non-vacuity ----------------------------------------------------------------------------------------------------
def always_false(conjunct: pbft.Conjunct) -> pbft.Conjunct:
    return replace(conjunct, body=lambda s, x: z3.BoolVal(False))


def test_a_conjunct_replaced_by_false_proves_nothing_that_mentions_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step and agreement assume the whole invariant: with a False conjunct their
    hypotheses contradict, which the runner reports vacuous, not proven. The False
    conjunct fails initially. Only the other conjuncts' initial cases, which assume no
    invariant, stay proven."""
    target = "blocked_has_quorum"
    monkeypatch.setattr(pbft, "CONJUNCTS", tuple(always_false(c) if c.name == target else c for c in pbft.CONJUNCTS))
    for obligation in pbft.obligations():
        result = prove(obligation)
        text = result.counterexample or ""
        if obligation.name == f"pbft.{target}.initial":
            assert result.status == Status.FAILED and not text.startswith("vacuous"), obligation.name
        elif obligation.name.endswith(".initial"):
            assert result.status == Status.PROVEN, obligation.name
        else:
            assert result.status == Status.FAILED and text.startswith("vacuous"), obligation.name


def test_an_invariant_of_false_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pbft, "CONJUNCTS", tuple(always_false(c) for c in pbft.CONJUNCTS))
    proven = [o.name for o in pbft.obligations() if prove(o).status == Status.PROVEN]
    assert proven == []


def executed_then_prepared_later(variant: str | None, same_digest: bool, anchored: bool = True) -> z3.CheckSatResult:
    """Axioms, the invariant and a prepare step in a view v2 above a view v1 in which d1
    was first decided at the same sequence number (its anchor; `anchored=False`: a
    view in which a correct replica executed d1, which with re-votes may lie below the
    anchor), the NEW-VIEW's quorum reporting a certificate for the prepared digest;
    the prepared digest is d1 or another one."""
    t = pbft.transition(ACTION["prepare"], variant)
    p = {x.label: x.term for x in t.step.parameters}
    n1, v1, d1 = z3.Const("exec.n", pbft.Node), z3.Const("exec.v", pbft.View), z3.Const("exec.d", pbft.Digest)
    first = t.pre["anchor"](v1, p["s"], d1) if anchored else t.pre["committed_at"](n1, v1, p["s"], d1)
    situation = [
        pbft.correct(n1), first, pbft.lt(v1, p["v"]),
        pbft.member(p["best"], p["q"]), t.pre["vc_cert"](p["best"], p["v"], p["s"], p["d"], p["best_view"]),
        p["d"] == d1 if same_digest else p["d"] != d1,
    ]
    s = solver(60)
    s.add(*pbft.axioms(variant), *pbft.invariant(t.pre), *t.formulas, *situation)
    if same_digest:
        s.add(*pbft.invariant(t.post))
    answer, _ = check(s, 60, pbft.SORTS)
    return answer


def test_the_invariant_allows_a_view_change_after_an_execution() -> None:
    """Not a vacuous invariant that forbids what PBFT does: the same digest is prepared in
    a later view on a NEW-VIEW carrying a certificate, and the invariant still holds after."""
    assert executed_then_prepared_later(None, same_digest=True) == z3.sat
    assert executed_then_prepared_later(None, same_digest=True, anchored=False) == z3.sat


def test_the_invariant_forbids_another_digest_above_a_decision_unless_new_views_ignore_certificates() -> None:
    assert executed_then_prepared_later(None, same_digest=False) == z3.unsat
    assert executed_then_prepared_later("new_view_ignores_certificates", same_digest=False) == z3.sat


def test_above_an_execution_on_re_votes_but_below_the_decision_another_digest_may_be_prepared() -> None:
    """With re-votes, an execution in view v1 no longer fixes the digest of every view
    above v1: a commit quorum of v1 may be re-votes cast after d1 was first decided in a
    higher view, and a NEW-VIEW between the two may carry another digest's certificate
    (reachable in the model: d1 decided in view 3; a lagging replica executes it by
    catch-up, installs the old NEW-VIEW of view 1 and re-votes there, completing a commit
    quorum of view 1; the NEW-VIEW of view 2 carries a faulty replica's genuine view-0
    certificate for d). Only the views above the anchor are fixed; agreement holds all
    the same, since d can gather no commit quorum in view 2."""
    assert executed_then_prepared_later(None, same_digest=False, anchored=False) == z3.sat


# --- decidability ------------------------------------------------------------------------------------------------------
@cache
def edges_of(name: str) -> frozenset[tuple[str, str]]:
    obligation = obligation_named(name, None)
    return frozenset(pbft.quantifier_edges(obligation.hypotheses() + [z3.Not(obligation.goal())]))


def test_every_verification_condition_is_stratified() -> None:
    cyclic = [name for name in NAMES if not pbft.stratified(set(edges_of(name)))]
    assert cyclic == []


def test_the_quantifier_edges_go_from_views_seqs_digests_to_quorums_and_quorums_to_replicas() -> None:
    """Pinned: the only Skolem functions are View/Seq/Digest -> Quorum (the quorums behind
    certificates and blocks) and Quorum -> Node (the shared replica of two quorums)."""
    for name in NAMES:
        if name.endswith(".initial"):
            # The axioms alone: the shared correct replica of two quorums.
            assert edges_of(name) == {("Quorum", "Node")}, name
        else:
            expected = {("View", "Quorum"), ("Seq", "Quorum"), ("Digest", "Quorum"), ("Quorum", "Node"),
                        ("Seq", "View"), ("Digest", "View")}
            assert edges_of(name) == expected, name


def test_stratified_catches_a_cycle_of_alternations() -> None:
    n, q, m = z3.Const("n", pbft.Node), z3.Const("q", pbft.Quorum), z3.Const("m", pbft.Node)
    node_to_quorum = z3.ForAll([n], z3.Exists([q], pbft.member(n, q)))
    quorum_to_node = z3.ForAll([q], z3.Exists([n], pbft.member(n, q)))
    assert pbft.quantifier_edges([node_to_quorum]) == {("Node", "Quorum")}
    assert pbft.stratified(pbft.quantifier_edges([node_to_quorum]))
    assert pbft.stratified(pbft.quantifier_edges([quorum_to_node]))
    both = pbft.quantifier_edges([node_to_quorum, quorum_to_node])
    assert both == {("Node", "Quorum"), ("Quorum", "Node")}
    assert not pbft.stratified(both)
    # A sort to itself is a cycle too: for every replica another one.
    assert not pbft.stratified(pbft.quantifier_edges([z3.ForAll([n], z3.Exists([m], z3.Not(pbft.faulty(m))))]))


def test_quantifier_edges_follow_polarity() -> None:
    """Under a negation (or left of an implication) a ∀ is an ∃ and the other way round;
    under an equivalence a quantifier is both."""
    n, q = z3.Const("n", pbft.Node), z3.Const("q", pbft.Quorum)
    exists_forall = z3.Exists([q], z3.ForAll([n], pbft.member(n, q)))
    assert pbft.quantifier_edges([exists_forall]) == set()
    assert pbft.quantifier_edges([z3.Not(exists_forall)]) == {("Quorum", "Node")}
    assert pbft.quantifier_edges([z3.Implies(exists_forall, z3.BoolVal(False))]) == {("Quorum", "Node")}
    assert pbft.quantifier_edges([exists_forall == pbft.faulty(n)]) == {("Quorum", "Node")}
