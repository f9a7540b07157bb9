"""The threshold lemmas (`checker.proofs.quorums`): every obligation is proven, each
broken variant fails exactly the lemmas it should with a real counterexample, the
2f + 1 counterexample is a configuration plain Python confirms, and the quorum size
in the proof is the spec's."""

import re

import pytest
import z3

from checker.proofs import obligation_named, quorums
from checker.proofs.obligation import Result, Status, prove
from spec.pbft import fault_tolerance, quorum_size

FAILS_UNDER: dict[str, set[str]] = {
    "two_f_plus_one": {"two_quorums_share_f_plus_one", "two_quorums_share_a_correct_replica"},
    "majority": {
        "two_quorums_share_f_plus_one",
        "two_quorums_share_a_correct_replica",
        "quorum_holds_f_plus_one_correct",
    },
    "quorum_too_large": {"correct_replicas_form_a_quorum"},
    "f_plus_one_faulty": {
        "two_quorums_share_a_correct_replica",
        "correct_replicas_form_a_quorum",
        "f_plus_one_include_a_correct_replica",
        "quorum_holds_f_plus_one_correct",
    },
}
"""Which lemmas each broken variant breaks; the others it leaves proven. Written out so
that a variant that silently stops breaking anything, or breaks too much, shows."""


def proved(variant: str | None, name: str) -> Result:
    return prove(obligation_named(name, variant))


# --- proven, and broken by its variant ----------------------------------------------------------------
@pytest.mark.parametrize("name", [o.name for o in quorums.obligations()])
def test_every_obligation_is_proven(name: str) -> None:
    assert proved(None, name).status == Status.PROVEN


@pytest.mark.parametrize("name", sorted(quorums.broken_variants()))
def test_every_obligation_fails_under_its_broken_variant_with_a_counterexample(name: str) -> None:
    variant = quorums.broken_variants()[name]
    result = proved(variant, name)
    assert result.status == Status.FAILED
    assert result.counterexample is not None and not result.counterexample.startswith("vacuous")
    assert re.match(r"N = \d+, f = \d+, q = \d+", result.counterexample)


@pytest.mark.parametrize("variant", sorted(quorums.VARIANTS))
def test_each_variant_breaks_exactly_its_lemmas(variant: str) -> None:
    for obligation in quorums.obligations(variant):
        lemma = obligation.name.removeprefix("quorums.")
        expected = Status.FAILED if lemma in FAILS_UNDER[variant] else Status.PROVEN
        assert proved(variant, obligation.name).status == expected, f"{obligation.name} under {variant}"


def test_the_declared_broken_variants_agree_with_the_table() -> None:
    for name, variant in quorums.broken_variants().items():
        assert name.removeprefix("quorums.") in FAILS_UNDER[variant]
    assert set(FAILS_UNDER) == set(quorums.VARIANTS)


# --- the 2f + 1 counterexample, checked without z3 --------------------------------------------------
def parse_counterexample(text: str) -> tuple[dict[str, int], dict[str, tuple[set[str], int]]]:
    """The sizes (N, f, q) and, per region, the sets it lies in and its count."""
    header = re.match(r"N = (\d+), f = (\d+), q = (\d+)", text)
    assert header is not None, text
    sizes = {"N": int(header[1]), "f": int(header[2]), "q": int(header[3])}
    lines = text.splitlines()
    columns = lines[1].split()[1:-1]
    assert lines[1].split()[0] == "region" and columns[-1] == "F", lines[1]
    regions: dict[str, tuple[set[str], int]] = {}
    for line in lines[2:]:
        if line.startswith("|"):
            break
        name, *marks, count = line.split()
        regions[name] = ({column for column, mark in zip(columns, marks, strict=True) if mark == "x"}, int(count))
    return sizes, regions


def realise(regions: dict[str, tuple[set[str], int]]) -> dict[str, set[int]]:
    """Deal replicas 0, 1, 2 ... out region by region: concrete sets with these counts."""
    sets: dict[str, set[int]] = {"all": set()}
    replica = 0
    for members, count in regions.values():
        for _ in range(count):
            sets["all"].add(replica)
            for name in members:
                sets.setdefault(name, set()).add(replica)
            replica += 1
    return sets


def test_the_two_f_plus_one_counterexample_is_a_real_configuration() -> None:
    result = proved("two_f_plus_one", "quorums.two_quorums_share_a_correct_replica")
    assert result.status == Status.FAILED and result.counterexample is not None
    sizes, regions = parse_counterexample(result.counterexample)
    n, f, q = sizes["N"], sizes["f"], sizes["q"]
    assert len(regions) == 8 and all(count >= 0 for _, count in regions.values())
    sets = realise(regions)
    q1, q2, faulty = sets.get("Q1", set()), sets.get("Q2", set()), sets.get("F", set())
    # A legal configuration of the variant: N >= 3f + 1, f >= 1, quorums of 2f + 1, at most f faulty.
    assert len(sets["all"]) == n and n >= 3 * f + 1 and f >= 1
    assert q == 2 * f + 1 and len(q1) >= q and len(q2) >= q and len(faulty) <= f
    # ... in which the two quorums share no correct replica.
    assert (q1 & q2) - faulty == set()
    # It needs N above 3f + 1, and the spec's quorum would not count one of these sets.
    assert n > 3 * f + 1
    assert min(len(q1), len(q2)) < quorum_size(n, f)


