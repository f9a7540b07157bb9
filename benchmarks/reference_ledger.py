"""Ledger apply throughput: the reference ledger against the spec, on the same signed blocks.

    PYTHONPATH=. python3 benchmarks/reference_ledger.py [--sizes 1000,100000,1000000]
        [--accounts 10000,100000] [--blocks 20] [--transactions 100] [--spec-blocks 3]

For each ledger size (settled transfers in the pre-state) and account count, it
builds one pre-state in both implementations, signs one run of blocks once, and
applies them to both: the reference ledger every block, the spec its first
`--spec-blocks` (the spec's cost per block grows with the ledger; a few blocks
measure it). Each block is timed twice over: applying it, and the state root after
it (what a replica computes at each checkpoint and the adapter at each answer).
Times are the process's CPU time (`time.process_time`), so that other work on a
shared machine does not count. The pre-state is moved out of the cyclic collector's sight (`gc.freeze`) before
either implementation runs, as a node does after loading its state.

The pre-state is built through each implementation's internals, not by applying
10^6 signed transactions (that would take the spec days): `--accounts` genesis
accounts and SIZE transfers ROLLED_BACK long ago (a rollback moves no ATP, so the
balances stay consistent). The reference ledger indexes and hashes them as a commit
would; the spec holds the same records in its dictionaries.

A block is `--transactions` transactions: new locks between random accounts (a
tenth of them with a short timeout, so that they expire two blocks later), and
commits and rollbacks of the long locks of the block before.
"""

import argparse
import gc
import random
import time
from dataclasses import dataclass

from nacl.signing import SigningKey

from reference.chain import chain_from_genesis as reference_chain
from reference.ledger import Ledger
from spec import ledger as spec_ledger
from spec.constants import UNITS_PER_ATP, ZERO_HASH
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.encoding import block_hash, signing_message, transaction_root
from spec.wire.records import LedgerState, SettlementCause, Transfer, TransferStatus
from spec.wire.signing import public_key_hex, seed_from_text
from spec.wire.state_root import state_root
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    Block,
    BlockHeader,
    Genesis,
    GenesisAccount,
    GenesisPlatform,
)

CHAIN_ID = "fedspec-bench"
GENESIS_TIME_MS = 1_700_000_000_000
BLOCK_SPACING_MS = 1_000
LONG_TIMEOUT_MS = 3_600_000
SHORT_TIMEOUT_MS = 1_500
"""Expires in the second block after the lock's (blocks are BLOCK_SPACING_MS apart)."""
PLATFORMS = ("Thor", "Sprout", "Legion", "Odin")
BALANCE = 1_000_000 * UNITS_PER_ATP
PLACEHOLDER_SIGNATURE = "00" * 64


def seed(name: str) -> bytes:
    return seed_from_text("fedspec bench " + name)


def agent_name(number: int) -> str:
    return f"lct:web4:agent:a{number}"


def make_genesis(accounts: int) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, genesis_time_ms=GENESIS_TIME_MS, authority_public_key=public_key_hex(seed("authority")),
        platforms=tuple(GenesisPlatform(name=name, public_key=public_key_hex(seed(name)), reputation_bp=5_000)
                        for name in PLATFORMS),
        accounts=tuple(GenesisAccount(agent=agent_name(n), platform=PLATFORMS[n % len(PLATFORMS)], balance=BALANCE)
                       for n in range(accounts)),
    )


def settled_transfers(size: int, accounts: int) -> dict[str, Transfer]:
    """`size` transfers, rolled back long before the genesis time's first block."""
    transfers = {}
    for number in range(size):
        source, dest = number % accounts, (number + 1) % accounts
        transfer_id = f"old-{number}"
        transfers[transfer_id] = Transfer(
            transfer_id, agent_name(source), PLATFORMS[source % len(PLATFORMS)], agent_name(dest),
            PLATFORMS[dest % len(PLATFORMS)], UNITS_PER_ATP, LONG_TIMEOUT_MS, GENESIS_TIME_MS - 2 * LONG_TIMEOUT_MS,
            GENESIS_TIME_MS - LONG_TIMEOUT_MS, TransferStatus.ROLLED_BACK, False, SettlementCause.ROLLBACK,
        )
    return transfers


