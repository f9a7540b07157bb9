"""Block and transaction checks that need no ledger state: the header against the
chain's position, and each transaction on its own (docs/ledger.md, "Header checks",
"Static checks", and each transaction's "Static checks" table).

Each function tests in the precedence order of `spec.codes.CODE_TABLE`, so the code
reported when several rules break is the one the spec reports. Signatures are
checked through `SignatureChecker`, which verifies each distinct signed
transaction once: a replica checks a proposal's block before it prepares and again
when it executes it, and a retried transaction comes back in later blocks.
"""

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from reference.chain import Chain
from spec.codes import ResultCode
from spec.constants import (
    MAX_AMOUNT,
    MAX_BLOCK_TRANSACTIONS,
    MAX_EXECUTION_TIME_MS,
    MAX_QUALITY_BP,
    MAX_REPUTATION_BP,
    MAX_SUPPLY,
    MAX_THRESHOLD_BP,
    MAX_TIMEOUT_MS,
    MAX_TIMESTAMP_MS,
)
from spec.wire.encoding import signing_message, transaction_root
from spec.wire.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    ExecutionProof,
    FederationTask,
    ReputationUpdate,
)

R = ResultCode

SIGNATURE_CACHE_ENTRIES = 1 << 16
"""Verdicts remembered, in transactions: two blocks' worth of MAX_BLOCK_TRANSACTIONS
many times over. When full the cache starts again empty (a verdict is only ever
recomputed, never wrong)."""


class SignatureChecker:
    """Ed25519 verdicts on transactions, each distinct (signing message, signature) once."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.verdicts: dict[bytes, bool] = {}
        self.verifications = 0
        """Signatures actually verified (the tests count them)."""

    def valid(self, key: VerifyKey, tx: AnyTransaction) -> bool:
        message = signing_message(self.chain_id, tx)
        # The verdict is on (key, message, signature), remembered by their digest: 32
        # bytes an entry, whatever the transaction's size.
        cache_key = hashlib.sha256(bytes(key) + message + tx.signature.encode("ascii")).digest()
        verdict = self.verdicts.get(cache_key)
        if verdict is None:
            verdict = verify(key, message, tx.signature)
            self.verifications += 1
            if len(self.verdicts) >= SIGNATURE_CACHE_ENTRIES:
                self.verdicts.clear()
            self.verdicts[cache_key] = verdict
        return verdict


def verify(key: VerifyKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(message, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return False
    return True


# --- the header ------------------------------------------------------------------------------------------
def header_code(chain: Chain, height: int, last_block_hash: str, last_timestamp_ms: int, block: Block) -> ResultCode:
    """The block-level code, against the last applied block's position."""
    header = block.header
    if header.height != height + 1:
        return R.BLOCK_HEIGHT_MISMATCH
    if header.previous_hash != last_block_hash:
        return R.BLOCK_PREVIOUS_HASH_MISMATCH
    if header.timestamp_ms > MAX_TIMESTAMP_MS:
        return R.BLOCK_TIMESTAMP_EXCEEDS_MAXIMUM
    if header.timestamp_ms <= last_timestamp_ms:
        return R.BLOCK_TIMESTAMP_NOT_INCREASING
    if header.proposer not in chain.platform_keys:
        return R.BLOCK_PROPOSER_UNKNOWN
    if len(block.transactions) > MAX_BLOCK_TRANSACTIONS:
        return R.BLOCK_TOO_MANY_TRANSACTIONS
    if header.transaction_root != transaction_root(block.transactions):
        return R.BLOCK_TRANSACTION_ROOT_MISMATCH
    return R.OK


# --- each transaction on its own ---------------------------------------------------------------------------
def first_static_failure(chain: Chain, signatures: SignatureChecker, block: Block) -> tuple[int, ResultCode] | None:
    """The index and code of the first transaction invalid on its own, if any."""
    txs = block.transactions
    last = len(txs) - 1
    for index, tx in enumerate(txs):
        following = txs[index + 1] if index < last else None
        code = static_code(chain, signatures, tx, following)
        if code != R.OK:
            return index, code
    return None


def static_code(
    chain: Chain, signatures: SignatureChecker, tx: AnyTransaction, following: AnyTransaction | None
) -> ResultCode:
    if isinstance(tx, AtpTransferLock):
        return lock_static_code(chain, signatures, tx)
    if isinstance(tx, (AtpTransferCommit, AtpTransferRollback)):
        return settle_static_code(chain, signatures, tx)
    if isinstance(tx, BalanceSet):
        return balance_set_static_code(chain, signatures, tx)
    if isinstance(tx, FederationTask):
        return task_static_code(chain, signatures, tx, following)
    if isinstance(tx, ExecutionProof):
        return proof_static_code(chain, signatures, tx)
    if isinstance(tx, ReputationUpdate):
        return reputation_update_static_code(chain, signatures, tx)
    raise TypeError(f"not a transaction: {type(tx).__name__}")


def amount_code(amount: int) -> ResultCode:
    if amount == 0:
        return R.AMOUNT_MUST_NOT_BE_ZERO
    if amount > MAX_AMOUNT:
        return R.AMOUNT_EXCEEDS_MAXIMUM
    return R.OK


def timeout_code(timeout_ms: int) -> ResultCode:
    if timeout_ms == 0:
        return R.TIMEOUT_MUST_NOT_BE_ZERO
    if timeout_ms > MAX_TIMEOUT_MS:
        return R.TIMEOUT_EXCEEDS_MAXIMUM
    return R.OK


