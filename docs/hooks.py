"""MkDocs hook: replace `<!-- fedspec:... -->` placeholders with tables generated from the source.

Every table below is computed from the specification on each build, so the site
cannot drift from the code. The hook only rewrites page markdown in memory; it
writes no files in the repository (`fedspec check` runs in a scratch directory).

Placeholders (each alone on its line):

* `<!-- fedspec:codes -->`: `spec.codes.CODE_TABLE`, in precedence order.
* `<!-- fedspec:refusals -->`: `spec.refusals.REFUSAL_TABLE`, with the functions of
  `spec/pbft.py` that decide each reason, read from its syntax tree.
* `<!-- fedspec:constants -->`: every constant of `spec/constants.py`.
* `<!-- fedspec:invariants -->`: `spec.invariants.INVARIANT_NAMES` and their predicates.
* `<!-- fedspec:checks FUNCTION -->`: the checks of `spec.ledger.FUNCTION`, in the
  order the code makes them, read from its syntax tree.
* `<!-- fedspec:fields -->`: each transaction type's code and signed fields, in order.
* `<!-- fedspec:wire TYPE -->`: the JSON form of the known-answer vector of transaction TYPE.
* `<!-- fedspec:layout TYPE -->`: the signing message of that vector, split into its fields.
* `<!-- fedspec:consensus WHAT -->`: the consensus message encoding from `spec.wire.message_encoding`:
  WHAT is `fields` (how each field kind is encoded), `messages` (one layout table per
  message kind), `certificates` (one per certificate) or `layout KIND` (the signing
  message of that kind's known-answer vector, split into its fields).
* `<!-- fedspec:state_codes -->`: the u8 codes of `spec.wire.state_root`: record kinds,
  transfer and task statuses, settlement causes.
* `<!-- fedspec:envelope WHAT -->`: signed envelopes from `spec.wire.envelope`: WHAT is
  `refusals` (`ENVELOPE_REFUSALS`, in the order they are checked) or `obligations KIND`
  (the signature obligations of that kind's sample message, in canonical order).
* `<!-- fedspec:vector HANDLER CASE -->`: the `case.json` of the `encoding` runner's case
  HANDLER/CASE.
* `<!-- fedspec:decoding WHAT -->`: the decoder of `spec.wire.decoding`: WHAT is
  `failures` (every `DecodeFailure`, its meaning and its malformed vectors) or
  `bounds` (every bound of `spec.constants` the decoder checks).
* `<!-- fedspec:reputation -->`: `next_reputation` applied to sample inputs.
* `<!-- fedspec:examples -->`: the shipped scenarios with their descriptions.
* `<!-- fedspec:run ARGS -->`: the output and exit code of `fedspec ARGS`.
* `<!-- fedspec:quorums -->`: N, f and quorum sizes for N = 1..13, from `spec.pbft`.
* `<!-- fedspec:pbft GROUP -->`: the `messages`, other `inputs` or `certificates` of
  `spec.pbft`, with their fields as declared.
* `<!-- fedspec:members MODULE PAGE -->`: a `::: MODULE` block of every public member
  that PAGE does not already render with its own `::: MODULE.NAME`.
* `<!-- fedspec:checker_config -->`: the keys of a model-checker configuration, from
  the pydantic models of `checker.config`.
* `<!-- fedspec:configs FOLDER -->`: every `configs/FOLDER/*.toml`, loaded.
* `<!-- fedspec:trace_messages -->`: the JSON form of each input in a checker trace.
* `<!-- fedspec:check ARGS -->`, `<!-- fedspec:check_trace ARGS -->`: the output and
  exit code, or the JSON trace, of `fedspec check ARGS`, run in a scratch directory.
* `<!-- fedspec:check_example FILE -->`: a broken configuration and its error.
* `<!-- fedspec:obligations PROOF -->`: the obligations of `checker.proofs.PROOF`, with
  their statements and the broken variant that makes each fail.
* `<!-- fedspec:prove ARGS -->`: the output and exit code of `fedspec prove ARGS`.
* `<!-- fedspec:prove_variant PROOF.VARIANT [NAME...] -->`: the same for
  `fedspec prove --variant PROOF.VARIANT [NAME...]` (a negative control and its counterexample).
* `<!-- fedspec:obligation_matrix PROOF -->`: the obligations of a proof as a grid, one
  row per conjunct group and one column per case, each cell the variant that breaks it.
* `<!-- fedspec:pbft_model WHAT -->`: the PBFT proof's `relations`, `conjuncts` or `actions`.
* `<!-- fedspec:ledger_model WHAT -->`: the ledger proof's `invariants` (groups and
  their conjuncts) or `transitions`.
* `<!-- fedspec:drift WHAT -->`: the ledger drift tests' `flaws` (per transaction type,
  with the number of cases) or the codes they explain as `unreachable`.
* `<!-- fedspec:variants -->`: every broken variant of every proof.
* `<!-- fedspec:established -->`: each invariant against each method (proof, model
  checker, tests), every reference checked to exist.
* `<!-- fedspec:diagram WHAT [ARGS] -->`: an inline SVG picture (docs/diagrams.py):
  `sequence NAME` (the message sequence of `docs/traces/NAME.trace.json`), `transfer` and
  `task` (their status changes), `parts` (the project's parts and data flows).
"""

import ast
import contextlib
import importlib
import inspect
import json
import re
import shlex
import sys
import tempfile
import textwrap
import typing
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from typer.testing import CliRunner

