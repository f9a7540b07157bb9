"""The soak script as CI runs it: a few kill -9 / restart cycles under load (the primary among the
replicas killed), every batch acknowledged and the audit clean. The script stops every process it
started by its pid, and exits 1 on any failure or audit problem (its negative controls are the
audit's, in test_cluster_faults)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI_CYCLES = 3
SCRIPT_SECONDS = 120.0
"""A hang guard for the whole script."""


def test_soak_cycles_are_clean(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--cycles", str(CI_CYCLES),
                             "--dir", str(tmp_path / "soak")], capture_output=True, text=True, env=environment,
                            timeout=SCRIPT_SECONDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"soak: {CI_CYCLES} kill -9 / restart cycles on 4 replicas" in result.stdout
    assert f"{CI_CYCLES * 20} transactions submitted, {CI_CYCLES * 20} acknowledged as committed" in result.stdout
    assert "audit clean" in result.stdout and result.stdout.rstrip().endswith("soak clean")
    assert not list((tmp_path / "soak").glob("*.pid"))  # every process stopped, its pid file removed
