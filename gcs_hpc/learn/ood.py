"""Out-of-distribution flags: inputs unlike the training set, and predictions past the label range.

A net answers for any map; these checks say when not to trust the answer. An image is flagged when

``amplitude``
    a map amplitude lies outside the range of the training images, widened by :data:`RANGE_MARGIN_DEX`
    either side (in log10: a factor 1.26). Amplitudes per image: mean and maximum of sigma over the
    pixels, and the rms of V (2-channel nets; only too large is flagged, as a galaxy may rotate less than
    any training model), in km/s; recorded at training time in ``metadata.json`` (``ood.ranges``). The
    margin keeps the held-out galaxies of a small training set (whose extremes the training models need
    not span) unflagged; a map 3 times brighter than any training map is flagged;
``scale``
    the physical scale input (log10 R_half / kpc) lies outside the training range (same margin);
``disagreement``
    the ensemble members disagree (standard deviation of their means, dex) more than on a fraction
    :data:`HELD_OUT_QUANTILE` of the by-model held-out images (recorded when the ensemble is made);
``width``
    a single gaussian-head net's own standard deviation exceeds the same quantile of the held-out ones;
``label_range``
    the whole 68% interval lies outside the training label range. The reported median and bounds are
    always clipped into the range, and marked ``outside_label_range`` when the median lies outside
    (:class:`gcs_hpc.learn.posterior.MassPosterior`).

The held-out images that set the quantiles are the training run's test split (by model): by definition
about 1% of them are flagged for disagreement or width. No TensorFlow here.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from gcs_hpc.learn.posterior import MassPosterior

#: Ranges are widened by this much (dex) on either side before flagging.
RANGE_MARGIN_DEX = 0.1
#: Amplitudes flagged only when too large.
UPPER_ONLY = ("v_rms_kms",)
#: Quantile of the held-out disagreement (or width) above which an image is flagged.
HELD_OUT_QUANTILE = 0.99
REASONS = ("amplitude", "scale", "disagreement", "width", "label_range")


def amplitude_stats(maps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image amplitudes of maps (n, channel, y, x) in km/s, store channel order [sigma, V]."""
    maps = np.asarray(maps, dtype=np.float64)
    flat = maps.reshape(maps.shape[0], maps.shape[1], -1)
    out = {"sigma_mean_kms": flat[:, 0].mean(axis=1), "sigma_max_kms": flat[:, 0].max(axis=1)}
    if maps.shape[1] > 1:
        out["v_rms_kms"] = np.sqrt((flat[:, 1] ** 2).mean(axis=1))
    return out