import checker.config
import checker.invariants
import checker.proofs
import checker.trace
import spec.constants
import spec.invariants
import spec.ledger
import spec.pbft
import spec.wire.decoding
import spec.wire.messages
import spec.wire.records
import spec.wire.state_root
from conformance.encoding_vectors import encoding_cases, handler_data
from conformance.generate import consensus_sample_messages
from fedspec.cli import app
from spec.codes import CODE_TABLE, PRECEDENCE, ResultCode
from spec.refusals import REFUSAL_TABLE, Refusal
from spec.scenario import load_and_replay
from spec.wire.decoding import DecodeFailure
from spec.wire.encoding import (
    SIGNED_FIELDS,
    TRANSACTION_TYPE_CODES,
    domain_tag,
    encode_field,
    encode_str,
    signing_message,
)
from spec.wire.envelope import ENVELOPE_REFUSALS, signature_obligations
from spec.wire.json_form import (
    INPUT_TAGS,
    JSON_KINDS,
    JsonFormError,
    from_json,
    json_fields,
    to_json,
    transaction_from_json,
)
from spec.wire.message_encoding import (
    CERTIFICATE_FIELDS,
    CONSENSUS_FIELD_ENCODINGS,
    CONSENSUS_FIELDS,
    CONSENSUS_MESSAGE_KINDS,
    ConsensusFieldKind,
    consensus_kind,
    consensus_signing_message,
    encode_consensus_field,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import diagrams  # noqa: E402  (docs/diagrams.py, beside this file)

PLACEHOLDER = re.compile(r"^<!-- fedspec:(\w+)(?: (.*?))? -->$", re.MULTILINE)


def cell(text: str) -> str:
    """Text fit for one markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def code_link(code: ResultCode) -> str:
    """A link to the code's row in the result-code table (resolved by autorefs)."""
    return f"[`{code.value}`][code-{code.value}]"


# --- result codes ----------------------------------------------------------------------------
def codes_table() -> str:
    rows = ["| # | code | kind | meaning |", "|--:|---|---|---|"]
    for number, info in enumerate(CODE_TABLE):
        anchor = f"[](){{#code-{info.code.value}}}"
        rows.append(f"| {number} | {anchor}`{info.code.value}` | {info.kind} | {cell(info.meaning)} |")
    return "\n".join(rows)


# --- refusals ------------------------------------------------------------------------------------
def refusal_deciders() -> dict[Refusal, list[str]]:
    """For each refusal, the functions of `spec/pbft.py` that return it (`Refusal.NAME`
    in their body), in source order."""
    tree = ast.parse(Path(spec.pbft.__file__).read_text(encoding="utf-8"))
    deciders: dict[Refusal, list[str]] = {info.refusal: [] for info in REFUSAL_TABLE}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == "Refusal":
                names = deciders[Refusal[inner.attr]]
                if node.name not in names:
                    names.append(node.name)
    return deciders


def refusals_table() -> str:
    """One row per refusal. A reason no function of `spec/pbft.py` decides, or one
    missing from the table, fails the build: the site would list a reason that never occurs."""
    listed = [info.refusal for info in REFUSAL_TABLE]
    if sorted(listed) != sorted(Refusal):
        raise ValueError("REFUSAL_TABLE must list every Refusal exactly once")
    deciders = refusal_deciders()
    rows = ["| # | refusal | inputs | decided by | meaning |", "|--:|---|---|---|---|"]
    for number, info in enumerate(REFUSAL_TABLE):
        if not deciders[info.refusal]:
            raise ValueError(f"no function of spec/pbft.py returns Refusal.{info.refusal.name}")
        anchor = f"[](){{#refusal-{info.refusal.value}}}"
        functions = ", ".join(f"[`{name}`][spec.pbft.{name}]" for name in deciders[info.refusal])
        inputs = ", ".join(info.inputs)
        rows.append(f"| {number} | {anchor}`{info.refusal.value}` | {inputs} | {functions} | {cell(info.meaning)} |")
    return "\n".join(rows)


# --- constants -----------------------------------------------------------------------------------
def constants_table() -> str:
    """One row per constant: section, name, source expression, value, docstring."""
    source = Path(spec.constants.__file__).read_text(encoding="utf-8")
    sections = {}
    for lineno, line in enumerate(source.splitlines(), start=1):
        match = re.match(r"# --- (.+?) -+$", line)
        if match:
            sections[lineno] = match.group(1)
    body = ast.parse(source).body
    rows = ["| name | definition | value | meaning |", "|---|---|--:|---|"]
    section = None
    for index, node in enumerate(body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        name = node.target.id
        current = None
        for lineno, title in sections.items():
            if lineno < node.lineno:
                current = title
        if current != section:
            section = current
            rows.append(f"| **{section}** | | | |")
        following = body[index + 1] if index + 1 < len(body) else None
        doc = ""
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            doc = str(following.value.value)
        value = getattr(spec.constants, name)
        shown = f"{value:,}".replace(",", "_") if isinstance(value, int) else repr(value)
        definition = ast.get_source_segment(source, node.value) or ""
        rows.append(f"| `{name}` | `{cell(definition)}` | `{shown}` | {cell(doc)} |")
    return "\n".join(rows)


# --- invariants ----------------------------------------------------------------------------------
def invariants_table() -> str:
    rows = ["| invariant (predicate) | looks at | statement |", "|---|---|---|"]
    for name in spec.invariants.INVARIANT_NAMES:
        predicate = getattr(spec.invariants, name)
        parameters = list(inspect.signature(predicate).parameters)
        looks_at = "one state" if parameters == ["state"] else "one block step: " + ", ".join(parameters)
        statement = inspect.getdoc(predicate) or ""
        statement = statement.split("\n\n")[0]
        link = f"[`{name}`][spec.invariants.{name}]"
        rows.append(f"| {link} | {looks_at} | {cell(statement)} |")
    return "\n".join(rows)


# --- the checks of a ledger function -------------------------------------------------------------
LEDGER_SOURCE = Path(spec.ledger.__file__).read_text(encoding="utf-8")
LEDGER_FUNCTIONS = {
    node.name: node for node in ast.parse(LEDGER_SOURCE).body if isinstance(node, ast.FunctionDef)
}


def result_code(node: ast.expr | None) -> ResultCode | None:
    """`R.NAME` as a ResultCode, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "R":
        return ResultCode[node.attr]
    return None


def helper_call(node: ast.expr | None) -> str | None:
    """The name of the spec.ledger function that `node` calls, if any: its checks are inlined."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in LEDGER_FUNCTIONS:
        return node.func.id
    return None


def condition(node: ast.expr) -> str:
    text = ast.unparse(node)
    return f"({text})" if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) else text


def collect_checks(statements: list[ast.stmt], when: list[str], found: list[tuple[list[str], ResultCode]]) -> None:
    """Walk statements in order; every `return R.X` under its enclosing `if`s is a check."""
    for statement in statements:
        if isinstance(statement, ast.If):
            collect_checks(statement.body, [*when, condition(statement.test)], found)
            collect_checks(statement.orelse, [*when, f"not {condition(statement.test)}"], found)
            continue
        value = statement.value if isinstance(statement, (ast.Return, ast.Assign)) else None
        helper = helper_call(value)
        if value is not None and helper is not None:
            collect_checks(LEDGER_FUNCTIONS[helper].body, [*when, f"{ast.unparse(value)}:"], found)
        elif isinstance(statement, ast.Return):
            code = result_code(statement.value)
            if code is not None and code != ResultCode.OK:
                found.append((when, code))


def checks_table(function: str) -> str:
    """The function's checks in code order. Fails the build if a code first appears after
    a code listed later in CODE_TABLE: the precedence the site documents would be false."""
    found: list[tuple[list[str], ResultCode]] = []
    collect_checks(LEDGER_FUNCTIONS[function].body, [], found)
    rows = ["| # | when | result | precedence |", "|--:|---|---|--:|"]
    seen: set[ResultCode] = set()
    for number, (when, code) in enumerate(found, start=1):
        if code not in seen and any(PRECEDENCE[code] < PRECEDENCE[earlier] for earlier in seen):
            raise ValueError(f"{function}: {code.value} is first checked after a code listed later in CODE_TABLE")
        seen.add(code)
        text = ""
        for part in when:
            if part.endswith(":"):  # entering a helper: its conditions follow
                text += f"{', ' if text else ''}in `{cell(part[:-1])}`: "
            else:
                text += f"{'' if not text or text.endswith(': ') else ', '}`{cell(part)}`"
        if not when or when[-1].endswith(":"):
            text += "otherwise"
        rows.append(f"| {number} | {text} | {code_link(code)} | {PRECEDENCE[code]} |")
    rows.append(f"| | otherwise | {code_link(ResultCode.OK)} | {PRECEDENCE[ResultCode.OK]} |")
    return "\n".join(rows)


# --- canonical encoding ----------------------------------------------------------------------------
def fields_table() -> str:
    rows = ["| type | type code | signed fields, in order |", "|---|--:|---|"]
    for tx_type, fields in SIGNED_FIELDS.items():
        listed = ", ".join(f"`{name}` {kind}" for name, kind in fields)
        rows.append(f"| `{tx_type}` | {TRANSACTION_TYPE_CODES[tx_type]} | {listed} |")
    return "\n".join(rows)


def state_codes_table() -> str:
    """Every u8 code table of the state root, one column per table."""
    tables = {
        "record kind": spec.wire.state_root.RECORD_KIND_CODES,
        "transfer status": spec.wire.state_root.TRANSFER_STATUS_CODES,
        "task status": spec.wire.state_root.TASK_STATUS_CODES,
        "settlement cause": spec.wire.state_root.SETTLEMENT_CAUSE_CODES,
    }
    codes = sorted({code for table in tables.values() for code in table.values()})
    rows = ["| code | " + " | ".join(tables) + " |", "|--:|" + "---|" * len(tables)]
    for code in codes:
        names = [next((f"`{name}`" for name, value in table.items() if value == code), "") for table in tables.values()]
        rows.append(f"| {code} | " + " | ".join(names) + " |")
    return "\n".join(rows)


# --- the byte layout of a known-answer vector --------------------------------------------------
def vector(tx_type: str) -> tuple[str, dict[str, Any]]:
    """The chain id and the case of transaction type `tx_type` (the `encoding` runner's
    `transaction` handler)."""
    entry = next(data for data in handler_data("transaction") if data["json"]["type"] == tx_type)
    return entry["chain_id"], entry


def wire_json(tx_type: str) -> str:
    return "```json\n" + json.dumps(vector(tx_type)[1]["json"], indent=2) + "\n```"


def layout_table(tx_type: str) -> str:
    """The vector's signing message, field by field; fails if the pieces do not add up."""
    chain_id, entry = vector(tx_type)
    tx = transaction_from_json(entry["json"])
    pieces = [("domain tag", "tag", repr(f"fedspec/v1/{tx_type}") + " + 0x00", domain_tag(tx_type))]
    pieces.append(("chain id", "str", repr(chain_id), encode_str(chain_id)))
    for name, kind in SIGNED_FIELDS[tx_type]:
        value = getattr(tx, name)
        pieces.append((name, kind, repr(value), encode_field(value, kind)))
    joined = b"".join(piece[3] for piece in pieces).hex()
    if joined != entry["signing_message"] or joined != signing_message(chain_id, tx).hex():
        raise ValueError(f"the {tx_type} vector disagrees with spec.wire")
    rows = ["| part | encoding | value | bytes (hex) |", "|---|---|---|---|"]
    for name, kind, value, raw in pieces:
        rows.append(f"| `{name}` | {kind} | `{cell(value)}` | `{raw.hex()}` |")
    return "\n".join(rows)


# --- consensus messages ----------------------------------------------------------------------------
def consensus_encoding_link(kind: ConsensusFieldKind) -> str:
    """A link to the kind's row in the field-encoding table (resolved by autorefs)."""
    return f"[`{kind}`][consensus-field-{kind}]"


def consensus_field_table() -> str:
    rows = ["| field kind | bytes |", "|---|---|"]
    for kind, text in CONSENSUS_FIELD_ENCODINGS.items():
        rows.append(f"| [](){{#consensus-field-{kind}}}`{kind}` | {cell(text)} |")
    return "\n".join(rows)


def consensus_layout_rows(fields: tuple[tuple[str, ConsensusFieldKind], ...]) -> list[str]:
    rows = []
    for number, (name, kind) in enumerate(fields, start=1):
        rows.append(f"| {number} | `{name}` | {consensus_encoding_link(kind)} |")
    return rows


def consensus_message_tables() -> str:
    """One table per message kind: tag, chain id, then CONSENSUS_FIELDS in order."""
    classes = {kind: cls.__name__ for cls, kind in CONSENSUS_MESSAGE_KINDS.items()}
    parts = []
    for kind, fields in CONSENSUS_FIELDS.items():
        rows = [f"#### `{kind}`", "", f"Class `spec.wire.messages.{classes[kind]}`.", ""]
        rows += ["| # | field | encoding |", "|--:|---|---|"]
        rows.append(f"| | domain tag | `{cell(repr(f'fedspec/v1/{kind}'))}` + 0x00 |")
        rows.append("| | chain id | `str` |")
        rows += consensus_layout_rows(fields)
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def consensus_certificate_tables() -> str:
    parts = []
    for cls, fields in CERTIFICATE_FIELDS.items():
        rows = [f"#### `{cls.__name__}`", "", "| # | field | encoding |", "|--:|---|---|"]
        rows += consensus_layout_rows(fields)
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def consensus_layout_table(kind: str) -> str:
    """The signing message of the kind's vector, field by field; fails if the pieces
    do not add up to the vector file or to spec.wire.message_encoding."""
    entry = next(data for data in handler_data("consensus_message") if data["kind"] == kind)
    chain_id = entry["chain_id"]
    message = next(m for m in consensus_sample_messages() if consensus_kind(m) == kind)
    pieces: list[tuple[str, str, str, bytes]] = [
        ("domain tag", "tag", repr(f"fedspec/v1/{kind}") + " + 0x00", domain_tag(kind)),
        ("chain id", "str", repr(chain_id), encode_str(chain_id)),
    ]
    for name, field_kind in CONSENSUS_FIELDS[kind]:
        value = getattr(message, name)
        pieces.append((name, field_kind, repr(value), encode_consensus_field(chain_id, value, field_kind)))
    joined = b"".join(piece[3] for piece in pieces).hex()
    if joined != entry["hex"] or joined != consensus_signing_message(chain_id, message).hex():
        raise ValueError(f"the {kind} vector disagrees with spec.wire")
    rows = ["| part | encoding | value | bytes (hex) |", "|---|---|---|---|"]
    for part, encoding, shown, raw in pieces:
        rows.append(f"| `{part}` | {encoding} | `{cell(shown)}` | `{raw.hex()}` |")
    return "\n".join(rows)


def consensus(argument: str) -> str:
    words = argument.split()
    if words == ["fields"]:
        return consensus_field_table()
    if words == ["messages"]:
        return consensus_message_tables()
    if words == ["certificates"]:
        return consensus_certificate_tables()
    if len(words) == 2 and words[0] == "layout":
        return consensus_layout_table(words[1])
    raise ValueError(f"unknown placeholder fedspec:consensus {argument}")


# --- signed envelopes -------------------------------------------------------------------------------
def envelope_refusal_table() -> str:
    rows = ["| # | refusal | meaning |", "|--:|---|---|"]
    for number, (refusal, meaning) in enumerate(ENVELOPE_REFUSALS.items(), start=1):
        rows.append(f"| {number} | `{refusal.value}` | {cell(meaning)} |")
    return "\n".join(rows)


def envelope_obligation_table(kind: str) -> str:
    """The obligations of the kind's sample message, each with the kind of vote it signs
    (read from the domain tag that starts its signing message)."""
    message = next(m for m in consensus_sample_messages() if consensus_kind(m) == kind)
    rows = ["| # | role | where | signer | signs |", "|--:|---|---|--:|---|"]
    for number, obligation in enumerate(signature_obligations("chain", message), start=1):
        tag = obligation.signing_message.split(b"\x00", 1)[0].decode("ascii")
        rows.append(f"| {number} | {obligation.role.value} | `{obligation.place}` | {obligation.signer} | `{tag.removeprefix('fedspec/v1/')}` |")
    return "\n".join(rows)


def envelope(argument: str) -> str:
    words = argument.split()
    if words == ["refusals"]:
        return envelope_refusal_table()
    if len(words) == 2 and words[0] == "obligations":
        return envelope_obligation_table(words[1])
    raise ValueError(f"unknown placeholder fedspec:envelope {argument}")
# --- decoding -------------------------------------------------------------------------------------
def enum_member_docs(path: Path, class_name: str) -> dict[str, str]:
    """The docstring under each member of an enum class, read from its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name).body
    docs = {}
    for index, node in enumerate(body[:-1]):
        following = body[index + 1]
        if isinstance(node, ast.Assign) and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            docs[node.targets[0].id] = str(following.value.value)  # type: ignore[attr-defined]
    return docs


def constant_docs() -> dict[str, str]:
    """The docstring under each constant of `spec/constants.py`."""
    body = ast.parse(Path(spec.constants.__file__).read_text(encoding="utf-8")).body
    docs = {}
    for index, node in enumerate(body[:-1]):
        following = body[index + 1]
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            docs[node.target.id] = str(following.value.value)  # type: ignore[union-attr]
    return docs


def decoding_failures_table() -> str:
    """Every DecodeFailure with its meaning and the malformed cases that show it;
    fails if a failure has no case."""
    docs = enum_member_docs(Path(spec.wire.decoding.__file__), "DecodeFailure")
    malformed = [case for case in encoding_cases() if case.handler == "malformed"]
    rows = ["| failure | meaning | malformed cases |", "|---|---|---|"]
    for failure in DecodeFailure:
        names = [f"`{case.name}`" for case in malformed if case.data["failure"] == failure.value]
        if not names or failure.name not in docs:
            raise ValueError(f"DecodeFailure.{failure.name} lacks a docstring or a malformed vector")
        shown = "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")
        rows.append(f"| [](){{#decode-{failure.value}}}`{failure.value}` | {cell(docs[failure.name])} | {cell(shown)} |")
    return "\n".join(rows)


def decoding_bounds_table() -> str:
    """The bounds of spec.constants that spec.wire.decoding imports."""
    docs = constant_docs()
    imported = ast.parse(Path(spec.wire.decoding.__file__).read_text(encoding="utf-8")).body
    names = [alias.name for node in imported if isinstance(node, ast.ImportFrom) and node.module == "spec.constants"
             for alias in node.names if alias.name.startswith("MAX_")]
    rows = ["| bound | value | what it bounds |", "|---|--:|---|"]
    for name in names:
        value = getattr(spec.constants, name)
        rows.append(f"| `{name}` | `{value:_}` | {cell(docs[name])} |")
    return "\n".join(rows)


def decoding(argument: str) -> str:
    if argument == "failures":
        return decoding_failures_table()
    if argument == "bounds":
        return decoding_bounds_table()
    raise ValueError(f"unknown placeholder fedspec:decoding {argument}")


# --- the reputation rule ---------------------------------------------------------------------------
def reputation_table() -> str:
    qualities = (0, 5_500, 7_000, 8_500, 10_000)
    rows = ["| current ↓ quality → | " + " | ".join(str(q) for q in qualities) + " |"]
    rows.append("|--:|" + "--:|" * len(qualities))
    for current in (0, 5_000, 9_000, 10_000):
        values = " | ".join(str(spec.ledger.next_reputation(current, q)) for q in qualities)
        rows.append(f"| {current} | {values} |")
    return "\n".join(rows)


# --- shipped scenarios -----------------------------------------------------------------------------
def examples_table() -> str:
    rows = ["| file | blocks | what it shows |", "|---|--:|---|"]
    for path in sorted((ROOT / "examples").glob("*.json")):
        scenario = json.loads(path.read_text(encoding="utf-8"))
        rows.append(f"| `examples/{path.name}` | {len(scenario['blocks'])} | {cell(scenario.get('description', ''))} |")
    return "\n".join(rows)


# --- command output -------------------------------------------------------------------------------
def command_output(arguments: str) -> str:
    args = shlex.split(arguments)
    if args[:1] == ["vectors"] and not {"--check", "--help"} & set(args):
        raise ValueError("fedspec:run would write files: only `vectors --check` or `--help` may run")
    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(app, args, prog_name="fedspec", terminal_width=100)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    output = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
    if "--help" in args:
        return f"```console\n$ fedspec {arguments}\n{output}\n```"
    return f"```console\n$ fedspec {arguments}\n{output}\n$ echo $?\n{result.exit_code}\n```"


# --- consensus (spec.pbft) ---------------------------------------------------------------------------
def quorum_table() -> str:
    """N = 1..13: f, the quorum, and the overlaps that make it safe. Fails the build if
    the rule ever stops giving an overlap of f + 1 or a quorum of correct replicas."""
    rows = [
        "| N | f | quorum q | min overlap 2q − N | correct N − f | 2f + 1 | min overlap of 2f + 1 |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for n in range(1, 14):
        f = spec.pbft.fault_tolerance(n)
        q = spec.pbft.quorum_size(n, f)
        overlap = max(0, 2 * q - n)
        if overlap < f + 1 or n - f < q:
            raise ValueError(f"quorum_size({n}, {f}) = {q} is not safe and live")
        naive = 2 * f + 1
        naive_overlap = max(0, 2 * naive - n)
        shown = f"{naive_overlap}" if naive_overlap >= f + 1 else f"**{naive_overlap}** (needs {f + 1})"
        rows.append(f"| {n} | {f} | {q} | {overlap} | {n - f} | {naive} | {shown} |")
    return "\n".join(rows)


MESSAGES_TREE = ast.parse(Path(spec.wire.messages.__file__).read_text(encoding="utf-8"))


def class_fields(module_tree: ast.Module, name: str) -> tuple[list[tuple[str, ast.expr]], dict[str, str], str]:
    """A class's annotated fields (name, annotation node as written), their docstrings
    and the class docstring, read from the source so that aliases (`Digest`,
    `ReplicaId`, `UInt64`) keep their names."""
    for node in module_tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            fields: list[tuple[str, ast.expr]] = []
            docs: dict[str, str] = {}
            for index, statement in enumerate(node.body):
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    if not_constructed(statement.value):
                        continue  # a cache, not part of the value
                    field_name = statement.target.id
                    fields.append((field_name, statement.annotation))
                    following = node.body[index + 1] if index + 1 < len(node.body) else None
                    if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                        docs[field_name] = str(following.value.value)
            return fields, docs, ast.get_docstring(node) or ""
    raise ValueError(f"no class {name} in the source")


def not_constructed(value: ast.expr | None) -> bool:
    """`field(..., init=False)`: a slot the constructor does not take."""
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name) or value.func.id != "field":
        return False
    for keyword in value.keywords:
        if keyword.arg == "init" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False:
            return True
    return False


def first_paragraph(text: str) -> str:
    return cell(inspect.cleandoc(text).split("\n\n")[0]) if text else ""


def pbft_classes(group: str) -> list[str]:
    if group == "messages":
        return [cls.__name__ for cls in typing.get_args(spec.wire.messages.Message)]
    if group == "inputs":
        messages = typing.get_args(spec.wire.messages.Message)
        return [cls.__name__ for cls in typing.get_args(spec.wire.messages.Input) if cls not in messages]
    if group == "certificates":
        return [n.name for n in MESSAGES_TREE.body if isinstance(n, ast.ClassDef) and n.name.endswith("Certificate")]
    raise ValueError(f"unknown placeholder fedspec:pbft {group}")


def pbft_table(group: str) -> str:
    """The messages, other inputs or certificates of spec.wire.messages: fields as declared,
    and what the class's docstring says."""
    names = pbft_classes(group)
    if group == "messages":
        rows = ["| message | class | fields | meaning |", "|---|---|---|---|"]
    else:
        rows = ["| class | fields | meaning |", "|---|---|---|"]
    for name in names:
        fields, _, doc = class_fields(MESSAGES_TREE, name)
        listed = "<br>".join(f"`{field}: {cell(ast.unparse(annotation))}`" for field, annotation in fields)
        link = f"[`{name}`][spec.wire.messages.{name}]"
        if group == "messages":
            rows.append(f"| `{CONSENSUS_MESSAGE_KINDS[getattr(spec.wire.messages, name)]}` | {link} | {listed} | {first_paragraph(doc)} |")
        else:
            rows.append(f"| {link} | {listed} | {first_paragraph(doc)} |")
    return "\n".join(rows)


def public_names(tree: ast.Module) -> list[str]:
    """Every public name a module defines at top level, in source order."""
    names: list[str] = []
    for node in tree.body:
        found: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found = [node.name]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found = [node.target.id]
        elif isinstance(node, ast.Assign):
            found = [t.id for t in node.targets if isinstance(t, ast.Name)]
        for name in found:
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names


def remaining_reference(module: str, page: str) -> str:
    """A `::: MODULE` block with every public member of MODULE that PAGE does not
    already render with its own `::: MODULE.NAME`: each appears on the page once."""
    tree = ast.parse(Path(importlib.import_module(module).__file__ or "").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    rendered = set(re.findall(rf"^::: {re.escape(module)}\.(\w+)\s*$", text, re.MULTILINE))
    unknown = rendered - set(public_names(tree))
    if unknown:
        raise ValueError(f"{page} renders {sorted(unknown)}, which {module} does not define")
    members = [name for name in public_names(tree) if name not in rendered]
    lines = [
        f"::: {module}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      show_source: true",
        "      heading_level: 4",
        '      filters: ["!^_"]',
        "      members:",
    ]
    lines += [f"        - {name}" for name in members]
    return "\n".join(lines)


# --- the model checker -----------------------------------------------------------------------------
CHECKER_CONFIG_TREE = ast.parse(Path(checker.config.__file__).read_text(encoding="utf-8"))

CONFIG_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("top level", checker.config.CheckerConfigFile),
    ("[consensus]", checker.config.ConsensusSection),
    ("[bounds]", checker.config.BoundsSection),
    ("[byzantine]", checker.config.ByzantineSection),
    ("[clocks]", checker.config.ClocksSection),
    ("[check]", checker.config.CheckSection),
    ("[[requests]]", checker.config.RequestSection),
)

CONFIG_FIELD_NOTES: dict[str, str] = {
    # Meanings for the fields checker/config.py gives no docstring. A field that gains
    # a docstring, or disappears, must leave this table: the build says so.
    "CheckerConfigFile.name": "Names the configuration in the report and the default trace file (`NAME.trace.json`).",
    "CheckerConfigFile.description": "What the configuration is for; shown in the tables of this page.",
    "CheckerConfigFile.extends": "Another configuration file, relative to this one: its tables are merged key by key under this file's, and this file wins.",
    "CheckerConfigFile.genesis": "The chain: exactly a scenario's [genesis](scenarios.md#genesis). Its platforms, in order, are the replicas 0..N-1.",
    "CheckerConfigFile.consensus": "The consensus group's parameters, below.",
    "CheckerConfigFile.bounds": "How far the search goes, below.",
    "CheckerConfigFile.byzantine": "What the faulty replicas may propose, below.",
    "CheckerConfigFile.clocks": "Where each correct replica's clock starts and how it moves, below.",
    "ClocksSection.tick_ms": "How far a replica's clock moves each time one of its timers fires (never more than MAX_CLOCK_SKEW_MS ahead of another live correct clock).",
    "ClocksSection.ticks": "How many times a clock may move: the bound keeps the space finite.",
    "CheckerConfigFile.check": "What the run checks and what it expects, below.",
    "CheckerConfigFile.requests": "The client requests, below.",
    "ConsensusSection.checkpoint_interval": "Blocks between checkpoints (the spec's `CHECKPOINT_INTERVAL` is the production value).",
    "ConsensusSection.watermark_window": "Heights a replica accepts above its stable checkpoint (the spec's `WATERMARK_WINDOW`).",
    "ConsensusSection.max_block_transactions": "Most transactions a correct primary puts in one block; a request larger than this is refused.",
    "BoundsSection.max_view": "Highest view explored: a transition that would take a replica or a message above it is not taken.",
    "BoundsSection.max_height": "Highest height explored, likewise.",
    "CheckSection.mutant": "Run broken replicas instead of the spec's (negative controls only).",
    "CheckSection.witness": "Look for a world where this happens, instead of only checking the invariants (reachability witnesses only).",
    "CheckSection.symmetry": "Merge worlds that differ only by a renaming of interchangeable replicas.",
    "RequestSection.transactions": "One transaction, or a FEDERATION_TASK followed by its ATP_TRANSFER_LOCK, written as in a [scenario](scenarios.md#transactions) (unsigned; the loader signs).",
}

TYPE_WORDS = {
    "int": "integer",
    "str": "string",
    "bool": "boolean",
    "UInt64": "integer (u64)",
    "PlatformName": "platform name",
    "ScenarioGenesis": "table",
    "scenario_transaction_union()": "transaction",
}


def toml_type(node: ast.expr) -> str:
    """A field's annotation, said in TOML words."""
    text = ast.unparse(node)
    if text in TYPE_WORDS:
        return TYPE_WORDS[text]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and ast.unparse(node.right) == "None":
        return toml_type(node.left) + " or absent"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if node.value.id == "Literal":
            return "one of " + ", ".join(f"`{json.dumps(ast.literal_eval(value))}`" for value in inner)
        if node.value.id == "tuple":
            each = toml_type(inner[0])
            return f"array, each {each}" if each.startswith("one of") else f"array of {each}s"
        if node.value.id == "dict":
            return f"table: {toml_type(inner[0])} = {toml_type(inner[1])}"
    if isinstance(node, ast.Name) and node.id.endswith("Section"):
        return "table"
    if isinstance(node, ast.Name) and typing.get_origin(getattr(checker.config, node.id, None)) is typing.Literal:
        # A named Literal alias of checker/config.py (the mutant names, say).
        values = typing.get_args(getattr(checker.config, node.id))
        return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in values)
    raise ValueError(f"docs/hooks.py: no TOML words for the annotation {text}")


