"""Plan first, execute second: every model of a campaign as a :class:`ModelSpec`, with its store index.

Parameters are drawn quasi-randomly (:mod:`scipy.stats.qmc`, Sobol or Halton, scrambled with a seed
derived from the campaign seed) over each suite's ranges; every model gets its own seed, derived from the
campaign seed and its index with :class:`numpy.random.SeedSequence`, so a campaign is reproducible and a
model's seed does not depend on which worker runs it. Model ``i`` of the plan is model ``i`` of the store
(region ``model = i:i+1``); suites are laid out in the config's order.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from gcs_hpc.campaign.config import CampaignConfig, SuiteConfig, config_to_yaml
from gcs_hpc.specs import GalaxySpec, MapSpec, MergerSpec, ModelSpec

#: How a unit-cube coordinate maps onto a parameter's range (anything not listed is uniform).
LOG_UNIFORM = ("M_halo",)
COS_UNIFORM = ("theta_1", "theta_2")  # isotropic spin directions: uniform in cos(theta)

_SAMPLING_STREAM = 0
_MODEL_STREAM = 1


@dataclass(frozen=True)
class CampaignPlan:
    """The full, serialisable plan of a campaign.

    Attributes
    ----------
    config
        The campaign config the plan was drawn from.
    models
        One spec per store model, index = store index.
    map_spec
        How every model is mapped.
    config_yaml
        The config as written into the store (compared on resume).
    """

    config: CampaignConfig
    models: tuple[ModelSpec, ...]
    map_spec: MapSpec
    config_yaml: str

    @property
    def n_models(self) -> int:
        """Number of models of the campaign."""
        return len(self.models)

    def suite_indices(self) -> dict[str, range]:
        """Store indices of each suite's models (contiguous blocks in config order)."""
        out: dict[str, range] = {}
        start = 0
        for suite, n in self.config.suite_counts(self.n_models).items():
            out[suite] = range(start, start + n)
            start += n
        return out

    def submission_order(self, indices: list[int] | None = None) -> list[int]:
        """``indices`` (default all) ordered so suites progress together: a campaign stopped halfway holds
        about half of every suite rather than all of the first."""
        position = {}
        for block in self.suite_indices().values():
            for k, i in enumerate(block):
                position[i] = (k + 0.5) / len(block)
        chosen = range(self.n_models) if indices is None else indices
        return sorted(chosen, key=lambda i: (position[i], i))


def store_region(index: int) -> dict[str, slice]:
    """The store region of model ``index``: one slice along the ``model`` dimension."""
    return {"model": slice(index, index + 1)}


def model_seed(campaign_seed: int, index: int) -> int:
    """Seed of model ``index``: SeedSequence(campaign_seed) child ``(1, index)``, as a 63-bit integer."""
    sequence = np.random.SeedSequence(campaign_seed, spawn_key=(_MODEL_STREAM, index))
    state = sequence.generate_state(1, np.uint64)
    return int(state[0] & np.uint64(2**63 - 1))


def _suite_rng(campaign_seed: int, suite_name: str) -> np.random.Generator:
    key = zlib.crc32(suite_name.encode())  # by name: reordering suites keeps each suite's samples
    return np.random.default_rng(np.random.SeedSequence(campaign_seed, spawn_key=(_SAMPLING_STREAM, key)))


def unit_samples(n: int, d: int, sampler: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` scrambled quasi-random points in ``[0, 1)^d`` (Sobol: the first n of 2^m, balanced)."""
    if d == 0 or n == 0:
        return np.zeros((n, d))
    if sampler == "sobol":
        m = max(0, math.ceil(math.log2(n)))
        return qmc.Sobol(d, scramble=True, rng=rng).random_base2(m)[:n]
    return qmc.Halton(d, scramble=True, rng=rng).random(n)


def _scale(name: str, u: np.ndarray, low: float, high: float) -> np.ndarray:
    if name in LOG_UNIFORM:
        return 10.0 ** (math.log10(low) + u * (math.log10(high) - math.log10(low)))
    if name in COS_UNIFORM:
        c_low, c_high = math.cos(math.radians(low)), math.cos(math.radians(high))
        return np.degrees(np.arccos(np.clip(c_low + u * (c_high - c_low), -1.0, 1.0)))
    return low + u * (high - low)


def sample_suite(suite: SuiteConfig, n: int, sampler: str, campaign_seed: int) -> list[dict[str, float]]:
    """Draw ``n`` parameter sets of ``suite``; fixed ranges (low == high) take their value."""
    intervals = suite.intervals()
    varied = [name for name, (lo, hi) in intervals.items() if hi > lo]
    u = unit_samples(n, len(varied), sampler, _suite_rng(campaign_seed, suite.name))
    columns = {name: _scale(name, u[:, k], *intervals[name]) for k, name in enumerate(varied)}
    rows = []
    for j in range(n):
        row = {name: float(columns[name][j]) if name in columns else float(lo)
               for name, (lo, _) in intervals.items()}
        rows.append(row)
    return rows


def _model_spec(suite: SuiteConfig, params: dict[str, float], config: CampaignConfig, seed: int) -> ModelSpec:
    galaxy = GalaxySpec(M_halo=params["M_halo"], c=params.get("c"), f_bary=params["f_bary"],
                        f_b=params["f_b"], f_rot=params["f_rot"], n_gc=suite.n_gc)
    merger = None
    if suite.kind == "merger":
        merger = MergerSpec(m2=params["m2"], f_v=params["f_v"], theta_1=params["theta_1"],
                            theta_2=params["theta_2"], separation=params["separation"])
    return ModelSpec(kind=suite.kind, galaxy=galaxy, preset=config.resolved_preset, seed=seed,
                     merger=merger, suite=suite.name)


def plan_campaign(config: CampaignConfig, n_models: int | None = None) -> CampaignPlan:
    """Draw every model of a campaign of ``n_models`` (default ``config.n_models``).

    Raises
    ------
    ConfigError
        If no model count is given anywhere, or the suites' counts do not fit it.
    """
    from gcs_hpc.errors import ConfigError

    n = n_models if n_models is not None else config.n_models
    if n is None:
        raise ConfigError("n_models is not set: give --n-models N (N >= 1) or n_models in the config")
    counts = config.suite_counts(n)
    models: list[ModelSpec] = []
    for suite in config.suites:
        for params in sample_suite(suite, counts[suite.name], config.sampler, config.seed):
            models.append(_model_spec(suite, params, config, model_seed(config.seed, len(models))))
    return CampaignPlan(config=config, models=tuple(models), map_spec=config.maps,
                        config_yaml=config_to_yaml(config, n))
