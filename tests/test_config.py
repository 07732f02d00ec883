"""Config machinery: range and choice checks, YAML loading errors, spec <-> dict round trips."""

from __future__ import annotations

import dataclasses

import pytest

from gcs_hpc.config import (check_choice, check_interval, check_range, dump_yaml, load_yaml,
                            spec_from_mapping, spec_to_dict)
from gcs_hpc.errors import ConfigError
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, MergerSpec, ModelSpec


def test_check_range_messages():
    check_range("galaxy", "f_rot", 0.5, 0.0, 1.0)
    with pytest.raises(ConfigError,
                       match=r"galaxy\.f_rot = 1\.5 is out of range; allowed range \[0\.0, 1\.0\]"):
        check_range("galaxy", "f_rot", 1.5, 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"m2 = 0\.0 is out of range; allowed range \(0\.0, 1\.0\]"):
        check_range("", "m2", 0.0, 0.0, 1.0, low_open=True)
    with pytest.raises(ConfigError, match="not finite"):
        check_range("x", "y", float("nan"), 0.0, 1.0)
    with pytest.raises(ConfigError, match="not a number"):
        check_range("x", "y", True, 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"allowed range \[-inf, 3\)"):
        check_range("x", "y", 3, None, 3, high_open=True)


def test_check_choice_and_interval():
    check_choice("maps", "fov_unit", "kpc", ("R_d", "kpc"))
    with pytest.raises(ConfigError,
                       match=r"maps\.fov_unit = 'pc' is not allowed; allowed values: 'R_d', 'kpc'"):
        check_choice("maps", "fov_unit", "pc", ("R_d", "kpc"))
    check_interval("ranges", "f_v", (0.05, 1.0), 0.0, 2.0)
    with pytest.raises(ConfigError, match="low end exceeds high end"):
        check_interval("ranges", "f_v", (1.0, 0.5), 0.0, 2.0)
    with pytest.raises(ConfigError, match=r"ranges\.f_v\[1\] = 3\.0 is out of range"):
        check_interval("ranges", "f_v", (0.5, 3.0), 0.0, 2.0)
    with pytest.raises(ConfigError, match="must be a pair"):
        check_interval("ranges", "f_v", (0.5,), 0.0, 2.0)


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("galaxy: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping at top level, got list"):
        load_yaml(listing)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_yaml(empty) == {}


def test_spec_from_mapping_rejects_unknown_and_wrong_types():
    with pytest.raises(ConfigError, match=r"unknown key 'galaxy\.mass'; allowed keys: M_halo, c, f_b"):
        spec_from_mapping(GalaxySpec, {"mass": 1e12}, where="galaxy")
    with pytest.raises(ConfigError, match=r"galaxy\.c = 'high' has the wrong type; expected a number"):
        spec_from_mapping(GalaxySpec, {"c": "high"}, where="galaxy")
    with pytest.raises(ConfigError, match=r"maps\.fov_unit = 'pc' is not allowed"):
        spec_from_mapping(MapSpec, {"fov_unit": "pc"}, where="maps")
    with pytest.raises(ConfigError, match="must be a mapping"):
        spec_from_mapping(GalaxySpec, [1, 2], where="galaxy")
    # int -> float is accepted, bool is not a number
    assert spec_from_mapping(GalaxySpec, {"M_halo": 10**12}).M_halo == 1e12
    with pytest.raises(ConfigError, match="expected a number"):
        spec_from_mapping(GalaxySpec, {"f_b": True})


def test_nested_spec_round_trip_through_dict_and_yaml(tmp_path):
    spec = ModelSpec("merger", GalaxySpec(M_halo=3e11, c=9.0, f_rot=0.4), PRESETS["quick"], seed=42,
                     merger=MergerSpec(m2=0.3, theta_1=20.0))
    plain = spec_to_dict(spec)
    assert plain["galaxy"]["M_halo"] == 3e11 and plain["merger"]["m2"] == 0.3
    assert spec_from_mapping(ModelSpec, plain) == spec
    path = tmp_path / "model.yaml"
    path.write_text(dump_yaml(plain))
    again = spec_from_mapping(ModelSpec, load_yaml(path))
    assert again == spec and hash(again) == hash(spec)
    assert dataclasses.is_dataclass(again.preset) and again.preset == PRESETS["quick"]