def constraint_text(info: Any) -> str:
    low = high = None
    shortest = longest = None
    for item in info.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
        shortest = getattr(item, "min_length", shortest)
        longest = getattr(item, "max_length", longest)
    parts = []
    if high == 2**64 - 1:
        high = None  # the u64 range, which the type already says
    if low is not None or high is not None:
        parts.append(f"{low if low is not None else ''}..{high if high is not None else ''}")
    if shortest is not None or longest is not None:
        parts.append(f"length {shortest or 0}..{longest if longest is not None else ''}")
    return ", ".join(parts)


def default_text(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.default
    if isinstance(value, BaseModel):
        return "all defaults"
    if value is None:
        return "absent"
    if isinstance(value, tuple):
        return f"`{json.dumps(list(value))}`"
    return f"`{json.dumps(value)}`"


def config_table() -> str:
    """One table per section of a checker configuration, from its pydantic model:
    the key, its type in TOML words, bounds, default, and meaning."""
    used_notes: set[str] = set()
    parts = []
    for title, model in CONFIG_SECTIONS:
        fields, docs, _ = class_fields(CHECKER_CONFIG_TREE, model.__name__)
        rows = [f"#### {title if title == 'top level' else f'`{title}`'}", ""]
        rows += ["| key | type | allowed | default | meaning |", "|---|---|---|---|---|"]
        for name, annotation in fields:
            info = model.model_fields[name]
            key = f"{model.__name__}.{name}"
            meaning = docs.get(name)
            if meaning is not None and key in CONFIG_FIELD_NOTES:
                raise ValueError(f"docs/hooks.py: remove {key} from CONFIG_FIELD_NOTES: checker/config.py documents it now")
            if meaning is None:
                if key not in CONFIG_FIELD_NOTES:
                    raise ValueError(f"checker/config.py: {key} has no docstring and docs/hooks.py no note for it")
                meaning = CONFIG_FIELD_NOTES[key]
                used_notes.add(key)
            rows.append(
                f"| `{name}` | {toml_type(annotation)} | {constraint_text(info)} | {default_text(info)} | {cell(meaning)} |"
            )
        parts.append("\n".join(rows))
    stale = set(CONFIG_FIELD_NOTES) - used_notes
    if stale:
        raise ValueError(f"docs/hooks.py: CONFIG_FIELD_NOTES names fields the models no longer have: {sorted(stale)}")
    return "\n\n".join(parts)


def shipped_configs_table(folder: str) -> str:
    """Every configs/FOLDER/*.toml, loaded as `fedspec check` loads it."""
    paths = sorted((ROOT / "configs" / folder).glob("*.toml"))
    if not paths:
        raise ValueError(f"no configurations under configs/{folder}")
    if folder == "witnesses":
        rows = ["| file | looks for | faulty | expect | description |", "|---|---|---|---|---|"]
    else:
        rows = ["| file | breaks | faulty | quorum | expect | description |", "|---|---|---|---|---|---|"]
    for path in paths:
        config = checker.config.load_config(path)
        where = f"`configs/{folder}/{path.name}`<br>{cell(config.name)}"
        platforms = config.consensus.platforms
        faulty = ", ".join(platforms[r] for r in sorted(config.faulty)) or "none"
        description = cell(config.description)
        if folder == "witnesses":
            if config.witness is None:
                raise ValueError(f"{path}: a witness configuration needs check.witness")
            looks_for = f"`{config.witness}`: {cell(checker.invariants.WITNESS_TEXT[config.witness])}"
            rows.append(f"| {where} | {looks_for} | {faulty} | `{config.expect}` | {description} |")
        else:
            breaks = f"mutant `{config.mutant}`" if config.mutant is not None else "the configuration"
            if config.liveness:
                breaks += " (liveness checked)"
            quorum = f"{config.consensus.quorum} (`{config.quorum_rule}`) of N = {config.n}"
            rows.append(f"| {where} | {breaks} | {faulty} | {quorum} | `{config.expect}` | {description} |")
    return "\n".join(rows)


def trace_message_table() -> str:
    """The JSON form of every input in a `fedspec-trace/1` trace, from sample messages."""
    samples: list[Any] = list(consensus_sample_messages())
    block = next(m for m in samples if isinstance(m, spec.wire.messages.PrePrepare)).block
    samples.append(spec.wire.messages.ClientRequest(block.transactions[:1]))
    samples.append(spec.wire.messages.TimerFired(spec.wire.messages.Timer.VIEW_CHANGE, 0))
    rows = ["| `type` | class | keys, in order |", "|---|---|---|"]
    for sample in samples:
        data = to_json(sample)
        name = type(sample).__name__
        keys = ", ".join(f"`{key}`" for key in data if key != "type")
        rows.append(f"| `{data['type']}` | [`{name}`][spec.wire.messages.{name}] | {keys} |")
    return "\n".join(rows)


# --- JSON forms ------------------------------------------------------------------------------------------
def json_form_keys(kind: type) -> list[str]:
    """The keys of a kind's JSON form, in order, read from the class as spec.wire.json_form does."""
    if issubclass(kind, BaseModel):
        return list(kind.model_fields)
    tag = ["type"] if kind in INPUT_TAGS else []
    return tag + [field.name for field in json_fields(kind)]


def json_forms_table() -> str:
    """Every kind with a JSON form: its class, its `type` (inputs only) and its keys."""
    rows = ["| kind | `type` | keys, in order |", "|---|---|---|"]
    for kind in JSON_KINDS:
        tag = f"`{INPUT_TAGS[kind]}`" if kind in INPUT_TAGS else ""
        keys = ", ".join(f"`{key}`" for key in json_form_keys(kind))
        rows.append(f"| `{kind.__module__}.{kind.__name__}` | {tag} | {keys} |")
    return "\n".join(rows)


def json_form_example(argument: str) -> str:
    """The JSON form of a sample: a consensus vector message by kind (shown open), or
    the last receipt or the final state of replaying a shipped example (folded)."""
    what, name = argument.split()
    if what == "message":
        message = next(m for m in consensus_sample_messages() if consensus_kind(m) == name)
        return "```json\n" + json.dumps(to_json(message), indent=2) + "\n```"
    result = load_and_replay((ROOT / name).read_text(encoding="utf-8"))
    if what == "state":
        title, value = f"The final LedgerState of replaying {name}", to_json(result.final)
    elif what == "receipt":
        title, value = f"The BlockReceipt of the last block of {name}", to_json(result.blocks[-1].receipt)
    else:
        raise ValueError(f"unknown placeholder fedspec:json_form {argument}")
    body = textwrap.indent("```json\n" + json.dumps(value, indent=2) + "\n```", "    ")
    return f'??? example "{title}"\n\n{body}'


JSON_FORM_ERRORS: tuple[tuple[str, type, str, object], ...] = (
    ("a negative view", spec.wire.messages.Prepare, "view", -1),
    ("a digest in capitals", spec.wire.messages.Prepare, "digest", "AB" * 32),
    ("a key the class has not", spec.wire.messages.Prepare, "signature", "00"),
    ("a signer set out of order", spec.wire.messages.CommitCertificate, "commits", [2, 0, 1]),
)
"""Malformed forms the types page shows being refused: one field of a sample changed."""


def json_form_errors_table() -> str:
    """What `from_json` says of each malformed form of JSON_FORM_ERRORS, computed."""
    samples: dict[type, object] = {spec.wire.messages.Prepare: consensus_sample_messages()[1]}
    response = next(m for m in consensus_sample_messages() if isinstance(m, spec.wire.messages.BlockResponse))
    samples[spec.wire.messages.CommitCertificate] = response.certificate
    rows = ["| the JSON has | `JsonFormError` |", "|---|---|"]
    for case, kind, key, value in JSON_FORM_ERRORS:
        data = {**to_json(samples[kind]), key: value}
        try:
            from_json(kind, data)
        except JsonFormError as error:
            rows.append(f"| {case} | `{cell(str(error))}` |")
            continue
        raise ValueError(f"types.md: {case} was not refused")
    return "\n".join(rows)


# --- `fedspec check` runs, in a scratch directory -----------------------------------------------------
DOCS_CHECK_MAX_STATES = 20_000
"""A docs build runs only small checks: each is bounded by this many distinct states
(a count, so that the build does not depend on how busy the machine is), and a check
cut by the bound fails the build instead of showing a partial run."""

WALL_CLOCK_NOTE = "Times are not shown: they depend on the machine, and the site is the same on every machine."

CHECK_EXAMPLE_FILES: dict[str, str] = {
    "typo.toml": 'extends = "configs/n4f1.toml"\nname = "typo"\n\n[consensus]\nfaulty = ["Thorr"]\n',
    "too-far.toml": 'extends = "configs/n4f1.toml"\nname = "too-far"\n\n[bounds]\nmax_view = 100\nmax_hieght = 3\n',
}
"""Broken configurations the checker page shows being refused."""


def run_check(arguments: str, keep_trace: bool = False) -> tuple[str, int, str | None]:
    """Run `fedspec check ARGUMENTS` in a scratch directory that sees the repository's
    `configs/`: paths read as from the repository root. With `keep_trace`, the trace
    of the finding is written (`--trace`, in the scratch directory) and returned.
    Returns the output, the exit code and the trace."""
    args = ["check", *shlex.split(arguments)]
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
        for name, text in CHECK_EXAMPLE_FILES.items():
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        trace_file = Path(scratch) / "finding.trace.json"
        if keep_trace:
            args += ["--trace", str(trace_file)]
        with contextlib.chdir(scratch):
            result = CliRunner().invoke(
                app, [*args, "--max-states", str(DOCS_CHECK_MAX_STATES)], prog_name="fedspec", terminal_width=100
            )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if "cut by --max-states" in result.output or '"cut_by_max_states": true' in result.output:
            raise PluginError(
                f"fedspec check {arguments} explored more than {DOCS_CHECK_MAX_STATES} distinct states: "
                "show a smaller configuration"
            )
        trace = trace_file.read_text(encoding="utf-8") if trace_file.exists() else None
    output = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
    return output, result.exit_code, trace


def check_output(arguments: str) -> str:
    output, exit_code, _ = run_check(arguments)
    output = without_wall_clock(output)
    return f"```console\n$ fedspec check {arguments}\n{output}\n$ echo $?\n{exit_code}\n```\n\n{WALL_CLOCK_NOTE}"


TIMING_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(?m)^(speed: +).*$", r"\1…"),  # fedspec check: states/s and wall time
    (r'("(?:seconds|states_per_second)": )[0-9.e+-]+', r"\1…"),  # fedspec check --json
    (r"(│ +(?:proven|failed|unknown|refuted|vacuous)[^│]* │) +[0-9.]+ │", r"\1       … │"),  # fedspec prove table
    (r", in [0-9.]+ s$", ""),  # fedspec prove summary
)
"""Where the CLI prints wall-clock figures, and what the site shows instead."""


