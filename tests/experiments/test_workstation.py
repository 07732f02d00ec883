"""The workstation studies (issue 16) at test size: a real campaign store (schema 2: GC phase space), real
TensorFlow ensembles, the classic estimators on the stored GCs, the Tables 2/3 analogues, SLUGGS through the
same nets, the whole results file written over an earlier report (kept as a labelled archive)."""

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
#: The Tables 2/3 analogues' ensembles: one net per cell keeps the added test time small.
TABLE_FIT = dict(members=1, steps=20, batch_size=16)


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
    shutil.move(str(built.with_suffix(".timing.json")), str(target.with_suffix(".timing.json")))
    data = SHARED_DATA if (SHARED_DATA / "forbes2017_gc_velocities.tsv").is_file() else None
    result = analyse(runs, fit=FitConfig(**FIT), sizes=[3], n_views=2, train_views=3, data_dir=data,
                     table_fit=FitConfig(**TABLE_FIT), log=lambda m: None)
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


def test_tables_have_both_splits_channels_and_settings_on_the_curves_held_out_galaxies(ws_runs):
    runs, a = ws_runs
    assert set(a["tables"]) == {"ideal", "observed"}
    n_angles = 4  # the test scale's
    for setting, t in a["tables"].items():
        assert t["target"] == "M_total" and set(t["splits"]) == {"model", "image"}
        by_model, by_image = t["splits"]["model"], t["splits"]["image"]
        # by model: the learning curve's held-out galaxies, every view, none of them trained on
        assert by_model["test_models"] == a["curves"][setting]["test_models"]
        assert by_model["n_test_images"] == n_angles * by_model["n_test_galaxies"]
        assert by_model["n_train_galaxies"] + by_model["n_test_galaxies"] == a["n_used"]
        # by image: a fifth of all images; views of one galaxy on both sides
        assert by_image["n_test_images"] == round(0.2 * n_angles * a["n_used"])
        assert by_image["n_train_galaxies"] + by_image["n_test_galaxies"] > a["n_used"]
        for e in (by_model, by_image):
            assert set(e["cnn"]) == {"1", "2"}
            for cell in e["cnn"].values():
                assert cell["n_images"] == e["n_test_images"] and cell["n_left_out"] == 0
                assert cell["accuracy"] <= 1 and cell["scatter_dex"] >= 0 and cell["mae"] >= 0
                assert cell["rmse"] >= cell["mae"] - 1e-12
                assert 0 <= cell["within_0.1_dex"] <= cell["within_0.2_dex"] <= 1
                assert 0 <= cell["coverage_68"] <= cell["coverage_95"] <= 1
                assert math.isfinite(cell["baseline_mean"]["accuracy"])
            assert e["classic"]
            for m in e["classic"].values():
                assert math.isfinite(m["offset"]) and 0 < m["n_calibration"] <= e["n_train_images"]
                assert m["n_images"] + m["n_left_out"] == e["n_test_images"]


def test_table_splits_are_disjoint_and_the_metrics_match_their_definitions():
    from gcs_hpc.experiments.sample import Sample
    from gcs_hpc.experiments.workstation_tables import calibration_mask, dex_metrics, split_masks

    n, k = 30, 5
    sample = Sample(store="s", models=np.arange(n), suite=np.array(["disk"] * n),
                    log_mass={"M_total": np.full(n, 12.0)}, maps=np.zeros((n, k, 2, 2, 2), np.float32),
                    theta=np.zeros(k), phi=np.zeros(k), label_attrs={})
    train, test = split_masks(sample, "model", 0.2, seed=1)
    assert not (train & test).any() and (train | test).all() and test.sum() == 6 * k
    assert not (train.any(axis=1) & test.any(axis=1)).any()  # no galaxy on both sides
    train, test = split_masks(sample, "image", 0.2, seed=1)
    assert not (train & test).any() and (train | test).all() and test.sum() == round(0.2 * n * k)
    assert (train.any(axis=1) & test.any(axis=1)).any()  # the paper's leakage
    calib = calibration_mask(train, seed=0, cap=10)
    assert calib.sum() == 10 and not (calib & ~train).any()
    truth = np.linspace(11.0, 13.0, 40)
    galaxy = np.repeat(np.arange(10), 4)
    exact = dex_metrics(truth, truth, (11.0, 13.4), galaxy)
    assert exact["accuracy"] == 1.0 and exact["scatter_dex"] == 0.0 and exact["within_0.1_dex"] == 1.0
    off = dex_metrics(truth + 0.15, truth, (11.0, 13.4), galaxy)
    assert off["accuracy"] == pytest.approx(2.0 - 10 ** 0.15, rel=1e-12)  # 1 - |10^0.15 - 1|
    assert off["bias_dex"] == pytest.approx(0.15) and off["within_0.1_dex"] == 0.0
    assert off["within_0.2_dex"] == 1.0 and off["mae"] == pytest.approx(10 * 0.15 / 2.4)
    with_nan = dex_metrics(np.where(galaxy == 0, np.nan, truth), truth, (11.0, 13.4), galaxy)
    assert with_nan["n_left_out"] == 4 and with_nan["n_galaxies"] == 9


