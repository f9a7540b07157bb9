"""Record the traces the site draws: `python3 docs/record_traces.py`.

Runs `fedspec check` on every shipped witness and negative control and writes each
trace to `docs/traces/NAME.trace.json`, and in the ITF format of Apalache and Quint
(`checker.itf`) to `docs/traces/NAME.itf.json`. The site draws its sequence diagrams from
these files, so a build does not run half a million states of model checking; and
`tests/test_site_traces.py` replays every file through the current spec, so a
trace the spec no longer produces fails the tests (then run this again).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "docs" / "traces"
TRACED_FOLDERS = ("witnesses", "controls")


def traced_configs() -> list[Path]:
    """Every configuration whose trace the site shows."""
    configs: list[Path] = []
    for folder in TRACED_FOLDERS:
        configs.extend(sorted((ROOT / "configs" / folder).glob("*.toml")))
    return configs


def trace_path(config: Path) -> Path:
    return TRACES / f"{config.stem}.trace.json"


def itf_path(config: Path) -> Path:
    return TRACES / f"{config.stem}.itf.json"


def record(config: Path) -> None:
    command = [
        sys.executable, "-m", "fedspec", "check", str(config), "--trace", str(trace_path(config)),
        "--itf", str(itf_path(config)),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if not trace_path(config).exists():
        raise SystemExit(f"{config.name}: no trace written (exit {result.returncode})\n{result.stdout}{result.stderr}")
    print(f"{trace_path(config).relative_to(ROOT)}: {result.stdout.splitlines()[-3].strip()}")


def main() -> None:
    TRACES.mkdir(exist_ok=True)
    for config in traced_configs():
        record(config)


if __name__ == "__main__":
    main()
