"""Language-neutral files generated from the spec: known-answer vectors and JSON Schemas.

`fedspec vectors` writes them under `conformance/`; `fedspec vectors --check`
(run by the tests) fails when a committed file differs from what the spec now
generates, so the files cannot drift from the spec.
"""

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from spec.constants import SPEC_VERSION
from spec.crypto import public_key_hex, seed_from_text, signed_copy
from spec.encoding import (
    block_hash,
    header_bytes,
    sha256,
    signing_message,
    transaction_bytes,
    transaction_hash,
    transaction_root,
)
from spec.scenario import Scenario
from spec.types import (
    AnyTransaction,
    AtpTransferCommit,
    AtpTransferLock,
    AtpTransferRollback,
    BalanceSet,
    Block,
    BlockHeader,
    ExecutionProof,
    FederationTask,
    Genesis,
    ReputationUpdate,
)

ROOT = Path(__file__).resolve().parent
VECTORS_DIR = ROOT / "vectors"
SCHEMAS_DIR = ROOT / "schemas"

VECTOR_CHAIN_ID = "fedspec-vectors"
PLACEHOLDER = "00" * 64


def vector_seed(name: str) -> bytes:
    return seed_from_text("fedspec test vector " + name)


def signed(tx: AnyTransaction, signer: str) -> AnyTransaction:
    return signed_copy(vector_seed(signer), VECTOR_CHAIN_ID, tx)


def sample_transactions() -> list[tuple[str, AnyTransaction]]:
    """One transaction of every type, each with the name of the key that signs it."""
    alice = "lct:web4:agent:alice"
    bob = "lct:web4:agent:bob"
    return [
        ("Thor", AtpTransferLock(
            transfer_id="transfer-1", source_platform="Thor", source_agent=alice,
            dest_platform="Sprout", dest_agent=bob, amount=200_000_000, timeout_ms=60_000, signature=PLACEHOLDER,
        )),
        ("Thor", AtpTransferCommit(transfer_id="transfer-1", platform="Thor", signature=PLACEHOLDER)),
        ("Thor", AtpTransferRollback(transfer_id="transfer-1", platform="Thor", signature=PLACEHOLDER)),
        ("authority", BalanceSet(set_id="mint-1", agent=alice, balance=1_000_000_000, signature=PLACEHOLDER)),
        ("Thor", FederationTask(
            task_id="task-A", delegating_platform="Thor", delegating_agent=alice,
            executing_platform="Sprout", executing_agent=bob, cost=300_000_000,
            quality_threshold_bp=7_000, timeout_ms=60_000, task_data_hash=sha256(b"perception").hex(),
            signature=PLACEHOLDER,
        )),
        ("Sprout", ExecutionProof(
            task_id="task-A", executing_platform="Sprout", executing_agent=bob, quality_bp=8_500,
            execution_time_ms=45_200, result_hash=sha256(b"result").hex(), signature=PLACEHOLDER,
        )),
        ("Legion", ReputationUpdate(
            update_id="rep-task-A", task_id="task-A", platform="Sprout", quality_bp=8_500,
            reputation_bp=5_350, reporter_platform="Legion", signature=PLACEHOLDER,
        )),
    ]


def encoding_vectors() -> dict[str, Any]:
    """Known-answer vectors: for each transaction type, the signing message, the
    signature under a fixed seed, the canonical bytes and the SHA-256; then a block."""
    signers = ("Thor", "Sprout", "Legion", "authority")
    keys = {name: {"seed_text": "fedspec test vector " + name, "seed": vector_seed(name).hex(),
                   "public_key": public_key_hex(vector_seed(name))} for name in signers}
    transactions = []
    signed_txs: list[AnyTransaction] = []
    for signer, unsigned in sample_transactions():
        tx = signed(unsigned, signer)
        signed_txs.append(tx)
        transactions.append({
            "type": tx.type,
            "signer": signer,
            "json": tx.model_dump(mode="json"),
            "signing_message": signing_message(VECTOR_CHAIN_ID, tx).hex(),
            "signature": tx.signature,
            "transaction_bytes": transaction_bytes(tx).hex(),
            "transaction_hash": transaction_hash(tx).hex(),
        })
    txs = tuple(signed_txs)
    header = BlockHeader(
        height=1, previous_hash="00" * 32, timestamp_ms=1_701_388_801_000, proposer="Thor",
        transaction_root=transaction_root(txs),
    )
    block = Block(header=header, transactions=txs)
    return {
        "spec_version": SPEC_VERSION,
        "chain_id": VECTOR_CHAIN_ID,
        "seed_rule": "seed = SHA-256(\"fedspec/v1/KEY_SEED\" || 0x00 || UTF-8(seed_text))",
        "keys": keys,
        "transactions": transactions,
        "block": {
            "json": block.model_dump(mode="json"),
            "transaction_root": header.transaction_root,
            "header_bytes": header_bytes(header).hex(),
            "block_hash": block_hash(header),
        },
    }


def schema_models() -> dict[str, type[BaseModel]]:
    """Every wire type with an exported JSON Schema, by file stem."""
    return {
        "atp_transfer_lock": AtpTransferLock,
        "atp_transfer_commit": AtpTransferCommit,
        "atp_transfer_rollback": AtpTransferRollback,
        "balance_set": BalanceSet,
        "federation_task": FederationTask,
        "execution_proof": ExecutionProof,
        "reputation_update": ReputationUpdate,
        "block_header": BlockHeader,
        "block": Block,
        "genesis": Genesis,
        "scenario": Scenario,
    }


def schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stem, model in schema_models().items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"{SPEC_VERSION}/{stem}.json"
        out[stem] = schema
    return out


def render(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def generated_files() -> dict[Path, str]:
    files: dict[Path, str] = {VECTORS_DIR / "canonical_encoding.json": render(encoding_vectors())}
    for stem, schema in schemas().items():
        files[SCHEMAS_DIR / f"{stem}.schema.json"] = render(schema)
    return files


def write_all() -> list[Path]:
    written = []
    for path, text in generated_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files() -> list[Path]:
    """Generated files whose committed content differs from what the spec generates."""
    stale = []
    for path, text in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale
