"""Benchmark: how long `fedspec prove` takes, per proof, and what the non-vacuity check costs.

Runs every obligation twice in one process: as `fedspec prove` does (hypotheses
checked satisfiable first, then the goal) and with the goal alone, and prints the
seconds per proof and the ratio. Usage: python3 benchmarks/prove_rate.py
"""

import time

import z3

from checker.proofs import PROOF_MODULES, proof_module
from checker.proofs.obligation import DEFAULT_TIMEOUT_S, Obligation, Status, check, prove, solver


def goal_only(obligation: Obligation) -> float:
    started = time.perf_counter()
    s = solver(DEFAULT_TIMEOUT_S)
    s.add(*obligation.hypotheses())
    s.add(z3.Not(obligation.goal()))
    answer, _ = check(s, DEFAULT_TIMEOUT_S, obligation.small_sorts)
    if answer != z3.unsat:
        raise SystemExit(f"{obligation.name}: {answer}, expected unsat")
    return time.perf_counter() - started


def main() -> None:
    print(f"{'proof':<10} {'obligations':>11} {'prove (s)':>10} {'goal only (s)':>14} {'ratio':>6}  slowest")
    total_full = total_goal = 0.0
    for name in PROOF_MODULES:
        obligations = proof_module(name).obligations()
        full = goal = 0.0
        slowest = ("", 0.0)
        for obligation in obligations:
            result = prove(obligation)
            if result.status != Status.PROVEN:
                raise SystemExit(f"{obligation.name}: {result.status.value}")
            full += result.seconds
            goal += goal_only(obligation)
            if result.seconds > slowest[1]:
                slowest = (obligation.name, result.seconds)
        total_full += full
        total_goal += goal
        print(f"{name:<10} {len(obligations):>11} {full:>10.2f} {goal:>14.2f} {full / goal:>5.2f}x  "
              f"{slowest[0]} ({slowest[1]:.2f} s)")
    print(f"{'all':<10} {'':>11} {total_full:>10.2f} {total_goal:>14.2f} {total_full / total_goal:>5.2f}x")


if __name__ == "__main__":
    main()
