"""CNN vs classic estimators on simulated galaxies: a two-model tiny campaign store, rebuilt and observed."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.errors import StoreError
from gcs_hpc.experiments.compare import bias_scatter, compare, markdown_table


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from gcs_hpc.campaign.config import config_from_mapping
    from gcs_hpc.campaign.plan import plan_campaign
    from gcs_hpc.campaign.run_model import run_model
    from gcs_hpc.store import create_store

    config = config_from_mapping({"name": "observe-test", "preset": "tiny", "maps": {"n_angles": 3},
                                  "suites": {"disk": {"fraction": 1.0, "M_halo": [3e11, 3e12]}}})
    plan = plan_campaign(config, 2)
    path = tmp_path_factory.mktemp("compare") / "c.zarr"
    create_store(path, plan.models, plan.map_spec, plan.config_yaml)
    for i, spec in enumerate(plan.models):
        assert run_model(path, i, spec, plan.map_spec, backend="tree") == "done"
    return path


@pytest.mark.slow
def test_classic_estimators_on_rebuilt_simulations(tiny_store):
    result = compare(tiny_store, [], n_views=2, indices=[0, 1], backend="tree")
    rows = result["rows"]
    assert len(rows) == 4 and result["views"] == [0, 2]
    assert all(r["maps_reproduced"] for r in rows)     # the rebuilt galaxies are the store's
    for r in rows:
        assert r["n_gc"] == 200 and 0 < r["M_r_out"] <= r["M_total"] * 1.0001
        # every classic estimate is within a factor 10 of the true enclosed mass
        for label in ("tme_alpha0", "pme_isotropic", "virial"):
            assert abs(np.log10(r[label] / r["M_r_out"])) < 1.0
    table = {e["method"]: e for e in result["table"]}
    assert table["tme_alpha0"]["n_M_total"] == 4
    assert np.isfinite(table["pme_radial"]["scatter_dex_M_r_out"])
    assert "| tme_alpha0 |" in markdown_table(result["table"])


def test_bias_scatter_arithmetic():
    rows = [{"M_total": 1e12, "M_r_out": 1e11, "a": 1e12}, {"M_total": 1e12, "M_r_out": 1e11, "a": 1e13}]
    (entry,) = bias_scatter(rows, ["a"])
    assert entry["bias_dex_M_total"] == pytest.approx(0.5)
    assert entry["scatter_dex_M_total"] == pytest.approx(np.sqrt(0.5))
    assert entry["bias_dex_M_r_out"] == pytest.approx(1.5)


def test_compare_refuses_a_non_store(tmp_path):
    with pytest.raises(StoreError):
        compare(tmp_path / "missing.zarr", [], indices=[0])