def without_wall_clock(output: str) -> str:
    """`output` with every wall-clock figure replaced by an ellipsis."""
    for pattern, replacement in TIMING_PATTERNS:
        output = re.sub(pattern, replacement, output, flags=re.MULTILINE)
    return output


def check_trace(arguments: str) -> str:
    _, _, trace = run_check(arguments, keep_trace=True)
    if trace is None:
        raise ValueError(f"fedspec check {arguments} wrote no trace")
    return f'??? example "The JSON trace of `fedspec check {arguments}`"\n\n    ```json\n' + textwrap.indent(
        trace.rstrip("\n"), "    "
    ) + "\n    ```"


def diagram(argument: str) -> str:
    """An inline SVG figure; the blank lines keep Markdown from touching it."""
    what, _, rest = argument.partition(" ")
    if what == "sequence" and rest:
        recorded = ROOT / "docs" / "traces" / f"{rest}.trace.json"
        if not recorded.exists():
            raise PluginError(f"fedspec:diagram sequence {rest}: no {recorded.name}: run docs/record_traces.py")
        figure = diagrams.trace_sequence(json.loads(recorded.read_text(encoding="utf-8")))
    elif what == "transfer":
        figure = diagrams.state_diagram(spec.wire.records.TRANSFER_TRANSITIONS, "The status changes of a transfer")
    elif what == "task":
        figure = diagrams.state_diagram(spec.wire.records.TASK_TRANSITIONS, "The status changes of a task")
    elif what == "parts":
        figure = diagrams.parts_picture()
    else:
        raise PluginError(f"fedspec:diagram {argument}: expected sequence CONFIG, transfer, task or parts")
    return f'\n<div class="fedspec-figure" markdown="0">{figure}</div>\n'


