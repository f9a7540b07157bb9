"""z3 proofs that the safety and ledger invariants hold for every N, f and ledger size.

One module per proof:

* `checker.proofs.quorums`: threshold lemmas over cardinalities, for every N >= 3f+1.
* `checker.proofs.pbft`: PBFT agreement as an inductive invariant, for every N.
* `checker.proofs.ledger`: the ledger invariants as inductive invariants of the
  ledger's transition relation (encoded in `checker.proofs.ledger_model`), for any
  number of accounts, transfers and tasks and any amounts.

Each module exposes `TITLE`, `VARIANTS` (broken variants: name -> what is broken),
`obligations(variant=None)` and `broken_variants()` (obligation name -> the variant
under which it must fail). `checker.proofs.obligation` runs them.
"""

from importlib import import_module
from types import ModuleType

from checker.proofs.obligation import Obligation

PROOF_MODULES: tuple[str, ...] = ("quorums", "pbft", "ledger")
"""The proofs, in the order `fedspec prove` runs them."""


class UnknownVariant(ValueError):
    pass


def proof_module(name: str) -> ModuleType:
    return import_module(f"checker.proofs.{name}")


def all_obligations() -> list[Obligation]:
    obligations: list[Obligation] = []
    for name in PROOF_MODULES:
        obligations.extend(proof_module(name).obligations())
    return obligations


def all_variants() -> dict[str, str]:
    """Every broken variant, named `<proof>.<variant>`, with what it breaks."""
    variants: dict[str, str] = {}
    for name in PROOF_MODULES:
        for variant, description in proof_module(name).VARIANTS.items():
            variants[f"{name}.{variant}"] = description
    return variants


def obligation_named(name: str, variant: str | None = None) -> Obligation:
    """One obligation by its full name (`pbft.agreement`), built with `variant` of its proof, if given."""
    module_name = name.partition(".")[0]
    for obligation in proof_module(module_name).obligations(variant):
        if obligation.name == name:
            result: Obligation = obligation
            return result
    raise KeyError(name)


def variant_obligations(qualified: str) -> list[Obligation]:
    """The obligations of one proof built with one of its broken variants."""
    module_name, _, variant = qualified.partition(".")
    if module_name not in PROOF_MODULES or variant not in proof_module(module_name).VARIANTS:
        known = ", ".join(sorted(all_variants()))
        raise UnknownVariant(f"unknown variant {qualified!r}; known: {known}")
    obligations: list[Obligation] = proof_module(module_name).obligations(variant)
    return obligations