def iter_image_blocks(source: Any, images: np.ndarray, cache_mb: float = 256.0
                      ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions in ``images``, maps (k, channel, y, x) km/s) block by block of whole models."""
    models = np.unique(images[:, 0])
    block_models = max(1, int(cache_mb * 2**20 // source.model_nbytes))
    for start in range(0, len(models), block_models):
        block = models[start:start + block_models]
        maps = source.read_models(block)
        rows = np.flatnonzero(np.isin(images[:, 0], block))
        yield rows, maps[np.searchsorted(block, images[rows, 0]), images[rows, 1]]


def _range(values: np.ndarray) -> list[float]:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return [float(values.min()), float(values.max())] if values.size else [float("nan")] * 2


def training_ranges(source: Any, images: np.ndarray, cache_mb: float = 256.0) -> dict[str, list[float]]:
    """[min, max] of every amplitude (and of the scale input, if the source has one) over ``images``."""
    stats: dict[str, list[np.ndarray]] = {}
    for _rows, maps in iter_image_blocks(source, images, cache_mb):
        for name, v in amplitude_stats(maps).items():
            stats.setdefault(name, []).append(v)
    ranges = {name: _range(np.concatenate(v)) for name, v in stats.items()}
    scales = getattr(source, "image_scale", None)
    if scales is not None:
        ranges["log10_scale_kpc"] = _range(scales[images[:, 0], images[:, 1]])
    return ranges


def held_out_thresholds(posterior: MassPosterior) -> dict[str, float]:
    """The :data:`HELD_OUT_QUANTILE` quantiles of disagreement and width on held-out images (dex)."""
    out = {"quantile": HELD_OUT_QUANTILE}
    if posterior.n_components > 1:
        out["disagreement_dex"] = float(np.quantile(posterior.disagreement_dex(), HELD_OUT_QUANTILE))
    if (posterior.sd_dex > 0).any():
        out["sd_dex"] = float(np.quantile(posterior.sd_dex.mean(axis=1), HELD_OUT_QUANTILE))
    return out


def _outside(values: np.ndarray, bounds: list[float], log: bool = True, upper_only: bool = False
             ) -> np.ndarray:
    """Values outside ``bounds`` widened by RANGE_MARGIN_DEX (compared in log10 when ``log``)."""
    lo, hi = float(bounds[0]), float(bounds[1])
    values = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.zeros(len(values), dtype=bool)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            values, lo, hi = np.log10(np.maximum(values, 1e-30)), np.log10(max(lo, 1e-30)), np.log10(hi)
    above = values > hi + RANGE_MARGIN_DEX
    return above if upper_only else above | (values < lo - RANGE_MARGIN_DEX)


def flag_reasons(maps: np.ndarray, posterior: MassPosterior, ood: dict | None,
                 log_scale: np.ndarray | None = None) -> list[list[str]]:
    """Why each image is out of distribution (empty list: not flagged).

    Parameters
    ----------
    maps
        The images (n, channel, y, x) in km/s, as given to the net.
    posterior
        The net's (or ensemble's) posteriors of those images.
    ood
        ``metadata["ood"]`` of the net: ``ranges`` (training amplitudes) and ``thresholds`` (held-out
        quantiles); ``None`` (a net trained before these were recorded): only the label range is checked.
    log_scale
        log10 of the physical scale input of each image (kpc), when the net takes one.
    """
    n = len(posterior)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def add(mask: np.ndarray, text: str) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append(text)

    ood = ood or {}
    ranges, thresholds = ood.get("ranges", {}), ood.get("thresholds", {})
    for name, values in amplitude_stats(maps).items():
        if name in ranges:
            lo, hi = ranges[name]
            add(_outside(values, ranges[name], upper_only=name in UPPER_ONLY),
                f"amplitude: {name} outside the training range "
                f"[{lo:.3g}, {hi:.3g}]")
    if log_scale is not None and "log10_scale_kpc" in ranges:
        lo, hi = ranges["log10_scale_kpc"]
        add(_outside(np.asarray(log_scale).reshape(-1), ranges["log10_scale_kpc"], log=False),
            f"scale: log10 R/kpc outside the training range [{lo:.3g}, {hi:.3g}]")
    if "disagreement_dex" in thresholds and posterior.n_components > 1:
        t = thresholds["disagreement_dex"]
        add(posterior.disagreement_dex() > t, f"disagreement: ensemble members differ by more than {t:.3g} "
            f"dex (the held-out {thresholds.get('quantile', HELD_OUT_QUANTILE):.0%} quantile)")
    elif "sd_dex" in thresholds:
        t = thresholds["sd_dex"]
        add(posterior.sd_dex.mean(axis=1) > t, f"width: the net's sd exceeds {t:.3g} dex (the held-out "
            f"{thresholds.get('quantile', HELD_OUT_QUANTILE):.0%} quantile)")
    if posterior.label_range is not None:
        lo, hi = posterior.label_range
        add(posterior.beyond_label_range(), f"label_range: the 68% interval lies outside the training "
            f"label range [{lo:.2f}, {hi:.2f}] log10 Msun (values clipped)")
    return reasons


def summarise(reasons: list[list[str]]) -> dict[str, Any]:
    """Fraction of images flagged and counts by reason (for metrics.json)."""
    n = len(reasons)
    by = {r: int(sum(any(x.startswith(r) for x in rs) for rs in reasons)) for r in REASONS}
    flagged = sum(bool(rs) for rs in reasons)
    return {"n_images": n, "n_flagged": int(flagged), "fraction_flagged": flagged / n if n else float("nan"),
            "by_reason": by}
