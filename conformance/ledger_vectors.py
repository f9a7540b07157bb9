"""The `ledger` runner's cases, generated from the spec."""

from pathlib import Path

from conformance.cases import Case
from conformance.runners.ledger import ledger_case
from spec.scenario import load_and_replay

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def flow_cases() -> list[Case]:
    """The design documents' five flows (`examples/`): one case per block, the flow's
    blocks before it leading to its pre-state."""
    cases = []
    for path in sorted(EXAMPLES.glob("*.json")):
        result = load_and_replay(path.read_text(encoding="utf-8"))
        genesis = result.scenario.genesis
        blocks = [outcome.block for outcome in result.blocks]
        from spec.scenario import genesis_of

        wire_genesis, _, _ = genesis_of(genesis)
        for number in range(1, len(blocks) + 1):
            cases.append(ledger_case(
                "flows", f"{path.stem}.block-{number}", f"{path.stem}: block {number} of {len(blocks)}",
                wire_genesis, blocks[:number],
            ))
    return cases


def ledger_cases() -> list[Case]:
    return flow_cases()