def check_example(name: str) -> str:
    """A broken configuration from CHECK_EXAMPLE_FILES, and what `fedspec check` says."""
    text = CHECK_EXAMPLE_FILES[name]
    return f'```toml title="{name}"\n{text.rstrip()}\n```\n\n' + check_output(name)


# --- proofs (checker.proofs) ----------------------------------------------------------------------
DOCS_PROVE_MAX_OBLIGATIONS = 150
"""A `fedspec:prove` placeholder proves at most this many obligations (a count, not a
time limit): more fails the build. (`pbft`, the largest shown, has 141.)"""


def obligations_table(proof: str) -> str:
    module = checker.proofs.proof_module(proof)
    broken = module.broken_variants()
    rows = ["| obligation | statement | fails under |", "|---|---|---|"]
    for obligation in module.obligations():
        variant = broken[obligation.name]
        rows.append(f"| `{obligation.name}` | {cell(obligation.statement)} | `{variant}` |")
    return "\n".join(rows)


def obligation_matrix(proof: str) -> str:
    """One row per invariant group, one column per case (initial state or genesis, each
    action or transition, agreement): each cell names the broken variant under which
    that obligation fails. Reads the obligation names `<proof>.<group>.<case>`."""
    module = checker.proofs.proof_module(proof)
    broken = module.broken_variants()
    groups: dict[str, dict[str, str]] = {}
    cases: list[str] = []
    for obligation in module.obligations():
        group, _, case = obligation.name.removeprefix(proof + ".").partition(".")
        groups.setdefault(group, {})[case or "-"] = broken[obligation.name]
        if case and case not in cases:
            cases.append(case)
    # One row per conjunct, its cases listed down the cell: a grid of every case
    # would be wider than the page.
    rows = ["| conjunct | case: the broken variant under which it fails |", "|---|---|"]
    for group, variants in groups.items():
        if set(variants) == {"-"}:
            continue  # a single obligation (agreement): listed below the table
        listed = [f"`{case}`: `{variants[case]}`" for case in cases if case in variants]
        rows.append(f"| `{group}` | " + "<br>".join(listed) + " |")
    singles = [f"`{proof}.{group}` fails under `{variants['-']}`" for group, variants in groups.items()
               if set(variants) == {"-"}]
    return "\n".join(rows) + ("\n\n" + "; ".join(singles) + "." if singles else "")


