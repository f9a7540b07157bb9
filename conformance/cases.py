"""Conformance cases on disk: `conformance/vectors/<runner>/<handler>/<case>/`.

Each case directory holds two files:

* `manifest.json`: the format, the case's id (`runner/handler/case`, repeated so
  that a case moved elsewhere keeps its identity), its runner, handler and name, a
  one-line description and the spec version that generated it;
* `case.json`: what the runner feeds the node and what it must answer, in the
  runner's format (docs/conformance/).

`index.json` at the root lists every case id by runner. Every file is JSON with
sorted keys, two-space indents and a final newline, and bytes are lowercase hex,
so that generating twice writes the same bytes.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.protocol import VECTOR_FORMAT
from spec.constants import SPEC_VERSION

VECTORS_ROOT = Path(__file__).resolve().parent / "vectors"
INDEX_FILE = "index.json"
MANIFEST_FILE = "manifest.json"
CASE_FILE = "case.json"

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,119}$")
"""Runner, handler and case names: safe as directory names on every system."""


class CaseError(ValueError):
    """A case on disk that cannot be read: its path and what is wrong."""


@dataclass(frozen=True)
class Case:
    runner: str
    handler: str
    name: str
    description: str
    data: dict[str, Any]
    """The content of `case.json`."""

    @property
    def id(self) -> str:
        return f"{self.runner}/{self.handler}/{self.name}"

    def manifest(self) -> dict[str, Any]:
        return {
            "format": VECTOR_FORMAT, "id": self.id, "runner": self.runner, "handler": self.handler,
            "case": self.name, "description": self.description, "spec_version": SPEC_VERSION,
        }


def render(data: Any) -> str:
    """The one text form of every file the suite writes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def require_name(name: str, what: str) -> None:
    if NAME_PATTERN.match(name) is None:
        raise CaseError(f"{what} {name!r} is not a valid case name ({NAME_PATTERN.pattern})")


def case_files(cases: list[Case]) -> dict[Path, str]:
    """Every file of these cases and the index, relative to the vectors root."""
    files: dict[Path, str] = {}
    index: dict[str, list[str]] = {}
    for case in cases:
        for part, what in ((case.runner, "runner"), (case.handler, "handler"), (case.name, "case")):
            require_name(part, what)
        directory = Path(case.runner) / case.handler / case.name
        if directory / MANIFEST_FILE in files:
            raise CaseError(f"two cases have the id {case.id}")
        files[directory / MANIFEST_FILE] = render(case.manifest())
        files[directory / CASE_FILE] = render(case.data)
        index.setdefault(case.runner, []).append(case.id)
    files[Path(INDEX_FILE)] = render({
        "format": VECTOR_FORMAT, "spec_version": SPEC_VERSION,
        "runners": {runner: sorted(ids) for runner, ids in sorted(index.items())},
    })
    return files


def read_case_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CaseError(f"{path}: {error}") from None


def load_case(directory: Path) -> Case:
    """The case in `directory`; its identity is its manifest's, wherever it lies."""
    manifest = read_case_file(directory / MANIFEST_FILE)
    if not isinstance(manifest, dict) or manifest.get("format") != VECTOR_FORMAT:
        raise CaseError(f"{directory / MANIFEST_FILE}: not a {VECTOR_FORMAT} manifest")
    data = read_case_file(directory / CASE_FILE)
    if not isinstance(data, dict):
        raise CaseError(f"{directory / CASE_FILE}: a case is a JSON object")
    try:
        return Case(manifest["runner"], manifest["handler"], manifest["case"], manifest["description"], data)
    except KeyError as missing:
        raise CaseError(f"{directory / MANIFEST_FILE}: no {missing}") from None


def load_cases(root: Path = VECTORS_ROOT) -> list[Case]:
    """Every case under `root` (any depth), in id order."""
    cases = [load_case(manifest.parent) for manifest in sorted(root.rglob(MANIFEST_FILE))]
    return sorted(cases, key=lambda case: case.id)
