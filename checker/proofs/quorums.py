"""Threshold lemmas: the counting facts about quorums that PBFT rests on, proven for
every N >= 3f + 1 and every f >= 0.

A quorum is any set of at least q replicas, where q is what `spec.pbft.quorum_size`
computes: q = ceil((N + f + 1) / 2). At most f replicas are faulty. Nothing else is
assumed: the lemmas are facts of integer arithmetic.

Sets are described by their Venn regions. For a few named sets of replicas (two
quorums Q1 and Q2, say) and the faulty set F, every replica lies in exactly one
region: one choice, for each set, of in or out. A region is an integer variable,
the number of replicas in it: non-negative, and all of them sum to N. The size of
any intersection or difference of the sets is a sum of regions. This description is
exact for cardinality facts: every choice of sets gives region counts, and every
choice of non-negative counts summing to N is realised by sets (number the replicas
0 .. N-1 and deal them out region by region). So a statement about the sizes holds
for all sets of replicas exactly when it holds for all region counts, and that is a
formula of linear integer arithmetic, which z3 decides.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import z3

from checker.proofs.obligation import Obligation, model_int

TITLE = "Threshold lemmas"

VARIANTS: dict[str, str] = {
    "two_f_plus_one": (
        "Quorums of 2f + 1 (PBFT's textbook size) while N may exceed 3f + 1, with f >= 1: two quorums "
        "need not share f + 1 replicas, nor a correct one."
    ),
    "majority": (
        "Quorums of a simple majority, floor(N / 2) + 1 (the crash-fault quorum of Paxos and Raft): two "
        "quorums may meet only in a faulty replica (N = 5, f = 1), and a quorum may hold only f correct "
        "replicas (N = 7, f = 2)."
    ),
    "quorum_too_large": (
        "The ceiling written as floor((N + f + 1) / 2) + 1, one too many whenever N + f + 1 is even: "
        "the correct replicas alone can no longer form a quorum."
    ),
    "f_plus_one_faulty": (
        "One more faulty replica than tolerated (|F| <= f + 1): f + 1 replicas may all be faulty."
    ),
}


# --- sizes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    n: z3.ArithRef
    """N: how many replicas there are."""
    f: z3.ArithRef
    """How many faulty replicas are tolerated: any f with N >= 3f + 1, not only floor((N - 1) / 3)."""
    q: z3.ArithRef
    """The quorum size."""


def sizes() -> Sizes:
    # Named constants: every call returns the same z3 variables, so hypotheses and
    # goal, built separately, speak of the same N, f and q.
    return Sizes(z3.Int("N"), z3.Int("f"), z3.Int("q"))


QuorumRule = Callable[[z3.ArithRef, z3.ArithRef, z3.ArithRef], z3.BoolRef]
"""A quorum size as a constraint on (N, f, q)."""


def quorum_size_definition(n: z3.ArithRef, f: z3.ArithRef, q: z3.ArithRef) -> z3.BoolRef:
    """`spec.pbft.quorum_size`: q = (N + f + 2) // 2 = ceil((N + f + 1) / 2), the one
    integer whose double is N + f + 1 or N + f + 2."""
    return z3.And(2 * q >= n + f + 1, 2 * q <= n + f + 2)


def two_f_plus_one(n: z3.ArithRef, f: z3.ArithRef, q: z3.ArithRef) -> z3.BoolRef:
    return q == 2 * f + 1


def simple_majority(n: z3.ArithRef, f: z3.ArithRef, q: z3.ArithRef) -> z3.BoolRef:
    """q = floor(N / 2) + 1: the double is N + 1 (N odd) or N + 2 (N even)."""
    return z3.And(2 * q >= n + 1, 2 * q <= n + 2)


def floor_plus_one(n: z3.ArithRef, f: z3.ArithRef, q: z3.ArithRef) -> z3.BoolRef:
    """q = floor((N + f + 1) / 2) + 1: the double is N + f + 2 or N + f + 3."""
    return z3.And(2 * q >= n + f + 2, 2 * q <= n + f + 3)


QUORUM_RULES: dict[str | None, tuple[QuorumRule, str]] = {
    None: (quorum_size_definition, "ceil((N + f + 1) / 2)"),
    "two_f_plus_one": (two_f_plus_one, "2f + 1"),
    "majority": (simple_majority, "floor(N / 2) + 1"),
    "quorum_too_large": (floor_plus_one, "floor((N + f + 1) / 2) + 1"),
    "f_plus_one_faulty": (quorum_size_definition, "ceil((N + f + 1) / 2)"),
}
"""Each variant's quorum size, and how the counterexample names it."""


