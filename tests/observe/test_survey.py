"""The SLUGGS survey figures behind the observation model's defaults (real data; skips without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.maps.observation import load_observation
from gcs_hpc.observe.catalog import read_catalog
from gcs_hpc.observe.galaxies import read_galaxy_table
from gcs_hpc.observe.survey import main, summary, suggested_observation, survey

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rows(shared_data):
    return survey(read_catalog(shared_data / "forbes2017_gc_velocities.tsv"),
                  read_galaxy_table(shared_data / "forbes2017_galaxies.tsv"))


def test_per_galaxy_figures_match_the_catalogue(rows):
    by_name = {r["galaxy"]: r for r in rows}
    assert len(rows) == 26 and sum(r["n_gc"] for r in rows) == 3423  # the data README's counts
    assert by_name["NGC4486"]["n_gc"] == 653 and by_name["NGC4111"]["n_gc"] == 15
    for r in rows:
        assert 0.0 <= r["r_min_kpc"] <= r["r_median_kpc"] <= r["r_max_kpc"]
        assert r["r_max_re"] == pytest.approx(r["r_max_kpc"] / r["r_eff_kpc"])
        assert 5.0 <= r["v_err_median_kms"] <= 40.0


def test_sluggs_yaml_holds_the_suggested_values(rows):
    stats = summary(rows)
    assert stats["n_gc_quantiles"][0] == 15 and stats["n_gc_quantiles"][-1] == 653
    suggested = suggested_observation(stats)
    obs = load_observation(REPO / "configs" / "observation" / "sluggs.yaml")
    assert list(obs.n_gc) == suggested["n_gc"]
    assert obs.v_err == "lognormal" and obs.radius_unit == "R_half"
    for key in ("v_err_median_kms", "v_err_spread_dex", "r_inner", "r_outer"):
        assert getattr(obs, key) == pytest.approx(suggested[key]), key
    assert np.isclose(stats["median_v_err_median_kms"], 13.0)


def test_cli_writes_the_page(shared_data, tmp_path):
    out = tmp_path / "observations.md"
    assert main(["--catalog", str(shared_data / "forbes2017_gc_velocities.tsv"),
                 "--galaxies", str(shared_data / "forbes2017_galaxies.tsv"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| NGC4494 | 105 |" in text and "Forbes et al. 2017" in text


def test_cli_bad_path_is_a_clear_error(tmp_path, capsys):
    assert main(["--catalog", str(tmp_path / "missing.tsv"), "--galaxies", str(tmp_path / "g.tsv")]) == 2
    assert "missing.tsv" in capsys.readouterr().err
