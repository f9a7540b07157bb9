"""Broken variants of `spec.ledger`, each a plausible bug, applied with pytest's
monkeypatch: the negative controls of the tests that judge the spec's ledger (the
stateful test against the auditor, the drift tests of the z3 encoding). They are the
ledger bugs of the conformance suite's mutant nodes (`conformance.mutants`), which
the suite itself must catch as well."""

from conformance.mutants import (
    expiry_on_the_deadline,
    failed_lock_ids_forgotten,
    link_checked_before_authority,
    reputation_rounds_up,
    rollback_keeps_the_lock,
)

MUTANTS = [
    rollback_keeps_the_lock, expiry_on_the_deadline, reputation_rounds_up, link_checked_before_authority,
    failed_lock_ids_forgotten,
]
