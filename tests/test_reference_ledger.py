"""Differential tests: the reference ledger against the spec, block by block.

Hypothesis draws a sequence of blocks from the test genesis: plausible transactions
and ones with a flaw, resubmissions of what the ledger holds (retries), block times
on the deadlines of open locks (one before, at, one after: the expiry tie), and now
and then a block the spec refuses (a bad header, a bad signature). The spec's
`apply_block` gives each block's receipt, state root and summary as the sequence is
drawn; the reference ledger (`reference.ledger.Ledger`) must give the same ones.

On a disagreement the test names the first block and field that differ, and
hypothesis prints the shrunk sequence and the blob that replays it
(`@reproduce_failure`); the run's seed is printed by hypothesis with `--hypothesis-seed`.
The single-bug variants (`reference.variants`) must each disagree on some sequence.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from builders import GENESIS, LEGION, SPROUT, THOR, UNKNOWN_PLATFORM, signed
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from ledger_cases import UNDER_TEST, Draw, next_timestamp, signed_by_its_platform

from conformance.protocol import ledger_summary
from conformance.protocol import ledger_summary as reference_summary
from conformance.suite import json_differences
from reference.chain import chain_from_genesis as reference_chain
from reference.ledger import Ledger
from reference.variants import VARIANTS
from spec import ledger as spec_ledger
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.json_form import to_json
from spec.wire.state_root import state_root
from spec.wire.types import AnyTransaction, Block, BlockHeader

BLOCKS = 8
"""Blocks in a sequence: from one to this many."""
TRANSACTIONS = 6
"""Transactions drawn per block (a task pair counts once)."""
HEADER_FLAWS = ("height", "previous_hash", "timestamp", "proposer", "transaction_root")


@dataclass(frozen=True)
class Expected:
    """What the spec gave for one block."""

    block: Block
    receipt: dict[str, Any]
    state_root: str
    summary: dict[str, Any]


class Drawn:
    """A composite strategy's `draw`, in the shape `ledger_cases.Draw` expects."""

    def __init__(self, draw: Any) -> None:
        self.draw_function = draw

    def draw(self, strategy: st.SearchStrategy[Any], label: str | None = None) -> Any:
        return self.draw_function(strategy)


def flawed_header(d: Draw, header: BlockHeader) -> BlockHeader:
    """The header with one field the block checks refuse."""
    flaw = d.pick(HEADER_FLAWS)
    values = header.model_dump()
    if flaw == "height":
        values["height"] += d.pick([-1, 1])
    elif flaw == "previous_hash":
        values["previous_hash"] = "ab" * 32
    elif flaw == "timestamp":
        values["timestamp_ms"] = d.state.last_timestamp_ms
    elif flaw == "proposer":
        values["proposer"] = UNKNOWN_PLATFORM
    else:
        values["transaction_root"] = "cd" * 32
    return BlockHeader(**values)


def drawn_transactions(d: Draw) -> list[AnyTransaction]:
    """A block's transactions: each transition of the ledger with one of its flaws
    (none two times in three), new or resubmitted, signed by its platform; now and then
    one signed by another platform."""
    txs: list[AnyTransaction] = []
    for _ in range(d.data.draw(st.integers(0, TRANSACTIONS))):
        under_test = UNDER_TEST[d.pick(sorted(UNDER_TEST))]
        flaw = "none" if "none" in under_test.flaws and not d.chance(3) else d.pick(under_test.flaws)
        txs += [signed_by_its_platform(tx) for tx in under_test.draw(d, flaw, d.pick(under_test.resubmits))]
    if txs and d.chance(12):
        index = d.pick(range(len(txs)))
        txs[index] = signed(txs[index], d.pick([THOR, SPROUT, LEGION]))
    return txs


