"""Experiment specs: every shipped file loads, stores are shared where the configs agree, bad input
gets an error that names the key and what is allowed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.spec import (EXPERIMENT_DIR, SCALES_FILE, check_shared_stores,
                                      experiment_from_mapping, experiment_names, load_experiment,
                                      load_experiments, load_shared_scales)

REPO = Path(__file__).resolve().parents[2]
PAPER_RUNS = ["DL1", "DL2", "DL3", "DL4", "DL5", "ngc200", "ngc2000", "ngc20000", "smooth2.5R0", "smooth5R0",
              "unknown"]


def _dl1() -> dict:
    return yaml.safe_load((EXPERIMENT_DIR / "DL1.yaml").read_text())


def test_every_experiment_of_the_paper_has_a_valid_file():
    assert sorted(experiment_names()) == sorted(PAPER_RUNS)
    specs = {s.name: s for s in load_experiments("all")}
    assert specs["DL1"].net == "conv2" and specs["DL4"].net == "conv4" and specs["DL5"].net == "conv4"
    assert specs["DL5"].noise_kms == 5.0 and specs["DL4"].noise_kms == 0.0
    assert specs["unknown"].splits == ("suite",)
    for s in specs.values():
        assert set(s.channels) == {1, 2}
        cfg = s.campaign_config("paper")
        assert cfg.preset == "paper" and cfg.maps.n_angles == 100
        assert s.scale("paper").epochs == 1000
    assert specs["ngc20000"].campaign_config("laptop").suites[0].n_gc == 20000
    assert specs["smooth5R0"].campaign_config("laptop").maps.smoothing == 1.0  # 5 R0 = 5 x 0.2 R_d


@pytest.mark.parametrize("scale", ["test", "laptop", "paper"])
def test_stores_are_shared_exactly_where_campaign_configs_agree(scale):
    groups = check_shared_stores(load_experiments("all"), scale)
    names = {k: sorted(s.name for s in v) for k, v in groups.items()}
    assert names["disk-merger-unknown"] == ["DL3", "DL4", "DL5", "unknown"]
    assert names["disk"] == ["DL1", "ngc200"]
    assert len(groups) == 7


def test_two_experiments_naming_one_store_with_different_configs_are_refused():
    a = load_experiment("DL1")
    b = dataclasses.replace(load_experiment("DL2"), campaign="disk")
    with pytest.raises(ConfigError, match="share campaign 'disk'"):
        check_shared_stores([a, b], "laptop")


@pytest.mark.parametrize("change, message", [
    ({"netz": "conv2"}, r"unknown key 'netz'; allowed keys: .*net"),
    ({"net": "conv3"}, r"experiment.net = 'conv3' is not allowed; allowed values: 'conv2', 'conv4'"),
    ({"channels": [3]}, r"experiment.channels\[\] = 3 is not allowed; allowed values: 1, 2"),
    ({"channels": []}, r"experiment.channels is empty"),
    ({"splits": ["random"]}, r"experiment.splits\[\] = 'random' is not allowed; allowed values: 'model'"),
    ({"splits": ["suite"]}, r"'suite'.*no 'unknown' suite"),
    ({"noise_kms": -1.0}, r"experiment.noise_kms = -1.0 is out of range; allowed range \[0.0, 1000.0\]"),
    ({"eval_noise_kms": [0.0, "5"]}, r"eval_noise_kms\[1\] = '5' has the wrong type; expected a number"),
    ({"maps": {"n_angles": 10}}, r"maps.n_angles is set per scale"),
    ({"maps": {"smoothing": -1.0}}, r"maps.smoothing = -1.0 is out of range"),
    ({"suites": {"disk": {"fraction": 1.5}}}, r"suites.disk.fraction = 1.5 is out of range; allowed range "
                                              r"\[0.0, 1.0\]"),
    ({"suites": {"disk": {"fraction": 1.0, "n_gc": 0}}}, r"suites.disk.n_gc = 0 is out of range"),
    ({"campaign": "a/b"}, r"experiment.campaign = 'a/b' must be a plain name"),
    ({"study": "other"}, r"experiment.study = 'other' is not allowed"),
])
def test_bad_experiment_settings_name_the_key_and_what_is_allowed(change, message):
    data = {**_dl1(), **change}
    with pytest.raises(ConfigError, match=message):
        experiment_from_mapping(data, source="test file")


@pytest.mark.parametrize("scale_change, message", [
    ({"preset": "huge"}, r"scale.preset = 'huge' is not allowed; allowed values: 'tiny', 'quick', 'paper'"),
    ({"n_models": 1}, r"scale.n_models = 1 is out of range; allowed range \[2, 10000000\]"),
    ({"epochs": 0}, r"scale.epochs = 0 is out of range"),
    ({"backend": "gpu"}, r"scale.backend = 'gpu' is not allowed"),
    ({"preset_overrides": {"t_end_disk": -1.0}}, r"preset_overrides.*t_end_disk = -1.0 is out of range"),
    ({"preset_overrides": {"n_halos": 5}}, r"unknown key 'preset_overrides.n_halos'"),
])
def test_bad_scale_settings_name_the_key(scale_change, message):
    data = _dl1()
    data["scales"]["laptop"] = {**data["scales"]["laptop"], **scale_change}
    with pytest.raises(ConfigError, match=message):
        experiment_from_mapping(data, source="test file")


def test_required_scales_and_unknown_scales():
    data = _dl1()
    del data["scales"]["paper"]
    with pytest.raises(ConfigError, match="experiment.scales lacks paper; required: laptop, paper"):
        experiment_from_mapping(data)
    data = _dl1()
    data["scales"]["huge"] = data["scales"]["laptop"]
    with pytest.raises(ConfigError, match="experiment.scales = 'huge' is not allowed"):
        experiment_from_mapping(data)
    with pytest.raises(ConfigError, match="scale = 'huge' is not allowed; allowed values: 'test'"):
        load_experiment("DL1").scale("huge")


def test_file_name_must_match_and_unknown_names_list_the_known(tmp_path):
    data = _dl1()
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="name = 'DL1' must equal the file name 'other'"):
        load_experiment(str(tmp_path / "other.yaml"))
    with pytest.raises(ConfigError, match="experiment 'DL9' not found .*allowed: DL1, DL2"):
        load_experiment("DL9")


def test_cli_refuses_bad_input_with_exit_2_and_lists_experiments():
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    bad = subprocess.run([sys.executable, "-m", "gcs_hpc.experiments", "run", "DL9", "--scale", "laptop",
                          "--runs", "/nonexistent/runs"], capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode == 2 and "experiment 'DL9' not found" in bad.stderr
    assert not Path("/nonexistent/runs").exists()
    ok = subprocess.run([sys.executable, "-m", "gcs_hpc.experiments", "list"], capture_output=True, text=True,
                        env=env, cwd=REPO)
    assert ok.returncode == 0
    assert "DL5" in ok.stdout and "disk-merger-unknown" in ok.stdout and "noise 5 km/s" in ok.stdout


def test_sizes_are_defined_once_and_experiments_change_only_what_differs():
    """Every experiment lists its scales and gives only keys whose value differs from scales.yaml."""
    shared = load_shared_scales()
    assert SCALES_FILE not in experiment_names() and set(shared) == {"test", "laptop", "workstation", "paper"}
    for name in experiment_names():
        raw = yaml.safe_load((EXPERIMENT_DIR / f"{name}.yaml").read_text())["scales"]
        spec = load_experiment(name)
        assert list(spec.scales) == list(raw)
        for scale, changes in raw.items():
            repeated = {k: v for k, v in (changes or {}).items() if shared[scale].get(k) == v}
            assert not repeated, f"{name}.yaml repeats {repeated} of {SCALES_FILE}.yaml at scale {scale}"
            assert dataclasses.asdict(spec.scale(scale)) == {
                **dataclasses.asdict(spec.scale(scale)), **shared[scale], **(changes or {})}
    assert load_experiment("DL3").scale("paper").n_models == 2000
    assert load_experiment("DL1").scale("paper").n_models == shared["paper"]["n_models"]
    with pytest.raises(ConfigError, match="scale = 'workstation' is not allowed"):  # DL1 does not list it
        load_experiment("DL1").scale("workstation")
    with pytest.raises(ConfigError, match="experiment 'scales' not found"):
        load_experiment(SCALES_FILE)


def test_a_shared_size_changes_every_experiment_that_does_not_override_it(tmp_path):
    for name in ("DL1", "DL3", SCALES_FILE):
        (tmp_path / f"{name}.yaml").write_text((EXPERIMENT_DIR / f"{name}.yaml").read_text())
    shared = yaml.safe_load((tmp_path / "scales.yaml").read_text())
    shared["laptop"]["epochs"] = 7
    shared["laptop"]["preset_overrides"] = {"t_end_disk": 0.25}
    (tmp_path / "scales.yaml").write_text(yaml.safe_dump(shared))
    dl1, dl3 = (load_experiment(n, tmp_path) for n in ("DL1", "DL3"))
    assert dl1.scale("laptop").epochs == dl3.scale("laptop").epochs == 7
    assert dl1.scale("laptop").preset_overrides == {"t_end_disk": 0.25}
    assert dl3.scale("laptop").n_models == 64 and dl1.scale("laptop").n_models == 48  # DL3's own change
    data = yaml.safe_load((tmp_path / "DL1.yaml").read_text())
    data["scales"]["laptop"] = {"preset_overrides": {"t_end_merger": 1.0}}    # replaces the whole mapping
    spec = experiment_from_mapping(data, shared_scales=load_shared_scales(tmp_path))
    assert spec.scale("laptop").preset_overrides == {"t_end_merger": 1.0}


@pytest.mark.parametrize("text, message", [
    ("huge: {n_models: 4}\n", r"scale = 'huge' is not allowed; allowed values: 'test', 'laptop'"),
    ("laptop: 48\n", r"laptop = 48 must be a mapping of sizes"),
])
def test_bad_scales_file_names_the_file_and_the_scale(tmp_path, text, message):
    (tmp_path / "scales.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_shared_scales(tmp_path)


def test_scale_changes_must_be_a_mapping():
    data = _dl1()
    data["scales"]["laptop"] = 48
    with pytest.raises(ConfigError, match=r"test file: scales.laptop = 48 must be a mapping"):
        experiment_from_mapping(data, source="test file")
