"""Calibration of mass posteriors: interval coverage, probability integral transform (PIT), a figure.

A posterior is calibrated when its central ``p`` interval holds the true mass for a fraction ``p`` of the
galaxies (coverage), equivalently when the PIT values ``F(log10 M_true)`` are uniform on [0, 1]. We
report the coverage of the 68% and 95% intervals (target: within :data:`COVERAGE_TOLERANCE` of
nominal), the PIT histogram in :data:`PIT_BINS` bins and the Kolmogorov-Smirnov distance of the PIT
values from uniform. Views of one galaxy are correlated, so ``n_models`` is reported beside ``n_images``:
the statistical weight of a coverage lies between the two.

No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gcs_hpc import figure
from gcs_hpc.errors import ConfigError
from gcs_hpc.learn.posterior import LEVELS, MassPosterior

#: Coverage within this many (absolute) of nominal counts as calibrated (the issue's 5 points).
COVERAGE_TOLERANCE = 0.05
#: Bins of the PIT histogram.
PIT_BINS = 10
#: Nominal levels of the coverage curve in the figure.
CURVE_LEVELS = np.linspace(0.05, 0.95, 19)


def pit_values(posterior: MassPosterior, truth_dex: Any) -> np.ndarray:
    """PIT of each true log10 mass under its posterior: ``F_i(log10 M_true,i)``, in [0, 1]."""
    truth = np.asarray(truth_dex, dtype=np.float64).reshape(-1)
    if truth.shape[0] != len(posterior):
        raise ConfigError(f"calibration: {truth.shape[0]} true masses for {len(posterior)} posteriors")
    return posterior.cdf(truth)


def coverage_from_pit(pit: np.ndarray, level: float) -> float:
    """Fraction of true values inside the central ``level`` interval, from their PIT values.

    The central interval is [F^-1(0.5 - level/2), F^-1(0.5 + level/2)]; for a continuous CDF the truth lies
    inside it exactly when its PIT lies in [0.5 - level/2, 0.5 + level/2].
    """
    pit = np.asarray(pit, dtype=np.float64)
    return float(np.mean(np.abs(pit - 0.5) <= level / 2)) if pit.size else float("nan")


def interval_coverage(posterior: MassPosterior, truth_dex: Any, level: float) -> float:
    """Fraction of true values inside the central ``level`` interval, from the interval bounds
    themselves (bisection quantiles): the direct check of :func:`coverage_from_pit`."""
    truth = np.asarray(truth_dex, dtype=np.float64).reshape(-1)
    lo, hi = posterior.interval(level)
    return float(np.mean((truth >= lo) & (truth <= hi)))


def pit_ks_distance(pit: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance of the PIT values from the uniform distribution."""
    p = np.sort(np.asarray(pit, dtype=np.float64))
    n = p.size
    if n == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - p), np.max(p - (i - 1) / n)))


def calibration_metrics(posterior: MassPosterior, truth_dex: Any, models: Any = None) -> dict[str, Any]:
    """Coverage of the 68% and 95% intervals, PIT histogram and KS distance, widths, and verdict.

    Parameters
    ----------
    posterior
        Posteriors of the test images.
    truth_dex
        True log10 masses, one per image.
    models
        Model index of each image (to report how many galaxies stand behind the numbers).
    """
    truth = np.asarray(truth_dex, dtype=np.float64).reshape(-1)
    pit = pit_values(posterior, truth)
    out: dict[str, Any] = {}
    for level in LEVELS:
        tag = f"{round(100 * level)}"
        cov = interval_coverage(posterior, truth, level)
        lo, hi = posterior.interval(level)
        out[f"coverage_{tag}"] = cov
        out[f"coverage_{tag}_error"] = cov - level
        out[f"median_width_{tag}_dex"] = float(np.median(hi - lo))
    counts, _ = np.histogram(pit, bins=PIT_BINS, range=(0.0, 1.0))
    out["pit_histogram"] = counts.astype(int).tolist()
    out["pit_ks"] = pit_ks_distance(pit)
    out["calibrated"] = bool(all(abs(out[f"coverage_{round(100 * lv)}_error"]) <= COVERAGE_TOLERANCE
                                 for lv in LEVELS))
    out["tolerance"] = COVERAGE_TOLERANCE
    out["n_members"] = posterior.n_components
    out["n_images"] = int(len(truth))
    if models is not None:
        out["n_models"] = int(len(np.unique(np.asarray(models))))
    out["point_net"] = bool((posterior.sd_dex == 0).all())
    return out


def coverage_curve(pit: np.ndarray, levels: np.ndarray = CURVE_LEVELS) -> np.ndarray:
    """Observed coverage at every nominal level of ``levels``."""
    return np.array([coverage_from_pit(pit, float(lv)) for lv in levels])


def plot_calibration(path: str | Path, pits: dict[str, np.ndarray]) -> str:
    """PIT histograms (left) and observed vs nominal coverage (right), one curve per named test set
    (empty sets left out; the titles count the images of each set drawn); return the titles."""
    plt = figure.pyplot()
    drawn = {name: pit for name, pit in pits.items() if len(pit)}
    fig, (ax_pit, ax_cov) = plt.subplots(1, 2, figsize=(10, 4))
    for name, pit in drawn.items():
        ax_pit.hist(pit, bins=PIT_BINS, range=(0, 1), density=True, histtype="step", lw=1.5, label=name)
        ax_cov.plot(CURVE_LEVELS, coverage_curve(pit), "o-", ms=3, label=name)
    sets = ", ".join(f"{name} ({figure.count(len(pit), 'image')})" for name, pit in drawn.items())
    ax_pit.axhline(1.0, color="k", ls="--", lw=1, label="calibrated")
    ax_pit.set(xlabel="PIT = F(log10 M_true)", ylabel="density",
               title=f"PIT of {sets or 'no images'}")
    ax_cov.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    for level in LEVELS:
        ax_cov.axvline(level, color="0.7", lw=0.8)
    ax_cov.set(xlabel="nominal coverage of the central interval", ylabel="observed coverage",
               xlim=(0, 1), ylim=(0, 1),
               title=f"coverage of {figure.count(len(drawn), 'test set')} at {len(CURVE_LEVELS)} levels")
    ax_pit.legend(fontsize=8)
    ax_cov.legend(fontsize=8)
    fig.tight_layout()
    return figure.save(fig, path)
