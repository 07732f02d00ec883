"""The workstation studies (issue 16) at test size: a real campaign store (schema 2: GC phase space), real
TensorFlow ensembles, the classic estimators on the stored GCs, SLUGGS through the same nets, the report
section written into an existing results file."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow

FIT = dict(members=2, steps=20, batch_size=16)


@pytest.fixture(scope="module")
def ws_runs(tmp_path_factory):
    """A 12-model test-scale store of the workstation campaign's suites, moved where the workstation
    studies look for it, and one analysis of it."""
    from gcs_hpc.experiments.campaigns import build_store
    from gcs_hpc.experiments.fit import FitConfig
    from gcs_hpc.experiments.spec import load_experiment
    from gcs_hpc.experiments.workstation import analyse, store_of

    runs = tmp_path_factory.mktemp("runs")
    spec = load_experiment("DL4")
    spec = dataclasses.replace(spec, scales={**spec.scales,
                                             "test": dataclasses.replace(spec.scale("test"), n_models=12)})
    built = build_store(spec, "test", runs, log=lambda m: None)
    target = store_of(runs, "tiny")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(target))
    data = SHARED_DATA if (SHARED_DATA / "forbes2017_gc_velocities.tsv").is_file() else None
    result = analyse(runs, fit=FitConfig(**FIT), sizes=[3], n_views=2, train_views=3, data_dir=data,
                     log=lambda m: None)
    return runs, result


def test_curves_have_both_settings_targets_and_fair_classic_lines(ws_runs):
    _, a = ws_runs
    assert set(a["curves"]) == {"ideal", "observed"}
    for setting, c in a["curves"].items():
        assert set(c["curves"]) == {"M_total", "M_5r_half"}
        for target, rows in c["curves"].items():
            assert [r["n_train"] for r in rows] == sorted({3, c["n_pool"]})
            for r in rows:
                cnn = r["cnn"]
                assert math.isfinite(cnn["scatter"]) and cnn["scatter"] >= 0
                assert 0.0 <= cnn["coverage_68"] <= cnn["coverage_95"] <= 1.0
                assert r["classic"] and all(math.isfinite(v["offset"]) for v in r["classic"].values())
            # a constant calibration moves the bias, never the scatter: the classic lines are flat
            for name in rows[0]["classic"]:
                first, last = rows[0]["classic"][name], rows[-1]["classic"][name]
                assert first["scatter"] == pytest.approx(last["scatter"], rel=1e-12)
    assert a["resolution"]["skipped"].startswith("no done model in the quick store")


def test_report_section_replaces_itself_and_keeps_the_laptop_report(ws_runs, tmp_path):
    from gcs_hpc.experiments.workstation_report import BEGIN, END, write_section

    runs, a = ws_runs
    out = tmp_path / "docs" / "results.md"
    out.parent.mkdir()
    out.write_text("# Results\n\nlaptop section\n")
    write_section(runs, out)
    first = out.read_text()
    write_section(runs, out)
    text = out.read_text()
    assert text == first and text.count(BEGIN) == 1 and text.count(END) == 1
    assert text.startswith("# Results\n\nlaptop section\n")
    assert f"**{a['n_done']} of 12**" in text and "### Against the goal" in text
    assert (out.parent / "figures" / "workstation" / "learning_curve_observed.png").stat().st_size > 0


def test_sluggs_every_galaxy_mapped_or_skipped_with_a_reason(ws_runs, shared_data):
    from gcs_hpc.observe.catalog import read_catalog

    _, a = ws_runs
    rows = a["sluggs"]["rows"]
    assert [r["galaxy"] for r in rows] == read_catalog(shared_data / "forbes2017_gc_velocities.tsv").galaxies
    mapped = [r for r in rows if "skipped" not in r]
    assert len(mapped) >= 15
    for r in mapped:
        for target in ("M_total", "M_5r_half"):
            c = r["cnn"][target]
            lo, hi = c["interval_68_log10"]
            lo95, hi95 = c["interval_95_log10"]
            assert lo95 <= lo <= c["median_log10"] <= hi <= hi95
        assert any(math.isfinite(v.get("log10", math.nan)) for v in r["classic"].values())
    assert all("GCs" in r["skipped"] or "effective radius" in r["skipped"] for r in rows if "skipped" in r)


def test_ideal_observation_equals_the_stored_maps_and_gcs(ws_runs):
    from gcs_hpc.experiments.galaxy_views import observed_views, stored_views
    from gcs_hpc.experiments.sample import load_sample
    from gcs_hpc.experiments.workstation import DEFAULT_OBSERVATION, store_of
    from gcs_hpc.maps.observation import load_observation

    runs, _ = ws_runs
    sample = load_sample(store_of(runs, "tiny"), suites=("disk", "merger"))
    assert load_observation(DEFAULT_OBSERVATION).name == "sluggs"
    ideal = load_observation("ideal")
    assert ideal.is_ideal and ideal.maps is None
    rows, angles = np.arange(len(sample)), np.array([0, 3])
    a = stored_views(sample, rows, angles, ("M_total", "M_5r_half"))
    b = observed_views(sample, rows, ideal, n_views=2, seed=5, angles=angles, classic_targets=("M_total",
                                                                                                 "M_5r_half"))
    np.testing.assert_allclose(b.images, a.images, atol=1e-3)
    for target in a.classic:
        for name in a.classic[target]:
            np.testing.assert_allclose(b.classic[target][name], a.classic[target][name], rtol=1e-9)


def test_twins_of_one_store_show_no_resolution_change(ws_runs):
    from gcs_hpc.experiments.curves import learning_curve
    from gcs_hpc.experiments.fit import FitConfig
    from gcs_hpc.experiments.resolution import resolution_check
    from gcs_hpc.experiments.sample import load_sample
    from gcs_hpc.experiments.workstation import store_of

    runs, _ = ws_runs
    sample = load_sample(store_of(runs, "tiny"), suites=("disk", "merger"))
    fit = FitConfig(**FIT)
    c = learning_curve(sample, fit, sizes=[3], n_views=2, targets=["M_total"], keep_nets=True,
                       log=lambda m: None)
    r = resolution_check(sample, sample, c["_nets"], c["label_ranges"], fit, [0, 3])
    assert r["n_twins"] == len(sample)
    e = r["targets"]["M_total"]
    assert e["delta"]["cnn"] == {"bias": 0.0, "scatter": 0.0}
    assert all(v == {"bias": 0.0, "scatter": 0.0} for v in e["delta"]["classic"].values())
    assert e["truth_quick_minus_tiny"]["scatter"] == 0.0


def test_calibration_constant_removes_a_known_offset():
    from gcs_hpc.experiments.curves import calibrated_classic

    rng = np.random.default_rng(0)
    truth = rng.uniform(11, 13, 400)
    est = truth[:, None] - 0.3 + rng.normal(0, 0.1, (400, 3))
    out = calibrated_classic({"x": est}, truth, np.arange(300), np.arange(300, 400))["x"]
    assert out["offset"] == pytest.approx(0.3, abs=0.02)
    assert abs(out["bias"]) < 0.03 and out["scatter"] == pytest.approx(0.1, abs=0.015)
    assert json.dumps(out)


def test_split_is_disjoint_and_nested_by_seed():
    from gcs_hpc.experiments.curves import split_models
    from gcs_hpc.experiments.sample import Sample

    n = 50
    sample = Sample(store="s", models=np.arange(n), suite=np.array(["disk"] * n),
                    log_mass={"M_total": np.full(n, 12.0)}, maps=np.zeros((n, 1, 2, 2, 2), np.float32),
                    theta=np.zeros(1), phi=np.zeros(1), label_attrs={})
    pool, test = split_models(sample, 0.2, seed=3)
    assert len(test) == 10 and not set(pool) & set(test) and len(pool) + len(test) == n
    again, test2 = split_models(sample, 0.2, seed=3)
    assert np.array_equal(again, pool) and np.array_equal(test2, test)