def test_two_f_plus_one_at_n5_f1_meets_only_in_the_faulty_replica() -> None:
    """The story of the consensus page: N = 5, f = 1, quorums of 3 meet in one replica,
    and it may be the faulty one; the spec's quorum of 4 cannot."""
    obligation = obligation_named("quorums.two_quorums_share_a_correct_replica", "two_f_plus_one")
    s = z3.Solver()
    s.add(*obligation.hypotheses(), z3.Int("N") == 5, z3.Int("f") == 1, z3.Not(obligation.goal()))
    assert s.check() == z3.sat
    model = s.model()
    assert model.eval(z3.Int("in_Q1_Q2_faulty")).as_long() == 1
    assert model.eval(z3.Int("in_Q1_Q2_correct")).as_long() == 0

    safe = obligation_named("quorums.two_quorums_share_a_correct_replica", None)
    s = z3.Solver()
    s.add(*safe.hypotheses(), z3.Int("N") == 5, z3.Int("f") == 1, z3.Not(safe.goal()))
    assert s.check() == z3.unsat


# --- drift: the proof's quorum size is the spec's -----------------------------------------------------
def evaluate_with_z3(definition: z3.BoolRef, cases: list[tuple[int, int, int, bool]]) -> bool:
    """Whether z3 finds `definition` true (or false, as each case says) at every
    concrete (N, f, q). One query over SMT-LIB text: fifteen thousand Python API calls
    would take seconds."""
    text = definition.sexpr()
    asserts: list[str] = []
    for n, f, q, holds in cases:
        claim = f"(let ((N {n}) (f {f}) (q {q})) {text})"
        asserts.append(f"(assert {claim if holds else f'(not {claim})'})")
    s = z3.Solver()
    s.from_string("\n".join(asserts))
    return bool(s.check() == z3.sat)


def test_the_quorum_size_is_spec_quorum_size_for_n_up_to_300_and_every_f() -> None:
    s = quorums.sizes()
    definition = quorums.quorum_size_definition(s.n, s.f, s.q)
    cases: list[tuple[int, int, int, bool]] = []
    for n in range(1, 301):
        for f in range(0, (n - 1) // 3 + 1):
            q = quorum_size(n, f)
            cases += [(n, f, q, True), (n, f, q - 1, False), (n, f, q + 1, False)]
    if not evaluate_with_z3(definition, cases):
        wrong = [case for case in cases if not evaluate_with_z3(definition, [case])]
        pytest.fail(f"the z3 quorum size differs from spec.pbft.quorum_size at (N, f, q, holds): {wrong[:10]}")


def test_the_quorum_size_definition_fixes_q() -> None:
    """For every N and f exactly one q satisfies it, so it is a definition."""
    n, f, q, other = z3.Ints("N f q other")
    s = z3.Solver()
    s.add(quorums.quorum_size_definition(n, f, q), quorums.quorum_size_definition(n, f, other), q != other)
    assert s.check() == z3.unsat


def test_the_spec_configuration_is_among_the_sizes_proven() -> None:
    """The spec's f = floor((N - 1) / 3) and its quorum satisfy the size assumptions."""
    s = quorums.sizes()
    assumptions = z3.And(quorums.size_assumptions(s, None))
    cases = [(n, fault_tolerance(n), quorum_size(n, fault_tolerance(n)), True) for n in range(1, 301)]
    assert evaluate_with_z3(assumptions, cases)


# --- the region model -----------------------------------------------------------------------------
def test_regions_are_named_by_the_sets_they_lie_in() -> None:
    names = [str(region.count) for region in quorums.venn(("Q1", "Q2")).regions]
    assert names == [
        "in_Q1_Q2_faulty", "in_Q1_Q2_correct", "in_Q1_only_faulty", "in_Q1_only_correct",
        "in_Q2_only_faulty", "in_Q2_only_correct", "in_none_faulty", "in_none_correct",
    ]
    assert [str(region.count) for region in quorums.venn(()).regions] == ["faulty", "correct"]


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError):
        quorums.obligations("nonsense")


def test_the_drift_check_tells_a_wrong_quorum_size() -> None:
    """Floor instead of ceiling, (N + f + 1) // 2: wrong whenever N + f is even."""
    s = quorums.sizes()
    floor = z3.And(2 * s.q >= s.n + s.f, 2 * s.q <= s.n + s.f + 1)
    assert not evaluate_with_z3(floor, [(n, 1, quorum_size(n, 1), True) for n in range(4, 20)])
