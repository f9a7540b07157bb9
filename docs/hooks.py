"""MkDocs hook: replace `<!-- fedspec:... -->` placeholders with tables generated from the source.

Every table below is computed from the specification on each build, so the site
cannot drift from the code. The hook only rewrites page markdown in memory; it
writes no files.

Placeholders (each alone on its line):

* `<!-- fedspec:codes -->`: `spec.codes.CODE_TABLE`, in precedence order.
* `<!-- fedspec:constants -->`: every constant of `spec/constants.py`.
* `<!-- fedspec:invariants -->`: `spec.invariants.INVARIANT_NAMES` and their predicates.
* `<!-- fedspec:checks FUNCTION -->`: the checks of `spec.ledger.FUNCTION`, in the
  order the code makes them, read from its syntax tree.
* `<!-- fedspec:fields -->`: each transaction type's code and signed fields, in order.
* `<!-- fedspec:wire TYPE -->`: the JSON form of the known-answer vector of transaction TYPE.
* `<!-- fedspec:layout TYPE -->`: the signing message of that vector, split into its fields.
* `<!-- fedspec:reputation -->`: `next_reputation` applied to sample inputs.
* `<!-- fedspec:examples -->`: the shipped scenarios with their descriptions.
* `<!-- fedspec:run ARGS -->`: the output and exit code of `fedspec ARGS`.
"""

import ast
import contextlib
import inspect
import json
import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from typer.testing import CliRunner

import spec.constants
import spec.invariants
import spec.ledger
from fedspec.cli import app
from spec.codes import CODE_TABLE, PRECEDENCE, ResultCode
from spec.encoding import (
    SIGNED_FIELDS,
    TRANSACTION_TYPE_CODES,
    domain_tag,
    encode_field,
    encode_str,
    signing_message,
)
from spec.types import Transaction

ROOT = Path(__file__).resolve().parent.parent
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


# --- the byte layout of a known-answer vector --------------------------------------------------
def vector(tx_type: str) -> tuple[str, dict[str, Any]]:
    """The vectors' chain id and the vector entry of transaction type `tx_type`."""
    vectors = json.loads((ROOT / "conformance/vectors/canonical_encoding.json").read_text(encoding="utf-8"))
    return vectors["chain_id"], next(v for v in vectors["transactions"] if v["type"] == tx_type)


def wire_json(tx_type: str) -> str:
    return "```json\n" + json.dumps(vector(tx_type)[1]["json"], indent=2) + "\n```"


def layout_table(tx_type: str) -> str:
    """The vector's signing message, field by field; fails if the pieces do not add up."""
    chain_id, entry = vector(tx_type)
    tx = TypeAdapter(Transaction).validate_python(entry["json"])
    pieces = [("domain tag", "tag", repr(f"fedspec/v1/{tx_type}") + " + 0x00", domain_tag(tx_type))]
    pieces.append(("chain id", "str", repr(chain_id), encode_str(chain_id)))
    for name, kind in SIGNED_FIELDS[tx_type]:
        value = getattr(tx, name)
        pieces.append((name, kind, repr(value), encode_field(value, kind)))
    joined = b"".join(piece[3] for piece in pieces).hex()
    if joined != entry["signing_message"] or joined != signing_message(chain_id, tx).hex():
        raise ValueError(f"the {tx_type} vector disagrees with spec.encoding: run `fedspec vectors`")
    rows = ["| part | encoding | value | bytes (hex) |", "|---|---|---|---|"]
    for name, kind, value, raw in pieces:
        rows.append(f"| `{name}` | {kind} | `{cell(value)}` | `{raw.hex()}` |")
    return "\n".join(rows)


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


# --- the hook ---------------------------------------------------------------------------------------
def render(kind: str, argument: str | None) -> str:
    if kind == "codes":
        return codes_table()
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
    if kind == "reputation":
        return reputation_table()
    if kind == "examples":
        return examples_table()
    if kind == "run" and argument:
        return command_output(argument)
    raise ValueError(f"unknown placeholder fedspec:{kind} {argument or ''}")


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    return PLACEHOLDER.sub(lambda match: render(match.group(1), match.group(2)), markdown)
