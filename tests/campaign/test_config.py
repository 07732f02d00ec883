"""Campaign config: YAML files, defaults, suite counts, and errors that name the key and allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcs_hpc.campaign.config import (DEFAULT_CONFIG, config_from_mapping, config_to_yaml,
                                     load_campaign_config)
from gcs_hpc.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"


def test_default_yaml_is_the_embedded_default():
    assert load_campaign_config(CONFIGS / "default.yaml") == DEFAULT_CONFIG
    assert load_campaign_config(None) is DEFAULT_CONFIG
    assert DEFAULT_CONFIG.preset == "quick"
    assert [s.name for s in DEFAULT_CONFIG.suites] == ["disk", "merger", "unknown"]


def test_default_campaign_maps_are_in_r_half_and_the_paper_grid_stays_available():
    """Issue 15: new campaigns use the observable R_half (the SLUGGS observation model's grid); the paper's
    R_d grid is MapSpec's own default, which the paper's experiments keep."""
    from gcs_hpc.experiments.spec import experiment_names, load_experiment
    from gcs_hpc.maps.observation import load_observation

    maps = DEFAULT_CONFIG.maps
    assert (maps.fov_unit, maps.fov, maps.npix, maps.smoothing) == ("R_half", 8.0, 10, 0.8)
    assert maps.differences(load_observation("sluggs").maps) == []
    paper = config_from_mapping({"maps": {"n_angles": 100}}).maps
    assert (paper.fov_unit, paper.fov, paper.smoothing) == ("R_d", 1.2, 0.12)
    for experiment in map(load_experiment, experiment_names()):  # the paper's, and their studies
        for scale in experiment.scales:
            assert experiment.campaign_config(scale).maps.fov_unit == "R_d", (experiment.name, scale)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_campaign_config(path)
    assert config.suites


def test_suite_defaults_merge_under_the_yaml():
    config = config_from_mapping({"suites": {"disk": {"fraction": 0.7}, "unknown": {"fraction": 0.3}}})
    unknown = config.suites[1]
    assert unknown.kind == "merger" and unknown.m2 == (0.1, 0.3)
    assert unknown.outside_of is None  # no merger suite to stay outside of
    both = config_from_mapping({"suites": {"merger": {"fraction": 0.5}, "unknown": {"fraction": 0.5}}})
    assert both.suites[1].outside_of == "merger"


def test_unknown_suite_must_lie_outside_the_merger_ranges():
    with pytest.raises(ConfigError, match=r"suites\.unknown\.outside_of.*overlaps"):
        config_from_mapping({"suites": {"merger": {"fraction": 0.5},
                                        "unknown": {"fraction": 0.5, "m2": [0.2, 0.9],
                                                    "separation": [4.0, 8.0]}}})


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 2000])
def test_suite_counts_add_up_and_follow_the_fractions(n):
    counts = DEFAULT_CONFIG.suite_counts(n)
    assert sum(counts.values()) == n
    for suite in DEFAULT_CONFIG.suites:
        assert abs(counts[suite.name] - suite.fraction * n) < 1.0


def test_fixed_counts_take_their_share_first():
    config = config_from_mapping({"suites": {"disk": {"fraction": 1.0}, "unknown": {"count": 3}}})
    assert config.suite_counts(10) == {"disk": 7, "unknown": 3}
    with pytest.raises(ConfigError, match=r"n_models = 2 .*n_models >= 3"):
        config.suite_counts(2)


@pytest.mark.parametrize("mapping, message", [
    ({"suites": {"disk": {"fraction": 1, "M_halo": [1e8, 1e12]}}},
     r"suites\.disk\.M_halo = \[100000000\.0, 1000000000000\.0\]: .*allowed range \[1000000000\.0"),
    ({"seed": -1}, r"seed = -1 is out of range; allowed range \[0, "),
    ({"preset": "huge"}, r"preset = 'huge' is not allowed; allowed values: 'tiny', 'quick', 'paper'"),
    ({"suites": {"disk": {"fraction": 0.5}}}, r"fraction must sum to 1; got 0\.5"),
    ({"suites": {"disk": {"fraction": 1, "m2": [0.1, 1]}}}, r"suites\.disk\.m2 .* merger parameter"),
    ({"suites": {"disk": {"fraction": 1, "f_b": [2, 1]}}}, r"suites\.disk\.f_b .*low end exceeds high"),
    ({"suites": {"disk": {"fraction": 1, "f_rot": [0, 2]}}},
     r"suites\.disk\.f_rot .*allowed range \[0\.0, 1\.0\]"),
    ({"suites": {"disk": {"fraction": 1, "foo": 1}}}, r"unknown key 'suites\.disk\.foo'; allowed keys: "),
    ({"suites": {"disk": {"fraction": 0.5, "count": 3}}}, r"exactly one of 'fraction'"),
    ({"suites": {"mystery": {"fraction": 1}}}, r"suites\.mystery\.kind is required"),
    ({"preset_overrides": {"t_end_disk": -1}}, r"preset_overrides: .*t_end_disk = -1\.0 .*allowed range"),
    ({"maps": {"npix": 1}}, r"maps\.npix = 1 is out of range; allowed range \[2, 1024\]"),
    ({"sampler": "lhs"}, r"sampler = 'lhs' is not allowed; allowed values: 'sobol', 'halton'"),
    ({"colour": "red"}, r"unknown key 'colour'; allowed keys: "),
])
def test_bad_config_names_key_value_and_allowed_range(mapping, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(mapping)


def test_bad_yaml_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("suites:\n  disk: {fraction: 1, n_gc: 0}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*suites\.disk\.n_gc = 0 is out of range"):
        load_campaign_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_campaign_config(tmp_path / "missing.yaml")


def test_stored_config_text_pins_counts_and_resolved_preset():
    config = config_from_mapping({"preset": "tiny", "preset_overrides": {"t_end_disk": 0.25}})
    text = config_to_yaml(config, 10)
    assert "n_models: 10" in text and "t_end_disk: 0.25" in text
    assert text != config_to_yaml(config, 11)
    assert config.resolved_preset.t_end_disk == 0.25 and config.resolved_preset.n_halo == 1500
