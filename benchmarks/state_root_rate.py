"""What one changed record costs a kept state tree, against rebuilding the root, in one run.

    python3 benchmarks/state_root_rate.py [--records 1000 10000] [--updates 200] [--seed 1]

For each size, a ledger state of that many records (builders' genesis and settled
transfers, `tests/state_samples.py`) gets its root two ways:

* rebuilt from scratch by the spec (`spec.wire.state_root.state_root`): per
  record its key, the hash of its value and its leaf hash; one node hash per
  branch of the tree; the state root;
* kept by `checker.state_tree.StateTree`: `--updates` times, one random transfer
  changes (its amount), the tree is told that one leaf, and its root is checked
  against the spec's from-scratch records root.

It prints the hash counts (exact, and the same on every machine) and the wall time
of a rebuild against an update, with their ratios. The machine is shared and noisy:
compare the ratios of one run, not absolute times across runs.
"""

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from state_samples import settled_transfers_state  # noqa: E402

from checker.state_tree import tree_of  # noqa: E402
from spec.wire.records import LedgerState  # noqa: E402
from spec.wire.state_root import leaf_hash, record_key, records_root, state_leaves, state_root, transfer_bytes  # noqa: E402


def rebuild_seconds(state: LedgerState, repeat: int) -> float:
    """The fastest of `repeat` from-scratch state roots."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        state_root(state)
        best = min(best, time.perf_counter() - start)
    return best


def measure(records: int, updates: int, chooser: random.Random) -> None:
    state = settled_transfers_state(records)
    leaves = dict(state_leaves(state))
    tree = tree_of(leaves)
    rebuild_nodes = tree.branch_count()
    rebuild_time = rebuild_seconds(state, 3)

    transfer_ids = sorted(state.transfers)
    node_hashes: list[int] = []
    update_time = 0.0
    for _ in range(updates):
        transfer_id = chooser.choice(transfer_ids)
        changed = dataclasses.replace(state.transfers[transfer_id], amount=state.transfers[transfer_id].amount + 1)
        state.transfers[transfer_id] = changed
        before = tree.node_hashes
        start = time.perf_counter()
        key = record_key("TRANSFER", transfer_id)
        tree.put(key, leaf_hash(key, transfer_bytes(changed)))
        update_time += time.perf_counter() - start
        node_hashes.append(tree.node_hashes - before)
    if tree.root() != records_root(state):
        raise SystemExit(f"{records} records: the kept tree's root differs from the spec's")

    mean_nodes = sum(node_hashes) / updates
    mean_time = update_time / updates
    print(f"{records} records: rebuild {records} leaf + {rebuild_nodes} node hashes, {rebuild_time * 1e3:.1f} ms | "
          f"one update 1 leaf + {mean_nodes:.1f} node hashes (min {min(node_hashes)}, max {max(node_hashes)}), "
          f"{mean_time * 1e6:.0f} us")
    # Every SHA-256 of a root: per record its key, its value and its leaf; the nodes; the state root.
    rebuild_sha256 = 3 * records + rebuild_nodes + 1
    update_sha256 = 3 + mean_nodes + 1
    print(f"  ratios (rebuild / update): node hashes {rebuild_nodes / mean_nodes:.0f}x, "
          f"all SHA-256 ({rebuild_sha256} / {update_sha256:.1f}) {rebuild_sha256 / update_sha256:.0f}x, "
          f"time {rebuild_time / mean_time:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    print(f"seed {args.seed}, {args.updates} updates per size")
    for records in args.records:
        measure(records, args.updates, chooser)


if __name__ == "__main__":
    main()