def size_assumptions(s: Sizes, variant: str | None) -> list[z3.BoolRef]:
    rule, _ = QUORUM_RULES[variant]
    assumptions = [s.f >= 0, s.n >= 3 * s.f + 1, rule(s.n, s.f, s.q)]
    if variant == "two_f_plus_one":
        # PBFT's setting: at least one Byzantine fault tolerated. With f = 0, 2f + 1 is
        # a quorum of one, and z3's counterexample (N = 2, two quorums of one replica
        # each) would be true but far from the case 2f + 1 is mistaken for.
        assumptions.append(s.f >= 1)
    return assumptions


def faulty_bound(s: Sizes, variant: str | None) -> z3.ArithRef:
    """At most this many replicas are faulty."""
    return s.f + 1 if variant == "f_plus_one_faulty" else s.f


# --- sets of replicas as Venn regions -----------------------------------------------------------------
FAULTY = "F"


@dataclass(frozen=True)
class Region:
    """The replicas that lie in exactly the sets `members` (and in no other)."""

    members: frozenset[str]
    faulty: bool
    count: z3.ArithRef


@dataclass(frozen=True)
class Venn:
    """N replicas, a few named sets of them and the faulty set F, as region counts."""

    sets: tuple[str, ...]
    regions: tuple[Region, ...]

    def count(self, within: tuple[str, ...] = (), correct: bool = False) -> z3.ArithRef:
        """How many replicas lie in every set of `within` (all replicas if empty),
        only the correct ones if `correct`."""
        terms: list[z3.ArithRef] = []
        for region in self.regions:
            if set(within) <= region.members and not (correct and region.faulty):
                terms.append(region.count)
        return z3.Sum(terms)

    def faulty(self) -> z3.ArithRef:
        return z3.Sum([region.count for region in self.regions if region.faulty])

    def well_formed(self, n: z3.ArithRef) -> list[z3.BoolRef]:
        """Counts are non-negative and every replica lies in exactly one region."""
        constraints = [region.count >= 0 for region in self.regions]
        constraints.append(z3.Sum([region.count for region in self.regions]) == n)
        return constraints


def region_name(sets: tuple[str, ...], members: frozenset[str], faulty: bool) -> str:
    """`in_Q1_Q2_faulty`, `in_Q1_only_correct`, `in_none_correct`; `correct` when there are no sets."""
    health = "faulty" if faulty else "correct"
    if not sets:
        return health
    inside = [name for name in sets if name in members]
    if not inside:
        return f"in_none_{health}"
    only = "_only" if len(inside) < len(sets) else ""
    return f"in_{'_'.join(inside)}{only}_{health}"


def venn(sets: tuple[str, ...]) -> Venn:
    regions: list[Region] = []
    for choice in product((True, False), repeat=len(sets) + 1):
        members = frozenset(name for name, inside in zip(sets, choice, strict=False) if inside)
        faulty = choice[-1]
        regions.append(Region(members, faulty, z3.Int(region_name(sets, members, faulty))))
    return Venn(sets, tuple(regions))


# --- the lemmas -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lemma:
    """`measure >= bound` for every N >= 3f + 1, every f >= 0, every placement of the
    at most f faulty replicas, and all sets `quorums` (at least q replicas each) and
    `weak_sets` (at least f + 1 replicas each)."""

    name: str
    statement: str
    quorums: tuple[str, ...]
    weak_sets: tuple[str, ...]
    measure: Callable[[Venn], z3.ArithRef]
    measure_label: str
    bound: Callable[[Sizes], z3.ArithRef]
    bound_label: str

    @property
    def sets(self) -> tuple[str, ...]:
        return self.quorums + self.weak_sets


LEMMAS: tuple[Lemma, ...] = (
    Lemma(
        "two_quorums_share_f_plus_one",
        "Any two quorums share at least f + 1 replicas (2q - N >= f + 1).",
        quorums=("Q1", "Q2"),
        weak_sets=(),
        measure=lambda v: v.count(within=("Q1", "Q2")),
        measure_label="|Q1 & Q2|",
        bound=lambda s: s.f + 1,
        bound_label="f + 1",
    ),
    Lemma(
        "two_quorums_share_a_correct_replica",
        "Any two quorums share at least one correct replica, wherever the at most f faulty replicas are.",
        quorums=("Q1", "Q2"),
        weak_sets=(),
        measure=lambda v: v.count(within=("Q1", "Q2"), correct=True),
        measure_label="|Q1 & Q2 & correct|",
        bound=lambda s: z3.IntVal(1),
        bound_label="1",
    ),
    Lemma(
        "correct_replicas_form_a_quorum",
        "The correct replicas alone, at least N - f of them, are enough for a quorum (N - f >= q).",
        quorums=(),
        weak_sets=(),
        measure=lambda v: v.count(correct=True),
        measure_label="|correct|",
        bound=lambda s: s.q,
        bound_label="q",
    ),
    Lemma(
        "f_plus_one_include_a_correct_replica",
        "Any f + 1 replicas include at least one correct replica.",
        quorums=(),
        weak_sets=("S",),
        measure=lambda v: v.count(within=("S",), correct=True),
        measure_label="|S & correct|",
        bound=lambda s: z3.IntVal(1),
        bound_label="1",
    ),
    Lemma(
        "quorum_holds_f_plus_one_correct",
        "Every quorum holds at least f + 1 correct replicas: its correct members alone make f + 1 matching votes.",
        quorums=("Q",),
        weak_sets=(),
        measure=lambda v: v.count(within=("Q",), correct=True),
        measure_label="|Q & correct|",
        bound=lambda s: s.f + 1,
        bound_label="f + 1",
    ),
)


