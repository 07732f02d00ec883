"""Figure titles say what is drawn: bins that hold points, images, galaxies and points, read back from the
saved PNG's Title chunk (gcs_hpc.figure.save writes the titles on the figure there)."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc import figure
from gcs_hpc.experiments.curves import plot_curve
from gcs_hpc.experiments.figures import accuracy_figure, classic_figure, study_figure
from gcs_hpc.experiments.sluggs import plot_sluggs
from gcs_hpc.learn import calibration
from gcs_hpc.learn.evaluate import N_MASS_BINS, mass_bins, plot_errors, plot_predicted_vs_true


def test_count_plural():
    assert figure.count(1, "bin") == "1 bin"
    assert figure.count(0, "bin") == "0 bins"
    assert figure.count(3, "galaxy", "galaxies") == "3 galaxies"


def test_predicted_vs_true_title_counts_the_bins_that_hold_images(tmp_path):
    # 6 images at 5 distinct masses spread over the whole range: 5 of the 20 equal log-mass bins hold them
    log_true = np.array([10.0, 10.0, 10.5, 11.0, 11.5, 12.0])
    mass_true = 10 ** log_true
    mass_pred = mass_true * np.array([1.0, 1.2, 1.1, 1.1, 1.1, 1.1])
    centre, mean, sd = mass_bins(mass_true, mass_pred)
    assert len(centre) == len(np.unique(log_true)) == 5
    assert mean[0] == pytest.approx(1.1e10) and sd[0] == pytest.approx(0.1e10)
    half_width = 0.5 * 2.0 / N_MASS_BINS
    np.testing.assert_allclose(np.log10(centre[[0, -1]]), [10.0 + half_width, 12.0 - half_width], atol=1e-6)
    path = tmp_path / "pred_vs_true.png"
    title = plot_predicted_vs_true(path, mass_true, mass_pred, "conv4, 2 channels")
    assert figure.saved_title(path) == title
    assert f"5 mass bins with images (of {N_MASS_BINS}), 6 images" in title
    assert f"{N_MASS_BINS} bins" not in title.replace(f"(of {N_MASS_BINS})", "")


def test_predicted_vs_true_one_mass_is_one_bin(tmp_path):
    path = tmp_path / "one.png"
    plot_predicted_vs_true(path, np.full(3, 1e11), np.array([1e11, 2e11, 3e11]), "net")
    assert "1 mass bin with images (of 20), 3 images" in figure.saved_title(path)


def test_error_titles_count_images_per_net(tmp_path):
    rng = np.random.default_rng(0)
    same = {"a": rng.normal(size=7), "b": rng.normal(size=7)}
    hist, cdf = plot_errors(tmp_path / "h.png", tmp_path / "c.png", same)
    assert figure.saved_title(tmp_path / "h.png") == hist == "errors E_i, 7 images per net"
    assert figure.saved_title(tmp_path / "c.png") == cdf == "cumulative |E_i|, 7 images per net"
    hist, _ = plot_errors(tmp_path / "h.png", tmp_path / "c.png", {"a": rng.normal(size=4),
                                                                   "b": rng.normal(size=9)})
    assert hist == "errors E_i, a: 4, b: 9 images"
    hist, _ = plot_errors(tmp_path / "h.png", tmp_path / "c.png", {"a": rng.normal(size=1)})
    assert hist == "errors E_i, 1 image"


def test_calibration_title_names_the_sets_drawn(tmp_path):
    pits = {"held-out": np.linspace(0.05, 0.95, 7), "unseen suites": np.array([])}
    title = calibration.plot_calibration(tmp_path / "cal.png", pits)
    assert figure.saved_title(tmp_path / "cal.png") == title
    pit_title, coverage_title = title.split(figure.TITLE_SEPARATOR)
    assert pit_title == "PIT of held-out (7 images)"
    assert coverage_title == f"coverage of 1 test set at {len(calibration.CURVE_LEVELS)} levels"


def _experiment(nets):
    return {"nets": [{"split": s, "channels": c, "metrics": {"0": {"accuracy": 0.8, "scatter_dex": 0.1}}}
                     for s, c in nets], "campaign": "c", "study": "paper"}


def test_experiment_figures_count_bars_and_points(tmp_path):
    results = {"DL1": _experiment([("model", 1), ("model", 2), ("image", 2)]), "DL2": _experiment([]),
               "ngc200": _experiment([("model", 2)]), "ngc2000": _experiment([("model", 1), ("model", 2)])}
    title = accuracy_figure(results, tmp_path / "acc.png")
    assert figure.saved_title(tmp_path / "acc.png") == title
    assert title == "accuracy by split and channels: 6 bars, 3 of 4 experiments"
    assert study_figure(results, tmp_path / "study.png")
    assert figure.saved_title(tmp_path / "study.png").split(figure.TITLE_SEPARATOR) == [
        "n_gc study (by-model split): 3 points", "smoothing study (by-model split): 1 point"]
    table = [{"method": m, "n_M_total": 12, "bias_dex_M_total": 0.0, "scatter_dex_M_total": 0.1,
              "bias_dex_M_r_out": 0.0, "scatter_dex_M_r_out": 0.1} for m in ("cnn_2ch", "virial")]
    results["DL1"]["classic"] = {"table": table, "split": "model"}
    assert classic_figure(results, tmp_path / "classic.png")
    assert figure.saved_title(tmp_path / "classic.png") == "DL1: 2 methods on the same 12 views"


def test_sluggs_title_counts_galaxies_and_estimates(tmp_path):
    def cnn(m):
        return {"median_log10": m, "interval_68_log10": [m - 0.1, m + 0.1]}

    rows = [{"galaxy": "NGC 1", "cnn": {"M_5r_half": cnn(11.0)}, "classic": {"virial": {"log10": 11.1}}},
            {"galaxy": "NGC 2", "cnn": {"M_5r_half": cnn(11.5)}, "classic": {"virial": {"error": "few"}}},
            {"galaxy": "NGC 3", "skipped": "too few GCs", "cnn": {}, "classic": {}}]
    title = plot_sluggs(rows, tmp_path / "sluggs.png")
    assert figure.saved_title(tmp_path / "sluggs.png") == title
    assert title.endswith("CNN masses of 2 of 3 galaxies, 1 classic estimate")


def test_learning_curve_title_counts_sizes(tmp_path):
    rows = [{"n_train": n, "cnn": {"scatter": 0.3 / n ** 0.5, "coverage_68": 0.7, "coverage_95": None},
             "classic": {"virial": {"scatter": 0.2}}} for n in (10, 20, 40)]
    result = {"curves": {"M_total": rows}, "n_test_galaxies": 5, "views": [0, 1], "observation": None}
    title = plot_curve(result, tmp_path / "curve.png")
    assert figure.saved_title(tmp_path / "curve.png") == title
    assert title == "Learning curve (ideal maps): 3 training sizes, 5 held-out galaxies x 2 views"