def pbft_model_table(what: str) -> str:
    """The PBFT proof's relations, invariant conjuncts or actions, from `checker.proofs.pbft`."""
    from checker.proofs import pbft

    if what == "relations":
        rows = ["| relation | over | meaning |", "|---|---|---|"]
        for relation in pbft.RELATIONS:
            over = ", ".join(sort.name() for sort in relation.sorts)
            rows.append(f"| `{relation.name}` | {over} | {cell(relation.meaning)} |")
    elif what == "conjuncts":
        rows = ["| conjunct | for all | statement |", "|---|---|---|"]
        for conjunct in pbft.CONJUNCTS:
            over = ", ".join(f"{name}: {sort.name()}" for name, sort in conjunct.variables)
            rows.append(f"| [`{conjunct.name}`][checker.proofs.pbft.{conjunct.name}] | {over} | "
                        f"{cell(conjunct.statement)} |")
    elif what == "actions":
        rows = ["| action | what happens | rule of `spec/pbft.py` it abstracts |", "|---|---|---|"]
        for action in pbft.ACTIONS:
            rules = "—"
            if action.rule != "-":
                rules = ", ".join(f"[`{rule.strip()}`][spec.pbft.{rule.strip()}]" for rule in action.rule.split(","))
            rows.append(f"| `{action.name}` | {cell(action.description)} | {rules} |")
    else:
        raise ValueError(f"fedspec:pbft_model {what}: expected relations, conjuncts or actions")
    return "\n".join(rows)


def ledger_model_table(what: str) -> str:
    """The ledger proof's invariant groups with their conjuncts, or its transitions."""
    from checker.proofs import ledger

    if what == "invariants":
        rows = ["| group | conjunct | kind | over |", "|---|---|---|---|"]
        for invariant in ledger.INVARIANTS:
            for conjunct in invariant.state:
                rows.append(f"| `{invariant.name}` | {cell(conjunct.text)} | state | {conjunct.kind} |")
            for step_conjunct in invariant.step:
                rows.append(f"| `{invariant.name}` | {cell(step_conjunct.text)} | step | {step_conjunct.kind} |")
    elif what == "transitions":
        rows = ["| transition | what it is |", "|---|---|"]
        for transition, text in ledger.TRANSITION_TEXT.items():
            rows.append(f"| `{transition}` | {cell(text)} |")
    else:
        raise ValueError(f"fedspec:ledger_model {what}: expected invariants or transitions")
    return "\n".join(rows)


