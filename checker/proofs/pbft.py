"""PBFT agreement as an inductive invariant: for every N, every f, and any number of
views, sequence numbers and digests.

The protocol is abstracted to messages as growing sets over five uninterpreted sorts:
replicas (`Node`), quorums, views, sequence numbers and digests. How many replicas
there are, and how big a quorum is, never appears: the one fact the proof uses about
quorums is the axiom that any two of them share a correct replica, which the
threshold lemmas prove for every N >= 3f + 1 (`checker.proofs.quorums`,
`two_quorums_share_a_correct_replica`). So what is proven here holds for every N.

Correct replicas take five actions (prepare, commit, re-vote, execute, view change), each a
guard on the pre-state and the tuples it adds; faulty replicas send any PREPARE, any
COMMIT, any VIEW-CHANGE, and report any prepared certificate that is genuine
(certificates are signed prepares, and a faulty replica cannot forge a correct one's
signature). The NEW-VIEW is not a message of the model: a replica prepares in a view
above the first only on the justification a NEW-VIEW carries, a quorum of
VIEW-CHANGEs and the digest their highest-view certificate names.

The invariant is a conjunction of universally quantified facts. Each obligation is one
conjunct in the initial state, or one conjunct after one action assuming the whole
invariant before it, or agreement from the invariant. Every verification condition
stays in a decidable fragment: relations only (no functions), and every quantifier
alternation goes from views, sequence numbers and digests to quorums, and from
quorums to replicas, never back (`quantifier_edges` computes this, and a test checks
it for every obligation). Skolemising then leaves finitely many ground terms, the
effectively propositional fragment of Ivy's Paxos and Tendermint proofs, where z3
answers without timing out.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product

import z3

from checker.proofs.obligation import Obligation, universe

TITLE = "PBFT agreement"

VARIANTS: dict[str, str] = {
    "new_view_ignores_certificates": (
        "A NEW-VIEW needs only a quorum of VIEW-CHANGEs: the new primary may propose any digest, "
        "ignoring the prepared certificates they report."
    ),
    "prepare_twice": "A correct replica may prepare a second digest for a sequence number in the same view.",
    "commit_without_quorum": "A correct replica commits without having seen a quorum of matching PREPAREs.",
    "commit_in_left_view": "A correct replica still commits in a view it has left by sending VIEW-CHANGE for a higher one.",
    "execute_without_quorum": "A correct replica executes a digest without a quorum of matching COMMITs.",
    "view_change_hides_certificates": "A correct replica's VIEW-CHANGE reports none of its prepared certificates.",
    "view_change_reports_unprepared": (
        "A correct replica's VIEW-CHANGE reports every digest it sent PREPARE for, as if it held a "
        "prepared certificate for each."
    ),
    "view_change_stays": "A correct replica that sends VIEW-CHANGE does not leave the lower views: it may still vote in them.",
    "faulty_forges_certificate": "A faulty replica's VIEW-CHANGE may report a prepared certificate no quorum signed.",
    "forged_prepare": "Signatures are forgeable: every step also delivers one PREPARE in any replica's name.",
    "forged_commit": "Signatures are forgeable: every step also delivers one COMMIT in any replica's name.",
    "forged_view_change": "Signatures are forgeable: every step also delivers one VIEW-CHANGE in any replica's name.",
    "forged_report": (
        "Signatures are forgeable: every step also delivers one VIEW-CHANGE report, in any replica's name, "
        "of a certificate no quorum signed."
    ),
    "forged_commit_certificate": "Every step may also make a correct replica execute a digest on a forged commit certificate.",
    "forged_prepared_certificate": (
        "Every step may also make a correct replica keep a prepared certificate no quorum signed, as if it took one "
        "without checking its signatures."
    ),
    "lost_prepares": "Messages are not a growing set: any step may also lose a PREPARE already sent.",
    "lost_commits": "Messages are not a growing set: any step may also lose a COMMIT already sent.",
    "lost_held_certificates": "Any step may also make a correct replica forget a prepared certificate it keeps.",
    "arbitrary_initial_state": "Replicas start from any state, not from no messages at all.",
    "revote_without_execution": (
        "A correct replica re-votes (PREPARE and COMMIT) for a NEW-VIEW's proposal it has not executed."
    ),
    "revote_keeps_certificate": (
        "A re-vote records a prepared certificate, as if the COMMIT it sends followed a quorum of PREPAREs."
    ),
    "revote_without_new_view": "A correct replica re-votes for an executed digest that no NEW-VIEW proposes.",
    "quorums_share_any_replica": (
        "Two quorums share a replica, maybe a faulty one (2f + 1 quorums with N > 3f + 1), "
        "instead of a correct replica."
    ),
}


# --- sorts and the fixed relations --------------------------------------------------------------------
Node = z3.DeclareSort("Node")
Quorum = z3.DeclareSort("Quorum")
View = z3.DeclareSort("View")
Seq = z3.DeclareSort("Seq")
Digest = z3.DeclareSort("Digest")

SORTS: tuple[z3.SortRef, ...] = (Node, Quorum, View, Seq, Digest)
"""A counterexample is shrunk in this order: fewest replicas first (`smallest_model`)."""
SORT_LABELS: dict[str, str] = {"Node": "node", "Quorum": "quorum", "View": "view", "Seq": "seq", "Digest": "digest"}
"""How a counterexample names the elements of each sort: node0, node1, ..."""

member = z3.Function("member", Node, Quorum, z3.BoolSort())
faulty = z3.Function("faulty", Node, z3.BoolSort())
vle = z3.Function("vle", View, View, z3.BoolSort())
"""The order of views, as a relation: a function View -> View (a successor) would
break the stratification."""
v0 = z3.Const("v0", View)
"""The first view, which starts without a NEW-VIEW."""


def fresh(sort: z3.SortRef, prefix: str) -> z3.ExprRef:
    """A bound variable of its own: nested quantifiers never capture each other's."""
    return z3.FreshConst(sort, prefix)


