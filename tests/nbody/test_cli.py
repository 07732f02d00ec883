"""The command line runs a real (tiny) model and prints its statistics as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gcs_hpc.nbody", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_cli_runs_a_tiny_disk_and_prints_json():
    proc = run_cli("--kind", "disk", "--preset", "tiny", "--seed", "2", "--t-end", "0.2", "--backend", "tree",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["backend"] == "tree" and report["N"] > 2000 and report["steps"] > 0
    assert 0.0 <= report["max_rel_energy_error"] < 0.05
    assert len(report["final_centre_kpc"]) == 3 and report["t_end"] == 0.2


def test_cli_rejects_a_bad_backend_with_the_allowed_names():
    proc = run_cli("--kind", "disk", "--preset", "tiny", "--t-end", "0.1", "--backend", "nope")
    assert proc.returncode == 1
    assert "backend" in proc.stderr and "'tree'" in proc.stderr