@st.composite
def block_sequences(draw: Any) -> list[Expected]:
    """Blocks from the test genesis, each with what the spec gives for it."""
    data = Drawn(draw)
    chain = chain_from_genesis(GENESIS)
    state = state_from_genesis(GENESIS)
    expected: list[Expected] = []
    for _ in range(draw(st.integers(1, BLOCKS))):
        d = Draw(data, state)  # type: ignore[arg-type]
        timestamp = next_timestamp(d, state.last_timestamp_ms)
        txs = tuple(drawn_transactions(d))
        header = spec_ledger.make_header(state, timestamp, d.pick([THOR, SPROUT, LEGION]), txs)
        if d.chance(10):
            header = flawed_header(d, header)
        block = Block(header=header, transactions=txs)
        state, receipt = spec_ledger.apply_block(chain, state, block)
        expected.append(Expected(block, to_json(receipt), state_root(state), ledger_summary(state)))
    return expected


def transaction_id(tx: AnyTransaction) -> str:
    """The id a transaction creates or names: its first field after its type."""
    return str(list(tx.model_dump().values())[1])


def described(sequence: list[Expected]) -> str:
    """The sequence, a line a block: height, time, and each transaction's type and id."""
    lines = []
    for number, step in enumerate(sequence, 1):
        header = step.block.header
        txs = ", ".join(f"{tx.type}({transaction_id(tx)})" for tx in step.block.transactions)
        lines.append(f"  block {number}: height {header.height} at {header.timestamp_ms}"
                     f" -> {step.receipt['code']}: [{txs}]")
    return "\n".join(lines)


def first_difference(sequence: list[Expected], make_ledger: Any = Ledger) -> str | None:
    """Where the reference ledger first disagrees with the spec: the block and field."""
    ledger = make_ledger(reference_chain(GENESIS))
    for number, step in enumerate(sequence, 1):
        got = {
            "receipt": to_json(ledger.apply_block(step.block)),
            "state_root": ledger.state_root(),
            "summary": reference_summary(ledger),
        }
        wanted = {"receipt": step.receipt, "state_root": step.state_root, "summary": step.summary}
        differences = json_differences(wanted, got)
        if differences:
            return f"block {number} of {len(sequence)}: " + "; ".join(differences)
    return None


@settings(max_examples=120, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
@given(block_sequences())
def test_reference_ledger_agrees_with_the_spec(sequence: list[Expected]) -> None:
    difference = first_difference(sequence)
    assert difference is None, f"{difference}\nthe sequence:\n{described(sequence)}"


VARIANT_SEARCH = settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate],
                          suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_disagrees_with_the_spec(variant: str) -> None:
    """Negative controls: the differential test finds every deliberate bug."""
    found = find(block_sequences(), lambda sequence: first_difference(sequence, VARIANTS[variant]) is not None,
                 settings=VARIANT_SEARCH)
    assert first_difference(found, VARIANTS[variant]) is not None


# --- the reference ledger's own promises ------------------------------------------------------------------
def test_a_block_that_fails_part_way_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Journalled writes are undone when a block raises after changing the ledger: the
    root, the summary and the expiry index are as before, and the next block agrees."""
    from builders import Ledger as SpecLedger
    from builders import lock, pair

    spec = SpecLedger()
    first = spec.make_block((lock("t1", timeout_ms=1), *pair(task_id="k1", timeout_ms=1)))
    spec.apply(first)
    reference = Ledger(reference_chain(GENESIS))
    reference.apply_block(first)
    root, summary, index = reference.state_root(), reference_summary(reference), sorted(reference.expiry.heap)

    second = spec.make_block((lock("t2"), lock("t3", amount=1)))
    calls = {"locks": 0}
    original = Ledger.apply_lock

    def failing_second_lock(self: Ledger, tx: Any, now: int, task_linked: bool) -> Any:
        calls["locks"] += 1
        if calls["locks"] == 2:
            raise RuntimeError("a crash part way through the block")
        return original(self, tx, now, task_linked)

    monkeypatch.setattr(Ledger, "apply_lock", failing_second_lock)
    with pytest.raises(RuntimeError):
        reference.apply_block(second)  # after the expiry of t1 and k1 and the lock of t2
    monkeypatch.undo()
    assert (reference.state_root(), reference_summary(reference), sorted(reference.expiry.heap)) == \
        (root, summary, index)
    assert to_json(reference.apply_block(second)) == to_json(spec.apply(second))
    assert reference.state_root() == spec.root()


def test_a_checked_block_is_not_verified_again_when_applied() -> None:
    """A replica checks a proposal (`block_verdict`) before it executes it: each
    transaction's signature is verified once across both."""
    from builders import Ledger as SpecLedger
    from builders import commit, lock

    block = SpecLedger().make_block((lock("t1"), lock("t2", amount=1), commit("t1")))
    reference = Ledger(reference_chain(GENESIS))
    assert reference.block_verdict(block)[0] == "ok"
    reference.apply_block(block)
    assert reference.signatures.verifications == 3


