"""The campaign CLI: --help, bad input refused before anything is submitted or written, store checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gcs_hpc.campaign.__main__ import EXIT_BAD_INPUT, main

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "models" / "tiny.yaml"


def test_help_lists_every_option():
    proc = subprocess.run([sys.executable, "-m", "gcs_hpc.campaign", "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0
    for option in ("--n-models", "--config", "--cluster", "--store", "--workers", "--resume", "--no-resume",
                   "--max-failures", "--seed", "--preset", "--backend", "slurm-gpu"):
        assert option in proc.stdout, option


@pytest.mark.parametrize("argv, message", [
    (["--n-models", "0"], r"--n-models = 0 is out of range; allowed range \[1, "),
    (["--n-models", "4", "--preset", "huge"], r"preset = 'huge' is not allowed; allowed values: 'tiny'"),
    (["--n-models", "4", "--workers", "0"], r"--workers = 0 is out of range"),
    (["--n-models", "4", "--max-failures", "0"], r"--max-failures = 0 is out of range"),
    (["--n-models", "4", "--cluster", "pbs"], r"--cluster = 'pbs' is neither a named cluster nor a YAML"),
    (["--n-models", "4", "--backend", "cuda"], r"backend = 'cuda' on a local cluster needs CuPy"),
    (["--n-models", "4", "--config", "missing.yaml"], r"config file 'missing.yaml' does not exist"),
    (["--n-models", "4", "--seed", "-3"], r"seed = -3 is out of range"),
    ([], r"n_models is not set: give --n-models N"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch, argv, message):
    import re

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "s.zarr"
    status = main([*argv, "--store", str(store)])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT
    assert re.search(message, err), err
    assert not store.exists() and not (tmp_path / "gcs_campaign.zarr").exists()


def test_bad_config_file_is_refused_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: tiny\nsuites:\n  disk: {fraction: 1.0, f_rot: [0.0, 1.5]}\n")
    status = main(["--n-models", "2", "--config", str(bad), "--store", str(tmp_path / "s.zarr")])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT
    assert "bad.yaml" in err and "suites.disk.f_rot" in err and "allowed range [0.0, 1.0]" in err
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("option", ["--config", "--cluster"])
@pytest.mark.parametrize("content, message", [
    (b"", r"config file '.*bad\.yaml' is empty \(no keys\); allowed: a mapping of settings"),
    (b"# to be written\n", r"config file '.*bad\.yaml' is empty"),
    (b"seed: 1\npreset: tiny\nseed: 2\n", r"bad\.yaml'.*duplicate key 'seed' on line 3 \(first given on line 1\)"),
    (b"\xff\xfe\x00s\x00e\x00e\x00d", r"config file '.*bad\.yaml' is not UTF-8 text \(byte 0xff at offset 0\)"),
])
def test_empty_duplicate_or_binary_config_files_are_refused(tmp_path, capsys, option, content, message):
    """Every config (models, cluster; experiments too) is read by gcs_hpc.config.load_yaml: an empty file is
    never the silent default, a key given twice is refused, a binary file is a clear error."""
    import re

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    store = tmp_path / "s.zarr"
    status = main(["--n-models", "2", option, str(bad), "--store", str(store), "--dry-run"])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT and re.search(message, err), err
    assert "Traceback" not in err and not store.exists()


def test_yaml_1_2_floats_are_numbers_in_a_config(tmp_path, capsys):
    config = tmp_path / "floats.yaml"
    text = TINY.read_text().replace("suites:\n  disk: {fraction: 0.5}",
                                    "suites:\n  disk: {fraction: 0.5, M_halo: [1e11, 5e12]}")
    assert "1e11" in text
    config.write_text(text)
    status = main(["--n-models", "4", "--config", str(config), "--store", str(tmp_path / "s.zarr"),
                   "--dry-run"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "100000000000.0" in out and "5000000000000.0" in out


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    status = main(["--n-models", "5", "--config", str(TINY), "--store", str(tmp_path / "s.zarr"),
                   "--dry-run"])
    out = capsys.readouterr().out
    assert status == 0 and "n_models: 5" in out and "dry run" in out
    assert not (tmp_path / "s.zarr").exists()


def test_store_of_another_config_is_refused_and_left_as_it_was(tmp_path, capsys):
    from gcs_hpc.campaign.config import load_campaign_config
    from gcs_hpc.campaign.plan import plan_campaign
    from gcs_hpc.store import create_store, model_status

    store = tmp_path / "s.zarr"
    plan = plan_campaign(load_campaign_config(TINY), 3)
    create_store(store, plan.models, plan.map_spec, plan.config_yaml)
    before = sorted((p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file())
    for argv in (["--n-models", "3", "--config", str(TINY), "--seed", "99"],   # other seed
                 ["--n-models", "4", "--config", str(TINY)]):                  # other size
        assert main([*argv, "--store", str(store)]) == EXIT_BAD_INPUT
        assert "error:" in capsys.readouterr().err
    assert main(["--n-models", "3", "--config", str(TINY), "--store", str(store), "--no-resume"]) == 2
    assert "--no-resume" in capsys.readouterr().err
    assert main(["--n-models", "3", "--config", str(TINY), "--store", str(tmp_path / "new.zarr"),
                 "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    after = sorted((p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file())
    assert after == before
    assert list(model_status(store)) == ["pending"] * 3
