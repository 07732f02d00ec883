"""Mass posteriors: Gaussian mixtures in log10(M / Msun), their quantiles, intervals and summaries.

Every prediction of gcs_hpc is a distribution over ``log10 M``. A heteroscedastic net (head
``"gaussian"``, :mod:`gcs_hpc.learn.nets`) gives one Gaussian per image (mean and standard deviation);
a deep ensemble of K such nets gives the equal-weight mixture of their K Gaussians (Lakshminarayanan et
al. 2017). A point net (head ``"point"``, the paper's) is a mixture of zero-width components: its
"interval" is the spread of the ensemble members' points, or nothing for a single net.

Quantiles of a mixture have no closed form: :meth:`MassPosterior.quantile` bisects the mixture CDF,
vectorised over images, to :data:`QUANTILE_TOL_DEX`. Intervals are central: the 68% interval runs from
the 16th to the 84th percentile, the 95% one from the 2.5th to the 97.5th. Everything is reported both
in Msun and in dex (log10 Msun).

Never extrapolated silently: when a label range (the training set's log-mass range) is attached, the
reported median and interval bounds are clipped into it and ``outside_label_range`` says so.

No TensorFlow here: label <-> dex conversion and the mixture maths are NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from gcs_hpc.errors import ConfigError

#: Central interval levels every prediction reports.
LEVELS: tuple[float, ...] = (0.68, 0.95)
#: Bisection stops when the bracket is narrower than this (dex).
QUANTILE_TOL_DEX = 1.0e-6
#: Components narrower than this (dex) are treated as points (step CDF).
MIN_SD_DEX = 1.0e-9


def label_to_dex(label: Any, label_attrs: dict) -> np.ndarray:
    """Label on the 0..10 scale -> log10(M / Msun), from the ``label_*`` attributes of the store."""
    from gcs_hpc.store.labels import HI_KEY, LABEL_MAX, LO_KEY

    lo, hi = float(label_attrs[LO_KEY]), float(label_attrs[HI_KEY])
    return lo + np.asarray(label, dtype=np.float64) / LABEL_MAX * (hi - lo)


def label_sd_to_dex(sd_label: Any, label_attrs: dict) -> np.ndarray:
    """A standard deviation on the 0..10 label scale -> dex (the scale is linear in log10 M)."""
    from gcs_hpc.store.labels import HI_KEY, LABEL_MAX, LO_KEY

    width = float(label_attrs[HI_KEY]) - float(label_attrs[LO_KEY])
    return np.asarray(sd_label, dtype=np.float64) * width / LABEL_MAX


def label_range_dex(label_attrs: dict) -> tuple[float, float]:
    """The (min, max) log10 mass of the label scale: the range the training labels span."""
    from gcs_hpc.store.labels import HI_KEY, LO_KEY

    return float(label_attrs[LO_KEY]), float(label_attrs[HI_KEY])


@dataclass(frozen=True)
class MassPosterior:
    """Equal-weight Gaussian mixtures over log10(M / Msun), one per image or galaxy.

    Attributes
    ----------
    mean_dex
        (n, K) component means, log10 Msun.
    sd_dex
        (n, K) component standard deviations, dex (0 for point nets).
    label_range
        (min, max) log10 mass of the training labels; reported values are clipped into it
        (``None``: no clipping).
    """

    mean_dex: np.ndarray = field(repr=False)
    sd_dex: np.ndarray = field(repr=False)
    label_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        mean = np.atleast_2d(np.asarray(self.mean_dex, dtype=np.float64))
        sd = np.atleast_2d(np.asarray(self.sd_dex, dtype=np.float64))
        if mean.ndim != 2 or sd.shape != mean.shape:
            raise ConfigError(f"posterior: mean_dex {mean.shape} and sd_dex {sd.shape} must both be (n, K)")
        if not (np.isfinite(mean).all() and np.isfinite(sd).all()) or (sd < 0).any():
            raise ConfigError("posterior: means and standard deviations must be finite, sd >= 0")
        if self.label_range is not None:
            lo, hi = (float(v) for v in self.label_range)
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise ConfigError(f"posterior.label_range = {self.label_range!r}; allowed: finite "
                                  "(min, max), max > min")
            object.__setattr__(self, "label_range", (lo, hi))
        object.__setattr__(self, "mean_dex", mean)
        object.__setattr__(self, "sd_dex", sd)

    @classmethod
    def combine(cls, members: list[MassPosterior]) -> MassPosterior:
        """The equal-weight mixture of several posteriors of the same images (an ensemble)."""
        if not members:
            raise ConfigError("posterior.combine: needs at least one member")
        return cls(np.concatenate([m.mean_dex for m in members], axis=1),
                   np.concatenate([m.sd_dex for m in members], axis=1), members[0].label_range)

    def __len__(self) -> int:
        return self.mean_dex.shape[0]

    @property
    def n_components(self) -> int:
        """K, the number of mixture components (ensemble members)."""
        return self.mean_dex.shape[1]

    def cdf(self, x_dex: Any) -> np.ndarray:
        """Mixture CDF at ``x_dex`` (shape (n,) or (n, m)); returns the same shape."""
        x = np.asarray(x_dex, dtype=np.float64)
        squeeze = x.ndim == 1
        x = x[:, None] if squeeze else x
        if x.shape[0] != len(self):
            raise ConfigError(f"posterior.cdf: {x.shape[0]} values for {len(self)} posteriors")
        mean, sd = self.mean_dex[:, None, :], self.sd_dex[:, None, :]
        point = sd < MIN_SD_DEX
        z = (x[:, :, None] - mean) / np.where(point, 1.0, sd)
        comp = np.where(point, (x[:, :, None] >= mean).astype(np.float64), ndtr(z))
        out = comp.mean(axis=2)
        return out[:, 0] if squeeze else out

    def quantile(self, q: float | np.ndarray) -> np.ndarray:
        """The ``q`` quantile of every mixture (log10 Msun), by bisection on the CDF, unclipped."""
        q = np.broadcast_to(np.asarray(q, dtype=np.float64), (len(self),))
        if ((q <= 0) | (q >= 1)).any():
            raise ConfigError(f"posterior.quantile: q must be in (0, 1); got {np.unique(q)[:5].tolist()}")
        reach = 12.0 * self.sd_dex.max(axis=1) + 1e-6
        lo = self.mean_dex.min(axis=1) - reach
        hi = self.mean_dex.max(axis=1) + reach
        while (hi - lo).max(initial=0.0) > QUANTILE_TOL_DEX:
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return hi

    def median(self) -> np.ndarray:
        """Median log10 mass (unclipped)."""
        return self.quantile(0.5)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval (lower, upper), log10 Msun, unclipped."""
        if not 0.0 < level < 1.0:
            raise ConfigError(f"posterior.interval: level = {level!r}; allowed range (0, 1)")
        return self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)

    def disagreement_dex(self) -> np.ndarray:
        """Standard deviation of the component means (ensemble disagreement; 0 for one member), dex."""
        return self.mean_dex.std(axis=1)

    def total_sd_dex(self) -> np.ndarray:
        """Standard deviation of the whole mixture, dex (aleatoric and epistemic together)."""
        var = (self.sd_dex ** 2).mean(axis=1) + self.mean_dex.var(axis=1)
        return np.sqrt(var)

    def outside_label_range(self) -> np.ndarray:
        """Boolean (n,): the median lies outside the training label range (never for no range)."""
        if self.label_range is None:
            return np.zeros(len(self), dtype=bool)
        med = self.median()
        return (med < self.label_range[0]) | (med > self.label_range[1])

    def beyond_label_range(self, level: float = 0.68) -> np.ndarray:
        """Boolean (n,): the whole central ``level`` interval lies outside the training label range (the
        net is sure of a mass it was never trained on; a median just past the edge with an interval
        reaching back into the range is not)."""
        if self.label_range is None:
            return np.zeros(len(self), dtype=bool)
        lo, hi = self.interval(level)
        return (lo > self.label_range[1]) | (hi < self.label_range[0])

    def _clip(self, x: np.ndarray) -> np.ndarray:
        return x if self.label_range is None else np.clip(x, *self.label_range)

    def summaries(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per posterior: median, 68% and 95% intervals in Msun and dex.

        Keys: ``median_msun``, ``interval_68_msun`` ([lower, upper]), ``interval_95_msun``,
        ``median_log10``, ``interval_68_log10``, ``interval_95_log10``, ``minus_68_dex``/``plus_68_dex``
        (distances of the 68% bounds from the median), ``sd_dex`` (whole mixture),
        ``disagreement_dex`` (ensemble), ``n_members``, ``outside_label_range`` and, when clipped,
        ``median_log10_unclipped``.
        """
        med_raw = self.median()
        bounds = {level: self.interval(level) for level in LEVELS}
        outside = self.outside_label_range()
        med = self._clip(med_raw)
        sd, dis = self.total_sd_dex(), self.disagreement_dex()
        rows = []
        for i in range(len(self)):
            row: dict[str, Any] = {"median_msun": float(10 ** med[i]), "median_log10": float(med[i])}
            for level, (lo, hi) in bounds.items():
                tag = f"{round(100 * level)}"
                lo_i, hi_i = float(self._clip(lo[i:i + 1])[0]), float(self._clip(hi[i:i + 1])[0])
                row[f"interval_{tag}_msun"] = [10 ** lo_i, 10 ** hi_i]
                row[f"interval_{tag}_log10"] = [lo_i, hi_i]
                row[f"minus_{tag}_dex"] = float(med[i] - lo_i)
                row[f"plus_{tag}_dex"] = float(hi_i - med[i])
            row.update({"sd_dex": float(sd[i]), "disagreement_dex": float(dis[i]),
                        "n_members": self.n_components, "outside_label_range": bool(outside[i])})
            if outside[i]:
                row["median_log10_unclipped"] = float(med_raw[i])
            rows.append(row)
        return rows

    def select(self, index: Any) -> MassPosterior:
        """The posteriors of some images (NumPy index)."""
        return MassPosterior(self.mean_dex[index], self.sd_dex[index], self.label_range)


def from_labels(mean_label: Any, sd_label: Any, label_attrs: dict) -> MassPosterior:
    """A posterior from net outputs on the 0..10 label scale (arrays (n,) or (n, K))."""
    mean = np.asarray(mean_label, dtype=np.float64)
    sd = np.asarray(sd_label, dtype=np.float64)
    mean, sd = (mean[:, None], sd[:, None]) if mean.ndim == 1 else (mean, sd)
    return MassPosterior(label_to_dex(mean, label_attrs), label_sd_to_dex(sd, label_attrs),
                         label_range_dex(label_attrs))


def format_interval(row: dict[str, Any]) -> str:
    """``1.23e+12 Msun (68%: 9.1e+11-1.6e+12; 95%: ...)  [12.09 -0.13/+0.12 dex]`` for tables."""
    lo68, hi68 = row["interval_68_msun"]
    lo95, hi95 = row["interval_95_msun"]
    return (f"{row['median_msun']:.3e} Msun (68%: {lo68:.2e}-{hi68:.2e}; 95%: {lo95:.2e}-{hi95:.2e}) "
            f"[{row['median_log10']:.2f} -{row['minus_68_dex']:.2f}/+{row['plus_68_dex']:.2f} dex]")
