"""Language-neutral files generated from the spec: the JSON Schemas of the wire types,
and the samples the `encoding` runner's cases are made of (`conformance.encoding_vectors`).

`fedspec vectors` writes the schemas under `conformance/schemas`; `fedspec vectors --check`
(run by the tests) fails when a committed file differs from what the spec now
generates, so the files cannot drift from the spec.
"""

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from conformance.cases import VECTORS_ROOT, case_files
from spec.constants import SPEC_VERSION
from spec.scenario import ScenarioFile
from spec.state import state_from_genesis
from spec.wire.encoding import (
    block_hash,
    sha256,
    transaction_root,
)
from spec.wire.messages import (
    BlockRequest,
    BlockResponse,
    Checkpoint,
    CheckpointCertificate,
    Commit,
    CommitCertificate,
    Message,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from spec.wire.signing import public_key_hex, seed_from_text, signed_copy
from spec.wire.state_root import state_root
from spec.wire.types import (
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
    GenesisAccount,
    GenesisPlatform,
    ReputationUpdate,
)

ROOT = Path(__file__).resolve().parent
SCHEMAS_DIR = ROOT / "schemas"
KILLS_FILE = ROOT / "mutant_kills.json"

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


def signed_sample_transactions() -> list[tuple[str, AnyTransaction]]:
    """The sample transactions, each signed by its key, with the key's name."""
    out: list[tuple[str, AnyTransaction]] = []
    for signer, unsigned in sample_transactions():
        out.append((signer, signed(unsigned, signer)))
    return out


def vector_block() -> Block:
    """The vector block: height 1, proposed by Thor, holding the seven signed samples."""
    txs = tuple(tx for _, tx in signed_sample_transactions())
    header = BlockHeader(
        height=1, previous_hash="00" * 32, timestamp_ms=1_701_388_801_000, proposer="Thor",
        transaction_root=transaction_root(txs),
    )
    return Block(header=header, transactions=txs)


# --- consensus messages ---------------------------------------------------------------------------
CONSENSUS_REPLICAS = ("Thor", "Sprout", "Legion", "Nova")
"""The vector consensus group: replica i is platform CONSENSUS_REPLICAS[i], whose key
is vector_seed(name). N = 4, f = 1, quorum 3; the primary of view v is replica v % 4."""

def vector_genesis() -> Genesis:
    """The genesis of the vector consensus group: the four replicas and two accounts."""
    platforms = []
    for name in CONSENSUS_REPLICAS:
        platforms.append(GenesisPlatform(name=name, public_key=public_key_hex(vector_seed(name))))
    return Genesis(
        chain_id=VECTOR_CHAIN_ID,
        genesis_time_ms=1_701_388_800_000,
        authority_public_key=public_key_hex(vector_seed("authority")),
        platforms=tuple(platforms),
        accounts=(
            GenesisAccount(agent="lct:web4:agent:alice", platform="Thor", balance=1_000_000_000),
            GenesisAccount(agent="lct:web4:agent:bob", platform="Sprout", balance=0),
        ),
    )


def consensus_sample_messages() -> list[Message]:
    """One message of every kind, in CONSENSUS_FIELDS order."""
    block = vector_block()
    digest = block_hash(block.header)
    genesis_checkpoint = CheckpointCertificate(0, state_root(state_from_genesis(vector_genesis())), frozenset())
    proposal = PrePrepare(0, 1, digest, block, 0)
    prepared = PreparedCertificate(proposal, frozenset({0, 1, 2}))
    view_changes = (
        ViewChange(1, genesis_checkpoint, (prepared,), 1),
        ViewChange(1, genesis_checkpoint, (prepared,), 2),
        ViewChange(1, genesis_checkpoint, (), 3),
    )
    return [
        proposal,
        Prepare(0, 1, digest, 1),
        Commit(0, 1, digest, 2),
        Checkpoint(1, sha256(b"sample state root").hex(), 1),
        view_changes[1],
        NewView(1, view_changes, genesis_checkpoint, (PrePrepare(1, 1, digest, block, 1),), 1),
        BlockRequest(1, 3),
        BlockResponse(block, CommitCertificate(0, 1, digest, frozenset({0, 1, 2})), 3, 0),
    ]


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
        "scenario": ScenarioFile,
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
    """Every generated file: the JSON Schemas, every runner's cases (one directory
    each, `conformance.cases`) and the table of what kills each mutant node."""
    files: dict[Path, str] = {}
    for stem, schema in schemas().items():
        files[SCHEMAS_DIR / f"{stem}.schema.json"] = render(schema)
    files.update(suite_files())
    return files


def suite_files() -> dict[Path, str]:
    """Every runner's cases, in `conformance/vectors/<runner>/<handler>/<case>/`, the
    index, and the table of the cases that kill each mutant node."""
    from conformance.kills import kill_table
    from conformance.runners import RUNNERS

    cases = [case for runner in RUNNERS.values() for case in runner.generate()]
    files = {VECTORS_ROOT / path: text for path, text in case_files(cases).items()}
    files[KILLS_FILE] = render(kill_table(RUNNERS, cases))
    return files


def orphan_files(generated: dict[Path, str]) -> list[Path]:
    """Files under the generated directories that the spec no longer generates."""
    orphans = []
    for directory in (VECTORS_ROOT, SCHEMAS_DIR):
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path not in generated:
                orphans.append(path)
    return orphans


def write_all() -> list[Path]:
    """Write every generated file and delete those no longer generated."""
    generated = generated_files()
    for path in orphan_files(generated):
        path.unlink()
    written = []
    for path, text in generated.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files() -> list[Path]:
    """Generated files whose committed content differs from what the spec generates,
    and committed files it no longer generates."""
    generated = generated_files()
    stale = []
    for path, text in generated.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale + orphan_files(generated)