def test_classic_mask_computes_only_the_asked_views(ws_runs):
    from gcs_hpc.experiments.galaxy_views import observed_views, stored_views
    from gcs_hpc.experiments.sample import load_sample
    from gcs_hpc.experiments.workstation import DEFAULT_OBSERVATION, store_of
    from gcs_hpc.maps.observation import load_observation

    runs, _ = ws_runs
    sample = load_sample(store_of(runs, "tiny"), suites=("disk", "merger"))
    rows, angles = np.arange(len(sample)), np.arange(4)
    mask = np.zeros((len(rows), 4), dtype=bool)
    mask[::2, 1] = mask[1, 3] = True
    obs = load_observation(DEFAULT_OBSERVATION)
    for make in (lambda m: stored_views(sample, rows, angles, ("M_total",), m),
                 lambda m: observed_views(sample, rows, obs, n_views=4, seed=2, angles=angles,
                                          classic_targets=("M_total",), classic_mask=m)):
        full, part = make(None), make(mask)
        np.testing.assert_array_equal(part.images, full.images)  # the draws do not depend on the mask
        for name, est in part.classic["M_total"].items():
            assert np.isnan(est[~mask]).all()
            np.testing.assert_array_equal(est[mask], full.classic["M_total"][name][mask])


def test_report_is_written_whole_and_archives_the_earlier_report_once(ws_runs, tmp_path):
    from gcs_hpc.experiments.workstation_report import ARCHIVE_BEGIN, BEGIN, END, GENERATED, write_report

    runs, a = ws_runs
    out = tmp_path / "docs" / "results.md"
    out.parent.mkdir()
    out.write_text("# Results: laptop\n\nScale **laptop**, written 2026-11-25 17:36 UTC by someone.\n\n"
                   "## Table 2 analogue: accuracy\n\nold numbers\n")
    write_report(runs, out)
    first = out.read_text()
    write_report(runs, out)
    text = out.read_text()
    assert text.splitlines()[1] == GENERATED and text.count(ARCHIVE_BEGIN) == 1
    body, archive = text.split(ARCHIVE_BEGIN)
    assert archive == first.split(ARCHIVE_BEGIN)[1]  # the archive is kept as it is, once
    assert "old numbers" not in body and "old numbers" in archive
    assert "## Archive: the earlier report (scale laptop, written 2026-11-25 17:36 UTC)" in archive
    assert "\n#### Table 2 analogue: accuracy" in archive  # its headings sit below the archive's
    assert a["command"] in body and f"**{a['n_done']} of 12**" in body and "## Against the goal" in body
    used = ", ".join(f"{k} {v}" for k, v in a["by_suite"].items())
    assert f"used: **{a['n_used']}** ({used})" in body
    assert "core-hours" in body and "load average" in body and a["machine"] in body
    assert "**Table 2 analogue" in body and "**Table 3 analogue" in body
    assert (out.parent / "figures" / "workstation" / "learning_curve_observed.png").stat().st_size > 0
    assert body.count(BEGIN) == 1 and body.count(END) == 1


def test_archive_drops_stale_workstation_results_and_keeps_no_copy_of_itself():
    from gcs_hpc.experiments.workstation_report import ARCHIVE_BEGIN, BEGIN, END, GENERATED, archive_of

    # as `python -m gcs_hpc.experiments report` leaves it: a laptop report, then the workstation results
    laptop = f"# Results\n\nScale **laptop**, written 2026-11-25 17:36 UTC\n\n{BEGIN}\nstale 0.123\n{END}\n"
    archive = "\n".join(archive_of(laptop))
    assert "stale 0.123" not in archive and BEGIN not in archive and "\n### Results" in archive
    assert "(scale laptop, written 2026-11-25 17:36 UTC)" in archive
    assert archive_of(f"# Results\n{GENERATED}\n\n{BEGIN}\nnumbers\n{END}\n") == []
    assert archive_of("") == [] and archive_of(f"{BEGIN}\nonly workstation\n{END}") == []
    kept = archive_of(f"x\n{archive}\ny")
    assert kept[0] == ARCHIVE_BEGIN and "\n".join(kept) == archive


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