# --- the blocks, signed once ----------------------------------------------------------------------------
class Signer:
    def __init__(self) -> None:
        self.keys = {name: SigningKey(seed(name)) for name in PLATFORMS}

    def sign(self, tx: AnyTransaction, platform: str) -> AnyTransaction:
        signature = self.keys[platform].sign(signing_message(CHAIN_ID, tx)).signature.hex()
        return tx.model_copy(update={"signature": signature})


def block_transactions(rng: random.Random, signer: Signer, number: int, count: int, accounts: int,
                       open_before: list[tuple[str, str]]) -> tuple[list[AnyTransaction], list[tuple[str, str]]]:
    """Settle the long locks of the block before (half commit, half roll back), fill up with new locks."""
    txs: list[AnyTransaction] = []
    for index, (transfer_id, platform) in enumerate(open_before[: count // 2]):
        kind = AtpTransferCommit if index % 2 == 0 else AtpTransferRollback
        txs.append(signer.sign(kind(transfer_id=transfer_id, platform=platform, signature=PLACEHOLDER_SIGNATURE),
                               platform))
    opened: list[tuple[str, str]] = []
    for index in range(count - len(txs)):
        source = rng.randrange(accounts)
        dest = (source + 1 + rng.randrange(accounts - 1)) % accounts
        short = index % 10 == 0
        transfer_id = f"b{number}-{index}"
        platform = PLATFORMS[source % len(PLATFORMS)]
        txs.append(signer.sign(AtpTransferLock(
            transfer_id=transfer_id, source_platform=platform, source_agent=agent_name(source),
            dest_platform=PLATFORMS[dest % len(PLATFORMS)], dest_agent=agent_name(dest), amount=UNITS_PER_ATP,
            timeout_ms=SHORT_TIMEOUT_MS if short else LONG_TIMEOUT_MS, signature=PLACEHOLDER_SIGNATURE), platform))
        if not short:
            opened.append((transfer_id, platform))
    return txs, opened


def signed_blocks(blocks: int, count: int, accounts: int) -> list[Block]:
    rng = random.Random(13)
    signer = Signer()
    made: list[Block] = []
    previous_hash = ZERO_HASH
    opened: list[tuple[str, str]] = []
    for number in range(1, blocks + 1):
        txs, opened = block_transactions(rng, signer, number, count, accounts, opened)
        header = BlockHeader(height=number, previous_hash=previous_hash,
                             timestamp_ms=GENESIS_TIME_MS + number * BLOCK_SPACING_MS,
                             proposer=PLATFORMS[number % len(PLATFORMS)], transaction_root=transaction_root(tuple(txs)))
        made.append(Block(header=header, transactions=tuple(txs)))
        previous_hash = block_hash(header)
    return made


# --- measuring ------------------------------------------------------------------------------------------
def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


@dataclass
class Timing:
    blocks: int
    apply_s: float
    root_s: float
    roots: list[str]

    def per_block_ms(self) -> float:
        return 1000 * (self.apply_s + self.root_s) / self.blocks

    def apply_ms(self) -> float:
        return 1000 * self.apply_s / self.blocks

    def root_ms(self) -> float:
        return 1000 * self.root_s / self.blocks


def run_reference(ledger: Ledger, blocks: list[Block]) -> Timing:
    apply_s = root_s = 0.0
    roots = []
    for block in blocks:
        started = time.process_time()
        receipt = ledger.apply_block(block)
        applied = time.process_time()
        roots.append(ledger.state_root())
        root_s += time.process_time() - applied
        apply_s += applied - started
        assert receipt.accepted and all(r.code == "ok" for r in receipt.transactions), receipt
    return Timing(len(blocks), apply_s, root_s, roots)


def run_spec(genesis: Genesis, state: LedgerState, blocks: list[Block]) -> Timing:
    chain = chain_from_genesis(genesis)
    apply_s = root_s = 0.0
    roots = []
    for block in blocks:
        started = time.process_time()
        state, receipt = spec_ledger.apply_block(chain, state, block)
        applied = time.process_time()
        roots.append(state_root(state))
        root_s += time.process_time() - applied
        apply_s += applied - started
        assert receipt.accepted and all(r.code == "ok" for r in receipt.transactions), receipt
    return Timing(len(blocks), apply_s, root_s, roots)


def measure(size: int, accounts: int, blocks: int, count: int, spec_blocks: int) -> tuple[Timing, Timing | None]:
    genesis = make_genesis(accounts)
    signed = signed_blocks(blocks, count, accounts)
    gc.collect()
    before = resident_bytes()
    started = time.process_time()
    ledger = Ledger(reference_chain(genesis))
    transfers = settled_transfers(size, accounts)
    ledger.transfers.update(transfers)
    ledger.changed.update(("TRANSFER", transfer_id) for transfer_id in transfers)
    ledger.commit()
    ledger.state_root()
    built_s = time.process_time() - started
    grown = resident_bytes() - before
    # As a node does once it has loaded its state: the records are long-lived, so the
    # cyclic collector's full passes need not walk them (else one lands in some block).
    gc.collect()
    gc.freeze()
    print(f"  reference pre-state: built and hashed in {built_s:.1f} s; resident memory +{grown / 2**20:.0f} MiB"
          f" ({grown / max(size, 1):.0f} bytes a settled transfer, records, index and tree)")
    reference = run_reference(ledger, signed)
    spec: Timing | None = None
    if spec_blocks > 0:
        state = state_from_genesis(genesis)
        state.transfers = dict(transfers)
        spec = run_spec(genesis, state, signed[:spec_blocks])
        assert spec.roots == reference.roots[:spec_blocks], "the reference and the spec disagree on a state root"
    return reference, spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--accounts", default="10000,100000")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--transactions", type=int, default=100)
    parser.add_argument("--spec-blocks", type=int, default=3)
    options = parser.parse_args()
    rows = []
    for accounts in [int(text) for text in options.accounts.split(",")]:
        for size in [int(text) for text in options.sizes.split(",")]:
            print(f"{size} settled transfers, {accounts} accounts, blocks of {options.transactions} transactions:")
            reference, spec = measure(size, accounts, options.blocks, options.transactions, options.spec_blocks)
            rows.append((size, accounts, reference, spec))
            report(options.transactions, reference, spec)
    summary(options.transactions, rows)


def report(count: int, reference: Timing, spec: Timing | None) -> None:
    print(f"  reference: {reference.apply_ms():8.1f} ms apply + {reference.root_ms():7.1f} ms root a block"
          f" = {count * 1000 / reference.per_block_ms():8.0f} tx/s ({reference.blocks} blocks)")
    if spec is not None:
        print(f"  spec:      {spec.apply_ms():8.1f} ms apply + {spec.root_ms():7.1f} ms root a block"
              f" = {count * 1000 / spec.per_block_ms():8.0f} tx/s ({spec.blocks} blocks)")
        print(f"  reference / spec: {spec.per_block_ms() / reference.per_block_ms():.1f}x with the root,"
              f" {spec.apply_ms() / reference.apply_ms():.1f}x applying alone")


def summary(count: int, rows: list[tuple[int, int, Timing, Timing | None]]) -> None:
    print("\nper-block cost as the ledger grows (apply + root), against the smallest size with as many accounts:")
    smallest: dict[int, Timing] = {}
    for size, accounts, reference, spec in rows:
        base = smallest.setdefault(accounts, reference)
        growth = reference.per_block_ms() / base.per_block_ms()
        spec_text = f"spec {spec.per_block_ms():10.1f} ms" if spec is not None else "spec not run"
        print(f"  {size:>8} transfers, {accounts:>6} accounts: reference {reference.per_block_ms():7.1f} ms"
              f" ({growth:.2f}x), {spec_text}")


if __name__ == "__main__":
    main()
