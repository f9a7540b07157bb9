"""For the HTTP API's tests and fuzzing: `FakeHandle`, and `fuzz_api`, schemathesis run in-process.

`FakeHandle` is a `NodeHandle` with no consensus and no network: the reference
`Ledger` alone, applying each request it takes at once as its own block. Every
answer is the real ledger's (its receipts, records, state root); what it fakes is
only the ordering, which the API does not see. It answers a request as a replica
would (`reference.replica.Replica.client_request_refusal`): executed before, then
malformed, then a transaction failing a static check, with that check's code.

`fuzz_api` draws requests for every operation of the app's own OpenAPI schema,
valid ones and invalid ones (schemathesis' positive and negative modes), from a
fixed seed, sends each through the ASGI app in process, and runs schemathesis'
`not_a_server_error` check on every response.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from reference.chain import chain_from_genesis
from reference.ledger import Ledger
from reference.node.handle import (
    CommittedReceipt,
    NodeStatus,
    Request,
    StateRootAt,
    SubmitOutcome,
    SubmitStatus,
    first_invalid_transaction,
)
from reference.node.metrics import NodeMetrics
from spec.codes import ResultCode
from spec.refusals import Refusal
from spec.wire.encoding import transaction_hash, transaction_root
from spec.wire.records import Account, Task, Transfer
from spec.wire.types import Block, BlockHeader, Genesis

BLOCK_INTERVAL_MS = 1_000
"""Consensus time between the fake's blocks, in milliseconds."""


class FakeHandle:
    """A NodeHandle over the reference Ledger alone: each request taken is committed at once in its own block."""

    def __init__(self, genesis: Genesis) -> None:
        self.chain = chain_from_genesis(genesis)
        self.ledger = Ledger(self.chain)
        self.proposer = genesis.platforms[0].name
        self.blocks: list[Block] = []
        self.receipts: dict[str, CommittedReceipt] = {}
        self.node_metrics = NodeMetrics()
        self.submitted = 0
        """Requests submitted, counting resubmissions."""

    async def submit(self, requests: Sequence[Request]) -> list[SubmitOutcome]:
        return [self.submit_one(request) for request in requests]

    def submit_one(self, request: Request) -> SubmitOutcome:
        self.submitted += 1
        if len(request) > 0 and transaction_hash(request[0]).hex() in self.receipts:
            return self.committed(request)
        if len(request) == 0 or len(request) > 2 or (len(request) == 2 and request[0].type != "FEDERATION_TASK"):
            return SubmitOutcome(SubmitStatus.REFUSED, refusal=Refusal.REQUEST_MALFORMED)
        invalid = first_invalid_transaction(self.chain, self.ledger.signatures, request)
        if invalid is not None:
            return SubmitOutcome(SubmitStatus.REFUSED, refusal=Refusal.REQUEST_TRANSACTION_INVALID,
                                 invalid_index=invalid[0], invalid_code=invalid[1])
        self.commit_block(request)
        return self.committed(request)

    def commit_block(self, request: Request) -> None:
        header = BlockHeader(
            height=self.ledger.height + 1, previous_hash=self.ledger.last_block_hash,
            timestamp_ms=self.ledger.last_timestamp_ms + BLOCK_INTERVAL_MS, proposer=self.proposer,
            transaction_root=transaction_root(request),
        )
        block = Block(header=header, transactions=request)
        receipt = self.ledger.apply_block(block)
        if receipt.code != ResultCode.OK:
            raise AssertionError(f"the fake's own block was refused: {receipt.code}")
        self.blocks.append(block)
        for transaction, transaction_receipt in zip(request, receipt.transactions, strict=True):
            digest = transaction_hash(transaction).hex()
            self.receipts[digest] = CommittedReceipt(digest, receipt.height, receipt.block_hash, transaction_receipt)
        self.node_metrics.set_committed_height(self.ledger.height)

    def committed(self, request: Request) -> SubmitOutcome:
        """The answer for a request whose first transaction is committed: the receipts of its committed ones."""
        found = [self.receipts[digest] for digest in (transaction_hash(tx).hex() for tx in request)
                 if digest in self.receipts]
        first = found[0]
        return SubmitOutcome(SubmitStatus.COMMITTED, height=first.height, block_hash=first.block_hash,
                             receipts=tuple(one.receipt for one in found))

    def account(self, agent: str) -> Account | None:
        return self.ledger.accounts.get(agent)

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self.ledger.transfers.get(transfer_id)

    def task(self, task_id: str) -> Task | None:
        return self.ledger.tasks.get(task_id)

    def block(self, height: int) -> Block | None:
        return self.blocks[height - 1] if 1 <= height <= len(self.blocks) else None

    def receipt(self, transaction_hash: str) -> CommittedReceipt | None:
        return self.receipts.get(transaction_hash)

    def state_root(self) -> StateRootAt:
        return StateRootAt(self.ledger.height, self.ledger.state_root())

    def status(self) -> NodeStatus:
        return NodeStatus(replica=0, platform=self.proposer, view=0, view_active=True, height=self.ledger.height,
                          peers=())

    def metrics(self) -> str:
        return self.node_metrics.render()


# --- fuzzing ----------------------------------------------------------------------------------------------
@dataclass
class FuzzFigures:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    """One line per response that failed `not_a_server_error`: the operation, status and the request."""
    not_generated: list[str] = field(default_factory=list)
    """(operation, mode) pairs with nothing to draw: no invalid request exists for an operation without input."""
    seconds: float = 0.0


def fuzz_api(app: FastAPI, seed: int, examples: int, modes: Sequence[GenerationMode] = tuple(GenerationMode)
             ) -> FuzzFigures:
    """Up to `examples` requests per operation and generation mode, drawn from seed `seed`."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    figures = FuzzFigures()
    start = time.monotonic()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the schema describes an operation schemathesis cannot read: {result}")
        operation = result.ok()
        for mode in modes:
            try:
                fuzz_operation(operation.as_strategy(generation_mode=mode), seed, examples, figures)
            except hypothesis.errors.Unsatisfiable:
                figures.not_generated.append(f"{operation.label} ({mode.value})")
    figures.seconds = time.monotonic() - start
    return figures


def fuzz_operation(strategy: SearchStrategy[schemathesis.Case[Any]], seed: int, examples: int, figures: FuzzFigures) -> None:
    @hypothesis.seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
    @given(case=strategy)
    def one(case: schemathesis.Case[Any]) -> None:
        response = case.call()
        figures.requests += 1
        figures.by_status[response.status_code] = figures.by_status.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except BaseExceptionGroup as failure:  # schemathesis' FailureGroup: the check failed
            figures.server_errors.append(
                f"{case.operation.label} -> {response.status_code}: {case.as_curl_command()} ({type(failure).__name__})")

    one()