def hypotheses(lemma: Lemma, variant: str | None) -> list[z3.BoolRef]:
    s = sizes()
    v = venn(lemma.sets)
    constraints = size_assumptions(s, variant) + v.well_formed(s.n)
    constraints.append(v.faulty() <= faulty_bound(s, variant))
    for name in lemma.quorums:
        constraints.append(v.count(within=(name,)) >= s.q)
    for name in lemma.weak_sets:
        constraints.append(v.count(within=(name,)) >= s.f + 1)
    return constraints


def goal(lemma: Lemma) -> z3.BoolRef:
    return lemma.measure(venn(lemma.sets)) >= lemma.bound(sizes())


# --- counterexamples ------------------------------------------------------------------------------
def render(lemma: Lemma, variant: str | None, model: z3.ModelRef) -> str:
    """N, f, q, a table of every region's count, the sets' sizes and the count that
    falls short. The table is enough to build the sets: deal replicas 0 .. N-1 out
    region by region."""
    s = sizes()
    v = venn(lemma.sets)
    _, rule_label = QUORUM_RULES[variant]

    def value(term: z3.ArithRef) -> int:
        return model_int(model, term)

    lines = [f"N = {value(s.n)}, f = {value(s.f)}, q = {value(s.q)}  (quorum = {rule_label})"]
    lines.extend(region_table(v, value))
    sized = [f"|{name}| = {value(v.count(within=(name,)))} >= q" for name in lemma.quorums]
    sized += [f"|{name}| = {value(v.count(within=(name,)))} >= f + 1" for name in lemma.weak_sets]
    bound_label = "f + 1" if variant == "f_plus_one_faulty" else "f"
    sized.append(f"|{FAULTY}| = {value(v.faulty())} <= {bound_label}")
    lines.append(", ".join(sized))
    bound = str(value(lemma.bound(s)))
    required = bound if lemma.bound_label == bound else f"{lemma.bound_label} = {bound}"
    lines.append(f"{lemma.measure_label} = {value(lemma.measure(v))}, but must be >= {required}")
    return "\n".join(lines)


def region_table(v: Venn, value: Callable[[z3.ArithRef], int]) -> list[str]:
    """One row per region: x where it lies in the set, - where it does not."""
    columns = list(v.sets) + [FAULTY]
    width = max(len(str(region.count)) for region in v.regions)
    rows = ["  ".join([f"{'region':<{width}}", *(f"{name:>2}" for name in columns), "replicas"])]
    for region in v.regions:
        marks = [name in region.members for name in v.sets] + [region.faulty]
        cells = [f"{'x' if mark else '-':>2}" for mark in marks]
        rows.append("  ".join([f"{str(region.count):<{width}}", *cells, f"{value(region.count):>8}"]))
    return rows


# --- the contract ---------------------------------------------------------------------------------
def obligation(lemma: Lemma, variant: str | None) -> Obligation:
    return Obligation(
        name=f"quorums.{lemma.name}",
        statement=lemma.statement,
        hypotheses=lambda: hypotheses(lemma, variant),
        goal=lambda: goal(lemma),
        render=lambda model: render(lemma, variant, model),
    )


def obligations(variant: str | None = None) -> list[Obligation]:
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} of quorums")
    return [obligation(lemma, variant) for lemma in LEMMAS]


def broken_variants() -> dict[str, str]:
    """For each obligation, a variant under which it fails with a counterexample."""
    return {
        "quorums.two_quorums_share_f_plus_one": "two_f_plus_one",
        "quorums.two_quorums_share_a_correct_replica": "two_f_plus_one",
        "quorums.correct_replicas_form_a_quorum": "quorum_too_large",
        "quorums.f_plus_one_include_a_correct_replica": "f_plus_one_faulty",
        "quorums.quorum_holds_f_plus_one_correct": "majority",
    }
