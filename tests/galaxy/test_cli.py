"""The galaxy CLI: JSON summary on success, exit status 2 and a clear message on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gcs_hpc.config import spec_from_mapping
from gcs_hpc.errors import ConfigError
from gcs_hpc.galaxy.__main__ import main
from gcs_hpc.specs import PRESETS, GalaxySpec, ModelSpec

REPO = Path(__file__).resolve().parents[2]


def test_cli_disk_json_subprocess():
    proc = subprocess.run([sys.executable, "-m", "gcs_hpc.galaxy", "--kind", "disk", "--preset", "tiny",
                           "--seed", "3", "--f-rot", "0.4", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["spec"]["kind"] == "disk" and out["spec"]["seed"] == 3
    assert out["counts"] == {"halo": 1500, "disk": 500, "bulge": 85, "gc": 200}
    g = out["galaxies"][0]
    assert g["gcs_f_rot_measured"] == pytest.approx(0.4, abs=0.01)
    assert g["disk_size_kpc"] == pytest.approx(17.5)
    assert g["enclosed_mass"]["model_msun"][-1] == pytest.approx(out["M_total_msun"])
    assert 0.9 < out["virial_ratio"] < 1.1
    assert 0.0 < g["gcs_half_number_radius_kpc"]["measured"] < 52.5


def test_cli_merger_json(capsys):
    assert main(["--kind", "merger", "--preset", "tiny", "--m2", "0.5", "--theta-2", "90", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["galaxies"]) == 2
    assert out["counts"]["gc"] == 300
    assert out["M_total_msun"] == pytest.approx(1.5 * GalaxySpec().M_total)


@pytest.mark.parametrize("argv, words", [
    (["--f-rot", "1.5"], ["galaxy.f_rot", "1.5", "[0.0, 1.0]"]),
    (["--M-halo=-1e12"], ["galaxy.M_halo", "-1000000000000.0",
                          "allowed range [1000000000.0, 100000000000000.0]"]),
    (["--n-gc", "0"], ["galaxy.n_gc", "0", "[1, 1000000]"]),
    (["--n-gc", "many"], ["galaxy.n_gc", "'many'", "integer"]),
    (["--kind", "spiral"], ["model.kind", "'spiral'", "'disk', 'merger'"]),
    (["--preset", "huge"], ["preset", "'huge'", "'tiny', 'quick', 'paper'"]),
    (["--kind", "merger", "--m2", "2"], ["merger.m2", "2", "(0.0, 1.0]"]),
    (["--m2", "0.5"], ["merger options", "--kind merger"]),
])
def test_cli_bad_values_exit_2(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    for w in words:
        assert w in err


def test_cli_bad_value_subprocess_exit_code():
    proc = subprocess.run([sys.executable, "-m", "gcs_hpc.galaxy", "--f-rot", "-0.1"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert "galaxy.f_rot = -0.1 is out of range; allowed range [0.0, 1.0]" in proc.stderr


def test_cli_config_file(tmp_path, capsys):
    cfg = tmp_path / "g.yaml"
    cfg.write_text("galaxy:\n  f_rot: 0.2\n  n_gc: 50\n  colour: red\n")
    assert main(["--config", str(cfg), "--preset", "tiny"]) == 2
    assert "galaxy.colour" in capsys.readouterr().err
    cfg.write_text("galaxy:\n  f_rot: 0.2\n  n_gc: 50\n")
    assert main(["--config", str(cfg), "--preset", "tiny", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["gc"] == 50


@pytest.mark.parametrize("galaxy, words", [
    ({"M_halo": -1.0e12}, ["galaxy.M_halo", "-1000000000000.0", "[1000000000.0, 100000000000000.0]"]),
    ({"f_rot": 1.2}, ["galaxy.f_rot", "1.2", "[0.0, 1.0]"]),
    ({"n_gc": 0}, ["galaxy.n_gc", "0", "[1, 1000000]"]),
    ({"spin": 1}, ["galaxy.spin", "allowed keys", "f_rot"]),
    ({"f_b": "big"}, ["galaxy.f_b", "'big'", "number"]),
    ({"n_gc": 2.5}, ["galaxy.n_gc", "2.5", "integer"]),
])
def test_spec_from_mapping_errors_name_key_value_range(galaxy, words):
    with pytest.raises(ConfigError) as info:
        spec_from_mapping(ModelSpec, {"kind": "disk", "galaxy": galaxy, "preset": PRESETS["tiny"]})
    for w in words:
        assert w in str(info.value)