def lt(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    return z3.And(vle(a, b), a != b)


def correct(n: z3.ExprRef) -> z3.BoolRef:
    return z3.Not(faulty(n))


def all_members(q: z3.ExprRef, holds: Callable[[z3.ExprRef], z3.BoolRef]) -> z3.BoolRef:
    m = fresh(Node, "m")
    return z3.ForAll([m], z3.Implies(member(m, q), holds(m)))


def some_quorum(holds: Callable[[z3.ExprRef], z3.BoolRef]) -> z3.BoolRef:
    """Some quorum all of whose members satisfy `holds`."""
    q = fresh(Quorum, "q")
    return z3.Exists([q], all_members(q, holds))


def axioms(variant: str | None) -> list[z3.BoolRef]:
    """Views are totally ordered with a least one; two quorums share a correct replica."""
    a, b, c = fresh(View, "a"), fresh(View, "b"), fresh(View, "c")
    q1, q2 = fresh(Quorum, "q1"), fresh(Quorum, "q2")
    n = fresh(Node, "n")
    shared = z3.And(member(n, q1), member(n, q2))
    if variant != "quorums_share_any_replica":
        shared = z3.And(shared, correct(n))
    return [
        z3.ForAll([a], vle(a, a)),
        z3.ForAll([a, b, c], z3.Implies(z3.And(vle(a, b), vle(b, c)), vle(a, c))),
        z3.ForAll([a, b], z3.Implies(z3.And(vle(a, b), vle(b, a)), a == b)),
        z3.ForAll([a, b], z3.Or(vle(a, b), vle(b, a))),
        z3.ForAll([a], vle(v0, a)),
        # Proven over cardinalities for every N >= 3f + 1: quorums.two_quorums_share_a_correct_replica.
        z3.ForAll([q1, q2], z3.Exists([n], shared)),
    ]


# --- the state: messages as growing sets, and three ghosts ---------------------------------------------
@dataclass(frozen=True)
class Relation:
    name: str
    sorts: tuple[z3.SortRef, ...]
    meaning: str


RELATIONS: tuple[Relation, ...] = (
    Relation("prepare", (Node, View, Seq, Digest), "n sent PREPARE for digest d at sequence number s in view v"),
    Relation("commit", (Node, View, Seq, Digest), "n sent COMMIT for d at s in view v"),
    Relation("vc_sent", (Node, View), "n sent VIEW-CHANGE for view v"),
    Relation(
        "vc_cert", (Node, View, Seq, Digest, View),
        "n's VIEW-CHANGE for view v reports a prepared certificate for d at s, formed in view pv",
    ),
    Relation("left", (Node, View), "n has left view v: it moved to a higher view"),
    Relation("committed_at", (Node, View, Seq, Digest),
             "n executed d at s on a commit quorum of view v (only correct replicas take the execute action)"),
    Relation(
        "holds", (Node, View, Seq, Digest),
        "n keeps a prepared certificate for d at s formed in view v (set with its normal-case COMMIT, not by a re-vote)",
    ),
    Relation("pcert", (View, Seq, Digest), "ghost: a quorum of PREPAREs for d at s in view v was exhibited"),
    Relation("ccert", (View, Seq, Digest), "ghost: a quorum of COMMITs for d at s in view v was exhibited"),
    Relation(
        "blocked", (View, Seq, Digest),
        "ghost: d can no longer gather a commit quorum at s in view v (a correct replica prepared another digest "
        "above v)",
    ),
    Relation("decided", (Seq, Digest), "ghost: some correct replica executed d at s"),
    Relation(
        "anchor", (View, Seq, Digest),
        "ghost: d was first decided at s on a commit quorum of view v (all of whose correct members kept a prepared "
        "certificate)",
    ),
)
RELATION = {relation.name: relation for relation in RELATIONS}

Rel = Callable[..., z3.BoolRef]
State = dict[str, Rel]
"""Relation name -> the relation in one state: the z3 symbol in the pre-state, a
formula over the pre-state in the post-state."""


def relation_symbol(relation: Relation, suffix: str) -> z3.FuncDeclRef:
    return z3.Function(relation.name + suffix, *relation.sorts, z3.BoolSort())


def pre_state() -> State:
    return {relation.name: relation_symbol(relation, "") for relation in RELATIONS}


def variables(relation: Relation) -> list[z3.ExprRef]:
    return [fresh(sort, "x") for sort in relation.sorts]


def initial(pre: State, variant: str | None) -> list[z3.BoolRef]:
    """No message sent, nothing executed."""
    if variant == "arbitrary_initial_state":
        return []
    facts: list[z3.BoolRef] = []
    for relation in RELATIONS:
        xs = variables(relation)
        facts.append(z3.ForAll(xs, z3.Not(pre[relation.name](*xs))))
    return facts


# --- the invariant --------------------------------------------------------------------------------------
Body = Callable[[State, Sequence[z3.ExprRef]], z3.BoolRef]


@dataclass(frozen=True)
class Conjunct:
    name: str
    statement: str
    variables: tuple[tuple[str, z3.SortRef], ...]
    body: Body

    def holds(self, s: State) -> z3.BoolRef:
        xs = [fresh(sort, name) for name, sort in self.variables]
        return z3.ForAll(xs, self.body(s, xs))

    def instance(self) -> list[z3.ExprRef]:
        """Named constants for the variables: the goal `body(post, instance)` over free
        constants is valid exactly when the conjunct holds for all values, and a
        counterexample names the instance that breaks."""
        return [z3.Const(f"violated.{name}", sort) for name, sort in self.variables]


def one_prepare_per_view(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, sq, d1, d2 = x
    return z3.Implies(z3.And(correct(n), s["prepare"](n, v, sq, d1), s["prepare"](n, v, sq, d2)), d1 == d2)


def commit_is_held_or_decided(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, sq, d = x
    return z3.Implies(z3.And(correct(n), s["commit"](n, v, sq, d)), z3.Or(s["holds"](n, v, sq, d), s["decided"](sq, d)))


def held_certificate_is_genuine(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, sq, d = x
    return z3.Implies(z3.And(correct(n), s["holds"](n, v, sq, d)), s["pcert"](v, sq, d))


def prepare_certificate_has_quorum(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    v, sq, d = x
    return z3.Implies(s["pcert"](v, sq, d), some_quorum(lambda m: s["prepare"](m, v, sq, d)))


def execution_has_commit_certificate(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, sq, d = x
    return z3.Implies(s["committed_at"](n, v, sq, d), s["ccert"](v, sq, d))


def commit_certificate_has_quorum(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    v, sq, d = x
    return z3.Implies(s["ccert"](v, sq, d), some_quorum(lambda m: s["commit"](m, v, sq, d)))


def prepare_blocks_lower_views(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v2, sq, d2, v1, d1 = x
    return z3.Implies(
        z3.And(correct(n), s["prepare"](n, v2, sq, d2), lt(v1, v2), d1 != d2), s["blocked"](v1, sq, d1)
    )


def blocked_has_quorum(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    """The heart of the proof. When d is blocked at s in view v, a quorum has left v
    and none of its correct members committed d there. Every commit quorum of v meets
    it in a correct replica, which can no longer commit in v: d never gathers one."""
    v, sq, d = x
    return z3.Implies(
        s["blocked"](v, sq, d),
        some_quorum(lambda m: z3.Implies(correct(m), z3.And(s["left"](m, v), z3.Not(s["holds"](m, v, sq, d))))),
    )


def view_change_reports_held_certificates(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, sq, d, v2 = x
    return z3.Implies(
        z3.And(correct(n), s["holds"](n, v, sq, d), s["vc_sent"](n, v2), lt(v, v2)), s["vc_cert"](n, v2, sq, d, v)
    )


def reports_are_certificates(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v2, sq, d, pv = x
    return z3.Implies(s["vc_cert"](n, v2, sq, d, pv), s["pcert"](pv, sq, d))


def view_change_leaves_lower_views(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    n, v, v2 = x
    return z3.Implies(z3.And(correct(n), s["vc_sent"](n, v2), lt(v, v2)), s["left"](n, v))


def decision_blocks_other_held_certificates(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    """Not needed for induction (the rest of the invariant is inductive without it),
    but a lemma that keeps z3 fast: agreement and the execute step then need no case
    split on the order of two views."""
    sq, d, n, v, d2 = x
    return z3.Implies(
        z3.And(s["decided"](sq, d), correct(n), s["holds"](n, v, sq, d2), d2 != d), s["blocked"](v, sq, d2)
    )


def decision_has_held_quorum(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    """A re-vote needs an execution before it, so the first execution of d at s was
    on COMMITs that all followed prepared certificates: the correct members of that
    commit quorum all keep one for d at s, in the view v of the commit quorum."""
    v, sq, d = x
    return z3.Implies(s["anchor"](v, sq, d), some_quorum(lambda m: z3.Implies(correct(m), s["holds"](m, v, sq, d))))


def execution_is_anchored(s: State, x: Sequence[z3.ExprRef]) -> z3.BoolRef:
    """Two facts about one sequence number and digest, stated together so that the
    view of the execution and the view of the anchor are in different scopes (an
    existential view under a universal one would be an edge View -> View)."""
    sq, d = x
    n, v, w = fresh(Node, "n"), fresh(View, "v"), fresh(View, "w")
    executed = z3.ForAll([n, v], z3.Implies(z3.And(correct(n), s["committed_at"](n, v, sq, d)), s["decided"](sq, d)))
    return z3.And(executed, z3.Implies(s["decided"](sq, d), z3.Exists([w], s["anchor"](w, sq, d))))


NVSD = (("n", Node), ("v", View), ("s", Seq), ("d", Digest))
VSD = (("v", View), ("s", Seq), ("d", Digest))

CONJUNCTS: tuple[Conjunct, ...] = (
    Conjunct(
        "one_prepare_per_view",
        "A correct replica prepares at most one digest per sequence number and view.",
        (("n", Node), ("v", View), ("s", Seq), ("d1", Digest), ("d2", Digest)),
        one_prepare_per_view,
    ),
    Conjunct(
        "commit_is_held_or_decided",
        "A correct replica's COMMIT for d at s in view v comes with a prepared certificate it keeps (holds), "
        "or is a re-vote for a digest already decided at s.",
        NVSD,
        commit_is_held_or_decided,
    ),
    Conjunct(
        "held_certificate_is_genuine",
        "A prepared certificate a correct replica keeps (holds) was formed: a quorum of PREPAREs was exhibited (pcert).",
        NVSD,
        held_certificate_is_genuine,
    ),
    Conjunct(
        "prepare_certificate_has_quorum",
        "Behind every prepared certificate (pcert) lies a quorum of PREPAREs.",
        VSD,
        prepare_certificate_has_quorum,
    ),
    Conjunct(
        "execution_has_commit_certificate",
        "A correct replica executes d at s only on a commit certificate (ccert) of the same view.",
        NVSD,
        execution_has_commit_certificate,
    ),
    Conjunct(
        "commit_certificate_has_quorum",
        "Behind every commit certificate (ccert) lies a quorum of COMMITs.",
        VSD,
        commit_certificate_has_quorum,
    ),
    Conjunct(
        "prepare_blocks_lower_views",
        "Once a correct replica prepared d2 at s in view v2, every other digest d1 is blocked at s in every "
        "view v1 below v2.",
        (("n", Node), ("v2", View), ("s", Seq), ("d2", Digest), ("v1", View), ("d1", Digest)),
        prepare_blocks_lower_views,
    ),
    Conjunct(
        "blocked_has_quorum",
        "When d is blocked at s in view v, some quorum's correct members have all left v without a prepared "
        "certificate for d there.",
        VSD,
        blocked_has_quorum,
    ),
    Conjunct(
        "view_change_reports_held_certificates",
        "A correct replica's VIEW-CHANGE for v2 reports every prepared certificate it keeps from a lower view.",
        (("n", Node), ("v", View), ("s", Seq), ("d", Digest), ("v2", View)),
        view_change_reports_held_certificates,
    ),
    Conjunct(
        "reports_are_certificates",
        "Every certificate a VIEW-CHANGE reports, a correct or a faulty replica's, is a genuine prepared certificate.",
        (("n", Node), ("v2", View), ("s", Seq), ("d", Digest), ("pv", View)),
        reports_are_certificates,
    ),
    Conjunct(
        "view_change_leaves_lower_views",
        "A correct replica that sent VIEW-CHANGE for v2 has left every view below v2.",
        (("n", Node), ("v", View), ("v2", View)),
        view_change_leaves_lower_views,
    ),
    Conjunct(
        "decision_blocks_other_held_certificates",
        "Once d is decided at s, every other digest a correct replica keeps a prepared certificate for at s in a "
        "view v is blocked there.",
        (("s", Seq), ("d", Digest), ("n", Node), ("v", View), ("d2", Digest)),
        decision_blocks_other_held_certificates,
    ),
    Conjunct(
        "decision_has_held_quorum",
        "Behind every anchor of d at s in view v lies a quorum whose correct members all keep a prepared "
        "certificate for d at s in v.",
        VSD,
        decision_has_held_quorum,
    ),
    Conjunct(
        "execution_is_anchored",
        "A digest a correct replica executed at s is decided at s, and every digest decided at s has an anchor: "
        "a view in which it was first decided.",
        (("s", Seq), ("d", Digest)),
        execution_is_anchored,
    ),
)


def invariant(s: State) -> list[z3.BoolRef]:
    return [conjunct.holds(s) for conjunct in CONJUNCTS]


# --- the actions ----------------------------------------------------------------------------------------
Added = Callable[..., z3.BoolRef]
"""For a relation the step changes: which tuples it adds, as a formula over the tuple."""


@dataclass(frozen=True)
class Parameter:
    label: str
    term: z3.ExprRef
    meaning: str


@dataclass
class Step:
    """One action with its parameters as named constants: the guard on the pre-state
    and, for each relation it changes, the tuples it adds. Every other relation is
    the same function in the post-state (the frame)."""

    parameters: list[Parameter]
    guard: list[z3.BoolRef]
    adds: dict[str, Added] = field(default_factory=dict)


def parameter(step_name: str, label: str, sort: z3.SortRef, meaning: str = "") -> Parameter:
    return Parameter(label, z3.Const(f"{step_name}.{label}", sort), meaning)


def only(*values: z3.ExprRef) -> Added:
    """Adds exactly the one tuple `values`."""
    return lambda *xs: z3.And([x == value for x, value in zip(xs, values, strict=True)])


def not_left(pre: State, n: z3.ExprRef, v: z3.ExprRef) -> z3.BoolRef:
    return z3.Not(pre["left"](n, v))


def new_view_justifies(pre: State, p: dict[str, z3.ExprRef], variant: str | None) -> z3.BoolRef:
    """NEW-VIEW validation, what `spec.pbft.new_view_is_valid` recomputes: the first view
    needs none; above it a quorum `q` of VIEW-CHANGEs for v, and the digest of their
    highest-view certificate for s (reported by `best`, formed in view `best_view`), or
    any digest when none of them reports a certificate for s."""
    v, sq, d, q, best, best_view = p["v"], p["s"], p["d"], p["q"], p["best"], p["best_view"]
    quorum_moved = all_members(q, lambda m: pre["vc_sent"](m, v))
    m, d2, pv = fresh(Node, "m"), fresh(Digest, "d"), fresh(View, "pv")
    reported = z3.And(member(m, q), pre["vc_cert"](m, v, sq, d2, pv))
    highest = z3.And(
        member(best, q),
        pre["vc_cert"](best, v, sq, d, best_view),
        z3.ForAll([m, d2, pv], z3.Implies(reported, vle(pv, best_view))),
    )
    none_reported = z3.ForAll([m, d2, pv], z3.Not(reported))
    choice = z3.BoolVal(True) if variant == "new_view_ignores_certificates" else z3.Or(highest, none_reported)
    return z3.Or(v == v0, z3.And(quorum_moved, choice))


def new_view_parameters(step_name: str) -> list[Parameter]:
    """A prepare's parameters, the NEW-VIEW that justifies it above the first view included."""
    return [
        parameter(step_name, "n", Node, "the correct replica"),
        parameter(step_name, "v", View, "the view"),
        parameter(step_name, "s", Seq),
        parameter(step_name, "d", Digest),
        parameter(step_name, "q", Quorum, "the NEW-VIEW's quorum of VIEW-CHANGEs for v"),
        parameter(step_name, "best", Node, "the member reporting the highest-view certificate for s"),
        parameter(step_name, "best_view", View, "the view that certificate was formed in"),
    ]


def first_prepare(pre: State, n: z3.ExprRef, v: z3.ExprRef, sq: z3.ExprRef) -> z3.BoolRef:
    """n has prepared no digest at s in view v yet."""
    other = fresh(Digest, "d")
    return z3.ForAll([other], z3.Not(pre["prepare"](n, v, sq, other)))


def prepared_nothing_else(pre: State, n: z3.ExprRef, v: z3.ExprRef, sq: z3.ExprRef, d: z3.ExprRef) -> z3.BoolRef:
    """n has prepared no digest but d at s in view v (a re-vote after catch-up may
    follow n's own PREPARE of d there)."""
    other = fresh(Digest, "d")
    return z3.ForAll([other], z3.Implies(pre["prepare"](n, v, sq, other), other == d))


def blocks_lower_views(v: z3.ExprRef, sq: z3.ExprRef, d: z3.ExprRef) -> Added:
    """The ghost a prepare of d at s in view v adds: every other digest is blocked at s
    in every lower view."""
    return lambda x, y, z: z3.And(lt(x, v), y == sq, z != d)


def prepare_step(pre: State, variant: str | None) -> Step:
    ps = new_view_parameters("prepare")
    p = {x.label: x.term for x in ps}
    n, v, sq, d = p["n"], p["v"], p["s"], p["d"]
    guard = [correct(n), not_left(pre, n, v), new_view_justifies(pre, p, variant)]
    if variant != "prepare_twice":
        guard.append(first_prepare(pre, n, v, sq))
    return Step(ps, guard, {"prepare": only(n, v, sq, d), "blocked": blocks_lower_views(v, sq, d)})


def quorum_step_parameters(step_name: str, quorum_meaning: str) -> list[Parameter]:
    """The parameters of a step a correct replica takes on a quorum of votes for d at s in v."""
    return [
        parameter(step_name, "n", Node, "the correct replica"),
        parameter(step_name, "v", View),
        parameter(step_name, "s", Seq),
        parameter(step_name, "d", Digest),
        parameter(step_name, "q", Quorum, quorum_meaning),
    ]


def commit_step(pre: State, variant: str | None) -> Step:
    ps = quorum_step_parameters("commit", "the quorum whose PREPAREs make the prepared certificate")
    p = {x.label: x.term for x in ps}
    n, v, sq, d, q = p["n"], p["v"], p["s"], p["d"], p["q"]
    guard = [correct(n)]
    if variant != "commit_in_left_view":
        guard.append(not_left(pre, n, v))
    # The replica keeps the certificate (`state.prepared`) as it sends COMMIT.
    adds = {"commit": only(n, v, sq, d), "holds": only(n, v, sq, d)}
    if variant != "commit_without_quorum":
        guard.append(all_members(q, lambda m: pre["prepare"](m, v, sq, d)))
        adds["pcert"] = only(v, sq, d)
    return Step(ps, guard, adds)


def revote_step(pre: State, variant: str | None) -> Step:
    """`spec.pbft.votes_for_executed_proposals`: on installing a NEW-VIEW for v that
    re-proposes d at s, a replica that already executed d at s (in any view, on a
    commit certificate of that view, in the normal case or in catch-up) sends PREPARE
    and COMMIT for it in v at once, without a quorum of PREPAREs in v; and
    `spec.pbft.votes_for_caught_up_proposal`: a replica in v that executes d at s by
    catch-up after installing that NEW-VIEW does the same, though it may have sent
    its PREPARE of d already. It keeps no prepared certificate for (v, s, d):
    `state.prepared` is not updated."""
    ps = new_view_parameters("revote") + [
        parameter("revote", "executed_view", View, "the view of the commit certificate n executed d at s on"),
    ]
    p = {x.label: x.term for x in ps}
    n, v, sq, d = p["n"], p["v"], p["s"], p["d"]
    guard = [correct(n), not_left(pre, n, v), prepared_nothing_else(pre, n, v, sq, d)]
    if variant != "revote_without_new_view":
        # Only a NEW-VIEW re-proposes, and only above the first view.
        guard += [lt(v0, v), new_view_justifies(pre, p, variant)]
    if variant != "revote_without_execution":
        guard.append(pre["committed_at"](n, p["executed_view"], sq, d))
    adds = {"prepare": only(n, v, sq, d), "blocked": blocks_lower_views(v, sq, d), "commit": only(n, v, sq, d)}
    if variant == "revote_keeps_certificate":
        adds["holds"] = only(n, v, sq, d)
    return Step(ps, guard, adds)


def execute_step(pre: State, variant: str | None) -> Step:
    ps = quorum_step_parameters("execute", "the quorum whose COMMITs make the commit certificate")
    p = {x.label: x.term for x in ps}
    n, v, sq, d, q = p["n"], p["v"], p["s"], p["d"], p["q"]
    guard = [correct(n)]
    adds = {
        "committed_at": only(n, v, sq, d),
        "decided": only(sq, d),
        "anchor": lambda x, y, z: z3.And(x == v, y == sq, z == d, z3.Not(pre["decided"](sq, d))),
    }
    if variant != "execute_without_quorum":
        guard.append(all_members(q, lambda m: pre["commit"](m, v, sq, d)))
        adds["ccert"] = only(v, sq, d)
    return Step(ps, guard, adds)


def view_change_step(pre: State, variant: str | None) -> Step:
    ps = [parameter("view_change", "n", Node, "the correct replica"), parameter("view_change", "v", View, "the new view")]
    n, v = ps[0].term, ps[1].term
    w = fresh(View, "w")
    guard = [correct(n), lt(v0, v), z3.ForAll([w], z3.Implies(pre["vc_sent"](n, w), lt(w, v)))]
    adds: dict[str, Added] = {"vc_sent": only(n, v)}
    if variant != "view_change_stays":
        adds["left"] = lambda x, y: z3.And(x == n, lt(y, v))
    # A correct replica reports every certificate it keeps from a lower view (`holds`: formed on a quorum of
    # PREPAREs, so never a re-vote's). `spec.pbft`
    # keeps only the highest-view one per sequence number: the same to a NEW-VIEW,
    # which takes the highest over all the reports of its quorum anyway.
    if variant == "view_change_reports_unprepared":
        adds["vc_cert"] = lambda x, y, sq, d, pv: z3.And(x == n, y == v, pre["prepare"](n, pv, sq, d), lt(pv, v))
    elif variant != "view_change_hides_certificates":
        adds["vc_cert"] = lambda x, y, sq, d, pv: z3.And(x == n, y == v, pre["holds"](n, pv, sq, d), lt(pv, v))
    return Step(ps, guard, adds)


def faulty_send_step(relation: str) -> Callable[[State, str | None], Step]:
    """A faulty replica sends any PREPARE, COMMIT or VIEW-CHANGE, in its own name."""

    def step(pre: State, variant: str | None) -> Step:
        name = f"faulty_{relation}"
        labels = ("n", "v", "s", "d")[: len(RELATION[relation].sorts)]
        ps = [parameter(name, label, sort) for label, sort in zip(labels, RELATION[relation].sorts, strict=True)]
        ps[0] = Parameter("n", ps[0].term, "the faulty replica")
        return Step(ps, [faulty(ps[0].term)], {relation: only(*(x.term for x in ps))})

    return step


def faulty_report_step(pre: State, variant: str | None) -> Step:
    """A faulty replica reports a prepared certificate in a VIEW-CHANGE: any one a quorum
    signed, from a lower view, since it cannot forge the signatures of correct replicas."""
    ps = [
        parameter("faulty_report", "n", Node, "the faulty replica"),
        parameter("faulty_report", "v", View, "the view its VIEW-CHANGE is for"),
        parameter("faulty_report", "s", Seq),
        parameter("faulty_report", "d", Digest),
        parameter("faulty_report", "pv", View, "the view the reported certificate was formed in"),
        parameter("faulty_report", "q", Quorum, "the quorum whose PREPAREs the certificate carries"),
    ]
    p = {x.label: x.term for x in ps}
    n, v, sq, d, pv, q = p["n"], p["v"], p["s"], p["d"], p["pv"], p["q"]
    guard = [faulty(n), lt(pv, v)]
    adds = {"vc_cert": only(n, v, sq, d, pv)}
    if variant != "faulty_forges_certificate":
        guard.append(all_members(q, lambda m: pre["prepare"](m, pv, sq, d)))
        adds["pcert"] = only(pv, sq, d)
    return Step(ps, guard, adds)


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    rule: str
    """The functions of `spec/pbft.py` whose rule the action abstracts, comma-separated ("-": none)."""
    step: Callable[[State, str | None], Step]


ACTIONS: tuple[Action, ...] = (
    Action(
        "prepare",
        "a correct replica prepares d at s in a view it has not left, justified as the view requires",
        "pre_prepare_refusal, accept_pre_prepare, on_new_view, new_view_is_valid",
        prepare_step,
    ),
    Action(
        "commit",
        "a correct replica commits d at s in a view it has not left, on a quorum of PREPAREs",
        "after_prepare_vote",
        commit_step,
    ),
    Action(
        "revote",
        "a correct replica that executed d at s re-votes for it (PREPARE and COMMIT) in a view whose NEW-VIEW "
        "re-proposes it",
        "install_new_view, votes_for_executed_proposals",
        revote_step,
    ),
    Action("execute", "a correct replica executes d at s on a quorum of COMMITs", "after_commit_vote, execute", execute_step),
    Action(
        "view_change",
        "a correct replica sends VIEW-CHANGE for a higher view, reporting its prepared certificates",
        "start_view_change",
        view_change_step,
    ),
    Action("faulty_prepare", "a faulty replica sends any PREPARE", "-", faulty_send_step("prepare")),
    Action("faulty_commit", "a faulty replica sends any COMMIT", "-", faulty_send_step("commit")),
    Action("faulty_view_change", "a faulty replica sends VIEW-CHANGE for any view", "-", faulty_send_step("vc_sent")),
    Action(
        "faulty_report",
        "a faulty replica's VIEW-CHANGE reports any genuine prepared certificate from a lower view",
        "view_change_is_valid",
        faulty_report_step,
    ),
)

FORGED: dict[str, str] = {
    "forged_prepare": "prepare",
    "forged_commit": "commit",
    "forged_view_change": "vc_sent",
    "forged_report": "vc_cert",
    "forged_commit_certificate": "committed_at",
    "forged_prepared_certificate": "holds",
}
"""Variants in which every step also adds one arbitrary tuple to a relation."""
LOST: dict[str, str] = {"lost_prepares": "prepare", "lost_commits": "commit", "lost_held_certificates": "holds"}
"""Variants in which every step may also remove tuples from a relation."""


def broken_step(step: Step, variant: str | None) -> Step:
    """The threat-model variants apply to every step: a forged message is added, or sent
    messages are lost."""
    adds = dict(step.adds)
    parameters = list(step.parameters)
    if variant in FORGED:
        relation = RELATION[FORGED[variant]]
        forged = [z3.Const(f"forged.{i}", sort) for i, sort in enumerate(relation.sorts)]
        parameters += [Parameter(f"forged {relation.name}[{i}]", term, "") for i, term in enumerate(forged)]
        previous = adds.get(relation.name)
        tuple_added = only(*forged)
        adds[relation.name] = (
            tuple_added if previous is None else lambda *xs, p=previous: z3.Or(p(*xs), tuple_added(*xs))  # type: ignore[misc]
        )
    if variant in LOST:
        relation = RELATION[LOST[variant]]
        lost = [z3.Const(f"lost.{i}", sort) for i, sort in enumerate(relation.sorts)]
        parameters += [Parameter(f"lost {relation.name}[{i}]", term, "") for i, term in enumerate(lost)]
        adds.setdefault(relation.name, lambda *xs: z3.BoolVal(False))
    return Step(parameters, step.guard, adds)


@dataclass(frozen=True)
class Transition:
    step: Step
    pre: State
    post: State
    formulas: list[z3.BoolRef]


def transition(action: Action, variant: str | None) -> Transition:
    """The post-state as formulas over the pre-state: each relation the step changes is
    the old one or the tuples added, every other one is the old one (the frame). No
    post-state symbols, so no quantified definitions of them for z3 to instantiate."""
    pre = pre_state()
    step = broken_step(action.step(pre, variant), variant)
    post = dict(pre)
    for name, added in step.adds.items():
        post[name] = updated(pre[name], added)
    if variant in LOST:
        # Whatever is added stays; of what was there, one tuple (the step's `lost` parameters) may go. One
        # tuple, not any set of them: as broken a threat model, and a ground term z3 finds models for fast.
        name = LOST[variant]
        lost = [x.term for x in step.parameters if x.label.startswith(f"lost {name}[")]
        post[name] = lambda *xs, p=post[name]: z3.And(p(*xs), z3.Or(z3.Not(only(*lost)(*xs)), step.adds[name](*xs)))
    return Transition(step, pre, post, list(step.guard))


def updated(before: Rel, added: Added) -> Rel:
    return lambda *xs: z3.Or(before(*xs), added(*xs))


# --- obligations ----------------------------------------------------------------------------------------
def initiation(conjunct: Conjunct, variant: str | None) -> Obligation:
    def render(model: z3.ModelRef) -> str:
        pre = pre_state()
        return render_model(model, [], pre, pre, conjunct, conjunct.instance(), "initial state")

    return Obligation(
        name=f"pbft.{conjunct.name}.initial",
        statement=f"{conjunct.statement} Initially, with no message sent.",
        hypotheses=lambda: axioms(variant) + initial(pre_state(), variant),
        goal=lambda: conjunct.body(pre_state(), conjunct.instance()),
        render=render,
        small_sorts=SORTS,
    )


def consecution(conjunct: Conjunct, action: Action, variant: str | None) -> Obligation:
    def hypotheses() -> list[z3.BoolRef]:
        t = transition(action, variant)
        return axioms(variant) + invariant(t.pre) + t.formulas

    def goal() -> z3.BoolRef:
        return conjunct.body(transition(action, variant).post, conjunct.instance())

    def render(model: z3.ModelRef) -> str:
        t = transition(action, variant)
        return render_model(model, t.step.parameters, t.pre, t.post, conjunct, conjunct.instance(), action.name)

    return Obligation(
        name=f"pbft.{conjunct.name}.{action.name}",
        statement=f"{conjunct.statement} Preserved when {action.description}.",
        hypotheses=hypotheses,
        goal=goal,
        render=render,
        small_sorts=SORTS,
    )


AGREEMENT_PARAMETERS: tuple[tuple[str, z3.SortRef], ...] = (
    ("n1", Node), ("v1", View), ("n2", Node), ("v2", View), ("s", Seq), ("d1", Digest), ("d2", Digest),
)


def agreement(variant: str | None) -> Obligation:
    """The hypotheses hold two executions at the same sequence number by correct
    replicas, so the runner's satisfiability check of the hypotheses is also the check
    that the axioms, the invariant and executions are consistent together."""
    ps = [Parameter(label, z3.Const(f"agreement.{label}", sort), "") for label, sort in AGREEMENT_PARAMETERS]
    n1, v1, n2, v2, sq, d1, d2 = (x.term for x in ps)

    def hypotheses() -> list[z3.BoolRef]:
        pre = pre_state()
        executed = [correct(n1), correct(n2), pre["committed_at"](n1, v1, sq, d1), pre["committed_at"](n2, v2, sq, d2)]
        return axioms(variant) + invariant(pre) + executed

    def render(model: z3.ModelRef) -> str:
        pre = pre_state()
        return render_model(model, ps, pre, pre, None, [], "agreement")

    return Obligation(
        name="pbft.agreement",
        statement="The invariant implies agreement: two correct replicas that execute at the same sequence number "
        "execute the same digest, whatever views they executed it in.",
        hypotheses=hypotheses,
        goal=lambda: d1 == d2,
        render=render,
        small_sorts=SORTS,
    )


def obligations(variant: str | None = None) -> list[Obligation]:
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} of pbft")
    found: list[Obligation] = []
    for conjunct in CONJUNCTS:
        found.append(initiation(conjunct, variant))
        for action in ACTIONS:
            found.append(consecution(conjunct, action, variant))
    found.append(agreement(variant))
    return found


# --- which variant breaks which obligation --------------------------------------------------------------
NATURAL_BREAKS: dict[tuple[str, str], str] = {
    ("one_prepare_per_view", "prepare"): "prepare_twice",
    ("commit_is_held_or_decided", "revote"): "revote_without_execution",
    ("held_certificate_is_genuine", "commit"): "commit_without_quorum",
    ("held_certificate_is_genuine", "revote"): "revote_keeps_certificate",
    ("execution_has_commit_certificate", "execute"): "execute_without_quorum",
    ("decision_has_held_quorum", "execute"): "execute_without_quorum",
    ("blocked_has_quorum", "prepare"): "new_view_ignores_certificates",
    ("blocked_has_quorum", "commit"): "commit_in_left_view",
    ("blocked_has_quorum", "revote"): "revote_without_new_view",
    ("view_change_reports_held_certificates", "commit"): "commit_in_left_view",
    ("view_change_reports_held_certificates", "view_change"): "view_change_hides_certificates",
    ("reports_are_certificates", "view_change"): "view_change_reports_unprepared",
    ("reports_are_certificates", "faulty_report"): "faulty_forges_certificate",
    ("view_change_leaves_lower_views", "view_change"): "view_change_stays",
}
"""A protocol bug that breaks the conjunct in the very action it is a bug of."""

THREAT_BREAKS: dict[str, str] = {
    "one_prepare_per_view": "forged_prepare",
    "commit_is_held_or_decided": "forged_commit",
    "held_certificate_is_genuine": "forged_prepared_certificate",
    "prepare_certificate_has_quorum": "lost_prepares",
    "execution_has_commit_certificate": "forged_commit_certificate",
    "commit_certificate_has_quorum": "lost_commits",
    "prepare_blocks_lower_views": "forged_prepare",
    "blocked_has_quorum": "forged_prepared_certificate",
    "view_change_reports_held_certificates": "forged_view_change",
    "reports_are_certificates": "forged_report",
    "view_change_leaves_lower_views": "forged_view_change",
    "decision_blocks_other_held_certificates": "forged_prepared_certificate",
    "decision_has_held_quorum": "lost_held_certificates",
    "execution_is_anchored": "forged_commit_certificate",
}
"""Otherwise: a broken threat model (forged signatures, lost messages) breaks the
conjunct in every action, the ones that do not touch its relations included."""


def broken_variants() -> dict[str, str]:
    broken: dict[str, str] = {}
    for conjunct in CONJUNCTS:
        broken[f"pbft.{conjunct.name}.initial"] = "arbitrary_initial_state"
        for action in ACTIONS:
            natural = NATURAL_BREAKS.get((conjunct.name, action.name))
            broken[f"pbft.{conjunct.name}.{action.name}"] = natural or THREAT_BREAKS[conjunct.name]
    broken["pbft.agreement"] = "quorums_share_any_replica"
    return broken


# --- decidability: the quantifier alternations -------------------------------------------------------
def quantifier_edges(formulas: Sequence[z3.BoolRef]) -> set[tuple[str, str]]:
    """(A, B) for every existential variable of sort B in the scope of a universal one
    of sort A, once the formulas are put in negation normal form: the Skolem functions
    A -> B that z3 introduces. With no cycle among these edges (and no function symbols
    besides), the ground terms are finitely many and the formulas are decidable."""
    edges: set[tuple[str, str]] = set()
    for formula in formulas:
        collect_edges(formula, 1, (), edges)
    return edges


def collect_edges(e: z3.ExprRef, polarity: int, universals: tuple[str, ...], edges: set[tuple[str, str]]) -> None:
    """`polarity` is 1 (positive), -1 (under a negation) or 0 (both, as under `==`)."""
    if z3.is_quantifier(e):
        sorts = tuple(e.var_sort(i).name() for i in range(e.num_vars()))
        universal = polarity == 0 or (polarity == 1) == e.is_forall()
        existential = polarity == 0 or (polarity == 1) != e.is_forall()
        if existential:
            edges.update((outer, inner) for outer in universals for inner in sorts)
        collect_edges(e.body(), polarity, universals + sorts if universal else universals, edges)
        return
    if not z3.is_app(e):
        return
    children = e.children()
    if z3.is_not(e):
        collect_edges(children[0], -polarity, universals, edges)
    elif z3.is_implies(e):
        collect_edges(children[0], -polarity, universals, edges)
        collect_edges(children[1], polarity, universals, edges)
    elif z3.is_and(e) or z3.is_or(e):
        for child in children:
            collect_edges(child, polarity, universals, edges)
    else:
        # Equalities of formulas, if-then-else: both polarities.
        for child in children:
            if z3.is_bool(child):
                collect_edges(child, 0, universals, edges)


def stratified(edges: set[tuple[str, str]]) -> bool:
    """No cycle among the sort edges."""
    graph: dict[str, set[str]] = {}
    for outer, inner in edges:
        graph.setdefault(outer, set()).add(inner)

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    return not any(reaches(sort, sort, {sort}) for sort in graph)


# --- counterexamples ------------------------------------------------------------------------------------
class Names:
    """Readable names for the elements of a model: node0, quorum1, view2 (views numbered
    in their order, view0 the least), seq0, digest1."""

    def __init__(self, model: z3.ModelRef) -> None:
        self.model = model
        self.names: dict[str, str] = {}
        self.elements: dict[str, list[z3.ExprRef]] = {}
        for sort in SORTS:
            elements = universe(model, sort)
            if sort.eq(View):
                # Numbered by how many views lie at or below each (list.sort empties the
                # list while it sorts, so the key counts over a copy).
                views = list(elements)
                elements.sort(key=lambda e: sum(self.true(vle(w, e)) for w in views))
            self.elements[sort.name()] = elements
            for i, element in enumerate(elements):
                self.names[str(element)] = f"{SORT_LABELS[sort.name()]}{i}"

    def true(self, formula: z3.BoolRef) -> bool:
        return z3.is_true(self.model.eval(formula, model_completion=True))

    def of(self, term: z3.ExprRef) -> str:
        value = self.model.eval(term, model_completion=True)
        return self.names.get(str(value), str(value))

    def tuples(self, relation: Relation, holds: Rel) -> Iterator[str]:
        domains = [self.elements[sort.name()] for sort in relation.sorts]
        for args in product(*domains):
            if self.true(holds(*args)):
                yield "(" + ", ".join(self.names[str(a)] for a in args) + ")"


def render_model(
    model: z3.ModelRef,
    parameters: Sequence[Parameter],
    pre: State,
    post: State,
    conjunct: Conjunct | None,
    instance: Sequence[z3.ExprRef],
    step_name: str,
) -> str:
    names = Names(model)
    lines: list[str] = []
    if parameters:
        lines.append(f"step: {step_name}")
        for x in parameters:
            meaning = f"  ({x.meaning})" if x.meaning else ""
            lines.append(f"  {x.label} = {names.of(x.term)}{meaning}")
    else:
        lines.append(f"step: {step_name}")
    if conjunct is not None:
        bound = ", ".join(f"{label} = {names.of(term)}" for (label, _), term in zip(conjunct.variables, instance, strict=True))
        lines.append(f"violated: {conjunct.name} at {bound}")
    lines.append("views, in order: " + " < ".join(names.names[str(e)] for e in names.elements["View"]))
    nodes = [names.names[str(e)] + (" (faulty)" if names.true(faulty(e)) else "") for e in names.elements["Node"]]
    lines.append("nodes: " + ", ".join(nodes))
    for q in names.elements["Quorum"]:
        members = [names.names[str(n)] for n in names.elements["Node"] if names.true(member(n, q))]
        lines.append(f"{names.names[str(q)]} = {{{', '.join(members)}}}")
    lines.append("before the step:" if pre is not post else "state:")
    for relation in RELATIONS:
        before = list(names.tuples(relation, pre[relation.name]))
        if before:
            lines.append(f"  {relation.name}: {' '.join(before)}")
    changed = [relation for relation in RELATIONS if post[relation.name] is not pre[relation.name]]
    if changed:
        lines.append("after the step (+ added, - removed):")
        for relation in changed:
            before = set(names.tuples(relation, pre[relation.name]))
            after = set(names.tuples(relation, post[relation.name]))
            diff = [f"+{t}" for t in sorted(after - before)] + [f"-{t}" for t in sorted(before - after)]
            lines.append(f"  {relation.name}: {' '.join(diff) if diff else 'unchanged'}")
    return "\n".join(lines)
