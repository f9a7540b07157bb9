"""Replica message-handling throughput: the reference replica against the spec's, on
the same input sequence, and the share of time spent checking signatures.

    PYTHONPATH=. python3 benchmarks/reference_replica.py [--requests 600] [--block 50]
        [--interval 10] [--accounts 40]

A group of four correct replicas runs to completion on `--requests` client requests
(transfer locks between `--accounts` accounts, then the commits of half of them),
every message broadcast to every other replica in the order sent, with a block limit
of `--block` transactions and a checkpoint every `--interval` blocks. The group is
run once, by reference replicas (the differential tests hold them equal to the
spec's); every message is sealed in its signed envelope once. What replica 2 (a
backup) received, in order, is the input sequence: its client requests and the
envelopes of the others' messages.

That one sequence is then played four times, each in a fresh replica, and timed in
CPU time (`time.process_time`):

* the boundary alone: `authenticated_message_from_bytes` on every envelope (decode,
  chain check, Ed25519 verification of every signature it carries), what a node
  does once per frame;
* the reference replica: boundary, then `Replica.step`;
* the spec: boundary, then `spec.pbft.step`;
* and each replica's `step` alone on the already authenticated messages.

It prints messages per second for each, the ratio of reference to spec, the share of
the reference node's time spent in the boundary's signature checks, and PyNaCl's raw
Ed25519 verification rate on this machine: the bound a node whose every message
carries one signature approaches.
"""

import argparse
import gc
import time
from dataclasses import dataclass

from nacl.signing import SigningKey

from reference.chain import chain_from_genesis as reference_chain
from reference.ledger import Ledger
from reference.replica import Replica, make_group
from spec import pbft
from spec.constants import UNITS_PER_ATP
from spec.state import chain_from_genesis, state_from_genesis
from spec.wire.decoding import authenticated_message_from_bytes, decode_envelope
from spec.wire.encoding import signing_message
from spec.wire.envelope import envelope_bytes, sign_envelope
from spec.wire.messages import ClientRequest, Input, Message
from spec.wire.signing import public_key_hex, seed_from_text
from spec.wire.types import AnyTransaction, AtpTransferCommit, AtpTransferLock, Genesis, GenesisAccount, GenesisPlatform

CHAIN_ID = "fedspec-bench"
GENESIS_TIME_MS = 1_700_000_000_000
CLOCK_MS = GENESIS_TIME_MS + 1_000
PLATFORMS = ("Thor", "Sprout", "Legion", "Nova")
MEASURED = 2
"""The replica whose inputs are replayed: a backup of view 0."""
LOCK_TIMEOUT_MS = 3_600_000
VERIFY_SAMPLES = 5_000
"""Ed25519 verifications timed for the raw rate."""


def seed(name: str) -> bytes:
    return seed_from_text("fedspec bench " + name)


def make_genesis(accounts: int) -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID, genesis_time_ms=GENESIS_TIME_MS, authority_public_key=public_key_hex(seed("authority")),
        platforms=tuple(GenesisPlatform(name=name, public_key=public_key_hex(seed(name)), reputation_bp=5_000)
                        for name in PLATFORMS),
        accounts=tuple(GenesisAccount(agent=f"lct:web4:agent:a{number}", platform=PLATFORMS[number % 4],
                                      balance=1_000_000 * UNITS_PER_ATP) for number in range(accounts)),
    )


def signed(tx: AnyTransaction, platform: str) -> AnyTransaction:
    signature = SigningKey(seed(platform)).sign(signing_message(CHAIN_ID, tx)).signature.hex()
    return tx.model_copy(update={"signature": signature})