def test_the_trees_node_hash_is_the_wire_layers() -> None:
    from reference.state_tree import node_hash
    from spec.wire.state_root import node_hash as wire_node_hash

    assert node_hash(b"\x01" * 32, b"\x02" * 32) == wire_node_hash(b"\x01" * 32, b"\x02" * 32)


# --- through the adapter ---------------------------------------------------------------------------------
def test_the_reference_adapter_passes_the_ledger_cases() -> None:
    """The conformance suite's ledger runner, against `python -m reference.adapter`."""
    import sys

    from conformance.runners import RUNNERS
    from conformance.suite import RunOptions, collect, run_cases

    command = f"{sys.executable} -m reference.adapter"
    cases = collect(RunOptions(command, {"ledger"}), RUNNERS)
    failed = [(result.case_id, result.differences[:3]) for result in run_cases(RUNNERS, command, cases, False)
              if result.verdict.value != "pass"]
    assert cases and not failed


def test_the_adapter_steps_no_replica_when_init_named_none() -> None:
    """A ledger alone (`replica` null) takes blocks, not replica inputs: error 14, as the spec node answers."""
    import json

    from conformance.adapter_base import answer_line
    from reference.adapter import Node
    from reference.variants import Parts

    node = Node(Parts())
    init = {"type": "init", "msg_id": 1, "protocol": "fedspec-adapter/1", "genesis": to_json(GENESIS), "replica": None}
    assert answer_line(json.dumps(init), node.answer_body)[0]["type"] == "init_ok"
    reply, _ = answer_line(json.dumps({"type": "step", "msg_id": 2, "input": {}}), node.answer_body)
    assert (reply["type"], reply["code"], reply["definite"]) == ("error", 14, True)


def test_the_tree_keeps_the_wire_layers_root_as_it_grows_deeper() -> None:
    """Leaves put and replaced in rounds (only those set again each round), through two rebuilds two levels deeper: after
    each round the kept root is the one the wire layer builds from scratch."""
    import hashlib
    import random

    from reference.state_tree import MIN_DEPTH, StateTree
    from spec.wire.state_root import EMPTY_ROOT, subtree_root

    seed = 13
    rng = random.Random(seed)
    tree, leaves = StateTree(), dict[bytes, bytes]()
    assert tree.root() == EMPTY_ROOT
    for size in (1, 2, 700, 2100, 8300, 8400):
        changed = set(rng.sample(sorted(leaves), min(50, len(leaves))))
        while len(leaves) + len(changed) < size + 50:
            changed.add(hashlib.sha256(rng.randbytes(8)).digest())
        for key in changed:
            leaves[key] = rng.randbytes(32)
            tree.set_leaf(key, leaves[key])
        assert tree.root() == subtree_root(sorted(leaves.items()), 0), f"seed {seed}, {size} leaves"
    assert tree.depth == MIN_DEPTH + 4


SUITE_CATCHES = ("expiry_at_deadline", "expiry_misses_task_locks", "root_changed_by_id_alone")
"""The variants the ledger cases catch through the adapter. `root_rehashes_on_insert_only`
is not among them: a ledger case asks for one root, after all its blocks, and that
variant's stale leaves are all rehashed by then; the differential test, which asks for
a root after every block, catches it."""


@pytest.mark.parametrize("variant", SUITE_CATCHES)
def test_the_ledger_cases_catch_variant(variant: str) -> None:
    import sys

    from conformance.runners import RUNNERS
    from conformance.suite import RunOptions, collect, run_cases

    command = f"{sys.executable} -m reference.adapter --variant {variant}"
    cases = collect(RunOptions(command, {"ledger"}), RUNNERS)
    assert any(result.verdict.value != "pass" for result in run_cases(RUNNERS, command, cases, False))