def hosting_code(chain: Chain, agent: str, platform: str) -> ResultCode:
    host = chain.agent_hosts.get(agent)
    if host is None:
        return R.UNKNOWN_ACCOUNT
    if host != platform:
        return R.AGENT_NOT_HOSTED_BY_PLATFORM
    return R.OK


def parties_code(chain: Chain, payer: str, payer_platform: str, payee: str, payee_platform: str) -> ResultCode:
    """Both agents known, each on the platform named with it, and not the same agent."""
    if payer not in chain.agent_hosts or payee not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    code = hosting_code(chain, payer, payer_platform)
    if code == R.OK:
        code = hosting_code(chain, payee, payee_platform)
    if code == R.OK and payer == payee:
        code = R.SELF_TRANSFER
    return code


def lock_static_code(chain: Chain, signatures: SignatureChecker, tx: AtpTransferLock) -> ResultCode:
    keys = chain.platform_keys
    if tx.source_platform not in keys or tx.dest_platform not in keys:
        return R.UNKNOWN_PLATFORM
    if not signatures.valid(keys[tx.source_platform], tx):
        return R.SIGNATURE_INVALID
    code = amount_code(tx.amount)
    if code == R.OK:
        code = timeout_code(tx.timeout_ms)
    if code == R.OK:
        code = parties_code(chain, tx.source_agent, tx.source_platform, tx.dest_agent, tx.dest_platform)
    return code


def settle_static_code(
    chain: Chain, signatures: SignatureChecker, tx: AtpTransferCommit | AtpTransferRollback
) -> ResultCode:
    key = chain.platform_keys.get(tx.platform)
    if key is None:
        return R.UNKNOWN_PLATFORM
    if not signatures.valid(key, tx):
        return R.SIGNATURE_INVALID
    return R.OK


def balance_set_static_code(chain: Chain, signatures: SignatureChecker, tx: BalanceSet) -> ResultCode:
    if not signatures.valid(chain.authority_key, tx):
        return R.SIGNATURE_INVALID
    if tx.balance > MAX_SUPPLY:
        return R.BALANCE_EXCEEDS_MAXIMUM
    if tx.agent not in chain.agent_hosts:
        return R.UNKNOWN_ACCOUNT
    return R.OK


def task_static_code(
    chain: Chain, signatures: SignatureChecker, tx: FederationTask, following: AnyTransaction | None
) -> ResultCode:
    keys = chain.platform_keys
    if tx.delegating_platform not in keys:
        return R.UNKNOWN_PLATFORM
    if tx.executing_platform not in keys:
        return R.EXECUTING_PLATFORM_NOT_IN_GROUP
    if not signatures.valid(keys[tx.delegating_platform], tx):
        return R.SIGNATURE_INVALID
    code = amount_code(tx.cost)
    if code == R.OK:
        code = timeout_code(tx.timeout_ms)
    if code == R.OK and tx.quality_threshold_bp > MAX_THRESHOLD_BP:
        code = R.THRESHOLD_EXCEEDS_MAXIMUM
    if code == R.OK:
        code = parties_code(chain, tx.delegating_agent, tx.delegating_platform, tx.executing_agent,
                            tx.executing_platform)
    if code != R.OK:
        return code
    if not isinstance(following, AtpTransferLock) or following.transfer_id != tx.task_id:
        return R.TASK_LOCK_MISSING
    if not pays_for(following, tx):
        return R.TASK_LOCK_MISMATCH
    return R.OK


def pays_for(lock: AtpTransferLock, task: FederationTask) -> bool:
    """The lock moves the task's cost from delegator to executor, with its timeout."""
    return (
        lock.source_platform == task.delegating_platform
        and lock.source_agent == task.delegating_agent
        and lock.dest_platform == task.executing_platform
        and lock.dest_agent == task.executing_agent
        and lock.amount == task.cost
        and lock.timeout_ms == task.timeout_ms
    )


def proof_static_code(chain: Chain, signatures: SignatureChecker, tx: ExecutionProof) -> ResultCode:
    key = chain.platform_keys.get(tx.executing_platform)
    if key is None:
        return R.EXECUTING_PLATFORM_NOT_IN_GROUP
    if not signatures.valid(key, tx):
        return R.SIGNATURE_INVALID
    if tx.quality_bp > MAX_QUALITY_BP:
        return R.QUALITY_EXCEEDS_MAXIMUM
    if tx.execution_time_ms > MAX_EXECUTION_TIME_MS:
        return R.EXECUTION_TIME_EXCEEDS_MAXIMUM
    return hosting_code(chain, tx.executing_agent, tx.executing_platform)


def reputation_update_static_code(chain: Chain, signatures: SignatureChecker, tx: ReputationUpdate) -> ResultCode:
    keys = chain.platform_keys
    if tx.reporter_platform not in keys or tx.platform not in keys:
        return R.UNKNOWN_PLATFORM
    if not signatures.valid(keys[tx.reporter_platform], tx):
        return R.SIGNATURE_INVALID
    if tx.quality_bp > MAX_QUALITY_BP:
        return R.QUALITY_EXCEEDS_MAXIMUM
    if tx.reputation_bp > MAX_REPUTATION_BP:
        return R.REPUTATION_EXCEEDS_MAXIMUM
    return R.OK