def drift_table(what: str) -> str:
    """The drift tests' transaction types with their flaws, or the codes no reachable
    case produces, from `tests/ledger_cases.py` and `tests/test_proofs_ledger_drift.py`."""
    import sys

    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    drift = importlib.import_module("test_proofs_ledger_drift")
    cases = importlib.import_module("ledger_cases")
    if what == "flaws":
        rows = ["| transition | flaws (each tried on new and resubmitted transactions) | cases |", "|---|---|---|"]
        total = 0
        for transition, under_test in cases.UNDER_TEST.items():
            count = len(under_test.flaws) * len(under_test.resubmits) * drift.EXAMPLES_PER_FLAW
            total += count
            flaws = ", ".join(under_test.flaws)
            rows.append(f"| `{transition}` | {cell(flaws)} | {count} |")
        rows.append(f"| the expiry step | `begin_block`, `expire_one` in the spec's order, `finish_expiry` | "
                    f"{drift.EXPIRY_EXAMPLES} |")
        rows.append(f"| **all** | | **{total + drift.EXPIRY_EXAMPLES}** |")
        return "\n".join(rows)
    if what == "unreachable":
        rows = ["| transition | code | why no reachable case produces it |", "|---|---|---|"]
        for (transition, label, result), why in drift.UNREACHABLE.items():
            rows.append(f"| `{transition}` ({label}) | {code_link(result)} | {cell(why)} |")
        return "\n".join(rows)
    raise ValueError(f"fedspec:drift {what}: expected flaws or unreachable")


def variants_table() -> str:
    rows = ["| broken variant | what is broken |", "|---|---|"]
    for name, description in checker.proofs.all_variants().items():
        rows.append(f"| `{name}` | {cell(description)} |")
    return "\n".join(rows)


def prove_output(arguments: str) -> str:
    with contextlib.chdir(ROOT):
        result = CliRunner().invoke(app, ["prove", *shlex.split(arguments)], prog_name="fedspec", terminal_width=100)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    counted = re.search(r"^(\d+) obligations?:", result.stdout, flags=re.MULTILINE)
    if counted is None or int(counted.group(1)) > DOCS_PROVE_MAX_OBLIGATIONS:
        raise PluginError(f"fedspec prove {arguments}: more than {DOCS_PROVE_MAX_OBLIGATIONS} obligations, or no summary")
    # Progress lines go to stderr; the page shows the report.
    output = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
    output = without_wall_clock(output)
    return f"```console\n$ fedspec prove {arguments}\n{output}\n$ echo $?\n{result.exit_code}\n```\n\n{WALL_CLOCK_NOTE}"


