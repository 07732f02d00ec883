"""Specs validate on construction, are frozen and hashable, and derive masses and run lengths."""

from __future__ import annotations

import dataclasses

import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, MergerSpec, ModelSpec, Preset, get_preset


def test_galaxy_defaults_are_the_paper_fiducial():
    g = GalaxySpec()
    assert g.M_halo == 1e12 and g.M_disk == pytest.approx(6e10) and g.M_bulge == pytest.approx(1.02e10)
    assert g.M_total == pytest.approx(1e12 + 6e10 + 1.02e10)
    assert g.n_gc == 200 and g.f_rot == 0.0


@pytest.mark.parametrize("kwargs, key", [
    ({"M_halo": -1e12}, "galaxy.M_halo"), ({"M_halo": 1e15}, "galaxy.M_halo"), ({"c": 0.5}, "galaxy.c"),
    ({"f_bary": 0.0}, "galaxy.f_bary"), ({"f_b": 5.0}, "galaxy.f_b"), ({"f_rot": -0.1}, "galaxy.f_rot"),
    ({"f_rot": 1.01}, "galaxy.f_rot"), ({"n_gc": 0}, "galaxy.n_gc"),
])
def test_galaxy_out_of_range(kwargs, key):
    with pytest.raises(ConfigError, match=rf"{key} = .* allowed range"):
        GalaxySpec(**kwargs)


@pytest.mark.parametrize("kwargs, key", [
    ({"m2": 0.0}, "merger.m2"), ({"m2": 1.5}, "merger.m2"), ({"f_v": -0.1}, "merger.f_v"),
    ({"theta_1": 200.0}, "merger.theta_1"), ({"theta_2": -1.0}, "merger.theta_2"),
    ({"separation": 0.5}, "merger.separation"),
])
def test_merger_out_of_range(kwargs, key):
    with pytest.raises(ConfigError, match=rf"{key} = .* allowed range"):
        MergerSpec(**kwargs)


def test_model_spec_merger_rules_and_derived_values():
    g = GalaxySpec()
    with pytest.raises(ConfigError, match="model.merger is required"):
        ModelSpec("merger", g, PRESETS["tiny"])
    with pytest.raises(ConfigError, match="model.merger must be absent"):
        ModelSpec("disk", g, PRESETS["tiny"], merger=MergerSpec())
    with pytest.raises(ConfigError, match="model.kind = 'elliptical' is not allowed"):
        ModelSpec("elliptical", g, PRESETS["tiny"])
    with pytest.raises(ConfigError, match="model.seed"):
        ModelSpec("disk", g, PRESETS["tiny"], seed=-1)
    m = ModelSpec("merger", g, PRESETS["quick"], merger=MergerSpec(m2=0.5))
    assert m.M_total == pytest.approx(1.5 * g.M_total)
    assert m.t_end == PRESETS["quick"].t_end_merger and m.suite == "merger"
    d = ModelSpec("disk", g, PRESETS["quick"], suite="unknown")
    assert d.t_end == PRESETS["quick"].t_end_disk and d.suite == "unknown"


def test_specs_are_frozen_and_hashable():
    g = GalaxySpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.f_rot = 0.5  # type: ignore[misc]
    assert len({GalaxySpec(), GalaxySpec(), GalaxySpec(f_rot=0.1)}) == 2
    m = ModelSpec("disk", g, PRESETS["tiny"], seed=1)
    assert hash(m) == hash(ModelSpec("disk", GalaxySpec(), PRESETS["tiny"], seed=1))


def test_presets():
    assert set(PRESETS) == {"tiny", "quick", "paper"}
    assert get_preset("paper").n_halo + get_preset("paper").n_disk == 1_000_000
    assert 5_000 <= get_preset("quick").n_halo + get_preset("quick").n_disk <= 20_000
    with pytest.raises(ConfigError, match="preset = 'huge' is not allowed; allowed values: 'tiny'"):
        get_preset("huge")
    with pytest.raises(ConfigError, match=r"preset\[x\]\.n_halo = 10 is out of range"):
        Preset("x", n_halo=10, n_disk=1000, softening_kpc=1.0, t_end_disk=1.0, t_end_merger=1.0)
    with pytest.raises(ConfigError, match=r"preset\[x\]\.energy_tolerance"):
        Preset("x", 1000, 1000, 1.0, 1.0, 1.0, energy_tolerance=0.0)


def test_map_spec_validation():
    m = MapSpec()
    assert (m.n_angles, m.npix, m.fov, m.fov_unit) == (100, 10, 1.2, "R_d")
    with pytest.raises(ConfigError, match=r"maps\.npix = 1 is out of range"):
        MapSpec(npix=1)
    with pytest.raises(ConfigError, match=r"maps\.fov = 0\.0 is out of range"):
        MapSpec(fov=0.0)
    with pytest.raises(ConfigError, match=r"maps\.fov_unit = 'pc' is not allowed"):
        MapSpec(fov_unit="pc")  # type: ignore[arg-type]