def client_requests(count: int, accounts: int) -> list[ClientRequest]:
    """Locks between neighbouring accounts, then the commits of every other one."""
    requests = []
    for number in range(count - count // 3):
        source, dest = number % accounts, (number + 1) % accounts
        tx = AtpTransferLock(
            transfer_id=f"t{number}", source_platform=PLATFORMS[source % 4], source_agent=f"lct:web4:agent:a{source}",
            dest_platform=PLATFORMS[dest % 4], dest_agent=f"lct:web4:agent:a{dest}", amount=UNITS_PER_ATP,
            timeout_ms=LOCK_TIMEOUT_MS, signature="00" * 64,
        )
        requests.append(ClientRequest((signed(tx, tx.source_platform),)))
    for number in range(0, count - count // 3, 2)[: count // 3]:
        platform = PLATFORMS[(number % accounts) % 4]
        tx = AtpTransferCommit(transfer_id=f"t{number}", platform=platform, signature="00" * 64)
        requests.append(ClientRequest((signed(tx, platform),)))
    return requests


def reference_replica(genesis: Genesis, replica: int, block: int, interval: int) -> Replica:
    chain = reference_chain(genesis)
    ledger = Ledger(chain)
    return Replica(make_group(chain, ledger.state_root(), interval, 2 * interval, block), replica, CLOCK_MS, ledger)


def spec_replica(genesis: Genesis, replica: int, block: int, interval: int) -> tuple[pbft.ConsensusConfig, pbft.ReplicaState]:
    f = pbft.fault_tolerance(len(PLATFORMS))
    config = pbft.ConsensusConfig(
        chain=chain_from_genesis(genesis), genesis_state=state_from_genesis(genesis), platforms=PLATFORMS, f=f,
        quorum=pbft.quorum_size(len(PLATFORMS), f), checkpoint_interval=interval, watermark_window=2 * interval,
        max_block_transactions=block,
    )
    return config, pbft.initial_replica_state(config, replica, CLOCK_MS)


Frame = ClientRequest | bytes
"""An input as it reaches a node: a client request, or a message's sealed envelope."""


def measured_inputs(genesis: Genesis, requests: list[ClientRequest], block: int, interval: int,
                    burst: int) -> list[Frame]:
    """Run the group to completion, requests arriving `burst` at a time, each burst's
    messages delivered before the next; what replica MEASURED received, in order."""
    replicas = [reference_replica(genesis, number, block, interval) for number in range(len(PLATFORMS))]
    seeds = {number: seed(name) for number, name in enumerate(PLATFORMS)}
    received: list[Frame] = []
    for first in range(0, len(requests), burst):
        queue: list[Message] = []
        for request in requests[first:first + burst]:
            received.append(request)
            for replica in replicas:
                queue.extend(replica.step(request)[0])
        deliver(replicas, seeds, queue, received)
    return received


def deliver(replicas: list[Replica], seeds: dict[int, bytes], queue: list[Message], received: list[Frame]) -> None:
    """Broadcast every queued message, and what it leads to, in the order sent."""
    while queue:
        message = queue.pop(0)
        frame = envelope_bytes(CHAIN_ID, sign_envelope(seeds, CHAIN_ID, message))
        for replica in replicas:
            if replica.replica != message.sender:
                if replica.replica == MEASURED:
                    received.append(frame)
                queue.extend(replica.step(message)[0])


@dataclass
class Timing:
    seconds: float
    """CPU time on every input."""
    message_seconds: float
    """CPU time on the messages alone (boundary included when it ran)."""
    height: int


def keys(genesis: Genesis) -> tuple[str, ...]:
    return tuple(platform.public_key for platform in genesis.platforms)


def time_boundary(genesis: Genesis, frames: list[Frame]) -> tuple[float, list[Input]]:
    """The boundary alone, on every envelope; the authenticated inputs."""
    public_keys = keys(genesis)
    inputs: list[Input] = []
    start = time.process_time()
    for frame in frames:
        inputs.append(frame if isinstance(frame, ClientRequest)
                      else authenticated_message_from_bytes(CHAIN_ID, public_keys, frame))
    return time.process_time() - start, inputs


def time_reference(genesis: Genesis, frames: list[Frame], block: int, interval: int, boundary: bool) -> Timing:
    replica = reference_replica(genesis, MEASURED, block, interval)
    public_keys = keys(genesis)
    total = on_messages = 0.0
    for frame in frames:
        start = time.process_time()
        if boundary and isinstance(frame, bytes):
            replica.step(authenticated_message_from_bytes(CHAIN_ID, public_keys, frame))
        else:
            replica.step(frame)  # type: ignore[arg-type]
        spent = time.process_time() - start
        total += spent
        if not isinstance(frame, ClientRequest):
            on_messages += spent
    return Timing(total, on_messages, replica.height)


def time_spec(genesis: Genesis, frames: list[Frame], block: int, interval: int, boundary: bool) -> Timing:
    config, state = spec_replica(genesis, MEASURED, block, interval)
    public_keys = keys(genesis)
    total = on_messages = 0.0
    for frame in frames:
        start = time.process_time()
        if boundary and isinstance(frame, bytes):
            state = pbft.step(config, state, authenticated_message_from_bytes(CHAIN_ID, public_keys, frame)).state
        else:
            state = pbft.step(config, state, frame).state  # type: ignore[arg-type]
        spent = time.process_time() - start
        total += spent
        if not isinstance(frame, ClientRequest):
            on_messages += spent
    return Timing(total, on_messages, state.height)


def raw_verify_rate() -> float:
    key = SigningKey(seed("rate"))
    message = b"x" * 120
    signature = key.sign(message).signature
    verify_key = key.verify_key
    start = time.process_time()
    for _ in range(VERIFY_SAMPLES):
        verify_key.verify(message, signature)
    return VERIFY_SAMPLES / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--block", type=int, default=50, help="max_block_transactions")
    parser.add_argument("--interval", type=int, default=10, help="checkpoint_interval (the window is twice it)")
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--burst", type=int, default=10, help="client requests arriving together")
    options = parser.parse_args()
    genesis = make_genesis(options.accounts)
    frames = measured_inputs(genesis, client_requests(options.requests, options.accounts), options.block,
                             options.interval, options.burst)
    gc.collect()
    gc.freeze()
    messages = sum(1 for frame in frames if isinstance(frame, bytes))
    boundary_seconds, inputs = time_boundary(genesis, frames)
    runs = {
        "reference, boundary + step": time_reference(genesis, frames, options.block, options.interval, True),
        "spec, boundary + step": time_spec(genesis, frames, options.block, options.interval, True),
        "reference, step alone": time_reference(genesis, inputs, options.block, options.interval, False),  # type: ignore[arg-type]
        "spec, step alone": time_spec(genesis, inputs, options.block, options.interval, False),  # type: ignore[arg-type]
    }
    heights = {timing.height for timing in runs.values()}
    assert len(heights) == 1, f"the runs executed different heights: {heights}"
    print(f"replica {MEASURED} of {len(PLATFORMS)}: {len(frames) - messages} client requests (in bursts of "
          f"{options.burst}) and {messages} messages; {heights.pop()} blocks of up to {options.block} transactions, "
          f"a checkpoint every {options.interval}")
    print(f"  {'':28} {'CPU s':>8} {'inputs/s':>9} {'messages/s':>11}")
    print(f"  {'boundary alone':28} {boundary_seconds:8.3f} {'':>9} {messages / boundary_seconds:11.0f}")
    for name, timing in runs.items():
        print(f"  {name:28} {timing.seconds:8.3f} {len(frames) / timing.seconds:9.0f} "
              f"{messages / timing.message_seconds:11.0f}")
    reference, spec = runs["reference, boundary + step"], runs["spec, boundary + step"]
    alone = runs["spec, step alone"].message_seconds / runs["reference, step alone"].message_seconds
    print(f"reference / spec, messages through step: {spec.message_seconds / reference.message_seconds:.1f}x with "
          f"the boundary, {alone:.1f}x step alone; every input: {spec.seconds / reference.seconds:.1f}x")
    signatures = sum(len(decode_envelope(frame)[1].signatures) for frame in frames if isinstance(frame, bytes))
    rate = raw_verify_rate()
    print(f"share of the reference node's message time in the boundary (decode + signature checks): "
          f"{boundary_seconds / reference.message_seconds:.0%}; in Ed25519 verification itself, at the raw rate: "
          f"{signatures / rate / reference.message_seconds:.0%} ({signatures} signatures)")
    print(f"raw Ed25519 verification (PyNaCl) here: {rate:.0f}/s per core; the reference node: "
          f"{messages / reference.message_seconds:.0f} messages/s with the boundary, "
          f"{messages / runs['reference, step alone'].message_seconds:.0f} without")

if __name__ == "__main__":
    main()