Established = tuple[str, str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
ESTABLISHED: tuple[Established, ...] = (
    # (property, where it is stated, page of its proof, obligation prefixes, checker configs, tests as FILE::FUNCTION)
    ("quorum intersection in a correct replica", "[quorums](consensus.md#quorums)", "proof-quorums.md",
     ("quorums",), ("configs/controls/quorum_2f1_n5f1.toml",),
     ("tests/test_pbft.py::test_quorums_intersect_in_a_correct_replica_and_correct_replicas_form_one",
      "tests/test_proofs_quorums.py")),
    ("agreement (the proof: the normal case, view change and re-votes, as modelled; what the model leaves out is "
     "on its page, and model-checked)", "[consensus](consensus.md)", "proof-pbft.md",
     ("pbft",), ("configs/n4f1.toml", "configs/n7f2.toml", "configs/controls/view_change_drops_certificates.toml"),
     ("tests/test_pbft.py::test_after_the_view_change_every_replica_executes_the_prepared_block",
      "tests/test_checker.py", "tests/test_proofs_pbft.py")),
    ("validity (only valid blocks execute)", "[consensus](consensus.md)", "",
     (), ("configs/n4f1.toml", "configs/controls/prepare_without_validation.toml"),
     ("tests/test_pbft.py::test_a_backup_prepares_only_a_valid_block", "tests/test_checker.py")),
    ("liveness (requests execute once the network heals)", "[model checker](checker.md#liveness)", "",
     (), ("configs/n4f1_liveness.toml", "configs/controls/liveness_without_view_change.toml",
          "configs/controls/liveness_censoring_primary.toml", "configs/controls/fetch_on_checkpoint_evidence_only.toml"),
     ("tests/test_checker.py", "tests/test_liveness.py",
      "tests/test_pbft.py::test_a_replica_that_missed_a_height_between_checkpoints_catches_up")),
    ("correct replicas send only valid view changes (else they could never help one again)",
     "[checkpoints](consensus.md#checkpoints)", "",
     (), ("configs/n4f1.toml", "configs/controls/stale_prepared_certificate.toml"),
     ("tests/test_pbft.py::test_a_stable_checkpoint_that_overtakes_an_open_slot_closes_it",
      "tests/test_pbft.py::test_a_proposal_at_or_below_the_stable_checkpoint_is_not_prepared",
      "tests/test_checker.py::test_sent_valid_flags_an_invalid_view_change_of_a_correct_replica_only")),
    ("the symmetry reduction merges only alike worlds", "[model checker](checker.md#symmetry-reduction)", "",
     (), (), ("tests/test_symmetry.py",
              "tests/test_pbft.py::test_which_certificate_of_one_checkpoint_a_new_view_carries_does_not_matter")),
    ("conservation", "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.conservation",), ("configs/n4f1.toml",),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("lock accounting and non-negativity", "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.lock_accounting",), ("configs/n4f1.toml",),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("settle once (the proof: each lock leaves LOCKED once and for good; the tests: also once in the receipts)",
     "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.settle_once",), ("configs/n4f1.toml",),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("settlement correctness (threshold, deadline)", "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.settlement_correctness",), ("configs/n4f1.toml", "configs/witnesses/task_settles_by_commit.toml"),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("task locks settled only by proof or expiry", "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.task_locks_settled_by_proof_or_expiry",), ("configs/n4f1.toml",),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("no double-spend (the proof: per transition, from the state; the tests: per block, from the receipts)",
     "[invariants](invariants.md)", "proof-ledger.md",
     ("ledger.no_double_spend",), ("configs/n4f1.toml",),
     ("tests/test_stateful.py", "tests/test_negative_controls.py", "tests/test_proofs_ledger.py")),
    ("the proofs' ledger encoding is the spec's ledger", "[ledger proof](proof-ledger.md)", "",
     (), (), ("tests/test_proofs_ledger_drift.py",)),
    ("determinism (same blocks, same state root)", "[invariants](invariants.md)", "",
     (), ("configs/n4f1.toml", "configs/controls/nondeterministic_execution.toml"),
     ("tests/test_stateful.py", "tests/test_negative_controls.py")),
)
"""What is established about each property, and how. The build fails on a reference
that does not exist: an obligation prefix that selects nothing, a missing config,
test file or test function."""


def established_table() -> str:
    from checker.proofs.obligation import selected

    every = checker.proofs.all_obligations()
    rows = [
        "| property | stated in | proven for every size (z3) | model-checked (bounded) | tested by |",
        "|---|---|---|---|---|",
    ]
    for prop, stated, page, prefixes, configs, tests in ESTABLISHED:
        proven = "—"
        if prefixes:
            count = len(selected(every, list(prefixes)))
            if count == 0:
                raise ValueError(f"established: {prefixes} selects no obligation")
            names = ", ".join(f"`{prefix}.*`" for prefix in prefixes)
            proven = f"**yes**: {names} ({count} obligations, [proof]({page}))"
        for config in configs:
            if not (ROOT / config).exists():
                raise ValueError(f"established: no such config {config}")
        for test in tests:
            path, _, function = test.partition("::")
            if not (ROOT / path).exists():
                raise ValueError(f"established: no such test file {path}")
            if function and f"def {function}(" not in (ROOT / path).read_text(encoding="utf-8"):
                raise ValueError(f"established: no test {function} in {path}")
        checked = "<br>".join(f"`{config.removeprefix('configs/')}`" for config in configs) or "—"
        tested = "<br>".join(f"`{test}`" for test in tests) or "—"
        rows.append(f"| {prop} | {stated} | {proven} | {checked} | {tested} |")
    return "\n".join(rows)


# --- the hook ---------------------------------------------------------------------------------------
def render(kind: str, argument: str | None) -> str:
    if kind == "codes":
        return codes_table()
    if kind == "refusals":
        return refusals_table()
    if kind == "constants":
        return constants_table()
    if kind == "invariants":
        return invariants_table()
    if kind == "checks" and argument:
        return checks_table(argument)
    if kind == "fields":
        return fields_table()
    if kind == "wire" and argument:
        return wire_json(argument)
    if kind == "layout" and argument:
        return layout_table(argument)
    if kind == "consensus" and argument:
        return consensus(argument)
    if kind == "state_codes":
        return state_codes_table()
    if kind == "envelope" and argument:
        return envelope(argument)
    if kind == "decoding" and argument:
        return decoding(argument)
    if kind == "reputation":
        return reputation_table()
    if kind == "examples":
        return examples_table()
    if kind == "run" and argument:
        return command_output(argument)
    if kind == "quorums":
        return quorum_table()
    if kind == "pbft" and argument:
        return pbft_table(argument)
    if kind == "members" and argument and len(argument.split()) == 2:
        module, page = argument.split()
        return remaining_reference(module, page)
    if kind == "checker_config":
        return config_table()
    if kind == "configs" and argument:
        return shipped_configs_table(argument)
    if kind == "trace_messages":
        return trace_message_table()
    if kind == "json_forms":
        return json_forms_table()
    if kind == "json_form" and argument:
        return json_form_example(argument)
    if kind == "json_form_errors":
        return json_form_errors_table()
    if kind == "check" and argument:
        return check_output(argument)
    if kind == "check_trace" and argument:
        return check_trace(argument)
    if kind == "check_example" and argument:
        return check_example(argument)
    if kind == "obligations" and argument:
        return obligations_table(argument)
    if kind == "prove" and argument is not None:
        return prove_output(argument)
    if kind == "prove_variant" and argument:
        return prove_output(f"--variant {argument}")
    if kind == "obligation_matrix" and argument:
        return obligation_matrix(argument)
    if kind == "pbft_model" and argument:
        return pbft_model_table(argument)
    if kind == "ledger_model" and argument:
        return ledger_model_table(argument)
    if kind == "drift" and argument:
        return drift_table(argument)
    if kind == "variants":
        return variants_table()
    if kind == "established":
        return established_table()
    if kind == "diagram" and argument:
        return diagram(argument)
    if kind == "conformance" and argument:
        return conformance_table(argument)
    if kind == "openapi":
        return openapi_table()
    if kind == "docstring" and argument:
        return module_docstring(argument)
    if kind == "case" and argument:
        return case_example(argument)
    raise ValueError(f"unknown placeholder fedspec:{kind} {argument or ''}")


# --- the conformance suite -----------------------------------------------------------------------
def conformance_table(what: str) -> str:
    """`cases`: the committed cases, counted per runner and handler; `kills`: the cases
    that kill each mutant node (`conformance/mutant_kills.json`); `errors`: the adapter
    protocol's error codes; `mutants`: each mutant node and its bug; `scope`: the
    exhaustive N = 4 schedule scope."""
    from conformance.cases import VECTORS_ROOT, load_cases
    from conformance.generate import KILLS_FILE
    from conformance.mutants import MUTANT_NODES
    from conformance.protocol import DEFINITE_ERRORS, ErrorCode

    if what == "cases":
        counts: dict[tuple[str, str], int] = {}
        for case in load_cases(VECTORS_ROOT):
            counts[(case.runner, case.handler)] = counts.get((case.runner, case.handler), 0) + 1
        rows = ["| runner | handler | cases |", "|---|---|--:|"]
        rows += [f"| `{runner}` | `{handler}` | {count} |" for (runner, handler), count in sorted(counts.items())]
        rows.append(f"| **all** | | **{sum(counts.values())}** |")
        return "\n".join(rows)
    if what == "kills":
        table = json.loads(KILLS_FILE.read_text(encoding="utf-8"))
        rows = ["| mutant node | its bug | killed by (cases per runner) | first killing cases |", "|---|---|---|---|"]
        for name, entry in table.items():
            counts_text = ", ".join(f"{runner}: {kills['count']}" for runner, kills in entry["killed_by"].items())
            first = "<br>".join(f"`{case_id}`" for kills in entry["killed_by"].values() for case_id in kills["first"][:2])
            rows.append(f"| `{name}` | {cell(entry['description'])} | {counts_text or '**none**'} | {first} |")
        return "\n".join(rows)
    if what == "errors":
        rows = ["| code | name | definite | meaning |", "|--:|---|---|---|"]
        for code in ErrorCode:
            definite = "yes" if code in DEFINITE_ERRORS else "no"
            rows.append(f"| {int(code)} | `{code.name.lower()}` | {definite} | {cell(code_doc(ErrorCode, code.name))} |")
        return "\n".join(rows)
    if what == "scope":
        from conformance.schedules import scope_description

        rows = ["| the N = 4 scope | |", "|---|--:|"]
        rows += [f"| `{key}` | {cell(str(value))} |" for key, value in scope_description().items()]
        return "\n".join(rows)
    if what == "mutants":
        rows = ["| `--mutant` | the bug |", "|---|---|"]
        rows += [f"| `{name}` | {cell(mutant.description)} |" for name, mutant in MUTANT_NODES.items()]
        return "\n".join(rows)
    raise ValueError(f"unknown placeholder fedspec:conformance {what}")


OPENAPI_FILE = "node/openapi.json"
"""Where the site publishes the node's OpenAPI schema (written by `on_post_build`)."""


def openapi_table() -> str:
    """The node's HTTP API, one row per operation, from its OpenAPI schema."""
    from reference.node.api import openapi_schema

    rows = ["| method | path | what | statuses |", "|---|---|---|---|"]
    for path, operations in openapi_schema()["paths"].items():
        for method, operation in operations.items():
            statuses = ", ".join(sorted(operation.get("responses", {})))
            rows.append(f"| {method.upper()} | `{path}` | {cell(operation.get('summary', ''))} | {statuses} |")
    return "\n".join(rows)


def on_post_build(config: Any, **kwargs: object) -> None:
    """Publish the node's OpenAPI schema beside its page, generated from the API itself."""
    from reference.node.api import openapi_schema

    target = Path(config["site_dir"]) / OPENAPI_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(openapi_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def module_docstring(module_name: str) -> str:
    """A module's docstring, below its first paragraph (the page says that in its own
    words): the format a runner's module defines, written once, in the source."""
    module = importlib.import_module(module_name)
    text = inspect.cleandoc(module.__doc__ or "")
    if not text:
        raise ValueError(f"{module_name} has no docstring")
    return text.split("\n\n", 1)[1] if "\n\n" in text else text


def case_example(argument: str) -> str:
    """`ID`: a committed case as a node builder would open it, its manifest and
    case.json, long hex strings shortened; `ID whole`: its case.json alone, every
    byte shown (for the encoding pages, where the bytes are the point)."""
    from conformance.cases import CASE_FILE, MANIFEST_FILE, VECTORS_ROOT

    case_id, _, flag = argument.partition(" ")
    directory = VECTORS_ROOT / case_id
    if not (directory / MANIFEST_FILE).exists():
        raise ValueError(f"fedspec:case {case_id}: no such case under conformance/vectors/")
    if flag == "whole":
        return "```json\n" + (directory / CASE_FILE).read_text(encoding="utf-8") + "```"
    parts = []
    for name in (MANIFEST_FILE, CASE_FILE):
        text = (directory / name).read_text(encoding="utf-8")
        text = re.sub(r'"([0-9a-f]{24})[0-9a-f]{16,}([0-9a-f]{8})"', r'"\1…\2"', text)
        parts.append(f"`{case_id}/{name}`\n\n```json\n{text.rstrip()}\n```")
    return "\n\n".join(parts)


def code_doc(enum: type, member: str) -> str:
    """The docstring written under an enumeration member in its source."""
    tree = ast.parse(Path(sys.modules[enum.__module__].__file__ or "").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == enum.__name__:
            for before, after in zip(node.body, node.body[1:], strict=False):
                targets = before.targets if isinstance(before, ast.Assign) else []
                if any(isinstance(target, ast.Name) and target.id == member for target in targets):
                    if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                        return str(after.value.value)
    return ""


INLINE_CODE_IN_CELL = re.compile(r"(<t[dh][^>]*>)(.*?)(</t[dh]>)", re.DOTALL)
IDENTIFIER_BREAK = re.compile(r"(<code>)([^<]*)(</code>)")


def with_break_opportunities(code: str) -> str:
    """Where inline code may wrap: after an underscore, a dot or a slash, and every 16
    digits of a long hex string (a hash is not a word)."""
    code = re.sub(r"([0-9a-f]{16})(?=[0-9a-f])", r"\1<wbr>", code)
    return re.sub(r"([_./])", r"\1<wbr>", code)


def breakable_identifiers(cell: str) -> str:
    """Inline code in a table cell breaks only where `with_break_opportunities` allows
    (the stylesheet forbids breaks inside words): `block_height_mismatch` wraps as
    `block_height_` / `mismatch`, never as `block_height_misma` / `tch`."""
    return IDENTIFIER_BREAK.sub(
        lambda match: match.group(1) + with_break_opportunities(match.group(2)) + match.group(3), cell
    )


def on_page_content(html: str, **kwargs: object) -> str:
    return INLINE_CODE_IN_CELL.sub(
        lambda match: match.group(1) + breakable_identifiers(match.group(2)) + match.group(3), html
    )


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    return PLACEHOLDER.sub(lambda match: render(match.group(1), match.group(2)), markdown)
