"""`fedspec conformance generate --check` finds every way the committed files can
drift from the spec: a changed file, a missing one, and one the spec no longer
generates. (That the committed files are current is tests/test_cli.py's
`test_conformance_generate_check_passes`.)"""

from pathlib import Path

import pytest

import conformance.generate as generate
from conformance.cases import Case, case_files


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[Path, str]:
    """A generated tree of two cases and a schema, written under tmp_path."""
    vectors, schemas = tmp_path / "vectors", tmp_path / "schemas"
    monkeypatch.setattr(generate, "VECTORS_ROOT", vectors)
    monkeypatch.setattr(generate, "SCHEMAS_DIR", schemas)
    cases = [Case("ledger", "flows", f"sample-{number}", "a sample", {"number": number}) for number in (1, 2)]
    files = {vectors / path: text for path, text in case_files(cases).items()}
    files[schemas / "x.schema.json"] = "{}\n"
    monkeypatch.setattr(generate, "generated_files", lambda: dict(files))
    generate.write_all()
    return files


def test_a_fresh_tree_is_up_to_date(tree: dict[Path, str]) -> None:
    assert generate.stale_files() == []


def test_control_a_changed_file_is_stale(tree: dict[Path, str]) -> None:
    path = next(path for path in tree if path.name == "case.json")
    path.write_text('{"number": 3}\n', encoding="utf-8")
    assert generate.stale_files() == [path]


def test_control_a_missing_file_is_stale(tree: dict[Path, str]) -> None:
    path = next(path for path in tree if path.name == "manifest.json")
    path.unlink()
    assert generate.stale_files() == [path]


def test_control_a_file_no_longer_generated_is_stale_and_writing_removes_it(tree: dict[Path, str]) -> None:
    orphan = generate.VECTORS_ROOT / "ledger" / "flows" / "gone" / "case.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}\n", encoding="utf-8")
    assert generate.stale_files() == [orphan]
    generate.write_all()
    assert not orphan.exists() and generate.stale_files() == []


def test_writing_twice_writes_the_same_bytes(tree: dict[Path, str]) -> None:
    before = {path: path.read_bytes() for path in tree}
    generate.write_all()
    assert {path: path.read_bytes() for path in tree} == before
