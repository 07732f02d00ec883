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
    for name, text in (("empty.yaml", ""), ("comments.yaml", "# nothing yet\n"), ("braces.yaml", "{}\n")):
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=rf"config file '.*{name}' (is empty|holds an empty mapping).*"
                                              "allowed: a mapping of settings"):
            load_yaml(tmp_path / name)


def test_load_yaml_refuses_duplicate_keys_naming_key_and_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nmaps:\n  npix: 10\n  fov: 1.2\n  npix: 12\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml': duplicate key 'npix' on line 5 \(first given on "
                                          r"line 3\); allowed: each key once per mapping"):
        load_yaml(path)
    path.write_text("seed: 1\nseed: 1\n")  # even with the same value
    with pytest.raises(ConfigError, match="duplicate key 'seed' on line 2"):
        load_yaml(path)
    # YAML merge keys may still be overridden by an explicit key
    path.write_text("base: &b {npix: 10, fov: 1.0}\nmaps:\n  <<: *b\n  fov: 2.0\n")
    assert load_yaml(path)["maps"] == {"npix": 10, "fov": 2.0}


def test_load_yaml_reads_yaml_1_2_floats(tmp_path):
    path = tmp_path / "floats.yaml"
    path.write_text("a: 1e11\nb: -2.5E-3\nc: 1.0e+11\nd: .5\ne: 7\nf: 1e3x\ng: .inf\n")
    data = load_yaml(path)
    assert data == {"a": 1e11, "b": -2.5e-3, "c": 1e11, "d": 0.5, "e": 7, "f": "1e3x", "g": float("inf")}
    assert isinstance(data["a"], float) and isinstance(data["e"], int)


def test_load_yaml_binary_file_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(ConfigError, match=r"config file '.*model\.yaml' is not UTF-8 text \(byte 0x89 at "
                                          r"offset 0\); allowed: a YAML text file"):
        load_yaml(path)
    path.write_bytes(b"seed: 1\n\x00\x01\x02")  # valid UTF-8 but not YAML text
    with pytest.raises(ConfigError, match=r"model\.yaml' is not valid YAML"):
        load_yaml(path)
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_yaml(tmp_path)


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
