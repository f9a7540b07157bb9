"""Proof obligations and the runner that discharges them with z3.

An obligation is a verification condition split into its *hypotheses* (axioms,
the invariant in the pre-state, the transition) and its *goal* (the invariant in
the post-state, or the property the invariant implies). z3 proves it by showing
that the hypotheses together with the negated goal are unsatisfiable.

Every run first checks that the hypotheses alone are satisfiable. A
contradiction among them would prove any goal, `False` included, so an
obligation whose hypotheses are unsatisfiable is reported as failed (vacuous),
never as proven. This is the non-vacuity check, made on every obligation on
every run.
"""

import fnmatch
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import z3

DEFAULT_TIMEOUT_S = 60
"""Per-obligation limit, in seconds. An obligation that hits it is `unknown`."""
RANDOM_SEED = 0
"""z3's seed is fixed, so a run repeats its answers. A counterexample is one model of
many: the same within one process, but another process (which builds the same terms
in another order) may print another, equally valid, one."""


class Status(StrEnum):
    PROVEN = "proven"
    FAILED = "failed"
    UNKNOWN = "unknown"


Renderer = Callable[[z3.ModelRef], str]
"""Turns a model of `hypotheses ∧ ¬goal` into a readable counterexample."""


@dataclass(frozen=True)
class Obligation:
    name: str
    """Dotted: `<proof>.<group>.<case>`, e.g. `ledger.conservation.commit`."""
    statement: str
    """One sentence: what is proven."""
    hypotheses: Callable[[], list[z3.BoolRef]]
    """Built lazily, so that listing obligations costs nothing."""
    goal: Callable[[], z3.BoolRef]
    render: Renderer
    small_sorts: tuple[z3.SortRef, ...] = ()
    """Uninterpreted sorts whose elements a counterexample should have as few of as it
    can: the runner shrinks each, in this order, before rendering (`smallest_model`)."""


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    seconds: float
    counterexample: str | None = None
    """For `failed`: a model of the hypotheses and the negated goal, rendered; or
    why the obligation is vacuous. For `unknown`: z3's reason."""


def solver(timeout_s: float) -> z3.Solver:
    s = z3.Solver()
    s.set("timeout", int(timeout_s * 1000))
    s.set("random_seed", RANDOM_SEED)
    return s


def prove(obligation: Obligation, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
    """Discharge one obligation: non-vacuity of the hypotheses, then the goal."""
    started = time.perf_counter()
    s = solver(timeout_s)
    s.add(*obligation.hypotheses())
    consistent = s.check()
    if consistent == z3.unsat:
        return Result(obligation.name, Status.FAILED, time.perf_counter() - started,
                      "vacuous: the hypotheses (axioms, invariant, transition) contradict each other, "
                      "so they would prove any goal, False included")
    if consistent == z3.unknown:
        return Result(obligation.name, Status.UNKNOWN, time.perf_counter() - started,
                      f"hypotheses: {s.reason_unknown()}")
    s.add(z3.Not(obligation.goal()))
    answer = s.check()
    seconds = time.perf_counter() - started
    if answer == z3.unsat:
        return Result(obligation.name, Status.PROVEN, seconds)
    if answer == z3.sat:
        model = smallest_model(s, obligation.small_sorts)
        return Result(obligation.name, Status.FAILED, time.perf_counter() - started, obligation.render(model))
    return Result(obligation.name, Status.UNKNOWN, seconds, s.reason_unknown())


def smallest_model(s: z3.Solver, sorts: Sequence[z3.SortRef]) -> z3.ModelRef:
    """A model of what `s` holds (already satisfiable) with as few elements of each sort
    as possible, sorts shrunk in the given order. z3's first model is any model: a
    PBFT counterexample may come with nineteen replicas where three tell the story.
    For each sort, the bound k grows from 1 until "every element is one of k
    constants" is satisfiable; the bound found is kept for the next sorts."""
    model = s.model()
    for sort in sorts:
        # Up to the size the model has: that bound holds, so some bound is always kept,
        # and shrinking a later sort cannot grow this one back.
        for k in range(1, len(universe(model, sort)) + 1):
            elements = [z3.FreshConst(sort, f"{sort.name()}_") for _ in range(k)]
            x = z3.FreshConst(sort, "x")
            s.push()
            s.add(z3.ForAll([x], z3.Or([x == element for element in elements])))
            if s.check() == z3.sat:
                model = s.model()
                break  # the bound stays pushed for the sorts after this one
            s.pop()
    return model


def selected(obligations: Sequence[Obligation], patterns: Sequence[str]) -> list[Obligation]:
    """The obligations a NAME argument selects: an exact name, a dotted prefix
    (`ledger`, `ledger.conservation`) or a glob (`*.commit`). No pattern: all."""
    if not patterns:
        return list(obligations)
    chosen: list[Obligation] = []
    for obligation in obligations:
        for pattern in patterns:
            if (
                obligation.name == pattern
                or obligation.name.startswith(pattern + ".")
                or fnmatch.fnmatchcase(obligation.name, pattern)
            ):
                chosen.append(obligation)
                break
    return chosen


def prove_all(obligations: Iterable[Obligation], timeout_s: float = DEFAULT_TIMEOUT_S,
              on_result: Callable[[Result], None] | None = None) -> list[Result]:
    results: list[Result] = []
    for obligation in obligations:
        result = prove(obligation, timeout_s)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


# --- readable models ----------------------------------------------------------------------------
def model_value(model: z3.ModelRef, term: z3.ExprRef) -> str:
    """A term's value in a model, as text (model completion on: unconstrained terms get a value)."""
    return str(model.eval(term, model_completion=True))


def model_int(model: z3.ModelRef, term: z3.ArithRef) -> int:
    value = model.eval(term, model_completion=True)
    assert isinstance(value, z3.IntNumRef), f"{term} is not an integer in the model: {value}"
    return value.as_long()


def model_bool(model: z3.ModelRef, term: z3.BoolRef) -> bool:
    return z3.is_true(model.eval(term, model_completion=True))


def universe(model: z3.ModelRef, sort: z3.SortRef) -> list[z3.ExprRef]:
    """The elements of an uninterpreted sort in a model (empty if the model has none)."""
    elements = model.get_universe(sort)
    return [] if elements is None else list(elements)
