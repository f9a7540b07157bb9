"""The layer contracts of `pyproject.toml` (import-linter), with negative controls.

`lint-imports` runs in CI on the project itself; here it also runs on a copy of the
project with one forbidden import planted, and must report that contract broken."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("spec", "checker", "conformance", "fedspec", "reference")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the project at `root` (its packages first on the path)."""
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]
    environment = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, check=False, timeout=300)


def project_copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "vectors"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_project_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("spec/wire/types.py", "import spec.ledger", "The wire layer imports no logic"),
        ("spec/wire/encoding.py", "from spec import pbft", "The wire layer imports no logic"),
        ("spec/wire/json_form.py", "import spec.scenario", "The wire layer imports no logic"),
        ("spec/ledger.py", "import checker.model", "The spec stands on nothing built on it"),
        ("reference/__init__.py", "import spec.pbft", "The reference node is written again"),
        ("reference/ledger.py", "import conformance.protocol", "The reference node is written again"),
        ("conformance/protocol.py", "import conformance.suite", "The adapter protocol and its shared glue"),
        ("conformance/adapter_base.py", "import spec.ledger", "The adapter protocol and its shared glue"),
    ],
)
def test_a_planted_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, planted: str, contract: str) -> None:
    root = project_copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{planted}  # planted by the negative control\n")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
