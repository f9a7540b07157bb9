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
E_MATCHING_SECONDS = 1.5
"""How long a check runs with z3's default quantifier instantiation (e-matching, then
model-based), which proves every obligation here in well under a second. A check
still running after this is most likely looking for a counterexample: it goes on
looking for a small one (`SMALL_BOUNDS`), then for any, with model-based
instantiation alone, which builds the finite models of counterexamples in these
decidable fragments faster and more reliably (a broken variant's counterexample
otherwise took anything from a second to over a minute, depending on the seed)."""
SMALL_BOUNDS: tuple[int, ...] = (2, 3)
"""Universe sizes tried, each for at most `SMALL_BOUND_SECONDS`, for the
uninterpreted sorts an obligation names (`Obligation.small_sorts`) before the search
without bounds. A model within a bound is a model: only `sat` is taken from them."""
SMALL_BOUND_SECONDS = 3.0
SHRINK_SECONDS = 10.0
"""Limit on the whole search for a smaller counterexample: when it runs out, or a
check comes back unknown, the smallest model found so far is the counterexample."""
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


def check(s: z3.Solver, timeout_s: float, small_sorts: Sequence[z3.SortRef] = ()) -> tuple[z3.CheckSatResult,
                                                                                         z3.ModelRef | None]:
    """Whether what `s` holds is satisfiable, within `timeout_s`, and a model if it is:
    e-matching for `E_MATCHING_SECONDS`, then small universes of `small_sorts`, then
    model-based instantiation alone. `s` holds the same assertions afterwards."""
    started = time.perf_counter()

    def left() -> float:
        return timeout_s - (time.perf_counter() - started)

    s.set("ematching", True)
    s.set("timeout", int(min(timeout_s, E_MATCHING_SECONDS) * 1000))
    answer = s.check()
    if answer != z3.unknown:
        return answer, s.model() if answer == z3.sat else None
    s.set("ematching", False)
    for bound in SMALL_BOUNDS if small_sorts else ():
        if left() <= 0:
            return z3.unknown, None
        s.push()
        for sort in small_sorts:
            bound_universe(s, sort, bound)
        s.set("timeout", int(min(left(), SMALL_BOUND_SECONDS) * 1000))
        answer = s.check()
        model = s.model() if answer == z3.sat else None
        s.pop()
        if model is not None:
            return z3.sat, model
    if left() <= 0:
        return z3.unknown, None
    s.set("timeout", int(left() * 1000))
    answer = s.check()
    return answer, s.model() if answer == z3.sat else None


def bound_universe(s: z3.Solver, sort: z3.SortRef, size: int) -> None:
    """Add to `s`: the sort has at most `size` elements."""
    elements = [z3.FreshConst(sort, f"{sort.name()}_") for _ in range(size)]
    x = z3.FreshConst(sort, "x")
    s.add(z3.ForAll([x], z3.Or([x == element for element in elements])))


def prove(obligation: Obligation, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
    """Discharge one obligation: non-vacuity of the hypotheses, then the goal."""
    started = time.perf_counter()
    s = solver(timeout_s)
    s.add(*obligation.hypotheses())
    consistent, _ = check(s, timeout_s, obligation.small_sorts)
    if consistent == z3.unsat:
        return Result(obligation.name, Status.FAILED, time.perf_counter() - started,
                      "vacuous: the hypotheses (axioms, invariant, transition) contradict each other, "
                      "so they would prove any goal, False included")
    if consistent == z3.unknown:
        return Result(obligation.name, Status.UNKNOWN, time.perf_counter() - started,
                      f"hypotheses: {s.reason_unknown()}")
    s.add(z3.Not(obligation.goal()))
    answer, model = check(s, timeout_s - (time.perf_counter() - started), obligation.small_sorts)
    seconds = time.perf_counter() - started
    if answer == z3.unsat:
        return Result(obligation.name, Status.PROVEN, seconds)
    if model is not None:
        model = smallest_model(s, model, obligation.small_sorts)
        return Result(obligation.name, Status.FAILED, time.perf_counter() - started, obligation.render(model))
    return Result(obligation.name, Status.UNKNOWN, seconds, s.reason_unknown())


def smallest_model(s: z3.Solver, model: z3.ModelRef, sorts: Sequence[z3.SortRef]) -> z3.ModelRef:
    """A model of what `s` holds, `model` or one with fewer elements of each sort,
    sorts shrunk in the given order. z3's first model is any model: a PBFT
    counterexample may come with nineteen replicas where three tell the story. For each
    sort, the bound k grows from 1 until "at most k elements" is satisfiable; the bound
    found is kept for the next sorts."""
    deadline = time.perf_counter() + SHRINK_SECONDS
    s.set("ematching", False)  # finite models, as `E_MATCHING_SECONDS` explains
    for sort in sorts:
        for k in range(1, len(universe(model, sort)) + 1):
            left = deadline - time.perf_counter()
            if left <= 0:
                return model
            s.push()
            bound_universe(s, sort, k)
            s.set("timeout", int(left * 1000))
            answer = s.check()
            if answer == z3.sat:
                model = s.model()
                break  # the bound stays pushed for the sorts after this one
            s.pop()
            if answer == z3.unknown:
                return model
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
    return int(value.as_long())


def model_bool(model: z3.ModelRef, term: z3.BoolRef) -> bool:
    return bool(z3.is_true(model.eval(term, model_completion=True)))


def universe(model: z3.ModelRef, sort: z3.SortRef) -> list[z3.ExprRef]:
    """The elements of an uninterpreted sort in a model (empty if the model has none)."""
    elements = model.get_universe(sort)
    return [] if elements is None else list(elements)
